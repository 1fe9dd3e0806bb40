"""Timeline tests of the IVR interpreter: every node kind and every branch."""

from __future__ import annotations

import random
import textwrap
from datetime import UTC, datetime

import pytest

from ivrdsl.events import (
    CancelDial,
    HttpRequest,
    HttpResult,
    LeaveQueue,
    QueueResult,
    QueueUpdate,
    StoreSurveyAnswer,
)
from ivrdsl.interpreter import Interpreter, IvrCall
from ivrdsl.model import Scenario
from ivrdsl.testing import Driver, FakeClock
from ivrdsl.validator import load_text
from switch.control import (
    Answer,
    Answered,
    CallOffered,
    Collect,
    Dial,
    DialResult,
    DtmfReceived,
    Enqueue,
    FilePrompt,
    Hangup,
    Play,
    PromptFinished,
    Record,
    RecordingFinished,
    SilencePrompt,
    StopPlayback,
    TtsPrompt,
)


def scn(text: str) -> Scenario:
    return load_text(textwrap.dedent(text), "t.yaml")


def tts(play: Play) -> list[str]:
    return [p.text for p in play.prompts if isinstance(p, TtsPrompt)]


def kinds(commands: list) -> list[str]:
    return [type(c).__name__ for c in commands]


# -- play, set, goto, hangup ---------------------------------------------------------------

PLAY = """
start: hello
variables: {company: ACME}
nodes:
  hello:
    type: play
    prompt:
      - {tts: "Hello ${caller} from ${company}", language: en, voice: male}
      - {silence: 0.5}
      - {file: beep.wav}
    next: bye
  bye: {type: hangup, cause: done}
"""


def test_play_then_hangup_timeline() -> None:
    d = Driver(scn(PLAY))
    out = d.start(caller="601")
    assert kinds(out) == ["Answer", "Play"]
    play = out[1]
    assert isinstance(play, Play) and not play.barge_in
    assert play.prompts == (TtsPrompt(text="Hello 601 from ACME", language="en", voice="male"),
                            SilencePrompt(seconds=0.5), FilePrompt(path="beep.wav"))
    assert d.wait(100) == []  # a play waits for the media, not for a timer
    assert d.prompt_done() == [Hangup(call_id="c1", cause="done")]
    assert d.call.finished and d.call.outcome == "hangup"
    assert d.call.history == ["hello", "bye"]


def test_stale_and_foreign_events_are_ignored() -> None:
    d = Driver(scn(PLAY))
    d.start()
    assert d.send(PromptFinished(call_id="c1", prompt_id="other")) == []
    assert d.send(PromptFinished(call_id="c2", prompt_id=d.last_play().prompt_id)) == []
    assert not d.call.finished


def test_answer_false_does_not_answer() -> None:
    d = Driver(scn(PLAY.replace("start: hello", "start: hello\nanswer: false")))
    assert kinds(d.start()) == ["Play"]


def test_events_before_offer_and_after_release_do_nothing() -> None:
    d = Driver(scn(PLAY))
    assert d.send(DtmfReceived(call_id="c1", digit="1", at=0, duration_ms=80,
                               source="rfc4733")) == []
    d.start()
    assert d.hang_up() == []
    assert d.call.finished and d.call.outcome == "released"
    assert d.prompt_done() == [] and d.call.get_timer() is None


def test_set_goto_and_hangup_prompt() -> None:
    d = Driver(scn("""
        start: s
        nodes:
          s:
            type: set
            variables: {greeting: "Hi ${caller}", n: 5, flag: true}
            next: g
          g: {type: goto, target: h}
          h:
            type: hangup
            prompt: {tts: "${greeting} ${n} ${flag}"}
    """))
    out = d.start(caller="42")
    assert tts(out[-1]) == ["Hi 42 5 true"]  # type: ignore[arg-type]
    assert d.prompt_done() == [Hangup(call_id="c1", cause="normal")]
    assert d.call.history == ["s", "g", "h"]


def test_hangup_without_prompt() -> None:
    d = Driver(scn("start: h\nnodes:\n  h: {type: hangup}\n"))
    assert d.start() == [Answer(call_id="c1"), Hangup(call_id="c1")]


# -- menu ----------------------------------------------------------------------------------

