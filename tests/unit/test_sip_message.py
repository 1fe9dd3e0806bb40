"""Targeted tests of the SIP message parser (RFC 3261 §7, §19.1, §20, §25)."""

from __future__ import annotations

import pytest

from switch.sip.errors import SipParseError
from switch.sip.headers import CSeq, NameAddr, Via, parse_cseq, parse_name_addr, parse_via
from switch.sip.message import (
    MAX_BODY_BYTES,
    MAX_HEADER_LINES,
    MAX_LINE_LENGTH,
    Request,
    Response,
    canonical_name,
    parse_message,
)
from switch.sip.stateless import error_response
from switch.sip.uri import AbsoluteUri, SipUri, parse_uri

CRLF = "\r\n"


def make(*lines: str, body: str = "", start: str = "INVITE sip:bob@example.com SIP/2.0") -> bytes:
    """A message from header lines; the five mandatory headers are added unless given."""
    names = {line.split(":", 1)[0].strip().lower() for line in lines if ":" in line}
    method = start.split(" ", 1)[0]
    if method.upper().startswith("SIP/"):
        method = "INVITE"
    defaults = [
        ("via", "v", "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds"),
        ("from", "f", 'From: "Alice" <sip:alice@example.com>;tag=1928301774'),
        ("to", "t", "To: <sip:bob@example.com>"),
        ("call-id", "i", "Call-ID: a84b4c76e66710@pc33.example.com"),
        ("cseq", "cseq", f"CSeq: 314159 {method}"),
    ]
    head = [line for long, short, line in defaults if long not in names and short not in names]
    text = CRLF.join([start, *head, *lines]) + CRLF + CRLF + body
    return text.encode("utf-8", "surrogateescape")


def req(
    *lines: str,
    body: str = "",
    start: str = "INVITE sip:bob@example.com SIP/2.0",
    **kw: bool,
) -> Request:
    msg = parse_message(make(*lines, body=body, start=start), **kw)
    assert isinstance(msg, Request)
    return msg


def rejects(data: bytes, status: int = 400, match: str | None = None, **kw: object) -> None:
    with pytest.raises(SipParseError, match=match) as info:
        parse_message(data, **kw)  # type: ignore[arg-type]
    assert info.value.status == status, info.value.reason


# -- start lines -------------------------------------------------------------------
def test_request_line() -> None:
    msg = req()
    assert msg.method == "INVITE"
    assert isinstance(msg.uri, SipUri) and str(msg.uri) == "sip:bob@example.com"
    assert msg.call_id == "a84b4c76e66710@pc33.example.com"
    assert msg.cseq == CSeq(314159, "INVITE")


def test_status_line() -> None:
    data = make(start="SIP/2.0 486 Busy Here")
    msg = parse_message(data)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (486, "Busy Here")
    assert msg.to_bytes().startswith(b"SIP/2.0 486 Busy Here\r\n")


@pytest.mark.parametrize(
    ("start", "status"),
    [
        ("INVITE sip:bob@example.com SIP/3.0", 505),
        ("INVITE sip:bob@example.com HTTP/1.1", 400),
        ("INVITE  sip:bob@example.com SIP/2.0", 400),
        ("INVITE sip:bob@example.com", 400),
        ("INV@TE sip:bob@example.com SIP/2.0", 400),
        ("INVITE <sip:bob@example.com> SIP/2.0", 400),
        ("SIP/2.0 99 Too Small", 400),
        ("SIP/2.0 700 Too Big", 400),
        ("SIP/2.0 2OO OK", 400),
        ("SIP/2.0 1\u00b23 Superscript", 400),
        ("SIP/2.1 200 OK", 505),
    ],
)
def test_bad_start_lines(start: str, status: int) -> None:
    rejects(make(start=start), status)


def test_version_literal_is_case_insensitive() -> None:
    assert parse_message(make(start="OPTIONS sip:bob@example.com sip/2.0")).method == "OPTIONS"  # type: ignore[union-attr]


def test_method_mismatch_with_cseq() -> None:
    rejects(make("CSeq: 1 OPTIONS"), 400, "does not match")
    rejects(make("CSeq: 1 INVITE", start="NEWTHING sip:b@example.com SIP/2.0"), 501)


def test_leading_crlf_before_start_line_is_skipped() -> None:
    assert parse_message(b"\r\n\r\n" + make()) == parse_message(make())


