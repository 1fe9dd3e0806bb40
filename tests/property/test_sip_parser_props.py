"""Property tests of the SIP parser (hypothesis).

(a) round trip: random valid messages survive to_bytes -> parse unchanged, and
    to_bytes is a fixed point; equivalent renderings (compact names, odd case,
    LWS around the colon, folding) parse to the same message;
(b) chunking invariance of StreamFramer;
(c) only SipParseError escapes the parser and the framer, whatever the input, and
    whatever the parser accepts it can write back out and accept again;
(d) error_response never raises.
"""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switch.sip.errors import SipParseError
from switch.sip.framing import PING, StreamFramer
from switch.sip.grammar import quote
from switch.sip.headers import CSeq, NameAddr, Via
from switch.sip.message import Request, Response, canonical_name, parse_message
from switch.sip.stateless import error_response
from switch.sip.uri import AbsoluteUri, SipUri

CORPUS = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
SEEDS = [p.read_bytes() for p in sorted(CORPUS.glob("*.dat"))]

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- building blocks ---------------------------------------------------------------
ALNUM = string.ascii_letters + string.digits
TOKEN_CHARS = ALNUM + "-.!%*_+`'~"
# Characters legal unescaped in URI parts we generate (unreserved, minus nothing tricky)
URI_CHARS = ALNUM + "-_.!~*'()"
WORD_CHARS = ALNUM + "-.!%*_+`'~()<>:\\\"/[]?{}"

tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
lower_tokens = st.text(
    string.ascii_lowercase + string.digits + "-.!%*_+`'~", min_size=1, max_size=10
)
uri_words = st.text(URI_CHARS, min_size=1, max_size=12)
hex_escape = st.builds(lambda b: f"%{b:02X}", st.integers(0, 255))
users = st.lists(st.one_of(uri_words, hex_escape), min_size=1, max_size=4).map("".join)

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.one_of(
    st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
        lambda g: "[" + ":".join(f"{x:x}" for x in g) + "]"
    ),
    st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)).map(
        lambda t: f"[{t[0]:x}::{t[1]:x}]"
    ),
    st.just("[::1]"),
    ipv4.map(lambda v4: f"[::ffff:{v4}]"),
)
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.one_of(st.none(), st.integers(0, 65535))

uri_params = st.dictionaries(
    lower_tokens.filter(lambda t: "`" not in t),
    st.one_of(st.none(), uri_words),
    max_size=3,
)
quoted_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=10
).map(quote)
header_params = st.dictionaries(
    lower_tokens, st.one_of(st.none(), tokens, quoted_values, ipv4), max_size=3
)


@st.composite
def sip_uris(draw: st.DrawFn, *, with_headers: bool = False) -> SipUri:
    user = draw(st.one_of(st.none(), users))
    password = draw(st.one_of(st.none(), st.text(URI_CHARS + "&=+$,", max_size=6)))
    headers = None
    if with_headers:
        headers = draw(
            st.one_of(
                st.none(),
                st.lists(st.tuples(uri_words, uri_words), min_size=1, max_size=2).map(
                    lambda kv: "&".join(f"{k}={v}" for k, v in kv)
                ),
            )
        )
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password if user is not None else None,
        host=draw(hosts),
        port=draw(ports),
        params=draw(uri_params),
        headers=headers,
    )


absolute_uris = st.one_of(
    st.builds(lambda n: f"tel:+{n}", st.integers(1, 10**12)),
    st.builds(lambda h: f"urn:service:{h}", labels),
    st.builds(lambda h, p: f"http://{h}/{p}", hostnames, uri_words),
).map(AbsoluteUri)

display_names = st.one_of(
    st.none(),
    st.lists(tokens, min_size=1, max_size=3).map(" ".join),  # token words
    st.text(  # anything: needs quoting (quotes, backslashes, commas, UTF-8, controls)
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=16
    ),
)


