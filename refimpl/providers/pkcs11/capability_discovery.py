"""PKCS#11 CanDoCrypto: what this token can generate, import and use, asked of the token's mechanism list.

Parsec's `svc:src/providers/pkcs11/capability_discovery.rs` inside the common flow of
`refimpl.psa.policy.can_do_crypto`: RSA and SECP-R1 key pairs can be generated, RSA and SECP-R1 public keys
imported, and a template can be used when the token lists the mechanism its algorithm needs and the key size lies
within that mechanism's range (`key_bits = 0` means any size) and the provider type's `CAPABILITIES` allow the
algorithm (RSA-OAEP with SHA-1 only). Every "no" is PsaErrorNotSupported.
"""

from __future__ import annotations

import logging

import pkcs11

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import CanDoCrypto, CanDoCryptoResult
from refimpl.providers.base import handles
from refimpl.providers.pkcs11.common import Pkcs11Base, not_supported
from refimpl.providers.pkcs11.key_management import RSA_KEY_BITS, SUPPORTED_FAMILIES
from refimpl.providers.pkcs11.library import hardware_command
from refimpl.providers.pkcs11.mechanisms import check_oaep, mechanism_of
from refimpl.psa import formats, policy
from refimpl.psa.types import EccKeyPair, EccPublicKey, KeyAttributes, RsaKeyPair, RsaPublicKey

log = logging.getLogger(__name__)


def _check_curve(attributes: KeyAttributes) -> None:
    key_type = attributes.key_type
    if isinstance(key_type, EccKeyPair | EccPublicKey):
        family = key_type.curve_family
        if family not in SUPPORTED_FAMILIES or (attributes.bits and not formats.supports_ecc(family, attributes.bits)):
            raise not_supported(f"ECC family {family.name} with {attributes.bits} bits is not supported")


class CapabilityDiscovery(Pkcs11Base):
    """CanDoCrypto."""

    @handles(CanDoCrypto)
    def can_do_crypto(self, application: Application | None, operation: CanDoCrypto) -> CanDoCryptoResult:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "CanDoCrypto needs an application identity")
        _check_curve(operation.attributes)
        policy.can_do_crypto(
            operation,
            can_generate=self._can_generate,
            can_import=self._can_import,
            can_use=lambda attributes: self._can_use(application, attributes),
        )
        return CanDoCryptoResult()

    def _can_generate(self, attributes: KeyAttributes) -> None:
        if not isinstance(attributes.key_type, RsaKeyPair | EccKeyPair):
            raise not_supported(f"the PKCS#11 provider cannot generate {type(attributes.key_type).__name__} keys")
        if isinstance(attributes.key_type, RsaKeyPair) and attributes.bits and attributes.bits not in RSA_KEY_BITS:
            raise not_supported(f"the PKCS#11 provider generates RSA keys of {sorted(RSA_KEY_BITS)} bits")
        if attributes.policy.usage_flags.export and not self.allow_export:
            raise not_supported("allow_export = false: this provider does not create exportable keys")

    def _can_import(self, attributes: KeyAttributes) -> None:
        if not isinstance(attributes.key_type, RsaPublicKey | EccPublicKey):
            raise not_supported(f"the PKCS#11 provider cannot import {type(attributes.key_type).__name__} keys")

    def _can_use(self, application: Application, attributes: KeyAttributes) -> None:
        algorithm = attributes.policy.permitted_algorithms
        mechanism = mechanism_of(algorithm)
        check_oaep(self.CAPABILITIES, algorithm)
        slot = self.token.token.slot
        with hardware_command(log, application, "C_GetMechanismList", self.name):
            mechanisms = slot.get_mechanisms()
            if mechanism not in mechanisms:
                raise not_supported(f"the token does not offer {mechanism.name}")
            info = slot.get_mechanism_info(mechanism)
        if attributes.bits and not _within(attributes.bits, info):
            raise not_supported(f"{attributes.bits}-bit keys are outside the token's range for {mechanism.name}")


def _within(bits: int, info: pkcs11.MechanismInfo) -> bool:
    low, high = info.min_key_length, info.max_key_length
    return (low is None or bits >= low) and (high is None or bits <= high)
