"""The 2024 revision's four configurations as deployments of the model (GNRC, DSPC, DRCT, JWTS), gated by the
revision's own IDs: each invariant proved where it holds, and where the revision as written leaves a capability
unmitigated, failed with its confirmed counterexample; a verdict for every mitigation of the revision, the SPIFFE
validation attackers (A12, A13) among them."""

from __future__ import annotations

import pytest

from dataflow.catalogue import load_catalogue
from model.nouns import CONFIGURATIONS
from model.operations import ClaimIdentity, SniffValidationRequest, SpoofSpiffeValidation, StealToken, UseUnixAccount
from model.transitions import REGISTRY, mitigations_in_force, requirements
from properties.mutations import MutationVerdict, mitigation_ids
from properties.prove import ProofReport, run_all


@pytest.fixture(scope="module")
def current() -> ProofReport:
    return run_all(model="current")


def _status(report: ProofReport, invariant: str, variant: str) -> str:
    (found,) = [r for r in report.invariants if r.invariant == invariant and r.variant == variant]
    return found.status


def _verdict(report: ProofReport, mitigation: str, variant: str) -> MutationVerdict:
    (found,) = [m for m in report.mutations if m.mitigation == mitigation and m.variant == variant]
    return found


def test_configurations_are_gated_by_the_revision() -> None:
    assert requirements("DRCT") == ("O-10",)
    assert REGISTRY[ClaimIdentity].exists_in("DRCT") and REGISTRY[ClaimIdentity].blockers("DRCT") == ("O-10",)
    assert not REGISTRY[StealToken].exists_in("DSPC"), "A1-S-1 is marked out of DSPC: no tokens there"
    assert REGISTRY[UseUnixAccount].exists_in("DSPC") and REGISTRY[UseUnixAccount].blockers("DSPC") == ()
    assert all(not REGISTRY[SpoofSpiffeValidation].exists_in(c) for c in ("GNRC", "DSPC", "DRCT"))
    assert "O-7" not in mitigations_in_force("JWTS") and "O-7" in mitigations_in_force("GNRC")


@pytest.mark.parametrize("variant", ["GNRC", "DRCT"])
def test_every_invariant_is_proved_where_the_revision_mitigates_every_capability(
    current: ProofReport, variant: str
) -> None:
    assert {r.status for r in current.invariants if r.variant == variant} == {"proved"}


@pytest.mark.threat("A1-S-3")
def test_dspc_tenant_isolation_fails_through_another_clients_unix_account(current: ProofReport) -> None:
    (result,) = [r for r in current.invariants if r.invariant == "tenant-isolation" and r.variant == "DSPC"]
    assert result.status == "failed" and result.counterexample is not None
    assert result.counterexample.confirmed_by_z3 and "UseUnixAccount" in result.counterexample.capabilities
    assert _status(current, "mapping-integrity", "DSPC") == "proved"


@pytest.mark.threat("A10-S-1")
def test_jwts_as_written_leaves_the_trust_bundle_unmitigated(current: ProofReport) -> None:
    (result,) = [r for r in current.invariants if r.invariant == "tenant-isolation" and r.variant == "JWTS"]
    assert result.status == "failed" and result.counterexample is not None
    assert "SpoofTrustBundle" in result.counterexample.capabilities
    assert "A10-S-1" in result.counterexample.threats


def test_every_mitigation_of_the_revision_has_a_verdict_in_every_configuration(current: ProofReport) -> None:
    pairs = sorted((m.mitigation, m.variant) for m in current.mutations)
    assert pairs == sorted((m, v) for v in CONFIGURATIONS for m in mitigation_ids(v))
    catalogue = load_catalogue(model="current")
    assert all(catalogue.threat(t) for m in current.mutations for t in m.threats)
    assert all(m.all_confirmed for m in current.mutations)


@pytest.mark.parametrize(
    ("mitigation", "capability", "rows"),
    [
        ("M-9", SniffValidationRequest, {"A12-I-1"}),
        ("O-14", SpoofSpiffeValidation, {"A13-S-1", "A13-T-1"}),
    ],
)
def test_the_spiffe_validation_attackers_are_blocked_by_the_mitigations_the_revision_names(
    current: ProofReport, mitigation: str, capability: type, rows: set[str]
) -> None:
    verdict = _verdict(current, mitigation, "JWTS")
    assert verdict.status == "counterexample"
    assert capability.__name__ in verdict.capabilities and rows <= set(verdict.threats)


@pytest.mark.threat("A1-S-1", "O-10")
def test_drct_rests_on_mutually_trusted_clients(current: ProofReport) -> None:
    verdict = _verdict(current, "O-10", "DRCT")
    assert verdict.status == "counterexample" and verdict.capabilities == ("ClaimIdentity",)
