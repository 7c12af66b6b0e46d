"""A bounded slice of the load campaign (`bench/campaign_load.py` runs 64 clients × 1,000 requests per provider).

The seed's A1-D-2 and M-0: sixteen clients at once, each with its own key and a random mix of requests, on the
software provider, PKCS#11 on SoftHSM2 and TPM on swtpm; every request is answered, and answered right.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.campaigns.load import run_load
from tests.campaigns.parts import PROVIDERS
from tests.fixtures.service import ServiceFactory, ServiceOptions, software_provider_table

pytestmark = pytest.mark.e2e

CLIENTS, REQUESTS = 16, 60


def provider_table(kind: str, request: pytest.FixtureRequest, service_dir_name: str) -> Mapping[str, Any]:
    """The provider's table, on the session's SoftHSM2 token or swtpm, under a name no other test uses."""
    if kind == "pkcs11":
        return request.getfixturevalue("softhsm_token").provider_table(service_dir_name)  # type: ignore[no-any-return]
    if kind == "tpm":
        return request.getfixturevalue("swtpm").provider_table(service_dir_name)  # type: ignore[no-any-return]
    return software_provider_table(request.getfixturevalue("tmp_path"), service_dir_name)


@pytest.mark.threat("A1-D-2", "M-0")
@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_sixteen_clients_at_once_get_every_answer_right(
    kind: str, request: pytest.FixtureRequest, service_factory: ServiceFactory
) -> None:
    table = provider_table(kind, request, f"campaign-load-{kind}")
    service = service_factory(ServiceOptions(providers=(table,), thread_pool_size=4, log_level="warn"))
    report = run_load(service.endpoint, kind, PROVIDERS[kind], CLIENTS, REQUESTS, seed=7)
    assert report.errors == [], report.errors[:5]
    assert report.requests == CLIENTS * REQUESTS, report.summary()
    assert {"sign", "verify", "ping", "create-key", "destroy-key"} <= set(report.latencies)
