"""Parsec's dataflow diagram as a `networkx.DiGraph`: components, dataflows, attacker positions, trust boundaries.

Implements the seed's "Dataflow Diagram" (``dataflow_diagram.drawio.xml``) with the Parsec Service box expanded
into its internal pipeline — listener, front-end handler, authenticator, dispatcher, providers, key info manager
and the service runtime (configuration, signals, logging, memory) — each naming the reference-service code that
implements it (`Node.code`), because ``refimpl/`` mirrors the diagram box for box.

Nodes carry ``kind`` (external entity, process, data store), ``boundary`` (a `Boundary` ID), ``label``, ``code``,
``assets`` (the asset IDs the component holds; for the seed's own boxes, the diagram's purple asset numbers) and
``diagram`` (the label of the seed-diagram box the node belongs to, "" for nodes the diagram does not draw).
``absent_in`` lists the variants without that component.
Edges carry ``flow`` (the dataflow ID), ``label``, ``attackers`` (the attacker IDs sitting on the flow),
``assets`` (the asset IDs the flow carries), ``not_analysed`` and ``not_analysed_reason`` (STRIDE letters the seed
does not analyse on a boundary-crossing flow, and why) and ``out_of_scope_attackers`` (for a variant).

The current revision (2024-03-25) adds the SPIFFE implementation and its two flows (A12 on the service's validation
requests, A13 on the answers): `parsec_parts` adds them for a catalogue that defines A12 or A13, so the seed's graph
is unchanged. ``absent_in`` names the deployments without a component (no Identity Provider in no-idp and DRCT; the
SPIFFE implementation only in JWTS).

Trust boundaries are node attributes, not graph objects; `crossing_edges` lists the edges that cross them. The
"trusted*" boundary is the seed's "trusted, but outside the scope of this model": it is covered by assumptions
(ASUM-1 for hardware, ASUM-6 for the Identity Provider), so flows inside it are not analysed.

How this graph differs from the drawio diagram is listed, with reasons, in `dataflow.drawio.KNOWN_DIFFERENCES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx

from dataflow.catalogue import Catalogue
from dataflow.errors import CatalogueError

NodeKind = Literal["external entity", "process", "data store"]
TRUSTED = "trusted"
NON_TRUSTED = "non-trusted"
TRUSTED_OUT_OF_SCOPE = "trusted-out-of-scope"
PARSEC_SERVICE_BOX = "Parsec Service"


@dataclass(frozen=True)
class Boundary:
    """A trust zone of the diagram; `assumptions` names the seed assumptions that stand in for its analysis."""

    id: str
    label: str
    description: str
    assumptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Node:
    """A component of the dataflow diagram.

    `absent_in` lists the variants whose deployment has no such component (the Identity Provider without IdP).
    """

    id: str
    label: str
    kind: NodeKind
    boundary: str
    diagram: str = ""
    code: str | None = None
    assets: tuple[str, ...] = ()
    absent_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    """A dataflow from `source` to `target`, with the attackers the seed places on it."""

    id: str
    source: str
    target: str
    label: str
    attackers: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    not_analysed: str = ""
    not_analysed_reason: str = ""


BOUNDARIES: tuple[Boundary, ...] = (
    Boundary(TRUSTED, "Trusted", "The Parsec service process and the memory it owns (the diagram's green zone)."),
    Boundary(
        NON_TRUSTED,
        "Non-trusted",
        "Clients, files, signals and libraries the service exchanges data with (the diagram's red zone).",
    ),
    Boundary(
        TRUSTED_OUT_OF_SCOPE,
        "Trusted, outside the scope of this model",
        "Despite being considered trusted, these components reside outside the scope of this threat model and are "
        "thus treated as assumptions (the diagram's yellow zones, marked TRUSTED *).",
        assumptions=("ASUM-1", "ASUM-6"),
    ),
)

_PROVIDERS = (
    ("core", "Core provider"),
    ("software", "Software provider (Mbed Crypto)"),
    ("pkcs11", "PKCS 11 provider"),
    ("tpm", "TPM provider"),
)
_HARDWARE_PROVIDERS = ("pkcs11", "tpm")
_PROVIDER_ASSETS = {"core": (), "software": ("AS3", "AS4"), "pkcs11": ("AS4", "AS5"), "tpm": ("AS4", "AS5")}

PARSEC_NODES: tuple[Node, ...] = (
    Node("client_library", "Client Library (tenants)", "external entity", NON_TRUSTED, "Client Library",
         code="refimpl/client", assets=("AS1", "AS4")),
    Node("identity_provider", "Identity Provider", "external entity", TRUSTED_OUT_OF_SCOPE, "Identity Provider",
         assets=("AS1", "AS2"), absent_in=("no-idp", "DRCT")),
    Node("os_signals", "OS Signals", "external entity", NON_TRUSTED, "OS Signals"),
    Node("dependencies", "Dependencies", "external entity", NON_TRUSTED, "Dependencies", assets=("AS4", "AS5")),
    Node("configuration_file", "Configuration File", "data store", NON_TRUSTED, "Configuration File",
         assets=("AS5",)),
    Node("key_triple_mappings", "Key Triple Mappings", "data store", NON_TRUSTED, "Key Triple Mappings",
         assets=("AS7",)),
    Node("logs", "Logs", "data store", NON_TRUSTED, "Logs", assets=("AS4", "AS5", "AS8")),
    Node("co_scheduled_process", "Co-scheduled process", "external entity", NON_TRUSTED),
    Node("hardware_device_descriptor", "Hardware Device Descriptor", "external entity", TRUSTED_OUT_OF_SCOPE,
         "Hardware Device Descriptor", assets=("AS3", "AS4")),
    Node("hardware_modules", "Hardware modules (TPM, HSM)", "external entity", TRUSTED_OUT_OF_SCOPE,
         assets=("AS3",)),
    Node("local_memory", "Local Memory", "data store", TRUSTED, "Local Memory", assets=("AS1", "AS2", "AS4", "AS5")),
    Node("service", "Service runtime", "process", TRUSTED, PARSEC_SERVICE_BOX, code="refimpl/service.py",
         assets=("AS5", "AS6")),
    Node("listener", "Listener", "process", TRUSTED, PARSEC_SERVICE_BOX, code="refimpl/front/listener.py",
         assets=("AS6",)),
    Node("front_end", "Front-end handler", "process", TRUSTED, PARSEC_SERVICE_BOX, code="refimpl/front/front_end.py",
         assets=("AS4", "AS6")),
    Node("authenticator", "Authenticator", "process", TRUSTED, PARSEC_SERVICE_BOX, code="refimpl/authenticators",
         assets=("AS1", "AS2")),
    Node("dispatcher", "Dispatcher", "process", TRUSTED, PARSEC_SERVICE_BOX, code="refimpl/back/dispatcher.py",
         assets=("AS4",)),
    *(
        Node(f"provider_{name}", label, "process", TRUSTED, PARSEC_SERVICE_BOX, code=f"refimpl/providers/{name}",
             assets=_PROVIDER_ASSETS[name])
        for name, label in _PROVIDERS
    ),
    Node("key_info_manager", "Key info manager", "process", TRUSTED, PARSEC_SERVICE_BOX,
         code="refimpl/key_info_managers", assets=("AS7",)),
)  # fmt: skip

_A11_NOT_ANALYSED = (
    "The seed's A11 table analyses information disclosure only: A11 reads memory the service did not clear (U-5) "
    "and has no channel to write into the service's memory."
)
_DEPENDENCY_NOT_ANALYSED = (
    "The seed binds no attacker to the dependencies: a vulnerable dependency is carried by U-3 in the rows of the "
    "attackers whose input reaches it (A1, A4, A5, A7, A9, A10)."
)

PARSEC_FLOWS: tuple[Flow, ...] = (
    Flow("client_request", "client_library", "listener", "request (header, body, authentication)",
         attackers=("A1",), assets=("AS1", "AS4")),
    Flow("service_response", "listener", "client_library", "response (header, body)",
         attackers=("A2",), assets=("AS4",)),
    Flow("trust_bundle", "identity_provider", "authenticator", "trust bundle (IdP public key)",
         attackers=("A10",), assets=("AS2",)),
    Flow("os_signal", "os_signals", "service", "signal (SIGTERM, SIGHUP)", attackers=("A3",)),
    Flow("configuration_read", "configuration_file", "service", "configuration (config.toml)",
         attackers=("A9",), assets=("AS5",)),
    Flow("log_write", "service", "logs", "log records", attackers=("A8",), assets=("AS1", "AS4", "AS5")),
    Flow("memory_write", "service", "local_memory", "data placed in memory", assets=("AS1", "AS2", "AS4", "AS5")),
    Flow("memory_read", "local_memory", "service", "data read from memory", assets=("AS1", "AS2", "AS4", "AS5")),
    Flow("memory_leak", "local_memory", "co_scheduled_process", "memory not cleared after use",
         attackers=("A11",), assets=("AS1", "AS2", "AS4", "AS5"),
         not_analysed="STRDE", not_analysed_reason=_A11_NOT_ANALYSED),
    Flow("dependency_call", "service", "dependencies", "calls into a dependency", assets=("AS4", "AS5"),
         not_analysed="STRIDE", not_analysed_reason=_DEPENDENCY_NOT_ANALYSED),
    Flow("dependency_return", "dependencies", "service", "results from a dependency", assets=("AS4",),
         not_analysed="STRIDE", not_analysed_reason=_DEPENDENCY_NOT_ANALYSED),
    Flow("mapping_store", "key_info_manager", "key_triple_mappings", "key triple mapping stored",
         attackers=("A6",), assets=("AS7",)),
    Flow("mapping_retrieval", "key_triple_mappings", "key_info_manager", "key triple mapping retrieved",
         attackers=("A7",), assets=("AS7",)),
    *(
        flow
        for name in _HARDWARE_PROVIDERS
        for flow in (
            Flow(f"hardware_command_{name}", f"provider_{name}", "hardware_device_descriptor",
                 f"hardware command ({name})", attackers=("A4",), assets=("AS3", "AS4", "AS5")),
            Flow(f"hardware_result_{name}", "hardware_device_descriptor", f"provider_{name}",
                 f"hardware result ({name})", attackers=("A5",), assets=("AS3", "AS4", "AS5")),
        )
    ),
    Flow("device_command", "hardware_device_descriptor", "hardware_modules", "device command", assets=("AS3", "AS4")),
    Flow("device_result", "hardware_modules", "hardware_device_descriptor", "device result", assets=("AS3", "AS4")),
    Flow("connection", "listener", "front_end", "accepted connection (request stream)", assets=("AS1", "AS4")),
    Flow("reply", "front_end", "listener", "response on the connection", assets=("AS4",)),
    Flow("authenticate", "front_end", "authenticator", "authentication field", assets=("AS1",)),
    Flow("application_identity", "authenticator", "front_end", "application identity"),
    Flow("dispatch", "front_end", "dispatcher", "authenticated request", assets=("AS4",)),
    Flow("dispatch_result", "dispatcher", "front_end", "operation result", assets=("AS4",)),
    *(
        flow
        for name, _ in _PROVIDERS
        for flow in (
            Flow(f"operation_{name}", "dispatcher", f"provider_{name}", f"operation ({name})", assets=("AS4",)),
            Flow(f"operation_result_{name}", f"provider_{name}", "dispatcher", f"operation result ({name})",
                 assets=("AS4",)),
            Flow(f"key_info_{name}", f"provider_{name}", "key_info_manager", f"mapping update ({name})",
                 assets=("AS7",)),
            Flow(f"key_info_result_{name}", "key_info_manager", f"provider_{name}", f"mapping lookup ({name})",
                 assets=("AS7",)),
        )
    ),
    Flow("configure_listener", "service", "listener", "listener settings", assets=("AS5",)),
    Flow("configure_authenticator", "service", "authenticator", "authenticator settings", assets=("AS5",)),
    Flow("configure_key_info_manager", "service", "key_info_manager", "key manager settings", assets=("AS5",)),
    *(
        Flow(f"configure_provider_{name}", "service", f"provider_{name}", f"provider settings ({name})",
             assets=("AS5",))
        for name, _ in _PROVIDERS
        if name != "core"
    ),
)  # fmt: skip


def parsec_parts(catalogue: Catalogue) -> tuple[tuple[Node, ...], tuple[Flow, ...]]:
    """Parsec's components and flows for a catalogue: the SPIFFE implementation joins when it defines A12 or A13."""
    if any(attacker in catalogue for attacker in SPIFFE_ATTACKERS):
        return (*PARSEC_NODES, *SPIFFE_NODES), (*PARSEC_FLOWS, *SPIFFE_FLOWS)
    return PARSEC_NODES, PARSEC_FLOWS


