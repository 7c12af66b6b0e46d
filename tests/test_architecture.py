"""The architecture holds: the dataflow diagram and the code line up box for box, and dependencies point one way.

* every component of the dataflow graph that the reference service implements names its code (`code` attribute),
  and that file or package exists and opens with a docstring;
* `dataflow/` imports none of the other packages, `model/` imports only `dataflow/`, `properties/` only `model/`
  and `dataflow/`, and `refimpl/` — the thing under test — imports none of the model.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dataflow.catalogue import load_catalogue
from dataflow.graph import build_graph

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = {"parsec_tm", "dataflow", "model", "properties", "refimpl", "tests"}
ALLOWED_IMPORTS = {
    "dataflow": {"dataflow"},
    "model": {"model", "dataflow"},
    "properties": {"properties", "model", "dataflow"},
    "refimpl": {"refimpl"},
}


def top_level_imports(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports only: the project uses no relative ones)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports."""
    return top_level_imports(path) & PROJECT_PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED_IMPORTS))
def test_dependencies_point_one_way(package: str) -> None:
    offending = {
        str(path.relative_to(REPO_ROOT)): sorted(project_imports(path) - ALLOWED_IMPORTS[package])
        for path in (REPO_ROOT / package).rglob("*.py")
        if "generated" not in path.parts
    }
    offending = {module: names for module, names in offending.items() if names}
    assert not offending, f"{package}/ may only import {sorted(ALLOWED_IMPORTS[package])}: {offending}"


def test_every_service_box_of_the_diagram_has_its_code() -> None:
    graph = build_graph(load_catalogue())
    boxes = {node: data["code"] for node, data in graph.nodes(data=True) if data.get("code")}
    assert {"listener", "front_end", "authenticator", "dispatcher", "provider_tpm"} <= set(boxes)
    missing = {node: code for node, code in boxes.items() if not (REPO_ROOT / code).exists()}
    assert not missing, f"diagram boxes whose code does not exist: {missing}"
    for node, code in boxes.items():
        module = REPO_ROOT / code
        module = module / "__init__.py" if module.is_dir() else module
        docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))
        assert docstring, f"{module.relative_to(REPO_ROOT)} (diagram box {node!r}) must open with a docstring"


def test_every_module_opens_with_a_docstring() -> None:
    undocumented = [
        str(path.relative_to(REPO_ROOT))
        for package in ("parsec_tm", "dataflow", "model", "properties", "refimpl")
        for path in (REPO_ROOT / package).rglob("*.py")
        if "generated" not in path.parts and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not undocumented, f"modules without an opening docstring: {undocumented}"


def test_py_spiffe_is_imported_only_through_refimpl_spiffe_api() -> None:
    """py-spiffe's import sets off cryptography's DSA deprecation warning; `refimpl.spiffe_api` absorbs exactly that
    one, so a command that imports `spiffe` anywhere else would write the warning on stderr."""
    direct = [
        str(path.relative_to(REPO_ROOT))
        for package in ("parsec_tm", "refimpl", "dataflow", "model", "properties")
        for path in (REPO_ROOT / package).rglob("*.py")
        if path.name != "spiffe_api.py" and "spiffe" in top_level_imports(path)
    ]
    assert not direct, f"import py-spiffe's names from refimpl.spiffe_api instead: {direct}"
