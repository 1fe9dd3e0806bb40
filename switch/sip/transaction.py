"""RFC 3261 §17 transactions, sans-I/O, with the RFC 6026 "Accepted" states.

Theory of operation
-------------------
`TransactionLayer` owns every client and server transaction. Messages come in as
parsed objects with the flow they arrived on and the current time; what the layer
wants done comes out of `drain()`: `Outgoing` bytes for the transport and events for
the transaction user (TU). The layer never sleeps: `get_timer()` reports the earliest
deadline and `handle_timer(now)` fires everything due. Timers are named as in the
RFC (A, B, D, E, F, G, H, I, J, K, L, M) and computed from T1/T2/T4.

Unreliable transports (UDP) retransmit; reliable ones (TCP) do not and their
"wait" timers (D, I, J, K) are zero, exactly as the RFC's timer table says.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from switch.sip.flow import Flow, Outgoing
from switch.sip.headers import CSeq, Via
from switch.sip.message import Request, Response

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True, slots=True)
class TimerConfig:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


# -- events for the transaction user -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """A new request. For CANCEL, `cancelled` is the INVITE server transaction it hits."""

    transaction: ServerTransaction
    request: Request
    cancelled: ServerTransaction | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AckReceived:
    """An ACK outside any transaction: the ACK for a 2xx, for the dialog layer."""

    request: Request
    flow: Flow


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    transaction: ClientTransaction
    response: Response


@dataclass(frozen=True, slots=True, kw_only=True)
class StrayResponse:
    """A response matching no client transaction (e.g. a 2xx retransmission)."""

    response: Response
    flow: Flow


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionTimeout:
    """Timer B/F (client: treat as 408) or H (server: no ACK came)."""

    transaction: ClientTransaction | ServerTransaction


Event = RequestReceived | AckReceived | ResponseReceived | StrayResponse | TransactionTimeout


def server_key(request: Request, via: Via) -> tuple[object, ...]:
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return (branch, via.host.lower(), via.port, method)
    # RFC 2543 peers: match on the classic dialog and request identifiers (§17.2.3).
    return ("2543", request.call_id, request.from_.tag, request.cseq.number, str(via), method)


def _client_key(branch: str, method: str) -> tuple[str, str]:
    return (branch, "INVITE" if method == "ACK" else method)


class ServerTransaction:
    __slots__ = (
        "key",
        "request",
        "method",
        "flow",
        "response_flow",
        "state",
        "is_invite",
        "last_response",
        "_last_bytes",
        "deadlines",
        "_g_interval",
    )

    def __init__(self, key: tuple[object, ...], request: Request, flow: Flow, response_flow: Flow):
        self.key = key
        # Released when a non-INVITE transaction completes: for its last 64*T1 seconds it
        # only answers retransmissions with stored bytes, and at thousands of requests a
        # second the parsed requests would otherwise dominate memory and GC time.
        self.request: Request | None = request
        self.method = request.method
        self.flow = flow
        self.response_flow = response_flow
        self.is_invite = request.method == "INVITE"
        self.state = State.PROCEEDING if self.is_invite else State.TRYING
        self.last_response: Response | None = None
        self._last_bytes: bytes | None = None
        self.deadlines: dict[str, float] = {}
        self._g_interval = 0.0

    def __repr__(self) -> str:
        return f"<ServerTransaction {self.method} {self.state.value} {self.key[0]}>"


class ClientTransaction:
    __slots__ = (
        "key",
        "request",
        "flow",
        "state",
        "is_invite",
        "_request_bytes",
        "_ack_bytes",
        "deadlines",
        "_interval",
        "context",
    )

    def __init__(self, key: tuple[str, str], request: Request, flow: Flow, context: object):
        self.key = key
        self.request = request
        self.flow = flow
        self.is_invite = request.method == "INVITE"
        self.state = State.CALLING if self.is_invite else State.TRYING
        self._request_bytes = request.to_bytes()
        self._ack_bytes: bytes | None = None
        self.deadlines: dict[str, float] = {}
        self._interval = 0.0
        self.context = context

    def __repr__(self) -> str:
        return f"<ClientTransaction {self.request.method} {self.state.value} {self.key[0]}>"


def response_flow(via: Via, flow: Flow) -> Flow:
    """Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4)."""
    if flow.reliable:
        return flow
    maddr = via.params.get("maddr")
    if maddr:
        return flow.with_remote((maddr, via.port or 5060))
    if via.params.get("rport"):
        return flow  # rport filled in: answer to the packet's source address and port
    received = via.params.get("received") or via.host
    return flow.with_remote((received, via.port or 5060))


class TransactionLayer:
    def __init__(self, timers: TimerConfig | None = None) -> None:
        self.timers = timers or TimerConfig()
        self.server: dict[tuple[object, ...], ServerTransaction] = {}
        self.client: dict[tuple[str, str], ClientTransaction] = {}
        self._heap: list[tuple[float, int, str, ServerTransaction | ClientTransaction]] = []
        self._seq = itertools.count()
        self._out: list[Outgoing] = []
        self._events: list[Event] = []
        self.branch_factory: Callable[[], str] | None = None

    # -- outputs --------------------------------------------------------------------
    def drain(self) -> tuple[list[Outgoing], list[Event]]:
        out, events = self._out, self._events
        self._out, self._events = [], []
        return out, events

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, name, txn = heap[0]
            if txn.deadlines.get(name) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def _arm(self, txn: ServerTransaction | ClientTransaction, name: str, deadline: float) -> None:
        txn.deadlines[name] = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), name, txn))

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, name, txn = heapq.heappop(heap)
            if txn.deadlines.get(name) != deadline:
                continue  # cancelled or re-armed
            del txn.deadlines[name]
            if isinstance(txn, ServerTransaction):
                self._server_timer(txn, name, now)
            else:
                self._client_timer(txn, name, now)

    # -- server side ------------------------------------------------------------------
    def receive_request(self, request: Request, flow: Flow, now: float
                        ) -> ServerTransaction | None:
        """Match or create the server transaction; returns it (None for a stray ACK)."""
        via = request.vias[0]
        key = server_key(request, via)
        txn = self.server.get(key)
        method = request.method
        if txn is not None:
            if method == "ACK":
                self._server_ack(txn, request, flow, now)
            else:
                self._server_retransmission(txn)
            return txn
        if method == "ACK":
            self._events.append(AckReceived(request=request, flow=flow))
            return None
        txn = ServerTransaction(key, request, flow, response_flow(via, flow))
        self.server[key] = txn
        cancelled = None
        if method == "CANCEL":
            invite_key = (*key[:-1], "INVITE")
            cancelled = self.server.get(invite_key)
        self._events.append(RequestReceived(transaction=txn, request=request, cancelled=cancelled))
        return txn

    def absorb_retransmission(self, txn: ServerTransaction) -> bool:
        """An exact copy of `txn`'s request arrived (matched before parsing).

        False when the transaction has ended: the copy is then a new request.
        """
        if txn.state is State.TERMINATED or self.server.get(txn.key) is not txn:
            return False
        self._server_retransmission(txn)
        return True

    def _server_retransmission(self, txn: ServerTransaction) -> None:
        # Trying absorbs silently; later states repeat the last response (§17.2.1, §17.2.2).
        if txn._last_bytes is not None and txn.state in (
            State.PROCEEDING,
            State.COMPLETED,
        ):
            self._out.append(Outgoing(txn._last_bytes, txn.response_flow))

    def _server_ack(self, txn: ServerTransaction, request: Request, flow: Flow,
                    now: float) -> None:
        if txn.state is State.COMPLETED and txn.is_invite:
            txn.state = State.CONFIRMED
            txn.deadlines.pop("G", None)
            txn.deadlines.pop("H", None)
            self._linger(txn, "I", 0.0 if txn.flow.reliable else self.timers.t4, now)
        elif txn.state is State.ACCEPTED:
            # RFC 6026 §7.1: an ACK matching an Accepted transaction (an RFC 2543 peer,
            # or a UA reusing the INVITE's branch) acknowledges the 2xx: the TU's business.
            self._events.append(AckReceived(request=request, flow=flow))
        # ACKs in Confirmed are absorbed (§17.2.1).

    def respond(self, txn: ServerTransaction, response: Response, now: float) -> None:
        """Send a response from the TU through its server transaction."""
        if txn.state in (State.COMPLETED, State.CONFIRMED, State.TERMINATED):
            return  # the final answer is already out; a late TU response is dropped
        if txn.state is State.ACCEPTED:
            # RFC 6026 §7.1: only 2xx retransmissions from the TU pass, and they leave
            # the state (and Timer L) as it is.
            if 200 <= response.status < 300:
                txn.last_response = response
                self._out.append(Outgoing(response.to_bytes(), txn.response_flow))
            return
        data = response.to_bytes()
        txn.last_response = response
        txn._last_bytes = data
        self._out.append(Outgoing(data, txn.response_flow))
        status = response.status
        if status < 200:
            if txn.state is State.TRYING:
                txn.state = State.PROCEEDING
            return
        t1 = self.timers.t1
        if txn.is_invite:
            if status < 300:
                # RFC 6026 Accepted: absorb INVITE retransmissions (answered again by the TU
                # via the 2xx it retransmits), pass 2xx ACKs up; Timer L ends it.
                txn.state = State.ACCEPTED
                txn._last_bytes = None
                self._linger(txn, "L", 64 * t1, now)
            else:
                txn.state = State.COMPLETED
                if not txn.flow.reliable:
                    txn._g_interval = t1
                    self._arm(txn, "G", now + t1)
                self._arm(txn, "H", now + 64 * t1)
        else:
            txn.state = State.COMPLETED
            txn.request = None
            txn.last_response = None
            self._linger(txn, "J", 0.0 if txn.flow.reliable else 64 * t1, now)

    def _linger(self, txn: ServerTransaction | ClientTransaction, timer: str, delay: float,
                now: float) -> None:
        if delay <= 0:
            self._terminate(txn)
        else:
            self._arm(txn, timer, now + delay)

    def _server_timer(self, txn: ServerTransaction, name: str, now: float) -> None:
        if name == "G" and txn.state is State.COMPLETED and txn._last_bytes is not None:
            self._out.append(Outgoing(txn._last_bytes, txn.response_flow))
            txn._g_interval = min(2 * txn._g_interval, self.timers.t2)
            self._arm(txn, "G", now + txn._g_interval)
        elif name == "H":
            txn.deadlines.clear()
            self._terminate(txn)
            self._events.append(TransactionTimeout(transaction=txn))
        elif name in ("I", "J", "L"):
            self._terminate(txn)

    # -- client side ------------------------------------------------------------------
    def send_request(self, request: Request, flow: Flow, now: float,
                     context: object = None) -> ClientTransaction:
        """Start a client transaction; the request's top Via must carry a fresh branch."""
        branch = request.vias[0].branch
        if not branch:
            raise ValueError("client request needs a branch in its top Via")
        key = _client_key(branch, request.method)
        txn = ClientTransaction(key, request, flow, context)
        self.client[key] = txn
        self._out.append(Outgoing(txn._request_bytes, flow))
        t1 = self.timers.t1
        if not flow.reliable:
            txn._interval = t1
            self._arm(txn, "A" if txn.is_invite else "E", now + t1)
        self._arm(txn, "B" if txn.is_invite else "F", now + 64 * t1)
        return txn

    def receive_response(self, response: Response, flow: Flow, now: float) -> None:
        via = response.vias[0]
        branch = via.branch or ""
        txn = self.client.get(_client_key(branch, response.cseq.method))
        if txn is None:
            self._events.append(StrayResponse(response=response, flow=flow))
            return
        status = response.status
        state = txn.state
        if state in (State.CALLING, State.TRYING, State.PROCEEDING):
            if status < 200:
                if state is not State.PROCEEDING:
                    # INVITE stops retransmitting and Timer B only applies in Calling
                    # (§17.1.1.2); non-INVITE keeps Timers E and F, E from now on
                    # re-arming at T2 (§17.1.2.2).
                    txn.state = State.PROCEEDING
                    txn.deadlines.pop("A", None)
                    txn.deadlines.pop("B", None)
                self._events.append(ResponseReceived(transaction=txn, response=response))
                return
            txn.deadlines.clear()
            self._events.append(ResponseReceived(transaction=txn, response=response))
            if txn.is_invite:
                if status < 300:
                    txn.state = State.ACCEPTED
                    self._arm(txn, "M", now + 64 * self.timers.t1)
                else:
                    txn.state = State.COMPLETED
                    txn._ack_bytes = build_ack(txn.request, response).to_bytes()
                    self._out.append(Outgoing(txn._ack_bytes, txn.flow))
                    self._linger(txn, "D", 0.0 if txn.flow.reliable else 32.0, now)
            else:
                txn.state = State.COMPLETED
                self._linger(txn, "K", 0.0 if txn.flow.reliable else self.timers.t4, now)
        elif state is State.COMPLETED:
            if txn.is_invite and status >= 300 and txn._ack_bytes is not None:
                self._out.append(Outgoing(txn._ack_bytes, txn.flow))
        elif state is State.ACCEPTED and 200 <= status < 300:
            self._events.append(ResponseReceived(transaction=txn, response=response))

    def _client_timer(self, txn: ClientTransaction, name: str, now: float) -> None:
        if name in ("A", "E"):
            self._out.append(Outgoing(txn._request_bytes, txn.flow))
            if name == "A" or txn.state is State.TRYING:
                txn._interval = 2 * txn._interval
                if name == "E":
                    txn._interval = min(txn._interval, self.timers.t2)
            else:
                txn._interval = self.timers.t2
            self._arm(txn, name, now + txn._interval)
        elif name in ("B", "F"):
            txn.deadlines.clear()
            self._terminate(txn)
            self._events.append(TransactionTimeout(transaction=txn))
        elif name in ("D", "K", "M"):
            self._terminate(txn)

    def _terminate(self, txn: ServerTransaction | ClientTransaction) -> None:
        txn.state = State.TERMINATED
        txn.deadlines.clear()
        if isinstance(txn, ServerTransaction):
            if self.server.get(txn.key) is txn:
                del self.server[txn.key]
        elif self.client.get(txn.key) is txn:
            del self.client[txn.key]


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK a client INVITE transaction sends for a non-2xx final (§17.1.1.3)."""
    headers = [(name, value) for name, value in invite.headers if name == "Route"]
    return Request(
        "ACK",
        invite.uri,
        vias=[invite.vias[0]],
        max_forwards=70,
        from_=invite.from_,
        to=response.to,
        call_id=invite.call_id,
        cseq=CSeq(invite.cseq.number, "ACK"),
        headers=headers,
    )
