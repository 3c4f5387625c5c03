"""Revenue, traffic and occupancy reports over facility-local days, weeks and months.

BRIEF.md feature 11 ("daily, weekly, monthly revenue and occupancy reports")
and its target: a report over 1,000,000 sessions in under a second
(``benchmarks/bench_reports.py`` measures it).

Periods are facility-local: a day runs from local midnight to local midnight
in the facility's zone (23 or 25 hours on DST days); a week is the ISO week,
Monday to Sunday; a month is the calendar month. Revenue counts completed
payments (and refunds, as negative rows) by the time they were taken; traffic
counts entries and exits by their times. Amounts are integer minor units.

How it stays fast: every figure is an aggregate computed by the database over
an index range (``ix_session_facility_entry_at``, ``ix_session_facility_exit_at``,
``ix_payment_facility_at``); per-day and per-hour figures come from counts
grouped into ten-minute UTC buckets (one-minute where the zone's offset is not
a multiple of ten minutes, see :func:`bucket_minutes`), which Python folds into
facility-local days and hours exactly. Occupancy is derived, not stored: the
vehicles inside at the period's start (entries before it minus exits before
it, two index counts) plus the running sum of entries minus exits bucket by
bucket. A day's peak is the highest count at the end of a bucket (or at
midnight), labelled with the bucket's start: a surge and fall inside the same
ten minutes is not seen.

This module computes the figures; :mod:`attendant.core.report_layout`
describes them once and renders them (JSON, CSV, the CLI's table;
:func:`render_report` is the CLI's entry point), as does the console's
reports screen from the same description.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, select

from attendant.core import report_layout
from attendant.core.report_layout import render_report  # noqa: F401 - the CLI's entry point
from attendant.core.vocab import GateOutcome
from db.models import Iou, ParkingSession, Payment, Shift, User, Vend

PS, PAY, VEND, IOU, SH, U = (t.__table__ for t in (ParkingSession, Payment, Vend, Iou, Shift, User))
# stay bands for the durations table: (label, upper edge in seconds, inclusive; None: no edge)
STAY_BANDS = (("up to 1 h", 3600), ("1-2 h", 7200), ("2-4 h", 4 * 3600), ("4-8 h", 8 * 3600),
              ("8-24 h", 24 * 3600), ("over 24 h", None))
PERIODS = ("daily", "weekly", "monthly")


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One facility-local day inside a report: counts, revenue (minor units), peak occupancy."""

    day: date
    entries: int
    exits: int
    revenue: int
    payments: int
    peak_occupancy: int
    peak_at: datetime | None  # facility time of the peak (the day's midnight when it was at its start; None: not begun)


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """Revenue, traffic and occupancy of one facility over ``start`` .. ``end`` (facility-local dates, ``end`` exclusive).

    ``by_method``: method -> (payments, amount); ``by_vehicle_class`` and
    ``by_lane``: key -> (exits, amount paid by those sessions);
    ``occupancy_by_hour``: 24 values, the mean number of vehicles inside at
    the start of each facility-local hour over the period's days (hours
    that have not come yet are left out of the mean; 0 if none has);
    ``capacity`` is the facility's bay count, for percentages;
    ``revenue_by_hour``: 24 ``(payments, amount)`` pairs, what was taken in
    each facility-local hour of the day (refunds net out), summed over the
    period's days.
    """

    facility: str
    facility_name: str
    period: str  # daily, weekly, monthly
    start: date
    end: date
    currency: str
    capacity: int
    entries: int
    exits: int
    revenue: int
    payments: int
    by_method: dict[str, tuple[int, int]]
    by_vehicle_class: dict[str, tuple[int, int]]
    by_lane: dict[str, tuple[int, int]]
    average_stay_minutes: int | None
    open_sessions: int
    occupancy_at_start: int
    by_shift: dict[str, tuple[int, int]] = field(default_factory=dict)  # "#12 bob" -> (payments, amount)
    stay_bands: tuple[tuple[str, int], ...] = ()  # (label, exits whose stay falls in it), STAY_BANDS order
    vends_by_source: dict[str, int] = field(default_factory=dict)  # vend source -> gate openings
    # "source · reason" -> gate openings (vend_reason_key: a reason's code, e.g. "attendant · GATE_FAULT")
    vends_by_reason: dict[str, int] = field(default_factory=dict)
    ious: tuple[int, int] = (0, 0)  # IOUs recorded in the period: (count, amount)
    days: tuple[DayFigures, ...] = field(default_factory=tuple)
    occupancy_by_hour: tuple[float, ...] = field(default_factory=tuple)
    hour_samples: tuple[int, ...] = field(default_factory=tuple)  # hour starts seen so far, per hour of day
    # (payments, amount in minor units) taken in each facility-local hour of day, summed over the period's days
    revenue_by_hour: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def day(self) -> date:
        """The first day (the day, for a daily report)."""
        return self.start

    def hour_seen(self, hour: int) -> bool:
        """Whether facility-local ``hour`` (0-23) has started at least once in the period so far."""
        return not self.hour_samples or self.hour_samples[hour] > 0

    @property
    def peak(self) -> DayFigures | None:
        """The day with the highest peak occupancy (first such day), or None for an empty period."""
        return max(self.days, key=lambda d: d.peak_occupancy, default=None)

    @property
    def title(self) -> str:
        last = self.end - timedelta(days=1)
        if self.period == "daily":
            when = f"{self.start:%a %d %b %Y}"
        elif self.period == "monthly":
            when = f"{self.start:%B %Y}"
        else:
            when = f"week {self.start.isocalendar().week}, {self.start:%a %d %b} – {last:%a %d %b %Y}"
        return f"{self.facility_name} — {when}"

    # the renderers of attendant.core.report_layout, kept as methods for the callers that use them
    def to_json_dict(self) -> dict:
        """The JSON shape (see ``report_layout.json_dict``): amounts in major units, dates and times ISO."""
        return report_layout.json_dict(self)

    def rows(self) -> Iterator[tuple]:
        """CSV rows ``(date, facility, section, key, count, amount, currency)`` (see ``report_layout.csv_rows``)."""
        return report_layout.csv_rows(self)

    def to_rich(self):
        """A Rich renderable: figures, the days (weekly/monthly), occupancy by hour (``report_layout.rich_table``)."""
        return report_layout.rich_table(self)


