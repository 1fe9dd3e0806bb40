"""SDP model, parser and B2BUA offer/answer (RFC 4566, RFC 3264) on real phones' SDP."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from switch.errors import SwitchError
from switch.sdp import (
    DEFAULT_CODECS,
    DROPPED_ATTRIBUTES,
    MAX_LINES,
    MAX_MEDIA,
    MAX_SDP_BYTES,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    NoCommonCodec,
    Origin,
    OriginState,
    PayloadMap,
    RelayAddress,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
    answer_offer,
    build_answer,
    build_offer,
    make_offer,
    parse_sdp,
    payload_map,
)


def sdp(text: str) -> bytes:
    """Test SDPs are written with LF and indentation; phones send CRLF."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ("\r\n".join(lines) + "\r\n").encode()


BARESIP_OFFER = sdp("""
    v=0
    o=- 1962380813 1149628133 IN IP4 192.168.1.10
    s=-
    c=IN IP4 192.168.1.10
    t=0 0
    a=tool:baresip 1.0.0
    m=audio 10256 RTP/AVP 0 8 101
    b=AS:96
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=ptime:20
    a=sendrecv
    a=rtcp:10257
    a=rtcp-rsize
    a=label:1
""")

# SIPp's built-in uac scenario (sipp -sn uac), [media_ip] and [media_port] filled in.
SIPP_UAC_OFFER = sdp("""
    v=0
    o=user1 53655765 2353687637 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 6000 RTP/AVP 0
    a=rtpmap:0 PCMU/8000
""")

LINPHONE_OFFER = sdp("""
    v=0
    o=alice 2463 1782 IN IP4 192.168.0.20
    s=Talk
    c=IN IP4 192.168.0.20
    t=0 0
    a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
    m=audio 7078 RTP/AVP 97 18 8 0 96
    a=rtpmap:97 opus/48000/2
    a=fmtp:97 useinbandfec=1
    a=fmtp:18 annexb=yes
    a=rtpmap:96 telephone-event/8000
    a=rtcp-fb:* trr-int 1000
    a=rtcp-fb:* ccm tmmbr
""")

YEALINK_OFFER = sdp("""
    v=0
    o=- 20012 20012 IN IP4 10.0.0.52
    s=SDP data
    c=IN IP4 10.0.0.52
    t=0 0
    m=audio 11796 RTP/AVP 9 0 8 18 101
    a=rtpmap:9 G722/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=fmtp:101 0-15
    a=rtpmap:101 telephone-event/8000
    a=ptime:20
    a=sendrecv
""")

BARESIP_HOLD = BARESIP_OFFER.replace(b" 1149628133 ", b" 1149628134 ").replace(
    b"a=sendrecv", b"a=sendonly"
)

# RFC 2543 hold, as old Cisco and X-Lite builds still send it: no direction attribute.
RFC2543_HOLD = sdp("""
    v=0
    o=CiscoSystemsSIP-GW-UserAgent 4207 2 IN IP4 0.0.0.0
    s=SIP Call
    c=IN IP4 0.0.0.0
    t=0 0
    m=audio 18190 RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
""")

VIDEO_OFFER = sdp("""
    v=0
    o=alice 2463 1783 IN IP4 192.168.0.20
    s=Talk
    c=IN IP4 192.168.0.20
    b=AS:380
    t=0 0
    m=video 9078 RTP/AVP 96 97
    a=rtpmap:96 VP8/90000
    a=rtpmap:97 H264/90000
    a=fmtp:97 profile-level-id=42801F
    a=rtcp-fb:* ccm fir
    m=audio 7078 RTP/AVP 0 8 101
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
""")

ICE_SRTP_OFFER = sdp("""
    v=0
    o=Z 1700000000 1 IN IP4 203.0.113.5
    s=Z
    c=IN IP4 203.0.113.5
    t=0 0
    a=ice-ufrag:3b8f1c2a
    a=ice-pwd:0b9c4a8d5e6f7a8b9c0d1e2f
    a=group:BUNDLE 0
    m=audio 52000 RTP/AVP 8 0 3 101
    a=mid:0
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=sendrecv
    a=rtcp-mux
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
    a=candidate:1 1 UDP 2130706431 192.168.1.20 52000 typ host
    a=candidate:2 1 UDP 1694498815 203.0.113.5 52000 typ srflx raddr 192.168.1.20 rport 52000
    a=end-of-candidates
    a=ssrc:3287364913 cname:zoiper
""")

SWITCH = "10.0.0.1"
A_RELAY = RelayAddress(SWITCH, 30000)  # where the relay meets leg A
B_RELAY = RelayAddress(SWITCH, 30002)


def answer_sdp(*media: str, origin: str = "bob 1 1 IN IP4 192.168.0.30") -> SessionDescription:
    """The other leg's answer."""
    head = f"v=0\no={origin}\ns=-\nc=IN IP4 192.168.0.30\nt=0 0\n"
    return parse_sdp(head + "\n".join(media) + "\n")


