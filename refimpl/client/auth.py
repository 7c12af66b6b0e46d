"""The authentication data a client puts in a request's auth field, one class per Parsec auth type.

Parsec's client-side `Authentication` (cli:src/auth.rs) and the field semantics of parsec-facts §1.3: NoAuth sends
nothing; Direct sends the application name as UTF-8; UnixPeerCredentials sends the caller's UID as exactly 4 bytes,
little-endian (the service compares it with SO_PEERCRED); JwtSvid sends a JWT-SVID (audience "parsec") in JWS
compact form. Fetching that token from the SPIFFE Workload API is the job of the `token_source` handed in.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from refimpl.ids import AuthType

JWT_SVID_AUDIENCE = "parsec"


class Authentication(Protocol):
    """What a client needs to fill a request's auth type and auth field."""

    @property
    def auth_type(self) -> AuthType: ...

    def auth_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class NoAuth:
    """No identity: only Ping, the List* discovery operations, hashing and random bytes are allowed."""

    auth_type: ClassVar[AuthType] = AuthType.NO_AUTH

    def auth_bytes(self) -> bytes:
        return b""


@dataclass(frozen=True)
class Direct:
    """The application names itself; for testing only (the service trusts the name)."""

    app_name: str
    auth_type: ClassVar[AuthType] = AuthType.DIRECT

    def auth_bytes(self) -> bytes:
        return self.app_name.encode()


@dataclass(frozen=True)
class UnixPeerCredentials:
    """The caller's UID, which the service checks against the socket's peer credentials."""

    uid: int = field(default_factory=os.getuid)
    auth_type: ClassVar[AuthType] = AuthType.UNIX_PEER_CREDENTIALS

    def auth_bytes(self) -> bytes:
        return struct.pack("<I", self.uid)


@dataclass(frozen=True)
class JwtSvid:
    """A JWT-SVID fetched afresh for every request by `token_source` (e.g. a SPIFFE Workload API client)."""

    token_source: Callable[[str], str]
    """Called with the audience ("parsec"); returns the token in JWS compact serialization."""
    auth_type: ClassVar[AuthType] = AuthType.JWT_SVID

    def auth_bytes(self) -> bytes:
        return self.token_source(JWT_SVID_AUDIENCE).encode()
