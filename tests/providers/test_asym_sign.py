"""SignHash and VerifyHash on every provider: signatures that `cryptography` accepts, known answers, policy statuses.

Parsec's e2e asym_sign_verify suite; formats of parsec-facts §3.8 (ECDSA r‖s; RSA-PSS salt = hash length); the
validation order of ifc:src/operations/psa_sign_hash.rs (usage flag, algorithm, key type, digest length).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from refimpl.ids import Opcode, Status
from refimpl.operations import ExportKey, ExportPublicKey, GenerateKey, ImportKey, SignHash, VerifyHash
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import (
    AnyHash,
    AsymmetricSignature,
    DeterministicEcdsa,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Ecdsa,
    Hash,
    KeyType,
    RsaKeyPair,
    RsaPkcs1v15Sign,
    RsaPss,
    RsaPublicKey,
)
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, status_of, template, unhex, vectors

SIGN = (Opcode.PSA_GENERATE_KEY, Opcode.PSA_SIGN_HASH, Opcode.PSA_VERIFY_HASH, Opcode.PSA_EXPORT_PUBLIC_KEY)


@dataclass(frozen=True)
class Scheme:
    key_type: KeyType
    bits: int
    algorithm: AsymmetricSignature
    digest: bytes

    def check_with_cryptography(self, public_der_or_point: bytes, signature: bytes) -> None:
        """Raise `InvalidSignature` unless `cryptography` accepts the signature against the exported public key."""
        if isinstance(self.key_type, EccKeyPair):
            curve = ec.SECP256R1() if self.bits == 256 else ec.SECP384R1()
            public = ec.EllipticCurvePublicKey.from_encoded_point(curve, public_der_or_point)
            size = len(signature) // 2
            assert size == (self.bits + 7) // 8, "ECDSA signatures are r‖s, each the curve's size"
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            public.verify(
                der, self.digest, ec.ECDSA(Prehashed(hashes.SHA256() if self.bits == 256 else hashes.SHA384()))
            )
            return
        rsa_public = load_der_public_key(public_der_or_point)
        assert isinstance(rsa_public, rsa.RSAPublicKey)
        assert len(signature) == self.bits // 8
        scheme: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            if isinstance(self.algorithm, RsaPss)
            else padding.PKCS1v15()
        )
        rsa_public.verify(signature, self.digest, scheme, Prehashed(hashes.SHA256()))


DIGEST_256 = hashlib.sha256(b"a message to sign").digest()
DIGEST_384 = hashlib.sha384(b"a message to sign").digest()
SCHEMES = {
    "ecdsa-p256-sha256": Scheme(P256, 256, Ecdsa(Hash.SHA_256), DIGEST_256),
    "ecdsa-p384-sha384": Scheme(EccKeyPair(EccFamily.SECP_R1), 384, Ecdsa(Hash.SHA_384), DIGEST_384),
    "rsa2048-pkcs1v15-sha256": Scheme(RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), DIGEST_256),
    "rsa2048-pss-sha256": Scheme(RsaKeyPair(), 2048, RsaPss(Hash.SHA_256), DIGEST_256),
}


@pytest.mark.parametrize("name", sorted(SCHEMES))
@pytest.mark.needs(*SIGN)
def test_signatures_verify_with_cryptography_and_with_the_provider(provider: KeyStoreProvider, name: str) -> None:
    scheme = SCHEMES[name]
    attributes = template(scheme.key_type, scheme.bits, scheme.algorithm, sign_hash=True, verify_hash=True)
    run(provider, TENANT_A, GenerateKey("k", attributes))
    signature = run(provider, TENANT_A, SignHash("k", scheme.algorithm, scheme.digest)).signature
    scheme.check_with_cryptography(run(provider, TENANT_A, ExportPublicKey("k")).data, signature)

    run(provider, TENANT_A, VerifyHash("k", scheme.algorithm, scheme.digest, signature))
    flipped = bytes([signature[0] ^ 0x01]) + signature[1:]
    other_digest = bytes([scheme.digest[0] ^ 0x80]) + scheme.digest[1:]
    for bad in (
        VerifyHash("k", scheme.algorithm, scheme.digest, flipped),
        VerifyHash("k", scheme.algorithm, other_digest, signature),
        VerifyHash("k", scheme.algorithm, scheme.digest, signature[:-1]),
    ):
        assert status_of(provider, TENANT_A, bad) is Status.PSA_ERROR_INVALID_SIGNATURE


KNOWN_SIGNATURES: dict[str, tuple[KeyType, int, AsymmetricSignature, str, str, str, str]] = {
    "p256-rfc6979": (
        P256_PUBLIC,
        256,
        DeterministicEcdsa(Hash.SHA_256),
        "ecc_p256_rfc6979",
        "public_point",
        "digest_sha256",
        "deterministic_ecdsa_sha256_signature",
    ),
    "p256-rfc6979-as-ecdsa": (
        P256_PUBLIC,
        256,
        Ecdsa(Hash.SHA_256),
        "ecc_p256_rfc6979",
        "public_point",
        "digest_sha256",
        "deterministic_ecdsa_sha256_signature",
    ),
    "p384": (
        EccPublicKey(EccFamily.SECP_R1),
        384,
        Ecdsa(Hash.SHA_384),
        "ecc_p384",
        "public_point",
        "digest_sha384",
        "ecdsa_sha384_signature",
    ),
    "rsa-pkcs1v15": (
        RsaPublicKey(),
        2048,
        RsaPkcs1v15Sign(Hash.SHA_256),
        "rsa2048",
        "public_der",
        "digest_sha256",
        "pkcs1v15_sha256_signature",
    ),
    "rsa-pss": (
        RsaPublicKey(),
        2048,
        RsaPss(Hash.SHA_256),
        "rsa2048",
        "public_der",
        "digest_sha256",
        "pss_sha256_signature",
    ),
}


@pytest.mark.parametrize("name", sorted(KNOWN_SIGNATURES))
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_VERIFY_HASH)
def test_imported_public_key_verifies_a_known_signature(provider: KeyStoreProvider, name: str) -> None:
    key_type, bits, algorithm, vector, public_field, digest_field, signature_field = KNOWN_SIGNATURES[name]
    data = vectors("keys")[vector]
    attributes = template(key_type, bits, algorithm, verify_hash=True)
    run(provider, TENANT_A, ImportKey("pub", attributes, unhex(data[public_field])))
    digest, signature = unhex(data[digest_field]), unhex(data[signature_field])
    run(provider, TENANT_A, VerifyHash("pub", algorithm, digest, signature))
    tampered = signature[:-1] + bytes([signature[-1] ^ 0x01])
    assert status_of(provider, TENANT_A, VerifyHash("pub", algorithm, digest, tampered)) is (
        Status.PSA_ERROR_INVALID_SIGNATURE
    )


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_SIGN_HASH)
def test_imported_key_pairs_reproduce_deterministic_known_signatures(provider: KeyStoreProvider) -> None:
    """RFC 6979 deterministic ECDSA and RSA PKCS#1 v1.5 are deterministic: the signature is a known answer."""
    keys = vectors("keys")
    p256, rsa2048 = keys["ecc_p256_rfc6979"], keys["rsa2048"]
    ecdsa = DeterministicEcdsa(Hash.SHA_256)
    pkcs1 = RsaPkcs1v15Sign(Hash.SHA_256)
    p256_key = ImportKey("p256", template(P256, 256, ecdsa, sign_hash=True), unhex(p256["private_scalar"]))
    rsa_key = ImportKey("rsa", template(RsaKeyPair(), 2048, pkcs1, sign_hash=True), unhex(rsa2048["private_der"]))
    run(provider, TENANT_A, p256_key)
    run(provider, TENANT_A, rsa_key)
    assert status_of(provider, TENANT_A, ExportKey("rsa")) is Status.PSA_ERROR_NOT_PERMITTED  # no export flag

    ecdsa_signature = run(provider, TENANT_A, SignHash("p256", ecdsa, unhex(p256["digest_sha256"]))).signature
    assert ecdsa_signature == unhex(p256["deterministic_ecdsa_sha256_signature"])
    rsa_signature = run(provider, TENANT_A, SignHash("rsa", pkcs1, unhex(rsa2048["digest_sha256"]))).signature
    assert rsa_signature == unhex(rsa2048["pkcs1v15_sha256_signature"])


