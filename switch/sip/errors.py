"""Errors of the SIP layer: each carries the status an answer to the peer should use."""

from switch.errors import SwitchError


class SipError(SwitchError):
    """Base of every SIP-layer error."""


class SipParseError(SipError):
    """A message that cannot be accepted; `status` and `reason` form the answer line.

    The parser raises only this type: any malformed input, whatever its shape, ends
    here (a property-tested invariant), so callers can answer statelessly.
    """

    __slots__ = ("status", "reason")

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
