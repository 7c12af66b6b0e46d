"""Parsec's attribute semantics and two wire answers, each traced to the Parsec code that makes it.

* The usage-flag implication: parsec-interface 0.27 converts protobuf usage flags with psa-crypto's setters, and
  `UsageFlags::set_sign_hash` / `set_verify_hash` also set `sign_message` / `verify_message`
  (psa:psa-crypto/src/types/key.rs). It sits in the protocol converter, so every provider shows it: a key created
  with {export, sign_hash, verify_hash} is listed with sign_message and verify_message too. The ListKeys body is
  read here with the bare generated protobuf classes, not with our converter (which would add the flags itself).
* ECC SECP_R1 with `key_bits` = 260 on the software (Mbed Crypto) provider: psa-crypto's conversion of the
  attributes into `psa_key_attributes_t` checks the size against its table for the family and answers
  `Error::InvalidArgument` (`TryFrom<Attributes> for usize`), before Mbed Crypto could say NotSupported.
* The GenerateRandom body `08 0a 80 12 22 80 0a 1a`: size 10 and two unknown varint fields (288 = 34, 160 = 26).
  prost's `merge` skips unknown fields (`encoding::skip_field`), parsec-interface converts `size` alone, and the
  Mbed Crypto provider (svc:src/providers/mbed_crypto/generate_random.rs) returns 10 bytes: Success. Parsec's code
  answers PsaErrorNotSupported for this opcode only before the body is read, when the request names the Core
  provider (`BackEndHandler::is_capable`, parsec-facts §1.2 step 10); both answers are pinned here.
"""

from __future__ import annotations

import pytest

from parsec_tm.conformance.target import OwnedTarget
from refimpl import operations as ops
from refimpl.client import BasicClient, Direct
from refimpl.ids import Opcode, ProviderId, Status
from refimpl.psa import types as t
from refimpl.wire import convert_psa
from refimpl.wire.generated import list_keys_pb2, psa_generate_random_pb2, psa_key_attributes_pb2
from tests.conformance.conftest import OwnedTargetFactory

GENERATE_RANDOM_BODY = bytes.fromhex("080a801222800a1a")
SIGNING = t.Ecdsa(t.Hash.SHA_256)


def _flags(**set_flags: bool) -> t.UsageFlags:
    return t.UsageFlags(**set_flags)


def _client(target: OwnedTarget, name: str) -> BasicClient:
    return BasicClient(target.process.endpoint, auth=Direct(name), timeout=60.0)


def _listed_flags(client: BasicClient, key_name: str) -> dict[str, bool]:
    """The usage flags ListKeys puts on the wire for `key_name`, read without our converter."""
    response = client.send(ProviderId.CORE, Opcode.LIST_KEYS, ops.ListKeys())
    assert response.status is Status.SUCCESS
    result = list_keys_pb2.Result()
    result.ParseFromString(response.body)
    (info,) = [key for key in result.keys if key.name == key_name]
    flags = info.attributes.key_policy.key_usage_flags
    names = [field.name for field in psa_key_attributes_pb2.UsageFlags.DESCRIPTOR.fields]
    return {name: bool(getattr(flags, name)) for name in names}


def test_the_converter_sets_the_message_flags_that_the_hash_flags_imply() -> None:
    """Decoding applies psa-crypto's setters; encoding writes the flags as they are (Parsec's getters)."""
    for sent, implied in (("sign_hash", "sign_message"), ("verify_hash", "verify_message")):
        message = psa_key_attributes_pb2.UsageFlags(**{sent: True})
        native = convert_psa.usage_flags_from_proto(message)
        assert getattr(native, sent) and getattr(native, implied)
        others = {name for name in convert_psa.IMPLIED_USAGE.values() if name != implied}
        assert not any(getattr(native, name) for name in others)
    plain = convert_psa.usage_flags_from_proto(psa_key_attributes_pb2.UsageFlags(sign_message=True, export=True))
    assert plain == _flags(sign_message=True, export=True)  # the implication runs one way only
    encoded = psa_key_attributes_pb2.KeyAttributes()
    attributes = t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(_flags(sign_hash=True), SIGNING))
    convert_psa.key_attributes_to_proto(attributes, encoded)
    assert not encoded.key_policy.key_usage_flags.sign_message


@pytest.mark.parametrize("kind", ["software", "pkcs11", "tpm"])
def test_every_provider_lists_a_sign_hash_key_with_the_message_flags(
    owned_target: OwnedTargetFactory, kind: str
) -> None:
    target = owned_target(kind)
    try:
        client = _client(target, f"semantics-{kind}")
        flags = _flags(export=True, sign_hash=True, verify_hash=True)
        attributes = t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, t.KeyPolicy(flags, SIGNING))
        client.psa_generate_key("k", attributes)
        listed = _listed_flags(client, "k")
        assert listed["sign_message"] and listed["verify_message"], listed
        assert listed["sign_hash"] and listed["verify_hash"] and listed["export"]
        assert not (listed["encrypt"] or listed["decrypt"] or listed["derive"] or listed["copy"] or listed["cache"])
        target.process.reload()  # the stored attributes are the normalised ones
        assert _listed_flags(client, "k") == listed
        client.psa_destroy_key("k")
    finally:
        target.close()


def test_an_ecc_size_outside_psa_cryptos_table_is_invalid_argument_on_mbed_crypto(
    owned_target: OwnedTargetFactory,
) -> None:
    target = owned_target("software")
    try:
        client = _client(target, "semantics-ecc")
        policy = t.KeyPolicy(_flags(sign_hash=True), SIGNING)
        odd = ops.GenerateKey("k", t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 260, policy))
        assert client.send(ProviderId.MBED_CRYPTO, Opcode.PSA_GENERATE_KEY, odd).status is (
            Status.PSA_ERROR_INVALID_ARGUMENT
        )
        frp = ops.GenerateKey("k", t.KeyAttributes(t.EccKeyPair(t.EccFamily.FRP), 256, policy))
        assert client.send(ProviderId.MBED_CRYPTO, Opcode.PSA_GENERATE_KEY, frp).status is (
            Status.PSA_ERROR_NOT_SUPPORTED
        )  # psa-crypto has no PSA family for FRP: its conversion fails before the size is looked at
        client.psa_generate_key("k", t.KeyAttributes(t.EccKeyPair(t.EccFamily.SECP_R1), 256, policy))
        assert client.send(ProviderId.MBED_CRYPTO, Opcode.PSA_GENERATE_KEY, odd).status is (
            Status.PSA_ERROR_ALREADY_EXISTS
        )  # the name is checked first, as Parsec's provider does before it converts the attributes
        client.psa_destroy_key("k")
    finally:
        target.close()


def test_generate_random_skips_unknown_fields_as_prost_does(owned_target: OwnedTargetFactory) -> None:
    parsed = psa_generate_random_pb2.Operation()
    parsed.ParseFromString(GENERATE_RANDOM_BODY)
    assert parsed.size == 10
    target = owned_target("software")
    try:
        client = _client(target, "semantics-random")
        served = client.send(ProviderId.MBED_CRYPTO, Opcode.PSA_GENERATE_RANDOM, GENERATE_RANDOM_BODY)
        assert served.status is Status.SUCCESS
        result = psa_generate_random_pb2.Result()
        result.ParseFromString(served.body)
        assert len(result.random_bytes) == 10
        to_core = client.send(ProviderId.CORE, Opcode.PSA_GENERATE_RANDOM, GENERATE_RANDOM_BODY)
        assert to_core.status is Status.PSA_ERROR_NOT_SUPPORTED
    finally:
        target.close()