def build_graph(
    catalogue: Catalogue,
    nodes: Iterable[Node] | None = None,
    flows: Iterable[Flow] | None = None,
    boundaries: Iterable[Boundary] = BOUNDARIES,
) -> nx.DiGraph:
    """The dataflow graph of `catalogue`'s deployment variant (default components: Parsec's, `parsec_parts`).

    Raises `CatalogueError` when a flow names a node that is not defined or two flows join the same ordered pair.
    """
    default_nodes, default_flows = parsec_parts(catalogue)
    nodes = tuple(default_nodes if nodes is None else nodes)
    flows = default_flows if flows is None else flows
    defined = {node.id for node in nodes}
    graph = nx.DiGraph(variant=catalogue.variants[0].id, boundaries={b.id: b for b in boundaries})
    for node in nodes:
        graph.add_node(
            node.id,
            label=node.label,
            kind=node.kind,
            boundary=node.boundary,
            diagram=node.diagram,
            code=node.code,
            assets=node.assets,
            absent_in=node.absent_in,
        )
    for flow in flows:
        missing = [end for end in (flow.source, flow.target) if end not in defined]
        if missing:
            raise CatalogueError(f"flow {flow.id!r}: node(s) {', '.join(missing)} not defined")
        if graph.has_edge(flow.source, flow.target):
            existing = graph.edges[flow.source, flow.target]["flow"]
            raise CatalogueError(f"flow {flow.id!r}: {flow.source} -> {flow.target} is already flow {existing!r}")
        graph.add_edge(
            flow.source,
            flow.target,
            flow=flow.id,
            label=flow.label,
            attackers=flow.attackers,
            out_of_scope_attackers=(),
            assets=flow.assets,
            not_analysed=flow.not_analysed,
            not_analysed_reason=flow.not_analysed_reason,
        )
    return graph_for_variant(graph, catalogue)


