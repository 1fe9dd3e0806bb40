"""SipEndpoint, the sans-I/O SIP application core: bytes in, bytes out, virtual time.

Built from the real TransactionLayer, Registrar, DigestAuthenticator and
BruteForceGuard. Each test feeds request bytes with `receive(data, flow, now, wall)`
and parses what `drain()` hands back. Nothing sleeps; `now` (monotonic) and `wall`
(epoch seconds) are plain floats the test advances by hand.
"""

from __future__ import annotations

import pytest

from switch.auth import BruteForceGuard, DigestAuthenticator
from switch.endpoint import ALLOW, SipEndpoint
from switch.registrar import BindingChange, Registrar, RegistrarPolicy
from switch.sip.flow import Flow, Outgoing
from switch.sip.message import Response, parse_message
from switch.sip.transaction import TransactionLayer
from tests.support.sip_client import digest_authorization

REALM = "switch.test"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}
LOCAL = ("192.0.2.1", 5060)
PHONE = ("192.0.2.10", 5062)
UDP = Flow("udp", PHONE, LOCAL)
TCP = Flow("tcp", ("192.0.2.10", 40000), LOCAL, conn_id=7)
WALL = 1_700_000_000.0
CONTACT = "sip:alice@192.0.2.10:5062"
MAX_FAILURES, WINDOW, COOLDOWN = 3, 60.0, 300.0


def make_endpoint() -> SipEndpoint:
    return SipEndpoint(
        transactions=TransactionLayer(),
        registrar=Registrar(RegistrarPolicy(), server_header="switch-test"),
        authenticator=DigestAuthenticator(REALM, dict(PASSWORDS), nonce_ttl=300.0,
                                          secret=b"s" * 32),
        guard=BruteForceGuard(max_failures=MAX_FAILURES, window=WINDOW, cooldown=COOLDOWN),
        server_header="switch-test",
    )


def request(
    method: str = "OPTIONS",
    *,
    uri: str = "sip:switch.test",
    branch: str = "z9hG4bK-1",
    via: str | None = None,
    flow: Flow = UDP,
    user: str = "alice",
    to: str | None = None,
    call_id: str = "call-1",
    cseq: int = 1,
    headers: tuple[str, ...] = (),
) -> bytes:
    if via is None:
        proto = flow.transport.upper()
        via = f"SIP/2.0/{proto} {flow.remote[0]}:{flow.remote[1]};branch={branch};rport"
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: <sip:{user}@{REALM}>;tag=from-{call_id}",
        f"To: {to or f'<sip:{user}@{REALM}>'}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *headers,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def register(
    *,
    cseq: int = 1,
    branch: str | None = None,
    authorization: str | None = None,
    contact: str | None = f"<{CONTACT}>",
    expires: int | None = 3600,
    **kwargs: object,
) -> bytes:
    headers = []
    if contact is not None:
        headers.append(f"Contact: {contact}")
    if expires is not None:
        headers.append(f"Expires: {expires}")
    if authorization is not None:
        headers.append(f"Authorization: {authorization}")
    return request("REGISTER", cseq=cseq, branch=branch or f"z9hG4bK-reg-{cseq}",
                   headers=tuple(headers), **kwargs)  # type: ignore[arg-type]


def send(
    endpoint: SipEndpoint, data: bytes, flow: Flow = UDP, now: float = 0.0, wall: float = WALL
) -> list[Outgoing]:
    endpoint.receive(data, flow, now, wall)
    return endpoint.drain()


def only_response(out: list[Outgoing], flow: Flow = UDP) -> Response:
    assert len(out) == 1, out
    assert out[0].flow == flow
    message = parse_message(out[0].data, datagram=not flow.reliable)
    assert isinstance(message, Response)
    return message


def answer(endpoint: SipEndpoint, data: bytes, flow: Flow = UDP, now: float = 0.0) -> Response:
    return only_response(send(endpoint, data, flow, now), flow)


def challenge(endpoint: SipEndpoint, flow: Flow = UDP, now: float = 0.0,
              algorithm: str = "SHA-256", **kwargs: object) -> str:
    response = answer(endpoint, register(branch=f"z9hG4bK-ch-{now}", flow=flow, **kwargs),
                      flow, now)  # type: ignore[arg-type]
    assert response.status == 401
    return next(c for c in response.get_all("WWW-Authenticate") if f"algorithm={algorithm}," in c)


