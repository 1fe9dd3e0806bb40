"""Prompt loading: any WAV / MP3 -> 8 kHz mono int16, tone frequency kept, clear errors."""

from __future__ import annotations

import shutil
import struct
import subprocess
import wave
from pathlib import Path

import lameenc
import numpy as np
import pytest

from media.playback import (
    PromptCorrupt,
    PromptLibrary,
    PromptNotFound,
    PromptTooLarge,
    PromptUnsupported,
    load_prompt_file,
    silence,
)
from media.playback.errors import PromptError
from switch.control import FilePrompt, SilencePrompt


def tone(rate: int, seconds: float, freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.sin(2 * np.pi * freq * t) * amp * 32767


def write_wav(path: Path, x: np.ndarray, rate: int, width: int = 2) -> Path:
    """x: (n,) or (n, ch) float in int16 scale."""
    x2 = x if x.ndim == 2 else x[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x2.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            data = (np.clip(x2 / 256 + 128, 0, 255)).astype(np.uint8).tobytes()
        elif width == 2:
            data = np.rint(x2).astype("<i2").tobytes()
        elif width == 3:
            v = np.rint(x2 * 256).astype("<i4").reshape(-1)
            data = b"".join(struct.pack("<i", int(s))[:3] for s in v)
        else:
            data = np.rint(x2 * 65536).astype("<i4").tobytes()
        w.writeframes(data)
    return path


def peak_hz(pcm: np.ndarray, rate: int = 8000) -> float:
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    spec = np.abs(np.fft.rfft(x))
    return float(np.argmax(spec) * rate / len(pcm))


def check_tone(pcm: np.ndarray, seconds: float, level: float = 0.5) -> None:
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert abs(len(pcm) - seconds * 8000) <= 2
    assert abs(peak_hz(pcm) - 1000.0) < 5.0
    rms = np.sqrt(np.mean(pcm[400:-400].astype(np.float64) ** 2)) / 32767
    assert abs(rms - level / np.sqrt(2)) < 0.02


def test_wav_44k1_stereo(tmp_path: Path) -> None:
    x = tone(44100, 1.0)
    p = write_wav(tmp_path / "a.wav", np.stack([x, x], axis=1), 44100)
    check_tone(load_prompt_file(p), 1.0)


def test_wav_16k_mono(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "b.wav", tone(16000, 1.5), 16000)
    check_tone(load_prompt_file(p), 1.5)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_wav_other_widths(tmp_path: Path, width: int) -> None:
    p = write_wav(tmp_path / "c.wav", tone(22050, 0.5), 22050, width)
    pcm = load_prompt_file(p)
    assert abs(len(pcm) - 4000) <= 2 and abs(peak_hz(pcm) - 1000) < 5


def test_float_wav_via_miniaudio(tmp_path: Path) -> None:
    x = (tone(48000, 0.5) / 32767).astype("<f4")
    fmt = struct.pack("<HHIIHH", 3, 1, 48000, 48000 * 4, 4, 32)
    data = x.tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data
    p = tmp_path / "f.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    pcm = load_prompt_file(p)
    assert abs(len(pcm) - 4000) <= 2 and abs(peak_hz(pcm) - 1000) < 5


def make_mp3(rate: int, seconds: float, channels: int = 1, kbps: int = 64) -> bytes:
    x = np.rint(tone(rate, seconds)).astype("<i2")
    if channels == 2:
        x = np.stack([x, x], axis=1)
    enc = lameenc.Encoder()
    enc.set_in_sample_rate(rate)
    enc.set_channels(channels)
    enc.set_bit_rate(kbps)
    enc.set_quality(2)
    return bytes(enc.encode(x.tobytes()) + enc.flush())


def test_mp3(tmp_path: Path) -> None:
    p = tmp_path / "m.mp3"
    p.write_bytes(make_mp3(44100, 2.0, channels=2))
    pcm = load_prompt_file(p)
    # MP3 encoder delay/padding adds a few tens of ms
    assert 2.0 * 8000 - 10 <= len(pcm) <= 2.0 * 8000 + 0.1 * 8000
    assert abs(peak_hz(pcm) - 1000) < 5


def test_mp3_over_2mb_refused(tmp_path: Path) -> None:
    p = tmp_path / "big.mp3"
    data = make_mp3(8000, 1.0, kbps=32)
    p.write_bytes(data * (2 * 1024 * 1024 // len(data) + 1))
    assert p.stat().st_size > 2 * 1024 * 1024
    with pytest.raises(PromptTooLarge, match="2097152"):
        load_prompt_file(p)


def test_missing_corrupt_unsupported(tmp_path: Path) -> None:
    with pytest.raises(PromptNotFound):
        load_prompt_file(tmp_path / "nope.wav")
    with pytest.raises(PromptNotFound):
        load_prompt_file(tmp_path)  # a directory
    (tmp_path / "t.txt").write_text("hello, not audio")
    with pytest.raises(PromptUnsupported):
        load_prompt_file(tmp_path / "t.txt")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(PromptCorrupt):
        load_prompt_file(tmp_path / "bad.wav")
    (tmp_path / "bad.mp3").write_bytes(b"ID3" + bytes(500))
    with pytest.raises(PromptCorrupt):
        load_prompt_file(tmp_path / "bad.mp3")
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0), 8000)
    with pytest.raises(PromptCorrupt):
        load_prompt_file(empty)


def test_library_caches_and_reloads_changed_file(tmp_path: Path) -> None:
    p = write_wav(tmp_path / "g.wav", tone(8000, 0.5), 8000)
    lib = PromptLibrary()
    assert lib.cached(FilePrompt(path=str(p))) is None
    a = lib.get(FilePrompt(path=str(p)))
    b = lib.get(FilePrompt(path=str(p)))
    assert a is b and lib.misses == 1 and lib.hits == 1
    assert not a.flags.writeable
    write_wav(p, tone(8000, 1.0), 8000)  # replaced: size differs -> reloaded
    assert len(lib.get(FilePrompt(path=str(p)))) == 8000 and lib.misses == 2
    assert len(lib.get(SilencePrompt(seconds=0.25))) == 2000
    with pytest.raises(PromptError):
        silence(-1)
    with pytest.raises(PromptNotFound):
        lib.get(FilePrompt(path=str(tmp_path / "missing.wav")))


def test_library_lru_bound(tmp_path: Path) -> None:
    lib = PromptLibrary(max_cached_samples=10000)
    paths = [write_wav(tmp_path / f"{i}.wav", tone(8000, 0.5), 8000) for i in range(3)]
    for p in paths:
        lib.get(FilePrompt(path=str(p)))
    assert lib.cached(FilePrompt(path=str(paths[0]))) is None  # evicted (4000 × 3 > 10000)
    assert lib.cached(FilePrompt(path=str(paths[2]))) is not None


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
@pytest.mark.parametrize("name,args", [
    ("ext.wav", ["-r", "44100", "-c", "3", "-b", "24"]),  # WAVE_FORMAT_EXTENSIBLE
    ("tone.flac", ["-r", "48000", "-c", "1"]),
])
def test_sox_made_files(tmp_path: Path, name: str, args: list[str]) -> None:
    out = tmp_path / name
    subprocess.run(["sox", "-n", *args, str(out), "synth", "1", "sine", "1000", "vol", "0.5"],
                   check=True, timeout=30)
    check_tone(load_prompt_file(out), 1.0, level=0.5)
