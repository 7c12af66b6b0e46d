"""Every golden vector made by Parsec's Rust library round-trips byte for byte (parsec-facts §1, §3).

Requests go through `read_request` → `encode_request` and their bodies through `decode_operation` →
`encode_operation`; responses through `decode_response` → `encode_response` and `decode_result` →
`encode_result`. Decoded fields are compared with the manifest's. Malformed requests give the manifest's status at
the right step, and the reply built for them equals the golden response bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.wire.codec import decode_operation, decode_result, encode_operation, encode_result
from refimpl.wire.framing import bytes_reader, read_request
from refimpl.wire.header import Response, decode_response, encode_request, encode_response
from tests.wire.vectors import entries, entry_named, native_alg, native_attributes, read

LIMIT = 1 << 20  # core_settings.body_len_limit default


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["file"] for item in items]


def _check_fields(native: Any, expected: dict[str, Any]) -> None:
    """Compare a decoded operation or result with the manifest's fields (names as in refimpl.operations)."""
    for name, value in expected.items():
        if name in {"bits", "curve_family", "key_type", "permitted_algorithm", "usage", "status", "status_id"}:
            continue  # summaries of `attributes`, or the status (checked from the header)
        if name.endswith("_hex"):
            actual = getattr(native, name.removesuffix("_hex"))
            assert actual == (bytes.fromhex(value) if value is not None else None), name
        elif name == "attributes":
            assert native.attributes == native_attributes(value)
        elif name == "alg":
            assert native.alg == native_alg(value)
        elif name == "opcodes":
            assert native.opcodes == frozenset(Opcode(code) for code in value)
        elif name == "keys":
            assert [(k.provider_id, k.name, k.attributes) for k in native.keys] == [
                (key["provider_id"], key["name"], native_attributes(key["attributes"])) for key in value
            ]
        elif name in {"providers", "authenticators"}:
            assert [vars(info) for info in getattr(native, name)] == value
        else:
            assert getattr(native, name) == value, name


@pytest.mark.parametrize("entry", entries("request"), ids=_ids(entries("request")))
def test_request_vector_round_trips(entry: dict[str, Any]) -> None:
    data = read(entry["file"])
    assert data.hex() == entry["hex"]
    request = read_request(bytes_reader(data), LIMIT)
    header = request.header
    assert header.provider == ProviderId(entry["provider_id"])
    assert header.opcode == Opcode(entry["opcode_id"])
    assert header.auth_type == AuthType(entry["auth_type_id"])
    assert header.session == entry["session"]
    assert (request.body.hex(), request.auth.hex()) == (entry["body_hex"], entry["auth_hex"])
    assert encode_request(request) == data

    operation = decode_operation(Opcode(header.opcode), request.body)
    _check_fields(operation, entry["fields"])
    assert encode_operation(operation) == request.body


@pytest.mark.parametrize("entry", entries("response"), ids=_ids(entries("response")))
def test_response_vector_round_trips(entry: dict[str, Any]) -> None:
    data = read(entry["file"])
    response = decode_response(data)
    header = response.header
    assert (header.provider, header.opcode, header.session) == (
        entry["provider_id"],
        entry["opcode_id"],
        entry["session"],
    )
    assert response.status == Status(entry["status_id"])
    assert response.body.hex() == entry["body_hex"]
    assert encode_response(response) == data

    if response.status is Status.SUCCESS:
        opcode = Opcode(header.opcode)
        result = decode_result(opcode, response.body)
        _check_fields(result, entry["fields"])
        assert encode_result(opcode, result) == response.body


class CountingReader:
    """A recv_exactly over bytes that records how much the parser asked for."""

    def __init__(self, data: bytes) -> None:
        self.inner = bytes_reader(data)
        self.consumed = 0

    def __call__(self, size: int) -> bytes:
        chunk = self.inner(size)
        self.consumed += size
        return chunk


FRAMING_CASES = [
    entry
    for entry in entries("malformed_request")
    if entry["case"] not in {"deserializing_body_failed", "authentication_error"}
]
BYTES_READ = {"bad_magic": 4, "bad_header_size": 6 + 28, "body_too_long": 36}
"""How far Parsec reads before it answers: the magic alone; the header-size field and that many bytes; no body."""


@pytest.mark.threat("A1-E-1", "M-5", "A2-I-2", "M-1")
@pytest.mark.parametrize("entry", FRAMING_CASES, ids=_ids(FRAMING_CASES))
def test_malformed_request_gets_the_golden_error_response(entry: dict[str, Any]) -> None:
    reader = CountingReader(read(entry["file"]))
    with pytest.raises(ParsecError) as raised:
        read_request(reader, LIMIT)
    status = raised.value.status
    assert status is Status(entry["expected_server_status_id"])
    assert encode_response(Response.from_status(status)) == read(entry["expected_response_file"])
    if entry["case"] in BYTES_READ:
        assert reader.consumed == BYTES_READ[entry["case"]]


LATE_ERRORS: dict[str, Callable[[Any], Any]] = {
    "deserializing_body_failed": lambda request: decode_operation(Opcode(request.header.opcode), request.body),
}


@pytest.mark.parametrize("case", ["deserializing_body_failed", "authentication_error"])
def test_errors_after_the_header_echo_the_request(case: str) -> None:
    entry = next(item for item in entries("malformed_request") if item["case"] == case)
    request = read_request(bytes_reader(read(entry["file"])), LIMIT)
    status = Status(entry["expected_server_status_id"])
    if case in LATE_ERRORS:
        with pytest.raises(ParsecError) as raised:
            LATE_ERRORS[case](request)
        assert raised.value.status is status
    else:
        assert request.auth == b""  # the Direct authenticator (refimpl.authenticators) refuses an empty name
    reply = encode_response(Response.for_request(request.header, status))
    assert reply == read(entry["expected_response_file"])


def test_every_listed_file_exists_and_matches_its_hex() -> None:
    for entry in entries("request") + entries("response") + entries("malformed_request"):
        assert read(entry["file"]).hex() == entry["hex"], entry["file"]
    assert entry_named("ping.resp.bin")["body_hex"] == "0801"  # prost omits default values (facts §3.0)
