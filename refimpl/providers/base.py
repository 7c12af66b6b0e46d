"""The Provider interface: one abstract class, a provider per key store, registered by Parsec's `provider_type`.

Modelled on pyca/cryptography's backends and Parsec's `Provide` trait (svc:src/providers/mod.rs). A provider
declares the operations it implements with `@handles(OperationClass)`; that one table answers both ListOpcodes
and dispatch, so they cannot disagree. `KeyStoreProvider` holds the key life cycle that every key-storing
provider shares (parsec-facts §4.5, "Generate/import algorithm for KIM-backed providers"):

* create: check the name is free → create the key in the provider → store the mapping → if storing the mapping
  fails, destroy the key again;
* destroy: look the mapping up → remove the mapping → destroy the key;
* start-up sweep: mappings whose key is gone are dropped (and keys with no mapping are destroyed, when the
  provider can enumerate its keys), so a crash between two steps orphans nothing.

Concrete providers register themselves with `@register_provider("MbedCrypto")` and are built from config by
`build_provider`. A provider type whose device cannot do all that its operations promise (SoftHSM2's OAEP, the
TPM's OAEP labels) says so in `CAPABILITIES`; it answers PsaErrorNotSupported where a missing one applies, and the
provider-parametrised tests choose their providers by the same declaration.
"""

from __future__ import annotations

import importlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from refimpl.errors import ConfigError, ParsecError
from refimpl.faults import AFTER_MAPPING_REMOVAL, AFTER_PROVIDER_WRITE, crash_point
from refimpl.identity import Application, ApplicationIdentity, KeyIdentity
from refimpl.ids import Opcode, ProviderId, Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.operations import OPCODE_OF, KeyInfo, Operation, ProviderInfo
from refimpl.psa.types import KeyAttributes

HANDLED_OPERATION = "__parsec_operation__"

F = TypeVar("F", bound=Callable[..., Any])


def handles(operation_class: type) -> Callable[[F], F]:
    """Mark a provider method as the implementation of one operation (`SignHash`, `GenerateKey`, …)."""
    if operation_class not in OPCODE_OF:
        raise TypeError(f"{operation_class.__name__} is not an operation of refimpl.operations.OPERATIONS")

    def mark(method: F) -> F:
        setattr(method, HANDLED_OPERATION, operation_class)
        return method

    return mark


class ProviderSkipped(ConfigError):
    """Raised by `from_config` when the provider's device is absent and its config says to skip it.

    The service then starts without this provider, as Parsec does with the TPM's `skip_if_no_tpm = true`. A
    `ConfigError`, so code that does not know about skipping still stops with a message naming the key.
    """


class Capability(StrEnum):
    """A part of an operation that a provider type's device may lack although the provider handles the opcode."""

    OAEP_ANY_HASH = "oaep_any_hash"
    """RSA-OAEP with every hash the provider knows; without it, RSA-OAEP with SHA-1 only (SoftHSMv2#474)."""
    OAEP_LABEL = "oaep_label"
    """RSA-OAEP with any label (the request's salt), used unchanged; the TPM appends a zero byte (parsec#217)."""


@dataclass(frozen=True)
class ProviderIdentity:
    """The constant description of a provider type (parsec-facts §2.3)."""

    provider_id: ProviderId
    uuid: str
    description: str
    vendor: str
    default_name: str
    version: tuple[int, int, int] = (0, 1, 0)


@dataclass(frozen=True)
class ProviderSettings:
    """What a provider reads from `[core_settings]` and the process (parsec-facts §5.1)."""

    allow_deprecated: bool = False
    buffer_size_limit: int = 1 << 20
    working_directory: Path = field(default_factory=Path.cwd)


