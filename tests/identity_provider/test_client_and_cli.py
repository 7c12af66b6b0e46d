"""The client's JwtSvid authentication, and `parsec-tm idp serve` / `parsec-tm idp token` as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from refimpl.client.auth import JwtSvid
from refimpl.client.jwt_svid import JwtSvidAuthentication, WorkloadApiUnavailable
from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.ids import AuthType
from tests.identity_provider.parts import TENANT_A, TENANT_B, WAIT, running_idp

REPO_ROOT = Path(__file__).resolve().parents[2]


def subject_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def test_the_client_fetches_a_parsec_token_for_the_spiffe_id_it_names(idp: WorkloadApiServer) -> None:
    authentication = JwtSvidAuthentication(idp.endpoint, TENANT_B)
    try:
        assert authentication.auth_type == AuthType.JWT_SVID
        token = authentication.auth_bytes().decode()
        assert subject_of(token) == TENANT_B
        assert jwt.decode(token, options={"verify_signature": False})["aud"] == ["parsec"]
        assert authentication.auth_bytes().decode() == token, "a fresh token is reused, not fetched again"
        assert JwtSvid(token_source=authentication).auth_bytes().decode() == token
        with pytest.raises(ValueError, match="audience 'parsec' only"):
            authentication("another-service")
    finally:
        authentication.close()


def test_the_client_finds_the_workload_api_through_spiffe_endpoint_socket(
    idp: WorkloadApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPIFFE_ENDPOINT_SOCKET", idp.endpoint)
    authentication = JwtSvidAuthentication(spiffe_id=TENANT_A)
    try:
        assert subject_of(authentication.token()) == TENANT_A
    finally:
        authentication.close()


def test_a_token_past_half_its_life_is_replaced(socket_dir: Path) -> None:
    with running_idp(socket_dir / "agent.sock", svid_ttl=2) as idp:
        authentication = JwtSvidAuthentication(idp.endpoint, TENANT_A)
        try:
            first = authentication.token()
            expiry = jwt.decode(first, options={"verify_signature": False})["exp"]
            while time.time() < expiry - 0.2:  # past the refresh point (half the life), before expiry
                time.sleep(0.1)
            second = authentication.token()
        finally:
            authentication.close()
    assert second != first
    assert jwt.decode(second, options={"verify_signature": False})["exp"] >= expiry


def test_no_workload_api_is_an_error_that_says_where_the_client_looked(socket_dir: Path) -> None:
    missing = f"unix://{socket_dir / 'nothing-here.sock'}"
    with pytest.raises(WorkloadApiUnavailable, match=r"no JWT-SVID for spiffe://example\.org/tenant-a from the "):
        JwtSvidAuthentication(missing, TENANT_A).token()


IDP_CLI = (
    "import argparse, sys\n"
    "from parsec_tm.cli import idp\n"
    "parser = argparse.ArgumentParser(prog='parsec-tm')\n"
    "idp.register(parser.add_subparsers(dest='command', required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def idp_command(*args: str) -> list[str]:
    """`parsec-tm idp …` through the module's own `register`, whether or not the top-level CLI lists it yet."""
    return [sys.executable, "-c", IDP_CLI, "idp", *args]


def test_idp_serve_and_idp_token_work_as_commands(socket_dir: Path) -> None:
    socket_path = socket_dir / "agent.sock"
    spiffe_id = "spiffe://example.org/demo"
    server = subprocess.Popen(
        idp_command(
            "serve",
            "--socket",
            str(socket_path),
            "--trust-domain",
            "example.org",
            "--workload",
            f"uid:{os.getuid()}={spiffe_id}",
            "--svid-ttl",
            "60",
            "--rotate-every",
            "3600",
        ),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first_line = server.stdout.readline()
        assert first_line.startswith("Workload API for example.org at unix://"), server.stderr.read()
        endpoint = first_line.split(" at ", 1)[1].strip()
        assert server.stdout.readline().strip() == f"export SPIFFE_ENDPOINT_SOCKET={endpoint}"
        token = subprocess.run(
            idp_command("token", "--endpoint", endpoint),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=WAIT * 3,
            check=False,
        )
        assert token.returncode == 0, token.stderr
        assert subject_of(token.stdout.strip()) == spiffe_id
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=WAIT * 3)
    assert code == 0
    assert not socket_path.exists(), "the Workload API socket is removed on exit"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "uid:x=spiffe://example.org/a"], "uid must be a decimal number"),
        (["--workload", "1=spiffe://other.org/a"], "outside the trust domain example.org"),
        (["--svid-ttl", "600", "--grace-period", "60"], "grace_period (60.0 s) is shorter than svid_ttl"),
    ],
)
def test_idp_serve_explains_a_bad_argument(socket_dir: Path, args: list[str], message: str) -> None:
    completed = subprocess.run(
        idp_command("serve", "--socket", str(socket_dir / "agent.sock"), "--trust-domain", "example.org", *args),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        check=False,
    )
    assert completed.returncode == 2
    assert message in completed.stderr
    assert not (socket_dir / "agent.sock").exists()


def test_idp_serve_never_replaces_a_file_that_is_not_a_socket(socket_dir: Path) -> None:
    path = socket_dir / "agent.sock"
    path.write_text("precious")
    completed = subprocess.run(
        idp_command("serve", "--socket", str(path), "--trust-domain", "example.org"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        check=False,
    )
    assert completed.returncode == 2
    assert "exists and is not a socket" in completed.stderr
    assert path.read_text() == "precious"