def test_empty_or_blank_input() -> None:
    for data in (b"", b"\r\n", b"\r\n\r\n\r\n"):
        rejects(data, 400)


# -- header names ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("compact", "long"),
    [
        ("v", "Via"),
        ("f", "From"),
        ("t", "To"),
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("e", "Content-Encoding"),
        ("s", "Subject"),
        ("k", "Supported"),
        ("o", "Event"),
        ("u", "Allow-Events"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("x", "Session-Expires"),
    ],
)
def test_compact_names_map_to_canonical(compact: str, long: str) -> None:
    assert canonical_name(compact) == long
    assert canonical_name(compact.upper()) == long
    assert canonical_name(long.upper()) == long


def test_compact_forms_parse_like_long_forms() -> None:
    compact = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
        b"f: <sip:alice@example.com>;tag=1\r\n"
        b"t: <sip:bob@example.com>\r\n"
        b"i: abc@pc33\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"m: <sip:alice@pc33.example.com>\r\n"
        b"c: application/sdp\r\n"
        b"s: hello\r\n"
        b"k: timer\r\n"
        b"l: 3\r\n\r\nv=0"
    )
    long = compact
    for short, full in [
        (b"v:", b"Via:"),
        (b"f:", b"From:"),
        (b"t:", b"To:"),
        (b"i:", b"Call-ID:"),
        (b"m:", b"Contact:"),
        (b"c:", b"Content-Type:"),
        (b"s:", b"Subject:"),
        (b"k:", b"Supported:"),
        (b"l:", b"Content-Length:"),
    ]:
        long = long.replace(b"\r\n" + short, b"\r\n" + full)
    a, b = parse_message(compact, strict=True), parse_message(long, strict=True)
    assert a == b
    assert a.headers == [
        ("Contact", "<sip:alice@pc33.example.com>"),
        ("Content-Type", "application/sdp"),
        ("Subject", "hello"),
        ("Supported", "timer"),
    ]
    assert a.body == b"v=0"
    assert b"\r\nContact: <sip:alice@pc33.example.com>\r\n" in a.to_bytes()


def test_header_names_are_case_insensitive() -> None:
    msg = req("cOnTaCt: <sip:alice@pc33.example.com>", "X-Custom-Thing: 1", "x-CUSTOM-thing: 2")
    assert msg.headers[0] == ("Contact", "<sip:alice@pc33.example.com>")
    assert msg.get("CONTACT") == msg.get("m") == "<sip:alice@pc33.example.com>"
    # unknown names keep their spelling but are looked up case-insensitively
    assert msg.headers[1:] == [("X-Custom-Thing", "1"), ("x-CUSTOM-thing", "2")]
    assert msg.get("x-custom-thing") == "1"
    assert msg.get_all("X-CUSTOM-THING") == ["1", "2"]
    msg.remove_header("X-custom-THING")
    assert msg.get_all("x-custom-thing") == []
    lower = parse_message(
        make(start="INVITE sip:bob@example.com SIP/2.0")
        .replace(b"Via:", b"vIA:")
        .replace(b"CSeq:", b"cseq:")
        .replace(b"Call-ID:", b"CALL-id:")
    )
    assert lower.call_id == "a84b4c76e66710@pc33.example.com"
    assert lower.vias[0].branch == "z9hG4bK776asdhds"


def test_whitespace_around_colon() -> None:
    msg = req("Subject   :    lunch   ", "Contact\t:\t<sip:a@b.example.com>")
    assert msg.get("Subject") == "lunch"
    assert msg.get("Contact") == "<sip:a@b.example.com>"


def test_invalid_header_lines() -> None:
    rejects(make("NoColonHere"), 400, "Malformed")
    rejects(make(": value"), 400, "Malformed")
    rejects(make("Bad Name: value"), 400, "Invalid header name")
    rejects(make("Bad<Name>: value"), 400, "Invalid header name")


def test_add_get_remove_header() -> None:
    msg = req()
    msg.add_header("k", "100rel")
    msg.add_header("Supported", "timer")
    assert msg.headers[-2:] == [("Supported", "100rel"), ("Supported", "timer")]
    assert msg.get_all("SUPPORTED") == ["100rel", "timer"]
    msg.remove_header("supported")
    assert msg.get("Supported") is None


