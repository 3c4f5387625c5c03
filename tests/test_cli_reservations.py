"""``attendant reservation ...`` and ``attendant strategy ...`` on a copy of the demo database (issue 11 item 7):
the JSON contract, an overbooking refused with its first conflicting instant (exit 2, nothing booked),
cancellation refunds, check-in by plate through ``reservation check-in`` and by ``enter`` by itself.

Windows are placed relative to the real clock (the services book against now).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.cli_support import REPO


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(cli, sql: str) -> list[tuple]:
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def test_book_list_show_cancel_and_overbooking(cli):
    assert cli.json("reservation", "pool", "regular", "--bays", "1")["capacity"] == 1
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    made = cli.json("reservation", "create", "--vehicle", "car", "--from", iso(start),
                    "--to", iso(start + timedelta(hours=2)), "--plate", "ab12 cde", "--holder", "Ada Lovelace",
                    "--contact", "ada@example.org", "--prepay", "cash")
    assert made["code"].startswith("R-CHS-") and made["status"] == "booked"
    assert made["from"] == start.isoformat() and made["amount_prepaid"] == "6.00" and made["price"] == "6.00"
    refused = cli.run("reservation", "create", "--vehicle", "car", "--from", iso(start + timedelta(hours=1)),
                      "--to", iso(start + timedelta(hours=3)), expect=2)
    local = (start + timedelta(hours=1)).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert "overbooked" in refused.stderr and local.strftime("%H:%M") in refused.stderr
    assert rows(cli, "SELECT count(*) FROM reservation") == [(1,)]
    listed = cli.json("reservation", "list", "--status", "booked")["reservations"]
    assert [r["code"] for r in listed] == [made["code"]]
    shown = cli.json("reservation", "show", made["code"])
    assert shown["holder_name"] == "Ada Lovelace" and shown["plate"] == "AB12CDE"
    assert "Ada" not in str(rows(cli, "SELECT holder_name, holder_contact, plate FROM reservation"))
    cancelled = cli.json("reservation", "cancel", made["code"], "--reason", "plans changed")
    assert cancelled["status"] == "cancelled" and cancelled["amount_prepaid"] == "0.00"  # 3 days ahead: in full
    assert rows(cli, "SELECT kind, amount, status FROM reservation_payment ORDER BY id") == [
        ("prepay", 600, "completed"), ("refund", -600, "completed")]
    cli.run("reservation", "cancel", made["code"], "--reason", "again", expect=2)
    cli.run("reservation", "show", made["code"][:-2] + "AA", expect=2)  # altered: not genuine
    actions = [a for (a,) in rows(cli, "SELECT action FROM audit_event WHERE entity = 'reservation' ORDER BY id")]
    assert actions == ["reservation.book", "reservation.prepay", "reservation.cancel", "reservation.refund"]


def test_check_in_by_plate_and_enter_checks_in_by_itself(cli):
    cli.run("reservation", "pool", "regular", "--bays", "5")
    now = datetime.now(UTC)
    first = cli.json("reservation", "create", "--vehicle", "car", "--from", iso(now + timedelta(minutes=5)),
                     "--to", iso(now + timedelta(hours=2)), "--plate", "RS12 ONE")
    second = cli.json("reservation", "create", "--vehicle", "car", "--from", iso(now + timedelta(minutes=5)),
                      "--to", iso(now + timedelta(hours=2)), "--plate", "RS12 TWO")
    swept = cli.json("reservation", "sweep")
    assert swept["held"] == 2
    held = cli.json("reservation", "show", first["code"])["held_spot"]
    assert rows(cli, f"SELECT status FROM spot WHERE label = '{held}'") == [("reserved",)]
    entry = cli.json("reservation", "check-in", "RS12ONE")
    assert entry["spot"] == held and entry["reservation"]["code"] == first["code"]
    auto = cli.json("enter", "RS12 TWO")
    assert auto["reservation"]["code"] == second["code"]
    assert cli.json("reservation", "show", second["code"])["status"] == "checked_in"
    cli.run("reservation", "check-in", first["code"], expect=2)  # already checked in
    report = cli.json("reservation", "report", "--date", (now + timedelta(minutes=5)).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/London")).date().isoformat())
    assert report["counts"]["checked_in"] == 2 and report["prepaid"] == "0.00"
    assert report["pools"][0]["capacity"] == 5
    assert cli.json("strategy", "set", "spread") == {"strategy": "spread"}
    assert cli.json("strategy", "show") == {"strategy": "spread"}
    bad = cli.run("strategy", "set", "random", expect=2)
    assert "unknown strategy" in bad.stderr


def test_two_processes_booking_the_last_slot_one_wins(cli):
    """Two real ``attendant`` processes on one SQLite file book the last slot at once: one booking, one
    refusal naming the instant (SQLite's single writer serialises them; tests/test_reservations.py races
    two booths on PostgreSQL too)."""
    import threading

    cli.run("reservation", "pool", "large", "--bays", "1")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    results = []

    env = {k: v for k, v in {**os.environ, **cli.env, "PYTHONPATH": str(REPO)}.items() if v is not None}

    def book() -> None:
        results.append(subprocess.run(
            [sys.executable, "-m", "attendant", "--db", cli.db, "reservation", "create", "--vehicle", "truck",
             "--from", iso(start), "--to", iso(start + timedelta(hours=1)), "--json"],
            check=False, capture_output=True, text=True, env=env, timeout=90))

    threads = [threading.Thread(target=book) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
    assert "overbooked" in next(r.stderr for r in results if r.returncode == 2)
    assert rows(cli, "SELECT count(*) FROM reservation") == [(1,)]


def test_the_http_api_books_lists_cancels_and_checks_in_like_the_cli(cli):
    from tests.test_api import assert_problem, start_server, stop_server

    cli.run("reservation", "pool", "regular", "--bays", "1")
    now = datetime.now(UTC)
    server = start_server(cli)
    try:
        with server.client() as http:
            made = http.post("/v1/facilities/CHS/reservations", json={
                "vehicle": "car", "from": iso(now + timedelta(minutes=5)), "to": iso(now + timedelta(hours=1)),
                "plate": "API 1", "holder": "Api Holder", "prepay": "card"}, headers={"Idempotency-Key": "k1"})
            assert made.status_code == 201, made.text
            r = made.json()
            assert set(r) == set(cli.json("reservation", "show", r["code"]))  # the CLI's JSON shape
            assert r["amount_prepaid"] == "3.00" and r["holder_name"] == "Api Holder"
            again = http.post("/v1/facilities/CHS/reservations", json={
                "vehicle": "car", "from": iso(now + timedelta(minutes=5)), "to": iso(now + timedelta(hours=1)),
                "plate": "API 1", "prepay": "card"}, headers={"Idempotency-Key": "k1"})
            assert again.json()["code"] == r["code"]  # retried: the first booking
            full = http.post("/v1/facilities/CHS/reservations", json={
                "vehicle": "car", "from": iso(now + timedelta(minutes=30)), "to": iso(now + timedelta(hours=2))})
            assert "overbooked" in assert_problem(full, 409)["detail"]
            assert_problem(http.post("/v1/facilities/CHS/reservations", json={"vehicle": "car", "from": "soon",
                                                                             "to": "later"}), 422)
            listed = http.get("/v1/facilities/CHS/reservations", params={"status": "booked"}).json()
            assert [x["code"] for x in listed["reservations"]] == [r["code"]]
            assert http.get(f"/v1/facilities/CHS/reservations/{r['code']}").json()["status"] == "booked"
            cli.run("reservation", "sweep")
            entry = http.post("/v1/facilities/CHS/entries", json={"plate": "API 1"})
            assert entry.status_code == 201 and entry.json()["reservation"]["code"] == r["code"]
            assert_problem(http.post(f"/v1/facilities/CHS/reservations/{r['code']}/cancel",
                                     json={"reason": "too late"}), 409)
    finally:
        stop_server(server)
    assert rows(cli, "SELECT count(*) FROM reservation") == [(1,)]
