"""Building the switch from its configuration and running it until a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import signal
import sys
import time

from config import Config
from switch.aio.runtime import Runtime
from switch.auth import BruteForceGuard, DigestAuthenticator
from switch.endpoint import SipEndpoint
from switch.registrar import Registrar, RegistrarPolicy
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
        self.runtime: Runtime | None = None

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
        runtime.start_housekeeping()
        runtime.start_load_probe()

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.close()
        self.store.close()


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


def run(config: Config, *, loop_kind: str = "uvloop") -> int:
    logging.basicConfig(
        level=config.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(serve(config))
    else:
        asyncio.run(serve(config))
    return 0
