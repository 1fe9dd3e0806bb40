"""Offer/answer when the legs share no codec: the relay transcodes instead of a 488."""

from __future__ import annotations

import pytest

from switch.sdp import (
    NoCommonCodec,
    Origin,
    RelayAddress,
    build_answer,
    build_offer,
    leg_codecs,
    parse_sdp,
)

ALL = frozenset({"PCMU", "PCMA", "G729"})
RELAY_A = RelayAddress("10.0.0.1", 20000)
RELAY_B = RelayAddress("10.0.0.1", 20002)
ORIGIN = Origin("-", 1, 1, "IN", "IP4", "10.0.0.1")

LINPHONE_G729_ONLY = (
    "v=0\r\no=linphone 1 1 IN IP4 127.0.0.1\r\ns=Talk\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 7078 RTP/AVP 18 96\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n"
    "a=rtpmap:96 telephone-event/8000\r\n"
)


def answer_from_b(formats: str, rtpmaps: str) -> str:
    return (
        "v=0\r\no=baresip 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio 9000 RTP/AVP {formats}\r\n{rtpmaps}a=sendrecv\r\n"
    )


def test_offer_to_the_other_leg_adds_the_codecs_the_relay_can_convert_to() -> None:
    offer = parse_sdp(LINPHONE_G729_ONLY)
    sent = build_offer(offer, relay=RELAY_B, origin=ORIGIN, transcodable=ALL)
    audio = sent.audio()
    assert audio is not None
    assert audio.formats == ["18", "96", "0", "8"]  # the offerer's own codecs first
    assert audio.fmtp(18) == "annexb=yes"  # the offerer's parameters travel on


def test_without_transcoding_nothing_is_added() -> None:
    sent = build_offer(parse_sdp(LINPHONE_G729_ONLY), relay=RELAY_B, origin=ORIGIN)
    assert sent.audio() is not None and sent.audio().formats == ["18", "96"]  # type: ignore[union-attr]


def test_an_answer_with_only_an_added_codec_gets_the_offerer_its_own_codec() -> None:
    offer = parse_sdp(LINPHONE_G729_ONLY)
    sent = build_offer(offer, relay=RELAY_B, origin=ORIGIN, transcodable=ALL)
    answer = parse_sdp(answer_from_b(
        "8 96", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n"))
    reply = build_answer(offer, sent, answer, relay=RELAY_A, origin=ORIGIN, transcodable=ALL)
    audio = reply.audio()
    assert audio is not None
    assert audio.formats == ["18", "96"]
    assert audio.fmtp(18) == "annexb=yes"  # it asked for Annex B, so it gets it
    assert leg_codecs(reply) == ([(18, "G729")], 96)
    assert leg_codecs(answer) == ([(8, "PCMA")], 96)


def test_g729_answer_says_annexb_no_unless_the_phone_asked() -> None:
    offer = parse_sdp(LINPHONE_G729_ONLY.replace("a=fmtp:18 annexb=yes\r\n", ""))
    sent = build_offer(offer, relay=RELAY_B, origin=ORIGIN, transcodable=ALL)
    answer = parse_sdp(answer_from_b("0", "a=rtpmap:0 PCMU/8000\r\n"))
    reply = build_answer(offer, sent, answer, relay=RELAY_A, origin=ORIGIN, transcodable=ALL)
    assert reply.audio().fmtp(18) == "annexb=no"  # type: ignore[union-attr]


def test_pcma_offer_to_a_g729_phone() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    )
    sent = build_offer(offer, relay=RELAY_B, origin=ORIGIN, transcodable=ALL)
    assert sent.audio().formats == ["8", "101", "0", "18"]  # type: ignore[union-attr]
    assert sent.audio().fmtp(18) == "annexb=no"  # type: ignore[union-attr]
    answer = parse_sdp(answer_from_b("18", "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"))
    reply = build_answer(offer, sent, answer, relay=RELAY_A, origin=ORIGIN, transcodable=ALL)
    assert leg_codecs(reply) == ([(8, "PCMA")], None)


def test_no_transcodable_codec_on_the_answer_is_still_488() -> None:
    offer = parse_sdp(LINPHONE_G729_ONLY)
    sent = build_offer(offer, relay=RELAY_B, origin=ORIGIN, transcodable=ALL)
    answer = parse_sdp(answer_from_b("96", "a=rtpmap:96 telephone-event/8000\r\n"))
    with pytest.raises(NoCommonCodec):
        build_answer(offer, sent, answer, relay=RELAY_A, origin=ORIGIN, transcodable=ALL)
