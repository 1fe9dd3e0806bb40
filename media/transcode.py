"""Transcoding of one RTP direction, sans-I/O: packets in one leg's codec, out in the other's.

When the two phones of a call share no voice codec (a desk phone on G.729 only, a
trunk on A-law only), the relay decodes what one leg sends and encodes it for the
other. A `Transcoder` serves one direction:

1. `ReorderBuffer` puts the packets back in sequence order (reordering of up to three
   packets) and reports losses;
2. each voice packet is decoded by its payload type (a phone may switch codecs within
   what it negotiated), a lost one is concealed by the codec last used (G.711 by pitch
   repetition, G.729 by its own frame-erasure concealment), so the encoder on the other
   side sees continuous audio and the far phone hears no clicks;
3. the samples are encoded for the receiving leg in whole frames of its codec (G.729:
   10 ms) — a remainder waits for the next packet — and leave with the input's
   sequence number and timestamp (both codecs run an 8 kHz clock, so the timing and
   the receiver's jitter buffer see the sender's own pacing; concealed packets take
   the lost sequence numbers).

RFC 4733 telephone-events are not decoded: they pass with their payload type mapped
(or are dropped if the receiving leg negotiated none; the DTMF conversion to in-band
tones is the DTMF module's job). Comfort noise (PT 13) and unknown payload types are
dropped and counted. Undecodable payloads count as losses.

Everything is driven by `push(...)` per packet and `handle_timer(now)` for a gap that
is not filled in time; outputs are `OutPacket`s that the relay wraps in its RTP header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from media.codecs import registry
from media.codecs.base import Decoder, Encoder, Pcm
from media.dtmf.tones import ToneSender
from media.errors import CodecError
from media.jitter import ReorderBuffer, Slot

COMFORT_NOISE_PT = 13
FRAME_SAMPLES = {"G729": 80}  # encoders that need whole frames; G.711 takes any count


class OutPacket(NamedTuple):
    seq: int  # input numbering; the relay applies its own offsets
    timestamp: int
    payload_type: int
    marker: bool
    payload: bytes


# (RTP timestamp of the first sample, samples, arrival time of what released them)
PcmTap = Callable[[int, Pcm, float], None]


class Decoded(NamedTuple):
    """One slot of a stream, in order: its samples (None for a telephone-event, comfort
    noise or an undecodable type) and what the packet said."""

    slot: Slot
    pcm: Pcm | None


class StreamDecoder:
    """Packets of one RTP stream in, audio out: in order, losses concealed.

    The first stage of transcoding, and on its own the source of a leg's audio for
    whatever listens to it (recording, in-band DTMF detection). `taps` are called with
    (RTP timestamp of the first sample, samples, now) for every frame decoded or
    concealed, in order.
    """

    __slots__ = ("decoders", "dtmf_pt", "buffer", "last_decoder", "taps", "dropped",
                 "concealed", "errors")

    def __init__(self, *, decode: Mapping[int, str], dtmf_pt: int | None = None,
                 buffer: ReorderBuffer | None = None) -> None:
        self.decoders: dict[int, Decoder] = {pt: registry.decoder(n) for pt, n in decode.items()}
        self.dtmf_pt = dtmf_pt
        self.buffer = buffer or ReorderBuffer()
        self.last_decoder: Decoder | None = next(iter(self.decoders.values()), None)
        self.taps: list[PcmTap] = []
        self.dropped: dict[str, int] = {}
        self.concealed = 0
        self.errors = 0

    def reset(self) -> None:
        self.buffer.reset()

    def push(self, seq: int, timestamp: int, payload_type: int, marker: bool, payload: bytes,
             now: float) -> list[Decoded]:
        slots = self.buffer.push(seq, timestamp, payload_type, marker, payload, now)
        return self._decode_all(slots, now) if slots else []

    def get_timer(self) -> float | None:
        return self.buffer.get_timer()

    def handle_timer(self, now: float) -> list[Decoded]:
        return self._decode_all(self.buffer.handle_timer(now), now)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _decode_all(self, slots: list[Slot], now: float) -> list[Decoded]:
        out = []
        taps = self.taps
        for slot in slots:
            pcm = self._decode(slot)
            if pcm is not None and taps:
                for tap in taps:
                    tap(slot.timestamp, pcm, now)
            out.append(Decoded(slot, pcm))
        return out

    def _decode(self, slot: Slot) -> Pcm | None:
        payload = slot.payload
        if payload is None:
            return self._conceal(self.buffer.step)
        pt = slot.payload_type
        if pt == self.dtmf_pt:
            return None
        decoder = self.decoders.get(pt)
        if decoder is None:
            self._drop("comfort_noise" if pt == COMFORT_NOISE_PT else "payload_type")
            return None
        try:
            pcm = decoder.decode(payload)
        except CodecError:
            self.errors += 1
            return self._conceal(self.buffer.step)
        self.last_decoder = decoder
        return pcm

    def _conceal(self, samples: int) -> Pcm | None:
        if self.last_decoder is None:
            return None
        self.concealed += 1
        return self.last_decoder.conceal(samples)


class Transcoder:
    __slots__ = ("decoder", "encoder", "out_pt", "dtmf_in", "dtmf_out", "frame", "residue",
                 "residue_ts", "dropped", "tones")

    def __init__(
        self,
        *,
        decode: Mapping[int, str],
        encode: str,
        out_pt: int,
        dtmf_in: int | None = None,
        dtmf_out: int | None = None,
        buffer: ReorderBuffer | None = None,
    ) -> None:
        """decode: payload type -> encoding name of what the sending leg may send;
        encode/out_pt: the receiving leg's codec; dtmf_in/out: telephone-event types."""
        self.decoder = StreamDecoder(decode=decode, dtmf_pt=dtmf_in, buffer=buffer)
        self.encoder: Encoder = registry.encoder(encode)
        self.out_pt = out_pt
        self.dtmf_in = dtmf_in
        self.dtmf_out = dtmf_out
        self.frame = FRAME_SAMPLES.get(encode.upper(), 1)
        self.residue: Pcm = np.zeros(0, np.int16)
        self.residue_ts = 0
        self.dropped: dict[str, int] = {}
        # Digits converted to tones for a receiver without telephone-events: they
        # replace the audio while they play.
        self.tones = ToneSender()

    @property
    def buffer(self) -> ReorderBuffer:
        return self.decoder.buffer

    @property
    def concealed(self) -> int:
        return self.decoder.concealed

    def reset(self) -> None:
        """The input stream restarted (new SSRC): new ordering, no leftover samples."""
        self.decoder.reset()
        self.residue = self.residue[:0]

    def push(self, seq: int, timestamp: int, payload_type: int, marker: bool, payload: bytes,
             now: float) -> list[OutPacket]:
        decoder = self.decoder
        buffer = decoder.buffer
        codec = decoder.decoders.get(payload_type)
        if (codec is not None and not decoder.taps and not self.residue.size
                and not self.tones.active() and buffer.advance(seq, timestamp, marker)):
            # The common case — the next packet, a voice codec, nobody listening — without
            # the general machinery (slots, loss and event handling): same result.
            try:
                pcm = codec.decode(payload)
            except CodecError:
                decoder.errors += 1
                concealed = decoder._conceal(buffer.step)
                if concealed is None:
                    return []
                pcm = concealed
            else:
                decoder.last_decoder = codec
            if len(pcm) % self.frame == 0:
                out = self.encoder.encode(pcm)
                return [OutPacket(seq, timestamp, self.out_pt, marker, out)] if out else []
            packet = self._encode(Slot(seq, timestamp, payload_type, marker, payload), pcm)
            return [] if packet is None else [packet]
        decoded = decoder.push(seq, timestamp, payload_type, marker, payload, now)
        return self._convert(decoded) if decoded else []

    def get_timer(self) -> float | None:
        return self.decoder.get_timer()

    def handle_timer(self, now: float) -> list[OutPacket]:
        return self._convert(self.decoder.handle_timer(now))

    # -- internals -------------------------------------------------------------------------
    def _convert(self, decoded: list[Decoded]) -> list[OutPacket]:
        out: list[OutPacket] = []
        for slot, pcm in decoded:
            if pcm is None:
                if slot.payload is not None and slot.payload_type == self.dtmf_in:
                    if self.dtmf_out is None:
                        self.dropped["dtmf_unsupported"] = (
                            self.dropped.get("dtmf_unsupported", 0) + 1)
                    else:
                        out.append(OutPacket(slot.seq, slot.timestamp, self.dtmf_out,
                                             slot.marker, slot.payload))
                continue
            packet = self._encode(slot, pcm)
            if packet is not None:
                out.append(packet)
        return out

    def _encode(self, slot: Slot, pcm: Pcm) -> OutPacket | None:
        if self.tones.active() and len(pcm):
            tone = self.tones.frame(len(pcm))
            if tone is not None:
                pcm = tone
        frame = self.frame
        timestamp = slot.timestamp
        if frame > 1:
            residue = self.residue
            if len(residue):
                if (self.residue_ts + len(residue)) & 0xFFFFFFFF == timestamp:
                    pcm = np.concatenate((residue, pcm))
                    timestamp = self.residue_ts
                self.residue = residue[:0]
            whole = len(pcm) - len(pcm) % frame
            if whole != len(pcm):
                self.residue = pcm[whole:]
                self.residue_ts = (timestamp + whole) & 0xFFFFFFFF
                pcm = pcm[:whole]
            if not whole:
                return None
        payload = self.encoder.encode(pcm)
        if not payload:  # DTX: the encoder had nothing to say
            return None
        return OutPacket(slot.seq, timestamp, self.out_pt, slot.marker, payload)
