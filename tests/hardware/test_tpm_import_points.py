"""Importing ECC public keys into the TPM whatever their coordinates: the points with leading zero bytes.

A P-256 point's x or y starts with a zero byte once in 128 keys (P-521's in three keys out of four, its top byte
holding one bit). libtpms refuses a coordinate shorter than the curve's size (TPM2_LoadExternal: TPM_RC_KEY on
inPublic), and tpm2-pytss writes coordinates in as few bytes as their values need, so such an ImportKey failed as
PsaErrorHardwareFailure — the intermittent failure of the end-to-end import test, which imports a fresh random key
on every run. Here the keys are chosen to have a short x, then a short y, and each is imported, exported and used
to verify a signature made outside the TPM, on a real swtpm.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import DestroyKey, ExportPublicKey, ImportKey, VerifyHash
from refimpl.psa import formats
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import ProviderFactory
from tests.providers.helpers import P256_PUBLIC, TENANT_A, run, template

HASHES: dict[Hash, hashes.HashAlgorithm] = {
    Hash.SHA_256: hashes.SHA256(),
    Hash.SHA_384: hashes.SHA384(),
    Hash.SHA_512: hashes.SHA512(),
}
CURVES: dict[int, tuple[ec.EllipticCurve, Hash]] = {
    256: (ec.SECP256R1(), Hash.SHA_256),
    384: (ec.SECP384R1(), Hash.SHA_384),
    521: (ec.SECP521R1(), Hash.SHA_512),
}


def key_with_short(coordinate: str, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    """A fresh key whose public `coordinate` ("x" or "y") has a zero first byte at the curve's full width."""
    size = formats.byte_length(curve.key_size)
    while True:
        key = ec.generate_private_key(curve)
        numbers = key.public_key().public_numbers()
        if getattr(numbers, coordinate).to_bytes(size, "big")[0] == 0:
            return key


@pytest.mark.parametrize("coordinate", ["x", "y"])
@pytest.mark.parametrize("bits", sorted(CURVES))
def test_a_point_with_a_leading_zero_byte_imports_exports_and_verifies(
    tpm_provider_factory: ProviderFactory, kim: KeyInfoManager, bits: int, coordinate: str
) -> None:
    provider = tpm_provider_factory(kim)
    curve, hash_alg = CURVES[bits]
    algorithm = Ecdsa(hash_alg)
    private = key_with_short(coordinate, curve)
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    run(provider, TENANT_A, ImportKey("short", template(P256_PUBLIC, bits, algorithm, verify_hash=True), point))
    assert run(provider, TENANT_A, ExportPublicKey("short")).data == point

    chosen = HASHES[hash_alg]
    digest = hashlib.new(chosen.name, b"signed outside the TPM").digest()
    der = private.sign(digest, ec.ECDSA(Prehashed(chosen)))
    signature = formats.ecdsa_signature_to_raw(der, bits)
    run(provider, TENANT_A, VerifyHash("short", algorithm, digest, signature))
    run(provider, TENANT_A, DestroyKey("short"))
