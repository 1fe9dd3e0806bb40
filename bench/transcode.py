"""Transcoding under load: N concurrent full-duplex G.729 <-> A-law calls on one core.

Each call is a G.729 phone (leg A) and an A-law phone (leg B), 50 packets/s each way,
so N calls are 50·N G.729 decodes + A-law encodes and 50·N A-law decodes + G.729
encodes per second (two 10 ms G.729 frames per packet). The relay process
(`media.aio.RelayBackend` under uvloop, as in the switch) runs pinned to CPU 0 and
transcodes in the packet path (reorder buffer, decoder with concealment, encoder).
The load generator is `bench/rtpgen.c` in payload mode, pinned to CPU 1: it sends
real G.729 and A-law payloads (a speech-like signal encoded once here) and checks
that each packet comes back in the other phone's codec (payload type and size).

A frame is *late* if it was not delivered, or arrived more than 20 ms (one frame
time) after it was sent. N steps up until a step has ≥ 0.1 % late frames (or a
wrong payload, a misrouted packet); steps where another process held the relay's
core (`wait` > 2 %, the machine is shared) are run again, and a clean failure once,
as in bench/rtp_relay.py.
`max_transcoded_calls` is the largest N that passed. The codec work alone (no I/O) is
measured in-process first: its µs per call per 20 ms gives the ceiling one core
could reach if I/O cost nothing.

    .venv/bin/python bench/transcode.py --quick          # < 1 minute
    .venv/bin/python bench/transcode.py --json bench/results/transcode.json
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rtp_relay import compile_generator, ladder_arguments, run_step  # noqa: E402

from media.codecs import registry  # noqa: E402

MAX_LATE = 0.001
DISTURBED = 0.02
CODECS = "G729/18/101,PCMA/8/101"  # both phones negotiated telephone-events


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """A voiced signal with a wandering pitch and formant-ish harmonics, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 8000)) / 8000
    pitch = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / 8000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    signal = 6000 * voiced * envelope + rng.normal(0, 300, len(t))
    return np.clip(signal, -32768, 32767).astype(np.int16)


def payload_files(directory: Path) -> tuple[str, ...]:
    g729 = registry.encoder("G729")
    pcma = registry.encoder("PCMA")
    a_signal, b_signal = speech_like(5.0, 1), speech_like(5.0, 2)
    a_frames = [g729.encode(a_signal[i:i + 160]) for i in range(0, len(a_signal), 160)]
    b_frames = [pcma.encode(b_signal[i:i + 160]) for i in range(0, len(b_signal), 160)]
    assert {len(f) for f in a_frames} == {20} and {len(f) for f in b_frames} == {160}
    (directory / "a.g729").write_bytes(b"".join(a_frames))
    (directory / "b.pcma").write_bytes(b"".join(b_frames))
    return (f"{directory / 'a.g729'}:20", "18", f"{directory / 'b.pcma'}:160", "8")


def codec_cost_us(calls: int = 50, frames: int = 100) -> float:
    """µs of codec work per full-duplex call per 20 ms, in-process, no I/O."""
    from media.transcode import Transcoder

    g729 = registry.encoder("G729")
    pcma = registry.encoder("PCMA")
    a_signal, b_signal = speech_like(frames * 0.02, 3), speech_like(frames * 0.02, 4)
    a_payloads = [g729.encode(a_signal[i:i + 160]) for i in range(0, len(a_signal), 160)]
    b_payloads = [pcma.encode(b_signal[i:i + 160]) for i in range(0, len(b_signal), 160)]
    pairs = [(Transcoder(decode={18: "G729"}, encode="PCMA", out_pt=8),
              Transcoder(decode={8: "PCMA"}, encode="G729", out_pt=18)) for _ in range(calls)]
    start = time.perf_counter()
    for k in range(frames):
        for a_to_b, b_to_a in pairs:
            a_to_b.push(k, 160 * k, 18, False, a_payloads[k], 0.02 * k)
            b_to_a.push(k, 160 * k, 8, False, b_payloads[k], 0.02 * k)
    return (time.perf_counter() - start) / (calls * frames) * 1e6


