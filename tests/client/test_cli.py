"""`parsec-tm client …`: parsec-tool's verbs, their output and exit codes, against a replay server on a socket.

The verbs are driven through `register` on a parser of this test's own, as `parsec_tm.cli.main` does.
"""

from __future__ import annotations

import argparse
import base64
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from parsec_tm.cli import client as cli
from refimpl import operations as ops
from refimpl.client.tool import ecc_key_attributes, rsa_key_attributes
from refimpl.ids import Opcode, ProviderId, Status
from refimpl.psa import types as t
from refimpl.wire.codec import decode_operation, encode_result
from refimpl.wire.framing import bytes_reader, read_request
from tests.client.replay import ReplayServer, response_bytes
from tests.wire.vectors import entry_named, native_attributes, read

APP = ["--auth", "direct", "--app-name", "tenant-a"]


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="parsec-tm")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["client", *argv])
    out = io.StringIO()
    return cli.run(args, out), out.getvalue()


def test_ping(server: ReplayServer) -> None:
    assert run("ping") == (0, "[SUCCESS] Service wire protocol version is 1.0.\n")
    assert server.received == [read("ping.noauth.req.bin")]


def test_create_ecc_key_sends_parsec_tools_template(server: ReplayServer) -> None:
    """The golden PsaGenerateKey request is parsec-tool's create-ecc-key; ours must be byte-identical."""
    assert ecc_key_attributes() == native_attributes(entry_named("psa_generate_key.req.bin")["fields"]["attributes"])
    code, output = run(*APP, "-p", "1", "create-ecc-key", "-k", "tenant-a-key")
    assert (code, output) == (0, '[SUCCESS] Key "tenant-a-key" created.\n')
    assert server.received == [read("psa_generate_key.req.bin")]


def test_default_auth_is_the_services_authenticator_with_app_name_parsec_tool(server: ReplayServer) -> None:
    assert run("-p", "1", "delete-key", "-k", "k")[0] == 0
    last = read_request(bytes_reader(server.received[-1]), 1 << 20)
    assert (last.auth, last.header.opcode) == (b"parsec-tool", Opcode.PSA_DESTROY_KEY)


def test_sign_hashes_locally_and_prints_a_base64_der_signature(server: ReplayServer) -> None:
    code, output = run(*APP, "sign", "-k", "tenant-a-key", "abc")
    assert code == 0
    assert server.received[-1] == read("psa_sign_hash.req.bin")  # SHA-256("abc"), ECDSA SHA-256
    raw = bytes.fromhex(entry_named("psa_sign_hash.resp.bin")["fields"]["signature_hex"])
    r, s = decode_dss_signature(base64.b64decode(output))
    assert r.to_bytes(32) + s.to_bytes(32) == raw


def test_verify_sends_the_raw_signature_back(server: ReplayServer) -> None:
    _, signature = run(*APP, "sign", "-k", "tenant-a-key", "abc")
    code, output = run(*APP, "-p", "1", "verify", "-k", "tenant-a-key", "-s", signature.strip(), "abc")
    assert (code, output) == (0, "[SUCCESS] The signature is valid.\n")
    assert server.received[-1] == read("psa_verify_hash.req.bin")


