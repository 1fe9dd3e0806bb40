"""The SDP data model (RFC 4566 §5) and its serializer.

Plain mutable dataclasses mirroring the lines of a session description. Values are
kept as received (attribute values are never parsed on the way in); the helpers below
read them on demand. `to_bytes()` writes CRLF lines in the order of RFC 4566 §5, so
`parse_sdp(x.to_bytes()) == x` for every well-formed model.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

# Addresses that mean "do not send me media" (RFC 2543 hold; RFC 3264 §8.4 keeps it valid).
UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::"})


class Direction(StrEnum):
    """Media direction attribute (RFC 4566 §6, RFC 3264 §5.1), from the describer's side."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    # The arithmetic below runs several times per offer/answer, and Enum member lookups
    # and calls made it cost up to 1.5 us a step; the answers are tabulated once after
    # the class instead (_SENDING, _RECEIVING, _REVERSED, _RESTRICTED).
    @property
    def sends(self) -> bool:
        return self in _SENDING

    @property
    def receives(self) -> bool:
        return self in _RECEIVING

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reversed(self) -> Direction:
        """The same stream seen from the other end: what an answer may at most say."""
        return _REVERSED[self]

    def restrict(self, other: Direction) -> Direction:
        """Only what both allow."""
        return _RESTRICTED[self, other]


_SENDING = frozenset({Direction.SENDRECV, Direction.SENDONLY})
_RECEIVING = frozenset({Direction.SENDRECV, Direction.RECVONLY})
_REVERSED = {d: Direction.of(d in _RECEIVING, d in _SENDING) for d in Direction}
_RESTRICTED = {
    (a, b): Direction.of(a in _SENDING and b in _SENDING, a in _RECEIVING and b in _RECEIVING)
    for a in Direction
    for b in Direction
}
# Attribute name -> Direction; a dict lookup instead of the slower `Direction(name)`.
_DIRECTION_NAMED = {d.value: d for d in Direction}
DIRECTIONS = frozenset(d.value for d in Direction)


class Attribute(NamedTuple):
    """One a= line: `a=name` (value None) or `a=name:value` (value may be empty)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>."""

    username: str
    session_id: int
    version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """c=<nettype> <addrtype> <connection-address> (multicast /ttl/count kept in address)."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def for_address(cls, address: str) -> Connection:
        return cls("IN", "IP6" if ":" in address else "IP4", address)

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """b=<bwtype>:<bandwidth>."""

    bwtype: str
    bandwidth: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(slots=True)
class Timing:
    """t=<start> <stop>, with the r= lines that follow it kept verbatim."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


class RtpMap(NamedTuple):
    """a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>] (RFC 4566 §6)."""

    encoding: str
    clock_rate: int
    channels: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        """What identifies a codec across payload-type numbers (names are case-blind)."""
        return (self.encoding.lower(), self.clock_rate)

    def __str__(self) -> str:
        text = f"{self.encoding}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"


# Static audio payload types (RFC 3551 §6), valid without an a=rtpmap line.
STATIC_PAYLOAD_TYPES: dict[int, RtpMap] = {
    0: RtpMap("PCMU", 8000),
    3: RtpMap("GSM", 8000),
    4: RtpMap("G723", 8000),
    5: RtpMap("DVI4", 8000),
    6: RtpMap("DVI4", 16000),
    7: RtpMap("LPC", 8000),
    8: RtpMap("PCMA", 8000),
    9: RtpMap("G722", 8000),
    10: RtpMap("L16", 44100, 2),
    11: RtpMap("L16", 44100),
    12: RtpMap("QCELP", 8000),
    13: RtpMap("CN", 8000),
    14: RtpMap("MPA", 90000),
    15: RtpMap("G728", 8000),
    16: RtpMap("DVI4", 11025),
    17: RtpMap("DVI4", 22050),
    18: RtpMap("G729", 8000),
}


# Memoized: every description repeats the same few lines (`0 PCMU/8000`), and every
# call parses them again in several descriptions. Keys are immutable strings and the
# results immutable tuples, so sharing them is safe; the bound caps what odd input
# can make the cache hold.
@functools.lru_cache(maxsize=1024)
def parse_rtpmap(value: str) -> tuple[int, RtpMap] | None:
    """`0 PCMU/8000` -> (0, RtpMap); None when malformed (callers then ignore the line)."""
    pt_text, _, rest = value.partition(" ")
    pt = payload_type(pt_text)
    parts = rest.strip().split("/")
    if pt is None or not 2 <= len(parts) <= 3 or not parts[0]:
        return None
    for number in parts[1:]:
        if not (number.isascii() and number.isdigit() and len(number) <= 9):
            return None
    channels = int(parts[2]) if len(parts) == 3 else None
    return pt, RtpMap(parts[0], int(parts[1]), channels)