def credentials(chal: str, user: str = "alice", password: str = "wonderland",
                uri: str = "sip:switch.test", nc: int = 1) -> str:
    return digest_authorization(chal, user, password, "REGISTER", uri, nc=nc)


def registered(endpoint: SipEndpoint, flow: Flow = UDP, now: float = 0.0) -> Response:
    """Run the whole digest flow and the group commit; return the final response."""
    auth = credentials(challenge(endpoint, flow, now))
    assert send(endpoint, register(cseq=2, authorization=auth, flow=flow), flow, now) == []
    assert endpoint.take_writes()
    endpoint.release_held(now)
    return only_response(endpoint.drain(), flow)


# -- OPTIONS and simple answers ------------------------------------------------------------


def test_options_gets_200_with_allow() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, request("OPTIONS"))
    assert (response.status, response.reason) == (200, "OK")
    assert response.get("Allow") == ALLOW
    assert response.get("Server") == "switch-test"
    assert response.to.tag
    assert response.call_id == "call-1"
    assert str(response.cseq) == "1 OPTIONS"
    assert endpoint.take_writes() == []
    assert not endpoint.has_held()


def test_responses_carry_received_and_rport() -> None:
    endpoint = make_endpoint()
    natted = Flow("udp", ("203.0.113.7", 40000), LOCAL)
    via = "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-nat;rport"
    out = send(endpoint, request(via=via), natted)
    response = only_response(out, natted)  # back to the packet's source address and port
    top = response.vias[0]
    assert (top.host, top.port) == ("10.0.0.5", 5060)
    assert top.params["received"] == "203.0.113.7"
    assert top.params["rport"] == "40000"
    assert top.branch == "z9hG4bK-nat"


def test_received_without_rport_goes_to_the_via_port() -> None:
    endpoint = make_endpoint()
    natted = Flow("udp", ("203.0.113.7", 40000), LOCAL)
    out = send(endpoint, request(via="SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-x"), natted)
    assert out[0].flow.remote == ("203.0.113.7", 5070)
    top = only_response(out, out[0].flow).vias[0]
    assert top.params["received"] == "203.0.113.7"
    assert "rport" not in top.params


def test_via_matching_the_source_is_left_alone() -> None:
    endpoint = make_endpoint()
    via = f"SIP/2.0/UDP {PHONE[0]}:{PHONE[1]};branch=z9hG4bK-same"
    response = answer(endpoint, request(via=via))
    assert str(response.vias[0]) == via


def test_tel_request_uri_gets_416_before_any_challenge() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, register(uri="tel:+15551234567"))
    assert (response.status, response.reason) == (416, "Unsupported URI Scheme")
    assert response.get("WWW-Authenticate") is None
    assert endpoint.take_writes() == []


def test_tel_to_uri_gets_416() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint))
    response = answer(endpoint, register(cseq=2, authorization=auth, to="<tel:+15551234567>"))
    assert (response.status, response.reason) == (416, "Unsupported URI Scheme")
    assert endpoint.take_writes() == []
    assert not endpoint.has_held()


def test_require_unknown_extension_gets_420() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, request(headers=("Require: path, foo",)))
    assert (response.status, response.reason) == (420, "Bad Extension")
    assert response.get("Unsupported") == "foo"
    response = answer(endpoint, request(branch="z9hG4bK-2", headers=("Proxy-Require: foo",)))
    assert response.status == 420
    assert response.get("Unsupported") == "foo"
    response = answer(endpoint, request(branch="z9hG4bK-3", headers=("Require: outbound",)))
    assert response.status == 200


def test_unknown_method_gets_405_with_allow() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, request("FOO"))
    assert (response.status, response.reason) == (405, "Method Not Allowed")
    assert response.get("Allow") == ALLOW


def test_invite_gets_501_for_now() -> None:
    endpoint = make_endpoint()
    out = send(endpoint, request("INVITE"), now=10.0)
    response = only_response(out)
    assert response.status == 501
    assert response.get("Allow") == ALLOW
    # A non-2xx final to an INVITE is retransmitted (Timer G) until the ACK comes.
    assert endpoint.get_timer() == 10.5
    endpoint.handle_timer(10.5)
    assert [o.data for o in endpoint.drain()] == [out[0].data]
    ack = request("ACK", to=f"<sip:alice@switch.test>;tag={response.to.tag}")
    assert send(endpoint, ack, now=11.0) == []  # absorbed by the transaction
    endpoint.handle_timer(16.0)
    assert endpoint.drain() == []  # no more retransmissions after the ACK