DailyReport = PeriodReport  # a daily report is a one-day period report


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """Facility-local ``(first day, day after the last)`` of the ``period`` containing ``day``.

    ``period`` is ``daily``, ``weekly`` (ISO week, Monday first) or
    ``monthly`` (calendar month). Raises ValueError for another period and
    :class:`~attendant.core.errors.InputError` for a day outside the years
    2000..2099 (:data:`attendant.core.time_bounds.EARLIEST`/``LATEST``).
    """
    from attendant.core.time_bounds import EARLIEST, LATEST

    if not EARLIEST.date() <= day < LATEST.date() - timedelta(days=31):
        from attendant.core.errors import InputError

        raise InputError(f"no report for {day.isoformat()}: dates run from {EARLIEST.date().isoformat()} to "
                         f"{(LATEST.date() - timedelta(days=32)).isoformat()}")
    if period == "daily":
        return day, day + timedelta(days=1)
    if period == "weekly":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=7)
    if period == "monthly":
        first = day.replace(day=1)
        return first, first + timedelta(days=calendar.monthrange(day.year, day.month)[1])
    raise ValueError(f"unknown report period {period!r} ({', '.join(PERIODS)})")


def daily_report(service, day: date | None = None) -> PeriodReport:
    """The report for facility-local ``day`` (default: today) of ``service``'s facility."""
    return period_report(service, "daily", day)


def period_report(service, period: str, day: date | None = None) -> PeriodReport:
    """The ``period`` report (daily, weekly, monthly) containing facility-local ``day`` (default today).

    Read-only: one read transaction. Raises ValueError for an unknown period.
    """
    day = day or service.local(service.clock()).date()
    first, after = period_bounds(period, day)
    return range_report(service, first, after, period)


