"""Back-to-back user agent for calls between extensions, sans-I/O.

Theory of operation
-------------------
A call is two independent dialogs. The caller's INVITE (leg A, the switch is UAS) is
answered 100, authenticated by the endpoint before it gets here, routed by the dialled
extension, and forked in parallel to every registered contact of the callee (leg B,
the switch is UAC; one Call-ID and From tag for all forks, one client transaction per
contact). The first 2xx wins: the other forks are cancelled, the winner is ACKed, and
the caller gets a 200 whose SDP points at the switch's media relay. Either side's BYE
ends both dialogs; re-INVITEs (hold/resume) are passed through with SDP rewritten (one
without SDP is answered by the switch itself with an offer of the leg's current media);
CANCEL, busy, no answer, unknown and unregistered callees end in the statuses a
telephone engineer expects (487, 486, 480, 404, 480).

Everything is driven by method calls carrying the time (`now` monotonic for timers,
`wall` epoch for CDRs); SIP goes out through the sans-I/O transaction layer, ACKs for
2xx through `drain_raw()`, media through the `MediaBackend` seam, records through the
CDR store. `get_timer()` / `handle_timer(now)` cover ring time, 2xx retransmission,
the maximum call duration and cleanup.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Protocol

from media.dtmf.errors import DtmfInfoError
from media.dtmf.sipinfo import parse_info
from switch.control import CallEvent, DtmfReceived, PromptFinished
from switch.registrar import Binding
from switch.sip.dialog import Dialog, new_call_id, new_tag
from switch.sip.flow import Flow, Outgoing
from switch.sip.message import Request, Response
from switch.sip.transaction import ClientTransaction, ServerTransaction, TransactionLayer

log = logging.getLogger("switch.calls")


class State(Enum):
    ROUTING = "routing"  # forks out, no answer yet
    ANSWERED = "answered"  # 200 sent to the caller, waiting for its ACK
    CONFIRMED = "confirmed"
    ENDED = "ended"


class SdpPlanner(Protocol):
    """The SDP side of a call: rewrite offers and answers across the two legs."""

    def offer_to_callee(self, call: Call, offer: bytes) -> bytes: ...

    # Late offer (RFC 3261 §13.2.1): the caller's INVITE has no SDP. The switch offers
    # to the callee itself, offers to the caller in its 200, and gets the answer in the
    # caller's ACK.
    def own_offer_to_callee(self, call: Call) -> bytes: ...

    def offer_to_caller(self, call: Call, answer: bytes) -> bytes: ...

    def answer_from_caller(self, call: Call, answer: bytes) -> None: ...

    def answer_to_caller(self, call: Call, answer: bytes) -> bytes: ...

    # Early media: a callee's 18x with SDP is answered to the caller in a 183 and its
    # media relayed before the 200 (whose answer to the caller must be the same).
    def early_answer_to_caller(self, call: Call, answer: bytes) -> bytes: ...

    def reoffer(self, call: Call, from_caller: bool, offer: bytes) -> bytes: ...

    def reanswer(self, call: Call, from_caller: bool, answer: bytes) -> bytes: ...

    # A re-INVITE without SDP (a session refresh, or a phone asking for an offer): the
    # switch offers that leg its current media in the 200 and reads the answer in the
    # ACK, without disturbing the other leg (RFC 3261 §14.2, RFC 6337 §5.3).
    def refresh_offer(self, call: Call, to_caller: bool) -> bytes: ...

    def refresh_answer(self, call: Call, from_caller: bool, answer: bytes) -> None: ...

    def release(self, call: Call) -> None: ...

    def send_digit(self, call: Call, to_caller: bool, digit: str, duration_ms: int) -> None:
        """Play a digit to one party the way its phone negotiated (DTMF conversion)."""
        ...


class CdrSink(Protocol):
    def open_call(self, call_id: str, caller: str, callee: str, start: float) -> None: ...

    def answer(self, call_id: str, at: float) -> None: ...

    def close_call(self, call_id: str, end: float, disposition: str, hangup_side: str | None,
                   sip_cause: int | None) -> None: ...


class SdpRejected(Exception):
    """The offer cannot be served: 488 (no common codec), 400 (malformed), 503 (no ports)."""

    def __init__(self, reason: str, status: int = 488) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class CallPolicy:
    ring_timeout: float = 30.0
    max_duration: float = 3600.0
    domain: str = "localhost"
    user_agent: str = "softswitch"


@dataclass(slots=True)
class Fork:
    binding: Binding
    dialog: Dialog
    txn: ClientTransaction
    invite: Request
    provisional: bool = False
    done: bool = False
    status: int | None = None
    cancel_when_provisional: bool = False


@dataclass(slots=True)
class PendingReinvite:
    from_caller: bool
    server_txn: ServerTransaction
    client_txn: ClientTransaction | None = None


@dataclass(eq=False, slots=True)
class PendingOk:
    """A 2xx to an INVITE or re-INVITE from one leg, retransmitted by the switch until
    its ACK (§13.3.1.4). `offered`: the 2xx carries the switch's offer (late offer, or
    a re-INVITE without SDP), so the ACK carries the answer."""

    from_caller: bool
    txn: ServerTransaction
    response: Response
    cseq: int
    interval: float
    offered: bool = False


@dataclass(eq=False, slots=True)
class Call:
    call_id: str  # the caller's Call-ID: the CDR key
    caller: str
    callee: str
    a_txn: ServerTransaction
    a_invite: Request
    a_dialog: Dialog
    b_call_id: str
    b_from_tag: str
    started: float
    state: State = State.ROUTING
    forks: list[Fork] = field(default_factory=list)
    b_dialog: Dialog | None = None
    b_invite_cseq: int = 1
    unacked: PendingOk | None = None  # our latest 2xx to an INVITE, until it is ACKed
    unacked_next: float | None = None  # its next retransmission
    unacked_give_up: float | None = None
    ring_deadline: float | None = None
    end_deadline: float | None = None
    ringing_sent: bool = False
    early_media: bool = False  # the caller got a 183 with the answer to its offer
    reinvite: PendingReinvite | None = None
    media: dict[str, object] = field(default_factory=dict)  # for the SDP planner
    hangup_side: str | None = None
    late_offer: bool = False  # the caller's INVITE had no SDP: its answer comes in the ACK


def best_status(statuses: list[int]) -> int:
    """RFC 3261 §16.7 step 6, simplified: 6xx first, then busy, then the lowest class."""
    if not statuses:
        return 480
    six = [s for s in statuses if s >= 600]
    if six:
        return six[0]
    if 486 in statuses:
        return 486
    return min(statuses, key=lambda s: (s // 100, s))


class CallManager:
    def __init__(
        self,
        *,
        transactions: TransactionLayer,
        policy: CallPolicy,
        sdp: SdpPlanner,
        cdr: CdrSink,
        lookup: Callable[[str, float], list[Binding] | None],
        local_contact: Callable[[Flow], tuple[str, int, str]],
    ) -> None:
        """`lookup(extension, wall)`: None for an unknown extension, [] if unregistered.
        `local_contact(flow)`: (via host, via port, Contact header) for requests we send."""
        self.transactions = transactions
        self.policy = policy
        self.sdp = sdp
        self.cdr = cdr
        self.lookup = lookup
        self.local_contact = local_contact
        self.calls: dict[str, Call] = {}  # by A-leg Call-ID
        self.by_b_call_id: dict[str, Call] = {}
        self._raw: list[Outgoing] = []
        self._heap: list[tuple[float, int, Call, str]] = []
        # Answers that wait for the CDR group commit (write before you acknowledge).
        self._held: list[tuple[ServerTransaction, Response]] = []
        self._seq = itertools.count()
        # Call-control events for whatever drives calls (IVR, ACD); drained by the runtime.
        self.control_events: list[CallEvent] = []
        self.t1 = transactions.timers.t1
        self.t2 = transactions.timers.t2

    # -- outputs --------------------------------------------------------------------
    def has_held(self) -> bool:
        return bool(self._held)

    def release_held(self, now: float) -> None:
        """The CDRs are committed: send the answers that waited for them."""
        held, self._held = self._held, []
        for txn, response in held:
            self.transactions.respond(txn, response, now)

    def drain_raw(self) -> list[Outgoing]:
        raw, self._raw = self._raw, []
        return raw

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, call, name = heap[0]
            if getattr(call, name) == deadline and call.state is not State.ENDED:
                return deadline
            heapq.heappop(heap)  # cleared or re-armed since: stale
        return None

    def _arm(self, call: Call, name: str, deadline: float) -> None:
        """Set one of the call's deadlines; the heap keeps get_timer() O(log n)."""
        setattr(call, name, deadline)
        heapq.heappush(self._heap, (deadline, next(self._seq), call, name))

    def handle_timer(self, now: float, wall: float) -> None:
        due: list[Call] = []
        while (deadline := self.get_timer()) is not None and deadline <= now:
            _, _, call, _ = heapq.heappop(self._heap)
            if call not in due:
                due.append(call)
        for call in due:
            if call.ring_deadline is not None and now >= call.ring_deadline:
                call.ring_deadline = None
                log.info("call %s: no answer within %.0f s", call.call_id,
                         self.policy.ring_timeout)
                self._cancel_forks(call, now)
                self._fail_caller(call, 480, "No Answer", now, wall, disposition="NO ANSWER")
            pending = call.unacked
            if pending is not None and call.unacked_next is not None and now >= call.unacked_next:
                # §13.3.1.4: the UAS core retransmits its 2xx until the ACK arrives.
                self.transactions.respond(pending.txn, pending.response, now)
                pending.interval = min(2 * pending.interval, self.t2)
                self._arm(call, "unacked_next", now + pending.interval)
            if pending is not None and call.unacked_give_up is not None \
                    and now >= call.unacked_give_up:
                log.info("call %s: the %s never ACKed the 200; ending it", call.call_id,
                         "caller" if pending.from_caller else "callee")
                self._acked(call)
                self._hangup(call, now, wall, side="switch", cause=408)
            if call.end_deadline is not None and now >= call.end_deadline:
                call.end_deadline = None
                log.info("call %s: maximum duration reached", call.call_id)
                self._hangup(call, now, wall, side="switch", cause=200)

    # -- new calls ------------------------------------------------------------------
    def on_invite(self, txn: ServerTransaction, invite: Request, caller: str, now: float,
                  wall: float) -> None:
        """An authenticated out-of-dialog INVITE from `caller`."""
        callee = invite.uri.user_unescaped if hasattr(invite.uri, "user_unescaped") else None
        via_host, via_port, contact = self.local_contact(txn.flow)
        a_tag = new_tag()
        a_dialog = Dialog.as_uas(invite, a_tag, txn.flow, via_host=via_host,
                                 via_port=via_port, contact=contact)
        call = Call(
            call_id=invite.call_id, caller=caller, callee=callee or "", a_txn=txn,
            a_invite=invite, a_dialog=a_dialog, b_call_id=new_call_id(via_host),
            b_from_tag=new_tag(), started=wall,
        )
        self._respond(call, 100, now)
        self.cdr.open_call(call.call_id, caller, call.callee, wall)
        self.calls[call.call_id] = call
        self.by_b_call_id[call.b_call_id] = call
        bindings = self.lookup(call.callee, wall) if callee else None
        if bindings is None:
            self._fail_caller(call, 404, None, now, wall, disposition="FAILED")
            return
        if not bindings:
            self._fail_caller(call, 480, None, now, wall, disposition="FAILED")
            return
        call.late_offer = not invite.body
        try:
            if call.late_offer:
                offer = self.sdp.own_offer_to_callee(call)
            else:
                offer = self.sdp.offer_to_callee(call, invite.body)
        except SdpRejected as exc:
            log.info("call %s: %s", call.call_id, exc)
            self._fail_caller(call, exc.status, None, now, wall, disposition="FAILED")
            return
        caller_display = invite.from_.display
        for binding in bindings:
            self._fork(call, binding, offer, caller_display, now)
        self._arm(call, "ring_deadline", now + self.policy.ring_timeout)

    def _fork(self, call: Call, binding: Binding, offer: bytes, display: str | None,
              now: float) -> None:
        flow = Flow(binding.transport, (binding.source_host, binding.source_port),
                    (binding.local_host, binding.local_port))
        via_host, via_port, contact = self.local_contact(flow)
        name = f'"{display}" ' if display else ""
        dialog = Dialog(
            call_id=call.b_call_id, local_tag=call.b_from_tag, remote_tag=None,
            local_uri=f"{name}<sip:{call.caller}@{self.policy.domain}>",
            remote_uri=f"<sip:{call.callee}@{self.policy.domain}>",
            remote_target=binding.contact, route_set=[], local_cseq=call.b_invite_cseq - 1,
            remote_cseq=None, flow=flow, via_host=via_host, via_port=via_port,
            contact=contact,
        )
        invite = dialog.request(
            "INVITE", body=offer, content_type="application/sdp",
            headers=[("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
                     ("User-Agent", self.policy.user_agent)],
        )
        txn = self.transactions.send_request(invite, flow, now, context=call)
        call.forks.append(Fork(binding=binding, dialog=dialog, txn=txn, invite=invite))

    def _early_media(self, call: Call, response: Response, now: float) -> None:
        """The first 18x with SDP from any fork: 183 with the answer to the caller, and
        the relay carries that fork's early media. (With a late offer there is nothing
        to answer yet, and an offer may not go in an unreliable 18x: the caller gets 180.)"""
        try:
            answer = self.sdp.early_answer_to_caller(call, response.body)
        except SdpRejected as exc:
            log.info("call %s: early media unusable (%s); ringing instead", call.call_id, exc)
            if not call.ringing_sent:
                call.ringing_sent = True
                self._respond(call, 180, now)
            return
        call.early_media = call.ringing_sent = True
        log.info("call %s: early media from the callee (%d)", call.call_id, response.status)
        self.transactions.respond(call.a_txn, self._make_response(call, 183, body=answer), now)

    # -- responses on leg B -------------------------------------------------------------
    def on_response(self, txn: ClientTransaction, response: Response, now: float,
                    wall: float) -> None:
        call = txn.context
        if not isinstance(call, Call):
            return
        method = response.cseq.method
        if method == "INVITE":
            fork = next((f for f in call.forks if f.txn is txn), None)
            if fork is not None:
                self._fork_response(call, fork, response, now, wall)
            elif call.reinvite is not None and call.reinvite.client_txn is txn:
                self._reinvite_response(call, response, now, wall)
        # Responses to our BYE/CANCEL need nothing more: the legs are already gone.

    def _fork_response(self, call: Call, fork: Fork, response: Response, now: float,
                       wall: float) -> None:
        status = response.status
        if status < 200:
            if status > 100 and not fork.provisional:
                fork.provisional = True
                if fork.cancel_when_provisional:
                    self._send_cancel(fork, now)
                    return
            if status > 100 and call.state is State.ROUTING and not fork.cancel_when_provisional:
                if response.body and not call.late_offer and not call.early_media:
                    self._early_media(call, response, now)
                elif not call.ringing_sent:
                    call.ringing_sent = True
                    self._respond(call, 180, now)
            return
        if fork.done and status >= 300:
            return  # a retransmitted final, already handled
        fork.done = True
        fork.status = status
        if status >= 300:
            if call.state is State.ROUTING and all(f.done for f in call.forks):
                final = best_status([f.status for f in call.forks if f.status is not None])
                disposition = {486: "BUSY", 600: "BUSY", 603: "BUSY", 480: "NO ANSWER",
                               408: "NO ANSWER", 487: "CANCELLED"}.get(final, "FAILED")
                self._fail_caller(call, final, None, now, wall, disposition=disposition,
                                  side="callee")
            return
        # 2xx: the dialog with this fork exists now; ACK it whatever happens next.
        if call.b_dialog is fork.dialog:  # a retransmission of the winning 2xx
            ack = fork.dialog.ack_for(response.cseq.number)
            self._raw.append(Outgoing(ack.to_bytes(), fork.dialog.flow))
            return
        fork.dialog.confirm_as_uac(response)
        ack = fork.dialog.ack_for(response.cseq.number)
        self._raw.append(Outgoing(ack.to_bytes(), fork.dialog.flow))
        if call.state is not State.ROUTING or call.b_dialog is not None:
            # A second fork answered, or the caller gave up meanwhile: release it.
            self._send_bye(fork.dialog, now)
            return
        call.b_dialog = fork.dialog
        call.ring_deadline = None
        for other in call.forks:
            if other is not fork and not other.done:
                self._cancel_fork(other, now)
        try:
            if call.late_offer:
                answer = self.sdp.offer_to_caller(call, response.body)
            else:
                answer = self.sdp.answer_to_caller(call, response.body)
        except SdpRejected as exc:
            log.info("call %s: callee's answer unusable: %s", call.call_id, exc)
            self._send_bye(fork.dialog, now)
            call.b_dialog = None
            self._fail_caller(call, 488, None, now, wall, disposition="FAILED")
            return
        call.state = State.ANSWERED
        ok = self._make_response(call, 200, body=answer)
        self.transactions.respond(call.a_txn, ok, now)
        self._until_acked(call, PendingOk(from_caller=True, txn=call.a_txn, response=ok,
                                          cseq=call.a_invite.cseq.number, interval=self.t1,
                                          offered=call.late_offer), now)
        self._arm(call, "end_deadline", now + self.policy.max_duration)
        self.cdr.answer(call.call_id, wall)
        log.info("call %s: %s -> %s answered", call.call_id, call.caller, call.callee)

    def on_stray_response(self, response: Response, now: float) -> None:
        """A 2xx retransmission after the INVITE transaction ended: ACK it again."""
        call = self.by_b_call_id.get(response.call_id)
        if call is None or response.status < 200 or response.status >= 300:
            return
        if response.cseq.method != "INVITE":
            return
        dialog = call.b_dialog
        if dialog is not None and response.to.tag == dialog.remote_tag:
            ack = dialog.ack_for(response.cseq.number)
            self._raw.append(Outgoing(ack.to_bytes(), dialog.flow))

    def on_timeout(self, txn: ClientTransaction | ServerTransaction, now: float,
                   wall: float) -> None:
        call = txn.context if isinstance(txn, ClientTransaction) else None
        if not isinstance(call, Call):
            return
        fork = next((f for f in call.forks if f.txn is txn), None)
        if fork is not None and not fork.done:
            self._fork_response(call, fork, _timeout_response(fork.invite), now, wall)

    # -- requests from either leg ---------------------------------------------------------
    def on_cancel(self, invite_txn: ServerTransaction, now: float, wall: float) -> None:
        call = self.calls.get(invite_txn.request.call_id) if invite_txn.request else None
        if call is None or call.a_txn is not invite_txn or call.state is not State.ROUTING:
            return
        log.info("call %s: cancelled by the caller", call.call_id)
        call.hangup_side = "caller"
        self._cancel_forks(call, now)
        self._fail_caller(call, 487, None, now, wall, disposition="CANCELLED", side="caller")

    def find(self, request: Request) -> tuple[Call, bool] | None:
        """The call an in-dialog request belongs to, and whether it came from the caller."""
        call = self.calls.get(request.call_id)
        if call is not None and call.a_dialog.matches(request):
            return call, True
        call = self.by_b_call_id.get(request.call_id)
        if call is not None and call.b_dialog is not None and call.b_dialog.matches(request):
            return call, False
        return None

    def on_ack(self, request: Request, now: float, wall: float) -> None:
        found = self.find(request)
        if found is None:
            return
        call, from_caller = found
        pending = call.unacked
        if pending is None or pending.from_caller != from_caller:
            return
        first = call.state is State.ANSWERED  # the ACK of the call's own 200
        if not first and request.cseq.number != pending.cseq:
            return  # a retransmitted or stray ACK
        self._acked(call)
        if first:
            call.state = State.CONFIRMED
            if pending.offered:
                self._late_answer(call, request, now, wall)
        elif pending.offered:
            self._refresh_answer(call, from_caller, request)

    def _until_acked(self, call: Call, pending: PendingOk, now: float) -> None:
        """Retransmit a 2xx just sent (T1, doubling to T2) until its ACK; give up after
        64·T1 with BYE on both legs (§13.3.1.4)."""
        call.unacked = pending
        self._arm(call, "unacked_next", now + self.t1)
        self._arm(call, "unacked_give_up", now + 64 * self.t1)

    def _acked(self, call: Call) -> None:
        call.unacked = call.unacked_next = call.unacked_give_up = None

    def _refresh_answer(self, call: Call, from_caller: bool, ack: Request) -> None:
        """The answer to the offer in the 200 of a re-INVITE without SDP. Without a usable
        one the session goes on as it was: it still is what both sides last agreed."""
        side = "caller" if from_caller else "callee"
        try:
            if not ack.body:
                raise SdpRejected("the ACK carries no answer to the offer in the 200")
            self.sdp.refresh_answer(call, from_caller, ack.body)
            log.info("call %s: the %s refreshed its session (re-INVITE without SDP)",
                     call.call_id, side)
        except SdpRejected as exc:
            log.warning("call %s: the %s's answer to the switch's re-offer is unusable (%s);"
                        " media unchanged", call.call_id, side, exc)

    def _late_answer(self, call: Call, ack: Request, now: float, wall: float) -> None:
        """The caller's answer to the offer in our 200 (§13.2.1: it MUST be in the ACK)."""
        try:
            if not ack.body:
                raise SdpRejected("the ACK carries no answer to the offer in the 200")
            self.sdp.answer_from_caller(call, ack.body)
        except SdpRejected as exc:
            log.info("call %s: caller's answer unusable (%s): ending the call", call.call_id,
                     exc)
            self._hangup(call, now, wall, side="switch", cause=exc.status)

    def on_in_dialog(self, txn: ServerTransaction, request: Request, now: float,
                     wall: float) -> bool:
        """BYE, re-INVITE, OPTIONS… inside a call. False if no call has this dialog."""
        found = self.find(request)
        if found is None:
            return False
        call, from_caller = found
        dialog = call.a_dialog if from_caller else call.b_dialog
        assert dialog is not None
        method = request.method
        if not dialog.accept_remote_cseq(request):
            self._reply(txn, 500, "CSeq Out Of Order", now, dialog)
            return True
        if method == "BYE":
            side = "caller" if from_caller else "callee"
            log.info("call %s: %s hung up", call.call_id, side)
            live = call.state is not State.ENDED
            self._close_record(call, wall, "ANSWERED", side, 200)
            self._reply(txn, 200, None, now, dialog, after_commit=True)
            other = call.b_dialog if from_caller else call.a_dialog
            if other is not None and live:
                self._send_bye(other, now)
            self._finish(call)
        elif method == "INVITE":
            self._reinvite(call, from_caller, txn, request, now)
        elif method == "INFO" and request.body:
            self._info(call, from_caller, txn, request, now, dialog)
        elif method in ("OPTIONS", "INFO", "UPDATE", "NOTIFY"):
            self._reply(txn, 200, None, now, dialog)
        else:
            self._reply(txn, 501, None, now, dialog)
        return True

    # -- DTMF -------------------------------------------------------------------------
    def _info(self, call: Call, from_caller: bool, txn: ServerTransaction, request: Request,
              now: float, dialog: Dialog) -> None:
        """SIP INFO with a DTMF body (application/dtmf-relay or application/dtmf)."""
        try:
            info = parse_info(request.get("Content-Type") or "", request.body)
        except DtmfInfoError as exc:
            reason = "Unsupported Media Type" if exc.status == 415 else f"Bad DTMF Body: {exc}"
            self._reply(txn, exc.status, "".join(c for c in reason if c.isprintable())[:120],
                        now, dialog)
            return
        self._reply(txn, 200, None, now, dialog)
        self.on_digit(call.call_id, "a" if from_caller else "b", info.digit, now,
                      info.duration_ms or 0, "sip-info")
        if call.state is State.CONFIRMED:  # the other phone hears it its own way
            self.sdp.send_digit(call, not from_caller, info.digit, info.duration_ms or 100)

    def on_digit(self, call_id: str, leg: str, digit: str, at: float, duration_ms: int,
                 source: str) -> None:
        """A digit pressed on one leg of a call (from the media layer or SIP INFO)."""
        call = self.calls.get(call_id)
        if call is None or call.state is State.ENDED:
            return
        party: Literal["caller", "callee"] = "caller" if leg == "a" else "callee"
        log.info("call %s: DTMF %s from the %s (%s, %d ms)", call_id, digit, party, source,
                 duration_ms)
        assert source in ("rfc4733", "inband", "sip-info")
        self.control_events.append(DtmfReceived(
            call_id=call_id, digit=digit, at=at, duration_ms=duration_ms,
            source=source, party=party))  # type: ignore[arg-type]

    def on_prompt_finished(self, call_id: str, play_id: str, interrupted: bool) -> None:
        """A prompt played to a party ended (to its end, or cut short)."""
        if call_id in self.calls:
            self.control_events.append(PromptFinished(call_id=call_id, prompt_id=play_id,
                                                      interrupted=interrupted))

    def drain_control(self) -> list[CallEvent]:
        events, self.control_events = self.control_events, []
        return events

    # -- re-INVITE --------------------------------------------------------------------
    def _reinvite(self, call: Call, from_caller: bool, txn: ServerTransaction,
                  request: Request, now: float) -> None:
        dialog = call.a_dialog if from_caller else call.b_dialog
        other = call.b_dialog if from_caller else call.a_dialog
        assert dialog is not None
        if call.reinvite is not None or other is None or call.state is not State.CONFIRMED:
            self._reply(txn, 491, None, now, dialog)  # glare or not yet confirmed
            return
        if request.contacts():
            dialog.remote_target = (request.contacts() or [])[0].uri_text
        if not request.body:
            try:
                offer = self.sdp.refresh_offer(call, from_caller)
            except SdpRejected as exc:
                self._reply(txn, exc.status, None, now, dialog)
                return
            self._reinvite_ok(call, from_caller, txn, offer, now, offered=True)
            return
        try:
            offer = self.sdp.reoffer(call, from_caller, request.body)
        except SdpRejected as exc:
            self._reply(txn, exc.status, None, now, dialog)
            return
        self._reply(txn, 100, None, now, dialog)
        out = other.request("INVITE", body=offer, content_type="application/sdp")
        pending = PendingReinvite(from_caller=from_caller, server_txn=txn)
        pending.client_txn = self.transactions.send_request(out, other.flow, now, context=call)
        call.reinvite = pending

    def _reinvite_response(self, call: Call, response: Response, now: float,
                           wall: float) -> None:
        pending = call.reinvite
        assert pending is not None
        if response.status < 200:
            return
        origin = call.a_dialog if pending.from_caller else call.b_dialog
        other = call.b_dialog if pending.from_caller else call.a_dialog
        assert origin is not None and other is not None
        call.reinvite = None
        if response.status >= 300:
            self._reply(pending.server_txn, response.status, response.reason, now, origin)
            return
        if response.contacts():
            other.remote_target = (response.contacts() or [])[0].uri_text
        ack = other.ack_for(response.cseq.number)
        self._raw.append(Outgoing(ack.to_bytes(), other.flow))
        try:
            answer = self.sdp.reanswer(call, pending.from_caller, response.body)
        except SdpRejected:
            self._reply(pending.server_txn, 488, None, now, origin)
            return
        self._reinvite_ok(call, pending.from_caller, pending.server_txn, answer, now)

    def _reinvite_ok(self, call: Call, from_caller: bool, txn: ServerTransaction, body: bytes,
                     now: float, *, offered: bool = False) -> None:
        """200 to a re-INVITE, retransmitted until its ACK as for the first INVITE."""
        dialog = call.a_dialog if from_caller else call.b_dialog
        request = txn.request
        assert dialog is not None and request is not None
        response = self._reply(txn, 200, None, now, dialog, body=body)
        assert response is not None  # the transaction has its request
        self._until_acked(call, PendingOk(from_caller=from_caller, txn=txn, response=response,
                                          cseq=request.cseq.number, interval=self.t1,
                                          offered=offered), now)

    # -- helpers ----------------------------------------------------------------------
    def _make_response(self, call: Call, status: int, reason: str | None = None,
                       body: bytes = b"") -> Response:
        headers = [("Contact", call.a_dialog.contact),
                   ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
                   ("Server", self.policy.user_agent)]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return call.a_invite.make_response(status, reason, to_tag=call.a_dialog.local_tag,
                                           headers=headers, body=body)

    def _respond(self, call: Call, status: int, now: float) -> None:
        response = self._make_response(call, status)
        if status == 100:
            response.remove_header("Contact")
        self.transactions.respond(call.a_txn, response, now)

    def _reply(self, txn: ServerTransaction, status: int, reason: str | None, now: float,
               dialog: Dialog, body: bytes = b"", *, after_commit: bool = False
               ) -> Response | None:
        """Answer an in-dialog request; the response (None if the transaction is gone)."""
        if txn.request is None:
            return None
        headers = [("Server", self.policy.user_agent)]
        if txn.request.method == "INVITE" and status < 300:
            headers.append(("Contact", dialog.contact))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = txn.request.make_response(status, reason, to_tag=dialog.local_tag,
                                             headers=headers, body=body)
        if after_commit:
            self._held.append((txn, response))
        else:
            self.transactions.respond(txn, response, now)
        return response

    def _fail_caller(self, call: Call, status: int, reason: str | None, now: float,
                     wall: float, *, disposition: str, side: str | None = None) -> None:
        self._close_record(call, wall, disposition, side, status)
        if call.a_txn.request is not None:  # the final answer waits for the CDR commit
            self._held.append((call.a_txn, self._make_response(call, status, reason)))
        self._finish(call)

    def _close_record(self, call: Call, wall: float, disposition: str, side: str | None,
                      cause: int | None) -> None:
        if call.state is State.ENDED:
            return
        call.state = State.ENDED
        self.cdr.close_call(call.call_id, wall, disposition, side, cause)

    def _finish(self, call: Call) -> None:
        call.state = State.ENDED
        call.ring_deadline = call.end_deadline = None
        self._acked(call)
        self.sdp.release(call)
        self.calls.pop(call.call_id, None)
        self.by_b_call_id.pop(call.b_call_id, None)

    def _hangup(self, call: Call, now: float, wall: float, *, side: str, cause: int) -> None:
        self._close_record(call, wall, "ANSWERED", side, cause)
        self._send_bye(call.a_dialog, now)
        if call.b_dialog is not None:
            self._send_bye(call.b_dialog, now)
        self._finish(call)

    def hangup_all(self, now: float, wall: float) -> None:
        """Shutdown: end every call cleanly (BYE both legs, CDR closed by the switch)."""
        for call in list(self.calls.values()):
            if call.state is State.ROUTING:
                self._cancel_forks(call, now)
                self._fail_caller(call, 503, "Shutting Down", now, wall, disposition="FAILED",
                                  side="switch")
            else:
                self._hangup(call, now, wall, side="switch", cause=503)

    def end_call(self, call_id: str, now: float, wall: float, reason: str) -> None:
        """End a call from outside the SIP flow (media inactivity, an admin command)."""
        call = self.calls.get(call_id)
        if call is None:
            return
        log.info("call %s: ended by the switch: %s", call_id, reason)
        if call.state is State.ROUTING:
            self._cancel_forks(call, now)
            self._fail_caller(call, 480, None, now, wall, disposition="FAILED", side="switch")
        else:
            self._hangup(call, now, wall, side="switch", cause=408)

    def _send_bye(self, dialog: Dialog, now: float) -> None:
        bye = dialog.request("BYE")
        self.transactions.send_request(bye, dialog.flow, now)

    def _cancel_forks(self, call: Call, now: float) -> None:
        for fork in call.forks:
            if not fork.done:
                self._cancel_fork(fork, now)

    def _cancel_fork(self, fork: Fork, now: float) -> None:
        # §9.1: CANCEL only after a provisional response; until then, remember to.
        if fork.provisional:
            self._send_cancel(fork, now)
        else:
            fork.cancel_when_provisional = True

    def _send_cancel(self, fork: Fork, now: float) -> None:
        invite = fork.invite
        cancel = Request(
            "CANCEL", invite.uri, vias=[invite.vias[0]], max_forwards=70,
            from_=invite.from_, to=invite.to, call_id=invite.call_id,
            cseq=type(invite.cseq)(invite.cseq.number, "CANCEL"),
            headers=[(n, v) for n, v in invite.headers if n == "Route"],
        )
        self.transactions.send_request(cancel, fork.dialog.flow, now)


def _timeout_response(invite: Request) -> Response:
    return invite.make_response(408, "Request Timeout")
