"""PKCS#11 provider start-up: Parsec's config keys, the token choice, PIN prefixes, and errors naming the key.

`Pkcs11Provider.from_config` against a real SoftHSM2 library with two tokens (parsec-facts §5.5): the serial number
wins over the slot number, a lone token needs neither, `user_pin` takes `str:`/`hex:`/bare values, and every
start-up failure is a `ConfigError` whose key is `provider[<name>].<option>` and whose message never repeats the
PIN (AS5, configuration data; threat A9-I-1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from refimpl.errors import ConfigError
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import GenerateKey, GenerateRandom
from refimpl.providers.base import Provider, ProviderSettings, provider_class
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import SoftHsmToken
from tests.providers.helpers import P256, TENANT_A, run, template

NAME = "pkcs11-provider"
KEY = template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True, verify_hash=True)

Builder = Callable[..., Provider]


@pytest.fixture
def build(kim: KeyInfoManager) -> Iterator[Builder]:
    """`build(options)`: a Pkcs11 provider from raw options (closed after the test)."""
    built: list[Provider] = []

    def make(options: dict[str, Any], name: str = NAME) -> Provider:
        provider = provider_class("Pkcs11").from_config(name, options, kim, ProviderSettings())
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


def config_error(build: Builder, options: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        build(options)
    return caught.value


@pytest.mark.threat("A9-I-1", "O-6")
def test_a_wrong_pin_names_the_key_and_not_the_pin(build: Builder, softhsm_spare_token: SoftHsmToken) -> None:
    wrong = "guess-" + softhsm_spare_token.user_pin[::-1]
    error = config_error(build, softhsm_spare_token.options(user_pin=f"str:{wrong}"))
    assert error.key == f"provider[{NAME}].user_pin"
    assert error.message == "the token refused the PIN"
    assert wrong not in str(error)
    assert softhsm_spare_token.user_pin not in str(error)


@pytest.mark.parametrize("form", ["str", "hex", "bare"])
def test_every_pin_form_logs_in(build: Builder, softhsm_spare_token: SoftHsmToken, form: str) -> None:
    pin = softhsm_spare_token.user_pin
    value = {"str": f"str:{pin}", "hex": "hex:" + pin.encode().hex(), "bare": pin}[form]
    provider = build(softhsm_spare_token.options(user_pin=value))
    run(provider, TENANT_A, GenerateKey(f"logged-in-{form}", KEY))  # a private token object needs the login
    run(provider, TENANT_A, GenerateRandom(8))


@pytest.mark.threat("A9-I-1", "O-6")
def test_malformed_hex_is_refused_without_echoing_it(build: Builder, softhsm_spare_token: SoftHsmToken) -> None:
    error = config_error(build, softhsm_spare_token.options(user_pin="hex:12345zz"))
    assert error.key == f"provider[{NAME}].user_pin"
    assert "12345zz" not in str(error)
    assert "hexadecimal" in error.message


def test_the_serial_number_chooses_the_token_even_against_the_slot(
    build: Builder,
    softhsm_token: SoftHsmToken,
    softhsm_spare_token: SoftHsmToken,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spare_slot = _slot_of(build, softhsm_spare_token)
    caplog.set_level(logging.WARNING, logger="refimpl.providers.pkcs11")
    provider = build(softhsm_token.options(slot_number=spare_slot, serial_number=f"  {softhsm_token.serial} "))
    assert provider.token.token.label == softhsm_token.label  # type: ignore[attr-defined]
    assert any("using the serial number" in record.getMessage() for record in caplog.records)


def test_the_slot_number_alone_chooses_the_token(build: Builder, softhsm_spare_token: SoftHsmToken) -> None:
    slot = _slot_of(build, softhsm_spare_token)
    options = softhsm_spare_token.options(slot_number=slot)
    del options["serial_number"]
    provider = build(options)
    assert provider.token.token.label == softhsm_spare_token.label  # type: ignore[attr-defined]


def _slot_of(build: Builder, token: SoftHsmToken) -> int:
    provider = build(token.options(), name="slot-probe")
    slot = int(provider.token.token.slot.slot_id)  # type: ignore[attr-defined]
    provider.close()
    return slot


def test_a_missing_token_is_named_by_the_key_that_chose_it(
    build: Builder, softhsm_token: SoftHsmToken, softhsm_spare_token: SoftHsmToken
) -> None:
    by_serial = config_error(build, softhsm_token.options(serial_number="0000000000000000"))
    assert by_serial.key == f"provider[{NAME}].serial_number"
    assert softhsm_token.serial in by_serial.message and softhsm_spare_token.serial in by_serial.message

    options = softhsm_token.options(slot_number=987654321)
    del options["serial_number"]
    by_slot = config_error(build, options)
    assert by_slot.key == f"provider[{NAME}].slot_number"

    options = softhsm_token.options()
    del options["serial_number"]
    ambiguous = config_error(build, options)
    assert ambiguous.key == f"provider[{NAME}].serial_number"
    assert "2 initialised tokens" in ambiguous.message


@pytest.mark.parametrize(
    ("library", "words"),
    [
        (None, "is required"),
        ("/nonexistent/libpkcs11.so", "cannot load"),
        ("/usr/lib/x86_64-linux-gnu/libz.so.1", "not a PKCS#11 library"),
    ],
    ids=["missing", "no-such-file", "not-pkcs11"],
)
def test_a_bad_library_path_is_named(
    build: Builder, softhsm_token: SoftHsmToken, library: str | None, words: str
) -> None:
    error = config_error(build, softhsm_token.options(library_path=library))
    assert error.key == f"provider[{NAME}].library_path"
    assert words in error.message


@pytest.mark.parametrize(
    ("option", "value"),
    [("allow_export", "yes"), ("software_public_operations", 1), ("slot_number", "3"), ("serial_number", 42)],
)
def test_values_of_the_wrong_type_are_named(
    build: Builder, softhsm_token: SoftHsmToken, option: str, value: object
) -> None:
    error = config_error(build, softhsm_token.options(**{option: value}))
    assert error.key == f"provider[{NAME}].{option}"
