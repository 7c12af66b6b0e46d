"""The protobuf body codec: request bodies ⇄ `refimpl.operations` operations, response bodies ⇄ results.

Parsec's `ProtobufConverter` (ifc:src/operations_protobuf/mod.rs and its `convert_*.rs`); parsec-facts §3 and
§1.2 steps 12 and 14. One `BodyCodec` per opcode holds the two generated message classes and four small
converters; the service uses `decode_operation` / `encode_result`, the client `encode_operation` /
`decode_result`. Decoding follows prost: a body that does not parse (or that prost would refuse, see
`refimpl.wire.prost`) is DeserializingBodyFailed; a body that parses but breaks the contract — a mandatory
sub-message missing, an unset oneof, an enum at `*_NONE` or out of range — is InvalidEncoding. Default values are
omitted on encoding, as prost does, so encoded bodies match Parsec's byte for byte.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.message import DecodeError, EncodeError, Message

from refimpl import operations as ops
from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.wire import convert_psa as psa
from refimpl.wire.generated import (
    attest_key_pb2,
    can_do_crypto_pb2,
    delete_client_pb2,
    list_authenticators_pb2,
    list_clients_pb2,
    list_keys_pb2,
    list_opcodes_pb2,
    list_providers_pb2,
    ping_pb2,
    prepare_key_attestation_pb2,
    psa_aead_decrypt_pb2,
    psa_aead_encrypt_pb2,
    psa_asymmetric_decrypt_pb2,
    psa_asymmetric_encrypt_pb2,
    psa_cipher_decrypt_pb2,
    psa_cipher_encrypt_pb2,
    psa_destroy_key_pb2,
    psa_export_key_pb2,
    psa_export_public_key_pb2,
    psa_generate_key_pb2,
    psa_generate_random_pb2,
    psa_hash_compare_pb2,
    psa_hash_compute_pb2,
    psa_import_key_pb2,
    psa_raw_key_agreement_pb2,
    psa_sign_hash_pb2,
    psa_sign_message_pb2,
    psa_verify_hash_pb2,
    psa_verify_message_pb2,
)
from refimpl.wire.prost import check_wire_types


@dataclass(frozen=True)
class BodyCodec:
    """How one opcode's `Operation` and `Result` messages map to the native dataclasses."""

    operation_message: type[Message]
    result_message: type[Message]
    operation_from_proto: Callable[[Any], ops.Operation]
    operation_to_proto: Callable[[Any], Message]
    result_from_proto: Callable[[Any], Any]
    result_to_proto: Callable[[Any], Message]


def _parse(message_class: type[Message], body: bytes) -> Any:
    message = message_class()
    try:
        message.ParseFromString(body)
    except DecodeError as error:
        raise ParsecError(Status.DESERIALIZING_BODY_FAILED, f"{message_class.DESCRIPTOR.full_name}: {error}") from None
    check_wire_types(body, message_class.DESCRIPTOR)
    return message


def _serialize(message: Message) -> bytes:
    try:
        return message.SerializeToString()
    except (EncodeError, ValueError) as error:
        raise ParsecError(Status.SERIALIZING_BODY_FAILED, f"{message.DESCRIPTOR.full_name}: {error}") from None


def _codec_for(opcode: Opcode) -> BodyCodec:
    return CODECS[opcode]


def decode_operation(opcode: Opcode, body: bytes) -> ops.Operation:
    """Service side: a request body as the native operation for `opcode`."""
    codec = _codec_for(opcode)
    return codec.operation_from_proto(_parse(codec.operation_message, body))


def encode_result(opcode: Opcode, result: Any) -> bytes:
    """Service side: a native result as a response body."""
    return _serialize(_codec_for(opcode).result_to_proto(result))


def encode_operation(operation: ops.Operation) -> bytes:
    """Client side: a native operation as a request body (its opcode is `refimpl.operations.OPCODE_OF`)."""
    return _serialize(_codec_for(ops.OPCODE_OF[type(operation)]).operation_to_proto(operation))


