"""The concrete side of the bridge between the model and a service: key templates, local keys, result checks.

The model (`model.nouns.KeyAttributes`) knows a key only by its kind and usage flags; a service needs a full PSA
template (`refimpl.psa.types.KeyAttributes`) and real key material. This module makes both, once per kind, and
checks what the service answers with an independent implementation (`cryptography`): a signature must verify with
the key's public key, decrypt(encrypt(x)) must be x, an exported key must match what was imported or the public
key the service gives, an ECDH secret must match the one computed locally, and a TPM key's name must be the digest
of the public area PrepareKeyAttestation gives (the verifier's TPM2_MakeCredential is done here too). Formats are
Parsec's (parsec-facts §3.8): ECDSA signatures are r‖s, ECC public keys uncompressed points, RSA keys PKCS#1 DER.

The RSA encryption kind uses OAEP with SHA-256 by default: with PKCS#1 v1.5, OpenSSL's implicit rejection (3.2
and later) answers a forged ciphertext with a random plaintext instead of PsaErrorInvalidPadding, which Parsec's
Mbed Crypto provider returns and the model predicts. A provider that offers only PKCS#1 v1.5 gets it instead
(`ENCRYPTION_ALGORITHMS`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tpm2_pytss.types import TPM2B_NAME
from tpm2_pytss.utils import NoSuchIndex, create_ek_template, make_credential

from model.nouns import KeyAttributes as ModelAttributes
from model.nouns import KeyKind, Usage
from model.nouns import ProviderId as ModelProviderId
from refimpl.ids import ProviderId
from refimpl.psa import types as t

SIGN_ALGORITHM = t.Ecdsa(t.Hash.SHA_256)
"""The one signature algorithm the machine asks for: ECDSA over P-256 with SHA-256, which every provider has."""
AEAD_ALGORITHM = t.AeadDefaultTag(t.AeadWithDefaultLengthTag.GCM)
AGREEMENT_ALGORITHM = t.RawKeyAgreement.ECDH
HASH_ALGORITHM = t.Hash.SHA_256

ENCRYPTION_ALGORITHMS: dict[ModelProviderId, t.AsymmetricEncryption] = {
    ModelProviderId.MBED_CRYPTO: t.RsaOaep(t.Hash.SHA_256),
    ModelProviderId.PKCS11: t.RsaPkcs1v15Crypt(),
    ModelProviderId.TPM: t.RsaOaep(t.Hash.SHA_256),
}
"""The RSA encryption algorithm of each provider's RSA keys (SoftHSM2's OAEP is SHA-1 only, a deprecated hash)."""

RSA_BITS: dict[ModelProviderId, int] = {
    ModelProviderId.MBED_CRYPTO: 1024,
    ModelProviderId.PKCS11: 1024,
    ModelProviderId.TPM: 2048,
}
"""RSA key size per provider: the smallest Parsec accepts (1024) where the provider has it, since generating RSA
keys dominates a campaign's time; the TPM's RSA keys are 2048 bits."""
ECC_BITS = 256
AES_BITS = 256

RELEVANT_USAGE: dict[KeyKind, tuple[Usage, ...]] = {
    KeyKind.ECC_SIGN_PAIR: (Usage.SIGN_HASH, Usage.VERIFY_HASH, Usage.EXPORT),
    KeyKind.RSA_ENCRYPT_PAIR: (Usage.ENCRYPT, Usage.DECRYPT, Usage.EXPORT),
    KeyKind.ECDH_PAIR: (Usage.DERIVE, Usage.EXPORT),
    KeyKind.AES: (Usage.ENCRYPT, Usage.DECRYPT, Usage.EXPORT),
    KeyKind.ECC_PUBLIC: (Usage.VERIFY_HASH, Usage.EXPORT),
    KeyKind.RSA_PUBLIC: (Usage.ENCRYPT, Usage.EXPORT),
}
"""The usage flags that mean something for each kind; the machine draws a key's flags among these."""

PAIR_OF_PUBLIC: dict[KeyKind, KeyKind] = {
    KeyKind.ECC_PUBLIC: KeyKind.ECC_SIGN_PAIR,
    KeyKind.RSA_PUBLIC: KeyKind.RSA_ENCRYPT_PAIR,
}


def wire_provider(provider: ModelProviderId) -> ProviderId:
    """The wire provider ID of a model provider (the model uses Parsec's numbers)."""
    return ProviderId(int(provider))


