"""The thread pool: `thread_pool_size` workers, each serving one complete request at a time (leader/followers).

The seed's mitigation M-0 ("a thread pool with a configurable amount of threads limits the number of concurrent
operations"; Parsec's `threadpool` in svc:src/bin/main.rs). Parsec queues every accepted connection as a job and
a worker then reads the request from it, so a client that connects and sends nothing, or stalls half-way, holds a
worker for the listener's whole `timeout` (the seed's U-0). Here a job is a request already read to its end by
the connection loop (`refimpl.front.event_loop`), so a worker is only ever busy with the service's own work.

The loop has no thread of its own: the workers take turns running it (the leader/followers pattern). One worker
at a time — the leader — waits for events and reads; when it has a complete request it hands the leadership to
the next idle worker and serves that request itself. The request is served by the thread that read it, so no
hand-over between threads lies on the path of a request (one wake-up per request, as when Parsec's workers block
in accept). When every worker is busy nobody reads, and new requests wait in the kernel until one is free: at
most `size` requests are in progress. Stopping ends each worker once the loop has nothing left to serve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")


class ThreadPool(Generic[Job]):
    """`size` threads; each in turn runs `lead()` (alone) until it returns a job, then `run(job)` (concurrently with
    the others). A thread ends when `lead()` returns None."""

    def __init__(self, size: int, lead: Callable[[], Job | None], run: Callable[[Job], None]) -> None:
        self.size = size
        self._lead = lead
        self._run = run
        self._leadership = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"parsec-worker-{index}", daemon=True) for index in range(size)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        """Wait for every worker to end (after `lead()` has started returning None)."""
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join()

    def _work(self) -> None:
        while True:
            with self._leadership:
                try:
                    job = self._lead()
                except Exception:
                    log.exception("the connection loop failed; this worker keeps serving")
                    continue
            if job is None:
                return
            try:
                self._run(job)
            except Exception:
                log.exception("a worker failed while serving a request; it keeps serving")
