"""RawKeyAgreement for the software provider: ECDH (SECP-R1/K1, Brainpool, X25519, X448) and FFDH (RFC 7919).

Mirrors svc:src/providers/mbed_crypto/key_agreement.rs after the checks of `refimpl.psa.policy` (derive usage
flag, permitted algorithm, key type). The peer key is in the format ImportKey takes for the matching public key
(uncompressed point, raw Montgomery u-coordinate, big-endian DH y) and must be on the private key's own curve or
group, else InvalidArgument. The output is PSA's raw shared secret: the x-coordinate for Weierstrass curves, the
u-coordinate for Montgomery curves, g^xy mod p for FFDH — each padded to the field size.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import RawKeyAgreementOp, RawKeyAgreementResult
from refimpl.providers.base import handles
from refimpl.providers.software.keys import SoftwareKeys
from refimpl.psa.formats import (
    FfdhPrivateKey,
    PrivateKey,
    PublicKey,
    key_bits,
    load_ecc_public,
    load_ffdh_public,
)
from refimpl.psa.policy import validate_raw_key_agreement
from refimpl.psa.types import DhKeyPair, EccKeyPair


def _invalid(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, detail)


def _ecdh(private: PrivateKey, peer: PublicKey) -> bytes:
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(peer, ec.EllipticCurvePublicKey):
        return private.exchange(ec.ECDH(), peer)
    if isinstance(private, x25519.X25519PrivateKey) and isinstance(peer, x25519.X25519PublicKey):
        return private.exchange(peer)
    if isinstance(private, x448.X448PrivateKey) and isinstance(peer, x448.X448PublicKey):
        return private.exchange(peer)
    raise _invalid("the peer key is not on the private key's curve")


class KeyAgreementOps(SoftwareKeys):
    """RawKeyAgreement."""

    @handles(RawKeyAgreementOp)
    def raw_key_agreement(self, application: Application | None, operation: RawKeyAgreementOp) -> RawKeyAgreementResult:
        key = self.loaded_key(application, operation.private_key_name)
        validate_raw_key_agreement(key.attributes, operation.alg)
        private = key.require_private_key()
        key_type, peer_data = key.attributes.key_type, operation.peer_key
        try:
            if isinstance(private, FfdhPrivateKey) and isinstance(key_type, DhKeyPair):
                secret = private.exchange(load_ffdh_public(key_type.group_family, peer_data))
            elif isinstance(key_type, EccKeyPair):
                secret = _ecdh(private, load_ecc_public(key_type.curve_family, key_bits(private), peer_data))
            else:
                raise _invalid(f"a {type(key_type).__name__} cannot agree keys")
        except ValueError:
            raise _invalid("the key agreement produced no valid shared secret") from None
        return RawKeyAgreementResult(shared_secret=secret)
