"""What every TPM operation family shares: the wrapped-key format, the TPM context, hashes and statuses.

Parsec's `svc:src/providers/tpm/utils.rs` (`PasswordContext` — the key context plus its auth value, stored as the
mapping's key id — and `to_response_status`). A key generated or imported here never leaves the TPM in the clear:
the mapping holds it wrapped by the storage key, as the TPM returns it, with the random 32-byte auth value the TPM
demands before using it (seed U-4: "each key is protected by a long, random authentication value"). The key id
therefore contains a secret and must never be logged; `WrappedKey`'s repr hides it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.serialization import load_der_public_key
from tpm2_pytss import TSS2_Exception
from tpm2_pytss.constants import TPM2_ALG, TPM2_ECC, TPM2_RC
from tpm2_pytss.types import TPM2B_AUTH, TPM2B_PRIVATE, TPM2B_PUBLIC

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.providers.base import KeyStoreProvider, ProviderSettings
from refimpl.providers.tpm.context import TpmContext
from refimpl.psa import formats
from refimpl.psa.types import Hash, KeyAttributes

FORMAT_VERSION = 1
AUTH_VALUE_BYTES = 32
"""Parsec's `AUTH_VAL_LEN`: each key's authorisation value is 32 random bytes."""

TPM_HASHES: dict[Hash, TPM2_ALG] = {
    Hash.SHA_1: TPM2_ALG.SHA1,
    Hash.SHA_256: TPM2_ALG.SHA256,
    Hash.SHA_384: TPM2_ALG.SHA384,
    Hash.SHA_512: TPM2_ALG.SHA512,
}
"""The PSA hashes a TPM 2.0 (libtpms, the usual hardware) implements."""

ECC_CURVE_BITS: dict[TPM2_ECC, int] = {
    TPM2_ECC.NIST_P192: 192,
    TPM2_ECC.NIST_P224: 224,
    TPM2_ECC.NIST_P256: 256,
    TPM2_ECC.NIST_P384: 384,
    TPM2_ECC.NIST_P521: 521,
}
"""The SECP-R1 curves by TPM curve ID."""

_STATUS_OF_RC: dict[int, Status] = {
    TPM2_RC.SIGNATURE: Status.PSA_ERROR_INVALID_SIGNATURE,
    TPM2_RC.OBJECT_MEMORY: Status.PSA_ERROR_INSUFFICIENT_MEMORY,
    TPM2_RC.SESSION_MEMORY: Status.PSA_ERROR_INSUFFICIENT_MEMORY,
    TPM2_RC.MEMORY: Status.PSA_ERROR_INSUFFICIENT_MEMORY,
    TPM2_RC.KEY_SIZE: Status.PSA_ERROR_NOT_SUPPORTED,
    TPM2_RC.CURVE: Status.PSA_ERROR_NOT_SUPPORTED,
    TPM2_RC.SCHEME: Status.PSA_ERROR_NOT_SUPPORTED,
    TPM2_RC.HASH: Status.PSA_ERROR_NOT_SUPPORTED,
    TPM2_RC.ECC_POINT: Status.PSA_ERROR_INVALID_ARGUMENT,
    TPM2_RC.VALUE: Status.PSA_ERROR_INVALID_ARGUMENT,
    TPM2_RC.SIZE: Status.PSA_ERROR_INVALID_ARGUMENT,
    TPM2_RC.INTEGRITY: Status.PSA_ERROR_DATA_CORRUPT,
    TPM2_RC.AUTH_FAIL: Status.PSA_ERROR_DATA_CORRUPT,
    TPM2_RC.BAD_AUTH: Status.PSA_ERROR_DATA_CORRUPT,
}
"""A wrapped key the TPM will not open (integrity or auth failure) is a corrupt mapping; any other TPM error is a
hardware failure, and an error below the TPM (the TCTI, the connection) a communication failure."""


def status_of(error: TSS2_Exception) -> Status:
    if error.rc >> 16:  # a TSS layer (TCTI, ESYS, …), not the TPM itself
        return Status.PSA_ERROR_COMMUNICATION_FAILURE
    return _STATUS_OF_RC.get(error.error, Status.PSA_ERROR_HARDWARE_FAILURE)


def tpm_hash(hash_alg: object) -> TPM2_ALG:
    if not isinstance(hash_alg, Hash) or hash_alg not in TPM_HASHES:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, f"the TPM provider does not support the hash {hash_alg!r}")
    return TPM_HASHES[hash_alg]


@dataclass(frozen=True)
class WrappedKey:
    """A key as the mapping stores it: version ‖ TPM2B_AUTH ‖ TPM2B_PRIVATE ‖ TPM2B_PUBLIC, all TPM-marshalled.

    A public key alone (imported) has an empty auth value and an empty private part.
    """

    auth: bytes = field(repr=False)
    private: TPM2B_PRIVATE = field(repr=False)
    public: TPM2B_PUBLIC = field(repr=False)

    @cached_property
    def key_id(self) -> bytes:
        """This key as the mapping stores it (`to_bytes`): what names it among the keys the TPM keeps loaded."""
        return self.to_bytes()

    @cached_property
    def name(self) -> bytes:
        """The TPM's name of this key (nameAlg ‖ digest of the public area), as TPM2_ReadPublic answers it."""
        return bytes(self.public.get_name())

    @cached_property
    def has_private(self) -> bool:
        return len(self.private) > 0

    @cached_property
    def ecc_scalar_bytes(self) -> int:
        """The length of r and of s in an ECDSA signature by this key."""
        return formats.byte_length(ECC_CURVE_BITS[self.public.publicArea.parameters.eccDetail.curveID])

    def public_key(self) -> formats.PublicKey:
        """The `cryptography` public key, from the TPM public area."""
        return load_der_public_key(self.public.publicArea.to_der())  # type: ignore[return-value]

    def to_bytes(self) -> bytes:
        parts = (TPM2B_AUTH(self.auth).marshal(), self.private.marshal(), self.public.marshal())
        return bytes([FORMAT_VERSION]) + b"".join(bytes(part) for part in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> WrappedKey:
        """Parse a key id; a mapping that does not parse is PsaErrorDataCorrupt (A6/A7: tampered storage)."""
        if not data or data[0] != FORMAT_VERSION:
            raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, "the mapping does not hold a wrapped TPM key")
        try:
            auth, offset = TPM2B_AUTH.unmarshal(data[1:])
            private, used = TPM2B_PRIVATE.unmarshal(data[1 + offset :])
            offset += used
            public, used = TPM2B_PUBLIC.unmarshal(data[1 + offset :])
        except Exception:  # tpm2-pytss raises TSS2_Exception or ValueError for malformed input
            raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, "the wrapped TPM key is malformed") from None
        if 1 + offset + used != len(data):
            raise ParsecError(Status.PSA_ERROR_DATA_CORRUPT, "the wrapped TPM key has trailing bytes")
        return cls(bytes(auth), private, public)

    def __repr__(self) -> str:
        return "WrappedKey(<hidden>)"


