"""Daily, weekly and monthly reports: revenue, traffic and occupancy against hand-checked stays.

Runs on SQLite and on PostgreSQL (the ``db_url`` fixture). Stays go through
the real services with explicit times; occupancy by hour is checked against
a brute-force count over the sessions' rows, so the report's index counts
and minute buckets are compared with the plain definition ("vehicles whose
entry is before the instant and whose exit is not").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from attendant.core.reports import period_bounds, period_report
from db.models import ParkingSession

LONDON = ZoneInfo("Europe/London")
LATER = datetime(2027, 1, 1, tzinfo=UTC)  # "now" once the stays are made: every period below is over
PS = ParkingSession.__table__


def local(y, m, d, hh, mm=0, *, fold=0) -> datetime:
    """A facility-local (Europe/London) wall time as an aware UTC instant."""
    return datetime(y, m, d, hh, mm, tzinfo=LONDON, fold=fold).astimezone(UTC)


def stay(service, plate, entry, exit_=None, method="card"):
    """Enter at ``entry``; exit and pay at ``exit_`` (when given). Returns the amount paid (minor units)."""
    service.clock.now = entry
    code = service.enter(plate, "car", actor="test", at=entry, vend=True).code
    if exit_ is None:
        return 0
    service.clock.now = exit_
    tendered = 100_00 if method == "cash" else None
    return service.exit(code, method=method, actor="test", tendered=tendered, at=exit_, vend=True).paid


def alice_on_shift(service, at: datetime):
    """Users ``admin`` and ``alice`` (attendant, PIN 1111); alice logged in with a shift opened at ``at``
    (a £50.00 float). Returns ``(alice, shift)``."""
    from attendant.core import shifts, users

    admin = users.create_user(service.engine, users.setup_actor(service.engine), "admin", None, "admin", "999999")
    users.create_user(service.engine, admin.actor(), "alice", "Alice", "attendant", "111111")
    alice = users.authenticate(service.engine, "alice", "111111")
    return alice, shifts.open_shift(service.engine, service.facility.id, alice, 5000, at=at)


def brute_force_by_hour(engine, first: date, after: date) -> list[float]:
    """Mean vehicles inside at each local hour's start, counted row by row (the plain definition)."""
    with engine.connect() as conn:
        rows = conn.execute(select(PS.c.entry_at, PS.c.exit_at)).all()
    start = datetime.combine(first, datetime.min.time(), tzinfo=LONDON).astimezone(UTC)
    end = datetime.combine(after, datetime.min.time(), tzinfo=LONDON).astimezone(UTC)
    sums, counts = [0] * 24, [0] * 24
    t = start
    while t < end:
        inside = sum(1 for a, b in rows if a < t and (b is None or b >= t))
        hour = t.astimezone(LONDON).hour
        sums[hour] += inside
        counts[hour] += 1
        t += timedelta(hours=1)
    return [s / c if c else 0.0 for s, c in zip(sums, counts, strict=True)]


