"""G.711 µ-law and A-law (ITU-T G.711) by numpy lookup tables.

Encoding indexes a 65,536-entry table with the int16 sample reinterpreted as uint16;
decoding indexes a 256-entry table. Both tables are computed once at import from the
segment rules of the standard (the same arithmetic as the ITU/Sun reference code that
Python's audioop uses), so results are bit-exact with it — tests/unit/test_g711.py
compares every one of the 65,536 inputs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 14-bit magnitude domain
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + 33  # clip, then add the bias (0x84 >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag)  # first segment whose end >= mag
    code = (seg << 4) | ((mag >> (seg + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code) ^ mask
    table = np.empty(65536, np.uint8)  # indexed by the sample's uint16 bit pattern
    table[np.arange(-32768, 32768) & 0xFFFF] = code.astype(np.uint8)
    return table


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13-bit domain
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    mag = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_ALAW_SEG_END, mag)
    shift = np.where(seg < 2, 1, seg)
    code = (seg << 4) | ((mag >> shift) & 0xF)
    coded = np.where(seg >= 8, 0x7F, code).astype(np.int32) ^ mask
    table = np.empty(65536, np.uint8)
    table[np.arange(-32768, 32768) & 0xFFFF] = coded.astype(np.uint8)
    return table


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE = _build_ulaw_encode()
ALAW_ENCODE = _build_alaw_encode()
ULAW_DECODE = _build_ulaw_decode()
ALAW_DECODE = _build_alaw_decode()


def ulaw_encode(pcm: Pcm) -> npt.NDArray[np.uint8]:
    """int16 samples (any shape) -> µ-law bytes of the same shape."""
    return ULAW_ENCODE[pcm.view(np.uint16)]


def alaw_encode(pcm: Pcm) -> npt.NDArray[np.uint8]:
    return ALAW_ENCODE[pcm.view(np.uint16)]


def ulaw_decode(code: npt.NDArray[np.uint8] | bytes) -> Pcm:
    """µ-law bytes (array of any shape, or a bytes payload) -> int16 samples."""
    if isinstance(code, bytes | bytearray | memoryview):
        code = np.frombuffer(code, np.uint8)
    return ULAW_DECODE[code]


def alaw_decode(code: npt.NDArray[np.uint8] | bytes) -> Pcm:
    if isinstance(code, bytes | bytearray | memoryview):
        code = np.frombuffer(code, np.uint8)
    return ALAW_DECODE[code]


class G711Encoder:
    """Stateless: one table lookup per sample."""

    __slots__ = ("name", "_table")

    def __init__(self, name: str) -> None:
        self.name = name
        self._table = ULAW_ENCODE if name == "PCMU" else ALAW_ENCODE

    def encode(self, pcm: Pcm) -> bytes:
        return self._table[pcm.view(np.uint16)].tobytes()


class G711Decoder:
    """Table lookup, plus the history packet-loss concealment needs (`media.codecs.plc`)."""

    __slots__ = ("name", "_table", "_plc")

    def __init__(self, name: str) -> None:
        from media.codecs.plc import Concealer  # plc imports nothing from here

        self.name = name
        self._table = ULAW_DECODE if name == "PCMU" else ALAW_DECODE
        self._plc = Concealer()

    def decode(self, payload: bytes) -> Pcm:
        return self._plc.good(self._table[np.frombuffer(payload, np.uint8)])

    def conceal(self, samples: int) -> Pcm:
        return self._plc.conceal(samples)
