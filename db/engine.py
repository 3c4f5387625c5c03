"""Engine factory and schema migration.

``make_engine(url)`` takes any SQLAlchemy URL; ``None`` means ``ATTENDANT_DB``
or else the SQLite file in the user data folder (see :mod:`attendant.paths`).

SQLite is configured for a booth that must never lose an acknowledged
transaction: WAL journal, ``synchronous=FULL`` (each commit is fsynced), foreign
keys on, a busy timeout, and writers serialised by ``BEGIN IMMEDIATE`` so two
booths never deadlock half-way through a transaction (SQLAlchemy's documented
pysqlite recipe, "Serializable isolation / Savepoints / Transactional DDL").
A connection opened with ``execution_options(readonly=True)`` begins a plain
deferred transaction instead, so reports do not hold the write lock.

PostgreSQL URLs may name several servers, libpq's multi-host form, so that a
booth follows a failover onto a promoted standby by itself (docs/failover.md)::

    postgresql+psycopg://booth@/parking?host=10.0.0.1:5432&host=10.0.0.2:5432&target_session_attrs=read-write

(``host=10.0.0.1,10.0.0.2&port=5432,5432`` is the same.) libpq tries the
hosts in order and keeps the first that accepts writes: a standby in recovery
is passed over until it is promoted. Connections get short libpq timeouts
(:data:`PG_CONNECT_DEFAULTS`, each overridable in the URL's query) so a dead
server costs seconds, not minutes; the pool pings a connection before handing
it out and discards it if dead, and :func:`connection_lost` lets a holder of a
long-lived connection notice, without a round trip, that the server closed it.
:func:`unavailable_reason` says, in one line fit for an attendant, when an
error means the database cannot be reached.
"""

from __future__ import annotations

import os
import re
import select
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from attendant.core.errors import InputError
from attendant.paths import default_db_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Newest migration; tests/test_db.py checks it equals Alembic's head. Comparing
# against it at start spares importing Alembic when the schema is current.
SCHEMA_HEAD = "0021_staff"

#: libpq connection settings for PostgreSQL unless the URL's query sets them (libpq "Parameter Key
#: Words"): ``connect_timeout`` seconds per host tried; TCP keepalives (idle, interval: seconds) and
#: ``tcp_user_timeout`` (milliseconds) so that a server that vanished without closing its sockets
#: (power loss, network cut) fails the connection in about 10 s instead of the kernel's 15 minutes.
PG_CONNECT_DEFAULTS: dict[str, str] = {
    "connect_timeout": "3",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


def resolve_url(url: str | None) -> str:
    """The database URL to use: ``url``, else ``ATTENDANT_DB``, else the default SQLite file."""
    return url or os.environ.get("ATTENDANT_DB") or default_db_url()


def make_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """Create an engine for ``url`` and (by default) migrate its schema to head.

    Raises :class:`InputError` for a malformed URL or an unknown backend.
    """
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"not a database URL: {url!r} (e.g. sqlite:///booth.db)") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = _server_engine(parsed)
    except Exception as exc:  # unknown dialect, missing driver
        raise InputError(f"cannot use database {url!r}: {exc}") from None
    if migrate:
        migrate_schema(engine)
    return engine


def _server_engine(url) -> Engine:
    """A server engine: libpq timeouts (:data:`PG_CONNECT_DEFAULTS`, the URL's own win) and a pool
    that pings each connection as it is checked out and replaces a dead one, so the first operation
    after a failover (or a server restart) opens a fresh connection to whichever host now accepts
    writes instead of failing on a socket the old server closed."""
    connect_args = {}
    if url.get_backend_name() == "postgresql":
        connect_args = {key: value for key, value in PG_CONNECT_DEFAULTS.items() if key not in url.query}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True)


