"""A report is described once (``attendant.core.report_layout.SECTIONS``) and every output follows it.

Stays go through the real services (SQLite and PostgreSQL, the ``db_url``
fixture). :func:`assert_in_every_output` walks the description figure by
figure and finds each one in the JSON, the CSV, the Rich table and (when
given) the console's reports screen; the console half runs in
``tests/test_tui_reports.py``. The JSON is compared with the shape scripts
have read since the report existed, kept below verbatim as :func:`legacy_json`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest

from attendant.core import report_layout
from attendant.core.money import to_major_str
from attendant.core.report_layout import (
    COUNT,
    CSV_HEADER,
    JSON_KEY_ORDER,
    MONEY,
    OCCUPANCY,
    Breakdown,
    DayTable,
    Figure,
    Figures,
    Series,
    Value,
    render_report,
)
from attendant.core.reports import PeriodReport, period_report
from tests.test_reports import LATER, alice_on_shift, local, stay


def legacy_json(r: PeriodReport) -> dict:
    """``PeriodReport.to_json_dict`` as it was before the description (commit 6b5aacc), the shape scripts read."""
    money = lambda v: to_major_str(v, r.currency)  # noqa: E731
    group = lambda d: {k: {"count": c, "amount": money(a)} for k, (c, a) in d.items()}  # noqa: E731
    peak = r.peak
    return {
        "facility": r.facility, "period": r.period, "date": r.start.isoformat(), "from": r.start.isoformat(),
        "to": (r.end - timedelta(days=1)).isoformat(), "currency": r.currency, "capacity": r.capacity,
        "entries": r.entries, "exits": r.exits, "payments": r.payments, "revenue": money(r.revenue),
        "by_method": group(r.by_method), "by_vehicle_class": group(r.by_vehicle_class), "by_lane": group(r.by_lane),
        "average_stay_minutes": r.average_stay_minutes, "open_sessions": r.open_sessions,
        "occupancy_at_start": r.occupancy_at_start, "by_shift": group(r.by_shift),
        "stays": {label: count for label, count in r.stay_bands}, "vends_by_source": dict(r.vends_by_source),
        "vends_by_reason": dict(r.vends_by_reason),  # issue 10: every vend by source and reason
        "ious": {"count": r.ious[0], "amount": money(r.ious[1])},
        "peak_occupancy": peak.peak_occupancy if peak else r.occupancy_at_start,
        "peak_at": peak.peak_at.isoformat() if peak and peak.peak_at else None,
        "occupancy_by_hour": [round(v, 1) if r.hour_seen(h) else None for h, v in enumerate(r.occupancy_by_hour)],
        "days": [{"date": d.day.isoformat(), "entries": d.entries, "exits": d.exits, "payments": d.payments,
                  "revenue": money(d.revenue), "peak_occupancy": d.peak_occupancy,
                  "peak_at": d.peak_at.isoformat() if d.peak_at else None} for d in r.days],
        # issue 12 item 9, after the old keys: what was taken in each hour of the day (null: not come yet)
        "revenue_by_hour": [{"count": c, "amount": money(a)} if r.hour_seen(h) or c else None
                            for h, (c, a) in enumerate(r.revenue_by_hour)],
    }


def busy_week(service) -> None:
    """Monday 19 .. Sunday 25 Oct 2026: a car in since Sunday night, cash and card stays, an IOU, a shift's takings."""
    stay(service, "WKA 001", local(2026, 10, 18, 22))  # inside at the start of the week, and still
    stay(service, "WKC 003", local(2026, 10, 19, 8), local(2026, 10, 19, 10, 30), "cash")
    stay(service, "WKD 004", local(2026, 10, 20, 9), local(2026, 10, 21, 9, 30), "card")
    service.clock.now = local(2026, 10, 22, 10)
    owed = service.enter("IOU 002", "car", actor="test", at=service.clock.now, vend=True)
    service.clock.now = local(2026, 10, 22, 12, 30)
    service.let_go(owed.code, actor="test", reason="card declined", at=service.clock.now, vend=True)
    service.clock.now = local(2026, 10, 23, 7)
    alice, _shift = alice_on_shift(service, service.clock.now)
    service.clock.now = local(2026, 10, 23, 8)
    code = service.enter("SH1 FTS", "car", actor=alice, at=service.clock.now, vend=True).code
    service.clock.now = local(2026, 10, 23, 9, 30)
    service.exit(code, method="cash", actor=alice, tendered=5000, at=service.clock.now, vend=True)
    service.clock.now = LATER


# ---------------------------------------------------------------- the walk
def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Rich tables in ``text``, as lists of stripped cells."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in text.splitlines()
            if line.strip().startswith("│")]


def said(figure: Figure, value: Value, report: PeriodReport) -> str:
    """What the screen says for a named figure: its template filled with its kind's words."""
    return figure.say.format_map(figure.kind.words(value, report))