def offer_to_b(offer: bytes, codecs: Sequence[str] = DEFAULT_CODECS) -> SessionDescription:
    origin = OriginState(555, SWITCH).next()
    return build_offer(parse_sdp(offer), relay=B_RELAY, origin=origin, codecs=codecs)


def answer_to_a(
    offer: bytes, sent: SessionDescription, got: SessionDescription
) -> SessionDescription:
    origin = OriginState(777, SWITCH).next()
    return build_answer(parse_sdp(offer), sent, got, relay=A_RELAY, origin=origin)


def attrs(media: MediaDescription) -> list[str]:
    return [str(a) for a in media.attributes]


# -- parsing -----------------------------------------------------------------------
def test_parse_baresip_offer() -> None:
    s = parse_sdp(BARESIP_OFFER)
    assert s.version == 0
    assert s.origin == Origin("-", 1962380813, 1149628133, "IN", "IP4", "192.168.1.10")
    assert s.name == "-"
    assert s.connection == Connection("IN", "IP4", "192.168.1.10")
    assert s.timings == [Timing(0, 0)]
    assert s.attributes == [Attribute("tool", "baresip 1.0.0")]
    [audio] = s.media
    assert (audio.media, audio.port, audio.port_count, audio.proto) == (
        "audio", 10256, None, "RTP/AVP",
    )  # fmt: skip
    assert audio.formats == ["0", "8", "101"]
    assert audio.bandwidths == [Bandwidth("AS", 96)]
    assert audio.rtpmap() == {
        0: RtpMap("PCMU", 8000),
        8: RtpMap("PCMA", 8000),
        101: RtpMap("telephone-event", 8000),
    }
    assert audio.fmtp(101) == "0-15"
    assert audio.fmtp(0) is None
    assert audio.ptime == 20
    assert audio.direction is Direction.SENDRECV
    assert audio.find("rtcp") == Attribute("rtcp", "10257")
    assert audio.find("rtcp-rsize") == ("rtcp-rsize", None)
    assert s.audio() is audio


def test_parse_sipp_static_payload_without_rtpmap() -> None:
    s = parse_sdp(SIPP_UAC_OFFER.replace(b"a=rtpmap:0 PCMU/8000\r\n", b""))
    assert s.media[0].rtpmap() == {0: RtpMap("PCMU", 8000)}
    assert s.direction_of(s.media[0]) is Direction.SENDRECV  # default
    assert s.media[0].direction is None


def test_parse_linphone_static_g729_with_fmtp_only() -> None:
    audio = parse_sdp(LINPHONE_OFFER).media[0]
    assert audio.rtpmap() == {
        97: RtpMap("opus", 48000, 2),
        18: RtpMap("G729", 8000),
        8: RtpMap("PCMA", 8000),
        0: RtpMap("PCMU", 8000),
        96: RtpMap("telephone-event", 8000),
    }
    assert list(audio.rtpmap()) == [97, 18, 8, 0, 96]  # m= order
    assert audio.fmtp(18) == "annexb=yes"
    assert audio.values("rtcp-fb") == ["* trr-int 1000", "* ccm tmmbr"]


def test_rtpmap_ignores_unlisted_unknown_and_malformed() -> None:
    media = MediaDescription(
        media="audio", port=1, proto="RTP/AVP", formats=["0", "96", "97", "98", "x"],
        attributes=[
            Attribute("rtpmap", "96 opus"),  # no clock rate
            Attribute("rtpmap", "97 L16/x"),
            Attribute("rtpmap", "99 speex/8000"),  # not on the m= line
            Attribute("rtpmap", "0 G722/8000"),  # a static number may be redefined
        ],
    )  # fmt: skip
    assert media.rtpmap() == {0: RtpMap("G722", 8000)}


def test_parse_accepts_lf_and_trailing_blank_lines() -> None:
    lf = BARESIP_OFFER.replace(b"\r\n", b"\n")
    assert parse_sdp(lf) == parse_sdp(BARESIP_OFFER)
    assert parse_sdp(BARESIP_OFFER + b"\r\n\r\n") == parse_sdp(BARESIP_OFFER)
    assert parse_sdp(BARESIP_OFFER.rstrip(b"\r\n")) == parse_sdp(BARESIP_OFFER)
    assert parse_sdp(BARESIP_OFFER.decode()) == parse_sdp(BARESIP_OFFER)


def test_parse_tolerates_trailing_whitespace_but_keeps_text_fields() -> None:
    s = parse_sdp(b"v=0 \r\no=- 1 1 IN IP4 1.2.3.4\t\r\ns= \r\nt=0 0\r\na=sendonly  \r\n")
    assert s.name == " "  # RFC 4566 §5.3 suggests a single space for "no name"
    assert s.direction is Direction.SENDONLY


