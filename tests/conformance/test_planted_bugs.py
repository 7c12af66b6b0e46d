"""The fuzzer can fail: a planted isolation bug and a planted persistence bug are each reported within the default
budget, as a short trace that shows the bug.

Issue "Stateful conformance", item 4. The service under test runs `tests/conformance/planted_service.py`, the
reference service with a deliberately broken software provider (see that module). Neither campaign shares the
example database of the real campaigns: a planted failure must not be replayed against the real service.
"""

from __future__ import annotations

import re
import sys

import pytest

from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import DEFAULT_STEPS, Budget
from parsec_tm.conformance.trace import Divergence
from tests.conformance.conftest import OwnedTargetFactory

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def callers(divergence: Divergence) -> set[str]:
    """The tenants (t0, t1, …) that sent a request in the trace."""
    found = (re.search(r" as (t\d+) ", exchange.request) for step in divergence.trace for exchange in step.exchanges)
    return {match.group(1) for match in found if match is not None}


def launcher(bug: str) -> list[str]:
    return [sys.executable, "-m", "tests.conformance.planted_service", bug, "--config"]


@pytest.mark.threat("A7-T-1", "M-5")
def test_a_planted_isolation_bug_is_found_and_shrunk(owned_target: OwnedTargetFactory) -> None:
    target = owned_target("software", command=launcher("isolation"))
    result = run_campaign(target, Budget(steps=DEFAULT_STEPS, seed=1))
    divergence = result.divergence
    assert divergence is not None, f"the isolation bug went unnoticed for {result.steps} steps"
    assert result.steps <= DEFAULT_STEPS
    assert len([step for step in divergence.trace if step.replayed]) <= 4, str(divergence)
    assert len(callers(divergence)) >= 2, f"an isolation bug needs two tenants to show:\n{divergence}"
    assert "DIVERGES" in str(divergence)


@pytest.mark.threat("A7-D-2", "M-5")
def test_a_planted_persistence_bug_is_found_across_a_reload_or_restart(owned_target: OwnedTargetFactory) -> None:
    target = owned_target("software", command=launcher("persistence"))
    result = run_campaign(target, Budget(steps=DEFAULT_STEPS, seed=1))
    divergence = result.divergence
    assert divergence is not None, f"the persistence bug went unnoticed for {result.steps} steps"
    assert result.steps <= DEFAULT_STEPS
    rules = [step.rule for step in divergence.trace if step.replayed]
    assert "lifecycle" in rules, f"a persistence bug shows only across a reload or restart:\n{divergence}"
    assert len(rules) <= 5, str(divergence)
