"""Every validation rule reports the exact file:line:column; the check CLI."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivrdsl.__main__ import main
from ivrdsl.errors import ScenarioError
from ivrdsl.validator import check_file, load_file, load_text

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str, *, base_dir: Path | None = None) -> list[str]:
    try:
        load_text(textwrap.dedent(text).lstrip("\n"), "s.yaml", base_dir=base_dir)
    except ScenarioError as exc:
        assert all(p.filename == "s.yaml" for p in exc.problems)
        return [f"{p.line}:{p.column}: {p.message}" for p in exc.problems]
    return []


# (name, scenario, expected "line:column", fragment of the message)
CASES = [
    ("yaml syntax", "start: a\nnodes: {a: [}\n", "2:13", "YAML syntax error"),
    ("yaml tab", "start: a\nnodes:\n\ta: 1\n", "3:1", "YAML syntax error"),
    ("empty", "# nothing\n", "1:1", "scenario is empty"),
    ("not a mapping", "- a\n- b\n", "1:1", "the scenario must be a mapping"),
    ("unknown top field", "start: a\nstrat: a\nnodes:\n  a: {type: hangup}\n", "2:1",
     "unknown field 'strat' in the scenario (did you mean 'start'?)"),
    ("missing start", "nodes:\n  a: {type: hangup}\n", "1:1",
     "missing required field 'start' in the scenario"),
    ("missing nodes", "start: a\n", "1:1", "missing required field 'nodes'"),
    ("empty nodes", "start: a\nnodes: {}\n", "2:8", "nodes must define at least one node"),
    ("duplicate key", "start: a\nnodes:\n  a: {type: hangup}\n  a: {type: hangup}\n", "4:3",
     "duplicate key 'a' in nodes (first defined at line 3, column 3)"),
    ("merge key", "start: a\nnodes:\n  a: {type: hangup, <<: {cause: x}}\n", "3:21",
     "merge keys (<<) are not supported"),
    ("bad node name", "start: a\nnodes:\n  a: {type: hangup}\n  9x: {type: hangup}\n", "4:3",
     "node name '9x' must start with a letter"),
    ("node not mapping", "start: a\nnodes:\n  a: hangup\n", "3:6",
     "node 'a' must be a mapping with a 'type'"),
    ("no type", "start: a\nnodes:\n  a: {cause: x}\n", "3:6", "node 'a' has no 'type'"),
    ("unknown kind", "start: a\nnodes:\n  a: {type: hangpu}\n", "3:13",
     "unknown node type 'hangpu' in node 'a' (did you mean 'hangup'?)"),
    ("unknown field", "start: a\nnodes:\n  a: {type: hangup, cuase: x}\n", "3:21",
     "unknown field 'cuase' in hangup node 'a' (did you mean 'cause'?)"),
    ("missing field", "start: a\nnodes:\n  a: {type: goto}\n", "3:6",
     "missing required field 'target' in goto node 'a'"),
    ("string expected", "start: a\nnodes:\n  a: {type: hangup, cause: [x]}\n", "3:28",
     "hangup node 'a': cause must be a string, got a list"),
    ("number not string", "start: a\nnodes:\n  a: {type: queue, queue: 5}\n", "3:27",
     "must be a string, got an integer (5); put it in quotes"),
    ("seconds type",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, timeout: soon}\n",
     "3:53", "timeout must be a number of seconds, got a string ('soon')"),
    ("seconds zero",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, timeout: 0}\n",
     "3:53", "greater than zero, got 0"),
    ("seconds too big",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, timeout: 1000}\n",
     "3:53", "must be at most 120 seconds"),
    ("integer type",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, repeats: 2.5}\n",
     "3:53", "repeats must be an integer, got a number (2.5)"),
    ("integer range",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, repeats: 0}\n",
     "3:53", "repeats must be between 1 and 10, got 0"),
    ("boolean", "start: a\nanswer: sometimes\nnodes:\n  a: {type: hangup}\n", "2:9",
     "answer must be true or false"),
    ("choice", "start: a\nlanguage: de\nnodes:\n  a: {type: hangup}\n", "2:11",
     "language must be one of pl, en, got 'de'"),
    ("target missing", "start: a\nnodes:\n  a: {type: goto, target: bb}\n  b: {type: hangup}\n",
     "3:27", "no node named 'bb' (did you mean 'b'?)"),
    ("start missing", "start: x\nnodes:\n  a: {type: hangup}\n", "1:8", "no node named 'x'"),
    ("unreachable", "start: a\nnodes:\n  a: {type: hangup}\n  b: {type: hangup}\n", "4:3",
     "node 'b' is unreachable from start 'a'"),
    ("loop without input",
     "start: a\nnodes:\n  a: {type: set, variables: {x: 1}, next: b}\n"
     "  b: {type: play, prompt: {tts: hi}, next: a}\n",
     "3:3", "loop a -> b -> a never waits for caller input"),
    ("self loop", "start: a\nnodes:\n  a: {type: goto, target: a}\n", "3:3",
     "loop a -> a never waits"),
    ("hours format",
     "start: a\nnodes:\n  a: {type: schedule, hours: {mon: '8-17'}, open: b, closed: b}\n"
     "  b: {type: hangup}\n", "3:36", "bad hours: expected hours like '8:00-17:00'"),
    ("hours reversed",
     "start: a\nnodes:\n  a: {type: schedule, hours: {mon: '17:00-8:00'}, open: b, closed: b}\n"
     "  b: {type: hangup}\n", "3:36", "ends before it starts"),
    ("hours not a time",
     "start: a\nnodes:\n  a: {type: schedule, hours: {mon: ['8:00-9:61']}, open: b, closed: b}"
     "\n  b: {type: hangup}\n", "3:37", "end time 9:61 is not a time of day"),
    ("unknown day",
     "start: a\nnodes:\n  a: {type: schedule, hours: {mo: '8:00-9:00'}, open: b, closed: b}\n"
     "  b: {type: hangup}\n", "3:31", "unknown field 'mo'"),
    ("bad date",
     "start: a\nnodes:\n  a:\n    type: schedule\n    hours: {}\n"
     "    exceptions: [{date: 2026-13-01, hours: '0:00-0:00'}]\n    open: b\n    closed: b\n"
     "  b: {type: hangup}\n", "6:25", "bad date '2026-13-01'"),
    ("date format",
     "start: a\nnodes:\n  a:\n    type: schedule\n    hours: {}\n"
     "    exceptions: [{date: 'Dec 24', hours: '0:00-0:00'}]\n    open: b\n    closed: b\n"
     "  b: {type: hangup}\n", "6:25", "expected a date like 2026-12-24"),
    ("until before date",
     "start: a\nnodes:\n  a:\n    type: schedule\n    hours: {}\n"
     "    exceptions: [{date: 2026-05-02, until: 2026-05-01, hours: '0:00-0:00'}]\n"
     "    open: b\n    closed: b\n  b: {type: hangup}\n", "6:44", "'until' (2026-05-01) is before"),
    ("until mixed",
     "start: a\nnodes:\n  a:\n    type: schedule\n    hours: {}\n"
     "    exceptions: [{date: 2026-05-02, until: '05-03', hours: '0:00-0:00'}]\n"
     "    open: b\n    closed: b\n  b: {type: hangup}\n", "6:44", "must both be full dates"),
    ("time zone",
     "start: a\ntimezone: Europe/Warsw\nnodes:\n  a: {type: hangup}\n", "2:11",
     "unknown time zone 'Europe/Warsw'"),
    ("prompt string", "start: a\nnodes:\n  a: {type: hangup, prompt: 'hello'}\n", "3:29",
     "must be a mapping such as {tts: 'text'}"),
    ("prompt two kinds",
     "start: a\nnodes:\n  a: {type: hangup, prompt: {tts: hi, file: x.wav}}\n", "3:39",
     "has both 'tts' and 'file'"),
    ("prompt none", "start: a\nnodes:\n  a: {type: hangup, prompt: {language: en}}\n", "3:29",
     "needs one of: tts, file, silence"),
    ("prompt list empty", "start: a\nnodes:\n  a: {type: hangup, prompt: []}\n", "3:29",
     "must list at least one prompt"),
    ("unknown variable", "start: a\nnodes:\n  a: {type: hangup, prompt: {tts: 'Hi ${calr}'}}\n",
     "3:35", "unknown variable ${calr}"),
    ("bad variable ref", "start: a\nnodes:\n  a: {type: hangup, prompt: {tts: 'Hi ${1x}'}}\n",
     "3:35", "bad variable reference '${1x}'"),
    ("unterminated ref", "start: a\nnodes:\n  a: {type: hangup, prompt: {tts: 'Hi ${x'}}\n",
     "3:35", "unterminated '${'"),
    ("menu key",
     "start: a\nnodes:\n  a: {type: menu, prompt: {tts: x}, options: {12: b}}\n"
     "  b: {type: hangup}\n", "3:47", "key '12' is not a phone key"),
    ("menu empty options",
     "start: a\nnodes:\n  a: {type: menu, prompt: {tts: x}, options: {}}\n", "3:46",
     "options must not be empty"),
    ("disa range",
     "start: a\nnodes:\n  a: {type: menu, prompt: {tts: x}, options: {1: a}, "
     "disa: {extensions: ['100-99']}}\n", "3:74", "expected an extension or a range"),
    ("transfer none", "start: a\nnodes:\n  a: {type: transfer, ring_time: 5}\n", "3:6",
     "needs one of: extension, group, queue, external"),
    ("transfer two",
     "start: a\nnodes:\n  a: {type: transfer, extension: '10', queue: q}\n", "3:47",
     "has both 'extension' and 'queue'"),
    ("strategy without group",
     "start: a\nnodes:\n  a: {type: transfer, extension: '10', strategy: random}\n", "3:50",
     "'strategy' only applies to a ring group"),
    ("extension octal", "start: a\nnodes:\n  a: {type: transfer, extension: 0101}\n", "3:34",
     "has a leading zero"),
    ("extension short", "start: a\nnodes:\n  a: {type: transfer, extension: '1'}\n", "3:34",
     "must be 2 to 10 digits"),
    ("group empty", "start: a\nnodes:\n  a: {type: transfer, group: []}\n", "3:30",
     "must list at least 1 item"),
    ("external number", "start: a\nnodes:\n  a: {type: transfer, external: 'call me'}\n",
     "3:33", "expected a number like '+48221234567'"),
    ("collect lengths",
     "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, min_length: 5, "
     "max_length: 4}\n", "3:56", "min_length (5) is greater than max_length (4)"),
    ("regex", "start: a\nnodes:\n  a: {type: collect, variable: v, next: a, pattern: '[0-9'}\n",
     "3:53", "invalid regular expression"),
    ("variable name",
     "start: a\nnodes:\n  a: {type: collect, variable: 'my pin', next: a}\n", "3:32",
     "'my pin' is not allowed here"),
    ("survey ids",
     "start: a\nnodes:\n  a:\n    type: survey\n    name: s\n    questions:\n"
     "      - {id: q, prompt: {tts: x}, answers: '12'}\n"
     "      - {id: q, prompt: {tts: y}, answers: '12'}\n", "8:14", "duplicate question id 'q'"),
    ("survey answers",
     "start: a\nnodes:\n  a:\n    type: survey\n    name: s\n    questions:\n"
     "      - {id: q, prompt: {tts: x}, answers: '1x'}\n", "7:44",
     "must list distinct keys from"),
    ("http url", "start: a\nnodes:\n  a: {type: http, url: 'ftp://x', default: a}\n", "3:24",
     "'ftp://x' is not allowed here"),
    ("set name", "start: a\nnodes:\n  a: {type: set, variables: {'a b': 1}, next: a}\n", "3:30",
     "'a b' is not a valid name"),
    ("set value", "start: a\nnodes:\n  a: {type: set, variables: {x: [1]}, next: a}\n", "3:33",
     "must be a string, number or boolean"),
]


@pytest.mark.parametrize(("text", "where", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule_reports_exact_position(text: str, where: str, message: str) -> None:
    found = problems(text)
    assert any(p.startswith(where + ": ") and message in p for p in found), found


def test_missing_prompt_file_is_reported_where_it_is_named(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "hello.wav").write_bytes(b"RIFF")
    text = ("start: a\nprompts_dir: prompts\nnodes:\n"
            "  a: {type: play, prompt: [{file: hello.wav}, {file: gone.wav}], next: b}\n"
            "  b: {type: hangup}\n")
    found = problems(text, base_dir=tmp_path)
    assert len(found) == 1 and found[0].startswith("4:54: prompt file 'gone.wav' not found")
    assert problems(text) == []  # text alone (no directory): files are not looked up


def test_file_prompt_paths_resolve_against_prompts_dir(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.wav").write_bytes(b"RIFF")
    path = tmp_path / "s.yaml"
    path.write_text("start: a\nprompts_dir: p\nnodes:\n"
                    "  a: {type: play, prompt: {file: a.wav}, next: b}\n  b: {type: hangup}\n")
    prompt = load_file(path).nodes["a"].prompts("prompt")[0]
    assert prompt.path == tmp_path / "p" / "a.wav"


def test_all_problems_reported_at_once_in_file_order() -> None:
    text = """
        start: main
        nodes:
          main:
            type: menu
            prompt: {tts: "Hi ${nam}"}
            options: {1: sales, 2: nowhere}
            timout: 4
          sales: {type: transfer, extension: "1"}
          orphan: {type: hangup}
    """
    found = problems(text)
    assert [p.split(": ")[0] for p in found] == ["5:19", "6:28", "7:5", "8:38", "9:3"]


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    assert "cannot read scenario" in str(check_file(tmp_path / "missing.yaml")[0])
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"start: a\nname: \xff\n")
    (problem,) = check_file(bad)
    assert (problem.line, problem.column) == (2, 7)
    assert str(problem) == f"{bad}:2:7: scenario is not valid UTF-8"


def test_cli_check_prints_problems_and_exits_non_zero(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    good = ROOT / "config" / "scenarios" / "small_business.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("start: a\nnodes:\n  a: {type: hangup, cuase: x}\n")
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3:21: unknown field 'cuase' in hangup node 'a'" in out


def test_cli_as_module(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("start: a\nnodes:\n  a: {type: goto, target: zz}\n")
    result = subprocess.run([sys.executable, "-m", "ivrdsl", "check", str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}:3:27: no node named 'zz'")
