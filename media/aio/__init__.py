"""The asyncio layer of the media subsystem (sockets and timers only)."""

from media.aio.relay import RelayBackend

__all__ = ["RelayBackend"]
