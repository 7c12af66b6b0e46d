"""The listener: a Unix domain stream socket, one accepted connection per request, with timeouts and peer IDs.

Parsec's `DomainSocketListener` (svc:src/front/domain_socket.rs, svc:src/front/listener.rs; parsec-facts §1.4,
§4.1). The socket is bound at `listener.socket_path` (an existing socket file there is replaced, anything else
is an error), made world-connectable (0666, as Parsec: access is decided by the socket's directory and by the
authenticator), or taken from systemd socket activation when exactly one descriptor is passed. The O-10
extension (`listener.socket_group`, `listener.socket_mode`) gives the socket file a group and a mode instead —
for example group `parsec-clients`, 0660 — so the kernel refuses `connect()` to every other user: the socket is
created with at most owner access (fchmod before bind), then given its group, then its mode, so no moment exists
where more users may connect than the config says. Unlike Parsec, which polls a non-blocking socket and sleeps
`idle_listener_sleep_duration` ms when idle, workers block in `accept()`: an idle service answers the first
request at once. Each accepted stream gets kernel read and write timeouts of `listener.timeout` ms
(SO_RCVTIMEO/SO_SNDTIMEO, what Rust's set_read_timeout uses); its peer's (pid, uid, gid) come from SO_PEERCRED
when an authenticator asks (Parsec reads them for every connection; only UnixPeerCredentials uses them), and the
kernel vouches for them (M-3: the descriptors are private to the two processes).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from refimpl.config import PARSEC_SOCKET_MODE
from refimpl.errors import ConfigError

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
_PEERCRED = struct.Struct("3i")
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RECV_CHUNK = 65536
"""Bytes asked of the kernel per read: one recv usually holds a whole request."""
SEND_WITHOUT_TIMEOUT = 65536
"""A response up to this size fits in a new Unix socket's send buffer (about 200 KiB on Linux): it never blocks."""


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """The connecting process as the kernel reports it (Parsec's `ConnectionMetadata::UnixPeerCredentials`)."""

    pid: int
    uid: int
    gid: int


class Connection:
    """One accepted client stream: buffered exact reads, a one-shot reply, then close."""

    __slots__ = ("_buffer", "_offset", "_peer", "_timeval", "sock")

    def __init__(self, sock: socket.socket, timeval: bytes) -> None:
        self.sock = sock
        self._timeval = timeval
        self._buffer = b""
        self._offset = 0
        self._peer: PeerCredentials | None = None

    @property
    def peer(self) -> PeerCredentials | None:
        """The peer's (pid, uid, gid) from SO_PEERCRED, asked of the kernel on first use; None if unavailable."""
        if self._peer is None:
            try:
                pid, uid, gid = _PEERCRED.unpack(
                    self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
                )
            except OSError as error:
                log.error("the peer credentials of a connection cannot be read: %s", error)
                return None
            self._peer = PeerCredentials(pid, uid, gid)
        return self._peer

    def recv_exactly(self, size: int) -> bytes:
        """Exactly `size` bytes; EOFError if the peer closes first, OSError on a timeout (EAGAIN)."""
        available = len(self._buffer) - self._offset
        if available >= size:
            start = self._offset
            self._offset += size
            return self._buffer[start : self._offset]
        parts = [self._buffer[self._offset :]]
        missing = size - available
        self._buffer, self._offset = b"", 0
        while missing > 0:
            chunk = self.sock.recv(max(missing, RECV_CHUNK))
            if not chunk:
                raise EOFError(f"peer closed the connection {missing} bytes short of {size}")
            if len(chunk) > missing:
                self._buffer, self._offset = chunk, missing
                parts.append(chunk[:missing])
                missing = 0
            else:
                parts.append(chunk)
                missing -= len(chunk)
        return b"".join(parts)

    def send(self, data: bytes) -> None:
        """Write the whole response. Only a response larger than the socket buffer can block, so only then is
        the write timeout set (one system call less per request)."""
        if len(data) > SEND_WITHOUT_TIMEOUT:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self._timeval)
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class DomainSocketListener:
    """A listening Unix socket shared by the worker threads, each blocking in `accept()`."""

    def __init__(self, sock: socket.socket, timeout_ms: int, path: Path | None) -> None:
        self._sock = sock
        self._path = path  # None when the socket came from systemd: then it is not ours to unlink
        self._identity = _file_identity(path) if path is not None else None
        self._closing = False
        self.timeout_ms = timeout_ms
        seconds, milliseconds = divmod(timeout_ms, 1000)
        self._timeval = struct.pack("ll", seconds, milliseconds * 1000)

    @classmethod
    def open(
        cls,
        socket_path: Path,
        timeout_ms: int,
        *,
        allow_activation: bool = True,
        mode: int = PARSEC_SOCKET_MODE,
        gid: int | None = None,
    ) -> DomainSocketListener:
        """Use the socket systemd passed (if any and allowed), else bind `socket_path` as Parsec does, with the
        file mode `mode` and group `gid` (None: the service's own)."""
        inherited = systemd_socket() if allow_activation else None
        if inherited is not None:
            log.info("using the socket passed by systemd (socket activation)")
            if gid is not None or mode != PARSEC_SOCKET_MODE:
                log.warning(
                    "listener.socket_group and listener.socket_mode do not apply to a socket systemd created: "
                    "set SocketGroup= and SocketMode= in the .socket unit"
                )
            return cls(inherited, timeout_ms, None)
        return cls(bind_socket(socket_path, mode, gid), timeout_ms, socket_path)

    def inherited(self) -> DomainSocketListener:
        """The same socket for a forked worker process: it accepts on it but never removes its file."""
        return DomainSocketListener(self._sock, self.timeout_ms, None)

    @property
    def address(self) -> str:
        name = self._sock.getsockname()
        return name if isinstance(name, str) else os.fsdecode(name)

    def accept(self) -> Connection | None:
        """The next client connection, or None once `shutdown()` was called. Blocks without polling."""
        while True:
            try:
                sock, _ = self._sock.accept()
            except OSError as error:
                if self._closing:
                    return None
                if error.errno in _RESOURCE_ERRORS:
                    log.error("accept() failed: %s; the service is out of a resource, retrying in 10 ms", error)
                    time.sleep(0.01)  # back off while out of descriptors/memory instead of spinning (O-4)
                elif error.errno != errno.ECONNABORTED:
                    log.error("accept() failed: %s", error)
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
            except OSError as error:
                log.error("dropping a connection whose read timeout cannot be set: %s", error)
                sock.close()
                continue
            return Connection(sock, self._timeval)

    def shutdown(self) -> None:
        """Wake every thread blocked in `accept()`; they return None. Connections not yet accepted are dropped."""
        self._closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError as error:
            log.debug("shutdown of the listening socket: %s", error)

    def close(self) -> None:
        """Close the socket and remove its file, unless systemd owns it or another service has bound the path since."""
        self._closing = True
        self._sock.close()
        if self._path is not None and self._identity is not None and _file_identity(self._path) == self._identity:
            self._path.unlink(missing_ok=True)


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the socket file at `path`, or None if there is no socket file there."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISSOCK(info.st_mode) else None


