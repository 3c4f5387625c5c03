"""One charge per ticket, whatever the lanes do: exit lanes in separate processes taking cards for the
same tickets at the same moment, on SQLite and PostgreSQL.

Each process is a booth of its own (its own services, its own connection pool) sharing the database and
the stand-in processor's ledger file, as two exit lanes of a site share a processor. The stand-in takes
time to answer (``card=approve@30ms``), so the lanes really overlap. Counted at the end, from the
processor's ledger and the database: charges == exits, and every session paid exactly its fee.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from attendant.core.clock import utc_now
from attendant.core.payments import StandInProcessor
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.core.vocab import PaymentMethod
from db.models import ParkingSession, Payment

REPO = Path(__file__).resolve().parents[1]
PS, PAY = ParkingSession.__table__, Payment.__table__
LANES = 4
TICKETS = 16

# One lane: every ticket in the file, in this lane's own order, paid by card at the exit. Prints what
# happened to each as JSON: "exit", or the refusal's class (another lane is paying it, or it has left).
LANE = """
import json, random, sys
from attendant.core.errors import AttendantError
from attendant.core.payments import ProcessorRegistry
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from db.engine import make_engine

url, lane, codes_file, ledger = sys.argv[1:5]
codes = json.load(open(codes_file))
random.Random(lane).shuffle(codes)
service = ParkingService(make_engine(url, migrate=False), TicketSigner.from_site(),
                         processors=ProcessorRegistry(ledger=ledger))
outcomes = {}
for code in codes:
    try:
        service.exit(code, method="card", actor=f"lane-{lane}", lane=lane)
        outcomes[code] = "exit"
    except AttendantError as exc:
        outcomes[code] = f"{type(exc).__name__}: {exc}"
