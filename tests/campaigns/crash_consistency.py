"""The crash-consistency campaign: kill -9 the service at random moments while two clients create and destroy keys.

The seed's A6-D-1 (the service's state lost or corrupted) and Parsec's KIM-backed key life cycle: creating a key
writes the key in the provider, then the mapping; destroying removes the mapping, then the key; a crash between
the two steps leaves a half that the next start-up sweep removes. Each cycle starts the service (which sweeps),
lets two clients (two tenants, Direct authentication) create uniquely named ECDSA P-256 keys and destroy some of
them without pause, kills the service with SIGKILL after a random delay, and then, on the next start, checks
every key the clients know of:

* every key whose creation was acknowledged, and whose destruction was not asked for, is listed and signs (the
  signature verifies against its exported public key): otherwise an *acknowledged key lost*;
* no key whose destruction was acknowledged is listed: otherwise a *destroyed key back*;
* the one key per client whose request was in flight at the kill (a create or a destroy with no answer) is
  either whole — listed, and it signs — or absent, and then its name can be created again (it is, and the
  campaign carries on with it): otherwise an *in-flight key broken*;
* nothing else is listed.

Every few cycles, and after the last, the service is stopped cleanly and audited: the provider and the key info
manager are compared with the service's own code but without a sweep — no key the provider stores without a
mapping (*orphan*), no mapping whose key is gone (*dangling*) — and nothing else is left: no temporary key file
in the software key store, no transient object (nor persistent one besides the storage key) in the TPM. The
sweeps' log lines say how many halves the kills actually left behind.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tpm2_pytss import ESAPI
from tpm2_pytss.constants import TPM2_CAP, TPM2_HC

from refimpl.client import BasicClient, Direct
from refimpl.client.basic_client import ClientError, InvalidResponse, ServiceUnreachable
from refimpl.config import load_config
from refimpl.ids import ProviderId, Status
from refimpl.providers.base import KeyStoreProvider
from refimpl.providers.tpm.context import SRK_HANDLE
from refimpl.service import build_pipeline
from tests.campaigns.load import ECDSA, SIGNING_KEY, verify_locally
from tests.fixtures.real_parts import Swtpm
from tests.fixtures.service import ServiceHandle

TENANTS = ("crash-a", "crash-b")
LIVE_KEYS_TARGET = 6
"""A client destroys rather than creates once it holds this many keys, so each check signs a bounded set."""
SWEEP_LINE = re.compile(r"start-up sweep: dropped (\d+) dangling mappings, destroyed (\d+) orphans")
DIGEST = hashlib.sha256(b"crash consistency").digest()
WORKER_GRACE = 2.0
"""Seconds a worker process may take to notice that its supervisor was killed and exit."""


class NoAnswer(Exception):
    """The request got no answer: the service died under it."""


class NotSent(NoAnswer):
    """The request could not be sent: the service was not there to connect to."""


@dataclass
class Tenant:
    """What one client knows of its keys: acknowledged, destroyed, and the one request in flight at the kill."""

    name: str
    live: set[str] = field(default_factory=set)
    destroyed: set[str] = field(default_factory=set)
    in_flight: tuple[str, str] | None = None
    """(operation, key name) of the request that got no answer."""
    counter: int = 0
    created: int = 0
    destroys: int = 0


@dataclass
class CrashReport:
    """The campaign's figures and every violation found, with the cycle it was found in."""

    provider: str
    kills: int = 0
    seconds: float = 0.0
    keys_created: int = 0
    keys_destroyed: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    """In-flight requests at the kills, by outcome: "create whole", "create absent", "destroy whole", …"""
    swept_mappings: int = 0
    swept_orphans: int = 0
    audits: int = 0
    orphans: int | None = 0
    """Keys the provider stores that no mapping names, summed over the audits (None: it cannot enumerate them)."""
    dangling: int = 0
    temporaries_left: int = 0
    """Temporary files (key material written but never renamed) in the software key store at the audits."""
    surviving_workers: int = 0
    """Worker processes (`--processes N`) still running after their supervisor was killed."""
    tpm_objects_left: int = 0
    """Transient objects, and persistent ones other than the storage key, in the TPM after clean stops."""
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        orphans = "not enumerable (keys live in their mappings)" if self.orphans is None else str(self.orphans)
        in_flight = ", ".join(f"{outcome} {count}" for outcome, count in sorted(self.in_flight.items())) or "none"
        return (
            f"{self.provider}: {self.kills} kills in {self.seconds:.0f} s; {self.keys_created} keys created and "
            f"{self.keys_destroyed} destroyed with an answer; in flight at the kills: {in_flight}; "
            f"the start-up sweeps dropped {self.swept_mappings} dangling mappings and destroyed "
            f"{self.swept_orphans} orphans; {self.audits} audits after a sweep and a clean stop found orphans "
            f"{orphans}, dangling mappings {self.dangling}"
            + (f", objects left in the TPM {self.tpm_objects_left}" if self.provider == "tpm" else "")
            + (f", temporary key files left {self.temporaries_left}" if self.provider == "software" else "")
            + (f", worker processes outliving the kill {self.surviving_workers}" if self.surviving_workers else "")
            + "; "
            f"{len(self.violations)} violations"
        )


