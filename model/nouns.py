"""The nouns of the service model: tenants, key names, key attributes, providers, handles, configuration.

Each noun is a small frozen value mirroring how Parsec names the thing (parsec-facts §4.3, §4.7, §5):

- `Tenant` is Parsec's `ApplicationIdentity` (authenticator + application name);
- `KeyIdentity` is Parsec's `KeyIdentity` *as it compares*: (tenant, key name), the provider recorded beside it
  in the mapping and ignored for equality (`svc:src/key_info_managers/mod.rs`);
- `KeyAttributes` keeps the PSA policy abstract but sufficient to decide every status the model answers:
  a key kind (which operations its algorithm permits) and the usage flags (`psa_key_attributes.proto` UsageFlags);
- `Handle` is the provider-specific key ID stored in the mapping (PSA key ID, PKCS#11 object, TPM wrapped key);
- `Config` is the part of `config.toml` the model reads at start-up and at every SIGHUP (seed asset AS5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Literal

AuthName = Literal["direct", "peer", "jwt-svid"]
"""The authenticators of parsec-facts §1.3 as the model names them (Direct, UnixPeerCredentials, JwtSvid)."""

AUTHENTICATORS: tuple[AuthName, ...] = ("direct", "peer", "jwt-svid")

VariantName = Literal["with-idp", "no-idp", "GNRC", "DSPC", "DRCT", "JWTS"]
"""A deployment: one of the seed's two (the generic one with an Identity Provider, and the italic one without), or
one of the four configurations of the 2024-03-25 revision of Parsec's threat model."""

VARIANTS: tuple[VariantName, ...] = ("with-idp", "no-idp")
"""The seed's deployments (the default model)."""

CONFIGURATIONS: tuple[VariantName, ...] = ("GNRC", "DSPC", "DRCT", "JWTS")
"""The 2024 revision's configurations: generic with an Identity Provider; Unix peer credentials (the OS as identity
provider); Direct authentication between mutually trusted clients; JWT-SVID tokens validated through the SPIFFE
Workload API."""

MODEL_OF_VARIANT: dict[VariantName, str] = {
    **dict.fromkeys(VARIANTS, "seed"),
    **dict.fromkeys(CONFIGURATIONS, "current"),
}
"""The built-in catalogue (`dataflow.catalogue.BUILTIN_MODELS`) whose IDs a deployment's gating uses."""

VARIANT_AUTHENTICATOR: dict[VariantName, AuthName] = {
    "with-idp": "jwt-svid",
    "no-idp": "direct",
    "GNRC": "jwt-svid",
    "DSPC": "peer",
    "DRCT": "direct",
    "JWTS": "jwt-svid",
}
"""The authenticator each deployment configures: tokens from an Identity Provider (the model's IdP issues
JWT-SVIDs), Unix peer credentials, or Direct (a claimed name)."""

CREDENTIAL_VARIANTS: frozenset[VariantName] = frozenset({"with-idp", "GNRC", "DSPC", "JWTS"})
"""Deployments where an identity rests on something an attacker can obtain (a token, a Unix account): there the
proofs need the lemma that nobody holds another tenant's credential."""


@dataclass(frozen=True, order=True)
class Tenant:
    """An application identity: the authenticator that vouched for it and the application name it yields."""

    auth: AuthName
    name: str

    def __str__(self) -> str:
        return f"{self.name}@{self.auth}"


@dataclass(frozen=True, order=True)
class KeyName:
    """A key name chosen by a client; unique only within its tenant's namespace."""

    value: str

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, order=True)
class KeyIdentity:
    """How Parsec identifies a key: (authenticator, application name, key name). The provider is not part of it."""

    tenant: Tenant
    key_name: KeyName

    def __str__(self) -> str:
        return f"{self.tenant}/{self.key_name}"


class ProviderId(IntEnum):
    """Provider IDs on the wire (parsec-facts §2.3) for the providers the reference service builds."""

    CORE = 0
    MBED_CRYPTO = 1
    PKCS11 = 2
    TPM = 3


CRYPTO_PROVIDERS: tuple[ProviderId, ...] = (ProviderId.MBED_CRYPTO, ProviderId.PKCS11, ProviderId.TPM)
HARDWARE_PROVIDERS: frozenset[ProviderId] = frozenset({ProviderId.PKCS11, ProviderId.TPM})
"""Providers whose key store sits behind an OS hardware interface (seed attackers A4/A5, mitigation O-8)."""