# --------------------------------------------------------------------------------------------- policy statuses


@pytest.mark.threat("A1-S-1", "U-2")
@pytest.mark.needs(*SIGN)
def test_signing_without_the_sign_hash_flag_is_not_permitted(provider: KeyStoreProvider) -> None:
    algorithm = Ecdsa(Hash.SHA_256)
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, algorithm, verify_hash=True)))
    assert status_of(provider, TENANT_A, SignHash("k", algorithm, DIGEST_256)) is Status.PSA_ERROR_NOT_PERMITTED


@pytest.mark.needs(*SIGN)
def test_verifying_without_the_verify_hash_flag_is_not_permitted(provider: KeyStoreProvider) -> None:
    algorithm = Ecdsa(Hash.SHA_256)
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, algorithm, sign_hash=True)))
    signature = run(provider, TENANT_A, SignHash("k", algorithm, DIGEST_256)).signature
    verify = VerifyHash("k", algorithm, DIGEST_256, signature)
    assert status_of(provider, TENANT_A, verify) is Status.PSA_ERROR_NOT_PERMITTED


@pytest.mark.needs(*SIGN)
def test_an_algorithm_the_policy_does_not_name_is_not_permitted(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)))
    for algorithm, digest in (
        (Ecdsa(Hash.SHA_384), DIGEST_384),
        (DeterministicEcdsa(Hash.SHA_256), DIGEST_256),
        (RsaPkcs1v15Sign(Hash.SHA_256), DIGEST_256),
        (Ecdsa(AnyHash()), DIGEST_256),
    ):
        assert status_of(provider, TENANT_A, SignHash("k", algorithm, digest)) is Status.PSA_ERROR_NOT_PERMITTED


