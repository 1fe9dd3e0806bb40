"""Registrar (RFC 3261 §10.3) driven directly with parsed REGISTER requests.

`now` is wall-clock epoch seconds passed in as a plain float; nothing sleeps. Every
test checks both the answer and the exact `outcome.changes` the runtime would persist.
"""

from __future__ import annotations

import pytest

from switch.registrar import (
    Binding,
    BindingChange,
    RegisterOutcome,
    Registrar,
    RegistrarPolicy,
)
from switch.sip.errors import SipParseError
from switch.sip.flow import Flow
from switch.sip.message import Request, Response, parse_message

NOW = 1_700_000_000.0
LOCAL = ("192.0.2.1", 5060)
PHONE = ("192.0.2.10", 5062)
FLOW = Flow("udp", PHONE, LOCAL)
C1 = "sip:alice@192.0.2.10:5062"
C2 = "sip:alice@192.0.2.11:5062"
C3 = "sip:alice@192.0.2.12:5062"
INSTANCE = '"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>"'


def register_request(
    *contacts: str,
    call_id: str = "call-1",
    cseq: int = 1,
    expires: int | None = None,
    user_agent: str | None = "TestPhone/1.0",
) -> Request:
    lines = [
        "REGISTER sip:switch.test SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{call_id}-{cseq}",
        "Max-Forwards: 70",
        "From: <sip:alice@switch.test>;tag=f1",
        "To: <sip:alice@switch.test>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
    ]
    lines += [f"Contact: {c}" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if user_agent is not None:
        lines.append(f"User-Agent: {user_agent}")
    lines.append("Content-Length: 0")
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def make_registrar(**policy: int) -> Registrar:
    return Registrar(RegistrarPolicy(**policy), server_header="switch-test")


def register(
    registrar: Registrar, *contacts: str, now: float = NOW, flow: Flow = FLOW, **kwargs: object
) -> RegisterOutcome:
    request = register_request(*contacts, **kwargs)  # type: ignore[arg-type]
    return registrar.register(request, "alice", flow, now, "totag")


def contact_lines(response: Response) -> list[str]:
    return response.get_all("Contact")


def binding(contact: str = C1, **changes: object) -> Binding:
    fields: dict[str, object] = dict(
        extension="alice", contact=contact, instance=None, expires_at=NOW + 3600,
        call_id="call-1", cseq=1, q=None, transport="udp", source_host=PHONE[0],
        source_port=PHONE[1], local_host=LOCAL[0], local_port=LOCAL[1],
        user_agent="TestPhone/1.0", updated_at=NOW,
    )  # fmt: skip
    fields.update(changes)
    return Binding(**fields)  # type: ignore[arg-type]


# -- adding, refreshing, listing ---------------------------------------------------------


def test_add_one_contact() -> None:
    registrar = make_registrar()
    outcome = register(registrar, f"<{C1}>", expires=3600)
    response = outcome.response
    assert (response.status, response.reason) == (200, "OK")
    assert response.to.tag == "totag"
    assert response.get("Server") == "switch-test"
    assert response.get("Date") is not None
    assert contact_lines(response) == [f"<{C1}>;expires=3600"]
    assert outcome.changes == [BindingChange("alice", C1, binding())]
    assert registrar.lookup("alice", NOW) == [binding()]
    assert registrar.lookup("bob", NOW) == []
    assert registrar.all_bindings() == [binding()]


def test_binding_records_where_the_register_came_from() -> None:
    registrar = make_registrar()
    tcp = Flow("tcp", ("198.51.100.7", 40123), ("192.0.2.1", 5061), conn_id=3)
    outcome = register(registrar, f"<{C1};transport=tcp>", expires=600, flow=tcp,
                       user_agent=None)
    (change,) = outcome.changes
    assert change.key == f"{C1};transport=tcp"
    assert change.binding == binding(
        contact=f"{C1};transport=tcp", expires_at=NOW + 600, transport="tcp",
        source_host="198.51.100.7", source_port=40123, local_host="192.0.2.1",
        local_port=5061, user_agent="",
    )


def test_refresh_updates_the_same_binding() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600)
    later = NOW + 1000
    outcome = register(registrar, f"<{C1}>", expires=3600, cseq=2, now=later)
    refreshed = binding(cseq=2, expires_at=later + 3600, updated_at=later)
    assert outcome.changes == [BindingChange("alice", C1, refreshed)]
    assert registrar.lookup("alice", later) == [refreshed]
    assert contact_lines(outcome.response) == [f"<{C1}>;expires=3600"]


