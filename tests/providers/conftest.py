"""The provider fixtures: one set of test bodies, run against every provider kind (pyca/cryptography's backends).

A test asks for `provider` (or `build_provider`, to rebuild one on the same stores) and declares what it needs:

    @pytest.mark.needs(Opcode.PSA_AEAD_ENCRYPT, Opcode.PSA_AEAD_DECRYPT)
    def test_gcm_round_trip(provider): ...

`pytest_generate_tests` then parametrises `provider_kind` with exactly the kinds whose provider *class* handles every
needed opcode (its `@handles` table) and has every needed capability (see `CAPABILITIES`: a device capability the
class declares, `Provider.CAPABILITIES`, or one read from its methods). `@pytest.mark.lacks(Capability.OAEP_LABEL)`
selects the kinds without a capability instead, for tests of what such a provider answers (PsaErrorNotSupported).
A kind that cannot run a test gets no instance of it: nothing is skipped. A need that no kind meets is a collection
error.

Kinds: "software" is built here (a private key store directory and the SQLite key info manager); "pkcs11" and
"tpm" come from the `pkcs11_provider_factory` / `tpm_provider_factory` fixtures of tests/fixtures/real_parts.py,
callables `(key_info_manager, name=None) -> Provider` that start SoftHSM2 / swtpm. The bodies assume what the
software kind gives them: every test starts with an empty key store (no keys left by other tests, since the sweep
tests count orphans), and calling the factory again within a test reopens the same token or TPM state (restart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from refimpl.ids import Opcode
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.operations import OPCODE_OF
from refimpl.providers.base import Capability, KeyStoreProvider, Provider, ProviderSettings, provider_class

PROVIDER_TYPES: dict[str, str] = {"software": "MbedCrypto", "pkcs11": "Pkcs11", "tpm": "Tpm"}
"""Provider kind → Parsec `provider_type`."""
FACTORY_FIXTURES: dict[str, str] = {"pkcs11": "pkcs11_provider_factory", "tpm": "tpm_provider_factory"}


def _importable(provider_type: str) -> type[Provider] | None:
    try:
        return provider_class(provider_type)
    except (ImportError, KeyError):
        return None


PROVIDER_CLASSES: dict[str, type[Provider]] = {
    kind: cls for kind, provider_type in PROVIDER_TYPES.items() if (cls := _importable(provider_type)) is not None
}
"""The kinds whose provider package exists yet. To make all three mandatory, replace this assignment with
`PROVIDER_CLASSES = {kind: provider_class(provider_type) for kind, provider_type in PROVIDER_TYPES.items()}`."""


def _enumerates_keys(cls: type[Provider]) -> bool:
    return issubclass(cls, KeyStoreProvider) and cls.stored_key_ids is not KeyStoreProvider.stored_key_ids


def _declares(capability: Capability) -> Callable[[type[Provider]], bool]:
    return lambda cls: capability in cls.CAPABILITIES


CAPABILITIES: dict[str, Callable[[type[Provider]], bool]] = {
    "enumerates_keys": _enumerates_keys,
    **{capability.value: _declares(capability) for capability in Capability},
}
"""Needs beyond opcodes, read from the class: "enumerates_keys" = key material that lives apart from its mapping
and can be listed (`stored_key_ids`), so the start-up sweep can find orphans and dangling mappings; and every
`refimpl.providers.base.Capability` (pass the member), as the class declares it in `CAPABILITIES`."""


def class_opcodes(cls: type[Provider]) -> frozenset[Opcode]:
    """What ListOpcodes would answer, from the class's `@handles` table (no instance needed)."""
    return frozenset(OPCODE_OF[operation_class] for operation_class in cls._handlers)


def _meets(cls: type[Provider], need: object) -> bool:
    if isinstance(need, Opcode):
        return need in class_opcodes(cls)
    if isinstance(need, str) and need in CAPABILITIES:
        return CAPABILITIES[need](cls)
    raise pytest.UsageError(f"@pytest.mark.needs({need!r}): expected an Opcode or one of {sorted(CAPABILITIES)}")


def _lacks(cls: type[Provider], capability: object) -> bool:
    if not isinstance(capability, str) or capability not in CAPABILITIES:
        raise pytest.UsageError(f"@pytest.mark.lacks({capability!r}): expected one of {sorted(CAPABILITIES)}")
    return not CAPABILITIES[capability](cls)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*requirements): Opcodes and capabilities a provider-parametrised test needs; it runs on every "
        "provider kind that has them all (tests/providers/conftest.py)",
    )
    config.addinivalue_line(
        "markers",
        "lacks(*capabilities): capabilities a provider-parametrised test is about the absence of; it runs on every "
        "provider kind that has none of them (tests/providers/conftest.py)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "provider_kind" not in metafunc.fixturenames:
        return
    needs = [need for marker in metafunc.definition.iter_markers("needs") for need in marker.args]
    lacks = [lack for marker in metafunc.definition.iter_markers("lacks") for lack in marker.args]
    kinds = [
        kind
        for kind, cls in PROVIDER_CLASSES.items()
        if all(_meets(cls, need) for need in needs) and all(_lacks(cls, lack) for lack in lacks)
    ]
    if not kinds:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: no provider kind meets {needs} and lacks {lacks}")
    metafunc.parametrize("provider_kind", kinds)


# --------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def open_key_info_manager(tmp_path: Path) -> Iterator[Callable[[], KeyInfoManager]]:
    """Opens the test's SQLite key info manager (again, after a restart); closes every one opened."""
    opened: list[KeyInfoManager] = []

    def open_() -> KeyInfoManager:
        manager = SQLiteKeyInfoManager("sqlite-manager", tmp_path / "kim" / "sqlite-key-info-manager.sqlite3")
        opened.append(manager)
        return manager

    yield open_
    for manager in opened:
        manager.close()


@pytest.fixture
def key_info_manager(open_key_info_manager: Callable[[], KeyInfoManager]) -> KeyInfoManager:
    return open_key_info_manager()


ProviderBuilder = Callable[..., KeyStoreProvider]


@pytest.fixture
def build_provider(
    provider_kind: str, request: pytest.FixtureRequest, tmp_path: Path, key_info_manager: KeyInfoManager
) -> Iterator[ProviderBuilder]:
    """`build_provider(key_info_manager=None, name=None)`: a provider of this test's kind on this test's stores.

    Building again (after `close()`) is a service restart: same key store, same token or TPM state.
    """
    if provider_kind == "software":
        cls = PROVIDER_CLASSES["software"]
        options = {"key_store_path": str(tmp_path / "software-keys")}
        settings = ProviderSettings(working_directory=tmp_path)

        def make(manager: KeyInfoManager, name: str | None) -> Provider:
            return cls.from_config(name or cls.IDENTITY.default_name, options, manager, settings)

    else:
        make = request.getfixturevalue(FACTORY_FIXTURES[provider_kind])
    built: list[Provider] = []

    def build(manager: KeyInfoManager | None = None, name: str | None = None) -> KeyStoreProvider:
        provider = make(manager if manager is not None else key_info_manager, name)
        built.append(provider)
        assert isinstance(provider, KeyStoreProvider), f"{provider_kind} provider does not store keys"
        return provider

    yield build
    for provider in built:
        provider.close()


@pytest.fixture
def provider(build_provider: ProviderBuilder) -> KeyStoreProvider:
    """A fresh provider of the parametrised kind, with empty stores."""
    return build_provider()
