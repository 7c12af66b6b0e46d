"""The Redis example database, against a real redis-server: a failure one worker finds replays on another.

Campaign A fuzzes a service with a planted isolation bug and finds it; Hypothesis saves the shrunk example in the
Redis database. Campaign B — another seed, another service process, another set of tenants: another worker or
another machine — starts by replaying what the database holds, and reports the same minimal trace at once. Then
`parsec-tm fuzz --workers 2 --database redis://…` runs against a sound service through the same server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import DEFAULT_STEPS, Budget, example_database
from parsec_tm.conformance.trace import Divergence
from tests.conformance.conftest import OwnedTargetFactory
from tests.conformance.redis_server import redis_server
from tests.conformance.test_fuzz_cli import fuzz, start_service

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def calls(divergence: Divergence) -> list[str]:
    return [step.call() for step in divergence.trace if step.replayed]


def launcher(bug: str) -> list[str]:
    return [sys.executable, "-m", "tests.conformance.planted_service", bug, "--config"]


def test_a_failure_found_by_one_worker_replays_on_another(owned_target: OwnedTargetFactory, redis_url: str) -> None:
    from redis import Redis

    database = example_database(redis_url)
    assert database is not None
    first = run_campaign(owned_target("software", command=launcher("isolation")), Budget(DEFAULT_STEPS, seed=1),
                         database=database)  # fmt: skip
    assert first.divergence is not None, f"the planted bug went unnoticed for {first.steps} steps"
    assert Redis.from_url(redis_url).dbsize() > 0, "nothing was saved in Redis"
    second = run_campaign(owned_target("software", command=launcher("isolation")), Budget(DEFAULT_STEPS, seed=99),
                          database=example_database(redis_url))  # fmt: skip
    assert second.divergence is not None
    assert calls(second.divergence) == calls(first.divergence)
    assert second.steps <= len(calls(first.divergence)) + 2, (
        f"the second campaign ran {second.steps} steps: it searched instead of replaying the saved failure"
    )


def test_workers_share_a_redis_database_from_the_command_line(redis_url: str, tmp_path: Path) -> None:
    service = start_service()
    try:
        run = fuzz(tmp_path, "--socket", str(service.socket_path), "--auth", "direct", "--steps", "200",
                   "--workers", "2", "--seed", "4", "--database", redis_url, "--format", "json")  # fmt: skip
    finally:
        service.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(run.stdout)
    assert document["passed"] and [campaign["seed"] for campaign in document["campaigns"]] == [4, 5]
