"""GenerateRandom on every provider: the requested number of bytes, and bytes that differ between calls.

Parsec's e2e generate_random suite. No application identity is needed (parsec-facts §2.1).
"""

from __future__ import annotations

import pytest

from refimpl.ids import Opcode
from refimpl.operations import GenerateRandom
from refimpl.providers.base import KeyStoreProvider
from tests.providers.helpers import TENANT_A, run


@pytest.mark.parametrize("size", [0, 1, 32, 1024])
@pytest.mark.needs(Opcode.PSA_GENERATE_RANDOM)
def test_returns_exactly_the_requested_size(provider: KeyStoreProvider, size: int) -> None:
    assert len(run(provider, None, GenerateRandom(size)).random_bytes) == size


@pytest.mark.needs(Opcode.PSA_GENERATE_RANDOM)
def test_draws_differ(provider: KeyStoreProvider) -> None:
    draws = {run(provider, TENANT_A, GenerateRandom(32)).random_bytes for _ in range(8)}
    assert len(draws) == 8  # 8 equal 256-bit draws would take a broken generator
