"""Transcoding one direction, and the relay core transcoding between two legs."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from media.backend import LegMedia
from media.codecs import registry
from media.relay import RelayCore
from media.transcode import OutPacket, Transcoder
from tests.support.tones import dominant_hz, level_db, tone

A = ("192.0.2.10", 4000)  # the G.729 phone
B = ("192.0.2.20", 5000)  # the A-law phone
G729_A = LegMedia(codec="G729", payload_type=18, decode={18: "G729"}, telephone_event=96)
PCMA_B = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"}, telephone_event=101)


def packets(codec: str, signal: np.ndarray, pt: int, *, first_seq: int = 100,
            ssrc: int = 0x1234) -> list[bytes]:
    encoder = registry.encoder(codec)
    out = []
    for index, start in enumerate(range(0, len(signal), 160)):
        payload = encoder.encode(signal[start:start + 160])
        out.append(struct.pack("!BBHII", 0x80, pt, (first_seq + index) & 0xFFFF,
                               1000 + 160 * index, ssrc) + payload)
    return out


def decode_stream(codec: str, stream: list[bytes]) -> np.ndarray:
    decoder = registry.decoder(codec)
    return np.concatenate([decoder.decode(p[12:]) for p in stream])


def header(packet: bytes) -> tuple[int, int, int, int]:
    _, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
    return b1 & 0x7F, seq, ts, ssrc


def test_pcma_to_g729_keeps_the_tone() -> None:
    transcoder = Transcoder(decode={8: "PCMA"}, encode="G729", out_pt=18)
    signal = tone(1000, 0.5)
    out: list[OutPacket] = []
    for index, packet in enumerate(packets("PCMA", signal, 8)):
        out += transcoder.push(100 + index, 1000 + 160 * index, 8, False, packet[12:],
                               0.02 * index)
    assert len(out) == 25 and all(p.payload_type == 18 and len(p.payload) == 20 for p in out)
    decoded = decode_stream("G729", [b"\0" * 12 + p.payload for p in out])[800:]
    assert dominant_hz(decoded) == pytest.approx(1000, abs=10)
    assert abs(level_db(decoded, signal[800:])) < 1.5


def test_losses_are_concealed_and_reordering_absorbed() -> None:
    transcoder = Transcoder(decode={0: "PCMU"}, encode="PCMA", out_pt=8)
    stream = packets("PCMU", tone(400, 0.4), 0)
    order = [0, 1, 3, 2, 4, 6, 7, 8, 9, 10] + list(range(11, 20))  # 5 lost, 2/3 swapped
    out: list[OutPacket] = []
    for step, index in enumerate(order):
        packet = stream[index]
        seq, ts = struct.unpack_from("!HI", packet, 2)
        out += transcoder.push(seq, ts, 0, False, packet[12:], 0.02 * step)
    assert [p.seq for p in out] == list(range(100, 120))
    assert [p.timestamp for p in out] == [1000 + 160 * i for i in range(20)]
    assert transcoder.concealed == 1 and transcoder.buffer.lost == 1
    assert all(len(p.payload) == 160 for p in out)


def test_telephone_events_pass_with_their_type_mapped_and_comfort_noise_is_dropped() -> None:
    transcoder = Transcoder(decode={8: "PCMA"}, encode="G729", out_pt=18, dtmf_in=101,
                            dtmf_out=96)
    event = bytes([5, 0x0A, 0, 160])
    out = transcoder.push(1, 0, 101, True, event, 0.0)
    assert out == [OutPacket(1, 0, 96, True, event)]
    assert transcoder.push(2, 160, 13, False, b"\x40", 0.02) == []
    assert transcoder.decoder.dropped == {"comfort_noise": 1}


def test_short_g711_packets_are_gathered_into_whole_g729_frames() -> None:
    transcoder = Transcoder(decode={0: "PCMU"}, encode="G729", out_pt=18)
    pcmu = registry.encoder("PCMU").encode(tone(500, 0.005 * 4))
    out: list[OutPacket] = []
    for index in range(4):  # four 5 ms packets = two 10 ms frames
        out += transcoder.push(index, 40 * index, 0, False, pcmu[40 * index:40 * index + 40],
                               0.005 * index)
    assert [(p.timestamp, len(p.payload)) for p in out] == [(0, 10), (80, 10)]


def test_relay_core_transcodes_both_ways_once_both_legs_declared_codecs() -> None:
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=G729_A)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    assert session.a.transcoder is not None and session.b.transcoder is not None
    from_a = packets("G729", tone(1000, 0.2), 18, first_seq=7, ssrc=0xAAAA)
    to_b = [session.a.rtp(p, A, 0.02 * i) for i, p in enumerate(from_a)]
    assert all(p is not None for p in to_b)
    pt, seq, ts, ssrc = header(to_b[0])  # type: ignore[arg-type]
    assert (pt, seq, ts, ssrc) == (8, 7, 1000, 0xAAAA)
    assert [header(p)[1] for p in to_b] == list(range(7, 17))  # type: ignore[arg-type]
    assert all(len(p) == 12 + 160 for p in to_b)  # type: ignore[arg-type]
    from_b = packets("PCMA", tone(600, 0.2), 8, ssrc=0xBBBB)
    to_a = [session.b.rtp(p, B, 0.02 * i) for i, p in enumerate(from_b)]
    assert all(p is not None and header(p)[0] == 18 and len(p) == 32 for p in to_a)
    heard = decode_stream("G729", to_a)  # type: ignore[arg-type]
    assert dominant_hz(heard[400:]) == pytest.approx(600, abs=15)


def test_relay_core_gives_up_on_a_gap_by_its_timer() -> None:
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    woke: list[bool] = []
    core.on_timer_change = lambda: woke.append(True)
    core.update("c", "a", 0.0, remote=A, media=G729_A)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    stream = packets("PCMA", tone(600, 0.1), 8)
    assert session.b.rtp(stream[0], B, 0.0) is not None
    assert session.b.rtp(stream[2], B, 0.04) is None  # packet 1 missing: held
    assert woke and core.get_timer() == pytest.approx(0.10)
    core.handle_timer(0.10)
    sent = core.drain_sends()
    assert [leg.name for leg, _ in sent] == ["b", "b"]
    assert [header(p)[1] for _, p in sent] == [101, 102]  # concealment, then packet 2


def test_same_codec_on_both_legs_relays_without_transcoding() -> None:
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=PCMA_B)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    assert session.a.transcoder is None and session.b.transcoder is None
    packet = packets("PCMA", tone(600, 0.02), 8)[0]
    assert session.a.rtp(packet, A, 0.0) == packet


def test_relay_core_reports_rfc4733_digits_from_a_leg_and_still_relays_them() -> None:
    from media.backend import DigitReceived
    from media.dtmf.rfc4733 import build_payload

    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=PCMA_B)  # both A-law: relayed as is
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    voice = packets("PCMA", tone(600, 0.04), 8, first_seq=1)
    assert session.a.rtp(voice[0], A, 0.0) == voice[0]
    digit = [struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | 101, 2 + i, 5000, 0x1234)
             + build_payload(5, 160 * (i + 1), end=i >= 3) for i in range(6)]
    relayed = [session.a.rtp(p, A, 0.02 + 0.02 * i) for i, p in enumerate(digit)]
    assert relayed == digit  # telephone-events still reach the other phone unchanged
    events = core.drain()
    assert len(events) == 1 and isinstance(events[0], DigitReceived)
    assert (events[0].leg, events[0].digit, events[0].source) == ("a", "5", "rfc4733")
    assert events[0].duration_ms == 80  # 640 timestamp units
    assert session.a.rtp(voice[1], A, 0.2) == voice[1]  # the fast path is back


def test_relay_core_detects_inband_digits_from_a_phone_without_telephone_events() -> None:
    from media.backend import DigitReceived
    from media.dtmf.tones import synthesize

    no_events = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"})
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=no_events)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    assert session.a.inband_slot is not None and session.b.inband_slot is None
    audio = np.concatenate([np.zeros(800, np.int16), synthesize("7", 100),
                            np.zeros(1600, np.int16)])
    stream = packets("PCMA", audio, 8)
    events = []
    for index, packet in enumerate(stream):
        now = 0.02 * (index + 1)
        assert session.a.rtp(packet, A, now) == packet  # relayed unchanged meanwhile
        deadline = core.get_timer()
        if deadline is not None and deadline <= now:
            core.handle_timer(now)
        events += core.drain()
    digits = [e for e in events if isinstance(e, DigitReceived)]
    assert [(d.leg, d.digit, d.source) for d in digits] == [("a", "7", "inband")]
    assert 80 <= digits[0].duration_ms <= 120
    core.delete("c")
    assert not core._inband_legs and core.inband.open_slots == []


def test_rfc4733_digits_become_tones_for_a_phone_without_telephone_events() -> None:
    from media.dtmf.inband import detect
    from media.dtmf.rfc4733 import build_payload

    no_events = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"})
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=PCMA_B)  # A sends telephone-events
    core.update("c", "b", 0.0, remote=B, media=no_events)  # B only understands tones
    voice = packets("PCMA", np.zeros(8000, np.int16), 8, first_seq=1)
    heard = []
    for index in range(10):
        heard.append(session.a.rtp(voice[index], A, 0.02 * index))
    digit = [struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | 101, 11 + i, 1600, 0x1234)
             + build_payload(4, 160 * (i + 1), end=i >= 5) for i in range(8)]
    for i, packet in enumerate(digit):
        assert session.a.rtp(packet, A, 0.2 + 0.02 * i) is None  # not for B: converted
    assert session.a.drops["dtmf_converted"] == 8
    for index in range(19, 40):  # the audio that follows carries the tone
        heard.append(session.a.rtp(voice[index - 8], A, 0.02 * index))
    pcm = decode_stream("PCMA", [p for p in heard if p is not None])
    assert [d.digit for d in detect(pcm)] == ["4"]


def test_a_sip_info_digit_goes_out_as_telephone_events_in_the_stream() -> None:
    from media.dtmf.rfc4733 import parse_payload

    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=PCMA_B)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    voice = packets("PCMA", np.zeros(1600, np.int16), 8, first_seq=500)
    for index in range(3):
        session.b.rtp(voice[index], B, 0.02 * index)  # B -> A: the stream to join
    core.send_digit("c", "a", "9", 100, 0.06)  # to A, which negotiated PT 101
    sent: list[bytes] = []
    now = 0.06
    while core.get_timer() is not None and now < 1.0:
        now = max(now, core.get_timer())  # type: ignore[type-var]
        core.handle_timer(now)
        sent += [p for leg, p in core.drain_sends() if leg is session.b]
    assert len(sent) == 5 + 2  # 100 ms on the 20 ms grid, the end sent three times
    heads = [header(p) for p in sent]
    assert all(pt == 101 and ssrc == 0x1234 for pt, _, _, ssrc in heads)
    assert [seq for _, seq, _, _ in heads] == list(range(503, 510))  # after the audio
    assert len({ts for _, _, ts, _ in heads}) == 1
    events = [parse_payload(p[12:]) for p in sent]
    assert all(e[0].event == 9 for e in events)  # type: ignore[index]
    after = session.b.rtp(voice[3], B, now + 0.02)
    assert after is not None and header(after)[1] == 510  # the audio continues after them


def test_hold_music_replaces_the_holders_audio_and_the_stream_continues_after() -> None:
    from media.playback.player import PlaybackSource

    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=PCMA_B)
    core.update("c", "b", 0.0, remote=B, media=PCMA_B)
    voice = packets("PCMA", tone(600, 2.0), 8, first_seq=100)
    for index in range(5):  # A talks to B
        assert session.a.rtp(voice[index], A, 0.02 * index) == voice[index]
    music = PlaybackSource([tone(440, 0.5, 4000)], loop=True)
    assert core.play("c", "b", music, 0.1)  # A holds: B hears music
    sent: list[bytes] = []
    for step in range(10):
        now = 0.1 + 0.02 * step
        assert session.a.rtp(voice[5 + step], A, now) is None  # A's audio is replaced
        if (core.get_timer() or 1e9) <= now:
            core.handle_timer(now)
        sent += [p for leg, p in core.drain_sends() if leg is session.a]
    assert len(sent) == 10
    assert [header(p)[1] for p in sent] == list(range(105, 115))  # numbered on
    assert all(header(p)[0] == 8 and header(p)[3] == 0x1234 for p in sent)
    assert dominant_hz(decode_stream("PCMA", sent)) == pytest.approx(440, abs=25)
    core.stop_playing("c", "b")
    resumed = session.a.rtp(voice[20], A, 0.32)
    assert resumed is not None and header(resumed)[1] == 115  # after the music
    assert header(resumed)[2] > header(sent[-1])[2]  # and later in time


# -- hostile input on the decoding paths ----------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_HEADERS = st.builds(
    lambda pt, marker, seq, ts: struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                                            seq, ts, 0x1234),
    st.sampled_from([0, 8, 13, 18, 96, 101, 127]), st.booleans(),
    st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_HEADERS, st.binary(max_size=200), st.floats(0, 5)), max_size=40),
       st.sampled_from(["transcode", "listen", "tones"]))
def test_any_packets_on_decoding_paths_never_raise(
    packets: list[tuple[bytes, bytes, float]], mode: str,
) -> None:
    """Transcoding (G.729 <-> A-law), listening taps with in-band detection, and tone
    injection: whatever arrives — wrong sizes, payload types, sequence jumps — is
    relayed, concealed or dropped, never an exception."""
    no_events = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"})
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    a_media = {"transcode": G729_A, "listen": no_events, "tones": PCMA_B}[mode]
    b_media = {"transcode": PCMA_B, "listen": no_events, "tones": no_events}[mode]
    core.update("c", "a", 0.0, remote=A, media=a_media)
    core.update("c", "b", 0.0, remote=B, media=b_media)
    if mode == "tones":
        core.send_digit("c", "b", "5", 100, 0.0)
    for header_bytes, payload, now in sorted(packets, key=lambda p: p[2]):
        session.a.rtp(header_bytes + payload, A, now)
        session.b.rtp(header_bytes + payload, B, now)
        deadline = core.get_timer()
        if deadline is not None and deadline <= now:
            core.handle_timer(now)
        core.drain_sends()
        core.drain()
    core.handle_timer(10.0)
    assert core.stats("c") is not None


def test_inband_digits_through_a_transcoder_also_go_out_as_telephone_events() -> None:
    from media.dtmf.rfc4733 import parse_payload
    from media.dtmf.tones import synthesize

    no_events = LegMedia(codec="PCMA", payload_type=8, decode={8: "PCMA"})
    core = RelayCore()
    session = core.create("c", 0.0, a_ports=(10000, 10001), b_ports=(10002, 10003))
    core.update("c", "a", 0.0, remote=A, media=no_events)  # tones in its audio
    core.update("c", "b", 0.0, remote=B, media=G729_A)  # G.729 with events on 96
    audio = np.concatenate([np.zeros(800, np.int16), synthesize("3", 100),
                            np.zeros(3200, np.int16)])
    events: list[bytes] = []
    for index, packet in enumerate(packets("PCMA", audio, 8)):
        now = 0.02 * (index + 1)
        session.a.rtp(packet, A, now)
        deadline = core.get_timer()
        while deadline is not None and deadline <= now:
            core.handle_timer(now)
            deadline = core.get_timer()
        events += [p for leg, p in core.drain_sends() if leg is session.a and p[1] & 0x7F == 96]
    assert events, "no telephone-event sent to the G.729 phone"
    assert {parse_payload(p[12:])[0].event for p in events} == {3}  # type: ignore[index]
