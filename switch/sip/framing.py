"""Message framing on stream transports (RFC 3261 §18.3), sans-I/O.

Bytes go in as they arrive, complete messages come out. CRLF keep-alives between
messages (RFC 5626 §3.5.1: a double CRLF "ping") are reported so the transport can
answer with a single CRLF "pong". The buffer is capped: a peer that sends an endless
header block or an oversized body gets a `SipParseError` and the connection is closed.
"""

from __future__ import annotations

import re

from switch.sip.errors import SipParseError

_CONTENT_LENGTH_RE = re.compile(
    rb"\r?\n(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", re.I | re.M
)
PING = object()


class StreamFramer:
    def __init__(self, max_message_bytes: int = 65535) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | object]:
        """Append bytes; return complete messages (bytes) and PING markers in order."""
        buf = self._buffer
        buf += data
        out: list[bytes | object] = []
        while buf:
            if buf[0] in (13, 10):
                # Keep-alive CRLFs between messages: a double CRLF is a ping.
                stripped = len(buf) - len(buf.lstrip(b"\r\n"))
                if buf.startswith(b"\r\n\r\n"):
                    out.append(PING)
                    del buf[:4]
                    continue
                if stripped == len(buf) and len(buf) < 4:
                    break  # maybe the start of a ping; wait for more
                del buf[:stripped]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_message_bytes:
                    buf.clear()
                    raise SipParseError("Header section too large", 513)
                break
            head = bytes(buf[:end])
            lengths = _CONTENT_LENGTH_RE.findall(head)
            if lengths:
                # Compared as numbers ("5" and "05" agree); more than 10 digits can only
                # be bogus, and int() of thousands of digits would raise ValueError.
                if any(len(text) > 10 for text in lengths):
                    buf.clear()
                    raise SipParseError("Invalid Content-Length")
                length = int(lengths[0])
                if len(lengths) > 1 and any(int(text) != length for text in lengths):
                    buf.clear()
                    raise SipParseError("Conflicting Content-Length header fields")
            else:
                length = 0  # absent on a stream: no body (common reading of §18.3, §20.14)
            total = end + 4 + length
            if total > self.max_message_bytes:
                buf.clear()
                raise SipParseError("Message too large", 513)
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out
