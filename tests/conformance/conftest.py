"""Fixtures of the conformance campaigns: owned services per provider, real Unix users, the shared example database.

`owned_target` starts the reference service (`parsec-tm serve`, Parsec's config schema written by
`tests.fixtures.service.render_config`) on one provider — the software provider, SoftHSM2 through the
`softhsm_token` fixture, or swtpm through `swtpm` — as a `parsec_tm.conformance.target.OwnedTarget` the machine may
reload, restart and kill. The socket lives in its own 0755 directory under /tmp, so tenants running as other Unix
users reach it. The example database is a directory shared by every pytest-xdist worker of the machine
(`PARSEC_TM_FUZZ_DATABASE` overrides it, e.g. with a redis:// URL shared by CI machines).
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from parsec_tm.conformance.service import ServiceProcess
from parsec_tm.conformance.settings import example_database
from parsec_tm.conformance.target import AuthMode, OwnedTarget, PeerUsers
from refimpl.faults import FAULT_FILE_ENV
from tests.e2e.tenancy import spiffe_id
from tests.fixtures.service import ServiceOptions, render_config, software_provider_table

REPO_ROOT = Path(__file__).resolve().parents[2]
TENANT_USERS = ("ptm-fuzz-tenant-a", "ptm-fuzz-tenant-b", "ptm-fuzz-tenant-c")
HARDWARE_FIXTURES = {"pkcs11": "softhsm_token", "tpm": "swtpm"}
ADMIN = "fuzz-admin"
JWT_SVID_ADMIN = spiffe_id("admin")
"""The admin of an owned JwtSvid service: the SPIFFE ID "admin" of the test trust domain."""
AUTH_TYPES: dict[str, str] = {"direct": "Direct", "peer": "UnixPeerCredentials", "jwt-svid": "JwtSvid"}

OwnedTargetFactory = Callable[..., OwnedTarget]


@pytest.fixture(scope="session")
def campaign_database() -> ExampleDatabase:
    """Where failures are kept and replayed from: $PARSEC_TM_FUZZ_DATABASE, else one directory per checkout."""
    return example_database(None) or DirectoryBasedExampleDatabase(REPO_ROOT / ".hypothesis" / "conformance")


@pytest.fixture(scope="session")
def tenant_uids() -> Iterator[tuple[int, ...]]:
    """Three real Unix users (created with useradd if missing, removed afterwards if this session made them)."""
    created: list[str] = []
    uids: list[int] = []
    for name in TENANT_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            added = subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], capture_output=True, text=True)
            if added.returncode == 0:
                created.append(name)
            try:
                entry = pwd.getpwnam(name)  # made here, or by a concurrent worker meanwhile
            except KeyError:
                pytest.fail(f"cannot create the Unix user {name} (useradd: {added.stderr.strip()}); run as root")
        uids.append(entry.pw_uid)
    yield tuple(uids)
    for name in created:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def provider_table(kind: str, request: pytest.FixtureRequest, directory: Path) -> dict[str, Any]:
    """A `[[provider]]` table (without key_info_manager) for "software", "pkcs11" or "tpm"."""
    if kind == "software":
        return software_provider_table(directory)
    part = request.getfixturevalue(HARDWARE_FIXTURES[kind])
    table: dict[str, Any] = dict(part.provider_table(f"{kind}-provider"))
    table.pop("key_info_manager", None)
    return table


@pytest.fixture
def owned_target(request: pytest.FixtureRequest) -> Iterator[OwnedTargetFactory]:
    """`owned_target(kind, auth="direct", peer_uids=(), command=None, workload_endpoint=None)`: a started service as
    an OwnedTarget (JwtSvid: `workload_endpoint` is the Workload API, which registers `JWT_SVID_ADMIN`).

    `command` replaces the service command (the config path is appended): the planted-bug launcher. Everything
    is stopped and removed afterwards, even when the test failed.
    """
    processes: list[ServiceProcess] = []
    directories: list[Path] = []

    def start(
        kind: str,
        auth: AuthMode = "direct",
        peer_uids: tuple[int, ...] = (),
        command: list[str] | None = None,
        workload_endpoint: str | None = None,
    ) -> OwnedTarget:
        directory = Path(tempfile.mkdtemp(prefix="ptm-cf-", dir="/tmp"))
        directory.chmod(0o755)
        directories.append(directory)
        socket_path = directory / "parsec.sock"
        peer_users = PeerUsers(peer_uids) if auth == "peer" else None
        admin = JWT_SVID_ADMIN if auth == "jwt-svid" else ADMIN
        admins = (str(peer_users.admin_uid),) if peer_users is not None else (admin,)
        options = ServiceOptions(
            auth_type=AUTH_TYPES[auth],
            admins=admins,
            providers=(provider_table(kind, request, directory),),
            log_level="warn",
            workload_endpoint=workload_endpoint,
        )
        config_path = directory / "config.toml"
        config_path.write_text(render_config(options, directory, socket_path))
        fault_file = directory / "fault"
        env = {"PYTHONPATH": str(REPO_ROOT), FAULT_FILE_ENV: str(fault_file)}  # the launcher is a module of tests/
        process = ServiceProcess(
            config_path, socket_path, directory, command=[*command, str(config_path)] if command else (), env=env
        )
        processes.append(process)
        return OwnedTarget(
            process,
            auth,
            admin=admin,
            peer_users=peer_users,
            fault_file=fault_file,
            workload_endpoint=workload_endpoint,
        )

    yield start
    for process in processes:
        process.stop()
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
