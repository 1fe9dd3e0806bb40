"""YAML scenario text to a :class:`~ivrdsl.model.Scenario`, reporting every problem at once.

The file is only *composed* (``yaml.compose``): validation walks the node tree so each
problem points at the offending key or value.  Field checks are driven by the tables in
:mod:`ivrdsl.spec`; a bad field is reported and skipped so the rest of the file is
still checked.  Whole-scenario rules run last: targets that exist, nodes reachable
from ``start``, no loop that never waits for the caller, ``${variables}`` that are
defined somewhere, prompt files that exist.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ivrdsl import spec
from ivrdsl.errors import Problem, ScenarioError
from ivrdsl.model import Node as ScenarioNode
from ivrdsl.model import PromptSpec, Scenario
from ivrdsl.schedule import (
    CLOSED,
    DAY_GROUPS,
    DAY_KEYS,
    DateException,
    DayHours,
    ScheduleSpec,
    day_hours,
    parse_hours,
)

__all__ = ["BUILTIN_VARIABLES", "check_file", "load_bytes", "load_file", "load_text"]

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP = _TAG + "timestamp"
_KINDS = {_STR: "a string", _INT: "an integer", _FLOAT: "a number", _BOOL: "a boolean",
          _NULL: "null", _TIMESTAMP: "a date"}
_SCALARS = SafeConstructor()
_VAR = re.compile(r"\$\{([^}]*)\}")
_EXTENSION = re.compile(r"[0-9]{2,10}")
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YEARLY = re.compile(r"([0-9]{2})-([0-9]{2})")

# Variables every call has; `queue_position` is filled in while waiting in a queue.
BUILTIN_VARIABLES = frozenset({"caller", "callee", "caller_name", "call_id", "queue_position",
                               "scenario"})


class _Skip(Exception):
    """A field is invalid (already reported): leave it out and carry on."""


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = _KINDS.get(node.tag, f"a value tagged {node.tag}")
    if node.tag == _NULL:
        return kind
    return f"{kind} ({node.value!r})" if node.tag == _STR else f"{kind} ({node.value})"


def _hint(word: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1)
    return f"did you mean {close[0]!r}?" if close else "expected one of: " + ", ".join(allowed)


class _Validator:
    def __init__(self, filename: str, base_dir: Path | None) -> None:
        self.filename = filename
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.targets: list[tuple[str, Node, str]] = []  # (target, where, from node)
        self.var_uses: list[tuple[str, Node]] = []
        self.var_defs: set[str] = set(BUILTIN_VARIABLES)
        self.files: list[tuple[str, Node]] = []
        self.current = ""  # the node being validated, for target edges

    # -- plumbing -------------------------------------------------------------------

    def report(self, node: Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.filename, mark.line + 1, mark.column + 1, message))

    def fail(self, node: Node, message: str) -> _Skip:
        self.report(node, message)
        return _Skip()

    def pairs(self, node: Node, where: str) -> Iterator[tuple[str, Node, Node]]:
        """Keys of a mapping as strings, reporting duplicates and non-string keys."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{where} must be a mapping, got {_describe(node)}")
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self.report(key_node, f"merge keys (<<) are not supported in {where}")
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
                self.report(key_node, f"key in {where} must be a string, "
                            f"got {_describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark
                self.report(key_node, f"duplicate key {key!r} in {where} (first defined at "
                            f"line {first.line + 1}, column {first.column + 1})")
                continue
            seen[key] = key_node
            yield key, key_node, value_node

    def record(self, node: Node, fields: tuple[spec.Field, ...], where: str,
               required_one_of: tuple[str, ...] = ()) -> dict[str, object]:
        by_name = {f.name: f for f in fields}
        result: dict[str, object] = {}
        present: dict[str, Node] = {}
        for key, key_node, value_node in self.pairs(node, where):
            field = by_name.get(key)
            if field is None:
                self.report(key_node, f"unknown field {key!r} in {where} "
                            f"({_hint(key, list(by_name))})")
                continue
            present[key] = key_node
            try:
                result[key] = self.value(value_node, field.type, f"{where}: {key}")
            except _Skip:
                pass
        for field in fields:
            if field.required and field.name not in present:
                self.report(node, f"missing required field {field.name!r} in {where}")
        if required_one_of:
            chosen = [k for k in required_one_of if k in present]
            if not chosen:
                self.report(node, f"{where} needs one of: " + ", ".join(required_one_of))
            for extra in chosen[1:]:
                self.report(present[extra], f"{where} has both {chosen[0]!r} and {extra!r}; "
                            "use only one")
        return result

    # -- values ---------------------------------------------------------------------

    def scalar(self, node: Node, path: str, tags: tuple[str, ...], what: str) -> ScalarNode:
        if not isinstance(node, ScalarNode) or node.tag not in tags:
            hint = ("; put it in quotes to make it a string"
                    if _STR in tags and isinstance(node, ScalarNode) and node.tag != _NULL
                    else "")
            raise self.fail(node, f"{path} must be {what}, got {_describe(node)}{hint}")
        return node

    def text(self, node: Node, path: str) -> str:
        value = str(self.scalar(node, path, (_STR,), "a string").value)
        if not value.strip():
            raise self.fail(node, f"{path} must not be empty")
        return value

    def template(self, node: Node, text: str, path: str) -> None:
        for match in _VAR.finditer(text):
            name = match.group(1)
            if not re.fullmatch(spec.VARIABLE_PATTERN, name):
                self.report(node, f"{path}: bad variable reference {match.group(0)!r}")
            else:
                self.var_uses.append((name, node))
        rest = _VAR.sub("", text)
        if "${" in rest:
            self.report(node, f"{path}: unterminated '${{' (write ${{name}})")

    def value(self, node: Node, t: spec.Type, path: str) -> object:
        if isinstance(t, spec.Target):
            name = self.text(node, path)
            self.targets.append((name, node, self.current))
            return name
        if isinstance(t, spec.Prompt):
            items = node.value if isinstance(node, SequenceNode) else [node]
            if isinstance(node, SequenceNode) and not items:
                raise self.fail(node, f"{path} must list at least one prompt")
            prompts = []
            for index, item in enumerate(items):
                where = f"{path}[{index}]" if isinstance(node, SequenceNode) else path
                try:
                    prompts.append(self.prompt(item, where))
                except _Skip:
                    pass
            return tuple(prompts)
        if isinstance(t, spec.Seconds):
            s = self.scalar(node, path, (_INT, _FLOAT), "a number of seconds")
            number = float(_SCALARS.construct_yaml_int(s) if s.tag == _INT
                           else _SCALARS.construct_yaml_float(s))
            if not math.isfinite(number) or number < 0 or (number == 0 and not t.zero_ok):
                raise self.fail(node, f"{path} must be a number of seconds greater than zero, "
                                f"got {s.value}")
            if number > t.maximum:
                raise self.fail(node, f"{path} must be at most {t.maximum:g} seconds, "
                                f"got {s.value}")
            return number
        if isinstance(t, spec.Integer):
            s = self.scalar(node, path, (_INT,), "an integer")
            integer = int(_SCALARS.construct_yaml_int(s))
            if not t.lo <= integer <= t.hi:
                raise self.fail(node, f"{path} must be between {t.lo} and {t.hi}, "
                                f"got {integer}")
            return integer
        if isinstance(t, spec.Boolean):
            s = self.scalar(node, path, (_BOOL,), "true or false")
            return bool(_SCALARS.construct_yaml_bool(s))
        if isinstance(t, spec.Text):
            value = self.text(node, path)
            if t.choices and value not in t.choices:
                raise self.fail(node, f"{path} must be one of {', '.join(t.choices)}, "
                                f"got {value!r}")
            if t.pattern and not re.search(t.pattern, value):
                raise self.fail(node, f"{path}: {value!r} is not allowed here "
                                f"(must match {t.pattern})")
            if t.template:
                self.template(node, value, path)
            return value
        if isinstance(t, spec.Regex):
            value = self.text(node, path)
            try:
                re.compile(value)
            except re.error as exc:
                raise self.fail(node, f"{path}: invalid regular expression: {exc}") from None
            return value
        if isinstance(t, spec.DigitSet):
            value = self.text(node, path) if node.tag == _STR else self.scalar(
                node, path, (_INT, _STR), "a string of keys").value
            value = str(value)
            bad = [c for c in value if c not in spec.DTMF]
            if bad or len(set(value)) != len(value):
                raise self.fail(node, f"{path} must list distinct keys from {spec.DTMF}, "
                                f"got {value!r}")
            return value
        if isinstance(t, spec.Scalar):
            s = self.scalar(node, path, (_STR, _INT, _FLOAT, _BOOL),
                            "a string, number or boolean")
            if s.tag == _BOOL:
                return "true" if _SCALARS.construct_yaml_bool(s) else "false"
            if s.tag == _STR:
                self.template(node, str(s.value), path)
            return str(s.value)
        if isinstance(t, spec.Extension):
            return self.extension(node, path)
        if isinstance(t, spec.ExtensionRange):
            text = str(self.scalar(node, path, (_STR, _INT), "an extension or range").value)
            low, _, high = text.partition("-")
            high = high or low
            if not (_EXTENSION.fullmatch(low) and _EXTENSION.fullmatch(high)
                    and len(low) == len(high) and low <= high):
                raise self.fail(node, f"{path}: expected an extension or a range like "
                                f"'100-199' (same number of digits), got {text!r}")
            return (low, high)
        if isinstance(t, spec.PhoneNumber):
            text = str(self.scalar(node, path, (_STR,), "a quoted phone number").value)
            if not _PHONE.fullmatch(text.replace(" ", "")):
                raise self.fail(node, f"{path}: expected a number like '+48221234567', "
                                f"got {text!r}")
            return text.replace(" ", "")
        if isinstance(t, spec.Hours):
            items = node.value if isinstance(node, SequenceNode) else [node]
            ranges = []
            for item in items:
                text = self.text(item, path)
                try:
                    ranges.append(parse_hours(text))
                except ValueError as exc:
                    raise self.fail(item, f"{path}: bad hours: {exc}") from None
            return day_hours(ranges)
        if isinstance(t, spec.DateOrYearly):
            return self.date(node, path)
        if isinstance(t, spec.Timezone):
            text = self.text(node, path)
            try:
                ZoneInfo(text)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail(node, f"{path}: unknown time zone {text!r} "
                                "(e.g. 'Europe/Warsaw')") from None
            return text
        if isinstance(t, spec.MapOf):
            return self.map_of(node, t, path)
        if isinstance(t, spec.ListOf):
            if not isinstance(node, SequenceNode):
                raise self.fail(node, f"{path} must be a list, got {_describe(node)}")
            if len(node.value) < t.min_items:
                raise self.fail(node, f"{path} must list at least {t.min_items} item(s)")
            out = []
            for index, item in enumerate(node.value):
                try:
                    out.append(self.value(item, t.item, f"{path}[{index}]"))
                except _Skip:
                    pass
            return tuple(out)
        if isinstance(t, spec.Record):
            return self.record(node, t.fields, path, t.required_one_of)
        raise AssertionError(f"no rule for {t!r}")  # pragma: no cover - table bug

    def map_of(self, node: Node, t: spec.MapOf, path: str) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, key_node, value_node in self.pairs(node, path):
            if t.key == "digit":
                raw = key_node.value if key_node.tag in (_INT, _STR) else ""
                if len(str(raw)) != 1 or str(raw) not in spec.DIGIT_KEYS:
                    self.report(key_node, f"{path}: key {key!r} is not a phone key "
                                f"(0-9, '*' or '#'; quote '*' and '#')")
                    continue
            elif t.key == "name" and not re.fullmatch(spec.VARIABLE_PATTERN, key):
                self.report(key_node, f"{path}: {key!r} is not a valid name "
                            "(letters, digits, _)")
                continue
            elif key_node.tag not in (_STR, _INT):
                self.report(key_node, f"{path}: key must be a string, got "
                            f"{_describe(key_node)}")
                continue
            try:
                result[key] = self.value(value_node, t.value, f"{path}: {key}")
            except _Skip:
                pass
        return result

    def prompt(self, node: Node, path: str) -> PromptSpec:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            raise self.fail(node, f"{path} must be a mapping such as {{tts: 'text'}} or "
                            "{file: 'greeting.wav'}, got a string")
        f = self.record(node, spec.PROMPT_ITEM_FIELDS, path, ("tts", "file", "silence"))
        language, voice = f.get("language"), f.get("voice")
        lang = language if isinstance(language, str) else None
        vc: Literal["male", "female"] | None = (
            "male" if voice == "male" else "female" if voice == "female" else None
        )
        if "tts" in f:
            return PromptSpec(kind="tts", text=str(f["tts"]), language=lang, voice=vc)
        if "file" in f:
            for value_node in self._values(node, "file"):
                self.files.append((str(f["file"]), value_node))
            return PromptSpec(kind="file", text=str(f["file"]))
        if "silence" in f:
            seconds = f["silence"]
            assert isinstance(seconds, float)
            return PromptSpec(kind="silence", seconds=seconds)
        raise _Skip()  # reported by record()

    @staticmethod
    def _values(node: Node, key: str) -> list[Node]:
        assert isinstance(node, MappingNode)
        return [v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key]

    def extension(self, node: Node, path: str) -> str:
        s = self.scalar(node, path, (_STR, _INT), "an extension")
        text = str(s.value)
        if s.tag == _INT and text.startswith("0") and len(text) > 1:
            raise self.fail(node, f"{path} {text} has a leading zero: put it in quotes "
                            f"('{text}'), otherwise YAML reads it as an octal number")
        if not _EXTENSION.fullmatch(text):
            raise self.fail(node, f"{path} must be 2 to 10 digits, got {text!r}")
        return text

    def date(self, node: Node, path: str) -> tuple[date, bool]:
        s = self.scalar(node, path, (_STR, _TIMESTAMP), "a date like 2026-12-24 or 12-24")
        text = str(s.value).strip()
        try:
            if m := _ISO_DATE.fullmatch(text):
                return date(int(m[1]), int(m[2]), int(m[3])), False
            if m := _YEARLY.fullmatch(text):
                return date(2000, int(m[1]), int(m[2])), True  # 2000: leap, so 02-29 is ok
        except ValueError as exc:
            raise self.fail(node, f"{path}: bad date {text!r}: {exc}") from None
        raise self.fail(node, f"{path}: expected a date like 2026-12-24 or 12-24 "
                        f"(every year), got {text!r}")

    # -- the scenario ---------------------------------------------------------------

    def scenario(self, root: Node, digest: str) -> Scenario | None:
        if not isinstance(root, MappingNode):
            self.report(root, f"the scenario must be a mapping, got {_describe(root)}")
            return None
        top_fields = tuple(f for f in spec.SCENARIO_FIELDS if f.name != "nodes")
        nodes_node: Node | None = None
        top_filtered: list[tuple[Node, Node]] = []
        for k, v in root.value:
            if isinstance(k, ScalarNode) and k.value == "nodes" and nodes_node is None:
                nodes_node = v
            else:
                top_filtered.append((k, v))
        # The top level without `nodes`, which is walked node by node below.
        shell = MappingNode(root.tag, top_filtered, root.start_mark, root.end_mark)
        top = self.record(shell, top_fields, "the scenario")
        if nodes_node is None:
            self.report(root, "missing required field 'nodes' in the scenario")
        nodes: dict[str, ScenarioNode] = {}
        name_nodes: dict[str, Node] = {}
        scenario_tz = str(top.get("timezone", "Europe/Warsaw"))
        variables = top.get("variables", {})
        assert isinstance(variables, dict)
        self.var_defs.update(variables)
        if nodes_node is not None:
            for name, key_node, value_node in self.pairs(nodes_node, "nodes"):
                if not re.fullmatch(spec.NAME_PATTERN, name):
                    self.report(key_node, f"node name {name!r} must start with a letter and "
                                "hold only letters, digits, '_', '.', '-'")
                    continue
                name_nodes[name] = key_node
                self.current = name
                node = self.node(name, value_node, scenario_tz)
                if node is not None:
                    nodes[name] = node
            if isinstance(nodes_node, MappingNode) and not nodes_node.value:
                self.report(nodes_node, "nodes must define at least one node")
        self.current = ""
        start = top.get("start")
        self.graph_checks(nodes, name_nodes, start if isinstance(start, str) else None)
        self.variable_checks()
        self.file_checks(top.get("prompts_dir"), nodes)
        if self.problems:
            return None
        assert isinstance(start, str)
        prompts_dir = self.prompts_dir(top.get("prompts_dir"))
        resolved = {name: self.resolve_files(node, prompts_dir) for name, node in nodes.items()}
        voice = top.get("voice", "female")
        return Scenario(
            name=str(top.get("name") or Path(self.filename).stem),
            source=self.filename,
            start=start,
            nodes=resolved,
            language=str(top.get("language", "pl")),
            voice="male" if voice == "male" else "female",
            timezone=scenario_tz,
            answer=bool(top.get("answer", True)),
            max_steps=int(str(top.get("max_steps", 200))),
            variables={str(k): str(v) for k, v in variables.items()},
            digest=digest,
        )

    def node(self, name: str, node: Node, scenario_tz: str) -> ScenarioNode | None:
        where = f"node {name!r}"
        if not isinstance(node, MappingNode):
            self.report(node, f"{where} must be a mapping with a 'type', got {_describe(node)}")
            return None
        kind_node = next((v for k, v in node.value
                          if isinstance(k, ScalarNode) and k.value == "type"), None)
        if kind_node is None:
            self.report(node, f"{where} has no 'type' (one of: {', '.join(spec.NODE_KINDS)})")
            return None
        if not isinstance(kind_node, ScalarNode) or kind_node.value not in spec.NODE_KINDS:
            kind = str(kind_node.value) if isinstance(kind_node, ScalarNode) else "?"
            self.report(kind_node, f"unknown node type {kind!r} in {where} "
                        f"({_hint(kind, list(spec.NODE_KINDS))})")
            return None
        kind = str(kind_node.value)
        fields = self.record(node, spec.NODE_KINDS[kind], f"{kind} node {name!r}")
        check = getattr(self, f"check_{kind}", None)
        if check is not None:
            check(node, fields, f"{kind} node {name!r}", scenario_tz)
        return ScenarioNode(name=name, kind=kind, fields=fields, line=node.start_mark.line + 1)

    def key_node(self, node: Node, *path: str) -> Node:
        """The value node at ``path`` inside mapping ``node`` (or ``node`` if absent)."""
        current = node
        for key in path:
            if not isinstance(current, MappingNode):
                return current
            found = [v for k, v in current.value if isinstance(k, ScalarNode) and k.value == key]
            if not found:
                return current
            current = found[0]
        return current

    # -- per-kind rules -------------------------------------------------------------

    def check_transfer(self, node: Node, f: dict[str, object], where: str, tz: str) -> None:
        kinds = ("extension", "group", "queue", "external")
        dests = [k for k in kinds if k in f]
        if not dests:  # a destination written but invalid was reported already
            keys = {str(k.value) for k, _ in node.value if isinstance(k, ScalarNode)}
            if not keys & set(kinds):
                self.report(node, f"{where} needs one of: extension, group, queue, external")
        for extra in dests[1:]:
            self.report(self.key_node(node, extra), f"{where} has both {dests[0]!r} and "
                        f"{extra!r}; a transfer has one destination")
        if "group" not in f:
            for key in ("strategy", "max_ring_time"):
                if key in f:
                    self.report(self.key_node(node, key), f"{where}: {key!r} only applies "
                                "to a ring group ('group')")

    def check_collect(self, node: Node, f: dict[str, object], where: str, tz: str) -> None:
        low, high = f.get("min_length", 1), f.get("max_length", 20)
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.report(self.key_node(node, "min_length"), f"{where}: min_length ({low}) "
                        f"is greater than max_length ({high})")

    def check_menu(self, node: Node, f: dict[str, object], where: str, tz: str) -> None:
        disa = f.get("disa")
        options = self.key_node(node, "options")
        if isinstance(options, MappingNode) and options is not node and not options.value:
            self.report(options, f"{where}: options must not be empty")
        if isinstance(disa, dict) and "no_answer" not in disa:
            self.targets.append((self.current, node, self.current))  # default: this menu

    def check_survey(self, node: Node, f: dict[str, object], where: str, tz: str) -> None:
        seen: set[str] = set()
        questions = self.key_node(node, "questions")
        items = questions.value if isinstance(questions, SequenceNode) else []
        for item in items:
            id_node = self.key_node(item, "id")
            if isinstance(id_node, ScalarNode) and id_node is not item:
                qid = str(id_node.value)
                if qid in seen:
                    self.report(id_node, f"{where}: duplicate question id {qid!r}")
                seen.add(qid)

    def check_schedule(self, node: Node, f: dict[str, object], where: str, tz: str) -> None:
        hours = f.get("hours")
        if not isinstance(hours, dict):
            return
        weekly: list[DayHours] = []
        for day in DAY_KEYS:
            chosen = hours.get(day)
            for group in ("workdays", "weekend", "daily"):
                if chosen is None and day in DAY_GROUPS[group]:
                    chosen = hours.get(group)
            weekly.append(chosen if isinstance(chosen, DayHours) else CLOSED)
        exceptions: list[DateException] = []
        raw = f.get("exceptions", ())
        ex_nodes = self.key_node(node, "exceptions")
        ex_items = ex_nodes.value if isinstance(ex_nodes, SequenceNode) else []
        for item, item_node in zip(raw if isinstance(raw, tuple) else (), ex_items, strict=False):
            if not isinstance(item, dict) or "date" not in item or "hours" not in item:
                continue
            start, yearly = item["date"]
            end, end_yearly = item.get("until", (start, yearly))
            if end_yearly != yearly:
                self.report(self.key_node(item_node, "until"), f"{where}: 'date' and 'until' "
                            "must both be full dates or both MM-DD")
                continue
            if not yearly and end < start:
                self.report(self.key_node(item_node, "until"), f"{where}: 'until' "
                            f"({end}) is before 'date' ({start})")
                continue
            hours_value = item["hours"]
            assert isinstance(hours_value, DayHours)
            exceptions.append(DateException(start, end, hours_value, yearly))
        holiday_hours = f.get("holiday_hours", CLOSED)
        assert isinstance(holiday_hours, DayHours)
        f["schedule"] = ScheduleSpec(
            timezone=str(f.get("timezone", tz)),
            weekly=tuple(weekly),
            exceptions=tuple(exceptions),
            holidays=None if f.get("holidays") == "none" else "pl",
            holiday_hours=holiday_hours,
        )

    # -- whole-scenario rules -------------------------------------------------------

    def graph_checks(self, nodes: dict[str, ScenarioNode], names: dict[str, Node],
                     start: str | None) -> None:
        edges: dict[str, set[str]] = {n: set() for n in names}
        for target, where, source in self.targets:
            if target not in names:
                if source or target == start:
                    self.report(where, f"no node named {target!r} "
                                f"({_hint(target, sorted(names)) if names else 'no nodes'})")
                continue
            if source in edges:
                edges[source].add(target)
        # A cycle made only of nodes that do not wait for the caller's keys spins forever.
        quiet = {n: {t for t in edges[n] if n in nodes and nodes[n].kind not in
                     spec.INPUT_KINDS} for n in edges}
        for component in _strongly_connected(quiet):
            if len(component) > 1 or component[0] in quiet[component[0]]:
                ordered = sorted(component, key=lambda n: names[n].start_mark.index)
                loop = " -> ".join([*ordered, ordered[0]])
                self.report(names[ordered[0]], f"loop {loop} never waits for caller input "
                            "(add a menu, collect or survey to it)")
        if start is None or start not in names:
            return
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name, key_node in names.items():
            if name not in seen:
                self.report(key_node, f"node {name!r} is unreachable from start {start!r}")
    def variable_checks(self) -> None:
        for name, where in self.var_uses:
            if name not in self.var_defs:
                self.report(where, f"unknown variable ${{{name}}} (define it under "
                            f"'variables', or set/collect it; "
                            f"{_hint(name, sorted(self.var_defs))})")

    def prompts_dir(self, value: object) -> Path | None:
        if self.base_dir is None:
            return None
        return self.base_dir / value if isinstance(value, str) else self.base_dir

    def file_checks(self, prompts_dir: object, nodes: dict[str, ScenarioNode]) -> None:
        directory = self.prompts_dir(prompts_dir)
        if directory is None:
            return
        for text, where in self.files:
            path = directory / text
            if not path.is_file():
                self.report(where, f"prompt file {text!r} not found (looked for {path})")

    def resolve_files(self, node: ScenarioNode, directory: Path | None) -> ScenarioNode:
        def fix(value: object) -> object:
            if isinstance(value, PromptSpec) and value.kind == "file":
                path = (directory / value.text) if directory is not None else Path(value.text)
                return PromptSpec(kind="file", text=value.text, path=path)
            if isinstance(value, tuple):
                return tuple(fix(v) for v in value)
            if isinstance(value, dict):
                return {k: fix(v) for k, v in value.items()}
            return value

        return ScenarioNode(name=node.name, kind=node.kind, line=node.line,
                            fields={k: fix(v) for k, v in node.fields.items()})

    # set/collect/http nodes define variables: gather them before checking uses.
    def collect_definitions(self, root: Node) -> None:
        nodes = self.key_node(root, "nodes")
        if not isinstance(nodes, MappingNode):
            return
        for _, body in nodes.value:
            if not isinstance(body, MappingNode):
                continue
            kind = self.key_node(body, "type")
            kind_text = kind.value if isinstance(kind, ScalarNode) else ""
            if kind_text in ("collect", "http"):
                var = self.key_node(body, "variable")
                if isinstance(var, ScalarNode):
                    self.var_defs.add(str(var.value))
            elif kind_text == "set":
                variables = self.key_node(body, "variables")
                if isinstance(variables, MappingNode) and variables is not body:
                    self.var_defs.update(str(k.value) for k, _ in variables.value
                                         if isinstance(k, ScalarNode))


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (scenarios may be long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _position(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def load_text(text: str, filename: str = "<scenario>", *,
              base_dir: Path | None = None) -> Scenario:
    """Validate scenario ``text``; raise :class:`ScenarioError` listing every problem.

    ``base_dir`` is where prompt files are looked for (with ``prompts_dir``); without
    it, file prompts are not checked for existence.
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            message = f"{exc.problem} ({exc.context})"
        raise ScenarioError((Problem(filename, line, column,
                                     f"YAML syntax error: {message}"),)) from exc
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        raise ScenarioError((Problem(filename, line, column,
                                     f"invalid character in YAML ({exc.reason})"),)) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError((Problem(filename, 1, 1, f"invalid YAML: {exc}"),)) from exc
    if root is None:
        raise ScenarioError((Problem(filename, 1, 1, "scenario is empty"),))
    validator = _Validator(filename, base_dir)
    validator.collect_definitions(root)
    scenario = validator.scenario(root, digest)
    if scenario is None:
        raise ScenarioError(tuple(sorted(set(validator.problems))))
    return scenario


def load_file(path: str | Path) -> Scenario:
    """Read and validate a scenario file; prompt files are looked up next to it."""
    filename = str(path)
    try:
        data = Path(filename).read_bytes()
    except OSError as exc:
        raise ScenarioError((Problem(filename, 1, 1,
                                     f"cannot read scenario: {exc.strerror or exc}"),)) from exc
    return load_bytes(data, filename)


def load_bytes(data: bytes, filename: str) -> Scenario:
    """Validate the bytes of the scenario file ``filename`` (already read)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError((Problem(filename, line, column,
                                     "scenario is not valid UTF-8"),)) from exc
    return load_text(text, filename, base_dir=Path(filename).absolute().parent)


def check_file(path: str | Path) -> list[Problem]:
    """Every problem in the file at ``path`` (empty when it is valid)."""
    try:
        load_file(path)
    except ScenarioError as exc:
        return list(exc.problems)
    return []
