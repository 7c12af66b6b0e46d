"""TPM SignHash and VerifyHash: ECDSA, RSASSA (PKCS#1 v1.5) and RSAPSS, in the TPM.

Parsec's `svc:src/providers/tpm/asym_sign.rs` and `utils.rs` (`convert_to_signature`, `signature_data_to_bytes`):
after the policy check, SignHash signs the client's digest with the wrapped key (TPM2_Sign with a NULL-hierarchy
hash-check ticket, as for any digest computed outside the TPM) under the context's lock, loading the key unless it
is the one the TPM kept loaded (`TpmContext.run_with_key`).
VerifyHash loads the public part into the NULL hierarchy and runs TPM2_VerifySignature. ECDSA signatures travel as
PSA's r‖s, each padded to the curve's size; RSA-PSS salts are as long as the digest, as PSA requires.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_RH, TPM2_ST
from tpm2_pytss.types import (
    TPM2B_DIGEST,
    TPM2B_ECC_PARAMETER,
    TPM2B_PUBLIC_KEY_RSA,
    TPMS_SCHEME_HASH,
    TPMS_SIGNATURE_ECC,
    TPMS_SIGNATURE_RSA,
    TPMT_SIG_SCHEME,
    TPMT_SIGNATURE,
    TPMT_TK_HASHCHECK,
    TPMU_SIG_SCHEME,
    TPMU_SIGNATURE,
)

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import SignHash, SignHashResult, VerifyHash, VerifyHashResult
from refimpl.providers.base import handles
from refimpl.providers.tpm.common import TpmBase, WrappedKey, tpm_hash
from refimpl.psa import policy
from refimpl.psa.types import AsymmetricSignature, DeterministicEcdsa, Ecdsa, RsaPkcs1v15Sign, RsaPss

log = logging.getLogger(__name__)

_SCHEMES: dict[type, TPM2_ALG] = {Ecdsa: TPM2_ALG.ECDSA, RsaPkcs1v15Sign: TPM2_ALG.RSASSA, RsaPss: TPM2_ALG.RSAPSS}
"""The TPM signature schemes of Parsec's TPM provider; EcdsaAny, deterministic ECDSA and raw RSA are not offered."""

NULL_TICKET = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
"""The ticket for a digest the TPM did not compute: only valid for keys that are not restricted (all of ours)."""


@lru_cache(maxsize=64)
def signature_scheme(algorithm: AsymmetricSignature, *, signing: bool) -> TPMT_SIG_SCHEME:
    """The TPM scheme for a request; deterministic ECDSA signatures verify as ECDSA, but the TPM makes none.

    Remembered per algorithm (the TPM only reads it): building tpm2-pytss structures costs more than a dictionary.
    """
    scheme = _SCHEMES.get(type(algorithm))
    if scheme is None and isinstance(algorithm, DeterministicEcdsa) and not signing:
        scheme = TPM2_ALG.ECDSA
    if scheme is None:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{algorithm!r} is not supported by the TPM provider")
    hash_alg = tpm_hash(getattr(algorithm, "hash_alg", None))
    return TPMT_SIG_SCHEME(scheme=scheme, details=TPMU_SIG_SCHEME(any=TPMS_SCHEME_HASH(hashAlg=hash_alg)))


def signature_to_psa(signature: TPMT_SIGNATURE, key: WrappedKey) -> bytes:
    """A TPMT_SIGNATURE as PSA bytes: r‖s for ECDSA, the signature itself for RSA.

    Read from the marshalled form — sigAlg, hash, then one TPM2B (RSA) or two (ECDSA's r and s) — which is
    several times faster than walking tpm2-pytss's attribute wrappers.
    """
    data = bytes(signature.marshal())
    algorithm = int.from_bytes(data[0:2], "big")
    first, offset = _tpm2b(data, 4)
    if algorithm != TPM2_ALG.ECDSA:
        return first
    second, _ = _tpm2b(data, offset)
    size = key.ecc_scalar_bytes
    return first.rjust(size, b"\x00") + second.rjust(size, b"\x00")


def _tpm2b(data: bytes, offset: int) -> tuple[bytes, int]:
    """The buffer of the TPM2B at `offset` (a big-endian u16 size, then the bytes) and the offset after it."""
    size = int.from_bytes(data[offset : offset + 2], "big")
    return data[offset + 2 : offset + 2 + size], offset + 2 + size


def signature_from_psa(scheme: TPMT_SIG_SCHEME, signature: bytes, key: WrappedKey) -> TPMT_SIGNATURE:
    """PSA signature bytes as the TPMT_SIGNATURE TPM2_VerifySignature takes; a wrong length never verifies."""
    hash_alg = scheme.details.any.hashAlg
    if scheme.scheme == TPM2_ALG.ECDSA:
        size = key.ecc_scalar_bytes
        if len(signature) != 2 * size:
            detail = f"an ECDSA signature on this curve is {2 * size} bytes"
            raise ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, detail)
        ecdsa = TPMS_SIGNATURE_ECC(
            hash=hash_alg,
            signatureR=TPM2B_ECC_PARAMETER(signature[:size]),
            signatureS=TPM2B_ECC_PARAMETER(signature[size:]),
        )
        return TPMT_SIGNATURE(sigAlg=scheme.scheme, signature=TPMU_SIGNATURE(ecdsa=ecdsa))
    rsa = TPMS_SIGNATURE_RSA(hash=hash_alg, sig=TPM2B_PUBLIC_KEY_RSA(signature))
    return TPMT_SIGNATURE(sigAlg=scheme.scheme, signature=TPMU_SIGNATURE(rsassa=rsa))


class AsymSign(TpmBase):
    """SignHash, VerifyHash."""

    @handles(SignHash)
    def psa_sign_hash(self, application: Application | None, operation: SignHash) -> SignHashResult:
        key, attributes = self.wrapped_key(application, operation.key_name)
        policy.validate_sign_hash(attributes, operation.alg, operation.hash)
        if not key.has_private:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "a public key cannot sign")
        scheme = signature_scheme(operation.alg, signing=True)
        context, digest = self.context, TPM2B_DIGEST(operation.hash)

        def sign(handle: ESYS_TR) -> TPMT_SIGNATURE:
            return context.esapi.sign(handle, digest, scheme, NULL_TICKET)

        with context.lock:
            signature = context.run_with_key(log, application, self.name, "Sign", key, sign)
        return SignHashResult(signature=signature_to_psa(signature, key))

    @handles(VerifyHash)
    def psa_verify_hash(self, application: Application | None, operation: VerifyHash) -> VerifyHashResult:
        key, attributes = self.wrapped_key(application, operation.key_name)
        policy.validate_verify_hash(attributes, operation.alg, operation.hash)
        scheme = signature_scheme(operation.alg, signing=False)
        signature = signature_from_psa(scheme, operation.signature, key)
        context, digest = self.context, TPM2B_DIGEST(operation.hash)

        def verify(handle: ESYS_TR) -> None:
            context.esapi.verify_signature(handle, digest, signature)

        with context.lock, context.hardware(log, application, "TPM2_LoadExternal+VerifySignature", self.name):
            context.run_with_public(key, verify)
        return VerifyHashResult()