# -- folding -----------------------------------------------------------------------
def test_folded_header_values_are_unfolded() -> None:
    msg = req(
        "Subject: I know you're there,",
        "   pick up the phone",
        "\tand talk to me!",
        "Contact:",
        " <sip:alice@pc33.example.com>",
    )
    assert msg.get("Subject") == "I know you're there, pick up the phone and talk to me!"
    assert msg.get("Contact") == "<sip:alice@pc33.example.com>"
    again = parse_message(msg.to_bytes())
    assert again == msg and b"\r\n " not in msg.to_bytes()


def test_folded_eager_headers() -> None:
    msg = req(
        "Via: SIP/2.0/UDP pc33.example.com",
        "  ;branch=z9hG4bKfold",
        "CSeq: 7",
        " INVITE",
    )
    assert msg.vias[0].branch == "z9hG4bKfold"
    assert msg.cseq == CSeq(7, "INVITE")


def test_bare_lf_line_ends_are_accepted() -> None:
    crlf = make("Subject: hi", body="body")
    msg = parse_message(crlf.replace(b"\r\n", b"\n"))
    assert msg == parse_message(crlf)


# -- comma-separated and repeated headers ------------------------------------------
def test_via_list_splitting_keeps_order() -> None:
    msg = req(
        "Via: SIP/2.0/UDP first.example.com;branch=z9hG4bK1, "
        "SIP/2.0/TCP second.example.com:5070;branch=z9hG4bK2",
        "v: SIP/2.0/TLS third.example.com;branch=z9hG4bK3,SIP/2.0/UDP fourth.example.com",
        'Via: SIP/2.0/UDP fifth.example.com;x="a,b";branch=z9hG4bK5',
    )
    assert [v.host for v in msg.vias] == [
        "first.example.com",
        "second.example.com",
        "third.example.com",
        "fourth.example.com",
        "fifth.example.com",
    ]
    assert [v.transport for v in msg.vias] == ["UDP", "TCP", "TLS", "UDP", "UDP"]
    assert msg.vias[1].port == 5070
    assert msg.vias[4].params == {"x": '"a,b"', "branch": "z9hG4bK5"}
    assert msg.top_via.branch == "z9hG4bK1"
    # after parsing, each value goes out on its own line, still in order
    wire = msg.to_bytes().decode()
    assert wire.count("\r\nVia: ") == 5
    assert wire.index("first.example") < wire.index("second.example") < wire.index("fifth.")
    assert parse_message(msg.to_bytes()) == msg


def test_repeated_and_comma_separated_generic_headers() -> None:
    msg = req(
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "Route: <sip:p3.example.com;lr>",
        'Contact: "A, B" <sip:a@x.example.com>;q=0.5, <sip:b@y.example.com>;expires=60',
        "Contact: sip:c@z.example.com;expires=30",
    )
    assert [str(r.uri) for r in msg.routes()] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
        "sip:p3.example.com;lr",
    ]
    contacts = msg.contacts()
    assert contacts is not None
    assert [c.display for c in contacts] == ["A, B", None, None]
    assert [c.params for c in contacts] == [{"q": "0.5"}, {"expires": "60"}, {"expires": "30"}]
    assert msg.get_all("Route") == [
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "<sip:p3.example.com;lr>",
    ]


def test_contact_wildcard() -> None:
    assert req("Contact: *", "Expires: 0").contacts() is None
    with pytest.raises(SipParseError):
        req("Contact: *", "Contact: <sip:a@b.example.com>").contacts()


@pytest.mark.parametrize("name", ["From", "To", "Call-ID", "CSeq", "Max-Forwards"])
def test_single_value_headers_may_not_repeat(name: str) -> None:
    value = {
        "From": "<sip:x@example.com>;tag=2",
        "To": "<sip:y@example.com>",
        "Call-ID": "other@example.com",
        "CSeq": "2 INVITE",
        "Max-Forwards": "70",
    }[name]
    data = make("Max-Forwards: 69")
    extra = f"{name}: {value}\r\n\r\n".encode()
    rejects(data[:-2] + extra, 400, "Multiple")


