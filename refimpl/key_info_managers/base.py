"""The Key Info Manager interface: the persistent map from key identity to a provider's key reference.

The seed's asset AS7 ("Key Triple Mappings") and the data store behind attackers A6/A7; Parsec's
`ManageKeyInfo` trait (svc:src/key_info_managers/mod.rs). A mapping holds the provider-specific key id
(a PSA key id for the software provider, a PKCS#11 CKA_ID, a wrapped TPM blob) and the key's attributes.
Implementations: `sqlite` (Parsec's schema) and `on_disk` (Parsec's directory layout), chosen per provider.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from refimpl.identity import ApplicationIdentity, KeyIdentity
from refimpl.psa.types import KeyAttributes


@dataclass(frozen=True)
class KeyMapping:
    """Parsec's `KeyInfo`: the provider's reference to the key, and the key's attributes."""

    key_id: bytes
    attributes: KeyAttributes


class KeyInfoManager(ABC):
    """Thread-safe, persistent mapping store. Every method is atomic with respect to the others."""

    name: str

    @abstractmethod
    def get(self, key: KeyIdentity) -> KeyMapping | None:
        """The mapping for `key`, or None."""

    @abstractmethod
    def insert(self, key: KeyIdentity, mapping: KeyMapping) -> None:
        """Store a mapping durably before returning (the provider's key already exists)."""

    @abstractmethod
    def remove(self, key: KeyIdentity) -> KeyMapping | None:
        """Delete durably and return the old mapping, or None if there was none."""

    @abstractmethod
    def keys(self, provider_name: str) -> Iterable[tuple[KeyIdentity, KeyMapping]]:
        """Every mapping recorded for the given provider (for ListKeys, ListClients and the start-up sweep)."""

    def keys_of(self, application: ApplicationIdentity, provider_name: str) -> list[tuple[KeyIdentity, KeyMapping]]:
        return [(key, mapping) for key, mapping in self.keys(provider_name) if key.application == application]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""