def test_query_without_contact_changes_nothing() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600)
    outcome = register(registrar, cseq=2, now=NOW + 600)
    assert outcome.response.status == 200
    assert outcome.changes == []
    assert contact_lines(outcome.response) == [f"<{C1}>;expires=3000"]


def test_several_contacts_in_one_request() -> None:
    registrar = make_registrar()
    outcome = register(registrar, f"<{C1}>, <{C2}>", f"<{C3}>", expires=1800)
    assert [c.key for c in outcome.changes] == [C1, C2, C3]
    assert all(c.binding is not None and c.binding.expires_at == NOW + 1800
               for c in outcome.changes)
    assert sorted(contact_lines(outcome.response)) == sorted(
        f"<{c}>;expires=1800" for c in (C1, C2, C3)
    )
    assert {b.contact for b in registrar.lookup("alice", NOW)} == {C1, C2, C3}


def test_the_200_lists_every_live_contact_with_its_remaining_time() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600, call_id="phone-1")
    outcome = register(registrar, f"<{C2}>", expires=600, call_id="phone-2", now=NOW + 100)
    # C1 was not in this request but is listed all the same, with 3500 s left.
    assert sorted(contact_lines(outcome.response)) == [
        f"<{C1}>;expires=3500", f"<{C2}>;expires=600",
    ]
    assert [c.key for c in outcome.changes] == [C2]


def test_lookup_orders_by_q_then_most_recent() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>;q=0.5", call_id="a", now=NOW)
    register(registrar, f"<{C2}>", call_id="b", now=NOW + 1)  # no q: counts as 1.0
    register(registrar, f"<{C3}>;q=1.0", call_id="c", now=NOW + 2)
    register(registrar, "<sip:alice@192.0.2.13>;q=0.1", call_id="d", now=NOW + 3)
    order = [(b.contact, b.q) for b in registrar.lookup("alice", NOW + 3)]
    assert order == [(C3, 1.0), (C2, None), (C1, 0.5), ("sip:alice@192.0.2.13", 0.1)]
    # The 200 lists them in that same order.
    response = register(registrar, call_id="e", now=NOW + 3).response
    assert [line.split(";")[0] for line in contact_lines(response)] == [
        f"<{C3}>", f"<{C2}>", f"<{C1}>", "<sip:alice@192.0.2.13>",
    ]


@pytest.mark.parametrize("q", ["1.5", "-0.1", "abc"])
def test_bad_q_is_rejected_without_changes(q: str) -> None:
    registrar = make_registrar()
    with pytest.raises(SipParseError) as info:
        register(registrar, f"<{C1}>", f"<{C2}>;q={q}")
    assert info.value.status == 400
    assert registrar.all_bindings() == []


# -- expiry intervals --------------------------------------------------------------------


def test_contact_expires_param_beats_the_expires_header() -> None:
    registrar = make_registrar()
    outcome = register(registrar, f"<{C1}>;expires=120", f"<{C2}>", expires=1800)
    got = {c.key: c.binding.expires_at for c in outcome.changes if c.binding}
    assert got == {C1: NOW + 120, C2: NOW + 1800}