@st.composite
def name_addrs(draw: st.DrawFn, *, tag: bool | None = None) -> NameAddr:
    uri = draw(st.one_of(sip_uris(with_headers=True), absolute_uris))
    params = draw(header_params)
    if tag is True or (tag is None and draw(st.booleans())):
        params["tag"] = draw(tokens)
    else:
        params.pop("tag", None)
    return NameAddr(uri=uri, display=draw(display_names), params=params)


transports = st.one_of(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]), tokens)


@st.composite
def vias(draw: st.DrawFn) -> Via:
    params = draw(header_params)
    params["branch"] = "z9hG4bK" + draw(tokens)
    if draw(st.booleans()):
        params["rport"] = draw(st.one_of(st.none(), st.integers(1, 65535).map(str)))
    if draw(st.booleans()):
        params["received"] = draw(st.one_of(ipv4, ipv6.map(lambda h: h[1:-1])))
    return Via(
        transport=draw(transports).upper(),
        host=draw(hosts),
        port=draw(ports),
        params=params,
    )


call_ids = st.tuples(
    st.text(WORD_CHARS, min_size=1, max_size=20),
    st.one_of(st.none(), st.text(WORD_CHARS, min_size=1, max_size=12)),
).map(lambda t: t[0] if t[1] is None else f"{t[0]}@{t[1]}")

# Extension header names that are not well known (those keep their spelling).
ext_names = tokens.filter(lambda n: canonical_name(n.lower()) == n.lower())
header_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=30,
).map(lambda s: s.strip(" \t"))


