"""Real-traffic replay: turn a real day of car-park occupancy into entries and exits.

The demo facility is modelled on Bath's Charlotte Street CP (1,056 bays) and its
traffic comes from the council's real occupancy feed (one reading about every
five minutes; see ``examples/data/README.md`` for provenance). The feed gives
only the number of vehicles inside, so :func:`plan_traffic` invents the
individual vehicles (plates, classes, payment) while keeping arrivals minus
departures on the real curve.

Pure domain code: no database, no Textual, no device; standard library and
:mod:`zoneinfo` only. Times: series points are seconds of the facility's
wall-clock day (``Europe/London`` for Bath); planned events carry aware UTC
datetimes. Money (``tendered_hint``) is in integer minor units (pence).
"""

from __future__ import annotations

import csv
import math
import os
import random
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from attendant.core.errors import InputError
from attendant.core.vocab import PaymentMethod, VehicleClass

DAY_SECONDS = 86_400
"""Length of the series' day in seconds; the series is periodic with this period."""

INTERVAL_SECONDS = 300
"""Planning step: the feed reports about every 5 minutes, so does the planner."""

CHURN_PER_HOUR = 0.05
"""Assumed turnover hidden inside the net count: the share of the vehicles inside
that leave and are replaced by a new arrival per hour (0.05 = 5 %/h, i.e. ~50 extra
arrival/departure pairs an hour at 1,000 inside, ~7 overnight at 132). The feed
cannot tell us this; it only keeps a flat period from looking frozen."""

DEMO_FIXTURE = "charlotte_street_2016-11-12.csv"
"""File name, under ``examples/data/``, of the day the demo replays."""

DEMO_NAME = "Charlotte Street CP"

_REQUIRED_COLUMNS = ("LastUpdate", "Occupancy", "Capacity")

# Vehicle class mix for the demo (an assumption for a town-centre car park, not
# measured): car 90 %, van 5 %, motorcycle 4 %, truck 1 %. Cumulative thresholds.
_CLASS_MIX: tuple[tuple[float, str], ...] = (
    (0.90, VehicleClass.CAR.value),
    (0.95, VehicleClass.VAN.value),
    (0.99, VehicleClass.MOTORCYCLE.value),
    (1.00, VehicleClass.TRUCK.value),
)
_CARD_SHARE = 0.70  # card 70 %, cash 30 % (assumption; the council takes card, app, exact cash)
# Cash departures: the note offered, in pence, or None for exact change (assumption).
_TENDER_MIX: tuple[tuple[float, int | None], ...] = (
    (0.30, None),
    (0.35, 500),
    (0.60, 1000),
    (0.95, 2000),
    (1.00, 5000),
)

# Current (September 2001 onwards) GB registration marks, DVLA leaflet INF104
# "Vehicle registration numbers and number plates": memory tag (2 letters: region
# then local office; I, Q and Z are not used), age identifier (last two digits of
# the year for March-August, year + 50 for September-February), a space, then three
# random letters (I and Q are not used; Z is). Regions: A Anglia, B Birmingham,
# C Cymru, D Deeside, E Essex, F Forest and Fens, G Garden of England, H Hampshire
# and Dorset, K Borehamwood/Northampton, L London, M Manchester, N North, O Oxford,
# P Preston, R Reading, S Scotland, V Severn Valley, W West of England, Y Yorkshire.
_TAG_REGION = "ABCDEFGHKLMNOPRSVWY"
_TAG_OFFICE = "ABCDEFGHJKLMNOPRSTUVWXY"
_RANDOM_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"
# Age identifiers issued from "51" (September 2001) to "26" (March 2026).
_AGE_IDENTIFIERS = tuple(f"{y:02d}" for y in range(2, 27)) + tuple(str(y) for y in range(51, 76))


