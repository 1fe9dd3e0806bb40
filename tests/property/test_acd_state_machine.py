"""Hypothesis state machine over the ACD core: random agents, interactions and timing.

Invariants checked after every step:
* no interaction lost or duplicated: each arrival ends exactly once — connected (then
  completed), abandoned, overflowed (out of the core) or called back — and nothing is
  offered after it ended;
* an agent never has two offers at once, and is never offered anything while offline
  or on break;
* when an agent frees up, it gets the waiting interaction with the highest effective
  priority among those it is eligible for (ties: the longest waiting);
* the core's own index invariants (`check_invariants`: counts, no free agent eligible
  for a waiting interaction).
At the end everything is drained (agents log in, offers are answered, time runs) and
every interaction must have ended.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acd import commands as C
from acd import events as E
from acd.aging import Aging
from acd.core import WAITING, AcdCore
from acd.model import AcdConfig, AgentConfig, BreakType, Kind, Membership, QueueConfig, RelaxStep
from switch.control import Dial

AGENTS = ["a0", "a1", "a2", "a3"]
SKILLS = ["en", "de"]
TERMINAL_LOG = {"ABANDON", "CALLBACKFAILED"}
# requirements relax to nothing in the end, so every interaction (callbacks too, which
# do not overflow) can eventually be served by any member
EVERYONE = (RelaxStep(after_s=100, skill="en"), RelaxStep(after_s=100, skill="de"))


def make_core() -> AcdCore:
    aging = Aging.linear(step=1, every_s=30, cap=6)
    queues = (
        QueueConfig(name="sales", strategy="skills", ring_timeout_s=15, wrapup_s=5,
                    aging=aging, relax=(RelaxStep(after_s=40, skill="de"),
                                        RelaxStep(after_s=60, skill="en", min_level=2),
                                        RelaxStep(after_s=90, skill="en")),
                    max_wait_s=200, overflow=("queue:support",),
                    relationship_window_s=600, relationship_wait_s=10),
        QueueConfig(name="support", strategy="ring-all", ring_timeout_s=10, wrapup_s=0,
                    max_waiting=6, max_wait_s=300, overflow=("voicemail",), relax=EVERYONE,
                    aging=Aging(segments=((0.0, 0.0), (20.0, 0.1)))),
        QueueConfig(name="chat", strategy="round-robin", wrapup_s=0, announce_period_s=None,
                    max_wait_s=250, relax=EVERYONE),
    )  # fmt: skip
    agents = (
        AgentConfig(agent_id="a0", skills=(("en", 5),), group="g", chat_capacity=2,
                    queues=(Membership(queue="sales"), Membership(queue="chat"))),
        AgentConfig(agent_id="a1", skills=(("en", 2), ("de", 4)), group="g",
                    queues=(Membership(queue="sales"), Membership(queue="support"))),
        AgentConfig(agent_id="a2", skills=(("de", 1),), group="h",
                    queues=(Membership(queue="support"), Membership(queue="chat"))),
        AgentConfig(agent_id="a3", skills=(("en", 3), ("de", 3)), chat_capacity=3,
                    queues=(Membership(queue="sales", penalty=1), Membership(queue="support"),
                            Membership(queue="chat"))),
    )  # fmt: skip
    breaks = (BreakType(reason="smoke", mode="conditional", max_concurrent=1),)
    return AcdCore(AcdConfig(queues=queues, agents=agents, breaks=breaks, missed_limit=2, seed=1))


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.core = make_core()
        self.now = 0.0
        self.n = 0
        self.arrived: set[str] = set()
        self.ended: dict[str, str] = {}
        self.offers: dict[str, set[str]] = {}  # agent -> interactions offered
        self.connected: dict[str, str] = {}  # interaction -> agent
        self.dialing: set[str] = set()
        self.logged: set[str] = set()
        self.on_break: set[str] = set()

    # --- feeding the core and checking what comes out -----------------------------
    def feed(self, out: list[Any]) -> None:
        core = self.core
        for k, cmd in enumerate(out):
            if isinstance(cmd, C.AgentStatusNotice):
                if cmd.status == "break":
                    self.on_break.add(cmd.agent_id)
                elif cmd.status in ("ready", "offline"):
                    self.on_break.discard(cmd.agent_id)
            elif isinstance(cmd, C.Offer | C.StartCallback):
                iid, aid = cmd.interaction_id, cmd.agent_id
                assert iid in self.arrived and iid not in self.ended, f"offer of ended {iid}"
                assert iid not in self.connected, f"{iid} offered while connected"
                mine = self.offers.setdefault(aid, set())
                assert not mine, f"{aid} offered {iid} while ringing for {mine}"
                assert aid in self.logged, f"{aid} offered while offline"
                assert aid not in self.on_break, f"{aid} offered while on break"
                mine.add(iid)
                if isinstance(cmd, C.StartCallback):
                    self.dialing.add(iid)
                else:
                    # competitors: what waits now, minus what changed later in this
                    # output (it was ringing or absent when the decision was made)
                    later = {getattr(c, "interaction_id", None) for c in out[k + 1:]}
                    self.check_priority(cmd, later)
            elif isinstance(cmd, C.CancelOffer):
                self.offers.get(cmd.agent_id, set()).discard(cmd.interaction_id)
                self.dialing.discard(cmd.interaction_id)
            elif isinstance(cmd, C.QueueLogEntry):
                self.log(cmd)
            elif isinstance(cmd, C.Overflow):
                if not cmd.target.startswith("queue:"):
                    self.end(cmd.interaction_id, "overflowed")
            elif isinstance(cmd, Dial):
                assert cmd.kind == "external"
        core.check_invariants()

    def log(self, r: C.QueueLogEntry) -> None:
        iid = r.interaction_id
        if r.event == "CONNECT":
            assert iid not in self.connected
            self.connected[iid] = r.agent
            self.offers.get(r.agent, set()).discard(iid)
            self.dialing.discard(iid)
        elif r.event == "RINGNOANSWER":
            self.offers.get(r.agent, set()).discard(iid)
        elif r.event in ("COMPLETECALLER", "COMPLETEAGENT"):
            self.connected.pop(iid)
            self.end(iid, "connected")
        elif r.event in TERMINAL_LOG:
            for s in self.offers.values():
                s.discard(iid)
            self.dialing.discard(iid)
            self.end(iid, "abandoned" if r.event == "ABANDON" else "called-back")

    def end(self, iid: str, how: str) -> None:
        assert iid not in self.ended, f"{iid} ended twice ({self.ended[iid]}, {how})"
        self.ended[iid] = how

    def check_priority(self, offer: C.Offer, later: set[str | None]) -> None:
        if offer.explanation.trigger != "agent-free":
            return
        core = self.core
        a = core._agents[offer.agent_id]
        chosen = core._items[offer.interaction_id]
        assert chosen.queue is not None
        best = (chosen.queue.effective(chosen, self.now), -chosen.join)
        for item in core._items.values():
            q = item.queue
            if item.state != WAITING or q is None or q.name not in a.member or item.id in later:
                continue
            if not a.eligible(item.reqs):
                continue
            if item.kind != "chat" and a.active:
                continue
            if item.kind == "chat" and a.exclusive:
                continue
            other = (q.effective(item, self.now), -item.join)
            assert other[0] <= best[0] + 1e-9, (offer, item.id, other, best)

    # --- rules ------------------------------------------------------------------------
    @rule(agent=st.sampled_from(AGENTS))
    def login(self, agent: str) -> None:
        self.logged.add(agent)
        self.feed(self.core.handle(E.AgentLoggedIn(agent_id=agent), self.now))

    @rule(agent=st.sampled_from(AGENTS), disconnect=st.booleans())
    def logout(self, agent: str, disconnect: bool) -> None:
        ev = E.AgentDisconnected if disconnect else E.AgentLoggedOut
        out = self.core.handle(ev(agent_id=agent), self.now)
        self.logged.discard(agent)
        self.offers.pop(agent, None)
        self.feed(out)

    @precondition(lambda self: bool(self.logged))
    @rule(data=st.data(), reason=st.sampled_from(["lunch", "smoke"]))
    def go_break(self, data: st.DataObject, reason: str) -> None:
        agent = data.draw(st.sampled_from(sorted(self.logged)))
        out = self.core.handle(E.StatusChanged(agent_id=agent, status="break", reason=reason),
                               self.now)  # fmt: skip
        for cmd in out:
            if isinstance(cmd, C.CancelOffer):
                self.offers.get(cmd.agent_id, set()).discard(cmd.interaction_id)
        self.feed(out)

    @precondition(lambda self: bool(self.logged))
    @rule(data=st.data())
    def go_ready(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(sorted(self.logged)))
        self.on_break.discard(agent)
        self.feed(self.core.handle(E.StatusChanged(agent_id=agent, status="ready"), self.now))

    @rule(queue=st.sampled_from(["sales", "support", "chat"]),
          skills=st.lists(st.tuples(st.sampled_from(SKILLS), st.integers(1, 5)), max_size=2,
                          unique_by=lambda s: s[0]),
          priority=st.integers(0, 3), customer=st.sampled_from([None, "c1", "c2"]))  # fmt: skip
    def arrive(self, queue: str, skills: list[tuple[str, int]], priority: int,
               customer: str | None) -> None:  # fmt: skip
        iid = f"i{self.n}"
        self.n += 1
        self.arrived.add(iid)
        kind: Kind = "chat" if queue == "chat" else "call"
        self.feed(self.core.handle(E.InteractionArrived(
            interaction_id=iid, queue=queue, kind=kind, skills=tuple(skills),
            priority=priority, customer_id=customer), self.now))  # fmt: skip

    def _pending_offers(self) -> list[tuple[str, str]]:
        return sorted((a, i) for a, s in self.offers.items() for i in s if i not in self.dialing)

    @precondition(lambda self: bool(self._pending_offers()))
    @rule(data=st.data(), how=st.sampled_from(["accept", "accept", "reject", "timeout"]))
    def answer(self, data: st.DataObject, how: str) -> None:
        agent, iid = data.draw(st.sampled_from(self._pending_offers()))
        ev: Any = {"accept": E.OfferAccepted, "reject": E.OfferRejected,
                   "timeout": E.OfferTimedOut}[how]  # fmt: skip
        if how != "accept":
            self.offers[agent].discard(iid)
        self.feed(self.core.handle(ev(interaction_id=iid, agent_id=agent), self.now))

    @precondition(lambda self: bool(self.connected))
    @rule(data=st.data(), by=st.sampled_from(["caller", "agent"]))
    def finish(self, data: st.DataObject, by: str) -> None:
        iid = data.draw(st.sampled_from(sorted(self.connected)))
        self.feed(self.core.handle(E.InteractionEnded(interaction_id=iid, by=by), self.now))  # type: ignore[arg-type]

    def _open(self) -> list[str]:
        return sorted(self.arrived - set(self.ended) - set(self.connected) - self.dialing)

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._open()))
        self.feed(self.core.handle(E.CallerAbandoned(interaction_id=iid), self.now))

    @precondition(lambda self: bool(self._open()))
    @rule(data=st.data())
    def request_callback(self, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._open()))
        if self.core.interaction_state(iid) not in ("waiting", "held", "offered"):
            return
        out = self.core.handle(E.CallbackRequested(interaction_id=iid, number="555"), self.now)
        for cmd in out:
            if isinstance(cmd, C.CancelOffer):
                self.offers.get(cmd.agent_id, set()).discard(cmd.interaction_id)
        self.feed(out)

    @precondition(lambda self: bool(self.dialing))
    @rule(data=st.data(), ok=st.booleans())
    def callback_result(self, data: st.DataObject, ok: bool) -> None:
        iid = data.draw(st.sampled_from(sorted(self.dialing)))
        ev = E.CallbackAnswered(interaction_id=iid) if ok else E.CallbackFailed(interaction_id=iid)
        self.feed(self.core.handle(ev, self.now))

    @rule(dt=st.sampled_from([0.5, 3.0, 12.0, 35.0, 120.0]))
    def advance(self, dt: float) -> None:
        target = self.now + dt
        for _ in range(10_000):
            t = self.core.get_timer()
            if t is None or t > target:
                break
            self.now = t
            self.feed(self.core.handle_timer(t))
        self.now = target

    @invariant()
    def consistent(self) -> None:
        assert set(self.ended) <= self.arrived
        assert not set(self.ended) & set(self.connected)

    def teardown(self) -> None:
        for agent in AGENTS:
            if agent not in self.logged:
                self.login(agent)
            self.on_break.discard(agent)
            self.feed(self.core.handle(E.StatusChanged(agent_id=agent, status="ready"), self.now))
        for _ in range(2000):  # bounded drain
            if len(self.ended) == len(self.arrived):
                break
            if self._pending_offers():
                agent, iid = self._pending_offers()[0]
                self.feed(self.core.handle(E.OfferAccepted(interaction_id=iid, agent_id=agent),
                                           self.now))  # fmt: skip
            elif self.dialing:
                iid = sorted(self.dialing)[0]
                self.feed(self.core.handle(E.CallbackAnswered(interaction_id=iid), self.now))
            elif self.connected:
                iid = sorted(self.connected)[0]
                self.feed(self.core.handle(E.InteractionEnded(interaction_id=iid), self.now))
            else:
                for agent in sorted(self.on_break):  # e.g. the "missed" break
                    self.on_break.discard(agent)
                    self.feed(self.core.handle(E.StatusChanged(agent_id=agent, status="ready"),
                                               self.now))  # fmt: skip
                if self._pending_offers() or self.dialing:
                    continue
                t = self.core.get_timer()  # one timer at a time: offers get answered
                if t is None:
                    break
                self.now = max(self.now, t)
                self.feed(self.core.handle_timer(self.now))
        missing = self.arrived - set(self.ended)
        assert not missing, f"never ended: {sorted(missing)}"
        assert not self.core._items, "the core still holds interactions"


AcdMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow], report_multiple_bugs=False,
)  # fmt: skip
TestAcdMachine = AcdMachine.TestCase
