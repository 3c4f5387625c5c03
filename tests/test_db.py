"""Engine factory and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from attendant.core.errors import InputError
from db.engine import MIGRATIONS, SCHEMA_HEAD, make_engine


def test_schema_head_constant_matches_alembic():
    assert ScriptDirectory(str(MIGRATIONS)).get_heads() == [SCHEMA_HEAD]


def test_schema_is_created_at_start_and_start_is_idempotent(db_url):
    engine = make_engine(db_url)
    make_engine(db_url).dispose()  # second start: nothing to do, nothing fails
    tables = set(inspect(engine).get_table_names())
    assert {"facility", "level", "spot", "vehicle", "parking_session", "payment", "vend", "audit_event",
            "rate_plan_version", "alembic_version"} <= tables
    engine.dispose()


def test_sqlite_is_wal_with_foreign_keys_and_full_sync(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()
    with sqlite3.connect(tmp_path / "x.db") as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)


def test_default_database_lives_in_the_data_folder(attendant_home):
    engine = make_engine()
    assert engine.url.database == str(attendant_home / "data" / "attendant.db")
    engine.dispose()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y"])
def test_bad_database_url_is_a_clear_error(url):
    with pytest.raises(InputError, match="database"):
        make_engine(url)


def test_a_database_at_the_first_schema_upgrades_keeping_its_rows(db_url):
    """A booth installed with schema 0001 upgrades in place at start; sessions survive."""
    from alembic import command
    from sqlalchemy import text

    from db.engine import alembic_config

    engine = make_engine(db_url, migrate=False)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO facility (code, name, timezone, currency, capacity, next_ticket_no, revision, "
            "allocation_strategy, created_at) VALUES ('OLD', 'Old', 'UTC', 'GBP', 0, 0, 0, 'nearest', "
            "'2026-01-01 00:00:00')"
        ))
    engine.dispose()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code FROM facility")).scalars().all() == ["OLD"]
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
    command.downgrade(alembic_config(engine), "0001")  # downgrade works too
    engine.dispose()


def test_the_migrated_schema_matches_the_models(db_url):
    """Autogenerate finds nothing to do: every table, column and index of db/models.py is in a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import db.models  # noqa: F401  (registers the tables)

    engine = make_engine(db_url)
    with engine.connect() as conn:
        schema = conn.dialect.default_schema_name if conn.dialect.name == "postgresql" else None
        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_schemas": False})
        diff = [d for d in compare_metadata(context, SQLModel.metadata)
                if not (schema and isinstance(d, tuple) and d[0] == "remove_table")]
    engine.dispose()
    assert diff == []


_WAL_RACE = """
import sqlite3, sys, time
path, start = sys.argv[1], float(sys.argv[2])
from db.engine import sqlite_wal
conn = sqlite3.connect(path, timeout=30, isolation_level=None)
while time.time() < start:
    time.sleep(0.001)
sqlite_wal(conn)
conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
print(conn.execute("PRAGMA journal_mode").fetchone()[0])
"""


def test_booths_opening_one_new_sqlite_file_together_all_get_wal(tmp_path):
    """Switching a new file to WAL answers "database is locked" at once (no busy handler) while another
    process does the same: 8 processes opening one new file at the same instant all succeed
    (db.engine.sqlite_wal; the offline journal of booths sharing a data folder hit this in CI)."""
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parents[1]
    for round_no in range(2):
        path = tmp_path / f"shared-{round_no}.db"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _WAL_RACE, str(path), str(start)], cwd=repo,
                                  env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [(p.returncode, out.strip()) for p, (out, _err) in zip(procs, outs)] == [(0, "wal")] * 8, \
            [err for _out, err in outs if err]
