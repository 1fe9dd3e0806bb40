"""SDP parser (RFC 4566 §5): bytes or text in, `SessionDescription` out, `SdpError` only.

Lenient where phones differ harmlessly (LF or CRLF, trailing blanks, trailing
whitespace, lines in a non-canonical order within a section, unknown single-letter
types kept as-is), strict where a value would be misread (field counts, numbers,
duplicated single lines, session lines inside a media section). Attribute values are
not looked into here: the model's helpers read them on demand.
"""

from __future__ import annotations

import re

from switch.sdp.errors import SdpError
from switch.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

MAX_SDP_BYTES = 64 * 1024
MAX_LINES = 1000
MAX_MEDIA = 32

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_NUMBER_RE = re.compile(r"[0-9]{1,20}")  # sess-id, sess-version, times, bandwidths
_PORT_RE = re.compile(r"([0-9]{1,5})(?:/([0-9]{1,5}))?")
_KNOWN = frozenset("vosiuepcbtrzkam")
_MEDIA_LEVEL = frozenset("icbkam")
_TEXT_TYPES = frozenset("si")  # free text: trailing spaces are content (`s= `)


def parse_sdp(data: bytes | bytearray | memoryview | str) -> SessionDescription:
    """Parse one session description; raises SdpError (status 400) if malformed."""
    text = _text(data)
    if "\0" in text:
        raise SdpError("NUL character in session description")
    lines = text.split("\n")
    while lines and lines[-1] in ("", "\r"):
        lines.pop()
    if not lines:
        raise SdpError("empty session description")
    if len(lines) > MAX_LINES:
        raise SdpError(f"more than {MAX_LINES} lines")
    return _Parser().run(lines)


def _text(data: bytes | bytearray | memoryview | str) -> str:
    too_long = SdpError(f"session description longer than {MAX_SDP_BYTES} bytes")
    if isinstance(data, str):
        if len(data) > MAX_SDP_BYTES:  # cheap check before encoding a huge string
            raise too_long
        try:
            if len(data.encode("utf-8")) > MAX_SDP_BYTES:
                raise too_long
        except UnicodeEncodeError:  # lone surrogates: to_bytes() could not write it back
            raise SdpError("session description is not encodable as UTF-8") from None
        return data
    if len(data) > MAX_SDP_BYTES:
        raise too_long
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError(f"invalid UTF-8 at byte {exc.start}") from None


