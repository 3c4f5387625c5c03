"""Shifts on SQLite and PostgreSQL (attendant/core/shifts.py): float, takings, drop, count-up.

Payments are inserted as rows with SQLAlchemy Core, following the payment
semantics the payments service writes: ``amount`` applied to the fee, status
pending/completed/failed/refunded, a refund is a new negative completed row
with ``refund_of_id`` and the original becomes ``refunded``; cash rows carry
tendered/change (the drawer gains ``amount``).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from attendant.core import shifts, users
from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError, NotFound, Refused
from db.models import AuditEvent, CashMovement, Payment, Shift

PAY, SH, CM, AUD = Payment.__table__, Shift.__table__, CashMovement.__table__, AuditEvent.__table__
_keys = itertools.count()


@pytest.fixture
def staff(small_engine, clock):
    admin = users.create_user(small_engine, users.setup_actor(small_engine), "admin", "Ada", "admin", "999999",
                              now=clock()).actor()
    users.create_user(small_engine, admin, "alice", "Alice Attendant", "attendant", "111111", now=clock())
    users.create_user(small_engine, admin, "bob", "Bob Attendant", "attendant", "333333", now=clock())
    users.create_user(small_engine, admin, "sue", "Sue Supervisor", "supervisor", "222222", now=clock())
    return {name: users.authenticate(small_engine, name, pin, now=clock())
            for name, pin in (("alice", "111111"), ("bob", "333333"), ("sue", "222222"))}


@pytest.fixture
def fid(service):
    return service.facility.id


def pay(engine, service, shift_id, actor, method, amount, *, status="completed", tendered=None, at=None,
        refund_of=None, session_id=None):
    """Insert one payment row as the payments service would; returns its id."""
    if session_id is None:
        plate = f"PY{next(_keys):03d}AA"
        session_id = service.enter(plate, "car", actor=actor).session_id
    with engine.begin() as conn:
        return conn.execute(
            insert(PAY).values(
                facility_id=service.facility.id, session_id=session_id, method=method, status=status,
                amount=amount, tendered=tendered, change=None if tendered is None else tendered - amount,
                idempotency_key=f"test-{next(_keys)}", lane="X1", created_at=at or service.clock(),
                actor=actor.name, shift_id=shift_id, user_id=actor.user_id, refund_of_id=refund_of,
            ).returning(PAY.c.id)
        ).scalar_one()


def refund(engine, service, shift_id, actor, payment_id):
    with engine.begin() as conn:
        original = conn.execute(select(PAY).where(PAY.c.id == payment_id)).one()
        conn.execute(update(PAY).where(PAY.c.id == payment_id).values(status="refunded"))
    return pay(engine, service, shift_id, actor, original.method, -original.amount, refund_of=payment_id,
               session_id=original.session_id)


def ten_exits(engine, service, shift_id, alice):
    """Ten payments in mixed methods, one failed attempt and one refund; returns the expected takings."""
    cash1 = pay(engine, service, shift_id, alice, "cash", 240, tendered=500)
    pay(engine, service, shift_id, alice, "cash", 480, tendered=1000)
    pay(engine, service, shift_id, alice, "card", 720)
    pay(engine, service, shift_id, alice, "upi", 240)
    pay(engine, service, shift_id, alice, "cash", 1890, tendered=2000)
    pay(engine, service, shift_id, alice, "ewallet", 480)
    pay(engine, service, shift_id, alice, "card", 960, status="failed")  # declined: ignored
    pay(engine, service, shift_id, alice, "card", 960)
    pay(engine, service, shift_id, alice, "mobile", 240)
    pay(engine, service, shift_id, alice, "cash", 720, tendered=720)
    pay(engine, service, shift_id, alice, "card", 1200)
    refund(engine, service, shift_id, alice, cash1)  # the £2.40 cash payment handed back
    # float 100.00 + cash (4.80 + 18.90 + 7.20) - drop 50.00 = 80.90
    return {"cash": 8090, "card": 2880, "upi": 240, "ewallet": 480, "mobile": 240}


EXACT_COUNT = {5000: 1, 2000: 1, 1000: 1, 50: 1, 20: 2}  # £80.90


def test_full_shift_balances_to_the_penny(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    opened = shifts.open_shift(small_engine, fid, alice, 10000, terminal="booth-1", at=clock())
    assert (opened.username, opened.status, opened.float_amount) == ("alice", "open", 10000)
    assert shifts.current_shift(small_engine, fid, alice.user_id) == opened

    # Another user's shift and a payment with no shift must not count in alice's shift.
    bob_shift = shifts.open_shift(small_engine, fid, staff["bob"], 5000, at=clock())
    pay(small_engine, service, bob_shift.id, staff["bob"], "card", 999)
    pay(small_engine, service, None, Actor("replay", system=True), "cash", 555)  # the demo replay

    expected = ten_exits(small_engine, service, opened.id, alice)
    clock.now += timedelta(hours=4)
    drop = shifts.record_cash_movement(small_engine, fid, alice, "drop", 5000, "bag 17", at=clock())
    assert (drop.kind, drop.amount, drop.shift_id, drop.drawer) == ("drop", 5000, opened.id, 8090)
    with small_engine.connect() as conn:
        assert shifts.expected_takings(conn, opened.id) == expected

    clock.now += timedelta(hours=4)
    report = shifts.close_shift(
        small_engine, fid, alice, cash_count=EXACT_COUNT, counted_other={"card": 2880}, at=clock()
    )
    assert report.status == "closed" and report.closed_by == "alice"
    assert report.expected == expected
    assert report.counted == expected
    assert report.over_short == 0 and report.cash_over_short == 0
    assert [(m.method, m.over_short) for m in report.methods] == [(m, 0) for m in expected]
    assert (report.float_amount, report.cash_takings, report.drops) == (10000, 3090, 5000)
    assert (report.payments, report.refunds, report.refunds_total) == (10, 1, -240)
    assert report.expected_total == report.counted_total == 8090 + 2880 + 240 + 480 + 240

    with small_engine.connect() as conn:
        row = conn.execute(select(SH).where(SH.c.id == opened.id)).one()
        moves = conn.execute(select(CM.c.kind, CM.c.amount, CM.c.actor).where(CM.c.shift_id == opened.id)
                             .order_by(CM.c.id)).all()
        audit = conn.execute(select(AUD.c.action, AUD.c.actor, AUD.c.details).where(AUD.c.entity.in_(
            ("shift", "cash_movement"))).order_by(AUD.c.id)).all()
    assert (row.status, row.over_short, row.closed_by, row.closed_at) == ("closed", 0, "alice", clock())
    assert row.expected == expected and row.counted == expected
    assert row.count_detail == {"5000": 1, "2000": 1, "1000": 1, "50": 1, "20": 2}
    assert moves == [("float", 10000, "alice"), ("drop", 5000, "alice")]
    assert [(a.action, a.actor) for a in audit] == [
        ("shift.open", "alice"), ("shift.open", "bob"), ("cash.drop", "alice"), ("shift.close", "alice")
    ]
    assert audit[-1].details["over_short"] == dict.fromkeys(expected, 0)
    assert shifts.current_shift(small_engine, fid, alice.user_id) is None

    # The report as printed and as JSON.
    text = report.lines()
    assert all(len(line) <= 42 for line in text)
    assert "Opened: Fri 20 Nov 2026 09:00" in text  # facility time (Europe/London, GMT in November)
    assert "Closed: Fri 20 Nov 2026 17:00" in text
    assert any(line.startswith("cash") and line.split()[1:] == ["£80.90", "£80.90", "£0.00"] for line in text)
    assert any(line.startswith("card") and line.split()[1:] == ["£28.80", "£28.80", "£0.00"] for line in text)
    assert any(line.startswith("OVER/SHORT cash") and line.endswith("£0.00 balanced") for line in text)
    # drawer cash and card/electronic totalled apart, never one TOTAL (issue 12 item 6)
    assert not any(line.startswith("TOTAL") for line in text)
    assert any(line.startswith("Non-cash") and line.split()[1:] == ["£38.40", "£38.40", "£0.00"] for line in text)
    assert any(line.startswith("  £50.00 x 1") and line.endswith("£50.00") for line in text)
    data = report.to_json_dict()
    assert data["expected"] == {"cash": "80.90", "card": "28.80", "upi": "2.40", "ewallet": "4.80", "mobile": "2.40"}
    assert data["totals"] == {"expected": "119.30", "counted": "119.30", "over_short": "0.00"}
    assert data["float"] == "100.00" and data["drops"] == "50.00" and data["cash_over_short"] == "0.00"
    assert data["cash_count"][0] == {"denomination": "50.00", "count": 1, "amount": "50.00"}
    assert data["user"]["username"] == "alice" and data["closed_at_local"] == "2026-11-20T17:00:00+00:00"
    # shift_report reads the same figures back from the database.
    assert shifts.shift_report(small_engine, opened.id) == report


def test_a_short_count_gives_a_negative_over_short(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 10000, at=clock())
    ten_exits(small_engine, service, shift.id, alice)
    shifts.record_cash_movement(small_engine, fid, alice, "drop", 5000, at=clock())
    short_count = {5000: 1, 2000: 1, 1000: 1}  # £80.00 of £80.90: 90p short
    report = shifts.close_shift(small_engine, fid, alice, cash_count=short_count, counted_other={"card": 2800},
                                at=clock())
    assert report.cash_over_short == -90
    assert report.line("card").over_short == -80
    assert report.line("upi").over_short == 0  # not given: counted as expected
    assert report.over_short == -170
    with small_engine.connect() as conn:
        assert conn.execute(select(SH.c.over_short).where(SH.c.id == shift.id)).scalar_one() == -90
    lines = report.lines()
    assert any(line.startswith("OVER/SHORT cash") and line.endswith("-£0.90 SHORT") for line in lines)
    assert any(line.startswith("OVER/SHORT non-cash") and line.endswith("-£0.80 SHORT") for line in lines)
    assert report.to_json_dict()["electronic"]["over_short"] == "-0.80"
    assert report.to_json_dict()["totals"]["over_short"] == "-1.70"


def test_a_pending_payment_blocks_close_until_it_completes(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 2000, at=clock())
    pending = pay(small_engine, service, shift.id, alice, "card", 480, status="pending")
    with pytest.raises(Refused, match=rf"shift #{shift.id} has 1 payment waiting for a processor.s answer "
                                      rf"\(#{pending} card £4.80\).*payment resolve"):
        shifts.close_shift(small_engine, fid, alice, cash_count={1000: 2}, at=clock())
    assert shifts.current_shift(small_engine, fid, alice.user_id).status == "open"
    with small_engine.begin() as conn:
        conn.execute(update(PAY).where(PAY.c.id == pending).values(status="completed"))
    report = shifts.close_shift(small_engine, fid, alice, cash_count={1000: 2}, at=clock())
    assert report.expected == {"cash": 2000, "card": 480} and report.over_short == 0


def test_one_open_shift_per_user_per_facility(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    first = shifts.open_shift(small_engine, fid, alice, 10000, at=clock())
    with pytest.raises(Refused, match=rf"alice already has shift #{first.id} open here since Fri 20 Nov 09:00"):
        shifts.open_shift(small_engine, fid, alice, 5000, at=clock())
    shifts.open_shift(small_engine, fid, staff["bob"], 5000, at=clock())  # another user may
    shifts.close_shift(small_engine, fid, alice, cash_count={5000: 2}, at=clock())
    again = shifts.open_shift(small_engine, fid, alice, 5000, at=clock())
    assert again.id != first.id
    with small_engine.connect() as conn:
        assert shifts.open_shift_id(conn, fid, alice.user_id, lock=False) == again.id
    with small_engine.begin() as conn:  # inside a writer's transaction, share-locking the row
        assert shifts.open_shift_id(conn, fid, alice.user_id) == again.id
        assert shifts.open_shift_id(conn, fid, staff["sue"].user_id) is None
    assert shifts.last_shift_id(small_engine, fid, alice.user_id) == again.id
    # the supervisor's pick list: every open shift, oldest first, closed ones left out
    assert [(v.username, v.status) for v in shifts.open_shifts(small_engine, fid)] == [("bob", "open"),
                                                                                      ("alice", "open")]


def test_a_drop_larger_than_the_drawer_is_refused(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 10000, at=clock())
    pay(small_engine, service, shift.id, alice, "cash", 1890, tendered=2000)
    pay(small_engine, service, shift.id, alice, "card", 5000)  # card money is not in the drawer
    with pytest.raises(Refused, match=r"cannot take £120.00 out: the drawer should hold only £118.90"):
        shifts.record_cash_movement(small_engine, fid, alice, "drop", 12000, at=clock())
    with pytest.raises(Refused, match="should hold only £118.90"):
        shifts.record_cash_movement(small_engine, fid, alice, "paid_out", 11891, at=clock())
    with pytest.raises(InputError, match="float is recorded when the shift opens"):
        shifts.record_cash_movement(small_engine, fid, alice, "float", 100, at=clock())
    with pytest.raises(InputError, match="more than zero"):
        shifts.record_cash_movement(small_engine, fid, alice, "drop", 0, at=clock())
    with small_engine.connect() as conn:
        assert conn.execute(select(CM.c.kind).where(CM.c.shift_id == shift.id)).scalars().all() == ["float"]
    whole = shifts.record_cash_movement(small_engine, fid, alice, "drop", 11890, at=clock())
    assert whole.drawer == 0
    paid_in = shifts.record_cash_movement(small_engine, fid, alice, "paid_in", 500, "change from bank", at=clock())
    assert paid_in.drawer == 500
    with small_engine.connect() as conn:
        assert shifts.expected_takings(conn, shift.id) == {"cash": 500, "card": 5000}


def test_roles_are_checked_by_the_service(small_engine, service, staff, clock, fid):
    alice, bob, sue = staff["alice"], staff["bob"], staff["sue"]
    shift = shifts.open_shift(small_engine, fid, alice, 1000, at=clock())
    with pytest.raises(PermissionDenied, match="closing another user's shift needs a supervisor; bob is logged in"):
        shifts.close_shift(small_engine, fid, bob, cash_count={1000: 1}, shift_id=shift.id, at=clock())
    with pytest.raises(PermissionDenied):
        shifts.shift_report(small_engine, shift.id, actor=bob)
    assert shifts.shift_report(small_engine, shift.id, actor=alice).status == "open"
    # Scripts (plain-string actors) and setup have no shift.
    with pytest.raises(users.LoginRequired):
        shifts.open_shift(small_engine, fid, "cli:someone", 1000, at=clock())
    with pytest.raises(users.LoginRequired):
        shifts.open_shift(small_engine, fid, Actor("setup", Role.ADMIN), 1000, at=clock())
    with pytest.raises(Refused, match="bob has no open shift here"):
        shifts.record_cash_movement(small_engine, fid, bob, "drop", 100, at=clock())
    # A supervisor closes alice's shift; the report names who closed it.
    report = shifts.close_shift(small_engine, fid, sue, cash_count={500: 2}, shift_id=shift.id, at=clock())
    assert (report.username, report.closed_by, report.over_short) == ("alice", "sue", 0)
    with pytest.raises(Refused, match="already closed"):
        shifts.close_shift(small_engine, fid, sue, cash_count={}, shift_id=shift.id, at=clock())
    with pytest.raises(NotFound):
        shifts.shift_report(small_engine, 999_999)


def test_open_shift_report_and_bad_counts(small_engine, service, staff, clock, fid):
    alice = staff["alice"]
    shift = shifts.open_shift(small_engine, fid, alice, 10000, at=clock())
    pay(small_engine, service, shift.id, alice, "cash", 240, tendered=240)
    report = shifts.shift_report(small_engine, shift.id)
    assert report.status == "open" and report.counted is None and report.over_short is None
    assert report.expected == {"cash": 10240}
    assert "Status: OPEN (figures so far)" in report.lines()
    with pytest.raises(InputError, match=r"£0.03 is not a GBP denomination"):
        shifts.close_shift(small_engine, fid, alice, cash_count={3: 1}, at=clock())
    with pytest.raises(InputError, match="cannot be negative"):
        shifts.close_shift(small_engine, fid, alice, cash_count={100: -1}, at=clock())
    with pytest.raises(InputError, match="cash is counted by denomination"):
        shifts.close_shift(small_engine, fid, alice, cash_count={}, counted_other={"cash": 100}, at=clock())
    with pytest.raises(InputError, match="unknown payment method 'bitcoin'"):
        shifts.close_shift(small_engine, fid, alice, cash_count={}, counted_other={"bitcoin": 1}, at=clock())
    with pytest.raises(InputError, match="cannot close before it opened"):
        shifts.close_shift(small_engine, fid, alice, cash_count={}, at=clock() - timedelta(minutes=1))
    assert shifts.current_shift(small_engine, fid, alice.user_id).status == "open"


def test_parse_cash_count():
    assert shifts.parse_cash_count("50.00x2,20.00x3,1.00x7,0.50x4", "GBP") == {5000: 2, 2000: 3, 100: 7, 50: 4}
    assert shifts.parse_cash_count(" £10 × 1, 10.00*2 ,0.01X5", "GBP") == {1000: 3, 1: 5}
    assert shifts.parse_cash_count("", "GBP") == {}
    assert shifts.parse_cash_count("500x3", "EUR") == {50000: 3}
    with pytest.raises(InputError, match="expected DENOMINATIONxCOUNT"):
        shifts.parse_cash_count("50.00", "GBP")
    with pytest.raises(InputError, match="not a GBP denomination"):
        shifts.parse_cash_count("0.25x4", "GBP")
    assert shifts.parse_cash_count("0.25x4", "USD") == {25: 4}
    assert shifts.denominations("CHF") == shifts.DENOMINATIONS["EUR"]
