"""Peer credentials for a gRPC server on a Unix socket: a relay that reads SO_PEERCRED at accept time.

The seed's Identity Provider must know who is asking before it issues a token (SPIRE's `unix` workload attestor reads
the caller's credentials from the kernel). gRPC Python exposes none: on a Unix socket `context.peer()` is `"unix:"`
and `context.auth_context()` holds only the transport security type, with insecure and with local (UDS)
credentials alike, and there is no API to hand gRPC an accepted file descriptor. So the public socket is served by
this relay: it accepts each connection itself, reads `SO_PEERCRED`, and forwards the bytes to the gRPC server's
private socket over a connection bound to a fresh, random abstract address. gRPC reports that address as the
peer (`unix-abstract:<name>`), and `lookup` maps it back to the credentials.

Why this is sound: the private socket lives in a directory only the identity provider's user can enter (mode 0700),
so every connection gRPC sees comes from the relay, and the relay registers an address before connecting from it.
Another process can at most squat a random abstract name, which makes that one connection fail (denial), never
attributes a connection to the wrong caller.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import stat
import struct
import threading
from pathlib import Path

from refimpl.front.listener import PeerCredentials

_log = logging.getLogger(__name__)

_ABSTRACT_PREFIX = "parsec-tm-idp-"
_GRPC_PEER_PREFIX = "unix-abstract:"
_PEERCRED = struct.Struct("3i")
_CHUNK = 65536
_ACCEPT_POLL_SECONDS = 0.2


def peer_credentials(connection: socket.socket) -> PeerCredentials:
    """The kernel's `SO_PEERCRED` record of a connected Unix socket."""
    pid, uid, gid = _PEERCRED.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


def prepare_socket_path(path: Path) -> None:
    """Remove a stale socket at `path` (as Parsec's listener does); refuse to replace anything that is not a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket: remove it or choose another --socket path")
    path.unlink()


class _Link:
    """One relayed connection: the caller's socket, the socket to gRPC, and the two pump threads between them."""

    def __init__(self, caller: socket.socket, upstream: socket.socket, name: str, relay: PeerCredentialRelay) -> None:
        self.caller = caller
        self.upstream = upstream
        self.name = name
        self._relay = relay
        self._open_directions = 2
        self._lock = threading.Lock()

    def start(self) -> None:
        for source, sink in ((self.caller, self.upstream), (self.upstream, self.caller)):
            name = f"idp-relay-{self.name[-6:]}"
            threading.Thread(target=self._pump, args=(source, sink), name=name, daemon=True).start()

    def close(self) -> None:
        for sock in (self.caller, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass  # the other side reset the connection: nothing to forward any more
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            self._direction_done()

    def _direction_done(self) -> None:
        with self._lock:
            self._open_directions -= 1
            finished = self._open_directions == 0
        if finished:
            self.caller.close()
            self.upstream.close()
            self._relay._forget(self)


class PeerCredentialRelay:
    """Accepts on the public socket and relays each connection to gRPC's private socket, remembering who it is."""

    def __init__(self, public_path: Path, private_path: Path) -> None:
        self._public_path = public_path
        self._private_path = private_path
        self._peers: dict[str, PeerCredentials] = {}
        self._links: dict[str, _Link] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    def start(self) -> None:
        prepare_socket_path(self._public_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self._public_path))
        except OSError:
            listener.close()
            raise
        self._listener = listener
        # Any local process may ask, as with a SPIRE agent: the answer depends on who it is, not on reaching the socket.
        self._public_path.chmod(0o666)
        listener.listen(64)
        listener.settimeout(_ACCEPT_POLL_SECONDS)
        self._acceptor = threading.Thread(target=self._accept_loop, name="idp-relay-accept", daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join()
        if self._listener is not None:  # only a socket this relay bound is removed, never what was there before
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                self._public_path.unlink()
        with self._lock:
            links = list(self._links.values())
        for link in links:
            link.close()

    def lookup(self, grpc_peer: str) -> PeerCredentials | None:
        """The caller behind gRPC's `context.peer()`; None for a connection the relay did not make."""
        if not grpc_peer.startswith(_GRPC_PEER_PREFIX):
            return None
        with self._lock:
            return self._peers.get(grpc_peer.removeprefix(_GRPC_PEER_PREFIX))

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                caller, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as error:
                _log.error("Workload API socket %s stopped accepting: %s", self._public_path, error)
                return
            caller.settimeout(None)
            try:
                self._relay(caller)
            except OSError as error:
                _log.warning("dropping a Workload API connection that could not be relayed: %s", error)
                caller.close()

    def _relay(self, caller: socket.socket) -> None:
        credentials = peer_credentials(caller)
        name = _ABSTRACT_PREFIX + secrets.token_hex(16)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.bind("\0" + name)
            with self._lock:
                self._peers[name] = credentials
            upstream.connect(str(self._private_path))
        except OSError:
            upstream.close()
            with self._lock:
                self._peers.pop(name, None)
            raise
        link = _Link(caller, upstream, name, self)
        with self._lock:
            self._links[name] = link
        link.start()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._peers.pop(link.name, None)
            self._links.pop(link.name, None)
