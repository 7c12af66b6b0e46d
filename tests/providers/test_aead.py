"""AeadEncrypt and AeadDecrypt on every provider that has them: published known answers, tampering, statuses.

Parsec's e2e aead suite; validation of ifc:src/operations/psa_aead_{en,de}crypt.rs; the tag is appended to the
ciphertext; a tag that does not verify is PsaErrorInvalidSignature.
"""

from __future__ import annotations

from typing import Any

import pytest

from refimpl.ids import Opcode, Status
from refimpl.operations import AeadDecrypt, AeadEncrypt, ExportKey, ExportPublicKey, GenerateKey, ImportKey
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import Aead, AeadDefaultTag, AeadShortenedTag, AeadWithDefaultLengthTag, Aes, Chacha20, KeyType
from tests.providers.helpers import TENANT_A, run, status_of, template, unhex, vectors

AEAD = (Opcode.PSA_AEAD_ENCRYPT, Opcode.PSA_AEAD_DECRYPT)
GCM = AeadDefaultTag(AeadWithDefaultLengthTag.GCM)
CCM = AeadDefaultTag(AeadWithDefaultLengthTag.CCM)
CHACHA = AeadDefaultTag(AeadWithDefaultLengthTag.CHACHA20_POLY1305)
KEY_TYPES: dict[str, KeyType] = {"Aes": Aes(), "Chacha20": Chacha20()}
CASES: dict[str, dict[str, Any]] = {case["name"]: case for case in vectors("aead")["cases"]}


def _algorithm(case: dict[str, Any]) -> Aead:
    base = AeadWithDefaultLengthTag[case["aead_alg"]]
    tag_length = case["tag_length"]
    return AeadDefaultTag(base) if tag_length is None else AeadShortenedTag(base, tag_length)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.needs(Opcode.PSA_IMPORT_KEY, *AEAD)
def test_published_vectors(provider: KeyStoreProvider, name: str) -> None:
    case = CASES[name]
    algorithm = _algorithm(case)
    key = unhex(case["key"])
    attributes = template(KEY_TYPES[case["key_type"]], len(key) * 8, algorithm, encrypt=True, decrypt=True)
    run(provider, TENANT_A, ImportKey("key", attributes, key))
    nonce, additional = unhex(case["nonce"]), unhex(case["additional_data"])
    plaintext, ciphertext = unhex(case["plaintext"]), unhex(case["ciphertext"])
    assert run(provider, TENANT_A, AeadEncrypt("key", algorithm, nonce, additional, plaintext)).ciphertext == ciphertext
    assert run(provider, TENANT_A, AeadDecrypt("key", algorithm, nonce, additional, ciphertext)).plaintext == plaintext


ROUND_TRIPS: dict[str, tuple[KeyType, int, Aead, int]] = {
    "aes-gcm": (Aes(), 256, GCM, 12),
    "aes-ccm": (Aes(), 128, CCM, 13),
    "chacha20-poly1305": (Chacha20(), 256, CHACHA, 12),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, *AEAD)
def test_generated_keys_round_trip_and_detect_tampering(provider: KeyStoreProvider, name: str) -> None:
    key_type, bits, algorithm, nonce_length = ROUND_TRIPS[name]
    run(provider, TENANT_A, GenerateKey("key", template(key_type, bits, algorithm, encrypt=True, decrypt=True)))
    nonce, additional, plaintext = bytes(range(nonce_length)), b"header", b"attack at dawn"
    sealed = run(provider, TENANT_A, AeadEncrypt("key", algorithm, nonce, additional, plaintext)).ciphertext
    assert len(sealed) == len(plaintext) + 16
    assert run(provider, TENANT_A, AeadDecrypt("key", algorithm, nonce, additional, sealed)).plaintext == plaintext

    other_nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    for tampered in (
        AeadDecrypt("key", algorithm, nonce, additional, bytes([sealed[0] ^ 1]) + sealed[1:]),
        AeadDecrypt("key", algorithm, nonce, additional, sealed[:-1] + bytes([sealed[-1] ^ 1])),
        AeadDecrypt("key", algorithm, nonce, b"HEADER", sealed),
        AeadDecrypt("key", algorithm, other_nonce, additional, sealed),
    ):
        assert status_of(provider, TENANT_A, tampered) is Status.PSA_ERROR_INVALID_SIGNATURE


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, *AEAD)
def test_argument_errors_are_invalid_argument(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("gcm", template(Aes(), 128, GCM, encrypt=True, decrypt=True)))
    short_tag = AeadShortenedTag(AeadWithDefaultLengthTag.CCM, 5)
    run(provider, TENANT_A, GenerateKey("ccm5", template(Aes(), 128, short_tag, encrypt=True, decrypt=True)))
    nonce = bytes(12)
    for operation in (
        AeadEncrypt("gcm", GCM, nonce, b"", b""),
        AeadEncrypt("gcm", GCM, b"", b"", b"data"),
        AeadDecrypt("gcm", GCM, nonce, b"", b""),
        AeadDecrypt("gcm", GCM, b"", b"", bytes(32)),
        AeadDecrypt("gcm", GCM, nonce, b"", bytes(15)),  # shorter than the tag
        AeadEncrypt("ccm5", short_tag, bytes(12), b"", b"data"),  # CCM tags have even lengths
    ):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_INVALID_ARGUMENT, operation


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, *AEAD)
def test_policy_violations_are_not_permitted(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("gcm", template(Aes(), 128, GCM, encrypt=True)))
    run(provider, TENANT_A, GenerateKey("chacha-on-aes", template(Aes(), 256, CHACHA, encrypt=True)))
    nonce = bytes(12)
    sealed = run(provider, TENANT_A, AeadEncrypt("gcm", GCM, nonce, b"", b"data")).ciphertext
    for operation in (
        AeadDecrypt("gcm", GCM, nonce, b"", sealed),  # no decrypt flag
        AeadEncrypt("gcm", CCM, nonce, b"", b"data"),  # the policy names GCM
        AeadEncrypt("gcm", AeadShortenedTag(AeadWithDefaultLengthTag.GCM, 8), nonce, b"", b"data"),
        AeadEncrypt("chacha-on-aes", CHACHA, nonce, b"", b"data"),  # an AES key cannot run ChaCha20
    ):
        assert status_of(provider, TENANT_A, operation) is Status.PSA_ERROR_NOT_PERMITTED, operation


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY)
def test_symmetric_keys_export_raw_and_have_no_public_key(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("aes", template(Aes(), 192, GCM, export=True)))
    assert len(run(provider, TENANT_A, ExportKey("aes")).data) == 24
    assert status_of(provider, TENANT_A, ExportPublicKey("aes")) is Status.PSA_ERROR_INVALID_ARGUMENT