@dataclass(frozen=True)
class OccupancySeries:
    """One day of real occupancy readings of one car park.

    ``points`` are ``(second_of_day, occupancy)`` pairs: seconds since midnight of
    the facility's wall-clock day (0 <= s < 86,400), strictly increasing, and the
    number of vehicles inside (>= 0; the real feed is a counter and can read above
    ``capacity``). ``day`` is the source's calendar day, kept for citation only:
    replays apply the time of day to any date. Raises :class:`InputError` when the
    points break those rules.
    """

    name: str
    capacity: int
    day: date
    points: tuple[tuple[int, int], ...]
    _seconds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.capacity <= 0:
            raise InputError(f"{self.name}: capacity must be positive, got {self.capacity}")
        if not self.points:
            raise InputError(f"{self.name}: an occupancy series needs at least one reading")
        previous = -1
        for second, occupancy in self.points:
            if not 0 <= second < DAY_SECONDS:
                raise InputError(f"{self.name}: second of day {second} is outside 0..86399")
            if second <= previous:
                raise InputError(f"{self.name}: readings must be in strictly increasing time order")
            if occupancy < 0:
                raise InputError(f"{self.name}: negative occupancy {occupancy} at second {second}")
            previous = second
        object.__setattr__(self, "_seconds", tuple(second for second, _ in self.points))

    def target_at(self, second_of_day: float, capacity: int | None = None) -> int:
        """Occupancy at ``second_of_day`` (facility wall-clock seconds since midnight).

        Linear interpolation between the two readings around it; the series is
        treated as periodic over 24 h, so before the first reading and after the
        last one it interpolates across midnight between the last and the first.
        Without ``capacity`` the result is the feed's own count (it may exceed
        ``self.capacity``, as the real counter sometimes does). With ``capacity``
        the count is scaled by ``capacity / self.capacity``, rounded half up and
        clamped to ``0..capacity`` (a car park cannot hold more than its bays).
        Raises :class:`InputError` for a capacity that is not positive.
        """
        if capacity is not None and capacity <= 0:
            raise InputError(f"capacity must be positive, got {capacity}")
        second = second_of_day % DAY_SECONDS
        points = self.points
        index = bisect_right(self._seconds, second)
        if index == 0:
            (s0, o0), (s1, o1) = (points[-1][0] - DAY_SECONDS, points[-1][1]), points[0]
        elif index == len(points):
            (s0, o0), (s1, o1) = points[-1], (points[0][0] + DAY_SECONDS, points[0][1])
        else:
            (s0, o0), (s1, o1) = points[index - 1], points[index]
        value = o0 if s1 == s0 else o0 + (o1 - o0) * (second - s0) / (s1 - s0)
        if capacity is None:
            return math.floor(value + 0.5)
        scaled = math.floor(value * capacity / self.capacity + 0.5)
        return min(max(scaled, 0), capacity)

    def occupancy_at(self, moment: datetime, tz: tzinfo, capacity: int) -> int:
        """The target at aware ``moment``: its time of day on the facility clock ``tz``, read as
        :meth:`target_at` with ``capacity`` (scaled and clamped). What :func:`plan_traffic` follows."""
        local = moment.astimezone(tz)
        second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return self.target_at(second, capacity)


@dataclass(frozen=True)
class ReadingSeries:
    """Occupancy readings at absolute times: several days of one car park, as a replay follows them.

    ``points`` are ``(at, occupancy)`` pairs: ``at`` aware datetimes (any zone) in strictly
    increasing order, ``occupancy`` the vehicles inside (>= 0). Unlike :class:`OccupancySeries`
    (one day, repeated), this series is not periodic: before the first reading it holds the first
    value and after the last the last one. Raises :class:`InputError` when the points break those
    rules. Readers of real files (:mod:`attendant.core.replay_data`) check the counts against the
    capacity and say what they clipped; this class never scales.
    """

    name: str
    points: tuple[tuple[datetime, int], ...]
    _times: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.points:
            raise InputError(f"{self.name}: an occupancy series needs at least one reading")
        times: list[float] = []
        for at, occupancy in self.points:
            if at.utcoffset() is None:
                raise InputError(f"{self.name}: reading time {at.isoformat()} has no zone")
            if occupancy < 0:
                raise InputError(f"{self.name}: negative occupancy {occupancy} at {at.isoformat()}")
            stamp = at.timestamp()
            if times and stamp <= times[-1]:
                raise InputError(f"{self.name}: readings must be in strictly increasing time order")
            times.append(stamp)
        object.__setattr__(self, "_times", tuple(times))

    def occupancy_at(self, moment: datetime, tz: tzinfo | None = None, capacity: int | None = None) -> int:
        """Occupancy at aware ``moment``: linear between the readings around it, rounded half up,
        clamped to ``0..capacity`` when given (``tz`` is not needed: the readings are absolute)."""
        stamp = moment.timestamp()
        index = bisect_right(self._times, stamp)
        if index == 0:
            value: float = self.points[0][1]
        elif index == len(self.points):
            value = self.points[-1][1]
        else:
            (t0, o0), (t1, o1) = (self._times[index - 1], self.points[index - 1][1]), (
                self._times[index], self.points[index][1])
            value = o0 + (o1 - o0) * (stamp - t0) / (t1 - t0)
        count = math.floor(value + 0.5)
        return count if capacity is None else min(max(count, 0), capacity)


