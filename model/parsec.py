"""Parsec's fixed tables the model decides statuses with: status names, opcodes per provider, key kinds per provider.

Sources (all in ``../shared/reference/parsec-facts.md``): status names §2.2; opcodes §2.1; the opcodes each provider
implements §4.5 (`SUPPORTED_OPCODES` in ``svc:src/providers/*/mod.rs``; an opcode a provider does not implement is
answered ``PsaErrorNotSupported`` by the provider trait's default method); usage-flag and algorithm checks §3.8
(``ifc:src/operations/psa_*.rs::validate``); limits §6.1.
"""

from __future__ import annotations

from enum import StrEnum

from model.nouns import KeyKind, ProviderId, Usage


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
