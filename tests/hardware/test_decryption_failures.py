"""A PKCS#1 v1.5 ciphertext whose padding is wrong answers PsaErrorInvalidPadding on SoftHSM2 and on swtpm.

Parsec's `svc:src/providers/pkcs11/asym_encryption.rs` turns CKR_ENCRYPTED_DATA_INVALID into PsaErrorInvalidPadding
so that clients can mitigate Bleichenbacher-style padding oracles (parsec#619); the TPM provider answers the same
to whatever the TPM says about a ciphertext it cannot decrypt. The ciphertext is built, not guessed: the public
key raised to a block with a signature's padding (type 1), which is never a valid encryption padding. The software
provider is not tested here: OpenSSL 3.2 and later answer such a ciphertext with a pseudo-random plaintext
("implicit rejection", the Marvin attack mitigation) instead of an error.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import AsymmetricDecrypt, ExportPublicKey, GenerateKey
from refimpl.psa import formats
from refimpl.psa.types import RsaKeyPair, RsaPkcs1v15Crypt, RsaPublicKey
from tests.providers.helpers import TENANT_A, run, status_of, template

PKCS1 = RsaPkcs1v15Crypt()
SIGNATURE_PADDING = b"\x00\x01" + b"\xff" * 200 + b"\x00" + bytes(53)
"""A 256-byte block padded as an RSA signature is (EMSA-PKCS1-v1_5, block type 1): invalid for decryption."""


@pytest.mark.parametrize("kind", ["pkcs11", "tpm"])
def test_a_bad_pkcs1v15_padding_is_invalid_padding(
    request: pytest.FixtureRequest, kim: KeyInfoManager, kind: str
) -> None:
    provider = request.getfixturevalue(f"{kind}_provider_factory")(kim)
    run(provider, TENANT_A, GenerateKey("rsa", template(RsaKeyPair(), 2048, PKCS1, encrypt=True, decrypt=True)))
    public = formats.load_public_key(RsaPublicKey(), 0, run(provider, TENANT_A, ExportPublicKey("rsa")).data)
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    ciphertext = pow(int.from_bytes(SIGNATURE_PADDING, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    decrypt = AsymmetricDecrypt("rsa", PKCS1, ciphertext, None)
    assert status_of(provider, TENANT_A, decrypt) is Status.PSA_ERROR_INVALID_PADDING
