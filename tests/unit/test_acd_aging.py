"""Aging functions, the position index, and the strategy registry."""

from __future__ import annotations

import math
import random

import pytest

from acd import commands as C
from acd import events as E
from acd.aging import Aging
from acd.core import AcdCore
from acd.model import AcdConfig, ConfigError, QueueConfig
from acd.positions import AliveIndex
from acd.strategies import STRATEGIES, make_strategy


def test_linear_aging_with_cap() -> None:
    f = Aging.linear(step=1, every_s=30, cap=10)
    assert f.segments == ((0.0, 1 / 30), (300.0, 0.0))
    assert f.value(0) == 0 and f.value(15) == pytest.approx(0.5) and f.value(900) == 10
    assert f.maximum == 10
    assert f.wait_for(5) == pytest.approx(150) and f.wait_for(10) == pytest.approx(300)
    assert f.wait_for(10.5) == math.inf and f.wait_for(-1) == 0
    assert Aging.none().value(1e6) == 0 and Aging.none().wait_for(0.1) == math.inf
    g = Aging(segments=((0.0, 0.0), (60.0, 0.5), (70.0, 0.1)))
    assert g.value(60) == 0 and g.value(70) == 5 and g.value(80) == pytest.approx(6)
    assert g.wait_for(6) == pytest.approx(80) and g.maximum == math.inf


@pytest.mark.parametrize("segments", [(), ((1.0, 0.1),), ((0.0, 1.0), (0.0, 2.0)),
                                      ((0.0, float("inf")),)])  # fmt: skip
def test_bad_aging_rejected(segments: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ConfigError):
        Aging(segments=segments)


def test_alive_index_counts_and_compacts() -> None:
    class Owner:
        pos_i = -1

    idx = AliveIndex()
    owners = [Owner() for _ in range(3000)]
    for i, o in enumerate(owners):
        idx.add(float(i), o)
    for o in owners[:2500]:
        idx.remove(o)
    idx.add(3000.0, Owner())  # triggers compaction (dead > alive)
    assert idx.count_at_or_before(2999.0) == 500
    assert idx.count_before_slot(owners[2600].pos_i) == 100
    assert idx.n_alive == 501


def test_announced_positions_match_brute_force() -> None:
    rng = random.Random(4)
    aging = Aging.linear(step=1, every_s=20, cap=4)
    core = AcdCore(AcdConfig(queues=(QueueConfig(name="q", aging=aging, announce_period_s=7.0,
                                                 overflow_when_empty=False),)))  # fmt: skip
    joins: dict[str, tuple[int, float]] = {}
    checked = 0

    def run_timers(until: float) -> None:
        nonlocal checked
        t = core.get_timer()
        while t is not None and t <= until:
            for ann in core.handle_timer(t):
                if isinstance(ann, C.AnnouncePosition):
                    p, j = joins[ann.interaction_id]
                    mine = p + aging.value(t - j)
                    ahead = 0
                    for other, (p2, j2) in joins.items():
                        theirs = p2 + aging.value(t - j2)
                        if other != ann.interaction_id and (
                            theirs > mine + 1e-9 or (abs(theirs - mine) <= 1e-9 and j2 < j)
                        ):
                            ahead += 1
                    assert ann.position == ahead + 1, (ann, ahead, t)
                    assert ann.estimated_wait_s == round(ann.position * 180.0, 1)  # no agents
                    checked += 1
            t = core.get_timer()

    now = 0.0
    for n in range(80):
        now += rng.choice([0.5, 1.0, 3.0])
        run_timers(now)
        iid = f"i{n}"
        core.handle(E.InteractionArrived(interaction_id=iid, queue="q",
                                         priority=rng.randint(0, 3)), now)  # fmt: skip
        joins[iid] = (core._items[iid].priority, now)
        if rng.random() < 0.2:
            gone = rng.choice(sorted(joins))
            core.handle(E.CallerAbandoned(interaction_id=gone), now)
            del joins[gone]
    run_timers(now + 60)
    assert checked > 100


def test_registry() -> None:
    assert set(STRATEGIES) == {"ring-all", "linear", "round-robin", "random", "least-recent",
                               "fewest-calls", "longest-idle", "skills", "profit"}
    assert make_strategy("profit").name == "profit"
    with pytest.raises(ValueError):
        make_strategy("nope")
