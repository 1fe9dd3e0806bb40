"""Call-control events and commands: the seam between calls and whatever drives them.

The B2BUA (`switch.calls`) and the media layer turn SIP and RTP into *events* about a
call; a controller — the IVR interpreter, the ACD, a dialer — answers with *commands*.
Controllers never see SIP, SDP or RTP, only these frozen, slotted, keyword-only
dataclasses, so they stay sans-I/O and can be tested with a fake clock.

Identifiers are opaque strings: `call_id` names one call (both legs) as the switch
knows it; `prompt_id`/`request_id` are chosen by the controller so it can match a
completion event to the command that caused it.

Times: events carry `at` only where the moment matters to the controller beyond "now"
(a DTMF digit's onset); everything else is stamped by the `now` passed to
`handle(event, now)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# --- what is played -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FilePrompt:
    """An audio file (WAV of any rate/channels, or MP3 ≤ 2 MB), resampled to 8 kHz."""

    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TtsPrompt:
    """Text rendered by the TTS engine (espeak-ng), cached by text + language + voice."""

    text: str
    language: str = "pl"  # "pl" | "en"
    voice: Literal["male", "female"] = "female"


@dataclass(frozen=True, slots=True, kw_only=True)
class SilencePrompt:
    """A pause of `seconds` (used between prompts, e.g. before repeating a menu)."""

    seconds: float


Prompt = FilePrompt | TtsPrompt | SilencePrompt

DtmfSource = Literal["rfc4733", "inband", "sip-info"]

# --- events (up: from calls and media to a controller) --------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOffered:
    """A new inbound call reached a controller (the IVR's scenario, a queue, …)."""

    call_id: str
    caller: str  # the caller's user or number (From user part)
    callee: str  # the dialled number (Request-URI user part)
    caller_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ringing:
    """An outbound leg the controller asked for (Dial) is ringing."""

    call_id: str
    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """A call (or the outbound leg of a Dial with `request_id`) was answered."""

    call_id: str
    request_id: str | None = None


DialOutcome = Literal["answered", "busy", "no-answer", "rejected", "unavailable", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DialResult:
    """How a Dial or Transfer ended, when it did not simply connect and stay connected."""

    call_id: str
    request_id: str
    outcome: DialOutcome
    sip_status: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived:
    """One digit (0-9 * # A-D) pressed by the party on `call_id`, at its onset time."""

    call_id: str
    digit: str
    at: float
    duration_ms: int
    source: DtmfSource
    party: Literal["caller", "callee"] = "caller"  # who pressed it, in a two-party call


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptFinished:
    """A Play ended: played to the end, or cut short (barge-in, StopPlayback, hang-up)."""

    call_id: str
    prompt_id: str
    interrupted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished:
    """A Record (voicemail, survey answer) ended; `path` holds what was captured."""

    call_id: str
    request_id: str
    path: str
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Released:
    """The call is over (either side hung up, or the switch ended it)."""

    call_id: str
    cause: str = "normal"  # normal | caller-hangup | callee-hangup | timeout | failure
    sip_status: int | None = None


CallEvent = (
    CallOffered
    | Ringing
    | Answered
    | DialResult
    | DtmfReceived
    | PromptFinished
    | RecordingFinished
    | Released
)

# --- commands (down: from a controller to calls and media) ----------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Play:
    """Play prompts in order; `barge_in`: the first DTMF digit stops it."""

    call_id: str
    prompt_id: str
    prompts: tuple[Prompt, ...]
    barge_in: bool = True
    loop: bool = False  # music on hold: repeat until StopPlayback


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPlayback:
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Collect:
    """Tell media to report digits (and detect in-band ones if the phone needs it)."""

    call_id: str
    max_digits: int
    timeout_s: float
    terminator: str | None = "#"


DialTargetKind = Literal["extension", "external", "agent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial:
    """Place an outbound leg; `call_id` None starts a new call (callbacks, dialers)."""

    request_id: str
    target: str
    kind: DialTargetKind = "extension"
    call_id: str | None = None
    caller_id: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge:
    """Connect two calls' media and signalling (e.g. a queued caller and an agent)."""

    call_id: str
    other_call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueue:
    call_id: str
    queue: str
    priority: int = 0
    skills: tuple[tuple[str, int], ...] = ()  # (skill, minimum proficiency 1-5)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Capture the caller's audio to `path` (voicemail): up to `max_s`, `#` ends it."""

    call_id: str
    request_id: str
    path: str
    max_s: float = 120.0
    beep: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup:
    call_id: str
    cause: str = "normal"
    sip_status: int | None = None  # before answer: the final status to send (e.g. 480)


CallCommand = Answer | Play | StopPlayback | Collect | Dial | Bridge | Enqueue | Record | Hangup
