"""The test results file written by the pytest plugin (`parsec_tm.pytest_plugin`): which tests exercise which
threat-model IDs, and how each ended."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from parsec_tm.pytest_plugin import RESULTS_FORMAT

PASSED = frozenset({"passed"})
FAILED = frozenset({"failed", "error"})


class ResultsError(ValueError):
    """The results file cannot be read or is not a results file."""


@dataclass(frozen=True)
class TestResult:
    """One test: its pytest node ID, the IDs its `threat` markers name, and its outcome."""

    __test__ = False  # not a pytest test class

    nodeid: str
    threats: tuple[str, ...]
    outcome: str


def load_results(path: str | Path) -> tuple[TestResult, ...]:
    """Read a results file; raises `ResultsError` naming the file and what is wrong with it."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ResultsError(f"cannot read test results {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not JSON: line {error.lineno}: {error.msg}") from error
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise ResultsError(f"{path}: not a test results file (run pytest with --threat-results {path})")
    try:
        return tuple(
            TestResult(str(entry["nodeid"]), tuple(str(i) for i in entry["threats"]), str(entry["outcome"]))
            for entry in document["tests"]
        )
    except (KeyError, TypeError) as error:
        raise ResultsError(f"{path}: a test entry lacks {error}") from error