@pytest.mark.parametrize("name", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_mandatory_headers(name: str) -> None:
    data = make()
    lines = [line for line in data.split(b"\r\n") if not line.startswith(name.encode() + b":")]
    rejects(b"\r\n".join(lines), 400, "Missing")


# -- name-addr / addr-spec ---------------------------------------------------------
def test_name_addr_params_belong_to_header_not_uri() -> None:
    na = parse_name_addr("<sip:alice@example.com;transport=tcp>;tag=abc")
    assert na.params == {"tag": "abc"}
    assert na.sip_uri.params == {"transport": "tcp"}
    assert na.tag == "abc"


def test_addr_spec_params_belong_to_header() -> None:
    na = parse_name_addr("sip:alice@example.com;transport=tcp;tag=abc")
    assert na.uri_text == "sip:alice@example.com"
    assert na.params == {"transport": "tcp", "tag": "abc"}
    assert na.sip_uri.params == {}
    assert na.display is None


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@example.com?subject=x",  # headers need <>
        "sip:alice@example.com,sip:bob@example.com",
        "Alice, Smith <sip:alice@example.com>",  # comma in an unquoted display name
        '"unterminated <sip:alice@example.com>',
        "< sip:alice@example.com>",
        "<sip:alice@example.com",
        "<sip:alice@example.com>;",
        "<sip:alice@example.com> junk",
        "",
    ],
)
def test_bad_name_addr(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_name_addr(text)


def test_display_names() -> None:
    assert parse_name_addr("Alice Smith <sip:a@example.com>").display == "Alice Smith"
    assert parse_name_addr("Alice<sip:a@example.com>").display == "Alice"
    assert parse_name_addr('"" <sip:a@example.com>').display == ""
    assert parse_name_addr("<sip:a@example.com>").display is None
    na = parse_name_addr('"Bob \\"the\\" \\\\ Builder" <sip:bob@example.com>;tag=9')
    assert na.display == 'Bob "the" \\ Builder'
    assert na.tag == "9"
    assert parse_name_addr('"Ünïcödé 名前" <sip:u@example.com>').display == "Ünïcödé 名前"


def test_display_name_quoting_round_trips() -> None:
    for display in ['Bob "the" \\ Builder', "a,b;c<d>", "", "tab\there", "\\"]:
        na = NameAddr(uri=parse_uri("sip:bob@example.com"), display=display, params={"tag": "1"})
        again = parse_name_addr(str(na))
        assert again.display == display
        assert again.tag == "1"
        assert again.uri_text == "sip:bob@example.com"


def test_quoted_param_values() -> None:
    via = parse_via('SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x="a;b,c \\" d"')
    assert via.params["x"] == '"a;b,c \\" d"'
    na = parse_name_addr('<sip:a@example.com>;foo="bar baz";tag=1')
    assert na.params == {"foo": '"bar baz"', "tag": "1"}


def test_with_params_does_not_mutate() -> None:
    na = parse_name_addr("Bob <sip:bob@example.com>;foo=1")
    tagged = na.with_params(tag="xyz")
    assert na.tag is None
    assert str(tagged) == '"Bob" <sip:bob@example.com>;foo=1;tag=xyz'
    assert parse_name_addr(str(tagged)).params == {"foo": "1", "tag": "xyz"}


# -- URIs --------------------------------------------------------------------------
def test_sip_uri_fields() -> None:
    uri = parse_uri(
        "sips:alice:secret@Atlanta.Example.com:5061;transport=TCP;lr;maddr=239.255.255.1"
        "?subject=project%20x&priority=urgent"
    )
    assert isinstance(uri, SipUri)
    assert uri.scheme == "sips"
    assert uri.user == "alice"
    assert uri.password == "secret"
    assert uri.host == "Atlanta.Example.com"
    assert uri.port == 5061
    assert uri.params == {"transport": "TCP", "lr": None, "maddr": "239.255.255.1"}
    assert uri.transport == "tcp"
    assert uri.headers == "subject=project%20x&priority=urgent"
    assert uri.aor == "sips:alice@atlanta.example.com"
    assert str(uri).startswith("sips:alice:secret@Atlanta.Example.com:5061;")


def test_sip_uri_minimal_and_scheme_case() -> None:
    uri = parse_uri("SIP:example.com")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.host, uri.port, uri.params) == (
        "sip",
        None,
        "example.com",
        None,
        {},
    )
    assert uri.aor == "sip:example.com"


def test_escaped_uri_user() -> None:
    uri = parse_uri("sip:%61lice%20smith@example.com")
    assert isinstance(uri, SipUri)
    assert uri.user == "%61lice%20smith"
    assert uri.user_unescaped == "alice smith"
    assert uri.aor == "sip:alice smith@example.com"
    with pytest.raises(SipParseError):
        parse_uri("sip:bad%zzescape@example.com")
    with pytest.raises(SipParseError):
        parse_uri("sip:bad%4@example.com")


