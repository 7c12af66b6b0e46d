"""`parsec-tm fuzz` against a service it does not own: 2,000 steps and exit 0; a divergence, exit 1 and a replay
file that fails under pytest; usage and connection errors, exit 2. And `short_campaign`, for `parsec-tm check`.

Issue "Stateful conformance", item 3. The service is a real `parsec-tm serve` process (or the planted-bug
launcher) on a private socket, started here and reached only through its socket, as any external service.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from parsec_tm.cli.fuzz import short_campaign
from parsec_tm.conformance.service import ServiceProcess, software_config
from refimpl.client import BasicClient, Direct
from refimpl.psa import types as t

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
FUZZ = [sys.executable, "-m", "parsec_tm.cli.fuzz"]


def start_service(command: list[str] | None = None) -> ServiceProcess:
    directory = Path(tempfile.mkdtemp(prefix="ptm-cli-", dir="/tmp"))
    socket_path = directory / "parsec.sock"
    config_path = directory / "config.toml"
    config_path.write_text(software_config(directory, socket_path, admins=["fuzz-admin"]))
    process = ServiceProcess(
        config_path,
        socket_path,
        directory,
        command=[*command, str(config_path)] if command else (),
        env={"PYTHONPATH": str(REPO_ROOT)},
    )
    process.start()
    return process


@pytest.fixture
def external_service() -> Iterator[ServiceProcess]:
    process = start_service()
    yield process
    process.stop()
    shutil.rmtree(process.directory, ignore_errors=True)


@pytest.fixture
def planted_service() -> Iterator[ServiceProcess]:
    process = start_service([sys.executable, "-m", "tests.conformance.planted_service", "isolation", "--config"])
    yield process
    process.stop()
    shutil.rmtree(process.directory, ignore_errors=True)


def fuzz(cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`parsec-tm fuzz ARGUMENTS` run in `cwd` (where a replay file lands by default)."""
    return subprocess.run([*FUZZ, *arguments], capture_output=True, text=True, cwd=cwd, timeout=900, check=False)


@pytest.mark.slow
@pytest.mark.threat("M-5")
def test_two_thousand_steps_against_an_external_socket_pass_and_touch_no_other_key(
    external_service: ServiceProcess, tmp_path: Path
) -> None:
    bystander = BasicClient(external_service.endpoint, auth=Direct("bystander"), timeout=30)
    signing = t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
    bystander.psa_generate_key("not-the-fuzzers", t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, signing))
    socket_path = str(external_service.socket_path)
    run = fuzz(tmp_path, "--socket", socket_path, "--auth", "direct", "--steps", "2000", "--seed", "3")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok   ") and "no divergence" in run.stdout
    steps = int(run.stdout.split()[1])
    assert steps >= 2000
    assert run.stderr == ""  # no progress bar off a terminal
    assert [key.name for key in bystander.list_keys()] == ["not-the-fuzzers"]


@pytest.mark.slow
@pytest.mark.threat("A7-T-1", "M-5")
def test_a_divergence_exits_1_with_the_shrunk_trace_and_a_replay_file_that_fails(
    planted_service: ServiceProcess, tmp_path: Path
) -> None:
    replay = tmp_path / "test_found.py"
    run = fuzz(
        tmp_path, "--socket", str(planted_service.socket_path), "--auth", "direct", "--seed", "1",
        "--format", "json", "--out", str(replay),
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["passed"] is False and report["replay_file"] == str(replay)
    observed = [r for step in report["divergence"]["trace"] for r in step["requests"] if r["observed"] != r["expected"]]
    assert observed, report
    replayed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(replay)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "DIVERGES" in replayed.stdout


def test_usage_and_connection_errors_exit_2(external_service: ServiceProcess, tmp_path: Path) -> None:
    missing = fuzz(tmp_path, "--socket", str(tmp_path / "nothing.sock"), "--auth", "direct", "--steps", "10")
    assert missing.returncode == 2
    assert "no socket at" in missing.stderr
    wrong_auth = fuzz(tmp_path, "--socket", str(external_service.socket_path), "--auth", "peer", "--steps", "10")
    assert wrong_auth.returncode == 2
    assert "use --auth direct" in wrong_auth.stderr
    not_a_number = fuzz(tmp_path, "--socket", str(external_service.socket_path), "--auth", "direct", "--steps", "0")
    assert not_a_number.returncode == 2
    bad_database = tmp_path / "a-file"
    bad_database.write_text("")
    database = fuzz(
        tmp_path, "--socket", str(external_service.socket_path), "--auth", "direct", "--database", str(bad_database)
    )
    assert database.returncode == 2
    assert "is a file" in database.stderr


@pytest.mark.slow
@pytest.mark.threat("M-5", "A3-D-1")
def test_the_short_campaign_of_parsec_tm_check_passes_on_the_software_provider() -> None:
    passed, summary, failures = short_campaign()
    assert passed, "\n".join(failures)
    assert "no divergence" in summary
