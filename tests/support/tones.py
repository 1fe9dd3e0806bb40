"""Test signals and measurements for media tests (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 8000


def tone(freq: float, seconds: float, amplitude: float = 8000.0, rate: int = RATE,
         phase: float = 0.0) -> npt.NDArray[np.int16]:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def dominant_hz(samples: npt.NDArray[np.int16], rate: int = RATE) -> float:
    data = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return float(np.argmax(spectrum) * rate / len(data))


def rms(samples: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def level_db(samples: npt.NDArray[np.int16], reference: npt.NDArray[np.int16]) -> float:
    return 20.0 * float(np.log10(rms(samples) / rms(reference)))
