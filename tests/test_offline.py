"""Lanes that keep working when the database is away (issue 8, item 4): the booth journals what it does
while the central database cannot be reached, and the journal is replayed into it exactly once.

Real parts: the PostgreSQL server reached through a TCP proxy on 127.0.0.1 that the test cuts and
restores (tests/tcp_proxy.py), real SQLite files, the booth in this process and the CLI in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from attendant.booth import EntryRequest, ExitRequest, Tender, open_booth
from attendant.core.errors import NotFound, Refused
from hardware.config import ConsoleConfig, default_config
from tests.conftest import FixedClock, copy_database, make_small_facility

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return {k: v for k, v in {**os.environ, "PYTHONPATH": str(REPO)}.items() if k != "ATTENDANT_DB"}


def attendant(*args: str, db: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attendant", "--db", db, *args], capture_output=True, text=True,
                          env={**_env(), **(env or {})}, timeout=120)


def opened(token: str | None) -> str | None:
    """A plate as stored (sealed, attendant/core/personal_data.py), opened."""
    from attendant.core.personal_data import site_data

    return site_data().open(token)


def hashed(plate: str) -> str:
    """The blind index a plate is looked up by (``plate_hash``)."""
    from attendant.core.personal_data import site_data

    return site_data().plate_index(plate)


def integrity(engine) -> dict:
    """What the central database holds: sessions per plate, payments per session, bays against sessions."""
    with engine.connect() as conn:
        occupied = conn.execute(text("SELECT count(*) FROM spot WHERE status = 'occupied'")).scalar()
        open_sessions = conn.execute(text("SELECT count(*) FROM parking_session WHERE status = 'open'")).scalar()
        per_plate: dict[str, int] = {}
        for (token,) in conn.execute(text("SELECT plate FROM parking_session")):
            per_plate[opened(token)] = per_plate.get(opened(token), 0) + 1
        sessions = {opened(r.plate): r for r in conn.execute(text(
            "SELECT s.plate, s.ticket_no, s.status, s.amount_due, s.amount_paid, s.exit_at, "
            "(SELECT coalesce(sum(amount), 0) FROM payment p WHERE p.session_id = s.id AND p.status = 'completed') "
            "AS paid, (SELECT count(*) FROM payment p WHERE p.session_id = s.id) AS payments "
            "FROM parking_session s"))}
        applied = conn.execute(text("SELECT count(*) FROM journal_applied")).scalar()
        audit = conn.execute(text("SELECT count(*) FROM audit_event")).scalar()
        payments = conn.execute(text("SELECT count(*) FROM payment")).scalar()
    return {"occupied": occupied, "open": open_sessions, "per_plate": per_plate, "sessions": sessions,
            "applied": applied, "audit": audit, "payments": payments}


@pytest.fixture
def proxied_pg(pg_url):
    """The small facility on PostgreSQL, and a URL reaching it through a cuttable TCP proxy."""
    from tests.tcp_proxy import TcpProxy

    direct = make_small_facility(pg_url)
    url = make_url(pg_url)
    proxy = TcpProxy((url.host, url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield direct, proxy, proxied
    proxy.close()
    direct.dispose()


def _booth(url: str, clock, config: ConsoleConfig | None = None):
    from db.engine import make_engine

    engine = make_engine(url, migrate=False)
    return open_booth(engine, config or default_config(), clock=clock), engine


def test_a_booth_cut_off_from_postgresql_keeps_its_lanes_and_the_journal_lands_exactly_once(proxied_pg):
    direct, proxy, proxied = proxied_pg
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    booth, engine = _booth(proxied, clock)
    acknowledged: dict[str, dict] = {}  # plate -> what the lane told the driver

    def enter(plate):
        clock.now += timedelta(minutes=3)
        outcome = booth.enter(EntryRequest(plate, "car", lane="E1"), actor="t")
        acknowledged[plate] = {"code": outcome.entry.code, "ticket_no": outcome.entry.ticket_no,
                               "journaled_entry": outcome.journaled, "exit": None}
        return outcome

    def leave(plate, *tenders, iou=None):
        clock.now += timedelta(minutes=47)
        outcome = booth.exit(ExitRequest(acknowledged[plate]["code"], tenders, iou_reason=iou, lane="X1"), actor="t")
        acknowledged[plate]["exit"] = {"paid": outcome.exit.paid, "due": outcome.exit.fee.amount,
                                       "iou": outcome.exit.iou_amount, "journaled": outcome.journaled}
        return outcome

    try:
        for n in range(6):
            assert not enter(f"ON{n} LINE").journaled
        assert not leave("ON0 LINE", Tender("cash", tendered=2000)).journaled
        assert not leave("ON1 LINE", Tender("card")).journaled

        proxy.cut()  # the network to the database is gone, in the middle of the day's traffic
        first = enter("CUT0 OFF")
        assert first.journaled and first.gate.value == "opened"
        assert int(first.entry.ticket_no) >= 90_000_000  # from the booth's reserve of offline numbers
        assert booth.offline.state().offline
        for n in range(1, 5):
            assert enter(f"CUT{n} OFF").journaled
        assert booth.reprint(first.entry.ticket_no, lane="E1", actor="t") is None  # a jam, reprinted offline
        assert booth.devices(booth.lanes["E1"]).printer.last_text.count(first.entry.ticket_no) >= 1
        assert leave("ON2 LINE", Tender("cash", tendered=5000)).journaled  # entered online, leaves offline
        assert leave("ON3 LINE", Tender("card")).journaled  # stored, forwarded on reconnect
        assert leave("CUT0 OFF", Tender("cash")).journaled  # entered offline and left offline
        assert leave("CUT1 OFF", Tender("card")).journaled
        with pytest.raises(Refused, match="anti-passback"):
            booth.enter(EntryRequest("CUT2 OFF", "car", lane="E1"), actor="t")
        assert booth.offline.state().waiting == 10  # 5 entries, 4 exits, a reprint

        before_sync = integrity(direct)
        assert before_sync["per_plate"].keys() == {f"ON{n} LINE".replace(" ", "") for n in range(6)}

        proxy.restore()
        sync = attendant("sync", "--json", db=proxied)
        assert sync.returncode == 0, sync.stderr
        report = json.loads(sync.stdout)
        assert (report["applied"], report["deferred"], report["waiting"], report["error"]) == (10, 0, 0, None)

        after = integrity(direct)
        for plate, seen in acknowledged.items():
            key = plate.replace(" ", "")
            assert after["per_plate"][key] == 1, plate  # every acknowledged entry, exactly once
            row = after["sessions"][key]
            assert row.ticket_no == int(seen["ticket_no"])
            if seen["exit"] is None:
                assert row.status == "open"
            else:  # every acknowledged exit and payment, exactly once
                assert row.status == "closed" and row.amount_paid == seen["exit"]["paid"] == row.paid, plate
                assert row.amount_due == seen["exit"]["due"] and row.payments == 1, plate
        assert after["occupied"] == after["open"] == sum(1 for seen in acknowledged.values() if seen["exit"] is None)
        assert after["applied"] == 10
        with direct.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'ticket.reprint'")).scalar() == 1

        again = attendant("sync", "--json", db=proxied)  # a second replay changes nothing
        assert json.loads(again.stdout)["applied"] == 0
        assert integrity(direct) == after
        from attendant.core.audit_verify import verify

        checked = verify(direct)  # the replayed journal went through the services: one valid audit chain
        assert checked.ok, [p.message for p in checked.problems]
    finally:
        booth.close()
        engine.dispose()


def _unreachable(db_file: Path) -> Path:
    """Take the SQLite database away (a share gone, a disk unmounted): a folder stands where the file was,
    so opening it fails. Returns where the file went."""
    away = db_file.with_name("away")
    away.mkdir()
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{db_file}{suffix}")
        if part.exists():
            part.rename(away / part.name)
    db_file.mkdir()
    return away


def _back(db_file: Path, away: Path) -> None:
    db_file.rmdir()
    for part in away.iterdir():
        part.rename(db_file.parent / part.name)


def test_cli_runs_on_sqlite_journal_while_the_database_file_is_away_and_sync_lands_them_once(small_template,
                                                                                            tmp_path):
    db_file = tmp_path / "site.db"
    url = copy_database(small_template, db_file)
    first = attendant("enter", "AB12 CDE", "--json", "--at", "2026-11-20T08:00", db=url)
    assert first.returncode == 0, first.stderr
    online = json.loads(first.stdout)

    away = _unreachable(db_file)
    entered = attendant("enter", "OF11 LNE", "--json", "--at", "2026-11-20T08:30", db=url)
    assert entered.returncode == 0, entered.stderr  # a journaled operation is acknowledged
    assert "OFFLINE" in entered.stderr and "1 events waiting" in entered.stderr
    offline = json.loads(entered.stdout)
    assert int(offline["ticket_no"]) >= 90_000_000 and offline["spot"] != online["spot"]
    left = attendant("exit", online["code"], "--pay", "cash", "--tendered", "20", "--json",
                     "--at", "2026-11-20T10:00", db=url)
    assert left.returncode == 0, left.stderr
    assert json.loads(left.stdout)["amount_due"] != "0.00"
    out = attendant("exit", offline["code"], "--pay", "cash", "--tendered", "10", "--json",
                    "--at", "2026-11-20T09:40", db=url)
    assert out.returncode == 0, out.stderr
    paid_offline = json.loads(out.stdout)
    assert "3 events waiting" in out.stderr
    twice = attendant("exit", offline["code"], "--pay", "cash", db=url)
    assert twice.returncode == 2 and "already exited" in twice.stderr  # nothing journaled
    status = attendant("status", db=url)
    assert status.returncode == 3 and status.stderr.startswith("attendant: database unavailable")
    assert "SELECT" not in status.stderr
    still_away = attendant("sync", db=url)
    assert still_away.returncode == 3 and "database unavailable" in still_away.stderr

    journal_folder = Path(os.environ["ATTENDANT_HOME"]) / "data" / "journal"
    journal_bytes = b"".join(part.read_bytes() for part in journal_folder.iterdir())
    assert b"OF11LNE" not in journal_bytes and b"AB12CDE" not in journal_bytes  # plates sealed, as in the database
    _back(db_file, away)
    synced = attendant("sync", "--json", db=url)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["applied"] == 3

    from db.engine import make_engine

    engine = make_engine(url)
    try:
        state = integrity(engine)
        assert state["per_plate"] == {"AB12CDE": 1, "OF11LNE": 1}
        assert state["occupied"] == state["open"] == 0
        with engine.connect() as conn:  # the car that came and went offline: a complete session and payment
            row = conn.execute(text(
                "SELECT s.ticket_no, s.entry_at, s.exit_at, s.amount_due, s.amount_paid, s.entry_lane, s.exit_lane, "
                "p.method, p.amount, p.tendered, p.change, p.status FROM parking_session s JOIN payment p ON "
                "p.session_id = s.id WHERE s.plate_hash = :h"), {"h": hashed("OF11LNE")}).one()
            vends = conn.execute(text("SELECT count(*) FROM vend v JOIN parking_session s ON v.session_id = s.id "
                                      "WHERE s.plate_hash = :h"), {"h": hashed("OF11LNE")}).scalar()
            audit = [r.action for r in conn.execute(text(
                "SELECT action FROM audit_event WHERE details LIKE '%journal_event%' ORDER BY id"))]
        assert row.ticket_no == int(offline["ticket_no"])
        assert (row.method, row.status, row.amount_paid) == ("cash", "completed", row.amount_due)
        assert f"{row.amount / 100:.2f}" == paid_offline["paid"] and row.tendered == 1000
        assert row.change == 1000 - row.amount and (row.entry_lane, row.exit_lane) == ("E1", "X1")
        assert vends == 2  # the gate opened at entry and at exit
        assert audit == ["session.enter", "session.exit", "session.exit"]  # in journal order
    finally:
        engine.dispose()
    again = attendant("sync", "--json", db=url)
    assert json.loads(again.stdout)["applied"] == 0


def test_the_console_shows_offline_with_the_events_waiting_and_replays_by_itself(proxied_pg):
    """The console's entry form during a cut: the vehicle is admitted, the status bar says OFFLINE and how many
    events wait; once the network is back the console's own worker replays the journal."""
    import asyncio

    from attendant.tui.app import make_app
    from attendant.tui.widgets.facility_bar import FacilityBar
    from tests.tui.support import SIZE, enter_by_keys, keys, settle, until

    direct, proxy, proxied = proxied_pg
    from db.engine import make_engine

    engine = make_engine(proxied, migrate=False)
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

    async def run() -> None:
        app = make_app(engine, default_config(), clock=clock, actor="console", timers=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await enter_by_keys(pilot, "TU1 ONL")  # online: the booth takes its reserve and snapshot
            proxy.cut()
            clock.now += timedelta(minutes=5)
            await enter_by_keys(pilot, "TU2 OFF")
            clock.now += timedelta(hours=2)
            online_code = app.booth.offline._known[min(app.booth.offline._known)]["code"]  # TU1's ticket
            await pilot.press("f3", *keys(online_code), "enter")  # the exit lane, offline: priced from the cache
            await settle(pilot)
            checkout = app.screen.query_one("#exit-form").checkout
            assert checkout is not None and checkout.fee.amount > 0
            await pilot.press("1", *str((checkout.fee.amount // 1000 + 1) * 10))  # cash, the next £10 note
            await pilot.press("enter")
            await settle(pilot)
            bar = app.screen.query_one(FacilityBar)
            app.screen.tick()
            await pilot.pause()
            assert bar.offline == "OFFLINE · 2 waiting"
            assert "OFFLINE · 2 waiting" in str(bar.render())
            proxy.restore()
            app.booth.offline.RETRY_SECONDS = 0.1
            app.start_journal_worker(every=0.1)  # what the console runs with its timers on
            await until(pilot, lambda: app.booth.offline.state().waiting == 0)
            app.screen.tick()
            assert bar.offline == ""

    try:
        asyncio.run(run())
        with direct.connect() as conn:
            sessions = [(opened(r.plate), r.status) for r in conn.execute(text(
                "SELECT plate, status FROM parking_session ORDER BY id"))]
            paid = conn.execute(text("SELECT sum(amount) FROM payment WHERE method = 'cash'")).scalar()
        assert sessions == [("TU1ONL", "closed"), ("TU2OFF", "open")]
        assert paid > 0
    finally:
        engine.dispose()


def test_conflicts_are_resolved_by_rule_and_audited(proxied_pg):
    """A bay taken meanwhile by another booth is reassigned; an exit of a session entered at another booth is
    matched by its ticket code (priced from the snapshot, or for a stated amount with the rest as an IOU);
    cards beyond the operator's limit are refused; replaying again, even after the journal lost its marks,
    changes nothing."""
    from dataclasses import replace as dc_replace

    from db.engine import make_engine

    direct, proxy, proxied = proxied_pg
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    other = open_booth(direct, default_config(), clock=clock, offline=False)  # booth B, always online
    known = other.enter(EntryRequest("KN1 OWN", "car", lane="E2"), actor="b").entry  # before A's snapshot
    config = dc_replace(default_config(), offline_card_count=1, offline_card_total=5_000)
    booth, engine = _booth(proxied, clock, config)
    try:
        booth.enter(EntryRequest("A1 ONL", "car", lane="E1"), actor="a")  # A online: reserve and snapshot
        unknown = other.enter(EntryRequest("UNK1 NWN", "car", lane="E2"), actor="b").entry  # after A's snapshot
        proxy.cut()
        clock.now += timedelta(minutes=10)
        offline_entry = booth.enter(EntryRequest("BAY1 OFF", "car", lane="E1"), actor="a")
        assert offline_entry.journaled
        taken = unknown  # booth A's bays are as it last knew them: B gave that bay to UNK1 meanwhile
        assert offline_entry.entry.spot_label == taken.spot_label
        clock.now += timedelta(hours=2)
        priced = booth.exit(ExitRequest(known.code, (Tender("card"),), lane="X1"), actor="a")
        assert priced.journaled and priced.exit.fee.amount > 0
        with pytest.raises(Refused, match="offline card limit"):
            booth.exit(ExitRequest(offline_entry.entry.code, (Tender("card"),), lane="X1"), actor="a")
        with pytest.raises(Refused, match="fee is unknown offline"):
            booth.exit(ExitRequest(unknown.code, (Tender("cash"),), lane="X1"), actor="a")
        stated = booth.exit(ExitRequest(unknown.code, (Tender("cash", amount=100, tendered=200),), lane="X1",
                                        iou_reason="fee unknown offline"), actor="a")
        assert stated.journaled and stated.exit.paid == 100

        proxy.restore()
        report = booth.offline.sync()
        assert (report.applied, report.deferred, report.error) == (3, 0, None)
        rules = [c["rule"] for c in report.conflicts]
        assert rules == ["bay reassigned"]
        with direct.connect() as conn:
            rows = {opened(r.plate): r for r in conn.execute(text(
                "SELECT s.plate, s.status, sp.label, s.amount_due, s.amount_paid, s.exit_lane, "
                "(SELECT coalesce(sum(amount), 0) FROM iou i WHERE i.session_id = s.id) AS owed "
                "FROM parking_session s JOIN spot sp ON sp.id = s.spot_id"))}
            conflict = conn.execute(text("SELECT details FROM audit_event WHERE action = 'journal.conflict'")).one()
        assert rows["BAY1OFF"].label != taken.spot_label and rows["BAY1OFF"].status == "open"
        assert rows["UNK1NWN"].label == taken.spot_label
        details = conflict.details if isinstance(conflict.details, dict) else json.loads(conflict.details)
        assert details["rule"] == "bay reassigned" and details["journaled_spot"] == taken.spot_label
        assert (rows["KN1OWN"].status, rows["KN1OWN"].amount_paid) == ("closed", priced.exit.fee.amount)
        unknown_row = rows["UNK1NWN"]  # matched by its ticket code: 1.00 in cash, the rest an IOU
        assert (unknown_row.status, unknown_row.amount_paid) == ("closed", 100)
        assert unknown_row.owed == unknown_row.amount_due - 100 > 0
        after = integrity(direct)
        assert after["occupied"] == after["open"] == 2  # A1 ONL and BAY1 OFF

        from attendant.core.journal import EVENT

        with booth.offline.journal.engine.begin() as conn:  # the journal forgot it replayed (a crash, a restore)
            conn.execute(EVENT.update().values(state="pending"))
        again = booth.offline.sync()
        assert (again.applied, again.already) == (0, 3)
        assert integrity(direct) == after
        from attendant.core.audit_verify import verify

        checked = verify(direct)  # conflicts resolved by rule, each audited, and the chain holds
        assert checked.ok, [p.message for p in checked.problems]
    finally:
        booth.close()
        other.close()
        engine.dispose()


def test_a_stream_of_entries_and_exits_cut_and_restored_at_any_instant_lands_exactly_once(proxied_pg):
    """The network is cut and restored while a lane is working (a transaction may be in flight at either
    instant). Afterwards every acknowledged entry, exit and payment is in the database exactly once, occupied
    bays equal open sessions, and another replay changes nothing."""
    import threading
    import time

    direct, proxy, proxied = proxied_pg
    clock = FixedClock(datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    booth, engine = _booth(proxied, clock)
    booth.offline.RETRY_SECONDS = 0.3  # back online soon after the restore (the lane replays first)
    acknowledged: dict[str, dict] = {}
    inside: list[str] = []
    done = threading.Event()
    count = [0]
    errors: list[BaseException] = []
    journaled = [0]

    def lane() -> None:
        try:
            for n in range(70):
                clock.now += timedelta(minutes=2)
                if n % 2 == 1 and len(inside) > 2:
                    plate = inside.pop(0)
                    tender = Tender("card") if n % 7 == 3 else Tender("cash", tendered=5000)
                    try:
                        outcome = booth.exit(ExitRequest(acknowledged[plate]["code"], (tender,), lane="X1"),
                                             actor="lane")
                    except Refused as exc:  # the offline card limit: the attendant takes cash instead
                        assert "card limit" in str(exc)
                        outcome = booth.exit(ExitRequest(acknowledged[plate]["code"], (Tender("cash", tendered=5000),),
                                                         lane="X1"), actor="lane")
                    acknowledged[plate]["exit"] = outcome.exit.paid
                    journaled[0] += outcome.journaled
                else:
                    plate = f"ST{n:02d} RM"
                    outcome = booth.enter(EntryRequest(plate, "car", lane="E1"), actor="lane")
                    acknowledged[plate] = {"code": outcome.entry.code, "exit": None}
                    inside.append(plate)
                    journaled[0] += outcome.journaled
                count[0] += 1
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=lane)
    try:
        worker.start()
        while count[0] < 15 and not done.is_set():
            time.sleep(0.001)
        proxy.cut()
        while count[0] < 40 and not done.is_set():
            time.sleep(0.001)
        proxy.restore()
        done.wait(120)
        worker.join(5)
        assert not errors, errors
        assert journaled[0] > 0  # the cut was felt
        sync = attendant("sync", "--json", db=proxied)
        assert sync.returncode == 0, sync.stderr
        assert json.loads(sync.stdout)["waiting"] == 0
        after = integrity(direct)
        for plate, seen in acknowledged.items():
            key = plate.replace(" ", "")
            assert after["per_plate"][key] == 1, plate
            row = after["sessions"][key]
            assert row.ticket_no == int(seen["code"].split("-")[1]), plate  # the ticket the driver holds
            if seen["exit"] is None:
                assert row.status == "open", plate
            else:
                assert (row.status, row.amount_paid, row.paid) == ("closed", seen["exit"], seen["exit"]), plate
        assert after["occupied"] == after["open"] == sum(1 for s in acknowledged.values() if s["exit"] is None)
        again = attendant("sync", "--json", db=proxied)
        assert json.loads(again.stdout)["applied"] == 0
        assert integrity(direct) == after
    finally:
        done.wait(30)
        booth.close()
        engine.dispose()


def test_operations_whose_commit_went_through_but_whose_answer_was_lost_are_not_applied_twice(db_url):
    """The in-doubt case: the database committed an entry and an exit, the booth never heard so, and
    journaled them too. The replay recognises them (same plate and lane, within seconds): no second session,
    no second payment, and the session takes the ticket number the driver was given offline."""
    from attendant.booth.wiring import booth_journal
    from db.engine import make_engine

    make_small_facility(db_url).dispose()
    engine = make_engine(db_url)
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    booth = open_booth(engine, default_config(), clock=clock)
    try:
        committed = booth.enter(EntryRequest("DBT1 ONE", "car", lane="E1"), actor="t").entry  # answer "lost"
        left = booth.enter(EntryRequest("DBT2 TWO", "car", lane="E1"), actor="t").entry
        clock.now += timedelta(hours=1)
        gone = booth.exit(ExitRequest(left.code, (Tender("cash", tendered=1000),), lane="X1"), actor="t").exit
        journal = booth_journal(engine)
        code = booth.facility.code
        actor = {"name": "t", "role": "attendant", "user_id": None, "system": False}
        entry = journal.append(code, "entry", {
            "ticket_no": 90_000_077, "plate": "DBT1ONE", "vehicle_class": "car", "ev": False, "accessible": False,
            "lane": "E1", "spot_id": None, "spot_label": None, "at": (committed.entry_at + timedelta(seconds=2)),
            "plan_id": None, "vend": True, "actor": actor})
        exit_ = journal.append(code, "exit", {
            "ticket_no": int(left.ticket_no), "code": left.code, "at": gone.exit_at + timedelta(seconds=1),
            "lane": "X1", "vend": True, "iou_reason": None, "iou_amount": 0, "fee": gone.fee.amount, "priced": True,
            "paid_before": 0, "actor": actor,
            "tenders": [{"method": "cash", "amount": gone.fee.amount, "tendered": 1000, "change": 0,
                         "key": "off-lost.1"}]})
        before = integrity(engine)
        report = booth.offline.sync()
        assert (report.applied, report.already, report.deferred) == (0, 2, 0)
        assert [e["id"] for e in report.events] == [entry.id, exit_.id]
        after = integrity(engine)
        assert after["per_plate"] == before["per_plate"] and after["payments"] == before["payments"]
        assert after["sessions"]["DBT1ONE"].ticket_no == 90_000_077  # the ticket the driver holds
        assert after["applied"] == 2
        with engine.connect() as conn:
            rules = [json.loads(r[0])["rule"] if isinstance(r[0], str) else r[0]["rule"] for r in conn.execute(
                text("SELECT details FROM audit_event WHERE action = 'journal.conflict' ORDER BY id"))]
        assert rules == ["already recorded", "already recorded"]
        assert booth.offline.sync().applied == 0
    finally:
        booth.close()
        engine.dispose()


def test_a_user_who_logged_in_at_this_booth_can_log_in_while_the_database_is_away(small_template, tmp_path):
    db_file = tmp_path / "staff.db"
    url = copy_database(small_template, db_file)
    assert attendant("user", "add", "boss", "--role", "admin", "--pin", "909090", db=url).returncode == 0
    for name, role in (("ann", "attendant"), ("bob", "attendant")):
        made = attendant("--user", "boss", "--pin", "909090", "user", "add", name, "--role", role, "--pin", "123456",
                         db=url)
        assert made.returncode == 0, made.stderr
    ann = ("--user", "ann", "--pin", "123456")
    assert attendant(*ann, "shift", "open", "--float", "50.00", db=url).returncode == 0
    entered = attendant(*ann, "enter", "AN1 ONE", "--json", "--at", "2026-11-20T08:00", db=url)
    assert entered.returncode == 0, entered.stderr
    code = json.loads(entered.stdout)["code"]

    away = _unreachable(db_file)
    left = attendant(*ann, "exit", code, "--pay", "cash", "--tendered", "50", "--at", "2026-11-20T11:00", db=url)
    assert left.returncode == 0 and "OFFLINE" in left.stderr, left.stderr
    wrong = attendant("--user", "ann", "--pin", "654321", "enter", "AN2 TWO", db=url)
    assert wrong.returncode == 2 and "wrong user name or PIN" in wrong.stderr
    never = attendant("--user", "bob", "--pin", "123456", "enter", "BO1 ONE", db=url)
    assert never.returncode == 2 and "logged in at this booth before" in never.stderr
    anonymous = attendant("enter", "NO1 ONE", db=url)
    assert anonymous.returncode == 2 and "log in" in anonymous.stderr
    _back(db_file, away)

    assert attendant("sync", db=url).returncode == 0
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pay = conn.execute(text("SELECT p.actor, p.shift_id, p.user_id, s.user_id AS shift_user FROM payment p "
                                    "JOIN shift s ON s.id = p.shift_id")).one()
            plates = [opened(r[0]) for r in conn.execute(text("SELECT plate FROM parking_session"))]
        assert pay.actor == "ann" and pay.user_id == pay.shift_user  # the cash is in ann's open shift
        assert plates == ["AN1ONE"]  # nothing refused offline was recorded
    finally:
        engine.dispose()


def test_the_offline_card_limits_come_from_the_console_config(tmp_path):
    from attendant.core.errors import InputError
    from hardware.config import parse_config

    lanes = '[[lanes]]\ncode = "E1"\nname = "Entry"\ndirection = "entry"\n'
    config = parse_config("[offline]\ncard_count = 3\ncard_total_cents = 4500\n" + lanes, "booth.toml")
    assert (config.offline_card_count, config.offline_card_total) == (3, 4500)
    assert (parse_config(lanes).offline_card_count, parse_config(lanes).offline_card_total) == (10, 10_000)
    with pytest.raises(InputError, match=r"booth.toml: offline.card_count: must be a whole number"):
        parse_config("[offline]\ncard_count = -1\n" + lanes, "booth.toml")
    with pytest.raises(InputError, match=r"offline\.cards"):
        parse_config("[offline]\ncards = 1\n" + lanes, "booth.toml")


def test_what_counts_as_the_database_being_away(tmp_path, sqlite_url):
    """A server that does not answer and a database file that cannot be opened are outages; a rule the
    database enforces (a constraint) is not: that operation is refused, never journaled."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import IntegrityError

    from attendant.core.journal import DatabaseAway, database_unreachable
    from db.engine import make_engine

    def error_of(url: str, sql: str = "SELECT 1") -> BaseException:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
        except Exception as exc:  # noqa: BLE001 - the error is what the test looks at
            return exc
        finally:
            engine.dispose()
        raise AssertionError("no error")

    assert database_unreachable(error_of("postgresql+psycopg://127.0.0.1:1/none?connect_timeout=2"))
    folder = tmp_path / "gone.db"
    folder.mkdir()
    assert database_unreachable(error_of(f"sqlite:///{folder}"))
    assert database_unreachable(DatabaseAway("no route to host"))
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO facility (id, code, name, timezone, currency, capacity, next_ticket_no, "
                                 "revision, allocation_strategy, created_at) VALUES (1, 'A', 'a', 'UTC', 'GBP', 0, 0, "
                                 "0, 'nearest', '2026-01-01'), (1, 'B', 'b', 'UTC', 'GBP', 0, 0, 0, 'nearest', "
                                 "'2026-01-01')")
        assert not database_unreachable(caught.value)
    finally:
        engine.dispose()


def test_a_card_stored_offline_and_declined_when_forwarded_leaves_an_iou(small_template, tmp_path):
    db_file = tmp_path / "cards.db"
    url = copy_database(small_template, db_file)
    entered = attendant("enter", "CA1 RDS", "--json", "--at", "2026-11-20T08:00", db=url)
    code = json.loads(entered.stdout)["code"]
    away = _unreachable(db_file)
    left = attendant("exit", code, "--pay", "card", "--json", "--at", "2026-11-20T12:00", db=url)
    assert left.returncode == 0, left.stderr
    stored = json.loads(left.stdout)
    assert [(p["method"], p["status"]) for p in stored["payments"]] == [("card", "pending")]
    _back(db_file, away)
    synced = attendant("sync", "--json", db=url, env={"ATTENDANT_STANDIN_PAYMENTS": "card=decline"})
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["applied"] == 1  # the exit (the entry was online)
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            session = conn.execute(text("SELECT id, status, amount_due, amount_paid FROM parking_session")).one()
            payment = conn.execute(text("SELECT method, status, amount FROM payment")).one()
            iou = conn.execute(text("SELECT amount, plate, reason, status FROM iou")).one()
    finally:
        engine.dispose()
    assert (session.status, session.amount_paid) == ("closed", 0)
    assert (payment.method, payment.status) == ("card", "failed")
    assert (iou.amount, opened(iou.plate), iou.status) == (session.amount_due, "CA1RDS", "open")
    assert "offline" in iou.reason and "declined" in iou.reason.lower()


def test_cli_runs_through_a_cut_network_to_postgresql(proxied_pg):
    direct, proxy, proxied = proxied_pg
    first = attendant("enter", "PG1 ONL", "--json", "--at", "2026-11-20T08:00", db=proxied)
    assert first.returncode == 0, first.stderr
    online = json.loads(first.stdout)
    proxy.cut()
    entered = attendant("enter", "PG2 OFF", "--json", "--at", "2026-11-20T08:10", db=proxied)
    assert entered.returncode == 0 and "OFFLINE" in entered.stderr, entered.stderr
    offline = json.loads(entered.stdout)
    for code, at in ((online["code"], "2026-11-20T09:00"), (offline["code"], "2026-11-20T09:30")):
        left = attendant("exit", code, "--pay", "cash", "--tendered", "20", "--at", at, db=proxied)
        assert left.returncode == 0 and "OFFLINE" in left.stderr, left.stderr
    proxy.restore()
    synced = attendant("sync", "--json", db=proxied)
    assert synced.returncode == 0 and json.loads(synced.stdout)["applied"] == 3, synced.stdout
    state = integrity(direct)
    assert state["per_plate"] == {"PG1ONL": 1, "PG2OFF": 1}
    assert all(row.status == "closed" and row.paid == row.amount_due == row.amount_paid > 0
               for row in state["sessions"].values())
    assert state["occupied"] == state["open"] == 0


def test_an_exit_at_one_offline_booth_of_a_car_that_entered_at_another_waits_for_that_booths_journal(
        proxied_pg, tmp_path, monkeypatch):
    """Two booths (each its own data folder and journal, one installation secret) lose the database. A car
    enters at B and leaves at A; A replays first: its exit waits (deferred) until B's journal brings the
    entry, then lands, matched by the ticket code."""
    import shutil

    direct, proxy, proxied = proxied_pg
    site_config = Path(os.environ["ATTENDANT_HOME"]) / "config"  # one site: its secrets and data keys
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    booths = {}
    for name in ("A", "B"):
        shutil.copytree(site_config, tmp_path / f"booth-{name}" / "config")
        monkeypatch.setenv("ATTENDANT_HOME", str(tmp_path / f"booth-{name}"))
        booths[name] = _booth(proxied, clock)
        booths[name][0].enter(EntryRequest(f"{name}0 WARM", "car", lane="E1"), actor=name)  # reserve, snapshot
    a, b = booths["A"][0], booths["B"][0]
    try:
        proxy.cut()
        clock.now += timedelta(minutes=5)
        entered = b.enter(EntryRequest("TWO1 BTH", "car", lane="E2"), actor="B")
        assert entered.journaled
        clock.now += timedelta(hours=1)
        with pytest.raises(NotFound):
            a.checkout(entered.entry.code)  # booth A never saw that car
        left = a.exit(ExitRequest(entered.entry.code, (Tender("cash", amount=150, tendered=200),), lane="X1",
                                  iou_reason="entered at another booth while the database was away"), actor="A")
        assert left.journaled and left.exit.change == 50
        proxy.restore()
        first = a.offline.sync()
        assert (first.applied, first.deferred, first.waiting) == (0, 1, 1)
        assert "another booth's journal" in first.events[0]["reason"]
        assert b.offline.sync().applied == 1
        second = a.offline.sync()
        assert (second.applied, second.waiting) == (1, 0)
        with direct.connect() as conn:
            row = conn.execute(text(
                "SELECT s.status, s.entry_lane, s.exit_lane, s.amount_due, s.amount_paid, "
                "(SELECT sum(amount) FROM iou i WHERE i.session_id = s.id) AS owed "
                "FROM parking_session s WHERE s.plate_hash = :h"), {"h": hashed("TWO1BTH")}).one()
        assert (row.status, row.entry_lane, row.exit_lane, row.amount_paid) == ("closed", "E2", "X1", 150)
        assert row.owed == row.amount_due - 150
        assert integrity(direct)["occupied"] == integrity(direct)["open"] == 2
    finally:
        for booth, engine in booths.values():
            booth.close()
            engine.dispose()


def test_sync_replays_every_facility_of_the_journal(cli, tmp_path):
    from tests.conftest import EXAMPLES, SMALL_LAYOUT

    layout = tmp_path / "small.toml"
    layout.write_text(SMALL_LAYOUT, encoding="utf-8")
    url = cli.db
    assert attendant("init", "--layout", str(layout), "--rates", str(EXAMPLES / "rates" / "charlotte_street.toml"),
                     db=url).returncode == 0
    for code in ("CHS", "TST"):
        online = attendant("--facility", code, "enter", f"{code}1 ONL", db=url)
        assert online.returncode == 0, online.stderr
    db_file = Path(url.removeprefix("sqlite:///"))
    away = _unreachable(db_file)
    for code in ("CHS", "TST"):
        offline = attendant("--facility", code, "enter", f"{code}2 OFF", "--json", db=url)
        assert offline.returncode == 0 and "OFFLINE" in offline.stderr, offline.stderr
        assert json.loads(offline.stdout)["code"].startswith(f"{code}-9")
    _back(db_file, away)
    synced = attendant("sync", "--json", db=url)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert (report["applied"], report["waiting"]) == (2, 0)
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = sorted((r[0], opened(r[1])) for r in conn.execute(text(
                "SELECT f.code, s.plate FROM parking_session s JOIN facility f ON f.id = s.facility_id")))
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("CHS", "CHS1ONL"), ("CHS", "CHS2OFF"), ("TST", "TST1ONL"),
                                        ("TST", "TST2OFF")]


def test_a_console_started_while_the_database_is_away_works_from_the_journal_and_reattaches(small_template,
                                                                                           tmp_path):
    """A booth restarted during the outage: the console opens from the journal's snapshot (map, bays, rate
    plan), admits a vehicle offline, and once the database is back its worker reattaches and replays."""
    import asyncio

    from attendant.tui.app import make_app
    from attendant.tui.widgets.facility_bar import FacilityBar
    from attendant.tui.widgets.level_map import LevelMapView
    from db.engine import make_engine
    from tests.tui.support import SIZE, enter_by_keys, settle, until

    db_file = tmp_path / "restart.db"
    url = copy_database(small_template, db_file)
    seen = attendant("enter", "RS1 ONL", "--json", "--at", "2026-11-20T08:00", db=url)  # the booth saw the site
    assert seen.returncode == 0, seen.stderr
    away = _unreachable(db_file)
    engine = make_engine(url, migrate=False)
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

    async def run() -> None:
        app = make_app(engine, default_config(), clock=clock, actor="console", timers=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            level_map = app.screen.query_one(LevelMapView)
            assert level_map.levels and level_map.occupied == 1  # the map and the car inside, from the snapshot
            await enter_by_keys(pilot, "RS2 OFF")
            assert level_map.occupied == 2
            app.screen.tick()
            assert app.screen.query_one(FacilityBar).offline == "OFFLINE · 1 waiting"
            _back(db_file, away)
            app.booth.offline.RETRY_SECONDS = 0.1
            app.start_journal_worker(every=0.1)
            await until(pilot, lambda: app.booth.offline.state().waiting == 0)
            assert not app.booth.offline.offline and app.service is app.booth.service
            await enter_by_keys(pilot, "RS3 ONL")  # online again, through the real services

    try:
        asyncio.run(run())
    finally:
        engine.dispose()
    check = make_engine(url)
    try:
        with check.connect() as conn:
            plates = sorted(opened(r[0]) for r in conn.execute(text("SELECT plate FROM parking_session")))
    finally:
        check.dispose()
    assert plates == ["RS1ONL", "RS2OFF", "RS3ONL"]


def test_the_console_login_works_offline_for_a_user_who_logged_in_at_this_booth(small_template, tmp_path):
    import asyncio

    from attendant.tui.app import make_app
    from db.engine import make_engine
    from tests.tui.support import SIZE, enter_by_keys, settle

    db_file = tmp_path / "login.db"
    url = copy_database(small_template, db_file)
    assert attendant("user", "add", "boss", "--role", "admin", "--pin", "909090", db=url).returncode == 0
    assert attendant("--user", "boss", "--pin", "909090", "user", "add", "cat", "--role", "attendant", "--pin",
                     "246810", db=url).returncode == 0
    seen = attendant("--user", "cat", "--pin", "246810", "status", db=url)  # cat logs in at this booth once
    assert seen.returncode == 0, seen.stderr
    assert attendant("--user", "cat", "--pin", "246810", "enter", "LG1 ONL", db=url).returncode == 0
    away = _unreachable(db_file)
    engine = make_engine(url, migrate=False)
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

    async def run() -> None:
        app = make_app(engine, default_config(), clock=clock, timers=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.login_required
            await pilot.press(*"cat", "enter", *"999999", "enter")  # a wrong PIN is refused offline too
            await settle(pilot)
            assert app.user is None
            await pilot.press(*(["backspace"] * 6), *"246810", "enter")
            await settle(pilot)
            assert app.user is not None and app.user.name == "cat"
            await enter_by_keys(pilot, "LG2 OFF")
            assert app.booth.offline.state().waiting == 1

    try:
        asyncio.run(run())
    finally:
        engine.dispose()
        _back(db_file, away)
    synced = attendant("sync", "--json", db=url)
    assert json.loads(synced.stdout)["applied"] == 1, synced.stdout
    check = make_engine(url)
    try:
        with check.connect() as conn:
            actor = conn.execute(text("SELECT entry_actor FROM parking_session WHERE plate_hash = :h"),
                                 {"h": hashed("LG2OFF")}).scalar()
    finally:
        check.dispose()
    assert actor == "cat"


def test_the_http_api_admits_and_releases_through_the_journal_while_postgresql_is_cut(proxied_pg):
    """The API goes through the same booth: with the network cut, POST entries and exits are journaled
    (201/200, ``journaled``), and ``attendant sync`` lands them."""
    from types import SimpleNamespace

    import httpx

    from tests.test_api import start_server, stop_server

    direct, proxy, proxied = proxied_pg
    server = start_server(SimpleNamespace(db=proxied, env={}))
    try:
        with server.client() as http:
            first = http.post("/v1/facilities/TST/entries", json={"plate": "AP1 ONL", "vehicle": "car"})
            assert first.status_code == 201, first.text
            assert first.json()["journaled"] is False
            proxy.cut()
            entered = http.post("/v1/facilities/TST/entries", json={"plate": "AP2 OFF", "vehicle": "car"})
            assert entered.status_code == 201, entered.text
            assert entered.json()["journaled"] is True and int(entered.json()["ticket_no"]) >= 90_000_000
            left = http.post("/v1/facilities/TST/exits", json={"code": first.json()["code"], "pay": ["cash"],
                                                                "tendered": "20"})
            assert left.status_code == 200, left.text
            assert left.json()["journaled"] is True
    except httpx.HTTPError as exc:
        raise AssertionError(f"{exc}: {''.join(server.stderr)}") from exc
    finally:
        stop_server(server)
    proxy.restore()
    synced = attendant("sync", "--json", db=proxied)
    assert synced.returncode == 0 and json.loads(synced.stdout)["applied"] == 2, synced.stdout + synced.stderr
    state = integrity(direct)
    assert state["per_plate"] == {"AP1ONL": 1, "AP2OFF": 1}
    assert state["sessions"]["AP1ONL"].status == "closed" and state["occupied"] == state["open"] == 1


def test_the_deny_list_as_last_seen_still_refuses_and_flags_while_the_database_is_away(small_template, tmp_path):
    """A plate denied before the outage is refused at the entry lane while the database is away (matched by
    blind index, misreads tolerated as online); a ``flag`` entry admits with the flag; nothing refused is
    journaled, and the sync lands only the admitted car (flagged again by the database's own list)."""
    db_file = tmp_path / "deny.db"
    url = copy_database(small_template, db_file)
    boss = ("--user", "boss", "--pin", "909090")
    assert attendant("user", "add", "boss", "--role", "admin", "--pin", "909090", db=url).returncode == 0
    for plate, extra in (("BA11 NED", ()), ("FL4 GGY", ("--flag",))):
        added = attendant(*boss, "plates", "deny", "add", plate, "--reason", "BANNED: barrier damage", *extra,
                          db=url)
        assert added.returncode == 0, added.stderr
    first = attendant(*boss, "enter", "ON1 LINE", "--at", "2026-11-20T08:00", db=url)  # the snapshot is taken
    assert first.returncode == 0, first.stderr

    away = _unreachable(db_file)
    refused = attendant(*boss, "enter", "BA1I NED", "--at", "2026-11-20T08:30", db=url)  # I read for 1
    assert refused.returncode == 2, refused.stdout
    assert "on the deny list (matches a listed plate read alike): BANNED: barrier damage" in refused.stderr
    flagged = attendant(*boss, "enter", "FL4 GGY", "--json", "--at", "2026-11-20T08:31", db=url)
    assert flagged.returncode == 0 and "OFFLINE" in flagged.stderr and "1 events waiting" in flagged.stderr
    assert json.loads(flagged.stdout)["flag"] == "deny list (flag): BANNED: barrier damage"
    _back(db_file, away)

    synced = attendant("sync", "--json", db=url)
    assert synced.returncode == 0 and json.loads(synced.stdout)["applied"] == 1, synced.stdout
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            plates = sorted(opened(r[0]) for r in conn.execute(text("SELECT plate FROM parking_session")))
        assert plates == ["FL4GGY", "ON1LINE"]  # the denied car was never admitted
    finally:
        engine.dispose()
