"""Reordering and loss detection ahead of every decoder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from media.jitter import ReorderBuffer, Slot


def _push(buffer: ReorderBuffer, seq: int, now: float = 0.0) -> list[Slot]:
    return buffer.push(seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, 0, False, b"x%d" % seq, now)


def seqs(slots: list[Slot]) -> list[int]:
    return [s.seq for s in slots]


def test_in_order_packets_pass_at_once() -> None:
    buffer = ReorderBuffer()
    for seq in range(10, 20):
        assert seqs(_push(buffer, seq)) == [seq]
    assert buffer.get_timer() is None


def test_reordered_packets_come_out_in_order_without_losses() -> None:
    buffer = ReorderBuffer()
    out = []
    for seq in [1, 2, 5, 4, 3, 6]:
        out += _push(buffer, seq)
    assert seqs(out) == [1, 2, 3, 4, 5, 6]
    assert all(s.payload is not None for s in out)
    assert buffer.lost == 0


def test_a_loss_is_declared_once_depth_packets_wait_behind_it() -> None:
    buffer = ReorderBuffer(depth=3)
    out = _push(buffer, 1)
    for seq in (3, 4, 5):
        assert _push(buffer, seq) == []
    out += _push(buffer, 6)
    assert seqs(out) == [1, 2, 3, 4, 5, 6]
    lost = out[1]
    assert lost.payload is None and lost.timestamp == 2 * 160  # interpolated
    assert buffer.lost == 1


def test_a_gap_is_given_up_on_after_max_wait() -> None:
    buffer = ReorderBuffer(max_wait=0.06)
    _push(buffer, 1, now=0.0)
    assert _push(buffer, 3, now=0.04) == []
    assert buffer.get_timer() == 0.04 + 0.06
    assert buffer.handle_timer(0.09) == []
    out = buffer.handle_timer(0.10)
    assert seqs(out) == [2, 3] and out[0].payload is None
    assert buffer.get_timer() is None


def test_late_and_duplicate_packets_are_dropped() -> None:
    buffer = ReorderBuffer()
    for seq in (1, 2, 3):
        _push(buffer, seq)
    assert _push(buffer, 2) == []
    assert _push(buffer, 3) == []
    assert buffer.late == 2


def test_sequence_numbers_wrap() -> None:
    buffer = ReorderBuffer()
    out = []
    for seq in (65534, 0, 65535, 1):
        out += _push(buffer, seq)
    assert seqs(out) == [65534, 65535, 0, 1]


def test_a_big_jump_restarts_instead_of_inventing_losses() -> None:
    buffer = ReorderBuffer(max_gap=100)
    _push(buffer, 1)
    out = _push(buffer, 5000)
    assert seqs(out) == [5000]
    assert buffer.lost == 0 and buffer.restarts == 1


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=120),
    swaps=st.lists(st.integers(min_value=0, max_value=119), max_size=30),
    drops=st.sets(st.integers(min_value=1, max_value=119), max_size=20),
    start=st.integers(min_value=0, max_value=65535),
)
def test_every_packet_once_in_order_and_every_gap_reported(
    count: int, swaps: list[int], drops: set[int], start: int,
) -> None:
    """Reordering within 3 places and random losses: the output is the exact sequence,
    each received packet once, a loss slot for each dropped one (after the first)."""
    order = list(range(count))
    for index in swaps:  # move packets by at most 3 places
        if index + 3 < count:
            order[index], order[index + 3] = order[index + 3], order[index]
    sent = [n for n in order if n not in drops or n == order[0]]
    buffer = ReorderBuffer(depth=3)
    out: list[Slot] = []
    now = 0.0
    for n in sent:
        now += 0.02
        out += _push(buffer, start + n, now)
    out += buffer.handle_timer(now + 1.0)
    received = {(start + n) & 0xFFFF for n in sent}
    got = seqs(out)
    assert len(got) == len(set(got))
    # Output is consecutive from the first packet released.
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(got, got[1:], strict=False))
    for slot in out:
        assert (slot.payload is not None) == (slot.seq in received) or slot.payload is None
    delivered = {s.seq for s in out if s.payload is not None}
    late = buffer.late
    assert len(delivered) + late == len(received)