def test_cancel_without_a_matching_invite_gets_481() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, request("CANCEL", branch="z9hG4bK-none"))
    assert (response.status, response.reason) == (481, "Call/Transaction Does Not Exist")


def test_stray_ack_is_ignored() -> None:
    endpoint = make_endpoint()
    assert send(endpoint, request("ACK")) == []


# -- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "mangle", "status", "words"),
    [
        ("cseq", (b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS"), 400, "CSeq"),
        ("call-id", (b"Call-ID: call-1\r\n", b""), 400, "Missing Call-ID"),
        ("from", (b"From: <sip:alice@switch.test>;tag=from-call-1\r\n", b""), 400,
         "Missing From"),
        ("version", (b"SIP/2.0\r\n", b"SIP/3.0\r\n"), 505, "SIP version"),
        ("max-forwards", (b"Max-Forwards: 70", b"Max-Forwards: many"), 400, "Max-Forwards"),
    ],
)
def test_malformed_request_with_a_via_gets_a_stateless_answer(
    fault: str, mangle: tuple[bytes, bytes], status: int, words: str
) -> None:
    endpoint = make_endpoint()
    data = request("OPTIONS")
    assert mangle[0] in data
    out = send(endpoint, data.replace(mangle[0], mangle[1], 1))
    assert len(out) == 1
    assert out[0].flow == UDP  # back to where it came from
    # The faulty header is echoed as it came, so the answer is read line by line.
    lines = out[0].data.decode().split("\r\n")
    version, code, reason = lines[0].split(" ", 2)
    assert (version, code) == ("SIP/2.0", str(status))
    assert words in reason
    assert lines[1] == "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1;rport"
    to_line = next(line for line in lines if line.startswith("To: "))
    assert ";tag=" in to_line  # a To tag is added
    assert out[0].data.endswith(b"Content-Length: 0\r\n\r\n")
    assert endpoint.stats["parse_errors"] == 1
    assert endpoint.get_timer() is None  # stateless: no transaction was made


def test_malformed_header_deep_in_a_register_is_answered() -> None:
    """Headers parsed lazily (here Contact) fail inside the transaction: still answered."""
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint))
    data = register(cseq=2, authorization=auth, contact="<sip:alice@192.0.2.10>;q=2")
    response = answer(endpoint, data)
    assert response.status == 400
    assert "q value" in response.reason
    assert endpoint.take_writes() == []


def test_oversized_datagram_gets_513() -> None:
    endpoint = make_endpoint()
    data = request(headers=("X-Padding: " + "a" * 70000,))
    response = answer(endpoint, data)
    assert response.status == 513


@pytest.mark.parametrize(
    "data",
    [
        b"SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-nope\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n",
        b"SIP/2.0 999 Broken\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1\r\n\r\n",
        b"hello world\r\n\r\n",
        b"\x00\xff\xfe garbage",
        b"\r\n\r\n",
        b"OPTIONS sip:switch.test SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
        b"Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",  # a request, but no Via to answer to
    ],
    ids=["response-no-via", "stray-response", "bad-response", "text", "binary", "crlf",
         "request-no-via"],
)
def test_responses_and_garbage_without_a_via_get_nothing(data: bytes) -> None:
    endpoint = make_endpoint()
    assert send(endpoint, data) == []
    assert endpoint.get_timer() is None


# -- REGISTER with digest --------------------------------------------------------------------


def test_register_without_credentials_gets_one_challenge_per_algorithm() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, register())
    assert (response.status, response.reason) == (401, "Unauthorized")
    challenges = response.get_all("WWW-Authenticate")
    assert len(challenges) == 2
    assert "algorithm=SHA-256," in challenges[0]
    assert "algorithm=MD5," in challenges[1]
    assert all(f'realm="{REALM}"' in c and "stale" not in c for c in challenges)
    assert endpoint.take_writes() == []
    assert not endpoint.has_held()


def test_challenges_are_stateless() -> None:
    """A REGISTER without credentials costs no transaction: each copy gets a new nonce."""
    endpoint = make_endpoint()
    data = register()
    first = answer(endpoint, data)
    again = answer(endpoint, data, now=0.5)
    assert first.status == again.status == 401
    assert first.get_all("WWW-Authenticate") != again.get_all("WWW-Authenticate")
    assert endpoint.transactions.server == {}
    assert endpoint.get_timer() is None
    assert endpoint.stats["absorbed"] == 0


