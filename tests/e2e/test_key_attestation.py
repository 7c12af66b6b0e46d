"""Key attestation through `BasicClient` over a real socket, on every provider kind.

The TPM provider lists PrepareKeyAttestation and AttestKey (Parsec's 12 TPM opcodes) and a verifier gets its
credential back only for the key it sealed it to (TPM2_MakeCredential in software for the endorsement key that
PrepareKeyAttestation names); another tenant cannot attest the key, and naming an attesting key is NotSupported. The
other providers do not list the two opcodes and answer PsaErrorNotSupported, as Parsec's provider trait does.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from tpm2_pytss.types import TPM2B_NAME
from tpm2_pytss.utils import NoSuchIndex, create_ek_template, make_credential

from refimpl.client import BasicClient, ClientError
from refimpl.client.auth import Direct
from refimpl.ids import Opcode, Status
from refimpl.operations import PrepareKeyAttestationResult
from refimpl.psa import types as t
from tests.fixtures.service import ServiceFactory, ServiceOptions

pytestmark = pytest.mark.e2e

P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)
ATTESTATION = {Opcode.ATTEST_KEY, Opcode.PREPARE_KEY_ATTESTATION}


def no_template(index: int) -> bytes:
    raise NoSuchIndex(index)


def sealed(prepared: PrepareKeyAttestationResult, credential: bytes) -> tuple[bytes, bytes]:
    """The verifier's TPM2_MakeCredential for the default RSA 2048 EK and the attested key's name."""
    ek = create_ek_template("EK-RSA2048", no_template)[1]
    ek_public = load_der_public_key(prepared.attesting_key_pub)
    assert isinstance(ek_public, rsa.RSAPublicKey)
    ek.publicArea.unique.rsa = ek_public.public_numbers().n.to_bytes(256, "big")
    blob, secret = make_credential(ek, credential, TPM2B_NAME(prepared.name))
    return bytes(blob.marshal()), bytes(secret.marshal())


def status_of(call: Any) -> Status:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.status


def test_key_attestation_through_the_client(provider_table: dict[str, Any], service_factory: ServiceFactory) -> None:
    service = service_factory(ServiceOptions().with_providers(provider_table))
    alice, bob = (BasicClient(f"unix:{service.socket_path}", auth=Direct(name)) for name in ("alice", "bob"))
    alice.psa_generate_key("attested", P256)
    alice.psa_generate_key("other", P256)
    listed = alice.list_opcodes(alice.implicit_provider)
    if listed.isdisjoint(ATTESTATION):
        assert status_of(lambda: alice.prepare_activate_credential("attested")) is Status.PSA_ERROR_NOT_SUPPORTED
        assert status_of(lambda: alice.activate_credential_attestation("attested", b"b", b"s")) is (
            Status.PSA_ERROR_NOT_SUPPORTED
        )
        return
    assert listed >= ATTESTATION
    prepared = alice.prepare_activate_credential("attested")
    blob, secret = sealed(prepared, b"the verifier's nonce")
    assert alice.activate_credential_attestation("attested", blob, secret) == b"the verifier's nonce"
    refused = {
        "bound to another key": lambda: alice.activate_credential_attestation("other", blob, secret),
        "another tenant": lambda: bob.activate_credential_attestation("attested", blob, secret),
        "another tenant prepares": lambda: bob.prepare_activate_credential("attested"),
        "a named attesting key": lambda: alice.prepare_activate_credential("attested", "my-ek"),
    }
    assert {case: status_of(call) for case, call in refused.items()} == {
        "bound to another key": Status.PSA_ERROR_DATA_CORRUPT,
        "another tenant": Status.PSA_ERROR_DOES_NOT_EXIST,
        "another tenant prepares": Status.PSA_ERROR_DOES_NOT_EXIST,
        "a named attesting key": Status.PSA_ERROR_NOT_SUPPORTED,
    }
