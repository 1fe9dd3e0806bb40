"""Answering-machine detection: each rule on constructed signals, tones, batching."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.amd import (
    FRAME_SAMPLES,
    AmdBank,
    AmdConfig,
    AmdDecision,
    AmdDetector,
    AmdError,
    AmdResult,
    BeepDetected,
    FaxToneDetected,
    analyse,
)

RATE = 8000


def quiet(s: float, seed: int = 0, sigma: float = 30.0) -> np.ndarray:
    """Line noise well under the silence threshold."""
    return np.random.default_rng(seed).normal(0, sigma, int(round(s * RATE)))


def word(s: float, seed: int = 1, sigma: float = 3000.0) -> np.ndarray:
    """A noise burst standing in for a spoken word (broadband: never a tone)."""
    return np.random.default_rng(seed).normal(0, sigma, int(round(s * RATE)))


def tone(hz: float, s: float, amp: float = 8000.0, phase_flip_every: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(s * RATE))) / RATE
    ph = 0.0 if not phase_flip_every else np.pi * ((t // phase_flip_every) % 2)
    return amp * np.sin(2 * np.pi * hz * t + ph)


def pcm(*parts: np.ndarray, noise_sigma: float = 0.0, seed: int = 9) -> np.ndarray:
    x = np.concatenate(parts)
    if noise_sigma:
        x = x + np.random.default_rng(seed).normal(0, noise_sigma, x.size)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def decide(x: np.ndarray, cfg: AmdConfig | None = None) -> AmdDecision:
    d, _ = analyse(x, cfg)
    assert d is not None
    return d


# -- configuration ----------------------------------------------------------------------

def test_defaults_are_asterisk_app_amd() -> None:
    c = AmdConfig()
    assert (c.initial_silence_ms, c.greeting_ms, c.after_greeting_silence_ms,
            c.total_analysis_time_ms, c.min_word_length_ms, c.between_words_silence_ms,
            c.maximum_number_of_words, c.maximum_word_length_ms, c.silence_threshold) == (
        2500, 1500, 800, 5000, 100, 50, 2, 5000, 256)


@pytest.mark.parametrize("changes", [
    {"greeting_ms": -1}, {"maximum_number_of_words": 0}, {"tone_purity": 1.5},
    {"noise_ratio": 0.5}, {"beep_min_hz": 3000.0}, {"total_analysis_time_ms": 0},
    {"silence_threshold": float("nan")},
])
def test_bad_config_is_a_specific_error(changes: dict[str, float]) -> None:
    with pytest.raises(AmdError):
        AmdConfig().replace(**changes)


def test_replace_rejects_unknown_field() -> None:
    with pytest.raises(AmdError, match="nonsense"):
        AmdConfig().replace(nonsense=1)


# -- the word rules -------------------------------------------------------------------

def test_initial_silence_is_machine() -> None:
    d = decide(pcm(quiet(3.0)))
    assert (d.result, d.cause, d.at_s) == (AmdResult.MACHINE, "INITIALSILENCE", 2.5)


def test_short_greeting_then_silence_is_human() -> None:
    d = decide(pcm(quiet(0.5), word(0.6), quiet(1.5)))
    assert (d.result, d.cause) == (AmdResult.HUMAN, "HUMAN")
    assert d.at_s == pytest.approx(0.5 + 0.6 + 0.8, abs=0.021)
    assert d.words == 1


def test_long_greeting_is_machine() -> None:
    d = decide(pcm(quiet(0.3), word(2.5), quiet(1.0)))
    assert (d.result, d.cause) == (AmdResult.MACHINE, "LONGGREETING")
    assert d.at_s == pytest.approx(0.3 + 1.5, abs=0.021)


def test_too_many_words_is_machine() -> None:
    d = decide(pcm(quiet(0.3), word(0.2, 1), quiet(0.1), word(0.2, 2), quiet(1.0)))
    assert (d.result, d.cause, d.words) == (AmdResult.MACHINE, "MAXWORDS", 2)
    assert d.at_s == pytest.approx(0.3 + 0.2 + 0.1 + 0.1, abs=0.021)


def test_word_count_limit_is_configurable() -> None:
    cfg = AmdConfig(maximum_number_of_words=3)
    d = decide(pcm(quiet(0.3), word(0.2, 1), quiet(0.1), word(0.2, 2), quiet(1.0)), cfg)
    assert (d.result, d.words) == (AmdResult.HUMAN, 2)


def test_maximum_word_length() -> None:
    cfg = AmdConfig(greeting_ms=10_000, maximum_word_length_ms=3000,
                    total_analysis_time_ms=8000)
    d = decide(pcm(quiet(0.2), word(4.0)), cfg)
    assert (d.result, d.cause) == (AmdResult.MACHINE, "MAXWORDLENGTH")
    assert d.at_s == pytest.approx(3.2, abs=0.021)


def test_total_analysis_time_is_notsure() -> None:
    cfg = AmdConfig(greeting_ms=10_000, maximum_number_of_words=100)
    parts = [quiet(0.2)]
    for i in range(12):  # words with gaps shorter than the after-greeting silence
        parts += [word(0.2, i), quiet(0.3, i)]
    d = decide(pcm(*parts), cfg)
    assert (d.result, d.cause, d.at_s) == (AmdResult.NOTSURE, "TOOLONG", 5.0)


def test_a_click_is_not_a_greeting() -> None:
    d = decide(pcm(quiet(1.0), word(0.06), quiet(3.0)))
    # The initial-silence clock counts consecutive silence, so it restarts after the click.
    assert (d.cause, d.words) == ("INITIALSILENCE", 0)
    assert d.at_s == pytest.approx(1.06 + 2.5, abs=0.021)


def test_gap_shorter_than_between_words_silence_keeps_one_word() -> None:
    cfg = AmdConfig(between_words_silence_ms=100, maximum_number_of_words=2)
    d = decide(pcm(quiet(0.3), word(0.3, 1), quiet(0.06), word(0.3, 2), quiet(1.0)), cfg)
    assert (d.result, d.words) == (AmdResult.HUMAN, 1)


def test_adaptive_noise_floor_ignores_a_loud_hiss() -> None:
    hiss = 900.0  # mean |x| ~ 720: far above the fixed threshold of 256
    assert decide(pcm(quiet(3.0), noise_sigma=hiss)).cause == "INITIALSILENCE"
    d = decide(pcm(quiet(0.6), word(0.5, sigma=6000), quiet(1.5), noise_sigma=hiss))
    assert (d.result, d.cause) == (AmdResult.HUMAN, "HUMAN")


def test_peak_gate_keeps_distant_voices_out() -> None:
    far = [word(0.2, i, sigma=600.0) if i % 2 else quiet(0.1, i) for i in range(30)]
    x = pcm(quiet(0.3), word(0.5, sigma=6000), *far)
    assert decide(x).result is AmdResult.MACHINE  # the far voice counts as words
    d = decide(x, AmdConfig(peak_gate_db=15))
    assert (d.result, d.cause) == (AmdResult.HUMAN, "HUMAN")


# -- beeps and fax tones ---------------------------------------------------------------

@pytest.mark.parametrize("hz", [440.0, 1000.0, 1400.0, 1850.0])
def test_beep_after_greeting(hz: float) -> None:
    x = pcm(quiet(0.3), word(0.7), quiet(0.4), tone(hz, 0.3, amp=3000), quiet(1.0),
            noise_sigma=150)  # tone ~20 dB above the noise
    d, events = analyse(x)
    assert d is not None and (d.result, d.cause) == (AmdResult.MACHINE, "BEEP")
    beeps = [e for e in events if isinstance(e, BeepDetected)]
    assert len(beeps) == 1
    assert beeps[0].frequency_hz == pytest.approx(hz, abs=10)
    assert beeps[0].start_s == pytest.approx(1.4, abs=0.041)
    assert beeps[0].end_s == pytest.approx(1.7, abs=0.041)


def test_beep_is_reported_after_the_decision_too() -> None:
    x = pcm(quiet(0.3), word(2.0), quiet(0.3), tone(1000, 0.5), quiet(1.0), noise_sigma=50)
    d, events = analyse(x)
    assert d is not None and d.cause == "LONGGREETING"
    beeps = [e for e in events if isinstance(e, BeepDetected)]
    assert len(beeps) == 1 and beeps[0].end_s == pytest.approx(3.1, abs=0.041)
    assert beeps[0].end_s > d.at_s


def test_short_or_out_of_band_tones_are_not_beeps() -> None:
    for x in (pcm(quiet(0.5), tone(1000, 0.06), quiet(3.0), noise_sigma=50),
              pcm(quiet(0.5), tone(2600, 0.4), quiet(3.0), noise_sigma=50),
              pcm(quiet(0.5), tone(300, 0.4), quiet(3.0), noise_sigma=50)):
        d, events = analyse(x)
        assert not [e for e in events if isinstance(e, BeepDetected)]
        assert d is not None and d.cause != "BEEP"


def test_a_chord_or_noise_burst_is_not_a_beep() -> None:
    chord = tone(500, 0.5) + tone(1000, 0.5, amp=4000) + tone(1500, 0.5, amp=3000)
    d, events = analyse(pcm(quiet(0.5), chord, quiet(2.0), noise_sigma=50))
    assert not [e for e in events if isinstance(e, BeepDetected)]
    assert d is not None and d.result is AmdResult.HUMAN


@pytest.mark.parametrize("flips", [0.0, 0.45])
def test_fax_ced(flips: float) -> None:
    x = pcm(quiet(0.4), tone(2100, 3.0, amp=4000, phase_flip_every=flips), quiet(0.5),
            noise_sigma=400)  # ~14 dB SNR
    d, events = analyse(x)
    assert d is not None and (d.result, d.cause) == (AmdResult.MACHINE, "FAX-CED")
    assert d.at_s == pytest.approx(0.4 + 0.5, abs=0.061)
    fax = [e for e in events if isinstance(e, FaxToneDetected)]
    assert len(fax) == 1 and fax[0].tone == "CED"
    assert fax[0].frequency_hz == pytest.approx(2100, abs=10)
    assert not [e for e in events if isinstance(e, BeepDetected)]


def test_fax_cng() -> None:
    x = pcm(quiet(0.3), tone(1100, 0.5, amp=4000), quiet(3.0), tone(1100, 0.5, amp=4000),
            quiet(1.0), noise_sigma=300)
    d, events = analyse(x)
    assert d is not None and (d.result, d.cause) == (AmdResult.MACHINE, "FAX-CNG")
    assert d.at_s == pytest.approx(0.3 + 0.4, abs=0.061)
    fax = [e for e in events if isinstance(e, FaxToneDetected)]
    assert [f.tone for f in fax] == ["CNG"]


def test_short_1100_hz_beep_is_a_beep_not_fax() -> None:
    d, events = analyse(pcm(quiet(0.5), tone(1100, 0.2), quiet(2.0), noise_sigma=50))
    assert d is not None and d.cause == "BEEP"
    assert d.at_s == pytest.approx(0.7, abs=0.061)  # decided when the tone ended
    assert not [e for e in events if isinstance(e, FaxToneDetected)]


# -- streaming, batching, timers, bad input ------------------------------------------------

def _scenarios() -> list[np.ndarray]:
    return [
        pcm(quiet(3.0)),
        pcm(quiet(0.5), word(0.6), quiet(1.5)),
        pcm(quiet(0.3), word(2.5), quiet(1.0)),
        pcm(quiet(0.3), word(0.7), quiet(0.4), tone(1000, 0.3), quiet(1.0), noise_sigma=100),
        pcm(quiet(0.4), tone(2100, 3.0, amp=4000), noise_sigma=300),
        pcm(quiet(0.3), word(0.2, 1), quiet(0.1), word(0.2, 2), quiet(1.0)),
        pcm(quiet(0.6), word(0.5, sigma=6000), quiet(1.5), noise_sigma=900),
    ]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=40),
       st.integers(min_value=0, max_value=6))
def test_same_answer_in_one_piece_or_in_chunks(cuts: list[int], which: int) -> None:
    x = _scenarios()[which]
    whole = AmdDetector().feed(x)
    det = AmdDetector()
    got = []
    pos = 0
    for c in cuts * (x.size // max(1, sum(cuts)) + 1):
        if pos >= x.size:
            break
        got += det.feed(x[pos : pos + c])
        pos += c
    assert got == whole


def test_frame_by_frame_and_bytes_give_the_same_answer() -> None:
    for x in _scenarios():
        whole = AmdDetector().feed(x)
        det = AmdDetector()
        frames = [ev for i in range(0, x.size, FRAME_SAMPLES)
                  for ev in det.feed(x[i : i + FRAME_SAMPLES].tobytes())]
        assert frames == whole


def test_bank_matches_single_channel_detectors() -> None:
    sc = _scenarios()
    n = max(s.size for s in sc) // FRAME_SAMPLES
    bank = AmdBank(capacity=2)  # grows as channels are opened
    slots = [bank.open() for _ in sc]
    got: dict[int, list[object]] = {s: [] for s in slots}
    for t in range(n):
        live = [i for i, s in enumerate(sc) if s.size >= (t + 1) * FRAME_SAMPLES]
        frames = np.stack([sc[i][t * FRAME_SAMPLES : (t + 1) * FRAME_SAMPLES] for i in live])
        for slot, ev in bank.step([slots[i] for i in live], frames):
            got[slot].append(ev)
    for i, s in enumerate(sc):
        assert got[slots[i]] == AmdDetector().feed(s), i
        assert bank.decision(slots[i]) == analyse(s)[0]


def test_closed_slot_is_reused_with_fresh_state() -> None:
    bank = AmdBank(capacity=1)
    a = bank.open()
    x = pcm(quiet(3.0))
    for i in range(x.size // FRAME_SAMPLES):
        bank.step([a], x[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES].reshape(1, -1))
    assert bank.decision(a) is not None
    bank.close(a)
    b = bank.open()
    assert b == a and bank.decision(b) is None and bank.elapsed_s(b) == 0.0


def test_bad_input_is_a_specific_error() -> None:
    bank = AmdBank()
    s = bank.open()
    frame = np.zeros((1, FRAME_SAMPLES), np.int16)
    with pytest.raises(AmdError):
        bank.step([s], frame.astype(np.float32))  # type: ignore[arg-type]
    with pytest.raises(AmdError):
        bank.step([s], np.zeros((1, 100), np.int16))
    with pytest.raises(AmdError):
        bank.step([s, s], np.zeros((2, FRAME_SAMPLES), np.int16))
    with pytest.raises(AmdError):
        bank.step([s + 1], frame)
    bank.close(s)
    with pytest.raises(AmdError):
        bank.step([s], frame)
    with pytest.raises(AmdError):
        bank.decision(s)
    det = AmdDetector()
    with pytest.raises(AmdError):
        det.feed(b"\x00\x01\x02")
    with pytest.raises(AmdError):
        det.feed(np.zeros((2, 160), np.int16))
    with pytest.raises(AmdError):
        AmdBank(capacity=0)


def test_no_audio_deadline_gives_notsure() -> None:
    det = AmdDetector(start=100.0)
    assert det.get_timer() == pytest.approx(106.0)
    det.feed(pcm(quiet(0.5)))
    assert det.handle_timer(105.9) == []
    [d] = det.handle_timer(106.0)
    assert isinstance(d, AmdDecision)
    assert (d.result, d.cause, d.at_s) == (AmdResult.NOTSURE, "NOAUDIO", 0.5)
    assert det.get_timer() is None and det.handle_timer(200.0) == []


def test_decided_detector_has_no_timer() -> None:
    det = AmdDetector(start=0.0)
    det.feed(pcm(quiet(3.0)))
    assert det.decision is not None and det.get_timer() is None


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_greeting_and_voicemail() -> None:
    from bench.amd_accuracy import TUNED
    from bench.amd_corpus import espeak

    def level(x: np.ndarray) -> np.ndarray:
        return x * 3000.0

    hello = espeak("Halo?", "pl+f3", 160, 50)
    d = decide(pcm(quiet(0.5), level(hello), quiet(2.0), noise_sigma=30), TUNED)
    assert d.result is AmdResult.HUMAN
    vm = espeak("Dzień dobry, dodzwoniłeś się do Jana Kowalskiego. Proszę zostawić "
                "wiadomość po sygnale.", "pl+m3", 160, 50)
    d = decide(pcm(quiet(0.5), level(vm), quiet(1.0), noise_sigma=30), TUNED)
    assert d.result is AmdResult.MACHINE


def test_recommended_config_keeps_a_two_word_answer_human() -> None:
    from media.amd import RECOMMENDED

    # "Tak, słucham?": two words 80 ms apart, then waiting for an answer.
    x = pcm(quiet(0.4), word(0.25, 1), quiet(0.08), word(0.45, 2), quiet(1.5))
    assert decide(x).cause == "MAXWORDS"  # Asterisk's defaults: a machine
    d = decide(x, RECOMMENDED)
    assert (d.result, d.cause) == (AmdResult.HUMAN, "HUMAN")


def test_beep_quieter_than_the_speech_is_still_found_with_the_peak_gate() -> None:
    from media.amd import RECOMMENDED

    x = pcm(quiet(0.3), word(2.0, sigma=8000), quiet(0.3), tone(1000, 0.4, amp=1500),
            quiet(1.0), noise_sigma=30)  # beep ~ 15 dB under the speech
    _, events = analyse(x, RECOMMENDED)
    beeps = [e for e in events if isinstance(e, BeepDetected)]
    assert len(beeps) == 1 and beeps[0].end_s == pytest.approx(3.0, abs=0.041)


def test_short_greeting_rule() -> None:
    x = pcm(quiet(0.5), word(0.4), quiet(1.5))
    assert decide(x).at_s == pytest.approx(0.5 + 0.4 + 0.8, abs=0.021)
    cfg = AmdConfig(short_greeting_ms=800, short_greeting_silence_ms=600)
    d = decide(x, cfg)
    assert (d.result, d.cause) == (AmdResult.HUMAN, "HUMAN")
    assert d.at_s == pytest.approx(0.5 + 0.4 + 0.6, abs=0.021)
    # A longer greeting still needs the full after-greeting silence.
    d = decide(pcm(quiet(0.5), word(1.0), quiet(1.5)), cfg)
    assert d.at_s == pytest.approx(0.5 + 1.0 + 0.8, abs=0.021)
