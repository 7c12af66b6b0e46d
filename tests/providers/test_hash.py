"""HashCompute and HashCompare on every provider that has them: FIPS 180-4 / FIPS 202 known answers and statuses.

Parsec's e2e hash suite. Hash operations need no key and no application identity (parsec-facts §2.1).
"""

from __future__ import annotations

import pytest

from refimpl.ids import Opcode, Status
from refimpl.operations import HashCompare, HashCompute
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import Hash
from tests.providers.helpers import run, status_of, unhex, vectors

KNOWN = vectors("hashes")
MESSAGE = unhex(KNOWN["input_hex"])


@pytest.mark.parametrize("name", sorted(KNOWN["digests"]))
@pytest.mark.needs(Opcode.PSA_HASH_COMPUTE, Opcode.PSA_HASH_COMPARE)
def test_known_digests_of_abc(provider: KeyStoreProvider, name: str) -> None:
    algorithm, digest = Hash[name], unhex(KNOWN["digests"][name])
    assert run(provider, None, HashCompute(algorithm, MESSAGE)).hash == digest
    run(provider, None, HashCompare(algorithm, MESSAGE, digest))


@pytest.mark.needs(Opcode.PSA_HASH_COMPARE)
def test_a_digest_that_does_not_match_is_invalid_signature(provider: KeyStoreProvider) -> None:
    digest = unhex(KNOWN["digests"]["SHA_256"])
    for wrong in (bytes([digest[0] ^ 1]) + digest[1:], digest[:-1], digest + b"\0", b""):
        compare = HashCompare(Hash.SHA_256, MESSAGE, wrong)
        assert status_of(provider, None, compare) is Status.PSA_ERROR_INVALID_SIGNATURE


@pytest.mark.parametrize("algorithm", [Hash.MD2, Hash.MD4])
@pytest.mark.needs(Opcode.PSA_HASH_COMPUTE)
def test_unsupported_hashes_are_not_supported(provider: KeyStoreProvider, algorithm: Hash) -> None:
    assert status_of(provider, None, HashCompute(algorithm, MESSAGE)) is Status.PSA_ERROR_NOT_SUPPORTED
