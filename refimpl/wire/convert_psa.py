"""Converters between the PSA protobuf messages and `refimpl.psa.types` (key attributes and algorithms).

Parsec's `convert_psa_key_attributes.rs` and `convert_psa_algorithm.rs` (ifc:src/operations_protobuf/);
parsec-facts §3.5–3.6. Decoding enforces what protobuf itself cannot, and answers **InvalidEncoding** for it:
a mandatory sub-message left unset (key type, policy, usage flags, algorithm, a truncated MAC's inner MAC), a
`oneof` with no member set, an enum at its `*_NONE` value or outside the declared range. The native enums carry
the proto numbers, so the enum conversions are plain lookups. Encoding omits default values, as prost does.

Decoding also normalises the usage flags as Parsec does: parsec-interface 0.27 builds the native flags with
psa-crypto's setters (`UsageFlags::set_sign_hash` / `set_verify_hash`, psa:psa-crypto/src/types/key.rs), and those
also set `sign_message` / `verify_message` (`IMPLIED_USAGE`). A key created with sign_hash therefore holds, and
ListKeys reports, sign_message as well, whichever provider holds it: the rule lives here, in the protocol converter,
as it lives in Parsec's, not in a provider. Encoding writes the flags as they are (Parsec's getters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from enum import Enum
from typing import Any, TypeVar, cast

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.psa import types as t
from refimpl.wire.generated import psa_algorithm_pb2 as alg_pb
from refimpl.wire.generated import psa_key_attributes_pb2 as attr_pb

E = TypeVar("E", bound=Enum)

Pb = alg_pb.Algorithm
SignaturePb = Pb.AsymmetricSignature


def invalid(what: str) -> ParsecError:
    """InvalidEncoding, with the offending field named for the log (never for the client)."""
    return ParsecError(Status.INVALID_ENCODING, what)


def enum_value(enum: type[E], value: int, what: str) -> E:
    """A proto enum number as the native enum; `*_NONE` (absent from the native enum) and unknown → invalid."""
    try:
        return enum(value)
    except ValueError:
        raise invalid(f"{what}: {value} is not a valid {enum.__name__}") from None


def _variant(message: Any, what: str) -> str:
    which = message.WhichOneof("variant")
    if which is None:
        raise invalid(f"{what}: no variant is set")
    return cast(str, which)


def _required(message: Any, field: str, what: str) -> Any:
    if not message.HasField(field):
        raise invalid(f"{what}.{field} is missing")
    return getattr(message, field)


# ------------------------------------------------------------------------------------------ algorithms: decode


def hash_from_proto(value: int, what: str = "hash") -> t.Hash:
    return enum_value(t.Hash, value, what)


def _sign_hash_from_proto(message: SignaturePb.SignHash) -> t.SignHash:
    if _variant(message, "SignHash") == "any":
        return t.AnyHash()
    return hash_from_proto(message.specific, "SignHash.specific")


def asymmetric_signature_from_proto(message: SignaturePb) -> t.AsymmetricSignature:
    variant = _variant(message, "AsymmetricSignature")
    if variant == "rsa_pkcs1v15_sign_raw":
        return t.RsaPkcs1v15SignRaw()
    if variant == "ecdsa_any":
        return t.EcdsaAny()
    inner = getattr(message, variant)
    hash_alg = _sign_hash_from_proto(_required(inner, "hash_alg", variant))
    constructors: dict[str, type[t.RsaPkcs1v15Sign | t.RsaPss | t.Ecdsa | t.DeterministicEcdsa]] = {
        "rsa_pkcs1v15_sign": t.RsaPkcs1v15Sign,
        "rsa_pss": t.RsaPss,
        "ecdsa": t.Ecdsa,
        "deterministic_ecdsa": t.DeterministicEcdsa,
    }
    return constructors[variant](hash_alg)


def asymmetric_encryption_from_proto(message: Pb.AsymmetricEncryption) -> t.AsymmetricEncryption:
    if _variant(message, "AsymmetricEncryption") == "rsa_pkcs1v15_crypt":
        return t.RsaPkcs1v15Crypt()
    return t.RsaOaep(hash_from_proto(message.rsa_oaep.hash_alg, "RsaOaep.hash_alg"))


def aead_from_proto(message: Pb.Aead) -> t.Aead:
    aead = t.AeadWithDefaultLengthTag
    if _variant(message, "Aead") == "aead_with_default_length_tag":
        return t.AeadDefaultTag(enum_value(aead, message.aead_with_default_length_tag, "Aead"))
    shortened = message.aead_with_shortened_tag
    return t.AeadShortenedTag(enum_value(aead, shortened.aead_alg, "AeadWithShortenedTag"), shortened.tag_length)


def cipher_from_proto(value: int) -> t.Cipher:
    return enum_value(t.Cipher, value, "Cipher")


def raw_key_agreement_from_proto(value: int) -> t.RawKeyAgreement:
    return enum_value(t.RawKeyAgreement, value, "KeyAgreement.Raw")


def _full_mac_from_proto(message: Pb.Mac.FullLength) -> t.FullLengthMac:
    variant = _variant(message, "Mac.FullLength")
    if variant == "hmac":
        return t.HmacAlg(hash_from_proto(message.hmac.hash_alg, "Hmac.hash_alg"))
    return t.CbcMac() if variant == "cbc_mac" else t.Cmac()


def mac_from_proto(message: Pb.Mac) -> t.Mac:
    if _variant(message, "Mac") == "full_length":
        return _full_mac_from_proto(message.full_length)
    truncated = message.truncated
    return t.TruncatedMac(_full_mac_from_proto(_required(truncated, "mac_alg", "Mac.Truncated")), truncated.mac_length)


def _key_derivation_from_proto(message: Pb.KeyDerivation) -> t.KeyDerivation:
    variant = _variant(message, "KeyDerivation")
    constructors: dict[str, type[t.Hkdf | t.Tls12Prf | t.Tls12PskToMs]] = {
        "hkdf": t.Hkdf,
        "tls12_prf": t.Tls12Prf,
        "tls12_psk_to_ms": t.Tls12PskToMs,
    }
    return constructors[variant](hash_from_proto(getattr(message, variant).hash_alg, f"{variant}.hash_alg"))


def _key_agreement_from_proto(message: Pb.KeyAgreement) -> t.KeyAgreement:
    if _variant(message, "KeyAgreement") == "raw":
        return raw_key_agreement_from_proto(message.raw)
    combined = message.with_key_derivation
    return t.KeyAgreementWithKdf(
        raw_key_agreement_from_proto(combined.ka_alg),
        _key_derivation_from_proto(_required(combined, "kdf_alg", "KeyAgreement.WithKeyDerivation")),
    )


def algorithm_from_proto(message: Pb) -> t.Algorithm:
    """A key policy's permitted algorithm; `none` is valid (Algorithm::None), an unset oneof is not."""
    variant = _variant(message, "Algorithm")
    if variant == "none":
        return t.AlgorithmNone()
    if variant == "hash":
        return hash_from_proto(message.hash)
    if variant == "mac":
        return mac_from_proto(message.mac)
    if variant == "cipher":
        return cipher_from_proto(message.cipher)
    if variant == "aead":
        return aead_from_proto(message.aead)
    if variant == "asymmetric_signature":
        return asymmetric_signature_from_proto(message.asymmetric_signature)
    if variant == "asymmetric_encryption":
        return asymmetric_encryption_from_proto(message.asymmetric_encryption)
    if variant == "key_agreement":
        return _key_agreement_from_proto(message.key_agreement)
    return _key_derivation_from_proto(message.key_derivation)