def range_report(service, first: date, after: date, period: str = "custom") -> PeriodReport:
    """Revenue, traffic and occupancy over facility-local days ``first`` .. ``after`` (exclusive)."""
    if after <= first:
        raise ValueError(f"empty report range {first} .. {after}")
    facility = service.facility
    fid = facility.id
    start, _ = service.day_bounds(first)
    end, _ = service.day_bounds(after)
    with service.engine.connect().execution_options(readonly=True) as conn:
        dialect = conn.dialect.name
        stayed = PS.c.status != "voided"  # a voided ticket (issued in error) is no stay: neither in nor out
        entered = and_(PS.c.facility_id == fid, PS.c.entry_at >= start, PS.c.entry_at < end, stayed)
        exited = and_(PS.c.facility_id == fid, PS.c.exit_at >= start, PS.c.exit_at < end, stayed)
        paid = and_(  # refunds are negative rows; refunded originals still count (they net out)
            PAY.c.facility_id == fid,
            PAY.c.status.in_(("completed", "refunded")),
            PAY.c.created_at >= start,
            PAY.c.created_at < end,
        )
        before_in = conn.execute(
            select(func.count()).where(PS.c.facility_id == fid, PS.c.entry_at < start, stayed)
        ).scalar_one()
        before_out = conn.execute(
            select(func.count()).where(PS.c.facility_id == fid, PS.c.exit_at < start, stayed)
        ).scalar_one()
        # one pass over the exits: class x lane x length-of-stay band, with the summed stay for the average
        stay = _stay_seconds(dialect)
        band = _stay_band(stay)
        by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_lane: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        band_counts = [0] * len(STAY_BANDS)
        stay_total, exits = 0.0, 0
        for vclass, lane, band_index, count, amount, seconds in conn.execute(
            select(PS.c.vehicle_class, PS.c.exit_lane, band, func.count(), func.sum(PS.c.amount_paid),
                   func.sum(stay))
            .where(exited)
            .group_by(PS.c.vehicle_class, PS.c.exit_lane, band)
        ):
            for bucket in (by_class[vclass], by_lane[lane or "-"]):
                bucket[0] += count
                bucket[1] += amount or 0
            band_counts[int(band_index)] += count
            exits += count
            stay_total += float(seconds or 0)
        bands = tuple((label, band_counts[i]) for i, (label, _upper) in enumerate(STAY_BANDS))
        width = bucket_minutes(service.tz, start, end)
        entries_by_bucket = _buckets(conn, dialect, PS.c.entry_at, entered, width, func.count())
        exits_by_bucket = _buckets(conn, dialect, PS.c.exit_at, exited, width, func.count())
        # one pass over the payments: time bucket x method x shift
        pay_bucket = _bucket_expr(dialect, PAY.c.created_at, width)
        by_method_l: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_shift_l: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        pay_by_bucket: dict[datetime, tuple[int, int]] = {}
        for key, method, shift_id, count, amount in conn.execute(
            select(pay_bucket, PAY.c.method, PAY.c.shift_id, func.count(), func.sum(PAY.c.amount))
            .where(paid)
            .group_by(pay_bucket, PAY.c.method, PAY.c.shift_id)
        ):
            amount = int(amount or 0)
            when = _bucket_key(key, width)
            c0, a0 = pay_by_bucket.get(when, (0, 0))
            pay_by_bucket[when] = (c0 + count, a0 + amount)
            for totals in (by_method_l[method],) + ((by_shift_l[shift_id],) if shift_id is not None else ()):
                totals[0] += count
                totals[1] += amount
        by_method = {m: (c, a) for m, (c, a) in by_method_l.items()}
        names = dict(conn.execute(
            select(SH.c.id, U.c.username).join(U, U.c.id == SH.c.user_id).where(SH.c.id.in_(list(by_shift_l)))
        ).all()) if by_shift_l else {}
        by_shift = {f"#{sid} {names.get(sid, '?')}": tuple(by_shift_l[sid]) for sid in sorted(by_shift_l)}
        vends = dict(conn.execute(
            select(VEND.c.source, func.count())
            .where(VEND.c.facility_id == fid, VEND.c.at >= start, VEND.c.at < end,
                   VEND.c.outcome == GateOutcome.OPENED.value)  # real openings only (0005)
            .group_by(VEND.c.source)
        ).all())
        vend_reasons: dict[str, int] = {}
        for source, reason, n in conn.execute(
            select(VEND.c.source, VEND.c.reason, func.count())
            .where(VEND.c.facility_id == fid, VEND.c.at >= start, VEND.c.at < end,
                   VEND.c.outcome == GateOutcome.OPENED.value)
            .group_by(VEND.c.source, VEND.c.reason)
        ):
            key = vend_reason_key(source, reason)
            vend_reasons[key] = vend_reasons.get(key, 0) + n
        iou_count, iou_amount = conn.execute(
            select(func.count(), func.coalesce(func.sum(IOU.c.amount), 0))
            .where(IOU.c.facility_id == fid, IOU.c.created_at >= start, IOU.c.created_at < end)
        ).one()
        open_sessions = conn.execute(
            select(func.count()).where(PS.c.facility_id == fid, PS.c.status == "open")
        ).scalar_one()
    occupancy_at_start = before_in - before_out
    days, by_hour, samples, revenue_hours = _fold(service, first, after, start, min(end, service.clock()),
                                                  occupancy_at_start, entries_by_bucket, exits_by_bucket,
                                                  pay_by_bucket)
    return PeriodReport(
        facility=facility.code,
        facility_name=facility.name,
        period=period,
        start=first,
        end=after,
        currency=facility.currency,
        capacity=facility.capacity,
        entries=sum(v[0] for v in entries_by_bucket.values()),
        exits=exits,
        revenue=sum(a for _c, a in by_method.values()),
        payments=sum(c for c, _a in by_method.values()),
        by_method=dict(sorted(by_method.items())),
        by_vehicle_class={k: tuple(v) for k, v in sorted(by_class.items())},
        by_lane={k: tuple(v) for k, v in sorted(by_lane.items())},
        average_stay_minutes=int(stay_total) // exits // 60 if exits else None,
        open_sessions=open_sessions,
        occupancy_at_start=occupancy_at_start,
        by_shift=by_shift,
        stay_bands=bands,
        vends_by_source=dict(sorted(vends.items())),
        vends_by_reason=dict(sorted(vend_reasons.items())),
        ious=(iou_count, int(iou_amount)),
        days=days,
        occupancy_by_hour=by_hour,
        hour_samples=samples,
        revenue_by_hour=revenue_hours,
    )


