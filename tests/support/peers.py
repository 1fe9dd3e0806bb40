"""Third-party SIP peers for the interop tests: SIPp and baresip, on 127.0.0.1 only.

Every run is bounded: SIPp gets -m and -timeout, baresip -t, and each wait has a limit.
Only processes started here are stopped, by their PID.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import socket
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from tests.support.audio import wav_complete
from tests.support.switch_process import REPO, free_port

SCENARIOS = REPO / "tests" / "interop" / "scenarios"
_STATUS_LINE = re.compile(r"^(\x1b\[[0-9;]*[A-Za-z])*\[\d+:\d\d:\d\d\] audio=")


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
    timeout: float = 30, extra: list[str] | None = None, local_port: int | None = None,
) -> SippResult:
    """Run one bounded SIPp scenario from tests/interop/scenarios against the switch.

    `local_port` fixes SIPp's SIP port (e.g. to register the port a UAS will listen on).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
            "-p", str(local_port or free_port()), "-m", str(calls), "-r", str(rate),
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
    return SippResult(proc.returncode, proc.stdout[-4000:], _sipp_errors(workdir))


def _sipp_errors(workdir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))


def caller_inf(caller: str, password: str, callee: str, *, domain: str = "example.test",
               expect: int | None = None) -> list[str]:
    """Injection lines for the call_uac_* scenarios (field0..field4, see their headers)."""
    line = f"{caller};[authentication username={caller} password={password}];{domain};{callee}"
    return ["SEQUENTIAL", line if expect is None else f"{line};{expect}"]


def port_bound(port: int, transport: str = "udp") -> bool:
    """Whether some process has `port` bound on IPv4 (UDP) or listening (TCP).

    Read from /proc/net, so that checking never takes the port from its owner.
    """
    table = Path("/proc/net/udp" if transport == "udp" else "/proc/net/tcp")
    wanted = f":{port:04X}"
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted) and (transport == "udp" or fields[3] == "0A"):
            return True
    return False


class SippProcess:
    """A SIPp running in the background, typically a UAS waiting for the switch's INVITE.

    `start_sipp()` returns once SIPp listens on its port, so that a call placed next
    cannot reach the port before SIPp does.
    """

    def __init__(self, args: list[str], workdir: Path, port: int, transport: str,
                 timeout: float) -> None:
        self.args = args
        self.workdir = workdir
        self.port = port
        self.transport = transport
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None

    def start(self, ready_timeout: float = 10.0) -> SippProcess:
        self.proc = subprocess.Popen(self.args, cwd=self.workdir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     text=True)
        deadline = time.monotonic() + ready_timeout
        while not port_bound(self.port, self.transport):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                result = self.wait(5)
                raise RuntimeError(f"sipp did not listen on {self.port}: rc="
                                   f"{result.returncode}\n{result.stdout}{result.errors}")
            time.sleep(0.02)
        return self

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to end by itself (it has -m and -timeout), killing it past
        `timeout` (default: its -timeout plus 30 s)."""
        assert self.proc is not None
        try:
            output, _ = self.proc.communicate(timeout=self.timeout + 30 if timeout is None
                                              else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate(timeout=10)
        return SippResult(self.proc.returncode, (output or "")[-4000:],
                          _sipp_errors(self.workdir))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)

    def __enter__(self) -> SippProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def start_sipp(
    scenario: str, workdir: Path, *, local_port: int | None = None,
    server_port: int | None = None, transport: str = "udp", calls: int = 1,
    inf_lines: list[str] | None = None, timeout: float = 30, extra: list[str] | None = None,
    ready_timeout: float = 10.0,
) -> SippProcess:
    """Start a bounded SIPp in the background and return once it listens.

    Without `server_port` SIPp runs as a server (the call_uas* scenarios); with it, it
    sends to 127.0.0.1:`server_port`. Media (-mp) gets a free port of its own.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = local_port or free_port()
    args = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
            "-mp", str(free_port()), "-m", str(calls), "-timeout", f"{int(timeout)}s",
            "-timeout_error", "-trace_err", "-nostdin",
            "-t", "u1" if transport == "udp" else "t1"]
    if inf_lines is not None:
        inf = workdir / "users.csv"
        inf.write_text("\n".join(inf_lines) + "\n")
        args += ["-inf", str(inf)]
    args += extra or []
    if server_port is not None:
        args.append(f"127.0.0.1:{server_port}")
    tp = "udp" if transport == "udp" else "tcp"
    return SippProcess(args, workdir, port, tp, timeout).start(ready_timeout)


