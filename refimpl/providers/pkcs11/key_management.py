"""PKCS#11 key management: GenerateKey, ImportKey, ExportPublicKey, DestroyKey, and the sweep's view of the token.

Parsec's `svc:src/providers/pkcs11/key_management.rs` and `utils.rs` (`key_pair_usage_flags_to_pkcs11_attributes`,
`ec_params`, `algorithm_to_mechanism`): RSA and SECP-R1 key pairs are generated on the token as token objects
(CKA_TOKEN) with the PSA usage flags mapped to CKA_SIGN/VERIFY/ENCRYPT/DECRYPT/DERIVE, private halves sensitive and
unextractable unless the policy allows export; RSA and SECP-R1 public keys can be imported; key pairs cannot (as in
Parsec). The checks come in Parsec's order, which decides the status of a request that fails several:

* GenerateKey: DeprecatedPrimitive; a public key type (InvalidArgument); the export flag with `allow_export =
  false` (NotPermitted); the name (AlreadyExists); then the template — a policy algorithm the token has no
  mechanism for, such as ECDH (NotSupported), a key type other than an RSA or ECC pair (NotSupported), the size;
* ImportKey: the export flag (NotPermitted); empty data (InvalidArgument); the name (AlreadyExists); then a key
  type other than an RSA or ECC public key (NotSupported) and the data itself.

The template checks run inside the shared life cycle's `create` step, after the name was found free and reserved.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.util.ec import decode_ec_public_key, encode_named_curve_parameters

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import (
    DestroyKey,
    DestroyKeyResult,
    ExportPublicKey,
    ExportPublicKeyResult,
    GenerateKey,
    GenerateKeyResult,
    ImportKey,
    ImportKeyResult,
)
from refimpl.providers.base import handles
from refimpl.providers.pkcs11.common import KEY_ID_BYTES, Pkcs11Base, not_supported
from refimpl.providers.pkcs11.library import hardware_command, key_objects
from refimpl.providers.pkcs11.mechanisms import mechanism_of
from refimpl.psa import formats, policy
from refimpl.psa.types import (
    PUBLIC_KEYS,
    AlgorithmNone,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    KeyAttributes,
    RsaKeyPair,
    RsaPublicKey,
    UsageFlags,
)

log = logging.getLogger(__name__)

SUPPORTED_FAMILIES = frozenset({EccFamily.SECP_R1})
"""Parsec's `ec_params` names SECP-R1 curves only (192, 224, 256, 384 and 521 bits)."""
RSA_KEY_BITS = frozenset({1024, 2048, 3072, 4096})
"""The RSA sizes generated here (tokens accept odd sizes such as 1000 bits; PSA clients should not get them)."""


def ecc_parameters(family: EccFamily, bits: int) -> bytes:
    """CKA_EC_PARAMS (a DER named-curve OID) for a PSA curve; NotSupported outside SECP-R1."""
    if family not in SUPPORTED_FAMILIES:
        raise not_supported(f"ECC family {family.name} is not supported by the PKCS#11 provider")
    return encode_named_curve_parameters(formats.ecc_curve(family, bits).name)


def key_pair_templates(flags: UsageFlags) -> tuple[dict[Attribute, Any], dict[Attribute, Any]]:
    """The public and private templates for a PSA policy (utils.rs `key_pair_usage_flags_to_pkcs11_attributes`)."""
    public = {
        Attribute.VERIFY: flags.verify_hash or flags.verify_message,
        Attribute.ENCRYPT: flags.encrypt,
        Attribute.WRAP: False,
        Attribute.PRIVATE: False,
    }
    private = {
        Attribute.SIGN: flags.sign_hash or flags.sign_message,
        Attribute.DECRYPT: flags.decrypt,
        Attribute.DERIVE: flags.derive,
        Attribute.UNWRAP: False,
        Attribute.EXTRACTABLE: flags.export,
        Attribute.SENSITIVE: not flags.export,
        Attribute.PRIVATE: True,
    }
    return public, private


def check_generation_template(attributes: KeyAttributes) -> None:
    """What Parsec checks of a template once the name is free: the algorithm's mechanism, the key type, its size."""
    algorithm = attributes.policy.permitted_algorithms
    if not isinstance(algorithm, AlgorithmNone):
        mechanism_of(algorithm)  # NotSupported for an algorithm the token has no mechanism for (ECDH, AEAD, …)
    key_type = attributes.key_type
    if not isinstance(key_type, RsaKeyPair | EccKeyPair):
        raise not_supported(f"the PKCS#11 provider cannot generate {type(key_type).__name__} keys")
    if attributes.bits <= 0:
        raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "key_bits must give the size of the key to generate")
    if isinstance(key_type, RsaKeyPair) and attributes.bits not in RSA_KEY_BITS:
        raise not_supported(f"the PKCS#11 provider generates RSA keys of {sorted(RSA_KEY_BITS)} bits")
    if isinstance(key_type, EccKeyPair):
        ecc_parameters(key_type.curve_family, attributes.bits)