def combine_reports(reports: list[PeriodReport]) -> PeriodReport:
    """One report over several facilities' reports of the same period (``--facility all``).

    Counts and amounts add up; lanes and shifts are named ``CODE/lane``;
    the average stay is weighted by exits; occupancy by hour adds the
    facilities' means; days are matched by facility-local date. The
    facility is ``ALL``. Raises :class:`~attendant.core.errors.InputError`
    when the facilities keep money in different currencies (a total would
    mean nothing) or the reports are of different periods.
    """
    from attendant.core.errors import InputError

    if not reports:
        raise InputError("no facility to report on")
    if len(reports) == 1:
        return reports[0]
    first = reports[0]
    currencies = sorted({r.currency for r in reports})
    if len(currencies) > 1:
        raise InputError(f"the facilities keep money in {', '.join(currencies)}: report them one by one "
                         "(--facility CODE)")
    if {(r.period, r.start, r.end) for r in reports} != {(first.period, first.start, first.end)}:
        raise InputError("the reports cover different periods")

    def add(dicts, prefix: bool = False) -> dict:
        out: dict = {}
        for report, d in dicts:
            for key, value in d.items():
                key = f"{report.facility}/{key}" if prefix else key
                if isinstance(value, tuple):
                    old = out.get(key, (0,) * len(value))
                    out[key] = tuple(a + b for a, b in zip(old, value))
                else:
                    out[key] = out.get(key, 0) + value
        return dict(sorted(out.items()))

    days: dict[date, DayFigures] = {}
    for report in reports:
        for d in report.days:
            old = days.get(d.day)
            days[d.day] = d if old is None else DayFigures(
                d.day, old.entries + d.entries, old.exits + d.exits, old.revenue + d.revenue,
                old.payments + d.payments, old.peak_occupancy + d.peak_occupancy,  # a bound: peaks may differ in time
                old.peak_at if old.peak_occupancy >= d.peak_occupancy else d.peak_at)
    stayed = [(r.average_stay_minutes, r.exits) for r in reports if r.average_stay_minutes is not None]
    exits = sum(n for _m, n in stayed)
    hours = [r.occupancy_by_hour for r in reports if r.occupancy_by_hour]
    samples = [r.hour_samples for r in reports if r.hour_samples]
    revenue = [r.revenue_by_hour for r in reports if r.revenue_by_hour]
    bands: dict[str, int] = {}
    for report in reports:
        for label, n in report.stay_bands:
            bands[label] = bands.get(label, 0) + n
    return PeriodReport(
        facility="ALL",
        facility_name=f"All facilities ({len(reports)})",
        period=first.period,
        start=first.start,
        end=first.end,
        currency=currencies[0],
        capacity=sum(r.capacity for r in reports),
        entries=sum(r.entries for r in reports),
        exits=sum(r.exits for r in reports),
        revenue=sum(r.revenue for r in reports),
        payments=sum(r.payments for r in reports),
        by_method=add((r, r.by_method) for r in reports),
        by_vehicle_class=add((r, r.by_vehicle_class) for r in reports),
        by_lane=add(((r, r.by_lane) for r in reports), prefix=True),
        average_stay_minutes=sum(m * n for m, n in stayed) // exits if exits else None,
        open_sessions=sum(r.open_sessions for r in reports),
        occupancy_at_start=sum(r.occupancy_at_start for r in reports),
        by_shift=add(((r, r.by_shift) for r in reports), prefix=True),
        stay_bands=tuple((label, bands.get(label, 0)) for label, _upper in STAY_BANDS),
        vends_by_source=add((r, r.vends_by_source) for r in reports),
        vends_by_reason=add((r, r.vends_by_reason) for r in reports),
        ious=(sum(r.ious[0] for r in reports), sum(r.ious[1] for r in reports)),
        days=tuple(days[d] for d in sorted(days)),
        occupancy_by_hour=tuple(sum(h[i] for h in hours) for i in range(24)) if hours else (),
        hour_samples=tuple(max(s[i] for s in samples) for i in range(24)) if samples else (),
        revenue_by_hour=tuple((sum(r[i][0] for r in revenue), sum(r[i][1] for r in revenue)) for i in range(24))
        if revenue else (),
    )


