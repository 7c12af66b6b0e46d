"""O-10 as config: the socket's group and mode keep every Unix user outside the clients' group from connecting.

The seed's deployment without an Identity Provider leaves the A1, A2 and A10 attackers out of scope only if O-10
holds: "a set of mutually trusted clients has restricted read-write access to the service IPC endpoint". The
extension keys `listener.socket_group` and `listener.socket_mode` put that restriction on the socket itself
(Parsec leaves its socket 0666 and restricts the directory instead, parsec-facts §5.7). The users are real: the
member is listed in /etc/group and gets the group the way a login does (`setpriv --init-groups`), the outsider is
not; each runs the standard-library raw client with Debian's Python.
"""

from __future__ import annotations

import grp
import stat
from pathlib import Path

import pytest

from tests.e2e import parsec_raw_client as raw
from tests.e2e.helpers import UnixUser, raw_client_as, run_as, serve_once
from tests.fixtures.service import ServiceFactory, ServiceOptions, render_config

pytestmark = pytest.mark.e2e

PING = raw.request(raw.CORE, raw.PING)


def list_keys_as(user: UnixUser) -> bytes:
    return raw.request(raw.CORE, raw.LIST_KEYS, b"", raw.UNIX_PEER_CREDENTIALS, user.auth)


def refused_to_connect(user: UnixUser, socket_path: Path) -> bool:
    """Whether the kernel refused `user` the connection itself (EACCES), before the service read a byte."""
    result = raw_client_as(user, socket_path, [PING], init_groups=True)
    return result.returncode != 0 and "PermissionError" in result.stderr and result.stdout == ""


@pytest.mark.threat("O-10", "A1-I-1")
def test_only_members_of_the_socket_group_can_connect(
    service_factory: ServiceFactory, clients_group: tuple[str, UnixUser, UnixUser]
) -> None:
    group, member, outsider = clients_group
    options = ServiceOptions(auth_type="UnixPeerCredentials", admins=("0",), socket_group=group, socket_mode="0660")
    service = service_factory(options)
    for _ in ("start", "after a SIGHUP reload, which re-creates the socket"):
        info = service.socket_path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, grp.getgrnam(group).gr_gid)
        replies = run_as(member, service.socket_path, [PING, list_keys_as(member)], init_groups=True)
        assert [raw.status_of(reply) for reply in replies] == [0, 0]
        assert refused_to_connect(outsider, service.socket_path)
        service.reload()

    parsec_default = service_factory(ServiceOptions(auth_type="UnixPeerCredentials", admins=("0",)))
    assert stat.S_IMODE(parsec_default.socket_path.stat().st_mode) == 0o666  # Parsec's socket: anyone connects
    assert not refused_to_connect(outsider, parsec_default.socket_path)
    assert raw.status_of(run_as(outsider, parsec_default.socket_path, [list_keys_as(outsider)])[0]) == 0


@pytest.mark.threat("A9-E-1", "M-5")
def test_an_unknown_socket_group_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    options = ServiceOptions(socket_group="ptm-no-such-group")
    result = serve_once(tmp_path, render_config(options, tmp_path, tmp_path / "s.sock"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "parsec-tm serve: invalid configuration: listener.socket_group: there is no group 'ptm-no-such-group' on "
        "this system; create it (groupadd ptm-no-such-group) or name an existing group"
    )
    assert not (tmp_path / "s.sock").exists()
