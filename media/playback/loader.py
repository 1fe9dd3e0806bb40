"""Prompt files -> 8 kHz mono int16: WAV (any rate, channels, width), MP3 (≤ 2 MB), FLAC.

The format is decided by the file's *content* (RIFF/WAVE, ID3 or an MPEG frame sync,
fLaC), never by its name. PCM WAV goes through the stdlib `wave` module (8/16/24/32-bit
integer); WAV that `wave` refuses (IEEE float, WAVE_FORMAT_EXTENSIBLE), MP3 and FLAC go
through miniaudio. Then channels are averaged and the audio resampled to 8 kHz with
scipy's polyphase filter (`media.playback.audio.to_telephone`).

Blocking file I/O: call `load_prompt_file` (or `PromptLibrary.get` on a cache miss)
off the event loop, e.g. in `loop.run_in_executor`.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import miniaudio  # type: ignore[import-untyped]
import numpy as np

from media.playback.audio import Pcm, to_telephone
from media.playback.errors import (
    PromptCorrupt,
    PromptNotFound,
    PromptTooLarge,
    PromptUnsupported,
)

MAX_MP3_BYTES = 2 * 1024 * 1024  # what the customer-facing documents promise
MAX_FILE_BYTES = 64 * 1024 * 1024  # any other format: a guard against a wrong file


def sniff(head: bytes) -> str | None:
    """'wav' | 'mp3' | 'flac' | None from the first 12 bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def load_prompt_file(
    path: str | Path, *, max_mp3_bytes: int = MAX_MP3_BYTES, max_bytes: int = MAX_FILE_BYTES
) -> Pcm:
    """Decode an audio file to 8 kHz mono int16; raises a specific `PromptError`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise PromptNotFound(f"{p}: not a regular file")
    except FileNotFoundError as exc:
        raise PromptNotFound(f"{p}: no such file") from exc
    except OSError as exc:  # permission, bad path component
        raise PromptNotFound(f"{p}: cannot access: {exc.strerror}") from exc
    try:
        with p.open("rb") as f:
            head = f.read(12)
            kind = sniff(head)
            limit = max_mp3_bytes if kind == "mp3" else max_bytes
            if size > limit:
                raise PromptTooLarge(
                    f"{p}: {size} bytes, over the {limit}-byte limit for {kind or 'audio'} files"
                )
            f.seek(0)
            data = f.read()
    except OSError as exc:
        raise PromptNotFound(f"{p}: cannot read: {exc.strerror}") from exc
    if kind is None:
        raise PromptUnsupported(f"{p}: not a WAV, MP3 or FLAC file (content sniffed)")
    return decode_bytes(data, kind, name=str(p))


def decode_bytes(data: bytes, kind: str, *, name: str = "<bytes>") -> Pcm:
    """Decode in-memory audio of a known kind ('wav' | 'mp3' | 'flac')."""
    if kind == "wav":
        try:
            return _decode_pcm_wav(data)
        except (wave.Error, EOFError, ValueError, RuntimeError, struct.error):
            pass  # not integer PCM (float, extensible) or odd header: let miniaudio try
    try:
        if kind == "mp3":
            decoded = miniaudio.mp3_read_s16(data)
        elif kind == "flac":
            decoded = miniaudio.flac_read_s16(data)
        elif kind == "wav":
            decoded = miniaudio.wav_read_s16(data)
        else:
            raise PromptUnsupported(f"{name}: unsupported kind {kind!r}")
    except miniaudio.DecodeError as exc:
        raise PromptCorrupt(f"{name}: cannot decode {kind.upper()} data ({exc})") from exc
    channels, rate = decoded.nchannels, decoded.sample_rate
    if channels < 1 or rate < 1000:
        raise PromptCorrupt(f"{name}: implausible format ({channels} ch, {rate} Hz)")
    samples = np.frombuffer(decoded.samples, dtype=np.int16)
    if samples.size == 0:
        raise PromptCorrupt(f"{name}: no audio in the {kind.upper()} data")
    usable = samples.size - samples.size % channels
    return to_telephone(samples[:usable].reshape(-1, channels), rate)


def _decode_pcm_wav(data: bytes) -> Pcm:
    with wave.open(io.BytesIO(data), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if channels < 1 or rate < 1000 or width not in (1, 2, 3, 4):
        raise PromptCorrupt(f"implausible WAV format ({channels} ch, {width} B, {rate} Hz)")
    usable = len(raw) - len(raw) % (channels * width)  # a truncated last frame is cut
    raw = raw[:usable]
    if not raw:
        raise PromptCorrupt("WAV file holds no audio frames")
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64)
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        x = v.astype(np.float64) / 256.0
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / 65536.0
    return to_telephone(x.reshape(-1, channels), rate)