def test_verify_failure_is_exit_1_with_the_status_name(
    server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply_to(Opcode.PSA_VERIFY_HASH, read("err_psa_invalid_signature.resp.bin"))
    signature = base64.b64encode(bytes.fromhex("3006020101020101")).decode()
    assert run(*APP, "verify", "-k", "tenant-a-key", "-s", signature, "abc")[0] == 1
    assert "PsaErrorInvalidSignature" in capsys.readouterr().err


def test_export_public_key_prints_a_pem_subject_public_key_info(server: ReplayServer) -> None:
    code, output = run(*APP, "export-public-key", "-k", "tenant-a-key")
    assert code == 0 and output.startswith("-----BEGIN PUBLIC KEY-----\n")
    key = serialization.load_pem_public_key(output.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    point = bytes.fromhex(entry_named("psa_export_public_key.resp.bin")["fields"]["data_hex"])
    assert key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint) == point


def rsa_key_list(alg: t.AsymmetricEncryption) -> bytes:
    attributes = rsa_key_attributes(oaep=isinstance(alg, t.RsaOaep))
    result = ops.ListKeysResult((ops.KeyInfo(ProviderId.MBED_CRYPTO, "tenant-a-rsa", attributes),))
    return response_bytes(Opcode.LIST_KEYS, body=encode_result(Opcode.LIST_KEYS, result))


def test_encrypt_uses_the_keys_policy_without_salt(server: ReplayServer) -> None:
    server.reply_to(Opcode.LIST_KEYS, rsa_key_list(t.RsaPkcs1v15Crypt()))
    code, output = run(*APP, "-p", "1", "encrypt", "-k", "tenant-a-rsa", "hello parsec")
    assert code == 0
    assert server.received[-1] == read("psa_asymmetric_encrypt.req.bin")
    expected = entry_named("psa_asymmetric_encrypt.resp.bin")["fields"]["ciphertext_hex"]
    assert base64.b64decode(output).hex() == expected


def test_decrypt_prints_text(server: ReplayServer) -> None:
    server.reply_to(Opcode.LIST_KEYS, rsa_key_list(t.RsaOaep(t.Hash.SHA_256)))
    plaintext = encode_result(Opcode.PSA_ASYMMETRIC_DECRYPT, ops.AsymmetricDecryptResult(b"hello parsec"))
    server.reply_to(Opcode.PSA_ASYMMETRIC_DECRYPT, response_bytes(Opcode.PSA_ASYMMETRIC_DECRYPT, body=plaintext))
    code, output = run(*APP, "-p", "1", "decrypt", "-k", "tenant-a-rsa", base64.b64encode(b"\x01" * 256).decode())
    assert (code, output) == (0, "hello parsec\n")
    sent = read_request(bytes_reader(server.received[-1]), 1 << 20)
    operation = decode_operation(Opcode.PSA_ASYMMETRIC_DECRYPT, sent.body)
    assert operation == ops.AsymmetricDecrypt("tenant-a-rsa", t.RsaOaep(t.Hash.SHA_256), b"\x01" * 256, None)


def test_using_an_ecdsa_key_to_encrypt_is_exit_1(server: ReplayServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(*APP, "encrypt", "-k", "tenant-a-key", "text")[0] == 1
    assert "only asymmetric encryption keys are supported" in capsys.readouterr().err


def test_generate_random_prints_hex(server: ReplayServer) -> None:
    code, output = run(*APP, "-p", "1", "generate-random", "-n", "32")
    expected = entry_named("psa_generate_random.resp.bin")["fields"]["random_bytes_hex"]
    assert (code, output.replace(" ", "").strip().lower()) == (0, expected)
    assert server.received[-1] == read("psa_generate_random.req.bin")


def test_list_opcodes_for_a_provider_given_after_the_verb(server: ReplayServer) -> None:
    code, output = run("list-opcodes", "-p", "1")
    assert code == 0
    assert "* PsaGenerateKey\n" in output
    sent = read_request(bytes_reader(server.received[-1]), 1 << 20)
    assert (sent.header.provider, sent.body) == (ProviderId.CORE, bytes.fromhex("0801"))


def test_listings(server: ReplayServer) -> None:
    code, providers = run("list-providers")
    assert (
        code == 0
        and "ID: 0x01 (MbedCrypto)\n" in providers
        and "UUID: 1c1139dc-ad7c-47dc-ad6b-db6fdb466552" in providers
    )
    code, authenticators = run("list-authenticators")
    assert code == 0 and "ID: 0x01 (Direct)" in authenticators
    code, keys = run(*APP, "list-keys")
    assert (code, keys) == (0, "* 'tenant-a-key' (MbedCrypto, 256 bit EccKeyPair { curve_family: SecpR1 })\n")


@pytest.mark.threat("A2-I-2", "M-1")
def test_admin_verbs_report_admin_operation(server: ReplayServer, capsys: pytest.CaptureFixture[str]) -> None:
    for opcode in (Opcode.LIST_CLIENTS, Opcode.DELETE_CLIENT):
        server.reply_to(opcode, response_bytes(opcode, Status.ADMIN_OPERATION))
    assert run(*APP, "list-clients")[0] == 1
    assert run(*APP, "delete-client", "-c", "tenant-b")[0] == 1
    assert capsys.readouterr().err.count("[ERROR] AdminOperation (status 21)") == 2


def test_an_unreachable_service_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", f"unix:{tmp_path / 'absent.sock'}")
    assert run("ping")[0] == 2
    monkeypatch.setenv("PARSEC_SERVICE_ENDPOINT", "tcp://localhost:1")
    assert run("ping")[0] == 2


def test_usage_errors_are_exit_2() -> None:
    for argv in (["sign", "abc"], ["create-rsa-key"], ["-p", "9", "ping"], ["frobnicate"]):
        with pytest.raises(SystemExit) as raised:
            run(*argv)
        assert raised.value.code == 2


def test_key_types_print_as_rusts_debug() -> None:
    assert cli.key_type_name(t.DhKeyPair(t.DhFamily.RFC7919)) == "DhKeyPair { group_family: Rfc7919 }"
    assert (
        cli.key_type_name(t.EccPublicKey(t.EccFamily.BRAINPOOL_P_R1)) == "EccPublicKey { curve_family: BrainpoolPR1 }"
    )
    assert cli.key_type_name(t.RsaKeyPair()) == "RsaKeyPair"


@pytest.mark.parametrize("pkcs1", [False, True])
def test_export_rsa_public_key(server: ReplayServer, pkcs1: bool) -> None:
    """PSA exports RSA public keys as PKCS#1 RSAPublicKey DER; the tool prints SPKI or, with --pkcs1, PKCS#1 PEM."""
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    server.reply_to(Opcode.LIST_KEYS, rsa_key_list(t.RsaPkcs1v15Crypt()))
    body = encode_result(Opcode.PSA_EXPORT_PUBLIC_KEY, ops.ExportPublicKeyResult(der))
    server.reply_to(Opcode.PSA_EXPORT_PUBLIC_KEY, response_bytes(Opcode.PSA_EXPORT_PUBLIC_KEY, body=body))
    argv = [*APP, "-p", "1", "export-public-key", "-k", "tenant-a-rsa", *(["--pkcs1"] if pkcs1 else [])]
    code, output = run(*argv)
    assert code == 0
    assert output.startswith("-----BEGIN RSA PUBLIC KEY-----\n" if pkcs1 else "-----BEGIN PUBLIC KEY-----\n")
    loaded = serialization.load_pem_public_key(output.encode())
    assert loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1) == der


@pytest.mark.parametrize(
    ("options", "bits", "alg", "flags"),
    [
        ([], 2048, t.RsaPkcs1v15Crypt(), t.UsageFlags(encrypt=True, decrypt=True)),
        (["-o", "-b", "3072"], 3072, t.RsaOaep(t.Hash.SHA_256), t.UsageFlags(encrypt=True, decrypt=True)),
        (
            ["--for-signing"],
            2048,
            t.RsaPkcs1v15Sign(t.Hash.SHA_256),
            t.UsageFlags(sign_hash=True, verify_hash=True, sign_message=True, verify_message=True),
        ),
    ],
)
def test_create_rsa_key_templates(
    server: ReplayServer, options: list[str], bits: int, alg: t.Algorithm, flags: t.UsageFlags
) -> None:
    assert run(*APP, "-p", "1", "create-rsa-key", "-k", "rsa", *options)[0] == 0
    sent = read_request(bytes_reader(server.received[-1]), 1 << 20)
    operation = decode_operation(Opcode.PSA_GENERATE_KEY, sent.body)
    assert operation == ops.GenerateKey("rsa", t.KeyAttributes(t.RsaKeyPair(), bits, t.KeyPolicy(flags, alg)))
