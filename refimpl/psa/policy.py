"""PSA key policy, shared by every provider: usage flags, permitted algorithms, key-type compatibility, deprecation.

Implements the checks Parsec runs before any cryptography, so that all providers answer the same statuses:

* psa-crypto's `Attributes::{can_*, is_alg_permitted, is_compatible_with_alg}` and `SignHash::is_alg_permitted`
  (psa:psa-crypto/src/types/key.rs, algorithm.rs): a wildcard `SignHash::Any` in a *policy* permits every specific
  hash, but `Any` in a *request* is never permitted;
* parsec-interface's per-operation `validate()` (ifc:src/operations/psa_sign_hash.rs, psa_asymmetric_*.rs,
  psa_aead_*.rs, psa_raw_key_agreement.rs): usage flag → permitted algorithm → key-type compatibility → arguments;
* the deprecated primitives of ifc:src/operations/utils_deprecated_primitives.rs (parsec-facts §3.7);
* Mbed Crypto's RSA key-size rule (svc:src/providers/mbed_crypto/key_management.rs `check_key_size`);
* the common CanDoCrypto checks (svc:src/providers/crypto_capability.rs).

Every failure raises `ParsecError` with a PSA status (parsec-facts §3.8): a missing usage flag, an algorithm the
policy does not permit and an algorithm the key type cannot run are all `PsaErrorNotPermitted`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.operations import CanDoCrypto, CheckType
from refimpl.psa.types import (
    DEPRECATED_HASHES,
    Aead,
    AeadDefaultTag,
    AeadShortenedTag,
    AeadWithDefaultLengthTag,
    Aes,
    Algorithm,
    AlgorithmNone,
    AnyHash,
    Arc4,
    AsymmetricEncryption,
    AsymmetricSignature,
    Camellia,
    CbcMac,
    Chacha20,
    Cipher,
    Cmac,
    Derive,
    Des,
    DeterministicEcdsa,
    DhKeyPair,
    DhPublicKey,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Ecdsa,
    EcdsaAny,
    Hash,
    Hkdf,
    Hmac,
    HmacAlg,
    KeyAgreementWithKdf,
    KeyAttributes,
    KeyType,
    RawData,
    RawKeyAgreement,
    RsaKeyPair,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPkcs1v15SignRaw,
    RsaPss,
    RsaPublicKey,
    SignHash,
    Tls12Prf,
    Tls12PskToMs,
    TruncatedMac,
    UsageFlags,
)

USAGE_FLAG_NAMES = frozenset(flag.name for flag in fields(UsageFlags))

HASH_LENGTH: dict[Hash, int] = {
    Hash.MD2: 16,
    Hash.MD4: 16,
    Hash.MD5: 16,
    Hash.RIPEMD160: 20,
    Hash.SHA_1: 20,
    Hash.SHA_224: 28,
    Hash.SHA_256: 32,
    Hash.SHA_384: 48,
    Hash.SHA_512: 64,
    Hash.SHA_512_224: 28,
    Hash.SHA_512_256: 32,
    Hash.SHA3_224: 28,
    Hash.SHA3_256: 32,
    Hash.SHA3_384: 48,
    Hash.SHA3_512: 64,
}
"""Digest size in bytes (psa-crypto `Hash::hash_length`)."""

RSA_KEY_BITS = frozenset({1024, 2048, 4096})
"""The RSA sizes Parsec's Mbed Crypto provider accepts (a non-zero `key_bits` on import must be one of them too)."""

_HASH_AND_SIGN = (RsaPkcs1v15Sign, RsaPss, Ecdsa, DeterministicEcdsa)
_RSA_SIGNATURES = (RsaPkcs1v15Sign, RsaPkcs1v15SignRaw, RsaPss)
_ECC_SIGNATURES = (Ecdsa, EcdsaAny, DeterministicEcdsa)
_DERIVATIONS = (Hkdf, Tls12Prf, Tls12PskToMs)
_BLOCK_CIPHER_MODES = frozenset(Cipher) - {Cipher.STREAM_CIPHER}


def _not_permitted(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_PERMITTED, detail)


