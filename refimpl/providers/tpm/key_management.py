"""TPM key management: GenerateKey, ImportKey, ExportPublicKey, DestroyKey, as wrapped blobs in the mapping.

Parsec's `svc:src/providers/tpm/key_management.rs` and `utils.rs` (`parsec_to_tpm_params`): RSA and SECP-R1 key
pairs are created under the storage key (TPM2_Create) with a random 32-byte auth value, and the TPM's wrapped
private part, public part and that auth value become the mapping's key id (`common.WrappedKey`). Nothing stays in
the TPM but the key it keeps loaded after use (flushed on DestroyKey), so the start-up sweep has no orphans to look
for. As in Parsec, only RSA and SECP-R1 *public* keys are imported (checked by loading them into the TPM once); ECC
key pairs are for ECDSA only (no key agreement). An imported point's coordinates are given to the TPM at the
curve's full width (`full_width_point`), as the TPM demands. The checks come in Parsec's order:

* GenerateKey: DeprecatedPrimitive; the name (AlreadyExists); a public key type (InvalidArgument); then the
  template — key type, size, curve, an ECDH policy (NotSupported);
* ImportKey: a key type other than an RSA or ECC public key (NotSupported); the name (AlreadyExists); then the
  curve family and the data.

The checks after the name run inside the shared life cycle's `create` step, once the name is free and reserved.
"""

from __future__ import annotations

import logging
import secrets

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tpm2_pytss.constants import TPM2_ALG, TPMA_OBJECT
from tpm2_pytss.types import (
    TPM2B_AUTH,
    TPM2B_ECC_PARAMETER,
    TPM2B_PRIVATE,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMS_SENSITIVE_CREATE,
    TPMT_PUBLIC,
)

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
from refimpl.providers.tpm.common import AUTH_VALUE_BYTES, ECC_CURVE_BITS, TpmBase, WrappedKey
from refimpl.providers.tpm.context import KEY_ATTRIBUTES
from refimpl.psa import formats, policy
from refimpl.psa.types import (
    PUBLIC_KEYS,
    DeterministicEcdsa,
    EccFamily,
    EccKeyPair,
    EccPublicKey,
    Ecdsa,
    EcdsaAny,
    KeyAttributes,
    RawKeyAgreement,
    RsaKeyPair,
    RsaOaep,
    RsaPkcs1v15Crypt,
    RsaPkcs1v15Sign,
    RsaPkcs1v15SignRaw,
    RsaPss,
    RsaPublicKey,
)

log = logging.getLogger(__name__)

_SIGNATURE_TYPES = (RsaPkcs1v15Sign, RsaPkcs1v15SignRaw, RsaPss, Ecdsa, EcdsaAny, DeterministicEcdsa)
_ENCRYPTION_TYPES = (RsaPkcs1v15Crypt, RsaOaep)
RSA_KEY_BITS = frozenset({1024, 2048, 3072, 4096})
"""The RSA sizes TPM 2.0 defines; the TPM itself says which of them it implements (TPM_RC_KEY_SIZE)."""


def _not_supported(detail: str) -> ParsecError:
    return ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, detail)


def usage_attributes(attributes: KeyAttributes) -> TPMA_OBJECT:
    """SIGN_ENCRYPT for a signing (or verifying) key, DECRYPT for an RSA (de|en)cryption key; one of them at least."""
    flags = attributes.policy.usage_flags
    algorithm = attributes.policy.permitted_algorithms
    signs = flags.sign_hash or flags.sign_message or flags.verify_hash or flags.verify_message
    crypts = flags.encrypt or flags.decrypt or isinstance(algorithm, _ENCRYPTION_TYPES)
    is_rsa = isinstance(attributes.key_type, RsaKeyPair | RsaPublicKey)
    result = TPMA_OBJECT(0)
    if signs or isinstance(algorithm, _SIGNATURE_TYPES):
        result |= TPMA_OBJECT.SIGN_ENCRYPT
    if crypts and is_rsa:
        result |= TPMA_OBJECT.DECRYPT
    return result or TPMA_OBJECT.SIGN_ENCRYPT


def _check_family(family: EccFamily) -> None:
    if family is not EccFamily.SECP_R1:
        raise _not_supported(f"ECC family {family.name} is not supported by the TPM provider")


def key_template(attributes: KeyAttributes) -> TPM2B_PUBLIC:
    """The public template TPM2_Create gets: no scheme (chosen per operation), no symmetric part (pitfall 3)."""
    key_type = attributes.key_type
    if isinstance(key_type, RsaKeyPair):
        if attributes.bits not in RSA_KEY_BITS:
            raise _not_supported(f"the TPM provider creates RSA keys of {sorted(RSA_KEY_BITS)} bits")
        public = TPMT_PUBLIC.parse(f"rsa{attributes.bits}", objectAttributes=KEY_ATTRIBUTES)
        public.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG.NULL
    elif isinstance(key_type, EccKeyPair):
        _check_family(key_type.curve_family)
        formats.ecc_curve(key_type.curve_family, attributes.bits)  # NotSupported for a size SECP-R1 lacks
        if isinstance(attributes.policy.permitted_algorithms, RawKeyAgreement):
            raise _not_supported("the TPM provider's ECC keys sign (ECDSA); they do no key agreement")
        public = TPMT_PUBLIC.parse(f"ecc{attributes.bits}", objectAttributes=KEY_ATTRIBUTES)
        public.parameters.eccDetail.symmetric.algorithm = TPM2_ALG.NULL
        public.parameters.eccDetail.kdf.scheme = TPM2_ALG.NULL
    else:
        raise _not_supported(f"the TPM provider cannot generate {type(key_type).__name__} keys")
    public.parameters.asymDetail.scheme.scheme = TPM2_ALG.NULL
    public.objectAttributes |= usage_attributes(attributes)
    return TPM2B_PUBLIC(public)


