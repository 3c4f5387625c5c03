"""The reports screen: a day, an ISO week or a calendar month of revenue, traffic and occupancy.

Opened with ``ctrl+b`` (or the command palette) from the lanes. Keys: ``d``
day, ``w`` week, ``m`` month; ``left`` the previous period, ``right`` the next
(shown as ← → in the title and the footer alike; ``[``/``]`` work too), ``t``
back to the period holding today; ``escape`` back to the lanes;
``x`` switches to the exceptions tab (issue 10: every exception of the period,
:func:`attendant.core.exceptions_report.exceptions_report`, with its time,
kind, lane, actor, reason and amount, then totals by kind and by actor) and
back.

The figures are :func:`attendant.core.reports.period_report`'s and the
screen lays them out from the one description of a report,
:data:`attendant.core.report_layout.SECTIONS` (the same the CLI's JSON, CSV
and table walk): the Totals box has a line for each :class:`Figures` section
(revenue, traffic, vehicles inside, stay, peak, IOUs) and a block for each
:class:`Breakdown` (by payment method, vehicle class, exit lane, shift, length
of stay, gate openings by source); the By day box has each :class:`DayTable`
(weekly and monthly); the hours box draws each :class:`Series` (the mean
occupancy at the start of every facility-local hour; the revenue taken in
each hour of the day) as bars, glyphs and numbers under headed columns so it
reads without colour; every breakdown has headed columns, and the title says
when the figures were read ("as of 14:05", facility time) or that the period
is complete. The report is built in a thread worker
(group ``report``) that touches no widget and posts one
:class:`ReportScreen.ReportBuilt`; money is integer minor units shown with
:func:`attendant.core.money.format_money`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from string import Formatter

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from attendant.core import report_layout
from attendant.core.report_layout import (
    MONEY,
    Breakdown,
    DayTable,
    Figure,
    Figures,
    Series,
    Value,
    bar,
)
from attendant.core.reports import PeriodReport, period_report
from attendant.tui.console_app import ConsoleApp
from attendant.tui.widgets.footer import ConsoleFooter

BAR_WIDTH = 32  # characters for a full car park in the occupancy chart
PERIOD_WORD = {"daily": "Day", "weekly": "Week", "monthly": "Month"}
PREVIOUS_KEY, NEXT_KEY = "←", "→"  # how the previous/next keys are shown (footer and title)


def shift_period(period: str, day: date, step: int) -> date:
    """A day in the period ``step`` periods after (negative: before) the one holding ``day``."""
    if period == "daily":
        return day + timedelta(days=step)
    if period == "weekly":
        return day + timedelta(weeks=step)
    month = day.month - 1 + step
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _said(figure: Figure, value: Value, report: PeriodReport) -> list:
    """``figure.say`` filled with its words: money amounts stand out, a warning figure is all warning."""
    words = figure.kind.words(value, report)
    warn = figure.warn and bool(value.n)
    parts: list = []
    for literal, name, _spec, _conversion in Formatter().parse(figure.say):
        parts.append((literal, "$warn") if warn else literal)
        if name:
            parts.append((words[name], "$warn" if warn else "$money b" if name == "amount" else ""))
    return parts


def _sections(kind: type) -> list:
    """The sections of ``kind`` in the description's order (read at each call: the description is the source)."""
    return [section for section in report_layout.SECTIONS if isinstance(section, kind)]


def _box(sections: list, draw: Callable[[object], list]) -> Content:
    """One box's content: each section's parts from ``draw``, the second and later under their own title."""
    parts: list = []
    for n, section in enumerate(sections):
        parts += [(f"\n{section.title}\n", "b $accent")] * (n > 0) + draw(section)
    return _trim(Content.assemble(*parts))


def totals_content(report: PeriodReport) -> Content:
    """Every :class:`Figures` section as one line (its title, then its figures said, joined by " · "),
    then every :class:`Breakdown` as a block: its title, then key, count and amount (or share) lines."""
    lines = _sections(Figures)
    pad = max((len(s.title) for s in lines), default=0) + 2
    parts: list = []
    for section in lines:
        parts.append((f"{section.title:<{pad}}", "b"))
        for n, figure in enumerate(section.figures):
            parts += [" · "] * (n > 0) + _said(figure, figure.get(report), report)
        parts.append("\n")
    for section in _sections(Breakdown):
        parts.append((f"\n{section.title}\n", "b $accent"))
        total = section.share_of(report) if section.share_of else 0
        rows = list(section.get(report))
        if not rows:
            parts.append(("  none\n", "$muted"))
            continue
        key_heading, count_heading, last_heading = (*section.headings, "", "", "")[:3]
        width = max(12, len(key_heading) + 1, *(len(key) for key, _value in rows))
        count_width = max(6, len(count_heading))
        parts.append((f"  {key_heading:<{width}} {count_heading:>{count_width}}  {last_heading:>12}".rstrip() + "\n",
                      "b"))
        for key, value in rows:
            words = section.kind.words(value, report)
            last = words["amount"] or (f"{value.n / total:.0%}" if total else "")
            parts.append(f"  {key:<{width}} {words['count']:>{count_width}}  {last:>12}".rstrip() + "\n")
    return _trim(Content.assemble(*parts))


