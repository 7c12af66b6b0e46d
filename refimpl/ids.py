"""The numbers of Parsec's wire protocol 1.0: opcodes, provider IDs, auth types, body types and status codes.

Every value is Parsec's own (parsec-interface `src/requests/mod.rs`, `src/requests/response_status.rs`; see
`../shared/reference/parsec-facts.md` §2). Failures are raised as `refimpl.errors.ParsecError`.
"""

from __future__ import annotations

from enum import IntEnum


def camel_case(constant: str) -> str:
    """PSA_ERROR_DOES_NOT_EXIST → PsaErrorDoesNotExist: Parsec's names for our enum members."""
    return "".join(part.capitalize() for part in constant.split("_"))


class Opcode(IntEnum):
    """Operation codes (u32 on the wire). 0x16/0x17 (MAC) exist in the book but not in Parsec's enum."""

    PING = 0x0001
    PSA_GENERATE_KEY = 0x0002
    PSA_DESTROY_KEY = 0x0003
    PSA_SIGN_HASH = 0x0004
    PSA_VERIFY_HASH = 0x0005
    PSA_IMPORT_KEY = 0x0006
    PSA_EXPORT_PUBLIC_KEY = 0x0007
    LIST_PROVIDERS = 0x0008
    LIST_OPCODES = 0x0009
    PSA_ASYMMETRIC_ENCRYPT = 0x000A
    PSA_ASYMMETRIC_DECRYPT = 0x000B
    PSA_EXPORT_KEY = 0x000C
    PSA_GENERATE_RANDOM = 0x000D
    LIST_AUTHENTICATORS = 0x000E
    PSA_HASH_COMPUTE = 0x000F
    PSA_HASH_COMPARE = 0x0010
    PSA_AEAD_ENCRYPT = 0x0011
    PSA_AEAD_DECRYPT = 0x0012
    PSA_RAW_KEY_AGREEMENT = 0x0013
    PSA_CIPHER_ENCRYPT = 0x0014
    PSA_CIPHER_DECRYPT = 0x0015
    PSA_SIGN_MESSAGE = 0x0018
    PSA_VERIFY_MESSAGE = 0x0019
    LIST_KEYS = 0x001A
    LIST_CLIENTS = 0x001B
    DELETE_CLIENT = 0x001C
    ATTEST_KEY = 0x001E
    PREPARE_KEY_ATTESTATION = 0x001F
    CAN_DO_CRYPTO = 0x0020

    @property
    def parsec_name(self) -> str:
        """Parsec's Rust variant name (`PsaSignHash`), as its logs and the formal model print it."""
        return camel_case(self.name)

    @property
    def is_core(self) -> bool:
        """Core operations go to provider 0; every other opcode must target a crypto provider."""
        return self in CORE_OPCODES

    @property
    def is_admin(self) -> bool:
        return self in ADMIN_OPCODES

    @property
    def needs_application(self) -> bool:
        """Whether the operation answers NotAuthenticated to a request with no identity (facts §1.2 step 13)."""
        return self not in OPCODES_WITHOUT_APPLICATION


CORE_OPCODES = frozenset(
    {
        Opcode.PING,
        Opcode.LIST_PROVIDERS,
        Opcode.LIST_OPCODES,
        Opcode.LIST_AUTHENTICATORS,
        Opcode.LIST_KEYS,
        Opcode.LIST_CLIENTS,
        Opcode.DELETE_CLIENT,
    }
)
ADMIN_OPCODES = frozenset({Opcode.LIST_CLIENTS, Opcode.DELETE_CLIENT})
OPCODES_WITHOUT_APPLICATION = frozenset(
    {
        Opcode.PING,
        Opcode.LIST_PROVIDERS,
        Opcode.LIST_OPCODES,
        Opcode.LIST_AUTHENTICATORS,
        Opcode.LIST_CLIENTS,
        Opcode.PSA_HASH_COMPUTE,
        Opcode.PSA_HASH_COMPARE,
        Opcode.PSA_GENERATE_RANDOM,
    }
)


