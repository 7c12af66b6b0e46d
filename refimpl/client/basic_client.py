"""`BasicClient`: one method per Parsec operation, one connection per request, as parsec-client-rust's BasicClient.

Modelled on cli:src/core/basic_client.rs and cli:src/core/operation_client.rs (parsec-facts §7.4): the endpoint
comes from `PARSEC_SERVICE_ENDPOINT`; discovery operations (Ping, ListProviders, ListOpcodes, ListAuthenticators)
go to the Core provider without authentication; every other operation carries the client's authentication and,
for cryptographic ones, goes to the implicit provider — the first of ListProviders unless set. When no
authentication is given, the first authenticator of ListAuthenticators that the client supports is used.

A response whose status is not Success raises `ClientError(status)`; a response the client cannot trust (bad
header, wrong opcode, undecodable body) raises `InvalidResponse`; an unreachable service raises
`ServiceUnreachable`. `send` and `send_raw` are the low-level doors for tests that craft requests.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from refimpl import operations as ops
from refimpl.client.auth import Authentication, Direct, NoAuth, UnixPeerCredentials
from refimpl.client.endpoint import Endpoint, endpoint_from_env, parse_endpoint
from refimpl.errors import ParsecError
from refimpl.ids import AuthType, Opcode, ProviderId, Status
from refimpl.psa import types as t
from refimpl.wire.codec import decode_result, encode_operation
from refimpl.wire.framing import read_response, socket_reader
from refimpl.wire.header import Request, RequestHeader, Response, encode_request

DEFAULT_TIMEOUT = 60.0
"""Seconds, as parsec-client-rust (cli:src/core/ipc_handler/mod.rs)."""


class ClientError(Exception):
    """The service answered with a failure status."""

    def __init__(self, status: Status, opcode: Opcode | None = None) -> None:
        where = f" ({opcode.name})" if opcode is not None else ""
        super().__init__(f"{status.parsec_name}{where}")
        self.status = status
        self.opcode = opcode


class InvalidResponse(ClientError):
    """The client refused the service's reply; `status` says why (InvalidHeader, InvalidEncoding, …)."""


class NoUsableAuthenticator(ValueError):
    """The service's authenticator needs something this client was not given (an app name, a token source)."""


class ServiceUnreachable(OSError):
    """No connection to the service; the message names the endpoint and the variable that sets it."""


