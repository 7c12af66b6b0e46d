"""Questions asked of the threat model: threats by asset, attacker, mitigation or flow; what-if; reach; coverage.

Implements the seed's cross-references as queries: the Assets column (threats by asset), the attacker tables
(threats by attacker), the Mitigation column (threats by U-/M-/O-/ASUM- ID), and on the dataflow graph the
attackers' flows (threats on a flow), paths across trust boundaries (which assets an attacker position reaches)
and STRIDE coverage of every boundary-crossing flow (which letters are analysed, N/A, or not analysed and why).

Every function takes a `Catalogue` (and a graph from `dataflow.graph.build_graph`) and returns frozen records or
lists of `Threat`; unknown IDs raise `CatalogueError` naming the IDs that are defined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from dataflow.catalogue import STRIDE, Catalogue, Threat
from dataflow.errors import CatalogueError

if TYPE_CHECKING:  # networkx is imported where a graph is used, so that catalogue-only queries start fast
    import networkx as nx

MITIGATING_KINDS = ("M", "O")


def threats_by_asset(catalogue: Catalogue, asset_id: str) -> list[Threat]:
    """The threats whose Assets cell names `asset_id` (directly or through "All"), in seed order."""
    catalogue.asset(asset_id)
    return [t for t in catalogue.threats if asset_id in t.assets]


def threats_by_attacker(catalogue: Catalogue, attacker_id: str) -> list[Threat]:
    """The threats of one attacker's table, in seed order."""
    catalogue.attacker(attacker_id)
    return list(catalogue.threats_of(attacker_id))


def threats_by_mitigation(catalogue: Catalogue, reference_id: str) -> list[Threat]:
    """The threats whose Mitigation cell names `reference_id` (a U-, M-, O- or ASUM- ID), in seed order."""
    _require_references(catalogue, [reference_id])
    return [t for t in catalogue.threats if reference_id in t.mitigations]


def filter_threats(
    catalogue: Catalogue,
    attacker: str | None = None,
    asset: str | None = None,
    mitigation: str | None = None,
) -> list[Threat]:
    """The threats matching every filter given (None: no filter), in seed order."""
    selections = [set(catalogue.threats)]
    if attacker is not None:
        selections.append(set(threats_by_attacker(catalogue, attacker)))
    if asset is not None:
        selections.append(set(threats_by_asset(catalogue, asset)))
    if mitigation is not None:
        selections.append(set(threats_by_mitigation(catalogue, mitigation)))
    chosen = set.intersection(*selections)
    return [t for t in catalogue.threats if t in chosen]


def has_mitigation(threat: Threat, removed: Iterable[str] = ()) -> bool:
    """Whether the threat names an M- or O- mitigation other than the `removed` ones."""
    gone = set(removed)
    return any(m.split("-")[0] in MITIGATING_KINDS and m not in gone for m in threat.mitigations)


def unmitigated_threats(catalogue: Catalogue) -> list[Threat]:
    """The threats that name no M- or O- mitigation at all (only unmitigations or assumptions)."""
    return [t for t in catalogue.threats if not has_mitigation(t)]


def what_if_removed(catalogue: Catalogue, mitigation_ids: Iterable[str]) -> list[Threat]:
    """The threats that removing `mitigation_ids` leaves without any M- or O- mitigation.

    Only threats that named a removed ID count: those already without an M-/O- mitigation are listed by
    `unmitigated_threats`. Raises `CatalogueError` for an ID that is not a defined U-/M-/O- entry.
    """
    removed = list(mitigation_ids)
    for identifier in removed:
        catalogue.mitigation(identifier)
    return [t for t in catalogue.threats if any(m in removed for m in t.mitigations) and not has_mitigation(t, removed)]


def threats_on_flow(graph: nx.DiGraph, catalogue: Catalogue, flow_id: str) -> list[Threat]:
    """The threats of the attackers sitting on a flow, in seed order."""
    from dataflow.graph import flow_edge

    u, v = flow_edge(graph, flow_id)
    attackers = graph.edges[u, v]["attackers"]
    return [t for t in catalogue.threats if t.attacker in attackers]


def resolve_threats(graph: nx.DiGraph, catalogue: Catalogue) -> dict[str, tuple[Threat, ...]]:
    """Every flow's threats, by flow ID (flows without attackers map to an empty tuple)."""
    by_attacker: dict[str, list[Threat]] = {}
    for threat in catalogue.threats:
        by_attacker.setdefault(threat.attacker, []).append(threat)
    return {
        data["flow"]: tuple(t for attacker in data["attackers"] for t in by_attacker.get(attacker, ()))
        for _, _, data in graph.edges(data=True)
    }


