"""The SDP side of a call on a fake media backend: what the backend is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from media.backend import LegAddress, LegMedia
from media.recording.policy import RecordingConfig, RecordingPolicy
from switch.callmedia import CallMedia
from switch.calls import SdpRejected
from switch.sdp import parse_sdp

LINPHONE_G729 = (
    "v=0\r\no=lp 1 1 IN IP4 192.0.2.10\r\ns=Talk\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 7078 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
)


def answer(formats: str, rtpmaps: str, direction: str = "sendrecv") -> bytes:
    return (
        "v=0\r\no=b 2 2 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
        f"m=audio 9000 RTP/AVP {formats}\r\n{rtpmaps}a={direction}\r\n"
    ).encode()


@dataclass
class FakeBackend:
    transcodable: frozenset[str] = frozenset({"PCMU", "PCMA", "G729"})
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    music: list[tuple[str, bool]] = field(default_factory=list)
    recordings: list[tuple[str, str, str]] = field(default_factory=list)

    def allocate(self, session_id: str) -> tuple[LegAddress, LegAddress]:
        return (LegAddress(host="10.0.0.1", rtp_port=20000, rtcp_port=20001),
                LegAddress(host="10.0.0.1", rtp_port=20002, rtcp_port=20003))

    def update(self, session_id: str, leg: str, **kwargs: Any) -> None:
        self.updates.append((leg, kwargs))

    def hold_music(self, session_id: str, leg: str, on: bool) -> None:
        self.music.append((leg, on))

    def start_recording(self, session_id: str, *, caller: str, callee: str,
                        queue: str | None = None) -> str:
        self.recordings.append((session_id, caller, callee))
        return "rec-1"

    def delete(self, session_id: str) -> None:
        return None


@dataclass
class FakeCall:
    call_id: str = "call-1"
    caller: str = "1001"
    callee: str = "1002"
    media: dict[str, object] = field(default_factory=dict)


def media_of(backend: FakeBackend, leg: str) -> LegMedia | None:
    return [kw["media"] for name, kw in backend.updates if name == leg][-1]


def test_no_common_codec_is_transcoded_and_both_legs_declare_their_codec() -> None:
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    offer = parse_sdp(planner.offer_to_callee(call, LINPHONE_G729.encode()))  # type: ignore[arg-type]
    assert offer.audio().formats == ["18", "101", "0", "8"]  # type: ignore[union-attr]
    reply = parse_sdp(planner.answer_to_caller(call, answer(  # type: ignore[arg-type]
        "8 101", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n")))
    assert reply.audio().formats == ["18", "101"]  # type: ignore[union-attr]
    assert media_of(backend, "a") == LegMedia(codec="G729", payload_type=18,
                                              decode={18: "G729"}, telephone_event=101)
    assert media_of(backend, "b") == LegMedia(codec="PCMA", payload_type=8,
                                              decode={8: "PCMA"}, telephone_event=101)
    assert backend.music == [("b", False)]
    assert backend.recordings == []  # recording is off unless configured


def test_hold_from_the_caller_plays_music_to_the_callee_until_resume() -> None:
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    pcmu = LINPHONE_G729.replace("18 101", "0 101").replace(
        "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n", "a=rtpmap:0 PCMU/8000\r\n")
    planner.offer_to_callee(call, pcmu.encode())  # type: ignore[arg-type]
    planner.answer_to_caller(call, answer("0", "a=rtpmap:0 PCMU/8000\r\n"))  # type: ignore[arg-type]
    hold = pcmu.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n")
    planner.reoffer(call, True, hold.encode())  # type: ignore[arg-type]
    planner.reanswer(call, True, answer("0", "a=rtpmap:0 PCMU/8000\r\n", "recvonly"))  # type: ignore[arg-type]
    planner.reoffer(call, True, pcmu.encode())  # type: ignore[arg-type]
    planner.reanswer(call, True, answer("0", "a=rtpmap:0 PCMU/8000\r\n"))  # type: ignore[arg-type]
    assert backend.music == [("b", False), ("b", True), ("b", False)]


def test_recording_policy_decides_on_answer() -> None:
    backend = FakeBackend()
    policy = RecordingPolicy(RecordingConfig(users=frozenset({"1002"})))
    planner = CallMedia(backend, recording=policy)  # type: ignore[arg-type]
    call = FakeCall()
    pcma = LINPHONE_G729.replace("18 101", "8").replace(
        "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n", "a=rtpmap:8 PCMA/8000\r\n")
    planner.offer_to_callee(call, pcma.encode())  # type: ignore[arg-type]
    planner.answer_to_caller(call, answer("8", "a=rtpmap:8 PCMA/8000\r\n"))  # type: ignore[arg-type]
    assert backend.recordings == [("call-1", "1001", "1002")]


def test_late_offer_the_switch_offers_both_ways_and_declares_after_the_ack() -> None:
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    own = parse_sdp(planner.own_offer_to_callee(call))  # type: ignore[arg-type]
    audio = own.audio()
    assert audio is not None and audio.formats == ["0", "8", "18", "101"]
    assert audio.fmtp(18) == "annexb=no"
    callee = answer("18 101", "a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
    offer = parse_sdp(planner.offer_to_caller(call, callee))  # type: ignore[arg-type]
    assert offer.audio().formats[0] == "18"  # type: ignore[union-attr]  # callee's codec first
    assert media_of(backend, "b") == LegMedia(codec="G729", payload_type=18,
                                              decode={18: "G729"}, telephone_event=101)
    planner.answer_from_caller(call, answer(  # type: ignore[arg-type]
        "8 101", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"))
    assert media_of(backend, "a") == LegMedia(codec="PCMA", payload_type=8,
                                              decode={8: "PCMA"}, telephone_event=101)


def test_reinvite_without_sdp_reoffers_what_the_leg_agreed_and_reads_the_ack() -> None:
    """The callee refreshes its session with an SDP-less re-INVITE: it is offered its
    current media (same codecs and payload types, the relay's address, o= version one
    up); its answer moves its address and telephone-event type, mapped for the caller."""
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    pcmu = LINPHONE_G729.replace("18 101", "0 101").replace(
        "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n", "a=rtpmap:0 PCMU/8000\r\n")
    sent = parse_sdp(planner.offer_to_callee(call, pcmu.encode()))  # type: ignore[arg-type]
    planner.answer_to_caller(call, answer(  # type: ignore[arg-type]
        "0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"))
    refresh = parse_sdp(planner.refresh_offer(call, False))  # type: ignore[arg-type]
    assert refresh.audio().formats == sent.audio().formats  # type: ignore[union-attr]
    assert refresh.audio_target() == ("10.0.0.1", 20002)
    assert refresh.origin.version == sent.origin.version + 1
    assert refresh.origin.session_id == sent.origin.session_id
    backend.updates.clear()
    moved = answer("0 96", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n")
    planner.refresh_answer(call, False, moved.replace(b"9000", b"9100"))  # type: ignore[arg-type]
    updates = dict(backend.updates)
    assert updates["b"]["remote"] == ("192.0.2.20", 9100)
    assert updates["a"]["pt_map"] == {96: 101}  # the callee's events, as the caller knows them
    assert updates["b"]["pt_map"] == {101: 96}
    assert backend.music[-1] == ("a", False)


def test_a_refresh_answer_without_a_pending_offer_or_voice_is_refused() -> None:
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    planner.offer_to_callee(call, LINPHONE_G729.encode())  # type: ignore[arg-type]
    with pytest.raises(SdpRejected):
        planner.refresh_offer(call, True)  # type: ignore[arg-type]  # nothing agreed yet
    g729 = answer("18", "a=rtpmap:18 G729/8000\r\n")
    planner.answer_to_caller(call, g729)  # type: ignore[arg-type]
    g729 = answer("18", "a=rtpmap:18 G729/8000\r\n")
    with pytest.raises(SdpRejected, match="no re-offer"):
        planner.refresh_answer(call, True, g729)  # type: ignore[arg-type]
    planner.refresh_offer(call, True)  # type: ignore[arg-type]
    events_only = answer("101", "a=rtpmap:101 telephone-event/8000\r\n")
    with pytest.raises(SdpRejected, match="no voice codec"):
        planner.refresh_answer(call, True, events_only)  # type: ignore[arg-type]


def test_early_media_then_another_fork_answers_in_another_codec() -> None:
    """The caller's answer is fixed by the 183 (RFC 6337 §3.1.1): the 200 repeats it
    byte for byte, and the callee leg takes the winning fork's address and codec."""
    backend = FakeBackend()
    planner = CallMedia(backend)  # type: ignore[arg-type]
    call = FakeCall()
    pcma = LINPHONE_G729.replace("18 101", "8 0 101").replace(
        "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\n",
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n")
    planner.offer_to_callee(call, pcma.encode())  # type: ignore[arg-type]
    early = planner.early_answer_to_caller(call, answer(  # type: ignore[arg-type]
        "8 101", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"))
    assert media_of(backend, "b").codec == "PCMA"  # type: ignore[union-attr]
    assert backend.recordings == []
    other_fork = answer("18 101", "a=rtpmap:18 G729/8000\r\n"
                        "a=rtpmap:101 telephone-event/8000\r\n").replace(b"9000", b"9300")
    final = planner.answer_to_caller(call, other_fork)  # type: ignore[arg-type]
    assert final == early
    updates = [kw for leg, kw in backend.updates if leg == "b"]
    assert updates[-1]["remote"] == ("192.0.2.20", 9300)
    assert media_of(backend, "b").codec == "G729"  # type: ignore[union-attr]
    assert media_of(backend, "a").codec == "PCMA"  # type: ignore[union-attr]
    # A 200 without SDP after the 183 keeps the early media as it is.
    assert planner.answer_to_caller(call, b"") == early  # type: ignore[arg-type]
