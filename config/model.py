"""Typed, frozen configuration model.

Every class here is a plain value: no validation happens in the constructors,
so tests and tools may build configurations directly.  Files are validated by
:mod:`config.loader`, which is the only producer of these objects from YAML.
The defaults below are the single source of truth for values a file omits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Transport = Literal["udp", "tcp"]
DigestAlgorithm = Literal["SHA-256", "MD5"]
SynchronousMode = Literal["normal", "full"]
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenAddress:
    """One local socket to listen on.

    ``host`` is stored bare, ready for ``bind()``: an IPv6 address has no
    brackets here (``"::1"``); use :attr:`uri_host` for the bracketed form that
    SIP URIs and Via headers need.
    """

    transport: Transport
    host: str
    port: int

    @property
    def uri_host(self) -> str:
        """The host as it appears in a SIP URI: IPv6 addresses in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    def __str__(self) -> str:
        return f"{self.transport}:{self.uri_host}:{self.port}"


DEFAULT_LISTEN: tuple[ListenAddress, ...] = (
    ListenAddress(transport="udp", host="127.0.0.1", port=5060),
    ListenAddress(transport="tcp", host="127.0.0.1", port=5060),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimersConfig:
    """RFC 3261 section 17 transaction timers, in seconds."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpConfig:
    """Limits for the SIP-over-TCP transport."""

    idle_timeout: float = 300.0
    max_connections: int = 4096
    max_connections_per_peer: int = 64
    max_buffer_bytes: int = 131072


@dataclass(frozen=True, slots=True, kw_only=True)
class SipConfig:
    listen: tuple[ListenAddress, ...] = DEFAULT_LISTEN
    domain: str
    # Host to advertise in Via/Contact/SDP; as written in the file, so an IPv6
    # address keeps its brackets.  None: advertise the listening address.
    public_address: str | None = None
    user_agent: str = "softswitch/0.1"
    max_message_bytes: int = 65535
    timers: TimersConfig = field(default_factory=TimersConfig)
    tcp: TcpConfig = field(default_factory=TcpConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallsConfig:
    """Calls between extensions (the B2BUA), in seconds."""

    ring_timeout: float = 30.0
    max_duration: float = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaConfig:
    """The built-in RTP relay that anchors every call's media."""

    host: str | None = None  # address RTP binds to and SDP advertises; None: the SIP one
    port_min: int = 10000
    port_max: int = 20000
    inactivity_timeout: float = 60.0
    data_plane: bool = True  # relay armed RTP streams in C (media/fastpath) when it loads

RecordingFormat = Literal["stereo", "mono"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingSettings:
    """Call recording: which calls (all, or those of listed users or queues; exempt
    users win), as what, kept how long (days; older ones are deleted, file and row)."""

    all_calls: bool = False
    users: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    never_users: tuple[str, ...] = ()
    format: RecordingFormat = "stereo"
    directory: str = "recordings"  # below data_dir
    retention_days: float = 90.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarConfig:
    """REGISTER expiry policy, in seconds (RFC 3261 section 10.3)."""

    min_expires: int = 60
    max_expires: int = 7200
    default_expires: int = 3600
    max_contacts_per_user: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class BruteforceConfig:
    """Lock a source out for ``cooldown`` s after ``max_failures`` in ``window`` s."""

    max_failures: int = 10
    window: float = 60.0
    cooldown: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    # Always set: the loader fills in sip.domain when the file leaves it out.
    realm: str
    # Spelled as RFC 8760 writes them; order is the order of preference.
    algorithms: tuple[DigestAlgorithm, ...] = ("MD5",)
    nonce_ttl: float = 300.0
    bruteforce: BruteforceConfig = field(default_factory=BruteforceConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    # SQLite ``PRAGMA synchronous`` level.
    synchronous: SynchronousMode = "normal"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    level: LogLevel = "info"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserConfig:
    # 2-10 ASCII digits, always a string (leading zeros are significant).
    extension: str
    # None: generate on first run and keep it in the data directory.
    password: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    sip: SipConfig
    registrar: RegistrarConfig = field(default_factory=RegistrarConfig)
    calls: CallsConfig = field(default_factory=CallsConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    auth: AuthConfig
    data_dir: Path = Path("var")
    storage: StorageConfig = field(default_factory=StorageConfig)
    log: LogConfig = field(default_factory=LogConfig)
    users: tuple[UserConfig, ...] = ()
    # The file name the configuration came from, as given to the loader.
    source: str
