"""Helpers of the end-to-end tests: Unix users, and the independent raw client run as one of them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def run_as(user: UnixUser, socket_path: Path, requests: list[bytes]) -> list[bytes]:
    """Send each request on its own connection from a process running as `user`; return the raw replies."""
    command = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
               SYSTEM_PYTHON, str(RAW_CLIENT), str(socket_path)]
    result = subprocess.run(
        command, input="".join(request.hex() + "\n" for request in requests), capture_output=True, text=True,
        timeout=120, check=False,
    )
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
        cwd=directory, capture_output=True, text=True, timeout=60, check=False,
    )