@dataclass(frozen=True)
class TrafficEvent:
    """One planned vehicle movement.

    ``at`` is an aware UTC datetime; ``kind`` is ``"arrival"`` or ``"departure"``;
    ``vehicle_class`` is a :class:`VehicleClass` value. For departures,
    ``payment_method`` is ``"card"`` or ``"cash"`` and, for cash, ``tendered_hint``
    is the banknote the driver offers in pence (500, 1000, 2000 or 5000: tender the
    smallest multiple of it that covers the fee) or ``None`` for exact change.
    Both are ``None`` for arrivals, and ``tendered_hint`` is ``None`` for card.
    """

    at: datetime
    kind: Literal["arrival", "departure"]
    plate: str
    vehicle_class: str
    payment_method: str | None = None
    tendered_hint: int | None = None


def load_occupancy_series(path: str | os.PathLike[str] | Traversable, *, name: str | None = None) -> OccupancySeries:
    """Read one day of one car park from a CSV file in the Bath feed's format.

    Needs columns ``LastUpdate`` (``YYYY-MM-DD HH:MM:SS``, facility wall-clock
    time without a zone), ``Occupancy`` and ``Capacity`` (integers); ``Status``,
    ``Name`` and any other column are allowed. Rows may come in any order; they
    must all fall on one day, share one capacity and not repeat a ``LastUpdate``.
    ``name`` defaults to the ``Name`` column, else the file's stem.
    Raises :class:`InputError` naming the file and line for an unreadable file,
    a missing column or a malformed row; nothing else is affected.
    """
    source = Path(path) if isinstance(path, (str, os.PathLike)) else path
    label = str(source)
    try:
        with source.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [col for col in _REQUIRED_COLUMNS if col not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"{label}:1: missing column(s) {', '.join(missing)}")
            points: dict[int, tuple[int, int]] = {}  # second -> (occupancy, line)
            day: date | None = None
            capacity: int | None = None
            names: set[str] = set()
            for row in reader:
                line = reader.line_num
                try:
                    stamp = datetime.strptime((row["LastUpdate"] or "").strip(), "%Y-%m-%d %H:%M:%S")
                except ValueError:
                    raise InputError(
                        f"{label}:{line}: LastUpdate {row['LastUpdate']!r} is not YYYY-MM-DD HH:MM:SS"
                    ) from None
                occupancy = _int_field(row, "Occupancy", label, line)
                row_capacity = _int_field(row, "Capacity", label, line)
                if occupancy < 0:
                    raise InputError(f"{label}:{line}: Occupancy {occupancy} is negative")
                if row_capacity <= 0:
                    raise InputError(f"{label}:{line}: Capacity {row_capacity} must be positive")
                if day is None:
                    day, capacity = stamp.date(), row_capacity
                if stamp.date() != day:
                    raise InputError(f"{label}:{line}: {stamp.date()} is not {day}; a series holds one day")
                if row_capacity != capacity:
                    raise InputError(f"{label}:{line}: Capacity {row_capacity} differs from {capacity}")
                second = stamp.hour * 3600 + stamp.minute * 60 + stamp.second
                if second in points:
                    raise InputError(
                        f"{label}:{line}: LastUpdate {stamp} repeats line {points[second][1]}"
                    )
                points[second] = (occupancy, line)
                if row.get("Name"):
                    names.add(row["Name"])
    except OSError as error:
        raise InputError(f"{label}: cannot read occupancy series: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{label}: not a readable CSV file: {error}") from None
    if day is None or capacity is None:
        raise InputError(f"{label}: no readings")
    if name is None:
        if len(names) > 1:
            raise InputError(f"{label}: rows name several car parks: {', '.join(sorted(names))}")
        name = names.pop() if names else Path(getattr(source, "name", label)).stem
    ordered = tuple((second, points[second][0]) for second in sorted(points))
    return OccupancySeries(name=name, capacity=capacity, day=day, points=ordered)


