"""Where the Parsec service listens, found the way Parsec's clients find it: `PARSEC_SERVICE_ENDPOINT`.

Parsec's service discovery (book:src/parsec_client/api_overview.md "Service discovery";
cli:src/core/request_client.rs, cli:src/core/ipc_handler/unix_socket.rs; parsec-facts §1.4): the variable holds a
URI whose scheme is `unix` and whose path is the socket, `unix:/run/parsec/parsec.sock` or
`unix:///run/parsec/parsec.sock`; when it is unset the default socket `/run/parsec/parsec.sock` is used.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENDPOINT_VARIABLE = "PARSEC_SERVICE_ENDPOINT"
DEFAULT_SOCKET_PATH = Path("/run/parsec/parsec.sock")


class EndpointError(ValueError):
    """A `PARSEC_SERVICE_ENDPOINT` value this client cannot use; the message says what to write instead."""


@dataclass(frozen=True)
class Endpoint:
    """A Unix stream socket of the service."""

    path: Path

    def __str__(self) -> str:
        return f"unix:{self.path}"

    def connect(self, timeout: float | None) -> socket.socket:
        """A new connection (one per request, as Parsec's clients do); `timeout` applies to every read and write."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(str(self.path))
        except BaseException:
            sock.close()
            raise
        return sock


def parse_endpoint(uri: str) -> Endpoint:
    """`unix:/path` or `unix:///path` (an absolute socket path); anything else is an EndpointError."""
    scheme, separator, rest = uri.partition(":")
    if not separator or scheme.lower() != "unix":
        raise EndpointError(f"{uri!r} is not a unix: URI; write it as unix:/run/parsec/parsec.sock")
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        if authority:
            raise EndpointError(f"{uri!r} names a host ({authority!r}); write unix:///{path} or unix:/{path}")
        rest = slash + path
    if not rest.startswith("/") or rest == "/":
        raise EndpointError(f"{uri!r} has no absolute socket path; write it as unix:/absolute/path/to/parsec.sock")
    return Endpoint(Path(rest))


def endpoint_from_env(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint named by `PARSEC_SERVICE_ENDPOINT`, or the default socket when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(ENDPOINT_VARIABLE, "")
    if not value:
        return Endpoint(DEFAULT_SOCKET_PATH)
    try:
        return parse_endpoint(value)
    except EndpointError as error:
        raise EndpointError(f"{ENDPOINT_VARIABLE}: {error}") from None
