"""The invite server's storage: SQLite by default, PostgreSQL for several instances.

One interface (``Storage``), its SQL written once, two backends: SQLite through the
standard library (one file, 0600) and PostgreSQL through psycopg 3 (``--db
postgresql://…``). The server keeps no other state, so any number of instances behind
one domain can share a PostgreSQL database (issue 11, "Storage and scale").

What is kept, and why a stolen copy opens nothing:

- ``invites``: who was invited (profile name, marketplace, kind, note), the status, the
  selling partner id and timestamps, and once connected the refresh token **sealed** to
  the developer's public key (sealing.py): the server never holds the private key.
- ``consent_states``: the single-use ``state`` of each consent started, bound to its
  invite and to the browser that started it, both as SHA-256 hashes: a copy of the table
  cannot answer for a consent in progress.
- ``recipient_keys``: X25519 public keys. ``meta``: the admin token's SHA-256 hash and
  the schema version.
- ``audit_log``: every change of an invite or a state, with ids and reasons, never a
  secret.

The authorization code, the refresh token in clear and the access token are never
written. Single use is decided by the database: a conditional ``UPDATE … WHERE
used_at IS NULL`` (or ``status = 'pending'``) whose row count says who won, so two
instances answering the same ``state`` at once cannot both succeed.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote, urlsplit

from spconnect.errors import StorageUnavailable, UsageError

SCHEMA_VERSION = "1"
# Statuses of an invite (docs/serve-api.md, "An invite object").
PENDING, CONNECTED, PULLED, EXPIRED, FAILED, REVOKED = (
    "pending",
    "connected",
    "pulled",
    "expired",
    "failed",
    "revoked",
)
MAX_DETAIL_CHARS = 500
# Used and expired states are kept a day for the audit's sake, then deleted.
STATE_RETENTION_SECONDS = 24 * 3600
CONNECT_TIMEOUT_SECONDS = 10
POOL_WAIT_SECONDS = 10.0


def digest(value: str) -> str:
    """SHA-256 in hex: how states, browser cookies and the admin token are kept."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class RecipientKey:
    id: str
    public_key: str
    label: str | None
    created_at: int


@dataclass(frozen=True)
class Invite:
    """One row of ``invites``; times are seconds since the epoch. The defaults are a
    fresh pending invite's."""

    id: str
    key_id: str
    profile: str
    marketplace: str | None  # a marketplace id
    kind: str
    created_at: int
    expires_at: int
    reauth: bool = False
    expected_selling_partner_id: str | None = None
    note: str | None = None
    status: str = PENDING
    selling_partner_id: str | None = None
    connected_at: int | None = None
    failure: str | None = None
    open_enrollment: bool = False
    sealed: str | None = None


_INVITE_COLUMNS = tuple(f.name for f in fields(Invite))
# Built from the dataclass's own field names (never from a request), as is every SQL text
# below that is not a literal: values always travel as parameters.
_COLUMNS = ", ".join(_INVITE_COLUMNS)
_SELECT_INVITES = f"SELECT {_COLUMNS} FROM invites"  # noqa: S608
_PLACEHOLDERS = ", ".join("?" for _ in _INVITE_COLUMNS)
_INSERT_INVITE = f"INSERT INTO invites ({_COLUMNS}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
# The columns a status change may set besides ``status``: names from this code, never
# from a request.
_SETTABLE = frozenset(
    {"selling_partner_id", "connected_at", "failure", "sealed", "profile", "pulled_at"}
)


@dataclass(frozen=True)
class StateCheck:
    """Why a ``state`` could not be spent (or ``ok``), and the invite it belongs to."""

    outcome: str  # "ok", "unknown", "used", "expired", "other_browser"
    invite_id: str | None = None
    marketplace: str | None = None  # an open-enrollment consent's (it has no invite)


@dataclass(frozen=True)
class AuditEvent:
    at: int
    event: str
    invite_id: str | None
    detail: str | None


