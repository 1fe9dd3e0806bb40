"""The queue log store: SQLite in WAL mode, batched commits, survives a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from acd import events as E
from acd.commands import QueueLogEntry
from acd.core import AcdCore
from acd.model import AcdConfig, AgentConfig, Membership, QueueConfig
from acd.queue_log import QueueLogStore


def test_append_flush_reopen(tmp_path: Path) -> None:
    path = tmp_path / "acd.sqlite"
    store = QueueLogStore(path, batch_size=100)
    rows = [QueueLogEntry(time=1.5, interaction_id="c1", queue="sales", agent="NONE",
                          event="ENTERQUEUE", data=("", "+48123", "0")),
            QueueLogEntry(time=9.0, interaction_id="c1", queue="sales", agent="a1",
                          event="CONNECT", data=("7.5", "c1", "2.0"))]  # fmt: skip
    assert store.append([*rows, "not a log entry"]) == 2
    assert store.pending == 2
    store.flush()
    assert store.pending == 0
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = QueueLogStore(path)
    assert again.rows() == rows
    assert again.rows(event="CONNECT") == rows[1:]
    again.close()


def test_unflushed_rows_are_lost_flushed_survive(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    store = QueueLogStore(path, batch_size=1000)
    store.append([QueueLogEntry(time=1.0, interaction_id="a", queue="q", agent="x",
                                event="ABANDON", data=("1", "1", "3.0"))])  # fmt: skip
    store.flush()
    store.append([QueueLogEntry(time=2.0, interaction_id="b", queue="q", agent="x",
                                event="ABANDON")])  # fmt: skip
    # a second connection (another process after a crash) sees only what was committed
    other = QueueLogStore(path)
    assert [r.interaction_id for r in other.rows()] == ["a"]
    other.close()
    store.close()


def test_batch_commits_by_itself_and_long_data_kept(tmp_path: Path) -> None:
    store = QueueLogStore(tmp_path / "b.sqlite", batch_size=3)
    store.append([QueueLogEntry(time=float(i), interaction_id=f"c{i}", queue="q", agent="a",
                                event="X") for i in range(4)])  # fmt: skip
    assert store.pending == 0
    store.append([QueueLogEntry(time=5.0, interaction_id="d", queue="q", agent="a",
                                event="Y", data=tuple("abcdefg"))])  # fmt: skip
    assert store.rows(callid="d")[0].data == ("a", "b", "c", "d", "e|f|g")
    store.close()
    with pytest.raises(ValueError):
        QueueLogStore(tmp_path / "c.sqlite", batch_size=0)


def test_core_log_persisted(tmp_path: Path) -> None:
    core = AcdCore(AcdConfig(queues=(QueueConfig(name="q", wrapup_s=0),),
                             agents=(AgentConfig(agent_id="a", queues=(Membership(queue="q"),)),)))
    store = QueueLogStore(tmp_path / "core.sqlite")
    timeline: list[tuple[E.Event, float]] = [(E.AgentLoggedIn(agent_id="a"), 0.0),
                    (E.InteractionArrived(interaction_id="c1", queue="q"), 1.0),
                    (E.OfferAccepted(interaction_id="c1", agent_id="a"), 3.0),
                    (E.InteractionEnded(interaction_id="c1", by="agent"), 60.0)]
    for ev, now in timeline:
        store.append(core.handle(ev, now))
        store.flush()  # before acknowledging the event
    store.close()
    events = [r.event for r in QueueLogStore(tmp_path / "core.sqlite").rows()]
    assert events == ["AGENTLOGIN", "ENTERQUEUE", "OFFER", "CONNECT", "COMPLETEAGENT"]
