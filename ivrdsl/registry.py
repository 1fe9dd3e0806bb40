"""Scenario files kept loaded and reloaded on change, swapped atomically.

`reload_if_changed()` re-reads the files and compares a hash of their bytes (scenario
files are a few kilobytes, and a hash does not miss an edit that kept the size and
landed in the same coarse mtime tick); the asyncio glue calls it every second or two.
A changed file is validated in full first; only a valid result replaces the previous
version, by rebinding one immutable mapping — a reader sees the old mapping or the new
one, never a mix.  Calls in progress hold their own `Scenario` object and so finish on
the version they started with.  An invalid edit leaves the previous version in service;
its problems are returned once (in the report of the poll that saw the edit) and kept in
`errors` until the file is fixed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ivrdsl.errors import Problem, ScenarioError
from ivrdsl.model import Scenario
from ivrdsl.validator import load_bytes
from switch.control import CallOffered

__all__ = ["ReloadReport", "ScenarioRegistry"]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ReloadReport:
    loaded: tuple[str, ...] = ()  # scenario names now served from a new version
    removed: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()  # of edited files left on their previous version
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class _FileState:
    seen: str = ""  # hash of the bytes last examined, valid or not
    name: str | None = None  # the scenario it serves, when it was valid
    problems: tuple[Problem, ...] = field(default_factory=tuple)


class ScenarioRegistry:
    """Scenarios by name, from a directory of YAML files and/or explicit files."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *,
                 files: Iterable[str | os.PathLike[str]] = (),
                 routes: Mapping[str, str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.extra_files = tuple(Path(f) for f in files)
        self.routes = dict(routes or {})  # dialled number -> scenario name
        self._scenarios: Mapping[str, Scenario] = MappingProxyType({})
        self._files: dict[Path, _FileState] = {}

    # -- reading ------------------------------------------------------------------------

    @property
    def scenarios(self) -> Mapping[str, Scenario]:
        return self._scenarios

    def get(self, name: str) -> Scenario | None:
        return self._scenarios.get(name)

    def for_call(self, offered: CallOffered) -> Scenario | None:
        """The scenario for a new call: by route for the dialled number, else by name."""
        return self._scenarios.get(self.routes.get(offered.callee, offered.callee))

    @property
    def errors(self) -> dict[str, tuple[Problem, ...]]:
        """Problems of files whose latest edit was rejected, by file."""
        return {str(p): s.problems for p, s in self._files.items() if s.problems}

    # -- reloading ----------------------------------------------------------------------

    def _paths(self) -> list[Path]:
        paths = set(self.extra_files)
        if self.directory is not None and self.directory.is_dir():
            paths.update(p for p in self.directory.iterdir()
                         if p.suffix in _SUFFIXES and p.is_file())
        return sorted(paths)

    def reload_if_changed(self) -> ReloadReport:
        """Load new and changed files, drop deleted ones; one atomic swap at the end."""
        current = dict(self._scenarios)
        loaded: list[str] = []
        removed: list[str] = []
        problems: list[Problem] = []
        unchanged = 0
        paths = self._paths()
        for gone in sorted(set(self._files) - set(paths)):
            state = self._files.pop(gone)
            if state.name is not None and current.pop(state.name, None) is not None:
                removed.append(state.name)
        for path in paths:
            state = self._files.setdefault(path, _FileState())
            try:
                data = path.read_bytes()
            except OSError as exc:
                data = None
                failure = Problem(str(path), 1, 1, f"cannot read scenario: "
                                  f"{exc.strerror or exc}")
            digest = hashlib.sha256(data).hexdigest() if data is not None else "unreadable"
            if digest == state.seen:
                unchanged += 1
                continue
            state.seen = digest
            try:
                if data is None:
                    raise ScenarioError((failure,))
                scenario = load_bytes(data, str(path))
                owner = next((p for p, s in self._files.items()
                              if p != path and s.name == scenario.name), None)
                if owner is not None:
                    raise ScenarioError((Problem(str(path), 1, 1, f"scenario name "
                                                 f"{scenario.name!r} is already used by "
                                                 f"{owner}"),))
            except ScenarioError as exc:
                state.problems = exc.problems
                problems.extend(exc.problems)
                continue
            state.problems = ()
            if state.name is not None and state.name != scenario.name:
                current.pop(state.name, None)  # renamed inside the file
                removed.append(state.name)
            state.name = scenario.name
            current[scenario.name] = scenario
            loaded.append(scenario.name)
        self._scenarios = MappingProxyType(current)  # the atomic swap
        return ReloadReport(tuple(loaded), tuple(removed), tuple(problems), unchanged)
