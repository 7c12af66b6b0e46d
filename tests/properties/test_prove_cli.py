"""`parsec-tm prove`: arguments, text and JSON output, exit status (0 only when every invariant is proved)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import pytest

import properties.prove
from parsec_tm.cli import prove as prove_command
from properties.prove import ProofReport


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    prove_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def served(report: ProofReport, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """`run_all` answers the session's report; the list records the variants it was asked for."""
    asked: list[str | None] = []

    def fake_run_all(variant: str | None = None) -> ProofReport:
        asked.append(variant)
        return report

    monkeypatch.setattr(properties.prove, "run_all", fake_run_all)
    return asked


def test_json_output(served: list[str | None], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["prove", "--format", "json", "--variant", "no-idp"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"invariants", "mutations"} <= set(data)
    assert served == ["no-idp"]


def test_text_output(served: list[str | None], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["prove"]) == 0
    text = capsys.readouterr().out
    assert "tenant-isolation" in text and "counterexample" in text and "outside-model" in text
    assert served == [None]


def test_a_failed_proof_exits_1(
    report: ProofReport, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = replace(report, invariants=(replace(report.invariants[0], status="failed"),))
    monkeypatch.setattr(properties.prove, "run_all", lambda variant=None: failed)
    assert _run(["prove"]) == 1
    assert "failed" in capsys.readouterr().out


def test_unknown_variant_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        _run(["prove", "--variant", "nowhere"])


def test_run_all_rejects_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        properties.prove.run_all("nowhere")
