"""Character classes and small scanners from the RFC 3261 §25 grammar.

Shared by the URI, header and message parsers. Every scanner raises only
`SipParseError` so malformed input always turns into a 400 with a reason.
"""

from __future__ import annotations

import re

from switch.sip.errors import SipParseError

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~")
# hostname / IPv4 / IPv6 reference, as accepted in URIs and Via sent-by.
HOST_RE = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]"  # IPv6reference
    r"|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?"  # hostname or IPv4 (dots included)
    r"|[A-Za-z0-9])\Z"
)
WS = " \t"


def is_token(text: str) -> bool:
    return TOKEN_RE.match(text) is not None


def check_token(text: str, what: str) -> str:
    if TOKEN_RE.match(text) is None:
        raise SipParseError(f"Invalid {what}: {text[:40]!r}")
    return text


def check_host(host: str, what: str = "host") -> str:
    if HOST_RE.match(host) is None:
        raise SipParseError(f"Invalid {what}: {host[:60]!r}")
    return host


def parse_port(text: str, what: str = "port") -> int:
    if not text.isdigit() or len(text) > 5 or not text.isascii():
        raise SipParseError(f"Invalid {what}: {text[:20]!r}")
    port = int(text)
    if port > 65535:
        raise SipParseError(f"Invalid {what}: {port} out of range")
    return port


def split_hostport(text: str, what: str = "host") -> tuple[str, int | None]:
    """Split `host[:port]`, where host may be an IPv6 reference in brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"Unterminated IPv6 reference in {what}")
        host, rest = text[: end + 1], text[end + 1 :]
        if not rest:
            return check_host(host, what), None
        if rest[0] != ":":
            raise SipParseError(f"Invalid {what}: {text[:60]!r}")
        return check_host(host, what), parse_port(rest[1:], f"{what} port")
    host, sep, port = text.partition(":")
    check_host(host, what)
    if not sep:
        return host, None
    return host, parse_port(port, f"{what} port")


def find_quote_end(text: str, start: int) -> int:
    """Index of the closing quote of the quoted-string opening at `start`."""
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return i
        if c == "\\":
            i += 2
            continue
        i += 1
    raise SipParseError("Unterminated quoted string")


def unquote(text: str) -> str:
    """Content of a quoted-string (with quotes), with quoted-pairs resolved."""
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == "\\" and i + 1 < len(inner):
            out.append(inner[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_top_level(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quoted strings and angle brackets."""
    if sep not in text:
        return [text]
    if '"' not in text and "<" not in text:
        return text.split(sep)
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = find_quote_end(text, i) + 1
            continue
        if c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = rf"[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*({_QUOTED}|[^ \t\";,<>]+))?"
PARAM_RE = re.compile(_PARAM)
PARAMS_RE = re.compile(rf"(?:{_PARAM})*[ \t]*\Z")


_TOKEN_CHARS_STR = "".join(sorted(TOKEN_CHARS))
# Unquoted gen-value / uri-parameter octets: printable ASCII except separators.
_VALUE_CHARS_STR = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '";,<>')


def parse_params(text: str, what: str) -> dict[str, str | None]:
    """Parse `;name[=value]` generic parameters (names lowercased, values kept)."""
    if not text:
        return {}
    if '"' in text or " " in text or "\t" in text:
        if PARAMS_RE.match(text) is None:
            raise SipParseError(f"Invalid parameters in {what}: {text[:60]!r}")
        return {name.lower(): (value or None) for name, value in PARAM_RE.findall(text)}
    items = text.split(";")
    if items[0]:
        raise SipParseError(f"Invalid parameters in {what}: {text[:60]!r}")
    params: dict[str, str | None] = {}
    for item in items[1:]:
        name, eq, value = item.partition("=")
        if not name or name.strip(_TOKEN_CHARS_STR):
            raise SipParseError(f"Invalid parameter name in {what}: {name[:40]!r}")
        if eq:
            if not value or value.strip(_VALUE_CHARS_STR):
                raise SipParseError(f"Invalid value for parameter {name!r} in {what}")
            params[name.lower()] = value
        else:
            params[name.lower()] = None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())
