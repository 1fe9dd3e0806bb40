"""The C data plane relays exactly what the Python path relays.

The same packets — valid RTP with several SSRCs and payload types, telephone-events, a
second source, RTCP on the RTP port, and hostile datagrams — go from phone A's sockets
through a relay with the data plane and through one without it; phone B must receive
the same datagrams (timestamps aside: a new stream's timestamp gap follows the wall
clock) and both relays must report the same statistics and digits. Real UDP sockets on
127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.aio import RelayBackend
from media.aio.dataplane import BUSY
from media.backend import DigitReceived, LegMedia, MediaEvent, SessionStats
from media.fastpath import load
from media.fastpath.leg import FastLeg, ipv4_key
from media.relay import RelayConfig
from tests.support.ports import free_range

HOST = "127.0.0.1"
WAIT = 5.0
SSRCS = (0x11111111, 0x22222222, 0x33333333)

pytestmark = pytest.mark.skipif(load() is None, reason="no C compiler: Python path only")


def rtp(seq: int, ts: int, ssrc: int, pt: int, marker: bool, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload


def event(seq: int, ts: int, ssrc: int, digit: int, end: bool, duration: int) -> bytes:
    body = struct.pack("!BBH", digit, (0x80 if end else 0) | 10, duration)
    return struct.pack("!BBHII", 0x80, 101, seq, ts, ssrc) + body


valid = st.builds(
    rtp, seq=st.integers(0, 0xFFFF), ts=st.integers(0, 0xFFFFFFFF), ssrc=st.sampled_from(SSRCS),
    pt=st.sampled_from((0, 8, 18, 13)), marker=st.booleans(),
    payload=st.binary(min_size=0, max_size=200),
)
events = st.builds(
    event, seq=st.integers(0, 0xFFFF), ts=st.integers(0, 0xFFFFFFFF), ssrc=st.sampled_from(SSRCS),
    digit=st.integers(0, 11), end=st.booleans(), duration=st.integers(0, 2000),
)
hostile = st.one_of(
    st.binary(max_size=40),
    st.binary(min_size=12, max_size=60).map(lambda b: bytes([0x40]) + b[1:]),  # version 1
    st.binary(min_size=12, max_size=60).map(lambda b: bytes([0x80, 200]) + b[2:]),  # RTCP
    st.binary(min_size=12, max_size=60).map(lambda b: bytes([0x90]) + b[1:]),  # extension
    st.just(bytes([0x80, 0]) + bytes(3000)),  # oversize
)


def stream(draw: Any) -> list[tuple[int, bytes]]:
    """A plausible run: mostly in-order packets of a few streams from the phone, with
    digits, hostile datagrams and a second source mixed in."""
    packets: list[tuple[int, bytes]] = []
    ssrc, seq, ts = draw(st.sampled_from(SSRCS)), draw(st.integers(0, 0xFFFF)), 0
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(("next", "next", "next", "jump", "event", "other",
                                     "hostile", "random")))
        source = 0
        if kind == "jump":  # a new stream (SSRC or big sequence jump)
            ssrc = draw(st.sampled_from(SSRCS))
            seq = draw(st.integers(0, 0xFFFF))
        if kind in ("next", "jump"):
            seq = (seq + 1) & 0xFFFF
            ts = (ts + 160) & 0xFFFFFFFF
            data = rtp(seq, ts, ssrc, draw(st.sampled_from((0, 8))), False,
                       draw(st.binary(min_size=0, max_size=160)))
        elif kind == "event":
            seq = (seq + 1) & 0xFFFF
            data = draw(events.map(lambda b, s=seq, x=ssrc: b[:2] + struct.pack("!H", s)
                                   + b[4:8] + struct.pack("!I", x) + b[12:]))
        elif kind == "other":
            source, data = 1, draw(valid)
        elif kind == "hostile":
            data = draw(hostile)
        else:
            data = draw(valid)
        packets.append((source, data))
    return packets


scripts = st.composite(stream)()


class Phone(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: Any = None
        self.addr: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.addr = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


async def phone() -> Phone:
    _, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Phone, local_addr=(HOST, 0))
    return protocol


def processed(stats: SessionStats) -> int:
    """Datagrams leg A's socket has been through, whatever became of them."""
    leg = stats.a
    rtcp_drops = sum(v for k, v in leg.drops.items() if k.startswith("rtcp"))
    return leg.packets_in + leg.rtcp_packets + rtcp_drops


