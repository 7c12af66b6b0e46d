"""Parsec's fixed tables the model decides statuses with: status names, opcodes per provider, key kinds per provider.

Sources (all in ``../shared/reference/parsec-facts.md``): status names §2.2; opcodes §2.1; the opcodes each provider
implements §4.5 (`SUPPORTED_OPCODES` in ``svc:src/providers/*/mod.rs``; an opcode a provider does not implement is
answered ``PsaErrorNotSupported`` by the provider trait's default method); usage-flag and algorithm checks §3.8
(``ifc:src/operations/psa_*.rs::validate``); limits §6.1.
"""

from __future__ import annotations

from enum import StrEnum

from model.nouns import PUBLIC_KINDS, KeyKind, ProviderId, Usage


class Status(StrEnum):
    """The Parsec response status names (parsec-facts §2.2) the model answers."""

    SUCCESS = "Success"
    PROVIDER_NOT_REGISTERED = "ProviderNotRegistered"
    RESPONSE_TOO_LARGE = "ResponseTooLarge"
    AUTHENTICATION_ERROR = "AuthenticationError"
    AUTHENTICATOR_NOT_REGISTERED = "AuthenticatorNotRegistered"
    NOT_AUTHENTICATED = "NotAuthenticated"
    ADMIN_OPERATION = "AdminOperation"
    PSA_ERROR_NOT_PERMITTED = "PsaErrorNotPermitted"
    PSA_ERROR_NOT_SUPPORTED = "PsaErrorNotSupported"
    PSA_ERROR_ALREADY_EXISTS = "PsaErrorAlreadyExists"
    PSA_ERROR_DOES_NOT_EXIST = "PsaErrorDoesNotExist"
    PSA_ERROR_INVALID_ARGUMENT = "PsaErrorInvalidArgument"
    PSA_ERROR_INVALID_SIGNATURE = "PsaErrorInvalidSignature"
    PSA_ERROR_INVALID_PADDING = "PsaErrorInvalidPadding"
    PSA_ERROR_DATA_CORRUPT = "PsaErrorDataCorrupt"


BUFFER_SIZE_LIMIT = 1 << 20
"""`core_settings.buffer_size_limit` default: GenerateRandom above it answers ResponseTooLarge (§6.1)."""

PING_VERSION = (1, 0)
"""Ping's result: the highest wire protocol version (§4.6)."""

_MBED_CRYPTO_OPCODES = frozenset(
    {
        "PsaGenerateKey",
        "PsaDestroyKey",
        "PsaSignHash",
        "PsaVerifyHash",
        "PsaImportKey",
        "PsaExportKey",
        "PsaExportPublicKey",
        "PsaAsymmetricDecrypt",
        "PsaAsymmetricEncrypt",
        "PsaAeadEncrypt",
        "PsaAeadDecrypt",
        "PsaHashCompare",
        "PsaHashCompute",
        "PsaRawKeyAgreement",
        "PsaGenerateRandom",
        "CanDoCrypto",
    }
)
_PKCS11_OPCODES = frozenset(
    {
        "PsaGenerateKey",
        "PsaDestroyKey",
        "PsaSignHash",
        "PsaVerifyHash",
        "PsaImportKey",
        "PsaExportPublicKey",
        "PsaAsymmetricDecrypt",
        "PsaAsymmetricEncrypt",
        "CanDoCrypto",
        "PsaGenerateRandom",
    }
)
_TPM_OPCODES = frozenset(
    {
        "PsaGenerateKey",
        "PsaGenerateRandom",
        "PsaDestroyKey",
        "PsaSignHash",
        "PsaVerifyHash",
        "PsaImportKey",
        "PsaExportPublicKey",
        "PsaAsymmetricDecrypt",
        "PsaAsymmetricEncrypt",
        "CanDoCrypto",
        "AttestKey",
        "PrepareKeyAttestation",
    }
)
"""Parsec's 12 TPM opcodes (§4.5): the key operations and the TPM-only key attestation (ActivateCredential)."""
CORE_OPCODES = frozenset({"Ping", "ListProviders", "ListOpcodes", "ListAuthenticators", "ListKeys"})
"""What ListOpcodes(core) answers: ListClients and DeleteClient work but are not listed (§0 point 6)."""

PROVIDER_OPCODES: dict[ProviderId, frozenset[str]] = {
    ProviderId.CORE: CORE_OPCODES,
    ProviderId.MBED_CRYPTO: _MBED_CRYPTO_OPCODES,
    ProviderId.PKCS11: _PKCS11_OPCODES,
    ProviderId.TPM: _TPM_OPCODES,
}

_HARDWARE_KINDS = frozenset({KeyKind.ECC_SIGN_PAIR, KeyKind.RSA_ENCRYPT_PAIR, KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC})
GENERATABLE_KINDS: dict[ProviderId, frozenset[KeyKind]] = {
    ProviderId.MBED_CRYPTO: frozenset(KeyKind) - {KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC},
    ProviderId.PKCS11: _HARDWARE_KINDS - {KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC},
    ProviderId.TPM: _HARDWARE_KINDS - {KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC},
}
"""Key kinds each provider generates (book service_api_coverage: PKCS#11 and TPM hold RSA and ECC keys only)."""

