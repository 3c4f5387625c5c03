"""Backups that restore (issue 9 item 7): ``attendant backup`` / ``restore`` as real subprocesses and
through the CLI runner, on a SQLite file and on the PostgreSQL server.

A backup of a database with real traffic restores into a fresh database whose
every table equals the original row by row; the manifest holds the checksum,
the audit head, the facilities and the schema revision; a damaged, foreign or
misdirected restore is refused with one line and writes nothing; a backup is
a supervisor's once users exist; the console's scheduled backups keep the
newest N.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from attendant.core.backup import BackupSchedule, read_manifest
from db.engine import SCHEMA_HEAD, make_engine
from tests.conftest import PG_URL

SUPERVISOR = ("--user", "sue", "--pin", "864200")
ATTENDANT = ("--user", "ann", "--pin", "246802")


def every_row(url: str) -> dict[str, list]:
    """Every table's rows, ordered by every column, read straight from the database."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            out = {}
            for table in sorted(inspect(conn).get_table_names()):
                columns = [c["name"] for c in inspect(conn).get_columns(table)]
                order = ", ".join(f'"{c}"' for c in columns if c not in ("details", "rows", "body", "fee_lines",
                                                                           "expected", "counted", "count_detail"))
                out[table] = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))]
            return out
    finally:
        engine.dispose()


def traffic(cli) -> None:
    """Entries, a cash exit, a card exit and an IOU through the CLI."""
    back = ("--allow-backdate", "a test day")  # a fixed day: the window of accepted times needs a reason
    codes = [cli.json("enter", plate, "--at", "2026-11-20T08:00", *back)["code"]
             for plate in ("BK1 UPA", "BK2 UPB", "BK3 UPC")]
    cli.json("exit", codes[0], "--pay", "cash", "--tendered", "20", "--at", "2026-11-20T11:30", *back)
    cli.json("exit", codes[1], "--pay", "card", "--at", "2026-11-20T11:40", *back)
    cli.run("exit", codes[2], "--iou", "no money", "--at", "2026-11-20T11:50", *back)


def rebuilt(source: Path, dest: Path, *, manifest=None, payload=None) -> Path:
    """A copy of a backup with its manifest or payload replaced (a valid archive: only our checks can tell)."""
    with zipfile.ZipFile(source) as zf:
        names = zf.namelist()
        members = {n: zf.read(n) for n in names}
    data = json.loads(members["manifest.json"])
    if manifest:
        manifest(data)
    members["manifest.json"] = json.dumps(data).encode()
    if payload:
        name = data["payload"]["name"]
        members[name] = payload(members[name])
    with zipfile.ZipFile(dest, "w") as zf:
        for n in names:
            zf.writestr(n, members[n])
    return dest


def test_sqlite_backup_restores_into_a_fresh_file_row_for_row(cli, tmp_path):
    traffic(cli)
    file = tmp_path / "site.atbk"
    made = cli.run("backup", str(file), "--json", process=True)  # a real process, as cron would run it
    manifest = json.loads(made.stdout)
    assert manifest["format"] == "attendant-backup" and manifest["version"] == 1
    assert manifest["backend"] == "sqlite" and manifest["schema_revision"] == SCHEMA_HEAD
    assert manifest["facilities"] == ["CHS"] and manifest["created_at"].endswith("+00:00")
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        head = conn.execute("SELECT seq, event_id, hash FROM audit_chain_head ORDER BY event_id IS NULL, "
                            "event_id DESC").fetchone()
    assert manifest["audit_head"] == {"seq": head[0], "event_id": head[1], "hash": head[2]}
    assert file.stat().st_mode & 0o777 == 0o600  # personal data inside
    with zipfile.ZipFile(file) as zf:
        import hashlib

        assert hashlib.sha256(zf.read("database.sqlite3")).hexdigest() == manifest["payload"]["sha256"]
    fresh = f"sqlite:///{tmp_path / 'restored' / 'booth.db'}"
    restored = cli.run("--db", fresh, "restore", str(file), db=False, process=True)
    assert "Audit chain verified" in restored.stdout and f"head #{head[1]} {head[2][:16]}" in restored.stdout
    original = every_row(cli.db)
    assert every_row(fresh) == original
    assert len(original["parking_session"]) >= 3 and len(original["audit_event"]) > 5