def _invalid_argument(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, detail)


def _same(left: object, right: object) -> bool:
    """Equality that also compares types: the IntEnums `Hash.SHA_256` and `Cipher.CBC_NO_PADDING` are both 7."""
    return type(left) is type(right) and left == right


# ------------------------------------------------------------------------------------------- usage flags


def check_usage(attributes: KeyAttributes, flag_name: str) -> None:
    """Raise NotPermitted unless the key's policy sets usage flag `flag_name` (`"sign_hash"`, `"export"`, …)."""
    if flag_name not in USAGE_FLAG_NAMES:
        raise ValueError(f"{flag_name!r} is not a PSA usage flag; expected one of {sorted(USAGE_FLAG_NAMES)}")
    if not getattr(attributes.policy.usage_flags, flag_name):
        raise _not_permitted(f"the key policy does not set the {flag_name} usage flag")


# --------------------------------------------------------------------------------------- permitted algorithm


def sign_hash_permits(policy_hash: SignHash, requested_hash: SignHash) -> bool:
    """`SignHash::is_alg_permitted`: `Any` in a policy permits every hash; `Any` in a request is never permitted."""
    if isinstance(requested_hash, AnyHash):
        return False
    return isinstance(policy_hash, AnyHash) or _same(policy_hash, requested_hash)


def permits(policy_algorithm: Algorithm, requested_algorithm: Algorithm) -> bool:
    """Whether a key whose policy names `policy_algorithm` may run `requested_algorithm` (`is_alg_permitted`).

    Only hash-and-sign signature policies are wildcards; every other policy permits exactly itself, and
    `Algorithm::None` permits nothing.
    """
    if isinstance(policy_algorithm, AlgorithmNone):
        return False
    if isinstance(policy_algorithm, _HASH_AND_SIGN):
        return type(requested_algorithm) is type(policy_algorithm) and sign_hash_permits(
            policy_algorithm.hash_alg,
            requested_algorithm.hash_alg,
        )
    return _same(policy_algorithm, requested_algorithm)


def check_permitted(attributes: KeyAttributes, algorithm: Algorithm) -> None:
    """Raise NotPermitted unless the key's policy permits `algorithm` (`Attributes::permits_alg`)."""
    if not permits(attributes.policy.permitted_algorithms, algorithm):
        raise _not_permitted(f"the key policy does not permit {algorithm!r}")


# ------------------------------------------------------------------------------ key type / algorithm match


def _is_block_cipher_mac(algorithm: Algorithm) -> bool:
    mac = algorithm.mac_alg if isinstance(algorithm, TruncatedMac) else algorithm
    return isinstance(mac, CbcMac | Cmac)


def _is_hmac(algorithm: Algorithm) -> bool:
    mac = algorithm.mac_alg if isinstance(algorithm, TruncatedMac) else algorithm
    return isinstance(mac, HmacAlg)


def _aead_base(algorithm: Algorithm) -> AeadWithDefaultLengthTag | None:
    return algorithm.aead_alg if isinstance(algorithm, AeadDefaultTag | AeadShortenedTag) else None


def _agreement_base(algorithm: Algorithm) -> RawKeyAgreement | None:
    if isinstance(algorithm, RawKeyAgreement):
        return algorithm
    if isinstance(algorithm, KeyAgreementWithKdf):
        return algorithm.ka_alg
    return None


