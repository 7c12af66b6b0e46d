"""Secrets from config.toml: the `str:` / `hex:` prefixed values of PINs and hierarchy passwords.

Parsec's convention for `user_pin` (svc:src/providers/pkcs11/mod.rs `PIN_STRING_PREFIX`/`PIN_HEX_PREFIX`) and
`owner_hierarchy_auth` / `endorsement_hierarchy_auth` (svc:src/providers/tpm/mod.rs `AUTH_STRING_PREFIX`/
`AUTH_HEX_PREFIX`; parsec-facts §5.5): `str:` takes the rest as UTF-8, `hex:` decodes the rest as hexadecimal
(binary PINs, parsec#603), and a value with neither prefix is taken as it is. Asset AS5 (configuration data):
a `Secret` never shows its value in a repr, a log line or an error message, and compares in constant time.
Shared by the providers whose config holds a secret: PKCS#11 (`user_pin`) and TPM (the hierarchy passwords).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from refimpl.errors import ConfigError

STRING_PREFIX = "str:"
HEX_PREFIX = "hex:"


@dataclass(frozen=True)
class Secret:
    """A secret's bytes; the repr hides them, so logging the object (or a dataclass holding it) leaks nothing."""

    value: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)

    def matches(self, other: Secret) -> bool:
        """Constant-time equality, so a comparison does not leak where two secrets differ."""
        return hmac.compare_digest(self.value, other.value)


def parse_secret(key: str, raw: object) -> Secret:
    """Decode a config value with Parsec's prefixes; `key` names the config entry in the error message.

    The message never repeats the value: a secret half-typed into the wrong key is still a secret.
    """
    if not isinstance(raw, str):
        raise ConfigError(key, f'must be a string such as "str:<text>" or "hex:<hex digits>", got {type(raw).__name__}')
    if raw.startswith(HEX_PREFIX):
        digits = raw[len(HEX_PREFIX) :]
        try:
            return Secret(bytes.fromhex(digits))
        except ValueError:
            raise ConfigError(key, '"hex:" must be followed by an even number of hexadecimal digits') from None
    if raw.startswith(STRING_PREFIX):
        return Secret(raw[len(STRING_PREFIX) :].encode("utf-8"))
    return Secret(raw.encode("utf-8"))
