"""The sans-I/O relay core with fake time: latching, rewriting, RTCP, inactivity."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.backend import MediaTimeout
from media.errors import MediaError, UnknownSession
from media.relay import RelayConfig, RelayCore, RelaySession

A_SDP = ("192.168.1.10", 4000)  # what phone A's SDP says (private, behind NAT)
A_NAT = ("203.0.113.5", 31000)  # where phone A's packets really come from
B_SDP = ("198.51.100.20", 5000)  # phone B: no NAT
ATTACKER = ("192.0.2.66", 6666)
PAYLOAD = bytes(range(160))


def sr(ssrc: int, packets: int, octets: int, blocks: list[bytes]) -> bytes:
    body = struct.pack("!IIIIII", ssrc, 1, 2, 3, packets, octets) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 200, (4 + len(body)) // 4 - 1) + body


def rr(ssrc: int, blocks: list[bytes]) -> bytes:
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 201, (4 + len(body)) // 4 - 1) + body


def block(ssrc: int, fraction: int, lost: int, highest: int, jitter: int) -> bytes:
    return (struct.pack("!IB", ssrc, fraction) + lost.to_bytes(3, "big", signed=True)
            + struct.pack("!IIII", highest, jitter, 0, 0))


def rtp(seq: int, ts: int, ssrc: int, pt: int = 0, marker: bool = False,
        payload: bytes = PAYLOAD) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload


def fields(packet: bytes | bytearray) -> tuple[bool, int, int, int, int]:
    """(marker, payload type, sequence number, timestamp, SSRC)."""
    first, second, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
    assert first == 0x80
    return bool(second & 0x80), second & 0x7F, seq, ts, ssrc


def make(config: RelayConfig | None = None, *, answered: bool = True
         ) -> tuple[RelayCore, RelaySession]:
    core = RelayCore(config)
    session = core.create("call-1", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    if answered:
        core.update("call-1", "a", 0.0, remote=A_SDP)
        core.update("call-1", "b", 0.0, remote=B_SDP)
    return core, session


# -- where packets go, latching -----------------------------------------------------------
def test_first_packet_latches_the_nat_address_and_media_flows_both_ways() -> None:
    core, s = make()
    assert s.a.forward_to == B_SDP  # B has not sent yet: its SDP address
    assert s.b.forward_to == A_SDP
    packet = rtp(1, 160, 0xAAAA)
    out = s.a.rtp(packet, A_NAT, 0.02)
    assert out is packet  # first stream: relayed byte for byte, no copy
    assert s.a.latched == A_NAT
    assert s.b.forward_to == A_NAT  # B's packets now go where A really is
    back = rtp(7, 0, 0xBBBB)
    assert s.b.rtp(back, B_SDP, 0.03) is back
    assert s.a.forward_to == B_SDP
    stats = core.stats("call-1")
    assert stats is not None
    assert (stats.a.packets_in, stats.a.packets_out, stats.b.packets_in, stats.b.packets_out) \
        == (1, 1, 1, 1)
    assert stats.a.bytes_in == stats.b.bytes_out == len(packet)
    assert stats.a.remote == A_NAT and stats.b.remote == B_SDP


def test_nothing_is_sent_before_the_other_side_is_known() -> None:
    core, s = make(answered=False)
    assert s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.02) is None
    assert s.a.drops == {"no_destination": 1}
    core.update("call-1", "b", 0.5, remote=B_SDP)
    out = s.a.rtp(rtp(2, 320, 0xAAAA), A_NAT, 0.04)
    assert out is not None and fields(out)[2:] == (2, 320, 0xAAAA)
    # phone B sending first (early media) is enough as well
    core2, s2 = make(answered=False)
    s2.b.rtp(rtp(1, 1, 0xBBBB), B_SDP, 0.0)
    assert s2.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.02) is not None
    assert s2.a.forward_to == B_SDP


def test_one_spoofed_packet_or_a_flood_never_moves_an_active_latch() -> None:
    core, s = make()
    now, seq = 0.0, 1
    s.a.rtp(rtp(seq, 0, 0xAAAA), A_NAT, now)
    for _ in range(200):  # the attacker sends 10 for each packet of the phone
        seq += 1
        now += 0.02
        assert s.a.rtp(rtp(seq, seq * 160, 0xAAAA), A_NAT, now) is not None
        for _ in range(10):
            assert s.a.rtp(rtp(9, 9, 0x6666), ATTACKER, now) is None
    assert s.a.latched == A_NAT and s.b.forward_to == A_NAT
    assert s.a.drops == {"source": 2000}


def test_takeover_needs_the_old_source_silent_and_the_new_one_persistent() -> None:
    config = RelayConfig(relatch_silence=1.0, relatch_packets=5)
    core, s = make(config)
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 10.0)
    moved = ("203.0.113.5", 31002)  # NAT rebinding: same phone, new port
    # 0.5 s of silence is not enough, however many packets the new source sends
    for i in range(10):
        assert s.a.rtp(rtp(2 + i, 320, 0xAAAA), moved, 10.5) is None
    assert s.a.latched == A_NAT
    # after 1 s of silence the 5th packet in a row from one new source takes over
    s2 = make(config)[1]
    s2.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 10.0)
    results = [s2.a.rtp(rtp(2 + i, 320 + 160 * i, 0xAAAA), moved, 11.0 + 0.02 * i)
               for i in range(5)]
    assert results[:4] == [None] * 4 and results[4] is not None
    assert s2.a.latched == moved and s2.b.forward_to == moved
    # another source interleaving resets the count
    s3 = make(config)[1]
    s3.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 10.0)
    for i in range(8):
        source = moved if i % 2 == 0 else ATTACKER
        assert s3.a.rtp(rtp(2 + i, 320, 0xAAAA), source, 12.0) is None
    assert s3.a.latched == A_NAT


def test_reinvite_with_a_new_address_allows_relatching_at_once_within_the_window() -> None:
    config = RelayConfig(relatch_window=5.0)
    core, s = make(config)
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 1.0)
    core.update("call-1", "a", 2.0, remote=("10.0.0.7", 4002))
    # the old source keeps flowing until the phone's first packet from elsewhere
    assert s.a.rtp(rtp(2, 320, 0xAAAA), A_NAT, 2.01) is not None
    moved = ("203.0.113.9", 40000)
    assert s.a.rtp(rtp(100, 8000, 0xCCCC), moved, 2.1) is not None
    assert s.a.latched == moved
    # the window is closed now: late packets from the old place are not accepted
    assert s.a.rtp(rtp(3, 480, 0xAAAA), A_NAT, 2.12) is None
    assert s.a.latched == moved


def test_the_reinvite_window_expires_and_same_address_updates_open_none() -> None:
    config = RelayConfig(relatch_window=5.0)
    core, s = make(config)
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 1.0)
    core.update("call-1", "a", 2.0, remote=A_SDP)  # unchanged: hold/resume, refresh
    s.a.rtp(rtp(2, 320, 0xAAAA), A_NAT, 2.01)
    assert s.a.rtp(rtp(9, 9, 0x6666), ATTACKER, 2.02) is None
    core.update("call-1", "a", 3.0, remote=("10.0.0.7", 4002))
    s.a.rtp(rtp(3, 480, 0xAAAA), A_NAT, 3.5)
    assert s.a.rtp(rtp(9, 9, 0x6666), ATTACKER, 8.0) is None  # 3.0 + 5 s: closed
    assert s.a.latched == A_NAT


# -- header rewriting ---------------------------------------------------------------------
def test_input_ssrc_change_continues_sequence_timestamp_and_ssrc() -> None:
    core, s = make()
    outs = [s.a.rtp(rtp(100 + i, 1000 + 160 * i, 0xAAAA), A_NAT, 0.02 * i) for i in range(3)]
    assert [fields(o) for o in outs if o is not None] == [
        (False, 0, 100, 1000, 0xAAAA), (False, 0, 101, 1160, 0xAAAA),
        (False, 0, 102, 1320, 0xAAAA),
    ]
    # the phone restarts its stream (new SSRC, unrelated seq/ts) 20 ms later
    new = [s.a.rtp(rtp(5000 + i, 90000 + 160 * i, 0x5555, marker=(i == 0)), A_NAT,
                   0.06 + 0.02 * i) for i in range(3)]
    assert [fields(o) for o in new if o is not None] == [
        (True, 0, 103, 1480, 0xAAAA), (False, 0, 104, 1640, 0xAAAA),
        (False, 0, 105, 1800, 0xAAAA),
    ]
    # the payload is untouched
    assert all(o is not None and bytes(o[12:]) == PAYLOAD for o in new)


def test_wraparound_of_sequence_and_timestamp() -> None:
    core, s = make()
    s.a.rtp(rtp(65535, 0xFFFFFFF0, 0xAAAA), A_NAT, 0.0)
    out = s.a.rtp(rtp(10, 50, 0xBEEF), A_NAT, 0.02)
    assert out is not None and fields(out)[2:] == (0, 144, 0xAAAA)
    out = s.a.rtp(rtp(11, 210, 0xBEEF), A_NAT, 0.04)
    assert out is not None and fields(out)[2:] == (1, 304, 0xAAAA)


def test_reinvite_to_another_phone_keeps_the_stream_continuous() -> None:
    core, s = make()
    for i in range(3):
        s.a.rtp(rtp(100 + i, 1000 + 160 * i, 0xAAAA), A_NAT, 0.02 * i)
    # leg A now goes to another phone (transfer): it starts 1 s later
    core.update("call-1", "a", 0.5, remote=("198.51.100.77", 7000))
    out = s.a.rtp(rtp(7, 50, 0x7777), ("198.51.100.77", 7000), 1.04)
    # last sent: seq 102, ts 1320 at 0.04; 1 s later at 8 kHz: +8000
    assert out is not None and fields(out) == (False, 0, 103, 9320, 0xAAAA)
    out = s.a.rtp(rtp(8, 210, 0x7777), ("198.51.100.77", 7000), 1.06)
    assert out is not None and fields(out) == (False, 0, 104, 9480, 0xAAAA)


def test_reinvite_with_the_same_stream_stays_byte_for_byte() -> None:
    core, s = make()
    s.a.rtp(rtp(100, 1000, 0xAAAA), A_NAT, 0.0)
    core.update("call-1", "a", 0.01, remote=A_SDP, hold=True)
    packet = rtp(102, 1320, 0xAAAA)  # one packet lost meanwhile: still the same stream
    assert s.a.rtp(packet, A_NAT, 0.04) is packet


def test_same_ssrc_restarting_its_sequence_after_a_reinvite_is_a_new_stream() -> None:
    core, s = make()
    s.a.rtp(rtp(30000, 1000, 0xAAAA), A_NAT, 0.0)
    core.update("call-1", "a", 1.0, remote=A_SDP)
    out = s.a.rtp(rtp(1, 0, 0xAAAA), A_NAT, 2.0)
    assert out is not None and fields(out)[2:] == (30001, 1000 + 16000, 0xAAAA)


def test_late_packet_of_the_same_stream_is_not_a_restart() -> None:
    core, s = make()
    s.a.rtp(rtp(100, 1000, 0xAAAA), A_NAT, 0.0)
    core.update("call-1", "a", 0.01, remote=A_SDP)
    late = rtp(99, 840, 0xAAAA)
    assert s.a.rtp(late, A_NAT, 0.02) is late


def test_payload_type_translation_per_direction_keeps_the_marker() -> None:
    core, s = make()
    core.update("call-1", "b", 0.0, remote=B_SDP, pt_map={101: 96})
    voice = rtp(1, 160, 0xAAAA)
    assert s.a.rtp(voice, A_NAT, 0.0) is voice
    event = s.a.rtp(rtp(2, 320, 0xAAAA, pt=101, marker=True), A_NAT, 0.02)
    assert event is not None and fields(event) == (True, 96, 2, 320, 0xAAAA)
    event = s.a.rtp(rtp(3, 320, 0xAAAA, pt=101), A_NAT, 0.04)
    assert event is not None and fields(event) == (False, 96, 3, 320, 0xAAAA)
    # the other direction is not translated: A has no map
    back = s.b.rtp(rtp(1, 1, 0xBBBB, pt=96, marker=True), B_SDP, 0.05)
    assert back is not None and fields(back) == (True, 96, 1, 1, 0xBBBB)
    # and a later update without a map removes the translation
    core.update("call-1", "b", 1.0, remote=B_SDP)
    again = rtp(4, 480, 0xAAAA, pt=101)
    assert s.a.rtp(again, A_NAT, 1.02) is again


def test_marker_bit_survives_a_rewritten_stream() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    s.a.rtp(rtp(50, 5000, 0x1234), A_NAT, 0.02)
    out = s.a.rtp(rtp(51, 8000, 0x1234, marker=True), A_NAT, 0.5)  # talkspurt
    assert out is not None and fields(out) == (True, 0, 3, 320 + 3000, 0xAAAA)
    out = s.a.rtp(rtp(52, 8160, 0x1234), A_NAT, 0.52)
    assert out is not None and fields(out) == (False, 0, 4, 320 + 3160, 0xAAAA)


def test_extension_and_csrc_packets_are_relayed_through_the_slow_path() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    ext = (struct.pack("!BBHII", 0x91, 0, 2, 320, 0xAAAA) + b"\0\0\0\0"
           + struct.pack("!HH", 0xBEDE, 1) + b"\x10\x01\x00\x00" + PAYLOAD)
    out = s.a.rtp(ext, A_NAT, 0.02)
    assert out == ext


def test_pt_map_must_hold_payload_types() -> None:
    core, _ = make()
    with pytest.raises(MediaError):
        core.update("call-1", "a", 0.0, remote=A_SDP, pt_map={101: 200})
    with pytest.raises(MediaError):
        core.update("call-1", "a", 0.0, remote=A_SDP, clock_rate=0)
    with pytest.raises(UnknownSession):
        core.update("nope", "a", 0.0, remote=A_SDP)
    with pytest.raises(MediaError):
        core.update("call-1", "c", 0.0, remote=A_SDP)  # type: ignore[arg-type]
    with pytest.raises(MediaError):
        core.create("call-1", 0.0, a_ports=(1, 2), b_ports=(3, 4))
    for bad in (("phone.example.com", 4000), ("192.0.2.1", -1), ("192.0.2.1", 70000)):
        with pytest.raises(MediaError):
            core.update("call-1", "a", 0.0, remote=bad)
    for nothing in (("0.0.0.0", 4000), ("::", 4000), ("192.0.2.1", 0)):
        core.update("call-1", "a", 0.0, remote=nothing)
        assert core.get("call-1").a.expected is None
    core.update("call-1", "a", 0.0, remote=("2001:DB8::1", 4000))
    assert core.get("call-1").a.expected == ("2001:db8::1", 4000)


def test_a_packet_the_io_layer_could_not_send_counts_as_dropped() -> None:
    core, s = make()
    packet = rtp(1, 160, 0xAAAA)
    assert s.a.rtp(packet, A_NAT, 0.0) is packet
    s.a.unsent(packet, "send_error")
    stats = core.stats("call-1")
    assert stats is not None
    assert (stats.a.packets_in, stats.b.packets_out, stats.b.bytes_out) == (1, 0, 0)
    assert stats.a.drops == {"send_error": 1}


# -- hostile input ------------------------------------------------------------------------
def test_hostile_packets_are_dropped_and_counted_by_reason() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    good_header = struct.pack("!BBHII", 0x80, 0, 2, 320, 0xAAAA)
    hostile = [
        b"", b"\x80", good_header[:11],  # short
        struct.pack("!BBHII", 0x40, 0, 2, 320, 0xAAAA) + PAYLOAD,  # version 1
        struct.pack("!BBHII", 0x8F, 0, 2, 320, 0xAAAA) + b"\0" * 8,  # 15 CSRCs
        struct.pack("!BBHII", 0x90, 0, 2, 320, 0xAAAA) + b"\xbe\xde\xff\xff",  # extension
        struct.pack("!BBHII", 0xA0, 0, 2, 320, 0xAAAA) + b"\xff",  # padding
        good_header + bytes(4000),  # oversize
    ]
    for data in hostile:
        assert s.a.rtp(data, A_NAT, 0.02) is None
    assert s.a.drops == {"short": 3, "version": 1, "malformed": 3, "oversize": 1}
    stats = core.stats("call-1")
    assert stats is not None
    assert stats.a.packets_in == 1 + len(hostile) and stats.b.packets_out == 1
    assert stats.a.bytes_in == len(rtp(1, 160, 0xAAAA)) + sum(len(d) for d in hostile)


def test_malformed_packets_do_not_latch_or_count_towards_a_takeover() -> None:
    core, s = make(RelayConfig(relatch_packets=2, relatch_silence=0.5))
    assert s.a.rtp(b"\x80\x00\x00", ATTACKER, 0.0) is None
    assert s.a.latched is None
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.1)
    bad = struct.pack("!BBHII", 0x8F, 0, 2, 320, 0x6666)
    for _ in range(5):
        s.a.rtp(bad, ATTACKER, 5.0)
    assert s.a.latched == A_NAT


addresses = st.sampled_from([A_NAT, A_SDP, B_SDP, ATTACKER, ("::1", 1, 0, 0)])


@settings(max_examples=300)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=80), addresses,
                          st.floats(0, 10)), max_size=30))
def test_arbitrary_datagrams_never_raise_and_counters_add_up(
    datagrams: list[tuple[bool, bytes, tuple[object, ...], float]],
) -> None:
    core, s = make(RelayConfig(max_packet_bytes=64, relatch_packets=2, relatch_silence=0.1))
    sent = 0
    for to_a, data, addr, now in sorted(datagrams, key=lambda d: d[3]):
        leg = s.a if to_a else s.b
        for port in (leg.rtp, leg.rtcp):
            out = port(data, addr, now)
            if out is not None:
                sent += 1
                assert len(out) == len(data)
    stats = core.stats("call-1")
    assert stats is not None
    assert stats.a.packets_out + stats.b.packets_out == sent
    for leg_stats in (stats.a, stats.b):
        rtp_drops = sum(v for k, v in leg_stats.drops.items() if not k.startswith("rtcp"))
        assert leg_stats.packets_in >= rtp_drops


@given(st.binary(min_size=12, max_size=200))
def test_arbitrary_bytes_from_the_latched_source_never_raise(data: bytes) -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    out = s.a.rtp(data, A_NAT, 0.02)
    assert out is None or len(out) == len(data)


# -- RTCP -------------------------------------------------------------------------------
def test_rtcp_is_terminated_and_read_for_statistics() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    s.b.rtp(rtp(1, 160, 0xBBBB), B_SDP, 0.0)
    # A reports on the stream it receives from the switch (SSRC 0xBBBB, kept for B->A)
    report = sr(0xAAAA, 1234, 197440, [block(0x9999, 0, 0, 0, 0), block(0xBBBB, 26, 7, 99, 40)])
    s.a.rtcp(report, (A_NAT[0], A_NAT[1] + 1), 1.0)
    s.b.rtcp(rr(0xBBBB, [block(0xAAAA, 0, 2, 1, 16)]), (B_SDP[0], B_SDP[1] + 1), 1.0)
    stats = core.stats("call-1")
    assert stats is not None
    assert stats.a.rtcp_packets == 1 and stats.a.sent_packets == 1234
    assert stats.a.loss_fraction == 26 / 256 and stats.a.cumulative_lost == 7
    assert stats.a.jitter_ms == 5.0  # 40 units at 8 kHz
    assert stats.b.cumulative_lost == 2 and stats.b.jitter_ms == 2.0
    assert stats.b.sent_packets is None
    # RTP counters are untouched: RTCP is not relayed
    assert stats.a.packets_out == stats.b.packets_out == 1


def test_rtcp_from_another_host_or_malformed_is_dropped() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    s.a.rtcp(rr(1, []), ATTACKER, 1.0)
    s.a.rtcp(b"\x80\xc9\x00\x09", (A_NAT[0], 31001), 1.0)
    assert s.a.rtcp_packets == 0
    stats = core.stats("call-1")
    assert stats is not None
    assert stats.a.drops == {"rtcp_source": 1, "rtcp_malformed": 1}
    assert stats.a.packets_in == 1  # RTCP drops are not RTP input


def test_rtcp_multiplexed_on_the_rtp_port_is_terminated_too() -> None:
    core, s = make()
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 0.0)
    assert s.a.rtp(rr(0xAAAA, [block(0xBBBB, 0, 3, 0, 0)]), A_NAT, 1.0) is None
    assert s.a.rtcp_packets == 1 and s.a.cumulative_lost == 3
    assert s.b.packets == 0 and s.a.packets == 1


# -- inactivity -------------------------------------------------------------------------
def test_inactivity_deadline_is_exact() -> None:
    core, s = make(RelayConfig(inactivity_timeout=60.0))
    assert core.get_timer() == 60.0
    s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 10.0)
    s.b.rtp(rtp(1, 160, 0xBBBB), B_SDP, 12.5)
    core.handle_timer(60.0)  # the early wake-up (the hot path does not touch the timer)
    assert core.drain() == []
    assert core.get_timer() == 72.5
    core.handle_timer(72.49)
    assert core.drain() == []
    core.handle_timer(72.5)
    assert core.drain() == [MediaTimeout(session_id="call-1", idle_s=60.0)]
    # reported once per silent period
    core.handle_timer(200.0)
    assert core.drain() == []
    # media resumes, then stops again: reported again, exactly
    s.a.rtp(rtp(2, 320, 0xAAAA), A_NAT, 201.0)
    while (deadline := core.get_timer()) is not None and deadline < 261.0:
        core.handle_timer(deadline)
        assert core.drain() == []
    assert core.get_timer() == 261.0
    core.handle_timer(261.0)
    assert core.drain() == [MediaTimeout(session_id="call-1", idle_s=60.0)]


def test_hold_suspends_the_timeout_and_resume_restarts_it() -> None:
    core, s = make(RelayConfig(inactivity_timeout=60.0))
    core.update("call-1", "b", 5.0, remote=B_SDP, hold=True)
    core.handle_timer(60.0)
    assert core.drain() == [] and core.get_timer() is None
    core.handle_timer(1000.0)
    assert core.drain() == []
    # held sessions still relay
    assert s.a.rtp(rtp(1, 160, 0xAAAA), A_NAT, 1000.0) is not None
    core.update("call-1", "b", 1500.0, remote=B_SDP, hold=False)
    assert core.get_timer() == 1560.0
    core.handle_timer(1560.0)
    assert core.drain() == [MediaTimeout(session_id="call-1", idle_s=60.0)]


def test_updates_restart_the_clock_and_deleted_sessions_are_forgotten() -> None:
    core, s = make(RelayConfig(inactivity_timeout=30.0))
    core.create("call-2", 10.0, a_ports=(10004, 10005), b_ports=(10006, 10007))
    core.update("call-1", "a", 20.0, remote=A_SDP)
    stats = core.delete("call-2")
    assert stats is not None and stats.session_id == "call-2"
    assert core.delete("call-2") is None and core.stats("call-2") is None
    assert "call-2" not in core and len(core) == 1
    core.handle_timer(30.0)  # early: lower bound from call-1's creation
    assert core.drain() == []
    assert core.get_timer() == 50.0
    core.handle_timer(50.0)
    assert core.drain() == [MediaTimeout(session_id="call-1", idle_s=30.0)]


def test_many_sessions_time_out_each_at_its_own_deadline() -> None:
    core = RelayCore(RelayConfig(inactivity_timeout=10.0))
    for i in range(5):
        core.create(f"c{i}", float(i), a_ports=(10000 + 4 * i, 10001 + 4 * i),
                    b_ports=(10002 + 4 * i, 10003 + 4 * i))
    fired: list[tuple[float, str]] = []
    for _ in range(20):  # bounded
        deadline = core.get_timer()
        if deadline is None or deadline > 100:
            break
        core.handle_timer(deadline)
        fired += [(deadline, e.session_id) for e in core.drain()]
    assert fired == [(10.0 + i, f"c{i}") for i in range(5)]


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from([0x1111, 0x2222, 0x3333]), st.integers(1, 6),
                          st.integers(0, 65535), st.integers(0, 2**32 - 1)),
                min_size=1, max_size=12))
def test_output_is_one_continuous_stream_whatever_the_input_streams_do(
    segments: list[tuple[int, int, int, int]],
) -> None:
    """Streams switching at random (new SSRC, seq and ts jumping): the receiver sees
    consecutive sequence numbers, one SSRC, and timestamps advancing by 160 per
    packet inside a stream and by the elapsed time (20 ms = 160) across a switch."""
    core, s = make()
    now, outs, previous = 0.0, [], 0
    for ssrc, count, seq, ts in segments:
        if ssrc == previous:  # the same SSRC restarting is not a stream change (RFC 3550)
            ssrc = 0x4444 if ssrc != 0x4444 else 0x5555
        previous = ssrc
        for i in range(count):
            out = s.a.rtp(rtp((seq + i) & 0xFFFF, (ts + 160 * i) & 0xFFFFFFFF, ssrc), A_NAT, now)
            assert out is not None
            outs.append(fields(out))
            now += 0.02
    first = outs[0]
    for n, (marker, pt, seq, ts, ssrc) in enumerate(outs):
        assert (marker, pt, ssrc) == (False, 0, first[4])
        assert seq == (first[2] + n) & 0xFFFF
        assert ts == (first[3] + 160 * n) & 0xFFFFFFFF
