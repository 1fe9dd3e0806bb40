"""linphonec (Debian linphone-cli) as a real phone: G.729-capable, driven on stdin.

linphonec reads commands on stdin (`call`, `answer`, `terminate`, `play FILE`,
`record FILE`, `soundcard use files`, a digit sends DTMF) and prints call states on
stdout. Facts from INTEROP.md: it never starts SIP unless ~/.local/share/linphone/
exists (HOME points into the work directory here), it binds TCP 5060 unless told
otherwise (sip_tcp_port=-1), it offers G.729 with annexb=yes.

Codecs: `codecs` lists the ones left enabled (by mime type, "G729", "PCMA", …);
every other codec linphone knows is disabled in its linphonerc. Requests go through
the switch (a route on the proxy config), so the domain needs no DNS.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.switch_process import free_port

# Codecs linphone 5.1 on Debian registers (mime, rate, channels).
KNOWN_CODECS = [
    ("opus", 48000, 2), ("speex", 16000, 1), ("speex", 8000, 1), ("speex", 32000, 1),
    ("PCMU", 8000, 1), ("PCMA", 8000, 1), ("GSM", 8000, 1), ("G722", 8000, 1),
    ("G729", 8000, 1), ("iLBC", 8000, 1), ("L16", 44100, 2), ("L16", 44100, 1),
    ("BV16", 8000, 1), ("AMR", 8000, 1), ("SILK", 16000, 1), ("SILK", 8000, 1),
]


class Linphone:
    def __init__(self, workdir: Path, extension: str, password: str, server_port: int, *,
                 codecs: tuple[str, ...] = ("G729",), auto_answer: bool = False) -> None:
        self.workdir = workdir
        self.auto_answer = auto_answer
        self.sip_port = free_port()
        self.rtp_port = free_port()
        home = workdir / "home"
        (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, HOME=str(home))
        sections = [
            "[sip]", f"sip_port={self.sip_port}", "sip_tcp_port=-1", "sip_tls_port=-1",
            "default_proxy=0", "register_only_when_network_is_up=0", "",
            "[rtp]", f"audio_rtp_port={self.rtp_port}", "",
            "[sound]", "echocancellation=0", "",
            "[proxy_0]", f"reg_proxy=<sip:127.0.0.1:{server_port};transport=udp>",
            f"reg_route=<sip:127.0.0.1:{server_port};lr>",
            f"reg_identity=sip:{extension}@example.test", "reg_expires=600",
            "reg_sendregister=1", "",
            "[auth_info_0]", f"username={extension}", f"passwd={password}", "",
        ]
        for index, (mime, rate, channels) in enumerate(KNOWN_CODECS):
            enabled = 1 if mime in codecs else 0
            sections += [f"[audio_codec_{index}]", f"mime={mime}", f"rate={rate}",
                         f"channels={channels}", f"enabled={enabled}", ""]
        self.config = workdir / "linphonerc"
        self.config.write_text("\n".join(sections))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Linphone:
        self.out = open(self.workdir / "linphonec.out", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["linphonec", "-c", str(self.config), "-d", "6", "-l",
             str(self.workdir / "linphone.log"), *(["-a"] if self.auto_answer else [])],
            stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT, env=self.env,
        )
        self.send("soundcard use files")
        return self

    def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def output(self) -> str:
        path = self.workdir / "linphonec.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_text(self, tail: int | None = 6000) -> str:
        """linphone's debug log without the ALSA noise; the last `tail` characters."""
        path = self.workdir / "linphone.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        text = "\n".join(line for line in text.splitlines() if "alsa" not in line)
        return text if tail is None else text[-tail:]

    def wait_output(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            time.sleep(0.1)
        raise TimeoutError(f"linphonec never printed {needle!r}:\n{self.output()[-3000:]}")

    def wait_registered(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text(None)
            if "SIP/2.0 200 OK" in text and "REGISTER" in text:
                return
            time.sleep(0.2)
        raise TimeoutError("linphonec did not register:\n" + self.log_text())

    def quit(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()