def full_width_point(public: TPM2B_PUBLIC) -> TPM2B_PUBLIC:
    """`public` with an ECC point's coordinates zero-padded to the curve's size; an RSA key as it is.

    tpm2-pytss writes each coordinate in as few bytes as its value needs, so one P-256 point in 128 has a 31-byte
    x or y; libtpms refuses such a point (TPM2_LoadExternal: TPM_RC_KEY on inPublic, rc 0x2dc), which made a
    random ImportKey fail as PsaErrorHardwareFailure. A TPM itself writes every coordinate at full width.
    """
    area = public.publicArea
    if area.type != TPM2_ALG.ECC:
        return public
    size = formats.byte_length(ECC_CURVE_BITS[area.parameters.eccDetail.curveID])
    area.unique.ecc.x = TPM2B_ECC_PARAMETER(bytes(area.unique.ecc.x).rjust(size, b"\x00"))
    area.unique.ecc.y = TPM2B_ECC_PARAMETER(bytes(area.unique.ecc.y).rjust(size, b"\x00"))
    return public


class KeyManagement(TpmBase):
    """The key life cycle: keys are wrapped blobs held by the key info manager."""

    @handles(GenerateKey)
    def psa_generate_key(self, application: Application | None, operation: GenerateKey) -> GenerateKeyResult:
        attributes = operation.attributes
        if policy.is_deprecated(attributes) and not self.settings.allow_deprecated:
            raise ParsecError(Status.DEPRECATED_PRIMITIVE, "the key template uses a deprecated primitive")
        self.create_key(application, operation.key_name, attributes, lambda: self._generate(application, attributes))
        return GenerateKeyResult()

    def _generate(self, application: Application | None, attributes: KeyAttributes) -> bytes:
        """Check the template (the name is free by now, as in Parsec), then create the key under the storage key."""
        if isinstance(attributes.key_type, PUBLIC_KEYS):
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "a public key cannot be generated")
        if attributes.bits <= 0:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "key_bits must give the size of the key to generate")
        template = key_template(attributes)
        auth = secrets.token_bytes(AUTH_VALUE_BYTES)
        sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=TPM2B_AUTH(auth)))
        context = self.context
        with context.lock, context.hardware(log, application, "TPM2_Create", self.name):
            created = context.retrying(lambda: context.esapi.create(context.parent, sensitive, template))
        private, public = created[0], created[1]
        return WrappedKey(auth, private, public).to_bytes()

    @handles(ImportKey)
    def psa_import_key(self, application: Application | None, operation: ImportKey) -> ImportKeyResult:
        attributes = operation.attributes
        if not isinstance(attributes.key_type, RsaPublicKey | EccPublicKey):
            raise _not_supported(f"the TPM provider imports public keys only, not {type(attributes.key_type).__name__}")
        if policy.is_deprecated(attributes):
            log.warning("importing a key whose template uses a deprecated primitive")
        self.create_key(application, operation.key_name, attributes, lambda: self._import(application, operation))
        return ImportKeyResult()

    def _import(self, application: Application | None, operation: ImportKey) -> bytes:
        """Check the curve and the data (the name is free by now, as in Parsec), then have the TPM accept the key."""
        attributes = operation.attributes
        key_type = attributes.key_type
        if isinstance(key_type, EccPublicKey):
            _check_family(key_type.curve_family)
        if not operation.data:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the key data is empty")
        key = formats.load_public_key(key_type, attributes.bits, operation.data)
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
        object_attributes = TPMA_OBJECT.USERWITHAUTH | TPMA_OBJECT.NODA | usage_attributes(attributes)
        public = full_width_point(TPM2B_PUBLIC.from_pem(der, objectAttributes=object_attributes))
        context = self.context
        with (
            context.lock,
            context.hardware(log, application, "TPM2_LoadExternal+FlushContext", self.name),
            context.loaded_public(public),
        ):
            pass  # the TPM accepted the key: its size, curve and point are valid
        return WrappedKey(b"", TPM2B_PRIVATE(), public).to_bytes()

    @handles(ExportPublicKey)
    def psa_export_public_key(
        self, application: Application | None, operation: ExportPublicKey
    ) -> ExportPublicKeyResult:
        key, _ = self.wrapped_key(application, operation.key_name)
        return ExportPublicKeyResult(formats.export_public_key(key.public_key()))

    @handles(DestroyKey)
    def psa_destroy_key(self, application: Application | None, operation: DestroyKey) -> DestroyKeyResult:
        self.destroy_key(application, operation.key_name)
        return DestroyKeyResult()

    # -- the shared life cycle: nothing of a key lives in the TPM -----------------------------------------

    def key_exists(self, key_id: bytes) -> bool:
        """A wrapped key exists as long as its mapping does; a mapping that does not parse is dropped."""
        try:
            WrappedKey.from_bytes(key_id)
        except ParsecError:
            return False
        return True

    def destroy_key_material(self, key_id: bytes) -> None:
        """Flush the key if the TPM kept it loaded: once the mapping is gone, nobody holds it or its auth value."""
        self.parsed_keys.forget(key_id)
        with self.context.lock:
            self.context.forget(key_id)
