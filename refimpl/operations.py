"""Native operations: one frozen `Operation` and one `Result` dataclass per opcode.

The Python counterpart of parsec-interface's `operations` module: the protobuf converters in `refimpl.wire`
decode a request body into one of these (validating it, so a provider never sees an unset oneof or a `*_NONE`
enum) and encode a result back. Providers and the core provider take and return these types only, so the wire
format stays in one place. `OPERATIONS` maps each opcode to its pair of classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from refimpl.ids import AuthType, Opcode, ProviderId
from refimpl.psa.types import (
    Aead,
    AsymmetricEncryption,
    AsymmetricSignature,
    Cipher,
    Hash,
    KeyAttributes,
    RawKeyAgreement,
)

# ------------------------------------------------------------------------------------------------ core


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class PingResult:
    wire_protocol_version_maj: int
    wire_protocol_version_min: int


@dataclass(frozen=True)
class ListProviders:
    pass


@dataclass(frozen=True)
class ProviderInfo:
    uuid: str
    description: str
    vendor: str
    version_maj: int
    version_min: int
    version_rev: int
    id: ProviderId


@dataclass(frozen=True)
class ListProvidersResult:
    providers: tuple[ProviderInfo, ...]


@dataclass(frozen=True)
class ListOpcodes:
    provider_id: ProviderId


@dataclass(frozen=True)
class ListOpcodesResult:
    opcodes: frozenset[Opcode]


@dataclass(frozen=True)
class ListAuthenticators:
    pass


@dataclass(frozen=True)
class AuthenticatorInfo:
    description: str
    version_maj: int
    version_min: int
    version_rev: int
    id: AuthType


@dataclass(frozen=True)
class ListAuthenticatorsResult:
    authenticators: tuple[AuthenticatorInfo, ...]


@dataclass(frozen=True)
class ListKeys:
    pass


@dataclass(frozen=True)
class KeyInfo:
    provider_id: ProviderId
    name: str
    attributes: KeyAttributes


@dataclass(frozen=True)
class ListKeysResult:
    keys: tuple[KeyInfo, ...]


@dataclass(frozen=True)
class ListClients:
    pass


@dataclass(frozen=True)
class ListClientsResult:
    clients: tuple[str, ...]


@dataclass(frozen=True)
class DeleteClient:
    client: str


@dataclass(frozen=True)
class DeleteClientResult:
    pass


# ------------------------------------------------------------------------------------------ key management


@dataclass(frozen=True)
class GenerateKey:
    key_name: str
    attributes: KeyAttributes


@dataclass(frozen=True)
class GenerateKeyResult:
    pass


@dataclass(frozen=True)
class ImportKey:
    key_name: str
    attributes: KeyAttributes
    data: bytes


@dataclass(frozen=True)
class ImportKeyResult:
    pass


@dataclass(frozen=True)
class ExportPublicKey:
    key_name: str


@dataclass(frozen=True)
class ExportPublicKeyResult:
    data: bytes


@dataclass(frozen=True)
class ExportKey:
    key_name: str


@dataclass(frozen=True)
class ExportKeyResult:
    data: bytes


@dataclass(frozen=True)
class DestroyKey:
    key_name: str


@dataclass(frozen=True)
class DestroyKeyResult:
    pass


# ------------------------------------------------------------------------------------------ cryptography


@dataclass(frozen=True)
class SignHash:
    key_name: str
    alg: AsymmetricSignature
    hash: bytes


@dataclass(frozen=True)
class SignHashResult:
    signature: bytes


@dataclass(frozen=True)
class VerifyHash:
    key_name: str
    alg: AsymmetricSignature
    hash: bytes
    signature: bytes


@dataclass(frozen=True)
class VerifyHashResult:
    pass


@dataclass(frozen=True)
class SignMessage:
    key_name: str
    alg: AsymmetricSignature
    message: bytes


@dataclass(frozen=True)
class SignMessageResult:
    signature: bytes


@dataclass(frozen=True)
class VerifyMessage:
    key_name: str
    alg: AsymmetricSignature
    message: bytes
    signature: bytes


@dataclass(frozen=True)
class VerifyMessageResult:
    pass


@dataclass(frozen=True)
class AsymmetricEncrypt:
    key_name: str
    alg: AsymmetricEncryption
    plaintext: bytes
    salt: bytes | None  # empty salt on the wire means no salt


@dataclass(frozen=True)
class AsymmetricEncryptResult:
    ciphertext: bytes


@dataclass(frozen=True)
class AsymmetricDecrypt:
    key_name: str
    alg: AsymmetricEncryption
    ciphertext: bytes
    salt: bytes | None


@dataclass(frozen=True)
class AsymmetricDecryptResult:
    plaintext: bytes


@dataclass(frozen=True)
class AeadEncrypt:
    key_name: str
    alg: Aead
    nonce: bytes
    additional_data: bytes
    plaintext: bytes


@dataclass(frozen=True)
class AeadEncryptResult:
    ciphertext: bytes


@dataclass(frozen=True)
class AeadDecrypt:
    key_name: str
    alg: Aead
    nonce: bytes
    additional_data: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class AeadDecryptResult:
    plaintext: bytes


@dataclass(frozen=True)
class CipherEncrypt:
    key_name: str
    alg: Cipher
    plaintext: bytes


@dataclass(frozen=True)
class CipherEncryptResult:
    ciphertext: bytes


@dataclass(frozen=True)
class CipherDecrypt:
    key_name: str
    alg: Cipher
    ciphertext: bytes


@dataclass(frozen=True)
class CipherDecryptResult:
    plaintext: bytes


@dataclass(frozen=True)
class HashCompute:
    alg: Hash
    input: bytes


@dataclass(frozen=True)
class HashComputeResult:
    hash: bytes


@dataclass(frozen=True)
class HashCompare:
    alg: Hash
    input: bytes
    hash: bytes


@dataclass(frozen=True)
class HashCompareResult:
    pass


@dataclass(frozen=True)
class RawKeyAgreementOp:
    alg: RawKeyAgreement
    private_key_name: str
    peer_key: bytes


@dataclass(frozen=True)
class RawKeyAgreementResult:
    shared_secret: bytes


@dataclass(frozen=True)
class GenerateRandom:
    size: int


@dataclass(frozen=True)
class GenerateRandomResult:
    random_bytes: bytes


class CheckType(IntEnum):
    USE = 1
    GENERATE = 2
    IMPORT = 3
    DERIVE = 4


@dataclass(frozen=True)
class CanDoCrypto:
    check_type: CheckType
    attributes: KeyAttributes


@dataclass(frozen=True)
class CanDoCryptoResult:
    pass


# ------------------------------------------------------------------------------------------ key attestation
# parsec-interface's `attest_key` / `prepare_key_attestation`: enums with one variant, ActivateCredential (TPM 2.0),
# so one class each here. An empty `attesting_key_name` on the wire is None: the provider's default attesting key.


@dataclass(frozen=True)
class PrepareKeyAttestation:
    """What a verifier needs before TPM2_MakeCredential for `attested_key_name`."""

    attested_key_name: str
    attesting_key_name: str | None = None


@dataclass(frozen=True)
class PrepareKeyAttestationResult:
    name: bytes
    """The attested key's TPM name (nameAlg ‖ digest of its public area)."""
    public: bytes
    """The attested key's public area (a marshalled TPMT_PUBLIC)."""
    attesting_key_pub: bytes
    """The attesting key's public key (the EK's, DER PKCS#1 RSAPublicKey)."""


