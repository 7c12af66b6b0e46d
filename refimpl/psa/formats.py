"""PSA key and signature formats ⇄ `cryptography` key objects, for every provider that exchanges keys with clients.

Implements the formats of parsec-facts §3.8 (book: psa_export_key.md, psa_export_public_key.md, psa_algorithm.md):

========================  =====================================================  ====================================
key type                  ExportKey / ImportKey of a key pair                    ExportPublicKey / ImportKey public
========================  =====================================================  ====================================
RSA                       DER `RSAPrivateKey` (PKCS#1, version 0)                 DER `RSAPublicKey` (PKCS#1)
ECC SECP-R1/K1, Brainpool raw private scalar, big-endian, ceil(bits/8) bytes    uncompressed point 04‖X‖Y
ECC Montgomery            raw scalar, little-endian (32 B X25519, 56 B X448)     raw u-coordinate, little-endian
DH RFC 7919               x, big-endian, the size of p                           y, big-endian, the size of p
symmetric / raw           the key bytes                                          (none: InvalidArgument)
========================  =====================================================  ====================================

Key sizes are derived from the data; a non-zero `key_bits` that disagrees is `PsaErrorInvalidArgument`. An ECDSA
signature is r‖s, each as long as the curve's scalar. The PKCS#11 and TPM providers reuse these conversions.

Finite-field DH (RFC 7919 groups) is done here in Python integers because `cryptography` deprecates FFDH; the
groups' primes are computed from RFC 7919's defining formula. Python's `pow` is not constant-time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.psa.types import (
    Aes,
    Arc4,
    AsymmetricEncryption,
    Camellia,
    Chacha20,
    Derive,
    Des,
    DhFamily,
    DhKeyPair,
    DhPublicKey,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Hash,
    Hmac,
    KeyType,
    RawData,
    RsaKeyPair,
    RsaOaep,
    RsaPublicKey,
)


def _invalid(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, detail)


def _unsupported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


# --------------------------------------------------------------------------------------------- FFDH (RFC 7919)

_RFC7919_X = {2048: 560316, 3072: 2625351, 4096: 5736041, 6144: 15705020, 8192: 10965728}
"""RFC 7919 Appendix A: the offset X that makes each ffdheB prime safe."""
FFDH_BITS = frozenset(_RFC7919_X)
FFDH_GENERATOR = 2


def _e_fixed_point(bits: int) -> int:
    """floor(e · 2^bits), from the series Σ 1/k! with 64 guard bits."""
    term = 1 << (bits + 64)
    total, k = 0, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> 64


@cache
def ffdh_prime(bits: int) -> int:
    """The RFC 7919 ffdhe<bits> prime: p = 2^b − 2^(b−64) + (⌊2^(b−130)·e⌋ + X)·2^64 − 1."""
    if bits not in _RFC7919_X:
        raise _unsupported(f"no RFC 7919 group of {bits} bits (groups: {sorted(FFDH_BITS)})")
    prime: int = 2**bits - 2 ** (bits - 64) + (_e_fixed_point(bits - 130) + _RFC7919_X[bits]) * 2**64 - 1
    return prime


@dataclass(frozen=True)
class FfdhPublicKey:
    """A finite-field DH public value y in an RFC 7919 group."""

    bits: int
    y: int


@dataclass(frozen=True, repr=False)
class FfdhPrivateKey:
    """A finite-field DH private exponent x in an RFC 7919 group (repr hides x)."""

    bits: int
    x: int

    def public_key(self) -> FfdhPublicKey:
        return FfdhPublicKey(self.bits, pow(FFDH_GENERATOR, self.x, ffdh_prime(self.bits)))

    def exchange(self, peer: FfdhPublicKey) -> bytes:
        """The shared secret g^(xy) mod p, big-endian, the size of p (PSA's raw FFDH output)."""
        if peer.bits != self.bits:
            raise _invalid(f"the peer key is in a {peer.bits}-bit group, this key in a {self.bits}-bit group")
        shared: int = pow(peer.y, self.x, ffdh_prime(self.bits))
        return shared.to_bytes(self.bits // 8, "big")


def _ffdh_value(group: DhFamily, data: bytes, what: str) -> tuple[int, int]:
    bits = len(data) * 8
    if group is not DhFamily.RFC7919 or bits not in FFDH_BITS:
        raise _invalid(f"a {len(data)}-byte {what} does not match an RFC 7919 group ({sorted(FFDH_BITS)} bits)")
    value = int.from_bytes(data, "big")
    prime = ffdh_prime(bits)
    if not 1 < value < prime - 1:
        raise _invalid(f"the DH {what} is outside [2, p-2]")
    return bits, value


def load_ffdh_public(group: DhFamily, data: bytes) -> FfdhPublicKey:
    """A peer or imported public value; rejects values outside the prime-order subgroup (y^q ≠ 1)."""
    bits, y = _ffdh_value(group, data, "public value")
    prime = ffdh_prime(bits)
    if pow(y, (prime - 1) // 2, prime) != 1:
        raise _invalid("the DH public value is not in the prime-order subgroup")
    return FfdhPublicKey(bits, y)


# ----------------------------------------------------------------------------------------------- key objects

PrivateKey = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | x448.X448PrivateKey | FfdhPrivateKey
)
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | x25519.X25519PublicKey | x448.X448PublicKey | FfdhPublicKey

WEIERSTRASS_CURVES: dict[EccFamily, dict[int, type[ec.EllipticCurve]]] = {
    EccFamily.SECP_R1: {
        192: ec.SECP192R1,
        224: ec.SECP224R1,
        256: ec.SECP256R1,
        384: ec.SECP384R1,
        521: ec.SECP521R1,
    },
    EccFamily.SECP_K1: {256: ec.SECP256K1},
    EccFamily.BRAINPOOL_P_R1: {256: ec.BrainpoolP256R1, 384: ec.BrainpoolP384R1, 512: ec.BrainpoolP512R1},
}
"""The Weierstrass curves `cryptography` offers, by PSA family and key size in bits."""

MONTGOMERY_BITS = frozenset({255, 448})
"""Curve25519 is 255 bits in PSA, Curve448 is 448."""


def byte_length(bits: int) -> int:
    return (bits + 7) // 8


def ecc_curve(family: EccFamily, bits: int) -> ec.EllipticCurve:
    """The Weierstrass curve of `family` with `bits`; NotSupported if `cryptography` has none."""
    curve = WEIERSTRASS_CURVES.get(family, {}).get(bits)
    if curve is None:
        raise _unsupported(f"ECC family {family.name} with {bits} bits is not supported")
    return curve()


def supports_ecc(family: EccFamily, bits: int) -> bool:
    if family is EccFamily.MONTGOMERY:
        return bits in MONTGOMERY_BITS
    return bits in WEIERSTRASS_CURVES.get(family, {})


def _ecc_bits_for(family: EccFamily, data: bytes, bits: int, *, public: bool) -> int:
    """The size implied by an ECC key's encoded length, checked against a non-zero `bits`."""
    if family is EccFamily.MONTGOMERY:
        candidates = {byte_length(size): size for size in MONTGOMERY_BITS}
        found = candidates.get(len(data))
    else:
        sizes = WEIERSTRASS_CURVES.get(family)
        if sizes is None:
            raise _unsupported(f"ECC family {family.name} is not supported")
        candidates = {(1 + 2 * byte_length(size) if public else byte_length(size)): size for size in sizes}
        found = candidates.get(len(data))
    if found is None:
        raise _invalid(f"{len(data)} bytes is not the size of a {family.name} {'public' if public else 'private'} key")
    if bits not in (0, found):
        raise _invalid(f"key_bits {bits} does not match the {found}-bit key in the data")
    return found


def _clamp_montgomery(data: bytes) -> bytes:
    """RFC 7748 clamping, which Mbed Crypto applies on import (so ExportKey returns the clamped scalar)."""
    scalar = bytearray(data)
    if len(scalar) == 32:
        scalar[0] &= 248
        scalar[31] = (scalar[31] & 127) | 64
    else:
        scalar[0] &= 252
        scalar[55] |= 128
    return bytes(scalar)


def _load_ecc_private(family: EccFamily, bits: int, data: bytes) -> PrivateKey:
    size = _ecc_bits_for(family, data, bits, public=False)
    if family is EccFamily.MONTGOMERY:
        clamped = _clamp_montgomery(data)
        if size == 255:
            return x25519.X25519PrivateKey.from_private_bytes(clamped)
        return x448.X448PrivateKey.from_private_bytes(clamped)
    try:
        return ec.derive_private_key(int.from_bytes(data, "big"), ecc_curve(family, size))
    except ValueError as error:
        raise _invalid("the private scalar is not in [1, n-1]") from error


def load_ecc_public(family: EccFamily, bits: int, data: bytes) -> PublicKey:
    """An uncompressed point (Weierstrass) or raw u-coordinate (Montgomery), as ExportPublicKey gives it."""
    size = _ecc_bits_for(family, data, bits, public=True)
    if family is EccFamily.MONTGOMERY:
        if size == 255:
            return x25519.X25519PublicKey.from_public_bytes(data)
        return x448.X448PublicKey.from_public_bytes(data)
    if data[0] != 0x04:
        raise _invalid("an ECC public key must be an uncompressed point (first byte 0x04)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ecc_curve(family, size), data)
    except ValueError as error:
        raise _invalid("the point is not on the curve") from error


def _load_rsa_private(bits: int, data: bytes) -> rsa.RSAPrivateKey:
    try:
        key = load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise _invalid("the data is not a DER RSAPrivateKey") from error
    if not isinstance(key, rsa.RSAPrivateKey) or export_private_key(key) != data:
        raise _invalid("the data is not a DER RSAPrivateKey (PKCS#1)")
    if bits not in (0, key.key_size):
        raise _invalid(f"key_bits {bits} does not match the {key.key_size}-bit key in the data")
    return key


def _load_rsa_public(bits: int, data: bytes) -> rsa.RSAPublicKey:
    try:
        key = load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise _invalid("the data is not a DER RSAPublicKey") from error
    if not isinstance(key, rsa.RSAPublicKey) or export_public_key(key) != data:
        raise _invalid("the data is not a DER RSAPublicKey (PKCS#1)")
    if bits not in (0, key.key_size):
        raise _invalid(f"key_bits {bits} does not match the {key.key_size}-bit key in the data")
    return key


def _check_ffdh_bits(bits: int, found: int) -> None:
    if bits not in (0, found):
        raise _invalid(f"key_bits {bits} does not match the {found}-bit group of the data")


def load_private_key(key_type: KeyType, bits: int, data: bytes) -> PrivateKey:
    """Parse ImportKey data of an asymmetric key pair; InvalidArgument when it is malformed or the wrong size."""
    if isinstance(key_type, RsaKeyPair):
        return _load_rsa_private(bits, data)
    if isinstance(key_type, EccKeyPair):
        return _load_ecc_private(key_type.curve_family, bits, data)
    if isinstance(key_type, DhKeyPair):
        found, x = _ffdh_value(key_type.group_family, data, "private value")
        _check_ffdh_bits(bits, found)
        return FfdhPrivateKey(found, x)
    raise _invalid(f"{type(key_type).__name__} is not an asymmetric key pair type")


def load_public_key(key_type: KeyType, bits: int, data: bytes) -> PublicKey:
    """Parse ImportKey data of a public key (also a RawKeyAgreement peer key); InvalidArgument when malformed."""
    if isinstance(key_type, RsaPublicKey):
        return _load_rsa_public(bits, data)
    if isinstance(key_type, EccPublicKey):
        return load_ecc_public(key_type.curve_family, bits, data)
    if isinstance(key_type, DhPublicKey):
        key = load_ffdh_public(key_type.group_family, data)
        _check_ffdh_bits(bits, key.bits)
        return key
    raise _invalid(f"{type(key_type).__name__} is not a public key type")


def generate_private_key(key_type: KeyType, bits: int) -> PrivateKey:
    """A new key pair; RSA keys use e = 65537. NotSupported for a curve or group this module lacks."""
    if isinstance(key_type, RsaKeyPair):
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if isinstance(key_type, EccKeyPair):
        family = key_type.curve_family
        if family is EccFamily.MONTGOMERY:
            if bits == 255:
                return x25519.X25519PrivateKey.generate()
            if bits == 448:
                return x448.X448PrivateKey.generate()
            raise _unsupported(f"Montgomery curves have 255 or 448 bits, not {bits}")
        return ec.generate_private_key(ecc_curve(family, bits))
    if isinstance(key_type, DhKeyPair):
        prime = ffdh_prime(bits)
        return FfdhPrivateKey(bits, 2 + secrets.randbelow(prime - 3))
    raise _invalid(f"{type(key_type).__name__} is not an asymmetric key pair type")


def key_bits(key: PrivateKey | PublicKey) -> int:
    """The PSA key size in bits of a key object."""
    if isinstance(key, FfdhPrivateKey | FfdhPublicKey):
        return key.bits
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return 255
    if isinstance(key, x448.X448PrivateKey | x448.X448PublicKey):
        return 448
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return key.curve.key_size
    return key.key_size


def export_private_key(key: PrivateKey) -> bytes:
    """ExportKey's format for a key pair."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.private_bytes(Encoding.DER, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.private_numbers().private_value.to_bytes(byte_length(key.curve.key_size), "big")
    if isinstance(key, FfdhPrivateKey):
        return key.x.to_bytes(key.bits // 8, "big")
    return key.private_bytes_raw()


def export_public_key(key: PrivateKey | PublicKey) -> bytes:
    """ExportPublicKey's format, from a key pair or a public key."""
    public = key.public_key() if isinstance(key, PrivateKey) else key
    if isinstance(public, rsa.RSAPublicKey):
        return public.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if isinstance(public, FfdhPublicKey):
        return public.y.to_bytes(public.bits // 8, "big")
    return public.public_bytes_raw()


# ------------------------------------------------------------------------------------------- symmetric keys

_SYMMETRIC_SIZES: dict[type, frozenset[int]] = {
    Aes: frozenset({128, 192, 256}),
    Camellia: frozenset({128, 192, 256}),
    Chacha20: frozenset({256}),
    Des: frozenset({64, 128, 192}),
}
UNSTRUCTURED_TYPES = (RawData, Hmac, Derive, Aes, Camellia, Chacha20, Des, Arc4)
"""Key types whose material is just bytes."""


def check_symmetric_bits(key_type: KeyType, bits: int) -> None:
    """InvalidArgument unless `bits` is a valid size for an unstructured key of `key_type`."""
    sizes = _SYMMETRIC_SIZES.get(type(key_type))
    if sizes is not None:
        if bits not in sizes:
            raise _invalid(f"a {type(key_type).__name__} key has {sorted(sizes)} bits, not {bits}")
    elif isinstance(key_type, Arc4):
        if bits % 8 or not 40 <= bits <= 2048:
            raise _invalid(f"an ARC4 key has 40 to 2048 bits in whole bytes, not {bits}")
    elif bits <= 0 or bits % 8:
        raise _invalid(f"a {type(key_type).__name__} key needs a positive whole number of bytes, not {bits} bits")


def symmetric_key_bits(key_type: KeyType, bits: int, data: bytes) -> int:
    """The size of imported unstructured key material, checked against the type and a non-zero `bits`."""
    found = len(data) * 8
    if bits not in (0, found):
        raise _invalid(f"key_bits {bits} does not match the {found}-bit key in the data")
    check_symmetric_bits(key_type, found)
    return found


# ------------------------------------------------------------------------------------------ hashes, ECDSA

_HASHES: dict[Hash, type[hashes.HashAlgorithm]] = {
    Hash.MD5: hashes.MD5,
    Hash.SHA_1: hashes.SHA1,
    Hash.SHA_224: hashes.SHA224,
    Hash.SHA_256: hashes.SHA256,
    Hash.SHA_384: hashes.SHA384,
    Hash.SHA_512: hashes.SHA512,
    Hash.SHA_512_224: hashes.SHA512_224,
    Hash.SHA_512_256: hashes.SHA512_256,
    Hash.SHA3_224: hashes.SHA3_224,
    Hash.SHA3_256: hashes.SHA3_256,
    Hash.SHA3_384: hashes.SHA3_384,
    Hash.SHA3_512: hashes.SHA3_512,
}


def hash_algorithm(hash_alg: Hash) -> hashes.HashAlgorithm:
    """The `cryptography` hash for a PSA hash; NotSupported for MD2, MD4 and RIPEMD-160."""
    algorithm = _HASHES.get(hash_alg)
    if algorithm is None:
        raise _unsupported(f"{hash_alg.name} is not supported for this operation")
    return algorithm()


def ecdsa_signature_to_raw(der_signature: bytes, curve_bits: int) -> bytes:
    """DER `ECDSA-Sig-Value` → PSA's r‖s."""
    r, s = decode_dss_signature(der_signature)
    size = byte_length(curve_bits)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_signature_to_der(raw_signature: bytes, curve_bits: int) -> bytes:
    """PSA's r‖s → DER; InvalidSignature when the length is not twice the curve's scalar length."""
    size = byte_length(curve_bits)
    if len(raw_signature) != 2 * size:
        raise ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, f"an ECDSA signature on this curve is {2 * size} bytes")
    r, s = int.from_bytes(raw_signature[:size], "big"), int.from_bytes(raw_signature[size:], "big")
    return encode_dss_signature(r, s)


# ------------------------------------------------------------------------------------------------ RSA encryption


def rsa_plaintext_limit(modulus_bits: int, algorithm: AsymmetricEncryption) -> int:
    """The longest message RSA encryption takes (RFC 8017 §7.1.1, §7.2.1), for checking before a device sees it."""
    modulus_bytes = byte_length(modulus_bits)
    if isinstance(algorithm, RsaOaep):
        return modulus_bytes - 2 * hash_algorithm(algorithm.hash_alg).digest_size - 2
    return modulus_bytes - 11
