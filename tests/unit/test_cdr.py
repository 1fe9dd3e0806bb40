"""CDRs in SQLite (WAL): lifecycle per disposition, arithmetic, heartbeat, kill -9 recovery."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from switch.cdr import (
    CdrError,
    CdrStore,
    Disposition,
    HangupSide,
    disposition_for_status,
)
from switch.storage import Store

T0 = 1_700_000_000.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "switch.db"


@pytest.fixture
def cdrs(db_path: Path) -> Iterator[CdrStore]:
    store = CdrStore(db_path)
    yield store
    store.close()


# -- the status -> disposition map ---------------------------------------------------
@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (200, Disposition.ANSWERED), (202, Disposition.ANSWERED),
        (486, Disposition.BUSY), (600, Disposition.BUSY),
        (408, Disposition.NO_ANSWER), (480, Disposition.NO_ANSWER),
        (487, Disposition.CANCELLED),
        (300, Disposition.FAILED), (404, Disposition.FAILED), (488, Disposition.FAILED),
        (500, Disposition.FAILED), (503, Disposition.FAILED), (603, Disposition.FAILED),
    ],
)  # fmt: skip
def test_disposition_for_final_status(status: int, disposition: Disposition) -> None:
    assert disposition_for_status(status) is disposition


@pytest.mark.parametrize("status", [100, 180, 183, 99, 700])
def test_non_final_status_has_no_disposition(status: int) -> None:
    with pytest.raises(ValueError):
        disposition_for_status(status)


def test_disposition_text_values() -> None:
    assert [str(d) for d in Disposition] == [
        "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CANCELLED", "INTERRUPTED",
    ]  # fmt: skip


# -- lifecycle per disposition --------------------------------------------------------
def test_answered_call_caller_hangs_up(cdrs: CdrStore) -> None:
    assert cdrs.open_call("a-leg@x", "1001", "1002", T0)
    record = cdrs.get("a-leg@x")
    assert record is not None and record.is_open
    assert (record.answer, record.end, record.duration, record.billsec) == (None,) * 4
    assert record.disposition is None and record.last_alive == T0

    assert cdrs.answer("a-leg@x", T0 + 4.5)
    assert cdrs.close_call("a-leg@x", T0 + 64.5, Disposition.ANSWERED, HangupSide.CALLER, 200)
    record = cdrs.get("a-leg@x")
    assert record is not None and not record.is_open
    assert record.caller == "1001" and record.callee == "1002"
    assert record.start == T0 and record.answer == T0 + 4.5 and record.end == T0 + 64.5
    assert record.duration == 64.5 and record.billsec == 60.0
    assert record.disposition is Disposition.ANSWERED
    assert record.hangup_side is HangupSide.CALLER and record.sip_cause == 200


@pytest.mark.parametrize(
    ("status", "side", "disposition"),
    [
        (486, HangupSide.CALLEE, Disposition.BUSY),
        (600, HangupSide.CALLEE, Disposition.BUSY),
        (480, HangupSide.CALLEE, Disposition.NO_ANSWER),
        (408, HangupSide.SWITCH, Disposition.NO_ANSWER),
        (487, HangupSide.CALLER, Disposition.CANCELLED),
        (404, HangupSide.SWITCH, Disposition.FAILED),
        (488, HangupSide.CALLEE, Disposition.FAILED),
    ],
)  # fmt: skip
def test_unanswered_calls(cdrs: CdrStore, status: int, side: HangupSide,
                          disposition: Disposition) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    assert cdrs.close_call("c1", T0 + 12.25, disposition_for_status(status), side, status)
    record = cdrs.get("c1")
    assert record is not None
    assert record.answer is None and record.end == T0 + 12.25
    assert record.duration == 12.25 and record.billsec == 0
    assert record.disposition is disposition
    assert record.hangup_side is side and record.sip_cause == status


def test_callee_hangs_up_with_bye_reason(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.answer("c1", T0 + 1)
    cdrs.close_call("c1", T0 + 3, Disposition.ANSWERED, HangupSide.CALLEE, 503)
    record = cdrs.get("c1")
    assert record is not None
    assert record.hangup_side is HangupSide.CALLEE and record.sip_cause == 503
    assert (record.duration, record.billsec) == (3.0, 2.0)


def test_close_without_side_or_cause(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.close_call("c1", T0 + 1, Disposition.FAILED, None, None)
    record = cdrs.get("c1")
    assert record is not None and record.hangup_side is None and record.sip_cause is None


def test_answer_at_the_last_instant_bills_zero(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.answer("c1", T0 + 10)
    cdrs.close_call("c1", T0 + 10, Disposition.ANSWERED, HangupSide.SWITCH, 200)
    record = cdrs.get("c1")
    assert record is not None and (record.duration, record.billsec) == (10.0, 0.0)


def test_sub_second_arithmetic_is_exact_to_the_millisecond(cdrs: CdrStore) -> None:
    start = T0 + 0.123
    cdrs.open_call("c1", "1001", "1002", start)
    cdrs.answer("c1", start + 0.5)
    cdrs.close_call("c1", start + 7.25, Disposition.ANSWERED, HangupSide.CALLER, 200)
    record = cdrs.get("c1")
    assert record is not None and record.duration is not None and record.billsec is not None
    assert record.duration == pytest.approx(7.25, abs=1e-3)
    assert record.billsec == pytest.approx(6.75, abs=1e-3)


# -- idempotence ------------------------------------------------------------------------
def test_closing_twice_keeps_the_first(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.answer("c1", T0 + 2)
    assert cdrs.close_call("c1", T0 + 10, Disposition.ANSWERED, HangupSide.CALLER, 200)
    first = cdrs.get("c1")
    assert not cdrs.close_call("c1", T0 + 20, Disposition.FAILED, HangupSide.SWITCH, 500)
    assert cdrs.get("c1") == first


def test_second_answer_and_answer_after_close_are_ignored(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    assert cdrs.answer("c1", T0 + 2)
    assert not cdrs.answer("c1", T0 + 3)
    cdrs.close_call("c1", T0 + 5, Disposition.ANSWERED, HangupSide.CALLEE, 200)
    assert not cdrs.answer("c1", T0 + 6)
    record = cdrs.get("c1")
    assert record is not None and record.answer == T0 + 2 and record.billsec == 3


def test_reopening_a_call_id_keeps_the_first_row(cdrs: CdrStore) -> None:
    assert cdrs.open_call("c1", "1001", "1002", T0)
    assert not cdrs.open_call("c1", "9999", "8888", T0 + 1)  # retransmitted INVITE
    record = cdrs.get("c1")
    assert record is not None and (record.caller, record.start) == ("1001", T0)


def test_unknown_call(cdrs: CdrStore) -> None:
    assert cdrs.get("nope") is None
    assert not cdrs.answer("nope", T0)
    assert not cdrs.close_call("nope", T0, Disposition.FAILED, None, 500)
    assert cdrs.recent(10) == []


# -- heartbeat and crash recovery -----------------------------------------------------
def test_heartbeat_touches_only_open_calls(cdrs: CdrStore) -> None:
    cdrs.open_call("open-1", "1001", "1002", T0)
    cdrs.open_call("open-2", "1002", "1001", T0 + 1)
    cdrs.open_call("done", "1001", "1003", T0)
    cdrs.close_call("done", T0 + 2, Disposition.BUSY, HangupSide.CALLEE, 486)
    assert cdrs.heartbeat(T0 + 5) == 2
    alive = {r.call_id: r.last_alive for r in cdrs.recent(10)}
    assert alive == {"open-1": T0 + 5, "open-2": T0 + 5, "done": T0 + 2}
    assert cdrs.heartbeat(T0 + 4) == 2  # never moves backwards
    assert all(r.last_alive == T0 + 5 for r in cdrs.open_calls())


def test_answer_counts_as_alive(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.heartbeat(T0 + 5)
    cdrs.answer("c1", T0 + 7)
    record = cdrs.get("c1")
    assert record is not None and record.last_alive == T0 + 7


def test_kill_9_then_recovery_from_the_file(db_path: Path) -> None:
    """A process opens calls, heartbeats, and dies without closing anything; the next
    process opens the same file and closes them as INTERRUPTED at their last_alive."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        from switch.cdr import CdrStore, Disposition, HangupSide
        from switch.storage import Store
        store = Store(Path(sys.argv[1]))
        cdrs = CdrStore(store.db)
        T0 = {T0!r}
        cdrs.open_call("ringing", "1001", "1002", T0)
        cdrs.open_call("talking", "1002", "1001", T0 + 1)
        cdrs.answer("talking", T0 + 3)
        cdrs.open_call("finished", "1001", "1003", T0)
        cdrs.answer("finished", T0 + 1)
        cdrs.close_call("finished", T0 + 4, Disposition.ANSWERED, HangupSide.CALLER, 200)
        cdrs.heartbeat(T0 + 10)
        cdrs.open_call("late", "1003", "1001", T0 + 12)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", script, str(db_path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr

    store = Store(db_path)  # the new process: same file, registrations and CDRs
    try:
        cdrs = CdrStore(store.db)
        assert len(cdrs.open_calls()) == 3
        assert cdrs.recover_interrupted(T0 + 100) == 3
        assert cdrs.open_calls() == []
        assert cdrs.recover_interrupted(T0 + 101) == 0

        ringing, talking, finished, late = (
            cdrs.get(c) for c in ("ringing", "talking", "finished", "late")
        )
        assert ringing is not None and talking is not None
        assert finished is not None and late is not None
        assert ringing.disposition is Disposition.INTERRUPTED
        assert (ringing.end, ringing.duration, ringing.billsec) == (T0 + 10, 10.0, 0.0)
        assert ringing.hangup_side is None and ringing.sip_cause is None
        assert talking.disposition is Disposition.INTERRUPTED
        assert (talking.end, talking.duration, talking.billsec) == (T0 + 10, 9.0, 7.0)
        # opened after the last heartbeat: only known alive at its start
        assert late.disposition is Disposition.INTERRUPTED
        assert (late.end, late.duration, late.billsec) == (T0 + 12, 0.0, 0.0)
        # a closed call is left alone
        assert finished.disposition is Disposition.ANSWERED
        assert (finished.end, finished.duration, finished.billsec) == (T0 + 4, 4.0, 3.0)
    finally:
        store.close()


