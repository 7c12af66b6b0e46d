"""Native PSA Crypto types: key types, algorithms, usage flags, policies and key attributes.

The nouns of the PSA Crypto API as Parsec carries them (`psa_key_attributes.proto`, `psa_algorithm.proto`;
the Rust `psa-crypto` crate's `types::key` and `types::algorithm`; parsec-facts §3.5–3.6). They are small frozen
dataclasses and enums so that providers, key info managers and the formal model can compare and hash them; the
protobuf converters in `refimpl.wire` turn wire messages into these and back. Enum values are the **protobuf**
numbers; the bincode indices Parsec's key info managers store are computed in `refimpl.psa.bincode`. They are plain
`Enum`s, not `IntEnum`s, so that members of different families never compare equal (SHA-256 and CBC-no-padding are
both 7 on the wire, yet a policy permitting one must not permit the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# --------------------------------------------------------------------------------------------------- enums


class Hash(Enum):
    MD2 = 1
    MD4 = 2
    MD5 = 3
    RIPEMD160 = 4
    SHA_1 = 5
    SHA_224 = 6
    SHA_256 = 7
    SHA_384 = 8
    SHA_512 = 9
    SHA_512_224 = 10
    SHA_512_256 = 11
    SHA3_224 = 12
    SHA3_256 = 13
    SHA3_384 = 14
    SHA3_512 = 15


DEPRECATED_HASHES = frozenset({Hash.MD2, Hash.MD4, Hash.MD5, Hash.SHA_1})


class EccFamily(Enum):
    SECP_K1 = 1
    SECP_R1 = 2
    SECP_R2 = 3
    SECT_K1 = 4
    SECT_R1 = 5
    SECT_R2 = 6
    BRAINPOOL_P_R1 = 7
    FRP = 8
    MONTGOMERY = 9


class DhFamily(Enum):
    RFC7919 = 0


class Cipher(Enum):
    STREAM_CIPHER = 1
    CTR = 2
    CFB = 3
    OFB = 4
    XTS = 5
    ECB_NO_PADDING = 6
    CBC_NO_PADDING = 7
    CBC_PKCS7 = 8


class AeadWithDefaultLengthTag(Enum):
    CCM = 1
    GCM = 2
    CHACHA20_POLY1305 = 3


class RawKeyAgreement(Enum):
    FFDH = 1
    ECDH = 2


# ----------------------------------------------------------------------------------------------- key types


@dataclass(frozen=True)
class RawData:
    pass


@dataclass(frozen=True)
class Hmac:
    pass


@dataclass(frozen=True)
class Derive:
    pass


@dataclass(frozen=True)
class Aes:
    pass


@dataclass(frozen=True)
class Des:
    pass


@dataclass(frozen=True)
class Camellia:
    pass


@dataclass(frozen=True)
class Arc4:
    pass


@dataclass(frozen=True)
class Chacha20:
    pass


@dataclass(frozen=True)
class RsaPublicKey:
    pass


@dataclass(frozen=True)
class RsaKeyPair:
    pass


@dataclass(frozen=True)
class EccKeyPair:
    curve_family: EccFamily


@dataclass(frozen=True)
class EccPublicKey:
    curve_family: EccFamily


@dataclass(frozen=True)
class DhKeyPair:
    group_family: DhFamily


@dataclass(frozen=True)
class DhPublicKey:
    group_family: DhFamily


KeyType = (
    RawData
    | Hmac
    | Derive
    | Aes
    | Des
    | Camellia
    | Arc4
    | Chacha20
    | RsaPublicKey
    | RsaKeyPair
    | EccKeyPair
    | EccPublicKey
    | DhKeyPair
    | DhPublicKey
)
ASYMMETRIC_KEY_PAIRS = (RsaKeyPair, EccKeyPair, DhKeyPair)
PUBLIC_KEYS = (RsaPublicKey, EccPublicKey, DhPublicKey)


# ---------------------------------------------------------------------------------------------- algorithms


@dataclass(frozen=True)
class AlgorithmNone:
    """Algorithm::None: the key may only be used for non-cryptographic actions such as export."""


@dataclass(frozen=True)
class AnyHash:
    """SignHash::Any: a wildcard hash, valid only in a key policy."""


SignHash = Hash | AnyHash


@dataclass(frozen=True)
class RsaPkcs1v15Sign:
    hash_alg: SignHash


@dataclass(frozen=True)
class RsaPkcs1v15SignRaw:
    pass


@dataclass(frozen=True)
class RsaPss:
    hash_alg: SignHash


@dataclass(frozen=True)
class Ecdsa:
    hash_alg: SignHash


@dataclass(frozen=True)
class EcdsaAny:
    pass


@dataclass(frozen=True)
class DeterministicEcdsa:
    hash_alg: SignHash


AsymmetricSignature = RsaPkcs1v15Sign | RsaPkcs1v15SignRaw | RsaPss | Ecdsa | EcdsaAny | DeterministicEcdsa


@dataclass(frozen=True)
class RsaPkcs1v15Crypt:
    pass


@dataclass(frozen=True)
class RsaOaep:
    hash_alg: Hash


AsymmetricEncryption = RsaPkcs1v15Crypt | RsaOaep


@dataclass(frozen=True)
class AeadDefaultTag:
    aead_alg: AeadWithDefaultLengthTag


@dataclass(frozen=True)
class AeadShortenedTag:
    aead_alg: AeadWithDefaultLengthTag
    tag_length: int


Aead = AeadDefaultTag | AeadShortenedTag


@dataclass(frozen=True)
class HmacAlg:
    hash_alg: Hash


@dataclass(frozen=True)
class CbcMac:
    pass


@dataclass(frozen=True)
class Cmac:
    pass


FullLengthMac = HmacAlg | CbcMac | Cmac


@dataclass(frozen=True)
class TruncatedMac:
    mac_alg: FullLengthMac
    mac_length: int


Mac = FullLengthMac | TruncatedMac


@dataclass(frozen=True)
class Hkdf:
    hash_alg: Hash


@dataclass(frozen=True)
class Tls12Prf:
    hash_alg: Hash


@dataclass(frozen=True)
class Tls12PskToMs:
    hash_alg: Hash


KeyDerivation = Hkdf | Tls12Prf | Tls12PskToMs


@dataclass(frozen=True)
class KeyAgreementWithKdf:
    ka_alg: RawKeyAgreement
    kdf_alg: KeyDerivation


KeyAgreement = RawKeyAgreement | KeyAgreementWithKdf

Algorithm = (
    AlgorithmNone
    | Hash
    | Mac
    | Cipher
    | Aead
    | AsymmetricSignature
    | AsymmetricEncryption
    | KeyAgreement
    | KeyDerivation
)
"""A key policy's permitted algorithm (psa_algorithm.Algorithm's `variant` oneof)."""


# ------------------------------------------------------------------------------------------ policy, attributes


@dataclass(frozen=True)
class UsageFlags:
    export: bool = False
    copy: bool = False
    cache: bool = False
    encrypt: bool = False
    decrypt: bool = False
    sign_message: bool = False
    verify_message: bool = False
    sign_hash: bool = False
    verify_hash: bool = False
    derive: bool = False


@dataclass(frozen=True)
class KeyPolicy:
    usage_flags: UsageFlags
    permitted_algorithms: Algorithm


@dataclass(frozen=True)
class KeyAttributes:
    """What a key is and what it may be used for. Lifetime is always persistent in Parsec."""

    key_type: KeyType
    bits: int
    policy: KeyPolicy