def test_default_expires_without_header_or_param() -> None:
    registrar = make_registrar(default_expires=900)
    outcome = register(registrar, f"<{C1}>")
    assert outcome.changes[0].binding is not None
    assert outcome.changes[0].binding.expires_at == NOW + 900
    assert contact_lines(outcome.response) == [f"<{C1}>;expires=900"]


@pytest.mark.parametrize("how", ["header", "param"])
def test_interval_too_brief(how: str) -> None:
    registrar = make_registrar(min_expires=60)
    register(registrar, f"<{C1}>", expires=3600)
    if how == "header":
        outcome = register(registrar, f"<{C2}>", expires=59, cseq=2)
    else:  # one bad contact spoils the whole request: nothing is applied
        outcome = register(registrar, f"<{C3}>", f"<{C2}>;expires=30", expires=3600, cseq=2)
    assert (outcome.response.status, outcome.response.reason) == (423, "Interval Too Brief")
    assert outcome.response.get("Min-Expires") == "60"
    assert outcome.response.to.tag == "totag"
    assert outcome.changes == []
    assert [b.contact for b in registrar.lookup("alice", NOW)] == [C1]


def test_min_expires_itself_is_accepted() -> None:
    registrar = make_registrar(min_expires=60)
    outcome = register(registrar, f"<{C1}>", expires=60)
    assert outcome.response.status == 200
    assert contact_lines(outcome.response) == [f"<{C1}>;expires=60"]


def test_expires_is_clamped_to_the_maximum() -> None:
    registrar = make_registrar(max_expires=7200)
    outcome = register(registrar, f"<{C1}>", f"<{C2}>;expires=100000", expires=86400)
    assert {c.binding.expires_at for c in outcome.changes if c.binding} == {NOW + 7200}
    assert set(contact_lines(outcome.response)) == {
        f"<{C1}>;expires=7200", f"<{C2}>;expires=7200",
    }


# -- removal ---------------------------------------------------------------------------


def test_wildcard_with_expires_zero_removes_all() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", f"<{C2}>", expires=3600)
    register(registrar, f"<{C3}>", expires=3600, call_id="other-phone")
    outcome = register(registrar, "*", expires=0, cseq=2)
    assert outcome.response.status == 200
    assert outcome.changes == [
        BindingChange("alice", C1, None), BindingChange("alice", C2, None),
        BindingChange("alice", C3, None),
    ]
    assert contact_lines(outcome.response) == []
    assert registrar.lookup("alice", NOW) == []
    assert registrar.all_bindings() == []


def test_wildcard_does_not_undo_newer_state_of_the_same_call_id() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600, cseq=5)
    outcome = register(registrar, "*", expires=0, cseq=4)
    assert outcome.changes == []
    assert [b.contact for b in registrar.lookup("alice", NOW)] == [C1]


@pytest.mark.parametrize("expires", [None, 3600])
def test_wildcard_needs_expires_zero(expires: int | None) -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600)
    with pytest.raises(SipParseError) as info:
        register(registrar, "*", expires=expires, cseq=2)
    assert info.value.status == 400
    assert len(registrar.lookup("alice", NOW)) == 1


def test_wildcard_must_be_alone() -> None:
    registrar = make_registrar()
    with pytest.raises(SipParseError) as info:
        register(registrar, "*", f"<{C1}>", expires=0)
    assert info.value.status == 400


def test_contact_expires_zero_removes_that_contact_only() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", f"<{C2}>", expires=3600)
    outcome = register(registrar, f"<{C1}>;expires=0", cseq=2, now=NOW + 10)
    assert outcome.changes == [BindingChange("alice", C1, None)]
    assert contact_lines(outcome.response) == [f"<{C2}>;expires=3590"]
    assert [b.contact for b in registrar.lookup("alice", NOW + 10)] == [C2]


def test_expires_zero_for_an_unknown_contact_is_a_no_op() -> None:
    registrar = make_registrar()
    outcome = register(registrar, f"<{C1}>", expires=0)
    assert outcome.response.status == 200
    assert outcome.changes == []
    assert registrar.all_bindings() == []


