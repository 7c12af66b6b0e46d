"""The pytest plugin records every test's threat IDs and outcome, in a plain pytest run and under pytest-xdist.

Each test runs pytest in a subprocess on a small suite of its own (no project conftest, no project settings), as a
user of the plugin would, and reads the results file it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from parsec_tm.pytest_plugin import RESULTS_FORMAT

SUITE = """
import pytest

pytestmark = pytest.mark.threat("A1-S-1")

@pytest.fixture
def broken():
    raise RuntimeError("setup fails")

@pytest.mark.threat("M-3")
def test_passes():
    assert True

@pytest.mark.threat("A2-I-2", "M-1")
def test_fails():
    assert 1 == 2

@pytest.mark.threat("M-2")
def test_errors_in_setup(broken):
    pass

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

class TestGroup:
    pytestmark = pytest.mark.threat("O-3")

    def test_in_a_class(self):
        pass
"""


def _plugin_option() -> list[str]:
    """Load the plugin with -p unless the installed distribution already registers it as a pytest11 entry point."""
    installed = any(ep.value.startswith("parsec_tm.pytest_plugin") for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "parsec_tm.pytest_plugin"]


def _run_suite(tmp_path: Path, *extra: str) -> dict[str, dict[str, object]]:
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    results = tmp_path / "out" / "results.json"
    command = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)]
    command += ["-p", "no:cacheprovider", *_plugin_option(), "--threat-results", str(results), *extra]
    finished = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert finished.returncode == 1, finished.stdout + finished.stderr  # the suite has a failing test
    document = json.loads(results.read_text(encoding="utf-8"))
    assert document["format"] == RESULTS_FORMAT
    return {entry["nodeid"]: entry for entry in document["tests"]}


EXPECTED = {
    "test_suite.py::test_passes": (["M-3", "A1-S-1"], "passed"),
    "test_suite.py::test_fails": (["A2-I-2", "M-1", "A1-S-1"], "failed"),
    "test_suite.py::test_errors_in_setup": (["M-2", "A1-S-1"], "error"),
    "test_suite.py::test_skipped": (["A1-S-1"], "skipped"),
    "test_suite.py::test_expected_failure": (["A1-S-1"], "xfailed"),
    "test_suite.py::TestGroup::test_in_a_class": (["O-3", "A1-S-1"], "passed"),
}


@pytest.mark.parametrize("workers", [None, "1"], ids=["plain", "xdist"])
def test_every_test_is_recorded_with_its_marker_ids_and_outcome(tmp_path: Path, workers: str | None) -> None:
    tests = _run_suite(tmp_path, *(["-n", workers] if workers else []))
    recorded = {nodeid: (entry["threats"], entry["outcome"]) for nodeid, entry in tests.items()}
    assert recorded == EXPECTED


def test_without_the_option_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider"]
    finished = subprocess.run(
        command + _plugin_option() + [str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json") == []
