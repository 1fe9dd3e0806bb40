"""Configuration of the ACD: queues, agents, break types; and the errors it raises.

All configuration is frozen dataclasses validated on construction, so a bad value is
reported where it was written (a `ConfigError` naming the field), never deep inside
routing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from acd.aging import Aging

Kind = Literal["call", "chat", "task"]
KINDS: tuple[str, ...] = ("call", "chat", "task")
DEFAULT_CHAT_CAPACITY = 6  # the source documents: one agent holds up to 6 chats


class AcdError(ValueError):
    """Base class of every error the ACD reports for bad input."""


class ConfigError(AcdError):
    """A queue, agent or break type is misconfigured."""


class UnknownQueue(AcdError):
    pass


class UnknownAgent(AcdError):
    pass


class UnknownInteraction(AcdError):
    pass


class DuplicateInteraction(AcdError):
    pass


def check_skills(skills: tuple[tuple[str, int], ...], what: str) -> None:
    seen: set[str] = set()
    for item in skills:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ConfigError(f"{what}: skills must be (name, level) pairs, got {item!r}")
        name, level = item
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{what}: skill name must be a non-empty string, got {name!r}")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise ConfigError(f"{what}: proficiency of {name!r} must be an int 1-5, got {level!r}")
        if name in seen:
            raise ConfigError(f"{what}: skill {name!r} listed twice")
        seen.add(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaxStep:
    """After `after_s` seconds of waiting, require `skill` only at `min_level` (0: drop)."""

    after_s: float
    skill: str
    min_level: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.after_s) and self.after_s > 0):
            raise ConfigError(f"relax step for {self.skill!r}: after_s must be > 0")
        if not 0 <= self.min_level <= 5:
            raise ConfigError(f"relax step for {self.skill!r}: min_level must be 0-5")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """One queue. Overflow targets are tried in order: ``"queue:NAME"`` moves the
    interaction into another queue of this ACD; any other string (an extension, a
    number, ``"voicemail"``) hands it back to call control with an Overflow command.
    """

    name: str
    strategy: str = "longest-idle"
    ring_timeout_s: float = 30.0
    wrapup_s: float = 10.0
    max_waiting: int | None = None  # max callers; arrivals beyond it overflow
    max_wait_s: float | None = None  # waiting longer than this overflows
    sl_threshold_s: float = 20.0  # service level: answered within this
    announce_period_s: float | None = 30.0  # AnnouncePosition period (None: never)
    overflow: tuple[str, ...] = ()
    overflow_when_empty: bool = True  # no agent logged in: overflow on arrival
    aging: Aging | None = None
    relax: tuple[RelaxStep, ...] = ()
    relationship_window_s: float = 0.0  # 0: relationship keeping off
    relationship_wait_s: float = 0.0  # how long to wait for the last agent
    default_handle_s: float = 180.0  # for estimated wait before any call was handled

    def __post_init__(self) -> None:
        from acd.strategies import STRATEGIES  # import here: strategies import model

        if not self.name or not isinstance(self.name, str):
            raise ConfigError("queue: name must be a non-empty string")
        w = f"queue {self.name!r}"
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"{w}: unknown strategy {self.strategy!r} (known: {', '.join(sorted(STRATEGIES))})"
            )
        for fname in ("ring_timeout_s", "sl_threshold_s", "default_handle_s"):
            v = getattr(self, fname)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ConfigError(f"{w}: {fname} must be a positive number, got {v!r}")
        for fname in ("wrapup_s", "relationship_window_s", "relationship_wait_s"):
            v = getattr(self, fname)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"{w}: {fname} must be >= 0, got {v!r}")
        if self.max_waiting is not None and self.max_waiting < 0:
            raise ConfigError(f"{w}: max_waiting must be >= 0")
        if self.max_wait_s is not None and not self.max_wait_s > 0:
            raise ConfigError(f"{w}: max_wait_s must be > 0")
        if self.announce_period_s is not None and not self.announce_period_s > 0:
            raise ConfigError(f"{w}: announce_period_s must be > 0 or None")
        for t in self.overflow:
            if not isinstance(t, str) or not t or t == "queue:":
                raise ConfigError(f"{w}: overflow target must be a non-empty string, got {t!r}")
            if t == f"queue:{self.name}":
                raise ConfigError(f"{w}: a queue cannot overflow into itself")
        if list(self.relax) != sorted(self.relax, key=lambda s: s.after_s):
            raise ConfigError(f"{w}: relax steps must be in order of after_s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """An agent's place in one queue: lower penalty is offered first (Asterisk)."""

    queue: str
    penalty: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    agent_id: str
    extensions: tuple[str, ...] = ()
    skills: tuple[tuple[str, int], ...] = ()
    queues: tuple[Membership, ...] = ()
    chat_capacity: int = DEFAULT_CHAT_CAPACITY
    group: str = ""  # for conditional breaks ("at most N of a group on break")

    def __post_init__(self) -> None:
        if not self.agent_id or not isinstance(self.agent_id, str):
            raise ConfigError("agent: agent_id must be a non-empty string")
        check_skills(self.skills, f"agent {self.agent_id!r}")
        if not 1 <= self.chat_capacity <= 100:
            raise ConfigError(f"agent {self.agent_id!r}: chat_capacity must be 1-100")
        names = [m.queue for m in self.queues]
        if len(set(names)) != len(names):
            raise ConfigError(f"agent {self.agent_id!r}: a queue is listed twice")


BreakMode = Literal["immediate", "approval", "conditional"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakType:
    """A break reason. `conditional`: granted only while fewer than `max_concurrent`
    agents of the requester's group are on break."""

    reason: str
    mode: BreakMode = "immediate"
    max_concurrent: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ("immediate", "approval", "conditional"):
            raise ConfigError(f"break {self.reason!r}: unknown mode {self.mode!r}")
        if self.max_concurrent < 0:
            raise ConfigError(f"break {self.reason!r}: max_concurrent must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdConfig:
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...] = ()
    breaks: tuple[BreakType, ...] = ()
    missed_limit: int = 3  # consecutive ring-no-answers before the "missed" break (0: off)
    missed_reason: str = "missed"
    callback_timeout_s: float = 90.0  # no answer/failure report for a callback: give up
    seed: int | None = None  # for the random strategy

    def __post_init__(self) -> None:
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ConfigError("acd: queue names must be unique")
        for q in self.queues:
            for t in q.overflow:
                if t.startswith("queue:") and t[6:] not in names:
                    raise ConfigError(f"queue {q.name!r}: overflow to unknown queue {t[6:]!r}")
        ids = [a.agent_id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise ConfigError("acd: agent ids must be unique")
        for a in self.agents:
            for m in a.queues:
                if m.queue not in names:
                    raise ConfigError(f"agent {a.agent_id!r}: unknown queue {m.queue!r}")
        if self.missed_limit < 0:
            raise ConfigError("acd: missed_limit must be >= 0")
