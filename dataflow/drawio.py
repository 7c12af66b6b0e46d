"""Reader of the seed's draw.io dataflow diagram, and its comparison with the dataflow graph.

Implements the seed's "Dataflow Diagram" (``dataflow_diagram.drawio.xml``: a draw.io file whose ``<diagram>`` text
is base64 of raw-deflated, URL-encoded mxGraph XML). `read_cells` lists its cells; `interpret` turns them into
boxes (components), trust zones, directed edges, attacker actors bound to the edge they sit on, and the purple
asset-number markers; `diagram_differences` compares that with `dataflow.graph.build_graph` and returns every
difference that `KNOWN_DIFFERENCES` does not explain, plus every explanation that no longer matches a difference.

The diagram file is the current revision's (2024-03-25), later than the seed's text: it adds a SPIFFE implementation
node and attackers A12/A13. Against the seed's graph those, and the places where the graph is deliberately finer
than the diagram, are `KNOWN_DIFFERENCES`; against the current revision's graph only the latter remain
(`CURRENT_KNOWN_DIFFERENCES`).
"""

from __future__ import annotations

import base64
import html
import math
import re
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from dataflow.errors import CatalogueError
from dataflow.graph import NON_TRUSTED, TRUSTED, TRUSTED_OUT_OF_SCOPE

Point = tuple[float, float]
ZONE_COLOURS: Mapping[str, str] = {"#f8cecc": NON_TRUSTED, "#d5e8d4": TRUSTED, "#ffd966": TRUSTED_OUT_OF_SCOPE}
ASSET_MARKER_COLOUR = "#e1d5e7"
ATTACKER_LABEL = re.compile(r"^A\d+$")


@dataclass(frozen=True)
class Cell:
    """One mxCell: a vertex (with its bounds) or an edge (with its endpoints, cells or loose points)."""

    id: str
    text: str
    style: Mapping[str, str]
    is_edge: bool
    parent: str
    source: str | None = None
    target: str | None = None
    bounds: tuple[float, float, float, float] | None = None
    source_point: Point | None = None
    target_point: Point | None = None

    @property
    def center(self) -> Point:
        if self.bounds is None:
            raise CatalogueError(f"drawio cell {self.id!r} has no geometry")
        x, y, width, height = self.bounds
        return x + width / 2, y + height / 2

    def contains(self, point: Point) -> bool:
        """Whether `point` lies inside the cell's shape (an ellipse for ellipse styles, else its rectangle)."""
        if self.bounds is None:
            return False
        x, y, width, height = self.bounds
        if "ellipse" in self.style:
            cx, cy = self.center
            return ((point[0] - cx) / (width / 2)) ** 2 + ((point[1] - cy) / (height / 2)) ** 2 <= 1
        return x <= point[0] <= x + width and y <= point[1] <= y + height

    def anchor(self, fraction_x: str | None, fraction_y: str | None) -> Point:
        """The point at the relative position (exitX/exitY or entryX/entryY) on the cell, its centre by default."""
        if self.bounds is None:
            raise CatalogueError(f"drawio cell {self.id!r} has no geometry")
        x, y, width, height = self.bounds
        if fraction_x is None or fraction_y is None:
            return self.center
        return x + float(fraction_x) * width, y + float(fraction_y) * height


@dataclass(frozen=True)
class Box:
    """A component drawn in the diagram, with the kind its shape stands for and the trust zone around it."""

    cell: Cell
    label: str
    kind: str
    boundary: str


@dataclass(frozen=True)
class DiagramEdge:
    """A drawn dataflow between two boxes (or a box and an attacker actor), with its directions from the arrows."""

    cell: Cell
    source: str
    target: str
    directions: tuple[tuple[str, str], ...]
    start: Point
    end: Point


@dataclass(frozen=True)
class Diagram:
    """The diagram's meaning: boxes by label, edges, attackers by ID → the edge they sit on, asset markers."""

    boxes: Mapping[str, Box]
    edges: tuple[DiagramEdge, ...]
    attackers: Mapping[str, DiagramEdge]
    asset_markers: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Difference:
    """A way the graph deliberately differs from the diagram: (`kind`, `subject`) identify it, `reason` explains."""

    kind: str
    subject: str
    reason: str


