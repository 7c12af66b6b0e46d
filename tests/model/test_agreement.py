"""The Z3 twin agrees with `model.step` on every transition and every status it can return, in every deployment.

`model.agreement` enumerates every operation of every registered transition from small representative states and
checks the twin on each distinct behaviour; these tests hold it to full coverage, and plant wrong encoders (a wrong
status, released key data sent to the victim alone, a missed release) and a missing one to show each is caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import z3

from model.agreement import check_agreement, coverage, instances, missing_encoders
from model.codec import fresh_params
from model.nouns import VARIANTS, VariantName
from model.operations import Attack, EavesdropResponse, HardwareExtract, Operation, ProbeStatus
from model.parsec import Status
from model.state import State
from model.step import Outcome
from model.symbolic import (
    ENCODERS,
    ENUMS,
    MissingEncoder,
    Opt,
    Params,
    Route,
    SymState,
    SymStep,
    Universe,
    encode,
    fresh_state,
    serve,
    unbounded_universe,
)
from model.transitions import REGISTRY, transition


def test_every_registered_transition_has_an_encoder() -> None:
    assert missing_encoders() == ()
    assert {operation for operation, _ in instances()} == set(REGISTRY)


def assert_full_agreement(variant: VariantName) -> None:
    """No disagreement, and every (instance, status) pair the twin can produce in `variant` reached."""
    report = check_agreement((variant,))
    assert report.disagreements == []
    covered = coverage(report)
    assert covered.missed(variant) == frozenset(), "\n".join(covered.lines())
    transitions = {instance.split("[")[0] for instance, _ in covered.possible[variant]}
    assert transitions == {op.__name__ for op, spec in REGISTRY.items() if spec.exists_in(variant)}
    statuses = {status for _, status in covered.covered[variant]}
    assert {"Success", "refused", "no-answer", "PsaErrorNotPermitted", "AuthenticationError"} <= statuses


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_twin_agrees_on_every_transition_and_status(variant: VariantName) -> None:
    assert_full_agreement(variant)


# --------------------------------------------------------------------------------------------- planted wrong encoders
def _released_to_the_victim_alone(u: Universe, s: SymState, params: Params) -> SymStep:
    """EavesdropResponse whose response reaches only its sender: the attacker's copy of the key data is missed."""
    request = params["request"]
    caller: Opt = request["caller"]
    step = serve(u, s, request, Route(caller, (caller,), z3.BoolVal(True)))
    return replace(step, guard=z3.And(caller.present, step.guard))


def _always_absent(u: Universe, s: SymState, params: Params) -> SymStep:
    """ProbeStatus that answers PsaErrorDoesNotExist whether or not the victim holds the key."""
    right = ENCODERS_BEFORE[ProbeStatus](u, s, params)
    return replace(right, status=ENUMS.status[Status.PSA_ERROR_DOES_NOT_EXIST.value])


def _extract_without_release(u: Universe, s: SymState, params: Params) -> SymStep:
    """HardwareExtract that forgets the key material it hands the attacker."""
    right = ENCODERS_BEFORE[HardwareExtract](u, s, params)
    return replace(right, effects=replace(right.effects, releases=()))


ENCODERS_BEFORE = dict(ENCODERS)


@pytest.mark.parametrize(
    ("operation", "wrong", "differs"),
    [
        (EavesdropResponse, _released_to_the_victim_alone, "effects"),
        (ProbeStatus, _always_absent, "status"),
        (HardwareExtract, _extract_without_release, "effects"),
    ],
    ids=["key-data-to-the-victim", "wrong-status", "missed-release"],
)
def test_a_planted_wrong_encoder_is_caught(
    operation: type[Operation], wrong: object, differs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ENCODERS, operation, wrong)
    report = check_agreement(("no-idp",), only=frozenset({operation}))
    assert report.disagreements, f"the wrong {operation.__name__} encoder went unnoticed"
    assert all(operation.__name__ in line for line in report.disagreements)
    assert any(f"{differs} differ" in line for line in report.disagreements)


def test_the_right_encoders_pass_the_same_checks() -> None:
    operations = frozenset({EavesdropResponse, ProbeStatus, HardwareExtract})
    report = check_agreement(("no-idp",), only=operations)
    assert report.checks > 10 and report.disagreements == []


# ---------------------------------------------------------------------------------------------- a missing encoder
@dataclass(frozen=True)
class Unencoded(Attack):
    """A capability registered with a concrete transition and no twin."""


def _unencoded(state: State, operation: Unencoded) -> tuple[State, Outcome]:
    return state, Outcome(None)


@pytest.fixture
def unencoded() -> Iterator[type[Operation]]:
    """`Unencoded` registered in the model (the registry is restored afterwards)."""
    saved = dict(REGISTRY)
    transition(Unencoded, blocked_by=("O-3",))(_unencoded)
    yield Unencoded
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_a_missing_encoder_is_named(unencoded: type[Operation]) -> None:
    assert missing_encoders() == ("Unencoded",)
    u = unbounded_universe()
    with pytest.raises(MissingEncoder, match="Unencoded has no Z3 encoder"):
        encode(u, fresh_state(u, "pre"), fresh_params(u, unencoded, "x"))
