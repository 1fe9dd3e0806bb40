"""Resolve call-control prompts (File/Tts/Silence) to decoded audio, with an LRU cache.

`PromptLibrary.get(prompt)` returns 8 kHz mono int16 for a `switch.control` prompt.
Decoded prompts stay in an in-memory LRU bounded by total samples (default about 30
minutes of audio = 29 MB), so the IVR's greeting is decoded once, not per call. A file
entry is keyed by (path, size, mtime) so replacing a prompt file takes effect at once.
The returned arrays are read-only and shared: never modify them.

`cached(prompt)` answers from memory only (None on a miss) — the event loop can try it
first and send the miss to an executor, since `get` may read files and run espeak-ng.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from media.playback.audio import RATE, Pcm
from media.playback.errors import PromptError, PromptNotFound
from media.playback.loader import MAX_MP3_BYTES, load_prompt_file
from media.playback.tts import EspeakTts
from switch.control import FilePrompt, Prompt, SilencePrompt, TtsPrompt

MAX_SILENCE_S = 600.0


class PromptLibrary:
    def __init__(
        self,
        tts: EspeakTts | None = None,
        *,
        base_dir: str | Path | None = None,
        max_cached_samples: int = 30 * 60 * RATE,
        max_mp3_bytes: int = MAX_MP3_BYTES,
    ) -> None:
        self.tts = tts
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.max_cached_samples = max_cached_samples
        self.max_mp3_bytes = max_mp3_bytes
        self._lru: OrderedDict[tuple[str, ...], Pcm] = OrderedDict()
        self._cached_samples = 0
        self.hits = 0
        self.misses = 0

    # -- public -------------------------------------------------------------------------
    def get(self, prompt: Prompt) -> Pcm:
        """Decoded audio of one prompt; raises a specific `PromptError` on bad input."""
        if isinstance(prompt, SilencePrompt):
            return silence(prompt.seconds)
        key = self._key(prompt)
        hit = self._lookup(key)
        if hit is not None:
            return hit
        self.misses += 1
        if isinstance(prompt, FilePrompt):
            pcm = load_prompt_file(self._resolve(prompt.path), max_mp3_bytes=self.max_mp3_bytes)
        elif isinstance(prompt, TtsPrompt):
            if self.tts is None:
                raise PromptError("TTS prompt but no TTS engine configured")
            path = self.tts.render(prompt.text, prompt.language, prompt.voice)
            pcm = load_prompt_file(path)
        else:
            raise PromptError(f"not a prompt: {prompt!r}")
        pcm.setflags(write=False)
        self._store(key, pcm)
        return pcm

    def get_all(self, prompts: Iterable[Prompt]) -> list[Pcm]:
        return [self.get(p) for p in prompts]

    def cached(self, prompt: Prompt) -> Pcm | None:
        """Memory-only lookup: the audio if it needs no I/O, else None."""
        if isinstance(prompt, SilencePrompt):
            return silence(prompt.seconds)
        try:
            key = self._key(prompt)
        except PromptError:
            return None
        return self._lookup(key)

    # -- internals ----------------------------------------------------------------------
    def _resolve(self, path: str) -> Path:
        p = Path(path)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p

    def _key(self, prompt: Prompt) -> tuple[str, ...]:
        if isinstance(prompt, FilePrompt):
            p = self._resolve(prompt.path)
            try:
                st = p.stat()
            except OSError as exc:
                raise PromptNotFound(f"{p}: no such file") from exc
            return ("file", str(p), str(st.st_size), str(st.st_mtime_ns))
        if isinstance(prompt, TtsPrompt):
            digest = hashlib.sha256(prompt.text.encode()).hexdigest()
            return ("tts", prompt.language, prompt.voice, digest)
        raise PromptError(f"not a prompt: {prompt!r}")

    def _lookup(self, key: tuple[str, ...]) -> Pcm | None:
        pcm = self._lru.get(key)
        if pcm is not None:
            self._lru.move_to_end(key)
            self.hits += 1
        return pcm

    def _store(self, key: tuple[str, ...], pcm: Pcm) -> None:
        if pcm.size > self.max_cached_samples:
            return  # bigger than the whole cache: serve it, do not keep it
        self._lru[key] = pcm
        self._cached_samples += pcm.size
        while self._cached_samples > self.max_cached_samples:
            _, old = self._lru.popitem(last=False)
            self._cached_samples -= old.size


_SILENCE_CACHE: dict[int, Pcm] = {}


def silence(seconds: float) -> Pcm:
    """A shared read-only array of zeros of `seconds` (rounded to whole samples)."""
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SILENCE_S:
        raise PromptError(f"silence of {seconds!r} s: must be 0…{MAX_SILENCE_S:g} s")
    n = round(seconds * RATE)
    pcm = _SILENCE_CACHE.get(n)
    if pcm is None:
        pcm = np.zeros(n, np.int16)
        pcm.setflags(write=False)
        if len(_SILENCE_CACHE) < 64:
            _SILENCE_CACHE[n] = pcm
    return pcm
