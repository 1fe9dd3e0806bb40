"""RFC 4733 telephone-events: receiver, sender, and the round trip through real RTP."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.dtmf.errors import DtmfValueError
from media.dtmf.events import DigitEnded, DigitStarted, to_dtmf_received
from media.dtmf.rfc4733 import (
    CHANGED,
    LENGTH,
    SHORT,
    UNSUPPORTED,
    EventPacket,
    TelephoneEventReceiver,
    TelephoneEventSender,
    build_payload,
    parse_payload,
    schedule_digit,
)
from media.rtp import rtp_payload, rtp_problem

PT = 101
SSRC = 0x1234ABCD


def rtp_packet(pkt: EventPacket, seq: int, base_ts: int) -> bytes:
    """Wrap an EventPacket the way the relay will: its own seq, SSRC and PT."""
    byte1 = (0x80 if pkt.marker else 0) | PT
    ts = (base_ts + pkt.timestamp_offset) & 0xFFFFFFFF
    return struct.pack("!BBHII", 0x80, byte1, seq & 0xFFFF, ts, SSRC) + pkt.payload


def rtp_fields(data: bytes) -> tuple[int, bool, int, int, bytes]:
    """Unwrap with the relay's own RTP helpers (media.rtp)."""
    assert rtp_problem(data) is None
    _, byte1, seq, ts, _ = struct.unpack_from("!BBHII", data)
    return byte1 & 0x7F, bool(byte1 & 0x80), seq, ts, rtp_payload(data)


def feed(rx: TelephoneEventReceiver, packets: list[EventPacket], base_ts: int = 1000,
         order: list[int] | None = None, arrival: float = 0.01) -> list:
    out = []
    idx = order if order is not None else list(range(len(packets)))
    for i in idx:
        p = packets[i]
        out += rx.receive(p.payload, base_ts + p.timestamp_offset, i, p.marker,
                          p.send_at + arrival)
    return out


def ends(events: list) -> list[DigitEnded]:
    return [e for e in events if isinstance(e, DigitEnded)]


# -- payload ----------------------------------------------------------------------------


def test_payload_round_trip() -> None:
    data = build_payload(11, 800, end=True, volume=13)
    assert data == bytes([11, 0x80 | 13, 0x03, 0x20])
    (ev,) = parse_payload(data)  # type: ignore[misc]
    assert (ev.event, ev.end, ev.volume, ev.duration) == (11, True, 13, 800)


@pytest.mark.parametrize(("payload", "reason"), [(b"", SHORT), (b"\x01\x0a", SHORT),
                                                 (b"\x01\x0a\x00\xa0\x01", LENGTH)])
def test_malformed_payloads_are_counted_not_raised(payload: bytes, reason: str) -> None:
    rx = TelephoneEventReceiver()
    assert rx.receive(payload, 0, 0, True, 0.0) == []
    assert rx.stats[reason] == 1


def test_non_dtmf_event_is_ignored() -> None:
    rx = TelephoneEventReceiver()
    assert rx.receive(build_payload(16, 160), 0, 0, True, 0.0) == []  # hook flash
    assert rx.stats[UNSUPPORTED] == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 2**32 - 1), st.booleans())
def test_any_bytes_never_raise(payload: bytes, ts: int, marker: bool) -> None:
    rx = TelephoneEventReceiver()
    rx.receive(payload, ts, 1, marker, 0.0)
    rx.receive(payload, ts, 2, marker, 0.02)
    rx.handle_timer(10.0)


# -- receiver ---------------------------------------------------------------------------


def test_start_reported_on_first_packet_and_end_once_despite_redundant_ends() -> None:
    rx = TelephoneEventReceiver()
    packets = schedule_digit("5", 100, start=1.0)
    first = rx.receive(packets[0].payload, 1000, 0, True, 1.01)
    assert first == [DigitStarted(digit="5", at=pytest.approx(0.99), source="rfc4733",
                                  volume_dbm0=-10.0, rtp_timestamp=1000)]
    rest = feed(rx, packets[1:])
    assert len(rest) == 1 and isinstance(rest[0], DigitEnded)
    end = rest[0]
    assert (end.digit, end.duration_ms, end.end_seen) == ("5", 100, True)
    assert end.at == pytest.approx(0.99)
    assert rx.stats["duplicates"] == 2  # the 2nd and 3rd end packets
    assert rx.get_timer() is None
    control = to_dtmf_received(end, "call-1")
    assert (control.call_id, control.digit, control.duration_ms, control.source) == (
        "call-1", "5", 100, "rfc4733")


def test_lost_first_packets_still_give_the_digit_and_onset() -> None:
    rx = TelephoneEventReceiver()
    packets = schedule_digit("#", 200, start=5.0)
    events = feed(rx, packets[3:])  # marker packet and two updates lost
    assert [type(e) for e in events] == [DigitStarted, DigitEnded]
    # the onset is recovered from the duration the 4th packet carries
    assert events[0].at == pytest.approx(5.0 + 0.06 + 0.01 - 0.08)
    assert events[1].duration_ms == 200