SEED_TEXT_DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "node-only-in-diagram",
        "SPIFFE implementation",
        "The diagram is a later revision than the seed's text: it adds the SPIFFE implementation (the JWT-SVID "
        "deployment, where SPIFFE issues and verifies identities). The seed has no table for it.",
    ),
    Difference(
        "edge-only-in-diagram",
        "Parsec Service -> SPIFFE implementation",
        "Part of the later SPIFFE revision (the service's requests to the SPIFFE Workload API); not in the seed.",
    ),
    Difference(
        "edge-only-in-diagram",
        "SPIFFE implementation -> Parsec Service",
        "Part of the later SPIFFE revision (the Workload API's answers); not in the seed.",
    ),
    Difference(
        "attacker-only-in-diagram",
        "A12",
        "Drawn on the service's requests to the SPIFFE implementation in the later revision; the seed defines "
        "attackers A1-A11 only.",
    ),
    Difference(
        "attacker-only-in-diagram",
        "A13",
        "Drawn on the SPIFFE implementation's answers in the later revision; the seed defines A1-A11 only.",
    ),
)
"""Differences that only the seed's text has: the diagram is the revision of 2024-03-25, with SPIFFE (JWTS)."""
GRAPH_DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "node-only-in-graph",
        "hardware_modules",
        "The seed's assumption ASUM-1 and its A4/A5 rows name the hardware modules behind the Hardware Device "
        "Descriptor; the diagram draws only the descriptor. Both sit in the trusted-but-out-of-scope zone.",
    ),
    Difference(
        "node-only-in-graph",
        "co_scheduled_process",
        "The diagram ends the Local Memory edge at the A11 actor itself. The graph gives that end a component — "
        "another process scheduled by the OS, as the seed describes A11 — so that A11 sits on a flow like every "
        "other attacker.",
    ),
    Difference(
        "expanded-box",
        "Parsec Service",
        "The diagram draws the service as one box; the graph expands it into the internal pipeline the reference "
        "service implements (service runtime, listener, front-end handler, authenticator, dispatcher, providers, "
        "key info manager). Flows inside the box are not drawn; each diagram edge at the box maps to the flows at "
        "the component that handles it (the hardware edges to the PKCS 11 and TPM providers, one flow each).",
    ),
)
"""Where the graph is deliberately finer than the diagram, whichever revision of the text it is built for."""
KNOWN_DIFFERENCES: tuple[Difference, ...] = (*SEED_TEXT_DIFFERENCES, *GRAPH_DIFFERENCES)
"""The explained differences between the diagram and the seed's graph."""
CURRENT_KNOWN_DIFFERENCES: tuple[Difference, ...] = GRAPH_DIFFERENCES
"""The explained differences between the diagram and the current revision's graph (the diagram's own revision)."""


def decode_diagram(path: str | Path) -> str:
    """The mxGraphModel XML of the first diagram of a draw.io file, compressed or not."""
    root = ET.parse(path).getroot()
    diagram = root.find("diagram")
    if diagram is None:
        raise CatalogueError(f"{path}: no <diagram> element")
    model = diagram.find("mxGraphModel")
    if model is not None:
        return ET.tostring(model, encoding="unicode")
    payload = (diagram.text or "").strip()
    try:
        inflated = zlib.decompress(base64.b64decode(payload), -zlib.MAX_WBITS)
    except (ValueError, zlib.error) as error:
        raise CatalogueError(f"{path}: the diagram is neither plain XML nor base64 + raw deflate: {error}") from error
    return urllib.parse.unquote(inflated.decode("utf-8"))


def read_cells(path: str | Path) -> list[Cell]:
    """Every mxCell of the draw.io file, with text stripped of HTML and geometry in absolute coordinates."""
    model = ET.fromstring(decode_diagram(path))
    cells = []
    for element in model.iter("mxCell"):
        geometry = element.find("mxGeometry")
        bounds = None
        points: dict[str, Point] = {}
        if geometry is not None:
            if element.get("vertex") == "1" and geometry.get("relative") != "1":
                bounds = tuple(float(geometry.get(name, "0")) for name in ("x", "y", "width", "height"))
            for point in geometry.findall("mxPoint"):
                role = point.get("as", "")
                points[role] = (float(point.get("x", "0")), float(point.get("y", "0")))
        cells.append(
            Cell(
                id=element.get("id", ""),
                text=_plain_text(element.get("value", "")),
                style=_parse_style(element.get("style", "")),
                is_edge=element.get("edge") == "1",
                parent=element.get("parent", ""),
                source=element.get("source"),
                target=element.get("target"),
                bounds=bounds,  # type: ignore[arg-type]
                source_point=points.get("sourcePoint"),
                target_point=points.get("targetPoint"),
            )
        )
    return cells


def _plain_text(value: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())


def _parse_style(style: str) -> dict[str, str]:
    entries = {}
    for part in style.split(";"):
        if part:
            key, _, value = part.partition("=")
            entries[key] = value
    return entries


