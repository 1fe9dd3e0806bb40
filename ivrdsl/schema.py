"""The JSON Schema of the scenario language, generated from the tables in `ivrdsl.spec`.

`ivrdsl/scenario.schema.json` is this function's output, committed so editors can use
it (yaml-language-server: put ``# yaml-language-server: $schema=<path or URL>`` on the
first line of a scenario).  A test fails when the file and the tables disagree;
regenerate with ``python -m ivrdsl schema > ivrdsl/scenario.schema.json``.

Draft-07, the dialect yaml-language-server and VS Code support best.  The schema
catches what a schema can (kinds, field names and types, formats);
cross-references (targets, reachability, loops, variables, files) need the validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivrdsl import spec

__all__ = ["SCHEMA_PATH", "build_schema", "schema_text"]

SCHEMA_PATH = Path(__file__).resolve().parent / "scenario.schema.json"
SCHEMA_ID = "https://github.com/softswitch/softswitch/ivrdsl/scenario.schema.json"

_HOURS_RE = r"^\s*[0-9]{1,2}:[0-9]{2}\s*[-–]\s*[0-9]{1,2}:[0-9]{2}\s*$"


def _type(t: spec.Type) -> dict[str, Any]:
    # One branch per field type, mirroring _Validator.value.
    if isinstance(t, spec.Target):
        return {"type": "string", "pattern": spec.NAME_PATTERN}
    if isinstance(t, spec.Prompt):
        one = {"$ref": "#/definitions/prompt"}
        return {"oneOf": [one, {"type": "array", "minItems": 1, "items": one}]}
    if isinstance(t, spec.Seconds):
        bound = "minimum" if t.zero_ok else "exclusiveMinimum"
        return {"type": "number", bound: 0, "maximum": t.maximum}
    if isinstance(t, spec.Integer):
        return {"type": "integer", "minimum": t.lo, "maximum": t.hi}
    if isinstance(t, spec.Boolean):
        return {"type": "boolean"}
    if isinstance(t, spec.Text):
        out: dict[str, Any] = {"type": "string", "minLength": 1}
        if t.choices:
            out["enum"] = list(t.choices)
        if t.pattern:
            out["pattern"] = t.pattern
        return out
    if isinstance(t, spec.Regex):
        return {"type": "string", "minLength": 1, "format": "regex"}
    if isinstance(t, spec.DigitSet):
        return {"type": ["string", "integer"], "pattern": "^[0-9*#A-D]+$"}
    if isinstance(t, spec.Scalar):
        return {"type": ["string", "number", "boolean"]}
    if isinstance(t, spec.Extension):
        return {"type": ["string", "integer"], "pattern": "^[0-9]{2,10}$"}
    if isinstance(t, spec.ExtensionRange):
        return {"type": ["string", "integer"], "pattern": "^[0-9]{2,10}(-[0-9]{2,10})?$"}
    if isinstance(t, spec.PhoneNumber):
        return {"type": "string", "pattern": r"^\+?[0-9 ]{3,30}$"}
    if isinstance(t, spec.Hours):
        one = {"type": "string", "pattern": _HOURS_RE}
        return {"oneOf": [one, {"type": "array", "minItems": 1, "items": one}]}
    if isinstance(t, spec.DateOrYearly):
        return {"type": "string", "pattern": r"^([0-9]{4}-)?[0-9]{2}-[0-9]{2}$"}
    if isinstance(t, spec.Timezone):
        return {"type": "string", "pattern": r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$"}
    if isinstance(t, spec.MapOf):
        names = {"digit": "^[0-9*#]$", "name": spec.VARIABLE_PATTERN, "text": "^.+$"}
        return {"type": "object", "propertyNames": {"pattern": names[t.key]},
                "additionalProperties": _type(t.value)}
    if isinstance(t, spec.ListOf):
        return {"type": "array", "minItems": t.min_items, "items": _type(t.item)}
    if isinstance(t, spec.Record):
        return _record(t.fields, t.required_one_of)
    raise AssertionError(f"no schema for {t!r}")  # pragma: no cover - table bug


def _record(fields: tuple[spec.Field, ...], one_of: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: {**_type(f.type), "description": f.doc} for f in fields},
    }
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    if one_of:
        out["oneOf"] = [{"required": [k]} for k in one_of]
    return out


def build_schema() -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind, fields in spec.NODE_KINDS.items():
        body = _record(fields)
        body["properties"]["type"] = {"const": kind, "description": fields[0].doc}
        if kind == "transfer":  # exactly one destination, as the validator insists
            body["oneOf"] = [{"required": [k]} for k in ("extension", "group", "queue",
                                                          "external")]
        kinds[kind] = body
    top_fields = tuple(f for f in spec.SCENARIO_FIELDS if f.name != "nodes")
    top = _record(top_fields)
    top["properties"]["nodes"] = {
        "type": "object",
        "description": "The nodes, by name.",
        "minProperties": 1,
        "propertyNames": {"pattern": spec.NAME_PATTERN},
        "additionalProperties": {"$ref": "#/definitions/node"},
    }
    top["required"] = [*top.get("required", []), "nodes"]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "IVR scenario",
        "description": "A call flow for the softswitch IVR (ivrdsl). Validate fully with "
                       "`python -m ivrdsl check FILE`.",
        **top,
        "definitions": {
            "prompt": _record(spec.PROMPT_ITEM_FIELDS, ("tts", "file", "silence")),
            "node": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": list(spec.NODE_KINDS)}},
                # if/then per kind: editors then complete the fields of the chosen kind.
                "allOf": [
                    {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                     "then": {"$ref": f"#/definitions/{kind}"}}
                    for kind in spec.NODE_KINDS
                ],
            },
            **kinds,
        },
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