MENU = """
start: menu
nodes:
  menu:
    type: menu
    prompt: {tts: "Press 1 or 2"}
    options: {1: one, 2: two}
    timeout: 5
    invalid_prompt: {tts: "Wrong key"}
    invalid: bad
    no_input: silent
  one: {type: hangup, cause: one}
  two: {type: hangup, cause: two}
  bad: {type: hangup, cause: bad}
  silent: {type: hangup, cause: silent}
"""


def test_menu_option_during_prompt_barges_in() -> None:
    d = Driver(scn(MENU))
    out = d.start()
    play, collect = out[1], out[2]
    assert isinstance(play, Play) and play.barge_in
    assert collect == Collect(call_id="c1", max_digits=1, timeout_s=5.0, terminator=None)
    assert d.press("2") == [Hangup(call_id="c1", cause="two")]


def test_menu_option_after_prompt() -> None:
    d = Driver(scn(MENU))
    d.start()
    d.prompt_done(after=3)
    assert d.call.get_timer() == pytest.approx(8.0)
    assert d.press("1") == [Hangup(call_id="c1", cause="one")]


def test_menu_no_input_repeats_then_branch() -> None:
    d = Driver(scn(MENU))
    d.start()
    d.prompt_done(after=3)  # prompt ends at 3 s, timeout 5 s
    out = d.wait(5)
    assert d.now == 8 and kinds(out) == ["Play", "Collect"]
    assert tts(out[0]) == ["Press 1 or 2"]  # type: ignore[arg-type]
    d.prompt_done(after=3)
    assert d.wait(4.9) == []
    assert d.wait(0.1) == [Hangup(call_id="c1", cause="silent")]


def test_menu_invalid_key_plays_invalid_prompt_then_branch() -> None:
    d = Driver(scn(MENU))
    d.start()
    out = d.press("9")
    assert kinds(out) == ["Play", "Collect"]
    assert tts(out[0]) == ["Wrong key", "Press 1 or 2"]  # type: ignore[arg-type]
    assert d.press("7") == [Hangup(call_id="c1", cause="bad")]


def test_menu_mixed_failures_take_the_last_reason() -> None:
    d = Driver(scn(MENU))
    d.start()
    d.press("9")
    d.prompt_done()
    assert d.wait(5) == [Hangup(call_id="c1", cause="silent")]


def test_menu_without_branches_hangs_up_and_repeats_setting() -> None:
    d = Driver(scn("""
        start: m
        nodes:
          m: {type: menu, prompt: {tts: x}, options: {1: m2}, repeats: 3, timeout: 2}
          m2: {type: hangup}
    """))
    d.start()
    plays = 1
    for _ in range(2):
        d.prompt_done()
        out = d.wait(2)
        plays += len([c for c in out if isinstance(c, Play)])
    assert plays == 3
    d.prompt_done()
    assert d.wait(2) == [Hangup(call_id="c1")]


DISA = """
start: menu
nodes:
  menu:
    type: menu
    prompt: {tts: "Menu"}
    options: {1: one, 0: zero}
    disa: {extensions: ["100-199", "2000"], digit_timeout: 2, ring_time: 20}
    no_input: zero
  one: {type: hangup, cause: one}
  zero: {type: hangup, cause: zero}
"""


def test_disa_dials_extension_typed_during_prompt() -> None:
    d = Driver(scn(DISA))
    out = d.start()
    assert out[2] == Collect(call_id="c1", max_digits=4, timeout_s=5.0, terminator=None)
    assert d.press("10") == []
    (dial,) = d.press("5")
    assert isinstance(dial, Dial)
    assert (dial.target, dial.kind, dial.call_id, dial.timeout_s) == ("105", "extension",
                                                                       "c1", 20.0)
    assert d.send(Answered(call_id="c1", request_id=dial.request_id)) == []
    assert d.call.finished and d.call.outcome == "connected"


def test_disa_option_digit_after_digit_timeout() -> None:
    d = Driver(scn(DISA))
    d.start()
    assert d.press("1") == []  # could be 1xx: wait for more
    assert d.call.get_timer() == pytest.approx(2.2)
    assert d.wait(2) == [Hangup(call_id="c1", cause="one")]


def test_disa_option_that_cannot_start_an_extension_is_immediate() -> None:
    d = Driver(scn(DISA))
    d.start()
    assert d.press("0") == [Hangup(call_id="c1", cause="zero")]


