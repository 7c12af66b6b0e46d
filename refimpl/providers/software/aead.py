"""AeadEncrypt and AeadDecrypt for the software provider: AES-GCM, AES-CCM and ChaCha20-Poly1305.

Mirrors svc:src/providers/mbed_crypto/aead.rs after the checks of `refimpl.psa.policy` (usage flag, permitted
algorithm, key type, non-empty input and nonce). The tag is appended to the ciphertext, 16 bytes by default or the
shortened length of `AeadShortenedTag` (GCM: 4, 8, 12–16; CCM: 4–16 even; ChaCha20-Poly1305: 16 only). Nonce
lengths are `cryptography`'s: GCM 8–128 bytes, CCM 7–13, ChaCha20-Poly1305 12; others are InvalidArgument. A tag
that does not verify is PsaErrorInvalidSignature, as PSA specifies. Camellia keys are not supported for AEAD.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import AeadDecrypt, AeadDecryptResult, AeadEncrypt, AeadEncryptResult
from refimpl.providers.base import handles
from refimpl.providers.software.keys import LoadedKey, SoftwareKeys
from refimpl.psa.policy import validate_aead_decrypt, validate_aead_encrypt
from refimpl.psa.types import Aead, AeadShortenedTag, AeadWithDefaultLengthTag, Aes

DEFAULT_TAG_LENGTH = 16
TAG_LENGTHS: dict[AeadWithDefaultLengthTag, frozenset[int]] = {
    AeadWithDefaultLengthTag.GCM: frozenset({4, 8, 12, 13, 14, 15, 16}),
    AeadWithDefaultLengthTag.CCM: frozenset({4, 6, 8, 10, 12, 14, 16}),
    AeadWithDefaultLengthTag.CHACHA20_POLY1305: frozenset({16}),
}


def _invalid(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, detail)


def _tag_length(algorithm: Aead) -> int:
    if not isinstance(algorithm, AeadShortenedTag):
        return DEFAULT_TAG_LENGTH
    if algorithm.tag_length not in TAG_LENGTHS[algorithm.aead_alg]:
        allowed = sorted(TAG_LENGTHS[algorithm.aead_alg])
        raise _invalid(f"{algorithm.aead_alg.name} tags are {allowed} bytes, not {algorithm.tag_length}")
    return algorithm.tag_length


def _check_key(key: LoadedKey, algorithm: Aead) -> None:
    if algorithm.aead_alg is AeadWithDefaultLengthTag.CHACHA20_POLY1305:
        return  # policy.compatible already demands a ChaCha20 key
    if not isinstance(key.attributes.key_type, Aes):
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{algorithm.aead_alg.name} needs an AES key here")


def _seal(key: bytes, algorithm: Aead, nonce: bytes, data: bytes, additional: bytes) -> bytes:
    """ciphertext‖tag."""
    tag_length = _tag_length(algorithm)
    base = algorithm.aead_alg
    try:
        if base is AeadWithDefaultLengthTag.CCM:
            return AESCCM(key, tag_length=tag_length).encrypt(nonce, data, additional)
        if base is AeadWithDefaultLengthTag.CHACHA20_POLY1305:
            return ChaCha20Poly1305(key).encrypt(nonce, data, additional)
        sealed = AESGCM(key).encrypt(nonce, data, additional)
    except ValueError as error:
        raise _invalid(str(error)) from None
    return sealed[: len(sealed) - DEFAULT_TAG_LENGTH + tag_length]


def _open(key: bytes, algorithm: Aead, nonce: bytes, data: bytes, additional: bytes) -> bytes:
    tag_length = _tag_length(algorithm)
    if len(data) < tag_length:
        raise _invalid(f"the ciphertext is shorter than the {tag_length}-byte tag")
    base = algorithm.aead_alg
    try:
        if base is AeadWithDefaultLengthTag.CCM:
            return AESCCM(key, tag_length=tag_length).decrypt(nonce, data, additional)
        if base is AeadWithDefaultLengthTag.CHACHA20_POLY1305:
            return ChaCha20Poly1305(key).decrypt(nonce, data, additional)
        if tag_length == DEFAULT_TAG_LENGTH:
            return AESGCM(key).decrypt(nonce, data, additional)
        body, tag = data[:-tag_length], data[-tag_length:]
        decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=tag_length)).decryptor()
        decryptor.authenticate_additional_data(additional)
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, "the authentication tag does not match") from None
    except ValueError as error:
        raise _invalid(str(error)) from None


class AeadOps(SoftwareKeys):
    """AeadEncrypt, AeadDecrypt."""

    @handles(AeadEncrypt)
    def aead_encrypt(self, application: Application | None, operation: AeadEncrypt) -> AeadEncryptResult:
        key = self.loaded_key(application, operation.key_name)
        validate_aead_encrypt(key.attributes, operation.alg, operation.nonce, operation.plaintext)
        _check_key(key, operation.alg)
        sealed = _seal(key.material, operation.alg, operation.nonce, operation.plaintext, operation.additional_data)
        return AeadEncryptResult(ciphertext=sealed)

    @handles(AeadDecrypt)
    def aead_decrypt(self, application: Application | None, operation: AeadDecrypt) -> AeadDecryptResult:
        key = self.loaded_key(application, operation.key_name)
        validate_aead_decrypt(key.attributes, operation.alg, operation.nonce, operation.ciphertext)
        _check_key(key, operation.alg)
        plaintext = _open(key.material, operation.alg, operation.nonce, operation.ciphertext, operation.additional_data)
        return AeadDecryptResult(plaintext=plaintext)
