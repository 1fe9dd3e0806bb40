"""SDP parser (RFC 4566 §5): bytes or text in, `SessionDescription` out, `SdpError` only.

Lenient where phones differ harmlessly (LF or CRLF, trailing blanks, trailing
whitespace, lines in a non-canonical order within a section, unknown single-letter
types kept as-is), strict where a value would be misread (field counts, numbers,
duplicated single lines, session lines inside a media section). Attribute values are
not looked into here: the model's helpers read them on demand.
"""

from __future__ import annotations

import re
from typing import TypeVar

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
# Lines read before, and what they were read as. Most a= lines are the same in every
# description (`a=rtpmap:0 PCMU/8000`, `a=ptime:20`, `a=sendrecv`), and so is a phone's
# c= line; Attribute and Connection are immutable, so each is built once and shared.
# A lookup costs a fraction of reading the line. Only valid lines are kept, and not
# those of attributes that are new in every description (they would only crowd the
# cache); each cache is emptied when full, which bounds it whatever the input.
_ATTRIBUTES: dict[str, Attribute] = {}  # by the whole a= line
_CONNECTIONS: dict[str, Connection] = {}  # by the c= value
_CACHE_SIZE = 2048
_ONE_OFF_ATTRIBUTES = frozenset({
    "candidate", "remote-candidates", "ice-ufrag", "ice-pwd", "crypto", "fingerprint",
    "key-mgmt", "zrtp-hash", "ssrc", "ssrc-group", "msid", "rtcp",  # rtcp: a port
})  # fmt: skip
_T = TypeVar("_T")
# The parser's stand-in until the o= line is read (frozen, so one can serve every parse).
_NO_ORIGIN = Origin("-", 0, 0, "IN", "IP4", "0.0.0.0")


def parse_sdp(data: bytes | bytearray | memoryview | str) -> SessionDescription:
    """Parse one session description; raises SdpError (status 400) if malformed."""
    text = _text(data)
    if "\0" in text:
        raise SdpError("NUL character in session description")
    lines, stray_cr = _lines(text)
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise SdpError("empty session description")
    if len(lines) > MAX_LINES:
        raise SdpError(f"more than {MAX_LINES} lines")
    if stray_cr is not None:
        if stray_cr > 0:  # an error in the lines before it comes first
            _Parser().run(lines[:stray_cr], complete=False)
        raise SdpError(f"line {stray_cr + 1}: CR inside a line")
    return _Parser().run(lines)


def _lines(text: str) -> tuple[list[str], int | None]:
    """The lines without their LF or CRLF, and the index of the first line left with a
    CR in it (an error, once the lines before it are read), if any."""
    # Phones send all-CRLF or all-LF text: a look at every line's end would cost more
    # than the whole text in a few C calls. Once the CRLFs are LFs, no CR left means no
    # line had a CR but the one before its LF.
    if "\r" in text:
        lf_text = text.replace("\r\n", "\n")
        if "\r" in lf_text:
            return _lines_with_cr(text)
        text = lf_text
    return text.split("\n"), None


def _lines_with_cr(text: str) -> tuple[list[str], int | None]:
    """`_lines` the long way, for text with a CR that does not end a line."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    stray = next((i for i, line in enumerate(lines) if "\r" in line), None)
    return lines, stray


def _text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        if len(data) > MAX_SDP_BYTES:  # cheap check before encoding a huge string
            raise _too_long()
        try:
            if len(data.encode("utf-8")) > MAX_SDP_BYTES:
                raise _too_long()
        except UnicodeEncodeError:  # lone surrogates: to_bytes() could not write it back
            raise SdpError("session description is not encodable as UTF-8") from None
        return data
    if len(data) > MAX_SDP_BYTES:
        raise _too_long()
    try:
        return (data if isinstance(data, bytes) else bytes(data)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError(f"invalid UTF-8 at byte {exc.start}") from None


def _too_long() -> SdpError:
    return SdpError(f"session description longer than {MAX_SDP_BYTES} bytes")


class _Parser:
    __slots__ = ("origin", "name", "session", "media", "timing", "lineno")

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.name: str | None = None
        self.session = SessionDescription(origin=_NO_ORIGIN)
        self.media: MediaDescription | None = None
        self.timing: Timing | None = None
        self.lineno = 0

    def fail(self, message: str) -> SdpError:
        return SdpError(f"line {self.lineno}: {message}")

    def run(self, lines: list[str], complete: bool = True) -> SessionDescription:
        """Read the lines (none of them with CR or LF left in it) into the session.

        `complete=False` reads a prefix of the description: only the lines' own errors.
        """
        # a= lines, most of every description, are read inline (a method call is a good
        # part of the cost of a line) with the checks the others get below, and looked up
        # in _ATTRIBUTES first. `self.lineno` is kept up to date for the other lines,
        # whose methods report errors with it; an a= line sets it only to fail.
        session = self.session
        attributes = session.attributes  # of the section being read
        for lineno, line in enumerate(lines, 1):
            if line[:2] == "a=" and lineno > 1:
                attribute = _ATTRIBUTES.get(line)
                if attribute is None:
                    name, colon, rest = line[2:].rstrip(" \t").partition(":")
                    one_off = name in _ONE_OFF_ATTRIBUTES  # (valid names all)
                    if not one_off and _TOKEN_RE.fullmatch(name) is None:
                        self.lineno = lineno
                        raise self.fail(f"invalid attribute name {name[:40]!r}")
                    attribute = Attribute(name, rest if colon else None)
                    if not one_off:
                        _remember(_ATTRIBUTES, line, attribute)
                attributes.append(attribute)
                continue
            self.lineno = lineno
            if len(line) < 2 or line[1] != "=":
                raise self.fail("expected <type>=<value>" if line else "empty line")
            kind, value = line[0], line[2:]
            if not ("a" <= kind <= "z" or "A" <= kind <= "Z"):
                raise self.fail(f"invalid line type {kind!r}")
            if kind not in _TEXT_TYPES:
                value = value.rstrip(" \t")
            if lineno == 1:
                if kind != "v":
                    raise self.fail("a session description starts with v=")
                if value != "0":
                    raise self.fail(f"unsupported SDP version {value[:20]!r}")
            elif kind == "m":
                attributes = self.media_line(value).attributes
            elif kind not in _KNOWN:
                target = self.media if self.media is not None else session
                target.extra.append((kind, value))
            elif self.media is not None:
                self.media_field(kind, value)
            else:
                self.session_field(kind, value)
        if not complete:
            return self.session
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
        if kind == "o":
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
            if value == "0 0":  # what SIP phones send (RFC 3264 §5): spare the checks
                self.timing = Timing(0, 0)
            else:
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
    def media_line(self, value: str) -> MediaDescription:
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
        return self.media

    def media_field(self, kind: str, value: str) -> None:
        media = self.media
        assert media is not None
        if kind not in _MEDIA_LEVEL:
            raise self.fail(f"{kind}= line not allowed in a media description")
        if kind == "c":
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

    def connection(self, value: str) -> Connection:
        connection = _CONNECTIONS.get(value)
        if connection is None:
            fields = value.split()
            if len(fields) != 3:
                raise self.fail("c= line needs nettype, addrtype and address")
            connection = Connection(*fields)
            _remember(_CONNECTIONS, value, connection)
        return connection

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


def _remember(cache: dict[str, _T], key: str, value: _T) -> None:
    if len(cache) >= _CACHE_SIZE:  # the bound on what odd input can make it hold
        cache.clear()
    cache[key] = value
