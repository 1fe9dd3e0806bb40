"""IVR-specific events and commands, alongside the shared ones of `switch.control`.

The shared seam has no HTTP, no survey storage, no queue feedback and no way to stop
one ringing leg of a ring group; these types fill that gap for the IVR alone, so the
glue that runs scenarios on live calls knows exactly what it must provide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from switch.control import (
    Answer,
    Answered,
    CallOffered,
    Collect,
    Dial,
    DialResult,
    DtmfReceived,
    Enqueue,
    Hangup,
    Play,
    PromptFinished,
    Record,
    RecordingFinished,
    Released,
    Ringing,
    StopPlayback,
)

__all__ = [
    "CancelDial",
    "Clock",
    "HttpRequest",
    "HttpResult",
    "IvrCommand",
    "IvrEvent",
    "LeaveQueue",
    "QueueResult",
    "QueueUpdate",
    "StoreSurveyAnswer",
]


class Clock(Protocol):
    """Wall time for schedules: must return a timezone-aware datetime."""

    def now(self) -> datetime: ...


# --- commands -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """Ask a URL; the answer comes back as HttpResult with the same request_id."""

    call_id: str
    request_id: str
    method: Literal["GET", "POST"]
    url: str
    body: tuple[tuple[str, str], ...] = ()  # form fields (POST)
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSurveyAnswer:
    """Keep one survey answer with the call (None: the caller gave no valid key)."""

    call_id: str
    survey: str
    question: str
    answer: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelDial:
    """Stop ringing an outbound leg placed by Dial (ring-group losers, max ring time)."""

    call_id: str
    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveQueue:
    """Take the caller out of a queue (the IVR's max_wait ran out)."""

    call_id: str
    queue: str


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResult:
    """The answer to HttpRequest: a status and body, or an error (DNS, refused, …)."""

    call_id: str
    request_id: str
    status: int | None = None
    body: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueUpdate:
    """The caller's place in the queue changed (1 = next)."""

    call_id: str
    queue: str
    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueResult:
    """How the wait in a queue ended on the ACD's side."""

    call_id: str
    queue: str
    outcome: Literal["answered", "timeout", "full", "closed"]


IvrEvent = (
    CallOffered
    | Ringing
    | Answered
    | DialResult
    | DtmfReceived
    | PromptFinished
    | RecordingFinished
    | Released
    | HttpResult
    | QueueUpdate
    | QueueResult
)

IvrCommand = (
    Answer
    | Play
    | StopPlayback
    | Collect
    | Dial
    | Enqueue
    | Record
    | Hangup
    | HttpRequest
    | StoreSurveyAnswer
    | CancelDial
    | LeaveQueue
)
