"""Every operation of the service model, as frozen dataclasses.

Three families:

- `Request`: the operations the reference service implements, one class per Parsec opcode (parsec-facts §2.1), core
  (Ping, ListProviders, ListOpcodes, ListAuthenticators, ListKeys, ListClients, DeleteClient), PSA (key
  management, key use, random and hash) and the TPM's key attestation (PrepareKeyAttestation, AttestKey).
  `caller` is the identity the request authenticates as, None for NoAuth.
- `Lifecycle operations`: SIGHUP (`Reload`), SIGTERM (`Shutdown`), `Restart`, a kill (`Crash`) and the two crashes
  that split a key operation between the provider's key store and the key-mapping store.
- `Attack`: the attacker capabilities of the seed (A1–A10), one class per capability. Which mitigations block
  each one, and which seed threat rows it realises, is declared where its transition is defined (`model.step`).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import ClassVar

from model.nouns import AuthName, Handle, KeyAttributes, KeyName, ProviderId, Signal, Tenant
from model.parsec import Status


@dataclass(frozen=True)
class Operation:
    """Anything that changes or observes the model."""


# --------------------------------------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Request(Operation):
    """A client request. `opcode` is Parsec's opcode name; `admin` marks the admin-only opcodes."""

    opcode: ClassVar[str]
    admin: ClassVar[bool] = False
    caller: Tenant | None


@dataclass(frozen=True)
class Ping(Request):
    opcode: ClassVar[str] = "Ping"


@dataclass(frozen=True)
class ListProviders(Request):
    opcode: ClassVar[str] = "ListProviders"


@dataclass(frozen=True)
class ListAuthenticators(Request):
    opcode: ClassVar[str] = "ListAuthenticators"


@dataclass(frozen=True)
class ListOpcodes(Request):
    opcode: ClassVar[str] = "ListOpcodes"
    provider_id: ProviderId


@dataclass(frozen=True)
class ListKeys(Request):
    opcode: ClassVar[str] = "ListKeys"


@dataclass(frozen=True)
class ListClients(Request):
    opcode: ClassVar[str] = "ListClients"
    admin: ClassVar[bool] = True


@dataclass(frozen=True)
class DeleteClient(Request):
    """Destroys every key of application `client` under the caller's authenticator (parsec-facts §4.6)."""

    opcode: ClassVar[str] = "DeleteClient"
    admin: ClassVar[bool] = True
    client: str


@dataclass(frozen=True)
class CryptoRequest(Request):
    """A request addressed to a crypto provider."""

    provider: ProviderId


@dataclass(frozen=True)
class GenerateRandom(CryptoRequest):
    opcode: ClassVar[str] = "PsaGenerateRandom"
    size: int


@dataclass(frozen=True)
class HashCompute(CryptoRequest):
    opcode: ClassVar[str] = "PsaHashCompute"


@dataclass(frozen=True)
class HashCompare(CryptoRequest):
    """`matches`: whether the supplied hash is the hash of the supplied input."""

    opcode: ClassVar[str] = "PsaHashCompare"
    matches: bool


@dataclass(frozen=True)
class KeyRequest(CryptoRequest):
    """A request naming one of the caller's keys."""

    key_name: KeyName


@dataclass(frozen=True)
class GenerateKey(KeyRequest):
    opcode: ClassVar[str] = "PsaGenerateKey"
    attributes: KeyAttributes


@dataclass(frozen=True)
class ImportKey(KeyRequest):
    opcode: ClassVar[str] = "PsaImportKey"
    attributes: KeyAttributes


@dataclass(frozen=True)
class DestroyKey(KeyRequest):
    opcode: ClassVar[str] = "PsaDestroyKey"


@dataclass(frozen=True)
class ExportKey(KeyRequest):
    opcode: ClassVar[str] = "PsaExportKey"


@dataclass(frozen=True)
class ExportPublicKey(KeyRequest):
    opcode: ClassVar[str] = "PsaExportPublicKey"


@dataclass(frozen=True)
class KeyUse(KeyRequest):
    """An operation with a key; `model.parsec.KEY_USE_RULES[opcode]` gives the flag and kinds it needs.

    `forgery_status` is what a verifying or decrypting operation answers when its input was not produced with this
    key (`authentic` False); operations without such an input leave it None.
    """

    forgery_status: ClassVar[Status | None] = None


