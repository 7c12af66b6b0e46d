"""The fuzzer covers Parsec's TPM key attestation against the TPM provider on swtpm.

PrepareKeyAttestation and AttestKey are rules of the conformance machine: the fuzzer checks the key's TPM name
against its public area, keeps the endorsement key and each key's name constant, and seals credentials as a
verifier does (TPM2_MakeCredential in software) to the key's own name or to another one. A campaign against the
TPM provider must agree with the model on every status the attestation rules reach: Success, PsaErrorDataCorrupt
(a credential bound to another name), PsaErrorNotSupported (a named attesting key), PsaErrorDoesNotExist (another
tenant's key name, or none), and PsaErrorInvalidArgument (a public key cannot activate a credential).
"""

from __future__ import annotations

import pytest
from hypothesis.database import InMemoryExampleDatabase

from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import Budget
from tests.conformance.conftest import OwnedTargetFactory

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


EXPECTED = {
    ("PrepareKeyAttestation", "Success"),
    ("PrepareKeyAttestation", "PsaErrorNotSupported"),
    ("PrepareKeyAttestation", "PsaErrorDoesNotExist"),
    ("AttestKey", "Success"),
    ("AttestKey", "PsaErrorDataCorrupt"),
    ("AttestKey", "PsaErrorNotSupported"),
    ("AttestKey", "PsaErrorDoesNotExist"),
    ("AttestKey", "PsaErrorInvalidArgument"),
}
"""Every (operation, status) the model gives key attestation on the TPM, short of the dispatch failures."""


@pytest.mark.threat("M-5", "A1-S-1")
def test_key_attestation_conforms_on_the_tpm(owned_target: OwnedTargetFactory) -> None:
    """Seeded campaigns (a few, until every expected status was reached: the rules are two among many)."""
    target = owned_target("tpm")
    reached: set[tuple[str, str]] = set()
    for seed in range(3, 8):
        budget = Budget(steps=600, seed=seed)
        result = run_campaign(target, budget, database=InMemoryExampleDatabase(), lifecycle_percent=5)
        assert result.passed, str(result.divergence)
        reached |= {
            (row["operation"], row["status"])
            for row in result.coverage["matrix"]
            if row["operation"] in ("PrepareKeyAttestation", "AttestKey") and row["provider"] == "Tpm"
        }
        if reached >= EXPECTED:
            break
    assert EXPECTED - reached == set(), sorted(reached)