def decode_result(opcode: Opcode, body: bytes) -> Any:
    """Client side: a response body as the native result for `opcode`."""
    codec = _codec_for(opcode)
    return codec.result_from_proto(_parse(codec.result_message, body))


# ------------------------------------------------------------------------------------------ shared pieces


def _provider_id(value: int) -> ProviderId:
    try:
        return ProviderId(value)
    except ValueError:
        raise ParsecError(Status.PROVIDER_DOES_NOT_EXIST, f"provider id {value}") from None


def _attributes(message: Any, what: str) -> Any:
    if not message.HasField("attributes"):
        raise psa.invalid(f"{what}.attributes is missing")
    return psa.key_attributes_from_proto(message.attributes)


def _signature_alg(message: Any, what: str) -> Any:
    if not message.HasField("alg"):
        raise psa.invalid(f"{what}.alg is missing")
    return psa.asymmetric_signature_from_proto(message.alg)


def _encryption_alg(message: Any, what: str) -> Any:
    if not message.HasField("alg"):
        raise psa.invalid(f"{what}.alg is missing")
    return psa.asymmetric_encryption_from_proto(message.alg)


def _aead_alg(message: Any, what: str) -> Any:
    if not message.HasField("alg"):
        raise psa.invalid(f"{what}.alg is missing")
    return psa.aead_from_proto(message.alg)


def _with_attributes(message: Any, attributes: Any) -> Any:
    psa.key_attributes_to_proto(attributes, message.attributes)
    return message


def _empty(message_class: type[Message]) -> Callable[[Any], Message]:
    return lambda _native: message_class()


def _key_name_only(message_class: type[Message]) -> Callable[[Any], Message]:
    # The generated class takes its fields as keywords; `Message`'s own stub declares none.
    build: Callable[..., Message] = message_class
    return lambda native: build(key_name=native.key_name)


# ------------------------------------------------------------------------------------------ core operations


def _provider_info_from_proto(info: Any) -> ops.ProviderInfo:
    try:
        uuid.UUID(info.uuid)
    except ValueError:
        raise ParsecError(Status.WRONG_PROVIDER_UUID, f"provider uuid {info.uuid!r}") from None
    return ops.ProviderInfo(
        uuid=info.uuid,
        description=info.description,
        vendor=info.vendor,
        version_maj=info.version_maj,
        version_min=info.version_min,
        version_rev=info.version_rev,
        id=_provider_id(info.id),
    )


def _provider_info_to_proto(info: ops.ProviderInfo) -> list_providers_pb2.ProviderInfo:
    return list_providers_pb2.ProviderInfo(
        uuid=info.uuid,
        description=info.description,
        vendor=info.vendor,
        version_maj=info.version_maj,
        version_min=info.version_min,
        version_rev=info.version_rev,
        id=info.id,
    )


def _opcodes_from_proto(result: list_opcodes_pb2.Result) -> ops.ListOpcodesResult:
    opcodes = set()
    for value in result.opcodes:
        try:
            opcodes.add(Opcode(value))
        except ValueError:
            raise ParsecError(Status.OPCODE_DOES_NOT_EXIST, f"opcode {value:#x} in ListOpcodes result") from None
    return ops.ListOpcodesResult(frozenset(opcodes))


def _authenticator_from_proto(info: Any) -> ops.AuthenticatorInfo:
    try:
        auth_type = AuthType(info.id)
    except ValueError:
        raise ParsecError(Status.AUTHENTICATOR_DOES_NOT_EXIST, f"authenticator id {info.id}") from None
    return ops.AuthenticatorInfo(
        description=info.description,
        version_maj=info.version_maj,
        version_min=info.version_min,
        version_rev=info.version_rev,
        id=auth_type,
    )


def _authenticator_to_proto(info: ops.AuthenticatorInfo) -> list_authenticators_pb2.AuthenticatorInfo:
    return list_authenticators_pb2.AuthenticatorInfo(
        description=info.description,
        version_maj=info.version_maj,
        version_min=info.version_min,
        version_rev=info.version_rev,
        id=info.id,
    )


def _key_info_from_proto(info: Any) -> ops.KeyInfo:
    attributes = _attributes(info, "KeyInfo")
    return ops.KeyInfo(provider_id=_provider_id(info.provider_id), name=info.name, attributes=attributes)