@dataclass(frozen=True)
class SignHash(KeyUse):
    opcode: ClassVar[str] = "PsaSignHash"


@dataclass(frozen=True)
class VerifyHash(KeyUse):
    opcode: ClassVar[str] = "PsaVerifyHash"
    forgery_status: ClassVar[Status | None] = Status.PSA_ERROR_INVALID_SIGNATURE
    authentic: bool = True


@dataclass(frozen=True)
class AsymmetricEncrypt(KeyUse):
    opcode: ClassVar[str] = "PsaAsymmetricEncrypt"


@dataclass(frozen=True)
class AsymmetricDecrypt(KeyUse):
    opcode: ClassVar[str] = "PsaAsymmetricDecrypt"
    forgery_status: ClassVar[Status | None] = Status.PSA_ERROR_INVALID_PADDING
    authentic: bool = True


@dataclass(frozen=True)
class AeadEncrypt(KeyUse):
    opcode: ClassVar[str] = "PsaAeadEncrypt"


@dataclass(frozen=True)
class AeadDecrypt(KeyUse):
    opcode: ClassVar[str] = "PsaAeadDecrypt"
    forgery_status: ClassVar[Status | None] = Status.PSA_ERROR_INVALID_SIGNATURE
    authentic: bool = True


@dataclass(frozen=True)
class RawKeyAgreement(KeyUse):
    opcode: ClassVar[str] = "PsaRawKeyAgreement"


@dataclass(frozen=True)
class KeyAttestation(KeyRequest):
    """Parsec's TPM key attestation (ActivateCredential), on the TPM provider only.

    `default_attesting_key`: the request names no attesting key (Parsec supports only the default, the TPM's
    endorsement key; naming one is PsaErrorNotSupported, checked before the key is looked up).
    """

    default_attesting_key: bool = True


@dataclass(frozen=True)
class PrepareKeyAttestation(KeyAttestation):
    """The attested key's TPM name and public area, and the endorsement key's public key (for MakeCredential)."""

    opcode: ClassVar[str] = "PrepareKeyAttestation"


@dataclass(frozen=True)
class AttestKey(KeyAttestation):
    """TPM2_ActivateCredential: `authentic` when the verifier sealed the credential to this key's name; a credential
    bound to another name fails the TPM's integrity check (PsaErrorDataCorrupt). A public key cannot activate a
    credential (PsaErrorInvalidArgument, as the reference service answers)."""

    opcode: ClassVar[str] = "AttestKey"
    forgery_status: ClassVar[Status] = Status.PSA_ERROR_DATA_CORRUPT
    authentic: bool = True


KEY_USE_REQUESTS: tuple[type[KeyUse], ...] = (
    SignHash,
    VerifyHash,
    AsymmetricEncrypt,
    AsymmetricDecrypt,
    AeadEncrypt,
    AeadDecrypt,
    RawKeyAgreement,
)
READING_KEY_REQUESTS: tuple[type[KeyRequest], ...] = (
    *KEY_USE_REQUESTS,
    ExportKey,
    ExportPublicKey,
    PrepareKeyAttestation,
    AttestKey,
)
"""Requests that read a key through the key-mapping store without changing any store."""

KEY_NAMESPACE_REQUESTS: tuple[type[Request], ...] = (
    GenerateKey,
    ImportKey,
    DestroyKey,
    *READING_KEY_REQUESTS,
    ListKeys,
)
"""Requests that act on the caller's own key namespace (the ones tenant isolation is about)."""

ADMIN_REQUESTS: tuple[type[Request], ...] = (ListClients, DeleteClient)

STATELESS_REQUESTS: tuple[type[Request], ...] = (
    Ping,
    ListProviders,
    ListAuthenticators,
    ListOpcodes,
    GenerateRandom,
    HashCompute,
    HashCompare,
)
"""Requests that neither read nor change a key, a mapping or an identity."""


# ------------------------------------------------------------------------------------------------------- lifecycle
@dataclass(frozen=True)
class Reload(Operation):
    """SIGHUP: finish in-flight requests, re-read the configuration file, rebuild providers (parsec-facts §5.6)."""


