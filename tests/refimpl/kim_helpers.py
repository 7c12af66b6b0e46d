"""Shared values for the key info manager tests: an application, a key, attributes, and KIM factories."""

from __future__ import annotations

from pathlib import Path

from refimpl.identity import ApplicationIdentity, KeyIdentity
from refimpl.ids import AuthType, ProviderId
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.key_info_managers.on_disk import OnDiskKeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.providers.base import ProviderIdentity
from refimpl.psa.types import EccFamily, EccKeyPair, Ecdsa, Hash, KeyAttributes, KeyPolicy, UsageFlags

ATTRIBUTES = KeyAttributes(
    EccKeyPair(EccFamily.SECP_R1),
    256,
    KeyPolicy(UsageFlags(sign_hash=True, verify_hash=True), Ecdsa(Hash.SHA_256)),
)
PROVIDERS = {
    "mbed-crypto-provider": ProviderIdentity(
        ProviderId.MBED_CRYPTO, "1c1139dc-ad7c-47dc-ad6b-db6fdb466552", "", "", "mbed-crypto-provider"
    ),
    "pkcs11-provider": ProviderIdentity(
        ProviderId.PKCS11, "30e39502-eba6-4d60-a4af-c518b7f5e38f", "", "", "pkcs11-provider"
    ),
}
TENANT_A = ApplicationIdentity.of("tenant-a", AuthType.DIRECT)
TENANT_B = ApplicationIdentity.of("tenant-b", AuthType.DIRECT)


def key(application: ApplicationIdentity, name: str, provider: str = "mbed-crypto-provider") -> KeyIdentity:
    return KeyIdentity(application, name, provider, PROVIDERS[provider].uuid)


def mapping(key_id: bytes = b"\x01\x00\x00\x00") -> KeyMapping:
    return KeyMapping(key_id, ATTRIBUTES)


def open_kim(kind: str, store: Path) -> KeyInfoManager:
    if kind == "SQLite":
        return SQLiteKeyInfoManager("kim", store / "kim.sqlite3")
    return OnDiskKeyInfoManager("kim", store / "mappings", PROVIDERS, int(AuthType.DIRECT))
