"""A period report described once: its sections and figures in order, and the renderers that walk them.

:data:`SECTIONS` is the one description of what a
:class:`~attendant.core.reports.PeriodReport` shows. Each entry is a section
spec saying what its figures are called (the CSV ``section`` and ``key``
columns, a title for people), what kind of value they hold (:data:`COUNT`,
:data:`MONEY`, :data:`MINUTES`, :data:`OCCUPANCY`), how to read them from the
report, and where JSON keeps them. Four renderers walk it: :func:`json_dict`
(``--format json``), :func:`csv_rows` (``--format csv``), :func:`rich_table`
(``--format table``) and the console's reports screen
(``attendant/tui/screens/reports.py``). :func:`render_report` gives the text of
the first three. A new figure is one entry here (plus computing it in
:mod:`attendant.core.reports`) and then shows in all four outputs.

The four kinds of section:

- :class:`Figures`: named figures of the whole period (one line on the
  screen, e.g. ``Traffic  4 in · 3 out``);
- :class:`Breakdown`: one figure per key of a mapping (by payment method,
  by lane, ...; a block on the screen);
- :class:`DayTable`: the same figures for each day (weekly and monthly);
- :class:`Series`: one value per key drawn as bars (occupancy by hour).

Units: money is integer minor units, written with the facility currency
(``"12.34"`` in JSON and CSV, ``"£12.34"`` for people); minutes are whole
minutes; occupancy is vehicles inside (a mean may be fractional); times are
facility-local. The JSON shape is the one scripts have read since the report
existed: its keys and their order are kept (:data:`JSON_KEY_ORDER`), and a new
figure's key follows them. This module imports no Rich until a table is asked
for, and no Textual ever.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from attendant.core.money import format_money, to_major_str

if TYPE_CHECKING:
    from attendant.core.reports import PeriodReport

FORMATS = ("table", "csv", "json")
CSV_HEADER = ("date", "facility", "section", "key", "count", "amount", "currency")
# the top-level JSON keys in the order scripts have always seen; keys not listed follow in SECTIONS order
JSON_KEY_ORDER = (
    "facility", "period", "date", "from", "to", "currency", "capacity", "entries", "exits", "payments", "revenue",
    "by_method", "by_vehicle_class", "by_lane", "average_stay_minutes", "open_sessions", "occupancy_at_start",
    "by_shift", "stays", "vends_by_source", "vends_by_reason",
    "ious", "peak_occupancy", "peak_at", "occupancy_by_hour", "days", "revenue_by_hour",
)


# ---------------------------------------------------------------- values and their kinds
@dataclass(frozen=True, slots=True)
class Value:
    """One figure's value as a section reads it from a report.

    ``n``: a count, whole minutes or vehicles (None: nothing to measure, e.g.
    no exits to average or an hour that has not come); ``amount``: minor
    units (money only); ``at``: the facility-local time it refers to (a peak).
    """

    n: int | float | None
    amount: int | None = None
    at: datetime | None = None


def vehicles(n: float) -> str:
    """Vehicles for people: whole counts as ``1,056``; means with one decimal below 100 (``0.2``), whole above."""
    if isinstance(n, int):
        return f"{n:,}"
    return f"{n:,.1f}" if n < 100 else f"{n:,.0f}"


class Kind:
    """How values of one kind are written in each output; this base writes a plain count."""

    name = "count"
    columns: tuple[str, ...] = ("count",)  # the words a day-table column shows, one column each

    def __repr__(self) -> str:
        return self.name.upper()

    def json(self, v: Value, currency: str) -> Any:
        """The value under one JSON key: a number (money: ``{"count", "amount"}``)."""
        return v.n

    def json_parts(self, v: Value, currency: str) -> tuple:
        """The value spread over several JSON keys, in the order of a figure's ``json`` tuple."""
        return (self.json(v, currency),)

    def csv(self, v: Value, currency: str) -> tuple[Any, str]:
        """The CSV ``count`` and ``amount`` cells."""
        return ("" if v.n is None else v.n), ""

    def words(self, v: Value, report: PeriodReport) -> dict[str, str]:
        """Text for people, by name: ``value`` (the figure as a whole), ``count``, ``amount``, ``s``
        (plural ending of ``count``), ``full`` (" (5% full)"), ``at`` ("Mon 16 Nov 11:30"), ``time`` ("11:30")."""
        count = "—" if v.n is None else f"{v.n:,}"
        return {"value": count, "count": count, "amount": "", "s": "" if v.n == 1 else "s",
                "full": "", "at": "", "time": ""}


