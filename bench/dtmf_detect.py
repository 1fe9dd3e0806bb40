"""DTMF detection cost: the batched in-band detector and the RFC 4733 receiver.

In-band: `DtmfDetectorBank` analyses one 20 ms tick (160 samples) of N channels in one
numpy pass; the cost per channel per tick is measured for N = 1, 100 and 1,000 and
turned into channels per core in real time (20 ms / cost per channel, at N = 1,000).
The audio is realistic for a contact centre: every channel carries low noise, speech-
like voiced sounds, and DTMF digits at random times (so the per-channel state machine
runs too); the digits found are checked against those inserted. The single-channel
detector (`InbandDetector`, a bank of one) is timed too, to show what batching buys.

RFC 4733: `TelephoneEventReceiver.receive` per packet, on the packet trains
`schedule_digit` produces (updates every 20 ms, three end packets).

Time is CPU time of this thread (time.thread_time), so other processes on the shared
machine do not inflate it; BLAS is held to one thread. Each figure is the median of
several repeats.

    .venv/bin/python bench/dtmf_detect.py --quick            # < 30 s
    .venv/bin/python bench/dtmf_detect.py --json bench/results/dtmf_detect.json
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy loads BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.dtmf.events import DigitEnded  # noqa: E402
from media.dtmf.inband import DtmfDetectorBank, InbandDetector  # noqa: E402
from media.dtmf.rfc4733 import TelephoneEventReceiver, schedule_digit  # noqa: E402
from media.dtmf.tones import DIGITS, synthesize  # noqa: E402

TICK = 160
RATE = 8000


def channel_audio(seed: int, seconds: float) -> tuple[np.ndarray, int]:
    """Noise, voiced sounds and digits; returns the audio and how many digits it holds."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = rng.normal(0, 40, n)
    t = np.arange(n) / RATE
    f0 = rng.uniform(90, 260)
    voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 25))
    envelope = (np.sin(2 * np.pi * rng.uniform(0.5, 2) * t) > 0.3).astype(float)
    out += 1500 * voiced * envelope
    digits = 0
    pos = int(rng.integers(0, RATE))
    while pos + 1600 < n:
        tone = synthesize(DIGITS[int(rng.integers(0, 16))], float(rng.integers(60, 150)),
                          level_dbm0=float(rng.uniform(-20, -5)))
        out[pos:pos + len(tone)] = tone + rng.normal(0, 40, len(tone))
        digits += 1
        pos += len(tone) + int(rng.integers(RATE // 2, 2 * RATE))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16), digits


def audio_pool(channels: int, seconds: float) -> tuple[np.ndarray, int]:
    pool = 64
    clips = [channel_audio(s, seconds) for s in range(min(pool, channels))]
    rows = [clips[i % len(clips)][0] for i in range(channels)]
    inserted = sum(clips[i % len(clips)][1] for i in range(channels))
    return np.stack(rows), inserted


def bench_bank(channels: int, seconds: float, repeats: int) -> tuple[float, int, int]:
    """Median CPU µs per tick for `channels`, digits found, digits inserted."""
    audio, inserted = audio_pool(channels, seconds)
    ticks = audio.shape[1] // TICK
    runs = []
    found = 0
    for _ in range(repeats):
        bank = DtmfDetectorBank(channels)
        slots = [bank.open() for _ in range(channels)]
        bank.process(np.zeros((channels, TICK), np.int16), 0.0, slots)  # warm-up
        found = 0
        t0 = time.thread_time()
        for k in range(ticks):
            events = bank.process(audio[:, k * TICK:(k + 1) * TICK], (k + 1) * 0.02, slots)
            found += sum(isinstance(e, DigitEnded) for _, e in events)
        runs.append((time.thread_time() - t0) / ticks * 1e6)
    return statistics.median(runs), found, inserted


def bench_single(seconds: float, repeats: int) -> float:
    audio, _ = channel_audio(1, seconds)
    ticks = len(audio) // TICK
    runs = []
    for _ in range(repeats):
        det = InbandDetector()
        det.feed(np.zeros(TICK, np.int16), 0.0)
        t0 = time.thread_time()
        for k in range(ticks):
            det.feed(audio[k * TICK:(k + 1) * TICK], (k + 1) * 0.02)
        runs.append((time.thread_time() - t0) / ticks * 1e6)
    return statistics.median(runs)


def bench_rfc4733(digits: int, repeats: int) -> tuple[float, int]:
    packets = []
    start = 0.0
    ts = 0
    for i in range(digits):
        for p in schedule_digit(DIGITS[i % 16], 100, start=start):
            packets.append((p.payload, ts, p.marker, p.send_at))
        start += 0.3
        ts += 2400
    runs = []
    ends = 0
    for _ in range(repeats):
        rx = TelephoneEventReceiver()
        ends = 0
        t0 = time.thread_time()
        for seq, (payload, stamp, marker, at) in enumerate(packets):
            for ev in rx.receive(payload, stamp, seq, marker, at):
                ends += type(ev) is DigitEnded
        runs.append((time.thread_time() - t0) / len(packets) * 1e6)
    return statistics.median(runs), ends


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run (< 30 s)")
    ap.add_argument("--json", type=Path, help="write the figures as flat JSON here")
    args = ap.parse_args()
    seconds = 4.0 if args.quick else 12.0
    repeats = 3 if args.quick else 5
    sizes = (1, 100, 1000)

    results: dict[str, float | int] = {}
    print(f"{'channels':>8} {'us/tick':>10} {'us/ch/tick':>11} {'digits found/inserted':>22}")
    for c in sizes:
        per_tick, found, inserted = bench_bank(c, seconds, repeats)
        per_ch = per_tick / c
        results[f"inband_us_per_channel_tick_{c}"] = round(per_ch, 2)
        results[f"inband_digits_found_{c}"] = found
        results[f"inband_digits_inserted_{c}"] = inserted
        print(f"{c:>8} {per_tick:>10.1f} {per_ch:>11.2f} {found:>11}/{inserted}")
    per_ch = float(results["inband_us_per_channel_tick_1000"])
    results["inband_channels_per_core"] = int(20_000 / per_ch)
    single = bench_single(seconds, repeats)
    results["inband_single_channel_us_per_tick"] = round(single, 1)
    print(f"in-band, batched at 1,000: {per_ch:.2f} us per channel per 20 ms tick -> "
          f"{results['inband_channels_per_core']} channels per core in real time")
    print(f"in-band, one channel alone (InbandDetector): {single:.1f} us per tick")
    rx_us, ends = bench_rfc4733(200 if args.quick else 2000, repeats)
    results["rfc4733_rx_us_per_packet"] = round(rx_us, 2)
    print(f"RFC 4733 receive: {rx_us:.2f} us per packet ({ends} digits ended)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
