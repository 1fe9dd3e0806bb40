"""Registration with real SIP software: SIPp (digest scenario) and baresip (a real UA)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.peers import Baresip, have, run_sipp
from tests.support.switch_process import SwitchProcess

pytestmark = pytest.mark.interop


def bindings(switch: SwitchProcess, extension: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(switch.config_path.parent / "var" / "switch.db")
    try:
        return db.execute(
            "SELECT contact, transport FROM registrations WHERE extension = ?", (extension,)
        ).fetchall()
    finally:
        db.close()


def wait_bindings(switch: SwitchProcess, extension: str, count: int,
                  timeout: float = 15.0) -> list[tuple[str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        found = bindings(switch, extension)
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.skipif(not have("sipp"), reason="sipp (Debian sip-tester) not installed")
@pytest.mark.peer("sipp", "register+digest")
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_registers_with_digest(switch: SwitchProcess, tmp_path: Path,
                                    transport: str) -> None:
    result = run_sipp(
        "register_auth.xml", switch.port, tmp_path / "sipp", transport=transport, calls=5,
        inf_lines=["SEQUENTIAL",
                   "1001;[authentication username=1001 password=secret1001];example.test",
                   "1002;[authentication username=1002 password=secret1002];example.test"],
    )
    assert result.ok, result.stdout + result.errors
    found = {contact for contact, _ in bindings(switch, "1001") + bindings(switch, "1002")}
    assert all(f"transport={transport.upper()}" in c for c in found)


@pytest.mark.skipif(not have("sipp"), reason="sipp (Debian sip-tester) not installed")
@pytest.mark.peer("sipp", "register wrong password")
@pytest.mark.parametrize("transport", ["udp"])
def test_sipp_wrong_password_rejected(switch: SwitchProcess, tmp_path: Path,
                                      transport: str) -> None:
    result = run_sipp(
        "register_auth.xml", switch.port, tmp_path / "sipp", transport=transport, calls=1,
        inf_lines=["SEQUENTIAL",
                   "1001;[authentication username=1001 password=wrong];example.test"],
        timeout=10,
    )
    assert not result.ok  # the second REGISTER is answered 401 again, never 200
    assert bindings(switch, "1001") == []


@pytest.mark.skipif(not have("baresip"), reason="baresip (Debian baresip-core) not installed")
@pytest.mark.peer("baresip", "register+unregister")
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresip_registers_and_unregisters(switch: SwitchProcess, tmp_path: Path,
                                           transport: str) -> None:
    phone = Baresip(tmp_path / "baresip", "1001", "secret1001", switch.port,
                    transport=transport).start()
    try:
        # baresip registers at start-up, often before ctrl_tcp accepts us: so the
        # binding (durable before the 200 went out) is what is checked, not the event.
        found = wait_bindings(switch, "1001", 1)
        assert len(found) == 1 and found[0][1] == transport
        assert f"127.0.0.1:{phone.sip_port}" in found[0][0]
    finally:
        phone.quit()  # baresip unregisters (Expires 0) before it exits
    assert wait_bindings(switch, "1001", 0) == [], phone.log_text()
