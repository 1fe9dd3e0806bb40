"""No caller starves: with aging, a low-priority caller under a sustained stream of
higher-priority arrivals is served within the bound derived in acd/core.py:

    wait <= w* + ceil(N / agents) * handle + handle,

w* = f^-1(p_max - p_low) (after w* no later arrival can precede it), N = interactions
that joined before join + w* (the only ones that may still be ahead), `handle` the
(fixed) handling time. Without aging the same caller is never served.
"""

from __future__ import annotations

import math

import pytest

from acd import commands as C
from acd import events as E
from acd.aging import Aging
from acd.core import AcdCore
from acd.model import AcdConfig, AgentConfig, Membership, QueueConfig

HANDLE = 60.0
AGENTS = 2
GAP = 20.0  # high-priority arrivals every 20 s: 3/min offered vs 2/min served (overload)
HORIZON = 3000.0


def run(aging: Aging | None, x_join: float = 100.0) -> float | None:
    """Return when the low-priority caller X was offered (None: never)."""
    cfg = AcdConfig(
        queues=(QueueConfig(name="q", wrapup_s=0, announce_period_s=None, aging=aging),),
        agents=tuple(AgentConfig(agent_id=f"a{i}", queues=(Membership(queue="q"),))
                     for i in range(AGENTS)),
    )  # fmt: skip
    c = AcdCore(cfg)
    for i in range(AGENTS):
        c.handle(E.AgentLoggedIn(agent_id=f"a{i}"), 0.0)
    ends: list[tuple[float, str]] = []
    t, n = 0.0, 0
    served_x: float | None = None
    x_sent = False

    def react(out: list[object], now: float) -> None:
        nonlocal served_x
        for cmd in out:
            if isinstance(cmd, C.Offer):
                if cmd.interaction_id == "X":
                    served_x = now
                c.handle(E.OfferAccepted(interaction_id=cmd.interaction_id,
                                         agent_id=cmd.agent_id), now)  # fmt: skip
                ends.append((now + HANDLE, cmd.interaction_id))
                ends.sort()

    for _ in range(100_000):  # bounded loop
        nxt_arr = t + GAP
        timer = c.get_timer()
        if timer is not None and timer < min(nxt_arr, ends[0][0] if ends else math.inf):
            react(c.handle_timer(timer), timer)  # aging breakpoints
            continue
        if not x_sent and x_join <= min(nxt_arr, ends[0][0] if ends else math.inf):
            x_sent = True
            react(c.handle(E.InteractionArrived(interaction_id="X", queue="q", priority=0),
                           x_join), x_join)  # fmt: skip
            continue
        if ends and ends[0][0] <= nxt_arr:
            now, iid = ends.pop(0)
            react(c.handle(E.InteractionEnded(interaction_id=iid), now), now)
        else:
            t = nxt_arr
            if t > HORIZON:
                break
            react(c.handle(E.InteractionArrived(interaction_id=f"h{n}", queue="q",
                                                priority=5), t), t)  # fmt: skip
            n += 1
        if served_x is not None:
            break
    return served_x


@pytest.mark.parametrize("aging", [
    Aging.linear(step=1, every_s=30, cap=10),
    Aging.linear(step=1, every_s=10),
    Aging(segments=((0.0, 0.0), (60.0, 0.1))),  # nothing for a minute, then fast
])  # fmt: skip
def test_aging_bounds_the_wait(aging: Aging) -> None:
    x_join = 100.0
    w_star = aging.wait_for(5 - 0)
    assert w_star < math.inf
    n_before = math.floor((x_join + w_star) / GAP)  # high arrivals that joined before
    bound = w_star + math.ceil(n_before / AGENTS) * HANDLE + HANDLE
    served = run(aging, x_join)
    assert served is not None
    assert served - x_join <= bound, (served - x_join, bound)


def test_without_aging_the_low_priority_caller_starves() -> None:
    assert run(None) is None
