"""Counterexamples as data, and as people read them: operations run on the concrete model, one step each.

`run` executes a list of operations through `model.step` and records, per step, the Parsec status, the effects,
the seed threat rows the step realises (attacker capabilities only), the key ID a key creation allocated, and the
invariants the step breaks. Key IDs chosen by a solver are renamed to the ones the concrete allocator hands out.

`Counterexample.to_dict` is the structured trace (steps with operation, actor, arguments, status, effects, threat
rows; the capabilities used; the breaking step and what it did); `render` turns that data into text, so the text
and the JSON cannot say different things.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

from model.nouns import Handle, VariantName
from model.operations import Attack, Operation, Request
from model.state import State
from model.step import Effects, NotEnabled, step
from model.transitions import REGISTRY
from properties.invariants import Invariant, violated_by


def _show(value: Any) -> str:
    if isinstance(value, Operation):
        return describe(value)
    if isinstance(value, Enum) and not isinstance(value, str):
        return value.name.lower()
    return str(value)


def arguments(operation: Operation) -> dict[str, str]:
    """The fields of an operation as text (a carried request is described whole)."""
    return {f.name: _show(getattr(operation, f.name)) for f in fields(operation)}


def describe(operation: Operation) -> str:
    """A one-line, readable rendering of an operation."""
    if isinstance(operation, Request):
        caller = str(operation.caller) if operation.caller is not None else "NoAuth"
        shown = [value for name, value in arguments(operation).items() if name != "caller"]
        return f"{caller}: {operation.opcode}({', '.join(shown)})"
    shown = [f"{name}={value}" for name, value in arguments(operation).items()]
    label = f"attack {type(operation).__name__}" if isinstance(operation, Attack) else type(operation).__name__
    return f"{label}({', '.join(shown)})"


def threats_of(operation: Operation, variant: VariantName = "with-idp") -> tuple[str, ...]:
    """The threat rows an operation realises in `variant`'s document (attacker capabilities only)."""
    return REGISTRY[type(operation)].gate(variant)[1]


def effects_data(effects: Effects, pre: State) -> dict[str, Any]:
    """The effects of a step that happened, as plain data; keys are named with their owner."""

    def key(handle: Handle) -> str:
        owner = pre.provider_keys[handle].owner if handle in pre.provider_keys else None
        return f"{handle} (owner {owner})" if owner is not None else f"{handle} (no such key)"

    data: dict[str, Any] = {}
    if effects.actor is not None:
        data["actor"] = str(effects.actor)
    if effects.namespace is not None:
        data["namespace"] = str(effects.namespace)
    if effects.touched:
        data["touched"] = [key(h) for h in sorted(effects.touched)]
    if effects.releases:
        data["released"] = [
            f"{key(r.handle)} to {r.recipient if r.recipient is not None else 'outside every tenant'}"
            + ("" if r.via_export_key else ", not through ExportKey")
            for r in effects.releases
        ]
    if effects.admin_op:
        data["admin_operation"] = True
    if effects.deleted_client is not None:
        data["deleted_client"] = str(effects.deleted_client)
    if effects.reconfigured:
        data["reconfigured"] = True
    if effects.marks:
        data["observed"] = sorted(effects.marks)
    return data


@dataclass(frozen=True)
class TraceStep:
    """One executed operation: its answer and effects, the threat rows it realises, the key ID it allocated, and
    the invariants it breaks."""

    operation: Operation
    status: str | None
    threats: tuple[str, ...]
    allocated: Handle | None = None
    effects: Mapping[str, Any] | None = None
    breaks: tuple[str, ...] = ()

    @property
    def capability(self) -> str | None:
        """The attacker capability the step exercises, if it is an attack."""
        return type(self.operation).__name__ if isinstance(self.operation, Attack) else None

    def to_dict(self, number: int) -> dict[str, Any]:
        effects = dict(self.effects or {})
        actor = effects.get("actor")
        if actor is None and isinstance(self.operation, Attack):
            actor = str(self.operation.attacker)
        return {
            "number": number,
            "operation": type(self.operation).__name__,
            "capability": self.capability,
            "actor": actor,
            "arguments": arguments(self.operation),
            "text": describe(self.operation),
            "status": self.status,
            "effects": effects,
            "threats": list(self.threats),
            "allocated": str(self.allocated) if self.allocated is not None else None,
            "breaks": list(self.breaks),
        }


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
    also: tuple[Invariant, ...] = (),
) -> Run:
    """Execute `operations`; `chosen[i]` is the key ID a solver picked for step i's key creation, if any; `also`
    lists invariants to check beyond the model's own (`properties.invariants.INVARIANTS`)."""
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
        breaks = violated_by(state, outcome, post, also)
        effects = effects_data(outcome.effects, state)
        steps.append(
            TraceStep(concrete, outcome.status, threats_of(concrete, initial.variant), allocated, effects, breaks)
        )
        violated += [v for v in breaks if v not in violated]
        state = post
    return Run(tuple(steps), tuple(violated), True)


