"""SignHash and VerifyHash for the software provider: ECDSA (randomised and deterministic) and RSA PKCS#1 v1.5 / PSS.

Mirrors svc:src/providers/mbed_crypto/asym_sign.rs: the policy checks of `refimpl.psa.policy` run first (usage
flag, permitted algorithm, key type, digest length), then the signature. Formats follow parsec-facts §3.8: ECDSA
signatures are r‖s; RSA-PSS uses MGF1 with the same hash and a salt as long as the hash (PSA_ALG_RSA_PSS).
Signing needs a key pair (a public key answers InvalidArgument); a bad signature is PsaErrorInvalidSignature.

Not supported here: signing with `RsaPkcs1v15SignRaw` (`cryptography` has no raw RSA private operation; verifying
works), `EcdsaAny` over an input whose length is no standard digest size, and ECDSA with Montgomery keys.
"""

from __future__ import annotations

from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import SignHash, SignHashResult, VerifyHash, VerifyHashResult
from refimpl.providers.base import handles
from refimpl.providers.software.keys import SoftwareKeys
from refimpl.psa.formats import ecdsa_signature_to_der, ecdsa_signature_to_raw, hash_algorithm
from refimpl.psa.policy import validate_sign_hash, validate_verify_hash
from refimpl.psa.types import (
    AsymmetricSignature,
    DeterministicEcdsa,
    Ecdsa,
    EcdsaAny,
    Hash,
    RsaPkcs1v15Sign,
    RsaPkcs1v15SignRaw,
    RsaPss,
)

_DIGEST_OF_LENGTH = {20: Hash.SHA_1, 28: Hash.SHA_224, 32: Hash.SHA_256, 48: Hash.SHA_384, 64: Hash.SHA_512}


def _not_supported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


def _named_hash(algorithm: AsymmetricSignature) -> Hash:
    """The hash a hash-and-sign request names (a request naming `Any` was already refused as NotPermitted)."""
    hash_alg = None if isinstance(algorithm, EcdsaAny | RsaPkcs1v15SignRaw) else algorithm.hash_alg
    if not isinstance(hash_alg, Hash):
        raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, f"{algorithm!r} names no hash")
    return hash_alg


def _prehashed(algorithm: AsymmetricSignature, digest_length: int) -> Prehashed:
    """The `cryptography` view of "this input is already a digest" for a hash-and-sign algorithm."""
    if isinstance(algorithm, EcdsaAny):
        hash_alg = _DIGEST_OF_LENGTH.get(digest_length)
        if hash_alg is None:
            raise _not_supported(f"EcdsaAny over a {digest_length}-byte input is not supported")
        return Prehashed(hash_algorithm(hash_alg))
    return Prehashed(hash_algorithm(_named_hash(algorithm)))


# The `cryptography` scheme objects are immutable and cost as much to build as a tenth of a P-256 signature, so
# they are made once per algorithm (a failure raises and is not cached).


@cache
def _ecdsa(algorithm: AsymmetricSignature, digest_length: int) -> ec.ECDSA:
    if not isinstance(algorithm, Ecdsa | EcdsaAny | DeterministicEcdsa):
        raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, f"an ECC key cannot run {algorithm!r}")
    deterministic = isinstance(algorithm, DeterministicEcdsa)
    return ec.ECDSA(_prehashed(algorithm, digest_length), deterministic_signing=deterministic)


@cache
def _rsa_prehashed(algorithm: AsymmetricSignature) -> Prehashed:
    return _prehashed(algorithm, 0)


@cache
def _rsa_padding(algorithm: AsymmetricSignature) -> padding.AsymmetricPadding:
    if isinstance(algorithm, RsaPss):
        mgf_hash = hash_algorithm(_named_hash(algorithm))
        return padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=padding.PSS.DIGEST_LENGTH)
    if isinstance(algorithm, RsaPkcs1v15Sign | RsaPkcs1v15SignRaw):
        return padding.PKCS1v15()
    raise ParsecError(Status.PSA_ERROR_NOT_PERMITTED, f"an RSA key cannot run {algorithm!r}")


class AsymSignOps(SoftwareKeys):
    """SignHash, VerifyHash."""

    @handles(SignHash)
    def sign_hash(self, application: Application | None, operation: SignHash) -> SignHashResult:
        key = self.loaded_key(application, operation.key_name)
        validate_sign_hash(key.attributes, operation.alg, operation.hash)
        private = key.require_private_key()
        if isinstance(private, ec.EllipticCurvePrivateKey):
            der = private.sign(operation.hash, _ecdsa(operation.alg, len(operation.hash)))
            return SignHashResult(signature=ecdsa_signature_to_raw(der, private.curve.key_size))
        if isinstance(private, rsa.RSAPrivateKey):
            if isinstance(operation.alg, RsaPkcs1v15SignRaw):
                raise _not_supported("signing with RsaPkcs1v15SignRaw is not supported")
            signature = private.sign(operation.hash, _rsa_padding(operation.alg), _rsa_prehashed(operation.alg))
            return SignHashResult(signature=signature)
        raise _not_supported(f"{type(key.attributes.key_type).__name__} keys of this curve cannot sign")

    @handles(VerifyHash)
    def verify_hash(self, application: Application | None, operation: VerifyHash) -> VerifyHashResult:
        key = self.loaded_key(application, operation.key_name)
        validate_verify_hash(key.attributes, operation.alg, operation.hash)
        public = key.require_public_key()
        try:
            if isinstance(public, ec.EllipticCurvePublicKey):
                der = ecdsa_signature_to_der(operation.signature, public.curve.key_size)
                public.verify(der, operation.hash, _ecdsa(operation.alg, len(operation.hash)))
            elif isinstance(public, rsa.RSAPublicKey) and isinstance(operation.alg, RsaPkcs1v15SignRaw):
                recovered = public.recover_data_from_signature(operation.signature, padding.PKCS1v15(), None)
                if recovered != operation.hash:
                    raise InvalidSignature
            elif isinstance(public, rsa.RSAPublicKey):
                public.verify(
                    operation.signature,
                    operation.hash,
                    _rsa_padding(operation.alg),
                    _rsa_prehashed(operation.alg),
                )
            else:
                raise _not_supported(f"{type(key.attributes.key_type).__name__} keys of this curve cannot verify")
        except InvalidSignature:
            raise ParsecError(Status.PSA_ERROR_INVALID_SIGNATURE, "the signature does not match") from None
        return VerifyHashResult()
