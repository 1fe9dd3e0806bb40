"""SIP requests and responses (RFC 3261 §7, §25): parse and serialize, sans-I/O.

The headers every transaction needs (Via, From, To, Call-ID, CSeq, Max-Forwards,
Content-Length) are parsed eagerly into typed attributes; every other header is kept
as `(canonical name, text)` in arrival order and parsed on demand by accessors that
raise the same `SipParseError`. `validate()` forces the deep checks (Contact, Route,
Expires, Date…) for callers that want the strict view, such as the torture tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from switch.sip.errors import SipParseError
from switch.sip.grammar import TOKEN_RE, WS, split_top_level
from switch.sip.headers import (
    MAX_CSEQ,
    MAX_DELTA_SECONDS,
    CSeq,
    NameAddr,
    Via,
    check_date,
    parse_contacts,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
)
from switch.sip.uri import SipUri, Uri, parse_uri

MAX_HEADER_LINES = 256
MAX_LINE_LENGTH = 8192
MAX_BODY_BYTES = 1 << 20

# Canonical spelling of well-known header names, keyed by lower-case long and compact forms.
_CANONICAL: dict[str, str] = {}
for _name, _compact in (
    ("Accept", None),
    ("Accept-Contact", "a"),
    ("Accept-Encoding", None),
    ("Accept-Language", None),
    ("Alert-Info", None),
    ("Allow", None),
    ("Allow-Events", "u"),
    ("Authentication-Info", None),
    ("Authorization", None),
    ("Call-ID", "i"),
    ("Call-Info", None),
    ("Contact", "m"),
    ("Content-Disposition", None),
    ("Content-Encoding", "e"),
    ("Content-Language", None),
    ("Content-Length", "l"),
    ("Content-Type", "c"),
    ("CSeq", None),
    ("Date", None),
    ("Error-Info", None),
    ("Event", "o"),
    ("Expires", None),
    ("From", "f"),
    ("Identity", "y"),
    ("In-Reply-To", None),
    ("Max-Forwards", None),
    ("Min-Expires", None),
    ("MIME-Version", None),
    ("Organization", None),
    ("P-Asserted-Identity", None),
    ("Path", None),
    ("Priority", None),
    ("Proxy-Authenticate", None),
    ("Proxy-Authorization", None),
    ("Proxy-Require", None),
    ("RAck", None),
    ("Reason", None),
    ("Record-Route", None),
    ("Refer-To", "r"),
    ("Referred-By", "b"),
    ("Reject-Contact", "j"),
    ("Replaces", None),
    ("Reply-To", None),
    ("Request-Disposition", "d"),
    ("Require", None),
    ("Retry-After", None),
    ("Route", None),
    ("RSeq", None),
    ("Server", None),
    ("Session-Expires", "x"),
    ("Subject", "s"),
    ("Subscription-State", None),
    ("Supported", "k"),
    ("Timestamp", None),
    ("To", "t"),
    ("Unsupported", None),
    ("User-Agent", None),
    ("Via", "v"),
    ("Warning", None),
    ("WWW-Authenticate", None),
):
    _CANONICAL[_name.lower()] = _name
    if _compact:
        _CANONICAL[_compact] = _name

# Eager headers, dispatched by a small code to keep the per-line loop cheap.
_VIA, _FROM, _TO, _CALL_ID, _CSEQ, _CLEN, _MAXF = range(7)
_EAGER = {
    "via": _VIA, "v": _VIA,
    "from": _FROM, "f": _FROM,
    "to": _TO, "t": _TO,
    "call-id": _CALL_ID, "i": _CALL_ID,
    "cseq": _CSEQ,
    "content-length": _CLEN, "l": _CLEN,
    "max-forwards": _MAXF,
}  # fmt: skip


KNOWN_METHODS = frozenset({
    "ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK",
    "PUBLISH", "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
})  # fmt: skip


_OTHER = -1
# Raw header name as received -> (eager code or _OTHER, canonical name). Phones spell
# names the same way every time, so one dict hit replaces strip+lower+two lookups.
_NAME_INFO: dict[str, tuple[int, str]] = {}
_NAME_INFO_MAX = 2048


def _lookup_name(raw: str) -> tuple[int, str]:
    name = raw.rstrip(WS) if raw[-1] in WS else raw
    key = name.lower()
    code = _EAGER.get(key, _OTHER)
    canon = _CANONICAL.get(key)
    if canon is None:
        if TOKEN_RE.match(name) is None:
            raise SipParseError(f"Invalid header name: {name[:40]!r}")
        canon = name
    info = (code, canon)
    if len(_NAME_INFO) < _NAME_INFO_MAX:  # bounded: hostile peers cannot grow it forever
        _NAME_INFO[raw] = info
    return info


def canonical_name(name: str) -> str:
    return _CANONICAL.get(name.lower(), name)


class Message:
    """What requests and responses share: headers and body.

    Via, From and To arrive as text and are parsed on first access (then cached);
    an untouched header is written back out as the text it came in as.
    """

    __slots__ = (
        "_vias",
        "_via_text",
        "_from",
        "_to",
        "call_id",
        "cseq",
        "max_forwards",
        "headers",
        "body",
    )

    def __init__(
        self,
        *,
        vias: list[Via] | list[str],
        from_: NameAddr | str,
        to: NameAddr | str,
        call_id: str,
        cseq: CSeq,
        max_forwards: int | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if vias and isinstance(vias[0], str):
            self._via_text: list[str] | None = vias
            self._vias: list[Via] | None = None
        else:
            self._via_text = None
            self._vias = vias  # type: ignore[assignment]
        self._from = from_
        self._to = to
        self.call_id = call_id
        self.cseq = cseq
        self.max_forwards = max_forwards
        self.headers = headers if headers is not None else []
        self.body = body

    @property
    def vias(self) -> list[Via]:
        if self._vias is None:
            vias: list[Via] = []
            for value in self._via_text or ():
                if "," in value:
                    vias += [parse_via(v.strip(WS)) for v in split_top_level(value, ",")]
                else:
                    vias.append(parse_via(value))
            self._vias = vias
            self._via_text = None
        return self._vias

    @vias.setter
    def vias(self, value: list[Via]) -> None:
        self._vias = value
        self._via_text = None

    @property
    def from_(self) -> NameAddr:
        value = self._from
        if isinstance(value, str):
            value = self._from = parse_name_addr(value, "From")
        return value

    @from_.setter
    def from_(self, value: NameAddr) -> None:
        self._from = value

    @property
    def to(self) -> NameAddr:
        value = self._to
        if isinstance(value, str):
            value = self._to = parse_name_addr(value, "To")
        return value

    @to.setter
    def to(self, value: NameAddr) -> None:
        self._to = value

    # -- generic header access -------------------------------------------------
    def get(self, name: str) -> str | None:
        """First value of a non-eager header (case-insensitive, compact forms too)."""
        lower = name.lower()
        canon = _CANONICAL.get(lower)
        if canon is not None:  # well-known names are stored canonically: exact match
            for key, value in self.headers:
                if key == canon:
                    return value
            return None
        for key, value in self.headers:  # others keep their received spelling
            if key.lower() == lower:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        lower = name.lower()
        canon = _CANONICAL.get(lower)
        if canon is not None:
            return [value for key, value in self.headers if key == canon]
        return [value for key, value in self.headers if key.lower() == lower]

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((canonical_name(name), value))

    def remove_header(self, name: str) -> None:
        lower = name.lower()
        canon = _CANONICAL.get(lower)
        if canon is not None:
            self.headers = [(k, v) for k, v in self.headers if k != canon]
        else:
            self.headers = [(k, v) for k, v in self.headers if k.lower() != lower]

    # -- typed accessors for lazily parsed headers -----------------------------
    @property
    def top_via(self) -> Via:
        return self.vias[0]

    def contacts(self) -> list[NameAddr] | None:
        """All Contact values; None when the request carries the `*` wildcard."""
        result: list[NameAddr] = []
        for value in self.get_all("Contact"):
            parsed = parse_contacts(value)
            if parsed is None:
                if result or len(self.get_all("Contact")) > 1:
                    raise SipParseError("Contact '*' must be the only Contact")
                return None
            result.extend(parsed)
        return result

    def expires(self) -> int | None:
        values = self.get_all("Expires")
        if not values:
            return None
        if len(values) > 1:
            raise SipParseError("Multiple Expires header fields")
        return parse_uint(values[0], "Expires", MAX_DELTA_SECONDS)

    def routes(self, name: str = "Route") -> list[NameAddr]:
        return [
            parse_name_addr(item, name)
            for value in self.get_all(name)
            for item in split_top_level(value, ",")
        ]

    @property
    def content_type(self) -> str | None:
        value = self.get("Content-Type")
        return None if value is None else value.partition(";")[0].strip(WS).lower()

    def validate(self) -> None:
        """Deep-check the lazily parsed headers; raises SipParseError on the first fault."""
        self.vias  # noqa: B018 - parsing is the check
        self.from_.uri  # noqa: B018
        self.to.uri  # noqa: B018
        for contact in self.contacts() or ():
            contact.uri  # noqa: B018 - the URI is parsed lazily; parsing is the check
        self.expires()
        for name in ("Route", "Record-Route", "Path"):
            for route in self.routes(name):
                route.uri  # noqa: B018
        for name in ("Reply-To", "Refer-To", "P-Asserted-Identity"):
            for value in self.get_all(name):
                parse_name_addr(value, name)
        for value in self.get_all("Date"):
            check_date(value)
        for name in ("Min-Expires", "RSeq"):
            for value in self.get_all(name):
                parse_uint(value, name, MAX_DELTA_SECONDS)
        for name, value in self.headers:
            if name == "Content-Type" and "/" not in value:
                raise SipParseError(f"Invalid Content-Type: {value[:40]!r}")

    # -- serialization ---------------------------------------------------------
    def _start_line(self) -> str:
        raise NotImplementedError

    def _lines(self) -> list[str]:
        lines = [self._start_line()]
        if self._via_text is not None:
            lines += ["Via: " + v for v in self._via_text]
        else:
            lines += ["Via: " + str(v) for v in self._vias or ()]
        if self.max_forwards is not None:
            lines.append(f"Max-Forwards: {self.max_forwards}")
        lines.append(f"From: {self._from}")
        lines.append(f"To: {self._to}")
        lines.append("Call-ID: " + self.call_id)
        lines.append(f"CSeq: {self.cseq.number} {self.cseq.method}")
        lines += [f"{k}: {v}" for k, v in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return lines

    def to_bytes(self) -> bytes:
        head = "\r\n".join(self._lines()) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body

    __bytes__ = to_bytes

    def _key(self) -> tuple[object, ...]:
        return (
            [str(v) for v in self.vias],
            self.max_forwards,
            str(self._from),
            str(self._to),
            self.call_id,
            self.cseq,
            self.headers,
            self.body,
        )


class Request(Message):
    __slots__ = ("method", "_uri")

    def __init__(self, method: str, uri: Uri | str, **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.method = method
        self._uri = uri

    @property
    def uri(self) -> Uri:
        """The Request-URI, parsed on first access (headers are not allowed in it)."""
        uri = self._uri
        if isinstance(uri, str):
            uri = self._uri = parse_uri(uri, allow_headers=False)
        return uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        self._uri = value

    def has_sip_uri(self) -> bool:
        """Whether the Request-URI is sip:/sips:, without parsing it in full."""
        uri = self._uri
        if isinstance(uri, str):
            scheme = uri[:5].lower()
            return scheme.startswith("sip:") or scheme == "sips:"
        return isinstance(uri, SipUri)

    def validate(self) -> None:
        self.uri  # noqa: B018 - parsing is the check
        super().validate()

    def _start_line(self) -> str:
        return f"{self.method} {self._uri} SIP/2.0"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (self.method, str(self._uri), *self._key()) == (
            other.method,
            str(other._uri),
            *other._key(),
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Request {self.method} {self._uri} call-id={self.call_id}>"

    def make_response(
        self,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        """A response per RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq copied."""
        to: NameAddr | str = self._to
        if to_tag is not None and status > 100:
            if (
                isinstance(to, str)
                and '"' not in to
                and "\t" not in to
                and ";tag=" not in to.replace(" ", "").lower()  # parameter names ignore case
            ):
                to = f"{to};tag={to_tag}"  # fast path: no need to parse To to tag it
            elif self.to.tag is None:
                to = self.to.with_params(tag=to_tag)
        # Filled slot by slot, as in parse_message: this runs for every answer we send.
        response = Response.__new__(Response)
        response.status = status
        response.reason = reason if reason is not None else REASONS.get(status, "Unknown")
        response._vias = list(self.vias)
        response._via_text = None
        response._from = self._from  # copied as it came: parsing it is not needed to echo it
        response._to = to
        response.call_id = self.call_id
        response.cseq = self.cseq
        response.max_forwards = None
        response.headers = list(headers)
        response.body = body
        if status == 100:
            timestamp = self.get("Timestamp")
            if timestamp is not None:
                response.headers.append(("Timestamp", timestamp))
        return response


class Response(Message):
    __slots__ = ("status", "reason")

    def __init__(self, status: int, reason: str, **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.status = status
        self.reason = reason

    def _start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.reason, *self._key()) == (
            other.status,
            other.reason,
            *other._key(),
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} call-id={self.call_id}>"


REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}


def _split_head(data: bytes) -> tuple[bytes, int]:
    """The header block (start line included) and the offset where the body starts."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[:end], end + 4
    end = data.find(b"\n\n")
    if end >= 0:
        return data[:end], end + 2
    # A datagram may end right after the last header line with no empty line.
    return data.rstrip(b"\r\n"), len(data)


