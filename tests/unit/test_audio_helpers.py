"""The tone helpers used by the interop tests to decide whether audio got through."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support.audio import (
    dominant_frequency,
    has_tone,
    read_wav,
    tone_seconds,
    wav_complete,
    write_tone_wav,
)


def write_samples(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())
    return path


def sine(freq: float, seconds: float, rate: int = 8000, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def mulaw_roundtrip(samples: np.ndarray) -> np.ndarray:
    """G.711 µ-law companding as a codec would do it (continuous form, 8-bit steps)."""
    mu = 255.0
    encoded = np.sign(samples) * np.log1p(mu * np.abs(samples)) / np.log1p(mu)
    quantised = np.round(encoded * 127) / 127
    decoded: np.ndarray = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu
    return decoded


def test_write_tone_wav_format(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "sub" / "tone.wav", 440, 1.5)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.getnframes() == 12000
    samples, rate = read_wav(path)
    assert rate == 8000
    assert 0.49 < float(np.abs(samples).max()) <= 0.5


@pytest.mark.parametrize("freq", [300.0, 440.0, 1000.0, 1234.0, 3000.0])
def test_dominant_frequency_of_a_written_tone(tmp_path: Path, freq: float) -> None:
    path = write_tone_wav(tmp_path / "tone.wav", freq, 2.0)
    assert dominant_frequency(path) == pytest.approx(freq, abs=2.0)


def test_other_sample_rate_and_stereo(tmp_path: Path) -> None:
    mono = write_tone_wav(tmp_path / "wide.wav", 700, 1.0, rate=16000)
    assert dominant_frequency(mono) == pytest.approx(700, abs=2.0)
    left = sine(500, 1.0)
    stereo = np.column_stack([left, left]).reshape(-1)
    path = write_samples(tmp_path / "stereo.wav", stereo, channels=2)
    assert dominant_frequency(path) == pytest.approx(500, abs=2.0)


def test_silence_is_ignored(tmp_path: Path) -> None:
    # 1 s of silence, 1.5 s of tone, 1 s of near-silence (-60 dBFS noise)
    rng = np.random.default_rng(7)
    samples = np.concatenate([
        np.zeros(8000), sine(800, 1.5), rng.normal(0, 0.001, 8000),
    ])  # fmt: skip
    path = write_samples(tmp_path / "gaps.wav", samples)
    assert dominant_frequency(path) == pytest.approx(800, abs=2.0)
    assert tone_seconds(path, 800) == pytest.approx(1.5, abs=0.1)
    assert has_tone(path, 800, min_seconds=1.0)
    assert not has_tone(path, 800, min_seconds=2.0)


def test_edges_are_ignored(tmp_path: Path) -> None:
    # a loud 2 kHz click burst in the first and last 150 ms must not win
    samples = np.concatenate([sine(2000, 0.15, amplitude=0.9), sine(600, 1.5, amplitude=0.2),
                              sine(2000, 0.15, amplitude=0.9)])
    path = write_samples(tmp_path / "edges.wav", samples)
    assert dominant_frequency(path) == pytest.approx(600, abs=2.0)


def test_all_silent_file(tmp_path: Path) -> None:
    path = write_samples(tmp_path / "silent.wav", np.zeros(16000))
    assert dominant_frequency(path) == 0.0
    assert not has_tone(path, 440)
    short = write_samples(tmp_path / "short.wav", sine(440, 0.3))  # all of it is "edge"
    assert dominant_frequency(short) == 0.0


def test_tone_survives_g711_and_noise(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    samples = mulaw_roundtrip(sine(1000, 3.0, amplitude=0.3)) + rng.normal(0, 0.02, 24000)
    path = write_samples(tmp_path / "codec.wav", np.clip(samples, -1, 1))
    assert dominant_frequency(path) == pytest.approx(1000, abs=2.0)
    assert has_tone(path, 1000, tolerance_hz=10, min_seconds=2.5)
    assert not has_tone(path, 1100)


def test_tolerance(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "tone.wav", 1030, 2.0)
    assert has_tone(path, 1000, tolerance_hz=40)
    assert not has_tone(path, 1000, tolerance_hz=20)


def test_dropouts_count_against_duration(tmp_path: Path) -> None:
    # 2 s of tone where every other 100 ms is replaced by a different tone
    chunks = [sine(900 if i % 2 else 400, 0.1) for i in range(20)]
    path = write_samples(tmp_path / "mixed.wav", np.concatenate([np.zeros(1600), *chunks,
                                                                 np.zeros(1600)]))
    assert tone_seconds(path, 400) == pytest.approx(1.0, abs=0.21)
    assert tone_seconds(path, 900) == pytest.approx(1.0, abs=0.21)
    assert not has_tone(path, 400, min_seconds=1.5)


def test_dual_tone_file(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "dtmf5.wav", (770, 1336), 1.0)
    assert min(abs(dominant_frequency(path) - f) for f in (770, 1336)) < 3
    assert tone_seconds(path, 770) + tone_seconds(path, 1336) >= 0.5
    samples, _ = read_wav(path)
    assert float(np.abs(samples).max()) <= 0.5


def test_eight_bit_wav(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    samples = np.round(sine(550, 1.0) * 127 + 128).astype(np.uint8)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    assert dominant_frequency(path) == pytest.approx(550, abs=3.0)


def test_wav_complete(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "done.wav", 440, 0.5)
    assert wav_complete(path)
    data = path.read_bytes()
    unfinished = tmp_path / "open.wav"  # sizes not yet written, as while recording
    unfinished.write_bytes(data[:4] + bytes(4) + data[8:40] + bytes(4) + data[44:])
    assert not wav_complete(unfinished)
    growing = tmp_path / "growing.wav"  # header from an earlier flush, more data since
    growing.write_bytes(data + bytes(320))
    assert not wav_complete(growing)
    assert not wav_complete(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all, just some bytes here....")
    assert not wav_complete(tmp_path / "junk.wav")
