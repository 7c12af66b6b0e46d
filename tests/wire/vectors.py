"""The golden wire-1.0 vectors (made by Parsec's Rust library) as test data, and their decoded fields as natives.

`manifest.json` describes every `.bin` file: kind (request, response, malformed_request), header fields, and the
body's fields in Rust serde JSON form (`{"EccKeyPair": {"curve_family": "SecpR1"}}`, `{"Specific": "Sha256"}`).
`native_attributes` and `native_alg` turn those into `refimpl.psa.types` values so tests can compare decoded
bodies with what Parsec's library encoded, field by field.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest

from refimpl.psa import types as t
from tests.fixtures.shared import shared_dir

E = TypeVar("E", bound=Enum)


def vectors_dir() -> Path:
    path = shared_dir() / "vectors" / "wire-1.0"
    if not (path / "manifest.json").is_file():
        pytest.fail(f"golden vectors missing: {path / 'manifest.json'} (set PARSEC_TM_SHARED)")
    return path


@cache
def manifest() -> dict[str, Any]:
    return dict(json.loads((vectors_dir() / "manifest.json").read_text()))


def entries(kind: str) -> list[dict[str, Any]]:
    return [entry for entry in manifest()["files"] if entry["kind"] == kind]


def entry_named(file: str) -> dict[str, Any]:
    return next(entry for entry in manifest()["files"] if entry["file"] == file)


def read(file: str) -> bytes:
    path = vectors_dir() / file
    if not path.is_file():
        pytest.fail(f"golden vector {file} is listed in manifest.json but missing from {path.parent}")
    return path.read_bytes()


def rust_name(member: Enum) -> str:
    """psa-crypto's variant name for a native enum member: SHA_256 → Sha256, SHA3_256 → Sha3_256, SECP_R1 → SecpR1."""
    name = ""
    for part in member.name.split("_"):
        joiner = "_" if name[-1:].isdigit() and part[:1].isdigit() else ""
        name += joiner + part[:1] + part[1:].lower()
    return name


def from_rust_name(enum: type[E], name: str) -> E:
    return next(member for member in enum if rust_name(member) == name)


def native_sign_hash(value: Any) -> t.SignHash:
    if value == "Any":
        return t.AnyHash()
    return from_rust_name(t.Hash, value["Specific"])


_SIGNATURES: dict[str, type] = {
    "RsaPkcs1v15Sign": t.RsaPkcs1v15Sign,
    "RsaPss": t.RsaPss,
    "Ecdsa": t.Ecdsa,
    "DeterministicEcdsa": t.DeterministicEcdsa,
}


def native_alg(value: Any) -> Any:
    """An algorithm in any of the manifest's forms: serde JSON, a hash name, or `RsaOaep(Sha256)`."""
    if isinstance(value, dict):
        ((name, inner),) = value.items()
        if name == "AsymmetricSignature":
            return native_alg(inner)
        if name in _SIGNATURES:
            return _SIGNATURES[name](native_sign_hash(inner["hash_alg"]))
        raise ValueError(f"manifest algorithm {value!r} is not handled by tests/wire/vectors.py")
    if value == "RsaPkcs1v15Crypt":
        return t.RsaPkcs1v15Crypt()
    oaep = re.fullmatch(r"RsaOaep\((\w+)\)", value)
    if oaep:
        return t.RsaOaep(from_rust_name(t.Hash, oaep.group(1)))
    return from_rust_name(t.Hash, value)


def native_attributes(value: dict[str, Any]) -> t.KeyAttributes:
    assert value["lifetime"] == "Persistent"
    ((type_name, type_fields),) = value["key_type"].items()
    families = {"curve_family": t.EccFamily, "group_family": t.DhFamily}
    arguments = [from_rust_name(families[name], family) for name, family in type_fields.items()]
    key_type = getattr(t, type_name)(*arguments)
    policy = value["policy"]
    usage = t.UsageFlags(**policy["usage_flags"])
    return t.KeyAttributes(key_type, value["bits"], t.KeyPolicy(usage, native_alg(policy["permitted_algorithms"])))
