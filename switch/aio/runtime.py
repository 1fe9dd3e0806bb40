"""The asyncio glue: transports in, sans-I/O endpoint, group commit, one timer handle."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from media.aio.relay import size_buffers
from media.backend import DigitReceived, MediaEvent, MediaTimeout, PlaybackFinished
from switch.aio.coretimer import CoreTimer
from switch.aio.transport import TcpServer, UdpTransport
from switch.cdr import CdrStore
from switch.control import CallEvent
from switch.endpoint import SipEndpoint
from switch.overload import OverloadControl
from switch.sip.flow import Flow
from switch.storage import Store

log = logging.getLogger("switch.runtime")

HOUSEKEEPING_INTERVAL = 5.0
LOAD_PROBE_INTERVAL = 0.25
# Big enough for bursts (a group commit, a GC pass), small enough that an overload shows
# as loss and retransmissions within ~0.3 s instead of seconds of hidden queueing, which
# made the server collapse under 25 % overload in bench/sip_register.py.
UDP_BUFFER_BYTES = 1 << 20


def enlarge_buffers(sock: socket.socket | None) -> None:
    """Large socket buffers absorb bursts (a group commit, a GC pause) instead of dropping."""
    if sock is not None:
        size_buffers(sock, UDP_BUFFER_BYTES)  # the relay's helper: same Linux force/fallback


class Runtime:
    def __init__(self, endpoint: SipEndpoint, store: Store) -> None:
        self.endpoint = endpoint
        self.store = store
        self.loop = asyncio.get_running_loop()
        self.udp: dict[tuple[str, int], UdpTransport] = {}
        self.tcp: list[TcpServer] = []
        self._flush_scheduled = False
        # Receives call-control events (DTMF…) once an IVR or ACD runtime is attached.
        self.control_handler: Callable[[CallEvent], None] | None = None
        self._timer = CoreTimer(self.loop, endpoint.get_timer, self._on_timer)
        self._housekeeping: asyncio.TimerHandle | None = None
        self._interval = HOUSEKEEPING_INTERVAL
        self._probe: asyncio.TimerHandle | None = None
        self.overload = OverloadControl()
        self.cdr: CdrStore | None = None
        self._probe_wall = 0.0
        self._probe_cpu = 0.0
        self._probe_received = 0
        self._probe_absorbed = 0

    # -- listening ----------------------------------------------------------------------
    async def listen_udp(self, host: str, port: int) -> tuple[str, int]:
        transport, protocol = await self.loop.create_datagram_endpoint(
            lambda: UdpTransport(self, (host, port)), local_addr=(host, port)
        )
        local = transport.get_extra_info("sockname")[:2]
        enlarge_buffers(transport.get_extra_info("socket"))
        self.udp[local] = protocol
        return local

    async def listen_tcp(
        self, host: str, port: int, *, idle_timeout: float, max_connections: int,
        max_per_peer: int, max_message_bytes: int,
    ) -> tuple[str, int]:
        server = TcpServer(
            self, (host, port), idle_timeout=idle_timeout, max_connections=max_connections,
            max_per_peer=max_per_peer, max_message_bytes=max_message_bytes,
        )
        server.server = await self.loop.create_server(server.factory(), host, port)
        sock = server.server.sockets[0]
        server.local = sock.getsockname()[:2]
        self.tcp.append(server)
        return server.local

    def start_load_probe(self) -> None:
        self._probe_wall = self.loop.time()
        self._probe_cpu = time.process_time()
        stats = self.endpoint.stats
        self._probe_received, self._probe_absorbed = stats["received"], stats["absorbed"]
        self._probe = self.loop.call_later(LOAD_PROBE_INTERVAL, self._probe_load)

    def _probe_load(self) -> None:
        """Measure one window (CPU share, retransmissions) for the overload control."""
        wall, cpu = self.loop.time(), time.process_time()
        busy = (cpu - self._probe_cpu) / max(1e-6, wall - self._probe_wall)
        endpoint = self.endpoint
        received = endpoint.stats["received"] - self._probe_received
        absorbed = endpoint.stats["absorbed"] - self._probe_absorbed
        before = endpoint.shed_share
        endpoint.shed_share = self.overload.update(busy, received, absorbed)
        if (before == 0.0) != (endpoint.shed_share == 0.0):
            log.warning("overload control: shedding %.0f%% of new registrations "
                        "(CPU %.0f%%, %d retransmissions in %d requests)",
                        endpoint.shed_share * 100, busy * 100, absorbed, received)
        self.start_load_probe()

    def start_housekeeping(self) -> None:
        # Often enough that an idle TCP connection is closed within half its timeout.
        idle = [server.idle_timeout / 2 for server in self.tcp]
        self._interval = max(0.05, min([HOUSEKEEPING_INTERVAL, *idle]))
        self._housekeeping = self.loop.call_later(self._interval, self._housekeep)

    # -- the hot path ---------------------------------------------------------------------
    def on_message(self, data: bytes, flow: Flow) -> None:
        endpoint = self.endpoint
        try:
            endpoint.receive(data, flow, self.loop.time(), time.time())
        except Exception:  # a bug in a core must never take the process down
            log.exception("internal error handling a message from %s", flow.remote)
            return
        self._after_core()

    def _after_core(self) -> None:
        """After any input to the cores: send their output, plan the group commit, re-arm."""
        endpoint = self.endpoint
        self._send(endpoint.drain())
        calls = endpoint.calls
        if calls is not None and calls.control_events:
            self._control(calls.drain_control())
        cdr_pending = self.cdr is not None and self.cdr.pending
        if (cdr_pending or endpoint.has_held()) and not self._flush_scheduled:
            # Everything that arrives in this loop turn joins one group commit, and the
            # answers that depend on it wait for it (write before you acknowledge).
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        self._rearm()

    def _control(self, events: list[CallEvent]) -> None:
        """Call-control events to whatever drives calls (none yet: CallManager logs them)."""
        handler = self.control_handler
        if handler is None:
            return
        for event in events:
            try:
                handler(event)
            except Exception:
                log.exception("call-control handler failed on %s", event)

    def _flush(self) -> None:
        self._flush_scheduled = False
        endpoint = self.endpoint
        writes = endpoint.take_writes()
        failed = False
        if writes:
            try:
                self.store.apply(writes)
            except Exception:
                log.exception("could not persist %d registration changes", len(writes))
                failed = True
                self._resync_registrar()
        if self.cdr is not None and self.cdr.pending:
            try:
                self.cdr.flush()
            except Exception:
                # The answers still go out (a peer must not hang), but loudly: the queued
                # records stay queued and are retried on the next flush.
                log.exception("could not commit %d CDR writes", self.cdr.pending)
        endpoint.release_held(self.loop.time(), failed=failed)
        self._send(endpoint.drain())
        self._rearm()

    def on_media_event(self, event: MediaEvent) -> None:
        """The relay reports a dead call (no RTP either way: end it, logged with the
        cause) or a digit a phone pressed (to call control)."""
        calls = self.endpoint.calls
        if calls is None:
            return
        try:
            if isinstance(event, MediaTimeout):
                calls.end_call(event.session_id, self.loop.time(), time.time(),
                               f"no media for {event.idle_s:.0f} s")
            elif isinstance(event, DigitReceived):
                calls.on_digit(event.session_id, event.leg, event.digit, event.at,
                               event.duration_ms, event.source)
            elif isinstance(event, PlaybackFinished):
                calls.on_prompt_finished(event.session_id, event.play_id, event.interrupted)
        except Exception:
            log.exception("internal error handling %s", event)
        self._after_core()

    def hangup_all(self) -> None:
        """On shutdown: BYE every call and record it, then flush what that sent."""
        calls = self.endpoint.calls
        if calls is None:
            return
        try:
            calls.hangup_all(self.loop.time(), time.time())
        except Exception:
            log.exception("could not end all calls cleanly")
        self._send(self.endpoint.drain())
        self._flush()

    def _resync_registrar(self) -> None:
        """Memory must not claim bindings the disk does not have: reload from the store."""
        try:
            self.endpoint.registrar.reload(self.store.load_bindings(), time.time())
        except Exception:
            log.exception("could not reload registrations after a failed write")

    def _send(self, outgoing: list) -> None:  # type: ignore[type-arg]
        for item in outgoing:
            flow = item.flow
            if flow.transport == "udp":
                udp = self.udp.get(flow.local) or next(iter(self.udp.values()), None)
                if udp is not None:
                    udp.send(item.data, flow.remote)
            else:
                for server in self.tcp:
                    if server.local == flow.local or len(self.tcp) == 1:
                        server.send(item.data, flow)
                        break

    # -- timers -------------------------------------------------------------------------
    def _rearm(self) -> None:
        self._timer.rearm()

    def _on_timer(self) -> None:
        try:
            self.endpoint.handle_timer(self.loop.time(), time.time())
        except Exception:
            log.exception("internal error in timer handling")
        self._after_core()

    def _housekeep(self) -> None:
        now, wall = self.loop.time(), time.time()
        try:
            for server in self.tcp:
                server.sweep_idle(now)
            self.endpoint.guard.prune(now)
            if self.cdr is not None and self.endpoint.calls is not None \
                    and self.endpoint.calls.calls:
                self.cdr.heartbeat(wall)  # so a kill -9 leaves a recent "last alive"
            expired = self.endpoint.registrar.expire(wall)
            if expired:
                self.store.apply(expired)
                log.info("%d registrations expired", len(expired))
        except Exception:
            log.exception("housekeeping failed")
        self._housekeeping = self.loop.call_later(self._interval, self._housekeep)

    def close(self) -> None:
        if self._flush_scheduled:
            self._flush()
        self._timer.cancel()
        for handle in (self._housekeeping, self._probe):
            if handle is not None:
                handle.cancel()
        for udp in self.udp.values():
            if udp.transport is not None:
                udp.transport.close()
        for server in self.tcp:
            server.close()
