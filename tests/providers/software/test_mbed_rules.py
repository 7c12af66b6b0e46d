"""Rules of Parsec's Mbed Crypto provider that the other providers need not share, and the breadth of its crypto.

svc:src/providers/mbed_crypto/: deprecated primitives (parsec-facts §3.7), RSA sizes and `buffer_size_limit`
(§4.5), and the curves, hashes and modes `cryptography` gives the software provider beyond the common set.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_private_key

from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import (
    AeadDecrypt,
    AeadEncrypt,
    AsymmetricDecrypt,
    AsymmetricEncrypt,
    CanDoCrypto,
    CheckType,
    ExportPublicKey,
    GenerateKey,
    GenerateRandom,
    ImportKey,
    RawKeyAgreementOp,
    SignHash,
    VerifyHash,
)
from refimpl.providers.base import ProviderSettings
from refimpl.providers.software import SoftwareProvider
from refimpl.psa.types import (
    AeadShortenedTag,
    AeadWithDefaultLengthTag,
    Aes,
    Camellia,
    Des,
    DeterministicEcdsa,
    EccFamily,
    EccKeyPair,
    Ecdsa,
    EcdsaAny,
    Hash,
    KeyAttributes,
    RawKeyAgreement,
    RsaKeyPair,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPkcs1v15SignRaw,
    RsaPublicKey,
)
from tests.providers.helpers import P256, TENANT_A, run, status_of, template, unhex, vectors
from tests.providers.software.conftest import SoftwareFactory

SHA1_ECDSA = template(P256, 256, Ecdsa(Hash.SHA_1), sign_hash=True)


def test_generating_a_deprecated_template_is_deprecated_primitive(software: SoftwareProvider) -> None:
    for name, attributes in {
        "sha1": SHA1_ECDSA,
        "des": template(Des(), 64, None, encrypt=True),
        "oaep-md5": template(RsaKeyPair(), 2048, RsaOaep(Hash.MD5), encrypt=True),
    }.items():
        assert status_of(software, TENANT_A, GenerateKey(name, attributes)) is Status.DEPRECATED_PRIMITIVE


def test_allow_deprecated_lets_deprecated_templates_be_generated(
    tmp_path: Path, software_factory: SoftwareFactory
) -> None:
    provider = software_factory(settings=ProviderSettings(allow_deprecated=True, working_directory=tmp_path))
    run(provider, TENANT_A, GenerateKey("sha1", SHA1_ECDSA))
    signature = run(provider, TENANT_A, SignHash("sha1", Ecdsa(Hash.SHA_1), bytes(20))).signature
    assert len(signature) == 64


def test_importing_a_deprecated_template_only_warns(
    software: SoftwareProvider, caplog: pytest.LogCaptureFixture
) -> None:
    point = unhex(vectors("keys")["ecc_p256_rfc6979"]["private_scalar"])
    with caplog.at_level(logging.WARNING, logger="refimpl.providers.software"):
        run(software, TENANT_A, ImportKey("sha1", SHA1_ECDSA, point))
    assert any("deprecated" in record.getMessage() for record in caplog.records)
    assert len(run(software, TENANT_A, SignHash("sha1", Ecdsa(Hash.SHA_1), bytes(20))).signature) == 64


@pytest.mark.parametrize("bits", [512, 1000, 3072])
def test_rsa_sizes_other_than_1024_2048_4096_are_invalid_argument(software: SoftwareProvider, bits: int) -> None:
    attributes = template(RsaKeyPair(), bits, RsaPkcs1v15Sign(Hash.SHA_256), sign_hash=True)
    assert status_of(software, TENANT_A, GenerateKey("rsa", attributes)) is Status.PSA_ERROR_INVALID_ARGUMENT
    public = unhex(vectors("keys")["rsa2048"]["public_der"])
    imported = template(RsaPublicKey(), bits, RsaPkcs1v15Sign(Hash.SHA_256), verify_hash=True)
    assert status_of(software, TENANT_A, ImportKey("rsa", imported, public)) is Status.PSA_ERROR_INVALID_ARGUMENT


def test_import_records_the_requested_attributes_in_the_mapping_and_the_real_size_in_the_store(
    software: SoftwareProvider, key_info_manager: KeyInfoManager
) -> None:
    attributes = template(RsaPublicKey(), 0, RsaPkcs1v15Sign(Hash.SHA_256), verify_hash=True)
    run(software, TENANT_A, ImportKey("rsa", attributes, unhex(vectors("keys")["rsa2048"]["public_der"])))
    mapping = key_info_manager.get(software.key_identity(TENANT_A, "rsa"))
    assert mapping is not None and mapping.attributes == attributes  # as Parsec stores op.attributes
    assert software.load(1).attributes.bits == 2048


def test_random_beyond_buffer_size_limit_is_response_too_large(
    tmp_path: Path, software_factory: SoftwareFactory
) -> None:
    provider = software_factory(settings=ProviderSettings(buffer_size_limit=64, working_directory=tmp_path))
    assert len(run(provider, None, GenerateRandom(64)).random_bytes) == 64
    assert status_of(provider, None, GenerateRandom(65)) is Status.RESPONSE_TOO_LARGE


HASH_CLASSES: dict[Hash, type[hashes.HashAlgorithm]] = {
    Hash.SHA_224: hashes.SHA224,
    Hash.SHA_256: hashes.SHA256,
    Hash.SHA_384: hashes.SHA384,
    Hash.SHA_512: hashes.SHA512,
}
CURVES = {
    "secp256k1": (EccFamily.SECP_K1, 256, ec.SECP256K1(), Hash.SHA_256),
    "p521": (EccFamily.SECP_R1, 521, ec.SECP521R1(), Hash.SHA_512),
    "p224": (EccFamily.SECP_R1, 224, ec.SECP224R1(), Hash.SHA_224),
    "brainpool-p384": (EccFamily.BRAINPOOL_P_R1, 384, ec.BrainpoolP384R1(), Hash.SHA_384),
}


@pytest.mark.parametrize("name", sorted(CURVES))
def test_more_curves_sign_and_verify(software: SoftwareProvider, name: str) -> None:
    family, bits, curve, hash_alg = CURVES[name]
    algorithm = DeterministicEcdsa(hash_alg)
    run(software, TENANT_A, GenerateKey("k", template(EccKeyPair(family), bits, algorithm, sign_hash=True)))
    digest = hashlib.new(hash_alg.name.lower().replace("_", ""), b"curve").digest()
    signature = run(software, TENANT_A, SignHash("k", algorithm, digest)).signature
    assert len(signature) == 2 * ((bits + 7) // 8)
    assert signature == run(software, TENANT_A, SignHash("k", algorithm, digest)).signature  # deterministic
    public = ec.EllipticCurvePublicKey.from_encoded_point(curve, run(software, TENANT_A, ExportPublicKey("k")).data)
    size = len(signature) // 2
    der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
    public.verify(der, digest, ec.ECDSA(Prehashed(HASH_CLASSES[hash_alg]())))


def test_unsupported_curves_are_not_supported(software: SoftwareProvider) -> None:
    """Sizes psa-crypto's table knows, on curves Mbed Crypto does not implement: NotSupported from Mbed Crypto."""
    for family, bits in ((EccFamily.SECT_K1, 233), (EccFamily.SECP_K1, 192)):
        attributes = template(EccKeyPair(family), bits, Ecdsa(Hash.SHA_256), sign_hash=True)
        assert status_of(software, TENANT_A, GenerateKey("k", attributes)) is Status.PSA_ERROR_NOT_SUPPORTED


