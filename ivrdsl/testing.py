"""Test helpers: a settable wall clock and a driver that plays the caller and the switch.

Used by the IVR's own tests and available to the glue's tests later.  Nothing here
sleeps: time moves only when the driver is told to move it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivrdsl.events import IvrCommand, IvrEvent
from ivrdsl.interpreter import IvrCall
from ivrdsl.model import Scenario
from switch.control import CallOffered, DtmfReceived, Play, PromptFinished, Released

__all__ = ["Driver", "FakeClock"]


class FakeClock:
    """Wall time that moves only when told; always timezone-aware (UTC)."""

    def __init__(self, when: datetime | None = None) -> None:
        self.when = when or datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
        if self.when.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.when

    def advance(self, seconds: float) -> None:
        self.when += timedelta(seconds=seconds)


class Driver:
    """Feeds one IvrCall and keeps the timeline of (time, command) it produced."""

    def __init__(self, scenario: Scenario, *, clock: FakeClock | None = None,
                 call_id: str = "c1", **kwargs: object) -> None:
        self.clock = clock or FakeClock()
        self.now = 0.0
        self.call = IvrCall(scenario, call_id, clock=self.clock, **kwargs)  # type: ignore[arg-type]
        self.timeline: list[tuple[float, IvrCommand]] = []

    @property
    def call_id(self) -> str:
        return self.call.call_id

    def _record(self, commands: list[IvrCommand]) -> list[IvrCommand]:
        self.timeline.extend((self.now, c) for c in commands)
        return commands

    def send(self, event: IvrEvent) -> list[IvrCommand]:
        return self._record(self.call.handle(event, self.now))

    def start(self, caller: str = "600100200", callee: str = "700") -> list[IvrCommand]:
        return self.send(CallOffered(call_id=self.call_id, caller=caller, callee=callee))

    def last_play(self) -> Play:
        plays = [c for _, c in self.timeline if isinstance(c, Play)]
        assert plays, "nothing was played"
        return plays[-1]

    def prompt_done(self, *, after: float = 0.0, interrupted: bool = False) -> list[IvrCommand]:
        """The last Play ends (``after`` seconds from now)."""
        self.wait(after)
        return self.send(PromptFinished(call_id=self.call_id,
                                        prompt_id=self.last_play().prompt_id,
                                        interrupted=interrupted))

    def press(self, digits: str, *, gap: float = 0.2) -> list[IvrCommand]:
        out: list[IvrCommand] = []
        for digit in digits:
            self.wait(gap)
            out += self.send(DtmfReceived(call_id=self.call_id, digit=digit, at=self.now,
                                          duration_ms=100, source="rfc4733"))
        return out

    def wait(self, seconds: float) -> list[IvrCommand]:
        """Let ``seconds`` pass, firing every timer that falls due on the way."""
        end = self.now + seconds
        out: list[IvrCommand] = []
        for _ in range(10_000):  # bounded: a timer that never advances is a bug
            timer = self.call.get_timer()
            if timer is None or timer > end:
                break
            self.clock.advance(max(0.0, timer - self.now))
            self.now = max(self.now, timer)
            out += self._record(self.call.handle_timer(self.now))
        else:  # pragma: no cover
            raise AssertionError("timers did not settle")
        self.clock.advance(end - self.now)
        self.now = end
        return out

    def hang_up(self) -> list[IvrCommand]:
        return self.send(Released(call_id=self.call_id, cause="caller-hangup"))

    def commands(self, kind: type | None = None) -> list[IvrCommand]:
        return [c for _, c in self.timeline if kind is None or isinstance(c, kind)]
