"""Suite-wide configuration: the plugins that start real parts, and the check of every `threat` marker.

A test tagged `@pytest.mark.threat("A1-S-1", "M-3")` claims to exercise those seed entries; the IDs must exist in
the catalogue (the one source of truth), so a typo or a renumbered row fails collection instead of silently
claiming coverage.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.shared", "tests.fixtures.service", "tests.fixtures.real_parts"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from dataflow.catalogue import load_catalogue

    catalogue = load_catalogue()
    unknown: dict[str, list[str]] = {}
    for item in items:
        for marker in item.iter_markers(name="threat"):
            for identifier in marker.args:
                if identifier not in catalogue:
                    unknown.setdefault(str(identifier), []).append(item.nodeid)
    if unknown:
        lines = [f"  {identifier}: {', '.join(nodeids[:3])}" for identifier, nodeids in sorted(unknown.items())]
        raise pytest.UsageError(
            "@pytest.mark.threat names IDs that are not in the catalogue (dataflow/data/catalogue.json):\n"
            + "\n".join(lines)
        )
