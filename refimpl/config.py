"""Parsec's `config.toml` schema as frozen dataclasses, parsed with tomllib and validated key by key.

The schema is Parsec's own (svc:config.toml, svc:src/utils/config.rs, svc:src/utils/service_builder.rs;
parsec-facts §5.1–5.5), so a configuration written for Parsec starts this service unchanged. Like Parsec, unknown
keys are not an error: each one becomes a warning naming the key (collected in `Config.warnings` and logged by the
service once logging is set up). An invalid value raises `ConfigError` with the dotted path of the key and what to
write instead, e.g. `core_settings.thread_pool_size: must be a positive integer, got -1`.

Provider tables are checked against the provider class's `CONFIG_KEYS`; the provider's own `from_config` (called
by the service) validates the values.

Extensions to Parsec's schema, each optional, so that every Parsec
config still loads unchanged:

* Several authenticators at once (Parsec's issue #271): an `[[authenticator]]` array of tables, each with the keys
  of Parsec's single `[authenticator]` table and its own `admins`. Each auth type may appear once (a request picks
  its authenticator by the header's auth type), the two forms cannot be mixed, and the keys of all applications are
  kept apart by authenticator — which only the SQLite key info manager can do (its schema stores
  `authenticator_id`; the OnDisk layout has no place for it), so several authenticators with an OnDisk manager in
  use is refused.
* O-10 as config: `[listener] socket_group` (a group name or number) and `socket_mode` (octal digits in a string,
  e.g. "0660"; default "0666" as Parsec, or "0660" when a group is set). Parsec leaves its socket 0666 and restricts
  access with the directory around it (parsec-facts §5.7); these keys put the same restriction on the socket itself.
* `[authenticator] max_failures` and `failure_window` (seconds) for JwtSvid: its M-2 failure limit per Unix user.
* Connection caps against U-0 (one local user denying the service to every other): `[listener] max_connections`
  (open connections in total, per service process; default 4096) and `max_connections_per_uid` (per peer Unix
  user, from SO_PEERCRED; default 1024). A connection over a cap is closed at once, unanswered; the first such
  refusal of a user (or of anyone, for the total cap) is logged once, not every refused connection. Parsec has no
  such keys: its only bound is the thread pool.
"""

from __future__ import annotations

import grp
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from refimpl.errors import ConfigError
from refimpl.logs import LOG_LEVELS
from refimpl.providers.base import Provider, provider_class

DEFAULT_SOCKET_PATH = Path("/run/parsec/parsec.sock")
DEFAULT_SQLITE_DB_PATH = Path("/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3")
DEFAULT_ON_DISK_STORE_PATH = Path("/var/lib/parsec/mappings")
AUTH_TYPES = ("Direct", "UnixPeerCredentials", "JwtSvid")
MANAGER_TYPES = ("SQLite", "OnDisk")
SUN_PATH_MAX = 107
"""Longest Unix socket path Linux accepts (sun_path is 108 bytes including the terminating NUL)."""

PROVIDER_COMMON_KEYS = frozenset({"provider_type", "name", "key_info_manager"})
AUTHENTICATOR_KEYS = frozenset({"auth_type", "admins"})
AUTHENTICATOR_TYPE_KEYS = {
    "Direct": frozenset(),
    "UnixPeerCredentials": frozenset(),
    "JwtSvid": frozenset({"workload_endpoint", "max_failures", "failure_window"}),
}
"""The keys an authenticator table accepts besides auth_type and admins; others warn as unknown."""
PARSEC_SOCKET_MODE = 0o666
"""Parsec's socket mode (svc:src/front/domain_socket.rs): anyone may connect; the directory restricts (§5.7)."""
GROUP_SOCKET_MODE = 0o660
"""The socket mode when `socket_group` is set and `socket_mode` is not: the owner and the group read and write."""
DEFAULT_MAX_CONNECTIONS = 4096
DEFAULT_MAX_CONNECTIONS_PER_UID = 1024
_OCTAL_MODE = re.compile(r"0?[0-7]{3}")


