"""Queries: threats by asset, attacker, mitigation and flow; what-if; reach across trust boundaries; coverage."""

from __future__ import annotations

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue, Threat
from dataflow.errors import CatalogueError
from dataflow.graph import build_graph
from dataflow.queries import (
    filter_threats,
    reachable_assets,
    resolve_threats,
    stride_coverage,
    threats_by_asset,
    threats_by_attacker,
    threats_by_mitigation,
    threats_on_flow,
    unmitigated_threats,
    what_if_removed,
)


def ids(threats: list[Threat]) -> list[str]:
    return [t.id for t in threats]


def test_threats_by_asset_include_the_all_rows(catalogue: Catalogue) -> None:
    assert ids(threats_by_asset(catalogue, "AS7")) == [
        "A1-E-1",
        "A5-E-1",
        "A7-E-1",
        "A9-E-1",
        "A10-S-1",
        "A10-T-1",
        "A10-E-1",
    ]
    assert "A11-I-1" in ids(threats_by_asset(catalogue, "AS1"))


def test_threats_by_attacker_and_mitigation(catalogue: Catalogue) -> None:
    assert ids(threats_by_attacker(catalogue, "A3")) == ["A3-T-1", "A3-D-1"]
    assert ids(threats_by_mitigation(catalogue, "M-7")) == ["A8-S-2"]
    assert ids(threats_by_mitigation(catalogue, "ASUM-2")) == ["A5-S-1"]
    assert [t.attacker for t in threats_by_mitigation(catalogue, "M-4")] == ["A1", "A2", "A4", "A5", "A6", "A7"]


def test_filters_combine(catalogue: Catalogue) -> None:
    assert ids(filter_threats(catalogue, attacker="A7", mitigation="O-3", asset="AS6")) == [
        "A7-S-1",
        "A7-D-2",
        "A7-D-3",
        "A7-E-1",
    ]
    assert len(filter_threats(catalogue)) == 68


def test_unknown_ids_are_refused_with_the_defined_ones(catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="unknown asset 'AS9'"):
        threats_by_asset(catalogue, "AS9")
    with pytest.raises(CatalogueError, match="unknown assumption 'ASUM-9'"):
        threats_by_mitigation(catalogue, "ASUM-9")
    with pytest.raises(CatalogueError, match="unknown mitigation 'M-8'"):
        what_if_removed(catalogue, ["M-8"])


def test_what_if_m3_is_removed(catalogue: Catalogue) -> None:
    assert ids(what_if_removed(catalogue, ["M-3"])) == [
        "A1-T-1", "A1-I-1", "A1-I-2", "A1-D-1",
        "A2-T-1", "A2-I-1", "A2-D-1", "A2-D-2", "A2-E-1",
        "A10-T-1", "A10-D-1",
    ]  # fmt: skip


def test_what_if_keeps_threats_with_another_mitigation(catalogue: Catalogue) -> None:
    assert ids(what_if_removed(catalogue, ["M-6"])) == ["A7-T-1", "A7-I-1", "A7-D-1"]
    assert ids(what_if_removed(catalogue, ["M-6", "O-3"])) == [
        "A6-S-1", "A6-T-1", "A6-I-1", "A7-S-1", "A7-T-1", "A7-I-1", "A7-D-1", "A7-D-2",
    ]  # fmt: skip


def test_removing_an_unmitigation_leaves_nothing_bare(catalogue: Catalogue) -> None:
    assert what_if_removed(catalogue, ["U-3"]) == []


def test_threats_already_without_an_m_or_o_mitigation(catalogue: Catalogue) -> None:
    assert ids(unmitigated_threats(catalogue)) == ["A1-S-1", "A3-T-1", "A11-I-1"]


def test_what_if_in_the_no_idp_variant(no_idp: Catalogue) -> None:
    assert what_if_removed(no_idp, ["M-3"]) == []


def test_threats_on_a_flow(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    assert ids(threats_on_flow(graph, catalogue, "configuration_read")) == [t.id for t in catalogue.threats_of("A9")]
    assert threats_on_flow(graph, catalogue, "dispatch") == []
    resolved = resolve_threats(graph, catalogue)
    assert len(resolved) == graph.number_of_edges()
    assert [t.id for t in resolved["hardware_result_tpm"]] == [t.id for t in catalogue.threats_of("A5")]


def test_a1_reaches_private_keys_across_the_trust_boundary(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    reach = {r.asset: r for r in reachable_assets(graph, catalogue, "A1")}
    assert set(reach) == {"AS1", "AS2", "AS3", "AS4", "AS5", "AS6", "AS7"}
    assert reach["AS1"].location == "client_request"
    assert reach["AS3"].path[:4] == ("client_library", "listener", "front_end", "dispatcher")
    assert reach["AS3"].crossings == ("non-trusted → trusted",)


def test_a11_reaches_only_what_memory_leaks(catalogue: Catalogue, graph: nx.DiGraph, no_idp: Catalogue) -> None:
    assert [r.asset for r in reachable_assets(graph, catalogue, "A11")] == ["AS1", "AS2", "AS4", "AS5"]
    assert [r.asset for r in reachable_assets(build_graph(no_idp), no_idp, "A11")] == ["AS4", "AS5"]


def test_a5_reaches_the_service_from_the_out_of_scope_zone(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    reach = {r.asset: r for r in reachable_assets(graph, catalogue, "A5")}
    assert reach["AS7"].crossings == ("trusted-out-of-scope → trusted",)
    assert reach["AS7"].location == "key_info_manager"


def test_an_out_of_scope_attacker_reaches_nothing(no_idp: Catalogue, catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="unknown attacker 'A1' in variant 'no-idp'"):
        reachable_assets(build_graph(no_idp), no_idp, "A1")


def test_stride_coverage_of_crossing_flows(catalogue: Catalogue, graph: nx.DiGraph) -> None:
    coverage = {c.flow: c for c in stride_coverage(catalogue, graph)}
    assert len(coverage) == 15
    assert all(not c.missing for c in coverage.values())
    statuses = {c.letter: c.status for c in coverage["os_signal"].letters}
    assert statuses == {"S": "not applicable", "T": "analysed", "R": "not applicable", "I": "not applicable",
                        "D": "analysed", "E": "not applicable"}  # fmt: skip
    trust_bundle = {c.letter: c for c in coverage["trust_bundle"].letters}
    assert trust_bundle["I"].reason == "A10: N/A - the trust bundle contains public information"
    assert trust_bundle["D"].threats == ("A10-D-1", "A10-D-2")
    memory = {c.letter: c.status for c in coverage["memory_leak"].letters}
    assert memory["I"] == "analysed"
    assert memory["S"] == "not analysed"


def test_stride_coverage_marks_out_of_scope_flows(no_idp: Catalogue) -> None:
    coverage = {c.flow: c for c in stride_coverage(no_idp, build_graph(no_idp))}
    assert "trust_bundle" not in coverage
    assert {c.status for c in coverage["client_request"].letters} == {"out of scope"}
    assert "O-10" in coverage["client_request"].letters[0].reason
