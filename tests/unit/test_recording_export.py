"""Export: MP3 (stereo and mono, 8 kHz) decodable by miniaudio; ZIP of WAV or MP3."""

from __future__ import annotations

import zipfile
from pathlib import Path

import miniaudio
import numpy as np
import pytest

from media.recording import RecordingError, RecordingWriter, export_mp3, export_zip


def peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def make_recording(tmp_path: Path, rid: str, seconds: float = 2.0) -> str:
    w = RecordingWriter.start(tmp_path, call_id=rid, caller="a", callee="b", start=0.0,
                              wall_start=1_763_800_000.0, recording_id=rid)
    t = np.arange(160) / 8000
    for k in range(round(seconds / 0.02)):
        now = 0.02 * (k + 1)
        w.push("caller", np.rint(8000 * np.sin(2 * np.pi * 1000 * (t + 0.02 * k))).astype(
            np.int16), 160 * k, now)
        w.push("callee", np.rint(8000 * np.sin(2 * np.pi * 440 * (t + 0.02 * k))).astype(
            np.int16), 160 * k, now)
        w.tick(now)
    return w.close(seconds).path


def decode(data: bytes) -> tuple[np.ndarray, int]:
    d = miniaudio.mp3_read_s16(data)
    return np.frombuffer(d.samples, np.int16).reshape(-1, d.nchannels), d.sample_rate


def test_mp3_stereo_keeps_channels(tmp_path: Path) -> None:
    wav = make_recording(tmp_path, "s1")
    mp3 = export_mp3(wav, tmp_path / "out" / "s1.mp3")
    pcm, rate = decode(mp3.read_bytes())
    assert rate == 8000 and pcm.shape[1] == 2
    assert 2.0 <= len(pcm) / rate <= 2.3  # encoder delay/padding
    mid = pcm[2000:14000]
    assert abs(peak_hz(mid[:, 0], rate) - 1000) < 5 and abs(peak_hz(mid[:, 1], rate) - 440) < 5
    assert not list((tmp_path / "out").glob(".tmp-*"))


def test_mp3_mono(tmp_path: Path) -> None:
    wav = make_recording(tmp_path, "m1")
    pcm, rate = decode(export_mp3(wav, tmp_path / "m1.mp3", mono=True).read_bytes())
    assert pcm.shape[1] == 1
    spec = np.abs(np.fft.rfft(pcm[2000:14000, 0].astype(float)))
    f = np.fft.rfftfreq(12000, 1 / rate)
    assert spec[np.argmin(abs(f - 1000))] > 0.3 * spec.max()
    assert spec[np.argmin(abs(f - 440))] > 0.3 * spec.max()


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_zip(tmp_path: Path, fmt: str) -> None:
    wavs = [make_recording(tmp_path, f"z{i}", 1.0) for i in range(3)]
    z = export_zip([*wavs, wavs[0]], tmp_path / "all.zip", fmt=fmt)  # type: ignore[arg-type]
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        assert names == [f"z0.{fmt}", f"z1.{fmt}", f"z2.{fmt}", f"z0-1.{fmt}"]
        for name in names:
            data = zf.read(name)
            if fmt == "wav":
                assert data == Path(wavs[int(name[1])]).read_bytes()
            else:
                pcm, rate = decode(data)
                assert pcm.shape[1] == 2 and abs(peak_hz(pcm[1000:7000, 0], rate) - 1000) < 5


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such"):
        export_mp3(tmp_path / "missing.wav", tmp_path / "x.mp3")
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    with pytest.raises(RecordingError, match="not a readable"):
        export_mp3(tmp_path / "bad.wav", tmp_path / "x.mp3")
    with pytest.raises(RecordingError, match="no such"):
        export_zip([tmp_path / "missing.wav"], tmp_path / "x.zip")
    with pytest.raises(RecordingError, match="no such"):
        export_zip([tmp_path / "missing.wav"], tmp_path / "x.zip", fmt="mp3")
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.mp3").exists()
    assert not list(tmp_path.glob(".tmp-*"))
