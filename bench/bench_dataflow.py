"""Benchmark of the threat model as data: the Parsec report, and a synthetic deployment of 2,000 dataflows.

Measures (wall clock, best of several runs after a cold first run, printed, never asserted):

1. the Parsec model: catalogue load, graph build, checks, report model + Markdown + HTML render, diagram picture;
2. a synthetic deployment made of copies of Parsec's dataflow graph (the seed's components and attacker positions,
   one copy per tenant site) trimmed to 2,000 dataflows: threat resolution per flow, STRIDE coverage, checks, and
   the report render (text, then the picture).

The issue quotes OWASP pytm at 11-14 s for a model of Parsec's size on this machine kind; that figure is printed
for comparison, not measured here (pytm is not a dependency).

    .venv/bin/python bench/bench_dataflow.py [--flows 2000] [--repeat 5] [--model seed|current]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import networkx as nx

from dataflow.catalogue import Catalogue, load_catalogue
from dataflow.checks import run_checks
from dataflow.graph import PARSEC_FLOWS, PARSEC_NODES, Flow, Node, build_graph
from dataflow.picture import draw_dataflow
from dataflow.queries import resolve_threats, stride_coverage
from dataflow.report import render_html, render_markdown, report_model

PYTM_SECONDS = (11.0, 14.0)
Result = TypeVar("Result")


def timed(action: Callable[[], Result], repeat: int) -> tuple[float, float, Result]:
    """(first run, best of the following `repeat` runs) in seconds, and the last result."""
    started = time.perf_counter()
    result = action()
    first = time.perf_counter() - started
    best = first
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return first, best, result


def synthetic_deployment(flow_count: int) -> tuple[list[Node], list[Flow]]:
    """Copies of Parsec's components and flows (one per site, IDs suffixed ``@site``), cut at `flow_count` flows."""
    nodes: list[Node] = []
    flows: list[Flow] = []
    site = 0
    while len(flows) < flow_count:
        suffix = f"@{site}"
        nodes += [replace(node, id=node.id + suffix, diagram="") for node in PARSEC_NODES]
        flows += [
            replace(flow, id=flow.id + suffix, source=flow.source + suffix, target=flow.target + suffix)
            for flow in PARSEC_FLOWS
        ]
        site += 1
    return nodes, flows[:flow_count]


def render_report(catalogue: Catalogue, graph: nx.DiGraph) -> int:
    """Build the report model and render both formats; the rendered size in characters."""
    model = report_model(catalogue, graph)
    return len(render_markdown(model)) + len(render_html(model))


def line(name: str, first: float, best: float) -> None:
    print(f"  {name:<50} first {first * 1000:8.1f} ms   best {best * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=2000, help="dataflows in the synthetic deployment")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--model", choices=("seed", "current"), default="seed", help="built-in model to measure")
    arguments = parser.parse_args()
    repeat = arguments.repeat

    print(f"Parsec model ({arguments.model})")
    first, best, catalogue = timed(lambda: load_catalogue(model=arguments.model), repeat)
    line("load + validate catalogue (cached after the first)", first, best)
    first, best, graph = timed(lambda: build_graph(catalogue), repeat)
    line(f"build graph ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} flows)", first, best)
    first, best, problems = timed(lambda: run_checks(catalogue, graph), repeat)
    line(f"run checks ({len(problems)} problems)", first, best)
    first, report_best, size = timed(lambda: render_report(catalogue, graph), repeat)
    line(f"report model + Markdown + HTML ({size // 1024} KiB)", first, report_best)
    with tempfile.TemporaryDirectory() as directory:
        svg = Path(directory) / "dataflow.svg"
        first, picture_best, _ = timed(lambda: draw_dataflow(graph, [svg]), min(repeat, 2))
        line("diagram picture (SVG)", first, picture_best)
    total = report_best + picture_best
    print(f"  report with picture: {total:.2f} s; OWASP pytm (quoted): {PYTM_SECONDS[0]:.0f}-{PYTM_SECONDS[1]:.0f} s, "
          f"{PYTM_SECONDS[0] / total:.0f}-{PYTM_SECONDS[1] / total:.0f}x slower")  # fmt: skip

    print(f"Synthetic deployment, {arguments.flows} dataflows")
    nodes, flows = synthetic_deployment(arguments.flows)
    first, best, big = timed(lambda: build_graph(catalogue, nodes, flows), repeat)
    line(f"build graph ({big.number_of_nodes()} nodes, {big.number_of_edges()} flows)", first, best)
    first, resolve_best, resolved = timed(lambda: resolve_threats(big, catalogue), repeat)
    instances = sum(len(threats) for threats in resolved.values())
    line(f"resolve threats per flow ({instances} threat instances)", first, resolve_best)
    first, best, coverage = timed(lambda: stride_coverage(catalogue, big), repeat)
    line(f"STRIDE coverage ({len(coverage)} crossing flows)", first, best)
    first, best, problems = timed(lambda: run_checks(catalogue, big), repeat)
    line(f"run checks ({len(problems)} problems)", first, best)
    first, best, size = timed(lambda: render_report(catalogue, big), min(repeat, 2))
    line(f"report model + Markdown + HTML ({size // 1024} KiB)", first, best)
    with tempfile.TemporaryDirectory() as directory:
        svg = Path(directory) / "dataflow.svg"
        first, best, _ = timed(lambda: draw_dataflow(big, [svg]), 0)
        line("diagram picture (SVG)", first, best)


if __name__ == "__main__":
    main()
