"""Building the switch from its configuration and running it until a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import secrets
import signal
import socket
import sys
import time

from config import Config
from media.aio.relay import RelayBackend
from media.ports import PortAllocator
from media.recording.index import RecordingIndex
from media.recording.policy import RecordingConfig, RecordingPolicy
from media.relay import RelayConfig
from switch.aio.runtime import Runtime
from switch.auth import BruteForceGuard, DigestAuthenticator
from switch.callmedia import CallMedia
from switch.calls import CallManager, CallPolicy
from switch.cdr import CdrStore
from switch.endpoint import SipEndpoint
from switch.registrar import Binding, Registrar, RegistrarPolicy
from switch.sip.flow import Flow
from switch.sip.transaction import TimerConfig, TransactionLayer
from switch.storage import Store

log = logging.getLogger("switch")


def resolve_passwords(config: Config, store: Store) -> dict[str, str]:
    """Configured passwords, plus generated ones for users that have none.

    Generated passwords are stored in the data directory on first run and printed
    once, so a fresh `make run` never ships a known secret.
    """
    stored = store.get_secrets()
    passwords: dict[str, str] = {}
    generated: dict[str, str] = {}
    for user in config.users:
        if user.password is not None:
            passwords[user.extension] = user.password
        elif user.extension in stored:
            passwords[user.extension] = stored[user.extension]
        else:
            generated[user.extension] = secrets.token_urlsafe(9)
    if generated:
        store.put_secrets(generated)
        passwords.update(generated)
        names = {u.extension: u.name for u in config.users}
        lines = ["Generated SIP passwords (shown once; stored in the data directory):"]
        lines += [f"  {ext:>6}  {pw}  {names.get(ext, '')}" for ext, pw in generated.items()]
        print("\n".join(lines), flush=True)  # noqa: T201 - the one-time console handover
    return passwords


class Switch:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.data_dir / "switch.db", synchronous=config.storage.synchronous)
        passwords = resolve_passwords(config, self.store)
        sip = config.sip
        reg = config.registrar
        self.registrar = Registrar(
            RegistrarPolicy(
                min_expires=reg.min_expires,
                max_expires=reg.max_expires,
                default_expires=reg.default_expires,
                max_contacts_per_user=reg.max_contacts_per_user,
            ),
            server_header=sip.user_agent,
        )
        restored = self.store.load_bindings()
        self.registrar.load(restored, time.time())
        auth = config.auth
        self.endpoint = SipEndpoint(
            transactions=TransactionLayer(
                TimerConfig(t1=sip.timers.t1, t2=sip.timers.t2, t4=sip.timers.t4)
            ),
            registrar=self.registrar,
            authenticator=DigestAuthenticator(
                auth.realm, passwords, algorithms=tuple(auth.algorithms),
                nonce_ttl=auth.nonce_ttl,
            ),
            guard=BruteForceGuard(
                max_failures=auth.bruteforce.max_failures,
                window=auth.bruteforce.window,
                cooldown=auth.bruteforce.cooldown,
            ),
            server_header=sip.user_agent,
            max_message_bytes=sip.max_message_bytes,
        )
        live = len(self.registrar.all_bindings())
        log.info("restored %d live registrations (%d stored)", live, len(restored))
        self.cdr = CdrStore(self.store.db)
        interrupted = self.cdr.recover_interrupted(time.time())  # committed before serving
        self.cdr.group_commit = True  # from now on: one commit per event-loop turn
        if interrupted:
            log.warning("%d calls were in progress when the switch last stopped: "
                        "recorded as INTERRUPTED", interrupted)
        self.users = frozenset(user.extension for user in config.users)
        self.advertised = advertised_host(config)
        self.runtime: Runtime | None = None
        self.media: RelayBackend | None = None

    def lookup(self, extension: str, wall: float) -> list[Binding] | None:
        """Contacts to ring for a dialled extension: None if unknown, [] if unregistered."""
        if extension not in self.users:
            return None
        return self.registrar.lookup(extension, wall)

    def local_contact(self, flow: Flow) -> tuple[str, int, str]:
        """Via host/port and Contact for requests the switch sends along `flow`."""
        host = self.advertised if _wildcard(flow.local[0]) else flow.local[0]
        if self.config.sip.public_address:
            host = self.config.sip.public_address
        port = flow.local[1]
        transport = "" if flow.transport == "udp" else f";transport={flow.transport}"
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return host, port, f"<sip:switch@{shown}:{port}{transport}>"

    def _start_calls(self, runtime: Runtime) -> None:
        media_config = self.config.media
        sip_host = self.config.sip.listen[0].host
        bind = media_config.host or sip_host
        advertise = media_config.host or self.config.sip.public_address
        if advertise is None:
            advertise = self.advertised if _wildcard(bind) else bind
        settings = self.config.recording
        recording = RecordingConfig(
            all_calls=settings.all_calls, users=frozenset(settings.users),
            queues=frozenset(settings.queues), never_users=frozenset(settings.never_users),
            format=settings.format, directory=settings.directory,
            retention_days=settings.retention_days,
        )
        data_dir = self.config.data_dir
        self.media = RelayBackend(
            bind, advertise=advertise,
            ports=PortAllocator(media_config.port_min, media_config.port_max),
            config=RelayConfig(inactivity_timeout=media_config.inactivity_timeout),
            recording=(recording, data_dir, RecordingIndex(data_dir / "switch.db")),
            prompts_dir=data_dir / "prompts",
            data_plane=media_config.data_plane,
        )
        calls = CallManager(
            transactions=self.endpoint.transactions,
            policy=CallPolicy(
                ring_timeout=self.config.calls.ring_timeout,
                max_duration=self.config.calls.max_duration,
                domain=self.config.sip.domain,
                user_agent=self.config.sip.user_agent,
            ),
            sdp=CallMedia(self.media, recording=RecordingPolicy(recording)),
            cdr=self.cdr,
            lookup=self.lookup,
            local_contact=self.local_contact,
        )
        self.endpoint.calls = calls
        self.media.set_event_handler(runtime.on_media_event)
        runtime.cdr = self.cdr

    async def start(self) -> None:
        self.runtime = runtime = Runtime(self.endpoint, self.store)
        tcp = self.config.sip.tcp
        for address in self.config.sip.listen:
            if address.transport == "udp":
                local = await runtime.listen_udp(address.host, address.port)
            else:
                local = await runtime.listen_tcp(
                    address.host, address.port, idle_timeout=tcp.idle_timeout,
                    max_connections=tcp.max_connections,
                    max_per_peer=tcp.max_connections_per_peer,
                    max_message_bytes=self.config.sip.max_message_bytes,
                )
            log.info("listening on %s:%s:%d", address.transport, local[0], local[1])
        self._start_calls(runtime)
        runtime.start_housekeeping()
        runtime.start_load_probe()

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.hangup_all()
            self.runtime.close()
        if self.media is not None:
            self.media.close()
        self.store.close()


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def advertised_host(config: Config) -> str:
    """The address phones reach this box at, when the switch listens on a wildcard."""
    if config.sip.public_address:
        return config.sip.public_address
    for address in config.sip.listen:
        if not _wildcard(address.host):
            return address.host
    try:
        # Connecting a UDP socket sends nothing; it only asks the kernel for the route.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routable address will do
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def tune_gc() -> None:
    """Fewer cyclic-GC passes: the message path allocates many short-lived, acyclic
    objects, and with 10^5 live transactions each full collection costs milliseconds.
    Startup objects are frozen out of the collector's view altogether."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def serve(config: Config) -> None:
    switch = Switch(config)
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await switch.start()
        print(f"switch ready: domain {config.sip.domain}", flush=True)  # noqa: T201
        await stop.wait()
        log.info("stopping")
    finally:
        switch.stop()


def raise_file_limit() -> None:
    """Every relayed call holds four UDP sockets: lift the soft descriptor limit (often
    1024) to the hard one so a few hundred calls do not exhaust it."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError):
        log.warning("could not raise the open-file limit; calls may hit it")


def run(config: Config, *, loop_kind: str = "uvloop") -> int:
    logging.basicConfig(
        level=config.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    raise_file_limit()
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(serve(config))
    else:
        asyncio.run(serve(config))
    return 0
