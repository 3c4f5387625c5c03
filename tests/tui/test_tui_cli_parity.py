"""The CLI and the console are two front ends over the same Booth: the same
entry and cash exit, made once with ``attendant enter``/``attendant exit``
(typer's CliRunner) and once by keys in the console, write the same rows.

Both runs use their own demo database, the same installation secret (so the
signed ticket codes match), the same lanes (``examples/console.toml``), the
same user, and the same entry and exit times (``--at`` for the CLI, the
console's fixed clock). Each database gets an admin and the attendant
``booth7`` with an open shift, so neither front end runs in setup mode: the
CLI logs in with ``--user``/``--pin``, the console as that user. Compared:
every column of parking_session, payment, vend and audit_event except ids,
recording times and per-call random keys.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from attendant.cli import app as cli_app
from attendant.core.personal_data import site_data
from attendant.core.tickets import TicketSigner
from db.models import AuditEvent, ParkingSession, Payment, Spot, Vend
from tests.conftest import copy_database
from tests.tui.support import console, settle

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_TOML = ROOT / "examples" / "console.toml"
PS, PAY, SPOT, VEND, AUD = (t.__table__ for t in (ParkingSession, Payment, Spot, Vend, AuditEvent))
ENTRY_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # 09:30 GMT = facility time on this date
EXIT_AT = ENTRY_AT + timedelta(hours=3, minutes=12)
ATTENDANT, PIN = "booth7", "707070"
PLATE = "AB12 CDE"
TENDERED = "20.00"

# Columns that differ between any two runs by nature: ids, wall-clock
# recording times, random idempotency keys, and whether a time was typed (--at)
# or read from the clock.
AUDIT_DETAIL_IGNORED = {"payment_id", "idempotency_key", "at_given"}
RECORDED_AT = {"updated_at"}  # wall-clock time a row was written


def snapshot(engine) -> dict[str, list[dict]]:
    """The rows an entry + exit writes, in a comparable form."""
    with engine.connect() as conn:
        labels = dict(conn.execute(select(SPOT.c.id, SPOT.c.label)).all())
        sessions = [
            {k: v for k, v in row._mapping.items() if k not in {"id", "vehicle_id", "rate_plan_version_id", "spot_id"} | RECORDED_AT}
            | {"spot": labels[row.spot_id], "plate": site_data().open(row.plate)}  # ciphertexts differ (nonces)
            for row in conn.execute(select(PS).order_by(PS.c.ticket_no))
        ]
        payments = [
            {k: v for k, v in row._mapping.items() if k not in {"id", "session_id", "idempotency_key"} | RECORDED_AT}
            for row in conn.execute(select(PAY).order_by(PAY.c.id))
        ]
        vends = [
            {k: v for k, v in row._mapping.items() if k not in {"id", "session_id"} | RECORDED_AT}
            for row in conn.execute(select(VEND).order_by(VEND.c.id))
        ]
        audits = [
            {
                "actor": row.actor,
                "action": row.action,
                "entity": row.entity,
                "effective_at": row.effective_at,
                "details": {k: v for k, v in (row.details or {}).items() if k not in AUDIT_DETAIL_IGNORED},
            }
            for row in conn.execute(select(AUD).where(AUD.c.action.like("session.%")).order_by(AUD.c.id))
        ]
    return {"parking_session": sessions, "payment": payments, "vend": vends, "audit_event": audits}


def demo_db_with_a_user(template, path):
    """A copy of the demo database out of setup mode: an admin, and the attendant on an open shift."""
    from attendant.core import shifts, users
    from attendant.core.facilities import list_facilities
    from db.engine import make_engine

    engine = make_engine(copy_database(template, path))
    admin = users.create_user(engine, users.setup_actor(engine), "admin", None, "admin", "246813")
    users.create_user(engine, admin.actor(), ATTENDANT, None, "attendant", PIN)
    who = users.authenticate(engine, ATTENDANT, PIN)
    (facility,) = [f for f in list_facilities(engine) if f.code == "CHS"]
    shifts.open_shift(engine, facility.id, who, 10000, at=ENTRY_AT - timedelta(minutes=5))
    return engine


def run_cli(url: str) -> None:
    runner = CliRunner()
    common = ["--db", url, "--facility", "CHS", "--config", str(CONSOLE_TOML), "--user", ATTENDANT, "--pin", PIN]
    entered = runner.invoke(
        cli_app, [*common, "enter", PLATE, "--vehicle", "van", "--at", ENTRY_AT.isoformat(), "--json"]
    )
    assert entered.exit_code == 0, entered.output
    import json

    code = json.loads(entered.stdout)["code"]
    left = runner.invoke(
        cli_app,
        [*common, "exit", code, "--pay", "cash", "--tendered", TENDERED, "--at", EXIT_AT.isoformat()],
    )
    assert left.exit_code == 0, left.output


def run_console(engine) -> None:
    now = [ENTRY_AT]
    from attendant.core import users

    app = console(engine, lambda: now[0], actor=users.authenticate(engine, ATTENDANT, PIN))

    async def drive() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            await pilot.press("f2", *["space" if c == " " else c for c in PLATE], "down", "enter")  # van
            await settle(pilot)
            with engine.connect() as conn:  # the code column holds its hash: sign the ticket again
                code = TicketSigner.from_site().sign("CHS", conn.execute(select(PS.c.ticket_no)).scalar_one())
            now[0] = EXIT_AT
            await pilot.press("f3", *code, "enter")
            await settle(pilot)
            await pilot.press("1", *TENDERED, "enter")
            await settle(pilot)
            await pilot.press("ctrl+q")

    asyncio.run(drive())


def test_cli_and_console_write_the_same_rows(tmp_path, monkeypatch, demo_template, attendant_home):
    shutil.copytree(attendant_home / "config", tmp_path / "config")  # the site's secrets
    monkeypatch.setenv("ATTENDANT_HOME", str(tmp_path))  # one secret for both: same ticket codes
    monkeypatch.delenv("ATTENDANT_SECRET_FILE", raising=False)
    monkeypatch.delenv("ATTENDANT_DB", raising=False)
    cli_url = f"sqlite:///{tmp_path}/cli.db"
    demo_db_with_a_user(demo_template, tmp_path / "cli.db").dispose()
    run_cli(cli_url)
    tui_engine = demo_db_with_a_user(demo_template, tmp_path / "tui.db")
    run_console(tui_engine)

    from db.engine import make_engine

    cli_engine = make_engine(cli_url)
    cli_rows, tui_rows = snapshot(cli_engine), snapshot(tui_engine)
    cli_engine.dispose()
    tui_engine.dispose()

    # the scenario really happened, by the logged-in attendant, on her shift
    (session,) = tui_rows["parking_session"]
    assert session["entry_actor"] == session["exit_actor"] == ATTENDANT
    assert (session["plate"], session["vehicle_class"], session["status"]) == ("AB12CDE", "van", "closed")
    (payment,) = tui_rows["payment"]
    assert (payment["method"], payment["tendered"], payment["actor"]) == ("cash", 2000, ATTENDANT)
    assert payment["shift_id"] is not None
    assert payment["change"] == 2000 - payment["amount"] and payment["amount"] > 0
    assert [v["direction"] for v in tui_rows["vend"]] == ["entry", "exit"]
    assert [a["action"] for a in tui_rows["audit_event"]] == ["session.enter", "session.exit"]
    # and it wrote the same rows both ways
    for table in ("parking_session", "payment", "vend", "audit_event"):
        assert cli_rows[table] == tui_rows[table], table
