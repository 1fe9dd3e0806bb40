"""Stateless answers to requests that could not be parsed.

When a request is malformed we still owe the sender a 400 if we can address it:
that needs the Via, From, To, Call-ID and CSeq lines, which are copied as raw text
(§8.2.6.2) without trusting the rest of the message.
"""

from __future__ import annotations

import re

_LINE_RE = re.compile(rb"^([A-Za-z\-]+)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.M)
_COPIED = {
    b"via": "Via", b"v": "Via",
    b"from": "From", b"f": "From",
    b"to": "To", b"t": "To",
    b"call-id": "Call-ID", b"i": "Call-ID",
    b"cseq": "CSeq",
}  # fmt: skip
_FOLD_RE = re.compile(rb"[ \t]*\r?\n[ \t]+")
_SAFE_REASON = re.compile(r"[^\x20-\x7e]")


def error_response(data: bytes, status: int, reason: str, to_tag: str) -> bytes | None:
    """A response to the malformed request in `data`, or None if it cannot be addressed."""
    head = data[:8192].lstrip(b"\r\n")  # keep-alive CRLFs may precede the request
    first_end = head.find(b"\n")
    first = head[: first_end if first_end >= 0 else len(head)]
    if first.upper().startswith(b"SIP/") or b" " not in first:
        return None  # a response (never answered) or not SIP at all
    end = head.find(b"\r\n\r\n")
    if end >= 0:
        head = head[:end]
    if b"\n " in head or b"\n\t" in head:
        head = _FOLD_RE.sub(b" ", head)  # unfold, or folded Via/CSeq values get cut short
    found: dict[str, list[str]] = {}
    for name, value in _LINE_RE.findall(head):
        canon = _COPIED.get(name.lower())
        if canon is not None:
            found.setdefault(canon, []).append(value.decode("utf-8", "replace"))
    if "Via" not in found:
        return None
    lines = [f"SIP/2.0 {status} {_SAFE_REASON.sub('?', reason)}"]
    lines += [f"Via: {v}" for v in found["Via"]]
    for name in ("From", "To", "Call-ID", "CSeq"):
        if name in found:
            value = found[name][0]
            if name == "To" and ";tag=" not in value.replace(" ", "").replace("\t", "").lower():
                value = f"{value};tag={to_tag}"
            lines.append(f"{name}: {value}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
