"""The DTMF alphabet and its tones: digit <-> RFC 4733 event code, the frequency pairs,
dBm0 levels, and a synthesiser of in-band digits (two sines, int16 at 8 kHz).

Levels: 0 dBm0 is taken as a sine whose peak is 3.14 dB below int16 full scale (the
G.711 digital milliwatt), so a tone at L dBm0 has peak amplitude 32768 * 10**((L-3.14)/20).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from media.dtmf.errors import DtmfValueError

DIGITS = "0123456789*#ABCD"  # index = RFC 4733 event code (0-15)
LOW_GROUP = (697.0, 770.0, 852.0, 941.0)
HIGH_GROUP = (1209.0, 1336.0, 1477.0, 1633.0)
# The keypad: row = low-group frequency, column = high-group frequency.
KEYPAD = ("123A", "456B", "789C", "*0#D")
SAMPLE_RATE = 8000
FULL_SCALE_DBM0 = 3.14  # a full-scale int16 sine is +3.14 dBm0

_POSITION = {KEYPAD[r][c]: (r, c) for r in range(4) for c in range(4)}


def normalize_digit(digit: str) -> str:
    """The canonical form of a digit ('a' -> 'A'); DtmfValueError if it is not one."""
    if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in _POSITION:
        raise DtmfValueError(f"not a DTMF digit: {digit!r}")
    return digit.upper()


def digit_to_event(digit: str) -> int:
    """RFC 4733 event code (0-15) of a digit."""
    return DIGITS.index(normalize_digit(digit))


def event_to_digit(code: int) -> str | None:
    """The digit of an RFC 4733 event code, None for codes that are not DTMF (16+)."""
    return DIGITS[code] if 0 <= code < 16 else None


def frequencies(digit: str) -> tuple[float, float]:
    """(low, high) frequency pair of a digit in Hz."""
    row, col = _POSITION[normalize_digit(digit)]
    return LOW_GROUP[row], HIGH_GROUP[col]


def amplitude(level_dbm0: float) -> float:
    """Peak int16 amplitude of a sine at `level_dbm0`."""
    return float(32768.0 * 10.0 ** ((level_dbm0 - FULL_SCALE_DBM0) / 20.0))


def level_dbm0(peak: float) -> float:
    """Inverse of `amplitude`."""
    return FULL_SCALE_DBM0 + 20.0 * math.log10(max(peak, 1e-9) / 32768.0)


def synthesize(
    digit: str,
    duration_ms: float,
    *,
    level_dbm0: float = -7.0,
    twist_db: float = 0.0,
    freq_error: float = 0.0,
    rate: int = SAMPLE_RATE,
    ramp_ms: float = 0.0,
) -> npt.NDArray[np.int16]:
    """A DTMF digit as int16 audio: two sines, the low one at `level_dbm0`, the high one
    `twist_db` louder (negative: quieter). `freq_error` detunes both (0.015 = +1.5 %).
    `ramp_ms` adds raised-cosine edges (0: hard edges, as most phones produce)."""
    low, high = frequencies(digit)
    if not 0 < duration_ms <= 60_000:
        raise DtmfValueError(f"duration out of range: {duration_ms} ms")
    if rate <= 0:
        raise DtmfValueError(f"bad sample rate: {rate}")
    n = int(round(duration_ms * rate / 1000.0))
    t = np.arange(n, dtype=np.float64) / rate
    a_low = amplitude(level_dbm0)
    a_high = amplitude(level_dbm0 + twist_db)
    k = 1.0 + freq_error
    x = a_low * np.sin(2 * np.pi * low * k * t) + a_high * np.sin(2 * np.pi * high * k * t)
    if ramp_ms > 0:
        r = min(n // 2, int(ramp_ms * rate / 1000.0))
        if r > 0:
            edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
            x[:r] *= edge
            x[n - r :] *= edge[::-1]
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def synthesize_sequence(
    digits: str,
    *,
    tone_ms: float = 100.0,
    pause_ms: float = 100.0,
    level_dbm0: float = -7.0,
    rate: int = SAMPLE_RATE,
) -> npt.NDArray[np.int16]:
    """Several digits, each `tone_ms` long and followed by `pause_ms` of silence."""
    gap = np.zeros(int(round(pause_ms * rate / 1000.0)), np.int16)
    parts: list[npt.NDArray[np.int16]] = []
    for d in digits:
        parts.append(synthesize(d, tone_ms, level_dbm0=level_dbm0, rate=rate))
        parts.append(gap)
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


class ToneSender:
    """In-band digits for one outgoing channel, for a peer that negotiated no
    telephone-event: queue digits with `send`, and on each media tick ask `frame(n)`.
    It returns the next `n` samples to send *instead of* the channel's audio (tone,
    then the silent gap after it), or None when nothing is queued and the normal audio
    flows. Sample-clocked, so it needs no time: the relay pulls one frame per tick.
    """

    def __init__(self, *, level_dbm0: float = -7.0, twist_db: float = 2.0,
                 gap_ms: float = 60.0, rate: int = SAMPLE_RATE) -> None:
        self.level_dbm0 = level_dbm0
        self.twist_db = twist_db
        self.rate = rate
        self._gap = np.zeros(int(round(gap_ms * rate / 1000.0)), np.int16)
        self._queue: deque[npt.NDArray[np.int16]] = deque()
        self._pos = 0  # samples of the queue's head already sent

    def send(self, digit: str, duration_ms: float) -> None:
        self._queue.append(synthesize(digit, duration_ms, level_dbm0=self.level_dbm0,
                                      twist_db=self.twist_db, rate=self.rate))
        if len(self._gap):
            self._queue.append(self._gap)

    def active(self) -> bool:
        return bool(self._queue)

    def frame(self, n: int) -> npt.NDArray[np.int16] | None:
        if not self._queue:
            return None
        if n <= 0:
            raise DtmfValueError(f"bad frame size: {n}")
        out = np.zeros(n, np.int16)  # the end of the last gap is silence too
        filled = 0
        while filled < n and self._queue:
            head = self._queue[0]
            take = min(n - filled, len(head) - self._pos)
            out[filled:filled + take] = head[self._pos:self._pos + take]
            filled += take
            self._pos += take
            if self._pos == len(head):
                self._queue.popleft()
                self._pos = 0
        return out