def wire_attributes(
    attributes: ModelAttributes, provider: ModelProviderId, encryption: t.AsymmetricEncryption | None = None
) -> t.KeyAttributes:
    """The PSA template a service receives for a model key of this kind and usage, on this provider (`encryption`
    replaces the provider's RSA encryption algorithm)."""
    flags = t.UsageFlags(**{usage.value: True for usage in attributes.usage})
    key_type, bits, algorithm = _template(attributes.kind, provider)
    if encryption is not None and isinstance(algorithm, t.RsaOaep | t.RsaPkcs1v15Crypt):
        algorithm = encryption
    return t.KeyAttributes(key_type=key_type, bits=bits, policy=t.KeyPolicy(flags, algorithm))


def _template(kind: KeyKind, provider: ModelProviderId) -> tuple[t.KeyType, int, t.Algorithm]:
    secp_r1 = t.EccFamily.SECP_R1
    match kind:
        case KeyKind.ECC_SIGN_PAIR:
            return t.EccKeyPair(secp_r1), ECC_BITS, SIGN_ALGORITHM
        case KeyKind.ECC_PUBLIC:
            return t.EccPublicKey(secp_r1), ECC_BITS, SIGN_ALGORITHM
        case KeyKind.RSA_ENCRYPT_PAIR:
            return t.RsaKeyPair(), rsa_bits(provider), encryption_algorithm(provider)
        case KeyKind.RSA_PUBLIC:
            return t.RsaPublicKey(), rsa_bits(provider), encryption_algorithm(provider)
        case KeyKind.ECDH_PAIR:
            return t.EccKeyPair(secp_r1), ECC_BITS, AGREEMENT_ALGORITHM
        case KeyKind.AES:
            return t.Aes(), AES_BITS, AEAD_ALGORITHM
    raise ValueError(f"no template for key kind {kind!r}")


def encryption_algorithm(provider: ModelProviderId) -> t.AsymmetricEncryption:
    return ENCRYPTION_ALGORITHMS.get(provider, t.RsaOaep(t.Hash.SHA_256))


def rsa_bits(provider: ModelProviderId) -> int:
    return RSA_BITS.get(provider, 2048)


# ----------------------------------------------------------------------------------------------- local keys


@dataclass(frozen=True)
class LocalKey:
    """Key material the fuzzer holds itself: what it imports, and what lets it check and forge nothing.

    `data` is the import format of the kind; `public` the ExportPublicKey format (None for AES); `secret` the
    private object (`ec`/`rsa` private key) or the AES key bytes.
    """

    kind: KeyKind
    data: bytes
    public: bytes | None
    secret: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | bytes


LOCAL_KEYS_PER_KIND = 2
"""Distinct local keys of each kind (an import draws one); two suffice to tell a right key from a wrong one."""