def test_ipv6_references() -> None:
    uri = parse_uri("sip:alice@[2001:db8::10]:5070;transport=udp")
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port) == ("[2001:db8::10]", 5070)
    assert parse_uri("sip:[::1]").host == "[::1]"  # type: ignore[union-attr]
    assert parse_uri("sip:[::ffff:192.0.2.1]").host == "[::ffff:192.0.2.1]"  # type: ignore[union-attr]
    via = parse_via("SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas;received=2001:db8::9:255")
    assert (via.host, via.port, via.params["received"]) == (
        "[2001:db8::9:1]",
        5060,
        "2001:db8::9:255",
    )
    msg = req(
        "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas",
        "Contact: <sip:alice@[2001:db8::9:1]:5062>",
        start="INVITE sip:bob@[2001:db8::20] SIP/2.0",
        strict=True,
    )
    assert msg.uri.host == "[2001:db8::20]"  # type: ignore[union-attr]
    assert msg.vias[0].host == "[2001:db8::9:1]"
    assert (msg.contacts() or [])[0].sip_uri.port == 5062
    for bad in ("sip:a@[2001:db8::1", "sip:a@[::1]x", "sip:a@[::1]:", "sip:a@[g::1]"):
        with pytest.raises(SipParseError):
            parse_uri(bad)


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@example.com",
        "sip:alice@",
        "sip:alice@example.com:",
        "sip:alice@example.com:65536",
        "sip:alice@example.com:5\u00b2",
        "sip:alice@exa mple.com",
        "sip:alice@example.com;",
        "sip:alice@example.com;=x",
        "sip:ali<ce@example.com",
        "sip:alice@-example.com",
        "1sip:alice@example.com",
        "nocolon",
        "tel:",
    ],
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_uri(text)


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("tel:+1-201-555-0123;phone-context=example.com", "tel"),
        ("mailto:alice@example.com", "mailto"),
        ("urn:service:sos", "urn"),
        ("HTTP://example.com/x", "http"),
        ("nobodyKnowsThisScheme:totallyopaquecontent", "nobodyknowsthisscheme"),
    ],
)
def test_other_schemes_are_absolute_uris(text: str, scheme: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, AbsoluteUri)
    assert uri.scheme == scheme
    assert str(uri) == text
    na = parse_name_addr(f"<{text}>;tag=1")
    assert isinstance(na.uri, AbsoluteUri)
    with pytest.raises(SipParseError) as info:
        na.sip_uri  # noqa: B018
    assert info.value.status == 416


def test_request_uri_may_not_carry_headers() -> None:
    msg = parse_message(make(start="INVITE sip:bob@example.com?subject=hi SIP/2.0"))
    with pytest.raises(SipParseError):
        msg.uri  # type: ignore[union-attr]  # noqa: B018
    rejects(make(start="INVITE sip:bob@example.com?subject=hi SIP/2.0"), 400, strict=True)


def test_uri_replace_and_equality() -> None:
    uri = parse_uri("sip:alice@example.com;transport=udp")
    assert isinstance(uri, SipUri)
    moved = uri.replace(host="192.0.2.4", port=5080)
    assert str(moved) == "sip:alice@192.0.2.4:5080;transport=udp"
    assert str(uri) == "sip:alice@example.com;transport=udp"
    assert moved == parse_uri(str(moved)) and hash(moved) == hash(parse_uri(str(moved)))
    built = SipUri(user="bob", password="pw", host="[::1]", port=5060, params={"lr": None})
    assert str(built) == "sip:bob:pw@[::1]:5060;lr"
    assert parse_uri(str(built)) == built


