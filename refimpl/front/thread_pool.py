"""The thread pool: `thread_pool_size` workers, each taking one connection at a time from the listener.

The seed's mitigation M-0 ("a thread pool with a configurable amount of threads limits the number of concurrent
operations"; Parsec's `threadpool` in svc:src/bin/main.rs). Parsec's main loop accepts and queues every
connection as a job; here each worker blocks in `accept()` itself, so at most `size` requests are in progress and
the others wait in the kernel's listen backlog (the queue Parsec keeps in memory). Unmitigated U-0 still holds: a
client can keep every worker busy. Stopping wakes the workers through the listener; a request already being
served is finished first, which is what a SIGHUP reload and a SIGTERM need.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from refimpl.front.listener import Connection, DomainSocketListener

log = logging.getLogger(__name__)


class ThreadPool:
    def __init__(self, size: int, listener: DomainSocketListener, handle: Callable[[Connection], None]) -> None:
        self.size = size
        self._listener = listener
        self._handle = handle
        self._threads = [
            threading.Thread(target=self._work, name=f"parsec-worker-{index}", daemon=True) for index in range(size)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop accepting, let every in-flight request finish, and wait for the workers."""
        self._listener.shutdown()
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join()

    def _work(self) -> None:
        while (connection := self._listener.accept()) is not None:
            try:
                self._handle(connection)
            except Exception:
                log.exception("a worker failed while serving a connection; it keeps serving")
            finally:
                connection.close()
