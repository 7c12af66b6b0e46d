"""`parsec-tm prove`: arguments, text and JSON output, exit status (0 only when everything is proved and every
counterexample confirmed; 1 otherwise; 2 when the request or the model cannot be proved as asked)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

import pytest

import properties.prove
from model.operations import ExportKey, KeyUse
from parsec_tm.cli import prove as prove_command
from properties.prove import ProofReport


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    prove_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def served(report: ProofReport, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """`run_all` answers the session's report; the list records what it was asked for."""
    asked: list[dict[str, Any]] = []

    def fake_run_all(variant: str | None = None, **options: Any) -> ProofReport:
        asked.append({"variant": variant, **options})
        return report

    monkeypatch.setattr(properties.prove, "run_all", fake_run_all)
    return asked


def test_json_output(served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["prove", "--format", "json", "--variant", "no-idp"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"invariants", "mutations", "ok", "problems"} <= set(data) and data["ok"] is True
    assert served[0]["variant"] == "no-idp"
    trace = next(m["trace"] for m in data["mutations"] if m["trace"] is not None)
    step = trace["steps"][-1]
    assert {"operation", "actor", "arguments", "status", "effects", "threats", "breaks"} <= set(step)
    assert trace["breaking_step"] == step["number"] and trace["confirmed_by_z3"] is True


def test_text_output_shows_capabilities_and_confirmation(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["prove"]) == 0
    text = capsys.readouterr().out
    assert "tenant-isolation" in text and "counterexample" in text and "outside-model" in text
    assert "capabilities used: " in text and "confirmed by Z3" in text and "<== breaks" in text
    assert "NOT confirmed" not in text
    assert served[0]["variant"] is None


def test_selection_and_timeout_reach_run_all(served: list[dict[str, Any]]) -> None:
    argv = ["prove", "--invariant", "tenant-isolation", "mapping-integrity", "--mitigation", "M-3", "--timeout", "3"]
    assert _run(argv) == 0
    assert served[0]["invariant_ids"] == ["tenant-isolation", "mapping-integrity"]
    assert served[0]["mitigation_filter"] == ["M-3"] and served[0]["timeout_seconds"] == 3.0
    assert served[0]["mutations"] is True
    assert _run(["prove", "--no-mutations"]) == 0
    assert served[1]["mutations"] is False


def test_a_failed_proof_exits_1(
    report: ProofReport, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = replace(report, invariants=(replace(report.invariants[0], status="failed"),))
    monkeypatch.setattr(properties.prove, "run_all", lambda variant=None, **options: failed)
    assert _run(["prove"]) == 1
    assert "failed" in capsys.readouterr().out


def test_an_unconfirmed_counterexample_exits_1(
    report: ProofReport, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict = next(m for m in report.mutations if m.counterexamples)
    shortest = verdict.counterexamples[0]
    doubted = replace(
        verdict, findings=(replace(verdict.findings[0], counterexamples=(replace(shortest, confirmed_by_z3=False),)),)
    )
    monkeypatch.setattr(
        properties.prove, "run_all", lambda variant=None, **options: replace(report, mutations=(doubted,))
    )
    assert _run(["prove"]) == 1
    text = capsys.readouterr().out
    assert "NOT CONFIRMED" in text and "not confirmed by the Z3 twin" in text


def test_unknown_ids_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["prove", "--invariant", "no-such-invariant", "--no-mutations"]) == 2
    assert "unknown invariant no-such-invariant" in capsys.readouterr().err
    assert _run(["prove", "--mitigation", "M-99", "--variant", "no-idp", "--invariant", "tenant-isolation"]) == 2
    assert "unknown mitigation M-99" in capsys.readouterr().err


def test_unknown_variant_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        _run(["prove", "--variant", "nowhere"])


def test_run_all_rejects_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        properties.prove.run_all("nowhere")


@pytest.mark.threat("A7-S-1")
def test_a_planted_model_bug_fails_loudly_with_its_counterexample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Key lookup ignoring the application, in the model and its twin: `prove` exits 1 with the two-step run."""
    from tests.properties.test_broken_transition import (
        _lookup_ignoring_application,
        _symbolic_lookup_ignoring_application,
    )

    monkeypatch.setattr("model.step._resolve", _lookup_ignoring_application)
    monkeypatch.setattr("model.symbolic._resolve", _symbolic_lookup_ignoring_application)
    assert _run(["prove", "--variant", "no-idp", "--invariant", "tenant-isolation", "--no-mutations"]) == 1
    text = capsys.readouterr().out
    assert "tenant-isolation                 failed" in text
    assert "<== breaks tenant-isolation" in text and "confirmed by Z3" in text
    assert "Z3's model of the first failing check: transition = " in text
    assert any(cls.__name__ in text for cls in (*KeyUse.__subclasses__(), ExportKey))
