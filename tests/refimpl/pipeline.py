"""An in-process pipeline built from a Parsec-schema config, answering raw request bytes without a socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from refimpl.config import parse_config
from refimpl.front.listener import PeerCredentials
from refimpl.ids import AuthType, Opcode, ProviderId
from refimpl.operations import OPCODE_OF
from refimpl.service import Pipeline, build_pipeline
from refimpl.wire.codec import encode_operation
from refimpl.wire.framing import bytes_reader
from refimpl.wire.header import Request, RequestHeader, Response, encode_request


def config_document(
    directory: Path, authenticator: dict[str, Any] | list[dict[str, Any]] | None = None, **core_settings: Any
) -> dict[str, Any]:
    """A config with one SQLite store and the software provider; `authenticator` is the table (or array of
    tables) to use instead of Parsec's single Direct one with admin "admin"."""
    return {
        "core_settings": {"allow_root": True, "thread_pool_size": 1, **core_settings},
        "listener": {"listener_type": "DomainSocket", "timeout": 1000, "socket_path": str(directory / "p.sock")},
        "authenticator": authenticator or {"auth_type": "Direct", "admins": [{"name": "admin"}]},
        "key_manager": [{"name": "kim", "manager_type": "SQLite", "sqlite_db_path": str(directory / "kim.db")}],
        "provider": [
            {"provider_type": "MbedCrypto", "key_info_manager": "kim", "key_store_path": str(directory / "keys")}
        ],
    }


@contextmanager
def in_process_pipeline(
    directory: Path, authenticator: dict[str, Any] | list[dict[str, Any]] | None = None, **core_settings: Any
) -> Iterator[Pipeline]:
    """The built pipeline (not started: requests go straight to its front end)."""
    document = config_document(directory, authenticator, **core_settings)
    pipeline = build_pipeline(parse_config(document), allow_activation=False)
    try:
        yield pipeline
    finally:
        pipeline.stop()


def ask(
    pipeline: Pipeline,
    operation: Any,
    app: str | None = None,
    *,
    provider: int | None = None,
    opcode: int | None = None,
    body: bytes | None = None,
    auth_type: AuthType = AuthType.DIRECT,
) -> Response:
    """One request through the front end as `app` (NoAuth if None); core ops go to Core by default.

    With Direct (the default) `app` is the name sent; with UnixPeerCredentials it is the decimal UID, sent as the
    auth field and reported as the connection's peer (what the kernel would say of a process of that user).
    """
    opcode = opcode if opcode is not None else OPCODE_OF[type(operation)]
    if provider is None:
        provider = ProviderId.CORE if Opcode(opcode).is_core else ProviderId.MBED_CRYPTO
    uid = 0
    if app is None:
        auth_type, auth = AuthType.NO_AUTH, b""
    elif auth_type == AuthType.UNIX_PEER_CREDENTIALS:
        uid = int(app)
        auth = uid.to_bytes(4, "little")
    else:
        auth = app.encode()
    header = RequestHeader(provider=provider, opcode=opcode, auth_type=auth_type)
    data = encode_request(Request(header, encode_operation(operation) if body is None else body, auth))
    return pipeline.front_end.respond(bytes_reader(data), lambda: PeerCredentials(1, uid, uid))
