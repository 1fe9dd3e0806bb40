"""SIP and SIPS URIs (RFC 3261 §19.1) and other absolute URIs kept opaque."""

from __future__ import annotations

import re
from urllib.parse import unquote as pct_unquote

from switch.sip.errors import SipParseError
from switch.sip.grammar import format_params, parse_params, split_hostport

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
# Characters that may never appear unescaped in a URI (RFC 3986 excluded set + LWS).
_FORBIDDEN_RE = re.compile(r'[ \t\r\n"<>\\^`{|}]')
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+\Z")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]*\Z")
_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class SipUri:
    """A parsed `sip:` / `sips:` URI. Treated as immutable; build a new one to change it."""

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "_text")

    def __init__(
        self,
        *,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        headers: str | None = None,
        text: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if params is not None else {}
        self.headers = headers
        self._text = text

    def __str__(self) -> str:
        if self._text is None:
            parts = [self.scheme, ":"]
            if self.user is not None:
                parts.append(self.user)
                if self.password is not None:
                    parts += (":", self.password)
                parts.append("@")
            parts.append(self.host)
            if self.port is not None:
                parts += (":", str(self.port))
            parts.append(format_params(self.params))
            if self.headers is not None:
                parts += ("?", self.headers)
            self._text = "".join(parts)
        return self._text

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def user_unescaped(self) -> str | None:
        return None if self.user is None else pct_unquote(self.user)

    @property
    def aor(self) -> str:
        """Address of record: scheme, user and host, lower-cased host (RFC 3261 §10.3)."""
        user = self.user_unescaped
        host = self.host.lower()
        return f"{self.scheme}:{user}@{host}" if user else f"{self.scheme}:{host}"

    def replace(self, **changes: object) -> SipUri:
        fields: dict[str, object] = {
            "scheme": self.scheme,
            "user": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
            "params": dict(self.params),
            "headers": self.headers,
        }
        fields.update(changes)
        return SipUri(**fields)  # type: ignore[arg-type]


class AbsoluteUri:
    """Any other absolute URI (tel:, http:, urn:…): validated loosely and kept as text."""

    __slots__ = ("scheme", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.scheme = text.partition(":")[0].lower()

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"AbsoluteUri({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)


Uri = SipUri | AbsoluteUri


def parse_uri(text: str, *, allow_headers: bool = True) -> Uri:
    """Parse an absolute URI; SIP/SIPS in full, other schemes opaquely."""
    scheme, colon, rest = text.partition(":")
    if not colon or _SCHEME_RE.match(scheme) is None:
        raise SipParseError(f"Invalid URI: {text[:60]!r}")
    if _FORBIDDEN_RE.search(text) is not None:
        raise SipParseError(f"Invalid character in URI: {text[:60]!r}")
    lower = scheme.lower()
    if lower not in ("sip", "sips"):
        if not rest:
            raise SipParseError(f"Empty URI: {text[:60]!r}")
        return AbsoluteUri(text)
    return _parse_sip(lower, rest, text, allow_headers)


def _parse_sip(scheme: str, rest: str, text: str, allow_headers: bool) -> SipUri:
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        if not user or _USER_RE.match(user) is None or _ESCAPE_RE.search(user):
            raise SipParseError(f"Invalid user part in URI: {text[:60]!r}")
        if colon:
            if _PASSWORD_RE.match(pw) is None:
                raise SipParseError(f"Invalid password in URI: {text[:60]!r}")
            password = pw
    headers: str | None = None
    q = rest.find("?")
    if q >= 0:
        if not allow_headers:
            raise SipParseError(f"URI headers not allowed here: {text[:60]!r}")
        rest, headers = rest[:q], rest[q + 1 :]
    semi = rest.find(";")
    if semi >= 0:
        hostport, param_text = rest[:semi], rest[semi:]
        params = parse_params(param_text, "URI")
    else:
        hostport, params = rest, {}
    if not hostport:
        raise SipParseError(f"Missing host in URI: {text[:60]!r}")
    host, port = split_hostport(hostport, "URI host")
    return SipUri(
        scheme=scheme,
        user=user,
        password=password,
        host=host,
        port=port,
        params=params,
        headers=headers,
        text=text,
    )
