"""Parsec's config.toml schema: a config written for Parsec loads; bad values name their key; unknown keys warn."""

from __future__ import annotations

import grp
from pathlib import Path
from typing import Any

import pytest

from refimpl.config import (
    DEFAULT_ON_DISK_STORE_PATH,
    DEFAULT_SOCKET_PATH,
    DEFAULT_SQLITE_DB_PATH,
    Config,
    load_config,
    parse_config,
)
from refimpl.errors import ConfigError

PARSEC_TEMPLATE = """
# A subset of Parsec's own config.toml template (svc:config.toml), comments included.
[core_settings]
#allow_root = false
thread_pool_size = 4
idle_listener_sleep_duration = 10 # in milliseconds
log_level = "warn"
log_timestamp = false
body_len_limit = 1048576
log_error_details = false
buffer_size_limit = 1048576
allow_deprecated = false

[listener]
listener_type = "DomainSocket"
timeout = 200 # in milliseconds
socket_path = "/run/parsec/parsec.sock"

[authenticator]
auth_type = "UnixPeerCredentials"
#admins = [ { name = "admin_1" }, { name = "admin_2" } ]

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3"

[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
"""


def minimal(**sections: str) -> str:
    """A valid config with any section replaced by the given TOML text."""
    parts = {
        "core_settings": "[core_settings]\nallow_root = true\n",
        "listener": '[listener]\nlistener_type = "DomainSocket"\ntimeout = 200\n',
        "authenticator": '[authenticator]\nauth_type = "Direct"\n',
        "key_manager": '[[key_manager]]\nname = "kim"\nmanager_type = "SQLite"\n',
        "provider": '[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "kim"\n',
    }
    parts.update(sections)
    return "\n".join(parts.values())


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return caught.value


def test_parsec_template_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PARSEC_TEMPLATE)
    config = load_config(path)
    assert config.core_settings.thread_pool_size == 4
    assert config.core_settings.log_level == "warn"
    assert config.listener.timeout == 200
    assert config.listener.socket_path == DEFAULT_SOCKET_PATH
    assert [a.auth_type for a in config.authenticators] == ["UnixPeerCredentials"]
    assert config.key_managers[0].path == DEFAULT_SQLITE_DB_PATH
    assert config.providers[0].name == "mbed-crypto-provider"  # Parsec's default name for MbedCrypto
    assert config.warnings == ()


def test_defaults_are_parsecs(tmp_path: Path) -> None:
    config = parse_config(
        {
            "core_settings": {},
            "listener": {"listener_type": "DomainSocket", "timeout": 200},
            "authenticator": {"auth_type": "Direct"},
            "key_manager": [{"name": "k", "manager_type": "OnDisk"}],
            "provider": [{"provider_type": "MbedCrypto", "key_info_manager": "k"}],
        }
    )
    core = config.core_settings
    assert (core.allow_root, core.body_len_limit, core.buffer_size_limit, core.allow_deprecated) == (
        False,
        1 << 20,
        1 << 20,
        False,
    )
    assert core.thread_pool_size >= 1
    assert config.key_managers[0].path == DEFAULT_ON_DISK_STORE_PATH


