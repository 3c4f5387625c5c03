"""Corrections at the booth (attendant/core/corrections.py, issue 10 items 4 and 5): void, manual entry,
move, anti-passback reset, count check and adjust. Each is read back from the database: the session and bay
rows, and exactly one ``exception.<kind>`` audit event with the shared reason shape."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.changes import ChangeFeed
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from db.models import AuditEvent, Iou, ParkingSession, Spot

ANN = Actor("ann", Role.ATTENDANT)
SUE = Actor("sue", Role.SUPERVISOR)
PS, S, AE, IOU = ParkingSession.__table__, Spot.__table__, AuditEvent.__table__, Iou.__table__


def session_row(engine, session_id):
    with engine.connect() as conn:
        return conn.execute(select(PS).where(PS.c.id == session_id)).one()


def bay_status(engine, label):
    with engine.connect() as conn:
        return conn.execute(select(S.c.status).where(S.c.label == label)).scalar_one()


def events(engine, prefix="exception."):
    with engine.connect() as conn:
        return conn.execute(select(AE.c.action, AE.c.actor, AE.c.entity_id, AE.c.details)
                            .where(AE.c.action.like(prefix + "%")).order_by(AE.c.id)).all()


def test_void_within_minutes_by_an_attendant_later_by_a_supervisor(service, small_engine, clock):
    first = service.enter("VO1 DED", "car", actor=ANN, lane="E1")
    done = service.void_ticket(first.ticket_no, reason="issued_in_error: pressed twice", actor=ANN, lane="E1")
    row = session_row(small_engine, first.session_id)
    assert (row.status, row.amount_due, row.amount_paid, row.exit_actor) == ("voided", 0, 0, "ann")
    assert row.exit_reason == "ISSUED_IN_ERROR: pressed twice"
    assert bay_status(small_engine, first.spot_label) == "available"
    assert service.spot_statuses()[service._cache.index.by_label[first.spot_label]].value \
        == "available"
    (event,) = events(small_engine)
    assert (event.action, event.actor, event.entity_id) == ("exception.void", "ann", first.session_id)
    assert event.details["reason_code"] == "ISSUED_IN_ERROR" and event.details["amount_cents"] == 0
    assert event.details["lane"] == "E1" and event.details["spot"] == first.spot_label
    assert done.status == "voided"
    with pytest.raises(Refused, match="voided, not open"):
        service.void_ticket(first.ticket_no, reason="ISSUED_IN_ERROR", actor=ANN)

    late = service.enter("VO2 DED", "car", actor=ANN)
    clock.now += timedelta(minutes=20)
    with pytest.raises(PermissionDenied, match="supervisor"):
        service.void_ticket(late.code, reason="ISSUED_IN_ERROR", actor=ANN)
    assert session_row(small_engine, late.session_id).status == "open"
    with pytest.raises(InputError, match="a reason is required"):
        service.void_ticket(late.code, reason="", actor=SUE)
    service.void_ticket("VO2DED", reason="ISSUED_IN_ERROR", actor=SUE)  # by plate
    assert session_row(small_engine, late.session_id).status == "voided"
    assert [e.actor for e in events(small_engine)] == ["ann", "sue"]


def test_a_ticket_with_a_payment_is_a_stay_not_a_void(service, small_engine, clock):
    entry = service.enter("PA1 DUP", "car", actor=ANN)
    clock.now += timedelta(hours=1)
    service.pay(entry.code, "cash", actor=ANN, tendered=1000)
    with pytest.raises(Refused, match="payments"):
        service.void_ticket(entry.code, reason="ISSUED_IN_ERROR", actor=SUE)
    assert session_row(small_engine, entry.session_id).status == "open"
    assert events(small_engine) == []


def test_manual_entry_now_and_back_dated(service, small_engine, clock):
    entry = service.manual_entry("MA1 NUL", "van", bay="L0-B03", reason="NO_SESSION: found at patrol",
                                 actor=ANN, lane="E1")
    row = session_row(small_engine, entry.session_id)
    assert (row.status, row.vehicle_class, row.entry_actor, row.entry_at) == ("open", "van", "ann", clock.now)
    assert entry.spot_label == "L0-B03" and bay_status(small_engine, "L0-B03") == "occupied"
    (event,) = events(small_engine)
    assert event.action == "exception.manual_entry" and event.details["reason_code"] == "NO_SESSION"
    assert event.details["spot"] == "L0-B03" and event.details["backdated"] is False
    assert events(small_engine, "session.enter") == []  # one event: the exception

    claimed = clock.now - timedelta(hours=5)
    with pytest.raises(PermissionDenied, match="supervisor"):
        service.manual_entry("MA2 NUL", "car", bay="L1-A05", reason="NO_SESSION", actor=ANN, at=claimed)
    assert bay_status(small_engine, "L1-A05") == "available" and len(events(small_engine)) == 1
    back = service.manual_entry("MA2 NUL", "car", bay="L1-A05", reason="NO_SESSION: since 4am", actor=SUE,
                                at=claimed)
    assert session_row(small_engine, back.session_id).entry_at == claimed
    assert events(small_engine)[-1].details["backdated"] is True

    with pytest.raises(Refused, match="occupied"):
        service.manual_entry("MA3 NUL", "car", bay="L0-B03", reason="NO_SESSION", actor=ANN)
    with pytest.raises(InputError, match="does not fit"):
        service.manual_entry("MA3 NUL", "car", bay="L0-A09", reason="NO_SESSION", actor=ANN)
    with pytest.raises(Refused, match="anti-passback"):
        service.manual_entry("MA1 NUL", "van", bay="L0-B04", reason="NO_SESSION", actor=ANN)
    assert len(events(small_engine)) == 2


def test_move_frees_the_old_bay_claims_the_new_one_and_another_booth_sees_it(service, small_engine):
    other = ParkingService(small_engine, TicketSigner.from_site(), clock=service.clock)
    feed = ChangeFeed(small_engine, service.facility.id)
    feed.poll()
    entry = service.enter("MO1 VED", "car", actor=ANN, spot_label="L1-A01")
    other.apply_changes(feed.poll())
    moved = service.move_vehicle(entry.ticket_no, "L1-A09", reason="BAY_ISSUE: oil leak", actor=ANN)
    assert (moved.from_spot, moved.spot) == ("L1-A01", "L1-A09")
    row = session_row(small_engine, entry.session_id)
    with small_engine.connect() as conn:
        new_id = conn.execute(select(S.c.id).where(S.c.label == "L1-A09")).scalar_one()
        old_id = conn.execute(select(S.c.id).where(S.c.label == "L1-A01")).scalar_one()
    assert (row.spot_id, row.spot_type, row.status) == (new_id, "regular", "open")
    assert (bay_status(small_engine, "L1-A01"), bay_status(small_engine, "L1-A09")) == ("available", "occupied")
    (event,) = events(small_engine)
    assert event.action == "exception.move"
    assert (event.details["from_spot"], event.details["to_spot"], event.details["reason_code"]) == (
        "L1-A01", "L1-A09", "BAY_ISSUE")
    # the other booth's bay index takes the two bay changes from the change log
    assert other.spot_statuses()[new_id].value == "available"
    applied = other.apply_changes(feed.poll())
    assert {(sid, st.value) for sid, st in applied} == {(old_id, "available"), (new_id, "occupied")}
    assert (other.spot_statuses()[old_id].value, other.spot_statuses()[new_id].value) == ("available", "occupied")
    assert service.lookup(entry.code).spot_label == "L1-A09"


def test_move_refuses_bays_that_are_taken_or_do_not_fit(service, small_engine):
    entry = service.enter("MO2 VED", "car", actor=ANN, spot_label="L1-A02")
    service.enter("MO3 VED", "car", actor=ANN, spot_label="L1-A03")
    with pytest.raises(Refused, match="bay L1-A03 is occupied"):
        service.move_vehicle("MO2VED", "L1-A03", reason="BAY_ISSUE", actor=ANN)
    with pytest.raises(InputError, match=r"a car does not fit bay L0-A09 \(motorcycle"):
        service.move_vehicle("MO2VED", "L0-A09", reason="BAY_ISSUE", actor=SUE)
    with pytest.raises(InputError, match="EV bay"):
        service.move_vehicle("MO2VED", "L0-A02", reason="BAY_ISSUE", actor=SUE)
    with pytest.raises(InputError, match="no spot labelled"):
        service.move_vehicle("MO2VED", "L9-Z99", reason="BAY_ISSUE", actor=SUE)
    with pytest.raises(PermissionDenied, match="supervisor"):  # regular -> large: the tariff may change
        service.move_vehicle("MO2VED", "L0-B03", reason="BAY_ISSUE", actor=ANN)
    service.set_spot_in_service("L1-A04", False, actor=SUE, reason="cones")
    with pytest.raises(Refused, match="out of service"):
        service.move_vehicle("MO2VED", "L1-A04", reason="BAY_ISSUE", actor=ANN)
    assert session_row(small_engine, entry.session_id).spot_type == "regular"
    assert bay_status(small_engine, "L1-A02") == "occupied" and events(small_engine) == []
    service.move_vehicle("MO2VED", "L0-B03", reason="BAY_ISSUE", actor=SUE)
    assert session_row(small_engine, entry.session_id).spot_type == "large"


def test_anti_passback_reset_closes_the_stale_stay_with_an_iou(service, small_engine, clock):
    first = service.enter("AP1 RST", "car", actor=ANN)
    clock.now += timedelta(hours=2)
    with pytest.raises(Refused, match="anti-passback"):
        service.enter("AP1 RST", "car", actor=ANN)
    with pytest.raises(NotFound, match="not inside"):
        service.reset_anti_passback("ZZ99 ZZZ", reason="GATE_FAULT", actor=ANN)
    done = service.reset_anti_passback("ap1 rst", reason="GATE_FAULT: exit loop missed it", actor=ANN, lane="E1")
    row = session_row(small_engine, first.session_id)
    assert (row.status, row.exit_lane, row.exit_at) == ("closed", None, clock.now)
    assert row.amount_due > 0 and row.exit_reason.startswith("anti-passback reset: GATE_FAULT")
    with small_engine.connect() as conn:
        iou = conn.execute(select(IOU).where(IOU.c.session_id == first.session_id)).one()
    assert (iou.amount, iou.status, done.iou_id, done.amount_cents) == (row.amount_due, "open", iou.id, iou.amount)
    assert bay_status(small_engine, first.spot_label) == "available"
    (event,) = events(small_engine)
    assert event.action == "exception.apb_reset" and event.details["amount_cents"] == row.amount_due
    assert event.details["iou_id"] == iou.id and event.details["lane"] == "E1"
    again = service.enter("AP1 RST", "car", actor=ANN)  # anti-passback no longer holds it
    assert session_row(small_engine, again.session_id).status == "open"


def _raw(engine, sql: str, **params) -> None:
    """Write straight into the database file, as a crash, a bug or a hand edit would."""
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(engine.url.database) as db:
            db.execute(sql.replace("%(", ":").replace(")s", ""), params)
    else:
        with engine.begin() as conn:
            conn.execute(text(sql.replace("%(", ":").replace(")s", "")), params)


def test_count_check_lists_every_disagreement_and_adjust_resolves_them(service, small_engine, clock):
    assert service.count_check().ok
    orphan = service.enter("CO1 UNT", "car", actor=ANN, spot_label="L1-A06")
    stale = service.enter("CO2 UNT", "car", actor=ANN, spot_label="L1-A07")
    fine = service.enter("CO3 UNT", "car", actor=ANN, spot_label="L1-A08")
    _raw(small_engine, "UPDATE spot SET status = 'available' WHERE label = 'L1-A06'")
    _raw(small_engine, "UPDATE spot SET status = 'occupied' WHERE label = 'L0-B05'")
    _raw(small_engine, "UPDATE parking_session SET entry_at = %(at)s WHERE id = %(id)s",
         at=(clock.now - timedelta(days=9)).strftime("%Y-%m-%d %H:%M:%S.000000"), id=stale.session_id)
    check = service.count_check()
    assert not check.ok and (check.open_sessions, check.occupied_bays) == (3, 3)
    found = {(d.kind, d.spot, d.session_id) for d in check.disagreements}
    assert found == {("orphan_session", "L1-A06", orphan.session_id), ("bay_without_session", "L0-B05", None),
                     ("stale_session", "L1-A07", stale.session_id)}
    assert "9.0 days" in next(d.message for d in check.disagreements if d.kind == "stale_session")

    with pytest.raises(PermissionDenied, match="supervisor"):
        service.count_adjust(reason="COUNT_CORRECTION", actor=ANN, free_bay="L0-B05")
    with pytest.raises(Refused, match="agrees with its bay"):
        service.count_adjust(reason="COUNT_CORRECTION", actor=SUE, session_id=fine.session_id, close=True)
    with pytest.raises(Refused, match="holds ticket"):
        service.count_adjust(reason="COUNT_CORRECTION", actor=SUE, free_bay="L1-A08")
    with pytest.raises(InputError, match="one adjustment"):
        service.count_adjust(reason="COUNT_CORRECTION", actor=SUE, session_id=orphan.session_id)
    assert events(small_engine) == []

    service.count_adjust(reason="COUNT_CORRECTION: bay sensor reset", actor=SUE, free_bay="L0-B05")
    service.count_adjust(reason="COUNT_CORRECTION: car seen in bay", actor=SUE, session_id=orphan.session_id,
                         occupy=True)
    closed = service.count_adjust(reason="COUNT_CORRECTION: abandoned", actor=SUE, session_id=stale.session_id,
                                  close=True)
    assert service.count_check().ok
    assert (bay_status(small_engine, "L0-B05"), bay_status(small_engine, "L1-A06"),
            bay_status(small_engine, "L1-A07")) == ("available", "occupied", "available")
    row = session_row(small_engine, stale.session_id)
    assert row.status == "closed" and row.exit_reason.startswith("count adjustment: COUNT_CORRECTION")
    assert closed.iou_id is not None and closed.amount_cents == row.amount_due > 0
    assert [(e.action, e.details["adjustment"]) for e in events(small_engine)] == [
        ("exception.count_adjust", "free_bay"), ("exception.count_adjust", "occupy_bay"),
        ("exception.count_adjust", "close_session")]
    assert session_row(small_engine, fine.session_id).status == "open"


def test_a_voided_ticket_is_no_entry_or_exit_in_the_reports(service, clock):
    from attendant.core.reports import daily_report

    kept = service.enter("RE1 PRT", "car", actor=ANN)
    voided = service.enter("RE2 PRT", "car", actor=ANN)
    service.void_ticket(voided.code, reason="ISSUED_IN_ERROR", actor=ANN)
    clock.now += timedelta(hours=1)
    service.exit(kept.code, method="cash", actor=ANN, tendered=1000)
    report = daily_report(service, clock.now.date())
    assert (report.entries, report.exits, report.open_sessions) == (1, 1, 0)
