"""What the notebooks use to explore the threat model in Jupyter: threat tables as pandas DataFrames (sortable and
filterable with pandas' own methods), the evidence per row as a DataFrame, and the what-if widget.

The what-if widget (ipywidgets) offers one tick box per M- and O- mitigation, all in force at first; untick some and
the dataflow diagram is redrawn with the flows whose threats are left without any M- or O- mitigation in red
(`dataflow.queries.what_if_removed`), and the exposed threats listed below it. pandas, ipywidgets and JupyterLab are
the ``notebooks`` extra.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import networkx as nx

from dataflow.catalogue import Catalogue
from dataflow.graph import flows_of_attacker

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from parsec_tm.evidence.gather import EvidenceReport

EXPOSED_COLOUR = "#cc0000"
QUIET_COLOUR = "#9e9e9e"
BOUNDARY_COLOURS = {"trusted": "#c8e6c9", "non-trusted": "#ffcdd2", "trusted-out-of-scope": "#ffe9a6"}


def threat_frame(catalogue: Catalogue) -> Any:
    """The catalogue's threat rows as a DataFrame indexed by threat ID: attacker, STRIDE letter, description,
    mitigations and assets (comma-separated, as the document writes them)."""
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    rows = [
        {
            "id": t.id,
            "attacker": t.attacker,
            "stride": t.stride,
            "description": t.description,
            "mitigations": ", ".join(t.mitigations),
            "assets": ", ".join(t.assets),
        }
        for t in catalogue.threats
    ]
    return pd.DataFrame(rows, columns=["id", "attacker", "stride", "description", "mitigations", "assets"]).set_index(
        "id"
    )


def evidence_frame(report: EvidenceReport) -> Any:
    """The evidence per row as a DataFrame indexed by threat ID: status, counts of each kind of evidence, and the
    declared reason where a row cannot have executable evidence."""
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    kinds = ("proof", "counterexample", "test", "property")
    rows = [
        {
            "id": t.id,
            "status": t.status,
            **{f"{kind}s": sum(1 for e in t.evidence if e.kind == kind) for kind in kinds},
            "mitigations": ", ".join(t.mitigations),
            "meets_goal": t.meets_goal,
            "reason": t.reason,
        }
        for t in report.threats
    ]
    return pd.DataFrame(rows).set_index("id")


def exposed_flows(catalogue: Catalogue, graph: nx.DiGraph, removed: Iterable[str]) -> tuple[list[str], list[str]]:
    """Removing `removed`: the threat IDs left without any M- or O- mitigation, and the flows their attackers sit on."""
    from dataflow.queries import what_if_removed

    threats = what_if_removed(catalogue, list(removed))
    flows = {
        graph.edges[u, v]["flow"]
        for attacker in dict.fromkeys(t.attacker for t in threats)
        for u, v in flows_of_attacker(graph, attacker)
    }
    return [t.id for t in threats], sorted(flows)


def draw_what_if(graph: nx.DiGraph, flows: Iterable[str], title: str = "") -> Figure:
    """The dataflow diagram with `flows` drawn thick and red, every other flow thin and grey."""
    from matplotlib.figure import Figure

    from dataflow.picture import layout

    exposed = set(flows)
    positions = layout(graph)
    figure = Figure(figsize=(11, 6))
    axes = figure.subplots()
    axes.set_axis_off()
    if title:
        axes.set_title(title)
    colours = [BOUNDARY_COLOURS.get(boundary, "white") for _, boundary in graph.nodes(data="boundary")]
    nx.draw_networkx_nodes(graph, positions, ax=axes, node_color=colours, node_size=900, edgecolors="#555555")
    nx.draw_networkx_labels(graph, positions, ax=axes, labels={n: n.replace("_", "\n") for n in graph}, font_size=6)
    for exposed_now in (False, True):
        edges = [(u, v) for u, v, flow in graph.edges(data="flow") if (flow in exposed) == exposed_now]
        nx.draw_networkx_edges(
            graph,
            positions,
            ax=axes,
            edgelist=edges,
            edge_color=EXPOSED_COLOUR if exposed_now else QUIET_COLOUR,
            width=3.0 if exposed_now else 0.8,
            arrows=True,
            connectionstyle="arc3,rad=0.08",
            node_size=900,
        )
    return figure


def figure_svg(figure: Figure) -> str:
    """A matplotlib figure as inline SVG markup."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue()


def what_if_widget(catalogue: Catalogue, graph: nx.DiGraph) -> Any:
    """Tick boxes for every M- and O- mitigation and, below them, the diagram and the exposed threats, redrawn on
    every change. Returns the ipywidgets box: ``children[0].children`` are the tick boxes, ``children[1]`` the
    diagram (SVG in an HTML widget) and ``children[2]`` the table of exposed threats (HTML), so the state lives in
    the kernel and a rendered notebook shows it."""
    import ipywidgets as widgets  # type: ignore[import-untyped, unused-ignore]

    boxes = [
        widgets.Checkbox(value=True, description=m.id, indent=False, layout=widgets.Layout(width="70px"))
        for m in catalogue.mitigations
        if m.kind in ("M", "O")
    ]
    picture, table = widgets.HTML(), widgets.HTML()
    frame = threat_frame(catalogue)

    def redraw(_: object = None) -> None:
        removed = [box.description for box in boxes if not box.value]
        threats, flows = exposed_flows(catalogue, graph, removed)
        title = f"Removed: {', '.join(removed) or 'nothing'}; {len(threats)} threat(s) exposed"
        picture.value = figure_svg(draw_what_if(graph, flows, title))
        exposed = frame.loc[threats, ["attacker", "stride", "mitigations", "description"]]
        table.value = exposed.to_html() if threats else "<p>No threat is left without an M- or O- mitigation.</p>"

    for box in boxes:
        box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(boxes, layout=widgets.Layout(flex_flow="row wrap")), picture, table])
