"""One TPM shared by several clients without a resource manager: processes of this provider and others, on swtpm.

swtpm has three transient object slots, and a load under the persistent storage key needs two of them. Every
process of the provider used to keep its last key loaded, so three processes (`--processes 3`, or two services and
a tool) held every slot between their requests and denied each other every load and every key creation
(TPM_RC_OBJECT_MEMORY, PsaErrorInsufficientMemory); a process starting while another flushed the leftovers failed
its start-up (TPM_RC_REFERENCE_H0 on a handle gone in between); and an object flushed by another client between
its load and its use failed the request. Here: processes at work together on one TPM get no error, a crashed
client's objects that fill the TPM are reclaimed, an object lost between load and use is loaded again (a
public key is checked by name, since it has no auth value to notice another key), and a key that its own auth
value does not open is not mistaken for a lost one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from tpm2_pytss import TSS2_Exception
from tpm2_pytss.constants import ESYS_TR, TPM2_CAP, TPM2_HC, TPM2_RC, TPMA_OBJECT
from tpm2_pytss.types import TPM2B_DIGEST, TPM2B_PUBLIC

from refimpl.identity import KeyIdentity
from refimpl.ids import Status
from refimpl.key_info_managers.base import KeyInfoManager, KeyMapping
from refimpl.operations import (
    DestroyKey,
    ExportPublicKey,
    GenerateKey,
    ImportKey,
    Operation,
    SignHash,
    VerifyHash,
)
from refimpl.providers.base import ProviderSettings, provider_class
from refimpl.providers.tpm import TpmProvider
from refimpl.providers.tpm.asym_sign import NULL_TICKET, signature_from_psa, signature_scheme, signature_to_psa
from refimpl.providers.tpm.common import WrappedKey
from refimpl.providers.tpm.key_management import full_width_point
from refimpl.psa import formats
from refimpl.psa.types import Ecdsa, Hash
from tests.fixtures.real_parts import Swtpm, SwtpmFactory
from tests.providers.helpers import P256, P256_PUBLIC, TENANT_A, run, status_of, template

REPO_ROOT = Path(__file__).resolve().parents[2]
ECDSA = Ecdsa(Hash.SHA_256)
KEY = template(P256, 256, ECDSA, sign_hash=True, verify_hash=True)
PUBLIC = template(P256_PUBLIC, 256, ECDSA, verify_hash=True)
DIGEST = hashlib.sha256(b"shared tpm").digest()
PROCESSES, ROUNDS = 3, 12
T = TypeVar("T")


def _tpm_provider(tpm: Swtpm, kim: KeyInfoManager) -> TpmProvider:
    provider = provider_class("Tpm").from_config("tpm-provider", tpm.options(), kim, ProviderSettings())
    assert isinstance(provider, TpmProvider)
    return provider


def _transients(tpm: Swtpm) -> list[int]:
    with tpm.esapi() as esapi:
        _, data = esapi.get_capability(TPM2_CAP.HANDLES, TPM2_HC.TRANSIENT_FIRST, 64)
        return [int(handle) for handle in data.data.handles]


def client_process(tcti: str, directory: str, index: int, rounds: int) -> None:
    """One client process: start a provider, then generate, sign, verify, import and destroy `rounds` times.

    Prints a JSON count of each operation's outcome ("ImportKey ok", "SignHash PsaErrorInsufficientMemory", …);
    every other start is a provider that comes and goes, as a process that starts while the others work.
    """
    from refimpl.errors import ParsecError
    from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager

    outcomes: Counter[str] = Counter()
    options = {"tcti": tcti, "owner_hierarchy_auth": "str:"}
    kim = SQLiteKeyInfoManager("kim", Path(directory) / f"kim-{index}.sqlite3")
    provider = provider_class("Tpm").from_config(f"tpm-{index}", options, kim, ProviderSettings())
    for round_ in range(rounds):
        private = ec.generate_private_key(ec.SECP256R1())
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        signature = formats.ecdsa_signature_to_raw(private.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256()))), 256)
        operations: list[Operation] = [
            GenerateKey(f"k{round_}", KEY),
            SignHash(f"k{round_}", ECDSA, DIGEST),
            ImportKey(f"p{round_}", PUBLIC, point),
            VerifyHash(f"p{round_}", ECDSA, DIGEST, signature),
            SignHash(f"k{round_}", ECDSA, DIGEST),
            DestroyKey(f"k{round_}"),
            DestroyKey(f"p{round_}"),
        ]
        for operation in operations:
            try:
                provider.execute(TENANT_A, operation)
                outcomes[f"{type(operation).__name__} ok"] += 1
            except ParsecError as error:
                outcomes[f"{type(operation).__name__} {error.status.name}"] += 1
        if index == 0 and round_ % 2 == 0:  # a process starting up: its start-up flushes what others loaded
            newcomer = provider_class("Tpm").from_config("newcomer", options, kim, ProviderSettings())
            newcomer.close()
            outcomes["start-up ok"] += 1
    provider.close()
    kim.close()
    print(json.dumps(outcomes))


@pytest.fixture
def shared_tpm(swtpm_factory: SwtpmFactory) -> Iterator[Swtpm]:
    """A private swtpm: these tests fill its slots and flush other clients' objects."""
    yield swtpm_factory()