def parse_message(
    data: bytes, *, datagram: bool = True, strict: bool = False
) -> Request | Response:
    """Parse one complete message.

    `datagram=True`: body is bounded by Content-Length when present, else by the end
    of the datagram; extra octets after Content-Length are ignored (RFC 3261 §18.3).
    `datagram=False`: `data` is exactly one framed message from a stream.
    """
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("Empty message")
    head_bytes, body_start = _split_head(data)
    if len(head_bytes) > MAX_HEADER_LINES * 128:
        if len(head_bytes) > MAX_LINE_LENGTH * 4:
            raise SipParseError("Header section too large", 513)
    head = head_bytes.decode("utf-8", "surrogateescape")
    if "\r" in head:
        lines = head.split("\r\n")
        if head.count("\n") != len(lines) - 1:
            lines = [line.rstrip("\r") for line in head.split("\n")]
    else:
        lines = head.split("\n")
    if "\n " in head or "\n\t" in head:
        lines = _unfold(lines)
    if len(lines) > MAX_HEADER_LINES:
        raise SipParseError("Too many header fields")
    if len(head) > MAX_LINE_LENGTH and max(map(len, lines)) > MAX_LINE_LENGTH:
        raise SipParseError("Header line too long")

    vias: list[str] = []
    from_: str | None = None
    to: str | None = None
    call_id: str | None = None
    cseq: CSeq | None = None
    content_length: int | None = None
    max_forwards: int | None = None
    headers: list[tuple[str, str]] = []
    name_info = _NAME_INFO
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        info = name_info.get(name)
        if info is None:
            if not colon or not name:
                raise SipParseError(f"Malformed header line: {line[:40]!r}")
            info = _lookup_name(name)
        code, canon = info
        value = value.strip(WS)
        if code < 0:
            headers.append((canon, value))
        elif code == _VIA:
            vias.append(value)
        elif code == _FROM:
            if from_ is not None:
                raise SipParseError("Multiple From header fields")
            from_ = value
        elif code == _TO:
            if to is not None:
                raise SipParseError("Multiple To header fields")
            to = value
        elif code == _CALL_ID:
            if call_id is not None:
                raise SipParseError("Multiple Call-ID header fields")
            if not value or " " in value or "\t" in value:
                raise SipParseError(f"Invalid Call-ID: {value[:40]!r}")
            call_id = value
        elif code == _CSEQ:
            if cseq is not None:
                raise SipParseError("Multiple CSeq header fields")
            cseq = parse_cseq(value)
        elif code == _CLEN:
            length = parse_uint(value, "Content-Length", MAX_DELTA_SECONDS)
            if content_length is not None and content_length != length:
                raise SipParseError("Conflicting Content-Length header fields")
            content_length = length
        else:
            if max_forwards is not None:
                raise SipParseError("Multiple Max-Forwards header fields")
            max_forwards = parse_uint(value, "Max-Forwards", 255)

    if not vias:
        raise SipParseError("Missing Via header field")
    if from_ is None:
        raise SipParseError("Missing From header field")
    if to is None:
        raise SipParseError("Missing To header field")
    if call_id is None:
        raise SipParseError("Missing Call-ID header field")
    if cseq is None:
        raise SipParseError("Missing CSeq header field")

    available = len(data) - body_start
    if content_length is None:
        length = available if datagram else 0
    else:
        length = content_length
        if length > available:
            raise SipParseError(f"Content-Length {length} exceeds the {available} bytes received")
    if length > MAX_BODY_BYTES:
        raise SipParseError("Message body too large", 413)
    body = data[body_start : body_start + length] if length else b""

    start = lines[0]
    message: Request | Response
    if start[:4].upper() == "SIP/":
        message = _parse_status_line(start)
    else:
        message = _parse_request_line(start)
        if cseq.method != message.method:
            # RFC 4475 §3.1.2.18: for a method we do not know, 501 is the better answer.
            status = 400 if message.method in KNOWN_METHODS else 501
            raise SipParseError(
                f"CSeq method {cseq.method} does not match {message.method}", status
            )
    # Filled slot by slot: measurably cheaper than keyword construction on this hot path.
    message._via_text = vias
    message._vias = None
    message._from = from_
    message._to = to
    message.call_id = call_id
    message.cseq = cseq
    message.max_forwards = max_forwards
    message.headers = headers
    message.body = bytes(body)
    if strict:
        message.validate()
    return message


