"""Key management for the software provider: generate, import, export, export public, destroy.

Mirrors svc:src/providers/mbed_crypto/key_management.rs, in its order of checks: a deprecated template is refused
on generate (`DeprecatedPrimitive` unless `allow_deprecated`) and only logged on import (parsec-facts §3.7); RSA
sizes are 1024/2048/4096 (import may leave `key_bits` at 0); the name must be free; psa-crypto's conversion of the
attributes refuses ECC sizes its table lacks (`check_psa_crypto_attributes`: InvalidArgument); then the key is made and
stored through `KeyStoreProvider.create_key`, the life cycle shared with the other providers. ExportKey needs the
`export` usage flag (public keys excepted); ExportPublicKey is always permitted (parsec-facts §3.8).
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import (
    DestroyKey,
    DestroyKeyResult,
    ExportKey,
    ExportKeyResult,
    ExportPublicKey,
    ExportPublicKeyResult,
    GenerateKey,
    GenerateKeyResult,
    ImportKey,
    ImportKeyResult,
)
from refimpl.providers.base import handles
from refimpl.providers.software.keys import LoadedKey, SoftwareKeys
from refimpl.psa.formats import (
    FFDH_BITS,
    UNSTRUCTURED_TYPES,
    check_symmetric_bits,
    export_private_key,
    export_public_key,
    generate_private_key,
    key_bits,
    load_private_key,
    load_public_key,
    supports_ecc,
    symmetric_key_bits,
)
from refimpl.psa.policy import check_key_size, check_psa_crypto_attributes, check_usage, is_deprecated
from refimpl.psa.types import (
    ASYMMETRIC_KEY_PAIRS,
    PUBLIC_KEYS,
    DhKeyPair,
    DhPublicKey,
    EccKeyPair,
    EccPublicKey,
    KeyAttributes,
    KeyType,
)

GENERATED_TYPES = (*ASYMMETRIC_KEY_PAIRS, *UNSTRUCTURED_TYPES)
"""Every key type this provider can generate; CanDoCrypto answers from the same table."""
IMPORTED_TYPES = (*GENERATED_TYPES, *PUBLIC_KEYS)


def supports_size(key_type: KeyType, bits: int) -> bool:
    """Whether keys of this type and size can be made here (sizes the key type allows and `cryptography` has)."""
    if isinstance(key_type, EccKeyPair | EccPublicKey):
        return supports_ecc(key_type.curve_family, bits)
    if isinstance(key_type, DhKeyPair | DhPublicKey):
        return bits in FFDH_BITS
    if isinstance(key_type, UNSTRUCTURED_TYPES):
        try:
            check_symmetric_bits(key_type, bits)
        except ParsecError:
            return False
    return True


def new_key(attributes: KeyAttributes) -> LoadedKey:
    """Fresh key material for a template (key id 0 until stored)."""
    key_type, bits = attributes.key_type, attributes.bits
    if isinstance(key_type, PUBLIC_KEYS):
        raise ParsecError(
            Status.PSA_ERROR_INVALID_ARGUMENT, f"a {type(key_type).__name__} cannot be generated: generate its key pair"
        )
    if isinstance(key_type, ASYMMETRIC_KEY_PAIRS):
        if not supports_size(key_type, bits):
            raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"cannot generate a {bits}-bit {key_type!r}")
        private = generate_private_key(key_type, bits)
        return LoadedKey(0, attributes, export_private_key(private), private, private.public_key())
    check_symmetric_bits(key_type, bits)
    return LoadedKey(0, attributes, secrets.token_bytes(bits // 8))


def imported_key(attributes: KeyAttributes, data: bytes) -> LoadedKey:
    """Parse import data; the stored attributes carry the size found in the data (PSA's psa_get_key_attributes)."""
    key_type = attributes.key_type
    if isinstance(key_type, ASYMMETRIC_KEY_PAIRS):
        private = load_private_key(key_type, attributes.bits, data)
        resolved = replace(attributes, bits=key_bits(private))
        return LoadedKey(0, resolved, export_private_key(private), private, private.public_key())
    if isinstance(key_type, PUBLIC_KEYS):
        public = load_public_key(key_type, attributes.bits, data)
        return LoadedKey(0, replace(attributes, bits=key_bits(public)), export_public_key(public), None, public)
    bits = symmetric_key_bits(key_type, attributes.bits, data)
    return LoadedKey(0, replace(attributes, bits=bits), data)


class KeyManagementOps(SoftwareKeys):
    """GenerateKey, ImportKey, ExportKey, ExportPublicKey, DestroyKey."""

    @handles(GenerateKey)
    def generate_key(self, application: Application | None, operation: GenerateKey) -> GenerateKeyResult:
        attributes = operation.attributes
        if is_deprecated(attributes) and not self.settings.allow_deprecated:
            raise ParsecError(Status.DEPRECATED_PRIMITIVE, "the key template uses a deprecated primitive")
        check_key_size(attributes, importing=False)
        self.check_name_free(application, operation.key_name)
        check_psa_crypto_attributes(attributes)
        self.store_new_key(application, operation.key_name, attributes, new_key(attributes))
        return GenerateKeyResult()

    @handles(ImportKey)
    def import_key(self, application: Application | None, operation: ImportKey) -> ImportKeyResult:
        attributes = operation.attributes
        if is_deprecated(attributes):
            self.log.warning("importing a key whose template uses a deprecated primitive")
        check_key_size(attributes, importing=True)
        self.check_name_free(application, operation.key_name)
        check_psa_crypto_attributes(attributes)
        self.store_new_key(application, operation.key_name, attributes, imported_key(attributes, operation.data))
        return ImportKeyResult()

    @handles(ExportKey)
    def export_key(self, application: Application | None, operation: ExportKey) -> ExportKeyResult:
        key = self.loaded_key(application, operation.key_name)
        if not isinstance(key.attributes.key_type, PUBLIC_KEYS):
            check_usage(key.attributes, "export")
        return ExportKeyResult(data=key.material)

    @handles(ExportPublicKey)
    def export_public_key(self, application: Application | None, operation: ExportPublicKey) -> ExportPublicKeyResult:
        key = self.loaded_key(application, operation.key_name)
        return ExportPublicKeyResult(data=export_public_key(key.require_public_key()))

    @handles(DestroyKey)
    def destroy(self, application: Application | None, operation: DestroyKey) -> DestroyKeyResult:
        self.destroy_key(application, operation.key_name)
        return DestroyKeyResult()