def _day_lines(section: DayTable, report: PeriodReport) -> list:
    """A day table as text: the headings in bold, then a line a day; the day left, the figures right-aligned."""
    lines = [section.headings(), *section.text_rows(report)]
    widths = [max(4, *(len(line[i]) for line in lines)) for i in range(len(lines[0]))]
    texts = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
             for line in lines]
    return [(texts[0] + "\n", "b")] + [text + "\n" for text in texts[1:]]


def days_content(report: PeriodReport) -> Content:
    """Each :class:`DayTable` shown for the period (weekly and monthly: one line a day)."""
    return _box([s for s in _sections(DayTable) if s.shown(report)], lambda section: _day_lines(section, report))


def _bars(section: Series, report: PeriodReport) -> list:
    """A series as bars with numbers: a line a key, the bar full at :meth:`Series.full` (the facility's
    capacity, for occupancy), then the value and its share; "not yet" where it has no value."""
    rows = list(section.get(report))
    full = section.full(report, (value for _key, value in rows))
    money = section.kind is MONEY
    first, second = section.headings[1], "Payments" if money else "Full"
    parts: list = [(f"{section.headings[0]:<5} {'':<{BAR_WIDTH}} {first:>10}  {second:>8}\n", "b")]
    for key, value in rows:
        measure = section.measure(value)
        if measure is None:
            parts += [f"{key} ", (" " * BAR_WIDTH, ""), (f" {'—':>10}  {'not yet':>8}\n", "$muted")]
            continue
        share = measure / full
        filled = bar(share, BAR_WIDTH)
        words = section.kind.words(value, report)
        parts += [
            f"{key} ",
            ("█" * filled, "$accent"),
            ("·" * (BAR_WIDTH - filled), "$muted"),
            (f" {words['amount']:>10}", "$money b") if money else f" {words['count']:>10}",
            f"  {words['count']:>8}\n" if money else f"  {share:>8.0%}\n",
        ]
    return parts


def occupancy_content(report: PeriodReport) -> Content:
    """Each :class:`Series` (the mean occupancy at each facility-local hour's start) as a bar chart."""
    return _box(_sections(Series), lambda section: _bars(section, report))


def exceptions_content(report) -> Content:
    """The exceptions tab: a line an exception (facility time, kind, lane, actor, amount, reason), then
    the totals by kind and by actor (:class:`attendant.core.exceptions_report.ExceptionsReport`)."""
    from attendant.core.money import format_money

    cur = report.currency
    parts: list = []
    if not report.rows:
        parts.append(("No exceptions in this period.\n", "$muted"))
    else:
        parts.append((f"{'Time':<16} {'Kind':<18} {'Lane':<5} {'Actor':<14} {'Amount':>10}  Reason\n", "b"))
        for r in report.rows:
            reason = " ".join(x for x in (r.reason_code, r.reason_text) if x) or "-"
            amount = format_money(r.amount, cur) if r.amount is not None else ""
            parts += [f"{r.local:%a %d %b %H:%M} {r.kind[:18]:<18} {(r.lane or '-')[:5]:<5} {r.actor[:14]:<14} ",
                      (f"{amount:>10}", "$money b"), f"  {reason}\n"]
    for title, table in (("By kind", report.by_kind), ("By actor", report.by_actor)):
        if table:
            parts.append((f"\n{title}\n", "b $accent"))
            parts += [f"  {key:<24} {count:>5}  {format_money(amount, cur):>12}\n"
                      for key, (count, amount) in table.items()]
    return _trim(Content.assemble(*parts))


def as_of_words(report: PeriodReport, as_of: datetime | None) -> str:
    """When the figures were read, for the title: `` · as of 14:05`` (facility time) while the period runs,
    `` · complete`` once it has ended, `` · not begun`` before it starts; "" when unknown."""
    if as_of is None:
        return ""
    today = as_of.date()
    if today >= report.end:
        return " · complete"
    if today < report.start:
        return " · not begun"
    return f" · as of {as_of:%H:%M}"


def _trim(content: Content) -> Content:
    """Drop the last line break (a box's content should not end in a blank line)."""
    return content[:-1] if content.plain.endswith("\n") else content