class _Tx:
    """One transaction: SQL written with ``?`` placeholders for either backend."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def run(self, sql: str, *params: object) -> int:
        self._cursor.execute(self._sql(sql), params)
        return int(self._cursor.rowcount)

    def one(self, sql: str, *params: object) -> tuple[Any, ...] | None:
        self._cursor.execute(self._sql(sql), params)
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def audit(self, now: int, event: str, invite_id: str | None, detail: str | None) -> None:
        self.run(
            "INSERT INTO audit_log (at, event, invite_id, detail) VALUES (?, ?, ?, ?)",
            now,
            event,
            invite_id,
            None if detail is None else detail[:MAX_DETAIL_CHARS],
        )


class _Pool:
    """At most ``size`` connections, made on demand and reused (LIFO)."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[Any] = []
        self._count = 0
        self._available = threading.Condition()

    def take(self) -> Any:
        with self._available:
            if not self._available.wait_for(
                lambda: self._idle or self._count < self._size, POOL_WAIT_SECONDS
            ):
                raise StorageUnavailable(
                    f"no database connection became free within {POOL_WAIT_SECONDS:g} s",
                    "the server is overloaded or the database is slow",
                )
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return self._connect()
        except BaseException:
            with self._available:
                self._count -= 1
                self._available.notify()
            raise

    def give_back(self, connection: Any, *, broken: bool) -> None:
        with self._available:
            if broken:
                # The server restarted or dropped us: the idle connections are most likely
                # dead too, and each would fail one request before being found out.
                for dead in (connection, *self._idle):
                    with contextlib.suppress(Exception):
                        dead.close()
                self._count -= 1 + len(self._idle)
                self._idle.clear()
            else:
                self._idle.append(connection)
            self._available.notify_all()

    def close(self) -> None:
        with self._available:
            for connection in self._idle:
                with contextlib.suppress(Exception):
                    connection.close()
            self._count -= len(self._idle)
            self._idle.clear()


