"""StreamFramer: SIP message framing on stream transports (RFC 3261 §18.3, RFC 5626 §3.5.1)."""

from __future__ import annotations

import pytest

from switch.sip.errors import SipParseError
from switch.sip.framing import PING, StreamFramer
from switch.sip.message import parse_message


def message(n: int = 1, body: bytes = b"", *, length: str | None = None, extra: str = "") -> bytes:
    cl = str(len(body)) if length is None else length
    head = (
        f"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK{n}\r\n"
        f"From: <sip:alice@example.com>;tag={n}\r\n"
        f"To: <sip:bob@example.com>\r\n"
        f"Call-ID: call-{n}@example.com\r\n"
        f"CSeq: {n} OPTIONS\r\n"
        f"{extra}"
    )
    if cl != "":
        head += f"Content-Length: {cl}\r\n"
    return head.encode() + b"\r\n" + body


def feed_bytewise(framer: StreamFramer, data: bytes) -> list[object]:
    out: list[object] = []
    for i in range(len(data)):
        out += framer.feed(data[i : i + 1])
    return out


def test_whole_message() -> None:
    framer = StreamFramer()
    data = message(body=b"hello")
    assert framer.feed(data) == [data]
    assert framer.buffered == 0
    assert parse_message(data, datagram=False).body == b"hello"


def test_message_split_anywhere() -> None:
    data = message(body=b"v=0\r\n\r\nstill body")
    for cut in range(1, len(data)):
        framer = StreamFramer()
        assert framer.feed(data[:cut]) == []
        assert framer.buffered == cut
        assert framer.feed(data[cut:]) == [data]
        assert framer.buffered == 0


def test_one_byte_at_a_time() -> None:
    data = message(body=b"abc") + message(2)
    assert feed_bytewise(StreamFramer(), data) == [message(body=b"abc"), message(2)]


def test_several_messages_in_one_chunk() -> None:
    msgs = [message(1), message(2, b"body two"), message(3, b"\r\n\r\n")]
    framer = StreamFramer()
    assert framer.feed(b"".join(msgs)) == msgs
    assert [parse_message(m, datagram=False).call_id for m in msgs] == [
        "call-1@example.com",
        "call-2@example.com",
        "call-3@example.com",
    ]


def test_partial_message_waits_for_the_rest() -> None:
    first, second = message(1, b"12345"), message(2, b"67890")
    framer = StreamFramer()
    assert framer.feed(first + second[:30]) == [first]
    assert framer.buffered == 30
    assert framer.feed(second[30:-1]) == []
    assert framer.feed(second[-1:]) == [second]


def test_body_split_from_header() -> None:
    data = message(body=b"0123456789")
    framer = StreamFramer()
    head_len = data.index(b"\r\n\r\n") + 4
    assert framer.feed(data[:head_len]) == []
    assert framer.feed(data[head_len : head_len + 5]) == []
    assert framer.feed(data[head_len + 5 :]) == [data]


def test_crlf_ping() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [PING]
    assert framer.buffered == 0
    assert framer.feed(b"\r\n\r\n\r\n\r\n") == [PING, PING]


def test_ping_split_across_chunks() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == [PING]
    assert feed_bytewise(StreamFramer(), b"\r\n\r\n") == [PING]


def test_pings_between_messages() -> None:
    a, b = message(1), message(2, b"xy")
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + a + b"\r\n\r\n" + b + b"\r\n\r\n") == [PING, a, PING, b, PING]


def test_leading_crlf_skipped() -> None:
    a = message(1)
    framer = StreamFramer()
    assert framer.feed(b"\r\n" + a) == [a]
    assert framer.feed(b"\n" + a) == [a]
    assert framer.feed(b"\r\n") == []  # could still become a ping
    assert framer.feed(a) == [a]
    assert framer.buffered == 0


def test_missing_content_length_on_stream_means_no_body() -> None:
    data = message(length="")
    framer = StreamFramer()
    assert framer.feed(data + message(2)) == [data, message(2)]
    assert parse_message(data, datagram=False).body == b""


def test_compact_and_spaced_content_length() -> None:
    body = b"hello"
    data = message(length="").replace(b"\r\n\r\n", b"\r\nl : 5\r\n\r\n") + body
    assert StreamFramer().feed(data + message(2)) == [data, message(2)]
    data = message(length="").replace(b"\r\n\r\n", b"\r\ncontent-LENGTH:\t005\r\n\r\n")
    assert StreamFramer().feed(data + body) == [data + body]


def test_equal_repeated_content_length_is_fine() -> None:
    body = b"abcd"
    data = message(body=body, extra="l: 04\r\n")
    assert StreamFramer().feed(data) == [data]


def test_conflicting_content_length() -> None:
    framer = StreamFramer()
    data = message(body=b"abcd", extra="l: 3\r\n")
    with pytest.raises(SipParseError, match="Conflicting") as info:
        framer.feed(data)
    assert info.value.status == 400
    assert framer.buffered == 0


def test_absurd_content_length() -> None:
    framer = StreamFramer(max_message_bytes=1 << 20)
    with pytest.raises(SipParseError) as info:
        framer.feed(message(length="9" * 5000))
    assert info.value.status in (400, 513)
    assert framer.buffered == 0


def test_oversized_header_section() -> None:
    framer = StreamFramer(max_message_bytes=1000)
    assert framer.feed(b"INVITE sip:bob@example.com SIP/2.0\r\n") == []
    with pytest.raises(SipParseError) as info:
        for _ in range(100):
            framer.feed(b"X-Filler: " + b"x" * 40 + b"\r\n")
    assert info.value.status == 513
    assert framer.buffered == 0


def test_oversized_body() -> None:
    framer = StreamFramer(max_message_bytes=1000)
    with pytest.raises(SipParseError) as info:
        framer.feed(message(length="5000"))
    assert info.value.status == 513
    assert framer.buffered == 0


def test_message_exactly_at_the_limit() -> None:
    body = b"z" * 100
    data = message(body=body)
    assert StreamFramer(max_message_bytes=len(data)).feed(data) == [data]
    with pytest.raises(SipParseError):
        StreamFramer(max_message_bytes=len(data) - 1).feed(data)


def test_framer_recovers_after_an_error() -> None:
    framer = StreamFramer(max_message_bytes=500)
    with pytest.raises(SipParseError):
        framer.feed(message(length="9999"))
    assert framer.feed(message(2)) == [message(2)]


def test_garbage_without_header_end_is_capped() -> None:
    framer = StreamFramer(max_message_bytes=64)
    assert framer.feed(b"x" * 64) == []
    with pytest.raises(SipParseError):
        framer.feed(b"x")
