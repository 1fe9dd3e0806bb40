"""What the SIPp-driven benchmarks share: the switch under test, CPU pinning, SIPp stats.

The switch runs as its own process pinned to CPU 0 and SIPp to CPU 1, both on 127.0.0.1;
the switch's CPU share is read from /proc so a table shows whether it was saturated.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "tests" / "interop" / "scenarios"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int) -> list[str]:
    ncpu = os.cpu_count() or 1
    return ["taskset", "-c", str(cpu % ncpu)] if shutil.which("taskset") else []


class SwitchUnderTest:
    """A switch process with `users` (extension, password) on a fresh data directory."""

    def __init__(self, workdir: Path, users: list[tuple[str, str]],
                 extra: dict[str, object] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        config: dict[str, object] = {
            "sip": {"listen": [f"udp:127.0.0.1:{self.port}"], "domain": "example.test"},
            "auth": {"algorithms": ["MD5"]},
            "data_dir": str(workdir / "var"),
            "log": {"level": "warning"},
            "users": [{"extension": ext, "password": pw} for ext, pw in users],
        }
        config.update(extra or {})
        self.config_path = workdir / "switch.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[str] | None = None
        self._cpu0 = 0.0
        self._wall0 = 0.0

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
        self.mark()

    def mark(self) -> None:
        """Start measuring CPU share from now."""
        self._cpu0 = self.cpu_seconds()
        self._wall0 = time.monotonic()

    def cpu_share(self) -> float:
        return (self.cpu_seconds() - self._cpu0) / max(1e-6, time.monotonic() - self._wall0)

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

    def query(self, sql: str) -> list[tuple[object, ...]]:
        import sqlite3

        db = sqlite3.connect(self.workdir / "var" / "switch.db")
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()


def sipp(scenario: str, switch: SwitchUnderTest, workdir: Path, *args: str,
         timeout: float = 60.0, background: bool = False) -> subprocess.Popen[bytes] | int:
    """Run SIPp on CPU 1 with a scenario from tests/interop/scenarios."""
    command = [*pinned(1), "sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
               "-nostdin", *args, f"127.0.0.1:{switch.port}"]
    if background:
        return subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=workdir, capture_output=True, timeout=timeout).returncode


def read_stats(path: Path) -> dict[str, float]:
    """Totals and the steady per-second success rate from SIPp's -trace_stat CSV."""
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




def ladder_options(description: str, *, users: bool = False) -> argparse.Namespace:
    """The options of an offered-rate ladder (bench/sip_calls.py, bench/sip_register.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--json", type=Path, help="write the result as flat JSON here")
    if users:
        parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--start", type=int, default=None, help="first offered rate (/s)")
    parser.add_argument("--repeat", type=int, default=None)
    return parser.parse_args()


def step_up(run: Callable[[int], dict[str, float]], rate: int, growth: float,
            max_steps: int, passes: Callable[[dict[str, float]], bool],
            show: Callable[[int, dict[str, float]], None]) -> dict[str, float] | None:
    """Offer `rate`, then `growth` times more, until a step fails: the last that passed."""
    best: dict[str, float] | None = None
    for _ in range(max_steps):
        step = run(rate)
        show(rate, step)
        if not passes(step):
            break
        best = step
        rate = int(rate * growth)
    return best
