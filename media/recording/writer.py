"""A call recording in progress: aligned legs -> crash-safe WAV -> a row in the index.

`RecordingWriter.start(...)` creates the file and commits an index row with status
"recording". The media tick then feeds it decoded frames of both legs with `push`
(caller = leg "caller" = left channel, callee = right) and calls `tick(now)`; every
`flush_interval` (default 0.25 s) of media time the aligner's finished audio is
appended to the file (unbuffered: in the kernel at once), and every
`header_interval` (1 s) the WAV header's sizes are rewritten. A kill -9 therefore
loses at most hold_back + flush_interval ≈ 0.45 s of audio, and leaves a header at most
a second stale, which `repair_recordings` fixes at the next start.

`close(now)` writes the rest, finalises the header, fsyncs, and commits duration and
size to the index before returning the `RecordingInfo` — only then should the
recording be reported (RecordingFinished, webhooks).

Mono (`fmt="mono"`) mixes the two legs by saturating addition: each party keeps its
level and overloads clip instead of wrapping around.

This is file I/O (the sans-I/O part is `aligner.StereoAligner`): at 500 concurrent
recordings it costs a few µs per frame plus a write per recording per flush interval
(bench/recording_cost.py); the lead may run it in the media thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from media.recording.aligner import RATE, Pcm, StereoAligner
from media.recording.index import Format, RecordingIndex, RecordingInfo
from media.recording.wavfile import (
    HEADER_BYTES,
    RecordingError,
    WavAppender,
    WavRepair,
    repair_wav,
)

LEGS = {"caller": 0, "callee": 1, "a": 0, "b": 1, 0: 0, 1: 1}


def mix_to_mono(stereo: Pcm) -> Pcm:
    """(n, 2) int16 -> (n,) int16, saturating sum of the two channels."""
    acc = stereo[:, 0].astype(np.int32)
    acc += stereo[:, 1]
    np.clip(acc, -32768, 32767, out=acc)
    mixed: Pcm = acc.astype(np.int16)
    return mixed


class RecordingWriter:
    def __init__(self, *, info: RecordingInfo, start: float, index: RecordingIndex | None,
                 hold_back: float = 0.2, flush_interval: float = 0.25,
                 header_interval: float = 1.0, fsync: bool = False) -> None:
        if info.format not in ("stereo", "mono"):
            raise RecordingError(f"unknown recording format {info.format!r}")
        if not 0 < flush_interval <= 1.0 or not 0 < header_interval <= 1.0:
            raise RecordingError("flush and header intervals must be in (0, 1] s")
        self.info = info
        self.index = index
        self.start_time = start
        self.aligner = StereoAligner(start, hold_back=hold_back)
        self.flush_interval = flush_interval
        self.header_interval = header_interval
        self.mono = info.format == "mono"
        self.file = WavAppender(Path(info.path), channels=1 if self.mono else 2,
                                fsync=fsync)
        self.next_flush = start + flush_interval
        self.next_header = start + header_interval
        self.samples = 0
        self.closed_info: RecordingInfo | None = None

    @classmethod
    def start(
        cls,
        directory: str | Path,
        *,
        call_id: str,
        caller: str,
        callee: str,
        start: float,
        wall_start: float,
        index: RecordingIndex | None = None,
        fmt: Format = "stereo",
        queue: str | None = None,
        tags: Sequence[str] = (),
        recording_id: str | None = None,
        path: str | Path | None = None,
        hold_back: float = 0.2,
        flush_interval: float = 0.25,
        header_interval: float = 1.0,
        fsync: bool = False,
    ) -> RecordingWriter:
        """Open a recording: file `directory/YYYY/MM/DD/<id>.wav` (UTC date of
        `wall_start`) unless `path` is given, plus a committed index row if `index`.

        `start` is media time (the `now` of push/tick); `wall_start` is Unix time for
        the metadata. The tuning arguments are those of `RecordingConfig`
        (`flush_interval_s`, `header_interval_s`, `fsync`) and the aligner's hold-back.
        """
        rid = recording_id or uuid.uuid4().hex
        if path is None:
            day = datetime.fromtimestamp(wall_start, UTC)
            path = Path(directory) / f"{day:%Y/%m/%d}" / f"{rid}.wav"
        info = RecordingInfo(id=rid, call_id=call_id, caller=caller, callee=callee,
                             started_at=wall_start, path=str(path), format=fmt, queue=queue,
                             tags=tuple(tags), status="recording")
        try:
            writer = cls(info=info, start=start, index=index, hold_back=hold_back,
                         flush_interval=flush_interval, header_interval=header_interval,
                         fsync=fsync)
        except OSError as exc:
            if isinstance(exc, FileExistsError) and Path(path).is_file():
                raise RecordingError(f"{path}: a recording file already exists") from exc
            raise RecordingError(f"{path}: cannot create: {exc.strerror}") from exc
        if index is not None:
            try:
                index.add(info)
            except BaseException:
                writer.file.close()
                Path(info.path).unlink(missing_ok=True)
                raise
        return writer

    # -- the media tick -----------------------------------------------------------------
    def push(self, leg: str | int, pcm: Pcm, rtp_ts: int | None, arrival: float) -> bool:
        """One decoded frame of "caller" (left) or "callee" (right); False if too late."""
        ch = LEGS.get(leg)
        if ch is None:
            raise RecordingError(f"unknown leg {leg!r} (caller | callee)")
        if self.closed_info is not None:
            return False
        return self.aligner.push(ch, pcm, rtp_ts, arrival)

    def get_timer(self) -> float | None:
        return None if self.closed_info is not None else self.next_flush

    def tick(self, now: float) -> None:
        """Append finished audio every flush interval. Raises RecordingError if the disk
        fails (full, I/O error): the caller then closes the recording."""
        if self.closed_info is not None or now < self.next_flush:
            return
        self._write(self.aligner.pull(now))
        self.next_flush = now + self.flush_interval
        if now >= self.next_header:
            self.file.update_header()
            self.next_header = now + self.header_interval

    def close(self, now: float) -> RecordingInfo:
        """Write everything, finalise the file, commit the index row; idempotent."""
        if self.closed_info is not None:
            return self.closed_info
        self._write(self.aligner.pull_all(now))
        self.file.close()
        duration = self.samples / RATE
        size = HEADER_BYTES + self.file.data_bytes
        if self.index is not None:
            info = self.index.finish(self.info.id, duration_s=duration, size_bytes=size)
        else:
            info = replace(self.info, duration_s=duration, size_bytes=size,
                           status="complete")
        self.closed_info = info
        return info

    def _write(self, block: Pcm) -> None:
        if not len(block):
            return
        out = mix_to_mono(block) if self.mono else block
        self.file.append(out.astype("<i2", copy=False).tobytes())
        self.samples += len(block)

    @property
    def late_frames(self) -> int:
        return self.aligner.late_frames


def _ours(path: Path) -> bool:
    """A canonical 44-byte-header PCM WAV as this module writes (others are left alone)."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError:
        return False
    return (len(head) == HEADER_BYTES and head[:4] == b"RIFF" and head[8:16] == b"WAVEfmt "
            and head[16:22] == b"\x10\x00\x00\x00\x01\x00" and head[36:40] == b"data")