def compatible(key_type: KeyType, algorithm: Algorithm) -> bool:
    """Whether a key of `key_type` can run `algorithm` at all (`Attributes::is_compatible_with_alg`)."""
    if isinstance(key_type, RawData):
        return False
    if isinstance(key_type, Hmac):
        return _is_hmac(algorithm)
    if isinstance(key_type, Derive):
        return isinstance(algorithm, _DERIVATIONS)
    if isinstance(key_type, Aes | Camellia):
        return (
            _is_block_cipher_mac(algorithm)
            or (isinstance(algorithm, Cipher) and algorithm in _BLOCK_CIPHER_MODES)
            or _aead_base(algorithm) in (AeadWithDefaultLengthTag.CCM, AeadWithDefaultLengthTag.GCM)
        )
    if isinstance(key_type, Des):
        return _is_block_cipher_mac(algorithm) or (isinstance(algorithm, Cipher) and algorithm in _BLOCK_CIPHER_MODES)
    if isinstance(key_type, Arc4):
        return _same(algorithm, Cipher.STREAM_CIPHER)
    if isinstance(key_type, Chacha20):
        return _same(algorithm, Cipher.STREAM_CIPHER) or (
            _aead_base(algorithm) is AeadWithDefaultLengthTag.CHACHA20_POLY1305
        )
    if isinstance(key_type, RsaKeyPair | RsaPublicKey):
        return isinstance(algorithm, (*_RSA_SIGNATURES, RsaPkcs1v15Crypt, RsaOaep))
    if isinstance(key_type, EccKeyPair | EccPublicKey):
        return isinstance(algorithm, _ECC_SIGNATURES) or _agreement_base(algorithm) is RawKeyAgreement.ECDH
    if isinstance(key_type, DhKeyPair | DhPublicKey):
        return _agreement_base(algorithm) is RawKeyAgreement.FFDH
    raise TypeError(f"{key_type!r} is not a key type of refimpl.psa.types")


def check_compatible(attributes: KeyAttributes, algorithm: Algorithm) -> None:
    """Raise NotPermitted when the key type cannot run `algorithm` (psa-crypto answers NotPermitted here)."""
    if not compatible(attributes.key_type, algorithm):
        raise _not_permitted(f"a {type(attributes.key_type).__name__} key cannot run {algorithm!r}")


def is_hash_length_permitted(algorithm: AsymmetricSignature, length: int) -> bool:
    """`AsymmetricSignature::is_hash_len_permitted`: the input must be exactly one digest of the named hash."""
    if isinstance(algorithm, EcdsaAny | RsaPkcs1v15SignRaw):
        return True
    hash_alg = algorithm.hash_alg
    return isinstance(hash_alg, Hash) and HASH_LENGTH[hash_alg] == length


# ------------------------------------------------------------------------------ per-operation validation


def _check_key_algorithm(attributes: KeyAttributes, flag_name: str, algorithm: Algorithm) -> None:
    check_usage(attributes, flag_name)
    check_permitted(attributes, algorithm)
    check_compatible(attributes, algorithm)


def validate_sign_hash(attributes: KeyAttributes, algorithm: AsymmetricSignature, digest: bytes) -> None:
    """psa_sign_hash::Operation::validate."""
    _check_key_algorithm(attributes, "sign_hash", algorithm)
    if not is_hash_length_permitted(algorithm, len(digest)):
        raise _invalid_argument(f"a {len(digest)}-byte input is not a digest for {algorithm!r}")


def validate_verify_hash(attributes: KeyAttributes, algorithm: AsymmetricSignature, digest: bytes) -> None:
    """psa_verify_hash::Operation::validate."""
    _check_key_algorithm(attributes, "verify_hash", algorithm)
    if not is_hash_length_permitted(algorithm, len(digest)):
        raise _invalid_argument(f"a {len(digest)}-byte input is not a digest for {algorithm!r}")


def _check_asymmetric_arguments(algorithm: AsymmetricEncryption, data: bytes, salt: bytes | None) -> None:
    if isinstance(algorithm, RsaPkcs1v15Crypt) and salt is not None:
        raise _invalid_argument("RSA PKCS#1 v1.5 encryption takes no salt")
    if not data:
        raise _invalid_argument("empty input")


def validate_asymmetric_encrypt(
    attributes: KeyAttributes, algorithm: AsymmetricEncryption, plaintext: bytes, salt: bytes | None
) -> None:
    """psa_asymmetric_encrypt::Operation::validate."""
    _check_key_algorithm(attributes, "encrypt", algorithm)
    _check_asymmetric_arguments(algorithm, plaintext, salt)


def validate_asymmetric_decrypt(
    attributes: KeyAttributes, algorithm: AsymmetricEncryption, ciphertext: bytes, salt: bytes | None
) -> None:
    """psa_asymmetric_decrypt::Operation::validate."""
    _check_key_algorithm(attributes, "decrypt", algorithm)
    _check_asymmetric_arguments(algorithm, ciphertext, salt)