def vend_reason_key(source: str, reason: str | None) -> str:
    """The report's key of a vend: ``"source · why"``, ``why`` being the reason's code (the part before the
    first ``:``: ``GATE_FAULT: barrier stuck`` -> ``GATE_FAULT``, ``IOU: card declined`` -> ``IOU``, ``free exit:
    GOODWILL`` -> ``free exit GOODWILL``), or ``source`` alone when the vend has no reason."""
    if not reason:
        return source
    head, _, rest = reason.partition(":")
    head = head.strip()
    if head == "free exit":
        head = f"free exit {rest.strip().partition(':')[0].strip()}".strip()
    return f"{source} · {head[:40]}"


def _stay_band(stay):
    """SQL for the index in :data:`STAY_BANDS` of a stay of ``stay`` seconds (the first edge it does not pass)."""
    whens = [(stay <= upper, index) for index, (_label, upper) in enumerate(STAY_BANDS) if upper is not None]
    return case(*whens, else_=len(STAY_BANDS) - 1)


def _stay_seconds(dialect: str):
    """SQL for a closed session's stay in seconds (float), per backend."""
    if dialect == "sqlite":
        return (func.julianday(PS.c.exit_at) - func.julianday(PS.c.entry_at)) * 86400.0
    return func.extract("epoch", PS.c.exit_at - PS.c.entry_at)


def bucket_minutes(tz, start: datetime, end: datetime) -> int:
    """Width of the time buckets for ``tz`` over ``start`` .. ``end``: 10 minutes, or 1 where needed.

    Ten-minute buckets keep a year of reports to ~52,000 rows per aggregate
    while staying exact for local days and hours in every zone whose offset is
    a multiple of ten minutes (all but a few, e.g. Asia/Kathmandu +05:45);
    those get one-minute buckets. Offsets are sampled at the start, the end and
    every day in between (zones change offset at most a few times a year).
    """
    t = start
    while True:
        offset = t.astimezone(tz).utcoffset() or timedelta(0)
        if offset % timedelta(minutes=10):
            return 1
        if t >= end:
            return 10
        t = min(t + timedelta(days=1), end)


