"""Text-to-speech with espeak-ng, rendered once and cached on disk.

A request (text, language, voice) maps to an espeak-ng voice (`pl+f3`, `en+m3`…),
is rendered by running espeak-ng once (subprocess, bounded by a timeout) into a WAV at
its native 22.05 kHz, converted to 8 kHz mono and stored in the cache directory under
the SHA-256 of (voice spec, text) — atomically: temp file + rename, so a crash or a
concurrent render never leaves a torn file. Later requests find the file and never run
espeak-ng again (`renders` counts the runs).

Blocking: `render` runs a subprocess; call it off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from media.playback.audio import write_wav_atomic
from media.playback.errors import TtsError
from media.playback.loader import load_prompt_file

# (language, voice) -> espeak-ng voice: base language voice + variant (see
# `espeak-ng --voices=variant`: m1…m8 male, f1…f5 female; m3/f3 are the clearest).
# "en" is British English (gmw/en); NB "en-gb+f3" silently ignores the variant here.
DEFAULT_VOICES: Mapping[tuple[str, str], str] = {
    ("pl", "male"): "pl+m3",
    ("pl", "female"): "pl+f3",
    ("en", "male"): "en+m3",
    ("en", "female"): "en+f3",
}
MAX_TEXT_CHARS = 4000


class EspeakTts:
    """Render-and-cache TTS; `path(text, language, voice)` is the cached 8 kHz WAV."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        binary: str = "espeak-ng",
        timeout_s: float = 20.0,
        voices: Mapping[tuple[str, str], str] = DEFAULT_VOICES,
        speed_wpm: int = 160,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.binary = binary
        self.timeout_s = timeout_s
        self.voices = dict(voices)
        self.speed_wpm = speed_wpm
        self.renders = 0  # how many times espeak-ng actually ran (tests, metrics)

    def voice_spec(self, language: str, voice: str) -> str:
        try:
            return self.voices[(language, voice)]
        except KeyError:
            known = ", ".join(f"{lang}/{v}" for lang, v in sorted(self.voices))
            raise TtsError(f"no TTS voice for language {language!r}, voice {voice!r}"
                           f" (known: {known})") from None

    def path(self, text: str, language: str, voice: str) -> Path:
        """Where the rendering of this request is (or will be) cached."""
        spec = self.voice_spec(language, voice)
        key = hashlib.sha256(f"{spec}\0{self.speed_wpm}\0{text}".encode()).hexdigest()
        return self.cache_dir / f"tts-{key[:32]}.wav"

    def render(self, text: str, language: str = "pl", voice: str = "female") -> Path:
        """Return the cached 8 kHz WAV for the request, running espeak-ng on a miss."""
        if not text.strip():
            raise TtsError("TTS text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise TtsError(f"TTS text is {len(text)} characters, over {MAX_TEXT_CHARS}")
        target = self.path(text, language, voice)
        if target.is_file():
            return target
        exe = shutil.which(self.binary)
        if exe is None:
            raise TtsError(f"TTS engine {self.binary!r} not found on PATH")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, raw = tempfile.mkstemp(prefix=".espeak-", suffix=".wav", dir=self.cache_dir)
        os.close(fd)
        try:
            # Text on stdin, not argv: no option injection from text starting with "-".
            cmd = [exe, "-v", self.voice_spec(language, voice), "-s", str(self.speed_wpm),
                   "-w", raw]
            self.renders += 1
            try:
                proc = subprocess.run(cmd, input=text.encode(), capture_output=True,
                                      timeout=self.timeout_s, check=False)
            except subprocess.TimeoutExpired as exc:
                raise TtsError(f"espeak-ng timed out after {self.timeout_s} s") from exc
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace").strip()[:200]
                raise TtsError(f"espeak-ng failed (exit {proc.returncode}): {err}")
            pcm = load_prompt_file(raw)
            write_wav_atomic(target, pcm)
        finally:
            Path(raw).unlink(missing_ok=True)
        return target