def test_parse_keeps_unknown_line_types_and_rare_fields() -> None:
    text = sdp("""
        v=0
        o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
        s=SDP Seminar
        i=A Seminar on the session description protocol
        u=http://www.example.com/seminars/sdp.pdf
        e=j.doe@example.com (Jane Doe)
        p=+1 617 555-6011
        c=IN IP4 224.2.17.12/127
        b=CT:128
        t=2873397496 2873404696
        r=7d 1h 0 25h
        t=0 0
        z=2882844526 -1h 2898848070 0
        k=prompt
        a=recvonly
        y=0100000001
        m=audio 49170/2 RTP/AVP 0
        i=voice
        c=IN IP4 224.2.17.12/127
        c=IN IP4 224.2.17.13/127
        b=AS:64
        k=clear:secret
        f=v/2////a/1/8/1
        m=video 51372 RTP/AVP 99
        a=rtpmap:99 h263-1998/90000
    """)
    s = parse_sdp(text)
    assert s.information == "A Seminar on the session description protocol"
    assert s.uri == "http://www.example.com/seminars/sdp.pdf"
    assert s.emails == ["j.doe@example.com (Jane Doe)"]
    assert s.phones == ["+1 617 555-6011"]
    assert s.connection == Connection("IN", "IP4", "224.2.17.12/127")
    assert s.bandwidths == [Bandwidth("CT", 128)]
    assert s.timings == [Timing(2873397496, 2873404696, ["7d 1h 0 25h"]), Timing(0, 0)]
    assert s.zone == "2882844526 -1h 2898848070 0"
    assert s.key == "prompt"
    assert s.extra == [("y", "0100000001")]
    audio, video = s.media
    assert (audio.port, audio.port_count, audio.information, audio.key) == (
        49170, 2, "voice", "clear:secret",
    )  # fmt: skip
    assert len(audio.connections) == 2
    assert audio.extra == [("f", "v/2////a/1/8/1")]
    assert s.direction_of(video) is Direction.RECVONLY  # session level applies
    assert s.connection_of(video) == s.connection
    assert s.connection_of(audio) == Connection("IN", "IP4", "224.2.17.12/127")
    assert parse_sdp(s.to_bytes()) == s


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty session description"),
        (b"\r\n\r\n", "empty session description"),
        (b"o=- 1 1 IN IP4 h\r\n", "line 1: a session description starts with v="),
        (b"v=1\r\n", "line 1: unsupported SDP version"),
        (b"v=0\r\ns=-\r\nt=0 0\r\n", "missing o= line"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", "missing s= line"),
        (b"v=0\r\no=- 1 1 IN IP4\r\n", "line 2: o= line needs 6 fields"),
        (b"v=0\r\no=- x 1 IN IP4 h\r\n", "line 2: o= session id and version must be numbers"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ns=-\r\n", "line 4: duplicate s= line"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nv=0\r\n", "line 4: duplicate v= line"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\r\nt=0 0\r\n", "line 4: empty line"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0\r\n", "line 4: t= line needs start and"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=1d\r\n", "line 4: r= line before any t="),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", "line 4: c= line needs nettype"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS\r\n", "line 4: b= line needs"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS:x\r\n", "line 4: b= line needs"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=\r\n", "line 4: invalid attribute name"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=a b\r\n", "line 4: invalid attribute name"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nhello\r\n", "line 4: expected <type>=<value>"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n1=x\r\n", "line 4: invalid line type"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=x\ry\r\n", "line 4: CR inside a line"),
        (
            b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP\r\n",
            "line 4: m= line needs port, proto and formats",
        ),
        (
            b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 65536 RTP/AVP 0\r\n",
            "line 4: invalid m= port '65536'",
        ),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio -1 RTP/AVP 0\r\n", "line 4: invalid m= port"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1/0 RTP/AVP 0\r\n", "line 4: m= port count"),
        (
            b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n",
            "line 5: t= line not allowed in a media description",
        ),
        (
            b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\ni=a\r\ni=b\r\n",
            "line 6: duplicate i= line",
        ),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=\xff\r\n", "invalid UTF-8 at byte 25"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=\0\r\n", "NUL character"),
    ],
)
def test_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(data)
    assert str(info.value).startswith(message)
    assert info.value.status == 400
    assert isinstance(info.value, SwitchError)


def test_parse_caps() -> None:
    head = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"
    with pytest.raises(SdpError, match="longer than"):
        parse_sdp(head + b"a=x:" + b"y" * MAX_SDP_BYTES + b"\r\n")
    with pytest.raises(SdpError, match="longer than"):
        parse_sdp((head + b"a=x:" + b"y" * MAX_SDP_BYTES).decode())
    with pytest.raises(SdpError, match=f"more than {MAX_LINES} lines"):
        parse_sdp(head + b"a=x\r\n" * MAX_LINES)
    media = b"m=audio 0 RTP/AVP 0\r\n"
    parse_sdp(head + media * MAX_MEDIA)
    with pytest.raises(SdpError, match=f"line {4 + MAX_MEDIA + 1}: more than {MAX_MEDIA} m="):
        parse_sdp(head + media * (MAX_MEDIA + 1))
    with pytest.raises(SdpError, match="not encodable"):
        parse_sdp("v=0\no=- 1 1 IN IP4 h\ns=\udc80\n")