def _one_expires(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Expires is single-valued: keep the first one only."""
    first = next((i for i, (name, _) in enumerate(items) if name == "Expires"), len(items))
    return [h for i, h in enumerate(items) if h[0] != "Expires" or i == first]


headers = st.lists(
    st.one_of(
        st.tuples(ext_names, header_text),
        st.tuples(
            st.sampled_from(["Subject", "User-Agent", "Server", "Organization"]), header_text
        ),
        st.tuples(st.just("Allow"), st.lists(tokens, min_size=1, max_size=4).map(", ".join)),
        st.tuples(st.just("Supported"), st.lists(tokens, max_size=3).map(", ".join)),
        st.tuples(st.just("Contact"), name_addrs(tag=False).map(str)),
        st.tuples(
            st.just("Route"),
            st.lists(name_addrs(tag=False), min_size=1, max_size=2).map(
                lambda nas: ", ".join(str(na) for na in nas)
            ),
        ),
        st.tuples(st.just("Expires"), st.integers(0, 2**32 - 1).map(str)),
        st.tuples(st.just("Content-Type"), st.just("application/sdp")),
    ),
    max_size=6,
).map(_one_expires)
bodies = st.binary(max_size=200)


@st.composite
def via_lists(draw: st.DrawFn) -> list[Via] | list[str]:
    """Via objects, or Via header lines that may hold comma-separated values."""
    values = draw(st.lists(vias(), min_size=1, max_size=4))
    if draw(st.booleans()):
        return values
    lines: list[str] = []
    i = 0
    while i < len(values):
        n = draw(st.integers(1, len(values) - i))
        sep = draw(st.sampled_from([", ", ",", " ,  "]))
        lines.append(sep.join(str(v) for v in values[i : i + n]))
        i += n
    return lines


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(
        st.one_of(st.sampled_from(["INVITE", "ACK", "BYE", "OPTIONS", "REGISTER"]), tokens)
    )
    uri = draw(st.one_of(sip_uris(), absolute_uris))
    return Request(
        method,
        uri,
        vias=draw(via_lists()),
        from_=draw(name_addrs(tag=True)),
        to=draw(name_addrs()),
        call_id=draw(call_ids),
        cseq=CSeq(draw(st.integers(0, 2**31 - 1)), method),
        max_forwards=draw(st.one_of(st.none(), st.integers(0, 255))),
        headers=draw(headers),
        body=draw(bodies),
    )


reasons = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    return Response(
        draw(st.integers(100, 699)),
        draw(reasons),
        vias=draw(via_lists()),
        from_=draw(name_addrs(tag=True)),
        to=draw(name_addrs()),
        call_id=draw(call_ids),
        cseq=CSeq(draw(st.integers(0, 2**31 - 1)), draw(tokens)),
        headers=draw(headers),
        body=draw(bodies),
    )


messages = st.one_of(requests(), responses())


# -- (a) round trip ----------------------------------------------------------------
@SETTINGS
@given(messages)
def test_round_trip(msg: Request | Response) -> None:
    wire = msg.to_bytes()
    lazy = parse_message(wire)
    assert lazy.to_bytes() == wire  # fixed point (compared before any lazy parsing)
    assert lazy == msg
    parsed = parse_message(wire, strict=True)
    assert parsed == msg
    assert parse_message(wire, datagram=False, strict=True) == msg
    # the typed view survives too
    assert [(v.transport, v.host, v.port, v.params) for v in parsed.vias] == [
        (v.transport, v.host, v.port, v.params) for v in msg.vias
    ]
    for mine, theirs in ((parsed.from_, msg.from_), (parsed.to, msg.to)):
        assert mine.display == theirs.display
        assert mine.params == theirs.params
        assert str(mine.uri) == str(theirs.uri)
    if isinstance(msg.from_.uri, SipUri):
        uri = parsed.from_.sip_uri
        assert (uri.user, uri.password, uri.host, uri.port, uri.params, uri.headers) == (
            msg.from_.uri.user,
            msg.from_.uri.password,
            msg.from_.uri.host,
            msg.from_.uri.port,
            msg.from_.uri.params,
            msg.from_.uri.headers,
        )
    assert (parsed.call_id, parsed.cseq, parsed.headers, parsed.body) == (
        msg.call_id,
        msg.cseq,
        msg.headers,
        msg.body,
    )
    # after the lazy headers were parsed, the output is still a fixed point
    again = parsed.to_bytes()
    assert parse_message(again, strict=True).to_bytes() == again


COMPACT = {
    "Via": "v",
    "From": "f",
    "To": "t",
    "Call-ID": "i",
    "Contact": "m",
    "Content-Type": "c",
    "Subject": "s",
    "Supported": "k",
    "Content-Length": "l",
}


@st.composite
def renderings(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A serialized message and an equivalent one written the tortuous way."""
    msg = draw(requests())
    wire = msg.to_bytes()
    head, _, body = wire.partition(b"\r\n\r\n")
    start, *lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    out = [start]
    for line in lines:
        name, _, value = line.partition(": ")
        if canonical_name(name.lower()) != name.lower():  # a well-known name
            if name in COMPACT and draw(st.booleans()):
                name = COMPACT[name]
            name = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
        before = draw(st.sampled_from(["", " ", "\t", "  "]))
        after = draw(st.sampled_from(["", " ", "\t ", "   "]))
        spaces = [
            i
            for i in range(1, len(value) - 1)
            if value[i] == " " and value[i - 1] not in " \t" and value[i + 1] not in " \t"
        ]
        if spaces and draw(st.booleans()):
            i = draw(st.sampled_from(spaces))
            value = value[:i] + "\r\n" + draw(st.sampled_from([" ", "\t", "   "])) + value[i + 1 :]
        if not value and draw(st.booleans()):
            after = "\r\n "  # an empty value folded onto the next line
        out.append(f"{name}{before}:{after}{value}")
    tortuous = "\r\n".join(out).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body
    return wire, tortuous


@SETTINGS
@given(renderings())
def test_equivalent_renderings_parse_equal(pair: tuple[bytes, bytes]) -> None:
    wire, tortuous = pair
    assert parse_message(tortuous, strict=True) == parse_message(wire, strict=True)


# -- (b) chunking invariance -------------------------------------------------------
@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[object]]:
    """Several serialized messages, with CRLF pings and stray CRLFs in between."""
    parts: list[bytes] = []
    expected: list[object] = []
    for msg in draw(st.lists(messages, min_size=1, max_size=4)):
        for _ in range(draw(st.integers(0, 2))):
            parts.append(b"\r\n\r\n")
            expected.append(PING)
        if draw(st.booleans()):
            parts.append(b"\r\n")  # a lone CRLF before a message is skipped
        wire = msg.to_bytes()
        parts.append(wire)
        expected.append(wire)
    return b"".join(parts), expected


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[object]:
    framer = StreamFramer()
    out: list[object] = []
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out += framer.feed(data[previous:cut])
        previous = cut
    assert framer.buffered == 0
    return out


