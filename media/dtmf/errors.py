"""Errors of the DTMF package; all derive from the media layer's `MediaError`."""

from __future__ import annotations

from media.errors import MediaError


class DtmfError(MediaError):
    """Root of the DTMF errors."""


class DtmfValueError(DtmfError, ValueError):
    """A caller passed a bad argument (unknown digit, duration out of range, …)."""


class DtmfInfoError(DtmfError):
    """A SIP INFO DTMF body that cannot be used; `status` is the SIP answer it deserves."""

    status = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a short machine-readable tag, e.g. "bad-signal"


class UnsupportedInfoType(DtmfInfoError):
    """An INFO whose Content-Type is not a DTMF type this switch reads (answer 415)."""

    status = 415