@dataclass(frozen=True)
class CoreSettings:
    """`[core_settings]` (parsec-facts §5.1)."""

    allow_root: bool = False
    thread_pool_size: int = field(default_factory=lambda: os.cpu_count() or 1)
    idle_listener_sleep_duration: int = 10
    """Accepted for compatibility; this service blocks in accept() and never polls, so it has no effect."""
    log_level: str | None = None
    log_timestamp: bool = False
    """Accepted for compatibility; every line carries a timestamp here (M-4)."""
    body_len_limit: int = 1 << 20
    log_error_details: bool = False
    buffer_size_limit: int = 1 << 20
    allow_deprecated: bool = False


@dataclass(frozen=True)
class ListenerConfig:
    """`[listener]` (parsec-facts §5.2). `timeout` is the per-connection read and write timeout in ms.

    `socket_gid` and `socket_mode` are the O-10 extension: the socket file's group (None: the service's own) and
    permission bits; `socket_group` is the group as written in the config, for messages.
    """

    timeout: int
    socket_path: Path = DEFAULT_SOCKET_PATH
    listener_type: str = "DomainSocket"
    socket_group: str | None = None
    socket_gid: int | None = None
    socket_mode: int = PARSEC_SOCKET_MODE
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Our extension: open connections at once (per service process); more are closed unanswered."""
    max_connections_per_uid: int = DEFAULT_MAX_CONNECTIONS_PER_UID
    """Our extension: open connections at once from one peer Unix user; more are closed unanswered."""


@dataclass(frozen=True)
class AuthenticatorConfig:
    """One authenticator (parsec-facts §5.3): its type and admins (names, matched exactly), and its options.

    `index` is its place in an `[[authenticator]]` array, or None for Parsec's single `[authenticator]` table.
    `max_failures` and `failure_window` (JwtSvid only) override the M-2 failure limit; None keeps the default.
    """

    auth_type: str
    admins: tuple[str, ...] = ()
    workload_endpoint: str | None = None
    index: int | None = None
    max_failures: int | None = None
    failure_window: float | None = None

    def key(self, option: str) -> str:
        """The dotted config key of one option: `authenticator.admins`, or `authenticator[1] (JwtSvid).admins`."""
        if self.index is None:
            return f"authenticator.{option}"
        return f"authenticator[{self.index}] ({self.auth_type}).{option}"


@dataclass(frozen=True)
class KeyManagerConfig:
    """One `[[key_manager]]` entry (parsec-facts §5.4). `path` is the file (SQLite) or directory (OnDisk)."""

    index: int
    name: str
    manager_type: str
    path: Path

    @property
    def key_path(self) -> str:
        """The config key holding `path`, for error messages."""
        option = "sqlite_db_path" if self.manager_type == "SQLite" else "store_path"
        return f"key_manager[{self.index}] ({self.name}).{option}"


@dataclass(frozen=True)
class ProviderConfig:
    """One `[[provider]]` entry (parsec-facts §5.5); `options` holds the provider-specific keys it declares."""

    index: int
    provider_type: str
    name: str
    key_info_manager: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    @property
    def provider_class(self) -> type[Provider]:
        return provider_class(self.provider_type)

    def key(self, option: str) -> str:
        """The dotted config key of one option of this table: `provider[1] (pkcs11-provider).user_pin`."""
        return f"provider[{self.index}] ({self.name}).{option}"


@dataclass(frozen=True)
class Config:
    """A whole config.toml. Providers are in priority order: the first is the clients' default provider."""

    core_settings: CoreSettings
    listener: ListenerConfig
    authenticators: tuple[AuthenticatorConfig, ...]
    key_managers: tuple[KeyManagerConfig, ...]
    providers: tuple[ProviderConfig, ...]
    warnings: tuple[str, ...] = ()
    path: Path | None = None

    def key_manager(self, name: str) -> KeyManagerConfig:
        for manager in self.key_managers:
            if manager.name == name:
                return manager
        raise KeyError(name)


