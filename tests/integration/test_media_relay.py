"""The asyncio relay in-process on 127.0.0.1, under uvloop and plain asyncio.

Two UDP sockets play phone A and phone B. Every test runs with the C data plane and
with the Python path alone. Every wait is bounded (generous limits, so
a slow machine makes a test slower, never flaky); nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvloop

from media.aio import RelayBackend
from media.backend import LegAddress, MediaBackend, MediaEvent, MediaTimeout
from media.errors import PortsExhausted
from media.ports import PortAllocator
from media.relay import RelayConfig
from tests.support.ports import free_range

HOST = "127.0.0.1"
WAIT = 5.0  # seconds: the bound on every wait
PAYLOAD = bytes(160)


@pytest.fixture(params=[True, False], ids=["c-data-plane", "python-only"])
def data_plane(request: pytest.FixtureRequest) -> bool:
    """Relay with the C data plane (when it loads here) and on the Python path alone."""
    return bool(request.param)


def rtp(seq: int, ts: int, ssrc: int, pt: int = 0, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + PAYLOAD


def fields(packet: bytes) -> tuple[bool, int, int, int, int]:
    _, second, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
    return bool(second & 0x80), second & 0x7F, seq, ts, ssrc


def run(loop_kind: str, main: Callable[[], Awaitable[None]]) -> None:
    factory = uvloop.new_event_loop if loop_kind == "uvloop" else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(asyncio.wait_for(main(), 60))


class Phone(asyncio.DatagramProtocol):
    """A UDP socket that records what it receives, and from where."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: Any = None
        self.addr: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.addr = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, (addr[0], addr[1])))

    def send(self, data: bytes, leg: LegAddress) -> None:
        self.transport.sendto(data, (leg.host, leg.rtp_port))

    async def receive(self) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.queue.get(), WAIT)

    async def nothing_more(self) -> bool:
        """True if nothing is queued after the relay had time to forward (bounded)."""
        await asyncio.sleep(0.05)
        return self.queue.empty()

    def close(self) -> None:
        self.transport.close()


async def phone() -> Phone:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Phone, local_addr=(HOST, 0))
    return protocol


def test_media_flows_both_ways_with_headers_rewritten(loop_kind: str, data_plane: bool) -> None:
    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, data_plane=data_plane, ports=ports)
            a_phone, b_phone = await phone(), await phone()
            try:
                a, b = backend.allocate("call-1")
                assert a.host == b.host == HOST and a.rtp_port % 2 == 0
                assert (a.rtcp_port, b.rtcp_port) == (a.rtp_port + 1, b.rtp_port + 1)
                backend.update("call-1", "a", remote=a_phone.addr)
                backend.update("call-1", "b", remote=b_phone.addr, pt_map={101: 96})
                for i in range(5):
                    a_phone.send(rtp(100 + i, 160 * i, 0xAAAA), a)
                    data, source = await b_phone.receive()
                    assert source == (HOST, b.rtp_port)  # from the switch's B-leg port
                    assert fields(data) == (False, 0, 100 + i, 160 * i, 0xAAAA)
                    assert data[12:] == PAYLOAD
                for i in range(5):
                    b_phone.send(rtp(7 + i, 0, 0xBBBB), b)
                    data, source = await a_phone.receive()
                    assert source == (HOST, a.rtp_port)
                    assert fields(data)[2:] == (7 + i, 0, 0xBBBB)
                # telephone-event: A numbers it 101, B 96; the marker is kept
                a_phone.send(rtp(105, 800, 0xAAAA, pt=101, marker=True), a)
                data, _ = await b_phone.receive()
                assert fields(data) == (True, 96, 105, 800, 0xAAAA)
                # a new input stream from A continues B's sequence and SSRC
                a_phone.send(rtp(9000, 123456, 0x5555), a)
                data, _ = await b_phone.receive()
                marker, pt, seq, _ts, ssrc = fields(data)
                assert (marker, pt, seq, ssrc) == (False, 0, 106, 0xAAAA)
                # RTCP is terminated, and read
                a_phone.transport.sendto(
                    struct.pack("!BBHI", 0x80, 201, 1, 0xAAAA), (HOST, a.rtcp_port))
                a_phone.send(b"\x00junk", a)
                assert await b_phone.nothing_more()
                for _ in range(100):  # bounded: the RTCP datagram may still be in flight
                    current = backend.stats("call-1")
                    assert current is not None
                    if current.a.rtcp_packets:
                        break
                    await asyncio.sleep(0.01)
                stats = backend.delete("call-1")
                assert stats is not None
                assert stats.a.packets_out == 5 and stats.b.packets_out == 7
                assert stats.a.packets_in == 8 and stats.a.drops == {"short": 1}
                assert stats.a.remote == a_phone.addr and stats.a.rtcp_packets == 1
                assert backend.delete("call-1") is None
            finally:
                backend.close()
                a_phone.close()
                b_phone.close()

    run(loop_kind, main)


