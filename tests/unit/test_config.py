"""Unit tests for the configuration loader (config/)."""

from __future__ import annotations

import dataclasses
import pickle
import textwrap
from pathlib import Path

import pytest

from config import (
    AuthConfig,
    Config,
    ConfigError,
    ListenAddress,
    UserConfig,
    default_config_path,
    load_config,
    load_config_text,
    load_default_config,
)
from switch.errors import SwitchError

SHAPE = """\
sip:
  listen: ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
  domain: example.test
data_dir: ./var
users:
  - {extension: "1001", password: "secret1001", name: "Anna Nowak"}
"""

MINIMAL = "sip:\n  domain: example.test\n"


def load(text: str) -> Config:
    return load_config_text(textwrap.dedent(text), "test.yaml")


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value


# -- valid files --------------------------------------------------------------


def test_reference_shape_loads() -> None:
    config = load_config_text(SHAPE, "switch.yaml")
    assert config.sip.listen == (
        ListenAddress(transport="udp", host="127.0.0.1", port=5060),
        ListenAddress(transport="tcp", host="127.0.0.1", port=5060),
    )
    assert config.sip.domain == "example.test"
    assert config.sip.public_address is None
    assert config.sip.user_agent == "softswitch/0.1"
    assert config.sip.max_message_bytes == 65535
    assert (config.sip.timers.t1, config.sip.timers.t2, config.sip.timers.t4) == (0.5, 4.0, 5.0)
    assert config.sip.tcp.max_buffer_bytes == 131072
    assert config.registrar.default_expires == 3600
    assert config.auth == AuthConfig(realm="example.test")
    assert config.auth.algorithms == ("MD5",)
    assert config.data_dir == Path("var")
    assert config.storage.synchronous == "normal"
    assert config.log.level == "info"
    assert config.users == (UserConfig(extension="1001", password="secret1001", name="Anna Nowak"),)
    assert config.source == "switch.yaml"


def test_default_yaml_loads() -> None:
    path = default_config_path()
    assert path.name == "default.yaml"
    assert path.parent.name == "config"
    assert path.is_file()
    config = load_default_config()
    assert [str(a) for a in config.sip.listen] == ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]
    assert config.sip.domain == "pbx.local"
    assert config.auth.realm == "pbx.local"
    assert [u.extension for u in config.users] == ["1001", "1002", "1003", "1004"]
    assert all(u.password is None and u.name for u in config.users)
    # The embedded default keeps ./var relative to the working directory.
    assert config.data_dir == Path("var")
    assert not config.data_dir.is_absolute()
    assert load_config(path) == config


def test_default_yaml_spells_out_every_default() -> None:
    # default.yaml documents the defaults, so it must agree with the dataclasses.
    config = load_default_config()
    minimal = load_config_text(MINIMAL.replace("example.test", "pbx.local"), "m.yaml")
    assert dataclasses.replace(config.sip, listen=minimal.sip.listen) == minimal.sip
    assert config.registrar == minimal.registrar
    assert config.auth == minimal.auth
    assert config.storage == minimal.storage
    assert config.log == minimal.log