def test_sizes_outside_psa_cryptos_table_are_invalid_arguments(software: SoftwareProvider) -> None:
    """psa-crypto converts Parsec's attributes before Mbed Crypto sees them and refuses a size its table does not
    list for the family with InvalidArgument (as Parsec 1.1.0 answers SECP_R1 with 260 bits)."""
    for family, bits in ((EccFamily.SECP_R1, 200), (EccFamily.SECP_R1, 260), (EccFamily.SECT_K1, 163)):
        attributes = template(EccKeyPair(family), bits, Ecdsa(Hash.SHA_256), sign_hash=True)
        assert status_of(software, TENANT_A, GenerateKey("k", attributes)) is Status.PSA_ERROR_INVALID_ARGUMENT


def test_x448_agrees_with_cryptography(software: SoftwareProvider) -> None:
    ecdh = RawKeyAgreement.ECDH
    run(software, TENANT_A, GenerateKey("x", template(EccKeyPair(EccFamily.MONTGOMERY), 448, ecdh, derive=True)))
    ours = x448.X448PublicKey.from_public_bytes(run(software, TENANT_A, ExportPublicKey("x")).data)
    peer = x448.X448PrivateKey.generate()
    agreed = run(software, TENANT_A, RawKeyAgreementOp(ecdh, "x", peer.public_key().public_bytes_raw()))
    assert agreed.shared_secret == peer.exchange(ours)