def _key_info_to_proto(info: ops.KeyInfo) -> list_keys_pb2.KeyInfo:
    return cast(
        list_keys_pb2.KeyInfo,
        _with_attributes(list_keys_pb2.KeyInfo(provider_id=info.provider_id, name=info.name), info.attributes),
    )


CORE_CODECS: dict[Opcode, BodyCodec] = {
    Opcode.PING: BodyCodec(
        ping_pb2.Operation,
        ping_pb2.Result,
        lambda _m: ops.Ping(),
        _empty(ping_pb2.Operation),
        lambda m: ops.PingResult(m.wire_protocol_version_maj, m.wire_protocol_version_min),
        lambda r: ping_pb2.Result(
            wire_protocol_version_maj=r.wire_protocol_version_maj, wire_protocol_version_min=r.wire_protocol_version_min
        ),
    ),
    Opcode.LIST_PROVIDERS: BodyCodec(
        list_providers_pb2.Operation,
        list_providers_pb2.Result,
        lambda _m: ops.ListProviders(),
        _empty(list_providers_pb2.Operation),
        lambda m: ops.ListProvidersResult(tuple(_provider_info_from_proto(info) for info in m.providers)),
        lambda r: list_providers_pb2.Result(providers=[_provider_info_to_proto(info) for info in r.providers]),
    ),
    Opcode.LIST_OPCODES: BodyCodec(
        list_opcodes_pb2.Operation,
        list_opcodes_pb2.Result,
        lambda m: ops.ListOpcodes(_provider_id(m.provider_id)),
        lambda o: list_opcodes_pb2.Operation(provider_id=o.provider_id),
        _opcodes_from_proto,
        lambda r: list_opcodes_pb2.Result(opcodes=sorted(r.opcodes)),
    ),
    Opcode.LIST_AUTHENTICATORS: BodyCodec(
        list_authenticators_pb2.Operation,
        list_authenticators_pb2.Result,
        lambda _m: ops.ListAuthenticators(),
        _empty(list_authenticators_pb2.Operation),
        lambda m: ops.ListAuthenticatorsResult(tuple(_authenticator_from_proto(a) for a in m.authenticators)),
        lambda r: list_authenticators_pb2.Result(authenticators=[_authenticator_to_proto(a) for a in r.authenticators]),
    ),
    Opcode.LIST_KEYS: BodyCodec(
        list_keys_pb2.Operation,
        list_keys_pb2.Result,
        lambda _m: ops.ListKeys(),
        _empty(list_keys_pb2.Operation),
        lambda m: ops.ListKeysResult(tuple(_key_info_from_proto(key) for key in m.keys)),
        lambda r: list_keys_pb2.Result(keys=[_key_info_to_proto(key) for key in r.keys]),
    ),
    Opcode.LIST_CLIENTS: BodyCodec(
        list_clients_pb2.Operation,
        list_clients_pb2.Result,
        lambda _m: ops.ListClients(),
        _empty(list_clients_pb2.Operation),
        lambda m: ops.ListClientsResult(tuple(m.clients)),
        lambda r: list_clients_pb2.Result(clients=list(r.clients)),
    ),
    Opcode.DELETE_CLIENT: BodyCodec(
        delete_client_pb2.Operation,
        delete_client_pb2.Result,
        lambda m: ops.DeleteClient(m.client),
        lambda o: delete_client_pb2.Operation(client=o.client),
        lambda _m: ops.DeleteClientResult(),
        _empty(delete_client_pb2.Result),
    ),
}

# ------------------------------------------------------------------------------------------ key management

