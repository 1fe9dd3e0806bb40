"""Property tests of the SDP layer (hypothesis).

(a) round trip: generated descriptions survive to_bytes -> parse_sdp unchanged;
(b) only SdpError escapes parse_sdp, whatever the bytes (random, or mutations of real
    SDP), and whatever it accepts it writes back out and reads again identically;
(c) the offer/answer functions raise only SdpError on anything the parser accepts,
    and what they build round-trips too.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switch.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    OriginState,
    RelayAddress,
    SdpError,
    SessionDescription,
    Timing,
    answer_offer,
    build_answer,
    build_offer,
    parse_sdp,
    payload_map,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS = [
    b"v=0\r\no=- 1962380813 1149628133 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n"
    b"t=0 0\r\na=tool:baresip 1.0.0\r\nm=audio 10256 RTP/AVP 0 8 101\r\nb=AS:96\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\na=rtcp:10257\r\n",
    b"v=0\no=alice 2463 1783 IN IP4 192.168.0.20\ns=Talk\nc=IN IP4 0.0.0.0\nt=0 0\n"
    b"m=video 9078 RTP/AVP 96\na=rtpmap:96 VP8/90000\nm=audio 7078 RTP/AVP 18 0 96\n"
    b"a=fmtp:18 annexb=yes\na=rtpmap:96 telephone-event/8000\na=sendonly\n",
]
SWITCH = "10.0.0.1"

# -- building blocks ---------------------------------------------------------------
TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`{|}~"
WORD_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))  # anything but whitespace

tokens = st.text(TOKEN_CHARS, min_size=1, max_size=10)
words = st.text(WORD_CHARS, min_size=1, max_size=12)
# Free text (s=, i=): anything but NUL, CR, LF; trailing spaces are content.
texts = st.text(st.characters(codec="utf-8", exclude_characters="\0\r\n"), max_size=16)
# Other values lose trailing blanks on parsing, so generate them without.
values = texts.map(lambda v: v.rstrip(" \t"))
numbers = st.integers(0, 10**20 - 1)
unknown_types = st.sampled_from([c for c in string.ascii_letters if c not in "vosiuepcbtrzkam"])

attributes = st.builds(Attribute, tokens, st.one_of(st.none(), values))
connections = st.builds(Connection, words, words, words)
bandwidths = st.builds(Bandwidth, tokens, numbers)
extras = st.lists(st.tuples(unknown_types, values), max_size=2)


@st.composite
def media_descriptions(draw: st.DrawFn) -> MediaDescription:
    return MediaDescription(
        media=draw(words),
        port=draw(st.integers(0, 65535)),
        port_count=draw(st.one_of(st.none(), st.integers(1, 99999))),
        proto=draw(st.one_of(st.sampled_from(["RTP/AVP", "RTP/SAVP", "udptl"]), words)),
        formats=draw(st.lists(words, min_size=1, max_size=5)),
        information=draw(st.one_of(st.none(), texts)),
        connections=draw(st.lists(connections, max_size=2)),
        bandwidths=draw(st.lists(bandwidths, max_size=2)),
        key=draw(st.one_of(st.none(), values)),
        attributes=draw(st.lists(attributes, max_size=6)),
        extra=draw(extras),
    )


@st.composite
def session_descriptions(draw: st.DrawFn) -> SessionDescription:
    origin = Origin(draw(words), draw(numbers), draw(numbers), draw(words), draw(words),
                    draw(words))  # fmt: skip
    timings = st.builds(Timing, numbers, numbers, st.lists(values, max_size=2))
    return SessionDescription(
        origin=origin,
        name=draw(texts),
        information=draw(st.one_of(st.none(), texts)),
        uri=draw(st.one_of(st.none(), values)),
        emails=draw(st.lists(values, max_size=2)),
        phones=draw(st.lists(values, max_size=2)),
        connection=draw(st.one_of(st.none(), connections)),
        bandwidths=draw(st.lists(bandwidths, max_size=2)),
        timings=draw(st.lists(timings, max_size=2)),
        zone=draw(st.one_of(st.none(), values)),
        key=draw(st.one_of(st.none(), values)),
        attributes=draw(st.lists(attributes, max_size=4)),
        media=draw(st.lists(media_descriptions(), max_size=4)),
        extra=draw(extras),
    )


# Plausible audio offers, so negotiation gets past "no common codec" often enough.
rtpmaps = st.sampled_from([
    "0 PCMU/8000", "8 PCMA/8000", "18 G729/8000", "101 telephone-event/8000",
    "96 telephone-event/8000", "96 opus/48000/2", "9 G722/8000", "13 CN/8000", "97 x",
])  # fmt: skip
directions = st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive", "bogus"])


@st.composite
def audio_sdps(draw: st.DrawFn) -> bytes:
    lines = [f"v=0\no=- 1 {draw(st.integers(0, 9))} IN IP4 192.0.2.1\ns=-"]
    lines.append(f"c=IN IP4 {draw(st.sampled_from(['192.0.2.1', '0.0.0.0']))}\nt=0 0")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["audio", "audio", "audio", "video"]))
        port = draw(st.sampled_from([0, 4000, 4000, 4002]))
        proto = draw(st.sampled_from(["RTP/AVP", "RTP/AVP", "RTP/AVP", "RTP/AVPF", "RTP/SAVP"]))
        maps = draw(st.lists(rtpmaps, min_size=1, max_size=5))
        fmts = " ".join(m.split()[0] for m in maps)
        lines.append(f"m={kind} {port} {proto} {fmts}")
        lines += [f"a=rtpmap:{m}" for m in maps]
        lines += [f"a={d}" for d in draw(st.lists(directions, max_size=1))]
        lines += draw(st.lists(st.sampled_from(["a=ptime:20", "a=fmtp:18 annexb=no",
                                                "a=fmtp:101 0-15", "a=rtcp:4001"])))  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


@st.composite
def answers_to(draw: st.DrawFn, offer: SessionDescription) -> SessionDescription:
    """What a phone might answer: some of the offered codecs, maybe renumbered."""
    answer = offer.copy()
    answer.origin = Origin("-", 9, 9, "IN", "IP4", "192.0.2.9")
    for media in answer.media:
        maps = media.rtpmap()
        if not maps or draw(st.integers(0, 5)) == 0:
            media.port = 0
            continue
        kept = draw(st.lists(st.sampled_from(sorted(maps)), min_size=1, unique=True))
        renumber = {pt: draw(st.sampled_from([pt, 96, 97, 101, 110])) for pt in kept}
        media.formats = [str(renumber[pt]) for pt in kept]
        media.attributes = [Attribute("rtpmap", f"{renumber[pt]} {maps[pt]}") for pt in kept]
        media.attributes += [Attribute(d) for d in draw(st.lists(directions, max_size=1))]
    return answer


def reparses(parsed: SessionDescription) -> None:
    assert parse_sdp(parsed.to_bytes()) == parsed
    assert parse_sdp(str(parsed)) == parsed


# -- (a) round trip ----------------------------------------------------------------
@SETTINGS
@given(session_descriptions())
def test_round_trip(description: SessionDescription) -> None:
    wire = description.to_bytes()
    assert parse_sdp(wire) == description
    assert parse_sdp(wire.replace(b"\r\n", b"\n")) == description
    assert parse_sdp(wire).to_bytes() == wire


# -- (b) only SdpError escapes -----------------------------------------------------
def parse_or_error(data: bytes) -> None:
    try:
        parsed = parse_sdp(data)
    except SdpError:
        return
    reparses(parsed)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    parse_or_error(data)
    parse_or_error(b"v=0\r\n" + data)
    parse_or_error(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n" + data)


@SETTINGS
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=4), st.integers(0, 4)),
             min_size=1, max_size=6),
)  # fmt: skip
def test_byte_mutations(seed: bytes, edits: list[tuple[int, bytes, int]]) -> None:
    data = bytearray(seed)
    for position, insert, delete in edits:
        at = position % (len(data) + 1)
        data[at : at + delete] = insert
    parse_or_error(bytes(data))


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_line_mutations(seed: bytes, data: st.DataObject) -> None:
    lines = seed.replace(b"\r\n", b"\n").split(b"\n")
    mutated = data.draw(st.permutations(lines)) if data.draw(st.booleans()) else list(lines)
    extra = data.draw(st.lists(st.sampled_from(lines + [b"", b"=", b"a=", b"m=audio"]),
                               max_size=3))  # fmt: skip
    mutated[data.draw(st.integers(0, len(mutated))) :] += extra
    parse_or_error(b"\r\n".join(mutated))


# -- (c) negotiation over anything the parser accepts ------------------------------
@SETTINGS
@given(
    st.one_of(audio_sdps(), audio_sdps(), session_descriptions().map(lambda s: s.to_bytes())),
    audio_sdps(),
    st.data(),
)
def test_negotiation_raises_only_sdp_errors(
    offer_bytes: bytes, other_bytes: bytes, data: st.DataObject
) -> None:
    offer = parse_sdp(offer_bytes)
    a_relay, b_relay = RelayAddress(SWITCH, 30000), RelayAddress(SWITCH, 30002)
    try:
        local = answer_offer(offer, relay=a_relay, origin=OriginState(1, SWITCH).next())
    except SdpError:
        pass
    else:
        reparses(local)
    try:
        sent = build_offer(offer, relay=b_relay, origin=OriginState(2, SWITCH).next())
    except SdpError:
        return
    reparses(sent)
    assert len(sent.media) == len(offer.media)
    assert [m.port for m in sent.media if m.port] == [30002]
    fitting = data.draw(answers_to(sent))
    answer = fitting if data.draw(st.integers(0, 4)) else parse_sdp(other_bytes)
    before = (offer.copy(), answer.copy())
    try:
        back = build_answer(offer, sent, answer, relay=a_relay,
                            origin=OriginState(3, SWITCH).next())  # fmt: skip
    except SdpError:
        return
    finally:
        assert (offer, answer) == before  # pure: inputs untouched
    reparses(back)
    assert [m.media for m in back.media] == [m.media for m in offer.media]
    pmap = payload_map(back, offer, sent, answer)
    assert all(0 <= pt <= 127 for pair in pmap.a_to_b.items() for pt in pair)
