"""RFC 4733 telephone-events: the payload format, a receiver and a sender (sans-I/O).

Receiver theory of operation
----------------------------
An event (one key press) is identified by the RTP timestamp of its packets: all the
packets of one event carry the timestamp of its start, a growing duration, and the
last ones the E (end) bit, sent three times for robustness. `TelephoneEventReceiver`
keeps, per RTP stream, the event in progress and the timestamps of recently finished
ones:

- the first packet seen of a new timestamp starts an event and reports `DigitStarted`
  at once, even if it is not the marker packet (the first packets may be lost) — the
  onset is estimated as arrival time minus the duration already elapsed;
- packets of the current event raise its duration (reordered updates cannot lower it);
- the first E packet reports `DigitEnded`; the redundant E packets and any reordered
  update that arrives after them hit the "recently ended" set and are dropped;
- a packet with a newer timestamp while an event is open means the end packets of the
  open one were lost (or are late): the open event ends with its last duration and
  `end_seen=False`, then the new one starts; packets older than the newest known
  event are late and dropped;
- an event whose packets stop arriving is closed by the timer after `max_silence`
  (`get_timer` / `handle_timer`), again with `end_seen=False`;
- long events (duration field overflow at 0xFFFF) continue in a new segment whose
  timestamp is the old one + 0xFFFF; a segment of the same digit that follows on is
  merged, not reported as a new press.

Malformed payloads never raise: they are counted in `stats` under a reason
(`short`, `length`, `unsupported-event`, `event-changed`) and ignored.

Sender
------
`schedule_digit` turns one digit into the packet train on the ptime grid (marker on the
first, one timestamp for the whole event, growing duration, the end packet sent
`end_repeats` times); `TelephoneEventSender` queues digits for one stream so that they
never overlap and tells the relay when audio must be suppressed. The relay wraps each
`EventPacket` in RTP with its own sequence numbers, SSRC and payload type: the RTP
timestamp is the stream's timestamp at `event_start` plus `timestamp_offset`.
"""

from __future__ import annotations

import math
import struct
from collections import Counter, deque
from dataclasses import dataclass

from media.dtmf.errors import DtmfValueError
from media.dtmf.events import DigitEnded, DigitEvent, DigitStarted
from media.dtmf.tones import digit_to_event, event_to_digit

_PAYLOAD = struct.Struct("!BBH")
MAX_DURATION = 0xFFFF  # the 16-bit duration field; longer events are segmented
_TS_MOD = 1 << 32
_HALF = 1 << 31

