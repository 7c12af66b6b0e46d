"""The PKCS#11 provider (provider ID 2): keys on a PKCS#11 token, named through the key info manager.

Parsec's `svc:src/providers/pkcs11/mod.rs` (`Provider`, `ProviderBuilder::build`) and its config keys
(parsec-facts §5.5): `library_path`, `slot_number`, `serial_number` (takes precedence, compared trimmed),
`user_pin` (`str:`/`hex:`), `software_public_operations`, `allow_export`. The operation set is Parsec's (§4.5):
GenerateKey, DestroyKey, SignHash, VerifyHash, ImportKey, ExportPublicKey, AsymmetricEncrypt/Decrypt, CanDoCrypto,
GenerateRandom — one file per family. Keys live on the token under a random 16-byte CKA_ID, which is the
mapping's key id. Safe under the service's thread pool (see `library.py` for the SoftHSM2 locking workaround and
the single login). Every start-up failure is a `ConfigError` naming the provider and the config key, e.g.
`provider[pkcs11-provider].user_pin: the token refused the PIN`, and never contains the PIN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Self

import pkcs11

from refimpl.errors import ConfigError
from refimpl.ids import ProviderId
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import Capability, ProviderIdentity, ProviderSettings, register_provider
from refimpl.providers.pkcs11.asym_encryption import AsymEncryption
from refimpl.providers.pkcs11.asym_sign import AsymSign
from refimpl.providers.pkcs11.capability_discovery import CapabilityDiscovery
from refimpl.providers.pkcs11.generate_random import RandomGeneration
from refimpl.providers.pkcs11.key_management import KeyManagement
from refimpl.providers.pkcs11.library import Cryptoki, LibraryError, LoginError, TokenLogin
from refimpl.providers.secrets import Secret, parse_secret

__all__ = ["Pkcs11Provider"]

log = logging.getLogger(__name__)


def _option_key(name: str, option: str) -> str:
    return f"provider[{name}].{option}"


def _bool_option(name: str, options: Mapping[str, Any], option: str, default: bool) -> bool:
    value = options.get(option, default)
    if not isinstance(value, bool):
        raise ConfigError(_option_key(name, option), f"must be true or false, got {value!r}")
    return value


def _serial_of(token: pkcs11.Token) -> str:
    return token.serial.decode("ascii", errors="replace").strip()


def _select_token(name: str, cryptoki: Cryptoki, serial_number: str | None, slot_number: int | None) -> pkcs11.Token:
    """Parsec's choice: the serial number if given, else the slot number, else the only initialised token."""
    tokens = cryptoki.initialized_tokens()
    serials = ", ".join(repr(_serial_of(token)) for token in tokens) or "none"
    if serial_number is not None:
        for token in tokens:
            if _serial_of(token) == serial_number.strip():
                if slot_number is not None and token.slot.slot_id != slot_number:
                    log.warning(
                        "%s: serial_number %r is in slot %d, not in slot_number %d; using the serial number",
                        name,
                        serial_number,
                        token.slot.slot_id,
                        slot_number,
                    )
                return token
        raise ConfigError(
            _option_key(name, "serial_number"),
            f"no initialised token has serial number {serial_number.strip()!r} (initialised tokens: {serials})",
        )
    if slot_number is not None:
        for token in tokens:
            if token.slot.slot_id == slot_number:
                log.warning("%s: slot numbers can change when a token is replugged; prefer serial_number", name)
                return token
        slots = ", ".join(str(token.slot.slot_id) for token in tokens) or "none"
        raise ConfigError(
            _option_key(name, "slot_number"),
            f"no initialised token in slot {slot_number} (slots with an initialised token: {slots})",
        )
    if len(tokens) == 1:
        return tokens[0]
    if not tokens:
        raise ConfigError(_option_key(name, "library_path"), "the PKCS#11 library has no initialised token")
    raise ConfigError(
        _option_key(name, "serial_number"),
        f"{len(tokens)} initialised tokens are present; set serial_number to one of {serials}",
    )


@register_provider("Pkcs11")
class Pkcs11Provider(KeyManagement, AsymSign, AsymEncryption, CapabilityDiscovery, RandomGeneration):
    """Parsec's PKCS#11 provider."""

    IDENTITY = ProviderIdentity(
        provider_id=ProviderId.PKCS11,
        uuid="30e39502-eba6-4d60-a4af-c518b7f5e38f",
        description="PKCS #11 provider, interfacing with a PKCS #11 library.",
        vendor="OASIS Standard.",
        default_name="pkcs11-provider",
    )
    CONFIG_KEYS = frozenset(
        {"library_path", "slot_number", "serial_number", "user_pin", "software_public_operations", "allow_export"}
    )
    CAPABILITIES = frozenset(Capability) - {Capability.OAEP_ANY_HASH, Capability.OAEP_LABEL}
    """RSA-OAEP with SHA-1 and no label only: SoftHSM2's limit (SoftHSMv2#474); Parsec never passes a label."""

    @classmethod
    def from_config(
        cls,
        name: str,
        options: Mapping[str, Any],
        key_info_manager: KeyInfoManager | None,
        settings: ProviderSettings,
    ) -> Self:
        """Load the library, choose the token, log in once (the service runs the start-up sweep)."""
        if key_info_manager is None:
            raise ConfigError(_option_key(name, "key_info_manager"), "the PKCS#11 provider needs a key info manager")
        library_path = options.get("library_path")
        if not isinstance(library_path, str) or not library_path:
            raise ConfigError(
                _option_key(name, "library_path"),
                'is required: the path of the PKCS#11 library, e.g. "/usr/lib/softhsm/libsofthsm2.so"',
            )
        slot_number = options.get("slot_number")
        if slot_number is not None and (isinstance(slot_number, bool) or not isinstance(slot_number, int)):
            raise ConfigError(_option_key(name, "slot_number"), f"must be an integer slot number, got {slot_number!r}")
        serial_number = options.get("serial_number")
        if serial_number is not None and not isinstance(serial_number, str):
            raise ConfigError(_option_key(name, "serial_number"), f"must be a string, got {serial_number!r}")
        pin: Secret | None = None
        if "user_pin" in options:
            pin = parse_secret(_option_key(name, "user_pin"), options["user_pin"])
        software_public_operations = _bool_option(name, options, "software_public_operations", False)
        allow_export = _bool_option(name, options, "allow_export", True)

        try:
            cryptoki = Cryptoki.acquire(library_path)
        except LibraryError as error:
            raise ConfigError(_option_key(name, "library_path"), f"{library_path}: {error}") from None
        try:
            token = _select_token(name, cryptoki, serial_number, slot_number)
            login = TokenLogin.acquire(cryptoki, token, pin)
        except LoginError as error:
            cryptoki.release()
            raise ConfigError(_option_key(name, "user_pin"), str(error)) from None
        except BaseException:
            cryptoki.release()
            raise
        provider = cls(
            name,
            key_info_manager,
            login,
            settings,
            software_public_operations=software_public_operations,
            allow_export=allow_export,
        )
        log.info("%s: PKCS#11 token %r (serial %s) ready", name, token.label, _serial_of(token))
        return provider
