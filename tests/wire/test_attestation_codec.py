"""The key attestation contracts (AttestKey, PrepareKeyAttestation) as parsec-interface converts them.

Both carry their mechanism in a oneof whose only variant is ActivateCredential (TPM 2.0). parsec-interface's
`convert_attest_key.rs` / `convert_prepare_key_attestation.rs` turn a missing sub-message or an unset oneof into
InvalidEncoding, in requests and results alike, and an empty attesting key name into "the default attesting key"
(None). prost sends a present variant even when all its fields are empty, so the bytes below are Parsec's.
"""

from __future__ import annotations

import pytest

from refimpl import operations as ops
from refimpl.errors import ParsecError
from refimpl.ids import Opcode, Status
from refimpl.wire import codec


@pytest.mark.parametrize(
    ("operation", "body_hex"),
    [
        # parameters(1) { activate_credential(1) { attested_key_name(1) = "k" } }
        (ops.PrepareKeyAttestation("k"), "0a050a030a016b"),
        (ops.PrepareKeyAttestation(""), "0a020a00"),
        (ops.PrepareKeyAttestation("k", "ek"), "0a090a070a016b1202656b"),
        # attested_key_name(1) = "k", parameters(2) { activate_credential(1) { credential_blob(1), secret(2) } }
        (ops.AttestKey("k", b"\x01", b"\x02"), "0a016b12080a060a0101120102"),
        (ops.AttestKey("", b"", b""), "12020a00"),
        (ops.AttestKey("k", b"", b"", "ek"), "0a016b12020a001a02656b"),
    ],
)
def test_requests_encode_as_prost_does_and_decode_back(operation: ops.Operation, body_hex: str) -> None:
    body = codec.encode_operation(operation)
    assert body.hex() == body_hex
    assert codec.decode_operation(ops.OPCODE_OF[type(operation)], body) == operation


@pytest.mark.parametrize(
    ("opcode", "body_hex"),
    [
        (Opcode.PREPARE_KEY_ATTESTATION, ""),  # no parameters
        (Opcode.PREPARE_KEY_ATTESTATION, "0a00"),  # parameters with the oneof unset
        (Opcode.ATTEST_KEY, ""),
        (Opcode.ATTEST_KEY, "0a016b"),  # a key name but no parameters
        (Opcode.ATTEST_KEY, "0a016b1200"),
    ],
)
def test_a_request_without_the_activate_credential_variant_is_invalid_encoding(opcode: Opcode, body_hex: str) -> None:
    with pytest.raises(ParsecError) as raised:
        codec.decode_operation(opcode, bytes.fromhex(body_hex))
    assert raised.value.status is Status.INVALID_ENCODING


def test_an_empty_attesting_key_name_is_the_default_key() -> None:
    decoded = codec.decode_operation(Opcode.ATTEST_KEY, bytes.fromhex("0a016b12020a001a00"))
    assert decoded == ops.AttestKey("k", b"", b"", None)
    prepared = codec.decode_operation(Opcode.PREPARE_KEY_ATTESTATION, bytes.fromhex("0a050a030a016b1200"))
    assert prepared == ops.PrepareKeyAttestation("k", None)


@pytest.mark.parametrize(
    ("opcode", "result", "body_hex"),
    [
        (Opcode.ATTEST_KEY, ops.AttestKeyResult(b"\xaa"), "0a050a030a01aa"),
        (Opcode.ATTEST_KEY, ops.AttestKeyResult(b""), "0a020a00"),
        (
            Opcode.PREPARE_KEY_ATTESTATION,
            ops.PrepareKeyAttestationResult(b"\x01", b"\x02", b"\x03"),
            "0a0b0a090a0101120102" + "1a0103",
        ),
        (Opcode.PREPARE_KEY_ATTESTATION, ops.PrepareKeyAttestationResult(b"", b"", b""), "0a020a00"),
    ],
)
def test_results_encode_as_prost_does_and_decode_back(opcode: Opcode, result: object, body_hex: str) -> None:
    body = codec.encode_result(opcode, result)
    assert body.hex() == body_hex
    assert codec.decode_result(opcode, body) == result


@pytest.mark.parametrize("opcode", [Opcode.ATTEST_KEY, Opcode.PREPARE_KEY_ATTESTATION])
@pytest.mark.parametrize("body_hex", ["", "0a00"])
def test_a_client_refuses_a_result_without_the_variant(opcode: Opcode, body_hex: str) -> None:
    with pytest.raises(ParsecError) as raised:
        codec.decode_result(opcode, bytes.fromhex(body_hex))
    assert raised.value.status is Status.INVALID_ENCODING


def test_every_opcode_of_parsec_has_a_native_operation() -> None:
    """With the two attestation operations, no opcode of Parsec's enum is left without a codec."""
    assert set(ops.OPERATIONS) == set(Opcode)
