"""A relay `Leg` whose fast-path state lives in a C struct the data plane reads.

`FastLeg` is `media.relay.Leg` with the fields the per-packet decision depends on
(armed SSRC, latched source, destination, byte-1 table, offsets, output SSRC) mirrored
into an `FpLeg` that `rtpfast.c` reads: every write the core makes to them goes through
a property into the struct, so the C side relays exactly what the core's own fast path
would. What both paths update (arrival time, counters, last header sent) each keeps
separately, and the core reads them combined. Nothing else changes: the core still
decides everything; packets it has not armed for are punted to it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import socket
import sys
from typing import Any

from media.backend import LegStats
from media.relay import Leg

_BYTEORDER = sys.byteorder  # the struct holds addresses as their bytes lie in memory


class FpLeg(ctypes.Structure):
    """`struct fp_leg` of rtpfast.c, field for field."""

    _fields_ = [
        ("last_seen", ctypes.c_double),
        ("packets", ctypes.c_uint64),
        ("octets", ctypes.c_uint64),
        ("send_errors", ctypes.c_uint64),
        ("send_error_octets", ctypes.c_uint64),
        ("fd", ctypes.c_int32),
        ("out_fd", ctypes.c_int32),
        ("ident", ctypes.c_int32),
        ("armed", ctypes.c_int32),
        ("fast_ssrc", ctypes.c_uint32),
        ("max_bytes", ctypes.c_uint32),
        ("seq_off", ctypes.c_uint32),
        ("ts_off", ctypes.c_uint32),
        ("out_ssrc", ctypes.c_uint32),
        ("latched_ip", ctypes.c_uint32),
        ("fwd_ip", ctypes.c_uint32),
        ("latched_port", ctypes.c_uint16),
        ("fwd_port", ctypes.c_uint16),
        ("latched_ok", ctypes.c_uint8),
        ("fwd_ok", ctypes.c_uint8),
        ("has_last", ctypes.c_uint8),
        ("spare", ctypes.c_uint8),
        ("last_hdr", ctypes.c_uint8 * 12),
        ("b1map", ctypes.c_int16 * 256),
    ]


def ipv4_key(addr: Any) -> tuple[int, int] | None:
    """(address, port) of an IPv4 socket address as the struct holds them (network
    order in memory), or None for anything the data plane does not relay (IPv6)."""
    if addr is None or len(addr) != 2:
        return None
    try:
        host = socket.inet_aton(addr[0])
        port = socket.htons(int(addr[1]))
    except (OSError, TypeError, ValueError, OverflowError):
        return None
    return int.from_bytes(host, _BYTEORDER), port


# The Leg slots the properties below keep their Python values in.
_SLOT = {name: Leg.__dict__[name] for name in
         ("fast_ssrc", "latched", "forward_to", "b1map", "max_bytes", "last_seen", "last_out")}


def _in_struct(name: str) -> Any:
    """A Leg field kept only in the struct: the core reads and writes C's copy."""

    def get(self: FastLeg) -> int:
        value: int = getattr(self.c, name)
        return value

    def set(self: FastLeg, value: int) -> None:
        setattr(self.c, name, value)

    return property(get, set, doc=f"`{name}` of the struct")


class FastLeg(Leg):
    __slots__ = ("c",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.c = FpLeg()
        self.c.fd = self.c.out_fd = -1
        super().__init__(*args, **kwargs)

    # -- the decision: written by the core, read by the data plane ----------------------
    @property
    def fast_ssrc(self) -> bytes | None:
        return _SLOT["fast_ssrc"].__get__(self, Leg)  # type: ignore[no-any-return]

    @fast_ssrc.setter
    def fast_ssrc(self, value: bytes | None) -> None:
        _SLOT["fast_ssrc"].__set__(self, value)
        if value is None or len(value) != 4:
            self.c.armed = 0
        else:
            self.c.fast_ssrc = int.from_bytes(value, _BYTEORDER)
            self.c.armed = 1

    @property
    def latched(self) -> Any:
        return _SLOT["latched"].__get__(self, Leg)

    @latched.setter
    def latched(self, value: Any) -> None:
        _SLOT["latched"].__set__(self, value)
        key = ipv4_key(value)
        if key is None:
            self.c.latched_ok = 0
        else:
            self.c.latched_ip, self.c.latched_port = key
            self.c.latched_ok = 1

    @property
    def forward_to(self) -> Any:
        return _SLOT["forward_to"].__get__(self, Leg)

    @forward_to.setter
    def forward_to(self, value: Any) -> None:
        _SLOT["forward_to"].__set__(self, value)
        key = ipv4_key(value)
        if key is None:
            self.c.fwd_ok = 0
        else:
            self.c.fwd_ip, self.c.fwd_port = key
            self.c.fwd_ok = 1

    @property
    def b1map(self) -> tuple[int, ...]:
        return _SLOT["b1map"].__get__(self, Leg)  # type: ignore[no-any-return]

    @b1map.setter
    def b1map(self, value: tuple[int, ...]) -> None:
        _SLOT["b1map"].__set__(self, value)
        self.c.b1map[:] = value

    @property
    def max_bytes(self) -> int:
        return _SLOT["max_bytes"].__get__(self, Leg)  # type: ignore[no-any-return]

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        _SLOT["max_bytes"].__set__(self, value)
        self.c.max_bytes = value

    # Offsets and the output SSRC live in the struct only.
    seq_off = _in_struct("seq_off")
    ts_off = _in_struct("ts_off")
    out_ssrc = _in_struct("out_ssrc")

    # -- what both paths update: each keeps its own, read together ----------------------
    # The Python path writes only its slots (no ctypes per packet on the transcoding and
    # listening paths, which never reach C); readers combine the two.
    @property
    def last_seen(self) -> float:
        python: float = _SLOT["last_seen"].__get__(self, Leg)
        c: float = self.c.last_seen
        return c if c > python else python

    @last_seen.setter
    def last_seen(self, value: float) -> None:
        _SLOT["last_seen"].__set__(self, value)

    @property
    def last_out(self) -> bytes | None:
        """The last packet sent, or its header when C sent it (the core reads its
        sequence number and timestamp only)."""
        c = self.c
        if c.has_last:  # C relayed a packet after the core's last write
            return bytes(c.last_hdr)
        return _SLOT["last_out"].__get__(self, Leg)  # type: ignore[no-any-return]

    @last_out.setter
    def last_out(self, value: bytes | None) -> None:
        _SLOT["last_out"].__set__(self, value)
        self.c.has_last = 0

    def relayed(self) -> tuple[int, int]:
        c = self.c
        return self.packets + c.packets, self.octets + c.octets

    def stats(self) -> LegStats:
        stats = super().stats()
        c = self.c
        if not c.send_errors:
            return stats
        drops = dict(stats.drops)
        drops["send_error"] = drops.get("send_error", 0) + c.send_errors
        return dataclasses.replace(
            stats, packets_in=stats.packets_in + c.send_errors,
            bytes_in=stats.bytes_in + c.send_error_octets, drops=drops,
        )
