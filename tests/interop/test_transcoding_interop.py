"""A G.729-only phone (linphonec) calls an A-law-only phone (baresip) through the switch.

The legs share no codec, so the switch answers each phone in its own codec and the
relay transcodes G.729 <-> PCMA. Each phone plays its own tone and records what it
hears; an FFT of each recording must show the other phone's tone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.interop.test_calls_baresip import registered
from tests.support.audio import dominant_frequency, has_tone, write_tone_wav
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
    config = write_config(tmp_path, port, USERS, {"auth": {"algorithms": ["MD5"]}})
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