# -- serializing -------------------------------------------------------------------
@pytest.mark.parametrize(
    "offer",
    [BARESIP_OFFER, SIPP_UAC_OFFER, LINPHONE_OFFER, YEALINK_OFFER, BARESIP_HOLD,
     RFC2543_HOLD, VIDEO_OFFER, ICE_SRTP_OFFER],
)  # fmt: skip
def test_real_offers_round_trip_byte_for_byte(offer: bytes) -> None:
    s = parse_sdp(offer)
    assert s.to_bytes() == offer  # these are already in RFC 4566 order, CRLF
    assert parse_sdp(s.to_bytes()) == s


def test_serializer_writes_rfc4566_order() -> None:
    scrambled = b"v=0\na=recvonly\nt=0 0\nc=IN IP4 h\ns=-\no=- 1 2 IN IP4 h\nb=AS:1\n"
    s = parse_sdp(scrambled)
    assert s.to_bytes() == (
        b"v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nb=AS:1\r\nt=0 0\r\na=recvonly\r\n"
    )
    assert str(s) == s.to_bytes().decode()


def test_direction_setter_replaces_in_place() -> None:
    audio = parse_sdp(BARESIP_OFFER).media[0]
    position = attrs(audio).index("sendrecv")
    audio.direction = Direction.INACTIVE
    assert attrs(audio)[position] == "inactive"
    assert audio.direction is Direction.INACTIVE
    audio.direction = None
    assert audio.direction is None and "inactive" not in attrs(audio)
    audio.direction = Direction.RECVONLY
    assert attrs(audio)[-1] == "recvonly"


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.SENDRECV.restrict(Direction.RECVONLY) is Direction.RECVONLY
    assert Direction.SENDONLY.restrict(Direction.RECVONLY) is Direction.INACTIVE


def test_hold_detection() -> None:
    active = parse_sdp(BARESIP_OFFER)
    assert not active.is_held(active.media[0])
    held = parse_sdp(BARESIP_HOLD)
    assert held.is_held(held.media[0])
    old = parse_sdp(RFC2543_HOLD)
    assert old.direction_of(old.media[0]) is Direction.SENDRECV
    assert old.is_held(old.media[0])
    inactive = parse_sdp(BARESIP_OFFER.replace(b"a=sendrecv", b"a=inactive"))
    assert inactive.is_held(inactive.media[0])
    recvonly = parse_sdp(BARESIP_OFFER.replace(b"a=sendrecv", b"a=recvonly"))
    assert not recvonly.is_held(recvonly.media[0])


def test_ptime_forms() -> None:
    media = MediaDescription(media="audio", port=1, proto="RTP/AVP", formats=["0"])
    assert media.ptime is None
    media.attributes.append(Attribute("ptime", "20.0"))
    assert media.ptime == 20
    media.attributes[0] = Attribute("ptime", "abc")
    assert media.ptime is None
    media.attributes.append(Attribute("maxptime", "40"))
    assert media.maxptime == 40


# -- origin ------------------------------------------------------------------------
def test_origin_version_increments_per_leg() -> None:
    leg = OriginState(4242, SWITCH, version=7)
    first = leg.next()
    assert str(first) == f"- 4242 7 IN IP4 {SWITCH}"
    assert leg.current() == first
    assert leg.next().version == 8
    assert leg.next().version == 9
    assert leg.current().version == 9
    assert OriginState(1, "2001:db8::1").next().addrtype == "IP6"


def test_reoffers_carry_increasing_versions() -> None:
    leg_b = OriginState(555, SWITCH)
    first = build_offer(parse_sdp(BARESIP_OFFER), relay=B_RELAY, origin=leg_b.next())
    hold = build_offer(parse_sdp(BARESIP_HOLD), relay=B_RELAY, origin=leg_b.next())
    assert (first.origin.session_id, first.origin.version) == (555, 0)
    assert (hold.origin.session_id, hold.origin.version) == (555, 1)


