"""Availability under hostile local clients (the seed's U-0): a new client's Ping latency while 1,000 connections
sit idle, or stall half-way through a header, and Ping throughput beside it.

In Parsec a worker thread reads each request, so N such connections hold the pool for about
N × `timeout` / `thread_pool_size` (throughput-ceilings.md: 200 idle connections → 20 s for Parsec 1.1.0, 10.2 s
for this service before its connection loop). Here the hostile connections are held open by a separate process
for the whole measurement: each one the service closes (at its `timeout` deadline, answering ConnectionError) is
opened again at once, so there are always `--connections` of them. A prober then sends `--pings` Pings, one
connection each, a few ms apart, and the p50/p99/max latency is printed next to the same prober on a quiet
service. Goal: p99 under 100 ms. Then 4 client threads measure Ping throughput (one connection per request, as
Parsec's clients) and its ratio to Parsec 1.1.0's 3,511–3,703 ops/s (goal 1.5x), for each `--processes` value.

Loopback Unix sockets only; every loop is bounded by a count or a deadline. Figures are noisy on a shared
machine; the load average at start is printed.

    .venv/bin/python bench/bench_availability.py [--connections 1000] [--pings 200] [--seconds 3]
                                                 [--processes 1,2] [--workers 4] [--timeout-ms 200]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from bench_service import measure, one_request, prepared_requests

PARSEC_PING = (3511, 3703)
"""Parsec 1.1.0's Ping ops/s with idle_listener_sleep_duration = 1, 4 client threads (throughput-ceilings.md)."""
THROUGHPUT_GOAL = 1.5
LATENCY_GOAL_MS = 100.0
SETTLE = 1.0
"""Seconds left to the service after an attack, so the next scenario starts with no hostile connection counted."""
PING_GAP = 0.005
"""Seconds between two probe Pings, so the probe spans several `timeout` cycles of the hostile connections."""


@dataclass(frozen=True)
class Probe:
    latencies_ms: list[float]
    failures: int
    reopened: int
    """Hostile connections the service closed (at their deadline) and the attacker opened again, during the probe."""

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def config_text(directory: Path, socket_path: Path, workers: int, timeout_ms: int, connections: int) -> str:
    return f"""
[core_settings]
allow_root = true
thread_pool_size = {workers}
log_level = "info"

[listener]
listener_type = "DomainSocket"
timeout = {timeout_ms}
socket_path = "{socket_path}"
max_connections = {connections + 1024}
max_connections_per_uid = {connections + 512}

[authenticator]
auth_type = "Direct"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "{directory / "kim.sqlite3"}"

[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
key_store_path = "{directory / "keys"}"
"""


@contextmanager
def running_service(workers: int, timeout_ms: int, connections: int, processes: int) -> Iterator[tuple[Path, Path]]:
    """`parsec-tm serve` in a private directory; yields its socket path and its log file."""
    directory = Path(tempfile.mkdtemp(prefix="ptm-avail-"))
    socket_path = directory / "parsec.sock"
    config = directory / "config.toml"
    config.write_text(config_text(directory, socket_path, workers, timeout_ms, connections))
    log_path = directory / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "parsec_tm.cli.serve", "--config", str(config), "--processes", str(processes)],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ping = prepared_requests()["Ping"]
        for _ in range(1200):  # up to a minute
            try:
                one_request(str(socket_path), ping)
                break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(f"the service did not start:\n{log_path.read_text()}") from None
                time.sleep(0.05)
        yield socket_path, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


def hold_connections(path: str, count: int, payload: bytes, control: Connection) -> None:
    """The attacker (in its own process): keep `count` connections open, each having sent `payload`; reopen any
    the service closes. Reports "ready" once all are open, then the number reopened when told to stop."""
    raise_descriptor_limit(count + 256)
    poller = select.epoll()
    held: dict[int, socket.socket] = {}

    def open_one() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            if payload:
                sock.sendall(payload)
        except OSError:
            sock.close()
            return
        held[sock.fileno()] = sock
        poller.register(sock.fileno(), select.EPOLLIN)

    for _ in range(count):
        open_one()
    control.send(len(held))
    reopened = 0
    while not control.poll(0):
        for fd, _ in poller.poll(0.02):
            sock = held.pop(fd)
            poller.unregister(fd)
            sock.close()
            reopened += 1
        for _ in range(count - len(held)):
            open_one()
    control.recv()
    control.send(reopened)
    for sock in held.values():
        sock.close()