def test_disa_incomplete_number_is_invalid_and_unanswered_returns_to_menu() -> None:
    d = Driver(scn(DISA))
    d.start()
    d.press("20")
    out = d.wait(2)  # "20" is neither an option nor a whole extension
    assert kinds(out) == ["Play", "Collect"]
    (dial,) = d.press("2000")
    assert isinstance(dial, Dial) and dial.target == "2000"
    out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome="busy"))
    assert kinds(out) == ["Play", "Collect"]  # default DISA fallback: the menu again
    assert d.call.history == ["menu", "menu"]


def test_disa_no_answer_branch_and_guard_timer() -> None:
    text = DISA.replace("ring_time: 20}", "ring_time: 20, no_answer: one}")
    d = Driver(scn(text))
    d.start()
    (dial,) = d.press("150")
    assert isinstance(dial, Dial)
    out = d.wait(25.0)  # no DialResult ever: our guard fires at ring time + 5 s
    assert out == [CancelDial(call_id="c1", request_id=dial.request_id),
                   Hangup(call_id="c1", cause="one")]


# -- collect -------------------------------------------------------------------------------

COLLECT = """
start: ask
nodes:
  ask:
    type: collect
    prompt: {tts: "Enter your PIN"}
    variable: pin
    min_length: 4
    max_length: 6
    pattern: "[0-9]+"
    timeout: 5
    digit_timeout: 3
    invalid_prompt: {tts: "Invalid"}
    next: ok
    invalid: bad
    no_input: silent
  ok: {type: hangup, prompt: {tts: "PIN ${pin}"}}
  bad: {type: hangup, cause: bad}
  silent: {type: hangup, cause: silent}
"""


def test_collect_with_terminator() -> None:
    d = Driver(scn(COLLECT))
    out = d.start()
    assert out[2] == Collect(call_id="c1", max_digits=6, timeout_s=5.0, terminator="#")
    d.prompt_done(after=2)
    out = d.press("1234#")
    assert tts(out[0]) == ["PIN 1234"]  # type: ignore[arg-type]
    assert d.call.variables["pin"] == "1234"


def test_collect_max_length_ends_input() -> None:
    d = Driver(scn(COLLECT))
    d.start()
    out = d.press("123456")
    assert tts(out[0]) == ["PIN 123456"]  # type: ignore[arg-type]


def test_collect_digit_timeout_ends_input() -> None:
    d = Driver(scn(COLLECT))
    d.start()
    d.prompt_done()
    d.press("98765")
    out = d.wait(3)
    assert tts(out[0]) == ["PIN 98765"]  # type: ignore[arg-type]


def test_collect_too_short_then_invalid_branch() -> None:
    d = Driver(scn(COLLECT))
    d.start()
    out = d.press("12#")
    assert tts(out[0]) == ["Invalid", "Enter your PIN"]  # type: ignore[arg-type]
    assert d.press("*#") == [Hangup(call_id="c1", cause="bad")]  # pattern fails


def test_collect_no_input_branch() -> None:
    d = Driver(scn(COLLECT))
    d.start()
    d.prompt_done()
    assert kinds(d.wait(5)) == ["Play", "Collect"]
    d.prompt_done()
    assert d.wait(5) == [Hangup(call_id="c1", cause="silent")]


def test_collect_without_prompt_and_no_terminator() -> None:
    d = Driver(scn("""
        start: c
        nodes:
          c: {type: collect, variable: x, terminator: none, max_length: 3, next: e}
          e: {type: hangup, cause: got}
    """))
    out = d.start()
    assert out[1] == Collect(call_id="c1", max_digits=3, timeout_s=5.0, terminator=None)
    assert d.call.get_timer() == 5.0
    assert d.press("1#2") == [Hangup(call_id="c1", cause="got")]
    assert d.call.variables["x"] == "1#2"


# -- schedule ------------------------------------------------------------------------------

SCHEDULE = """
start: outer
nodes:
  outer:
    type: schedule
    hours: {workdays: "8:00-17:00"}
    open: lunch
    closed: closed
  lunch:
    type: schedule
    hours: {daily: ["0:00-12:00", "13:00-23:59"]}
    open: open
    closed: at_lunch
  open: {type: hangup, cause: open}
  at_lunch: {type: hangup, cause: lunch}
  closed: {type: hangup, cause: closed}
"""


