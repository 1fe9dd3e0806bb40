"""The YAML IVR language: validator with exact error positions and a sans-I/O interpreter.

- `ivrdsl.spec` — the language as data (node kinds, fields, types);
- `ivrdsl.validator` — YAML to `Scenario`, every problem as ``file:line:column``;
- `ivrdsl.schema` — the JSON Schema generated from the same tables
  (published as ``ivrdsl/scenario.schema.json``);
- `ivrdsl.schedule` — opening hours, dated exceptions, Polish public holidays;
- `ivrdsl.interpreter` — `IvrCall` (one call) and `Interpreter` (all calls), sans-I/O;
- `ivrdsl.events` — IVR-specific events/commands next to those of `switch.control`;
- `ivrdsl.registry` — scenario files, validated and hot-swapped atomically;
- `ivrdsl.testing` — a fake clock and a call driver for timeline tests.

``python -m ivrdsl check FILE...`` validates files; ``python -m ivrdsl schema`` prints
the schema.
"""

from ivrdsl.errors import Problem, ScenarioError
from ivrdsl.interpreter import Interpreter, IvrCall
from ivrdsl.model import Scenario
from ivrdsl.registry import ReloadReport, ScenarioRegistry
from ivrdsl.validator import check_file, load_file, load_text

__all__ = [
    "Interpreter",
    "IvrCall",
    "Problem",
    "ReloadReport",
    "Scenario",
    "ScenarioError",
    "ScenarioRegistry",
    "check_file",
    "load_file",
    "load_text",
]