@cache
def local_key(kind: KeyKind, index: int, bits: int = 1024) -> LocalKey:
    """The `index`-th local key of `kind` (RSA: of `bits`), the same for the whole process (RSA keys are made
    once, lazily)."""
    if kind in PAIR_OF_PUBLIC:
        pair = local_key(PAIR_OF_PUBLIC[kind], index, bits)
        assert pair.public is not None
        return LocalKey(kind, pair.public, pair.public, pair.secret)
    if kind is KeyKind.RSA_ENCRYPT_PAIR:
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        data = private_rsa.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        return LocalKey(kind, data, rsa_public_bytes(private_rsa.public_key()), private_rsa)
    seed = hashlib.sha256(f"parsec-tm conformance {kind.value} {index}".encode()).digest()
    if kind is KeyKind.AES:
        return LocalKey(kind, seed[: AES_BITS // 8], None, seed[: AES_BITS // 8])
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's n
    scalar = int.from_bytes(seed, "big") % (order - 1) + 1
    private_ec = ec.derive_private_key(scalar, ec.SECP256R1())
    return LocalKey(kind, scalar.to_bytes(32, "big"), ec_public_bytes(private_ec.public_key()), private_ec)


def ec_public_bytes(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def rsa_public_bytes(public: rsa.RSAPublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def public_of_export(kind: KeyKind, exported: bytes) -> bytes | None:
    """The ExportPublicKey form of an ExportKey answer, or None if `exported` is not a valid key of `kind`."""
    try:
        if kind in (KeyKind.ECC_SIGN_PAIR, KeyKind.ECDH_PAIR):
            if len(exported) != ECC_BITS // 8:
                return None
            private_ec = ec.derive_private_key(int.from_bytes(exported, "big"), ec.SECP256R1())
            return ec_public_bytes(private_ec.public_key())
        if kind is KeyKind.RSA_ENCRYPT_PAIR:
            private = serialization.load_der_private_key(exported, password=None)
            return rsa_public_bytes(private.public_key()) if isinstance(private, rsa.RSAPrivateKey) else None
        if kind in PAIR_OF_PUBLIC:
            return exported
    except ValueError:
        return None
    return None


# ------------------------------------------------------------------------------------------------- checks


def digest(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def sign_locally(secret: ec.EllipticCurvePrivateKey, hash_value: bytes) -> bytes:
    """An ECDSA signature in Parsec's r‖s form."""
    r, s = decode_dss_signature(secret.sign(hash_value, ec.ECDSA(Prehashed(hashes.SHA256()))))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_verifies(public: bytes, hash_value: bytes, signature: bytes) -> bool:
    """Whether an r‖s signature over `hash_value` verifies with an uncompressed P-256 point."""
    if len(signature) != 64:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        key.verify(der, hash_value, ec.ECDSA(Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        return False
    return True


def _rsa_padding(algorithm: t.AsymmetricEncryption) -> padding.AsymmetricPadding:
    if isinstance(algorithm, t.RsaOaep):
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return padding.PKCS1v15()


def rsa_encrypt(public: bytes, algorithm: t.AsymmetricEncryption, plaintext: bytes) -> bytes:
    """Encrypt with a PKCS#1 DER RSA public key (the ExportPublicKey format)."""
    key = serialization.load_der_public_key(public)
    assert isinstance(key, rsa.RSAPublicKey)
    return key.encrypt(plaintext, _rsa_padding(algorithm))


def rsa_decrypt(secret: rsa.RSAPrivateKey, algorithm: t.AsymmetricEncryption, ciphertext: bytes) -> bytes | None:
    try:
        return secret.decrypt(ciphertext, _rsa_padding(algorithm))
    except ValueError:
        return None


def aead_encrypt(secret: bytes, nonce: bytes, additional_data: bytes, plaintext: bytes) -> bytes:
    return AESGCM(secret).encrypt(nonce, plaintext, additional_data)


def ecdh_secret(secret: ec.EllipticCurvePrivateKey, peer_public: bytes) -> bytes:
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
    return secret.exchange(ec.ECDH(), peer)


# ------------------------------------------------------------------------------------- TPM key attestation

TPM_NAME_HASHES = {0x0004: hashlib.sha1, 0x000B: hashlib.sha256, 0x000C: hashlib.sha384, 0x000D: hashlib.sha512}
"""TPM_ALG_ID → hash, for a TPM name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC) (TPM 2.0 Part 1, §16)."""


def tpm_name_matches(name: bytes, public: bytes) -> bool:
    """Whether `name` is the TPM name of the marshalled TPMT_PUBLIC `public` (its nameAlg is bytes 2–3)."""
    algorithm = public[2:4]
    hash_function = TPM_NAME_HASHES.get(int.from_bytes(algorithm, "big")) if len(public) >= 4 else None
    return hash_function is not None and name == algorithm + hash_function(public).digest()


def _no_ek_template(index: int) -> bytes:
    raise NoSuchIndex(index)


def seal_credential(endorsement_key: bytes, name: bytes, credential: bytes) -> tuple[bytes, bytes]:
    """The verifier's TPM2_MakeCredential in software: `credential` sealed to the TCG default RSA 2048 EK whose
    public key (DER PKCS#1) is `endorsement_key`, bound to the TPM name `name`; (credential blob, secret)."""
    ek = create_ek_template("EK-RSA2048", _no_ek_template)[1]
    public = serialization.load_der_public_key(endorsement_key)
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("the attesting key is not an RSA key")
    ek.publicArea.unique.rsa = public.public_numbers().n.to_bytes(public.key_size // 8, "big")
    blob, secret = make_credential(ek, credential, TPM2B_NAME(name))
    return bytes(blob.marshal()), bytes(secret.marshal())


def other_tpm_name(name: bytes) -> bytes:
    """A well-formed TPM name that is not `name`: a credential bound to it fails the TPM's integrity check."""
    hash_function = TPM_NAME_HASHES.get(int.from_bytes(name[:2], "big"), hashlib.sha256)
    return name[:2] + hash_function(b"not " + name).digest()