def test_only_end_packets_received() -> None:
    rx = TelephoneEventReceiver()
    packets = schedule_digit("7", 120, start=0.0)
    events = feed(rx, [p for p in packets if p.end])
    assert [(type(e).__name__, e.digit) for e in events] == [("DigitStarted", "7"),
                                                            ("DigitEnded", "7")]
    assert events[1].duration_ms == 120


@pytest.mark.parametrize("seed", range(20))
def test_reordering_up_to_three_packets(seed: int) -> None:
    rng = random.Random(seed)
    packets = []
    t = 0.0
    for d in "159#":
        packets += schedule_digit(d, rng.choice([60, 100, 180]), start=t)
        t = packets[-1].send_at + 0.06
    # each packet may arrive up to 3 places later than its turn
    keyed = sorted(range(len(packets)), key=lambda i: i + rng.uniform(0, 3.5))
    rx = TelephoneEventReceiver()
    out = []
    for pos, i in enumerate(keyed):
        p = packets[i]
        out += rx.receive(p.payload, 8000 + int(p.event_start * 8000), i, p.marker,
                          packets[pos].send_at + 0.01)
    starts = [e.digit for e in out if isinstance(e, DigitStarted)]
    assert starts == list("159#")
    assert rx.stats["reordered"] > 0 or keyed == sorted(keyed)
    assert [e.digit for e in ends(out)] == list("159#")


def test_reordered_update_cannot_shorten_or_reopen() -> None:
    rx = TelephoneEventReceiver()
    p = schedule_digit("1", 100, start=0.0)
    order = [0, 2, 1, 3, 4, 5, 6]  # an update overtaken; then the ends
    out = feed(rx, p, order=order)
    assert [e.duration_ms for e in ends(out)] == [100]
    late = rx.receive(p[2].payload, 1000, 99, False, 1.0)  # a stray update after the end
    assert late == [] and rx.stats["duplicates"] >= 1


def test_all_end_packets_lost_then_timer_ends_it() -> None:
    rx = TelephoneEventReceiver(max_silence=0.3)
    p = [x for x in schedule_digit("3", 100, start=0.0) if not x.end]
    out = feed(rx, p)
    assert [type(e) for e in out] == [DigitStarted]
    last = p[-1].send_at + 0.01
    assert rx.get_timer() == pytest.approx(last + 0.3)
    assert rx.handle_timer(last + 0.29) == []
    (end,) = rx.handle_timer(last + 0.3)
    assert isinstance(end, DigitEnded)
    assert (end.digit, end.duration_ms, end.end_seen) == ("3", 80, False)
    assert rx.get_timer() is None


def test_next_event_closes_one_whose_ends_were_lost() -> None:
    rx = TelephoneEventReceiver()
    a = [x for x in schedule_digit("2", 100, start=0.0) if not x.end]
    b = schedule_digit("4", 100, start=0.3)
    out = feed(rx, a, base_ts=0) + feed(rx, b, base_ts=2400)
    assert [(type(e).__name__, e.digit) for e in out] == [
        ("DigitStarted", "2"), ("DigitEnded", "2"), ("DigitStarted", "4"), ("DigitEnded", "4")]
    assert out[1].end_seen is False and out[3].end_seen is True
    assert rx.stats["superseded"] == 1


def test_same_digit_twice_is_two_events() -> None:
    rx = TelephoneEventReceiver()
    out = feed(rx, schedule_digit("9", 80, start=0.0), base_ts=0)
    out += feed(rx, schedule_digit("9", 80, start=0.2), base_ts=1600)
    assert [e.digit for e in ends(out)] == ["9", "9"]


def test_late_packet_of_older_event_dropped() -> None:
    rx = TelephoneEventReceiver()
    feed(rx, schedule_digit("6", 80, start=0.0), base_ts=5000)
    assert rx.receive(build_payload(6, 160), 4000, 1, True, 1.0) == []
    assert rx.stats["late"] == 1


def test_timestamp_wraparound() -> None:
    rx = TelephoneEventReceiver()
    out = feed(rx, schedule_digit("1", 80, start=0.0), base_ts=2**32 - 400)
    out += feed(rx, schedule_digit("2", 80, start=0.2), base_ts=1200)
    assert [e.digit for e in ends(out)] == ["1", "2"]


def test_changed_event_with_same_timestamp_is_counted() -> None:
    rx = TelephoneEventReceiver()
    rx.receive(build_payload(1, 160), 0, 0, True, 0.0)
    assert rx.receive(build_payload(2, 320), 0, 1, False, 0.02) == []
    assert rx.stats[CHANGED] == 1


