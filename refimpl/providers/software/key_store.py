"""The software provider's persistent key store: one file per PSA key id, readable by the service user only.

The counterpart of Mbed Crypto's persistent key storage, which keeps each key's attributes and material in a file
of the service's working directory (parsec-facts §4.5; svc:src/providers/mbed_crypto/key_management.rs). The store
is what the seed's attackers A6/A7 target besides the mappings, so it follows the same rules as Parsec's KIM files
(M-6, O-3): the directory is 0700, every file 0600, and both are checked to be owned by the service user.

* A key file holds a magic number, a format version, the key's attributes (in Parsec's bincode layout, see
  `refimpl.psa.bincode`) and its material in PSA export format. Provider policy is enforced from this copy, not
  from the key info manager's, so editing a mapping cannot widen what a key may do.
* Writes are atomic: a temporary file, fsync, rename, fsync of the directory. A crash leaves the old state or the
  new one, never a torn key — and perhaps the temporary file, which holds key material no mapping will ever name:
  opening the store removes every temporary file whose writer (process, and thread for this process's own) is
  gone, so crashes leave no key material behind (the seed's AS3 at rest, beside the start-up sweep's orphans).
* Key ids come from a persistent counter (PSA_KEY_ID_USER_MIN = 1 … PSA_KEY_ID_USER_MAX = 0x3FFFFFFF) and are
  never reused, even after a destroy or a lost counter file (the counter restarts above the largest stored id).
  The counter is guarded by a thread lock and an `fcntl` lock, so threads and forked workers can share one store.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.psa.bincode import BincodeError, decode_attributes, encode_attributes
from refimpl.psa.types import KeyAttributes

KEY_ID_MIN = 1
KEY_ID_MAX = 0x3FFFFFFF
MAGIC = b"PTMK"
FORMAT_VERSION = 1
COUNTER_FILE = "key-id-counter"
TEMPORARY_SUFFIX = ".tmp"
OWNER_FILE = "owner"
_HEADER = struct.Struct("<4sBI")  # magic, version, length of the attributes


class KeyStoreError(Exception):
    """The store's directory is unusable; the message says which path and what to change."""


@dataclass(frozen=True)
class StoredKey:
    """What one key file holds. `material` is secret: it is excluded from the repr."""

    attributes: KeyAttributes
    material: bytes = field(repr=False)

    def encode(self) -> bytes:
        attributes = encode_attributes(self.attributes)
        return _HEADER.pack(MAGIC, FORMAT_VERSION, len(attributes)) + attributes + self.material

    @classmethod
    def decode(cls, data: bytes) -> StoredKey:
        """Raises ValueError (with no key material in the message) when the file is not a valid key file."""
        if len(data) < _HEADER.size:
            raise ValueError("file shorter than the key file header")
        magic, version, length = _HEADER.unpack_from(data)
        if magic != MAGIC or version != FORMAT_VERSION:
            raise ValueError(f"not a version-{FORMAT_VERSION} key file")
        end = _HEADER.size + length
        try:
            attributes = decode_attributes(data[_HEADER.size : end])
        except BincodeError as error:
            raise ValueError(f"bad key attributes: {error}") from None
        return cls(attributes, data[end:])


