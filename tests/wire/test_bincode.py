"""The bincode layout of key attributes that Parsec's key info managers store (parsec-facts §4.7)."""

from __future__ import annotations

import pytest
from hypothesis import given

from refimpl.psa import types as t
from refimpl.psa.bincode import (
    BincodeError,
    decode_attributes,
    decode_key_id_u32,
    decode_key_info,
    encode_attributes,
    encode_key_id_u32,
    encode_key_info,
)
from tests.wire.strategies import U64_MAX, key_attributes

SIGN_FLAGS = t.UsageFlags(sign_message=True, verify_message=True, sign_hash=True, verify_hash=True)
P256_ECDSA = t.KeyAttributes(
    key_type=t.EccKeyPair(t.EccFamily.SECP_R1),
    bits=256,
    policy=t.KeyPolicy(SIGN_FLAGS, t.Ecdsa(t.Hash.SHA_256)),
)
# Derived field by field from psa-crypto's serde layout: lifetime Persistent(1), Type::EccKeyPair(10) with
# EccFamily::SecpR1(1), bits as u64, ten bool bytes, Algorithm::AsymmetricSignature(5) → Ecdsa(3) →
# SignHash::Specific(0) → Hash::Sha256(6).
P256_ECDSA_BYTES = bytes.fromhex(
    "010000000a0000000100000000010000000000000000000000010101010005000000030000000000000006000000"
)


def test_known_bytes_for_a_p256_signing_key() -> None:
    assert encode_attributes(P256_ECDSA) == P256_ECDSA_BYTES
    assert decode_attributes(P256_ECDSA_BYTES) == P256_ECDSA


@pytest.mark.parametrize(
    ("alg", "tail"),
    [
        (t.AlgorithmNone(), "00000000"),
        (t.Hash.SHA_256, "0100000006000000"),
        (t.HmacAlg(t.Hash.SHA_384), "02000000000000000000000007000000"),
        (t.TruncatedMac(t.Cmac(), 8), "0200000001000000020000000800000000000000"),
        (t.Cipher.CBC_PKCS7, "0300000007000000"),
        (t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM), "040000000000000001000000"),
        (t.AeadShortenedTag(t.AeadWithDefaultLengthTag.CCM, 8), "0400000001000000000000000800000000000000"),
        (t.RsaPkcs1v15Sign(t.AnyHash()), "050000000000000001000000"),
        (t.RsaPss(t.Hash.SHA_512), "05000000020000000000000008000000"),
        (t.EcdsaAny(), "0500000004000000"),
        (t.RsaPkcs1v15Crypt(), "0600000000000000"),
        (t.RsaOaep(t.Hash.SHA_256), "060000000100000006000000"),
        (t.RawKeyAgreement.ECDH, "070000000000000001000000"),
        (
            t.KeyAgreementWithKdf(t.RawKeyAgreement.FFDH, t.Hkdf(t.Hash.SHA_256)),
            "0700000001000000000000000000000006000000",
        ),
        (t.Tls12PskToMs(t.Hash.SHA_384), "080000000200000007000000"),
    ],
)
def test_algorithm_variant_indices_follow_rust_declaration_order(alg: t.Algorithm, tail: str) -> None:
    """The proto numbers (Hash SHA_256 = 7, SignHash any = 1) differ from psa-crypto's serde indices."""
    attributes = t.KeyAttributes(t.RawData(), 0, t.KeyPolicy(t.UsageFlags(), alg))
    encoded = encode_attributes(attributes)
    assert encoded == bytes.fromhex("01000000000000000000000000000000" + "00" * 10 + tail)
    assert decode_attributes(encoded) == attributes


def test_key_type_indices() -> None:
    dh = t.KeyAttributes(t.DhPublicKey(t.DhFamily.RFC7919), 2048, t.KeyPolicy(t.UsageFlags(), t.AlgorithmNone()))
    assert encode_attributes(dh)[4:12] == bytes.fromhex("0d00000000000000")
    x25519 = t.KeyAttributes(t.EccKeyPair(t.EccFamily.MONTGOMERY), 255, t.KeyPolicy(t.UsageFlags(), t.AlgorithmNone()))
    assert encode_attributes(x25519)[4:12] == bytes.fromhex("0a00000008000000")


def test_key_id_and_key_info() -> None:
    assert encode_key_id_u32(0x3FFFFFFF) == bytes.fromhex("ffffff3f")
    assert decode_key_id_u32(bytes.fromhex("01000000")) == 1
    blob = encode_key_info(encode_key_id_u32(7), P256_ECDSA)
    assert blob[:12] == bytes.fromhex("040000000000000007000000")
    assert decode_key_info(blob) == (bytes.fromhex("07000000"), P256_ECDSA)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (P256_ECDSA_BYTES[:-1], "truncated"),
        (P256_ECDSA_BYTES + b"\x00", "trailing"),
        (bytes.fromhex("00000000") + P256_ECDSA_BYTES[4:], "not Persistent"),
        (P256_ECDSA_BYTES[:4] + bytes.fromhex("0e000000") + P256_ECDSA_BYTES[8:], "key_type"),
        (P256_ECDSA_BYTES[:24] + b"\x02" + P256_ECDSA_BYTES[25:], "bool byte"),
        (P256_ECDSA_BYTES[:-4] + bytes.fromhex("0f000000"), "SignHash::Specific"),
    ],
)
def test_corrupt_stores_are_rejected_with_the_field_named(data: bytes, message: str) -> None:
    with pytest.raises(BincodeError, match=message):
        decode_attributes(data)


@given(key_attributes(U64_MAX))
def test_round_trip(attributes: t.KeyAttributes) -> None:
    decoded = decode_attributes(encode_attributes(attributes))
    assert decoded == attributes
    # IntEnums of different families compare equal by value, so check the algorithm's class too.
    assert type(decoded.policy.permitted_algorithms) is type(attributes.policy.permitted_algorithms)
