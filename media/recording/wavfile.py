"""WAV files that survive a kill: an appender with periodic header updates, and repair.

A recording is a canonical 44-byte-header PCM WAV (16-bit, 8 kHz, 1 or 2 channels).
The appender writes the header with the sizes known so far, appends audio with
unbuffered writes (each write is in the kernel, so it survives kill -9 of our process;
`fsync=True` also survives power loss, at a disk flush per write) and rewrites the two
size fields every `header_interval` seconds of media time. A killed recording therefore
has a header that understates its data by at most that interval; `repair_wav` recomputes
both sizes from the file length (dropping a torn last sample frame).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from media.errors import MediaError

HEADER_BYTES = 44
MAX_DATA_BYTES = 0xFFFFFFFF - 36  # RIFF's 32-bit size: about 37 h of 8 kHz stereo


class RecordingError(MediaError):
    """A recording file or index operation failed (bad file, unknown id, …)."""


def wav_header(channels: int, rate: int, data_bytes: int) -> bytes:
    block = channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
            + b"data" + struct.pack("<I", data_bytes))


class WavAppender:
    """Append-only 16-bit PCM WAV writer (file I/O; not a sans-I/O core)."""

    def __init__(self, path: Path, *, channels: int, rate: int = 8000,
                 fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.channels = channels
        self.rate = rate
        self.fsync = fsync
        self.data_bytes = 0
        self.header_bytes = 0  # data size the on-disk header states
        self._f = open(path, "xb", buffering=0)  # noqa: SIM115 - lives as long as self
        self._f.write(wav_header(channels, rate, 0))

    def append(self, data: bytes) -> None:
        if self.data_bytes + len(data) > MAX_DATA_BYTES:
            raise RecordingError(f"{self.path}: WAV size limit reached")
        try:
            self._f.write(data)  # unbuffered: goes to the kernel now
            if self.fsync:
                os.fsync(self._f.fileno())
        except OSError as exc:  # disk full, I/O error: the caller decides (close/abort)
            raise RecordingError(f"{self.path}: write failed: {exc.strerror}") from exc
        self.data_bytes += len(data)

    def update_header(self) -> None:
        if self.header_bytes == self.data_bytes:
            return
        f = self._f
        try:
            f.seek(4)
            f.write(struct.pack("<I", 36 + self.data_bytes))
            f.seek(40)
            f.write(struct.pack("<I", self.data_bytes))
            f.seek(0, os.SEEK_END)
        except OSError as exc:
            raise RecordingError(f"{self.path}: header update failed: {exc.strerror}") from exc
        self.header_bytes = self.data_bytes

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            self.update_header()
            os.fsync(self._f.fileno())  # durable before it is reported
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot finalise: {exc.strerror}") from exc
        finally:
            self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed


@dataclass(frozen=True, slots=True, kw_only=True)
class WavRepair:
    path: str
    channels: int
    rate: int
    data_bytes: int
    duration_s: float
    changed: bool  # False: the header was already right


def repair_wav(path: str | Path) -> WavRepair:
    """Make the RIFF and data sizes match the file; raises RecordingError if not a WAV."""
    p = Path(path)
    try:
        f = open(p, "r+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RecordingError(f"{p}: cannot open: {exc.strerror}") from exc
    with f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise RecordingError(f"{p}: not a RIFF/WAVE file")
        pos, channels, rate, block = 12, 0, 0, 0
        while True:  # walk the chunks up to "data" (ours: fmt then data)
            f.seek(pos)
            ch = f.read(8)
            if len(ch) < 8:
                raise RecordingError(f"{p}: no data chunk")
            cid, clen = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(16)
                if len(fmt) < 16:
                    raise RecordingError(f"{p}: truncated fmt chunk")
                _, channels, rate, _, block, _ = struct.unpack("<HHIIHH", fmt)
            elif cid == b"data":
                break
            pos += 8 + clen + (clen & 1)
        if not channels or not block:
            raise RecordingError(f"{p}: data chunk before a valid fmt chunk")
        data_start = pos + 8
        data_bytes = max(0, size - data_start)
        data_bytes -= data_bytes % block  # a torn last sample frame is cut off
        data_bytes = min(data_bytes, MAX_DATA_BYTES - data_start + 44)
        riff = struct.unpack("<I", head[4:8])[0]
        changed = (clen != data_bytes or size != data_start + data_bytes
                   or riff != data_start + data_bytes - 8)
        if changed:
            f.truncate(data_start + data_bytes)
            f.seek(pos + 4)
            f.write(struct.pack("<I", data_bytes))
            f.seek(4)
            f.write(struct.pack("<I", data_start + data_bytes - 8))
            f.flush()
            os.fsync(f.fileno())
    return WavRepair(path=str(p), channels=channels, rate=rate, data_bytes=data_bytes,
                     duration_s=data_bytes / (block * rate) if rate else 0.0, changed=changed)
