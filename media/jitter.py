"""Reordering and loss detection for one RTP stream, sans-I/O.

Every path that *decodes* a stream (transcoding, recording, in-band DTMF, mixing)
needs packets in order and needs to know which ones are missing, so that codecs see a
continuous stream and conceal losses. `ReorderBuffer` does that with no added delay
in the common case:

- the packet the stream expects next (sequence number `expected`) is released at once,
  with any buffered packets that now follow it without a gap;
- a packet after a gap is held: either the missing one arrives (reordering) and the
  run is released in order, or `depth` packets are held (default 3: reordering of up
  to three packets is absorbed), or the oldest held packet has waited `max_wait`
  seconds (`get_timer()` / `handle_timer(now)`) — then the missing sequence numbers
  are released as losses (`payload` None) followed by what was held;
- a packet from before `expected` (too late, or a duplicate) is dropped and counted;
- a jump of more than `max_gap` sequence numbers (the sender restarted or a new
  stream started) releases what is held and restarts at the new packet, without
  inventing hundreds of lost packets.

A lost packet's timestamp is interpolated from its neighbours, so a concealment of
the right length can be played in its place. Timestamp jumps with contiguous sequence
numbers (silence suppression) are not losses and pass as they are.
"""

from __future__ import annotations

from typing import NamedTuple


class Slot(NamedTuple):  # a NamedTuple: built for every packet, and cheaper than a dataclass
    """One sequence number's worth of stream, in order: a packet, or a loss."""

    seq: int
    timestamp: int
    payload_type: int
    marker: bool
    payload: bytes | None  # None: the packet was lost


class ReorderBuffer:
    __slots__ = ("depth", "max_wait", "max_gap", "expected", "held", "held_since",
                 "last_timestamp", "step", "late", "lost", "restarts")

    def __init__(self, *, depth: int = 3, max_wait: float = 0.06, max_gap: int = 100) -> None:
        self.depth = depth
        self.max_wait = max_wait
        self.max_gap = max_gap
        self.expected: int | None = None
        self.held: dict[int, tuple[Slot, float]] = {}  # seq -> (packet, arrival)
        self.held_since: float | None = None
        self.last_timestamp = 0
        self.step = 160  # timestamp units per packet, learnt from the stream
        self.late = 0  # dropped: too late or duplicated
        self.lost = 0
        self.restarts = 0

    def reset(self) -> None:
        """A new stream (SSRC change): forget the order of the old one."""
        self.expected = None
        self.held.clear()
        self.held_since = None

    def advance(self, seq: int, timestamp: int, marker: bool) -> bool:
        """The common case: if `seq` is the next one and nothing waits, take it (True);
        the caller uses the packet as it is. Otherwise change nothing (False)."""
        if seq != self.expected or self.held:
            return False
        self._accept(seq, timestamp, marker)
        return True

    def _accept(self, seq: int, timestamp: int, marker: bool) -> None:
        delta = (timestamp - self.last_timestamp) & 0xFFFFFFFF
        if 0 < delta <= 960 and not marker:  # a packet's worth, up to 120 ms
            self.step = delta
        self.last_timestamp = timestamp
        self.expected = (seq + 1) & 0xFFFF

    def push(self, seq: int, timestamp: int, payload_type: int, marker: bool, payload: bytes,
             now: float) -> list[Slot]:
        slot = Slot(seq, timestamp, payload_type, marker, payload)
        if self.expected is None:
            return self._start(slot)
        if self.advance(seq, timestamp, marker):
            return [slot]
        expected = self.expected
        ahead = (seq - expected) & 0xFFFF
        if ahead == 0:
            out = [self._take(slot)]
            if self.held:
                self._release_run(out)
            return out
        if ahead >= 0x8000:  # behind what was already released
            if 0x10000 - ahead > self.max_gap:
                return self._restart(slot)
            self.late += 1
            return []
        if ahead > self.max_gap:
            return self._restart(slot)
        if seq in self.held:
            self.late += 1
            return []
        self.held[seq] = (slot, now)
        if self.held_since is None:
            self.held_since = now
        if len(self.held) > self.depth:
            return self._give_up()
        return []

    def get_timer(self) -> float | None:
        return None if self.held_since is None else self.held_since + self.max_wait

    def handle_timer(self, now: float) -> list[Slot]:
        out: list[Slot] = []
        while self.held_since is not None and now >= self.held_since + self.max_wait:
            out += self._give_up()
        return out

    # -- internals -------------------------------------------------------------------------
    def _start(self, slot: Slot) -> list[Slot]:
        self.expected = slot.seq
        return [self._take(slot)]

    def _restart(self, slot: Slot) -> list[Slot]:
        self.restarts += 1
        out = self._flush_held()
        self.expected = slot.seq
        out.append(self._take(slot))
        return out

    def _take(self, slot: Slot) -> Slot:
        """Release `slot`, which is the expected one."""
        self._accept(slot.seq, slot.timestamp, slot.marker)
        return slot

    def _release_run(self, out: list[Slot]) -> None:
        held = self.held
        while self.expected in held:
            out.append(self._take(held.pop(self.expected)[0]))
        self.held_since = min((t for _, t in held.values()), default=None)

    def _give_up(self) -> list[Slot]:
        """Declare the gap before the first held packet lost and release the run that
        follows it; packets still held (behind another gap) keep their arrival time."""
        out: list[Slot] = []
        expected = self.expected
        assert expected is not None
        first = min(self.held, key=lambda s: (s - expected) & 0xFFFF)
        missing = (first - expected) & 0xFFFF
        next_ts = self.held[first][0].timestamp
        for index in range(missing):
            seq = (expected + index) & 0xFFFF
            # Interpolate back from the held packet: the losses sit just before it.
            ts = (next_ts - (missing - index) * self.step) & 0xFFFFFFFF
            self.lost += 1
            out.append(self._take(Slot(seq, ts, -1, False, None)))
        self._release_run(out)
        return out

    def _flush_held(self) -> list[Slot]:
        out: list[Slot] = []
        while self.held:
            out.extend(self._give_up())
        self.held_since = None
        return out
