"""The Parsec threat model as data: the seed's catalogue, its dataflow graph, checks, queries and report.

- `dataflow.catalogue` — `load_catalogue()` → `Catalogue` (assumptions, assets, attackers, threats ``A1-S-1``…,
  N/A rows, U-/M-/O- mitigations, variants); `Catalogue.variant("no-idp")`; `DIFFERENCES` from the seed and issue.
- `dataflow.graph` — `build_graph(catalogue)` → `networkx.DiGraph` of components, flows, attackers, boundaries.
- `dataflow.checks` — `run_checks(catalogue, graph)` → `Problem` list (empty when consistent).
- `dataflow.queries` — threats by asset/attacker/mitigation/flow, `what_if_removed`, `reachable_assets`,
  `stride_coverage`.
- `dataflow.report` / `dataflow.picture` — Markdown and HTML report, SVG/PNG diagram.
- `dataflow.seed_import` / `dataflow.drawio` — readers of the seed's Markdown and draw.io files.
"""