@pytest.mark.threat("A9-E-1", "M-5")
@pytest.mark.parametrize(
    ("section", "text", "key", "message"),
    [
        (
            "core_settings",
            "[core_settings]\nthread_pool_size = -1",
            "core_settings.thread_pool_size",
            "must be a positive integer, got -1",
        ),
        (
            "core_settings",
            "[core_settings]\nthread_pool_size = true",
            "core_settings.thread_pool_size",
            "must be a positive integer, got True",
        ),
        ("core_settings", '[core_settings]\nallow_root = "yes"', "core_settings.allow_root", "must be true or false"),
        ("core_settings", '[core_settings]\nlog_level = "verbose"', "core_settings.log_level", "must be one of"),
        (
            "core_settings",
            "[core_settings]\nbody_len_limit = 0",
            "core_settings.body_len_limit",
            "must be a positive integer, got 0",
        ),
        ("listener", '[listener]\nlistener_type = "DomainSocket"', "listener.timeout", "is required"),
        (
            "listener",
            '[listener]\nlistener_type = "Tcp"\ntimeout = 1',
            "listener.listener_type",
            'must be "DomainSocket"',
        ),
        (
            "listener",
            f'[listener]\nlistener_type = "DomainSocket"\ntimeout = 1\nsocket_path = "/{"x" * 120}"',
            "listener.socket_path",
            "Unix sockets allow 107",
        ),
        ("authenticator", '[authenticator]\nauth_type = "Jwt"', "authenticator.auth_type", "must be one of"),
        (
            "authenticator",
            '[authenticator]\nauth_type = "JwtSvid"',
            "authenticator.workload_endpoint",
            "is required for JwtSvid",
        ),
        (
            "authenticator",
            '[authenticator]\nauth_type = "Direct"\nadmins = ["root"]',
            "authenticator.admins[0]",
            "must be a table with a name",
        ),
        (
            "authenticator",
            '[[authenticator]]\nauth_type = "Direct"\n[[authenticator]]\nauth_type = "Direct"',
            "authenticator[1] (Direct).auth_type",
            "configured twice (also authenticator[0] (Direct).auth_type)",
        ),
        (
            "authenticator",
            '[[authenticator]]\nauth_type = "Direct"\n[[authenticator]]\nauth_type = "JwtSvid"',
            "authenticator[1] (JwtSvid).workload_endpoint",
            "is required for JwtSvid",
        ),
        ("authenticator", "[[authenticator]]\nadmins = []", "authenticator[0].auth_type", "is required"),
        (
            "authenticator",
            '[[authenticator]]\nauth_type = "Direct"\nadmins = [{ nom = "x" }]',
            "authenticator[0] (Direct).admins[0]",
            "must be a table with a name",
        ),
        (
            "authenticator",
            '[authenticator]\nauth_type = "JwtSvid"\nworkload_endpoint = "unix:///a"\nmax_failures = 0',
            "authenticator.max_failures",
            "must be a positive integer, got 0",
        ),
        (
            "authenticator",
            '[authenticator]\nauth_type = "JwtSvid"\nworkload_endpoint = "unix:///a"\nfailure_window = "1m"',
            "authenticator.failure_window",
            "must be a positive number of seconds",
        ),
        (
            "listener",
            '[listener]\nlistener_type = "DomainSocket"\ntimeout = 1\nsocket_group = "no-such-group-ptm"',
            "listener.socket_group",
            "there is no group 'no-such-group-ptm' on this system; create it",
        ),
        (
            "listener",
            '[listener]\nlistener_type = "DomainSocket"\ntimeout = 1\nsocket_mode = 660',
            "listener.socket_mode",
            'as octal digits in a string, like "0660", got 660',
        ),
        (
            "listener",
            '[listener]\nlistener_type = "DomainSocket"\ntimeout = 1\nsocket_mode = "4755"',
            "listener.socket_mode",
            "octal digits",
        ),
        (
            "listener",
            '[listener]\nlistener_type = "DomainSocket"\ntimeout = 1\nsocket_mode = "0668"',
            "listener.socket_mode",
            "octal digits",
        ),
        (
            "key_manager",
            '[[key_manager]]\nname = "kim"\nmanager_type = "Redis"',
            "key_manager[0] (kim).manager_type",
            "must be one of SQLite, OnDisk",
        ),
        (
            "key_manager",
            '[[key_manager]]\nname = "kim"\nmanager_type = "SQLite"\n'
            '[[key_manager]]\nname = "kim"\nmanager_type = "OnDisk"',
            "key_manager[1] (kim).name",
            "duplicate",
        ),
        ("provider", "", "provider", "at least one [[provider]]"),
        (
            "provider",
            '[[provider]]\nprovider_type = "Imaginary"\nkey_info_manager = "kim"',
            "provider[0].provider_type",
            "not supported here",
        ),
        (
            "provider",
            '[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "nope"',
            "provider[0] (mbed-crypto-provider).key_info_manager",
            "no [[key_manager]] named 'nope'",
        ),
        (
            "provider",
            '[[provider]]\nprovider_type = "MbedCrypto"',
            "provider[0] (mbed-crypto-provider).key_info_manager",
            "is required",
        ),
        (
            "provider",
            '[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "kim"\n'
            '[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "kim"',
            "provider[1] (mbed-crypto-provider).name",
            "duplicate provider name",
        ),
    ],
)
def test_invalid_values_name_their_key(tmp_path: Path, section: str, text: str, key: str, message: str) -> None:
    error = error_of(tmp_path, minimal(**{section: text}))
    assert error.key == key
    assert message in error.message


def test_missing_required_tables_are_named(tmp_path: Path) -> None:
    assert error_of(tmp_path, minimal(listener="")).key == "listener"
    assert error_of(tmp_path, minimal(authenticator="")).key == "authenticator"
    assert error_of(tmp_path, minimal(core_settings="")).key == "core_settings"


