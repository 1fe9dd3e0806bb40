"""Call detail records: one row per call in the switch's SQLite database (WAL).

Sans-I/O in spirit: every instant is passed in as an argument (epoch seconds from the
runtime's `Clock`); nothing here reads a clock.

Lifecycle of a row::

    open_call(start)  ->  answer(at)?  ->  close_call(end, disposition, side, cause)
                  \\__ heartbeat(now) refreshes last_alive of every open call __/

Durability contract ("write before you acknowledge"): every write method commits before
it returns. The B2BUA must call `close_call` -- and so have the CDR committed -- before
it sends the final response to a BYE (or the 487 to a CANCELled INVITE, or the final
error response), so that a CDR exists for every call a peer saw end. In group-commit
mode (`group_commit=True`) writes queue instead and `flush()` commits them in one
transaction: then the caller must flush before sending those responses (heartbeats
still commit at once).

Crash recovery: a process killed with SIGKILL leaves its calls open. The runtime calls
`heartbeat(now)` every few seconds (one UPDATE for all open calls), and at start-up, before
accepting traffic, `recover_interrupted(now)`, which closes every call still open as
INTERRUPTED with `end` = the last instant it was known alive.

The CDR table lives in the same database file as the registrations: construct with the
`sqlite3.Connection` of `switch.storage.Store` (``CdrStore(store.db)``) or with a path,
in which case the file is opened in WAL mode. Writes must not be made while the
connection is inside a transaction somebody else opened (that would commit their work
too): `CdrError` is raised instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from switch.errors import SwitchError

__all__ = [
    "CdrError",
    "CdrRecord",
    "CdrStore",
    "Disposition",
    "HangupSide",
    "disposition_for_status",
]


class CdrError(SwitchError):
    """Misuse of the CDR store (such as writing inside a foreign transaction)."""


class Disposition(StrEnum):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"  # the switch died with the call open (see recover_interrupted)


class HangupSide(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"
    SWITCH = "switch"


_BUSY: Final = frozenset({486, 600})
_NO_ANSWER: Final = frozenset({408, 480})


def disposition_for_status(status: int) -> Disposition:
    """The disposition of a call whose INVITE ended with the final SIP `status`.

    2xx -> ANSWERED; 486, 600 -> BUSY; 408, 480 -> NO ANSWER; 487 -> CANCELLED;
    any other status >= 300 -> FAILED. Provisional (1xx) or invalid codes are not final
    and raise ValueError.
    """
    if 200 <= status < 300:
        return Disposition.ANSWERED
    if status in _BUSY:
        return Disposition.BUSY
    if status in _NO_ANSWER:
        return Disposition.NO_ANSWER
    if status == 487:
        return Disposition.CANCELLED
    if 300 <= status < 700:
        return Disposition.FAILED
    raise ValueError(f"{status} is not a final SIP status")


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrRecord:
    call_id: str  # the A-leg Call-ID
    caller: str
    callee: str
    start: float  # when the INVITE arrived
    answer: float | None
    end: float | None  # None while the call is in progress
    duration: float | None  # end - start
    billsec: float | None  # end - answer, or 0 when never answered
    disposition: Disposition | None
    hangup_side: HangupSide | None
    sip_cause: int | None  # final SIP status, or the status carried by the BYE's Reason
    last_alive: float

    @property
    def is_open(self) -> bool:
        return self.end is None


SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS cdr (
    id          INTEGER PRIMARY KEY,
    call_id     TEXT NOT NULL UNIQUE,
    caller      TEXT NOT NULL,
    callee      TEXT NOT NULL,
    start       REAL NOT NULL,
    answer      REAL,
    "end"       REAL,
    duration    REAL,
    billsec     REAL,
    disposition TEXT,
    hangup_side TEXT,
    sip_cause   INTEGER,
    last_alive  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cdr_start ON cdr (start);
CREATE INDEX IF NOT EXISTS cdr_open ON cdr (call_id) WHERE "end" IS NULL;
"""

_COLUMNS: Final = (
    'call_id, caller, callee, start, answer, "end", duration, billsec, disposition,'
    " hangup_side, sip_cause, last_alive"
)

_OPEN: Final = """
INSERT INTO cdr (call_id, caller, callee, start, last_alive) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (call_id) DO NOTHING
"""
_ANSWER: Final = """
UPDATE cdr SET answer = ?1, last_alive = MAX(last_alive, ?1)
WHERE call_id = ?2 AND answer IS NULL AND "end" IS NULL
"""
# Duration and billsec are computed by SQLite from the stored start/answer, in the
# same statement as the close, so a close is one atomic write.
_CLOSE: Final = """
UPDATE cdr SET
    "end" = ?1,
    duration = MAX(0, ?1 - start),
    billsec = CASE WHEN answer IS NULL THEN 0 ELSE MAX(0, ?1 - answer) END,
    disposition = ?2, hangup_side = ?3, sip_cause = ?4,
    last_alive = MAX(last_alive, ?1)
WHERE call_id = ?5 AND "end" IS NULL
"""
_HEARTBEAT: Final = 'UPDATE cdr SET last_alive = MAX(last_alive, ?) WHERE "end" IS NULL'
# last_alive is never earlier than start or answer (open_call and answer set it), so the
# recovered end is the last instant the call was known to exist; `now` only caps it.
_RECOVER: Final = """
UPDATE cdr SET
    "end" = MIN(last_alive, ?1),
    duration = MAX(0, MIN(last_alive, ?1) - start),
    billsec = CASE WHEN answer IS NULL THEN 0 ELSE MAX(0, MIN(last_alive, ?1) - answer) END,
    disposition = ?2, hangup_side = NULL, sip_cause = NULL
WHERE "end" IS NULL
"""


