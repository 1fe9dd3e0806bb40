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

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "tests" / "interop" / "scenarios" / "register_auth.xml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int) -> list[str]:
    ncpu = os.cpu_count() or 1
    return ["taskset", "-c", str(cpu % ncpu)] if shutil.which("taskset") else []


class SwitchUnderTest:
    def __init__(self, workdir: Path, users: int) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.users = users
        config = {
            "sip": {"listen": [f"udp:127.0.0.1:{self.port}"], "domain": "example.test"},
            "auth": {"algorithms": ["MD5"]},
            "data_dir": str(workdir / "var"),
            "log": {"level": "warning"},
            "users": [{"extension": str(20000 + i), "password": f"pw-{i}"} for i in range(users)],
        }
        self.config_path = workdir / "switch.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.inf = workdir / "users.csv"
        self.inf.write_text("SEQUENTIAL\n" + "".join(
            f"{20000 + i};[authentication username={20000 + i} password=pw-{i}];example.test\n"
            for i in range(users)
        ))
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*pinned(0), sys.executable, "-m", "switch", "--config", str(self.config_path)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:
            if line.startswith("switch ready") or time.monotonic() > deadline:
                break
        self._cpu0 = self.cpu_seconds()

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def durable_bindings(self) -> int:
        import sqlite3

        db = sqlite3.connect(self.workdir / "var" / "switch.db")
        try:
            return int(db.execute("SELECT count(*) FROM registrations").fetchone()[0])
        finally:
            db.close()


def run_step(rate: int, duration: float, users: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-reg-") as tmp:
        workdir = Path(tmp)
        switch = SwitchUnderTest(workdir, users)
        switch.start()
        try:
            total = int(rate * duration)
            args = [
                *pinned(1), "sipp", "-sf", str(SCENARIO), "-inf", str(switch.inf),
                "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m", str(total),
                "-l", str(max(rate, 100)), "-timeout", f"{int(duration + 30)}s", "-nostdin",
                "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "1",
                f"127.0.0.1:{switch.port}",
            ]
            started = time.monotonic()
            subprocess.run(args, cwd=workdir, capture_output=True, timeout=duration + 60)
            elapsed = time.monotonic() - started
            cpu = switch.cpu_seconds() - switch._cpu0
            stats = read_stats(workdir / "stat.csv")
            rtts = read_rtts(workdir)
            durable = switch.durable_bindings()
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
        "switch_cpu_ratio": cpu / elapsed,
        "durable_bindings": durable,
        "expected_bindings": min(users, total),
    }


def read_stats(path: Path) -> dict[str, float]:
    with path.open() as f:
        rows = list(csv.reader(f, delimiter=";"))
    header, last = rows[0], rows[-1]
    wanted = ("SuccessfulCall(C)", "FailedCall(C)", "Retransmissions(C)")
    stats = {key: float(last[header.index(key)]) for key in wanted}
    # Steady-state rate: the per-second periodic rows, without the ramp-up second and
    # the draining tail (which only waits for the last answers).
    ok_p, elapsed_p = header.index("SuccessfulCall(P)"), header.index("ElapsedTime(P)")
    rates = []
    for row in rows[2:-2]:
        seconds = _hms(row[elapsed_p])
        if seconds > 0.5:
            rates.append(float(row[ok_p]) / seconds)
    stats["steady_per_s"] = statistics.median(rates) if rates else float("nan")
    return stats


def _hms(text: str) -> float:
    parts = text.split(":")
    value = int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])
    return value + (int(parts[3]) / 1000 if len(parts) > 3 else 0.0)


def read_rtts(workdir: Path) -> list[float]:
    """Per-request response times from SIPp's -trace_rtt file (Date_ms;response_time_ms;rtd).

    SIPp stamps them with its own clock tick, so the values are whole milliseconds (often
    multiples of its ~4 ms scheduling tick): p99 is exact only to that granularity.
    """
    values: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        with path.open() as f:
            for row in csv.reader(f, delimiter=";"):
                try:
                    values.append(float(row[1]))
                except (IndexError, ValueError):
                    continue
    return values


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def passes(step: dict[str, float]) -> bool:
    return (step["failed_ratio"] < 0.01
            and step["registrations_per_s"] >= 0.95 * step["offered_per_s"]
            and step["durable_bindings"] == step["expected_bindings"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--json", type=Path, help="write the result as flat JSON here")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--start", type=int, default=None, help="first offered rate (/s)")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        print("sipp not found: install Debian's sip-tester (make test does)", file=sys.stderr)
        return 2
    duration = 4.0 if args.quick else 10.0
    rate = args.start or (1500 if args.quick else 2000)
    growth, max_steps = (1.25, 3) if args.quick else (1.1, 10)
    repeat = args.repeat or (1 if args.quick else 3)

    print(f"{'offered/s':>10} {'achieved/s':>11} {'failed':>8} {'retrans':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'cpu':>5} {'durable':>8}")
    best: dict[str, float] | None = None
    for _ in range(max_steps):
        step = run_step(rate, duration, args.users)
        print(f"{rate:>10} {step['registrations_per_s']:>11.0f} {step['failed_ratio']:>8.2%} "
              f"{step['retransmit_ratio']:>8.2%} {step['p50_ms']:>8.2f} {step['p99_ms']:>8.2f} "
              f"{step['switch_cpu_ratio']:>5.2f} {int(step['durable_bindings']):>8}", flush=True)
        if not passes(step):
            break
        best = step
        rate = int(rate * growth)
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
