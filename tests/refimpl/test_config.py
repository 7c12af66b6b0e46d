"""Parsec's config.toml schema: a config written for Parsec loads; bad values name their key; unknown keys warn."""

from __future__ import annotations

from pathlib import Path

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
        ("core_settings", "[core_settings]\nthread_pool_size = -1", "core_settings.thread_pool_size",
         "must be a positive integer, got -1"),
        ("core_settings", "[core_settings]\nthread_pool_size = true", "core_settings.thread_pool_size",
         "must be a positive integer, got True"),
        ("core_settings", "[core_settings]\nallow_root = \"yes\"", "core_settings.allow_root",
         "must be true or false"),
        ("core_settings", "[core_settings]\nlog_level = \"verbose\"", "core_settings.log_level",
         "must be one of"),
        ("core_settings", "[core_settings]\nbody_len_limit = 0", "core_settings.body_len_limit",
         "must be a positive integer, got 0"),
        ("listener", "[listener]\nlistener_type = \"DomainSocket\"", "listener.timeout", "is required"),
        ("listener", "[listener]\nlistener_type = \"Tcp\"\ntimeout = 1", "listener.listener_type",
         "must be \"DomainSocket\""),
        ("listener", f"[listener]\nlistener_type = \"DomainSocket\"\ntimeout = 1\nsocket_path = \"/{'x' * 120}\"",
         "listener.socket_path", "Unix sockets allow 107"),
        ("authenticator", "[authenticator]\nauth_type = \"Jwt\"", "authenticator.auth_type", "must be one of"),
        ("authenticator", "[authenticator]\nauth_type = \"JwtSvid\"", "authenticator.workload_endpoint",
         "is required for JwtSvid"),
        ("authenticator", "[authenticator]\nauth_type = \"Direct\"\nadmins = [\"root\"]", "authenticator.admins[0]",
         "must be a table with a name"),
        ("authenticator", "[[authenticator]]\nauth_type = \"Direct\"", "authenticator",
         "only one authenticator"),
        ("key_manager", "[[key_manager]]\nname = \"kim\"\nmanager_type = \"Redis\"",
         "key_manager[0] (kim).manager_type", "must be one of SQLite, OnDisk"),
        ("key_manager", "[[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\n"
         "[[key_manager]]\nname = \"kim\"\nmanager_type = \"OnDisk\"", "key_manager[1] (kim).name", "duplicate"),
        ("provider", "", "provider", "at least one [[provider]]"),
        ("provider", "[[provider]]\nprovider_type = \"Imaginary\"\nkey_info_manager = \"kim\"",
         "provider[0].provider_type", "not supported here"),
        ("provider", "[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"nope\"",
         "provider[0] (mbed-crypto-provider).key_info_manager", "no [[key_manager]] named 'nope'"),
        ("provider", "[[provider]]\nprovider_type = \"MbedCrypto\"",
         "provider[0] (mbed-crypto-provider).key_info_manager", "is required"),
        ("provider", "[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"kim\"\n"
         "[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"kim\"",
         "provider[1] (mbed-crypto-provider).name", "duplicate provider name"),
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
