"""An immutable, hashable mapping: the container of the model's stores (key-mapping store, provider key stores).

The concrete state must be a value (compared, hashed and shared between Hypothesis steps), so updates return a new
map instead of mutating.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only mapping whose updates (`set`, `without`) return new maps."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._items: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def set(self, key: K, value: V) -> FrozenMap[K, V]:
        """A copy with `key` bound to `value`."""
        items = dict(self._items)
        items[key] = value
        return FrozenMap(items)

    def without(self, keys: Iterable[K]) -> FrozenMap[K, V]:
        """A copy without `keys` (absent keys are ignored)."""
        dropped = set(keys)
        return FrozenMap({k: v for k, v in self._items.items() if k not in dropped})
