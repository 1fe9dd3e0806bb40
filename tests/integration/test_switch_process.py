"""The real switch process on 127.0.0.1, under uvloop and plain asyncio."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sip_client import SipTestClient, digest_authorization
from tests.support.switch_process import REPO, USERS, SwitchProcess, free_port, write_config

pytestmark = pytest.mark.integration


def options(port: int, local_port: int, branch: str = "z9hG4bKopt1") -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch};rport\r\n"
        "From: <sip:probe@example.test>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
        "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_options_answered(switch: SwitchProcess) -> None:
    client = SipTestClient(switch.port)
    response = client.request(options(switch.port, client.local_port))
    assert response.status == 200
    assert "REGISTER" in (response.get("Allow") or "")
    via = response.vias[0]
    assert via.params["rport"] == str(client.local_port)
    assert via.params["received"] == "127.0.0.1"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_query_and_unregister(switch: SwitchProcess, transport: str) -> None:
    client = SipTestClient(switch.port, transport=transport)
    ok = client.register("1001", "secret1001")
    assert ok.status == 200
    contacts = ok.get_all("Contact")
    assert len(contacts) == 1 and "expires=3600" in contacts[0]
    # A REGISTER without Contact fetches the bindings (RFC 3261 §10.2.3).
    query = client.register("1001", "secret1001", contact="", expires=None)
    assert query.status == 200
    assert len(query.get_all("Contact")) == 1
    assert f":{client.local_port};" in query.get_all("Contact")[0]
    removed = client.request(client.register_message(
        "1001", cseq=3, expires=0, contact="*",
        authorization=None,
    ))
    assert removed.status == 401  # every REGISTER is authenticated
    gone = client.register("1001", "secret1001", contact="*", expires=0)
    assert gone.status == 200 and gone.get_all("Contact") == []


def test_interval_too_brief(switch: SwitchProcess) -> None:
    client = SipTestClient(switch.port)
    response = client.register("1001", "secret1001", expires=10)
    assert response.status == 423
    assert response.get("Min-Expires") == "60"


def test_contact_limit_evicts_oldest(switch: SwitchProcess) -> None:
    client = SipTestClient(switch.port)
    for n in range(5):
        response = client.register("1002", "secret1002",
                                   contact=f"<sip:1002@127.0.0.1:{20000 + n}>")
        assert response.status == 200
    contacts = response.get_all("Contact")
    assert len(contacts) == 3
    assert all(f":{20000 + n}>" in "".join(contacts) for n in (2, 3, 4))


def test_unknown_user_looks_like_wrong_password(switch: SwitchProcess) -> None:
    def attempt(user: str, password: str, client: SipTestClient) -> tuple[int, list[str]]:
        first = client.request(client.register_message(user, call_id=f"c-{user}"))
        auth = digest_authorization(first.get("WWW-Authenticate") or "", user, password,
                                    "REGISTER", f"sip:127.0.0.1:{switch.port}")
        final = client.request(client.register_message(user, cseq=2, call_id=f"c-{user}",
                                                       authorization=auth))
        return final.status, sorted(name for name, _ in final.headers)

    client = SipTestClient(switch.port)
    assert attempt("1001", "wrong", client) == attempt("9999", "whatever", client)


def test_bruteforce_lockout_per_source(switch: SwitchProcess) -> None:
    attacker = SipTestClient(switch.port)
    for n in range(3):
        response = attacker.register("1001", f"guess{n}")
        assert response.status == 401
    assert attacker.register("1001", "secret1001").status == 403  # even the right one
    assert switch.wait_for_log("blocking 127.0.0.1")
    # Another source address is not affected.
    other = SipTestClient(switch.port)
    other.sock.close()
    other.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.sock.bind(("127.0.0.2", 0))
    other.sock.settimeout(5)
    other.local_port = other.sock.getsockname()[1]
    assert other.register("1002", "secret1002").status == 200


MALFORMED = [
    b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n",
    b"\x00\xff\xfe garbage that is not SIP at all",
    b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 99999999999 REGISTER\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
]


def test_malformed_input_answered_or_dropped_never_crashes(switch: SwitchProcess) -> None:
    client = SipTestClient(switch.port, timeout=1.0)
    for data in MALFORMED:
        client.send_raw(data)
    for data in (REPO / "tests/data/rfc4475").glob("*.dat"):
        client.send_raw(data.read_bytes())
    client.sock.settimeout(5.0)
    answer = None
    # Collect answers until the OPTIONS probe returns: the process must still serve.
    client.send_raw(options(switch.port, client.local_port, "z9hG4bKafter"))
    while True:
        raw = client.recv_raw()
        if b"z9hG4bKafter" in raw:
            answer = raw
            break
        assert raw.startswith(b"SIP/2.0 ")
    assert answer.startswith(b"SIP/2.0 200")
    assert switch.proc is not None and switch.proc.poll() is None
    assert switch.wait_for_log("answered 400 Missing")


def test_tcp_keepalive_ping_pong(switch: SwitchProcess) -> None:
    with socket.create_connection(("127.0.0.1", switch.port), timeout=5) as sock:
        sock.sendall(b"\r\n\r\n")
        assert sock.recv(16) == b"\r\n"


def test_sigterm_stops_cleanly(switch: SwitchProcess) -> None:
    assert switch.stop() == 0
    assert switch.wait_for_log("stopping", timeout=1)


def test_kill9_registration_survives_restart(tmp_path: Path, loop_kind: str) -> None:
    port = free_port()
    config = write_config(tmp_path, port, USERS)
    with SwitchProcess(config, port, loop=loop_kind) as first:
        client = SipTestClient(port)
        assert client.register("1001", "secret1001").status == 200
        first.kill()  # kill -9 right after the 200: the binding must already be durable
    db = sqlite3.connect(tmp_path / "var" / "switch.db")
    assert db.execute("SELECT count(*) FROM registrations").fetchone() == (1,)
    with SwitchProcess(config, port, loop=loop_kind) as second:
        assert second.wait_for_log("restored 1 live registrations")
        query = SipTestClient(port).register("1001", "secret1001", contact="", expires=None)
        assert query.status == 200
        assert f"127.0.0.1:{client.local_port}" in "".join(query.get_all("Contact"))


def test_bad_config_exits_2_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sip:\n  domain: example.test\n  lisen: [\"udp:127.0.0.1:5060\"]\n")
    result = subprocess.run(
        [sys.executable, "-m", "switch", "--config", str(bad)], cwd=REPO,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {bad}:3:3: unknown key 'lisen'")


def test_generated_passwords_printed_once(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, [{"extension": "1003", "name": "Demo"}])
    with SwitchProcess(config, port) as first:
        assert first.wait_for_log("Generated SIP passwords")
        line = next(x for x in first.output if x.strip().startswith("1003"))
        password = line.split()[1]
        assert SipTestClient(port).register("1003", password).status == 200
        first.stop()
    with SwitchProcess(config, port) as second:
        assert not any("Generated SIP passwords" in x for x in second.output)
        assert SipTestClient(port).register("1003", password).status == 200


def test_users_from_config_shape(tmp_path: Path) -> None:
    """The configuration shape from the issue loads as written."""
    port = free_port()
    path = tmp_path / "switch.yaml"
    path.write_text(
        "sip:\n"
        f'  listen: ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]\n'
        "  domain: example.test\n"
        "data_dir: ./var\n"
        "users:\n"
        '  - {extension: "1001", password: "secret1001", name: "Anna Nowak"}\n'
    )
    with SwitchProcess(path, port):
        assert SipTestClient(port).register("1001", "secret1001").status == 200
    assert (tmp_path / "var" / "switch.db").exists()


def test_tcp_limits_and_idle_timeout(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {
        "sip": {"tcp": {"idle_timeout": 1.0, "max_connections_per_peer": 2,
                        "max_connections": 10}},
    })
    with SwitchProcess(config, port):
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        second = socket.create_connection(("127.0.0.1", port), timeout=5)
        third = socket.create_connection(("127.0.0.1", port), timeout=5)
        # The third connection from this address is over the per-peer limit: closed.
        third.settimeout(5)
        assert third.recv(16) == b""
        # An idle connection is closed after idle_timeout (bounded wait, generous limit).
        first.settimeout(10)
        assert first.recv(16) == b""
        second.settimeout(10)
        assert second.recv(16) == b""
        # With the idle ones gone, a new connection is admitted and served.
        fourth = socket.create_connection(("127.0.0.1", port), timeout=5)
        fourth.sendall(b"\r\n\r\n")
        assert fourth.recv(16) == b"\r\n"
        for sock in (first, second, third, fourth):
            sock.close()