@dataclass(frozen=True)
class Counterexample:
    """A run from `initial` that breaks `invariant` once `mitigations` are all that is in force.

    `confirmed_by_z3` is the Z3 twin's verdict on the run (`properties.bmc.confirm`), None until asked.
    """

    invariant: str
    variant: VariantName
    initial: State
    mitigations: frozenset[str]
    run: Run
    confirmed_by_z3: bool | None = None

    @property
    def steps(self) -> tuple[TraceStep, ...]:
        return self.run.steps

    @property
    def threats(self) -> tuple[str, ...]:
        """The seed threat rows the run's attack steps realise, in order of first appearance."""
        return tuple(dict.fromkeys(t for s in self.run.steps for t in s.threats))

    @property
    def capabilities(self) -> tuple[str, ...]:
        """Every attacker capability the run exercises, in order of first use."""
        return tuple(dict.fromkeys(s.capability for s in self.run.steps if s.capability is not None))

    @property
    def breaking_step(self) -> int | None:
        """The number (from 1) of the first step that breaks `invariant`."""
        return next((i for i, s in enumerate(self.run.steps, 1) if self.invariant in s.breaks), None)

    @property
    def confirmed(self) -> bool:
        """Whether the concrete run breaks `invariant`."""
        return self.run.complete and self.invariant in self.run.violated

    def start(self) -> str:
        config = self.initial.active
        admins = ",".join(sorted(config.admins)) or "none"
        providers = ",".join(p.name.lower() for p in config.providers)
        return f"{config.authenticator} authenticator, admins {{{admins}}}, providers [{providers}]"

    def to_dict(self) -> dict[str, Any]:
        """The trace as plain, JSON-able data."""
        return {
            "invariant": self.invariant,
            "variant": self.variant,
            "start": self.start(),
            "steps": [s.to_dict(i) for i, s in enumerate(self.run.steps, 1)],
            "capabilities": list(self.capabilities),
            "threats": list(self.threats),
            "breaking_step": self.breaking_step,
            "confirmed_concretely": self.confirmed,
            "confirmed_by_z3": self.confirmed_by_z3,
        }

    def lines(self) -> list[str]:
        return render(self.to_dict())


def render(trace: Mapping[str, Any]) -> list[str]:
    """A structured trace (`Counterexample.to_dict`) as text: one line per step, the breaking step marked with the
    effect that breaks the invariant, then the capabilities used and whether Z3 confirmed the run."""
    lines = [f"0. start: {trace['start']}"]
    for entry in trace["steps"]:
        answer = f" -> {entry['status']}" if entry["status"] is not None else ""
        realised = f"  [{', '.join(entry['threats'])}]" if entry["threats"] else ""
        breaking = entry["number"] == trace["breaking_step"]
        marker = "  <== breaks " + trace["invariant"] if breaking else ""
        lines.append(f"{entry['number']}. {entry['text']}{answer}{realised}{marker}")
        if breaking:
            lines += [f"     {name}: {_flat(value)}" for name, value in entry["effects"].items()]
    used = ", ".join(trace["capabilities"]) or "none (honest requests only)"
    confirmation = {True: "confirmed by Z3", False: "NOT confirmed by Z3", None: "not checked by Z3"}
    concrete = "" if trace["confirmed_concretely"] else "; the concrete run does NOT break it"
    lines.append(f"   capabilities used: {used}; {confirmation[trace['confirmed_by_z3']]}{concrete}")
    return lines


def _flat(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)
