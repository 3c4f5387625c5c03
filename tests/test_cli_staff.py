"""`attendant user ...` and `attendant shift ...` against SQLite and PostgreSQL.

Runs typer's CliRunner on the real app (:data:`attendant.cli.app`) with the
global options (``--db``, ``--user``, ``--pin``); its root command prints
errors as the console script does: a refused operation prints one line on
stderr and exits 2.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from attendant import cli
from db.models import AuditEvent, CashMovement, Payment, Shift, User
from tests.escpos_parse import parse

REPO = Path(__file__).resolve().parents[1]
PAY, SH, CM, U, AUD = (t.__table__ for t in (Payment, Shift, CashMovement, User, AuditEvent))
_keys = itertools.count()

@pytest.fixture(scope="module")
def app() -> typer.Typer:
    return cli.app


@pytest.fixture
def run(app, db_url, small_engine):
    """``run(*args, user=None, pin=None, expect=0)`` -> CliRunner result, against the test database."""

    def invoke(*args: str, user: str | None = None, pin: str | None = None, expect: int = 0):
        login = ["--user", user, "--pin", pin] if user else []
        result = CliRunner().invoke(app, ["--db", db_url, *login, *args])
        assert result.exit_code == expect, f"exit {result.exit_code}: {result.stderr or result.stdout}"
        return result

    return invoke


@pytest.fixture
def staffed(run):
    run("user", "add", "admin", "--role", "admin", "--pin", "999999", "--name", "Ada Admin")  # setup mode
    run("user", "add", "alice", "--role", "attendant", "--pin", "111111", "--name", "Alice", user="admin", pin="999999")
    run("user", "add", "sue", "--role", "supervisor", "--pin", "222222", user="admin", pin="999999")
    return run


def test_user_commands_and_roles(staffed, small_engine):
    run = staffed
    listed = json.loads(run("user", "list", "--json").stdout)["users"]
    assert [(u["username"], u["role"], u["locked"]) for u in listed] == [
        ("admin", "admin", False), ("alice", "attendant", False), ("sue", "supervisor", False)
    ]
    # Three wrong PINs lock alice; the right PIN is then refused too.
    for _ in range(2):
        result = run("shift", "report", user="alice", pin="000000", expect=2)
        assert result.stderr == "attendant: wrong user name or PIN\n"
    result = run("shift", "report", user="alice", pin="000000", expect=2)
    assert "alice is now locked here (cli:" in result.stderr
    result = run("shift", "report", user="alice", pin="111111", expect=2)
    assert result.stderr.startswith("attendant: user alice is locked here until ") and result.stderr.count("\n") == 1
    assert "LOCKED at cli:" in run("user", "list").stdout

    # An attendant cannot unlock or add users: refused by the service, one line, exit 2.
    result = run("user", "unlock", "alice", user="admin", pin="999999")
    result = run("user", "add", "bob", "--role", "attendant", "--pin", "123412", user="alice", pin="111111", expect=2)
    assert result.stderr == "attendant: creating a user needs an admin; alice is logged in as attendant\n"
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(U)).scalar_one() == 3
    # Without --user, once users exist, the CLI must log in.
    result = run("user", "unlock", "alice", expect=2)
    assert "users exist: log in with --user NAME --pin PIN" in result.stderr

    run("user", "passwd", "alice", "--pin", "444444", user="sue", pin="222222")
    run("user", "passwd", "alice", "--pin", "123", user="sue", pin="222222", expect=2)
    result = run("shift", "report", user="alice", pin="444444", expect=2)
    assert result.stderr == "attendant: alice has no shift at this facility yet\n"


def insert_payment(engine, shift_id, user_id, method, amount, tendered=None):
    """A payment row as the payments service writes it (with its own parking session)."""
    with engine.begin() as conn:
        from db.models import ParkingSession, Spot

        PS, S = ParkingSession.__table__, Spot.__table__
        n = next(_keys)
        # A closed session holds no spot, so every one can use the first.
        spot = conn.execute(select(S.c.id, S.c.spot_type, S.c.facility_id).order_by(S.c.id).limit(1)).one()
        session_id = conn.execute(
            insert(PS).values(
                facility_id=spot.facility_id, ticket_no=1000 + n, code=f"T{n}", vehicle_class="car",
                spot_id=spot.id, spot_type=spot.spot_type, status="closed", entry_at=_now(), exit_at=_now(),
                entry_actor="alice", amount_due=amount, amount_paid=amount,
            ).returning(PS.c.id)
        ).scalar_one()
        conn.execute(
            insert(PAY).values(
                facility_id=spot.facility_id, session_id=session_id, method=method, status="completed",
                amount=amount, tendered=tendered, change=None if tendered is None else tendered - amount,
                idempotency_key=f"cli-{n}", created_at=_now(), actor="alice", shift_id=shift_id, user_id=user_id,
            )
        )


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_full_shift_from_the_cli_balances_and_prints(staffed, small_engine, tmp_path):
    run = staffed
    alice = {"user": "alice", "pin": "111111"}
    opened = json.loads(run("shift", "open", "--float", "100.00", "--terminal", "booth-1", "--json", **alice).stdout)
    assert (opened["user"], opened["float"], opened["status"]) == ("alice", "100.00", "open")
    shift_id = opened["shift_id"]
    run("shift", "open", "--float", "50", expect=2, **alice)  # one open shift per user

    with small_engine.connect() as conn:
        user_id = conn.execute(select(U.c.id).where(U.c.username == "alice")).scalar_one()
    for method, amount, tendered in [
        ("cash", 240, 500), ("cash", 480, 1000), ("card", 720, None), ("upi", 240, None), ("cash", 1890, 2000),
        ("ewallet", 480, None), ("card", 960, None), ("mobile", 240, None), ("cash", 720, 720), ("card", 1200, None),
    ]:
        insert_payment(small_engine, shift_id, user_id, method, amount, tendered)

    result = run("shift", "drop", "500.00", expect=2, **alice)
    assert result.stderr == "attendant: cannot take £500.00 out: the drawer should hold only £133.30\n"
    assert "drawer now £83.30" in run("shift", "drop", "50.00", "--note", "bag 17", **alice).stdout

    result = run("shift", "close", "--count", "50.00x1,20.00x1,10.00x1,2.00x1,1.00x1,0.20x1,0.10x1", "--card",
                 "28.80", "--other", "upi=2.40", "--json", **alice)
    report = json.loads(result.stdout)
    assert report["status"] == "closed" and report["closed_by"] == "alice"
    assert report["expected"] == {"cash": "83.30", "card": "28.80", "upi": "2.40", "ewallet": "4.80",
                                  "mobile": "2.40"}
    assert report["counted"] == report["expected"]
    assert report["totals"] == {"expected": "121.70", "counted": "121.70", "over_short": "0.00"}
    assert [m["over_short"] for m in report["methods"]] == ["0.00"] * 5

    # The same report later, on screen and on the ESC/POS printer (a file printer's real bytes).
    again = json.loads(run("shift", "report", "--json", **alice).stdout)
    assert again == report
    sink = tmp_path / "printer.bin"
    shown = run("shift", "report", "--print", "--printer", f"file://{sink}", **alice).stdout.splitlines()
    assert f"SHIFT REPORT #{shift_id}" in shown and "PRINTER:" not in "\n".join(shown)
    assert any(line.startswith("OVER/SHORT") and line.endswith("£0.00 balanced") for line in shown)
    paper = [line.rstrip() for line in parse(sink.read_bytes()).text.splitlines() if line.strip()]
    assert paper == [line.rstrip() for line in shown if line.strip()]

    # A supervisor reads it by number; another attendant may not.
    assert json.loads(run("shift", "report", "--shift", str(shift_id), "--json", user="sue", pin="222222").stdout)[
        "totals"]["over_short"] == "0.00"
    with small_engine.connect() as conn:
        actions = conn.execute(select(AUD.c.action).where(AUD.c.entity.in_(("shift", "cash_movement")))
                               .order_by(AUD.c.id)).scalars().all()
        row = conn.execute(select(SH.c.over_short, SH.c.count_detail).where(SH.c.id == shift_id)).one()
    assert actions == ["shift.open", "cash.drop", "shift.close"]
    assert row.over_short == 0 and row.count_detail["5000"] == 1


def test_bad_input_is_one_line_and_changes_nothing(staffed, small_engine):
    run = staffed
    alice = {"user": "alice", "pin": "111111"}
    assert run("shift", "open", "--float", "12.345", expect=2, **alice).stderr.count("\n") == 1
    run("shift", "open", "--float", "20", **alice)
    result = run("shift", "close", "--count", "0.03x1", expect=2, **alice)
    assert result.stderr.startswith("attendant: £0.03 is not a GBP denomination")
    result = run("shift", "close", "--count", "20x1", "--other", "upi", expect=2, **alice)
    assert "expected METHOD=AMOUNT" in result.stderr
    with small_engine.connect() as conn:
        assert conn.execute(select(SH.c.status)).scalars().all() == ["open"]


def test_attendant_refused_a_supervisor_action(staffed, db_url, small_engine, tmp_path):
    run = staffed
    run("shift", "open", "--float", "20", user="sue", pin="222222")
    with small_engine.connect() as conn:
        sue_shift = conn.execute(select(SH.c.id)).scalar_one()
    proc = run("shift", "close", "--count", "20.00x1", "--shift", str(sue_shift), user="alice", pin="111111",
               expect=2)
    assert proc.stdout == ""
    assert proc.stderr == (
        "attendant: closing another user's shift needs a supervisor; alice is logged in as attendant\n"
    )
    with small_engine.connect() as conn:
        assert conn.execute(select(SH.c.status).where(SH.c.id == sue_shift)).scalar_one() == "open"


def test_cli_close_needs_a_reason_above_the_threshold_and_the_policy_is_a_supervisors(staffed, small_engine):
    """``shift close --reason`` and ``shift policy`` (issue 12 item 6): refused without a reason, nothing changed."""
    run = staffed
    alice = {"user": "alice", "pin": "111111"}
    sue = {"user": "sue", "pin": "222222"}
    assert json.loads(run("shift", "policy", "--json", **alice).stdout) == {"blind": True, "reason_above": "5.00"}
    result = run("shift", "policy", "--no-blind", expect=2, **alice)
    assert "supervisor" in result.stderr
    assert json.loads(run("shift", "policy", "--reason-above", "2.00", "--json", **sue).stdout) == {
        "blind": True, "reason_above": "2.00"}
    shift_id = json.loads(run("shift", "open", "--float", "20.00", "--json", **alice).stdout)["shift_id"]
    result = run("shift", "close", "--count", "10.00x1,5.00x1", expect=2, **alice)  # £5.00 short of £20.00
    assert result.stderr == ("attendant: cash is short by £5.00, more than £2.00: give a reason for the "
                             "over/short\n")
    with small_engine.connect() as conn:
        assert conn.execute(select(SH.c.status).where(SH.c.id == shift_id)).scalar_one() == "open"
    report = json.loads(run("shift", "close", "--count", "10.00x1,5.00x1", "--reason", "note missing",
                            "--json", **alice).stdout)
    assert report["over_short_reason"] == "note missing" and report["drawer_cash"]["over_short"] == "-5.00"
    with small_engine.connect() as conn:
        assert conn.execute(select(SH.c.over_short_reason).where(SH.c.id == shift_id)).scalar_one() == "note missing"
        details = conn.execute(select(AUD.c.details).where(AUD.c.action == "shift.close")).scalar_one()
    assert details["reason"] == "note missing" and details["reason_above"] == 200