def test_config_is_frozen() -> None:
    config = load(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sip.domain = "other"  # type: ignore[misc]


def test_null_sections_mean_defaults() -> None:
    config = load(
        """\
        sip:
          domain: example.test
          timers:
        registrar:
        users:
        """
    )
    assert config.registrar.max_expires == 7200
    assert config.sip.timers.t1 == 0.5
    assert config.users == ()


def test_full_configuration() -> None:
    config = load(
        """\
        sip:
          listen: ["UDP:[::1]:5070", "tcp:sip.example.test:5080"]
          domain: example.test
          public_address: "[2001:db8::1]"
          user_agent: "pbx/2"
          max_message_bytes: 4096
          timers: {t1: 1, t2: 8, t4: 10}
          tcp: {idle_timeout: 30, max_connections: 10, max_connections_per_peer: 10,
                max_buffer_bytes: 8192}
        registrar: {min_expires: 30, default_expires: 30, max_expires: 30,
                    max_contacts_per_user: 1}
        auth:
          realm: office
          algorithms: [MD5]
          nonce_ttl: 12.5
          bruteforce: {max_failures: 3, window: 10, cooldown: 0}
        storage: {synchronous: FULL}
        log: {level: Debug}
        media: {data_plane: false}
        """
    )
    udp, tcp = config.sip.listen
    assert (udp.transport, udp.host, udp.port, udp.uri_host) == ("udp", "::1", 5070, "[::1]")
    assert str(udp) == "udp:[::1]:5070"
    assert (tcp.transport, tcp.host, tcp.port) == ("tcp", "sip.example.test", 5080)
    assert config.sip.public_address == "[2001:db8::1]"
    assert config.sip.timers.t2 == 8.0 and isinstance(config.sip.timers.t2, float)
    assert config.sip.tcp.max_connections_per_peer == 10
    assert config.registrar.min_expires == config.registrar.max_expires == 30
    assert config.auth.realm == "office"
    assert config.auth.algorithms == ("MD5",)
    assert config.auth.nonce_ttl == 12.5
    assert config.auth.bruteforce.cooldown == 0.0
    assert config.storage.synchronous == "full"
    assert config.log.level == "debug"
    assert config.media.data_plane is False


def test_algorithm_case_is_normalised() -> None:
    config = load(
        """\
        sip: {domain: example.test}
        auth:
          algorithms: [md5, sha-256]
        """
    )
    assert config.auth.algorithms == ("MD5", "SHA-256")


def test_integer_extensions_are_accepted() -> None:
    config = load(
        """\
        sip: {domain: example.test}
        users:
          - extension: 1001
          - {extension: "0100", name: null}
          - {extension: 4294967295, password: "x"}
        """
    )
    assert [u.extension for u in config.users] == ["1001", "0100", "4294967295"]
    assert config.users[1].name == ""
    assert config.users[0].password is None


# -- data_dir resolution --------------------------------------------------------


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    path = conf_dir / "switch.yaml"
    path.write_text(SHAPE, encoding="utf-8")
    config = load_config(path)
    assert config.data_dir == conf_dir / "var"
    assert config.data_dir.is_absolute()
    assert config.source == str(path)


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "switch.yaml"
    path.write_text(MINIMAL + f"data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    assert load_config(str(path)).data_dir == tmp_path / "data"


def test_load_config_text_base_dir(tmp_path: Path) -> None:
    text = MINIMAL + "data_dir: spool/db\n"
    assert load_config_text(text, "t.yaml").data_dir == Path("spool/db")
    assert load_config_text(text, "t.yaml", base_dir=tmp_path).data_dir == tmp_path / "spool/db"


# -- ConfigError itself ----------------------------------------------------------


def test_config_error_fields() -> None:
    exc = ConfigError("a.yaml", 3, 7, "boom")
    assert isinstance(exc, SwitchError)
    assert (exc.filename, exc.line, exc.column, exc.message) == ("a.yaml", 3, 7, "boom")
    assert str(exc) == "a.yaml:3:7: boom"
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == "a.yaml:3:7: boom"


# -- errors, with exact positions --------------------------------------------------


def test_empty_file() -> None:
    assert str(error("")) == "test.yaml:1:1: configuration is empty"
    assert str(error("# only a comment\n\n")) == "test.yaml:1:1: configuration is empty"


def test_yaml_syntax_error() -> None:
    exc = error(
        """\
        sip:
          domain: example.test
          listen: ["udp:127.0.0.1:5060"
        log: {}
        """
    )
    assert (exc.line, exc.column) == (4, 1)
    assert exc.message.startswith("YAML syntax error: ")
    assert str(error("sip:\n  domain: a\n\tlog: {}\n")) == (
        "test.yaml:3:1: YAML syntax error: found character '\\t' that cannot start any token"
        " (while scanning for the next token)"
    )


def test_non_printable_character() -> None:
    exc = error("sip:\n  domain: a\x01\n")
    assert (exc.line, exc.column) == (2, 12)
    assert "U+0001" in exc.message


def test_unknown_key_with_suggestion() -> None:
    exc = error(
        """\
        sip:
          domain: example.test
          lisen: ["udp:127.0.0.1:5060"]
        """
    )
    assert str(exc) == "test.yaml:3:3: unknown key 'lisen' in sip (did you mean 'listen'?)"
    assert str(error(MINIMAL + "registrar:\n  max_expire: 10\n")) == (
        "test.yaml:4:3: unknown key 'max_expire' in registrar (did you mean 'max_expires'?)"
    )


def test_unknown_key_without_suggestion() -> None:
    exc = error(MINIMAL + "zzz: 1\n")
    assert (exc.line, exc.column) == (3, 1)
    assert exc.message.startswith("unknown key 'zzz' at top level (expected one of: sip, ")


def test_duplicate_key() -> None:
    exc = error(
        """\
        sip:
          domain: example.test
          user_agent: a
          user_agent: b
        """
    )
    assert str(exc) == (
        "test.yaml:4:3: duplicate key 'user_agent' in sip (first defined at line 3, column 3)"
    )
    assert str(error(MINIMAL + "sip: {}\n")) == (
        "test.yaml:3:1: duplicate key 'sip' at top level (first defined at line 1, column 1)"
    )


def test_missing_required_keys() -> None:
    assert str(error("log: {level: info}\n")) == (
        "test.yaml:1:1: missing required key 'sip' at top level"
    )
    assert str(error("sip:\n  user_agent: x\n")) == (
        "test.yaml:2:3: missing required key 'domain' in sip"
    )
    assert str(error(MINIMAL + "users:\n  - {name: Anna}\n")) == (
        "test.yaml:4:5: missing required key 'extension' in users[0]"
    )


def test_wrong_types() -> None:
    assert str(error(MINIMAL + "  max_message_bytes: big\n")) == (
        "test.yaml:3:22: sip.max_message_bytes must be an integer, got a string ('big')"
    )
    assert str(error(MINIMAL + "  max_message_bytes: 2048.0\n")) == (
        "test.yaml:3:22: sip.max_message_bytes must be an integer, got a number (2048.0)"
    )
    assert str(error("sip:\n  domain: yes\n")) == (
        "test.yaml:2:11: sip.domain must be a string, got a boolean (yes);"
        " put it in quotes to make it a string"
    )
    assert str(error("sip: [domain]\n")) == "test.yaml:1:6: sip must be a mapping, got a list"
    assert str(error("- sip\n")) == (
        "test.yaml:1:1: the configuration must be a mapping, got a list"
    )
    assert str(error(MINIMAL + "  listen: udp:127.0.0.1:5060\n")) == (
        "test.yaml:3:11: sip.listen must be a list, got a string ('udp:127.0.0.1:5060')"
    )
    assert str(error(MINIMAL + "  timers: {t1: soon}\n")) == (
        "test.yaml:3:16: sip.timers.t1 must be a number of seconds, got a string ('soon')"
    )
    assert str(error(MINIMAL + "users:\n  - {extension: '1001', password: 1234}\n")) == (
        "test.yaml:4:35: users[0].password must be a string, got an integer (1234);"
        " put it in quotes to make it a string"
    )
    assert str(error(MINIMAL + "media: {data_plane: C}\n")).endswith(
        ": media.data_plane must be true or false, got a string ('C')"
    )
    exc = error(MINIMAL + "1: x\n")
    assert (exc.line, exc.column) == (3, 1)
    assert exc.message == "key at top level must be a string, got an integer (1)"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("udp:127.0.0.1", "expected transport:host:port, e.g. udp:127.0.0.1:5060"),
        ("127.0.0.1:5060", "expected transport:host:port, e.g. udp:127.0.0.1:5060"),
        ("tls:127.0.0.1:5061", "unknown transport 'tls' (expected udp or tcp)"),
        ("udp:127.0.0.1:0", "port must be between 1 and 65535, got 0"),
        ("udp:127.0.0.1:65536", "port must be between 1 and 65535, got 65536"),
        ("udp:127.0.0.1:sip", "port 'sip' is not a number"),
        ("udp:127.0.0.300:5060", "invalid IPv4 address '127.0.0.300'"),
        ("udp:::1:5060", "IPv6 address '::1' must be written in brackets, e.g. [::1]"),
        ("udp:[::g]:5060", "invalid IPv6 address '::g'"),
        ("udp:[::1:5060", "missing ']' after IPv6 address in '[::1'"),
        ("udp:bad_host:5060", "invalid host name 'bad_host'"),
        ("udp::5060", "expected transport:host:port, e.g. udp:127.0.0.1:5060"),
    ],
)
def test_bad_listen_string(entry: str, reason: str) -> None:
    text = f'sip:\n  domain: example.test\n  listen:\n    - "udp:127.0.0.1:5060"\n    - "{entry}"\n'
    exc = error(text)
    assert str(exc) == (
        f"test.yaml:5:7: invalid listen address {entry!r} in sip.listen[1]: {reason}"
    )


