"""The load campaign: many clients at once, each sending a mix of requests, against a running service.

The seed's A1-D-2 (overload) and M-0 (a bounded pool of workers): under 64 concurrent clients the service answers
every request, correctly. Each client is a thread with its own `BasicClient` and its own application name (Direct
authentication), so its keys are its own. It creates a signing key, then sends a seeded random mix — Ping,
ListKeys, ListOpcodes, SignHash (the signature checked here against the exported public key), VerifyHash,
ExportPublicKey, GenerateRandom, and the creation and destruction of a second key — and destroys its key at the
end: exactly `requests` requests per client, each timed. An error is any exception or a wrong answer (a
signature that does not verify, a key missing from ListKeys, random bytes of the wrong length).
"""

from __future__ import annotations

import hashlib
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from refimpl.client import BasicClient, Direct
from refimpl.ids import ProviderId
from refimpl.psa import types as t

Result = TypeVar("Result")
ECDSA = t.Ecdsa(t.Hash.SHA_256)
SIGNING_KEY = t.KeyAttributes(
    t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
MIX: tuple[tuple[str, int], ...] = (
    ("ping", 15),
    ("list-keys", 10),
    ("list-opcodes", 5),
    ("sign", 25),
    ("verify", 15),
    ("export-public-key", 10),
    ("generate-random", 12),
    ("create-destroy", 2),
)
"""Request kinds and their weights; create-destroy is two requests (key creation on a SoftHSM2 token costs a
hundred times a signature, so more of it would measure the token's file writes, not the service)."""


@dataclass
class LoadReport:
    """Every request's latency by kind, and every error with the client and request it happened on."""

    provider: str
    clients: int
    requests_per_client: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    def percentile(self, fraction: float, kind: str | None = None) -> float:
        values = sorted(self.latencies[kind] if kind else [v for vs in self.latencies.values() for v in vs])
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        return (
            f"{self.provider}: {self.clients} clients × {self.requests_per_client:,} requests = {self.requests:,} "
            f"in {self.seconds:.1f} s ({rate:,.0f}/s), {len(self.errors)} errors; latency p50 "
            f"{self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms"
        )

    def by_kind(self) -> list[str]:
        return [
            f"{kind:<18} {len(values):>7,}  p50 {statistics.median(values) * 1000:7.1f} ms  "
            f"p99 {self.percentile(0.99, kind) * 1000:7.1f} ms"
            for kind, values in sorted(self.latencies.items())
        ]


def verify_locally(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    half = len(signature) // 2
    der = encode_dss_signature(int.from_bytes(signature[:half]), int.from_bytes(signature[half:]))
    try:
        key.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


class LoadClient:
    """One client's session: its key, its random mix, its latencies and errors (merged by `run_load`)."""

    def __init__(self, endpoint: str, provider: ProviderId, name: str, requests: int, seed: int) -> None:
        self.client = BasicClient(endpoint, auth=Direct(name), timeout=120.0, provider=provider)
        self.provider = provider
        self.name = name
        self.requests = requests
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.sent = 0
        self.public_key = b""
        self.signature = (b"", b"")

    def timed(self, kind: str, action: Callable[[], Result]) -> Result:
        started = time.perf_counter()
        try:
            result = action()
        finally:
            self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
            self.sent += 1
        return result

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.errors.append(f"{self.name} request {self.sent}: {what}")

    def run(self) -> None:
        client = self.client
        try:
            self.timed("create-key", lambda: client.psa_generate_key("load-key", SIGNING_KEY))
            self.public_key = self.timed("export-public-key", lambda: client.psa_export_public_key("load-key"))
            kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
            while self.sent < self.requests - 1:
                kind = self.rng.choices(kinds, weights)[0]
                if kind == "create-destroy" and self.sent > self.requests - 3:
                    kind = "ping"
                self.one(kind)
            self.timed("destroy-key", lambda: client.psa_destroy_key("load-key"))
        except Exception as error:  # every failure is an error of the campaign, with what raised it
            self.errors.append(f"{self.name} request {self.sent}: {type(error).__name__}: {error}")

    def one(self, kind: str) -> None:
        client = self.client
        if kind == "ping":
            self.check(self.timed(kind, client.ping) == (1, 0), "Ping is not 1.0")
        elif kind == "list-keys":
            keys = self.timed(kind, client.list_keys)
            self.check("load-key" in [key.name for key in keys], "own key not listed")
        elif kind == "list-opcodes":
            opcodes = self.timed(kind, lambda: client.list_opcodes(self.provider))
            self.check(len(opcodes) > 0, "no opcodes listed")
        elif kind == "sign":
            digest = hashlib.sha256(self.rng.randbytes(16)).digest()
            signature = self.timed(kind, lambda: client.psa_sign_hash("load-key", digest, ECDSA))
            self.check(verify_locally(self.public_key, digest, signature), "a signature does not verify")
            self.signature = (digest, signature)
        elif kind == "verify":
            digest, signature = self.signature
            if not signature:
                self.one("sign")
                return
            self.timed(kind, lambda: client.psa_verify_hash("load-key", digest, ECDSA, signature))
        elif kind == "export-public-key":
            exported = self.timed(kind, lambda: client.psa_export_public_key("load-key"))
            self.check(exported == self.public_key, "the public key changed")
        elif kind == "generate-random":
            size = self.rng.choice((1, 16, 32, 64))
            random_bytes = self.timed(kind, lambda: client.psa_generate_random(size))
            self.check(len(random_bytes) == size, "random bytes of wrong size")
        elif kind == "create-destroy":
            self.timed("create-key", lambda: client.psa_generate_key("load-spare", SIGNING_KEY))
            self.timed("destroy-key", lambda: client.psa_destroy_key("load-spare"))


def run_load(
    endpoint: str, provider_name: str, provider: ProviderId, clients: int, requests: int, seed: int
) -> LoadReport:
    """`clients` threads × `requests` requests each against the service at `endpoint`, all started together."""
    sessions = [
        LoadClient(endpoint, provider, f"load-{seed}-{index}", requests, seed * 1_000 + index)
        for index in range(clients)
    ]
    start = threading.Barrier(clients + 1)

    def work(session: LoadClient) -> None:
        start.wait()
        session.run()

    threads = [threading.Thread(target=work, args=(session,), daemon=True) for session in sessions]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    report = LoadReport(provider_name, clients, requests, seconds=time.perf_counter() - started)
    for session in sessions:
        for kind, values in session.latencies.items():
            report.latencies.setdefault(kind, []).extend(values)
        report.errors += session.errors
        if session.sent != requests and not session.errors:
            report.errors.append(f"{session.name} sent {session.sent} requests, not {requests}")
    return report


def status_counts(report: LoadReport) -> Counter[str]:
    """Errors by their first words (the exception type or what was wrong), for a short printout."""
    return Counter(error.split(": ", 1)[1].split(":")[0] if ": " in error else error for error in report.errors)
