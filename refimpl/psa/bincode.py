"""Key attributes and key ids in the bincode layout Parsec's key info managers store (parsec-facts §4.7).

Parsec serialises `psa_crypto::types::key::Attributes` and the provider key id with bincode's default options
(little-endian, fixed-width integers, u64 length prefixes) before writing them to the SQLite or OnDisk store
(svc:src/key_info_managers/sqlite_manager/mod.rs, on_disk_manager/mod.rs). serde writes a Rust enum as its
variant index (u32) in **declaration order** of `psa:psa-crypto/src/types/{key,algorithm}.rs`, then the variant's
fields in order; `usize` becomes u64 and `bool` one byte. Those indices are not the protobuf numbers that
`refimpl.psa.types` uses, so every mapping lives here, written once as a table.

Layout of `Attributes`: lifetime (Volatile 0, Persistent 1, Custom(u32) 2) · key_type (u32 index, plus a u32 family
for ECC/DH) · bits (u64) · usage flags (10 bool bytes) · permitted algorithm (nested enums).
"""

from __future__ import annotations

import struct
from dataclasses import fields
from typing import TypeVar, cast

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
    Camellia,
    CbcMac,
    Chacha20,
    Cipher,
    Cmac,
    Derive,
    Des,
    DeterministicEcdsa,
    DhFamily,
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
    KeyDerivation,
    KeyPolicy,
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

__all__ = [
    "BincodeError",
    "decode_attributes",
    "decode_key_id_u32",
    "decode_key_info",
    "encode_attributes",
    "encode_key_id_u32",
    "encode_key_info",
]


class BincodeError(ValueError):
    """Stored bytes that are not a valid bincode encoding of the expected Rust value."""


LIFETIME_VOLATILE, LIFETIME_PERSISTENT, LIFETIME_CUSTOM = 0, 1, 2

# `psa_crypto::types::key::Type` in declaration order; ECC and DH variants carry a family.
KEY_TYPE_INDEX: dict[type, int] = {
    RawData: 0,
    Hmac: 1,
    Derive: 2,
    Aes: 3,
    Des: 4,
    Camellia: 5,
    Arc4: 6,
    Chacha20: 7,
    RsaPublicKey: 8,
    RsaKeyPair: 9,
    EccKeyPair: 10,
    EccPublicKey: 11,
    DhKeyPair: 12,
    DhPublicKey: 13,
}
KEY_TYPE_OF_INDEX: dict[int, type] = {index: cls for cls, index in KEY_TYPE_INDEX.items()}

# `psa_crypto::types::algorithm::Algorithm` in declaration order.
ALG_NONE, ALG_HASH, ALG_MAC, ALG_CIPHER, ALG_AEAD, ALG_SIGN, ALG_ENCRYPT, ALG_AGREEMENT, ALG_DERIVATION = range(9)
SIGNATURE_INDEX: dict[type, int] = {
    RsaPkcs1v15Sign: 0,
    RsaPkcs1v15SignRaw: 1,
    RsaPss: 2,
    Ecdsa: 3,
    EcdsaAny: 4,
    DeterministicEcdsa: 5,
}
SIGNATURE_OF_INDEX: dict[int, type] = {index: cls for cls, index in SIGNATURE_INDEX.items()}
DERIVATION_INDEX: dict[type, int] = {Hkdf: 0, Tls12Prf: 1, Tls12PskToMs: 2}
DERIVATION_OF_INDEX: dict[int, type] = {index: cls for cls, index in DERIVATION_INDEX.items()}
FULL_MAC_INDEX: dict[type, int] = {HmacAlg: 0, CbcMac: 1, Cmac: 2}
SIGN_HASH_SPECIFIC, SIGN_HASH_ANY = 0, 1  # `SignHash::Specific(Hash)` is declared before `Any`
MAC_FULL_LENGTH, MAC_TRUNCATED = 0, 1
AEAD_DEFAULT_TAG, AEAD_SHORTENED_TAG = 0, 1
AGREEMENT_RAW, AGREEMENT_WITH_KDF = 0, 1
ENCRYPTION_PKCS1V15, ENCRYPTION_OAEP = 0, 1

