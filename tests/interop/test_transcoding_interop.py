"""A G.729-only phone (linphonec) calls an A-law-only phone (baresip) through the switch.

The legs share no codec, so the switch answers each phone in its own codec and the
relay transcodes G.729 <-> PCMA. Each phone plays its own tone and records what it
hears; an FFT of each recording must show the other phone's tone. The switch records
the call too: its stereo WAV must hold the caller's tone on the left channel and the
callee's on the right, and its index row must say so.
"""

from __future__ import annotations

import sqlite3
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.interop.test_calls_baresip import registered
from tests.support.audio import dominant_frequency, dominant_of, has_tone, write_tone_wav
from tests.support.linphone import Linphone
from tests.support.peers import Baresip, have
from tests.support.switch_process import SwitchProcess, free_port, write_config

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("baresip"), reason="baresip (Debian baresip-core) missing"),
    pytest.mark.skipif(not have("linphonec"), reason="linphonec (Debian linphone-cli) missing"),
]

USERS = [{"extension": "1001", "password": "pw1001"}, {"extension": "1002", "password": "pw1002"}]
TONE_LINPHONE, TONE_BARESIP = 1000.0, 600.0


@pytest.fixture
def switch(tmp_path: Path) -> SwitchProcess:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {"auth": {"algorithms": ["MD5"]},
                                                  "recording": {"all_calls": True}})
    process = SwitchProcess(config, port, loop="uvloop").start()
    yield process  # type: ignore[misc]
    process.kill()


@pytest.mark.peer("linphonec", "G.729-only call to a PCMA-only baresip, tones both ways")
def test_g729_phone_and_alaw_phone_hear_each_other(switch: SwitchProcess,
                                                   tmp_path: Path) -> None:
    heard_by_linphone = tmp_path / "linphone-heard.wav"
    linphone = Linphone(tmp_path / "lp", "1001", "pw1001", switch.port, codecs=("G729",))
    baresip = Baresip(tmp_path / "b", "1002", "pw1002", switch.port,
                      tone_wav=write_tone_wav(tmp_path / "b.wav", TONE_BARESIP, 20.0),
                      record_dir=tmp_path / "b-rec", auto_answer=True,
                      audio_codecs="PCMA/8000/1")
    linphone.start()
    baresip.start()
    try:
        assert registered(switch, "1001") and registered(switch, "1002"), switch.log_text()
        linphone.send(f"play {write_tone_wav(tmp_path / 'lp.wav', TONE_LINPHONE, 20.0)}")
        linphone.send(f"record {heard_by_linphone}")
        linphone.send("call sip:1002@example.test")
        baresip.wait_event("CALL_ESTABLISHED", timeout=30)
        linphone.wait_output("connected", timeout=30)
        time.sleep(3.0)
        linphone.send("terminate")
        baresip.wait_event("CALL_CLOSED", timeout=20)
        heard_by_baresip = baresip.wait_recording("dec")
        offers = [line for line in linphone.log_text(None).splitlines()
                  if line.startswith("m=audio")]
        assert offers, linphone.log_text()
        formats = offers[0].split()[3:]
        assert "18" in formats and "0" not in formats and "8" not in formats, offers
        assert has_tone(heard_by_baresip, TONE_LINPHONE), (
            dominant_frequency(heard_by_baresip), switch.log_text())
        linphone.quit()  # closes its recording
        assert has_tone(heard_by_linphone, TONE_BARESIP), (
            dominant_frequency(heard_by_linphone), linphone.output()[-2000:])
    finally:
        linphone.quit()
        baresip.quit()
    row = finished_recording(switch)
    assert row["status"] == "complete"
    assert (row["caller"], row["callee"], row["format"]) == ("1001", "1002", "stereo")
    left, right = channels(Path(row["path"]))
    assert dominant_of(left) == pytest.approx(TONE_LINPHONE, abs=20)  # caller on the left
    assert dominant_of(right) == pytest.approx(TONE_BARESIP, abs=20)  # callee on the right
    assert float(row["duration_s"]) >= 2.5


def finished_recording(switch: SwitchProcess, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
        db.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in db.execute("SELECT * FROM recordings")]
        finally:
            db.close()
        if rows and rows[0]["status"] != "recording" or time.monotonic() > deadline:
            assert len(rows) == 1 and rows[0]["status"] in ("complete", "repaired"), (
                rows, switch.log_text())
            return rows[0]
        time.sleep(0.1)


def channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, 2)
    return frames[:, 0], frames[:, 1]



@pytest.mark.peer("baresip", "recorded call, kill -9 of the switch, repaired at restart")
def test_recording_cut_by_kill9_is_repaired_at_restart(switch: SwitchProcess,
                                                       tmp_path: Path) -> None:
    a = Baresip(tmp_path / "a", "1001", "pw1001", switch.port,
                tone_wav=write_tone_wav(tmp_path / "a.wav", TONE_LINPHONE, 20.0))
    b = Baresip(tmp_path / "b", "1002", "pw1002", switch.port,
                tone_wav=write_tone_wav(tmp_path / "b.wav", TONE_BARESIP, 20.0),
                auto_answer=True)
    a.start()
    b.start()
    try:
        assert registered(switch, "1001") and registered(switch, "1002"), switch.log_text()
        a.dial("sip:1002@example.test")
        a.wait_event("CALL_ESTABLISHED", timeout=20)
        time.sleep(3.0)
        switch.kill()  # kill -9 with the call and its recording in progress
    finally:
        a.close()  # no switch to unregister from: just stop them
        b.close()
    restarted = SwitchProcess(switch.config_path, switch.port, loop=switch.loop).start()
    try:
        assert restarted.wait_for_log("repaired 1 recordings")
        row = finished_recording(restarted)
    finally:
        restarted.kill()
    assert row["status"] == "repaired"
    left, right = channels(Path(row["path"]))  # a valid WAV again
    duration = len(left) / 8000
    assert float(row["duration_s"]) == pytest.approx(duration, abs=0.01)
    assert duration >= 3.0 - 1.0  # at most the last second lost
    assert dominant_of(left) == pytest.approx(TONE_LINPHONE, abs=20)
    assert dominant_of(right) == pytest.approx(TONE_BARESIP, abs=20)
