"""Real parts for the identity-provider tests: a running Workload API, an attacker-controlled one, other Unix users.

Every server here is real gRPC on a real Unix socket. `HostileWorkloadApi` is the seed's attacker A10 (a spoofed or
tampered identity provider): it serves whatever bundle bytes a test sets, through the same generated service
definitions, so the service's bundle parser meets them exactly as it would meet a compromised agent's.
"""

from __future__ import annotations

import functools
import logging
import os
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from refimpl.client.jwt_svid import JwtSvidAuthentication
from refimpl.identity_provider.keys import Clock
from refimpl.identity_provider.server import ServerSettings, WorkloadApiServer
from refimpl.identity_provider.workloads import Registry, Workload, parse_workload
from refimpl.ids import AuthType
from refimpl.spiffe_api import workload_pb2, workload_pb2_grpc
from tests.fixtures.other_users import for_other_users, reachable_by_everyone

TRUST_DOMAIN = "example.org"
SERVICE_ID = f"spiffe://{TRUST_DOMAIN}/parsec"
TENANT_A = f"spiffe://{TRUST_DOMAIN}/tenant-a"
TENANT_B = f"spiffe://{TRUST_DOMAIN}/tenant-b"
OTHER_UID = 42424
"""A Unix user with no registration and no passwd entry: the kernel still reports it as the peer's uid."""
REGISTERED_UID = 42425
"""A Unix user registered for TENANT_B only."""
WAIT = 20.0
"""Upper bound, in seconds, on waiting for an asynchronous effect (a bundle update) before the test fails."""


def default_workloads() -> list[Workload]:
    """This process's uid is the service and both tenants (one Unix user, several SPIFFE IDs, as SPIRE allows)."""
    me = os.getuid()
    return [
        parse_workload(f"uid:{me}={SERVICE_ID}"),
        parse_workload(f"uid:{me}={TENANT_A}"),
        parse_workload(f"uid:{me}={TENANT_B}"),
        parse_workload(f"uid:{REGISTERED_UID}={TENANT_B}"),
    ]


@contextmanager
def short_tempdir() -> Iterator[Path]:
    """A fresh directory under /tmp whose socket paths stay within the 108-byte sun_path limit; 0755 so that the
    other Unix users of a test can reach the sockets in it."""
    path = Path(tempfile.mkdtemp(prefix="idp-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


@contextmanager
def running_idp(
    socket_path: Path,
    *,
    trust_domain: str = TRUST_DOMAIN,
    workloads: list[Workload] | None = None,
    svid_ttl: float = 300.0,
    clock: Clock = time.time,
    **settings: Any,
) -> Iterator[WorkloadApiServer]:
    registry = Registry.of(trust_domain, default_workloads() if workloads is None else workloads)
    server = WorkloadApiServer(ServerSettings(socket_path, registry, svid_ttl=svid_ttl, **settings), clock)
    with server:
        yield server


def fetch_token(endpoint: str, spiffe_id: str) -> str:
    authentication = JwtSvidAuthentication(endpoint, spiffe_id)
    try:
        return authentication.token()
    finally:
        authentication.close()


def interpreter_for_other_users() -> str:
    """A Python of this version that another Unix user may run: this one, or the system's of the same version
    when this one lives in a private directory (a pyenv under /root); the packages come from PYTHONPATH."""
    for candidate in (Path(sys.executable), Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")):
        if candidate.exists() and reachable_by_everyone(candidate):
            return str(candidate)
    raise RuntimeError(
        f"no Python {sys.version_info.major}.{sys.version_info.minor} that another Unix user can run: {sys.executable} "
        "is in a private directory; install the distribution's python3 or put the virtualenv's Python elsewhere"
    )


def run_as(uid: int, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python `code` as another Unix user (uid = gid, no supplementary groups): a real, different peer."""
    repository = Path(__file__).resolve().parents[2]
    search_path = [
        str(for_other_users(repository / "refimpl").parent),
        *(str(for_other_users(Path(entry))) for entry in site.getsitepackages()),
    ]
    return subprocess.run(
        [interpreter_for_other_users(), "-S", "-c", code, *args],  # -S: no system site-packages
        user=uid,
        group=uid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**os.environ, "PYTHONPATH": os.pathsep.join(search_path)},
        check=False,
    )


class HostileWorkloadApi(workload_pb2_grpc.SpiffeWorkloadAPIServicer):
    """A Workload API under the attacker's control: FetchJWTBundles streams whatever `serve` was last given."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._bundles: dict[str, bytes] = {}
        self._version = 0
        self._sent: set[int] = set()
        self._stopping = False

    def serve(self, bundles: dict[str, bytes]) -> int:
        """Stream these raw bundles (trust domain → bytes) from now on; returns their version number."""
        with self._changed:
            self._bundles = dict(bundles)
            self._version += 1
            self._changed.notify_all()
            return self._version

    def wait_sent(self, version: int, timeout: float = WAIT) -> bool:
        """Whether some stream has sent `version` (or a later one) within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: any(sent >= version for sent in self._sent), timeout)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def _moved_on(self, sent: int) -> bool:
        """Whether a stream that last sent version `sent` has something new to do (call with the lock held)."""
        return self._version != sent or self._stopping

    def FetchJWTBundles(self, request: Any, context: Any) -> Iterator[Any]:
        sent = 0
        while context.is_active():
            with self._changed:
                self._changed.wait_for(functools.partial(self._moved_on, sent), 0.5)
                if self._stopping:
                    return
                version, bundles = self._version, self._bundles
            if version != sent and version > 0:
                yield workload_pb2.JWTBundlesResponse(bundles=bundles)
                sent = version
                with self._changed:
                    self._sent.add(version)
                    self._changed.notify_all()


@contextmanager
def running_hostile_idp(socket_path: Path) -> Iterator[HostileWorkloadApi]:
    servicer = HostileWorkloadApi()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    try:
        yield servicer
    finally:
        servicer.stop()
        server.stop(grace=None).wait()


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs(name: str = "refimpl") -> Iterator[list[logging.LogRecord]]:
    """Every record logged under `name` meanwhile, whatever the service's logging configuration did to propagation."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def messages(records: list[logging.LogRecord], level: int = logging.DEBUG) -> list[str]:
    return [record.getMessage() for record in records if record.levelno >= level]


class FixedToken:
    """An `Authentication` that sends the same auth field every time: a stolen, forged or guessed token."""

    auth_type = AuthType.JWT_SVID

    def __init__(self, token: str | bytes) -> None:
        self.token = token.encode() if isinstance(token, str) else token

    def auth_bytes(self) -> bytes:
        return self.token
