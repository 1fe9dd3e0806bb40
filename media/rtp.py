"""RTP and RTCP wire format (RFC 3550): validity checks and a loose RTCP reader.

Nothing here raises on hostile input: checks return a drop reason, the RTCP reader
returns None for anything it cannot read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_HEADER_BYTES = 12
# Above any MTU-sized UDP payload; RTP never needs IP fragmentation in practice.
MAX_PACKET_BYTES = 2048

# Drop reasons of the RTP checks, in the order they are tested.
SHORT = "short"  # fewer than 12 bytes
OVERSIZE = "oversize"  # more than the configured maximum
VERSION = "version"  # version field is not 2
MALFORMED = "malformed"  # CSRC list, header extension or padding runs past the end

_U16 = struct.Struct("!H")
_SR_INFO = struct.Struct("!4xIIIIII")  # SSRC, NTP hi, NTP lo, RTP ts, packets, octets
_REPORT_BLOCK = struct.Struct("!IB3sII")  # SSRC, fraction, cumulative (24 bits), seq, jitter


def rtp_problem(data: bytes, max_bytes: int = MAX_PACKET_BYTES) -> str | None:
    """Why `data` is not a usable RTP packet, or None if it is one."""
    n = len(data)
    if n < RTP_HEADER_BYTES:
        return SHORT
    if n > max_bytes:
        return OVERSIZE
    first = data[0]
    if first >> 6 != 2:
        return VERSION
    header = RTP_HEADER_BYTES + 4 * (first & 0x0F)
    if header > n:
        return MALFORMED
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if header + 4 > n:
            return MALFORMED
        header += 4 + 4 * _U16.unpack_from(data, header + 2)[0]
        if header > n:
            return MALFORMED
    if first & 0x20:  # padding: the last byte counts the padding bytes, itself included
        pad = data[-1]
        if pad == 0 or header + pad > n:
            return MALFORMED
    return None


def is_rtcp(data: bytes) -> bool:
    """An RTCP packet on an RTP port (RFC 5761 §4: packet types 192-223 never are RTP)."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report: what the sender of the RTCP packet saw of a stream it gets."""

    ssrc: int
    fraction_lost: float  # 0..1, since the previous report
    cumulative_lost: int  # may be negative (duplicates)
    highest_seq: int  # extended highest sequence number received
    jitter: int  # interarrival jitter, in RTP timestamp units


@dataclass(frozen=True, slots=True)
class RtcpReport:
    """What one compound RTCP packet says, read loosely (unknown packet types skipped)."""

    sender_ssrc: int | None  # of the first SR/RR
    sender_packets: int | None  # from an SR: packets the sender says it sent
    sender_octets: int | None
    blocks: tuple[ReportBlock, ...]


def parse_rtcp(data: bytes) -> RtcpReport | None:
    """Read SR/RR information from a compound RTCP packet; None if it is not RTCP.

    Loose on purpose: the first packet must have version 2, an RTCP packet type and a
    length that fits; later packets that do not fit end the walk without failing the
    whole compound. SDES, BYE, APP and feedback packets are skipped.
    """
    n = len(data)
    if n < 8 or data[0] >> 6 != 2 or not 192 <= data[1] <= 223:
        return None
    if 4 * (_U16.unpack_from(data, 2)[0] + 1) > n:
        return None
    sender_ssrc: int | None = None
    packets: int | None = None
    octets: int | None = None
    blocks: list[ReportBlock] = []
    offset = 0
    while offset + 4 <= n:
        first, kind = data[offset], data[offset + 1]
        length = 4 * (_U16.unpack_from(data, offset + 2)[0] + 1)
        end = offset + length
        if first >> 6 != 2 or end > n:
            break
        count = first & 0x1F
        body = -1
        if kind == 200 and length >= 28:  # SR
            ssrc, _ntp_hi, _ntp_lo, _ts, sent, sent_octets = _SR_INFO.unpack_from(data, offset)
            if sender_ssrc is None:
                sender_ssrc = ssrc
            packets, octets = sent, sent_octets
            body = offset + 28
        elif kind == 201 and length >= 8:  # RR
            if sender_ssrc is None:
                sender_ssrc = int.from_bytes(data[offset + 4:offset + 8], "big")
            body = offset + 8
        if body >= 0:
            for i in range(count):
                start = body + 24 * i
                if start + 24 > end:
                    break
                ssrc, fraction, lost, highest, jitter = _REPORT_BLOCK.unpack_from(data, start)
                cumulative = int.from_bytes(lost, "big", signed=True)
                blocks.append(ReportBlock(ssrc, fraction / 256, cumulative, highest, jitter))
        offset = end
    return RtcpReport(sender_ssrc, packets, octets, tuple(blocks))


def rtp_payload(data: bytes) -> bytes:
    """The payload of a packet `rtp_problem` accepted: after CSRCs and extension,
    before padding."""
    first = data[0]
    start = RTP_HEADER_BYTES + 4 * (first & 0x0F)
    if first & 0x10:
        start += 4 + 4 * _U16.unpack_from(data, start + 2)[0]
    end = len(data) - data[-1] if first & 0x20 else len(data)
    return data[start:end]
