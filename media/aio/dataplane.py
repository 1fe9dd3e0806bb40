"""The C data plane behind the event loop: one epoll fd watched, punts to the core.

`DataPlane` owns the epoll set of `rtpfast.c`. The loop watches its fd; when any
relayed socket is readable, one call into C reads every ready socket, relays what the
core has armed and returns the rest ("punts"), which go to the socket's protocol object
(`RtpPort` / `RtcpPort`) exactly as datagrams from an asyncio transport would.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any, Protocol

from media.fastpath.leg import FpLeg

log = logging.getLogger("media.relay")

MAX_PUNTS = 256  # datagrams handed to Python per wake-up; the rest wait for the next one
# Interrupt mitigation, as Linux NAPI does for network cards: while one wake-up finds at
# least BUSY datagrams, the loop stops watching the sockets and polls them every
# INTERVAL seconds instead, which saves the wake-up, the scheduler and the epoll
# bookkeeping per datagram at the price of at most INTERVAL of added latency. A poll
# that finds fewer than IDLE goes back to waking on readiness.
BUSY = 48
IDLE = 12
INTERVAL = 0.001


class DatagramSink(Protocol):
    def datagram_received(self, data: bytes, addr: Any) -> None: ...


class DataPlane:
    def __init__(self, lib: Any, loop: asyncio.AbstractEventLoop, clock: Callable[[], float],
                 max_packet_bytes: int) -> None:
        self.lib = lib
        self.loop = loop
        self.clock = clock
        self.epfd = lib.fp_create()
        if self.epfd < 0:
            raise OSError(-self.epfd, "epoll_create1 failed")
        # One byte over the limit: a longer datagram arrives truncated but still too
        # long, and the core drops it as oversize.
        self.stride = max_packet_bytes + 1
        self.buffer = (ctypes.c_uint8 * (self.stride * MAX_PUNTS))()
        self.view = memoryview(self.buffer).cast("B")
        self.meta = (ctypes.c_int32 * (4 * MAX_PUNTS))()
        self.sinks: dict[int, tuple[DatagramSink, FpLeg]] = {}
        self.hosts: dict[int, str] = {}  # source address as the struct holds it -> text
        self._next_ident = 0
        self._read = ctypes.c_uint32(0)
        self._read_ref = ctypes.byref(self._read)
        self.polling: asyncio.TimerHandle | None = None  # set while in interval mode
        self._due = 0.0  # when the current interval poll was due
        self.wakeups = self.polls = 0
        loop.add_reader(self.epfd, self._on_readable)

    def add(self, sock: socket.socket, leg: FpLeg, sink: DatagramSink) -> None:
        """Watch `sock`; `leg` is its struct (fast-path state, or all-zero: punt all)."""
        self._next_ident += 1
        leg.fd = sock.fileno()
        leg.ident = self._next_ident
        result = self.lib.fp_add(self.epfd, ctypes.byref(leg))
        if result < 0:
            raise OSError(-result, os.strerror(-result))
        self.sinks[leg.ident] = (sink, leg)  # keeps the struct alive while C points at it

    def remove(self, leg: FpLeg) -> None:
        """Stop watching the socket of `leg` (before it is closed)."""
        if self.sinks.pop(leg.ident, None) is not None:
            self.lib.fp_remove(self.epfd, leg.fd)

    def close(self) -> None:
        if self.epfd >= 0:
            if self.polling is not None:
                self.polling.cancel()
                self.polling = None
            else:
                self.loop.remove_reader(self.epfd)
            self.lib.fp_close(self.epfd)
            self.epfd = -1
            self.sinks.clear()

    def _on_readable(self) -> None:
        self.wakeups += 1
        if self._poll() >= BUSY:  # busy: poll on an interval from now on
            self.loop.remove_reader(self.epfd)
            self._due = self.loop.time() + INTERVAL
            self.polling = self.loop.call_at(self._due, self._on_interval)

    def _on_interval(self) -> None:
        if self._poll() < IDLE:  # quiet again: wake on readiness
            self.polling = None
            self.loop.add_reader(self.epfd, self._on_readable)
            return
        # At a fixed rate from the first poll: the interval bounds the added latency
        # whatever a poll costs. Behind schedule (a long poll, a busy loop), poll again
        # at once rather than bunching up the missed polls.
        self._due = max(self._due + INTERVAL, self.loop.time())
        self.polling = self.loop.call_at(self._due, self._on_interval)

    def _poll(self) -> int:
        """Serve the ready sockets once; the number of datagrams read."""
        self.polls += 1
        try:
            count = self.lib.fp_poll(self.epfd, self.clock(), self.buffer, self.stride,
                                     self.meta, MAX_PUNTS, self._read_ref)
        except Exception:
            log.exception("RTP data plane failed")
            return 0
        self._punt(count)
        return self._read.value

    def _punt(self, count: int) -> None:
        if count <= 0:
            if count < 0:
                log.error("RTP data plane: %s", os.strerror(-count))
            return
        meta = self.meta[: 4 * count]
        view, stride, sinks = self.view, self.stride, self.sinks
        for index in range(count):
            ident, host, port, length = meta[4 * index: 4 * index + 4]
            entry = sinks.get(ident)
            if entry is None:  # its session ended earlier in this batch
                continue
            start = index * stride
            data = bytes(view[start:start + min(length, stride)])
            if length > stride:  # truncated: too long to relay, but counted at its size
                data = data.ljust(length, b"\0")
            entry[0].datagram_received(data, (self._host(host), port))

    def _host(self, key: int) -> str:
        host = self.hosts.get(key)
        if host is None:
            if len(self.hosts) > 65536:
                self.hosts.clear()
            host = self.hosts[key] = socket.inet_ntoa(
                (key & 0xFFFFFFFF).to_bytes(4, sys.byteorder))
        return host
