"""The example scenarios in config/scenarios/ are valid and do what the issue describes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivrdsl.__main__ import main
from ivrdsl.events import CancelDial, StoreSurveyAnswer
from ivrdsl.model import Scenario
from ivrdsl.testing import Driver, FakeClock
from ivrdsl.validator import check_file, load_file
from switch.control import (
    Answered,
    Dial,
    DialResult,
    Enqueue,
    Hangup,
    Play,
    Record,
    RecordingFinished,
    TtsPrompt,
)

DIR = Path(__file__).resolve().parents[2] / "config" / "scenarios"
EXAMPLES = sorted(DIR.glob("*.yaml"))

WEDNESDAY_10 = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw
SUNDAY_10 = datetime(2026, 1, 11, 9, 0, tzinfo=UTC)


def texts(play: object) -> str:
    assert isinstance(play, Play)
    return " ".join(p.text for p in play.prompts if isinstance(p, TtsPrompt))


def test_there_are_three_examples() -> None:
    assert [p.name for p in EXAMPLES] == ["helpline.yaml", "post_call_survey.yaml",
                                          "small_business.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    assert check_file(path) == []
    assert main(["check", str(path)]) == 0


# -- (a) small-business virtual PBX ----------------------------------------------------

def pbx(when: datetime = WEDNESDAY_10) -> Driver:
    return Driver(load_file(DIR / "small_business.yaml"), clock=FakeClock(when))


def test_pbx_open_greeting_then_sales_group_rings_in_turn() -> None:
    d = pbx()
    out = d.start()
    assert "Nowak i Wspólnicy" in texts(out[1])
    d.prompt_done(after=8)
    assert d.press("1") == []
    d.wait(2)  # "1" could start extension 1xx (DISA): decided after 2 s
    dial = d.commands()[-1]
    targets = []
    for _ in range(2):
        assert isinstance(dial, Dial)
        targets.append(dial.target)
        d.wait(15)
        dial = d.send(DialResult(call_id="c1", request_id=dial.request_id,
                                 outcome="no-answer"))[0]
    assert isinstance(dial, Dial)
    targets.append(dial.target)
    out = d.wait(15)  # the group's max ring time (45 s) ends the third attempt
    assert targets == ["101", "102", "103"]  # sequential
    assert out[0] == CancelDial(call_id="c1", request_id=dial.request_id)
    reception = out[1]
    assert isinstance(reception, Dial) and reception.target == "100"
    d.send(Answered(call_id="c1", request_id=reception.request_id))
    assert d.call.outcome == "connected"


def test_pbx_support_queue() -> None:
    d = pbx()
    d.start()
    out = d.press("2")
    assert Enqueue(call_id="c1", queue="support") in out
    d.prompt_done()
    out = d.wait(30)
    assert "${" not in texts(out[0])


def test_pbx_reception_and_disa() -> None:
    d = pbx()
    d.start()
    assert d.press("0")[0].target == "100"  # type: ignore[union-attr]
    d = pbx()
    d.start()
    assert d.press("102")[0].target == "102"  # type: ignore[union-attr]


def test_pbx_no_input_twice_goes_to_reception() -> None:
    d = pbx()
    d.start()
    d.prompt_done(after=10)
    out = d.wait(5)
    assert isinstance(out[0], Play)  # second time
    d.prompt_done(after=10)
    out = d.wait(5)
    assert out[0].target == "100"  # type: ignore[union-attr]


def test_pbx_closed_voicemail_with_after_hours_message() -> None:
    d = pbx(SUNDAY_10)
    out = d.start()
    assert "Zostaw wiadomość" in texts(out[1])
    (record,) = d.prompt_done()
    assert isinstance(record, Record) and record.path == "voicemail/reception/c1.wav"
    assert record.max_s == 180.0
    out = d.send(RecordingFinished(call_id="c1", request_id=record.request_id,
                                   path=record.path, duration_s=20))
    assert out == [Hangup(call_id="c1")]


def test_pbx_short_day_on_new_years_eve() -> None:
    d = pbx(datetime(2026, 12, 31, 12, 0, tzinfo=UTC))  # Thursday 13:00: closed early
    assert "Zostaw wiadomość" in texts(d.start()[1])


# -- (b) bilingual help line -----------------------------------------------------------

def helpline(when: datetime) -> tuple[Scenario, Driver]:
    scenario = load_file(DIR / "helpline.yaml")
    return scenario, Driver(scenario, clock=FakeClock(when))


def test_helpline_english_queue_on_a_workday() -> None:
    _, d = helpline(WEDNESDAY_10)
    out = d.start()
    prompts = out[1].prompts  # type: ignore[union-attr]
    assert [p.language for p in prompts] == ["pl", "en"]
    out = d.press("2")
    assert out[0].prompts[0].language == "en"  # type: ignore[union-attr]
    assert out[1] == Enqueue(call_id="c1", queue="helpline-en", skills=(("english", 1),))


@pytest.mark.parametrize("when", [
    datetime(2026, 6, 4, 9, 0, tzinfo=UTC),  # Corpus Christi, a Thursday
    datetime(2026, 4, 6, 9, 0, tzinfo=UTC),  # Easter Monday
    datetime(2026, 1, 7, 16, 30, tzinfo=UTC),  # Wednesday 17:30
    SUNDAY_10,
])
def test_helpline_after_hours_points_to_the_contact_form(when: datetime) -> None:
    _, d = helpline(when)
    out = d.start()
    assert "www.example.pl/kontakt" in texts(out[1])
    assert [p.language for p in out[1].prompts if isinstance(p, TtsPrompt)] == ["pl", "en"]  # type: ignore[union-attr]
    assert d.prompt_done() == [Hangup(call_id="c1")]


# -- (c) post-call survey --------------------------------------------------------------

def test_post_call_survey_stores_answers() -> None:
    d = Driver(load_file(DIR / "post_call_survey.yaml"))
    out = d.start()
    assert [type(c).__name__ for c in out] == ["Play"]  # already answered
    d.prompt_done()
    d.press("1")
    d.press("5")
    d.prompt_done()
    d.wait(5)
    d.prompt_done()
    out = d.wait(5)
    stored = d.commands(StoreSurveyAnswer)
    assert [(s.question, s.answer) for s in stored] == [  # type: ignore[union-attr]
        ("solved", "1"), ("agent_rating", "5"), ("recommend", None)]
    assert d.prompt_done() == [Hangup(call_id="c1", cause="survey-complete")]