# ------------------------------------------------------------------------------------------ algorithms: encode


def enum_number(value: Enum) -> Any:
    """A native enum as the proto field's value (mypy-protobuf types enum fields as NewTypes of int)."""
    return value.value


def _sign_hash_to_proto(hash_alg: t.SignHash, message: SignaturePb.SignHash) -> None:
    if isinstance(hash_alg, t.AnyHash):
        message.any.SetInParent()
    else:
        message.specific = enum_number(hash_alg)


def asymmetric_signature_to_proto(alg: t.AsymmetricSignature) -> SignaturePb:
    message = SignaturePb()
    if isinstance(alg, t.RsaPkcs1v15SignRaw):
        message.rsa_pkcs1v15_sign_raw.SetInParent()
    elif isinstance(alg, t.EcdsaAny):
        message.ecdsa_any.SetInParent()
    elif isinstance(alg, t.RsaPkcs1v15Sign):
        _sign_hash_to_proto(alg.hash_alg, message.rsa_pkcs1v15_sign.hash_alg)
    elif isinstance(alg, t.RsaPss):
        _sign_hash_to_proto(alg.hash_alg, message.rsa_pss.hash_alg)
    elif isinstance(alg, t.Ecdsa):
        _sign_hash_to_proto(alg.hash_alg, message.ecdsa.hash_alg)
    else:
        _sign_hash_to_proto(alg.hash_alg, message.deterministic_ecdsa.hash_alg)
    return message