class BasicClient:
    """A synchronous Parsec client. Not thread-safe: use one per thread (connections are not shared anyway)."""

    def __init__(
        self,
        endpoint: Endpoint | str | None = None,
        auth: Authentication | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        app_name: str | None = None,
        provider: ProviderId | None = None,
    ) -> None:
        if isinstance(endpoint, str):
            endpoint = parse_endpoint(endpoint)
        self.endpoint = endpoint if endpoint is not None else endpoint_from_env()
        self.timeout = timeout or None  # 0 means no timeout, as parsec-tool's --timeout
        self.app_name = app_name
        self._auth = auth
        self._provider = provider
        self._providers: list[ops.ProviderInfo] | None = None

    # -- configuration ---------------------------------------------------------------------------------------

    @property
    def auth(self) -> Authentication:
        """The authentication used for non-discovery operations, chosen from ListAuthenticators on first use."""
        if self._auth is None:
            self._auth = self.default_auth()
        return self._auth

    @auth.setter
    def auth(self, auth: Authentication) -> None:
        self._auth = auth

    def default_auth(self) -> Authentication:
        """The first authenticator the service lists that this client can use (Direct needs `app_name`)."""
        listed = [info.id for info in self.list_authenticators()]
        for auth_type in listed:
            if auth_type is AuthType.DIRECT and self.app_name:
                return Direct(self.app_name)
            if auth_type is AuthType.UNIX_PEER_CREDENTIALS:
                return UnixPeerCredentials()
        names = ", ".join(auth_type.name for auth_type in listed) or "none"
        raise NoUsableAuthenticator(
            f"the service's authenticators ({names}) need an explicit auth= (Direct needs app_name, "
            "JwtSvid a token source)"
        )

    @property
    def implicit_provider(self) -> ProviderId:
        """Where cryptographic operations go: set explicitly, or the first provider the service lists."""
        if self._provider is None:
            providers = self.list_providers()
            if not providers:
                raise InvalidResponse(Status.INVALID_ENCODING, Opcode.LIST_PROVIDERS)
            self._provider = providers[0].id
        return self._provider

    @implicit_provider.setter
    def implicit_provider(self, provider: ProviderId) -> None:
        self._provider = provider

    # -- transport -------------------------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        try:
            return self.endpoint.connect(self.timeout)
        except OSError as error:
            raise ServiceUnreachable(
                f"cannot reach the Parsec service at {self.endpoint} ({error.strerror or error}); "
                "start it or set PARSEC_SERVICE_ENDPOINT"
            ) from error

    @staticmethod
    def _send_all(sock: socket.socket, data: bytes) -> None:
        """Send, tolerating a service that answered early and closed (BodySizeExceedsLimit): its reply is queued."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)

    def send_raw(self, data: bytes, shutdown_write: bool = True) -> bytes:
        """Send arbitrary bytes on a fresh connection and return everything the service sends before closing."""
        with self._connect() as sock:
            self._send_all(sock, data)
            if shutdown_write:
                with contextlib.suppress(OSError):  # already closed by the service
                    sock.shutdown(socket.SHUT_WR)
            chunks: list[bytes] = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except ConnectionResetError:
                if not chunks:
                    raise
            return b"".join(chunks)

    def send(
        self,
        provider: ProviderId | int,
        opcode: Opcode | int,
        operation: ops.Operation | bytes,
        auth: Authentication | None = None,
    ) -> Response:
        """One request, one response, whatever its status. `operation` may be a pre-encoded body."""
        body = operation if isinstance(operation, bytes) else encode_operation(operation)
        auth = auth if auth is not None else self.auth
        header = RequestHeader(provider=provider, opcode=opcode, auth_type=auth.auth_type)
        request = encode_request(Request(header, body, auth.auth_bytes()))
        with self._connect() as sock:
            try:
                self._send_all(sock, request)
                return read_response(socket_reader(sock))
            except ParsecError as error:
                known = opcode if isinstance(opcode, Opcode) else None
                raise InvalidResponse(error.status, known) from error

    def _call(self, operation: ops.Operation, provider: ProviderId, auth: Authentication | None = None) -> Any:
        opcode = ops.OPCODE_OF[type(operation)]
        response = self.send(provider, opcode, operation, auth)
        if response.status is not Status.SUCCESS:
            raise ClientError(response.status, opcode)
        if response.header.opcode != opcode:
            raise InvalidResponse(Status.INVALID_ENCODING, opcode)
        try:
            return decode_result(opcode, response.body)
        except ParsecError as error:
            raise InvalidResponse(error.status, opcode) from error

    def _core(self, operation: ops.Operation, authenticated: bool = False) -> Any:
        return self._call(operation, ProviderId.CORE, None if authenticated else NoAuth())

    def _crypto(self, operation: ops.Operation) -> Any:
        return self._call(operation, self.implicit_provider)

    # -- core operations --------------------------------------------------------------------------------------

    def ping(self) -> tuple[int, int]:
        """The highest wire protocol version the service supports, (major, minor)."""
        result: ops.PingResult = self._core(ops.Ping())
        return result.wire_protocol_version_maj, result.wire_protocol_version_min

    def list_providers(self) -> list[ops.ProviderInfo]:
        """The service's providers in priority order, Core last (cached: providers only change on a reload)."""
        if self._providers is None:
            result: ops.ListProvidersResult = self._core(ops.ListProviders())
            self._providers = list(result.providers)
        return list(self._providers)

    def list_opcodes(self, provider: ProviderId) -> frozenset[Opcode]:
        result: ops.ListOpcodesResult = self._core(ops.ListOpcodes(provider))
        return result.opcodes

    def list_authenticators(self) -> list[ops.AuthenticatorInfo]:
        result: ops.ListAuthenticatorsResult = self._core(ops.ListAuthenticators())
        return list(result.authenticators)

    def list_keys(self) -> list[ops.KeyInfo]:
        result: ops.ListKeysResult = self._core(ops.ListKeys(), authenticated=True)
        return list(result.keys)

    def key_attributes(self, key_name: str) -> t.KeyAttributes:
        """The attributes of one of the caller's keys, found through ListKeys (as parsec-client-rust does)."""
        for key in self.list_keys():
            if key.name == key_name:
                return key.attributes
        raise ClientError(Status.PSA_ERROR_DOES_NOT_EXIST, Opcode.LIST_KEYS)

    def list_clients(self) -> list[str]:
        """Admin only: every application that owns a key."""
        result: ops.ListClientsResult = self._core(ops.ListClients(), authenticated=True)
        return list(result.clients)

    def delete_client(self, client: str) -> None:
        """Admin only: destroy every key of `client`."""
        self._core(ops.DeleteClient(client), authenticated=True)

    # -- key management --------------------------------------------------------------------------------------

    def psa_generate_key(self, key_name: str, attributes: t.KeyAttributes) -> None:
        self._crypto(ops.GenerateKey(key_name, attributes))

    def psa_import_key(self, key_name: str, data: bytes, attributes: t.KeyAttributes) -> None:
        self._crypto(ops.ImportKey(key_name, attributes, data))

    def psa_destroy_key(self, key_name: str) -> None:
        self._crypto(ops.DestroyKey(key_name))

    def psa_export_public_key(self, key_name: str) -> bytes:
        result: ops.ExportPublicKeyResult = self._crypto(ops.ExportPublicKey(key_name))
        return result.data

    def psa_export_key(self, key_name: str) -> bytes:
        result: ops.ExportKeyResult = self._crypto(ops.ExportKey(key_name))
        return result.data

    # -- cryptography ----------------------------------------------------------------------------------------

    def psa_sign_hash(self, key_name: str, hash: bytes, alg: t.AsymmetricSignature) -> bytes:
        result: ops.SignHashResult = self._crypto(ops.SignHash(key_name, alg, hash))
        return result.signature

    def psa_verify_hash(self, key_name: str, hash: bytes, alg: t.AsymmetricSignature, signature: bytes) -> None:
        self._crypto(ops.VerifyHash(key_name, alg, hash, signature))

    def psa_sign_message(self, key_name: str, message: bytes, alg: t.AsymmetricSignature) -> bytes:
        result: ops.SignMessageResult = self._crypto(ops.SignMessage(key_name, alg, message))
        return result.signature

    def psa_verify_message(self, key_name: str, message: bytes, alg: t.AsymmetricSignature, signature: bytes) -> None:
        self._crypto(ops.VerifyMessage(key_name, alg, message, signature))

    def psa_asymmetric_encrypt(
        self, key_name: str, alg: t.AsymmetricEncryption, plaintext: bytes, salt: bytes | None = None
    ) -> bytes:
        result: ops.AsymmetricEncryptResult = self._crypto(ops.AsymmetricEncrypt(key_name, alg, plaintext, salt))
        return result.ciphertext

    def psa_asymmetric_decrypt(
        self, key_name: str, alg: t.AsymmetricEncryption, ciphertext: bytes, salt: bytes | None = None
    ) -> bytes:
        result: ops.AsymmetricDecryptResult = self._crypto(ops.AsymmetricDecrypt(key_name, alg, ciphertext, salt))
        return result.plaintext

    def psa_aead_encrypt(
        self, key_name: str, alg: t.Aead, nonce: bytes, additional_data: bytes, plaintext: bytes
    ) -> bytes:
        result: ops.AeadEncryptResult = self._crypto(ops.AeadEncrypt(key_name, alg, nonce, additional_data, plaintext))
        return result.ciphertext

    def psa_aead_decrypt(
        self, key_name: str, alg: t.Aead, nonce: bytes, additional_data: bytes, ciphertext: bytes
    ) -> bytes:
        result: ops.AeadDecryptResult = self._crypto(ops.AeadDecrypt(key_name, alg, nonce, additional_data, ciphertext))
        return result.plaintext

    def psa_cipher_encrypt(self, key_name: str, alg: t.Cipher, plaintext: bytes) -> bytes:
        result: ops.CipherEncryptResult = self._crypto(ops.CipherEncrypt(key_name, alg, plaintext))
        return result.ciphertext

    def psa_cipher_decrypt(self, key_name: str, alg: t.Cipher, ciphertext: bytes) -> bytes:
        result: ops.CipherDecryptResult = self._crypto(ops.CipherDecrypt(key_name, alg, ciphertext))
        return result.plaintext

    def psa_hash_compute(self, alg: t.Hash, input: bytes) -> bytes:
        result: ops.HashComputeResult = self._crypto(ops.HashCompute(alg, input))
        return result.hash

    def psa_hash_compare(self, alg: t.Hash, input: bytes, hash: bytes) -> None:
        self._crypto(ops.HashCompare(alg, input, hash))

    def psa_raw_key_agreement(self, alg: t.RawKeyAgreement, private_key_name: str, peer_key: bytes) -> bytes:
        result: ops.RawKeyAgreementResult = self._crypto(ops.RawKeyAgreementOp(alg, private_key_name, peer_key))
        return result.shared_secret

    def psa_generate_random(self, nbytes: int) -> bytes:
        result: ops.GenerateRandomResult = self._crypto(ops.GenerateRandom(nbytes))
        return result.random_bytes

    def can_do_crypto(self, check_type: ops.CheckType, attributes: t.KeyAttributes) -> None:
        """Success if the implicit provider supports the template; ClientError(PsaErrorNotSupported/…) if not."""
        self._crypto(ops.CanDoCrypto(check_type, attributes))

    # -- key attestation (TPM provider; parsec-client-rust's prepare_activate_credential and
    # activate_credential_attestation) -------------------------------------------------------------------------

    def prepare_activate_credential(
        self, attested_key_name: str, attesting_key_name: str | None = None
    ) -> ops.PrepareKeyAttestationResult:
        """The attested key's TPM name and public area, and the attesting key's public key, for MakeCredential."""
        result: ops.PrepareKeyAttestationResult = self._crypto(
            ops.PrepareKeyAttestation(attested_key_name, attesting_key_name)
        )
        return result

    def activate_credential_attestation(
        self, attested_key_name: str, credential_blob: bytes, secret: bytes, attesting_key_name: str | None = None
    ) -> bytes:
        """The credential a verifier sealed to the attested key's name, unsealed by the TPM (AttestKey)."""
        result: ops.AttestKeyResult = self._crypto(
            ops.AttestKey(attested_key_name, credential_blob, secret, attesting_key_name)
        )
        return result.credential