class ParsedKeys:
    """The last keys parsed, by key id: unmarshalling a key costs about a tenth of a TPM signature."""

    def __init__(self, capacity: int = 1024) -> None:
        self._keys: OrderedDict[bytes, WrappedKey] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key_id: bytes) -> WrappedKey:
        with self._lock:
            key = self._keys.get(key_id)
            if key is not None:
                self._keys.move_to_end(key_id)
                return key
        key = WrappedKey.from_bytes(key_id)
        with self._lock:
            self._keys[key_id] = key
            if len(self._keys) > self._capacity:
                self._keys.popitem(last=False)
        return key

    def forget(self, key_id: bytes) -> None:
        """Drop a destroyed key, so its auth value does not outlive its mapping in this cache."""
        with self._lock:
            self._keys.pop(key_id, None)


class TpmBase(KeyStoreProvider):
    """The state the operation families (key_management, asym_sign, …) work on."""

    def __init__(
        self, name: str, key_info_manager: KeyInfoManager, context: TpmContext, settings: ProviderSettings
    ) -> None:
        super().__init__(name, key_info_manager)
        self.context = context
        self.settings = settings
        self.parsed_keys = ParsedKeys()
        self._closed = False

    def execute(self, application: Application | None, operation: Any) -> Any:
        """Run an operation; a TSS or TPM error becomes the status Parsec gives it (utils.rs)."""
        try:
            return super().execute(application, operation)
        except TSS2_Exception as error:
            raise ParsecError(status_of(error), f"{type(operation).__name__}: TPM rc 0x{error.rc:x}") from None

    def wrapped_key(self, application: Application | None, key_name: str) -> tuple[WrappedKey, KeyAttributes]:
        """The caller's key, parsed, and its attributes."""
        mapping = self.mapping_of(application, key_name)
        return self.parsed_keys.get(mapping.key_id), mapping.attributes

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.context.release()