def test_ecdsa_any_signs_standard_digest_sizes_only(software: SoftwareProvider) -> None:
    run(software, TENANT_A, GenerateKey("k", template(P256, 256, EcdsaAny(), sign_hash=True, verify_hash=True)))
    for digest in (bytes(20), bytes(32), bytes(64)):
        signature = run(software, TENANT_A, SignHash("k", EcdsaAny(), digest)).signature
        run(software, TENANT_A, VerifyHash("k", EcdsaAny(), digest, signature))
    assert status_of(software, TENANT_A, SignHash("k", EcdsaAny(), bytes(17))) is Status.PSA_ERROR_NOT_SUPPORTED


def _raw_pkcs1v15_signature(private_der: bytes, message: bytes) -> bytes:
    """EMSA-PKCS1-v1_5 without DigestInfo, signed with the textbook RSA private operation (test-side only)."""
    key = load_der_private_key(private_der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers, size = key.private_numbers(), key.key_size // 8
    encoded = b"\x00\x01" + b"\xff" * (size - len(message) - 3) + b"\x00" + message
    return pow(int.from_bytes(encoded, "big"), numbers.d, numbers.public_numbers.n).to_bytes(size, "big")


def test_raw_pkcs1v15_signatures_verify_but_are_not_made(software: SoftwareProvider) -> None:
    private_der = unhex(vectors("keys")["rsa2048"]["private_der"])
    raw = RsaPkcs1v15SignRaw()
    run(
        software,
        TENANT_A,
        ImportKey("rsa", template(RsaKeyPair(), 2048, raw, sign_hash=True, verify_hash=True), private_der),
    )
    message = b"raw data, no DigestInfo"
    signature = _raw_pkcs1v15_signature(private_der, message)
    run(software, TENANT_A, VerifyHash("rsa", raw, message, signature))
    assert status_of(software, TENANT_A, VerifyHash("rsa", raw, b"other", signature)) is (
        Status.PSA_ERROR_INVALID_SIGNATURE
    )
    assert status_of(software, TENANT_A, SignHash("rsa", raw, message)) is Status.PSA_ERROR_NOT_SUPPORTED


def test_an_ecc_key_under_an_rsa_policy_is_not_permitted(software: SoftwareProvider) -> None:
    algorithm = RsaPkcs1v15Sign(Hash.SHA_256)
    run(software, TENANT_A, GenerateKey("k", template(P256, 256, algorithm, sign_hash=True)))
    assert status_of(software, TENANT_A, SignHash("k", algorithm, bytes(32))) is Status.PSA_ERROR_NOT_PERMITTED


def test_gcm_with_a_shortened_tag_round_trips(software: SoftwareProvider) -> None:
    algorithm = AeadShortenedTag(AeadWithDefaultLengthTag.GCM, 12)
    run(software, TENANT_A, GenerateKey("k", template(Aes(), 128, algorithm, encrypt=True, decrypt=True)))
    nonce = bytes(12)
    sealed = run(software, TENANT_A, AeadEncrypt("k", algorithm, nonce, b"ad", b"plaintext")).ciphertext
    assert len(sealed) == len(b"plaintext") + 12
    assert run(software, TENANT_A, AeadDecrypt("k", algorithm, nonce, b"ad", sealed)).plaintext == b"plaintext"
    tampered = AeadDecrypt("k", algorithm, nonce, b"ad", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    assert status_of(software, TENANT_A, tampered) is Status.PSA_ERROR_INVALID_SIGNATURE


@pytest.mark.threat("A2-I-2", "M-1")
def test_pkcs1v15_decryption_never_reveals_whether_the_padding_was_valid(software: SoftwareProvider) -> None:
    """OpenSSL's implicit rejection (the Marvin-attack fix): a bad ciphertext decrypts to unrelated bytes."""
    algorithm = RsaPkcs1v15Crypt()
    run(software, TENANT_A, GenerateKey("rsa", template(RsaKeyPair(), 2048, algorithm, encrypt=True, decrypt=True)))
    ciphertext = run(software, TENANT_A, AsymmetricEncrypt("rsa", algorithm, b"secret", None)).ciphertext
    corrupted = ciphertext[:100] + bytes([ciphertext[100] ^ 0xFF]) + ciphertext[101:]
    first = run(software, TENANT_A, AsymmetricDecrypt("rsa", algorithm, corrupted, None)).plaintext
    assert first != b"secret"
    assert run(software, TENANT_A, AsymmetricDecrypt("rsa", algorithm, corrupted, None)).plaintext == first


CAN_DO: dict[str, tuple[CheckType, KeyAttributes, Status]] = {
    "generate-secp256k1": (
        CheckType.GENERATE,
        template(EccKeyPair(EccFamily.SECP_K1), 256, Ecdsa(Hash.SHA_256), sign_hash=True),
        Status.SUCCESS,
    ),
    "generate-unsupported-curve": (
        CheckType.GENERATE,
        template(EccKeyPair(EccFamily.SECP_R1), 200, Ecdsa(Hash.SHA_256), sign_hash=True),
        Status.PSA_ERROR_NOT_SUPPORTED,
    ),
    "use-aes-gcm": (
        CheckType.USE,
        template(Aes(), 256, AeadShortenedTag(AeadWithDefaultLengthTag.GCM, 12), encrypt=True),
        Status.SUCCESS,
    ),
    "use-camellia-gcm": (
        CheckType.USE,
        template(Camellia(), 128, AeadShortenedTag(AeadWithDefaultLengthTag.GCM, 16), encrypt=True),
        Status.PSA_ERROR_NOT_SUPPORTED,
    ),
    "use-raw-rsa-signing": (
        CheckType.USE,
        template(RsaKeyPair(), 2048, RsaPkcs1v15SignRaw(), sign_hash=True),
        Status.PSA_ERROR_NOT_SUPPORTED,
    ),
    "use-raw-rsa-verification": (
        CheckType.USE,
        template(RsaKeyPair(), 2048, RsaPkcs1v15SignRaw(), verify_hash=True),
        Status.SUCCESS,
    ),
    "use-rsa-without-size": (
        CheckType.USE,
        template(RsaPublicKey(), 0, RsaPkcs1v15Sign(Hash.SHA_256), verify_hash=True),
        Status.PSA_ERROR_NOT_SUPPORTED,
    ),
    "use-ripemd160-signing": (
        CheckType.USE,
        template(P256, 256, Ecdsa(Hash.RIPEMD160), sign_hash=True),
        Status.PSA_ERROR_NOT_SUPPORTED,
    ),
    "import-rsa-without-size-or-algorithm": (CheckType.IMPORT, template(RsaPublicKey(), 0), Status.SUCCESS),
}


@pytest.mark.parametrize("case", sorted(CAN_DO))
def test_can_do_crypto_answers_from_what_the_provider_implements(software: SoftwareProvider, case: str) -> None:
    check, attributes, expected = CAN_DO[case]
    assert status_of(software, TENANT_A, CanDoCrypto(check, attributes)) is expected
