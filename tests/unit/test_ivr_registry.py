"""Hot reload: validate, swap atomically, keep calls on their version, keep the old on error."""

from __future__ import annotations

from pathlib import Path

from ivrdsl.registry import ScenarioRegistry
from ivrdsl.testing import Driver
from switch.control import CallOffered, Hangup

V1 = """\
name: main
start: m
nodes:
  m: {type: menu, prompt: {tts: "v1"}, options: {1: one}}
  one: {type: hangup, cause: v1}
"""
V2 = V1.replace('"v1"', '"v2"').replace("cause: v1", "cause: v2")
BROKEN = V1.replace("options: {1: one}", "options: {1: oen}")


def offered(callee: str) -> CallOffered:
    return CallOffered(call_id="x", caller="1", callee=callee)


def test_initial_load_and_lookup(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(V1)
    (tmp_path / "notes.txt").write_text("ignored")
    registry = ScenarioRegistry(tmp_path, routes={"700": "main"})
    report = registry.reload_if_changed()
    assert report.loaded == ("main",) and report.ok
    assert registry.get("main") is not None
    assert registry.for_call(offered("700")) is registry.get("main")
    assert registry.for_call(offered("main")) is registry.get("main")
    assert registry.for_call(offered("999")) is None
    again = registry.reload_if_changed()
    assert (again.loaded, again.unchanged) == ((), 1)


def test_change_swaps_and_calls_in_progress_keep_their_version(tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(V1)
    registry = ScenarioRegistry(tmp_path)
    registry.reload_if_changed()
    old = registry.get("main")
    assert old is not None
    in_progress = Driver(old)
    in_progress.start()
    path.write_text(V2)  # same size as V1: caught by the content hash
    report = registry.reload_if_changed()
    assert report.loaded == ("main",)
    new = registry.get("main")
    assert new is not None and new is not old and new.digest != old.digest
    assert in_progress.press("1") == [Hangup(call_id="c1", cause="v1")]
    fresh = Driver(new)
    fresh.start()
    assert fresh.press("1") == [Hangup(call_id="c1", cause="v2")]


def test_invalid_edit_keeps_previous_version_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(V1)
    registry = ScenarioRegistry(tmp_path)
    registry.reload_if_changed()
    old = registry.get("main")
    path.write_text(BROKEN)
    report = registry.reload_if_changed()
    assert not report.ok and report.loaded == ()
    assert [str(p) for p in report.problems] == [
        f"{path}:4:53: no node named 'oen' (did you mean 'one'?)",
        f"{path}:5:3: node 'one' is unreachable from start 'm'",
    ]
    assert registry.get("main") is old
    assert registry.errors == {str(path): report.problems}
    assert registry.reload_if_changed().ok  # reported once, still listed in errors
    assert registry.errors
    path.write_text(V2)
    report = registry.reload_if_changed()
    assert report.ok and report.loaded == ("main",) and registry.errors == {}


def test_invalid_new_file_is_not_served(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("start: [\n")
    registry = ScenarioRegistry(tmp_path)
    report = registry.reload_if_changed()
    assert report.problems[0].message.startswith("YAML syntax error")
    assert dict(registry.scenarios) == {}


def test_deleted_file_and_renamed_scenario(tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(V1)
    registry = ScenarioRegistry(tmp_path)
    registry.reload_if_changed()
    path.write_text(V1.replace("name: main", "name: other"))
    report = registry.reload_if_changed()
    assert (report.loaded, report.removed) == (("other",), ("main",))
    path.unlink()
    assert registry.reload_if_changed().removed == ("other",)
    assert dict(registry.scenarios) == {}


def test_name_clash_keeps_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(V1)
    (tmp_path / "b.yaml").write_text(V2)
    registry = ScenarioRegistry(tmp_path)
    report = registry.reload_if_changed()
    assert report.loaded == ("main",)
    assert "already used by" in report.problems[0].message
    scenario = registry.get("main")
    assert scenario is not None and scenario.source.endswith("a.yaml")


def test_explicit_files_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    registry = ScenarioRegistry(files=[path])
    report = registry.reload_if_changed()
    assert "cannot read scenario" in report.problems[0].message
    path.write_text(V1)
    assert registry.reload_if_changed().loaded == ("main",)
