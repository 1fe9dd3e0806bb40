"""IVR interpreter and validator cost: whole calls through the example scenarios.

A call through `config/scenarios/small_business.yaml` during opening hours: offered,
the greeting menu plays, the caller presses 0 (reception), the transfer is answered,
the caller hangs up — every command the interpreter emits, with the fake clock of
`ivrdsl.testing`. Calls are run back to back on one core (the interpreter is
sans-I/O: this is its whole cost, no switch around it); validation is timed per
example file. Medians of repeated rounds.

    .venv/bin/python bench/ivr_interpreter.py --quick
    .venv/bin/python bench/ivr_interpreter.py --json bench/results/ivr_interpreter.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivrdsl import IvrCall, load_file  # noqa: E402
from ivrdsl.testing import FakeClock  # noqa: E402
from switch.control import (  # noqa: E402
    Answered,
    CallOffered,
    Dial,
    DtmfReceived,
    Play,
    PromptFinished,
    Released,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios"


def one_call(scenario: object, clock: FakeClock, index: int) -> int:
    """A whole call; returns how many commands the interpreter emitted."""
    call_id = f"c{index}"
    call = IvrCall(scenario, call_id, clock=clock)  # type: ignore[arg-type]
    emitted = call.handle(CallOffered(call_id=call_id, caller="600100200", callee="700"), 0.0)
    count = len(emitted)
    plays = [c for c in emitted if isinstance(c, Play)]
    if plays:
        emitted = call.handle(PromptFinished(call_id=call_id, prompt_id=plays[-1].prompt_id),
                              2.0)
        count += len(emitted)
    emitted = call.handle(DtmfReceived(call_id=call_id, digit="0", at=2.5, duration_ms=100,
                                       source="rfc4733"), 2.5)
    count += len(emitted)
    dials = [c for c in emitted if isinstance(c, Dial)]
    if dials:
        count += len(call.handle(Answered(call_id=call_id, request_id=dials[-1].request_id),
                                 5.0))
    count += len(call.handle(Released(call_id=call_id, cause="caller-hangup"), 60.0))
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--json", type=Path, help="write the result as flat JSON here")
    args = parser.parse_args()
    calls = 2_000 if args.quick else 20_000
    rounds = 3 if args.quick else 5
    scenario = load_file(SCENARIOS / "small_business.yaml")
    # A Wednesday at 10:00 in Warsaw: open hours, so the greeting menu runs.
    clock = FakeClock(datetime(2026, 1, 7, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw")))
    rates, commands = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        commands = sum(one_call(scenario, clock, i) for i in range(calls))
        rates.append(calls / (time.perf_counter() - start))
    print(f"{'what':<44} {'median':>12}")
    calls_per_s = statistics.median(rates)
    print(f"{'whole calls through small_business.yaml':<44} {calls_per_s:>10,.0f}/s"
          f"  ({commands / calls:.1f} commands per call)")
    result: dict[str, float] = {"calls_per_s": round(calls_per_s)}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        times = []
        for _ in range(rounds * 2):
            start = time.perf_counter()
            load_file(path)
            times.append((time.perf_counter() - start) * 1000)
        ms = statistics.median(times)
        print(f"{'validate ' + path.name:<44} {ms:>10.2f} ms")
        result[f"validate_ms_{path.stem}"] = round(ms, 3)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