async def until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.001)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("timed out")


async def relay(script: list[tuple[int, bytes]], data_plane: bool,
                ) -> tuple[list[bytes], SessionStats, list[MediaEvent]]:
    with free_range() as ports:
        backend = RelayBackend(HOST, ports=ports, data_plane=data_plane,
                               config=RelayConfig(max_packet_bytes=2048))
        assert (backend.plane is not None) == data_plane
        events: list[MediaEvent] = []
        backend.set_event_handler(events.append)
        # Plain sockets send: asyncio transports do not send empty datagrams.
        sources = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        for sock in sources:
            sock.bind((HOST, 0))
        b_phone = await phone()
        try:
            a, _ = backend.allocate("s")
            backend.update("s", "a", remote=sources[0].getsockname(), media=LegMedia(
                codec="PCMU", payload_type=0, telephone_event=101))
            backend.update("s", "b", remote=b_phone.addr, pt_map={101: 96, 13: 19},
                           media=LegMedia(codec="PCMU", payload_type=0, telephone_event=96))
            await backend.wait_attached()
            # One datagram at a time, each handled before the next is sent: the core arms
            # the fast path between two packets, so the data plane relays the next ones
            # (a burst read in one go would all be punted, as the leg was not yet armed).
            for sent, (source, data) in enumerate(script, 1):
                sources[source].sendto(data, (HOST, a.rtp_port))
                await until(lambda n=sent: processed(backend.stats("s")) >= n)  # type: ignore[arg-type]
            await until(lambda: len(b_phone.received) >= backend.stats("s").b.packets_out)  # type: ignore[union-attr]
            await asyncio.sleep(0.02)  # the media event delivery (call_soon)
            stats = backend.stats("s")
            assert stats is not None
            return b_phone.received, stats, events
        finally:
            backend.close()
            for sock in sources:
                sock.close()
            b_phone.transport.close()


def same_phones(stats: SessionStats) -> SessionStats:
    """The statistics with the phones' addresses (different sockets per run) left out."""
    return dataclasses.replace(stats, a=dataclasses.replace(stats.a, remote=None),
                               b=dataclasses.replace(stats.b, remote=None))


def without_timestamp(packet: bytes) -> bytes:
    return packet[:4] + packet[8:]


def compare(script: list[tuple[int, bytes]]) -> list[bytes]:
    async def both() -> list[bytes]:
        fast, fast_stats, fast_events = await relay(script, True)
        slow, slow_stats, slow_events = await relay(script, False)
        assert [without_timestamp(p) for p in fast] == [without_timestamp(p) for p in slow]
        assert same_phones(fast_stats) == same_phones(slow_stats)
        digits = [(e.digit, e.source) for e in fast_events if isinstance(e, DigitReceived)]
        assert digits == [(e.digit, e.source) for e in slow_events
                          if isinstance(e, DigitReceived)]
        return fast

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(asyncio.wait_for(both(), 60))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts)
def test_the_data_plane_relays_what_the_python_path_relays(
        script: list[tuple[int, bytes]]) -> None:
    compare(script)


