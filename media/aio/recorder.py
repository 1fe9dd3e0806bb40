"""Call recording in the embedded media backend: relay taps -> recording writers -> files.

The relay core hands each recorded leg's decoded audio (in order, losses concealed) to
a tap; the tap pushes it into the call's `RecordingWriter` (caller left, callee right).
This module owns the file side, which is why it sits in the I/O layer and not in the
sans-I/O core: one timer flushes every writer each `flush_interval_s` (at most a
second of audio is ever only in memory), recordings a crash interrupted are repaired
at start, and recordings older than the retention period are purged (file and index
row together) at start and then hourly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from media.backend import LegName
from media.codecs.base import Pcm
from media.errors import MediaError
from media.recording.index import RecordingIndex, RecordingInfo
from media.recording.policy import RecordingConfig
from media.recording.writer import RecordingWriter, repair_recordings
from media.relay import RelayCore

log = logging.getLogger("media.recording")
PURGE_INTERVAL = 3600.0
CHANNELS: tuple[tuple[LegName, str], ...] = (("a", "caller"), ("b", "callee"))


class _Recording:
    __slots__ = ("writer", "taps")

    def __init__(self, writer: RecordingWriter) -> None:
        self.writer = writer
        self.taps: list[tuple[LegName, Callable[[int, Pcm, float], None]]] = []


class Recorder:
    def __init__(self, core: RelayCore, config: RecordingConfig, data_dir: Path,
                 index: RecordingIndex) -> None:
        self.loop = asyncio.get_running_loop()
        self.core = core
        self.config = config
        self.directory = data_dir / config.directory
        self.index = index
        self.active: dict[str, _Recording] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._purge_handle: asyncio.TimerHandle | None = None
        # The index names every recording left unfinished: no need to read the headers
        # of all the others at each start.
        repaired = repair_recordings(None, index)
        if repaired:
            log.warning("repaired %d recordings interrupted by the last stop", len(repaired))
        self.purge()

    def start(self, session_id: str, *, caller: str, callee: str,
              queue: str | None = None) -> RecordingInfo:
        """Record both legs of a session from now on. Raises MediaError."""
        if session_id in self.active:
            return self.active[session_id].writer.info
        now = self.loop.time()
        config = self.config
        writer = RecordingWriter.start(
            self.directory, call_id=session_id, caller=caller, callee=callee, start=now,
            wall_start=time.time(), index=self.index, fmt=config.format, queue=queue,
            flush_interval=config.flush_interval_s, header_interval=config.header_interval_s,
            fsync=config.fsync,
        )
        recording = self.active[session_id] = _Recording(writer)
        for leg, channel in CHANNELS:
            tap = _tap(writer, channel)
            recording.taps.append((leg, tap))
            self.core.listen(session_id, leg, tap)
        self._arm_flush()
        log.info("recording call %s to %s", session_id, writer.info.path)
        return writer.info

    def stop(self, session_id: str) -> RecordingInfo | None:
        """Finish a recording: file complete and its index row committed on return."""
        recording = self.active.pop(session_id, None)
        if recording is None:
            return None
        for leg, tap in recording.taps:
            self.core.unlisten(session_id, leg, tap)
        try:
            info = recording.writer.close(self.loop.time())
        except (OSError, MediaError):
            log.exception("could not finish the recording of %s", session_id)
            return None
        log.info("recording of %s done: %.1f s, %d bytes", session_id, info.duration_s,
                 info.size_bytes)
        return info

    def purge(self) -> None:
        try:
            removed = self.index.purge(time.time(), self.config.retention_days)
        except (OSError, MediaError):
            log.exception("recording retention purge failed")
            removed = []
        if removed:
            log.info("retention: deleted %d recordings older than %g days", len(removed),
                     self.config.retention_days)
        self._purge_handle = self.loop.call_later(PURGE_INTERVAL, self.purge)

    def close(self) -> None:
        for session_id in list(self.active):
            self.stop(session_id)
        for handle in (self._flush_handle, self._purge_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._purge_handle = None

    def _arm_flush(self) -> None:
        if self._flush_handle is None and self.active:
            self._flush_handle = self.loop.call_later(self.config.flush_interval_s, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        now = self.loop.time()
        for session_id, recording in list(self.active.items()):
            try:
                recording.writer.tick(now)
            except (OSError, MediaError):
                log.exception("recording of %s failed: stopped", session_id)
                self.stop(session_id)
        self._arm_flush()


def _tap(writer: RecordingWriter, channel: str) -> Callable[[int, Pcm, float], None]:
    def push(timestamp: int, pcm: Pcm, now: float) -> None:
        writer.push(channel, pcm, timestamp, now)

    return push