KEY_CODECS: dict[Opcode, BodyCodec] = {
    Opcode.PSA_GENERATE_KEY: BodyCodec(
        psa_generate_key_pb2.Operation,
        psa_generate_key_pb2.Result,
        lambda m: ops.GenerateKey(m.key_name, _attributes(m, "psa_generate_key")),
        lambda o: _with_attributes(psa_generate_key_pb2.Operation(key_name=o.key_name), o.attributes),
        lambda _m: ops.GenerateKeyResult(),
        _empty(psa_generate_key_pb2.Result),
    ),
    Opcode.PSA_IMPORT_KEY: BodyCodec(
        psa_import_key_pb2.Operation,
        psa_import_key_pb2.Result,
        lambda m: ops.ImportKey(m.key_name, _attributes(m, "psa_import_key"), m.data),
        lambda o: _with_attributes(psa_import_key_pb2.Operation(key_name=o.key_name, data=o.data), o.attributes),
        lambda _m: ops.ImportKeyResult(),
        _empty(psa_import_key_pb2.Result),
    ),
    Opcode.PSA_EXPORT_PUBLIC_KEY: BodyCodec(
        psa_export_public_key_pb2.Operation,
        psa_export_public_key_pb2.Result,
        lambda m: ops.ExportPublicKey(m.key_name),
        _key_name_only(psa_export_public_key_pb2.Operation),
        lambda m: ops.ExportPublicKeyResult(m.data),
        lambda r: psa_export_public_key_pb2.Result(data=r.data),
    ),
    Opcode.PSA_EXPORT_KEY: BodyCodec(
        psa_export_key_pb2.Operation,
        psa_export_key_pb2.Result,
        lambda m: ops.ExportKey(m.key_name),
        _key_name_only(psa_export_key_pb2.Operation),
        lambda m: ops.ExportKeyResult(m.data),
        lambda r: psa_export_key_pb2.Result(data=r.data),
    ),
    Opcode.PSA_DESTROY_KEY: BodyCodec(
        psa_destroy_key_pb2.Operation,
        psa_destroy_key_pb2.Result,
        lambda m: ops.DestroyKey(m.key_name),
        _key_name_only(psa_destroy_key_pb2.Operation),
        lambda _m: ops.DestroyKeyResult(),
        _empty(psa_destroy_key_pb2.Result),
    ),
}

# ------------------------------------------------------------------------------------------ cryptography


def _sign_to_proto(message_class: Any, data_field: str) -> Callable[[Any], Message]:
    """SignHash/SignMessage/VerifyHash/VerifyMessage operations: key name, algorithm, data, [signature]."""

    def to_proto(operation: Any) -> Message:
        message = message_class(key_name=operation.key_name, **{data_field: getattr(operation, data_field)})
        if hasattr(operation, "signature"):
            message.signature = operation.signature
        message.alg.CopyFrom(psa.asymmetric_signature_to_proto(operation.alg))
        return cast(Message, message)

    return to_proto


def _asymmetric_to_proto(message_class: Any, data_field: str) -> Callable[[Any], Message]:
    def to_proto(operation: Any) -> Message:
        message = message_class(key_name=operation.key_name, **{data_field: getattr(operation, data_field)})
        message.salt = operation.salt or b""
        message.alg.CopyFrom(psa.asymmetric_encryption_to_proto(operation.alg))
        return cast(Message, message)

    return to_proto


def _aead_to_proto(message_class: Any, data_field: str) -> Callable[[Any], Message]:
    def to_proto(operation: Any) -> Message:
        message = message_class(
            key_name=operation.key_name,
            nonce=operation.nonce,
            additional_data=operation.additional_data,
            **{data_field: getattr(operation, data_field)},
        )
        message.alg.CopyFrom(psa.aead_to_proto(operation.alg))
        return cast(Message, message)

    return to_proto


