"""CanDoCrypto on every provider: Success when the key could be made and used, NotSupported otherwise.

Parsec's e2e capability_discovery suite and the common checks of svc:src/providers/crypto_capability.rs
(parsec-facts §3.4). As in Parsec's code, every refusal is PsaErrorNotSupported — including a key type that
cannot run the named algorithm, which the book says would be NotPermitted.
"""

from __future__ import annotations

import pytest

from refimpl.ids import Opcode, Status
from refimpl.operations import CanDoCrypto, CheckType
from refimpl.providers.base import KeyStoreProvider
from refimpl.psa.types import Aes, Ecdsa, Hash, KeyAttributes, RsaKeyPair, RsaPkcs1v15Sign, RsaPublicKey
from tests.providers.helpers import P256, TENANT_A, status_of, template

SUPPORTED: dict[str, tuple[CheckType, KeyAttributes]] = {
    "generate-p256-ecdsa": (CheckType.GENERATE, template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)),
    "generate-p256-no-algorithm": (CheckType.GENERATE, template(P256, 256)),
    "generate-rsa2048": (
        CheckType.GENERATE,
        template(RsaKeyPair(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), sign_hash=True),
    ),
    "import-rsa-public": (
        CheckType.IMPORT,
        template(RsaPublicKey(), 2048, RsaPkcs1v15Sign(Hash.SHA_256), verify_hash=True),
    ),
    "use-p256-ecdsa": (CheckType.USE, template(P256, 256, Ecdsa(Hash.SHA_256), verify_hash=True)),
}
NOT_SUPPORTED: dict[str, tuple[CheckType, KeyAttributes]] = {
    "derive": (CheckType.DERIVE, template(P256, 256, Ecdsa(Hash.SHA_256), sign_hash=True)),
    "use-without-algorithm": (CheckType.USE, template(P256, 256, sign_hash=True)),
    "use-without-usage-flags": (CheckType.USE, template(P256, 256, Ecdsa(Hash.SHA_256))),
    "use-aes-for-ecdsa": (CheckType.USE, template(Aes(), 128, Ecdsa(Hash.SHA_256), sign_hash=True)),
    "generate-rsa-1000-bits": (
        CheckType.GENERATE,
        template(RsaKeyPair(), 1000, RsaPkcs1v15Sign(Hash.SHA_256), sign_hash=True),
    ),
    "generate-a-public-key": (CheckType.GENERATE, template(RsaPublicKey(), 2048)),
}


@pytest.mark.parametrize("case", sorted(SUPPORTED))
@pytest.mark.needs(Opcode.CAN_DO_CRYPTO)
def test_supported(provider: KeyStoreProvider, case: str) -> None:
    check, attributes = SUPPORTED[case]
    assert status_of(provider, TENANT_A, CanDoCrypto(check, attributes)) is Status.SUCCESS


@pytest.mark.parametrize("case", sorted(NOT_SUPPORTED))
@pytest.mark.needs(Opcode.CAN_DO_CRYPTO)
def test_not_supported(provider: KeyStoreProvider, case: str) -> None:
    check, attributes = NOT_SUPPORTED[case]
    assert status_of(provider, TENANT_A, CanDoCrypto(check, attributes)) is Status.PSA_ERROR_NOT_SUPPORTED
