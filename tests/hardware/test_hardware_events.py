"""The M-4 events "a hardware command is issued" / "a hardware command is received", around every device call.

Seed M-4 (repudiation threats A4-R-1, "commands cannot be proven to have originated in the service", and A5-R-1,
"responses cannot be proven to originate from the hardware module"): each call into SoftHSM2 or swtpm is logged
before and after, with the application identity and the command, by a logger named after the module that made
the call (M-7, against A8-S-2) — also when the device answers with an error.
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.logs import Event
from refimpl.operations import GenerateKey, SignHash, VerifyHash
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import ProviderFactory
from tests.providers.helpers import P256, TENANT_A, run, status_of, template

ECDSA = Ecdsa(Hash.SHA_256)
DIGEST = hashlib.sha256(b"events").digest()
SIGNING_COMMAND = {"pkcs11": "C_Sign", "tpm": "TPM2_Load+Sign"}
VERIFYING_COMMAND = {"pkcs11": "C_Verify", "tpm": "TPM2_LoadExternal+VerifySignature"}


@pytest.mark.threat("A4-R-1", "A5-R-1", "M-4", "A8-S-2", "M-7")
@pytest.mark.parametrize("kind", ["pkcs11", "tpm"])
def test_each_device_call_is_logged_before_and_after_by_its_module(
    kind: str,
    request: pytest.FixtureRequest,
    kim: KeyInfoManager,
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory: ProviderFactory = request.getfixturevalue(f"{kind}_provider_factory")
    provider = factory(kim)
    run(provider, TENANT_A, GenerateKey("k", template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)))
    caplog.clear()
    caplog.set_level(logging.INFO, logger="refimpl")

    run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST))
    assert (
        status_of(provider, TENANT_A, VerifyHash("k", ECDSA, DIGEST, bytes(64))) is Status.PSA_ERROR_INVALID_SIGNATURE
    )

    events = [
        (record.name, record.getMessage()) for record in caplog.records if "hardware command" in record.getMessage()
    ]
    issued, received = Event.HARDWARE_COMMAND_ISSUED.value, Event.HARDWARE_COMMAND_RECEIVED.value
    module = f"refimpl.providers.{kind}.asym_sign"
    assert [name for name, _ in events] == [module] * 4
    assert [message.split(":")[0] for _, message in events] == [issued, received, issued, received]
    assert all('app="tenant-a" auth=Direct' in message for _, message in events)
    assert SIGNING_COMMAND[kind] in events[0][1] and SIGNING_COMMAND[kind] in events[1][1]
    assert VERIFYING_COMMAND[kind] in events[2][1] and VERIFYING_COMMAND[kind] in events[3][1]
    assert "result=ok" in events[1][1]
    if kind == "tpm":  # the TPM itself refuses the signature; a token's C_Verify just answers "invalid"
        assert "result=0x" in events[3][1]