def test_damaged_backups_are_refused_and_nothing_is_written(cli, tmp_path):
    file = tmp_path / "site.atbk"
    cli.run("backup", str(file))
    target = tmp_path / "t.db"
    flipped = tmp_path / "flipped.atbk"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    altered = rebuilt(file, tmp_path / "altered.atbk", payload=lambda b: b[:-4096] + bytes(4096))
    garbage = tmp_path / "garbage.atbk"
    garbage.write_bytes(b"not a backup at all")
    no_manifest = tmp_path / "nomanifest.atbk"
    with zipfile.ZipFile(no_manifest, "w") as zf:
        zf.writestr("database.sqlite3", b"x")
    for bad, why in ((flipped, "damaged backup"), (altered, "checksum"), (garbage, "not a readable backup"),
                     (no_manifest, "no manifest")):
        refused = cli.run("--db", f"sqlite:///{target}", "restore", str(bad), db=False, expect=2)
        assert why in refused.stderr and len(refused.stderr.splitlines()) == 1, refused.stderr
        assert "Traceback" not in refused.stderr
        assert not target.exists() or target.stat().st_size == 0


def test_foreign_backups_and_full_targets_are_refused(cli, tmp_path):
    file = tmp_path / "site.atbk"
    cli.run("backup", str(file))
    target = tmp_path / "t.db"
    older = rebuilt(file, tmp_path / "older.atbk", manifest=lambda m: m.update(schema_revision="0005_vend_outcome"))
    refused = cli.run("--db", f"sqlite:///{target}", "restore", str(older), db=False, expect=2)
    assert "foreign backup" in refused.stderr and "0005_vend_outcome" in refused.stderr
    other = cli.run("--db", f"sqlite:///{target}", "--facility", "XYZ", "restore", str(file), db=False, expect=2)
    assert "foreign backup" in other.stderr and "XYZ" in other.stderr
    assert not target.exists()
    # a database holding another site
    from tests.conftest import make_small_facility

    make_small_facility(f"sqlite:///{target}").dispose()
    before = every_row(f"sqlite:///{target}")
    foreign = cli.run("--db", f"sqlite:///{target}", "restore", str(file), db=False, expect=2)
    assert "foreign backup" in foreign.stderr and "CHS" in foreign.stderr and "TST" in foreign.stderr
    assert every_row(f"sqlite:///{target}") == before
    # the site's own database, still full
    full = cli.run("restore", str(file), expect=2)
    assert "not empty" in full.stderr and "--into" in full.stderr
    wrong_backend = cli.run("restore", str(file), "--into", "postgresql+psycopg://127.0.0.1:1/none", expect=2)
    assert "foreign backup" in wrong_backend.stderr and "sqlite" in wrong_backend.stderr


def test_a_tampered_database_restores_but_its_chain_is_reported_broken(cli, tmp_path):
    traffic(cli)
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE payment SET amount = 10 WHERE method = 'cash'")
    file = tmp_path / "site.atbk"
    cli.run("backup", str(file))
    fresh = f"sqlite:///{tmp_path / 'r.db'}"
    broken = cli.run("--db", fresh, "restore", str(file), db=False, expect=4)
    assert "Audit chain BROKEN after restore" in broken.stdout and "amount is 10, recorded" in broken.stdout


def test_backup_and_restore_need_a_supervisor_once_users_exist(cli, tmp_path):
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    cli.run("--user", "root", "--pin", "135790", "user", "add", "sue", "--role", "supervisor", "--pin", "864200")
    cli.run("--user", "root", "--pin", "135790", "user", "add", "ann", "--role", "attendant", "--pin", "246802")
    file = tmp_path / "site.atbk"
    nobody = cli.run("backup", str(file), expect=2)
    assert "log in" in nobody.stderr and not file.exists()
    attendant = cli.run(*ATTENDANT, "backup", str(file), expect=2)
    assert "needs a supervisor" in attendant.stderr and not file.exists()
    cli.run(*SUPERVISOR, "backup", str(file))
    assert read_manifest(file).facilities == ("CHS",)
    into = f"sqlite:///{tmp_path / 'r.db'}"
    refused = cli.run(*ATTENDANT, "restore", str(file), "--into", into, expect=2)
    assert "needs a supervisor" in refused.stderr and not (tmp_path / "r.db").exists()
    done = cli.run(*SUPERVISOR, "restore", str(file), "--into", into)
    assert "Audit chain verified" in done.stdout
    # the restored site has the same staff: the supervisor logs in there
    cli.run("--db", into, *SUPERVISOR, "audit", "verify", db=False)