def validate_aead_encrypt(attributes: KeyAttributes, algorithm: Aead, nonce: bytes, plaintext: bytes) -> None:
    """psa_aead_encrypt::Operation::validate."""
    _check_key_algorithm(attributes, "encrypt", algorithm)
    if not plaintext or not nonce:
        raise _invalid_argument("AEAD needs a non-empty plaintext and nonce")


def validate_aead_decrypt(attributes: KeyAttributes, algorithm: Aead, nonce: bytes, ciphertext: bytes) -> None:
    """psa_aead_decrypt::Operation::validate."""
    _check_key_algorithm(attributes, "decrypt", algorithm)
    if not ciphertext or not nonce:
        raise _invalid_argument("AEAD needs a non-empty ciphertext and nonce")


def validate_raw_key_agreement(attributes: KeyAttributes, algorithm: RawKeyAgreement) -> None:
    """psa_raw_key_agreement::Operation::validate."""
    _check_key_algorithm(attributes, "derive", algorithm)


# ----------------------------------------------------------------------------------------------- deprecation


def _is_hash_deprecated(hash_alg: SignHash) -> bool:
    return isinstance(hash_alg, Hash) and hash_alg in DEPRECATED_HASHES


def is_algorithm_deprecated(algorithm: Algorithm) -> bool:
    """Whether a deprecated hash (MD2, MD4, MD5, SHA-1) appears anywhere in `algorithm`."""
    if isinstance(algorithm, Hash):
        return _is_hash_deprecated(algorithm)
    if isinstance(algorithm, TruncatedMac):
        return is_algorithm_deprecated(algorithm.mac_alg)
    if isinstance(algorithm, (HmacAlg, RsaOaep, *_DERIVATIONS, *_HASH_AND_SIGN)):
        return _is_hash_deprecated(algorithm.hash_alg)
    if isinstance(algorithm, KeyAgreementWithKdf):
        return is_algorithm_deprecated(algorithm.kdf_alg)
    return False


_DEPRECATED_ECC_PUBLIC_KEYS: dict[EccFamily, int | None] = {
    EccFamily.BRAINPOOL_P_R1: 160,
    EccFamily.SECT_R1: 163,
    EccFamily.SECT_K1: 163,
    EccFamily.SECT_R2: None,
    EccFamily.SECP_R2: None,
}
"""Family → deprecated size (None: every size). Parsec's list names EccPublicKey only, so key pairs pass."""


def is_key_deprecated(key_type: KeyType, bits: int) -> bool:
    """utils_deprecated_primitives.rs `is_key_deprecated`."""
    if isinstance(key_type, Des | Arc4):
        return True
    if isinstance(key_type, EccPublicKey) and key_type.curve_family in _DEPRECATED_ECC_PUBLIC_KEYS:
        size = _DEPRECATED_ECC_PUBLIC_KEYS[key_type.curve_family]
        return size is None or size == bits
    return False


def is_deprecated(attributes: KeyAttributes) -> bool:
    """Whether a key template uses a deprecated primitive (generate → DeprecatedPrimitive; import only warns)."""
    return is_algorithm_deprecated(attributes.policy.permitted_algorithms) or is_key_deprecated(
        attributes.key_type, attributes.bits
    )


# ----------------------------------------------------------------------------------------------- key sizes


