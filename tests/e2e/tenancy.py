"""Tenants of the end-to-end tests under either authenticator: Direct names, or SPIFFE IDs proved with JWT-SVIDs.

The same test bodies run with both (issue "The Identity Provider deployment", item 6). A `Tenancy` says how the
tests of one service name and build their tenants: with Direct a tenant is its name; with JwtSvid it is the
SPIFFE ID `spiffe://example.org/<name>`, and its client fetches JWT-SVIDs from the project's Workload API server
over gRPC (`refimpl.client.jwt_svid.JwtSvidAuthentication`). The Workload API registers this process's Unix user
for every name of `TENANT_NAMES` (SPIRE allows several registrations per user) and each tenant Unix user for its
own SPIFFE ID only, so a process of that user can obtain no other identity.
"""

from __future__ import annotations

import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from refimpl.client import BasicClient, ClientError
from refimpl.client.jwt_svid import JwtSvidAuthentication
from refimpl.identity_provider.server import WorkloadApiServer
from refimpl.identity_provider.workloads import Workload, parse_workload
from refimpl.ids import Status
from tests.e2e.helpers import UnixUser
from tests.fixtures.service import ServiceHandle, ServiceOptions
from tests.identity_provider.parts import TRUST_DOMAIN, WAIT, run_as, running_idp, short_tempdir

AuthKind = Literal["direct", "jwt-svid"]
AUTH_KINDS: tuple[AuthKind, ...] = ("direct", "jwt-svid")
TENANT_NAMES = ("admin", "normal-tests", "alice", "bob", "victim", "tenant-a", "tenant-b")
"""The tenants this process may act as under JwtSvid (the SPIFFE IDs its Unix user is registered for)."""


def spiffe_id(name: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/{name}"


def registrations(me: int, tenant_users: tuple[UnixUser, ...]) -> list[Workload]:
    """This process's uid gets every tenant name; each tenant user gets `tenant-a`, `tenant-b`, … in order."""
    mine = [parse_workload(f"uid:{me}={spiffe_id(name)}") for name in TENANT_NAMES]
    theirs = [
        parse_workload(f"uid:{user.uid}={spiffe_id(tenant_name(index))}") for index, user in enumerate(tenant_users)
    ]
    return mine + theirs


def tenant_name(index: int) -> str:
    """The tenant name of the index-th tenant Unix user: tenant-a, tenant-b, …"""
    return f"tenant-{string.ascii_lowercase[index]}"


@contextmanager
def workload_api_for(me: int, tenant_users: tuple[UnixUser, ...]) -> Iterator[WorkloadApiServer]:
    """The identity provider of the end-to-end tests, on a socket every tenant user can reach."""
    with (
        short_tempdir() as directory,
        running_idp(directory / "agent.sock", workloads=registrations(me, tenant_users)) as server,
    ):
        yield server


@dataclass
class Tenancy:
    """How the tests of one service authenticate their tenants; `close()` drops the Workload API connections."""

    kind: AuthKind
    service: ServiceHandle
    workload_endpoint: str | None = None
    _sources: dict[str, JwtSvidAuthentication] = field(default_factory=dict, repr=False)

    def identity(self, name: str) -> str:
        """The application name the service gives this tenant (what ListClients lists, DeleteClient takes)."""
        return spiffe_id(name) if self.kind == "jwt-svid" else name

    def client(self, name: str) -> BasicClient:
        if self.kind == "direct":
            return self.service.client(name)
        if name not in TENANT_NAMES:
            raise ValueError(f"{name!r} is not registered with the Workload API; use one of {TENANT_NAMES}")
        if name not in self._sources:
            self._sources[name] = JwtSvidAuthentication(self.workload_endpoint, self.identity(name))
        return self.service.client(auth=self._sources[name])

    def wait_until_trusted(self) -> None:
        """Block until the service has the identity provider's bundle (its watcher connects after READY=1)."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.client("admin").list_keys()
                return
            except ClientError as error:
                if error.status is not Status.AUTHENTICATION_ERROR or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()


def tenancy_options(kind: AuthKind, workload_endpoint: str | None = None) -> ServiceOptions:
    """A service authenticating with `kind`, whose admin is the tenant "admin"."""
    if kind == "direct":
        return ServiceOptions(auth_type="Direct", admins=("admin",))
    return ServiceOptions(auth_type="JwtSvid", admins=(spiffe_id("admin"),), workload_endpoint=workload_endpoint)


FETCH_AS_USER = """
import sys
from refimpl.client.jwt_svid import JwtSvidAuthentication
source = JwtSvidAuthentication(sys.argv[1], sys.argv[2])
print(source.token())
source.close()
"""


def token_fetched_as(user: UnixUser, workload_endpoint: str, name: str) -> str:
    """A JWT-SVID that a process of `user` obtained for itself: the identity provider attests its kernel uid."""
    completed = run_as(user.uid, FETCH_AS_USER, workload_endpoint, spiffe_id(name))
    assert completed.returncode == 0, f"{user.name} could not fetch a JWT-SVID for {name}:\n{completed.stderr}"
    return completed.stdout.strip()