def connection_lost(conn) -> bool:
    """Whether the server has already closed ``conn`` (a SQLAlchemy ``Connection`` held open), found
    without a round trip: an idle PostgreSQL connection has nothing to read unless the server sent its
    farewell (``terminating connection ...``) or closed the socket, as on a shutdown or crash.

    For a connection held across operations (the pool's pre-ping covers checkouts only). SQLite and
    any driver without a socket: always False.
    """
    try:
        driver = conn.connection.driver_connection
        fileno = getattr(driver, "fileno", None)
        if fileno is None:
            return False
        poller = select.poll()
        poller.register(fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - a connection that cannot even say its socket is gone
        return True


#: SQLSTATEs of a server going away under a session: class 08 (connection exception) is matched by its
#: prefix; 57P01 admin shutdown, 57P02 crash shutdown. 57P03 (cannot connect now: starting, in recovery)
#: is a refusal to connect.
_GONE_SQLSTATES = ("57P01", "57P02")


def unavailable_reason(exc: BaseException) -> str | None:
    """One line saying why the database cannot be reached, when ``exc`` means that, else None.

    Covers a server that refuses or does not answer (connect failures, timeouts), a connection lost
    during an operation (shutdown, crash, network cut: its outcome was not confirmed) and a server
    that only reads (a standby not yet promoted). ``exc`` is a SQLAlchemy ``DBAPIError`` or a psycopg
    error; the line never contains SQL or parameters. PostgreSQL only: SQLite errors give None.
    """
    from sqlalchemy.exc import DBAPIError

    invalidated = False
    orig = exc
    if isinstance(exc, DBAPIError):
        invalidated, orig = exc.connection_invalidated, exc.orig
    try:
        import psycopg
    except ImportError:  # no PostgreSQL driver: no PostgreSQL error either
        return None
    if not isinstance(orig, psycopg.Error):
        return None
    sqlstate = orig.sqlstate or ""
    detail = _first_line(orig)
    if sqlstate == "25006":
        return f"the server only reads (a standby not yet promoted?): {detail}"
    if invalidated or sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES:
        return f"connection lost, the operation was not confirmed: {detail}"
    if sqlstate == "57P03" or (isinstance(orig, psycopg.OperationalError) and not sqlstate):
        return f"cannot connect: {detail}"
    return None


#: libpq's "connection to server at "HOST" (ADDR), port PORT failed: REASON" (or "on socket "PATH"").
_SERVER_FAILED = re.compile(r'connection to server (?:at|on socket) "([^"]*)"(?: \([^)]*\))?(?:, port (\d+))? '
                            r'failed: (.*)')


def _first_line(error) -> str:
    """The driver's message in one line: each server tried and why it failed (``127.0.0.1:5433
    Connection refused; 127.0.0.1:5434 session is read-only``), else the message's first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    attempts = [line for line in lines if line.startswith("- host:")] or lines  # several hosts: in order
    servers: dict[str, str] = {}
    for line in attempts:
        if match := _SERVER_FAILED.search(line):
            host, port, reason = match.groups()
            servers.setdefault(f"{host}:{port}" if port else host, reason)
    text = "; ".join(f"{server} {reason}" for server, reason in servers.items()) or lines[0]
    return text if len(text) <= 300 else text[:297] + "..."


def sqlite_wal(connection, *, wait_s: float = 30.0) -> None:
    """Put the SQLite database of DB-API ``connection`` in WAL mode (a persistent setting), waiting out other
    processes opening the same file.

    Switching a file to WAL takes a moment's exclusive lock, and SQLite answers
    ``SQLITE_BUSY`` ("database is locked") at once, without calling the busy
    handler, while another connection is doing the same: two booth processes
    opening one new file together (a shared offline journal, a first start)
    then failed. A file already in WAL is left alone (a read); otherwise the
    switch is retried every 20 ms for up to ``wait_s`` seconds, then raises
    :class:`sqlite3.OperationalError`.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:  # a new database file is private to its user; SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        sqlite_wal(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # straight to the driver: through exec_driver_sql the BEGIN alone cost as much as a statement
        begin = "BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE"
        conn.connection.driver_connection.execute(begin)

    return engine


def alembic_config(engine: Engine):
    """Alembic configuration bound to ``engine`` (migrations ship in ``db/migrations``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection_engine"] = engine
    return config


def migrate_schema(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (idempotent, run at every start)."""
    if _at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def _at_head(engine: Engine) -> bool:
    with engine.connect().execution_options(readonly=True) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    return current == [SCHEMA_HEAD]