# -- Via ---------------------------------------------------------------------------
def test_via_fields() -> None:
    via = parse_via("SIP / 2.0 / udp  pc33.example.com : 5066 ;branch=z9hG4bK776;rport;ttl=16")
    assert (via.transport, via.host, via.port) == ("UDP", "pc33.example.com", 5066)
    assert via.params == {"branch": "z9hG4bK776", "rport": None, "ttl": "16"}
    assert via.branch == "z9hG4bK776"
    assert str(via) == "SIP / 2.0 / udp  pc33.example.com : 5066 ;branch=z9hG4bK776;rport;ttl=16"


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host.example.com",
        "SIP/1.0/UDP host.example.com",
        "SIP/2.0/UDP host.example.com:99999",
        "SIP/2.0/UDP host.example.com;",
        "SIP/2.0/UDP host.example.com;branch=",
        "SIP/2.0/UDP host.example.com junk",
        "SIP/2.0/UDP [::1",
    ],
)
def test_bad_vias(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(text)


def test_via_received_and_rport_serialization() -> None:
    via = parse_via("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnashds8;rport")
    stamped = via.with_params(received="203.0.113.7", rport="40312")
    assert str(stamped) == (
        "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnashds8;rport=40312;received=203.0.113.7"
    )
    assert via.params == {"branch": "z9hG4bKnashds8", "rport": None}  # untouched
    assert str(via) == "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnashds8;rport"
    again = parse_via(str(stamped))
    assert again.params == {"branch": "z9hG4bKnashds8", "rport": "40312", "received": "203.0.113.7"}
    built = Via(transport="TCP", host="[2001:db8::1]", params={"branch": "z9hG4bK1"})
    assert str(built) == "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK1"
    assert str(built.with_params(received="2001:db8::2")) == (
        "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK1;received=2001:db8::2"
    )


def test_replaced_vias_are_serialized() -> None:
    msg = req()
    top = msg.vias[0].with_params(received="198.51.100.1")
    msg.vias = [top, *msg.vias[1:]]
    wire = msg.to_bytes()
    assert b";received=198.51.100.1\r\n" in wire
    assert parse_message(wire).vias[0].params["received"] == "198.51.100.1"


# -- CSeq, Max-Forwards, scalars ---------------------------------------------------
def test_cseq() -> None:
    assert parse_cseq("0009 INVITE") == CSeq(9, "INVITE")
    assert parse_cseq(f"{2**31 - 1} ACK").number == 2**31 - 1
    for bad in (f"{2**31} ACK", "1", "INVITE", "1 2 3", "-1 ACK", "1 INV@TE", "\u00b2 ACK", ""):
        with pytest.raises(SipParseError):
            parse_cseq(bad)


def test_max_forwards() -> None:
    assert req("Max-Forwards: 70").max_forwards == 70
    assert req().max_forwards is None
    rejects(make("Max-Forwards: 256"))
    rejects(make("Max-Forwards: -1"))
    rejects(make("Max-Forwards: seventy"))


def test_call_id_may_not_contain_whitespace() -> None:
    rejects(make("Call-ID: abc def"), 400, "Call-ID")
    rejects(make("Call-ID:"), 400, "Call-ID")


def test_expires_and_strict_checks() -> None:
    assert req("Expires: 3600").expires() == 3600
    assert req().expires() is None
    with pytest.raises(SipParseError):
        req("Expires: 1", "Expires: 2").expires()
    for line in (
        "Expires: soon",
        "Date: Sat, 13 Nov 2010 23:29:00 PST",
        "Contact: <sip:a@b.example.com>;expires=-1",
        "Contact: <sip:a@b.example.com:99999>",
        "Route: <sip:p1.example.com;lr",
        "Record-Route: <sip:a b>",
        "Content-Type: sdp",
        "Min-Expires: x",
    ):
        msg = req(line)  # the lazily parsed header does not stop the eager pass
        with pytest.raises(SipParseError):
            msg.validate()
        rejects(make(line), 400, strict=True)


# -- body and Content-Length -------------------------------------------------------
SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"


def test_content_length_bounds_body_on_udp() -> None:
    msg = req(f"Content-Length: {len(SDP)}", body=SDP + "trailing junk")
    assert msg.body == SDP.encode()


def test_missing_content_length_on_udp_takes_rest_of_datagram() -> None:
    msg = req(body=SDP)
    assert msg.body == SDP.encode()
    assert f"Content-Length: {len(SDP)}\r\n".encode() in msg.to_bytes()


def test_missing_content_length_on_stream_means_no_body() -> None:
    msg = parse_message(make(), datagram=False)
    assert msg.body == b""


def test_content_length_larger_than_datagram() -> None:
    rejects(make("Content-Length: 100", body=SDP), 400, "exceeds")
    rejects(make("Content-Length: 100", body=SDP), 400, datagram=False)


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "99999999999", "\u00b2", ""])
def test_bad_content_length(value: str) -> None:
    rejects(make(f"Content-Length: {value}"), 400)


def test_repeated_content_length() -> None:
    assert req("Content-Length: 4", "l: 4", body="abcd").body == b"abcd"
    rejects(make("Content-Length: 4", "l: 3", body="abcd"), 400, "Conflicting")


def test_body_bytes_are_kept_exactly() -> None:
    body = bytes(range(256)) + b"\r\n\r\n\x00"
    data = make(f"Content-Length: {len(body)}") + body
    msg = parse_message(data)
    assert msg.body == body
    assert parse_message(msg.to_bytes()) == msg