def _unfold(lines: list[str]) -> list[str]:
    """Join continuation lines (leading SP/HTAB) onto the previous header line."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and out:
            out[-1] = out[-1].rstrip(WS) + " " + line.strip(WS)
        else:
            out.append(line)
    return out


def _check_version(version: str) -> None:
    if version != "SIP/2.0" and version.upper() != "SIP/2.0":  # the literal is case-insensitive
        if version[:4].upper() == "SIP/":
            raise SipParseError(f"Unsupported SIP version {version[:20]}", 505)
        raise SipParseError(f"Invalid SIP version {version[:20]!r}")


def _parse_request_line(line: str) -> Request:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
        raise SipParseError("Malformed Request-Line")
    method, uri_text, version = parts
    if TOKEN_RE.match(method) is None:
        raise SipParseError(f"Invalid method: {method[:20]!r}")
    _check_version(version)
    if uri_text[0] == "<":
        raise SipParseError("Request-URI must not be enclosed in <>")
    request = Request.__new__(Request)
    request.method = method
    request._uri = uri_text
    return request


def _parse_status_line(line: str) -> Response:
    parts = line.split(" ", 2)
    if len(parts) < 2:
        raise SipParseError("Malformed Status-Line")
    _check_version(parts[0])
    code = parts[1]
    if len(code) != 3 or not code.isascii() or not code.isdigit() or not "100" <= code <= "699":
        raise SipParseError(f"Invalid status code: {code[:20]!r}")
    response = Response.__new__(Response)
    response.status = int(code)
    response.reason = parts[2] if len(parts) == 3 else ""
    return response


def is_sip_uri(uri: Uri) -> bool:
    return isinstance(uri, SipUri)


__all__ = [
    "MAX_CSEQ",
    "Message",
    "REASONS",
    "Request",
    "Response",
    "canonical_name",
    "is_sip_uri",
    "parse_message",
]
