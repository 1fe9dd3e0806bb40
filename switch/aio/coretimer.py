"""One `call_at` handle per sans-I/O core, re-armed from the core's `get_timer()`.

DESIGN.md's rule for the asyncio layer: after feeding a core, ask it for its earliest
deadline and move a single timer there if it changed. The SIP runtime and the media
backend both do exactly that; this is the one copy of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class CoreTimer:
    """`rearm()` after every input to the core; `fire` runs when the deadline comes."""

    __slots__ = ("loop", "deadline_of", "fire", "handle", "armed_at")

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 deadline_of: Callable[[], float | None], fire: Callable[[], None]) -> None:
        self.loop = loop
        self.deadline_of = deadline_of  # the core's get_timer
        self.fire = fire
        self.handle: asyncio.TimerHandle | None = None
        self.armed_at: float | None = None

    def rearm(self) -> None:
        deadline = self.deadline_of()
        if deadline == self.armed_at:
            return
        self.cancel()
        self.armed_at = deadline
        if deadline is not None:
            self.handle = self.loop.call_at(deadline, self._fired)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.armed_at = None

    def _fired(self) -> None:
        self.handle = self.armed_at = None
        self.fire()