class _Parser:
    __slots__ = ("origin", "name", "session", "media", "timing", "lineno")

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.name: str | None = None
        self.session = SessionDescription(origin=Origin("-", 0, 0, "IN", "IP4", "0.0.0.0"))
        self.media: MediaDescription | None = None
        self.timing: Timing | None = None
        self.lineno = 0

    def fail(self, message: str) -> SdpError:
        return SdpError(f"line {self.lineno}: {message}")

    def run(self, lines: list[str]) -> SessionDescription:
        for self.lineno, raw in enumerate(lines, 1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if "\r" in line:
                raise self.fail("CR inside a line")
            if len(line) < 2 or line[1] != "=":
                raise self.fail("expected <type>=<value>" if line else "empty line")
            kind, value = line[0], line[2:]
            if not ("a" <= kind <= "z" or "A" <= kind <= "Z"):
                raise self.fail(f"invalid line type {kind!r}")
            if kind not in _TEXT_TYPES:
                value = value.rstrip(" \t")
            if self.lineno == 1:
                if kind != "v":
                    raise self.fail("a session description starts with v=")
                if value != "0":
                    raise self.fail(f"unsupported SDP version {value[:20]!r}")
                continue
            if kind == "m":
                self.media_line(value)
            elif kind not in _KNOWN:
                target = self.media if self.media is not None else self.session
                target.extra.append((kind, value))
            elif self.media is not None:
                self.media_field(kind, value)
            else:
                self.session_field(kind, value)
        if self.origin is None:
            raise SdpError("missing o= line")
        if self.name is None:
            raise SdpError("missing s= line")
        self.session.origin = self.origin
        self.session.name = self.name
        return self.session

    # -- session level -----------------------------------------------------------
    def session_field(self, kind: str, value: str) -> None:
        session = self.session
        if kind == "a":
            session.attributes.append(self.attribute(value))
        elif kind == "o":
            self.once(self.origin, kind)
            self.origin = self.parse_origin(value)
        elif kind == "s":
            self.once(self.name, kind)
            self.name = value
        elif kind == "c":
            self.once(session.connection, kind)
            session.connection = self.connection(value)
        elif kind == "b":
            session.bandwidths.append(self.bandwidth(value))
        elif kind == "t":
            start, stop = self.numbers(value, 2, "t= line needs start and stop times")
            self.timing = Timing(start, stop)
            session.timings.append(self.timing)
        elif kind == "r":
            if self.timing is None:
                raise self.fail("r= line before any t= line")
            self.timing.repeats.append(value)
        elif kind == "i":
            self.once(session.information, kind)
            session.information = value
        elif kind == "u":
            self.once(session.uri, kind)
            session.uri = value
        elif kind == "e":
            session.emails.append(value)
        elif kind == "p":
            session.phones.append(value)
        elif kind == "z":
            self.once(session.zone, kind)
            session.zone = value
        elif kind == "k":
            self.once(session.key, kind)
            session.key = value
        else:  # v
            raise self.fail("duplicate v= line")

    def parse_origin(self, value: str) -> Origin:
        fields = value.split()
        if len(fields) != 6:
            raise self.fail("o= line needs 6 fields")
        user, sess_id, version, nettype, addrtype, address = fields
        if not (_NUMBER_RE.fullmatch(sess_id) and _NUMBER_RE.fullmatch(version)):
            raise self.fail("o= session id and version must be numbers")
        return Origin(user, int(sess_id), int(version), nettype, addrtype, address)

    # -- media level -------------------------------------------------------------
    def media_line(self, value: str) -> None:
        fields = value.split()
        if len(fields) < 4:
            raise self.fail("m= line needs port, proto and formats")
        if len(self.session.media) >= MAX_MEDIA:
            raise self.fail(f"more than {MAX_MEDIA} m= lines")
        match = _PORT_RE.fullmatch(fields[1])
        if match is None or int(match[1]) > 65535:
            raise self.fail(f"invalid m= port {fields[1][:20]!r}")
        count = None if match[2] is None else int(match[2])
        if count == 0:
            raise self.fail("m= port count must be at least 1")
        self.media = MediaDescription(
            media=fields[0],
            port=int(match[1]),
            port_count=count,
            proto=fields[2],
            formats=fields[3:],
        )
        self.session.media.append(self.media)

    def media_field(self, kind: str, value: str) -> None:
        media = self.media
        assert media is not None
        if kind not in _MEDIA_LEVEL:
            raise self.fail(f"{kind}= line not allowed in a media description")
        if kind == "a":
            media.attributes.append(self.attribute(value))
        elif kind == "c":
            media.connections.append(self.connection(value))
        elif kind == "b":
            media.bandwidths.append(self.bandwidth(value))
        elif kind == "i":
            self.once(media.information, kind)
            media.information = value
        else:  # k
            self.once(media.key, kind)
            media.key = value

    # -- shared fields -----------------------------------------------------------
    def once(self, current: object, kind: str) -> None:
        if current is not None:
            raise self.fail(f"duplicate {kind}= line")

    def attribute(self, value: str) -> Attribute:
        name, colon, rest = value.partition(":")
        if _TOKEN_RE.fullmatch(name) is None:
            raise self.fail(f"invalid attribute name {name[:40]!r}")
        return Attribute(name, rest if colon else None)

    def connection(self, value: str) -> Connection:
        fields = value.split()
        if len(fields) != 3:
            raise self.fail("c= line needs nettype, addrtype and address")
        return Connection(*fields)

    def bandwidth(self, value: str) -> Bandwidth:
        bwtype, colon, amount = value.partition(":")
        if not colon or _TOKEN_RE.fullmatch(bwtype) is None or not _NUMBER_RE.fullmatch(amount):
            raise self.fail("b= line needs <bwtype>:<bandwidth>")
        return Bandwidth(bwtype, int(amount))

    def numbers(self, value: str, count: int, message: str) -> list[int]:
        fields = value.split()
        if len(fields) != count or not all(_NUMBER_RE.fullmatch(f) for f in fields):
            raise self.fail(message)
        return [int(f) for f in fields]
