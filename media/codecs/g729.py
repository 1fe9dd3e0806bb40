"""G.729 Annex A (with Annex B VAD/DTX and comfort noise) through libbcg729 and ctypes.

libbcg729 (Belledonne Communications; Debian package `libbcg729-0`) encodes 80
samples (10 ms) into a 10-byte frame and decodes them back; with VAD on, the encoder
may emit a 2-byte SID frame (comfort-noise update) or nothing at all (silence,
discontinuous transmission). An RTP payload (RFC 3551 §4.5.6) is zero or more 10-byte
frames followed by at most one 2-byte SID frame; a 20 ms packet is two frames.

Each encoder/decoder holds one C channel context, freed when the object is closed or
collected. Calls go through ctypes with bytes passed as pointers and one preallocated
output buffer per object, so a frame costs the codec's own work plus about a
microsecond of call overhead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import numpy as np

from media.codecs.base import Pcm
from media.errors import CodecError

FRAME_SAMPLES = 80
FRAME_BYTES = 10
SID_BYTES = 2

_lib: Any = None
_load_error: str | None = None


def _load() -> Any:
    global _lib, _load_error
    if _lib is not None:
        return _lib
    if _load_error is not None:
        raise CodecError(_load_error)
    names = [n for n in (ctypes.util.find_library("bcg729"), "libbcg729.so.0") if n]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        _load_error = "G.729 needs libbcg729 (Debian: apt-get install libbcg729-0)"
        raise CodecError(_load_error)
    lib.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
    lib.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    lib.closeBcg729EncoderChannel.restype = None
    lib.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_uint8)]
    lib.bcg729Encoder.restype = None
    lib.initBcg729DecoderChannel.argtypes = []
    lib.initBcg729DecoderChannel.restype = ctypes.c_void_p
    lib.closeBcg729DecoderChannel.argtypes = [ctypes.c_void_p]
    lib.closeBcg729DecoderChannel.restype = None
    lib.bcg729Decoder.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint8,
                                  ctypes.c_uint8, ctypes.c_uint8, ctypes.c_uint8,
                                  ctypes.c_char_p]
    lib.bcg729Decoder.restype = None
    _lib = lib
    return lib


def available() -> bool:
    """Whether libbcg729 can be loaded on this machine."""
    try:
        _load()
    except CodecError:
        return False
    return True


class G729Encoder:
    """One channel's encoder. `vad`: Annex B (silence sends SID frames or nothing)."""

    __slots__ = ("name", "vad", "_lib", "_ctx", "_out", "_length")

    def __init__(self, *, vad: bool = False) -> None:
        self.name = "G729"
        self.vad = vad
        self._lib = _load()
        self._ctx = self._lib.initBcg729EncoderChannel(1 if vad else 0)
        if not self._ctx:
            raise CodecError("libbcg729 could not create an encoder channel")
        self._out = ctypes.create_string_buffer(FRAME_BYTES)
        self._length = ctypes.c_uint8(0)

    def encode(self, pcm: Pcm) -> bytes:
        count = len(pcm)
        if count % FRAME_SAMPLES:
            raise CodecError(f"G.729 encodes whole 10 ms frames: got {count} samples")
        data = pcm.tobytes() if pcm.dtype == np.int16 else pcm.astype(np.int16).tobytes()
        encode, ctx, out, length = self._lib.bcg729Encoder, self._ctx, self._out, self._length
        pointer = ctypes.byref(length)
        chunks = []
        for start in range(0, 2 * count, 2 * FRAME_SAMPLES):
            encode(ctx, data[start:start + 2 * FRAME_SAMPLES], out, pointer)
            size = length.value
            if size:
                chunks.append(out.raw[:size])
        if len(chunks) > 1 and any(len(c) == SID_BYTES for c in chunks[:-1]):
            # A SID frame may only end a payload: keep the voice frames, and the SID
            # only if it is the last thing said.
            chunks = [c for c in chunks[:-1] if len(c) != SID_BYTES] + chunks[-1:]
        return b"".join(chunks)

    def close(self) -> None:
        if self._ctx:
            self._lib.closeBcg729EncoderChannel(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        self.close()


class G729Decoder:
    """One channel's decoder; `conceal` uses the codec's own frame-erasure concealment."""

    __slots__ = ("name", "_lib", "_ctx", "_out")

    def __init__(self) -> None:
        self.name = "G729"
        self._lib = _load()
        self._ctx = self._lib.initBcg729DecoderChannel()
        if not self._ctx:
            raise CodecError("libbcg729 could not create a decoder channel")
        self._out = ctypes.create_string_buffer(2 * FRAME_SAMPLES)

    def decode(self, payload: bytes) -> Pcm:
        size = len(payload)
        frames, rest = divmod(size, FRAME_BYTES)
        if rest not in (0, SID_BYTES):
            raise CodecError(f"G.729 payload of {size} bytes is not 10-byte frames (+ SID)")
        decode, ctx, out = self._lib.bcg729Decoder, self._ctx, self._out
        parts = []
        for index in range(frames):
            decode(ctx, payload[index * FRAME_BYTES:(index + 1) * FRAME_BYTES], FRAME_BYTES,
                   0, 0, 0, out)
            parts.append(out.raw)
        if rest:
            decode(ctx, payload[-SID_BYTES:], SID_BYTES, 0, 1, 0, out)
            parts.append(out.raw)
        return np.frombuffer(b"".join(parts), np.int16)

    def conceal(self, samples: int) -> Pcm:
        decode, ctx, out = self._lib.bcg729Decoder, self._ctx, self._out
        parts = []
        for _ in range(max(1, -(-samples // FRAME_SAMPLES))):
            decode(ctx, None, 0, 1, 0, 0, out)
            parts.append(out.raw)
        return np.frombuffer(b"".join(parts), np.int16)[:samples]

    def close(self) -> None:
        if self._ctx:
            self._lib.closeBcg729DecoderChannel(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        self.close()
