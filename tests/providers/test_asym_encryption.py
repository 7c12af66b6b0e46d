"""AsymmetricEncrypt and AsymmetricDecrypt on every provider: RSA PKCS#1 v1.5 and OAEP, interop and statuses.

Parsec's e2e asym_encryption suite; validation of ifc:src/operations/psa_asymmetric_{en,de}crypt.rs (usage flag,
algorithm, key type, non-empty input, no salt with PKCS#1 v1.5); the OAEP label is the request's salt. OAEP with
SHA-256 and OAEP labels run where the provider type declares `Capability.OAEP_ANY_HASH` / `OAEP_LABEL` (SoftHSM2
does OAEP with SHA-1 and no label only; the TPM changes labels): where it does not, the request is NotSupported.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from refimpl.ids import Opcode, Status
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricEncrypt,
    CanDoCrypto,
    CheckType,
    ExportKey,
    ExportPublicKey,
    GenerateKey,
    ImportKey,
)
from refimpl.providers.base import Capability, KeyStoreProvider
from refimpl.psa.types import AsymmetricEncryption, Hash, RsaKeyPair, RsaOaep, RsaPkcs1v15Crypt, RsaPublicKey
from tests.providers.helpers import TENANT_A, run, status_of, template, unhex, vectors

CRYPT = (
    Opcode.PSA_GENERATE_KEY,
    Opcode.PSA_ASYMMETRIC_ENCRYPT,
    Opcode.PSA_ASYMMETRIC_DECRYPT,
    Opcode.PSA_EXPORT_PUBLIC_KEY,
)
OAEP = RsaOaep(Hash.SHA_256)
PKCS1 = RsaPkcs1v15Crypt()
MESSAGE = b"a short secret"


def _padding(algorithm: AsymmetricEncryption, label: bytes | None = None) -> padding.AsymmetricPadding:
    if isinstance(algorithm, RsaOaep):
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    return padding.PKCS1v15()


def _rsa_key(provider: KeyStoreProvider, algorithm: AsymmetricEncryption, **flags: bool) -> rsa.RSAPublicKey:
    flags = flags or {"encrypt": True, "decrypt": True}
    run(provider, TENANT_A, GenerateKey("rsa", template(RsaKeyPair(), 2048, algorithm, **flags)))
    public = load_der_public_key(run(provider, TENANT_A, ExportPublicKey("rsa")).data)
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def _round_trip(provider: KeyStoreProvider, algorithm: AsymmetricEncryption) -> None:
    public = _rsa_key(provider, algorithm)
    ciphertext = run(provider, TENANT_A, AsymmetricEncrypt("rsa", algorithm, MESSAGE, None)).ciphertext
    assert len(ciphertext) == 256
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", algorithm, ciphertext, None)).plaintext == MESSAGE

    outside = public.encrypt(MESSAGE, _padding(algorithm))  # encrypted by a client holding only the public key
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", algorithm, outside, None)).plaintext == MESSAGE


@pytest.mark.needs(*CRYPT)
def test_pkcs1v15_round_trips_through_the_provider_and_cryptography(provider: KeyStoreProvider) -> None:
    _round_trip(provider, PKCS1)


@pytest.mark.needs(*CRYPT, Capability.OAEP_ANY_HASH)
def test_oaep_sha256_round_trips_through_the_provider_and_cryptography(provider: KeyStoreProvider) -> None:
    _round_trip(provider, OAEP)


@pytest.mark.needs(*CRYPT, Capability.OAEP_ANY_HASH, Capability.OAEP_LABEL)
def test_the_oaep_label_is_the_salt_and_must_match(provider: KeyStoreProvider) -> None:
    public = _rsa_key(provider, OAEP)
    ciphertext = public.encrypt(MESSAGE, _padding(OAEP, b"label"))
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", OAEP, ciphertext, b"label")).plaintext == MESSAGE
    for wrong in (None, b"other"):
        decrypt = AsymmetricDecrypt("rsa", OAEP, ciphertext, wrong)
        assert status_of(provider, TENANT_A, decrypt) is Status.PSA_ERROR_INVALID_PADDING


@pytest.mark.needs(*CRYPT, Capability.OAEP_ANY_HASH)
def test_an_oaep_label_ending_in_a_zero_byte_works_everywhere_oaep_does(provider: KeyStoreProvider) -> None:
    """The TPM takes a label as a C string: one that already ends in its zero byte reaches it unchanged."""
    label = b"label\x00"
    public = _rsa_key(provider, OAEP)
    outside = public.encrypt(MESSAGE, _padding(OAEP, label))
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", OAEP, outside, label)).plaintext == MESSAGE
    inside = run(provider, TENANT_A, AsymmetricEncrypt("rsa", OAEP, MESSAGE, label)).ciphertext
    assert run(provider, TENANT_A, AsymmetricDecrypt("rsa", OAEP, inside, label)).plaintext == MESSAGE
    without_label = AsymmetricDecrypt("rsa", OAEP, inside, None)
    assert status_of(provider, TENANT_A, without_label) is Status.PSA_ERROR_INVALID_PADDING


@pytest.mark.needs(*CRYPT, Capability.OAEP_ANY_HASH)
@pytest.mark.lacks(Capability.OAEP_LABEL)
def test_an_oaep_label_the_device_would_change_is_not_supported(provider: KeyStoreProvider) -> None:
    public = _rsa_key(provider, OAEP)
    ciphertext = public.encrypt(MESSAGE, _padding(OAEP, b"label"))
    for operation in (
        AsymmetricDecrypt("rsa", OAEP, ciphertext, b"label"),
        AsymmetricEncrypt("rsa", OAEP, MESSAGE, b"label"),
    ):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_NOT_SUPPORTED, operation


@pytest.mark.needs(*CRYPT)
@pytest.mark.lacks(Capability.OAEP_ANY_HASH)
def test_oaep_with_a_hash_the_device_lacks_is_not_supported(provider: KeyStoreProvider) -> None:
    public = _rsa_key(provider, OAEP)
    outside = public.encrypt(MESSAGE, _padding(OAEP))
    for operation in (AsymmetricEncrypt("rsa", OAEP, MESSAGE, None), AsymmetricDecrypt("rsa", OAEP, outside, None)):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_NOT_SUPPORTED, operation
    use = CanDoCrypto(CheckType.USE, template(RsaKeyPair(), 2048, OAEP, encrypt=True, decrypt=True))
    assert status_of(provider, TENANT_A, use) is Status.PSA_ERROR_NOT_SUPPORTED


@pytest.mark.needs(*CRYPT, Capability.OAEP_ANY_HASH)
def test_a_corrupted_oaep_ciphertext_is_invalid_padding(provider: KeyStoreProvider) -> None:
    _rsa_key(provider, OAEP)
    ciphertext = run(provider, TENANT_A, AsymmetricEncrypt("rsa", OAEP, MESSAGE, None)).ciphertext
    corrupted = ciphertext[:100] + bytes([ciphertext[100] ^ 0xFF]) + ciphertext[101:]
    decrypt = AsymmetricDecrypt("rsa", OAEP, corrupted, None)
    assert status_of(provider, TENANT_A, decrypt) is Status.PSA_ERROR_INVALID_PADDING


@pytest.mark.needs(*CRYPT)
def test_argument_errors_are_invalid_argument(provider: KeyStoreProvider) -> None:
    _rsa_key(provider, PKCS1)
    for operation in (
        AsymmetricEncrypt("rsa", PKCS1, MESSAGE, b"salt"),
        AsymmetricEncrypt("rsa", PKCS1, b"", None),
        AsymmetricEncrypt("rsa", PKCS1, bytes(300), None),
        AsymmetricDecrypt("rsa", PKCS1, bytes(256), b"salt"),
        AsymmetricDecrypt("rsa", PKCS1, b"", None),
    ):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_INVALID_ARGUMENT, operation


@pytest.mark.needs(*CRYPT)
def test_missing_flags_and_other_algorithms_are_not_permitted(provider: KeyStoreProvider) -> None:
    """The policy is checked first, so every provider answers NotPermitted, even one that cannot run the OAEP."""
    public = _rsa_key(provider, OAEP, encrypt=True)
    ciphertext = public.encrypt(MESSAGE, _padding(OAEP))
    for operation in (
        AsymmetricDecrypt("rsa", OAEP, ciphertext, None),  # no decrypt flag
        AsymmetricEncrypt("rsa", PKCS1, MESSAGE, None),  # the policy names OAEP
        AsymmetricEncrypt("rsa", RsaOaep(Hash.SHA_384), MESSAGE, None),
    ):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_NOT_PERMITTED, operation


@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_ASYMMETRIC_ENCRYPT, Opcode.PSA_ASYMMETRIC_DECRYPT)
def test_a_public_key_encrypts_but_cannot_decrypt(provider: KeyStoreProvider) -> None:
    public_der = unhex(vectors("keys")["rsa2048"]["public_der"])
    run(
        provider,
        TENANT_A,
        ImportKey("pub", template(RsaPublicKey(), 2048, PKCS1, encrypt=True, decrypt=True), public_der),
    )
    ciphertext = run(provider, TENANT_A, AsymmetricEncrypt("pub", PKCS1, MESSAGE, None)).ciphertext
    assert len(ciphertext) == 256
    decrypt = AsymmetricDecrypt("pub", PKCS1, ciphertext, None)
    assert status_of(provider, TENANT_A, decrypt) is Status.PSA_ERROR_INVALID_ARGUMENT


KNOWN_CIPHERTEXTS: dict[str, tuple[AsymmetricEncryption, str, str | None]] = {
    "pkcs1v15": (PKCS1, "pkcs1v15_ciphertext", None),
    "oaep": (OAEP, "oaep_sha256_ciphertext", None),
    "oaep-labelled": (OAEP, "oaep_sha256_labelled_ciphertext", "oaep_sha256_label"),
}


@pytest.mark.parametrize("name", sorted(KNOWN_CIPHERTEXTS))
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_ASYMMETRIC_DECRYPT)
def test_an_imported_key_pair_decrypts_known_ciphertexts(provider: KeyStoreProvider, name: str) -> None:
    algorithm, ciphertext_field, label_field = KNOWN_CIPHERTEXTS[name]
    data = vectors("keys")["rsa2048"]
    private_der = unhex(data["private_der"])
    run(
        provider,
        TENANT_A,
        ImportKey("rsa", template(RsaKeyPair(), 0, algorithm, decrypt=True, export=True), private_der),
    )
    assert run(provider, TENANT_A, ExportKey("rsa")).data == private_der
    label = unhex(data[label_field]) if label_field else None
    decrypt = AsymmetricDecrypt("rsa", algorithm, unhex(data[ciphertext_field]), label)
    assert run(provider, TENANT_A, decrypt).plaintext == unhex(data["plaintext"])
