"""The body codec: every operation and result round-trips; bad bodies get Parsec's statuses (facts §1.2 step 12).

DeserializingBodyFailed is for a body prost cannot merge (including a known field with the wrong wire type,
which Python's protobuf runtime alone would accept); InvalidEncoding is for a body that parses but breaks the
contract of facts §3.5–3.6 (missing mandatory sub-message, unset oneof, `*_NONE` or unknown enum value).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from refimpl import operations as ops
from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.psa import types as t
from refimpl.wire import codec
from refimpl.wire.convert_psa import key_attributes_to_proto
from refimpl.wire.generated import (
    can_do_crypto_pb2,
    list_opcodes_pb2,
    list_providers_pb2,
    psa_aead_encrypt_pb2,
    psa_asymmetric_encrypt_pb2,
    psa_cipher_encrypt_pb2,
    psa_generate_key_pb2,
    psa_hash_compute_pb2,
    psa_raw_key_agreement_pb2,
    psa_sign_hash_pb2,
)
from tests.wire.strategies import U32_MAX, U64_MAX, aeads, encryptions, hashes, key_attributes, signatures

# ------------------------------------------------------------------------------------------ round trips

ALG_BY_OPERATION: dict[type, st.SearchStrategy[Any]] = {
    ops.SignHash: signatures,
    ops.VerifyHash: signatures,
    ops.SignMessage: signatures,
    ops.VerifyMessage: signatures,
    ops.AsymmetricEncrypt: encryptions,
    ops.AsymmetricDecrypt: encryptions,
    ops.AeadEncrypt: aeads(),
    ops.AeadDecrypt: aeads(),
    ops.CipherEncrypt: st.sampled_from(t.Cipher),
    ops.CipherDecrypt: st.sampled_from(t.Cipher),
    ops.HashCompute: hashes,
    ops.HashCompare: hashes,
    ops.RawKeyAgreementOp: st.sampled_from(t.RawKeyAgreement),
}
FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "attributes": key_attributes(),
    "salt": st.one_of(st.none(), st.binary(min_size=1)),  # an empty salt on the wire means no salt
    "size": st.integers(0, U64_MAX),
    "uuid": st.uuids().map(str),
    "opcodes": st.frozensets(st.sampled_from(Opcode)),
    "attesting_key_name": st.one_of(st.none(), st.text(min_size=1, max_size=20)),  # empty on the wire is None
}


def of_type(hint: Any) -> st.SearchStrategy[Any]:
    if hint is bytes:
        return st.binary(max_size=64)
    if hint is str:
        return st.text(max_size=20)
    if hint is int:
        return st.integers(0, U32_MAX)
    if isinstance(hint, type) and issubclass(hint, ProviderId | AuthType | ops.CheckType):
        return st.sampled_from(hint)
    if typing.get_origin(hint) is tuple:
        return st.lists(of_type(typing.get_args(hint)[0]), max_size=3).map(tuple)
    return native(hint)


def native(cls: type) -> st.SearchStrategy[Any]:
    """Instances of an operation/result dataclass, its fields drawn by name, then by type."""
    hints = typing.get_type_hints(cls, vars(ops))
    arguments: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        if field.name == "alg":
            arguments[field.name] = ALG_BY_OPERATION[cls]
        elif field.name in FIELD_STRATEGIES:
            arguments[field.name] = FIELD_STRATEGIES[field.name]
        else:
            arguments[field.name] = of_type(hints[field.name])
    return st.builds(cls, **arguments)


def test_every_native_operation_has_a_codec() -> None:
    assert set(codec.CODECS) == set(ops.OPERATIONS)


@pytest.mark.parametrize("opcode", sorted(ops.OPERATIONS), ids=lambda opcode: opcode.name)
@given(data=st.data())
def test_operations_and_results_round_trip(opcode: Opcode, data: st.DataObject) -> None:
    operation_class, result_class = ops.OPERATIONS[opcode]
    operation = data.draw(native(operation_class))
    body = codec.encode_operation(operation)
    assert codec.decode_operation(opcode, body) == operation
    result = data.draw(native(result_class))
    assert codec.decode_result(opcode, codec.encode_result(opcode, result)) == result


def test_enum_families_are_not_confused() -> None:
    """Hash.MD2 == Cipher.STREAM_CIPHER as ints; the codec must still tell a hash from a cipher policy."""
    for alg in (t.Hash.MD2, t.Cipher.STREAM_CIPHER, t.RawKeyAgreement.FFDH):
        attributes = t.KeyAttributes(t.Aes(), 128, t.KeyPolicy(t.UsageFlags(), alg))
        decoded = codec.decode_operation(
            Opcode.PSA_GENERATE_KEY, codec.encode_operation(ops.GenerateKey("k", attributes))
        )
        assert isinstance(decoded, ops.GenerateKey)
        assert type(decoded.attributes.policy.permitted_algorithms) is type(alg)


# ------------------------------------------------------------------------------------------ invalid bodies


def status_of(opcode: Opcode, body: bytes) -> Status:
    with pytest.raises(ParsecError) as raised:
        codec.decode_operation(opcode, body)
    return raised.value.status


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize(
    ("opcode", "body_hex"),
    [
        (Opcode.PING, "1122334455"),  # e2e ping.rs::mangled_ping
        (Opcode.PSA_DESTROY_KEY, "0a05616263"),  # length runs past the end
        (Opcode.PSA_DESTROY_KEY, "0a02fffe"),  # key_name is not UTF-8
        (Opcode.PSA_DESTROY_KEY, "0801"),  # key_name (string) sent as a varint
        (Opcode.PSA_DESTROY_KEY, "0d01020304"),  # key_name sent as fixed32
        (Opcode.LIST_OPCODES, "0a0101"),  # provider_id (uint32) sent length-delimited
        (Opcode.PSA_GENERATE_RANDOM, "08ffffffffffffffffffff01"),  # varint longer than 10 bytes
        (Opcode.PSA_GENERATE_KEY, "120412020a00"),  # attributes.key_type (message) sent as a varint inside
        (Opcode.PSA_GENERATE_KEY, "12021500"),  # attributes.key_bits with wire type 5
        (Opcode.PSA_GENERATE_KEY, "0c"),  # a lone end-group tag
        (Opcode.PSA_GENERATE_KEY, "00"),  # field number 0
    ],
)
def test_bodies_prost_cannot_merge_are_deserializing_body_failed(opcode: Opcode, body_hex: str) -> None:
    assert status_of(opcode, bytes.fromhex(body_hex)) is Status.DESERIALIZING_BODY_FAILED


def test_unknown_fields_are_skipped_as_prost_does() -> None:
    body = bytes.fromhex("0a016b780182010268698d01010203048b0108018c01")
    assert codec.decode_operation(Opcode.PSA_DESTROY_KEY, body) == ops.DestroyKey("k")


def test_packed_and_unpacked_repeated_fields_both_decode() -> None:
    packed, unpacked = bytes.fromhex("0a020102"), bytes.fromhex("08010802")
    for body in (packed, unpacked):
        assert codec.decode_result(Opcode.LIST_OPCODES, body) == ops.ListOpcodesResult(
            frozenset({Opcode.PING, Opcode.PSA_GENERATE_KEY})
        )


def generate_key(mutate: Callable[[psa_generate_key_pb2.Operation], None]) -> bytes:
    message = psa_generate_key_pb2.Operation(key_name="k")
    attributes = t.KeyAttributes(
        t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(t.UsageFlags(sign_hash=True), t.Ecdsa(t.Hash.SHA_256))
    )
    key_attributes_to_proto(attributes, message.attributes)
    mutate(message)
    return message.SerializeToString()


def _set(path: str, value: Any) -> Callable[[Message], None]:
    def mutate(message: Message) -> None:
        *parents, leaf = path.split(".")
        target: Any = message
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)

    return mutate


def _clear(path: str) -> Callable[[Message], None]:
    def mutate(message: Message) -> None:
        *parents, leaf = path.split(".")
        target: Any = message
        for name in parents:
            target = getattr(target, name)
        target.ClearField(leaf)

    return mutate


POLICY = "attributes.key_policy"
ALGORITHM = f"{POLICY}.key_algorithm"


@pytest.mark.threat("A1-E-1", "M-5")
@pytest.mark.parametrize(
    "mutate",
    [
        _clear("attributes"),
        _clear("attributes.key_type"),
        _clear("attributes.key_type.ecc_key_pair"),  # key type with no variant set
        _set("attributes.key_type.ecc_key_pair.curve_family", 0),  # ECC_FAMILY_NONE
        _set("attributes.key_type.ecc_key_pair.curve_family", 42),  # outside the enum
        _clear(POLICY),
        _clear(f"{POLICY}.key_usage_flags"),
        _clear(ALGORITHM),
        _clear(f"{ALGORITHM}.asymmetric_signature"),  # Algorithm with no variant
        _clear(f"{ALGORITHM}.asymmetric_signature.ecdsa"),  # AsymmetricSignature with no variant
        _clear(f"{ALGORITHM}.asymmetric_signature.ecdsa.hash_alg"),  # Ecdsa without its hash
        _clear(f"{ALGORITHM}.asymmetric_signature.ecdsa.hash_alg.specific"),  # SignHash with no variant
        _set(f"{ALGORITHM}.asymmetric_signature.ecdsa.hash_alg.specific", 0),  # HASH_NONE
        _set(f"{ALGORITHM}.hash", 16),  # one past SHA3_512
        _set(f"{ALGORITHM}.cipher", 0),  # CIPHER_NONE
        _set(f"{ALGORITHM}.aead.aead_with_default_length_tag", 0),
        _set(f"{ALGORITHM}.key_agreement.raw", 0),  # RAW_NONE
        _set(f"{ALGORITHM}.key_agreement.with_key_derivation.ka_alg", 2),  # kdf_alg missing
        _set(f"{ALGORITHM}.mac.truncated.mac_length", 8),  # mac_alg missing
        _set(f"{ALGORITHM}.mac.full_length.hmac.hash_alg", 0),
        _set(f"{ALGORITHM}.key_derivation.hkdf.hash_alg", 0),
        _set(f"{ALGORITHM}.asymmetric_encryption.rsa_oaep.hash_alg", 0),
        lambda message: message.attributes.key_policy.key_algorithm.mac.full_length.SetInParent(),
    ],
)
def test_contract_violations_are_invalid_encoding(mutate: Callable[[Any], None]) -> None:
    assert status_of(Opcode.PSA_GENERATE_KEY, generate_key(mutate)) is Status.INVALID_ENCODING


def test_algorithm_none_is_valid() -> None:
    operation = codec.decode_operation(
        Opcode.PSA_GENERATE_KEY, generate_key(lambda m: m.attributes.key_policy.key_algorithm.none.SetInParent())
    )
    assert isinstance(operation, ops.GenerateKey)
    assert operation.attributes.policy.permitted_algorithms == t.AlgorithmNone()


@pytest.mark.parametrize(
    ("opcode", "message"),
    [
        (Opcode.PSA_SIGN_HASH, psa_sign_hash_pb2.Operation(key_name="k", hash=b"h")),  # alg missing
        (Opcode.PSA_ASYMMETRIC_ENCRYPT, psa_asymmetric_encrypt_pb2.Operation(key_name="k", plaintext=b"p")),
        (Opcode.PSA_AEAD_ENCRYPT, psa_aead_encrypt_pb2.Operation(key_name="k", plaintext=b"p")),
        (Opcode.PSA_CIPHER_ENCRYPT, psa_cipher_encrypt_pb2.Operation(key_name="k", plaintext=b"p")),
        (Opcode.PSA_HASH_COMPUTE, psa_hash_compute_pb2.Operation(input=b"abc")),  # HASH_NONE
        (Opcode.PSA_RAW_KEY_AGREEMENT, psa_raw_key_agreement_pb2.Operation(private_key_name="k")),
        (Opcode.CAN_DO_CRYPTO, can_do_crypto_pb2.Operation(check_type=can_do_crypto_pb2.USE)),  # attributes missing
        (Opcode.PSA_GENERATE_KEY, psa_generate_key_pb2.Operation(key_name="k")),
    ],
    ids=lambda value: value.name if isinstance(value, Opcode) else "",
)
def test_missing_algorithms_and_attributes_are_invalid_encoding(opcode: Opcode, message: Message) -> None:
    assert status_of(opcode, message.SerializeToString()) is Status.INVALID_ENCODING


def test_can_do_crypto_check_type_none_is_invalid_encoding() -> None:
    message = can_do_crypto_pb2.Operation()
    key_attributes_to_proto(
        t.KeyAttributes(t.Aes(), 0, t.KeyPolicy(t.UsageFlags(), t.AlgorithmNone())), message.attributes
    )
    assert status_of(Opcode.CAN_DO_CRYPTO, message.SerializeToString()) is Status.INVALID_ENCODING


def test_list_opcodes_for_an_unknown_provider() -> None:
    body = list_opcodes_pb2.Operation(provider_id=6).SerializeToString()
    assert status_of(Opcode.LIST_OPCODES, body) is Status.PROVIDER_DOES_NOT_EXIST


def test_empty_salt_means_no_salt() -> None:
    body = psa_asymmetric_encrypt_pb2.Operation(key_name="k", plaintext=b"p")
    body.alg.rsa_pkcs1v15_crypt.SetInParent()
    decoded = codec.decode_operation(Opcode.PSA_ASYMMETRIC_ENCRYPT, body.SerializeToString())
    assert isinstance(decoded, ops.AsymmetricEncrypt) and decoded.salt is None


# ------------------------------------------------------------------------------------------ client side


@pytest.mark.threat("A2-D-2")
@pytest.mark.parametrize(
    ("opcode", "message", "status"),
    [
        (
            Opcode.LIST_PROVIDERS,
            list_providers_pb2.Result(providers=[list_providers_pb2.ProviderInfo(uuid="not-a-uuid", id=1)]),
            Status.WRONG_PROVIDER_UUID,
        ),
        (
            Opcode.LIST_PROVIDERS,
            list_providers_pb2.Result(
                providers=[list_providers_pb2.ProviderInfo(uuid="1c1139dc-ad7c-47dc-ad6b-db6fdb466552", id=9)]
            ),
            Status.PROVIDER_DOES_NOT_EXIST,
        ),
        (Opcode.LIST_OPCODES, list_opcodes_pb2.Result(opcodes=[1, 0x16]), Status.OPCODE_DOES_NOT_EXIST),
    ],
)
def test_results_a_client_must_refuse(opcode: Opcode, message: Message, status: Status) -> None:
    with pytest.raises(ParsecError) as raised:
        codec.decode_result(opcode, message.SerializeToString())
    assert raised.value.status is status
