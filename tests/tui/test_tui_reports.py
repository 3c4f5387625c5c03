"""The reports screen by keys: a day, a week, a month, previous and next, back to the lanes.

Runs the app :func:`attendant.tui.app.make_app` builds on the demo facility
with a fixed clock (Saturday 21 Nov 2026 09:30 UTC); stays are made through
the services with explicit times, so the figures on screen are checked
against what the report functions and the rows say. The screen is one of the
four outputs of the report's one description: the walk of
``tests/test_report_layout.py`` finds every figure on it too.
"""

from __future__ import annotations

from datetime import date, timedelta

from attendant.core import report_layout
from attendant.core.reports import period_report
from attendant.tui.screens.reports import ReportScreen, shift_period
from db.models import ParkingSession
from tests.test_report_layout import assert_in_every_output, extended_sections
from tests.test_reports import alice_on_shift
from tests.tui.support import SIZE, T0, pilot_test, rows, settle, text_of
from tests.tui.test_tui_flows import build

PS = ParkingSession.__table__


def test_shift_period_steps_days_weeks_and_months():
    assert shift_period("daily", date(2026, 3, 1), -1) == date(2026, 2, 28)
    assert shift_period("weekly", date(2026, 11, 21), 1) == date(2026, 11, 28)
    assert shift_period("monthly", date(2026, 1, 31), 1) == date(2026, 2, 28)  # clamped to the month's end
    assert shift_period("monthly", date(2026, 1, 15), -1) == date(2025, 12, 15)
    assert shift_period("monthly", date(2026, 12, 15), 1) == date(2027, 1, 15)


def make_traffic(app, clock):
    """Two cars on Thursday 19 Nov (one paid by card on Friday), one on Saturday morning."""
    service = app.service
    thursday = T0 - timedelta(days=2)
    service.clock = clock
    first = service.enter("RP01 AAA", "car", actor="t", at=thursday, vend=True)
    service.enter("RP02 BBB", "car", actor="t", at=thursday + timedelta(hours=1), vend=True)
    paid = service.exit(first.code, method="card", actor="t", at=thursday + timedelta(days=1), vend=True).paid
    service.enter("RP03 CCC", "van", actor="t", at=T0 - timedelta(hours=1), vend=True)
    return paid


