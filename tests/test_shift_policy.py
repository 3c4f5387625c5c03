"""The count-up policy and the over/short reason (issue 12 item 6; attendant/core/shifts.py, 0021_staff).

On SQLite and PostgreSQL: a close over the facility's threshold without a
reason is refused and changes nothing; with one, the reason is in the shift
row, the ``shift.close`` audit event and the report; the policy (blind
count, threshold) is per facility, changed by supervisors with an audit event.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from attendant.core import shifts
from attendant.core.auth import PermissionDenied
from attendant.core.errors import InputError
from db.models import AuditEvent, Facility, Shift
from tests.test_shifts import pay
from tests.test_shifts import staff as _staff_users

SH, AUD, F = Shift.__table__, AuditEvent.__table__, Facility.__table__


@pytest.fixture
def staff(small_engine, clock):
    """alice and bob (attendants), sue (supervisor), logged in (tests/test_shifts.py)."""
    return _staff_users.__wrapped__(small_engine, clock)


@pytest.fixture
def fid(service):
    return service.facility.id


def _closes(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(AUD.c.actor, AUD.c.details).where(AUD.c.action == "shift.close")
                            .order_by(AUD.c.id)).all()


def test_the_default_policy_is_blind_with_a_five_pound_threshold(small_engine, fid):
    policy = shifts.count_policy(small_engine, fid)
    assert policy == shifts.CountPolicy(blind=True, reason_above=500)
    assert not policy.needs_reason({"cash": 500, "card": -500})  # exactly the threshold: no reason needed
    assert policy.needs_reason({"cash": 0, "card": -501})


def test_a_large_short_needs_a_reason_which_is_stored_and_audited(small_engine, service, staff, clock,
                                                                  fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 10000, at=clock())
    pay(small_engine, service, shift.id, alice, "cash", 1200, tendered=2000)
    pay(small_engine, service, shift.id, alice, "card", 900)
    # drawer should hold £112.00; counted £105.00: £7.00 short, over the £5.00 threshold
    count = {5000: 2, 500: 1}
    with pytest.raises(shifts.ReasonRequired, match=r"cash is short by £7\.00, more than £5\.00: give a reason") as exc:
        shifts.close_shift(small_engine, fid, alice, cash_count=count, counted_other={"card": 900}, at=clock())
    assert (exc.value.over_short, exc.value.threshold) == (-700, 500)
    with small_engine.connect() as conn:  # nothing changed
        assert conn.execute(select(SH.c.status, SH.c.over_short_reason).where(SH.c.id == shift.id)).one() == (
            "open", None)
    assert _closes(small_engine) == []
    with pytest.raises(InputError, match="at most 200 characters"):
        shifts.close_shift(small_engine, fid, alice, cash_count=count, counted_other={"card": 900},
                           reason="x" * 201, at=clock())

    report = shifts.close_shift(small_engine, fid, alice, cash_count=count, counted_other={"card": 900},
                                reason="  a £5 note  given as change\nby mistake ", at=clock())
    reason = "a £5 note given as change by mistake"
    with small_engine.connect() as conn:
        row = conn.execute(select(SH.c.status, SH.c.over_short, SH.c.over_short_reason)
                           .where(SH.c.id == shift.id)).one()
    assert tuple(row) == ("closed", -700, reason)
    [(actor, details)] = _closes(small_engine)
    assert actor == "alice"
    assert details["reason"] == reason and details["reason_above"] == 500 and details["over_short"]["cash"] == -700
    assert report.over_short_reason == reason
    assert report.to_json_dict()["over_short_reason"] == reason
    lines = report.lines()
    assert "Reason:" in lines and "  a £5 note given as change by mistake" in lines
    assert any(line.startswith("OVER/SHORT cash") and line.endswith("-£7.00 SHORT") for line in lines)
    assert any(line.startswith("OVER/SHORT non-cash") and line.endswith("£0.00 balanced") for line in lines)
    # read back from the database, the reason is the same
    assert shifts.shift_report(small_engine, shift.id).over_short_reason == reason


def test_a_card_batch_off_by_more_than_the_threshold_needs_a_reason(small_engine, service, staff, clock,
                                                                    fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 0, at=clock())
    pay(small_engine, service, shift.id, alice, "card", 2000)
    with pytest.raises(shifts.ReasonRequired, match=r"card is short by £20\.00"):
        shifts.close_shift(small_engine, fid, alice, cash_count={}, counted_other={"card": 0}, at=clock())
    # a small difference closes without a reason
    report = shifts.close_shift(small_engine, fid, alice, cash_count={}, counted_other={"card": 1990}, at=clock())
    assert report.line("card").over_short == -10 and report.over_short_reason is None


def test_supervisors_change_the_policy_with_an_audit_event(small_engine, service, staff, clock, fid):
    with pytest.raises(PermissionDenied):
        shifts.set_count_policy(small_engine, fid, staff["alice"], blind=False, at=clock())
    with pytest.raises(InputError):
        shifts.set_count_policy(small_engine, fid, staff["sue"], reason_above=-1, at=clock())
    policy = shifts.set_count_policy(small_engine, fid, staff["sue"], blind=False, reason_above=1000, at=clock())
    assert policy == shifts.CountPolicy(blind=False, reason_above=1000)
    with small_engine.connect() as conn:
        assert conn.execute(select(F.c.count_blind, F.c.over_short_reason_above).where(F.c.id == fid)).one() == (
            False, 1000)
        event = conn.execute(select(AUD.c.actor, AUD.c.details).where(AUD.c.action == "facility.count_policy")).one()
    assert event.actor == "sue"
    assert event.details == {"old": {"blind": True, "reason_above": 500}, "new": {"blind": False, "reason_above": 1000}}
    # the new threshold applies at the next close: £7.00 short is under £10.00
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 700, at=clock())
    report = shifts.close_shift(small_engine, fid, alice, cash_count={}, at=clock())
    assert report.cash_over_short == -700 and report.over_short_reason is None
    assert shift.id == report.shift_id


def test_an_entered_blind_count_is_audited_and_only_the_owner_or_a_supervisor_records_it(
        small_engine, staff, clock, fid):
    shift = shifts.open_shift(small_engine, fid, staff["alice"], 1000, at=clock())
    with pytest.raises(PermissionDenied):
        shifts.record_count_entered(small_engine, fid, staff["bob"], shift.id, cash_count={500: 2}, at=clock())
    shifts.record_count_entered(small_engine, fid, staff["alice"], shift.id, cash_count={500: 2}, at=clock())
    shifts.record_count_entered(small_engine, fid, staff["sue"], shift.id, cash_count={500: 1}, at=clock())
    with small_engine.connect() as conn:
        events = conn.execute(select(AUD.c.actor, AUD.c.details).where(AUD.c.action == "shift.count_entered")
                              .order_by(AUD.c.id)).all()
    assert [(e.actor, e.details["cash"]) for e in events] == [("alice", 1000), ("sue", 500)]
    shifts.close_shift(small_engine, fid, staff["alice"], cash_count={500: 2}, at=clock())
    with pytest.raises(shifts.Refused, match="already closed"):
        shifts.record_count_entered(small_engine, fid, staff["alice"], shift.id, cash_count={}, at=clock())