class _WriteTurns:
    """One write transaction of this process at a time, in the order they arrive.

    SQLite has one writer at a time. A connection that finds the database locked sleeps
    in SQLite's busy handler, 1, 2, 5, ... up to 100 ms between tries, while a newcomer
    may take the lock the moment it is free: with 200 sellers at once some writes waited
    more than a second behind hundreds of later ones, and under more load they would
    reach the busy timeout and fail ("database is locked") after Amazon's code had been
    exchanged (benchmarks/invite_load.py). This process's writers queue here instead,
    first come first served, each woken by the one before it; SQLite's busy timeout
    still covers other processes on the file (``--rotate-admin-token``)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: collections.deque[threading.Lock] = collections.deque()
        self._taken = False

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._mutex:
            mine: threading.Lock | None = None
            if self._taken:
                mine = threading.Lock()
                mine.acquire()
                self._waiting.append(mine)
            self._taken = True
        if mine is not None and not mine.acquire(timeout=POOL_WAIT_SECONDS):
            with self._mutex:
                if mine in self._waiting:  # else the turn was handed over just now
                    self._waiting.remove(mine)
                    raise StorageUnavailable(
                        f"no turn to write to the database came within {POOL_WAIT_SECONDS:g} s",
                        "the server is overloaded or the disk is slow",
                    )
        try:
            yield
        finally:
            with self._mutex:
                if self._waiting:
                    self._waiting.popleft().release()  # the next writer's turn
                else:
                    self._taken = False


class Storage:
    """The server's database. Every method takes ``now`` (seconds since the epoch) from
    the caller, so that one clock decides expiry everywhere."""

    placeholder = "?"
    database_errors: tuple[type[BaseException], ...] = ()
    description = ""

    def __init__(self, pool: _Pool, *, write_turns: _WriteTurns | None = None) -> None:
        self._pool = pool
        self._write_turns = write_turns

    # -- plumbing -----------------------------------------------------------------------

    def _begin(self, connection: Any, write: bool) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _is_broken(self, connection: Any) -> bool:
        return False

    @contextlib.contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[_Tx]:
        turns = self._write_turns
        with turns.turn() if write and turns is not None else contextlib.nullcontext():
            connection = self._pool.take()
            broken = False
            try:
                with self._begin(connection, write) as cursor:
                    yield _Tx(cursor, self.placeholder)
            except self.database_errors as exc:
                broken = self._is_broken(connection)
                # The driver's message may quote SQL or the URL, never a secret of ours;
                # only its class is shown, as for any other failure the seller must not
                # see.
                raise StorageUnavailable(
                    f"the database failed ({type(exc).__name__}) at {self.description}",
                    "check that the database is reachable and not full",
                ) from None
            finally:
                self._pool.give_back(connection, broken=broken)

    def close(self) -> None:
        self._pool.close()

    def initialize(self) -> None:
        """Create the tables when missing (idempotent, safe for instances starting at
        once)."""
        with self._tx() as tx:
            self._lock_schema(tx)
            for statement in self._schema():
                tx.run(statement)
            tx.run(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (name) DO NOTHING",
                SCHEMA_VERSION,
            )
            row = tx.one("SELECT value FROM meta WHERE name = 'schema_version'")
        if row is None or row[0] != SCHEMA_VERSION:
            found = None if row is None else row[0]
            raise StorageUnavailable(
                f"the database at {self.description} has schema version {found!r}; this "
                f"spconnect uses {SCHEMA_VERSION!r}",
                "run the spconnect version that created it, or point --db at a new database",
            )

    def _lock_schema(self, tx: _Tx) -> None:
        """Serialise schema creation between instances (SQLite's write lock does)."""

    def _schema(self) -> list[str]:
        raise NotImplementedError

    # -- the admin token ----------------------------------------------------------------

    def set_admin_token(self, token: str, now: int, *, replace: bool) -> bool:
        """Store the token's hash; without ``replace`` only when none is stored yet
        (True when this call stored it: the first start of several instances prints one
        token)."""
        # Replacing is one upsert, not a delete and an insert: on PostgreSQL a rotation
        # racing another then stored nothing (the other's row appeared at its insert)
        # and printed a token that never worked.
        insert = (
            "INSERT INTO meta (name, value) VALUES ('admin_token_sha256', ?) ON CONFLICT (name) "
        )
        with self._tx() as tx:
            stored = tx.run(
                insert + ("DO UPDATE SET value = excluded.value" if replace else "DO NOTHING"),
                digest(token),
            )
            if stored:
                tx.audit(now, "admin_token_rotated" if replace else "admin_token_set", None, None)
        return stored == 1

    def admin_token_matches(self, token: str) -> bool:
        with self._tx(write=False) as tx:
            row = tx.one("SELECT value FROM meta WHERE name = 'admin_token_sha256'")
        # Constant time over the hashes: the comparison says nothing about the token.
        return row is not None and hmac.compare_digest(str(row[0]), digest(token))

    # -- recipient keys -----------------------------------------------------------------

    def add_key(self, key: RecipientKey) -> None:
        with self._tx() as tx:
            if tx.run(
                "INSERT INTO recipient_keys (id, public_key, label, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                key.id,
                key.public_key,
                key.label,
                key.created_at,
            ):
                tx.audit(key.created_at, "key_added", None, f"key {key.id}")

    def key(self, key_id: str) -> RecipientKey | None:
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT id, public_key, label, created_at FROM recipient_keys WHERE id = ?",
                key_id,
            )
        return None if row is None else RecipientKey(*row)

    def newest_key(self) -> RecipientKey | None:
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT id, public_key, label, created_at FROM recipient_keys "
                "ORDER BY created_at DESC, id DESC LIMIT 1"
            )
        return None if row is None else RecipientKey(*row)

    # -- invites ------------------------------------------------------------------------

    def add_invite(self, invite: Invite, event: str, detail: str | None) -> None:
        with self._tx() as tx:
            tx.run(_INSERT_INVITE, *(_to_db(getattr(invite, name)) for name in _INVITE_COLUMNS))
            tx.audit(invite.created_at, event, invite.id, detail)

    def invite(self, invite_id: str) -> Invite | None:
        with self._tx(write=False) as tx:
            row = tx.one(_SELECT_INVITES + " WHERE id = ?", invite_id)
        return None if row is None else _invite(row)

    def invites(self, limit: int, status: str | None = None) -> list[Invite]:
        """The newest ``limit`` invites (of one status, when given)."""
        order = " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._tx(write=False) as tx:
            if status is None:
                rows = tx.all(_SELECT_INVITES + order, limit)
            else:
                rows = tx.all(_SELECT_INVITES + " WHERE status = ?" + order, status, limit)
        return [_invite(row) for row in rows]

    def expire_due(self, now: int) -> list[str]:
        """Mark pending invites past their expiry as expired (audited); their ids."""
        with self._tx() as tx:
            due = [
                str(row[0])
                for row in tx.all(
                    "SELECT id FROM invites WHERE status = ? AND expires_at <= ? LIMIT 1000",
                    PENDING,
                    now,
                )
            ]
            expired = []
            for invite_id in due:
                if tx.run(
                    "UPDATE invites SET status = ? WHERE id = ? AND status = ? AND expires_at <= ?",
                    EXPIRED,
                    invite_id,
                    PENDING,
                    now,
                ):
                    tx.audit(now, "expired", invite_id, None)
                    expired.append(invite_id)
        return expired

    def change_status(
        self,
        invite_id: str,
        *,
        allowed: tuple[str, ...],
        to: str,
        now: int,
        event: str,
        detail: str | None = None,
        unexpired: bool = False,
        **columns: object,
    ) -> bool:
        """Move an invite from one of ``allowed`` to ``to`` (setting ``columns``) if it is
        in one of them (and with ``unexpired``, not past its expiry): the database
        decides, so two answers for one invite cannot both win. Audited when done."""
        unknown = set(columns) - _SETTABLE
        if unknown:
            raise ValueError(f"not a settable column: {sorted(unknown)}")
        assignments = ", ".join(["status = ?", *(f"{name} = ?" for name in columns)])
        condition = f"id = ? AND status IN ({', '.join('?' for _ in allowed)})"
        params: list[object] = [to, *(_to_db(v) for v in columns.values()), invite_id, *allowed]
        if unexpired:
            condition += " AND expires_at > ?"
            params.append(now)
        with self._tx() as tx:
            update = f"UPDATE invites SET {assignments} WHERE {condition}"  # noqa: S608
            changed = tx.run(update, *params) == 1
            if changed:
                tx.audit(now, event, invite_id, detail)
        return changed

    # -- consent states -----------------------------------------------------------------

    def add_state(
        self,
        state: str,
        invite_id: str | None,
        browser: str,
        now: int,
        expires_at: int,
        *,
        marketplace: str | None = None,
        replaces_hash: str | None = None,
    ) -> bool:
        """Record a fresh ``state`` for ``invite_id`` (None: an open-enrollment consent,
        through ``marketplace``) started by ``browser`` (its cookie). The state with
        ``replaces_hash``, which this one supersedes (the Login-URI hop), is spent in the
        same step; False when it was no longer live (spent elsewhere first)."""
        with self._tx() as tx:
            if replaces_hash is not None and not tx.run(
                "UPDATE consent_states SET used_at = ? "
                "WHERE state_hash = ? AND used_at IS NULL AND expires_at > ?",
                now,
                replaces_hash,
                now,
            ):
                return False
            tx.run("DELETE FROM consent_states WHERE expires_at < ?", now - STATE_RETENTION_SECONDS)
            tx.run(
                "INSERT INTO consent_states "
                "(state_hash, invite_id, marketplace, browser_hash, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                digest(state),
                invite_id,
                marketplace,
                digest(browser),
                now,
                expires_at,
            )
            if invite_id is not None:
                event = "login_uri_hop" if replaces_hash else "consent_started"
                tx.audit(now, event, invite_id, None)
        return True

    def live_state_of(self, browser: str, now: int) -> tuple[str, str | None] | None:
        """The newest unspent, unexpired state this browser started: (its hash, its
        invite id). For the Login-URI hop, which carries no state of ours."""
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT state_hash, invite_id FROM consent_states "
                "WHERE browser_hash = ? AND used_at IS NULL AND expires_at > ? "
                "ORDER BY created_at DESC LIMIT 1",
                digest(browser),
                now,
            )
        return None if row is None else (str(row[0]), row[1])

    def spend_state(self, state: str, browser: str, now: int) -> StateCheck:
        """Spend ``state`` if it is live and was started by ``browser``: at most once,
        whichever instance asks. Otherwise say why, and leave it as it was."""
        state_hash, browser_hash = digest(state), digest(browser)
        with self._tx() as tx:
            spent = tx.run(
                "UPDATE consent_states SET used_at = ? WHERE state_hash = ? "
                "AND used_at IS NULL AND expires_at > ? AND browser_hash = ?",
                now,
                state_hash,
                now,
                browser_hash,
            )
            row = tx.one(
                "SELECT invite_id, browser_hash, expires_at, used_at, marketplace "
                "FROM consent_states WHERE state_hash = ?",
                state_hash,
            )
            if spent and row is not None:
                if row[0] is not None:
                    tx.audit(now, "answer_received", row[0], None)
                return StateCheck("ok", row[0], row[4])
        if row is None:
            return StateCheck("unknown")
        invite_id, stored_browser, expires_at, used_at, _ = row
        if not hmac.compare_digest(str(stored_browser), browser_hash):
            return StateCheck("other_browser")
        if used_at is not None:
            return StateCheck("used", invite_id)
        return StateCheck("expired" if expires_at <= now else "unknown", invite_id)

    # -- audit --------------------------------------------------------------------------

    def audit_log(self, invite_id: str | None = None) -> list[AuditEvent]:
        with self._tx(write=False) as tx:
            if invite_id is None:
                rows = tx.all("SELECT at, event, invite_id, detail FROM audit_log ORDER BY id")
            else:
                rows = tx.all(
                    "SELECT at, event, invite_id, detail FROM audit_log "
                    "WHERE invite_id = ? ORDER BY id",
                    invite_id,
                )
        return [AuditEvent(*row) for row in rows]


