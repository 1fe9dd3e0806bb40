"""Properties: generated valid scenarios + random caller/switch input -> the interpreter
always ends within its step bound and emits only well-formed commands; and the validator
and the published JSON Schema agree on every generated scenario."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrdsl.events import (
    CancelDial,
    HttpRequest,
    HttpResult,
    LeaveQueue,
    QueueResult,
    QueueUpdate,
    StoreSurveyAnswer,
)
from ivrdsl.model import Scenario
from ivrdsl.schema import SCHEMA_PATH
from ivrdsl.testing import Driver, FakeClock
from ivrdsl.validator import load_text
from switch.control import (
    Answer,
    Answered,
    Collect,
    Dial,
    DialResult,
    DtmfReceived,
    Enqueue,
    Hangup,
    Play,
    PromptFinished,
    Record,
    RecordingFinished,
    SilencePrompt,
    StopPlayback,
    TtsPrompt,
)

INPUT = ("menu", "collect", "survey")
OTHER = ("play", "schedule", "transfer", "queue", "voicemail", "set", "goto", "hangup", "http")
SCHEMA = jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text()))


def prompt(draw: st.DrawFn) -> Any:
    one = draw(st.sampled_from([
        {"tts": "Hello ${caller} ${v}"}, {"tts": "Witamy", "language": "pl", "voice": "male"},
        {"silence": 0.5}, {"tts": "Press a key", "language": "en"},
    ]))
    return [one, {"tts": "x"}] if draw(st.booleans()) else one


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 9))
    kinds = [draw(st.sampled_from(INPUT + OTHER)) for _ in range(count - 1)] + ["hangup"]
    names = [f"n{i}" for i in range(count)]
    inputs = [n for n, k in zip(names, kinds, strict=True) if k in INPUT]

    def target(i: int) -> str:
        # Forward edges anywhere; backward edges only into nodes that wait for input,
        # so no loop can avoid waiting for the caller.
        choices = names[i + 1:] + [n for n in inputs if names.index(n) <= i]
        if kinds[i] in INPUT:
            choices = names
        return draw(st.sampled_from(choices or [names[-1]]))

    def maybe(i: int, node: dict[str, Any], *keys: str) -> None:
        for key in keys:
            if draw(st.booleans()):
                node[key] = target(i)

    nodes: dict[str, Any] = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        node: dict[str, Any] = {"type": kind}
        if kind == "play":
            node |= {"prompt": prompt(draw), "next": target(i)}
        elif kind == "menu":
            keys = draw(st.lists(st.sampled_from("0123456789*#"), min_size=1, max_size=4,
                                 unique=True))
            node |= {"prompt": prompt(draw), "options": {k: target(i) for k in keys},
                     "timeout": draw(st.sampled_from([1, 2.5, 5])),
                     "repeats": draw(st.integers(1, 3))}
            maybe(i, node, "invalid", "no_input")
            if draw(st.booleans()):
                node["invalid_prompt"] = prompt(draw)
            if draw(st.booleans()):
                node["disa"] = {"extensions": draw(st.sampled_from(
                    [["100-199"], ["20", "21"], ["3000-3999", "400"]])),
                    "digit_timeout": 1.5}
                if draw(st.booleans()):
                    node["disa"]["no_answer"] = target(i)
        elif kind == "collect":
            low = draw(st.integers(1, 4))
            node |= {"variable": "v", "min_length": low, "max_length": low + draw(
                st.integers(0, 3)), "next": target(i),
                "terminator": draw(st.sampled_from(["#", "*", "none"]))}
            if draw(st.booleans()):
                node["prompt"] = prompt(draw)
            if draw(st.booleans()):
                node["pattern"] = "[0-9]+"
            maybe(i, node, "invalid", "no_input")
        elif kind == "survey":
            node |= {"name": "s", "questions": [
                {"id": f"q{j}", "prompt": prompt(draw), "answers": draw(st.sampled_from(
                    ["12", "12345", "0"])), "repeats": draw(st.integers(1, 2))}
                for j in range(draw(st.integers(1, 3)))]}
            maybe(i, node, "next")
            if draw(st.booleans()):
                node["thanks"] = prompt(draw)
        elif kind == "schedule":
            node |= {"hours": draw(st.sampled_from([{"workdays": "8:00-17:00"},
                                                    {"daily": ["0:00-12:00", "13:00-23:59"]},
                                                    {"sun": "0:00-0:00"}])),
                     "open": target(i), "closed": target(i)}
            if draw(st.booleans()):
                node["exceptions"] = [{"date": "12-24", "hours": "8:00-12:00"}]
        elif kind == "transfer":
            dest = draw(st.sampled_from(["extension", "group", "queue", "external"]))
            value = {"extension": "101", "group": ["101", "102", "103"], "queue": "q",
                     "external": "+48221234567"}[dest]
            node[dest] = value
            node["ring_time"] = draw(st.sampled_from([5, 15]))
            if dest == "group":
                node["strategy"] = draw(st.sampled_from(["sequential", "random",
                                                         "simultaneous"]))
                node["max_ring_time"] = draw(st.sampled_from([10, 40]))
            maybe(i, node, "no_answer", "busy")
        elif kind == "queue":
            node |= {"queue": "support", "announce_every": 10}
            if draw(st.booleans()):
                node["announcement"] = {"tts": "Position ${queue_position}"}
            if draw(st.booleans()):
                node["max_wait"] = draw(st.sampled_from([5, 25]))
            maybe(i, node, "no_answer", "busy")
        elif kind == "voicemail":
            node |= {"mailbox": "box", "max_length": 30}
            if draw(st.booleans()):
                node["prompt"] = prompt(draw)
            maybe(i, node, "next")
        elif kind == "set":
            node |= {"variables": {"v": draw(st.sampled_from(["1", "${caller}", "x y"]))},
                     "next": target(i)}
        elif kind == "goto":
            node["target"] = target(i)
        elif kind == "hangup":
            if draw(st.booleans()):
                node["prompt"] = prompt(draw)
        elif kind == "http":
            node |= {"url": "https://crm.example/r?c=${caller}", "timeout": 2,
                     "routes": {"a": target(i)}, "default": target(i), "variable": "v"}
            maybe(i, node, "error", "on_timeout")
        nodes[name] = node
    # Keep what start reaches: dropped nodes are only referenced by other dropped nodes.
    seen, todo = {"n0"}, ["n0"]
    while todo:
        for ref in re.findall(r"'(n\d+)'", repr(nodes[todo.pop()])):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    kept = {n: v for n, v in nodes.items() if n in seen}
    return {"start": "n0", "max_steps": draw(st.integers(5, 60)),
            "variables": {"v": "0"}, "nodes": kept}


def load(doc: dict[str, Any]) -> Scenario:
    return load_text(yaml.safe_dump(doc, allow_unicode=True), "gen.yaml")


ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("press"), st.sampled_from("0123456789*#")),
    st.tuples(st.just("prompt_done"), st.booleans()),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 3.0, 10.0])),
    st.tuples(st.just("dial"), st.sampled_from(["answered", "busy", "no-answer", "failed"])),
    st.tuples(st.just("answered"), st.none()),
    st.tuples(st.just("http"), st.sampled_from([(200, "a"), (200, "b"), (500, ""),
                                                (None, "")])),
    st.tuples(st.just("queue"), st.sampled_from(["answered", "timeout", "full", "update"])),
    st.tuples(st.just("recorded"), st.none()),
), max_size=40)


class Checker:
    """Everything the interpreter emits must be well formed and in a sane order."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.prompt_ids: set[str] = set()
        self.requests: set[str] = set()
        self.count = 0
        self.hung_up = False

    def check(self, commands: list[Any]) -> None:
        for c in commands:
            assert not self.hung_up, f"{c} after Hangup"
            self.count += 1
            assert getattr(c, "call_id", self.call_id) == self.call_id
            if isinstance(c, Answer):
                assert self.count == 1
            elif isinstance(c, Play):
                assert c.prompts and c.prompt_id not in self.prompt_ids
                self.prompt_ids.add(c.prompt_id)
                for p in c.prompts:
                    if isinstance(p, TtsPrompt):
                        assert "${" not in p.text and p.language in ("pl", "en")
                    if isinstance(p, SilencePrompt):
                        assert p.seconds > 0
            elif isinstance(c, Collect):
                assert c.max_digits >= 1 and c.timeout_s > 0
            elif isinstance(c, Dial):
                assert re.fullmatch(r"\+?[0-9]+", c.target) and c.timeout_s > 0
                assert c.request_id not in self.requests
                self.requests.add(c.request_id)
            elif isinstance(c, CancelDial):
                assert c.request_id in self.requests
            elif isinstance(c, HttpRequest):
                assert c.url.startswith("https://") and "${" not in c.url
                self.requests.add(c.request_id)
            elif isinstance(c, Record):
                assert c.max_s > 0 and c.path.endswith(".wav")
                self.requests.add(c.request_id)
            elif isinstance(c, Hangup):
                self.hung_up = True
            else:
                assert isinstance(c, Enqueue | LeaveQueue | StopPlayback | StoreSurveyAnswer)