class ReportScreen(Screen):
    """A period report with keys to change the period (see the module docstring)."""

    BINDINGS = [
        Binding("escape", "back", "Lanes"),
        *(Binding(period[0], f"period('{period}')", word) for period, word in PERIOD_WORD.items()),  # d, w, m
        # one set of keys on screen (issue 12 item 9): the arrows, in the footer and the title alike; [ ] work too
        Binding("left,left_square_bracket", "step(-1)", "Previous", key_display=PREVIOUS_KEY),
        Binding("right,right_square_bracket", "step(1)", "Next", key_display=NEXT_KEY),
        Binding("t", "today", "Today"),
        Binding("x", "exceptions", "Exceptions", show=False),
    ]

    DEFAULT_CSS = """
    ReportScreen #report-title { height: auto; padding: 1 1 0 1; }
    ReportScreen #report-body { height: 1fr; padding: 0 1; }
    ReportScreen #report-row { height: auto; }
    ReportScreen #report-left { width: 60; height: auto; }
    ReportScreen .report-box { height: auto; padding: 0 1; border: round $border-blurred; background: $surface; }
    ReportScreen #report-hours { width: 64; margin-left: 1; }
    ReportScreen #report-days.-hidden { display: none; }
    ReportScreen #report-exceptions { display: none; }
    ReportScreen.-exceptions #report-exceptions { display: block; }
    ReportScreen.-exceptions #report-row { display: none; }
    """

    @dataclass
    class ReportBuilt(Message):
        """The worker's answer for ``request`` (period, day): the ``report``, or None and the ``error``."""

        request: tuple[str, date]
        report: PeriodReport | None
        error: str = ""
        exceptions: object = None  # the exceptions tab's ExceptionsReport, when it is shown
        as_of: datetime | None = None  # facility time the report was read at

    app: ConsoleApp

    def __init__(self, period: str = "daily", day: date | None = None) -> None:
        super().__init__(id="reports")
        self.period = period
        self.day = day
        self.report: PeriodReport | None = None
        self.exceptions_tab = False

    def compose(self) -> ComposeResult:
        yield Static("", id="report-title")
        with VerticalScroll(id="report-body"):
            with Horizontal(id="report-row"):
                with Vertical(id="report-left"):
                    yield Static("", id="report-totals", classes="report-box")
                    yield Static("", id="report-days", classes="report-box")
                yield Static("", id="report-hours", classes="report-box")
            yield Static("", id="report-exceptions", classes="report-box")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#report-totals").border_title = "Totals"
        for box, kind in (("#report-days", DayTable), ("#report-hours", Series)):  # a box's first section names it
            self.query_one(box).border_title = _sections(kind)[0].title
        if self.day is None:
            self.action_today()
        else:
            self.load()

    # --------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_period(self, period: str) -> None:
        if period != self.period:
            self.period = period
            self.load()

    def action_exceptions(self) -> None:
        """x: the exceptions tab of the same period, or back to the figures."""
        self.exceptions_tab = not self.exceptions_tab
        self.set_class(self.exceptions_tab, "-exceptions")
        self.load()

    def action_step(self, step: int) -> None:
        self.day = shift_period(self.period, self.day, step)
        self.load()

    def action_today(self) -> None:
        """The period holding the facility's today."""
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
            service = self.app.service
            as_of = service.local(service.clock())  # before the reads: nothing after it is missing
            report = period_report(service, period, day)
            exceptions = None
            if self.exceptions_tab:
                from attendant.core.exceptions_report import exceptions_report

                exceptions = exceptions_report(self.app.service, period, day)
        except Exception as exc:  # noqa: BLE001 - shown on screen; the console stays up
            self.post_message(self.ReportBuilt(request, None, str(exc) or type(exc).__name__))
            return
        self.post_message(self.ReportBuilt(request, report, exceptions=exceptions, as_of=as_of))

    @on(ReportBuilt)
    def _built(self, message: ReportBuilt) -> None:
        message.stop()
        if message.request != (self.period, self.day):
            return  # the attendant has moved on to another period
        title = self.query_one("#report-title", Static)
        if message.report is None:
            title.update(Content.assemble(("✗ the report could not be built: ", "$error b"), message.error))
            self.notify(message.error, title="Report", severity="error", timeout=6)
            return
        report = self.report = message.report
        keys = [(period[0], word.lower()) for period, word in PERIOD_WORD.items()] + [
            (f"{PREVIOUS_KEY} {NEXT_KEY}", "previous / next"), ("t", "today")]
        title.update(Content.assemble((report.title, "b"), (as_of_words(report, message.as_of), "$muted"), " ", *[
            part for key, what in keys for part in ("  ", (key, "$accent b"), f" {what}")]))
        self.query_one("#report-totals", Static).update(totals_content(report))
        self.query_one("#report-hours", Static).update(occupancy_content(report))
        days = self.query_one("#report-days", Static)
        days.set_class(not any(section.shown(report) for section in _sections(DayTable)), "-hidden")
        days.update(days_content(report))
        box = self.query_one("#report-exceptions", Static)
        box.border_title = "Exceptions  (x: back to the figures)"
        if message.exceptions is not None:
            box.update(exceptions_content(message.exceptions))
