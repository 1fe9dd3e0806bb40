"""Counting who is ahead in a queue, in O(log n), for position announcements.

One `AliveIndex` per (queue, base priority): the join times in arrival order (they
only grow, since `now` never goes back) and a Fenwick tree of alive flags, so "how
many still waiting joined at or before T" is a bisect plus a prefix sum. Dead slots
are compacted away when they outnumber the living.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Protocol


class Slot(Protocol):
    pos_i: int


class AliveIndex:
    __slots__ = ("times", "owners", "alive", "tree", "n_alive")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.owners: list[Slot | None] = []
        self.alive: list[bool] = []
        self.tree: list[int] = [0]  # 1-based Fenwick tree
        self.n_alive = 0

    def _prefix(self, i: int) -> int:  # alive among the first i slots
        tree = self.tree
        s = 0
        while i > 0:
            s += tree[i]
            i &= i - 1
        return s

    def add(self, t: float, owner: Slot) -> None:
        if len(self.owners) > 1024 and self.n_alive * 2 < len(self.owners):
            self._compact()
        self.times.append(t)
        self.owners.append(owner)
        self.alive.append(True)
        n = len(self.times)
        low = n & -n
        # tree[n] covers slots (n - low, n]: the new one plus the earlier ones
        self.tree.append(1 + self._prefix(n - 1) - self._prefix(n - low))
        self.n_alive += 1
        owner.pos_i = n - 1

    def remove(self, owner: Slot) -> None:
        i = owner.pos_i
        if i < 0 or i >= len(self.owners) or self.owners[i] is not owner:
            return
        self.alive[i] = False
        self.owners[i] = None
        self.n_alive -= 1
        j = i + 1
        tree = self.tree
        n = len(tree)
        while j < n:
            tree[j] -= 1
            j += j & -j
        owner.pos_i = -1

    def count_at_or_before(self, t: float) -> int:
        return self._prefix(bisect_right(self.times, t))

    def count_before(self, t: float) -> int:
        return self._prefix(bisect_left(self.times, t))

    def count_before_slot(self, i: int) -> int:
        return self._prefix(i)

    def _compact(self) -> None:
        keep = [(t, o) for t, o, a in zip(self.times, self.owners, self.alive, strict=True) if a]
        self.times = [t for t, _ in keep]
        self.owners = [o for _, o in keep]
        self.alive = [True] * len(keep)
        n = len(keep)
        tree = [0] + [1] * n
        for i in range(1, n + 1):  # O(n) Fenwick build
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self.tree = tree
        for i, o in enumerate(self.owners):
            assert o is not None
            o.pos_i = i
