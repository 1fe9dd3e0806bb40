"""Commands out of the ACD core, and the explanation every routing decision carries.

Besides these, the core emits `switch.control.Dial` (to ring a callback's customer)
and `QueueLogEntry` records (Asterisk queue_log-like) for `acd.queue_log.QueueLogStore`.
"""

from __future__ import annotations

from dataclasses import dataclass

from switch.control import Dial


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillMatch:
    skill: str
    required: int  # minimum proficiency asked for (after relaxation)
    agent_level: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Why this agent got this interaction (for logs and the admin API)."""

    strategy: str
    trigger: str  # "arrival" | "agent-free" | "requeue" | "relaxed" | "hold-expired" | …
    effective_priority: float
    waited_s: float
    agent_score: tuple[float, ...]  # the strategy's key for the agent (lower is better)
    penalty: int
    skills_matched: tuple[SkillMatch, ...]
    relaxation_step: int  # how many relax steps had applied (0: original requirements)
    relationship: bool  # chosen because it last served this customer
    eligible_agents: int  # logged-in agents eligible for the requirements (skill bucket)


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    interaction_id: str
    agent_id: str
    queue: str
    kind: str
    extensions: tuple[str, ...]
    ring_timeout_s: float
    deadline: float
    explanation: Explanation


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOffer:
    interaction_id: str
    agent_id: str
    reason: str  # "answered-elsewhere" | "ring-timeout" | "abandoned" | "logout" | …


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnouncePosition:
    interaction_id: str
    queue: str
    position: int  # 1 = next
    estimated_wait_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Overflow:
    """The interaction leaves `from_queue`: into ``queue:NAME`` of this ACD, to another
    target, or (target "") back to the scenario with nowhere configured."""

    interaction_id: str
    from_queue: str
    target: str
    reason: str  # "max-wait" | "max-waiting" | "no-agents"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCallback:
    """An agent is reserved for a callback; the accompanying Dial rings the customer."""

    interaction_id: str
    agent_id: str
    number: str
    request_id: str
    explanation: Explanation


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakApprovalRequired:
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakRefused:
    agent_id: str
    reason: str
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStatusNotice:
    """The agent's derived status changed (offline, ready, break, busy, wrapup, reserved)."""

    agent_id: str
    status: str
    reason: str
    since: float


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLogEntry:
    """One queue_log row: time|callid|queue|agent|event|data1..data5 (Asterisk)."""

    time: float
    interaction_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ()


Command = (
    Offer
    | CancelOffer
    | AnnouncePosition
    | Overflow
    | StartCallback
    | Dial
    | BreakApprovalRequired
    | BreakRefused
    | AgentStatusNotice
    | QueueLogEntry
)
