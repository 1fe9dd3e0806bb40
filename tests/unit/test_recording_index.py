"""Recordings index: search, tags, delete (file + row), retention purge with explicit now."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from media.recording import (
    RecordingConfig,
    RecordingError,
    RecordingIndex,
    RecordingInfo,
    RecordingPolicy,
)

DAY = 86400.0
NOW = 1_763_800_000.0


def add(index: RecordingIndex, tmp: Path, rid: str, *, caller: str, callee: str,
        days_ago: float, tags: tuple[str, ...] = (), status: str = "complete",
        queue: str | None = None) -> Path:
    path = tmp / f"{rid}.wav"
    path.write_bytes(b"RIFF")
    index.add(RecordingInfo(id=rid, call_id=f"call-{rid}", caller=caller, callee=callee,
                            started_at=NOW - days_ago * DAY, path=str(path), tags=tags,
                            queue=queue, status=status))  # type: ignore[arg-type]
    return path


@pytest.fixture
def index(tmp_path: Path) -> RecordingIndex:
    idx = RecordingIndex(tmp_path / "db" / "switch.sqlite")
    add(idx, tmp_path, "r1", caller="101", callee="200", days_ago=1, tags=("vip",))
    add(idx, tmp_path, "r2", caller="102", callee="101", days_ago=10, queue="sales")
    add(idx, tmp_path, "r3", caller="103", callee="104", days_ago=100, tags=("vip", "legal"))
    add(idx, tmp_path, "r4", caller="105", callee="106", days_ago=200, status="recording")
    return idx


def ids(infos: list[RecordingInfo]) -> list[str]:
    return [i.id for i in infos]


def test_wal_mode(index: RecordingIndex, tmp_path: Path) -> None:
    mode = sqlite3.connect(tmp_path / "db" / "switch.sqlite").execute(
        "PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_search(index: RecordingIndex) -> None:
    assert ids(index.search()) == ["r1", "r2", "r3", "r4"]  # newest first
    assert ids(index.search(party="101")) == ["r1", "r2"]
    assert ids(index.search(caller="101")) == ["r1"]
    assert ids(index.search(tag="vip")) == ["r1", "r3"]
    assert ids(index.search(since=NOW - 20 * DAY, until=NOW)) == ["r1", "r2"]
    assert ids(index.search(since=NOW - 20 * DAY, until=NOW - 5 * DAY)) == ["r2"]
    assert ids(index.search(party="101", tag="vip")) == ["r1"]
    assert ids(index.search(queue="sales")) == ["r2"]
    assert ids(index.search(limit=2, offset=1)) == ["r2", "r3"]
    assert index.get("r3").tags == ("legal", "vip")
    assert ids(index.unfinished()) == ["r4"]


def test_tag_untag(index: RecordingIndex) -> None:
    index.tag("r2", "complaint", "vip")
    index.tag("r2", "vip")  # idempotent
    assert index.get("r2").tags == ("complaint", "vip")
    index.untag("r2", "vip")
    assert index.get("r2").tags == ("complaint",)
    with pytest.raises(RecordingError, match="no recording"):
        index.tag("nope", "x")


def test_delete_removes_file_and_row(index: RecordingIndex, tmp_path: Path) -> None:
    assert (tmp_path / "r1.wav").exists()
    assert index.delete("r1")
    assert not (tmp_path / "r1.wav").exists()
    with pytest.raises(RecordingError):
        index.get("r1")
    assert not index.delete("r1")
    (tmp_path / "r2.wav").unlink()  # file already gone (crash between): row still goes
    assert index.delete("r2") and ids(index.search()) == ["r3", "r4"]
    # tags went with the row
    assert index.db.execute("SELECT COUNT(*) FROM recording_tags WHERE recording_id = 'r1'"
                            ).fetchone()[0] == 0


def test_retention_purge(index: RecordingIndex, tmp_path: Path) -> None:
    assert index.purge(NOW) == ["r3"]  # default 90 days; r4 is still recording: kept
    assert not (tmp_path / "r3.wav").exists() and (tmp_path / "r4.wav").exists()
    assert ids(index.search()) == ["r1", "r2", "r4"]
    assert index.purge(NOW, retention_days=5) == ["r2"]
    assert index.purge(NOW + 30 * DAY, retention_days=5) == ["r1"]
    assert index.purge(NOW + 30 * DAY, retention_days=5) == []


def test_duplicate_id(index: RecordingIndex, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="already exists"):
        add(index, tmp_path, "r1", caller="1", callee="2", days_ago=0)


def test_policy() -> None:
    off = RecordingPolicy(RecordingConfig())
    assert not off.should_record(caller="101", callee="102")
    users = RecordingPolicy(RecordingConfig(users=frozenset({"101"})))
    assert users.decide(caller="555", callee="101").reason == "user:101"
    assert not users.should_record(caller="555", callee="102")
    queues = RecordingPolicy(RecordingConfig(queues=frozenset({"sales"})))
    assert queues.decide(caller="5", callee="6", queue="sales").reason == "queue:sales"
    assert not queues.should_record(caller="5", callee="6", queue="support")
    every = RecordingPolicy(RecordingConfig(all_calls=True, never_users=frozenset({"999"}),
                                            format="mono"))
    d = every.decide(caller="1", callee="2")
    assert d.record and d.reason == "all" and d.format == "mono"
    assert every.decide(caller="1", callee="2", agent="999").reason == "exempt:999"
    assert not RecordingPolicy(RecordingConfig(all_calls=True, enabled=False)).should_record(
        caller="1", callee="2")
    with pytest.raises(ValueError, match="format"):
        RecordingConfig(format="flac")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retention"):
        RecordingConfig(retention_days=0)
    assert RecordingConfig().retention_days == 90
