"""sipvicious against the switch: no extension enumeration, brute force locked out.

Run under uvloop only: what is tested is policy, not the event loop. svcrack is given
`-x 127.0.0.1` so that a successful crack (the control case) leaves a binding on this
machine only (see INTEROP.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.peers import have
from tests.support.switch_process import USERS, SwitchProcess, free_port, write_config

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not have("svwar"), reason="sipvicious not installed"),
]


def start(tmp_path: Path, max_failures: int) -> SwitchProcess:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {
        "auth": {"bruteforce": {"max_failures": max_failures, "window": 60, "cooldown": 300}},
    })
    return SwitchProcess(config, port).start()


def run_tool(args: list[str], limit: float = 60) -> str:
    """Run a sipvicious tool; past `limit` seconds it is stopped (by its PID).

    svcrack keeps retrying as long as it gets answers, and a locked-out source keeps
    getting 403s, so a bounded run that ends by our timeout is the expected outcome.
    """
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        output, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate(timeout=10)
    return output


@pytest.mark.peer("svwar", "no extension enumeration")
@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_finds_no_extensions(tmp_path: Path, method: str) -> None:
    switch = start(tmp_path, max_failures=1000)
    try:
        output = run_tool(["svwar", "-p", str(switch.port), "-P", str(free_port()),
                           "-e", "1000-1010", "-m", method, "-t", "0.05", "--force",
                           "--maximumtime", "15", "127.0.0.1"])
    finally:
        switch.kill()
    assert "found nothing" in output, output
    assert "1001" not in output.split("found nothing")[-1]


def crack(switch: SwitchProcess, tmp_path: Path) -> str:
    dictionary = tmp_path / "dictionary.txt"
    dictionary.write_text("".join(f"wrong{n}\n" for n in range(15)) + "secret1001\n")
    return run_tool(["svcrack", "-p", str(switch.port), "-P", str(free_port()), "-u", "1001",
                     "-d", str(dictionary), "-t", "0.05", "--maximumtime", "8",
                     "-x", "127.0.0.1", "--domain", "example.test", "127.0.0.1"], limit=20)


@pytest.mark.peer("svcrack", "brute force locked out")
def test_svcrack_is_locked_out(tmp_path: Path) -> None:
    switch = start(tmp_path, max_failures=10)
    try:
        output = crack(switch, tmp_path)
        assert switch.wait_for_log("blocking 127.0.0.1")
    finally:
        switch.kill()
    assert "secret1001" not in output, output


@pytest.mark.peer("svcrack", "control: cracks without lockout")
def test_svcrack_control_without_lockout(tmp_path: Path) -> None:
    """The same attack with the lockout out of reach does find the password, so the
    lockout (not a broken tool) is what stopped it above."""
    switch = start(tmp_path, max_failures=1000)
    try:
        output = crack(switch, tmp_path)
    finally:
        switch.kill()
    assert "secret1001" in output, output