def last(d: Driver, kind: type) -> Any:
    found = [c for _, c in d.timeline if isinstance(c, kind)]
    return found[-1] if found else None


def act(d: Driver, action: str, arg: Any) -> list[Any]:
    cid = d.call_id
    if action == "press":
        return d.press(arg)
    if action == "prompt_done":
        play = last(d, Play)
        return d.prompt_done(interrupted=arg) if play else []
    if action == "wait":
        return d.wait(arg)
    if action in ("dial", "answered"):
        dial = last(d, Dial)
        if dial is None:
            return []
        if action == "answered":
            return d.send(Answered(call_id=cid, request_id=dial.request_id))
        return d.send(DialResult(call_id=cid, request_id=dial.request_id, outcome=arg))
    if action == "http":
        request = last(d, HttpRequest)
        if request is None:
            return []
        status, body = arg
        error = "refused" if status is None else None
        return d.send(HttpResult(call_id=cid, request_id=request.request_id, status=status,
                                 body=body, error=error))
    if action == "queue":
        if arg == "update":
            return d.send(QueueUpdate(call_id=cid, queue="q", position=3))
        return d.send(QueueResult(call_id=cid, queue="q", outcome=arg))
    record = last(d, Record)
    if record is None:
        return []
    return d.send(RecordingFinished(call_id=cid, request_id=record.request_id,
                                    path=record.path, duration_s=3.0))


