"""Third-party SIP peers for the interop tests: SIPp and baresip, on 127.0.0.1 only.

Every run is bounded: SIPp gets -m and -timeout, baresip -t, and each wait has a limit.
Only processes started here are stopped, by their PID.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.switch_process import REPO, free_port

SCENARIOS = REPO / "tests" / "interop" / "scenarios"


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


@dataclass
class SippResult:
    returncode: int
    stdout: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_sipp(
    scenario: str, server_port: int, workdir: Path, *, transport: str = "udp",
    calls: int = 1, rate: float = 10, inf_lines: list[str] | None = None,
    timeout: float = 30, extra: list[str] | None = None,
) -> SippResult:
    """Run one bounded SIPp scenario from tests/interop/scenarios against the switch."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
            "-p", str(free_port()), "-m", str(calls), "-r", str(rate),
            "-timeout", f"{int(timeout)}s", "-timeout_error", "-trace_err",
            "-nostdin", "-t", "u1" if transport == "udp" else "t1"]
    if inf_lines is not None:
        inf = workdir / "users.csv"
        inf.write_text("\n".join(inf_lines) + "\n")
        args += ["-inf", str(inf)]
    args += extra or []
    args.append(f"127.0.0.1:{server_port}")
    proc = subprocess.run(args, cwd=workdir, capture_output=True, text=True,
                          timeout=timeout + 30)
    errors = "\n".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))
    return SippResult(proc.returncode, proc.stdout[-4000:], errors)


class Baresip:
    """baresip as a real phone, driven over its ctrl_tcp netstring interface."""

    def __init__(self, workdir: Path, extension: str, password: str, server_port: int,
                 *, transport: str = "udp", lifetime: int = 60) -> None:
        self.workdir = workdir
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config").write_text(
            "module_path /usr/lib/baresip/modules\n"
            f"sip_listen 127.0.0.1:{self.sip_port}\n"
            "net_interface 127.0.0.1\n"
            "audio_player aufile,/dev/null\n"
            "audio_source aufile,/dev/null\n"
            "module_tmp uuid.so\n"
            "module_tmp account.so\n"
            "module g711.so\n"
            "module_app ctrl_tcp.so\n"
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}\n"
        )
        tp = f";transport={transport}"
        (workdir / "accounts").write_text(
            f"<sip:{extension}@example.test{tp}>;auth_pass={password};"
            f'outbound="sip:127.0.0.1:{server_port}{tp}";regint=600\n'
        )
        self.lifetime = lifetime
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self._buffer = b""
        self.events: list[dict[str, object]] = []

    def start(self) -> Baresip:
        self.log = open(self.workdir / "baresip.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["baresip", "-f", str(self.workdir), "-s", "-t", str(self.lifetime)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("baresip exited:\n" + self.log_text()) from None
                time.sleep(0.1)
        else:
            raise RuntimeError("baresip ctrl_tcp did not come up:\n" + self.log_text())
        self.sock.settimeout(0.5)
        return self

    def log_text(self) -> str:
        path = self.workdir / "baresip.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def _read_netstrings(self) -> None:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        self._buffer += chunk
        while b":" in self._buffer:
            length_text, _, rest = self._buffer.partition(b":")
            length = int(length_text)
            if len(rest) < length + 1:
                return
            self.events.append(json.loads(rest[:length]))
            self._buffer = rest[length + 1 :]

    def wait_event(self, kind: str, timeout: float = 20.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event.get("type") == kind:
                    return event
            seen = len(self.events)
            self._read_netstrings()
        raise TimeoutError(f"no {kind} event; got {self.events}\n{self.log_text()}")

    def command(self, command: str, params: str = "") -> None:
        assert self.sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def quit(self, timeout: float = 15.0) -> int:
        """Ask baresip to quit (it unregisters first) and wait for it to exit."""
        assert self.proc is not None
        if self.proc.poll() is None:
            try:
                self.command("quit")
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.close()
        return self.proc.returncode

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if hasattr(self, "log"):
            self.log.close()
