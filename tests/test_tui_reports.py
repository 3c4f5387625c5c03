"""The reports screen by keys: a day, a week, a month, previous and next, back to the lanes.

Runs the app :func:`attendant.tui.app.make_app` builds on the demo facility
with a fixed clock (Saturday 21 Nov 2026 09:30 UTC); stays are made through
the services with explicit times, so the figures on screen are checked
against what the report functions and the rows say.
"""

from __future__ import annotations

from datetime import date, timedelta

from attendant.core.reports import period_report
from attendant.tui.screens.reports import ReportScreen, shift_period
from db.models import ParkingSession
from tests.test_tui_flows import build
from tests.tui_support import SIZE, T0, pilot_test, rows, settle, text_of
from tests.tui_support import clock, engine  # noqa: F401 - pytest fixtures used by name

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
    first = service.enter("RP01 AAA", "car", actor="t", at=thursday)
    service.enter("RP02 BBB", "car", actor="t", at=thursday + timedelta(hours=1))
    paid = service.exit(first.code, method="card", actor="t", at=thursday + timedelta(days=1)).paid
    service.enter("RP03 CCC", "van", actor="t", at=T0 - timedelta(hours=1))
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
        assert "Sat 21 Nov 2026" in title
        totals = text_of(app, "#report-totals")
        assert "1 in · 0 out · 2 inside now" in totals and "£0.00" in totals
        assert app.screen.query_one("#report-days").display is False  # a day has no day-by-day table
        hours = text_of(app, "#report-hours")
        lines = hours.splitlines()
        assert len(lines) == 24 and lines[9].split()[-2:] == ["2.0", "0%"]  # 09:00: two of 1,056 bays
        assert lines[0].split()[-2:] == ["1.0", "0%"] and lines[12].split()[-2:] == ["not", "yet"]  # noon has not come

        await pilot.press("w")
        await settle(pilot)
        week = period_report(app.service, "weekly", date(2026, 11, 21))
        assert app.screen.report == week
        assert "week 47, Mon 16 Nov – Sun 22 Nov 2026" in text_of(app, "#report-title")
        totals = text_of(app, "#report-totals")
        assert "3 in · 1 out" in totals and f"£{paid / 100:.2f}" in totals
        assert "  card " in totals and "from 1 payment\n" in totals
        assert "  car " in totals and "van" not in totals  # classes count exits: the van is still inside
        days = text_of(app, "#report-days")
        assert app.screen.query_one("#report-days").display is True
        assert "Thu 19 Nov      2      0" in days and "Fri 20 Nov      0      1" in days

        await pilot.press("left")  # the week before: nothing happened
        await settle(pilot)
        assert "week 46" in text_of(app, "#report-title")
        assert "0 in · 0 out" in text_of(app, "#report-totals")
        await pilot.press("right_square_bracket", "right_square_bracket")  # two weeks on: the week after today
        await settle(pilot)
        assert "week 48" in text_of(app, "#report-title")
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