def test_listen_list_rules() -> None:
    assert str(error(MINIMAL + "  listen: []\n")) == (
        "test.yaml:3:11: sip.listen must list at least one address"
    )
    assert str(error(MINIMAL + "  listen: [udp:127.0.0.1:5060, UDP:127.0.0.1:5060]\n")) == (
        "test.yaml:3:32: duplicate listen address 'UDP:127.0.0.1:5060' in sip.listen[1]"
    )


def test_bad_domain_and_public_address() -> None:
    assert str(error("sip:\n  domain: example test\n")) == (
        "test.yaml:2:11: sip.domain: invalid host name 'example test'"
    )
    assert str(error("sip:\n  domain: ''\n")) == "test.yaml:2:11: sip.domain must not be empty"
    assert str(error(MINIMAL + "  public_address: '2001:db8::1'\n")) == (
        "test.yaml:3:19: sip.public_address: IPv6 address '2001:db8::1' must be written in"
        " brackets, e.g. [::1]"
    )


def test_duplicate_extension() -> None:
    text = """\
    sip: {domain: example.test}
    users:
      - {extension: "1001", name: "Anna Nowak"}
      - {extension: "1002"}
      - {extension: 1001, name: "Jan Kowalski"}
    """
    assert str(error(text)) == (
        "test.yaml:5:17: duplicate extension '1001' in users[2]"
        " (first defined at line 3, column 17)"
    )


