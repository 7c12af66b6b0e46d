"""A pytest plugin that records which Parsec threat-model entries each test exercises, and how the test ended.

Tests name the threat rows and mitigations they exercise with ``@pytest.mark.threat("A1-S-1", "M-3")``. Run with
``--threat-results FILE`` and the plugin writes, for every test, its node ID, the IDs of all its ``threat`` markers
(function, class and module markers together) and its outcome, as JSON::

    {"format": "parsec-tm-threat-results", "version": 1,
     "tests": [{"nodeid": "...", "threats": ["A1-S-1", "M-3"], "outcome": "passed"}, ...]}

``parsec-tm evidence --results FILE`` reads it to trace each threat row to its tests. The plugin is installed as a
``pytest11`` entry point, so it works in any suite that marks tests with Parsec IDs, and under pytest-xdist: the
IDs travel from the workers to the controller in each report's ``user_properties``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

MARKER = "threat"
RESULTS_FORMAT = "parsec-tm-threat-results"
RESULTS_VERSION = 1
_PROPERTY = "parsec_tm_threats"
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "failed": 3, "error": 4}
"""Later phases cannot make a test look better than an earlier phase did: the worst outcome wins."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parsec-tm", "Parsec threat-model evidence")
    group.addoption(
        "--threat-results",
        metavar="FILE",
        default=None,
        help="write every test's @pytest.mark.threat IDs and outcome to FILE (JSON) for `parsec-tm evidence`",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*ids): the Parsec threat-model IDs (threat rows, mitigations) a test exercises"
    )
    path = config.getoption("--threat-results")
    if path and not hasattr(config, "workerinput"):  # only the controller writes the file
        config.pluginmanager.register(ThreatResultsRecorder(Path(path)), "parsec-tm-threat-results")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Attach each test's threat IDs to the item, so they reach the controller with every report."""
    if not config.getoption("--threat-results"):
        return
    for item in items:
        ids = threat_ids(item)
        if ids:
            item.user_properties.append((_PROPERTY, ids))


def threat_ids(item: pytest.Item) -> list[str]:
    """The IDs of every `threat` marker on `item`, closest marker first, each once."""
    return list(dict.fromkeys(str(i) for marker in item.iter_markers(name=MARKER) for i in marker.args))


def outcome_of(report: pytest.TestReport) -> str:
    """One phase's outcome in the results file's words: passed, failed, error, skipped, xfailed or xpassed."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "skipped" if report.skipped else "passed"


class ThreatResultsRecorder:
    """Collects the reports of one session and writes the results file when it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return  # a passing setup or teardown says nothing the call does not
        entry = self.tests.setdefault(report.nodeid, {"nodeid": report.nodeid, "threats": [], "outcome": "passed"})
        for name, value in report.user_properties:
            if name == _PROPERTY and isinstance(value, list | tuple):
                entry["threats"] = [str(v) for v in value]
        outcome = outcome_of(report)
        if _OUTCOME_RANK[outcome] >= _OUTCOME_RANK[entry["outcome"]]:
            entry["outcome"] = outcome

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        document = {"format": RESULTS_FORMAT, "version": RESULTS_VERSION, "tests": list(self.tests.values())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
