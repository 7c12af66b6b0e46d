"""Fixtures for the dataflow tests: the built-in catalogues and graph, the threat-model files, bad catalogues."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest

from dataflow.catalogue import Catalogue, catalogue_to_document, load_catalogue
from dataflow.graph import build_graph
from tests.dataflow.catalogue_helpers import Document


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def no_idp(catalogue: Catalogue) -> Catalogue:
    return catalogue.variant("no-idp")


@pytest.fixture(scope="session")
def graph(catalogue: Catalogue) -> nx.DiGraph:
    return build_graph(catalogue)


@pytest.fixture(scope="session")
def seed_markdown(shared: Path) -> Path:
    path = shared / "seed" / "parsec_threat_model.md"
    assert path.is_file(), f"the seed threat model is missing at {path}"
    return path


@pytest.fixture(scope="session")
def current_markdown(shared: Path) -> Path:
    path = shared / "seed" / "revisions" / "parsec_threat_model.2024-03-25.md"
    assert path.is_file(), f"the current threat-model revision is missing at {path}"
    return path


@pytest.fixture(scope="session")
def current() -> Catalogue:
    """The built-in model of the current revision (2024-03-25), every configuration's rows."""
    return load_catalogue(model="current")


@pytest.fixture(scope="session")
def seed_diagram(shared: Path) -> Path:
    path = shared / "seed" / "dataflow_diagram.drawio.xml"
    assert path.is_file(), f"the seed dataflow diagram is missing at {path}"
    return path


@pytest.fixture
def document(catalogue: Catalogue) -> Document:
    """A fresh, mutable copy of the built-in catalogue's JSON document."""
    return copy.deepcopy(catalogue_to_document(catalogue))


@pytest.fixture
def write_catalogue(tmp_path: Path) -> Callable[[Document], Path]:
    """Write a catalogue document to a temporary JSON file and return its path."""

    def write(document: Document) -> Path:
        path = tmp_path / "catalogue.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write
