"""A phone puts the call on hold (baresip `hold`: a re-INVITE with a=sendonly): the
held phone (linphonec, which records what it plays) hears the switch's music on hold
instead of silence, then the caller's own audio again after `resume`."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.interop.test_calls_baresip import TONE_A, registered
from tests.support.audio import write_tone_wav
from tests.support.linphone import Linphone
from tests.support.peers import Baresip, have
from tests.support.switch_process import SwitchProcess, free_port, write_config

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("baresip"), reason="baresip (Debian baresip-core) missing"),
    pytest.mark.skipif(not have("linphonec"), reason="linphonec (Debian linphone-cli) missing"),
]
USERS = [{"extension": "1001", "password": "pw1001"}, {"extension": "1002", "password": "pw1002"}]


@pytest.fixture
def switch(tmp_path: Path) -> SwitchProcess:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {"auth": {"algorithms": ["MD5"]}})
    process = SwitchProcess(config, port, loop="uvloop").start()
    yield process  # type: ignore[misc]
    process.kill()


def dominant_per_window(path: Path, window: float = 0.1) -> list[float | None]:
    """Dominant frequency of each window (None where it is silent)."""
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    samples = samples[::channels]
    size = int(rate * window)
    result: list[float | None] = []
    for start in range(0, len(samples) - size, size):
        chunk = samples[start:start + size].astype(float)
        if np.sqrt(np.mean(chunk ** 2)) < 100:
            result.append(None)
            continue
        spectrum = np.abs(np.fft.rfft(chunk * np.hanning(size)))
        result.append(float(np.argmax(spectrum) * rate / size))
    return result


@pytest.mark.peer("baresip", "hold: music on hold to the held party (linphonec), resume")
def test_held_party_hears_music_then_the_caller_again(switch: SwitchProcess,
                                                      tmp_path: Path) -> None:
    heard_path = tmp_path / "held-heard.wav"
    caller = Baresip(tmp_path / "a", "1001", "pw1001", switch.port,
                     tone_wav=write_tone_wav(tmp_path / "a.wav", TONE_A, 20.0)).start()
    held = Linphone(tmp_path / "lp", "1002", "pw1002", switch.port, codecs=("PCMU", "PCMA"),
                    auto_answer=True).start()
    try:
        assert registered(switch, "1001") and registered(switch, "1002"), switch.log_text()
        held.send(f"record {heard_path}")
        caller.dial("sip:1002@example.test")
        caller.wait_event("CALL_ESTABLISHED", timeout=30)
        time.sleep(1.5)
        caller.request("hold")
        time.sleep(3.0)
        caller.request("resume")
        time.sleep(1.5)
        caller.hangup()
        caller.wait_event("CALL_CLOSED", timeout=20)
        held.quit()  # closes its recording
    finally:
        held.quit()
        caller.quit()
    heard = dominant_per_window(heard_path)
    tone = [i for i, f in enumerate(heard) if f is not None and abs(f - TONE_A) < 20]
    music = [i for i, f in enumerate(heard) if f is not None and 60 < f < 450]
    assert len(music) >= 15, (heard, switch.log_text())  # >= 1.5 s of music while held
    assert tone and min(tone) < min(music) and max(tone) > max(music), heard
    assert "music on hold to leg b" in switch.log_text()