@dataclass(frozen=True)
class Shutdown(Operation):
    """SIGTERM: finish in-flight requests and exit."""


@dataclass(frozen=True)
class Crash(Operation):
    """The process dies between two requests (kill -9, power loss)."""


@dataclass(frozen=True)
class Restart(Operation):
    """Start the service again after a shutdown or a crash."""


@dataclass(frozen=True)
class CrashAfterProviderWrite(Operation):
    """`request` (a key creation) has written the key to its provider, then the process dies before the mapping."""

    request: GenerateKey | ImportKey


@dataclass(frozen=True)
class CrashAfterMappingRemoval(Operation):
    """`request` (a DestroyKey) has removed the mapping, then the process dies before the provider destroys the key."""

    request: DestroyKey


# ---------------------------------------------------------------------------------------------------------- attacks
@dataclass(frozen=True)
class Attack(Operation):
    """An attacker capability; `attacker` is the principal exercising it.

    `carries_victims_request` marks capabilities whose carried `request` is sent by (or in the name of) someone
    other than the attacker: the searches then let only other tenants be its caller.
    """

    carries_victims_request: ClassVar[bool] = False
    attacker: Tenant


@dataclass(frozen=True)
class PresentCredential(Attack):
    """The attacker sends `request` authenticated with a token for `request.caller` (valid only if held or forged)."""

    carries_victims_request: ClassVar[bool] = True
    request: Request


@dataclass(frozen=True)
class ClaimIdentity(Attack):
    """No-IdP deployment: a process outside the client group connects and claims `request.caller`'s name."""

    carries_victims_request: ClassVar[bool] = True
    request: Request


@dataclass(frozen=True)
class TamperInTransit(Attack):
    """The attacker rewrites a request `request.caller` sent into `request`; the response goes to the victim."""

    carries_victims_request: ClassVar[bool] = True
    request: Request


@dataclass(frozen=True)
class EavesdropResponse(Attack):
    """The attacker reads the response to `request`, sent by `request.caller`."""

    carries_victims_request: ClassVar[bool] = True
    request: ExportKey


@dataclass(frozen=True)
class TamperMappingRead(Attack):
    """The read of `request`'s mapping from the key info manager's storage returns `handle` instead."""

    request: KeyRequest
    handle: Handle


@dataclass(frozen=True)
class ProbeStatus(Attack):
    """An unaudited status tells the attacker whether `victim` holds a key named `key_name`."""

    victim: Tenant
    key_name: KeyName


@dataclass(frozen=True)
class StealToken(Attack):
    """The attacker obtains `victim`'s authentication token from the client's storage."""

    victim: Tenant


@dataclass(frozen=True)
class GuessToken(Attack):
    """The attacker brute-forces a token the authenticator accepts for `victim`."""

    victim: Tenant


@dataclass(frozen=True)
class SniffRequest(Attack):
    """The attacker reads a request of `victim` in transit, token included."""

    victim: Tenant


@dataclass(frozen=True)
class PlantEndpoint(Attack):
    """The attacker creates the service endpoint in the trusted location; `victim` connects and sends its token."""

    victim: Tenant


@dataclass(frozen=True)
class MisdirectClient(Attack):
    """`victim`, with no trusted way to know where the service is, connects to the attacker's endpoint."""

    victim: Tenant


@dataclass(frozen=True)
class SpoofTrustBundle(Attack):
    """The initial trust bundle the service receives is the attacker's: it accepts tokens the attacker signs."""


@dataclass(frozen=True)
class TamperTrustBundle(Attack):
    """The trust bundle is modified in transit from the Identity Provider to accept the attacker's tokens."""


@dataclass(frozen=True)
class SendSignal(Attack):
    """The attacker sends `signal` to the service process."""

    signal: Signal


@dataclass(frozen=True)
class HardwareUse(Attack):
    """The attacker drives the hardware directly and operates with the key behind `handle`."""

    handle: Handle


@dataclass(frozen=True)
class HardwareExtract(Attack):
    """The attacker reads the key material behind `handle` from the hardware interface."""

    handle: Handle


@dataclass(frozen=True)
class HardwareTamper(Attack):
    """The attacker alters a command to the hardware so that the key behind `handle` is destroyed."""

    handle: Handle


