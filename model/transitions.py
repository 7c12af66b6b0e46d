"""The transition registry: each operation class bound to its transition and to the seed IDs that gate it.

`@transition(Op, blocked_by=(...), realises=(...))` declares, once, which mitigations block a capability and which
seed threat rows exercising it realises (modelled on Hypothesis's `@rule`/`@precondition`). A capability is open in
a deployment exactly when none of its blocking mitigations is in force; in the no-IdP deployment, capabilities of
the attackers the seed takes out of scope there (A1, A2, A10) are also blocked by the mitigations that exclusion is
contingent on (O-10), read from the catalogue's `Variant`. "Remove mitigation X" is therefore the parameter
``mitigations - {X}``, never a fork of the model.

The 2024 revision's configurations (GNRC, DSPC, DRCT, JWTS) gate the same transitions with the revision's IDs
(`RevisionGate`, read from the built-in "current" catalogue): a capability all of whose rows a configuration marks
out does not exist there, unless the configuration rests that exclusion on a mitigation of its own (DRCT: O-10,
"mutually trusted clients"), which then blocks it as O-10 does in the seed's deployment without an IdP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from dataflow.catalogue import Catalogue, load_catalogue
from model.nouns import CONFIGURATIONS, MODEL_OF_VARIANT, VARIANTS, VariantName
from model.operations import Operation

Run = Callable[[Any, Any], Any]
"""A concrete transition: (State, operation) -> (State, Outcome), or None when its precondition does not hold."""
R = TypeVar("R", bound=Run)


@dataclass(frozen=True)
class RevisionGate:
    """How a transition is gated in the 2024 revision's configurations: the revision's IDs, where they differ."""

    blocked_by: tuple[str, ...]
    realises: tuple[str, ...]
    configurations: tuple[VariantName, ...]


@dataclass(frozen=True)
class TransitionSpec:
    """One transition: its operation class, concrete function and gating metadata (seed IDs; `revision` for the
    2024 revision's configurations)."""

    operation: type[Operation]
    run: Run
    blocked_by: tuple[str, ...]
    realises: tuple[str, ...]
    variants: tuple[VariantName, ...]
    revision: RevisionGate

    def gate(self, variant: VariantName) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(blocked_by, realises) in the IDs of `variant`'s catalogue."""
        if MODEL_OF_VARIANT[variant] == "seed":
            return self.blocked_by, self.realises
        return self.revision.blocked_by, self.revision.realises

    def exists_in(self, variant: VariantName) -> bool:
        """Whether the transition is part of `variant` at all (its capability applies there)."""
        return _exists(self, variant)

    def blockers(self, variant: VariantName) -> tuple[str, ...]:
        """The mitigation IDs any one of which closes this transition in `variant`."""
        return _blockers(self, variant)

    def is_open(self, variant: VariantName, mitigations: frozenset[str]) -> bool:
        """Whether the transition exists in `variant` with `mitigations` in force."""
        return self.exists_in(variant) and not any(m in mitigations for m in self.blockers(variant))


def _catalogue(variant: VariantName) -> Catalogue:
    return load_catalogue(model=MODEL_OF_VARIANT[variant])


def requirements(variant: VariantName) -> tuple[str, ...]:
    """The mitigations a configuration's exclusions rest on: the seed's contingent O-10 for no-idp; for a revision
    configuration, the mitigations that apply there alone and that no threat row names (DRCT: O-10)."""
    catalogue = _catalogue(variant)
    scope = catalogue.variant_info(variant)
    if MODEL_OF_VARIANT[variant] == "seed":
        return scope.contingent_on
    named = {m for t in catalogue.threats for m in t.mitigations}
    return tuple(
        m.id
        for m in catalogue.mitigations
        if m.kind in ("M", "O") and m.id not in named and catalogue.configurations_of(m.id) == (variant,)
    )


@cache
def _exists(spec: TransitionSpec, variant: VariantName) -> bool:
    if MODEL_OF_VARIANT[variant] == "seed":
        return variant in spec.variants
    if variant not in spec.revision.configurations:
        return False
    catalogue = _catalogue(variant)
    scope = catalogue.variant_info(variant)
    rows = [catalogue.threat(t) for t in spec.revision.realises]
    if rows and all(scope.excludes(row.attacker) for row in rows):
        return bool(requirements(variant))
    return not (rows and all(scope.excludes(row.id) for row in rows))


@cache
def _blockers(spec: TransitionSpec, variant: VariantName) -> tuple[str, ...]:
    catalogue = _catalogue(variant)
    scope = catalogue.variant_info(variant)
    blocked_by, realises = spec.gate(variant)
    out_of_scope = any(scope.excludes(catalogue.threat(threat_id).attacker) for threat_id in realises)
    extra = requirements(variant) if out_of_scope else ()
    return tuple(dict.fromkeys((*blocked_by, *extra)))


REGISTRY: dict[type[Operation], TransitionSpec] = {}


def transition(
    operation: type[Operation],
    *,
    blocked_by: tuple[str, ...] = (),
    realises: tuple[str, ...] = (),
    variants: tuple[VariantName, ...] = VARIANTS,
    revision: RevisionGate | None = None,
) -> Callable[[R], R]:
    """Register the decorated function as the transition of `operation`.

    `blocked_by`, `realises` and `variants` use the seed's IDs and deployments; `revision` gives the 2024
    revision's, when they differ (by default: the same IDs, in every configuration).
    """
    gate = revision or RevisionGate(blocked_by, realises, CONFIGURATIONS)

    def register(run: R) -> R:
        if operation in REGISTRY:
            raise ValueError(f"{operation.__name__} already has a transition")
        REGISTRY[operation] = TransitionSpec(operation, run, blocked_by, realises, variants, gate)
        return run

    return register


def seed_mitigations() -> frozenset[str]:
    """The seed's controls all in force: every M- and O- mitigation and every assumption of the catalogue."""
    catalogue = load_catalogue()
    return frozenset(m.id for m in catalogue.mitigations if m.kind in ("M", "O")) | frozenset(
        a.id for a in catalogue.assumptions
    )


def mitigations_in_force(variant: VariantName) -> frozenset[str]:
    """The controls in force in `variant` as its document describes it: the seed's all (`seed_mitigations`); in a
    revision configuration, the M- and O- mitigations and the assumptions that apply there."""
    if MODEL_OF_VARIANT[variant] == "seed":
        return seed_mitigations()
    catalogue = _catalogue(variant).variant(variant)
    return frozenset(m.id for m in catalogue.mitigations if m.kind in ("M", "O")) | frozenset(
        a.id for a in catalogue.assumptions
    )
