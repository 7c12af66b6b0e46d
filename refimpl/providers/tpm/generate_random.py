"""TPM GenerateRandom: bytes from the TPM's random number generator (TPM2_GetRandom).

Parsec's `svc:src/providers/tpm/generate_random.rs`. The TPM returns at most one digest's worth of bytes per
command, so larger requests take several commands, all under one hold of the lock. Like the Mbed Crypto
provider, a request larger than `core_settings.buffer_size_limit` answers ResponseTooLarge before any command.
"""

from __future__ import annotations

import logging

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import GenerateRandom, GenerateRandomResult
from refimpl.providers.base import handles
from refimpl.providers.tpm.common import TpmBase

log = logging.getLogger(__name__)

MAX_BYTES_PER_COMMAND = 32
"""TPM2_GetRandom returns at most the size of the TPM's largest digest; 32 bytes (SHA-256) every TPM gives."""


class RandomGeneration(TpmBase):
    """GenerateRandom."""

    @handles(GenerateRandom)
    def psa_generate_random(self, application: Application | None, operation: GenerateRandom) -> GenerateRandomResult:
        if operation.size > self.settings.buffer_size_limit:
            raise ParsecError(Status.RESPONSE_TOO_LARGE, f"{operation.size} bytes exceed buffer_size_limit")
        chunks: list[bytes] = []
        missing = operation.size
        context = self.context
        with context.lock, context.hardware(log, application, "TPM2_GetRandom", self.name):
            while missing > 0:
                chunk = bytes(context.esapi.get_random(min(missing, MAX_BYTES_PER_COMMAND)))
                if not chunk:
                    raise ParsecError(Status.PSA_ERROR_INSUFFICIENT_ENTROPY, "the TPM returned no random bytes")
                chunks.append(chunk)
                missing -= len(chunk)
        return GenerateRandomResult(random_bytes=b"".join(chunks))
