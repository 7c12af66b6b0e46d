"""CanDoCrypto for the software provider: would a key with these attributes be generated, imported, usable here?

Mirrors svc:src/providers/mbed_crypto/capability_discovery.rs on top of the common flow of
svc:src/providers/crypto_capability.rs (`refimpl.psa.policy.can_do_crypto`; parsec-facts §3.4). Every "no" is
PsaErrorNotSupported, as in Parsec's code. The answers come from the same tables that generation, import and the
operation families use (key types, curves, sizes, algorithms), so CanDoCrypto cannot promise what they refuse.
`key_bits` = 0 means "any size", except that, as in Parsec's code, an RSA template must name 1024, 2048 or 4096
bits whenever the Use check runs (Use, and Generate/Import with an algorithm).
"""

from __future__ import annotations

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import CanDoCrypto, CanDoCryptoResult
from refimpl.providers.base import handles
from refimpl.providers.software.aead import TAG_LENGTHS
from refimpl.providers.software.key_management import GENERATED_TYPES, IMPORTED_TYPES, supports_size
from refimpl.providers.software.keys import SoftwareKeys
from refimpl.psa.formats import hash_algorithm
from refimpl.psa.policy import can_do_crypto, check_key_size
from refimpl.psa.types import (
    AeadDefaultTag,
    AeadShortenedTag,
    AeadWithDefaultLengthTag,
    Aes,
    AsymmetricEncryption,
    DeterministicEcdsa,
    Ecdsa,
    EcdsaAny,
    Hash,
    KeyAttributes,
    RawKeyAgreement,
    RsaOaep,
    RsaPkcs1v15Sign,
    RsaPkcs1v15SignRaw,
    RsaPss,
)


def _no(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


def _check_size(attributes: KeyAttributes, *, importing: bool) -> None:
    try:
        check_key_size(attributes, importing=importing)
    except ParsecError as error:
        raise _no(error.detail) from None
    if attributes.bits and not supports_size(attributes.key_type, attributes.bits):
        raise _no(f"no {attributes.bits}-bit {attributes.key_type!r} here")


def _check_hash(hash_alg: object) -> None:
    if isinstance(hash_alg, Hash):
        try:
            hash_algorithm(hash_alg)
        except ParsecError as error:
            raise _no(error.detail) from None


def _check_algorithm(attributes: KeyAttributes) -> None:
    """Whether the operation families implement the (compatible) policy algorithm."""
    algorithm = attributes.policy.permitted_algorithms
    flags = attributes.policy.usage_flags
    if isinstance(algorithm, RsaPkcs1v15SignRaw) and flags.sign_hash:
        raise _no("signing with RsaPkcs1v15SignRaw is not supported")
    if isinstance(algorithm, RsaPkcs1v15Sign | RsaPss | Ecdsa | DeterministicEcdsa | RsaOaep):
        _check_hash(algorithm.hash_alg)
    elif isinstance(algorithm, AeadDefaultTag | AeadShortenedTag):
        if algorithm.aead_alg is not AeadWithDefaultLengthTag.CHACHA20_POLY1305 and not isinstance(
            attributes.key_type, Aes
        ):
            raise _no(f"{algorithm.aead_alg.name} needs an AES key here")
        if isinstance(algorithm, AeadShortenedTag) and algorithm.tag_length not in TAG_LENGTHS[algorithm.aead_alg]:
            raise _no(f"no {algorithm.tag_length}-byte {algorithm.aead_alg.name} tag")
    elif not isinstance(algorithm, EcdsaAny | RsaPkcs1v15SignRaw | AsymmetricEncryption | RawKeyAgreement):
        raise _no(f"{algorithm!r} is not implemented by this provider")


class CapabilityDiscoveryOps(SoftwareKeys):
    """CanDoCrypto."""

    @handles(CanDoCrypto)
    def can_do_crypto(self, application: Application | None, operation: CanDoCrypto) -> CanDoCryptoResult:
        can_do_crypto(
            operation,
            can_generate=self._can_generate,
            can_import=self._can_import,
            can_use=self._can_use,
        )
        return CanDoCryptoResult()

    def _can_generate(self, attributes: KeyAttributes) -> None:
        if not isinstance(attributes.key_type, GENERATED_TYPES):
            raise _no(f"{type(attributes.key_type).__name__} keys are not generated here")
        _check_size(attributes, importing=False)
        if not supports_size(attributes.key_type, attributes.bits):
            raise _no(f"no {attributes.bits}-bit {attributes.key_type!r} here")

    def _can_import(self, attributes: KeyAttributes) -> None:
        if not isinstance(attributes.key_type, IMPORTED_TYPES):
            raise _no(f"{type(attributes.key_type).__name__} keys are not imported here")
        _check_size(attributes, importing=True)

    def _can_use(self, attributes: KeyAttributes) -> None:
        _check_size(attributes, importing=False)
        _check_algorithm(attributes)
