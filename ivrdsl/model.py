"""A validated scenario: immutable, so calls in progress can keep the version they began on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["Node", "PromptSpec", "Scenario"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSpec:
    kind: Literal["tts", "file", "silence"]
    text: str = ""  # TTS text (may hold ${variables}) or the file path as written
    path: Path | None = None  # the file, resolved against prompts_dir
    seconds: float = 0.0
    language: str | None = None
    voice: Literal["male", "female"] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One named node; `fields` hold the validated values keyed as in the YAML."""

    name: str
    kind: str
    fields: Mapping[str, object]
    line: int = 0

    def get(self, key: str, default: object = None) -> object:
        return self.fields.get(key, default)

    def text(self, key: str, default: str = "") -> str:
        value = self.fields.get(key, default)
        assert isinstance(value, str), (self.name, key)
        return value

    def target(self, key: str) -> str | None:
        value = self.fields.get(key)
        assert value is None or isinstance(value, str), (self.name, key)
        return value

    def number(self, key: str, default: float) -> float:
        value = self.fields.get(key, default)
        assert isinstance(value, int | float) and not isinstance(value, bool), (self.name, key)
        return float(value)

    def integer(self, key: str, default: int) -> int:
        value = self.fields.get(key, default)
        assert isinstance(value, int) and not isinstance(value, bool), (self.name, key)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.fields.get(key, default)
        assert isinstance(value, bool), (self.name, key)
        return value

    def prompts(self, key: str) -> tuple[PromptSpec, ...]:
        value = self.fields.get(key, ())
        assert isinstance(value, tuple), (self.name, key)
        return tuple(p for p in value if isinstance(p, PromptSpec))


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    source: str
    start: str
    nodes: Mapping[str, Node]
    language: str = "pl"
    voice: Literal["male", "female"] = "female"
    timezone: str = "Europe/Warsaw"
    answer: bool = True
    max_steps: int = 200
    variables: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""  # sha256 of the file's bytes: tells versions apart
