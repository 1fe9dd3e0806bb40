"""The SDP side of a B2BUA call: offer/answer across the legs, media through the relay.

Joins `switch.sdp` (pure offer/answer) and the `MediaBackend` seam (today the relay in
this process, later possibly rtpengine). For each call it keeps the two legs' relay
addresses, their o= lines and the last descriptions, and tells the backend what each
leg's latest SDP says (remote address, payload-type map, hold) after every exchange.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from media.backend import LegAddress, LegMedia, LegName, MediaBackend
from media.errors import MediaError, PortsExhausted
from media.recording.policy import RecordingPolicy
from switch.calls import Call, SdpRejected
from switch.sdp import (
    DEFAULT_CODECS,
    OriginState,
    RelayAddress,
    SdpError,
    SessionDescription,
    build_answer,
    build_offer,
    leg_codecs,
    make_offer,
    parse_sdp,
    payload_map,
)

log = logging.getLogger("switch.media")
_session_ids = itertools.count(int.from_bytes(os.urandom(3), "big"))


@dataclass(slots=True)
class _CallSdp:
    a: LegAddress
    b: LegAddress
    a_origin: OriginState
    b_origin: OriginState
    offer: SessionDescription  # the offer being answered (from whichever leg)
    sent: SessionDescription  # what the switch offered to the other leg for it
    # Late offer: the callee's answer to the switch's own offer, kept until the caller
    # answers the switch's offer in its ACK.
    callee_answer: SessionDescription | None = None
    # What each leg ("a", "b") last agreed: what the switch sent, what the phone sent,
    # and which of the two was the answer. A re-INVITE without SDP is offered the same.
    agreed: dict[str, _Agreed] = field(default_factory=dict)
    refresh: SessionDescription | None = None  # the re-offer awaiting its answer
    # Early media: the answer the caller got in a 183. The 200 must repeat it unchanged
    # (RFC 6337 §3.1.1), whichever fork answers in the end.
    early: SessionDescription | None = None


@dataclass(slots=True, frozen=True)
class _Agreed:
    local: SessionDescription
    remote: SessionDescription
    answer: SessionDescription


class CallMedia:
    """Implements `switch.calls.SdpPlanner` on a `MediaBackend`."""

    def __init__(self, backend: MediaBackend, codecs: Sequence[str] = DEFAULT_CODECS, *,
                 recording: RecordingPolicy | None = None) -> None:
        self.backend = backend
        self.codecs = tuple(codecs)
        self.transcodable = frozenset(backend.transcodable)
        self.recording = recording

    def _state(self, call: Call) -> _CallSdp:
        state = call.media.get("sdp")
        assert isinstance(state, _CallSdp), "offer_to_callee must come first"
        return state

    def _allocate(self, call: Call, received: SessionDescription | None = None
                  ) -> tuple[LegAddress, LegAddress]:
        try:
            a, b = self.backend.allocate(call.call_id)
        except PortsExhausted as exc:
            raise SdpRejected(f"no media ports left: {exc}", 503) from None
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None
        placeholder = received or _EMPTY
        call.media["sdp"] = _CallSdp(
            a=a, b=b,
            a_origin=OriginState(session_id=next(_session_ids), address=a.host),
            b_origin=OriginState(session_id=next(_session_ids), address=b.host),
            offer=placeholder, sent=placeholder,
        )
        return a, b

    def offer_to_callee(self, call: Call, offer: bytes) -> bytes:
        received = _parse(offer)
        _, b = self._allocate(call, received)
        state = self._state(call)
        try:
            sent = build_offer(received, relay=RelayAddress(b.host, b.rtp_port),
                               origin=state.b_origin.next(), codecs=self.codecs,
                               transcodable=self.transcodable)
        except SdpError as exc:
            self.release(call)
            raise SdpRejected(str(exc), exc.status) from None
        state.sent = sent
        return sent.to_bytes()

    # -- late offer: the caller sent no SDP --------------------------------------------
    def _own_codecs(self, first: str | None = None) -> list[str]:
        """The configured codecs the relay can serve on any leg, `first` first."""
        usable = [c for c in self.codecs
                  if c.partition("/")[0].upper() in self.transcodable
                  or c.partition("/")[0].lower() == "telephone-event"]
        if first is not None:
            usable.sort(key=lambda c: c.partition("/")[0].upper() != first)
        return usable

    def own_offer_to_callee(self, call: Call) -> bytes:
        _, b = self._allocate(call)
        state = self._state(call)
        try:
            sent = make_offer(relay=RelayAddress(b.host, b.rtp_port),
                              origin=state.b_origin.next(), codecs=self._own_codecs())
        except ValueError as exc:
            self.release(call)
            raise SdpRejected(f"no codec to offer: {exc}", 488) from None
        state.offer = state.sent = sent
        return sent.to_bytes()

    def offer_to_caller(self, call: Call, answer: bytes) -> bytes:
        """The callee answered the switch's own offer: offer the caller the same codec
        first (no transcoding if it takes it), the others after it."""
        state = self._state(call)
        answered = _parse(answer)
        voice, _ = leg_codecs(answered)
        if not voice:
            raise SdpRejected("the callee accepted no voice codec", 488)
        state.callee_answer = answered
        offer = make_offer(relay=RelayAddress(state.a.host, state.a.rtp_port),
                           origin=state.a_origin.next(), codecs=self._own_codecs(voice[0][1]))
        state.offer = offer
        try:  # the callee's media can flow (to the relay) already
            self._declare(call.call_id, "b", answered, {}, self._media(answered))
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None
        return offer.to_bytes()

    def answer_from_caller(self, call: Call, answer: bytes) -> None:
        state = self._state(call)
        caller_answer = _parse(answer)
        callee_answer = state.callee_answer
        assert callee_answer is not None, "offer_to_caller must come first"
        if not leg_codecs(caller_answer)[0]:
            raise SdpRejected("the caller accepted no voice codec", 488)
        pt = payload_map(state.offer, caller_answer, state.sent, callee_answer)
        state.agreed["a"] = _Agreed(state.offer, caller_answer, caller_answer)
        state.agreed["b"] = _Agreed(state.sent, callee_answer, callee_answer)
        try:
            self._declare(call.call_id, "a", caller_answer, pt.b_to_a, self._media(caller_answer))
            self._declare(call.call_id, "b", callee_answer, pt.a_to_b,
                          self._media(callee_answer))
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None
        self._start_recording(call)

    # -- early offer -----------------------------------------------------------------
    def answer_to_caller(self, call: Call, answer: bytes) -> bytes:
        state = self._state(call)
        if state.early is not None:
            reply = self._after_early(call, state, state.early, answer)
        else:
            reply = self._answer(call, from_caller=True, answer=answer)
        self._start_recording(call)
        return reply

    def early_answer_to_caller(self, call: Call, answer: bytes) -> bytes:
        """A callee's 18x with SDP: answer the caller now (for its 183) and relay the
        early media (ringback, announcements) both ways before the call is answered."""
        state = self._state(call)
        reply = self._answer(call, from_caller=True, answer=answer)
        state.early = _parse(reply)
        return reply

    def _after_early(self, call: Call, state: _CallSdp, early: SessionDescription,
                     answer: bytes) -> bytes:
        """The 200 after early media: the caller keeps the answer of the 183; the leg
        towards the callee takes the 200's answer (maybe another fork, another codec:
        then the relay transcodes). A 200 without SDP (some phones send the answer only
        in their 183) leaves the early media's legs as they are."""
        if not answer.strip():
            return early.to_bytes()
        answered = _parse(answer)
        voice, _ = leg_codecs(answered)
        if not voice:
            raise SdpRejected("the callee accepted no voice codec", 488)
        caller_codec, callee_codec = leg_codecs(early)[0][0][1], voice[0][1]
        if caller_codec != callee_codec and not {caller_codec, callee_codec} <= self.transcodable:
            raise SdpRejected(f"the answer's {callee_codec} cannot be transcoded to the early"
                              f" media's {caller_codec}", 488)
        pt = payload_map(early, state.offer, state.sent, answered)
        state.agreed["a"] = _Agreed(early, state.offer, early)
        state.agreed["b"] = _Agreed(state.sent, answered, answered)
        try:
            self._declare(call.call_id, "a", state.offer, pt.b_to_a, self._media(early))
            self._declare(call.call_id, "b", answered, pt.a_to_b, self._media(answered))
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None
        return early.to_bytes()

    def _start_recording(self, call: Call) -> None:
        policy = self.recording
        if policy is not None:
            decision = policy.decide(caller=call.caller, callee=call.callee)
            if decision.record:
                try:
                    self.backend.start_recording(call.call_id, caller=call.caller,
                                                 callee=call.callee)
                except (MediaError, OSError) as exc:  # the call goes on unrecorded
                    log.error("call %s: recording (%s) failed to start: %s", call.call_id,
                              decision.reason, exc)

    def reoffer(self, call: Call, from_caller: bool, offer: bytes) -> bytes:
        state = self._state(call)
        received = _parse(offer)
        other = state.b if from_caller else state.a
        origin = state.b_origin if from_caller else state.a_origin
        try:
            sent = build_offer(received, relay=RelayAddress(other.host, other.rtp_port),
                               origin=origin.next(), codecs=self.codecs,
                               transcodable=self.transcodable)
        except SdpError as exc:
            raise SdpRejected(str(exc), exc.status) from None
        state.offer, state.sent = received, sent
        return sent.to_bytes()

    def reanswer(self, call: Call, from_caller: bool, answer: bytes) -> bytes:
        return self._answer(call, from_caller=from_caller, answer=answer)

    def _answer(self, call: Call, *, from_caller: bool, answer: bytes) -> bytes:
        """The other leg answered the offer made for the `from_caller` side."""
        state = self._state(call)
        answered = _parse(answer)
        mine = state.a if from_caller else state.b
        origin = state.a_origin if from_caller else state.b_origin
        try:
            reply = build_answer(state.offer, state.sent, answered,
                                 relay=RelayAddress(mine.host, mine.rtp_port),
                                 origin=origin.next(), transcodable=self.transcodable)
        except SdpError as exc:
            raise SdpRejected(str(exc), exc.status) from None
        if from_caller:  # A offered: A got `reply`, sent `offer`; B got `sent`, answered
            a_local, a_remote, b_local, b_remote = reply, state.offer, state.sent, answered
        else:
            a_local, a_remote, b_local, b_remote = state.sent, answered, reply, state.offer
        pt = payload_map(a_local, a_remote, b_local, b_remote)
        # Each leg's codec is the first voice codec of the answer on that leg.
        a_answer, b_answer = (reply, answered) if from_caller else (answered, reply)
        state.agreed["a"] = _Agreed(a_local, a_remote, a_answer)
        state.agreed["b"] = _Agreed(b_local, b_remote, b_answer)
        # The offerer holds (sendonly, inactive, c=0.0.0.0): the other party hears music.
        offer_audio = state.offer.audio()
        holds = offer_audio is not None and state.offer.is_held(offer_audio)
        try:
            self._declare(call.call_id, "a", a_remote, pt.b_to_a, self._media(a_answer))
            self._declare(call.call_id, "b", b_remote, pt.a_to_b, self._media(b_answer))
            self.backend.hold_music(call.call_id, "b" if from_caller else "a", holds)
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None
        return reply.to_bytes()

    # -- re-INVITE without SDP -------------------------------------------------------------
    def refresh_offer(self, call: Call, to_caller: bool) -> bytes:
        """Offer one leg's phone what it last agreed to, as a new version (RFC 6337 §5.3:
        the offer in a 2xx to an SDP-less re-INVITE reflects the session in progress)."""
        state = self._state(call)
        leg = "a" if to_caller else "b"
        agreed = state.agreed.get(leg)
        if agreed is None:
            raise SdpRejected("no media agreed on this leg yet", 488)
        origin = state.a_origin if to_caller else state.b_origin
        offer = dataclasses.replace(agreed.local, origin=origin.next())
        state.refresh = offer
        return offer.to_bytes()

    def refresh_answer(self, call: Call, from_caller: bool, answer: bytes) -> None:
        """The phone's answer (in its ACK) to `refresh_offer`: its address, payload types
        and codec may have changed; the other leg's media stays as it was."""
        state = self._state(call)
        offer, state.refresh = state.refresh, None
        if offer is None:
            raise SdpRejected("no re-offer is awaiting an answer", 488)
        answered = _parse(answer)
        if not leg_codecs(answered)[0]:
            raise SdpRejected("the answer accepts no voice codec", 488)
        leg: LegName = "a" if from_caller else "b"
        other: LegName = "b" if from_caller else "a"
        state.agreed[leg] = _Agreed(offer, answered, answered)
        a, b = state.agreed["a"], state.agreed["b"]
        pt = payload_map(a.local, a.remote, b.local, b.remote)
        audio = answered.audio()
        holds = audio is not None and answered.is_held(audio)
        try:
            self._declare(call.call_id, "a", a.remote, pt.b_to_a, self._media(a.answer))
            self._declare(call.call_id, "b", b.remote, pt.a_to_b, self._media(b.answer))
            self.backend.hold_music(call.call_id, other, holds)
        except MediaError as exc:
            raise SdpRejected(f"media: {exc}", 500) from None

    def _media(self, answer: SessionDescription) -> LegMedia | None:
        """What the backend needs to transcode this leg, if its codec allows it."""
        voice, dtmf = leg_codecs(answer)
        if not voice or voice[0][1] not in self.transcodable:
            return None
        pt, codec = voice[0]
        decode = {p: name for p, name in voice if name in self.transcodable}
        return LegMedia(codec=codec, payload_type=pt, decode=decode, telephone_event=dtmf)

    def _declare(self, session_id: str, leg: LegName, remote_sdp: SessionDescription,
                 pt_map: Mapping[int, int], media: LegMedia | None) -> None:
        audio = remote_sdp.audio()
        self.backend.update(
            session_id, leg,
            remote=remote_sdp.audio_target(),
            pt_map=pt_map or None,
            hold=audio is not None and remote_sdp.is_held(audio),
            media=media,
        )

    def send_digit(self, call: Call, to_caller: bool, digit: str, duration_ms: int) -> None:
        if "sdp" not in call.media:
            return
        try:
            self.backend.send_digit(call.call_id, "a" if to_caller else "b", digit, duration_ms)
        except MediaError as exc:
            log.warning("call %s: could not send DTMF %s: %s", call.call_id, digit, exc)

    def release(self, call: Call) -> None:
        if "sdp" in call.media:
            stats = self.backend.delete(call.call_id)
            call.media.clear()
            if stats is not None:
                log.debug("call %s media: A in %d out %d, B in %d out %d", call.call_id,
                          stats.a.packets_in, stats.a.packets_out, stats.b.packets_in,
                          stats.b.packets_out)


_EMPTY = parse_sdp(b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")


def _parse(body: bytes) -> SessionDescription:
    try:
        return parse_sdp(body)
    except SdpError as exc:
        raise SdpRejected(f"malformed SDP: {exc}", exc.status) from None
