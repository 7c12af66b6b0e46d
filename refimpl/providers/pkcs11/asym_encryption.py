"""PKCS#11 AsymmetricEncrypt and AsymmetricDecrypt: RSA PKCS#1 v1.5 and RSA-OAEP, on the token or in software.

Parsec's `svc:src/providers/pkcs11/asym_encryption.rs`: policy check, then C_Encrypt with the public object (or,
with `software_public_operations = true`, `cryptography` on the exported public key) and C_Decrypt with the
private object. A ciphertext the token cannot decrypt answers PsaErrorInvalidPadding whatever the token's reason
(SoftHSM2 says CKR_GENERAL_ERROR for a bad PKCS#1 v1.5 padding), so clients can mitigate padding-oracle attacks as
Parsec intends (parsec#619) and the status tells nothing more (M-1). The provider type declares no
`Capability.OAEP_ANY_HASH` and no `Capability.OAEP_LABEL`: SoftHSM2 2.6 does OAEP with SHA-1 and no label only
(SoftHSMv2#474, which Parsec's own e2e tests work around the same way), and Parsec's provider never gives the token
a label; so other OAEP requests answer PsaErrorNotSupported before the token is asked (`mechanisms.check_oaep`).
"""

from __future__ import annotations

import logging

import pkcs11
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pkcs11 import ObjectClass

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
from refimpl.providers.pkcs11.common import Pkcs11Base, require_key_pair
from refimpl.providers.pkcs11.library import hardware_command
from refimpl.providers.pkcs11.mechanisms import check_oaep, encryption_mechanism
from refimpl.psa import formats, policy
from refimpl.psa.formats import rsa_plaintext_limit
from refimpl.psa.types import AsymmetricEncryption, RsaOaep

log = logging.getLogger(__name__)


def encrypt_in_software(
    public: formats.PublicKey, algorithm: AsymmetricEncryption, plaintext: bytes, salt: bytes | None
) -> bytes:
    """AsymmetricEncrypt with `cryptography`, for the algorithms the token would run."""
    encryption_mechanism(algorithm, salt)  # the same algorithms as on the token
    if not isinstance(public, rsa.RSAPublicKey):
        raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, "only RSA keys encrypt")
    scheme: padding.AsymmetricPadding = padding.PKCS1v15()
    if isinstance(algorithm, RsaOaep):
        hash_alg = formats.hash_algorithm(algorithm.hash_alg)
        scheme = padding.OAEP(mgf=padding.MGF1(hash_alg), algorithm=hash_alg, label=salt or None)
    try:
        return public.encrypt(plaintext, scheme)
    except ValueError:
        raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the plaintext is too long for the key") from None


class AsymEncryption(Pkcs11Base):
    """AsymmetricEncrypt, AsymmetricDecrypt."""

    @handles(AsymmetricEncrypt)
    def psa_asymmetric_encrypt(
        self, application: Application | None, operation: AsymmetricEncrypt
    ) -> AsymmetricEncryptResult:
        mapping = self.mapping_of(application, operation.key_name)
        policy.validate_asymmetric_encrypt(mapping.attributes, operation.alg, operation.plaintext, operation.salt)
        check_oaep(self.CAPABILITIES, operation.alg, operation.salt)
        mechanism = encryption_mechanism(operation.alg, operation.salt)
        public = self.public_key(application, mapping)
        if not isinstance(public, rsa.RSAPublicKey):
            raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, "only RSA keys encrypt")
        if len(operation.plaintext) > rsa_plaintext_limit(public.key_size, operation.alg):
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the plaintext is too long for the key")
        if self.software_public_operations:
            ciphertext = encrypt_in_software(public, operation.alg, operation.plaintext, operation.salt)
            return AsymmetricEncryptResult(ciphertext=ciphertext)
        with self.token.session() as pooled, hardware_command(log, application, "C_Encrypt", self.name):
            key = pooled.find_key(mapping.key_id, ObjectClass.PUBLIC_KEY)
            ciphertext = key.encrypt(
                operation.plaintext, mechanism=mechanism.mechanism, mechanism_param=mechanism.parameter
            )
        return AsymmetricEncryptResult(ciphertext=bytes(ciphertext))

    @handles(AsymmetricDecrypt)
    def psa_asymmetric_decrypt(
        self, application: Application | None, operation: AsymmetricDecrypt
    ) -> AsymmetricDecryptResult:
        mapping = self.mapping_of(application, operation.key_name)
        policy.validate_asymmetric_decrypt(mapping.attributes, operation.alg, operation.ciphertext, operation.salt)
        require_key_pair(mapping.attributes, "decrypt")
        check_oaep(self.CAPABILITIES, operation.alg, operation.salt)
        mechanism = encryption_mechanism(operation.alg, operation.salt)
        with self.token.session() as pooled, hardware_command(log, application, "C_Decrypt", self.name):
            key = pooled.find_key(mapping.key_id, ObjectClass.PRIVATE_KEY)
            try:
                plaintext = key.decrypt(
                    operation.ciphertext, mechanism=mechanism.mechanism, mechanism_param=mechanism.parameter
                )
            except (pkcs11.EncryptedDataInvalid, pkcs11.EncryptedDataLenRange, pkcs11.GeneralError):
                raise ParsecError(Status.PSA_ERROR_INVALID_PADDING, "the token rejected the ciphertext") from None
        return AsymmetricDecryptResult(plaintext=bytes(plaintext))
