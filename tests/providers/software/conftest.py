"""Fixtures for the software-only tests: a `SoftwareProvider` built from config on the test's own directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import ProviderSettings
from refimpl.providers.software import SoftwareProvider

SoftwareFactory = Callable[..., SoftwareProvider]


@pytest.fixture
def software_factory(tmp_path: Path, key_info_manager: KeyInfoManager) -> Iterator[SoftwareFactory]:
    """`software_factory(options=None, settings=None, key_info_manager=None, name=...)`, closed after the test.

    Default options put the key store in `<tmp_path>/keys`; default settings use `tmp_path` as working directory.
    """
    built: list[SoftwareProvider] = []

    def build(
        options: Mapping[str, Any] | None = None,
        settings: ProviderSettings | None = None,
        manager: KeyInfoManager | None = None,
        name: str = "mbed-crypto-provider",
    ) -> SoftwareProvider:
        provider = SoftwareProvider.from_config(
            name,
            {"key_store_path": str(tmp_path / "keys")} if options is None else options,
            key_info_manager if manager is None else manager,
            ProviderSettings(working_directory=tmp_path) if settings is None else settings,
        )
        built.append(provider)
        return provider

    yield build
    for provider in built:
        provider.close()


@pytest.fixture
def software(software_factory: SoftwareFactory) -> SoftwareProvider:
    return software_factory()
