"""The SIP application core, sans-I/O: bytes in, bytes out, registrar and OPTIONS.

`SipEndpoint.receive(data, flow, now, wall)` takes one datagram or one framed stream
message. It absorbs exact UDP retransmissions before parsing, answers malformed
requests statelessly, stamps received/rport on the top Via, drives the transaction
layer and acts as the transaction user for REGISTER and OPTIONS.

Answers that depend on durable state (a 200 to REGISTER) are *held*: the runtime
persists `take_writes()` in one group commit and only then calls `release_held()`,
which sends them. `now` is monotonic time (protocol timers), `wall` is epoch seconds
(binding expiry, which must survive a restart).
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass

from switch.auth import BruteForceGuard, DigestAuthenticator, Verdict
from switch.calls import CallManager
from switch.registrar import BindingChange, Registrar
from switch.sip.errors import SipParseError
from switch.sip.flow import Flow, Outgoing
from switch.sip.message import Request, Response, parse_message
from switch.sip.stateless import error_response
from switch.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    StrayResponse,
    TransactionLayer,
    TransactionTimeout,
    response_flow,
)
from switch.sip.uri import SipUri

log = logging.getLogger("switch.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"
SUPPORTED_EXTENSIONS = frozenset({"path", "outbound", "gruu"})
NOT_YET = frozenset({"INVITE", "INFO", "UPDATE", "REFER", "NOTIFY", "SUBSCRIBE",
                     "MESSAGE", "PRACK", "PUBLISH"})


@dataclass(slots=True)
class _Held:
    txn: ServerTransaction
    response: Response


class SipEndpoint:
    def __init__(
        self,
        *,
        transactions: TransactionLayer,
        registrar: Registrar,
        authenticator: DigestAuthenticator,
        guard: BruteForceGuard,
        server_header: str,
        max_message_bytes: int = 65535,
        calls: CallManager | None = None,
    ) -> None:
        self.transactions = transactions
        self.registrar = registrar
        self.auth = authenticator
        self.guard = guard
        self.server_header = server_header
        self.max_message_bytes = max_message_bytes
        self.calls = calls
        self._out: list[Outgoing] = []
        self._held: list[_Held] = []
        self._writes: list[BindingChange] = []
        self._tag_prefix = os.urandom(4).hex()
        self._tags = itertools.count(1)
        # Exact UDP retransmissions, answered before parsing: two generations of
        # datagram -> server transaction, rotated every 64*T1 (the longest it can matter).
        self._recent: dict[bytes, ServerTransaction] = {}
        self._older: dict[bytes, ServerTransaction] = {}
        self._rotate_at: float | None = None
        self.stats = {"received": 0, "parse_errors": 0, "absorbed": 0, "shed": 0}
        # Share of new registration attempts to answer 503, set by the runtime's overload
        # control (Runtime._probe_load); 0.0 in normal operation.
        self.shed_share = 0.0
        self._shed_credit = 0.0
        self._retry_counter = 0

    # -- I/O boundary -----------------------------------------------------------------
    def drain(self) -> list[Outgoing]:
        out, more = self._out, None
        tx_out, events = self.transactions.drain()
        while tx_out or events:
            out += tx_out
            for event in events:
                self._on_event(event)
            more, events = self.transactions.drain()
            tx_out = more
        if self.calls is not None:
            out += self.calls.drain_raw()
        self._out = []
        return out

    def take_writes(self) -> list[BindingChange]:
        writes, self._writes = self._writes, []
        return writes

    def has_held(self) -> bool:
        return bool(self._held) or (self.calls is not None and self.calls.has_held())

    def release_held(self, now: float, *, failed: bool = False) -> None:
        """Send the answers that waited for durability (500 instead if the write failed)."""
        held, self._held = self._held, []
        for item in held:
            response = item.response
            if failed and item.txn.request is not None:
                response = item.txn.request.make_response(
                    500, "Storage Failure", to_tag=self._new_tag(),
                    headers=[("Retry-After", "5")],
                )
            self.transactions.respond(item.txn, response, now)
        if self.calls is not None:
            self.calls.release_held(now)

    def get_timer(self) -> float | None:
        deadline = self.transactions.get_timer()
        if self.calls is not None:
            calls = self.calls.get_timer()
            if calls is not None and (deadline is None or calls < deadline):
                deadline = calls
        return deadline

    def handle_timer(self, now: float, wall: float = 0.0) -> None:
        self._now, self._wall = now, wall
        self.transactions.handle_timer(now)
        if self.calls is not None:
            self.calls.handle_timer(now, wall)

    # -- input ------------------------------------------------------------------------
    def receive(self, data: bytes, flow: Flow, now: float, wall: float) -> None:
        self.stats["received"] += 1
        self._now, self._wall = now, wall
        if not flow.reliable:
            if self._rotate_at is None or now >= self._rotate_at:
                # Retransmissions come within T2 of each other, so a window of 2*T2 per
                # generation catches nearly all; a miss only costs a parse, never
                # correctness (the transaction layer still matches the copy).
                self._older, self._recent = self._recent, {}
                self._rotate_at = now + 2 * self.transactions.timers.t2
            txn = self._recent.get(data) or self._older.get(data)
            if (txn is not None and txn.flow.remote == flow.remote
                    and self.transactions.absorb_retransmission(txn)):
                self.stats["absorbed"] += 1
                return
            if len(data) > self.max_message_bytes:
                self._reject(data, flow, SipParseError("Message too large", 513))
                return
        try:
            message = parse_message(data, datagram=not flow.reliable)
            if isinstance(message, Request):
                self._stamp_via(message, flow)
        except SipParseError as exc:
            self._reject(data, flow, exc)
            return
        if isinstance(message, Response):
            try:
                self.transactions.receive_response(message, flow, now)
            except SipParseError as exc:
                log.info("dropped malformed response from %s: %s", flow.remote, exc.reason)
            return
        # A non-SIP Request-URI is answered 416 before any challenge (§10.3 step 1).
        if self._challenge_statelessly(message):
            try:
                self._stateless_challenge(message, flow)
            except SipParseError as exc:  # To is parsed lazily, here for the first time
                self._reject(data, flow, exc)
            return
        try:
            txn = self.transactions.receive_request(message, flow, now)
        except SipParseError as exc:
            self._reject(data, flow, exc)
            return
        if txn is not None and not flow.reliable and message.method != "ACK":
            self._recent[data] = txn

    def _shed_this_one(self) -> bool:
        """Deterministic thinning: exactly `shed_share` of the attempts, evenly spread."""
        self._shed_credit += self.shed_share
        if self._shed_credit >= 1.0:
            self._shed_credit -= 1.0
            return True
        return False

    def _retry_after(self) -> int:
        """Spread the retries of shed clients over 5..34 s so they do not return at once."""
        self._retry_counter = (self._retry_counter + 7) % 30
        return 5 + self._retry_counter

    def _challenge_statelessly(self, request: Request) -> bool:
        """A REGISTER without Authorization, or a new call's INVITE without
        Proxy-Authorization: the challenge needs no state (a non-SIP Request-URI is
        answered 416 first, §10.3 step 1; Require goes through the checks)."""
        method = request.method
        if method == "REGISTER":
            header = "Authorization"
        elif method == "INVITE" and self.calls is not None:
            header = "Proxy-Authorization"
            if ";tag=" in str(request._to).replace(" ", "").lower():
                return False  # a re-INVITE inside a dialog
        else:
            return False
        return (request.get(header) is None and not request.get_all("Require")
                and request.has_sip_uri())

    def _stateless_challenge(self, request: Request, flow: Flow) -> None:
        """401 (REGISTER) or 407 (INVITE) without credentials, sent without a transaction.

        RFC 3261 §8.2.7 names challenges as the typical job of a stateless UAS: a
        retransmitted request simply gets a fresh challenge (and the ACK of a 407 is
        dropped as matching nothing), so no state is kept for the half of registration
        and call-setup traffic that carries no credentials.
        """
        via = request.vias[0]
        if self.guard.is_blocked(flow.remote[0], self._now):
            status, reason, headers = 403, "Forbidden", [("Server", self.server_header)]
        elif self.shed_share and self._shed_this_one():
            # Shed new registration attempts first: the ones already challenged finish,
            # so throughput stays at capacity instead of collapsing into retransmissions.
            self.stats["shed"] += 1
            status, reason = 503, "Service Unavailable"
            headers = [("Server", self.server_header),
                       ("Retry-After", str(self._retry_after()))]
        elif request.method == "INVITE":
            status, reason = 407, "Proxy Authentication Required"
            headers = [("Server", self.server_header)]
            headers += [("Proxy-Authenticate", c) for c in self.auth.challenges(self._now)]
        else:
            status, reason = 401, "Unauthorized"
            headers = [("Server", self.server_header)]
            headers += [("WWW-Authenticate", c) for c in self.auth.challenges(self._now)]
        response = request.make_response(status, reason, to_tag=self._new_tag(),
                                         headers=headers)
        self._out.append(Outgoing(response.to_bytes(), response_flow(via, flow)))

    def _reject(self, data: bytes, flow: Flow, exc: SipParseError) -> None:
        self.stats["parse_errors"] += 1
        answer = error_response(data, exc.status, exc.reason, self._new_tag())
        if answer is None:
            log.info("dropped unparseable message from %s: %s", flow.remote, exc.reason)
            return
        log.info("answered %d %s to %s", exc.status, exc.reason, flow.remote)
        self._out.append(Outgoing(answer, flow))

    @staticmethod
    def _stamp_via(request: Request, flow: Flow) -> None:
        """RFC 3261 §18.2.1 received and RFC 3581 rport on the top Via."""
        via = request.vias[0]
        host, port = flow.remote
        rport = "rport" in via.params
        if via.host == host and not rport:
            return
        request.vias[0] = via.stamped(host, port if rport else None)

    # -- transaction user ---------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if isinstance(event, RequestReceived):
            try:
                self._on_request(event.transaction, event.request, event.cancelled)
            except SipParseError as exc:
                self._respond(event.transaction, exc.status, exc.reason)
        elif isinstance(event, ResponseReceived):
            if self.calls is not None:
                self.calls.on_response(event.transaction, event.response, self._now, self._wall)
        elif isinstance(event, AckReceived):
            if self.calls is not None:
                self.calls.on_ack(event.request, self._now, self._wall)
        elif isinstance(event, StrayResponse):
            if self.calls is not None:
                self.calls.on_stray_response(event.response, self._now)
        elif isinstance(event, TransactionTimeout):
            log.debug("transaction timed out: %r", event.transaction)
            if self.calls is not None:
                self.calls.on_timeout(event.transaction, self._now, self._wall)

    def _on_request(
        self, txn: ServerTransaction, request: Request, cancelled: ServerTransaction | None
    ) -> None:
        source = txn.flow.remote[0]
        if self.guard.is_blocked(source, self._now):
            self._respond(txn, 403, "Forbidden")
            return
        method = request.method
        if method == "CANCEL":
            self._respond(txn, 481 if cancelled is None else 200)
            if cancelled is not None and self.calls is not None:
                self.calls.on_cancel(cancelled, self._now, self._wall)
            return
        unsupported = self._unsupported(request)
        if unsupported:
            self._respond(txn, 420, headers=[("Unsupported", ", ".join(unsupported))])
            return
        if request.to.tag is not None and method != "REGISTER":
            # Inside a dialog: only a call we hold can own it (§12.2.2: else 481).
            if self.calls is None or not self.calls.on_in_dialog(txn, request, self._now,
                                                                 self._wall):
                self._respond(txn, 481)
            return
        if method == "INVITE" and self.calls is not None:
            self._on_invite(txn, request)
        elif method == "BYE":
            self._respond(txn, 481)
        elif method == "REGISTER":
            self._on_register(txn, request)
        elif method == "OPTIONS":
            self._respond(txn, 200, headers=[
                ("Allow", ALLOW), ("Accept", "application/sdp"),
                ("Supported", "path, outbound"),
            ])  # fmt: skip
        elif method in NOT_YET:
            self._respond(txn, 501, "Not Implemented Yet", headers=[("Allow", ALLOW)])
        else:
            self._respond(txn, 405, headers=[("Allow", ALLOW)])

    @staticmethod
    def _unsupported(request: Request) -> list[str]:
        needed: list[str] = []
        for value in request.get_all("Require") + request.get_all("Proxy-Require"):
            needed += [item.strip() for item in value.split(",") if item.strip()]
        return [item for item in needed if item.lower() not in SUPPORTED_EXTENSIONS]

    def _on_invite(self, txn: ServerTransaction, request: Request) -> None:
        """Out-of-dialog INVITE: the caller proves who it is (407), then the call starts."""
        assert self.calls is not None
        now, source = self._now, txn.flow.remote[0]
        if not request.has_sip_uri():
            self._respond(txn, 416)
            return
        result = self.auth.verify(request.get("Proxy-Authorization"), "INVITE", now)
        if result.verdict is not Verdict.OK:
            if result.verdict is Verdict.FAILED:
                log.info("call authentication failed for %r from %s: %s",
                         result.username, source, result.reason)
                if self.guard.record_failure(source, now):
                    log.warning("blocking %s for %.0f s after repeated authentication failures",
                                source, self.guard.cooldown)
            headers = [("Proxy-Authenticate", c)
                       for c in self.auth.challenges(now, stale=result.verdict is Verdict.STALE)]
            self._respond(txn, 407, headers=headers)
            return
        self.guard.record_success(source)
        self.calls.on_invite(txn, request, result.username or "", now, self._wall)

    def _on_register(self, txn: ServerTransaction, request: Request) -> None:
        now, source = self._now, txn.flow.remote[0]
        to_uri = request.to.uri
        if not isinstance(to_uri, SipUri) or not request.has_sip_uri():
            self._respond(txn, 416)
            return
        result = self.auth.verify(request.get("Authorization"), request.method, now)
        verdict = result.verdict
        if verdict is not Verdict.OK:
            if verdict is Verdict.FAILED:
                log.info("authentication failed for %r from %s: %s",
                         result.username, source, result.reason)
                if self.guard.record_failure(source, now):
                    log.warning("blocking %s for %.0f s after repeated authentication failures",
                                source, self.guard.cooldown)
            self._challenge(txn, stale=verdict is Verdict.STALE)
            return
        self.guard.record_success(source)
        extension = result.username or ""
        if to_uri.user_unescaped != extension:
            self._respond(txn, 403, "Not Allowed To Register This Address")
            return
        outcome = self.registrar.register(request, extension, txn.flow, self._wall, self._new_tag())
        if outcome.changes:
            self._writes += outcome.changes
            self._held.append(_Held(txn, outcome.response))
        else:
            self.transactions.respond(txn, outcome.response, now)

    def _challenge(self, txn: ServerTransaction, *, stale: bool) -> None:
        headers = [("WWW-Authenticate", c) for c in self.auth.challenges(self._now, stale=stale)]
        self._respond(txn, 401, headers=headers)

    def _respond(
        self, txn: ServerTransaction, status: int, reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if txn.request is None:
            return  # already answered with a final response
        all_headers = [("Server", self.server_header)]
        if headers:
            all_headers += headers
        response = txn.request.make_response(
            status, reason, to_tag=self._new_tag(), headers=all_headers
        )
        self.transactions.respond(txn, response, self._now)

    def _new_tag(self) -> str:
        return f"{self._tag_prefix}{next(self._tags):x}"
