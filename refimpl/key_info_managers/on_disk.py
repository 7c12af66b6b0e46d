"""The OnDisk key info manager: one file per mapping, in Parsec's directory layout.

Parsec's `OnDiskKeyInfoManager` (svc:src/key_info_managers/on_disk_manager/mod.rs; parsec-facts §4.7), so a
mappings directory written by Parsec is read here and the other way round:
`<root>/<base64url(application name)>/<provider id>/<base64url(key name)>`, base64 with the URL-safe alphabet and
padding, each file holding bincode `KeyInfo {id, attributes}` (`refimpl.psa.bincode.encode_key_info`).
Directories are 0700 and files 0600 (M-6, O-3). As in Parsec, mappings are namespaced by provider ID and
application name only, not by authenticator: the identities read back carry the configured authenticator, which
is why Parsec's docs forbid changing the authenticator while keys exist.

A write never replaces an existing mapping (a second creator of one name gets PsaErrorAlreadyExists, so the first
key is not orphaned). Writes are atomic: a temporary file (`.tmp-*`, a name base64 never produces) is written,
fsynced and renamed over the target, then the directory is fsynced; a crash leaves either the old mapping or the
new one, and leftover temporary files are removed at start.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from refimpl.errors import ParsecError
from refimpl.identity import ApplicationIdentity, KeyIdentity
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.logs import Event, log_event, quoted
from refimpl.providers.base import ProviderIdentity
from refimpl.psa.bincode import BincodeError, decode_key_info, encode_key_info

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"

_Slot = tuple[str, int, str]
"""(application name, provider id, key name): what a mapping file's path encodes."""


class OnDiskKeyInfoManager(KeyInfoManager):
    """Mappings as files under `root`, shared by the providers whose config names this manager.

    `providers` maps each such provider's config name to its identity (for the provider-ID directory);
    `authenticator_id` is the configured authenticator, given to identities read from disk.
    """

    def __init__(self, name: str, root: Path, providers: Mapping[str, ProviderIdentity], authenticator_id: int) -> None:
        self.name = name
        self.root = root
        self._providers = dict(providers)
        self._authenticator_id = authenticator_id
        self._lock = threading.Lock()
        _make_private_dir(root)
        self._mappings: dict[_Slot, KeyMapping] = self._load()
        log.info("Found %d mapping files", len(self._mappings))

    def _load(self) -> dict[_Slot, KeyMapping]:
        mappings: dict[_Slot, KeyMapping] = {}
        names = {int(identity.provider_id): name for name, identity in self._providers.items()}
        for app_dir in sorted(self.root.iterdir()):
            app_name = _decode_name(app_dir.name) if app_dir.is_dir() else None
            if app_name is None:
                log.warning("ignoring %s: not an application directory of this layout", app_dir)
                continue
            for provider_dir in sorted(app_dir.iterdir()):
                if not (provider_dir.is_dir() and provider_dir.name.isdigit()):
                    log.warning("ignoring %s: not a provider-ID directory", provider_dir)
                    continue
                provider_id = int(provider_dir.name)
                for path in sorted(provider_dir.iterdir()):
                    mapping = self._read(path)
                    key_name = _decode_name(path.name)
                    if mapping is None or key_name is None:
                        continue
                    mappings[(app_name, provider_id, key_name)] = mapping
                    application = ApplicationIdentity(app_name, self._authenticator_id)
                    provider = names.get(provider_id, f"id {provider_id}")
                    log_event(log, Event.MAPPING_READ, application, key=key_name, provider=provider, store=self.name)
        return mappings

    def _read(self, path: Path) -> KeyMapping | None:
        if path.name.startswith(TEMP_PREFIX):
            log.warning("removing %s, a write interrupted before it was committed", path)
            path.unlink()
            return None
        try:
            key_id, attributes = decode_key_info(path.read_bytes())
        except (OSError, BincodeError) as error:
            log.error("ignoring the mapping file %s: %s", path, error)
            return None
        return KeyMapping(key_id, attributes)

    # -- the KeyInfoManager interface ----------------------------------------------------------------------

    def _slot(self, key: KeyIdentity) -> _Slot | None:
        identity = self._providers.get(key.provider_name)
        if identity is None:
            return None
        return key.application.name, int(identity.provider_id), key.key_name

    def get(self, key: KeyIdentity) -> KeyMapping | None:
        slot = self._slot(key)
        return None if slot is None else self._mappings.get(slot)

    def insert(self, key: KeyIdentity, mapping: KeyMapping) -> None:
        slot = self._slot(key)
        if slot is None:
            raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"{self.name} does not serve {quoted(key.provider_name)}")
        app_dir = self.root / _encode_name(slot[0])
        provider_dir = app_dir / str(slot[1])
        content = encode_key_info(mapping.key_id, mapping.attributes)
        with self._lock:
            if slot in self._mappings:  # a concurrent creator won the name: never replace its mapping
                raise ParsecError(Status.PSA_ERROR_ALREADY_EXISTS, f"key {quoted(key.key_name)} is already mapped")
            try:
                _make_private_dir(app_dir)
                _make_private_dir(provider_dir)
                _write_atomically(provider_dir / _encode_name(slot[2]), content)
            except OSError as error:
                raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"{self.name}: storing failed: {error}") from None
            self._mappings[slot] = mapping
        log_event(
            log, Event.MAPPING_CREATED, key.application, key=key.key_name, provider=key.provider_name, store=self.name
        )

    def remove(self, key: KeyIdentity) -> KeyMapping | None:
        slot = self._slot(key)
        if slot is None:
            return None
        provider_dir = self.root / _encode_name(slot[0]) / str(slot[1])
        with self._lock:
            mapping = self._mappings.get(slot)
            if mapping is None:
                return None
            try:
                (provider_dir / _encode_name(slot[2])).unlink()
                _fsync_dir(provider_dir)
            except OSError as error:
                raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"{self.name}: deleting failed: {error}") from None
            del self._mappings[slot]
        log.info(
            "mapping deleted: app=%s key=%s provider=%s",
            quoted(key.application.name),
            quoted(key.key_name),
            quoted(key.provider_name),
        )
        return mapping

    def keys(self, provider_name: str) -> list[tuple[KeyIdentity, KeyMapping]]:
        identity = self._providers.get(provider_name)
        if identity is None:
            return []
        with self._lock:
            entries = list(self._mappings.items())
        return [
            (
                KeyIdentity(ApplicationIdentity(app, self._authenticator_id), key_name, provider_name, identity.uuid),
                mapping,
            )
            for (app, provider_id, key_name), mapping in entries
            if provider_id == identity.provider_id
        ]


def _encode_name(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def _decode_name(text: str) -> str | None:
    try:
        return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError):
        return None


def _make_private_dir(path: Path) -> None:
    """Create `path` 0700 if missing (and make the creation durable)."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True)
    os.chmod(path, 0o700)
    _fsync_dir(path.parent)


def _write_atomically(path: Path, content: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)  # created 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
