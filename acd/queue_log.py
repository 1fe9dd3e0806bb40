"""Persisting the ACD's queue log (Asterisk queue_log-like) to SQLite in WAL mode.

The core emits `QueueLogEntry` records among its commands; the glue passes them to
`QueueLogStore.append` and calls `flush()` (one commit for the batch) before it
acknowledges the event that caused them, so an acknowledged event's log survives a
crash. Rows: ``time | callid | queuename | agent | event | data1..data5``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from acd.commands import QueueLogEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_log (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    callid TEXT NOT NULL,
    queuename TEXT NOT NULL,
    agent TEXT NOT NULL,
    event TEXT NOT NULL,
    data1 TEXT NOT NULL DEFAULT '',
    data2 TEXT NOT NULL DEFAULT '',
    data3 TEXT NOT NULL DEFAULT '',
    data4 TEXT NOT NULL DEFAULT '',
    data5 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_log_time ON queue_log(time);
CREATE INDEX IF NOT EXISTS queue_log_callid ON queue_log(callid);
"""


class QueueLogStore:
    """Append-only queue log; `append` buffers in a transaction, `flush` commits."""

    def __init__(self, path: str | Path, *, batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.path = str(path)
        self.batch_size = batch_size
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()
        self._pending = 0

    def append(self, records: Iterable[object]) -> int:
        """Store the QueueLogEntry items of `records` (other commands are skipped).
        Commits by itself every `batch_size` rows; call `flush` to commit the rest."""
        rows = []
        for r in records:
            if isinstance(r, QueueLogEntry):
                d = (tuple(r.data) + ("",) * 5)[:5]
                if len(r.data) > 5:  # keep everything: the rest joined into data5
                    d = (*r.data[:4], "|".join(r.data[4:]))
                rows.append((r.time, r.interaction_id, r.queue, r.agent, r.event, *d))
        if rows:
            self._db.executemany(
                "INSERT INTO queue_log (time, callid, queuename, agent, event,"
                " data1, data2, data3, data4, data5) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._pending += len(rows)
            if self._pending >= self.batch_size:
                self.flush()
        return len(rows)

    def flush(self) -> None:
        self._db.commit()
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def rows(
        self, *, callid: str | None = None, event: str | None = None
    ) -> list[QueueLogEntry]:
        sql = "SELECT time, callid, queuename, agent, event, data1, data2, data3, data4, data5"
        sql += " FROM queue_log WHERE 1=1"
        args: list[str] = []
        if callid is not None:
            sql += " AND callid = ?"
            args.append(callid)
        if event is not None:
            sql += " AND event = ?"
            args.append(event)
        out = []
        for t, c, q, a, e, *data in self._db.execute(sql + " ORDER BY id", args):
            while data and data[-1] == "":
                data.pop()
            out.append(QueueLogEntry(time=t, interaction_id=c, queue=q, agent=a, event=e,
                                     data=tuple(data)))  # fmt: skip
        return out

    def close(self) -> None:
        self.flush()
        self._db.close()