_SPIFFE_REQUEST_NOT_ANALYSED = (
    "The current revision's A12 table analyses information disclosure and denial of service only: A12 sits on the "
    "service's validation requests to the SPIFFE Workload API, whose spoofing and tampering are A13's rows (O-14)."
)
_SPIFFE_RESPONSE_NOT_ANALYSED = (
    "The current revision's A13 table has no repudiation or information-disclosure row: the validation response "
    "carries the application identity the service asked about, which A12's I row covers on the request side."
)
SPIFFE_ATTACKERS = ("A12", "A13")
SPIFFE_NODES: tuple[Node, ...] = (
    Node("spiffe_implementation", "SPIFFE implementation (Workload API)", "external entity", NON_TRUSTED,
         "SPIFFE implementation", code="refimpl/identity_provider", absent_in=("GNRC", "DSPC", "DRCT")),
)  # fmt: skip
"""The revision of 2024-03-25 adds the SPIFFE implementation (JWTS): the service validates JWT-SVIDs through it."""
SPIFFE_FLOWS: tuple[Flow, ...] = (
    Flow("spiffe_validation_request", "authenticator", "spiffe_implementation", "JWT-SVID validation request",
         attackers=("A12",), assets=("AS1",), not_analysed="STRE", not_analysed_reason=_SPIFFE_REQUEST_NOT_ANALYSED),
    Flow("spiffe_validation_response", "spiffe_implementation", "authenticator",
         "validation response (application identity)", attackers=("A13",), assets=("AS4",),
         not_analysed="RI", not_analysed_reason=_SPIFFE_RESPONSE_NOT_ANALYSED),
)  # fmt: skip