# -- offer towards the other leg ---------------------------------------------------
def test_offer_from_baresip() -> None:
    out = offer_to_b(BARESIP_OFFER)
    assert out.origin == Origin("-", 555, 0, "IN", "IP4", SWITCH)
    assert out.connection == Connection("IN", "IP4", SWITCH)
    assert out.timings == [Timing(0, 0)]
    assert out.attributes == []  # a=tool names the caller's phone
    [audio] = out.media
    assert (audio.port, audio.proto, audio.formats) == (30002, "RTP/AVP", ["0", "8", "101"])
    assert audio.connections == []
    assert audio.bandwidths == [Bandwidth("AS", 96)]
    assert attrs(audio) == [
        "rtpmap:0 PCMU/8000",
        "rtpmap:8 PCMA/8000",
        "rtpmap:101 telephone-event/8000",
        "fmtp:101 0-15",
        "ptime:20",
        "label:1",
        "sendrecv",
    ]  # rtcp (phone's port) and rtcp-rsize dropped
    assert b"192.168.1.10" not in out.to_bytes()
    assert parse_sdp(out.to_bytes()) == out


def test_offer_from_linphone_filters_codecs_in_offerer_order() -> None:
    out = offer_to_b(LINPHONE_OFFER)
    audio = out.media[0]
    assert audio.formats == ["18", "8", "0", "96"]  # opus left out, order kept
    assert attrs(audio) == [
        "fmtp:18 annexb=yes",
        "rtpmap:96 telephone-event/8000",
        "sendrecv",
    ]  # rtcp-fb and session rtcp-xr dropped; static types need no rtpmap
    assert out.attributes == []


def test_offer_codec_allow_list_is_configurable() -> None:
    out = offer_to_b(YEALINK_OFFER, codecs=["pcma", "telephone-event/8000", "G722/8000"])
    assert out.media[0].formats == ["9", "8", "101"]
    assert attrs(out.media[0])[:3] == [
        "rtpmap:9 G722/8000", "rtpmap:8 PCMA/8000", "fmtp:101 0-15",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="NAME or NAME/RATE"):
        offer_to_b(YEALINK_OFFER, codecs=["PCMU/fast"])


def test_offer_with_ice_and_srtp_attributes_is_scrubbed() -> None:
    out = offer_to_b(ICE_SRTP_OFFER)
    assert out.attributes == []
    assert attrs(out.media[0]) == [
        "rtpmap:101 telephone-event/8000", "fmtp:101 0-16", "sendrecv",
    ]  # fmt: skip
    assert out.media[0].formats == ["8", "0", "101"]  # GSM (3) not allowed
    wire = out.to_bytes()
    assert b"203.0.113.5" not in wire and b"192.168.1.20" not in wire
    assert {"candidate", "crypto", "ice-ufrag", "ice-pwd", "rtcp-mux", "group"} <= (
        DROPPED_ATTRIBUTES
    )


def test_offer_with_video_disables_video_and_keeps_order() -> None:
    out = offer_to_b(VIDEO_OFFER)
    video, audio = out.media
    assert (video.media, video.port, video.proto, video.formats) == (
        "video", 0, "RTP/AVP", ["96", "97"],
    )  # fmt: skip
    assert video.attributes == [] and video.connections == []
    assert (audio.media, audio.port) == ("audio", 30002)
    assert out.bandwidths == []


def test_offer_hold_passes_direction() -> None:
    out = offer_to_b(BARESIP_HOLD)
    assert out.media[0].direction is Direction.SENDONLY
    assert attrs(out.media[0]).count("sendonly") == 1


def test_offer_rfc2543_hold_becomes_a_direction() -> None:
    out = offer_to_b(RFC2543_HOLD)
    assert out.connection == Connection("IN", "IP4", SWITCH)  # never 0.0.0.0 towards B
    assert out.media[0].direction is Direction.SENDONLY  # "don't send to me"
    recvonly = offer_to_b(RFC2543_HOLD.replace(b"a=fmtp:101 0-15", b"a=recvonly"))
    assert recvonly.media[0].direction is Direction.INACTIVE


def test_offer_session_level_direction_moves_to_media() -> None:
    offer = SIPP_UAC_OFFER.replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")
    out = offer_to_b(offer)
    assert out.direction is None
    assert out.media[0].direction is Direction.SENDONLY


def test_offer_avpf_goes_on_as_avp_and_srtp_profile_is_refused() -> None:
    avpf = offer_to_b(SIPP_UAC_OFFER.replace(b"RTP/AVP", b"RTP/AVPF"))
    assert avpf.media[0].proto == "RTP/AVP"
    with pytest.raises(NoCommonCodec):
        offer_to_b(SIPP_UAC_OFFER.replace(b"RTP/AVP", b"RTP/SAVP"))


def test_offer_keeps_only_the_first_usable_audio_stream() -> None:
    offer = SIPP_UAC_OFFER + b"m=audio 6002 RTP/AVP 8\r\n"
    disabled_first = SIPP_UAC_OFFER.replace(b"m=audio 6000", b"m=audio 0") + (
        b"m=audio 6002 RTP/AVP 8\r\n"
    )
    assert [m.port for m in offer_to_b(offer).media] == [30002, 0]
    assert [m.port for m in offer_to_b(disabled_first).media] == [0, 30002]


