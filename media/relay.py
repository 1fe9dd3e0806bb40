"""The RTP relay core, sans-I/O: where each packet goes and how its header is rewritten.

Theory of operation
-------------------
A `RelaySession` anchors one call's media on the switch. It has two `Leg`s, ``a``
(the caller's phone) and ``b`` (the callee's). Each leg owns a local RTP port and the
RTCP port above it, knows the *expected* remote its phone's SDP named (updated by
re-INVITEs) and the *latched* remote its phone's packets really come from. An RTP
packet that arrives on leg A's port leaves through leg B's port towards B's phone, and
vice versa; the asyncio layer does the socket work, this module only decides.

Where packets go: packets received on a leg go to the peer's latched address if the
peer has sent anything, else to the peer's expected address, else nowhere (dropped and
counted as ``no_destination``). This is symmetric RTP (RFC 4961): phones receive
where they send from, which is what makes phones behind NAT work.

Latching (which source a leg accepts), in order:

1. First packet: while nothing is latched, the first valid RTP packet latches its
   source, whatever the SDP said (behind NAT the SDP address is a private one).
2. Re-INVITE window: `update()` with a *changed* remote (the previous one was known
   and differs) opens a window of ``relatch_window`` seconds in which the first valid
   packet from any other source latches at once (the phone moved, or the leg now goes
   to another phone). Packets from the old source keep flowing until then.
3. Takeover after silence: otherwise a new source is accepted only when the latched
   source has sent nothing for ``relatch_silence`` seconds *and* the new source has
   sent ``relatch_packets`` valid packets in a row (no other new source between them).
   This recovers NAT rebinding and phones that change port without signalling, in
   about ``relatch_silence`` seconds.

Everything else from a non-latched source is dropped (``source``). A one-off spoofed
packet therefore never moves a latch: it would have to arrive in the few seconds after
a re-INVITE before the phone's own first packet, or keep coming while the phone is
silent (on hold without RTP). Malformed packets never count towards latching.

Header rewriting: each output direction has one SSRC, the SSRC of the first stream
it carried (so most calls are relayed byte for byte: the fast path then returns the
input buffer itself). When the input stream changes — a new SSRC, or a re-latch or
`update()` after which the sequence number does not continue (RFC 3550 limits: more
than 3000 ahead or 100 behind) — offsets are computed once so that the first packet of
the new stream gets the next sequence number after the last one sent and a timestamp
advanced by the elapsed time at the receiving leg's clock rate. From then on every
packet gets ``seq + seq_off`` and ``ts + ts_off`` (mod 2^16 / 2^32), the direction's
SSRC, and byte 1 through a 256-entry table that keeps the marker bit and translates
the payload type (`update(pt_map=...)`, e.g. telephone-event 101 -> 96).

The per-packet path (`Leg.rtp`) is a few comparisons: the packet's SSRC bytes against
the armed stream, the source against the latch, byte 0 against 0x80 (version 2, no
padding, extension or CSRCs), the size, then a table lookup; then either the input is
returned as is, or a new header is packed with one precompiled `struct.Struct` and the
payload appended (measured: cheaper than `pack_into` on a bytearray copy; a slice
compare of the SSRC is cheaper than `startswith` or `unpack_from`). Anything else takes
the slow path (`_rtp_slow`), which validates fully, applies the latching rules,
computes offsets and re-arms the fast path. Measured on the reference machine: about
0.4 µs per packet in the core, 0.5 µs with the asyncio callback around it (a bare
forwarding callback: 0.1 µs), against roughly 10 µs of kernel and event-loop work per
relayed datagram.

Hostile input — fewer than 12 bytes, version not 2, CSRC list, extension or padding
past the end, more than ``max_packet_bytes`` — is dropped and counted by reason; no
input makes this module raise (property-tested).

RTCP is terminated, not forwarded: the SSRCs and sequence numbers the phones would
report on are rewritten here, so their reports would be wrong on the other side, and
the phones get by without RTCP from the far end. Compound packets are read loosely
(SR sender counts; report blocks: loss fraction, cumulative loss, jitter) for per-leg
statistics. RTCP multiplexed on the RTP port (RFC 5761) is recognised and treated the
same way. The relay sends no RTCP of its own.

Inactivity: `get_timer()` / `handle_timer(now)` produce `MediaTimeout(session_id,
idle_s)` when no RTP was accepted from either leg for ``inactivity_timeout`` seconds
since the last packet or the last `create`/`update`, unless a leg is on hold. The
per-packet path only stores the arrival time on the leg; `get_timer()` is therefore a
lower bound (it may be early, never late): when it fires, `handle_timer` scans the
sessions, reports those whose real deadline passed, and computes the next one exactly.
A timed-out session is reported once per silent period.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import math
import os
import struct
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from media.backend import (
    Address,
    DigitReceived,
    LegMedia,
    LegName,
    LegStats,
    MediaEvent,
    MediaTimeout,
    PlaybackFinished,
    SessionStats,
)
from media.codecs import registry
from media.codecs.base import Encoder, Pcm
from media.dtmf.events import DigitEnded, DigitStarted
from media.dtmf.inband import DtmfDetectorBank
from media.dtmf.rfc4733 import EventPacket, TelephoneEventReceiver, schedule_digit
from media.dtmf.tones import ToneSender
from media.errors import MediaError, UnknownSession
from media.playback.player import PlaybackSource, Player
from media.rtp import MAX_PACKET_BYTES, is_rtcp, parse_rtcp, rtp_payload, rtp_problem
from media.transcode import OutPacket, PcmTap, StreamDecoder, Transcoder

SOURCE = "source"  # from an address the leg has not latched
NO_DESTINATION = "no_destination"  # the other phone's address is not known yet
RTCP_SOURCE = "rtcp_source"  # RTCP from a host other than the latched phone's
RTCP_MALFORMED = "rtcp_malformed"

_SEQ_TS = struct.Struct("!HI")  # sequence number and timestamp, at offset 2
_HEADER = struct.Struct("!BBHII")  # the fixed header: bytes 0 and 1, seq, ts, SSRC
PASS = 256  # byte-1 table entry: relay the packet unchanged
_DISARMED = None  # no 4-byte slice equals None: the fast path is off
MAX_DROPOUT = 3000  # RFC 3550 A.1: a jump further ahead starts a new stream
MAX_MISORDER = 100
TICK = 0.02  # the media tick: batched work (in-band DTMF detection) every 20 ms


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayConfig:
    inactivity_timeout: float = 60.0  # s without RTP on both legs before MediaTimeout
    relatch_silence: float = 1.0  # s the latched source must be silent for a takeover
    relatch_packets: int = 5  # consecutive packets a new source needs for a takeover
    relatch_window: float = 5.0  # s after a changed remote in which any source latches
    max_packet_bytes: int = MAX_PACKET_BYTES  # larger datagrams are dropped (oversize)


_TABLES: dict[tuple[tuple[tuple[int, int], ...], bool, int | None, bool], tuple[int, ...]] = {}
WATCHED = -2  # byte-1 table entry: take the slow path (a payload type the relay reads)
TRANSCODE = -3  # byte-1 table entry: straight to the transcoder


def byte1_table(pt_map: tuple[tuple[int, int], ...], passthrough: bool,
                watched: int | None = None, transcode: bool = False) -> tuple[int, ...]:
    """Output byte 1 for each input byte 1: marker kept, PT mapped; PASS if unchanged
    and the stream needs no other rewriting; -1 for RTCP packet types (RFC 5761);
    WATCHED for the `watched` payload type (telephone-events, read on the slow path);
    TRANSCODE for everything else when the stream is transcoded."""
    key = (pt_map, passthrough, watched, transcode)
    table = _TABLES.get(key)
    if table is None:
        mapping = dict(pt_map)
        entries = []
        for byte in range(256):
            if 192 <= byte <= 223:
                entries.append(-1)
                continue
            if byte & 0x7F == watched:
                entries.append(WATCHED)
                continue
            if transcode:
                entries.append(TRANSCODE)
                continue
            out = (byte & 0x80) | mapping.get(byte & 0x7F, byte & 0x7F)
            entries.append(PASS if passthrough and out == byte else out)
        table = tuple(entries)
        if len(_TABLES) >= 1024:
            _TABLES.clear()
        _TABLES[key] = table
    return table


class Leg:
    """One side of a session: the switch's ports towards one phone, and the stream
    that comes in from that phone (and goes out through the peer leg)."""

    __slots__ = (
        # read on every packet
        "fast_ssrc", "latched", "max_bytes", "b1map", "seq_off", "ts_off", "out_ssrc",
        "last_seen", "last_out", "packets", "octets", "forward_to",
        # stream changes and signalling
        "name", "session_id", "peer", "config", "rtp_port", "rtcp_port", "expected",
        "hold", "clock_rate", "pt_out", "stream_ssrc", "out_ssrc_bytes", "resync",
        "passthrough", "relatch_until", "candidate", "candidate_count", "latches",
        "streams", "drops", "drop_octets", "rtcp_drops",
        # RTCP from this leg's phone
        "rtcp_remote", "rtcp_packets", "sent_packets", "loss_fraction", "cumulative_lost",
        "jitter",
        # transcoding (packets received here decoded and re-encoded for the peer)
        "transcoder", "out_seq", "backlog", "schedule", "media", "io",
        # RFC 4733 events from this leg's phone, reported as DigitReceived
        "dtmf_pt", "dtmf_rx", "report",
        # the phone's decoded audio, for listeners (in-band DTMF, recording)
        "decoder", "taps", "inband_slot",
        # digits the switch sends towards the peer's phone (DTMF conversion)
        "tones", "tone_encoder", "events_out", "event_ts",
        # audio the switch plays to the peer's phone instead of this phone's (hold music)
        "player", "player_encoder", "player_pt", "player_seq0", "player_ts0",
        "play_id", "barge_in", "played_until",
    )

    def __init__(
        self, name: LegName, session_id: str, ports: tuple[int, int], config: RelayConfig,
        now: float,
    ) -> None:
        self.fast_ssrc: bytes | None = _DISARMED
        self.latched: Any = None  # the source address exactly as the socket reports it
        self.max_bytes = config.max_packet_bytes
        self.passthrough = True
        self.pt_out: tuple[tuple[int, int], ...] = ()  # the peer's pt_map
        self.dtmf_pt: int | None = None
        self.dtmf_rx: TelephoneEventReceiver | None = None
        self.report: Callable[[MediaEvent], None] | None = None  # set by RelayCore
        self.decoder: StreamDecoder | None = None
        self.taps: list[PcmTap] = []
        self.inband_slot: int | None = None
        self.tones: ToneSender | None = None  # in-band digits replacing relayed audio
        self.tone_encoder: Encoder | None = None
        self.events_out: deque[EventPacket] = deque()  # RFC 4733 packets still to send
        self.event_ts = 0  # timestamp of the event being sent
        self.player: Player | None = None
        self.player_encoder: Encoder | None = None
        self.player_pt = 0
        self.player_seq0 = 0  # sequence number and timestamp of the player's frame 0
        self.player_ts0 = 0
        self.play_id: str | None = None  # a prompt (reported when it ends); None: music
        self.barge_in = False  # a digit from the peer's phone stops the prompt
        self.played_until = -math.inf  # when the player last sent a packet
        self.b1map = byte1_table(self.pt_out, self.passthrough, self.dtmf_pt)
        self.seq_off = 0
        self.ts_off = 0
        self.out_ssrc = 0
        self.out_ssrc_bytes: bytes | None = None
        self.last_seen = now
        self.last_out: bytes | None = None
        self.packets = 0  # relayed to the peer
        self.octets = 0
        self.forward_to: Any = None  # where packets received here go: the peer's phone
        self.name = name
        self.session_id = session_id
        self.peer = self
        self.config = config
        self.rtp_port, self.rtcp_port = ports
        self.expected: Address | None = None
        self.hold = False
        self.clock_rate = 8000  # of the stream sent to this leg's phone
        self.stream_ssrc: bytes | None = None
        self.resync = False
        self.relatch_until = -math.inf
        self.candidate: Any = None
        self.candidate_count = 0
        self.latches = 0
        self.streams = 0
        self.drops: dict[str, int] = {}
        self.drop_octets = 0
        self.rtcp_drops: dict[str, int] = {}
        self.rtcp_remote: Any = None
        self.rtcp_packets = 0
        self.sent_packets: int | None = None
        self.loss_fraction: float | None = None
        self.cumulative_lost: int | None = None
        self.jitter: int | None = None
        self.transcoder: Transcoder | None = None
        self.out_seq = 0
        self.backlog: list[bytes] = []  # more packets to send after the one rtp() returned
        self.schedule: Callable[[float, Leg], None] | None = None  # set by RelayCore
        self.media: LegMedia | None = None  # the codecs this leg's phone negotiated
        self.io: Any = None  # the I/O layer's handle for sending (RtpPort)

    # -- the per-packet path ------------------------------------------------------------
    def rtp(self, data: bytes, addr: Any, now: float) -> bytes | None:
        """An RTP datagram from `addr` arrived on this leg's RTP port at `now`.

        Returns the datagram to send to `self.forward_to` through the peer leg's RTP
        port, or None (dropped and counted, or RTCP terminated).
        """
        if (
            data[8:12] == self.fast_ssrc  # implies at least 12 bytes
            and addr == self.latched
            and data[0] == 0x80
            and len(data) <= self.max_bytes
        ):
            b1 = self.b1map[data[1]]
            if b1 == PASS:
                self.last_seen = now
                self.last_out = data
                self.packets += 1
                self.octets += len(data)
                return data
            if b1 >= 0:
                seq, ts = _SEQ_TS.unpack_from(data, 2)
                out = _HEADER.pack(
                    0x80, b1, (seq + self.seq_off) & 0xFFFF, (ts + self.ts_off) & 0xFFFFFFFF,
                    self.out_ssrc,
                ) + data[12:]
                self.last_seen = now
                self.last_out = out
                self.packets += 1
                self.octets += len(data)
                return out
            if b1 == TRANSCODE:
                self.last_seen = now
                return self._transcode(data, now, data[12:])
        return self._rtp_slow(data, addr, now)

    def _rtp_slow(self, data: bytes, addr: Any, now: float) -> bytes | None:
        if is_rtcp(data):  # multiplexed on the RTP port (RFC 5761)
            self.rtcp(data, addr, now)
            return None
        problem = rtp_problem(data, self.max_bytes)
        if problem is not None:
            self._drop(problem, data)
            return None
        if addr != self.latched and not self._admit(addr, now):
            self._drop(SOURCE, data)
            return None
        ssrc = data[8:12]
        if ssrc != self.stream_ssrc or self.resync:
            self._new_stream(data, ssrc, now)
        self.last_seen = now
        if self.forward_to is None:
            self.fast_ssrc = _DISARMED
            self._drop(NO_DESTINATION, data)
            return None
        if self.dtmf_rx is not None and data[1] & 0x7F == self.dtmf_pt:
            self._telephone_event(data, now)
            peer_media = self.peer.media
            if peer_media is not None and peer_media.telephone_event is None:
                self._drop("dtmf_converted", data)  # the peer gets tones instead
                return None
        if self.player is not None:  # the peer hears what the switch plays instead
            self._drop("replaced", data)
            return None
        if self.transcoder is not None:
            self.fast_ssrc = ssrc
            return self._transcode(data, now, rtp_payload(data))
        if self.decoder is not None:  # someone listens: decode, then relay as it is
            self._listen(data, now)
        if self.tones is not None:
            data = self._tone_payload(data)
        elif self.decoder is None:
            self.fast_ssrc = ssrc
        b1 = self.b1map[data[1]]
        if b1 == WATCHED:  # read above; relayed like any other packet
            b1 = byte1_table(self.pt_out, self.passthrough)[data[1]]
        out = data
        if b1 != PASS:
            seq, ts = _SEQ_TS.unpack_from(data, 2)
            out = _HEADER.pack(
                data[0], b1, (seq + self.seq_off) & 0xFFFF, (ts + self.ts_off) & 0xFFFFFFFF,
                self.out_ssrc,
            ) + data[12:]
        self.last_out = out
        self.packets += 1
        self.octets += len(data)
        return out

    def _transcode(self, data: bytes, now: float, payload: bytes) -> bytes | None:
        """A packet of a transcoded stream: decoded, re-encoded for the peer."""
        transcoder = self.transcoder
        assert transcoder is not None
        seq, ts = _SEQ_TS.unpack_from(data, 2)
        if self.last_out is None:  # number the output like the input: fewer surprises
            self.out_seq = seq
        b1 = data[1]
        outputs = transcoder.push(seq, ts, b1 & 0x7F, b1 >= 0x80, payload, now)
        self.packets += 1
        self.octets += len(data)
        if self.schedule is not None and transcoder.get_timer() is not None:
            self.schedule(transcoder.get_timer(), self)  # type: ignore[arg-type]
        return self._emit(outputs)

    def _emit(self, outputs: list[OutPacket]) -> bytes | None:
        """Wrap transcoded payloads in this direction's header; the first is returned,
        the others wait in `backlog` for the I/O layer."""
        if not outputs:
            return None
        packets = []
        seq, ts_off, ssrc = self.out_seq, self.ts_off, self.out_ssrc
        for item in outputs:
            packets.append(_HEADER.pack(
                0x80, item.payload_type | (0x80 if item.marker else 0), seq,
                (item.timestamp + ts_off) & 0xFFFFFFFF, ssrc,
            ) + item.payload)
            seq = (seq + 1) & 0xFFFF
        self.out_seq = seq
        self.last_out = packets[-1]
        if len(packets) > 1:
            self.backlog.extend(packets[1:])
        return packets[0]

    def _listen(self, data: bytes, now: float) -> None:
        decoder = self.decoder
        assert decoder is not None
        seq, ts = _SEQ_TS.unpack_from(data, 2)
        b1 = data[1]
        decoder.push(seq, ts, b1 & 0x7F, b1 >= 0x80, rtp_payload(data), now)  # taps see it
        deadline = decoder.get_timer()
        if deadline is not None and self.schedule is not None:
            self.schedule(deadline, self)

    # -- digits the switch sends to the peer's phone (conversion between methods) ------
    def inject_digit(self, digit: str, duration_ms: int, now: float) -> None:
        """Send `digit` to the peer's phone the way it negotiated: RFC 4733 packets on
        its telephone-event type, else tones in place of the audio relayed to it."""
        peer_media = self.peer.media
        duration_ms = max(80, min(duration_ms or 100, 2000))
        if peer_media is not None and peer_media.telephone_event is not None:
            start = max(now, self.events_out[-1].send_at + 0.02) if self.events_out else now
            self.events_out.extend(schedule_digit(digit, duration_ms, start=start))
            if self.schedule is not None:
                self.schedule(self.events_out[0].send_at, self)
        elif self.transcoder is not None:
            self.transcoder.tones.send(digit, duration_ms)
        elif peer_media is not None:
            if self.tones is None:
                self.tones = ToneSender()
                self.tone_encoder = registry.encoder(peer_media.codec)
            self.tones.send(digit, duration_ms)
            self._resync()  # the slow path replaces the audio while the tone plays

    def _tone_payload(self, data: bytes) -> bytes:
        """Relayed audio with its payload replaced by the tone being sent."""
        tones, encoder = self.tones, self.tone_encoder
        assert tones is not None and encoder is not None
        payload = rtp_payload(data)
        samples = len(payload) * (8 if encoder.name == "G729" else 1)
        if encoder.name == "G729":
            samples -= samples % 80
        if samples <= 0:  # nothing to replace (an empty or a SID-only payload)
            return data
        frame = tones.frame(samples)
        if not tones.active():
            self.tones = self.tone_encoder = None  # done: back to the fast path
        if frame is None or not len(frame):
            return data
        # The fixed header only (no CSRCs, extension or padding): the payload is ours.
        return b"\x80" + data[1:12] + encoder.encode(frame)

    # -- audio the switch plays to the peer's phone -------------------------------------
    def play(self, source: PlaybackSource, now: float, *, play_id: str | None = None,
             barge_in: bool = False) -> bool:
        """Play `source` to the peer's phone, in its codec, numbered on from what it got
        last; what this phone sends is not relayed meanwhile. `play_id`: report the end
        (PlaybackFinished); `barge_in`: a digit from the peer's phone stops it. False if
        the peer's codec is unknown (nothing to encode with)."""
        peer_media = self.peer.media
        if peer_media is None:
            return False
        if self.player is not None:
            self.stop_playing(interrupted=True)
        self.player = Player(source, now)
        self.play_id = play_id
        self.barge_in = barge_in
        self.player_encoder = registry.encoder(peer_media.codec)
        self.player_pt = peer_media.payload_type
        last = self.last_out
        if last is not None:
            last_seq, last_ts = _SEQ_TS.unpack_from(last, 2)
            elapsed = max(0.0, now - max(self.last_seen, self.played_until))
            self.player_seq0 = (last_seq + 1) & 0xFFFF
            self.player_ts0 = (last_ts + 160 + round(elapsed * self.peer.clock_rate)) & 0xFFFFFFFF
        else:  # the peer has had nothing yet: this starts the direction's stream
            ssrc = int.from_bytes(os.urandom(4), "big")
            self.out_ssrc, self.out_ssrc_bytes = ssrc, ssrc.to_bytes(4, "big")
            self.player_seq0 = int.from_bytes(os.urandom(2), "big")
            self.player_ts0 = int.from_bytes(os.urandom(4), "big")
        self._resync()
        if self.schedule is not None:
            self.schedule(now, self)
        return True

    def stop_playing(self, *, interrupted: bool = True) -> None:
        if self.player is None:
            return
        self.player = self.player_encoder = None
        # The phone's own stream goes on after the player's packets: forgetting its
        # SSRC makes the next packet compute fresh offsets from the last one sent.
        self.stream_ssrc = None
        self._resync()
        play_id, self.play_id = self.play_id, None
        if play_id is not None and self.report is not None:
            self.report(PlaybackFinished(session_id=self.session_id, leg=self.peer.name,
                                         play_id=play_id, interrupted=interrupted))

    def _played_packets(self, now: float) -> list[bytes]:
        player, encoder = self.player, self.player_encoder
        assert player is not None and encoder is not None
        packets = []
        for frame in player.handle_timer(now):
            seq = (self.player_seq0 + frame.index) & 0xFFFF
            ts = (self.player_ts0 + 160 * frame.index) & 0xFFFFFFFF
            marker = 0x80 if frame.index == 0 else 0
            packet = _HEADER.pack(0x80, self.player_pt | marker, seq, ts, self.out_ssrc)
            packets.append(packet + encoder.encode(frame.pcm))
        if packets:
            self.last_out = packets[-1]
            self.played_until = now
            self.out_seq = (_SEQ_TS.unpack_from(packets[-1], 2)[0] + 1) & 0xFFFF
        deadline = player.get_timer()
        if deadline is None:
            self.stop_playing(interrupted=player.state == "interrupted")
        elif self.schedule is not None:
            self.schedule(deadline, self)
        return packets

    def _event_packets(self, now: float) -> list[bytes]:
        """The RFC 4733 packets due now, numbered into the stream towards the peer."""
        queue = self.events_out
        peer_media = self.peer.media
        packets: list[bytes] = []
        if peer_media is None or peer_media.telephone_event is None:
            queue.clear()
            return packets
        while queue and queue[0].send_at <= now:
            item = queue.popleft()
            last = self.last_out
            if last is None:  # nothing relayed to the peer yet: no stream to join
                continue
            last_seq, last_ts = _SEQ_TS.unpack_from(last, 2)
            if item.marker:  # a new event: its timestamp is the stream's "now"
                elapsed = max(0.0, now - self.last_seen)
                self.event_ts = (last_ts + round(elapsed * self.peer.clock_rate)) & 0xFFFFFFFF
            seq = (last_seq + 1) & 0xFFFF
            packet = _HEADER.pack(
                0x80, peer_media.telephone_event | (0x80 if item.marker else 0), seq,
                (self.event_ts + item.timestamp_offset) & 0xFFFFFFFF, self.out_ssrc,
            ) + item.payload
            # The relayed packets that follow continue after this one.
            if self.transcoder is not None:
                self.out_seq = (seq + 1) & 0xFFFF
            else:
                self.seq_off = (self.seq_off + 1) & 0xFFFF
                if self.passthrough:
                    self.passthrough = False
                    self.refresh_table()
            self.last_out = packet
            packets.append(packet)
        if queue and self.schedule is not None:
            self.schedule(queue[0].send_at, self)
        return packets

    def _telephone_event(self, data: bytes, now: float) -> None:
        rx = self.dtmf_rx
        assert rx is not None
        seq, ts = _SEQ_TS.unpack_from(data, 2)
        self._digits(rx.receive(rtp_payload(data), ts, seq, data[1] >= 0x80, now))
        deadline = rx.get_timer()
        if deadline is not None and self.schedule is not None:
            self.schedule(deadline, self)

    def _digits(self, events: list[DigitStarted | DigitEnded]) -> None:
        report = self.report
        if report is None:
            return
        for event in events:
            self.barge(event)
            if isinstance(event, DigitEnded):
                report(DigitReceived(session_id=self.session_id, leg=self.name,
                                     digit=event.digit, at=event.at,
                                     duration_ms=event.duration_ms, source="rfc4733"))
                peer_media = self.peer.media
                if peer_media is not None and peer_media.telephone_event is None:
                    self.inject_digit(event.digit, event.duration_ms, event.at)

    def barge(self, event: DigitStarted | DigitEnded) -> None:
        """A digit from this leg's phone stops a prompt played to it (if allowed)."""
        peer = self.peer
        if peer.player is not None and peer.barge_in:
            peer.stop_playing(interrupted=True)

    def on_timer(self, now: float) -> list[bytes]:
        """A deadline this leg asked for passed: a reordering gap to give up on (conceal
        the loss and go on: the packets to send now), a telephone-event whose end never
        came."""
        packets: list[bytes] = self._event_packets(now) if self.events_out else []
        if self.player is not None and (self.player.get_timer() or 0.0) <= now:
            packets += self._played_packets(now)
        transcoder = self.transcoder
        if transcoder is not None:
            first = self._emit(transcoder.handle_timer(now))
            if first is not None:
                packets += [first, *self.backlog]
                self.backlog.clear()
            deadline = transcoder.get_timer()
            if deadline is not None and self.schedule is not None:
                self.schedule(deadline, self)
        elif self.decoder is not None:
            self.decoder.handle_timer(now)  # a gap given up on: concealed for the taps
            deadline = self.decoder.get_timer()
            if deadline is not None and self.schedule is not None:
                self.schedule(deadline, self)
        rx = self.dtmf_rx
        if rx is not None and rx.get_timer() is not None:
            self._digits(rx.handle_timer(now))
            deadline = rx.get_timer()
            if deadline is not None and self.schedule is not None:
                self.schedule(deadline, self)
        return packets

    def refresh_table(self) -> None:
        """Rebuild the byte-1 table after a change of mapping, passthrough, watched
        telephone-event type or transcoding."""
        self.b1map = byte1_table(self.pt_out, self.passthrough, self.dtmf_pt,
                                 self.transcoder is not None)

    def wire_decoder(self) -> None:
        """After a codec or listener change: decode this leg's audio if the transcoder
        or a listener needs it, and point the listeners at the decoder that does."""
        media = self.media
        if self.transcoder is not None:
            self.decoder = self.transcoder.decoder
        elif self.taps and media is not None:
            if self.decoder is None or self.decoder.taps is not self.taps:
                self.decoder = StreamDecoder(decode=dict(media.decode) or {
                    media.payload_type: media.codec}, dtmf_pt=media.telephone_event)
        else:
            self.decoder = None
        if self.decoder is not None:
            self.decoder.taps = self.taps
        self._resync()

    def set_telephone_event(self, pt: int | None) -> None:
        """Read this phone's RFC 4733 events on payload type `pt` (None: stop)."""
        if pt == self.dtmf_pt:
            return
        self.dtmf_pt = pt
        self.dtmf_rx = None if pt is None else TelephoneEventReceiver(clock_rate=8000)
        self.refresh_table()

    def _drop(self, reason: str, data: bytes) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        self.drop_octets += len(data)

    def unsent(self, data: bytes, reason: str) -> None:
        """The I/O layer could not send what `rtp()` returned for `data`: count it as a
        drop instead of a relayed packet."""
        self.packets -= 1
        self.octets -= len(data)
        self._drop(reason, data)

    def _drop_rtcp(self, reason: str) -> None:
        self.rtcp_drops[reason] = self.rtcp_drops.get(reason, 0) + 1

    def _admit(self, addr: Any, now: float) -> bool:
        """The latching rules (module docstring): may `addr` become the latched source?"""
        if self.latched is None or now < self.relatch_until:
            self._latch(addr)
            return True
        if addr == self.candidate:
            self.candidate_count += 1
        else:
            self.candidate = addr
            self.candidate_count = 1
        config = self.config
        if (self.candidate_count >= config.relatch_packets
                and now - self.last_seen >= config.relatch_silence):
            self._latch(addr)
            return True
        return False

    def _latch(self, addr: Any) -> None:
        self.latched = addr
        self.candidate = None
        self.candidate_count = 0
        self.relatch_until = -math.inf
        self.latches += 1
        self._resync()
        self.peer.forward_to = addr

    def _resync(self) -> None:
        """Check the next packet for a stream restart before relaying on the fast path."""
        self.resync = True
        self.fast_ssrc = _DISARMED

    def _new_stream(self, data: bytes, ssrc: bytes, now: float) -> None:
        seq, ts = _SEQ_TS.unpack_from(data, 2)
        last = self.last_out
        if self.out_ssrc_bytes is None:  # the direction's first stream: relayed as is
            self.out_ssrc_bytes = ssrc
            self.out_ssrc = int.from_bytes(ssrc, "big")
            self.seq_off = self.ts_off = 0
            self.streams = 1
        elif last is not None:
            last_seq, last_ts = _SEQ_TS.unpack_from(last, 2)
            ahead = (seq + self.seq_off - last_seq) & 0xFFFF
            continues = ssrc == self.stream_ssrc and (
                ahead <= MAX_DROPOUT or ahead >= 0x10000 - MAX_MISORDER
            )
            if not continues:
                since = max(self.last_seen, self.played_until)
                gap = max(1, round((now - since) * self.peer.clock_rate))
                self.seq_off = (last_seq + 1 - seq) & 0xFFFF
                self.ts_off = (last_ts + gap - ts) & 0xFFFFFFFF
                self.streams += 1
        if self.transcoder is not None:
            self.transcoder.reset()
        self.stream_ssrc = ssrc
        self.resync = False
        passthrough = ssrc == self.out_ssrc_bytes and self.seq_off == 0 and self.ts_off == 0
        if passthrough != self.passthrough:
            self.passthrough = passthrough
            self.refresh_table()

    # -- RTCP -----------------------------------------------------------------------------
    def rtcp(self, data: bytes, addr: Any, now: float) -> None:
        """An RTCP datagram arrived from `addr`: read it for statistics, never relay it."""
        latched = self.latched
        if latched is not None and addr[0] != latched[0]:
            self._drop_rtcp(RTCP_SOURCE)
            return
        report = parse_rtcp(data)
        if report is None:
            self._drop_rtcp(RTCP_MALFORMED)
            return
        self.rtcp_remote = addr
        self.rtcp_packets += 1
        if report.sender_packets is not None:
            self.sent_packets = report.sender_packets
        if report.blocks:
            ours = self.peer.out_ssrc  # the SSRC this phone receives from the switch
            block = next((b for b in report.blocks if b.ssrc == ours), report.blocks[0])
            self.loss_fraction = block.fraction_lost
            self.cumulative_lost = block.cumulative_lost
            self.jitter = block.jitter

    # -- signalling -----------------------------------------------------------------------
    def _update(
        self, remote: Address | None, pt_map: tuple[tuple[int, int], ...], hold: bool,
        clock_rate: int, now: float,
    ) -> None:
        previous = self.expected
        self.expected = remote
        if (remote is not None and previous is not None and remote != previous
                and self.latched is not None and tuple(self.latched[:2]) != remote):
            self.relatch_until = now + self.config.relatch_window
        self._resync()  # a re-INVITE is when phones restart their streams
        self.hold = hold
        self.clock_rate = clock_rate
        peer = self.peer
        if peer.pt_out != pt_map:
            peer.pt_out = pt_map
            peer.refresh_table()
        if self.latched is None:
            peer.forward_to = remote
            if remote is None:
                peer.fast_ssrc = _DISARMED

    def relayed(self) -> tuple[int, int]:
        """Packets and octets received here and relayed to the peer's phone."""
        return self.packets, self.octets

    def stats(self) -> LegStats:
        jitter_ms = None if self.jitter is None else 1000.0 * self.jitter / self.clock_rate
        packets, octets = self.relayed()
        packets_out, octets_out = self.peer.relayed()
        return LegStats(
            packets_in=packets + sum(self.drops.values()),
            bytes_in=octets + self.drop_octets,
            packets_out=packets_out,
            bytes_out=octets_out,
            drops={**self.drops, **self.rtcp_drops},
            remote=None if self.latched is None else (self.latched[0], self.latched[1]),
            rtcp_packets=self.rtcp_packets,
            sent_packets=self.sent_packets,
            loss_fraction=self.loss_fraction,
            cumulative_lost=self.cumulative_lost,
            jitter_ms=jitter_ms,
        )


