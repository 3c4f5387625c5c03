"""``attendant replay``: real traffic through a booth's lanes, in one process, and how faithful it was.

Issue 13 item 4. :class:`Replayer` drives a :class:`~attendant.booth.Booth`
(the path of ``attendant enter`` and ``attendant exit``: entries, payments
and exits through the booth services, each one transaction with its audit
event) as the installation's own automaton (an ``Actor`` with
``system=True``, named ``replay:<who started it>``), back-dated through the
services' one mechanism (``backdate_reason``, checked by ``_check_at``
within the facility's widening limit, 366 days by default).

- **Occupancy series** (:meth:`Replayer.occupancy`): the counts carry no
  vehicles, so :func:`attendant.core.replay.plan_traffic` (the demo's planner)
  invents arrivals and departures that follow the readings, planned from
  one reading to the next so the database meets every reading however
  irregular the feed's intervals; the vehicles inside at the first reading
  enter at that reading's time. Every vehicle is
  a car (the count carries no class) and takes an EV or accessible bay only
  when the bays a plain car may take are full (the count includes those bays).
- **Session lists** (:meth:`Replayer.sessions`): each row's arrival and
  departure as they were, with its class, plate (made up when absent) and
  payment method (card when absent).

Dates: the bays of a facility cannot be back-dated years, so the replay
moves the data by whole weeks (the weekday and the facility wall-clock
time of every event are kept) so that its last day ends before today, or
so that its first day falls on ``start``. A reading whose wall-clock time,
on its replay date, falls in the hour the clocks skip or is out of order in
the hour they repeat is dropped and counted (``bad_data.dst_dropped``). Reports and charts give the
data's own times (``shift_days`` says by how much the database's differ).

Fidelity: at each reading (occupancy) or every 5 minutes (sessions: the
vehicles the list has inside), the vehicles inside in the database (open
sessions, less those inside before the replay) are compared with the
series: ``max_abs_error`` and ``mean_abs_error``. Revenue comes from the
payment rows of the replayed sessions (minor units, by method, by rate band:
the tariff that priced each stay, and by facility-local hour of the data);
``compare`` prices the same stays under another plan with the rates engine
(:func:`attendant.core.rates.compute_fee`), writing nothing.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from attendant.core.allocation import fits
from attendant.core.auth import Actor
from attendant.core.errors import AttendantError, InputError, Refused
from attendant.core.replay import (
    INTERVAL_SECONDS,
    ReadingSeries,
    plan_traffic,
    random_plate,
)
from attendant.core.replay_data import Loaded
from attendant.core.requests import EntryRequest, ExitRequest, Tender
from attendant.core.store import PAY, PS, SESSION_IS_OPEN
from attendant.core.time_bounds import TimeOutOfWindow
from attendant.core.views import COUNTED
from attendant.core.vocab import SpotStatus, SpotType, VehicleClass

MAX_SPAN_DAYS = 52 * 7
"""The longest stretch of data one replay takes (the default widening limit is 366 days)."""

SHOWN_REFUSALS = 20

_CAR_BAYS = tuple(t for t in SpotType if fits(t, VehicleClass.CAR))
_FILLABLE = tuple(t for t in SpotType if fits(t, VehicleClass.CAR) or fits(t, VehicleClass.CAR, ev=True)
                  or fits(t, VehicleClass.CAR, accessible=True))


@dataclass
class Progress:
    """What the replay reports as it goes: ``start(total, what)`` then ``advance(n)`` (both optional)."""

    start: Callable[[int, str], None] = lambda total, what: None
    advance: Callable[[int], None] = lambda n: None


@dataclass
class _Stay:
    session_id: int
    code: str
    vehicle_class: str
    spot_type: str
    entry_at: datetime
    exit_at: datetime | None = None
    tariff: str = ""


@dataclass
class ReplayReport:
    """The outcome: :attr:`summary` (the ``--json`` object) and the chart data: ``points`` (data's local
    time, series count, database count) and ``hourly`` (revenue per facility-local hour of the data, one
    list of 24 minor-unit sums per plan, with ``plans`` naming them)."""

    summary: dict
    points: list[tuple[datetime, int, int]] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    hourly: list[list[int]] = field(default_factory=list)


class Replayer:
    """Replays one loaded file (:mod:`attendant.core.replay_data`) through ``booth`` (see the module docstring).

    ``launched_by``: the logged-in actor who started it (checked by the caller: a supervisor); the
    operations run as ``Actor("replay:<name>", system=True)``. ``speed``: None replays as fast as the
    database allows, N runs the data's clock N times faster than the wall clock. ``seed``: the
    planner's random numbers (the same seed, the same vehicles). ``keep_inside``: go on when vehicles
    are already inside (they stay and are left out of the comparison); without it a facility with open
    sessions is refused. ``start``: the date the data's first day is replayed on.
    """

    def __init__(self, booth, *, launched_by: Actor, source: str, speed: float | None = None, seed: int = 2016,
                 keep_inside: bool = False, start: date | None = None, progress: Progress | None = None) -> None:
        if speed is not None and not speed > 0:
            raise InputError(f"--speed must be max or a positive number, got {speed}")
        self.booth = booth
        self.service = booth.service
        self.tz = self.service.tz
        self.actor = Actor(f"replay:{launched_by.name}"[:80], system=True)
        self.reason = f"replay of {source} started by {launched_by.name}"[:200]
        self.speed = speed
        self.rng = random.Random(seed)
        self.start = start
        self.progress = progress or Progress()
        self.baseline = self._open_count()
        if self.baseline and not keep_inside:
            vehicles = "vehicle" if self.baseline == 1 else "vehicles"
            raise Refused(f"facility {self.service.facility.code} has {self.baseline} {vehicles} inside (open "
                          "sessions): a replay compares the database with the data, so it needs an empty car "
                          "park. Use a fresh facility (attendant init --layout FILE), or --continue to replay on "
                          "top of them (they stay inside and are left out of the comparison)")
        self.fillable = self._fillable()
        self.shift = timedelta(0)
        self.stays: dict[int, _Stay] = {}
        self.codes: dict[str, int] = {}  # plate (as entered) -> session id of vehicles inside
        self.vehicles_in = 0
        self.vehicles_out = 0
        self.refusals: list[str] = []
        self.refused = 0
        self.points: list[tuple[datetime, int, int]] = []
        self._wall0 = 0.0
        self._data0: datetime | None = None
        self.plan_label = ""
        self._method_of: dict[int, str] = {}
        self._began = time.monotonic()
        self.operations = 0  # entries and exits attempted through the booth
        self.dst_dropped = 0  # readings whose wall-clock time, moved to its replay date, is out of order (DST)

    # ------------------------------------------------------------ the facility
    @property
    def capacity(self) -> int:
        """The bays the replay can fill: those a car may take (ordinary, EV, accessible), less the vehicles
        already inside and the bays out of service."""
        return max(self.fillable - self.baseline, 0)

    def _fillable(self) -> int:
        total = 0
        for level in self.service.availability():
            total += sum(t for typ, (_a, t) in level.by_type.items() if SpotType(typ) in _FILLABLE)
        out = sum(1 for s in self.service.spot_statuses().values() if s is SpotStatus.OUT_OF_SERVICE)
        return max(total - out, 0)

    def _open_count(self) -> int:
        with self.service.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(PS).where(
                PS.c.facility_id == self.service.facility.id, SESSION_IS_OPEN)).scalar_one()

    def _car_flags(self) -> tuple[bool, bool]:
        """(ev, accessible) for the next car: plain while a car bay is free, else an EV, else an accessible bay."""
        free: dict[str, int] = {}
        for level in self.service.availability():
            for typ, (available, _t) in level.by_type.items():
                free[typ] = free.get(typ, 0) + available
        if any(free.get(t.value, 0) for t in _CAR_BAYS):
            return False, False
        if free.get(SpotType.EV.value, 0):
            return True, False
        if free.get(SpotType.ACCESSIBLE.value, 0):
            return False, True
        return False, False

    # ------------------------------------------------------------ time
    def _choose_shift(self, first: datetime, last: datetime) -> None:
        """Whole weeks (or to ``start``) so the data ends before today (facility dates)."""
        if (last - first).days > MAX_SPAN_DAYS:
            raise InputError(f"the data spans {(last - first).days} days ({first:%Y-%m-%d} to {last:%Y-%m-%d}); "
                             f"one replay takes at most {MAX_SPAN_DAYS} days: cut the file or pick the dates")
        today = self.service.local(self.service.clock()).date()
        if self.start is not None:
            days = (self.start - first.date()).days
        else:
            days = ((today - timedelta(days=1)) - last.date()).days // 7 * 7
        self.shift = timedelta(days=days)
        end = self._utc(last)
        if end > self.service.clock():
            shown = end.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
            raise InputError(f"--start {self.start} puts the last of the data at {shown}, in the future: pick an "
                             "earlier date")

    def _utc(self, local: datetime) -> datetime:
        """A naive facility wall-clock time of the data, moved by the shift, in UTC."""
        return (local + self.shift).replace(tzinfo=self.tz).astimezone(UTC)

    def _data_local(self, at: datetime) -> datetime:
        """A UTC time of the replay as the data's own facility wall-clock time (naive)."""
        return at.astimezone(self.tz).replace(tzinfo=None) - self.shift

    def _pace(self, at: datetime) -> None:
        if self.speed is None:
            return
        if self._data0 is None:
            self._data0, self._wall0 = at, time.monotonic()
            return
        wait = self._wall0 + (at - self._data0).total_seconds() / self.speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    # ------------------------------------------------------------ operations
    def _enter(self, plate: str | None, vehicle_class: str, at: datetime) -> _Stay | None:
        ev = accessible = False
        if vehicle_class == VehicleClass.CAR.value:
            ev, accessible = self._car_flags()
        self.operations += 1
        request = EntryRequest(plate, vehicle_class, ev=ev, accessible=accessible, at=at, print_ticket=False,
                               vend=False, backdate_reason=self.reason)
        try:
            entry = self.booth.enter(request, actor=self.actor).entry
        except TimeOutOfWindow:
            raise  # the dates are outside what the facility accepts: every operation would be refused
        except AttendantError as exc:
            self._refuse(f"entry of {plate or 'a vehicle'} at {self._data_local(at):%Y-%m-%d %H:%M}: {exc}")
            return None
        self.vehicles_in += 1
        stay = _Stay(entry.session_id, entry.code, entry.vehicle_class, entry.spot_type, entry.entry_at)
        self.stays[entry.session_id] = stay
        return stay

    def _exit(self, stay: _Stay, method: str | None, at: datetime) -> bool:
        self.operations += 1
        request = ExitRequest(stay.code, (Tender(method or "card"),), at=at, print_receipt=False, vend=False,
                              backdate_reason=self.reason)
        try:
            outcome = self.booth.exit(request, actor=self.actor)
        except TimeOutOfWindow:
            raise
        except AttendantError as exc:
            self._refuse(f"exit of session {stay.session_id} at {self._data_local(at):%Y-%m-%d %H:%M}: {exc}")
            return False
        result = getattr(outcome, "exit", None)
        if result is None:  # a part payment: cannot happen with one tender for the whole balance
            self._refuse(f"exit of session {stay.session_id}: a balance remains")
            return False
        stay.exit_at, stay.tariff = result.exit_at, result.fee.tariff
        if not self.plan_label:
            fee = result.fee
            self.plan_label = fee.plan_name + (f" {fee.plan_version}" if fee.plan_version else "")
        self.vehicles_out += 1
        return True

    def _refuse(self, message: str) -> None:
        self.refused += 1
        if len(self.refusals) < SHOWN_REFUSALS:
            self.refusals.append(message)

    def _measure(self, at: datetime, expected: int) -> None:
        self.points.append((self._data_local(at), expected, self._open_count() - self.baseline))

    # ------------------------------------------------------------ the two shapes
    def occupancy(self, loaded: Loaded) -> ReplayReport:
        """Replay an occupancy series (``loaded.items``: :class:`~attendant.core.replay_data.Reading`)."""
        readings = loaded.items
        self._choose_shift(readings[0].at, readings[-1].at)
        points: list[tuple[datetime, int]] = []
        for reading in readings:
            at = self._utc(reading.at)
            if points and at <= points[-1][0]:  # a wall-clock hour the clocks skipped or repeat on that date
                self.dst_dropped += 1
                continue
            points.append((at, reading.count))
        series = ReadingSeries(loaded.name or loaded.file, tuple(points))
        capacity = self.capacity
        t0 = points[0][0]
        self.progress.start(len(points), f"replaying {series.name}")
        inside: dict[str, str] = {}  # plate -> class of the vehicles the database has inside (this replay's)
        while len(inside) < min(points[0][1], capacity):  # those inside at the first reading enter at its time
            plate = random_plate(self.rng)
            if plate not in inside and self._arrive(plate, VehicleClass.CAR.value, t0):
                inside[plate] = VehicleClass.CAR.value
        self._pace(t0)
        self._measure(t0, points[0][1])
        self.progress.advance(1)
        for (start, _before), (at, count) in itertools.pairwise(points):
            # The planner from one reading to the next: its last step ends on the reading, so the database
            # meets each reading, however irregular the feed's intervals.
            events = plan_traffic(series, start, at, self.tz, capacity, rng=self.rng, inside=list(inside.items()),
                                  draw_class=lambda rng: VehicleClass.CAR.value)
            for event in events:
                self._pace(event.at)
                if event.kind == "arrival":
                    if self._arrive(event.plate, event.vehicle_class, event.at):
                        inside[event.plate] = event.vehicle_class
                else:
                    sid = self.codes.get(event.plate)
                    if sid is not None and self._exit(self.stays[sid], event.payment_method, event.at):
                        del self.codes[event.plate]
                        inside.pop(event.plate, None)
            self._pace(at)
            self._measure(at, count)
            self.progress.advance(1)
        return self._report(loaded, "occupancy")

    def sessions(self, loaded: Loaded) -> ReplayReport:
        """Replay a session list (``loaded.items``: :class:`~attendant.core.replay_data.SessionRow`)."""
        rows = loaded.items
        ends = [r.departure for r in rows if r.departure is not None]
        last = max([rows[-1].arrival, *ends])
        self._choose_shift(rows[0].arrival, last)
        events: list[tuple[datetime, int, int]] = []  # (at, order, row index): departures first at a tie
        for index, row in enumerate(rows):
            arrival = self._utc(row.arrival)
            events.append((arrival, 1, index))
            if row.departure is not None:
                departure = max(self._utc(row.departure), arrival)
                events.append((departure, 0 if departure > arrival else 2, index))
        events.sort()
        samples = _sample_times(events[0][0], events[-1][0])
        self.progress.start(len(events), f"replaying {loaded.file}")
        inside: dict[int, _Stay] = {}
        plates: dict[int, str] = {}  # row index -> plate (no spaces) of the vehicles inside
        taken: set[str] = set()  # those plates: a made-up plate avoids them
        expected = 0
        sample = 0
        for at, order, index in events:
            while sample < len(samples) and samples[sample] < at:
                self._measure(samples[sample], expected)
                sample += 1
            self._pace(at)
            row = rows[index]
            if order == 1:
                expected += 1
                plate = row.plate or self._made_up_plate(taken)
                stay = self._enter(plate, row.vehicle_class, at)
                if stay is not None:
                    inside[index] = stay
                    plates[index] = plate.replace(" ", "").upper()
                    taken.add(plates[index])
            else:
                expected -= 1
                stay = inside.pop(index, None)
                if stay is not None and not self._exit(stay, row.payment, at):
                    inside[index] = stay  # still inside: its plate stays taken
                elif stay is not None:
                    taken.discard(plates.pop(index, ""))
            self.progress.advance(1)
        while sample < len(samples):
            self._measure(samples[sample], expected)
            sample += 1
        return self._report(loaded, "sessions")

    def _arrive(self, plate: str, vehicle_class: str, at: datetime) -> bool:
        """Enter ``plate``; True when it is inside (its session remembered by plate)."""
        stay = self._enter(plate, vehicle_class, at)
        if stay is None:
            return False
        self.codes[plate] = stay.session_id
        return True

    def _made_up_plate(self, inside: set[str]) -> str:
        """A random plate (:func:`~attendant.core.replay.random_plate`) of no vehicle inside."""
        plate = random_plate(self.rng)
        while plate.replace(" ", "") in inside:
            plate = random_plate(self.rng)
        return plate

    # ------------------------------------------------------------ the report
    def _payments(self) -> list[tuple[int, str, int, datetime]]:
        """(session id, method, amount, claimed time) of the counted payments of the replayed sessions."""
        ids = sorted(self.stays)
        rows: list[tuple[int, str, int, datetime]] = []
        with self.service.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows.extend(conn.execute(select(PAY.c.session_id, PAY.c.method, PAY.c.amount, PAY.c.created_at)
                                         .where(PAY.c.session_id.in_(ids[i:i + 500]), PAY.c.status.in_(COUNTED)))
                            .all())
        return rows

    def _report(self, loaded: Loaded, shape: str) -> ReplayReport:
        errors = [abs(db - series) for _at, series, db in self.points]
        currency = self.service.facility.currency
        by_method: dict[str, int] = {}
        by_band: dict[str, int] = {}
        hourly = [0] * 24
        method_of: dict[int, str] = {}
        total = 0
        for session_id, method, amount, at in self._payments():
            if at.tzinfo is None:  # SQLite hands back naive UTC
                at = at.replace(tzinfo=UTC)
            total += amount
            by_method[method] = by_method.get(method, 0) + amount
            tariff = self.stays[session_id].tariff or "(none)"
            by_band[tariff] = by_band.get(tariff, 0) + amount
            hourly[self._data_local(at).hour] += amount
            method_of.setdefault(session_id, method)
        self._method_of = method_of
        first, last = (self.points[0][0], self.points[-1][0]) if self.points else (None, None)
        summary = {
            "shape": shape,
            "file": loaded.file,
            "name": loaded.name,
            "facility": self.service.facility.code,
            "columns": loaded.columns,
            "time_format": loaded.time_format,
            "first": first.isoformat(timespec="seconds") if first else None,
            "last": last.isoformat(timespec="seconds") if last else None,
            "shift_days": self.shift.days,
            "readings": len(self.points),
            "max_abs_error": max(errors, default=0),
            "mean_abs_error": round(sum(errors) / len(errors), 3) if errors else 0.0,
            "vehicles_in": self.vehicles_in,
            "vehicles_out": self.vehicles_out,
            "still_inside": self.vehicles_in - self.vehicles_out,
            "inside_before": self.baseline,
            "elapsed_s": round(time.monotonic() - self._began, 3),
            "operations": self.operations,
            "refused": self.refused,
            "refusals": self.refusals,
            "bad_data": {**loaded.bad_json(), "dst_dropped": self.dst_dropped},
            "revenue": {"currency": currency, "unit": "minor", "total": total,
                        "by_method": dict(sorted(by_method.items())), "by_band": dict(sorted(by_band.items()))},
        }
        summary["revenue"]["plan"] = self.plan_label
        return ReplayReport(summary, list(self.points), [self.plan_label], [hourly])

    def compare(self, report: ReplayReport, plan, label: str) -> None:
        """Add the same stays priced under ``plan`` (a :class:`~attendant.core.rates.RatePlan`) to ``report``:
        ``summary["compare_rates"]`` with the shape of ``summary["revenue"]`` and a second hourly column.
        Nothing is written. Raises :class:`InputError` for another currency."""
        from attendant.core.rates import compute_fee

        currency = self.service.facility.currency
        if plan.currency != currency:
            raise InputError(f"--compare-rates: {label} is in {plan.currency}, the facility in {currency}")
        by_method: dict[str, int] = {}
        by_band: dict[str, int] = {}
        hourly = [0] * 24
        total = 0
        unpriced = 0
        method_of = self._method_of
        for stay in self.stays.values():
            if stay.exit_at is None:
                continue
            try:
                fee = compute_fee(plan, stay.entry_at, stay.exit_at, vehicle_class=stay.vehicle_class,
                                  spot_type=stay.spot_type, tz=self.tz)
            except InputError:
                unpriced += 1
                continue
            if fee.amount == 0:
                continue
            total += fee.amount
            method = method_of.get(stay.session_id, "card")
            by_method[method] = by_method.get(method, 0) + fee.amount
            by_band[fee.tariff or "(none)"] = by_band.get(fee.tariff or "(none)", 0) + fee.amount
            hourly[self._data_local(stay.exit_at).hour] += fee.amount
        name = plan.name + (f" {plan.version}" if plan.version else "")
        report.summary["compare_rates"] = {
            "file": label, "unpriced": unpriced,
            "revenue": {"plan": name, "currency": currency, "unit": "minor", "total": total,
                        "by_method": dict(sorted(by_method.items())), "by_band": dict(sorted(by_band.items()))},
        }
        report.plans.append(name)
        report.hourly.append(hourly)


def _sample_times(first: datetime, last: datetime) -> list[datetime]:
    """Every :data:`INTERVAL_SECONDS` from ``first`` to before ``last``, and just after ``last``."""
    step = timedelta(seconds=INTERVAL_SECONDS)
    count = max(math.ceil((last - first) / step), 1)
    times = [first + step * i for i in range(count)]
    return [*times, last + timedelta(microseconds=1)]
