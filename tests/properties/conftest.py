"""One run of `properties.prove.run_all` (both deployments) shared by the tests of the report."""

from __future__ import annotations

import pytest

from properties.prove import ProofReport, run_all


@pytest.fixture(scope="session")
def report() -> ProofReport:
    return run_all()
