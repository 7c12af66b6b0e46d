"""ECDSA P-256 SignHash on the real providers: through the service, through the provider object, and directly.

The issue's provider benchmark (speed context: ../shared/reference/providers-on-debian.md §3–4). For SoftHSM2 and
swtpm, in one run and on the same key, it measures the same signature three ways:

* direct — the device library alone: python-pkcs11 `key.sign(digest, mechanism=ECDSA)` with the key object found
  once; tpm2-pytss `load` + `sign` + `flush_context` under the persistent storage key (what one request needs);
* provider — `provider.execute(application, SignHash(...))`: policy check, mapping look-up, session pool or TPM
  lock, the M-4 events, format conversion;
* service — `parsec-tm serve` with that provider, one Unix-socket connection per request (Direct auth), the way
  Parsec's clients do it; the request is encoded once in advance and every response is checked to be Success
  (as `bench_service.py` does), so the figure is the service's, not the client library's;
* client — the same through `BasicClient` (encoding, connecting and decoding per request in Python), for scale.

The TPM provider keeps the last key it used loaded, so a repeated signature skips TPM2_Load; for the TPM a fourth
way, kept — tpm2-pytss `sign` alone, on the key loaded once for the measurement — shows what that is worth, and the
service's rate is also given as a share of it.

Measurements are interleaved in rounds, each round starting with a different way (direct, provider, service;
then provider, service, direct; …), and each rate is the median of its rounds, so the ratios compare figures
taken under the same load on a shared, noisy machine. It prints ops/s and the
ratios to direct, against the issue's goals: the service at 50% of direct on SoftHSM2 and 80% on swtpm. It also
prints the CPU time each signature cost (this process, plus the service's for the ways through it): on a machine
shared with other work a request that crosses two processes waits for the scheduler at each crossing, so the CPU
ratio says what the rates would be on a quiet machine.

    .venv/bin/python bench/bench_providers.py [--seconds 2] [--rounds 5] [--threads 1] [--log-level info]
                                              [--providers pkcs11,tpm]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the real-part starters live with the test fixtures

from bench_service import one_request  # noqa: E402
from pkcs11 import Mechanism, ObjectClass  # noqa: E402
from tpm2_pytss import ESAPI  # noqa: E402
from tpm2_pytss.constants import ESYS_TR  # noqa: E402
from tpm2_pytss.types import TPM2B_DIGEST  # noqa: E402

from refimpl.client import BasicClient, Direct  # noqa: E402
from refimpl.identity import Application, ApplicationIdentity  # noqa: E402
from refimpl.ids import AuthType, Opcode, ProviderId  # noqa: E402
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager  # noqa: E402
from refimpl.operations import GenerateKey, SignHash  # noqa: E402
from refimpl.providers.base import KeyStoreProvider, ProviderSettings, provider_class  # noqa: E402
from refimpl.providers.pkcs11 import Pkcs11Provider  # noqa: E402
from refimpl.providers.tpm import TpmProvider  # noqa: E402
from refimpl.providers.tpm.asym_sign import NULL_TICKET, signature_scheme  # noqa: E402
from refimpl.providers.tpm.common import WrappedKey  # noqa: E402
from refimpl.providers.tpm.context import SRK_HANDLE  # noqa: E402
from refimpl.psa.types import EccFamily, EccKeyPair, Ecdsa, Hash, KeyAttributes, KeyPolicy, UsageFlags  # noqa: E402
from refimpl.wire.codec import encode_operation  # noqa: E402
from refimpl.wire.header import Request, RequestHeader, encode_request  # noqa: E402
from tests.fixtures.real_parts import start_softhsm, start_swtpm  # noqa: E402
from tests.fixtures.service import ServiceOptions, running_services  # noqa: E402

APPLICATION = Application(ApplicationIdentity.of("bench", AuthType.DIRECT))
ECDSA = Ecdsa(Hash.SHA_256)
P256_SIGNING = KeyAttributes(
    EccKeyPair(EccFamily.SECP_R1), 256, KeyPolicy(UsageFlags(sign_hash=True, verify_hash=True), ECDSA)
)
DIGEST = hashlib.sha256(b"bench_providers").digest()
GOALS = {"pkcs11": 0.5, "tpm": 0.8}
"""The issue's goals: the service's rate as a share of the direct rate."""

SignOnce = Callable[[], None]
Way = Callable[[ExitStack], Callable[[], SignOnce]]
"""One way of signing: prepares a measurement (registering any clean-up on the stack), returns a signer factory."""


@dataclass(frozen=True)
class Rate:
    per_second: float
    cpu_us: float
    """CPU time per signature, in µs: this process's, plus the service process's when `service_pid` is given."""


def measure(way: Way, seconds: float, threads: int, service_pid: int | None = None) -> Rate:
    """Signatures per second over `seconds`, each of `threads` threads using a signer of its own."""
    with ExitStack() as stack:
        make_signer = way(stack)
        before = time.process_time() + (process_cpu(service_pid) if service_pid else 0.0)
        count, elapsed = _measure(make_signer, seconds, threads)
        spent = time.process_time() + (process_cpu(service_pid) if service_pid else 0.0) - before
        return Rate(count / elapsed, spent / max(count, 1) * 1e6)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(make_signer: Callable[[], SignOnce], seconds: float, threads: int) -> tuple[int, float]:
    counts = [0] * threads
    signers = [make_signer() for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    deadline = 0.0

    def run(index: int) -> None:
        start.wait()
        sign, count = signers[index], 0
        while time.monotonic() < deadline:
            sign()
            count += 1
        counts[index] = count

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    return sum(counts), time.monotonic() - began


# ----------------------------------------------------------------------------------------------- the three ways


def direct_pkcs11(provider: Pkcs11Provider, key_id: bytes) -> Way:
    """python-pkcs11 alone: a session per thread, the key object found once, CKM_ECDSA over the digest."""

    def make() -> SignOnce:
        session = provider.token.token.open(rw=True)  # the token is logged in: login belongs to the token
        key: Any = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        return lambda: key.sign(DIGEST, mechanism=Mechanism.ECDSA)

    return lambda stack: make


class DirectTpm:
    """tpm2-pytss alone on its own connection, one TPM command at a time (swtpm has no resource manager).

    The service and the measured provider each keep their last key loaded; with swtpm's three transient slots, one
    of which a load under the persistent storage key takes for the storage key, a third client's load finds no room.
    So each direct measurement first has the measured provider (in this process) flush the key it keeps.
    """

    def __init__(self, tcti: str, blob: bytes, provider: TpmProvider) -> None:
        self.provider = provider
        self.key = WrappedKey.from_bytes(blob)
        self.scheme = signature_scheme(ECDSA, signing=True)
        self.lock = threading.Lock()
        self.esapi = ESAPI(tcti)
        self.parent = self.esapi.tr_from_tpmpublic(SRK_HANDLE)

    def close(self) -> None:
        self.esapi.close()

    def make_room(self) -> None:
        with self.provider.context.lock:
            self.provider.context.forget(self.key.key_id)

    def load(self) -> ESYS_TR:
        handle = self.esapi.load(self.parent, self.key.private, self.key.public)
        self.esapi.tr_set_auth(handle, self.key.auth)
        return handle

    def sign(self, handle: ESYS_TR) -> None:
        self.esapi.sign(handle, TPM2B_DIGEST(DIGEST), self.scheme, NULL_TICKET)

    def loading(self, stack: ExitStack) -> Callable[[], SignOnce]:
        """TPM2_Load under the persistent SRK, TPM2_Sign, TPM2_FlushContext: what one request needs."""
        self.make_room()

        def sign() -> None:
            with self.lock:
                handle = self.load()
                self.sign(handle)
                self.esapi.flush_context(handle)

        return lambda: sign

    def kept(self, stack: ExitStack) -> Callable[[], SignOnce]:
        """TPM2_Sign alone, on the key loaded once for the measurement (flushed afterwards)."""
        self.make_room()
        handle = self.load()
        stack.callback(self.esapi.flush_context, handle)

        def sign() -> None:
            with self.lock:
                self.sign(handle)

        return lambda: sign


def through_provider(provider: KeyStoreProvider, key_name: str) -> Way:
    operation = SignHash(key_name, ECDSA, DIGEST)
    return lambda stack: lambda: lambda: provider.execute(APPLICATION, operation)


def through_service(socket_path: Path, provider_id: ProviderId, key_name: str) -> Way:
    """One connection per request with the request encoded once (what a client sends), the reply's status checked."""
    operation = encode_operation(SignHash(key_name, ECDSA, DIGEST))
    header = RequestHeader(provider=provider_id, opcode=Opcode.PSA_SIGN_HASH, auth_type=AuthType.DIRECT)
    request = encode_request(Request(header, operation, APPLICATION.identity.name.encode()))
    path = str(socket_path)

    def sign() -> None:
        status = one_request(path, request)
        if status != 0:
            raise RuntimeError(f"the service answered status {status} to SignHash")

    return lambda stack: lambda: sign