def test_bad_extensions() -> None:
    def user(extension: str) -> str:
        return MINIMAL + f"users:\n  - extension: {extension}\n"

    assert str(error(user("0123"))) == (
        "test.yaml:4:16: users[0].extension 0123 has a leading zero: put it in quotes ('0123'),"
        " otherwise YAML reads it as an octal number"
    )
    assert str(error(user("'10a1'"))) == (
        "test.yaml:4:16: users[0].extension must be 2 to 10 digits, got '10a1'"
    )
    assert str(error(user("7"))) == (
        "test.yaml:4:16: users[0].extension must be 2 to 10 digits, got '7'"
    )
    assert str(error(user("12345678901"))) == (
        "test.yaml:4:16: users[0].extension must be 2 to 10 digits, got '12345678901'"
    )
    assert str(error(user("1_001"))) == (
        "test.yaml:4:16: users[0].extension must be 2 to 10 digits, got 1_001"
    )
    assert str(error(user("-1001"))) == (
        "test.yaml:4:16: users[0].extension must be 2 to 10 digits, got -1001"
    )
    assert str(error(user("1001.5"))) == (
        "test.yaml:4:16: users[0].extension must be a string of digits, got a number (1001.5)"
    )
    assert str(error(MINIMAL + "users:\n  - 1001\n")) == (
        "test.yaml:4:5: users[0] must be a mapping, got an integer (1001)"
    )


