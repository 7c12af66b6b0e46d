"""The listener, connection loop, thread pool and front end over real Unix sockets, with the Core provider behind."""

from __future__ import annotations

import grp
import os
import select
import socket
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl.authenticators import Authenticator, DirectAuthenticator, UnixPeerCredentialsAuthenticator
from refimpl.back.backend_handler import BackEndHandler
from refimpl.back.dispatcher import Dispatcher
from refimpl.errors import ConfigError, ParsecError
from refimpl.front.event_loop import ConnectionLimits, EventLoop, decided_length
from refimpl.front.front_end import FrontEndHandler
from refimpl.front.listener import DomainSocketListener
from refimpl.front.thread_pool import ThreadPool
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.operations import ListKeysResult, PingResult
from refimpl.providers.core import CoreProvider
from refimpl.wire.codec import decode_result
from refimpl.wire.framing import bytes_reader, read_request, read_response, socket_reader
from refimpl.wire.header import Request, RequestHeader, Response, encode_request


@dataclass
class Served:
    path: Path
    pool: EventLoop
    listener: DomainSocketListener


ServeFactory = Callable[..., Served]
DEFAULT_LIMITS = ConnectionLimits(4096, 1024)


def request_bytes(opcode: Opcode, auth_type: AuthType = AuthType.NO_AUTH, auth: bytes = b"") -> bytes:
    header = RequestHeader(provider=ProviderId.CORE, opcode=opcode, auth_type=auth_type, session=7)
    return encode_request(Request(header, b"", auth))


def exchange(path: Path, data: bytes) -> Response:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(os.fspath(path))
        client.sendall(data)
        return read_response(socket_reader(client))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """A factory: serve(authenticator, pool size, timeout ms, limits) → Served; everything is stopped afterwards."""
    started: list[Served] = []

    def start(
        authenticator: Authenticator | None = None,
        size: int = 2,
        timeout_ms: int = 5000,
        limits: ConnectionLimits = DEFAULT_LIMITS,
        max_buffered: int | None = None,
    ) -> Served:
        authenticator = authenticator or DirectAuthenticator()
        core = CoreProvider([], [authenticator.describe()])
        front_end = FrontEndHandler(
            Dispatcher([BackEndHandler(core, 1 << 20)]), {authenticator.AUTH_TYPE: authenticator}, 1 << 20
        )
        path = tmp_path / f"s{len(started)}.sock"
        listener = DomainSocketListener.open(path, timeout_ms, allow_activation=False)
        pool = EventLoop(listener, front_end, size, limits, max_buffered=max_buffered)
        pool.start()
        started.append(Served(path, pool, listener))
        return started[-1]

    yield start
    for served in started:
        served.pool.stop()
        served.listener.close()


def test_ping_over_a_world_connectable_socket(serve: ServeFactory) -> None:
    served = serve()
    assert stat.S_IMODE(served.path.stat().st_mode) == 0o666
    response = exchange(served.path, request_bytes(Opcode.PING))
    assert response.status is Status.SUCCESS
    assert response.header.session == 7
    assert decode_result(Opcode.PING, response.body) == PingResult(1, 0)


def test_a_stale_socket_file_is_replaced_and_anything_else_refused(tmp_path: Path) -> None:
    path = tmp_path / "parsec.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(os.fspath(path))
    stale.close()
    listener = DomainSocketListener.open(path, 100, allow_activation=False)
    listener.close()
    assert not path.exists()  # removed on close
    path.write_text("not a socket")
    with pytest.raises(ConfigError) as caught:
        DomainSocketListener.open(path, 100, allow_activation=False)
    assert caught.value.key == "listener.socket_path"
    assert path.read_text() == "not a socket"


@pytest.mark.threat("O-10")
def test_the_socket_gets_the_configured_group_and_mode(tmp_path: Path) -> None:
    """listener.socket_group / socket_mode (O-10) are the socket file's, whatever the process umask."""
    path = tmp_path / "parsec.sock"
    group = grp.getgrnam("daemon").gr_gid
    previous = os.umask(0)
    try:
        listener = DomainSocketListener.open(path, 100, allow_activation=False, mode=0o660, gid=group)
    finally:
        os.umask(previous)
    try:
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, group)
    finally:
        listener.close()


