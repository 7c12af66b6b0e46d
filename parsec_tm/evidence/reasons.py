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
