"""The published JSON Schema: up to date, valid, accepts the examples, rejects bad files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ivrdsl import spec
from ivrdsl.errors import ScenarioError
from ivrdsl.schema import SCHEMA_PATH, build_schema, schema_text
from ivrdsl.validator import load_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "config" / "scenarios").glob("*.yaml"))


def as_json(text: str) -> Any:
    """What an editor's YAML language server hands to the schema (keys become strings)."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text()))


def test_published_schema_matches_the_language_tables() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), (
        "regenerate: python -m ivrdsl schema > ivrdsl/scenario.schema.json")


def test_schema_is_a_valid_draft_07_schema() -> None:
    jsonschema.Draft7Validator.check_schema(build_schema())


def test_schema_lists_every_kind_and_field_of_the_validator() -> None:
    schema = build_schema()
    for kind, fields in spec.NODE_KINDS.items():
        assert set(schema["definitions"][kind]["properties"]) == {f.name for f in fields}
        required = {f.name for f in fields if f.required}
        assert set(schema["definitions"][kind].get("required", [])) == required
    top = {f.name for f in spec.SCENARIO_FIELDS}
    assert set(schema["properties"]) == top


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_validate_against_the_schema(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../ivrdsl/scenario.schema.json")
    errors = list(validator().iter_errors(as_json(text)))
    assert errors == []


BASE = """
start: a
nodes:
  a: {type: hangup}
"""
BAD = [
    ("unknown top field", "start: a\nstrat: a\nnodes: {a: {type: hangup}}\n"),
    ("unknown kind", "start: a\nnodes: {a: {type: hangpu}}\n"),
    ("unknown field", "start: a\nnodes: {a: {type: hangup, cuase: x}}\n"),
    ("missing field", "start: a\nnodes: {a: {type: goto}}\n"),
    ("wrong type", "start: a\nnodes: {a: {type: collect, variable: v, next: a, timeout: x}}\n"),
    ("out of range", "start: a\nnodes: {a: {type: collect, variable: v, next: a, repeats: 0}}\n"),
    ("two destinations", "start: a\nnodes: {a: {type: transfer, extension: '10', queue: q}}\n"),
    ("no destination", "start: a\nnodes: {a: {type: transfer}}\n"),
    ("prompt two kinds", "start: a\nnodes: {a: {type: hangup, prompt: {tts: x, file: y}}}\n"),
    ("prompt string", "start: a\nnodes: {a: {type: hangup, prompt: hello}}\n"),
    ("bad hours", "start: a\nnodes: {a: {type: schedule, hours: {mon: '8-17'}, open: a, "
     "closed: a}}\n"),
    ("menu key", "start: a\nnodes: {a: {type: menu, prompt: {tts: x}, options: {12: a}}}\n"),
    ("no nodes", "start: a\n"),
    ("language", "start: a\nlanguage: de\nnodes: {a: {type: hangup}}\n"),
]


def test_schema_accepts_the_minimal_scenario() -> None:
    assert list(validator().iter_errors(as_json(BASE))) == []


@pytest.mark.parametrize("text", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_schema_and_validator_both_reject(text: str) -> None:
    assert list(validator().iter_errors(as_json(text))), "schema accepted it"
    with pytest.raises(ScenarioError):
        load_text(textwrap.dedent(text), "bad.yaml")