@pytest.mark.parametrize("to", ['"unterminated <sip:alice@switch.test>',
                                "<sip:alice@switch.test>;tag=a;;"])
def test_register_without_credentials_and_a_bad_to_gets_400(to: str) -> None:
    endpoint = make_endpoint()
    out = send(endpoint, register(to=to))
    assert len(out) == 1 and out[0].flow == UDP
    assert out[0].data.startswith(b"SIP/2.0 400 ")


def test_register_with_require_is_checked_before_the_challenge() -> None:
    endpoint = make_endpoint()
    response = answer(endpoint, request("REGISTER", headers=("Require: foo",
                                                             f"Contact: <{CONTACT}>")))
    assert response.status == 420
    assert response.get("Unsupported") == "foo"


def test_register_digest_flow_holds_the_200_until_the_write_is_taken() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint, now=1.0))
    log: list[object] = []
    # The 200 depends on durable state: nothing leaves yet.
    assert send(endpoint, register(cseq=2, authorization=auth), now=1.5, wall=WALL + 1.5) == []
    assert endpoint.has_held()
    assert endpoint.drain() == []
    # The runtime persists first …
    writes = endpoint.take_writes()
    log.append(("write", writes))
    assert endpoint.drain() == []  # taking the writes alone does not send anything
    # … then acknowledges.
    endpoint.release_held(2.0)
    out = endpoint.drain()
    log += [("send", parse_message(o.data)) for o in out]
    assert [entry[0] for entry in log] == ["write", "send"]
    assert not endpoint.has_held()
    (change,) = writes
    assert isinstance(change, BindingChange)
    assert (change.extension, change.key) == ("alice", CONTACT)
    assert change.binding is not None
    assert change.binding.expires_at == WALL + 1.5 + 3600  # wall time, not monotonic
    assert (change.binding.source_host, change.binding.source_port) == PHONE
    response = only_response(out)
    assert response.status == 200
    assert response.get_all("Contact") == [f"<{CONTACT}>;expires=3600"]
    assert [b.contact for b in endpoint.registrar.lookup("alice", WALL + 2)] == [CONTACT]
    assert endpoint.take_writes() == []


def test_held_answers_are_released_together() -> None:
    endpoint = make_endpoint()
    bob_flow = Flow("udp", ("192.0.2.20", 5060), LOCAL)
    chal_a = challenge(endpoint)
    chal_b = challenge(endpoint, flow=bob_flow, user="bob")
    send(endpoint, register(cseq=2, authorization=credentials(chal_a)))
    send(endpoint, register(cseq=2, authorization=credentials(chal_b, "bob", "builder"),
                            flow=bob_flow, user="bob",
                            contact="<sip:bob@192.0.2.20>"), bob_flow)
    assert [c.extension for c in endpoint.take_writes()] == ["alice", "bob"]
    endpoint.release_held(0.1)
    out = endpoint.drain()
    assert [o.flow for o in out] == [UDP, bob_flow]
    assert all(o.data.startswith(b"SIP/2.0 200 OK") for o in out)


def test_failed_write_answers_500_with_retry_after() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint))
    assert send(endpoint, register(cseq=2, authorization=auth)) == []
    assert endpoint.take_writes()
    endpoint.release_held(0.5, failed=True)
    response = only_response(endpoint.drain())
    assert (response.status, response.reason) == (500, "Storage Failure")
    assert response.get("Retry-After") == "5"
    assert response.to.tag


def test_query_register_without_changes_is_answered_at_once() -> None:
    endpoint = make_endpoint()
    registered(endpoint)
    auth = credentials(challenge(endpoint, now=1.0), nc=1)
    out = send(endpoint, register(cseq=3, authorization=auth, contact=None, expires=None),
               now=1.0, wall=WALL + 100)
    response = only_response(out)
    assert response.status == 200
    assert response.get_all("Contact") == [f"<{CONTACT}>;expires=3500"]
    assert not endpoint.has_held()
    assert endpoint.take_writes() == []


