"""The back-end handler: one per provider; checks a request is for it, decodes the body, runs it, encodes the result.

Parsec's `BackEndHandler` (svc:src/back/backend_handler.rs; parsec-facts §1.2 steps 10–14), in Parsec's order:

10. `is_capable`: (provider is Core) ≠ (opcode is a core opcode) → PsaErrorNotSupported, checked first; then a
    provider, content type or accept type that is not this back end's → WrongProviderId, ContentTypeNotSupported,
    AcceptTypeNotSupported (the dispatcher and the header parser already make these three impossible on the wire;
    they are kept so a back end never trusts its caller);
11. admin operations: no application → NotAuthenticated; not an admin → AdminOperation;
12. body decoding: not protobuf → DeserializingBodyFailed, protobuf but invalid → InvalidEncoding;
13. an operation that needs an application, without one → NotAuthenticated;
14. the provider's result, encoded; an encoding failure → SerializingBodyFailed.

One addition to Parsec: GenerateRandom asking for more than `buffer_size_limit` bytes is answered ResponseTooLarge
here, for every provider, before anything is allocated (Parsec checks it in the Mbed Crypto provider only).
"""

from __future__ import annotations

import logging

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import (
    ADMIN_OPCODES,
    CORE_OPCODES,
    OPCODES_WITHOUT_APPLICATION,
    BodyType,
    Opcode,
    ProviderId,
    Status,
)
from refimpl.logs import quoted
from refimpl.operations import GenerateRandom
from refimpl.providers.base import Provider
from refimpl.wire.codec import decode_operation, encode_result
from refimpl.wire.header import Request, RequestHeader, Response

log = logging.getLogger(__name__)


class BackEndHandler:
    def __init__(self, provider: Provider, buffer_size_limit: int) -> None:
        self.provider = provider
        self.buffer_size_limit = buffer_size_limit
        self._is_core = provider.provider_id == ProviderId.CORE

    def is_capable(self, header: RequestHeader) -> None:
        """Step 10: raise unless this back end can serve a request with this header."""
        if self._is_core != (header.opcode in CORE_OPCODES):
            raise ParsecError(
                Status.PSA_ERROR_NOT_SUPPORTED, f"{Opcode(header.opcode).name} cannot go to provider {header.provider}"
            )
        if header.provider != self.provider.provider_id:
            raise ParsecError(Status.WRONG_PROVIDER_ID, f"provider {header.provider} sent to {self.provider.name}")
        if header.content_type != BodyType.PROTOBUF:
            raise ParsecError(Status.CONTENT_TYPE_NOT_SUPPORTED, f"content type {header.content_type}")
        if header.accept_type != BodyType.PROTOBUF:
            raise ParsecError(Status.ACCEPT_TYPE_NOT_SUPPORTED, f"accept type {header.accept_type}")

    def execute_request(self, request: Request, application: Application | None) -> Response:
        """Steps 11–14: the response to a request `is_capable` accepted; failures raise `ParsecError`."""
        opcode = Opcode(request.header.opcode)
        if opcode in ADMIN_OPCODES:
            if application is None:
                raise ParsecError(Status.NOT_AUTHENTICATED, f"admin operation {opcode.name} without authentication")
            if not application.is_admin:
                log.warning(
                    "application %s tried to perform an admin operation (%s)",
                    quoted(application.identity.name),
                    opcode.name,
                )
                raise ParsecError(Status.ADMIN_OPERATION, f"{opcode.name} needs an admin")
        operation = decode_operation(opcode, request.body)
        if application is None and opcode not in OPCODES_WITHOUT_APPLICATION:
            raise ParsecError(Status.NOT_AUTHENTICATED, f"{opcode.name} needs an application identity")
        if isinstance(operation, GenerateRandom) and operation.size > self.buffer_size_limit:
            raise ParsecError(
                Status.RESPONSE_TOO_LARGE, f"{operation.size} random bytes asked, limit {self.buffer_size_limit}"
            )
        result = self.provider.execute(application, operation)
        try:
            body = encode_result(opcode, result)
        except ParsecError:
            raise
        except Exception as error:
            raise ParsecError(Status.SERIALIZING_BODY_FAILED, f"{opcode.name} result: {error!r}") from None
        return Response.for_request(request.header, Status.SUCCESS, body)