def asymmetric_encryption_to_proto(alg: t.AsymmetricEncryption) -> Pb.AsymmetricEncryption:
    message = Pb.AsymmetricEncryption()
    if isinstance(alg, t.RsaPkcs1v15Crypt):
        message.rsa_pkcs1v15_crypt.SetInParent()
    else:
        message.rsa_oaep.hash_alg = enum_number(alg.hash_alg)
    return message


def aead_to_proto(alg: t.Aead) -> Pb.Aead:
    message = Pb.Aead()
    if isinstance(alg, t.AeadDefaultTag):
        message.aead_with_default_length_tag = enum_number(alg.aead_alg)
    else:
        message.aead_with_shortened_tag.aead_alg = enum_number(alg.aead_alg)
        message.aead_with_shortened_tag.tag_length = alg.tag_length
        message.aead_with_shortened_tag.SetInParent()
    return message


def _full_mac_to_proto(mac: t.FullLengthMac, message: Pb.Mac.FullLength) -> None:
    if isinstance(mac, t.HmacAlg):
        message.hmac.hash_alg = enum_number(mac.hash_alg)
        message.hmac.SetInParent()
    elif isinstance(mac, t.CbcMac):
        message.cbc_mac.SetInParent()
    else:
        message.cmac.SetInParent()


def mac_to_proto(mac: t.Mac) -> Pb.Mac:
    message = Pb.Mac()
    if isinstance(mac, t.TruncatedMac):
        _full_mac_to_proto(mac.mac_alg, message.truncated.mac_alg)
        message.truncated.mac_length = mac.mac_length
    else:
        _full_mac_to_proto(mac, message.full_length)
    return message


def _key_derivation_to_proto(kdf: t.KeyDerivation, message: Pb.KeyDerivation) -> None:
    if isinstance(kdf, t.Hkdf):
        inner: Any = message.hkdf
    elif isinstance(kdf, t.Tls12Prf):
        inner = message.tls12_prf
    else:
        inner = message.tls12_psk_to_ms
    inner.hash_alg = enum_number(kdf.hash_alg)
    inner.SetInParent()


def algorithm_to_proto(alg: t.Algorithm) -> Pb:
    """Dispatch on the class of the native algorithm."""
    message = Pb()
    if isinstance(alg, t.AlgorithmNone):
        message.none.SetInParent()
    elif type(alg) is t.Hash:
        message.hash = enum_number(alg)
    elif type(alg) is t.Cipher:
        message.cipher = enum_number(alg)
    elif type(alg) is t.RawKeyAgreement:
        message.key_agreement.raw = enum_number(alg)
    elif isinstance(alg, t.KeyAgreementWithKdf):
        message.key_agreement.with_key_derivation.ka_alg = enum_number(alg.ka_alg)
        _key_derivation_to_proto(alg.kdf_alg, message.key_agreement.with_key_derivation.kdf_alg)
    elif isinstance(alg, t.HmacAlg | t.CbcMac | t.Cmac | t.TruncatedMac):
        message.mac.CopyFrom(mac_to_proto(alg))
    elif isinstance(alg, t.AeadDefaultTag | t.AeadShortenedTag):
        message.aead.CopyFrom(aead_to_proto(alg))
    elif isinstance(alg, t.RsaPkcs1v15Crypt | t.RsaOaep):
        message.asymmetric_encryption.CopyFrom(asymmetric_encryption_to_proto(alg))
    elif isinstance(alg, t.Hkdf | t.Tls12Prf | t.Tls12PskToMs):
        _key_derivation_to_proto(alg, message.key_derivation)
    else:
        message.asymmetric_signature.CopyFrom(asymmetric_signature_to_proto(cast(t.AsymmetricSignature, alg)))
    return message


# ------------------------------------------------------------------------------------------ key attributes

KeyTypePb = attr_pb.KeyType

