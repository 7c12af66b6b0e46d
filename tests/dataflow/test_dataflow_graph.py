"""The dataflow graph: components with kinds, boundaries and code, flows with their attackers, variants."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue
from dataflow.errors import CatalogueError
from dataflow.graph import (
    PARSEC_FLOWS,
    PARSEC_NODES,
    PARSEC_SERVICE_BOX,
    TRUSTED,
    Flow,
    boundary_members,
    build_graph,
    crossing_edges,
    flow_edge,
    flows_of_attacker,
    graph_for_variant,
)

PIPELINE = {"listener", "front_end", "authenticator", "dispatcher", "key_info_manager", "service"}
PROVIDERS = {"provider_core", "provider_software", "provider_pkcs11", "provider_tpm"}


def test_the_parsec_service_box_is_its_internal_pipeline(graph: nx.DiGraph) -> None:
    inside = {node for node, box in graph.nodes(data="diagram") if box == PARSEC_SERVICE_BOX}
    assert inside == PIPELINE | PROVIDERS
    assert all(graph.nodes[node]["kind"] == "process" and graph.nodes[node]["boundary"] == TRUSTED for node in inside)


def test_internal_nodes_name_their_reference_service_code(graph: nx.DiGraph) -> None:
    assert graph.nodes["listener"]["code"] == "refimpl/front/listener.py"
    assert graph.nodes["front_end"]["code"] == "refimpl/front/front_end.py"
    assert graph.nodes["dispatcher"]["code"] == "refimpl/back/dispatcher.py"
    assert graph.nodes["provider_tpm"]["code"] == "refimpl/providers/tpm"
    assert all(graph.nodes[node]["code"].startswith("refimpl/") for node in PIPELINE | PROVIDERS)


def test_node_kinds(graph: nx.DiGraph) -> None:
    kinds = dict(graph.nodes(data="kind"))
    assert kinds["client_library"] == "external entity"
    assert kinds["identity_provider"] == "external entity"
    assert {kinds[n] for n in ("configuration_file", "key_triple_mappings", "logs", "local_memory")} == {"data store"}


@pytest.mark.parametrize(
    ("attacker", "flows"),
    [
        ("A1", [("client_library", "listener")]),
        ("A2", [("listener", "client_library")]),
        ("A3", [("os_signals", "service")]),
        ("A4", [("provider_pkcs11", "hardware_device_descriptor"), ("provider_tpm", "hardware_device_descriptor")]),
        ("A5", [("hardware_device_descriptor", "provider_pkcs11"), ("hardware_device_descriptor", "provider_tpm")]),
        ("A6", [("key_info_manager", "key_triple_mappings")]),
        ("A7", [("key_triple_mappings", "key_info_manager")]),
        ("A8", [("service", "logs")]),
        ("A9", [("configuration_file", "service")]),
        ("A10", [("identity_provider", "authenticator")]),
        ("A11", [("local_memory", "co_scheduled_process")]),
    ],
)
def test_each_attacker_is_bound_to_its_flow(graph: nx.DiGraph, attacker: str, flows: list[tuple[str, str]]) -> None:
    assert sorted(flows_of_attacker(graph, attacker)) == sorted(flows)


def test_every_attacker_flow_crosses_a_trust_boundary(graph: nx.DiGraph) -> None:
    crossing = set(crossing_edges(graph))
    attacked = {(u, v) for u, v, attackers in graph.edges(data="attackers") if attackers}
    assert attacked <= crossing
    assert crossing - attacked == {("service", "dependencies"), ("dependencies", "service")}


def test_boundaries_are_node_attributes(graph: nx.DiGraph) -> None:
    members = boundary_members(graph)
    assert set(members["trusted-out-of-scope"]) == {
        "identity_provider",
        "hardware_device_descriptor",
        "hardware_modules",
    }
    assert "local_memory" in members["trusted"]
    assert graph.graph["boundaries"]["trusted-out-of-scope"].assumptions == ("ASUM-1", "ASUM-6")


def test_flow_lookup(graph: nx.DiGraph) -> None:
    assert flow_edge(graph, "trust_bundle") == ("identity_provider", "authenticator")
    with pytest.raises(CatalogueError, match="unknown flow 'carrier_pigeon'; defined: "):
        flow_edge(graph, "carrier_pigeon")


def test_the_no_idp_graph_drops_the_identity_provider_and_scopes_out_attackers(no_idp: Catalogue) -> None:
    graph = build_graph(no_idp)
    assert graph.graph["variant"] == "no-idp"
    assert "identity_provider" not in graph
    request = graph.edges["client_library", "listener"]
    assert (request["attackers"], request["out_of_scope_attackers"]) == ((), ("A1",))
    assert graph.nodes["local_memory"]["assets"] == ("AS4", "AS5")
    assert flows_of_attacker(graph, "A9") == [("configuration_file", "service")]


def test_variant_graphs_derive_from_the_base_graph(graph: nx.DiGraph, no_idp: Catalogue, catalogue: Catalogue) -> None:
    derived = graph_for_variant(graph, no_idp)
    assert nx.utils.graphs_equal(derived, build_graph(no_idp))
    assert graph_for_variant(graph, catalogue) is graph
    with pytest.raises(CatalogueError, match="from the base graph"):
        graph_for_variant(derived, catalogue)


def test_a_flow_to_an_undefined_node_is_refused(catalogue: Catalogue) -> None:
    flows = [*PARSEC_FLOWS, Flow("ghost", "listener", "nowhere", "a flow to nothing")]
    with pytest.raises(CatalogueError, match=r"flow 'ghost': node\(s\) nowhere not defined"):
        build_graph(catalogue, PARSEC_NODES, flows)


def test_two_flows_on_one_edge_are_refused(catalogue: Catalogue) -> None:
    flows = [*PARSEC_FLOWS, replace(PARSEC_FLOWS[0], id="client_request_again")]
    with pytest.raises(CatalogueError, match="is already flow 'client_request'"):
        build_graph(catalogue, PARSEC_NODES, flows)


@pytest.mark.parametrize(
    ("configuration", "has_identity_provider", "has_spiffe"),
    [("all", True, True), ("GNRC", True, False), ("DSPC", True, False), ("DRCT", False, False), ("JWTS", True, True)],
)
def test_the_current_revision_draws_the_components_of_each_configuration(
    current: Catalogue, configuration: str, has_identity_provider: bool, has_spiffe: bool
) -> None:
    graph = build_graph(current.variant(configuration))
    assert ("identity_provider" in graph, "spiffe_implementation" in graph) == (has_identity_provider, has_spiffe)
    if has_spiffe:
        assert flows_of_attacker(graph, "A12") == [("authenticator", "spiffe_implementation")]
        assert flows_of_attacker(graph, "A13") == [("spiffe_implementation", "authenticator")]


def test_the_seed_graph_has_no_spiffe_implementation(graph: nx.DiGraph) -> None:
    assert "spiffe_implementation" not in graph
