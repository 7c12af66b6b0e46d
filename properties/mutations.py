"""Mutation verdicts: what each mitigation M-0…M-7 and O-0…O-10 of the seed protects, in the model.

For mitigation X in a deployment, "removing X" opens the transitions X blocks (`model.transitions`). Then:

1. no transition opens: the verdict says why (X gates nothing in this deployment, or every capability it blocks is
   also blocked by another mitigation still in force); mitigations the model deliberately leaves out get
   "outside-model" with the reason;
2. for each opened capability, explicit-state bounded model checking (`properties.explore`) looks for the shortest
   run of at most `SEARCH_DEPTH` steps in which that capability breaks each invariant, with the other capabilities
   the mitigation opens left out (so the harm a trace shows is done by the capability it is filed under); then, for
   the invariants no capability breaks alone, one search with all of them together; each run found is confirmed
   by the Z3 twin (`properties.bmc.confirm`), and the verdict names the capabilities its runs actually use;
3. for each invariant no run breaks, the consecution check of its inductive proof is re-run on the opened
   transitions (`properties.induction.breaks_proof`): if it passes, the invariant stays proved for any number of
   steps, tenants and keys; if not, it holds only as far as the bounded search went.

A counterexample is reported with its trace and the seed threat rows its attack steps realise (catalogue IDs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from dataflow.catalogue import load_catalogue
from model.nouns import MODEL_OF_VARIANT, VARIANTS, VariantName
from model.operations import Operation
from model.transitions import REGISTRY, mitigations_in_force
from properties.bmc import confirm
from properties.explore import SEARCH_DEPTH, SearchScope, explore
from properties.induction import SystemEncoding, breaks_proof
from properties.invariants import INVARIANTS, Invariant
from properties.system import open_instances
from properties.traces import Counterexample

MutationStatus = Literal["counterexample", "no-effect", "outside-model"]

OUTSIDE_MODEL: dict[str, str] = {
    "M-0": "availability: the thread pool bounds concurrent work; the model has no time, load or threads, and its "
    "invariants are safety properties that a slow or overloaded service cannot break",
    "M-4": "repudiation: logging the six events produces evidence for people, not state the service acts on; no "
    "safety invariant depends on it (Parsec has since turned M-4 into an unmitigation, parsec-facts §6.2)",
    "M-5": "engineering practice: safe coding and testing lower the odds of implementation bugs, which the model "
    "does not contain; the model is the specification that testing (the stateful tests) checks the code against",
    "M-7": "log attribution: which component wrote a log line is not part of the service state the model keeps",
    "O-4": "availability: notifying the administrator of exhausted resources changes nothing the model keeps; the "
    "model has no resources to exhaust",
    "O-5": "log protection: the log file is outside the model's state; no modelled effect writes a secret (token or "
    "key material) to the logs, so reading or altering them breaks no safety invariant",
}
"""Mitigations of the seed the model leaves out on purpose, with the reason."""

REVISION_OUTSIDE_MODEL: dict[str, str] = {
    **{m: OUTSIDE_MODEL[m] for m in ("M-0", "M-5", "M-7", "O-4", "O-5")},
    "M-8": "local memory: clearing buffers protects against a reader of Parsec's memory (A11); the model has no "
    "memory outside its state",
    "M-10": "engineering practice: reporting vulnerable dependencies lowers the odds of implementation bugs, which "
    "the model does not contain",
    "O-12": "administrator practice: the model's administrator configures one authenticator for the service's "
    "lifetime (the configuration lemma authenticator-intact); only an attacker with O-6 removed changes it",
    "O-13": "token lifetime: a short expiry limits how long a stolen token works; the model has no time, so a stolen "
    "token works for ever, and the verdicts of the capabilities that steal one stand without it",
}
"""Mitigations of the 2024 revision the model leaves out on purpose, with the reason."""


def outside_model(variant: VariantName) -> dict[str, str]:
    """The mitigations the model leaves out, for the document `variant` belongs to."""
    return OUTSIDE_MODEL if MODEL_OF_VARIANT[variant] == "seed" else REVISION_OUTSIDE_MODEL


@dataclass(frozen=True)
class Finding:
    """What one opened capability does to the invariants: runs that break some (searched with the other
    capabilities the mitigation opens left out, so the harm is this capability's), and those whose proof it defeats
    without a run breaking them within the bound. `capability` is None for runs that need several opened
    capabilities together."""

    capability: str | None
    counterexamples: tuple[Counterexample, ...]
    unproved: tuple[str, ...]

    @property
    def confirmed_by_z3(self) -> tuple[bool, ...]:
        return tuple(bool(c.confirmed_by_z3) for c in self.counterexamples)


@dataclass(frozen=True)
class MutationVerdict:
    """The verdict for removing one mitigation in one deployment."""

    mitigation: str
    variant: VariantName
    status: MutationStatus
    reason: str
    findings: tuple[Finding, ...] = ()

    @property
    def counterexamples(self) -> tuple[Counterexample, ...]:
        return tuple(c for f in self.findings for c in f.counterexamples)

    @property
    def threats(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for c in self.counterexamples for t in c.threats))

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The attacker capabilities the counterexamples actually use (not merely those the mitigation opens)."""
        return tuple(dict.fromkeys(cap for c in self.counterexamples for cap in c.capabilities))

    @property
    def opened(self) -> tuple[str, ...]:
        """The capabilities removing the mitigation opens."""
        return tuple(f.capability for f in self.findings if f.capability is not None)

    @property
    def all_confirmed(self) -> bool:
        """Whether every counterexample breaks its invariant concretely and is confirmed by the Z3 twin."""
        return all(c.confirmed and c.confirmed_by_z3 for c in self.counterexamples)

    @property
    def shortest(self) -> Counterexample | None:
        return min(self.counterexamples, key=lambda c: len(c.steps), default=None)

    def to_dict(self) -> dict[str, object]:
        shortest = self.shortest
        return {
            "mitigation": self.mitigation,
            "variant": self.variant,
            "status": self.status,
            "threats": list(self.threats),
            "capabilities": list(self.capabilities),
            "opened": list(self.opened),
            "confirmed": self.all_confirmed,
            "reason": self.reason,
            "trace": shortest.to_dict() if shortest is not None else None,
            "violations": [
                {
                    "capability": finding.capability or " + ".join(counterexample.capabilities),
                    "invariant": counterexample.invariant,
                    "threats": list(counterexample.threats),
                    "capabilities": list(counterexample.capabilities),
                    "confirmed_by_z3": counterexample.confirmed_by_z3,
                    "trace": counterexample.to_dict(),
                }
                for finding in self.findings
                for counterexample in finding.counterexamples
            ],
            "unproved": sorted({i for f in self.findings for i in f.unproved}),
        }


def mitigation_ids(variant: VariantName = VARIANTS[0]) -> tuple[str, ...]:
    """The M- and O- mitigations of `variant`'s document (default: the seed), in document order."""
    catalogue = load_catalogue(model=MODEL_OF_VARIANT[variant])
    return tuple(m.id for m in catalogue.mitigations if m.kind in ("M", "O"))


def _seed_rows(mitigation: str, variant: VariantName) -> str:
    catalogue = load_catalogue(model=MODEL_OF_VARIANT[variant])
    rows = [t.id for t in catalogue.variant(variant).threats if mitigation in t.mitigations]
    return f" (rows naming it in {variant}: {', '.join(rows)})" if rows else ""


def _closed_reason(mitigation: str, variant: VariantName) -> str:
    """Why removing `mitigation` opens no transition in `variant`."""
    gated = [spec for spec in REGISTRY.values() if mitigation in spec.blockers(variant) and spec.exists_in(variant)]
    if gated:
        others = sorted({b for spec in gated for b in spec.blockers(variant) if b != mitigation})
        names = ", ".join(sorted(spec.operation.__name__ for spec in gated))
        return (
            f"every capability it blocks ({names}) stays blocked by {', '.join(others)} in this deployment: "
            "redundant here, defence in depth"
        )
    elsewhere = [spec for spec in REGISTRY.values() if mitigation in spec.gate(variant)[0]]
    if elsewhere:
        names = ", ".join(sorted(spec.operation.__name__ for spec in elsewhere))
        return f"the capabilities it blocks ({names}) do not exist in the {variant} deployment"
    return "no transition of the model is gated by it"


def verdict(
    mitigation: str,
    system: SystemEncoding,
    scope: SearchScope | None = None,
    invariants: tuple[Invariant, ...] = INVARIANTS,
    timeout_ms: int = 2_000,
    unmitigated: frozenset[type[Operation]] = frozenset(),
) -> MutationVerdict:
    """Remove `mitigation` from the mitigations of `system`'s deployment and judge the effect.

    `unmitigated` lists capabilities that break some invariant with every mitigation in force (the document leaves
    them unmitigated in this deployment): they are left out of the searches, so that a verdict shows what removing
    `mitigation` adds, not what was already possible.
    """
    variant = system.variant
    outside = outside_model(variant)
    if mitigation in outside:
        return MutationVerdict(
            mitigation, variant, "outside-model", outside[mitigation] + _seed_rows(mitigation, variant)
        )
    if mitigation not in mitigations_in_force(variant):
        return MutationVerdict(mitigation, variant, "no-effect", f"it does not apply in the {variant} deployment")
    in_force = mitigations_in_force(variant) - {mitigation}
    baseline = {instance for instance, _ in system.steps}
    opened = tuple(i for i in open_instances(variant, in_force) if i not in baseline)
    if not opened:
        return MutationVerdict(mitigation, variant, "no-effect", _closed_reason(mitigation, variant))
    targets = tuple(inv for inv in invariants if inv.has_z3_form)
    capabilities = tuple(dict.fromkeys(i.operation for i in opened))
    findings = []
    broken: set[str] = set()
    for capability in capabilities:
        others = frozenset(capabilities) - {capability}
        left_out = others | unmitigated
        found = explore(variant, in_force, frozenset({capability}), targets, scope=scope, excluded=left_out)
        counterexamples = tuple(_confirmed(c) for c in found.values())
        broken |= set(found)
        instances = tuple(i for i in opened if i.operation is capability)
        unproved = tuple(
            inv.id for inv in targets if inv.id not in found and breaks_proof(inv, system, instances, timeout_ms)
        )
        findings.append(Finding(capability.__name__, counterexamples, unproved))
    if len(capabilities) > 1:
        rest = tuple(inv for inv in targets if inv.id not in broken)
        together = (
            explore(variant, in_force, frozenset(capabilities), rest, scope=scope, excluded=unmitigated) if rest else {}
        )
        if together:
            findings.append(Finding(None, tuple(_confirmed(c) for c in together.values()), ()))
    judged = _judge(mitigation, variant, tuple(findings))
    if unmitigated:
        names = ", ".join(sorted(op.__name__ for op in unmitigated))
        note = f" (left out of the searches: {names}, which break invariants here with every mitigation in force)"
        judged = replace(judged, reason=judged.reason + note)
    return judged


def _confirmed(counterexample: Counterexample) -> Counterexample:
    return replace(counterexample, confirmed_by_z3=confirm(counterexample))


def _judge(mitigation: str, variant: VariantName, findings: tuple[Finding, ...]) -> MutationVerdict:
    opened = ", ".join(f.capability for f in findings if f.capability is not None)
    if any(f.counterexamples for f in findings):
        harms = []
        for finding in findings:
            for counterexample in finding.counterexamples:
                used = " + ".join(counterexample.capabilities) or "honest requests alone"
                harms.append(f"{counterexample.invariant} broken by {used}")
        reason = f"without it: {'; '.join(dict.fromkeys(harms))}"
        return MutationVerdict(mitigation, variant, "counterexample", reason, findings)
    unwitnessed = sorted({i for f in findings for i in f.unproved})
    if not unwitnessed:
        reason = (
            f"the capabilities it blocks ({opened}) preserve every invariant: all stay proved inductive "
            "(unbounded) with it removed"
        )
    else:
        reason = (
            f"the capabilities it blocks ({opened}) defeat the inductive proof of {', '.join(unwitnessed)}, but "
            f"no run of at most {SEARCH_DEPTH} steps in the search scope breaks them"
        )
    return MutationVerdict(mitigation, variant, "no-effect", reason, findings)