@pytest.mark.threat("A4-D-2", "M-5")
def test_processes_sharing_one_tpm_all_get_their_answers(shared_tpm: Swtpm, tmp_path: Path) -> None:
    code = "import sys; from tests.hardware.test_tpm_sharing import client_process as c; c(*sys.argv[1:3], {}, {})"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code.format(index, ROUNDS), shared_tpm.tcti, str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(PROCESSES)
    ]
    outcomes: Counter[str] = Counter()
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outcomes.update(json.loads(out.splitlines()[-1]))
    per_operation = {"GenerateKey": 1, "SignHash": 2, "ImportKey": 1, "VerifyHash": 1, "DestroyKey": 2}
    expected = {f"{name} ok": count * PROCESSES * ROUNDS for name, count in per_operation.items()}
    expected["start-up ok"] = (ROUNDS + 1) // 2
    assert dict(outcomes) == expected
    assert _transients(shared_tpm) == []


@pytest.mark.threat("A4-D-2", "M-5")
def test_objects_of_a_crashed_client_filling_the_tpm_are_reclaimed(
    shared_tpm: Swtpm, kim: KeyInfoManager, caplog: pytest.LogCaptureFixture
) -> None:
    provider = _tpm_provider(shared_tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("k", KEY))
        with shared_tpm.esapi() as crashed:  # after this provider started: its start-up sweep cannot see them
            for _ in range(2):
                crashed.create_primary(None, "ecc256:aes128cfb")
        assert len(_transients(shared_tpm)) == 2
        caplog.set_level(logging.INFO, logger="refimpl.providers.tpm")
        signature = run(provider, TENANT_A, SignHash("k", ECDSA, DIGEST)).signature  # a load needs two slots
        run(provider, TENANT_A, VerifyHash("k", ECDSA, DIGEST, signature))
        assert "no room in the TPM: flushed 2 transient objects" in caplog.text
        assert _transients(shared_tpm) == []  # sharing the TPM, the provider keeps no key loaded any more
    finally:
        provider.close()


def _flushed_by_another_client_once(
    tpm: Swtpm, command: Callable[[ESYS_TR], T]
) -> tuple[Callable[[ESYS_TR], T], list[ESYS_TR]]:
    """`command`, preceded the first time by another client flushing every transient object; and its uses."""
    uses: list[ESYS_TR] = []

    def run(handle: ESYS_TR) -> T:
        uses.append(handle)
        if len(uses) == 1:
            with tpm.esapi() as other:
                for transient in _transients(tpm):
                    other.flush_context(other.tr_from_tpmpublic(transient))
        return command(handle)

    return run, uses


