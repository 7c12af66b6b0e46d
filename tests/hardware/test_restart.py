"""Keys on the real providers survive restarts: of the PKCS#11 library, and of the whole service, even a crash.

The PKCS#11 library is finalised when its last provider closes (a SIGHUP reload initialises it afresh, and sees
tokens added meanwhile); the keys stay on the token under their CKA_IDs and the mappings in SQLite. A service
killed with SIGKILL in the middle of its life comes back with every key of both hardware providers usable — the
TPM's leftovers are flushed at start, its storage key is persistent, the token's login is made again.
"""

from __future__ import annotations

import hashlib

from refimpl.ids import ProviderId
from refimpl.operations import ExportPublicKey, GenerateKey, SignHash, VerifyHash
from refimpl.providers.pkcs11.library import Cryptoki
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import ProviderFactory, SoftHsmToken, Swtpm
from tests.fixtures.service import ServiceFactory, ServiceOptions
from tests.hardware.conftest import KeyInfoManagerOpener
from tests.providers.helpers import P256, TENANT_A, run, template

ECDSA = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)
DIGEST = hashlib.sha256(b"restart").digest()


def test_pkcs11_keys_survive_finalising_the_library(
    pkcs11_provider_factory: ProviderFactory, open_kim: KeyInfoManagerOpener, softhsm_token: SoftHsmToken
) -> None:
    kim = open_kim()
    provider = pkcs11_provider_factory(kim)
    run(provider, TENANT_A, GenerateKey("k", KEY))
    public = run(provider, TENANT_A, ExportPublicKey("k")).data
    signature = run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST)).signature
    provider.close()
    kim.close()
    assert str(softhsm_token.library_path) not in Cryptoki._loaded  # C_Finalize ran: the login is gone too

    restarted = pkcs11_provider_factory(open_kim())
    assert run(restarted, TENANT_A, ExportPublicKey("k")).data == public
    run(restarted, TENANT_A, VerifyHash("k", ECDSA, DIGEST, signature))
    run(restarted, TENANT_A, SignHash("k", ECDSA, DIGEST))


def test_keys_survive_a_service_crash(
    service_factory: ServiceFactory, softhsm_token: SoftHsmToken, swtpm: Swtpm
) -> None:
    options = ServiceOptions().with_providers(
        softhsm_token.provider_table("pkcs11-provider"), swtpm.provider_table("tpm-provider")
    )
    service = service_factory(options)
    signatures = {}
    for provider in (ProviderId.PKCS11, ProviderId.TPM):
        client = service.client("tenant-a")
        client.implicit_provider = provider
        client.psa_generate_key(f"survivor-{provider.name}", KEY)
        signatures[provider] = client.psa_sign_hash(f"survivor-{provider.name}", DIGEST, ECDSA)

    service.kill9()
    service.start()
    for provider, signature in signatures.items():
        client = service.client("tenant-a")
        client.implicit_provider = provider
        client.psa_verify_hash(f"survivor-{provider.name}", DIGEST, ECDSA, signature)
        fresh = client.psa_sign_hash(f"survivor-{provider.name}", DIGEST, ECDSA)
        client.psa_verify_hash(f"survivor-{provider.name}", DIGEST, ECDSA, fresh)
