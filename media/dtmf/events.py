"""Digit events produced by the three DTMF receivers (RFC 4733, in-band, SIP INFO).

A digit produces a `DigitStarted` as soon as it is certain (call control can stop a
prompt at once) and a `DigitEnded` once its duration is known. `to_dtmf_received`
turns the end event into the call-control event of `switch.control`.
"""

from __future__ import annotations

from dataclasses import dataclass

from switch.control import DtmfReceived, DtmfSource


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitStarted:
    """A digit began at `at` (seconds, the receiver's clock: its estimated onset)."""

    digit: str
    at: float
    source: DtmfSource
    volume_dbm0: float | None = None  # RFC 4733: the sender's volume field, negated
    rtp_timestamp: int | None = None  # RFC 4733: the event's timestamp (its identity)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitEnded:
    """A digit is over: it began at `at` and lasted `duration_ms`.

    `end_seen` is False when the digit's end was never signalled (RFC 4733: the end
    packets were lost and a timer or the next event closed it); the duration is then
    the last one known.
    """

    digit: str
    at: float
    duration_ms: int
    source: DtmfSource
    end_seen: bool = True
    rtp_timestamp: int | None = None


DigitEvent = DigitStarted | DigitEnded


def to_dtmf_received(event: DigitEnded, call_id: str) -> DtmfReceived:
    """The call-control event for a finished digit on `call_id`."""
    return DtmfReceived(
        call_id=call_id,
        digit=event.digit,
        at=event.at,
        duration_ms=event.duration_ms,
        source=event.source,
    )
