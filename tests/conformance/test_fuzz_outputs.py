"""What `parsec-tm fuzz` tells a CI system: coverage, `--min-coverage`, JUnit XML, declared deviations, workers.

Each run is the real command against a real `parsec-tm serve` (or the planted-bug launcher) on a private socket,
reached only through that socket, as any external Parsec service.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from parsec_tm.conformance.coverage import model_opcodes, model_statuses
from parsec_tm.conformance.deviations import REFERENCE_DEVIATIONS
from parsec_tm.conformance.machine import rule_names
from parsec_tm.conformance.service import ServiceProcess
from tests.conformance.test_fuzz_cli import fuzz, start_service

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def service() -> Iterator[ServiceProcess]:
    process = start_service()
    yield process
    process.stop()


@pytest.fixture
def planted() -> Iterator[ServiceProcess]:
    process = start_service([sys.executable, "-m", "tests.conformance.planted_service", "isolation", "--config"])
    yield process
    process.stop()


def test_every_run_ends_with_its_coverage_and_min_coverage_can_fail_it(service: ServiceProcess, tmp_path: Path) -> None:
    socket = str(service.socket_path)
    run = fuzz(tmp_path, "--socket", socket, "--auth", "direct", "--steps", "400", "--seed", "5", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    coverage = json.loads(run.stdout)["coverage"]
    cells = {(cell["operation"], cell["status"], cell["provider"]) for cell in coverage["matrix"]}
    assert any(status == "Success" and provider == "MbedCrypto" for _, status, provider in cells)
    assert any(status != "Success" for _, status, _ in cells)
    assert sum(cell["count"] for cell in coverage["matrix"]) == coverage["requests"] > 0
    assert {"t0", "t1"} <= set(coverage["tenants"])
    never = coverage["never"]
    assert set(never["rules"]) <= set(rule_names()) and set(never["operations"]) <= set(model_opcodes())
    assert set(never["statuses"]) <= set(model_statuses())
    assert never["lifecycle_events"] == []  # a service the fuzzer does not own: no life-cycle goals
    assert "AuthenticatorNotRegistered" in never["statuses"]  # one authenticator is configured: never answered
    assert 0 < coverage["score"] < 100
    text = fuzz(tmp_path, "--socket", socket, "--auth", "direct", "--steps", "200", "--seed", "5")
    assert text.returncode == 0 and "\ncoverage " in text.stdout and "never: statuses:" in text.stdout
    strict = fuzz(tmp_path, "--socket", socket, "--auth", "direct", "--steps", "200", "--min-coverage", "100")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "below --min-coverage 100" in strict.stdout


def test_junit_reports_a_failed_campaign_with_its_trace_and_replay_file(
    planted: ServiceProcess, tmp_path: Path
) -> None:
    junit = tmp_path / "reports" / "fuzz.xml"
    run = fuzz(tmp_path, "--socket", str(planted.socket_path), "--auth", "direct", "--seed", "1", "--junit", str(junit))
    assert run.returncode == 1, run.stdout + run.stderr
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "1" and suite.get("failures") == "1"
    (case,) = suite.findall("testcase")
    failure = case.find("failure")
    assert failure is not None and "DIVERGES" in (failure.text or "")
    replay = tmp_path / "test_parsec_divergence.py"
    assert replay.exists() and f"replay: pytest {replay.name}" in (failure.text or "")
    properties = {item.get("name"): item.get("value") for item in case.iter("property")}
    assert properties["seed"] == "1" and int(properties["steps"] or 0) > 0


def test_workers_run_campaigns_with_distinct_seeds_and_the_cli_declares_deviations(
    service: ServiceProcess, tmp_path: Path
) -> None:
    socket = str(service.socket_path)
    common = ("--socket", socket, "--auth", "direct", "--rsa-encryption", "pkcs1v15", "--seed", "11")
    junit = tmp_path / "workers.xml"
    run = fuzz(
        tmp_path,
        *common,
        "--steps", "600",
        "--workers", "2",
        "--deviations", str(REFERENCE_DEVIATIONS),
        "--format", "json",
        "--junit", str(junit),
        "--database", str(tmp_path / "db"),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(run.stdout)
    assert document["workers"] == 2 and [campaign["seed"] for campaign in document["campaigns"]] == [11, 12]
    assert document["steps"] == sum(campaign["steps"] for campaign in document["campaigns"]) >= 1200
    assert len(ET.parse(junit).getroot().findall("testcase")) == 2
    counts = [entry["count"] for campaign in document["campaigns"] for entry in campaign["deviations"]]
    assert len(counts) == 2 and sum(counts) >= 1, document["campaigns"]
    undeclared = fuzz(tmp_path, *common, "--steps", "2000")
    assert undeclared.returncode == 1 and "PsaErrorInvalidPadding" in undeclared.stdout