def test_content_type() -> None:
    assert req("Content-Type: Application/SDP; charset=utf-8").content_type == "application/sdp"
    assert req().content_type is None


def test_non_utf8_header_bytes_round_trip() -> None:
    data = make("Subject: caf\xe9".encode("latin-1").decode("utf-8", "surrogateescape"))
    msg = parse_message(data)
    assert msg.to_bytes().count(b"caf\xe9\r\n") == 1
    assert parse_message(msg.to_bytes()) == msg


# -- caps ---------------------------------------------------------------------------
def test_too_many_header_lines() -> None:
    lines = [f"X-H{i}: {i}" for i in range(MAX_HEADER_LINES)]
    rejects(make(*lines), 400, "Too many")
    assert len(req(*lines[: MAX_HEADER_LINES - 10]).headers) == MAX_HEADER_LINES - 10


def test_header_line_too_long() -> None:
    rejects(make("Subject: " + "x" * MAX_LINE_LENGTH), 400, "too long")
    assert req("Subject: " + "x" * (MAX_LINE_LENGTH - 20)).get("Subject")


def test_header_section_too_large() -> None:
    lines = [f"X-H{i}: " + "y" * 200 for i in range(200)]
    rejects(make(*lines), 513)


def test_body_too_large() -> None:
    body = "b" * (MAX_BODY_BYTES + 1)
    rejects(make(f"Content-Length: {len(body)}", body=body), 413)
    rejects(make(body=body), 413)  # no Content-Length: the datagram's rest is the body


# -- make_response -----------------------------------------------------------------
def test_make_response_copies_dialog_fields_and_adds_to_tag() -> None:
    request = req(
        "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, "
        "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776;received=192.0.2.4",
        "Max-Forwards: 69",
        "Contact: <sip:alice@pc33.example.com>",
        "Subject: hi",
    )
    resp = request.make_response(180, to_tag="a6c85cf")
    assert isinstance(resp, Response)
    assert (resp.status, resp.reason) == (180, "Ringing")
    assert [str(v) for v in resp.vias] == [str(v) for v in request.vias]
    assert str(resp.from_) == str(request.from_)
    assert resp.to.uri_text == request.to.uri_text
    assert resp.to.tag == "a6c85cf"
    assert request.to.tag is None  # the request is untouched
    assert (resp.call_id, resp.cseq) == (request.call_id, request.cseq)
    assert resp.headers == [] and resp.body == b"" and resp.max_forwards is None
    again = parse_message(resp.to_bytes(), strict=True)
    assert again == resp
    assert again.to.tag == "a6c85cf"


def test_make_response_keeps_existing_to_tag_and_options() -> None:
    request = req("To: <sip:bob@example.com>;tag=existing", "Timestamp: 54")
    resp = request.make_response(
        200, "Fine", to_tag="new", headers=[("Contact", "<sip:bob@b.example.com>")], body=b"x"
    )
    assert resp.to.tag == "existing"
    assert resp.reason == "Fine"
    assert resp.headers == [("Contact", "<sip:bob@b.example.com>")]
    assert resp.to_bytes().endswith(b"Content-Length: 1\r\n\r\nx")
    trying = request.make_response(100, to_tag="ignored")
    assert trying.to.tag == "existing"
    assert trying.get("Timestamp") == "54"  # RFC 3261 §8.2.6.1
    assert req().make_response(100, to_tag="t").to.tag is None  # no tag on 100 Trying
    assert req().make_response(499).reason == "Unknown"


@pytest.mark.parametrize(
    "to",
    [
        "To: <sip:bob@example.com>;TAG=existing",
        "To: <sip:bob@example.com> ;\ttag = existing",
        'To: "Bob" <sip:bob@example.com>;Tag=existing',
        "To: sip:bob@example.com;user=phone;tag=existing",
    ],
)
def test_make_response_never_replaces_an_existing_to_tag(to: str) -> None:
    for status in (180, 200, 486):
        resp = req(to).make_response(status, to_tag="new")
        assert resp.to.tag == "existing"
        assert parse_message(resp.to_bytes(), strict=True).to.tag == "existing"


