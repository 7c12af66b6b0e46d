"""`refimpl.psa.policy`: the PSA policy rules every provider shares, checked against psa-crypto's own examples.

Cases come from psa:psa-crypto/src/types/{key,algorithm}.rs doc tests, ifc:src/operations/psa_*.rs unit tests and
ifc:src/operations/utils_deprecated_primitives.rs (parsec-facts §3.7, §3.8).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.operations import CanDoCrypto, CheckType
from refimpl.psa import policy
from refimpl.psa.types import (
    AeadDefaultTag,
    AeadShortenedTag,
    AeadWithDefaultLengthTag,
    Aes,
    Algorithm,
    AlgorithmNone,
    AnyHash,
    Arc4,
    AsymmetricSignature,
    CbcMac,
    Chacha20,
    Cipher,
    Derive,
    Des,
    DeterministicEcdsa,
    DhFamily,
    DhKeyPair,
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
    RsaPss,
    TruncatedMac,
)
from tests.providers.helpers import P256, template

P256_SIGNING = template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)


@pytest.mark.parametrize(
    ("policy_alg", "requested", "permitted"),
    [
        (RsaPkcs1v15Sign(AnyHash()), RsaPkcs1v15Sign(Hash.SHA_1), True),
        (RsaPkcs1v15Sign(Hash.SHA_256), RsaPkcs1v15Sign(Hash.SHA_1), False),
        (RsaPss(AnyHash()), RsaPss(Hash.SHA3_512), True),
        (RsaPss(AnyHash()), RsaPkcs1v15Sign(Hash.SHA_256), False),
        (Ecdsa(AnyHash()), Ecdsa(AnyHash()), False),  # Any is never valid in a request
        (Ecdsa(Hash.SHA_256), DeterministicEcdsa(Hash.SHA_256), False),
        (EcdsaAny(), EcdsaAny(), True),
        (AlgorithmNone(), AlgorithmNone(), False),  # None permits nothing
        (Hash.SHA_256, Cipher.CBC_NO_PADDING, False),  # both IntEnums are 7
        (Hash.MD4, RawKeyAgreement.ECDH, False),  # both IntEnums are 2
        (RawKeyAgreement.ECDH, RawKeyAgreement.ECDH, True),
        (RawKeyAgreement.ECDH, KeyAgreementWithKdf(RawKeyAgreement.ECDH, Hkdf(Hash.SHA_256)), False),
        (AeadDefaultTag(AeadWithDefaultLengthTag.GCM), AeadShortenedTag(AeadWithDefaultLengthTag.GCM, 16), False),
        (RsaOaep(Hash.SHA_256), RsaOaep(Hash.SHA_256), True),
    ],
)
def test_permits(policy_alg: Algorithm, requested: Algorithm, permitted: bool) -> None:
    assert policy.permits(policy_alg, requested) is permitted


@pytest.mark.parametrize(
    ("key_type", "algorithm", "expected"),
    [
        (RawData(), Hash.SHA_256, False),
        (Hmac(), HmacAlg(Hash.SHA_256), True),
        (Hmac(), TruncatedMac(HmacAlg(Hash.SHA_256), 16), True),
        (Hmac(), CbcMac(), False),
        (Derive(), Hkdf(Hash.SHA_256), True),
        (Aes(), CbcMac(), True),
        (Aes(), Cipher.CTR, True),
        (Aes(), Cipher.STREAM_CIPHER, False),
        (Aes(), AeadDefaultTag(AeadWithDefaultLengthTag.GCM), True),
        (Aes(), AeadDefaultTag(AeadWithDefaultLengthTag.CHACHA20_POLY1305), False),
        (Des(), AeadDefaultTag(AeadWithDefaultLengthTag.CCM), False),
        (Arc4(), Cipher.STREAM_CIPHER, True),
        (Chacha20(), AeadShortenedTag(AeadWithDefaultLengthTag.CHACHA20_POLY1305, 16), True),
        (Chacha20(), Cipher.CTR, False),
        (RsaKeyPair(), RsaPss(Hash.SHA_256), True),
        (RsaKeyPair(), RsaPkcs1v15Crypt(), True),
        (RsaKeyPair(), Ecdsa(Hash.SHA_256), False),
        (P256, EcdsaAny(), True),
        (P256, KeyAgreementWithKdf(RawKeyAgreement.ECDH, Hkdf(Hash.SHA_256)), True),
        (P256, RawKeyAgreement.FFDH, False),
        (P256, RsaOaep(Hash.SHA_256), False),
        (DhKeyPair(DhFamily.RFC7919), RawKeyAgreement.FFDH, True),
        (DhKeyPair(DhFamily.RFC7919), RawKeyAgreement.ECDH, False),
    ],
)
def test_compatible(key_type: KeyType, algorithm: Algorithm, expected: bool) -> None:
    assert policy.compatible(key_type, algorithm) is expected


def _status(check: Callable[[], object]) -> Status:
    try:
        check()
    except ParsecError as error:
        return error.status
    return Status.SUCCESS


def test_sign_hash_validation_order() -> None:
    """Usage flag, then permitted algorithm, then key type, then digest length (psa_sign_hash.rs)."""
    no_flag = template(P256, 256, Ecdsa(Hash.SHA_256), verify_hash=True)
    rsa_policy = template(P256, 256, RsaPkcs1v15Sign(Hash.SHA_256), sign_hash=True)
    cases: dict[tuple[KeyAttributes, AsymmetricSignature, int], Status] = {
        (no_flag, Ecdsa(Hash.SHA_256), 16): Status.PSA_ERROR_NOT_PERMITTED,
        (P256_SIGNING, Ecdsa(Hash.SHA_384), 16): Status.PSA_ERROR_NOT_PERMITTED,
        (rsa_policy, RsaPkcs1v15Sign(Hash.SHA_256), 32): Status.PSA_ERROR_NOT_PERMITTED,
        (P256_SIGNING, Ecdsa(Hash.SHA_256), 16): Status.PSA_ERROR_INVALID_ARGUMENT,
        (P256_SIGNING, Ecdsa(Hash.SHA_256), 32): Status.SUCCESS,
    }
    for (attributes, algorithm, length), expected in cases.items():
        assert _status(partial(policy.validate_sign_hash, attributes, algorithm, bytes(length))) is expected


def test_asymmetric_and_aead_argument_checks() -> None:
    rsa = template(RsaKeyPair(), 2048, RsaPkcs1v15Crypt(), encrypt=True, decrypt=True)
    aes = template(Aes(), 128, AeadDefaultTag(AeadWithDefaultLengthTag.GCM), encrypt=True, decrypt=True)
    invalid = Status.PSA_ERROR_INVALID_ARGUMENT
    gcm = AeadDefaultTag(AeadWithDefaultLengthTag.GCM)
    assert _status(lambda: policy.validate_asymmetric_encrypt(rsa, RsaPkcs1v15Crypt(), b"x", b"salt")) is invalid
    assert _status(lambda: policy.validate_asymmetric_decrypt(rsa, RsaPkcs1v15Crypt(), b"", None)) is invalid
    assert _status(lambda: policy.validate_asymmetric_encrypt(rsa, RsaPkcs1v15Crypt(), b"x", None)) is Status.SUCCESS
    assert _status(lambda: policy.validate_aead_encrypt(aes, gcm, b"", b"x")) is invalid
    assert _status(lambda: policy.validate_aead_decrypt(aes, gcm, b"n", b"")) is invalid
    assert _status(lambda: policy.validate_aead_encrypt(aes, gcm, b"n", b"x")) is Status.SUCCESS


def test_check_usage_rejects_names_that_are_not_flags() -> None:
    with pytest.raises(ValueError, match="not a PSA usage flag"):
        policy.check_usage(P256_SIGNING, "sign")


@pytest.mark.parametrize(
    ("attributes", "deprecated"),
    [
        (template(P256, 256, Ecdsa(Hash.SHA_1)), True),
        (template(P256, 256, Ecdsa(AnyHash())), False),
        (template(Hmac(), 256, TruncatedMac(HmacAlg(Hash.MD5), 8)), True),
        (template(P256, 256, KeyAgreementWithKdf(RawKeyAgreement.ECDH, Hkdf(Hash.MD2))), True),
        (template(RsaKeyPair(), 2048, RsaOaep(Hash.SHA_1)), True),
        (template(Aes(), 128, Hash.SHA_1), True),
        (template(Des(), 64), True),
        (template(Arc4(), 128), True),
        (template(EccPublicKey(EccFamily.SECP_R2), 160), True),
        (template(EccKeyPair(EccFamily.SECP_R2), 160), False),  # Parsec's list names public keys only
        (template(EccPublicKey(EccFamily.SECT_K1), 163), True),
        (template(EccPublicKey(EccFamily.SECT_K1), 233), False),
        (template(EccPublicKey(EccFamily.BRAINPOOL_P_R1), 160), True),
        (template(P256, 256, Ecdsa(Hash.SHA_256)), False),
    ],
)
def test_is_deprecated(attributes: KeyAttributes, deprecated: bool) -> None:
    assert policy.is_deprecated(attributes) is deprecated


def test_rsa_key_size_rule() -> None:
    rsa_3072 = template(RsaKeyPair(), 3072)
    rsa_0 = template(RsaKeyPair(), 0)
    assert _status(lambda: policy.check_key_size(rsa_3072, importing=False)) is Status.PSA_ERROR_INVALID_ARGUMENT
    assert _status(lambda: policy.check_key_size(rsa_3072, importing=True)) is Status.PSA_ERROR_INVALID_ARGUMENT
    assert _status(lambda: policy.check_key_size(rsa_0, importing=True)) is Status.SUCCESS
    assert _status(lambda: policy.check_key_size(rsa_0, importing=False)) is Status.PSA_ERROR_INVALID_ARGUMENT
    assert _status(lambda: policy.check_key_size(template(P256, 0), importing=False)) is Status.SUCCESS


def test_can_do_crypto_flow_calls_the_provider_checks_in_parsecs_order() -> None:
    calls: list[str] = []

    def record(name: str) -> Callable[[KeyAttributes], None]:
        return lambda attributes: calls.append(name)

    def check(check_type: CheckType, attributes: KeyAttributes) -> Status:
        calls.clear()
        return _status(
            lambda: policy.can_do_crypto(
                CanDoCrypto(check_type, attributes),
                can_generate=record("generate"),
                can_import=record("import"),
                can_use=record("use"),
            )
        )

    assert check(CheckType.GENERATE, P256_SIGNING) is Status.SUCCESS and calls == ["generate", "use"]
    assert check(CheckType.IMPORT, template(P256, 256)) is Status.SUCCESS and calls == ["import"]
    assert check(CheckType.USE, P256_SIGNING) is Status.SUCCESS and calls == ["use"]
    assert check(CheckType.DERIVE, P256_SIGNING) is Status.PSA_ERROR_NOT_SUPPORTED and calls == []
    mismatched = template(Aes(), 128, Ecdsa(Hash.SHA_256), sign_hash=True)
    assert check(CheckType.GENERATE, mismatched) is Status.PSA_ERROR_NOT_SUPPORTED and calls == ["generate"]
