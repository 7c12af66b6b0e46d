"""Core operations over every provider's keys: ListKeys, and the admin operations ListClients and DeleteClient.

Parsec's core provider (svc:src/providers/core/mod.rs; parsec-facts §4.6). ListKeys concatenates the caller's
keys of every provider; ListClients is the sorted, de-duplicated union of key owners' names (the service's
internal identity excluded); DeleteClient destroys every key of the named client *under the admin caller's own
authenticator* and answers Success even when some key could not be destroyed, as Parsec does. Errors of one
provider are logged and do not stop the others. The admin checks happen in the back-end handler.

Several authenticators (`[[authenticator]]`): an application is a (name, authenticator) pair and each
authenticator has its own admins, so an admin administers the applications of its own authenticator only —
ListClients lists the names under the caller's authenticator, and DeleteClient deletes the client of that name
under it, exactly as Parsec's DeleteClient already does. The same name under another authenticator is another
application, which this admin neither sees nor deletes; its own authenticator's admins do. So a Direct admin (a
name anyone can claim) can never touch the keys of JwtSvid or UnixPeerCredentials tenants. With one authenticator
the answer is Parsec's, except that names left in a SQLite store by an authenticator no longer configured are not
listed (Parsec would list them, though its DeleteClient cannot delete them; Parsec's book forbids changing the
authenticator while keys exist, so that state should not arise).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from refimpl.errors import ParsecError
from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import Status
from refimpl.logs import quoted
from refimpl.operations import (
    DeleteClient,
    DeleteClientResult,
    DestroyKey,
    KeyInfo,
    ListClients,
    ListClientsResult,
    ListKeys,
    ListKeysResult,
)
from refimpl.providers.base import Provider, handles

log = logging.getLogger(__name__)


class ClientOperations(Provider):
    """Mixin of the Core provider: `providers` are the built crypto providers, in config order."""

    providers: Sequence[Provider]

    @handles(ListKeys)
    def list_keys_of_caller(self, application: Application | None, operation: ListKeys) -> ListKeysResult:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "ListKeys without an application identity")
        keys: list[KeyInfo] = []
        for provider in self.providers:
            try:
                keys.extend(provider.list_keys(application.identity))
            except Exception as error:
                log.error("ListKeys: provider %s failed (%s); its keys are left out", quoted(provider.name), error)
        return ListKeysResult(tuple(keys))

    @handles(ListClients)
    def list_all_clients(self, application: Application | None, operation: ListClients) -> ListClientsResult:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "ListClients without an application identity")
        namespace = application.identity.authenticator_id
        names: set[str] = set()
        for provider in self.providers:
            try:
                names.update(client.name for client in provider.list_clients() if client.authenticator_id == namespace)
            except Exception as error:
                log.error("ListClients: provider %s failed (%s); its clients are omitted", quoted(provider.name), error)
        return ListClientsResult(tuple(sorted(names)))

    @handles(DeleteClient)
    def delete_client(self, application: Application | None, operation: DeleteClient) -> DeleteClientResult:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "DeleteClient without an application identity")
        client = Application(ApplicationIdentity(operation.client, application.identity.authenticator_id))
        for provider in self.providers:
            try:
                keys = provider.list_keys(client.identity)
            except Exception as error:
                log.error("DeleteClient: listing keys on %s failed (%s)", quoted(provider.name), error)
                continue
            for key in keys:
                try:
                    provider.execute(client, DestroyKey(key.name))
                except Exception as error:
                    log.error(
                        "DeleteClient: destroying key %s of %s on %s failed (%s)",
                        quoted(key.name),
                        quoted(operation.client),
                        quoted(provider.name),
                        error,
                    )
        log.info("client %s deleted by admin %s", quoted(operation.client), quoted(application.identity.name))
        return DeleteClientResult()
