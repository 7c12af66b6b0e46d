"""PrepareKeyAttestation and AttestKey as operations: the TPM provider handles them, the others answer NotSupported.

Each request and result goes through the protobuf codec, as on the wire, and the verifier's side is
TPM2_MakeCredential in software (`tpm2_pytss.utils.make_credential`) for the endorsement key whose public key
PrepareKeyAttestation gave. Parsec's TPM provider lists these two among its 12 opcodes; the Mbed Crypto and PKCS#11
providers do not list them and their `Provide` defaults answer PsaErrorNotSupported.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from tpm2_pytss.types import TPM2B_NAME
from tpm2_pytss.utils import NoSuchIndex, create_ek_template, make_credential

from refimpl import operations as ops
from refimpl.errors import ParsecError
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType, Opcode, Status
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa import types as t
from refimpl.wire import codec

ALICE = Application(ApplicationIdentity("alice", AuthType.DIRECT))
BOB = Application(ApplicationIdentity("bob", AuthType.DIRECT))
SIGNING = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)
TPM_OPCODES = frozenset(
    {
        Opcode.PSA_GENERATE_KEY,
        Opcode.PSA_GENERATE_RANDOM,
        Opcode.PSA_DESTROY_KEY,
        Opcode.PSA_SIGN_HASH,
        Opcode.PSA_VERIFY_HASH,
        Opcode.PSA_IMPORT_KEY,
        Opcode.PSA_EXPORT_PUBLIC_KEY,
        Opcode.PSA_ASYMMETRIC_DECRYPT,
        Opcode.PSA_ASYMMETRIC_ENCRYPT,
        Opcode.CAN_DO_CRYPTO,
        Opcode.ATTEST_KEY,
        Opcode.PREPARE_KEY_ATTESTATION,
    }
)
"""Parsec 1.1.0's TPM provider (parsec-facts §4.5)."""


def over_the_wire(provider: KeyStoreProvider, application: Application, operation: ops.Operation) -> Any:
    """The operation and its result through the codec, as the service and a client handle them."""
    opcode = ops.OPCODE_OF[type(operation)]
    decoded = codec.decode_operation(opcode, codec.encode_operation(operation))
    return codec.decode_result(opcode, codec.encode_result(opcode, provider.execute(application, decoded)))


def no_template(index: int) -> bytes:
    raise NoSuchIndex(index)


def make_credential_for(prepared: ops.PrepareKeyAttestationResult, credential: bytes) -> tuple[bytes, bytes]:
    """The verifier: TPM2_MakeCredential for the TCG default RSA 2048 EK and the attested key's name."""
    ek = create_ek_template("EK-RSA2048", no_template)[1]
    ek_public = load_der_public_key(prepared.attesting_key_pub)
    assert isinstance(ek_public, rsa.RSAPublicKey)
    ek.publicArea.unique.rsa = ek_public.public_numbers().n.to_bytes(256, "big")
    blob, secret = make_credential(ek, credential, TPM2B_NAME(prepared.name))
    return bytes(blob.marshal()), bytes(secret.marshal())


@pytest.mark.needs(Opcode.ATTEST_KEY, Opcode.PREPARE_KEY_ATTESTATION)
def test_a_verifier_gets_its_credential_back_for_the_key_it_named(provider: KeyStoreProvider) -> None:
    assert provider.opcodes == TPM_OPCODES
    provider.execute(ALICE, ops.GenerateKey("attested", SIGNING))
    provider.execute(ALICE, ops.GenerateKey("other", SIGNING))
    prepared = over_the_wire(provider, ALICE, ops.PrepareKeyAttestation("attested"))
    assert isinstance(prepared, ops.PrepareKeyAttestationResult)
    blob, secret = make_credential_for(prepared, b"a verifier's nonce")
    attested = over_the_wire(provider, ALICE, ops.AttestKey("attested", blob, secret))
    assert attested == ops.AttestKeyResult(b"a verifier's nonce")
    with pytest.raises(ParsecError) as bound_elsewhere:
        over_the_wire(provider, ALICE, ops.AttestKey("other", blob, secret))
    assert bound_elsewhere.value.status is Status.PSA_ERROR_DATA_CORRUPT


@pytest.mark.needs(Opcode.ATTEST_KEY, Opcode.PREPARE_KEY_ATTESTATION)
def test_attestation_sees_only_the_callers_keys_and_the_default_attesting_key(provider: KeyStoreProvider) -> None:
    provider.execute(ALICE, ops.GenerateKey("attested", SIGNING))
    blob, secret = make_credential_for(over_the_wire(provider, ALICE, ops.PrepareKeyAttestation("attested")), b"c")
    refused: dict[str, tuple[Application, ops.Operation, Status]] = {
        "another tenant's key name": (BOB, ops.PrepareKeyAttestation("attested"), Status.PSA_ERROR_DOES_NOT_EXIST),
        "another tenant attests": (BOB, ops.AttestKey("attested", blob, secret), Status.PSA_ERROR_DOES_NOT_EXIST),
        "a named attesting key": (ALICE, ops.PrepareKeyAttestation("attested", "ek"), Status.PSA_ERROR_NOT_SUPPORTED),
        # Parsec checks the attesting key before it looks the attested key up
        "a named attesting key, no key": (
            ALICE,
            ops.AttestKey("absent", blob, secret, "ek"),
            Status.PSA_ERROR_NOT_SUPPORTED,
        ),
        "no such key": (ALICE, ops.AttestKey("absent", blob, secret), Status.PSA_ERROR_DOES_NOT_EXIST),
    }
    answered: dict[str, Status] = {}
    for case, (application, operation, _) in refused.items():
        with pytest.raises(ParsecError) as raised:
            over_the_wire(provider, application, operation)
        answered[case] = raised.value.status
    assert answered == {case: status for case, (_, _, status) in refused.items()}


def test_other_providers_do_not_list_or_run_attestation(provider_kind: str, provider: KeyStoreProvider) -> None:
    attestation = {Opcode.ATTEST_KEY, Opcode.PREPARE_KEY_ATTESTATION}
    if provider_kind == "tpm":
        assert attestation <= provider.opcodes
        return
    assert not attestation & provider.opcodes
    provider.execute(ALICE, ops.GenerateKey("attested", SIGNING))
    for operation in (ops.PrepareKeyAttestation("attested"), ops.AttestKey("attested", b"", b"")):
        with pytest.raises(ParsecError) as raised:
            provider.execute(ALICE, operation)
        assert raised.value.status is Status.PSA_ERROR_NOT_SUPPORTED