@dataclass(frozen=True)
class AssetReach:
    """An asset an attacker position reaches: where (a node, or the attacker's flow itself), by which path."""

    asset: str
    location: str
    path: tuple[str, ...]
    crossings: tuple[str, ...]


def reachable_assets(graph: nx.DiGraph, catalogue: Catalogue, attacker_id: str) -> list[AssetReach]:
    """The assets reachable from an attacker's flows along directed graph paths, nearest location first.

    An attacker on flow u → v reaches what the flow carries and, by injecting into it, the assets held by every
    node reachable from v. `crossings` lists the trust boundaries crossed along `path` ("non-trusted → trusted").
    Sorted by asset ID.
    """
    import networkx as nx

    from dataflow.graph import flows_of_attacker

    catalogue.attacker(attacker_id)
    edges = flows_of_attacker(graph, attacker_id)
    if not edges:
        raise CatalogueError(f"attacker {attacker_id!r} sits on no flow of the {graph.graph['variant']!r} graph")
    applicable = {asset.id for asset in catalogue.assets}
    best: dict[str, AssetReach] = {}

    def offer(asset: str, location: str, path: tuple[str, ...]) -> None:
        if asset in applicable and (asset not in best or len(path) < len(best[asset].path)):
            best[asset] = AssetReach(asset, location, path, _crossings(graph, path))

    for u, v in edges:
        for asset in graph.edges[u, v]["assets"]:
            offer(asset, graph.edges[u, v]["flow"], (u, v))
        for node, path in nx.single_source_shortest_path(graph, v).items():
            for asset in graph.nodes[node]["assets"]:
                offer(asset, node, (u, *path))
    return [best[asset] for asset in sorted(best, key=_id_order)]


def _crossings(graph: nx.DiGraph, path: tuple[str, ...]) -> tuple[str, ...]:
    boundaries = [graph.nodes[node]["boundary"] for node in path]
    return tuple(f"{a} → {b}" for a, b in pairwise(boundaries) if a != b)


def _id_order(identifier: str) -> tuple[str, int]:
    prefix = identifier.rstrip("0123456789").rstrip("-")
    return prefix, int(identifier[len(identifier.rstrip("0123456789")) :] or 0)


@dataclass(frozen=True)
class LetterCoverage:
    """How one STRIDE letter is treated on one flow.

    `status` is "analysed" (`threats` lists them), "not applicable" (the seed's N/A row; `reason`), "not analysed"
    (the graph's recorded reason), "out of scope" (the variant excludes the flow's attackers) or "missing".
    """

    letter: str
    status: str
    threats: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class FlowCoverage:
    """STRIDE coverage of one boundary-crossing flow."""

    flow: str
    source: str
    target: str
    boundaries: tuple[str, str]
    attackers: tuple[str, ...]
    letters: tuple[LetterCoverage, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c.letter for c in self.letters if c.status == "missing")


def stride_coverage(catalogue: Catalogue, graph: nx.DiGraph) -> list[FlowCoverage]:
    """For every flow that crosses a trust boundary, the treatment of each STRIDE letter."""
    variant = catalogue.variant_info()
    coverage = []
    for u, v, data in graph.edges(data=True):
        boundaries = (graph.nodes[u]["boundary"], graph.nodes[v]["boundary"])
        if boundaries[0] == boundaries[1]:
            continue
        attackers = data["attackers"]
        letters = []
        for letter in STRIDE:
            analysed = tuple(t.id for a in attackers for t in catalogue.threats_of(a) if t.stride == letter)
            not_applicable = [n for n in catalogue.not_applicable if n.attacker in attackers and n.stride == letter]
            if analysed:
                letters.append(LetterCoverage(letter, "analysed", analysed))
            elif not_applicable:
                reason = "; ".join(f"{n.attacker}: {n.text}" for n in not_applicable)
                letters.append(LetterCoverage(letter, "not applicable", reason=reason))
            elif data["out_of_scope_attackers"] and not attackers:
                letters.append(LetterCoverage(letter, "out of scope", reason=variant.scope_note))
            elif letter in data["not_analysed"]:
                letters.append(LetterCoverage(letter, "not analysed", reason=data["not_analysed_reason"]))
            else:
                letters.append(LetterCoverage(letter, "missing"))
        coverage.append(FlowCoverage(data["flow"], u, v, boundaries, attackers, tuple(letters)))
    return coverage


def _require_references(catalogue: Catalogue, identifiers: Iterable[str]) -> None:
    for identifier in identifiers:
        if identifier.startswith("ASUM-"):
            catalogue.assumption(identifier)
        else:
            catalogue.mitigation(identifier)
