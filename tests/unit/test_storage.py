"""The SQLite store (WAL) on a temporary directory: group commits, round trips, secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from switch.registrar import Binding, BindingChange, Registrar, RegistrarPolicy
from switch.sip.flow import Flow
from switch.sip.message import Request, parse_message
from switch.storage import Store

NOW = 1_700_000_000.0


def binding(contact: str, extension: str = "alice", **changes: object) -> Binding:
    fields: dict[str, object] = dict(
        extension=extension, contact=contact, instance=None, expires_at=NOW + 3600,
        call_id="call-1", cseq=1, q=None, transport="udp", source_host="192.0.2.10",
        source_port=5062, local_host="192.0.2.1", local_port=5060,
        user_agent="TestPhone/1.0", updated_at=NOW,
    )  # fmt: skip
    fields.update(changes)
    return Binding(**fields)  # type: ignore[arg-type]


def upsert(b: Binding) -> BindingChange:
    return BindingChange(b.extension, b.key, b)


def delete(b: Binding) -> BindingChange:
    return BindingChange(b.extension, b.key, None)


A = binding("sip:alice@192.0.2.10:5062")
B = binding("sip:alice@192.0.2.11:5062", q=0.5, user_agent="")
C = binding("sip:bob@192.0.2.20", extension="bob", instance='"<urn:uuid:1>"',
            transport="tcp", cseq=7)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data" / "switch.db")
    yield s  # type: ignore[misc]
    s.close()


def by_key(bindings: list[Binding]) -> dict[tuple[str, str], Binding]:
    return {(b.extension, b.key): b for b in bindings}


def test_creates_the_directory_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "switch.db"
    store = Store(path)
    try:
        assert path.exists()
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # NORMAL (1) by default, FULL (2) on request.
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1
    finally:
        store.close()
    full = Store(path, synchronous="full")
    try:
        assert full.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert full.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        full.close()


def test_empty_store(store: Store) -> None:
    assert store.load_bindings() == []
    assert store.get_secrets() == {}
    store.apply([])
    assert store.load_bindings() == []


def test_bindings_round_trip(store: Store) -> None:
    store.apply([upsert(A), upsert(B), upsert(C)])
    assert by_key(store.load_bindings()) == by_key([A, B, C])


def test_round_trip_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "switch.db"
    first = Store(path)
    first.apply([upsert(A), upsert(C)])
    first.close()
    second = Store(path)
    try:
        assert by_key(second.load_bindings()) == by_key([A, C])
    finally:
        second.close()


def test_upsert_replaces_and_delete_removes_in_one_call(store: Store) -> None:
    store.apply([upsert(A), upsert(B)])
    refreshed = binding(A.contact, cseq=2, expires_at=NOW + 7200, updated_at=NOW + 10)
    store.apply([upsert(refreshed), delete(B), upsert(C)])
    assert by_key(store.load_bindings()) == by_key([refreshed, C])
    store.apply([delete(C), delete(C)])  # deleting what is gone is harmless
    assert by_key(store.load_bindings()) == by_key([refreshed])


def test_changes_apply_in_order(store: Store) -> None:
    """A group commit holds the changes of several requests: the last one for a key wins."""
    store.apply([upsert(A), delete(A)])  # registered, then removed in the same turn
    assert store.load_bindings() == []
    store.apply([delete(B), upsert(B)])  # removed, then registered again
    assert by_key(store.load_bindings()) == by_key([B])
    later = binding(B.contact, cseq=3, updated_at=NOW + 5)
    store.apply([upsert(binding(B.contact, cseq=2)), upsert(later)])
    assert by_key(store.load_bindings()) == by_key([later])


def test_registrar_state_round_trips_through_the_store(store: Store) -> None:
    """What a registrar emits, applied and loaded back, restores the same bindings."""
    registrar = Registrar(RegistrarPolicy(max_contacts_per_user=2))
    request = parse_message(
        b"REGISTER sip:switch.test SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1\r\n"
        b"From: <sip:alice@switch.test>;tag=f\r\nTo: <sip:alice@switch.test>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 REGISTER\r\nExpires: 600\r\n"
        b"Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>, <sip:alice@192.0.2.12>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(request, Request)
    flow = Flow("udp", ("192.0.2.10", 5062), ("192.0.2.1", 5060))
    # Three contacts over a limit of two: an upsert and an eviction of the same key.
    changes = registrar.register(request, "alice", flow, NOW, "t").changes
    store.apply(changes)
    restored = Registrar(RegistrarPolicy())
    restored.load(store.load_bindings(), NOW)
    assert by_key(restored.all_bindings()) == by_key(registrar.all_bindings())
    store.apply(registrar.expire(NOW + 600))
    assert store.load_bindings() == []


def test_failed_apply_rolls_back_everything(store: Store) -> None:
    store.apply([upsert(A)])
    bad = binding("sip:alice@192.0.2.99", user_agent=None)  # NOT NULL violated
    with pytest.raises(sqlite3.IntegrityError):
        store.apply([delete(A), upsert(B), upsert(bad)])
    assert by_key(store.load_bindings()) == by_key([A])
    store.apply([upsert(B)])  # and the connection is usable afterwards
    assert by_key(store.load_bindings()) == by_key([A, B])


def test_secrets_put_and_get(store: Store) -> None:
    store.put_secrets({"1001": "s3cret", "1002": "other"})
    assert store.get_secrets() == {"1001": "s3cret", "1002": "other"}
    store.put_secrets({"1001": "changed"})
    assert store.get_secrets() == {"1001": "changed", "1002": "other"}
    store.put_secrets({})
    assert store.get_secrets() == {"1001": "changed", "1002": "other"}
