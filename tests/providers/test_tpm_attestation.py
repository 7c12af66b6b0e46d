"""Key attestation on the TPM provider (Parsec's ActivateCredential mechanism), on a real swtpm.

A verifier holds what PrepareKeyAttestation gives — the attested key's name and public area and the endorsement
key's public key — and runs TPM2_MakeCredential in software (`tpm2_pytss.utils.make_credential`); AttestKey gives
the credential back only when the name is that of a key loaded in this TPM. Another tenant's key name is
DoesNotExist, a credential bound to another name is refused, and a non-default attesting key is NotSupported.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from tpm2_pytss.types import TPM2B_NAME, TPM2B_PUBLIC, TPMT_PUBLIC
from tpm2_pytss.utils import make_credential

from refimpl.errors import ParsecError
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType, Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import GenerateKey
from refimpl.providers.tpm import TpmProvider
from refimpl.providers.tpm.attestation import ek_template
from refimpl.psa import types as t

ALICE = Application(ApplicationIdentity("alice", AuthType.DIRECT))
BOB = Application(ApplicationIdentity("bob", AuthType.DIRECT))
SIGNING = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)


@pytest.fixture
def tpm(tpm_provider_factory: Callable[..., TpmProvider], key_info_manager: KeyInfoManager) -> TpmProvider:
    provider = tpm_provider_factory(key_info_manager)
    provider.execute(ALICE, GenerateKey("attested", SIGNING))
    return provider


def seal(provider: TpmProvider, credential: bytes) -> tuple[bytes, bytes]:
    """What the verifier does with PrepareKeyAttestation's output: MakeCredential for the EK and the key's name."""
    parameters = provider.prepare_activate_credential(ALICE, "attested")
    ek = ek_template()
    ek_public = load_der_public_key(parameters.attesting_key_pub)
    assert isinstance(ek_public, rsa.RSAPublicKey)
    ek.publicArea.unique.rsa = ek_public.public_numbers().n.to_bytes(256, "big")
    blob, secret = make_credential(ek, credential, TPM2B_NAME(parameters.name))
    return bytes(blob.marshal()), bytes(secret.marshal())


def test_the_credential_comes_back_only_for_the_key_it_was_sealed_to(tpm: TpmProvider) -> None:
    parameters = tpm.prepare_activate_credential(ALICE, "attested")
    assert isinstance(load_der_public_key(parameters.attesting_key_pub), rsa.RSAPublicKey)
    public, _ = TPMT_PUBLIC.unmarshal(parameters.public)
    assert bytes(TPM2B_PUBLIC(public).get_name()) == parameters.name  # the name is the digest of that public area
    assert tpm.prepare_activate_credential(ALICE, "attested").attesting_key_pub == parameters.attesting_key_pub
    blob, secret = seal(tpm, b"nonce from the verifier")
    assert tpm.activate_credential(ALICE, "attested", blob, secret) == b"nonce from the verifier"
    tpm.execute(ALICE, GenerateKey("other", SIGNING))
    with pytest.raises(ParsecError) as refused:
        tpm.activate_credential(ALICE, "other", blob, secret)  # sealed to another key's name
    assert refused.value.status is Status.PSA_ERROR_DATA_CORRUPT


def test_attestation_keeps_to_the_callers_keys_and_the_default_attesting_key(tpm: TpmProvider) -> None:
    blob, secret = seal(tpm, b"c")
    for call in (
        lambda: tpm.prepare_activate_credential(BOB, "attested"),
        lambda: tpm.activate_credential(BOB, "attested", blob, secret),
    ):
        with pytest.raises(ParsecError) as absent:
            call()
        assert absent.value.status is Status.PSA_ERROR_DOES_NOT_EXIST
    with pytest.raises(ParsecError) as other:
        tpm.prepare_activate_credential(ALICE, "attested", attesting_key_name="my-own-ek")
    assert other.value.status is Status.PSA_ERROR_NOT_SUPPORTED
    with pytest.raises(ParsecError) as malformed:
        tpm.activate_credential(ALICE, "attested", b"\x00", secret)
    assert malformed.value.status is Status.PSA_ERROR_INVALID_ARGUMENT
