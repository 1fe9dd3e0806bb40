"""Calls through the B2BUA between two SIPp instances, with CDRs checked for each.

The callee SIPp registers with digest auth from the port its UAS scenario then listens
on, so that the switch routes the call to it; the caller SIPp authenticates its INVITE
(407). Each case runs under uvloop and plain asyncio.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.peers import SCENARIOS, have, port_bound, run_sipp
from tests.support.switch_process import SwitchProcess, free_port, write_config

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("sipp"), reason="sipp (Debian sip-tester) not installed"),
]

USERS = [
    {"extension": "1001", "password": "pw1001"},
    {"extension": "1002", "password": "pw1002"},
]
CALLER_INF = ["SEQUENTIAL",
              "1001;[authentication username=1001 password=pw1001];example.test;1002"]


@pytest.fixture
def switch(tmp_path: Path, loop_kind: str) -> SwitchProcess:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {
        "auth": {"algorithms": ["MD5"]},
        "calls": {"ring_timeout": 3},
    })
    process = SwitchProcess(config, port, loop=loop_kind).start()
    yield process  # type: ignore[misc]
    process.kill()


def cdr(switch: SwitchProcess) -> dict[str, object]:
    db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT * FROM cdr")]
    finally:
        db.close()
    assert len(rows) == 1, rows
    return rows[0]


def wait_closed(switch: SwitchProcess, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        row = cdr(switch)
        if row["disposition"] is not None or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


class Callee:
    """A SIPp UAS registered as 1002, running `scenario` in the background."""

    def __init__(self, switch: SwitchProcess, workdir: Path, scenario: str,
                 extra: list[str] | None = None) -> None:
        self.port = free_port()
        registered = run_sipp(
            "register_auth.xml", switch.port, workdir / "register",
            inf_lines=["SEQUENTIAL",
                       "1002;[authentication username=1002 password=pw1002];example.test"],
            extra=["-p", str(self.port)],
        )
        assert registered.ok, registered.stdout + registered.errors
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(self.port),
             "-m", "1", "-timeout", "30s", "-timeout_error", "-trace_err", "-nostdin",
             "-mp", str(free_port()), *(extra or []), f"127.0.0.1:{switch.port}"],
            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 10  # the caller must not dial before we listen
        while not port_bound(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def result(self, timeout: float = 40.0) -> tuple[int, str]:
        try:
            output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate(timeout=10)
        errors = "".join(p.read_text(errors="replace") for p in self.workdir.glob("*errors.log"))
        return self.proc.returncode, output[-3000:] + errors


def caller(switch: SwitchProcess, workdir: Path, scenario: str, *, inf: list[str] | None = None,
           extra: list[str] | None = None) -> tuple[bool, str]:
    result = run_sipp(scenario, switch.port, workdir, inf_lines=inf or CALLER_INF,
                      extra=["-mp", str(free_port()), *(extra or [])], timeout=30)
    return result.ok, result.stdout + result.errors


@pytest.mark.peer("sipp", "call, caller hangs up")
def test_call_answered_caller_hangs_up(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth.xml", extra=["-d", "500"])
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["hangup_side"], row["sip_cause"]) == ("ANSWERED", "caller",
                                                                          200)
    assert (row["caller"], row["callee"]) == ("1001", "1002")
    assert row["answer"] is not None and float(row["billsec"]) >= 0.4  # type: ignore[arg-type]


@pytest.mark.peer("sipp", "call, callee hangs up")
def test_call_answered_callee_hangs_up(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas_bye.xml", extra=["-d", "500"])
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_recv_bye.xml")
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["hangup_side"]) == ("ANSWERED", "callee")


@pytest.mark.peer("sipp", "call, re-INVITE hold/resume")
def test_hold_and_resume_by_reinvite(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_reinvite.xml",
                     extra=["-d", "300"])
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    assert wait_closed(switch)["disposition"] == "ANSWERED"


@pytest.mark.peer("sipp", "call, re-INVITE without SDP (session refresh)")
def test_session_refresh_by_reinvite_without_sdp(switch: SwitchProcess, tmp_path: Path) -> None:
    """The switch offers the caller its current media in the 200 and takes the answer
    (a new media port) from the ACK; the callee (SIPp UAS expecting only INVITE, ACK and
    BYE) never sees the refresh."""
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_refresh.xml",
                     extra=["-d", "300"])
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    assert wait_closed(switch)["disposition"] == "ANSWERED"
    assert switch.wait_for_log("the caller refreshed its session"), switch.log_text()


@pytest.mark.peer("sipp", "call with early media (183 with SDP)")
def test_early_media_reaches_the_caller_as_a_183_with_sdp(switch: SwitchProcess,
                                                           tmp_path: Path) -> None:
    """The callee's 183 with SDP: the caller must get a 183 with an answer (no 180),
    then the 200; billing starts at the 200."""
    callee = Callee(switch, tmp_path / "uas", "call_uas_early.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_early.xml",
                     extra=["-d", "300"])
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert row["disposition"] == "ANSWERED" and float(row["billsec"]) < 5  # type: ignore[arg-type]
    assert switch.wait_for_log("early media from the callee (183)"), switch.log_text()


@pytest.mark.peer("sipp", "call, callee busy (486)")
def test_busy_callee(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas_busy.xml")
    inf = ["SEQUENTIAL",
           "1001;[authentication username=1001 password=pw1001];example.test;1002;486"]
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_rejected.xml", inf=inf)
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["sip_cause"]) == ("BUSY", 486)


@pytest.mark.peer("sipp", "call, CANCEL before answer")
def test_cancel_before_answer(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas_noanswer.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_cancel.xml")
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["hangup_side"], row["sip_cause"]) == ("CANCELLED",
                                                                          "caller", 487)


@pytest.mark.peer("sipp", "call, no answer (ring timeout)")
def test_no_answer_times_out(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas_noanswer.xml")
    inf = ["SEQUENTIAL",
           "1001;[authentication username=1001 password=pw1001];example.test;1002;480"]
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_rejected.xml", inf=inf)
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["sip_cause"]) == ("NO ANSWER", 480)


@pytest.mark.peer("sipp", "call, unknown and unregistered")
@pytest.mark.parametrize(("callee", "status"), [("9999", 404), ("1002", 480)])
def test_unknown_or_unregistered_callee(switch: SwitchProcess, tmp_path: Path, callee: str,
                                        status: int) -> None:
    inf = ["SEQUENTIAL",
           f"1001;[authentication username=1001 password=pw1001];example.test;{callee};"
           f"{status}"]
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_rejected.xml", inf=inf)
    assert ok, log
    assert wait_closed(switch)["sip_cause"] == status


@pytest.mark.peer("sipp", "call in progress, kill -9, restart")
def test_call_in_progress_is_interrupted_after_kill9(switch: SwitchProcess,
                                                      tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    uac = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / "call_uac_auth.xml"), "-i", "127.0.0.1",
         "-p", str(free_port()), "-mp", str(free_port()), "-m", "1", "-d", "20000",
         "-timeout", "40s", "-nostdin", "-inf", str(_write_inf(tmp_path)),
         f"127.0.0.1:{switch.port}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not _answered(switch):  # bounded wait for the answer
            assert time.monotonic() < deadline, "call was never answered"
            time.sleep(0.1)
        answered_at = float(cdr(switch)["answer"])  # type: ignore[arg-type]
        switch.kill()  # kill -9 with the call up
        assert cdr(switch)["disposition"] is None  # the row is there, still open
        restarted = SwitchProcess(switch.config_path, switch.port, loop=switch.loop).start()
        try:
            assert restarted.wait_for_log("recorded as INTERRUPTED")
            row = cdr(restarted)
            assert row["disposition"] == "INTERRUPTED"
            assert float(row["end"]) >= answered_at  # type: ignore[arg-type]
            assert row["end"] == row["last_alive"]
        finally:
            restarted.kill()
    finally:
        for proc in (uac, callee.proc):
            proc.kill()
            proc.wait(10)


def _answered(switch: SwitchProcess) -> bool:
    db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
    try:
        return bool(db.execute("SELECT count(*) FROM cdr WHERE answer IS NOT NULL").fetchone()[0])
    except sqlite3.OperationalError:
        return False  # the table is created at start: not yet
    finally:
        db.close()


def _write_inf(tmp_path: Path) -> Path:
    path = tmp_path / "uac-long.csv"
    path.write_text("\n".join(CALLER_INF) + "\n")
    return path


@pytest.mark.peer("sipp", "call, media inactivity timeout")
def test_dead_media_ends_the_call(tmp_path: Path, loop_kind: str) -> None:
    """Neither SIPp sends RTP: after media.inactivity_timeout the switch ends the call
    with a BYE to both sides and records who hung up (the switch)."""
    port = free_port()
    config = write_config(tmp_path, port, USERS, {
        "auth": {"algorithms": ["MD5"]},
        "media": {"inactivity_timeout": 2},
    })
    switch = SwitchProcess(config, port, loop=loop_kind).start()
    try:
        callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
        ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_recv_bye.xml")
        assert ok, log
        rc, uas_log = callee.result()
        assert rc == 0, uas_log
        row = wait_closed(switch)
        assert (row["disposition"], row["hangup_side"]) == ("ANSWERED", "switch")
        assert switch.wait_for_log("no media for")
    finally:
        switch.kill()


@pytest.mark.peer("sipp", "call, DTMF by SIP INFO (and a bad body: 400)")
def test_sip_info_digits_are_reported_and_bad_bodies_refused(switch: SwitchProcess,
                                                             tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_info.xml")
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    assert wait_closed(switch)["disposition"] == "ANSWERED"
    text = switch.log_text()
    assert "DTMF 5 from the caller (sip-info, 160 ms)" in text, text
    assert "DTMF # from the caller (sip-info, 0 ms)" in text, text


@pytest.mark.peer("sipp", "call with a late offer (SDP in the 200 and the ACK)")
def test_late_offer_call(switch: SwitchProcess, tmp_path: Path) -> None:
    callee = Callee(switch, tmp_path / "uas", "call_uas.xml")
    ok, log = caller(switch, tmp_path / "uac", "call_uac_auth_late_offer.xml",
                     extra=["-d", "500"])
    assert ok, log
    rc, uas_log = callee.result()
    assert rc == 0, uas_log
    row = wait_closed(switch)
    assert (row["disposition"], row["hangup_side"]) == ("ANSWERED", "caller"), row
    assert "caller's answer unusable" not in switch.log_text()
