"""GenerateRandom for the software provider: bytes from the operating system's CSPRNG.

Mirrors svc:src/providers/mbed_crypto/generate_random.rs, the one place Parsec applies `buffer_size_limit`
(parsec-facts §4.5, §6.1): a request for more bytes than the limit is `ResponseTooLarge`, before any allocation.
"""

from __future__ import annotations

import secrets

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import GenerateRandom, GenerateRandomResult
from refimpl.providers.base import handles
from refimpl.providers.software.keys import SoftwareKeys


class RandomOps(SoftwareKeys):
    """GenerateRandom."""

    @handles(GenerateRandom)
    def generate_random(self, application: Application | None, operation: GenerateRandom) -> GenerateRandomResult:
        limit = self.settings.buffer_size_limit
        if operation.size > limit:
            raise ParsecError(Status.RESPONSE_TOO_LARGE, f"{operation.size} random bytes exceed buffer_size_limit")
        return GenerateRandomResult(random_bytes=secrets.token_bytes(operation.size))
