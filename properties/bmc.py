"""Bounded model checking with Z3: the transition relation unrolled `depth` times over a small finite universe.

The universe (`Z3_SCOPE`) makes every quantifier a finite conjunction and every array a table of scalars
(`model.tables.FiniteTable`), so each unrolled step is a quantifier-free formula. Step i picks one transition
instance of an alphabet with its parameters; the state after it is defined point by point by an if-then-else over
the choice. Two uses:

- `search`: a run of the unrolling that breaks an invariant, decoded into concrete operations and run on
  `model.step` (the symbolic and the concrete model must agree on it);
- `confirm`: the Z3 twin's verdict on a run found elsewhere (`properties.explore`): the run, encoded as ground
  parameters, is feasible in the symbolic relation and breaks the invariant there too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import z3

from model.codec import decode_handle, decode_operation, encode_params, encode_state
from model.nouns import Handle, VariantName
from model.operations import (
    DeleteClient,
    ExportKey,
    GenerateKey,
    ImportKey,
    ListClients,
    Operation,
    Reload,
    Restart,
    SignHash,
)
from model.state import State
from model.symbolic import ENUMS as E
from model.symbolic import NO_RESPONSE, Expr, Params, SymConfig, SymState, SymStep, Universe, encode, finite_universe
from model.tables import FiniteTable
from properties.invariants import Invariant, invariant
from properties.system import Instance
from properties.traces import Counterexample, run

Z3_SCOPE: tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]] = (
    ("alice", "bob", "mallory"),
    ("k1",),
    (1, 2, 3, 4),
)
"""Applications, key names and key IDs of the bounded universe (key IDs: one more than the deepest run needs)."""

SETUP_INSTANCES: tuple[Instance, ...] = tuple(
    Instance(operation) for operation in (GenerateKey, SignHash, ExportKey, ListClients, DeleteClient, Reload, Restart)
)
"""The honest transitions a symbolic search interleaves with the transitions under study."""

QUERY_TIMEOUT_MS = 60_000


def universe() -> Universe:
    return finite_universe(*Z3_SCOPE)


@dataclass
class Unrolling:
    """The transition relation unrolled from a concrete initial state."""

    universe: Universe
    variant: VariantName
    mitigations: frozenset[str]
    initial: State
    instances: tuple[Instance, ...]
    states: list[SymState]
    choices: list[Expr]
    steps: list[list[tuple[Params, SymStep]]]
    constraints: list[Expr]


def unroll(initial: State, mitigations: frozenset[str], instances: tuple[Instance, ...], depth: int) -> Unrolling:
    """Unroll `instances` `depth` times from `initial` (instances closed under `mitigations` are left out)."""
    u = universe()
    variant = initial.variant
    usable = tuple(i for i in instances if i.spec.is_open(variant, mitigations))
    unrolling = Unrolling(u, variant, mitigations, initial, usable, [encode_state(u, initial)], [], [], [])
    for k in range(depth):
        pre = unrolling.states[-1]
        choice = z3.Int(f"choice{k}")
        steps = []
        for j, instance in enumerate(usable):
            params = instance.params(u, f"p{k}.{j}")
            steps.append((params, instance.apply(u, pre, params)))
        enabled = z3.Or([z3.And(choice == j, step.guard) for j, (_, step) in enumerate(steps)])
        post, definitions = _next_state(f"s{k + 1}", choice, [step.post for _, step in steps])
        unrolling.constraints += [choice >= 0, choice < len(usable), enabled, *definitions]
        unrolling.choices.append(choice)
        unrolling.steps.append(steps)
        unrolling.states.append(post)
    return unrolling


def _next_state(name: str, choice: Expr, posts: list[SymState]) -> tuple[SymState, list[Expr]]:
    """The state after a step: at each point of each table, the value the chosen instance gives it.

    A value every instance leaves as one expression is kept as it is; otherwise it becomes a fresh constant defined
    by an if-then-else over the choice, which keeps each step's formulas independent of the depth.
    """
    definitions: list[Expr] = []

    def pick(path: str, values: list[Expr]) -> Expr:
        distinct: dict[int, tuple[Expr, list[int]]] = {}
        for j, value in enumerate(values):
            distinct.setdefault(value.get_id(), (value, []))[1].append(j)
        if len(distinct) == 1:
            return values[0]
        options = list(distinct.values())
        chosen = options[-1][0]
        for value, indices in reversed(options[:-1]):
            chosen = z3.If(z3.Or([choice == j for j in indices]), value, chosen)
        variable = z3.Const(path, values[0].sort())
        definitions.append(variable == chosen)
        return variable

    def pick_field(path: str, parts: list[Any]) -> Any:
        if all(part is parts[0] for part in parts):
            return parts[0]
        if isinstance(parts[0], SymConfig):
            return SymConfig(
                **{
                    f.name: pick_field(f"{path}.{f.name}", [getattr(p, f.name) for p in parts])
                    for f in fields(SymConfig)
                }
            )
        if isinstance(parts[0], FiniteTable):
            values = [pick(f"{path}[{i}]", [p.values[i] for p in parts]) for i in range(len(parts[0].values))]
            return FiniteTable(parts[0].grid, values)
        return pick(path, parts)

    post = SymState(
        **{f.name: pick_field(f"{name}.{f.name}", [getattr(p, f.name) for p in posts]) for f in fields(SymState)}
    )
    return post, definitions


def _breaks(u: Universe, inv: Invariant, pre: SymState, step: SymStep) -> Expr:
    """The step breaks `inv` (its state part on the post-state, its step part on the step)."""
    broken = []
    if inv.state_formula is not None:
        broken.append(z3.Not(inv.state_formula(u, step.post)))
    if inv.step_formula is not None:
        broken.append(z3.Not(inv.step_formula(u, pre, step.effects, step.post)))
    return z3.Or(broken)


def _breaks_at(unrolling: Unrolling, inv: Invariant, k: int) -> Expr:
    u, pre, post = unrolling.universe, unrolling.states[k], unrolling.states[k + 1]
    broken = []
    if inv.state_formula is not None:
        broken.append(z3.Not(inv.state_formula(u, post)))
    if inv.step_formula is not None:
        broken += [
            z3.And(unrolling.choices[k] == j, z3.Not(inv.step_formula(u, pre, step.effects, step.post)))
            for j, (_, step) in enumerate(unrolling.steps[k])
        ]
    return z3.Or(broken)


def search(unrolling: Unrolling, inv: Invariant) -> Counterexample | None:
    """A run of the unrolling breaking `inv` at some step, cut after that step and run concretely; or None."""
    solver = z3.Solver()
    solver.set("timeout", QUERY_TIMEOUT_MS)
    solver.add(*unrolling.constraints)
    breaks = [_breaks_at(unrolling, inv, k) for k in range(len(unrolling.choices))]
    solver.add(z3.Or(breaks))
    if solver.check() != z3.sat:
        return None
    model = solver.model()
    length = next(k + 1 for k, b in enumerate(breaks) if z3.is_true(model.eval(b, model_completion=True)))
    u = unrolling.universe
    operations: list[Operation] = []
    chosen: list[Handle | None] = []
    for choice, steps in zip(unrolling.choices[:length], unrolling.steps[:length], strict=True):
        params, _ = steps[model.eval(choice, model_completion=True).as_long()]
        operations.append(decode_operation(u, model, params))
        chosen.append(_allocated(u, model, params))
    concrete = run(unrolling.initial, operations, unrolling.mitigations, chosen)
    return Counterexample(inv.id, unrolling.variant, unrolling.initial, unrolling.mitigations, concrete)


def _allocated(u: Universe, model: z3.ModelRef, params: Params) -> Handle | None:
    """The key ID the solver chose for a key creation, wherever it sits in the (possibly carried) request."""
    if params.operation in (GenerateKey, ImportKey):
        return decode_handle(u, model, params["fresh_handle"])
    carried = params.values.get("request")
    return _allocated(u, model, carried) if isinstance(carried, Params) else None


def confirm(counterexample: Counterexample) -> bool:
    """Whether the Z3 twin admits the counterexample: run along its operations (with the key IDs the concrete run
    allocated), it can answer the same statuses at every step and break the same invariant at the last one. (The
    twin is deterministic except where the model leaves a choice open, so "can" is "does" for the shipped model.)"""
    u = universe()
    inv = invariant(counterexample.invariant)
    state = encode_state(u, counterexample.initial)
    facts: list[Expr] = []
    broken: Expr = z3.BoolVal(False)
    for trace_step in counterexample.steps:
        allocated = trace_step.allocated or Handle(counterexample.initial.active.providers[0], 1)
        symbolic = encode(u, state, encode_params(u, trace_step.operation, allocated))
        status = trace_step.status if trace_step.status is not None else NO_RESPONSE
        facts += [symbolic.guard, symbolic.status == E.status[status]]
        broken = _breaks(u, inv, state, symbolic)
        state = symbolic.post
    solver = z3.Solver()
    solver.set("timeout", QUERY_TIMEOUT_MS)
    solver.add(*facts, broken)
    return bool(solver.check() == z3.sat)
