"""PKCS#11 SignHash and VerifyHash: ECDSA and RSA PKCS#1 v1.5 / PSS on the token, or verification in software.

Parsec's `svc:src/providers/pkcs11/asym_sign.rs`: the request is validated against the key's policy
(`refimpl.psa.policy`), the private (or public) object is found by its CKA_ID, and the token signs or verifies
(mechanisms in `mechanisms.py`). With `software_public_operations = true`, VerifyHash runs on the exported public
key with `cryptography` instead of the token (Parsec uses psa-crypto for the same purpose).
"""

from __future__ import annotations

import logging

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pkcs11 import ObjectClass

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import SignHash, SignHashResult, VerifyHash, VerifyHashResult
from refimpl.providers.base import handles
from refimpl.providers.pkcs11.common import Pkcs11Base, require_key_pair
from refimpl.providers.pkcs11.library import hardware_command
from refimpl.providers.pkcs11.mechanisms import signature_input, signature_mechanism
from refimpl.psa import formats, policy
from refimpl.psa.types import AsymmetricSignature, DeterministicEcdsa, Ecdsa, Hash, RsaPss

log = logging.getLogger(__name__)


def _invalid_signature() -> ParsecError:
    return ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, "the signature does not match")


def verify_in_software(
    public: formats.PublicKey, algorithm: AsymmetricSignature, digest: bytes, signature: bytes
) -> None:
    """VerifyHash with `cryptography`, for the mechanisms the token would use; InvalidSignature on mismatch."""
    signature_mechanism(algorithm, signing=False)  # what the token would accept, so both modes agree
    hash_alg = getattr(algorithm, "hash_alg", None)
    if not isinstance(hash_alg, Hash):
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{algorithm!r} names no hash")
    prehashed = Prehashed(formats.hash_algorithm(hash_alg))
    try:
        if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(algorithm, Ecdsa | DeterministicEcdsa):
            der = formats.ecdsa_signature_to_der(signature, public.curve.key_size)
            public.verify(der, digest, ec.ECDSA(prehashed))
        elif isinstance(public, rsa.RSAPublicKey):
            scheme: padding.AsymmetricPadding = padding.PKCS1v15()
            if isinstance(algorithm, RsaPss):
                mgf = padding.MGF1(formats.hash_algorithm(hash_alg))
                scheme = padding.PSS(mgf=mgf, salt_length=padding.PSS.DIGEST_LENGTH)
            public.verify(signature, digest, scheme, prehashed)
        else:
            raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, f"this key cannot run {algorithm!r}")
    except InvalidSignature:
        raise _invalid_signature() from None


class AsymSign(Pkcs11Base):
    """SignHash, VerifyHash."""

    @handles(SignHash)
    def psa_sign_hash(self, application: Application | None, operation: SignHash) -> SignHashResult:
        mapping = self.mapping_of(application, operation.key_name)
        policy.validate_sign_hash(mapping.attributes, operation.alg, operation.hash)
        require_key_pair(mapping.attributes, "sign")
        mechanism = signature_mechanism(operation.alg, signing=True)
        data = signature_input(operation.alg, operation.hash)
        with self.token.session() as pooled, hardware_command(log, application, "C_Sign", self.name):
            key = pooled.find_key(mapping.key_id, ObjectClass.PRIVATE_KEY)
            signature = key.sign(data, mechanism=mechanism.mechanism, mechanism_param=mechanism.parameter)
        return SignHashResult(signature=bytes(signature))

    @handles(VerifyHash)
    def psa_verify_hash(self, application: Application | None, operation: VerifyHash) -> VerifyHashResult:
        mapping = self.mapping_of(application, operation.key_name)
        policy.validate_verify_hash(mapping.attributes, operation.alg, operation.hash)
        if self.software_public_operations:
            public = self.public_key(application, mapping)
            verify_in_software(public, operation.alg, operation.hash, operation.signature)
            return VerifyHashResult()
        mechanism = signature_mechanism(operation.alg, signing=False)
        data = signature_input(operation.alg, operation.hash)
        with self.token.session() as pooled, hardware_command(log, application, "C_Verify", self.name):
            key = pooled.find_key(mapping.key_id, ObjectClass.PUBLIC_KEY)
            valid = key.verify(
                data, operation.signature, mechanism=mechanism.mechanism, mechanism_param=mechanism.parameter
            )
        if not valid:
            raise _invalid_signature()
        return VerifyHashResult()