@dataclass(frozen=True)
class PlugRogueModule(Attack):
    """A malicious hardware module is plugged in behind `provider`; the next configuration load uses it."""

    provider: ProviderId


@dataclass(frozen=True)
class WriteMapping(Attack):
    """The attacker writes a mapping: (`tenant`, `key_name`) now names `handle` in `provider`."""

    tenant: Tenant
    key_name: KeyName
    provider: ProviderId
    handle: Handle


@dataclass(frozen=True)
class DeleteMapping(Attack):
    """The attacker removes the stored mapping of (`tenant`, `key_name`)."""

    tenant: Tenant
    key_name: KeyName


@dataclass(frozen=True)
class AddConfiguredAdmin(Attack):
    """The attacker adds application name `admin` to the configuration file's admins."""

    admin: str


@dataclass(frozen=True)
class SetConfiguredAuthenticator(Attack):
    """The attacker changes the configuration file's authenticator."""

    authenticator: AuthName


@dataclass(frozen=True)
class DropConfiguredProvider(Attack):
    """The attacker removes `provider` from the configuration file."""

    provider: ProviderId


@dataclass(frozen=True)
class ConfigureRogueProvider(Attack):
    """The attacker points the configuration file's `provider` entry at a module they control."""

    provider: ProviderId


# ------------------------------------------------------------------ attacks of the 2024 revision's configurations
@dataclass(frozen=True)
class UseUnixAccount(Attack):
    """DSPC: the attacker logs into `victim`'s Unix account (a weak password: the revision's A1-S-3, U-5)."""

    victim: Tenant


@dataclass(frozen=True)
class ReuseUid(Attack):
    """DSPC: the attacker's new account is given the UID of `victim`'s deleted account (A1-S-4)."""

    victim: Tenant


@dataclass(frozen=True)
class DuplicateSpiffeId(Attack):
    """JWTS: the attacker's workload is registered under `victim`'s SPIFFE ID (A1-S-1)."""

    victim: Tenant


@dataclass(frozen=True)
class SniffValidationRequest(Attack):
    """JWTS (A12): the attacker reads the validation request the service sends to the SPIFFE implementation, and with
    it `victim`'s token."""

    victim: Tenant


@dataclass(frozen=True)
class SpoofSpiffeValidation(Attack):
    """JWTS (A13): the attacker's socket stands where the SPIFFE Workload API should be, or rewrites its validation
    responses: it validates whatever identity the attacker claims."""


@dataclass(frozen=True)
class TamperValidationResponse(Attack):
    """JWTS (A13): the attacker turns the SPIFFE implementation's failed validations into successes."""


WRAPPED_REQUESTS: dict[type[Operation], tuple[type[Request], ...]] = {
    PresentCredential: (*KEY_NAMESPACE_REQUESTS, *ADMIN_REQUESTS),
    ClaimIdentity: (*KEY_NAMESPACE_REQUESTS, *ADMIN_REQUESTS),
    TamperInTransit: (*KEY_NAMESPACE_REQUESTS, *ADMIN_REQUESTS),
    EavesdropResponse: (ExportKey,),
    TamperMappingRead: READING_KEY_REQUESTS,
    CrashAfterProviderWrite: (GenerateKey, ImportKey),
    CrashAfterMappingRemoval: (DestroyKey,),
}
"""For each operation carrying a request, the request classes it can carry (when narrower than its field's type:
`carried_requests` reads the field's type for operations not listed here)."""


def carried_requests(operation: type[Operation]) -> tuple[type[Request], ...]:
    """The request classes `operation` can carry in its `request` field (none when it has no such field)."""
    if operation in WRAPPED_REQUESTS:
        return WRAPPED_REQUESTS[operation]
    hint = typing.get_type_hints(operation).get("request")
    if hint is None:
        return ()
    declared = typing.get_args(hint) or (hint,)
    return tuple(dict.fromkeys(leaf for cls in declared for leaf in _leaves(cls)))


def _leaves(cls: type[Request]) -> list[type[Request]]:
    subclasses = cls.__subclasses__()
    return [leaf for sub in subclasses for leaf in _leaves(sub)] if subclasses else [cls]
