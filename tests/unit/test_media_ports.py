"""RTP/RTCP port-pair allocator."""

from __future__ import annotations

import pytest

from media.errors import MediaError, PortsExhausted
from media.ports import DEFAULT_PORT_RANGE, PortAllocator


def test_default_range_holds_even_rtp_ports_with_rtcp_above() -> None:
    ports = PortAllocator()
    assert (ports.low, ports.high) == DEFAULT_PORT_RANGE == (10000, 20000)
    assert ports.capacity == 5000
    first = ports.allocate()
    assert first == 10000
    seen = {first}
    for _ in range(100):
        port = ports.allocate()
        assert port % 2 == 0 and port + 1 <= 20000
        seen.add(port)
    assert len(seen) == 101


def test_odd_low_end_starts_at_the_next_even_port_and_pairs_fit_the_range() -> None:
    ports = PortAllocator(10001, 10008)
    got = [ports.allocate() for _ in range(ports.capacity)]
    assert got == [10002, 10004, 10006]  # 10008 has no 10009 inside the range


def test_exhaustion_raises_a_media_error_and_release_frees_a_pair() -> None:
    ports = PortAllocator(40000, 40003)
    a, b = ports.allocate(), ports.allocate()
    assert (a, b) == (40000, 40002)
    assert ports.available == 0 and ports.in_use == 2
    with pytest.raises(PortsExhausted) as info:
        ports.allocate()
    assert isinstance(info.value, MediaError)
    assert ports.release(a) is True
    assert ports.allocate() == a


def test_released_pairs_are_reused_last() -> None:
    ports = PortAllocator(40000, 40009)  # 5 pairs
    first = ports.allocate()
    ports.release(first)
    assert [ports.allocate() for _ in range(5)] == [40002, 40004, 40006, 40008, 40000]


def test_releasing_an_unallocated_port_changes_nothing() -> None:
    ports = PortAllocator(40000, 40009)
    port = ports.allocate()
    assert ports.release(port + 2) is False
    assert ports.release(port) is True
    assert ports.release(port) is False  # twice
    assert ports.available == 5 and ports.in_use == 0


@pytest.mark.parametrize("low, high", [(0, 100), (100, 70000), (2000, 1000), (5000, 5000)])
def test_bad_ranges_are_refused(low: int, high: int) -> None:
    with pytest.raises(ValueError):
        PortAllocator(low, high)
