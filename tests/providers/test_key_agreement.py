"""RawKeyAgreement on every provider that has it: ECDH known answers (RFC 7748, a P-256 pair), interop, FFDH.

Parsec's e2e key_agreement suite; validation of ifc:src/operations/psa_raw_key_agreement.rs (derive usage flag,
permitted algorithm, key type); the peer key is in ImportKey's public-key format.
"""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from refimpl.ids import Opcode, Status
from refimpl.operations import ExportPublicKey, GenerateKey, ImportKey, RawKeyAgreementOp
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.formats import ffdh_prime
from refimpl.psa.types import DhFamily, DhKeyPair, EccFamily, EccKeyPair, Ecdsa, Hash, RawKeyAgreement
from tests.providers.helpers import P256, TENANT_A, run, status_of, template, unhex, vectors

ECDH = RawKeyAgreement.ECDH
_UNCOMPRESSED = (Encoding.X962, PublicFormat.UncompressedPoint)
AGREE = (Opcode.PSA_IMPORT_KEY, Opcode.PSA_RAW_KEY_AGREEMENT)


@pytest.mark.needs(*AGREE)
def test_known_answers(provider: KeyStoreProvider) -> None:
    keys = vectors("keys")
    p256, x25519 = keys["ecdh_p256"], keys["x25519_rfc7748"]
    montgomery = EccKeyPair(EccFamily.MONTGOMERY)
    run(provider, TENANT_A, ImportKey("p256", template(P256, 256, ECDH, derive=True), unhex(p256["private_scalar"])))
    run(
        provider, TENANT_A, ImportKey("x", template(montgomery, 255, ECDH, derive=True), unhex(x25519["alice_private"]))
    )

    agreed = run(provider, TENANT_A, RawKeyAgreementOp(ECDH, "p256", unhex(p256["peer_public_point"])))
    assert agreed.shared_secret == unhex(p256["shared_secret"])
    agreed = run(provider, TENANT_A, RawKeyAgreementOp(ECDH, "x", unhex(x25519["bob_public"])))
    assert agreed.shared_secret == unhex(x25519["shared_secret"])


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, Opcode.PSA_RAW_KEY_AGREEMENT)
def test_a_generated_key_agrees_with_a_cryptography_peer(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, ECDH, derive=True)))
    ours = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), run(provider, TENANT_A, ExportPublicKey("k")).data
    )
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(*_UNCOMPRESSED)
    secret = run(provider, TENANT_A, RawKeyAgreementOp(ECDH, "k", peer_point)).shared_secret
    assert secret == peer.exchange(ec.ECDH(), ours)
    assert len(secret) == 32


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_EXPORT_PUBLIC_KEY, Opcode.PSA_RAW_KEY_AGREEMENT)
def test_ffdh_in_an_rfc7919_group(provider: KeyStoreProvider) -> None:
    ffdh = RawKeyAgreement.FFDH
    run(provider, TENANT_A, GenerateKey("dh", template(DhKeyPair(DhFamily.RFC7919), 2048, ffdh, derive=True)))
    ours = int.from_bytes(run(provider, TENANT_A, ExportPublicKey("dh")).data, "big")
    prime = ffdh_prime(2048)
    peer_private = 2 + secrets.randbelow(prime - 4)
    peer_public = pow(2, peer_private, prime).to_bytes(256, "big")
    secret = run(provider, TENANT_A, RawKeyAgreementOp(ffdh, "dh", peer_public)).shared_secret
    assert secret == pow(ours, peer_private, prime).to_bytes(256, "big")
    for bad_peer in ((1).to_bytes(256, "big"), (prime - 1).to_bytes(256, "big"), peer_public[1:]):
        agree = RawKeyAgreementOp(ffdh, "dh", bad_peer)
        assert status_of(provider, TENANT_A, agree) is Status.PSA_ERROR_INVALID_ARGUMENT


@pytest.mark.needs(Opcode.PSA_GENERATE_KEY, Opcode.PSA_RAW_KEY_AGREEMENT)
def test_statuses(provider: KeyStoreProvider) -> None:
    run(provider, TENANT_A, GenerateKey("ecdh", template(P256, 256, ECDH, derive=True)))
    run(provider, TENANT_A, GenerateKey("no-derive", template(P256, 256, ECDH, sign_hash=True)))
    run(provider, TENANT_A, GenerateKey("signing", template(P256, 256, Ecdsa(Hash.SHA_256), derive=True)))
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(*_UNCOMPRESSED)
    other_curve = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*_UNCOMPRESSED)
    expected = {
        RawKeyAgreementOp(ECDH, "no-derive", peer): Status.PSA_ERROR_NOT_PERMITTED,
        RawKeyAgreementOp(ECDH, "signing", peer): Status.PSA_ERROR_NOT_PERMITTED,
        RawKeyAgreementOp(RawKeyAgreement.FFDH, "ecdh", peer): Status.PSA_ERROR_NOT_PERMITTED,
        RawKeyAgreementOp(ECDH, "ecdh", other_curve): Status.PSA_ERROR_INVALID_ARGUMENT,
        RawKeyAgreementOp(ECDH, "ecdh", peer[:-1] + bytes([peer[-1] ^ 1])): Status.PSA_ERROR_INVALID_ARGUMENT,
        RawKeyAgreementOp(ECDH, "never-made", peer): Status.PSA_ERROR_DOES_NOT_EXIST,
    }
    assert {operation: status_of(provider, TENANT_A, operation) for operation in expected} == expected
