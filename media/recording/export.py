"""Export recordings: MP3 (lameenc) and ZIP archives of several recordings.

lameenc accepts 8 kHz input directly (MPEG-2.5 layer III), so recordings are encoded
at their own rate, stereo or mono as recorded (or downmixed with `mono=True`), CBR
`bitrate_kbps` (default 32: MPEG-2.5 allows 8…64 kbit/s; 32 is transparent for
telephone audio). Files are read and encoded in blocks, so memory stays flat for long
recordings. A ZIP is written as a stream to its target file: WAV members deflated,
MP3 members stored (already compressed); it is built under a temporary name and
renamed into place when complete.
"""

from __future__ import annotations

import os
import tempfile
import wave
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

import lameenc  # type: ignore[import-not-found, unused-ignore]
import numpy as np

from media.recording.wavfile import RecordingError

BLOCK_FRAMES = 8000 * 10  # 10 s per read


def _wav_blocks(path: Path) -> tuple[int, int, Iterator[bytes]]:
    try:
        w = wave.open(str(path), "rb")
    except FileNotFoundError as exc:
        raise RecordingError(f"{path}: no such recording file") from exc
    except (wave.Error, EOFError) as exc:
        raise RecordingError(f"{path}: not a readable PCM WAV ({exc})") from exc
    if w.getsampwidth() != 2:
        w.close()
        raise RecordingError(f"{path}: only 16-bit WAV can be exported")

    def blocks() -> Iterator[bytes]:
        with w:
            while data := w.readframes(BLOCK_FRAMES):
                yield data

    return w.getnchannels(), w.getframerate(), blocks()


def _encoder(rate: int, channels: int, bitrate_kbps: int) -> lameenc.Encoder:
    enc = lameenc.Encoder()
    enc.set_in_sample_rate(rate)
    enc.set_channels(channels)
    enc.set_bit_rate(bitrate_kbps)
    enc.set_quality(2)  # 2 = high quality, slower; recordings are exported rarely
    return enc


def mp3_chunks(wav_path: str | Path, *, mono: bool = False,
               bitrate_kbps: int = 32) -> Iterator[bytes]:
    """Encode a 16-bit WAV to MP3, yielding the bytes as they come."""
    channels, rate, blocks = _wav_blocks(Path(wav_path))
    out_channels = 1 if mono else channels
    if out_channels not in (1, 2):
        raise RecordingError(f"{wav_path}: {channels} channels, MP3 takes 1 or 2")
    try:
        enc = _encoder(rate, out_channels, bitrate_kbps)
    except Exception as exc:  # lameenc raises plain errors for bad parameters
        raise RecordingError(f"MP3 encoder refused {rate} Hz / {bitrate_kbps} kbit/s") from exc
    for data in blocks:
        if mono and channels == 2:
            pcm = np.frombuffer(data, "<i2").reshape(-1, 2).astype(np.int32).sum(axis=1)
            data = np.clip(pcm, -32768, 32767).astype("<i2").tobytes()
        chunk = enc.encode(data)
        if chunk:
            yield bytes(chunk)
    yield bytes(enc.flush())


def export_mp3(wav_path: str | Path, mp3_path: str | Path, *, mono: bool = False,
               bitrate_kbps: int = 32) -> Path:
    """WAV recording -> MP3 file (written to a temp name, renamed when complete)."""
    target = Path(mp3_path)
    with _atomic(target) as f:
        for chunk in mp3_chunks(wav_path, mono=mono, bitrate_kbps=bitrate_kbps):
            f.write(chunk)
    return target


def export_zip(wav_paths: Iterable[str | Path], zip_path: str | Path, *,
               fmt: Literal["wav", "mp3"] = "wav", mono: bool = False,
               bitrate_kbps: int = 32) -> Path:
    """Several recordings -> one ZIP (members named after the files, deduplicated)."""
    if fmt not in ("wav", "mp3"):
        raise RecordingError(f"unknown export format {fmt!r} (wav | mp3)")
    target = Path(zip_path)
    names: set[str] = set()
    with _atomic(target) as f, zipfile.ZipFile(f, "w") as zf:
        for src in map(Path, wav_paths):
            name = _unique(src.stem + "." + fmt, names)
            if fmt == "wav":
                if not src.is_file():
                    raise RecordingError(f"{src}: no such recording file")
                zf.write(src, name, compress_type=zipfile.ZIP_DEFLATED)
            else:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_STORED
                with zf.open(info, "w", force_zip64=True) as member:
                    for chunk in mp3_chunks(src, mono=mono, bitrate_kbps=bitrate_kbps):
                        member.write(chunk)
    return target


def _unique(name: str, names: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, i = name, 1
    while candidate in names:
        candidate = f"{stem}-{i}{dot}{ext}"
        i += 1
    names.add(candidate)
    return candidate


class _atomic:
    """Write to a temp file next to `target`; rename over it only on success."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> IO[bytes]:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.target.parent)
        self.f = os.fdopen(fd, "wb")
        return self.f

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            Path(self.tmp).unlink(missing_ok=True)