def probe(path: Path, pings: int) -> tuple[list[float], int]:
    """`pings` Pings, one connection each, PING_GAP apart: latencies (ms) and failures."""
    request = prepared_requests()["Ping"]
    latencies, failures = [], 0
    for _ in range(pings):
        began = time.perf_counter()
        try:
            status = one_request(str(path), request)
        except OSError:
            status = -1
        latencies.append((time.perf_counter() - began) * 1000)
        failures += status != 0
        time.sleep(PING_GAP)
    return latencies, failures


def probe_under_attack(path: Path, connections: int, payload: bytes, pings: int) -> tuple[Probe, int]:
    """The probe while an attacker process holds `connections` hostile connections; also how many it held."""
    ours, theirs = multiprocessing.Pipe()
    attacker = multiprocessing.get_context("fork").Process(
        target=hold_connections, args=(str(path), connections, payload, theirs), daemon=True
    )
    attacker.start()
    if not ours.poll(120):
        attacker.kill()
        raise SystemExit("the attacker could not open its connections within 2 minutes")
    held = int(ours.recv())
    latencies, failures = probe(path, pings)
    ours.send("stop")
    reopened = int(ours.recv()) if ours.poll(60) else -1
    attacker.join(timeout=60)
    time.sleep(SETTLE)  # the service answers and counts out the attacker's last connections before the next run
    return Probe(latencies, failures, reopened), held


def raise_descriptor_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000, help="hostile connections held open (default 1000)")
    parser.add_argument("--pings", type=int, default=200, help="probe Pings per scenario (default 200)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds of throughput (default 3)")
    parser.add_argument("--processes", default="1,2", help="`serve --processes` values, comma-separated (default 1,2)")
    parser.add_argument("--workers", type=int, default=4, help="the service's thread_pool_size (default 4)")
    parser.add_argument("--timeout-ms", type=int, default=200, help="listener timeout in ms (default 200, Parsec's)")
    args = parser.parse_args()
    raise_descriptor_limit(args.connections + 1024)
    header = prepared_requests()["Ping"][:18]  # half-way through the 36-byte header
    print(
        f"parsec-tm serve, software provider, Direct auth, thread_pool_size {args.workers}, listener timeout "
        f"{args.timeout_ms} ms, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    misses = 0
    for processes in (int(value) for value in args.processes.split(",")):
        label = f"{processes} process{'es' if processes > 1 else ''}"
        with running_service(args.workers, args.timeout_ms, args.connections, processes) as (path, log_path):
            quiet, quiet_failures = probe(path, args.pings)
            rows = [("no hostile connections", Probe(quiet, quiet_failures, 0), 0)]
            for name, payload in (("idle", b""), ("stalled half-way through a header", header)):
                result, held = probe_under_attack(path, args.connections, payload, args.pings)
                rows.append((f"{held:,} {name}", result, held))
            print(f"A new client's Ping, {args.pings} Pings each ({label}):")
            for name, result, held in rows:
                p99 = result.percentile(0.99)
                verdict = (
                    ""
                    if not held
                    else f"   goal p99 < {LATENCY_GOAL_MS:.0f} ms: "
                    + ("meets" if p99 < LATENCY_GOAL_MS and held >= args.connections else "misses")
                )
                misses += verdict.endswith("misses") or result.failures > 0
                print(
                    f"  {name:<44} p50 {result.percentile(0.5):7.2f} ms   p99 {p99:7.2f} ms   "
                    f"max {max(result.latencies_ms):7.2f} ms   failures {result.failures}   "
                    f"reopened {result.reopened:,}{verdict}"
                )
            figures = measure(path, prepared_requests()["Ping"], 4, args.seconds, warmup=0.5)
            low, high = (figures.rate / reference for reference in PARSEC_PING)
            verdict = "meets" if low >= THROUGHPUT_GOAL else "misses"
            misses += verdict == "misses" or figures.failures > 0
            print(
                f"Ping throughput ({label}, 4 client threads, one connection per request): {figures.rate:,.0f} ops/s"
                f"   p50 {figures.percentile(0.5):.2f} ms   p99 {figures.percentile(0.99):.2f} ms   failures "
                f"{figures.failures}\n  ratio to Parsec 1.1.0 (3,511–3,703 ops/s, reference figures, not this run): "
                f"{high:.2f}x–{low:.2f}x   goal {THROUGHPUT_GOAL}x: {verdict}"
            )
            refusals = [line for line in log_path.read_text(errors="replace").splitlines() if "refusing" in line]
            print(f"  cap refusals logged: {len(refusals)}", *refusals[:3], sep="\n    ")
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
