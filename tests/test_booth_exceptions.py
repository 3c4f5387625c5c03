"""Booth exceptions (issue 10 items 1, 2, 3, 6, 11): lost ticket to the end, manual vend, free exit,
back-dating refused for attendants by the service, and the exceptions report, read back from the rows
and the audit events."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError
from attendant.core.exceptions_report import exceptions_report, render_exceptions
from attendant.core.requests import ExitRequest, Tender
from attendant.core.time_bounds import set_replay
from db.models import AuditEvent, Iou, ParkingSession, Payment, Vend

AE, PS, PAY, VEND, IOU = (t.__table__ for t in (AuditEvent, ParkingSession, Payment, Vend, Iou))
SUE = Actor("sue", Role.SUPERVISOR)
ADMIN = Actor("test-admin", Role.ADMIN)
LOST_FEE = 1890  # examples/rates/charlotte_street.toml: lost_ticket = { price = "18.90", per_day = true }


def events(engine, prefix: str = "exception.") -> list:
    with engine.connect() as conn:
        return conn.execute(select(AE.c.action, AE.c.actor, AE.c.details).where(AE.c.action.startswith(prefix))
                            .order_by(AE.c.id)).all()


def counts(engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (AE, PAY, VEND, IOU)) + (
            conn.execute(select(func.count()).select_from(PS).where(PS.c.status == "open")).scalar_one(),)


def test_lost_ticket_found_by_a_confusable_plate_pays_the_plans_fee(service, clock):
    entry = service.enter("AB12 CDE", "car", actor="ann", at=clock.now - timedelta(hours=3))
    code, found = service.lost_ticket_code("A812CDE", actor="ann")  # 8 read for B
    assert (code, found) == (entry.code, "plate")
    normal = service.quote(code).fee.amount
    done = service.settle(ExitRequest(code, (Tender("cash", tendered=2000),), lane="X1", lost=True), actor="ann",
                          vend=True)
    assert done.fee.amount == LOST_FEE != normal and done.change == 2000 - LOST_FEE
    with service.engine.connect() as conn:
        row = conn.execute(select(PS.c.status, PS.c.amount_due, PS.c.amount_paid).where(
            PS.c.id == entry.session_id)).one()
        paid = conn.execute(select(PAY.c.amount).where(PAY.c.session_id == entry.session_id)).scalars().all()
        vend = conn.execute(select(VEND.c.source).where(VEND.c.session_id == entry.session_id)).scalar_one()
    assert tuple(row) == ("closed", LOST_FEE, LOST_FEE) and paid == [LOST_FEE] and vend == "payment"
    [(action, actor, details)] = events(service.engine)
    assert (action, actor) == ("exception.lost_ticket", "ann")
    assert details["reason_code"] == "LOST_TICKET" and details["amount_cents"] == LOST_FEE
    assert details["lane"] == "X1" and details["ticket_no"] == int(entry.ticket_no)


def test_lost_ticket_with_no_vehicle_inside_charges_the_fee_for_an_unknown_stay(service):
    code, found = service.lost_ticket_code("ZZ99 ZZZ", actor="ann", vehicle_class="van")
    assert found == "unknown stay"
    done = service.settle(ExitRequest(code, (Tender("card"),), lost=True, reason="LOST_TICKET: no ticket, no record"),
                          actor="ann")
    assert done.fee.amount == LOST_FEE and done.plate == "ZZ99ZZZ" and done.paid == LOST_FEE
    [(_a, _who, details)] = events(service.engine)
    assert details["reason_text"] == "no ticket, no record"


def test_free_exit_needs_a_supervisor_and_waives_the_balance(service, clock):
    entry = service.enter("FR33 EXT", "car", actor="ann", at=clock.now - timedelta(hours=2))
    due = service.quote(entry.code).fee.amount
    assert due > 0
    before = counts(service.engine)
    with pytest.raises(PermissionDenied, match="needs a supervisor"):
        service.settle(ExitRequest(entry.code, free=True, reason="GOODWILL"), actor="ann")
    with pytest.raises(InputError, match="needs a reason"):
        ExitRequest(entry.code, free=True)
    with pytest.raises(InputError, match="unknown reason code"):
        service.settle(ExitRequest(entry.code, free=True, reason="because"), actor=SUE)
    assert counts(service.engine) == before  # nothing written
    done = service.settle(ExitRequest(entry.code, lane="X1", free=True, reason="goodwill: barrier hit the mirror"),
                          actor=SUE, vend=True)
    assert done.paid == 0 and done.iou_amount == 0 and done.vend_source == "attendant"
    with service.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(IOU)).scalar_one() == 0
        status, paid, reason = conn.execute(select(PS.c.status, PS.c.amount_paid, PS.c.exit_reason)
                                            .where(PS.c.id == entry.session_id)).one()
        vend_reason = conn.execute(select(VEND.c.reason).where(VEND.c.session_id == entry.session_id)).scalar_one()
    assert (status, paid) == ("closed", 0) and reason.startswith("free exit: GOODWILL")
    assert vend_reason == "free exit: GOODWILL: barrier hit the mirror"
    [(action, actor, details)] = events(service.engine)
    assert (action, actor, details["amount_cents"], details["reason_code"]) == ("exception.free_exit", "sue", due,
                                                                                "GOODWILL")


def test_an_attendants_back_dated_exit_is_refused_by_the_service(service, clock):
    set_replay(service.engine, False, actor=ADMIN)  # a live facility, not a replay
    entry = service.enter("BD45 ATE", "car", actor="ann", at=clock.now)
    clock.now += timedelta(hours=3, minutes=35)
    earlier = clock.now - timedelta(hours=3, minutes=30)
    assert service.quote(entry.code, at=earlier).fee.amount == 0  # what the back-dating would have charged
    before = counts(service.engine)
    with pytest.raises(PermissionDenied, match=r"back-dating an operation \(3 h 30 min before now\) needs a "
                                               "supervisor"):
        service.settle(ExitRequest(entry.code, (Tender("cash", tendered=5000),), at=earlier), actor="ann")
    with pytest.raises(InputError, match="needs a reason"):
        service.settle(ExitRequest(entry.code, (Tender("cash", tendered=5000),), at=earlier), actor=SUE)
    with pytest.raises(PermissionDenied):  # an entry too
        service.enter("BD46 ATE", "car", actor="ann", at=earlier)
    assert counts(service.engine) == before  # nothing written
    service.settle(ExitRequest(entry.code, (Tender("cash", tendered=5000),), at=clock.now - timedelta(seconds=30)),
                   actor="ann")  # within the minute's tolerance: not back-dated
    other = service.enter("BD47 ATE", "car", actor="ann", at=clock.now - timedelta(seconds=20))
    done = service.settle(ExitRequest(other.code, at=other.entry_at + timedelta(seconds=5),
                                      backdate_reason="EQUIPMENT: pay station down"), actor=SUE)
    assert done.exit_at == other.entry_at + timedelta(seconds=5)
    [(action, actor, details)] = events(service.engine)
    assert (action, actor, details["reason_code"], details["reason_text"]) == (
        "exception.backdate", "sue", "EQUIPMENT", "pay station down")


def test_manual_vend_is_recorded_with_its_reason(service):
    with pytest.raises(InputError, match="unknown reason code"):
        service.manual_vend("X1", reason="opened it", actor="ann")
    vend_id = service.manual_vend("x1", reason="GATE_FAULT: barrier stuck half way", actor="ann")
    with service.engine.connect() as conn:
        row = conn.execute(select(VEND).where(VEND.c.id == vend_id)).one()
    assert (row.lane, row.direction, row.source, row.reason, row.outcome, row.actor) == (
        "X1", "exit", "attendant", "GATE_FAULT: barrier stuck half way", "opened", "ann")
    [(action, _actor, details)] = events(service.engine)
    assert action == "exception.manual_vend" and details["vend_id"] == vend_id and details["lane"] == "X1"


def test_the_exceptions_report_totals_by_kind_and_actor(service, clock):
    a = service.enter("RP1 AAA", "car", actor="ann", at=clock.now - timedelta(hours=3))
    b = service.enter("RP2 BBB", "car", actor="ann", at=clock.now - timedelta(hours=2))
    service.settle(ExitRequest(a.code, (Tender("cash"),), lost=True), actor="ann")
    due = service.quote(b.code).fee.amount
    service.settle(ExitRequest(b.code, free=True, reason="STAFF"), actor=SUE)
    service.manual_vend("X1", reason="EMERGENCY", actor="ann")
    service.set_spot_in_service("L1-A01", False, actor=SUE, reason="spill")
    report = exceptions_report(service, "daily", clock.now.date())
    assert [r.kind for r in report.rows] == ["lost_ticket", "free_exit", "manual_vend", "bay_out_of_service"]
    assert report.by_kind == {"bay_out_of_service": (1, 0), "free_exit": (1, due), "lost_ticket": (1, LOST_FEE),
                              "manual_vend": (1, 0)}
    assert report.by_actor == {"ann": (2, LOST_FEE), "sue": (2, due)}
    data = report.to_json_dict()
    assert data["count"] == 4 and data["by_kind"]["lost_ticket"] == {"count": 1, "amount": "18.90"}
    table = render_exceptions(report, "table")
    assert "lost_ticket" in table and "£18.90" in table and "By actor" in table
    csv_text = render_exceptions(report, "csv")
    assert csv_text.splitlines()[1].split(",")[2] == "lost_ticket"
    assert exceptions_report(service, "daily", clock.now.date() - timedelta(days=1)).rows == ()


# ------------------------------------------------------------------ the CLI, with users


@pytest.fixture
def staffed(cli):
    """The demo database with an admin, an attendant (ann) and a supervisor (sue), both on shift."""
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    root = ("--user", "root", "--pin", "135790")
    cli.run(*root, "user", "add", "ann", "--role", "attendant", "--pin", "246802")
    cli.run(*root, "user", "add", "sue", "--role", "supervisor", "--pin", "975310")
    for who in (("--user", "ann", "--pin", "246802"), ("--user", "sue", "--pin", "975310")):
        cli.run(*who, "shift", "open", "--float", "50")
    return cli


ANN = ("--user", "ann", "--pin", "246802")
SUE_CLI = ("--user", "sue", "--pin", "975310")
ROOT = ("--user", "root", "--pin", "135790")


def written(cli) -> dict:
    """Every row an operation could change, but the logins (each ``--user`` login is audited)."""
    snap = cli.snapshot()
    snap["audit_event"] = [e for e in snap["audit_event"] if not str(e[5]).startswith("user.login")]
    return snap


def rows(cli, sql: str, *args) -> list:
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, args).fetchall()


def test_cli_exceptions_end_to_end(staffed):
    from datetime import UTC, datetime

    cli = staffed
    cli.run(*ROOT, "time-window", "--no-replay")
    now = datetime.now(UTC)
    # enter now, then exits: the attendant is refused a free exit and a back-dated one (nothing written)
    car = cli.json(*ANN, "enter", "CL1 EXC")
    before = written(cli)
    refused = cli.run(*ANN, "exit", car["code"], "--free", "--reason", "GOODWILL", expect=2)
    assert "a free exit (the balance waived) needs a supervisor" in refused.stderr
    back = (now - timedelta(hours=3, minutes=30)).strftime("%Y-%m-%dT%H:%MZ")
    refused = cli.run(*ANN, "exit", car["code"], "--pay", "cash", "--tendered", "20", "--at", back, expect=2)
    assert "needs a supervisor" in refused.stderr and "back-dating" in refused.stderr
    assert written(cli) == before

    free = cli.json(*SUE_CLI, "exit", car["code"], "--free", "--reason", "GOODWILL: regular")
    assert free["free_exit"] == {"reason": "GOODWILL: regular"} and free["paid"] == "0.00"
    assert free["gate"] == "opened"

    other = cli.json(*ANN, "enter", "LO5 TKT")
    lost = cli.json(*ANN, "exit", "--lost", "L05 TKT", "--pay", "cash", "--tendered", "20")  # 0 typed for O
    assert lost["lost_ticket"] == {"plate": "L05 TKT", "found_by": "plate"}
    assert lost["ticket_no"] == other["ticket_no"] and lost["amount_due"] == "18.90" and lost["change"] == "1.10"
    unknown = cli.json(*ANN, "exit", "--lost", "NO1 SUCH", "--pay", "card")
    assert unknown["lost_ticket"]["found_by"] == "unknown stay" and unknown["amount_due"] == "18.90"
    bad = cli.run(*ANN, "exit", "--lost", "NO2 SUCH", "--pay", "card", "--reason", "nonsense", expect=2)
    assert "unknown reason code 'NONSENSE'" in bad.stderr

    vend = cli.json(*ANN, "vend", "X1", "--reason", "GATE_FAULT: retry after fault")
    assert (vend["lane"], vend["gate"], vend["reason"]) == ("X1", "opened", "GATE_FAULT: retry after fault")
    assert rows(cli, "SELECT source, reason, actor FROM vend WHERE id = ?", vend["vend_id"]) == [
        ("attendant", "GATE_FAULT: retry after fault", "ann")]
    assert cli.run(*ANN, "vend", "X9", "--reason", "STAFF", expect=2).stderr.startswith("attendant: no lane 'X9'")
    hand = cli.json(*ANN, "vend", "X1", "--reason", "EMERGENCY", "--by-hand", "--retry", str(vend["vend_id"]))
    assert (hand["by_hand"], hand["gate"], hand["retry_of"]) == (True, "opened", vend["vend_id"])

    # a supervisor back-dates with --reason (the documented spelling): exception "backdate"
    late = cli.json(*SUE_CLI, "enter", "BK1 DAT", "--at", back, "--reason", "EQUIPMENT: ticket machine down")
    assert late["entry_at"].startswith(back[:16])
    assert rows(cli, "SELECT actor, details FROM audit_event WHERE action = 'exception.backdate'") == [
        ("sue", json.dumps({"reason_code": "EQUIPMENT", "reason_text": "ticket machine down", "amount_cents": None,
                            "lane": "E1", "ticket_no": int(late["ticket_no"]), "operation": "entry"}))]

    kinds = [a for (a,) in rows(cli, "SELECT action FROM audit_event WHERE action LIKE 'exception.%' ORDER BY id")]
    assert kinds == ["exception.free_exit", "exception.lost_ticket", "exception.lost_ticket",
                     "exception.manual_vend", "exception.manual_vend", "exception.backdate"]
    report = json.loads(cli.run(*ROOT, "report", "exceptions", "--format", "json").stdout)
    assert report["by_kind"]["lost_ticket"] == {"count": 2, "amount": "37.80"}
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")  # the demo's zone: the back-dated entry may fall on yesterday's report
    same_day = (now - timedelta(hours=3, minutes=30)).astimezone(london).date() == now.astimezone(london).date()
    assert report["by_actor"]["ann"]["count"] == 4 and report["by_actor"]["sue"]["count"] == 1 + same_day
    daily = json.loads(cli.run(*ROOT, "report", "daily", "--format", "json").stdout)
    assert daily["vends_by_reason"]["attendant · GATE_FAULT"] == 1
    assert daily["vends_by_reason"]["attendant · EMERGENCY"] == 1
    assert daily["vends_by_reason"]["attendant · free exit GOODWILL"] == 1
    reasons = cli.json("reasons")
    assert reasons["source"] == "default" and reasons["reasons"][0]["code"] == "LOST_TICKET"


def test_a_facilitys_own_reason_codes_from_the_console_config(cli, tmp_path):
    config = tmp_path / "console.toml"
    config.write_text('[exceptions]\nreasons = { VIP = "operator\'s guest", LOST_TICKET = "no ticket" }\n\n'
                      '[[lanes]]\ncode = "X1"\nname = "Exit 1"\ndirection = "exit"\ngate = "standin://"\n',
                      encoding="utf-8")
    listed = cli.json("--config", str(config), "reasons")
    assert [r["code"] for r in listed["reasons"]] == ["VIP", "LOST_TICKET"]
    refused = cli.run("--config", str(config), "vend", "X1", "--reason", "GOODWILL", expect=2)
    assert "one of: VIP, LOST_TICKET" in refused.stderr
    assert cli.json("--config", str(config), "vend", "X1", "--reason", "vip")["reason"] == "VIP"


def test_a_faulted_gate_is_retried_or_recorded_as_opened_by_hand(service):
    from attendant.booth import Booth
    from hardware.config import default_config

    booth = Booth(service, default_config())
    try:
        gate = booth.devices(booth.lanes["X1"]).gate
        gate.set_fault("barrier controller reports a fault")
        with pytest.raises(InputError, match="no lane 'X7'"):
            booth.manual_vend("X7", "GATE_FAULT", actor="ann")
        failed = booth.manual_vend("x1", "GATE_FAULT: stuck", actor="ann")
        assert (failed.gate.value, failed.lane) == ("fault", "X1")
        retried_while_faulted = booth.manual_vend("X1", "GATE_FAULT", actor="ann", retry_of=failed.vend_id)
        assert retried_while_faulted.gate.value == "fault"
        by_hand = booth.manual_vend("X1", "GATE_FAULT: lifted the arm", actor="ann", retry_of=failed.vend_id,
                                    command=False)
        assert (by_hand.gate.value, by_hand.message) == ("opened", "opened by hand")
        gate.clear_fault()
        again = booth.manual_vend("X1", "STAFF", actor="ann")
        assert again.gate.value == "opened"
    finally:
        booth.close()
    with service.engine.connect() as conn:
        vends = conn.execute(select(VEND.c.id, VEND.c.outcome, VEND.c.message, VEND.c.reason)
                             .order_by(VEND.c.id)).all()
    assert [(v.outcome, v.reason) for v in vends] == [
        ("fault", "GATE_FAULT: stuck"), ("fault", "GATE_FAULT"), ("opened", "GATE_FAULT: lifted the arm"),
        ("opened", "STAFF")]
    assert vends[2].message == "opened by hand"
    details = [d for (_a, _w, d) in events(service.engine)]
    assert [d["retry_of"] for d in details] == [None, failed.vend_id, failed.vend_id, None]
    assert [d["by_hand"] for d in details] == [False, False, True, False]


@pytest.mark.parametrize("table, says", [
    ('[exceptions]\nreasons = {}\n', "at least one"),
    ('[exceptions]\nreasons = { "9X" = "bad" }\n', "a code is a letter"),
    ('[exceptions]\nreasons = { VIP = "" }\n', "the meaning is text"),
    ('[exceptions]\nreason = { VIP = "x" }\n', "unknown key"),
    ('[exceptions]\nreasons = { vip = "a", VIP = "b" }\n', "given twice"),
])
def test_bad_reason_codes_in_the_console_config_are_refused(table, says):
    from hardware.config import parse_config

    lanes = '\n[[lanes]]\ncode = "X1"\nname = "Exit 1"\ndirection = "exit"\n'
    with pytest.raises(InputError, match=says):
        parse_config(table + lanes, "console.toml")
    assert parse_config(lanes, "console.toml").reason_codes is None