# The IntEnums of refimpl.psa.types are numbered like the protobuf enums; psa-crypto's indices start at 0 and
# follow the same order except where the proto has a leading *_NONE, so the index is value − offset.
ENUM_OFFSET: dict[type, int] = {
    Hash: 1,
    EccFamily: 1,
    DhFamily: 0,
    Cipher: 1,
    AeadWithDefaultLengthTag: 1,
    RawKeyAgreement: 1,
}

E = TypeVar("E", Hash, EccFamily, DhFamily, Cipher, AeadWithDefaultLengthTag, RawKeyAgreement)

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


# ------------------------------------------------------------------------------------------------ encoding


def _u32(value: int) -> bytes:
    return _U32.pack(value)


def _u64(value: int) -> bytes:
    return _U64.pack(value)


def _enum(value: Hash | EccFamily | DhFamily | Cipher | AeadWithDefaultLengthTag | RawKeyAgreement) -> bytes:
    return _u32(value.value - ENUM_OFFSET[type(value)])


def _key_type(key_type: KeyType) -> bytes:
    index = _u32(KEY_TYPE_INDEX[type(key_type)])
    if isinstance(key_type, EccKeyPair | EccPublicKey):
        return index + _enum(key_type.curve_family)
    if isinstance(key_type, DhKeyPair | DhPublicKey):
        return index + _enum(key_type.group_family)
    return index


def _sign_hash(hash_alg: SignHash) -> bytes:
    if isinstance(hash_alg, AnyHash):
        return _u32(SIGN_HASH_ANY)
    return _u32(SIGN_HASH_SPECIFIC) + _enum(hash_alg)


def _full_mac(mac: HmacAlg | CbcMac | Cmac) -> bytes:
    index = _u32(FULL_MAC_INDEX[type(mac)])
    return index + _enum(mac.hash_alg) if isinstance(mac, HmacAlg) else index


def _derivation(kdf: KeyDerivation) -> bytes:
    return _u32(DERIVATION_INDEX[type(kdf)]) + _enum(kdf.hash_alg)


def _algorithm(alg: Algorithm) -> bytes:
    """Dispatch on the Python class; IntEnums are tested by exact type since they compare equal across enums."""
    if isinstance(alg, AlgorithmNone):
        return _u32(ALG_NONE)
    if type(alg) is Hash:
        return _u32(ALG_HASH) + _enum(alg)
    if isinstance(alg, HmacAlg | CbcMac | Cmac):
        return _u32(ALG_MAC) + _u32(MAC_FULL_LENGTH) + _full_mac(alg)
    if isinstance(alg, TruncatedMac):
        return _u32(ALG_MAC) + _u32(MAC_TRUNCATED) + _full_mac(alg.mac_alg) + _u64(alg.mac_length)
    if type(alg) is Cipher:
        return _u32(ALG_CIPHER) + _enum(alg)
    if isinstance(alg, AeadDefaultTag):
        return _u32(ALG_AEAD) + _u32(AEAD_DEFAULT_TAG) + _enum(alg.aead_alg)
    if isinstance(alg, AeadShortenedTag):
        return _u32(ALG_AEAD) + _u32(AEAD_SHORTENED_TAG) + _enum(alg.aead_alg) + _u64(alg.tag_length)
    if isinstance(alg, RsaPkcs1v15SignRaw | EcdsaAny):
        return _u32(ALG_SIGN) + _u32(SIGNATURE_INDEX[type(alg)])
    if isinstance(alg, RsaPkcs1v15Sign | RsaPss | Ecdsa | DeterministicEcdsa):
        return _u32(ALG_SIGN) + _u32(SIGNATURE_INDEX[type(alg)]) + _sign_hash(alg.hash_alg)
    if isinstance(alg, RsaPkcs1v15Crypt):
        return _u32(ALG_ENCRYPT) + _u32(ENCRYPTION_PKCS1V15)
    if isinstance(alg, RsaOaep):
        return _u32(ALG_ENCRYPT) + _u32(ENCRYPTION_OAEP) + _enum(alg.hash_alg)
    if type(alg) is RawKeyAgreement:
        return _u32(ALG_AGREEMENT) + _u32(AGREEMENT_RAW) + _enum(alg)
    if isinstance(alg, KeyAgreementWithKdf):
        return _u32(ALG_AGREEMENT) + _u32(AGREEMENT_WITH_KDF) + _enum(alg.ka_alg) + _derivation(alg.kdf_alg)
    if isinstance(alg, Hkdf | Tls12Prf | Tls12PskToMs):
        return _u32(ALG_DERIVATION) + _derivation(alg)
    raise TypeError(f"{alg!r} is not an algorithm of refimpl.psa.types")