@pytest.fixture
def fresh_pg_database(pg_skip_reason):
    """A fresh, empty PostgreSQL database (dropped afterwards): its URL."""
    if pg_skip_reason:
        pytest.skip(pg_skip_reason)
    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.split("?")[0].rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgresql_backup_restores_into_a_fresh_database_row_for_row(pg_url, fresh_pg_database, tmp_path, clock):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore (PostgreSQL client tools) are not installed")
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path, db=pg_url)
    cli.run("init", "--demo")
    traffic(cli)
    file = tmp_path / "pg.atbk"
    manifest = json.loads(cli.run("backup", str(file), "--json", process=True).stdout)
    assert manifest["backend"] == "postgresql" and manifest["schema"].startswith("t_")
    assert manifest["payload"]["name"] == "database.pgdump" and manifest["facilities"] == ["CHS"]
    with zipfile.ZipFile(file) as zf:
        assert zf.read("database.pgdump")[:5] == b"PGDMP"  # pg_dump's custom format
    restored = cli.run("--db", fresh_pg_database, "restore", str(file), db=False, process=True)
    assert "Audit chain verified" in restored.stdout
    assert every_row(fresh_pg_database) == every_row(pg_url)
    again = cli.run("--db", fresh_pg_database, "restore", str(file), db=False, expect=2)
    assert "not empty" in again.stderr
    # the restored database is a working site: the next entry chains on
    engine = make_engine(fresh_pg_database)
    from attendant.core.audit_verify import verify

    cli2 = Attendant(tmp_path, db=fresh_pg_database)
    cli2.json("enter", "AF7 ERR")
    assert verify(engine).ok
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_backup_restores_into_a_fresh_schema_of_another_database(pg_url, fresh_pg_database, tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump (PostgreSQL client tools) is not installed")
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path, db=pg_url)
    cli.run("init", "--demo")
    traffic(cli)
    file = tmp_path / "pg.atbk"
    cli.run("backup", str(file))
    into = f"{fresh_pg_database}?options=-csearch_path%3Dsite_b"
    admin = create_engine(fresh_pg_database)
    with admin.begin() as conn:
        conn.execute(text("CREATE SCHEMA site_b"))
    admin.dispose()
    cli.run("restore", str(file), "--into", into)
    assert every_row(into) == every_row(pg_url)


def test_the_console_schedule_backs_up_in_a_worker_and_keeps_the_newest(demo_db, tmp_path):
    engine = make_engine(demo_db)
    folder = tmp_path / "backups"
    done = []
    schedule = BackupSchedule(engine, folder, keep=2, on_done=lambda path, error: done.append((path, error)))
    made = []
    for _ in range(3):
        worker = schedule.start()
        assert worker is not None
        worker.join(timeout=60)
        made.append(schedule.last)
    assert [e for _p, e in done] == [None, None, None]
    kept = sorted(folder.glob("attendant-*.atbk"))
    assert kept == made[1:]  # the newest two
    assert read_manifest(kept[-1]).facilities == ("CHS",)
    engine.dispose()


def test_console_config_backup_keys(tmp_path):
    from attendant.core.errors import InputError
    from hardware.config import parse_config

    lanes = '[[lanes]]\ncode = "E1"\nname = "Entry"\ndirection = "entry"\n'
    config = parse_config(f'[console]\nbackup_every_minutes = 30\nbackup_dir = "{tmp_path}"\nbackup_keep = 5\n'
                          + lanes)
    assert (config.backup_every_minutes, config.backup_dir, config.backup_keep) == (30, str(tmp_path), 5)
    assert parse_config(lanes).backup_every_minutes is None
    for bad, field in (("backup_every_minutes = 0\nbackup_dir = 'x'", "backup_every_minutes"),
                       ("backup_every_minutes = 30", "backup_dir"),
                       ("backup_every_minutes = 5\nbackup_dir = 'x'\nbackup_keep = 0", "backup_keep")):
        with pytest.raises(InputError, match=f"console.{field}"):
            parse_config(f"[console]\n{bad}\n" + lanes)


def test_the_console_starts_scheduled_backups_from_its_timer(demo_db, tmp_path):
    """The console's own timer starts the backups, in a worker thread; the screen keeps answering."""
    import asyncio

    from attendant.tui.app import make_app
    from hardware.config import parse_config

    folder = tmp_path / "auto"
    config = parse_config(f'[console]\nbackup_every_minutes = 1\nbackup_dir = "{folder}"\n'
                          '[[lanes]]\ncode = "E1"\nname = "Entry"\ndirection = "entry"\n'
                          '[[lanes]]\ncode = "X1"\nname = "Exit"\ndirection = "exit"\n')
    engine = make_engine(demo_db)
    app = make_app(engine, config, timers=True)

    async def drive() -> None:
        async with app.run_test() as pilot:
            for _ in range(200):  # background work starts after the first paint (start_background_work)
                if app.backup_schedule is not None:
                    break
                await pilot.pause(0.05)
            assert app.backup_schedule is not None
            timers = [t for t in app._timers if getattr(t, "_interval", None) == 60]  # every minute, as configured
            assert timers, "no backup timer"
            worker = app.backup_schedule.start()  # what that timer calls
            await pilot.press("f9")  # the console answers while the backup runs
            await asyncio.get_running_loop().run_in_executor(None, worker.join, 60)
            assert app.backup_schedule.last is not None and app.backup_schedule.last.exists()

    asyncio.run(drive())
    engine.dispose()
