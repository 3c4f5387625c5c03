"""Deny and allow lists of plates (issue 10 item 8): rows sealed as sessions store plates, entry refused or
flagged with a confusable read, allow-listed exits at zero, supervisors only. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError, NotFound, Refused
from db.models import AuditEvent, ParkingSession, Payment, PlateListEntry, Vend

PLE, PS, PAY, AUD, VEND = (t.__table__ for t in (PlateListEntry, ParkingSession, Payment, AuditEvent, Vend))
SUE = Actor("sue", Role.SUPERVISOR)
ANN = Actor("ann", Role.ATTENDANT)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_list_entry_is_stored_as_sessions_store_plates(service, small_engine):
    entry = service.add_plate_entry("deny", "ab12 cde", "BANNED: damage to the barrier", actor=SUE)
    assert (entry.kind, entry.action, entry.plate, entry.reason) == ("deny", "refuse", "AB12CDE",
                                                                    "BANNED: damage to the barrier")
    with small_engine.connect() as conn:
        row = conn.execute(select(PLE)).one()
        event = conn.execute(select(AUD).where(AUD.c.action == "plate_list.add")).one()
    assert "AB12CDE" not in row.plate and service.data.open(row.plate) == "AB12CDE"
    assert row.plate_hash == service.data.plate_index("AB12CDE")
    assert row.plate_fold == service.data.plate_fold_index("AB12CDE")
    assert event.details["plate_ref"] == row.plate_hash and "AB12CDE" not in str(event.details)
    with pytest.raises(Refused, match="already on the deny list"):
        service.add_plate_entry("allow", "AB12CDE", "STAFF", actor=SUE)
    with pytest.raises(InputError, match="unknown reason code"):
        service.add_plate_entry("deny", "XY12ZZZ", "because", actor=SUE)


def test_attendants_may_not_change_the_lists(service, small_engine):
    with pytest.raises(PermissionDenied):
        service.add_plate_entry("deny", "AB12CDE", "BANNED", actor=ANN)
    service.add_plate_entry("deny", "AB12CDE", "BANNED", actor=SUE)
    with pytest.raises(PermissionDenied):
        service.remove_plate_entry("AB12CDE", actor=ANN)
    assert len(service.plate_entries()) == 1


def test_the_deny_list_refuses_a_confusable_read_and_writes_nothing(service, small_engine):
    service.add_plate_entry("deny", "AB12CDE", "BANNED: damage to the barrier", actor=SUE)
    before = [count(small_engine, t) for t in (PS, AUD, VEND)]
    for read in ("AB12CDE", "A812CDE", "AB12C0E"):  # exact, B read as 8, D read as 0
        with pytest.raises(Refused, match="on the deny list.*BANNED: damage to the barrier"):
            service.enter(read, "car", actor=ANN)
    assert [count(small_engine, t) for t in (PS, AUD, VEND)] == before
    assert service.plate_list_match("a812 cde").matched == "confusable"
    service.enter("AB12CDF", "car", actor=ANN)  # one character away is another vehicle: admitted
    service.remove_plate_entry("AB12CDE", actor=SUE, reason="paid for the barrier")
    assert service.enter("A812CDE", "car", actor=ANN).flag is None
    (row,) = [r for r in service.plate_entries(include_removed=True)]
    assert row.removed_by == "sue"
    with pytest.raises(NotFound):
        service.remove_plate_entry("AB12CDE", actor=SUE)


def test_a_flag_entry_admits_the_vehicle_and_says_why(service, small_engine):
    service.add_plate_entry("deny", "FL4GGY", "UNPAID: two IOUs at another site", actor=SUE, action="flag")
    entry = service.enter("FL4 6GY", "car", actor=ANN)  # G read as 6
    assert entry.flag == "deny list (flag) as FL4GGY: UNPAID: two IOUs at another site"
    with small_engine.connect() as conn:
        event = conn.execute(select(AUD).where(AUD.c.action == "session.enter")).one()
    assert event.details["flag"] == "UNPAID: two IOUs at another site" and event.details["plate_list"] == 1
    assert "FL4" not in str(event.details)  # audit events name no plate in clear


def test_an_expired_entry_no_longer_applies(service, clock):
    service.add_plate_entry("deny", "EXP1RED", "POLICE", actor=SUE, until=clock.now + timedelta(hours=1))
    with pytest.raises(Refused):
        service.enter("EXP1RED", "car", actor=ANN)
    clock.now += timedelta(hours=2)
    assert service.enter("EXP1RED", "car", actor=ANN).flag is None
    assert service.plate_entries() == []


def test_an_allow_listed_exit_charges_nothing_and_names_the_entry(service, small_engine, clock):
    listed = service.add_plate_entry("allow", "ST4FF1", "STAFF: cleaner", actor=SUE)
    code = service.enter("ST4 FFI", "car", actor=ANN).code  # I read for 1
    clock.now += timedelta(hours=3)
    quote = service.quote(code)
    assert quote.fee.amount == 0 and quote.fee.lines[-1].label == "Allow list (STAFF: cleaner): no charge"
    assert sum(line.amount for line in quote.fee.lines) == 0 and quote.fee.lines[-1].amount < 0
    done = service.exit(code, method="cash", actor=ANN, vend=True)
    assert (done.paid, done.fee.amount, done.vend_source.value) == (0, 0, "pass")
    with small_engine.connect() as conn:
        session = conn.execute(select(PS)).one()
        vend = conn.execute(select(VEND)).all()[-1]
        event = conn.execute(select(AUD).where(AUD.c.action == "session.exit")).one()
    assert session.status == "closed" and session.amount_due == 0 and session.allow_entry_id == listed.id
    assert count(small_engine, PAY) == 0
    assert (vend.source, vend.reason) == ("pass", "allow list: STAFF: cleaner")
    assert event.details["allow_list"] == listed.id
    # a plate not on the list pays as usual
    other = service.enter("N0T L1ST", "car", actor=ANN).code
    clock.now += timedelta(hours=1)
    assert service.quote(other).fee.amount > 0


def test_the_plates_commands(cli):
    cli.run("plates", "deny", "add", "AB12 CDE", "--reason", "BANNED: barrier", expect=0)
    cli.run("plates", "allow", "add", "ST4FF1", "--reason", "CONTRACT", "--until", "2099-01-01T00:00")
    refused = cli.run("enter", "A812CDE", expect=2)
    assert "on the deny list (matches AB12CDE): BANNED: barrier" in refused.stderr
    listed = cli.json("plates", "list")
    assert [(e["plate"], e["kind"], e["action"]) for e in listed] == [("AB12CDE", "deny", "refuse"),
                                                                      ("ST4FF1", "allow", "free")]
    cli.run("plates", "deny", "add", "XX1", "--reason", "BANNED", "--until", "2000-01-01T00:00", expect=2)
    cli.run("plates", "remove", "AB12CDE")
    cli.run("plates", "remove", "AB12CDE", expect=2)
    assert cli.json("enter", "A812CDE")["flag"] is None


def test_an_entry_made_offline_is_recorded_flagged_not_refused(service):
    """A vehicle admitted while the database was away is inside: its replayed entry is flagged, never lost."""
    from attendant.core.requests import EntryRequest

    service.add_plate_entry("deny", "OFF1INE", "POLICE", actor=SUE)
    entry = service.admit(EntryRequest("OFF1INE", "car", deny_as_flag=True), actor=ANN)
    assert entry.flag == "deny list (refuse): POLICE" and service.find_by_plate("OFF1INE").ticket_no


def test_retention_erases_the_plate_of_an_entry_off_the_list_long_ago(service, small_engine, clock):
    from attendant.core.retention import run_retention

    service.add_plate_entry("deny", "GONE1", "BANNED", actor=SUE)
    service.add_plate_entry("allow", "STAY1", "STAFF", actor=SUE)
    service.remove_plate_entry("GONE1", actor=SUE)
    assert run_retention(small_engine, days=30, actor=SUE, now=clock.now + timedelta(days=10)).list_entries_erased == 0
    result = run_retention(small_engine, days=30, actor=SUE, now=clock.now + timedelta(days=31))
    assert result.list_entries_erased == 1
    with small_engine.connect() as conn:
        rows = {r.kind: r for r in conn.execute(select(PLE))}
    assert (rows["deny"].plate, rows["deny"].plate_hash, rows["deny"].plate_fold) == (None, None, None)
    assert rows["deny"].reason == "BANNED" and rows["allow"].plate is not None  # a live entry keeps its plate
    assert [e.plate for e in service.plate_entries(include_removed=True)] == [None, "STAY1"]