def judge(step: dict[str, Any]) -> dict[str, Any]:
    sent = max(1, step["sent"])
    lost = max(0, step["sent"] - step["received"])
    step["late_ratio"] = (lost + step["late_20ms"]) / sent
    step["passed"] = (step["late_ratio"] < MAX_LATE and step["wrong_payload"] == 0
                      and step["misrouted"] == 0 and step["bad"] == 0)
    step["disturbed"] = step["waited_ratio"] > DISTURBED
    return step


def show(step: dict[str, Any]) -> None:
    verdict = "pass" if step["passed"] else "FAIL"
    if step["disturbed"]:
        verdict += " (disturbed)"
    print(f"{step['calls']:>6} {step['sent']:>9} {step['late_ratio']:>8.3%}"
          f" {step['p50_us'] / 1000:>7.2f} {step['p99_us'] / 1000:>7.2f}"
          f" {step['cpu_ratio']:>5.0%} {step['waited_ratio']:>5.1%}  {verdict}", flush=True)


def main() -> int:
    parser = ladder_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--relay", choices=("ours", "ours-py"), default="ours",
                        help="ours-py: without the C data plane (datagrams via asyncio)")
    args = parser.parse_args()
    if not registry.transcodable() >= {"G729", "PCMA"}:
        raise SystemExit("G.729 needs libbcg729 (apt-get install libbcg729-0)")

    seconds = args.seconds or (2.0 if args.quick else 8.0)
    start = args.start or (100 if args.quick else 150)
    step_size = args.step or (100 if args.quick else 25)
    max_steps = 3 if args.quick else 16
    retries = 0 if args.quick else 3
    clean_tries = 1 if args.quick else 2
    quiet = 1.0 if args.quick else 15.0
    deadline = time.monotonic() + (40.0 if args.quick else 1200.0)

    costs = [codec_cost_us(calls=20 if args.quick else 50) for _ in range(3)]
    codec_us = statistics.median(costs)
    print(f"codec work alone: {codec_us:.1f} us per call per 20 ms (median of 3) -> "
          f"ceiling {20000 / codec_us:.0f} calls per core if I/O were free")
    print(f"{'calls':>6} {'frames':>9} {'late':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu':>5}"
          f" {'wait':>5}")
    best: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        workdir = Path(tmp)
        binary = compile_generator(workdir)
        payloads = payload_files(workdir)
        calls = start
        for _ in range(max_steps):
            if time.monotonic() > deadline:
                break
            result: dict[str, Any] = {}
            clean_failures = 0
            for _attempt in range(retries + 1):
                result = judge(run_step(binary, args.relay, calls, seconds, workdir, args.ports,
                                        "uvloop", quiet, codecs=CODECS, payloads=payloads))
                show(result)
                # As in bench/rtp_relay.py: a disturbed step is run again, and so is a
                # clean failure, once (near saturation the host's noise decides).
                clean_failures += not result["passed"] and not result["disturbed"]
                if (result["passed"] or clean_failures >= clean_tries
                        or time.monotonic() > deadline):
                    break
            if not result["passed"]:
                if not result["disturbed"]:
                    break
                print(f"{calls} calls inconclusive (always disturbed), going on")
            else:
                best = result
            calls += step_size
    if best is None:
        print("no step passed")
    else:
        print(f"\nmax transcoded calls: {best['calls']} (late {best['late_ratio']:.3%}, "
              f"p99 {best['p99_us'] / 1000:.2f} ms, CPU {best['cpu_ratio']:.0%})")
    if args.json:
        out = {
            "max_transcoded_calls": best["calls"] if best else 0,
            "late_ratio": round(best["late_ratio"], 6) if best else None,
            "p99_ms": round(best["p99_us"] / 1000, 3) if best else None,
            "cpu_ratio": round(best["cpu_ratio"], 3) if best else None,
            "codec_us_per_call_20ms": round(codec_us, 2),
            "codec_ceiling_calls": round(20000 / codec_us),
            "seconds_per_step": seconds,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
