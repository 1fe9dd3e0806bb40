"""Music on hold: one looped source shared by every call on hold.

If no MoH file is configured, a default one is synthesised with numpy at first use and
kept as a WAV in the cache directory: a slow I–vi–IV–V progression in C major played
by a soft organ-like pad (fundamental plus quiet 2nd/3rd harmonics, slow attack and
release, chords cross-faded), 16 s per cycle, at about -20 dBFS. It is our own
arithmetic, so nothing copyrighted goes out on the line. The cycle is built so its end
cross-fades into its start: the loop has no seam.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from media.playback.audio import RATE, Pcm, write_wav_atomic
from media.playback.library import PromptLibrary
from media.playback.player import PlaybackSource, Player
from switch.control import FilePrompt

DEFAULT_MOH_NAME = "moh-default-v1.wav"

_CHORDS_HZ = (  # C major, A minor, F major, G major (with the bass an octave down)
    (130.81, 261.63, 329.63, 392.00),
    (110.00, 220.00, 261.63, 329.63),
    (87.31, 174.61, 220.00, 261.63),
    (98.00, 196.00, 246.94, 293.66),
)


def synth_default_moh(chord_s: float = 4.0, level: float = 0.1) -> Pcm:
    """The default hold music as 8 kHz int16 (one seamless cycle)."""
    n = round(chord_s * RATE)
    fade = round(0.6 * RATE)  # cross-fade between chords
    t = np.arange(n + fade) / RATE
    env = np.ones(n + fade)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    env[:fade] = ramp
    env[-fade:] = ramp[::-1]
    total = np.zeros(n * len(_CHORDS_HZ) + fade)
    for i, chord in enumerate(_CHORDS_HZ):
        tone = np.zeros_like(t)
        for j, f in enumerate(chord):
            weight = 1.0 if j else 0.7
            tone += weight * (np.sin(2 * np.pi * f * t) + 0.25 * np.sin(4 * np.pi * f * t)
                              + 0.1 * np.sin(6 * np.pi * f * t))
        tone *= 1.0 + 0.15 * np.sin(2 * np.pi * 0.5 * t)  # slow swell
        total[i * n : i * n + n + fade] += tone * env
    cycle = total[: n * len(_CHORDS_HZ)].copy()
    cycle[:fade] += total[n * len(_CHORDS_HZ) :]  # the last chord's tail fades into the first
    cycle *= level * 32767 / np.max(np.abs(cycle))
    return np.rint(cycle).astype(np.int16)


def ensure_default_moh(cache_dir: str | Path) -> Path:
    """Path of the default MoH WAV, synthesising it (atomically) if it is missing."""
    path = Path(cache_dir) / DEFAULT_MOH_NAME
    if not path.is_file():
        write_wav_atomic(path, synth_default_moh())
    return path


class MusicOnHold:
    """Loads (or synthesises) the hold music once; `player(start)` per held call."""

    def __init__(self, library: PromptLibrary, *, path: str | Path | None = None,
                 cache_dir: str | Path) -> None:
        self.path = Path(path) if path is not None else ensure_default_moh(cache_dir)
        self.source = PlaybackSource([library.get(FilePrompt(path=str(self.path)))], loop=True)

    def player(self, start: float) -> Player:
        return Player(self.source, start)
