"""The transition registry: each operation class bound to its transition and to the seed IDs that gate it.

`@transition(Op, blocked_by=(...), realises=(...))` declares, once, which mitigations block a capability and which
seed threat rows exercising it realises (modelled on Hypothesis's `@rule`/`@precondition`). A capability is open in
a deployment exactly when none of its blocking mitigations is in force; in the no-IdP deployment, capabilities of
the attackers the seed takes out of scope there (A1, A2, A10) are also blocked by the mitigations that exclusion is
contingent on (O-10), read from the catalogue's `Variant`. "Remove mitigation X" is therefore the parameter
``mitigations - {X}``, never a fork of the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from dataflow.catalogue import load_catalogue
from model.nouns import VARIANTS, VariantName
from model.operations import Operation

Run = Callable[[Any, Any], Any]
"""A concrete transition: (State, operation) -> (State, Outcome), or None when its precondition does not hold."""
R = TypeVar("R", bound=Run)


@dataclass(frozen=True)
class TransitionSpec:
    """One transition: its operation class, concrete function and gating metadata."""

    operation: type[Operation]
    run: Run
    blocked_by: tuple[str, ...]
    realises: tuple[str, ...]
    variants: tuple[VariantName, ...]

    def blockers(self, variant: VariantName) -> tuple[str, ...]:
        """The mitigation IDs any one of which closes this transition in `variant`."""
        return _blockers(self, variant)

    def is_open(self, variant: VariantName, mitigations: frozenset[str]) -> bool:
        """Whether the transition exists in `variant` with `mitigations` in force."""
        return variant in self.variants and not any(m in mitigations for m in self.blockers(variant))


@cache
def _blockers(spec: TransitionSpec, variant: VariantName) -> tuple[str, ...]:
    catalogue = load_catalogue()
    scope = catalogue.variant_info(variant)
    out_of_scope = any(scope.excludes(catalogue.threat(threat_id).attacker) for threat_id in spec.realises)
    extra = scope.contingent_on if out_of_scope else ()
    return tuple(dict.fromkeys((*spec.blocked_by, *extra)))


REGISTRY: dict[type[Operation], TransitionSpec] = {}


def transition(
    operation: type[Operation],
    *,
    blocked_by: tuple[str, ...] = (),
    realises: tuple[str, ...] = (),
    variants: tuple[VariantName, ...] = VARIANTS,
) -> Callable[[R], R]:
    """Register the decorated function as the transition of `operation`."""

    def register(run: R) -> R:
        if operation in REGISTRY:
            raise ValueError(f"{operation.__name__} already has a transition")
        REGISTRY[operation] = TransitionSpec(operation, run, blocked_by, realises, variants)
        return run

    return register


def seed_mitigations() -> frozenset[str]:
    """The seed's controls all in force: every M- and O- mitigation and every assumption of the catalogue."""
    catalogue = load_catalogue()
    return frozenset(m.id for m in catalogue.mitigations if m.kind in ("M", "O")) | frozenset(
        a.id for a in catalogue.assumptions
    )
