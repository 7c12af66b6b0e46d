"""TPM CanDoCrypto: asks the TPM itself (TPM2_TestParms) whether it supports a key template and its algorithm.

Parsec's `svc:src/providers/tpm/capability_discovery.rs` inside the common flow of
`refimpl.psa.policy.can_do_crypto`: RSA and SECP-R1 key pairs can be generated, their public keys imported (as
Parsec's `import_check_internal`: public keys only), and a template can be used when the TPM accepts the key's
parameters together with the signature or encryption scheme its algorithm needs. `key_bits = 0` ("any size") is
tested with RSA-2048 or P-256. Every "no", the TPM's included, is PsaErrorNotSupported.
"""

from __future__ import annotations

import logging

from tpm2_pytss import TSS2_Exception
from tpm2_pytss.types import TPMT_PUBLIC_PARMS

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import CanDoCrypto, CanDoCryptoResult
from refimpl.providers.base import handles
from refimpl.providers.tpm.asym_encryption import decryption_scheme
from refimpl.providers.tpm.asym_sign import signature_scheme
from refimpl.providers.tpm.common import TpmBase, status_of
from refimpl.providers.tpm.key_management import key_template
from refimpl.psa import policy
from refimpl.psa.types import (
    AnyHash,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Ecdsa,
    Hash,
    KeyAttributes,
    RsaKeyPair,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPss,
    RsaPublicKey,
)

log = logging.getLogger(__name__)

_ANY_SIZE = {RsaKeyPair: 2048, EccKeyPair: 256}
GENERATED_TYPES = (RsaKeyPair, EccKeyPair)
IMPORTED_TYPES = (RsaPublicKey, EccPublicKey)
"""The key types GenerateKey and ImportKey accept (key_management.py)."""


def _not_supported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


def _as_key_pair(attributes: KeyAttributes) -> KeyAttributes:
    """The same template as a key pair with a definite size, which `key_template` can build."""
    key_type = attributes.key_type
    if isinstance(key_type, RsaPublicKey):
        key_type = RsaKeyPair()
    elif isinstance(key_type, EccPublicKey):
        key_type = EccKeyPair(key_type.curve_family)
    if not isinstance(key_type, RsaKeyPair | EccKeyPair):
        raise _not_supported(f"the TPM provider has no {type(attributes.key_type).__name__} keys")
    if isinstance(key_type, EccKeyPair) and key_type.curve_family is not EccFamily.SECP_R1:
        raise _not_supported(f"ECC family {key_type.curve_family.name} is not supported by the TPM provider")
    bits = attributes.bits or _ANY_SIZE[type(key_type)]
    return KeyAttributes(key_type, bits, attributes.policy)


class CapabilityDiscovery(TpmBase):
    """CanDoCrypto."""

    @handles(CanDoCrypto)
    def can_do_crypto(self, application: Application | None, operation: CanDoCrypto) -> CanDoCryptoResult:
        if application is None:
            raise ParsecError(Status.NOT_AUTHENTICATED, "CanDoCrypto needs an application identity")
        policy.can_do_crypto(
            operation,
            can_generate=lambda attributes: self._test(application, attributes, "generate", GENERATED_TYPES),
            can_import=lambda attributes: self._test(application, attributes, "import", IMPORTED_TYPES),
            can_use=lambda attributes: self._test(application, attributes, "use"),
        )
        return CanDoCryptoResult()

    def _test(
        self, application: Application, attributes: KeyAttributes, check: str, key_types: tuple[type, ...] = ()
    ) -> None:
        """NotSupported unless the key type is one of `key_types` (if given) and the TPM takes the parameters."""
        if key_types and not isinstance(attributes.key_type, key_types):
            raise _not_supported(f"the TPM provider cannot {check} {type(attributes.key_type).__name__} keys")
        public = key_template(_as_key_pair(attributes)).publicArea
        if check == "use":
            algorithm = attributes.policy.permitted_algorithms
            if isinstance(algorithm, RsaPkcs1v15Crypt | RsaOaep):
                scheme = decryption_scheme(algorithm)
                public.parameters.asymDetail.scheme.scheme = scheme.scheme
                public.parameters.asymDetail.scheme.details = scheme.details
            elif isinstance(algorithm, Ecdsa | RsaPkcs1v15Sign | RsaPss):
                if isinstance(algorithm.hash_alg, AnyHash):  # a wildcard policy: any hash the TPM has will do
                    algorithm = type(algorithm)(Hash.SHA_256)
                signature = signature_scheme(algorithm, signing=True)
                public.parameters.asymDetail.scheme.scheme = signature.scheme
                public.parameters.asymDetail.scheme.details.anySig.hashAlg = signature.details.any.hashAlg
            else:
                raise _not_supported(f"{algorithm!r} is not supported by the TPM provider")
        parameters = TPMT_PUBLIC_PARMS(type=public.type, parameters=public.parameters)
        context = self.context
        try:
            with context.lock, context.hardware(log, application, "TPM2_TestParms", self.name):
                context.esapi.test_parms(parameters)
        except TSS2_Exception as error:
            if status_of(error) is Status.PSA_ERROR_COMMUNICATION_FAILURE:
                raise
            raise _not_supported(f"the TPM does not support these parameters (rc 0x{error.rc:x})") from None