def load_config(path: Path) -> Config:
    """Read and validate a config.toml file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("--config", f"cannot read {path}: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        if _HEADER_SINGLE.search(text) and _HEADER_ARRAY.search(text):
            raise ConfigError(
                "authenticator",
                "is written both as one [authenticator] table and as [[authenticator]] tables; use one form: "
                "[authenticator] for one authenticator (Parsec's), or only [[authenticator]] tables for several",
            ) from None
        raise ConfigError("--config", f"{path} is not valid TOML: {error}") from None
    return parse_config(data, path)


_HEADER_SINGLE = re.compile(r"^\s*\[\s*authenticator\s*\]", re.MULTILINE)
_HEADER_ARRAY = re.compile(r"^\s*\[\[\s*authenticator\s*\]\]", re.MULTILINE)


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """Validate an already-parsed TOML document (a dict) into a `Config`."""
    warnings: list[str] = []
    _warn_unknown(data, {"core_settings", "listener", "authenticator", "key_manager", "provider"}, "", warnings)
    core = _core_settings(_table(data, "core_settings", required=True), warnings)
    listener = _listener(_table(data, "listener", required=True), warnings)
    authenticators = _authenticators(data.get("authenticator"), warnings)
    key_managers = _key_managers(data.get("key_manager", []), warnings)
    providers = _providers(data.get("provider"), {manager.name for manager in key_managers}, warnings)
    _check_namespaces(authenticators, key_managers, providers)
    return Config(core, listener, authenticators, key_managers, providers, tuple(warnings), path)


def _check_namespaces(
    authenticators: tuple[AuthenticatorConfig, ...],
    key_managers: tuple[KeyManagerConfig, ...],
    providers: tuple[ProviderConfig, ...],
) -> None:
    """Several authenticators need key info managers that keep their applications apart: SQLite, not OnDisk."""
    if len(authenticators) < 2:
        return
    used = {provider.key_info_manager for provider in providers}
    for manager in key_managers:
        if manager.manager_type == "OnDisk" and manager.name in used:
            types = ", ".join(entry.auth_type for entry in authenticators)
            raise ConfigError(
                f"key_manager[{manager.index}] ({manager.name}).manager_type",
                f"OnDisk cannot keep the keys of several authenticators ({types}) apart: its layout (Parsec's) "
                'names a key by application name and provider only, so an application called "alice" under one '
                'authenticator would own the keys of "alice" under another. Use manager_type = "SQLite", whose '
                "records carry the authenticator, or configure a single [authenticator]",
            )


# ------------------------------------------------------------------------------------------- sections


def _core_settings(table: Mapping[str, Any], warnings: list[str]) -> CoreSettings:
    _warn_unknown(table, {name for name in CoreSettings.__dataclass_fields__}, "core_settings.", warnings)
    values: dict[str, Any] = {}
    for name in ("allow_root", "log_timestamp", "log_error_details", "allow_deprecated"):
        if name in table:
            values[name] = _bool(table[name], f"core_settings.{name}")
    for name in ("thread_pool_size", "body_len_limit", "buffer_size_limit"):
        if name in table:
            values[name] = _int(table[name], f"core_settings.{name}", minimum=1)
    if "idle_listener_sleep_duration" in table:
        key = "core_settings.idle_listener_sleep_duration"
        values["idle_listener_sleep_duration"] = _int(table["idle_listener_sleep_duration"], key, minimum=0)
    if "log_level" in table:
        level = _str(table["log_level"], "core_settings.log_level")
        if level not in LOG_LEVELS:
            choices = ", ".join(f'"{name}"' for name in LOG_LEVELS)
            raise ConfigError("core_settings.log_level", f"must be one of {choices}, got {level!r}")
        values["log_level"] = level
    return CoreSettings(**values)


def _listener(table: Mapping[str, Any], warnings: list[str]) -> ListenerConfig:
    known = {
        "listener_type",
        "timeout",
        "socket_path",
        "socket_group",
        "socket_mode",
        "max_connections",
        "max_connections_per_uid",
    }
    _warn_unknown(table, known, "listener.", warnings)
    if "listener_type" not in table:
        raise ConfigError("listener.listener_type", 'is required; write listener_type = "DomainSocket"')
    listener_type = _str(table["listener_type"], "listener.listener_type")
    if listener_type != "DomainSocket":
        raise ConfigError("listener.listener_type", f'must be "DomainSocket" (the only type), got {listener_type!r}')
    if "timeout" not in table:
        raise ConfigError("listener.timeout", "is required: the per-connection read/write timeout in ms, e.g. 200")
    timeout = _int(table["timeout"], "listener.timeout", minimum=1)
    socket_path = DEFAULT_SOCKET_PATH
    if "socket_path" in table:
        socket_path = _path(table["socket_path"], "listener.socket_path")
        if len(os.fsencode(socket_path)) > SUN_PATH_MAX:
            raise ConfigError(
                "listener.socket_path", f"is {len(os.fsencode(socket_path))} bytes; Unix sockets allow {SUN_PATH_MAX}"
            )
    group, gid = None, None
    if "socket_group" in table:
        group = _str(table["socket_group"], "listener.socket_group")
        gid = _group_id(group, "listener.socket_group")
    mode = GROUP_SOCKET_MODE if gid is not None else PARSEC_SOCKET_MODE
    if "socket_mode" in table:
        mode = _mode(table["socket_mode"], "listener.socket_mode")
    caps = {
        name: _int(table[name], f"listener.{name}", minimum=1)
        for name in ("max_connections", "max_connections_per_uid")
        if name in table
    }
    return ListenerConfig(timeout, socket_path, listener_type, group, gid, mode, **caps)


def _group_id(group: str, key: str) -> int:
    """The gid of a group name (or of a decimal gid) that exists on this system."""
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdecimal() else grp.getgrnam(group).gr_gid
    except (KeyError, OverflowError):
        raise ConfigError(
            key, f"there is no group {group!r} on this system; create it (groupadd {group}) or name an existing group"
        ) from None


def _mode(value: Any, key: str) -> int:
    """Permission bits written as octal digits in a string ("0660"); a TOML number would read 660 as decimal."""
    if not isinstance(value, str) or not _OCTAL_MODE.fullmatch(value):
        raise ConfigError(key, f'must be permission bits as octal digits in a string, like "0660", got {value!r}')
    return int(value, 8)


def _authenticators(value: Any, warnings: list[str]) -> tuple[AuthenticatorConfig, ...]:
    """Parsec's one `[authenticator]` table, or an `[[authenticator]]` array with each auth type at most once."""
    if value is None:
        raise ConfigError(
            "authenticator",
            'is required; e.g. [authenticator] auth_type = "UnixPeerCredentials", or several [[authenticator]] tables',
        )
    if isinstance(value, dict):
        return (_authenticator(value, None, warnings),)
    if not isinstance(value, list):
        raise ConfigError(
            "authenticator",
            f"must be a table ([authenticator]) or an array of tables ([[authenticator]]), got {_kind(value)}",
        )
    if not value:
        raise ConfigError("authenticator", "the [[authenticator]] array is empty; configure at least one")
    entries: list[AuthenticatorConfig] = []
    for index, table in enumerate(value):
        if not isinstance(table, dict):
            raise ConfigError(f"authenticator[{index}]", f"must be a table, got {_kind(table)}")
        entry = _authenticator(table, index, warnings)
        for earlier in entries:
            if earlier.auth_type == entry.auth_type:
                raise ConfigError(
                    entry.key("auth_type"),
                    f"{entry.auth_type} is configured twice (also {earlier.key('auth_type')}): a request picks its "
                    "authenticator by the auth type in its header, so each type can be configured once; put all "
                    "its admins in one table",
                )
        entries.append(entry)
    return tuple(entries)