def test_recovery_end_is_capped_at_now(cdrs: CdrStore) -> None:
    cdrs.open_call("c1", "1001", "1002", T0)
    cdrs.heartbeat(T0 + 50)  # a clock that later stepped back
    assert cdrs.recover_interrupted(T0 + 20) == 1
    record = cdrs.get("c1")
    assert record is not None and (record.end, record.duration) == (T0 + 20, 20.0)


# -- reads --------------------------------------------------------------------------------
def test_recent_is_newest_first_and_limited(cdrs: CdrStore) -> None:
    for i in range(5):
        cdrs.open_call(f"c{i}", "1001", "1002", T0 + i)
    cdrs.open_call("same-start", "1001", "1002", T0 + 4)
    assert [r.call_id for r in cdrs.recent(3)] == ["same-start", "c4", "c3"]
    assert len(cdrs.recent(100)) == 6


# -- storage ------------------------------------------------------------------------------
def test_path_store_is_wal_and_creates_schema(db_path: Path) -> None:
    store = CdrStore(db_path)
    try:
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        store.open_call("c1", "1001", "1002", T0)
    finally:
        store.close()
    again = CdrStore(db_path)  # schema already there: IF NOT EXISTS
    try:
        assert again.get("c1") is not None
    finally:
        again.close()