@pytest.mark.parametrize(("utc", "cause"), [
    (datetime(2026, 1, 7, 9, 0, tzinfo=UTC), "open"),  # Wed 10:00 in Warsaw
    (datetime(2026, 1, 7, 11, 30, tzinfo=UTC), "lunch"),  # 12:30 local
    (datetime(2026, 1, 7, 16, 0, tzinfo=UTC), "closed"),  # 17:00 local
    (datetime(2026, 1, 10, 9, 0, tzinfo=UTC), "closed"),  # Saturday
    (datetime(2026, 1, 6, 9, 0, tzinfo=UTC), "closed"),  # Epiphany
])
def test_nested_schedules(utc: datetime, cause: str) -> None:
    d = Driver(scn(SCHEDULE), clock=FakeClock(utc))
    assert d.start()[-1] == Hangup(call_id="c1", cause=cause)


# -- transfer ------------------------------------------------------------------------------

TRANSFER = """
start: t
nodes:
  t:
    type: transfer
    extension: "101"
    ring_time: 20
    caller_id: "500"
    no_answer: na
    busy: busy
  na: {type: hangup, cause: na}
  busy: {type: hangup, cause: busy}
"""


def test_transfer_answered() -> None:
    d = Driver(scn(TRANSFER))
    dial = d.start()[-1]
    assert isinstance(dial, Dial)
    assert (dial.target, dial.kind, dial.call_id, dial.timeout_s, dial.caller_id) == (
        "101", "extension", "c1", 20.0, "500")
    assert d.send(DialResult(call_id="c1", request_id=dial.request_id,
                             outcome="answered")) == []
    assert d.call.outcome == "connected" and d.call.get_timer() is None


@pytest.mark.parametrize(("outcome", "cause"), [("busy", "busy"), ("no-answer", "na"),
                                                ("rejected", "na"), ("failed", "na")])
def test_transfer_failures(outcome: str, cause: str) -> None:
    d = Driver(scn(TRANSFER))
    dial = d.start()[-1]
    assert isinstance(dial, Dial)
    d.wait(10)
    out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome=outcome))  # type: ignore[arg-type]
    assert out == [Hangup(call_id="c1", cause=cause)]


def test_transfer_busy_without_busy_branch_uses_no_answer() -> None:
    d = Driver(scn(TRANSFER.replace("    busy: busy\n", "").replace(
        "  busy: {type: hangup, cause: busy}\n", "")))
    dial = d.start()[-1]
    assert isinstance(dial, Dial)
    out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome="busy"))
    assert out == [Hangup(call_id="c1", cause="na")]


def test_transfer_external_and_guard_timer() -> None:
    d = Driver(scn(TRANSFER.replace('extension: "101"', 'external: "+48 22 123 45 67"')))
    dial = d.start()[-1]
    assert isinstance(dial, Dial) and dial.kind == "external" and dial.target == "+48221234567"
    assert d.call.get_timer() == 25.0
    assert d.wait(25) == [CancelDial(call_id="c1", request_id=dial.request_id),
                          Hangup(call_id="c1", cause="na")]


GROUP = """
start: t
nodes:
  t:
    type: transfer
    group: ["101", "102", "103"]
    strategy: STRATEGY
    ring_time: 15
    max_ring_time: 40
    no_answer: na
    busy: busy
  na: {type: hangup, cause: na}
  busy: {type: hangup, cause: busy}
"""


def test_group_sequential_rings_one_after_another_within_max_ring_time() -> None:
    d = Driver(scn(GROUP.replace("STRATEGY", "sequential")))
    first = d.start()[-1]
    assert isinstance(first, Dial) and (first.target, first.timeout_s) == ("101", 15.0)
    d.wait(15)
    second = d.send(DialResult(call_id="c1", request_id=first.request_id,
                               outcome="no-answer"))[0]
    assert isinstance(second, Dial) and (second.target, second.timeout_s) == ("102", 15.0)
    d.wait(15)
    third = d.send(DialResult(call_id="c1", request_id=second.request_id,
                              outcome="no-answer"))[0]
    assert isinstance(third, Dial) and (third.target, third.timeout_s) == ("103", 10.0)
    out = d.wait(10)  # max_ring_time (40 s) reached
    assert d.now == 40
    assert out == [CancelDial(call_id="c1", request_id=third.request_id),
                   Hangup(call_id="c1", cause="na")]


def test_group_sequential_all_busy_takes_busy_branch() -> None:
    d = Driver(scn(GROUP.replace("STRATEGY", "sequential")))
    dial = d.start()[-1]
    for _ in range(2):
        assert isinstance(dial, Dial)
        dial = d.send(DialResult(call_id="c1", request_id=dial.request_id,
                                 outcome="busy"))[0]
    assert isinstance(dial, Dial)
    out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome="busy"))
    assert out == [Hangup(call_id="c1", cause="busy")]