def _authenticator(table: Mapping[str, Any], index: int | None, warnings: list[str]) -> AuthenticatorConfig:
    where = "authenticator" if index is None else f"authenticator[{index}]"
    if "auth_type" not in table:
        raise ConfigError(f"{where}.auth_type", f"is required; one of {', '.join(AUTH_TYPES)}")
    auth_type = _str(table["auth_type"], f"{where}.auth_type")
    if auth_type not in AUTH_TYPES:
        raise ConfigError(f"{where}.auth_type", f"must be one of {', '.join(AUTH_TYPES)}, got {auth_type!r}")
    entry = AuthenticatorConfig(auth_type, index=index)
    prefix = entry.key("")
    _warn_unknown(table, AUTHENTICATOR_KEYS | AUTHENTICATOR_TYPE_KEYS[auth_type], prefix, warnings)
    admins: list[str] = []
    raw_admins = table.get("admins", [])
    if not isinstance(raw_admins, list):
        example = '[{ name = "admin" }]'
        raise ConfigError(entry.key("admins"), f"must be an array of tables like {example}, got {_kind(raw_admins)}")
    for position, admin in enumerate(raw_admins):
        key = f"{entry.key('admins')}[{position}]"
        if not isinstance(admin, dict) or "name" not in admin:
            raise ConfigError(key, 'must be a table with a name, like { name = "admin" }')
        _warn_unknown(admin, {"name"}, f"{key}.", warnings)
        admins.append(_str(admin["name"], f"{key}.name"))
    values: dict[str, Any] = {}
    if auth_type == "JwtSvid":
        if "workload_endpoint" not in table:
            raise ConfigError(
                entry.key("workload_endpoint"),
                'is required for JwtSvid, e.g. "unix:///run/spire/sockets/agent.sock"',
            )
        values["workload_endpoint"] = _str(table["workload_endpoint"], entry.key("workload_endpoint"))
        if "max_failures" in table:
            values["max_failures"] = _int(table["max_failures"], entry.key("max_failures"), minimum=1)
        if "failure_window" in table:
            values["failure_window"] = _seconds(table["failure_window"], entry.key("failure_window"))
    return AuthenticatorConfig(auth_type, tuple(admins), index=index, **values)