def through_client(endpoint: str, provider_id: ProviderId, key_name: str) -> Way:
    def make() -> SignOnce:
        client = BasicClient(endpoint, auth=Direct(APPLICATION.identity.name), provider=provider_id)

        def sign() -> None:
            client.psa_sign_hash(key_name, DIGEST, ECDSA)

        return sign

    return lambda stack: make


# ------------------------------------------------------------------------------------------------- the set-up


@dataclass(frozen=True)
class Subject:
    """One provider kind, ready to be measured three ways (four for the TPM)."""

    kind: str
    direct: Way
    provider: Way
    service: Way
    client: Way
    service_pid: int
    kept: Way | None = None


@contextmanager
def subjects(kinds: list[str], directory: Path, log_level: str) -> Iterator[list[Subject]]:
    """Start SoftHSM2, swtpm, the providers and one service holding both; a key on each."""
    with ExitStack() as stack:
        softhsm = start_softhsm(directory / "softhsm")
        os.environ["SOFTHSM2_CONF"] = str(softhsm.conf_path)
        tpm = start_swtpm(directory / "swtpm")
        stack.callback(tpm.stop)
        tables = {"pkcs11": softhsm.main.provider_table("pkcs11-provider"), "tpm": tpm.provider_table("tpm-provider")}
        options: dict[str, dict[str, Any]] = {"pkcs11": softhsm.main.options(), "tpm": tpm.options()}

        (directory / "services").mkdir()
        services = stack.enter_context(running_services(directory / "services"))
        service = services(ServiceOptions(log_level=log_level).with_providers(*(tables[kind] for kind in kinds)))
        provider_ids = {"pkcs11": ProviderId.PKCS11, "tpm": ProviderId.TPM}
        found: list[Subject] = []
        for kind in kinds:
            key_name = f"bench-{kind}-p256"  # one key info manager in the service: names are per application
            client = BasicClient(service.endpoint, auth=Direct(APPLICATION.identity.name), provider=provider_ids[kind])
            client.psa_generate_key(key_name, P256_SIGNING)

            kim = SQLiteKeyInfoManager(f"bench-{kind}", directory / f"{kind}.sqlite3")
            stack.callback(kim.close)
            provider_type = {"pkcs11": "Pkcs11", "tpm": "Tpm"}[kind]
            provider = provider_class(provider_type).from_config(
                f"bench-{kind}", options[kind], kim, ProviderSettings()
            )
            stack.callback(provider.close)
            assert isinstance(provider, KeyStoreProvider)
            provider.execute(APPLICATION, GenerateKey(key_name, P256_SIGNING))
            mapping = kim.get(provider.key_identity(APPLICATION, key_name))
            assert mapping is not None
            via_service = through_service(service.socket_path, provider_ids[kind], key_name)
            via_client = through_client(service.endpoint, provider_ids[kind], key_name)
            via_provider = through_provider(provider, key_name)
            if isinstance(provider, Pkcs11Provider):
                direct_way = direct_pkcs11(provider, mapping.key_id)
                found.append(Subject(kind, direct_way, via_provider, via_service, via_client, service.pid))
            else:
                assert isinstance(provider, TpmProvider)
                direct = DirectTpm(tpm.tcti, mapping.key_id, provider)
                stack.callback(direct.close)
                found.append(
                    Subject(kind, direct.loading, via_provider, via_service, via_client, service.pid, direct.kept)
                )
        yield found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per figure; the median is kept")
    parser.add_argument("--threads", type=int, default=1, help="signing threads (direct, provider and clients)")
    parser.add_argument("--log-level", default="info", help="the service's core_settings.log_level (default info)")
    parser.add_argument("--providers", default="pkcs11,tpm", help="which of pkcs11,tpm to measure")
    args = parser.parse_args()
    kinds = [kind for kind in args.providers.split(",") if kind]

    with (
        tempfile.TemporaryDirectory(prefix="bench-providers-") as scratch,
        subjects(kinds, Path(scratch), args.log_level) as measured,
    ):
        print(
            f"ECDSA P-256 SignHash, {args.threads} thread(s), {args.rounds} interleaved rounds of {args.seconds:g} s, "
            f"service log_level = {args.log_level}"
        )
        print(
            f"{'provider':<8} {'direct/s':>9} {'provider/s':>11} {'ratio':>6} {'service/s':>10} {'ratio':>6} "
            f"{'client/s':>9} {'ratio':>6}  goal"
        )
        extra_lines: list[str] = []
        for subject in measured:
            ways = ["direct", "provider", "service", "client"] + (["kept"] if subject.kept is not None else [])
            rates: dict[str, list[Rate]] = {way: [] for way in ways}
            for round_ in range(args.rounds):
                shift = round_ % len(ways)
                for way in ways[shift:] + ways[:shift]:
                    pid = subject.service_pid if way in ("service", "client") else None
                    rates[way].append(measure(getattr(subject, way), args.seconds, args.threads, pid))
            median = {way: statistics.median(rate.per_second for rate in rates[way]) for way in ways}
            cpu = {way: statistics.median(rate.cpu_us for rate in rates[way]) for way in ways}
            direct, provider, service, client = (median[way] for way in ("direct", "provider", "service", "client"))
            goal = GOALS[subject.kind]
            verdict = "met" if service >= goal * direct else "NOT met"
            print(
                f"{subject.kind:<8} {direct:>9.0f} {provider:>11.0f} {provider / direct:>6.2f} "
                f"{service:>10.0f} {service / direct:>6.2f} {client:>9.0f} {client / direct:>6.2f}  "
                f"service >= {goal:.0%} of direct: {verdict}"
            )
            extra_lines.append(
                f"{subject.kind}: CPU per signature: direct {cpu['direct']:.0f} µs, provider {cpu['provider']:.0f} µs, "
                f"service {cpu['service']:.0f} µs, client {cpu['client']:.0f} µs (each with the service's share); "
                f"service at {cpu['direct'] / cpu['service']:.2f} of direct by CPU cost"
            )
            if "kept" in median:
                kept = median["kept"]
                extra_lines.append(
                    f"{subject.kind}: direct with the key kept loaded (TPM2_Sign alone) {kept:.0f}/s; "
                    f"provider {provider / kept:.2f} and service {service / kept:.2f} of that"
                )
        for line in extra_lines:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
