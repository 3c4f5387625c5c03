"""The reports screen: a day, an ISO week or a calendar month of revenue, traffic and occupancy.

Opened with ``ctrl+b`` (or the command palette) from the lanes. Keys: ``d``
day, ``w`` week, ``m`` month; ``left``/``[`` the previous period, ``right``/``]``
the next, ``t`` back to the period holding today; ``escape`` back to the lanes.

The figures are :func:`attendant.core.reports.period_report`'s (the same as
``attendant report daily|weekly|monthly``): revenue by payment method,
vehicle class and exit lane; entries, exits and average stay; each day's
peak; and the mean occupancy at the start of every facility-local hour,
drawn as bars (glyphs and numbers, so it reads without colour). The report is
built in a thread worker (group ``report``) that touches no widget and posts
:class:`ReportLoaded` / :class:`ReportFailed`; money is integer minor units
shown with :func:`attendant.core.money.format_money`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from attendant.core.money import format_money
from attendant.core.reports import PeriodReport, period_report

if TYPE_CHECKING:
    from attendant.tui.app import AttendantApp

BAR_WIDTH = 32  # characters for a full car park in the occupancy chart
PERIOD_WORD = {"daily": "Day", "weekly": "Week", "monthly": "Month"}


def shift_period(period: str, day: date, step: int) -> date:
    """A day in the period ``step`` periods after (negative: before) the one holding ``day``."""
    if period == "daily":
        return day + timedelta(days=step)
    if period == "weekly":
        return day + timedelta(weeks=step)
    month = day.month - 1 + step
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def totals_content(report: PeriodReport) -> Content:
    """Revenue, traffic and the money by method, class and lane, one figure a line."""
    money = lambda v: format_money(v, report.currency)  # noqa: E731
    parts: list = [
        ("Revenue  ", "b"), (money(report.revenue), "$money b"),
        f"  from {report.payments} payment{'' if report.payments == 1 else 's'}\n",
        ("Traffic  ", "b"), f"{report.entries} in · {report.exits} out · {report.open_sessions} inside now\n",
    ]
    if report.average_stay_minutes is not None:
        hours, minutes = divmod(report.average_stay_minutes, 60)
        parts += [("Stay     ", "b"), f"average {hours} h {minutes:02d} min\n"]
    peak = report.peak
    if peak is not None and peak.peak_at is not None:
        share = f" ({peak.peak_occupancy / report.capacity:.0%} full)" if report.capacity else ""
        parts += [("Peak     ", "b"), f"{peak.peak_occupancy} vehicles{share} {peak.peak_at:%a %d %b %H:%M}\n"]
    if report.ious[0]:
        parts += [("IOUs     ", "b"), (f"{report.ious[0]} let go unpaid, {money(report.ious[1])} owed\n", "$warn")]
    for title, data in (("By payment method", report.by_method), ("By vehicle class", report.by_vehicle_class),
                        ("By exit lane", report.by_lane), ("By shift", report.by_shift)):
        parts.append((f"\n{title}\n", "b $accent"))
        if not data:
            parts.append(("  none\n", "$muted"))
        for key, (count, amount) in data.items():
            parts.append(f"  {key:<12} {count:>6}  {money(amount):>12}\n")
    if report.exits:
        parts.append(("\nLength of stay (exits)\n", "b $accent"))
        for label, count in report.stay_bands:
            parts.append(f"  {label:<12} {count:>6}  {count / report.exits:>12.0%}\n")
    parts.append(("\nGate openings by source\n", "b $accent"))
    if not report.vends_by_source:
        parts.append(("  none\n", "$muted"))
    for source, count in report.vends_by_source.items():
        parts.append(f"  {source:<12} {count:>6}\n")
    return _trim(Content.assemble(*parts))


def days_content(report: PeriodReport) -> Content:
    """One line a day: entries, exits, revenue and peak (weekly and monthly reports)."""
    money = lambda v: format_money(v, report.currency)  # noqa: E731
    parts: list = [("Day          In    Out      Revenue   Peak\n", "b")]
    for d in report.days:
        parts.append(f"{d.day:%a %d %b}  {d.entries:>5}  {d.exits:>5}  {money(d.revenue):>11}  {d.peak_occupancy:>5}\n")
    return _trim(Content.assemble(*parts))


def occupancy_content(report: PeriodReport) -> Content:
    """Mean vehicles inside at the start of each facility-local hour, as a bar chart with numbers."""
    capacity = report.capacity or max(report.occupancy_by_hour, default=0) or 1
    parts: list = []
    for hour, value in enumerate(report.occupancy_by_hour):
        if not report.hour_seen(hour):
            parts += [f"{hour:02d}:00 ", (" " * BAR_WIDTH, ""), ("      —  not yet\n", "$muted")]
            continue
        share = value / capacity
        filled = round(min(share, 1.0) * BAR_WIDTH)
        parts += [
            f"{hour:02d}:00 ",
            ("█" * filled, "$accent"),
            ("·" * (BAR_WIDTH - filled), "$muted"),
            f" {value:>6.1f}" if value < 100 else f" {value:>6,.0f}",
            f"  {share:>4.0%}\n",
        ]
    return _trim(Content.assemble(*parts))


def _trim(content: Content) -> Content:
    """Drop the last line break (a box's content should not end in a blank line)."""
    return content[:-1] if content.plain.endswith("\n") else content


class ReportScreen(Screen):
    """A period report with keys to change the period (see the module docstring)."""

    BINDINGS = [
        Binding("escape", "back", "Lanes"),
        Binding("d", "period('daily')", "Day"),
        Binding("w", "period('weekly')", "Week"),
        Binding("m", "period('monthly')", "Month"),
        Binding("left,left_square_bracket", "step(-1)", "Previous"),
        Binding("right,right_square_bracket", "step(1)", "Next"),
        Binding("t", "today", "Today"),
    ]

    DEFAULT_CSS = """
    ReportScreen #report-title { height: auto; padding: 1 1 0 1; }
    ReportScreen #report-body { height: 1fr; padding: 0 1; }
    ReportScreen #report-row { height: auto; }
    ReportScreen #report-left { width: 54; height: auto; }
    ReportScreen .report-box { height: auto; padding: 0 1; border: round $border-blurred; background: $surface; }
    ReportScreen #report-hours { width: 64; margin-left: 1; }
    ReportScreen #report-days.-hidden { display: none; }
    """

    class ReportLoaded(Message):
        """A report built by the worker, for the period it was asked for."""

        def __init__(self, request: tuple[str, date], report: PeriodReport) -> None:
            super().__init__()
            self.request = request
            self.report = report

    class ReportFailed(Message):
        def __init__(self, request: tuple[str, date], error: str) -> None:
            super().__init__()
            self.request = request
            self.error = error

    app: AttendantApp

    def __init__(self, period: str = "daily", day: date | None = None) -> None:
        super().__init__(id="reports")
        self.period = period
        self.day = day
        self.report: PeriodReport | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="report-title")
        with VerticalScroll(id="report-body"), Horizontal(id="report-row"):
            with Vertical(id="report-left"):
                yield Static("", id="report-totals", classes="report-box")
                yield Static("", id="report-days", classes="report-box")
            yield Static("", id="report-hours", classes="report-box")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#report-totals").border_title = "Totals"
        self.query_one("#report-hours").border_title = "Occupancy by hour (mean at the hour's start)"
        self.query_one("#report-days").border_title = "By day"
        if self.day is None:
            service = self.app.service
            self.day = service.local(service.clock()).date()
        self.load()

    # --------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_period(self, period: str) -> None:
        if period != self.period:
            self.period = period
            self.load()

    def action_step(self, step: int) -> None:
        self.day = shift_period(self.period, self.day, step)
        self.load()

    def action_today(self) -> None:
        service = self.app.service
        self.day = service.local(service.clock()).date()
        self.load()

    # --------------------------------------------------------------- loading
    def load(self) -> None:
        """Ask the worker for the report of the current period; the title says it is coming."""
        self.query_one("#report-title", Static).update(
            Content.from_markup(f"[$muted]{PERIOD_WORD[self.period]} report for {self.day:%d %b %Y}: loading…[/]")
        )
        self.run_report((self.period, self.day))

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def run_report(self, request: tuple[str, date]) -> None:
        """Build the report (blocking reads) and post it; never touches a widget."""
        period, day = request
        try:
            report = period_report(self.app.service, period, day)
        except Exception as exc:  # noqa: BLE001 - shown on screen; the console stays up
            self.post_message(self.ReportFailed(request, str(exc) or type(exc).__name__))
            return
        self.post_message(self.ReportLoaded(request, report))

    @on(ReportLoaded)
    def _loaded(self, message: ReportLoaded) -> None:
        message.stop()
        if message.request != (self.period, self.day):
            return  # the attendant has moved on to another period
        report = self.report = message.report
        self.query_one("#report-title", Static).update(Content.assemble(
            (report.title, "b"), "   ",
            ("d", "$accent b"), " day  ", ("w", "$accent b"), " week  ", ("m", "$accent b"), " month  ",
            ("← →", "$accent b"), " previous / next  ", ("t", "$accent b"), " today",
        ))
        self.query_one("#report-totals", Static).update(totals_content(report))
        self.query_one("#report-hours", Static).update(occupancy_content(report))
        days = self.query_one("#report-days", Static)
        days.set_class(report.period == "daily", "-hidden")
        days.update(days_content(report))

    @on(ReportFailed)
    def _failed(self, message: ReportFailed) -> None:
        message.stop()
        if message.request != (self.period, self.day):
            return
        self.query_one("#report-title", Static).update(
            Content.assemble(("✗ the report could not be built: ", "$error b"), message.error)
        )
        self.notify(message.error, title="Report", severity="error", timeout=6)
