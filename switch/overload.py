"""Overload control for registration storms, sans-I/O.

Overload shows as two things at once: the process is on the CPU nearly all the time,
and UDP peers retransmit because answers come late (retransmissions are what turn a
busy server into a collapsing one). While both hold, a growing share of *new*
registration attempts is answered 503 with Retry-After (cheap, stateless); once either
clears, the share shrinks again. Requests already challenged are never shed, so the
registrations in flight complete and throughput stays near capacity.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class OverloadControl:
    busy_threshold: float = 0.95  # share of wall time on the CPU
    retransmit_threshold: float = 0.005  # absorbed retransmissions per request received
    step: float = 0.1
    max_share: float = 0.9
    share: float = 0.0

    def update(self, busy: float, received: int, retransmissions: int) -> float:
        """Feed one measurement window; returns the new share of attempts to shed."""
        retransmitting = received > 0 and retransmissions > self.retransmit_threshold * received
        if busy >= self.busy_threshold and retransmitting:
            self.share = min(self.max_share, self.share + self.step)
        else:
            self.share = max(0.0, round(self.share - self.step, 6))
        return self.share