def encode_attributes(attributes: KeyAttributes) -> bytes:
    """bincode(psa_crypto Attributes) with lifetime Persistent, as Parsec's key info managers store it."""
    flags = attributes.policy.usage_flags
    return b"".join(
        (
            _u32(LIFETIME_PERSISTENT),
            _key_type(attributes.key_type),
            _u64(attributes.bits),
            bytes(getattr(flags, flag.name) for flag in fields(UsageFlags)),
            _algorithm(attributes.policy.permitted_algorithms),
        )
    )


def encode_key_id_u32(key_id: int) -> bytes:
    """bincode(u32): a PSA key id (Mbed Crypto) or PKCS#11 CKA_ID as Parsec stores it, 4 bytes little-endian."""
    return _u32(key_id)


def decode_key_id_u32(data: bytes) -> int:
    if len(data) != 4:
        raise BincodeError(f"a u32 key id is 4 bytes, got {len(data)}")
    return int(_U32.unpack(data)[0])


def encode_key_info(key_id: bytes, attributes: KeyAttributes) -> bytes:
    """bincode(KeyInfo {id: Vec<u8>, attributes}): the content of an OnDisk KIM mapping file."""
    return _u64(len(key_id)) + key_id + encode_attributes(attributes)


# ------------------------------------------------------------------------------------------------ decoding


