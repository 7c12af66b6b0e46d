"""`parsec-tm client VERB …`: parsec-tool's verbs against any Parsec service (Parsec's own or the reference one).

Modelled on parsec-tool 0.7.0 (tool:src/cli/mod.rs, tool:src/subcommands/; parsec-facts §7.3): the same kebab-case
verbs and options, the service found through `PARSEC_SERVICE_ENDPOINT`, discovery verbs (ping, list-providers,
list-opcodes, list-authenticators) sent without authentication, the others with the service's authenticator and
the application name `parsec-tool` unless `--auth`/`--app-name` say otherwise. Statuses are printed with Parsec's
names. Exit codes: 0 success; 1 the service answered with a failure status (or the key cannot do what the verb
needs); 2 usage errors and an unreachable service.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from refimpl.client.auth import Authentication
    from refimpl.client.basic_client import BasicClient

DEFAULT_APP_NAME = "parsec-tool"
AUTH_CHOICES = ("auto", "direct", "peer", "none")

Verb = Callable[["BasicClient", argparse.Namespace, TextIO], int]


def parsec_name(member: Enum) -> str:
    """Parsec's Rust variant name: MBED_CRYPTO → MbedCrypto, PSA_SIGN_HASH → PsaSignHash, SECP_R1 → SecpR1."""
    name = ""
    for part in member.name.split("_"):
        name += ("_" if name[-1:].isdigit() and part[:1].isdigit() else "") + part.capitalize()
    return name


def key_type_name(key_type: object) -> str:
    """A key type as Rust's Debug prints it: `RsaKeyPair`, `EccKeyPair { curve_family: SecpR1 }`."""
    for field in ("curve_family", "group_family"):
        family = getattr(key_type, field, None)
        if isinstance(family, Enum):
            return f"{type(key_type).__name__} {{ {field}: {parsec_name(family)} }}"
    return type(key_type).__name__


def _info(message: str) -> None:
    print(f"[INFO] {message}", file=sys.stderr)


def _success(out: TextIO, message: str) -> None:
    print(f"[SUCCESS] {message}", file=out)


# ------------------------------------------------------------------------------------------ verbs