IMPORTABLE_KINDS: dict[ProviderId, frozenset[KeyKind]] = {
    ProviderId.MBED_CRYPTO: frozenset(KeyKind),
    ProviderId.PKCS11: frozenset({KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC}),
    ProviderId.TPM: frozenset({KeyKind.ECC_PUBLIC, KeyKind.RSA_PUBLIC}),
}
"""Key kinds each provider imports: hardware providers import public keys only."""


class CreateCheck(StrEnum):
    """A provider-side check of GenerateKey / ImportKey, named by the status it answers when it fails."""

    NAME_FREE = "name-free"
    """The key name is not taken in the caller's namespace, else PsaErrorAlreadyExists."""
    NOT_PUBLIC = "not-public"
    """GenerateKey only: the kind is not a public key, else PsaErrorInvalidArgument (nothing to generate)."""
    KIND_SUPPORTED = "kind-supported"
    """The provider makes the kind (`GENERATABLE_KINDS`, `IMPORTABLE_KINDS`), else PsaErrorNotSupported."""


CREATE_CHECK_STATUS: dict[CreateCheck, Status] = {
    CreateCheck.NAME_FREE: Status.PSA_ERROR_ALREADY_EXISTS,
    CreateCheck.NOT_PUBLIC: Status.PSA_ERROR_INVALID_ARGUMENT,
    CreateCheck.KIND_SUPPORTED: Status.PSA_ERROR_NOT_SUPPORTED,
}

_NAME_PUBLIC_KIND = (CreateCheck.NAME_FREE, CreateCheck.NOT_PUBLIC, CreateCheck.KIND_SUPPORTED)
_NAME_KIND = (CreateCheck.NAME_FREE, CreateCheck.KIND_SUPPORTED)
CREATE_CHECKS: dict[str, dict[ProviderId, tuple[CreateCheck, ...]]] = {
    "PsaGenerateKey": {
        # svc:src/providers/mbed_crypto/key_management.rs psa_generate_key_internal: the name, then Mbed TLS
        # psa_generate_key rejects a public key type with PSA_ERROR_INVALID_ARGUMENT.
        ProviderId.MBED_CRYPTO: _NAME_PUBLIC_KIND,
        # svc:src/providers/pkcs11/key_management.rs psa_generate_key_internal: is_public_key() before the name,
        # then NotSupported for a key type it has no mechanism for (utils::algorithm_to_mechanism).
        ProviderId.PKCS11: (CreateCheck.NOT_PUBLIC, CreateCheck.NAME_FREE, CreateCheck.KIND_SUPPORTED),
        # svc:src/providers/tpm/key_management.rs psa_generate_key_internal: the name, is_public_key(), then
        # parsec_to_tpm_params (NotSupported).
        ProviderId.TPM: _NAME_PUBLIC_KIND,
    },
    "PsaImportKey": {
        ProviderId.MBED_CRYPTO: _NAME_KIND,
        # svc:src/providers/pkcs11/key_management.rs psa_import_key_internal: the name first.
        ProviderId.PKCS11: _NAME_KIND,
        # svc:src/providers/tpm/key_management.rs psa_import_key_internal: public keys only, before does_not_exist.
        ProviderId.TPM: (CreateCheck.KIND_SUPPORTED, CreateCheck.NAME_FREE),
    },
}
"""For GenerateKey and ImportKey, the provider checks in the order each provider makes them (the first failing one
decides the status)."""


def create_check_fails(check: CreateCheck, opcode: str, provider: ProviderId, kind: KeyKind, name_taken: bool) -> bool:
    """Whether `check` fails for a create of `kind` under a name that is (`name_taken`) or is not already mapped."""
    match check:
        case CreateCheck.NAME_FREE:
            return name_taken
        case CreateCheck.NOT_PUBLIC:
            return kind in PUBLIC_KINDS
        case CreateCheck.KIND_SUPPORTED:
            kinds = GENERATABLE_KINDS if opcode == "PsaGenerateKey" else IMPORTABLE_KINDS
            return kind not in kinds[provider]


KEY_USE_RULES: dict[str, tuple[Usage, frozenset[KeyKind]]] = {
    "PsaSignHash": (Usage.SIGN_HASH, frozenset({KeyKind.ECC_SIGN_PAIR})),
    "PsaVerifyHash": (Usage.VERIFY_HASH, frozenset({KeyKind.ECC_SIGN_PAIR, KeyKind.ECC_PUBLIC})),
    "PsaAsymmetricEncrypt": (Usage.ENCRYPT, frozenset({KeyKind.RSA_ENCRYPT_PAIR, KeyKind.RSA_PUBLIC})),
    "PsaAsymmetricDecrypt": (Usage.DECRYPT, frozenset({KeyKind.RSA_ENCRYPT_PAIR})),
    "PsaAeadEncrypt": (Usage.ENCRYPT, frozenset({KeyKind.AES})),
    "PsaAeadDecrypt": (Usage.DECRYPT, frozenset({KeyKind.AES})),
    "PsaRawKeyAgreement": (Usage.DERIVE, frozenset({KeyKind.ECDH_PAIR})),
}
"""For each key-using opcode: the usage flag it needs and the kinds whose algorithm permits it.

A missing flag or a kind whose policy algorithm does not permit the operation answers PsaErrorNotPermitted (§3.8).
"""
