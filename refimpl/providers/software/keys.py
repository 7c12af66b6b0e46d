"""The software provider's key access: from a tenant's key name to a ready-to-use key object, with a cache.

The shared base of the operation-family mixins of the MbedCrypto provider (svc:src/providers/mbed_crypto/mod.rs
holds the same state: the key info manager client, the key store, the id counter). A lookup goes
key name → the caller's own mapping (tenant isolation: another tenant's key of the same name is not found) →
PSA key id → key file → parsed key object. Parsing DER or deriving a public key on every signature would cost more
than the signature itself, so parsed keys are kept in a bounded LRU cache; ids are never reused, so a cached
entry can only go stale by a destroy, which evicts it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import KeyStoreProvider, ProviderSettings
from refimpl.providers.software.key_store import KeyStore, StoredKey
from refimpl.psa.bincode import BincodeError, decode_key_id_u32, encode_key_id_u32
from refimpl.psa.formats import PrivateKey, PublicKey, load_private_key, load_public_key
from refimpl.psa.types import ASYMMETRIC_KEY_PAIRS, PUBLIC_KEYS, KeyAttributes

CACHE_CAPACITY = 1024


@dataclass(frozen=True)
class LoadedKey:
    """A key ready for use: its own attributes (the policy in force) and, for asymmetric keys, key objects."""

    key_id: int
    attributes: KeyAttributes
    material: bytes = field(repr=False)
    """The key in PSA export format (for a key pair: the private key)."""
    private_key: PrivateKey | None = field(default=None, repr=False)
    public_key: PublicKey | None = None

    def require_private_key(self) -> PrivateKey:
        """The private key; InvalidArgument for a public or symmetric key (PSA's answer)."""
        if self.private_key is None:
            raise ParsecError(
                Status.PSA_ERROR_INVALID_ARGUMENT, f"a {type(self.attributes.key_type).__name__} has no private key"
            )
        return self.private_key

    def require_public_key(self) -> PublicKey:
        """The public key; InvalidArgument for a symmetric key."""
        if self.public_key is None:
            raise ParsecError(
                Status.PSA_ERROR_INVALID_ARGUMENT, f"a {type(self.attributes.key_type).__name__} has no public key"
            )
        return self.public_key


def materialise(key_id: int, stored: StoredKey) -> LoadedKey:
    """Parse stored material; material that no longer parses is DataCorrupt (it was validated when stored)."""
    attributes = stored.attributes
    try:
        if isinstance(attributes.key_type, ASYMMETRIC_KEY_PAIRS):
            private = load_private_key(attributes.key_type, attributes.bits, stored.material)
            return LoadedKey(key_id, attributes, stored.material, private, private.public_key())
        if isinstance(attributes.key_type, PUBLIC_KEYS):
            public = load_public_key(attributes.key_type, attributes.bits, stored.material)
            return LoadedKey(key_id, attributes, stored.material, None, public)
    except ParsecError as error:
        raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, f"stored key {key_id}: {error.detail}") from None
    return LoadedKey(key_id, attributes, stored.material)


class _LoadedKeyCache:
    """A thread-safe LRU map from key id to `LoadedKey`."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[int, LoadedKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_id: int) -> LoadedKey | None:
        with self._lock:
            key = self._entries.get(key_id)
            if key is not None:
                self._entries.move_to_end(key_id)
            return key

    def put(self, key: LoadedKey) -> None:
        with self._lock:
            self._entries[key.key_id] = key
            self._entries.move_to_end(key.key_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def discard(self, key_id: int) -> None:
        with self._lock:
            self._entries.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def decode_key_id(key_id: bytes) -> int | None:
    """The PSA key id of a mapping (bincode u32), or None when the mapping's id is malformed."""
    try:
        return decode_key_id_u32(key_id)
    except BincodeError:
        return None


class SoftwareKeys(KeyStoreProvider):
    """State and key lookup shared by the software provider's operation families."""

    def __init__(
        self,
        name: str,
        key_info_manager: KeyInfoManager,
        key_store: KeyStore,
        settings: ProviderSettings,
    ) -> None:
        super().__init__(name, key_info_manager)
        self.key_store = key_store
        self.settings = settings
        self._cache = _LoadedKeyCache(CACHE_CAPACITY)

    # -- lookups -------------------------------------------------------------------------------------------

    def loaded_key(self, application: Application | None, key_name: str) -> LoadedKey:
        """The caller's key `key_name`: DoesNotExist if the caller has no such key (whoever else has one)."""
        mapping = self.mapping_of(application, key_name)
        key_id = decode_key_id(mapping.key_id)
        if key_id is None:
            raise ParsecError(Status.KEY_INFO_MANAGER_ERROR, f"the mapping of {key_name!r} holds no PSA key id")
        return self.load(key_id)

    def load(self, key_id: int) -> LoadedKey:
        key = self._cache.get(key_id)
        if key is None:
            key = materialise(key_id, self.key_store.read(key_id))
            self._cache.put(key)
        return key

    def check_name_free(self, application: Application | None, key_name: str) -> None:
        """Fail fast with AlreadyExists before spending time generating a key that could not be stored."""
        if self.key_info_manager.get(self.key_identity(application, key_name)) is not None:
            raise ParsecError(Status.PSA_ERROR_ALREADY_EXISTS, f"key {key_name!r} already exists")

    # -- the shared life cycle -------------------------------------------------------------------------------

    def store_new_key(
        self, application: Application | None, key_name: str, mapped: KeyAttributes, key: LoadedKey
    ) -> None:
        """Write `key` under a fresh id and map `key_name` to it (the mapping records `mapped`, as Parsec does)."""

        def create() -> bytes:
            key_id = self.key_store.allocate_key_id()
            self.key_store.write(key_id, StoredKey(key.attributes, key.material))
            self._cache.put(LoadedKey(key_id, key.attributes, key.material, key.private_key, key.public_key))
            return encode_key_id_u32(key_id)

        self.create_key(application, key_name, mapped, create)

    def key_exists(self, key_id: bytes) -> bool:
        psa_key_id = decode_key_id(key_id)
        return psa_key_id is not None and self.key_store.exists(psa_key_id)

    def destroy_key_material(self, key_id: bytes) -> None:
        psa_key_id = decode_key_id(key_id)
        if psa_key_id is None:
            return
        self._cache.discard(psa_key_id)
        self.key_store.delete(psa_key_id)

    def stored_key_ids(self) -> list[bytes]:
        return [encode_key_id_u32(key_id) for key_id in self.key_store.key_ids()]

    def close(self) -> None:
        self._cache.clear()
