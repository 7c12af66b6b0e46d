"""`refimpl.psa.formats`: PSA key and signature formats, checked against `cryptography` and RFC 7919.

parsec-facts §3.8 (export/import formats, key size from the data, ECDSA r‖s) and RFC 7919 Appendix A (the
finite-field groups, whose primes the module computes from the RFC's formula).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.psa import formats
from refimpl.psa.types import (
    Aes,
    Arc4,
    Chacha20,
    DhFamily,
    DhKeyPair,
    DhPublicKey,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Hash,
    RawData,
    RsaKeyPair,
    RsaPublicKey,
)
from tests.providers.helpers import unhex, vectors

RFC7919_ENDS = {
    # First and last 128 bits of each prime as printed in RFC 7919 Appendix A.
    2048: ("ffffffffffffffffadf85458a2bb4a9a", "886b423861285c97ffffffffffffffff"),
    3072: ("ffffffffffffffffadf85458a2bb4a9a", "25e41d2b66c62e37ffffffffffffffff"),
    4096: ("ffffffffffffffffadf85458a2bb4a9a", "c68a007e5e655f6affffffffffffffff"),
    6144: ("ffffffffffffffffadf85458a2bb4a9a", "a40e329cd0e40e65ffffffffffffffff"),
    8192: ("ffffffffffffffffadf85458a2bb4a9a", "d68c8bb7c5c6424cffffffffffffffff"),
}


def _probably_prime(n: int) -> bool:
    """Miller–Rabin with the first 8 prime bases: enough to catch any wrong constant."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for base in (2, 3, 5, 7, 11, 13, 17, 19):
        x = pow(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("bits", sorted(RFC7919_ENDS))
def test_rfc7919_primes_match_the_rfc(bits: int) -> None:
    prime = formats.ffdh_prime(bits)
    text = f"{prime:x}"
    assert len(text) * 4 == bits
    assert (text[:32], text[-32:]) == RFC7919_ENDS[bits]


def test_the_2048_bit_rfc7919_prime_is_safe() -> None:
    prime = formats.ffdh_prime(2048)
    assert _probably_prime(prime) and _probably_prime((prime - 1) // 2)


def test_ffdh_round_trip_and_checks() -> None:
    alice = formats.generate_private_key(DhKeyPair(DhFamily.RFC7919), 2048)
    bob = formats.generate_private_key(DhKeyPair(DhFamily.RFC7919), 2048)
    assert isinstance(alice, formats.FfdhPrivateKey) and isinstance(bob, formats.FfdhPrivateKey)
    assert "x=" not in repr(alice)
    alice_public = formats.export_public_key(alice)
    assert len(alice_public) == 256 and len(formats.export_private_key(alice)) == 256
    peer = formats.load_public_key(DhPublicKey(DhFamily.RFC7919), 0, alice_public)
    assert isinstance(peer, formats.FfdhPublicKey)
    assert bob.exchange(peer) == alice.exchange(bob.public_key())
    reloaded = formats.load_private_key(DhKeyPair(DhFamily.RFC7919), 2048, formats.export_private_key(alice))
    assert reloaded == alice
    prime = formats.ffdh_prime(2048)
    for bad in ((prime - 1).to_bytes(256, "big"), (1).to_bytes(256, "big"), bytes(255)):
        with pytest.raises(ParsecError) as raised:
            formats.load_public_key(DhPublicKey(DhFamily.RFC7919), 0, bad)
        assert raised.value.status is Status.PSA_ERROR_INVALID_ARGUMENT


def test_ecdsa_signature_conversions() -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    der = key.sign(b"data", ec.ECDSA(formats.hash_algorithm(Hash.SHA_512)))
    raw = formats.ecdsa_signature_to_raw(der, 521)
    assert len(raw) == 132
    assert decode_dss_signature(formats.ecdsa_signature_to_der(raw, 521)) == decode_dss_signature(der)
    with pytest.raises(ParsecError) as raised:
        formats.ecdsa_signature_to_der(raw[:-1], 521)
    assert raised.value.status is Status.PSA_ERROR_INVALID_SIGNATURE


def test_rsa_key_pair_and_public_key_formats() -> None:
    data = vectors("keys")["rsa2048"]
    private = formats.load_private_key(RsaKeyPair(), 0, unhex(data["private_der"]))
    assert isinstance(private, rsa.RSAPrivateKey) and formats.key_bits(private) == 2048
    assert formats.export_private_key(private) == unhex(data["private_der"])
    assert formats.export_public_key(private) == unhex(data["public_der"])
    public = formats.load_public_key(RsaPublicKey(), 2048, unhex(data["public_der"]))
    assert formats.export_public_key(public) == unhex(data["public_der"])
    for key_type, blob in ((RsaKeyPair(), data["public_der"]), (RsaPublicKey(), data["private_der"])):
        with pytest.raises(ParsecError) as raised:
            (formats.load_private_key if key_type == RsaKeyPair() else formats.load_public_key)(
                key_type, 0, unhex(blob)
            )
        assert raised.value.status is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("family", "bits", "curve"),
    [
        (EccFamily.SECP_R1, 192, ec.SECP192R1()),
        (EccFamily.SECP_R1, 521, ec.SECP521R1()),
        (EccFamily.SECP_K1, 256, ec.SECP256K1()),
        (EccFamily.BRAINPOOL_P_R1, 512, ec.BrainpoolP512R1()),
    ],
)
def test_ecc_sizes_come_from_the_data(family: EccFamily, bits: int, curve: ec.EllipticCurve) -> None:
    key = formats.generate_private_key(EccKeyPair(family), bits)
    scalar, point = formats.export_private_key(key), formats.export_public_key(key)
    assert len(scalar) == (bits + 7) // 8 and len(point) == 1 + 2 * len(scalar)
    loaded = formats.load_private_key(EccKeyPair(family), 0, scalar)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey) and loaded.curve.name == curve.name
    assert formats.key_bits(formats.load_public_key(EccPublicKey(family), 0, point)) == bits
    with pytest.raises(ParsecError) as raised:
        formats.load_private_key(EccKeyPair(family), bits + 8, scalar)
    assert raised.value.status is Status.PSA_ERROR_INVALID_ARGUMENT


def test_out_of_range_scalars_are_invalid_argument() -> None:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 n
    for scalar in (0, order, order + 1):
        with pytest.raises(ParsecError) as raised:
            formats.load_private_key(EccKeyPair(EccFamily.SECP_R1), 256, scalar.to_bytes(32, "big"))
        assert raised.value.status is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("key_type", "length", "valid"),
    [
        (Aes(), 16, True),
        (Aes(), 20, False),
        (Chacha20(), 32, True),
        (Chacha20(), 16, False),
        (Arc4(), 4, False),
        (Arc4(), 16, True),
        (RawData(), 1, True),
        (RawData(), 0, False),
    ],
)
def test_symmetric_key_sizes(key_type: object, length: int, valid: bool) -> None:
    try:
        bits = formats.symmetric_key_bits(key_type, 0, bytes(length))  # type: ignore[arg-type]
    except ParsecError as error:
        assert not valid and error.status is Status.PSA_ERROR_INVALID_ARGUMENT
    else:
        assert valid and bits == 8 * length


@pytest.mark.parametrize("hash_alg", [Hash.MD2, Hash.MD4, Hash.RIPEMD160])
def test_hashes_cryptography_lacks_are_not_supported(hash_alg: Hash) -> None:
    with pytest.raises(ParsecError) as raised:
        formats.hash_algorithm(hash_alg)
    assert raised.value.status is Status.PSA_ERROR_NOT_SUPPORTED