@pytest.mark.parametrize(
    ("to", "params"),
    [
        ("To: sip:bob@example.com;user=phone", {"user": "phone", "tag": "t7"}),
        ("To: Bob <sip:bob@example.com;transport=tcp>", {"tag": "t7"}),
        ('To: "tag=no" <sip:bob@example.com>', {"tag": "t7"}),
        ("To: <sip:bob@example.com;tag=uri-param>", {"tag": "t7"}),
    ],
)
def test_make_response_tags_untagged_to(to: str, params: dict[str, str]) -> None:
    resp = req(to).make_response(200, to_tag="t7")
    again = parse_message(resp.to_bytes(), strict=True)
    assert again.to.params == params
    assert again.to.uri_text == req(to).to.uri_text


# -- construction and serialization ------------------------------------------------
def test_build_request_from_objects() -> None:
    request = Request(
        "OPTIONS",
        parse_uri("sip:carol@chicago.example.com"),
        vias=[Via(transport="UDP", host="pc33.example.com", params={"branch": "z9hG4bKhj"})],
        from_=NameAddr(
            uri=parse_uri("sip:alice@example.com"), display="Alice", params={"tag": "1"}
        ),
        to=NameAddr(uri=parse_uri("sip:carol@chicago.example.com")),
        call_id="c1@pc33",
        cseq=CSeq(63104, "OPTIONS"),
        max_forwards=70,
        headers=[("Accept", "application/sdp")],
    )
    wire = request.to_bytes()
    assert wire == (
        b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKhj\r\n"
        b"Max-Forwards: 70\r\n"
        b'From: "Alice" <sip:alice@example.com>;tag=1\r\n'
        b"To: <sip:carol@chicago.example.com>\r\n"
        b"Call-ID: c1@pc33\r\n"
        b"CSeq: 63104 OPTIONS\r\n"
        b"Accept: application/sdp\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert bytes(request) == wire
    assert parse_message(wire, strict=True) == request


def test_equality() -> None:
    a, b = req("Subject: a"), req("Subject: a")
    assert a == b
    assert a != req("Subject: b")
    assert a != parse_message(make(start="SIP/2.0 200 OK"))
    assert a != "not a message"
    with pytest.raises(TypeError):
        hash(a)


def test_untouched_headers_serialize_byte_for_byte() -> None:
    data = make(
        'Contact: "Weird  spacing" <sip:a@b.example.com> ;  q = 0.7',
        "Content-Length: 0",
    )
    msg = parse_message(data)
    assert msg.to_bytes().split(b"\r\n")[6] == (
        b'Contact: "Weird  spacing" <sip:a@b.example.com> ;  q = 0.7'
    )
    assert parse_message(msg.to_bytes()).to_bytes() == msg.to_bytes()


# -- stateless answers (error_response) ----------------------------------------------
def test_error_response_basics() -> None:
    data = make("Max-Forwards: 70", "Subject: ignored")
    answer = error_response(data, 400, "Bad Request", "s1")
    assert answer is not None
    reply = parse_message(answer, strict=True)
    assert isinstance(reply, Response)
    request = req("Max-Forwards: 70")
    assert [str(v) for v in reply.vias] == [str(v) for v in request.vias]
    assert str(reply.from_) == str(request.from_)
    assert reply.to.tag == "s1"
    assert (reply.call_id, reply.cseq) == (request.call_id, request.cseq)
    assert reply.headers == [] and reply.max_forwards is None


def test_error_response_edge_cases() -> None:
    data = make()
    # keep-alive CRLFs before the request (parse_message skips them too)
    assert error_response(b"\r\n\r\n" + data, 400, "Bad", "t") == error_response(
        data, 400, "Bad", "t"
    )
    # an existing To tag is kept whatever its case or spacing, never doubled
    for to in ("To: <sip:bob@example.com>;TAG=abc", "To: <sip:bob@example.com> ;\ttag = abc"):
        answer = error_response(make(to), 400, "Bad", "new")
        assert answer is not None and b"new" not in answer
    # the reason phrase is reduced to printable ASCII
    answer = error_response(data, 400, "Mauvaise requête\r\nX: y", "t")
    assert answer is not None and answer.startswith(b"SIP/2.0 400 Mauvaise requ?te??X: y\r\n")
    # nothing to answer: responses, requests without Via, non-SIP noise
    assert error_response(make(start="SIP/2.0 200 OK"), 400, "Bad", "t") is None
    no_via = b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Via"))
    assert error_response(no_via, 400, "Bad", "t") is None
    for noise in (b"", b"\r\n", b"garbage", b"\x00\xff" * 100):
        assert error_response(noise, 400, "Bad", "t") is None
