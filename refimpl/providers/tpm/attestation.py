"""Key attestation with TPM2_ActivateCredential, as Parsec 1.1.0's TPM provider does it.

Parsec's `svc:src/providers/tpm/key_attestation.rs` (over tss-esapi's transient `get_make_cred_params` and
`activate_credential`; parsec-facts §3.4). A verifier that trusts the TPM's endorsement key (EK) learns that a
Parsec key lives in the same TPM:

1. PrepareKeyAttestation(ActivateCredential) gives the attested key's TPM name (nameAlg ‖ digest of its public
   area), its public area (a marshalled TPMT_PUBLIC) and the EK's public key (DER PKCS#1 RSAPublicKey). The EK is
   the TCG default RSA 2048 EK (template "EK-RSA2048", a primary key of the endorsement hierarchy).
2. The verifier runs TPM2_MakeCredential in software: a secret credential sealed to the EK and bound to the name.
3. AttestKey(ActivateCredential, credential_blob, secret): the TPM unseals it only if the attested key, loaded in
   this TPM, has that name; the credential goes back to the verifier, who compares.

As in Parsec, only the default attesting key (the EK) is supported: naming another is PsaErrorNotSupported. The
EK's policy is PolicySecret(TPM_RH_ENDORSEMENT), satisfied with the provider's `endorsement_hierarchy_auth`.
TPM errors map as Parsec's `key_attest_response_status`: a bad authorisation is PsaErrorGenericError, a bad value
or size PsaErrorInvalidArgument, anything else as every TPM error (`common.status_of`). A credential bound to
another name fails the TPM's integrity check (PsaErrorDataCorrupt, as Parsec maps TPM_RC_INTEGRITY).

`prepare_key_attestation` and `attest_key` are the provider's PrepareKeyAttestation and AttestKey on the wire (so
ListOpcodes(Tpm) lists Parsec's 12 opcodes); `prepare_activate_credential` and `activate_credential` do the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key
from tpm2_pytss import TSS2_Exception
from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_RC, TPM2_SE
from tpm2_pytss.types import (
    TPM2B_ENCRYPTED_SECRET,
    TPM2B_ID_OBJECT,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMT_SYM_DEF,
)
from tpm2_pytss.utils import NoSuchIndex, create_ek_template

from refimpl.errors import ParsecError
from refimpl.identity import Application
from refimpl.ids import Status
from refimpl.operations import AttestKey, AttestKeyResult, PrepareKeyAttestation, PrepareKeyAttestationResult
from refimpl.providers.base import handles
from refimpl.providers.secrets import Secret
from refimpl.providers.tpm.common import TpmBase, status_of

log = logging.getLogger(__name__)

EK_TEMPLATE_NAME = "EK-RSA2048"
"""tss-esapi's default attesting key: `ek::create_ek_object(ctx, AsymmetricAlgorithm::Rsa, None)`."""


@dataclass(frozen=True)
class ActivateCredentialParameters:
    """What a verifier needs for TPM2_MakeCredential (PrepareKeyAttestation's ActivateCredential output)."""

    name: bytes
    public: bytes
    attesting_key_pub: bytes


def _no_ek_certificate_template(index: int) -> bytes:
    """The EK template is the TCG default: no template or nonce is provisioned in NV (as tss-esapi assumes)."""
    raise NoSuchIndex(index)


def ek_template() -> TPM2B_PUBLIC:
    return create_ek_template(EK_TEMPLATE_NAME, _no_ek_certificate_template)[1]


def _attestation_status(error: TSS2_Exception) -> Status:
    """Parsec's `key_attest_response_status`."""
    if error.rc >> 16 == 0:
        if error.error in (TPM2_RC.BAD_AUTH, TPM2_RC.AUTH_FAIL):
            return Status.PSA_ERROR_GENERIC_ERROR
        if error.error in (TPM2_RC.VALUE, TPM2_RC.SIZE):
            return Status.PSA_ERROR_INVALID_ARGUMENT
    return status_of(error)


def _only_the_endorsement_key(attesting_key_name: str | None) -> None:
    if attesting_key_name:
        raise ParsecError(Status.PSA_ERROR_NOT_SUPPORTED, "attesting with a key other than the EK is not supported")