def test_group_random_uses_injected_rng() -> None:
    d = Driver(scn(GROUP.replace("STRATEGY", "random")), rng=random.Random(3))
    expected = ["101", "102", "103"]
    random.Random(3).shuffle(expected)
    targets = []
    dial = d.start()[-1]
    for _ in range(3):
        assert isinstance(dial, Dial)
        targets.append(dial.target)
        out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome="busy"))
        dial = out[0]
    assert targets == expected


def test_group_simultaneous_first_answer_cancels_the_others() -> None:
    d = Driver(scn(GROUP.replace("STRATEGY", "simultaneous")))
    dials = [c for c in d.start() if isinstance(c, Dial)]
    assert [x.target for x in dials] == ["101", "102", "103"]
    assert all(x.timeout_s == 40.0 for x in dials)
    d.send(DialResult(call_id="c1", request_id=dials[0].request_id, outcome="busy"))
    out = d.send(Answered(call_id="c1", request_id=dials[2].request_id))
    assert out == [CancelDial(call_id="c1", request_id=dials[1].request_id)]
    assert d.call.outcome == "connected"


def test_group_simultaneous_nobody_answers() -> None:
    d = Driver(scn(GROUP.replace("STRATEGY", "simultaneous")))
    dials = [c for c in d.start() if isinstance(c, Dial)]
    out = d.wait(40)
    assert out == [*(CancelDial(call_id="c1", request_id=x.request_id) for x in dials),
                   Hangup(call_id="c1", cause="na")]


def test_transfer_to_queue() -> None:
    d = Driver(scn("""
        start: t
        nodes:
          t: {type: transfer, queue: sales, no_answer: na}
          na: {type: hangup, cause: na}
    """))
    assert d.start()[-1] == Enqueue(call_id="c1", queue="sales")
    out = d.send(QueueResult(call_id="c1", queue="sales", outcome="timeout"))
    assert out == [Hangup(call_id="c1", cause="na")]


# -- queue ---------------------------------------------------------------------------------

QUEUE = """
start: q
nodes:
  q:
    type: queue
    queue: support
    priority: 5
    skills: {english: 3}
    prompt: {tts: "Please hold"}
    announcement: {tts: "You are number ${queue_position}"}
    announce_every: 30
    max_wait: 100
    no_answer: na
    busy: full
  na: {type: hangup, cause: na}
  full: {type: hangup, cause: full}
"""


def test_queue_announcements_and_max_wait() -> None:
    d = Driver(scn(QUEUE))
    out = d.start()
    assert kinds(out) == ["Answer", "Play", "Enqueue"]
    assert out[2] == Enqueue(call_id="c1", queue="support", priority=5,
                             skills=(("english", 3),))
    d.prompt_done(after=2)
    d.send(QueueUpdate(call_id="c1", queue="support", position=4))
    out = d.wait(28)
    assert d.now == 30 and tts(out[0]) == ["You are number 4"]  # type: ignore[arg-type]
    d.prompt_done(after=3)
    d.send(QueueUpdate(call_id="c1", queue="support", position=2))
    out = d.wait(27)
    assert tts(out[0]) == ["You are number 2"]  # type: ignore[arg-type]
    out = d.wait(40)  # 90 s: third announcement (still playing), then 100 s: give up
    assert kinds(out) == ["Play", "LeaveQueue", "StopPlayback", "Hangup"]
    assert out[1] == LeaveQueue(call_id="c1", queue="support")
    assert out[3] == Hangup(call_id="c1", cause="na")


def test_queue_answered_stops_announcement() -> None:
    d = Driver(scn(QUEUE))
    d.start()
    out = d.send(QueueResult(call_id="c1", queue="support", outcome="answered"))
    assert out == [StopPlayback(call_id="c1")]
    assert d.call.outcome == "connected" and d.call.get_timer() is None


@pytest.mark.parametrize(("outcome", "cause"), [("full", "full"), ("closed", "full"),
                                                ("timeout", "na")])
def test_queue_results(outcome: str, cause: str) -> None:
    d = Driver(scn(QUEUE))
    d.start()
    d.prompt_done()
    out = d.send(QueueResult(call_id="c1", queue="support", outcome=outcome))  # type: ignore[arg-type]
    assert out == [Hangup(call_id="c1", cause=cause)]


