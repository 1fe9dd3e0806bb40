"""SDP (RFC 4566) and offer/answer (RFC 3264) for the B2BUA, sans-I/O.

Model and wire format (`switch.sdp.model`, `switch.sdp.parser`)
    parse_sdp(data: bytes | str) -> SessionDescription
        Parse; raises only SdpError (status 400), e.g. "line 5: m= line needs port,
        proto and formats". LF or CRLF; caps MAX_SDP_BYTES, MAX_LINES, MAX_MEDIA.
    SessionDescription.to_bytes() -> bytes
        CRLF lines in RFC 4566 order; parse_sdp(x.to_bytes()) == x.
    SessionDescription / MediaDescription
        Mutable dataclasses, one field per line type; attributes are an ordered
        list of Attribute(name, value | None); unknown x= lines kept in `extra`.
    MediaDescription.rtpmap() -> dict[int, RtpMap]     codecs of the m= formats
    MediaDescription.fmtp(pt) -> str | None            format parameters of a type
    MediaDescription.ptime / .maxptime -> int | None
    <section>.direction -> Direction | None (settable)  the a= written at that level
    SessionDescription.direction_of(media) -> Direction  media, else session, else sendrecv
    SessionDescription.connection_of(media) -> Connection | None   media c=, else session c=
    SessionDescription.is_held(media) -> bool          sendonly/inactive or c=0.0.0.0
    SessionDescription.audio() -> MediaDescription | None   first enabled audio stream
    SessionDescription.audio_target() -> tuple[str, int] | None   where to send its RTP

Offer/answer (`switch.sdp.negotiate`), pure functions over the model
    build_offer(received, *, relay, origin, codecs=DEFAULT_CODECS) -> SessionDescription
        Offer to the other leg: allowed codecs in the offerer's order and numbering,
        relay address/port, own o=, leaking or unhonourable attributes dropped
        (DROPPED_ATTRIBUTES), other streams disabled. NoCommonCodec (488) if nothing
        usable remains.
    build_answer(offer, sent_offer, answer, *, relay, origin) -> SessionDescription
        Answer to the offerer from the other leg's answer: accepted codecs under the
        offerer's numbers, the answered direction (within RFC 3264 §6.1), same m= lines.
    payload_map(a_local, a_remote, b_local, b_remote) -> PayloadMap
        The relay's payload-type rewrites per direction, e.g. {101: 96} / {96: 101}.
    OriginState(session_id, address).next() -> Origin
        Per-leg o= whose version grows with every description sent on that leg.
    answer_offer(offer, *, relay, origin, codecs) / make_offer(*, relay, origin, ...)
        When the switch itself terminates the media (IVR, dialers).

A typical call: A's INVITE offer `oa`; `ob = build_offer(oa, relay=b_port,
origin=b_origin.next())` goes to B; B answers `ab`; `aa = build_answer(oa, ob, ab,
relay=a_port, origin=a_origin.next())` goes to A; the relay is set up with
`payload_map(aa, oa, ob, ab)`. A re-INVITE from either side runs the same two
steps with the roles of the legs swapped as needed.
"""

from switch.sdp.errors import NoCommonCodec, SdpError
from switch.sdp.model import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    Timing,
)
from switch.sdp.negotiate import (
    DEFAULT_CODECS,
    DROPPED_ATTRIBUTES,
    OriginState,
    PayloadMap,
    RelayAddress,
    answer_offer,
    build_answer,
    build_offer,
    leg_codecs,
    make_offer,
    payload_map,
)
from switch.sdp.parser import MAX_LINES, MAX_MEDIA, MAX_SDP_BYTES, parse_sdp

__all__ = [
    "DEFAULT_CODECS",
    "DROPPED_ATTRIBUTES",
    "MAX_LINES",
    "MAX_MEDIA",
    "MAX_SDP_BYTES",
    "STATIC_PAYLOAD_TYPES",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "MediaDescription",
    "NoCommonCodec",
    "Origin",
    "OriginState",
    "PayloadMap",
    "RelayAddress",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Timing",
    "answer_offer",
    "build_answer",
    "build_offer",
    "leg_codecs",
    "make_offer",
    "parse_sdp",
    "payload_map",
]
