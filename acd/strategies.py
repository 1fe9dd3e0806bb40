"""Routing strategies: which free agent gets an interaction.

Every strategy implements `Strategy`. The core keeps, per skill bucket, a heap of the
free eligible agents ordered by ``(penalty, *strategy.key(agent, reqs))``, computed when
the agent becomes free, so a key must not change while the agent stays free (idle
since, last call end, calls taken, a fixed order, a random draw…). Three modes:

* ``best``: the head of that heap gets the offer (O(log n));
* ``scan``: the strategy picks among all free eligible agents (round robin needs the
  memory of where it stopped; O(free agents), as in Asterisk — for small queues);
* ``all``: every free eligible agent is rung at once (ring-all).

Skill requirements are always enforced (an agent below a required proficiency is never
eligible); `skills` additionally prefers the most proficient, `profit` the agent whose
skill set is closest to the required one, keeping specialists for the calls that need
them.

Register a new strategy with `@register` under a unique `name`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar, Literal, Protocol

Mode = Literal["best", "scan", "all"]
Reqs = tuple[tuple[str, int], ...]


class AgentView(Protocol):
    @property
    def order(self) -> int: ...
    @property
    def idle_since(self) -> float: ...
    @property
    def last_end(self) -> float: ...
    @property
    def calls_taken(self) -> int: ...
    @property
    def skills(self) -> dict[str, int]: ...
    @property
    def load(self) -> int: ...


class QueueMemory:
    """Per-queue state a strategy may keep between decisions."""

    __slots__ = ("last_order",)

    def __init__(self) -> None:
        self.last_order = -1


class Strategy(Protocol):
    name: ClassVar[str]
    mode: ClassVar[Mode]

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]: ...

    def pick(self, candidates: Sequence[AgentView], memory: QueueMemory) -> list[AgentView]: ...

    def offered(self, agent: AgentView, memory: QueueMemory) -> None: ...


class _Base:
    name: ClassVar[str] = ""
    mode: ClassVar[Mode] = "best"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.load, agent.idle_since)

    def pick(self, candidates: Sequence[AgentView], memory: QueueMemory) -> list[AgentView]:
        return [min(candidates, key=lambda a: self.key(a, ()))] if candidates else []

    def offered(self, agent: AgentView, memory: QueueMemory) -> None:
        memory.last_order = agent.order


STRATEGIES: dict[str, type[_Base]] = {}


def register(cls: type[_Base]) -> type[_Base]:
    if not cls.name or cls.name in STRATEGIES:
        raise ValueError(f"strategy name {cls.name!r} missing or already registered")
    STRATEGIES[cls.name] = cls
    return cls


def make_strategy(name: str, rng: random.Random | None = None) -> Strategy:
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}") from None
    strategy: Strategy = cls(rng)
    return strategy


@register
class RingAll(_Base):
    """Ring every free eligible agent; the first to accept gets it."""

    name = "ring-all"
    mode = "all"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.order,)

    def pick(self, candidates: Sequence[AgentView], memory: QueueMemory) -> list[AgentView]:
        return list(candidates)


@register
class Linear(_Base):
    """Always in the fixed order the agents were configured in."""

    name = "linear"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.load, agent.order)


@register
class RoundRobin(_Base):
    """Fixed order, starting after the agent that got the previous offer (memory)."""

    name = "round-robin"
    mode = "scan"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.order,)

    def pick(self, candidates: Sequence[AgentView], memory: QueueMemory) -> list[AgentView]:
        if not candidates:
            return []
        last = memory.last_order
        after = [a for a in candidates if a.order > last]
        pool = after or candidates
        return [min(pool, key=lambda a: a.order)]


@register
class Random(_Base):
    """Uniformly random among free agents: each agent draws a random key (from the
    injected, seedable rng) when it becomes free; the minimum of i.i.d. draws is a
    uniform choice."""

    name = "random"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.load, self.rng.random())


@register
class LeastRecent(_Base):
    """The agent whose last interaction ended longest ago."""

    name = "least-recent"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.load, agent.last_end, agent.order)


@register
class FewestCalls(_Base):
    name = "fewest-calls"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        return (agent.load, agent.calls_taken, agent.idle_since)


@register
class LongestIdle(_Base):
    """The agent free for the longest time (idle since: login, ready or wrap-up end)."""

    name = "longest-idle"


@register
class Skills(_Base):
    """Skill-based: the most proficient in the required skills, then longest idle."""

    name = "skills"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        levels = agent.skills
        return (agent.load, -sum(levels.get(s, 0) for s, _ in reqs), agent.idle_since)


@register
class Profit(_Base):
    """Profit-based (source documents): the agent whose skill set is closest to the
    required set goes first — fewest skills beyond those required, then the smallest
    proficiency surplus on the required ones, then longest idle — so versatile agents
    stay free for the interactions only they can take."""

    name = "profit"

    def key(self, agent: AgentView, reqs: Reqs) -> tuple[float, ...]:
        levels = agent.skills
        extra = len(levels) - sum(1 for s, _ in reqs if s in levels)
        surplus = sum(levels.get(s, 0) - m for s, m in reqs)
        return (agent.load, extra, surplus, agent.idle_since)