CRYPTO_CODECS: dict[Opcode, BodyCodec] = {
    Opcode.PSA_SIGN_HASH: BodyCodec(
        psa_sign_hash_pb2.Operation,
        psa_sign_hash_pb2.Result,
        lambda m: ops.SignHash(m.key_name, _signature_alg(m, "psa_sign_hash"), m.hash),
        _sign_to_proto(psa_sign_hash_pb2.Operation, "hash"),
        lambda m: ops.SignHashResult(m.signature),
        lambda r: psa_sign_hash_pb2.Result(signature=r.signature),
    ),
    Opcode.PSA_VERIFY_HASH: BodyCodec(
        psa_verify_hash_pb2.Operation,
        psa_verify_hash_pb2.Result,
        lambda m: ops.VerifyHash(m.key_name, _signature_alg(m, "psa_verify_hash"), m.hash, m.signature),
        _sign_to_proto(psa_verify_hash_pb2.Operation, "hash"),
        lambda _m: ops.VerifyHashResult(),
        _empty(psa_verify_hash_pb2.Result),
    ),
    Opcode.PSA_SIGN_MESSAGE: BodyCodec(
        psa_sign_message_pb2.Operation,
        psa_sign_message_pb2.Result,
        lambda m: ops.SignMessage(m.key_name, _signature_alg(m, "psa_sign_message"), m.message),
        _sign_to_proto(psa_sign_message_pb2.Operation, "message"),
        lambda m: ops.SignMessageResult(m.signature),
        lambda r: psa_sign_message_pb2.Result(signature=r.signature),
    ),
    Opcode.PSA_VERIFY_MESSAGE: BodyCodec(
        psa_verify_message_pb2.Operation,
        psa_verify_message_pb2.Result,
        lambda m: ops.VerifyMessage(m.key_name, _signature_alg(m, "psa_verify_message"), m.message, m.signature),
        _sign_to_proto(psa_verify_message_pb2.Operation, "message"),
        lambda _m: ops.VerifyMessageResult(),
        _empty(psa_verify_message_pb2.Result),
    ),
    Opcode.PSA_ASYMMETRIC_ENCRYPT: BodyCodec(
        psa_asymmetric_encrypt_pb2.Operation,
        psa_asymmetric_encrypt_pb2.Result,
        lambda m: ops.AsymmetricEncrypt(
            m.key_name, _encryption_alg(m, "psa_asymmetric_encrypt"), m.plaintext, m.salt or None
        ),
        _asymmetric_to_proto(psa_asymmetric_encrypt_pb2.Operation, "plaintext"),
        lambda m: ops.AsymmetricEncryptResult(m.ciphertext),
        lambda r: psa_asymmetric_encrypt_pb2.Result(ciphertext=r.ciphertext),
    ),
    Opcode.PSA_ASYMMETRIC_DECRYPT: BodyCodec(
        psa_asymmetric_decrypt_pb2.Operation,
        psa_asymmetric_decrypt_pb2.Result,
        lambda m: ops.AsymmetricDecrypt(
            m.key_name, _encryption_alg(m, "psa_asymmetric_decrypt"), m.ciphertext, m.salt or None
        ),
        _asymmetric_to_proto(psa_asymmetric_decrypt_pb2.Operation, "ciphertext"),
        lambda m: ops.AsymmetricDecryptResult(m.plaintext),
        lambda r: psa_asymmetric_decrypt_pb2.Result(plaintext=r.plaintext),
    ),
    Opcode.PSA_AEAD_ENCRYPT: BodyCodec(
        psa_aead_encrypt_pb2.Operation,
        psa_aead_encrypt_pb2.Result,
        lambda m: ops.AeadEncrypt(
            m.key_name, _aead_alg(m, "psa_aead_encrypt"), m.nonce, m.additional_data, m.plaintext
        ),
        _aead_to_proto(psa_aead_encrypt_pb2.Operation, "plaintext"),
        lambda m: ops.AeadEncryptResult(m.ciphertext),
        lambda r: psa_aead_encrypt_pb2.Result(ciphertext=r.ciphertext),
    ),
    Opcode.PSA_AEAD_DECRYPT: BodyCodec(
        psa_aead_decrypt_pb2.Operation,
        psa_aead_decrypt_pb2.Result,
        lambda m: ops.AeadDecrypt(
            m.key_name, _aead_alg(m, "psa_aead_decrypt"), m.nonce, m.additional_data, m.ciphertext
        ),
        _aead_to_proto(psa_aead_decrypt_pb2.Operation, "ciphertext"),
        lambda m: ops.AeadDecryptResult(m.plaintext),
        lambda r: psa_aead_decrypt_pb2.Result(plaintext=r.plaintext),
    ),
    Opcode.PSA_CIPHER_ENCRYPT: BodyCodec(
        psa_cipher_encrypt_pb2.Operation,
        psa_cipher_encrypt_pb2.Result,
        lambda m: ops.CipherEncrypt(m.key_name, psa.cipher_from_proto(m.alg), m.plaintext),
        lambda o: psa_cipher_encrypt_pb2.Operation(
            key_name=o.key_name, alg=psa.enum_number(o.alg), plaintext=o.plaintext
        ),
        lambda m: ops.CipherEncryptResult(m.ciphertext),
        lambda r: psa_cipher_encrypt_pb2.Result(ciphertext=r.ciphertext),
    ),
    Opcode.PSA_CIPHER_DECRYPT: BodyCodec(
        psa_cipher_decrypt_pb2.Operation,
        psa_cipher_decrypt_pb2.Result,
        lambda m: ops.CipherDecrypt(m.key_name, psa.cipher_from_proto(m.alg), m.ciphertext),
        lambda o: psa_cipher_decrypt_pb2.Operation(
            key_name=o.key_name, alg=psa.enum_number(o.alg), ciphertext=o.ciphertext
        ),
        lambda m: ops.CipherDecryptResult(m.plaintext),
        lambda r: psa_cipher_decrypt_pb2.Result(plaintext=r.plaintext),
    ),
    Opcode.PSA_HASH_COMPUTE: BodyCodec(
        psa_hash_compute_pb2.Operation,
        psa_hash_compute_pb2.Result,
        lambda m: ops.HashCompute(psa.hash_from_proto(m.alg), m.input),
        lambda o: psa_hash_compute_pb2.Operation(alg=psa.enum_number(o.alg), input=o.input),
        lambda m: ops.HashComputeResult(m.hash),
        lambda r: psa_hash_compute_pb2.Result(hash=r.hash),
    ),
    Opcode.PSA_HASH_COMPARE: BodyCodec(
        psa_hash_compare_pb2.Operation,
        psa_hash_compare_pb2.Result,
        lambda m: ops.HashCompare(psa.hash_from_proto(m.alg), m.input, m.hash),
        lambda o: psa_hash_compare_pb2.Operation(alg=psa.enum_number(o.alg), input=o.input, hash=o.hash),
        lambda _m: ops.HashCompareResult(),
        _empty(psa_hash_compare_pb2.Result),
    ),
    Opcode.PSA_RAW_KEY_AGREEMENT: BodyCodec(
        psa_raw_key_agreement_pb2.Operation,
        psa_raw_key_agreement_pb2.Result,
        lambda m: ops.RawKeyAgreementOp(psa.raw_key_agreement_from_proto(m.alg), m.private_key_name, m.peer_key),
        lambda o: psa_raw_key_agreement_pb2.Operation(
            alg=psa.enum_number(o.alg), private_key_name=o.private_key_name, peer_key=o.peer_key
        ),
        lambda m: ops.RawKeyAgreementResult(m.shared_secret),
        lambda r: psa_raw_key_agreement_pb2.Result(shared_secret=r.shared_secret),
    ),
    Opcode.PSA_GENERATE_RANDOM: BodyCodec(
        psa_generate_random_pb2.Operation,
        psa_generate_random_pb2.Result,
        lambda m: ops.GenerateRandom(m.size),
        lambda o: psa_generate_random_pb2.Operation(size=o.size),
        lambda m: ops.GenerateRandomResult(m.random_bytes),
        lambda r: psa_generate_random_pb2.Result(random_bytes=r.random_bytes),
    ),
    Opcode.CAN_DO_CRYPTO: BodyCodec(
        can_do_crypto_pb2.Operation,
        can_do_crypto_pb2.Result,
        lambda m: ops.CanDoCrypto(
            psa.enum_value(ops.CheckType, m.check_type, "can_do_crypto.check_type"), _attributes(m, "can_do_crypto")
        ),
        lambda o: _with_attributes(can_do_crypto_pb2.Operation(check_type=psa.enum_number(o.check_type)), o.attributes),
        lambda _m: ops.CanDoCryptoResult(),
        _empty(can_do_crypto_pb2.Result),
    ),
}

