"""RTP/RTCP port pairs from a configured range (sans-I/O: no sockets here).

A pair is an even RTP port and the odd RTCP port just above it (RFC 3550 §11).
Free pairs are handed out least-recently-released first, so a port that was just
released (late packets of the old call may still be in flight towards it) is reused
as late as possible. The asyncio layer binds what it gets; a pair it cannot bind
(another process holds one of the ports) goes back with `release()` to the end of the
queue and the next pair is tried.
"""

from __future__ import annotations

from collections import deque

from media.errors import PortsExhausted

DEFAULT_PORT_RANGE = (10000, 20000)


class PortAllocator:
    """Even RTP ports `p` with `low <= p` and `p + 1 <= high` (both ends inclusive)."""

    __slots__ = ("low", "high", "_free", "_used")

    def __init__(self, low: int = DEFAULT_PORT_RANGE[0], high: int = DEFAULT_PORT_RANGE[1]) -> None:
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"bad RTP port range {low}-{high}")
        first = low + (low & 1)
        if first + 1 > high:
            raise ValueError(f"RTP port range {low}-{high} holds no even/odd pair")
        self.low = low
        self.high = high
        self._free: deque[int] = deque(range(first, high, 2))
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many pairs the range holds in total."""
        return len(self._free) + len(self._used)

    @property
    def available(self) -> int:
        return len(self._free)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def allocate(self) -> int:
        """The RTP port of a free pair (its RTCP port is that + 1)."""
        if not self._free:
            raise PortsExhausted(
                f"all {self.capacity} RTP port pairs in {self.low}-{self.high} are in use"
            )
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> bool:
        """Return a pair (by its RTP port). False if it was not allocated (no effect)."""
        if port not in self._used:
            return False
        self._used.remove(port)
        self._free.append(port)
        return True
