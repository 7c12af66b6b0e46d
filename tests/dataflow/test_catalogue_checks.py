"""`run_checks` passes on the built-in model and names the problem on catalogues broken as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue, load_catalogue
from dataflow.checks import Problem, run_checks
from dataflow.graph import PARSEC_FLOWS, PARSEC_NODES, build_graph
from tests.dataflow.catalogue_helpers import Document, mitigation_entry, threat_entry


def problems_of(document: Document, write: Callable[[Document], Path]) -> list[Problem]:
    catalogue = load_catalogue(write(document))
    return run_checks(catalogue, build_graph(catalogue))


def test_the_built_in_model_passes(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    assert run_checks(catalogue, graph) == []


def test_the_no_idp_model_passes(no_idp: Catalogue) -> None:
    assert run_checks(no_idp, build_graph(no_idp)) == []


def test_a_dangling_mitigation_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    threat_entry(document, "A1-T-1")["mitigations"] = ["M-3", "M-9"]
    assert problems_of(document, write_catalogue) == [
        Problem("dangling-reference", "A1-T-1", "field 'mitigations' names M-9, which is not defined")
    ]


def test_a_dangling_asset_and_assumption_are_named(
    document: Document, write_catalogue: Callable[[Document], Path]
) -> None:
    threat_entry(document, "A3-T-1")["mitigations"] = ["ASUM-7"]
    threat_entry(document, "A3-T-1")["assets"] = ["AS9"]
    codes = {(p.code, p.subject, p.message) for p in problems_of(document, write_catalogue)}
    assert ("dangling-reference", "A3-T-1", "field 'mitigations' names ASUM-7, which is not defined") in codes
    assert ("dangling-reference", "A3-T-1", "field 'assets' names AS9, which is not defined") in codes


def test_an_unused_mitigation_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    threat_entry(document, "A8-S-2")["mitigations"] = ["O-5"]
    problems = problems_of(document, write_catalogue)
    assert [(p.code, p.subject) for p in problems] == [("unused-mitigation", "M-7")]


def test_an_unused_asset_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    document["assets"].append({"id": "AS9", "name": "Backups", "description": "Copies of the mappings."})
    assert [(p.code, p.subject) for p in problems_of(document, write_catalogue)] == [("unused-asset", "AS9")]


def test_a_threat_with_no_mitigation_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    threat_entry(document, "A11-I-1")["mitigations"] = []
    problems = problems_of(document, write_catalogue)
    assert ("no-mitigation", "A11-I-1") in {(p.code, p.subject) for p in problems}
    assert ("unused-mitigation", "U-5") in {(p.code, p.subject) for p in problems}


def test_a_misnumbered_threat_id_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    threat_entry(document, "A1-S-2")["id"] = "A1-S-3"
    (problem,) = problems_of(document, write_catalogue)
    assert (problem.code, problem.subject) == ("threat-id", "A1-S-3")
    assert "its ID should be A1-S-2" in problem.message


def test_a_duplicate_id_is_named(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    document["mitigations"].append(dict(mitigation_entry(document, "O-3")))
    assert ("duplicate-id", "O-3") in {(p.code, p.subject) for p in problems_of(document, write_catalogue)}


def test_an_na_row_that_is_also_analysed_is_named(
    document: Document, write_catalogue: Callable[[Document], Path]
) -> None:
    document["not_applicable"].append({"attacker": "A1", "stride": "S", "text": "N/A"})
    assert ("not-applicable-conflict", "A1-S (N/A)") in {
        (p.code, p.subject) for p in problems_of(document, write_catalogue)
    }


def test_a_variant_naming_an_undefined_subject_is_named(
    document: Document, write_catalogue: Callable[[Document], Path]
) -> None:
    no_idp = next(v for v in document["variants"] if v["id"] == "no-idp")
    no_idp["exclusions"].append({"subject": "A12", "reason": "Not applicable."})
    no_idp["contingent_on"] = ["M-3"]
    problems = {(p.code, p.subject, p.message) for p in problems_of(document, write_catalogue)}
    assert ("dangling-reference", "variant no-idp", "field 'exclusions' names A12, which is not defined") in problems
    assert ("variant", "variant no-idp", "contingent on M-3, which is not an operational mitigation") in problems
    assert (
        "unused-mitigation",
        "O-10",
        "no threat names it and no variant depends on it; remove it or cite it",
    ) in problems


def test_a_stride_gap_on_a_crossing_flow_is_named(catalogue: Catalogue) -> None:
    flows = [replace(f, not_analysed="") if f.id == "memory_leak" else f for f in PARSEC_FLOWS]
    problems = run_checks(catalogue, build_graph(catalogue, PARSEC_NODES, flows))
    assert {(p.code, p.subject) for p in problems} == {
        ("stride-gap", "flow memory_leak"),
        ("stride-gap", "flow memory_leak (no-idp)"),
    }
    assert "letters STRDE are neither analysed nor N/A" in problems[0].message


def test_an_unbound_attacker_and_an_unknown_flow_attacker_are_named(catalogue: Catalogue) -> None:
    flows = [replace(f, attackers=("A12",)) if f.id == "os_signal" else f for f in PARSEC_FLOWS]
    problems = {(p.code, p.subject) for p in run_checks(catalogue, build_graph(catalogue, PARSEC_NODES, flows))}
    assert ("unbound-attacker", "A3") in problems
    assert ("dangling-reference", "flow os_signal") in problems


def test_an_unknown_boundary_is_named(catalogue: Catalogue) -> None:
    nodes = [replace(n, boundary="dmz") if n.id == "logs" else n for n in PARSEC_NODES]
    problems = run_checks(catalogue, build_graph(catalogue, nodes, PARSEC_FLOWS))
    assert ("unknown-boundary", "logs") in {(p.code, p.subject) for p in problems}


def test_problems_read_as_one_line(document: Document, write_catalogue: Callable[[Document], Path]) -> None:
    threat_entry(document, "A1-T-1")["mitigations"] = ["M-3", "M-9"]
    (problem,) = problems_of(document, write_catalogue)
    assert str(problem) == "dangling-reference: A1-T-1: field 'mitigations' names M-9, which is not defined"


@pytest.mark.parametrize("variant", ["with-idp", "no-idp"])
def test_checks_without_a_graph_cover_the_catalogue_alone(catalogue: Catalogue, variant: str) -> None:
    assert run_checks(catalogue.variant(variant)) == []