@pytest.mark.parametrize(
    "offer",
    [
        LINPHONE_OFFER.replace(b" 97 18 8 0 96", b" 97 96"),  # opus + DTMF only
        SIPP_UAC_OFFER.replace(b"m=audio 6000 RTP/AVP 0", b"m=audio 6000 RTP/AVP 9").replace(
            b"0 PCMU", b"9 G722"
        ),
        VIDEO_OFFER.split(b"m=audio")[0],  # video only
    ],
)
def test_no_common_codec_is_488(offer: bytes) -> None:
    with pytest.raises(NoCommonCodec) as info:
        offer_to_b(offer)
    assert info.value.status == 488
    assert isinstance(info.value, SdpError)
    assert "no common audio codec" in str(info.value)


def test_no_common_codec_with_a_restrictive_policy() -> None:
    with pytest.raises(NoCommonCodec, match=r"offered: PCMU/8000; allowed: G729"):
        offer_to_b(SIPP_UAC_OFFER, codecs=["G729"])


def test_offer_is_pure() -> None:
    received = parse_sdp(ICE_SRTP_OFFER)
    before = received.copy()
    offer_to_b(ICE_SRTP_OFFER)
    build_offer(received, relay=B_RELAY, origin=OriginState(1, SWITCH).next())
    assert received == before


# -- answer back to the offerer ----------------------------------------------------
def test_answer_maps_telephone_event_to_offerer_numbers() -> None:
    sent = offer_to_b(BARESIP_OFFER)  # telephone-event on 101
    got = answer_sdp(  # linphone-like: answers DTMF on its own 96
        "m=audio 7078 RTP/AVP 0 96",
        "a=rtpmap:96 telephone-event/8000",
        "a=fmtp:96 0-11",
        "a=ptime:30",
        "a=sendrecv",
    )
    out = answer_to_a(BARESIP_OFFER, sent, got)
    assert out.origin == Origin("-", 777, 0, "IN", "IP4", SWITCH)
    assert out.connection == Connection("IN", "IP4", SWITCH)
    [audio] = out.media
    assert (audio.port, audio.proto, audio.formats) == (30000, "RTP/AVP", ["0", "101"])
    assert attrs(audio) == [
        "rtpmap:0 PCMU/8000",
        "rtpmap:101 telephone-event/8000",
        "fmtp:101 0-11",  # the events B can receive
        "ptime:30",
        "sendrecv",
    ]
    assert b"192.168.0.30" not in out.to_bytes()
    pmap = payload_map(out, parse_sdp(BARESIP_OFFER), sent, got)
    assert pmap == PayloadMap(a_to_b={101: 96}, b_to_a={96: 101})


def test_linphone_to_baresip_payload_map_96_to_101() -> None:
    # Legs negotiated separately (e.g. A answered by the switch, then bridged to B).
    a_remote = parse_sdp(LINPHONE_OFFER)
    a_local = answer_offer(a_remote, relay=A_RELAY, origin=OriginState(1, SWITCH).next())
    b_local = make_offer(relay=B_RELAY, origin=OriginState(2, SWITCH).next())
    b_remote = answer_sdp(
        "m=audio 10256 RTP/AVP 18 101",
        "a=rtpmap:18 G729/8000",
        "a=rtpmap:101 telephone-event/8000",
    )
    assert a_local.media[0].formats == ["18", "96"]
    assert payload_map(a_local, a_remote, b_local, b_remote) == PayloadMap(
        a_to_b={96: 101}, b_to_a={101: 96}
    )


def test_payload_map_identity_when_numbers_agree() -> None:
    a = parse_sdp(SIPP_UAC_OFFER)
    sent = offer_to_b(SIPP_UAC_OFFER)
    got = answer_sdp("m=audio 4000 RTP/AVP 0")
    answer = answer_to_a(SIPP_UAC_OFFER, sent, got)
    assert payload_map(answer, a, sent, got) == PayloadMap(a_to_b={}, b_to_a={})
    rejected = answer_sdp("m=audio 0 RTP/AVP 0")
    assert payload_map(answer, a, sent, rejected) == PayloadMap(a_to_b={}, b_to_a={})


def test_payload_map_follows_the_negotiated_stream() -> None:
    # An SRTP-only stream first (disabled by the switch), then the plain one.
    offer = sdp("""
        v=0
        o=- 1 1 IN IP4 192.0.2.1
        s=-
        c=IN IP4 192.0.2.1
        t=0 0
        m=audio 4000 RTP/SAVP 0 97
        a=rtpmap:97 telephone-event/8000
        m=audio 4002 RTP/AVP 0 101
        a=rtpmap:101 telephone-event/8000
    """)
    sent = offer_to_b(offer)
    assert [m.port for m in sent.media] == [0, 30002]
    got = answer_sdp("m=audio 0 RTP/SAVP 0", "m=audio 5000 RTP/AVP 0 96",
                     "a=rtpmap:96 telephone-event/8000")  # fmt: skip
    answer = answer_to_a(offer, sent, got)
    assert [m.port for m in answer.media] == [0, 30000]
    assert payload_map(answer, parse_sdp(offer), sent, got) == PayloadMap(
        a_to_b={101: 96}, b_to_a={96: 101}
    )