def test_streams_numbered_on_across_a_restart_payload_types_mapped() -> None:
    """The rewriting cases made explicit: byte for byte at first, offsets after an SSRC
    change (sequence continuous, timestamps moving with the input), PT 13 -> 19."""
    script = [(0, rtp(100 + i, 1000 + 160 * i, SSRCS[0], 0, i == 0, bytes(160)))
              for i in range(5)]
    script += [(0, rtp(7000 + i, 90000 + 160 * i, SSRCS[1], 13 if i == 2 else 0, False,
                       bytes(160))) for i in range(5)]
    script += [(1, rtp(1, 1, SSRCS[2], 0, False, bytes(160)))]  # another source: dropped
    out = compare(script)
    assert len(out) == 10
    headers = [struct.unpack_from("!BBHII", p) for p in out]
    assert out[:5] == [data for _, data in script[:5]]
    assert [h[2] for h in headers] == list(range(100, 110))
    assert {h[4] for h in headers} == {SSRCS[0]}
    assert [h[3] - headers[5][3] for h in headers[5:]] == [160 * i for i in range(5)]
    assert headers[7][1] == 19


def test_the_leg_mirror_keeps_ipv6_and_disarmed_legs_in_python() -> None:
    leg = FastLeg("a", "s", (10000, 10001), RelayConfig(), 0.0)
    assert leg.c.armed == 0 and leg.c.max_bytes == RelayConfig().max_packet_bytes
    leg.fast_ssrc = b"\x01\x02\x03\x04"
    assert leg.c.armed == 1 and leg.fast_ssrc == b"\x01\x02\x03\x04"
    leg.fast_ssrc = None
    assert leg.c.armed == 0
    leg.latched = ("::1", 5000, 0, 0)
    assert leg.c.latched_ok == 0 and ipv4_key(leg.latched) is None
    leg.latched = ("127.0.0.1", 5000)
    assert leg.c.latched_ok == 1 and leg.c.latched_port == socket.htons(5000)
    leg.last_out = rtp(5, 6, 7, 0, False, b"xyz")
    assert leg.last_out == rtp(5, 6, 7, 0, False, b"xyz")
    leg.c.last_hdr[:] = rtp(8, 9, 7, 0, False, b"")  # as if C then relayed one
    leg.c.has_last = 1
    assert leg.last_out == rtp(8, 9, 7, 0, False, b"")
    leg.last_out = None  # the core writes again: its value wins
    assert leg.last_out is None and leg.c.has_last == 0
    leg.last_seen = 5.0
    leg.c.last_seen = 7.0
    assert leg.last_seen == 7.0
    leg.packets += 3
    leg.c.packets, leg.c.octets = 2, 100
    assert leg.relayed() == (5, leg.octets + 100) and leg.stats().packets_in == 5


def test_a_busy_plane_polls_on_an_interval_then_waits_again() -> None:
    """A burst of at least BUSY datagrams switches the plane to interval polling; every
    packet still arrives, in order; once quiet, it waits for readiness again."""

    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, ports=ports)
            plane = backend.plane
            assert plane is not None
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sender.bind((HOST, 0))
            b_phone = await phone()
            try:
                a, _ = backend.allocate("s")
                backend.update("s", "a", remote=sender.getsockname())
                backend.update("s", "b", remote=b_phone.addr)
                sender.sendto(rtp(0, 0, SSRCS[0], 0, False, bytes(160)), (HOST, a.rtp_port))
                await until(lambda: len(b_phone.received) == 1)
                burst = 2 * BUSY
                for seq in range(1, burst + 1):
                    sender.sendto(rtp(seq, 160 * seq, SSRCS[0], 0, False, bytes(160)),
                                  (HOST, a.rtp_port))
                await until(lambda: len(b_phone.received) == burst + 1)
                assert [struct.unpack_from("!H", p, 2)[0] for p in b_phone.received] == list(
                    range(burst + 1))
                assert plane.polls > plane.wakeups  # it polled on the interval
                await until(lambda: plane.polling is None)  # and went back to waiting
                sender.sendto(rtp(burst + 1, 0, SSRCS[0], 0, False, bytes(160)),
                              (HOST, a.rtp_port))
                await until(lambda: len(b_phone.received) == burst + 2)
            finally:
                backend.close()
                sender.close()
                b_phone.transport.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(main(), 60))