def test_unreadable_or_invalid_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml")
    assert caught.value.key == "--config" and "absent.toml" in caught.value.message
    error = error_of(tmp_path, "[core_settings\n")
    assert error.key == "--config" and "not valid TOML" in error.message


def test_unknown_keys_warn_and_name_the_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        minimal(
            core_settings="[core_settings]\nallow_root = true\nthread_pool_sise = 3",
            provider='[[provider]]\nprovider_type = "MbedCrypto"\nkey_info_manager = "kim"\ncolour = "blue"',
        )
        + "\n[extra]\nx = 1\n",
    )
    warnings = config.warnings
    assert "unknown key core_settings.thread_pool_sise is ignored" in warnings
    assert "unknown key provider[0] (mbed-crypto-provider).colour is ignored" in warnings
    assert "unknown key extra is ignored" in warnings


def test_sqlite_reads_sqlite_db_path_not_store_path(tmp_path: Path) -> None:
    """Parsec's template comment shows store_path for SQLite, but its code reads sqlite_db_path (facts §5.4)."""
    config = load(
        tmp_path,
        minimal(key_manager='[[key_manager]]\nname = "kim"\nmanager_type = "SQLite"\nstore_path = "/tmp/x"'),
    )
    assert config.key_managers[0].path == DEFAULT_SQLITE_DB_PATH
    assert any("store_path is ignored for SQLite" in warning for warning in config.warnings)


def test_admins_and_provider_order_are_kept(tmp_path: Path) -> None:
    config = parse_config(
        {
            "core_settings": {},
            "listener": {"listener_type": "DomainSocket", "timeout": 5},
            "authenticator": {"auth_type": "UnixPeerCredentials", "admins": [{"name": "0"}, {"name": "1001"}]},
            "key_manager": [{"name": "k", "manager_type": "SQLite", "sqlite_db_path": "/x/db"}],
            "provider": [
                {"provider_type": "MbedCrypto", "key_info_manager": "k", "name": "second-name"},
                {"provider_type": "MbedCrypto", "key_info_manager": "k"},
            ],
        }
    )
    assert config.authenticators[0].admins == ("0", "1001")
    assert [provider.name for provider in config.providers] == ["second-name", "mbed-crypto-provider"]
    assert config.providers[0].key("user_pin") == "provider[0] (second-name).user_pin"


# ------------------------------------------------------------------ several authenticators, O-10 (our extensions)


def document(**sections: Any) -> dict[str, Any]:
    """A valid parsed config (one Direct authenticator, one SQLite store) with any section replaced."""
    base: dict[str, Any] = {
        "core_settings": {},
        "listener": {"listener_type": "DomainSocket", "timeout": 200},
        "authenticator": {"auth_type": "Direct"},
        "key_manager": [{"name": "kim", "manager_type": "SQLite"}],
        "provider": [{"provider_type": "MbedCrypto", "key_info_manager": "kim"}],
    }
    return {**base, **sections}


def test_an_authenticator_array_configures_several_each_with_its_admins(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        minimal(
            authenticator="""
[[authenticator]]
auth_type = "UnixPeerCredentials"
admins = [{ name = "0" }]

[[authenticator]]
auth_type = "JwtSvid"
workload_endpoint = "unix:///run/spire/sockets/agent.sock"
admins = [{ name = "spiffe://example.org/admin" }]
max_failures = 20
failure_window = 0.5
"""
        ),
    )
    uds, jwt = config.authenticators
    assert (uds.auth_type, uds.admins, uds.index) == ("UnixPeerCredentials", ("0",), 0)
    assert (jwt.auth_type, jwt.admins, jwt.index) == ("JwtSvid", ("spiffe://example.org/admin",), 1)
    assert (jwt.max_failures, jwt.failure_window) == (20, 0.5)
    assert jwt.key("workload_endpoint") == "authenticator[1] (JwtSvid).workload_endpoint"
    assert config.warnings == ()


def test_parsecs_single_table_keeps_its_keys(tmp_path: Path) -> None:
    [single] = load(tmp_path, PARSEC_TEMPLATE).authenticators
    assert single.index is None
    assert single.key("admins") == "authenticator.admins"
    assert (single.max_failures, single.failure_window) == (None, None)


