"""The language as data: every node kind and its fields, with their types.

Both the validator (`ivrdsl.validator`) and the JSON Schema generator
(`ivrdsl.schema`) walk these tables, so the two cannot drift apart: adding a field
here makes it valid in YAML, documented in the schema, and completed in editors.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DIGIT_KEYS",
    "INPUT_KINDS",
    "NAME_PATTERN",
    "NODE_KINDS",
    "SCENARIO_FIELDS",
    "Field",
]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DIGIT_KEYS = "0123456789*#"
DTMF = "0123456789*#ABCD"


class Type:
    """Base of the field types; each subclass is one validation rule and schema shape."""


@dataclass(frozen=True)
class Target(Type):
    """The name of another node."""


@dataclass(frozen=True)
class Prompt(Type):
    """One prompt mapping (tts / file / silence) or a list of them."""


@dataclass(frozen=True)
class Seconds(Type):
    zero_ok: bool = False
    maximum: float = 86400.0


@dataclass(frozen=True)
class Integer(Type):
    lo: int
    hi: int


@dataclass(frozen=True)
class Boolean(Type):
    pass


@dataclass(frozen=True)
class Text(Type):
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # regular expression the whole text must match
    template: bool = False  # may contain ${variables}


@dataclass(frozen=True)
class Regex(Type):
    """A Python regular expression (checked by compiling it)."""


@dataclass(frozen=True)
class DigitSet(Type):
    """A string of distinct DTMF characters, e.g. '12345'."""


@dataclass(frozen=True)
class Scalar(Type):
    """A string, number or boolean (stored as text); strings may use ${variables}."""


@dataclass(frozen=True)
class Extension(Type):
    """An internal extension: 2 to 10 digits."""


@dataclass(frozen=True)
class ExtensionRange(Type):
    """'101' or '100-199' (same number of digits at both ends)."""


@dataclass(frozen=True)
class PhoneNumber(Type):
    """An external number: optional '+' then 3 to 20 digits."""


@dataclass(frozen=True)
class Hours(Type):
    """'8:00-17:00', or a list of such ranges; '0:00-0:00' closed, '0:00-23:59' all day."""


@dataclass(frozen=True)
class DateOrYearly(Type):
    """'2026-12-24' (one date) or '12-24' (every year)."""


@dataclass(frozen=True)
class Timezone(Type):
    """An IANA time zone name such as 'Europe/Warsaw'."""


@dataclass(frozen=True)
class MapOf(Type):
    key: str  # "digit" (DTMF key), "name" (variable name), "text" (any string)
    value: Type


@dataclass(frozen=True)
class ListOf(Type):
    item: Type
    min_items: int = 1


@dataclass(frozen=True)
class Record(Type):
    fields: tuple[Field, ...]
    required_one_of: tuple[str, ...] = ()  # exactly one of these keys must be present


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    doc: str
    required: bool = False


def _f(name: str, type_: Type, doc: str, *, required: bool = False) -> Field:
    return Field(name, type_, doc, required)


# -- shared pieces ---------------------------------------------------------------------

PROMPT_ITEM_FIELDS = (
    _f("tts", Text(template=True), "Text read by the TTS engine; ${name} inserts a variable."),
    _f("file", Text(), "Audio file (WAV, or MP3 up to 2 MB), relative to prompts_dir."),
    _f("silence", Seconds(maximum=60), "A pause of this many seconds."),
    _f("language", Text(choices=("pl", "en")), "TTS language (default: the scenario's)."),
    _f("voice", Text(choices=("female", "male")), "TTS voice (default: the scenario's)."),
)
PROMPT_ITEM = Record(PROMPT_ITEM_FIELDS, required_one_of=("tts", "file", "silence"))

_COMMON = (
    _f("type", Text(), "The node kind.", required=True),
    _f("description", Text(), "Free text for people reading the scenario."),
)

_RING = _f("ring_time", Seconds(maximum=3600), "Seconds to ring (each member, for groups; "
           "for a queue, the longest wait).")
_NO_ANSWER = _f("no_answer", Target(), "Next node when nobody answers (default: hang up).")
_BUSY = _f("busy", Target(), "Next node when busy (default: the no_answer branch).")

HOURS_FIELDS = tuple(
    _f(day, Hours(), f"Opening hours on {day}.") for day in
    ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
) + (
    _f("workdays", Hours(), "Hours Monday to Friday (a named day overrides it)."),
    _f("weekend", Hours(), "Hours on Saturday and Sunday (a named day overrides it)."),
    _f("daily", Hours(), "Hours on every day (a group or named day overrides it)."),
)

EXCEPTION_FIELDS = (
    _f("date", DateOrYearly(), "The date (YYYY-MM-DD), or MM-DD for every year.",
       required=True),
    _f("until", DateOrYearly(), "Last day of a range starting at date (inclusive)."),
    _f("hours", Hours(), "Hours that day ('0:00-0:00' = closed).", required=True),
    _f("description", Text(), "Why (e.g. 'stocktaking')."),
)

DISA_FIELDS = (
    _f("extensions", ListOf(ExtensionRange()), "Extensions callers may dial, e.g. ['100-199'].",
       required=True),
    _f("digit_timeout", Seconds(maximum=30), "Seconds to wait for the next digit (default 2)."),
    _RING,
    _f("no_answer", Target(), "Next node when the extension does not answer or is busy "
       "(default: this menu again)."),
)

QUESTION_FIELDS = (
    _f("id", Text(pattern=VARIABLE_PATTERN), "Name the answer is stored under.", required=True),
    _f("prompt", Prompt(), "The question.", required=True),
    _f("answers", DigitSet(), "Keys that are valid answers, e.g. '12345'.", required=True),
    _f("timeout", Seconds(maximum=120), "Seconds to wait for a key (default 5)."),
    _f("repeats", Integer(1, 10), "How many times the question is asked (default 2)."),
)

# -- node kinds ------------------------------------------------------------------------

NODE_KINDS: dict[str, tuple[Field, ...]] = {
    "play": _COMMON + (
        _f("prompt", Prompt(), "What to play.", required=True),
        _f("next", Target(), "Next node once played.", required=True),
    ),
    "menu": _COMMON + (
        _f("prompt", Prompt(), "The menu announcement.", required=True),
        _f("options", MapOf("digit", Target()), "Key pressed -> next node.", required=True),
        _f("timeout", Seconds(maximum=120), "Seconds to wait after the prompt (default 5)."),
        _f("repeats", Integer(1, 10), "How many times the prompt is played (default 2)."),
        _f("invalid_prompt", Prompt(), "Played after a wrong key, before the menu again."),
        _f("invalid", Target(), "Next node after wrong keys on the last repeat "
           "(default: hang up)."),
        _f("no_input", Target(), "Next node when no key was pressed on the last repeat "
           "(default: hang up)."),
        _f("disa", Record(DISA_FIELDS), "Let callers dial an internal extension during "
           "the prompt."),
    ),
    "collect": _COMMON + (
        _f("prompt", Prompt(), "What to ask."),
        _f("variable", Text(pattern=VARIABLE_PATTERN), "Variable receiving the digits.",
           required=True),
        _f("min_length", Integer(1, 64), "Fewest digits accepted (default 1)."),
        _f("max_length", Integer(1, 64), "Most digits accepted (default 20)."),
        _f("terminator", Text(choices=("#", "*", "none")), "Key ending input early "
           "(default '#'; 'none' for no terminator)."),
        _f("timeout", Seconds(maximum=120), "Seconds to wait for the first digit (default 5)."),
        _f("digit_timeout", Seconds(maximum=60), "Seconds to wait between digits (default 3)."),
        _f("pattern", Regex(), "Regular expression the whole input must match."),
        _f("repeats", Integer(1, 10), "How many times the caller is asked (default 2)."),
        _f("invalid_prompt", Prompt(), "Played after invalid input, before asking again."),
        _f("next", Target(), "Next node with valid input.", required=True),
        _f("invalid", Target(), "Next node after invalid input on the last repeat "
           "(default: hang up)."),
        _f("no_input", Target(), "Next node without input on the last repeat "
           "(default: hang up)."),
    ),
    "schedule": _COMMON + (
        _f("timezone", Timezone(), "Time zone of the hours (default: the scenario's)."),
        _f("hours", Record(HOURS_FIELDS), "Weekly opening hours; days not listed are closed.",
           required=True),
        _f("exceptions", ListOf(Record(EXCEPTION_FIELDS)), "Dated exceptions (win over "
           "holidays and weekly hours)."),
        _f("holidays", Text(choices=("pl", "none")), "Built-in public holidays "
           "(default 'pl')."),
        _f("holiday_hours", Hours(), "Hours on public holidays (default '0:00-0:00', closed)."),
        _f("open", Target(), "Next node when open.", required=True),
        _f("closed", Target(), "Next node when closed.", required=True),
    ),
    "transfer": _COMMON + (
        _f("extension", Extension(), "Ring this internal extension."),
        _f("group", ListOf(Extension()), "Ring these extensions (a ring group)."),
        _f("strategy", Text(choices=("sequential", "random", "simultaneous")),
           "How a group rings (default sequential)."),
        _f("queue", Text(pattern=NAME_PATTERN), "Put the caller in this queue."),
        _f("external", PhoneNumber(), "Call this external number."),
        _RING,
        _f("max_ring_time", Seconds(maximum=3600), "Give up on a group after this many "
           "seconds (default 60)."),
        _f("caller_id", Text(), "Caller ID to present on the new leg."),
        _NO_ANSWER,
        _BUSY,
    ),
    "queue": _COMMON + (
        _f("queue", Text(pattern=NAME_PATTERN), "The queue to join.", required=True),
        _f("priority", Integer(0, 100), "Higher is served first (default 0)."),
        _f("skills", MapOf("name", Integer(1, 5)), "Required skill -> minimum level 1-5."),
        _f("prompt", Prompt(), "Played once on joining."),
        _f("announcement", Prompt(), "Repeated while waiting; ${queue_position} is the "
           "caller's place."),
        _f("announce_every", Seconds(maximum=600), "Seconds between announcements "
           "(default 30)."),
        _f("max_wait", Seconds(maximum=86400), "Leave the queue after this many seconds."),
        _NO_ANSWER,
        _f("busy", Target(), "Next node when the queue is full or closed "
           "(default: the no_answer branch)."),
    ),
    "voicemail": _COMMON + (
        _f("mailbox", Text(pattern=NAME_PATTERN), "Mailbox receiving the message.",
           required=True),
        _f("prompt", Prompt(), "Greeting played before the beep."),
        _f("max_length", Seconds(maximum=3600), "Longest message in seconds (default 120)."),
        _f("beep", Boolean(), "Beep before recording (default true)."),
        _f("next", Target(), "Next node after recording (default: hang up)."),
    ),
    "set": _COMMON + (
        _f("variables", MapOf("name", Scalar()), "Variable -> value (may use ${other}).",
           required=True),
        _f("next", Target(), "Next node.", required=True),
    ),
    "goto": _COMMON + (
        _f("target", Target(), "The node to continue at.", required=True),
    ),
    "hangup": _COMMON + (
        _f("prompt", Prompt(), "Played before hanging up."),
        _f("cause", Text(pattern=r"^[a-z][a-z0-9-]*$"), "Cause recorded (default 'normal')."),
    ),
    "http": _COMMON + (
        _f("url", Text(pattern=r"^https?://\S+$", template=True), "URL to ask; ${name} "
           "inserts a variable (URL-encoded).", required=True),
        _f("method", Text(choices=("GET", "POST")), "HTTP method (default GET)."),
        _f("body", MapOf("text", Scalar()), "Form fields sent with POST (may use ${name})."),
        _f("timeout", Seconds(maximum=60), "Seconds to wait for the answer (default 5)."),
        _f("field", Text(), "Take the answer from this field of a JSON object reply "
           "(default: the whole body, trimmed)."),
        _f("variable", Text(pattern=VARIABLE_PATTERN), "Store the answer in this variable."),
        _f("routes", MapOf("text", Target()), "Answer -> next node."),
        _f("default", Target(), "Next node for any other answer.", required=True),
        _f("on_timeout", Target(), "Next node if no answer in time (default: the error "
           "branch)."),
        _f("error", Target(), "Next node on a failed request or non-2xx status "
           "(default: the default branch)."),
    ),
    "survey": _COMMON + (
        _f("name", Text(pattern=NAME_PATTERN), "Survey name the answers are stored under.",
           required=True),
        _f("intro", Prompt(), "Played before the first question."),
        _f("questions", ListOf(Record(QUESTION_FIELDS)), "The questions, in order.",
           required=True),
        _f("thanks", Prompt(), "Played after the last question."),
        _f("next", Target(), "Next node after the survey (default: hang up)."),
    ),
}

# Node kinds that wait for the caller's keys: a loop must pass through one of them.
INPUT_KINDS = frozenset({"menu", "collect", "survey"})

SCENARIO_FIELDS: tuple[Field, ...] = (
    _f("name", Text(pattern=NAME_PATTERN), "Scenario name (default: the file name)."),
    _f("description", Text(), "Free text."),
    _f("start", Target(), "The first node.", required=True),
    _f("language", Text(choices=("pl", "en")), "Default TTS language (default pl)."),
    _f("voice", Text(choices=("female", "male")), "Default TTS voice (default female)."),
    _f("timezone", Timezone(), "Default time zone for schedules (default Europe/Warsaw)."),
    _f("answer", Boolean(), "Answer the call on arrival (default true; false for calls "
       "already up, e.g. a post-call survey)."),
    _f("max_steps", Integer(1, 100000), "Most nodes one call may pass through "
       "(default 200): guards against runaway flows."),
    _f("prompts_dir", Text(), "Directory of prompt files, relative to this file "
       "(default: the file's directory)."),
    _f("variables", MapOf("name", Scalar()), "Variables and their initial values."),
    _f("nodes", Type(), "The nodes, by name.", required=True),
)
