"""baresip presses keys during a call (RFC 4733 telephone-events); the switch reports
each digit to call control (logged) and the events still reach the other phone."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.interop.test_calls_baresip import phones, switch  # noqa: F401  (fixture)
from tests.support.peers import have
from tests.support.switch_process import SwitchProcess

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("baresip"), reason="baresip (Debian baresip-core) missing"),
]

DIGIT_LINE = re.compile(r"DTMF (\S) from the (caller|callee) \((rfc4733), (\d+) ms\)")


def reported(process: SwitchProcess, count: int, timeout: float = 15.0) -> list[tuple[str, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        found = DIGIT_LINE.findall(process.log_text())
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.peer("baresip", "RFC 4733 digits reported by the switch")
def test_baresip_digits_reach_call_control(switch: SwitchProcess,  # noqa: F811
                                           tmp_path: Path) -> None:
    a, b = phones(switch, tmp_path)
    try:
        a.dial("sip:1002@example.test")
        a.wait_event("CALL_ESTABLISHED", timeout=20)
        mark = b.mark()
        b.wait_event("CALL_ESTABLISHED", timeout=20)
        a.press("19#")
        found = reported(switch, 3)
        assert [d for d, *_ in found] == ["1", "9", "#"], switch.log_text()
        assert all(party == "caller" for _, party, *_ in found)
        assert all(40 <= int(ms) <= 2000 for *_, ms in found), found
        # The callee's phone got the events too (relayed with its payload type).
        b.wait_event("CALL_DTMF_START", timeout=10, since=mark)
        a.hangup()
        a.wait_event("CALL_CLOSED", timeout=20)
    finally:
        a.quit()
        b.quit()
