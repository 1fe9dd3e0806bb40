"""SIP INFO DTMF bodies and the conversion policy between legs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.dtmf.errors import DtmfInfoError, DtmfValueError, UnsupportedInfoType
from media.dtmf.policy import LegDtmf, Method, plan
from media.dtmf.sipinfo import InfoDigit, format_dtmf, format_dtmf_relay, parse_info

RELAY = "application/dtmf-relay"


@pytest.mark.parametrize(("ctype", "body", "want"), [
    (RELAY, b"Signal=5\r\nDuration=160\r\n", InfoDigit("5", 160)),
    (RELAY, "Signal=5\r\nDuration=160", InfoDigit("5", 160)),
    ("Application/DTMF-Relay; charset=utf-8", b"signal = #\nduration= 250\n", InfoDigit("#", 250)),
    (RELAY, b"Signal=*\r\n", InfoDigit("*", None)),
    (RELAY, b"Signal=11\r\nDuration=100\r\n", InfoDigit("#", 100)),  # event code form
    (RELAY, b"Signal=d\r\nVolume=10\r\nDuration=90\r\n", InfoDigit("D", 90)),
    ("application/dtmf", b"5", InfoDigit("5", None)),
    ("application/dtmf", b" 0\r\n", InfoDigit("0", None)),
    ("application/dtmf", b"10", InfoDigit("*", None)),
])
def test_parse_good_bodies(ctype: str, body: bytes | str, want: InfoDigit) -> None:
    assert parse_info(ctype, body) == want


@pytest.mark.parametrize(("ctype", "body", "reason"), [
    (RELAY, b"Duration=160\r\n", "no-signal"),
    (RELAY, b"Signal=x\r\nDuration=160\r\n", "bad-signal"),
    (RELAY, b"Signal=55\r\n", "bad-signal"),
    (RELAY, b"Signal=16\r\n", "flash"),
    (RELAY, b"Signal=5\r\nDuration=abc\r\n", "bad-duration"),
    (RELAY, b"Signal=5\r\nDuration=0\r\n", "bad-duration"),
    (RELAY, b"Signal=5\r\nDuration=99999999\r\n", "bad-duration"),
    (RELAY, b"Signal=5\r\nSignal=6\r\n", "duplicate"),
    (RELAY, b"Signal 5\r\n", "syntax"),
    (RELAY, b"Signal=\xff\r\n", "encoding"),
    (RELAY, b"Signal=5\r\n" + b"X=1\r\n" * 400, "too-long"),
    ("application/dtmf", b"", "empty"),
    ("application/dtmf", b"55", "bad-signal"),
])
def test_bad_bodies_are_400(ctype: str, body: bytes, reason: str) -> None:
    with pytest.raises(DtmfInfoError) as err:
        parse_info(ctype, body)
    assert err.value.status == 400 and err.value.reason == reason


@pytest.mark.parametrize("ctype", ["application/sdp", "text/plain", "", "application/dtmf-x"])
def test_other_content_types_are_415(ctype: str) -> None:
    with pytest.raises(UnsupportedInfoType) as err:
        parse_info(ctype, b"Signal=5")
    assert err.value.status == 415


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([RELAY, "application/dtmf"]), st.binary(max_size=64))
def test_only_the_own_error_escapes(ctype: str, body: bytes) -> None:
    try:
        parse_info(ctype, body)
    except DtmfInfoError:
        pass


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_format_round_trip(digit: str) -> None:
    assert parse_info(RELAY, format_dtmf_relay(digit, 120)) == InfoDigit(digit, 120)
    assert parse_info("application/dtmf", format_dtmf(digit)) == InfoDigit(digit, None)
    assert format_dtmf_relay("5", 160) == "Signal=5\r\nDuration=160\r\n"


# -- conversion policy --------------------------------------------------------------------

EVENTS = LegDtmf(telephone_event_pt=101)
INBAND = LegDtmf()
INFO = LegDtmf(sip_info=True)


def test_rfc4733_both_sides_is_passthrough() -> None:
    p = plan(EVENTS, LegDtmf(telephone_event_pt=96))
    assert p.deliver is Method.RFC4733 and p.passthrough
    assert p.detect_rfc4733 and not p.detect_inband and not p.mute_source_tones
    relay_only = plan(EVENTS, EVENTS, detect=False)
    assert not relay_only.detect_rfc4733 and relay_only.passthrough


def test_inband_to_rfc4733_detects_and_regenerates() -> None:
    p = plan(INBAND, EVENTS)
    assert p.detect_inband and not p.detect_rfc4733
    assert p.deliver is Method.RFC4733 and not p.passthrough and p.mute_source_tones


def test_rfc4733_to_inband_synthesises() -> None:
    p = plan(EVENTS, INBAND)
    assert p.deliver is Method.INBAND and p.detect_rfc4733 and not p.detect_inband


def test_inband_to_inband_rides_the_audio() -> None:
    p = plan(INBAND, INBAND)
    assert p.deliver is Method.AUDIO and p.detect_inband and not p.mute_source_tones
    assert not plan(INBAND, INBAND, detect=False).detect_inband


def test_to_info_leg() -> None:
    assert plan(EVENTS, INFO).deliver is Method.SIP_INFO
    p = plan(INBAND, INFO)
    assert p.deliver is Method.SIP_INFO and p.detect_inband and p.mute_source_tones
    # telephone-event wins over INFO when the target negotiated it
    assert plan(INBAND, LegDtmf(telephone_event_pt=101, sip_info=True)).deliver is Method.RFC4733


def test_rate_mismatch_is_not_passthrough() -> None:
    p = plan(EVENTS, LegDtmf(telephone_event_pt=101, telephone_event_rate=16000))
    assert p.deliver is Method.RFC4733 and not p.passthrough and p.detect_rfc4733


def test_bad_leg() -> None:
    with pytest.raises(DtmfValueError):
        LegDtmf(telephone_event_pt=8)


def test_per_digit_action() -> None:
    through = plan(EVENTS, EVENTS)
    assert through.action("rfc4733") is None  # the packets are forwarded
    assert through.action("sip-info") is Method.RFC4733
    assert through.action("inband") is Method.RFC4733
    audio = plan(INBAND, INBAND)
    assert audio.action("inband") is None
    assert audio.action("sip-info") is Method.INBAND  # an INFO digit is not in the audio
    assert plan(EVENTS, INBAND).action("rfc4733") is Method.INBAND
    assert plan(INBAND, INFO).action("inband") is Method.SIP_INFO
    regen = plan(EVENTS, LegDtmf(telephone_event_pt=101, telephone_event_rate=16000))
    assert regen.action("rfc4733") is Method.RFC4733
