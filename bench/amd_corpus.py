"""Labelled corpus for answering-machine detection, synthesised with espeak-ng.

Each sample is what the *detector* hears from the callee after the answer: 8 kHz
mono int16, telephone band-limited, with background noise and a G.711 (µ-law or
A-law) round trip. Kinds and their expected results:

* ``human``    (→ HUMAN): a short greeting ("Halo?", "Słucham", "Tak, słucham?",
  "Hello?", "Dzień dobry, Kowalski"…) after 0.2–1.2 s of line silence, then the
  silence of someone waiting for an answer; some say it again after a pause
  ("Halo? … Halo, jest tam ktoś?"), some have another voice or a TV talking over
  in the background, 15–28 dB below the person.
* ``machine``  (→ MACHINE): voicemail greetings of 1.5–12 s (personal, carrier,
  business) ending with a beep when the greeting promises one ("po sygnale", "after
  the tone") and 60 % of the others; operator announcements ("Wybrany numer jest
  nieosiągalny…") followed by the English version or a repeat, half of them
  preceded by SIT tones.
* ``silence``  (→ MACHINE, Asterisk's INITIALSILENCE convention): a line that
  answers and says nothing, background noise only.
* ``fax``      (→ MACHINE, cause FAX-*): CED 2100 Hz (with or without phase
  reversals) then V.21 flags, or CNG 1100 Hz bursts.

Generation is deterministic for a given ``--seed`` and ``--count``: every random
draw comes from a per-sample ``numpy.random.Generator`` seeded with (seed, index),
and espeak-ng is deterministic for the same arguments. Voices are espeak-ng's
Polish and English voices with variants (``pl+f3``, ``en-gb+m4``…), rates 130–200
words/min, pitches 25–75. Samples are split by index: even → ``train`` (used to
tune thresholds), odd → ``test`` (held out, only measured).

The corpus is cached under ``bench/results/amd_corpus/`` as ``corpus.npz`` (one
concatenated int16 array and offsets) and ``manifest.json`` (labels, text, voice,
noise, codec, beep/fax times); it is rebuilt only when the seed, count or
generator version change. Synthesis runs in a process pool; the whole corpus of
480 samples takes well under a minute on two cores.

Run::

    .venv/bin/python bench/amd_corpus.py [--count 480] [--seed 7] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import signal  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode  # noqa: E402

RATE = 8000
GENERATOR_VERSION = 4
DEFAULT_DIR = ROOT / "bench" / "results" / "amd_corpus"
DEFAULT_COUNT = 480
DEFAULT_SEED = 7
ESPEAK_TIMEOUT_S = 20.0

Pcm = npt.NDArray[np.int16]
F64 = npt.NDArray[np.float64]

PL_VOICES = ["pl", "pl+f1", "pl+f2", "pl+f3", "pl+f4", "pl+m1", "pl+m3", "pl+m4", "pl+m7"]
EN_VOICES = ["en-gb+m4", "en-gb+f3", "en-us", "en-us+f2", "en-gb-scotland+m1", "en+f4"]

HUMAN_PL = [
    "Halo?", "Słucham", "Tak, słucham?", "Halo, słucham", "Tak?", "Słucham, Nowak",
    "Dzień dobry, Kowalski", "Dzień dobry", "No halo?", "Tak, halo?", "Halo, kto mówi?",
    "Słucham pana", "Tak, Wiśniewska, słucham", "Halo, dzień dobry",
]
HUMAN_EN = [
    "Hello?", "Hello", "Yes?", "Hi, this is John", "Hello, Smith speaking", "Yeah, hello?",
    "Good morning", "Hello, who is this?", "Speaking",
]
HUMAN_AGAIN_PL = ["Halo?", "Halo, jest tam ktoś?", "Halo, słychać mnie?", "Słucham?"]
HUMAN_AGAIN_EN = ["Hello?", "Hello, anyone there?", "Can you hear me?"]
VOICEMAIL_PL = [
    "Cześć, tu Ania. Nie mogę teraz odebrać, zostaw wiadomość.",
    "Dzień dobry, dodzwoniłeś się do Jana Kowalskiego. Proszę zostawić wiadomość po sygnale.",
    "Tu Marek, oddzwonię.",
    "Nie mogę teraz rozmawiać. Nagraj się po sygnale, oddzwonię najszybciej jak to możliwe.",
    "Abonent jest chwilowo niedostępny. Prosimy zostawić wiadomość po sygnale.",
    "Witamy w poczcie głosowej. Abonent nie może teraz odebrać połączenia. "
    "Po usłyszeniu sygnału nagraj wiadomość.",
    "Dzień dobry, firma Budex, biuro jest czynne od poniedziałku do piątku w godzinach "
    "od ósmej do szesnastej. Prosimy zadzwonić później.",
    "Kowalski. Zostaw wiadomość.",
    "Hej, tu Kasia. Teraz mnie nie ma, ale zostaw wiadomość, a na pewno oddzwonię.",
    "Poczta głosowa numeru sześćset dwa, trzysta czterdzieści, pięćset jeden.",
]
VOICEMAIL_EN = [
    "Hi, you've reached Sarah. I can't take your call right now, please leave a message.",
    "Hello, this is Tom. Leave a message after the tone.",
    "The person you are calling is not available. Please leave a message after the tone.",
    "Thank you for calling Acme Limited. Our office is closed. "
    "Please call again during business hours.",
    "Smith. Leave a message.",
    "You have reached the voicemail of extension two four one. Please leave your name "
    "and number and I will get back to you.",
]
OPERATOR_PL = [
    "Wybrany numer jest nieosiągalny. Prosimy spróbować później.",
    "Numer nieosiągalny.",
    "Abonent ma wyłączony telefon lub jest poza zasięgiem sieci.",
    "Nie ma takiego numeru. Sprawdź numer i zadzwoń ponownie.",
    "Połączenie nie może być zrealizowane. Prosimy spróbować później.",
]
OPERATOR_EN = [
    "The number you have dialled is not available. Please try again later.",
    "The number you have called has not been recognised.",
    "Sorry, the person you are calling is unavailable.",
]
BABBLE = [
    "A potem pojechaliśmy nad morze i było bardzo zimno przez cały tydzień.",
    "And in other news today the weather will be cloudy with a chance of rain.",
    "Mamo, gdzie jest pilot do telewizora, bo nie mogę znaleźć.",
]


_BAND = signal.butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")


@dataclass(slots=True, kw_only=True)
class SampleMeta:
    """One corpus entry's label and how it was made (written to the manifest)."""

    index: int
    split: str
    kind: str  # human | machine | silence | fax
    expected: str  # HUMAN | MACHINE
    subkind: str
    text: str = ""
    voice: str = ""
    rate_wpm: int = 0
    pitch: int = 0
    lead_s: float = 0.0
    speech_end_s: float = 0.0  # end of the last speech or tone the sample holds
    beep_start_s: float | None = None
    beep_end_s: float | None = None
    beep_hz: float | None = None
    fax_tone: str | None = None
    noise: str = ""
    snr_db: float = 0.0
    level_dbfs: float = 0.0
    codec: str = ""
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def espeak(text: str, voice: str, rate: int, pitch: int, gap: int = 0) -> F64:
    """Synthesise `text` with espeak-ng and return it at 8 kHz as float in [-1, 1]."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    args = [exe, "-v", voice, "-s", str(rate), "-p", str(pitch), "-g", str(gap), "--stdout", text]
    out = subprocess.run(args, capture_output=True, timeout=ESPEAK_TIMEOUT_S, check=True).stdout
    if out[:4] != b"RIFF" or len(out) < 44:
        raise RuntimeError(f"espeak-ng gave no WAV for {voice!r}: {out[:40]!r}")
    in_rate = int.from_bytes(out[24:28], "little")
    start = out.find(b"data") + 8  # espeak's streamed header has a fake data length
    pcm = np.frombuffer(out[start : start + (len(out) - start) // 2 * 2], "<i2")
    x = pcm.astype(np.float64) / 32768.0
    g = np.gcd(RATE, in_rate)
    y: F64 = trim(signal.resample_poly(x, RATE // g, in_rate // g))
    return y / max(_speech_level(signal.sosfilt(_BAND, y)), 1e-9)  # unit in-band level


def trim(x: F64, rel_db: float = -40.0) -> F64:
    """Cut leading/trailing synthesiser silence (below `rel_db` of the peak)."""
    if x.size == 0:
        return x
    idx = np.flatnonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (rel_db / 20))
    return x[idx[0] : idx[-1] + 1] if idx.size else x[:0]


def tone(freq: float, dur_s: float, amp: float, rng: np.random.Generator) -> F64:
    n = int(round(dur_s * RATE))
    t = np.arange(n) / RATE
    y = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    ramp = min(40, n // 2)  # 5 ms raised-cosine edges, like real tone generators
    if ramp:
        w = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
        y[:ramp] *= w
        y[-ramp:] *= w[::-1]
    return y


def ced(dur_s: float, amp: float, reversals: bool, rng: np.random.Generator) -> F64:
    """2100 Hz answer tone; V.25 ANSam-like phase reversals every 450 ms if asked."""
    n = int(round(dur_s * RATE))
    t = np.arange(n) / RATE
    phase = np.where((t // 0.45).astype(int) % 2 == 1, np.pi, 0.0) if reversals else 0.0
    return amp * np.sin(2 * np.pi * 2100 * t + phase + rng.uniform(0, 2 * np.pi))


def v21_flags(dur_s: float, amp: float) -> F64:
    """V.21 channel 2 FSK (1650/1850 Hz, 300 bd) carrying HDLC flags 0x7E."""
    n = int(round(dur_s * RATE))
    bits = np.tile(np.array([0, 1, 1, 1, 1, 1, 1, 0]), n // 200 + 8)
    per_bit = RATE / 300
    b = bits[(np.arange(n) / per_bit).astype(int)]
    f = np.where(b == 1, 1650.0, 1850.0)
    return amp * np.sin(2 * np.pi * np.cumsum(f) / RATE)


def noise(kind: str, n: int, rng: np.random.Generator) -> F64:
    """Unit-RMS background noise of the given colour."""
    w = rng.standard_normal(n + 512)
    if kind == "pink":  # Kellet/Voss-free approximation: 1/f via a 1st-order IIR
        y = signal.lfilter([0.049922, -0.095993, 0.050612, -0.004408],
                           [1, -2.494956, 2.017265, -0.522189], w)
    elif kind == "brown":
        y = signal.lfilter([1.0], [1.0, -0.98], w)
    elif kind == "hum":
        t = np.arange(n + 512) / RATE
        y = 0.3 * w + np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t)
    else:
        y = w
    y = y[512:]
    out: F64 = y / max(float(np.sqrt(np.mean(y**2))), 1e-12)
    return out




def rms(x: F64) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def _speech_level(x: F64) -> float:
    """RMS over the active part only (frames above -35 dB of the peak frame)."""
    frames = x[: x.size // 160 * 160].reshape(-1, 160)
    if frames.size == 0:
        return rms(x)
    e = np.sqrt(np.mean(frames**2, axis=1))
    act = frames[e > e.max() * 10 ** (-35 / 20)]
    return rms(act.ravel())


def _voice(rng: np.random.Generator, lang: str) -> str:
    return str(rng.choice(PL_VOICES if lang == "pl" else EN_VOICES))


def _say(text: str, voice: str, rng: np.random.Generator, meta: SampleMeta) -> F64:
    rate = int(rng.integers(130, 201))
    pitch = int(rng.integers(25, 76))
    meta.rate_wpm, meta.pitch, meta.voice = rate, pitch, voice
    return espeak(text, voice, rate, pitch, gap=int(rng.integers(0, 3)))


def make_sample(seed: int, index: int) -> tuple[SampleMeta, Pcm]:
    """Build corpus sample `index` (deterministic in (seed, index))."""
    rng = np.random.default_rng([seed, index])
    u = (index * 0.6180339887 + seed * 0.1) % 1.0  # low-discrepancy kind mix
    if u < 0.48:
        kind = "human"
    elif u < 0.86:
        kind = "machine"
    elif u < 0.93:
        kind = "fax"
    else:
        kind = "silence"
    meta = SampleMeta(index=index, split="train" if index % 2 == 0 else "test", kind=kind,
                      expected="HUMAN" if kind == "human" else "MACHINE", subkind=kind)
    lang = "pl" if rng.random() < 0.65 else "en"
    parts: list[tuple[float, F64]] = []  # (start_s, signal at unit speech level)
    lead = float(rng.uniform(0.2, 1.2))
    meta.lead_s = lead
    total = 6.0
    if kind == "human":
        text = str(rng.choice(HUMAN_PL if lang == "pl" else HUMAN_EN))
        voice = _voice(rng, lang)
        meta.text = text
        s = _say(text, voice, rng, meta)
        parts.append((lead, s))
        end = lead + s.size / RATE
        r = rng.random()
        if r < 0.3:  # nothing comes back: they ask again after a pause
            meta.subkind = "human-again"
            again = str(rng.choice(HUMAN_AGAIN_PL if lang == "pl" else HUMAN_AGAIN_EN))
            s2 = espeak(again, voice, meta.rate_wpm, meta.pitch)
            start2 = end + float(rng.uniform(1.0, 2.5))
            parts.append((start2, s2))
            meta.text += " / " + again
            end = start2 + s2.size / RATE
        elif r < 0.45:  # someone else talks in the room / a TV, 12-20 dB lower
            meta.subkind = "human-background-talk"
            b = espeak(str(rng.choice(BABBLE)), _voice(rng, "pl"), 170, 50)
            b = b * 10 ** (-float(rng.uniform(15, 28)) / 20)
            parts.append((float(rng.uniform(0.0, 1.5)), b * -1.0))
        meta.speech_end_s = end
        total = max(total, end + 1.0)
    elif kind == "machine":
        r = rng.random()
        if r < 0.75:
            meta.subkind = "voicemail"
            text = str(rng.choice(VOICEMAIL_PL if lang == "pl" else VOICEMAIL_EN))
        else:
            meta.subkind = "operator"
            text = str(rng.choice(OPERATOR_PL if lang == "pl" else OPERATOR_EN))
        meta.text = text
        lead = float(rng.uniform(0.1, 1.5))
        meta.lead_s = lead
        t = lead
        if meta.subkind == "operator" and rng.random() < 0.5:  # SIT: 913.8/1370.6/1776.7 Hz
            meta.extra["sit"] = True
            for f, d in ((913.8, 0.274), (1370.6, 0.274), (1776.7, 0.380)):
                parts.append((t, tone(f, d, 0.7, rng)))
                t += d
            t += 0.1
        s = _say(text, _voice(rng, lang), rng, meta)
        parts.append((t, s))
        t += s.size / RATE
        if meta.subkind == "operator":  # networks say it again, or in English next
            t += float(rng.uniform(0.3, 0.7))
            again = str(rng.choice(OPERATOR_EN)) if lang == "pl" else text
            s2 = espeak(again, _voice(rng, "en"), meta.rate_wpm, meta.pitch)
            parts.append((t, s2))
            meta.text += " / " + again
            t += s2.size / RATE
        meta.speech_end_s = t
        promises_beep = any(w in text for w in ("sygna", "tone"))
        if meta.subkind == "voicemail" and (promises_beep or rng.random() < 0.6):
            t += float(rng.uniform(0.2, 0.8))
            f = float(rng.choice([425.0, 440.0, 800.0, 1000.0, 1000.0, 1400.0, 1800.0]))
            d = float(rng.uniform(0.15, 0.6))
            parts.append((t, tone(f, d, float(rng.uniform(0.4, 1.0)), rng)))
            meta.beep_start_s, meta.beep_end_s, meta.beep_hz = t, t + d, f
            t += d
        total = min(max(total, t + 1.5), 14.0)
    elif kind == "fax":
        meta.lead_s = lead = float(rng.uniform(0.1, 1.0))
        if rng.random() < 0.6:
            meta.fax_tone = meta.subkind = "CED"
            d = float(rng.uniform(2.6, 4.0))
            parts.append((lead, ced(d, 0.6, bool(rng.random() < 0.5), rng)))
            parts.append((lead + d + 0.075, v21_flags(1.5, 0.6)))
        else:
            meta.fax_tone = meta.subkind = "CNG"
            for k in range(3):
                parts.append((lead + 3.5 * k, tone(1100.0, 0.5, 0.6, rng)))
        total = 6.0
    # Mix: telephone band first (so levels and SNR are measured in band), speech to a
    # random level, noise at a random SNR, then G.711.
    parts = [(start, signal.sosfilt(_BAND, sig)) for start, sig in parts]
    n = int(round(total * RATE))
    x = np.zeros(n)
    for start, sig in parts:
        i = int(round(start * RATE))
        if i < n:
            seg = sig[: n - i]
            x[i : i + seg.size] += seg
    # Speech parts have unit in-band level already; tones are set relative to it.
    level = float(rng.uniform(-30.0, -15.0))
    x *= 10 ** (level / 20)
    meta.level_dbfs = level
    meta.noise = str(rng.choice(["white", "pink", "brown", "hum", "pink"]))
    meta.snr_db = float(rng.uniform(15.0, 40.0))
    noise_dbfs = level - meta.snr_db if kind != "silence" else float(rng.uniform(-65, -40))
    nz = signal.sosfilt(_BAND, noise(meta.noise, n, rng))
    x += nz / max(rms(nz), 1e-12) * 10 ** (noise_dbfs / 20)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    if rng.random() < 0.5:
        meta.codec = "PCMU"
        pcm = ulaw_decode(ulaw_encode(pcm))
    else:
        meta.codec = "PCMA"
        pcm = alaw_decode(alaw_encode(pcm))
    meta.duration_s = n / RATE
    return meta, pcm


def _job(args: tuple[int, int]) -> tuple[SampleMeta, Pcm]:
    return make_sample(*args)


@dataclass(slots=True, kw_only=True)
class Corpus:
    samples: list[SampleMeta]
    audio: list[Pcm]

    def split(self, name: str) -> tuple[list[SampleMeta], list[Pcm]]:
        keep = [i for i, m in enumerate(self.samples) if m.split == name or name == "all"]
        return [self.samples[i] for i in keep], [self.audio[i] for i in keep]


def _key(seed: int, count: int) -> str:
    src = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"v{GENERATOR_VERSION}-seed{seed}-n{count}-{src}"


def build(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, out_dir: Path = DEFAULT_DIR,
          force: bool = False, workers: int = 2, quiet: bool = False) -> Corpus:
    """Load the cached corpus for (seed, count) or generate and cache it."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    manifest_path = out_dir / "manifest.json"
    data_path = out_dir / "corpus.npz"
    key = _key(seed, count)
    if not force and manifest_path.exists() and data_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") == key:
            with np.load(data_path) as z:
                flat, offsets = z["audio"], z["offsets"]
            audio = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            metas = [SampleMeta(**m) for m in manifest["samples"]]
            return Corpus(samples=metas, audio=audio)
    t0 = time.perf_counter()
    jobs = [(seed, i) for i in range(count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_job, jobs, chunksize=8))
    metas = [m for m, _ in results]
    audio = [a for _, a in results]
    out_dir.mkdir(parents=True, exist_ok=True)
    offsets = np.concatenate([[0], np.cumsum([a.size for a in audio])]).astype(np.int64)
    np.savez_compressed(data_path, audio=np.concatenate(audio), offsets=offsets)
    manifest_path.write_text(json.dumps(
        {"key": key, "seed": seed, "count": count, "rate_hz": RATE,
         "samples": [asdict(m) for m in metas]}, indent=1, ensure_ascii=False))
    if not quiet:
        print(f"generated {count} samples in {time.perf_counter() - t0:.1f} s -> {out_dir}")
    return Corpus(samples=metas, audio=audio)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    corpus = build(a.count, a.seed, a.out, a.force, a.workers)
    from collections import Counter

    c = Counter((m.split, m.subkind) for m in corpus.samples)
    for (split, sub), k in sorted(c.items()):
        print(f"{split:6s} {sub:24s} {k:4d}")
    print(f"total {len(corpus.samples)} samples, "
          f"{sum(a.size for a in corpus.audio) / RATE / 60:.1f} min of audio")


if __name__ == "__main__":
    main()
