"""Recording writer: legs on their channels, gaps, mono mix, index row, kill -9 + repair."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from media.recording import (
    RecordingError,
    RecordingIndex,
    RecordingWriter,
    mix_to_mono,
    repair_recordings,
    repair_wav,
)

WALL = 1_763_800_000.0  # 2025-11-22


def tone(freq: float, k: int, amp: float = 8000.0) -> np.ndarray:
    t = (np.arange(160) + 160 * k) / 8000
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x))))
    return float(np.argmax(spec) * 8000 / len(x))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        ch = w.getnchannels()
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return data.reshape(-1, ch), ch


def record_call(writer: RecordingWriter, seconds: float, start: float = 0.0,
                skip: set[int] = frozenset()) -> None:
    for k in range(round(seconds / 0.02)):
        now = start + 0.02 * (k + 1)
        if k not in skip:
            writer.push("caller", tone(1000, k), 5000 + 160 * k, now)
        writer.push("callee", tone(440, k), 90000 + 160 * k, now + 0.004)
        writer.tick(now)


def test_two_tones_on_left_and_right(tmp_path: Path) -> None:
    index = RecordingIndex(tmp_path / "db.sqlite")
    w = RecordingWriter.start(tmp_path / "rec", call_id="c1", caller="101", callee="102",
                              start=0.0, wall_start=WALL, index=index, tags=("sales",))
    assert Path(w.info.path).parent == tmp_path / "rec" / "2025" / "11" / "22"
    assert index.get(w.info.id).status == "recording"  # row committed at start
    record_call(w, 2.0)
    info = w.close(2.0)
    assert w.close(2.0) is info  # idempotent
    data, ch = read_wav(info.path)
    assert ch == 2 and abs(len(data) - 16032) <= 32
    assert abs(peak_hz(data[:, 0]) - 1000) < 5 and abs(peak_hz(data[:, 1]) - 440) < 5
    # each channel holds only its party
    left_spec = np.abs(np.fft.rfft(data[:, 0].astype(float)))
    assert left_spec[round(440 * len(data) / 8000)] < left_spec.max() * 0.01
    # committed before close() returned: a separate connection sees it
    row = sqlite3.connect(tmp_path / "db.sqlite").execute(
        "SELECT status, duration_s, size_bytes FROM recordings WHERE id = ?",
        (info.id,)).fetchone()
    assert row[0] == "complete" and abs(row[1] - 2.0) < 0.01
    assert row[2] == os.path.getsize(info.path)
    assert info.tags == ("sales",) and info.caller == "101"


def test_gap_is_silence_and_duration_follows_the_clock(tmp_path: Path) -> None:
    w = RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=10.0,
                              wall_start=WALL)
    record_call(w, 1.0, start=10.0, skip=set(range(20, 30)))  # 200 ms lost on the left
    info = w.close(11.0)
    data, _ = read_wav(info.path)
    assert len(data) >= 8000
    assert not data[3200 + 16 : 4800 - 16, 0].any()  # silence in the gap, not dropped
    assert np.abs(data[4800 + 16 : 6000, 0]).max() > 7000  # audio resumes in place
    assert np.abs(np.diff(data[:, 0].astype(int))).max() < 8000 * 2 * np.pi * 1000 / 8000 + 1


def test_mono_mix_saturates(tmp_path: Path) -> None:
    w = RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL, fmt="mono")
    record_call(w, 1.0)
    data, ch = read_wav(w.close(1.0).path)
    assert ch == 1
    spec = np.abs(np.fft.rfft(data[:, 0].astype(float)))
    f = np.fft.rfftfreq(len(data), 1 / 8000)
    assert spec[np.argmin(abs(f - 1000))] > 0.3 * spec.max()
    assert spec[np.argmin(abs(f - 440))] > 0.3 * spec.max()
    loud = np.array([[30000, 30000], [-30000, -30000], [100, -50]], np.int16)
    assert mix_to_mono(loud).tolist() == [32767, -32768, 50]


def test_bad_input(tmp_path: Path) -> None:
    w = RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL, recording_id="x1")
    with pytest.raises(RecordingError, match="unknown leg"):
        w.push("agent", tone(1, 0), 0, 0.02)
    with pytest.raises(RecordingError, match="already exists"):
        RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL, recording_id="x1")
    with pytest.raises(RecordingError, match="format"):
        RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL, fmt="surround")  # type: ignore[arg-type]
    w.close(0.5)
    assert w.push("caller", tone(1, 0), 0, 0.6) is False  # closed: ignored
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError, match="cannot create"):
        RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL, path=tmp_path / "file" / "r.wav")


def test_header_rewritten_every_second(tmp_path: Path) -> None:
    w = RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL)
    record_call(w, 2.5)
    with open(w.info.path, "rb") as f:
        head = f.read(44)
    stated = int.from_bytes(head[40:44], "little")
    on_disk = os.path.getsize(w.info.path) - 44
    assert 0 < stated <= on_disk and on_disk - stated <= 32000  # ≤ 1 s stale
    assert on_disk >= (2.5 - 0.2 - 0.25) * 32000 - 32  # data lags by ≤ hold-back+flush
    w.close(2.5)


CHILD = r"""
import sys
import numpy as np
from media.recording import RecordingIndex, RecordingWriter
index = RecordingIndex(sys.argv[1])
w = RecordingWriter.start(sys.argv[2], call_id="killed", caller="201", callee="202",
                          start=0.0, wall_start=1763800000.0, index=index)