def repair_recordings(directory: str | Path | None = None,
                      index: RecordingIndex | None = None) -> list[WavRepair]:
    """At start-up: fix WAV headers of recordings a crash interrupted.

    With `index`: every row still "recording" gets its file repaired and its row set to
    "repaired" with the recovered duration and size ("lost" if the file is gone).
    With `directory`: every *.wav below it whose header disagrees with its length is
    repaired too (recordings made without an index). Returns what was examined.
    """
    results: list[WavRepair] = []
    seen: set[str] = set()
    if index is not None:
        for info in index.unfinished():
            seen.add(str(Path(info.path)))
            if not Path(info.path).is_file():
                index.finish(info.id, duration_s=0.0, size_bytes=0, status="lost")
                continue
            try:
                rep = repair_wav(info.path)
            except RecordingError:
                index.finish(info.id, duration_s=0.0, size_bytes=0, status="lost")
                continue
            index.finish(info.id, duration_s=rep.duration_s,
                         size_bytes=rep.data_bytes + HEADER_BYTES, status="repaired")
            results.append(rep)
    if directory is not None and Path(directory).is_dir():
        for wav in sorted(Path(directory).rglob("*.wav")):
            if str(wav) in seen or wav.name.startswith(".") or not _ours(wav):
                continue
            try:
                rep = repair_wav(wav)
            except RecordingError:
                continue  # not ours / not a WAV: leave it alone
            if rep.changed:
                results.append(rep)
    return results


