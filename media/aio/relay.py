"""The embedded media backend: the sans-I/O relay core behind asyncio UDP sockets.

`RelayBackend` implements `media.backend.MediaBackend` in this process. Each session
binds four sockets (RTP and RTCP for legs A and B) and gives each one its own
`DatagramProtocol` holding a direct reference to its `Leg` in the core and to the
transport of the peer leg's RTP socket, so a datagram costs one call into the core and
one `sendto` — no lookup by port or address. One `call_at` handle, re-armed from
`RelayCore.get_timer()`, serves the inactivity timeouts of every session.

With the C data plane (`media.fastpath`, the default on IPv4 when it loads) the
sockets are not asyncio transports: they go into the data plane's epoll set
(`media.aio.dataplane`), which relays the packets of streams the core has armed in C
and hands every other datagram to the same `RtpPort`/`RtcpPort` objects. The core does
not know the difference: its legs are `FastLeg`s that mirror the fast-path state into
the struct the C side reads. Measured (bench/rtp_relay.py): the Python path costs about
11 µs of CPU per relayed packet on the reference machine, the data plane about 7, of
which the kernel's UDP send and receive are most.

Sockets are bound synchronously in `allocate()` (so the ports can go into SDP at once).
In the data plane they are watched at once; as asyncio transports, attaching them
finishes a moment later in a small task, and datagrams that arrive meanwhile wait in
the kernel's socket buffer. A port pair that cannot be bound (held by another process)
is handed back to the allocator and the next one is tried. Works under uvloop and the
standard asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from media.aio.dataplane import DataPlane
from media.aio.recorder import Recorder
from media.backend import Address, LegAddress, LegMedia, LegName, MediaEvent, SessionStats
from media.codecs import registry
from media.errors import MediaError, PortsExhausted
from media.fastpath import load
from media.fastpath.leg import FastLeg, FpLeg
from media.playback.library import PromptLibrary
from media.playback.moh import MusicOnHold
from media.playback.player import PlaybackSource
from media.playback.tts import EspeakTts
from media.ports import PortAllocator
from media.recording.index import RecordingIndex
from media.recording.policy import RecordingConfig
from media.relay import Leg, RelayConfig, RelayCore, RelaySession
from switch.aio.coretimer import CoreTimer
from switch.control import Prompt

log = logging.getLogger("media.relay")

# A few seconds of one stream (50 packets/s of ~1 kB of kernel bookkeeping each): enough
# for a GC pause or a burst of signalling work, small enough that 4 sockets per call do
# not pin much kernel memory when everything backs up.
SOCKET_BUFFER_BYTES = 1 << 18
SO_RCVBUFFORCE, SO_SNDBUFFORCE = 33, 32  # Linux: root may exceed net.core.[rw]mem_max
MAX_BIND_ATTEMPTS = 64


def size_buffers(sock: socket.socket, size: int) -> None:
    for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
        except OSError:
            try:
                sock.setsockopt(socket.SOL_SOCKET, plain, size)
            except OSError:
                log.debug("could not size the buffers of an RTP socket")


class RtpPort(asyncio.DatagramProtocol):
    """RTP socket of one leg: every datagram into the core, the result out of the peer's.

    `send` is the peer transport's `sendto` (cheaper per call than the socket's). Until
    the peer's transport exists it is the peer socket's own `sendto`, so nothing that
    arrives while a session is being attached is lost.
    """

    __slots__ = ("leg", "clock", "send", "transport")

    def __init__(self, leg: Leg, clock: Callable[[], float],
                 send: Callable[[Any, Any], int]) -> None:
        self.leg = leg
        self.clock = clock
        self.send = send  # the peer leg's RTP socket's sendto
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        leg = self.leg
        try:
            packet = leg.rtp(data, addr, self.clock())
            if packet is not None:
                self.send(packet, leg.forward_to)
                if leg.backlog:  # a transcoded stream released several packets at once
                    self.send_backlog()
        except OSError:  # (socket sendto only) send buffer full, session deleted
            leg.unsent(data, "send_error")
        except Exception:  # a bug in the core must never take the loop down
            log.exception("internal error relaying RTP from %s", addr)

    def send_backlog(self) -> None:
        leg = self.leg
        packets, leg.backlog = leg.backlog, []
        for packet in packets:
            self.send(packet, leg.forward_to)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (a phone that went away), where the OS reports them.
        log.debug("RTP socket of %s leg %s: %s", self.leg.session_id, self.leg.name, exc)


class RtcpPort(asyncio.DatagramProtocol):
    """RTCP socket of one leg: terminated here, read for statistics."""

    __slots__ = ("leg", "clock", "transport")

    def __init__(self, leg: Leg, clock: Callable[[], float]) -> None:
        self.leg = leg
        self.clock = clock
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.leg.rtcp(data, addr, self.clock())
        except Exception:
            log.exception("internal error reading RTCP from %s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTCP socket of %s leg %s: %s", self.leg.session_id, self.leg.name, exc)


def _factory(protocol: RtpPort | RtcpPort) -> Callable[[], RtpPort | RtcpPort]:
    return lambda: protocol


class _Bound:
    """The sockets of one session and their protocols."""

    __slots__ = ("session", "ports", "protocols", "closed", "plane", "watched")

    def __init__(self, session: RelaySession, ports: tuple[int, int],
                 plane: DataPlane | None = None) -> None:
        self.session = session
        self.ports = ports  # RTP ports of legs A and B
        self.protocols: list[RtpPort | RtcpPort] = []
        self.closed = False
        self.plane = plane
        self.watched: list[tuple[socket.socket, FpLeg]] = []  # sockets in the data plane

    def close(self) -> None:
        self.closed = True
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        for sock, leg in self.watched:
            if self.plane is not None:
                self.plane.remove(leg)
            sock.close()
        self.watched.clear()


class RelayBackend:
    """`MediaBackend` served by this process (see `media.backend` for the contract).

    host: the address to bind (normally the SIP listen host; "0.0.0.0" for all).
    advertise: the address phones must send to, for SDP (default: host).
    """

    def __init__(
        self,
        host: str,
        *,
        advertise: str | None = None,
        ports: PortAllocator | None = None,
        config: RelayConfig | None = None,
        buffer_bytes: int = SOCKET_BUFFER_BYTES,
        recording: tuple[RecordingConfig, Path, RecordingIndex] | None = None,
        prompts_dir: Path | None = None,
        data_plane: bool = True,
    ) -> None:
        """recording: (config, data directory, index) to record calls; None: never.
        prompts_dir: cache of generated audio (the default hold music); None: no music.
        data_plane: relay armed streams in C (`media.fastpath`) when it can be loaded
        and the host is IPv4; False: every datagram through asyncio and Python."""
        self.loop = asyncio.get_running_loop()
        self.host = host
        self.advertise = advertise or host
        if self.advertise in ("0.0.0.0", "::"):  # would mean "hold" in SDP
            raise MediaError(f"bound to {host}: pass the address phones reach as advertise=")
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ports = ports or PortAllocator()
        config = config or RelayConfig()
        lib = load() if data_plane and self.family == socket.AF_INET else None
        self.plane = None if lib is None else DataPlane(
            lib, self.loop, self.loop.time, config.max_packet_bytes)
        self.core = RelayCore(config, leg_type=Leg if self.plane is None else FastLeg)
        self.core.on_timer_change = self._rearm
        self.core.on_event = self._events_soon
        self._delivering = False
        self.transcodable = registry.transcodable()
        self.recorder = None if recording is None else Recorder(self.core, *recording)
        self.prompts_dir = prompts_dir
        self._music: PlaybackSource | None = None
        self._library: PromptLibrary | None = None
        self.buffer_bytes = buffer_bytes
        self._bound: dict[str, _Bound] = {}
        self._handler: Callable[[MediaEvent], None] | None = None
        self._timer = CoreTimer(self.loop, self.core.get_timer, self._on_timer)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- MediaBackend ---------------------------------------------------------------------
    def allocate(self, session_id: str) -> tuple[LegAddress, LegAddress]:
        if session_id in self.core:
            raise MediaError(f"media session {session_id!r} exists already")
        a_port, a_socks = self._bind_pair()
        try:
            b_port, b_socks = self._bind_pair()
        except MediaError:
            for sock in a_socks:
                sock.close()
            self.ports.release(a_port)
            raise
        session = self.core.create(
            session_id, self.loop.time(), a_ports=(a_port, a_port + 1),
            b_ports=(b_port, b_port + 1),
        )
        bound = self._bound[session_id] = _Bound(session, (a_port, b_port), self.plane)
        clock = self.loop.time
        session.a.io = RtpPort(session.a, clock, b_socks[0].sendto)
        session.b.io = RtpPort(session.b, clock, a_socks[0].sendto)
        pairs: list[tuple[socket.socket, RtpPort | RtcpPort]] = [
            (a_socks[0], session.a.io),
            (a_socks[1], RtcpPort(session.a, clock)),
            (b_socks[0], session.b.io),
            (b_socks[1], RtcpPort(session.b, clock)),
        ]
        if self.plane is not None:
            try:
                self._watch(bound, pairs)
            except OSError as exc:  # epoll's watch limit, memory
                self.delete(session_id)
                raise MediaError(f"cannot watch the RTP sockets of {session_id}: {exc}") from exc
        else:
            task = self.loop.create_task(self._attach(bound, pairs))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._rearm()
        return (
            LegAddress(host=self.advertise, rtp_port=a_port, rtcp_port=a_port + 1),
            LegAddress(host=self.advertise, rtp_port=b_port, rtcp_port=b_port + 1),
        )

    def update(
        self,
        session_id: str,
        leg: LegName,
        *,
        remote: Address | None,
        pt_map: Mapping[int, int] | None = None,
        hold: bool = False,
        clock_rate: int = 8000,
        media: LegMedia | None = None,
    ) -> None:
        self.core.update(
            session_id, leg, self.loop.time(), remote=remote, pt_map=pt_map, hold=hold,
            clock_rate=clock_rate, media=media,
        )
        self._rearm()

    def send_digit(self, session_id: str, leg: LegName, digit: str, duration_ms: int) -> None:
        self.core.send_digit(session_id, leg, digit, duration_ms, self.loop.time())
        self._rearm()

    def play(self, session_id: str, leg: LegName, play_id: str, prompts: Sequence[Prompt], *,
             loop: bool = False, barge_in: bool = True) -> None:
        self.core.get(session_id)  # UnknownSession before any work
        # Loading may render TTS or decode a file the first time (then it is cached):
        # synchronous, like the rest of the seam; prompts are small and few.
        source = PlaybackSource(self._prompts().get_all(prompts), loop=loop)
        if not self.core.play(session_id, leg, source, self.loop.time(), play_id=play_id,
                              barge_in=barge_in):
            raise MediaError(f"leg {leg} of {session_id} has no known codec to play in")
        self._rearm()

    def stop_playback(self, session_id: str, leg: LegName) -> None:
        self.core.stop_playing(session_id, leg)
        self._rearm()

    def _prompts(self) -> PromptLibrary:
        if self._library is None:
            tts = None if self.prompts_dir is None else EspeakTts(self.prompts_dir / "tts")
            self._library = PromptLibrary(tts, base_dir=self.prompts_dir)
        return self._library

    def hold_music(self, session_id: str, leg: LegName, on: bool) -> None:
        if on == self.core.playing_music(session_id, leg):
            return
        if not on:
            self.core.stop_playing(session_id, leg)
            log.info("call %s: music on hold to leg %s stopped", session_id, leg)
            return
        music = self._hold_music()
        if music is not None and self.core.play(session_id, leg, music, self.loop.time()):
            log.info("call %s: music on hold to leg %s", session_id, leg)
            self._rearm()

    def _hold_music(self) -> PlaybackSource | None:
        """The hold music, made once (a generated chord loop; no copyrighted tune)."""
        if self._music is None and self.prompts_dir is not None:
            try:
                self._music = MusicOnHold(self._prompts(), cache_dir=self.prompts_dir).source
            except (OSError, MediaError):
                log.exception("no music on hold")
                self.prompts_dir = None
        return self._music

    def start_recording(self, session_id: str, *, caller: str, callee: str,
                        queue: str | None = None) -> str | None:
        if self.recorder is None:
            return None
        self.core.get(session_id)  # UnknownSession
        return self.recorder.start(session_id, caller=caller, callee=callee, queue=queue).id

    def stop_recording(self, session_id: str) -> None:
        if self.recorder is not None:
            self.recorder.stop(session_id)

    def delete(self, session_id: str) -> SessionStats | None:
        if self.recorder is not None:
            self.recorder.stop(session_id)
        stats = self.core.delete(session_id)
        bound = self._bound.pop(session_id, None)
        if bound is not None:
            bound.close()
            for port in bound.ports:
                self.ports.release(port)
        return stats

    def stats(self, session_id: str) -> SessionStats | None:
        return self.core.stats(session_id)

    def set_event_handler(self, handler: Callable[[MediaEvent], None] | None) -> None:
        self._handler = handler

    def close(self) -> None:
        for session_id in list(self._bound):
            self.delete(session_id)
        if self.recorder is not None:
            self.recorder.close()
        self._timer.cancel()
        if self.plane is not None:
            self.plane.close()

    async def wait_attached(self) -> None:
        """Until every allocated socket is attached to the loop (tests, benchmarks)."""
        for _ in range(1000):  # bounded: each round finishes the tasks that exist
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks))

    # -- sockets --------------------------------------------------------------------------
    def _bind_pair(self) -> tuple[int, list[socket.socket]]:
        attempts = min(MAX_BIND_ATTEMPTS, self.ports.capacity)
        for _ in range(attempts):
            port = self.ports.allocate()  # PortsExhausted when none is free
            socks: list[socket.socket] = []
            try:
                for number in (port, port + 1):
                    socks.append(self._socket(number))
            except OSError as exc:
                for sock in socks:
                    sock.close()
                self.ports.release(port)  # to the back of the queue: tried again last
                log.debug("skipping RTP ports %d/%d: %s", port, port + 1, exc)
                continue
            return port, socks
        raise PortsExhausted(f"no bindable RTP port pair on {self.host} in {attempts} tries")

    def _socket(self, port: int) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        size_buffers(sock, self.buffer_bytes)
        return sock

    def _watch(self, bound: _Bound,
               pairs: list[tuple[socket.socket, RtpPort | RtcpPort]]) -> None:
        """Hand the bound sockets to the data plane: RTP with the leg's struct (relayed
        in C once armed), RTCP with an empty one (always punted)."""
        assert self.plane is not None
        session = bound.session
        a, b = session.a, session.b
        assert isinstance(a, FastLeg) and isinstance(b, FastLeg)
        a.c.out_fd = pairs[2][0].fileno()  # A's packets leave through B's RTP socket
        b.c.out_fd = pairs[0][0].fileno()
        structs = (a.c, FpLeg(), b.c, FpLeg())
        for (sock, _), struct in zip(pairs, structs, strict=True):
            bound.watched.append((sock, struct))  # closed with the session from now on
        for (sock, protocol), struct in zip(pairs, structs, strict=True):
            self.plane.add(sock, struct, protocol)

    async def _attach(
        self, bound: _Bound, pairs: list[tuple[socket.socket, RtpPort | RtcpPort]],
    ) -> None:
        """Hand the bound sockets to the loop (it closes them with the transports)."""
        for index, (sock, protocol) in enumerate(pairs):
            if bound.closed:  # deleted meanwhile
                for rest, _ in pairs[index:]:
                    rest.close()
                return
            try:
                await self.loop.create_datagram_endpoint(_factory(protocol), sock=sock)
            except Exception:
                log.exception("could not attach an RTP socket of %s", bound.session.session_id)
                sock.close()
                continue
            bound.protocols.append(protocol)
            if bound.closed and protocol.transport is not None:
                protocol.transport.close()
        a_rtp, _, b_rtp, _ = (protocol for _, protocol in pairs)
        if not bound.closed and a_rtp.transport is not None and b_rtp.transport is not None:
            assert isinstance(a_rtp, RtpPort) and isinstance(b_rtp, RtpPort)
            a_rtp.send = b_rtp.transport.sendto
            b_rtp.send = a_rtp.transport.sendto

    # -- the inactivity timer -------------------------------------------------------------
    def _rearm(self) -> None:
        self._timer.rearm()

    def _events_soon(self) -> None:
        """A packet produced an event: hand it over after this callback, not inside it."""
        if not self._delivering:
            self._delivering = True
            self.loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._delivering = False
        handler = self._handler
        for event in self.core.drain():
            if handler is None:
                log.info("media event with no handler: %s", event)
                continue
            try:
                handler(event)
            except Exception:
                log.exception("media event handler failed on %s", event)

    def _on_timer(self) -> None:
        try:
            self.core.handle_timer(self.loop.time())
        except Exception:
            log.exception("internal error in the media timer")
        for leg, packet in self.core.drain_sends():
            port = leg.io
            if port is None or leg.forward_to is None:
                continue
            try:
                port.send(packet, leg.forward_to)
            except OSError:
                leg.unsent(packet, "send_error")
        self._deliver()
        self._rearm()
