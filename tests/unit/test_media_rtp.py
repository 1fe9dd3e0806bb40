"""RTP checks and the loose RTCP reader."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from media.rtp import (
    MALFORMED,
    OVERSIZE,
    SHORT,
    VERSION,
    ReportBlock,
    RtcpReport,
    is_rtcp,
    parse_rtcp,
    rtp_problem,
)


def header(first: int = 0x80, second: int = 0, seq: int = 1, ts: int = 2, ssrc: int = 3) -> bytes:
    return struct.pack("!BBHII", first, second, seq, ts, ssrc)


def sr(ssrc: int, packets: int, octets: int, blocks: list[bytes]) -> bytes:
    body = struct.pack("!IIIIII", ssrc, 1, 2, 3, packets, octets) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 200, (4 + len(body)) // 4 - 1) + body


def rr(ssrc: int, blocks: list[bytes]) -> bytes:
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 201, (4 + len(body)) // 4 - 1) + body


def block(ssrc: int, fraction: int, lost: int, highest: int, jitter: int) -> bytes:
    return (struct.pack("!IB", ssrc, fraction) + lost.to_bytes(3, "big", signed=True)
            + struct.pack("!IIII", highest, jitter, 0, 0))


SDES = struct.pack("!BBHI", 0x81, 202, 2, 7) + b"\x01\x02ab"  # one chunk, CNAME "ab"


def test_valid_rtp_packets() -> None:
    assert rtp_problem(header() + b"x" * 160) is None
    assert rtp_problem(header()) is None  # empty payload is allowed
    csrc = header(first=0x82) + b"\0" * 8 + b"pay"
    assert rtp_problem(csrc) is None
    ext = header(first=0x90) + struct.pack("!HH", 0xBEDE, 1) + b"\0" * 4 + b"pay"
    assert rtp_problem(ext) is None
    padded = header(first=0xA0) + b"pay" + b"\0\0\x03"
    assert rtp_problem(padded) is None


def test_invalid_rtp_packets_name_their_fault() -> None:
    assert rtp_problem(b"") == SHORT
    assert rtp_problem(header()[:11]) == SHORT
    assert rtp_problem(header(first=0x40)) == VERSION
    assert rtp_problem(header(first=0x00)) == VERSION
    assert rtp_problem(header() + b"x" * 3000) == OVERSIZE
    assert rtp_problem(header() + b"x" * 100, max_bytes=100) == OVERSIZE
    assert rtp_problem(header(first=0x8F) + b"\0" * 59) == MALFORMED  # 15 CSRCs need 60
    assert rtp_problem(header(first=0x90) + b"\xbe\xde") == MALFORMED  # no ext. length
    long_ext = header(first=0x90) + struct.pack("!HH", 0xBEDE, 200) + b"\0" * 8
    assert rtp_problem(long_ext) == MALFORMED
    assert rtp_problem(header(first=0xA0) + b"pay\x00") == MALFORMED  # zero padding count
    assert rtp_problem(header(first=0xA0) + b"pay\x09") == MALFORMED  # past the header


def test_rtcp_is_told_apart_from_rtp_by_packet_type() -> None:
    assert is_rtcp(rr(1, []))
    assert is_rtcp(sr(1, 2, 3, []))
    assert not is_rtcp(header(second=0))
    assert not is_rtcp(header(second=0x80 | 101))  # marker + telephone-event
    assert not is_rtcp(b"\x80")


def test_sender_report_with_blocks_and_sdes() -> None:
    data = sr(0x1111, 500, 80000, [block(0x2222, 64, 12, 70000, 80)]) + SDES
    assert parse_rtcp(data) == RtcpReport(
        sender_ssrc=0x1111, sender_packets=500, sender_octets=80000,
        blocks=(ReportBlock(0x2222, 0.25, 12, 70000, 80),),
    )


def test_receiver_report_negative_cumulative_loss() -> None:
    data = rr(0x3333, [block(0x4444, 0, -2, 10, 5), block(0x5555, 255, 1, 11, 6)])
    report = parse_rtcp(data)
    assert report is not None
    assert report.sender_ssrc == 0x3333 and report.sender_packets is None
    assert [b.cumulative_lost for b in report.blocks] == [-2, 1]
    assert report.blocks[1].fraction_lost == 255 / 256


def test_truncated_later_packets_end_the_walk_but_keep_what_was_read() -> None:
    data = rr(1, [block(2, 1, 1, 1, 1)]) + SDES[:6]
    report = parse_rtcp(data)
    assert report is not None and len(report.blocks) == 1


def test_not_rtcp() -> None:
    assert parse_rtcp(b"") is None
    assert parse_rtcp(header()) is None  # PT 0
    assert parse_rtcp(rr(1, [block(2, 1, 1, 1, 1)])[:20]) is None  # length past the end
    assert parse_rtcp(b"\x40\xc9\x00\x01\0\0\0\0") is None  # version 1


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    rtp_problem(data)
    is_rtcp(data)
    parse_rtcp(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_valid_rtcp_prefix_never_raise(tail: bytes) -> None:
    report = parse_rtcp(rr(9, []) + tail)
    assert report is not None and report.sender_ssrc == 9
