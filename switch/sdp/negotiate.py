"""Offer/answer for a B2BUA with anchored media (RFC 3264), as pure functions.

Each leg sees only the switch: every description the switch sends is its own (own o=,
s=, c= and port of the relay), built from what the other leg sent. The switch keeps
the offerer's payload-type numbers towards the other leg, so codecs are matched by
name and clock rate only where the two legs' numbers may differ: in the answer back
to the offerer and in the relay's payload-type translation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from switch.sdp.errors import NoCommonCodec, SdpError
from switch.sdp.model import (
    DIRECTIONS,
    STATIC_PAYLOAD_TYPES,
    UNSPECIFIED_ADDRESSES,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    Timing,
    fmtp_params,
    payload_type,
)

DEFAULT_CODECS: tuple[str, ...] = ("PCMU/8000", "PCMA/8000", "G729/8000", "telephone-event/8000")
TELEPHONE_EVENT = "telephone-event"
# Payload formats that do not carry a voice on their own: an offer needs one more.
AUXILIARY_CODECS = frozenset({TELEPHONE_EVENT, "cn"})
# Profiles the relay carries; AVPF goes on as AVP because it cannot honour feedback.
RELAYED_PROTOS: Mapping[str, str] = {"RTP/AVP": "RTP/AVP", "RTP/AVPF": "RTP/AVP"}

# Attributes never copied to the other leg: they would leak the phone's addresses or
# keys, or promise something the relay does not do.
DROPPED_ATTRIBUTES = frozenset({
    # ICE (RFC 8839): candidates are the phone's addresses; the relay does no ICE.
    "candidate", "remote-candidates", "end-of-candidates", "ice-ufrag", "ice-pwd",
    "ice-options", "ice-lite", "ice-mismatch", "ice-pacing",
    # Keys and secure transport (SDES, DTLS-SRTP, MIKEY, ZRTP, capability negotiation).
    "crypto", "fingerprint", "setup", "connection", "tls-id", "key-mgmt", "zrtp-hash",
    "encryption", "acap", "tcap", "pcfg", "acfg",
    # RTCP: the relay's RTCP is on port+1 (RFC 3550 §11), unmuxed, without feedback.
    "rtcp", "rtcp-mux", "rtcp-mux-only", "rtcp-rsize", "rtcp-fb", "rtcp-xr",
    # Stream identity and bundling: per-leg, and header extensions are not mapped.
    "ssrc", "ssrc-group", "msid", "msid-semantic", "mid", "group", "extmap",
    "extmap-allow-mixed", "rid", "simulcast",
    # Names the phone's software to the other party; the switch speaks for itself.
    "tool",
})  # fmt: skip
_PT_SCOPED = frozenset({"rtpmap", "fmtp"})
_FIRST_DYNAMIC_PT = 96


@dataclass(frozen=True, slots=True)
class RelayAddress:
    """Where the relay receives RTP for one leg (RTCP on port + 1)."""

    address: str
    port: int

    @property
    def connection(self) -> Connection:
        return _relay_connection(self.address)


# Every description the switch builds carries its relay's c= line: one frozen (so
# shareable) Connection per relay address instead of a new one each time.
@functools.lru_cache(maxsize=256)
def _relay_connection(address: str) -> Connection:
    return Connection.for_address(address)


@dataclass(slots=True)
class OriginState:
    """The o= line of everything the switch sends on one leg (RFC 3264 §8).

    The session id stays; the version goes up by one on each new description, so a
    peer sees every re-offer or changed answer as a modification.
    """

    session_id: int
    address: str
    username: str = "-"
    version: int = 0
    _issued: bool = field(default=False, init=False, repr=False)

    def next(self) -> Origin:
        """The origin for a new description: `version` first, then one more each time."""
        if self._issued:
            self.version += 1
        self._issued = True
        return self.current()

    def current(self) -> Origin:
        """The origin of the last description, to send it again unchanged."""
        addrtype = "IP6" if ":" in self.address else "IP4"
        return Origin(self.username, self.session_id, self.version, "IN", addrtype, self.address)


@dataclass(frozen=True, slots=True)
class PayloadMap:
    """Payload-type rewrites for the relay, per direction; absent types pass unchanged.

    `a_to_b[pt]` is the type to write on a packet received from leg A before sending
    it to leg B (e.g. `{101: 96}`), and `b_to_a` the other way (`{96: 101}`).
    """

    a_to_b: Mapping[int, int]
    b_to_a: Mapping[int, int]


# -- codec policy ----------------------------------------------------------------
def _allowed(codecs: Iterable[str]) -> list[tuple[str, int | None]]:
    """`NAME[/rate]` entries as (lower-case name, rate or None for any rate)."""
    result: list[tuple[str, int | None]] = []
    for entry in codecs:
        name, _, rate = entry.partition("/")
        rate = rate.partition("/")[0]
        if not name or (rate and not rate.isdigit()):
            raise ValueError(f"codec must be NAME or NAME/RATE: {entry!r}")
        result.append((name.lower(), int(rate) if rate else None))
    return result


class _Policy(NamedTuple):
    """Allowed codecs as sets: `(name, rate)` entries, and names allowed at any rate."""

    exact: frozenset[tuple[str, int]]
    any_rate: frozenset[str]

    def allows(self, codec: RtpMap) -> bool:
        key = codec.key
        return key in self.exact or key[0] in self.any_rate


# The codec list is the same few configured tuples call after call: parse it once each.
# ValueError (a bad entry) is not cached and so raised on every call, as before.
@functools.lru_cache(maxsize=64)
def _policy(codecs: tuple[str, ...]) -> _Policy:
    allowed = _allowed(codecs)
    return _Policy(
        frozenset((n, r) for n, r in allowed if r is not None),
        frozenset(n for n, r in allowed if r is None),
    )


def _is_voice(codec: RtpMap) -> bool:
    return codec.encoding.lower() not in AUXILIARY_CODECS


# -- shared pieces ---------------------------------------------------------------
def _sent_direction(sdp: SessionDescription, media: MediaDescription) -> Direction:
    """The direction a description really asks for: c=0.0.0.0 means "send me nothing"."""
    direction = sdp.direction_of(media)
    conn = sdp.connection_of(media)
    if conn is not None and conn.address in UNSPECIFIED_ADDRESSES:
        return direction.restrict(Direction.SENDONLY)
    return direction


def _session(
    origin: Origin,
    relay: RelayAddress,
    media: list[MediaDescription],
    name: str,
    attributes: list[Attribute],
) -> SessionDescription:
    return SessionDescription(
        origin=origin,
        name=name,
        connection=relay.connection,
        timings=[Timing(0, 0)],
        attributes=attributes,
        media=media,
    )


def _disabled(media: MediaDescription) -> MediaDescription:
    """A declined or removed stream (RFC 3264 §6, §8.2): same type, proto, formats; port 0."""
    return MediaDescription(
        media=media.media, port=0, proto=media.proto, formats=list(media.formats) or ["0"]
    )


def _kept_attributes(
    attributes: Iterable[Attribute], codecs: Mapping[int, RtpMap] | None = None
) -> list[Attribute]:
    """The attributes that go on to the other leg: not dropped, no direction (set
    separately), and with `codecs`, a=rtpmap and a=fmtp only of those payload types."""
    kept: list[Attribute] = []
    for attr in attributes:
        name, value = attr
        if name in DROPPED_ATTRIBUTES or (value is None and name in DIRECTIONS):
            continue
        if (
            codecs is not None
            and name in _PT_SCOPED
            and payload_type(_first_word(value)) not in codecs
        ):
            continue
        kept.append(attr)
    return kept


def _offerable(media: MediaDescription, policy: _Policy) -> dict[int, RtpMap] | None:
    """The allowed codecs of an enabled relayable audio stream, if it has a voice codec."""
    if media.media != "audio" or media.port == 0 or media.proto.upper() not in RELAYED_PROTOS:
        return None
    kept = {pt: c for pt, c in media.rtpmap().items() if policy.allows(c)}
    for codec in kept.values():
        if _is_voice(codec):
            return kept
    return None


def _offered_codecs(sdp: SessionDescription) -> str:
    names = {str(c) for m in sdp.media if m.media == "audio" for c in m.rtpmap().values()}
    return ", ".join(sorted(names)) or "none"


# -- B2BUA: offer on to the other leg --------------------------------------------
def build_offer(
    received: SessionDescription,
    *,
    relay: RelayAddress,
    origin: Origin,
    codecs: Sequence[str] = DEFAULT_CODECS,
    session_name: str = "-",
    transcodable: frozenset[str] = frozenset(),
) -> SessionDescription:
    """The offer to send the other leg for an offer received on one leg.

    The first enabled RTP audio stream with an allowed voice codec is kept, with the
    allowed codecs in the offerer's order and its payload-type numbers, its direction
    (c=0.0.0.0 becoming a direction without receive), ptime, fmtp and other harmless
    attributes, on the relay's address and port. Every other stream is disabled (port 0).
    If the offer has a voice codec the media engine can transcode (`transcodable`:
    upper-case encoding names), the other allowed transcodable codecs the offerer did
    not list are appended, last, so the other leg can still pick one; the relay then
    converts. Raises NoCommonCodec when no stream qualifies.
    """
    policy = _policy(tuple(codecs))
    media_out: list[MediaDescription] = []
    chosen = False
    for media in received.media:
        kept = None if chosen else _offerable(media, policy)
        if kept is None:
            media_out.append(_disabled(media))
            continue
        chosen = True
        attributes = _kept_attributes(media.attributes, kept)
        if transcodable:
            _append_transcodable(kept, attributes, policy, transcodable)
        attributes.append(Attribute(str(_sent_direction(received, media))))
        formats = [str(pt) for pt in kept]
        stream = MediaDescription(
            media="audio",
            port=relay.port,
            proto=RELAYED_PROTOS[media.proto.upper()],
            formats=formats,
            information=media.information,
            bandwidths=list(media.bandwidths),
            attributes=attributes,
        )
        # The same codecs as `kept`: every a=rtpmap of those types went along, in order.
        stream._known_rtpmap(kept)
        media_out.append(stream)
    if not chosen:
        raise NoCommonCodec(
            f"no common audio codec (offered: {_offered_codecs(received)}; "
            f"allowed: {', '.join(codecs)})"
        )
    return _session(origin, relay, media_out, session_name, _kept_attributes(received.attributes))


# Codecs the switch adds for transcoding, on their static payload types, with the
# parameters the switch asks for (G.729: no Annex B unless a phone asks for it).
_TRANSCODING_OFFER: tuple[tuple[int, RtpMap, str | None], ...] = (
    (0, RtpMap("PCMU", 8000), None),
    (8, RtpMap("PCMA", 8000), None),
    (18, RtpMap("G729", 8000), "annexb=no"),
)


def _append_transcodable(
    kept: dict[int, RtpMap], attributes: list[Attribute], policy: _Policy,
    transcodable: frozenset[str],
) -> None:
    """Add the transcodable codecs missing from `kept` (and their a=rtpmap/fmtp)."""
    if not any(c.encoding.upper() in transcodable for c in kept.values() if _is_voice(c)):
        return
    names = {c.encoding.upper() for c in kept.values()}
    for pt, codec, params in _TRANSCODING_OFFER:
        name = codec.encoding.upper()
        if name in names or name not in transcodable or pt in kept or not policy.allows(codec):
            continue
        kept[pt] = codec
        attributes.append(Attribute("rtpmap", f"{pt} {codec}"))
        if params is not None:
            attributes.append(Attribute("fmtp", f"{pt} {params}"))


def _first_word(value: str | None) -> str:
    return (value or "").partition(" ")[0]


# -- B2BUA: answer back to the offerer -------------------------------------------
def build_answer(
    offer: SessionDescription,
    sent_offer: SessionDescription,
    answer: SessionDescription,
    *,
    relay: RelayAddress,
    origin: Origin,
    session_name: str = "-",
    transcodable: frozenset[str] = frozenset(),
) -> SessionDescription:
    """The answer to the offerer of `offer`, given the other leg's `answer` to `sent_offer`.

    `sent_offer` is what `build_offer(offer, ...)` produced. The answer has the
    offer's m= lines in the same order (RFC 3264 §6); the relayed stream lists the
    codecs the other leg accepted, in its order, under the offerer's payload-type
    numbers (matched by name and clock rate), with the other leg's fmtp and ptime,
    and the direction it answered, limited to what the offer allows (§6.1). Other
    streams are declined with port 0. Raises NoCommonCodec if the other leg declined
    the stream or accepted no voice codec, SdpError (488) if its answer does not fit
    the offer it was sent. If the other leg accepted only codecs the offerer did not
    offer (added by `build_offer` for transcoding), the offerer gets its own first
    transcodable voice codec instead, and the relay converts between the two.
    """
    if len(sent_offer.media) != len(offer.media):
        raise SdpError("the offer sent on does not belong to this offer", 500)
    if len(answer.media) != len(sent_offer.media):
        raise SdpError(
            f"answer has {len(answer.media)} m= lines, the offer had {len(sent_offer.media)}",
            488,
        )
    media_out: list[MediaDescription] = []
    accepted = False
    for theirs, sent, got in zip(offer.media, sent_offer.media, answer.media, strict=True):
        if sent.port == 0 or got.port == 0 or got.media != sent.media:
            media_out.append(_disabled(theirs))
            continue
        media_out.append(_answer_stream(offer, theirs, answer, got, relay, transcodable))
        accepted = True
    if not accepted:
        raise NoCommonCodec("the other leg declined the audio stream")
    return _session(origin, relay, media_out, session_name, [])


def _answer_stream(
    offer: SessionDescription,
    theirs: MediaDescription,
    answer: SessionDescription,
    got: MediaDescription,
    relay: RelayAddress,
    transcodable: frozenset[str] = frozenset(),
) -> MediaDescription:
    # Codecs match by `codec.key`, spelt out to spare the property calls (see
    # _direction_map).
    offered: dict[tuple[str, int], tuple[int, RtpMap]] = {}
    for pt, codec in theirs.rtpmap().items():
        offered.setdefault((codec.encoding.lower(), codec.clock_rate), (pt, codec))
    got_params = fmtp_params(got)  # got.fmtp(pt) for every pt, in one pass
    formats: list[str] = []
    attributes: list[Attribute] = []
    codecs: dict[int, RtpMap] = {}
    voice = False
    for answer_pt, codec in got.rtpmap().items():
        match = offered.get((codec.encoding.lower(), codec.clock_rate))
        if match is None or match[0] in codecs:
            continue
        pt, offered_codec = match
        voice = voice or _is_voice(codec)
        codecs[pt] = offered_codec
        formats.append(str(pt))
        attributes.append(Attribute("rtpmap", f"{pt} {offered_codec}"))
        params = got_params.get(str(answer_pt))
        if params is not None:
            attributes.append(Attribute("fmtp", f"{pt} {params}"))
    if not voice:
        transcoded = _transcoded_answer(theirs, got, transcodable) if transcodable else None
        if transcoded is None:
            raise NoCommonCodec("the other leg accepted none of the offered voice codecs")
        pt, offered_codec, params = transcoded
        codecs = {pt: offered_codec, **codecs}
        formats.insert(0, str(pt))
        head = [Attribute("rtpmap", f"{pt} {offered_codec}")]
        if params is not None:
            head.append(Attribute("fmtp", f"{pt} {params}"))
        attributes[:0] = head
    for name, value in (("ptime", got.ptime), ("maxptime", got.maxptime)):
        if value is not None:
            attributes.append(Attribute(name, str(value)))
    allowed = _sent_direction(offer, theirs).reversed()
    attributes.append(Attribute(str(_sent_direction(answer, got).restrict(allowed))))
    stream = MediaDescription(
        media=theirs.media,
        port=relay.port,
        proto=theirs.proto,
        formats=formats,
        attributes=attributes,
    )
    # One a=rtpmap per format, written from the codec it maps to (which reads back the
    # same: RtpMap's str() is what parse_rtpmap() reads).
    stream._known_rtpmap(codecs)
    return stream


def _transcoded_answer(
    theirs: MediaDescription, got: MediaDescription, transcodable: frozenset[str],
) -> tuple[int, RtpMap, str | None] | None:
    """The offerer's codec to answer with when the other leg picked one it never
    offered: its first transcodable voice codec, if the other leg's choice is
    transcodable too. G.729 gets annexb=yes only if the offerer asked for it."""
    if not any(_is_voice(c) and c.encoding.upper() in transcodable
               for c in got.rtpmap().values()):
        return None
    for pt, codec in theirs.rtpmap().items():
        name = codec.encoding.upper()
        if _is_voice(codec) and name in transcodable and codec.clock_rate == 8000:
            params = None
            if name == "G729":
                asked = (theirs.fmtp(pt) or "").replace(" ", "").lower()
                params = "annexb=yes" if "annexb=yes" in asked else "annexb=no"
            return pt, codec, params
    return None


def leg_codecs(answer: SessionDescription) -> tuple[list[tuple[int, str]], int | None]:
    """The voice codecs (payload type, upper-case name) of a negotiated description's
    audio stream, in preference order, and its telephone-event payload type."""
    audio = answer.audio()
    if audio is None:
        return [], None
    voice: list[tuple[int, str]] = []
    dtmf = None
    for pt, codec in audio.rtpmap().items():
        if codec.encoding.lower() == TELEPHONE_EVENT:
            dtmf = pt if dtmf is None else dtmf
        elif _is_voice(codec):
            voice.append((pt, codec.encoding.upper()))
    return voice, dtmf


# -- relay payload-type translation ----------------------------------------------
def payload_map(
    a_local: SessionDescription,
    a_remote: SessionDescription,
    b_local: SessionDescription,
    b_remote: SessionDescription,
) -> PayloadMap:
    """What the relay rewrites between two legs, from each leg's two descriptions.

    `*_local` is what the switch sent that leg, `*_remote` what the leg sent the switch
    (offer or answer alike). A packet is rewritten to the receiver's own number for the
    codec (its description says what it wants to receive); the sender is expected to
    use the switch's numbers, and its own ones are mapped too for phones that assume
    symmetric payload types.
    """
    a_out, a_in = _leg_codecs(a_local, a_remote)
    b_out, b_in = _leg_codecs(b_local, b_remote)
    return PayloadMap(
        a_to_b=_direction_map(a_out, a_in, b_in),
        b_to_a=_direction_map(b_out, b_in, a_in),
    )


def _leg_codecs(
    local: SessionDescription, remote: SessionDescription
) -> tuple[dict[int, RtpMap], dict[int, RtpMap]]:
    """The codecs of one leg's audio stream as the switch described it (its first
    enabled audio stream) and as the leg did: the remote stream negotiated with the
    local one, at the same index when the m= lines line up (an offer may have an
    earlier audio stream the switch disabled), else the remote's first audio stream."""
    index = _audio_index(local)
    paired = None
    if index is not None and len(local.media) == len(remote.media):
        candidate = remote.media[index]
        if candidate.media == "audio" and candidate.port != 0:
            paired = candidate
    if paired is None:
        paired = remote.audio()
    return (
        {} if index is None else local.media[index].rtpmap(),
        {} if paired is None else paired.rtpmap(),
    )