def test_long_event_segments_merge_into_one_digit() -> None:
    packets = schedule_digit("0", 20_000, start=0.0)  # 160,000 units: three segments
    assert {p.timestamp_offset for p in packets} == {0, 65535, 131070}
    assert sum(p.marker for p in packets) == 1
    rx = TelephoneEventReceiver()
    out = feed(rx, packets)
    assert [type(e) for e in out] == [DigitStarted, DigitEnded]
    assert out[1].duration_ms == 20_000 and out[1].end_seen


def test_several_events_in_one_payload() -> None:
    rx = TelephoneEventReceiver()
    payload = build_payload(1, 400, end=True) + build_payload(2, 480, end=True)
    out = rx.receive(payload, 100, 0, True, 1.0)
    assert [(type(e).__name__, e.digit) for e in out] == [
        ("DigitStarted", "1"), ("DigitEnded", "1"), ("DigitStarted", "2"), ("DigitEnded", "2")]
    assert out[3].rtp_timestamp == 500


def test_close_ends_open_event() -> None:
    rx = TelephoneEventReceiver()
    rx.receive(build_payload(5, 160), 0, 0, True, 0.0)
    (end,) = rx.close(0.05)
    assert isinstance(end, DigitEnded) and not end.end_seen


# -- sender -----------------------------------------------------------------------------


def test_schedule_shape() -> None:
    p = schedule_digit("5", 100, start=2.0, ptime_ms=20, volume=12)
    assert [x.send_at for x in p] == pytest.approx([2.0, 2.02, 2.04, 2.06, 2.08, 2.10, 2.12])
    assert [x.marker for x in p] == [True] + [False] * 6
    parsed = [parse_payload(x.payload)[0] for x in p]  # type: ignore[index]
    assert [e.duration for e in parsed] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in parsed] == [False] * 4 + [True] * 3
    assert {e.event for e in parsed} == {5} and {e.volume for e in parsed} == {12}
    assert {x.timestamp_offset for x in p} == {0}


def test_schedule_other_ptime_and_short_digit() -> None:
    p = schedule_digit("A", 50, start=0.0, ptime_ms=30, end_repeats=2)
    parsed = [parse_payload(x.payload)[0] for x in p]  # type: ignore[index]
    assert [e.duration for e in parsed] == [240, 400, 400]
    assert [e.event for e in parsed] == [12] * 3


@pytest.mark.parametrize("kwargs", [dict(digit="x", duration_ms=100),
                                    dict(digit="1", duration_ms=0),
                                    dict(digit="1", duration_ms=100, volume=64),
                                    dict(digit="1", duration_ms=100, ptime_ms=0)])
def test_schedule_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(DtmfValueError):
        schedule_digit(start=0.0, **kwargs)


def test_sender_queues_digits_without_overlap() -> None:
    tx = TelephoneEventSender(gap_ms=60)
    s1 = tx.send("1", 100, now=10.0)
    s2 = tx.send("2", 100, now=10.0)
    assert s1 == 10.0 and s2 == pytest.approx(10.12 + 0.06)
    assert tx.get_timer() == 10.0 and tx.suppress_audio(10.0)
    first = tx.poll(10.0)
    assert len(first) == 1 and first[0].marker
    assert len(tx.poll(10.13)) == 6
    assert not tx.suppress_audio(10.15)  # between the digits: audio flows
    rest = tx.poll(11.0)
    assert len(rest) == 7 and tx.get_timer() is None


def test_sender_to_receiver_through_rtp() -> None:
    """Sender packets wrapped in RTP (checked by media.rtp), unwrapped, received."""
    tx = TelephoneEventSender()
    t = 0.0
    for d in "0123456789*#ABCD":
        tx.send(d, 90, now=t)
    rx = TelephoneEventReceiver()
    seq = 40000
    wire: list[bytes] = []
    now = 0.0
    bound = 0
    while (deadline := tx.get_timer()) is not None and bound < 10_000:
        bound += 1
        now = deadline
        for pkt in tx.poll(now):
            base = 1_000_000 + int(round(pkt.event_start * 8000))
            wire.append(rtp_packet(pkt, seq, base))
            seq += 1
    events = []
    for i, data in enumerate(wire):
        pt, marker, s, ts, payload = rtp_fields(data)
        assert pt == PT
        events += rx.receive(payload, ts, s, marker, i * 0.02)
    got = ends(events)
    assert "".join(e.digit for e in got) == "0123456789*#ABCD"
    assert {e.duration_ms for e in got} == {90} and all(e.end_seen for e in got)
    assert rx.stats["duplicates"] == 32


def test_round_trip_with_loss() -> None:
    rng = random.Random(5)
    lost_runs = 0
    for _ in range(30):
        packets = schedule_digit("8", 140, start=0.0)
        kept = [p for p in packets if rng.random() > 0.3]
        rx = TelephoneEventReceiver()
        out = feed(rx, kept) + rx.handle_timer(10.0)
        if not kept:
            lost_runs += 1
            continue
        got = ends(out)
        assert [e.digit for e in got] == ["8"]
        if any(p.end for p in kept):
            assert got[0].duration_ms == 140 and got[0].end_seen
    assert lost_runs < 5
