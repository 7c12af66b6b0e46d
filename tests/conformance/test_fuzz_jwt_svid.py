"""`parsec-tm fuzz --auth jwt-svid`: JwtSvid tenants discovered at a SPIFFE Workload API, fuzzed against the model.

Issue "Stateful conformance", item 3, with the JwtSvid authenticator (docs/requests/identity-provider.md, the
fuzzer's section). Real parts only: the project's Workload API server (`refimpl.identity_provider`) on a Unix
socket registers this process's Unix user for several SPIFFE IDs, and a `parsec-tm serve` process authenticates
with `auth_type = "JwtSvid"` at its default failure limit (M-2: 5 refused tokens per minute per Unix user), so a
fuzzer that sent a single bad token per seat would lock every seat out and diverge from the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.identity_provider.workloads import parse_workload
from refimpl.psa import types as t
from tests.e2e.tenancy import Tenancy, spiffe_id, tenancy_options
from tests.fixtures.service import ServiceFactory
from tests.identity_provider.parts import running_idp, short_tempdir

pytestmark = pytest.mark.e2e

FUZZ = [sys.executable, "-m", "parsec_tm.cli.fuzz"]
TENANTS = ("admin", "tenant-a", "tenant-b")
"""The SPIFFE IDs this process's Unix user is registered for; "admin" is the service's admin."""
SIGNING = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)


@pytest.fixture
def workload_api() -> Iterator[WorkloadApiServer]:
    me = os.getuid()
    workloads = [parse_workload(f"uid:{me}={spiffe_id(name)}") for name in TENANTS]
    with short_tempdir() as directory, running_idp(directory / "agent.sock", workloads=workloads) as server:
        yield server


def fuzz(cwd: Path, *arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FUZZ, *arguments], capture_output=True, text=True, cwd=cwd, timeout=900, check=False, env=env
    )


@pytest.mark.slow
@pytest.mark.threat("A1-S-1", "M-2", "M-5")
def test_five_hundred_steps_as_jwt_svid_tenants_pass_without_spending_the_failure_count(
    service_factory: ServiceFactory, workload_api: WorkloadApiServer, tmp_path: Path
) -> None:
    endpoint = workload_api.endpoint
    service = service_factory(tenancy_options("jwt-svid", endpoint))
    tenancy = Tenancy("jwt-svid", service, endpoint)
    try:
        tenancy.wait_until_trusted()
        bystander = tenancy.client("tenant-a")
        bystander.psa_generate_key("not-the-fuzzers", SIGNING)
        run = fuzz(
            tmp_path,
            "--socket",
            str(service.socket_path),
            "--auth",
            "jwt-svid",
            "--workload-endpoint",
            endpoint,
            "--steps",
            "500",
            "--seed",
            "1",
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith("ok   ") and "no divergence" in run.stdout, run.stdout
        assert int(run.stdout.split()[1]) >= 500, run.stdout
        assert not (tmp_path / "test_parsec_divergence.py").exists()
        # The fuzzer touched no key it did not create, and never spent the shared failure count: a fresh request
        # by the same Unix user is still authenticated.
        assert [key.name for key in bystander.list_keys()] == ["not-the-fuzzers"]
    finally:
        tenancy.close()


def test_jwt_svid_without_a_workload_endpoint_is_a_usage_error(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if name != "SPIFFE_ENDPOINT_SOCKET"}
    run = fuzz(tmp_path, "--socket", str(tmp_path / "absent.sock"), "--auth", "jwt-svid", env=environment)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--workload-endpoint" in run.stderr and "SPIFFE_ENDPOINT_SOCKET" in run.stderr


def test_a_workload_endpoint_is_refused_with_other_authenticators(tmp_path: Path) -> None:
    run = fuzz(
        tmp_path, "--socket", str(tmp_path / "absent.sock"), "--auth", "direct", "--workload-endpoint", "unix:///x"
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "only used with --auth jwt-svid" in run.stderr


@pytest.mark.threat("A1-S-1")
def test_a_replay_file_takes_its_workload_api_from_the_environment(
    service_factory: ServiceFactory, workload_api: WorkloadApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trace found on one machine names that machine's Workload API; PARSEC_TM_REPLAY_WORKLOAD_ENDPOINT (with
    PARSEC_TM_REPLAY_SOCKET) replays it against another deployment, where the recorded endpoint does not exist."""
    from parsec_tm.conformance.replay import replay
    from parsec_tm.conformance.trace import REPLAY_SOCKET_ENV, REPLAY_WORKLOAD_ENV

    endpoint = workload_api.endpoint
    service = service_factory(tenancy_options("jwt-svid", endpoint))
    tenancy = Tenancy("jwt-svid", service, endpoint)
    try:
        tenancy.wait_until_trusted()
        recipe = {"socket": "/nonexistent/parsec.sock", "auth": "jwt-svid", "workload_endpoint": "unix:///nonexistent"}
        monkeypatch.setenv(REPLAY_SOCKET_ENV, str(service.socket_path))
        monkeypatch.setenv(REPLAY_WORKLOAD_ENV, endpoint)
        with replay(recipe) as machine:
            assert machine.target is not None and {seat.tenant.name for seat in machine.session.seats} == {
                spiffe_id(name) for name in TENANTS
            }
            machine.list_keys(tenant=0)
    finally:
        tenancy.close()