class RelaySession:
    __slots__ = ("session_id", "a", "b", "since", "reported", "recheck")

    def __init__(
        self, session_id: str, a_ports: tuple[int, int], b_ports: tuple[int, int],
        config: RelayConfig, now: float, leg_type: type[Leg] = Leg,
    ) -> None:
        self.session_id = session_id
        self.a = leg_type("a", session_id, a_ports, config, now)
        self.b = leg_type("b", session_id, b_ports, config, now)
        self.a.peer, self.b.peer = self.b, self.a
        self.since = now  # the last create/update: floor of the activity time
        self.reported = -math.inf  # activity time of the last MediaTimeout
        self.recheck = math.inf

    def leg(self, name: LegName) -> Leg:
        if name == "a":
            return self.a
        if name == "b":
            return self.b
        raise MediaError(f"no leg {name!r}: legs are 'a' and 'b'")

    @property
    def held(self) -> bool:
        return self.a.hold or self.b.hold

    def activity(self) -> float:
        """When RTP was last accepted from either leg (or the session last signalled)."""
        return max(self.since, self.a.last_seen, self.b.last_seen)

    def deadline(self, timeout: float) -> float | None:
        if self.held:
            return None
        activity = self.activity()
        if activity > self.reported:
            return activity + timeout
        return self.recheck  # reported already: look again later for renewed activity

    def stats(self) -> SessionStats:
        return SessionStats(session_id=self.session_id, a=self.a.stats(), b=self.b.stats())


