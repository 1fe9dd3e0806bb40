"""Recording and playback cost per channel per 20 ms media tick.

Recording: N concurrent recordings (1, 100, 500) in a temporary directory, each fed
one decoded 20 ms frame per leg per tick (caller and callee, with RTP timestamps and
arrival times, 1 % of frames lost) and ticked, through the real `RecordingWriter`:
alignment, gap handling, unbuffered appends every 0.25 s, header rewrite every second.
Media time is simulated (ticks run back to back), so the figure is pure CPU + syscall
cost; index writes happen only at start/close and are not in the loop. Reported per
recording (both legs) and per leg ("channel"), and as the share of one core that N
recordings need in real time (cost per tick / 20 ms).

Playback: N players on one shared prompt source (the IVR greeting case) and N on music
on hold (looped), each asked for its frame on every tick: µs per frame.

Time is this process's CPU time (user + system, `time.process_time`), so other
processes on the shared machine inflate it less than wall time would. Each
measurement is repeated (`--repeat`, default 3) and the median is quoted.

    .venv/bin/python bench/recording_cost.py --quick
    .venv/bin/python bench/recording_cost.py --json bench/results/recording_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.playback import PlaybackSource, Player, synth_default_moh  # noqa: E402
from media.recording import RecordingIndex, RecordingWriter  # noqa: E402

WALL = 1_763_800_000.0


def frames(n: int = 50) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(160) / 8000
    return [np.rint(6000 * np.sin(2 * np.pi * 700 * (t + 0.02 * k))
                    + rng.normal(0, 300, 160)).astype(np.int16) for k in range(n)]


def recording_run(n: int, seconds: float, fmt: str) -> float:
    """µs per recording per 20 ms tick (both legs) for n concurrent recordings."""
    fr = frames()
    rng = np.random.default_rng(n)
    ticks = round(seconds / 0.02)
    lost = rng.random((ticks, n, 2)) < 0.01
    with tempfile.TemporaryDirectory(prefix="recbench-") as tmp:
        index = RecordingIndex(Path(tmp) / "db.sqlite")
        writers = [RecordingWriter.start(tmp, call_id=f"c{i}", caller=f"{i}", callee="q",
                                         start=0.0, wall_start=WALL, index=index,
                                         fmt=fmt)  # type: ignore[arg-type]
                   for i in range(n)]
        t0 = time.process_time()
        for k in range(ticks):
            now = 0.02 * (k + 1)
            f = fr[k % len(fr)]
            ts = 160 * k
            lk = lost[k]
            for i, w in enumerate(writers):
                if not lk[i, 0]:
                    w.push("caller", f, ts, now)
                if not lk[i, 1]:
                    w.push("callee", f, ts + 12345, now + 0.001)
                w.tick(now)
        elapsed = time.process_time() - t0
        for w in writers:
            w.close(seconds)
        index.close()
    return elapsed / (ticks * n) * 1e6


def playback_run(n: int, seconds: float, loop: bool) -> float:
    """µs per frame for n players stepping in lockstep."""
    src = (PlaybackSource([synth_default_moh()], loop=True) if loop
           else PlaybackSource([frames(500)[0].repeat(1)] * 500))
    ticks = round(seconds / 0.02)
    players = [Player(src, 0.0) for _ in range(n)]
    sent = 0
    t0 = time.process_time()
    for k in range(ticks):
        now = 0.02 * k
        for p in players:
            sent += len(p.handle_timer(now))
    elapsed = time.process_time() - t0
    return elapsed / max(sent, 1) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run, under a minute")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    seconds = 2.0 if a.quick else 10.0
    counts = (1, 100, 500)
    out: dict[str, float] = {}
    print(f"recording: {seconds:g} s of media per run, median of {a.repeat} runs")
    print(f"{'format':7s} {'recordings':>10s} {'us/rec/20ms':>12s} {'us/leg/20ms':>12s}"
          f" {'core share':>10s}")
    for fmt in ("stereo", "mono"):
        for n in counts:
            if fmt == "mono" and n != 500:
                continue
            us = statistics.median(recording_run(n, seconds, fmt) for _ in range(a.repeat))
            share = us * n / 20000 * 100
            print(f"{fmt:7s} {n:10d} {us:12.2f} {us / 2:12.2f} {share:9.1f}%")
            key = "" if fmt == "stereo" else "mono_"
            out[f"recording_{key}us_per_recording_per_20ms_n{n}"] = round(us, 3)
            out[f"recording_{key}us_per_leg_per_20ms_n{n}"] = round(us / 2, 3)
            out[f"recording_{key}core_share_pct_n{n}"] = round(share, 2)
    print("\nplayback: 500 players, one shared source")
    for name, loop in (("prompt", False), ("moh_loop", True)):
        us = statistics.median(playback_run(500, seconds, loop) for _ in range(a.repeat))
        print(f"{name:9s} {us:8.2f} us/frame")
        out[f"playback_{name}_us_per_frame_n500"] = round(us, 3)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
