"""A bounded slice of the crash-consistency campaign (`bench/campaign_crash_consistency.py` runs 200 kills each).

The seed's A6-D-1 on the software provider, PKCS#11 on SoftHSM2 and TPM on swtpm: a few kill -9 at random moments
while two clients create and destroy keys lose no acknowledged key, bring back no destroyed key, leave every
in-flight key whole or absent (and creatable again), and the start-up sweep leaves no orphan. The planted damage
shows the checks are not blind: a key store emptied behind the service's back is reported as lost keys, a key
the campaign believes destroyed but which is listed is reported as back, and a temporary key file in the store
at an audit is reported as left behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.campaigns.crash_consistency import CrashCampaign
from tests.campaigns.parts import PROVIDERS, ProviderUnderTest
from tests.fixtures.service import ServiceFactory, ServiceOptions, software_provider_table

pytestmark = pytest.mark.e2e

SLICE_KILLS = 6
MAX_DELAY = 0.4


def provider_under_test(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> ProviderUnderTest:
    """The provider on the session's SoftHSM2 token (under a name no other test uses), or on a private swtpm: the
    audit looks at every object in the TPM, so no other test's may be there."""
    name = f"campaign-crash-{kind}"
    if kind == "pkcs11":
        return ProviderUnderTest(request.getfixturevalue("softhsm_token").provider_table(name))
    if kind == "tpm":
        tpm = request.getfixturevalue("swtpm_factory")()
        return ProviderUnderTest(tpm.provider_table(name), tpm)
    return ProviderUnderTest(software_provider_table(tmp_path, name))


@pytest.mark.threat("A6-D-1")
@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_kill_9_at_random_moments_loses_nothing_and_orphans_nothing(
    kind: str, request: pytest.FixtureRequest, service_factory: ServiceFactory, tmp_path: Path
) -> None:
    part = provider_under_test(kind, request, tmp_path)
    service = service_factory(ServiceOptions(providers=(part.table,), log_level="warn"))
    campaign = CrashCampaign(service, kind, PROVIDERS[kind], seed=SLICE_KILLS, tpm=part.tpm)
    report = campaign.run(SLICE_KILLS, MAX_DELAY, audit_every=3)
    assert report.violations == [], report.summary()
    assert report.kills == SLICE_KILLS
    assert report.keys_created > 0 and sum(report.in_flight.values()) > 0, report.summary()
    assert report.audits == 2
    assert report.dangling == report.tpm_objects_left == 0 and report.orphans in (0, None)


@pytest.mark.threat("A6-D-1")
def test_the_on_disk_key_info_manager_keeps_the_same_promises(service_factory: ServiceFactory, tmp_path: Path) -> None:
    table = software_provider_table(tmp_path, "campaign-crash-on-disk")
    service = service_factory(ServiceOptions(providers=(table,), log_level="warn", manager_type="OnDisk"))
    report = CrashCampaign(service, "software", PROVIDERS["software"], seed=3).run(4, MAX_DELAY, audit_every=2)
    assert report.violations == [], report.summary()
    assert report.audits == 2 and sum(report.in_flight.values()) > 0


@pytest.mark.threat("A6-D-1")
def test_kill_9_of_a_multi_process_service_takes_its_workers_with_it(
    service_factory: ServiceFactory, tmp_path: Path
) -> None:
    table = software_provider_table(tmp_path, "campaign-crash-processes")
    service = service_factory(ServiceOptions(providers=(table,), log_level="warn", processes=2))
    report = CrashCampaign(service, "software", PROVIDERS["software"], seed=2).run(2, MAX_DELAY, audit_every=2)
    assert report.violations == [], report.summary()
    assert report.surviving_workers == 0


def test_the_checks_report_lost_and_returning_keys(service_factory: ServiceFactory, tmp_path: Path) -> None:
    table = software_provider_table(tmp_path, "campaign-crash-planted")
    service = service_factory(ServiceOptions(providers=(table,), log_level="warn"))
    campaign = CrashCampaign(service, "software", PROVIDERS["software"], seed=1)
    campaign.run(2, MAX_DELAY)
    assert campaign.report.violations == []
    tenant = next(tenant for tenant in campaign.tenants if len(tenant.live) >= 2)
    survivor = sorted(tenant.live)[0]
    tenant.live.discard(survivor)
    tenant.destroyed.add(survivor)  # the campaign believes it destroyed; the service still has it
    service.start()
    campaign.check(tenant, 100)
    assert f"kill 100: {tenant.name}: destroyed key {survivor} is back" in campaign.report.violations
    service.stop()
    shutil.rmtree(Path(table["key_store_path"]))  # every key file gone behind the service's back
    Path(table["key_store_path"]).mkdir(mode=0o700)
    service.start()
    campaign.check(tenant, 101)
    lost = [violation for violation in campaign.report.violations if violation.startswith("kill 101")]
    assert lost and all("lost" in violation for violation in lost), campaign.report.violations
    (Path(table["key_store_path"]) / ".00000099.key.999999999.1.tmp").write_bytes(b"key material")
    campaign.audit(102)  # stops the service: the temporary file is what a writer killed before its rename leaves
    assert campaign.report.temporaries_left == 1
    assert any(
        violation.startswith("kill 102: 1 temporary key store files left") for violation in campaign.report.violations
    )
