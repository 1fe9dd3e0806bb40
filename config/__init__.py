"""Configuration: YAML files validated into typed, frozen dataclasses.

``config/default.yaml`` is the embedded default; users pass ``--config PATH``.
Every problem with a file raises :class:`ConfigError`, whose ``str()`` is
``file:line:column: message`` with 1-based line and column.
"""

from config.errors import ConfigError
from config.loader import (
    default_config_path,
    load_config,
    load_config_text,
    load_default_config,
)
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
    RegistrarConfig,
    SipConfig,
    StorageConfig,
    SynchronousMode,
    TcpConfig,
    TimersConfig,
    Transport,
    UserConfig,
)

__all__ = [
    "AuthConfig",
    "BruteforceConfig",
    "CallsConfig",
    "Config",
    "ConfigError",
    "DigestAlgorithm",
    "ListenAddress",
    "LogConfig",
    "MediaConfig",
    "LogLevel",
    "RegistrarConfig",
    "SipConfig",
    "StorageConfig",
    "SynchronousMode",
    "TcpConfig",
    "TimersConfig",
    "Transport",
    "UserConfig",
    "default_config_path",
    "load_config",
    "load_config_text",
    "load_default_config",
]
