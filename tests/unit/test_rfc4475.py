"""The RFC 4475 torture corpus (tests/data/rfc4475) through the parser.

Driven by manifest.json: valid messages must parse strictly, round-trip and expose
sane values; invalid ones must raise SipParseError with the manifest's status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from switch.sip.errors import SipParseError
from switch.sip.message import Request, Response, parse_message
from switch.sip.stateless import error_response
from switch.sip.uri import AbsoluteUri, SipUri

CORPUS = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
MANIFEST: list[dict[str, object]] = json.loads((CORPUS / "manifest.json").read_text())
BY_NAME = {str(entry["name"]): entry for entry in MANIFEST}

# Valid per RFC 4475 §3.3 (well-formed at the grammar level), but the element's answer
# is a 400 and our parser is the one that detects it, so parse_message raises with 400
# and the stateless layer (error_response) answers:
#  - insuf (§3.3.1): no From, To, Call-ID or Max-Forwards, the headers a response
#    needs; a Message without From/To/Call-ID cannot be represented at all.
#  - multi01 (§3.3.8): From, To, Call-ID, CSeq, Max-Forwards repeated; these are
#    single-value headers and the transaction layer cannot pick one.
#  - mcl01 (§3.3.9): two conflicting Content-Length values; the body cannot be framed.
PARSER_DETECTED_400 = {"insuf", "multi01", "mcl01"}

VALID = [n for n, e in BY_NAME.items() if e["valid"] and n not in PARSER_DETECTED_400]
INVALID = [n for n, e in BY_NAME.items() if not e["valid"]]


def load(name: str) -> bytes:
    return (CORPUS / f"{name}.dat").read_bytes()


def parse(name: str) -> Request | Response:
    return parse_message(load(name), strict=True)


def request(name: str) -> Request:
    msg = parse(name)
    assert isinstance(msg, Request)
    return msg


def response(name: str) -> Response:
    msg = parse(name)
    assert isinstance(msg, Response)
    return msg


def test_manifest_covers_the_corpus() -> None:
    files = {p.stem for p in CORPUS.glob("*.dat")}
    assert files == set(BY_NAME)
    assert len(MANIFEST) == 49
    assert sum(1 for e in MANIFEST if not e["valid"]) == 19
    assert PARSER_DETECTED_400 <= {n for n, e in BY_NAME.items() if e.get("semantic_status") == 400}


# -- valid messages --------------------------------------------------------------
@pytest.mark.parametrize("name", VALID)
def test_valid_parses_strictly_and_round_trips(name: str) -> None:
    msg = parse(name)
    kind = BY_NAME[name]["kind"]
    assert isinstance(msg, Request if kind == "request" else Response)
    wire = msg.to_bytes()
    again = parse_message(wire, strict=True)
    assert again == msg
    assert again.to_bytes() == wire  # serialization is a fixed point
    assert parse_message(wire, datagram=False, strict=True) == msg
    # the eager and the lazily parsed headers are all there
    assert msg.vias and all(v.transport for v in msg.vias)
    assert msg.call_id and msg.cseq.method
    msg.from_.uri  # noqa: B018
    msg.to.uri  # noqa: B018


@pytest.mark.parametrize("name", VALID)
def test_valid_does_not_depend_on_the_strict_flag(name: str) -> None:
    assert parse_message(load(name)) == parse(name)


@pytest.mark.parametrize("name", sorted(PARSER_DETECTED_400))
def test_semantic_400_detected_by_the_parser(name: str) -> None:
    assert BY_NAME[name]["semantic_status"] == 400
    for strict in (False, True):
        with pytest.raises(SipParseError) as info:
            parse_message(load(name), strict=strict)
        assert info.value.status == 400
    # ... and the stateless layer can still answer the requests that carry a Via
    answer = error_response(load(name), 400, "Bad Request", "t1")
    assert answer is not None
    assert answer.startswith(b"SIP/2.0 400 Bad Request\r\n")


def test_semantic_400_reasons() -> None:
    reasons = {}
    for name in PARSER_DETECTED_400:
        with pytest.raises(SipParseError) as info:
            parse_message(load(name))
        reasons[name] = info.value.reason
    assert "Missing" in reasons["insuf"]
    assert "Multiple" in reasons["multi01"]
    assert "Content-Length" in reasons["mcl01"]


def test_wsinv_folding_compact_names_and_lws() -> None:
    msg = request("wsinv")
    assert msg.method == "INVITE"
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.params == {"unknownparam": None}
    # "TO :" folded onto the next line, addr-spec with LWS around ';' and '='
    assert msg.to.uri_text == "sip:vivekg@chair-dnrc.example.com"
    assert msg.to.tag == "1918181833n"
    # escaped backslash and quote in the display name, tag folded over two lines
    assert msg.from_.display == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68  # leading zeros
    assert (msg.cseq.number, msg.cseq.method) == (9, "INVITE")  # value folded
    # "Via  :" folded thrice, then "v:" with two comma-separated values
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.get("s") == "" and msg.get("Subject") == ""  # empty compact Subject
    assert msg.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.content_type == "application/sdp"
    assert [str(r.uri) for r in msg.routes()] == [
        "sip:services.example.com;lr;unknownwith=value;unknown-no-value"
    ]
    (contact,) = msg.contacts() or []
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(msg.body) == 150 and msg.body.startswith(b"v=0\r\n")


def test_intmeth_unusual_tokens() -> None:
    msg = request("intmeth")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.cseq.method == msg.method
    uri = msg.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert msg.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.vias[0].branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.max_forwards == 255
    assert msg.headers == [("extensionHeader-!.%*+_`'~", "\ufeff大停電")]


def test_esc01_escapes_kept_and_unescaped_on_demand() -> None:
    msg = request("esc01")
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.user == "sips%3Auser%40example.com"
    assert msg.uri.user_unescaped == "sips:user@example.com"
    assert msg.to.sip_uri.aor == "sip:user@example.com"
    assert msg.from_.sip_uri.user_unescaped == "I have spaces"
    (contact,) = msg.contacts() or []
    assert contact.sip_uri.user_unescaped == "caller"
    assert contact.sip_uri.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}


def test_escnull_aor_keeps_the_whole_user() -> None:
    msg = request("escnull")
    assert msg.to.sip_uri.user == "null-%00-null"
    assert msg.to.sip_uri.aor == "sip:null-\x00-null@example.com"
    assert msg.from_.sip_uri.aor == msg.to.sip_uri.aor
    contacts = msg.contacts() or []
    assert [c.sip_uri.user_unescaped for c in contacts] == ["\x00", "\x00\x00"]
    assert contacts[0].sip_uri.aor != contacts[1].sip_uri.aor  # two distinct contacts


def test_esc02_percent_that_is_not_an_escape() -> None:
    msg = request("esc02")
    assert msg.method == "RE%47IST%45R"
    assert msg.to.display == "%Z%45"
    assert msg.vias[0].branch == "z9hG4bK209%fzsnel234"
    assert len(msg.contacts() or []) == 2  # C%6Fntact is an unknown header
    assert msg.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_token_display_without_space() -> None:
    msg = request("lwsdisp")
    assert msg.from_.display == "caller"
    assert msg.from_.tag == "323"


def test_longreq_long_values() -> None:
    msg = request("longreq")
    assert len(msg.vias) == 34
    assert msg.vias[0].host == "sip33.example.com"
    assert msg.vias[-1].host == "host.example.com"
    assert msg.vias[-1].params["received"] == "192.0.2.5"
    assert len(msg.vias[-1].branch or "") > 100
    assert msg.to.display is not None and "extremeextreme" in msg.to.display
    assert msg.to.sip_uri.port == 6000
    assert len(msg.from_.tag or "") > 100
    assert msg.from_.sip_uri.user is not None and len(msg.from_.sip_uri.user) > 100
    assert len(msg.call_id) > 100
    name, value = msg.headers[0]
    assert name.startswith("Unknown-LongLong") and len(name) > 80
    assert value.startswith("unknown-longlong")
    assert len(msg.body) == 150


def test_dblreq_extra_octets_ignored() -> None:
    msg = request("dblreq")
    assert msg.method == "REGISTER"
    assert msg.body == b""
    assert msg.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert b"INVITE" not in msg.to_bytes()


def test_semiuri_user_part_with_semicolon() -> None:
    msg = request("semiuri")
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.user == "user;par=u%40example.net"
    assert msg.uri.user_unescaped == "user;par=u@example.net"
    assert msg.uri.host == "example.com"
    assert msg.uri.params == {}
    assert msg.get("Accept") == (
        "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed,"
        " message/sip, message/sipfrag"
    )


def test_transports_all_kinds() -> None:
    msg = request("transports")
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert [v.host for v in msg.vias] == [f"t{i}.example.com" for i in range(1, 6)]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"  # two SP after the colon


def test_mpart01_binary_body_intact() -> None:
    data = load("mpart01")
    msg = request("mpart01")
    assert len(msg.body) == 553
    assert msg.body == data[data.index(b"\r\n\r\n") + 4 :]
    assert b"\x00" in msg.body
    assert msg.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert msg.content_type == "multipart/mixed"
    assert msg.vias[0].port == 5070 and msg.vias[0].params["rport"] is None
    assert msg.to_bytes().endswith(msg.body)


def test_unreason_utf8_reason_phrase() -> None:
    msg = response("unreason")
    assert msg.status == 200
    assert msg.reason.startswith("= 2**3 * 5**2 ")
    assert "простое" in msg.reason
    assert msg.to_bytes().startswith(load("unreason").split(b"\r\n", 1)[0] + b"\r\n")
    assert len(msg.body) == 154


def test_noreason_empty_reason_phrase() -> None:
    msg = response("noreason")
    assert (msg.status, msg.reason) == (100, "")
    assert msg.to_bytes().startswith(b"SIP/2.0 100 \r\n")


def test_inv2543_rfc2543_style_request() -> None:
    msg = request("inv2543")
    assert msg.vias[0].branch is None
    assert msg.to.params == {"user": "phone"}  # addr-spec params belong to the header
    assert msg.to.sip_uri.params == {}
    assert len(msg.body) == 105  # no Content-Length on UDP: the rest of the datagram


def test_application_layer_values() -> None:
    assert request("badbranch").vias[0].branch == "z9hG4bK"
    unkscm = request("unkscm").uri
    assert isinstance(unkscm, AbsoluteUri) and unkscm.scheme == "nobodyknowsthisscheme"
    novelsc = request("novelsc").uri
    assert isinstance(novelsc, AbsoluteUri) and novelsc.scheme == "soap.beep"
    assert request("zeromf").max_forwards == 0
    assert request("bext01").get("Require") is not None
    assert response("bcast").status == 200
    assert request("regaut01").get("Authorization") is not None


# -- invalid messages ------------------------------------------------------------
@pytest.mark.parametrize("name", INVALID)
def test_invalid_rejected_with_status(name: str) -> None:
    expect = BY_NAME[name]["expect_status"]
    with pytest.raises(SipParseError) as info:
        parse_message(load(name), strict=True)
    if expect is not None:
        assert info.value.status == expect, info.value.reason
    else:
        # scalarlg (§3.1.2.5) and bigcode (§3.1.2.19) are responses the RFC says to
        # discard / drop; the parser still raises and the caller drops them.
        assert BY_NAME[name]["kind"] == "response"


# Faults in headers parsed lazily (Via params, name-addr, Date, Contact) are found by
# strict=True or on first access; everything else is caught by the eager pass.
LAZY_FAULTS = {"badinv01", "quotbal", "escruri", "baddate", "regbadct", "badaspec", "baddn"}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_without_strict(name: str) -> None:
    if name in LAZY_FAULTS:
        msg = parse_message(load(name))
        with pytest.raises(SipParseError):
            msg.validate()
    else:
        with pytest.raises(SipParseError):
            parse_message(load(name))


# A 400 copies Via/From/To/Call-ID/CSeq verbatim (RFC 3261 §8.2.6.2), so when the
# fault *is* in one of those values, the answer carries it too. That is the best a
# stateless answer can do: the client must still be able to match it.
#  - eagerly parsed (CSeq) or missing (insuf: no From/To/Call-ID): parse_message fails;
UNPARSEABLE_ANSWER = {"scalar02": "CSeq", "insuf": "Missing From"}
#  - lazily parsed (Via, From, To): the answer parses, but strict=True rejects it.
STRICT_REJECTS_ANSWER = {"badinv01", "quotbal", "badaspec", "baddn", "badvers"}


def _request_lines(data: bytes, names: tuple[bytes, ...]) -> int:
    head = data.split(b"\r\n\r\n", 1)[0]
    return sum(1 for line in head.split(b"\r\n") if line.split(b":")[0].strip().lower() in names)


@pytest.mark.parametrize(
    "name",
    [n for n in BY_NAME if BY_NAME[n]["kind"] == "request" and n not in VALID],
)
def test_error_response_is_well_formed(name: str) -> None:
    data = load(name)
    answer = error_response(data, 400, "Bad Request", "st4475")
    assert answer is not None  # every request in the corpus has a Via
    assert answer.startswith(b"SIP/2.0 400 Bad Request\r\n")
    assert answer.endswith(b"\r\nContent-Length: 0\r\n\r\n")
    assert answer.count(b"\r\nVia: ") == _request_lines(data, (b"via", b"v"))
    if name in UNPARSEABLE_ANSWER:
        with pytest.raises(SipParseError, match=UNPARSEABLE_ANSWER[name]):
            parse_message(answer)
        return
    msg = parse_message(answer)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (400, "Bad Request")
    assert msg.body == b""
    assert parse_message(msg.to_bytes()).to_bytes() == msg.to_bytes() == answer
    if name in STRICT_REJECTS_ANSWER:
        with pytest.raises(SipParseError):
            msg.validate()
    else:
        msg.validate()
        assert msg.to.tag is not None


def test_error_response_copies_the_dialog_fields() -> None:
    data = load("mismatch01")
    answer = error_response(data, 400, "CSeq method mismatch", "tag9")
    assert answer is not None
    reply = parse_message(answer, strict=True)
    assert [str(v) for v in reply.vias] == ["SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw"]
    assert reply.reason == "CSeq method mismatch"
    assert reply.call_id == "mismatch01.dj0234sxdfl3"
    assert (reply.cseq.number, reply.cseq.method) == (8, "INVITE")
    assert reply.from_.tag == "34525"
    assert reply.to.tag == "tag9"


def test_error_response_unfolds_folded_headers() -> None:
    answer = error_response(load("wsinv"), 400, "Bad Request", "tg")
    assert answer is not None
    reply = parse_message(answer, strict=True)
    assert (reply.cseq.number, reply.cseq.method) == (9, "INVITE")
    assert [v.branch for v in reply.vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert reply.to.tag == "1918181833n"  # already tagged: not tagged again


@pytest.mark.parametrize("name", [n for n in BY_NAME if BY_NAME[n]["kind"] == "response"])
def test_error_response_never_answers_a_response(name: str) -> None:
    assert error_response(load(name), 400, "Bad Request", "x") is None