@SETTINGS
@given(streams(), st.data())
def test_chunking_invariance(stream: tuple[bytes, list[object]], data: st.DataObject) -> None:
    raw, expected = stream
    whole = feed_in_pieces(raw, [])
    assert whole == expected
    assert feed_in_pieces(raw, list(range(1, len(raw)))) == whole
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    assert feed_in_pieces(raw, cuts) == whole
    for item in whole:
        if item is not PING:
            assert isinstance(item, bytes)
            parse_message(item, datagram=False, strict=True)


# -- (c) only the parser's own error escapes ---------------------------------------
INSERTS = [
    *(b"\r", b"\n", b"\r\n", b"\r\n ", b"\r\n\r\n", b"\x00", b" ", b"\t"),
    *(b'"', b"<", b">", b"\\", b";", b",", b":", b"[", b"]", b"%", b"@", b"="),
    *(b"\xff", b"\xc2\xb2"),  # invalid UTF-8; a non-ASCII digit
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = draw(st.one_of(st.sampled_from(SEEDS), messages.map(lambda m: m.to_bytes())))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "truncate", "delete", "random"]))
        if op == "flip" and data:
            pos = min(pos, len(data) - 1)
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(INSERTS))
        elif op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def touch(msg: Request | Response) -> None:
    """Everything a caller may do with an accepted message."""
    msg.validate()
    if isinstance(msg, Request):
        msg.uri  # noqa: B018
        msg.make_response(400, to_tag="x").to_bytes()
    msg.contacts()
    msg.expires()
    msg.routes()
    msg.content_type  # noqa: B018
    msg.from_.tag  # noqa: B018
    msg.to.tag  # noqa: B018


@SETTINGS
@given(mutated())
def test_only_sip_parse_error_escapes(data: bytes) -> None:
    for strict in (True, False):
        for datagram in (True, False):
            try:
                msg = parse_message(data, strict=strict, datagram=datagram)
            except SipParseError as exc:
                assert 100 <= exc.status <= 699 and exc.reason
                continue
            # anything accepted can be written back out and is accepted again, equal
            wire = msg.to_bytes()
            again = parse_message(wire, strict=strict)
            assert again.to_bytes() == wire
            try:
                touch(msg)
            except SipParseError:
                continue  # a lazily parsed header is bad: still our own error
            assert again == msg


@SETTINGS
@given(mutated(), st.lists(st.integers(0, 4000), max_size=6))
def test_framer_raises_only_sip_parse_error(data: bytes, cuts: list[int]) -> None:
    framer = StreamFramer(max_message_bytes=4096)
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        try:
            for item in framer.feed(data[previous:cut]):
                if item is not PING:
                    assert isinstance(item, bytes)
                    try:
                        parse_message(item, datagram=False, strict=True)
                    except SipParseError:
                        pass
        except SipParseError as exc:
            assert exc.status in (400, 513)
            assert framer.buffered == 0
        previous = max(previous, cut)


@settings(SETTINGS, max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_message(data, strict=True)
    except SipParseError:
        pass
    try:
        StreamFramer(max_message_bytes=256).feed(data)
    except SipParseError:
        pass


# -- (d) error_response never raises -----------------------------------------------
@settings(SETTINGS, max_examples=200)
@given(st.one_of(st.binary(max_size=400), mutated()), st.integers(300, 699), reasons, tokens)
def test_error_response_never_raises(data: bytes, status: int, reason: str, tag: str) -> None:
    answer = error_response(data, status, reason, tag)
    if answer is None:
        return
    assert answer.startswith(f"SIP/2.0 {status} ".encode())
    assert answer.endswith(b"\r\nContent-Length: 0\r\n\r\n")
    answer.decode("utf-8")
    try:
        parse_message(answer)  # usually parses; if not, only our own error
    except SipParseError:
        pass