def test_latching_to_another_source_port_and_reinvite(loop_kind: str, data_plane: bool) -> None:
    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, data_plane=data_plane, ports=ports)
            sdp_a, nat_a, b_phone, moved_a = await phone(), await phone(), await phone(), \
                await phone()
            try:
                a, b = backend.allocate("call-2")
                backend.update("call-2", "a", remote=sdp_a.addr)  # what A's SDP says
                backend.update("call-2", "b", remote=b_phone.addr)
                # before A sends, B's media goes to A's SDP address
                b_phone.send(rtp(1, 0, 0xBBBB), b)
                data, _ = await sdp_a.receive()
                assert fields(data)[2] == 1
                # A really sends from another port (NAT): the relay latches it
                nat_a.send(rtp(50, 8000, 0xAAAA), a)
                data, _ = await b_phone.receive()
                assert fields(data)[2:] == (50, 8000, 0xAAAA)
                b_phone.send(rtp(2, 160, 0xBBBB), b)
                data, source = await nat_a.receive()
                assert fields(data)[2] == 2 and source == (HOST, a.rtp_port)
                assert await sdp_a.nothing_more()
                # a spoofed packet from elsewhere moves nothing
                moved_a.send(rtp(1, 1, 0x6666), a)
                assert await b_phone.nothing_more()
                # re-INVITE: A moves; its first packet from the new place re-latches
                backend.update("call-2", "a", remote=moved_a.addr)
                moved_a.send(rtp(7, 70, 0x7777), a)
                data, _ = await b_phone.receive()
                marker, pt, seq, _ts, ssrc = fields(data)
                assert (seq, ssrc) == (51, 0xAAAA)  # continuous for B
                b_phone.send(rtp(3, 320, 0xBBBB), b)
                data, _ = await moved_a.receive()
                assert fields(data)[2] == 3
                assert await nat_a.nothing_more()
            finally:
                backend.close()
                for p in (sdp_a, nat_a, b_phone, moved_a):
                    p.close()

    run(loop_kind, main)


def test_inactivity_event_fires(loop_kind: str, data_plane: bool) -> None:
    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, data_plane=data_plane, ports=ports,
                                   config=RelayConfig(inactivity_timeout=0.2))
            events: asyncio.Queue[MediaEvent] = asyncio.Queue()
            backend.set_event_handler(events.put_nowait)
            a_phone, b_phone = await phone(), await phone()
            try:
                a, b = backend.allocate("quiet")
                backend.allocate("held")
                backend.update("held", "a", remote=None, hold=True)
                backend.update("quiet", "a", remote=a_phone.addr)
                backend.update("quiet", "b", remote=b_phone.addr)
                a_phone.send(rtp(1, 0, 0xAAAA), a)
                await b_phone.receive()
                event = await asyncio.wait_for(events.get(), WAIT)
                assert isinstance(event, MediaTimeout)
                assert event.session_id == "quiet" and event.idle_s >= 0.2
                await asyncio.sleep(0.5)  # the held session does not time out
                assert events.empty()
                backend.delete("quiet")
                backend.delete("held")
            finally:
                backend.close()
                a_phone.close()
                b_phone.close()

    run(loop_kind, main)


def test_busy_pairs_are_skipped_and_exhaustion_is_reported(loop_kind: str,
                                                           data_plane: bool) -> None:
    async def main() -> None:
        with free_range() as ports:
            small = PortAllocator(ports.low, ports.low + 7)  # 4 pairs: 2 sessions
            blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                blocker.bind((HOST, small.low + 1))  # the first pair's RTCP port
            except OSError:
                blocker.close()
                pytest.skip("port in use by another process")
            backend = RelayBackend(HOST, data_plane=data_plane, ports=small)
            try:
                a, b = backend.allocate("one")
                assert small.low not in (a.rtp_port, b.rtp_port)
                with pytest.raises(PortsExhausted):
                    backend.allocate("two")  # one pair left, and a session needs two
                assert small.in_use == 2
                backend.delete("one")
                blocker.close()
                await asyncio.sleep(0)  # let the transports close their sockets
                for _ in range(100):  # bounded
                    try:
                        backend.allocate("three")
                        break
                    except PortsExhausted:
                        await asyncio.sleep(0.01)
                assert "three" in backend.core
            finally:
                blocker.close()
                backend.close()

    run(loop_kind, main)


