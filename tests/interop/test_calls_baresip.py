"""Two real phones (baresip) call each other through the switch, audio both ways.

Each phone plays its own tone from a WAV file and records what it receives; the RTP
goes through the switch's relay (the SDP each phone sees points at the switch). An FFT
of each recording must show the other phone's tone. Hang-up from each side; CDRs are
checked. Under uvloop and plain asyncio.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.audio import dominant_frequency, has_tone, write_tone_wav
from tests.support.peers import Baresip, have
from tests.support.switch_process import SwitchProcess, free_port, write_config

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("baresip"), reason="baresip (Debian baresip-core) missing"),
]

USERS = [{"extension": "1001", "password": "pw1001"}, {"extension": "1002", "password": "pw1002"}]
TONE_A, TONE_B = 600.0, 1400.0
TALK_SECONDS = 3.0


@pytest.fixture
def switch(tmp_path: Path, loop_kind: str) -> SwitchProcess:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {"auth": {"algorithms": ["MD5"]}})
    process = SwitchProcess(config, port, loop=loop_kind).start()
    yield process  # type: ignore[misc]
    process.kill()


def registered(switch: SwitchProcess, extension: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
        try:
            if db.execute("SELECT 1 FROM registrations WHERE extension = ?",
                          (extension,)).fetchone():
                return True
        finally:
            db.close()
        time.sleep(0.1)
    return False


def cdr_row(switch: SwitchProcess, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
        db.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in db.execute("SELECT * FROM cdr")]
        finally:
            db.close()
        if rows and rows[0]["disposition"] is not None or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return rows[0]
        time.sleep(0.1)


def phones(switch: SwitchProcess, tmp_path: Path) -> tuple[Baresip, Baresip]:
    tone_a = write_tone_wav(tmp_path / "a.wav", TONE_A, 20.0)
    tone_b = write_tone_wav(tmp_path / "b.wav", TONE_B, 20.0)
    a = Baresip(tmp_path / "a", "1001", "pw1001", switch.port, tone_wav=tone_a,
                record_dir=tmp_path / "a-rec").start()
    b = Baresip(tmp_path / "b", "1002", "pw1002", switch.port, tone_wav=tone_b,
                record_dir=tmp_path / "b-rec", auto_answer=True).start()
    assert registered(switch, "1001") and registered(switch, "1002"), switch.log_text()
    return a, b


@pytest.mark.peer("baresip", "call, tones both ways, hangups")
@pytest.mark.parametrize("hangup_by", ["caller", "callee"])
def test_audio_flows_both_ways_through_the_relay(switch: SwitchProcess, tmp_path: Path,
                                                  hangup_by: str) -> None:
    a, b = phones(switch, tmp_path)
    try:
        a.dial("sip:1002@example.test")
        a.wait_event("CALL_ESTABLISHED", timeout=20)
        b.wait_event("CALL_ESTABLISHED", timeout=20)
        time.sleep(TALK_SECONDS)  # let the tones flow; the analysis needs >= 1 s of each
        (a if hangup_by == "caller" else b).hangup()
        a.wait_event("CALL_CLOSED", timeout=20)
        b.wait_event("CALL_CLOSED", timeout=20)
        heard_by_a = a.wait_recording("dec")
        heard_by_b = b.wait_recording("dec")
        assert has_tone(heard_by_a, TONE_B), (dominant_frequency(heard_by_a), a.log_text())
        assert has_tone(heard_by_b, TONE_A), (dominant_frequency(heard_by_b), b.log_text())
    finally:
        a.quit()
        b.quit()
    row = cdr_row(switch)
    assert (row["disposition"], row["hangup_side"]) == ("ANSWERED", hangup_by)
    assert (row["caller"], row["callee"]) == ("1001", "1002")
    assert float(row["billsec"]) >= TALK_SECONDS - 0.5  # type: ignore[arg-type]