@pilot_test
async def test_reports_by_keys_day_week_month_previous_next(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        paid = make_traffic(app, clock)

        await pilot.press("ctrl+b")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        title = text_of(app, "#report-title")
        assert "Sat 21 Nov 2026 · as of 09:30" in title  # facility time (London is on UTC in November)
        totals = text_of(app, "#report-totals")
        assert "Traffic  1 in · 0 out\n" in totals and "£0.00" in totals
        assert "Inside   1 at the start · 2 now · 1,056 bays\n" in totals  # the night's car; 2 inside at 09:30
        assert app.screen.query_one("#report-days").display is False  # a day has no day-by-day table
        hours = text_of(app, "#report-hours")
        occupancy, revenue = hours.split("\n\n")
        lines = occupancy.splitlines()
        assert lines[0].split() == ["Hour", "Vehicles", "Full"]  # headed columns
        lines = lines[1:]
        assert len(lines) == 24 and lines[9].split()[-2:] == ["2.0", "0%"]  # 09:00: two of 1,056 bays
        assert lines[0].split()[-2:] == ["1.0", "0%"] and lines[12].split()[-2:] == ["not", "yet"]  # noon has not come
        # revenue by hour: nothing taken today; hours to come are "not yet", not zero
        lines = revenue.splitlines()
        assert lines[0].startswith("Revenue by hour") and lines[1].split() == ["Hour", "Revenue", "Payments"]
        assert lines[2 + 9].split() == ["09:00", "·" * 32, "£0.00", "0"] and lines[2 + 10].split()[-2:] == ["not", "yet"]
        # one set of keys: the title shows the arrows the footer shows
        assert "← → previous / next" in title
        footer_keys = {binding.key_display for _node, binding, _on, _tip in app.screen.active_bindings.values()
                       if binding.action.startswith("step")}
        assert footer_keys == {"←", "→"}

        await pilot.press("w")
        await settle(pilot)
        week = period_report(app.service, "weekly", date(2026, 11, 21))
        assert app.screen.report == week
        assert "week 47, Mon 16 Nov – Sun 22 Nov 2026" in text_of(app, "#report-title")
        totals = text_of(app, "#report-totals")
        assert "3 in · 1 out" in totals and f"£{paid / 100:.2f}" in totals
        assert "  card " in totals and "from 1 payment\n" in totals
        assert "  Method       Payments        Amount\n" in totals  # every breakdown has headed columns
        assert "  Class         Exits          Paid\n" in totals
        card = next(line for line in totals.splitlines() if line.startswith("  card "))
        assert card.split() == ["card", "1", f"£{paid / 100:.2f}"]
        revenue = text_of(app, "#report-hours").split("\n\n")[1].splitlines()
        assert revenue[2 + 9].split() == ["09:00", "█" * 32, f"£{paid / 100:.2f}", "1"]  # paid Fri 09:30
        assert revenue[2 + 8].split()[-2:] == ["£0.00", "0"]
        assert "as of 09:30" in text_of(app, "#report-title")
        assert "  car " in totals and "van" not in totals  # classes count exits: the van is still inside
        days = text_of(app, "#report-days").splitlines()
        assert app.screen.query_one("#report-days").display is True
        assert days[0].split() == ["Day", "In", "Out", "Payments", "Revenue", "Peak", "at"]
        assert days[4].split() == ["Thu", "19", "Nov", "2", "0", "0", "£0.00", "2", "10:30"]  # both in by 10:30
        assert days[5].split() == ["Fri", "20", "Nov", "0", "1", "1", f"£{paid / 100:.2f}", "2", "00:00"]

        await pilot.press("left")  # the week before: nothing happened
        await settle(pilot)
        assert "week 46" in text_of(app, "#report-title") and "· complete" in text_of(app, "#report-title")
        assert "0 in · 0 out" in text_of(app, "#report-totals")
        await pilot.press("right_square_bracket", "right_square_bracket")  # two weeks on: the week after today
        await settle(pilot)
        assert "week 48" in text_of(app, "#report-title") and "· not begun" in text_of(app, "#report-title")
        await pilot.press("t", "m")
        await settle(pilot)
        assert "November 2026" in text_of(app, "#report-title")
        assert text_of(app, "#report-days").count(" Nov ") == 30
        assert app.screen.report.entries == len(rows(engine, PS))

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.main_screen


@pilot_test
async def test_the_reports_are_in_the_palette(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [title for title, _help, _callback in app.console_commands()]
        assert {"Reports: today", "Reports: this week", "Reports: this month"} <= set(titles)
        await pilot.press("ctrl+p", *"this month")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen) and app.screen.period == "monthly"


def screen_texts(app) -> dict[str, str]:
    """What the reports screen's three boxes show, by name (the walk's ``screen``)."""
    return {name: text_of(app, f"#report-{name}") for name in ("totals", "days", "hours")}


@pilot_test
async def test_every_figure_of_the_description_is_on_the_screen_and_a_new_one_too(engine, clock, monkeypatch):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        make_traffic(app, clock)
        service = app.service
        alice, shift = alice_on_shift(service, T0 - timedelta(hours=3))
        code = service.enter("RP04 DDD", "car", actor=alice, at=T0 - timedelta(hours=2), vend=True).code
        service.exit(code, method="cash", actor=alice, tendered=5000, at=T0 - timedelta(minutes=30), vend=True)
        owed = service.enter("RP05 EEE", "car", actor=alice, at=T0 - timedelta(hours=2), vend=True)
        service.let_go(owed.code, actor=alice, reason="card declined", at=T0 - timedelta(minutes=20), vend=True)

        await pilot.press("ctrl+b", "w")
        await settle(pilot)
        week = app.screen.report
        assert week.by_shift and week.ious[0] == 1 and week.vends_by_source and week.average_stay_minutes
        checked = assert_in_every_output(week, screen_texts(app))
        totals = text_of(app, "#report-totals")
        assert "IOUs     1 let go unpaid, £" in totals and f"#{shift.id} alice" in totals

        added = extended_sections(monkeypatch)  # one entry each: a figure, a breakdown, a day column, a series
        await pilot.press("d", "w")
        await settle(pilot)
        assert assert_in_every_output(app.screen.report, screen_texts(app)) == checked + 1 + 7 + len(week.by_lane) + 7
        assert f"Twice    {2 * week.entries:,} twice" in text_of(app, "#report-totals")
        assert "By exit lane again" in text_of(app, "#report-totals")
        assert text_of(app, "#report-days").splitlines()[0].split()[-1] == added["column"].title
        assert "Peaks by day" in text_of(app, "#report-hours")
        assert report_layout.SECTIONS[-1] is added["series"]