def assert_in_every_output(report: PeriodReport, screen: dict[str, str] | None = None) -> int:
    """Find every figure of ``report_layout.SECTIONS`` in the JSON, the CSV, the table and ``screen``
    (the texts of ``#report-totals``, ``#report-days``, ``#report-hours``). Returns how many were checked."""
    data = json.loads(render_report(report, "json"))
    lines = list(csv.reader(io.StringIO(render_report(report, "csv"))))
    assert tuple(lines[0]) == CSV_HEADER
    csv_rows = lines[1:]
    table = table_rows(render_report(report, "table", width=200))
    totals, days, hours = ((screen or {}).get(k, "").splitlines() for k in ("totals", "days", "hours"))
    start, cur, checked = report.start.isoformat(), report.currency, 0

    def csv_row(day: str, section: str, key: str, kind, value: Value) -> None:
        row = [day, report.facility, section, key, *map(str, kind.csv(value, cur)), cur]
        assert (row in csv_rows) == (value.n is not None), (row, "in CSV")

    for section in report_layout.SECTIONS:
        match section:
            case Figures():
                line = next((ln for ln in totals if ln.startswith(section.title + " ")), None)
                for figure in section.figures:
                    value = figure.get(report)
                    one = figure.json_items(report, cur)
                    assert one and all(data[k] == v for k, v in one.items()), (figure.key, one, "in JSON")
                    csv_row(value.at.date().isoformat() if value.at else start, section.key, figure.key,
                            figure.kind, value)
                    words = figure.kind.words(value, report)
                    label = " ".join(filter(None, (figure.key.replace("_", " "), words["at"])))
                    assert [section.key, label, words["count"], words["amount"]] in table, (figure.key, "in table")
                    if screen is not None:
                        assert line is not None and said(figure, value, report) in line, (figure.key, line)
                    checked += 1
            case Breakdown(kind=kind):
                block = totals[totals.index(section.title) + 1:] if screen is not None else []
                for key, value in section.get(report):
                    assert data[section.json][key] == kind.json(value, cur), (section.key, key, "in JSON")
                    csv_row(start, section.key, key, kind, value)
                    words = kind.words(value, report)
                    assert [section.key, key, words["count"], words["amount"]] in table, (key, "in table")
                    if screen is not None:
                        line = next(ln for ln in block if ln.startswith(f"  {key} "))
                        shown = [words["count"], words["amount"]] if words["amount"] else [words["count"]]
                        assert line[len(key) + 2:].split()[:len(shown)] == shown, (line, shown)
                    checked += 1
            case DayTable(figures=figures):
                rows = list(section.rows(report))
                assert [d["date"] for d in data[section.json]] == [day.isoformat() for day, _row in rows]
                for (day, row), entry in zip(rows, data[section.json], strict=True):
                    cells = [f"{day:%a %d %b}"]
                    for figure in figures:
                        value = figure.get(row)
                        one = figure.json_items(row, cur)
                        assert one and all(entry[k] == v for k, v in one.items()), (day, figure.key, "in JSON")
                        if section.shown(report):
                            csv_row(day.isoformat(), section.key, figure.key, figure.kind, value)
                        words = figure.kind.words(value, report)
                        cells += [words[name] for name in figure.kind.columns[:len(figure.titles)]]
                        checked += 1
                    if section.shown(report):
                        assert cells in table, (cells, "in table")
                        if screen is not None:
                            assert " ".join(cells).split() in [ln.split() for ln in days], (cells, "on screen")
            case Series(kind=kind):
                values = list(section.get(report))
                assert data[section.json] == [kind.json(v, cur) for _k, v in values]
                titled = next((i + 1 for i, ln in enumerate(hours) if ln == section.title), 0)  # the box's first
                block = hours[titled:]  # series is titled by the box's border, the others by a line of their own
                for key, value in values:
                    csv_row(start, section.key, key, kind, value)
                    words = kind.words(value, report)
                    shown = words["amount"] or words["count"]  # money series show the amount
                    assert [key, shown] in [r[:2] for r in table], (key, "in table")
                    if screen is not None:
                        line = next(ln for ln in block if ln.startswith(key + " "))
                        expected = words["amount"] or report_layout.vehicles(value.n) if value.n is not None else ""
                        assert ("not yet" if value.n is None else expected) in line, (line, expected)
                    checked += 1
            case _:
                pytest.fail(f"a section kind the walk does not know: {section!r}")
    return checked