class KeyKind(StrEnum):
    """The key type and algorithm family of a key's policy, at the granularity that decides a status."""

    ECC_SIGN_PAIR = "ecc-sign-pair"
    RSA_ENCRYPT_PAIR = "rsa-encrypt-pair"
    ECDH_PAIR = "ecdh-pair"
    AES = "aes"
    ECC_PUBLIC = "ecc-public"
    RSA_PUBLIC = "rsa-public"


PRIVATE_KINDS: frozenset[KeyKind] = frozenset(
    {KeyKind.ECC_SIGN_PAIR, KeyKind.RSA_ENCRYPT_PAIR, KeyKind.ECDH_PAIR, KeyKind.AES}
)
"""Kinds holding secret material (seed asset AS3): key pairs and symmetric keys."""

PUBLIC_KINDS: frozenset[KeyKind] = frozenset(set(KeyKind) - PRIVATE_KINDS)
"""Public keys: importable, never generated (GenerateKey answers PsaErrorInvalidArgument)."""

ASYMMETRIC_KINDS: frozenset[KeyKind] = frozenset(set(KeyKind) - {KeyKind.AES})
"""Kinds with a public part, i.e. those ExportPublicKey accepts."""


class Usage(StrEnum):
    """The PSA usage flags the model keeps (`psa_key_attributes.proto` UsageFlags; values are the proto field names).

    SIGN_MESSAGE and VERIFY_MESSAGE are never checked by a modelled operation; they are kept because Parsec reports
    them (see `normalise_usage`).
    """

    EXPORT = "export"
    SIGN_HASH = "sign_hash"
    VERIFY_HASH = "verify_hash"
    SIGN_MESSAGE = "sign_message"
    VERIFY_MESSAGE = "verify_message"
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DERIVE = "derive"


IMPLIED_USAGE: dict[Usage, Usage] = {Usage.SIGN_HASH: Usage.SIGN_MESSAGE, Usage.VERIFY_HASH: Usage.VERIFY_MESSAGE}
"""Flags a key gets whenever it has another: parsec-interface's converter builds PSA usage flags through
psa-crypto's `UsageFlags::set_sign_hash` / `set_verify_hash`, which also set `sign_message` / `verify_message`, so a
key created with sign_hash reports sign_message in ListKeys and key attributes."""


def normalise_usage(usage: frozenset[Usage]) -> frozenset[Usage]:
    """`usage` with the flags Parsec's converter implies (`IMPLIED_USAGE`) added."""
    return usage | frozenset(IMPLIED_USAGE[flag] for flag in usage if flag in IMPLIED_USAGE)


@dataclass(frozen=True)
class KeyAttributes:
    """A key's policy: its kind and usage flags. `exportable` is the PSA export flag.

    The usage is normalised as Parsec normalises it (`normalise_usage`): whatever flags a client asks for, the key
    holds, and reports, those flags and the ones they imply.
    """

    kind: KeyKind
    usage: frozenset[Usage]

    def __post_init__(self) -> None:
        object.__setattr__(self, "usage", normalise_usage(frozenset(self.usage)))

    @property
    def exportable(self) -> bool:
        return Usage.EXPORT in self.usage

    @property
    def has_private_material(self) -> bool:
        return self.kind in PRIVATE_KINDS

    def __str__(self) -> str:
        flags = ",".join(sorted(self.usage)) or "-"
        return f"{self.kind}[{flags}]"


@dataclass(frozen=True, order=True)
class Handle:
    """A provider-specific key ID (e.g. a PSA persistent key ID), meaningful only inside its provider."""

    provider: ProviderId
    local_id: int

    def __str__(self) -> str:
        return f"{self.provider.name.lower()}#{self.local_id}"


class Lifecycle(StrEnum):
    """The service process as seen from outside (parsec-facts §5.6): serving, stopped by SIGTERM, or killed."""

    RUNNING = "running"
    STOPPED = "stopped"
    CRASHED = "crashed"


class Signal(StrEnum):
    """The signals an OS-signal attacker (seed A3) can send: reload, graceful stop, kill."""

    SIGHUP = "SIGHUP"
    SIGTERM = "SIGTERM"
    SIGKILL = "SIGKILL"


@dataclass(frozen=True)
class Config:
    """The configuration file's content that matters to the model (parsec-facts §5.3, §5.5).

    `providers` is in config order (ListProviders order, core last); `rogue` lists providers whose module is
    malicious (seed A5-S-1, A9-I-2): every key created through them is known outside the service.
    """

    authenticator: AuthName
    admins: frozenset[str]
    providers: tuple[ProviderId, ...]
    rogue: frozenset[ProviderId] = frozenset()
