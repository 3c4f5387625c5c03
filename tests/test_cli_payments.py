"""Money at the exit through the CLI, as a script or a checker runs it.

The stand-in card processor is scripted with ATTENDANT_STANDIN_PAYMENTS
(e.g. ``card=decline``); each CLI run builds a new booth (and a new
processor), as a new process would, so idempotency must come from the
database, not from the processor's memory.
"""

from __future__ import annotations

import json
import sqlite3


def table(cli, sql):
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql).fetchall()


def with_card(cli, outcome):
    cli.env["ATTENDANT_STANDIN_PAYMENTS"] = f"card={outcome}"


def test_decline_and_outage_let_the_car_go_and_the_third_iou_forces_prepayment(cli):
    codes = []
    for n in range(3):
        codes.append(cli.json("enter", "OW3 SME" if n == 0 else f"TMP{n}", "--at", f"2026-11-20T0{n + 7}:00")["code"])
    with_card(cli, "decline")
    proc = cli.run("exit", codes[0], "--pay", "card", "--at", "2026-11-20T10:00", expect=2)
    assert "declined" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert table(cli, "SELECT status FROM parking_session WHERE ticket_no = 1") == [("open",)]

    gone = cli.json("exit", codes[0], "--pay", "card", "--iou", "card declined", "--at", "2026-11-20T10:00")
    assert gone["gate"] == "opened" and gone["iou"] == "7.20" and gone["paid"] == "0.00"
    assert [p["status"] for p in gone["payments"]] == ["failed", "failed"]

    with_card(cli, "unavailable")  # processor outage: the second and third stays of the same plate
    for n in (2, 3):
        code = cli.json("enter", "OW3SME", "--at", f"2026-11-2{n}T09:00")["code"]
        gone = cli.json("exit", code, "--pay", "card", "--iou", "processor down", "--at", f"2026-11-2{n}T10:30")
        assert gone["iou"] == "4.80" and gone["gate"] == "opened"
    from attendant.core.personal_data import site_data

    ref = site_data().plate_index("OW3SME")  # IOUs find a plate by its blind index (the plate is sealed)
    assert table(cli, "SELECT plate_hash, amount, status FROM iou ORDER BY id") == [
        (ref, 720, "open"), (ref, 480, "open"), (ref, 480, "open")]

    proc = cli.run("enter", "OW3 SME", "--at", "2026-11-24T09:00", expect=2)
    assert "3 unpaid IOUs" in proc.stderr
    ious = json.loads(cli.run("iou", "list", "--plate", "OW3SME", "--json").stdout)
    assert len(ious) == 3
    with_card(cli, "approve")
    settled = cli.json("iou", "settle", "OW3SME", "--pay", "card")
    assert settled["paid"] == "16.80" and settled["settled"] == 3
    assert cli.json("enter", "OW3 SME", "--at", "2026-11-24T09:05")["ticket_no"] == "00000006"


def test_a_retried_exit_with_the_same_key_is_charged_once(cli):
    code = cli.json("enter", "RE7 TRY", "--at", "2026-11-20T08:00")["code"]
    first = cli.json("exit", code, "--pay", "card", "--idempotency-key", "X1-42", "--at", "2026-11-20T09:30")
    again = cli.json("exit", code, "--pay", "card", "--idempotency-key", "X1-42", "--at", "2026-11-20T09:31")
    assert first["amount_due"] == again["amount_due"] == "4.80" and again["gate"] == "already exited"
    assert table(cli, "SELECT count(*), sum(amount) FROM payment") == [(1, 480)]


def test_split_tender_and_validation_from_the_cli(cli):
    valid = cli.run("validation", "create", "--merchant", "Bookshop", "--kind", "amount", "--value", "1.00").stdout
    code = cli.json("enter", "SP1 LIT", "--at", "2026-11-20T08:00")["code"]
    result = cli.json("exit", code, "--validation", valid.strip(), "--pay", "cash=2.00", "--tendered", "5",
                      "--pay", "card", "--at", "2026-11-20T10:30")  # £7.20 - £1.00 validation - £2.00 cash
    assert [(p["method"], p["amount"]) for p in result["payments"]] == [
        ("validation", "1.00"), ("cash", "2.00"), ("card", "4.20")]
    assert result["change"] == "3.00" and result["paid"] == "7.20" and result["method"] == "split"


def test_supervisor_actions_are_refused_to_an_attendant(cli, tmp_path):
    cli.run("user", "add", "boss", "--role", "admin", "--pin", "999999", "--name", "Boss")
    cli.run("--user", "boss", "--pin", "999999", "user", "add", "ann", "--role", "attendant", "--pin", "123412")
    proc = cli.run("--user", "ann", "--pin", "123412", "rates", "activate",
                   str(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "rates" /
                       "ferry_meadows.toml"), expect=2)
    assert "needs a supervisor" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli.run("--user", "ann", "--pin", "123412", "refund", "1", "--reason", "x", expect=2)
    assert "needs a supervisor" in proc.stderr
    proc = cli.run("rates", "activate", "examples/rates/ferry_meadows.toml", expect=2)  # no login once users exist
    assert "users exist: log in" in proc.stderr
    assert table(cli, "SELECT count(*) FROM rate_plan_version") == [(1,)]
