"""Call setup load: SIPp UAC -> switch (B2BUA) -> SIPp UAS, authenticated callers.

Each SIPp call is INVITE -> 407 -> ACK -> INVITE with Proxy-Authorization -> 100/180
-> 200 -> ACK -> BYE -> 200 on the caller's side, and INVITE -> 180 -> 200 -> ACK ->
BYE -> 200 on the callee's side: two dialogs, a relay session allocated and freed (no
RTP is sent), and a CDR opened, answered and closed in SQLite per call. The switch runs
pinned to CPU 0; both SIPp instances share CPU 1. The offered rate steps up until
failures or retransmissions reach 1 % or SIPp falls behind; the best passing rate is
repeated and medians reported.

    .venv/bin/python bench/sip_calls.py --quick          # < 1 minute
    .venv/bin/python bench/sip_calls.py --json bench/results/sip_calls.json

Then memory: RSS growth of the switch per established call, with 1,000 calls up at once
(200 with --quick), each holding two dialogs and a relay session (four sockets).

JSON keys: calls_per_s, p99_setup_ms, failed_ratio, retransmit_ratio, offered_per_s,
kb_per_call.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
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

CALLER, CALLEE = ("1001", "pw1001"), ("1002", "pw1002")
# SIP messages per call seen by SIPp on both sides: 9 on the caller, 6 on the callee.
MESSAGES_PER_CALL = 15


def run_step(rate: int, duration: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        workdir = Path(tmp)
        switch = SwitchUnderTest(workdir, [CALLER, CALLEE], {
            "media": {"port_min": 20000, "port_max": 60000},
        })
        (workdir / "reg.csv").write_text(
            "SEQUENTIAL\n1002;[authentication username=1002 password=pw1002];example.test\n")
        (workdir / "uac.csv").write_text(
            "SEQUENTIAL\n"
            "1001;[authentication username=1001 password=pw1001];example.test;1002\n")
        switch.start()
        uas: subprocess.Popen[bytes] | None = None
        try:
            uas_port = free_port()
            sipp("register_auth.xml", switch, workdir, "-inf", "reg.csv", "-p", str(uas_port),
                 "-m", "1", "-timeout", "10s")
            total = int(rate * duration)
            uas_run = sipp("call_uas.xml", switch, workdir, "-p", str(uas_port),
                           "-m", str(total), "-timeout", f"{int(duration + 40)}s",
                           "-mp", str(free_port()), background=True)
            assert isinstance(uas_run, subprocess.Popen)
            uas = uas_run
            switch.mark()
            started = time.monotonic()
            sipp("call_uac_auth.xml", switch, workdir, "-inf", "uac.csv",
                 "-p", str(free_port()), "-mp", str(free_port()), "-r", str(rate),
                 "-m", str(total), "-l", str(max(2 * rate, 100)),
                 "-timeout", f"{int(duration + 30)}s", "-trace_stat", "-stf", "stat.csv",
                 "-fd", "1", "-trace_rtt", "-rtt_freq", "1", timeout=duration + 60)
            elapsed = time.monotonic() - started
            cpu = switch.cpu_share()
            stats = read_stats(workdir / "stat.csv")
            rtts = read_rtts(workdir)
            closed = switch.query("SELECT count(*) FROM cdr WHERE disposition = 'ANSWERED'")
        finally:
            if uas is not None:
                uas.kill()
                uas.wait(10)
            switch.stop()
    ok, failed = stats["SuccessfulCall(C)"], stats["FailedCall(C)"]
    return {
        "offered_per_s": rate,
        "calls_per_s": stats["steady_per_s"],
        "overall_per_s": ok / elapsed,
        "failed_ratio": failed / max(1.0, ok + failed),
        "retransmit_ratio": stats["Retransmissions(C)"] / max(1.0, 9 * (ok + failed)),
        "p99_setup_ms": percentile(rtts, 99),
        "p50_setup_ms": percentile(rtts, 50),
        "switch_cpu_ratio": cpu,
        "cdr_answered": float(closed[0][0]),  # type: ignore[arg-type]
        "calls": ok,
    }


def rss_kb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    return 0.0


def memory_per_call(calls: int) -> dict[str, float]:
    """RSS growth of the switch per established call (dialogs, transactions, relay
    session with its four sockets, CDR state), with `calls` calls up at once."""
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        workdir = Path(tmp)
        switch = SwitchUnderTest(workdir, [CALLER, CALLEE], {
            "media": {"port_min": 20000, "port_max": 60000},
            "calls": {"max_duration": 600},
        })
        (workdir / "reg.csv").write_text(
            "SEQUENTIAL\n1002;[authentication username=1002 password=pw1002];example.test\n")
        (workdir / "uac.csv").write_text(
            "SEQUENTIAL\n"
            "1001;[authentication username=1001 password=pw1001];example.test;1002\n")
        switch.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            assert switch.proc is not None
            uas_port = free_port()
            sipp("register_auth.xml", switch, workdir, "-inf", "reg.csv", "-p", str(uas_port),
                 "-m", "1", "-timeout", "10s")
            # Warm up (imports, first allocations, caches) with a few short calls.
            warm = sipp("call_uas.xml", switch, workdir, "-p", str(uas_port), "-m", "20",
                        "-timeout", "30s", "-mp", str(free_port()), background=True)
            assert isinstance(warm, subprocess.Popen)
            sipp("call_uac_auth.xml", switch, workdir, "-inf", "uac.csv",
                 "-p", str(free_port()), "-mp", str(free_port()), "-r", "20", "-m", "20",
                 "-timeout", "30s", timeout=60)
            warm.kill()
            warm.wait(10)
            time.sleep(1.0)
            before = rss_kb(switch.proc.pid)
            uas = sipp("call_uas.xml", switch, workdir, "-p", str(uas_port), "-m", str(calls),
                       "-timeout", "120s", "-mp", str(free_port()), background=True)
            uac = sipp("call_uac_auth.xml", switch, workdir, "-inf", "uac.csv",
                       "-p", str(free_port()), "-mp", str(free_port()), "-r", "200",
                       "-m", str(calls), "-l", str(calls), "-d", "60000",
                       "-timeout", "120s", background=True)
            assert isinstance(uas, subprocess.Popen) and isinstance(uac, subprocess.Popen)
            procs = [uas, uac]
            deadline = time.monotonic() + 60
            up = 0
            while time.monotonic() < deadline:
                up = int(switch.query("SELECT count(*) FROM cdr WHERE answer IS NOT NULL "
                                      "AND \"end\" IS NULL")[0][0])  # type: ignore[call-overload]
                if up >= calls:
                    break
                time.sleep(0.5)
            time.sleep(1.0)
            after = rss_kb(switch.proc.pid)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait(10)
            switch.stop()
    return {"calls_up": up, "rss_before_kb": before, "rss_after_kb": after,
            "kb_per_call": (after - before) / max(1, up)}


def passes(step: dict[str, float]) -> bool:
    return (step["failed_ratio"] < 0.01 and step["retransmit_ratio"] < 0.01
            and step["calls_per_s"] >= 0.95 * step["offered_per_s"])


def main() -> int:
    args = ladder_options(__doc__.split("\n\n")[0])
    if shutil.which("sipp") is None:
        print("sipp not found: install Debian's sip-tester (make test does)", file=sys.stderr)
        return 2
    duration = 4.0 if args.quick else 10.0
    rate = args.start or (300 if args.quick else 400)
    growth, max_steps = (1.5, 3) if args.quick else (1.2, 10)
    repeat = args.repeat or (1 if args.quick else 3)

    print(f"{'offered/s':>10} {'calls/s':>8} {'failed':>8} {'retrans':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'cpu':>5} {'CDRs':>7}")

    def show(offered: int, step: dict[str, float]) -> None:
        print(f"{offered:>10} {step['calls_per_s']:>8.0f} {step['failed_ratio']:>8.2%} "
              f"{step['retransmit_ratio']:>8.2%} {step['p50_setup_ms']:>8.1f} "
              f"{step['p99_setup_ms']:>8.1f} {step['switch_cpu_ratio']:>5.2f} "
              f"{int(step['cdr_answered']):>7}", flush=True)

    best = step_up(lambda r: run_step(r, duration), rate, growth, max_steps, passes, show)
    if best is None:
        print("no offered rate passed (< 1 % failed, < 1 % retransmissions, keeping up)")
        return 1
    runs = [best] + [run_step(int(best["offered_per_s"]), duration) for _ in range(repeat - 1)]
    result = {
        "calls_per_s": round(statistics.median(r["calls_per_s"] for r in runs), 1),
        "p99_setup_ms": round(statistics.median(r["p99_setup_ms"] for r in runs), 3),
        "failed_ratio": round(statistics.median(r["failed_ratio"] for r in runs), 5),
        "retransmit_ratio": round(statistics.median(r["retransmit_ratio"] for r in runs), 5),
        "offered_per_s": best["offered_per_s"],
        "runs": len(runs),
    }
    print(f"\nsustained: {result['calls_per_s']:.0f} calls/s (median of {len(runs)} at "
          f"{best['offered_per_s']:.0f}/s offered), p99 setup {result['p99_setup_ms']:.0f} ms")
    memory = memory_per_call(200 if args.quick else 1000)
    result["kb_per_call"] = round(memory["kb_per_call"], 1)
    print(f"memory: {memory['calls_up']:.0f} calls up, RSS {memory['rss_before_kb']:.0f} -> "
          f"{memory['rss_after_kb']:.0f} kB: {memory['kb_per_call']:.1f} kB per call")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
