"""Discrete-event simulator driving the real ACD core, and Erlang C to check it against.

Poisson arrivals (rate λ), exponential handling times (mean 1/μ), `agents` identical
agents in one queue, offers accepted at once, no wrap-up, no abandonment: an M/M/c
queue, for which Erlang C gives the probability of waiting, the average speed of
answer and the service level exactly. Everything is seeded (`random.Random(seed)`),
and time is virtual: the simulator interleaves its own events with the core's
`get_timer()` deadlines.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from acd import events as E
from acd.commands import Offer
from acd.core import AcdCore
from acd.model import AcdConfig, AgentConfig, Membership, QueueConfig


def erlang_c(agents: int, offered_erlangs: float) -> float:
    """Probability that an arrival waits, M/M/c with c=`agents`, A=λ/μ (< c)."""
    c, a = agents, offered_erlangs
    if a >= c:
        return 1.0
    term = 1.0
    total = 1.0  # sum_{k<c} a^k/k!
    for k in range(1, c):
        term *= a / k
        total += term
    top = term * a / c * c / (c - a)  # a^c/c! * c/(c-a)
    return top / (total + top)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErlangC:
    p_wait: float
    asa_s: float
    service_level: float  # P(wait <= threshold)


def erlang_c_metrics(*, agents: int, arrival_rate: float, mean_handle_s: float,
                     threshold_s: float) -> ErlangC:  # fmt: skip
    mu = 1.0 / mean_handle_s
    a = arrival_rate / mu
    pw = erlang_c(agents, a)
    rate = agents * mu - arrival_rate
    return ErlangC(p_wait=pw, asa_s=pw / rate,
                   service_level=1.0 - pw * math.exp(-rate * threshold_s))  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    arrivals: int
    answered: int
    asa_s: float
    service_level: float
    p_wait: float


_ARRIVE, _END = 0, 1


class Simulator:
    def __init__(self, *, agents: int, arrival_rate: float, mean_handle_s: float,
                 threshold_s: float = 20.0, seed: int = 1,
                 strategy: str = "longest-idle") -> None:  # fmt: skip
        if agents < 1 or arrival_rate <= 0 or mean_handle_s <= 0:
            raise ValueError("agents >= 1, arrival_rate > 0 and mean_handle_s > 0 required")
        self.agents = agents
        self.arrival_rate = arrival_rate
        self.mean_handle_s = mean_handle_s
        self.threshold_s = threshold_s
        self.rng = random.Random(seed)
        queue = QueueConfig(name="q", strategy=strategy, wrapup_s=0.0, announce_period_s=None,
                            sl_threshold_s=threshold_s)  # fmt: skip
        cfg = AcdConfig(
            queues=(queue,),
            agents=tuple(AgentConfig(agent_id=f"a{i}", queues=(Membership(queue="q"),))
                         for i in range(agents)),
            seed=seed,
        )  # fmt: skip
        self.core = AcdCore(cfg)

    def run(self, arrivals: int, *, warmup: int = 0) -> SimResult:
        rng, core = self.rng, self.core
        heap: list[tuple[float, int, int, str]] = []
        seq = 0
        now = 0.0
        for i in range(self.agents):
            core.handle(E.AgentLoggedIn(agent_id=f"a{i}"), now)
        heapq.heappush(heap, (rng.expovariate(self.arrival_rate), 0, _ARRIVE, ""))
        n_arr = 0
        waits: list[float] = []
        while heap:
            timer = core.get_timer()
            if timer is not None and timer < heap[0][0]:
                now = timer
                out = core.handle_timer(now)
            else:
                now, _, kind, iid = heapq.heappop(heap)
                if kind == _ARRIVE:
                    out = core.handle(E.InteractionArrived(interaction_id=f"c{n_arr}",
                                                           queue="q"), now)  # fmt: skip
                    n_arr += 1
                    if n_arr < arrivals:
                        seq += 1
                        heapq.heappush(heap, (now + rng.expovariate(self.arrival_rate), seq,
                                              _ARRIVE, ""))  # fmt: skip
                else:
                    out = core.handle(E.InteractionEnded(interaction_id=iid), now)
            pending = [c for c in out if isinstance(c, Offer)]
            while pending:
                o = pending.pop()
                if int(o.interaction_id[1:]) >= warmup:
                    waits.append(o.explanation.waited_s)
                seq += 1
                heapq.heappush(heap, (now + rng.expovariate(1.0 / self.mean_handle_s), seq,
                                      _END, o.interaction_id))  # fmt: skip
                pending += [c for c in core.handle(E.OfferAccepted(
                    interaction_id=o.interaction_id, agent_id=o.agent_id), now)
                    if isinstance(c, Offer)]  # fmt: skip
        n = len(waits)
        return SimResult(
            arrivals=n_arr, answered=n,
            asa_s=sum(waits) / n if n else 0.0,
            service_level=sum(1 for w in waits if w <= self.threshold_s) / n if n else 1.0,
            p_wait=sum(1 for w in waits if w > 0) / n if n else 0.0,
        )  # fmt: skip