# ---------------------------------------------------------------- tests
def test_json_keeps_the_shape_scripts_read_to_the_letter(service):
    busy_week(service)
    for period, day in (("weekly", date(2026, 10, 22)), ("daily", date(2026, 10, 22)), ("daily", date(2026, 10, 23)),
                        ("monthly", date(2026, 10, 1)), ("monthly", date(2025, 1, 1))):
        report = period_report(service, period, day)
        expected = json.dumps(legacy_json(report), indent=2, ensure_ascii=False) + "\n"
        assert render_report(report, "json") == expected, (period, day)
        assert report.to_json_dict() == json.loads(expected)
    service.clock.now = local(2026, 10, 21, 12, 30)  # mid-week: hours and days still to come are null
    report = period_report(service, "weekly", date(2026, 10, 22))
    assert render_report(report, "json") == json.dumps(legacy_json(report), indent=2, ensure_ascii=False) + "\n"
    assert list(report.to_json_dict()) == list(JSON_KEY_ORDER)


def test_every_figure_of_the_description_is_in_json_csv_and_the_table(service):
    busy_week(service)
    week = period_report(service, "weekly", date(2026, 10, 22))
    assert week.ious[0] == 1 and week.by_shift and week.average_stay_minutes and week.peak.peak_occupancy == 2
    checked = assert_in_every_output(week)
    # every figure the old outputs had, and the ones the CSV and the table lacked
    assert checked >= 10 + 6 + 7 * 4 + 24
    rows = list(week.rows())
    assert ("2026-10-19", week.facility, "stay", "average_minutes", week.average_stay_minutes, "", "GBP") in rows
    assert ("2026-10-19", week.facility, "occupancy", "open_sessions", 1, "", "GBP") in rows
    assert ("2026-10-19", week.facility, "occupancy", "at_start", 1, "", "GBP") in rows
    peak = week.peak
    assert (peak.day.isoformat(), week.facility, "occupancy", "peak", 2, "", "GBP") in rows
    table = render_report(week, "table", width=120)
    assert "open sessions" in table and "at start" in table and f"peak {peak.peak_at:%a %d %b %H:%M}" in table
    day = period_report(service, "daily", date(2026, 10, 23))
    assert_in_every_output(day)
    assert not [r for r in day.rows() if r[2] == "day"] and "By day" not in render_report(day, "table", width=120)


def test_render_report_gives_what_the_cli_printed(service):
    busy_week(service)
    report = period_report(service, "weekly", date(2026, 10, 22))
    text = render_report(report, "csv")
    assert text.splitlines()[0] == "date,facility,section,key,count,amount,currency" and text.endswith("\n")
    assert "2026-10-19,TST,exception,iou,1,7.20,GBP" in text.splitlines()
    table = render_report(report, "table", width=100)
    assert "\x1b[" not in table and max(len(line) for line in table.splitlines()) <= 100
    assert "week 43" in table and "By day" in table and "Occupancy by hour" in table
    assert "\x1b[" in render_report(report, "table", width=100, color=True)
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render_report(report, "xml")


def extended_sections(monkeypatch) -> dict[str, object]:
    """Add one named figure, one breakdown, one day column and one series to the description; returns them."""
    added = {
        "figure": Figure("twice_entries", COUNT, lambda r: Value(r.entries * 2), json="twice_entries",
                         say="{value} twice"),
        "column": Figure("net", COUNT, lambda d: Value(d.entries - d.exits), json="net", title="Net"),
        "breakdown": Breakdown("lane_again", "By exit lane again", MONEY,
                               lambda r: ((k, Value(c, a)) for k, (c, a) in r.by_lane.items()), json="lanes_again"),
        "series": Series("peak_day", "Peaks by day", OCCUPANCY,
                         lambda r: ((f"{d.day:%d %b}", Value(d.peak_occupancy)) for d in r.days), json="peaks"),
    }
    sections = []
    for section in report_layout.SECTIONS:
        if isinstance(section, DayTable):
            section = DayTable(section.key, section.title, section.rows, section.figures + (added["column"],),
                               section.json, section.shown)
        sections.append(section)
    sections[1:1] = [Figures("test", "Twice", (added["figure"],)), added["breakdown"]]
    monkeypatch.setattr(report_layout, "SECTIONS", (*sections, added["series"]))
    return added


def test_a_new_figure_is_one_entry_and_shows_in_every_output(service, monkeypatch):
    busy_week(service)
    report = period_report(service, "weekly", date(2026, 10, 22))
    before = assert_in_every_output(report)
    extended_sections(monkeypatch)
    assert assert_in_every_output(report) == before + 1 + 7 + len(report.by_lane) + 7
    data = report.to_json_dict()
    assert list(data)[:len(JSON_KEY_ORDER)] == list(JSON_KEY_ORDER)  # scripts' keys first, in their order
    assert list(data)[len(JSON_KEY_ORDER):] == ["twice_entries", "lanes_again", "peaks"]
    assert data["twice_entries"] == 2 * report.entries and data["days"][0]["net"] == 0
    assert ("2026-10-19", "TST", "test", "twice_entries", 2 * report.entries, "", "GBP") in list(report.rows())