# Reasons a payload (or a block of one) is ignored, as counted in `stats`.
SHORT = "short"  # fewer than 4 bytes
LENGTH = "length"  # not a whole number of 4-byte blocks
UNSUPPORTED = "unsupported-event"  # an event code that is not a DTMF digit (flash, tones)
CHANGED = "event-changed"  # same timestamp as the open event but another digit


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One 4-byte block of a telephone-event payload."""

    event: int  # 0-255; 0-15 are DTMF digits
    end: bool
    volume: int  # 0-63: the power level in -dBm0
    duration: int  # in RTP timestamp units, since the event (segment) began


def parse_payload(payload: bytes) -> list[TelephoneEvent] | str:
    """The blocks of a telephone-event payload, or the reason it is malformed."""
    n = len(payload)
    if n < 4:
        return SHORT
    if n % 4:
        return LENGTH
    out = []
    for off in range(0, n, 4):
        event, flags, duration = _PAYLOAD.unpack_from(payload, off)
        out.append(TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration))
    return out


def build_payload(event: int, duration: int, *, end: bool = False, volume: int = 10) -> bytes:
    """One 4-byte telephone-event block (the R bit is always 0)."""
    if not 0 <= event <= 255 or not 0 <= volume <= 63 or not 0 <= duration <= MAX_DURATION:
        raise DtmfValueError(f"bad telephone-event: {event=} {volume=} {duration=}")
    return _PAYLOAD.pack(event, (0x80 if end else 0) | volume, duration)


def _newer(a: int, b: int) -> bool:
    """RTP timestamp `a` is later than `b` (serial number arithmetic, RFC 1982)."""
    return a != b and ((a - b) % _TS_MOD) < _HALF


class _Open:
    """The event in progress."""

    __slots__ = ("digit", "timestamp", "first_ts", "base", "duration", "at", "last_seen",
                 "volume")

    def __init__(self, digit: str, timestamp: int, duration: int, at: float, now: float,
                 volume: int) -> None:
        self.digit = digit
        self.timestamp = timestamp  # of the current segment
        self.first_ts = timestamp  # of the first segment: the event's identity
        self.base = 0  # duration of the finished segments
        self.duration = duration  # the largest seen in the current segment
        self.at = at
        self.last_seen = now
        self.volume = volume


class TelephoneEventReceiver:
    """Digits from the telephone-event packets of one RTP stream (one SSRC).

    Call `receive` for every packet whose payload type is the negotiated
    telephone-event type; it returns the digit events the packet causes. Call
    `handle_timer(now)` when `get_timer()` is due. Create a new receiver (or call
    `close`) when the stream's SSRC changes.
    """

    def __init__(self, *, clock_rate: int = 8000, max_silence: float = 0.5,
                 history: int = 16) -> None:
        if clock_rate <= 0 or max_silence <= 0 or history < 1:
            raise DtmfValueError("clock_rate, max_silence and history must be positive")
        self.clock_rate = clock_rate
        self.max_silence = max_silence
        self.stats: Counter[str] = Counter()
        self._open: _Open | None = None
        self._ended: deque[tuple[int, str]] = deque(maxlen=history)  # (timestamp, digit)
        self._newest: int | None = None  # newest event timestamp seen
        self._seq: int | None = None  # highest sequence number seen (for stats only)

    # -- inputs -------------------------------------------------------------------------

    def receive(self, payload: bytes, timestamp: int, seq: int, marker: bool,
                now: float) -> list[DigitEvent]:
        """Feed one packet's payload with its RTP timestamp, sequence number, marker bit
        and arrival time. `seq` only feeds the `reordered` counter and `marker` is not
        needed: events are identified by timestamp, which survives the loss of the
        marker packet and any reordering."""
        self.stats["packets"] += 1
        seq &= 0xFFFF
        if self._seq is not None and seq != self._seq and (seq - self._seq) & 0x8000:
            self.stats["reordered"] += 1  # arrived after a later packet: handled by timestamp
        else:
            self._seq = seq
        blocks = parse_payload(payload)
        if isinstance(blocks, str):
            self.stats[blocks] += 1
            return []
        out: list[DigitEvent] = []
        ts = timestamp % _TS_MOD
        for block in blocks:
            # RFC 4733 §2.5.1.5: several events in one packet follow each other; each
            # starts where the previous one's duration ended.
            self._block(block, ts, now, out)
            ts = (ts + block.duration) % _TS_MOD
        return out

    def get_timer(self) -> float | None:
        """When the open event is declared over if nothing more arrives."""
        return None if self._open is None else self._open.last_seen + self.max_silence

    def handle_timer(self, now: float) -> list[DigitEvent]:
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return []
        self.stats["timeouts"] += 1
        return [self._finish(end_seen=False)]

    def close(self, now: float) -> list[DigitEvent]:
        """The stream is going away: end the open event, if any, as it stands."""
        return [] if self._open is None else [self._finish(end_seen=False)]

    # -- the state machine ----------------------------------------------------------------

    def _block(self, block: TelephoneEvent, ts: int, now: float, out: list[DigitEvent]) -> None:
        digit = event_to_digit(block.event)
        if digit is None:
            self.stats[UNSUPPORTED] += 1
            return
        cur = self._open
        if cur is not None and ts == cur.timestamp:
            if digit != cur.digit:
                self.stats[CHANGED] += 1
                return
            cur.duration = max(cur.duration, block.duration)
            cur.last_seen = now
            if block.end:
                out.append(self._finish(end_seen=True))
            return
        for old_ts, old_digit in self._ended:
            if old_ts == ts and old_digit == digit:
                self.stats["duplicates"] += 1  # the redundant end packets, late updates
                return
        if self._newest is not None and not _newer(ts, self._newest) and ts != self._newest:
            self.stats["late"] += 1  # an event older than one already seen
            return
        if cur is not None:
            if (digit == cur.digit and cur.duration >= MAX_DURATION - 0x100
                    and abs((ts - cur.timestamp) % _TS_MOD - MAX_DURATION) <= 0x100):
                # the next segment of a long event
                cur.base += (ts - cur.timestamp) % _TS_MOD
                cur.timestamp = ts
                cur.duration = block.duration
                cur.last_seen = now
                self._newest = ts
                if block.end:
                    out.append(self._finish(end_seen=True))
                return
            self.stats["superseded"] += 1  # its end packets were lost or are late
            out.append(self._finish(end_seen=False))
        self._newest = ts
        at = now - block.duration / self.clock_rate
        self._open = _Open(digit, ts, block.duration, at, now, block.volume)
        self.stats["digits"] += 1
        out.append(DigitStarted(digit=digit, at=at, source="rfc4733",
                                volume_dbm0=-float(block.volume), rtp_timestamp=ts))
        if block.end:
            out.append(self._finish(end_seen=True))

    def _finish(self, *, end_seen: bool) -> DigitEnded:
        cur = self._open
        assert cur is not None
        self._open = None
        self._ended.append((cur.timestamp, cur.digit))
        total = cur.base + cur.duration
        return DigitEnded(digit=cur.digit, at=cur.at,
                          duration_ms=int(round(total * 1000 / self.clock_rate)),
                          source="rfc4733", end_seen=end_seen, rtp_timestamp=cur.first_ts)


# -- sending ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventPacket:
    """One telephone-event packet to send: wrap `payload` in RTP with `marker`, and the
    timestamp (stream timestamp at `event_start`) + `timestamp_offset`."""

    send_at: float
    payload: bytes
    marker: bool
    timestamp_offset: int  # non-zero only for the later segments of a > 8 s event
    event_start: float
    end: bool


def schedule_digit(
    digit: str,
    duration_ms: float,
    *,
    start: float,
    ptime_ms: float = 20.0,
    volume: int = 10,
    clock_rate: int = 8000,
    end_repeats: int = 3,
) -> list[EventPacket]:
    """The packets of one digit starting at `start`: one every `ptime_ms`, the first
    with the marker bit, durations growing by one ptime, the last one (duration =
    the whole digit) with the E bit, sent `end_repeats` times (RFC 4733 §2.5.1.4
    asks for three) one ptime apart."""
    code = digit_to_event(digit)
    if not 0 < duration_ms <= 60_000:
        raise DtmfValueError(f"duration out of range: {duration_ms} ms")
    if not 0 < ptime_ms <= 200 or clock_rate <= 0 or not 1 <= end_repeats <= 10:
        raise DtmfValueError("bad ptime, clock rate or end_repeats")
    if not 0 <= volume <= 63:
        raise DtmfValueError(f"volume out of range (0-63 = -dBm0): {volume}")
    step = ptime_ms / 1000.0
    per_packet = int(round(ptime_ms * clock_rate / 1000.0))
    total = max(1, int(round(duration_ms * clock_rate / 1000.0)))
    n = math.ceil(total / per_packet)
    out: list[EventPacket] = []
    for k in range(n):
        elapsed = min((k + 1) * per_packet, total)
        # a segment spans MAX_DURATION units; its packets count from the segment start
        seg = (elapsed - 1) // MAX_DURATION
        offset = seg * MAX_DURATION
        last = k == n - 1
        payload = build_payload(code, elapsed - offset, end=last, volume=volume)
        for r in range(end_repeats if last else 1):
            out.append(EventPacket(start + (k + r) * step, payload, k == 0, offset, start, last))
    return out


class TelephoneEventSender:
    """Queues digits for one outgoing stream and paces their packets.

    `send(digit, duration_ms, now)` queues a digit (it starts at `now`, or `gap_ms`
    after the previous digit's last packet); `poll(now)` returns the packets due;
    `get_timer()` is the next send time. While `suppress_audio(now)` is True the relay
    must not send this stream's audio packets (RFC 4733 §2.5.1.1: tones and events
    must not be sent at the same time); the RTP timestamp keeps running meanwhile.
    """

    def __init__(self, *, ptime_ms: float = 20.0, volume: int = 10, clock_rate: int = 8000,
                 end_repeats: int = 3, gap_ms: float = 60.0) -> None:
        self.ptime_ms = ptime_ms
        self.volume = volume
        self.clock_rate = clock_rate
        self.end_repeats = end_repeats
        self.gap = gap_ms / 1000.0
        self._queue: deque[EventPacket] = deque()
        self._free_at = -math.inf  # when the next digit may start

    def send(self, digit: str, duration_ms: float, now: float) -> float:
        """Queue one digit; returns its start time."""
        start = max(now, self._free_at)
        packets = schedule_digit(digit, duration_ms, start=start, ptime_ms=self.ptime_ms,
                                 volume=self.volume, clock_rate=self.clock_rate,
                                 end_repeats=self.end_repeats)
        self._queue.extend(packets)
        self._free_at = packets[-1].send_at + self.gap
        return start

    def get_timer(self) -> float | None:
        return self._queue[0].send_at if self._queue else None

    def poll(self, now: float) -> list[EventPacket]:
        """The packets whose time has come, in order."""
        out = []
        while self._queue and self._queue[0].send_at <= now:
            out.append(self._queue.popleft())
        return out

    def suppress_audio(self, now: float) -> bool:
        """True from a digit's first packet until its last end packet has gone."""
        return bool(self._queue) and self._queue[0].event_start <= now

    def pending(self) -> int:
        return len(self._queue)
