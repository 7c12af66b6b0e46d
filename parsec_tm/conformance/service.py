"""A reference service the conformance harness owns: started, reloaded, stopped and killed as a real process.

The harness may drive the service's life cycle when it owns the process: SIGHUP
reload, a bad reload (SIGHUP while config.toml is invalid: the service keeps serving with the configuration in
force), graceful restart (SIGTERM, then start again on the same state) and kill -9 followed by a restart
(parsec-facts §5.6). Readiness is systemd's protocol, as Parsec's: the service sends `READY=1` (and `RELOADING=1`
on SIGHUP) to `NOTIFY_SOCKET`, so the harness never polls the socket or sleeps.

`ServiceProcess` runs any command that serves a config (by default `python -m parsec_tm.cli.serve --config FILE`;
the planted-bug tests run a launcher with a deliberately broken provider) with extra environment variables (the
fault-injection file). `software_config` writes the config `parsec-tm check` and the benchmark use.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0
"""Seconds to wait for READY=1: generous, because CI machines are shared and busy."""


class ServiceError(RuntimeError):
    """The owned service did not start, reload or stop as asked; the message ends with the tail of its log."""


def serve_command(config_path: Path) -> list[str]:
    """`python -m parsec_tm.cli.serve --config FILE`: the reference service alone, without the other commands."""
    return [sys.executable, "-m", "parsec_tm.cli.serve", "--config", str(config_path)]


@dataclass
class ServiceProcess:
    """A service process on `socket_path`, run from `directory` (its working directory and log)."""

    config_path: Path
    socket_path: Path
    directory: Path
    command: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float = START_TIMEOUT
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _notify: socket.socket | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"unix:{self.socket_path}"

    @property
    def log_path(self) -> Path:
        return self.directory / "service.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start the process and wait for READY=1."""
        if self.running:
            raise ServiceError(f"the service on {self.socket_path} is already running")
        notify_path = self.socket_path.with_name(self.socket_path.name + ".notify")
        notify_path.unlink(missing_ok=True)
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(notify_path))
        env = {**os.environ, **self.env, "NOTIFY_SOCKET": str(notify_path), "PYTHONUNBUFFERED": "1"}
        env.pop("LISTEN_PID", None)
        env.pop("LISTEN_FDS", None)
        command = list(self.command) or serve_command(self.config_path)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.directory, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_for("READY=1")

    def reload(self) -> None:
        """SIGHUP, then wait until the rebuilt pipeline is ready (RELOADING=1, then READY=1)."""
        os.kill(self._pid(), signal.SIGHUP)
        self._wait_for("RELOADING=1")
        self._wait_for("READY=1")

    def bad_reload(self) -> None:
        """SIGHUP with an invalid config.toml in place, then the good one back: the service must keep serving.

        The file gets a `thread_pool_size` that is not a number (a plausible typo) for the length of the reload; the
        service answers RELOADING=1, refuses the file, keeps the configuration in force and answers READY=1.
        """
        good = self.config_path.read_text()
        bad, found = re.subn(r"(?m)^thread_pool_size\s*=.*$", 'thread_pool_size = "many"', good)
        if not found:
            bad = good.replace("[core_settings]", '[core_settings]\nthread_pool_size = "many"', 1)
        self.config_path.write_text(bad)
        try:
            self.reload()
        finally:
            self.config_path.write_text(good)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop with `sig` (SIGTERM is graceful, SIGKILL a crash) and return the exit code."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(timeout=self.start_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self.process = None
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def wait_exit(self, timeout: float = START_TIMEOUT) -> int:
        """Wait for the process to die on its own (a planted crash); ServiceError if it stays alive."""
        process = self.process
        if process is None:
            return 0
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"the service did not exit within {timeout} s:\n{self.log_tail()}") from None
        self.stop()
        return code

    def _pid(self) -> int:
        if self.process is None:
            raise ServiceError("the service is not running")
        return self.process.pid

    def _wait_for(self, state: str) -> None:
        assert self._notify is not None and self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            self._notify.settimeout(0.2)
            try:
                if self._notify.recv(4096).decode() == state:
                    return
            except TimeoutError:
                pass
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ServiceError(f"the service exited with {code} before {state}:\n{self.log_tail()}")
        raise ServiceError(f"the service did not send {state} within {self.start_timeout} s:\n{self.log_tail()}")


def software_config(
    directory: Path,
    socket_path: Path,
    *,
    auth_type: str = "Direct",
    admins: Sequence[str] = (),
) -> str:
    """A config.toml (Parsec's schema) with one software provider and a SQLite key info manager in `directory`."""
    admin_list = ", ".join(f'{{ name = "{name}" }}' for name in admins)
    return f"""[core_settings]
allow_root = true
thread_pool_size = 2
log_level = "warn"

[listener]
listener_type = "DomainSocket"
timeout = 5000
socket_path = "{socket_path}"

[authenticator]
auth_type = "{auth_type}"
admins = [{admin_list}]

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "{directory / "kim" / "mappings.sqlite3"}"

[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
key_store_path = "{directory / "mbed-crypto-keys"}"
"""