PSA_CRYPTO_ECC_BITS: dict[EccFamily, frozenset[int]] = {
    EccFamily.SECP_R1: frozenset({192, 224, 256, 384, 521}),
    EccFamily.SECP_K1: frozenset({192, 224, 256}),
    EccFamily.SECT_K1: frozenset({233, 239, 283, 409, 571}),
    EccFamily.SECT_R1: frozenset({233, 283, 409, 571}),
    EccFamily.BRAINPOOL_P_R1: frozenset({192, 224, 256, 320, 384, 512}),
    EccFamily.FRP: frozenset({256}),
    EccFamily.MONTGOMERY: frozenset({255, 448}),
}
"""The ECC sizes psa-crypto's `TryFrom<Attributes> for usize` accepts (psa:psa-crypto/src/types/key.rs), which runs
whenever Parsec's Mbed Crypto provider turns attributes into a `psa_key_attributes_t` (generate, import): any other
non-zero size is PsaErrorInvalidArgument, before Mbed Crypto sees the request. SecpR2 and SectR2 are not checked.
psa-crypto lists 284 for SECP_R1 where the PSA specification (and Mbed Crypto) has 384: Parsec's Mbed Crypto provider
therefore refuses P-384 keys with InvalidArgument, and this service, which accepts 384 (and not 284), differs there."""


def check_psa_crypto_attributes(attributes: KeyAttributes) -> None:
    """psa-crypto's conversion of native attributes for Mbed Crypto: FRP curves are NotSupported (no PSA family),
    then an ECC size outside `PSA_CRYPTO_ECC_BITS` is InvalidArgument (a size of 0 passes: "take it from the data")."""
    key_type = attributes.key_type
    if not isinstance(key_type, EccKeyPair | EccPublicKey):
        return
    if key_type.curve_family is EccFamily.FRP:
        raise _not_supported("psa-crypto has no PSA family for the FRP curve")
    allowed = PSA_CRYPTO_ECC_BITS.get(key_type.curve_family)
    if attributes.bits and allowed is not None and attributes.bits not in allowed:
        raise _invalid_argument(f"{attributes.bits} bits is not a size of the {key_type.curve_family.name} family")


def check_key_size(attributes: KeyAttributes, *, importing: bool) -> None:
    """Mbed Crypto's rule: RSA sizes are 1024/2048/4096 (import may say 0, "take the size from the data")."""
    if importing and attributes.bits == 0:
        return
    if isinstance(attributes.key_type, RsaKeyPair | RsaPublicKey) and attributes.bits not in RSA_KEY_BITS:
        raise _invalid_argument(f"RSA key size {attributes.bits} is not one of {sorted(RSA_KEY_BITS)}")


# ----------------------------------------------------------------------------------------------- CanDoCrypto


def _not_supported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


_USE_FLAGS = ("encrypt", "decrypt", "sign_hash", "sign_message", "verify_hash", "verify_message")


def check_use(attributes: KeyAttributes) -> None:
    """The provider-independent part of CanDoCrypto's Use check; every failure is NotSupported (as in the code)."""
    algorithm = attributes.policy.permitted_algorithms
    if isinstance(algorithm, AlgorithmNone):
        raise _not_supported("the template names no algorithm")
    if not any(getattr(attributes.policy.usage_flags, flag) for flag in _USE_FLAGS):
        raise _not_supported("the template sets no usage flag for a cryptographic operation")
    if not compatible(attributes.key_type, algorithm):
        raise _not_supported(f"a {type(attributes.key_type).__name__} key cannot run {algorithm!r}")


def can_do_crypto(
    operation: CanDoCrypto,
    *,
    can_generate: Callable[[KeyAttributes], None],
    can_import: Callable[[KeyAttributes], None],
    can_use: Callable[[KeyAttributes], None],
) -> None:
    """Parsec's CanDoCrypto flow (svc:src/providers/crypto_capability.rs) around a provider's own three checks.

    Each `can_*` callable raises `ParsecError(PsaErrorNotSupported)` for what the provider cannot do. Generate and
    Import also run the Use check when the template names an algorithm; Derive is never supported. Note that the
    code answers NotSupported (not NotPermitted, as the book says) for a key type that cannot run the algorithm.
    """
    attributes = operation.attributes
    if operation.check_type is CheckType.DERIVE:
        raise _not_supported("the Derive check is not supported")
    if operation.check_type is CheckType.USE:
        check_use(attributes)
        can_use(attributes)
        return
    (can_generate if operation.check_type is CheckType.GENERATE else can_import)(attributes)
    if not isinstance(attributes.policy.permitted_algorithms, AlgorithmNone):
        check_use(attributes)
        can_use(attributes)