def _process_exists(pid: int) -> bool:
    """Whether `pid` is a process that can still write: a zombie (killed, not yet reaped by its new parent, as a
    worker of a killed service is until init reaps it) or a dying process writes nothing more."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no procfs here: ask the kernel whether the process exists
        pass
    else:
        return state not in ("Z", "X", "x")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def _check_private(path: Path, expected_mode: int) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise KeyStoreError(f"{path} is owned by uid {info.st_uid}, not by the service user (uid {os.geteuid()})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyStoreError(
            f"{path} has mode {mode:04o}, readable by others; run `chmod {expected_mode:o} {path}` (M-6, O-3)"
        )


class KeyStore:
    """Key files under one private directory. Every method is safe to call from several threads at once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True)
                directory.chmod(0o700)  # whatever the umask
        except OSError as error:
            raise KeyStoreError(f"cannot create the key store directory {directory}: {error.strerror}") from None
        if not directory.is_dir():
            raise KeyStoreError(f"{directory} exists and is not a directory")
        _check_private(directory, 0o700)
        self._counter_lock = threading.Lock()
        self.remove_stale_temporaries()
        try:
            self._reconcile_counter()
        except ParsecError:
            counter = directory / COUNTER_FILE
            raise KeyStoreError(
                f"{counter} does not hold a key id; delete it and the ids restart above the largest stored key"
            ) from None

    # -- naming ------------------------------------------------------------------------------------------

    def _path(self, key_id: int) -> Path:
        return self.directory / f"{key_id:08x}.key"

    @staticmethod
    def _key_id_of(name: str) -> int | None:
        stem, dot, suffix = name.partition(".")
        if dot and suffix == "key" and len(stem) == 8:
            try:
                key_id = int(stem, 16)
            except ValueError:
                return None
            return key_id if KEY_ID_MIN <= key_id <= KEY_ID_MAX else None
        return None

    # -- files ---------------------------------------------------------------------------------------------

    @staticmethod
    def _temporary(path: Path) -> Path:
        """Where `path` is written before its rename: named after the writing process and thread."""
        return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{TEMPORARY_SUFFIX}")

    def stale_temporaries(self) -> list[Path]:
        """Temporary files left by writers that are gone: a process no longer running, or a thread of this process
        no longer running (a restarted service may get its predecessor's process id, PID 1 in a container)."""
        own_threads = {thread.ident for thread in threading.enumerate()}
        stale = []
        for entry in os.scandir(self.directory):
            name = entry.name
            if not (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)) or not entry.is_file():
                continue
            writer = name[1 : -len(TEMPORARY_SUFFIX)].rsplit(".", 2)
            if len(writer) != 3 or not (writer[1].isdigit() and writer[2].isdigit()):
                continue
            pid, thread = int(writer[1]), int(writer[2])
            alive = thread in own_threads if pid == os.getpid() else _process_exists(pid)
            if not alive:
                stale.append(Path(entry.path))
        return stale

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary files of writers that died before their rename; returns how many."""
        stale = self.stale_temporaries()
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            self._sync_directory()
        return len(stale)

    def _write_atomically(self, path: Path, data: bytes) -> None:
        temporary = self._temporary(path)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        except BaseException:
            os.close(descriptor)
            temporary.unlink(missing_ok=True)
            raise
        os.close(descriptor)
        os.replace(temporary, path)
        self._sync_directory()

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def write(self, key_id: int, key: StoredKey) -> None:
        """Store a key durably (insufficient disk space becomes PsaErrorInsufficientStorage)."""
        try:
            self._write_atomically(self._path(key_id), key.encode())
        except OSError as error:
            full = error.errno == errno.ENOSPC
            status = Status.PSA_ERROR_INSUFFICIENT_STORAGE if full else Status.PSA_ERROR_STORAGE_FAILURE
            raise ParsecError(status, f"writing key {key_id} to {self.directory}: {error.strerror}") from None

    def read(self, key_id: int) -> StoredKey:
        """The stored key; DoesNotExist if it is gone, DataCorrupt if the file is not a key file."""
        try:
            data = self._path(key_id).read_bytes()
        except FileNotFoundError:
            raise ParsecError(Status.PSA_ERROR_DOES_NOT_EXIST, f"key {key_id} is not in the key store") from None
        except OSError as error:
            raise ParsecError(Status.PSA_ERROR_STORAGE_FAILURE, f"reading key {key_id}: {error.strerror}") from None
        try:
            return StoredKey.decode(data)
        except ValueError as error:
            raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, f"key file of key {key_id}: {error}") from None

    def exists(self, key_id: int) -> bool:
        return self._path(key_id).is_file()

    def delete(self, key_id: int) -> None:
        """Remove a key file; a key that is already gone is not an error."""
        try:
            self._path(key_id).unlink()
        except FileNotFoundError:
            return
        self._sync_directory()

    def key_ids(self) -> list[int]:
        """Every stored key id, sorted."""
        ids = (self._key_id_of(entry.name) for entry in os.scandir(self.directory) if entry.is_file())
        return sorted(key_id for key_id in ids if key_id is not None)

    # -- ownership -------------------------------------------------------------------------------------------

    def claim(self, provider_name: str) -> None:
        """Record which provider owns the store, and refuse a store that another provider already owns.

        Two providers sharing one store would destroy each other's keys in the start-up sweep.
        """
        path = self.directory / OWNER_FILE
        try:
            owner = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._write_atomically(path, provider_name.encode("utf-8"))
            return
        if owner != provider_name:
            raise KeyStoreError(
                f"{self.directory} holds the keys of provider {owner!r}; give provider {provider_name!r} its own "
                f"key_store_path (or keep the name {owner!r}: renaming a provider orphans its keys)"
            )

    # -- key ids ---------------------------------------------------------------------------------------------

    @contextmanager
    def _counter_locked(self) -> Iterator[Path]:
        path = self.directory / COUNTER_FILE
        with self._counter_lock:
            descriptor = os.open(self.directory / f"{COUNTER_FILE}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield path
            finally:
                os.close(descriptor)  # releases the flock

    def _read_counter(self, path: Path) -> int:
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return KEY_ID_MIN - 1
        if not text.isdigit():
            raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, f"{path} does not hold a key id")
        return int(text)

    def _reconcile_counter(self) -> None:
        """Put the counter at or above the largest stored id, so a lost or stale counter never reuses an id."""
        with self._counter_locked() as path:
            last, stored = self._read_counter(path), self.key_ids()
            if stored and stored[-1] > last:
                self._write_atomically(path, str(stored[-1]).encode("ascii"))

    def allocate_key_id(self) -> int:
        """A fresh PSA key id, never handed out before; InsufficientMemory once the id space is used up."""
        with self._counter_locked() as path:
            last = self._read_counter(path)
            if last >= KEY_ID_MAX:
                raise ParsecError(Status.PSA_ERROR_INSUFFICIENT_MEMORY, f"PSA key id limit {KEY_ID_MAX:#x} reached")
            key_id = last + 1
            self._write_atomically(path, str(key_id).encode("ascii"))
            return key_id