def test_period_bounds_are_facility_days_iso_weeks_and_calendar_months():
    assert period_bounds("daily", date(2026, 10, 25)) == (date(2026, 10, 25), date(2026, 10, 26))
    assert period_bounds("weekly", date(2026, 10, 25)) == (date(2026, 10, 19), date(2026, 10, 26))  # Sunday
    assert period_bounds("weekly", date(2026, 10, 19)) == (date(2026, 10, 19), date(2026, 10, 26))  # Monday
    assert period_bounds("monthly", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 3, 1))  # leap year
    assert period_bounds("monthly", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(ValueError, match="unknown report period"):
        period_bounds("yearly", date(2026, 1, 1))


def test_a_week_of_stays_gives_traffic_revenue_occupancy_and_peaks(service):
    paid = {}
    stay(service, "OLD1 AAA", local(2026, 10, 17, 9), local(2026, 10, 17, 11))  # before the week: not counted
    paid["A"] = 0
    service.clock.now = local(2026, 10, 18, 22)
    code_a = service.enter("WKA 001", "car", actor="test", at=local(2026, 10, 18, 22),
                           vend=True).code  # inside at the start
    paid["C"] = stay(service, "WKC 003", local(2026, 10, 19, 8), local(2026, 10, 19, 10, 30), "cash")
    service.clock.now = local(2026, 10, 19, 9)
    code_d = service.enter("WKD 004", "car", actor="test", at=local(2026, 10, 19, 9), vend=True).code
    service.clock.now = local(2026, 10, 20, 9, 30)
    paid["D"] = service.exit(code_d, method="card", actor="test", at=service.clock.now, vend=True).paid
    service.clock.now = local(2026, 10, 21, 12)
    paid["A"] = service.exit(code_a, method="card", actor="test", at=service.clock.now, vend=True).paid
    stay(service, "WKE 005", local(2026, 10, 25, 23, 30))  # still inside at the end of the week
    stay(service, "NEXT 06", local(2026, 10, 26, 8), local(2026, 10, 26, 9))  # the next week: not counted
    assert all(paid.values())

    service.clock.now = LATER
    report = period_report(service, "weekly", date(2026, 10, 22))
    assert (report.start, report.end, report.period) == (date(2026, 10, 19), date(2026, 10, 26), "weekly")
    assert report.occupancy_at_start == 1  # A, in since Sunday night
    assert (report.entries, report.exits) == (3, 3)  # C, D, E in; C, D, A out
    assert report.revenue == paid["A"] + paid["C"] + paid["D"]
    assert report.by_method == {"card": (2, paid["A"] + paid["D"]), "cash": (1, paid["C"])}
    assert report.by_vehicle_class == {"car": (3, report.revenue)}
    stays_min = [(10 * 60 + 30 - 8 * 60), (24 * 60 + 30), (2 * 24 * 60 + 14 * 60)]  # C, D, A
    assert report.average_stay_minutes == sum(stays_min) // 3

    days = {d.day: d for d in report.days}
    assert [d.day for d in report.days] == [date(2026, 10, 19) + timedelta(days=n) for n in range(7)]
    assert sum(d.entries for d in report.days) == report.entries
    assert sum(d.exits for d in report.days) == report.exits
    assert sum(d.revenue for d in report.days) == report.revenue
    monday, tuesday, sunday = days[date(2026, 10, 19)], days[date(2026, 10, 20)], days[date(2026, 10, 25)]
    assert (monday.entries, monday.exits, monday.revenue) == (2, 1, paid["C"])
    assert monday.peak_occupancy == 3 and monday.peak_at == local(2026, 10, 19, 9).astimezone(LONDON)
    # Tuesday only lost D: its peak is the count at midnight (A and D)
    assert tuesday.peak_occupancy == 2 and tuesday.peak_at == datetime(2026, 10, 20, tzinfo=LONDON)
    assert (sunday.entries, sunday.peak_occupancy) == (1, 1)  # A gone Wednesday, E in at 23:30
    assert report.peak == monday

    expected = brute_force_by_hour(service.engine, report.start, report.end)
    assert list(report.occupancy_by_hour) == pytest.approx(expected)
    assert report.occupancy_by_hour[9] > report.occupancy_by_hour[3]  # mornings busier than the night
    assert dict(report.stay_bands) == {"up to 1 h": 0, "1-2 h": 0, "2-4 h": 1, "4-8 h": 0, "8-24 h": 0,
                                       "over 24 h": 2}  # C 2 h 30; D 24 h 30; A 2 days 14 h
    assert report.vends_by_source["payment"] == 3 and sum(report.vends_by_source.values()) == 6  # 3 in, 3 out
    assert report.ious == (0, 0) and report.by_shift == {}  # no IOU; the actor "test" works no shift

    as_json = report.to_json_dict()
    assert as_json["from"] == "2026-10-19" and as_json["to"] == "2026-10-25"
    assert as_json["peak_occupancy"] == 3 and as_json["peak_at"].startswith("2026-10-19T09:00")
    assert len(as_json["days"]) == 7 and len(as_json["occupancy_by_hour"]) == 24
    rows = list(report.rows())
    assert ("2026-10-19", report.facility, "day", "entries", 2, "", "GBP") in rows


def test_the_day_the_clocks_go_back_has_25_hour_starts(service):
    # Sunday 25 Oct 2026: 01:00-02:00 happens twice in London
    stay(service, "DST 001", local(2026, 10, 25, 0, 30), local(2026, 10, 25, 1, 30, fold=1))  # 2 h elapsed
    stay(service, "DST 002", local(2026, 10, 25, 1, 30, fold=1), local(2026, 10, 25, 3, 0))
    service.clock.now = LATER
    report = period_report(service, "daily", date(2026, 10, 25))
    assert (report.entries, report.exits) == (2, 2)
    assert report.average_stay_minutes == (120 + 90) // 2
    expected = brute_force_by_hour(service.engine, report.start, report.end)
    assert list(report.occupancy_by_hour) == pytest.approx(expected)
    # 01:00 is seen twice: DST 001 is inside at both (BST and GMT) starts; 02:00 sees DST 002 only
    assert report.occupancy_by_hour[1] == 1.0 and report.occupancy_by_hour[2] == 1.0
    assert report.occupancy_by_hour[0] == 0.0 and report.occupancy_by_hour[4] == 0.0
    assert report.days[0].peak_occupancy == 1


def test_a_month_report_covers_its_days_and_an_empty_month_is_zero(service):
    paid = stay(service, "MON 001", local(2026, 2, 27, 10), local(2026, 3, 1, 10))
    service.clock.now = LATER
    feb = period_report(service, "monthly", date(2026, 2, 14))
    assert (feb.start, feb.end, len(feb.days)) == (date(2026, 2, 1), date(2026, 3, 1), 28)
    assert (feb.entries, feb.exits, feb.revenue) == (1, 0, 0)
    assert feb.days[-1].peak_occupancy == 1 and feb.days[0].peak_occupancy == 0
    service.clock.now = local(2026, 3, 2, 10)
    owed = service.enter("IOU 002", "car", actor="test", at=service.clock.now, vend=True)
    service.clock.now = local(2026, 3, 2, 12, 30)
    left = service.let_go(owed.code, actor="test", reason="card declined", at=service.clock.now, vend=True)
    service.clock.now = LATER
    mar = period_report(service, "monthly", date(2026, 3, 31))
    assert (mar.entries, mar.exits, mar.revenue, mar.occupancy_at_start) == (1, 2, paid, 1)
    assert mar.ious == (1, left.iou_amount) and left.iou_amount > 0
    assert mar.vends_by_source == {"attendant": 1, "payment": 1, "ticket": 1}
    assert mar.to_json_dict()["ious"]["count"] == 1
    empty = period_report(service, "monthly", date(2025, 1, 1))
    assert (empty.entries, empty.exits, empty.revenue, empty.average_stay_minutes) == (0, 0, 0, None)
    assert empty.peak.peak_occupancy == 0 and set(empty.occupancy_by_hour) == {0.0}


def test_hours_and_days_still_to_come_have_no_occupancy(service):
    stay(service, "NOW 001", local(2026, 11, 16, 8))  # Monday 08:00, still inside
    service.clock.now = local(2026, 11, 18, 12, 30)  # Wednesday 12:30
    report = period_report(service, "weekly", date(2026, 11, 18))
    monday, tuesday, wednesday, thursday = report.days[:4]
    assert (monday.peak_occupancy, tuesday.peak_occupancy, wednesday.peak_occupancy) == (1, 1, 1)
    assert (thursday.peak_occupancy, thursday.peak_at) == (0, None)  # not begun
    # 09:00 was seen Mon-Wed with the car inside: mean 1; 13:00 only Mon and Tue: mean 1; 07:00: Tue, Wed only
    assert report.occupancy_by_hour[9] == 1.0 and report.occupancy_by_hour[13] == 1.0
    assert report.occupancy_by_hour[7] == pytest.approx(2 / 3)  # Monday 07:00 (empty), Tuesday, Wednesday
    assert report.peak == monday and report.to_json_dict()["days"][3]["peak_at"] is None
    assert report.hour_samples[12] == 3 and report.hour_samples[13] == 2  # Wednesday 13:00 has not come
    assert ("2026-11-16", report.facility, "hour", "13:00", 1, "", "GBP") in list(report.rows())
    week_after = period_report(service, "weekly", date(2026, 11, 25))  # a week not begun: no hour yet
    assert not any(week_after.hour_seen(h) for h in range(24))
    assert week_after.to_json_dict()["occupancy_by_hour"] == [None] * 24
    assert [r for r in week_after.rows() if r[2] == "hour"] == []


def test_takings_by_shift_name_the_shift_and_its_user(service):
    service.clock.now = local(2026, 11, 2, 7)
    alice, shift = alice_on_shift(service, service.clock.now)
    service.clock.now = local(2026, 11, 2, 8)
    code = service.enter("SH1 FTS", "car", actor=alice, at=service.clock.now, vend=True).code
    service.clock.now = local(2026, 11, 2, 9, 30)
    paid = service.exit(code, method="cash", actor=alice, tendered=5000, at=service.clock.now, vend=True).paid
    service.clock.now = LATER
    report = period_report(service, "daily", date(2026, 11, 2))
    assert report.by_shift == {f"#{shift.id} alice": (1, paid)}
    assert ("2026-11-02", report.facility, "shift", f"#{shift.id} alice", 1, f"{paid / 100:.2f}", "GBP") in list(
        report.rows())