def graph_for_variant(graph: nx.DiGraph, catalogue: Catalogue) -> nx.DiGraph:
    """The base graph restricted to `catalogue`'s variant (the same graph when it is the base variant).

    Components absent from that deployment are left out, attackers out of its scope move from ``attackers`` to
    ``out_of_scope_attackers``, and assets that do not apply are dropped from nodes and flows.
    """
    variant = catalogue.variant_info()
    if variant.id == graph.graph["variant"]:
        return graph
    if graph.graph["variant"] != catalogue.variants[0].id:
        raise CatalogueError(
            f"derive the {variant.id!r} graph from the base graph, not from {graph.graph['variant']!r}"
        )
    inapplicable_assets = set(variant.excluded_ids("AS"))
    excluded_attackers = set(variant.excluded_ids("A"))

    def applicable(assets: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(a for a in assets if a not in inapplicable_assets)

    derived = nx.DiGraph(variant=variant.id, boundaries=graph.graph["boundaries"])
    for node, data in graph.nodes(data=True):
        if variant.id not in data["absent_in"]:
            derived.add_node(node, **{**data, "assets": applicable(data["assets"])})
    for u, v, data in graph.edges(data=True):
        if u in derived and v in derived:
            derived.add_edge(
                u,
                v,
                **{
                    **data,
                    "attackers": tuple(a for a in data["attackers"] if a not in excluded_attackers),
                    "out_of_scope_attackers": tuple(a for a in data["attackers"] if a in excluded_attackers),
                    "assets": applicable(data["assets"]),
                },
            )
    return derived


def crossing_edges(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """The edges whose endpoints lie in different trust boundaries."""
    return [(u, v) for u, v in graph.edges if graph.nodes[u]["boundary"] != graph.nodes[v]["boundary"]]


def boundary_members(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Each trust boundary's node IDs."""
    members: dict[str, list[str]] = {boundary: [] for boundary in graph.graph["boundaries"]}
    for node, boundary in graph.nodes(data="boundary"):
        members.setdefault(boundary, []).append(node)
    return members


def flow_edge(graph: nx.DiGraph, flow_id: str) -> tuple[str, str]:
    """The (source, target) edge of a flow ID; `CatalogueError` naming the known flows when there is none."""
    for u, v, identifier in graph.edges(data="flow"):
        if identifier == flow_id:
            return u, v
    known = ", ".join(sorted(identifier for _, _, identifier in graph.edges(data="flow")))
    raise CatalogueError(f"unknown flow {flow_id!r}; defined: {known}")


def flows_of_attacker(graph: nx.DiGraph, attacker_id: str) -> list[tuple[str, str]]:
    """The edges an attacker sits on (in scope in the graph's variant)."""
    return [(u, v) for u, v, attackers in graph.edges(data="attackers") if attacker_id in attackers]


def flow_records(graph: nx.DiGraph) -> list[dict[str, Any]]:
    """Every flow as plain data (for JSON output and the report), crossing flows marked with their boundaries."""
    records = []
    for u, v, data in graph.edges(data=True):
        source_boundary = graph.nodes[u]["boundary"]
        target_boundary = graph.nodes[v]["boundary"]
        records.append(
            {
                "id": data["flow"],
                "source": u,
                "target": v,
                "label": data["label"],
                "attackers": list(data["attackers"]),
                "out_of_scope_attackers": list(data["out_of_scope_attackers"]),
                "assets": list(data["assets"]),
                "source_boundary": source_boundary,
                "target_boundary": target_boundary,
                "crosses_boundary": source_boundary != target_boundary,
            }
        )
    return records


def node_records(graph: nx.DiGraph) -> list[dict[str, Any]]:
    """Every node as plain data."""
    return [{"id": node, **_plain(data)} for node, data in graph.nodes(data=True)]


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}
