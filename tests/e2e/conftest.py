"""Fixtures of the end-to-end tests: provider tables per provider kind, and real Unix users.

Test bodies take `provider_table` and run once per provider kind: the software provider always, and SoftHSM2
(PKCS#11) and swtpm (TPM) as soon as `tests.fixtures.real_parts` offers their `softhsm_token` and `swtpm`
fixtures, each with `.provider_table(name)` giving a Parsec `[[provider]]` table.
"""

from __future__ import annotations

import pwd
import subprocess
from typing import Any

import pytest

from tests.e2e.helpers import UnixUser
from tests.fixtures import real_parts
from tests.fixtures.service import software_provider_table

HARDWARE_FIXTURES = {"pkcs11": "softhsm_token", "tpm": "swtpm"}
PROVIDER_KINDS = ["software"] + [kind for kind, fixture in HARDWARE_FIXTURES.items() if hasattr(real_parts, fixture)]
TENANT_USERS = ("ptm-e2e-tenant-a", "ptm-e2e-tenant-b")


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
    users: list[UnixUser] = []
    for name in TENANT_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            # A parallel session may create it at the same moment: useradd then fails, and the user exists.
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=False, capture_output=True)
            entry = pwd.getpwnam(name)
        users.append(UnixUser(name, entry.pw_uid, entry.pw_gid))
    return users[0], users[1]
