"""Small audio helpers shared by playback and recording: resampling and WAV writing.

Everything in the media layer is 8 kHz mono int16 ("telephone PCM"); these helpers
convert to it and write it out.
"""

from __future__ import annotations

import os
import tempfile
import wave
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly  # type: ignore[import-untyped]

Pcm = npt.NDArray[np.int16]

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_SECONDS = 0.02


def to_telephone(samples: npt.NDArray[np.generic], rate: int) -> Pcm:
    """(n,) or (n, channels) float samples in int16 scale at `rate` -> 8 kHz mono int16.

    Channels are averaged (a downmix that cannot clip); resample_poly's anti-alias
    filter removes everything above 4 kHz, so a 44.1 kHz music file does not fold
    cymbals into the voice band.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != RATE and x.size:
        g = gcd(RATE, rate)
        x = resample_poly(x, RATE // g, rate // g)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def write_wav_atomic(path: Path, pcm: Pcm, rate: int = RATE) -> None:
    """Write mono 16-bit PCM to `path` via a temp file in the same directory + rename.

    A reader (or a crash) never sees a half-written file: rename is atomic on POSIX.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