def test_audio_target() -> None:
    assert parse_sdp(BARESIP_OFFER).audio_target() == ("192.168.1.10", 10256)
    assert parse_sdp(RFC2543_HOLD).audio_target() is None
    assert parse_sdp(VIDEO_OFFER).audio_target() == ("192.168.0.20", 7078)
    assert parse_sdp(VIDEO_OFFER.split(b"m=audio")[0]).audio_target() is None
    no_c = parse_sdp(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n")
    assert no_c.audio_target() is None


def test_answer_to_linphone_uses_g729_params_from_the_answerer() -> None:
    sent = offer_to_b(LINPHONE_OFFER)
    got = answer_sdp("m=audio 11796 RTP/AVP 18 96", "a=fmtp:18 annexb=no",
                     "a=rtpmap:96 telephone-event/8000")  # fmt: skip
    audio = answer_to_a(LINPHONE_OFFER, sent, got).media[0]
    assert audio.formats == ["18", "96"]
    assert audio.fmtp(18) == "annexb=no"
    assert audio.rtpmap()[18] == RtpMap("G729", 8000)


def test_answer_codecs_in_answerer_order_and_names_case_blind() -> None:
    sent = offer_to_b(YEALINK_OFFER)
    got = answer_sdp("m=audio 1 RTP/AVP 8 0 100", "a=rtpmap:100 TELEPHONE-EVENT/8000")
    audio = answer_to_a(YEALINK_OFFER, sent, got).media[0]
    assert audio.formats == ["8", "0", "101"]
    assert "rtpmap:101 telephone-event/8000" in attrs(audio)  # the offerer's spelling


@pytest.mark.parametrize(
    ("offer", "answered", "expected"),
    [
        (BARESIP_HOLD, "recvonly", Direction.RECVONLY),
        (BARESIP_HOLD, "inactive", Direction.INACTIVE),
        (BARESIP_HOLD, "sendrecv", Direction.RECVONLY),  # non-compliant answer, clamped
        (BARESIP_OFFER, "sendrecv", Direction.SENDRECV),
        (BARESIP_OFFER, "sendonly", Direction.SENDONLY),  # B holds in its answer
        (BARESIP_OFFER.replace(b"a=sendrecv", b"a=inactive"), "recvonly", Direction.INACTIVE),
        (RFC2543_HOLD, "recvonly", Direction.RECVONLY),
    ],
)
def test_answer_direction_mirrors_within_rfc3264(
    offer: bytes, answered: str, expected: Direction
) -> None:
    sent = offer_to_b(offer)
    got = answer_sdp("m=audio 7078 RTP/AVP 0", f"a={answered}")
    out = answer_to_a(offer, sent, got)
    assert out.media[0].direction is expected
    assert out.is_held(out.media[0]) is (expected in (Direction.SENDONLY, Direction.INACTIVE))


def test_answer_treats_answerer_c0000_as_no_receive() -> None:
    sent = offer_to_b(BARESIP_OFFER)
    got = parse_sdp(
        "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 9 RTP/AVP 0\n"
    )
    assert answer_to_a(BARESIP_OFFER, sent, got).media[0].direction is Direction.SENDONLY


def test_hold_and_resume_round() -> None:
    leg_a, leg_b = OriginState(10, SWITCH), OriginState(20, SWITCH)
    versions = []
    for offer, answered in ((BARESIP_OFFER, "sendrecv"), (BARESIP_HOLD, "recvonly"),
                            (BARESIP_OFFER, "sendrecv")):  # fmt: skip
        sent = build_offer(parse_sdp(offer), relay=B_RELAY, origin=leg_b.next())
        got = answer_sdp("m=audio 7078 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000",
                         f"a={answered}")  # fmt: skip
        out = build_answer(parse_sdp(offer), sent, got, relay=A_RELAY, origin=leg_a.next())
        versions.append((sent.origin.version, out.origin.version, out.media[0].direction))
    assert versions == [
        (0, 0, Direction.SENDRECV),
        (1, 1, Direction.RECVONLY),
        (2, 2, Direction.SENDRECV),
    ]


def test_answer_keeps_declined_streams_in_place() -> None:
    sent = offer_to_b(VIDEO_OFFER)
    got = answer_sdp("m=video 0 RTP/AVP 96", "m=audio 7078 RTP/AVP 8")
    out = answer_to_a(VIDEO_OFFER, sent, got)
    video, audio = out.media
    assert (video.media, video.port, video.formats, video.attributes) == (
        "video", 0, ["96", "97"], [],
    )  # fmt: skip
    assert (audio.media, audio.port, audio.formats) == ("audio", 30000, ["8"])
    # Even if B (wrongly) accepted video the switch offered disabled, it stays declined.
    wrong = answer_sdp("m=video 9000 RTP/AVP 96", "m=audio 7078 RTP/AVP 8")
    assert answer_to_a(VIDEO_OFFER, sent, wrong).media[0].port == 0


def test_answer_without_usable_codec_is_488() -> None:
    sent = offer_to_b(BARESIP_OFFER)
    for got in (
        answer_sdp("m=audio 0 RTP/AVP 0"),  # declined
        answer_sdp("m=audio 7078 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000"),
        answer_sdp("m=audio 7078 RTP/AVP 9"),  # G722 was never offered
    ):
        with pytest.raises(NoCommonCodec):
            answer_to_a(BARESIP_OFFER, sent, got)


def test_answer_with_wrong_stream_count_is_rejected() -> None:
    sent = offer_to_b(VIDEO_OFFER)
    with pytest.raises(SdpError, match="answer has 1 m= lines, the offer had 2") as info:
        answer_to_a(VIDEO_OFFER, sent, answer_sdp("m=audio 7078 RTP/AVP 8"))
    assert info.value.status == 488
    with pytest.raises(SdpError, match="does not belong"):
        answer_to_a(BARESIP_OFFER, sent, answer_sdp("m=audio 7078 RTP/AVP 8"))


def test_reinvite_from_the_callee_swaps_roles() -> None:
    # B re-offers (hold) on the dialog the switch offered; A answers; B gets the answer.
    b_reoffer = answer_sdp("m=audio 7078 RTP/AVP 0 96", "a=rtpmap:96 telephone-event/8000",
                           "a=sendonly", origin="bob 1 2 IN IP4 192.168.0.30")  # fmt: skip
    to_a = build_offer(b_reoffer, relay=A_RELAY, origin=OriginState(7, SWITCH).next())
    assert to_a.media[0].formats == ["0", "96"]
    a_answer = parse_sdp(BARESIP_OFFER.replace(b"8 101", b"101").replace(b"sendrecv", b"recvonly"))
    to_b = build_answer(b_reoffer, to_a, a_answer, relay=B_RELAY,
                        origin=OriginState(8, SWITCH).next())  # fmt: skip
    assert to_b.media[0].formats == ["0", "96"]  # B's numbers again
    assert to_b.media[0].direction is Direction.RECVONLY


# -- the switch as endpoint --------------------------------------------------------
def test_answer_offer_picks_first_allowed_voice_codec_and_dtmf() -> None:
    out = answer_offer(
        parse_sdp(YEALINK_OFFER), relay=A_RELAY, origin=OriginState(1, SWITCH).next()
    )
    audio = out.media[0]
    assert audio.formats == ["0", "101"]  # G722 not allowed
    assert attrs(audio) == [
        "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000", "fmtp:101 0-15", "ptime:20",
        "sendrecv",
    ]  # fmt: skip
    held = answer_offer(
        parse_sdp(BARESIP_HOLD), relay=A_RELAY, origin=OriginState(1, SWITCH).next()
    )
    assert held.media[0].direction is Direction.RECVONLY
    with pytest.raises(NoCommonCodec):
        answer_offer(parse_sdp(SIPP_UAC_OFFER), relay=A_RELAY,
                     origin=OriginState(1, SWITCH).next(), codecs=["PCMA"])  # fmt: skip


def test_make_offer() -> None:
    out = make_offer(relay=B_RELAY, origin=OriginState(9, SWITCH).next())
    assert out.to_bytes() == sdp(f"""
        v=0
        o=- 9 0 IN IP4 {SWITCH}
        s=-
        c=IN IP4 {SWITCH}
        t=0 0
        m=audio 30002 RTP/AVP 0 8 18 101
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:18 G729/8000
        a=rtpmap:101 telephone-event/8000
        a=fmtp:18 annexb=no
        a=fmtp:101 0-16
        a=ptime:20
        a=sendrecv
    """)
    other = make_offer(relay=RelayAddress("2001:db8::1", 4000), origin=Origin(
        "-", 1, 1, "IN", "IP6", "2001:db8::1"), codecs=["opus/48000/2", "PCMA"],
        direction=Direction.SENDONLY, ptime=None)  # fmt: skip
    assert other.connection == Connection("IN", "IP6", "2001:db8::1")
    assert other.media[0].formats == ["96", "8"]
    assert attrs(other.media[0]) == ["rtpmap:96 opus/48000/2", "rtpmap:8 PCMA/8000", "sendonly"]


def test_session_defaults_build_valid_sdp() -> None:
    s = SessionDescription(origin=Origin("-", 1, 1, "IN", "IP4", "h"), timings=[Timing()])
    assert s.to_bytes() == b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"
    assert parse_sdp(s.to_bytes()) == s
    assert s.audio() is None