# -- voicemail -----------------------------------------------------------------------------

VOICEMAIL = """
start: vm
nodes:
  vm:
    type: voicemail
    mailbox: sales
    prompt: {tts: "Leave a message"}
    max_length: 60
    beep: false
    next: bye
  bye: {type: hangup, cause: recorded}
"""


def test_voicemail_greeting_then_record() -> None:
    d = Driver(scn(VOICEMAIL))
    d.start()
    (record,) = d.prompt_done(after=4)
    assert isinstance(record, Record)
    assert (record.path, record.max_s, record.beep) == ("voicemail/sales/c1.wav", 60.0, False)
    out = d.send(RecordingFinished(call_id="c1", request_id=record.request_id,
                                   path=record.path, duration_s=12.5))
    assert out == [Hangup(call_id="c1", cause="recorded")]
    assert d.call.recordings == ["voicemail/sales/c1.wav"]


def test_voicemail_without_greeting_and_lost_result() -> None:
    d = Driver(scn("start: vm\nnodes:\n  vm: {type: voicemail, mailbox: m}\n"))
    record = d.start()[-1]
    assert isinstance(record, Record) and record.max_s == 120.0 and record.beep
    assert d.wait(130) == [Hangup(call_id="c1")]  # guard: max length + 10 s


# -- http ----------------------------------------------------------------------------------

HTTP = """
start: ask
variables: {account: ""}
nodes:
  ask:
    type: http
    url: "https://crm.example/route?caller=${caller}"
    method: POST
    body: {number: "${caller}", fixed: 1}
    timeout: 4
    variable: route
    routes: {vip: vip, blocked: blocked}
    default: normal
    on_timeout: slow
    error: broken
  vip: {type: hangup, cause: vip}
  blocked: {type: hangup, cause: blocked}
  normal: {type: hangup, prompt: {tts: "route ${route}"}}
  slow: {type: hangup, cause: slow}
  broken: {type: hangup, cause: broken}
"""


def _http(d: Driver, caller: str = "+48 600") -> HttpRequest:
    request = d.start(caller=caller)[-1]
    assert isinstance(request, HttpRequest)
    return request


def test_http_request_and_route() -> None:
    d = Driver(scn(HTTP))
    request = _http(d)
    assert request.method == "POST" and request.timeout_s == 4.0
    assert request.url == "https://crm.example/route?caller=%2B48%20600"
    assert request.body == (("number", "+48 600"), ("fixed", "1"))
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200,
                            body=" vip\n"))
    assert out == [Hangup(call_id="c1", cause="vip")]
    assert d.call.variables["route"] == "vip"


def test_http_default_route() -> None:
    d = Driver(scn(HTTP))
    request = _http(d)
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200,
                            body="other"))
    assert tts(out[0]) == ["route other"]  # type: ignore[arg-type]


@pytest.mark.parametrize("result", [
    {"status": 500, "body": "vip"}, {"error": "connection refused"}, {"status": None},
])
def test_http_error_branch(result: dict) -> None:
    d = Driver(scn(HTTP))
    request = _http(d)
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, **result))
    assert out == [Hangup(call_id="c1", cause="broken")]


def test_http_timeout_branch_and_late_answer_ignored() -> None:
    d = Driver(scn(HTTP))
    request = _http(d)
    assert d.wait(4) == [Hangup(call_id="c1", cause="slow")]
    assert d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200)) == []


def test_http_json_field_and_fallbacks() -> None:
    text = """
        start: ask
        nodes:
          ask:
            type: http
            url: "http://x/y"
            field: queue
            routes: {"1": one}
            default: other
          one: {type: hangup, cause: one}
          other: {type: hangup, cause: other}
    """
    d = Driver(scn(text))
    request = _http(d)
    assert request.method == "GET"
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200,
                            body='{"queue": 1}'))
    assert out == [Hangup(call_id="c1", cause="one")]
    d = Driver(scn(text))
    request = _http(d)  # not JSON: error, which falls back to default
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200,
                            body="<html>"))
    assert out == [Hangup(call_id="c1", cause="other")]
    d = Driver(scn(text))
    _http(d)
    assert d.wait(5) == [Hangup(call_id="c1", cause="other")]  # timeout -> error -> default


# -- survey --------------------------------------------------------------------------------

