"""Structured header values: Via, name-addr (From/To/Contact/Route), CSeq, scalars.

Parsed objects keep the text they were parsed from, so an untouched header
serializes byte-for-byte and costs nothing to write back out.
"""

from __future__ import annotations

import re

from switch.sip.errors import SipParseError
from switch.sip.grammar import (
    TOKEN_RE,
    WS,
    find_quote_end,
    format_params,
    parse_params,
    parse_port,
    quote,
    split_top_level,
    unquote,
)
from switch.sip.uri import SipUri, Uri, parse_uri

MAX_CSEQ = 2**31 - 1
MAX_DELTA_SECONDS = 2**32 - 1


_RPORT_FLAG_RE = re.compile(r";[ \t]*rport(?=[ \t]*(?:;|\Z))", re.I)


class Via:
    """One Via value: `SIP/2.0/<transport> host[:port];params`."""

    __slots__ = ("transport", "host", "port", "params", "_text")

    def __init__(
        self,
        *,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        text: str | None = None,
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params if params is not None else {}
        self._text = text

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        if self._text is None:
            port = "" if self.port is None else f":{self.port}"
            self._text = f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"
        return self._text

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"

    def stamped(self, received: str, rport: int | None) -> Via:
        """This Via with `received` (and `rport` filled in) as a server adds them.

        The text is patched rather than rebuilt, so the sender's spelling survives and
        the answer costs one string operation instead of a re-serialization.
        """
        params = dict(self.params)
        params["received"] = received
        text = self._text
        if rport is not None:
            params["rport"] = str(rport)
        if text is None or "received" in self.params or (
            rport is not None and self.params.get("rport") is not None
        ):
            return Via(transport=self.transport, host=self.host, port=self.port, params=params)
        if rport is not None:
            text, found = _RPORT_FLAG_RE.subn(f";rport={rport}", text, count=1)
            if not found:
                return Via(transport=self.transport, host=self.host, port=self.port,
                           params=params)
        return Via(transport=self.transport, host=self.host, port=self.port, params=params,
                   text=f"{text};received={received}")

    def with_params(self, **params: str | None) -> Via:
        merged = dict(self.params)
        merged.update(params)
        return Via(transport=self.transport, host=self.host, port=self.port, params=merged)


_VIA_RE = re.compile(
    r"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?[ \t]*(;.*)?\Z",
    re.I | re.S,
)


def parse_via(text: str) -> Via:
    m = _VIA_RE.match(text)
    if m is None:
        raise SipParseError(f"Invalid Via: {text[:60]!r}")
    transport, host, port_text, param_text = m.groups()
    port = None if port_text is None else parse_port(port_text, "Via port")
    params = parse_params(param_text, "Via") if param_text else {}
    return Via(transport=transport.upper(), host=host, port=port, params=params, text=text)


class NameAddr:
    """`[display] <uri>;params` or `uri;params` (From, To, Contact, Route…)."""

    __slots__ = ("display", "uri_text", "params", "_uri", "_text")

    def __init__(
        self,
        *,
        uri: Uri | None = None,
        uri_text: str | None = None,
        display: str | None = None,
        params: dict[str, str | None] | None = None,
        text: str | None = None,
    ) -> None:
        if uri is None and uri_text is None:
            raise ValueError("NameAddr needs uri or uri_text")
        self._uri = uri
        self.uri_text = uri_text if uri_text is not None else str(uri)
        self.display = display
        self.params = params if params is not None else {}
        self._text = text

    @property
    def uri(self) -> Uri:
        if self._uri is None:
            self._uri = parse_uri(self.uri_text)
        return self._uri

    @property
    def sip_uri(self) -> SipUri:
        uri = self.uri
        if not isinstance(uri, SipUri):
            raise SipParseError(f"Not a SIP URI: {self.uri_text[:60]!r}", 416)
        return uri

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_params(self, **params: str | None) -> NameAddr:
        merged = dict(self.params)
        merged.update(params)
        return NameAddr(uri=self._uri, uri_text=self.uri_text, display=self.display, params=merged)

    def __str__(self) -> str:
        if self._text is None:
            display = "" if self.display is None else quote(self.display) + " "
            self._text = f"{display}<{self.uri_text}>{format_params(self.params)}"
        return self._text

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"


def _check_display_tokens(display: str) -> None:
    for word in display.split():
        if TOKEN_RE.match(word) is None:
            raise SipParseError(f"Invalid display name (quote it): {display[:40]!r}")


_NAME_ADDR_RE = re.compile(
    r'(?:"((?:[^"\\]|\\.)*)"[ \t]*|([^"<]*?)[ \t]*)<([^<> \t]+)>([ \t]*;.*)?\Z', re.S
)


def parse_name_addr(text: str, what: str = "address") -> NameAddr:
    m = _NAME_ADDR_RE.match(text)
    if m is not None:
        quoted, bare, uri_text, param_text = m.groups()
        if quoted is not None:
            display: str | None = unquote('"' + quoted + '"') if "\\" in quoted else quoted
        elif bare:
            _check_display_tokens(bare)
            display = bare
        else:
            display = None
        params = parse_params(param_text, what) if param_text else {}
        return NameAddr(uri_text=uri_text, display=display, params=params, text=text)
    return _parse_name_addr_slow(text, what)


def _parse_name_addr_slow(text: str, what: str) -> NameAddr:
    s = text.strip(WS)
    if not s:
        raise SipParseError(f"Empty {what}")
    display: str | None = None
    if s[0] == '"':
        end = find_quote_end(s, 0)
        display = unquote(s[: end + 1])
        rest = s[end + 1 :].lstrip(WS)
        if not rest.startswith("<"):
            raise SipParseError(f"Expected '<' after display name in {what}")
        lt = 0
        s = rest
    else:
        lt = s.find("<")
        if lt > 0:
            raw = s[:lt].strip(WS)
            if raw:
                _check_display_tokens(raw)
                display = raw
    if lt >= 0:
        gt = s.find(">", lt)
        if gt < 0:
            raise SipParseError(f"Missing '>' in {what}")
        uri_text = s[lt + 1 : gt]
        if not uri_text or uri_text[0] in WS or uri_text[-1] in WS:
            raise SipParseError(f"Whitespace inside <> in {what}")
        if any(c in uri_text for c in WS):
            raise SipParseError(f"Whitespace in URI of {what}")
        params = parse_params(s[gt + 1 :].strip(WS), what)
        return NameAddr(uri_text=uri_text, display=display, params=params, text=text.strip(WS))
    # addr-spec form: the URI ends at the first ';' and may not carry headers or commas.
    semi = s.find(";")
    uri_text = s if semi < 0 else s[:semi].rstrip(WS)
    if any(c in uri_text for c in ' \t?,"'):
        raise SipParseError(f"Invalid addr-spec in {what} (enclose it in <>): {uri_text[:60]!r}")
    uri = parse_uri(uri_text)
    params = parse_params(s[semi:].strip(WS) if semi >= 0 else "", what)
    return NameAddr(uri=uri, uri_text=uri_text, params=params, text=text.strip(WS))


class CSeq:
    __slots__ = ("number", "method")

    def __init__(self, number: int, method: str) -> None:
        self.number = number
        self.method = method

    def __str__(self) -> str:
        return f"{self.number} {self.method}"

    def __repr__(self) -> str:
        return f"CSeq({self.number}, {self.method!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CSeq):
            return NotImplemented
        return self.number == other.number and self.method == other.method

    def __hash__(self) -> int:
        return hash((self.number, self.method))


_CSEQ_RE = re.compile(r"([0-9]{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)\Z")


def parse_cseq(text: str) -> CSeq:
    m = _CSEQ_RE.match(text)
    if m is None:
        raise SipParseError(f"Invalid CSeq: {text[:40]!r}")
    number = int(m.group(1))
    if number > MAX_CSEQ:
        raise SipParseError(f"CSeq number out of range: {m.group(1)}")
    return CSeq(number, m.group(2))


def parse_uint(text: str, what: str, maximum: int) -> int:
    value = text.strip(WS)
    if not value.isdigit() or not value.isascii():
        raise SipParseError(f"Invalid {what}: {value[:20]!r}")
    if len(value) > 10 or int(value) > maximum:
        raise SipParseError(f"{what} out of range: {value[:20]}")
    return int(value)


def parse_contacts(text: str) -> list[NameAddr] | None:
    """Contact values of one header line; None for the `*` wildcard."""
    if text.strip(WS) == "*":
        return None
    contacts = [parse_name_addr(item, "Contact") for item in split_top_level(text, ",")]
    for contact in contacts:
        expires = contact.params.get("expires")
        if expires is not None:
            parse_uint(expires, "Contact expires", MAX_DELTA_SECONDS)
    return contacts


_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d{2}:\d{2}:\d{2} GMT\Z"
)


def check_date(text: str) -> str:
    """RFC 3261 §20.17: an RFC 1123 date, always in GMT."""
    if _DATE_RE.match(text.strip(WS)) is None:
        raise SipParseError(f"Invalid Date (RFC 1123, GMT only): {text[:40]!r}")
    return text


def check_port_text(text: str) -> int:
    return parse_port(text)
