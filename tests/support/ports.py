"""RTP port ranges for in-process relays in tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from media.ports import PortAllocator

HOST = "127.0.0.1"


@contextlib.contextmanager
def free_range() -> Iterator[PortAllocator]:
    """A range the OS is not using right now (pairs that are taken get skipped anyway)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        base = probe.getsockname()[1]
    low = max(1024, min(base, 65000) - 400) & ~1
    yield PortAllocator(low, low + 399)
