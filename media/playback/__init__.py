"""Playback: prompt files and TTS to 8 kHz audio, paced 20 ms frames, music on hold.

Modules: `loader` (files -> PCM), `tts` (espeak-ng, disk cache), `library` (control
prompts -> PCM, in-memory LRU), `player` (sans-I/O pacing; read its docstring first),
`moh` (looped hold music, synthesised default).
"""

from media.playback.audio import FRAME_SAMPLES, FRAME_SECONDS, RATE, Pcm
from media.playback.errors import (
    PromptCorrupt,
    PromptError,
    PromptNotFound,
    PromptTooLarge,
    PromptUnsupported,
    TtsError,
)
from media.playback.library import PromptLibrary, silence
from media.playback.loader import MAX_MP3_BYTES, load_prompt_file
from media.playback.moh import MusicOnHold, ensure_default_moh, synth_default_moh
from media.playback.player import PlaybackEnded, PlaybackFrame, PlaybackSource, Player
from media.playback.tts import DEFAULT_VOICES, EspeakTts

__all__ = [
    "DEFAULT_VOICES", "FRAME_SAMPLES", "FRAME_SECONDS", "MAX_MP3_BYTES", "RATE",
    "EspeakTts", "MusicOnHold", "Pcm", "PlaybackEnded", "PlaybackFrame", "PlaybackSource",
    "Player", "PromptCorrupt", "PromptError", "PromptLibrary", "PromptNotFound",
    "PromptTooLarge", "PromptUnsupported", "TtsError", "ensure_default_moh",
    "load_prompt_file", "silence", "synth_default_moh",
]
