"""Bounded conformance campaigns on every provider, with reloads, restarts and crashes in the mix.

Issue "Stateful conformance", items 2 and 5: the software provider, PKCS#11 on SoftHSM2 and the TPM on swtpm, each
driven by Hypothesis for a few thousand steps against the model (`settings.CAMPAIGN_BUDGETS`), tenants
colliding on key names, the service reloaded (SIGHUP), stopped gracefully and killed (SIGKILL) and restarted on
the same state. A divergence fails the test with its shrunk trace; the example database keeps it for the next run.
With Unix peer credentials the tenants are three real Unix users and the admin is root.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis.database import ExampleDatabase

from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import CAMPAIGN_BUDGETS, Budget
from tests.conformance.conftest import OwnedTargetFactory

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CRASHES = {"kill-9", "crash-after-provider-write", "crash-after-mapping-removal"}
CAMPAIGN_SEED = 1


@pytest.mark.threat("M-5", "A3-D-1", "O-0")
@pytest.mark.parametrize("kind", ["software", "pkcs11", "tpm"])
def test_the_service_conforms_to_the_model_through_reloads_restarts_and_crashes(
    kind: str, owned_target: OwnedTargetFactory, campaign_database: ExampleDatabase
) -> None:
    # Seeded, so that CI reruns the same campaign and a red run reproduces (the versions are locked); a run with
    # no reload or no crash in it tested less than it claims, so that fails too. `parsec-tm fuzz` explores seeds.
    budget = replace(CAMPAIGN_BUDGETS[kind], seed=CAMPAIGN_SEED)
    target = owned_target(kind)
    result = run_campaign(target, budget, database=campaign_database)
    assert result.passed, str(result.divergence)
    assert result.steps >= budget.steps
    assert "reload" in result.events and CRASHES & set(result.events), f"life-cycle events run: {result.events}"


@pytest.mark.threat("M-5", "A1-S-1")
def test_real_unix_users_are_isolated_tenants_under_peer_credentials(
    owned_target: OwnedTargetFactory, tenant_uids: tuple[int, ...], campaign_database: ExampleDatabase
) -> None:
    target = owned_target("software", auth="peer", peer_uids=tenant_uids)
    budget = Budget(steps=1000)
    result = run_campaign(target, budget, database=campaign_database)
    assert result.passed, str(result.divergence)
    assert result.steps >= budget.steps


@pytest.mark.threat("M-5")
def test_a_bad_reload_between_good_ones_leaves_keys_and_mappings_as_they_were(
    owned_target: OwnedTargetFactory, campaign_database: ExampleDatabase
) -> None:
    """SIGHUP with an invalid config.toml: the service keeps serving with the configuration in force; the keys,
    used, listed and exported after it and after the good reloads around it, are the model's."""
    target = owned_target("software")
    result = run_campaign(target, Budget(steps=1500, seed=2), database=campaign_database, lifecycle_percent=60)
    assert result.passed, str(result.divergence)
    assert result.events.get("bad-reload", 0) >= 1 and result.events.get("reload", 0) >= 1, result.events
    assert "invalid" in target.process.log_path.read_text()
