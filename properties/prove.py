"""`run_all`: every invariant proved in every deployment, and a verdict for every seed mitigation.

This is the entry point of ``parsec-tm prove`` and of ``parsec-tm check``: it returns a `ProofReport` of plain data,
convertible to the JSON the command prints (`ProofReport.to_dict`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from model.nouns import VARIANTS, VariantName
from properties.induction import ProofResult, encode_system, prove
from properties.invariants import INVARIANTS
from properties.mutations import MutationVerdict, mitigation_ids, verdict


@dataclass(frozen=True)
class ProofReport:
    """Proof results per (invariant, deployment), mutation verdicts per (mitigation, deployment), and timings."""

    invariants: tuple[ProofResult, ...]
    mutations: tuple[MutationVerdict, ...]
    encoding_seconds: dict[str, float]
    seconds: float

    @property
    def all_proved(self) -> bool:
        return all(result.status == "proved" for result in self.invariants)

    def to_dict(self) -> dict[str, object]:
        return {
            "invariants": [result.to_dict() for result in self.invariants],
            "mutations": [mutation.to_dict() for mutation in self.mutations],
            "timing": {
                "encoding_seconds": {v: round(s, 4) for v, s in self.encoding_seconds.items()},
                "proof_seconds": round(sum(r.seconds for r in self.invariants), 4),
                "total_seconds": round(self.seconds, 4),
            },
        }


def _variants(variant: str | None) -> tuple[VariantName, ...]:
    if variant is None:
        return VARIANTS
    for known in VARIANTS:
        if known == variant:
            return (known,)
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def run_all(variant: str | None = None, *, mutations: bool = True) -> ProofReport:
    """Prove every invariant and judge every mitigation, in `variant` or in both deployments."""
    started = time.perf_counter()
    results: list[ProofResult] = []
    verdicts: list[MutationVerdict] = []
    encoding: dict[str, float] = {}
    for deployment in _variants(variant):
        system = encode_system(deployment)
        encoding[deployment] = system.seconds
        results += [prove(invariant, system) for invariant in INVARIANTS]
        if mutations:
            verdicts += [verdict(mitigation, system) for mitigation in mitigation_ids()]
    return ProofReport(tuple(results), tuple(verdicts), encoding, time.perf_counter() - started)
