"""The dispatcher: routes an authenticated request to the back-end handler of its provider ID.

Parsec's `Dispatcher` (svc:src/back/dispatcher.rs; parsec-facts §1.2 step 9, §4.4): a provider ID with no built
back end is ProviderNotRegistered. The Core back end (ID 0) is always there. When two configured providers share
a type (and so an ID), the later one receives the requests, as in Parsec's map keyed by provider ID.
"""

from __future__ import annotations

from collections.abc import Iterable

from refimpl.back.backend_handler import BackEndHandler
from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.wire.header import Request, Response


class Dispatcher:
    def __init__(self, backends: Iterable[BackEndHandler]) -> None:
        self._backends: dict[int, BackEndHandler] = {}
        for backend in backends:
            self._backends[int(backend.provider.provider_id)] = backend

    def dispatch(self, request: Request, application: Application | None) -> Response:
        backend = self._backends.get(request.header.provider)
        if backend is None:
            raise ParsecError(Status.PROVIDER_NOT_REGISTERED, f"no provider with ID {request.header.provider} runs")
        backend.is_capable(request.header)
        return backend.execute_request(request, application)
