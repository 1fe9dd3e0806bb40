"""Leg alignment: timestamps place audio, gaps become silence, jumps re-anchor cleanly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from media.recording import StereoAligner

START = 50.0


def const(v: int, n: int = 160) -> np.ndarray:
    return np.full(n, v, np.int16)


def drain(al: StereoAligner, now: float) -> np.ndarray:
    return al.pull_all(now)


def test_two_legs_in_step() -> None:
    al = StereoAligner(START)
    for k in range(50):
        t = START + 0.02 * (k + 1)
        al.push(0, const(1000), 1234 + 160 * k, t)
        al.push(1, const(-2000), 999_000 + 160 * k, t + 0.003)
    out = drain(al, START + 1.0)
    assert out.shape == (8024, 2)  # the callee's last frame ends 3 ms (24 samples) later
    assert (out[:7984, 0] == 1000).all() and (out[:, 1] == -2000).sum() >= 7900
    assert 0 < out[7999, 0] < 1000  # a leg's end fades out (2 ms) instead of clicking


def test_reordering_within_hold_back_is_placed_by_timestamp() -> None:
    al = StereoAligner(START)
    order = [0, 1, 3, 2, 4, 7, 5, 6, 8, 9]  # up to 3 packets out of order
    for i, k in enumerate(order):
        al.push(0, const(k + 1), 160 * k, START + 0.02 * (i + 1))
    out = drain(al, START + 0.2)[:, 0]
    assert [int(out[160 * k + 80]) for k in range(10)] == list(range(1, 11))
    assert al.late_frames == 0


def test_lost_frame_is_silence_with_ramps_and_length_kept() -> None:
    al = StereoAligner(START)
    for k in range(20):
        if k == 10:
            continue
        al.push(0, const(8000), 160 * k, START + 0.02 * (k + 1))
    out = drain(al, START + 0.4)[:, 0].astype(int)
    assert len(out) == 3200
    assert not out[1600:1760].any()  # the gap is silence, not dropped
    assert out[1000] == 8000 and out[2000] == 8000
    # no click: ramps down into and up out of the gap
    assert 0 < out[1590] < 8000 and 0 < out[1770] < 8000
    assert np.abs(np.diff(out)).max() < 2000


def test_callee_starts_later_and_silent_until_then() -> None:
    al = StereoAligner(START)
    for k in range(100):
        t = START + 0.02 * (k + 1)
        al.push(0, const(500), 160 * k, t)
        if k >= 50:  # answered after a second
            al.push(1, const(700), 77 + 160 * (k - 50), t)
    out = drain(al, START + 2.0)
    assert not out[:7900, 1].any()
    assert (out[8200:-16, 1] == 700).all()


def test_pull_hands_out_only_what_is_final_and_timeline_follows_wall_clock() -> None:
    al = StereoAligner(START, hold_back=0.1)
    got = []
    for k in range(100):
        now = START + 0.02 * (k + 1)
        if k % 10 != 5:  # one leg sends with gaps, the other nothing
            al.push(0, const(100), 160 * k, now)
        got.append(al.pull(now))
    out = np.concatenate(got)
    assert len(out) == round((2.0 - 0.1) * 8000)  # exactly the wall-clock time minus hold-back
    assert not out[:, 1].any()


def test_timestamp_jump_reanchors_at_arrival() -> None:
    al = StereoAligner(START)
    for k in range(25):
        al.push(0, const(300), 160 * k, START + 0.02 * (k + 1))
    for k in range(25, 50):  # new stream: timestamps jump far ahead
        al.push(0, const(300), 4_000_000_000 + 160 * k, START + 0.02 * (k + 1))
    out = drain(al, START + 1.0)[:, 0]
    assert len(out) == 8000 and al.reanchors == 1
    assert (out[200:7900] == 300).all()  # continuous, no hole, no pile-up


def test_timestamp_wraps_around_2_32() -> None:
    al = StereoAligner(START)
    ts0 = 2**32 - 160 * 5
    for k in range(10):
        al.push(1, const(42), (ts0 + 160 * k) % 2**32, START + 0.02 * (k + 1))
    out = drain(al, START + 0.2)[:, 1]
    assert (out[:-16] == 42).all() and al.reanchors == 0


def test_too_late_frame_dropped_and_slow_clock_slips() -> None:
    al = StereoAligner(START, hold_back=0.06)
    for k in range(10):
        al.push(0, const(10), 160 * k, START + 0.02 * (k + 1))
    al.pull(START + 0.2)  # everything up to 0.14 s is out
    assert al.push(0, const(99), 160 * 3, START + 0.2) is False  # old: too late
    assert al.late_frames == 1
    # the newest frame whose slot is already out (slow sender): slipped, not lost
    al.pull(START + 0.3)
    assert al.push(0, const(77), 160 * 10, START + 0.3)
    out = drain(al, START + 0.4)[:, 0]
    assert np.count_nonzero(out) >= 156 and (out == 77).sum() == 160 - 2 * 16  # ramps


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_property_reorder_up_to_3_and_loss(data: st.DataObject) -> None:
    """Any loss, and network delays that reorder by up to 3 packets: every received frame
    lands in its own slot, lost ones are silence, nothing is late, nothing re-anchors."""
    n = 60
    lost = data.draw(st.sets(st.integers(0, n - 1), max_size=15))
    # frame k is sent at 20 ms·k; a delay in [0, 70 ms) lets ≤ 3 later frames overtake it
    delay = data.draw(st.lists(st.floats(0, 0.069), min_size=n, max_size=n))
    arrivals = sorted((START + 0.1 + 0.02 * (k + 1) + delay[k], k)
                      for k in range(n) if k not in lost)  # media starts 100 ms in
    al = StereoAligner(START)
    out = []
    for now, k in arrivals:
        assert al.push(0, const(k + 1), 160 * k, now)
        out.append(al.pull(now))
    out.append(al.pull_all(START + 0.1 + 0.02 * (n + 5)))
    both = np.concatenate(out)
    left = both[:, 0]
    assert al.late_frames == 0 and al.reanchors == 0 and not both[:, 1].any()
    assert len(both) == round((0.1 + 0.02 * (n + 5)) * 8000)
    if not arrivals:
        return
    origin = al.legs[0].anchor_pos - al.legs[0].anchor_ext  # where timestamp 0 lands
    assert origin >= 0
    for k in range(n):
        mid = left[origin + 160 * k + 20 : origin + 160 * k + 140]
        assert (mid == (0 if k in lost else k + 1)).all(), k