def _numeric(remote: Address) -> Address | None:
    """The address as the sockets will report it; names are refused (no DNS per packet).
    "Send me nothing" in SDP terms (0.0.0.0, ::, port 0) is no address: None."""
    try:
        address = ipaddress.ip_address(remote[0])
        port = int(remote[1])
    except (ValueError, TypeError, IndexError):
        raise MediaError(f"remote media address must be numeric: {remote!r}") from None
    if not 0 <= port < 65536:
        raise MediaError(f"bad remote media port: {remote!r}")
    if port == 0 or address.is_unspecified:
        return None
    return (str(address), port)


class RelayCore:
    """All relay sessions of the process, their timers and their events."""

    def __init__(self, config: RelayConfig | None = None, *,
                 leg_type: type[Leg] = Leg) -> None:
        """leg_type: the class of the legs (`media.fastpath.leg.FastLeg` mirrors the
        fast-path state into the C data plane)."""
        self.config = config or RelayConfig()
        self.leg_type = leg_type
        self.sessions: dict[str, RelaySession] = {}
        self._deadline: float | None = None  # a lower bound of the earliest real deadline
        self._events: list[MediaEvent] = []
        # Reordering gaps of transcoded streams waiting to be given up on: (when, n, leg).
        self._gaps: list[tuple[float, int, Leg]] = []
        self._gap_order = itertools.count()
        self._sends: list[tuple[Leg, bytes]] = []  # timer output: (receiving leg, packet)
        self.inband = DtmfDetectorBank(16)
        self._inband_legs: dict[int, Leg] = {}  # detector slot -> the leg it listens to
        self._tick_at: float | None = None
        # Called when a packet made `get_timer()` earlier (the I/O layer re-arms).
        self.on_timer_change: Callable[[], None] | None = None
        # Called when a packet produced an event (the I/O layer drains them soon).
        self.on_event: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self.sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self.sessions

    def create(
        self, session_id: str, now: float, *, a_ports: tuple[int, int],
        b_ports: tuple[int, int],
    ) -> RelaySession:
        if session_id in self.sessions:
            raise MediaError(f"media session {session_id!r} exists already")
        session = RelaySession(session_id, a_ports, b_ports, self.config, now, self.leg_type)
        session.a.schedule = session.b.schedule = self._schedule
        session.a.report = session.b.report = self._report
        self.sessions[session_id] = session
        self._lower(now + self.config.inactivity_timeout)
        return session

    def get(self, session_id: str) -> RelaySession:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise UnknownSession(f"no media session {session_id!r}") from None

    def update(
        self, session_id: str, leg: LegName, now: float, *, remote: Address | None,
        pt_map: Mapping[int, int] | None = None, hold: bool = False, clock_rate: int = 8000,
        media: LegMedia | None = None,
    ) -> None:
        """Apply one leg's negotiated state (see `MediaBackend.update`)."""
        session = self.get(session_id)
        target = session.leg(leg)
        pairs = tuple(sorted((pt_map or {}).items()))
        for pt_in, pt_out in pairs:
            if not (0 <= pt_in <= 127 and 0 <= pt_out <= 127):
                raise MediaError(f"payload types must be 0-127, got {pt_in}->{pt_out}")
        if clock_rate <= 0:
            raise MediaError(f"clock rate must be positive, got {clock_rate}")
        if remote is not None:
            remote = _numeric(remote)
        target._update(remote, tuple(p for p in pairs if p[0] != p[1]), hold, clock_rate, now)
        if media != target.media:
            target.media = media
            target.set_telephone_event(None if media is None else media.telephone_event)
            _plan_transcoding(session)
            for each in (session.a, session.b):
                self._plan_inband(each)
                each.wire_decoder()
        session.since = max(session.since, now)
        if not session.held:
            self._lower(now + self.config.inactivity_timeout)

    def listen(self, session_id: str, leg: LegName, tap: PcmTap) -> None:
        """Hand the decoded audio of the phone on `leg` to `tap(timestamp, pcm, now)`, in
        order with losses concealed (recording, analysis). The leg leaves the fast path
        while anyone listens."""
        target = self.get(session_id).leg(leg)
        target.taps.append(tap)
        target.wire_decoder()

    def unlisten(self, session_id: str, leg: LegName, tap: PcmTap) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        target = session.leg(leg)
        target.taps[:] = [t for t in target.taps if t is not tap]
        target.wire_decoder()

    def play(self, session_id: str, leg: LegName, source: PlaybackSource, now: float, *,
             play_id: str | None = None, barge_in: bool = False) -> bool:
        """Play `source` to the phone on `leg` (prompts, hold music), replacing the other
        phone's audio until it ends or `stop_playing`; False if that leg's codec is not
        known. With `play_id` its end is reported (`PlaybackFinished`)."""
        peer = self.get(session_id).leg(leg).peer
        return peer.play(source, now, play_id=play_id, barge_in=barge_in)

    def playing_music(self, session_id: str, leg: LegName) -> bool:
        """Whether looped audio without an id (hold music) plays to that leg now."""
        session = self.sessions.get(session_id)
        if session is None:
            return False
        peer = session.leg(leg).peer
        return peer.player is not None and peer.play_id is None

    def stop_playing(self, session_id: str, leg: LegName) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.leg(leg).peer.stop_playing(interrupted=True)

    def send_digit(self, session_id: str, leg: LegName, digit: str, duration_ms: int,
                   now: float) -> None:
        """Send a digit to the phone on `leg` the way it negotiated (RFC 4733 or tones):
        e.g. one the other phone sent by SIP INFO."""
        session = self.get(session_id)
        target = session.leg(leg)
        target.peer.inject_digit(digit, duration_ms, now)

    def delete(self, session_id: str) -> SessionStats | None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return None
        for leg in (session.a, session.b):
            leg.transcoder = leg.decoder = leg.player = None  # no more timer work
            if leg.inband_slot is not None:
                self._inband_legs.pop(leg.inband_slot, None)
                self.inband.close(leg.inband_slot)
                leg.inband_slot = None
        return session.stats()

    def stats(self, session_id: str) -> SessionStats | None:
        session = self.sessions.get(session_id)
        return None if session is None else session.stats()

    # -- timers and events ----------------------------------------------------------------
    def _lower(self, deadline: float) -> None:
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline

    # -- in-band DTMF -----------------------------------------------------------------
    def _plan_inband(self, leg: Leg) -> None:
        """Phones that negotiated no telephone-event send their digits as tones: listen
        to their audio with the detector bank (never both ways, or digits would count
        twice)."""
        media = leg.media
        wanted = media is not None and media.telephone_event is None
        if wanted and leg.inband_slot is None:
            slot = leg.inband_slot = self.inband.open()
            self._inband_legs[slot] = leg
            bank = self.inband
            leg.taps.append(_InbandTap(bank, slot))
        elif not wanted and leg.inband_slot is not None:
            slot = leg.inband_slot
            self._inband_legs.pop(slot, None)
            self.inband.close(slot)
            leg.taps[:] = [t for t in leg.taps if not isinstance(t, _InbandTap)]
            leg.inband_slot = None
        if self._inband_legs and self._tick_at is None:
            self._tick_at = 0.0  # tick at the next chance

    def _tick(self, now: float) -> None:
        """The batched 20 ms media tick: analyse every listened leg's audio at once."""
        for slot, event in self.inband.run():
            leg = self._inband_legs.get(slot)
            if leg is not None:
                leg.barge(event)
            if leg is not None and isinstance(event, DigitEnded) and leg.report is not None:
                leg.report(DigitReceived(session_id=leg.session_id, leg=leg.name,
                                         digit=event.digit, at=event.at,
                                         duration_ms=event.duration_ms, source="inband"))
                peer_media = leg.peer.media
                if (leg.transcoder is not None and peer_media is not None
                        and peer_media.telephone_event is not None):
                    # The tones reach the peer through a codec that may bend them (G.729):
                    # send the digit as an event too, as the peer negotiated.
                    leg.inject_digit(event.digit, event.duration_ms, now)
        self._tick_at = now + TICK if self._inband_legs else None

    def _report(self, event: MediaEvent) -> None:
        self._events.append(event)
        if self.on_event is not None:
            self.on_event()

    def _schedule(self, deadline: float, leg: Leg) -> None:
        gaps = self._gaps
        earliest = gaps[0][0] if gaps else math.inf
        heapq.heappush(gaps, (deadline, next(self._gap_order), leg))
        if deadline < earliest and self.on_timer_change is not None:
            self.on_timer_change()

    def get_timer(self) -> float | None:
        """When to call `handle_timer` next (possibly early, never late); None: idle."""
        candidates = [t for t in (self._deadline, self._tick_at) if t is not None]
        if self._gaps:
            candidates.append(self._gaps[0][0])
        return min(candidates) if candidates else None

    def handle_timer(self, now: float) -> None:
        if self._tick_at is not None and now >= self._tick_at:
            self._tick(now)
        gaps = self._gaps
        while gaps and gaps[0][0] <= now:
            _, _, leg = heapq.heappop(gaps)
            for packet in leg.on_timer(now):
                self._sends.append((leg, packet))
        if self._deadline is None or now < self._deadline:
            return
        timeout = self.config.inactivity_timeout
        earliest: float | None = None
        for session in self.sessions.values():
            deadline = session.deadline(timeout)
            if deadline is None:
                continue
            if deadline <= now:
                activity = session.activity()
                if activity > session.reported:
                    idle = max(now - activity, timeout)  # not a rounding error below it
                    self._events.append(MediaTimeout(session_id=session.session_id, idle_s=idle))
                    session.reported = activity
                session.recheck = deadline = now + timeout
            if earliest is None or deadline < earliest:
                earliest = deadline
        self._deadline = earliest

    def drain(self) -> list[MediaEvent]:
        events, self._events = self._events, []
        return events

    def drain_sends(self) -> list[tuple[Leg, bytes]]:
        """Packets `handle_timer` produced: send each to `leg.forward_to` through the
        peer leg's RTP port (like what `leg.rtp()` returns)."""
        sends, self._sends = self._sends, []
        return sends


class _InbandTap:
    """Feeds a leg's decoded audio to its slot of the in-band DTMF detector bank."""

    __slots__ = ("bank", "slot")

    def __init__(self, bank: DtmfDetectorBank, slot: int) -> None:
        self.bank = bank
        self.slot = slot

    def __call__(self, timestamp: int, pcm: Pcm, now: float) -> None:
        self.bank.push(self.slot, pcm, now)


def _plan_transcoding(session: RelaySession) -> None:
    """Install or remove the transcoders of both directions after a codec change."""
    a, b = session.a, session.b
    if a.media is None or b.media is None or a.media.codec.upper() == b.media.codec.upper():
        for leg in (a, b):
            if leg.transcoder is not None:
                leg.transcoder = None
                leg.refresh_table()
                leg._resync()
        return
    for source, target in ((a, b), (b, a)):
        source_media, target_media = source.media, target.media
        assert source_media is not None and target_media is not None
        decode = dict(source_media.decode) or {source_media.payload_type: source_media.codec}
        source.transcoder = Transcoder(
            decode=decode, encode=target_media.codec, out_pt=target_media.payload_type,
            dtmf_in=source_media.telephone_event, dtmf_out=target_media.telephone_event,
        )
        source.refresh_table()
        source._resync()