def drain(d: Driver) -> list[Any]:
    """A patient, unhelpful caller and a switch that completes whatever was asked."""
    last_command = d.timeline[-1][1] if d.timeline else None
    node = d.call.scenario.nodes[d.call.history[-1]]
    if node.kind == "queue" or (node.kind == "transfer" and node.get("queue") is not None):
        return d.send(QueueResult(call_id=d.call_id, queue="q", outcome="timeout"))
    if d.call.get_timer() is not None:
        return d.wait(d.call.get_timer() - d.now)  # type: ignore[operator]
    if isinstance(last_command, Play):
        return d.send(PromptFinished(call_id=d.call_id, prompt_id=last_command.prompt_id))
    if isinstance(last_command, Dial):
        return d.send(DialResult(call_id=d.call_id, request_id=last_command.request_id,
                                 outcome="no-answer"))
    if isinstance(last_command, Enqueue | StoreSurveyAnswer | Collect):
        play = last(d, Play)
        out = d.send(QueueResult(call_id=d.call_id, queue="q", outcome="timeout"))
        if not out and play is not None:
            out = d.send(PromptFinished(call_id=d.call_id, prompt_id=play.prompt_id))
        return out
    play = last(d, Play)
    return d.send(PromptFinished(call_id=d.call_id, prompt_id=play.prompt_id)) if play else []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios(), actions=ACTIONS, minutes=st.integers(0, 7 * 24 * 60))
def test_interpreter_ends_within_its_bound_with_valid_commands(
        doc: dict[str, Any], actions: list[tuple[str, Any]], minutes: int) -> None:
    scenario = load(doc)
    clock = FakeClock(datetime(2026, 3, 23, tzinfo=UTC) + timedelta(minutes=minutes))
    d = Driver(scenario, clock=clock)
    checker = Checker(d.call_id)
    checker.check(d.start())
    for action, arg in actions:
        if d.call.finished:
            break
        checker.check(act(d, action, arg))
    for _ in range(50 * scenario.max_steps + 200):
        if d.call.finished:
            break
        checker.check(drain(d))
    assert d.call.finished, (d.call.history, d.timeline[-3:])
    assert d.call.steps <= scenario.max_steps + 1
    assert d.call.outcome in ("hangup", "connected", "step-limit")
    assert d.call.get_timer() is None
    assert d.send(DtmfReceived(call_id=d.call_id, digit="1", at=d.now, duration_ms=80,
                               source="rfc4733")) == []


@settings(max_examples=80, deadline=None)
@given(doc=scenarios())
def test_generated_scenarios_satisfy_the_published_schema(doc: dict[str, Any]) -> None:
    load(doc)  # the validator accepts it ...
    data = json.loads(json.dumps(doc))
    assert list(SCHEMA.iter_errors(data)) == []  # ... and so does the schema


@settings(max_examples=80, deadline=None)
@given(doc=scenarios(), data=st.data())
def test_unknown_fields_are_rejected_by_both(doc: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(doc["nodes"])))
    doc["nodes"][name]["colour"] = "blue"
    text = yaml.safe_dump(doc)
    try:
        load_text(text, "gen.yaml")
    except Exception as exc:  # noqa: BLE001 - we check the message below
        assert "unknown field 'colour'" in str(exc)
    else:
        raise AssertionError("validator accepted an unknown field")
    assert list(SCHEMA.iter_errors(json.loads(json.dumps(doc))))
