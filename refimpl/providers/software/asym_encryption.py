"""AsymmetricEncrypt and AsymmetricDecrypt for the software provider: RSA PKCS#1 v1.5 and RSA-OAEP.

Mirrors svc:src/providers/mbed_crypto/asym_encryption.rs after the checks of `refimpl.psa.policy` (encrypt or
decrypt usage flag, permitted algorithm, RSA key, non-empty input, no salt with PKCS#1 v1.5). OAEP uses MGF1 with
the algorithm's hash, and the request's salt is the OAEP label, as in PSA. Encrypting works with a key pair or a
public key; decrypting needs the key pair. A plaintext too long for the key is InvalidArgument; a ciphertext whose
padding does not check out is PsaErrorInvalidPadding (the same status for every padding failure, M-1).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricDecryptResult,
    AsymmetricEncrypt,
    AsymmetricEncryptResult,
)
from refimpl.providers.base import handles
from refimpl.providers.software.keys import SoftwareKeys
from refimpl.psa.formats import hash_algorithm
from refimpl.psa.policy import validate_asymmetric_decrypt, validate_asymmetric_encrypt
from refimpl.psa.types import AsymmetricEncryption, RsaOaep


def _padding(algorithm: AsymmetricEncryption, salt: bytes | None) -> padding.AsymmetricPadding:
    if isinstance(algorithm, RsaOaep):
        hash_alg = hash_algorithm(algorithm.hash_alg)
        return padding.OAEP(mgf=padding.MGF1(hash_alg), algorithm=hash_alg, label=salt)
    return padding.PKCS1v15()


class AsymEncryptionOps(SoftwareKeys):
    """AsymmetricEncrypt, AsymmetricDecrypt."""

    @handles(AsymmetricEncrypt)
    def asymmetric_encrypt(
        self, application: Application | None, operation: AsymmetricEncrypt
    ) -> AsymmetricEncryptResult:
        key = self.loaded_key(application, operation.key_name)
        validate_asymmetric_encrypt(key.attributes, operation.alg, operation.plaintext, operation.salt)
        public = key.require_public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, "only RSA keys encrypt")
        try:
            ciphertext = public.encrypt(operation.plaintext, _padding(operation.alg, operation.salt))
        except ValueError:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the plaintext is too long for the key") from None
        return AsymmetricEncryptResult(ciphertext=ciphertext)

    @handles(AsymmetricDecrypt)
    def asymmetric_decrypt(
        self, application: Application | None, operation: AsymmetricDecrypt
    ) -> AsymmetricDecryptResult:
        key = self.loaded_key(application, operation.key_name)
        validate_asymmetric_decrypt(key.attributes, operation.alg, operation.ciphertext, operation.salt)
        private = key.require_private_key()
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, "only RSA keys decrypt")
        try:
            plaintext = private.decrypt(operation.ciphertext, _padding(operation.alg, operation.salt))
        except ValueError:
            raise ParsecError(Status.PSA_ERROR_INVALID_PADDING, "decryption failed") from None
        return AsymmetricDecryptResult(plaintext=plaintext)
