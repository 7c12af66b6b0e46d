"""TPM AsymmetricEncrypt and AsymmetricDecrypt: RSAES (PKCS#1 v1.5) and RSA-OAEP, in the TPM.

Parsec's `svc:src/providers/tpm/asym_encryption.rs`: encryption loads the public part into the NULL hierarchy, runs
TPM2_RSA_Encrypt and flushes it; decryption runs TPM2_RSA_Decrypt with the wrapped key, loaded unless the TPM kept
it loaded (`TpmContext.run_with_key`).
The request's salt is OAEP's label. The TPM treats a label as a NUL-terminated string and appends a zero byte to
one that lacks it (TPM 2.0 Part 1, §B.4), which would silently make ciphertexts no other RSA-OAEP implementation
can read (parsec#217, why Parsec's e2e tests skip labels on the TPM). The provider type therefore declares no
`Capability.OAEP_LABEL`: a salt that does not end in a zero byte answers PsaErrorNotSupported, and one that does
works like everywhere else. A ciphertext the TPM cannot
decrypt answers PsaErrorInvalidPadding, whatever the reason (M-1: no padding oracle).
"""

from __future__ import annotations

import logging

from tpm2_pytss import TSS2_Exception
from tpm2_pytss.constants import ESYS_TR, TPM2_ALG
from tpm2_pytss.types import (
    TPM2B_DATA,
    TPM2B_PUBLIC_KEY_RSA,
    TPMS_SCHEME_HASH,
    TPMT_RSA_DECRYPT,
    TPMU_ASYM_SCHEME,
)

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import (
    AsymmetricDecrypt,
    AsymmetricDecryptResult,
    AsymmetricEncrypt,
    AsymmetricEncryptResult,
)
from refimpl.providers.base import Capability, handles
from refimpl.providers.tpm.common import TpmBase, WrappedKey, status_of, tpm_hash
from refimpl.providers.tpm.context import STALE_HANDLE_ERRORS
from refimpl.psa import policy
from refimpl.psa.formats import rsa_plaintext_limit
from refimpl.psa.types import AsymmetricEncryption, RsaOaep, RsaPkcs1v15Crypt

log = logging.getLogger(__name__)


def modulus_bits(key: WrappedKey) -> int:
    return int(key.public.publicArea.parameters.rsaDetail.keyBits)


def oaep_label(capabilities: frozenset[Capability], salt: bytes | None) -> TPM2B_DATA:
    """The salt as the TPM's label; without `OAEP_LABEL`, NotSupported where the TPM would change it (no final 0)."""
    if salt and salt[-1] != 0 and Capability.OAEP_LABEL not in capabilities:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, "the TPM only takes OAEP labels that end in a zero byte")
    return TPM2B_DATA(salt or b"")


def decryption_scheme(algorithm: AsymmetricEncryption) -> TPMT_RSA_DECRYPT:
    if isinstance(algorithm, RsaPkcs1v15Crypt):
        return TPMT_RSA_DECRYPT(scheme=TPM2_ALG.RSAES)
    if isinstance(algorithm, RsaOaep):
        details = TPMU_ASYM_SCHEME(oaep=TPMS_SCHEME_HASH(hashAlg=tpm_hash(algorithm.hash_alg)))
        return TPMT_RSA_DECRYPT(scheme=TPM2_ALG.OAEP, details=details)
    raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{algorithm!r} is not supported by the TPM provider")


class AsymEncryption(TpmBase):
    """AsymmetricEncrypt, AsymmetricDecrypt."""

    @handles(AsymmetricEncrypt)
    def psa_asymmetric_encrypt(
        self, application: Application | None, operation: AsymmetricEncrypt
    ) -> AsymmetricEncryptResult:
        key, attributes = self.wrapped_key(application, operation.key_name)
        policy.validate_asymmetric_encrypt(attributes, operation.alg, operation.plaintext, operation.salt)
        scheme = decryption_scheme(operation.alg)
        label = oaep_label(self.CAPABILITIES, operation.salt)
        if len(operation.plaintext) > rsa_plaintext_limit(modulus_bits(key), operation.alg):
            # checked here: libtpms answers TPM_RC_FAILURE to an over-long message
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the plaintext is too long for the key")
        context, plaintext = self.context, TPM2B_PUBLIC_KEY_RSA(operation.plaintext)

        def encrypt(handle: ESYS_TR) -> TPM2B_PUBLIC_KEY_RSA:
            return context.esapi.rsa_encrypt(handle, plaintext, scheme, label)

        with context.lock, context.hardware(log, application, "TPM2_LoadExternal+RSA_Encrypt", self.name):
            ciphertext = context.run_with_public(key, encrypt)
        return AsymmetricEncryptResult(ciphertext=bytes(ciphertext))

    @handles(AsymmetricDecrypt)
    def psa_asymmetric_decrypt(
        self, application: Application | None, operation: AsymmetricDecrypt
    ) -> AsymmetricDecryptResult:
        key, attributes = self.wrapped_key(application, operation.key_name)
        policy.validate_asymmetric_decrypt(attributes, operation.alg, operation.ciphertext, operation.salt)
        if not key.has_private:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "a public key cannot decrypt")
        scheme = decryption_scheme(operation.alg)
        label = oaep_label(self.CAPABILITIES, operation.salt)
        context, ciphertext = self.context, TPM2B_PUBLIC_KEY_RSA(operation.ciphertext)

        def decrypt(handle: ESYS_TR) -> TPM2B_PUBLIC_KEY_RSA:
            try:
                return context.esapi.rsa_decrypt(handle, ciphertext, scheme, label)
            except TSS2_Exception as error:
                if status_of(error) is Status.PSA_ERROR_COMMUNICATION_FAILURE or error.error in STALE_HANDLE_ERRORS:
                    raise
                # libtpms answers TPM_RC_FAILURE, TPM_RC_VALUE or TPM_RC_SIZE: all mean "not a valid ciphertext"
                raise ParsecError(Status.PSA_ERROR_INVALID_PADDING, "the TPM could not decrypt") from None

        with context.lock:
            plaintext = context.run_with_key(log, application, self.name, "RSA_Decrypt", key, decrypt)
        return AsymmetricDecryptResult(plaintext=bytes(plaintext))
