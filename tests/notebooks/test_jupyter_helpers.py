"""The notebooks' helpers: threat tables as DataFrames, the what-if computation and picture, and the widget that
redraws them when a mitigation is unticked."""

from __future__ import annotations

from dataflow.catalogue import load_catalogue
from dataflow.graph import build_graph
from dataflow.queries import unmitigated_threats
from parsec_tm.evidence.gather import gather_evidence
from parsec_tm.evidence.results import TestResult
from parsec_tm.jupyter import EXPOSED_COLOUR, evidence_frame, exposed_flows, threat_frame, what_if_widget


def test_the_threat_frame_has_one_row_per_threat_and_filters_like_any_dataframe() -> None:
    catalogue = load_catalogue()
    frame = threat_frame(catalogue)
    assert list(frame.index) == [t.id for t in catalogue.threats]
    tampering = frame[(frame.stride == "T") & frame.mitigations.str.contains(r"\bM-3\b")]
    assert set(tampering.index) == {t.id for t in catalogue.threats if t.stride == "T" and "M-3" in t.mitigations}
    assert frame.loc["A11-I-1", "mitigations"] == "U-5"


def test_the_evidence_frame_carries_status_and_counts() -> None:
    catalogue = load_catalogue()
    report = gather_evidence(catalogue, None, [TestResult("t.py::a", ("A1-R-1",), "passed")])
    frame = evidence_frame(report)
    assert frame.loc["A1-R-1", "status"] == "tested" and frame.loc["A1-R-1", "tests"] == 1
    assert not frame.loc["A1-T-1", "meets_goal"]


def test_removing_m3_exposes_the_client_flows() -> None:
    catalogue = load_catalogue()
    graph = build_graph(catalogue)
    threats, flows = exposed_flows(catalogue, graph, ["M-3"])
    assert "A1-T-1" in threats and "A2-I-1" in threats
    assert {"client_request", "service_response"} <= set(flows)
    assert exposed_flows(catalogue, graph, []) == ([], [])  # nothing removed, nothing newly exposed
    assert not set(threats) & {t.id for t in unmitigated_threats(catalogue)}  # only rows M-3 answered


def test_unticking_a_mitigation_redraws_the_diagram_and_lists_the_exposed_threats() -> None:
    catalogue = load_catalogue()
    widget = what_if_widget(catalogue, build_graph(catalogue))
    boxes = {box.description: box for box in widget.children[0].children}
    picture, table = widget.children[1], widget.children[2]
    assert set(boxes) == {m.id for m in catalogue.mitigations if m.kind in ("M", "O")}
    before = picture.value
    assert "A1-T-1" not in table.value
    boxes["M-3"].value = False
    assert picture.value != before and "Removed: M-3" in picture.value
    assert EXPOSED_COLOUR in picture.value
    assert "A1-T-1" in table.value and "A2-I-1" in table.value
    boxes["M-3"].value = True
    assert "A1-T-1" not in table.value
