"""The B2BUA (switch/calls.py) through the sans-I/O endpoint, with virtual time.

Two phones are simulated in memory: the tests write the SIP they would send and read
what the switch sends them. The SDP side is a recording planner that only tags the
bodies, so these tests are about signalling; the real planner has its own tests.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field

import pytest

from switch.auth import BruteForceGuard, DigestAuthenticator
from switch.calls import Call, CallManager, CallPolicy, SdpRejected
from switch.endpoint import SipEndpoint
from switch.registrar import Binding, Registrar, RegistrarPolicy
from switch.sip.flow import Flow, Outgoing
from switch.sip.message import Request, Response, parse_message
from switch.sip.transaction import TimerConfig, TransactionLayer
from tests.support.sip_client import digest_authorization

REALM = "pbx.test"
PASSWORDS = {"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"}
LOCAL = ("192.0.2.1", 5060)
ALICE = Flow("udp", ("192.0.2.11", 5061), LOCAL)
BOB = ("192.0.2.12", 5062)
BOB2 = ("192.0.2.13", 5063)
WALL = 1_700_000_000.0
OFFER = b"v=0\r\no=a 1 1 IN IP4 192.0.2.11\r\ns=-\r\nc=IN IP4 192.0.2.11\r\nt=0 0\r\n" \
        b"m=audio 4000 RTP/AVP 0 101\r\n"
ANSWER = b"v=0\r\no=b 1 1 IN IP4 192.0.2.12\r\ns=-\r\nc=IN IP4 192.0.2.12\r\nt=0 0\r\n" \
         b"m=audio 5000 RTP/AVP 0 101\r\n"


class RecordingSdp:
    """Marks each body with the leg it was rewritten for; 488s on request."""

    def __init__(self) -> None:
        self.released: list[str] = []
        self.reject = False
        self.digits: list[tuple[str, bool, str, int]] = []
        self.late_answers: list[bytes] = []
        self.refresh_answers: list[tuple[bool, bytes]] = []

    def offer_to_callee(self, call: Call, offer: bytes) -> bytes:
        if self.reject:
            raise SdpRejected("no common codec")
        return b"to-callee:" + offer

    def answer_to_caller(self, call: Call, answer: bytes) -> bytes:
        return b"to-caller:" + answer

    def early_answer_to_caller(self, call: Call, answer: bytes) -> bytes:
        if answer == b"bad":
            raise SdpRejected("unusable", 488)
        return b"early:" + answer

    def reoffer(self, call: Call, from_caller: bool, offer: bytes) -> bytes:
        return b"reoffer:" + offer

    def reanswer(self, call: Call, from_caller: bool, answer: bytes) -> bytes:
        return b"reanswer:" + answer

    def release(self, call: Call) -> None:
        self.released.append(call.call_id)

    def send_digit(self, call: Call, to_caller: bool, digit: str, duration_ms: int) -> None:
        self.digits.append((call.call_id, to_caller, digit, duration_ms))

    def own_offer_to_callee(self, call: Call) -> bytes:
        return b"own-offer"

    def offer_to_caller(self, call: Call, answer: bytes) -> bytes:
        return b"offer-to-caller:" + answer

    def answer_from_caller(self, call: Call, answer: bytes) -> None:
        if answer == b"bad":
            raise SdpRejected("unusable", 488)
        self.late_answers.append(answer)

    def refresh_offer(self, call: Call, to_caller: bool) -> bytes:
        return b"refresh-to-" + (b"caller" if to_caller else b"callee")

    def refresh_answer(self, call: Call, from_caller: bool, answer: bytes) -> None:
        if answer == b"bad":
            raise SdpRejected("unusable", 488)
        self.refresh_answers.append((from_caller, answer))


@dataclass
class RecordingCdr:
    rows: dict[str, dict[str, object]] = field(default_factory=dict)
    flushes: int = 0

    def open_call(self, call_id: str, caller: str, callee: str, start: float) -> None:
        self.rows[call_id] = {"caller": caller, "callee": callee, "start": start}

    def answer(self, call_id: str, at: float) -> None:
        self.rows[call_id]["answer"] = at

    def close_call(self, call_id: str, end: float, disposition: str, hangup_side: str | None,
                   sip_cause: int | None) -> None:
        self.rows[call_id].setdefault("disposition", disposition)
        self.rows[call_id].setdefault("side", hangup_side)
        self.rows[call_id].setdefault("cause", sip_cause)
        self.rows[call_id].setdefault("end", end)


def binding(ext: str, remote: tuple[str, int]) -> Binding:
    return Binding(extension=ext, contact=f"sip:{ext}@{remote[0]}:{remote[1]}", instance=None,
                   expires_at=WALL + 3600, call_id="r", cseq=1, q=None, transport="udp",
                   source_host=remote[0], source_port=remote[1], local_host=LOCAL[0],
                   local_port=LOCAL[1], user_agent="", updated_at=WALL)


class Switch:
    def __init__(self, contacts: dict[str, list[Binding]] | None = None,
                 policy: CallPolicy | None = None) -> None:
        self.now = 0.0
        self.sdp = RecordingSdp()
        self.cdr = RecordingCdr()
        self.contacts = contacts if contacts is not None else {"1002": [binding("1002", BOB)]}
        transactions = TransactionLayer(TimerConfig())
        self.calls = CallManager(
            transactions=transactions,
            policy=policy or CallPolicy(domain=REALM, ring_timeout=30, max_duration=3600),
            sdp=self.sdp, cdr=self.cdr, lookup=self.lookup,
            local_contact=lambda flow: (LOCAL[0], LOCAL[1], f"<sip:switch@{LOCAL[0]}:5060>"),
        )
        self.endpoint = SipEndpoint(
            transactions=transactions,
            registrar=Registrar(RegistrarPolicy()),
            authenticator=DigestAuthenticator(REALM, dict(PASSWORDS), algorithms=("MD5",),
                                              secret=b"k" * 32),
            guard=BruteForceGuard(max_failures=5, window=60, cooldown=300),
            server_header="test", calls=self.calls,
        )

    def lookup(self, extension: str, wall: float) -> list[Binding] | None:
        if extension not in PASSWORDS:
            return None
        return self.contacts.get(extension, [])

    def send(self, data: bytes, flow: Flow) -> list[Outgoing]:
        self.endpoint.receive(data, flow, self.now, WALL + self.now)
        return self.drain()

    def drain(self) -> list[Outgoing]:
        """What the runtime does in one loop turn: send, commit, release what waited."""
        out = self.endpoint.drain()
        if self.endpoint.has_held():
            self.cdr.flushes += 1
            self.endpoint.release_held(self.now)
            out += self.endpoint.drain()
        return out

    def advance(self, seconds: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        target = self.now + seconds
        while True:
            deadline = self.endpoint.get_timer()
            if deadline is None or deadline > target:
                break
            self.now = max(self.now, deadline)
            self.endpoint.handle_timer(self.now, WALL + self.now)
            out += self.drain()
        self.now = target
        return out


def to(out: list[Outgoing], remote: tuple[str, int]) -> list[Request | Response]:
    return [parse_message(o.data) for o in out if o.flow.remote == remote]


def statuses(messages: list[Request | Response]) -> list[int]:
    return [m.status for m in messages if isinstance(m, Response)]


def requests(messages: list[Request | Response], method: str) -> list[Request]:
    return [m for m in messages if isinstance(m, Request) and m.method == method]


class Caller:
    """Phone 1001 placing a call; keeps enough state to ACK and hang up."""

    def __init__(self, switch: Switch, callee: str = "1002") -> None:
        self.switch = switch
        self.callee = callee
        self.call_id = uuid.uuid4().hex
        self.tag = uuid.uuid4().hex[:8]
        self.cseq = 1
        self.to_tag: str | None = None

    def invite(self, *, authorization: str | None = None, branch: str = "z9hG4bKinv1",
               body: bytes = OFFER) -> bytes:
        lines = [
            f"INVITE sip:{self.callee}@{REALM} SIP/2.0",
            f"Via: SIP/2.0/UDP {ALICE.remote[0]}:{ALICE.remote[1]};branch={branch};rport",
            "Max-Forwards: 70",
            f'From: "Anna" <sip:1001@{REALM}>;tag={self.tag}',
            f"To: <sip:{self.callee}@{REALM}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} INVITE",
            f"Contact: <sip:1001@{ALICE.remote[0]}:{ALICE.remote[1]}>",
        ]
        if authorization:
            lines.append(f"Proxy-Authorization: {authorization}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def in_dialog(self, method: str, *, cseq: int | None = None, branch: str | None = None,
                  body: bytes = b"", content_type: str = "application/sdp") -> bytes:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        lines = [
            f"{method} sip:switch@{LOCAL[0]}:5060 SIP/2.0",
            f"Via: SIP/2.0/UDP {ALICE.remote[0]}:{ALICE.remote[1]};"
            f"branch={branch or 'z9hG4bK' + uuid.uuid4().hex[:10]};rport",
            "Max-Forwards: 70",
            f"From: <sip:1001@{REALM}>;tag={self.tag}",
            f"To: <sip:{self.callee}@{REALM}>;tag={self.to_tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
        ]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def ack(self, cseq: int) -> bytes:
        return self.in_dialog("ACK", cseq=cseq)

    def place(self) -> list[Outgoing]:
        """INVITE, 407, ACK, INVITE with credentials; returns what the last step sent."""
        out = self.switch.send(self.invite(), ALICE)
        (challenge,) = to(out, ALICE.remote)
        assert isinstance(challenge, Response) and challenge.status == 407
        ack = self.invite(branch="z9hG4bKinv1", body=b"").replace(b"INVITE sip", b"ACK sip", 1)
        ack = ack.replace(b" INVITE\r\n", b" ACK\r\n")
        self.switch.send(ack, ALICE)
        self.cseq += 1
        auth = digest_authorization(challenge.get("Proxy-Authenticate") or "", "1001",
                                    "pw1001", "INVITE", f"sip:{self.callee}@{REALM}")
        return self.switch.send(self.invite(authorization=auth, branch="z9hG4bKinv2"), ALICE)


def callee_response(invite: Request, status: int, *, tag: str = "bobtag",
                    body: bytes = b"", contact: str = "<sip:1002@192.0.2.12:5062>") -> bytes:
    headers = [("Contact", contact)]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return invite.make_response(status, to_tag=tag if status > 100 else None, headers=headers,
                                body=body).to_bytes()


def bob_flow(remote: tuple[str, int] = BOB) -> Flow:
    return Flow("udp", remote, LOCAL)


def answered_call() -> tuple[Switch, Caller, Request]:
    switch = Switch()
    caller = Caller(switch)
    out = caller.place()
    (invite,) = requests(to(out, BOB), "INVITE")
    out = switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response) and m.status == 200][0]
    caller.to_tag = ok.to.tag
    switch.send(caller.ack(caller.cseq), ALICE)
    return switch, caller, invite


# -- setting up -----------------------------------------------------------------------------


def test_invite_is_challenged_then_forked_with_a_rewritten_offer() -> None:
    switch = Switch()
    caller = Caller(switch)
    out = caller.place()
    assert statuses(to(out, ALICE.remote)) == [100]
    (invite,) = requests(to(out, BOB), "INVITE")
    assert str(invite.uri) == "sip:1002@192.0.2.12:5062"
    assert invite.call_id != caller.call_id  # an independent dialog
    assert invite.from_.tag != caller.tag
    assert invite.from_.display == "Anna"
    assert invite.body == b"to-callee:" + OFFER
    assert switch.cdr.rows[caller.call_id]["caller"] == "1001"


def test_wrong_password_on_invite_gets_407_again() -> None:
    switch = Switch()
    caller = Caller(switch)
    out = switch.send(caller.invite(), ALICE)
    (challenge,) = to(out, ALICE.remote)
    auth = digest_authorization(challenge.get("Proxy-Authenticate") or "", "1001", "nope",
                                "INVITE", f"sip:1002@{REALM}")
    caller.cseq += 1
    out = switch.send(caller.invite(authorization=auth, branch="z9hG4bKx"), ALICE)
    assert statuses(to(out, ALICE.remote)) == [407]
    assert to(out, BOB) == []


@pytest.mark.parametrize(("callee", "status"), [("9999", 404), ("1003", 480)])
def test_unknown_and_unregistered_callees(callee: str, status: int) -> None:
    switch = Switch()
    caller = Caller(switch, callee=callee)
    out = caller.place()
    assert statuses(to(out, ALICE.remote)) == [100, status]
    assert switch.cdr.rows[caller.call_id]["disposition"] == "FAILED"


def test_no_common_codec_is_488() -> None:
    switch = Switch()
    switch.sdp.reject = True
    caller = Caller(switch)
    assert statuses(to(caller.place(), ALICE.remote)) == [100, 488]


def test_ringing_answer_ack_and_caller_hangs_up() -> None:
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    out = switch.send(callee_response(invite, 180), bob_flow())
    assert statuses(to(out, ALICE.remote)) == [180]
    switch.advance(2.0)
    out = switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    (ack,) = requests(to(out, BOB), "ACK")
    assert ack.cseq.number == invite.cseq.number and ack.vias[0].branch != invite.vias[0].branch
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response)][0]
    assert ok.status == 200 and ok.body == b"to-caller:" + ANSWER
    assert ok.get("Contact") is not None
    caller.to_tag = ok.to.tag
    switch.send(caller.ack(caller.cseq), ALICE)
    assert switch.advance(5.0) == []  # ACKed: no 200 retransmissions
    switch.endpoint.receive(caller.in_dialog("BYE"), ALICE, switch.now, WALL + switch.now)
    out = switch.endpoint.drain()
    assert statuses(to(out, ALICE.remote)) == []  # the 200 waits for the CDR commit...
    assert switch.cdr.rows[caller.call_id]["disposition"] == "ANSWERED"
    out += switch.drain()  # ...which the runtime does before releasing it
    assert statuses(to(out, ALICE.remote)) == [200]
    (bye,) = requests(to(out, BOB), "BYE")
    assert bye.call_id == invite.call_id and bye.to.tag == "bobtag"
    row = switch.cdr.rows[caller.call_id]
    assert row["disposition"] == "ANSWERED" and row["side"] == "caller"
    assert row["answer"] == WALL + 2.0
    assert switch.sdp.released == [caller.call_id]


def test_callee_hangs_up() -> None:
    switch, caller, invite = answered_call()
    bye = (f"BYE sip:switch@{LOCAL[0]}:5060 SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {BOB[0]}:{BOB[1]};branch=z9hG4bKbye;rport\r\n"
           f"From: <sip:1002@{REALM}>;tag=bobtag\r\n"
           f"To: {invite.from_}\r\nCall-ID: {invite.call_id}\r\nCSeq: 1 BYE\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    out = switch.send(bye, bob_flow())
    assert statuses(to(out, BOB)) == [200]
    (bye_a,) = requests(to(out, ALICE.remote), "BYE")
    assert bye_a.call_id == caller.call_id and bye_a.to.tag == caller.tag
    assert str(bye_a.uri) == f"sip:1001@{ALICE.remote[0]}:{ALICE.remote[1]}"
    assert switch.cdr.rows[caller.call_id]["side"] == "callee"


def test_200_is_retransmitted_until_acked() -> None:
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    start = switch.now
    out = switch.advance(3.6)
    assert statuses(to(out, ALICE.remote)) == [200, 200, 200]  # at 0.5, 1.5, 3.5
    assert start == 0.0


def test_busy_passes_through_as_486() -> None:
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    out = switch.send(callee_response(invite, 486), bob_flow())
    assert requests(to(out, BOB), "ACK")  # the transaction ACKs the non-2xx
    assert statuses(to(out, ALICE.remote)) == [486]
    assert switch.cdr.rows[caller.call_id]["disposition"] == "BUSY"


def test_cancel_before_answer() -> None:
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    switch.send(callee_response(invite, 180), bob_flow())
    cancel = caller.invite(branch="z9hG4bKinv2", body=b"").replace(b"INVITE sip", b"CANCEL sip", 1)
    cancel = cancel.replace(b" INVITE\r\n", b" CANCEL\r\n")
    out = switch.send(cancel, ALICE)
    assert sorted(statuses(to(out, ALICE.remote))) == [200, 487]
    (bob_cancel,) = requests(to(out, BOB), "CANCEL")
    assert bob_cancel.vias[0].branch == invite.vias[0].branch
    row = switch.cdr.rows[caller.call_id]
    assert (row["disposition"], row["side"], row["cause"]) == ("CANCELLED", "caller", 487)


def test_ring_timeout_gives_480_and_cancels_the_callee() -> None:
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    switch.send(callee_response(invite, 180), bob_flow())
    out = switch.advance(30.0)
    assert 480 in statuses(to(out, ALICE.remote))
    assert requests(to(out, BOB), "CANCEL")
    assert switch.cdr.rows[caller.call_id]["disposition"] == "NO ANSWER"


def test_parallel_fork_first_answer_wins_and_others_are_cancelled() -> None:
    switch = Switch(contacts={"1002": [binding("1002", BOB), binding("1002", BOB2)]})
    caller = Caller(switch)
    out = caller.place()
    (invite1,) = requests(to(out, BOB), "INVITE")
    (invite2,) = requests(to(out, BOB2), "INVITE")
    assert invite1.call_id == invite2.call_id and invite1.vias[0].branch != invite2.vias[0].branch
    switch.send(callee_response(invite2, 180, tag="t2"), bob_flow(BOB2))
    out = switch.send(callee_response(invite1, 200, body=ANSWER), bob_flow())
    assert requests(to(out, BOB2), "CANCEL")
    assert 200 in statuses(to(out, ALICE.remote))


def test_fork_without_provisional_is_cancelled_once_it_rings() -> None:
    switch = Switch(contacts={"1002": [binding("1002", BOB), binding("1002", BOB2)]})
    caller = Caller(switch)
    out = caller.place()
    (invite1,) = requests(to(out, BOB), "INVITE")
    (invite2,) = requests(to(out, BOB2), "INVITE")
    out = switch.send(callee_response(invite1, 200, body=ANSWER), bob_flow())
    assert requests(to(out, BOB2), "CANCEL") == []  # §9.1: not before a provisional
    out = switch.send(callee_response(invite2, 180, tag="t2"), bob_flow(BOB2))
    assert requests(to(out, BOB2), "CANCEL")


def test_second_answer_from_another_fork_is_acked_and_released() -> None:
    switch = Switch(contacts={"1002": [binding("1002", BOB), binding("1002", BOB2)]})
    caller = Caller(switch)
    out = caller.place()
    (invite1,) = requests(to(out, BOB), "INVITE")
    (invite2,) = requests(to(out, BOB2), "INVITE")
    switch.send(callee_response(invite1, 200, body=ANSWER), bob_flow())
    out = switch.send(callee_response(invite2, 200, tag="t2", body=ANSWER), bob_flow(BOB2))
    assert requests(to(out, BOB2), "ACK") and requests(to(out, BOB2), "BYE")


def test_reinvite_hold_passes_through_with_rewritten_sdp() -> None:
    switch, caller, invite = answered_call()
    hold = OFFER + b"a=sendonly\r\n"
    out = switch.send(caller.in_dialog("INVITE", body=hold), ALICE)
    assert statuses(to(out, ALICE.remote)) == [100]
    (reinvite,) = requests(to(out, BOB), "INVITE")
    assert reinvite.body == b"reoffer:" + hold and reinvite.to.tag == "bobtag"
    assert reinvite.cseq.number == invite.cseq.number + 1
    out = switch.send(callee_response(reinvite, 200, body=ANSWER), bob_flow())
    assert requests(to(out, BOB), "ACK")
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response)][0]
    assert ok.status == 200 and ok.body == b"reanswer:" + ANSWER


@pytest.mark.parametrize("ack_body", [b"refreshed", b"", b"bad"])
def test_reinvite_without_sdp_is_offered_the_current_media(ack_body: bytes) -> None:
    """RFC 3261 §14.2: the switch answers an SDP-less re-INVITE itself with an offer and
    takes the answer from the ACK; the callee is not disturbed, and a missing or bad
    answer leaves the session as it was (no BYE)."""
    switch, caller, _ = answered_call()
    out = switch.send(caller.in_dialog("INVITE", body=b""), ALICE)
    assert to(out, BOB) == []
    (ok,) = to(out, ALICE.remote)
    assert isinstance(ok, Response) and ok.status == 200 and ok.body == b"refresh-to-caller"
    assert ok.get("Content-Type") == "application/sdp" and ok.contacts()
    out = switch.send(caller.in_dialog("ACK", cseq=caller.cseq, body=ack_body), ALICE)
    assert to(out, BOB) == [] and to(out, ALICE.remote) == []
    expected = [(True, ack_body)] if ack_body == b"refreshed" else []
    assert switch.sdp.refresh_answers == expected
    # The call goes on: a second ACK answers nothing, BYE still ends both legs.
    switch.send(caller.in_dialog("ACK", cseq=caller.cseq, body=b"late"), ALICE)
    assert switch.sdp.refresh_answers == expected
    out = switch.send(caller.in_dialog("BYE"), ALICE)
    assert requests(to(out, BOB), "BYE")


def test_the_200_to_a_reinvite_is_retransmitted_until_the_ack() -> None:
    """§13.3.1.4 for re-INVITEs too: T1, 2·T1, … until the ACK; nothing after it."""
    switch, caller, _ = answered_call()
    out = switch.send(caller.in_dialog("INVITE", body=b""), ALICE)
    (ok,) = to(out, ALICE.remote)
    out = switch.advance(0.6)
    assert [m.status for m in to(out, ALICE.remote)] == [200]  # type: ignore[union-attr]
    out = switch.advance(1.1)
    assert [m.status for m in to(out, ALICE.remote)] == [200]  # type: ignore[union-attr]
    switch.send(caller.in_dialog("ACK", cseq=caller.cseq, body=b"refreshed"), ALICE)
    assert to(switch.advance(10.0), ALICE.remote) == []
    assert switch.sdp.refresh_answers == [(True, b"refreshed")]


def test_a_reinvite_200_never_acked_ends_the_call() -> None:
    """64·T1 without the ACK: the session is ended with BYE on both legs."""
    switch, caller, _ = answered_call()
    switch.send(caller.in_dialog("INVITE", body=b""), ALICE)
    out = switch.advance(31.0)
    assert not requests(to(out, BOB), "BYE")
    out = switch.advance(2.0)
    assert requests(to(out, BOB), "BYE") and requests(to(out, ALICE.remote), "BYE")
    assert switch.cdr.rows[caller.call_id]["side"] == "switch"


def test_early_media_gets_a_183_with_the_answer_once() -> None:
    """A callee's 183 with SDP: the caller gets 183 with the answer (once, and no 180
    after it); the 200 then answers as usual."""
    switch = Switch()
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    out = switch.send(callee_response(invite, 183, body=ANSWER), bob_flow())
    (early,) = to(out, ALICE.remote)
    assert isinstance(early, Response) and early.status == 183
    assert early.body == b"early:" + ANSWER and early.get("Content-Type") == "application/sdp"
    out = switch.send(callee_response(invite, 180), bob_flow())
    out += switch.send(callee_response(invite, 183, body=ANSWER), bob_flow())
    assert to(out, ALICE.remote) == []
    out = switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response)][0]
    assert ok.status == 200 and ok.body == b"to-caller:" + ANSWER
    assert switch.cdr.rows[caller.call_id].get("answer") is not None


@pytest.mark.parametrize("late", [False, True])
def test_unusable_or_late_offer_early_media_is_just_ringing(late: bool) -> None:
    switch = Switch()
    caller = Caller(switch)
    if late:
        caller.invite = functools.partial(caller.invite, body=b"")  # type: ignore[method-assign]
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    out = switch.send(callee_response(invite, 183, body=ANSWER if late else b"bad"),
                      bob_flow())
    assert statuses(to(out, ALICE.remote)) == [180]


def test_reinvite_glare_gets_491() -> None:
    switch, caller, _ = answered_call()
    switch.send(caller.in_dialog("INVITE", body=OFFER), ALICE)
    out = switch.send(caller.in_dialog("INVITE", body=OFFER), ALICE)
    assert statuses(to(out, ALICE.remote)) == [491]


def test_options_in_dialog_and_bye_outside_any_dialog() -> None:
    switch, caller, _ = answered_call()
    out = switch.send(caller.in_dialog("OPTIONS"), ALICE)
    assert statuses(to(out, ALICE.remote)) == [200]
    stranger = Caller(switch)
    stranger.to_tag = "nope"
    out = switch.send(stranger.in_dialog("BYE"), ALICE)
    assert statuses(to(out, ALICE.remote)) == [481]


def test_sip_info_dtmf_becomes_a_call_control_event() -> None:
    switch, caller, _ = answered_call()
    body = b"Signal=5\r\nDuration=160\r\n"
    out = switch.send(caller.in_dialog("INFO", body=body,
                                       content_type="application/dtmf-relay"), ALICE)
    assert statuses(to(out, ALICE.remote)) == [200]
    out = switch.send(caller.in_dialog("INFO", body=b"#", content_type="application/dtmf"),
                      ALICE)
    assert statuses(to(out, ALICE.remote)) == [200]
    events = switch.calls.drain_control()
    assert [(e.digit, e.duration_ms, e.source, e.party) for e in events] == [  # type: ignore[union-attr]
        ("5", 160, "sip-info", "caller"), ("#", 0, "sip-info", "caller")]
    # ... and the callee hears them the way its phone negotiated.
    assert [(to_caller, d, ms) for _, to_caller, d, ms in switch.sdp.digits] == [
        (False, "5", 160), (False, "#", 100)]


def test_sip_info_with_a_bad_or_foreign_body_is_refused() -> None:
    switch, caller, _ = answered_call()
    out = switch.send(caller.in_dialog("INFO", body=b"Signal=Z\r\n",
                                       content_type="application/dtmf-relay"), ALICE)
    (answer,) = to(out, ALICE.remote)
    assert isinstance(answer, Response) and answer.status == 400
    assert "not a DTMF digit" in answer.reason
    out = switch.send(caller.in_dialog("INFO", body=b"<xml/>",
                                       content_type="application/media_control+xml"), ALICE)
    assert statuses(to(out, ALICE.remote)) == [415]
    assert switch.calls.drain_control() == []


def late_offer_call(ack_body: bytes) -> tuple[Switch, list[Outgoing]]:
    """A caller INVITEs without SDP; the callee answers the switch's own offer."""
    switch = Switch()
    caller = Caller(switch)
    caller.invite = functools.partial(caller.invite, body=b"")  # type: ignore[method-assign]
    out = caller.place()
    (invite,) = requests(to(out, BOB), "INVITE")
    assert invite.body == b"own-offer"
    out = switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response) and m.status == 200][0]
    assert ok.body == b"offer-to-caller:" + ANSWER  # the switch offers in its 200
    caller.to_tag = ok.to.tag
    return switch, switch.send(caller.in_dialog("ACK", cseq=caller.cseq, body=ack_body),
                               ALICE)


