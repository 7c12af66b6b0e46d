"""Many threads at once on the real providers, as the service's thread pool drives them (M-0, seed A1-D-2).

SoftHSM2 crashes the process (SIGSEGV/SIGABRT) when python-pkcs11 initialises it for a single thread and threads
then open sessions, log in, find keys and sign together (providers-on-debian.md §3). These tests do exactly that —
signing threads while other providers log in to the same token and go away, and keys are created and destroyed —
so a regression kills the test process. The TPM provider serialises its commands; under the same load nothing but
the key used last stays loaded in the TPM, and nothing once the provider is closed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from tpm2_pytss.constants import TPM2_CAP, TPM2_HC

from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import DestroyKey, ExportPublicKey, GenerateKey, GenerateRandom, SignHash
from refimpl.providers.base import Provider
from refimpl.providers.tpm.context import KEPT_LOADED
from refimpl.psa import formats
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import ProviderFactory, Swtpm
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, template

ECDSA = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)


def _in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _verifier(provider: Provider, name: str) -> ec.EllipticCurvePublicKey:
    public = formats.load_public_key(P256_PUBLIC, 256, run(provider, TENANT_A, ExportPublicKey(name)).data)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return public


@pytest.mark.threat("A1-D-2", "M-0", "M-5")
def test_softhsm_survives_threads_signing_logging_in_and_managing_keys(
    pkcs11_provider_factory: ProviderFactory, kim: KeyInfoManager
) -> None:
    provider = pkcs11_provider_factory(kim)
    names = [f"shared-{index}" for index in range(4)]
    for name in names:
        run(provider, TENANT_A, GenerateKey(name, KEY))
    verifiers = {name: _verifier(provider, name) for name in names}
    signatures: list[tuple[str, bytes, bytes]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        if index % 4 == 3:  # another provider logs in to the same token, works, and leaves, again and again
            for round_ in range(5):
                other = pkcs11_provider_factory(kim, f"churn-{index}-{round_}")
                run(other, TENANT_A, GenerateKey(f"churn-{index}-{round_}", KEY))
                run(other, TENANT_A, DestroyKey(f"churn-{index}-{round_}"))
                other.close()
            return
        for round_ in range(150):
            name = names[(index + round_) % len(names)]
            digest = hashlib.sha256(f"{index}/{round_}".encode()).digest()
            signature = run(provider, TENANT_A, SignHash(name, ECDSA, digest)).signature
            with lock:
                signatures.append((name, digest, signature))

    assert _in_threads(16, work) == []
    assert len(signatures) == 12 * 150
    for name, digest, signature in signatures:
        der = formats.ecdsa_signature_to_der(signature, 256)
        verifiers[name].verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


@pytest.mark.threat("A1-D-2", "M-0", "M-5")
def test_the_tpm_serves_threads_one_command_at_a_time(
    tpm_provider_factory: ProviderFactory, kim: KeyInfoManager, swtpm: Swtpm
) -> None:
    provider = tpm_provider_factory(kim)
    for name in ("a", "b"):
        run(provider, TENANT_A, GenerateKey(name, KEY))
    verifiers = {name: _verifier(provider, name) for name in ("a", "b")}

    def work(index: int) -> None:
        for round_ in range(10):
            name = "ab"[(index + round_) % 2]
            digest = hashlib.sha256(f"{index}/{round_}".encode()).digest()
            signature = run(provider, TENANT_A, SignHash(name, ECDSA, digest)).signature
            der = formats.ecdsa_signature_to_der(signature, 256)
            verifiers[name].verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            assert len(run(provider, TENANT_A, GenerateRandom(48)).random_bytes) == 48

    assert _in_threads(8, work) == []
    assert len(_transient_handles(swtpm)) == KEPT_LOADED
    provider.close()
    assert _transient_handles(swtpm) == []


def _transient_handles(swtpm: Swtpm) -> list[int]:
    with swtpm.esapi() as esapi:
        _, data = esapi.get_capability(TPM2_CAP.HANDLES, TPM2_HC.TRANSIENT_FIRST, 64)
        return [int(handle) for handle in data.data.handles]
