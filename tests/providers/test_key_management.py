"""Key life cycle on every provider: generate, import, export, export public, destroy, and their statuses.

Parsec's e2e suites create_destroy_key, import_key, export_key and export_public_key (svc:e2e_tests/tests/
per_provider/normal_tests/), with the formats of parsec-facts §3.8 checked by `cryptography`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)

from refimpl.ids import Opcode, Status
from refimpl.operations import DestroyKey, ExportKey, ExportPublicKey, GenerateKey, ImportKey
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import (
    Aes,
    Algorithm,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Ecdsa,
    Hash,
    KeyType,
    RawKeyAgreement,
    RsaKeyPair,
    RsaPkcs1v15Sign,
    RsaPublicKey,
)
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, status_of, template, unhex, vectors

SIGNING_P256 = template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True, verify_hash=True)


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, Opcode.PSA_DESTROY_KEY)
def test_generate_then_destroy(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", SIGNING_P256))
    point = run(provider, TENANT_A, ExportPublicKey("k")).data
    assert len(point) == 65 and point[0] == 0x04
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # on the curve, or ValueError

    run(provider, TENANT_A, DestroyKey("k"))
    assert status_of(provider, TENANT_A, ExportPublicKey("k")) is Status.PSA_ERROR_DOES_NOT_EXIST
    assert status_of(provider, TENANT_A, DestroyKey("k")) is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_generating_an_existing_name_is_already_exists_and_keeps_the_key(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", SIGNING_P256))
    before = run(provider, TENANT_A, ExportPublicKey("k")).data
    assert status_of(provider, TENANT_A, GenerateKey("k", SIGNING_P256)) is Status.PSA_ERROR_ALREADY_EXISTS
    assert run(provider, TENANT_A, ExportPublicKey("k")).data == before


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_a_taken_name_is_already_exists_before_the_template_is_looked_at(provider: KeyStoreProvider) -> None:
    """Parsec checks the name before the key type and the algorithm, on every provider (a key type or an algorithm
    the provider has no use for would otherwise answer NotSupported: tests/hardware/test_check_order.py)."""
    run(provider, TENANT_A, GenerateKey("k", SIGNING_P256))
    before = run(provider, TENANT_A, ExportPublicKey("k")).data
    for attributes in (template(Aes(), 128, encrypt=True), template(P256, 256, RawKeyAgreement.ECDH, derive=True)):
        assert status_of(provider, TENANT_A, GenerateKey("k", attributes)) is Status.PSA_ERROR_ALREADY_EXISTS
    assert run(provider, TENANT_A, ExportPublicKey("k")).data == before


@pytest.mark.needs(Opcode.PSA_DESTROY_KEY)
def test_destroying_an_unknown_key_is_does_not_exist(provider: KeyStoreProvider) -> None:
    assert status_of(provider, TENANT_A, DestroyKey("never-made")) is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_generated_rsa_key_has_the_requested_size_and_exponent_65537(provider: KeyStoreProvider) -> None:
    attributes = template(RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), sign_hash=True)
    run(provider, TENANT_A, GenerateKey("rsa", attributes))
    public = load_der_public_key(run(provider, TENANT_A, ExportPublicKey("rsa")).data)
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert public.public_numbers().e == 65537


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY)
def test_generating_a_public_key_type_is_invalid_argument(provider: KeyStoreProvider) -> None:
    attributes = template(P256_PUBLIC, 256, Ecdsa(Hash.SHA_256), verify_hash=True)
    assert status_of(provider, TENANT_A, GenerateKey("k", attributes)) is Status.PSA_ERROR_INVALID_ARGUMENT


PUBLIC_KEYS: dict[str, tuple[KeyType, int, Algorithm, str]] = {
    "rsa-2048": (RsaPublicKey(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), vectors("keys")["rsa2048"]["public_der"]),
    "p256": (P256_PUBLIC, 256, Ecdsa(Hash.SHA_256), vectors("keys")["ecc_p256_rfc6979"]["public_point"]),
}


@pytest.mark.parametrize("case", sorted(PUBLIC_KEYS))
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_imported_public_key_exports_unchanged(provider: KeyStoreProvider, case: str) -> None:
    key_type, bits, algorithm, data = PUBLIC_KEYS[case]
    run(provider, TENANT_A, ImportKey("pub", template(key_type, bits, algorithm, verify_hash=True), unhex(data)))
    assert run(provider, TENANT_A, ExportPublicKey("pub")).data == unhex(data)


@pytest.mark.parametrize("case", sorted(PUBLIC_KEYS))
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY)
def test_importing_with_key_bits_that_disagree_with_the_data_is_invalid_argument(
    provider: KeyStoreProvider, case: str
) -> None:
    key_type, bits, algorithm, data = PUBLIC_KEYS[case]
    wrong = template(key_type, 2 * bits, algorithm, verify_hash=True)
    assert status_of(provider, TENANT_A, ImportKey("pub", wrong, unhex(data))) is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda point: b"\x02" + point[1:33], id="compressed"),
        pytest.param(lambda point: point[:-1] + bytes([point[-1] ^ 1]), id="off-curve"),
        pytest.param(lambda point: point[:40], id="truncated"),
    ],
)
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_importing_a_malformed_point_is_invalid_argument_and_leaves_the_name_free(
    provider: KeyStoreProvider, mangle: Callable[[bytes], bytes]
) -> None:
    point = unhex(vectors("keys")["ecc_p256_rfc6979"]["public_point"])
    attributes = template(P256_PUBLIC, 256, Ecdsa(Hash.SHA_256), verify_hash=True)
    bad = ImportKey("pub", attributes, mangle(point))
    assert status_of(provider, TENANT_A, bad) is Status.PSA_ERROR_INVALID_ARGUMENT
    run(provider, TENANT_A, ImportKey("pub", attributes, point))
    assert run(provider, TENANT_A, ExportPublicKey("pub")).data == point


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_export_public_key_needs_no_usage_flag(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, Ecdsa(Hash.SHA_256))))
    assert len(run(provider, TENANT_A, ExportPublicKey("k")).data) == 65


# ------------------------------------------------------------------------------------------------ ExportKey


@pytest.mark.threat("A1-S-1", "U-2")
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_KEY)
def test_export_key_without_the_export_flag_is_not_permitted(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", SIGNING_P256))
    assert status_of(provider, TENANT_A, ExportKey("k")) is Status.PSA_ERROR_NOT_PERMITTED


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_exported_private_scalar_matches_the_public_key(provider: KeyStoreProvider) -> None:
    attributes = template(EccKeyPair(EccFamily.SECP_R1), 384, Ecdsa(Hash.SHA_384), export=True, sign_hash=True)
    run(provider, TENANT_A, GenerateKey("k", attributes))
    scalar = run(provider, TENANT_A, ExportKey("k")).data
    assert len(scalar) == 48
    derived = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP384R1()).public_key()
    exported = run(provider, TENANT_A, ExportPublicKey("k")).data
    assert derived.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) == exported


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_imported_key_pairs_export_in_psa_format(provider: KeyStoreProvider) -> None:
    keys = vectors("keys")
    rsa_der = unhex(keys["rsa2048"]["private_der"])
    p256 = keys["ecc_p256_rfc6979"]
    rsa_attributes = template(RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), export=True, sign_hash=True)
    p256_attributes = template(P256, 256, Ecdsa(Hash.SHA_256), export=True, sign_hash=True)
    run(provider, TENANT_A, ImportKey("rsa", rsa_attributes, rsa_der))
    run(provider, TENANT_A, ImportKey("p256", p256_attributes, unhex(p256["private_scalar"])))

    assert run(provider, TENANT_A, ExportKey("rsa")).data == rsa_der
    assert run(provider, TENANT_A, ExportPublicKey("rsa")).data == unhex(keys["rsa2048"]["public_der"])
    assert run(provider, TENANT_A, ExportKey("p256")).data == unhex(p256["private_scalar"])
    assert run(provider, TENANT_A, ExportPublicKey("p256")).data == unhex(p256["public_point"])


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_montgomery_private_keys_are_clamped_on_import_as_mbed_crypto_does(provider: KeyStoreProvider) -> None:
    x25519 = vectors("keys")["x25519_rfc7748"]
    attributes = template(EccKeyPair(EccFamily.MONTGOMERY), 255, RawKeyAgreement.ECDH, export=True, derive=True)
    run(provider, TENANT_A, ImportKey("x", attributes, unhex(x25519["alice_private"])))
    clamped = bytearray(unhex(x25519["alice_private"]))
    clamped[0] &= 248
    clamped[31] = (clamped[31] & 127) | 64
    assert run(provider, TENANT_A, ExportKey("x")).data == bytes(clamped)
    assert run(provider, TENANT_A, ExportPublicKey("x")).data == unhex(x25519["alice_public"])


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY)
def test_importing_a_pkcs8_rsa_key_is_invalid_argument(provider: KeyStoreProvider) -> None:
    key = load_der_private_key(unhex(vectors("keys")["rsa2048"]["private_der"]), password=None)
    pkcs8 = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    attributes = template(RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), export=True)
    assert status_of(provider, TENANT_A, ImportKey("rsa", attributes, pkcs8)) is Status.PSA_ERROR_INVALID_ARGUMENT
    assert status_of(provider, TENANT_A, ExportKey("rsa")) is Status.PSA_ERROR_DOES_NOT_EXIST


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY)
def test_public_keys_export_without_the_export_flag(provider: KeyStoreProvider) -> None:
    point = unhex(vectors("keys")["ecc_p256_rfc6979"]["public_point"])
    run(provider, TENANT_A, ImportKey("pub", template(EccPublicKey(EccFamily.SECP_R1), 256), point))
    assert run(provider, TENANT_A, ExportKey("pub")).data == point