print(json.dumps(outcomes))
"""


def test_card_exits_from_four_lane_processes_charge_each_ticket_once(small_engine, tmp_path):
    service = ParkingService(small_engine, TicketSigner.from_site())
    entered = utc_now() - timedelta(hours=2, minutes=30)  # £7.20 each on the demo plan
    codes = [service.enter(f"RACE{i:02d}", "car", actor="t", at=entered + timedelta(seconds=i)).code
             for i in range(TICKETS)]
    codes_file, ledger = tmp_path / "codes.json", tmp_path / "processor.db"
    codes_file.write_text(json.dumps(codes))
    env = dict(os.environ, PYTHONPATH=str(REPO), ATTENDANT_STANDIN_PAYMENTS="card=approve@30ms")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    url = small_engine.url.render_as_string(hide_password=False)
    lanes = [subprocess.Popen([sys.executable, "-c", LANE, url, f"X{n}", str(codes_file), str(ledger)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for n in range(1, LANES + 1)]
    results = []
    for lane in lanes:
        out, err = lane.communicate(timeout=120)
        assert lane.returncode == 0, err
        results.append(json.loads(out))

    exits = [code for result in results for code, what in result.items() if what == "exit"]
    assert sorted(exits) == sorted(codes), results  # every ticket left, through exactly one lane (else: why not)
    refusals = {what.split(":")[0] for result in results for what in result.values() if what != "exit"}
    assert refusals <= {"Refused"}, refusals  # the others were told it is in progress or has left
    charges = StandInProcessor(PaymentMethod.CARD, ledger=ledger).charges
    assert len(charges) == len(exits) == TICKETS  # charges == exits
    with small_engine.connect() as conn:
        sessions = conn.execute(select(PS.c.id, PS.c.status, PS.c.amount_due, PS.c.amount_paid)).all()
        payments = conn.execute(select(PAY.c.session_id, PAY.c.status, PAY.c.amount, PAY.c.idempotency_key)).all()
    assert {s.status for s in sessions} == {"closed"}
    assert all(s.amount_paid == s.amount_due == 720 for s in sessions)
    completed = [p for p in payments if p.status == "completed"]
    assert sorted(p.session_id for p in completed) == sorted(s.id for s in sessions)  # one each
    assert sorted(p.idempotency_key for p in completed) == sorted(k for k, _ in charges)


def _pending(db: str):
    import sqlite3

    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT id, status, idempotency_key FROM payment ORDER BY id").fetchall()


def test_a_lane_killed_while_the_card_is_being_charged_leaves_an_attempt_that_can_be_settled(cli):
    """SIGKILL during a card payment: the attempt is listed, blocks a second charge while its lane may still
    be waiting, then the next exit settles it by the processor's status query (never received: voided) and
    charges once; a second stuck attempt is resolved by a supervisor."""
    import signal
    import sqlite3
    import time

    code = cli.json("enter", "KIL 1ED", "--at", "2026-11-20T08:00")["code"]
    env = {k: v for k, v in {**os.environ, **cli.env, "PYTHONPATH": str(REPO),
                             "ATTENDANT_STANDIN_PAYMENTS": "card=approve@30s"}.items() if v is not None}
    lane = subprocess.Popen([sys.executable, "-m", "attendant", "--db", cli.db, "exit", code, "--pay", "card",
                             "--lane", "X1", "--at", "2026-11-20T10:30"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _pending(cli.db) and time.monotonic() < deadline:
            time.sleep(0.05)  # the attempt is committed before the processor is asked
    finally:
        lane.send_signal(signal.SIGKILL)
        lane.wait(timeout=30)
    ((pid, status, _key),) = _pending(cli.db)
    assert status == "pending"

    (listed,) = cli.json("payment", "list", "--pending")
    assert (listed["id"], listed["lane"], listed["in_flight"], listed["amount"]) == (pid, "X1", True, "7.20")
    refused = cli.run("exit", code, "--pay", "card", "--lane", "X2", "--at", "2026-11-20T10:31", expect=2)
    assert "in progress at lane X1" in refused.stderr and "nothing was taken" in refused.stderr

    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:  # the attempt deadline (120 s) passes
        conn.execute("UPDATE payment SET updated_at = datetime(updated_at, '-5 minutes') WHERE id = ?", (pid,))
    (listed,) = cli.json("payment", "list", "--pending")
    assert listed["in_flight"] is False
    gone = cli.json("exit", code, "--pay", "card", "--lane", "X2", "--at", "2026-11-20T10:31")
    assert gone["paid"] == "7.20"
    assert [s for _i, s, _k in _pending(cli.db)] == ["failed", "completed"]
    ledger = StandInProcessor(PaymentMethod.CARD, ledger=Path(cli.env["ATTENDANT_HOME"]) / "data" /
                              "standin-processor.db")
    assert len(ledger.charges) == 1  # charged once
    assert cli.json("payment", "list", "--pending") == []


def test_a_supervisor_resolves_a_stuck_attempt_and_the_processor_must_agree(cli):
    import sqlite3

    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790", "--name", "Root")
    cli.run("--user", "root", "--pin", "135790", "user", "add", "sue", "--role", "supervisor", "--pin", "246810",
            "--name", "Sue")
    code = cli.json("--user", "sue", "--pin", "246810", "enter", "STU 1CK", "--at", "2026-11-20T08:00")["code"]
    del code
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:  # a lane crashed: its attempt lost
        sid, fid = conn.execute("SELECT id, facility_id FROM parking_session").fetchone()
        conn.execute("INSERT INTO payment (facility_id, session_id, method, status, amount, idempotency_key, lane,"
                     " created_at, updated_at, actor) VALUES (?, ?, 'card', 'pending', 720, 'lost-1', 'X1',"
                     " '2026-11-20 10:30:00', '2026-11-20 10:30:00', 'ann')", (fid, sid))
    (stuck,) = cli.json("payment", "list", "--pending")
    assert stuck["in_flight"] is False
    refused = cli.run("payment", "resolve", str(stuck["id"]), "--outcome", "approved", "--reason", "slip",
                      expect=2)
    assert "users exist: log in" in refused.stderr
    sue = ("--user", "sue", "--pin", "246810")
    wrong = cli.run(*sue, "payment", "resolve", str(stuck["id"]), "--outcome", "approved", "--reason", "slip",
                    expect=2)  # the processor never received the key: it cannot be recorded as approved
    assert "never received it" in wrong.stderr
    done = cli.json(*sue, "payment", "resolve", str(stuck["id"]), "--outcome", "void", "--reason", "lane crashed")
    assert done["status"] == "failed"
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT status, message FROM payment").fetchone() == (
            "failed", "resolved void by sue: lane crashed")
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_event ORDER BY id")]
    assert actions[-1] == "payment.resolve"
    assert cli.json("payment", "list", "--pending") == []


def test_a_card_approved_after_the_car_left_with_an_iou_pays_that_iou(cli):
    """The processor is down, the lane crashed mid-charge and the car is let go with an IOU; later the
    processor says the card was charged: resolving the attempt as approved settles the IOU, so the
    driver does not pay twice."""
    import sqlite3

    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790", "--name", "Root")
    root = ("--user", "root", "--pin", "135790")
    cli.run(*root, "user", "add", "sue", "--role", "supervisor", "--pin", "246810", "--name", "Sue")
    sue = ("--user", "sue", "--pin", "246810")
    cli.run(*sue, "shift", "open", "--float", "50")
    code = cli.json(*sue, "enter", "OWE 1CK", "--at", "2026-11-20T08:00")["code"]
    ledger = StandInProcessor(PaymentMethod.CARD, ledger=Path(cli.env["ATTENDANT_HOME"]) / "data" /
                              "standin-processor.db")
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:  # a lane crashed after the card was charged
        sid, fid = conn.execute("SELECT id, facility_id FROM parking_session").fetchone()
        conn.execute("INSERT INTO payment (facility_id, session_id, method, status, amount, idempotency_key, lane,"
                     " created_at, updated_at, actor) VALUES (?, ?, 'card', 'pending', 720, 'lost-2', 'X1',"
                     " '2026-11-20 10:30:00', '2026-11-20 10:30:00', 'sue')", (fid, sid))
    assert ledger.charge(720, "GBP", "lost-2", "CHS-1").approved

    cli.env["ATTENDANT_STANDIN_PAYMENTS"] = "card=unavailable"  # now nobody can ask the processor
    unknown = cli.run(*sue, "exit", code, "--pay", "card", "--lane", "X2", "--at", "2026-11-20T10:40", expect=2)
    assert "unknown outcome" in unknown.stderr and "IOU" in unknown.stderr
    gone = cli.json(*sue, "exit", code, "--iou", "card outcome unknown", "--lane", "X2", "--at", "2026-11-20T10:41")
    assert gone["iou"] == "7.20"
    assert [i["amount"] for i in cli.json(*sue, "iou", "list")] == ["7.20"]

    del cli.env["ATTENDANT_STANDIN_PAYMENTS"]  # the processor is back and says it charged the card
    (stuck,) = cli.json(*sue, "payment", "list", "--pending")
    done = cli.json(*sue, "payment", "resolve", str(stuck["id"]), "--outcome", "approved", "--reason", "slip")
    assert done["status"] == "completed" and "IOU" in done["message"] and "settled" in done["message"]
    assert cli.json(*sue, "iou", "list") == []  # nothing more is owed
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT status, settled_payment_id FROM iou").fetchone() == ("settled", stuck["id"])
        assert conn.execute("SELECT amount_paid FROM parking_session").fetchone() == (720,)
    assert len(ledger.charges) == 1


def test_an_exit_that_waited_for_another_lanes_lock_sees_the_card_attempt_that_lane_committed(small_engine, tmp_path):
    """Lane X9 holds the session (its row lock on PostgreSQL, the write lock on SQLite) while it records a card
    attempt; lane X2's exit of the same ticket starts meanwhile and waits. When X9 commits, X2 must see the
    attempt and refuse, charging nothing. (On PostgreSQL a locked read's sub-selects see the snapshot taken
    before the wait: an exit that asked "has it payments?" in that same read charged the card a second time.)"""
    import threading
    import time

    from sqlalchemy import insert, text

    from attendant.core.errors import Refused
    from attendant.core.payments import ProcessorRegistry

    ledger = tmp_path / "processor.db"
    service = ParkingService(small_engine, TicketSigner.from_site(), processors=ProcessorRegistry(ledger=ledger))
    entered = service.enter("HELD01", "car", actor="t", at=utc_now() - timedelta(hours=2, minutes=30))
    outcome: dict = {}

    def lane_x2():
        try:
            outcome["exit"] = service.exit(entered.code, method="card", actor="lane-X2", lane="X2")
        except Refused as exc:
            outcome["refused"] = str(exc)

    holder = small_engine.connect()
    try:
        with holder.begin():
            if small_engine.dialect.name == "postgresql":
                holder.execute(text("SELECT id FROM parking_session WHERE id = :sid FOR UPDATE"),
                               {"sid": entered.session_id})
            now = utc_now()
            holder.execute(insert(Payment).values(
                facility_id=service.facility.id, session_id=entered.session_id, method="card", status="pending",
                amount=720, idempotency_key="lane-X9-attempt", lane="X9", created_at=now, updated_at=now,
                actor="lane-X9"))
            x2 = threading.Thread(target=lane_x2)
            x2.start()
            time.sleep(1.0)
            assert x2.is_alive(), outcome  # X2 waits for X9's lock
        x2.join(timeout=60)  # X9 committed: X2 goes on
    finally:
        holder.close()
    assert "in progress at lane X9" in outcome.get("refused", ""), outcome
    with small_engine.connect() as conn:
        payments = conn.execute(select(PAY.c.lane, PAY.c.status)).all()
        status = conn.execute(select(PS.c.status).where(PS.c.id == entered.session_id)).scalar_one()
    assert payments == [("X9", "pending")] and status == "open"
    assert StandInProcessor(PaymentMethod.CARD, ledger=ledger).charges == []  # nothing charged