def test_shares_the_registrations_database(db_path: Path) -> None:
    store = Store(db_path)
    try:
        cdrs = CdrStore(store.db)
        cdrs.open_call("c1", "1001", "1002", T0)
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert {"registrations", "secrets", "cdr"} <= tables
        cdrs.close()  # borrowed: left open for the Store
        assert store.get_secrets() == {}
    finally:
        store.close()


def test_each_write_is_committed_before_returning(db_path: Path) -> None:
    writer = CdrStore(db_path)
    reader = sqlite3.connect(str(db_path))  # another connection sees only committed data
    try:
        def visible() -> tuple[object, ...] | None:
            row: tuple[object, ...] | None = reader.execute(
                'SELECT answer, "end", disposition, last_alive FROM cdr WHERE call_id = ?',
                ("c1",),
            ).fetchone()
            return row

        writer.open_call("c1", "1001", "1002", T0)
        assert visible() == (None, None, None, T0)
        writer.answer("c1", T0 + 1)
        assert visible() == (T0 + 1, None, None, T0 + 1)
        writer.heartbeat(T0 + 2)
        assert visible() == (T0 + 1, None, None, T0 + 2)
        writer.close_call("c1", T0 + 3, Disposition.ANSWERED, HangupSide.CALLER, 200)
        assert visible() == (T0 + 1, T0 + 3, "ANSWERED", T0 + 3)
    finally:
        reader.close()
        writer.close()


def test_legacy_isolation_connection_is_committed_too(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(str(db_path))  # default isolation: implicit transactions
    cdrs = CdrStore(conn)
    cdrs.open_call("c1", "1001", "1002", T0)
    assert not conn.in_transaction
    reader = sqlite3.connect(str(db_path))
    try:
        assert reader.execute("SELECT count(*) FROM cdr").fetchone() == (1,)
    finally:
        reader.close()
        conn.close()


def test_refuses_to_commit_a_foreign_transaction(db_path: Path) -> None:
    store = Store(db_path)
    try:
        cdrs = CdrStore(store.db)
        store.db.execute("BEGIN")
        with pytest.raises(CdrError):
            cdrs.open_call("c1", "1001", "1002", T0)
        store.db.execute("ROLLBACK")
        assert cdrs.open_call("c1", "1001", "1002", T0)
    finally:
        store.close()


def test_group_commit_queues_until_flush(tmp_path: Path) -> None:
    store = CdrStore(tmp_path / "g.db", group_commit=True)
    store.open_call("c1", "1001", "1002", 100.0)
    store.answer("c1", 101.0)
    store.close_call("c1", 110.0, Disposition.ANSWERED, HangupSide.CALLER, 200)
    assert store.pending == 3
    other = CdrStore(tmp_path / "g.db")  # another connection sees nothing yet
    assert other.get("c1") is None
    assert store.flush() == 3 and store.pending == 0
    record = other.get("c1")
    assert record is not None and record.billsec == 9.0


def test_heartbeat_commits_at_once_in_group_mode(tmp_path: Path) -> None:
    store = CdrStore(tmp_path / "g.db")
    store.open_call("c1", "1001", "1002", 100.0)
    store.group_commit = True
    store.answer("c1", 101.0)  # queued
    assert store.heartbeat(130.0) == 1  # not queued: a timer, not a message, calls it
    assert store.pending == 1
    other = CdrStore(tmp_path / "g.db")
    record = other.get("c1")
    assert record is not None and record.last_alive == 130.0 and record.answer is None
    store.flush()
    record = other.get("c1")
    assert record is not None and record.answer == 101.0 and record.last_alive == 130.0