@pytest.mark.threat("M-0")
def test_the_thread_pool_runs_at_most_its_size_at_once() -> None:
    """M-0: however many jobs the leader finds, no more than `size` run concurrently, only one thread leads at a
    time, and every job runs once."""
    jobs = list(range(20))
    running, most, leaders, most_leaders, done = 0, 0, 0, 0, []
    lock = threading.Lock()
    release = threading.Event()

    def lead() -> int | None:
        nonlocal leaders, most_leaders
        with lock:
            leaders += 1
            most_leaders = max(most_leaders, leaders)
        threading.Event().wait(0.001)  # long enough for another thread to try to lead too
        with lock:
            leaders -= 1
        return jobs.pop() if jobs else None

    def run(job: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait()
        with lock:
            running -= 1
            done.append(job)

    pool: ThreadPool[int] = ThreadPool(3, lead, run)
    pool.start()
    for _ in range(10_000):  # until the three workers have each taken a job and block in it
        with lock:
            if running == 3:
                break
        threading.Event().wait(0.001)
    release.set()
    pool.join()
    assert (most, most_leaders) == (3, 1)
    assert sorted(done) == list(range(20))


def connect(path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX)
    client.connect(os.fspath(path))
    return client


def answered(client: socket.socket) -> bool:
    """Whether the service has written to (or closed) this connection yet, without waiting."""
    readable, _, _ = select.select([client], [], [], 0)
    return bool(readable)


def closed_unanswered(client: socket.socket) -> bool:
    """Send a Ping; whether the service closed the connection without writing anything (the send or the read may
    see a reset or a broken pipe, as the request was never read)."""
    try:
        client.sendall(request_bytes(Opcode.PING))
        return client.recv(64) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


@pytest.mark.threat("U-0", "A1-D-2", "M-0")
def test_idle_and_stalled_connections_hold_no_worker(serve: ServeFactory) -> None:
    """With far more idle and half-header connections than workers, a new Ping is answered while every one of
    them is still waiting for its deadline (in Parsec each would hold a worker for the whole timeout)."""
    served = serve(size=2, timeout_ms=60_000)
    idle = [connect(served.path) for _ in range(40)]
    stalled = [connect(served.path) for _ in range(40)]
    for client in stalled:
        client.sendall(request_bytes(Opcode.PING)[:18])  # half-way through the header
    try:
        for _ in range(3):
            assert exchange(served.path, request_bytes(Opcode.PING)).status is Status.SUCCESS
        assert not any(answered(client) for client in idle + stalled)
    finally:
        for client in idle + stalled:
            client.close()


@pytest.mark.threat("U-0")
def test_large_requests_over_the_buffer_budget_all_progress_and_small_ones_pass(serve: ServeFactory) -> None:
    """Three 300 KB requests held one byte short of complete, against a 100 KB budget of buffered bytes: the
    service does not hold all three at once, a Ping sent meanwhile is answered, and each request, completed in
    turn, is read whole (none is cut off at its deadline)."""
    served = serve(size=2, timeout_ms=60_000, max_buffered=100_000)
    big = bytearray(request_bytes(Opcode.PING))
    struct.pack_into("<I", big, 22, 300_000)
    data = bytes(big) + b"\x00" * 300_000
    clients = [connect(served.path) for _ in range(3)]
    senders = [threading.Thread(target=client.sendall, args=(data[:-1],)) for client in clients]
    for sender in senders:
        sender.start()
    assert exchange(served.path, request_bytes(Opcode.PING)).status is Status.SUCCESS
    statuses = []
    for client, sender in zip(clients, senders, strict=True):
        sender.join()  # this request's bytes are in (the oldest request still arriving is always read)
        client.sendall(data[-1:])
        statuses.append(read_response(socket_reader(client)).status)
        client.close()
    assert statuses == [Status.SUCCESS] * 3  # every body read whole
    # the budget, plus the oldest request (always read) and a first read of each other: never all three at once
    assert served.pool.peak_buffered <= 100_000 + len(data) + 3 * 65536 < 3 * len(data)


def test_early_errors_are_answered_without_waiting_for_the_rest(serve: ServeFactory) -> None:
    """Each request below stops where Parsec's checks stop reading; the connection stays open, and the answer
    is the check's status, not the ConnectionError a wait for the deadline would give."""
    served = serve(timeout_ms=60_000)
    ping = bytearray(request_bytes(Opcode.PING))
    wrong_version = bytearray(ping)
    wrong_version[6] = 2
    struct.pack_into("<I", wrong_version, 22, 100)  # announces a body that is never sent
    too_long = bytearray(ping)
    struct.pack_into("<I", too_long, 22, (1 << 20) + 1)
    reserved = bytearray(ping)
    reserved[35] = 1
    struct.pack_into("<H", reserved, 26, 50)
    cases = [
        (b"\x00\x01\x02\x03", Status.INVALID_HEADER),
        (bytes(ping[:4]) + struct.pack("<H", 3) + b"\x01\x00\x00", Status.INVALID_HEADER),
        (bytes(wrong_version[:36]), Status.WIRE_PROTOCOL_VERSION_NOT_SUPPORTED),
        (bytes(too_long[:36]), Status.BODY_SIZE_EXCEEDS_LIMIT),
        (bytes(reserved[:36]), Status.INVALID_HEADER),
    ]
    for data, status in cases:
        with connect(served.path) as client:
            client.sendall(data)
            response = read_response(socket_reader(client))
        assert (response.status, response.header.opcode) == (status, Opcode.PING)


@pytest.mark.threat("U-0")
def test_the_timeout_bounds_the_whole_request_not_each_read(serve: ServeFactory) -> None:
    """A client trickling a byte at a time (each read well within the timeout) is cut off at the deadline."""
    served = serve(timeout_ms=150)
    data = request_bytes(Opcode.PING)
    with connect(served.path) as client:
        sent = 0
        while sent < len(data) and not answered(client):
            client.sendall(data[sent : sent + 1])
            sent += 1
            threading.Event().wait(0.02)
        response = read_response(socket_reader(client))
    assert sent < len(data), "the whole request went through a byte at a time"
    assert response.status is Status.CONNECTION_ERROR


@pytest.mark.threat("U-0")
def test_connection_caps_refuse_once_logged_and_recover(serve: ServeFactory, caplog: pytest.LogCaptureFixture) -> None:
    """Over `max_connections_per_uid` a connection is closed unanswered; one log line for the episode; when a
    connection closes, the user is served again."""
    served = serve(timeout_ms=60_000, limits=ConnectionLimits(100, 3))
    held = [connect(served.path) for _ in range(3)]
    with caplog.at_level("WARNING", logger="refimpl.front.event_loop"):
        for _ in range(3):
            with connect(served.path) as refused:
                assert closed_unanswered(refused)
    refusals = [record for record in caplog.records if "max_connections_per_uid" in record.getMessage()]
    assert len(refusals) == 1 and f"uid {os.getuid()}" in refusals[0].getMessage()
    held.pop().close()
    statuses = []
    for _ in range(1000):  # the loop counts the closed connection out once it reads its EOF; then Pings pass
        try:
            statuses.append(exchange(served.path, request_bytes(Opcode.PING)).status)
        except (ConnectionError, ParsecError):
            continue
        break
    assert statuses == [Status.SUCCESS]
    for client in held:
        client.close()


def test_the_total_cap_refuses_every_user(serve: ServeFactory, caplog: pytest.LogCaptureFixture) -> None:
    served = serve(timeout_ms=60_000, limits=ConnectionLimits(2, 100))
    held = [connect(served.path) for _ in range(2)]
    with caplog.at_level("WARNING", logger="refimpl.front.event_loop"), connect(served.path) as refused:
        assert closed_unanswered(refused)
    assert any("listener.max_connections = 2" in record.getMessage() for record in caplog.records)
    for client in held:
        client.close()


@given(st.binary(max_size=80), st.integers(0, 40), st.integers(0, 300), st.integers(0, 300))
def test_decided_length_stops_exactly_where_read_request_stops(
    noise: bytes, cut: int, body_len: int, auth_len: int
) -> None:
    """Reading `decided_length` bytes of a stream decides the same answer as reading all of it: never a byte
    too few (a wait for nothing) and the whole request when it is one."""
    base = bytearray(request_bytes(Opcode.PING))
    struct.pack_into("<IH", base, 22, body_len, auth_len)
    candidates = [bytes(base) + noise, bytes(base[:cut]) + noise, noise]
    for stream in candidates:
        needed = decided_length(stream, 256)
        if len(stream) < needed:
            continue
        assert decided_length(stream[:needed], 256) == needed
        assert outcome(stream[:needed]) == outcome(stream)


def outcome(data: bytes) -> object:
    try:
        return read_request(bytes_reader(data), 256)
    except ParsecError as error:
        return error.status


def test_read_timeout_and_truncation_answer_connection_error(serve: ServeFactory) -> None:
    served = serve(timeout_ms=50)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(os.fspath(served.path))
        client.sendall(request_bytes(Opcode.PING)[:20])  # then silence: the read times out
        response = read_response(socket_reader(client))
    assert response.status is Status.CONNECTION_ERROR and response.header.opcode == Opcode.PING
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(os.fspath(served.path))
        client.sendall(request_bytes(Opcode.PING)[:20])
        client.shutdown(socket.SHUT_WR)
        assert read_response(socket_reader(client)).status is Status.CONNECTION_ERROR


def test_stopping_finishes_the_request_in_flight(serve: ServeFactory) -> None:
    served = serve(size=1)
    data = request_bytes(Opcode.PING)
    client = socket.socket(socket.AF_UNIX)
    client.connect(os.fspath(served.path))
    client.sendall(data[:10])
    exchange_started = threading.Event()

    def stop() -> None:
        exchange_started.set()
        served.pool.stop()

    stopper = threading.Thread(target=stop)
    stopper.start()
    exchange_started.wait()
    client.sendall(data[10:])
    assert read_response(socket_reader(client)).status is Status.SUCCESS
    stopper.join()
    client.close()
    with pytest.raises(OSError), socket.socket(socket.AF_UNIX) as late:
        late.connect(os.fspath(served.path))
        late.sendall(data)
        read_response(socket_reader(late))


@pytest.mark.threat("A1-S-1")
def test_peer_credentials_come_from_the_kernel(serve: ServeFactory) -> None:
    served = serve(UnixPeerCredentialsAuthenticator())
    own = struct.pack("<I", os.getuid())
    response = exchange(served.path, request_bytes(Opcode.LIST_KEYS, AuthType.UNIX_PEER_CREDENTIALS, own))
    assert response.status is Status.SUCCESS
    assert decode_result(Opcode.LIST_KEYS, response.body) == ListKeysResult(())
    forged = struct.pack("<I", os.getuid() + 1)
    response = exchange(served.path, request_bytes(Opcode.LIST_KEYS, AuthType.UNIX_PEER_CREDENTIALS, forged))
    assert response.status is Status.AUTHENTICATION_ERROR
    assert response.header.opcode == Opcode.LIST_KEYS  # a late error echoes the request header


def test_auth_types_without_an_authenticator(serve: ServeFactory) -> None:
    served = serve(DirectAuthenticator())
    not_configured = exchange(served.path, request_bytes(Opcode.PING, AuthType.UNIX_PEER_CREDENTIALS, b"\0" * 4))
    assert not_configured.status is Status.AUTHENTICATOR_NOT_REGISTERED
    jwt = exchange(served.path, request_bytes(Opcode.PING, AuthType.JWT, b"a.b.c"))
    assert jwt.status is Status.AUTHENTICATOR_NOT_REGISTERED
    no_auth_key_op = exchange(served.path, request_bytes(Opcode.LIST_KEYS))
    assert no_auth_key_op.status is Status.NOT_AUTHENTICATED


def test_closing_never_removes_another_listeners_socket_file(tmp_path: Path) -> None:
    path = tmp_path / "parsec.sock"
    first = DomainSocketListener.open(path, 100, allow_activation=False)
    second = DomainSocketListener.open(path, 100, allow_activation=False)  # replaces the file, as Parsec does
    first.close()
    assert path.exists()
    second.close()
    assert not path.exists()