SURVEY = """
start: s
answer: false
nodes:
  s:
    type: survey
    name: csat
    intro: {tts: "Survey"}
    questions:
      - {id: q1, prompt: {tts: "Q1"}, answers: "12"}
      - {id: q2, prompt: {tts: "Q2"}, answers: "12345", timeout: 4, repeats: 1}
    thanks: {tts: "Thanks"}
    next: bye
  bye: {type: hangup, cause: done}
"""


def test_survey_stores_answers() -> None:
    d = Driver(scn(SURVEY))
    out = d.start()
    assert kinds(out) == ["Play"] and tts(out[0]) == ["Survey"]  # type: ignore[arg-type]
    out = d.prompt_done()
    assert kinds(out) == ["Play", "Collect"] and tts(out[0]) == ["Q1"]  # type: ignore[arg-type]
    out = d.press("7")  # not an answer: asked again
    assert tts(out[0]) == ["Q1"]  # type: ignore[arg-type]
    out = d.press("2")
    assert out[0] == StoreSurveyAnswer(call_id="c1", survey="csat", question="q1", answer="2")
    assert tts(out[1]) == ["Q2"]  # type: ignore[arg-type]
    out = d.press("5")
    assert out[0] == StoreSurveyAnswer(call_id="c1", survey="csat", question="q2", answer="5")
    assert tts(out[1]) == ["Thanks"]  # type: ignore[arg-type]
    assert d.prompt_done() == [Hangup(call_id="c1", cause="done")]
    assert d.call.survey_answers == {"csat": {"q1": "2", "q2": "5"}}


def test_survey_unanswered_questions_are_stored_as_none() -> None:
    d = Driver(scn(SURVEY))
    d.start()
    d.prompt_done()
    d.prompt_done()
    assert kinds(d.wait(5)) == ["Play", "Collect"]  # q1 again
    d.prompt_done()
    out = d.wait(5)
    assert out[0] == StoreSurveyAnswer(call_id="c1", survey="csat", question="q1", answer=None)
    d.prompt_done()
    out = d.wait(4)  # q2 has one repeat only
    assert out[0] == StoreSurveyAnswer(call_id="c1", survey="csat", question="q2", answer=None)
    assert d.call.survey_answers == {"csat": {"q1": None, "q2": None}}


def test_survey_without_intro_and_thanks_hangs_up() -> None:
    d = Driver(scn("""
        start: s
        nodes:
          s:
            type: survey
            name: x
            questions: [{id: a, prompt: {tts: "A"}, answers: "1"}]
    """))
    out = d.start()
    assert kinds(out) == ["Answer", "Play", "Collect"]
    out = d.press("1")
    assert kinds(out) == ["StoreSurveyAnswer", "Hangup"]


# -- the step bound ------------------------------------------------------------------------

def test_step_bound_stops_a_caller_spinning_a_menu() -> None:
    d = Driver(scn("""
        start: m
        max_steps: 10
        nodes:
          m: {type: menu, prompt: {tts: "again?"}, options: {9: again}}
          again: {type: play, prompt: {tts: "ok"}, next: m}
    """))
    d.start()
    for _ in range(20):
        if d.call.finished:
            break
        d.press("9")
        if not d.call.finished:
            d.prompt_done()
    assert d.call.finished and d.call.outcome == "step-limit"
    assert d.commands(Hangup) == [Hangup(call_id="c1", cause="ivr-step-limit")]
    assert d.call.steps == 11


def test_max_steps_override() -> None:
    call = IvrCall(scn(PLAY), "c1", clock=FakeClock(), max_steps=1)
    call.handle(CallOffered(call_id="c1", caller="1", callee="2"), 0.0)
    out = call.handle(PromptFinished(call_id="c1", prompt_id="c1:p1"), 1.0)
    assert out == [Hangup(call_id="c1", cause="ivr-step-limit")]


# -- the multi-call interpreter ------------------------------------------------------------

def test_interpreter_routes_calls_and_keeps_versions() -> None:
    scenarios = {"700": scn(MENU)}
    interp = Interpreter(lambda offered: scenarios.get(offered.callee), clock=FakeClock())
    out = interp.handle(CallOffered(call_id="a", caller="1", callee="700"), 0.0)
    assert kinds(out) == ["Answer", "Play", "Collect"]
    scenarios["700"] = scn(MENU.replace("cause: one", "cause: uno"))  # a reload
    interp.handle(CallOffered(call_id="b", caller="1", callee="700"), 0.0)
    assert interp.handle(CallOffered(call_id="x", caller="1", callee="999"), 0.0) == [
        Hangup(call_id="x", cause="no-scenario", sip_status=404)]
    digit = {"digit": "1", "at": 0.0, "duration_ms": 80, "source": "rfc4733"}
    assert interp.handle(DtmfReceived(call_id="a", **digit), 1.0) == [  # type: ignore[arg-type]
        Hangup(call_id="a", cause="one")]
    assert interp.handle(DtmfReceived(call_id="b", **digit), 1.0) == [  # type: ignore[arg-type]
        Hangup(call_id="b", cause="uno")]
    assert interp.calls == {}
    assert interp.handle(DtmfReceived(call_id="zzz", **digit), 1.0) == []  # type: ignore[arg-type]


