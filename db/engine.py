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
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from attendant.core.errors import InputError
from attendant.paths import default_db_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Newest migration; tests/test_db.py checks it equals Alembic's head. Comparing
# against it at start spares importing Alembic when the schema is current.
SCHEMA_HEAD = "0011_audit_chain"


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
            engine = create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:  # unknown dialect, missing driver
        raise InputError(f"cannot use database {url!r}: {exc}") from None
    if migrate:
        migrate_schema(engine)
    return engine


def _sqlite_engine(url) -> Engine:
    database = url.database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
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
