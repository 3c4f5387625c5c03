"""The correction verbs of the CLI (attendant/cli/corrections.py) on the demo database, with logged-in users:
what they print, how they exit, and the rows and audit events they leave in the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

ANN = ["--user", "ann", "--pin", "111333"]
SUE = ["--user", "sue", "--pin", "222444"]


def rows(cli, sql, *params):
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, params).fetchall()


def state_of(cli) -> dict:
    """Every row an operation could change, but the login events each CLI run with --user records."""
    snap = cli.snapshot()
    snap["audit_event"] = [r for r in snap["audit_event"] if not str(r[5]).startswith("user.")]
    return snap


def staff(cli) -> None:
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    admin = ["--user", "root", "--pin", "135790"]
    cli.run(*admin, "user", "add", "ann", "--role", "attendant", "--pin", "111333")
    cli.run(*admin, "user", "add", "sue", "--role", "supervisor", "--pin", "222444")


def free_bay(cli, spot_type: str) -> str:
    return rows(cli, "SELECT label FROM spot WHERE spot_type = ? AND status = 'available' ORDER BY label",
                spot_type)[0][0]


def test_void_manual_entry_move_and_reset_through_the_cli(cli):
    staff(cli)
    entry = cli.json(*ANN, "enter", "CV1 OID")
    voided = cli.json(*ANN, "void", entry["ticket_no"], "--reason", "issued_in_error: driver reversed out")
    assert (voided["action"], voided["status"], voided["amount"], voided["from_spot"]) == (
        "exception.void", "voided", "0.00", entry["spot"])
    assert rows(cli, "SELECT status, amount_due, exit_actor FROM parking_session WHERE ticket_no = ?",
                int(entry["ticket_no"])) == [("voided", 0, "ann")]
    assert rows(cli, "SELECT status FROM spot WHERE label = ?", entry["spot"]) == [("available",)]

    regular = free_bay(cli, "regular")
    earlier = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    before = state_of(cli)
    refused = cli.run(*ANN, "manual-entry", "CM1 NUL", "--bay", regular, "--reason", "NO_SESSION", "--at", earlier,
                      expect=2)
    assert "supervisor" in refused.stderr and state_of(cli) == before
    bad = cli.run(*ANN, "manual-entry", "CM1 NUL", "--bay", regular, "--reason", "because", expect=2)
    assert "unknown reason code 'BECAUSE'" in bad.stderr and state_of(cli) == before
    manual = cli.json(*SUE, "manual-entry", "CM1 NUL", "--bay", regular, "--reason", "NO_SESSION: patrol",
                      "--at", earlier, "--vehicle", "van")
    assert manual["spot"] == regular and manual["action"] == "exception.manual_entry"
    assert datetime.fromisoformat(manual["entry_at"]) == datetime.fromisoformat(earlier)

    motorcycle = free_bay(cli, "motorcycle")
    unfit = cli.run(*SUE, "move", "CM1NUL", "--to", motorcycle, "--reason", "BAY_ISSUE", expect=2)
    assert f"a van does not fit bay {motorcycle}" in unfit.stderr
    other = cli.json(*ANN, "enter", "CM2 NUL", "--vehicle", "van")
    taken = cli.run(*ANN, "move", "CM1NUL", "--to", other["spot"], "--reason", "BAY_ISSUE", expect=2)
    assert f"bay {other['spot']} is occupied" in taken.stderr
    target = rows(cli, "SELECT label FROM spot WHERE spot_type = 'regular' AND status = 'available' "
                       "AND label <> ? ORDER BY label DESC", regular)[0][0]
    moved = cli.json(*ANN, "move", manual["ticket_no"], "--to", target, "--reason", "BAY_ISSUE: blocked")
    assert (moved["from_spot"], moved["spot"]) == (regular, target)
    assert rows(cli, "SELECT label, status FROM spot WHERE label IN (?, ?) ORDER BY label = ?", regular, target,
                target) == [(regular, "available"), (target, "occupied")]

    again = cli.run(*ANN, "enter", "CM2 NUL", expect=2)
    assert "anti-passback" in again.stderr
    reset = cli.json(*ANN, "apb", "reset", "cm2 nul", "--reason", "GATE_FAULT", "--lane", "E1")
    assert reset["action"] == "exception.apb_reset" and reset["status"] == "closed"
    cli.json(*ANN, "enter", "CM2 NUL")
    actions = rows(cli, "SELECT action, actor, json_extract(details, '$.reason_code') FROM audit_event "
                        "WHERE action LIKE 'exception.%' ORDER BY id")
    assert actions == [("exception.void", "ann", "ISSUED_IN_ERROR"), ("exception.manual_entry", "sue", "NO_SESSION"),
                       ("exception.move", "ann", "BAY_ISSUE"), ("exception.apb_reset", "ann", "GATE_FAULT")]


def test_count_check_exits_1_on_disagreements_and_adjust_resolves_them(cli):
    staff(cli)
    assert json.loads(cli.run(*ANN, "count", "check", "--json").stdout)["ok"] is True
    orphan = cli.json(*ANN, "enter", "CC1 UNT")
    lonely = free_bay(cli, "regular")
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE spot SET status = 'available' WHERE label = ?", (orphan["spot"],))
        db.execute("UPDATE spot SET status = 'occupied' WHERE label = ?", (lonely,))
    ran = cli.run(*ANN, "count", "check", "--json", expect=1)
    check = json.loads(ran.stdout)
    kinds = {(d["kind"], d["spot"]) for d in check["disagreements"]}
    assert kinds == {("orphan_session", orphan["spot"]), ("bay_without_session", lonely)}
    text = cli.run(*ANN, "count", "check", expect=1).stdout
    assert f"bay {lonely} is occupied but no open session is in it" in text

    before = state_of(cli)
    denied = cli.run(*ANN, "count", "adjust", "--free-bay", lonely, "--reason", "COUNT_CORRECTION", expect=2)
    assert "supervisor" in denied.stderr and state_of(cli) == before
    session_id = next(d["session_id"] for d in check["disagreements"] if d["kind"] == "orphan_session")
    cli.json(*SUE, "count", "adjust", "--free-bay", lonely, "--reason", "COUNT_CORRECTION: loop stuck")
    closed = cli.json(*SUE, "count", "adjust", "--session", str(session_id), "--close", "--reason",
                      "COUNT_CORRECTION: car gone")
    assert closed["adjustment"] == "close_session" and closed["status"] == "closed"
    assert "Counts agree." in cli.run(*ANN, "count", "check").stdout
    assert rows(cli, "SELECT status, exit_reason FROM parking_session WHERE id = ?", session_id) == [
        ("closed", "count adjustment: COUNT_CORRECTION: car gone")]
    assert [a for (a,) in rows(cli, "SELECT json_extract(details, '$.adjustment') FROM audit_event "
                                    "WHERE action = 'exception.count_adjust' ORDER BY id")] == [
        "free_bay", "close_session"]
