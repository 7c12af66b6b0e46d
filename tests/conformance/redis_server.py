"""A private redis-server for the Redis example-database tests: Debian's `redis-server`, on a free port, no disk.

Started with `--save ""` and `--appendonly no` in a temporary directory, bound to 127.0.0.1 on a port the kernel
chose, and stopped (by its own PID) afterwards. When the binary is missing the tests skip on a developer machine
but fail under CI (`CI=true`), where the set-up installs it: a Redis database CI never exercised would count as
tested.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_binary() -> str:
    """The redis-server path; pytest.fail under CI when it is missing, pytest.skip elsewhere."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (Debian package redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must exercise the Redis example database")
        pytest.skip(message)
    return found


@contextmanager
def redis_server() -> Iterator[str]:
    """Run a private redis-server; yields its URL (redis://127.0.0.1:PORT/0)."""
    binary = redis_binary()
    directory = Path(tempfile.mkdtemp(prefix="ptm-redis-"))
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(directory), "--logfile", str(directory / "redis.log")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = (
                    (directory / "redis.log").read_text(errors="replace") if (directory / "redis.log").exists() else ""
                )
                pytest.fail(f"redis-server did not start on port {port}:\n{log}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