def test_late_offer_answer_comes_in_the_ack() -> None:
    switch, out = late_offer_call(b"answer-in-ack")
    assert switch.sdp.late_answers == [b"answer-in-ack"]
    assert to(out, BOB) == [] and to(out, ALICE.remote) == []  # the call goes on


@pytest.mark.parametrize("ack_body", [b"", b"bad"])
def test_late_offer_without_a_usable_answer_ends_the_call(ack_body: bytes) -> None:
    switch, out = late_offer_call(ack_body)
    assert requests(to(out, BOB), "BYE") and requests(to(out, ALICE.remote), "BYE")
    assert switch.sdp.late_answers == []


def test_maximum_duration_ends_the_call() -> None:
    switch = Switch(policy=CallPolicy(domain=REALM, max_duration=60.0))
    caller = Caller(switch)
    (invite,) = requests(to(caller.place(), BOB), "INVITE")
    out = switch.send(callee_response(invite, 200, body=ANSWER), bob_flow())
    ok = [m for m in to(out, ALICE.remote) if isinstance(m, Response)][0]
    caller.to_tag = ok.to.tag
    switch.send(caller.ack(caller.cseq), ALICE)
    out = switch.advance(61.0)
    assert requests(to(out, ALICE.remote), "BYE") and requests(to(out, BOB), "BYE")
    assert switch.cdr.rows[caller.call_id]["side"] == "switch"


def test_callee_timeout_without_any_answer_is_408_to_480() -> None:
    switch = Switch(policy=CallPolicy(domain=REALM, ring_timeout=120.0))
    caller = Caller(switch)
    caller.place()
    out = switch.advance(40.0)  # Timer B (32 s) fires on the silent fork
    assert statuses(to(out, ALICE.remote))[-1] in (408, 480)
    assert switch.cdr.rows[caller.call_id]["disposition"] == "NO ANSWER"
