"""Where a message came from or goes to: transport, addresses and connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Flow:
    """A transport-level path. `conn_id` names a TCP connection (0 for UDP or 'any')."""

    transport: str  # "udp" | "tcp"
    remote: Address
    local: Address
    conn_id: int = 0

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"

    def with_remote(self, remote: Address) -> Flow:
        return Flow(self.transport, remote, self.local, self.conn_id)


class Outgoing(NamedTuple):
    """Bytes the transport must send along `flow` (a tuple: built once per packet)."""

    data: bytes
    flow: Flow
