"""RFC 3261 §17 transactions (with RFC 6026 Accepted states) under virtual time.

Time is a plain float handed to the layer; nothing sleeps. Every test asserts the
exact deadlines `get_timer()` reports and the exact bytes and events `drain()` yields.
Timer values follow the RFC 3261 §A table: with T1=0.5, T2=4, T4=5 (the defaults)
A/E/G start at T1, B/F/H/J/L/M are 64*T1 = 32 s, D is 32 s, I/K are T4; a custom
`TimerConfig` proves the values come from the configuration, not constants.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from switch.sip.flow import Flow, Outgoing
from switch.sip.headers import CSeq, parse_via
from switch.sip.message import Request, Response, parse_message
from switch.sip.transaction import (
    AckReceived,
    ClientTransaction,
    Event,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    State,
    StrayResponse,
    TimerConfig,
    TransactionLayer,
    TransactionTimeout,
    build_ack,
    response_flow,
)

LOCAL = ("192.0.2.1", 5060)
PEER = ("192.0.2.10", 5060)
UDP = Flow("udp", PEER, LOCAL)
TCP = Flow("tcp", ("192.0.2.10", 40000), LOCAL, conn_id=7)

DEFAULT = TimerConfig()
CUSTOM = TimerConfig(t1=0.25, t2=2.0, t4=3.0)  # binary-exact, so sums stay exact


def test_default_timer_values_are_the_rfc_ones() -> None:
    assert (DEFAULT.t1, DEFAULT.t2, DEFAULT.t4) == (0.5, 4.0, 5.0)


# -- builders ---------------------------------------------------------------------------


def make_request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bK-1",
    sent_by: str = "192.0.2.10:5060",
    transport: str = "UDP",
    via_params: str = "",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str = "from-1",
    to_tag: str | None = None,
    call_id: str = "call-1@192.0.2.10",
    uri: str = "sip:bob@example.test",
    extra: Iterable[str] = (),
) -> Request:
    """A request as it would come off the wire (parsed from text)."""
    via = f"SIP/2.0/{transport} {sent_by}"
    if branch is not None:
        via += f";branch={branch}"
    via += via_params
    to = "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: <sip:alice@example.test>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def reply(request: Request, status: int, to_tag: str = "to-1") -> Response:
    """The response a peer would send to `request`, round-tripped through bytes."""
    message = parse_message(request.make_response(status, to_tag=to_tag).to_bytes())
    assert isinstance(message, Response)
    return message


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def nothing(layer: TransactionLayer) -> bool:
    return layer.drain() == ([], [])


def run_timers(
    layer: TransactionLayer, until: float = 1e9
) -> list[tuple[float, list[Outgoing], list[Event]]]:
    """Fire each deadline `get_timer()` reports, exactly at that time, up to `until`."""
    fired: list[tuple[float, list[Outgoing], list[Event]]] = []
    while (deadline := layer.get_timer()) is not None and deadline <= until:
        layer.handle_timer(deadline)
        out, events = layer.drain()
        fired.append((deadline, out, events))
    return fired


def start_client(
    timers: TimerConfig, request: Request, flow: Flow, now: float = 0.0
) -> tuple[TransactionLayer, ClientTransaction]:
    layer = TransactionLayer(timers)
    txn = layer.send_request(request, flow, now)
    assert layer.drain() == ([Outgoing(request.to_bytes(), flow)], [])
    return layer, txn


def start_server(
    request: Request, flow: Flow = UDP, timers: TimerConfig = DEFAULT, now: float = 0.0
) -> tuple[TransactionLayer, ServerTransaction]:
    layer = TransactionLayer(timers)
    layer.receive_request(request, flow, now)
    out, events = layer.drain()
    assert out == []
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RequestReceived)
    assert event.request is request
    assert event.cancelled is None
    return layer, event.transaction


# -- client INVITE (§17.1.1) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("timers", "start", "timer_a", "timer_b"),
    [
        # Timer A doubles without the T2 cap: T1, 2T1, 4T1, … after each send.
        (DEFAULT, 0.0, [0.5, 1.5, 3.5, 7.5, 15.5, 31.5], 32.0),
        (DEFAULT, 100.0, [100.5, 101.5, 103.5, 107.5, 115.5, 131.5], 132.0),
        (CUSTOM, 0.0, [0.25, 0.75, 1.75, 3.75, 7.75, 15.75], 16.0),
    ],
    ids=["default", "default-from-100s", "custom-t1"],
)
def test_client_invite_udp_timer_a_then_timer_b(
    timers: TimerConfig, start: float, timer_a: list[float], timer_b: float
) -> None:
    invite = make_request("INVITE")
    layer, txn = start_client(timers, invite, UDP, start)
    assert txn.state is State.CALLING
    assert layer.get_timer() == timer_a[0]

    layer.handle_timer(timer_a[0] - 0.001)  # not due yet
    assert nothing(layer)

    fired = run_timers(layer)
    assert [t for t, _, _ in fired] == [*timer_a, timer_b]
    for _, out, events in fired[:-1]:
        assert out == [Outgoing(invite.to_bytes(), UDP)]
        assert events == []
    assert fired[-1][1:] == ([], [TransactionTimeout(transaction=txn)])
    assert txn.state is State.TERMINATED
    assert layer.client == {}
    assert layer.get_timer() is None


@pytest.mark.parametrize(("timers", "timer_b"), [(DEFAULT, 32.0), (CUSTOM, 16.0)])
def test_client_invite_tcp_no_retransmission_timer_b(timers: TimerConfig, timer_b: float) -> None:
    layer, txn = start_client(timers, make_request("INVITE", transport="TCP"), TCP)
    assert layer.get_timer() == timer_b
    layer.handle_timer(timer_b - 0.001)
    assert nothing(layer)
    assert run_timers(layer) == [(timer_b, [], [TransactionTimeout(transaction=txn)])]
    assert layer.client == {}


def test_client_invite_provisional_stops_timer_a_and_timer_b() -> None:
    invite = make_request("INVITE")
    layer, txn = start_client(DEFAULT, invite, UDP)
    assert run_timers(layer, until=0.5) == [(0.5, [Outgoing(invite.to_bytes(), UDP)], [])]
    assert layer.get_timer() == 1.5

    ringing = reply(invite, 180)
    layer.receive_response(ringing, UDP, 1.0)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=ringing)])
    assert txn.state is State.PROCEEDING
    # §17.1.1.2: no retransmission in Proceeding, and Timer B only applies in Calling:
    # a phone may ring for longer than 64*T1.
    assert layer.get_timer() is None
    assert run_timers(layer) == []

    again = reply(invite, 183)
    layer.receive_response(again, UDP, 40.0)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=again)])


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_build_ack_for_non_2xx(transport: str) -> None:
    routes = ["<sip:p1.example.test;lr>", "<sip:p2.example.test;lr>"]
    invite = make_request(
        "INVITE",
        transport=transport,
        cseq=7,
        uri="sip:bob@192.0.2.99:5062;transport=udp",
        extra=[f"Route: {r}" for r in routes] + ["Contact: <sip:alice@192.0.2.10>"],
    )
    busy = reply(invite, 486, to_tag="busy-tag")
    ack = build_ack(invite, busy)
    data = ack.to_bytes()
    assert data.startswith(b"ACK sip:bob@192.0.2.99:5062;transport=udp SIP/2.0\r\n")
    ack = parse_request(data)
    assert ack.method == "ACK"
    assert str(ack.uri) == str(invite.uri)
    assert [str(v) for v in ack.vias] == [str(invite.vias[0])]
    assert ack.vias[0].branch == invite.vias[0].branch == "z9hG4bK-1"
    assert ack.from_.tag == "from-1"
    assert ack.to.tag == "busy-tag"
    assert str(ack.to.uri) == "sip:bob@example.test"
    assert ack.call_id == invite.call_id
    assert ack.cseq == CSeq(7, "ACK")
    assert ack.get_all("Route") == routes
    assert ack.get("Contact") is None
    assert ack.body == b""


@pytest.mark.parametrize(("timers", "timer_d"), [(DEFAULT, 32.0), (CUSTOM, 32.0)])
def test_client_invite_non_2xx_acks_and_timer_d_udp(timers: TimerConfig, timer_d: float) -> None:
    invite = make_request("INVITE", extra=["Route: <sip:p1.example.test;lr>"])
    layer, txn = start_client(timers, invite, UDP)
    layer.receive_response(reply(invite, 100), UDP, 0.1)
    layer.drain()

    busy = reply(invite, 486, to_tag="busy-tag")
    layer.receive_response(busy, UDP, 2.0)
    out, events = layer.drain()
    assert events == [ResponseReceived(transaction=txn, response=busy)]
    ack_bytes = build_ack(invite, busy).to_bytes()
    assert out == [Outgoing(ack_bytes, UDP)]
    ack = parse_request(ack_bytes)
    assert ack.vias[0].branch == "z9hG4bK-1"
    assert ack.get_all("Route") == ["<sip:p1.example.test;lr>"]
    assert txn.state is State.COMPLETED
    assert layer.get_timer() == 2.0 + timer_d

    # A retransmitted final: the same ACK again, nothing for the TU.
    layer.receive_response(reply(invite, 486, to_tag="busy-tag"), UDP, 3.0)
    assert layer.drain() == ([Outgoing(ack_bytes, UDP)], [])
    # Provisionals and other finals are absorbed in Completed.
    layer.receive_response(reply(invite, 180), UDP, 3.5)
    assert nothing(layer)

    assert run_timers(layer) == [(2.0 + timer_d, [], [])]
    assert txn.state is State.TERMINATED
    assert layer.client == {}
    # Once gone, a late retransmission is a stray.
    late = reply(invite, 486, to_tag="busy-tag")
    layer.receive_response(late, UDP, 50.0)
    assert layer.drain() == ([], [StrayResponse(response=late, flow=UDP)])


def test_client_invite_non_2xx_tcp_timer_d_zero() -> None:
    invite = make_request("INVITE", transport="TCP")
    layer, txn = start_client(DEFAULT, invite, TCP)
    busy = reply(invite, 603)
    layer.receive_response(busy, TCP, 1.0)
    assert layer.drain() == (
        [Outgoing(build_ack(invite, busy).to_bytes(), TCP)],
        [ResponseReceived(transaction=txn, response=busy)],
    )
    assert txn.state is State.TERMINATED
    assert layer.client == {}
    assert layer.get_timer() is None


@pytest.mark.parametrize(
    ("timers", "flow", "transport", "timer_m"),
    [(DEFAULT, UDP, "UDP", 32.0), (DEFAULT, TCP, "TCP", 32.0), (CUSTOM, UDP, "UDP", 16.0)],
    ids=["udp", "tcp", "custom-udp"],
)
def test_client_invite_2xx_accepted_timer_m(
    timers: TimerConfig, flow: Flow, transport: str, timer_m: float
) -> None:
    invite = make_request("INVITE", transport=transport)
    layer, txn = start_client(timers, invite, flow)
    ok = reply(invite, 200)
    layer.receive_response(ok, flow, 1.0)
    # No ACK from the transaction: the 2xx ACK belongs to the TU (§13.2.2.4).
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=ok)])
    assert txn.state is State.ACCEPTED
    assert layer.get_timer() == 1.0 + timer_m  # Timers A and B are gone

    # RFC 6026 §8.4: 2xx retransmissions (and other forks' 2xx) go to the TU ...
    again = reply(invite, 200)
    layer.receive_response(again, flow, 2.0)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=again)])
    fork = reply(invite, 200, to_tag="other-fork")
    layer.receive_response(fork, flow, 2.5)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=fork)])
    # ... anything else is absorbed.
    layer.receive_response(reply(invite, 180), flow, 3.0)
    layer.receive_response(reply(invite, 486), flow, 3.0)
    assert nothing(layer)

    assert run_timers(layer) == [(1.0 + timer_m, [], [])]
    assert txn.state is State.TERMINATED
    assert layer.client == {}


# -- client non-INVITE (§17.1.2) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("timers", "timer_e", "timer_f"),
    [
        # Doubling from T1, capped at T2.
        (DEFAULT, [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5], 32.0),
        (CUSTOM, [0.25, 0.75, 1.75, 3.75, 5.75, 7.75, 9.75, 11.75, 13.75, 15.75], 16.0),
    ],
    ids=["default", "custom"],
)
def test_client_non_invite_udp_timer_e_then_timer_f(
    timers: TimerConfig, timer_e: list[float], timer_f: float
) -> None:
    options = make_request("OPTIONS")
    layer, txn = start_client(timers, options, UDP)
    assert txn.state is State.TRYING
    fired = run_timers(layer)
    assert [t for t, _, _ in fired] == [*timer_e, timer_f]
    for _, out, events in fired[:-1]:
        assert (out, events) == ([Outgoing(options.to_bytes(), UDP)], [])
    assert fired[-1][1:] == ([], [TransactionTimeout(transaction=txn)])
    assert layer.client == {}


def test_client_non_invite_tcp_only_timer_f() -> None:
    layer, txn = start_client(DEFAULT, make_request("BYE", transport="TCP"), TCP)
    assert run_timers(layer) == [(32.0, [], [TransactionTimeout(transaction=txn)])]


@pytest.mark.parametrize(
    ("timers", "expected"),
    [
        (DEFAULT, [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5, 32.0]),
        (CUSTOM, [0.75, 2.75, 4.75, 6.75, 8.75, 10.75, 12.75, 14.75, 16.0]),
    ],
    ids=["default", "custom"],
)
def test_client_non_invite_provisional_keeps_timer_e_at_t2(
    timers: TimerConfig, expected: list[float]
) -> None:
    register = make_request("REGISTER")
    layer, txn = start_client(timers, register, UDP)
    t1 = timers.t1
    run_timers(layer, until=t1)  # first retransmission; next is due at 3*T1
    trying = reply(register, 100)
    layer.receive_response(trying, UDP, 2 * t1)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=trying)])
    assert txn.state is State.PROCEEDING
    assert layer.get_timer() == 3 * t1  # the armed E is not moved by the 1xx

    fired = run_timers(layer)
    assert [t for t, _, _ in fired] == expected
    for _, out, _ in fired[:-1]:
        assert out == [Outgoing(register.to_bytes(), UDP)]
    # Timer F still applies in Proceeding (§17.1.2.2).
    assert fired[-1][1:] == ([], [TransactionTimeout(transaction=txn)])


@pytest.mark.parametrize(("timers", "timer_k"), [(DEFAULT, 5.0), (CUSTOM, 3.0)])
def test_client_non_invite_final_completed_timer_k_udp(
    timers: TimerConfig, timer_k: float
) -> None:
    bye = make_request("BYE", to_tag="to-1")
    layer, txn = start_client(timers, bye, UDP)
    layer.receive_response(reply(bye, 100), UDP, 0.2)
    layer.drain()
    ok = reply(bye, 200)
    layer.receive_response(ok, UDP, 2.0)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=ok)])
    assert txn.state is State.COMPLETED
    assert layer.get_timer() == 2.0 + timer_k  # E and F cancelled

    layer.receive_response(reply(bye, 200), UDP, 3.0)  # retransmission absorbed
    layer.receive_response(reply(bye, 100), UDP, 3.0)
    assert nothing(layer)
    assert run_timers(layer) == [(2.0 + timer_k, [], [])]
    assert layer.client == {}


def test_client_non_invite_final_in_trying_tcp_timer_k_zero() -> None:
    options = make_request("OPTIONS", transport="TCP")
    layer, txn = start_client(DEFAULT, options, TCP)
    ok = reply(options, 404)
    layer.receive_response(ok, TCP, 1.0)
    assert layer.drain() == ([], [ResponseReceived(transaction=txn, response=ok)])
    assert txn.state is State.TERMINATED
    assert layer.client == {}
    assert layer.get_timer() is None


def test_send_request_needs_a_branch() -> None:
    with pytest.raises(ValueError):
        TransactionLayer().send_request(make_request("OPTIONS", branch=None), UDP, 0.0)


# -- server INVITE (§17.2.1, RFC 6026 §7.1) ------------------------------------------------


@pytest.mark.parametrize(
    ("timers", "timer_g", "timer_h"),
    [
        (DEFAULT, [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5], 32.0),
        (CUSTOM, [0.25, 0.75, 1.75, 3.75, 5.75, 7.75, 9.75, 11.75, 13.75, 15.75], 16.0),
    ],
    ids=["default", "custom"],
)
def test_server_invite_non_2xx_udp_timer_g_then_timer_h(
    timers: TimerConfig, timer_g: list[float], timer_h: float
) -> None:
    invite = make_request("INVITE")
    layer, txn = start_server(invite, timers=timers)
    assert txn.state is State.PROCEEDING
    assert layer.get_timer() is None

    busy = invite.make_response(486, to_tag="to-1")
    layer.respond(txn, busy, 0.0)
    assert layer.drain() == ([Outgoing(busy.to_bytes(), UDP)], [])
    assert txn.state is State.COMPLETED
    assert txn.last_response is busy

    fired = run_timers(layer)
    assert [t for t, _, _ in fired] == [*timer_g, timer_h]
    for _, out, events in fired[:-1]:
        assert (out, events) == ([Outgoing(busy.to_bytes(), UDP)], [])
    assert fired[-1][1:] == ([], [TransactionTimeout(transaction=txn)])
    assert txn.state is State.TERMINATED
    assert layer.server == {}


def test_server_invite_non_2xx_tcp_only_timer_h() -> None:
    invite = make_request("INVITE", transport="TCP")
    layer, txn = start_server(invite, TCP)
    busy = invite.make_response(486, to_tag="to-1")
    layer.respond(txn, busy, 1.0)
    assert layer.drain() == ([Outgoing(busy.to_bytes(), TCP)], [])
    assert run_timers(layer) == [(33.0, [], [TransactionTimeout(transaction=txn)])]


def test_server_invite_retransmissions_in_proceeding_and_completed() -> None:
    invite = make_request("INVITE")
    layer, txn = start_server(invite)
    # Nothing sent yet: a retransmission has nothing to repeat and is not new.
    layer.receive_request(make_request("INVITE"), UDP, 0.1)
    assert nothing(layer)

    trying = invite.make_response(100)
    ringing = invite.make_response(180, to_tag="to-1")
    layer.respond(txn, trying, 0.1)
    layer.respond(txn, ringing, 0.2)
    assert layer.drain() == (
        [Outgoing(trying.to_bytes(), UDP), Outgoing(ringing.to_bytes(), UDP)],
        [],
    )
    assert txn.state is State.PROCEEDING
    assert layer.get_timer() is None  # provisionals are not retransmitted
    layer.receive_request(make_request("INVITE"), UDP, 0.5)
    assert layer.drain() == ([Outgoing(ringing.to_bytes(), UDP)], [])  # the latest one

    busy = invite.make_response(486, to_tag="to-1")
    layer.respond(txn, busy, 1.0)
    layer.drain()
    layer.receive_request(make_request("INVITE"), UDP, 1.2)
    assert layer.drain() == ([Outgoing(busy.to_bytes(), UDP)], [])
    # The retransmission does not disturb Timer G.
    assert layer.get_timer() == 1.5

    # A late TU answer after the final is dropped.
    layer.respond(txn, invite.make_response(200, to_tag="to-1"), 1.3)
    assert nothing(layer)
    assert txn.last_response is busy


@pytest.mark.parametrize(("timers", "timer_i"), [(DEFAULT, 5.0), (CUSTOM, 3.0)])
def test_server_invite_ack_confirmed_timer_i_udp(timers: TimerConfig, timer_i: float) -> None:
    invite = make_request("INVITE")
    layer, txn = start_server(invite, timers=timers)
    busy = invite.make_response(486, to_tag="to-1")
    layer.respond(txn, busy, 0.0)
    layer.drain()
    run_timers(layer, until=timers.t1)  # one Timer G retransmission

    ack = make_request("ACK", to_tag="to-1")  # same branch: part of the transaction
    layer.receive_request(ack, UDP, 1.0)
    assert nothing(layer)  # absorbed, no event
    assert txn.state is State.CONFIRMED
    assert layer.get_timer() == 1.0 + timer_i  # G and H cancelled

    # Confirmed absorbs ACK and INVITE retransmissions.
    layer.receive_request(make_request("ACK", to_tag="to-1"), UDP, 2.0)
    layer.receive_request(make_request("INVITE"), UDP, 2.0)
    assert nothing(layer)

    assert run_timers(layer) == [(1.0 + timer_i, [], [])]
    assert txn.state is State.TERMINATED
    assert layer.server == {}


def test_server_invite_ack_tcp_timer_i_zero() -> None:
    invite = make_request("INVITE", transport="TCP")
    layer, txn = start_server(invite, TCP)
    layer.respond(txn, invite.make_response(480, to_tag="to-1"), 0.0)
    layer.drain()
    layer.receive_request(make_request("ACK", transport="TCP", to_tag="to-1"), TCP, 0.3)
    assert nothing(layer)
    assert txn.state is State.TERMINATED
    assert layer.server == {}
    assert layer.get_timer() is None


@pytest.mark.parametrize(
    ("timers", "flow", "transport", "timer_l"),
    [(DEFAULT, UDP, "UDP", 32.0), (DEFAULT, TCP, "TCP", 32.0), (CUSTOM, UDP, "UDP", 16.0)],
    ids=["udp", "tcp", "custom-udp"],
)
def test_server_invite_2xx_accepted_timer_l(
    timers: TimerConfig, flow: Flow, transport: str, timer_l: float
) -> None:
    invite = make_request("INVITE", transport=transport)
    layer, txn = start_server(invite, flow, timers)
    ringing = invite.make_response(180, to_tag="to-1")
    layer.respond(txn, ringing, 0.5)
    layer.drain()
    ok = invite.make_response(200, to_tag="to-1")
    layer.respond(txn, ok, 1.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), flow)], [])
    assert txn.state is State.ACCEPTED
    assert layer.get_timer() == 1.0 + timer_l  # the transaction never retransmits a 2xx

    # INVITE retransmissions are absorbed: neither resent 2xx/1xx nor a new request.
    layer.receive_request(make_request("INVITE", transport=transport), flow, 1.5)
    assert nothing(layer)

    # The TU retransmits the 2xx through the transaction; Timer L is not pushed back.
    layer.respond(txn, ok, 2.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), flow)], [])
    assert layer.get_timer() == 1.0 + timer_l
    assert txn.state is State.ACCEPTED
    # Anything but a 2xx is refused in Accepted.
    layer.respond(txn, invite.make_response(500, to_tag="to-1"), 2.5)
    layer.respond(txn, invite.make_response(180, to_tag="to-1"), 2.5)
    assert nothing(layer)
    assert txn.state is State.ACCEPTED

    # The ACK for the 2xx is a new transaction (new branch): it goes to the TU.
    ack = make_request("ACK", transport=transport, branch="z9hG4bK-ack", to_tag="to-1")
    layer.receive_request(ack, flow, 3.0)
    assert layer.drain() == ([], [AckReceived(request=ack, flow=flow)])
    assert txn.state is State.ACCEPTED

    assert run_timers(layer) == [(1.0 + timer_l, [], [])]
    assert txn.state is State.TERMINATED
    assert layer.server == {}


def test_server_invite_accepted_passes_same_branch_ack_to_tu() -> None:
    # RFC 6026 §7.1: an ACK matching the transaction in Accepted goes to the TU.
    invite = make_request("INVITE")
    layer, txn = start_server(invite)
    layer.respond(txn, invite.make_response(200, to_tag="to-1"), 0.0)
    layer.drain()
    ack = make_request("ACK", to_tag="to-1")
    layer.receive_request(ack, UDP, 0.1)
    assert layer.drain() == ([], [AckReceived(request=ack, flow=UDP)])
    assert txn.state is State.ACCEPTED


def test_ack_without_any_transaction_goes_to_tu() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK", to_tag="to-1")
    layer.receive_request(ack, UDP, 0.0)
    assert layer.drain() == ([], [AckReceived(request=ack, flow=UDP)])
    assert layer.server == {}


# -- server non-INVITE (§17.2.2) ---------------------------------------------------------------


@pytest.mark.parametrize(("timers", "timer_j"), [(DEFAULT, 32.0), (CUSTOM, 16.0)])
def test_server_non_invite_udp(timers: TimerConfig, timer_j: float) -> None:
    bye = make_request("BYE", to_tag="to-1")
    layer, txn = start_server(bye, timers=timers)
    assert txn.state is State.TRYING
    assert layer.get_timer() is None
    layer.receive_request(make_request("BYE", to_tag="to-1"), UDP, 0.5)
    assert nothing(layer)  # Trying absorbs retransmissions silently

    trying = bye.make_response(100)
    layer.respond(txn, trying, 1.0)
    assert layer.drain() == ([Outgoing(trying.to_bytes(), UDP)], [])
    assert txn.state is State.PROCEEDING
    layer.receive_request(make_request("BYE", to_tag="to-1"), UDP, 1.5)
    assert layer.drain() == ([Outgoing(trying.to_bytes(), UDP)], [])

    ok = bye.make_response(200)
    layer.respond(txn, ok, 2.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), UDP)], [])
    assert txn.state is State.COMPLETED
    assert layer.get_timer() == 2.0 + timer_j
    layer.receive_request(make_request("BYE", to_tag="to-1"), UDP, 3.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), UDP)], [])
    # The final is not retransmitted on a timer; a late TU answer is dropped.
    layer.respond(txn, bye.make_response(500), 3.5)
    assert nothing(layer)

    assert run_timers(layer) == [(2.0 + timer_j, [], [])]
    assert txn.state is State.TERMINATED
    assert layer.server == {}
    # After Timer J a retransmission is a new request.
    again = make_request("BYE", to_tag="to-1")
    layer.receive_request(again, UDP, 40.0)
    _, events = layer.drain()
    assert len(events) == 1 and isinstance(events[0], RequestReceived)
    assert events[0].transaction is not txn


def test_server_non_invite_tcp_timer_j_zero() -> None:
    options = make_request("OPTIONS", transport="TCP")
    layer, txn = start_server(options, TCP)
    ok = options.make_response(200, to_tag="to-1")
    layer.respond(txn, ok, 1.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), TCP)], [])
    assert txn.state is State.TERMINATED
    assert layer.server == {}
    assert layer.get_timer() is None


# -- CANCEL (§9.2) -------------------------------------------------------------------------------


def test_cancel_finds_the_invite_server_transaction() -> None:
    invite = make_request("INVITE")
    layer, invite_txn = start_server(invite)
    cancel = make_request("CANCEL")  # same branch, sent-by, Call-ID and CSeq number
    layer.receive_request(cancel, UDP, 1.0)
    out, events = layer.drain()
    assert out == []
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RequestReceived)
    assert event.request is cancel
    assert event.cancelled is invite_txn
    assert event.transaction is not invite_txn
    assert event.transaction.request is cancel
    assert len(layer.server) == 2

    # A CANCEL retransmission belongs to the CANCEL transaction (Trying: absorbed).
    layer.receive_request(make_request("CANCEL"), UDP, 1.2)
    assert nothing(layer)
    assert invite_txn.state is State.PROCEEDING


def test_cancel_for_unknown_branch() -> None:
    layer, _ = start_server(make_request("INVITE"))
    cancel = make_request("CANCEL", branch="z9hG4bK-unknown")
    layer.receive_request(cancel, UDP, 1.0)
    _, events = layer.drain()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RequestReceived)
    assert event.cancelled is None


# -- matching (§17.1.3, §17.2.3) ----------------------------------------------------------------


def test_same_branch_different_sent_by_is_a_different_transaction() -> None:
    layer, first = start_server(make_request("INVITE", sent_by="192.0.2.10:5060"))
    other = make_request("INVITE", sent_by="192.0.2.11:5060")
    layer.receive_request(other, Flow("udp", ("192.0.2.11", 5060), LOCAL), 0.1)
    _, events = layer.drain()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RequestReceived)
    assert event.transaction is not first
    # Different port in sent-by is different too.
    layer.receive_request(make_request("INVITE", sent_by="192.0.2.10:5070"), UDP, 0.2)
    assert len(layer.drain()[1]) == 1
    assert len(layer.server) == 3


def test_same_branch_different_method_is_a_different_transaction() -> None:
    layer, _ = start_server(make_request("OPTIONS"))
    layer.receive_request(make_request("INFO"), UDP, 0.1)
    assert len(layer.drain()[1]) == 1
    assert len(layer.server) == 2


def test_sent_by_host_matches_case_insensitively() -> None:
    layer, txn = start_server(make_request("INVITE", sent_by="PC33.Example.test"))
    ringing = txn.request.make_response(180, to_tag="to-1")
    layer.respond(txn, ringing, 0.0)
    layer.drain()
    layer.receive_request(make_request("INVITE", sent_by="pc33.example.TEST"), UDP, 0.5)
    assert layer.drain() == ([Outgoing(ringing.to_bytes(), txn.response_flow)], [])


def test_rfc2543_requests_match_without_magic_cookie() -> None:
    # No branch at all, and a branch without the z9hG4bK cookie.
    for branch in (None, "1234"):
        invite = make_request("INVITE", branch=branch)
        layer, txn = start_server(invite)
        ringing = invite.make_response(180, to_tag="to-1")
        layer.respond(txn, ringing, 0.0)
        layer.drain()

        # A retransmission (same Call-ID, From tag, CSeq, top Via) matches.
        layer.receive_request(make_request("INVITE", branch=branch), UDP, 0.5)
        assert layer.drain() == ([Outgoing(ringing.to_bytes(), UDP)], [])

        # Differences in any of them make a new transaction.
        for changed in (
            make_request("INVITE", branch=branch, cseq=2),
            make_request("INVITE", branch=branch, from_tag="from-2"),
            make_request("INVITE", branch=branch, call_id="call-2@192.0.2.10"),
            make_request("INVITE", branch=branch, sent_by="192.0.2.10:5070"),
        ):
            layer.receive_request(changed, UDP, 0.6)
            _, events = layer.drain()
            assert len(events) == 1 and isinstance(events[0], RequestReceived)
            assert events[0].transaction is not txn

        # A CANCEL with the same identifiers targets the INVITE.
        layer.receive_request(make_request("CANCEL", branch=branch), UDP, 0.7)
        _, events = layer.drain()
        assert len(events) == 1 and isinstance(events[0], RequestReceived)
        assert events[0].cancelled is txn

        # The ACK for a non-2xx (To tag of the response) maps to the INVITE transaction.
        layer.respond(txn, invite.make_response(404, to_tag="to-1"), 1.0)
        layer.drain()
        layer.receive_request(make_request("ACK", branch=branch, to_tag="to-1"), UDP, 1.1)
        assert nothing(layer)
        assert txn.state is State.CONFIRMED


def test_responses_match_client_transactions_on_branch_and_cseq_method() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", sent_by="192.0.2.1:5060", branch="z9hG4bK-c1")
    cancel = make_request("CANCEL", sent_by="192.0.2.1:5060", branch="z9hG4bK-c1")
    invite_txn = layer.send_request(invite, UDP, 0.0)
    cancel_txn = layer.send_request(cancel, UDP, 0.1)
    layer.drain()
    assert invite_txn is not cancel_txn

    cancel_ok = reply(cancel, 200)
    layer.receive_response(cancel_ok, UDP, 0.2)
    assert layer.drain() == ([], [ResponseReceived(transaction=cancel_txn, response=cancel_ok)])
    assert invite_txn.state is State.CALLING
    assert cancel_txn.state is State.COMPLETED

    terminated = reply(invite, 487)
    layer.receive_response(terminated, UDP, 0.3)
    out, events = layer.drain()
    assert events == [ResponseReceived(transaction=invite_txn, response=terminated)]
    assert [parse_request(o.data).method for o in out] == ["ACK"]


def test_unknown_responses_are_stray() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE", sent_by="192.0.2.1:5060", branch="z9hG4bK-c1")
    layer.send_request(invite, UDP, 0.0)
    layer.drain()
    strays = [
        reply(make_request("INVITE", sent_by="192.0.2.1:5060", branch="z9hG4bK-other"), 200),
        # Right branch, wrong CSeq method.
        reply(make_request("OPTIONS", sent_by="192.0.2.1:5060", branch="z9hG4bK-c1"), 200),
        # No branch at all.
        reply(make_request("INVITE", sent_by="192.0.2.1:5060", branch=None), 200),
    ]
    for stray in strays:
        layer.receive_response(stray, UDP, 0.1)
        assert layer.drain() == ([], [StrayResponse(response=stray, flow=UDP)])


# -- where responses go (§18.2.2, RFC 3581) -------------------------------------------------------

NAT = Flow("udp", ("203.0.113.5", 40001), LOCAL)


@pytest.mark.parametrize(
    ("via", "flow", "expected"),
    [
        # rport filled in: the packet's source address and port.
        (
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport=40001;received=203.0.113.5",
            NAT,
            NAT,
        ),
        # received, no rport: received address, sent-by port.
        (
            "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1;received=203.0.113.5",
            NAT,
            NAT.with_remote(("203.0.113.5", 5070)),
        ),
        # received, no port in sent-by: 5060.
        (
            "SIP/2.0/UDP pc33.example.test;branch=z9hG4bK-1;received=203.0.113.5",
            NAT,
            NAT.with_remote(("203.0.113.5", 5060)),
        ),
        # Neither: sent-by itself, default port.
        ("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1", UDP, UDP.with_remote(("192.0.2.10", 5060))),
        # rport asked for but not filled in: as if absent.
        (
            "SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bK-1;rport",
            NAT,
            NAT.with_remote(("192.0.2.10", 5080)),
        ),
        # maddr: that address, sent-by port (or 5060).
        (
            "SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bK-1;maddr=239.255.255.1;ttl=1"
            ";received=203.0.113.5",
            NAT,
            NAT.with_remote(("239.255.255.1", 5080)),
        ),
        (
            "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1;maddr=239.255.255.1",
            NAT,
            NAT.with_remote(("239.255.255.1", 5060)),
        ),
        # Reliable: back down the same connection, whatever the Via says.
        (
            "SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK-1;received=203.0.113.5;rport=40000",
            TCP,
            TCP,
        ),
        ("SIP/2.0/TCP 192.0.2.10;branch=z9hG4bK-1;maddr=239.255.255.1", TCP, TCP),
    ],
)
def test_response_flow(via: str, flow: Flow, expected: Flow) -> None:
    result = response_flow(parse_via(via), flow)
    assert result == expected
    assert result.conn_id == flow.conn_id


def test_server_transaction_sends_responses_per_18_2_2() -> None:
    invite = make_request(
        "INVITE", sent_by="192.0.2.10:5070", via_params=";rport=40001;received=203.0.113.5"
    )
    layer, txn = start_server(invite, NAT)
    assert txn.response_flow == NAT
    layer.respond(txn, invite.make_response(100), 0.0)
    assert layer.drain()[0][0].flow == NAT

    options = make_request("OPTIONS", sent_by="192.0.2.10:5070", via_params=";received=203.0.113.5")
    layer, txn = start_server(options, NAT)
    target = NAT.with_remote(("203.0.113.5", 5070))
    ok = options.make_response(200, to_tag="to-1")
    layer.respond(txn, ok, 0.0)
    assert layer.drain() == ([Outgoing(ok.to_bytes(), target)], [])
    # Retransmitted answers follow the same rule.
    layer.receive_request(
        make_request("OPTIONS", sent_by="192.0.2.10:5070", via_params=";received=203.0.113.5"),
        NAT,
        0.5,
    )
    assert layer.drain() == ([Outgoing(ok.to_bytes(), target)], [])


# -- the timer heap -------------------------------------------------------------------------------


def test_get_timer_is_the_earliest_of_many_transactions() -> None:
    layer = TransactionLayer()
    layer.send_request(make_request("OPTIONS", branch="z9hG4bK-a"), TCP, 0.0)  # F at 32
    assert layer.get_timer() == 32.0
    layer.send_request(make_request("INVITE", branch="z9hG4bK-b"), UDP, 1.0)  # A at 1.5
    assert layer.get_timer() == 1.5
    layer.drain()
    invite_b = make_request("INVITE", branch="z9hG4bK-b")
    layer.receive_response(reply(invite_b, 180), UDP, 1.2)  # cancels A and B
    assert layer.get_timer() == 32.0


def test_handle_timer_fires_everything_due_in_deadline_order() -> None:
    layer = TransactionLayer()
    first = make_request("OPTIONS", branch="z9hG4bK-a")
    second = make_request("OPTIONS", branch="z9hG4bK-b")
    layer.send_request(first, UDP, 0.0)
    layer.send_request(second, UDP, 0.25)
    layer.drain()
    layer.handle_timer(0.75)  # E of first (0.5) and of second (0.75)
    assert layer.drain() == (
        [Outgoing(first.to_bytes(), UDP), Outgoing(second.to_bytes(), UDP)],
        [],
    )
    # Each re-armed from the time it was handled: 0.75 + 1 for both.
    assert layer.get_timer() == 1.75
