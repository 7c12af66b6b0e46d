"""Counterexamples as people and tests read them: operations run on the concrete model, one line each.

`run` executes a list of operations through `model.step` and records, per step, the Parsec status, the seed threat
rows the step realises (attacker capabilities only) and the key ID a key creation allocated; it also reports which
invariants the run breaks. Key IDs chosen by a solver are renamed to the ones the concrete allocator hands out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

from model.nouns import Handle, VariantName
from model.operations import Attack, Operation, Request
from model.state import State
from model.step import NotEnabled, step
from model.transitions import REGISTRY
from properties.invariants import violated_by


def describe(operation: Operation) -> str:
    """A one-line, readable rendering of an operation."""
    if isinstance(operation, Request):
        caller = str(operation.caller) if operation.caller is not None else "NoAuth"
        arguments = [_show(getattr(operation, f.name)) for f in fields(operation) if f.name != "caller"]
        return f"{caller}: {operation.opcode}({', '.join(arguments)})"
    arguments = [f"{f.name}={_show(getattr(operation, f.name))}" for f in fields(operation)]
    label = f"attack {type(operation).__name__}" if isinstance(operation, Attack) else type(operation).__name__
    return f"{label}({', '.join(arguments)})"


def _show(value: Any) -> str:
    if isinstance(value, Operation):
        return describe(value)
    if isinstance(value, Enum) and not isinstance(value, str):
        return value.name.lower()
    return str(value)


def threats_of(operation: Operation) -> tuple[str, ...]:
    """The seed threat rows an operation realises (attacker capabilities only)."""
    return REGISTRY[type(operation)].realises


@dataclass(frozen=True)
class TraceStep:
    """One executed operation: its answer, the threat rows it realises, the key ID it allocated."""

    operation: Operation
    status: str | None
    threats: tuple[str, ...]
    allocated: Handle | None = None

    def line(self, number: int) -> str:
        answer = f" -> {self.status}" if self.status is not None else ""
        realised = f"  [{', '.join(self.threats)}]" if self.threats else ""
        return f"{number}. {describe(self.operation)}{answer}{realised}"


@dataclass(frozen=True)
class Run:
    """A concrete run: its steps (cut at the first operation the model refuses) and the invariants it breaks."""

    steps: tuple[TraceStep, ...]
    violated: tuple[str, ...]
    complete: bool


def _rename(value: Any, renaming: dict[Handle, Handle]) -> Any:
    if isinstance(value, Handle):
        return renaming.get(value, value)
    if isinstance(value, Operation):
        changes = {f.name: _rename(getattr(value, f.name), renaming) for f in fields(value)}
        return replace(value, **changes)
    return value


def run(
    initial: State,
    operations: list[Operation],
    mitigations: frozenset[str],
    chosen: list[Handle | None] | None = None,
) -> Run:
    """Execute `operations`; `chosen[i]` is the key ID a solver picked for step i's key creation, if any."""
    renaming: dict[Handle, Handle] = {}
    state = initial
    steps: list[TraceStep] = []
    violated: list[str] = []
    for index, operation in enumerate(operations):
        concrete = _rename(operation, renaming)
        try:
            post, outcome = step(state, concrete, mitigations)
        except NotEnabled:
            return Run(tuple(steps), tuple(violated), False)
        created = sorted(set(post.provider_keys) - set(state.provider_keys))
        allocated = created[0] if created else None
        if chosen is not None and chosen[index] is not None and allocated is not None:
            renaming[chosen[index]] = allocated  # type: ignore[index]
        steps.append(TraceStep(concrete, outcome.status, threats_of(concrete), allocated))
        violated += [v for v in violated_by(state, outcome, post) if v not in violated]
        state = post
    return Run(tuple(steps), tuple(violated), True)


@dataclass(frozen=True)
class Counterexample:
    """A run from `initial` that breaks `invariant` once `mitigations` are all that is in force."""

    invariant: str
    variant: VariantName
    initial: State
    mitigations: frozenset[str]
    run: Run

    @property
    def steps(self) -> tuple[TraceStep, ...]:
        return self.run.steps

    @property
    def threats(self) -> tuple[str, ...]:
        """The seed threat rows the run's attack steps realise, in order of first appearance."""
        return tuple(dict.fromkeys(t for s in self.run.steps for t in s.threats))

    @property
    def confirmed(self) -> bool:
        """Whether the concrete run breaks `invariant`."""
        return self.run.complete and self.invariant in self.run.violated

    def lines(self) -> list[str]:
        config = self.initial.active
        admins = ",".join(sorted(config.admins)) or "none"
        providers = ",".join(p.name.lower() for p in config.providers)
        start = f"0. start: {config.authenticator} authenticator, admins {{{admins}}}, providers [{providers}]"
        return [start, *(s.line(i) for i, s in enumerate(self.run.steps, 1))]
