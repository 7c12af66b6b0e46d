"""Pre-forked worker processes sharing the listening socket: the thread pool (M-0), once per CPU-bound process.

An optional extension of Parsec's listener/thread-pool box (`parsec-tm serve --processes N`; Parsec itself is one
process). Python runs the per-request work of one process on one core at a time (the GIL), so N processes, each
with its own `thread_pool_size` workers blocking in `accept()` on the one inherited socket, use N cores. Each
process builds its own pipeline (providers, key info managers) after the fork: nothing is opened before the fork
and then shared. State stays correct only because every shared store is coherent across processes — the service
allows N > 1 only with SQLite key info managers in shared mode and with providers whose key store is built for it
(`refimpl.service.check_multi_process`).

A start-up barrier keeps the key stores safe: every worker builds (and so sweeps) its pipeline, then waits until
all have, and only then do they accept connections — a sweep never runs while another process is half-way through
creating a key. For the same reason a worker is never restarted alone: the supervisor treats a worker's death as
the service's crash; and the other way round, a worker dies with its supervisor (the kernel's parent-death signal,
SIGKILL), so a killed service leaves no worker serving beside the one started after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Callable
from typing import NoReturn, Protocol

from refimpl.errors import ConfigError

log = logging.getLogger(__name__)

WORKER_SIGNALS = frozenset({signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


class Servable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class WorkerProcesses:
    """`count` child processes, each serving what `build()` returns until SIGTERM or SIGINT."""

    def __init__(self, count: int, build: Callable[[], Servable]) -> None:
        self.count = count
        self._build = build
        self.pids: list[int] = []

    def start(self) -> None:
        """Fork the workers, wait until every one has built its pipeline, then let them all serve.

        The caller must have blocked WORKER_SIGNALS (children inherit the mask and take them with sigwait).
        A worker that fails to build aborts the start: ConfigError with its reason.
        """
        go_read, go_write = os.pipe()
        readies: list[int] = []
        supervisor = os.getpid()
        for _ in range(self.count):
            ready_read, ready_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(ready_read)
                os.close(go_write)
                for descriptor in readies:
                    os.close(descriptor)
                _serve_in_child(self._build, ready_write, go_read, supervisor)
            os.close(ready_write)
            self.pids.append(pid)
            readies.append(ready_read)
        os.close(go_read)
        failures = [answer for answer in (_read_all(descriptor) for descriptor in readies) if answer != "ok"]
        if failures:
            for pid in self.pids:
                os.kill(pid, signal.SIGKILL)
            self._wait_all()
            os.close(go_write)
            key, _, message = failures[0].partition("\0")
            raise ConfigError(key or "provider", message)
        os.close(go_write)  # every worker reads EOF at once: the barrier opens
        log.info("%d worker processes serve: %s", self.count, ", ".join(str(pid) for pid in self.pids))

    def stop(self) -> None:
        """SIGTERM every worker (each finishes its in-flight requests) and wait for all of them."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._wait_all()

    def dead(self) -> list[tuple[int, int]]:
        """(pid, wait status) of every worker that has exited, without blocking."""
        exited = []
        for pid in list(self.pids):
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                exited.append((pid, status))
                self.pids.remove(pid)
        return exited

    def _wait_all(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids = []


def _die_with(supervisor: int) -> None:
    """Have the kernel SIGKILL this worker when the supervisor dies (PR_SET_PDEATHSIG), so a kill -9 of the
    service takes every process of it down at once, as it does a single-process service; exit at once if the
    supervisor is already gone."""
    if _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(error)}")
    if os.getppid() != supervisor:  # it died between the fork and the prctl
        os._exit(1)


def _read_all(descriptor: int) -> str:
    chunks = []
    while chunk := os.read(descriptor, 4096):
        chunks.append(chunk)
    os.close(descriptor)
    return b"".join(chunks).decode(errors="replace")


def _serve_in_child(build: Callable[[], Servable], ready: int, go: int, supervisor: int) -> NoReturn:
    """The worker's whole life: build, report, wait for the barrier, serve until SIGTERM/SIGINT, exit."""
    try:
        _die_with(supervisor)
        servable = build()
    except ConfigError as error:
        os.write(ready, f"{error.key}\0{error.message}".encode())
        os._exit(2)
    except BaseException as error:
        os.write(ready, f"\0a worker process failed to start: {type(error).__name__}: {error}".encode())
        os._exit(1)
    os.write(ready, b"ok")
    os.close(ready)
    os.read(go, 1)  # blocks until the parent has heard from every worker
    os.close(go)
    servable.start()
    while signal.sigwait(WORKER_SIGNALS) == signal.SIGHUP:
        pass  # only the supervisor reloads; it stops and replaces the workers
    servable.stop()
    logging.shutdown()
    os._exit(0)