class ProviderId(IntEnum):
    """Provider IDs (u8). 6–255 do not exist (ProviderDoesNotExist)."""

    CORE = 0
    MBED_CRYPTO = 1
    PKCS11 = 2
    TPM = 3
    TRUSTED_SERVICE = 4
    CRYPTO_AUTH_LIB = 5


class AuthType(IntEnum):
    """Authentication types (u8). Jwt (2) is defined but never implemented by Parsec."""

    NO_AUTH = 0
    DIRECT = 1
    JWT = 2
    UNIX_PEER_CREDENTIALS = 3
    JWT_SVID = 4


INTERNAL_AUTH_ID = 255
"""Parsec's authenticator id for service-owned keys; never on the wire (svc:src/authenticators/mod.rs)."""


class BodyType(IntEnum):
    """Content and accept types (u8): protobuf is 0 (one page of Parsec's book wrongly says 1)."""

    PROTOBUF = 0


class Status(IntEnum):
    """Response status codes (u16). PSA statuses are 1000 − psa_status_t."""

    SUCCESS = 0
    WRONG_PROVIDER_ID = 1
    CONTENT_TYPE_NOT_SUPPORTED = 2
    ACCEPT_TYPE_NOT_SUPPORTED = 3
    WIRE_PROTOCOL_VERSION_NOT_SUPPORTED = 4
    PROVIDER_NOT_REGISTERED = 5
    PROVIDER_DOES_NOT_EXIST = 6
    DESERIALIZING_BODY_FAILED = 7
    SERIALIZING_BODY_FAILED = 8
    OPCODE_DOES_NOT_EXIST = 9
    RESPONSE_TOO_LARGE = 10
    AUTHENTICATION_ERROR = 11
    AUTHENTICATOR_DOES_NOT_EXIST = 12
    AUTHENTICATOR_NOT_REGISTERED = 13
    KEY_INFO_MANAGER_ERROR = 14
    CONNECTION_ERROR = 15
    INVALID_ENCODING = 16
    INVALID_HEADER = 17
    WRONG_PROVIDER_UUID = 18
    NOT_AUTHENTICATED = 19
    BODY_SIZE_EXCEEDS_LIMIT = 20
    ADMIN_OPERATION = 21
    DEPRECATED_PRIMITIVE = 22
    PSA_ERROR_GENERIC_ERROR = 1132
    PSA_ERROR_NOT_PERMITTED = 1133
    PSA_ERROR_NOT_SUPPORTED = 1134
    PSA_ERROR_INVALID_ARGUMENT = 1135
    PSA_ERROR_INVALID_HANDLE = 1136
    PSA_ERROR_BAD_STATE = 1137
    PSA_ERROR_BUFFER_TOO_SMALL = 1138
    PSA_ERROR_ALREADY_EXISTS = 1139
    PSA_ERROR_DOES_NOT_EXIST = 1140
    PSA_ERROR_INSUFFICIENT_MEMORY = 1141
    PSA_ERROR_INSUFFICIENT_STORAGE = 1142
    PSA_ERROR_INSUFFICIENT_DATA = 1143
    PSA_ERROR_COMMUNICATION_FAILURE = 1145
    PSA_ERROR_STORAGE_FAILURE = 1146
    PSA_ERROR_HARDWARE_FAILURE = 1147
    PSA_ERROR_INSUFFICIENT_ENTROPY = 1148
    PSA_ERROR_INVALID_SIGNATURE = 1149
    PSA_ERROR_INVALID_PADDING = 1150
    PSA_ERROR_CORRUPTION_DETECTED = 1151
    PSA_ERROR_DATA_CORRUPT = 1152
    PSA_ERROR_DATA_INVALID = 1153

    @property
    def parsec_name(self) -> str:
        """Parsec's CamelCase name (`PsaErrorDoesNotExist`), as in its status-code table and the formal model."""
        return camel_case(self.name)

    @classmethod
    def from_parsec_name(cls, name: str) -> Status:
        for status in cls:
            if status.parsec_name == name:
                return status
        raise ValueError(f"{name!r} is not a Parsec status name; see refimpl.ids.Status")
