"""The prompt player, sans-I/O: 20 ms frames of a prompt sequence, paced from a start time.

Theory of operation
-------------------
A `PlaybackSource` is the audio of one Play command — prompts (and silences) concatenated
into one 8 kHz int16 buffer, zero-padded to whole 20 ms frames — or, in loop mode (music
on hold), the buffer with its first frame appended again, so that any 160-sample window
starting inside the loop is one contiguous slice: the wrap is seamless and costs no
copy. A source is immutable and can be shared by any number of players (every call on
hold plays the same MoH source).

A `Player` walks a source on a fixed timeline: frame k is due at exactly
``start + k * 0.02`` — computed from k, never by adding 20 ms to the previous deadline,
so a prompt never drifts however the ticks jitter. The driver (the media tick) asks
`get_timer()` for the next deadline and calls `handle_timer(now)`, which returns the
frames due by `now`.

Late ticks (the policy): if a tick comes late and several frames are due, up to
``max_burst`` (default 3, i.e. 60 ms) of the *most recent* due frames are returned
together — a burst that small is absorbed by the phone's jitter buffer. Older due
frames are skipped and counted (`frames_skipped`): sending them would only add
latency for the rest of the prompt. The timeline is never shifted, so the prompt
still ends on time; each frame carries its index k, and the RTP sender stamps it
``ts0 + 160 * k``, so a skip looks like ordinary packet loss to the phone.

End: once its last frame has been handed out, a non-looping player's timer is the end
of the audio (``start + n_frames * 0.02``); at that moment it finishes and queues a
`PlaybackEnded(interrupted=False)`. `stop(now)` (barge-in or StopPlayback — call
control decides, the player just obeys) ends it at once with ``interrupted=True``.
A looping player never ends by itself. Events are collected with `drain_events()`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from media.playback.audio import FRAME_SAMPLES, FRAME_SECONDS, Pcm
from media.playback.errors import PromptError

_EPS = 1e-6  # 1 µs: a tick at exactly the due time counts as on time despite float error


class PlaybackSource:
    """Immutable audio of one Play (or of music on hold), ready to be sliced in frames."""

    __slots__ = ("buffer", "loop", "n_frames", "loop_samples")

    def __init__(self, prompts: Sequence[Pcm], *, loop: bool = False) -> None:
        parts = [np.asarray(p, dtype=np.int16).reshape(-1) for p in prompts]
        audio = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        self.loop = loop
        if loop:
            if audio.size == 0:
                raise PromptError("a looped playback needs some audio (all prompts are empty)")
            # Short loops are repeated to at least one frame so the wrap slice exists.
            reps = math.ceil(FRAME_SAMPLES / audio.size)
            base = np.tile(audio, reps) if reps > 1 else audio
            self.loop_samples = int(base.size)
            self.buffer = np.concatenate([base, base[:FRAME_SAMPLES]])
            self.n_frames = -1  # endless
        else:
            self.n_frames = math.ceil(audio.size / FRAME_SAMPLES)
            padded = np.zeros(self.n_frames * FRAME_SAMPLES, np.int16)
            padded[: audio.size] = audio
            self.loop_samples = 0
            self.buffer = padded
        self.buffer.setflags(write=False)

    @property
    def duration_s(self) -> float:
        """Length of one pass (for a loop: of one cycle)."""
        n = self.loop_samples if self.loop else self.n_frames * FRAME_SAMPLES
        return n / (FRAME_SAMPLES / FRAME_SECONDS)

    def frame(self, k: int) -> Pcm:
        """Frame k (160 samples, a read-only view)."""
        pos = (k * FRAME_SAMPLES) % self.loop_samples if self.loop else k * FRAME_SAMPLES
        return self.buffer[pos : pos + FRAME_SAMPLES]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFrame:
    index: int  # k since the start: RTP timestamp = ts0 + 160 * index
    due: float  # start + 0.02 * index
    pcm: Pcm  # 160 int16 samples (read-only view into the source)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackEnded:
    """The player is done: to the end (interrupted False) or by `stop` (True)."""

    at: float
    interrupted: bool
    frames_sent: int
    frames_skipped: int


class Player:
    __slots__ = ("source", "start", "max_burst", "next_k", "frames_sent", "frames_skipped",
                 "state", "_events")

    def __init__(self, source: PlaybackSource, start: float, *, max_burst: int = 3) -> None:
        if max_burst < 1:
            raise ValueError("max_burst must be ≥ 1")
        self.source = source
        self.start = start
        self.max_burst = max_burst
        self.next_k = 0
        self.frames_sent = 0
        self.frames_skipped = 0
        self.state = "playing"  # playing | finished | interrupted
        self._events: list[PlaybackEnded] = []

    @classmethod
    def of(cls, prompts: Sequence[Pcm], start: float, *, loop: bool = False,
           max_burst: int = 3) -> Player:
        return cls(PlaybackSource(prompts, loop=loop), start, max_burst=max_burst)

    @property
    def done(self) -> bool:
        return self.state != "playing"

    @property
    def end_time(self) -> float | None:
        """When the audio ends (None for a loop)."""
        if self.source.loop:
            return None
        return self.start + self.source.n_frames * FRAME_SECONDS

    def due_time(self, k: int) -> float:
        return self.start + k * FRAME_SECONDS

    def get_timer(self) -> float | None:
        if self.state != "playing":
            return None
        n = self.source.n_frames
        if n >= 0 and self.next_k >= n:
            return self.start + n * FRAME_SECONDS  # all sent: wake up at the audio's end
        return self.start + self.next_k * FRAME_SECONDS

    def handle_timer(self, now: float) -> list[PlaybackFrame]:
        """Frames due by `now` (at most `max_burst`, the most recent); may finish."""
        if self.state != "playing":
            return []
        last_due = math.floor((now - self.start) / FRAME_SECONDS + _EPS)  # k due by now
        n = self.source.n_frames
        end_k = last_due + 1 if n < 0 else min(last_due + 1, n)  # exclusive
        frames: list[PlaybackFrame] = []
        if end_k > self.next_k:
            first = max(self.next_k, end_k - self.max_burst)
            self.frames_skipped += first - self.next_k
            src, start = self.source, self.start
            frames = [
                PlaybackFrame(index=k, due=start + k * FRAME_SECONDS, pcm=src.frame(k))
                for k in range(first, end_k)
            ]
            self.frames_sent += end_k - first
            self.next_k = end_k
        if n >= 0 and self.next_k >= n and last_due >= n:  # the end of the audio passed
            self._finish(self.start + n * FRAME_SECONDS, interrupted=False)
        return frames

    def stop(self, now: float) -> bool:
        """Barge-in / StopPlayback: end now. False if it had already ended."""
        if self.state != "playing":
            return False
        self._finish(now, interrupted=True)
        return True

    def drain_events(self) -> list[PlaybackEnded]:
        events, self._events = self._events, []
        return events

    def _finish(self, at: float, *, interrupted: bool) -> None:
        self.state = "interrupted" if interrupted else "finished"
        self._events.append(PlaybackEnded(at=at, interrupted=interrupted,
                                          frames_sent=self.frames_sent,
                                          frames_skipped=self.frames_skipped))