def test_remove_all() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", f"<{C2}>", expires=3600)
    assert registrar.remove_all("alice") == [
        BindingChange("alice", C1, None), BindingChange("alice", C2, None),
    ]
    assert registrar.remove_all("alice") == []
    assert registrar.all_bindings() == []


# -- ordering, replacement ---------------------------------------------------------------


@pytest.mark.parametrize("cseq", [1, 4, 5])
def test_cseq_out_of_order_for_the_same_call_id(cseq: int) -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600, cseq=5)
    with pytest.raises(SipParseError) as info:
        register(registrar, f"<{C1}>", expires=60, cseq=cseq, now=NOW + 1)
    assert info.value.status == 400
    assert registrar.lookup("alice", NOW + 1) == [binding(cseq=5)]


def test_cseq_out_of_order_also_guards_removal() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600, cseq=5)
    with pytest.raises(SipParseError):
        register(registrar, f"<{C1}>;expires=0", cseq=3)
    assert len(registrar.lookup("alice", NOW)) == 1


def test_a_different_call_id_replaces_whatever_its_cseq() -> None:
    registrar = make_registrar()
    register(registrar, f"<{C1}>", expires=3600, cseq=50)
    outcome = register(registrar, f"<{C1}>", expires=600, call_id="call-2", cseq=1,
                       now=NOW + 5)
    replaced = binding(call_id="call-2", cseq=1, expires_at=NOW + 605, updated_at=NOW + 5)
    assert outcome.changes == [BindingChange("alice", C1, replaced)]
    assert registrar.lookup("alice", NOW + 5) == [replaced]


def test_per_user_limit_evicts_the_least_recently_updated() -> None:
    registrar = make_registrar(max_contacts_per_user=2)
    register(registrar, f"<{C1}>", call_id="a", now=NOW)
    register(registrar, f"<{C2}>", call_id="b", now=NOW + 1)
    register(registrar, f"<{C1}>", call_id="a", cseq=2, now=NOW + 2)  # C1 refreshed
    outcome = register(registrar, f"<{C3}>", call_id="c", now=NOW + 3)
    assert [(c.key, c.binding is None) for c in outcome.changes] == [(C3, False), (C2, True)]
    assert [b.contact for b in registrar.lookup("alice", NOW + 3)] == [C3, C1]
    assert sorted(contact_lines(outcome.response)) == sorted(
        [f"<{C1}>;expires=3599", f"<{C3}>;expires=3600"]
    )


def test_per_user_limit_ignores_expired_contacts() -> None:
    registrar = make_registrar(max_contacts_per_user=2, min_expires=1)
    register(registrar, f"<{C1}>", call_id="a", expires=10, now=NOW)
    register(registrar, f"<{C2}>", call_id="b", now=NOW + 1)
    outcome = register(registrar, f"<{C3}>", call_id="c", now=NOW + 20)  # C1 is dead
    assert [c.key for c in outcome.changes] == [C3]
    assert {b.contact for b in registrar.lookup("alice", NOW + 20)} == {C2, C3}


def test_limit_is_per_user() -> None:
    registrar = make_registrar(max_contacts_per_user=1)
    register(registrar, f"<{C1}>")
    outcome = registrar.register(
        register_request("<sip:bob@192.0.2.20>"), "bob", FLOW, NOW, "t"
    )
    assert [c.binding is not None for c in outcome.changes] == [True]
    assert len(registrar.lookup("alice", NOW)) == len(registrar.lookup("bob", NOW)) == 1


