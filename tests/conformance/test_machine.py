"""The conformance machine's own parts: the model-alone campaign, budgets, the example database, the progress bar,
and the replay file a divergence is written as.

The machine against a real service is in `test_campaigns.py` (every provider), `test_planted_bugs.py` (it can fail)
and `test_fuzz_cli.py` (`parsec-tm fuzz` against an external socket).
"""

from __future__ import annotations

import io
import os
import select
import termios
from pathlib import Path

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

from parsec_tm.conformance.machine import Campaign, ConformanceMachine, KeyRef
from parsec_tm.conformance.progress import Progress
from parsec_tm.conformance.runner import run_campaign
from parsec_tm.conformance.settings import DATABASE_ENV, Budget, example_database
from parsec_tm.conformance.trace import Divergence, Exchange, TraceStep, render_json, write_pytest


@pytest.mark.threat("M-5")
def test_the_model_alone_runs_the_whole_budget_and_keeps_every_invariant() -> None:
    """Against no service the machine still runs the model's transitions and checks properties/ on each step."""
    result = run_campaign(None, Budget(steps=600, seed=20261129))
    assert result.passed, str(result.divergence)
    assert result.steps >= 600
    assert result.events, "the model-alone run never exercised a reload, restart or crash"


def test_a_rule_runs_the_models_transition_and_records_what_it_expected() -> None:
    machine = ConformanceMachine(Campaign(None))
    machine.create_keys([(0, "k0", "ecc-sign-pair")])
    machine.sign_hash(KeyRef(0, "k0", "ecc-sign-pair"), "primary", b"message")
    machine.sign_hash(KeyRef(1, "k0"), "primary", b"message")
    expected = [exchange.expected for step in machine.trace for exchange in step.exchanges]
    assert expected == ["Success", "Success", "PsaErrorDoesNotExist"]  # tenant 1 cannot reach tenant 0's key


def test_a_budget_is_spent_in_examples_of_at_most_its_step_count() -> None:
    budget = Budget(steps=100, steps_per_example=30)
    assert budget.examples_for(100) == 4
    assert budget.examples_for(1) == 1
    with pytest.raises(ValueError, match="at least one step"):
        Budget(steps=0)


def test_the_example_database_is_a_directory_or_a_redis_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert example_database(None) is None
    database = example_database(str(tmp_path / "db"))
    assert isinstance(database, DirectoryBasedExampleDatabase)
    monkeypatch.setenv(DATABASE_ENV, str(tmp_path / "shared"))
    assert isinstance(example_database(None), DirectoryBasedExampleDatabase)
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        example_database(str(a_file))


def test_a_redis_database_without_the_redis_package_says_what_to_install() -> None:
    try:
        import redis  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pip install redis"):
            example_database("redis://localhost:6379/0")
    else:
        assert example_database("redis://localhost:6379/0") is not None


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    piped = io.StringIO()
    with Progress(10, stream=piped) as progress:
        progress.advance(10)
    assert piped.getvalue() == ""
    master, slave = os.openpty()
    termios.tcsetwinsize(slave, (24, 80))
    try:
        with os.fdopen(slave, "w", closefd=False) as terminal, Progress(10, stream=terminal) as progress:
            assert progress.drawing
            progress.advance(5)
            terminal.flush()
        drawn = b""
        while select.select([master], [], [], 0.5)[0]:
            drawn += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert "fuzz:" in drawn.decode(errors="replace") and "/10" in drawn.decode(errors="replace")


def _divergence(recipe: dict[str, object] | None) -> Divergence:
    step = TraceStep("export_public_key", {"key": KeyRef(1, "k0"), "route": "primary"})
    step.exchanges.append(Exchange("PsaExportPublicKey 'k0' as t1", "PsaErrorDoesNotExist", "Success"))
    return Divergence("the service answered Success", [step], "unix:/tmp/x.sock", recipe)


def test_a_divergence_reads_as_its_trace_and_as_json() -> None:
    divergence = _divergence({"socket": "/tmp/x.sock", "auth": "direct"})
    text = str(divergence)
    assert "export_public_key(key=KeyRef(tenant=1, name='k0', kind=None), route='primary')" in text
    assert "→ Success (model PsaErrorDoesNotExist)   <-- DIVERGES" in text
    document = render_json(divergence)
    assert document["trace"][0]["requests"][0]["observed"] == "Success"


def test_a_divergence_becomes_a_runnable_pytest_file(tmp_path: Path) -> None:
    path = write_pytest(_divergence({"socket": "/tmp/x.sock", "auth": "direct"}), tmp_path / "test_found.py", seed=7)
    source = path.read_text()
    compile(source, str(path), "exec")
    assert "from parsec_tm.conformance.machine import KeyRef" in source
    assert "        machine.export_public_key(key=KeyRef(tenant=1, name='k0', kind=None), route='primary')" in source
    assert "seed 7" in source
    with pytest.raises(ValueError, match="cannot be written as a standalone replay"):
        write_pytest(_divergence(None), tmp_path / "test_owned.py")
