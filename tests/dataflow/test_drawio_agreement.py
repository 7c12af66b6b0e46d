"""The dataflow graph agrees with the seed's draw.io diagram; every difference is explained in KNOWN_DIFFERENCES."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue
from dataflow.drawio import (
    CURRENT_KNOWN_DIFFERENCES,
    KNOWN_DIFFERENCES,
    Diagram,
    decode_diagram,
    diagram_differences,
    interpret,
    read_cells,
    unexplained,
)
from dataflow.graph import NON_TRUSTED, PARSEC_FLOWS, PARSEC_NODES, TRUSTED, TRUSTED_OUT_OF_SCOPE, build_graph


@pytest.fixture(scope="module")
def diagram(seed_diagram: Path) -> Diagram:
    return interpret(read_cells(seed_diagram))


def test_the_compressed_diagram_decodes_to_mxgraph_xml(seed_diagram: Path) -> None:
    xml = decode_diagram(seed_diagram)
    assert xml.startswith("<mxGraphModel")
    assert "Key Triple Mappings" in xml


def test_the_diagram_boxes_and_their_zones(diagram: Diagram) -> None:
    zones = {label: box.boundary for label, box in diagram.boxes.items()}
    assert zones == {
        "Client Library": NON_TRUSTED,
        "Parsec Service": TRUSTED,
        "Identity Provider": TRUSTED_OUT_OF_SCOPE,
        "OS Signals": NON_TRUSTED,
        "Dependencies": NON_TRUSTED,
        "Hardware Device Descriptor": TRUSTED_OUT_OF_SCOPE,
        "Configuration File": NON_TRUSTED,
        "Key Triple Mappings": NON_TRUSTED,
        "Logs": NON_TRUSTED,
        "Local Memory": TRUSTED,
        "SPIFFE implementation": NON_TRUSTED,
    }


def test_each_attacker_actor_sits_on_the_edge_the_seed_describes(diagram: Diagram) -> None:
    service = "Parsec Service"
    directions = {attacker: edge.directions for attacker, edge in diagram.attackers.items()}
    assert directions == {
        "A1": (("Client Library", service),),
        "A2": ((service, "Client Library"),),
        "A3": (("OS Signals", service),),
        "A4": ((service, "Hardware Device Descriptor"),),
        "A5": (("Hardware Device Descriptor", service),),
        "A6": ((service, "Key Triple Mappings"),),
        "A7": (("Key Triple Mappings", service),),
        "A8": ((service, "Logs"),),
        "A9": (("Configuration File", service),),
        "A10": (("Identity Provider", service),),
        "A11": (("Local Memory", "A11"),),
        "A12": ((service, "SPIFFE implementation"),),
        "A13": (("SPIFFE implementation", service),),
    }


def test_the_asset_markers_are_read(diagram: Diagram) -> None:
    assert diagram.asset_markers["Local Memory"] == ("AS1", "AS2", "AS4", "AS5")
    assert diagram.asset_markers["Logs"] == ("AS4", "AS5", "AS8")


def test_the_graph_agrees_with_the_diagram(diagram: Diagram, graph: nx.DiGraph) -> None:
    differences = diagram_differences(diagram, graph)
    assert unexplained(differences) == [], "\n".join(f"{d.kind}: {d.subject} {d.reason}" for d in differences)
    assert {(d.kind, d.subject) for d in differences} == {(d.kind, d.subject) for d in KNOWN_DIFFERENCES}


def test_the_current_revisions_graph_agrees_with_its_diagram_with_fewer_differences(
    diagram: Diagram, current: Catalogue
) -> None:
    differences = diagram_differences(diagram, build_graph(current), CURRENT_KNOWN_DIFFERENCES)
    assert unexplained(differences) == [], "\n".join(f"{d.kind}: {d.subject} {d.reason}" for d in differences)
    assert {(d.kind, d.subject) for d in differences} == {(d.kind, d.subject) for d in CURRENT_KNOWN_DIFFERENCES}
    assert len(CURRENT_KNOWN_DIFFERENCES) < len(KNOWN_DIFFERENCES)
    assert not any("SPIFFE" in d.subject or d.subject in ("A12", "A13") for d in CURRENT_KNOWN_DIFFERENCES)


def test_the_seed_explanations_of_the_spiffe_parts_are_stale_for_the_current_revision(
    diagram: Diagram, current: Catalogue
) -> None:
    stale = [d for d in diagram_differences(diagram, build_graph(current)) if d.kind == "stale-explanation"]
    assert {d.subject for d in stale} == {
        "node-only-in-diagram: SPIFFE implementation",
        "edge-only-in-diagram: Parsec Service -> SPIFFE implementation",
        "edge-only-in-diagram: SPIFFE implementation -> Parsec Service",
        "attacker-only-in-diagram: A12",
        "attacker-only-in-diagram: A13",
    }


def test_an_unexplained_difference_is_reported(diagram: Diagram, catalogue: Catalogue) -> None:
    nodes = [replace(n, boundary=NON_TRUSTED) if n.id == "local_memory" else n for n in PARSEC_NODES]
    flows = [replace(f, attackers=()) if f.id == "log_write" else f for f in PARSEC_FLOWS]
    found = unexplained(diagram_differences(diagram, build_graph(catalogue, nodes, flows)))
    assert {(d.kind, d.subject) for d in found} >= {
        ("boundary", "Local Memory: local_memory"),
        ("attacker-only-in-diagram", "A8"),
    }


def test_a_stale_explanation_is_reported(diagram: Diagram, catalogue: Catalogue) -> None:
    nodes = [n for n in PARSEC_NODES if n.id != "hardware_modules"]
    flows = [f for f in PARSEC_FLOWS if "hardware_modules" not in (f.source, f.target)]
    found = unexplained(diagram_differences(diagram, build_graph(catalogue, nodes, flows)))
    assert [(d.kind, d.subject) for d in found] == [("stale-explanation", "node-only-in-graph: hardware_modules")]


def test_a_missing_flow_is_reported(diagram: Diagram, catalogue: Catalogue) -> None:
    flows = [f for f in PARSEC_FLOWS if f.id != "configuration_read"]
    found = unexplained(diagram_differences(diagram, build_graph(catalogue, PARSEC_NODES, flows)))
    assert ("edge-only-in-diagram", "Configuration File -> Parsec Service") in {(d.kind, d.subject) for d in found}
