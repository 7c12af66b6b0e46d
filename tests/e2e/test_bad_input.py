"""Bad input over a real socket: each malformed request gets Parsec's status, the service keeps serving, nothing lost.

The seed's threats A1-D-2 (crash/overload) and A1-E-1 (a malformed request), mitigations M-0 and M-5. Before the
barrage, tenants create keys; after it, every key is still listed and still signs, and Ping still answers. The
golden malformed requests are replayed in test_golden_vectors.py; here the inputs are generated.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refimpl.ids import Opcode, Status
from refimpl.psa import types as t
from tests.e2e import parsec_raw_client as raw
from tests.fixtures.service import ServiceFactory, ServiceHandle, ServiceOptions

pytestmark = pytest.mark.e2e

ECDSA = t.Ecdsa(t.Hash.SHA_256)
P256 = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
DIGEST = hashlib.sha256(b"bad input").digest()
KNOWN_STATUSES = {int(status) for status in Status}
KNOWN_OPCODES = {int(opcode) for opcode in Opcode}
MAGIC_BYTES = struct.pack("<I", raw.MAGIC)
VALID_SIGN = raw.request(raw.MBED_CRYPTO, raw.SIGN_HASH, raw.sign_hash("k0", DIGEST), raw.DIRECT, b"tenant-0")


@pytest.fixture(scope="module")
def service(module_service_factory: ServiceFactory) -> ServiceHandle:
    service = module_service_factory(ServiceOptions(timeout_ms=200, thread_pool_size=4, body_len_limit=4096))
    for tenant in range(3):
        service.client(f"tenant-{tenant}").psa_generate_key(f"k{tenant}", P256)
    return service


def nothing_lost(service: ServiceHandle) -> None:
    """Every tenant's key is listed and signs; the service answers Ping."""
    assert service.client().ping() == (1, 0)
    for tenant in range(3):
        client = service.client(f"tenant-{tenant}")
        assert [key.name for key in client.list_keys()] == [f"k{tenant}"]
        client.psa_verify_hash(f"k{tenant}", DIGEST, ECDSA, client.psa_sign_hash(f"k{tenant}", DIGEST, ECDSA))


def reply_to(service: ServiceHandle, data: bytes) -> tuple[dict[str, int], bytes]:
    """Send `data`, half-close, and parse the one well-formed response the service must send back."""
    try:
        reply = raw.exchange(str(service.socket_path), data, shutdown_write=True)
    except BrokenPipeError:  # the service answered and closed before reading everything we sent
        reply = raw.exchange(str(service.socket_path), data[:36], shutdown_write=True)
    return raw.parse(reply)


@pytest.mark.threat("A1-E-1", "A1-D-2", "M-5")
@settings(max_examples=120, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=300).filter(lambda data: data[:4] != MAGIC_BYTES))
def test_garbage_is_invalid_header(service: ServiceHandle, garbage: bytes) -> None:
    """A wrong magic number is InvalidHeader; a stream that ends before 4 bytes is ConnectionError."""
    header, body = reply_to(service, garbage)
    expected = 17 if len(garbage) >= 4 else 15
    assert (header["status"], header["opcode"], header["provider"], body) == (expected, raw.PING, 0, b"")


@pytest.mark.threat("A1-E-1", "A1-D-2", "M-5")
@settings(max_examples=150, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, len(VALID_SIGN) - 1), st.integers(1, 255)), min_size=1, max_size=4),
    cut=st.one_of(st.none(), st.integers(0, len(VALID_SIGN))),
)
def test_mutated_requests_get_a_well_formed_parsec_status(
    service: ServiceHandle, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(VALID_SIGN)
    for position, mask in flips:
        data[position] ^= mask
    header, body = reply_to(service, bytes(data[:cut]))
    assert header["status"] in KNOWN_STATUSES
    assert header["opcode"] in KNOWN_OPCODES
    if header["status"] != 0:
        assert body == b""  # M-1: a failure carries the status only


@pytest.mark.threat("A1-D-2", "M-0")
def test_limits_and_slow_clients(service: ServiceHandle) -> None:
    # body_len above body_len_limit: answered before the body is read.
    header, _ = reply_to(service, raw.request(raw.CORE, raw.PING, b"\0" * 5000))
    assert header["status"] == 20
    # Clients that connect and say nothing, or stop half-way, hold a worker only until the read timeout.
    silent = [socket.socket(socket.AF_UNIX) for _ in range(8)]
    for sock in silent:
        sock.connect(str(service.socket_path))
    silent[0].sendall(VALID_SIGN[:40])
    answers: list[int] = []
    workers = [threading.Thread(target=lambda: answers.append(service.client().ping()[0])) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert answers == [1, 1, 1, 1]
    for sock in silent:
        sock.settimeout(30)
        reply = sock.recv(4096)
        assert reply == b"" or raw.parse(reply)[0]["status"] == 15  # ConnectionError, or closed after it
        sock.close()
    # Connections closed at once are simply dropped.
    for _ in range(20):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(service.socket_path))


@pytest.mark.threat("A1-D-2", "M-0", "M-5")
def test_a_storm_of_bad_and_good_requests_loses_nothing(service: ServiceHandle) -> None:
    failures: list[str] = []

    def good(tenant: int) -> None:
        client = service.client(f"tenant-{tenant}")
        for _ in range(15):
            signature = client.psa_sign_hash(f"k{tenant}", DIGEST, ECDSA)
            client.psa_verify_hash(f"k{tenant}", DIGEST, ECDSA, signature)

    def bad(seed: int) -> None:
        for index in range(30):
            data = bytes((seed * 31 + index * 7 + i) % 256 for i in range(40 + index))
            header, _ = reply_to(service, data)
            if header["status"] != 17:
                failures.append(f"garbage got {header['status']}")

    threads = [threading.Thread(target=good, args=(tenant,)) for tenant in range(3)]
    threads += [threading.Thread(target=bad, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    nothing_lost(service)


def test_nothing_was_lost(service: ServiceHandle) -> None:
    """After the tests above (those this session ran on this module's service), keys and service are intact."""
    nothing_lost(service)
    assert "Traceback" not in service.log_text()


@pytest.mark.threat("A1-D-2", "M-0")
def test_a_client_that_never_reads_its_response_frees_the_worker(service_factory: ServiceFactory) -> None:
    """A 1 MiB response does not fit the socket buffer: the write times out after `listener.timeout`."""
    service = service_factory(ServiceOptions(thread_pool_size=1, timeout_ms=200))
    hog = socket.socket(socket.AF_UNIX)
    hog.connect(str(service.socket_path))
    hog.sendall(raw.request(raw.MBED_CRYPTO, raw.GENERATE_RANDOM, raw.field_varint(1, 1 << 20)))
    try:
        assert service.client().ping() == (1, 0)  # served once the only worker gives up on the hog
        for _ in range(200):  # the connection loop gives up on the hog after listener.timeout
            if "failed to write the response" in service.log_text():
                break
            time.sleep(0.05)
    finally:
        hog.close()
    log = service.log_text()
    assert "failed to write the response" in log
    assert "response sent back: app=none opcode=PsaGenerateRandom" not in log  # logged only once written
