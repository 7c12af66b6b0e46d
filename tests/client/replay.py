"""A tiny Parsec stand-in on a real Unix socket that answers with canned golden response bytes.

It reads each request with the real framing code (`read_request`), records the exact bytes the client sent, and
replies with the golden response for the request's opcode (or `Response.from_status` when framing fails), one
request per connection, as Parsec does. It checks the client's bytes, not the service's behaviour.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, Status
from refimpl.wire.framing import read_request, socket_reader
from refimpl.wire.header import Request, RequestHeader, Response, encode_response
from tests.wire.vectors import entries, read

Replier = Callable[[Request], bytes]


def response_bytes(opcode: Opcode, status: Status = Status.SUCCESS, body: bytes = b"", provider: int = 0) -> bytes:
    """A well-formed reply that echoes `opcode`, for answers no golden file holds."""
    header = RequestHeader(provider=provider, opcode=opcode, auth_type=AuthType.DIRECT)
    return encode_response(Response.for_request(header, status, body))


def golden_replies() -> dict[int, bytes]:
    """Opcode → the golden success response for it."""
    return {entry["opcode_id"]: read(entry["file"]) for entry in entries("response") if entry["status_id"] == 0}


class ReplayServer:
    def __init__(self, path: Path, replier: Replier | None = None) -> None:
        self.path = path
        self.replies = golden_replies()
        self.overrides: dict[int, bytes] = {}
        self.replier = replier
        self.received: list[bytes] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, name="replay-server", daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"unix:{self.path}"

    def reply_to(self, opcode: Opcode, data: bytes) -> None:
        """Answer `opcode` with these bytes instead of the golden success response."""
        self.overrides[opcode] = data

    def _answer(self, request: Request) -> bytes:
        if self.replier is not None:
            return self.replier(request)
        opcode = int(request.header.opcode)
        if opcode in self.overrides:
            return self.overrides[opcode]
        if opcode in self.replies:
            return self.replies[opcode]
        return encode_response(Response.for_request(request.header, Status.PSA_ERROR_NOT_SUPPORTED))

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # the listener was shut down
            with connection:
                self._handle(connection)

    def _handle(self, connection: socket.socket) -> None:
        received = bytearray()
        inner = socket_reader(connection)

        def recording(size: int) -> bytes:
            chunk = inner(size)
            received.extend(chunk)
            return chunk

        try:
            reply = self._answer(read_request(recording, 1 << 20))
        except ParsecError as error:
            reply = encode_response(Response.from_status(error.status))
        self.received.append(bytes(received))
        with contextlib.suppress(OSError):  # the client gave up; nothing to answer
            connection.sendall(reply)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join()


@contextmanager
def replay_server(replier: Replier | None = None) -> Iterator[ReplayServer]:
    """A server on a short path (Unix socket paths are limited to 108 bytes), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ptm-"))
    server = ReplayServer(directory / "parsec.sock", replier)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory)
