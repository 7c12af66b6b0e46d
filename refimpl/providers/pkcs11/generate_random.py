"""PKCS#11 GenerateRandom: bytes from the token's random number generator (C_GenerateRandom).

Parsec's `svc:src/providers/pkcs11/generate_random.rs`. Like the Mbed Crypto provider, a request larger than
`core_settings.buffer_size_limit` answers ResponseTooLarge before the token is asked for anything.
"""

from __future__ import annotations

import logging

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import GenerateRandom, GenerateRandomResult
from refimpl.providers.base import handles
from refimpl.providers.pkcs11.common import Pkcs11Base
from refimpl.providers.pkcs11.library import hardware_command

log = logging.getLogger(__name__)


class RandomGeneration(Pkcs11Base):
    """GenerateRandom."""

    @handles(GenerateRandom)
    def psa_generate_random(self, application: Application | None, operation: GenerateRandom) -> GenerateRandomResult:
        if operation.size > self.settings.buffer_size_limit:
            raise ParsecError(Status.RESPONSE_TOO_LARGE, f"{operation.size} bytes exceed buffer_size_limit")
        if operation.size == 0:
            return GenerateRandomResult(random_bytes=b"")
        with self.token.session() as pooled, hardware_command(log, application, "C_GenerateRandom", self.name):
            random_bytes = pooled.session.generate_random(operation.size * 8)
        return GenerateRandomResult(random_bytes=bytes(random_bytes))