def _to_db(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def _invite(row: tuple[Any, ...]) -> Invite:
    values = dict(zip(_INVITE_COLUMNS, row, strict=True))
    for name in ("reauth", "open_enrollment"):
        values[name] = bool(values[name])
    return Invite(**values)


_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipient_keys (
    id TEXT PRIMARY KEY, public_key TEXT NOT NULL, label TEXT, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS invites (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES recipient_keys (id),
    profile TEXT NOT NULL,
    marketplace TEXT,
    kind TEXT NOT NULL,
    reauth INTEGER NOT NULL,
    expected_selling_partner_id TEXT,
    note TEXT,
    status TEXT NOT NULL,
    selling_partner_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    connected_at BIGINT,
    pulled_at BIGINT,
    failure TEXT,
    open_enrollment INTEGER NOT NULL,
    sealed TEXT);
CREATE INDEX IF NOT EXISTS invites_by_creation ON invites (created_at);
CREATE INDEX IF NOT EXISTS invites_by_expiry ON invites (status, expires_at);
CREATE TABLE IF NOT EXISTS consent_states (
    state_hash TEXT PRIMARY KEY,
    invite_id TEXT REFERENCES invites (id),
    marketplace TEXT,
    browser_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT);
CREATE INDEX IF NOT EXISTS consent_states_by_browser ON consent_states (browser_hash, created_at);
CREATE INDEX IF NOT EXISTS consent_states_by_expiry ON consent_states (expires_at);
"""


def _statements(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


# -- SQLite ----------------------------------------------------------------------------


class SqliteStorage(Storage):
    """One file, created 0600; WAL so that readers never wait for a writer, writers of
    this process in turn (``_WriteTurns``), and ``secure_delete`` so that a deleted sealed
    blob does not linger in free pages."""

    def __init__(self, path: str, *, pool_size: int = 8) -> None:
        import sqlite3

        self.path = os.path.abspath(path)
        self.description = self.path
        self.database_errors = (sqlite3.Error,)
        _create_private_file(self.path)

        def connect() -> sqlite3.Connection:
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=CONNECT_TIMEOUT_SECONDS,
                    isolation_level=None,  # transactions are begun explicitly
                    check_same_thread=False,  # one thread at a time, through the pool
                )
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute("PRAGMA secure_delete = ON")
            except sqlite3.Error as exc:
                raise StorageUnavailable(
                    f"cannot open the SQLite database {self.path} ({exc})",
                    "check the path given to --db and that this user may write there",
                ) from None
            return connection

        super().__init__(_Pool(connect, pool_size), write_turns=_WriteTurns())

    @contextlib.contextmanager
    def _begin(self, connection: Any, write: bool) -> Iterator[Any]:
        # IMMEDIATE takes the write lock at once: a conditional UPDATE then decides alone.
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection.cursor()
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _schema(self) -> list[str]:
        return [
            *_statements(_TABLES),
            "CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "at BIGINT NOT NULL, event TEXT NOT NULL, invite_id TEXT, detail TEXT)",
        ]


def _create_private_file(path: str) -> None:
    """Create the database file 0600 (its directory 0700 when missing); an existing file
    readable by others is tightened. The WAL and shared-memory files SQLite adds take the
    database file's mode."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700)
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot create the directory {directory} for the database ({exc.strerror})",
                "create it, or give another --db",
            ) from None
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot open the database file {path} ({exc.strerror})",
            "check the path given to --db and that this user may write there",
        ) from None
    try:
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


