"""Errors of the SDP layer; each carries the SIP status an answer to the peer should use."""

from switch.errors import SwitchError


class SdpError(SwitchError):
    """A session description that cannot be used.

    `parse_sdp` raises only this type, whatever its input (a property-tested
    invariant). A malformed body is answered 400; the negotiation errors below 488.
    """

    __slots__ = ("status",)

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class NoCommonCodec(SdpError):
    """Nothing usable is left of an offer or an answer: answer 488 Not Acceptable Here."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 488)