@dataclass(frozen=True)
class AttestKey:
    """TPM2_ActivateCredential: the credential the verifier sealed to the attesting key and the attested key's name."""

    attested_key_name: str
    credential_blob: bytes
    secret: bytes
    attesting_key_name: str | None = None


@dataclass(frozen=True)
class AttestKeyResult:
    credential: bytes


Operation = (
    Ping
    | ListProviders
    | ListOpcodes
    | ListAuthenticators
    | ListKeys
    | ListClients
    | DeleteClient
    | GenerateKey
    | ImportKey
    | ExportPublicKey
    | ExportKey
    | DestroyKey
    | SignHash
    | VerifyHash
    | SignMessage
    | VerifyMessage
    | AsymmetricEncrypt
    | AsymmetricDecrypt
    | AeadEncrypt
    | AeadDecrypt
    | CipherEncrypt
    | CipherDecrypt
    | HashCompute
    | HashCompare
    | RawKeyAgreementOp
    | GenerateRandom
    | CanDoCrypto
    | AttestKey
    | PrepareKeyAttestation
)

OPERATIONS: dict[Opcode, tuple[type, type]] = {
    Opcode.PING: (Ping, PingResult),
    Opcode.LIST_PROVIDERS: (ListProviders, ListProvidersResult),
    Opcode.LIST_OPCODES: (ListOpcodes, ListOpcodesResult),
    Opcode.LIST_AUTHENTICATORS: (ListAuthenticators, ListAuthenticatorsResult),
    Opcode.LIST_KEYS: (ListKeys, ListKeysResult),
    Opcode.LIST_CLIENTS: (ListClients, ListClientsResult),
    Opcode.DELETE_CLIENT: (DeleteClient, DeleteClientResult),
    Opcode.PSA_GENERATE_KEY: (GenerateKey, GenerateKeyResult),
    Opcode.PSA_IMPORT_KEY: (ImportKey, ImportKeyResult),
    Opcode.PSA_EXPORT_PUBLIC_KEY: (ExportPublicKey, ExportPublicKeyResult),
    Opcode.PSA_EXPORT_KEY: (ExportKey, ExportKeyResult),
    Opcode.PSA_DESTROY_KEY: (DestroyKey, DestroyKeyResult),
    Opcode.PSA_SIGN_HASH: (SignHash, SignHashResult),
    Opcode.PSA_VERIFY_HASH: (VerifyHash, VerifyHashResult),
    Opcode.PSA_SIGN_MESSAGE: (SignMessage, SignMessageResult),
    Opcode.PSA_VERIFY_MESSAGE: (VerifyMessage, VerifyMessageResult),
    Opcode.PSA_ASYMMETRIC_ENCRYPT: (AsymmetricEncrypt, AsymmetricEncryptResult),
    Opcode.PSA_ASYMMETRIC_DECRYPT: (AsymmetricDecrypt, AsymmetricDecryptResult),
    Opcode.PSA_AEAD_ENCRYPT: (AeadEncrypt, AeadEncryptResult),
    Opcode.PSA_AEAD_DECRYPT: (AeadDecrypt, AeadDecryptResult),
    Opcode.PSA_CIPHER_ENCRYPT: (CipherEncrypt, CipherEncryptResult),
    Opcode.PSA_CIPHER_DECRYPT: (CipherDecrypt, CipherDecryptResult),
    Opcode.PSA_HASH_COMPUTE: (HashCompute, HashComputeResult),
    Opcode.PSA_HASH_COMPARE: (HashCompare, HashCompareResult),
    Opcode.PSA_RAW_KEY_AGREEMENT: (RawKeyAgreementOp, RawKeyAgreementResult),
    Opcode.PSA_GENERATE_RANDOM: (GenerateRandom, GenerateRandomResult),
    Opcode.CAN_DO_CRYPTO: (CanDoCrypto, CanDoCryptoResult),
    Opcode.ATTEST_KEY: (AttestKey, AttestKeyResult),
    Opcode.PREPARE_KEY_ATTESTATION: (PrepareKeyAttestation, PrepareKeyAttestationResult),
}
"""Opcode → (operation class, result class): every opcode of parsec-interface's `Opcode` enum."""

OPCODE_OF: dict[type, Opcode] = {operation: opcode for opcode, (operation, _) in OPERATIONS.items()}