_PLAIN_KEY_TYPES: dict[str, Callable[[], t.KeyType]] = {
    "raw_data": t.RawData,
    "hmac": t.Hmac,
    "derive": t.Derive,
    "aes": t.Aes,
    "des": t.Des,
    "camellia": t.Camellia,
    "arc4": t.Arc4,
    "chacha20": t.Chacha20,
    "rsa_public_key": t.RsaPublicKey,
    "rsa_key_pair": t.RsaKeyPair,
}
_PLAIN_KEY_TYPE_FIELDS: dict[object, str] = {cls: name for name, cls in _PLAIN_KEY_TYPES.items()}
_USAGE_FLAGS = tuple(flag.name for flag in fields(t.UsageFlags))


def key_type_from_proto(message: KeyTypePb) -> t.KeyType:
    variant = _variant(message, "KeyType")
    plain = _PLAIN_KEY_TYPES.get(variant)
    if plain is not None:
        return plain()
    if variant == "ecc_key_pair":
        return t.EccKeyPair(enum_value(t.EccFamily, message.ecc_key_pair.curve_family, "EccKeyPair.curve_family"))
    if variant == "ecc_public_key":
        return t.EccPublicKey(enum_value(t.EccFamily, message.ecc_public_key.curve_family, "EccPublicKey.curve_family"))
    if variant == "dh_key_pair":
        return t.DhKeyPair(enum_value(t.DhFamily, message.dh_key_pair.group_family, "DhKeyPair.group_family"))
    return t.DhPublicKey(enum_value(t.DhFamily, message.dh_public_key.group_family, "DhPublicKey.group_family"))


IMPLIED_USAGE: dict[str, str] = {"sign_hash": "sign_message", "verify_hash": "verify_message"}
"""A usage flag → the flag psa-crypto's setter for it sets as well."""


def normalised_usage(flags: t.UsageFlags) -> t.UsageFlags:
    """`flags` with the flags psa-crypto's setters imply (`IMPLIED_USAGE`) set as well."""
    implied = {name: True for flag, name in IMPLIED_USAGE.items() if getattr(flags, flag)}
    return replace(flags, **implied) if implied else flags


def usage_flags_from_proto(flags: attr_pb.UsageFlags) -> t.UsageFlags:
    """The native flags, as parsec-interface's converter builds them: one setter per flag set, with its implications."""
    return normalised_usage(t.UsageFlags(**{name: bool(getattr(flags, name)) for name in _USAGE_FLAGS}))


def key_attributes_from_proto(message: attr_pb.KeyAttributes) -> t.KeyAttributes:
    """Key type, policy, usage flags and algorithm are all mandatory; the lifetime is always persistent."""
    key_type = key_type_from_proto(_required(message, "key_type", "KeyAttributes"))
    policy = _required(message, "key_policy", "KeyAttributes")
    usage = usage_flags_from_proto(_required(policy, "key_usage_flags", "KeyPolicy"))
    algorithm = algorithm_from_proto(_required(policy, "key_algorithm", "KeyPolicy"))
    return t.KeyAttributes(key_type=key_type, bits=message.key_bits, policy=t.KeyPolicy(usage, algorithm))


def key_type_to_proto(key_type: t.KeyType, message: KeyTypePb) -> None:
    plain = _PLAIN_KEY_TYPE_FIELDS.get(type(key_type))
    if plain is not None:
        getattr(message, plain).SetInParent()
    elif isinstance(key_type, t.EccKeyPair):
        message.ecc_key_pair.curve_family = enum_number(key_type.curve_family)
    elif isinstance(key_type, t.EccPublicKey):
        message.ecc_public_key.curve_family = enum_number(key_type.curve_family)
    elif isinstance(key_type, t.DhKeyPair):
        message.dh_key_pair.group_family = enum_number(key_type.group_family)
        message.dh_key_pair.SetInParent()
    elif isinstance(key_type, t.DhPublicKey):
        message.dh_public_key.group_family = enum_number(key_type.group_family)
        message.dh_public_key.SetInParent()
    else:
        raise TypeError(f"{key_type!r} is not a key type of refimpl.psa.types")


def key_attributes_to_proto(attributes: t.KeyAttributes, message: attr_pb.KeyAttributes) -> None:
    """Fill `message` (usually a sub-message field of an operation) from native attributes."""
    key_type_to_proto(attributes.key_type, message.key_type)
    message.key_bits = attributes.bits
    flags = message.key_policy.key_usage_flags
    for name in _USAGE_FLAGS:
        setattr(flags, name, getattr(attributes.policy.usage_flags, name))
    flags.SetInParent()
    message.key_policy.key_algorithm.CopyFrom(algorithm_to_proto(attributes.policy.permitted_algorithms))
