"""The connection loop: accept and read requests without holding a worker; serve only complete requests.

Our mitigation of the seed's U-0 (one local user can deny the service to every tenant), which Parsec leaves open:
in Parsec a worker thread reads each request, so N connections that send nothing (or stall half-way through a
header) hold the pool for N × `timeout` / `thread_pool_size`. Here one epoll set per process waits on every
connection at once: the loop accepts, reads whatever bytes arrive, and only when a request is complete — or the
bytes so far already decide its answer — runs the front end's `process` on those bytes exactly as it would on a
stream. The loop is run by the workers in turn (leader/followers, `refimpl.front.thread_pool`): the worker that
finds a complete request passes the loop on to an idle worker and serves the request itself. An idle connection
costs a descriptor and a few bytes, never a worker.

* Deadline: each connection must deliver its whole request (header, body and auth) within the listener's
  `timeout` ms from its acceptance (Parsec applies `timeout` to each read, so a client trickling one byte at a
  time could hold a worker much longer). When it passes, the bytes read so far are processed as a stream that
  timed out: the client gets ConnectionError, as from Parsec.
* Completeness follows Parsec's order of checks (parsec-facts §1.2 steps 1–6), so every early error is answered
  as soon as Parsec would answer it: a wrong magic number after 4 bytes, a wrong header size after that many
  bytes, a wrong version, reserved byte or a body over `body_len_limit` after the 36-byte header — never after
  waiting for a body that will not be read.
* Memory: the bytes held for requests still arriving have a budget (`MAX_BUFFERED`); a connection part-way
  through a large body waits, unread, while the budget is spent (its deadline still runs), and is read again, oldest
  first, as requests complete. A connection's first read (up to 64 KiB) never waits, so small requests are never
  held up by large ones, and the oldest request still arriving is always read, so large ones always progress.
* Caps (our extension of Parsec's schema, `[listener] max_connections` and `max_connections_per_uid`): a
  connection over either cap is closed at once, unanswered, before anything is read. The first refusal of an
  episode is logged once (naming the cap and the peer's uid); the episode ends when that user (or, for the total
  cap, the service) is below its cap again — so refused connections cannot flood the log.
* Incomplete requests (the peer closed, or the deadline passed) are answered by the loop itself, a few at a
  time between its looks at new events, so a burst of a thousand expiring connections never stands in the
  workers' queue ahead of a whole request.
* Replies: the worker writes its response on the non-blocking socket; one too large for the socket's buffer is
  finished by the loop, under a fresh `timeout` deadline, so a client that does not read cannot hold a worker.
* With `--processes N` every process runs its own loop on the one inherited socket (EPOLLEXCLUSIVE: one process
  is woken per new connection); the caps then hold per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass

from refimpl.front.front_end import FrontEndHandler, Outcome
from refimpl.front.listener import RESOURCE_ERRORS, DomainSocketListener, PeerCredentials, peer_credentials
from refimpl.front.thread_pool import ThreadPool
from refimpl.wire.header import HEADER_SIZE, MAGIC, encode_response

log = logging.getLogger(__name__)

RECV_CHUNK = 65536
"""Bytes asked of the kernel per read: one read usually holds a whole request."""
ACCEPT_BATCH = 64
"""Connections accepted per wake-up at most, so reads of connections already open are not starved."""
MAX_BUFFERED = 64 << 20
"""Default budget of bytes held for requests still arriving (at least four requests of `body_len_limit`): without
it, `max_connections` clients each sending most of a 1 MiB body slowly would make the service hold gigabytes."""
ANSWER_BATCH = 16
"""Incomplete requests the loop answers between two looks at its events."""
RESOURCE_BACKOFF = 0.01
"""Seconds without accepting after the service ran out of descriptors or memory (O-4), instead of spinning."""

_PREFIX = 6  # magic (4) and header size (2)
_FULL_HEADER = _PREFIX + HEADER_SIZE
_MAGIC = struct.pack("<I", MAGIC)
_LENGTHS = struct.Struct("<IH")  # body_len, auth_len at offset 22
_LISTENER = -1
_WAKE = -2


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """`[listener] max_connections` and `max_connections_per_uid`: open connections in total and per peer uid."""

    total: int
    per_uid: int


def decided_length(data: bytes | bytearray, body_len_limit: int) -> int:
    """How many bytes of a request the front end needs before it can answer (parsec-facts §1.2 steps 1–6).

    The answer only grows as bytes arrive, and once `len(data)` reaches it, `read_request` on `data` no longer
    reads past its end: either the request is whole, or an earlier check has already failed.
    """
    if len(data) < 4 or data[:4] != _MAGIC:
        return 4
    if len(data) < _PREFIX:
        return _PREFIX
    header_size = data[4] | data[5] << 8
    if header_size != HEADER_SIZE:
        return _PREFIX + header_size
    if len(data) < _FULL_HEADER:
        return _FULL_HEADER
    body_len: int
    auth_len: int
    body_len, auth_len = _LENGTHS.unpack_from(data, 22)
    if data[6] != 1 or data[7] != 0 or data[34] or data[35] or body_len > body_len_limit:
        return _FULL_HEADER
    return _FULL_HEADER + body_len + auth_len


class _StreamEnd:
    """A `recv_exactly` over the bytes one connection delivered, ending the way the stream ended."""

    __slots__ = ("_data", "_ending", "_offset")

    def __init__(self, data: bytes, ending: str | None) -> None:
        self._data = data
        self._ending = ending
        self._offset = 0

    def __call__(self, size: int) -> bytes:
        end = self._offset + size
        if end > len(self._data):
            if self._ending == "eof":
                raise EOFError(f"peer closed the connection {end - len(self._data)} bytes short of {size}")
            raise TimeoutError(f"the request was not complete within the listener timeout ({len(self._data)} bytes)")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk


class _Connection:
    """One accepted client: what it sent so far, when it must be done, and who it is."""

    __slots__ = ("buffer", "deadline", "fd", "needed", "outcome", "parked", "peer", "registered", "reply", "sock")

    def __init__(self, sock: socket.socket, peer: PeerCredentials | None, deadline: float) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        self.deadline = deadline
        self.buffer = bytearray()
        self.needed = 4
        self.registered = False
        self.parked = False
        self.reply = b""
        self.outcome: Outcome | None = None


class EventLoop:
    """The front of one service process: the connection loop and the thread pool that runs it and serves."""

    def __init__(
        self,
        listener: DomainSocketListener,
        front_end: FrontEndHandler,
        threads: int,
        limits: ConnectionLimits,
        *,
        max_buffered: int | None = None,
    ) -> None:
        self.size = threads
        self.limits = limits
        self.max_buffered = max_buffered or max(MAX_BUFFERED, 4 * front_end.body_len_limit)
        """Bytes of unfinished requests held at once; beyond it, connections part-way through are read later."""
        self._buffered = 0
        self.peak_buffered = 0
        """The most bytes of unfinished requests held at once so far (what the budget bounds)."""
        self._parked: deque[_Connection] = deque()
        self._listener = listener
        self._front_end = front_end
        self._timeout = listener.timeout_ms / 1000
        self._pool: ThreadPool[tuple[_Connection, bytes, str | None]] = ThreadPool(threads, self._lead, self._serve)
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._reading: dict[int, _Connection] = {}  # insertion order is acceptance order, so deadline order
        self._writing: dict[int, _Connection] = {}  # likewise, by hand-over order
        self._handed: list[_Connection] = []  # replies the workers could not finish (under _lock)
        self._unfinished: deque[tuple[_Connection, bytes, str | None]] = deque()  # answered by the loop
        self._lock = threading.Lock()
        self._open = 0
        self._per_uid: dict[int, int] = {}
        self._refusing: set[int | None] = set()  # uids (None: the total cap) whose refusal was logged
        self._ready: deque[tuple[_Connection, bytes, str | None]] = deque()  # whole requests not yet taken
        self._stopping = False
        self._accepting = False
        self._resume_at = 0.0

    def start(self) -> None:
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._accepting = self._register_listener()
        self._pool.start()

    def stop(self) -> None:
        """Stop accepting; finish every request already begun (or let its deadline pass), close the connections
        that have sent nothing yet; end the threads. A second call does nothing."""
        if self._stopping:
            return
        self._stopping = True
        self._listener.shutdown()
        self._wake()
        self._pool.join()
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    # -- the loop, run by one worker at a time (the leader) ----------------------------------------------------

    def _lead(self) -> tuple[_Connection, bytes, str | None] | None:
        """Run the loop until a whole request is ready (returned, for this worker to serve), or, once stopping,
        until nothing is left to serve (None)."""
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._stopping and self._accepting:
                self._epoll.unregister(self._listener.fileno())
                self._accepting = False
                self._drop_silent()
            if self._stopping and not self._reading and not self._writing and not self._unfinished:
                with self._lock:
                    if self._open == 0 and not self._handed:
                        return None
            now = time.monotonic()
            if not self._accepting and not self._stopping and now >= self._resume_at:
                self._accepting = self._register_listener()
            backing_off = not self._accepting and not self._stopping
            wait = 0.0 if self._unfinished else self._wait(now, self._resume_at if backing_off else None)
            try:
                events = self._epoll.poll(wait)
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == self._listener.fileno() and self._accepting:
                    if not self._accept():
                        self._epoll.unregister(fd)
                        self._accepting = False
                        self._resume_at = time.monotonic() + RESOURCE_BACKOFF
                elif fd == self._wake_read:
                    self._drain_wake()
                elif (connection := self._reading.get(fd)) is not None:
                    self._read(connection)
                elif (connection := self._writing.get(fd)) is not None:
                    self._write(connection)
            self._expire(time.monotonic())
            self._answer_unfinished()

    def _drop_silent(self) -> None:
        """On stop, close the connections that have not sent a byte: no request is in flight on them."""
        for connection in [connection for connection in self._reading.values() if not connection.buffer]:
            del self._reading[connection.fd]
            if connection.registered:
                self._epoll.unregister(connection.fd)
            self._release(connection)

    def _register_listener(self) -> bool:
        try:
            self._epoll.register(self._listener.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)
        except OSError as error:
            if not self._stopping:
                log.error("cannot wait for connections on the listening socket: %s", error)
            return False
        return True

    def _wait(self, now: float, resume_at: float | None) -> float:
        """Seconds until the next deadline (or the end of an accept back-off); -1 to wait for events only."""
        deadlines = [table[next(iter(table))].deadline for table in (self._reading, self._writing) if table]
        if resume_at is not None:
            deadlines.append(resume_at)
        return max(0.0, min(deadlines) - now) if deadlines else -1

    def _accept(self) -> bool:
        """Accept up to ACCEPT_BATCH waiting clients; False when out of a resource (the caller backs off)."""
        for _ in range(ACCEPT_BATCH):
            try:
                sock = self._listener.accept()
            except OSError as error:
                if self._stopping or self._listener.closing:
                    return True
                if error.errno in RESOURCE_ERRORS:
                    log.error("accept() failed: %s; the service is out of a resource, pausing 10 ms", error)
                    return False
                log.error("accept() failed: %s", error)
                return True
            if sock is None:
                return True
            peer = peer_credentials(sock)
            if not self._admit(peer):
                sock.close()
                continue
            connection = _Connection(sock, peer, time.monotonic() + self._timeout)
            self._reading[connection.fd] = connection
            self._read(connection)  # the request is usually there already: no epoll round trip for it
        return True

    def _admit(self, peer: PeerCredentials | None) -> bool:
        """Count the connection in, or refuse it (logging the first refusal of an episode)."""
        uid = None if peer is None else peer.uid
        with self._lock:
            if self._open >= self.limits.total:
                refused: int | None = None
                cap, limit = "listener.max_connections", self.limits.total
            elif uid is not None and self._per_uid.get(uid, 0) >= self.limits.per_uid:
                refused, cap, limit = uid, "listener.max_connections_per_uid", self.limits.per_uid
            else:
                self._open += 1
                if uid is not None:
                    self._per_uid[uid] = self._per_uid.get(uid, 0) + 1
                return True
            first = refused not in self._refusing
            self._refusing.add(refused)
        if first:
            log.warning(
                "refusing a connection from uid %s: %s = %d reached; connections over it are closed unanswered "
                "(logged once until the count drops)",
                "?" if uid is None else uid,
                cap,
                limit,
            )
        return False

    def _release(self, connection: _Connection) -> None:
        """Close the connection and count it out (from the loop or a worker)."""
        connection.sock.close()
        uid = None if connection.peer is None else connection.peer.uid
        with self._lock:
            self._open -= 1
            if uid is not None:
                count = self._per_uid[uid] - 1
                if count:
                    self._per_uid[uid] = count
                else:
                    del self._per_uid[uid]
                if uid in self._refusing and count < self.limits.per_uid:
                    self._refusing.discard(uid)
            if None in self._refusing and self._open < self.limits.total:
                self._refusing.discard(None)
        if self._stopping:
            self._wake()

    def _read(self, connection: _Connection) -> None:
        buffer = connection.buffer
        ending: str | None = None
        while len(buffer) < connection.needed:
            size = max(RECV_CHUNK, connection.needed - len(buffer))
            if buffer and connection is not next(iter(self._reading.values())):
                # over budget, only a first read (small requests never wait) and the oldest request go on
                room = self.max_buffered - self._buffered
                if room <= 0:
                    self._park(connection)
                    return
                size = min(size, room)
            try:
                chunk = connection.sock.recv(size)
            except (BlockingIOError, InterruptedError):
                if not connection.registered:
                    self._epoll.register(connection.fd, select.EPOLLIN)
                    connection.registered = True
                return
            except OSError:
                ending = "eof"
                break
            if not chunk:
                ending = "eof"
                break
            buffer += chunk
            self._buffered += len(chunk)
            self.peak_buffered = max(self.peak_buffered, self._buffered)
            connection.needed = decided_length(buffer, self._front_end.body_len_limit)
        self._hand_over(connection, ending)

    def _park(self, connection: _Connection) -> None:
        """Stop reading a connection while the buffered bytes are at their budget; its deadline still runs."""
        if connection.registered:
            self._epoll.unregister(connection.fd)
            connection.registered = False
        connection.parked = True
        self._parked.append(connection)

    def _resume_parked(self) -> None:
        """Read parked connections again, oldest first, as the budget allows; the oldest request always (so two
        large requests never wait on each other until their deadlines)."""
        oldest = next(iter(self._reading.values()), None)
        if oldest is not None and oldest.parked:
            self._unpark(oldest)
        while self._parked and self._buffered < self.max_buffered:
            connection = self._parked.popleft()
            if connection.parked:  # not handed over (expired) or resumed meanwhile
                self._unpark(connection)

    def _unpark(self, connection: _Connection) -> None:
        connection.parked = False
        self._epoll.register(connection.fd, select.EPOLLIN)
        connection.registered = True

    def _hand_over(self, connection: _Connection, ending: str | None) -> None:
        """Give a whole request to a worker; keep an incomplete one (the peer closed, or its deadline passed) for
        the loop itself to answer ConnectionError, so whole requests never queue behind such answers."""
        del self._reading[connection.fd]
        if connection.registered:
            self._epoll.unregister(connection.fd)
            connection.registered = False
        connection.parked = False
        job = (connection, bytes(connection.buffer), ending)
        self._buffered -= len(connection.buffer)
        connection.buffer = bytearray()
        if self._parked:
            self._resume_parked()
        if ending is None:
            self._ready.append(job)
        else:
            self._unfinished.append(job)

    def _answer_unfinished(self) -> None:
        """Answer up to ANSWER_BATCH incomplete requests, then go back to the events (a burst of expiries is
        answered between them, not before them)."""
        for _ in range(min(ANSWER_BATCH, len(self._unfinished))):
            self._serve(self._unfinished.popleft())

    def _expire(self, now: float) -> None:
        while self._reading:
            connection = self._reading[next(iter(self._reading))]
            if connection.deadline > now:
                break
            self._hand_over(connection, "timeout")
        while self._writing:
            connection = self._writing[next(iter(self._writing))]
            if connection.deadline > now:
                break
            del self._writing[connection.fd]
            self._epoll.unregister(connection.fd)
            log.error("failed to write the response: the client read none of it within the listener timeout")
            self._release(connection)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            handed, self._handed = self._handed, []
        for connection in handed:
            connection.deadline = time.monotonic() + self._timeout
            self._writing[connection.fd] = connection
            self._epoll.register(connection.fd, select.EPOLLOUT)

    def _write(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.reply)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            sent = -1
            log.error("failed to write the response: %s", error)
        if 0 <= sent < len(connection.reply):
            connection.reply = connection.reply[sent:]
            return
        del self._writing[connection.fd]
        self._epoll.unregister(connection.fd)
        if sent >= 0 and connection.outcome is not None:
            self._front_end.log_sent(connection.outcome)
        self._release(connection)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe: already awake
            os.write(self._wake_write, b"\0")

    # -- serving one request, outside the loop (concurrently with the leader) ---------------------------------

    def _serve(self, job: tuple[_Connection, bytes, str | None]) -> None:
        connection, data, ending = job
        try:
            peer = connection.peer
            outcome = self._front_end.process(_StreamEnd(data, ending), lambda: peer)
            reply = encode_response(outcome.response)
            try:
                sent = connection.sock.send(reply)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                log.error("failed to write the response: %s", error)
                self._release(connection)
                return
            if sent < len(reply):  # larger than the socket's buffer: the loop finishes it
                connection.reply, connection.outcome = reply[sent:], outcome
                with self._lock:
                    self._handed.append(connection)
                self._wake()
                return
        except BaseException:
            self._release(connection)
            raise
        self._front_end.log_sent(outcome)
        self._release(connection)