def test_both_forms_at_once_are_refused_naming_the_key(tmp_path: Path) -> None:
    for text in (
        '[authenticator]\nauth_type = "Direct"\n[[authenticator]]\nauth_type = "UnixPeerCredentials"\n',
        '[[authenticator]]\nauth_type = "Direct"\n[authenticator]\nauth_type = "UnixPeerCredentials"\n',
    ):
        error = error_of(tmp_path, minimal(authenticator=text))
        assert error.key == "authenticator"
        assert "both as one [authenticator] table and as [[authenticator]] tables; use one form" in error.message


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        ([], "authenticator", "the [[authenticator]] array is empty"),
        (["Direct"], "authenticator[0]", "must be a table, got a string"),
        ("Direct", "authenticator", "must be a table ([authenticator]) or an array of tables ([[authenticator]])"),
    ],
)
def test_malformed_authenticator_sections_name_their_key(value: Any, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document(authenticator=value))
    assert (caught.value.key, message in caught.value.message) == (key, True)


def test_options_of_another_auth_type_warn_as_unknown() -> None:
    config = parse_config(document(authenticator=[{"auth_type": "Direct", "workload_endpoint": "unix:///x"}]))
    assert config.warnings == ("unknown key authenticator[0] (Direct).workload_endpoint is ignored",)


@pytest.mark.threat("A1-S-1")
def test_several_authenticators_with_an_on_disk_store_are_refused() -> None:
    """OnDisk's layout has no authenticator: "alice" of Direct and "alice" of UnixPeerCredentials would share keys."""
    several = [{"auth_type": "Direct"}, {"auth_type": "UnixPeerCredentials"}]
    with pytest.raises(ConfigError) as caught:
        parse_config(document(authenticator=several, key_manager=[{"name": "kim", "manager_type": "OnDisk"}]))
    assert caught.value.key == "key_manager[0] (kim).manager_type"
    assert "Direct, UnixPeerCredentials" in caught.value.message
    assert 'Use manager_type = "SQLite"' in caught.value.message
    # One authenticator in the array is Parsec's case, and an OnDisk store no provider uses holds no keys.
    parse_config(document(authenticator=several[:1], key_manager=[{"name": "kim", "manager_type": "OnDisk"}]))
    unused = [{"name": "kim", "manager_type": "SQLite"}, {"name": "old", "manager_type": "OnDisk"}]
    assert len(parse_config(document(authenticator=several, key_manager=unused)).authenticators) == 2


def test_socket_group_and_mode(tmp_path: Path) -> None:
    root_group = grp.getgrgid(0).gr_name
    listener = '[listener]\nlistener_type = "DomainSocket"\ntimeout = 200\n'
    parsec = load(tmp_path, minimal(listener=listener)).listener
    assert (parsec.socket_gid, parsec.socket_mode) == (None, 0o666)  # Parsec's socket
    grouped = load(tmp_path, minimal(listener=listener + f'socket_group = "{root_group}"\n')).listener
    assert (grouped.socket_group, grouped.socket_gid, grouped.socket_mode) == (root_group, 0, 0o660)
    numeric = load(tmp_path, minimal(listener=listener + 'socket_group = "0"\nsocket_mode = "0600"\n')).listener
    assert (numeric.socket_gid, numeric.socket_mode) == (0, 0o600)
    assert load(tmp_path, minimal(listener=listener + 'socket_mode = "660"\n')).listener.socket_mode == 0o660
    assert (numeric.socket_gid, numeric.socket_mode) == (0, 0o600)
    assert load(tmp_path, minimal(listener=listener + 'socket_mode = "660"\n')).listener.socket_mode == 0o660


@pytest.mark.threat("U-0")
def test_connection_caps_have_defaults_and_name_their_key(tmp_path: Path) -> None:
    """`max_connections` and `max_connections_per_uid` (our extension) load, default, and reject bad values."""
    listener = '[listener]\nlistener_type = "DomainSocket"\ntimeout = 200\n'
    default = load(tmp_path, minimal(listener=listener)).listener
    assert (default.max_connections, default.max_connections_per_uid) == (4096, 1024)
    text = minimal(listener=listener + "max_connections = 50\nmax_connections_per_uid = 5\n")
    configured = load(tmp_path, text)
    assert (configured.listener.max_connections, configured.listener.max_connections_per_uid) == (50, 5)
    assert not configured.warnings  # known keys, not "unknown key" warnings
    error = error_of(tmp_path, minimal(listener=listener + "max_connections_per_uid = 0\n"))
    assert (error.key, error.message) == ("listener.max_connections_per_uid", "must be a positive integer, got 0")
