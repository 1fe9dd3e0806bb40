"""G.711 bit-exactness against an independent reference, G.729 round trip, PLC."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from media.codecs import g711, g729, registry
from media.codecs.plc import Concealer
from media.errors import CodecError
from tests.support.tones import dominant_hz, level_db, tone

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # Python 3.11's C implementation of the ITU reference code

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encoding_is_bit_exact_for_every_sample() -> None:
    assert g711.ulaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2)


def test_alaw_encoding_is_bit_exact_for_every_sample() -> None:
    assert g711.alaw_encode(ALL_SAMPLES).tobytes() == audioop.lin2alaw(ALL_SAMPLES.tobytes(), 2)


def test_ulaw_decoding_is_bit_exact_for_every_code() -> None:
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decoding_is_bit_exact_for_every_code() -> None:
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_g711_codec_objects_round_trip(name: str) -> None:
    signal = tone(1000, 0.02)
    payload = registry.encoder(name).encode(signal)
    assert len(payload) == 160
    back = registry.decoder(name).decode(payload)
    assert abs(level_db(back, signal)) < 0.25  # quantisation only


def test_g729_is_available_here() -> None:
    assert g729.available(), "libbcg729 (Debian libbcg729-0) must be installed"
    assert registry.transcodable() == {"PCMU", "PCMA", "G729"}


def test_g729_round_trip_keeps_a_1khz_tone_frequency_and_level() -> None:
    signal = tone(1000, 1.0)
    encoder, decoder = registry.encoder("G729"), registry.decoder("G729")
    out = []
    for start in range(0, len(signal), 160):
        payload = encoder.encode(signal[start:start + 160])
        assert len(payload) == 20  # two 10-byte frames per 20 ms
        out.append(decoder.decode(payload))
    decoded = np.concatenate(out)[800:]  # past the codec's start-up
    assert dominant_hz(decoded) == pytest.approx(1000, abs=5)
    assert abs(level_db(decoded, signal[800:])) < 1.0


def test_g729_rejects_payloads_that_are_not_whole_frames() -> None:
    with pytest.raises(CodecError, match="not 10-byte frames"):
        registry.decoder("G729").decode(b"\x00" * 7)
    with pytest.raises(CodecError, match="whole 10 ms frames"):
        registry.encoder("G729").encode(np.zeros(100, np.int16))


def test_g729_sid_frames_and_concealment_give_audio_of_the_right_length() -> None:
    decoder = registry.decoder("G729")
    assert len(decoder.decode(b"\x00" * 20)) == 160
    assert len(decoder.decode(b"\x00" * 20 + b"\x12\x34")) == 240  # two frames + SID
    assert len(decoder.conceal(160)) == 160


def test_g729_vad_encoder_goes_quiet_on_silence() -> None:
    encoder = registry.encoder("G729", vad=True)
    sizes = [len(encoder.encode(np.zeros(160, np.int16))) for _ in range(20)]
    assert sizes[0] == 2  # one SID frame, then discontinuous transmission
    assert set(sizes[1:]) <= {0, 2}


def test_unknown_codec_is_a_clear_error() -> None:
    with pytest.raises(CodecError, match="no encoder for 'OPUS'"):
        registry.encoder("OPUS")


# -- packet-loss concealment --------------------------------------------------------------
def _voiced(seconds: float) -> np.ndarray:
    # A vowel-like signal: 150 Hz fundamental with two harmonics.
    return (tone(150, seconds, 5000) // 1 + tone(300, seconds, 2500) + tone(450, seconds, 1200))


def test_concealment_continues_the_waveform_better_than_silence() -> None:
    signal = _voiced(0.2).astype(np.int16)
    plc = Concealer()
    for start in range(0, 800, 160):
        plc.good(signal[start:start + 160])
    filled = plc.conceal(160)
    truth = signal[800:960]
    error_plc = np.mean((filled.astype(float) - truth) ** 2)
    error_silence = np.mean(truth.astype(float) ** 2)
    assert error_plc < 0.5 * error_silence


def test_no_click_where_concealment_meets_the_next_good_packet() -> None:
    signal = _voiced(0.2).astype(np.int16)
    plc = Concealer()
    out = [plc.good(signal[s:s + 160]) for s in range(0, 800, 160)]
    out.append(plc.conceal(160))
    out.append(plc.good(signal[960:1120]))
    joined = np.concatenate(out).astype(float)
    natural = np.max(np.abs(np.diff(signal.astype(float))))
    junctions = [800, 960]
    for at in junctions:
        step = np.max(np.abs(np.diff(joined[at - 2:at + 2])))
        assert step <= 1.5 * natural


def test_long_losses_fade_to_silence() -> None:
    plc = Concealer()
    plc.good(_voiced(0.05).astype(np.int16))
    tail = np.concatenate([plc.conceal(160) for _ in range(5)])
    assert np.all(tail[-160:] == 0)  # after 60 ms
    assert np.abs(tail[:80]).max() > 1000  # the first 10 ms at full level