class Baresip:
    """baresip as a real phone, driven over its ctrl_tcp netstring interface.

    With `server_port` it registers `extension` at the switch (outbound proxy
    127.0.0.1:server_port, digest `password`); with `server_port=None` it does not
    register and can be dialled directly at `self.uri` (peer-to-peer, no switch).

    Audio: `tone_wav` (8 kHz mono 16-bit WAV, as long as the call) is what it sends
    (`audio_source aufile,…`; without it, one second of silence). With `record_dir`
    the sndfile module writes what it received to `dump-<time>-dec.wav` there (and
    what it sent to `…-enc.wav`); the files are complete once the call is closed
    (see `wait_recording`). There is no audio device: nothing is played.

    `audio_codecs` ("PCMA/8000/1") limits the account to those codecs.

    Calls: `dial(uri)`, `accept()` (or `auto_answer=True`, the account's
    `answermode=auto`), `hangup()`, `listcalls()`; events arrive as dicts with
    "type" CALL_INCOMING, CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED, … through
    `wait_event`. The commands come from the menu module, loaded here. With
    `auto_answer` baresip 1.0.0 emits no CALL_INCOMING: wait for CALL_ESTABLISHED.
    """

    def __init__(self, workdir: Path, extension: str, password: str = "",
                 server_port: int | None = None, *, transport: str = "udp",
                 lifetime: int = 60, tone_wav: Path | None = None,
                 record_dir: Path | None = None, auto_answer: bool = False,
                 audio_codecs: str | None = None) -> None:
        self.workdir = workdir
        self.extension = extension
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        self.cons_port = free_port()  # the UDP console: the way to press keys in 1.0.0
        self.record_dir = record_dir
        workdir.mkdir(parents=True, exist_ok=True)
        if tone_wav is None:
            tone_wav = workdir / "silence.wav"
            with wave.open(str(tone_wav), "wb") as silence:
                silence.setnchannels(1)
                silence.setsampwidth(2)
                silence.setframerate(8000)
                silence.writeframes(bytes(16000))
        modules = ["module g711.so", "module aufile.so"]
        if record_dir is not None:
            record_dir.mkdir(parents=True, exist_ok=True)
            modules += ["module sndfile.so", f"snd_path {record_dir}"]
        (workdir / "config").write_text("\n".join([
            "module_path /usr/lib/baresip/modules",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "audio_player aufile,/dev/null",  # no such player: nothing is played
            f"audio_source aufile,{tone_wav}",
            "module_tmp uuid.so",
            "module_tmp account.so",
            *modules,
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            "module_app cons.so",
            f"cons_listen 127.0.0.1:{self.cons_port}",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
        ]) + "\n")
        answer = ";answermode=auto" if auto_answer else ""
        if audio_codecs is not None:  # e.g. "PCMA/8000/1": offer and accept only those
            answer += f";audio_codecs={audio_codecs}"
        if server_port is None:
            self.uri = f"sip:{extension}@127.0.0.1:{self.sip_port}"
            account = f"<sip:{extension}@127.0.0.1>;regint=0{answer}"
        else:
            tp = f";transport={transport}"
            self.uri = f"sip:{extension}@example.test"
            account = (f"<sip:{extension}@example.test{tp}>;auth_pass={password};"
                       f'outbound="sip:127.0.0.1:{server_port}{tp}";regint=600{answer}')
        (workdir / "accounts").write_text(account + "\n")
        self.lifetime = lifetime
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self._buffer = b""
        self._tokens = itertools.count(1)
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

    def __enter__(self) -> Baresip:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.quit()

    def log_text(self) -> str:
        """The end of baresip's log, without the menu's per-call status lines."""
        path = self.workdir / "baresip.log"
        if not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        kept: list[str] = []
        for line in lines:
            if _STATUS_LINE.match(line.strip()) or not line.strip() and kept and not kept[-1]:
                continue
            kept.append(line.rstrip() if line.strip() else "")
        return "\n".join(kept)[-6000:]

    def _read_netstrings(self) -> None:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        if not chunk:  # baresip has gone: nothing more will come
            time.sleep(0.05)
            return
        self._buffer += chunk
        while b":" in self._buffer:
            length_text, _, rest = self._buffer.partition(b":")
            length = int(length_text)
            if len(rest) < length + 1:
                return
            self.events.append(json.loads(rest[:length]))
            self._buffer = rest[length + 1 :]

    def mark(self) -> int:
        """The current position in `events`: pass it as `since` to wait for later ones."""
        return len(self.events)

    def wait_event(self, kind: str, timeout: float = 20.0, *,
                   since: int = 0) -> dict[str, object]:
        """The first event of type `kind` at or after index `since` of `events`."""
        deadline = time.monotonic() + timeout
        seen = since
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event.get("type") == kind:
                    return event
            seen = max(seen, len(self.events))
            self._read_netstrings()
        raise TimeoutError(f"no {kind} event; got {self.events}\n{self.log_text()}")

    def command(self, command: str, params: str = "") -> str:
        """Send a command without waiting; returns its token (see `request`)."""
        assert self.sock is not None
        token = f"{command}-{next(self._tokens)}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")
        return token

    def request(self, command: str, params: str = "", timeout: float = 10.0) -> str:
        """Send a command and wait for its response; returns the response's text, raises
        RuntimeError if baresip answered not ok."""
        token = self.command(command, params)
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for message in self.events[seen:]:
                if message.get("response") and message.get("token") == token:
                    if not message.get("ok"):
                        raise RuntimeError(f"baresip {command} {params!r}: {message}")
                    return str(message.get("data", ""))
            seen = len(self.events)
            self._read_netstrings()
        raise TimeoutError(f"no response to {command}\n{self.log_text()}")

    # -- calls ----------------------------------------------------------------------
    def dial(self, uri: str) -> None:
        """Place a call (the switch: "sip:1002@example.test"; a peer: its `uri`)."""
        self.request("dial", uri)

    def accept(self) -> None:
        """Answer the ringing incoming call (wait for CALL_INCOMING first)."""
        self.request("accept")

    def hangup(self) -> None:
        """Hang up the current call (CANCEL while ringing out, BYE once established)."""
        self.request("hangup")

    def press(self, digits: str, hold: float = 0.2, gap: float = 0.3) -> None:
        """Press keys during a call: each digit goes to the console, then the key release
        (0x04) after `hold` seconds, or baresip's RFC 4733 event would never end."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as console:
            for digit in digits:
                console.sendto(digit.encode(), ("127.0.0.1", self.cons_port))
                time.sleep(hold)
                console.sendto(b"\x04", ("127.0.0.1", self.cons_port))
                time.sleep(gap)

    def listcalls(self) -> str:
        return self.request("listcalls")

    def recordings(self, kind: str = "dec") -> list[Path]:
        """The sndfile dumps of `kind` ("dec": received, "enc": sent), oldest first."""
        if self.record_dir is None:
            raise RuntimeError("constructed without record_dir")
        return sorted(self.record_dir.glob(f"dump-*-{kind}.wav"))

    def wait_recording(self, kind: str = "dec", timeout: float = 10.0) -> Path:
        """The newest recording once complete: sndfile writes the WAV sizes when it
        closes the file (at the end of the call), so wait until they match the file."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.recordings(kind)
            if found and wav_complete(found[-1]):
                return found[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete {kind} recording in {self.record_dir}: "
                                   f"{found}\n{self.log_text()}")
            time.sleep(0.05)

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

