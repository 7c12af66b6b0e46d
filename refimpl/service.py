"""The service: builds the dataflow pipeline from a config, runs it, reloads it on SIGHUP, stops on SIGTERM/SIGINT.

Parsec's `main.rs` and `ServiceBuilder` (svc:src/bin/main.rs, svc:src/utils/service_builder.rs; parsec-facts §5,
§5.6). The pipeline is the seed's dataflow diagram in order: listener → connection loop and thread pool (M-0, and
our U-0 mitigation: `refimpl.front.event_loop`) → front-end handler →
authenticators → dispatcher → back-end handlers → providers (Core last) → key info managers. Every configured
authenticator is built (one `[authenticator]`, or several `[[authenticator]]`); the front end picks one by the
request header's auth type, and ListAuthenticators lists them all in config order. At start each
key-storing provider sweeps its store (mappings whose key is gone are dropped, keys no mapping names are
destroyed), so a crash between two steps of a key's creation or destruction orphans nothing.

Signals: SIGHUP finishes the in-flight requests, drops the whole pipeline, re-reads the config and rebuilds
everything, socket included (Parsec's behaviour). A bad reload does not take the service down — a difference from
Parsec, which exits (status 2) when the re-read config is invalid: as nginx and HAProxy do, the service logs one
ERROR naming the key to fix and keeps serving with the configuration in force (an invalid file is found before
anything is stopped; a file that is valid but cannot be built — a provider that fails to start, a socket path
that cannot be bound — is found after, and the configuration in force is then built again). The next SIGHUP with
a good file applies it. Keys and mappings are never touched by either path. SIGTERM and SIGINT finish the in-flight
requests and exit 0. Running as root is refused unless
`allow_root = true`. `log_level` is applied at start only, as in Parsec. Signals are taken with `sigwait` on the
main thread (blocked everywhere else), so no handler runs in the middle of a request.

With `processes > 1` (`parsec-tm serve --processes N`, an extension) this process becomes a supervisor: it binds
the socket, runs the start-up sweep once, and forks N workers that each build their own pipeline
(`refimpl.front.worker_processes`); a reload or a stop replaces or stops all of them together.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from refimpl.authenticators import Authenticator, authenticator_class
from refimpl.back.backend_handler import BackEndHandler
from refimpl.back.dispatcher import Dispatcher
from refimpl.config import Config, KeyManagerConfig, ProviderConfig, load_config
from refimpl.errors import ConfigError
from refimpl.front.event_loop import ConnectionLimits, EventLoop
from refimpl.front.front_end import FrontEndHandler
from refimpl.front.listener import DomainSocketListener
from refimpl.front.worker_processes import WorkerProcesses
from refimpl.ids import AuthType
from refimpl.key_info_managers.base import KeyInfoManager
from refimpl.key_info_managers.on_disk import OnDiskKeyInfoManager
from refimpl.key_info_managers.sqlite import SQLiteKeyInfoManager
from refimpl.logs import configure as configure_logging
from refimpl.providers.base import (
    KeyStoreProvider,
    Provider,
    ProviderIdentity,
    ProviderSettings,
    ProviderSkipped,
)
from refimpl.providers.core import CoreProvider

log = logging.getLogger(__name__)

DEFAULT_LOG_LEVEL = "info"
"""Used when `log_level` is unset (Parsec then logs errors only); INFO is where the M-4 events are written."""

HANDLED_SIGNALS = frozenset({signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
DESCRIPTOR_RESERVE = 256
"""Descriptors kept for everything but client connections: key stores, provider sessions, logs, pipes."""
MULTI_PROCESS_PROVIDERS = frozenset({"MbedCrypto"})
"""Provider types whose key store several processes may share (the software provider's files and id counter)."""


@dataclass
class Pipeline:
    """Everything built from one config; dropped as a whole on reload."""

    config: Config
    authenticators: Sequence[Authenticator]
    key_info_managers: Sequence[KeyInfoManager]
    providers: Sequence[Provider]
    core: CoreProvider
    front_end: FrontEndHandler
    listener: DomainSocketListener
    front: EventLoop

    def start(self) -> None:
        self.front.start()

    def stop(self) -> None:
        """Finish in-flight requests, then release the socket, the providers and the key stores."""
        self.front.stop()
        self.listener.close()
        self.release()

    def release(self) -> None:
        """Close the authenticators, providers and key stores (not the socket)."""
        for authenticator in self.authenticators:
            authenticator.close()
        for provider in self.providers:
            try:
                provider.close()
            except Exception as error:
                log.error("closing provider %s failed: %s", provider.name, error)
        for manager in self.key_info_managers:
            manager.close()


def build_pipeline(
    config: Config,
    *,
    allow_activation: bool = True,
    listener: DomainSocketListener | None = None,
    shared: bool = False,
    sweep: bool = True,
) -> Pipeline:
    """Build every component of `config` in dependency order; on failure, release what was built and re-raise.

    `listener` is an already open socket (a worker process's); `shared` puts the key stores in multi-process mode;
    `sweep` runs the key-storing providers' start-up sweep (worker processes leave it to their supervisor).
    """
    core_settings = config.core_settings
    authenticators = build_authenticators(config)
    authenticator_id = int(authenticators[0].AUTH_TYPE)  # OnDisk stores: config.py allows one authenticator only
    managers: dict[str, KeyInfoManager] = {}
    providers: list[Provider] = []
    try:
        for manager_config in config.key_managers:
            served = [provider for provider in config.providers if provider.key_info_manager == manager_config.name]
            managers[manager_config.name] = build_key_info_manager(manager_config, served, authenticator_id, shared)
        settings = ProviderSettings(
            allow_deprecated=core_settings.allow_deprecated,
            buffer_size_limit=core_settings.buffer_size_limit,
            working_directory=Path.cwd(),
        )
        for provider_config in config.providers:
            provider = build_provider(provider_config, managers[provider_config.key_info_manager], settings)
            if provider is not None:
                providers.append(provider)
        if not providers:
            raise ConfigError("provider", "no provider could be started; at least one is needed")
        for provider in providers:
            if sweep and isinstance(provider, KeyStoreProvider):
                provider.sweep()
        core = CoreProvider(providers, [authenticator.describe() for authenticator in authenticators])
        backends = [BackEndHandler(provider, core_settings.buffer_size_limit) for provider in (core, *providers)]
        front_end = FrontEndHandler(
            Dispatcher(backends),
            {authenticator.AUTH_TYPE: authenticator for authenticator in authenticators},
            core_settings.body_len_limit,
            log_error_details=core_settings.log_error_details,
        )
        if listener is None:
            listener = open_listener(config, allow_activation=allow_activation)
    except BaseException:
        for authenticator in authenticators:
            authenticator.close()
        for provider in providers:
            provider.close()
        for manager in managers.values():
            manager.close()
        raise
    limits = ConnectionLimits(config.listener.max_connections, config.listener.max_connections_per_uid)
    front = EventLoop(listener, front_end, core_settings.thread_pool_size, limits)
    return Pipeline(config, authenticators, list(managers.values()), providers, core, front_end, listener, front)


def open_listener(config: Config, *, allow_activation: bool) -> DomainSocketListener:
    """The socket of `[listener]`, with its O-10 group and mode."""
    listener = config.listener
    return DomainSocketListener.open(
        listener.socket_path,
        listener.timeout,
        allow_activation=allow_activation,
        mode=listener.socket_mode,
        gid=listener.socket_gid,
    )


def build_authenticators(config: Config) -> list[Authenticator]:
    """Every configured authenticator, in config order; if one fails to start, those built are closed again."""
    authenticators: list[Authenticator] = []
    try:
        for entry in config.authenticators:
            cls = authenticator_class(entry.auth_type, entry.key("auth_type"))
            authenticators.append(cls.from_config(entry))
    except BaseException:
        for authenticator in authenticators:
            authenticator.close()
        raise
    if any(authenticator.AUTH_TYPE == AuthType.DIRECT for authenticator in authenticators):
        log.warning(
            "the Direct authenticator trusts any name a client sends; use it for tests only "
            "(see Parsec's secure deployment guide)"
        )
    if len(authenticators) > 1:
        log.info(
            "authenticators: %s; each application's keys are kept apart by authenticator",
            ", ".join(authenticator.AUTH_TYPE.name for authenticator in authenticators),
        )
    return authenticators


def build_key_info_manager(
    manager: KeyManagerConfig, served: Sequence[ProviderConfig], authenticator_id: int, shared: bool = False
) -> KeyInfoManager:
    """One `[[key_manager]]`; any failure to open or read its store is a ConfigError naming its path key."""
    try:
        if manager.manager_type == "SQLite":
            return SQLiteKeyInfoManager(manager.name, manager.path, shared=shared)
        identities: dict[str, ProviderIdentity] = {
            provider.name: provider.provider_class.IDENTITY for provider in served
        }
        return OnDiskKeyInfoManager(manager.name, manager.path, identities, authenticator_id)
    except (OSError, ValueError) as error:
        raise ConfigError(manager.key_path, f"cannot use {manager.path}: {error}") from None


def build_provider(
    provider_config: ProviderConfig, manager: KeyInfoManager, settings: ProviderSettings
) -> Provider | None:
    """Build one provider; None when the provider asks to be left out (the TPM's `skip_if_no_tpm`, as Parsec)."""
    cls = provider_config.provider_class
    try:
        return cls.from_config(provider_config.name, provider_config.options, manager, settings)
    except ProviderSkipped as error:
        log.warning("skipping provider %s: %s", provider_config.name, error)
        return None
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(
            provider_config.key("provider_type"),
            f"the {provider_config.provider_type} provider failed to start: {type(error).__name__}: {error}",
        ) from None


class Service:
    """The running service: one pipeline at a time (or one per worker process), replaced on reload."""

    def __init__(self, config_path: Path, processes: int = 1) -> None:
        if processes < 1:
            raise ConfigError("--processes", f"must be a positive integer, got {processes}")
        self.config_path = config_path
        self.processes = processes
        self.pipeline: Pipeline | None = None
        self.listener: DomainSocketListener | None = None
        self.workers: WorkerProcesses | None = None
        self.config: Config | None = None
        """The configuration in force: the last one that was built and started."""

    def start(self) -> None:
        """Load and check the config, set up logging, build and start the pipeline."""
        config = load_config(self.config_path)
        check_user(config)
        configure_logging(config.core_settings.log_level or DEFAULT_LOG_LEVEL)
        log.info("Parsec started. Configuring the service...")
        self._start(config, allow_activation=True)
        log.info("Parsec is ready.")
        sd_notify("READY=1")

    def reload(self) -> bool:
        """SIGHUP: finish in-flight requests, drop everything, rebuild from the re-read config. A config that is
        invalid, or cannot be built, is logged (one ERROR naming its key) and the configuration in force is kept
        or built again: False. ConfigError only if even the configuration in force can no longer be built."""
        sd_notify("RELOADING=1")
        log.info("SIGHUP signal received. Reloading the configuration...")
        try:
            config = load_config(self.config_path)
            check_user(config)
        except ConfigError as error:
            self._refuse_reload(error, "nothing was stopped")
            sd_notify("READY=1")
            return False
        in_force = self.config
        self._stop()
        try:
            self._start(config, allow_activation=False)
        except ConfigError as error:
            if in_force is None:
                raise
            self._refuse_reload(error, "the configuration in force is started again")
            self._start(in_force, allow_activation=False)
            sd_notify("READY=1")
            return False
        log.info("Parsec configuration reloaded.")
        sd_notify("READY=1")
        return True

    def _refuse_reload(self, error: ConfigError, what: str) -> None:
        log.error(
            "the reloaded configuration %s is invalid, so the service keeps serving with the configuration in force "
            "(%s); fix %s and send SIGHUP again: %s",
            self.config_path,
            what,
            error.key,
            error,
        )

    def stop(self) -> None:
        sd_notify("STOPPING=1")
        log.info("SIGTERM or SIGINT signal received. Shutting down Parsec, waiting for all threads to finish...")
        self._stop()
        log.info("Parsec is now terminated.")

    def _start(self, config: Config, *, allow_activation: bool) -> None:
        for warning in config.warnings:
            log.warning("config %s: %s", self.config_path, warning)
        raise_descriptor_limit(config.listener.max_connections * self.processes + DESCRIPTOR_RESERVE)
        try:
            self._build(config, allow_activation=allow_activation)
        except BaseException:
            self._stop()  # release whatever was opened, so the configuration in force can be started again
            raise
        self.config = config

    def _build(self, config: Config, *, allow_activation: bool) -> None:
        if self.processes == 1:
            self.pipeline = build_pipeline(config, allow_activation=allow_activation)
            self.pipeline.start()
            listener, threads, providers = self.pipeline.listener, self.pipeline.front.size, self.pipeline.providers
        else:
            check_multi_process(config)
            listener = open_listener(config, allow_activation=allow_activation)
            self.listener = listener
            sweeper = build_pipeline(config, listener=listener, shared=True)  # the start-up sweep, once
            sweeper.release()
            providers = sweeper.providers
            threads = config.core_settings.thread_pool_size * self.processes
            self.workers = WorkerProcesses(
                self.processes,
                lambda: build_pipeline(config, listener=listener.inherited(), shared=True, sweep=False),
            )
            self.workers.start()
        log.info(
            "listening on %s with %d worker threads; providers: %s",
            listener.address,
            threads,
            ", ".join(provider.name for provider in providers),
        )

    def _stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def run(self) -> int:
        """Serve in the foreground until SIGTERM/SIGINT (0), or a worker process dies (1).

        Raises ConfigError from start or a reload. The signals stay blocked afterwards, so a second SIGTERM during
        shutdown changes nothing (as in Parsec, where it only sets the kill flag again) instead of killing the
        process half-way.
        """
        waited = HANDLED_SIGNALS | {signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, waited)  # before any thread or child exists: all inherit it
        try:
            self.start()
            while True:
                received = signal.sigwait(waited)
                if received == signal.SIGCHLD:
                    dead = self.workers.dead() if self.workers is not None else []
                    if dead:
                        pid, status = dead[0]
                        log.error("worker process %d died (wait status %d); the service stops", pid, status)
                        self.stop()
                        return 1
                    continue
                if received != signal.SIGHUP:
                    self.stop()
                    return 0
                try:
                    self.reload()
                except ConfigError as error:
                    log.error("neither the reloaded configuration nor the one in force can be started: %s", error)
                    raise
        finally:
            self._stop()


def check_multi_process(config: Config) -> None:
    """More than one process keeps state correct only with stores built to be shared (see worker_processes)."""
    for manager in config.key_managers:
        if manager.manager_type != "SQLite":
            raise ConfigError(
                f"key_manager[{manager.index}] ({manager.name}).manager_type",
                "--processes above 1 needs SQLite key info managers (OnDisk keeps a per-process copy)",
            )
    for provider in config.providers:
        if provider.provider_type not in MULTI_PROCESS_PROVIDERS:
            raise ConfigError(
                provider.key("provider_type"),
                f"--processes above 1 is supported with {', '.join(sorted(MULTI_PROCESS_PROVIDERS))} providers only",
            )


def raise_descriptor_limit(wanted: int) -> None:
    """Raise the soft RLIMIT_NOFILE to `wanted` (up to the hard limit), so `listener.max_connections` can be open
    at once; below it, accept() fails with EMFILE and the loop backs off (logged)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "the descriptor limit (RLIMIT_NOFILE %d) is below listener.max_connections plus a reserve (%d): "
            "raise it (LimitNOFILE= in the systemd unit) or lower listener.max_connections",
            soft,
            wanted,
        )


def check_user(config: Config) -> None:
    """Refuse to run as root unless the config allows it (Parsec's `allow_root`, O-0)."""
    if os.geteuid() == 0 and not config.core_settings.allow_root:
        raise ConfigError(
            "core_settings.allow_root",
            "Insecure configuration; the Parsec service should not be running as root! "
            "Run it as an unprivileged user (e.g. parsec), or set allow_root = true",
        )


def sd_notify(state: str) -> None:
    """Tell systemd about a state change when started as a Type=notify unit (NOTIFY_SOCKET), as Parsec does."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.sendto(state.encode(), address)
    except OSError as error:
        log.warning("could not notify systemd (%s): %s", state, error)