class _Reader:
    """A cursor over bincode bytes; every read names what it expected when the data runs out."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise BincodeError(f"truncated: {what} needs {size} bytes at offset {self.offset}, {len(self.data)} total")
        chunk = bytes(self.data[self.offset : end])
        self.offset = end
        return chunk

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(4, what))[0])

    def u64(self, what: str) -> int:
        return int(_U64.unpack(self.take(8, what))[0])

    def boolean(self, what: str) -> bool:
        byte = self.take(1, what)[0]
        if byte > 1:
            raise BincodeError(f"{what}: bool byte must be 0 or 1, got {byte}")
        return byte == 1

    def index(self, what: str, count: int) -> int:
        value = self.u32(what)
        if value >= count:
            raise BincodeError(f"{what}: variant index {value} is out of range (0..{count - 1})")
        return value

    def enum(self, enum: type[E], what: str) -> E:
        return enum(self.index(what, len(enum)) + ENUM_OFFSET[enum])

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise BincodeError(f"{len(self.data) - self.offset} trailing bytes after offset {self.offset}")


def _read_key_type(reader: _Reader) -> KeyType:
    cls = KEY_TYPE_OF_INDEX[reader.index("key_type", len(KEY_TYPE_INDEX))]
    if cls in (EccKeyPair, EccPublicKey):
        return cls(reader.enum(EccFamily, "curve_family"))
    if cls in (DhKeyPair, DhPublicKey):
        return cls(reader.enum(DhFamily, "group_family"))
    return cast(KeyType, cls())


def _read_sign_hash(reader: _Reader) -> SignHash:
    if reader.index("SignHash", 2) == SIGN_HASH_ANY:
        return AnyHash()
    return reader.enum(Hash, "SignHash::Specific")


def _read_full_mac(reader: _Reader) -> HmacAlg | CbcMac | Cmac:
    index = reader.index("FullLengthMac", len(FULL_MAC_INDEX))
    if index == FULL_MAC_INDEX[HmacAlg]:
        return HmacAlg(reader.enum(Hash, "Hmac.hash_alg"))
    return CbcMac() if index == FULL_MAC_INDEX[CbcMac] else Cmac()


def _read_derivation(reader: _Reader) -> KeyDerivation:
    cls = DERIVATION_OF_INDEX[reader.index("KeyDerivation", len(DERIVATION_INDEX))]
    return cast(KeyDerivation, cls(reader.enum(Hash, "KeyDerivation.hash_alg")))


def _read_algorithm(reader: _Reader) -> Algorithm:
    kind = reader.index("Algorithm", 9)
    if kind == ALG_NONE:
        return AlgorithmNone()
    if kind == ALG_HASH:
        return reader.enum(Hash, "Algorithm::Hash")
    if kind == ALG_MAC:
        if reader.index("Mac", 2) == MAC_FULL_LENGTH:
            return _read_full_mac(reader)
        return TruncatedMac(_read_full_mac(reader), reader.u64("Mac::Truncated.mac_length"))
    if kind == ALG_CIPHER:
        return reader.enum(Cipher, "Algorithm::Cipher")
    if kind == ALG_AEAD:
        if reader.index("Aead", 2) == AEAD_DEFAULT_TAG:
            return AeadDefaultTag(reader.enum(AeadWithDefaultLengthTag, "Aead::AeadWithDefaultLengthTag"))
        aead_alg = reader.enum(AeadWithDefaultLengthTag, "AeadWithShortenedTag.aead_alg")
        return AeadShortenedTag(aead_alg, reader.u64("AeadWithShortenedTag.tag_length"))
    if kind == ALG_SIGN:
        cls = SIGNATURE_OF_INDEX[reader.index("AsymmetricSignature", len(SIGNATURE_INDEX))]
        if cls in (RsaPkcs1v15SignRaw, EcdsaAny):
            return cls()
        return cast(AsymmetricSignature, cls(_read_sign_hash(reader)))
    if kind == ALG_ENCRYPT:
        if reader.index("AsymmetricEncryption", 2) == ENCRYPTION_PKCS1V15:
            return RsaPkcs1v15Crypt()
        return RsaOaep(reader.enum(Hash, "RsaOaep.hash_alg"))
    if kind == ALG_AGREEMENT:
        if reader.index("KeyAgreement", 2) == AGREEMENT_RAW:
            return reader.enum(RawKeyAgreement, "KeyAgreement::Raw")
        ka_alg = reader.enum(RawKeyAgreement, "WithKeyDerivation.ka_alg")
        return KeyAgreementWithKdf(ka_alg, _read_derivation(reader))
    return _read_derivation(reader)


def _read_attributes(reader: _Reader) -> KeyAttributes:
    lifetime = reader.index("lifetime", 3)
    if lifetime != LIFETIME_PERSISTENT:
        raise BincodeError(f"lifetime variant {lifetime} is not Persistent (1); Parsec only stores persistent keys")
    key_type = _read_key_type(reader)
    bits = reader.u64("bits")
    usage = UsageFlags(**{flag.name: reader.boolean(f"usage_flags.{flag.name}") for flag in fields(UsageFlags)})
    return KeyAttributes(key_type, bits, KeyPolicy(usage, _read_algorithm(reader)))


def decode_attributes(data: bytes) -> KeyAttributes:
    """The inverse of `encode_attributes`; raises `BincodeError` naming the first bad field."""
    reader = _Reader(data)
    attributes = _read_attributes(reader)
    reader.finish()
    return attributes


def decode_key_info(data: bytes) -> tuple[bytes, KeyAttributes]:
    """The inverse of `encode_key_info`: (provider key id bytes, attributes)."""
    reader = _Reader(data)
    key_id = reader.take(reader.u64("KeyInfo.id length"), "KeyInfo.id")
    attributes = _read_attributes(reader)
    reader.finish()
    return key_id, attributes
