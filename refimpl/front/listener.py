"""The listener: a Unix domain stream socket, one accepted connection per request, and the peer's credentials.

Parsec's `DomainSocketListener` (svc:src/front/domain_socket.rs, svc:src/front/listener.rs; parsec-facts §1.4,
§4.1). The socket is bound at `listener.socket_path` (an existing socket file there is replaced, anything else
is an error), made world-connectable (0666, as Parsec: access is decided by the socket's directory and by the
authenticator), or taken from systemd socket activation when exactly one descriptor is passed. The O-10
extension (`listener.socket_group`, `listener.socket_mode`) gives the socket file a group and a mode instead —
for example group `parsec-clients`, 0660 — so the kernel refuses `connect()` to every other user: the socket is
created with at most owner access (fchmod before bind), then given its group, then its mode, so no moment exists
where more users may connect than the config says. The socket is non-blocking: the connection loop
(`refimpl.front.event_loop`) accepts when the kernel says a client waits, so an idle service answers the first
request at once and never polls (Parsec sleeps `idle_listener_sleep_duration` ms when idle). A peer's
(pid, uid, gid) come from SO_PEERCRED, and the kernel vouches for them (M-3: the descriptors are private to the
two processes).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from refimpl.config import PARSEC_SOCKET_MODE
from refimpl.errors import ConfigError

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
_PEERCRED = struct.Struct("3i")
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""accept() errors that mean the service is out of a resource (the loop backs off instead of spinning, O-4)."""


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """The connecting process as the kernel reports it (Parsec's `ConnectionMetadata::UnixPeerCredentials`)."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials | None:
    """The peer's (pid, uid, gid) from SO_PEERCRED; None if the kernel cannot say (logged)."""
    try:
        pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    except OSError as error:
        log.error("the peer credentials of a connection cannot be read: %s", error)
        return None
    return PeerCredentials(pid, uid, gid)


class DomainSocketListener:
    """A listening Unix socket, non-blocking, served by one connection loop per process."""

    def __init__(self, sock: socket.socket, timeout_ms: int, path: Path | None) -> None:
        self._sock = sock
        self._sock.setblocking(False)
        self._path = path  # None when the socket came from systemd: then it is not ours to unlink
        self._identity = _file_identity(path) if path is not None else None
        self._closing = False
        self.timeout_ms = timeout_ms

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

    def fileno(self) -> int:
        return self._sock.fileno()

    def accept(self) -> socket.socket | None:
        """A waiting client's stream, non-blocking; None when none waits (or it left before being accepted).

        OSError for anything else (out of descriptors or memory, or the listener was shut down).
        """
        try:
            sock, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if error.errno == errno.ECONNABORTED:
                return None
            raise
        sock.setblocking(False)
        return sock

    @property
    def closing(self) -> bool:
        return self._closing

    def shutdown(self) -> None:
        """Stop listening: connections not yet accepted are dropped, new ones refused."""
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
    except OSError as error:  # e.g. a path component that is a file
        raise ConfigError("listener.socket_path", f"cannot use {path}: {error.strerror}") from None
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
    return sock
