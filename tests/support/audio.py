"""Audio helpers for the interop tests: write a pure tone, find the tone in a recording.

"Did the audio get through" is answered by the frequency of what was received, which is
robust against codecs (G.711 quantisation), jitter, packet loss concealment and levels.
Only the standard `wave` module and numpy are used; WAV files are PCM (8/16/32-bit).
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

EDGE_SECONDS = 0.2  # ignored at both ends: call set-up, jitter-buffer fill, hang-up clicks
WINDOW_SECONDS = 0.1  # analysis window of has_tone (10 Hz bins, refined by interpolation)
SILENCE_FLOOR = 0.003  # frame RMS below this (about -50 dBFS) is silence
RELATIVE_FLOOR = 0.1  # ... and so is a frame 20 dB below the loudest frame

_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def write_tone_wav(
    path: Path, freq_hz: float | Sequence[float], seconds: float, rate: int = 8000,
    *, amplitude: float = 0.5,
) -> Path:
    """Write a mono 16-bit PCM WAV of a sine (or the sum of several, e.g. a DTMF pair).

    `amplitude` is the peak of the sum as a fraction of full scale.
    """
    freqs = [float(freq_hz)] if isinstance(freq_hz, int | float) else [float(f) for f in freq_hz]
    t = np.arange(round(seconds * rate)) / rate
    signal = sum((np.sin(2 * np.pi * f * t) for f in freqs), np.zeros_like(t))
    samples = np.round(signal / len(freqs) * amplitude * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.float64], int]:
    """Samples as floats in [-1, 1] (channels averaged) and the sample rate."""
    with wave.open(str(path), "rb") as wav:
        width = wav.getsampwidth()
        channels = wav.getnchannels()
        rate = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width not in _DTYPES:
        raise ValueError(f"{path}: unsupported sample width {width}")
    data = np.frombuffer(raw, dtype=np.dtype(_DTYPES[width]).newbyteorder("<"))
    samples = data.astype(np.float64)
    if width == 1:
        samples = (samples - 128.0) / 128.0
    else:
        samples /= float(2 ** (8 * width - 1))
    if channels > 1:
        samples = samples[: len(samples) // channels * channels]
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def wav_complete(path: Path) -> bool:
    """Whether a WAV file's RIFF and data chunk sizes account for the whole file.

    A recorder that fills the sizes in when it closes the file (libsndfile, so baresip's
    sndfile module) leaves them short until then: this tells a finished recording.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    if int.from_bytes(data[4:8], "little") != len(data) - 8:
        return False
    offset = 12
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if data[offset : offset + 4] == b"data":
            return offset + 8 + size == len(data)
        offset += 8 + size + (size & 1)
    return False


def _audible(samples: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """The non-silent 20 ms frames, edges (EDGE_SECONDS) removed, concatenated."""
    edge = int(EDGE_SECONDS * rate)
    body = samples[edge : len(samples) - edge] if len(samples) > 2 * edge else samples[:0]
    frame = max(1, rate // 50)
    count = len(body) // frame
    if count == 0:
        return body[:0]
    frames = body[: count * frame].reshape(count, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    threshold = max(SILENCE_FLOOR, RELATIVE_FLOOR * float(rms.max()))
    kept: npt.NDArray[np.float64] = frames[rms >= threshold].reshape(-1)
    return kept


def _peak_frequency(samples: npt.NDArray[np.float64], rate: int) -> float:
    """The strongest frequency (Hann window, zero-padded FFT, parabolic interpolation)."""
    n = len(samples)
    size = 1 << max(12, (4 * n - 1).bit_length())  # >= 4x zero-padding
    spectrum = np.abs(np.fft.rfft((samples - samples.mean()) * np.hanning(n), size))
    spectrum[0] = 0.0  # DC
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denominator = a - 2 * b + c
        if denominator != 0:
            offset = 0.5 * (a - c) / denominator
    return float((k + offset) * rate / size)


def dominant_frequency(path: Path) -> float:
    """The dominant frequency in Hz of the audible part of a WAV file.

    The first and last 200 ms are ignored, and so are silent 20 ms frames (below about
    -50 dBFS, or 20 dB under the loudest frame). 0.0 when nothing audible remains.
    """
    samples, rate = read_wav(path)
    return dominant_of(samples, rate)


def dominant_of(samples: npt.NDArray[np.generic], rate: int = 8000) -> float:
    """`dominant_frequency` of samples already in memory (one channel of a recording);
    int16 samples are scaled to [-1, 1] like `read_wav`'s."""
    values = np.asarray(samples, np.float64)
    if np.issubdtype(np.asarray(samples).dtype, np.integer):
        values = values / 32768.0
    audible = _audible(values, rate)
    if len(audible) < rate // 50:
        return 0.0
    return _peak_frequency(audible, rate)


def tone_seconds(path: Path, freq: float, tolerance_hz: float = 20.0) -> float:
    """How many seconds of the audible part have `freq` (± tolerance) as dominant tone,
    judged on consecutive 100 ms windows."""
    samples, rate = read_wav(path)
    audible = _audible(samples, rate)
    window = int(WINDOW_SECONDS * rate)
    matching = 0
    for start in range(0, len(audible) - window + 1, window):
        if abs(_peak_frequency(audible[start : start + window], rate) - freq) <= tolerance_hz:
            matching += 1
    return matching * WINDOW_SECONDS


def has_tone(path: Path, freq: float, tolerance_hz: float = 20.0,
             min_seconds: float = 1.0) -> bool:
    """True if the recording holds at least `min_seconds` of a tone at `freq` ± tolerance
    (dominant in each 100 ms window counted), ignoring silence and the first/last 200 ms."""
    return tone_seconds(path, freq, tolerance_hz) >= min_seconds