def interpret(cells: Iterable[Cell]) -> Diagram:
    """Read the diagram's meaning from its cells: boxes, zones, edges, attackers and asset markers.

    Cells below the non-trusted zone form the legend and are ignored, as are the zone captions.
    """
    cells = list(cells)
    by_id = {cell.id: cell for cell in cells}
    zones = [(cell, ZONE_COLOURS[cell.style["fillColor"].lower()]) for cell in cells if _is_zone(cell)]
    frame = next((cell for cell, boundary in zones if boundary == NON_TRUSTED), None)
    if frame is None or frame.bounds is None:
        raise CatalogueError("drawio: no non-trusted zone (a shape filled with #f8cecc) frames the diagram")
    legend_top = frame.bounds[1] + frame.bounds[3]

    def in_legend(cell: Cell) -> bool:
        if cell.parent in by_id and by_id[cell.parent].is_edge:
            return True
        if cell.is_edge:
            return cell.source is None and cell.target is None
        return cell.bounds is not None and cell.bounds[1] >= legend_top

    def zone_of(point: Point) -> str:
        inner = [boundary for cell, boundary in zones if boundary != NON_TRUSTED and cell.contains(point)]
        return inner[0] if inner else NON_TRUSTED

    live = [cell for cell in cells if not in_legend(cell)]
    actors = {
        cell.text: cell for cell in live if cell.style.get("shape") == "umlActor" and ATTACKER_LABEL.match(cell.text)
    }
    markers = [cell for cell in live if cell.style.get("fillColor", "").lower() == ASSET_MARKER_COLOUR]
    boxes = {
        cell.text: Box(cell, cell.text, _box_kind(cell), zone_of(cell.center))
        for cell in live
        if _is_box(cell) and cell not in markers
    }
    box_by_cell = {box.cell.id: box.label for box in boxes.values()}
    actor_by_cell = {cell.id: label for label, cell in actors.items()}
    edges = tuple(
        _edge(cell, by_id, boxes, box_by_cell, actor_by_cell) for cell in live if cell.is_edge and cell.bounds is None
    )
    return Diagram(
        boxes=boxes,
        edges=edges,
        attackers={label: _edge_under(actor, edges) for label, actor in actors.items()},
        asset_markers={_nearest_box(marker, boxes): tuple(f"AS{d}" for d in marker.text) for marker in markers},
    )


def _is_zone(cell: Cell) -> bool:
    return not cell.is_edge and not cell.text and cell.style.get("fillColor", "").lower() in ZONE_COLOURS


def _is_box(cell: Cell) -> bool:
    return (
        not cell.is_edge
        and bool(cell.text)
        and cell.bounds is not None
        and "text" not in cell.style
        and cell.style.get("shape") != "umlActor"
    )


def _box_kind(cell: Cell) -> str:
    """The legend's meaning of a shape: Persistent Data (process shape) and memory (rounded box) are data stores."""
    if cell.style.get("shape") == "process" or cell.style.get("rounded") == "1":
        return "data store"
    if "rhombus" in cell.style:
        return "external entity"
    return "component"


def _edge(
    cell: Cell,
    by_id: Mapping[str, Cell],
    boxes: Mapping[str, Box],
    box_by_cell: Mapping[str, str],
    actor_by_cell: Mapping[str, str],
) -> DiagramEdge:
    ends = []
    for end_id, loose, fraction in (
        (cell.source, cell.source_point, ("exitX", "exitY")),
        (cell.target, cell.target_point, ("entryX", "entryY")),
    ):
        if end_id is not None:
            end_cell = by_id[end_id]
            label = box_by_cell.get(end_id) or actor_by_cell.get(end_id)
            if label is None:
                raise CatalogueError(f"drawio edge {cell.id!r} ends at cell {end_id!r}, which is no box or attacker")
            ends.append((label, end_cell.anchor(cell.style.get(fraction[0]), cell.style.get(fraction[1]))))
        elif loose is not None:
            inside = [box.label for box in boxes.values() if box.cell.contains(loose)]
            if len(inside) != 1:
                raise CatalogueError(f"drawio edge {cell.id!r} has a loose end at {loose} inside {inside or 'no box'}")
            ends.append((inside[0], loose))
        else:
            raise CatalogueError(f"drawio edge {cell.id!r} has a missing end")
    (source, start), (target, end) = ends
    forward = cell.style.get("endArrow", "classic") != "none"
    backward = cell.style.get("startArrow", "none") != "none"
    directions = tuple(pair for pair, drawn in (((source, target), forward), ((target, source), backward)) if drawn)
    return DiagramEdge(cell, source, target, directions, start, end)