def test_range_violations() -> None:
    assert str(error(MINIMAL + "  max_message_bytes: 100\n")) == (
        "test.yaml:3:22: sip.max_message_bytes must be between 1024 and 1048576, got 100"
    )
    assert str(error(MINIMAL + "registrar:\n  min_expires: 0\n")) == (
        "test.yaml:4:16: registrar.min_expires must be at least 1, got 0"
    )
    assert str(error(MINIMAL + "  timers:\n    t4: -1\n")) == (
        "test.yaml:4:9: sip.timers.t4 must be greater than zero, got -1"
    )
    assert str(error(MINIMAL + "  timers:\n    t1: .inf\n")) == (
        "test.yaml:4:9: sip.timers.t1 must be a finite number, got .inf"
    )
    assert str(error(MINIMAL + "auth:\n  bruteforce: {cooldown: -5}\n")) == (
        "test.yaml:4:26: auth.bruteforce.cooldown must be zero or more, got -5"
    )


def test_constraint_violations() -> None:
    # Only max_expires is set, so the conflict with the default default_expires is reported there.
    assert str(error(MINIMAL + "registrar:\n  max_expires: 1800\n")) == (
        "test.yaml:4:16: registrar.default_expires (3600) must not exceed"
        " registrar.max_expires (1800)"
    )
    # Both set: the error points at the one written last.
    assert str(error(MINIMAL + "registrar:\n  default_expires: 30\n  min_expires: 40\n")) == (
        "test.yaml:5:16: registrar.min_expires (40) must not exceed registrar.default_expires (30)"
    )
    assert str(error(MINIMAL + "  timers:\n    t2: 2\n    t1: 3\n")) == (
        "test.yaml:5:9: sip.timers.t2 (2) must be at least sip.timers.t1 (3)"
    )
    assert str(error(MINIMAL + "  max_message_bytes: 200000\n")) == (
        "test.yaml:3:22: sip.tcp.max_buffer_bytes (131072) must be at least"
        " sip.max_message_bytes (200000): the buffer must hold a whole message"
    )
    assert str(error(MINIMAL + "  tcp: {max_connections: 10}\n")) == (
        "test.yaml:3:26: sip.tcp.max_connections_per_peer (64) must not exceed"
        " sip.tcp.max_connections (10)"
    )


def test_bad_enum_values() -> None:
    assert str(error(MINIMAL + "auth:\n  algorithms: [SHA-512]\n")) == (
        "test.yaml:4:16: auth.algorithms[0] must be one of SHA-256, MD5, got 'SHA-512'"
    )
    assert str(error(MINIMAL + "auth:\n  algorithms: []\n")) == (
        "test.yaml:4:15: auth.algorithms must list at least one algorithm"
    )
    assert str(error(MINIMAL + "auth:\n  algorithms: [MD5, md5]\n")) == (
        "test.yaml:4:21: duplicate algorithm 'MD5' in auth.algorithms"
    )
    assert str(error(MINIMAL + "log:\n  level: verbose\n")) == (
        "test.yaml:4:10: log.level must be one of debug, info, warning, error, got 'verbose'"
    )
    assert str(error(MINIMAL + "storage:\n  synchronous: off\n")) == (
        "test.yaml:4:16: storage.synchronous must be a string, got a boolean (off);"
        " put it in quotes to make it a string"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:1:1: cannot read configuration: ")


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"sip:\n  domain: x\nusers:\n  - {extension: '1001', name: 'Wi\xb6niewska'}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:4:34: configuration is not valid UTF-8"
