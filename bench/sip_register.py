"""REGISTER load with digest authentication: SIPp against the running switch.

Each SIPp "call" is one full registration: REGISTER -> 401 -> REGISTER with
credentials -> 200, with a binding upserted into SQLite (WAL) and committed before
the 200 leaves (group commit per event-loop turn). The switch runs pinned to CPU 0,
SIPp to CPU 1, both on 127.0.0.1. The rate steps up until failures reach 1 %, SIPp
falls behind the offered rate, or the step limit is hit; the best passing rate is then
repeated and the medians reported.

    .venv/bin/python bench/sip_register.py --quick          # < 1 minute
    .venv/bin/python bench/sip_register.py --json bench/results/sip_register.json

JSON keys: registrations_per_s, p99_ms, failed_ratio, offered_per_s, retransmit_ratio,
durable_bindings, users.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sipp_common import (
    SwitchUnderTest,
    free_port,
    ladder_options,
    percentile,
    read_rtts,
    read_stats,
    sipp,
    step_up,
)

SCENARIO = "register_auth.xml"


def run_step(rate: int, duration: float, users: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-reg-") as tmp:
        workdir = Path(tmp)
        accounts = [(str(20000 + i), f"pw-{i}") for i in range(users)]
        switch = SwitchUnderTest(workdir, accounts)
        inf = workdir / "users.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(
            f"{ext};[authentication username={ext} password={pw}];example.test\n"
            for ext, pw in accounts
        ))
        switch.start()
        try:
            total = int(rate * duration)
            started = time.monotonic()
            sipp(SCENARIO, switch, workdir, "-inf", str(inf), "-p", str(free_port()),
                 "-r", str(rate), "-m", str(total), "-l", str(max(rate, 100)),
                 "-timeout", f"{int(duration + 30)}s", "-trace_stat", "-stf", "stat.csv",
                 "-fd", "1", "-trace_rtt", "-rtt_freq", "1", timeout=duration + 60)
            elapsed = time.monotonic() - started
            cpu = switch.cpu_share()
            stats = read_stats(workdir / "stat.csv")
            rtts = read_rtts(workdir)
            durable = int(switch.query("SELECT count(*) FROM registrations")[0][0])  # type: ignore[call-overload]
        finally:
            switch.stop()
    ok, failed = stats["SuccessfulCall(C)"], stats["FailedCall(C)"]
    return {
        "offered_per_s": rate,
        "registrations_per_s": stats["steady_per_s"],
        "overall_per_s": ok / elapsed,
        "failed_ratio": failed / max(1.0, ok + failed),
        "retransmit_ratio": stats["Retransmissions(C)"] / max(1.0, 2 * (ok + failed)),
        "p99_ms": percentile(rtts, 99),
        "p50_ms": percentile(rtts, 50),
        "switch_cpu_ratio": cpu,
        "durable_bindings": durable,
        "expected_bindings": min(users, total),
    }


def passes(step: dict[str, float]) -> bool:
    return (step["failed_ratio"] < 0.01
            and step["registrations_per_s"] >= 0.95 * step["offered_per_s"]
            and step["durable_bindings"] == step["expected_bindings"])


def main() -> int:
    args = ladder_options(__doc__.split("\n\n")[0], users=True)
    if shutil.which("sipp") is None:
        print("sipp not found: install Debian's sip-tester (make test does)", file=sys.stderr)
        return 2
    duration = 4.0 if args.quick else 10.0
    rate = args.start or (1500 if args.quick else 2000)
    growth, max_steps = (1.25, 3) if args.quick else (1.1, 10)
    repeat = args.repeat or (1 if args.quick else 3)

    print(f"{'offered/s':>10} {'achieved/s':>11} {'failed':>8} {'retrans':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'cpu':>5} {'durable':>8}")

    def show(offered: int, step: dict[str, float]) -> None:
        print(f"{offered:>10} {step['registrations_per_s']:>11.0f} {step['failed_ratio']:>8.2%} "
              f"{step['retransmit_ratio']:>8.2%} {step['p50_ms']:>8.2f} {step['p99_ms']:>8.2f} "
              f"{step['switch_cpu_ratio']:>5.2f} {int(step['durable_bindings']):>8}", flush=True)

    best = step_up(lambda r: run_step(r, duration, args.users), rate, growth, max_steps,
                   passes, show)
    if best is None:
        print("no offered rate passed (< 1 % failures and keeping up)")
        return 1
    runs = [best] + [run_step(int(best["offered_per_s"]), duration, args.users)
                     for _ in range(repeat - 1)]
    result = {
        "registrations_per_s": round(statistics.median(r["registrations_per_s"] for r in runs), 1),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
        "failed_ratio": round(statistics.median(r["failed_ratio"] for r in runs), 5),
        "offered_per_s": best["offered_per_s"],
        "retransmit_ratio": round(statistics.median(r["retransmit_ratio"] for r in runs), 5),
        "durable_bindings": int(min(r["durable_bindings"] for r in runs)),
        "users": args.users,
        "runs": len(runs),
    }
    print(f"\nsustained: {result['registrations_per_s']:.0f} registrations/s "
          f"(median of {len(runs)} at {best['offered_per_s']:.0f}/s offered), "
          f"p99 {result['p99_ms']:.2f} ms, failed {result['failed_ratio']:.2%}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