# -- PostgreSQL ------------------------------------------------------------------------


class PostgresStorage(Storage):
    """A PostgreSQL database shared by every instance. psycopg reads the password from
    the URL, ``PGPASSWORD`` or ``~/.pgpass`` as libpq does."""

    placeholder = "%s"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        import psycopg

        self.description = describe_database(url)
        self.database_errors = (psycopg.Error,)

        def connect() -> psycopg.Connection[Any]:
            try:
                return psycopg.connect(
                    url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                )
            except psycopg.Error as exc:
                raise StorageUnavailable(
                    f"cannot connect to PostgreSQL at {self.description} ({type(exc).__name__})",
                    "check the URL, that the server runs and accepts this user",
                ) from None

        super().__init__(_Pool(connect, pool_size))

    @contextlib.contextmanager
    def _begin(self, connection: Any, write: bool) -> Iterator[Any]:
        with connection.transaction(), connection.cursor() as cursor:
            yield cursor

    def _is_broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)

    def _lock_schema(self, tx: _Tx) -> None:
        # CREATE TABLE IF NOT EXISTS races between sessions; a transaction-level advisory
        # lock (any fixed number) makes instances starting together take turns.
        tx.one("SELECT pg_advisory_xact_lock(?)", 0x5370636F6E6E)

    def _schema(self) -> list[str]:
        return [
            *_statements(_TABLES),
            "CREATE TABLE IF NOT EXISTS audit_log (id BIGSERIAL PRIMARY KEY, "
            "at BIGINT NOT NULL, event TEXT NOT NULL, invite_id TEXT, detail TEXT)",
        ]


# -- choosing one ----------------------------------------------------------------------


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def describe_database(url: str) -> str:
    """The database for messages and logs: never a password."""
    if not is_postgres_url(url):
        return sqlite_path(url)
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def url_has_password(url: str) -> bool:
    if not is_postgres_url(url):
        return False
    parts = urlsplit(url)
    return bool(parts.password) or "password=" in parts.query


def sqlite_path(url: str) -> str:
    """``sqlite:///var/lib/x.db`` (an absolute path after the scheme's two slashes), or
    a plain path."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path:
            raise UsageError("--db sqlite:// names no file", "give sqlite:///path/to/file.db")
        return path
    if "://" in url:
        raise UsageError(
            f"--db {url.split('://')[0]}:// is not a database spconnect serve knows",
            "give a file path, sqlite:///path, or postgresql://…",
        )
    return url


def open_storage(url: str) -> Storage:
    """The storage ``--db`` names, with its tables created (exit 7 when unreachable)."""
    storage: Storage = (
        PostgresStorage(url) if is_postgres_url(url) else SqliteStorage(sqlite_path(url))
    )
    storage.initialize()
    return storage