def _int_field(row: dict[str, str], column: str, label: str, line: int) -> int:
    text = (row.get(column) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{label}:{line}: {column} {text!r} is not a whole number") from None


def examples_dir() -> Traversable:
    """The shipped ``examples/`` directory (package ``attendant.examples`` when
    installed, else ``<source tree>/examples``)."""
    try:
        return resources.files("attendant.examples")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "examples"


def demo_series() -> OccupancySeries:
    """The demo's real day: Charlotte Street CP, Bath, Saturday 12 November 2016.

    288 readings (one every 5 minutes), 132 to 1,027 vehicles of 1,056 bays, from
    the Bath & North East Somerset Council feed (see ``examples/data/README.md``).
    Raises :class:`InputError` if the packaged fixture is missing or damaged.
    """
    return load_occupancy_series(examples_dir() / "data" / DEMO_FIXTURE, name=DEMO_NAME)


def random_plate(rng: random.Random) -> str:
    """A random current-style GB registration such as ``"WM66 KXZ"``.

    Format from DVLA leaflet INF104: memory tag (a regional letter, then an office
    letter; never I, Q or Z), a two-digit age identifier between ``51`` (Sept 2001)
    and ``26`` (March 2026), a space, three random letters (never I or Q). Not
    every generated tag/office pair was ever issued; the format is always valid.
    """
    return (
        rng.choice(_TAG_REGION)
        + rng.choice(_TAG_OFFICE)
        + rng.choice(_AGE_IDENTIFIERS)
        + " "
        + "".join(rng.choice(_RANDOM_LETTERS) for _ in range(3))
    )


def random_vehicle_class(rng: random.Random) -> str:
    """A :class:`VehicleClass` value: car 90 %, van 5 %, motorcycle 4 %, truck 1 % (assumed mix)."""
    draw = rng.random()
    for threshold, vehicle_class in _CLASS_MIX:
        if draw < threshold:
            return vehicle_class
    return _CLASS_MIX[-1][1]


def _random_payment(rng: random.Random) -> tuple[str, int | None]:
    if rng.random() < _CARD_SHARE:
        return PaymentMethod.CARD.value, None
    draw = rng.random()
    for threshold, note in _TENDER_MIX:
        if draw < threshold:
            return PaymentMethod.CASH.value, note
    return PaymentMethod.CASH.value, _TENDER_MIX[-1][1]


def plan_traffic(
    series: OccupancySeries | ReadingSeries,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    capacity: int,
    *,
    rng: random.Random,
    initial: int | None = None,
    inside: Iterable[tuple[str, str]] | None = None,
    churn_per_hour: float = CHURN_PER_HOUR,
    draw_class: Callable[[random.Random], str] = random_vehicle_class,
) -> list[TrafficEvent]:
    """Plan arrivals and departures from ``start`` to ``end`` that follow ``series``.

    ``start`` and ``end`` are aware datetimes (any zone); the series' time of day
    is read on the facility clock ``tz`` for whatever dates they span, so a
    25-hour autumn day replays 01:00-02:00 twice and a 23-hour spring day skips
    it. Time advances in 5-minute steps of real (UTC) time from ``start``. For
    each step, the net change needed to reach the target at its end
    (``series.target_at(..., capacity)``, clamped to ``0..capacity``) from the
    planned occupancy at its start becomes arrivals (or departures) at uniformly
    random instants inside the step; churn pairs (one arrival, one departure) are
    added at ``churn_per_hour`` of the vehicles inside (assumption, see
    :data:`CHURN_PER_HOUR`). The order of arrivals and departures within a step is
    random but never lets occupancy leave ``0..capacity``, so no departure ever
    takes a vehicle that is not inside. A departing vehicle is chosen uniformly
    among those inside; plates inside are unique.

    ``initial`` is the occupancy at ``start`` (default: the target at ``start``).
    ``inside`` optionally lists the ``(plate, vehicle_class)`` of the vehicles
    already inside (e.g. open sessions), so their departures name real plates;
    without it the planner invents the initial vehicles. ``draw_class`` draws the
    class of each new vehicle (default :func:`random_vehicle_class`, the assumed mix; a
    replay of counts that carry no class passes ``lambda rng: "car"``). A
    :class:`ReadingSeries` (absolute times, several days) is followed the same way. Returns events sorted by
    ``at`` (aware UTC), all within ``[start, end)``. The same ``rng`` state gives
    the same plan. Raises :class:`InputError` for naive or reversed times, a
    capacity that is not positive, an ``initial`` outside ``0..capacity`` or one
    that disagrees with ``inside``.
    """
    if start.utcoffset() is None or end.utcoffset() is None:
        raise InputError("plan_traffic needs timezone-aware start and end")
    if end < start:
        raise InputError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if capacity <= 0:
        raise InputError(f"capacity must be positive, got {capacity}")
    if churn_per_hour < 0:
        raise InputError(f"churn_per_hour must not be negative, got {churn_per_hour}")
    start_utc = start.astimezone(timezone.utc)
    end_utc = end.astimezone(timezone.utc)

    def target(moment: datetime) -> int:
        return series.occupancy_at(moment, tz, capacity)

    vehicles: list[tuple[str, str]] = []
    if inside is not None:
        vehicles = [(str(plate), str(vehicle_class)) for plate, vehicle_class in inside]
        if initial is not None and initial != len(vehicles):
            raise InputError(f"initial {initial} disagrees with {len(vehicles)} vehicles inside")
        if len(vehicles) > capacity:
            raise InputError(f"{len(vehicles)} vehicles inside exceed capacity {capacity}")
    else:
        level = target(start_utc) if initial is None else initial
        if not 0 <= level <= capacity:
            raise InputError(f"initial occupancy {level} is outside 0..{capacity}")
    plates = {plate for plate, _ in vehicles}
    if len(plates) != len(vehicles):
        raise InputError("the vehicles inside repeat a plate")

    def new_vehicle() -> tuple[str, str]:
        plate = random_plate(rng)
        while plate in plates:
            plate = random_plate(rng)
        plates.add(plate)
        return plate, draw_class(rng)

    if inside is None:
        vehicles = [new_vehicle() for _ in range(level)]

    events: list[TrafficEvent] = []
    step = timedelta(seconds=INTERVAL_SECONDS)
    micro = timedelta(microseconds=1)
    t0 = start_utc
    while t0 < end_utc:
        t1 = min(t0 + step, end_utc)
        span_us = (t1 - t0) // micro
        if span_us <= 0:
            break
        goal = target(t1)
        net = goal - len(vehicles)
        churn = churn_per_hour * (len(vehicles) + goal) / 2 * span_us / 3.6e9
        pairs = int(churn) + (1 if rng.random() < churn - int(churn) else 0)
        arrivals_left = max(net, 0) + pairs
        departures_left = max(-net, 0) + pairs
        offsets = sorted(rng.randrange(span_us) for _ in range(arrivals_left + departures_left))
        for offset in offsets:
            at = t0 + timedelta(microseconds=offset)
            occupancy = len(vehicles)
            if arrivals_left == 0 or occupancy >= capacity:
                is_arrival = False
            elif departures_left == 0 or occupancy <= 0:
                is_arrival = True
            else:
                is_arrival = rng.random() * (arrivals_left + departures_left) < arrivals_left
            if is_arrival:
                arrivals_left -= 1
                plate, vehicle_class = new_vehicle()
                vehicles.append((plate, vehicle_class))
                events.append(TrafficEvent(at, "arrival", plate, vehicle_class))
            else:
                departures_left -= 1
                index = rng.randrange(len(vehicles))
                vehicles[index], vehicles[-1] = vehicles[-1], vehicles[index]
                plate, vehicle_class = vehicles.pop()
                plates.discard(plate)
                method, tendered = _random_payment(rng)
                events.append(TrafficEvent(at, "departure", plate, vehicle_class, method, tendered))
        t0 = t1
    return events
