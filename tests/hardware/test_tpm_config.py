"""TPM provider start-up: Parsec's config keys, hierarchy passwords checked by the TPM, and `skip_if_no_tpm`.

`TpmProvider.from_config` against private swtpm instances (parsec-facts §5.5): `tcti` must name a TCTI module and
reach a TPM; `owner_hierarchy_auth` (required, may be empty) and `endorsement_hierarchy_auth` take `str:`/`hex:`
and are verified by the TPM itself at start; a TPM that cannot be reached stops start-up with an error naming
`tcti`, unless `skip_if_no_tpm = true`, when `ProviderSkipped` tells the service to start without it. No message
ever contains a password (AS5; threat A9-I-1).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tpm2_pytss.constants import ESYS_TR
from tpm2_pytss.types import TPM2B_AUTH

from refimpl.errors import ConfigError
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import GenerateKey, SignHash
from refimpl.providers.base import Provider, ProviderSettings, ProviderSkipped, provider_class
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import Swtpm, SwtpmFactory
from tests.providers.helpers import P256, TENANT_A, run, template

NAME = "tpm-provider"
ECDSA = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ECDSA, sign_hash=True)

Builder = Callable[..., Provider]


@pytest.fixture
def build(kim: KeyInfoManager) -> Iterator[Builder]:
    built: list[Provider] = []

    def make(options: dict[str, Any]) -> Provider:
        provider = provider_class("Tpm").from_config(NAME, options, kim, ProviderSettings())
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


def config_error(build: Builder, options: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        build(options)
    return caught.value


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _set_hierarchy_password(tpm: Swtpm, hierarchy: ESYS_TR, password: bytes) -> None:
    with tpm.esapi() as esapi:
        esapi.hierarchy_change_auth(hierarchy, TPM2B_AUTH(password))


def test_an_unreachable_tpm_names_the_tcti(build: Builder, swtpm: Swtpm) -> None:
    error = config_error(build, swtpm.options(tcti=f"swtpm:host=127.0.0.1,port={_closed_port()}"))
    assert error.key == f"provider[{NAME}].tcti"
    assert not isinstance(error, ProviderSkipped)
    assert "check that the TPM (or simulator) is running" in error.message


def test_skip_if_no_tpm_turns_an_unreachable_tpm_into_a_skip(build: Builder, swtpm: Swtpm) -> None:
    with pytest.raises(ProviderSkipped) as caught:
        build(swtpm.options(tcti=f"swtpm:host=127.0.0.1,port={_closed_port()}", skip_if_no_tpm=True))
    assert caught.value.key == f"provider[{NAME}].tcti"
    provider = build(swtpm.options(skip_if_no_tpm=True))  # a TPM that is there is used as usual
    run(provider, TENANT_A, GenerateKey("k", KEY))


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("tcti", "swtpm-ish:port=1", "a TCTI such as"),
        ("tcti", None, "is required"),
        ("owner_hierarchy_auth", None, "is required"),
        ("owner_hierarchy_auth", "hex:xyz", "hexadecimal"),
        ("skip_if_no_tpm", "true", "true or false"),
    ],
)
def test_invalid_values_are_named(build: Builder, swtpm: Swtpm, option: str, value: str | None, words: str) -> None:
    error = config_error(build, swtpm.options(**{option: value}))
    assert error.key == f"provider[{NAME}].{option}"
    assert words in error.message


@pytest.mark.threat("A9-I-1", "O-6")
def test_the_tpm_checks_the_owner_password(build: Builder, swtpm_factory: SwtpmFactory) -> None:
    tpm = swtpm_factory()
    password = b"owner-\xff-secret"
    _set_hierarchy_password(tpm, ESYS_TR.OWNER, password)

    error = config_error(build, tpm.options(owner_hierarchy_auth=""))
    assert error.key == f"provider[{NAME}].owner_hierarchy_auth"
    assert error.message == "the TPM refused the owner hierarchy password"
    wrong = config_error(build, tpm.options(owner_hierarchy_auth="str:owner-guess", skip_if_no_tpm=True))
    assert not isinstance(wrong, ProviderSkipped)  # a wrong password is an error even when the TPM may be missing
    assert "owner-guess" not in str(wrong)

    provider = build(tpm.options(owner_hierarchy_auth="hex:" + password.hex()))
    run(provider, TENANT_A, GenerateKey("k", KEY))
    run(provider, TENANT_A, SignHash("k", ECDSA, bytes(32)))


def test_a_string_owner_password_and_a_second_provider_on_the_same_tpm(
    build: Builder, swtpm_factory: SwtpmFactory
) -> None:
    tpm = swtpm_factory()
    _set_hierarchy_password(tpm, ESYS_TR.OWNER, b"owner-text")
    first = build(tpm.options(owner_hierarchy_auth="str:owner-text"))
    error = config_error(build, tpm.options(owner_hierarchy_auth="str:owner-other"))
    assert error.key == f"provider[{NAME}].owner_hierarchy_auth"  # the TPM checked it, though the TPM is in use
    second = build(tpm.options(owner_hierarchy_auth="owner-text"))  # no prefix: the text itself
    run(first, TENANT_A, GenerateKey("k", KEY))
    run(second, TENANT_A, SignHash("k", ECDSA, bytes(32)))  # same key info manager, same TPM


@pytest.mark.threat("A9-I-1", "O-6")
def test_the_tpm_checks_the_endorsement_password(build: Builder, swtpm_factory: SwtpmFactory) -> None:
    tpm = swtpm_factory()
    _set_hierarchy_password(tpm, ESYS_TR.ENDORSEMENT, b"endorse")
    error = config_error(build, tpm.options(endorsement_hierarchy_auth="str:wrong-endorse"))
    assert error.key == f"provider[{NAME}].endorsement_hierarchy_auth"
    assert "wrong-endorse" not in str(error)
    build(tpm.options(endorsement_hierarchy_auth="str:endorse"))
