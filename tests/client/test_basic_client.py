"""`BasicClient` over a real Unix socket: it sends exactly the bytes Parsec's Rust client sends.

The replay server answers with golden responses; every request the client sends is compared byte for byte with
the golden request made by parsec-interface for the same operation and authentication.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from refimpl import operations as ops
from refimpl.client import Authentication, BasicClient, ClientError, Direct, InvalidResponse, NoAuth, ServiceUnreachable
from refimpl.client.auth import UnixPeerCredentials
from refimpl.client.tool import ecc_key_attributes
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.psa import types as t
from refimpl.wire.codec import decode_operation
from refimpl.wire.framing import bytes_reader, read_request
from refimpl.wire.header import Response, ResponseHeader, encode_header, encode_response
from tests.client.replay import ReplayServer
from tests.wire.test_golden_vectors import FRAMING_CASES
from tests.wire.vectors import entries, entry_named, manifest, read

ECC_P256 = ecc_key_attributes()  # what `parsec-tool create-ecc-key` makes, and what the golden key holds
TENANT = Direct(manifest()["auth"]["direct_app_name"])
PEER = UnixPeerCredentials(manifest()["auth"]["peer_uid"])


@pytest.mark.parametrize("entry", entries("request"), ids=[entry["file"] for entry in entries("request")])
def test_each_request_is_byte_identical_to_parsecs(server: ReplayServer, entry: dict[str, Any]) -> None:
    golden = read(entry["file"])
    request = read_request(bytes_reader(golden), 1 << 20)
    auth: dict[int, Authentication] = {
        AuthType.DIRECT: TENANT,
        AuthType.UNIX_PEER_CREDENTIALS: PEER,
        AuthType.NO_AUTH: NoAuth(),
    }
    operation = decode_operation(Opcode(request.header.opcode), request.body)
    client = BasicClient()
    response = client.send(request.header.provider, request.header.opcode, operation, auth[request.header.auth_type])
    assert server.received == [golden]
    assert response.status is Status.SUCCESS


def test_discovery_goes_to_core_without_authentication(server: ReplayServer) -> None:
    client = BasicClient(auth=TENANT)
    assert client.ping() == (1, 0)
    assert server.received == [read("ping.noauth.req.bin")]
    providers = client.list_providers()
    assert [provider.id for provider in providers] == [ProviderId.MBED_CRYPTO, ProviderId.CORE]
    assert client.list_opcodes(ProviderId.MBED_CRYPTO) >= {Opcode.PSA_GENERATE_KEY, Opcode.PSA_SIGN_HASH}
    assert [info.id for info in client.list_authenticators()] == [AuthType.DIRECT]
    assert all(data[21] == AuthType.NO_AUTH for data in server.received)  # offset 21: auth type


def test_the_implicit_provider_is_the_first_listed_and_cached(server: ReplayServer) -> None:
    client = BasicClient(auth=TENANT)
    client.psa_generate_key("tenant-a-key", ECC_P256)
    client.psa_destroy_key("tenant-a-key")
    first = read_request(bytes_reader(server.received[0]), 1 << 20)
    assert (first.header.opcode, first.header.auth_type) == (Opcode.LIST_PROVIDERS, AuthType.NO_AUTH)
    assert server.received[1:] == [read("psa_generate_key.req.bin"), read("psa_destroy_key.req.bin")]
    assert client.implicit_provider is ProviderId.MBED_CRYPTO  # cached: no further ListProviders
    assert len(server.received) == 3


def test_default_authentication_comes_from_list_authenticators(server: ReplayServer) -> None:
    client = BasicClient(app_name="tenant-a", provider=ProviderId.MBED_CRYPTO)
    digest = bytes.fromhex(entry_named("psa_sign_hash.req.bin")["fields"]["hash_hex"])
    signature = client.psa_sign_hash("tenant-a-key", digest, t.Ecdsa(t.Hash.SHA_256))
    assert signature == bytes.fromhex(entry_named("psa_sign_hash.resp.bin")["fields"]["signature_hex"])
    assert server.received[-1] == read("psa_sign_hash.req.bin")
    assert client.auth == TENANT


def test_a_failure_status_raises_client_error(server: ReplayServer) -> None:
    server.reply_to(Opcode.PSA_SIGN_HASH, read("err_psa_does_not_exist.resp.bin"))
    client = BasicClient(auth=TENANT, provider=ProviderId.MBED_CRYPTO)
    with pytest.raises(ClientError) as raised:
        client.psa_sign_hash("missing", b"\x00" * 32, t.Ecdsa(t.Hash.SHA_256))
    assert raised.value.status is Status.PSA_ERROR_DOES_NOT_EXIST
    assert raised.value.opcode is Opcode.PSA_SIGN_HASH
    assert "PsaErrorDoesNotExist" in str(raised.value)


@pytest.mark.threat("A2-D-2")
@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b"\xef\xbe\xad\xde" + read("ping.resp.bin")[4:], Status.INVALID_HEADER),
        (read("ping.resp.bin")[:6] + b"\x02" + read("ping.resp.bin")[7:], Status.WIRE_PROTOCOL_VERSION_NOT_SUPPORTED),
        (read("ping.resp.bin")[:20], Status.CONNECTION_ERROR),
        (read("ping.resp.bin")[:-1], Status.CONNECTION_ERROR),
        (read("list_opcodes.resp.bin"), Status.INVALID_ENCODING),  # a reply for another opcode
        (
            encode_response(
                Response(ResponseHeader(provider=0, session=0, content_type=0, opcode=1, status=0), b"\xff\xff")
            ),
            Status.DESERIALIZING_BODY_FAILED,
        ),
    ],
    ids=["bad-magic", "bad-version", "short-header", "short-body", "wrong-opcode", "bad-body"],
)
def test_a_reply_the_client_cannot_trust_is_refused(server: ReplayServer, reply: bytes, status: Status) -> None:
    server.reply_to(Opcode.PING, reply)
    with pytest.raises(InvalidResponse) as raised:
        BasicClient().ping()
    assert raised.value.status is status


def test_an_unknown_status_code_reads_as_invalid_encoding(server: ReplayServer) -> None:
    header = encode_header(
        provider=0, session=0, content_type=0, accept_type=0, auth_type=0, body_len=0, auth_len=0, opcode=1, status=999
    )
    server.reply_to(Opcode.PING, header)
    with pytest.raises(ClientError) as raised:
        BasicClient().ping()
    assert raised.value.status is Status.INVALID_ENCODING


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize("entry", FRAMING_CASES, ids=[entry["case"] for entry in FRAMING_CASES])
def test_send_raw_carries_malformed_requests(server: ReplayServer, entry: dict[str, Any]) -> None:
    reply = BasicClient().send_raw(read(entry["file"]))
    assert reply == read(entry["expected_response_file"])


def test_an_absent_service_is_unreachable_with_a_hint(tmp_path: Path) -> None:
    client = BasicClient(endpoint=f"unix:{tmp_path / 'none.sock'}")
    with pytest.raises(ServiceUnreachable, match="PARSEC_SERVICE_ENDPOINT"):
        client.ping()


def test_key_attributes_come_from_list_keys(server: ReplayServer) -> None:
    client = BasicClient(auth=TENANT)
    assert client.key_attributes("tenant-a-key") == ECC_P256
    with pytest.raises(ClientError) as raised:
        client.key_attributes("other")
    assert raised.value.status is Status.PSA_ERROR_DOES_NOT_EXIST


def test_results_are_natives(server: ReplayServer) -> None:
    client = BasicClient(auth=TENANT, provider=ProviderId.MBED_CRYPTO)
    assert client.list_keys() == [ops.KeyInfo(ProviderId.MBED_CRYPTO, "tenant-a-key", ECC_P256)]
    assert client.psa_generate_random(32) == bytes.fromhex(
        entry_named("psa_generate_random.resp.bin")["fields"]["random_bytes_hex"]
    )
    assert client.psa_hash_compute(t.Hash.SHA_256, b"abc") == bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert server.received[-2:] == [read("psa_generate_random.req.bin"), read("psa_hash_compute.req.bin")]


@pytest.mark.threat("A1-D-2", "M-5")
def test_an_early_answer_to_an_oversized_body_still_reaches_the_client(server: ReplayServer) -> None:
    """The service rejects body_len > 1 MiB from the header alone and closes; the client must still read why."""
    response = BasicClient(auth=TENANT).send(ProviderId.MBED_CRYPTO, Opcode.PSA_IMPORT_KEY, b"\x00" * (4 << 20))
    assert response.status is Status.BODY_SIZE_EXCEEDS_LIMIT
    assert response.header.opcode == Opcode.PING  # the form of errors found before the header was trusted
    assert len(server.received[-1]) == 36  # the body was never read
