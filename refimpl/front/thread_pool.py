"""The thread pool: `thread_pool_size` workers, each serving one complete request at a time.

The seed's mitigation M-0 ("a thread pool with a configurable amount of threads limits the number of concurrent
operations"; Parsec's `threadpool` in svc:src/bin/main.rs). Parsec queues every accepted connection as a job and
a worker then reads the request from it, so a client that connects and sends nothing, or stalls half-way, holds a
worker for the listener's whole `timeout` (the seed's U-0). Here the connection loop (`refimpl.front.event_loop`)
reads requests without any worker, and a job is a request already read to its end: a worker is only ever busy
with work the service itself does (authenticate, dispatch, answer). Stopping lets the queued jobs finish first,
which is what a SIGHUP reload and a SIGTERM need.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")


class ThreadPool(Generic[Job]):
    """`size` threads running `run(job)` for each submitted job, in submission order."""

    def __init__(self, size: int, run: Callable[[Job], None]) -> None:
        self.size = size
        self._run = run
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"parsec-worker-{index}", daemon=True) for index in range(size)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        """Finish every job submitted so far, then end the workers and wait for them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._run(job)
            except Exception:
                log.exception("a worker failed while serving a request; it keeps serving")
