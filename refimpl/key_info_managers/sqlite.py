"""The SQLite key info manager: Parsec's schema and checks, every row cached in memory.

Parsec's `SQLiteKeyInfoManager` (svc:src/key_info_managers/sqlite_manager/mod.rs; parsec-facts §4.7), so a
database written by Parsec is read here and the other way round: the same two tables, `REPLACE INTO` writes,
deletes by (authenticator_id, application_name, key_name), key ids stored as Parsec's `KeyInfo.id` bytes and
attributes as bincode (`refimpl.psa.bincode`). Start-up fails when the table count is not 0 or 2, the schema
version is not 1, or a row has another key id / attributes version. The directory is created 0700 and the file
made 0600 (M-6, O-3: only the service may read the mappings). Reads come from the in-memory copy; each write is
its own committed transaction before the call returns, so a crash loses nothing acknowledged.

Two deliberate differences: a key name already mapped by *another* provider sharing this database is reported
absent to the second provider; and a write never replaces an existing row (the name check and the write happen in
one `BEGIN IMMEDIATE` transaction, so two creators racing for a name — threads, or processes sharing the file —
get one Success and one PsaErrorAlreadyExists), where Parsec's `REPLACE INTO` would silently replace the first
mapping and orphan its key. With `shared=True`, several service processes keep their copies coherent through
SQLite's `PRAGMA data_version`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from refimpl.errors import ParsecError
from refimpl.identity import ApplicationIdentity, KeyIdentity
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.logs import Event, log_event, quoted
from refimpl.psa.bincode import BincodeError, decode_attributes, encode_attributes

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
KEY_ID_VERSION = 1
KEY_ATTRIBUTES_VERSION = 1

_CREATE_METADATA = "CREATE TABLE kim_metadata (id TEXT NOT NULL, int_value INTEGER NOT NULL, PRIMARY KEY (id))"
_CREATE_MAPPING = """CREATE TABLE IF NOT EXISTS key_mapping (
    authenticator_id INTEGER NOT NULL,
    application_name TEXT NOT NULL,
    key_name TEXT NOT NULL,
    provider_uuid TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    key_id BLOB NOT NULL,
    key_id_version INTEGER NOT NULL,
    key_attributes BLOB NOT NULL,
    key_attributes_version INTEGER NOT NULL,
    PRIMARY KEY (authenticator_id, application_name, key_name)
)"""

_Row = tuple[KeyIdentity, KeyMapping]


class SQLiteKeyInfoManager(KeyInfoManager):
    """Mappings in one SQLite file, shared by the providers whose config names this manager.

    With `shared=True` several service processes use the file at once: before each read the manager asks SQLite
    whether another connection committed since (`PRAGMA data_version`) and reloads its copy if so.
    """

    def __init__(self, name: str, db_path: Path, *, shared: bool = False) -> None:
        self.name = name
        self.db_path = db_path
        self.shared = shared
        self._lock = threading.Lock()
        if not db_path.parent.is_dir():
            db_path.parent.mkdir(mode=0o700, parents=True)
        os.close(os.open(db_path, os.O_CREAT | os.O_RDWR, 0o600))  # never readable by others, not even briefly
        self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            os.chmod(db_path, 0o600)
            self._check_schema()
            self._rows: dict[tuple[int, str, str], _Row] = dict(self._load(announce=True))
            self._data_version = self._version()
        except BaseException:
            self._db.close()
            raise
        log.info("SQLiteKeyInfoManager - Found %d key info mapping records", len(self._rows))

    # -- start-up ---------------------------------------------------------------------------------------------

    def _check_schema(self) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            with self._transaction():
                self._db.execute(_CREATE_METADATA)
                self._db.execute(
                    "INSERT INTO kim_metadata (id, int_value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
                self._db.execute(_CREATE_MAPPING)
            return
        if tables != {"kim_metadata", "key_mapping"}:
            raise ValueError(
                f"{self.db_path} has tables {sorted(tables)}; a key info database has exactly "
                "kim_metadata and key_mapping"
            )
        version = self._db.execute("SELECT int_value FROM kim_metadata WHERE id = 'schema_version'").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            found = "no schema_version" if version is None else f"schema_version {version[0]}"
            raise ValueError(f"{self.db_path} has {found}; this service reads schema_version {SCHEMA_VERSION}")

    def _load(self, *, announce: bool) -> Iterable[tuple[tuple[int, str, str], _Row]]:
        """Every row, checked; `announce` logs each as an M-4 "mapping is read" event (at start-up)."""
        query = (
            "SELECT authenticator_id, application_name, key_name, provider_uuid, provider_name, "
            "key_id, key_id_version, key_attributes, key_attributes_version FROM key_mapping"
        )
        for (
            auth_id,
            app_name,
            key_name,
            uuid,
            provider,
            key_id,
            id_version,
            attributes,
            attr_version,
        ) in self._db.execute(query):
            where = f"row ({auth_id}, {quoted(app_name)}, {quoted(key_name)})"
            if id_version != KEY_ID_VERSION or attr_version != KEY_ATTRIBUTES_VERSION:
                raise ValueError(
                    f"{self.db_path}: {where} has key_id_version {id_version} and key_attributes_version "
                    f"{attr_version}; this service reads version {KEY_ID_VERSION} of both"
                )
            try:
                decoded = decode_attributes(bytes(attributes))
            except BincodeError as error:
                raise ValueError(f"{self.db_path}: {where} has unreadable key attributes: {error}") from None
            application = ApplicationIdentity(app_name, auth_id)
            key = KeyIdentity(application, key_name, provider, uuid)
            if announce:
                log_event(log, Event.MAPPING_READ, application, key=key_name, provider=provider, store=self.name)
            yield (auth_id, app_name, key_name), (key, KeyMapping(bytes(key_id), decoded))

    def _transaction(self) -> sqlite3.Connection:
        """BEGIN IMMEDIATE … COMMIT (or ROLLBACK) around a `with` block: the write lock, across processes too."""
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _fresh_rows(self) -> dict[tuple[int, str, str], _Row]:
        """The cached rows; in shared mode, reloaded first if another process committed. Call with the lock held."""
        if self.shared:
            version = self._version()
            if version != self._data_version:
                self._rows = dict(self._load(announce=False))
                self._data_version = version
                log.debug("%s: reloaded %d mappings changed by another process", self.name, len(self._rows))
        return self._rows

    def _stored_provider(self, primary: tuple[int, str, str]) -> str | None:
        """Inside a transaction: the provider of the row with this primary key, as committed."""
        row = self._db.execute(
            "SELECT provider_name FROM key_mapping WHERE authenticator_id = ? AND application_name = ? "
            "AND key_name = ?",
            primary,
        ).fetchone()
        return None if row is None else str(row[0])

    # -- the KeyInfoManager interface ----------------------------------------------------------------------

    def get(self, key: KeyIdentity) -> KeyMapping | None:
        if self.shared:
            with self._lock:
                row = self._fresh_rows().get(_primary_key(key))
        else:
            row = self._rows.get(_primary_key(key))
        if row is None or row[0].provider_name != key.provider_name:
            return None
        return row[1]

    def insert(self, key: KeyIdentity, mapping: KeyMapping) -> None:
        """Store a new mapping; a name already mapped (by any provider or process) is PsaErrorAlreadyExists."""
        primary = _primary_key(key)
        attributes = encode_attributes(mapping.attributes)
        with self._lock:
            try:
                with self._transaction():
                    owner = self._stored_provider(primary)
                    if owner is not None:
                        raise ParsecError(
                            Status.PSA_ERROR_ALREADY_EXISTS,
                            f"key {quoted(key.key_name)} is already mapped (by provider {quoted(owner)})",
                        )
                    self._db.execute(
                        "REPLACE INTO key_mapping (authenticator_id, application_name, key_name, provider_uuid, "
                        "provider_name, key_id, key_id_version, key_attributes, key_attributes_version) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            *primary,
                            key.provider_uuid,
                            key.provider_name,
                            mapping.key_id,
                            KEY_ID_VERSION,
                            attributes,
                            KEY_ATTRIBUTES_VERSION,
                        ),
                    )
            except sqlite3.Error as error:
                raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"{self.name}: storing failed: {error}") from None
            self._fresh_rows()[primary] = (key, mapping)
        log_event(
            log, Event.MAPPING_CREATED, key.application, key=key.key_name, provider=key.provider_name, store=self.name
        )

    def remove(self, key: KeyIdentity) -> KeyMapping | None:
        primary = _primary_key(key)
        with self._lock:
            existing = self._fresh_rows().get(primary)
            try:
                with self._transaction():
                    if self._stored_provider(primary) != key.provider_name:
                        return None
                    self._db.execute(
                        "DELETE FROM key_mapping WHERE authenticator_id = ? AND application_name = ? AND key_name = ?",
                        primary,
                    )
            except sqlite3.Error as error:
                raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"{self.name}: deleting failed: {error}") from None
            self._rows.pop(primary, None)
        log.info(
            "mapping deleted: app=%s key=%s provider=%s",
            quoted(key.application.name),
            quoted(key.key_name),
            quoted(key.provider_name),
        )
        return None if existing is None else existing[1]

    def keys(self, provider_name: str) -> list[tuple[KeyIdentity, KeyMapping]]:
        with self._lock:
            return [row for row in self._fresh_rows().values() if row[0].provider_name == provider_name]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _primary_key(key: KeyIdentity) -> tuple[int, str, str]:
    return key.application.authenticator_id, key.application.name, key.key_name
