"""No result stronger than its evidence: each way a proof can mislead is planted, and each is reported loudly.

- an invariant without a Z3 form (vacuous: nothing would be proved) is `checked-concretely`, never `proved`;
- an invariant without a concrete form, or naming unknown lemmas, is refused when declared;
- a planted model bug makes the proof `failed`, with the shortest concrete run, confirmed by Z3, and Z3's model;
- a counterexample the Z3 twin does not admit (a concrete transition changed behind the twin's back) is marked
  not confirmed, and the report is not ok;
- a solver timeout is `unknown`; a transition without an encoder stops `prove` with a message naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

import properties.invariants
from model.operations import Attack, HardwareUse
from model.state import State
from model.step import Effects, Outcome, Release
from model.transitions import REGISTRY, transition
from properties.induction import encode_system, prove
from properties.invariants import INVARIANTS, Invariant
from properties.prove import ModelIncomplete, run_all


def _always(state: State) -> bool:
    return True


def _at_most_one_key(state: State) -> bool:
    return len(state.provider_keys) <= 1


VACUOUS = Invariant("vacuous", "checked only on concrete states", (), holds_in_state=_always)
FALSE_AND_UNPROVABLE = Invariant(
    "one-key-only", "the service never holds two keys", (), holds_in_state=_at_most_one_key
)


def test_an_invariant_without_a_z3_form_is_not_proved() -> None:
    result = prove(VACUOUS, encode_system("no-idp"))
    assert result.status == "checked-concretely"
    assert "no Z3 form" in result.reason and "add a Z3 formula" in result.reason


def test_a_false_invariant_without_a_z3_form_gets_its_concrete_counterexample() -> None:
    result = prove(FALSE_AND_UNPROVABLE, encode_system("no-idp"))
    assert result.status == "failed" and result.counterexample is not None
    assert result.counterexample.breaking_step == 2
    assert result.counterexample.confirmed_by_z3 is None, "Z3 cannot check what it has no formula for"


def test_the_report_of_a_vacuous_invariant_is_not_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(properties.invariants, "INVARIANTS", (*INVARIANTS, VACUOUS))
    report = run_all("no-idp", mutations=False)
    assert not report.ok
    assert any(p.startswith("vacuous (no-idp): checked-concretely") for p in report.problems)


def test_an_invariant_without_a_concrete_form_is_refused() -> None:
    with pytest.raises(ValueError, match="no concrete form"):
        Invariant("formula-only", "cannot be replayed", (), state_formula=lambda u, s: s.lifecycle == s.lifecycle)
    with pytest.raises(ValueError, match="unknown lemmas: no-such-lemma"):
        Invariant("bad-lemma", "strengthened by nothing known", ("no-such-lemma",), holds_in_state=_always)


# ---------------------------------------------------------------------------------------- a counterexample Z3 rejects
def _use_that_leaks(state: State, operation: HardwareUse) -> tuple[State, Outcome] | None:
    """HardwareUse changed behind the twin's back: the concrete model now hands the attacker the key material."""
    key = state.provider_keys.get(operation.handle)
    if key is None or operation.handle.provider.name == "MBED_CRYPTO":
        return None
    release = Release(operation.handle, operation.attacker, False)
    touched = frozenset({operation.handle})
    return state, Outcome(None, effects=Effects(actor=operation.attacker, touched=touched, releases=(release,)))


def test_a_counterexample_the_twin_does_not_admit_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, HardwareUse, replace(REGISTRY[HardwareUse], run=_use_that_leaks))
    report = run_all("no-idp", mitigation_filter=["O-8"], invariant_ids=["private-key-confidentiality"])
    (o8,) = report.mutations
    leaks = [c for c in o8.counterexamples if c.capabilities == ("HardwareUse",)]
    assert leaks and not any(c.confirmed_by_z3 for c in leaks)
    assert not o8.all_confirmed and not report.ok
    assert "O-8 (no-idp): a counterexample is not confirmed by the Z3 twin" in report.problems


# ----------------------------------------------------------------------------------------------- timeouts, encoders
def test_a_solver_timeout_is_unknown() -> None:
    report = run_all("no-idp", mutations=False, invariant_ids=["mapping-integrity"], timeout_seconds=0.001)
    (result,) = report.invariants
    assert result.status == "unknown" and "gave up" in result.reason and "timeout" in result.reason
    assert not report.ok


@dataclass(frozen=True)
class Unencoded(Attack):
    """A capability registered with its concrete transition only."""


@pytest.fixture
def unencoded() -> Iterator[None]:
    saved = dict(REGISTRY)
    transition(Unencoded, blocked_by=("O-3",))(lambda state, operation: (state, Outcome(None)))
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


@pytest.mark.usefixtures("unencoded")
def test_a_transition_without_an_encoder_stops_prove_with_its_name() -> None:
    with pytest.raises(ModelIncomplete, match=r"no Z3 encoder for the transition.* Unencoded"):
        run_all("no-idp", mutations=False)


def test_prove_exits_1_on_a_vacuous_invariant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from parsec_tm.cli import prove as prove_command

    monkeypatch.setattr(properties.invariants, "INVARIANTS", (*INVARIANTS, VACUOUS))
    parser = argparse.ArgumentParser(prog="parsec-tm")
    prove_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prove", "--variant", "no-idp", "--no-mutations"])
    assert args.handler(args) == 1
    text = capsys.readouterr().out
    assert "vacuous                          checked-concretely" in text
    assert "Not proved or not confirmed:" in text and "add a Z3 formula" in text