def ping(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    major, minor = client.ping()
    _success(out, f"Service wire protocol version is {major}.{minor}.")
    return 0


def list_providers(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    _info("Available providers:")
    for provider in client.list_providers():
        print(f"ID: 0x{provider.id:02x} ({parsec_name(provider.id)})", file=out)
        print(f"Description: {provider.description}", file=out)
        print(f"Version: {provider.version_maj}.{provider.version_min}.{provider.version_rev}", file=out)
        print(f"Vendor: {provider.vendor or 'Unspecified'}", file=out)
        print(f"UUID: {provider.uuid}", file=out)
        print(file=out)
    return 0


def list_opcodes(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    provider = client.implicit_provider
    _info(f"Available opcodes for provider {parsec_name(provider)}:")
    for opcode in sorted(client.list_opcodes(provider)):
        print(f"* {parsec_name(opcode)}", file=out)
    return 0


def list_authenticators(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    _info("Available authenticators:")
    for authenticator in client.list_authenticators():
        print(f"ID: 0x{authenticator.id:02x} ({parsec_name(authenticator.id)})", file=out)
        print(f"Description: {authenticator.description}", file=out)
        print(f"Version: {authenticator.version_maj}.{authenticator.version_min}.{authenticator.version_rev}", file=out)
        print(file=out)
    return 0


def list_keys(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    keys = client.list_keys()
    if not keys:
        _info("No keys currently available.")
        return 0
    _info("Available keys:")
    for key in keys:
        key_type = key_type_name(key.attributes.key_type)
        print(f"* '{key.name}' ({parsec_name(key.provider_id)}, {key.attributes.bits} bit {key_type})", file=out)
    return 0


def list_clients(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    clients = client.list_clients()
    if not clients:
        _info("No clients in the service.")
        return 0
    _info("Parsec clients:")
    for name in clients:
        print(name, file=out)
    return 0


def delete_client(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    client.delete_client(args.client)
    _success(out, f'Client "{args.client}" deleted.')
    return 0


def create_ecc_key(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    client.psa_generate_key(args.key_name, tool.ecc_key_attributes())
    _success(out, f'Key "{args.key_name}" created.')
    return 0


def create_rsa_key(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    attributes = tool.rsa_key_attributes(for_signing=args.for_signing, bits=args.bits, oaep=args.oaep)
    client.psa_generate_key(args.key_name, attributes)
    _success(out, f'Key "{args.key_name}" created.')
    return 0


def sign(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    print(base64.b64encode(tool.sign(client, args.key_name, args.input_data.encode())).decode(), file=out)
    return 0


def verify(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    tool.verify(client, args.key_name, args.input_data.encode(), _base64(args.signature, "--signature"))
    _success(out, "The signature is valid.")
    return 0


def encrypt(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    print(base64.b64encode(tool.encrypt(client, args.key_name, args.input_data.encode())).decode(), file=out)
    return 0


def decrypt(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    plaintext = tool.decrypt(client, args.key_name, _base64(args.input_data, "the ciphertext"))
    print(plaintext.decode(errors="replace"), file=out)
    return 0


def export_public_key(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    from refimpl.client import tool

    out.write(tool.public_key_pem(client, args.key_name, pkcs1=args.pkcs1))
    return 0


def delete_key(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    client.psa_destroy_key(args.key_name)
    _success(out, f'Key "{args.key_name}" deleted.')
    return 0


def generate_random(client: BasicClient, args: argparse.Namespace, out: TextIO) -> int:
    print(" ".join(f"{byte:02X}" for byte in client.psa_generate_random(args.nbytes)), file=out)
    return 0


def _base64(text: str, what: str) -> bytes:
    from refimpl.client.tool import ToolError

    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ToolError(f"{what} is not valid base64: {error}") from None


# ------------------------------------------------------------------------------------------ plumbing


def _authentication(args: argparse.Namespace) -> Authentication | None:
    """None lets the client pick the service's authenticator (Direct with --app-name, or peer credentials)."""
    from refimpl.client.auth import Direct, NoAuth, UnixPeerCredentials

    choices: dict[str, Authentication | None] = {
        "auto": None,
        "direct": Direct(args.app_name),
        "peer": UnixPeerCredentials(),
        "none": NoAuth(),
    }
    return choices[args.auth]


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Build the client from the options, run the verb, and map failures to exit codes."""
    from refimpl.client.basic_client import BasicClient, ClientError, NoUsableAuthenticator, ServiceUnreachable
    from refimpl.client.endpoint import EndpointError
    from refimpl.client.tool import ToolError
    from refimpl.ids import ProviderId

    out = sys.stdout if out is None else out
    try:
        provider = ProviderId(args.provider) if args.provider is not None else None
        client = BasicClient(
            auth=_authentication(args), timeout=args.timeout, app_name=args.app_name, provider=provider
        )
        return int(args.verb(client, args, out))
    except ClientError as error:
        print(f"[ERROR] {error.status.parsec_name} (status {int(error.status)})", file=sys.stderr)
        return 1
    except ToolError as error:
        print(f"[ERROR] {error}", file=sys.stderr)
        return 1
    except (ServiceUnreachable, EndpointError, NoUsableAuthenticator) as error:
        print(f"[ERROR] {error}", file=sys.stderr)
        return 2


def _provider_id(text: str) -> int:
    from refimpl.ids import ProviderId

    value = int(text, 0)
    if value not in ProviderId.__members__.values():
        known = ", ".join(f"{provider.value} ({provider.name})" for provider in ProviderId)
        raise argparse.ArgumentTypeError(f"{text} is not a provider ID; use one of {known}")
    return value


def _verb_options(parser: argparse.ArgumentParser) -> None:
    """-p/-t are accepted after the verb too (`list-opcodes -p 1`), without overriding the ones given before it."""
    parser.add_argument("-p", "--provider", type=_provider_id, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("-t", "--timeout", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "client",
        help="parsec-tool's verbs against a Parsec service (found through PARSEC_SERVICE_ENDPOINT)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-p", "--provider", type=_provider_id, default=None, help="provider ID (default: the first)")
    parser.add_argument("-t", "--timeout", type=float, default=60.0, help="seconds per request, 0 = none")
    parser.add_argument(
        "--auth", choices=AUTH_CHOICES, default="auto", help="authentication (default: the service's authenticator)"
    )
    parser.add_argument("--app-name", default=DEFAULT_APP_NAME, help="application name for Direct authentication")
    parser.set_defaults(handler=run)
    verbs = parser.add_subparsers(dest="verb_name", required=True, metavar="VERB")

    def verb(name: str, function: Verb, help: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help, description=help)
        _verb_options(sub)
        sub.set_defaults(verb=function)
        return sub

    def key_verb(name: str, function: Verb, help: str) -> argparse.ArgumentParser:
        sub = verb(name, function, help)
        sub.add_argument("-k", "--key-name", required=True)
        return sub

    verb("ping", ping, "print the service's wire protocol version")
    verb("list-providers", list_providers, "list the service's providers")
    verb("list-opcodes", list_opcodes, "list the opcodes a provider (-p) supports")
    verb("list-authenticators", list_authenticators, "list the service's authenticator")
    verb("list-keys", list_keys, "list your keys")
    verb("list-clients", list_clients, "list the applications that own keys (admin)")
    verb("delete-client", delete_client, "delete every key of an application (admin)").add_argument(
        "-c", "--client", required=True
    )
    key_verb("create-ecc-key", create_ecc_key, "create a secp256r1 ECDSA-SHA-256 key pair")
    rsa = key_verb("create-rsa-key", create_rsa_key, "create an RSA key pair (PKCS#1 v1.5 encryption by default)")
    rsa.add_argument("-s", "--for-signing", action="store_true", help="a PKCS#1 v1.5 SHA-256 signing key")
    rsa.add_argument("-b", "--bits", type=int, default=2048, help="key size (default 2048)")
    rsa.add_argument("-o", "--oaep", action="store_true", help="RSA OAEP (SHA-256) instead of PKCS#1 v1.5")
    key_verb("sign", sign, "sign UTF-8 text; prints the base64 signature").add_argument("input_data")
    verify_parser = key_verb("verify", verify, "verify a base64 signature over UTF-8 text")
    verify_parser.add_argument("-s", "--signature", required=True, help="base64, as printed by sign")
    verify_parser.add_argument("input_data")
    key_verb("encrypt", encrypt, "encrypt UTF-8 text; prints base64").add_argument("input_data")
    key_verb("decrypt", decrypt, "decrypt base64 ciphertext; prints the text").add_argument("input_data")
    key_verb("export-public-key", export_public_key, "print the public key as PEM").add_argument(
        "--pkcs1", action="store_true", help="RSA only: PKCS#1 RSAPublicKey instead of SubjectPublicKeyInfo"
    )
    key_verb("delete-key", delete_key, "destroy a key")
    verb("generate-random", generate_random, "print random bytes in hex").add_argument(
        "-n", "--nbytes", type=int, required=True
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m parsec_tm.cli.client VERB …`: the same command without the other command groups."""
    parser = argparse.ArgumentParser(prog="parsec-tm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["client", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
