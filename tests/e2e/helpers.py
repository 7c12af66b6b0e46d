"""Helpers of the end-to-end tests: Unix users, and the independent raw client run as one of them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.other_users import for_other_users

RAW_CLIENT = Path(__file__).with_name("parsec_raw_client.py")
SYSTEM_PYTHON = "/usr/bin/python3"
"""Debian's interpreter: other uids cannot run the venv's, which lives under /root (providers-on-debian.md §7)."""


@dataclass(frozen=True)
class UnixUser:
    name: str
    uid: int
    gid: int

    @property
    def auth(self) -> bytes:
        """The UnixPeerCredentials auth field this user sends: its UID, u32 little-endian."""
        return self.uid.to_bytes(4, "little")


def raw_client_command(user: UnixUser, socket_path: Path, *, init_groups: bool = False) -> list[str]:
    """The raw client as `user` (hex request lines on stdin, hex reply lines on stdout, one per request).

    Without supplementary groups, unless `init_groups`: then with the groups /etc/group lists for the user, as a
    login would give them.
    """
    groups = "--init-groups" if init_groups else "--clear-groups"
    return [
        "setpriv",
        f"--reuid={user.uid}",
        f"--regid={user.gid}",
        groups,
        SYSTEM_PYTHON,
        str(for_other_users(RAW_CLIENT)),
        str(socket_path),
    ]


def raw_client_as(
    user: UnixUser, socket_path: Path, requests: list[bytes], *, init_groups: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the raw client as `user` on `requests`, however it ends."""
    command = raw_client_command(user, socket_path, init_groups=init_groups)
    return subprocess.run(
        command,
        input="".join(request.hex() + "\n" for request in requests),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_as(user: UnixUser, socket_path: Path, requests: list[bytes], *, init_groups: bool = False) -> list[bytes]:
    """Send each request on its own connection from a process running as `user`; return the raw replies."""
    result = raw_client_as(user, socket_path, requests, init_groups=init_groups)
    assert result.returncode == 0, f"the raw client as {user.name} failed:\n{result.stderr}"
    replies = [bytes.fromhex(line) for line in result.stdout.splitlines()]
    assert len(replies) == len(requests), result.stderr
    return replies


def serve_once(directory: Path, config_text: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `parsec-tm serve` on `config_text` when it is expected to refuse to start; returns the finished run."""
    config = directory / "config.toml"
    config.write_text(config_text)
    return subprocess.run(
        [sys.executable, "-m", "parsec_tm.cli.serve", "--config", str(config), *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
