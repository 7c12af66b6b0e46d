"""Consistency checks of the threat model: the catalogue's references, dispositions and variants, and the graph.

Implements the rules the seed relies on but does not enforce:

- referential integrity: every ID a threat, qualifier, variant, flow or node names is defined (``dangling-reference``);
- every defined mitigation and asset is used by a threat (or, for O-10, by a variant) (``unused-mitigation``,
  ``unused-asset``; base catalogue only, since a variant drops the rows that used some of them);
- every threat names at least one U-, M-, O- or ASUM- ID, or gives its disposition in words (``no-mitigation``;
  in a configuration, a row whose mitigations all belong to other configurations keeps a note saying so);
- threat IDs follow ``<attacker>-<letter>-<n>`` with n counting in document order (``threat-id``; checked on the
  base catalogue, since a configuration keeps the IDs of the rows it keeps), no ID twice
  (``duplicate-id``), no letter both analysed and N/A for one attacker (``not-applicable-conflict``);
- each variant derives as the document says: its exclusions exist, a seed-style scope note is contingent on defined
  O- entries, and the derived catalogue keeps no excluded row, no threat of an excluded attacker nor any excluded
  asset (``variant``);
- the graph: every attacker sits on a flow (``unbound-attacker``), every node is in a defined trust boundary
  (``unknown-boundary``), and every flow that crosses a boundary has each STRIDE letter analysed, N/A, out of scope
  or explained as not analysed (``stride-gap``).

`run_checks` returns `Problem` records; an empty list means the model is consistent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from dataflow.catalogue import Asset, Assumption, Attacker, Catalogue, Mitigation, Threat
from dataflow.graph import graph_for_variant
from dataflow.queries import stride_coverage


@dataclass(frozen=True)
class Problem:
    """One failed check: `code` names the rule, `subject` the entry at fault, `message` what to change."""

    code: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.subject}: {self.message}"


def run_checks(catalogue: Catalogue, graph: nx.DiGraph | None = None) -> list[Problem]:
    """Every problem of `catalogue`, and of `graph` (built for the same variant) when given.

    For the base catalogue this includes every variant: its derivation, and its graph derived from `graph`.
    """
    problems = [
        *_duplicate_ids(catalogue),
        *(_threat_ids(catalogue) if catalogue.is_base else []),
        *_threat_references(catalogue),
        *_not_applicable_rows(catalogue),
        *_variants(catalogue),
    ]
    if catalogue.is_base:
        problems += _unused_entries(catalogue)
    if graph is not None:
        problems += _graph(catalogue, graph)
        if catalogue.is_base:
            for variant in catalogue.variants[1:]:
                derived = catalogue.variant(variant.id)
                problems += [
                    Problem(p.code, f"{p.subject} ({variant.id})", p.message)
                    for p in _graph(derived, graph_for_variant(graph, derived))
                ]
    return problems


def _duplicate_ids(catalogue: Catalogue) -> list[Problem]:
    entries: tuple[Assumption | Asset | Attacker | Threat | Mitigation, ...] = (
        *catalogue.assumptions,
        *catalogue.assets,
        *catalogue.attackers,
        *catalogue.threats,
        *catalogue.mitigations,
    )
    identifiers = Counter(entry.id for entry in entries)
    return [
        Problem("duplicate-id", identifier, f"defined {count} times; give each entry its own ID")
        for identifier, count in identifiers.items()
        if count > 1
    ]


def _threat_ids(catalogue: Catalogue) -> list[Problem]:
    problems = []
    numbering: Counter[tuple[str, str]] = Counter()
    for threat in catalogue.threats:
        numbering[threat.attacker, threat.stride] += 1
        position = numbering[threat.attacker, threat.stride]
        expected = f"{threat.attacker}-{threat.stride}-{position}"
        if threat.id != expected:
            problems.append(
                Problem(
                    "threat-id",
                    threat.id,
                    f"threat {position} of attacker {threat.attacker} for letter {threat.stride} in seed order: "
                    f"its ID should be {expected}",
                )
            )
    return problems


def _threat_references(catalogue: Catalogue) -> list[Problem]:
    problems = []
    for threat in catalogue.threats:
        if threat.attacker not in catalogue:
            problems.append(_dangling(threat.id, "attacker", threat.attacker))
        for reference in threat.mitigations:
            if reference not in catalogue:
                problems.append(_dangling(threat.id, "mitigations", reference))
        for asset in threat.assets:
            if asset not in catalogue:
                problems.append(_dangling(threat.id, "assets", asset))
        for qualifier in threat.qualifiers:
            stray = [m for m in qualifier.mitigations if m not in threat.mitigations]
            if stray:
                problems.append(
                    Problem(
                        "dangling-reference",
                        threat.id,
                        f"qualifier {qualifier.label!r} names {', '.join(stray)}, "
                        "which the threat's mitigations do not list",
                    )
                )
        if not threat.mitigations and catalogue.is_base and not _disposition_in_words(threat):
            problems.append(
                Problem(
                    "no-mitigation",
                    threat.id,
                    "names no U-, M-, O- or ASUM- entry; every threat needs a disposition (add the IDs of its "
                    "Mitigation cell, or a U- entry if it is unmitigated)",
                )
            )
    return problems


def _disposition_in_words(threat: Threat) -> bool:
    """Whether the row's Mitigation cell gives its disposition in words, naming no ID (the importer's note)."""
    return any(note.startswith("Mitigation: ") for note in threat.notes)


def _dangling(subject: str, field: str, identifier: str) -> Problem:
    return Problem("dangling-reference", subject, f"field '{field}' names {identifier}, which is not defined")


def _not_applicable_rows(catalogue: Catalogue) -> list[Problem]:
    problems = []
    analysed = {(t.attacker, t.stride) for t in catalogue.threats}
    for row in catalogue.not_applicable:
        subject = f"{row.attacker}-{row.stride} (N/A)"
        if row.attacker not in catalogue:
            problems.append(_dangling(subject, "attacker", row.attacker))
        if (row.attacker, row.stride) in analysed:
            problems.append(
                Problem("not-applicable-conflict", subject, "the letter is both N/A and analysed by a threat; keep one")
            )
    return problems


def _unused_entries(catalogue: Catalogue) -> list[Problem]:
    named = {reference for threat in catalogue.threats for reference in threat.mitigations}
    named |= {m for variant in catalogue.variants for m in variant.contingent_on}
    # A mitigation marked for some configurations is a requirement of those deployments, named by a row or not.
    named |= {
        m.id
        for m in catalogue.mitigations
        if m.variant is None and catalogue.configurations_of(m.id) != catalogue.configurations
    }
    impacted = {asset for threat in catalogue.threats for asset in threat.assets}
    problems = [
        Problem("unused-mitigation", m.id, "no threat names it and no variant depends on it; remove it or cite it")
        for m in catalogue.mitigations
        if m.id not in named
    ]
    problems += [
        Problem("unused-asset", a.id, "no threat impacts it; remove it or add it to the Assets cell of a threat")
        for a in catalogue.assets
        if a.id not in impacted
    ]
    return problems


def _variants(catalogue: Catalogue) -> list[Problem]:
    if not catalogue.is_base:
        return []
    problems = []
    variant_ids = {variant.id for variant in catalogue.variants}
    for mitigation in catalogue.mitigations:
        if mitigation.variant is not None and mitigation.variant not in variant_ids:
            problems.append(_dangling(mitigation.id, "variant", mitigation.variant))
    for variant in catalogue.variants:
        subject = f"variant {variant.id}"
        for exclusion in variant.exclusions:
            if exclusion.subject not in catalogue:
                problems.append(_dangling(subject, "exclusions", exclusion.subject))
        for contingency in variant.contingent_on:
            if contingency not in catalogue:
                problems.append(_dangling(subject, "contingent_on", contingency))
            elif not re.match(r"^O-\d+$", contingency):
                problems.append(
                    Problem("variant", subject, f"contingent on {contingency}, which is not an operational mitigation")
                )
        if variant.scope_note and variant.exclusions and not variant.contingent_on:
            problems.append(Problem("variant", subject, "excludes entries but names no mitigation it is contingent on"))
        problems += _variant_derivation(catalogue, variant.id)
    return problems


def _variant_derivation(catalogue: Catalogue, variant_id: str) -> list[Problem]:
    derived = catalogue.variant(variant_id)
    variant = catalogue.variant_info(variant_id)
    subject = f"variant {variant_id}"
    excluded_attackers = set(variant.excluded_ids("A"))
    excluded_assets = set(variant.excluded_ids("AS"))
    problems = [
        Problem(
            "variant",
            subject,
            f"{t.id} still names excluded asset(s) {', '.join(sorted(excluded_assets & set(t.assets)))}",
        )
        for t in derived.threats
        if excluded_assets & set(t.assets)
    ]
    problems += [
        Problem("variant", subject, f"{t.id} belongs to excluded attacker {t.attacker}")
        for t in derived.threats
        if t.attacker in excluded_attackers
    ]
    excluded_threats = set(variant.excluded_ids("T"))
    expected = sum(
        1 for t in catalogue.threats if t.attacker not in excluded_attackers and t.id not in excluded_threats
    )
    if len(derived.threats) != expected:
        problems.append(Problem("variant", subject, f"derives {len(derived.threats)} threats, expected {expected}"))
    return problems


def _graph(catalogue: Catalogue, graph: nx.DiGraph) -> list[Problem]:
    problems = []
    boundaries = graph.graph.get("boundaries", {})
    for node, data in graph.nodes(data=True):
        if data["boundary"] not in boundaries:
            known = ", ".join(boundaries)
            problems.append(Problem("unknown-boundary", node, f"boundary {data['boundary']!r} is not one of {known}"))
        problems += _asset_references(catalogue, f"node {node}", data["assets"])
    bound: set[str] = set()
    for _, _, data in graph.edges(data=True):
        subject = f"flow {data['flow']}"
        for attacker in (*data["attackers"], *data["out_of_scope_attackers"]):
            bound.add(attacker)
            if attacker not in catalogue and attacker in data["attackers"]:
                problems.append(_dangling(subject, "attackers", attacker))
        problems += _asset_references(catalogue, subject, data["assets"])
        stray = set(data["not_analysed"]) - set("STRIDE")
        if stray:
            problems.append(
                Problem("stride-gap", subject, f"not_analysed names {''.join(sorted(stray))}, not STRIDE letters")
            )
    problems += [
        Problem("unbound-attacker", a.id, "sits on no dataflow; bind it to the flow it attacks in dataflow.graph")
        for a in catalogue.attackers
        if a.id not in bound
    ]
    for flow in stride_coverage(catalogue, graph):
        if flow.missing:
            attackers = ", ".join(flow.attackers) or "none"
            message = (
                f"crosses {flow.boundaries[0]} → {flow.boundaries[1]} with attackers {attackers}, but letters "
                f"{''.join(flow.missing)} are neither analysed nor N/A; add the threat rows, or record why they are "
                "not analysed (Flow.not_analysed in dataflow.graph)"
            )
            problems.append(Problem("stride-gap", f"flow {flow.flow}", message))
    return problems


def _asset_references(catalogue: Catalogue, subject: str, assets: Iterable[str]) -> list[Problem]:
    return [_dangling(subject, "assets", asset) for asset in assets if asset not in catalogue]
