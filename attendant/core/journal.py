"""The booth's local journal: what a lane did while the central database could not be reached.

A SQLite file in the data folder (:func:`attendant.paths.data_dir`), one per
central database (named by a digest of its URL without the password), shared
by every process of the booth (the console and CLI runs). It holds:

- ``journal_event``: one row per operation made offline (``kind`` ``entry``,
  ``exit`` or ``reprint``), with a unique event id (uuid4), the operation as JSON
  (``body``: times ISO 8601 UTC, money integer minor units), and its
  ``state``: ``pending`` until :mod:`attendant.core.journal_sync` applied it
  to the central database (``applied``), or ``deferred`` when it must wait
  (an exit whose entry is still in another booth's journal). Rows are never
  deleted: the journal is the booth's own record of the outage.
- ``journal_reserve``: ticket numbers the booth reserved from the central
  database while it could (:data:`RESERVE` at a time), so tickets issued
  offline carry numbers no other booth can issue. A number leaves this
  table in the same transaction as the entry event that uses it.
- ``journal_snapshot``: the facility as last seen (bays and statuses, open
  sessions, rate-plan versions, whether users exist), for a process that
  starts while the database is away (a CLI run).
- ``journal_session``: the open sessions the booth knows of (from the
  snapshot, its own entries and exits), so an exit can be priced offline.
- ``journal_login``: the PIN hashes (argon2id, as the database stores them)
  of users who logged in at this booth, so a user can log in offline.

Plates are sealed with the site's data keys (:mod:`attendant.core.personal_data`)
like the database's, so the journal holds none in clear.

Durability (BRIEF.md "Nothing committed is ever lost"): WAL with
``synchronous=FULL``, so an event's commit is fsynced before the gate opens
or the CLI acknowledges; writers take ``BEGIN IMMEDIATE`` so two processes of
one booth never take the same reserved number. Goes through SQLAlchemy Core
like every other table of the project.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url

from attendant.core.clock import utc_now
from attendant.core.errors import AttendantError, Refused
from db.engine import sqlite_wal

RESERVE = 1000
"""Ticket numbers a booth keeps in reserve for offline entries (topped up from the central database when it
falls below :data:`RESERVE_LOW`): hours of a busy lane. When they run out offline, entries are refused with
a message until the database is back."""
RESERVE_LOW = 500

_META = MetaData()
EVENT = Table(
    "journal_event", _META,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("facility", String(8), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(12), nullable=False, default="pending"),
    Column("result", Text),
    sqlite_autoincrement=True,
)
RESERVE_T = Table(
    "journal_reserve", _META,
    Column("facility", String(8), primary_key=True),
    Column("ticket_no", Integer, primary_key=True),
)
SNAPSHOT = Table(
    "journal_snapshot", _META,
    Column("facility", String(8), primary_key=True),
    Column("taken_at", String(40), nullable=False),
    Column("body", Text, nullable=False),
)
SESSION = Table(
    "journal_session", _META,
    Column("facility", String(8), primary_key=True),
    Column("ticket_no", Integer, primary_key=True),
    Column("body", Text, nullable=False),
)
LOGIN = Table(
    "journal_login", _META,
    Column("username", String(40), primary_key=True),
    Column("role", String(12), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("pin_hash", String(200), nullable=False),
    Column("cached_at", String(40), nullable=False),
)

WAITING = ("pending", "deferred")


class NoTicketNumbers(Refused):
    """The booth has no reserved ticket numbers left for offline entries."""


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One journaled operation: ``seq`` (order), ``id`` (uuid), ``kind``, ``body`` (dict), ``state``."""

    seq: int
    id: str
    facility: str
    kind: str
    recorded_at: str
    body: dict
    state: str
    result: dict | None


def _sealed(body: dict) -> dict:
    """``body`` with its plate sealed (attendant/core/personal_data.py): no plate in the journal in clear."""
    if body.get("plate") is None:
        return body
    from attendant.core.personal_data import site_data

    return {**body, "plate": site_data().seal(body["plate"])}


def _opened(body: dict) -> dict:
    if body.get("plate") is None:
        return body
    from attendant.core.personal_data import site_data

    return {**body, "plate": site_data().open(body["plate"])}


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_default)


