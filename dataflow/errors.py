"""The one exception of the `dataflow` package: the catalogue (or a query on it) names something that is wrong."""

from __future__ import annotations


class CatalogueError(ValueError):
    """The catalogue data is malformed, or an ID is not defined. The message names the entry and field to change."""