def test_exact_retransmission_resends_the_same_200_without_a_new_write() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint))
    data = register(cseq=2, authorization=auth)
    assert send(endpoint, data, now=0.1) == []
    # A copy while the answer is held is absorbed silently (Trying).
    assert send(endpoint, data, now=0.6) == []
    assert endpoint.stats["absorbed"] == 1
    assert len(endpoint.take_writes()) == 1
    endpoint.release_held(0.7)
    (first,) = endpoint.drain()
    assert first.data.startswith(b"SIP/2.0 200 OK")
    # Copies after the 200 get the very same bytes back, and nothing new to persist.
    for now in (1.0, 2.0):
        assert send(endpoint, data, now=now) == [first]
        assert endpoint.take_writes() == []
        assert not endpoint.has_held()
    assert endpoint.stats["absorbed"] == 3
    # Past the pre-parse cache's two generations (traffic at 10 s and 20 s rotates them),
    # the transaction layer still matches the copy until Timer J.
    assert answer(endpoint, request(branch="z9hG4bK-tick"), now=10.0).status == 200
    assert send(endpoint, data, now=20.0) == [first]
    assert endpoint.take_writes() == []
    assert endpoint.stats["absorbed"] == 3


def test_digest_is_over_the_header_uri_not_the_request_uri() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint), uri="sip:192.0.2.1:5060")  # as SIPp does
    assert send(endpoint, register(cseq=2, authorization=auth)) == []
    assert endpoint.take_writes()


def test_stale_nonce_gets_a_stale_challenge_and_is_not_a_failure() -> None:
    endpoint = make_endpoint()
    chal = challenge(endpoint, now=0.0)
    later = 301.0
    for cseq in (2, 3, 4, 5):  # more than max_failures: stale never blocks
        response = answer(endpoint, register(cseq=cseq, authorization=credentials(chal)),
                          now=later)
        assert response.status == 401
        assert all(c.endswith("stale=true") for c in response.get_all("WWW-Authenticate"))
    assert answer(endpoint, request(branch="z9hG4bK-opt"), now=later).status == 200


def test_to_user_other_than_the_authenticated_user_gets_403() -> None:
    endpoint = make_endpoint()
    auth = credentials(challenge(endpoint))
    response = answer(endpoint, register(cseq=2, authorization=auth,
                                         to="<sip:bob@switch.test>"))
    assert (response.status, response.reason) == (403, "Not Allowed To Register This Address")
    assert endpoint.take_writes() == []
    assert endpoint.registrar.lookup("bob", WALL) == []


def test_register_cseq_out_of_order_gets_400() -> None:
    endpoint = make_endpoint()
    registered(endpoint)
    auth = credentials(challenge(endpoint, now=1.0))
    response = answer(endpoint, register(cseq=2, branch="z9hG4bK-again", authorization=auth),
                      now=1.0)
    assert response.status == 400
    assert "CSeq" in response.reason
    assert endpoint.take_writes() == []


# -- brute force ------------------------------------------------------------------------------


def test_brute_force_blocks_one_source_until_cooldown() -> None:
    endpoint = make_endpoint()
    attacker = Flow("udp", ("198.51.100.66", 5060), LOCAL)
    chal = challenge(endpoint, flow=attacker, now=0.0)
    for n in range(MAX_FAILURES):
        bad = credentials(chal, password=f"guess-{n}")
        response = answer(endpoint, register(cseq=10 + n, flow=attacker, authorization=bad),
                          attacker, now=1.0 + n)
        assert response.status == 401  # the Nth failure itself is still challenged
    blocked_at = float(MAX_FAILURES)  # time of the Nth failure
    # Now everything from that address is refused, even the right password.
    for i, data in enumerate([
        request("OPTIONS", flow=attacker, branch="z9hG4bK-b1"),
        register(cseq=20, flow=attacker, authorization=credentials(chal, nc=1)),
        register(cseq=21, flow=attacker),  # the stateless challenge path too
        request("INVITE", flow=attacker, branch="z9hG4bK-b2"),
    ]):
        response = answer(endpoint, data, attacker, now=blocked_at + 1 + i)
        assert (response.status, response.reason) == (403, "Forbidden")
    assert endpoint.take_writes() == []
    # Another source is unaffected.
    assert answer(endpoint, request("OPTIONS", branch="z9hG4bK-other"),
                  now=blocked_at + 5).status == 200
    assert registered(endpoint, now=blocked_at + 6).status == 200
    # Just before the cooldown ends: still refused; at its end: served again.
    just_before = blocked_at + COOLDOWN - 0.5
    assert answer(endpoint, request(flow=attacker, branch="z9hG4bK-b3"), attacker,
                  now=just_before).status == 403
    assert answer(endpoint, request(flow=attacker, branch="z9hG4bK-b4"), attacker,
                  now=blocked_at + COOLDOWN).status == 200


