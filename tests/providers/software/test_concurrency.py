"""The software provider under a thread pool, as the service's front end drives it (M-0: several workers).

Creation, use and destruction from many threads at once must give every key its own PSA key id, keep every
mapping pointing at the right key, and lose nothing.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from refimpl.identity import Application, ApplicationIdentity
from refimpl.ids import AuthType, Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import DestroyKey, ExportPublicKey, GenerateKey, SignHash
from refimpl.providers.software import SoftwareProvider
from refimpl.psa.types import Ecdsa, Hash
from tests.providers.helpers import P256, run, status_of, template

ALGORITHM = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ALGORITHM, sign_hash=True)
WORKERS, KEYS_PER_WORKER = 8, 6


def _tenant(index: int) -> Application:
    return Application(ApplicationIdentity.of(f"tenant-{index}", AuthType.DIRECT))


def _work(provider: SoftwareProvider, index: int) -> list[tuple[str, bytes, bytes]]:
    """Create keys, sign with each, destroy every other one; return (name, public key, signature) of the kept."""
    tenant, digest, kept = _tenant(index), hashlib.sha256(f"tenant-{index}".encode()).digest(), []
    for key in range(KEYS_PER_WORKER):
        name = f"key-{key}"
        run(provider, tenant, GenerateKey(name, KEY))
        signature = run(provider, tenant, SignHash(name, ALGORITHM, digest)).signature
        if key % 2:
            run(provider, tenant, DestroyKey(name))
        else:
            kept.append((name, run(provider, tenant, ExportPublicKey(name)).data, signature))
    return kept


def test_concurrent_tenants_keep_their_own_keys(software: SoftwareProvider, key_info_manager: KeyInfoManager) -> None:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda index: _work(software, index), range(WORKERS)))

    key_ids = [mapping.key_id for _, mapping in key_info_manager.keys(software.name)]
    assert len(key_ids) == len(set(key_ids)) == WORKERS * KEYS_PER_WORKER // 2
    assert set(software.stored_key_ids()) == set(key_ids)  # no orphan, no dangling mapping
    for index, kept in enumerate(results):
        digest = hashlib.sha256(f"tenant-{index}".encode()).digest()
        for name, point, signature in kept:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            assert run(software, _tenant(index), ExportPublicKey(name)).data == point


def test_concurrent_creates_of_one_name_make_exactly_one_key(
    software: SoftwareProvider, key_info_manager: KeyInfoManager
) -> None:
    tenant = _tenant(0)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = list(pool.map(lambda _: status_of(software, tenant, GenerateKey("contested", KEY)), range(16)))
    assert statuses.count(Status.SUCCESS) == 1
    assert set(statuses) == {Status.SUCCESS, Status.PSA_ERROR_ALREADY_EXISTS}
    assert len(software.stored_key_ids()) == 1 == len(list(key_info_manager.keys(software.name)))
