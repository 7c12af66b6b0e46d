"""The Parsec threat model as data: its catalogues (every revision), dataflow graph, checks, queries, diff and report.

- `dataflow.catalogue` — `load_catalogue()` → `Catalogue` (assumptions, assets, attackers, threats ``A1-S-1``…,
  N/A rows, U-/M-/O- mitigations, variants); `load_catalogue(model="current")` for the 2024-03-25 revision,
  `load_catalogue("revision.md")` for any Markdown revision; `Catalogue.variant("no-idp")` or ``("JWTS")``;
  `Catalogue.configurations_of(id)`; `DIFFERENCES` and `REVISION_DIFFERENCES`.
- `dataflow.records` — the JSON records of threats (with their ``configurations``), mitigations, assets….
- `dataflow.diff` — `diff_catalogues(old, new)`: the semantic diff of two revisions, as JSON, text or Markdown.
- `dataflow.graph` — `build_graph(catalogue)` → `networkx.DiGraph` of components, flows, attackers, boundaries.
- `dataflow.checks` — `run_checks(catalogue, graph)` → `Problem` list (empty when consistent).
- `dataflow.queries` — threats by asset/attacker/mitigation/flow, `what_if_removed`, `reachable_assets`,
  `stride_coverage`.
- `dataflow.report` / `dataflow.picture` — Markdown and HTML report, SVG/PNG diagram.
- `dataflow.seed_import` / `dataflow.drawio` — readers of the threat-model Markdown (any revision) and draw.io files.
"""