def _key_managers(value: Any, warnings: list[str]) -> tuple[KeyManagerConfig, ...]:
    if not isinstance(value, list):
        raise ConfigError("key_manager", f"must be an array of tables ([[key_manager]]), got {_kind(value)}")
    managers: list[KeyManagerConfig] = []
    for index, table in enumerate(value):
        prefix = f"key_manager[{index}]"
        if not isinstance(table, dict):
            raise ConfigError(prefix, f"must be a table, got {_kind(table)}")
        if "name" not in table:
            raise ConfigError(f"{prefix}.name", "is required: providers refer to the key manager by it")
        name = _str(table["name"], f"{prefix}.name")
        prefix = f"{prefix} ({name})"
        if any(manager.name == name for manager in managers):
            raise ConfigError(f"{prefix}.name", f"duplicate key manager name {name!r}")
        _warn_unknown(table, {"name", "manager_type", "store_path", "sqlite_db_path"}, f"{prefix}.", warnings)
        if "manager_type" not in table:
            raise ConfigError(f"{prefix}.manager_type", f"is required; one of {', '.join(MANAGER_TYPES)}")
        manager_type = _str(table["manager_type"], f"{prefix}.manager_type")
        if manager_type not in MANAGER_TYPES:
            choices = ", ".join(MANAGER_TYPES)
            raise ConfigError(f"{prefix}.manager_type", f"must be one of {choices}, got {manager_type!r}")
        if manager_type == "SQLite":
            if "store_path" in table:
                warnings.append(f"{prefix}.store_path is ignored for SQLite (Parsec reads sqlite_db_path)")
            path = DEFAULT_SQLITE_DB_PATH
            if "sqlite_db_path" in table:
                path = _path(table["sqlite_db_path"], f"{prefix}.sqlite_db_path")
        else:
            if "sqlite_db_path" in table:
                warnings.append(f"{prefix}.sqlite_db_path is ignored for OnDisk (it reads store_path)")
            path = DEFAULT_ON_DISK_STORE_PATH
            if "store_path" in table:
                path = _path(table["store_path"], f"{prefix}.store_path")
        managers.append(KeyManagerConfig(index, name, manager_type, path))
    return tuple(managers)


