"""The ACD routing core: sans-I/O, event in → commands out, with exact deadlines.

Theory of operation
===================

Interface. ``AcdCore.handle(event, now) -> list[Command]``, ``get_timer()`` and
``handle_timer(now) -> list[Command]``. Events (acd.events) come from call control,
agent desktops and supervisors; commands (acd.commands, plus ``switch.control.Dial``
for callbacks) go back, together with ``QueueLogEntry`` rows and
``AgentStatusNotice``s that the glue hands to storage and the event bus. Nothing here
reads a clock; ``now`` is never allowed to go backwards (it is clamped).

State. An *interaction* is in one of: waiting (in the routing indexes), held
(relationship keeping: reserved for its last agent for a while), offered (ringing one
agent, or several for ring-all), dialing (a callback: agent reserved, customer being
dialled), connected, done. An *agent* has a presence (offline / ready / break with a
reason) and derived status: reserved (an offer out), busy, wrap-up, break, ready.

The key invariant, restored at the end of every ``handle``/``handle_timer``: **no free
agent is eligible for a waiting interaction**. So when an interaction arrives the only
question is which free agent (the strategy's), and when an agent frees up, which
waiting interaction (the best by effective priority) — never a global rescan.

Indexes (why it is fast).

* *Skill buckets.* Interactions of one queue and kind with the same (current)
  requirements ``((skill, min level), ...)`` form a bucket. An agent is eligible for
  all of a bucket or none, so eligibility is computed once per (agent, bucket): when
  the bucket is created (scanning only the queue's agents holding its rarest skill)
  or the agent logs in. Real centres have tens to hundreds of requirement sets, not
  one per call.
* *Waiting heaps with time-invariant keys.* Per bucket, one heap per aging segment.
  With piecewise-linear aging (acd.aging) every interaction in segment k grows at
  the same slope, so the heap key ``K = base + F_k - s_k (join + t_k)`` never changes;
  the effective priority is ``K + s_k now``. An interaction moves to the next
  segment's heap at the breakpoint (a timer), and to another bucket when a relax
  step drops or lowers a requirement (a timer). Ties: earlier join first.
* *Free-agent heaps.* Per bucket, the free eligible agents ordered by
  ``(penalty, strategy key)``; the key is computed when the agent becomes free.
* Both heaps use lazy deletion (an entry carries a token; a stale one is skipped and
  heaps are rebuilt when mostly stale).

So an arrival costs one heap push per index plus a peek at the bucket's free-agent
heap; an agent freeing up costs a peek at each of its eligible buckets' segment
heaps (O(buckets × segments), independent of how many are waiting); timers are one
binary heap. Positions for announcements use per-priority Fenwick trees
(acd.positions), O(levels × log n).

No starvation. With aging that keeps growing past every gap in base priority (a
positive slope until f exceeds max base − min base), an interaction X that has waited
w* = f⁻¹(p_max − p_X) has effective priority ≥ that of any later arrival at its
arrival, and later arrivals never catch up (same f, less waiting; ties go to the
earlier join). So X is preceded only by interactions that joined before
join_X + w*: a finite set, served at the agents' rate. X's wait is therefore at most
w* + (interactions ahead at that moment) × (handling time) / (eligible agents) — the
bound tests/unit/test_acd_starvation.py checks with a fake clock.

Rules. Ring-no-answer after the queue's ring timeout re-queues the interaction (keeping
its place) and tries the next agent (excluding the one that missed); ``missed_limit``
consecutive misses put the agent on the "missed" break. Wrap-up follows every
interaction. Breaks are immediate, need approval, or are conditional (at most N of the
agent's group on break). Overflow on max wait, max waiting or no agent logged in, to
another queue of this core (keeping priority; aging restarts) or out. A callback keeps
the interaction's place without a caller on the line; when chosen, an agent is reserved
and a Dial rings the customer.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from acd import commands as C
from acd import events as E
from acd.aging import Aging
from acd.model import (
    AcdConfig,
    AcdError,
    AgentConfig,
    BreakType,
    DuplicateInteraction,
    QueueConfig,
    UnknownAgent,
    UnknownQueue,
)
from acd.positions import AliveIndex
from acd.strategies import QueueMemory, Strategy, make_strategy
from switch.control import Dial

Reqs = tuple[tuple[str, int], ...]

# interaction states
WAITING, HELD, OFFERED, DIALING, CONNECTED, DONE = range(6)
STATE_NAMES = ("waiting", "held", "offered", "dialing", "connected", "done")
# presence
OFFLINE, READY, BREAK = 0, 1, 2
_EPS = 1e-9  # exact ties in effective priority are decided by join time, not rounding
# timer kinds
T_MOVE, T_RING, T_WRAP, T_MAXWAIT, T_ANNOUNCE, T_HOLD, T_CALLBACK = range(7)


class _Item:
    __slots__ = (
        "id", "queue", "kind", "priority", "reqs0", "reqs", "relax_i", "customer",
        "join", "enter", "seq", "state", "bucket", "seg", "token", "offers",
        "offer_token", "ring_started", "callback", "agent", "overdue", "pos_i",
        "in_queue", "qtoken", "hold_token", "held_by", "connected_at", "outcome",
    )  # fmt: skip

    def __init__(self, ev: E.InteractionArrived, seq: int, now: float) -> None:
        self.id = ev.interaction_id
        self.queue: _Queue | None = None
        self.kind = ev.kind
        self.priority = ev.priority
        self.reqs0: Reqs = tuple(sorted(ev.skills))
        self.reqs: Reqs = self.reqs0
        self.relax_i = 0
        self.customer = ev.customer_id
        self.join = now
        self.enter = now
        self.seq = seq
        self.state = WAITING
        self.bucket: _Bucket | None = None
        self.seg = 0
        self.token = 0
        self.offers: list[_Agent] = []
        self.offer_token = 0
        self.ring_started = now
        self.callback: str | None = None
        self.agent: _Agent | None = None
        self.overdue = False
        self.pos_i = -1
        self.in_queue = False
        self.qtoken = 0
        self.hold_token = 0
        self.held_by: _Agent | None = None
        self.connected_at = 0.0
        self.outcome = ""


class _Agent:
    __slots__ = (
        "cfg", "id", "order", "skills", "member", "logged_in", "presence", "reason",
        "awaiting", "offers", "active", "exclusive", "wrap_until", "wrap_token",
        "avail_token", "idle_since", "last_end", "calls_taken", "missed", "missed_total",
        "status", "status_since", "time_in", "buckets", "held", "talk_s", "handled",
    )  # fmt: skip

    def __init__(self, cfg: AgentConfig, order: int, now: float) -> None:
        self.order = order
        self.apply_config(cfg)
        self.logged_in = False
        self.presence = OFFLINE
        self.reason = ""
        self.awaiting: str | None = None
        self.offers: dict[str, _Item] = {}
        self.active: dict[str, _Item] = {}
        self.exclusive = 0
        self.wrap_until: float | None = None
        self.wrap_token = 0
        self.avail_token = 0
        self.idle_since = now
        self.last_end = -math.inf
        self.calls_taken = 0
        self.missed = 0
        self.missed_total = 0
        self.status = "offline"
        self.status_since = now
        self.time_in: dict[str, float] = {}
        self.buckets: list[_Bucket] = []
        self.held: list[tuple[_Item, int]] = []
        self.talk_s = 0.0
        self.handled = 0

    def apply_config(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.id = cfg.agent_id
        self.skills: dict[str, int] = dict(cfg.skills)
        self.member: dict[str, int] = {m.queue: m.penalty for m in cfg.queues}

    @property
    def load(self) -> int:
        return len(self.active)

    def can_take(self, kind: str) -> bool:
        if self.presence != READY or self.offers or self.wrap_until is not None:
            return False
        if kind == "chat":
            return self.exclusive == 0 and len(self.active) < self.cfg.chat_capacity
        return not self.active

    def eligible(self, reqs: Reqs) -> bool:
        skills = self.skills
        for s, m in reqs:
            if skills.get(s, 0) < m:
                return False
        return True


class _Bucket:
    __slots__ = ("queue", "kind", "reqs", "segs", "seg_counts", "n_waiting", "free", "agents")

    def __init__(self, queue: _Queue, kind: str, reqs: Reqs) -> None:
        self.queue = queue
        self.kind = kind
        self.reqs = reqs
        n = len(queue.seg_params)
        self.segs: list[list[Any]] = [[] for _ in range(n)]
        self.seg_counts = [0] * n
        self.n_waiting = 0
        self.free: list[Any] = []
        self.agents: set[_Agent] = set()


class _Queue:
    __slots__ = (
        "cfg", "name", "strategy", "memory", "aging", "seg_params", "buckets", "members",
        "by_skill", "n_in_queue", "join_order", "positions", "entered", "answered",
        "answered_in_sl", "abandoned", "abandoned_in_sl", "overflowed", "wait_answered",
        "handled", "handle_total", "callbacks",
    )  # fmt: skip

    def __init__(self, cfg: QueueConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.strategy: Strategy = make_strategy(cfg.strategy, rng)
        self.memory = QueueMemory()
        self.aging: Aging = cfg.aging or Aging()
        self.seg_params: list[tuple[float, float, float]] = [
            (start, slope, self.aging.offset(k))
            for k, (start, slope) in enumerate(self.aging.segments)
        ]
        self.buckets: dict[tuple[str, Reqs], _Bucket] = {}
        # logged-in members; dicts, not sets: iteration order must not depend on ids
        # (the random strategy draws in this order, and runs must be reproducible)
        self.members: dict[_Agent, None] = {}
        self.by_skill: dict[str, dict[_Agent, None]] = {}
        self.n_in_queue = 0
        self.join_order: deque[tuple[_Item, int]] = deque()
        self.positions: dict[int, AliveIndex] = {}
        self.entered = self.answered = self.answered_in_sl = 0
        self.abandoned = self.abandoned_in_sl = self.overflowed = 0
        self.handled = self.callbacks = 0
        self.wait_answered = self.handle_total = 0.0

    def effective(self, item: _Item, now: float) -> float:
        return item.priority + self.aging.value(now - item.join)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    queue: str
    waiting: int
    longest_wait_s: float
    agents_logged_in: int
    agents_ready: int
    agents_busy: int  # busy, reserved (ringing) or in wrap-up
    agents_on_break: int
    entered: int
    answered: int
    abandoned: int
    overflowed: int
    callbacks: int
    service_level: float  # answered within threshold / (answered + abandoned after it)
    asa_s: float  # average speed of answer
    aht_s: float  # average handling time


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStats:
    agent_id: str
    status: str
    reason: str
    in_status_s: float
    time_in_status: dict[str, float]
    handled: int
    missed: int
    talk_s: float
    active: int


def _log(out: list[Any], now: float, iid: str, queue: str, agent: str, event: str,
         *data: object) -> None:  # fmt: skip
    out.append(C.QueueLogEntry(time=now, interaction_id=iid, queue=queue, agent=agent,
                               event=event, data=tuple(str(d) for d in data)))  # fmt: skip


class AcdCore:
    """See the module docstring. Construct with an `AcdConfig`."""

    def __init__(self, config: AcdConfig, *, rng: random.Random | None = None,
                 now: float = 0.0) -> None:  # fmt: skip
        self.config = config
        self._rng = rng if rng is not None else random.Random(config.seed)
        self._queues: dict[str, _Queue] = {q.name: _Queue(q, self._rng) for q in config.queues}
        self._agents: dict[str, _Agent] = {}
        self._items: dict[str, _Item] = {}
        self._breaks: dict[str, BreakType] = {b.reason: b for b in config.breaks}
        self._on_break: dict[str, int] = {}  # group -> agents on break
        self._last_agent: dict[str, tuple[str, float]] = {}  # customer -> (agent, when)
        self._max_window = max((q.relationship_window_s for q in config.queues), default=0.0)
        self._timers: list[tuple[float, int, int, Any, int]] = []
        self._seq = 0
        self._now = now
        for a in config.agents:
            self._add_agent(a, now)

    # ----------------------------------------------------------------- public API
    def handle(self, event: E.Event, now: float) -> list[Any]:
        now = self._clock(now)
        out: list[Any] = []
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise AcdError(f"not an ACD event: {type(event).__name__}")
        handler(self, event, now, out)
        return out

    def get_timer(self) -> float | None:
        timers = self._timers
        while timers:
            when, _, kind, obj, token = timers[0]
            if self._timer_valid(kind, obj, token):
                return when
            heapq.heappop(timers)
        return None

    def handle_timer(self, now: float) -> list[Any]:
        now = self._clock(now)
        out: list[Any] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, kind, obj, token = heapq.heappop(timers)
            if self._timer_valid(kind, obj, token):
                self._fire(kind, obj, now, out)
        return out

    def effective_priority(self, interaction_id: str, now: float) -> float:
        item = self._item(interaction_id)
        assert item.queue is not None
        return item.queue.effective(item, now)

    def interaction_state(self, interaction_id: str) -> str:
        item = self._items.get(interaction_id)
        return STATE_NAMES[item.state] if item else "gone"

    def agent_status(self, agent_id: str) -> str:
        return self._agent(agent_id).status

    def queue_stats(self, name: str, now: float) -> QueueStats:
        q = self._queue(name)
        longest = 0.0
        jo = q.join_order
        while jo and not self._in_queue(jo[0], q):
            jo.popleft()
        if jo:
            longest = max(0.0, now - jo[0][0].join)
        ready = busy = brk = 0
        for a in q.members:
            if a.status == "ready":
                ready += 1
            elif a.status == "break":
                brk += 1
            elif a.status in ("busy", "reserved", "wrapup"):
                busy += 1
        sl_den = q.answered + q.abandoned - q.abandoned_in_sl
        return QueueStats(
            queue=name, waiting=q.n_in_queue, longest_wait_s=longest,
            agents_logged_in=len(q.members), agents_ready=ready, agents_busy=busy,
            agents_on_break=brk, entered=q.entered, answered=q.answered,
            abandoned=q.abandoned, overflowed=q.overflowed, callbacks=q.callbacks,
            service_level=q.answered_in_sl / sl_den if sl_den else 1.0,
            asa_s=q.wait_answered / q.answered if q.answered else 0.0,
            aht_s=q.handle_total / q.handled if q.handled else 0.0,
        )  # fmt: skip

    def agent_stats(self, agent_id: str, now: float) -> AgentStats:
        a = self._agent(agent_id)
        times = dict(a.time_in)
        times[a.status] = times.get(a.status, 0.0) + (now - a.status_since)
        return AgentStats(
            agent_id=a.id, status=a.status, reason=a.reason if a.presence == BREAK else "",
            in_status_s=now - a.status_since, time_in_status=times, handled=a.handled,
            missed=a.missed_total, talk_s=a.talk_s, active=len(a.active),
        )  # fmt: skip

    def waiting_count(self) -> int:
        return sum(q.n_in_queue for q in self._queues.values())

    def bucket_count(self) -> int:
        return sum(len(q.buckets) for q in self._queues.values())

    def add_agent(self, config: AgentConfig, now: float) -> None:
        """Configure a new agent (offline until it logs in)."""
        if config.agent_id in self._agents:
            raise AcdError(f"agent {config.agent_id!r} already exists")
        self._add_agent(config, self._clock(now))

    def check_invariants(self) -> None:
        """Assert the routing invariants (tests; O(everything))."""
        for q in self._queues.values():
            for b in q.buckets.values():
                n = 0
                for k, h in enumerate(b.segs):
                    c = sum(1 for e in h if e[4] == e[3].token and e[3].state == WAITING)
                    assert c == b.seg_counts[k], (q.name, b.reqs, k, c, b.seg_counts[k])
                    n += c
                assert n == b.n_waiting
                if n:
                    for a in b.agents:
                        assert not a.can_take(b.kind), (a.id, "free but", b.reqs, "waits")
        for a in self._agents.values():
            assert len(a.offers) <= 1, a.id
            for item in a.offers.values():  # a callback's reservation may outlast a break
                assert a.logged_in and (a.presence == READY or item.state == DIALING), a.id

    # ------------------------------------------------------------------ internals
    def _clock(self, now: float) -> float:
        if not math.isfinite(now):
            raise AcdError(f"now must be finite, got {now!r}")
        if now > self._now:
            self._now = now
        return self._now

    def _queue(self, name: str) -> _Queue:
        try:
            return self._queues[name]
        except KeyError:
            raise UnknownQueue(f"unknown queue {name!r}") from None

    def _agent(self, agent_id: str) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"unknown agent {agent_id!r}") from None

    def _item(self, iid: str) -> _Item:
        try:
            return self._items[iid]
        except KeyError:
            raise AcdError(f"unknown interaction {iid!r}") from None

    def _add_agent(self, cfg: AgentConfig, now: float) -> None:
        for m in cfg.queues:
            self._queue(m.queue)
        self._agents[cfg.agent_id] = _Agent(cfg, len(self._agents), now)

    def _timer(self, when: float, kind: int, obj: object, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, kind, obj, token))

    def _timer_valid(self, kind: int, obj: Any, token: int) -> bool:
        if kind == T_MOVE:
            return bool(obj.state == WAITING and obj.token == token)
        if kind == T_RING:
            return bool(obj.state == OFFERED and obj.offer_token == token)
        if kind == T_WRAP:
            return bool(obj.wrap_until is not None and obj.wrap_token == token)
        if kind in (T_MAXWAIT, T_ANNOUNCE):
            return bool(obj.in_queue and obj.qtoken == token and obj.callback is None)
        if kind == T_HOLD:
            return bool(obj.state == HELD and obj.hold_token == token)
        if kind == T_CALLBACK:
            return bool(obj.state == DIALING and obj.offer_token == token)
        return False

    def _fire(self, kind: int, obj: Any, now: float, out: list[Any]) -> None:
        if kind == T_MOVE:
            item: _Item = obj
            old = item.bucket
            self._leave_heaps(item)
            self._enter_heaps(item, now)
            if item.bucket is not old:
                self._route_item(item, now, out, "relaxed")
        elif kind == T_RING:
            item = obj
            for a in list(item.offers):
                self._miss(item, a, now, out, "ring-timeout", cancel=True)
        elif kind == T_WRAP:
            agent: _Agent = obj
            agent.wrap_until = None
            agent.idle_since = now
            self._agent_freed(agent, now, out)
        elif kind == T_MAXWAIT:
            item = obj
            if item.state == OFFERED:
                item.overdue = True  # let the ring finish; overflow if it is not answered
            elif item.state in (WAITING, HELD):
                assert item.queue is not None
                self._overflow(item, item.queue, "max-wait", now, out)
        elif kind == T_ANNOUNCE:
            item = obj
            q = item.queue
            assert q is not None and q.cfg.announce_period_s is not None
            if item.state in (WAITING, HELD):
                pos = self._position(item, now)
                aht = q.handle_total / q.handled if q.handled else q.cfg.default_handle_s
                out.append(C.AnnouncePosition(
                    interaction_id=item.id, queue=q.name, position=pos,
                    estimated_wait_s=round(pos * aht / max(1, len(q.members)), 1)))  # fmt: skip
            self._timer(now + q.cfg.announce_period_s, T_ANNOUNCE, item, item.qtoken)
        elif kind == T_HOLD:
            item = obj
            self._release_hold(item, now, out)
        elif kind == T_CALLBACK:
            self._callback_failed(obj, now, out, "timeout")

    # --- queues and heaps -------------------------------------------------------
    def _bucket(self, q: _Queue, kind: str, reqs: Reqs) -> _Bucket:
        b = q.buckets.get((kind, reqs))
        if b is None:
            b = q.buckets[(kind, reqs)] = _Bucket(q, kind, reqs)
            cands: Iterable[_Agent] = q.members
            for s, _ in reqs:
                pool = q.by_skill.get(s)
                if pool is None:
                    cands = ()
                    break
                if len(pool) < len(cands):  # type: ignore[arg-type]
                    cands = pool
            for a in cands:
                if a.eligible(reqs):
                    b.agents.add(a)
                    a.buckets.append(b)
                    if a.can_take(kind):
                        self._push_free(a, b)
        return b

    def _push_free(self, a: _Agent, b: _Bucket) -> None:
        q = b.queue
        self._seq += 1
        heapq.heappush(b.free, (a.member[q.name], q.strategy.key(a, b.reqs), self._seq, a,
                                a.avail_token))  # fmt: skip
        if len(b.free) > 2 * len(b.agents) + 16:
            b.free = [e for e in b.free if e[4] == e[3].avail_token and e[3] in b.agents]
            heapq.heapify(b.free)

    def _publish(self, a: _Agent) -> None:
        """The agent can take more work: enter every eligible bucket's free heap."""
        a.avail_token += 1
        for b in a.buckets:
            if a.can_take(b.kind):
                self._push_free(a, b)

    def _current_reqs(self, item: _Item, q: _Queue, i: int) -> Reqs:
        if i == 0:
            return item.reqs0
        d = dict(item.reqs0)
        for step in q.cfg.relax[:i]:
            if step.skill in d:
                if step.min_level == 0:
                    del d[step.skill]
                else:
                    d[step.skill] = min(d[step.skill], step.min_level)
        return tuple(sorted(d.items()))

    def _enter_heaps(self, item: _Item, now: float) -> None:
        q = item.queue
        assert q is not None
        # compare absolute times (join + t <= now), never now - join: the timer for the
        # next change is at join + t, and it must be strictly in the future
        join = item.join
        steps = q.cfg.relax
        i = item.relax_i
        while i < len(steps) and join + steps[i].after_s <= now:
            i += 1
        if i != item.relax_i or item.bucket is None or item.bucket.queue is not q:
            item.relax_i = i
            item.reqs = self._current_reqs(item, q, i)
            item.bucket = self._bucket(q, item.kind, item.reqs)
        b = item.bucket
        sp = q.seg_params
        k = 0
        while k + 1 < len(sp) and join + sp[k + 1][0] <= now:
            k += 1
        start, slope, off = sp[k]
        item.token += 1
        item.seg = k
        item.state = WAITING
        self._seq += 1
        heapq.heappush(b.segs[k], (-(item.priority + off - slope * (item.join + start)),
                                   item.join, self._seq, item, item.token))  # fmt: skip
        b.seg_counts[k] += 1
        b.n_waiting += 1
        h = b.segs[k]
        if len(h) > 2 * b.seg_counts[k] + 32:
            b.segs[k] = [e for e in h if e[4] == e[3].token and e[3].state == WAITING]
            heapq.heapify(b.segs[k])
        nxt = item.join + sp[k + 1][0] if k + 1 < len(sp) else math.inf
        if i < len(steps):
            nxt = min(nxt, item.join + steps[i].after_s)
        if nxt < math.inf:
            self._timer(nxt, T_MOVE, item, item.token)

    def _leave_heaps(self, item: _Item) -> None:
        if item.state == WAITING and item.bucket is not None:
            b = item.bucket
            b.seg_counts[item.seg] -= 1
            b.n_waiting -= 1
        item.token += 1

    def _in_queue(self, entry: tuple[_Item, int], q: _Queue) -> bool:
        item, tok = entry
        return item.in_queue and item.queue is q and item.qtoken == tok

    def _join_queue(self, item: _Item, q: _Queue, now: float, out: list[Any], trigger: str,
                    overflowed_from: str = "") -> None:  # fmt: skip
        item.queue = q
        item.join = now
        item.qtoken += 1
        item.in_queue = True
        item.relax_i = 0
        item.bucket = None
        item.overdue = False
        q.n_in_queue += 1
        q.entered += 1
        jo = q.join_order
        jo.append((item, item.qtoken))
        if len(jo) > 2 * q.n_in_queue + 1024:  # drop the departed (they leave out of order)
            q.join_order = deque(e for e in jo if self._in_queue(e, q))
        idx = q.positions.get(item.priority)
        if idx is None:
            idx = q.positions[item.priority] = AliveIndex()
        idx.add(now, item)
        _log(out, now, item.id, q.name, "NONE", "ENTERQUEUE", overflowed_from,
             item.customer or "", item.priority)  # fmt: skip
        cfg = q.cfg
        if cfg.max_wait_s is not None and item.callback is None:
            self._timer(now + cfg.max_wait_s, T_MAXWAIT, item, item.qtoken)
        if cfg.announce_period_s is not None and item.callback is None:
            self._timer(now + cfg.announce_period_s, T_ANNOUNCE, item, item.qtoken)
        if self._try_relationship(item, q, now, out):
            return
        self._enter_heaps(item, now)
        self._route_item(item, now, out, trigger)

    def _leave_queue(self, item: _Item) -> None:
        if item.in_queue:
            q = item.queue
            assert q is not None
            item.in_queue = False
            q.n_in_queue -= 1
            q.positions[item.priority].remove(item)

    def _position(self, item: _Item, now: float) -> int:
        """1 + interactions of the queue ahead by effective priority (ties: earlier)."""
        q = item.queue
        assert q is not None
        eff = q.effective(item, now)
        ahead = 0
        for p, idx in q.positions.items():
            if p == item.priority:
                ahead += idx.count_before_slot(item.pos_i)
                continue
            if p < item.priority:  # ahead if f(w) >= eff - p (a tie: it waited longer)
                w = q.aging.wait_for(eff - p)
                if w < math.inf:
                    ahead += idx.count_at_or_before(now - w + _EPS)
            else:  # ahead only if f(w) > eff - p (a tie: it waited less, so behind)
                w = q.aging.wait_beyond(eff - p)
                if w == -math.inf:
                    ahead += idx.n_alive
                elif w < math.inf:
                    ahead += idx.count_before(now - w - _EPS)
        return ahead + 1

    # --- routing ----------------------------------------------------------------
    def _explain(self, item: _Item, a: _Agent, now: float, trigger: str,
                 relationship: bool = False) -> C.Explanation:  # fmt: skip
        q = item.queue
        assert q is not None and item.bucket is not None
        return C.Explanation(
            strategy=q.strategy.name, trigger=trigger,
            effective_priority=q.effective(item, now), waited_s=now - item.join,
            agent_score=tuple(float(x) for x in q.strategy.key(a, item.reqs)),
            penalty=a.member.get(q.name, 0),
            skills_matched=tuple(C.SkillMatch(skill=s, required=m, agent_level=a.skills[s])
                                 for s, m in item.reqs),
            relaxation_step=item.relax_i, relationship=relationship,
            eligible_agents=len(item.bucket.agents),
        )  # fmt: skip

    def _valid_free(self, e: Any, b: _Bucket) -> bool:
        a = e[3]
        return bool(e[4] == a.avail_token and a.can_take(b.kind) and a in b.agents)

    def _route_item(self, item: _Item, now: float, out: list[Any], trigger: str,
                    exclude: tuple[_Agent, ...] = ()) -> None:  # fmt: skip
        """A waiting interaction looks for free agents in its bucket."""
        if item.state != WAITING:
            return
        b = item.bucket
        assert b is not None
        strategy = b.queue.strategy
        h = b.free
        if strategy.mode == "best" and not exclude:
            while h:
                if self._valid_free(h[0], b):
                    self._offer(item, [h[0][3]], now, out, trigger)
                    return
                heapq.heappop(h)
            return
        cands = sorted(e for e in h if self._valid_free(e, b) and e[3] not in exclude)
        if not cands:
            return
        agents = [e[3] for e in cands]
        if strategy.mode == "best":
            chosen: list[Any] = [agents[0]]
        else:
            chosen = strategy.pick(agents, b.queue.memory)
        if chosen:
            self._offer(item, chosen, now, out, trigger)

    def _route_agent(self, a: _Agent, now: float, out: list[Any]) -> bool:
        """A free agent looks for the best waiting interaction among its buckets."""
        if a.presence != READY or a.offers or a.wrap_until is not None:
            return False
        while a.held:
            item, tok = a.held[0]
            if item.state != HELD or item.hold_token != tok:
                a.held.pop(0)
                continue
            if not a.can_take(item.kind):
                break
            a.held.pop(0)
            item.state = WAITING  # back in the indexes for the offer bookkeeping
            self._enter_heaps(item, now)
            self._offer(item, [a], now, out, "relationship", relationship=True)
            return True
        best: _Item | None = None
        best_eff = -math.inf
        best_join = 0.0
        best_seq = 0
        take_call = not a.active  # can_take() per kind, hoisted out of the loop
        take_chat = a.exclusive == 0 and len(a.active) < a.cfg.chat_capacity
        for b in a.buckets:
            if not b.n_waiting or not (take_chat if b.kind == "chat" else take_call):
                continue
            sp = b.queue.seg_params
            for k, h in enumerate(b.segs):
                if not b.seg_counts[k]:
                    continue
                while h:
                    e = h[0]
                    if e[4] == e[3].token and e[3].state == WAITING:
                        break
                    heapq.heappop(h)
                e = h[0]
                eff = -e[0] + sp[k][1] * now
                if eff > best_eff or (eff == best_eff and (e[1], e[2]) < (best_join, best_seq)):
                    best, best_eff, best_join, best_seq = e[3], eff, e[1], e[2]
        if best is None:
            return False
        self._offer(best, [a], now, out, "agent-free")
        return True

    def _agent_freed(self, a: _Agent, now: float, out: list[Any]) -> None:
        """The agent may be able to take work: route it, else publish it as free."""
        if a.logged_in and a.presence == READY and not a.offers and a.wrap_until is None:
            if not self._route_agent(a, now, out):
                self._publish(a)
        self._status(a, now, out)

    def _offer(self, item: _Item, agents: list[_Agent], now: float, out: list[Any],
               trigger: str, relationship: bool = False) -> None:  # fmt: skip
        q = item.queue
        assert q is not None
        if item.callback is not None:
            agents = agents[:1]  # a callback reserves one agent, even in a ring-all queue
        expl = [self._explain(item, a, now, trigger, relationship) for a in agents]
        self._leave_heaps(item)
        item.offers = list(agents)
        item.offer_token += 1
        item.ring_started = now
        for a in agents:
            a.offers[item.id] = item
            a.avail_token += 1
            self._status(a, now, out)
        q.strategy.offered(agents[-1], q.memory)
        if item.callback is not None:
            a = agents[0]
            item.state = DIALING
            rid = f"callback-{item.id}"
            out.append(C.StartCallback(interaction_id=item.id, agent_id=a.id,
                                       number=item.callback, request_id=rid,
                                       explanation=expl[0]))  # fmt: skip
            out.append(Dial(request_id=rid, target=item.callback, kind="external",
                            timeout_s=q.cfg.ring_timeout_s))  # fmt: skip
            _log(out, now, item.id, q.name, a.id, "CALLBACKSTART", item.callback)
            self._timer(now + self.config.callback_timeout_s, T_CALLBACK, item,
                        item.offer_token)  # fmt: skip
            return
        item.state = OFFERED
        deadline = now + q.cfg.ring_timeout_s
        for a, ex in zip(agents, expl, strict=True):
            out.append(C.Offer(interaction_id=item.id, agent_id=a.id, queue=q.name,
                               kind=item.kind, extensions=a.cfg.extensions,
                               ring_timeout_s=q.cfg.ring_timeout_s, deadline=deadline,
                               explanation=ex))  # fmt: skip
            _log(out, now, item.id, q.name, a.id, "OFFER", trigger, round(ex.effective_priority, 3))
        self._timer(deadline, T_RING, item, item.offer_token)

    def _withdraw(self, item: _Item, a: _Agent) -> None:
        del a.offers[item.id]
        item.offers.remove(a)

    def _requeue(self, item: _Item, now: float, out: list[Any],
                 exclude: tuple[_Agent, ...]) -> None:  # fmt: skip
        """No offer left: back into the indexes with the same join time (its place)."""
        q = item.queue
        assert q is not None
        item.offer_token += 1
        if item.overdue and item.callback is None:
            item.state = WAITING
            item.token += 1
            item.bucket = None  # not in any heap
            self._overflow(item, q, "max-wait", now, out)
            return
        self._enter_heaps(item, now)
        self._route_item(item, now, out, "requeue", exclude)

    def _miss(self, item: _Item, a: _Agent, now: float, out: list[Any], why: str,
              cancel: bool) -> None:  # fmt: skip
        """Ring-no-answer or reject by agent `a`."""
        q = item.queue
        assert q is not None
        self._withdraw(item, a)
        if cancel:
            out.append(C.CancelOffer(interaction_id=item.id, agent_id=a.id, reason=why))
        _log(out, now, item.id, q.name, a.id, "RINGNOANSWER",
             int((now - item.ring_started) * 1000), why)  # fmt: skip
        if why != "rejected":
            a.missed += 1
            a.missed_total += 1
            limit = self.config.missed_limit
            if limit and a.missed >= limit:
                self._set_break(a, self.config.missed_reason, now, out)
        if not item.offers:
            self._requeue(item, now, out, (a,))
        self._agent_freed(a, now, out)

    def _cancel_all(self, item: _Item, now: float, out: list[Any], reason: str) -> list[_Agent]:
        agents = list(item.offers)
        for a in agents:
            self._withdraw(item, a)
            out.append(C.CancelOffer(interaction_id=item.id, agent_id=a.id, reason=reason))
        item.offer_token += 1
        return agents

    # --- outcomes ---------------------------------------------------------------
    def _finish(self, item: _Item, outcome: str) -> None:
        self._leave_queue(item)
        item.state = DONE
        item.outcome = outcome
        item.token += 1
        self._items.pop(item.id, None)

    def _connect(self, item: _Item, a: _Agent, now: float, out: list[Any]) -> None:
        q = item.queue
        assert q is not None
        for other in list(item.offers):
            if other is not a:
                self._withdraw(item, other)
                out.append(C.CancelOffer(interaction_id=item.id, agent_id=other.id,
                                         reason="answered-elsewhere"))  # fmt: skip
                self._agent_freed(other, now, out)
        self._withdraw(item, a)
        item.offer_token += 1
        item.state = CONNECTED
        item.agent = a
        item.connected_at = now
        wait = now - item.join
        q.answered += 1
        q.wait_answered += wait
        if wait <= q.cfg.sl_threshold_s:
            q.answered_in_sl += 1
        self._leave_queue(item)
        a.active[item.id] = item
        if item.kind != "chat":
            a.exclusive += 1
        a.calls_taken += 1
        a.missed = 0
        if item.customer is not None:
            self._remember(item.customer, a.id, now)
        _log(out, now, item.id, q.name, a.id, "CONNECT", round(wait, 3), item.id,
             round(now - item.ring_started, 3))  # fmt: skip
        self._agent_freed(a, now, out)  # status; a chat agent may take more

    def _abandon(self, item: _Item, now: float, out: list[Any]) -> None:
        q = item.queue
        assert q is not None
        freed: list[_Agent] = []
        if item.state in (OFFERED, DIALING):
            freed = self._cancel_all(item, now, out, "abandoned")
        elif item.state == WAITING:
            self._leave_heaps(item)
        pos = self._position(item, now) if item.in_queue else 0
        wait = now - item.join
        q.abandoned += 1
        if wait <= q.cfg.sl_threshold_s:
            q.abandoned_in_sl += 1
        _log(out, now, item.id, q.name, "NONE", "ABANDON", pos, 0, round(wait, 3))
        self._finish(item, "abandoned")
        for a in freed:
            self._agent_freed(a, now, out)

    def _overflow(self, item: _Item, q: _Queue, reason: str, now: float,
                  out: list[Any]) -> None:  # fmt: skip
        if item.state == WAITING:
            self._leave_heaps(item)
        was_in = item.in_queue
        pos = self._position(item, now) if was_in else 0
        self._leave_queue(item)
        q.overflowed += 1
        event = {"max-wait": "EXITWITHTIMEOUT", "max-waiting": "FULL"}.get(
            reason, "EXITEMPTY" if was_in else "JOINEMPTY")
        target = ""
        for t in q.cfg.overflow:
            if not t.startswith("queue:"):
                target = t
                break
            tq = self._queues[t[6:]]
            full = tq.cfg.max_waiting is not None and tq.n_in_queue >= tq.cfg.max_waiting
            empty = not tq.members and tq.cfg.overflow_when_empty
            if not (full or empty):
                target = t
                break
        _log(out, now, item.id, q.name, "NONE", event, pos, target, round(now - item.join, 3))
        out.append(C.Overflow(interaction_id=item.id, from_queue=q.name, target=target,
                              reason=reason))  # fmt: skip
        if target.startswith("queue:"):
            item.state = WAITING
            item.bucket = None
            self._join_queue(item, self._queues[target[6:]], now, out, "overflow", q.name)
        else:
            self._finish(item, "overflowed")

    def _callback_failed(self, item: _Item, now: float, out: list[Any], reason: str) -> None:
        q = item.queue
        assert q is not None
        agents = list(item.offers)
        for a in agents:
            self._withdraw(item, a)
        item.offer_token += 1
        _log(out, now, item.id, q.name, agents[0].id if agents else "NONE",
             "CALLBACKFAILED", reason)  # fmt: skip
        q.callbacks += 1
        self._finish(item, "callback-failed")
        for a in agents:
            self._agent_freed(a, now, out)

    # --- relationship keeping -----------------------------------------------------
    def _remember(self, customer: str, agent_id: str, now: float) -> None:
        last = self._last_agent
        last.pop(customer, None)  # re-insert: the dict stays in order of last contact
        last[customer] = (agent_id, now)
        if len(last) > 1024 and (len(last) & 1023) == 0:
            horizon = now - self._max_window
            for cust in list(last):
                if last[cust][1] >= horizon:
                    break
                del last[cust]

    def _try_relationship(self, item: _Item, q: _Queue, now: float, out: list[Any]) -> bool:
        cfg = q.cfg
        if not cfg.relationship_window_s or item.customer is None:
            return False
        rec = self._last_agent.get(item.customer)
        if rec is None or now - rec[1] > cfg.relationship_window_s:
            return False
        a = self._agents.get(rec[0])
        if a is None or not a.logged_in or q.name not in a.member or not a.eligible(item.reqs0):
            return False
        if a.can_take(item.kind):
            self._enter_heaps(item, now)
            self._offer(item, [a], now, out, "arrival", relationship=True)
            return True
        if cfg.relationship_wait_s <= 0 or a.presence != READY:
            return False
        item.state = HELD
        item.hold_token += 1
        item.held_by = a
        item.bucket = None
        a.held.append((item, item.hold_token))
        self._timer(now + cfg.relationship_wait_s, T_HOLD, item, item.hold_token)
        return True

    def _release_hold(self, item: _Item, now: float, out: list[Any]) -> None:
        item.hold_token += 1
        item.held_by = None
        item.state = WAITING
        self._enter_heaps(item, now)
        self._route_item(item, now, out, "hold-expired")

    # --- agent status -------------------------------------------------------------
    def _status(self, a: _Agent, now: float, out: list[Any]) -> None:
        if not a.logged_in:
            new = "offline"
        elif a.offers:
            new = "reserved"
        elif a.active:
            new = "busy"
        elif a.wrap_until is not None:
            new = "wrapup"
        elif a.presence == BREAK:
            new = "break"
        else:
            new = "ready"
        if new != a.status:
            a.time_in[a.status] = a.time_in.get(a.status, 0.0) + (now - a.status_since)
            a.status = new
            a.status_since = now
            out.append(C.AgentStatusNotice(agent_id=a.id, status=new,
                                           reason=a.reason if new == "break" else "",
                                           since=now))  # fmt: skip

    def _set_break(self, a: _Agent, reason: str, now: float, out: list[Any]) -> None:
        was = a.presence
        a.presence = BREAK
        a.reason = reason
        a.awaiting = None
        a.avail_token += 1
        if was != BREAK:
            g = a.cfg.group
            self._on_break[g] = self._on_break.get(g, 0) + 1
        _log(out, now, "NONE", "NONE", a.id, "PAUSE", reason)
        for item in list(a.offers.values()):
            if item.state == OFFERED:
                self._withdraw(item, a)
                out.append(C.CancelOffer(interaction_id=item.id, agent_id=a.id, reason="break"))
                if not item.offers:
                    self._requeue(item, now, out, (a,))
        self._status(a, now, out)

    def _leave_break(self, a: _Agent) -> None:
        if a.presence == BREAK:
            g = a.cfg.group
            self._on_break[g] -= 1

    # ------------------------------------------------------------------ handlers
    def _on_login(self, ev: E.AgentLoggedIn, now: float, out: list[Any]) -> None:
        if ev.config is not None:
            if ev.config.agent_id != ev.agent_id:
                raise AcdError(f"login of {ev.agent_id!r} carries config of {ev.config.agent_id!r}")
            a = self._agents.get(ev.agent_id)
            if a is None:
                self._add_agent(ev.config, now)
            elif a.logged_in:
                raise AcdError(f"agent {ev.agent_id!r} is logged in; log out to reconfigure")
            else:
                for m in ev.config.queues:
                    self._queue(m.queue)
                a.apply_config(ev.config)
        a = self._agent(ev.agent_id)
        if a.logged_in:
            return
        a.logged_in = True
        a.presence = READY
        a.reason = ""
        a.missed = 0
        a.idle_since = now
        for qname in a.member:
            q = self._queues[qname]
            q.members[a] = None
            for s in a.skills:
                q.by_skill.setdefault(s, {})[a] = None
            for b in q.buckets.values():
                if a.eligible(b.reqs):
                    b.agents.add(a)
                    a.buckets.append(b)
        _log(out, now, "NONE", "NONE", a.id, "AGENTLOGIN", ",".join(a.cfg.extensions))
        if ev.status == "break":
            self._set_break(a, ev.reason or "login", now, out)
        self._agent_freed(a, now, out)

    def _logout(self, a: _Agent, now: float, out: list[Any], why: str) -> None:
        for item in list(a.offers.values()):
            self._withdraw(item, a)
            out.append(C.CancelOffer(interaction_id=item.id, agent_id=a.id, reason=why))
            if not item.offers:
                self._requeue(item, now, out, (a,))
        self._leave_break(a)
        a.logged_in = False
        a.presence = OFFLINE
        a.avail_token += 1
        a.wrap_until = None
        a.wrap_token += 1
        for b in a.buckets:
            b.agents.discard(a)
        a.buckets = []
        emptied: list[_Queue] = []
        for qname in a.member:
            q = self._queues[qname]
            q.members.pop(a, None)
            for s in a.skills:
                pool = q.by_skill.get(s)
                if pool is not None:
                    pool.pop(a, None)
            if not q.members:
                emptied.append(q)
        held = [item for item, tok in a.held if item.state == HELD and item.hold_token == tok]
        a.held = []
        _log(out, now, "NONE", "NONE", a.id, "AGENTLOGOFF", why)
        self._status(a, now, out)
        for item in held:
            self._release_hold(item, now, out)
        for q in emptied:
            if q.cfg.overflow_when_empty:
                for item, tok in list(q.join_order):
                    if (self._in_queue((item, tok), q) and item.callback is None
                            and item.state in (WAITING, HELD)):  # fmt: skip
                        if item.state == HELD:
                            item.hold_token += 1
                        self._overflow(item, q, "no-agents", now, out)

    def _on_logout(self, ev: E.AgentLoggedOut, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if a.logged_in:
            self._logout(a, now, out, "logout")

    def _on_disconnect(self, ev: E.AgentDisconnected, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if a.logged_in:
            self._logout(a, now, out, "disconnect")
        for item in list(a.active.values()):
            self._complete(item, now, out, "COMPLETEAGENT", "agent-disconnect")

    def _on_status(self, ev: E.StatusChanged, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if not a.logged_in:
            raise AcdError(f"agent {a.id!r} is offline: log in first")
        if ev.status == "ready":
            if a.presence == BREAK:
                self._leave_break(a)
                _log(out, now, "NONE", "NONE", a.id, "UNPAUSE", a.reason)
            a.presence = READY
            a.reason = ""
            a.awaiting = None
            a.missed = 0
            if not a.active and a.wrap_until is None:
                a.idle_since = now
            self._agent_freed(a, now, out)
            return
        if ev.status != "break":
            raise AcdError(f"agent {a.id!r}: status must be 'ready' or 'break', got {ev.status!r}")
        reason = ev.reason or "break"
        bt = self._breaks.get(reason, BreakType(reason=reason))
        if ev.forced or bt.mode == "immediate" or a.presence == BREAK:
            if a.presence == BREAK:
                self._leave_break(a)
            self._set_break(a, reason, now, out)
        elif bt.mode == "approval":
            a.awaiting = reason
            out.append(C.BreakApprovalRequired(agent_id=a.id, reason=reason))
        else:
            n = self._on_break.get(a.cfg.group, 0)
            if n < bt.max_concurrent:
                self._set_break(a, reason, now, out)
            else:
                out.append(C.BreakRefused(
                    agent_id=a.id, reason=reason,
                    why=f"{n} of group {a.cfg.group!r} on break (max {bt.max_concurrent})"))

    def _on_break_approved(self, ev: E.BreakApproved, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if a.awaiting is None or not a.logged_in:
            raise AcdError(f"agent {a.id!r} has no break awaiting approval")
        self._set_break(a, a.awaiting, now, out)

    def _on_break_denied(self, ev: E.BreakDenied, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if a.awaiting is None:
            raise AcdError(f"agent {a.id!r} has no break awaiting approval")
        out.append(C.BreakRefused(agent_id=a.id, reason=a.awaiting, why="denied"))
        a.awaiting = None

    def _on_wrapup_done(self, ev: E.WrapUpDone, now: float, out: list[Any]) -> None:
        a = self._agent(ev.agent_id)
        if a.wrap_until is not None:
            a.wrap_until = None
            a.wrap_token += 1
            a.idle_since = now
            self._agent_freed(a, now, out)

    def _on_arrived(self, ev: E.InteractionArrived, now: float, out: list[Any]) -> None:
        q = self._queue(ev.queue)
        if ev.interaction_id in self._items:
            raise DuplicateInteraction(f"interaction {ev.interaction_id!r} is already here")
        self._seq += 1
        item = _Item(ev, self._seq, now)
        self._items[item.id] = item
        item.queue = q
        cfg = q.cfg
        if not q.members and cfg.overflow_when_empty:
            self._overflow(item, q, "no-agents", now, out)
        elif cfg.max_waiting is not None and q.n_in_queue >= cfg.max_waiting:
            self._overflow(item, q, "max-waiting", now, out)
        else:
            self._join_queue(item, q, now, out, "arrival")

    def _offered_item(self, iid: str, aid: str) -> tuple[_Item, _Agent] | None:
        """The offer named by an agent's answer, or None when it is stale (a race)."""
        item = self._items.get(iid)
        a = self._agent(aid)
        if item is None or item.state != OFFERED or a not in item.offers:
            return None
        return item, a

    def _on_accepted(self, ev: E.OfferAccepted, now: float, out: list[Any]) -> None:
        found = self._offered_item(ev.interaction_id, ev.agent_id)
        if found is not None:
            self._connect(found[0], found[1], now, out)

    def _on_rejected(self, ev: E.OfferRejected, now: float, out: list[Any]) -> None:
        found = self._offered_item(ev.interaction_id, ev.agent_id)
        if found is not None:
            self._miss(found[0], found[1], now, out, "rejected", cancel=False)

    def _on_timed_out(self, ev: E.OfferTimedOut, now: float, out: list[Any]) -> None:
        found = self._offered_item(ev.interaction_id, ev.agent_id)
        if found is not None:
            self._miss(found[0], found[1], now, out, "ring-timeout", cancel=False)

    def _complete(self, item: _Item, now: float, out: list[Any], event: str,
                  *data: object) -> None:  # fmt: skip
        a = item.agent
        q = item.queue
        assert a is not None and q is not None
        del a.active[item.id]
        if item.kind != "chat":
            a.exclusive -= 1
        talk = now - item.connected_at
        a.talk_s += talk
        a.handled += 1
        a.last_end = now
        q.handled += 1
        q.handle_total += talk
        _log(out, now, item.id, q.name, a.id, event, round(item.connected_at - item.join, 3),
             round(talk, 3), *data)  # fmt: skip
        self._finish(item, "completed")
        if not a.logged_in:
            self._status(a, now, out)
            return
        if not a.active and q.cfg.wrapup_s > 0:
            a.wrap_until = now + q.cfg.wrapup_s
            a.wrap_token += 1
            a.avail_token += 1
            self._timer(a.wrap_until, T_WRAP, a, a.wrap_token)
            self._status(a, now, out)
            return
        if not a.active:
            a.idle_since = now
        self._agent_freed(a, now, out)

    def _on_ended(self, ev: E.InteractionEnded, now: float, out: list[Any]) -> None:
        item = self._items.get(ev.interaction_id)
        if item is None:
            return  # already over (e.g. the agent disconnected first)
        if item.state == CONNECTED:
            self._complete(item, now, out,
                           "COMPLETECALLER" if ev.by == "caller" else "COMPLETEAGENT")  # fmt: skip
        else:
            self._abandon(item, now, out)

    def _on_transferred(self, ev: E.InteractionTransferred, now: float, out: list[Any]) -> None:
        item = self._item(ev.interaction_id)
        if item.state != CONNECTED:
            raise AcdError(f"interaction {item.id!r} is not connected; cannot transfer")
        if ev.target.startswith("queue:"):
            tq = self._queue(ev.target[6:])
        q = item.queue
        assert q is not None
        self._complete(item, now, out, "TRANSFER", ev.target)
        if ev.target.startswith("queue:"):
            # a new interaction in the target queue, same id and customer
            item.state = WAITING
            item.token += 1
            item.agent = None
            item.bucket = None
            self._items[item.id] = item
            self._join_queue(item, tq, now, out, "transfer", q.name)

    def _on_abandoned(self, ev: E.CallerAbandoned, now: float, out: list[Any]) -> None:
        item = self._items.get(ev.interaction_id)
        if item is None:
            return
        if item.state == CONNECTED:
            self._complete(item, now, out, "COMPLETECALLER")
        else:
            self._abandon(item, now, out)

    def _on_callback_requested(self, ev: E.CallbackRequested, now: float,
                               out: list[Any]) -> None:  # fmt: skip
        item = self._item(ev.interaction_id)
        if not ev.number:
            raise AcdError(f"interaction {item.id!r}: callback needs a number")
        if item.state not in (WAITING, HELD, OFFERED):
            raise AcdError(f"interaction {item.id!r} is {STATE_NAMES[item.state]}; "
                           "a callback is only for one still waiting")  # fmt: skip
        q = item.queue
        assert q is not None
        item.callback = ev.number
        _log(out, now, item.id, q.name, "NONE", "CALLBACKREQUEST", ev.number)
        if item.state == OFFERED:
            freed = self._cancel_all(item, now, out, "callback")
            self._enter_heaps(item, now)
            for a in freed:
                self._agent_freed(a, now, out)
            self._route_item(item, now, out, "callback")
        elif item.state == HELD:
            self._release_hold(item, now, out)

    def _on_callback_answered(self, ev: E.CallbackAnswered, now: float, out: list[Any]) -> None:
        item = self._items.get(ev.interaction_id)
        if item is None or item.state != DIALING:
            return
        q = item.queue
        assert q is not None
        q.callbacks += 1
        item.state = OFFERED  # connect from the reserved state
        self._connect(item, item.offers[0], now, out)

    def _on_callback_failed(self, ev: E.CallbackFailed, now: float, out: list[Any]) -> None:
        item = self._items.get(ev.interaction_id)
        if item is not None and item.state == DIALING:
            self._callback_failed(item, now, out, ev.reason)


_HANDLERS: dict[type, Any] = {
    E.AgentLoggedIn: AcdCore._on_login,
    E.AgentLoggedOut: AcdCore._on_logout,
    E.AgentDisconnected: AcdCore._on_disconnect,
    E.StatusChanged: AcdCore._on_status,
    E.BreakApproved: AcdCore._on_break_approved,
    E.BreakDenied: AcdCore._on_break_denied,
    E.WrapUpDone: AcdCore._on_wrapup_done,
    E.InteractionArrived: AcdCore._on_arrived,
    E.OfferAccepted: AcdCore._on_accepted,
    E.OfferRejected: AcdCore._on_rejected,
    E.OfferTimedOut: AcdCore._on_timed_out,
    E.InteractionEnded: AcdCore._on_ended,
    E.InteractionTransferred: AcdCore._on_transferred,
    E.CallerAbandoned: AcdCore._on_abandoned,
    E.CallbackRequested: AcdCore._on_callback_requested,
    E.CallbackAnswered: AcdCore._on_callback_answered,
    E.CallbackFailed: AcdCore._on_callback_failed,
}
