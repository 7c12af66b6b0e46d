"""The conformance package's modules import each other in one direction: no cycle, not even a lazy one.

A cycle (the machine importing the trace that imports the machine to replay it) is how a package grows import-order
bugs and modules that cannot be understood alone; every import of the package, top-level or inside a function,
counts here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "parsec_tm" / "conformance"
PREFIX = "parsec_tm.conformance."


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "parsec_tm.conformance":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PREFIX):
                found.add(node.module.removeprefix(PREFIX).split(".")[0])
    return found


def test_the_conformance_modules_form_no_import_cycle() -> None:
    graph = nx.DiGraph()
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, other) for other in imports_of(path) if other in modules and other != name)
    assert graph.number_of_edges() > 5  # the walk found the imports
    assert nx.is_directed_acyclic_graph(graph), f"import cycles: {list(nx.simple_cycles(graph))}"
    assert not set(nx.descendants(graph, "trace")), "trace must not import the rest of the harness"
