"""Timelines through the ACD core with a fake clock: exact commands and deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from acd import commands as C
from acd import events as E
from acd.aging import Aging
from acd.core import AcdCore
from acd.model import (
    AcdConfig,
    AcdError,
    AgentConfig,
    BreakType,
    ConfigError,
    DuplicateInteraction,
    Membership,
    QueueConfig,
    RelaxStep,
    UnknownAgent,
    UnknownQueue,
)
from switch.control import Dial


def agent(aid: str, *queues: str, skills: tuple[tuple[str, int], ...] = (), group: str = "",
          penalty: int = 0, chats: int = 6) -> AgentConfig:  # fmt: skip
    return AgentConfig(agent_id=aid, extensions=(f"ext-{aid}",), skills=skills, group=group,
                       queues=tuple(Membership(queue=q, penalty=penalty) for q in queues),
                       chat_capacity=chats)  # fmt: skip


def core(*queues: QueueConfig, agents: tuple[AgentConfig, ...] = (), **kw: Any) -> AcdCore:
    return AcdCore(AcdConfig(queues=queues, agents=agents, **kw))


def q(name: str = "q", **kw: Any) -> QueueConfig:
    kw.setdefault("wrapup_s", 0.0)
    kw.setdefault("announce_period_s", None)
    return QueueConfig(name=name, **kw)


def only(out: list[Any], *types: type) -> list[Any]:
    return [c for c in out if isinstance(c, types)]


def offers(out: list[Any]) -> list[tuple[str, str]]:
    return [(o.interaction_id, o.agent_id) for o in only(out, C.Offer)]


def log_events(out: list[Any]) -> list[str]:
    return [r.event for r in only(out, C.QueueLogEntry)]


def arrive(c: AcdCore, iid: str, now: float, queue: str = "q", **kw: Any) -> list[Any]:
    return c.handle(E.InteractionArrived(interaction_id=iid, queue=queue, **kw), now)


def login(c: AcdCore, *ids: str, now: float = 0.0) -> list[Any]:
    out: list[Any] = []
    for i in ids:
        out += c.handle(E.AgentLoggedIn(agent_id=i), now)
    return out


# --- the basic timeline ---------------------------------------------------------------


def test_offer_connect_complete_wrapup_timeline() -> None:
    c = core(q(wrapup_s=5.0, announce_period_s=30.0), agents=(agent("a1", "q"),))
    login(c, "a1")
    assert c.get_timer() is None
    out = arrive(c, "i1", 1.0)
    (o,) = only(out, C.Offer)
    assert (o.interaction_id, o.agent_id, o.deadline, o.extensions) == ("i1", "a1", 31.0,
                                                                          ("ext-a1",))
    assert o.explanation.strategy == "longest-idle" and o.explanation.trigger == "arrival"
    assert log_events(out) == ["ENTERQUEUE", "OFFER"]
    assert c.get_timer() == 31.0  # the ring timeout
    out = arrive(c, "i2", 2.0)
    assert offers(out) == []
    assert c.get_timer() == 31.0
    out = c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a1"), 3.0)
    assert log_events(out) == ["CONNECT"]
    assert c.agent_status("a1") == "busy"
    assert c.get_timer() == 32.0  # i2's first position announcement (joined at 2 s)
    out = c.handle_timer(32.0)
    (ann,) = only(out, C.AnnouncePosition)
    assert (ann.interaction_id, ann.position, ann.estimated_wait_s) == ("i2", 1, 180.0)
    assert c.get_timer() == 62.0
    out = c.handle(E.InteractionEnded(interaction_id="i1", by="agent"), 40.0)
    assert log_events(out) == ["COMPLETEAGENT"]
    assert only(out, C.QueueLogEntry)[0].data == ("2.0", "37.0")
    assert c.agent_status("a1") == "wrapup"
    assert c.get_timer() == 45.0
    out = c.handle_timer(45.0)
    assert offers(out) == [("i2", "a1")]
    assert only(out, C.Offer)[0].explanation.trigger == "agent-free"
    assert only(out, C.Offer)[0].explanation.waited_s == 43.0
    c.check_invariants()


def test_ring_no_answer_moves_on_and_missed_break() -> None:
    c = core(q(ring_timeout_s=10.0), agents=(agent("a1", "q"), agent("a2", "q")),
             missed_limit=2)  # fmt: skip
    login(c, "a1", now=0.0)
    login(c, "a2", now=1.0)
    out = arrive(c, "i1", 5.0)
    assert offers(out) == [("i1", "a1")]  # idle longest
    assert c.get_timer() == 15.0
    out = c.handle_timer(15.0)
    assert [(x.agent_id, x.reason) for x in only(out, C.CancelOffer)] == [("a1", "ring-timeout")]
    assert offers(out) == [("i1", "a2")]  # the next agent, not a1 again
    assert "RINGNOANSWER" in log_events(out)
    assert only(out, C.Offer)[0].deadline == 25.0
    out = c.handle(E.OfferRejected(interaction_id="i1", agent_id="a2"), 16.0)
    assert offers(out) == [("i1", "a1")]
    out = c.handle_timer(26.0)  # a1 misses twice in a row: missed break
    assert ("PAUSE" in log_events(out)) and c.agent_status("a1") == "break"
    assert c.agent_stats("a1", 26.0).reason == "missed"
    assert offers(out) == [("i1", "a2")]
    c.check_invariants()


def test_offer_timed_out_event_from_call_control() -> None:
    c = core(q(), agents=(agent("a1", "q"), agent("a2", "q")))
    login(c, "a1", "a2")
    arrive(c, "i1", 1.0)
    out = c.handle(E.OfferTimedOut(interaction_id="i1", agent_id="a1"), 2.0)
    assert offers(out) == [("i1", "a2")]
    assert c.handle(E.OfferTimedOut(interaction_id="i1", agent_id="a1"), 2.0) == []  # stale


# --- priority, aging, skills ----------------------------------------------------------


def test_higher_priority_first_and_ties_by_wait() -> None:
    c = core(q(), agents=(agent("a1", "q"),))
    login(c, "a1")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a1"), 0.0)
    arrive(c, "low", 1.0, priority=0)
    arrive(c, "high", 2.0, priority=5)
    arrive(c, "high2", 3.0, priority=5)
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 4.0)
    assert offers(out) == [("high", "a1")]


def test_aging_lets_a_long_waiter_overtake() -> None:
    aging = Aging.linear(step=1, every_s=30, cap=10)
    c = core(q(aging=aging), agents=(agent("a1", "q"),))
    login(c, "a1")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a1"), 0.0)
    arrive(c, "old", 0.0, priority=0)
    arrive(c, "new", 200.0, priority=5)  # old has aged to 200/30 = 6.67 > 5
    assert c.effective_priority("old", 200.0) == pytest.approx(200 / 30)
    assert c.effective_priority("old", 1000.0) == 10.0  # capped
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 200.0)
    assert offers(out) == [("old", "a1")]
    assert only(out, C.Offer)[0].explanation.effective_priority == pytest.approx(200 / 30)


def test_aging_breakpoint_moves_between_segment_heaps() -> None:
    # old reaches the cap (+2 at 60 s) and stops; new grows past it later
    aging = Aging(segments=((0.0, 1 / 30), (60.0, 0.0)))
    c = core(q(aging=aging), agents=(agent("a1", "q"),))
    login(c, "a1")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a1"), 0.0)
    arrive(c, "old", 0.0, priority=0)  # capped at 2
    arrive(c, "new", 10.0, priority=1)  # 1 + 1/30 * w, capped at 3
    c.handle_timer(100.0)  # breakpoints at 60 and 70
    c.check_invariants()
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 100.0)
    assert offers(out) == [("new", "a1")]


def test_skills_required_and_relaxed_after_wait() -> None:
    relax = (RelaxStep(after_s=30, skill="fr", min_level=2), RelaxStep(after_s=60, skill="fr"))
    c = core(q(relax=relax), agents=(agent("a1", "q", skills=(("fr", 1),)),))
    login(c, "a1")
    out = arrive(c, "i1", 0.0, skills=(("fr", 4),))
    assert offers(out) == []
    assert c.get_timer() == 30.0
    assert offers(c.handle_timer(30.0)) == []  # fr >= 2 still above a1's 1
    out = c.handle_timer(60.0)  # fr dropped
    (o,) = only(out, C.Offer)
    assert o.agent_id == "a1" and o.explanation.relaxation_step == 2
    assert o.explanation.trigger == "relaxed" and o.explanation.skills_matched == ()


def test_skills_strategy_prefers_proficiency_and_reports_match() -> None:
    c = core(q(strategy="skills"), agents=(
        agent("low", "q", skills=(("en", 2),)), agent("high", "q", skills=(("en", 5),))))
    login(c, "low", "high")
    out = arrive(c, "i1", 1.0, skills=(("en", 2),))
    (o,) = only(out, C.Offer)
    assert o.agent_id == "high"
    assert o.explanation.skills_matched == (C.SkillMatch(skill="en", required=2, agent_level=5),)


def test_profit_keeps_the_specialist_free() -> None:
    c = core(q(strategy="profit"), agents=(
        agent("generalist", "q", skills=(("en", 3), ("de", 3), ("billing", 3))),
        agent("specialist", "q", skills=(("en", 3),))))  # fmt: skip
    login(c, "generalist", "specialist")
    out = arrive(c, "i1", 1.0, skills=(("en", 1),))
    assert offers(out) == [("i1", "specialist")]
    out = arrive(c, "i2", 2.0, skills=(("de", 1),))
    assert offers(out) == [("i2", "generalist")]


def test_agent_free_picks_best_across_its_queues() -> None:
    c = core(q("a"), q("b"), agents=(agent("x", "a", "b"),))
    login(c, "x")
    arrive(c, "busy", 0.0, queue="a")
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="x"), 0.0)
    arrive(c, "in-a", 1.0, queue="a", priority=1)
    arrive(c, "in-b", 2.0, queue="b", priority=3)
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 3.0)
    assert offers(out) == [("in-b", "x")]


# --- strategies ---------------------------------------------------------------------------


def _serve(c: AcdCore, iid: str, now: float) -> str:
    out = arrive(c, iid, now)
    (o,) = only(out, C.Offer)
    c.handle(E.OfferAccepted(interaction_id=iid, agent_id=o.agent_id), now)
    c.handle(E.InteractionEnded(interaction_id=iid), now + 1)
    return str(o.agent_id)


def test_linear_always_first_in_order() -> None:
    c = core(q(strategy="linear"), agents=(agent("a", "q"), agent("b", "q"), agent("c", "q")))
    login(c, "c", "b", "a")
    assert [_serve(c, f"i{n}", 10.0 * n) for n in range(3)] == ["a", "a", "a"]


def test_round_robin_remembers_where_it_stopped() -> None:
    c = core(q(strategy="round-robin"),
             agents=(agent("a", "q"), agent("b", "q"), agent("c", "q")))  # fmt: skip
    login(c, "a", "b", "c")
    assert [_serve(c, f"i{n}", 10.0 * n) for n in range(5)] == ["a", "b", "c", "a", "b"]


def test_random_is_seeded() -> None:
    def picks(seed: int) -> list[str]:
        c = core(q(strategy="random"), agents=tuple(agent(f"a{i}", "q") for i in range(8)),
                 seed=seed)  # fmt: skip
        login(c, *[f"a{i}" for i in range(8)])
        return [_serve(c, f"i{n}", 10.0 * n) for n in range(12)]

    assert picks(3) == picks(3)
    assert len(set(picks(3))) > 2


def test_least_recent_fewest_calls_longest_idle() -> None:
    for strategy in ("least-recent", "fewest-calls", "longest-idle"):
        c = core(q(strategy=strategy), agents=(agent("a", "q"), agent("b", "q")))
        login(c, "a", "b")
        first = _serve(c, "i0", 10.0)
        assert _serve(c, "i1", 20.0) != first, strategy


def test_ring_all_rings_everyone_first_accept_wins() -> None:
    c = core(q(strategy="ring-all"), agents=(agent("a", "q"), agent("b", "q"), agent("c", "q")))
    login(c, "a", "b", "c")
    out = arrive(c, "i1", 1.0)
    assert sorted(offers(out)) == [("i1", "a"), ("i1", "b"), ("i1", "c")]
    out = c.handle(E.OfferAccepted(interaction_id="i1", agent_id="b"), 2.0)
    assert sorted((x.agent_id, x.reason) for x in only(out, C.CancelOffer)) == [
        ("a", "answered-elsewhere"), ("c", "answered-elsewhere")]
    assert c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a"), 2.0) == []  # too late
    assert c.agent_status("a") == "ready" and c.agent_status("b") == "busy"


def test_penalty_orders_agents() -> None:
    c = core(q(), agents=(agent("a", "q", penalty=2), agent("b", "q", penalty=0)))
    login(c, "a", "b")
    assert offers(arrive(c, "i1", 1.0)) == [("i1", "b")]


def test_chats_up_to_capacity_and_calls_exclusive() -> None:
    c = core(q(), agents=(agent("a", "q", chats=2),))
    login(c, "a")
    for n in range(3):
        out = arrive(c, f"chat{n}", 1.0 + n, kind="chat")
        if n < 2:
            assert offers(out) == [(f"chat{n}", "a")]
            c.handle(E.OfferAccepted(interaction_id=f"chat{n}", agent_id="a"), 1.0 + n)
        else:
            assert offers(out) == []  # capacity 2 reached
    assert offers(arrive(c, "call", 5.0)) == []  # calls are exclusive
    out = c.handle(E.InteractionEnded(interaction_id="chat0"), 6.0)
    assert offers(out) == [("chat2", "a")]  # the waiting chat, not the call
    c.check_invariants()


# --- overflow ---------------------------------------------------------------------------


def test_overflow_on_max_wait_into_another_queue() -> None:
    c = core(q("main", max_wait_s=60.0, overflow=("queue:backup",)), q("backup"),
             agents=(agent("a", "main"), agent("b", "backup")))  # fmt: skip
    login(c, "a", "b")
    arrive(c, "busy", 0.0, queue="main")
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 0.0)
    arrive(c, "busy2", 0.0, queue="backup")
    c.handle(E.OfferAccepted(interaction_id="busy2", agent_id="b"), 0.0)
    arrive(c, "i1", 5.0, queue="main", priority=2)
    assert c.get_timer() == 65.0
    out = c.handle_timer(65.0)
    assert only(out, C.Overflow) == [C.Overflow(interaction_id="i1", from_queue="main",
                                                target="queue:backup", reason="max-wait")]
    assert log_events(out) == ["EXITWITHTIMEOUT", "ENTERQUEUE"]
    out = c.handle(E.InteractionEnded(interaction_id="busy2"), 70.0)
    assert offers(out) == [("i1", "b")]


def test_overflow_max_waiting_and_no_agents() -> None:
    c = core(q("main", max_waiting=1, overflow=("voicemail",)), q("empty", overflow=("op",)),
             agents=(agent("a", "main"),))  # fmt: skip
    login(c, "a")
    arrive(c, "busy", 0.0, queue="main")
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 0.0)
    assert only(arrive(c, "w1", 1.0, queue="main"), C.Overflow) == []
    out = arrive(c, "w2", 2.0, queue="main")
    assert only(out, C.Overflow)[0].reason == "max-waiting"
    assert only(out, C.Overflow)[0].target == "voicemail"
    assert c.interaction_state("w2") == "gone"
    out = arrive(c, "e1", 3.0, queue="empty")
    assert only(out, C.Overflow)[0] == C.Overflow(interaction_id="e1", from_queue="empty",
                                                   target="op", reason="no-agents")
    assert log_events(out) == ["JOINEMPTY"]


def test_overflow_when_last_agent_logs_out() -> None:
    c = core(q(), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 0.0)
    arrive(c, "w", 1.0)
    out = c.handle(E.AgentLoggedOut(agent_id="a"), 2.0)  # logout mid-call
    assert only(out, C.Overflow)[0].reason == "no-agents"
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 9.0)  # the call still ends well
    assert log_events(out) == ["COMPLETECALLER"]


def test_max_wait_while_ringing_overflows_only_if_not_answered() -> None:
    c = core(q(max_wait_s=10.0, ring_timeout_s=20.0), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "i1", 0.0)
    assert only(c.handle_timer(10.0), C.Overflow) == []  # ringing: let it finish
    out = c.handle_timer(20.0)
    assert only(out, C.Overflow)[0].reason == "max-wait"
    assert only(out, C.Offer) == []


# --- callbacks, relationship, abandon ------------------------------------------------------


def test_callback_keeps_place_then_reserves_agent_and_dials() -> None:
    c = core(q(), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 0.0)
    arrive(c, "first", 1.0)
    arrive(c, "second", 2.0)
    out = c.handle(E.CallbackRequested(interaction_id="first", number="+48600100200"), 3.0)
    assert log_events(out) == ["CALLBACKREQUEST"]
    out = c.handle(E.InteractionEnded(interaction_id="busy"), 10.0)
    (cb,) = only(out, C.StartCallback)
    assert (cb.interaction_id, cb.agent_id, cb.number) == ("first", "a", "+48600100200")
    assert only(out, Dial) == [Dial(request_id=cb.request_id, target="+48600100200",
                                    kind="external", timeout_s=30.0)]
    assert only(out, C.Offer) == [] and c.agent_status("a") == "reserved"
    out = c.handle(E.CallbackAnswered(interaction_id="first"), 20.0)
    assert log_events(out) == ["CONNECT"] and c.agent_status("a") == "busy"
    assert c.queue_stats("q", 20.0).callbacks == 1


def test_callback_failure_frees_agent() -> None:
    c = core(q(), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "busy", 0.0)
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 0.0)
    arrive(c, "cb", 1.0)
    c.handle(E.CallbackRequested(interaction_id="cb", number="123"), 1.0)
    arrive(c, "next", 2.0)
    c.handle(E.InteractionEnded(interaction_id="busy"), 3.0)
    out = c.handle(E.CallbackFailed(interaction_id="cb", reason="busy"), 4.0)
    assert offers(out) == [("next", "a")]
    assert c.interaction_state("cb") == "gone"


def test_relationship_prefers_and_waits_for_last_agent() -> None:
    c = core(q(relationship_window_s=3600, relationship_wait_s=20),
             agents=(agent("a", "q"), agent("b", "q")))  # fmt: skip
    login(c, "a", "b")
    c.handle(E.StatusChanged(agent_id="a", status="break", reason="lunch"), 0.0)
    arrive(c, "i1", 1.0, customer_id="cust")
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="b"), 1.0)
    c.handle(E.StatusChanged(agent_id="a", status="ready"), 2.0)
    c.handle(E.InteractionEnded(interaction_id="i1"), 5.0)
    arrive(c, "busy", 6.0)  # a (longest idle) takes this one
    c.handle(E.OfferAccepted(interaction_id="busy", agent_id="a"), 6.0)
    assert c.agent_status("b") == "ready"
    out = arrive(c, "i2", 7.0, customer_id="cust")  # last served by b: free, so b
    (o,) = only(out, C.Offer)
    assert o.agent_id == "b" and o.explanation.relationship
    c.handle(E.OfferAccepted(interaction_id="i2", agent_id="b"), 7.0)
    out = arrive(c, "i3", 8.0, customer_id="cust")  # b busy: held for b up to 20 s
    assert offers(out) == []
    c.handle(E.InteractionEnded(interaction_id="busy"), 9.0)  # a frees but i3 waits for b
    assert c.interaction_state("i3") == "held"
    out = c.handle(E.InteractionEnded(interaction_id="i2"), 12.0)
    assert offers(out) == [("i3", "b")]


def test_relationship_wait_expires() -> None:
    c = core(q(relationship_window_s=3600, relationship_wait_s=20),
             agents=(agent("a", "q"), agent("b", "q")))  # fmt: skip
    login(c, "a", "b")
    arrive(c, "i1", 1.0, customer_id="cust")
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a"), 1.0)
    c.handle(E.InteractionEnded(interaction_id="i1"), 2.0)
    arrive(c, "x", 3.0)
    c.handle(E.OfferAccepted(interaction_id="x", agent_id="b"), 3.0)
    arrive(c, "y", 3.5)
    c.handle(E.OfferAccepted(interaction_id="y", agent_id="a"), 3.5)
    arrive(c, "i2", 4.0, customer_id="cust")
    c.handle(E.InteractionEnded(interaction_id="x"), 5.0)
    assert c.interaction_state("i2") == "held"
    assert c.get_timer() == 24.0
    out = c.handle_timer(24.0)
    assert offers(out) == [("i2", "b")]
    assert only(out, C.Offer)[0].explanation.trigger == "hold-expired"


def test_abandon_while_waiting_and_while_ringing() -> None:
    c = core(q(), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "ringing", 1.0)
    arrive(c, "waiting", 2.0)
    out = c.handle(E.CallerAbandoned(interaction_id="waiting"), 3.0)
    assert log_events(out) == ["ABANDON"]
    out = c.handle(E.CallerAbandoned(interaction_id="ringing"), 4.0)
    assert [(x.agent_id, x.reason) for x in only(out, C.CancelOffer)] == [("a", "abandoned")]
    assert c.agent_status("a") == "ready"
    st = c.queue_stats("q", 4.0)
    assert (st.abandoned, st.waiting) == (2, 0)
    c.check_invariants()


# --- agents: breaks, logout, disconnect --------------------------------------------------


def test_breaks_immediate_approval_conditional() -> None:
    breaks = (BreakType(reason="training", mode="approval"),
              BreakType(reason="smoke", mode="conditional", max_concurrent=1))  # fmt: skip
    c = core(q(), agents=(agent("a", "q", group="g"), agent("b", "q", group="g")),
             breaks=breaks)  # fmt: skip
    login(c, "a", "b")
    out = c.handle(E.StatusChanged(agent_id="a", status="break", reason="training"), 1.0)
    assert only(out, C.BreakApprovalRequired) == [C.BreakApprovalRequired(agent_id="a",
                                                                          reason="training")]
    assert c.agent_status("a") == "ready"
    c.handle(E.BreakApproved(agent_id="a", supervisor="sup"), 2.0)
    assert c.agent_status("a") == "break"
    out = c.handle(E.StatusChanged(agent_id="b", status="break", reason="smoke"), 3.0)
    assert only(out, C.BreakRefused)[0].why.startswith("1 of group 'g'")
    assert c.agent_status("b") == "ready"
    assert offers(arrive(c, "i1", 4.0)) == [("i1", "b")]  # never to an agent on break
    c.handle(E.StatusChanged(agent_id="a", status="ready"), 5.0)
    st = c.agent_stats("a", 5.0)
    assert st.time_in_status["break"] == 3.0
    c.handle(E.StatusChanged(agent_id="b", status="break", reason="smoke", forced=True), 6.0)
    assert c.agent_status("b") == "break"  # a supervisor forces it; the ring is cancelled


def test_break_while_busy_takes_effect_after_the_call() -> None:
    c = core(q(wrapup_s=5.0), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "i1", 0.0)
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a"), 0.0)
    c.handle(E.StatusChanged(agent_id="a", status="break", reason="lunch"), 1.0)
    assert c.agent_status("a") == "busy"
    arrive(c, "i2", 2.0)
    c.handle(E.InteractionEnded(interaction_id="i1"), 3.0)
    assert offers(c.handle_timer(8.0)) == []
    assert c.agent_status("a") == "break"


def test_logout_while_ringing_and_disconnect_mid_call() -> None:
    c = core(q(), agents=(agent("a", "q"), agent("b", "q")))
    login(c, "a", "b")
    arrive(c, "i1", 1.0)  # to a
    out = c.handle(E.AgentLoggedOut(agent_id="a"), 2.0)
    assert [(x.agent_id, x.reason) for x in only(out, C.CancelOffer)] == [("a", "logout")]
    assert offers(out) == [("i1", "b")]
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="b"), 3.0)
    out = c.handle(E.AgentDisconnected(agent_id="b"), 4.0)
    assert "COMPLETEAGENT" in log_events(out) and c.agent_status("b") == "offline"
    assert c.handle(E.InteractionEnded(interaction_id="i1"), 5.0) == []  # already over


def test_transfer_to_another_queue() -> None:
    c = core(q("a"), q("b"), agents=(agent("x", "a"), agent("y", "b")))
    login(c, "x", "y")
    arrive(c, "i1", 0.0, queue="a")
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="x"), 0.0)
    out = c.handle(E.InteractionTransferred(interaction_id="i1", target="queue:b"), 10.0)
    assert log_events(out)[:2] == ["TRANSFER", "ENTERQUEUE"]
    assert offers(out) == [("i1", "y")]


def test_queue_and_agent_stats() -> None:
    c = core(q(sl_threshold_s=10.0), agents=(agent("a", "q"), agent("b", "q")))
    login(c, "a", "b")
    c.handle(E.StatusChanged(agent_id="b", status="break", reason="x"), 0.0)
    arrive(c, "i1", 0.0)
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a"), 4.0)
    arrive(c, "i2", 5.0)
    st = c.queue_stats("q", 25.0)
    assert (st.waiting, st.longest_wait_s, st.agents_busy, st.agents_on_break) == (1, 20.0, 1, 1)
    c.handle(E.InteractionEnded(interaction_id="i1"), 34.0)
    c.handle(E.OfferAccepted(interaction_id="i2", agent_id="a"), 34.0)  # waited 29 s > 10
    st = c.queue_stats("q", 40.0)
    assert (st.answered, st.asa_s, st.aht_s) == (2, 16.5, 30.0)
    assert st.service_level == 0.5
    ast = c.agent_stats("a", 40.0)
    assert (ast.handled, ast.status, ast.talk_s) == (1, "busy", 30.0)


# --- bad input ----------------------------------------------------------------------------


def test_bad_input_gets_specific_errors() -> None:
    c = core(q(), agents=(agent("a", "q"),))
    with pytest.raises(UnknownQueue):
        arrive(c, "i1", 0.0, queue="nope")
    with pytest.raises(UnknownAgent):
        c.handle(E.AgentLoggedIn(agent_id="ghost"), 0.0)
    login(c, "a")
    arrive(c, "i1", 0.0)
    with pytest.raises(DuplicateInteraction):
        arrive(c, "i1", 0.0)
    with pytest.raises(ConfigError):
        E.InteractionArrived(interaction_id="x", queue="q", skills=(("en", 7),))
    with pytest.raises(ConfigError):
        QueueConfig(name="q", strategy="fastest")
    with pytest.raises(ConfigError):
        AcdConfig(queues=(q("a", overflow=("queue:missing",)),))
    with pytest.raises(ConfigError):
        Aging(segments=((0.0, -1.0),))
    with pytest.raises(AcdError):
        c.handle(E.StatusChanged(agent_id="a", status="sleeping"), 0.0)  # type: ignore[arg-type]
    with pytest.raises(AcdError):
        c.handle("not an event", 0.0)  # type: ignore[arg-type]
    with pytest.raises(AcdError):
        c.handle_timer(float("nan"))


def test_logout_and_login_again_mid_call_then_task() -> None:
    c = core(q(wrapup_s=3.0), agents=(agent("a", "q"),))
    login(c, "a")
    arrive(c, "i1", 0.0)
    c.handle(E.OfferAccepted(interaction_id="i1", agent_id="a"), 0.0)
    c.handle(E.AgentLoggedOut(agent_id="a"), 1.0)
    out = arrive(c, "t1", 2.0, kind="task")
    assert only(out, C.Overflow)[0].reason == "no-agents"
    c.handle(E.AgentLoggedIn(agent_id="a"), 3.0)  # back while the call goes on
    assert c.agent_status("a") == "busy"
    assert offers(arrive(c, "t2", 4.0, kind="task")) == []
    c.handle(E.InteractionEnded(interaction_id="i1"), 5.0)
    assert c.agent_status("a") == "wrapup"
    out = c.handle(E.WrapUpDone(agent_id="a"), 6.0)  # the agent ends wrap-up early
    assert offers(out) == [("t2", "a")]
    c.check_invariants()


def test_callback_in_ring_all_queue_reserves_one_agent() -> None:
    c = core(q(strategy="ring-all"), agents=(agent("a", "q"), agent("b", "q")))
    login(c, "a", "b")
    arrive(c, "i1", 0.0)
    out = c.handle(E.CallbackRequested(interaction_id="i1", number="42"), 1.0)
    assert len(only(out, C.StartCallback)) == 1 and len(only(out, Dial)) == 1
    assert sorted([c.agent_status("a"), c.agent_status("b")]) == ["ready", "reserved"]
    c.check_invariants()