def bind_socket(path: Path, mode: int = PARSEC_SOCKET_MODE, gid: int | None = None) -> socket.socket:
    """Bind and listen at `path`: replace a stale socket file, refuse anything else, then give the file its group
    and mode (0666 and the service's group by default, as Parsec)."""
    try:
        existing = path.lstat().st_mode
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if not stat.S_ISSOCK(existing):
            raise ConfigError("listener.socket_path", f"{path} exists and is not a socket; remove it or change it")
        log.warning("removing the existing socket file %s", path)
        path.unlink()
    if not path.parent.is_dir():
        log.info("creating the socket directory %s (0755)", path.parent)
        try:
            path.parent.mkdir(mode=0o755, parents=True)
        except OSError as error:
            raise ConfigError("listener.socket_path", f"cannot create the directory {path.parent}: {error}") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.fchmod(sock.fileno(), mode & 0o700)  # Linux creates the file with the socket inode's mode (less umask)
        sock.bind(os.fspath(path))
    except OSError as error:
        sock.close()
        raise ConfigError("listener.socket_path", f"cannot listen at {path}: {error}") from None
    try:
        if gid is not None:
            os.chown(path, -1, gid)
    except OSError as error:
        sock.close()
        path.unlink(missing_ok=True)
        raise ConfigError(
            "listener.socket_group", f"cannot give {path} the group {gid}: {error} (the service must be in that group)"
        ) from None
    try:
        os.chmod(path, mode)
        sock.listen(socket.SOMAXCONN)
    except OSError as error:
        sock.close()
        path.unlink(missing_ok=True)
        raise ConfigError("listener.socket_mode", f"cannot set mode {mode:04o} on {path}: {error}") from None
    if gid is not None or mode != PARSEC_SOCKET_MODE:
        group = gid if gid is not None else os.getegid()
        log.info("socket %s has mode %04o and group %d (listener.socket_mode, socket_group; O-10)", path, mode, group)
    return sock


def systemd_socket() -> socket.socket | None:
    """The socket passed by systemd socket activation (LISTEN_PID/LISTEN_FDS), or None.

    Like Parsec (sd_notify::listen_fds), more than one descriptor is a start-up error. The variables are unset
    after use, so a reload binds `socket_path` itself, as Parsec does.
    """
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    count = os.environ.get("LISTEN_FDS", "0")
    for variable in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(variable, None)
    if count == "0":
        return None
    if count != "1":
        raise ConfigError("listener", f"systemd passed {count} sockets; socket activation needs exactly one")
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ConfigError("listener", "the socket passed by systemd is not a Unix stream socket")
    sock.setblocking(True)
    return sock
