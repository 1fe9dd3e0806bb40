"""UDP and TCP transports for the SIP endpoint: the only place that touches sockets.

Each datagram or framed stream message goes straight into the sans-I/O core with the
loop's time; the runtime then drains what the core wants sent. No task per packet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from switch.sip.errors import SipParseError
from switch.sip.flow import Address, Flow
from switch.sip.framing import PING, StreamFramer
from switch.sip.stateless import error_response

if TYPE_CHECKING:
    from switch.aio.runtime import Runtime

log = logging.getLogger("switch.transport")


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, runtime: Runtime, local: Address) -> None:
        self.runtime = runtime
        self.local = local
        self.transport: asyncio.DatagramTransport | None = None
        self._flows: dict[Address, Flow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, so no isinstance check here.
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 4 or data.isspace():
            return  # CRLF keep-alive or noise
        remote = (addr[0], addr[1])
        flow = self._flows.get(remote)
        if flow is None:
            if len(self._flows) > 65536:
                self._flows.clear()
            flow = self._flows[remote] = Flow("udp", remote, self.local)
        self.runtime.on_message(data, flow)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error on %s: %s", self.local, exc)

    def send(self, data: bytes, remote: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, remote)


class TcpConnection(asyncio.Protocol):
    def __init__(self, server: TcpServer, conn_id: int) -> None:
        self.server = server
        self.conn_id = conn_id
        self.transport: asyncio.Transport | None = None
        self.flow: Flow | None = None
        self.framer = StreamFramer(server.max_message_bytes)
        self.last_active = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        remote = (peer[0], peer[1])
        self.flow = Flow("tcp", remote, self.server.local, self.conn_id)
        self.last_active = self.server.runtime.loop.time()
        if not self.server.admit(self):
            transport.abort()
            return

    def data_received(self, data: bytes) -> None:
        assert self.flow is not None and self.transport is not None
        self.last_active = self.server.runtime.loop.time()
        try:
            items = self.framer.feed(data)
        except SipParseError as exc:
            answer = error_response(bytes(data), exc.status, exc.reason, "frame")
            if answer is not None:
                self.transport.write(answer)
            log.info("closing TCP %s: %s", self.flow.remote, exc.reason)
            self.transport.close()
            return
        for item in items:
            if item is PING:
                self.transport.write(b"\r\n")  # RFC 5626 pong
            else:
                assert isinstance(item, bytes)
                self.server.runtime.on_message(item, self.flow)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class TcpServer:
    def __init__(
        self,
        runtime: Runtime,
        local: Address,
        *,
        idle_timeout: float,
        max_connections: int,
        max_per_peer: int,
        max_message_bytes: int,
    ) -> None:
        self.runtime = runtime
        self.local = local
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_per_peer = max_per_peer
        self.max_message_bytes = max_message_bytes
        self.connections: dict[int, TcpConnection] = {}
        self._by_remote: dict[Address, int] = {}
        self._per_host: Counter[str] = Counter()
        self._next_id = 1
        self.server: asyncio.AbstractServer | None = None

    def factory(self) -> Callable[[], TcpConnection]:
        def make() -> TcpConnection:
            conn_id = self._next_id
            self._next_id += 1
            return TcpConnection(self, conn_id)

        return make

    def admit(self, conn: TcpConnection) -> bool:
        assert conn.flow is not None
        host = conn.flow.remote[0]
        if len(self.connections) >= self.max_connections:
            log.warning("refusing TCP connection from %s: %d connections open",
                        conn.flow.remote, len(self.connections))
            return False
        if self._per_host[host] >= self.max_per_peer:
            log.warning("refusing TCP connection from %s: per-peer limit %d reached",
                        conn.flow.remote, self.max_per_peer)
            return False
        self.connections[conn.conn_id] = conn
        self._by_remote[conn.flow.remote] = conn.conn_id
        self._per_host[host] += 1
        return True

    def forget(self, conn: TcpConnection) -> None:
        if self.connections.pop(conn.conn_id, None) is None or conn.flow is None:
            return
        host = conn.flow.remote[0]
        self._per_host[host] -= 1
        if self._per_host[host] <= 0:
            del self._per_host[host]
        if self._by_remote.get(conn.flow.remote) == conn.conn_id:
            del self._by_remote[conn.flow.remote]

    def send(self, data: bytes, flow: Flow) -> None:
        conn = self.connections.get(flow.conn_id)
        if conn is None:
            # §18.2.2: the connection is gone; reuse another one to that address if open.
            conn_id = self._by_remote.get(flow.remote)
            conn = self.connections.get(conn_id) if conn_id is not None else None
        if conn is None:
            log.info("no TCP connection to %s; dropped %d bytes", flow.remote, len(data))
            return
        conn.send(data)

    def sweep_idle(self, now: float) -> None:
        for conn in list(self.connections.values()):
            if now - conn.last_active > self.idle_timeout and conn.transport is not None:
                log.debug("closing idle TCP connection %s", conn.flow)
                conn.transport.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections.values()):
            if conn.transport is not None:
                conn.transport.close()