def _providers(value: Any, key_managers: set[str], warnings: list[str]) -> tuple[ProviderConfig, ...]:
    if value is None or value == []:
        raise ConfigError("provider", "at least one [[provider]] is needed")
    if not isinstance(value, list):
        raise ConfigError("provider", f"must be an array of tables ([[provider]]), got {_kind(value)}")
    providers: list[ProviderConfig] = []
    for index, table in enumerate(value):
        prefix = f"provider[{index}]"
        if not isinstance(table, dict):
            raise ConfigError(prefix, f"must be a table, got {_kind(table)}")
        if "provider_type" not in table:
            raise ConfigError(f"{prefix}.provider_type", 'is required, e.g. provider_type = "MbedCrypto"')
        provider_type = _str(table["provider_type"], f"{prefix}.provider_type")
        try:
            cls = provider_class(provider_type)
        except KeyError as error:
            raise ConfigError(f"{prefix}.provider_type", str(error.args[0])) from None
        except ImportError as error:
            raise ConfigError(f"{prefix}.provider_type", f"{provider_type} cannot be loaded: {error}") from None
        name = cls.IDENTITY.default_name
        if "name" in table:
            name = _str(table["name"], f"{prefix}.name")
        prefix = f"{prefix} ({name})"
        if any(provider.name == name for provider in providers):
            raise ConfigError(f"{prefix}.name", f"duplicate provider name {name!r}: every provider needs its own name")
        if "key_info_manager" not in table:
            raise ConfigError(f"{prefix}.key_info_manager", "is required: the name of a [[key_manager]]")
        manager = _str(table["key_info_manager"], f"{prefix}.key_info_manager")
        if manager not in key_managers:
            known = ", ".join(repr(known) for known in sorted(key_managers)) or "none is defined"
            raise ConfigError(f"{prefix}.key_info_manager", f"no [[key_manager]] named {manager!r} ({known})")
        _warn_unknown(table, PROVIDER_COMMON_KEYS | cls.CONFIG_KEYS, f"{prefix}.", warnings)
        options = {key: option for key, option in table.items() if key in cls.CONFIG_KEYS}
        providers.append(ProviderConfig(index, provider_type, name, manager, MappingProxyType(options)))
    return tuple(providers)


# ---------------------------------------------------------------------------------------------- values


def _table(data: Mapping[str, Any], name: str, *, required: bool) -> Mapping[str, Any]:
    if name not in data:
        if required:
            raise ConfigError(name, f"the [{name}] table is required")
        return {}
    value = data[name]
    if not isinstance(value, dict):
        raise ConfigError(name, f"must be a table ([{name}]), got {_kind(value)}")
    return value


def _warn_unknown(table: Mapping[str, Any], known: set[str] | frozenset[str], prefix: str, warnings: list[str]) -> None:
    for key in table:
        if key not in known:
            warnings.append(f"unknown key {prefix}{key} is ignored")


def _bool(value: Any, key: str) -> bool:
    if type(value) is not bool:
        raise ConfigError(key, f"must be true or false, got {_kind(value)} {value!r}")
    return value


def _int(value: Any, key: str, *, minimum: int) -> int:
    if type(value) is not int or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(key, f"must be {wanted}, got {value!r}")
    return value


def _seconds(value: Any, key: str) -> float:
    if type(value) not in (int, float) or not 0 < value < float("inf"):
        raise ConfigError(key, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, got {_kind(value)} {value!r}")
    return value


def _path(value: Any, key: str) -> Path:
    text = _str(value, key)
    if not text or "\0" in text:
        raise ConfigError(key, f"must be a non-empty file path, got {text!r}")
    return Path(text)


_KINDS: dict[type, str] = {
    dict: "a table",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)
