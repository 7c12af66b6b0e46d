"""Fixtures of the end-to-end tests: provider tables per provider kind, and real Unix users.

Test bodies take `provider_table` and run once per provider kind: the software provider always, and SoftHSM2
(PKCS#11) and swtpm (TPM) as soon as `tests.fixtures.real_parts` offers their `softhsm_token` and `swtpm`
fixtures, each with `.provider_table(name)` giving a Parsec `[[provider]]` table. `workload_api` is the SPIFFE
Workload API server of the JwtSvid tenants (`tests.e2e.tenancy`), one per session; `clients_group` is a real Unix
group with one real member, for O-10.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from refimpl.identity_provider.server import WorkloadApiServer
from tests.e2e.helpers import UnixUser
from tests.e2e.tenancy import workload_api_for
from tests.fixtures import real_parts
from tests.fixtures.service import software_provider_table

HARDWARE_FIXTURES = {"pkcs11": "softhsm_token", "tpm": "swtpm"}
PROVIDER_KINDS = ["software"] + [kind for kind, fixture in HARDWARE_FIXTURES.items() if hasattr(real_parts, fixture)]
TENANT_USERS = ("ptm-e2e-tenant-a", "ptm-e2e-tenant-b")
CLIENTS_GROUP = "ptm-parsec-clients"
"""O-10's group of mutually trusted clients (Parsec's docs call it parsec-clients; prefixed to stay out of the way)."""
GROUP_MEMBER, OUTSIDER = "ptm-e2e-member", "ptm-e2e-outsider"


def provider_table_for(
    kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A `[[provider]]` table (without key_info_manager) for a provider kind of `PROVIDER_KINDS`."""
    if kind == "software":
        return software_provider_table(tmp_path_factory.mktemp("software"))
    part = request.getfixturevalue(HARDWARE_FIXTURES[kind])
    table: dict[str, Any] = dict(part.provider_table(f"{kind}-provider"))
    table.pop("key_info_manager", None)
    return table


@pytest.fixture(params=PROVIDER_KINDS)
def provider_table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A `[[provider]]` table for each provider kind this machine has (one test run per kind)."""
    return provider_table_for(request.param, request, tmp_path_factory)


@pytest.fixture(scope="session")
def unix_users() -> tuple[UnixUser, UnixUser]:
    """Two real Unix users without a home or a login shell, created with useradd if missing.

    They are left in place afterwards: test sessions running in parallel (pytest-xdist workers, other engineers)
    share them, and removing them under a running session would fail its tests.
    """
    first, second = (unix_user(name) for name in TENANT_USERS)
    return first, second


def unix_user(name: str) -> UnixUser:
    """A real Unix user without a home or a login shell, created with useradd if missing (and never removed)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        # A parallel session may create it at the same moment: useradd then fails, and the user exists.
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=False, capture_output=True)
        entry = pwd.getpwnam(name)
    return UnixUser(name, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="session")
def clients_group() -> tuple[str, UnixUser, UnixUser]:
    """(group, member, outsider): the O-10 group and two real users, one listed in it by /etc/group, one not.

    Created idempotently and left in place, like the tenant users; the member is added with usermod only if missing.
    """
    try:
        grp.getgrnam(CLIENTS_GROUP)
    except KeyError:
        subprocess.run(["groupadd", CLIENTS_GROUP], check=False, capture_output=True)
        grp.getgrnam(CLIENTS_GROUP)
    member, outsider = unix_user(GROUP_MEMBER), unix_user(OUTSIDER)
    if GROUP_MEMBER not in grp.getgrnam(CLIENTS_GROUP).gr_mem:
        subprocess.run(["usermod", "-a", "-G", CLIENTS_GROUP, GROUP_MEMBER], check=True, capture_output=True)
    assert OUTSIDER not in grp.getgrnam(CLIENTS_GROUP).gr_mem, f"{OUTSIDER} must stay outside {CLIENTS_GROUP}"
    return CLIENTS_GROUP, member, outsider


@pytest.fixture(scope="session")
def workload_api(unix_users: tuple[UnixUser, UnixUser]) -> Iterator[WorkloadApiServer]:
    """The Workload API server of the JwtSvid tenants, on a real Unix socket, for the whole session."""
    with workload_api_for(os.getuid(), unix_users) as server:
        yield server