def _audio_index(sdp: SessionDescription) -> int | None:
    """Where `sdp.audio()` is in `sdp.media`."""
    for index, media in enumerate(sdp.media):
        if media.media == "audio" and media.port != 0:
            return index
    return None


def _direction_map(
    sender_local: dict[int, RtpMap],
    sender_remote: dict[int, RtpMap],
    receiver: dict[int, RtpMap],
) -> dict[int, int]:
    """Rewrites for packets to a receiver, from the codecs of the streams involved."""
    if not receiver:
        return {}
    # `(codec.encoding.lower(), codec.clock_rate)` is `codec.key` without the property
    # call: a payload_map() reads some twenty keys, and the calls made up a fifth of it.
    wanted: dict[tuple[str, int], int] = {}
    for pt, codec in receiver.items():
        wanted.setdefault((codec.encoding.lower(), codec.clock_rate), pt)
    sender = dict(sender_local)  # the switch's numbering wins over the sender's own
    for pt, codec in sender_remote.items():
        sender.setdefault(pt, codec)
    result: dict[int, int] = {}
    for pt, codec in sender.items():
        out = wanted.get((codec.encoding.lower(), codec.clock_rate))
        if out is not None and out != pt:
            result[pt] = out
    return result


# -- the switch as the media endpoint (IVR, dialers) -----------------------------
def answer_offer(
    offer: SessionDescription,
    *,
    relay: RelayAddress,
    origin: Origin,
    codecs: Sequence[str] = DEFAULT_CODECS,
    session_name: str = "-",
) -> SessionDescription:
    """The switch's own answer when it terminates the media itself.

    Picks the offerer's first allowed voice codec on the first usable audio stream,
    plus telephone-event if offered and allowed, under the offerer's numbers; the
    direction mirrors the offer's (RFC 3264 §6.1). Raises NoCommonCodec.
    """
    policy = _policy(tuple(codecs))
    media_out: list[MediaDescription] = []
    chosen = False
    for media in offer.media:
        kept = None if chosen else _offerable(media, policy)
        if kept is None:
            media_out.append(_disabled(media))
            continue
        chosen = True
        voice = next(pt for pt, c in kept.items() if _is_voice(c))
        dtmf_key = (TELEPHONE_EVENT, kept[voice].clock_rate)
        dtmf = next((pt for pt, c in kept.items() if c.key == dtmf_key), None)
        picked = [voice] if dtmf is None else [voice, dtmf]
        attributes = [Attribute("rtpmap", f"{pt} {kept[pt]}") for pt in picked]
        attributes += [
            Attribute("fmtp", f"{pt} {params}")
            for pt in picked
            if (params := media.fmtp(pt)) is not None
        ]
        if media.ptime is not None:
            attributes.append(Attribute("ptime", str(media.ptime)))
        attributes.append(Attribute(str(_sent_direction(offer, media).reversed())))
        media_out.append(
            MediaDescription(
                media="audio",
                port=relay.port,
                proto=media.proto,
                formats=[str(pt) for pt in picked],
                attributes=attributes,
            )
        )
    if not chosen:
        raise NoCommonCodec(
            f"no common audio codec (offered: {_offered_codecs(offer)}; "
            f"allowed: {', '.join(codecs)})"
        )
    return _session(origin, relay, media_out, session_name, [])


