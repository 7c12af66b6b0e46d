"""The front-end handler: read one request, authenticate it, dispatch it, give back one response.

Parsec's `FrontEndHandler::handle_request` (svc:src/front/front_end.rs; parsec-facts §1.2 steps 1–8, §4.2, §6.3).
A request that fails before its header is trusted is answered `Response.from_status` (provider 0, session 0,
opcode Ping); later failures echo the request header. Authentication: auth type NoAuth gives no application; an
auth type with no configured authenticator is AuthenticatorNotRegistered; otherwise the authenticator decides.

`process(recv_exactly, peer)` is the bytes-in entry point: the connection loop calls it with a request it has
already read (`refimpl.front.event_loop`), tests and fuzzers with any bytes.

Logging: the M-4 events "new request received" (after authentication, with the application identity) and
"response sent back" (`log_sent`, with the status, by whoever wrote the response once it is written); every
failure's detail goes to the log only, the client gets the bare status (M-1). Request bodies and auth fields
are never logged. An unexpected exception inside a provider is answered PsaErrorGenericError and logged (with its
traceback when `log_error_details` is set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from refimpl.authenticators.base import Authenticator
from refimpl.back.dispatcher import Dispatcher
from refimpl.errors import ParsecError
from refimpl.front.listener import PeerCredentials
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType, Opcode, Status
from refimpl.logs import Event, log_event
from refimpl.wire.framing import RecvExactly, read_request
from refimpl.wire.header import Request, Response

log = logging.getLogger(__name__)

_OPCODE_NAMES: dict[int, str] = {opcode: opcode.name.title().replace("_", "") for opcode in Opcode}  # PsaSignHash
_STATUS_NAMES: dict[int, str] = {status: status.parsec_name for status in Status}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A request's response and what the "response sent back" event says about it."""

    response: Response
    application: ApplicationIdentity | None
    opcode: str
    """Parsec's name of the request's opcode, or "none" when the header could not be read."""

    @property
    def status(self) -> str:
        return _STATUS_NAMES[self.response.header.status]


class FrontEndHandler:
    def __init__(
        self,
        dispatcher: Dispatcher,
        authenticators: Mapping[AuthType, Authenticator],
        body_len_limit: int,
        *,
        log_error_details: bool = False,
    ) -> None:
        self.dispatcher = dispatcher
        self.authenticators = dict(authenticators)
        self.body_len_limit = body_len_limit
        self.log_error_details = log_error_details

    def log_sent(self, outcome: Outcome) -> None:
        """The M-4 event "response sent back", logged by whoever wrote the response, once it is written."""
        log_event(log, Event.RESPONSE_SENT, outcome.application, opcode=outcome.opcode, status=outcome.status)

    def respond(self, recv_exactly: RecvExactly, peer: Callable[[], PeerCredentials | None]) -> Response:
        """The response to the request read with `recv_exactly` (for callers that write it themselves)."""
        return self.process(recv_exactly, peer).response

    def process(self, recv_exactly: RecvExactly, peer: Callable[[], PeerCredentials | None]) -> Outcome:
        """Read, authenticate and dispatch one request; `peer()` gives the client's credentials (asked of the
        kernel only if the authenticator uses them)."""
        try:
            request = read_request(recv_exactly, self.body_len_limit)
        except ParsecError as error:
            log.warning("rejected a request before reading its header: %s (%s)", error.status.parsec_name, error.detail)
            return Outcome(Response.from_status(error.status), None, "none")
        opcode = _OPCODE_NAMES[request.header.opcode]
        provider = int(request.header.provider)
        try:
            application = self._authenticate(request, peer)
        except ParsecError as error:
            log_event(log, Event.REQUEST_RECEIVED, None, opcode=opcode, provider=provider, authentication="failed")
            log.info("%s: authentication failed: %s (%s)", opcode, error.status.parsec_name, error.detail)
            return Outcome(Response.for_request(request.header, error.status), None, opcode)
        identity = None if application is None else application.identity
        log_event(log, Event.REQUEST_RECEIVED, identity, opcode=opcode, provider=provider)
        try:
            response = self.dispatcher.dispatch(request, application)
        except ParsecError as error:
            log.info("%s failed: %s (%s)", opcode, error.status.parsec_name, error.detail)
            response = Response.for_request(request.header, error.status)
        except Exception as error:
            log.error(
                "%s failed unexpectedly: %s: %s", opcode, type(error).__name__, error, exc_info=self.log_error_details
            )
            response = Response.for_request(request.header, Status.PSA_ERROR_GENERIC_ERROR)
        return Outcome(response, identity, opcode)

    def _authenticate(self, request: Request, peer: Callable[[], PeerCredentials | None]) -> Application | None:
        auth_type = request.header.auth_type
        if auth_type == AuthType.NO_AUTH:
            return None
        authenticator = self.authenticators.get(AuthType(auth_type))
        if authenticator is None:
            raise ParsecError(Status.AUTHENTICATOR_NOT_REGISTERED, f"no {AuthType(auth_type).name} authenticator")
        return authenticator.authenticate(request.auth, peer() if authenticator.USES_PEER_CREDENTIALS else None)
