"""Validation problems, located as ``file:line:column`` (1-based), and their exception."""

from __future__ import annotations

from dataclasses import dataclass

from switch.errors import SwitchError

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    filename: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.message}"


class ScenarioError(SwitchError):
    """A scenario file with one or more problems (all of them, in file order)."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
