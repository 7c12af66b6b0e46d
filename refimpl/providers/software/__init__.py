"""The software provider, registered as Parsec's Mbed Crypto provider (ID 1, `provider_type = "MbedCrypto"`).

Parsec's svc:src/providers/mbed_crypto/ rebuilt on `cryptography`: the same 16 opcodes (parsec-facts §4.5), the
same PSA policy checks and statuses (`refimpl.psa.policy`), the same key formats (`refimpl.psa.formats`), and key
material that survives restarts in a store only the service can read (`key_store.py`). One module per operation
family, mixed into `SoftwareProvider`:

=======================  ==================================================================================
key_management.py        GenerateKey, ImportKey, ExportKey, ExportPublicKey, DestroyKey
asym_sign.py             SignHash, VerifyHash
asym_encryption.py       AsymmetricEncrypt, AsymmetricDecrypt
aead.py                  AeadEncrypt, AeadDecrypt
hash.py                  HashCompute, HashCompare
key_agreement.py         RawKeyAgreement
generate_random.py       GenerateRandom
capability_discovery.py  CanDoCrypto
=======================  ==================================================================================

Configuration (`[[provider]]` table, parsec-facts §5.5). Parsec's MbedCrypto provider has no options; this one
accepts one extension:

```toml
[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
key_store_path = "/var/lib/parsec/mbed-crypto-keys"   # optional
```

`key_store_path` is the directory holding the key files. Like Mbed Crypto, which writes its key files into the
service's working directory, the default is under the working directory: `<working directory>/mbed-crypto-keys`.
A relative path is taken relative to the working directory. The directory is created with mode 0700 and must be
owned by the service user and closed to group and others; one store belongs to one provider name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from refimpl.errors import ConfigError
from refimpl.ids import ProviderId
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import ProviderIdentity, ProviderSettings, register_provider
from refimpl.providers.software.aead import AeadOps
from refimpl.providers.software.asym_encryption import AsymEncryptionOps
from refimpl.providers.software.asym_sign import AsymSignOps
from refimpl.providers.software.capability_discovery import CapabilityDiscoveryOps
from refimpl.providers.software.generate_random import RandomOps
from refimpl.providers.software.hash import HashOps
from refimpl.providers.software.key_agreement import KeyAgreementOps
from refimpl.providers.software.key_management import KeyManagementOps
from refimpl.providers.software.key_store import KeyStore, KeyStoreError

DEFAULT_KEY_STORE = "mbed-crypto-keys"
"""The key store directory's name under the working directory when `key_store_path` is not set."""


@register_provider("MbedCrypto")
class SoftwareProvider(
    KeyManagementOps,
    AsymSignOps,
    AsymEncryptionOps,
    AeadOps,
    KeyAgreementOps,
    RandomOps,
    CapabilityDiscoveryOps,
    HashOps,
):
    """Parsec's Mbed Crypto provider on `cryptography`, with a persistent file key store."""

    IDENTITY: ClassVar[ProviderIdentity] = ProviderIdentity(
        provider_id=ProviderId.MBED_CRYPTO,
        uuid="1c1139dc-ad7c-47dc-ad6b-db6fdb466552",
        description=(
            "User space software provider, based on Mbed Crypto - the reference implementation of the PSA crypto API"
        ),
        vendor="Arm",
        default_name="mbed-crypto-provider",
    )
    CONFIG_KEYS: ClassVar[frozenset[str]] = frozenset({"key_store_path"})

    @classmethod
    def from_config(
        cls,
        name: str,
        options: Mapping[str, Any],
        key_info_manager: KeyInfoManager | None,
        settings: ProviderSettings,
    ) -> Self:
        """Open (or create) the key store. The service then runs `sweep()`, as for every key-storing provider."""
        if key_info_manager is None:
            raise ConfigError(f"provider ({name}).key_info_manager", "the MbedCrypto provider needs a key info manager")
        key = f"provider ({name}).key_store_path"
        configured = options.get("key_store_path", DEFAULT_KEY_STORE)
        if not isinstance(configured, str) or not configured:
            raise ConfigError(key, f"must be a directory path as a non-empty string, not {configured!r}")
        directory = Path(configured).expanduser()
        if not directory.is_absolute():
            directory = settings.working_directory / directory
        try:
            store = KeyStore(directory)
            store.claim(name)
        except KeyStoreError as error:
            raise ConfigError(key, str(error)) from None
        return cls(name, key_info_manager, store, settings)


__all__ = ["DEFAULT_KEY_STORE", "SoftwareProvider"]
