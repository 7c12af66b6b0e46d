"""The transition system the proofs and the bounded model checker explore: one `Instance` per transition of
`model.transitions.REGISTRY` (per carried request class, for operations that carry a request), kept when it is open
in the deployment with the mitigations in force.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.codec import fresh_params
from model.nouns import VariantName
from model.operations import STATELESS_REQUESTS, Operation, Request, carried_requests
from model.symbolic import Params, SymState, SymStep, Universe, encode
from model.transitions import REGISTRY, TransitionSpec


@dataclass(frozen=True)
class Instance:
    """A transition, specialised to the class of the request it carries (if any)."""

    operation: type[Operation]
    inner: type[Request] | None = None

    @property
    def spec(self) -> TransitionSpec:
        return REGISTRY[self.operation]

    @property
    def label(self) -> str:
        inner = f"[{self.inner.__name__}]" if self.inner is not None else ""
        return f"{self.operation.__name__}{inner}"

    def params(self, u: Universe, prefix: str) -> Params:
        return fresh_params(u, self.operation, prefix, self.inner)

    def apply(self, u: Universe, state: SymState, params: Params) -> SymStep:
        return encode(u, state, params)


def all_instances() -> tuple[Instance, ...]:
    """Every transition instance of the model, open or not."""
    found: list[Instance] = []
    for operation in sorted(REGISTRY, key=lambda c: c.__name__):
        carried = carried_requests(operation)
        found += [Instance(operation, inner) for inner in carried] if carried else [Instance(operation)]
    return tuple(found)


def open_instances(
    variant: VariantName, mitigations: frozenset[str], *, with_stateless: bool = True
) -> tuple[Instance, ...]:
    """The instances open in `variant` with `mitigations` in force.

    `with_stateless=False` drops the requests that change no state and have no effect a property reads
    (`model.operations.STATELESS_REQUESTS`): they cannot contribute to a counterexample.
    """
    return tuple(
        instance
        for instance in all_instances()
        if instance.spec.is_open(variant, mitigations)
        and (with_stateless or instance.operation not in STATELESS_REQUESTS)
    )