def _default(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def journal_path(database_url: str) -> Path:
    """The journal file of the booth's central database ``database_url`` (the password is not part of the name)."""
    from attendant.paths import data_dir

    url = make_url(database_url)
    name = url.set(password=None).render_as_string(hide_password=False) if url.password else str(url)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    folder = data_dir() / "journal"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"journal-{digest}.db"


_ENGINES: dict[Path, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(path: Path) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(path)
        if engine is not None:
            return engine
        # One idle connection kept (closing the last one would checkpoint the WAL at every event), no more:
        # a process that opens many booths (a test run) keeps one file open for each journal, not five.
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=1, max_overflow=4)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            sqlite_wal(dbapi_connection)  # booths sharing a data folder may open one new journal together
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")  # an event is on disk before the gate opens
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.connection.driver_connection.execute(
                "BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")

        path.touch(mode=0o600, exist_ok=True)  # PIN hashes and plates: the booth's account only
        with engine.begin() as conn:  # BEGIN IMMEDIATE: booth processes starting together create the tables once
            _META.create_all(conn)
        _ENGINES[path] = engine
        return engine


class Journal:
    """The journal file at ``path`` (created with its tables on first use). Thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.engine = _engine(self.path)

    def close(self) -> None:
        """Close the journal file's pooled connections (the file and what it holds stay)."""
        self.engine.dispose()

    @classmethod
    def for_database(cls, database_url: str) -> Journal:
        """The journal of the booth whose central database is ``database_url``."""
        return cls(journal_path(database_url))

    def _read(self):
        return self.engine.connect().execution_options(readonly=True)

    # ---------------------------------------------------------------- events
    def append(self, facility: str, kind: str, body: dict, *, event_id: str | None = None,
               take_ticket: bool = False) -> JournalEvent:
        """Record one operation, fsynced before this returns; with ``take_ticket`` the first reserved ticket
        number of ``facility`` goes into ``body["ticket_no"]`` in the same transaction.

        :raises NoTicketNumbers: ``take_ticket`` and the reserve is empty (nothing recorded).
        """
        event_id = event_id or str(uuid.uuid4())
        recorded = utc_now().isoformat()
        body = dict(body)
        with self.engine.begin() as conn:
            if take_ticket:
                number = conn.execute(select(func.min(RESERVE_T.c.ticket_no)).where(
                    RESERVE_T.c.facility == facility)).scalar()
                if number is None:
                    raise NoTicketNumbers("this booth has no offline ticket numbers left: the entry cannot be "
                                          "ticketed until the database is back")
                conn.execute(delete(RESERVE_T).where(RESERVE_T.c.facility == facility,
                                                     RESERVE_T.c.ticket_no == number))
                body["ticket_no"] = number
            seq = conn.execute(insert(EVENT).values(id=event_id, facility=facility, kind=kind,
                                                    recorded_at=recorded, body=_dumps(_sealed(body)),
                                                    state="pending")).inserted_primary_key[0]
        return JournalEvent(seq, event_id, facility, kind, recorded, json.loads(_dumps(body)), "pending", None)

    @staticmethod
    def _event(row) -> JournalEvent:
        return JournalEvent(row.seq, row.id, row.facility, row.kind, row.recorded_at, _opened(json.loads(row.body)),
                            row.state, json.loads(row.result) if row.result else None)

    def waiting(self, facility: str | None = None) -> list[JournalEvent]:
        """Events not yet applied (pending or deferred), oldest first."""
        stmt = select(EVENT).where(EVENT.c.state.in_(WAITING)).order_by(EVENT.c.seq)
        if facility is not None:
            stmt = stmt.where(EVENT.c.facility == facility)
        with self._read() as conn:
            return [self._event(r) for r in conn.execute(stmt)]

    def events(self, facility: str | None = None) -> list[JournalEvent]:
        """Every event, oldest first."""
        stmt = select(EVENT).order_by(EVENT.c.seq)
        if facility is not None:
            stmt = stmt.where(EVENT.c.facility == facility)
        with self._read() as conn:
            return [self._event(r) for r in conn.execute(stmt)]

    def waiting_count(self, facility: str | None = None) -> int:
        """How many events wait to be applied."""
        stmt = select(func.count()).select_from(EVENT).where(EVENT.c.state.in_(WAITING))
        if facility is not None:
            stmt = stmt.where(EVENT.c.facility == facility)
        with self._read() as conn:
            return conn.execute(stmt).scalar_one()

    def mark(self, event_id: str, state: str, result: dict | None = None) -> None:
        """Record what the replay did with an event (``applied`` or ``deferred``).

        Not fsynced (``synchronous=NORMAL`` for this commit): the central
        database's ``journal_applied`` is the record of what was applied, so a
        mark lost in a power cut only makes the next replay skip the event.
        """
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA synchronous=NORMAL")
            try:
                with conn.begin():
                    conn.execute(update(EVENT).where(EVENT.c.id == event_id).values(
                        state=state, result=_dumps(result) if result is not None else None))
            finally:
                raw.execute("PRAGMA synchronous=FULL")

    def card_waiting(self, facility: str) -> tuple[int, int]:
        """(count, total minor units) of card payments taken offline and not yet forwarded."""
        count = total = 0
        for ev in self.waiting(facility):
            for tender in ev.body.get("tenders", ()):
                if tender.get("method") == "card":
                    count += 1
                    total += tender.get("amount") or 0
        return count, total

    # ---------------------------------------------------------------- ticket numbers
    def reserve_count(self, facility: str) -> int:
        """Reserved ticket numbers left for offline entries."""
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(RESERVE_T).where(
                RESERVE_T.c.facility == facility)).scalar_one()

    def add_reserve(self, facility: str, numbers) -> None:
        """Keep ``numbers`` (reserved in the central database, committed there first) for offline entries."""
        rows = [{"facility": facility, "ticket_no": n} for n in numbers]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(RESERVE_T), rows)

    # ---------------------------------------------------------------- snapshot
    def save_snapshot(self, facility: str, body: dict, sessions: list[dict] | None = None) -> None:
        """Replace the facility's snapshot and (when given) its known open sessions (dicts with ``ticket_no``)."""
        text = _dumps(body)
        with self.engine.begin() as conn:
            conn.execute(delete(SNAPSHOT).where(SNAPSHOT.c.facility == facility))
            conn.execute(insert(SNAPSHOT).values(facility=facility, taken_at=utc_now().isoformat(), body=text))
            if sessions is not None:
                conn.execute(delete(SESSION).where(SESSION.c.facility == facility))
                if sessions:
                    conn.execute(insert(SESSION), [{"facility": facility, "ticket_no": s["ticket_no"],
                                                    "body": _dumps(_sealed(s))} for s in sessions])

    def put_session(self, facility: str, session: dict) -> None:
        """Remember one open session (``session["ticket_no"]``)."""
        with self.engine.begin() as conn:
            conn.execute(delete(SESSION).where(SESSION.c.facility == facility,
                                               SESSION.c.ticket_no == session["ticket_no"]))
            conn.execute(insert(SESSION).values(facility=facility, ticket_no=session["ticket_no"],
                                                body=_dumps(_sealed(session))))

    def drop_session(self, facility: str, ticket_no: int) -> None:
        """Forget an open session (it left)."""
        with self.engine.begin() as conn:
            conn.execute(delete(SESSION).where(SESSION.c.facility == facility, SESSION.c.ticket_no == ticket_no))

    def sessions(self, facility: str) -> dict[int, dict]:
        """The open sessions known for ``facility`` by ticket number."""
        with self._read() as conn:
            return {r.ticket_no: _opened(json.loads(r.body))
                    for r in conn.execute(select(SESSION).where(SESSION.c.facility == facility))}

    def snapshot(self, facility: str | None = None) -> dict | None:
        """The snapshot of ``facility`` (None: the only or first one), or None if none was taken."""
        stmt = select(SNAPSHOT.c.body).order_by(SNAPSHOT.c.facility)
        if facility is not None:
            stmt = stmt.where(SNAPSHOT.c.facility == facility.upper())
        with self._read() as conn:
            text = conn.execute(stmt).scalar()
        return json.loads(text) if text else None

    def snapshot_age(self, facility: str) -> float | None:
        """Seconds since the facility's snapshot was taken, None if there is none."""
        with self._read() as conn:
            taken = conn.execute(select(SNAPSHOT.c.taken_at).where(SNAPSHOT.c.facility == facility)).scalar()
        if taken is None:
            return None
        return (utc_now() - datetime.fromisoformat(taken)).total_seconds()

    # ---------------------------------------------------------------- logins
    def remember_login(self, username: str, role: str, user_id: int, pin_hash: str) -> None:
        """Keep a user's PIN hash for offline logins (after an online login succeeded)."""
        with self.engine.begin() as conn:
            conn.execute(delete(LOGIN).where(LOGIN.c.username == username))
            conn.execute(insert(LOGIN).values(username=username, role=role, user_id=user_id, pin_hash=pin_hash,
                                              cached_at=utc_now().isoformat()))

    def cached_login(self, username: str):
        """The remembered ``(username, role, user_id, pin_hash)`` row of ``username``, or None."""
        with self._read() as conn:
            return conn.execute(select(LOGIN).where(LOGIN.c.username == username)).first()


class DatabaseAway(AttendantError):
    """The central database cannot be reached (raised by a booth that started without it)."""

    def __str__(self) -> str:
        return f"the database cannot be reached ({self.args[0] if self.args else 'no answer'})"


def database_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` means the central database cannot be reached now: the server stopped, the network
    was cut, a connect or statement timed out, the connection was lost (SQLAlchemy's ``OperationalError``,
    ``InterfaceError``, a pool timeout, a DBAPI error that invalidated the connection; on SQLite a file
    that cannot be opened or read). Errors of the operation itself (a constraint, a rule) are not."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DatabaseAway):
        return True
    from db.engine import unavailable_reason

    if unavailable_reason(exc) is not None:  # PostgreSQL: the one rule the CLI's "database unavailable" uses
        return True
    sqlstate = getattr(getattr(exc, "orig", exc), "sqlstate", None) or ""
    if sqlstate.startswith("40") or sqlstate == "55P03":  # a deadlock, a serialization failure, a lock timeout:
        return False  # the database answered; the operation failed (PostgreSQL error classes 40, 55P03)
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg

        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError)