t = np.arange(160) / 8000
for k in range(175):  # 3.5 s of media time, driven by a fake clock
    now = 0.02 * (k + 1)
    left = np.rint(8000 * np.sin(2 * np.pi * 1000 * (t + 0.02 * k))).astype(np.int16)
    right = np.rint(8000 * np.sin(2 * np.pi * 440 * (t + 0.02 * k))).astype(np.int16)
    w.push("caller", left, 160 * k, now)
    w.push("callee", right, 160 * k, now)
    w.tick(now)
print(w.info.path, flush=True)
sys.stdin.read()  # wait to be killed
"""


def test_kill_9_loses_at_most_a_second_and_is_repaired(tmp_path: Path) -> None:
    db, rec = tmp_path / "db.sqlite", tmp_path / "rec"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(rec)], cwd=root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "child did not report"
        path = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with open(path, "rb") as f:
        stale = int.from_bytes(f.read(44)[40:44], "little")
    assert stale < os.path.getsize(path) - 44  # the header is behind: needs repair

    index = RecordingIndex(db)
    assert [i.id for i in index.unfinished()] and index.unfinished()[0].call_id == "killed"
    (rep,) = repair_recordings(rec, index)
    assert rep.changed and rep.channels == 2
    assert 3.5 - 1.0 <= rep.duration_s <= 3.5  # lost at most the last second
    info = index.search(call_id="killed")[0]
    assert info.status == "repaired" and abs(info.duration_s - rep.duration_s) < 1e-9
    assert info.size_bytes == os.path.getsize(path)
    data, _ = read_wav(path)  # a valid WAV again, with both parties
    assert abs(peak_hz(data[:, 0]) - 1000) < 5 and abs(peak_hz(data[:, 1]) - 440) < 5
    assert repair_recordings(rec, index) == []  # nothing left to do


def test_repair_directory_without_index_and_torn_sample(tmp_path: Path) -> None:
    w = RecordingWriter.start(tmp_path, call_id="c", caller="a", callee="b", start=0.0,
                              wall_start=WALL)
    record_call(w, 1.5)
    w.file._f.write(b"\x01\x02\x03")  # a torn last sample frame, as a kill can leave
    path = w.info.path
    (tmp_path / "other.wav").write_bytes(b"RIFF....WAVEjunk")  # not ours: left alone
    (rep,) = repair_recordings(tmp_path)
    assert rep.path == path and rep.data_bytes % 4 == 0
    assert os.path.getsize(path) == 44 + rep.data_bytes
    assert repair_wav(path).changed is False
    with pytest.raises(RecordingError, match="no data chunk"):
        repair_wav(tmp_path / "other.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(RecordingError, match="RIFF"):
        repair_wav(tmp_path / "text.wav")
    with pytest.raises(RecordingError, match="cannot open"):
        repair_wav(tmp_path / "missing.wav")