def _bucket_expr(dialect: str, column, width: int):
    """SQL for ``column`` truncated to ``width``-minute (1 or 10) UTC buckets; read back with :func:`_bucket_key`."""
    if dialect == "sqlite":  # SQLite keeps the naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
        return func.substr(column, 1, 16 if width == 1 else 15)
    seconds = width * 60
    return func.floor(func.extract("epoch", column) / seconds) * seconds


def _bucket_key(key, width: int) -> datetime:
    """The aware UTC start of a bucket as :func:`_bucket_expr` returns it."""
    if isinstance(key, str):
        return datetime.fromisoformat(key + ("" if width == 1 else "0")).replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(key), UTC)


def _buckets(conn, dialect: str, column, where, width: int, *aggregates) -> dict[datetime, tuple]:
    """``{UTC bucket start: (aggregate, ...)}`` of rows matching ``where``, grouped by ``column`` in ``width``-minute buckets."""
    bucket = _bucket_expr(dialect, column, width)
    return {
        _bucket_key(key, width): tuple(int(v or 0) for v in values)
        for key, *values in conn.execute(select(bucket, *aggregates).where(where).group_by(bucket))
    }


def _fold(service, first, after, start, until, occupancy, entries, exits, pays):
    """Fold the time buckets into per-day figures and the mean occupancy at each local hour's start.

    Occupancy is only sampled up to ``until`` (the end of the period, or now):
    hours and days still to come have no occupancy yet (hour means over the
    hours that have started; a day not yet begun has peak 0). Returns the days, the hour means, the hour
    starts seen per hour of day, and the (payments, amount) taken per facility-local hour of day.
    """
    local = service.local
    day_list = [first + timedelta(days=n) for n in range((after - first).days)]
    figures = {d: {"entries": 0, "exits": 0, "revenue": 0, "payments": 0, "peak": None, "peak_at": None}
               for d in day_list}
    for minute, (count,) in entries.items():
        figures[local(minute).date()]["entries"] += count
    for minute, (count,) in exits.items():
        figures[local(minute).date()]["exits"] += count
    revenue_hours = [[0, 0] for _ in range(24)]
    for minute, (count, amount) in pays.items():
        lt = local(minute)
        f = figures[lt.date()]
        f["payments"] += count
        f["revenue"] += amount
        revenue_hours[lt.hour][0] += count
        revenue_hours[lt.hour][1] += amount
    deltas: dict[datetime, int] = defaultdict(int)
    for minute, (count,) in entries.items():
        deltas[minute] += count
    for minute, (count,) in exits.items():
        deltas[minute] -= count
    moments = sorted(deltas)
    # occupancy at each hour's start (elapsed hours from local midnight: every local hour start)
    hour_sums, hour_counts = [0] * 24, [0] * 24
    running, i = occupancy, 0
    day_start_occupancy: dict[date, int] = {}
    t = start
    while t < until:
        while i < len(moments) and moments[i] < t:
            running += deltas[moments[i]]
            i += 1
        lt = local(t)
        hour_sums[lt.hour] += running
        hour_counts[lt.hour] += 1
        day_start_occupancy.setdefault(lt.date(), running)
        t += timedelta(hours=1)
    # peaks: occupancy after each minute's movements, by local day; a still day keeps its start figure
    running = occupancy
    for minute in moments:
        running += deltas[minute]
        f = figures[local(minute).date()]
        if f["peak"] is None or running > f["peak"]:
            f["peak"], f["peak_at"] = running, local(minute)
    days = []
    for d in day_list:
        f = figures[d]
        peak, peak_at = f["peak"], f["peak_at"]
        if d in day_start_occupancy:
            at_start = day_start_occupancy[d]
            if peak is None or at_start > peak:  # nobody came in after midnight beyond the night's count
                peak, peak_at = at_start, local(service.day_bounds(d)[0])
        elif peak is None:  # a day that has not begun
            peak, peak_at = 0, None
        days.append(DayFigures(d, f["entries"], f["exits"], f["revenue"], f["payments"], peak, peak_at))
    by_hour = tuple(hour_sums[h] / hour_counts[h] if hour_counts[h] else 0.0 for h in range(24))
    return tuple(days), by_hour, tuple(hour_counts), tuple((int(c), int(a)) for c, a in revenue_hours)