def test_failures_spread_beyond_the_window_do_not_block() -> None:
    endpoint = make_endpoint()
    for n in range(MAX_FAILURES + 2):
        now = n * WINDOW / 2 + 0.25  # never MAX_FAILURES within one window
        chal = challenge(endpoint, now=now)
        bad = credentials(chal, password="wrong")
        assert answer(endpoint, register(cseq=10 + n, authorization=bad), now=now).status == 401
    assert answer(endpoint, request(branch="z9hG4bK-ok"), now=1000.0).status == 200


def test_successful_login_resets_the_failure_count() -> None:
    endpoint = make_endpoint()
    chal = challenge(endpoint)
    for n in range(MAX_FAILURES - 1):
        bad = credentials(chal, password="wrong")
        assert answer(endpoint, register(cseq=10 + n, authorization=bad),
                      now=1.0 + n).status == 401
    assert registered(endpoint, now=5.0).status == 200
    for n in range(MAX_FAILURES - 1):
        bad = credentials(chal, password="wrong")
        assert answer(endpoint, register(cseq=30 + n, authorization=bad, call_id="c2"),
                      now=6.0 + n).status == 401
    assert answer(endpoint, request(branch="z9hG4bK-ok"), now=9.0).status == 200


def test_unparseable_authorization_counts_as_a_failure() -> None:
    endpoint = make_endpoint()
    for n in range(MAX_FAILURES):
        data = register(cseq=1 + n, authorization='Digest username="alice"')
        assert answer(endpoint, data, now=float(n)).status == 401
    assert answer(endpoint, request(branch="z9hG4bK-x"), now=10.0).status == 403


# -- reliable transport ---------------------------------------------------------------------------


def test_tcp_answers_on_the_same_flow_without_a_retransmission_cache() -> None:
    endpoint = make_endpoint()
    data = request("OPTIONS", flow=TCP, via="SIP/2.0/TCP client.invalid;branch=z9hG4bK-t")
    first = only_response(send(endpoint, data, TCP), TCP)  # not to the Via's sent-by
    assert first.status == 200
    assert first.vias[0].params["received"] == TCP.remote[0]
    assert endpoint._recent == {} and endpoint._older == {}
    # No timers on a reliable transport: the transaction is over already ...
    assert endpoint.get_timer() is None
    assert endpoint.transactions.server == {}
    # ... so the same bytes again are a new request, answered afresh.
    again = only_response(send(endpoint, data, TCP, now=0.1), TCP)
    assert again.status == 200
    assert again.to.tag != first.to.tag
    assert endpoint.stats["absorbed"] == 0


def test_tcp_register_flow() -> None:
    endpoint = make_endpoint()
    response = registered(endpoint, flow=TCP)
    assert response.status == 200
    (binding,) = endpoint.registrar.lookup("alice", WALL)
    assert (binding.transport, binding.source_port) == ("tcp", 40000)
    assert endpoint.get_timer() is None


def test_tcp_malformed_request_answered_on_the_same_flow() -> None:
    endpoint = make_endpoint()
    data = request(flow=TCP).replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS")
    out = send(endpoint, data, TCP)
    assert len(out) == 1 and out[0].flow == TCP
    assert out[0].data.startswith(b"SIP/2.0 400 ")


def test_overload_sheds_exactly_the_share_of_new_attempts_with_retry_after() -> None:
    endpoint = make_endpoint()
    endpoint.shed_share = 0.25
    answers = [answer(endpoint, register(call_id=f"shed-{n}")) for n in range(40)]
    shed = [a for a in answers if a.status == 503]
    assert len(shed) == 10
    assert all(5 <= int(a.get("Retry-After") or 0) <= 34 for a in shed)
    assert {a.status for a in answers} == {401, 503}


def test_overload_never_sheds_an_authenticated_register() -> None:
    endpoint = make_endpoint()
    chal = challenge(endpoint)
    endpoint.shed_share = 0.9
    out = send(endpoint, register(cseq=2, authorization=credentials(chal)))
    assert out == []  # held for the group commit, not shed
    endpoint.take_writes()
    endpoint.release_held(0.0)
    assert only_response(endpoint.drain()).status == 200