def test_delete_right_after_allocate_closes_every_socket(loop_kind: str, data_plane: bool) -> None:
    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, data_plane=data_plane, ports=ports)
            seam: MediaBackend = backend  # the aio relay serves the seam
            try:
                a, b = seam.allocate("brief")
                stats = seam.delete("brief")  # before the sockets are even attached
                assert stats is not None and stats.a.packets_in == 0
                await backend.wait_attached()
                await asyncio.sleep(0.01)  # transports close their sockets on the next turn
                for port in (a.rtp_port, a.rtcp_port, b.rtp_port, b.rtcp_port):
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                        probe.bind((HOST, port))  # free again
                assert ports.in_use == 0
            finally:
                backend.close()

    run(loop_kind, main)


def test_a_prompt_is_paced_to_the_phone_and_a_digit_barges_in(loop_kind: str, data_plane: bool,
                                                              tmp_path: Path) -> None:
    """play(): a tone prompt reaches phone A as A-law frames 20 ms apart (paced from the
    start, not drifting); A presses a key (RFC 4733): the prompt stops at once and
    PlaybackFinished(interrupted) is reported, after the digit's start."""
    import numpy as np

    from media.backend import LegMedia, PlaybackFinished
    from media.codecs import g711
    from media.dtmf.rfc4733 import build_payload
    from switch.control import FilePrompt, SilencePrompt
    from tests.support.audio import write_tone_wav

    prompt = write_tone_wav(tmp_path / "prompt.wav", 800.0, 2.0)
    pcma = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"}, telephone_event=101)

    async def main() -> None:
        with free_range() as ports:
            backend = RelayBackend(HOST, data_plane=data_plane, ports=ports,
                                   prompts_dir=tmp_path / "prompts")
            events: list[object] = []
            backend.set_event_handler(events.append)
            a_phone, b_phone = await phone(), await phone()
            try:
                a, b = backend.allocate("call-1")
                backend.update("call-1", "a", remote=a_phone.addr, media=pcma)
                backend.update("call-1", "b", remote=b_phone.addr, media=pcma)
                backend.play("call-1", "a", "greeting",
                             [SilencePrompt(seconds=0.1), FilePrompt(path=str(prompt))])
                arrivals, frames = [], []
                for _ in range(25):
                    data, source = await a_phone.receive()
                    arrivals.append(asyncio.get_running_loop().time())
                    assert source == (HOST, a.rtp_port) and fields(data)[1] == 8
                    frames.append(data)
                seqs = [fields(f)[2] for f in frames]
                assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(25)]
                span = arrivals[-1] - arrivals[0]
                assert 24 * 0.02 - 0.1 < span < 24 * 0.02 + 0.1  # paced, not a burst
                audio = g711.alaw_decode(b"".join(f[12:] for f in frames[10:]))
                spectrum = np.abs(np.fft.rfft(audio.astype(float)))
                assert abs(np.argmax(spectrum) * 8000 / len(audio) - 800) < 20
                for i in range(3):  # A presses 5: the prompt stops
                    a_phone.send(rtp(1 + i, 4000, 0xA1, pt=101, marker=i == 0)[:12]
                                 + build_payload(5, 160 * (i + 1)), a)
                for _ in range(200):  # bounded wait for the event
                    if any(isinstance(e, PlaybackFinished) for e in events):
                        break
                    await asyncio.sleep(0.01)
                finished = [e for e in events if isinstance(e, PlaybackFinished)]
                assert finished == [PlaybackFinished(session_id="call-1", leg="a",
                                                     play_id="greeting", interrupted=True)]
                while not a_phone.queue.empty():  # frames already in flight
                    a_phone.queue.get_nowait()
                assert await a_phone.nothing_more()
            finally:
                backend.close()
                a_phone.close()
                b_phone.close()

    run(loop_kind, main)
