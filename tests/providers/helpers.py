"""Shared vocabulary of the provider tests: tenants, key templates, vectors, and a status-returning call.

Templates are built from the frozen PSA nouns of `refimpl.psa.types`, so a test reads like the key it makes:
`template(ECC_P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from refimpl.errors import ParsecError
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType, Status
from refimpl.operations import Operation
from refimpl.providers.base import Provider
from refimpl.psa.types import (
    Algorithm,
    AlgorithmNone,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    KeyAttributes,
    KeyPolicy,
    KeyType,
    UsageFlags,
)

VECTORS = Path(__file__).parent / "vectors"

TENANT_A = Application(ApplicationIdentity.of("tenant-a", AuthType.DIRECT))
TENANT_B = Application(ApplicationIdentity.of("tenant-b", AuthType.DIRECT))
TENANT_A_BY_UID = Application(ApplicationIdentity.of("tenant-a", AuthType.UNIX_PEER_CREDENTIALS))
"""Same name as TENANT_A but named by another authenticator: a different tenant (SQLite KIM semantics)."""

P256 = EccKeyPair(EccFamily.SECP_R1)
P256_PUBLIC = EccPublicKey(EccFamily.SECP_R1)


def template(key_type: KeyType, bits: int, algorithm: Algorithm | None = None, **flags: bool) -> KeyAttributes:
    """Key attributes with the named usage flags set and `algorithm` (None: Algorithm::None) permitted."""
    permitted = AlgorithmNone() if algorithm is None else algorithm
    return KeyAttributes(key_type, bits, KeyPolicy(UsageFlags(**flags), permitted))


def status_of(provider: Provider, application: Application | None, operation: Operation) -> Status:
    """The status the provider answers: SUCCESS, or the status of the `ParsecError` it raises."""
    try:
        provider.execute(application, operation)
    except ParsecError as error:
        return error.status
    return Status.SUCCESS


def run(provider: Provider, application: Application | None, operation: Operation) -> Any:
    """Execute and return the result (a failure raises `ParsecError`, failing the test with its status)."""
    return provider.execute(application, operation)


@cache
def vectors(name: str) -> dict[str, Any]:
    """A vector file of tests/providers/vectors/ (a missing file fails the test that asks for it)."""
    data: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def unhex(value: str) -> bytes:
    return bytes.fromhex(value)
