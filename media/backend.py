"""The media seam: what the switch asks of whatever anchors a call's media.

The B2BUA never touches sockets, ports or RTP. It talks to a `MediaBackend`, which
today is the relay embedded in this process (`media.aio.relay.RelayBackend`) and may
later be a remote media server (rtpengine over its ng control protocol) when one
machine is not enough. So nothing in `switch/` may assume media is in-process: it
only sees the addresses to put in SDP, declares what signalling negotiated, and gets
events back.

A relay session is one call's media: two legs, `"a"` (towards the caller) and `"b"`
(towards the callee). Each leg has its own local RTP/RTCP ports on the switch; what
arrives on leg A's port is sent out of leg B's port to phone B, and vice versa.

Life of a session, as the B2BUA drives it::

    INVITE from A (offer)   a, b = backend.allocate(call_id)
                            # offer to B carries b.host / b.rtp_port
    200 from B (answer)     backend.update(call_id, "b", remote=B's c=/m= address,
                                           pt_map=..., hold=B's direction is not sendrecv)
                            backend.update(call_id, "a", remote=A's c=/m= address, ...)
                            # answer to A carries a.host / a.rtp_port
    re-INVITE (either way)  backend.update(...) for the leg(s) whose SDP changed
    BYE / CANCEL / failure  stats = backend.delete(call_id)
    MediaTimeout event      the B2BUA decides (normally: hang up, then delete)

Every call is synchronous and returns at once: the B2BUA core is sans-I/O and calls the
seam from inside its SDP handling. The embedded relay binds its sockets synchronously;
a remote backend would have to keep that promise (a local control socket with a short
timeout, or pre-allocated port blocks).

`update()` is declarative: each call states the complete current media state of one
leg as its latest SDP describes it; omitted arguments take their defaults, they do not
"keep the previous value".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from switch.control import Prompt

LegName = Literal["a", "b"]
Address = tuple[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAddress:
    """Where a phone must send its media: put `host` in c= and `rtp_port` in m=."""

    host: str
    rtp_port: int
    rtcp_port: int  # always rtp_port + 1 here; a=rtcp is only needed if that ever changes


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaTimeout:
    """No RTP arrived on either leg of a session for `idle_s` seconds (not on hold).

    Reported once per silent period: if media resumes and stops again, it comes again.
    """

    session_id: str
    idle_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LegMedia:
    """The voice codecs one leg's phone negotiated, for transcoding.

    codec / payload_type: what the switch sends this phone (the first voice codec of the
        negotiated stream), e.g. "G729" on 18.
    decode: every voice payload type this phone may send -> its encoding name.
    telephone_event: this leg's RFC 4733 payload type, None if it negotiated none.

    When both legs of a session declare one and their `codec`s differ, the backend
    transcodes between them; when they are equal, packets are relayed as they are.
    """

    codec: str
    payload_type: int
    decode: Mapping[int, str] = field(default_factory=dict)
    telephone_event: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitReceived:
    """A DTMF digit from the phone on `leg`, reported when it ends (RFC 4733 events, or
    tones detected in its audio). `at` is its onset on the backend's monotonic clock."""

    session_id: str
    leg: LegName
    digit: str
    at: float
    duration_ms: int
    source: Literal["rfc4733", "inband"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished:
    """A `play` to the phone on `leg` ended: played to the end, or cut short (barge-in
    by a digit from that phone, `stop_playback`, another `play`)."""

    session_id: str
    leg: LegName
    play_id: str
    interrupted: bool


MediaEvent = MediaTimeout | DigitReceived | PlaybackFinished


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStats:
    """Counters of one leg, seen from the switch: "in" came from this leg's phone."""

    packets_in: int  # RTP datagrams received on the leg's RTP port, dropped ones included
    bytes_in: int
    packets_out: int  # RTP datagrams relayed to this leg's phone
    bytes_out: int
    drops: Mapping[str, int] = field(default_factory=dict)  # reason -> datagrams
    remote: Address | None = None  # the latched address (where this phone really is)
    rtcp_packets: int = 0  # RTCP compounds received from the phone (terminated here)
    # From the phone's latest RTCP reports (None until it sent one):
    sent_packets: int | None = None  # from its SR: packets it says it sent
    loss_fraction: float | None = None  # of the stream it receives from the switch
    cumulative_lost: int | None = None
    jitter_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStats:
    session_id: str
    a: LegStats
    b: LegStats


class MediaBackend(Protocol):
    """What the switch needs from a media relay. All methods return without waiting."""

    # Voice codecs (upper-case encoding names) this backend can transcode between; the
    # B2BUA offers them to a leg when the other leg's codecs may not be accepted.
    transcodable: frozenset[str]

    def allocate(self, session_id: str) -> tuple[LegAddress, LegAddress]:
        """Create a session: local addresses for leg A and leg B, in that order.

        The inactivity clock starts now. Raises `media.errors.PortsExhausted` when no
        ports are left (answer 503), `media.errors.MediaError` if `session_id` exists.
        """
        ...

    def update(
        self,
        session_id: str,
        leg: LegName,
        *,
        remote: Address | None,
        pt_map: Mapping[int, int] | None = None,
        hold: bool = False,
        clock_rate: int = 8000,
        media: LegMedia | None = None,
    ) -> None:
        """Declare what that leg's latest SDP says.

        remote: the phone's RTP address from its c=/m= lines, numeric (None if it gave
            none; 0.0.0.0, :: and port 0 count as None). Media is sent there until the
            phone's own packets reveal where it really is (NAT); a changed address lets
            the relay re-learn it. A host name raises `media.errors.MediaError`.
        pt_map: payload-type translation for packets sent *to* this leg, input PT ->
            this leg's PT (e.g. {101: 96} when this phone numbers telephone-event 96
            and the other side 101). Unmapped PTs pass unchanged. None: no translation.
        hold: this leg's media is on hold or inactive (a=sendonly/recvonly/inactive):
            the inactivity timeout is suspended while either leg is held. Whatever
            still arrives is relayed.
        clock_rate: RTP clock of the codec sent to this leg (from a=rtpmap), used only
            to advance timestamps across a stream change.
        media: the leg's negotiated voice codecs (`LegMedia`); with both legs declared
            and different codecs, the backend transcodes. None: relay as is. Raises
            `media.errors.CodecError` if a codec cannot be transcoded here.

        Restarts the inactivity clock. Raises `media.errors.UnknownSession`.
        """
        ...

    def send_digit(self, session_id: str, leg: LegName, digit: str, duration_ms: int) -> None:
        """Play a DTMF digit to the phone on `leg` the way it negotiated: RFC 4733
        telephone-events if it has a type for them, else tones in its audio (e.g. a digit
        the other phone sent by SIP INFO). Raises `media.errors.UnknownSession`."""
        ...

    def play(self, session_id: str, leg: LegName, play_id: str, prompts: Sequence[Prompt], *,
             loop: bool = False, barge_in: bool = True) -> None:
        """Play prompts (files, TTS, silences) to the phone on `leg`, paced 20 ms from
        now, in place of what the other phone sends; a digit from that phone stops it
        when `barge_in`. Ends with a `PlaybackFinished` event. Raises
        `media.playback.errors.PromptError` for a prompt that cannot be loaded."""
        ...

    def stop_playback(self, session_id: str, leg: LegName) -> None:
        """Stop what `play` plays to that leg (a `PlaybackFinished(interrupted)` follows)."""
        ...

    def hold_music(self, session_id: str, leg: LegName, on: bool) -> None:
        """Play (on) or stop (off) music on hold to the phone on `leg`, in place of what
        the other phone sends, e.g. while that one holds the call. Idempotent; a no-op
        when the leg's codec is not known."""
        ...

    def start_recording(self, session_id: str, *, caller: str, callee: str,
                        queue: str | None = None) -> str | None:
        """Record the session from now on (caller left, callee right, or mixed, as the
        backend is configured); the recording's id, None if this backend records
        nothing. The recording ends with `stop_recording` or `delete`."""
        ...

    def stop_recording(self, session_id: str) -> None:
        """Finish the session's recording (its file and metadata complete on return)."""
        ...

    def delete(self, session_id: str) -> SessionStats | None:
        """End a session (and its recording), free its ports; its final counters. None
        if unknown."""
        ...

    def stats(self, session_id: str) -> SessionStats | None:
        """Current counters of a session without ending it; None if unknown."""
        ...

    def set_event_handler(self, handler: Callable[[MediaEvent], None] | None) -> None:
        """Receive `MediaEvent`s (`MediaTimeout`, `DigitReceived`) as they happen, on the
        event loop."""
        ...

    def close(self) -> None:
        """Delete every session and stop."""
        ...