class CdrStore:
    """The `cdr` table. Every write commits before returning (see the module docstring)."""

    def __init__(self, db: sqlite3.Connection | Path | str, *, group_commit: bool = False
                 ) -> None:
        """`group_commit`: writes queue up and `flush()` commits them in one transaction;
        the caller must flush before acknowledging anything that depends on them (the
        switch flushes once per event-loop turn, before the BYE's 200 leaves)."""
        self.group_commit = group_commit
        self._pending: list[tuple[str, tuple[object, ...]]] = []
        if isinstance(db, sqlite3.Connection):
            self.db = db
            self._owned = False
        else:
            path = Path(db)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._owned = True
        self._ensure_free()
        self.db.executescript(SCHEMA)  # executescript commits; IF NOT EXISTS throughout

    def close(self) -> None:
        """Close the connection if this store opened it (a borrowed one stays open)."""
        if self._owned:
            self.db.close()

    # -- writes (each one commits) --------------------------------------------------
    def open_call(self, call_id: str, caller: str, callee: str, start: float) -> bool:
        """Record a new call when its INVITE arrives. False if `call_id` already has a row
        (a retransmitted INVITE): the first row holds."""
        return self._write(_OPEN, (call_id, caller, callee, start, start)) == 1

    def answer(self, call_id: str, at: float) -> bool:
        """Mark the call answered at `at`. Only the first answer of an open call counts."""
        return self._write(_ANSWER, (at, call_id)) == 1

    def close_call(
        self, call_id: str, end: float, disposition: Disposition,
        hangup_side: HangupSide | None, sip_cause: int | None,
    ) -> bool:
        """Close the call: duration = end - start, billsec = end - answer (0 unanswered).

        Idempotent: closing a closed (or unknown) call changes nothing and returns False;
        the first close holds. Must return before the final BYE/CANCEL response is sent.
        """
        params = (end, str(disposition), None if hangup_side is None else str(hangup_side),
                  sip_cause, call_id)
        return self._write(_CLOSE, params) == 1

    def heartbeat(self, now: float) -> int:
        """Set last_alive = now on every open call (one UPDATE). Returns how many.

        Committed at once even in group-commit mode: it comes from a housekeeping timer,
        not from a message whose turn ends with a flush, and a heartbeat left queued
        would leave a stale last_alive for a kill -9 to find."""
        return self._write(_HEARTBEAT, (now,), immediate=True)

    def recover_interrupted(self, now: float) -> int:
        """At start-up: close every call left open by a dead process as INTERRUPTED.

        end = its last_alive (capped at `now`), duration and billsec computed from it,
        hangup_side and sip_cause NULL. Returns the number of calls closed.
        """
        return self._write(_RECOVER, (now, str(Disposition.INTERRUPTED)))

    # -- reads ----------------------------------------------------------------------
    def get(self, call_id: str) -> CdrRecord | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM cdr WHERE call_id = ?", (call_id,)
        ).fetchone()
        return None if row is None else _record(row)

    def recent(self, limit: int = 50) -> list[CdrRecord]:
        """The `limit` most recently started calls, newest first (open ones included)."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM cdr ORDER BY start DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_record(row) for row in rows]

    def open_calls(self) -> list[CdrRecord]:
        """Calls without an end, oldest first."""
        rows = self.db.execute(
            f'SELECT {_COLUMNS} FROM cdr WHERE "end" IS NULL ORDER BY start, id'
        ).fetchall()
        return [_record(row) for row in rows]

    # -- internals ------------------------------------------------------------------
    def _ensure_free(self) -> None:
        if self.db.in_transaction:
            raise CdrError("CDR writes commit on their own: connection is inside a transaction")

    @property
    def pending(self) -> int:
        """Writes queued by group commit and not yet flushed."""
        return len(self._pending)

    def flush(self) -> int:
        """Commit every queued write in one transaction; returns how many there were."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        self._ensure_free()
        db = self.db
        db.execute("BEGIN")
        try:
            for sql, params in pending:
                db.execute(sql, params)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._pending[:0] = pending  # keep them for the next attempt
            raise
        return len(pending)

    def _write(self, sql: str, params: tuple[object, ...], *, immediate: bool = False) -> int:
        if self.group_commit and not immediate:
            self._pending.append((sql, params))
            return 1  # queued: the row count is not known until the flush
        self._ensure_free()
        try:
            count = self.db.execute(sql, params).rowcount
        except BaseException:
            if self.db.in_transaction:  # a connection not in autocommit mode
                self.db.rollback()
            raise
        if self.db.in_transaction:  # legacy isolation level opened one implicitly
            self.db.commit()
        return count


def _record(row: tuple[object, ...]) -> CdrRecord:
    (call_id, caller, callee, start, answer, end, duration, billsec, disposition,
     hangup_side, sip_cause, last_alive) = row  # fmt: skip
    return CdrRecord(
        call_id=str(call_id), caller=str(caller), callee=str(callee),
        start=_float(start), answer=_opt_float(answer), end=_opt_float(end),
        duration=_opt_float(duration), billsec=_opt_float(billsec),
        disposition=None if disposition is None else Disposition(str(disposition)),
        hangup_side=None if hangup_side is None else HangupSide(str(hangup_side)),
        sip_cause=_opt_int(sip_cause),
        last_alive=_float(last_alive),
    )  # fmt: skip


def _float(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def _opt_float(value: object) -> float | None:
    return None if value is None else _float(value)


def _opt_int(value: object) -> int | None:
    assert value is None or isinstance(value, int)
    return value
