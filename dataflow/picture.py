"""Drawing of the dataflow graph as a picture (SVG, PNG) with matplotlib's Agg backend.

Implements the seed's dataflow diagram as an image made from the graph: trust boundaries as shaded frames (red
non-trusted background, green trusted zone, yellow "trusted but out of scope" zones as in the seed's diagram),
components by kind (external entity: square box; process: rounded box; data store: grey box), dataflows as arrows
(boundary-crossing flows thick, internal ones thin), and each attacker as a red label on the flow it sits on
(attackers out of scope in a variant in grey). Parsec's components have a fixed layout close to the seed's;
other graphs (synthetic deployments) are laid out in a grid per trust boundary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt
import networkx as nx
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.text import Text

from dataflow.graph import NON_TRUSTED, TRUSTED, TRUSTED_OUT_OF_SCOPE

Position = tuple[float, float]

PARSEC_LAYOUT: Mapping[str, Position] = {
    "client_library": (1.7, 10.6),
    "identity_provider": (1.7, 7.6),
    "spiffe_implementation": (1.7, 6.3),
    "os_signals": (1.7, 5.0),
    "co_scheduled_process": (1.7, 3.6),
    "listener": (5.4, 9.6),
    "front_end": (8.2, 9.6),
    "dispatcher": (10.9, 9.6),
    "authenticator": (7.4, 7.4),
    "service": (7.0, 4.8),
    "local_memory": (4.9, 3.6),
    "key_info_manager": (10.9, 5.0),
    "provider_core": (13.6, 10.2),
    "provider_software": (13.6, 8.8),
    "provider_pkcs11": (13.6, 7.4),
    "provider_tpm": (13.6, 6.0),
    "hardware_device_descriptor": (17.6, 6.7),
    "hardware_modules": (17.6, 4.7),
    "dependencies": (3.4, 0.8),
    "configuration_file": (6.6, 0.8),
    "logs": (9.6, 0.8),
    "key_triple_mappings": (12.6, 0.8),
}
BOUNDARY_STYLE: Mapping[str, tuple[str, str]] = {
    NON_TRUSTED: ("#fbe3e2", "#b85450"),
    TRUSTED: ("#dcefd9", "#82b366"),
    TRUSTED_OUT_OF_SCOPE: ("#ffe9a6", "#e6965a"),
}
KIND_STYLE: Mapping[str, dict[str, object]] = {
    "external entity": {"boxstyle": "square,pad=0.35", "facecolor": "white", "linewidth": 2.0},
    "process": {"boxstyle": "round,pad=0.35", "facecolor": "#f7fbff", "linewidth": 1.2},
    "data store": {"boxstyle": "square,pad=0.35", "facecolor": "#ececec", "linewidth": 1.2},
}
ATTACKER_COLOUR = "#cc0000"
OUT_OF_SCOPE_COLOUR = "#888888"
FRAME_PADDING = 0.75
LARGEST_DETAILED_GRAPH = 60
"""Above this many nodes, the picture is an overview: dots for components, plain lines for flows, no labels."""
OVERVIEW_MARKERS: Mapping[str, str] = {"external entity": "s", "process": "o", "data store": "D"}


def layout(graph: nx.DiGraph) -> dict[str, Position]:
    """Positions for every node: Parsec's fixed layout where it applies, else zones side by side, each a grid."""
    if all(node in PARSEC_LAYOUT for node in graph.nodes):
        return {node: PARSEC_LAYOUT[node] for node in graph.nodes}
    step_x, step_y = (1.0, 1.0) if len(graph) > LARGEST_DETAILED_GRAPH else (3.2, 1.6)
    members: dict[str, list[str]] = {NON_TRUSTED: [], TRUSTED: [], TRUSTED_OUT_OF_SCOPE: []}
    for node, boundary in graph.nodes(data="boundary"):
        members.setdefault(boundary, []).append(node)
    positions: dict[str, Position] = {}
    offset = 0.0
    for nodes in members.values():
        columns = max(1, math.ceil(math.sqrt(len(nodes) * step_y / step_x)))
        for index, node in enumerate(nodes):
            positions[node] = (offset + (index % columns) * step_x, (index // columns) * step_y)
        offset += columns * step_x + 3 * FRAME_PADDING + step_x
    return positions


def draw_dataflow(graph: nx.DiGraph, paths: Sequence[str | Path], title: str | None = None) -> list[Path]:
    """Draw `graph` once and save it to each of `paths` (format from the suffix: .svg, .png, .pdf)."""
    if not paths:
        return []
    positions = layout(graph)
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    width = max(xs) - min(xs) + 4
    height = max(ys) - min(ys) + 4
    scale = min(1.0, 30 / max(width, height))
    figure, axes = plt.subplots(figsize=(max(8.0, width * scale * 0.9), max(6.0, height * scale * 0.9)))
    try:
        axes.set_xlim(min(xs) - 2, max(xs) + 2)
        axes.set_ylim(min(ys) - 1.5, max(ys) + 1.5)
        axes.set_axis_off()
        axes.set_aspect("equal")
        overview = len(graph) > LARGEST_DETAILED_GRAPH
        _draw_boundaries(axes, graph, positions, one_frame_per_zone=overview)
        if overview:
            _draw_overview(axes, graph, positions)
        else:
            _draw_flows(axes, graph, positions, _draw_nodes(axes, graph, positions))
        _draw_legend(axes)
        axes.set_title(title or f"Parsec dataflow diagram ({graph.graph.get('variant', '')})", fontsize=13)
        figure.tight_layout()
        written = []
        for path in map(Path, paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=110, metadata=_metadata(path))
            written.append(path)
        return written
    finally:
        plt.close(figure)


def _metadata(path: Path) -> dict[str, str | None]:
    """Reproducible output: no creation date in SVG or PDF."""
    return {"Date": None} if path.suffix in (".svg", ".pdf") else {}


def _draw_boundaries(
    axes: Axes, graph: nx.DiGraph, positions: Mapping[str, Position], one_frame_per_zone: bool
) -> None:
    """Non-trusted as the background frame; every other zone as one frame per connected group of its nodes
    (or around all its nodes, for an overview)."""
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    face, edge = BOUNDARY_STYLE[NON_TRUSTED]
    axes.add_patch(
        FancyBboxPatch((x0 + 0.2, y0 + 0.2), x1 - x0 - 0.4, y1 - y0 - 0.4, boxstyle="round,pad=0,rounding_size=0.4",
                       facecolor=face, edgecolor=edge, linestyle="--", linewidth=2, zorder=0)
    )  # fmt: skip
    for boundary in (TRUSTED, TRUSTED_OUT_OF_SCOPE):
        members = [node for node, data in graph.nodes(data="boundary") if data == boundary]
        face, edge = BOUNDARY_STYLE[boundary]
        groups = (
            [set(members)] if one_frame_per_zone else nx.connected_components(graph.subgraph(members).to_undirected())
        )
        for group in groups:
            gx = [positions[node][0] for node in group]
            gy = [positions[node][1] for node in group]
            axes.add_patch(
                FancyBboxPatch(
                    (min(gx) - FRAME_PADDING * 1.6, min(gy) - FRAME_PADDING),
                    max(gx) - min(gx) + FRAME_PADDING * 3.2,
                    max(gy) - min(gy) + FRAME_PADDING * 2,
                    boxstyle="round,pad=0,rounding_size=0.5",
                    facecolor=face,
                    edgecolor=edge,
                    linestyle="--",
                    linewidth=2,
                    zorder=1,
                )
            )


def _draw_nodes(axes: Axes, graph: nx.DiGraph, positions: Mapping[str, Position]) -> dict[str, Text]:
    boxes = {}
    for node, data in graph.nodes(data=True):
        style = dict(KIND_STYLE.get(data["kind"], KIND_STYLE["process"]))
        style["edgecolor"] = "black"
        boxes[node] = axes.text(
            *positions[node],
            _wrap(data["label"]),
            ha="center",
            va="center",
            fontsize=8.5,
            fontweight="bold" if data["kind"] == "external entity" else "normal",
            bbox=style,
            zorder=4,
        )
    return boxes


def _wrap(label: str, width: int = 16) -> str:
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + len(word) < width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def _draw_overview(axes: Axes, graph: nx.DiGraph, positions: Mapping[str, Position]) -> None:
    """Components as dots by kind; flows as plain lines: red with an attacker, black crossing, grey internal."""
    styles = {"attacked": (ATTACKER_COLOUR, 0.6), "crossing": ("black", 0.4), "internal": ("#9a9a9a", 0.2)}
    segments: dict[str, list[tuple[Position, Position]]] = {style: [] for style in styles}
    for u, v, data in graph.edges(data=True):
        if data["attackers"]:
            style = "attacked"
        elif graph.nodes[u]["boundary"] != graph.nodes[v]["boundary"]:
            style = "crossing"
        else:
            style = "internal"
        segments[style].append((positions[u], positions[v]))
    for style, (colour, width) in styles.items():
        axes.add_collection(LineCollection(segments[style], colors=colour, linewidths=width, zorder=3))
    for kind, marker in OVERVIEW_MARKERS.items():
        members = [node for node, node_kind in graph.nodes(data="kind") if node_kind == kind]
        xs = [positions[node][0] for node in members]
        ys = [positions[node][1] for node in members]
        axes.scatter(xs, ys, s=6, marker=marker, c="white", edgecolors="black", linewidths=0.4, zorder=4)


def _draw_flows(axes: Axes, graph: nx.DiGraph, positions: Mapping[str, Position], boxes: Mapping[str, Text]) -> None:
    """Crossing flows thick; a pair of opposite flows as two arcs when an attacker sits on one, else one line."""
    half_sizes = _box_half_sizes(axes, boxes)
    for u, v, data in graph.edges(data=True):
        crossing = graph.nodes[u]["boundary"] != graph.nodes[v]["boundary"]
        reverse = graph.edges[v, u] if graph.has_edge(v, u) else None
        attacked = bool(_attackers(data)) or (reverse is not None and bool(_attackers(reverse)))
        if reverse is not None and not attacked and (str(u) > str(v)):
            continue  # drawn once, with both heads, from the other end
        bend = 0.22 if reverse is not None and attacked else 0.0
        control = _point_on_arc(positions[u], positions[v], bend, 0.5)
        axes.add_patch(
            FancyArrowPatch(
                _edge_of_box(positions[u], control, half_sizes[u]),
                _edge_of_box(positions[v], control, half_sizes[v]),
                connectionstyle=f"arc3,rad={bend}",
                arrowstyle="<|-|>" if reverse is not None and not attacked else "-|>",
                mutation_scale=13 if crossing else 8,
                linewidth=1.8 if crossing else 0.7,
                linestyle=(0, (4, 2)) if data["flow"].startswith("configure") else "-",
                color="black" if crossing else "#7a7a7a",
                zorder=3,
            )
        )
        _label_attackers(axes, data, positions[u], positions[v], bend)


def _box_half_sizes(axes: Axes, boxes: Mapping[str, Text]) -> dict[str, Position]:
    """Each node box's half width and height in data units (text extent plus the box's padding)."""
    figure = axes.figure
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    axes.apply_aspect()
    to_data = axes.transData.inverted()
    sizes = {}
    for node, text in boxes.items():
        padding = 0.3 * float(text.get_fontsize()) * figure.dpi / 72
        extent = text.get_window_extent(renderer).padded(padding)
        (x0, y0), (x1, y1) = to_data.transform([[extent.x0, extent.y0], [extent.x1, extent.y1]])
        sizes[node] = ((x1 - x0) / 2, (y1 - y0) / 2)
    return sizes


def _edge_of_box(center: Position, toward: Position, half_size: Position) -> Position:
    """Where the ray from a box's centre toward a point leaves the box."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    scale = min(
        half_size[0] / abs(dx) if dx else math.inf,
        half_size[1] / abs(dy) if dy else math.inf,
        1.0,
    )
    return center[0] + scale * dx, center[1] + scale * dy


def _attackers(data: Mapping[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(a, ATTACKER_COLOUR) for a in data["attackers"]] + [
        (f"{a} (out of scope)", OUT_OF_SCOPE_COLOUR) for a in data["out_of_scope_attackers"]
    ]


def _label_attackers(
    axes: Axes, data: Mapping[str, tuple[str, ...]], start: Position, end: Position, bend: float
) -> None:
    """Red labels on the curve, nearer its source so that the labels of two opposite arcs do not meet."""
    x, y = _point_on_arc(start, end, bend, 0.3)
    for index, (attacker, colour) in enumerate(_attackers(data)):
        axes.text(
            x,
            y - index * 0.45,
            attacker,
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color="white",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": colour, "edgecolor": "none"},
            zorder=5,
        )


def _point_on_arc(start: Position, end: Position, bend: float, t: float) -> Position:
    """The point at parameter `t` of matplotlib's arc3 curve (a quadratic Bézier with its control point offset
    from the chord's midpoint by `bend` times the chord, turned a quarter)."""
    (x0, y0), (x1, y1) = start, end
    control_x = (x0 + x1) / 2 + bend * (y1 - y0)
    control_y = (y0 + y1) / 2 - bend * (x1 - x0)
    a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t**2
    return a * x0 + b * control_x + c * x1, a * y0 + b * control_y + c * y1


def _draw_legend(axes: Axes) -> None:
    handles: Iterable[Patch | Line2D] = [
        Patch(facecolor=BOUNDARY_STYLE[NON_TRUSTED][0], edgecolor=BOUNDARY_STYLE[NON_TRUSTED][1], label="non-trusted"),
        Patch(facecolor=BOUNDARY_STYLE[TRUSTED][0], edgecolor=BOUNDARY_STYLE[TRUSTED][1], label="trusted"),
        Patch(
            facecolor=BOUNDARY_STYLE[TRUSTED_OUT_OF_SCOPE][0],
            edgecolor=BOUNDARY_STYLE[TRUSTED_OUT_OF_SCOPE][1],
            label="trusted, out of scope (assumptions)",
        ),
        Line2D([], [], color="black", linewidth=1.8, label="flow crossing a boundary"),
        Line2D([], [], color="#777777", linewidth=0.7, label="internal flow"),
        Patch(facecolor=ATTACKER_COLOUR, label="attacker on the flow"),
    ]
    axes.legend(handles=list(handles), loc="lower right", fontsize=7.5, framealpha=0.95)