def test_sip_instance_keys_the_binding() -> None:
    registrar = make_registrar()
    first = register(registrar, f"<{C1}>;+sip.instance={INSTANCE}", expires=3600)
    assert first.changes[0].key == INSTANCE
    assert first.changes[0].binding is not None
    assert first.changes[0].binding.instance == INSTANCE
    # Same device, new NAT port and a new Call-ID after a reboot: the binding is replaced.
    moved = "sip:alice@192.0.2.10:6000"
    new_flow = Flow("udp", ("192.0.2.10", 6000), LOCAL)
    outcome = register(registrar, f"<{moved}>;+sip.instance={INSTANCE}", expires=3600,
                       call_id="call-after-reboot", flow=new_flow, now=NOW + 60)
    assert [(c.key, c.binding.contact if c.binding else None) for c in outcome.changes] == [
        (INSTANCE, moved),
    ]
    (live,) = registrar.lookup("alice", NOW + 60)
    assert (live.contact, live.source_port, live.instance) == (moved, 6000, INSTANCE)
    # The instance is echoed for RFC 5626 clients.
    assert contact_lines(outcome.response) == [
        f"<{moved}>;expires=3600;+sip.instance={INSTANCE}",
    ]
    # A contact without an instance is keyed by its URI and lives next to it.
    register(registrar, f"<{C1}>", call_id="plain", now=NOW + 60)
    assert {b.key for b in registrar.lookup("alice", NOW + 60)} == {INSTANCE, C1}


def test_contact_must_be_a_sip_uri() -> None:
    registrar = make_registrar()
    with pytest.raises(SipParseError) as info:
        register(registrar, "<tel:+15551234567>", expires=3600)
    assert info.value.status == 416
    assert registrar.all_bindings() == []


# -- expiry and restore ----------------------------------------------------------------


def test_expire_removes_due_bindings_and_reports_them() -> None:
    registrar = make_registrar(min_expires=1)
    register(registrar, f"<{C1}>;expires=60", f"<{C2}>;expires=120")
    assert registrar.expire(NOW + 59.5) == []
    assert registrar.lookup("alice", NOW + 60) == [binding(C2, expires_at=NOW + 120)]
    assert registrar.expire(NOW + 60) == [BindingChange("alice", C1, None)]
    assert registrar.expire(NOW + 60) == []
    assert registrar.expire(NOW + 500) == [BindingChange("alice", C2, None)]
    assert registrar.all_bindings() == []


def test_load_skips_expired_bindings() -> None:
    registrar = make_registrar()
    alive = binding(C1, expires_at=NOW + 10)
    dead = binding(C2, expires_at=NOW)
    other = binding("sip:bob@192.0.2.20", extension="bob", expires_at=NOW + 1)
    registrar.load([alive, dead, other], NOW)
    assert registrar.lookup("alice", NOW) == [alive]
    assert registrar.lookup("bob", NOW) == [other]
    assert sorted(b.contact for b in registrar.all_bindings()) == [C1, "sip:bob@192.0.2.20"]
    # Loaded state takes part in CSeq ordering like any other binding.
    with pytest.raises(SipParseError):
        register(registrar, f"<{C1}>", cseq=1)


def test_expires_in_rounds_to_the_nearest_second() -> None:
    b = binding(expires_at=NOW + 100)
    assert b.expires_in(NOW) == 100
    assert b.expires_in(NOW + 0.4) == 100
    assert b.expires_in(NOW + 0.6) == 99
    assert b.expires_in(NOW + 200) == 0
    assert b.key == C1
    assert binding(instance="x").key == "x"


def test_more_contacts_than_the_limit_in_one_request() -> None:
    """Changes are an ordered log: replayed in order they give the registrar's state."""
    registrar = make_registrar(max_contacts_per_user=2)
    outcome = register(registrar, f"<{C1}>", f"<{C2}>", f"<{C3}>")
    replayed: dict[str, Binding] = {}
    for change in outcome.changes:
        if change.binding is None:
            replayed.pop(change.key, None)
        else:
            replayed[change.key] = change.binding
    live = registrar.lookup("alice", NOW)
    assert len(live) == 2
    assert replayed == {b.key: b for b in live}
    assert len(contact_lines(outcome.response)) == 2
