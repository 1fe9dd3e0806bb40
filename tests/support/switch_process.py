"""Start the real switch as a child process on 127.0.0.1 with ports chosen at run time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0

USERS = [
    {"extension": "1001", "password": "secret1001", "name": "Anna Nowak"},
    {"extension": "1002", "password": "secret1002", "name": "Jan Kowalski"},
]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIP listens on both)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP port pair found")


def write_config(directory: Path, port: int, users: list[dict[str, str]],
                 extra: dict[str, object] | None = None) -> Path:
    config: dict[str, object] = {
        "sip": {
            "listen": [f"udp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}"],
            "domain": "example.test",
        },
        "data_dir": str(directory / "var"),
        "users": users,
        "log": {"level": "info"},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}  # type: ignore[dict-item]
        else:
            config[key] = value
    path = directory / "switch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class SwitchProcess:
    """One running switch. `stop()` sends SIGTERM, `kill()` sends SIGKILL (kill -9)."""

    def __init__(self, config_path: Path, port: int, *, loop: str = "uvloop") -> None:
        self.config_path = config_path
        self.port = port
        self.loop = loop
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._ready = threading.Event()

    def start(self) -> SwitchProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "switch", "--config", str(self.config_path),
             "--loop", self.loop],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._ready.wait(READY_TIMEOUT):
            self.kill()
            raise RuntimeError("switch did not start:\n" + self.log_text())
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))
            if line.startswith("switch ready"):
                self._ready.set()
        self._ready.set()

    def log_text(self) -> str:
        return "\n".join(self.output)

    def wait_for_log(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.output):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> SwitchProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
