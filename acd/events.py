"""Events into the ACD core (from call control, agent phones/desktops, supervisors).

Frozen, slotted, keyword-only dataclasses; `now` is passed to `AcdCore.handle` beside
the event. Requirements are ``(skill, minimum proficiency 1-5)`` pairs as in
`switch.control.Enqueue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from acd.model import KINDS, AcdError, AgentConfig, Kind, check_skills


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn:
    """Log in a configured agent (or a new one when `config` is given)."""

    agent_id: str
    config: AgentConfig | None = None
    status: Literal["ready", "break"] = "ready"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut:
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDisconnected:
    """The agent's phone/desktop went away: like a logout, and its calls are over."""

    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged:
    """The agent asks for ready or a break; `forced`: a supervisor sets it."""

    agent_id: str
    status: Literal["ready", "break"]
    reason: str = ""
    forced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakApproved:
    agent_id: str
    supervisor: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakDenied:
    agent_id: str
    supervisor: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WrapUpDone:
    """The agent ends wrap-up before its time is up."""

    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionArrived:
    interaction_id: str
    queue: str
    kind: Kind = "call"
    skills: tuple[tuple[str, int], ...] = ()
    priority: int = 0
    customer_id: str | None = None

    def __post_init__(self) -> None:
        if not self.interaction_id:
            raise AcdError("interaction_id must be non-empty")
        if self.kind not in KINDS:
            raise AcdError(f"interaction {self.interaction_id!r}: unknown kind {self.kind!r}")
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise AcdError(f"interaction {self.interaction_id!r}: priority must be an int")
        check_skills(self.skills, f"interaction {self.interaction_id!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferAccepted:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferRejected:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferTimedOut:
    """Ring-no-answer reported by call control (the core also has its own timer)."""

    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionEnded:
    """A connected interaction is over; `by`: who ended it."""

    interaction_id: str
    by: Literal["caller", "agent"] = "caller"


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionTransferred:
    """The agent transferred it: to ``"queue:NAME"`` (re-queued here) or elsewhere."""

    interaction_id: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerAbandoned:
    interaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackRequested:
    """The caller leaves the queue but keeps their place; call them on `number`."""

    interaction_id: str
    number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackAnswered:
    interaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackFailed:
    interaction_id: str
    reason: str = "no-answer"


Event = (
    AgentLoggedIn
    | AgentLoggedOut
    | AgentDisconnected
    | StatusChanged
    | BreakApproved
    | BreakDenied
    | WrapUpDone
    | InteractionArrived
    | OfferAccepted
    | OfferRejected
    | OfferTimedOut
    | InteractionEnded
    | InteractionTransferred
    | CallerAbandoned
    | CallbackRequested
    | CallbackAnswered
    | CallbackFailed
)
