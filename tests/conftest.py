"""Suite-wide configuration: the plugins that start real parts, and the check of every `threat` marker.

A test tagged `@pytest.mark.threat("A1-S-1", "M-3")` claims to exercise those entries; the IDs must exist in one of
the built-in threat models (the seed, or the current revision for IDs it introduced, such as A12 or M-9), the one
source of truth, so a typo or a renumbered row fails collection instead of silently claiming coverage.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.shared", "tests.fixtures.service", "tests.fixtures.real_parts"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from dataflow.catalogue import BUILTIN_MODELS, load_catalogue

    catalogues = [load_catalogue(model=model) for model in BUILTIN_MODELS]
    unknown: dict[str, list[str]] = {}
    for item in items:
        for marker in item.iter_markers(name="threat"):
            for identifier in marker.args:
                if not any(identifier in catalogue for catalogue in catalogues):
                    unknown.setdefault(str(identifier), []).append(item.nodeid)
    if unknown:
        lines = [f"  {identifier}: {', '.join(nodeids[:3])}" for identifier, nodeids in sorted(unknown.items())]
        raise pytest.UsageError(
            "@pytest.mark.threat names IDs that are in none of the built-in threat models "
            f"({', '.join(BUILTIN_MODELS)}):\n" + "\n".join(lines)
        )
