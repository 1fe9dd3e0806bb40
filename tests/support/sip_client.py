"""A minimal blocking SIP client over UDP/TCP for integration tests (digest included).

The interop tests use real third-party software; this client only exercises the
switch's own behaviour (error answers, brute-force lockout, restart durability).
"""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

from switch.sip.message import Response, parse_message


class SipTestClient:
    def __init__(self, port: int, *, transport: str = "udp", timeout: float = 5.0) -> None:
        self.server = ("127.0.0.1", port)
        self.transport = transport
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.create_connection(self.server, timeout=timeout)
        self.sock.settimeout(timeout)
        self.local_port = self.sock.getsockname()[1]
        self._buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def recv_raw(self) -> bytes:
        if self.transport == "udp":
            return self.sock.recv(65535)
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self.sock.recv(65535)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(rest) < length:
            rest += self.sock.recv(65535)
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def request(self, data: bytes) -> Response:
        self.send_raw(data)
        while True:
            message = parse_message(self.recv_raw(), datagram=self.transport == "udp")
            if isinstance(message, Response) and message.status >= 200:
                return message

    def register_message(self, user: str, *, cseq: int = 1, call_id: str | None = None,
                         expires: int | None = 3600, contact: str | None = None,
                         authorization: str | None = None) -> bytes:
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        proto = self.transport.upper()
        lines = [
            f"REGISTER sip:127.0.0.1:{self.server[1]} SIP/2.0",
            f"Via: SIP/2.0/{proto} 127.0.0.1:{self.local_port};branch={branch};rport",
            f"From: <sip:{user}@example.test>;tag={uuid.uuid4().hex[:8]}",
            f"To: <sip:{user}@example.test>",
            f"Call-ID: {call_id or uuid.uuid4().hex}",
            f"CSeq: {cseq} REGISTER",
            "Max-Forwards: 70",
        ]
        if contact is None:  # None: this client's own contact; "": no Contact (a query)
            contact = f"<sip:{user}@127.0.0.1:{self.local_port};transport={proto}>"
        if contact:
            lines.append(f"Contact: {contact}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def register(self, user: str, password: str, **kwargs: object) -> Response:
        """REGISTER, answer the 401 challenge, return the final response."""
        call_id = str(kwargs.pop("call_id", None) or uuid.uuid4().hex)
        first = self.request(self.register_message(user, call_id=call_id, **kwargs))  # type: ignore[arg-type]
        if first.status != 401:
            return first
        challenge = first.get("WWW-Authenticate") or ""
        auth = digest_authorization(challenge, user, password, "REGISTER",
                                    f"sip:127.0.0.1:{self.server[1]}")
        return self.request(self.register_message(user, cseq=2, call_id=call_id,
                                                  authorization=auth, **kwargs))  # type: ignore[arg-type]


def digest_authorization(challenge: str, user: str, password: str, method: str, uri: str,
                         *, nc: int = 1, cnonce: str = "0a4f113b") -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    algorithm = params.get("algorithm", "MD5")
    hasher = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

    def h(text: str) -> str:
        return hasher(text.encode()).hexdigest()

    realm, nonce = params["realm"], params["nonce"]
    ha1 = h(f"{user}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    ncs = f"{nc:08x}"
    response = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm={algorithm}, qop=auth, nc={ncs}, '
            f'cnonce="{cnonce}", opaque="{params.get("opaque", "")}"')
