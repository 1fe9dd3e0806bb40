"""The recordings index: one row per recording in SQLite (WAL), tags, search, retention.

Its own tables (`recordings`, `recording_tags`) in the database file it is given —
normally the switch's runtime database. Every write commits before the method
returns ("write before you acknowledge": a RecordingFinished is published only after
the row is durable).

Deleting removes the file first, then the row: a crash in between leaves a row whose
file is gone, which the next delete/purge finishes (a missing file counts as deleted);
the other order could leave an orphan file nobody knows about. `purge` removes all
recordings that started more than `retention_days` ago (default 90), file and row,
never one that is still being recorded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from media.recording.wavfile import RecordingError

Format = Literal["stereo", "mono"]
Status = Literal["recording", "complete", "repaired", "lost"]
DAY_S = 86400.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id          TEXT PRIMARY KEY,
    call_id     TEXT NOT NULL,
    caller      TEXT NOT NULL,
    callee      TEXT NOT NULL,
    queue       TEXT,
    started_at  REAL NOT NULL,
    duration_s  REAL NOT NULL DEFAULT 0,
    size_bytes  INTEGER NOT NULL DEFAULT 0,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    status      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_started ON recordings (started_at);
CREATE INDEX IF NOT EXISTS recordings_caller ON recordings (caller);
CREATE INDEX IF NOT EXISTS recordings_callee ON recordings (callee);
CREATE INDEX IF NOT EXISTS recordings_call ON recordings (call_id);
CREATE TABLE IF NOT EXISTS recording_tags (
    recording_id TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    tag          TEXT NOT NULL,
    PRIMARY KEY (recording_id, tag)
);
CREATE INDEX IF NOT EXISTS recording_tags_tag ON recording_tags (tag);
"""

_COLUMNS = ("id, call_id, caller, callee, queue, started_at, duration_s, size_bytes, path,"
            " format, status")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingInfo:
    id: str
    call_id: str
    caller: str  # left channel
    callee: str  # right channel
    started_at: float  # wall clock, Unix seconds
    path: str
    format: Format = "stereo"
    queue: str | None = None
    duration_s: float = 0.0
    size_bytes: int = 0
    status: Status = "recording"
    tags: tuple[str, ...] = ()


class RecordingIndex:
    def __init__(self, db_path: str | Path, *, synchronous: str = "normal") -> None:
        p = Path(db_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _tx(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                db.execute(sql, args)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- writes -------------------------------------------------------------------------
    def add(self, info: RecordingInfo) -> None:
        """Insert a new recording (normally status "recording") and its tags."""
        stmts: list[tuple[str, Sequence[Any]]] = [(
            f"INSERT INTO recordings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.id, info.call_id, info.caller, info.callee, info.queue, info.started_at,
             info.duration_s, info.size_bytes, info.path, info.format, info.status),
        )]
        stmts += [("INSERT OR IGNORE INTO recording_tags VALUES (?, ?)", (info.id, t))
                  for t in info.tags]
        try:
            self._tx(stmts)
        except sqlite3.IntegrityError as exc:
            raise RecordingError(f"recording id {info.id!r} already exists") from exc

    def finish(self, recording_id: str, *, duration_s: float, size_bytes: int,
               status: Status = "complete") -> RecordingInfo:
        self._tx([("UPDATE recordings SET duration_s = ?, size_bytes = ?, status = ?"
                   " WHERE id = ?", (duration_s, size_bytes, status, recording_id))])
        return self.get(recording_id)

    def tag(self, recording_id: str, *tags: str) -> None:
        self.get(recording_id)  # unknown id -> RecordingError
        self._tx([("INSERT OR IGNORE INTO recording_tags VALUES (?, ?)", (recording_id, t))
                  for t in tags])

    def untag(self, recording_id: str, *tags: str) -> None:
        self._tx([("DELETE FROM recording_tags WHERE recording_id = ? AND tag = ?",
                   (recording_id, t)) for t in tags])

    def delete(self, recording_id: str) -> bool:
        """Remove the file, then the row. False if there is no such recording."""
        try:
            info = self.get(recording_id)
        except RecordingError:
            return False
        _unlink(info.path)
        self._tx([("DELETE FROM recordings WHERE id = ?", (recording_id,))])
        return True

    def purge(self, now: float, retention_days: float = 90.0) -> list[str]:
        """Delete (file and row) finished recordings started before now - retention."""
        cutoff = now - retention_days * DAY_S
        rows = self.db.execute(
            "SELECT id, path FROM recordings WHERE started_at < ? AND status != 'recording'",
            (cutoff,)).fetchall()
        done: list[str] = []
        try:
            for rid, path in rows:
                _unlink(path)
                done.append(rid)
        finally:  # rows of the files already gone go too, even if a later unlink failed
            self._tx([("DELETE FROM recordings WHERE id = ?", (rid,)) for rid in done])
        return done

    # -- reads --------------------------------------------------------------------------
    def get(self, recording_id: str) -> RecordingInfo:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM recordings WHERE id = ?",
                              (recording_id,)).fetchone()
        if row is None:
            raise RecordingError(f"no recording with id {recording_id!r}")
        return self._with_tags([self._info(row)])[0]

    def search(
        self,
        *,
        party: str | None = None,
        caller: str | None = None,
        callee: str | None = None,
        call_id: str | None = None,
        queue: str | None = None,
        tag: str | None = None,
        since: float | None = None,
        until: float | None = None,
        status: Status | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[RecordingInfo]:
        """Recordings matching all given criteria, newest first.

        `party` matches caller or callee; `since`/`until` bound the start time
        (since ≤ started_at < until, Unix seconds).
        """
        where: list[str] = []
        args: list[Any] = []
        if party is not None:
            where.append("(caller = ? OR callee = ?)")
            args += [party, party]
        for col, val in (("caller", caller), ("callee", callee), ("call_id", call_id),
                         ("queue", queue), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        if until is not None:
            where.append("started_at < ?")
            args.append(until)
        if tag is not None:
            where.append("id IN (SELECT recording_id FROM recording_tags WHERE tag = ?)")
            args.append(tag)
        sql = f"SELECT {_COLUMNS} FROM recordings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id LIMIT ? OFFSET ?"
        rows = self.db.execute(sql, (*args, limit, offset)).fetchall()
        return self._with_tags([self._info(r) for r in rows])

    def unfinished(self) -> list[RecordingInfo]:
        """Recordings left in status "recording" (the process died): for repair."""
        return self.search(status="recording", limit=1_000_000)

    @staticmethod
    def _info(r: Sequence[Any]) -> RecordingInfo:
        return RecordingInfo(id=r[0], call_id=r[1], caller=r[2], callee=r[3], queue=r[4],
                             started_at=r[5], duration_s=r[6], size_bytes=r[7], path=r[8],
                             format=r[9], status=r[10])

    def _with_tags(self, infos: list[RecordingInfo]) -> list[RecordingInfo]:
        if not infos:
            return infos
        tags: dict[str, list[str]] = {}
        ids = [i.id for i in infos]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            for rid, t in self.db.execute(
                f"SELECT recording_id, tag FROM recording_tags WHERE recording_id IN ({marks})"
                " ORDER BY tag", part):
                tags.setdefault(rid, []).append(t)
        return [replace(i, tags=tuple(tags.get(i.id, ()))) for i in infos]


def _unlink(path: str) -> None:
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot delete: {exc.strerror}") from exc
