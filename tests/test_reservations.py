"""Reservations (issue 11): pools never overbooked (also under two booths at once, SQLite and PostgreSQL),
signed codes, bays held for the window that walk-ins never take, check-in by plate or code, no-show,
cancellation refunds and overstay priced with its breakdown.

The small facility (tests/conftest.py) with the demo plan's ``[reservations]`` rules
(examples/rates/charlotte_street.toml): £3.00 per started hour, hold from 15 min before, no-show 30 min
after the start keeps £5.00, cancellation 24 h ahead free else £2.00, overstay beyond 10 min £6.00 per
started hour plus £5.00. The clock starts at 2026-11-20 09:00 UTC (Europe/London: 09:00).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendant.core import reservations as rsv
from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError, NoSpaceAvailable, Refused, TicketInvalid
from attendant.core.reservations import Overbooked, ReservationRequest
from db.models import ParkingSession, Reservation, ReservationPayment, Spot

SUP = Actor("sup", Role.SUPERVISOR)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(h: int, m: int = 0) -> datetime:
    return T0.replace(hour=h, minute=m)


def book(service, start, end, **kw):
    return service.book(ReservationRequest(kw.pop("vehicle", "car"), start, end, **kw), actor="desk")


def spot_status(engine, spot_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Spot.__table__.c.status).where(Spot.__table__.c.id == spot_id)).scalar_one()


def test_a_full_pool_refuses_at_the_first_conflicting_instant(service):
    service.set_pool("regular", bays=2, actor=SUP)
    book(service, at(10), at(12))
    book(service, at(10, 30), at(11))
    book(service, at(11), at(13))  # the 10:30-11:00 one has ended at 11:00
    with pytest.raises(Overbooked) as refused:
        book(service, at(9, 30), at(14))
    assert refused.value.first_conflict == at(10, 30)
    assert "10:30" in str(refused.value)
    with pytest.raises(Overbooked) as refused:
        book(service, at(11, 30), at(12, 30))
    assert refused.value.first_conflict == at(11, 30)
    book(service, at(13), at(14))  # after both: free again
    with service.engine.connect() as conn:
        assert conn.execute(select(Reservation.__table__.c.id)).all().__len__() == 4


def test_booking_needs_a_pool_and_a_fitting_bay(service):
    with pytest.raises(InputError, match="no reservable pool of regular"):
        book(service, at(10), at(11))
    service.set_pool("large", bays=1, actor=SUP)
    with pytest.raises(InputError, match="cannot book a ev"):
        book(service, at(10), at(11), spot_type="ev", vehicle="truck")
    with pytest.raises(InputError, match="ends before it starts"):
        ReservationRequest("car", at(11), at(10))
    with pytest.raises(PermissionDenied):
        service.set_pool("regular", bays=1, actor=Actor("att", Role.ATTENDANT))


def test_the_code_is_signed_and_names_the_reservation(service):
    service.set_pool("regular", share_pct=50, actor=SUP)  # 17 regular bays: 8 reservable
    assert service.pools()[0]["capacity"] == 8
    view = book(service, at(10), at(12), plate="ab12 cde", holder_name="Ada Lovelace", holder_contact="ada@x")
    assert view.code.startswith("R-TST-") and view.status == "booked" and view.price == 600
    assert service.reservation(view.code).id == view.id
    forged = view.code[:-1] + ("A" if view.code[-1] != "A" else "B")
    with pytest.raises(TicketInvalid):
        service.reservation(forged)
    with pytest.raises(TicketInvalid):  # a ticket signature never verifies a reservation
        service.signer.verify_reservation(service.signer.sign("TST", view.id).replace("TST-", "R-TST-", 1))
    with service.engine.connect() as conn:  # personal data sealed at rest
        row = conn.execute(select(Reservation.__table__).where(Reservation.__table__.c.id == view.id)).one()
    assert "Ada" not in row.holder_name and "AB12CDE" not in row.plate and row.code != view.code
    assert service.reservation(view.code).holder_name == "Ada Lovelace"


def _race(urls, service_factory, monkeypatch):
    """Two booths (own engine, own service) book the last slot at the same moment."""
    service_factory(urls[0]).set_pool("regular", bays=1, actor=SUP)
    booths = [service_factory(u) for u in urls]
    real = rsv.first_conflict

    def slow(*args, **kwargs):  # widen the window between counting and inserting: without the lock both win
        answer = real(*args, **kwargs)
        time.sleep(0.4)
        return answer

    monkeypatch.setattr(rsv, "first_conflict", slow)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def go(svc):
        barrier.wait()
        try:
            outcomes.append(book(svc, at(10), at(12)))
        except Overbooked as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=go, args=(b,)) for b in booths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Overbooked)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].first_conflict == at(10)
    with booths[0].engine.connect() as conn:
        assert len(conn.execute(select(Reservation.__table__.c.id)).all()) == 1


def test_two_booths_booking_the_last_slot_exactly_one_wins(small_engine, clock, monkeypatch):
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine

    url = small_engine.url.render_as_string(hide_password=False)
    engines = []

    def factory(u):
        engine = make_engine(u)
        engines.append(engine)
        return ParkingService(engine, TicketSigner.from_site(), clock=clock)

    try:
        _race([url, url], factory, monkeypatch)
    finally:
        for e in engines:
            e.dispose()


def test_a_held_bay_is_never_taken_by_a_walk_in_and_the_plate_checks_in(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(9, 30), at(11), plate="AB12 CDE", prepay="cash")
    assert view.amount_prepaid == 600 and view.hold_from_at == at(9, 15)
    clock.now = at(9, 20)
    swept = service.sweep()
    assert swept["held"] == 1
    held = service.reservation(view.code)
    assert held.held_spot is not None
    held_id = service._cache.index.by_label[held.held_spot]
    assert spot_status(service.engine, held_id) == "reserved"
    # walk-ins fill every bay a car fits (23 less the held one), then the car park is full for cars
    for n in range(22):
        service.enter(f"WALK{n:03d}", "car", actor="booth")
    with pytest.raises(NoSpaceAvailable):
        service.enter("WALK999", "car", actor="booth")
    assert spot_status(service.engine, held_id) == "reserved"
    entry = service.enter("AB12CDE", "car", actor="booth")  # the plate finds its reservation
    assert entry.spot_label == held.held_spot and entry.reservation.code == view.code
    assert service.reservation(view.code).status == "checked_in"
    assert spot_status(service.engine, held_id) == "occupied"
    with service.engine.connect() as conn:
        ps = ParkingSession.__table__
        assert conn.execute(select(ps.c.reservation_id).where(ps.c.id == entry.session_id)).scalar_one() == view.id


def test_walk_ins_place_the_due_holds_themselves(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(10), at(11), spot="L1-A05")
    clock.now = at(9, 50)  # no sweep ran: the first walk-in's entry holds the bay before claiming its own
    service.enter("WALK1", "van", actor="booth", spot_label=None)
    assert spot_status(service.engine, service._cache.index.by_label["L1-A05"]) == "reserved"
    with pytest.raises(Refused, match="reserved"):
        service.enter("WALK2", "car", actor="booth", spot_label="L1-A05")
    entry = service.enter(None, "car", actor="booth", reservation=view.code)  # by code, no plate
    assert entry.spot_label == "L1-A05"


def test_check_in_by_a_misread_plate_and_early_arrivals_are_walk_ins(service, clock):
    service.set_pool("regular", bays=2, actor=SUP)
    view = book(service, at(10), at(12), plate="AB12 CD0")
    clock.now = at(9, 40)  # before the allowance (09:45): a walk-in, the reservation waits
    with pytest.raises(Refused, match="arrivals from 09:45"):
        service.enter("AB12CDO", "car", actor="booth", reservation=view.code)
    early = service.enter("XY99ZZZ", "car", actor="booth")
    assert early.reservation is None
    clock.now = at(9, 50)
    entry = service.enter("AB12CDO", "car", actor="booth")  # O read for 0: the folded index finds it
    assert entry.reservation is not None and entry.reservation.code == view.code


def test_a_no_show_keeps_the_fee_refunds_the_rest_and_frees_the_hold(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(10), at(12), prepay="card", idempotency_key="web-1")
    assert book(service, at(10), at(12), prepay="card", idempotency_key="web-1").id == view.id  # retried
    clock.now = at(9, 50)
    service.sweep()
    held_id = service._cache.index.by_label[service.reservation(view.code).held_spot]
    clock.now = at(10, 31)
    swept = service.sweep()
    assert swept["no_show"] == [view.code] and swept["refunded"] == 100  # £6.00 paid, £5.00 kept
    after = service.reservation(view.code)
    assert after.status == "no_show" and after.no_show_fee == 500 and after.amount_prepaid == 500
    assert spot_status(service.engine, held_id) == "available"
    with service.engine.connect() as conn:
        rp = ReservationPayment.__table__
        rows = conn.execute(select(rp.c.kind, rp.c.amount, rp.c.status).order_by(rp.c.id)).all()
    assert [tuple(r) for r in rows] == [("prepay", 600, "completed"), ("refund", -100, "completed")]
    with pytest.raises(Refused, match="no show"):
        service.enter(None, "car", actor="booth", reservation=view.code)


def test_cancellation_refunds_by_the_plans_rule(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    early = book(service, at(10) + timedelta(days=2), at(11) + timedelta(days=2), prepay="cash")
    late = book(service, at(12), at(13), prepay="cash")
    with pytest.raises(InputError, match="reason"):
        service.cancel_reservation(early.code, reason=" ", actor="desk")
    assert service.cancel_reservation(early.code, reason="plans changed", actor="desk").amount_prepaid == 0
    assert service.cancel_reservation(late.code, reason="plans changed", actor="desk").amount_prepaid == 200
    book(service, at(12), at(13))  # the slot is free again
    with pytest.raises(Refused, match="cancelled"):
        service.cancel_reservation(late.code, reason="again", actor="desk")


def test_an_overstay_is_priced_with_its_breakdown_and_the_exit_completes_it(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(9, 30), at(11), plate="OV12 AAA", prepay="cash")  # 2 started hours: £6.00
    clock.now = at(9, 20)
    entry = service.enter("OV12AAA", "car", actor="booth")
    clock.now = at(12, 5)
    quote = service.quote(entry.code)
    lines = [(ln.label, ln.minutes, ln.amount) for ln in quote.fee.lines]
    assert lines == [
        ("Reservation 09:30-11:00", 90, 600),
        ("Prepaid at booking", 0, -600),
        ("Overstay 11:00-12:05, beyond 10 min grace (£6.00 per started hour)", 65, 1200),
        ("Overstay surcharge", 0, 500),
    ]
    assert quote.fee.amount == 1700
    service.exit(entry.code, method="cash", tendered=2000, actor="booth")
    assert service.reservation(view.code).status == "completed"
    clock.now = at(12, 6)
    within = book(service, at(13), at(14), plate="IN12 AAA")
    clock.now = at(12, 50)
    e2 = service.enter("IN12AAA", "car", actor="booth")
    clock.now = at(14, 5)  # 5 minutes past the end: within the grace
    assert [ln.amount for ln in service.quote(e2.code).fee.lines] == [300, 0]
    assert service.reservation(within.code).status == "checked_in"


def test_spread_across_levels_fills_the_emptiest_level_first_and_is_audited(service):
    from attendant.core.allocation import Strategy
    from db.models import AuditEvent

    service.set_strategy("spread", actor=SUP)
    assert service.strategy is Strategy.SPREAD
    car_types = {"compact", "regular", "large"}
    levels = {s.level_id for s in service._cache.index.spots.values()}

    def free_by_level():
        with service.engine.connect() as conn:
            rows = conn.execute(select(Spot.__table__.c.level_id, Spot.__table__.c.spot_type,
                                       Spot.__table__.c.status)).all()
        return {lv: sum(1 for r in rows if r.level_id == lv and r.spot_type in car_types
                        and r.status == "available") for lv in levels}

    assert sorted(free_by_level().values()) == [9, 14]
    for n in range(10):
        service.enter(f"SPR{n:03d}", "car", actor="booth")
    assert sorted(free_by_level().values()) in ([6, 7], [7, 6])  # 13 left: as even as can be
    from attendant.core.vocab import SpotType, VehicleClass

    chosen = service._cache.index.choose(VehicleClass.CAR)  # the in-memory index agrees with the database
    assert chosen.level_id == service._cache.index.emptiest_level(
        (SpotType.COMPACT, SpotType.REGULAR, SpotType.LARGE))
    with service.engine.connect() as conn:
        audit = AuditEvent.__table__
        assert conn.execute(select(audit.c.details).where(audit.c.action == "allocation.strategy")).scalar_one() \
            == {"strategy": "spread"}


@pytest.mark.parametrize(("body", "message"), [
    ('hourly = "3.00"\nflat = "5.00"', "reservations.flat: give only one of hourly or flat"),
    ('no_show_fee = "-1.00"', "reservations.no_show_fee: negative price"),
    ('arrival_allowance = "2d"', "reservations.arrival_allowance: at most 24h"),
    ('early_arrival = "refuse"', 'reservations.early_arrival: expected "walk_in" or "tariff"'),
    ('overstay_rate = "6.00"', "reservations.overstay_rate: unknown key \\(did you mean 'overstay_grace'"),
])
def test_reservation_keys_are_validated_like_the_rest(body, message):
    from attendant.core.rates import RatePlanError, parse_rate_plan

    text = f'name = "P"\ncurrency = "GBP"\nflat = "2.00"\n\n[reservations]\n{body}\n'
    with pytest.raises(RatePlanError, match=message) as refused:
        parse_rate_plan(text, source="plan.toml")
    assert refused.value.line is not None and refused.value.line >= 5


def test_walk_ins_leave_the_last_bays_to_a_hold_about_to_begin(service, clock):
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(10), at(11), plate="SOON 1")
    regular = sorted(label for label, i in service._cache.index.by_label.items()
                     if service._cache.index.spots[i].spot_type.value == "regular")
    for label in regular[:-1]:  # one regular bay left
        service.set_spot_in_service(label, False, actor=SUP, reason="resurfacing")
    clock.now = at(9, 0)  # the hold begins at 09:45, within the hour: the last regular bay is kept
    assert service.enter("VAN1", "van", actor="booth").spot_type == "large"
    assert service.enter("VAN2", "van", actor="booth").spot_type == "large"
    with pytest.raises(NoSpaceAvailable, match="kept for reservations"):
        service.enter("VAN3", "van", actor="booth")
    assert service.enter("CAR1", "car", actor="booth").spot_type == "compact"
    clock.now = at(9, 50)
    entry = service.enter("SOON1", "car", actor="booth")
    assert entry.spot_label == regular[-1] and entry.reservation.code == view.code


def test_the_day_report_counts_money_and_pool_use_by_hour(service, clock):
    service.set_pool("regular", bays=2, actor=SUP)
    kept = book(service, at(10), at(12), plate="REP 1", prepay="cash")  # checks in and overstays
    missed = book(service, at(10), at(11), prepay="cash")  # a no-show: the £5.00 fee is capped at the £3.00 paid
    gone = book(service, at(13), at(14), prepay="cash")
    service.cancel_reservation(gone.code, reason="ill", actor="desk")  # under 24 h ahead: £2.00 kept
    clock.now = at(9, 50)
    entry = service.enter("REP1", "car", actor="booth")
    clock.now = at(10, 31)
    service.sweep()
    clock.now = at(13, 0)
    service.exit(entry.code, method="cash", tendered=5000, actor="booth")
    report = service.reservation_report(at(10).date())
    assert report["counts"] == {"booked": 0, "checked_in": 0, "completed": 1, "cancelled": 1, "no_show": 1,
                                "expired": 0, "total": 3}
    assert service.reservation(missed.code).no_show_fee == 300
    # prepaid £6 + £3 + £3, refunded £1 (cancel) and £0 (no-show: fee £5 capped at the £3 paid)
    assert report["prepaid"] == 600 + 300 + 300 - 100 and report["no_show_fees"] == 300
    assert report["overstay"] == 600 + 500  # 12:00-13:00 at £6.00 per started hour, plus £5.00
    (pool,) = report["pools"]
    by_hour = {h["hour"]: h["reserved"] for h in pool["hours"]}
    assert (by_hour["09:00"], by_hour["10:00"], by_hour["11:00"], by_hour["12:00"]) == (0, 1, 1, 0)
    assert len(pool["hours"]) == 24 and service.reservation(kept.code).status == "completed"


def test_retention_erases_the_personal_data_of_reservations_long_over(service, clock):
    from attendant.core.retention import run_retention

    service.set_pool("regular", bays=2, actor=SUP)
    old = book(service, at(10), at(11), plate="OLD 1", holder_name="Old Holder", holder_contact="old@x")
    live = book(service, at(10) + timedelta(days=60), at(11) + timedelta(days=60), plate="NEW 1",
                holder_name="New Holder")
    service.cancel_reservation(old.code, reason="changed", actor="desk")
    run_retention(service.engine, days=30, actor=SUP, now=T0 + timedelta(days=45))
    assert service.reservation(old.code).plate is None and service.reservation(old.code).holder_name is None
    assert service.reservation(live.code).holder_name == "New Holder"


def test_an_early_arrival_under_the_tariff_rule_is_checked_in_and_priced(service, clock):
    from dataclasses import replace

    from attendant.core.facilities import activate_rate_plan
    from attendant.core.rates import RatePlan

    with service.engine.connect() as conn:
        plan = service._plan(conn, service._cache.active_plan_id)
    early_plan = replace(plan, version="early", reservations=replace(plan.reservations, early_arrival="tariff"))
    activate_rate_plan(service.engine, service.facility.id, RatePlan.from_dict(early_plan.to_dict()), source="t",
                       actor=SUP, now=clock.now)
    service.refresh()
    service.set_pool("regular", bays=1, actor=SUP)
    view = book(service, at(11), at(12), plate="EARLY 1", prepay="cash")  # hold from 10:45
    clock.now = at(9, 40)
    entry = service.enter("EARLY1", "car", actor="booth")
    assert entry.reservation is not None and entry.spot_type == "regular"
    clock.now = at(12, 0)
    lines = [(ln.label, ln.minutes, ln.amount) for ln in service.quote(entry.code).fee.lines]
    # 09:40-10:45 by the car tariff: 10 min grace does not apply to 65 min, 2 started hours at £2.40
    assert lines == [("Reservation 11:00-12:00", 60, 300), ("Prepaid at booking", 0, -300),
                     ("Early arrival 09:40-10:45 (tariff)", 65, 480)]
    assert service.reservation(view.code).status == "checked_in"


def test_a_zone_pool_holds_a_bay_of_that_zone(service, clock):
    service.set_pool("regular", bays=1, zone="b", actor=SUP)
    with pytest.raises(InputError, match="no zone 'Q'"):
        book(service, at(10), at(11), zone="Q")
    view = book(service, at(10), at(11), zone="b", plate="ZONE 1")
    with pytest.raises(Overbooked):
        book(service, at(10, 30), at(11), zone="B")
    with pytest.raises(InputError, match="no reservable pool of regular bays"):
        book(service, at(10), at(11))  # the facility-wide regular pool is not set
    clock.now = at(9, 50)
    service.sweep()
    held = service.reservation(view.code).held_spot
    assert held.startswith("L0-B") and service._cache.index.spots[service._cache.index.by_label[held]].spot_type \
        .value == "regular"


def test_a_declined_prepayment_keeps_no_booking(service):
    from attendant.core.errors import PaymentError
    from attendant.core.vocab import PaymentMethod

    service.set_pool("regular", bays=1, actor=SUP)
    service.processors.get(PaymentMethod.CARD).set_script(["decline"])
    with pytest.raises(PaymentError, match="not kept"):
        book(service, at(10), at(11), prepay="card")
    (row,) = service.reservations()
    assert row.status == "cancelled" and row.amount_prepaid == 0 and row.reason.startswith("prepayment failed")
    service.processors.get(PaymentMethod.CARD).set_script(["approve"])
    assert book(service, at(10), at(11), prepay="card").amount_prepaid == 300  # the slot was released