@pytest.mark.threat("A4-D-2", "M-5")
def test_an_object_flushed_by_another_client_between_load_and_use_is_loaded_again(
    shared_tpm: Swtpm, kim: KeyInfoManager
) -> None:
    provider = _tpm_provider(shared_tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("k", KEY))
        key, _ = provider.wrapped_key(TENANT_A, "k")
        context, digest = provider.context, TPM2B_DIGEST(DIGEST)
        scheme = signature_scheme(ECDSA, signing=True)
        with context.lock:
            sign, uses = _flushed_by_another_client_once(
                shared_tpm, lambda handle: context.esapi.sign(handle, digest, scheme, NULL_TICKET)
            )
            signature = context.run_with_key(logging.getLogger(__name__), None, "tpm", "Sign", key, sign)
            assert len(uses) == 2
            verify, uses = _flushed_by_another_client_once(
                shared_tpm, lambda handle: context.esapi.verify_signature(handle, digest, signature)
            )
            context.run_with_public(key, verify)  # LoadExternal, then VerifySignature
            assert len(uses) == 2
        _check_signature(provider, signature_to_psa(signature, key))
    finally:
        provider.close()


def _check_signature(provider: TpmProvider, signature: bytes) -> None:
    """`cryptography` accepts the PSA signature of DIGEST with the exported public key of "k" (or raises)."""
    public = formats.load_public_key(P256_PUBLIC, 256, run(provider, TENANT_A, ExportPublicKey("k")).data)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(formats.ecdsa_signature_to_der(signature, 256), DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))


@pytest.mark.threat("A4-D-2", "M-5")
def test_a_public_key_replaced_by_another_clients_between_load_and_use_never_answers_for_it(
    shared_tpm: Swtpm, kim: KeyInfoManager
) -> None:
    provider = _tpm_provider(shared_tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("k", KEY))  # nothing kept loaded: our public key takes the first slot
        key, _ = provider.wrapped_key(TENANT_A, "k")
        stranger = ec.generate_private_key(ec.SECP256R1())
        der = stranger.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        strangers_public = full_width_point(TPM2B_PUBLIC.from_pem(der, objectAttributes=TPMA_OBJECT.SIGN_ENCRYPT))
        strangers_signature = formats.ecdsa_signature_to_raw(
            stranger.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256()))), 256
        )
        context, digest = provider.context, TPM2B_DIGEST(DIGEST)
        signature = signature_from_psa(signature_scheme(ECDSA, signing=False), strangers_signature, key)
        answers: list[object] = []

        def verify(handle: ESYS_TR) -> None:
            if not answers:  # another client flushes our key and loads its own into the same slot
                with shared_tpm.esapi() as other:
                    other.flush_context(other.tr_from_tpmpublic(context.esapi.tr_get_tpm_handle(handle)))
                    theirs = other.load_external(strangers_public)
                    assert other.tr_get_tpm_handle(theirs) == context.esapi.tr_get_tpm_handle(handle)
            try:
                context.esapi.verify_signature(handle, digest, signature)
            except TSS2_Exception as error:
                answers.append(error.error)
                raise
            answers.append("verified")

        with context.lock, pytest.raises(TSS2_Exception) as caught:
            context.run_with_public(key, verify)  # the stranger's signature, checked against our key
        assert answers == ["verified", TPM2_RC.SIGNATURE]  # the first answer came from the stranger's key
        assert caught.value.error == TPM2_RC.SIGNATURE
    finally:
        provider.close()


@pytest.mark.threat("A6-T-1", "O-3")
def test_a_wrong_auth_value_is_not_taken_for_another_clients_object(shared_tpm: Swtpm, kim: KeyInfoManager) -> None:
    """A fresh load that the key's auth value does not open is this process's own object: flushed, not retried."""
    provider = _tpm_provider(shared_tpm, kim)
    try:
        run(provider, TENANT_A, GenerateKey("k", KEY))
        identity = KeyIdentity(TENANT_A.identity, "k", provider.name)
        mapping = kim.remove(identity)
        assert mapping is not None
        key = WrappedKey.from_bytes(mapping.key_id)
        kim.insert(identity, KeyMapping(WrappedKey(bytes(32), key.private, key.public).to_bytes(), mapping.attributes))
        assert status_of(provider, TENANT_A, SignHash("k", ECDSA, DIGEST)) is Status.PSA_ERROR_DATA_CORRUPT
        assert _transients(shared_tpm) == []  # nothing left behind to fill the TPM
    finally:
        provider.close()
