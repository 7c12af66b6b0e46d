"""What every PKCS#11 operation family shares: the token, the configuration switches, key objects, statuses.

Parsec's `svc:src/providers/pkcs11/mod.rs` (the `Provider` struct) and `utils.rs` (`to_response_status`,
`rv_to_response_status`, `KeyPairType`). Keys are named on the token by a random 16-byte CKA_ID — the mapping's
key id — and labelled with the provider's name, so the start-up sweep only ever touches objects this provider
made, even on a token other applications (or another provider of this service) also use.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, ObjectClass
from pkcs11.util.ec import encode_ec_public_key

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.providers.base import KeyStoreProvider, ProviderSettings
from refimpl.providers.pkcs11.library import TokenLogin, hardware_command
from refimpl.psa.formats import PublicKey
from refimpl.psa.types import PUBLIC_KEYS, EccKeyPair, EccPublicKey, KeyAttributes

log = logging.getLogger(__name__)

KEY_ID_BYTES = 16

_STATUS_OF_ERROR: dict[type[pkcs11.PKCS11Error], Status] = {
    pkcs11.NoSuchKey: Status.PSA_ERROR_DOES_NOT_EXIST,
    pkcs11.ObjectHandleInvalid: Status.PSA_ERROR_DOES_NOT_EXIST,
    pkcs11.KeyHandleInvalid: Status.PSA_ERROR_DOES_NOT_EXIST,
    pkcs11.HostMemory: Status.PSA_ERROR_INSUFFICIENT_MEMORY,
    pkcs11.DeviceError: Status.PSA_ERROR_HARDWARE_FAILURE,
    pkcs11.DeviceRemoved: Status.PSA_ERROR_HARDWARE_FAILURE,
    pkcs11.TokenNotPresent: Status.PSA_ERROR_HARDWARE_FAILURE,
    pkcs11.TokenNotRecognised: Status.PSA_ERROR_HARDWARE_FAILURE,
    pkcs11.DeviceMemory: Status.PSA_ERROR_INSUFFICIENT_STORAGE,
    pkcs11.SignatureInvalid: Status.PSA_ERROR_INVALID_SIGNATURE,
    pkcs11.SignatureLenRange: Status.PSA_ERROR_INVALID_SIGNATURE,
    pkcs11.RandomNoRNG: Status.PSA_ERROR_INSUFFICIENT_ENTROPY,
    pkcs11.FunctionNotSupported: Status.PSA_ERROR_NOT_SUPPORTED,
    pkcs11.DomainParamsInvalid: Status.PSA_ERROR_NOT_SUPPORTED,
    pkcs11.MechanismInvalid: Status.PSA_ERROR_NOT_SUPPORTED,
    pkcs11.MechanismParamInvalid: Status.PSA_ERROR_NOT_SUPPORTED,
}
"""Parsec's `rv_to_response_status`, plus the mechanism errors a token gives for an algorithm it lacks and the
handle errors of a key object destroyed outside this process (by another process sharing the token).
Any other library error is `PsaErrorCommunicationFailure`: the provider built the call, so the library failed."""


def status_of(error: pkcs11.PKCS11Error) -> Status:
    for error_class in type(error).__mro__:
        status = _STATUS_OF_ERROR.get(error_class)
        if status is not None:
            return status
    return Status.PSA_ERROR_COMMUNICATION_FAILURE


def not_supported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


def require_key_pair(attributes: KeyAttributes, action: str) -> None:
    """A public key has no private half on the token: signing or decrypting with it is an invalid argument."""
    if isinstance(attributes.key_type, PUBLIC_KEYS):
        raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, f"a public key cannot {action}")


class Pkcs11Base(KeyStoreProvider):
    """The state the operation families (key_management, asym_sign, …) work on."""

    def __init__(
        self,
        name: str,
        key_info_manager: KeyInfoManager,
        token: TokenLogin,
        settings: ProviderSettings,
        *,
        software_public_operations: bool,
        allow_export: bool,
    ) -> None:
        super().__init__(name, key_info_manager)
        self.token = token
        self.settings = settings
        self.software_public_operations = software_public_operations
        self.allow_export = allow_export
        self.label = f"parsec-tm:{name}"
        self._public_keys: dict[bytes, PublicKey] = {}
        self._public_keys_lock = threading.Lock()
        self._closed = False

    def execute(self, application: Application | None, operation: Any) -> Any:
        """Run an operation; a PKCS#11 library error becomes Parsec's status for it (utils.rs)."""
        try:
            return super().execute(application, operation)
        except pkcs11.PKCS11Error as error:
            raise ParsecError(status_of(error), f"{type(operation).__name__}: {type(error).__name__}") from None

    def public_key(self, application: Application | None, mapping: KeyMapping) -> PublicKey:
        """The key's public half as a `cryptography` object, read from the token once and then remembered."""
        with self._public_keys_lock:
            cached = self._public_keys.get(mapping.key_id)
        if cached is not None:
            return cached
        is_ecc = isinstance(mapping.attributes.key_type, EccKeyPair | EccPublicKey)
        with self.token.session() as pooled, hardware_command(log, application, "C_GetAttributeValue", self.name):
            key = pooled.find_key(mapping.key_id, ObjectClass.PUBLIC_KEY)
            if is_ecc:
                public: PublicKey = load_der_public_key(encode_ec_public_key(key))  # type: ignore[assignment]
            else:
                modulus = int.from_bytes(key[Attribute.MODULUS], "big")
                exponent = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
                public = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        with self._public_keys_lock:
            self._public_keys[mapping.key_id] = public
        return public

    def forget_key(self, key_id: bytes) -> None:
        """Drop every cached object of a destroyed key."""
        with self._public_keys_lock:
            self._public_keys.pop(key_id, None)
        self.token.forget_keys()

    def close(self) -> None:
        """Release the token (the last provider on it logs out) and the library."""
        if not self._closed:
            self._closed = True
            self.token.release()
            self.token.cryptoki.release()