class Provider(ABC):
    """A back end that executes operations. Subclasses set `IDENTITY` and mark their methods with `@handles`."""

    IDENTITY: ClassVar[ProviderIdentity]
    CONFIG_KEYS: ClassVar[frozenset[str]] = frozenset()
    """The provider-specific keys its `[[provider]]` table accepts; config.py warns about any other key."""
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(Capability)
    """What its device can do of the operations it handles; where a missing one applies, it answers
    PsaErrorNotSupported (and tests/providers runs the tests that need it on the other provider types only)."""
    _handlers: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                operation_class = getattr(value, HANDLED_OPERATION, None)
                if operation_class is not None:
                    handlers[operation_class] = attribute
        cls._handlers = handlers

    def __init__(self, name: str) -> None:
        self.name = name
        self.log = logging.getLogger(type(self).__module__)  # M-7: every line names its component

    @classmethod
    @abstractmethod
    def from_config(
        cls,
        name: str,
        options: Mapping[str, Any],
        key_info_manager: KeyInfoManager | None,
        settings: ProviderSettings,
    ) -> Self:
        """Build from a `[[provider]]` table (without provider_type/name/key_info_manager).

        Raises `ConfigError` naming the key (`provider[2] (tpm-provider).tcti`) on invalid values and on a device
        that cannot be opened with them; never puts a secret in the message.
        """

    @property
    def provider_id(self) -> ProviderId:
        return self.IDENTITY.provider_id

    @property
    def opcodes(self) -> frozenset[Opcode]:
        """What ListOpcodes answers for this provider: exactly the operations it handles."""
        return frozenset(OPCODE_OF[operation_class] for operation_class in self._handlers)

    def describe(self) -> ProviderInfo:
        major, minor, revision = self.IDENTITY.version
        return ProviderInfo(
            uuid=self.IDENTITY.uuid,
            description=self.IDENTITY.description,
            vendor=self.IDENTITY.vendor,
            version_maj=major,
            version_min=minor,
            version_rev=revision,
            id=self.IDENTITY.provider_id,
        )

    def execute(self, application: Application | None, operation: Operation) -> Any:
        """Run one decoded operation. Raises `ParsecError` with the status to answer."""
        method_name = self._handlers.get(type(operation))
        if method_name is None:
            detail = f"{type(operation).__name__} not supported by {self.name}"
            raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)
        return getattr(self, method_name)(application, operation)

    def list_keys(self, application: ApplicationIdentity) -> list[KeyInfo]:
        """The keys this provider holds for `application` (ListKeys); none for a provider without keys."""
        return []

    def list_clients(self) -> set[ApplicationIdentity]:
        """Every application owning at least one key here (ListClients)."""
        return set()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release hardware sessions, files and threads (on SIGHUP and SIGTERM)."""


class KeyStoreProvider(Provider):
    """A provider whose keys are named through a Key Info Manager. Implements the shared key life cycle."""

    def __init__(self, name: str, key_info_manager: KeyInfoManager) -> None:
        super().__init__(name)
        self.key_info_manager = key_info_manager
        self._names_lock = threading.Lock()
        self._names_being_created: set[KeyIdentity] = set()

    # -- what each concrete provider supplies -------------------------------------------------------------

    @abstractmethod
    def key_exists(self, key_id: bytes) -> bool:
        """Whether the provider still holds the key that a mapping points at (for the start-up sweep)."""

    @abstractmethod
    def destroy_key_material(self, key_id: bytes) -> None:
        """Destroy the key in the provider; must not fail if it is already gone."""

    def stored_key_ids(self) -> Iterable[bytes] | None:
        """Every key id the provider holds, or None when it cannot enumerate them (then orphans are not swept)."""
        return None

    # -- the shared life cycle ------------------------------------------------------------------------------

    def key_identity(self, application: Application | None, key_name: str) -> KeyIdentity:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "key operation without an application identity")
        return KeyIdentity(application.identity, key_name, self.name, self.IDENTITY.uuid)

    def mapping_of(self, application: Application | None, key_name: str) -> KeyMapping:
        """The caller's own key; another tenant's key of the same name is simply not there."""
        mapping = self.key_info_manager.get(self.key_identity(application, key_name))
        if mapping is None:
            raise ParsecError(Status.PSA_ERROR_DOES_NOT_EXIST, f"key {key_name!r} not found")
        return mapping

    def create_key(
        self,
        application: Application | None,
        key_name: str,
        attributes: KeyAttributes,
        create: Callable[[], bytes],
    ) -> None:
        """Check the name is free, create the key with `create()` (returns its key id), then store the mapping.

        The name is reserved for the duration, so two concurrent creates of one name cannot both pass the check
        (the loser gets AlreadyExists and creates nothing); creates of different names run in parallel.
        """
        key = self.key_identity(application, key_name)
        with self._names_lock:
            if key in self._names_being_created or self.key_info_manager.get(key) is not None:
                raise ParsecError(Status.PSA_ERROR_ALREADY_EXISTS, f"key {key_name!r} already exists")
            self._names_being_created.add(key)
        try:
            key_id = create()
            crash_point(AFTER_PROVIDER_WRITE)
            try:
                self.key_info_manager.insert(key, KeyMapping(key_id, attributes))
            except BaseException:
                self.destroy_key_material(key_id)
                raise
        finally:
            with self._names_lock:
                self._names_being_created.discard(key)

    def destroy_key(self, application: Application | None, key_name: str) -> None:
        key = self.key_identity(application, key_name)
        mapping = self.key_info_manager.remove(key)
        if mapping is None:
            raise ParsecError(Status.PSA_ERROR_DOES_NOT_EXIST, f"key {key_name!r} not found")
        crash_point(AFTER_MAPPING_REMOVAL)
        self.destroy_key_material(mapping.key_id)

    def sweep(self) -> tuple[int, int]:
        """At start: drop mappings whose key is gone, destroy keys no mapping names. Returns (dropped, destroyed)."""
        dropped = 0
        mapped_ids: set[bytes] = set()
        for key, mapping in list(self.key_info_manager.keys(self.name)):
            if self.key_exists(mapping.key_id):
                mapped_ids.add(mapping.key_id)
            else:
                self.key_info_manager.remove(key)
                dropped += 1
        destroyed = 0
        stored = self.stored_key_ids()
        if stored is not None:
            for key_id in set(stored) - mapped_ids:
                self.destroy_key_material(key_id)
                destroyed += 1
        if dropped or destroyed:
            self.log.warning("start-up sweep: dropped %d dangling mappings, destroyed %d orphans", dropped, destroyed)
        return dropped, destroyed

    def list_keys(self, application: ApplicationIdentity) -> list[KeyInfo]:
        return [
            KeyInfo(provider_id=self.provider_id, name=key.key_name, attributes=mapping.attributes)
            for key, mapping in self.key_info_manager.keys_of(application, self.name)
        ]

    def list_clients(self) -> set[ApplicationIdentity]:
        return {key.application for key, _ in self.key_info_manager.keys(self.name) if not key.application.is_internal}


PROVIDER_TYPES: dict[str, type[Provider]] = {}
"""Parsec `provider_type` → provider class, filled by `@register_provider`."""

PROVIDER_MODULES: dict[str, str] = {
    "MbedCrypto": "refimpl.providers.software",
    "Pkcs11": "refimpl.providers.pkcs11",
    "Tpm": "refimpl.providers.tpm",
}
"""Where each provider type lives; imported only when a config names it (tpm2-pytss and PKCS#11 load lazily)."""


def provider_class(provider_type: str) -> type[Provider]:
    """The registered class for a config's `provider_type`; ConfigError-ready KeyError message otherwise."""
    if provider_type not in PROVIDER_TYPES and provider_type in PROVIDER_MODULES:
        importlib.import_module(PROVIDER_MODULES[provider_type])
    try:
        return PROVIDER_TYPES[provider_type]
    except KeyError:
        known = ", ".join(sorted(PROVIDER_MODULES))
        raise KeyError(f"provider_type {provider_type!r} is not supported here (supported: {known})") from None


P = TypeVar("P", bound=type[Provider])


def register_provider(provider_type: str) -> Callable[[P], P]:
    """Register a provider class under Parsec's config name (`MbedCrypto`, `Pkcs11`, `Tpm`)."""

    def register(cls: P) -> P:
        if provider_type in PROVIDER_TYPES:
            raise ValueError(f"provider_type {provider_type!r} is registered twice")
        PROVIDER_TYPES[provider_type] = cls
        return cls

    return register
