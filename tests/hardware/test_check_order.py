"""Which status a GenerateKey or ImportKey that fails several checks gets on SoftHSM2 and swtpm: Parsec's order.

The stateful conformance machine found the providers checking the template before the name where Parsec does it
the other way round, and making keys Parsec refuses (docs/requests/conformance.md §1.1, §1.2, §2.1–2.3). The
order, from Parsec's code:

* Pkcs11 (`svc:src/providers/pkcs11/key_management.rs`): a public key type to generate (InvalidArgument), then
  the name (AlreadyExists), then the key type and the policy algorithm's mechanism (NotSupported: AES, ECDH);
  ImportKey checks the name before the key type (public keys only);
* Tpm (`svc:src/providers/tpm/key_management.rs`): GenerateKey checks the name, then the public key type
  (InvalidArgument), then the template (NotSupported: AES, ECDH); ImportKey refuses any key type but an RSA or
  ECC public key (NotSupported) before it looks at the name.

Each case runs against a key info manager that already maps the name "taken"; a refused request leaves no key
and no mapping behind.
"""

from __future__ import annotations

import pytest

from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.operations import ExportPublicKey, GenerateKey, ImportKey, Operation
from refimpl.psa import formats
from refimpl.psa.types import (
    Aes,
    Ecdsa,
    Hash,
    RawKeyAgreement,
    RsaKeyPair,
    RsaOaep,
)
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, status_of, template

ECDSA = Ecdsa(Hash.SHA_256)
SIGNING = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)
ECDH_PAIR = template(P256, 256, RawKeyAgreement.ECDH, derive=True)
AES = template(Aes(), 128, encrypt=True, decrypt=True)
PUBLIC = template(P256_PUBLIC, 256, ECDSA, verify_hash=True)
RSA_PAIR = template(RsaKeyPair(), 2048, RsaOaep(Hash.SHA_256), encrypt=True, decrypt=True)

_P256_PRIVATE = formats.generate_private_key(P256, 256)
P256_SCALAR = formats.export_private_key(_P256_PRIVATE)
P256_POINT = formats.export_public_key(_P256_PRIVATE)
RSA_DER = formats.export_private_key(formats.generate_private_key(RsaKeyPair(), 2048))

TAKEN_PAIR = ImportKey("taken", SIGNING, P256_SCALAR)
NEW_PAIR = ImportKey("new", SIGNING, P256_SCALAR)
TAKEN_PUBLIC = ImportKey("taken", PUBLIC, P256_POINT)

CASES: dict[str, list[tuple[str, Operation, Status]]] = {
    "pkcs11": [
        ("generate AES under a taken name", GenerateKey("taken", AES), Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate ECDH under a taken name", GenerateKey("taken", ECDH_PAIR), Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate a public key under a taken name", GenerateKey("taken", PUBLIC), Status.PSA_ERROR_INVALID_ARGUMENT),
        ("import a key pair under a taken name", TAKEN_PAIR, Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate an ECDH pair", GenerateKey("new", ECDH_PAIR), Status.PSA_ERROR_NOT_SUPPORTED),
        ("generate an AES key", GenerateKey("new", AES), Status.PSA_ERROR_NOT_SUPPORTED),
        ("import an ECC key pair", NEW_PAIR, Status.PSA_ERROR_NOT_SUPPORTED),
    ],
    "tpm": [
        ("generate AES under a taken name", GenerateKey("taken", AES), Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate ECDH under a taken name", GenerateKey("taken", ECDH_PAIR), Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate a public key under a taken name", GenerateKey("taken", PUBLIC), Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate a public key", GenerateKey("new", PUBLIC), Status.PSA_ERROR_INVALID_ARGUMENT),
        ("import a key pair under a taken name", TAKEN_PAIR, Status.PSA_ERROR_NOT_SUPPORTED),
        ("import a public key under a taken name", TAKEN_PUBLIC, Status.PSA_ERROR_ALREADY_EXISTS),
        ("generate an ECDH pair", GenerateKey("new", ECDH_PAIR), Status.PSA_ERROR_NOT_SUPPORTED),
        ("generate an AES key", GenerateKey("new", AES), Status.PSA_ERROR_NOT_SUPPORTED),
        ("import an ECC key pair", NEW_PAIR, Status.PSA_ERROR_NOT_SUPPORTED),
        ("import an ECDH key pair", ImportKey("new", ECDH_PAIR, P256_SCALAR), Status.PSA_ERROR_NOT_SUPPORTED),
        ("import an RSA key pair", ImportKey("new", RSA_PAIR, RSA_DER), Status.PSA_ERROR_NOT_SUPPORTED),
    ],
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_the_first_failing_check_in_parsecs_order_decides_the_status(
    request: pytest.FixtureRequest, kim: KeyInfoManager, kind: str
) -> None:
    provider = request.getfixturevalue(f"{kind}_provider_factory")(kim)
    run(provider, TENANT_A, GenerateKey("taken", SIGNING))
    taken = run(provider, TENANT_A, ExportPublicKey("taken")).data
    answers = {case: status_of(provider, TENANT_A, operation) for case, operation, _ in CASES[kind]}
    assert answers == {case: expected for case, _, expected in CASES[kind]}
    assert run(provider, TENANT_A, ExportPublicKey("taken")).data == taken  # the key of that name is untouched
    assert kim.get(provider.key_identity(TENANT_A, "new")) is None  # nothing was mapped under the free name
    mapping = kim.get(provider.key_identity(TENANT_A, "taken"))
    assert mapping is not None
    stored = provider.stored_key_ids()  # None for the TPM: nothing of a key stays in it
    assert stored is None or set(stored) == {mapping.key_id}, "a refused request left an object on the token"