def test_interpreter_timer_fans_out() -> None:
    interp = Interpreter(lambda offered: scn(MENU), clock=FakeClock())
    for call_id in ("a", "b"):
        out = interp.handle(CallOffered(call_id=call_id, caller="1", callee="700"), 0.0)
        play = out[1]
        assert isinstance(play, Play)
        interp.handle(PromptFinished(call_id=call_id, prompt_id=play.prompt_id),
                      1.0 if call_id == "a" else 2.0)
    assert interp.get_timer() == 6.0
    assert kinds(interp.handle_timer(6.0)) == ["Play", "Collect"]
    assert interp.get_timer() == 7.0
    assert interp.handle_timer(6.5) == []


# -- remaining branches --------------------------------------------------------------------

def test_disa_key_that_is_neither_option_nor_extension_is_invalid_at_once() -> None:
    d = Driver(scn(DISA))
    d.start()
    out = d.press("5")
    assert kinds(out) == ["Play", "Collect"]


def test_disa_extension_that_prefixes_a_longer_one_waits_then_dials() -> None:
    d = Driver(scn(DISA.replace('["100-199", "2000"]', '["20", "200-299"]')))
    d.start()
    assert d.press("20") == []  # could still become 20x
    (dial,) = d.wait(2)
    assert isinstance(dial, Dial) and dial.target == "20"


def test_collect_and_transfer_without_branches_hang_up() -> None:
    d = Driver(scn("start: c\nnodes:\n  c: {type: collect, variable: v, next: e, repeats: 1}\n"
                   "  e: {type: hangup, cause: e}\n"))
    d.start()
    assert d.wait(5) == [Hangup(call_id="c1")]
    d = Driver(scn("start: t\nnodes:\n  t: {type: transfer, extension: '10'}\n"))
    dial = d.start()[-1]
    assert isinstance(dial, Dial)
    out = d.send(DialResult(call_id="c1", request_id=dial.request_id, outcome="busy"))
    assert out == [Hangup(call_id="c1")]


def test_transfer_to_queue_gives_up_after_ring_time() -> None:
    d = Driver(scn("""
        start: t
        nodes:
          t: {type: transfer, queue: sales, ring_time: 60, busy: b, no_answer: n}
          n: {type: hangup, cause: n}
          b: {type: hangup, cause: b}
    """))
    d.start()
    assert d.wait(60) == [LeaveQueue(call_id="c1", queue="sales"), Hangup(call_id="c1",
                                                                          cause="n")]
    d = Driver(scn("""
        start: t
        nodes:
          t: {type: transfer, queue: sales, busy: b, no_answer: n}
          n: {type: hangup, cause: n}
          b: {type: hangup, cause: b}
    """))
    d.start()
    assert d.call.get_timer() is None  # without ring_time the ACD decides
    out = d.send(QueueResult(call_id="c1", queue="sales", outcome="full"))
    assert out == [Hangup(call_id="c1", cause="b")]


@pytest.mark.parametrize(("body", "answer"), [('{"vip": true}', "true"),
                                              ('{"vip": [1, 2]}', "[1, 2]"),
                                              ('{"other": 1}', None), ("[1]", None)])
def test_http_json_values(body: str, answer: str | None) -> None:
    d = Driver(scn("""
        start: h
        nodes:
          h: {type: http, url: "http://x/", field: vip, variable: r, default: d, error: e}
          d: {type: hangup, cause: d}
          e: {type: hangup, cause: e}
    """))
    request = d.start()[-1]
    assert isinstance(request, HttpRequest)
    out = d.send(HttpResult(call_id="c1", request_id=request.request_id, status=200, body=body))
    assert out == [Hangup(call_id="c1", cause="d" if answer is not None else "e")]
    assert d.call.variables.get("r") == answer