@pytest.mark.needs(*SIGN)
def test_a_policy_with_any_hash_permits_every_specific_hash(provider: KeyStoreProvider) -> None:
    policy = Ecdsa(AnyHash())
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, policy, sign_hash=True, verify_hash=True)))
    for algorithm, digest in ((Ecdsa(Hash.SHA_256), DIGEST_256), (Ecdsa(Hash.SHA_384), DIGEST_384)):
        signature = run(provider, TENANT_A, SignHash("k", algorithm, digest)).signature
        run(provider, TENANT_A, VerifyHash("k", algorithm, digest, signature))
    wildcard = SignHash("k", policy, DIGEST_256)  # `Any` is for policies, never for a request
    assert status_of(provider, TENANT_A, wildcard) is Status.PSA_ERROR_NOT_PERMITTED


@pytest.mark.needs(*SIGN)
def test_a_digest_of_the_wrong_length_is_invalid_argument(provider: KeyStoreProvider) -> None:
    algorithm = Ecdsa(Hash.SHA_256)
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, algorithm, sign_hash=True, verify_hash=True)))
    for digest in (DIGEST_256[:31], DIGEST_384, b""):
        assert status_of(provider, TENANT_A, SignHash("k", algorithm, digest)) is Status.PSA_ERROR_INVALID_ARGUMENT
        verify = VerifyHash("k", algorithm, digest, bytes(64))
        assert status_of(provider, TENANT_A, verify) is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_SIGN_HASH)
def test_signing_with_a_public_key_is_invalid_argument(provider: KeyStoreProvider) -> None:
    algorithm = Ecdsa(Hash.SHA_256)
    point = unhex(vectors("keys")["ecc_p256_rfc6979"]["public_point"])
    run(provider, TENANT_A, ImportKey("pub", template(P256_PUBLIC, 256, algorithm, sign_hash=True), point))
    assert status_of(provider, TENANT_A, SignHash("pub", algorithm, DIGEST_256)) is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.needs(Opcode.PSA_SIGN_HASH)
def test_signing_with_an_unknown_key_is_does_not_exist(provider: KeyStoreProvider) -> None:
    sign = SignHash("never-made", Ecdsa(Hash.SHA_256), DIGEST_256)
    assert status_of(provider, TENANT_A, sign) is Status.PSA_ERROR_DOES_NOT_EXIST