class Money(Kind):
    """``n`` payments (or IOUs, exits...) worth ``amount`` minor units."""

    name = "money"
    columns = ("count", "amount")

    def json(self, v: Value, currency: str) -> Any:
        if v.n is None:  # nothing yet (an hour that has not come)
            return None
        return dict(zip(("count", "amount"), self.json_parts(v, currency), strict=True))

    def json_parts(self, v: Value, currency: str) -> tuple:
        return v.n, to_major_str(v.amount, currency)

    csv = json_parts  # the CSV cells are the JSON parts: count, "12.34"

    def words(self, v: Value, report: PeriodReport) -> dict[str, str]:
        amount = "—" if v.n is None else format_money(v.amount, report.currency)  # None: nothing yet
        return Kind.words(self, v, report) | {"value": amount, "amount": amount}


class Minutes(Kind):
    """A duration in whole minutes (None: nothing to measure); people read ``7 h 44 min``."""

    name = "minutes"
    columns = ("value",)

    def words(self, v: Value, report: PeriodReport) -> dict[str, str]:
        words = Kind.words(self, v, report)
        if v.n is not None:
            hours, minutes = divmod(int(v.n), 60)
            words["value"] = f"{hours} h {minutes:02d} min"
        return words


class Occupancy(Kind):
    """Vehicles inside (a mean may be fractional; None: not yet), against the facility's capacity; maybe timed."""

    name = "occupancy"
    columns = ("count", "time")

    def json(self, v: Value, currency: str) -> Any:
        return None if v.n is None else round(v.n, 1)

    def json_parts(self, v: Value, currency: str) -> tuple:
        return self.json(v, currency), v.at.isoformat() if v.at else None

    def csv(self, v: Value, currency: str) -> tuple[Any, str]:
        return ("" if v.n is None else round(v.n)), ""

    def words(self, v: Value, report: PeriodReport) -> dict[str, str]:
        words = Kind.words(self, v, report)
        if v.n is not None:
            words["value"] = words["count"] = vehicles(v.n)
            if report.capacity:
                words["full"] = f" ({v.n / report.capacity:.0%} full)"
        if v.at is not None:
            words["at"], words["time"] = f"{v.at:%a %d %b %H:%M}", f"{v.at:%H:%M}"
        return words


COUNT, MONEY, MINUTES, OCCUPANCY = Kind(), Money(), Minutes(), Occupancy()


# ---------------------------------------------------------------- section specs
@dataclass(frozen=True, slots=True)
class Figure:
    """One named figure: CSV key ``key``, a ``kind``, read by ``get`` (from the report; in a
    :class:`DayTable`, from one :class:`~attendant.core.reports.DayFigures`).

    ``json``: its JSON key (the kind's JSON value), or a tuple of keys its
    parts spread over (money: count, amount; a timed occupancy: vehicles, time).
    ``say``: how the screen says it, a template over :meth:`Kind.words`
    (``"{value} in"``). ``title``: its column heading(s) in a day table, one
    per part shown (money: count and amount). ``warn``: a non-zero value is
    drawn as a warning on the screen.
    """

    key: str
    kind: Kind
    get: Callable[[Any], Value]
    json: str | tuple[str, ...]
    say: str = "{value}"
    title: str | tuple[str, ...] = ""
    warn: bool = False

    @property
    def titles(self) -> tuple[str, ...]:
        """The column headings in a day table."""
        return (self.title,) if isinstance(self.title, str) else self.title

    def json_items(self, source: Any, currency: str) -> dict[str, Any]:
        """``{JSON key: value}`` of this figure read from ``source`` (one key, or its parts spread over several)."""
        value = self.get(source)
        if isinstance(self.json, str):
            return {self.json: self.kind.json(value, currency)}
        return dict(zip(self.json, self.kind.json_parts(value, currency), strict=True))