def _call(action: Callable[[], object]) -> object:
    """Run one client call; a dead service is NoAnswer, an answered failure status is left to the caller."""
    try:
        return action()
    except InvalidResponse as error:
        if error.status is Status.CONNECTION_ERROR:
            raise NoAnswer(str(error)) from error
        raise
    except ServiceUnreachable as error:
        raise NotSent(str(error)) from error
    except OSError as error:
        raise NoAnswer(str(error)) from error


def _signs(client: BasicClient, name: str) -> bool:
    """Whether the key signs, with a signature its exported public key verifies."""
    try:
        signature = client.psa_sign_hash(name, DIGEST, ECDSA)
        public_key = client.psa_export_public_key(name)
    except ClientError:
        return False
    return verify_locally(public_key, DIGEST, signature)


class CrashCampaign:
    """One provider's campaign: the service, the two tenants' knowledge, the random source, the report."""

    def __init__(
        self, service: ServiceHandle, provider_name: str, provider: ProviderId, seed: int, tpm: Swtpm | None = None
    ) -> None:
        self.service = service
        self.tpm = tpm
        self.provider = provider
        self.rng = random.Random(seed)
        self.tenants = [Tenant(name) for name in TENANTS]
        self.report = CrashReport(provider_name)
        self.errors_lock = threading.Lock()

    def client(self, tenant: Tenant) -> BasicClient:
        return BasicClient(self.service.endpoint, auth=Direct(tenant.name), timeout=30.0, provider=self.provider)

    def violation(self, cycle: int, text: str) -> None:
        with self.errors_lock:
            self.report.violations.append(f"kill {cycle}: {text}")

    # -- the clients, while the service lives -----------------------------------------------------------------

    def work(self, tenant: Tenant, stop: threading.Event, cycle: int, seed: int) -> None:
        """Create and destroy keys until the service dies under a request (or `stop` is set)."""
        rng = random.Random(seed)
        client = self.client(tenant)
        while not stop.is_set():
            destroy = tenant.live and (len(tenant.live) >= LIVE_KEYS_TARGET or rng.random() < 0.4)
            if destroy:
                name = rng.choice(sorted(tenant.live))
                operation = "destroy"
            else:
                tenant.counter += 1
                name = f"k{tenant.counter}"
                operation = "create"
            tenant.in_flight = (operation, name)
            try:
                if operation == "create":
                    _call(functools.partial(client.psa_generate_key, name, SIGNING_KEY))
                else:
                    _call(functools.partial(client.psa_destroy_key, name))
            except NotSent:
                tenant.in_flight = None  # the service was already gone: the request never left this process
                return
            except NoAnswer:
                return
            except ClientError as error:
                tenant.in_flight = None
                self.violation(cycle, f"{tenant.name}: {operation} {name} answered {error}")
                return
            tenant.in_flight = None
            if operation == "create":
                tenant.live.add(name)
                tenant.created += 1
            else:
                tenant.live.discard(name)
                tenant.destroyed.add(name)
                tenant.destroys += 1

    # -- after the restart ----------------------------------------------------------------------------------

    def check(self, tenant: Tenant, cycle: int) -> None:
        """Every key of `tenant` as the campaign's rules say; an absent in-flight key is created again."""
        client = self.client(tenant)
        listed = {key.name for key in client.list_keys() if key.provider_id == self.provider}
        for name in sorted(tenant.live - {tenant.in_flight[1] if tenant.in_flight else ""}):
            if name not in listed:
                self.violation(cycle, f"{tenant.name}: acknowledged key {name} lost")
                tenant.live.discard(name)
            elif not _signs(client, name):
                self.violation(cycle, f"{tenant.name}: acknowledged key {name} listed but does not sign")
        for name in sorted(tenant.destroyed & listed):
            self.violation(cycle, f"{tenant.name}: destroyed key {name} is back")
        known = tenant.live | tenant.destroyed | ({tenant.in_flight[1]} if tenant.in_flight else set())
        for name in sorted(listed - known):
            self.violation(cycle, f"{tenant.name}: unknown key {name} listed")
        if tenant.in_flight is not None:
            operation, name = tenant.in_flight
            tenant.in_flight = None
            if name in listed:
                if _signs(client, name):
                    self.report.in_flight[f"{operation} whole"] += 1
                    tenant.live.add(name)
                else:
                    self.violation(
                        cycle, f"{tenant.name}: in-flight {operation} of {name} left a key that does not sign"
                    )
                    tenant.live.discard(name)
                return
            self.report.in_flight[f"{operation} absent"] += 1
            tenant.live.discard(name)
            try:
                client.psa_generate_key(name, SIGNING_KEY)
            except ClientError as error:
                self.violation(
                    cycle,
                    f"{tenant.name}: in-flight {operation} of {name} is absent but its name "
                    f"cannot be created again: {error}",
                )
                return
            tenant.live.add(name)
            tenant.destroyed.discard(name)
            tenant.created += 1

    # -- the campaign -----------------------------------------------------------------------------------------

    def cycle(self, number: int, max_delay: float) -> None:
        """Clients at work, a kill -9 after a random delay, a restart (with its sweep), the checks."""
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.work, args=(tenant, stop, number, self.rng.getrandbits(32)), daemon=True)
            for tenant in self.tenants
        ]
        for thread in threads:
            thread.start()
        time.sleep(self.rng.uniform(0.0, max_delay))
        workers = child_processes(self.service.pid)
        self.service.kill9()
        stop.set()
        survivors = outliving(workers, WORKER_GRACE)
        if survivors:  # a worker serving on after its supervisor died is a service nobody can stop or restart
            self.report.surviving_workers += len(survivors)
            self.violation(number, f"worker processes {survivors} still run after the supervisor was killed")
            for pid in survivors:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=60)
        self.report.kills += 1
        self.service.start()
        for tenant in self.tenants:
            self.check(tenant, number)

    def run(
        self, kills: int, max_delay: float, audit_every: int = 25, progress: Callable[[int], None] | None = None
    ) -> CrashReport:
        """`kills` cycles, an audit every `audit_every` kills and after the last; the service is left stopped."""
        started = time.perf_counter()
        for number in range(1, kills + 1):
            self.cycle(number, max_delay)
            if number < kills and number % audit_every == 0:
                self.audit(number)
                self.service.start()
            if progress is not None:
                progress(1)
        self.audit(kills)
        self.report.seconds = time.perf_counter() - started
        self.report.keys_created = sum(tenant.created for tenant in self.tenants)
        self.report.keys_destroyed = sum(tenant.destroys for tenant in self.tenants)
        for match in SWEEP_LINE.finditer(self.service.log_text()):
            self.report.swept_mappings += int(match.group(1))
            self.report.swept_orphans += int(match.group(2))
        return self.report

    def audit(self, cycle: int) -> None:
        """Stop the service cleanly and compare what the provider holds with the mappings, without a sweep."""
        self.service.stop()
        self.report.audits += 1
        if self.tpm is not None:  # before anything opens the TPM: a TPM provider's start flushes transients
            with self.tpm.esapi() as esapi:
                transient = _handles(esapi, TPM2_HC.TRANSIENT_FIRST)
                persistent = _handles(esapi, TPM2_HC.PERSISTENT_FIRST)
            stray = len(transient) + len(set(persistent) - {SRK_HANDLE})
            self.report.tpm_objects_left += stray
            if stray:
                self.violation(
                    cycle,
                    f"the TPM holds {len(transient)} transient objects and persistent handles "
                    f"{[hex(handle) for handle in persistent]} after a clean stop",
                )
        config = load_config(self.service.config_path)
        for provider_config in config.providers:  # before the pipeline below opens (and so tidies) the key stores
            if provider_config.provider_type == "MbedCrypto" and "key_store_path" in provider_config.options:
                left = sorted(Path(provider_config.options["key_store_path"]).glob(".*.tmp"))
                self.report.temporaries_left += len(left)
                if left:
                    self.violation(cycle, f"{len(left)} temporary key store files left: {[p.name for p in left[:3]]}")
        service_logger = logging.getLogger("refimpl")
        level = service_logger.level
        service_logger.setLevel(logging.ERROR)  # the service's start-up warnings are its log's, not this report's
        try:
            pipeline = build_pipeline(config, allow_activation=False, sweep=False)
        finally:
            service_logger.setLevel(level)
        try:
            for provider in pipeline.providers:
                if not isinstance(provider, KeyStoreProvider):
                    continue
                mappings = list(provider.key_info_manager.keys(provider.name))
                dangling = sum(1 for _, mapping in mappings if not provider.key_exists(mapping.key_id))
                stored = provider.stored_key_ids()
                orphans = None if stored is None else len(set(stored) - {mapping.key_id for _, mapping in mappings})
                self.report.dangling += dangling
                if orphans is None:
                    self.report.orphans = None
                elif self.report.orphans is not None:
                    self.report.orphans += orphans
                if orphans:
                    self.violation(cycle, f"{orphans} orphan keys in {provider.name} after the start-up sweep")
                if dangling:
                    self.violation(cycle, f"{dangling} dangling mappings of {provider.name} after the start-up sweep")
        finally:
            pipeline.stop()


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the worker processes of `parsec-tm serve --processes N`)."""
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def outliving(pids: list[int], grace: float) -> list[int]:
    """Those of `pids` still alive (and not zombies) after `grace` seconds."""
    deadline = time.monotonic() + grace
    alive = pids
    while alive:
        alive = [pid for pid in alive if _running(pid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return alive


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _handles(esapi: ESAPI, first: int) -> list[int]:
    """The TPM's handles of one range (transient objects, persistent objects)."""
    _, data = esapi.get_capability(TPM2_CAP.HANDLES, first, 64)
    return [int(handle) for handle in data.data.handles]
