"""JwtSvid campaigns with the life cycle: an owned service on each provider, its tenants proved with JWT-SVIDs.

The project's Workload API server registers this process's Unix user for the SPIFFE IDs "admin", "tenant-a" and
"tenant-b"; the service (`auth_type = "JwtSvid"`, admin `spiffe://…/admin`) is owned by the harness, so the
campaign reloads it (good and bad config), restarts it and kills it with -9 between requests, and after every
start waits until the service trusts the Workload API's bundle again. Keys must survive all of it, tenants stay
isolated, and no refused token is ever the fuzzer's (the per-user failure count, M-2, is never spent).
"""

from __future__ import annotations

import pytest
from hypothesis.database import ExampleDatabase

from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import Budget
from refimpl.identity_provider.server import WorkloadApiServer
from tests.conformance.conftest import OwnedTargetFactory
from tests.conformance.test_fuzz_jwt_svid import workload_api  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

STARTS = {"graceful-restart", "kill-9", "crash-after-provider-write", "crash-after-mapping-removal"}


@pytest.mark.threat("A1-S-1", "M-2", "M-5")
@pytest.mark.parametrize("kind", ["software", "pkcs11", "tpm"])
def test_jwt_svid_tenants_conform_through_reloads_restarts_and_kills(
    kind: str,
    owned_target: OwnedTargetFactory,
    workload_api: WorkloadApiServer,  # noqa: F811 - the fixture imported above
    campaign_database: ExampleDatabase,
) -> None:
    target = owned_target(kind, auth="jwt-svid", workload_endpoint=workload_api.endpoint)
    result = run_campaign(target, Budget(steps=800, seed=7), database=campaign_database, lifecycle_percent=40)
    assert result.passed, str(result.divergence)
    assert result.steps >= 800
    assert "reload" in result.events and STARTS & set(result.events), f"life-cycle events run: {result.events}"
    assert {"t0", "t1", "admin"} <= set(result.coverage["tenants"]), result.coverage["tenants"]
