"""DTMF in SIP INFO bodies: `application/dtmf-relay` and `application/dtmf`.

    application/dtmf-relay:   Signal=5\\r\\nDuration=160\\r\\n   (duration in ms)
    application/dtmf:         5

Neither has an RFC; these are the forms phones send (Cisco, Polycom, Yealink, Grandstream,
Asterisk). Parsing is lenient where phones differ (line endings, spaces, case, unknown
lines, the event codes 10-15 for * # A-D) and strict where a digit would be guessed.
Errors carry the SIP status to answer: 415 for a Content-Type that is not DTMF, 400
for a body that holds no usable digit.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.dtmf.errors import DtmfInfoError, UnsupportedInfoType
from media.dtmf.tones import DIGITS

DTMF_RELAY = "application/dtmf-relay"
DTMF = "application/dtmf"
CONTENT_TYPES = (DTMF_RELAY, DTMF)
MAX_BODY = 1024  # a DTMF body is a few bytes; anything bigger is not one
MAX_DURATION_MS = 60_000


@dataclass(frozen=True, slots=True)
class InfoDigit:
    digit: str
    duration_ms: int | None  # None when the body gives none (application/dtmf never does)


def _ascii_number(v: str) -> bool:
    # str.isdigit() is true for "²" and other Unicode digits that int() refuses.
    return v.isascii() and v.isdigit()


def _signal(value: str) -> str:
    v = value.strip()
    if len(v) == 1 and v.upper() in DIGITS:
        return v.upper()
    if _ascii_number(v) and 10 <= int(v) <= 15:  # event codes some phones send for * # A-D
        return DIGITS[int(v)]
    if _ascii_number(v) and int(v) == 16:
        raise DtmfInfoError("flash", "hook flash (Signal=16) is not a DTMF digit")
    raise DtmfInfoError("bad-signal", f"not a DTMF digit: {value.strip()[:20]!r}")


def _duration(value: str) -> int:
    v = value.strip()
    if not _ascii_number(v):
        raise DtmfInfoError("bad-duration", f"duration is not a number: {v[:20]!r}")
    ms = int(v)
    if not 0 < ms <= MAX_DURATION_MS:
        raise DtmfInfoError("bad-duration", f"duration out of range: {ms} ms")
    return ms


def media_type(content_type: str) -> str:
    """`application/DTMF-Relay; charset=x` -> `application/dtmf-relay`."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_info(content_type: str, body: bytes | str) -> InfoDigit:
    """The digit of an INFO request's body; `DtmfInfoError` (its `status`: 400 or 415)
    when the body is not one."""
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        raise UnsupportedInfoType("content-type", f"not a DTMF body: {kind or '(none)'}")
    if len(body) > MAX_BODY:
        raise DtmfInfoError("too-long", f"DTMF body of {len(body)} bytes")
    if isinstance(body, bytes | bytearray):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise DtmfInfoError("encoding", "DTMF body is not UTF-8") from None
    else:
        text = body
    if kind == DTMF:
        return InfoDigit(_signal(text) if text.strip() else _empty(), None)
    return _parse_relay(text)


def _empty() -> str:
    raise DtmfInfoError("empty", "empty DTMF body")


def _parse_relay(text: str) -> InfoDigit:
    digit: str | None = None
    duration: int | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise DtmfInfoError("syntax", f"not a key=value line: {line[:40]!r}")
        key = key.strip().lower()
        if key == "signal":
            if digit is not None:
                raise DtmfInfoError("duplicate", "two Signal lines")
            digit = _signal(value)
        elif key == "duration":
            if duration is not None:
                raise DtmfInfoError("duplicate", "two Duration lines")
            duration = _duration(value)
        # other keys (e.g. Volume) are ignored
    if digit is None:
        raise DtmfInfoError("no-signal", "dtmf-relay body without a Signal line")
    return InfoDigit(digit, duration)


def format_dtmf_relay(digit: str, duration_ms: int) -> str:
    """The body of an outgoing INFO (Content-Type: application/dtmf-relay)."""
    d = _signal(digit)
    return f"Signal={d}\r\nDuration={_duration(str(int(duration_ms)))}\r\n"


def format_dtmf(digit: str) -> str:
    """The body of an outgoing INFO (Content-Type: application/dtmf)."""
    return _signal(digit)
