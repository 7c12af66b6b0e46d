"""Threat rows that cannot have executable evidence in this project, each with the reason, as data.

A row that names an M- mitigation should be backed by a proof, a counterexample, a test or a fuzz property. Where
the project cannot write one, the reason is declared here, keyed by the threat ID and the mitigation it concerns:
IDs are stable across the revisions of Parsec's threat model but a row's mitigations change (the seed answers
A11-I-1 with U-5, the 2024 revision with M-8), so a reason applies only where the row names that mitigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """Why the row cannot show `mitigation` working with executable evidence here."""

    mitigation: str
    text: str


NO_EXECUTABLE_EVIDENCE: Mapping[str, Reason] = {
    "A11-I-1": Reason(
        "M-8",
        "M-8 (sensitive data cleared from memory once used) is a property of Parsec's Rust code (zeroize); the "
        "reference service is Python, whose bytes objects are immutable and may be copied by the runtime, so it "
        "cannot clear buffers reliably and makes no such claim: no test of this project can show M-8",
    ),
}


@dataclass(frozen=True)
class ServiceMitigation:
    """An unmitigation (U-) Parsec leaves open that the reference service mitigates: how, and what shows it.

    The threat model keeps the U- entry as Parsec's document writes it: it describes Parsec. This note sits beside
    it, for readers of the evidence, and names the tests (run with `pytest --threat-results`) and the benchmark.
    """

    how: str
    tests: tuple[str, ...]
    bench: str


MITIGATED_BY_THE_REFERENCE_SERVICE: Mapping[str, ServiceMitigation] = {
    "U-0": ServiceMitigation(  # the seed's and the current revision's U-0 alike
        "in part: parsec-tm serve reads requests in one connection loop per process (epoll), so connections that "
        "are idle or stall half-way hold no worker thread (in Parsec each holds one for up to the listener "
        "timeout per read); the listener timeout bounds a whole request; [listener] max_connections and "
        "max_connections_per_uid cap what one user (uid) or all together may hold open, with one log line per "
        "refusal episode. Whole, time-consuming requests still occupy the worker that runs them: with "
        "max_connections_per_uid below thread_pool_size one user cannot occupy every worker, at the price of "
        "that user's own concurrency",
        (
            "tests/refimpl/test_front.py::test_idle_and_stalled_connections_hold_no_worker",
            "tests/refimpl/test_front.py (the caps)",
        ),
        "bench/bench_availability.py: a new client's Ping p99 with 1,000 idle and 1,000 half-header connections open",
    ),
}