@dataclass(frozen=True, slots=True)
class Figures:
    """Named figures of the whole period under CSV section ``key``; ``title`` heads their line on the screen."""

    key: str
    title: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One ``kind`` figure per key (``get`` yields ``(key, Value)`` in order), kept in JSON as ``{key: value}``
    under ``json``. ``share_of``: the total each row is a share of, shown on the screen as a percentage."""

    key: str
    title: str
    kind: Kind
    get: Callable[[PeriodReport], Iterable[tuple[str, Value]]]
    json: str
    share_of: Callable[[PeriodReport], int] | None = None
    headings: tuple[str, ...] = ("", "Count", "Amount")  # people's column names: key, count, amount (or share)


@dataclass(frozen=True, slots=True)
class DayTable:
    """The same ``figures`` for each day ``rows`` yields as ``(date, day)``; JSON keeps a list of
    ``{"date": ..., <figures>}`` under ``json``. CSV, the table and the screen leave it out when
    ``shown`` is false (a daily report's one day is its totals); JSON always has it."""

    key: str
    title: str
    rows: Callable[[PeriodReport], Iterable[tuple[date, Any]]]
    figures: tuple[Figure, ...]
    json: str
    shown: Callable[[PeriodReport], bool] = lambda report: True

    def headings(self) -> list[str]:
        """Column headings for people: ``Day``, then each figure's titles."""
        return ["Day"] + [title for figure in self.figures for title in figure.titles]

    def text_rows(self, report: PeriodReport) -> Iterator[list[str]]:
        """For each day, the cells people read under :meth:`headings`: ``Mon 16 Nov``, then each figure's words."""
        for day, row in self.rows(report):
            cells = [f"{day:%a %d %b}"]
            for figure in self.figures:
                words = figure.kind.words(figure.get(row), report)
                cells += [words[name] for name in figure.kind.columns[:len(figure.titles)]]
            yield cells


@dataclass(frozen=True, slots=True)
class Series:
    """One ``kind`` value per key (``get`` yields ``(key, Value)``, None for not yet), drawn as bars;
    JSON keeps the list of values under ``json``; ``headings``: the key's and the value's column names."""

    key: str
    title: str
    kind: Kind
    get: Callable[[PeriodReport], Iterable[tuple[str, Value]]]
    json: str
    headings: tuple[str, str] = ("Key", "Value")

    def measure(self, value: Value) -> float | None:
        """What a bar draws: the amount for money (minor units), else ``n``; None: not yet."""
        if value.n is None:
            return None
        return (value.amount or 0) if self.kind is MONEY else value.n

    def full(self, report: PeriodReport, values: Iterable[Value]) -> float:
        """What a full bar stands for: the facility's capacity for occupancy, else the largest value (1 if none)."""
        if self.kind is OCCUPANCY and report.capacity:
            return report.capacity
        return max((self.measure(v) or 0 for v in values), default=0) or 1


Section = Figures | Breakdown | DayTable | Series


def _pairs(name: str) -> Callable[[PeriodReport], Iterator[tuple[str, Value]]]:
    """Rows of a ``{key: (count, amount)}`` attribute of the report."""
    return lambda r: ((key, Value(count, amount)) for key, (count, amount) in getattr(r, name).items())


def _counts(get: Callable[[PeriodReport], Iterable[tuple[str, int]]]):
    """Rows of ``(key, count)`` pairs."""
    return lambda r: ((key, Value(count)) for key, count in get(r))


def _peak(r: PeriodReport) -> Value:
    """The period's highest occupancy and when; the count at the start when no day has begun."""
    peak = r.peak
    return Value(peak.peak_occupancy, at=peak.peak_at) if peak else Value(r.occupancy_at_start)


def _revenue_hours(r: PeriodReport) -> Iterator[tuple[str, Value]]:
    """``("HH:00", Value(payments, amount))`` for the 24 facility-local hours: what was taken in that hour of
    the day over the period (issue 12 item 9); None: the hour has not come yet."""
    for hour, (count, amount) in enumerate(r.revenue_by_hour):
        yield f"{hour:02d}:00", Value(count, amount) if r.hour_seen(hour) or count else Value(None, 0)


def _hours(r: PeriodReport) -> Iterator[tuple[str, Value]]:
    """``("HH:00", mean vehicles at the hour's start)`` for the 24 facility-local hours; None: not come yet."""
    for hour, mean in enumerate(r.occupancy_by_hour):
        yield f"{hour:02d}:00", Value(mean if r.hour_seen(hour) else None)


DAY_FIGURES = (
    Figure("entries", COUNT, lambda d: Value(d.entries), json="entries", title="In"),
    Figure("exits", COUNT, lambda d: Value(d.exits), json="exits", title="Out"),
    Figure("revenue", MONEY, lambda d: Value(d.payments, d.revenue), json=("payments", "revenue"),
           title=("Payments", "Revenue")),
    Figure("peak_occupancy", OCCUPANCY, lambda d: Value(d.peak_occupancy, at=d.peak_at),
           json=("peak_occupancy", "peak_at"), title=("Peak", "at")),
)

SECTIONS: tuple[Section, ...] = (
    Figures("total", "Revenue", (
        Figure("revenue", MONEY, lambda r: Value(r.payments, r.revenue), json=("payments", "revenue"),
               say="{amount}  from {count} payment{s}"),
    )),
    Figures("traffic", "Traffic", (
        Figure("entries", COUNT, lambda r: Value(r.entries), json="entries", say="{value} in"),
        Figure("exits", COUNT, lambda r: Value(r.exits), json="exits", say="{value} out"),
    )),
    Figures("occupancy", "Inside", (
        Figure("at_start", OCCUPANCY, lambda r: Value(r.occupancy_at_start), json="occupancy_at_start",
               say="{value} at the start"),
        Figure("open_sessions", OCCUPANCY, lambda r: Value(r.open_sessions), json="open_sessions", say="{value} now"),
        Figure("capacity", COUNT, lambda r: Value(r.capacity), json="capacity", say="{value} bays"),
    )),
    Figures("stay", "Stay", (
        Figure("average_minutes", MINUTES, lambda r: Value(r.average_stay_minutes), json="average_stay_minutes",
               say="average {value}"),
    )),
    Figures("occupancy", "Peak", (
        Figure("peak", OCCUPANCY, _peak, json=("peak_occupancy", "peak_at"), say="{value} vehicles{full} {at}"),
    )),
    Breakdown("method", "By payment method", MONEY, _pairs("by_method"), json="by_method",
              headings=("Method", "Payments", "Amount")),
    Breakdown("vehicle_class", "By vehicle class", MONEY, _pairs("by_vehicle_class"), json="by_vehicle_class",
              headings=("Class", "Exits", "Paid")),
    Breakdown("lane", "By exit lane", MONEY, _pairs("by_lane"), json="by_lane", headings=("Lane", "Exits", "Paid")),
    Breakdown("shift", "By shift", MONEY, _pairs("by_shift"), json="by_shift",
              headings=("Shift", "Payments", "Amount")),
    Breakdown("stay", "Length of stay (exits)", COUNT, _counts(lambda r: r.stay_bands), json="stays",
              share_of=lambda r: r.exits, headings=("Stay", "Exits", "Share")),
    Breakdown("vend", "Gate openings by source", COUNT, _counts(lambda r: r.vends_by_source.items()),
              json="vends_by_source", headings=("Source", "Openings", "")),
    Breakdown("vend_reason", "Gate openings by source and reason", COUNT,
              _counts(lambda r: r.vends_by_reason.items()), json="vends_by_reason",
              headings=("Source · reason", "Openings", "")),
    Figures("exception", "IOUs", (
        Figure("iou", MONEY, lambda r: Value(*r.ious), json="ious", say="{count} let go unpaid, {amount} owed",
               warn=True),
    )),
    DayTable("day", "By day", lambda r: ((d.day, d) for d in r.days), DAY_FIGURES, json="days",
             shown=lambda r: r.period != "daily"),
    Series("hour", "Occupancy by hour (mean at the hour's start)", OCCUPANCY, _hours, json="occupancy_by_hour",
           headings=("Hour", "Vehicles")),
    Series("revenue_hour", "Revenue by hour (taken in that hour, period total)", MONEY, _revenue_hours,
           json="revenue_by_hour", headings=("Hour", "Revenue")),
)


# ---------------------------------------------------------------- renderers
def _put(target: dict, figures: Iterable[Figure], source: Any, currency: str) -> dict:
    """Write each of ``figures``, read from ``source``, into ``target``; returns ``target``."""
    for figure in figures:
        target.update(figure.json_items(source, currency))
    return target


def json_dict(report: PeriodReport) -> dict:
    """The JSON shape: amounts as decimal strings in major units, dates ISO, times facility-local ISO.

    Identity first (``facility``, ``period``, ``date``, ``from``, ``to``
    (the last day, inclusive), ``currency``), then every figure of
    :data:`SECTIONS`: named figures at the top level, a breakdown as
    ``{key: value}`` (money: ``{"count": n, "amount": "12.34"}``), a day
    table as a list of ``{"date": ..., ...}``, a series as a list of values
    (null: not yet). Top-level keys in :data:`JSON_KEY_ORDER`.
    """
    cur = report.currency
    out: dict[str, Any] = {
        "facility": report.facility,
        "period": report.period,
        "date": report.start.isoformat(),
        "from": report.start.isoformat(),
        "to": date.fromordinal(report.end.toordinal() - 1).isoformat(),
        "currency": cur,
    }
    for section in SECTIONS:
        match section:
            case Figures(figures=figures):
                _put(out, figures, report, cur)
            case Breakdown(kind=kind):
                out[section.json] = {key: kind.json(value, cur) for key, value in section.get(report)}
            case Series(kind=kind):
                out[section.json] = [kind.json(value, cur) for _key, value in section.get(report)]
            case DayTable(figures=figures):
                out[section.json] = [_put({"date": day.isoformat()}, figures, row, cur)
                                     for day, row in section.rows(report)]
    rank = {key: i for i, key in enumerate(JSON_KEY_ORDER)}
    return dict(sorted(out.items(), key=lambda item: rank.get(item[0], len(rank))))


def _cells(section: Section, report: PeriodReport) -> Iterator[tuple[date | None, str, Kind, Value]]:
    """``(day, key, kind, value)`` of each figure a section shows in a CSV file or a table.

    ``day`` is the day-table row's day, a timed figure's day, or None (the
    period); nothing for a day table that is not ``shown``.
    """
    match section:
        case Figures(figures=figures):
            for figure in figures:
                value = figure.get(report)
                yield (value.at.date() if value.at else None), figure.key, figure.kind, value
        case Breakdown(kind=kind) | Series(kind=kind):
            for key, value in section.get(report):
                yield None, key, kind, value
        case DayTable(figures=figures) if section.shown(report):
            for day, row in section.rows(report):
                for figure in figures:
                    yield day, figure.key, figure.kind, figure.get(row)


def csv_rows(report: PeriodReport) -> Iterator[tuple]:
    """CSV rows ``(date, facility, section, key, count, amount, currency)`` (see :data:`CSV_HEADER`).

    ``count`` is the count, whole minutes or vehicles (a mean rounded);
    ``amount`` is major units for money, else empty. Period figures carry the
    period's first day in the date column, a timed figure (the peak) its own
    day, day-table rows their day. Values with nothing to measure yet (an
    hour that has not come, no exits to average) are left out.
    """
    cur = report.currency
    for section in SECTIONS:
        for day, key, kind, value in _cells(section, report):
            if value.n is not None:
                yield ((day or report.start).isoformat(), report.facility, section.key, key, *kind.csv(value, cur), cur)


def bar(share: float, width: int) -> int:
    """Cells of a ``width``-cell bar filled to ``share`` (0..1; more is drawn full)."""
    return round(min(max(share, 0.0), 1.0) * width)


def rich_table(report: PeriodReport, bar_width: int = 30):
    """A Rich renderable (a ``Group``): the period's figures and breakdowns as one table
    (section, key, count, amount), then each day table and each series (with bars
    ``bar_width`` cells long for a full car park)."""
    from rich.console import Group
    from rich.table import Table

    main = Table(title=report.title)
    for heading, justify in (("Section", "left"), ("Key", "left"), ("Count", "right"), ("Amount", "right")):
        main.add_column(heading, justify=justify)
    parts: list = [main]
    for section in SECTIONS:
        match section:
            case Figures() | Breakdown():
                for _day, key, kind, value in _cells(section, report):
                    words = kind.words(value, report)
                    label = " ".join(filter(None, (key.replace("_", " ") if isinstance(section, Figures) else key,
                                                   words["at"])))
                    main.add_row(section.key, label, words["count"], words["amount"])
            case DayTable() if section.shown(report):
                table = Table(title=section.title)
                for n, heading in enumerate(section.headings()):
                    table.add_column(heading, justify="right" if n else "left")
                for cells in section.text_rows(report):
                    table.add_row(*cells)
                parts.append(table)
            case Series(kind=kind):
                table = Table(title=section.title)
                money = kind is MONEY  # the third column: payments for money (as on the screen), else the share
                for n, heading in enumerate((*section.headings, "Payments" if money else "Full", "")):
                    table.add_column(heading, justify="right" if n else "left")
                rows = list(section.get(report))
                full = section.full(report, (value for _key, value in rows))
                for key, value in rows:
                    measure = section.measure(value)
                    share = None if measure is None else measure / full
                    words = kind.words(value, report)
                    third = words["count"] if money and share is not None else "" if share is None else f"{share:.0%}"
                    table.add_row(key, words["amount"] or words["count"], third,
                                  "" if share is None else "█" * bar(share, bar_width))
                parts.append(table)
    return Group(*parts)


def render_report(report: PeriodReport, fmt: str, *, width: int | None = None, color: bool = False) -> str:
    """The text of ``report`` in ``fmt`` (one of :data:`FORMATS`), ending in a newline.

    ``"json"``: :func:`json_dict` indented by 2, non-ASCII kept; ``"csv"``:
    :data:`CSV_HEADER` then :func:`csv_rows`, ``\\n`` line ends; ``"table"``:
    :func:`rich_table` drawn by a Rich console ``width`` cells wide (None: the
    terminal's width, 80 when there is none), with ANSI colours only when
    ``color``. Raises ValueError for another format.
    """
    if fmt == "json":
        return json.dumps(json_dict(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_rows(report))
        return out.getvalue()
    if fmt == "table":
        from rich.console import Console

        console = Console(file=io.StringIO(), width=width or shutil.get_terminal_size((80, 24)).columns,
                          force_terminal=color, color_system="auto" if color else None)
        console.print(rich_table(report))
        return console.file.getvalue()
    raise ValueError(f"unknown report format {fmt!r} ({', '.join(FORMATS)})")
