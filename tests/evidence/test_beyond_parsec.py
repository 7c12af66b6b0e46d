"""Unmitigations Parsec leaves open that the reference service mitigates are noted beside them, with real evidence.

The threat model keeps U-0 as Parsec's document writes it; the evidence of a row naming it carries the note, and
every test and benchmark the note cites exists, so the note cannot outlive what it points at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dataflow.catalogue import BUILTIN_MODELS, load_catalogue
from parsec_tm.evidence.reasons import MITIGATED_BY_THE_REFERENCE_SERVICE
from parsec_tm.evidence.run import evidence_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model", list(BUILTIN_MODELS))
def test_each_note_concerns_an_unmitigation_of_the_document(model: str) -> None:
    catalogue = load_catalogue(model=model)
    for identifier in MITIGATED_BY_THE_REFERENCE_SERVICE:
        assert catalogue.mitigation(identifier).kind == "U"


def test_every_cited_test_and_benchmark_exists() -> None:
    for note in MITIGATED_BY_THE_REFERENCE_SERVICE.values():
        for cited in note.tests:
            path, _, name = cited.partition("::")
            source = ROOT / path.split(" ")[0]
            assert source.is_file(), cited
            if name:
                functions = {
                    node.name for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.FunctionDef)
                }
                assert name in functions, cited
        assert (ROOT / note.bench.split(":")[0]).is_file(), note.bench


@pytest.mark.threat("A1-D-2", "U-0")
def test_the_evidence_of_a_row_naming_u0_carries_the_note() -> None:
    report = evidence_report(None, proofs=False)
    row = next(threat for threat in report.threats if threat.id == "A1-D-2")
    notes = [item.detail for item in row.evidence if item.ref == "U-0"]
    assert len(notes) == 1
    assert notes[0].startswith(load_catalogue().mitigation("U-0").justification)
    assert "The reference service mitigates it in part" in notes[0]
    assert "test_idle_and_stalled_connections_hold_no_worker" in notes[0]