def make_offer(
    *,
    relay: RelayAddress,
    origin: Origin,
    codecs: Sequence[str] = DEFAULT_CODECS,
    direction: Direction = Direction.SENDRECV,
    ptime: int | None = 20,
    session_name: str = "-",
) -> SessionDescription:
    """The switch's own audio offer (calls it originates), codecs in `codecs` order.

    Static payload types where RFC 3551 has one, telephone-event/8000 on 101, other
    codecs on dynamic numbers from 96; telephone-event offers events 0-16.
    """
    static = {c.key: pt for pt, c in STATIC_PAYLOAD_TYPES.items()}
    formats: list[str] = []
    rtpmaps: list[Attribute] = []
    fmtps: list[Attribute] = []
    dynamic = _FIRST_DYNAMIC_PT
    for entry, (name, rate) in zip(codecs, _allowed(codecs), strict=True):
        parts = entry.split("/")
        channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        codec = RtpMap(parts[0], rate or 8000, channels)
        if codec.key in static:
            pt = static[codec.key]
        elif name == TELEPHONE_EVENT and codec.clock_rate == 8000:
            pt = 101  # what baresip, SIPp and most phones use
        else:
            while dynamic == 101 or str(dynamic) in formats:
                dynamic += 1
            pt, dynamic = dynamic, dynamic + 1
        if str(pt) in formats:
            continue
        formats.append(str(pt))
        rtpmaps.append(Attribute("rtpmap", f"{pt} {codec}"))
        if name == TELEPHONE_EVENT:
            fmtps.append(Attribute("fmtp", f"{pt} 0-16"))  # DTMF digits and flash
        elif name == "g729":
            fmtps.append(Attribute("fmtp", f"{pt} annexb=no"))  # unless a phone asks
    if not formats:
        raise ValueError("make_offer needs at least one codec")
    attributes = rtpmaps + fmtps
    if ptime is not None:
        attributes.append(Attribute("ptime", str(ptime)))
    attributes.append(Attribute(direction.value))
    media = MediaDescription(
        media="audio", port=relay.port, proto="RTP/AVP", formats=formats, attributes=attributes
    )
    return _session(origin, relay, [media], session_name, [])