def _is_pt(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= 127


# The usual spelling of each payload type, so that the common case is one dict lookup;
# `_is_pt` still decides the others (`007` is 7 as well).
_PT_TEXT = {str(pt): pt for pt in range(128)}


def payload_type(fmt: str) -> int | None:
    """An m= format as an RTP payload type (0-127), None if it is not one."""
    pt = _PT_TEXT.get(fmt)
    if pt is None and _is_pt(fmt):
        pt = int(fmt)
    return pt


class _Described:
    """What session and media sections share: attributes and their direction."""

    __slots__ = ()
    attributes: list[Attribute]

    def find(self, name: str) -> Attribute | None:
        """The first attribute with this name (names are case-sensitive)."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None

    def values(self, name: str) -> list[str]:
        """The values of every `a=name:value` line, in order."""
        return [a.value for a in self.attributes if a.name == name and a.value is not None]

    def remove(self, *names: str) -> None:
        self.attributes[:] = [a for a in self.attributes if a.name not in names]

    @property
    def direction(self) -> Direction | None:
        """The direction attribute written at this level, None when there is none."""
        for name, value in self.attributes:
            if value is None and name in _DIRECTION_NAMED:
                return _DIRECTION_NAMED[name]
        return None

    @direction.setter
    def direction(self, value: Direction | None) -> None:
        """Replace this level's direction in place (appended if absent; None removes)."""
        out: list[Attribute] = []
        placed = value is None
        for attr in self.attributes:
            if attr.name in DIRECTIONS and attr.value is None:
                if not placed:
                    out.append(Attribute(str(value)))
                    placed = True
                continue
            out.append(attr)
        if not placed:
            out.append(Attribute(str(value)))
        self.attributes[:] = out


@dataclass(slots=True, kw_only=True)
class MediaDescription(_Described):
    """One m= section: `m=<media> <port>[/<count>] <proto> <fmt> ...` and its lines."""

    media: str
    port: int
    port_count: int | None = None
    proto: str
    formats: list[str]
    information: str | None = None  # i=
    connections: list[Connection] = field(default_factory=list)  # c= (several: multicast)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None  # k= (obsolete, kept for round trips)
    attributes: list[Attribute] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # unknown x= lines
    # rtpmap()'s last result and the formats and attributes it was computed from.
    # Offer/answer asks several times per call for the codecs of the same streams; the
    # fields are mutable (even in place), so a hit needs both lists equal to the
    # snapshot, which is cheap: the elements are usually the very same objects.
    _rtpmap_memo: tuple[list[str], list[Attribute], dict[int, RtpMap]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def rtpmap(self) -> dict[int, RtpMap]:
        """Codec of each payload type listed on the m= line, in m= order.

        From a=rtpmap, else the static table; unknown or malformed ones are left out.
        """
        formats, attributes, memo = self.formats, self.attributes, self._rtpmap_memo
        if memo is not None and memo[0] == formats and memo[1] == attributes:
            return dict(memo[2])  # a copy: the caller may change it
        mapped: dict[int, RtpMap] = {}
        for name, value in attributes:
            if name == "rtpmap" and value is not None:
                parsed = parse_rtpmap(value)
                if parsed is not None and parsed[0] not in mapped:
                    mapped[parsed[0]] = parsed[1]
        result: dict[int, RtpMap] = {}
        for fmt in formats:
            pt = _PT_TEXT.get(fmt)  # payload_type(fmt), without the call most of the time
            if pt is None:
                pt = payload_type(fmt)
            if pt is None or pt in result:
                continue
            codec = mapped.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)
            if codec is not None:
                result[pt] = codec
        self._rtpmap_memo = (list(formats), list(attributes), result)
        return dict(result)

    def _known_rtpmap(self, codecs: dict[int, RtpMap]) -> None:
        """Give rtpmap() its answer for the current formats and attributes in advance.

        For the offer/answer builders, which know the codecs of the streams they build
        (the relay's payload_map() asks for them next): `codecs` must be exactly what
        rtpmap() would compute, or rtpmap() answers wrong until the stream changes.
        """
        self._rtpmap_memo = (list(self.formats), list(self.attributes), dict(codecs))

    def fmtp(self, pt: int) -> str | None:
        """The format parameters of a payload type (`a=fmtp:101 0-16` -> `0-16`)."""
        return fmtp_params(self).get(str(pt))

    @property
    def ptime(self) -> int | None:
        return self._int_attribute("ptime")

    @property
    def maxptime(self) -> int | None:
        return self._int_attribute("maxptime")

    def _int_attribute(self, name: str) -> int | None:
        for attr_name, value in self.attributes:
            if attr_name != name or value is None:
                continue
            text = value.strip()
            if text.isascii() and text.isdigit() and len(text) <= 6:
                return int(text)
            try:  # some phones write `20.0`
                number = float(text)
            except ValueError:
                return None
            return int(number) if number.is_integer() and 0 <= number < 1e6 else None
        return None

    def lines(self) -> Iterator[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        yield " ".join(["m=" + self.media, port, self.proto, *self.formats])
        if self.information is not None:
            yield "i=" + self.information
        for conn in self.connections:
            yield f"c={conn}"
        for bw in self.bandwidths:
            yield f"b={bw}"
        if self.key is not None:
            yield "k=" + self.key
        for name, value in self.attributes:  # str(Attribute), without the method call
            yield "a=" + name if value is None else f"a={name}:{value}"
        for kind, value in self.extra:
            yield f"{kind}={value}"


def fmtp_params(media: MediaDescription) -> dict[str, str]:
    """The format parameters of every payload type in one pass, keyed by the type as
    `fmtp()` spells it (`str(pt)`): `a=fmtp:101 0-16` -> {"101": "0-16"}; the first
    line for a type wins."""
    params: dict[str, str] = {}
    for name, value in media.attributes:
        if name == "fmtp" and value is not None:
            pt_text, space, rest = value.partition(" ")
            if space and pt_text not in params:
                params[pt_text] = rest.strip()
    return params


@dataclass(slots=True, kw_only=True)
class SessionDescription(_Described):
    """A whole session description (RFC 4566 §5)."""

    version: int = 0
    origin: Origin
    name: str = "-"  # s=
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    zone: str | None = None  # z=, verbatim
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # unknown x= lines

    def direction_of(self, media: MediaDescription) -> Direction:
        """Effective direction of a stream: media level, else session level, else sendrecv."""
        return media.direction or self.direction or Direction.SENDRECV

    def connection_of(self, media: MediaDescription) -> Connection | None:
        """Effective connection of a stream: its first c=, else the session's."""
        return media.connections[0] if media.connections else self.connection

    def is_held(self, media: MediaDescription) -> bool:
        """Whether the describer puts this stream on hold.

        RFC 3264 §8.4 (sendonly or inactive) or RFC 2543 style (c= 0.0.0.0).
        """
        if self.direction_of(media) in (Direction.SENDONLY, Direction.INACTIVE):
            return True
        conn = self.connection_of(media)
        return conn is not None and conn.address in UNSPECIFIED_ADDRESSES

    def audio(self) -> MediaDescription | None:
        """The first enabled audio stream (the one a voice call uses), if any."""
        for media in self.media:
            if media.media == "audio" and media.port != 0:
                return media
        return None

    def audio_target(self) -> tuple[str, int] | None:
        """Where to send the audio: address and port of `audio()`, None if there is none
        or it says "send me nothing" (c=0.0.0.0). The port is the RTP one; RTCP is +1."""
        media = self.audio()
        conn = None if media is None else self.connection_of(media)
        if media is None or conn is None or conn.address in UNSPECIFIED_ADDRESSES:
            return None
        return conn.address.partition("/")[0], media.port

    def copy(self) -> SessionDescription:
        return copy.deepcopy(self)

    def lines(self) -> Iterator[str]:
        yield f"v={self.version}"
        yield f"o={self.origin}"
        yield "s=" + self.name
        if self.information is not None:
            yield "i=" + self.information
        if self.uri is not None:
            yield "u=" + self.uri
        for email in self.emails:
            yield "e=" + email
        for phone in self.phones:
            yield "p=" + phone
        if self.connection is not None:
            yield f"c={self.connection}"
        for bw in self.bandwidths:
            yield f"b={bw}"
        for timing in self.timings:
            yield f"t={timing.start} {timing.stop}"
            for repeat in timing.repeats:
                yield "r=" + repeat
        if self.zone is not None:
            yield "z=" + self.zone
        if self.key is not None:
            yield "k=" + self.key
        for name, value in self.attributes:  # str(Attribute), without the method call
            yield "a=" + name if value is None else f"a={name}:{value}"
        for kind, value in self.extra:
            yield f"{kind}={value}"
        for media in self.media:
            yield from media.lines()

    def to_bytes(self) -> bytes:
        return str(self).encode("utf-8")

    __bytes__ = to_bytes

    def __str__(self) -> str:
        return "\r\n".join(self.lines()) + "\r\n"  # lines() is never empty (v=, o=, s=)
