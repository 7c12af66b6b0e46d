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


def config_document(directory: Path, **core_settings: Any) -> dict[str, Any]:
    return {
        "core_settings": {"allow_root": True, "thread_pool_size": 1, **core_settings},
        "listener": {"listener_type": "DomainSocket", "timeout": 1000, "socket_path": str(directory / "p.sock")},
        "authenticator": {"auth_type": "Direct", "admins": [{"name": "admin"}]},
        "key_manager": [{"name": "kim", "manager_type": "SQLite", "sqlite_db_path": str(directory / "kim.db")}],
        "provider": [
            {"provider_type": "MbedCrypto", "key_info_manager": "kim", "key_store_path": str(directory / "keys")}
        ],
    }


@contextmanager
def in_process_pipeline(directory: Path, **core_settings: Any) -> Iterator[Pipeline]:
    """The built pipeline (not started: requests go straight to its front end)."""
    pipeline = build_pipeline(parse_config(config_document(directory, **core_settings)), allow_activation=False)
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
) -> Response:
    """One request through the front end: Direct auth as `app` (NoAuth if None); core ops go to Core by default."""
    opcode = opcode if opcode is not None else OPCODE_OF[type(operation)]
    if provider is None:
        provider = ProviderId.CORE if Opcode(opcode).is_core else ProviderId.MBED_CRYPTO
    auth_type = AuthType.DIRECT if app is not None else AuthType.NO_AUTH
    header = RequestHeader(provider=provider, opcode=opcode, auth_type=auth_type)
    data = encode_request(Request(header, encode_operation(operation) if body is None else body,
                                  (app or "").encode()))
    return pipeline.front_end.respond(bytes_reader(data), lambda: PeerCredentials(1, 0, 0))
