"""Durable runtime state in one SQLite database (WAL): registrations for now.

Writes are grouped: the runtime collects the changes of everything that arrived in
one event-loop turn and commits them in one transaction before any of the answers
that depend on them is sent ("write before you acknowledge").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from switch.registrar import Binding, BindingChange

SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    extension   TEXT NOT NULL,
    binding_key TEXT NOT NULL,
    contact     TEXT NOT NULL,
    instance    TEXT,
    expires_at  REAL NOT NULL,
    call_id     TEXT NOT NULL,
    cseq        INTEGER NOT NULL,
    q           REAL,
    transport   TEXT NOT NULL,
    source_host TEXT NOT NULL,
    source_port INTEGER NOT NULL,
    local_host  TEXT NOT NULL,
    local_port  INTEGER NOT NULL,
    user_agent  TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (extension, binding_key)
);
CREATE TABLE IF NOT EXISTS secrets (
    extension TEXT PRIMARY KEY,
    password  TEXT NOT NULL
);
"""

_UPSERT = """
INSERT INTO registrations (extension, binding_key, contact, instance, expires_at, call_id,
    cseq, q, transport, source_host, source_port, local_host, local_port, user_agent,
    updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (extension, binding_key) DO UPDATE SET
    contact = excluded.contact, instance = excluded.instance,
    expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq,
    q = excluded.q, transport = excluded.transport, source_host = excluded.source_host,
    source_port = excluded.source_port, local_host = excluded.local_host,
    local_port = excluded.local_port, user_agent = excluded.user_agent,
    updated_at = excluded.updated_at
"""
_DELETE = "DELETE FROM registrations WHERE extension = ? AND binding_key = ?"


class Store:
    def __init__(self, path: Path, *, synchronous: str = "normal") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (the WAL is in the OS already);
        # FULL also survives power loss, at one fsync per group commit.
        self.db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- registrations --------------------------------------------------------------
    def apply(self, changes: Iterable[BindingChange]) -> None:
        """Persist binding changes in one transaction (the group commit).

        `changes` is an ordered log (several requests, or an upsert then an eviction of
        the same key): the last change of each (extension, key) is the one that holds.
        """
        last: dict[tuple[str, str], BindingChange] = {}
        for change in changes:
            last[(change.extension, change.key)] = change
        upserts = []
        deletes = []
        for change in last.values():
            b = change.binding
            if b is None:
                deletes.append((change.extension, change.key))
            else:
                upserts.append((
                    b.extension, change.key, b.contact, b.instance, b.expires_at, b.call_id,
                    b.cseq, b.q, b.transport, b.source_host, b.source_port, b.local_host,
                    b.local_port, b.user_agent, b.updated_at,
                ))  # fmt: skip
        db = self.db
        db.execute("BEGIN")
        try:
            if deletes:
                db.executemany(_DELETE, deletes)
            if upserts:
                db.executemany(_UPSERT, upserts)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def load_bindings(self) -> list[Binding]:
        rows = self.db.execute(
            "SELECT extension, contact, instance, expires_at, call_id, cseq, q, transport,"
            " source_host, source_port, local_host, local_port, user_agent, updated_at"
            " FROM registrations"
        ).fetchall()
        return [
            Binding(
                extension=r[0], contact=r[1], instance=r[2], expires_at=r[3], call_id=r[4],
                cseq=r[5], q=r[6], transport=r[7], source_host=r[8], source_port=r[9],
                local_host=r[10], local_port=r[11], user_agent=r[12], updated_at=r[13],
            )  # fmt: skip
            for r in rows
        ]

    # -- generated demo passwords ---------------------------------------------------
    def get_secrets(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT extension, password FROM secrets").fetchall())

    def put_secrets(self, secrets: dict[str, str]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO secrets (extension, password) VALUES (?, ?)",
            list(secrets.items()),
        )
        self.db.execute("COMMIT")
