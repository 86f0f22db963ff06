"""The invite server's storage, every behaviour on both backends: SQLite (a real file) and
PostgreSQL (a real server, started by scripts/with-postgres; marker ``postgres``).

Single use is the database's decision, so the races here are real: threads, and two
storages on one database standing for two server instances.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spconnect.errors import StorageUnavailable
from spconnect.serve import storage as storage_module
from spconnect.serve.storage import (
    CONNECTED,
    EXPIRED,
    FAILED,
    PENDING,
    STATE_RETENTION_SECONDS,
    Invite,
    RecipientKey,
    SqliteStorage,
    Storage,
    digest,
    open_storage,
)

NOW = 1_800_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "db" / "invites.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    opened = open_storage(database_url)
    yield opened
    opened.close()


def make_invite(storage: Storage, invite_id: str = "inv" + "x" * 19, **fields: object) -> Invite:
    storage.add_key(RecipientKey("k1", "public-key-text", "laptop", NOW))
    values: dict[str, object] = {
        "id": invite_id,
        "key_id": "k1",
        "profile": "acme",
        "marketplace": "ATVPDKIKX0DER",
        "kind": "seller",
        "reauth": False,
        "expected_selling_partner_id": None,
        "note": "for Acme",
        "status": PENDING,
        "selling_partner_id": None,
        "created_at": NOW,
        "expires_at": NOW + 3600,
        "connected_at": None,
        "failure": None,
        "open_enrollment": False,
        "sealed": None,
    }
    values.update(fields)
    invite = Invite(**values)  # type: ignore[arg-type]
    storage.add_invite(invite, "invite_created", "profile acme")
    return invite


def all_at_once(count: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` in ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_opening_twice_keeps_the_tables_and_their_rows(database_url: str) -> None:
    first = open_storage(database_url)
    make_invite(first)
    first.close()
    second = open_storage(database_url)
    assert second.invite("inv" + "x" * 19) is not None
    second.close()


def test_an_invite_round_trips_with_its_types(storage: Storage) -> None:
    invite = make_invite(storage, reauth=True, expected_selling_partner_id="A1EXPECTED")
    assert storage.invite(invite.id) == invite
    assert storage.invite("missing") is None


def test_invites_are_listed_newest_first_and_bounded(storage: Storage) -> None:
    for n in range(5):
        make_invite(storage, f"inv{n:019d}", created_at=NOW + n)
    listed = [i.id for i in storage.invites(3)]
    assert listed == [f"inv{n:019d}" for n in (4, 3, 2)]


def test_the_admin_token_is_kept_as_a_hash_and_set_once(storage: Storage) -> None:
    assert storage.set_admin_token("first-token-value", NOW, replace=False)
    assert not storage.set_admin_token("second-token-value", NOW, replace=False)
    assert storage.admin_token_matches("first-token-value")
    assert not storage.admin_token_matches("second-token-value")
    assert not storage.admin_token_matches("")
    assert storage.set_admin_token("rotated-token-value", NOW, replace=True)
    assert storage.admin_token_matches("rotated-token-value")
    assert not storage.admin_token_matches("first-token-value")
    events = [e.event for e in storage.audit_log()]
    assert events == ["admin_token_set", "admin_token_rotated"]


def test_concurrent_first_starts_store_exactly_one_admin_token(database_url: str) -> None:
    instances = [open_storage(database_url) for _ in range(4)]
    stored = all_at_once(
        4, lambda i: instances[i].set_admin_token(f"token-{i}-long", NOW, replace=False)
    )
    assert stored.count(True) == 1
    winner = stored.index(True)
    assert instances[0].admin_token_matches(f"token-{winner}-long")
    for instance in instances:
        instance.close()


def test_keys_are_idempotent_and_the_newest_is_found(storage: Storage) -> None:
    assert storage.newest_key() is None
    storage.add_key(RecipientKey("k1", "pk1", None, NOW))
    storage.add_key(RecipientKey("k1", "pk1", None, NOW))
    storage.add_key(RecipientKey("k2", "pk2", "ci", NOW + 5))
    assert storage.key("k1") == RecipientKey("k1", "pk1", None, NOW)
    newest = storage.newest_key()
    assert newest is not None and newest.id == "k2"
    assert [e.event for e in storage.audit_log()].count("key_added") == 2


def test_a_status_change_happens_once_however_many_ask(database_url: str) -> None:
    """Two instances (two storages on one database), four threads each: one wins."""
    instances = [open_storage(database_url) for _ in range(2)]
    invite = make_invite(instances[0])
    won = all_at_once(
        8,
        lambda i: instances[i % 2].change_status(
            invite.id,
            allowed=(PENDING,),
            to=CONNECTED,
            now=NOW,
            event="connected",
            sealed=f"blob-{i}",
            selling_partner_id="A1SELLER",
            connected_at=NOW,
        ),
    )
    assert won.count(True) == 1
    stored = instances[1].invite(invite.id)
    assert stored is not None and stored.status == CONNECTED
    assert stored.sealed == f"blob-{won.index(True)}"
    assert [e.event for e in instances[0].audit_log(invite.id)] == ["invite_created", "connected"]
    for instance in instances:
        instance.close()


def test_a_status_change_respects_the_allowed_states_and_expiry(storage: Storage) -> None:
    invite = make_invite(storage)
    assert not storage.change_status(
        invite.id, allowed=(CONNECTED,), to=FAILED, now=NOW, event="failed"
    )
    assert not storage.change_status(
        invite.id, allowed=(PENDING,), to=FAILED, now=NOW + 3600, event="failed", unexpired=True
    )
    assert storage.change_status(
        invite.id, allowed=(PENDING,), to=FAILED, now=NOW, event="failed", failure="why"
    )
    stored = storage.invite(invite.id)
    assert stored is not None and (stored.status, stored.failure) == (FAILED, "why")
    with pytest.raises(ValueError):
        storage.change_status(invite.id, allowed=(FAILED,), to=FAILED, now=NOW, event="x", id="y")


def test_expiry_marks_only_pending_invites_past_their_time(storage: Storage) -> None:
    due = make_invite(storage, "due" + "x" * 19, expires_at=NOW)
    later = make_invite(storage, "later" + "x" * 17, expires_at=NOW + 10)
    done = make_invite(storage, "done" + "x" * 18, expires_at=NOW, status=CONNECTED)
    assert storage.expire_due(NOW) == [due.id]
    assert storage.expire_due(NOW) == []
    statuses = {i.id: i.status for i in storage.invites(10)}
    assert statuses == {due.id: EXPIRED, later.id: PENDING, done.id: CONNECTED}
    assert [e.event for e in storage.audit_log(due.id)] == ["invite_created", "expired"]


def test_a_state_is_spent_once_and_only_by_its_browser(database_url: str) -> None:
    instances = [open_storage(database_url) for _ in range(2)]
    invite = make_invite(instances[0])
    instances[0].add_state("the-state", invite.id, "browser-a", NOW, NOW + 600)
    other = instances[1].spend_state("the-state", "browser-b", NOW + 1)
    assert other.outcome == "other_browser" and other.invite_id is None
    results = all_at_once(8, lambda i: instances[i % 2].spend_state("the-state", "browser-a", NOW))
    outcomes = sorted(r.outcome for r in results)  # type: ignore[attr-defined]
    assert outcomes == ["ok"] + ["used"] * 7
    assert all(r.invite_id == invite.id for r in results)  # type: ignore[attr-defined]
    assert instances[0].spend_state("forged", "browser-a", NOW).outcome == "unknown"
    for instance in instances:
        instance.close()


def test_an_expired_state_is_not_spent(storage: Storage) -> None:
    invite = make_invite(storage)
    storage.add_state("the-state", invite.id, "browser-a", NOW, NOW + 600)
    assert storage.spend_state("the-state", "browser-a", NOW + 600).outcome == "expired"
    assert storage.live_state_of("browser-a", NOW + 600) is None


def test_states_and_browsers_are_kept_only_as_hashes(storage: Storage, database_url: str) -> None:
    invite = make_invite(storage)
    storage.add_state("state-in-clear-123", invite.id, "browser-in-clear-456", NOW, NOW + 600)
    with storage._tx(write=False) as tx:  # the rows as a thief would read them
        rows = tx.all("SELECT * FROM consent_states")
    text = repr(rows)
    assert "state-in-clear-123" not in text and "browser-in-clear-456" not in text
    assert digest("state-in-clear-123") in text


def test_the_login_uri_hop_replaces_the_browsers_newest_live_state(storage: Storage) -> None:
    invite = make_invite(storage)
    storage.add_state("older", invite.id, "browser-a", NOW, NOW + 600)
    storage.add_state("newer", invite.id, "browser-a", NOW + 1, NOW + 601)
    live = storage.live_state_of("browser-a", NOW + 2)
    assert live == (digest("newer"), invite.id)
    assert storage.add_state(
        "hop", invite.id, "browser-a", NOW + 2, NOW + 602, replaces_hash=live[0]
    )
    assert storage.spend_state("newer", "browser-a", NOW + 3).outcome == "used"
    # The replaced state was spent meanwhile: the hop does not go ahead.
    assert not storage.add_state(
        "hop-2", invite.id, "browser-a", NOW + 3, NOW + 603, replaces_hash=live[0]
    )
    assert storage.spend_state("hop", "browser-a", NOW + 4).outcome == "ok"
    events = [e.event for e in storage.audit_log(invite.id)]
    assert events == [
        "invite_created",
        "consent_started",
        "consent_started",
        "login_uri_hop",
        "answer_received",
    ]


def test_an_open_enrollment_state_has_no_invite_but_its_marketplace(storage: Storage) -> None:
    storage.add_state("open", None, "browser-a", NOW, NOW + 600, marketplace="A1PA6795UKMFR9")
    spent = storage.spend_state("open", "browser-a", NOW)
    assert (spent.outcome, spent.invite_id, spent.marketplace) == ("ok", None, "A1PA6795UKMFR9")
    assert storage.audit_log() == []  # nothing happened to any invite


def test_old_states_are_deleted_after_a_day(storage: Storage) -> None:
    invite = make_invite(storage)
    storage.add_state("old", invite.id, "browser-a", NOW, NOW + 600)
    later = NOW + 600 + STATE_RETENTION_SECONDS + 1
    storage.add_state("new", invite.id, "browser-a", later, later + 600)
    assert storage.spend_state("old", "browser-a", later).outcome == "unknown"


def test_a_database_of_another_schema_version_is_refused(storage: Storage) -> None:
    with storage._tx() as tx:
        tx.run("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(StorageUnavailable, match="schema version '99'"):
        storage.initialize()


def test_a_sqlite_database_is_private(tmp_path: Path) -> None:
    """SQLite only: a PostgreSQL database has no file of ours."""
    storage = open_storage(str(tmp_path / "new-dir" / "invites.db"))
    assert isinstance(storage, SqliteStorage)
    make_invite(storage)
    assert stat.S_IMODE(os.stat(storage.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(storage.path)).st_mode) == 0o700
    for suffix in ("-wal", "-shm"):
        if os.path.exists(storage.path + suffix):
            assert stat.S_IMODE(os.stat(storage.path + suffix).st_mode) & 0o077 == 0
    storage.close()


def test_writes_of_one_server_never_wait_out_sqlites_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's busy handler is not fair: a writer that found the database locked sleeps
    while newcomers take it, and gives up at the busy timeout ("database is locked").
    Writers of one server take turns before reaching SQLite, so however many arrive at
    once, none meets that timeout (shortened here to 20 ms to show it)."""
    monkeypatch.setattr(storage_module, "CONNECT_TIMEOUT_SECONDS", 0.02)
    storage = open_storage(str(tmp_path / "invites.db"))
    invites = [make_invite(storage, f"inv{i:03d}" + "x" * 16) for i in range(40)]

    def start_consents(index: int) -> object:
        try:
            for n in range(5):
                storage.add_state(f"state-{index}-{n}", invites[index].id, "b", NOW, NOW + 60)
        except StorageUnavailable as error:
            return error.message
        return "ok"

    assert all_at_once(40, start_consents) == ["ok"] * 40
    started = [e for e in storage.audit_log() if e.event == "consent_started"]
    assert len(started) == 200
    storage.close()


def test_writers_take_turns_in_the_order_they_came() -> None:
    turns = storage_module._WriteTurns()
    order: list[int] = []

    def write(index: int) -> None:
        with turns.turn():
            order.append(index)

    with turns.turn():
        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for count, thread in enumerate(threads, start=1):
            thread.start()
            while len(turns._waiting) < count:  # queued before the next one comes
                time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_a_writer_that_waits_too_long_gives_up_and_leaves_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storage_module, "POOL_WAIT_SECONDS", 0.05)
    turns = storage_module._WriteTurns()
    gave_up: list[str] = []

    def impatient() -> None:
        try:
            with turns.turn():
                gave_up.append("got a turn")
        except StorageUnavailable as error:
            gave_up.append(error.message)

    with turns.turn():
        waiter = threading.Thread(target=impatient)
        waiter.start()
        waiter.join(5)
    assert gave_up == ["no turn to write to the database came within 0.05 s"]
    assert not turns._waiting
    with turns.turn():  # the queue still works after a writer left it
        pass
