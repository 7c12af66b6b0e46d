"""`run_all`: the invariants proved in each deployment, and a verdict for each seed mitigation.

This is the entry point of ``parsec-tm prove`` and of ``parsec-tm check``, for the seed's deployments or the 2024
revision's configurations. It returns a `ProofReport`;
`ProofReport.to_dict` (and `report_data`, which runs and converts in one call) is the report as plain, JSON-able
data — the shape the command prints with ``--format json`` and other tools read:

- ``invariants``: one entry per (invariant, deployment): ``id``, ``variant``, ``status`` (proved,
  checked-concretely, failed, unconfirmed, unknown), ``reason``, ``failing_checks``, ``z3_model`` and
  ``counterexample`` (a structured trace, `properties.traces.Counterexample.to_dict`, or null);
- ``mutations``: one entry per (mitigation, deployment): ``mitigation``, ``variant``, ``status`` (counterexample,
  no-effect, outside-model), ``threats`` (seed rows the runs realise), ``capabilities`` (the attacker capabilities
  the runs actually use), ``opened`` (those removing it opens), ``confirmed``, ``reason``, ``trace`` (the shortest
  run) and ``violations`` (every run, per capability and invariant);
- ``ok`` (what the exit status says) and ``problems`` (why not), ``timing``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import properties.invariants
from model.agreement import missing_encoders
from model.nouns import CONFIGURATIONS, VARIANTS, VariantName
from model.operations import Operation
from properties.induction import QUERY_TIMEOUT_MS, ProofResult, SystemEncoding, encode_system, prove
from properties.invariants import Invariant
from properties.mutations import MutationVerdict, mitigation_ids, verdict


class ModelIncomplete(Exception):
    """The model cannot be proved as it stands (a transition without its Z3 twin)."""


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

    @property
    def problems(self) -> tuple[str, ...]:
        """Everything short of a proof or a confirmed counterexample, one line each."""
        found = [
            f"{r.invariant} ({r.variant}): {r.status}" + (f" - {r.reason}" if r.reason else "")
            for r in self.invariants
            if r.status != "proved"
        ]
        found += [
            f"{m.mitigation} ({m.variant}): a counterexample is not confirmed by the Z3 twin"
            for m in self.mutations
            if not m.all_confirmed
        ]
        return tuple(found)

    @property
    def ok(self) -> bool:
        """Every invariant proved and every counterexample confirmed: the only results `prove` exits 0 on."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "invariants": [result.to_dict() for result in self.invariants],
            "mutations": [mutation.to_dict() for mutation in self.mutations],
            "timing": {
                "encoding_seconds": {v: round(s, 4) for v, s in self.encoding_seconds.items()},
                "proof_seconds": round(sum(r.seconds for r in self.invariants), 4),
                "total_seconds": round(self.seconds, 4),
            },
        }


MODELS: dict[str, tuple[VariantName, ...]] = {"seed": VARIANTS, "current": CONFIGURATIONS}
"""The built-in threat models and their deployments: the seed (2020-09-21) and the current revision (2024-03-25)."""


def _variants(variant: str | None, model: str | None) -> tuple[VariantName, ...]:
    if model is not None and model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    known = MODELS[model] if model is not None else (*VARIANTS, *CONFIGURATIONS)
    if variant is None:
        return MODELS[model or "seed"]
    for candidate in known:
        if candidate.lower() == variant.lower():
            return (candidate,)
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(known)}")


def _select(invariant_ids: Sequence[str] | None, invariants: tuple[Invariant, ...]) -> tuple[Invariant, ...]:
    if not invariant_ids:
        return invariants
    known = {inv.id: inv for inv in invariants}
    unknown = [i for i in invariant_ids if i not in known]
    if unknown:
        raise ValueError(f"unknown invariant {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(known[i] for i in dict.fromkeys(invariant_ids))


def _mitigations(mitigation_filter: Sequence[str] | None, variants: tuple[VariantName, ...]) -> tuple[str, ...]:
    known = tuple(dict.fromkeys(m for v in variants for m in mitigation_ids(v)))
    if not mitigation_filter:
        return known
    unknown = [m for m in mitigation_filter if m not in known]
    if unknown:
        raise ValueError(f"unknown mitigation {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(m for m in known if m in mitigation_filter)


def run_all(
    variant: str | None = None,
    *,
    model: str | None = None,
    mutations: bool = True,
    invariant_ids: Sequence[str] | None = None,
    mitigation_filter: Sequence[str] | None = None,
    timeout_seconds: float = QUERY_TIMEOUT_MS / 1000,
    invariants: tuple[Invariant, ...] | None = None,
) -> ProofReport:
    """Prove the invariants and judge the mitigations (all of each unless filtered), in `variant` or in every
    deployment of `model` ("seed", the default: with-idp and no-idp; "current": the 2024 revision's GNRC, DSPC,
    DRCT and JWTS). `timeout_seconds` bounds each solver query; a query that runs out makes its proof `unknown`.

    Raises `ModelIncomplete` when a registered transition has no Z3 encoder, and ValueError on an unknown ID.
    """
    missing = missing_encoders()
    if missing:
        raise ModelIncomplete(
            f"no Z3 encoder for the transition(s) {', '.join(missing)}: nothing about them can be proved; write "
            "their twin in model/symbolic.py (docs/extending-the-model.md)"
        )
    deployments = _variants(variant, model)
    selected = _select(invariant_ids, properties.invariants.INVARIANTS if invariants is None else invariants)
    judged = _mitigations(mitigation_filter, deployments) if mutations else ()
    timeout_ms = max(1, round(timeout_seconds * 1000))
    started = time.perf_counter()
    results: list[ProofResult] = []
    verdicts: list[MutationVerdict] = []
    encoding: dict[str, float] = {}
    for deployment in deployments:
        system = encode_system(deployment)
        encoding[deployment] = system.seconds
        proofs = [prove(invariant, system, timeout_ms) for invariant in selected]
        results += proofs
        own = set(mitigation_ids(deployment))
        unmitigated = _unmitigated(system, proofs)
        verdicts += [
            verdict(m, system, invariants=selected, timeout_ms=min(timeout_ms, 2_000), unmitigated=unmitigated)
            for m in judged
            if m in own
        ]
    return ProofReport(tuple(results), tuple(verdicts), encoding, time.perf_counter() - started)


def _unmitigated(system: SystemEncoding, proofs: list[ProofResult]) -> frozenset[type[Operation]]:
    """The transitions at which an invariant's inductive step fails with every mitigation in force."""
    by_label = {instance.label: instance.operation for instance, _ in system.steps}
    return frozenset(by_label[c] for r in proofs if r.status != "proved" for c in r.failing_checks if c in by_label)


def report_data(variant: str | None = None, **options: Any) -> dict[str, Any]:
    """`run_all(variant, **options).to_dict()`: the report as plain data (see the module docstring)."""
    return run_all(variant, **options).to_dict()
