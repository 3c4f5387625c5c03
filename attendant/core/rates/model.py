"""The rate plan model: plans, tariffs, bands and the fee they produce.

Frozen dataclasses, built by :mod:`attendant.core.rates.validation` (from a
plan file or from the stored dict) and read by the fee engine
(:mod:`attendant.core.rates.engine`). Units throughout: durations in whole
minutes, times of day in minutes after local midnight, money in integer
minor units of the plan's currency (BRIEF.md, "Rules that hold everywhere").

Plans are versioned and never edited in place (BRIEF.md feature 5): a version
is stored as :meth:`RatePlan.to_dict` (the plan file's own schema, as JSON)
and read back with :meth:`RatePlan.from_dict`, so history reprices the same.
That dict format is a storage format: changing it breaks stored versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from attendant.core.money import to_major_str
from attendant.core.rates.facility_time import clock_text, sorted_days
from attendant.core.vocab import SpotType, VehicleClass

VEHICLE_CLASSES: tuple[str, ...] = tuple(v.value for v in VehicleClass)
SPOT_TYPES: tuple[str, ...] = tuple(s.value for s in SpotType)
MINUTE_US = 60_000_000
"""Microseconds per minute: stays are measured in microseconds, bands written in minutes."""

_T = TypeVar("_T")


def ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded up, in integers (a started increment counts): ``ceil_div(61, 60) == 2``."""
    return -(-a // b)


def _maybe(convert: Callable[[_T], Any], value: _T | None) -> Any:
    return None if value is None else convert(value)


def _window_dict(start: int, end: int) -> dict[str, str]:
    return {"from": clock_text(start), "to": clock_text(end)}


def _percent_text(fraction: Decimal) -> str:
    """A fraction as a plan writes it: ``Decimal("0.5")`` -> ``"50%"`` (exact, no float)."""
    return f"{(fraction * 100).normalize():f}%"


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ``None`` values: optional keys are left out of the stored form."""
    return {key: value for key, value in fields.items() if value is not None}


# --------------------------------------------------------------------------- the priced stay


@dataclass(frozen=True)
class FeeLine:
    """One line of a fee breakdown, shown on screen and printed on the receipt.

    ``minutes`` is the elapsed time the line covers, in whole minutes rounded up
    (a started minute counts); ``amount`` is in minor units (pence, cents).
    """

    label: str
    minutes: int
    amount: int


@dataclass(frozen=True)
class Fee:
    """A priced stay: ``amount`` (minor units) equals the sum of ``lines``.

    ``tariff`` names the tariff of the plan that priced the start of the stay
    (for "revenue by rate band" reports).
    """

    amount: int
    currency: str
    lines: tuple[FeeLine, ...]
    plan_name: str
    plan_version: str | None
    tariff: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        """The stable ``--json`` shape: amounts as decimal strings in major units.

        ``{"amount": "7.20", "currency": "GBP", "lines": [{"label", "minutes",
        "amount"}], "plan": name, "plan_version": version-or-null, "tariff": name}``.
        """
        return {
            "amount": to_major_str(self.amount, self.currency),
            "currency": self.currency,
            "lines": [
                {"label": ln.label, "minutes": ln.minutes, "amount": to_major_str(ln.amount, self.currency)}
                for ln in self.lines
            ],
            "plan": self.plan_name,
            "plan_version": self.plan_version,
            "tariff": self.tariff,
        }


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Band:
    """One duration band of a tariff (all durations in minutes, prices in minor units).

    A *flat* band (``every is None``) charges ``price`` in total for a stay longer
    than the previous band's ``up_to`` and at most its own ``up_to``. An
    *increment* band charges the previous band's total plus ``price`` for each
    started ``every`` minutes beyond the previous band's ``up_to``. ``up_to is
    None`` marks the open-ended last band. Rules: ``docs/rates.md``, *Bands*.
    """

    up_to: int | None
    price: int
    every: int | None = None
    name: str | None = None

    def total_at_end(self, start: int, total_before: int) -> int:
        """Cumulative price (minor units) of a stay ending at this band's ``up_to``.

        ``start`` is where the band starts (the previous ``up_to``, minutes) and
        ``total_before`` the cumulative price there. An open-ended increment
        band has no end: it returns ``total_before``.
        """
        if self.every is None:
            return self.price
        if self.up_to is None:
            return total_before
        return total_before + self.price * ceil_div(self.up_to - start, self.every)

    def to_dict(self, currency: str) -> dict[str, Any]:
        """Stored form: ``{"name"?, "up_to"? (minutes), "every"? (minutes), "price": "2.20"}``."""
        return _present(
            {"name": self.name, "up_to": self.up_to, "every": self.every, "price": to_major_str(self.price, currency)}
        )


@dataclass(frozen=True)
class TimeWindow:
    """A time-of-day window ``[start, end)`` in facility time, minutes after midnight.

    ``end`` may be 1440 (midnight at the end of the day); ``end <= start``
    wraps past midnight (18:00-08:00).
    """

    start: int
    end: int

    def contains(self, second_of_day: int) -> bool:
        """Whether a wall-clock time (seconds after local midnight) lies in the window."""
        lo, hi = self.start * 60, self.end * 60
        if lo < hi:
            return lo <= second_of_day < hi
        return second_of_day >= lo or second_of_day < hi

    def to_dict(self) -> dict[str, Any]:
        """Stored form: ``{"from": "18:00", "to": "08:00"}``."""
        return _window_dict(self.start, self.end)


@dataclass(frozen=True)
class ChargeWindow:
    """Chargeable hours: time inside a window counts toward the stay's bands.

    ``days`` (day tokens, ``None`` = every day) picks the dates the window runs
    on; ``start``/``end`` are minutes after local midnight (``end <= start`` runs
    into the next day).
    """

    start: int
    end: int
    days: frozenset[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stored form: ``{"days"?: ["mon", ...], "from": "08:00", "to": "18:00"}``."""
        return _present({"days": _maybe(sorted_days, self.days), **_window_dict(self.start, self.end)})


@dataclass(frozen=True)
class LostTicket:
    """Lost-ticket fee: a flat ``price`` (minor units) or the price of a named band.

    ``per_day`` charges it once per started day of the stay (24 h periods, or
    calendar days when the tariff's daily maximum is per calendar day).
    ``or_fee_if_higher`` charges the normal fee for the stay instead when the
    entry time is known and that fee is higher.
    """

    price: int | None = None
    band: str | None = None
    per_day: bool = False
    or_fee_if_higher: bool = False

    def to_dict(self, currency: str) -> dict[str, Any]:
        """Stored form: ``{"price": "18.90"}`` or ``{"band": name}``, plus ``per_day``/``or_fee_if_higher`` if set."""
        return _present(
            {
                "price": _maybe(lambda p: to_major_str(p, currency), self.price),
                "band": self.band,
                "per_day": self.per_day or None,
                "or_fee_if_higher": self.or_fee_if_higher or None,
            }
        )


@dataclass(frozen=True)
class Surge:
    """Occupancy surge: ``steps`` of (occupancy threshold 0..1, multiplier), capped.

    The multiplier is that of the highest threshold at or below the occupancy
    (1 below the first threshold), never above ``cap``. Source: seed 003
    ("Caps: maximum multiplier prevents gouging", "daily maximums even during
    surge").
    """

    steps: tuple[tuple[Decimal, Decimal], ...]
    cap: Decimal | None = None

    def multiplier(self, occupancy: float | Decimal) -> Decimal:
        """The multiplier for an occupancy fraction in 0..1 (as measured at entry)."""
        occ = Decimal(str(occupancy))
        result = Decimal(1)
        for threshold, mult in self.steps:
            if occ >= threshold:
                result = mult
        if self.cap is not None and result > self.cap:
            result = self.cap
        return result

    def to_dict(self) -> dict[str, Any]:
        """Stored form: ``{"steps": [{"occupancy": "0.8", "multiplier": "1.2"}], "cap"?: "1.5"}`` (exact decimals)."""
        steps = [{"occupancy": str(o), "multiplier": str(m)} for o, m in self.steps]
        return _present({"steps": steps, "cap": _maybe(str, self.cap)})


@dataclass(frozen=True)
class Tariff:
    """One tariff of a plan: when it applies (conditions) and how it prices.

    Conditions (``None`` = any): ``vehicles``, ``spot_types``, ``days`` (day
    tokens of the arrival date), ``arrival`` (window on the arrival time).
    ``leave_by`` (minutes after midnight: the first such time after arrival) and
    ``max_stay`` (minutes) set a deadline; past it the tariff is skipped
    (``beyond="skip"``) or charges up to the deadline and the rest of the stay is
    priced as a new arrival at the deadline (``beyond="continue"``).
    ``leave_after`` requires the exit at or after that time of the arrival day.
    Pricing: ``free``, or ``bands`` with optional ``daily_max`` (minor units)
    per ``daily_max_per``: ``"24h"`` (24 h periods from entry, each priced by
    the bands from scratch) or ``"calendar_day"`` (bands run on from entry; the
    charge falling in each facility calendar day is capped).
    ``reset_at_midnight`` prices each calendar day as a stay of its own.
    ``charge_hours`` limits the time that counts to those windows.
    ``or_cheaper`` charges the next matching tariff instead when that is cheaper.
    ``zones`` (bay zone names of the layout, lower case) and ``concessions``
    (names of concessions recorded on the session, e.g. ``disabled_badge``)
    are conditions too: a tariff with ``zones`` prices only stays whose bay is
    in one of them, one with ``concessions`` only stays that hold one of them.

    An *adjusting* tariff (``free_first`` minutes and/or ``discount``, a
    fraction 0..1, and/or ``grace``, and no prices of its own) prices nothing
    itself: when it is the first matching tariff, its ``grace`` (if any) is
    the stay's free period, and the stay is priced by the tariffs after it as
    a new arrival ``free_first`` minutes after the entry, the result reduced
    by ``discount`` (rounded half up to the minor unit). Rules:
    ``docs/rates.md`` (*Zones, concessions and re-entry*).

    Derived from ``bands``: ``band_starts[i]`` (minutes where band ``i``
    starts) and ``band_totals[i]`` (cumulative price at its end, minor units).
    """

    name: str
    bands: tuple[Band, ...] = ()
    free: bool = False
    vehicles: tuple[str, ...] | None = None
    spot_types: tuple[str, ...] | None = None
    days: frozenset[str] | None = None
    arrival: TimeWindow | None = None
    leave_by: int | None = None
    leave_after: int | None = None
    max_stay: int | None = None
    beyond: str = "skip"
    grace: int | None = None
    daily_max: int | None = None
    daily_max_per: str = "24h"
    reset_at_midnight: bool = False
    charge_hours: tuple[ChargeWindow, ...] = ()
    lost_ticket: LostTicket | None = None
    or_cheaper: bool = False
    zones: frozenset[str] | None = None
    concessions: frozenset[str] | None = None
    free_first: int | None = None
    discount: Decimal | None = None
    band_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    band_totals: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts: list[int] = []
        totals: list[int] = []
        start, total = 0, 0
        for band in self.bands:
            starts.append(start)
            total = band.total_at_end(start, total)
            totals.append(total)
            start = band.up_to if band.up_to is not None else start
        object.__setattr__(self, "band_starts", tuple(starts))
        object.__setattr__(self, "band_totals", tuple(totals))

    # -- the schedule F(d): cumulative price for d microseconds of (chargeable) time

    def value(self, d_us: int) -> int:
        """Cumulative price in minor units for a stay of ``d_us`` microseconds.

        Past the ``up_to`` of a bounded last band the schedule starts again
        ("24 h then repeats"): F(q*L + r) = q*F(L) + F(r) with 0 < r <= L.
        """
        if d_us <= 0 or self.free or not self.bands:
            return 0
        repeats, rest = self.repeats(d_us)
        total = repeats * self.band_totals[-1]
        i = self.band_index(rest)
        band = self.bands[i]
        if band.every is None:
            return total + band.price
        return total + (self.band_totals[i - 1] if i else 0) + band.price * self.increments(i, rest)

    def repeats(self, d_us: int) -> tuple[int, int]:
        """``(q, r)`` with ``d_us = q * L + r``, ``0 < r <= L``: whole runs of a bounded schedule of length L.

        ``(0, d_us)`` when the stay fits in the bands (or the last band is open-ended).
        """
        last = self.bands[-1].up_to if self.bands else None
        if last is None or d_us <= last * MINUTE_US:
            return 0, d_us
        q, r = divmod(d_us, last * MINUTE_US)
        if r == 0:
            q, r = q - 1, last * MINUTE_US
        return q, r

    def band_index(self, d_us: int) -> int:
        """Index of the band that prices a stay of ``d_us`` microseconds (``<= up_to``, exactly)."""
        for i, band in enumerate(self.bands):
            if band.up_to is None or d_us <= band.up_to * MINUTE_US:
                return i
        return len(self.bands) - 1

    def increments(self, i: int, d_us: int) -> int:
        """Started ``every`` periods of increment band ``i`` in a stay of ``d_us`` microseconds."""
        band = self.bands[i]
        assert band.every is not None
        return ceil_div(d_us - self.band_starts[i] * MINUTE_US, band.every * MINUTE_US)

    def band_price(self, name: str) -> int | None:
        """Full price of the band called ``name`` (``None`` if absent or open-ended increments)."""
        for i, band in enumerate(self.bands):
            if band.name == name:
                if band.every is not None and band.up_to is None:
                    return None
                return self.band_totals[i]
        return None

    # -- conditions

    @property
    def adjusting(self) -> bool:
        """True for an adjusting tariff (``free_first``, ``discount``, or a ``grace`` alone; no prices of its
        own): the tariffs after it price the stay."""
        return self.free_first is not None or self.discount is not None or (not self.bands and not self.free)

    def matches_arrival(self, vehicle: str, spot: str, day_tags: frozenset[str], second_of_day: int,
                        zone: str | None = None, concessions: frozenset[str] = frozenset()) -> bool:
        """Whether the conditions on the arrival hold: vehicle class, spot type, bay zone, concessions,
        day tokens, arrival window.

        ``second_of_day`` is the arrival's facility wall-clock time in seconds
        after midnight; ``zone`` the bay's zone (lower case, ``None`` when not
        known: no ``zones`` condition matches it); ``concessions`` the names
        recorded on the session. Exit conditions (``leave_by``, ``max_stay``,
        ``leave_after``) are the engine's to check.
        """
        if self.vehicles is not None and vehicle not in self.vehicles:
            return False
        if self.spot_types is not None and spot not in self.spot_types:
            return False
        if self.zones is not None and zone not in self.zones:
            return False
        if self.concessions is not None and not (self.concessions & concessions):
            return False
        if self.days is not None and not (self.days & day_tags):
            return False
        return self.arrival is None or self.arrival.contains(second_of_day)

    @property
    def deadline_free(self) -> bool:
        """True when the tariff never stops applying because of the exit time."""
        return (self.leave_by is None and self.max_stay is None) or self.beyond == "continue"

    @property
    def unconditional(self) -> bool:
        """True when the tariff prices every stay that reaches it (no condition, no ``or_cheaper``)."""
        return (
            self.vehicles is None
            and self.spot_types is None
            and self.zones is None
            and self.concessions is None
            and not self.adjusting
            and self.days is None
            and self.arrival is None
            and self.leave_after is None
            and self.deadline_free
            and not self.or_cheaper
        )

    def to_dict(self, currency: str) -> dict[str, Any]:
        """Canonical plain-JSON form (durations in minutes, money as decimal strings, times ``"HH:MM"``)."""
        has_deadline = self.leave_by is not None or self.max_stay is not None
        return _present(
            {
                "name": self.name,
                "vehicles": _maybe(list, self.vehicles),
                "spot_types": _maybe(list, self.spot_types),
                "zones": _maybe(sorted, self.zones),
                "concessions": _maybe(sorted, self.concessions),
                "days": _maybe(sorted_days, self.days),
                "arrival": _maybe(TimeWindow.to_dict, self.arrival),
                "leave_by": _maybe(clock_text, self.leave_by),
                "leave_after": _maybe(clock_text, self.leave_after),
                "max_stay": self.max_stay,
                "beyond": self.beyond if has_deadline else None,
                "grace": self.grace,
                "or_cheaper": self.or_cheaper or None,
                "free_first": self.free_first,
                "discount": _maybe(_percent_text, self.discount),
                "free": self.free or None,
                "bands": None if self.free or self.adjusting else [band.to_dict(currency) for band in self.bands],
                "daily_max": _maybe(lambda m: to_major_str(m, currency), self.daily_max),
                "daily_max_per": None if self.daily_max_per == "24h" else self.daily_max_per,
                "reset_at_midnight": self.reset_at_midnight or None,
                "charge_hours": [w.to_dict() for w in self.charge_hours] or None,
                "lost_ticket": _maybe(lambda rule: rule.to_dict(currency), self.lost_ticket),
            }
        )


@dataclass(frozen=True)
class ReservationRules:
    """The plan's rules for reservations (``[reservations]``, ``docs/rates.md`` *Reservations*).

    Durations in minutes, money in minor units. ``hourly``/``flat`` price the
    booked window (per started hour / once); neither: the plan's tariff prices
    it as a stay from ``from`` to ``to``. ``arrival_allowance``: how long before
    the window's start a bay is held and check-in is accepted. ``no_show_grace``:
    after the start, an unchecked reservation becomes a no-show and
    ``no_show_fee`` is kept from its prepayment (the rest refunded).
    ``free_cancel_before``: a cancellation at least this long before the start
    is refunded in full, a later one less ``cancel_fee``. ``overstay_grace``: time
    past the window's end that costs nothing; beyond it the overstay is priced by
    ``overstay_hourly`` per started hour (``None``: the plan's tariff from the
    window's end) plus ``overstay_surcharge`` once. ``early_arrival``: ``"walk_in"``
    (before the allowance the vehicle enters as a walk-in) or ``"tariff"`` (checked
    in; the time before the window is priced by the plan's tariff).
    Source: issue 11; seeds 001/004 (holding windows, no-show, overstay penalty).
    """

    hourly: int | None = None
    flat: int | None = None
    arrival_allowance: int = 15
    no_show_grace: int = 30
    no_show_fee: int = 0
    free_cancel_before: int = 1440
    cancel_fee: int = 0
    overstay_grace: int = 10
    overstay_hourly: int | None = None
    overstay_surcharge: int = 0
    early_arrival: str = "walk_in"

    def to_dict(self, currency: str) -> dict[str, Any]:
        """Stored form: durations in minutes, money as decimal strings (the plan file's own keys)."""
        money = lambda m: _maybe(lambda v: to_major_str(v, currency), m)
        return _present({
            "hourly": money(self.hourly), "flat": money(self.flat), "arrival_allowance": self.arrival_allowance,
            "no_show_grace": self.no_show_grace, "no_show_fee": money(self.no_show_fee),
            "free_cancel_before": self.free_cancel_before, "cancel_fee": money(self.cancel_fee),
            "overstay_grace": self.overstay_grace, "overstay_hourly": money(self.overstay_hourly),
            "overstay_surcharge": money(self.overstay_surcharge), "early_arrival": self.early_arrival,
        })


@dataclass(frozen=True)
class RatePlan:
    """A validated rate plan; build it with ``parse_rate_plan``/``load_rate_plan`` or :meth:`from_dict`.

    Durations are minutes, money minor units of ``currency``. ``tariffs`` are
    tried in order and the first that matches the stay prices it.
    ``re_entry_minutes``: a plate re-entering within that many minutes of its
    previous exit continues that stay (``docs/rates.md``, *Re-entry*); with
    ``re_entry_time_away_free`` the time between the visits is not charged. ``timezone``
    (optional IANA name) is the facility zone a plan file was written for; the
    CLI uses it to read naive times. Plans are versioned and never edited in
    place: store a new version instead (``version``, ``effective_from``).
    """

    name: str
    currency: str
    tariffs: tuple[Tariff, ...]
    version: str | None = None
    timezone: str | None = None
    effective_from: str | None = None
    grace_minutes: int = 0
    exit_grace_minutes: int = 0
    vehicle_classes: tuple[str, ...] = VEHICLE_CLASSES
    holidays: tuple[date, ...] = ()
    lost_ticket: LostTicket | None = None
    surge: Surge | None = None
    re_entry_minutes: int | None = None
    re_entry_time_away_free: bool = False
    reservations: ReservationRules | None = None

    @property
    def concession_names(self) -> frozenset[str]:
        """Every concession a tariff of the plan names (what an attendant may record on a session)."""
        return frozenset(c for t in self.tariffs for c in (t.concessions or ()))

    @property
    def zone_names(self) -> frozenset[str]:
        """Every bay zone a tariff of the plan names (lower case)."""
        return frozenset(z for t in self.tariffs for z in (t.zones or ()))

    @property
    def zone(self) -> tzinfo | None:
        """The plan's declared facility timezone as a ZoneInfo, or ``None``."""
        return None if self.timezone is None else ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-ready dict; ``RatePlan.from_dict(p.to_dict()) == p``.

        It is the TOML schema itself (durations as whole minutes, money as
        decimal strings in major units, times as ``"HH:MM"``), with every tariff
        listed under ``tariffs``. This is the stored body of a plan version.
        """
        return _present(
            {
                "name": self.name,
                "version": self.version,
                "currency": self.currency,
                "timezone": self.timezone,
                "effective_from": self.effective_from,
                "grace": self.grace_minutes,
                "exit_grace": self.exit_grace_minutes,
                "vehicle_classes": list(self.vehicle_classes),
                "holidays": [d.isoformat() for d in self.holidays] or None,
                "lost_ticket": _maybe(lambda rule: rule.to_dict(self.currency), self.lost_ticket),
                "surge": _maybe(Surge.to_dict, self.surge),
                "re_entry": _maybe(lambda m: _present({"within": m, "time_away": "free" if
                                                      self.re_entry_time_away_free else None}),
                                   self.re_entry_minutes),
                "reservations": _maybe(lambda r: r.to_dict(self.currency), self.reservations),
                "tariffs": [t.to_dict(self.currency) for t in self.tariffs],
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> RatePlan:
        """Validate and build a plan from its dict form (as stored in the database).

        Same rules as a plan file (``docs/rates.md``), except that a ``holiday``
        day type without a ``holidays`` list passes (versions stored before that
        rule reprice as they did). Raises ``RatePlanError``
        (an :class:`~attendant.core.errors.InputError`) naming ``source`` and the
        field, without a line number, on anything invalid.
        """
        # Imported here: validation imports this module (and only plan readers need it).
        from attendant.core.rates.validation import build_plan

        return build_plan(data, source, stored=True)

    @property
    def reservation_rules(self) -> ReservationRules:
        """The plan's ``[reservations]`` rules, or the defaults when it has none."""
        return self.reservations or ReservationRules()

    def describe(self) -> str:
        """One-line summary for tickets, e.g. ``£2.40 per started hour, max £18.90 a day``.

        Describes the tariff a car in a regular bay gets at an unrestricted time
        (the first such tariff), plus the grace period.
        """
        # Imported here: text imports this module.
        from attendant.core.rates.text import describe_plan

        return describe_plan(self)
