"""How a PSA algorithm runs on a PKCS#11 token: the mechanism, its parameter, and the bytes it is given.

Parsec's `svc:src/providers/pkcs11/utils.rs` (`algorithm_to_mechanism`, `digest_info`,
`pkcsmgftype_from_psa_crypto_hash`) and the SoftHSM2 notes of providers-on-debian.md §3: SoftHSM 2.6 has no
CKM_ECDSA_SHA256, so ECDSA signs the client's digest with plain CKM_ECDSA (the token returns PSA's r‖s);
RSA PKCS#1 v1.5 signs DigestInfo‖digest with CKM_RSA_PKCS; RSA-PSS uses CKM_RSA_PKCS_PSS with MGF1 of the same
hash and a salt as long as the digest; OAEP uses CKM_RSA_PKCS_OAEP with the salt as its label, within what the
provider type's `CAPABILITIES` declare (`check_oaep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pkcs11 import MGF, Mechanism

from refimpl.errors import ParsecError
from refimpl.ids import Status
from refimpl.providers.base import Capability
from refimpl.psa.policy import HASH_LENGTH
from refimpl.psa.types import (
    Algorithm,
    AsymmetricEncryption,
    AsymmetricSignature,
    DeterministicEcdsa,
    Ecdsa,
    Hash,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPss,
)

HASH_MECHANISMS: dict[Hash, tuple[Mechanism, MGF]] = {
    Hash.SHA_1: (Mechanism.SHA_1, MGF.SHA1),
    Hash.SHA_224: (Mechanism.SHA224, MGF.SHA224),
    Hash.SHA_256: (Mechanism.SHA256, MGF.SHA256),
    Hash.SHA_384: (Mechanism.SHA384, MGF.SHA384),
    Hash.SHA_512: (Mechanism.SHA512, MGF.SHA512),
}
"""The hashes Parsec maps to a PKCS#11 hash mechanism and MGF1 variant."""

DIGEST_INFO_PREFIXES: dict[Hash, bytes] = {
    Hash.SHA_224: bytes.fromhex("302d300d06096086480165030402040500041c"),
    Hash.SHA_256: bytes.fromhex("3031300d060960864801650304020105000420"),
    Hash.SHA_384: bytes.fromhex("3041300d060960864801650304020205000430"),
    Hash.SHA_512: bytes.fromhex("3051300d060960864801650304020305000440"),
}
"""DER `DigestInfo` headers (RFC 8017 §9.2, note 1) for the hashes Parsec's `digest_info` accepts."""


@dataclass(frozen=True)
class TokenMechanism:
    """A PKCS#11 mechanism and the parameter python-pkcs11 packs for it (None: no parameter)."""

    mechanism: Mechanism
    parameter: tuple[Any, ...] | None = None


def _not_supported(algorithm: object) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"{algorithm!r} is not supported by the PKCS#11 provider")


def signature_mechanism(algorithm: AsymmetricSignature, *, signing: bool) -> TokenMechanism:
    """The mechanism for a SignHash/VerifyHash request (its hash is specific: the policy check ensured it).

    Deterministic ECDSA (RFC 6979) signatures verify like any ECDSA signature, but no token makes them.
    """
    ecdsa = (Ecdsa,) if signing else (Ecdsa, DeterministicEcdsa)
    if isinstance(algorithm, ecdsa) and isinstance(algorithm.hash_alg, Hash):
        return TokenMechanism(Mechanism.ECDSA)
    if isinstance(algorithm, RsaPkcs1v15Sign) and algorithm.hash_alg in DIGEST_INFO_PREFIXES:
        return TokenMechanism(Mechanism.RSA_PKCS)
    if isinstance(algorithm, RsaPss) and isinstance(algorithm.hash_alg, Hash) and algorithm.hash_alg in HASH_MECHANISMS:
        hash_mechanism, mgf = HASH_MECHANISMS[algorithm.hash_alg]
        return TokenMechanism(Mechanism.RSA_PKCS_PSS, (hash_mechanism, mgf, HASH_LENGTH[algorithm.hash_alg]))
    raise _not_supported(algorithm)


def signature_input(algorithm: AsymmetricSignature, digest: bytes) -> bytes:
    """What the token signs: DigestInfo‖digest for RSA PKCS#1 v1.5, the digest itself otherwise."""
    if isinstance(algorithm, RsaPkcs1v15Sign) and isinstance(algorithm.hash_alg, Hash):
        return DIGEST_INFO_PREFIXES[algorithm.hash_alg] + digest
    return digest


def check_oaep(capabilities: frozenset[Capability], algorithm: Algorithm, salt: bytes | None = None) -> None:
    """NotSupported for the RSA-OAEP a provider type declares it cannot run, before the token is asked.

    Without `OAEP_ANY_HASH`, OAEP with SHA-1 only; without `OAEP_LABEL`, no label (the request's salt).
    """
    if not isinstance(algorithm, RsaOaep):
        return
    if Capability.OAEP_ANY_HASH not in capabilities and algorithm.hash_alg is not Hash.SHA_1:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"the token runs RSA-OAEP with SHA-1 only, not {algorithm!r}")
    if Capability.OAEP_LABEL not in capabilities and salt:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, "the token runs RSA-OAEP without a label only")


def encryption_mechanism(algorithm: AsymmetricEncryption, salt: bytes | None) -> TokenMechanism:
    """The mechanism for AsymmetricEncrypt/Decrypt; OAEP's label is the salt (PSA), none when absent."""
    if isinstance(algorithm, RsaPkcs1v15Crypt):
        return TokenMechanism(Mechanism.RSA_PKCS)
    if isinstance(algorithm, RsaOaep) and algorithm.hash_alg in HASH_MECHANISMS:
        hash_mechanism, mgf = HASH_MECHANISMS[algorithm.hash_alg]
        return TokenMechanism(Mechanism.RSA_PKCS_OAEP, (hash_mechanism, mgf, salt or None))
    raise _not_supported(algorithm)


_POLICY_MECHANISMS: dict[type, Mechanism] = {
    Ecdsa: Mechanism.ECDSA,
    RsaPkcs1v15Sign: Mechanism.RSA_PKCS,
    RsaPss: Mechanism.RSA_PKCS_PSS,
    RsaPkcs1v15Crypt: Mechanism.RSA_PKCS,
    RsaOaep: Mechanism.RSA_PKCS_OAEP,
}


def mechanism_of(algorithm: Algorithm) -> Mechanism:
    """The token mechanism a key policy's algorithm needs (for CanDoCrypto; a policy may name `Any` hash)."""
    mechanism = _POLICY_MECHANISMS.get(type(algorithm))
    if mechanism is None or (isinstance(algorithm, RsaOaep) and algorithm.hash_alg not in HASH_MECHANISMS):
        raise _not_supported(algorithm)
    return mechanism
