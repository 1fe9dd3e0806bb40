"""Errors raised by the media layer; all derive from the switch's root `SwitchError`."""

from __future__ import annotations

from switch.errors import SwitchError


class MediaError(SwitchError):
    """Root of the media layer's errors."""


class PortsExhausted(MediaError):
    """No free RTP/RTCP port pair is left in the configured range."""


class UnknownSession(MediaError, KeyError):
    """No relay session with that id (never allocated, or already deleted)."""


class CodecError(MediaError):
    """A payload the codec cannot decode, or a codec that is not available here."""
