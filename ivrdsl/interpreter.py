"""The sans-I/O scenario interpreter: call-control events in, commands out.

Theory of operation
-------------------
One :class:`IvrCall` runs one call through one validated :class:`Scenario`.  It never
sleeps and never does I/O: the glue feeds it events with ``handle(event, now)`` and
the passing of time with ``handle_timer(now)``, and sends whatever commands come back.
``get_timer()`` says when it next needs ``handle_timer`` (menu and collect timeouts,
group ring limits, queue announcements, HTTP timeouts).  Wall time for schedules comes
from an injected :class:`~ivrdsl.events.Clock`; ``now`` is the monotonic time of the
event loop.

Moving through nodes is a loop, not recursion: nodes that do not wait (schedule, set,
goto) hand back the next node's name at once; nodes that wait (play, menu, collect,
transfer, queue, voicemail, http, survey) emit commands and remember what they are
waiting for.  Every node entered counts as a step; past ``max_steps`` the call is
hung up with cause ``ivr-step-limit`` — the validator rejects loops that never wait for
the caller, and this bound catches whatever the caller can still spin (a menu option
that leads back to the menu, pressed forever).

A branch that is not written (``no_input`` of a menu, say) hangs up.  Completion
events carry the prompt or request id the interpreter chose, so late events from an
earlier node (a PromptFinished after barge-in, a DialResult after the ring limit) are
recognised as stale and ignored.

:class:`Interpreter` multiplexes calls: it asks a scenario provider (usually
:class:`ivrdsl.registry.ScenarioRegistry`) for the scenario when a call arrives, and
each call keeps that version until it ends, whatever is reloaded meanwhile.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from urllib.parse import quote

from ivrdsl.events import (
    CancelDial,
    Clock,
    HttpRequest,
    HttpResult,
    IvrCommand,
    IvrEvent,
    LeaveQueue,
    QueueResult,
    QueueUpdate,
    StoreSurveyAnswer,
)
from ivrdsl.model import Node, PromptSpec, Scenario
from ivrdsl.schedule import ScheduleSpec
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
    Prompt,
    PromptFinished,
    Record,
    RecordingFinished,
    Released,
    SilencePrompt,
    StopPlayback,
    TtsPrompt,
)

__all__ = ["Interpreter", "IvrCall"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DIAL_GRACE_S = 5.0  # our own guard beyond a Dial's ring time, should its result be lost
RECORD_GRACE_S = 10.0


class IvrCall:
    """One call running through one scenario version."""

    # What the current node waits for; cleared by _reset() on every node entry.
    _phase: str
    _prompt_id: str | None
    _deadline: float | None
    _announce_at: float | None
    _attempts: int
    _digits: str
    _request_id: str | None
    _dials: dict[str, str]  # request_id -> member, ringing now
    _members: list[str]
    _group_deadline: float | None
    _busy_only: bool
    _question: int

    def __init__(
        self,
        scenario: Scenario,
        call_id: str,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        variables: dict[str, str] | None = None,
        max_steps: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.call_id = call_id
        self.clock = clock
        self.rng = rng or random.Random()
        self.max_steps = max_steps if max_steps is not None else scenario.max_steps
        self.variables: dict[str, str] = dict(scenario.variables)
        self.variables.update(variables or {})
        self.variables.setdefault("call_id", call_id)
        self.variables.setdefault("scenario", scenario.name)
        self.survey_answers: dict[str, dict[str, str | None]] = {}
        self.recordings: list[str] = []
        self.steps = 0
        self.started = False
        self.finished = False
        self.outcome = ""  # hangup | connected | queued-answered | released | step-limit
        self.history: list[str] = []  # names of the nodes entered, in order
        self._counter = 0
        self._node: Node | None = None
        self._reset()

    # -- public API -------------------------------------------------------------------

    def handle(self, event: IvrEvent, now: float) -> list[IvrCommand]:
        out: list[IvrCommand] = []
        if self.finished or getattr(event, "call_id", None) != self.call_id:
            return out
        if isinstance(event, CallOffered):
            if not self.started:
                self.started = True
                for key, value in (("caller", event.caller), ("callee", event.callee),
                                   ("caller_name", event.caller_name)):
                    self.variables.setdefault(key, value)
                if self.scenario.answer:
                    out.append(Answer(call_id=self.call_id))
                self._enter(self.scenario.start, now, out)
            return out
        if isinstance(event, Released):
            self._finish("released")
            return out
        if not self.started or self._node is None:
            return out
        handler = getattr(self, f"_on_{self._node.kind}")
        handler(self._node, event, now, out)
        return out

    def get_timer(self) -> float | None:
        if self.finished:
            return None
        times = [t for t in (self._deadline, self._announce_at) if t is not None]
        return min(times, default=None)

    def handle_timer(self, now: float) -> list[IvrCommand]:
        out: list[IvrCommand] = []
        if self.finished or self._node is None:
            return out
        node = self._node
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            getattr(self, f"_timeout_{node.kind}")(node, now, out)
        elif self._announce_at is not None and now >= self._announce_at:
            self._announce(node, now, out)
        return out

    # -- moving between nodes -----------------------------------------------------------

    def _reset(self) -> None:
        self._phase = ""
        self._prompt_id = None
        self._deadline = None
        self._announce_at = None
        self._attempts = 0
        self._digits = ""
        self._request_id = None
        self._dials = {}
        self._members = []
        self._group_deadline = None
        self._busy_only = True
        self._question = 0

    def _enter(self, name: str | None, now: float, out: list[IvrCommand]) -> None:
        while name is not None and not self.finished:
            self.steps += 1
            if self.steps > self.max_steps:
                out.append(Hangup(call_id=self.call_id, cause="ivr-step-limit"))
                self._finish("step-limit")
                return
            node = self.scenario.nodes[name]
            self._node = node
            self._reset()
            self.history.append(name)
            name = getattr(self, f"_enter_{node.kind}")(node, now, out)

    def _branch(self, target: str | None, now: float, out: list[IvrCommand]) -> None:
        """Continue at ``target``; an unwritten branch hangs up."""
        if target is None:
            self._hangup(out, "normal")
        else:
            self._enter(target, now, out)

    def _hangup(self, out: list[IvrCommand], cause: str) -> None:
        out.append(Hangup(call_id=self.call_id, cause=cause))
        self._finish("hangup")

    def _finish(self, outcome: str) -> None:
        self.finished = True
        self.outcome = outcome
        self._deadline = self._announce_at = None

    def _new_id(self, kind: str) -> str:
        self._counter += 1
        return f"{self.call_id}:{kind}{self._counter}"

    # -- prompts and variables ----------------------------------------------------------

    def substitute(self, text: str, *, url: bool = False) -> str:
        def value(match: re.Match[str]) -> str:
            found = self.variables.get(match.group(1), "")
            return quote(found, safe="") if url else found

        return _VAR.sub(value, text)

    def _prompts(self, specs: tuple[PromptSpec, ...]) -> tuple[Prompt, ...]:
        result: list[Prompt] = []
        for p in specs:
            if p.kind == "tts":
                result.append(TtsPrompt(
                    text=self.substitute(p.text),
                    language=p.language or self.scenario.language,
                    voice=p.voice or self.scenario.voice,
                ))
            elif p.kind == "file":
                result.append(FilePrompt(path=str(p.path or p.text)))
            else:
                result.append(SilencePrompt(seconds=p.seconds))
        return tuple(result)

    def _play(self, specs: tuple[PromptSpec, ...], out: list[IvrCommand], *,
              barge_in: bool) -> bool:
        """Play ``specs`` (if any); returns whether a Play was sent."""
        self._prompt_id = None
        if not specs:
            return False
        self._prompt_id = self._new_id("p")
        out.append(Play(call_id=self.call_id, prompt_id=self._prompt_id,
                        prompts=self._prompts(specs), barge_in=barge_in))
        return True

    def _is_current_prompt(self, event: IvrEvent) -> bool:
        return isinstance(event, PromptFinished) and event.prompt_id == self._prompt_id

    # -- play / set / goto / schedule / hangup ------------------------------------------

    def _enter_play(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._play(node.prompts("prompt"), out, barge_in=False)
        return None

    def _on_play(self, node: Node, event: IvrEvent, now: float, out: list[IvrCommand]) -> None:
        if self._is_current_prompt(event):
            self._enter(node.target("next"), now, out)

    def _enter_set(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        values = node.get("variables")
        assert isinstance(values, dict)
        for key, value in values.items():
            self.variables[str(key)] = self.substitute(str(value))
        return node.target("next")

    def _enter_goto(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        return node.target("target")

    def _enter_schedule(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        schedule = node.get("schedule")
        assert isinstance(schedule, ScheduleSpec)
        return node.target("open" if schedule.is_open(self.clock.now()) else "closed")

    def _enter_hangup(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        if not self._play(node.prompts("prompt"), out, barge_in=False):
            self._hangup(out, node.text("cause", "normal"))
        return None

    def _on_hangup(self, node: Node, event: IvrEvent, now: float,
                   out: list[IvrCommand]) -> None:
        if self._is_current_prompt(event):
            self._hangup(out, node.text("cause", "normal"))

    # -- menu ---------------------------------------------------------------------------

    def _disa(self, node: Node) -> dict[str, object] | None:
        disa = node.get("disa")
        return disa if isinstance(disa, dict) else None

    def _enter_menu(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._menu_prompt(node, out, node.prompts("prompt"))
        return None

    def _menu_prompt(self, node: Node, out: list[IvrCommand],
                     specs: tuple[PromptSpec, ...]) -> None:
        disa = self._disa(node)
        longest = max((len(low) for low, _ in _ranges(disa)), default=1) if disa else 1
        self._digits = ""
        self._phase = "prompt"
        self._play(specs, out, barge_in=True)
        out.append(Collect(call_id=self.call_id, max_digits=longest,
                           timeout_s=node.number("timeout", 5.0), terminator=None))

    def _on_menu(self, node: Node, event: IvrEvent, now: float, out: list[IvrCommand]) -> None:
        if self._phase == "dial":
            self._on_dial_event(event, now, out, self._disa_fallback(node))
            return
        if self._is_current_prompt(event) and self._phase == "prompt":
            self._phase = "wait"
            if not self._digits:
                self._deadline = now + node.number("timeout", 5.0)
        elif isinstance(event, DtmfReceived) and self._phase in ("prompt", "wait"):
            self._menu_digit(node, event.digit, now, out)

    def _menu_digit(self, node: Node, digit: str, now: float, out: list[IvrCommand]) -> None:
        options = node.get("options")
        assert isinstance(options, dict)
        disa = self._disa(node)
        if disa is None:
            if digit in options:
                self._enter(str(options[digit]), now, out)
            else:
                self._menu_failed(node, "invalid", now, out)
            return
        self._digits += digit
        complete, extendable = _extension_match(self._digits, _ranges(disa))
        if complete and not extendable:
            self._dial_extension(self._digits, disa, now, out)
        elif extendable:
            self._deadline = now + float(str(disa.get("digit_timeout", 2.0)))
        elif len(self._digits) == 1 and self._digits in options:
            self._enter(str(options[self._digits]), now, out)
        else:
            self._menu_failed(node, "invalid", now, out)

    def _timeout_menu(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        if self._phase == "dial":
            self._dial_timeout(now, out, self._disa_fallback(node))
            return
        options = node.get("options")
        assert isinstance(options, dict)
        disa = self._disa(node)
        if not self._digits:
            self._menu_failed(node, "no_input", now, out)
        elif len(self._digits) == 1 and self._digits in options:
            self._enter(str(options[self._digits]), now, out)
        elif disa is not None and _extension_match(self._digits, _ranges(disa))[0]:
            self._dial_extension(self._digits, disa, now, out)
        else:
            self._menu_failed(node, "invalid", now, out)

    def _menu_failed(self, node: Node, why: str, now: float, out: list[IvrCommand]) -> None:
        self._attempts += 1
        self._deadline = None
        if self._attempts >= node.integer("repeats", 2):
            self._branch(node.target(why), now, out)
            return
        again = node.prompts("prompt")
        if why == "invalid":
            again = node.prompts("invalid_prompt") + again
        self._menu_prompt(node, out, again)

    def _disa_fallback(self, node: Node) -> str:
        disa = self._disa(node) or {}
        target = disa.get("no_answer")
        return str(target) if target is not None else node.name

    def _dial_extension(self, extension: str, disa: dict[str, object], now: float,
                        out: list[IvrCommand]) -> None:
        ring = float(str(disa.get("ring_time", 30.0)))
        self._phase = "dial"
        self._digits = ""
        self._busy_only = True
        self._start_dial(extension, "extension", ring, None, now, out)
        self._deadline = now + ring + DIAL_GRACE_S

    # -- dialling (transfer, DISA) ------------------------------------------------------

    def _start_dial(self, target: str, kind: str, ring: float, caller_id: str | None,
                    now: float, out: list[IvrCommand]) -> None:
        request_id = self._new_id("d")
        self._dials[request_id] = target
        out.append(Dial(request_id=request_id, target=target,
                        kind="external" if kind == "external" else "extension",
                        call_id=self.call_id, caller_id=caller_id, timeout_s=ring))

    def _on_dial_event(self, event: IvrEvent, now: float, out: list[IvrCommand],
                       fallback: str | None, busy: str | None = None) -> None:
        """Answered/DialResult for our legs; ``fallback`` once none is left ringing."""
        if isinstance(event, Answered) and event.request_id in self._dials:
            self._connected(event.request_id, out)
        elif isinstance(event, DialResult) and event.request_id in self._dials:
            if event.outcome == "answered":
                self._connected(event.request_id, out)
                return
            del self._dials[event.request_id]
            self._busy_only = self._busy_only and event.outcome == "busy"
            if not self._dials and not self._next_member(now, out):
                self._dial_failed(now, out, fallback, busy)

    def _connected(self, request_id: str, out: list[IvrCommand]) -> None:
        for other in self._dials:
            if other != request_id:
                out.append(CancelDial(call_id=self.call_id, request_id=other))
        self._dials.clear()
        self._finish("connected")

    def _dial_failed(self, now: float, out: list[IvrCommand], fallback: str | None,
                     busy: str | None) -> None:
        self._deadline = None
        target = busy if self._busy_only and busy is not None else fallback
        self._branch(target, now, out)

    def _dial_timeout(self, now: float, out: list[IvrCommand], fallback: str | None,
                      busy: str | None = None) -> None:
        for request_id in self._dials:
            out.append(CancelDial(call_id=self.call_id, request_id=request_id))
        self._dials.clear()
        self._busy_only = False
        self._dial_failed(now, out, fallback, busy)

    def _next_member(self, now: float, out: list[IvrCommand]) -> bool:
        """Sequential/random groups: ring the next member if time is left."""
        node = self._node
        if not self._members or node is None or self._group_deadline is None:
            return False
        left = self._group_deadline - now
        if left <= 0:
            return False
        member = self._members.pop(0)
        ring = min(node.number("ring_time", 15.0), left)
        self._start_dial(member, "extension", ring, node.target("caller_id"), now, out)
        return True

    # -- transfer -----------------------------------------------------------------------

    def _enter_transfer(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        caller_id = node.target("caller_id")
        self._phase = "dial"
        if node.get("queue") is not None:
            self._phase = "queue"
            return self._join_queue(node, node.text("queue"), now, out)
        if node.get("group") is not None:
            group = node.get("group")
            assert isinstance(group, tuple)
            members = [str(m) for m in group]
            strategy = node.text("strategy", "sequential")
            max_ring = node.number("max_ring_time", 60.0)
            self._group_deadline = now + max_ring
            self._deadline = self._group_deadline
            if strategy == "simultaneous":
                for member in members:
                    self._start_dial(member, "extension", max_ring, caller_id, now, out)
            else:
                if strategy == "random":
                    self.rng.shuffle(members)
                self._members = members
                self._next_member(now, out)
            return None
        kind = "external" if node.get("external") is not None else "extension"
        ring = node.number("ring_time", 30.0)
        self._start_dial(node.text(kind), kind, ring, caller_id, now, out)
        self._deadline = now + ring + DIAL_GRACE_S
        return None

    def _on_transfer(self, node: Node, event: IvrEvent, now: float,
                     out: list[IvrCommand]) -> None:
        if self._phase == "queue":
            self._on_queue(node, event, now, out)
        else:
            self._on_dial_event(event, now, out, node.target("no_answer"), node.target("busy"))

    def _timeout_transfer(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        if self._phase == "queue":
            self._timeout_queue(node, now, out)
        else:
            self._dial_timeout(now, out, node.target("no_answer"), node.target("busy"))

    # -- queue --------------------------------------------------------------------------

    def _enter_queue(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._phase = "queue"
        return self._join_queue(node, node.text("queue"), now, out)

    def _join_queue(self, node: Node, queue: str, now: float,
                    out: list[IvrCommand]) -> str | None:
        self._play(node.prompts("prompt"), out, barge_in=False)
        skills = node.get("skills") or {}
        assert isinstance(skills, dict)
        out.append(Enqueue(call_id=self.call_id, queue=queue,
                           priority=node.integer("priority", 0),
                           skills=tuple((str(k), int(str(v))) for k, v in skills.items())))
        # A queue node's max_wait; a transfer to a queue gives up after its ring_time.
        limit = node.get("max_wait") if node.kind == "queue" else node.get("ring_time")
        if limit is not None:
            self._deadline = now + float(str(limit))
        if node.prompts("announcement"):
            self._announce_at = now + node.number("announce_every", 30.0)
        return None

    def _announce(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        self._play(node.prompts("announcement"), out, barge_in=False)
        self._announce_at = now + node.number("announce_every", 30.0)

    def _on_queue(self, node: Node, event: IvrEvent, now: float, out: list[IvrCommand]) -> None:
        if isinstance(event, QueueUpdate):
            self.variables["queue_position"] = str(event.position)
        elif isinstance(event, QueueResult):
            if event.outcome == "answered":
                if self._prompt_id is not None:
                    out.append(StopPlayback(call_id=self.call_id))
                self._finish("connected")
                return
            self._stop_prompt(out)
            target = node.target("no_answer")
            if event.outcome in ("full", "closed") and node.target("busy") is not None:
                target = node.target("busy")
            self._branch(target, now, out)
        elif self._is_current_prompt(event):
            self._prompt_id = None

    def _timeout_queue(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        queue = node.text("queue")
        out.append(LeaveQueue(call_id=self.call_id, queue=queue))
        self._stop_prompt(out)
        self._announce_at = None
        self._branch(node.target("no_answer"), now, out)

    def _stop_prompt(self, out: list[IvrCommand]) -> None:
        if self._prompt_id is not None:
            out.append(StopPlayback(call_id=self.call_id))
            self._prompt_id = None

    # -- voicemail ----------------------------------------------------------------------

    def _enter_voicemail(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._phase = "greeting"
        if not self._play(node.prompts("prompt"), out, barge_in=True):
            self._record(node, now, out)
        return None

    def _record(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        self._phase = "record"
        self._request_id = self._new_id("r")
        max_s = node.number("max_length", 120.0)
        path = f"voicemail/{node.text('mailbox')}/{_safe(self.call_id)}.wav"
        out.append(Record(call_id=self.call_id, request_id=self._request_id, path=path,
                          max_s=max_s, beep=node.flag("beep", True)))
        self._deadline = now + max_s + RECORD_GRACE_S

    def _on_voicemail(self, node: Node, event: IvrEvent, now: float,
                      out: list[IvrCommand]) -> None:
        if self._phase == "greeting" and self._is_current_prompt(event):
            self._record(node, now, out)
        elif (self._phase == "record" and isinstance(event, RecordingFinished)
              and event.request_id == self._request_id):
            self.recordings.append(event.path)
            self.variables["voicemail_path"] = event.path
            self._branch(node.target("next"), now, out)

    def _timeout_voicemail(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        self._branch(node.target("next"), now, out)  # the recording never reported back

    # -- collect ------------------------------------------------------------------------

    def _enter_collect(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._collect_prompt(node, now, out, node.prompts("prompt"))
        return None

    def _collect_prompt(self, node: Node, now: float, out: list[IvrCommand],
                        specs: tuple[PromptSpec, ...]) -> None:
        self._digits = ""
        terminator = node.text("terminator", "#")
        if self._play(specs, out, barge_in=True):
            self._phase = "prompt"
            self._deadline = None
        else:
            self._phase = "wait"
            self._deadline = now + node.number("timeout", 5.0)
        out.append(Collect(call_id=self.call_id, max_digits=node.integer("max_length", 20),
                           timeout_s=node.number("timeout", 5.0),
                           terminator=None if terminator == "none" else terminator))

    def _on_collect(self, node: Node, event: IvrEvent, now: float,
                    out: list[IvrCommand]) -> None:
        if self._is_current_prompt(event) and self._phase == "prompt":
            self._phase = "wait"
            self._deadline = now + (node.number("digit_timeout", 3.0) if self._digits
                                    else node.number("timeout", 5.0))
        elif isinstance(event, DtmfReceived):
            if event.digit == node.text("terminator", "#"):
                self._collect_done(node, now, out)
                return
            self._digits += event.digit
            self._phase = "wait"
            if len(self._digits) >= node.integer("max_length", 20):
                self._collect_done(node, now, out)
            else:
                self._deadline = now + node.number("digit_timeout", 3.0)

    def _timeout_collect(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        self._collect_done(node, now, out)

    def _collect_done(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        digits, self._digits = self._digits, ""
        self._deadline = None
        if not digits:
            self._collect_failed(node, "no_input", now, out)
            return
        pattern = node.get("pattern")
        valid = (node.integer("min_length", 1) <= len(digits) <= node.integer("max_length", 20)
                 and (pattern is None or re.fullmatch(str(pattern), digits) is not None))
        if not valid:
            self._collect_failed(node, "invalid", now, out)
            return
        self.variables[node.text("variable")] = digits
        self._enter(node.target("next"), now, out)

    def _collect_failed(self, node: Node, why: str, now: float, out: list[IvrCommand]) -> None:
        self._attempts += 1
        if self._attempts >= node.integer("repeats", 2):
            self._branch(node.target(why), now, out)
            return
        again = node.prompts("prompt")
        if why == "invalid":
            again = node.prompts("invalid_prompt") + again
        self._collect_prompt(node, now, out, again)

    # -- http ---------------------------------------------------------------------------

    def _enter_http(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self._request_id = self._new_id("h")
        body = node.get("body") or {}
        assert isinstance(body, dict)
        timeout = node.number("timeout", 5.0)
        out.append(HttpRequest(
            call_id=self.call_id, request_id=self._request_id,
            method="POST" if node.text("method", "GET") == "POST" else "GET",
            url=self.substitute(node.text("url"), url=True),
            body=tuple((str(k), self.substitute(str(v))) for k, v in body.items()),
            timeout_s=timeout,
        ))
        self._deadline = now + timeout
        return None

    def _on_http(self, node: Node, event: IvrEvent, now: float, out: list[IvrCommand]) -> None:
        if not isinstance(event, HttpResult) or event.request_id != self._request_id:
            return
        self._request_id = None
        self._deadline = None
        error_target = node.target("error") or node.target("default")
        if event.error is not None or event.status is None or not 200 <= event.status < 300:
            self._branch(error_target, now, out)
            return
        answer = _answer(event.body, node.target("field"))
        if answer is None:
            self._branch(error_target, now, out)
            return
        variable = node.target("variable")
        if variable is not None:
            self.variables[variable] = answer
        routes = node.get("routes") or {}
        assert isinstance(routes, dict)
        target = routes.get(answer)
        self._branch(str(target) if target is not None else node.target("default"), now, out)

    def _timeout_http(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        self._request_id = None
        self._branch(node.target("on_timeout") or node.target("error")
                     or node.target("default"), now, out)

    # -- survey -------------------------------------------------------------------------

    def _questions(self, node: Node) -> tuple[dict[str, object], ...]:
        questions = node.get("questions")
        assert isinstance(questions, tuple)
        return tuple(q for q in questions if isinstance(q, dict))

    def _enter_survey(self, node: Node, now: float, out: list[IvrCommand]) -> str | None:
        self.survey_answers.setdefault(node.text("name"), {})
        self._phase = "intro"
        if not self._play(node.prompts("intro"), out, barge_in=False):
            self._ask(node, now, out, ())
        return None

    def _ask(self, node: Node, now: float, out: list[IvrCommand],
             before: tuple[PromptSpec, ...]) -> None:
        questions = self._questions(node)
        if self._question >= len(questions):
            self._phase = "thanks"
            if not self._play(node.prompts("thanks"), out, barge_in=False):
                self._branch(node.target("next"), now, out)
            return
        question = questions[self._question]
        prompt = question["prompt"]
        assert isinstance(prompt, tuple)
        self._phase = "question"
        self._deadline = None
        self._play(before + prompt, out, barge_in=True)
        out.append(Collect(call_id=self.call_id, max_digits=1,
                           timeout_s=float(str(question.get("timeout", 5.0))), terminator=None))

    def _on_survey(self, node: Node, event: IvrEvent, now: float,
                   out: list[IvrCommand]) -> None:
        if self._is_current_prompt(event):
            if self._phase == "intro":
                self._ask(node, now, out, ())
            elif self._phase == "thanks":
                self._branch(node.target("next"), now, out)
            elif self._phase == "question":
                question = self._questions(node)[self._question]
                self._phase = "answer"
                self._deadline = now + float(str(question.get("timeout", 5.0)))
        elif isinstance(event, DtmfReceived) and self._phase in ("question", "answer"):
            question = self._questions(node)[self._question]
            if event.digit in str(question["answers"]):
                self._store_answer(node, question, event.digit, now, out)
            else:
                self._survey_retry(node, question, now, out)

    def _timeout_survey(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        if self._phase == "answer":
            self._survey_retry(node, self._questions(node)[self._question], now, out)

    def _survey_retry(self, node: Node, question: dict[str, object], now: float,
                      out: list[IvrCommand]) -> None:
        self._attempts += 1
        if self._attempts >= int(str(question.get("repeats", 2))):
            self._store_answer(node, question, None, now, out)
        else:
            self._ask(node, now, out, ())

    def _store_answer(self, node: Node, question: dict[str, object], answer: str | None,
                      now: float, out: list[IvrCommand]) -> None:
        survey, qid = node.text("name"), str(question["id"])
        self.survey_answers.setdefault(survey, {})[qid] = answer
        out.append(StoreSurveyAnswer(call_id=self.call_id, survey=survey, question=qid,
                                     answer=answer))
        self._question += 1
        self._attempts = 0
        self._ask(node, now, out, ())

    # -- timers of nodes that never set one ---------------------------------------------

    def _timeout_play(self, node: Node, now: float, out: list[IvrCommand]) -> None:
        return None  # pragma: no cover - play sets no timer

    _timeout_hangup = _timeout_play


def _ranges(disa: dict[str, object] | None) -> tuple[tuple[str, str], ...]:
    if disa is None:
        return ()
    extensions = disa.get("extensions", ())
    assert isinstance(extensions, tuple)
    return tuple((str(low), str(high)) for low, high in extensions)


def _extension_match(digits: str, ranges: tuple[tuple[str, str], ...]) -> tuple[bool, bool]:
    """(``digits`` is an extension, some longer extension starts with ``digits``)."""
    complete = extendable = False
    for low, high in ranges:
        width = len(low)
        if len(digits) == width and low <= digits <= high:
            complete = True
        elif len(digits) < width:
            pad = width - len(digits)
            # Smallest and largest numbers of this width starting with `digits`.
            if digits + "0" * pad <= high and digits + "9" * pad >= low:
                extendable = True
    return complete, extendable


def _answer(body: str, field: str | None) -> str | None:
    """The routing answer: the trimmed body, or one field of a JSON object body."""
    if field is None:
        return body.strip()
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or field not in data:
        return None
    value = data[field]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", text)


ScenarioProvider = Callable[[CallOffered], Scenario | None]


class Interpreter:
    """All IVR calls of a process: one IvrCall per call_id, one timer for all."""

    def __init__(self, scenario_for: ScenarioProvider, *, clock: Clock,
                 rng: random.Random | None = None) -> None:
        self.scenario_for = scenario_for
        self.clock = clock
        self.rng = rng or random.Random()
        self.calls: dict[str, IvrCall] = {}

    def handle(self, event: IvrEvent, now: float) -> list[IvrCommand]:
        if isinstance(event, CallOffered) and event.call_id not in self.calls:
            scenario = self.scenario_for(event)
            if scenario is None:
                return [Hangup(call_id=event.call_id, cause="no-scenario", sip_status=404)]
            self.calls[event.call_id] = IvrCall(scenario, event.call_id, clock=self.clock,
                                                rng=self.rng)
        call = self.calls.get(getattr(event, "call_id", ""))
        if call is None:
            return []
        out = call.handle(event, now)
        if call.finished:
            del self.calls[call.call_id]
        return out

    def get_timer(self) -> float | None:
        return min((t for c in self.calls.values() if (t := c.get_timer()) is not None),
                   default=None)

    def handle_timer(self, now: float) -> list[IvrCommand]:
        out: list[IvrCommand] = []
        for call in list(self.calls.values()):
            timer = call.get_timer()
            if timer is not None and timer <= now:
                out.extend(call.handle_timer(now))
            if call.finished:
                del self.calls[call.call_id]
        return out
