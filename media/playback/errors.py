"""Errors of prompt loading, TTS and playback; all are `MediaError`s (root `SwitchError`)."""

from __future__ import annotations

from media.errors import MediaError


class PromptError(MediaError):
    """A prompt could not be turned into 8 kHz audio."""


class PromptNotFound(PromptError, FileNotFoundError):
    """The prompt file does not exist (or is not a regular file)."""


class PromptTooLarge(PromptError):
    """The file is over the configured limit (MP3: 2 MB by default)."""


class PromptUnsupported(PromptError):
    """Not a format we decode (by content, not by name): WAV, MP3 and FLAC are."""


class PromptCorrupt(PromptError):
    """The file claims a supported format but cannot be decoded (truncated, garbage)."""


class TtsError(PromptError):
    """espeak-ng is missing, failed, timed out, or the request is invalid."""