class KeyManagement(Pkcs11Base):
    """The key life cycle on the token."""

    def _check_export(self, attributes: KeyAttributes) -> None:
        if attributes.policy.usage_flags.export and not self.allow_export:
            raise ParsecError(
                Status.PSA_ERROR_NOT_PERMITTED, "allow_export = false: this provider does not create exportable keys"
            )

    @handles(GenerateKey)
    def psa_generate_key(self, application: Application | None, operation: GenerateKey) -> GenerateKeyResult:
        attributes = operation.attributes
        if policy.is_deprecated(attributes) and not self.settings.allow_deprecated:
            raise ParsecError(Status.DEPRECATED_PRIMITIVE, "the key template uses a deprecated primitive")
        if isinstance(attributes.key_type, PUBLIC_KEYS):
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "a public key cannot be generated")
        self._check_export(attributes)
        self.create_key(application, operation.key_name, attributes, lambda: self._generate(application, attributes))
        return GenerateKeyResult()

    def _generate(self, application: Application | None, attributes: KeyAttributes) -> bytes:
        """Check the template (the name is free by now, as in Parsec), then generate the pair on the token."""
        check_generation_template(attributes)
        key_id = os.urandom(KEY_ID_BYTES)
        public, private = key_pair_templates(attributes.policy.usage_flags)
        options: dict[str, Any] = {
            "id": key_id,
            "label": self.label,
            "store": True,
            "capabilities": MechanismFlag(0),
            "public_template": public,
            "private_template": private,
        }
        with (
            self.token.session(exclusive=True) as pooled,
            hardware_command(log, application, "C_GenerateKeyPair", self.name),
        ):
            if isinstance(attributes.key_type, EccKeyPair):
                parameters = ecc_parameters(attributes.key_type.curve_family, attributes.bits)
                domain = pooled.session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: parameters}, local=True
                )
                domain.generate_keypair(**options)
            else:
                pooled.session.generate_keypair(KeyType.RSA, attributes.bits, **options)
        return key_id

    @handles(ImportKey)
    def psa_import_key(self, application: Application | None, operation: ImportKey) -> ImportKeyResult:
        attributes = operation.attributes
        if policy.is_deprecated(attributes):
            log.warning("importing a key whose template uses a deprecated primitive")
        self._check_export(attributes)
        if not operation.data:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the key data is empty")
        self.create_key(application, operation.key_name, attributes, lambda: self._import(application, operation))
        return ImportKeyResult()

    def _import(self, application: Application | None, operation: ImportKey) -> bytes:
        """Check the key type and parse the data (the name is free by now, as in Parsec), then create the object."""
        attributes = operation.attributes
        if not isinstance(attributes.key_type, RsaPublicKey | EccPublicKey):
            raise not_supported(f"the PKCS#11 provider cannot import {type(attributes.key_type).__name__} keys")
        key = formats.load_public_key(attributes.key_type, attributes.bits, operation.data)
        template = self._public_key_template(attributes, key)
        key_id = os.urandom(KEY_ID_BYTES)
        with (
            self.token.session(exclusive=True) as pooled,
            hardware_command(log, application, "C_CreateObject", self.name),
        ):
            pooled.session.create_object({**template, Attribute.ID: key_id})
        return key_id

    def _public_key_template(self, attributes: KeyAttributes, key: formats.PublicKey) -> dict[Attribute, Any]:
        flags = attributes.policy.usage_flags
        template: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: self.label,
            Attribute.VERIFY: flags.verify_hash or flags.verify_message,
            Attribute.ENCRYPT: flags.encrypt,
        }
        if isinstance(key, rsa.RSAPublicKey):
            numbers = key.public_numbers()
            template[Attribute.KEY_TYPE] = KeyType.RSA
            template[Attribute.MODULUS] = numbers.n.to_bytes(formats.byte_length(key.key_size), "big")
            template[Attribute.PUBLIC_EXPONENT] = numbers.e.to_bytes(formats.byte_length(numbers.e.bit_length()), "big")
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(attributes.key_type, EccPublicKey):
            ecc_parameters(attributes.key_type.curve_family, key.curve.key_size)  # SECP-R1 only, as in Parsec
            spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            template.update(decode_ec_public_key(spki))
        else:
            raise not_supported(f"the PKCS#11 provider cannot import {type(key).__name__}")
        return template

    @handles(ExportPublicKey)
    def psa_export_public_key(
        self, application: Application | None, operation: ExportPublicKey
    ) -> ExportPublicKeyResult:
        mapping = self.mapping_of(application, operation.key_name)
        return ExportPublicKeyResult(formats.export_public_key(self.public_key(application, mapping)))

    @handles(DestroyKey)
    def psa_destroy_key(self, application: Application | None, operation: DestroyKey) -> DestroyKeyResult:
        self.destroy_key(application, operation.key_name)
        return DestroyKeyResult()

    # -- the shared life cycle's view of the token ---------------------------------------------------------

    def key_exists(self, key_id: bytes) -> bool:
        with self.token.session() as pooled, hardware_command(log, None, "C_FindObjects", self.name):
            return any(True for _ in pooled.session.get_objects({Attribute.ID: key_id}))

    def destroy_key_material(self, key_id: bytes) -> None:
        """Destroy the private and public objects with this CKA_ID (either may already be gone)."""
        with (
            self.token.session(exclusive=True) as pooled,
            hardware_command(log, None, "C_DestroyObject", self.name),
        ):
            for key_object in list(pooled.session.get_objects({Attribute.ID: key_id})):
                try:
                    key_object.destroy()
                except (pkcs11.ObjectHandleInvalid, pkcs11.KeyHandleInvalid):
                    continue
        self.forget_key(key_id)

    def stored_key_ids(self) -> Iterable[bytes]:
        """The CKA_IDs of every key object labelled with this provider's name."""
        with self.token.session() as pooled, hardware_command(log, None, "C_FindObjects", self.name):
            return {bytes(key_object[Attribute.ID]) for key_object in key_objects(pooled.session, self.label)}