def _edge_under(actor: Cell, edges: Iterable[DiagramEdge]) -> DiagramEdge:
    """The edge an attacker actor sits on: the edge that ends at it, else the edge nearest to its centre."""
    edges = list(edges)
    for edge in edges:
        if actor.text in (edge.source, edge.target):
            return edge
    return min(edges, key=lambda edge: _distance_to_segment(actor.center, edge.start, edge.end))


def _distance_to_segment(point: Point, start: Point, end: Point) -> float:
    (px, py), (ax, ay), (bx, by) = point, start, end
    length_squared = (bx - ax) ** 2 + (by - ay) ** 2
    t = (
        0.0
        if length_squared == 0
        else max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length_squared))
    )
    return math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


def _nearest_box(marker: Cell, boxes: Mapping[str, Box]) -> str:
    return min(boxes, key=lambda label: math.dist(marker.center, boxes[label].cell.center))


def diagram_differences(
    diagram: Diagram, graph: nx.DiGraph, known_differences: Iterable[Difference] = KNOWN_DIFFERENCES
) -> list[Difference]:
    """Every difference between diagram and graph, each with its reason in `known_differences` when it has one.

    Pass `CURRENT_KNOWN_DIFFERENCES` for the current revision's graph; the default is the seed's.

    A difference without a reason is reported with reason "" (unexplained); an explanation that no longer matches
    a difference is reported with kind "stale-explanation". An empty list means the two agree.
    """
    found = _raw_differences(diagram, graph)
    known = {(d.kind, d.subject): d for d in known_differences}
    report = [known.get(key, Difference(key[0], key[1], "")) for key in found]
    report += [
        Difference("stale-explanation", f"{d.kind}: {d.subject}", d.reason)
        for key, d in known.items()
        if key not in found
    ]
    return report


def unexplained(differences: Iterable[Difference]) -> list[Difference]:
    """The differences `KNOWN_DIFFERENCES` does not explain, and the explanations that explain nothing."""
    return [d for d in differences if not d.reason or d.kind == "stale-explanation"]


def _raw_differences(diagram: Diagram, graph: nx.DiGraph) -> list[tuple[str, str]]:
    nodes_by_box: dict[str, list[str]] = {}
    for node, box in graph.nodes(data="diagram"):
        nodes_by_box.setdefault(box, []).append(node)
    found: list[tuple[str, str]] = []

    for label, box in diagram.boxes.items():
        members = nodes_by_box.get(label, [])
        if not members:
            found.append(("node-only-in-diagram", label))
            continue
        if len(members) > 1:
            found.append(("expanded-box", label))
        for node in members:
            data = graph.nodes[node]
            if data["boundary"] != box.boundary:
                found.append(("boundary", f"{label}: {node}"))
            if box.kind != "component" and data["kind"] != box.kind:
                found.append(("kind", f"{label}: {node}"))
    found += [("node-only-in-graph", node) for node in nodes_by_box.get("", [])]

    drawn: set[tuple[str, str]] = set()
    for edge in diagram.edges:
        for source, target in edge.directions:
            drawn.add((source, target))
            if target in diagram.attackers or source in diagram.attackers:
                continue
            if not _graph_has_flow(graph, source, target):
                found.append(("edge-only-in-diagram", f"{source} -> {target}"))
    for u, v, flow in graph.edges(data="flow"):
        source, target = graph.nodes[u]["diagram"], graph.nodes[v]["diagram"]
        if source and target and source != target and (source, target) not in drawn:
            found.append(("flow-only-in-graph", flow))

    bound = {a for _, _, attackers in graph.edges(data="attackers") for a in attackers}
    for attacker, edge in diagram.attackers.items():
        if attacker not in bound:
            found.append(("attacker-only-in-diagram", attacker))
            continue
        graph_ends = {
            (graph.nodes[u]["diagram"], graph.nodes[v]["diagram"])
            for u, v, attackers in graph.edges(data="attackers")
            if attacker in attackers
        }
        drawn_ends = {(s, t if t != attacker else "") for s, t in edge.directions}
        if not graph_ends <= drawn_ends:
            found.append(("attacker-flow", attacker))
    found += [("attacker-only-in-graph", a) for a in sorted(bound - set(diagram.attackers))]

    for label, assets in diagram.asset_markers.items():
        for node in nodes_by_box.get(label, []):
            if tuple(graph.nodes[node]["assets"]) != assets:
                found.append(("assets", f"{label}: {node}"))
    return found


def _graph_has_flow(graph: nx.DiGraph, source_box: str, target_box: str) -> bool:
    return any(
        graph.nodes[u]["diagram"] == source_box and graph.nodes[v]["diagram"] == target_box for u, v in graph.edges
    )
