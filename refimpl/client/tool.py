"""What parsec-tool's verbs do beyond one request: key templates, local hashing, signature and key formats.

parsec-tool 0.7.0 (tool:src/subcommands/*.rs; parsec-facts §7.3). `create-ecc-key` makes a secp256r1 ECDSA-SHA-256
key and `create-rsa-key` a 2048-bit RSA PKCS#1 v1.5 encryption key (or a signing / OAEP one); `sign` hashes the
text locally with the key's policy hash, asks the service to sign the hash and, for ECDSA, re-encodes PSA's raw
r‖s as DER; `encrypt`/`decrypt` use the key's policy algorithm without salt; `export-public-key` wraps PSA's
export format (PKCS#1 RSAPublicKey, uncompressed EC point) into a PEM SubjectPublicKeyInfo. The command line in
`parsec_tm.cli.client` only parses arguments and prints what these return.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from refimpl.client.basic_client import BasicClient
from refimpl.psa import types as t

LOCAL_HASHES = {t.Hash.SHA_224: "sha224", t.Hash.SHA_256: "sha256", t.Hash.SHA_384: "sha384", t.Hash.SHA_512: "sha512"}
"""The hashes parsec-tool computes itself before PsaSignHash."""

CURVES: dict[tuple[t.EccFamily, int], ec.EllipticCurve] = {
    (t.EccFamily.SECP_R1, 192): ec.SECP192R1(),
    (t.EccFamily.SECP_R1, 224): ec.SECP224R1(),
    (t.EccFamily.SECP_R1, 256): ec.SECP256R1(),
    (t.EccFamily.SECP_R1, 384): ec.SECP384R1(),
    (t.EccFamily.SECP_R1, 521): ec.SECP521R1(),
    (t.EccFamily.SECP_K1, 256): ec.SECP256K1(),
}
"""Curves parsec-tool can export; the binary SECT curves it also lists are gone from pyca/cryptography."""


class ToolError(Exception):
    """The key cannot be used the way the verb needs (wrong algorithm, unsupported curve, bad input)."""


SIGNING_FLAGS = t.UsageFlags(sign_hash=True, verify_hash=True, sign_message=True, verify_message=True)


def ecc_key_attributes() -> t.KeyAttributes:
    """`create-ecc-key`: secp256r1, ECDSA with SHA-256."""
    policy = t.KeyPolicy(SIGNING_FLAGS, t.Ecdsa(t.Hash.SHA_256))
    return t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, policy)


def rsa_key_attributes(for_signing: bool = False, bits: int = 2048, oaep: bool = False) -> t.KeyAttributes:
    """`create-rsa-key`: PKCS#1 v1.5 encryption by default; `for_signing` → PKCS#1 v1.5 SHA-256 signatures."""
    if for_signing:
        policy = t.KeyPolicy(SIGNING_FLAGS, t.RsaPkcs1v15Sign(t.Hash.SHA_256))
    else:
        alg: t.AsymmetricEncryption = t.RsaOaep(t.Hash.SHA_256) if oaep else t.RsaPkcs1v15Crypt()
        policy = t.KeyPolicy(t.UsageFlags(encrypt=True, decrypt=True), alg)
    return t.KeyAttributes(t.RsaKeyPair(), bits, policy)


def _signature_alg(attributes: t.KeyAttributes, key_name: str) -> tuple[t.AsymmetricSignature, t.Hash]:
    alg = attributes.policy.permitted_algorithms
    hash_alg = getattr(alg, "hash_alg", None)
    if not isinstance(alg, t.RsaPkcs1v15Sign | t.RsaPss | t.Ecdsa | t.DeterministicEcdsa):
        raise ToolError(f"key {key_name!r} has algorithm {alg!r}, which cannot be used for signing")
    if type(hash_alg) is not t.Hash or hash_alg not in LOCAL_HASHES:
        raise ToolError(f"key {key_name!r}: hash {hash_alg!r} is not one parsec-tool computes (SHA-224…SHA-512)")
    return alg, hash_alg


def sign(client: BasicClient, key_name: str, data: bytes) -> bytes:
    """The signature of `data` as parsec-tool prints it (before base64): DER for ECDSA, raw for RSA."""
    alg, hash_alg = _signature_alg(client.key_attributes(key_name), key_name)
    signature = client.psa_sign_hash(key_name, hashlib.new(LOCAL_HASHES[hash_alg], data).digest(), alg)
    if isinstance(alg, t.Ecdsa | t.DeterministicEcdsa):
        half = len(signature) // 2
        return encode_dss_signature(int.from_bytes(signature[:half]), int.from_bytes(signature[half:]))
    return signature


def verify(client: BasicClient, key_name: str, data: bytes, signature: bytes) -> None:
    """The inverse of `sign`: raises ClientError(PsaErrorInvalidSignature) when the signature does not match."""
    attributes = client.key_attributes(key_name)
    alg, hash_alg = _signature_alg(attributes, key_name)
    if isinstance(alg, t.Ecdsa | t.DeterministicEcdsa):
        size = (attributes.bits + 7) // 8
        try:
            r, s = decode_dss_signature(signature)
        except ValueError as error:
            raise ToolError(f"the signature is not a DER ECDSA signature: {error}") from None
        signature = r.to_bytes(size) + s.to_bytes(size)
    client.psa_verify_hash(key_name, hashlib.new(LOCAL_HASHES[hash_alg], data).digest(), alg, signature)


def _encryption_alg(client: BasicClient, key_name: str) -> t.AsymmetricEncryption:
    alg = client.key_attributes(key_name).policy.permitted_algorithms
    if not isinstance(alg, t.RsaPkcs1v15Crypt | t.RsaOaep):
        raise ToolError(f"key {key_name!r} has algorithm {alg!r}; only asymmetric encryption keys are supported")
    return alg


def encrypt(client: BasicClient, key_name: str, plaintext: bytes) -> bytes:
    return client.psa_asymmetric_encrypt(key_name, _encryption_alg(client, key_name), plaintext)


def decrypt(client: BasicClient, key_name: str, ciphertext: bytes) -> bytes:
    return client.psa_asymmetric_decrypt(key_name, _encryption_alg(client, key_name), ciphertext)


def public_key_pem(client: BasicClient, key_name: str, pkcs1: bool = False) -> str:
    """The public key as PEM: SubjectPublicKeyInfo ("PUBLIC KEY"), or PKCS#1 ("RSA PUBLIC KEY") with `pkcs1`."""
    data = client.psa_export_public_key(key_name)
    attributes = client.key_attributes(key_name)
    key_type = attributes.key_type
    if isinstance(key_type, t.RsaKeyPair | t.RsaPublicKey):
        key = serialization.load_der_public_key(data)
        encoding = serialization.PublicFormat.PKCS1 if pkcs1 else serialization.PublicFormat.SubjectPublicKeyInfo
        return key.public_bytes(serialization.Encoding.PEM, encoding).decode()
    if isinstance(key_type, t.EccKeyPair | t.EccPublicKey):
        if pkcs1:
            raise ToolError("PKCS#1 has no format for ECC keys; drop --pkcs1")
        curve = CURVES.get((key_type.curve_family, attributes.bits))
        if curve is None:
            raise ToolError(f"no PEM form here for {key_type.curve_family.name} {attributes.bits}-bit keys")
        point = ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
        return point.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raise ToolError(f"key {key_name!r} is a {type(key_type).__name__}; only RSA and ECC public keys export to PEM")