class KeyAttestation(TpmBase):
    """PrepareKeyAttestation and AttestKey with the ActivateCredential mechanism."""

    endorsement_auth: Secret = Secret(b"")
    """The endorsement hierarchy's password (`endorsement_hierarchy_auth`), for the EK and its policy."""

    @handles(PrepareKeyAttestation)
    def prepare_key_attestation(
        self, application: Application | None, operation: PrepareKeyAttestation
    ) -> PrepareKeyAttestationResult:
        parameters = self.prepare_activate_credential(
            application, operation.attested_key_name, operation.attesting_key_name
        )
        return PrepareKeyAttestationResult(parameters.name, parameters.public, parameters.attesting_key_pub)

    @handles(AttestKey)
    def attest_key(self, application: Application | None, operation: AttestKey) -> AttestKeyResult:
        credential = self.activate_credential(
            application,
            operation.attested_key_name,
            operation.credential_blob,
            operation.secret,
            operation.attesting_key_name,
        )
        return AttestKeyResult(credential)

    def prepare_activate_credential(
        self, application: Application | None, attested_key_name: str, attesting_key_name: str | None = None
    ) -> ActivateCredentialParameters:
        """The attested key's name and public area, and the EK's public key."""
        _only_the_endorsement_key(attesting_key_name)
        key, _ = self.wrapped_key(application, attested_key_name)
        with self.context.lock:
            ek_public = self._endorsement_key_public(application)
        ek_der = load_der_public_key(ek_public.publicArea.to_der()).public_bytes(Encoding.DER, PublicFormat.PKCS1)
        return ActivateCredentialParameters(
            name=bytes(key.public.get_name()),
            public=bytes(key.public.publicArea.marshal()),
            attesting_key_pub=ek_der,
        )

    def activate_credential(
        self,
        application: Application | None,
        attested_key_name: str,
        credential_blob: bytes,
        secret: bytes,
        attesting_key_name: str | None = None,
    ) -> bytes:
        """TPM2_ActivateCredential with the attested key and the EK: the credential the verifier sealed."""
        _only_the_endorsement_key(attesting_key_name)
        key, _ = self.wrapped_key(application, attested_key_name)
        if not key.has_private:
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "a public key cannot activate a credential")
        try:
            blob, _ = TPM2B_ID_OBJECT.unmarshal(credential_blob)
            encrypted, _ = TPM2B_ENCRYPTED_SECRET.unmarshal(secret)
        except Exception:  # tpm2-pytss raises TSS2_Exception or ValueError for malformed input
            raise ParsecError(Status.PSA_ERROR_INVALID_ARGUMENT, "the credential blob or secret is malformed") from None
        esapi = self.context.esapi
        with self.context.lock:

            def activate(handle: ESYS_TR) -> bytes:
                ek = self._create_endorsement_key(application)
                session = esapi.start_auth_session(
                    ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.POLICY, TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL), TPM2_ALG.SHA256
                )
                try:
                    esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, self.endorsement_auth.value)
                    esapi.policy_secret(ESYS_TR.ENDORSEMENT, session)
                    credential = esapi.activate_credential(
                        handle, ek, blob, encrypted, session1=ESYS_TR.PASSWORD, session2=session
                    )
                    return bytes(credential)
                finally:
                    esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, b"")
                    self._flush(session)
                    self._flush(ek)

            try:
                return self.context.run_with_key(log, application, self.name, "ActivateCredential", key, activate)
            except TSS2_Exception as error:
                raise ParsecError(_attestation_status(error), f"ActivateCredential: TPM rc 0x{error.rc:x}") from None

    def _create_endorsement_key(self, application: Application | None) -> ESYS_TR:
        esapi = self.context.esapi
        esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, self.endorsement_auth.value)
        try:
            with self.context.hardware(log, application, "TPM2_CreatePrimary", self.name):
                handle, _, _, _, _ = self.context.retrying(
                    lambda: esapi.create_primary(TPM2B_SENSITIVE_CREATE(), ek_template(), ESYS_TR.ENDORSEMENT)
                )
        finally:
            esapi.tr_set_auth(ESYS_TR.ENDORSEMENT, b"")
        return handle

    def _endorsement_key_public(self, application: Application | None) -> TPM2B_PUBLIC:
        """The EK's public area (created, read, flushed: it is the same key every time, the seed decides it)."""
        handle = self._create_endorsement_key(application)
        try:
            public, _, _ = self.context.esapi.read_public(handle)
            return public
        finally:
            self._flush(handle)

    def _flush(self, handle: ESYS_TR) -> None:
        try:
            self.context.esapi.flush_context(handle)
        except TSS2_Exception as error:
            log.debug("flushing a TPM object after key attestation failed: %s", error)