# ------------------------------------------------------------------------------------------ key attestation
# ifc:src/operations_protobuf/convert_attest_key.rs and convert_prepare_key_attestation.rs: the mechanism is a
# oneof with one variant, ActivateCredential; a missing sub-message or an unset oneof is InvalidEncoding, in a
# request and in a result alike. An empty attesting key name means "the default attesting key" (None).


def _optional_name(name: str) -> str | None:
    return name or None


def _activate_credential(message: Any, field: str, what: str) -> Any:
    """The ActivateCredential variant of the oneof in `message.<field>`, or InvalidEncoding."""
    if not message.HasField(field) or getattr(message, field).WhichOneof("mechanism") != "activate_credential":
        raise psa.invalid(f"{what}: the encoding does not follow the expected pattern (no ActivateCredential)")
    return getattr(message, field).activate_credential


def _prepare_key_attestation_from_proto(message: Any) -> ops.PrepareKeyAttestation:
    variant = _activate_credential(message, "parameters", "prepare_key_attestation.Operation")
    return ops.PrepareKeyAttestation(variant.attested_key_name, _optional_name(variant.attesting_key_name))


def _prepare_key_attestation_to_proto(operation: ops.PrepareKeyAttestation) -> Message:
    message = prepare_key_attestation_pb2.Operation()
    variant = message.parameters.activate_credential
    variant.SetInParent()  # the variant is present even when every field is empty, as prost sends it
    variant.attested_key_name = operation.attested_key_name
    variant.attesting_key_name = operation.attesting_key_name or ""
    return message


