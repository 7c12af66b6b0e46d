"""The dispatcher and back-end handler: Parsec's checks in Parsec's order (facts §1.2 steps 8–14)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from refimpl.back.backend_handler import BackEndHandler
from refimpl.errors import ParsecError
from refimpl.ids import Opcode, ProviderId, Status
from refimpl.operations import (
    DeleteClient,
    GenerateKey,
    GenerateRandom,
    HashCompute,
    ListClients,
    ListKeys,
    SignHash,
)
from refimpl.psa import types as t
from refimpl.service import Pipeline
from refimpl.wire.generated import psa_generate_key_pb2
from refimpl.wire.header import RequestHeader
from tests.refimpl.pipeline import ask, in_process_pipeline

P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
)
GARBAGE = bytes.fromhex("1122334455")


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with in_process_pipeline(tmp_path, buffer_size_limit=64) as built:
        yield built


def test_capability_is_checked_before_anything_else(pipeline: Pipeline) -> None:
    assert ask(pipeline, GenerateKey("k", P256), "a", provider=ProviderId.CORE).status is Status.PSA_ERROR_NOT_SUPPORTED
    assert ask(pipeline, ListKeys(), "a", provider=ProviderId.MBED_CRYPTO).status is Status.PSA_ERROR_NOT_SUPPORTED
    # … but after the dispatcher: a provider that is not running is ProviderNotRegistered, whatever the opcode.
    assert ask(pipeline, ListKeys(), "a", provider=ProviderId.TPM).status is Status.PROVIDER_NOT_REGISTERED


def test_back_end_refuses_a_header_that_is_not_its_own(pipeline: Pipeline) -> None:
    backend = BackEndHandler(pipeline.providers[0], 1 << 20)
    checks = [
        (
            RequestHeader(provider=ProviderId.PKCS11, opcode=Opcode.PSA_GENERATE_KEY, auth_type=1),
            Status.WRONG_PROVIDER_ID,
        ),
        (
            RequestHeader(provider=ProviderId.MBED_CRYPTO, opcode=Opcode.PSA_GENERATE_KEY, auth_type=1, content_type=5),
            Status.CONTENT_TYPE_NOT_SUPPORTED,
        ),
        (
            RequestHeader(provider=ProviderId.MBED_CRYPTO, opcode=Opcode.PSA_GENERATE_KEY, auth_type=1, accept_type=5),
            Status.ACCEPT_TYPE_NOT_SUPPORTED,
        ),
        (
            RequestHeader(provider=ProviderId.PKCS11, opcode=Opcode.LIST_KEYS, auth_type=1, content_type=5),
            Status.PSA_ERROR_NOT_SUPPORTED,
        ),  # the core/crypto mismatch comes first
    ]
    for header, status in checks:
        with pytest.raises(ParsecError) as caught:
            backend.is_capable(header)
        assert caught.value.status is status


@pytest.mark.threat("A2-I-2", "M-1")
@pytest.mark.parametrize(
    ("operation", "app", "body", "status"),
    [
        (ListClients(), None, GARBAGE, Status.NOT_AUTHENTICATED),  # admin check before the body
        (ListClients(), "tenant", GARBAGE, Status.ADMIN_OPERATION),
        (ListClients(), "admin", GARBAGE, Status.DESERIALIZING_BODY_FAILED),
        (DeleteClient("x"), "tenant", None, Status.ADMIN_OPERATION),
        (GenerateKey("k", P256), None, GARBAGE, Status.DESERIALIZING_BODY_FAILED),  # body before NotAuthenticated
        (GenerateKey("k", P256), None, None, Status.NOT_AUTHENTICATED),
        (
            GenerateKey("k", P256),
            "tenant",
            psa_generate_key_pb2.Operation(key_name="k").SerializeToString(),
            Status.INVALID_ENCODING,
        ),  # valid protobuf, attributes missing
        (ListKeys(), None, None, Status.NOT_AUTHENTICATED),
    ],
)
def test_admin_decode_and_identity_checks_in_parsecs_order(
    pipeline: Pipeline, operation: object, app: str | None, body: bytes | None, status: Status
) -> None:
    response = ask(pipeline, operation, app, body=body)
    assert response.status is status
    assert response.body == b""


def test_operations_that_need_no_identity_work_without_one(pipeline: Pipeline) -> None:
    assert ask(pipeline, HashCompute(t.Hash.SHA_256, b"abc"), None).status is Status.SUCCESS
    assert ask(pipeline, GenerateRandom(64), None).status is Status.SUCCESS


def test_random_above_buffer_size_limit_is_response_too_large(pipeline: Pipeline) -> None:
    assert ask(pipeline, GenerateRandom(65), "tenant").status is Status.RESPONSE_TOO_LARGE
    assert ask(pipeline, GenerateRandom(1 << 40), None).status is Status.RESPONSE_TOO_LARGE


@pytest.mark.threat("A2-I-2", "M-1")
def test_failure_details_go_to_the_log_not_the_client(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="refimpl")
    response = ask(pipeline, SignHash("no-such-key", t.Ecdsa(t.Hash.SHA_256), b"\0" * 32), "tenant")
    assert response.status is Status.PSA_ERROR_DOES_NOT_EXIST and response.body == b""
    failures = [r.getMessage() for r in caplog.records if "PsaSignHash failed" in r.getMessage()]
    assert failures and "no-such-key" in failures[0] and "PsaErrorDoesNotExist" in failures[0]
