"""YAML configuration to :class:`config.model.Config`, with exact error positions.

The file is only *composed* (``yaml.compose`` with ``SafeLoader``), never
constructed into Python objects wholesale: validation walks the node tree, so
every error can point at the offending key or value.  PyYAML marks are 0-based;
:class:`ConfigError` positions are 1-based.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.errors import ConfigError
from config.model import (
    AuthConfig,
    BruteforceConfig,
    CallsConfig,
    Config,
    DigestAlgorithm,
    ListenAddress,
    LogConfig,
    LogLevel,
    MediaConfig,
    RecordingFormat,
    RecordingSettings,
    RegistrarConfig,
    SipConfig,
    StorageConfig,
    SynchronousMode,
    TcpConfig,
    TimersConfig,
    Transport,
    UserConfig,
)

__all__ = ["default_config_path", "load_config", "load_config_text", "load_default_config"]

_T = TypeVar("_T", bound=str)

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_BOOL = _TAG + "bool"
_NULL = _TAG + "null"
_KINDS = {
    _STR: "a string",
    _INT: "an integer",
    _FLOAT: "a number",
    _BOOL: "a boolean",
    _NULL: "null",
    _TAG + "timestamp": "a date",
    _TAG + "binary": "binary data",
}

# Only used for its stateless scalar converters (ints and floats, YAML 1.1 rules).
_SCALARS = SafeConstructor()

_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXTENSION = re.compile(r"[0-9]{2,10}")

_TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp")
_ALGORITHMS: tuple[DigestAlgorithm, ...] = ("SHA-256", "MD5")
_SYNCHRONOUS: tuple[SynchronousMode, ...] = ("normal", "full")
_LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error")

_TOP_KEYS = (
    "sip", "registrar", "calls", "media", "recording", "auth", "data_dir", "storage", "log",
    "users",
)
_RECORDING_KEYS = ("all_calls", "users", "queues", "never_users", "format", "directory",
                   "retention_days")
_RECORDING_FORMATS: tuple[RecordingFormat, ...] = ("stereo", "mono")
_SIP_KEYS = (
    "listen",
    "domain",
    "public_address",
    "user_agent",
    "max_message_bytes",
    "timers",
    "tcp",
)
_TIMER_KEYS = ("t1", "t2", "t4")
_TCP_KEYS = ("idle_timeout", "max_connections", "max_connections_per_peer", "max_buffer_bytes")
_REGISTRAR_KEYS = ("min_expires", "max_expires", "default_expires", "max_contacts_per_user")
_AUTH_KEYS = ("realm", "algorithms", "nonce_ttl", "bruteforce")
_BRUTEFORCE_KEYS = ("max_failures", "window", "cooldown")
_USER_KEYS = ("extension", "password", "name")


def default_config_path() -> Path:
    """Path of the embedded ``default.yaml`` shipped inside the package."""
    return Path(__file__).resolve().parent / "default.yaml"


def load_default_config() -> Config:
    """Load the embedded default configuration (``data_dir`` relative to the CWD)."""
    return load_config(default_config_path())


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the configuration file at ``path``.

    A relative ``data_dir`` is resolved against the directory holding the file,
    so a configuration means the same thing whatever directory the switch is
    started from.  The embedded default is the exception: it lives inside the
    installed package, where runtime data must not go, so its ``./var`` stays
    relative to the current working directory (``make run`` from the checkout
    keeps its data in ``./var`` of the checkout).

    Every problem, including an unreadable file, raises :class:`ConfigError`.
    """
    filename = os.fspath(path)
    try:
        data = Path(filename).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(filename, 1, 1, f"cannot read configuration: {reason}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(filename, line, column, "configuration is not valid UTF-8") from exc
    absolute = Path(filename).absolute()
    is_default = absolute.resolve() == default_config_path()
    base_dir = None if is_default else absolute.parent
    return load_config_text(text, filename, base_dir=base_dir)


def load_config_text(text: str, filename: str, *, base_dir: Path | None = None) -> Config:
    """Validate configuration ``text``; ``filename`` is used in errors and as ``source``.

    A relative ``data_dir`` is joined to ``base_dir`` when one is given, and
    otherwise left relative (that is, relative to the current directory).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, filename) from exc
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid character U+{code:04X} in configuration ({exc.reason})"
        raise ConfigError(filename, line, column, message) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(filename, 1, 1, f"invalid YAML: {exc}") from exc
    if root is None:
        raise ConfigError(filename, 1, 1, "configuration is empty")
    return _Validator(filename, base_dir).config(root)


def _syntax_error(exc: yaml.MarkedYAMLError, filename: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = exc.problem or exc.context or "invalid YAML"
    if exc.problem and exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None:
            cm = exc.context_mark
            message += f" at line {cm.line + 1}, column {cm.column + 1}"
        message += ")"
    return ConfigError(filename, line, column, f"YAML syntax error: {message}")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _buffer_message(max_buffer: int, max_message: int) -> str:
    return (
        f"sip.tcp.max_buffer_bytes ({max_buffer}) must be at least "
        f"sip.max_message_bytes ({max_message}): the buffer must hold a whole message"
    )


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "null"
    kind = _KINDS.get(node.tag, f"a value tagged {node.tag}")
    return f"{kind} ({node.value!r})" if node.tag == _STR else f"{kind} ({node.value})"


def _parse_host(text: str) -> str:
    """Validate an IPv4 address, a host name or a bracketed IPv6 address.

    Returns the bare host (IPv6 without brackets); raises ValueError with the reason.
    """
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"missing ']' after IPv6 address in {text!r}")
        inner = text[1:-1]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f"invalid IPv6 address {inner!r}") from None
        return inner
    if ":" in text:
        raise ValueError(f"IPv6 address {text!r} must be written in brackets, e.g. [::1]")
    if re.fullmatch(r"[0-9.]+", text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError(f"invalid IPv4 address {text!r}") from None
        return text
    if not _HOSTNAME.fullmatch(text):
        raise ValueError(f"invalid host name {text!r}")
    return text


def _parse_listen(text: str) -> ListenAddress:
    """Parse ``transport:host:port``; raises ValueError with the reason."""
    transport, sep, rest = text.partition(":")
    host, sep2, port_text = rest.rpartition(":")
    if not sep or not sep2 or not host:
        raise ValueError("expected transport:host:port, e.g. udp:127.0.0.1:5060")
    lowered = transport.lower()
    if lowered not in _TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r} (expected udp or tcp)")
    if not port_text.isascii() or not port_text.isdigit():
        if host.startswith("[") and not host.endswith("]") and "]" in port_text:
            raise ValueError("expected transport:[IPv6]:port, e.g. udp:[::1]:5060")
        raise ValueError(f"port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    transport_name = next(t for t in _TRANSPORTS if t == lowered)
    return ListenAddress(transport=transport_name, host=_parse_host(host), port=port)


class _Mapping:
    """A validated mapping node: string keys, no duplicates, no unknown keys."""

    __slots__ = ("node", "path", "values")

    def __init__(self, node: Node, path: str, values: dict[str, Node]) -> None:
        self.node = node
        self.path = path
        self.values = values

    def get(self, key: str) -> Node | None:
        return self.values.get(key)

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


class _Validator:
    def __init__(self, filename: str, base_dir: Path | None) -> None:
        self.filename = filename
        self.base_dir = base_dir

    # -- plumbing -----------------------------------------------------------

    def error(self, node: Node, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(self.filename, mark.line + 1, mark.column + 1, message)

    def mapping(
        self,
        node: Node,
        path: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        *,
        null_ok: bool = True,
    ) -> _Mapping:
        where = f"in {path}" if path else "at top level"
        if null_ok and node.tag == _NULL and isinstance(node, ScalarNode):
            # "section:" with everything commented out means "all defaults".
            node_values: list[tuple[Node, Node]] = []
        elif isinstance(node, MappingNode):
            node_values = node.value
        else:
            what = path or "the configuration"
            raise self.error(node, f"{what} must be a mapping, got {_describe(node)}")
        values: dict[str, Node] = {}
        keys: dict[str, Node] = {}
        for key_node, value_node in node_values:
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                if key_node.tag == _TAG + "merge":
                    raise self.error(key_node, f"merge keys (<<) are not supported {where}")
                raise self.error(
                    key_node, f"key {where} must be a string, got {_describe(key_node)}"
                )
            key = key_node.value
            if key in keys:
                first = keys[key].start_mark
                raise self.error(
                    key_node,
                    f"duplicate key {key!r} {where} "
                    f"(first defined at line {first.line + 1}, column {first.column + 1})",
                )
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else "expected one of: " + ", ".join(allowed)
                )
                raise self.error(key_node, f"unknown key {key!r} {where} ({hint})")
            keys[key] = key_node
            values[key] = value_node
        for key in required:
            if key not in values:
                raise self.error(node, f"missing required key {key!r} {where}")
        return _Mapping(node, path, values)

    def sequence(self, node: Node, path: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{path} must be a list, got {_describe(node)}")
        items: list[Node] = node.value
        return items

    @staticmethod
    def later(*nodes: Node | None) -> Node | None:
        """Of the keys the file actually sets, the one written last."""
        present = [n for n in nodes if n is not None]
        return max(present, key=lambda n: n.start_mark.index, default=None)

    # -- scalars ------------------------------------------------------------

    def string(self, node: Node, path: str, *, empty_ok: bool = False) -> str:
        if not isinstance(node, ScalarNode) or node.tag != _STR:
            hint = (
                "; put it in quotes to make it a string"
                if isinstance(node, ScalarNode) and node.tag != _NULL
                else ""
            )
            raise self.error(node, f"{path} must be a string, got {_describe(node)}{hint}")
        value: str = node.value
        if not value and not empty_ok:
            raise self.error(node, f"{path} must not be empty")
        if _CONTROL.search(value):
            raise self.error(node, f"{path} must not contain control characters")
        return value

    def optional_string(self, node: Node, path: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return None
        return self.string(node, path)

    def integer(self, m: _Mapping, key: str, default: int, lo: int, hi: int | None = None) -> int:
        node = m.get(key)
        if node is None:
            return default
        path = m.child(key)
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            raise self.error(node, f"{path} must be an integer, got {_describe(node)}")
        value = _SCALARS.construct_yaml_int(node)
        if hi is None and value < lo:
            raise self.error(node, f"{path} must be at least {lo}, got {value}")
        if hi is not None and not lo <= value <= hi:
            raise self.error(node, f"{path} must be between {lo} and {hi}, got {value}")
        return value

    def seconds(self, m: _Mapping, key: str, default: float, *, zero_ok: bool = False) -> float:
        node = m.get(key)
        if node is None:
            return default
        path = m.child(key)
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.error(node, f"{path} must be a number of seconds, got {_describe(node)}")
        value = float(
            _SCALARS.construct_yaml_int(node)
            if node.tag == _INT
            else _SCALARS.construct_yaml_float(node)
        )
        if not math.isfinite(value):
            raise self.error(node, f"{path} must be a finite number, got {node.value}")
        if value < 0 or (value == 0 and not zero_ok):
            bound = "zero or more" if zero_ok else "greater than zero"
            raise self.error(node, f"{path} must be {bound}, got {node.value}")
        return value

    def choice(self, node: Node, path: str, choices: Sequence[_T]) -> _T:
        """A string from ``choices``, matched case-insensitively, returned as spelled there."""
        text = self.string(node, path, empty_ok=True)
        for candidate in choices:
            if candidate.lower() == text.lower():
                return candidate
        allowed = ", ".join(choices)
        raise self.error(node, f"{path} must be one of {allowed}, got {text!r}")

    def optional_host(self, node: Node | None, path: str) -> str | None:
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL):
            return None
        return self.host(node, path)

    def host(self, node: Node, path: str) -> str:
        text = self.string(node, path)
        try:
            _parse_host(text)
        except ValueError as exc:
            raise self.error(node, f"{path}: {exc}") from None
        return text

    # -- sections -----------------------------------------------------------

    def config(self, root: Node) -> Config:
        top = self.mapping(root, "", _TOP_KEYS, required=("sip",), null_ok=False)
        sip_node = top.get("sip")
        assert sip_node is not None  # required
        sip = self.sip(sip_node)
        defaults = Config(sip=sip, auth=AuthConfig(realm=sip.domain), source=self.filename)
        registrar_node = top.get("registrar")
        calls_node = top.get("calls")
        media_node = top.get("media")
        recording_node = top.get("recording")
        auth_node = top.get("auth")
        data_dir_node = top.get("data_dir")
        storage_node = top.get("storage")
        log_node = top.get("log")
        users_node = top.get("users")
        return Config(
            sip=sip,
            registrar=(
                defaults.registrar if registrar_node is None else self.registrar(registrar_node)
            ),
            calls=defaults.calls if calls_node is None else self.calls(calls_node),
            media=defaults.media if media_node is None else self.media(media_node),
            recording=(
                defaults.recording if recording_node is None else self.recording(recording_node)
            ),
            auth=defaults.auth if auth_node is None else self.auth(auth_node, sip.domain),
            data_dir=defaults.data_dir if data_dir_node is None else self.data_dir(data_dir_node),
            storage=defaults.storage if storage_node is None else self.storage(storage_node),
            log=defaults.log if log_node is None else self.log(log_node),
            users=defaults.users if users_node is None else self.users(users_node),
            source=self.filename,
        )

    def sip(self, node: Node) -> SipConfig:
        m = self.mapping(node, "sip", _SIP_KEYS, required=("domain",))
        domain_node = m.get("domain")
        assert domain_node is not None  # required
        d = SipConfig(domain=self.host(domain_node, "sip.domain"))
        listen_node = m.get("listen")
        public_node = m.get("public_address")
        agent_node = m.get("user_agent")
        timers_node = m.get("timers")
        tcp_node = m.get("tcp")
        max_message = self.integer(m, "max_message_bytes", d.max_message_bytes, 1024, 1048576)
        max_message_node = m.get("max_message_bytes")
        if tcp_node is not None:
            tcp = self.tcp(tcp_node, max_message, max_message_node)
        elif d.tcp.max_buffer_bytes < max_message:
            raise self.error(
                max_message_node or m.node, _buffer_message(d.tcp.max_buffer_bytes, max_message)
            )
        else:
            tcp = d.tcp
        return SipConfig(
            listen=d.listen if listen_node is None else self.listen(listen_node),
            domain=d.domain,
            public_address=self.optional_host(public_node, "sip.public_address"),
            user_agent=(
                d.user_agent if agent_node is None else self.string(agent_node, "sip.user_agent")
            ),
            max_message_bytes=max_message,
            timers=d.timers if timers_node is None else self.timers(timers_node),
            tcp=tcp,
        )

    def listen(self, node: Node) -> tuple[ListenAddress, ...]:
        items = self.sequence(node, "sip.listen")
        if not items:
            raise self.error(node, "sip.listen must list at least one address")
        result: list[ListenAddress] = []
        for index, item in enumerate(items):
            path = f"sip.listen[{index}]"
            text = self.string(item, path)
            try:
                address = _parse_listen(text)
            except ValueError as exc:
                raise self.error(
                    item, f"invalid listen address {text!r} in {path}: {exc}"
                ) from None
            if address in result:
                raise self.error(item, f"duplicate listen address {text!r} in {path}")
            result.append(address)
        return tuple(result)

    def timers(self, node: Node) -> TimersConfig:
        m = self.mapping(node, "sip.timers", _TIMER_KEYS)
        d = TimersConfig()
        t1 = self.seconds(m, "t1", d.t1)
        t2 = self.seconds(m, "t2", d.t2)
        t4 = self.seconds(m, "t4", d.t4)
        if t2 < t1:
            culprit = self.later(m.get("t1"), m.get("t2")) or m.node
            raise self.error(
                culprit, f"sip.timers.t2 ({t2:g}) must be at least sip.timers.t1 ({t1:g})"
            )
        return TimersConfig(t1=t1, t2=t2, t4=t4)

    def tcp(self, node: Node, max_message: int, max_message_node: Node | None) -> TcpConfig:
        m = self.mapping(node, "sip.tcp", _TCP_KEYS)
        d = TcpConfig()
        max_connections = self.integer(m, "max_connections", d.max_connections, 1)
        per_peer = self.integer(m, "max_connections_per_peer", d.max_connections_per_peer, 1)
        if per_peer > max_connections:
            culprit = self.later(m.get("max_connections"), m.get("max_connections_per_peer"))
            raise self.error(
                culprit or m.node,
                f"sip.tcp.max_connections_per_peer ({per_peer}) must not exceed "
                f"sip.tcp.max_connections ({max_connections})",
            )
        max_buffer = self.integer(m, "max_buffer_bytes", d.max_buffer_bytes, 1024)
        if max_buffer < max_message:
            culprit = self.later(max_message_node, m.get("max_buffer_bytes")) or m.node
            raise self.error(culprit, _buffer_message(max_buffer, max_message))
        return TcpConfig(
            idle_timeout=self.seconds(m, "idle_timeout", d.idle_timeout),
            max_connections=max_connections,
            max_connections_per_peer=per_peer,
            max_buffer_bytes=max_buffer,
        )

    def registrar(self, node: Node) -> RegistrarConfig:
        m = self.mapping(node, "registrar", _REGISTRAR_KEYS)
        d = RegistrarConfig()
        lo = self.integer(m, "min_expires", d.min_expires, 1)
        hi = self.integer(m, "max_expires", d.max_expires, 1)
        default = self.integer(m, "default_expires", d.default_expires, 1)
        for small, large in (
            ("min_expires", "default_expires"),
            ("default_expires", "max_expires"),
            ("min_expires", "max_expires"),
        ):
            values = {"min_expires": lo, "default_expires": default, "max_expires": hi}
            if values[small] > values[large]:
                culprit = self.later(m.get(small), m.get(large)) or m.node
                raise self.error(
                    culprit,
                    f"registrar.{small} ({values[small]}) must not exceed "
                    f"registrar.{large} ({values[large]})",
                )
        return RegistrarConfig(
            min_expires=lo,
            max_expires=hi,
            default_expires=default,
            max_contacts_per_user=self.integer(
                m, "max_contacts_per_user", d.max_contacts_per_user, 1
            ),
        )

    def calls(self, node: Node) -> CallsConfig:
        m = self.mapping(node, "calls", ("ring_timeout", "max_duration"))
        d = CallsConfig()
        return CallsConfig(
            ring_timeout=self.seconds(m, "ring_timeout", d.ring_timeout),
            max_duration=self.seconds(m, "max_duration", d.max_duration),
        )

    def media(self, node: Node) -> MediaConfig:
        m = self.mapping(node, "media", ("host", "port_min", "port_max", "inactivity_timeout",
                                          "data_plane"))
        d = MediaConfig()
        host_node = m.get("host")
        plane_node = m.get("data_plane")
        low = self.integer(m, "port_min", d.port_min, 1024, 65534)
        high = self.integer(m, "port_max", d.port_max, 1025, 65535)
        if high - low < 3:
            culprit = self.later(m.get("port_min"), m.get("port_max")) or m.node
            raise self.error(culprit, f"media.port_max ({high}) must exceed media.port_min "
                             f"({low}) by at least one RTP/RTCP port pair")
        return MediaConfig(
            host=self.optional_host(host_node, "media.host"),
            port_min=low,
            port_max=high,
            inactivity_timeout=self.seconds(m, "inactivity_timeout", d.inactivity_timeout),
            data_plane=(d.data_plane if plane_node is None
                        else self.boolean(plane_node, "media.data_plane")),
        )

    def recording(self, node: Node) -> RecordingSettings:
        m = self.mapping(node, "recording", _RECORDING_KEYS)
        d = RecordingSettings()
        all_node = m.get("all_calls")
        format_node = m.get("format")
        directory_node = m.get("directory")
        return RecordingSettings(
            all_calls=d.all_calls if all_node is None else self.boolean(all_node,
                                                                         "recording.all_calls"),
            users=self.extensions(m, "users"),
            queues=self.names(m, "queues"),
            never_users=self.extensions(m, "never_users"),
            format=(d.format if format_node is None
                    else self.choice(format_node, "recording.format", _RECORDING_FORMATS)),
            directory=(d.directory if directory_node is None
                       else self.string(directory_node, "recording.directory")),
            retention_days=self.seconds(m, "retention_days", d.retention_days),
        )

    def boolean(self, node: Node, path: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            raise self.error(node, f"{path} must be true or false, got {_describe(node)}")
        return bool(_SCALARS.construct_yaml_bool(node))

    def extensions(self, m: _Mapping, key: str) -> tuple[str, ...]:
        node = m.get(key)
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL):
            return ()
        path = m.child(key)
        return tuple(self.extension(item, f"{path}[{index}]")
                     for index, item in enumerate(self.sequence(node, path)))

    def names(self, m: _Mapping, key: str) -> tuple[str, ...]:
        node = m.get(key)
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL):
            return ()
        path = m.child(key)
        return tuple(self.string(item, f"{path}[{index}]")
                     for index, item in enumerate(self.sequence(node, path)))

    def auth(self, node: Node, domain: str) -> AuthConfig:
        m = self.mapping(node, "auth", _AUTH_KEYS)
        d = AuthConfig(realm=domain)
        realm_node = m.get("realm")
        algorithms_node = m.get("algorithms")
        bruteforce_node = m.get("bruteforce")
        realm = None if realm_node is None else self.optional_string(realm_node, "auth.realm")
        if realm_node is not None and realm is not None and re.search(r'["\\]', realm):
            raise self.error(realm_node, "auth.realm must not contain '\"' or '\\'")
        return AuthConfig(
            realm=d.realm if realm is None else realm,
            algorithms=(
                d.algorithms if algorithms_node is None else self.algorithms(algorithms_node)
            ),
            nonce_ttl=self.seconds(m, "nonce_ttl", d.nonce_ttl),
            bruteforce=(
                d.bruteforce if bruteforce_node is None else self.bruteforce(bruteforce_node)
            ),
        )

    def algorithms(self, node: Node) -> tuple[DigestAlgorithm, ...]:
        items = self.sequence(node, "auth.algorithms")
        if not items:
            raise self.error(node, "auth.algorithms must list at least one algorithm")
        result: list[DigestAlgorithm] = []
        for index, item in enumerate(items):
            algorithm = self.choice(item, f"auth.algorithms[{index}]", _ALGORITHMS)
            if algorithm in result:
                raise self.error(item, f"duplicate algorithm {algorithm!r} in auth.algorithms")
            result.append(algorithm)
        return tuple(result)

    def bruteforce(self, node: Node) -> BruteforceConfig:
        m = self.mapping(node, "auth.bruteforce", _BRUTEFORCE_KEYS)
        d = BruteforceConfig()
        return BruteforceConfig(
            max_failures=self.integer(m, "max_failures", d.max_failures, 1),
            window=self.seconds(m, "window", d.window),
            cooldown=self.seconds(m, "cooldown", d.cooldown, zero_ok=True),
        )

    def data_dir(self, node: Node) -> Path:
        text = self.string(node, "data_dir")
        try:
            path = Path(text).expanduser()
        except RuntimeError as exc:
            raise self.error(node, f"data_dir: {exc}") from None
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def storage(self, node: Node) -> StorageConfig:
        m = self.mapping(node, "storage", ("synchronous",))
        synchronous = m.get("synchronous")
        if synchronous is None:
            return StorageConfig()
        return StorageConfig(
            synchronous=self.choice(synchronous, "storage.synchronous", _SYNCHRONOUS)
        )

    def log(self, node: Node) -> LogConfig:
        m = self.mapping(node, "log", ("level",))
        level = m.get("level")
        if level is None:
            return LogConfig()
        return LogConfig(level=self.choice(level, "log.level", _LOG_LEVELS))

    def users(self, node: Node) -> tuple[UserConfig, ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return ()  # "users:" with every entry commented out
        result: list[UserConfig] = []
        seen: dict[str, Node] = {}
        for index, item in enumerate(self.sequence(node, "users")):
            path = f"users[{index}]"
            m = self.mapping(item, path, _USER_KEYS, required=("extension",), null_ok=False)
            extension_node = m.get("extension")
            assert extension_node is not None  # required
            extension = self.extension(extension_node, f"{path}.extension")
            if extension in seen:
                first = seen[extension].start_mark
                raise self.error(
                    extension_node,
                    f"duplicate extension {extension!r} in {path} "
                    f"(first defined at line {first.line + 1}, column {first.column + 1})",
                )
            seen[extension] = extension_node
            password_node = m.get("password")
            name_node = m.get("name")
            password = (
                None
                if password_node is None
                else self.optional_string(password_node, f"{path}.password")
            )
            name = None if name_node is None else self.optional_string(name_node, f"{path}.name")
            result.append(UserConfig(extension=extension, password=password, name=name or ""))
        return tuple(result)

    def extension(self, node: Node, path: str) -> str:
        if isinstance(node, ScalarNode) and node.tag == _INT:
            # YAML gave a number: accept it only if it was written as plain digits.
            # A leading zero would have been read as octal (0123 -> 83): make the
            # user quote it rather than silently register the wrong extension.
            raw: str = node.value
            if re.fullmatch(r"0[0-9_]+", raw):
                raise self.error(
                    node,
                    f"{path} {raw} has a leading zero: put it in quotes ('{raw}'), "
                    "otherwise YAML reads it as an octal number",
                )
            if not re.fullmatch(r"[0-9]+", raw):
                raise self.error(node, f"{path} must be 2 to 10 digits, got {raw}")
            text = raw
        elif isinstance(node, ScalarNode) and node.tag == _STR:
            text = node.value
        else:
            raise self.error(node, f"{path} must be a string of digits, got {_describe(node)}")
        if not _EXTENSION.fullmatch(text):
            raise self.error(node, f"{path} must be 2 to 10 digits, got {text!r}")
        return text
