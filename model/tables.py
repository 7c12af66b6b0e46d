"""The arrays of the symbolic state, in two representations behind one interface.

- `ArrayTable` wraps a Z3 array: used over uninterpreted sorts, where the proofs quantify over unboundedly many
  tenants, key names and keys.
- `FiniteTable` holds one Z3 expression per point of a small finite domain: used for bounded model checking and the
  agreement test, where it keeps every formula free of array reasoning (a read at a symbolic index becomes an
  if-then-else over the points), which Z3 solves orders of magnitude faster once transitions are chained.

Both support what the transition encoders need: read (`table[i]`, `table[i, j]`), point update (`store`),
if-then-else (`ite`) and equality (`equals`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import z3

Expr = Any
Index = tuple[Expr, ...]


def _as_index(index: Expr | Index) -> Index:
    return index if isinstance(index, tuple) else (index,)


class Table:
    """An array from a product of sorts to a sort."""

    def __getitem__(self, index: Expr | Index) -> Expr:
        raise NotImplementedError

    def store(self, index: Expr | Index, value: Expr) -> Table:
        raise NotImplementedError

    def ite(self, condition: Expr, other: Table) -> Table:
        raise NotImplementedError

    def equals(self, other: Table) -> Expr:
        raise NotImplementedError

    def same_as(self, other: Table) -> bool:
        """Structural identity (both branches of an if-then-else the same)."""
        raise NotImplementedError


class ArrayTable(Table):
    """A Z3 array term."""

    def __init__(self, term: Expr) -> None:
        self.term = term

    def __getitem__(self, index: Expr | Index) -> Expr:
        return self.term[_as_index(index)] if isinstance(index, tuple) else self.term[index]

    def store(self, index: Expr | Index, value: Expr) -> Table:
        return ArrayTable(z3.Store(self.term, *_as_index(index), value))

    def ite(self, condition: Expr, other: Table) -> Table:
        assert isinstance(other, ArrayTable)
        return self if self is other or self.same_as(other) else ArrayTable(z3.If(condition, self.term, other.term))

    def equals(self, other: Table) -> Expr:
        assert isinstance(other, ArrayTable)
        return self.term == other.term

    def same_as(self, other: Table) -> bool:
        return isinstance(other, ArrayTable) and bool(self.term.eq(other.term))


class Grid:
    """The points of a finite index domain, shared by every table over it, with a cache of index matches."""

    def __init__(self, domains: Sequence[Sequence[Expr]]) -> None:
        self.domains = [list(domain) for domain in domains]
        self.points = list(itertools.product(*self.domains))
        self.position = {tuple(v.get_id() for v in point): i for i, point in enumerate(self.points)}
        self.known = [{v.get_id() for v in domain} for domain in self.domains]
        self._matches: dict[tuple[int, ...], list[tuple[int, Expr]]] = {}

    def matching(self, index: Index) -> list[tuple[int, Expr]]:
        """(position, condition) of the points `index` may denote; concrete components are matched directly."""
        key = tuple(component.get_id() for component in index)
        cached = self._matches.get(key)
        if cached is not None:
            return cached
        matches = []
        for position, point in enumerate(self.points):
            conditions = []
            possible = True
            for component, value, known in zip(index, point, self.known, strict=True):
                if component.get_id() in known:
                    possible = component.get_id() == value.get_id()
                    if not possible:
                        break
                else:
                    conditions.append(component == value)
            if possible:
                matches.append((position, z3.And(conditions) if conditions else z3.BoolVal(True)))
        self._matches[key] = matches
        return matches


_GRIDS: dict[tuple[tuple[int, ...], ...], Grid] = {}


def grid(domains: Sequence[Sequence[Expr]]) -> Grid:
    """The shared `Grid` of these domains."""
    key = tuple(tuple(v.get_id() for v in domain) for domain in domains)
    if key not in _GRIDS:
        _GRIDS[key] = Grid(domains)
    return _GRIDS[key]


class FiniteTable(Table):
    """One expression per point of a finite grid of indices."""

    def __init__(self, points: Grid, values: Sequence[Expr]) -> None:
        self.grid = points
        self.values = list(values)

    def __getitem__(self, index: Expr | Index) -> Expr:
        key = _as_index(index)
        direct = self.grid.position.get(tuple(component.get_id() for component in key))
        if direct is not None:
            return self.values[direct]
        matches = self.grid.matching(key)
        result = self.values[matches[-1][0]]
        for position, condition in reversed(matches[:-1]):
            result = z3.If(condition, self.values[position], result)
        return result

    def store(self, index: Expr | Index, value: Expr) -> Table:
        values = list(self.values)
        for position, condition in self.grid.matching(_as_index(index)):
            values[position] = value if z3.is_true(condition) else z3.If(condition, value, values[position])
        return FiniteTable(self.grid, values)

    def ite(self, condition: Expr, other: Table) -> Table:
        assert isinstance(other, FiniteTable)
        if self is other:
            return self
        values = [
            a if a.get_id() == b.get_id() else z3.If(condition, a, b)
            for a, b in zip(self.values, other.values, strict=True)
        ]
        return FiniteTable(self.grid, values)

    def equals(self, other: Table) -> Expr:
        assert isinstance(other, FiniteTable)
        return z3.And([a == b for a, b in zip(self.values, other.values, strict=True)])

    def same_as(self, other: Table) -> bool:
        return self is other or (
            isinstance(other, FiniteTable)
            and all(a.get_id() == b.get_id() for a, b in zip(self.values, other.values, strict=True))
        )


def finite_table(domains: Sequence[Sequence[Expr]], body: Callable[..., Expr]) -> FiniteTable:
    """The finite table mapping each point to `body(point)`."""
    points = grid(domains)
    return FiniteTable(points, [body(*point) for point in points.points])