def _prepare_key_attestation_result_from_proto(message: Any) -> ops.PrepareKeyAttestationResult:
    variant = _activate_credential(message, "output", "prepare_key_attestation.Result")
    return ops.PrepareKeyAttestationResult(variant.name, variant.public, variant.attesting_key_pub)


def _prepare_key_attestation_result_to_proto(result: ops.PrepareKeyAttestationResult) -> Message:
    message = prepare_key_attestation_pb2.Result()
    variant = message.output.activate_credential
    variant.SetInParent()
    variant.name = result.name
    variant.public = result.public
    variant.attesting_key_pub = result.attesting_key_pub
    return message


def _attest_key_from_proto(message: Any) -> ops.AttestKey:
    variant = _activate_credential(message, "parameters", "attest_key.Operation")
    return ops.AttestKey(
        message.attested_key_name, variant.credential_blob, variant.secret, _optional_name(message.attesting_key_name)
    )


def _attest_key_to_proto(operation: ops.AttestKey) -> Message:
    message = attest_key_pb2.Operation(
        attested_key_name=operation.attested_key_name, attesting_key_name=operation.attesting_key_name or ""
    )
    variant = message.parameters.activate_credential
    variant.SetInParent()
    variant.credential_blob = operation.credential_blob
    variant.secret = operation.secret
    return message


def _attest_key_result_to_proto(result: ops.AttestKeyResult) -> Message:
    message = attest_key_pb2.Result()
    message.output.activate_credential.SetInParent()
    message.output.activate_credential.credential = result.credential
    return message


ATTESTATION_CODECS: dict[Opcode, BodyCodec] = {
    Opcode.PREPARE_KEY_ATTESTATION: BodyCodec(
        prepare_key_attestation_pb2.Operation,
        prepare_key_attestation_pb2.Result,
        _prepare_key_attestation_from_proto,
        _prepare_key_attestation_to_proto,
        _prepare_key_attestation_result_from_proto,
        _prepare_key_attestation_result_to_proto,
    ),
    Opcode.ATTEST_KEY: BodyCodec(
        attest_key_pb2.Operation,
        attest_key_pb2.Result,
        _attest_key_from_proto,
        _attest_key_to_proto,
        lambda m: ops.AttestKeyResult(_activate_credential(m, "output", "attest_key.Result").credential),
        _attest_key_result_to_proto,
    ),
}

CODECS: dict[Opcode, BodyCodec] = {**CORE_CODECS, **KEY_CODECS, **CRYPTO_CODECS, **ATTESTATION_CODECS}
"""Every opcode with a native operation in `refimpl.operations.OPERATIONS`."""
