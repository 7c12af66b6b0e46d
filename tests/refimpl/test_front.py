"""The listener, thread pool and front end over real Unix sockets, with the Core provider behind them."""

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

from refimpl.authenticators import Authenticator, DirectAuthenticator, UnixPeerCredentialsAuthenticator
from refimpl.back.backend_handler import BackEndHandler
from refimpl.back.dispatcher import Dispatcher
from refimpl.errors import ConfigError
from refimpl.front.front_end import FrontEndHandler
from refimpl.front.listener import DomainSocketListener
from refimpl.front.thread_pool import ThreadPool
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.operations import ListKeysResult, PingResult
from refimpl.providers.core import CoreProvider
from refimpl.wire.codec import decode_result
from refimpl.wire.framing import read_response, socket_reader
from refimpl.wire.header import Request, RequestHeader, Response, encode_request


@dataclass
class Served:
    path: Path
    pool: ThreadPool
    listener: DomainSocketListener


ServeFactory = Callable[..., Served]

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
    """A factory: serve(authenticator, pool size, timeout ms) → Served; everything is stopped afterwards."""
    started: list[Served] = []

    def start(authenticator: Authenticator | None = None, size: int = 2, timeout_ms: int = 5000) -> Served:
        authenticator = authenticator or DirectAuthenticator()
        core = CoreProvider([], [authenticator.describe()])
        front_end = FrontEndHandler(
            Dispatcher([BackEndHandler(core, 1 << 20)]), {authenticator.AUTH_TYPE: authenticator}, 1 << 20
        )
        path = tmp_path / f"s{len(started)}.sock"
        listener = DomainSocketListener.open(path, timeout_ms, allow_activation=False)
        pool = ThreadPool(size, listener, front_end.handle)
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


@pytest.mark.threat("A1-D-2", "M-0")
def test_thread_pool_bounds_concurrent_requests(serve: ServeFactory) -> None:
    """With 2 workers held by idle clients, a third request waits in the backlog until a worker frees up."""
    served = serve(size=2, timeout_ms=60_000)
    idle = [socket.socket(socket.AF_UNIX) for _ in range(2)]
    for client in idle:
        client.connect(os.fspath(served.path))
        client.sendall(b"\x10\xa7")  # half a magic number: the worker waits for the rest
    waiting = socket.socket(socket.AF_UNIX)
    waiting.connect(os.fspath(served.path))
    waiting.sendall(request_bytes(Opcode.PING))
    readable, _, _ = select.select([waiting], [], [], 0.5)
    assert not readable, "a third request was served while both workers were busy"
    idle[0].close()  # the worker reads EOF, answers ConnectionError, and takes the waiting request
    assert read_response(socket_reader(waiting)).status is Status.SUCCESS
    idle[1].close()
    waiting.close()


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
    stopper = threading.Thread(target=lambda: (exchange_started.set(), served.pool.stop()))
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
