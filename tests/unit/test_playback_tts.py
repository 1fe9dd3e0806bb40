"""TTS via espeak-ng: Polish and English, male and female, rendered once and cached."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from media.playback import EspeakTts, PromptLibrary, TtsError, load_prompt_file
from switch.control import TtsPrompt

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def pitch_hz(pcm: np.ndarray) -> float:
    """Median fundamental of voiced 40 ms frames (autocorrelation, 60…400 Hz)."""
    x = pcm.astype(np.float64)
    out = []
    for i in range(0, len(x) - 320, 320):
        f = x[i : i + 320]
        if np.sqrt(np.mean(f**2)) < 500:
            continue
        ac = np.correlate(f, f, "full")[319:]
        lo, hi = 8000 // 400, 8000 // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            out.append(8000 / lag)
    return float(np.median(out))


@pytest.mark.parametrize("language,text", [("pl", "Dzień dobry, wybierz jeden."),
                                           ("en", "Good morning, press one.")])
def test_renders_male_and_female(tmp_path: Path, language: str, text: str) -> None:
    tts = EspeakTts(tmp_path)
    pitches = {}
    for voice in ("male", "female"):
        path = tts.render(text, language, voice)
        pcm = load_prompt_file(path)
        assert 0.8 < len(pcm) / 8000 < 6.0  # a short sentence
        assert np.abs(pcm).max() > 3000  # not silence
        pitches[voice] = pitch_hz(pcm)
    assert tts.renders == 2
    assert pitches["female"] > pitches["male"] * 1.3  # the variants really differ


def test_cached_on_disk_second_call_does_not_run_espeak(tmp_path: Path) -> None:
    tts = EspeakTts(tmp_path)
    p1 = tts.render("Proszę czekać", "pl", "female")
    mtime = p1.stat().st_mtime_ns
    p2 = tts.render("Proszę czekać", "pl", "female")
    assert p1 == p2 and tts.renders == 1 and p2.stat().st_mtime_ns == mtime
    # a fresh engine on the same directory (a restart) finds it too
    tts2 = EspeakTts(tmp_path)
    assert tts2.render("Proszę czekać", "pl", "female") == p1 and tts2.renders == 0
    assert not list(tmp_path.glob(".*"))  # no temp files left behind
    # other text / voice -> other entry
    assert tts.render("Proszę czekać", "pl", "male") != p1


def test_library_memory_cache(tmp_path: Path) -> None:
    tts = EspeakTts(tmp_path)
    lib = PromptLibrary(tts)
    prompt = TtsPrompt(text="Thank you", language="en", voice="male")
    a = lib.get(prompt)
    b = lib.get(prompt)
    assert a is b and tts.renders == 1 and lib.cached(prompt) is a


def test_text_starting_with_dash_is_text(tmp_path: Path) -> None:
    tts = EspeakTts(tmp_path)
    pcm = load_prompt_file(tts.render("--help me", "en", "female"))
    assert len(pcm) > 4000


def test_errors(tmp_path: Path) -> None:
    tts = EspeakTts(tmp_path)
    with pytest.raises(TtsError, match="no TTS voice"):
        tts.render("hallo", "de", "male")
    with pytest.raises(TtsError, match="empty"):
        tts.render("   ", "pl", "male")
    with pytest.raises(TtsError, match="over"):
        tts.render("a" * 5000, "pl", "male")
    with pytest.raises(TtsError, match="not found"):
        EspeakTts(tmp_path, binary="no-such-espeak").render("x", "pl", "male")
    with pytest.raises(TtsError, match="timed out"):
        EspeakTts(tmp_path, timeout_s=0.001).render("a long text " * 50, "en", "male")
    assert not list(tmp_path.glob(".*"))
