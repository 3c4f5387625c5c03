"""Rate plans (tariffs) and the fee engine (BRIEF.md feature 5).

A rate plan is written in TOML (format and examples: ``docs/rates.md``), read
with :mod:`tomllib`, validated into frozen dataclasses, and stored as JSON (one
row per version; :meth:`RatePlan.to_dict` / :meth:`RatePlan.from_dict`).
:func:`compute_fee` prices one parking session with the plan version that was in
force at its entry (rate locked at entry), so history reprices the same.

Rules the engine applies (each documented and tested):

* Money is integer minor units of the plan's currency; never a float. Surge
  multipliers are :class:`~decimal.Decimal` and the product is rounded half up
  to the minor unit (``ROUND_HALF_UP``), once per charging period.
* A stay is measured as real elapsed time between two aware instants, to the
  microsecond, so DST changes never add or remove an hour. A band "up to N"
  covers stays with ``elapsed <= N``: 60:00 is "up to 1 h", 60:01 is not.
* Calendar days, arrival times, day types and chargeable hours use facility
  time (the ``tz`` given to :func:`compute_fee`, an IANA zone via
  :mod:`zoneinfo`), DST included. Nothing reads the machine's local timezone.
* Multi-day stays loop per day (never per minute): a fee is a handful of
  arithmetic steps per 24 h.

Libraries: :mod:`tomllib` (parsing), :mod:`zoneinfo` (facility time),
:mod:`decimal` (surge arithmetic), :mod:`difflib` (did-you-mean in errors).
TOML gives no line numbers, so :func:`_key_lines` scans the source text to
place each error on the line of the offending key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attendant.core.errors import InputError
from attendant.core.money import format_money, parse_major, to_major_str
from attendant.core.vocab import SpotType, VehicleClass

__all__ = [
    "Band",
    "ChargeWindow",
    "Fee",
    "FeeLine",
    "LostTicket",
    "RatePlan",
    "RatePlanError",
    "Surge",
    "Tariff",
    "TimeWindow",
    "compute_fee",
    "exit_deadline",
    "format_minutes",
    "load_rate_plan",
    "parse_rate_plan",
]

_US = 1_000_000  # microseconds per second
_MIN_US = 60 * _US
_DAY = timedelta(hours=24)
_UTC = timezone.utc
_MAX_SEGMENTS = 100_000  # guard against a plan whose continuations never end

VEHICLE_CLASSES: tuple[str, ...] = tuple(v.value for v in VehicleClass)
SPOT_TYPES: tuple[str, ...] = tuple(s.value for s in SpotType)
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY_ALIASES = {
    "mon": "mon", "monday": "mon",
    "tue": "tue", "tues": "tue", "tuesday": "tue",
    "wed": "wed", "weds": "wed", "wednesday": "wed",
    "thu": "thu", "thur": "thu", "thurs": "thu", "thursday": "thu",
    "fri": "fri", "friday": "fri",
    "sat": "sat", "saturday": "sat",
    "sun": "sun", "sunday": "sun",
    "weekday": "weekday", "weekdays": "weekday",
    "weekend": "weekend", "weekends": "weekend",
    "holiday": "holiday", "holidays": "holiday", "public_holiday": "holiday", "bank_holiday": "holiday",
}  # fmt: skip


# --------------------------------------------------------------------------- results


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


class RatePlanError(InputError):
    """A rate plan that cannot be used, located in its source.

    ``str(error)`` reads ``rates.toml:12: bands[2].up_to: overlaps band 1 (...)``;
    the parts are also available as ``file``, ``line`` (1-based, or ``None``
    when unknown, e.g. for a plan read from JSON), ``field`` (a path such as
    ``tariffs[1].bands[0].price``, or ``None``) and ``reason``.
    """

    def __init__(self, reason: str, *, file: str = "<string>", line: int | None = None, field: str | None = None):
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")


# --------------------------------------------------------------------------- plan model


def format_minutes(minutes: int) -> str:
    """Human duration for labels: ``20 min``, ``1 h``, ``1 h 30 min``, ``3 days``."""
    if minutes >= 2880 and minutes % 1440 == 0:
        return f"{minutes // 1440} days"
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def _duration_text(minutes: int) -> str:
    """Duration as written in a plan file: ``20m``, ``1h``, ``1h30m``."""
    hours, mins = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{mins}m" if mins or not hours else "")


def _clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Band:
    """One duration band of a tariff (all durations in minutes, prices in minor units).

    A *flat* band (``every is None``) charges ``price`` in total for a stay longer
    than the previous band's ``up_to`` and at most its own ``up_to``. An
    *increment* band charges the previous band's total plus ``price`` for each
    started ``every`` minutes beyond the previous band's ``up_to``. ``up_to is
    None`` marks the open-ended last band.
    """

    up_to: int | None
    price: int
    every: int | None = None
    name: str | None = None


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
    _los: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        los: list[int] = []
        ends: list[int] = []
        lo, total = 0, 0
        for band in self.bands:
            los.append(lo)
            if band.every is None:
                total = band.price
            elif band.up_to is not None:
                total = total + band.price * _ceil_div(band.up_to - lo, band.every)
            ends.append(total)
            lo = band.up_to if band.up_to is not None else lo
        object.__setattr__(self, "_los", tuple(los))
        object.__setattr__(self, "_ends", tuple(ends))

    # -- the schedule F(d): cumulative price for d microseconds of (chargeable) time

    def value(self, d_us: int) -> int:
        """Cumulative price in minor units for a stay of ``d_us`` microseconds.

        Past the ``up_to`` of a bounded last band the schedule starts again
        ("24 h then repeats"): F(q*L + r) = q*F(L) + F(r) with 0 < r <= L.
        """
        if d_us <= 0 or self.free or not self.bands:
            return 0
        last = self.bands[-1].up_to
        if last is not None and d_us > last * _MIN_US:
            q, r = self._split(d_us, last * _MIN_US)
            return q * self._ends[-1] + self._base_value(r)
        return self._base_value(d_us)

    @staticmethod
    def _split(d_us: int, cycle_us: int) -> tuple[int, int]:
        q, r = divmod(d_us, cycle_us)
        if r == 0:
            q, r = q - 1, cycle_us
        return q, r

    def _band_index(self, d_us: int) -> int:
        for i, band in enumerate(self.bands):
            if band.up_to is None or d_us <= band.up_to * _MIN_US:
                return i
        return len(self.bands) - 1

    def _base_value(self, d_us: int) -> int:
        i = self._band_index(d_us)
        band = self.bands[i]
        if band.every is None:
            return band.price
        start = self._ends[i - 1] if i else 0
        return start + band.price * _ceil_div(d_us - self._los[i] * _MIN_US, band.every * _MIN_US)

    def band_label(self, i: int, currency: str) -> str:
        """Label of band ``i``: its ``name``, else ``Up to 1 h`` / ``Over 8 h``."""
        band = self.bands[i]
        if band.name:
            return band.name
        if band.up_to is not None:
            return f"Up to {format_minutes(band.up_to)}"
        if band.every is not None:
            return f"Each {format_minutes(band.every)} after {format_minutes(self._los[i])}"
        return f"Over {format_minutes(self._los[i])}" if self._los[i] else "Flat rate"

    def describe_at(self, d_us: int, currency: str) -> str:
        """Breakdown label for a stay of ``d_us`` microseconds priced from the start."""
        if not self.bands or d_us <= 0:
            return "No chargeable time"
        prefix = ""
        last = self.bands[-1].up_to
        if last is not None and d_us > last * _MIN_US:
            q, d_us = self._split(d_us, last * _MIN_US)
            prefix = f"{q} × {format_minutes(last)} at {format_money(self._ends[-1], currency)} + "
        i = self._band_index(d_us)
        band = self.bands[i]
        if band.every is None:
            return prefix + self.band_label(i, currency)
        n = _ceil_div(d_us - self._los[i] * _MIN_US, band.every * _MIN_US)
        text = f"{n} × {format_minutes(band.every)} at {format_money(band.price, currency)}"
        if i:
            text = f"{self.band_label(i - 1, currency)} + {text}"
        return prefix + text

    def describe_span(self, a_us: int, b_us: int, currency: str) -> str:
        """Label for the charge between chargeable times ``a_us`` and ``b_us`` (a later period)."""
        if a_us <= 0:
            return self.describe_at(b_us, currency)
        if len(self.bands) == 1 and self.bands[0].every is not None and self.bands[0].up_to is None:
            band = self.bands[0]
            step = band.every * _MIN_US
            n = _ceil_div(b_us, step) - _ceil_div(a_us, step)
            return f"{n} × {format_minutes(band.every)} at {format_money(band.price, currency)}"
        return f"{format_minutes(_ceil_div(b_us - a_us, _MIN_US))} more"

    def band_price(self, name: str) -> int | None:
        """Full price of the band called ``name`` (``None`` if absent or open-ended increments)."""
        for i, band in enumerate(self.bands):
            if band.name == name:
                if band.every is not None and band.up_to is None:
                    return None
                return self._ends[i]
        return None

    def summary(self, currency: str) -> str:
        """Short human description of the pricing, e.g. ``£2.40 per started hour``."""
        if self.free:
            return "free"
        items: list[str] = []
        for i, band in enumerate(self.bands):
            price = format_money(band.price, currency) if band.price else "free"
            if band.every is not None:
                unit = "hour" if band.every == 60 else format_minutes(band.every)
                text = f"{price} per started {unit}"
                if i:
                    text = "then " + text
                if band.up_to is not None and i < len(self.bands) - 1:
                    text += f" up to {format_minutes(band.up_to)}"
            elif band.up_to is not None:
                text = f"{price} up to {format_minutes(band.up_to)}"
            elif self._los[i]:
                text = f"{price} over {format_minutes(self._los[i])}"
            else:
                text = f"{price} flat"
            items.append(text)
        if len(items) > 3:
            items = [items[0], "…", items[-1]]
        return ", ".join(items)

    def _is_catch_all(self) -> bool:
        return (
            self.vehicles is None
            and self.spot_types is None
            and self.days is None
            and self.arrival is None
            and self.leave_after is None
            and self.deadline_free
            and not self.or_cheaper
        )

    @property
    def deadline_free(self) -> bool:
        """True when the tariff never stops applying because of the exit time."""
        return (self.leave_by is None and self.max_stay is None) or self.beyond == "continue"

    def to_dict(self, currency: str) -> dict[str, Any]:
        """Canonical plain-JSON form (durations in minutes, money as decimal strings)."""
        out: dict[str, Any] = {"name": self.name}
        if self.vehicles is not None:
            out["vehicles"] = list(self.vehicles)
        if self.spot_types is not None:
            out["spot_types"] = list(self.spot_types)
        if self.days is not None:
            out["days"] = _sorted_days(self.days)
        if self.arrival is not None:
            out["arrival"] = {"from": _clock_text(self.arrival.start), "to": _clock_text(self.arrival.end)}
        if self.leave_by is not None:
            out["leave_by"] = _clock_text(self.leave_by)
        if self.leave_after is not None:
            out["leave_after"] = _clock_text(self.leave_after)
        if self.max_stay is not None:
            out["max_stay"] = self.max_stay
        if self.leave_by is not None or self.max_stay is not None:
            out["beyond"] = self.beyond
        if self.grace is not None:
            out["grace"] = self.grace
        if self.or_cheaper:
            out["or_cheaper"] = True
        if self.free:
            out["free"] = True
        else:
            bands = []
            for band in self.bands:
                b: dict[str, Any] = {}
                if band.name is not None:
                    b["name"] = band.name
                if band.up_to is not None:
                    b["up_to"] = band.up_to
                if band.every is not None:
                    b["every"] = band.every
                b["price"] = to_major_str(band.price, currency)
                bands.append(b)
            out["bands"] = bands
        if self.daily_max is not None:
            out["daily_max"] = to_major_str(self.daily_max, currency)
        if self.daily_max_per != "24h":
            out["daily_max_per"] = self.daily_max_per
        if self.reset_at_midnight:
            out["reset_at_midnight"] = True
        if self.charge_hours:
            out["charge_hours"] = [
                {
                    **({"days": _sorted_days(w.days)} if w.days is not None else {}),
                    "from": _clock_text(w.start),
                    "to": _clock_text(w.end),
                }
                for w in self.charge_hours
            ]
        if self.lost_ticket is not None:
            out["lost_ticket"] = _lost_to_dict(self.lost_ticket, currency)
        return out


def _sorted_days(days: frozenset[str]) -> list[str]:
    order = {name: i for i, name in enumerate((*_DAY_NAMES, "weekday", "weekend", "holiday"))}
    return sorted(days, key=lambda d: order[d])


def _lost_to_dict(rule: LostTicket, currency: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.price is not None:
        out["price"] = to_major_str(rule.price, currency)
    if rule.band is not None:
        out["band"] = rule.band
    if rule.per_day:
        out["per_day"] = True
    if rule.or_fee_if_higher:
        out["or_fee_if_higher"] = True
    return out


@dataclass(frozen=True)
class RatePlan:
    """A validated rate plan; build it with :func:`parse_rate_plan` or :meth:`from_dict`.

    Durations are minutes, money minor units of ``currency``. ``tariffs`` are
    tried in order and the first that matches the stay prices it. ``timezone``
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

    @property
    def zone(self) -> tzinfo | None:
        """The plan's declared facility timezone as a ZoneInfo, or ``None``."""
        return None if self.timezone is None else ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-ready dict; ``RatePlan.from_dict(p.to_dict()) == p``.

        It is the TOML schema itself (durations as whole minutes, money as
        decimal strings in major units, times as ``"HH:MM"``), with every tariff
        listed under ``tariffs``.
        """
        out: dict[str, Any] = {"name": self.name}
        if self.version is not None:
            out["version"] = self.version
        out["currency"] = self.currency
        if self.timezone is not None:
            out["timezone"] = self.timezone
        if self.effective_from is not None:
            out["effective_from"] = self.effective_from
        out["grace"] = self.grace_minutes
        out["exit_grace"] = self.exit_grace_minutes
        out["vehicle_classes"] = list(self.vehicle_classes)
        if self.holidays:
            out["holidays"] = [d.isoformat() for d in self.holidays]
        if self.lost_ticket is not None:
            out["lost_ticket"] = _lost_to_dict(self.lost_ticket, self.currency)
        if self.surge is not None:
            surge: dict[str, Any] = {
                "steps": [{"occupancy": str(o), "multiplier": str(m)} for o, m in self.surge.steps]
            }
            if self.surge.cap is not None:
                surge["cap"] = str(self.surge.cap)
            out["surge"] = surge
        out["tariffs"] = [t.to_dict(self.currency) for t in self.tariffs]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> RatePlan:
        """Validate and build a plan from its dict form (as stored in the database).

        Raises :class:`RatePlanError` (without line numbers) on anything invalid.
        """
        return _build_plan(_Parser(source, {}), data)

    def describe(self) -> str:
        """One-line summary for tickets, e.g. ``£2.40 per started hour, max £18.90 a day``.

        Describes the tariff a car in a regular bay gets at an unrestricted time
        (the first such tariff), plus the grace period.
        """
        tariff = _main_tariff(self)
        parts = [tariff.summary(self.currency)]
        if tariff.daily_max is not None:
            per = "per calendar day" if tariff.daily_max_per == "calendar_day" else "a day"
            parts.append(f"max {format_money(tariff.daily_max, self.currency)} {per}")
        text = ", ".join(parts)
        grace = tariff.grace if tariff.grace is not None else self.grace_minutes
        if grace and not tariff.free:
            text += f"; free up to {format_minutes(grace)}"
        return text


def _main_tariff(plan: RatePlan) -> Tariff:
    def fits(t: Tariff) -> bool:
        return (t.vehicles is None or "car" in t.vehicles) and (t.spot_types is None or "regular" in t.spot_types)

    for strict in (True, False):
        for t in plan.tariffs:
            if fits(t) and (not strict or (t.arrival is None and t.days is None and t.leave_after is None)):
                return t
    return plan.tariffs[0]


def exit_deadline(plan: RatePlan, paid_at: datetime) -> datetime:
    """Latest exit after paying at ``paid_at`` (aware): ``paid_at + exit_grace`` (UTC)."""
    _require_aware(paid_at, "paid_at")
    return paid_at.astimezone(_UTC) + timedelta(minutes=plan.exit_grace_minutes)


# --------------------------------------------------------------------------- parsing

_PRICING_KEYS = frozenset({"bands", "flat", "free", "daily_max", "daily_max_per", "reset_at_midnight", "charge_hours"})
_PLAN_KEYS = frozenset(
    {"name", "version", "currency", "timezone", "effective_from", "grace", "exit_grace", "vehicle_classes",
     "holidays", "lost_ticket", "surge", "tariffs"}
) | _PRICING_KEYS  # fmt: skip
_TARIFF_KEYS = frozenset(
    {"name", "vehicles", "spot_types", "days", "arrival", "leave_by", "leave_after", "max_stay", "beyond",
     "grace", "or_cheaper", "lost_ticket"}
) | _PRICING_KEYS  # fmt: skip
_BAND_KEYS = frozenset({"name", "over", "up_to", "price", "every"})
_LOST_KEYS = frozenset({"price", "band", "per_day", "or_fee_if_higher"})
_SURGE_KEYS = frozenset({"steps", "cap"})
_STEP_KEYS = frozenset({"occupancy", "multiplier"})
_WINDOW_KEYS = frozenset({"from", "to"})
_CHARGE_KEYS = frozenset({"days", "from", "to"})
_DURATION_RE = re.compile(
    r"^\s*(?:(\d+)\s*d(?:ays?)?)?\s*(?:(\d+)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:ute)?s?)?)?\s*$", re.IGNORECASE
)
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")

Path_ = tuple[str | int, ...]


def _fmt_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Parser:
    """Validation helpers that raise :class:`RatePlanError` located in the source."""

    def __init__(self, source: str, lines: dict[Path_, int]):
        self.source = source
        self.lines = lines
        self.currency = "GBP"

    def fail(self, path: Path_, reason: str) -> NoReturn:
        line = None
        for k in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:k]))
            if line is not None:
                break
        raise RatePlanError(reason, file=self.source, line=line, field=_fmt_path(path) or None)

    def table(self, path: Path_, value: Any, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(sorted(allowed))}"
                self.fail((*path, key), f"unknown key ({hint})")
        return value

    def string(self, path: Path_, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        return value.strip()

    def boolean(self, path: Path_, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def duration(self, path: Path_, value: Any, *, positive: bool = False) -> int:
        """Minutes from ``20`` (whole minutes), ``"20m"``, ``"1h30m"``, ``"24h"`` or ``"2d"``."""
        minutes: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            minutes = value
        elif isinstance(value, str) and value.strip().isdigit():
            minutes = int(value)
        elif isinstance(value, str):
            m = _DURATION_RE.match(value)
            if m and any(m.groups()):
                d, h, mi = (int(g) if g else 0 for g in m.groups())
                minutes = d * 1440 + h * 60 + mi
        if minutes is None:
            self.fail(path, f'expected a duration like "20m", "1h30m", "24h" or whole minutes, got {value!r}')
        if minutes < 0 or (positive and minutes == 0):
            self.fail(path, f"must be {'more than' if positive else 'at least'} zero minutes, got {value!r}")
        return minutes

    def money(self, path: Path_, value: Any) -> int:
        """Minor units from ``"2.20"`` (recommended), ``2.2`` or ``2`` (major units)."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f'expected an amount like "2.20", got {_kind(value)}')
        text = str(value).strip()
        try:
            number = Decimal(text.lstrip("£$€"))
        except InvalidOperation:
            self.fail(path, f'not an amount: {value!r} (expected e.g. "2.20")')
        if number.is_finite() and number < 0:
            self.fail(path, f"negative price {text}: amounts must be zero or more")
        try:
            return parse_major(text, self.currency)
        except InputError as exc:
            self.fail(path, str(exc))

    def decimal(self, path: Path_, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f"expected a number, got {_kind(value)}")
        text = str(value).strip()
        percent = text.endswith("%")
        try:
            number = Decimal(text.rstrip("%").strip())
        except InvalidOperation:
            self.fail(path, f"not a number: {value!r}")
        if not number.is_finite():
            self.fail(path, f"not a finite number: {value!r}")
        return number / 100 if percent else number

    def clock(self, path: Path_, value: Any, *, allow_24: bool = False) -> int:
        """Minutes after midnight from ``"18:00"`` or a TOML local time ``18:00:00``."""
        if isinstance(value, time):
            if value.second or value.microsecond or value.tzinfo is not None:
                self.fail(path, f"expected a whole minute of local time like 18:00, got {value}")
            return value.hour * 60 + value.minute
        m = _TIME_RE.match(value) if isinstance(value, str) else None
        if not m:
            self.fail(path, f'expected a time of day like "18:00", got {value!r}')
        hh, mm = int(m.group(1)), int(m.group(2))
        if (hh, mm) == (24, 0) and allow_24:
            return 1440
        if hh > 23 or mm > 59:
            self.fail(path, f"not a time of day: {value!r}" + (' (use "24:00" for midnight)' if allow_24 else ""))
        return hh * 60 + mm

    def names(self, path: Path_, value: Any, known: tuple[str, ...], what: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.fail(path, f"expected a list of {what}s, got {_kind(value)}")
        out: list[str] = []
        for i, item in enumerate(items):
            where = (*path, i) if not isinstance(value, str) else path
            if not isinstance(item, str) or item.strip().lower() not in known:
                self.fail(where, f"unknown {what} {item!r} (known: {', '.join(known)})")
            name = item.strip().lower()
            if name not in out:
                out.append(name)
        return tuple(out)

    def days(self, path: Path_, value: Any) -> frozenset[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.fail(path, f"expected a list of days, got {_kind(value)}")
        out: set[str] = set()
        for i, item in enumerate(items):
            where = (*path, i) if not isinstance(value, str) else path
            token = item.strip().lower().replace(" ", "_") if isinstance(item, str) else None
            if token and token in _DAY_ALIASES:
                out.add(_DAY_ALIASES[token])
                continue
            if token and token.count("-") == 1:
                a, b = (_DAY_ALIASES.get(x) for x in token.split("-"))
                if a in _DAY_NAMES and b in _DAY_NAMES:
                    i_a, i_b = _DAY_NAMES.index(a), _DAY_NAMES.index(b)
                    out.update(_DAY_NAMES[(i_a + k) % 7] for k in range((i_b - i_a) % 7 + 1))
                    continue
            self.fail(
                where, f"unknown day {item!r} (use mon … sun, weekday, weekend, holiday, or a range like mon-fri)"
            )
        return frozenset(out)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _build_plan(p: _Parser, data: Any) -> RatePlan:
    data = p.table((), data, _PLAN_KEYS)
    if "name" not in data:
        p.fail(("name",), 'missing: give the plan a name, e.g. name = "Charlotte Street"')
    name = p.string(("name",), data["name"])
    if "currency" not in data:
        p.fail(("currency",), 'missing: give the ISO 4217 code, e.g. currency = "GBP"')
    currency = data["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency.strip()):
        p.fail(("currency",), f'expected a three-letter ISO 4217 code like "GBP", got {currency!r}')
    currency = currency.strip().upper()
    p.currency = currency

    version = data.get("version")
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, (str, int, float)) or not str(version).strip():
            p.fail(("version",), f'expected a version label like "2026-04", got {_kind(version)}')
        version = str(version).strip()

    tz_name = data.get("timezone")
    if tz_name is not None:
        tz_name = p.string(("timezone",), tz_name)
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            p.fail(("timezone",), f'unknown IANA timezone {tz_name!r} (e.g. "Europe/London")')

    effective = data.get("effective_from")
    if effective is not None:
        if isinstance(effective, (datetime, date)):
            effective = effective.isoformat()
        elif isinstance(effective, str):
            try:
                datetime.fromisoformat(effective.strip())
            except ValueError:
                p.fail(("effective_from",), f"expected an ISO date or date-time, got {effective!r}")
            effective = effective.strip()
        else:
            p.fail(("effective_from",), f"expected an ISO date or date-time, got {_kind(effective)}")

    grace = p.duration(("grace",), data["grace"]) if "grace" in data else 0
    exit_grace = p.duration(("exit_grace",), data["exit_grace"]) if "exit_grace" in data else 0
    classes = (
        p.names(("vehicle_classes",), data["vehicle_classes"], VEHICLE_CLASSES, "vehicle class")
        if "vehicle_classes" in data
        else VEHICLE_CLASSES
    )

    holidays: list[date] = []
    raw_holidays = data.get("holidays", [])
    if not isinstance(raw_holidays, list):
        p.fail(("holidays",), f'expected a list of dates like ["2026-12-25"], got {_kind(raw_holidays)}')
    for i, item in enumerate(raw_holidays):
        if isinstance(item, str):
            try:
                item = date.fromisoformat(item.strip())
            except ValueError:
                p.fail(("holidays", i), f"not a date: {item!r} (expected YYYY-MM-DD)")
        if isinstance(item, datetime) or not isinstance(item, date):
            p.fail(("holidays", i), f"expected a date like 2026-12-25, got {item!r}")
        holidays.append(item)

    lost = _lost_rule(p, ("lost_ticket",), data["lost_ticket"]) if "lost_ticket" in data else None
    surge = _surge(p, ("surge",), data["surge"]) if "surge" in data else None

    raw_tariffs = data.get("tariffs", [])
    if not isinstance(raw_tariffs, list):
        p.fail(("tariffs",), f"expected [[tariffs]] tables, got {_kind(raw_tariffs)}")
    tariffs: list[Tariff] = []
    paths: list[Path_] = []
    for i, raw in enumerate(raw_tariffs):
        tariffs.append(_tariff(p, ("tariffs", i), raw, classes, f"Tariff {i + 1}"))
        paths.append(("tariffs", i))
    top = {k: v for k, v in data.items() if k in _PRICING_KEYS}
    if top:
        tariffs.append(_tariff(p, (), top, classes, "Standard"))
        paths.append(())
    if not tariffs:
        p.fail((), "no prices: give `bands` (or `flat`, `free`) at the top level, or one or more [[tariffs]] tables")

    plan = RatePlan(
        name=name,
        currency=currency,
        tariffs=tuple(tariffs),
        version=version,
        timezone=tz_name,
        effective_from=effective,
        grace_minutes=grace,
        exit_grace_minutes=exit_grace,
        vehicle_classes=classes,
        holidays=tuple(holidays),
        lost_ticket=lost,
        surge=surge,
    )
    _check_lost_bands(p, plan, paths)
    _check_reachable(p, plan, paths)
    _check_coverage(p, plan, paths)
    return plan


def _tariff(p: _Parser, path: Path_, raw: Any, classes: tuple[str, ...], default_name: str) -> Tariff:
    raw = p.table(path, raw, _TARIFF_KEYS)
    name = p.string((*path, "name"), raw["name"]) if "name" in raw else default_name
    vehicles = None
    if "vehicles" in raw:
        vehicles = p.names((*path, "vehicles"), raw["vehicles"], VEHICLE_CLASSES, "vehicle class")
        for i, v in enumerate(vehicles):
            if v not in classes:
                p.fail((*path, "vehicles", i), f"vehicle class {v!r} is not in the plan's vehicle_classes")
    spot_types = (
        p.names((*path, "spot_types"), raw["spot_types"], SPOT_TYPES, "spot type") if "spot_types" in raw else None
    )
    days = p.days((*path, "days"), raw["days"]) if "days" in raw else None
    arrival = _window(p, (*path, "arrival"), raw["arrival"]) if "arrival" in raw else None
    leave_by = p.clock((*path, "leave_by"), raw["leave_by"]) if "leave_by" in raw else None
    leave_after = p.clock((*path, "leave_after"), raw["leave_after"]) if "leave_after" in raw else None
    max_stay = p.duration((*path, "max_stay"), raw["max_stay"], positive=True) if "max_stay" in raw else None
    beyond = "skip"
    if "beyond" in raw:
        beyond = raw["beyond"]
        if beyond not in ("skip", "continue"):
            p.fail((*path, "beyond"), f'expected "skip" or "continue", got {beyond!r}')
        if leave_by is None and max_stay is None:
            p.fail((*path, "beyond"), "has no effect without leave_by or max_stay")
    grace = p.duration((*path, "grace"), raw["grace"]) if "grace" in raw else None
    or_cheaper = p.boolean((*path, "or_cheaper"), raw["or_cheaper"]) if "or_cheaper" in raw else False
    if or_cheaper and beyond == "continue":
        p.fail((*path, "or_cheaper"), 'cannot be combined with beyond = "continue"')

    free = p.boolean((*path, "free"), raw["free"]) if "free" in raw else False
    given = [k for k in ("bands", "flat") if k in raw] + (["free"] if free else [])
    if len(given) != 1:
        if not given:
            p.fail(path or (next(iter(raw)),), "missing prices: give bands, flat or free = true")
        p.fail((*path, given[1]), f"give only one of bands, flat, free (found {' and '.join(given)})")
    bands: tuple[Band, ...] = ()
    if "bands" in raw:
        bands = _bands(p, (*path, "bands"), raw["bands"])
    elif "flat" in raw:
        bands = (Band(up_to=None, price=p.money((*path, "flat"), raw["flat"])),)

    daily_max = p.money((*path, "daily_max"), raw["daily_max"]) if "daily_max" in raw else None
    reset = p.boolean((*path, "reset_at_midnight"), raw["reset_at_midnight"]) if "reset_at_midnight" in raw else False
    per = raw.get("daily_max_per", "calendar_day" if reset else "24h")
    if per not in ("24h", "calendar_day"):
        p.fail((*path, "daily_max_per"), f'expected "24h" (from entry) or "calendar_day", got {per!r}')
    if reset and per != "calendar_day":
        p.fail((*path, "daily_max_per"), 'reset_at_midnight prices calendar days: use "calendar_day" or leave it out')
    if free and daily_max is not None:
        p.fail((*path, "daily_max"), "a free tariff has no daily maximum")
    charge_hours: tuple[ChargeWindow, ...] = ()
    if "charge_hours" in raw:
        items = raw["charge_hours"]
        if not isinstance(items, list) or not items:
            p.fail((*path, "charge_hours"), f"expected a list of windows, got {_kind(items)}")
        windows = []
        for i, item in enumerate(items):
            wp = (*path, "charge_hours", i)
            item = p.table(wp, item, _CHARGE_KEYS)
            window = _window(p, wp, {k: v for k, v in item.items() if k != "days"})
            wdays = p.days((*wp, "days"), item["days"]) if "days" in item else None
            windows.append(ChargeWindow(window.start, window.end, wdays))
        charge_hours = tuple(windows)
    lost = _lost_rule(p, (*path, "lost_ticket"), raw["lost_ticket"]) if "lost_ticket" in raw else None
    return Tariff(
        name=name,
        bands=bands,
        free=free,
        vehicles=vehicles,
        spot_types=spot_types,
        days=days,
        arrival=arrival,
        leave_by=leave_by,
        leave_after=leave_after,
        max_stay=max_stay,
        beyond=beyond,
        grace=grace,
        daily_max=daily_max,
        daily_max_per=per,
        reset_at_midnight=reset,
        charge_hours=charge_hours,
        lost_ticket=lost,
        or_cheaper=or_cheaper,
    )


def _window(p: _Parser, path: Path_, raw: Any) -> TimeWindow:
    raw = p.table(path, raw, _WINDOW_KEYS)
    for key in ("from", "to"):
        if key not in raw:
            p.fail((*path, key), 'missing: a window needs from and to, e.g. { from = "18:00", to = "08:00" }')
    start = p.clock((*path, "from"), raw["from"])
    end = p.clock((*path, "to"), raw["to"], allow_24=True)
    if start == end % 1440 and end != 1440:
        p.fail((*path, "to"), "same as from: leave the window out for all day")
    return TimeWindow(start, end)


def _bands(p: _Parser, path: Path_, raw: Any) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        p.fail(path, f"expected a list of bands, got {_kind(raw)}")
    bands: list[Band] = []
    prev_up = 0  # minutes covered by the bands so far
    prev_total = 0  # cumulative price at prev_up
    open_band: int | None = None
    names: set[str] = set()

    def prev_label(j: int) -> str:
        b = bands[j]
        return f"up to {format_minutes(b.up_to)}" if b.up_to is not None else "open-ended"

    for j, rb in enumerate(raw):
        bp = (*path, j)
        rb = p.table(bp, rb, _BAND_KEYS)
        if open_band is not None:
            p.fail(bp, f"comes after band {open_band}, which has no up_to (only the last band may leave it out)")
        if "price" not in rb:
            p.fail((*bp, "price"), 'missing: every band needs a price, e.g. price = "2.20"')
        price = p.money((*bp, "price"), rb["price"])
        every = p.duration((*bp, "every"), rb["every"], positive=True) if "every" in rb else None
        up_to = p.duration((*bp, "up_to"), rb["up_to"], positive=True) if "up_to" in rb else None
        name = p.string((*bp, "name"), rb["name"]) if "name" in rb else None
        if name is not None:
            if name in names:
                p.fail((*bp, "name"), f"duplicate band name {name!r}")
            names.add(name)
        if "over" in rb:
            over = p.duration((*bp, "over"), rb["over"])
            if over > prev_up:
                if j == 0:
                    p.fail(
                        (*bp, "over"),
                        f"gap: stays up to {format_minutes(over)} have no price (the first band starts at 0)",
                    )
                p.fail(
                    (*bp, "over"),
                    f"gap after band {j - 1} ({prev_label(j - 1)}): stays over {format_minutes(prev_up)} and up to "
                    f'{format_minutes(over)} have no price (write over = "{_duration_text(prev_up)}")',
                )
            if over < prev_up:
                p.fail(
                    (*bp, "over"),
                    f"overlaps band {j - 1} ({prev_label(j - 1)}): this band starts over {format_minutes(over)} "
                    f'(write over = "{_duration_text(prev_up)}")',
                )
        if up_to is not None and up_to <= prev_up:
            p.fail(
                (*bp, "up_to"),
                f"overlaps band {j - 1} ({prev_label(j - 1)}): up_to {format_minutes(up_to)} must be longer "
                f"than {format_minutes(prev_up)}",
            )
        if every is None and price < prev_total:
            p.fail(
                (*bp, "price"),
                f"{format_money(price, p.currency)} is less than band {j - 1} "
                f"({format_money(prev_total, p.currency)}): a longer stay cannot cost less",
            )
        if up_to is None:
            open_band = j
        else:
            prev_total = price if every is None else prev_total + price * _ceil_div(up_to - prev_up, every)
            prev_up = up_to
        bands.append(Band(up_to=up_to, price=price, every=every, name=name))
    return tuple(bands)


def _lost_rule(p: _Parser, path: Path_, raw: Any) -> LostTicket:
    raw = p.table(path, raw, _LOST_KEYS)
    if ("price" in raw) == ("band" in raw):
        p.fail(path, 'give exactly one of price (a flat fee) or band (the name of a band), e.g. { price = "18.90" }')
    price = p.money((*path, "price"), raw["price"]) if "price" in raw else None
    band = p.string((*path, "band"), raw["band"]) if "band" in raw else None
    per_day = p.boolean((*path, "per_day"), raw["per_day"]) if "per_day" in raw else False
    higher = p.boolean((*path, "or_fee_if_higher"), raw["or_fee_if_higher"]) if "or_fee_if_higher" in raw else False
    return LostTicket(price=price, band=band, per_day=per_day, or_fee_if_higher=higher)


def _surge(p: _Parser, path: Path_, raw: Any) -> Surge:
    raw = p.table(path, raw, _SURGE_KEYS)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        p.fail((*path, "steps"), "expected a list like [{ occupancy = 0.9, multiplier = 1.5 }]")
    steps: list[tuple[Decimal, Decimal]] = []
    for i, item in enumerate(steps_raw):
        sp = (*path, "steps", i)
        item = p.table(sp, item, _STEP_KEYS)
        for key in ("occupancy", "multiplier"):
            if key not in item:
                p.fail((*sp, key), "missing: each step needs occupancy (0..1) and multiplier")
        occ = p.decimal((*sp, "occupancy"), item["occupancy"])
        if not Decimal(0) <= occ <= Decimal(1):
            p.fail((*sp, "occupancy"), f"must be between 0 and 1 (the fraction taken), got {item['occupancy']!r}")
        if steps and occ <= steps[-1][0]:
            p.fail((*sp, "occupancy"), f"must be higher than step {i - 1} ({steps[-1][0]})")
        mult = p.decimal((*sp, "multiplier"), item["multiplier"])
        if mult <= 0:
            p.fail((*sp, "multiplier"), f"must be more than zero, got {item['multiplier']!r}")
        steps.append((occ, mult))
    cap = None
    if "cap" in raw:
        cap = p.decimal((*path, "cap"), raw["cap"])
        if cap < 1:
            p.fail((*path, "cap"), f"a multiplier cap must be at least 1, got {raw['cap']!r}")
    return Surge(steps=tuple(steps), cap=cap)


def _check_lost_bands(p: _Parser, plan: RatePlan, paths: list[Path_]) -> None:
    for t, tp in zip(plan.tariffs, paths):
        rule, rp = (t.lost_ticket, (*tp, "lost_ticket")) if t.lost_ticket else (plan.lost_ticket, ("lost_ticket",))
        if rule is None or rule.band is None or (t.free and t.lost_ticket is None):
            continue
        if t.band_price(rule.band) is None:
            named = [b.name for b in t.bands if b.name]
            p.fail(
                (*rp, "band"),
                f"tariff {t.name!r} has no band named {rule.band!r} with a single price"
                + (f" (its bands: {', '.join(named)})" if named else " (give its bands a name)"),
            )


def _check_reachable(p: _Parser, plan: RatePlan, paths: list[Path_]) -> None:
    for i, t in enumerate(plan.tariffs[:-1]):
        if t._is_catch_all():
            p.fail(
                paths[i + 1] or ("bands",),
                f"never used: tariff {t.name!r} before it has no conditions and prices every stay "
                f"(put the unconditional tariff last)",
            )


def _check_coverage(p: _Parser, plan: RatePlan, paths: list[Path_]) -> None:
    """Every accepted vehicle class, spot type, day and arrival time must find a tariff.

    Classes and spot types that no tariff names behave alike, so one of each
    stands for the rest; arrival times are tried at every window edge.
    """
    edges = {0}
    for t in plan.tariffs:
        if t.arrival is not None:
            edges.update({t.arrival.start, t.arrival.end % 1440, (t.arrival.start - 1) % 1440})
    named_vehicles = {v for t in plan.tariffs for v in (t.vehicles or ())}
    named_spots = {s for t in plan.tariffs for s in (t.spot_types or ())}

    def representatives(values: tuple[str, ...], named: set[str], first: str) -> list[str]:
        ordered = sorted(values, key=lambda v: v != first)
        unnamed = [v for v in ordered if v not in named]
        return [v for v in ordered if v in named] + unnamed[:1]

    reference = date(2024, 1, 1)  # a Monday
    days = [
        (wd, holiday, _tags_for(reference + timedelta(days=wd), holiday)) for wd in range(7) for holiday in (False, True)
    ]
    usable = [t for t in plan.tariffs if t.leave_after is None and t.deadline_free]
    for vehicle in representatives(plan.vehicle_classes, named_vehicles, "car"):
        for spot in representatives(SPOT_TYPES, named_spots, "regular"):
            for wd, holiday, tags in days:
                for minute in sorted(edges):
                    if not any(_static_match(t, vehicle, spot, tags, minute * 60) for t in usable):
                        when = f"{_DAY_TITLES[wd]}{' (public holiday)' if holiday else ''} {_clock_text(minute)}"
                        p.fail(
                            paths[-1] or ("bands",),
                            f"no tariff prices a {vehicle} in a {spot} bay arriving {when}: end the list with "
                            f"a tariff that has no conditions (or no leave_by/leave_after)",
                        )


# --------------------------------------------------------------------------- loading


def parse_rate_plan(text: str, source: str = "<string>") -> RatePlan:
    """Parse and validate a rate plan from TOML text.

    ``source`` names the file in error messages. Raises :class:`RatePlanError`
    (an :class:`InputError`) with file, line and field for TOML syntax errors
    and for every rule in ``docs/rates.md`` (gaps, overlaps, negative prices,
    unknown vehicle classes, unknown keys, ...).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column \d+\)", message)
        line = int(m.group(1)) if m else None
        if m is None and "end of document" in message:
            line = text.count("\n") + 1
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise RatePlanError(f"TOML syntax error: {reason}", file=source, line=line) from None
    return _build_plan(_Parser(source, _key_lines(text)), data)


def load_rate_plan(path: str | Path) -> RatePlan:
    """Read and validate a TOML rate plan file (UTF-8). Errors name the file as given."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RatePlanError("no such file", file=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RatePlanError(f"cannot read: {exc}", file=source) from None
    return parse_rate_plan(text, source)


class _ScanError(Exception):
    pass


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BARE_VALUE = re.compile(r"[^,\]\}\n#]*")


def _key_lines(text: str) -> dict[Path_, int]:
    """Map every table and key path of valid TOML ``text`` to its 1-based line.

    A small scanner (headers, dotted keys, inline tables and arrays, the four
    string forms, comments); paths use list indices for array elements and
    arrays of tables, exactly as the parsed dict is addressed. Best effort: on
    anything it does not follow it returns what it found so far.
    """
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    out: dict[Path_, int] = {}
    n = len(text)
    pos = 0
    aot: dict[Path_, int] = {}

    def line(at: int) -> int:
        return bisect_right(newlines, at - 1) + 1

    def skip(newline: bool) -> None:
        nonlocal pos
        while pos < n:
            c = text[pos]
            if c in " \t\r" or (newline and c == "\n"):
                pos += 1
            elif c == "#":
                end = text.find("\n", pos)
                pos = n if end < 0 else end
            else:
                break

    def string() -> str:
        nonlocal pos
        for quote in ('"""', "'''"):
            if text.startswith(quote, pos):
                end = pos + 3
                while True:
                    end = text.find(quote, end)
                    if end < 0:
                        raise _ScanError
                    if quote == '"""' and text[end - 1] == "\\":
                        end += 1
                        continue
                    break
                content = text[pos + 3 : end]
                pos = end + 3
                while pos < n and text[pos] == quote[0]:
                    pos += 1
                return content
        quote = text[pos]
        j = pos + 1
        while j < n and text[j] != quote:
            j += 2 if (quote == '"' and text[j] == "\\") else 1
        if j >= n:
            raise _ScanError
        content = text[pos + 1 : j]
        pos = j + 1
        return content

    def key() -> list[str]:
        nonlocal pos
        parts: list[str] = []
        while True:
            skip(False)
            if pos >= n:
                raise _ScanError
            if text[pos] in "\"'":
                parts.append(string())
            else:
                m = _BARE_KEY.match(text, pos)
                if not m:
                    raise _ScanError
                parts.append(m.group())
                pos = m.end()
            skip(False)
            if pos < n and text[pos] == ".":
                pos += 1
                continue
            return parts

    def expect(token: str) -> None:
        nonlocal pos
        skip(False)
        if not text.startswith(token, pos):
            raise _ScanError
        pos += len(token)

    def value(path: Path_) -> None:
        nonlocal pos
        skip(False)
        if pos >= n:
            raise _ScanError
        c = text[pos]
        if c == "[":
            pos += 1
            k = 0
            while True:
                skip(True)
                if pos < n and text[pos] == "]":
                    pos += 1
                    return
                out.setdefault((*path, k), line(pos))
                value((*path, k))
                skip(True)
                if pos < n and text[pos] == ",":
                    pos += 1
                    k += 1
        elif c == "{":
            pos += 1
            while True:
                skip(True)
                if pos < n and text[pos] == "}":
                    pos += 1
                    return
                start = pos
                sub = (*path, *key())
                out.setdefault(sub, line(start))
                expect("=")
                value(sub)
                skip(True)
                if pos < n and text[pos] == ",":
                    pos += 1
        elif c in "\"'":
            string()
        else:
            m = _BARE_VALUE.match(text, pos)
            if m is None or m.end() == pos:
                raise _ScanError
            pos = m.end()

    def resolve(parts: list[str], array: bool, at: int) -> Path_:
        path: list[str | int] = []
        for j, part in enumerate(parts):
            path.append(part)
            here = tuple(path)
            if array and j == len(parts) - 1:
                out.setdefault(here, line(at))
                aot[here] = aot.get(here, 0) + 1
                path.append(aot[here] - 1)
            elif here in aot:
                path.append(aot[here] - 1)
        out.setdefault(tuple(path), line(at))
        return tuple(path)

    table: Path_ = ()
    try:
        while True:
            skip(True)
            if pos >= n:
                break
            start = pos
            if text.startswith("[[", pos):
                pos += 2
                parts = key()
                expect("]]")
                table = resolve(parts, True, start)
            elif text[pos] == "[":
                pos += 1
                parts = key()
                expect("]")
                table = resolve(parts, False, start)
            else:
                full = (*table, *key())
                out.setdefault(full, line(start))
                expect("=")
                value(full)
    except (_ScanError, IndexError):
        pass
    return out


# --------------------------------------------------------------------------- pricing


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _ceil_minutes(delta: timedelta) -> int:
    return _ceil_div(max(_us(delta), 0), _MIN_US)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a date-time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} must carry a timezone (got naive {value.isoformat()}); times are stored in UTC")


def _tags_for(day: date, holiday: bool) -> frozenset[str]:
    wd = day.weekday()
    tags = {_DAY_NAMES[wd], "weekday" if wd < 5 else "weekend"}
    if holiday:
        tags.add("holiday")
    return frozenset(tags)


def _static_match(t: Tariff, vehicle: str, spot: str, tags: frozenset[str], second_of_day: int) -> bool:
    if t.vehicles is not None and vehicle not in t.vehicles:
        return False
    if t.spot_types is not None and spot not in t.spot_types:
        return False
    if t.days is not None and not (t.days & tags):
        return False
    return t.arrival is None or t.arrival.contains(second_of_day)


def _at_local(tz: tzinfo, day: date, minute: int) -> datetime:
    """The UTC instant of wall-clock ``minute`` (may exceed 1440) on local ``day``.

    A wall time that does not exist (spring forward) or exists twice (fall back)
    resolves with ``fold=0``, the zoneinfo default.
    """
    extra, minute = divmod(minute, 1440)
    local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(_UTC)


def _day_label(day: date) -> str:
    return f"{_DAY_TITLES[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


class _Context:
    """Everything about one pricing request that does not change between segments."""

    def __init__(self, plan: RatePlan, tz: tzinfo, vehicle: str, spot: str, multiplier: Decimal):
        self.plan = plan
        self.tz = tz
        self.vehicle = vehicle
        self.spot = spot
        self.multiplier = multiplier
        self.holidays = frozenset(plan.holidays)
        self._tags: dict[date, frozenset[str]] = {}

    def tags(self, day: date) -> frozenset[str]:
        found = self._tags.get(day)
        if found is None:
            found = self._tags[day] = _tags_for(day, day in self.holidays)
        return found

    def select(self, start: datetime, end: datetime, first: int = 0) -> tuple[int, Tariff, datetime | None] | None:
        """First tariff from index ``first`` that prices a stay from ``start`` to ``end``.

        Returns (index, tariff, continuation deadline or None).
        """
        local = start.astimezone(self.tz)
        tags = self.tags(local.date())
        second = local.hour * 3600 + local.minute * 60 + local.second
        for i in range(first, len(self.plan.tariffs)):
            t = self.plan.tariffs[i]
            if not _static_match(t, self.vehicle, self.spot, tags, second):
                continue
            if t.leave_after is not None:
                earliest = _at_local(self.tz, local.date(), t.leave_after)
                if earliest < start:
                    earliest = _at_local(self.tz, local.date() + timedelta(days=1), t.leave_after)
                if end < earliest:
                    continue
            deadline = None
            if t.leave_by is not None:
                deadline = _at_local(self.tz, local.date(), t.leave_by)
                if deadline <= start:
                    deadline = _at_local(self.tz, local.date() + timedelta(days=1), t.leave_by)
            if t.max_stay is not None:
                by_stay = start + timedelta(minutes=t.max_stay)
                deadline = by_stay if deadline is None else min(deadline, by_stay)
            if deadline is not None and end > deadline:
                if t.beyond == "skip":
                    continue
                return i, t, deadline
            return i, t, None
        return None

    def periods(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """Charging periods of ``[start, end]``: 24 h blocks from ``start`` or calendar days."""
        out: list[tuple[datetime, datetime, str]] = []
        if kind == "calendar_day":
            day = start.astimezone(self.tz).date()
            lo = start
            while True:
                hi = _at_local(self.tz, day + timedelta(days=1), 0)
                if hi <= lo:  # a zone whose midnight vanished: never stall
                    hi = lo + _DAY
                if hi >= end:
                    out.append((lo, end, _day_label(day)))
                    return out
                out.append((lo, hi, _day_label(day)))
                lo, day = hi, day + timedelta(days=1)
        k, lo = 0, start
        while True:
            hi = start + _DAY * (k + 1)
            if hi >= end:
                out.append((lo, end, f"Day {k + 1}"))
                return out
            out.append((lo, hi, f"Day {k + 1}"))
            k, lo = k + 1, hi

    def clock(self, t: Tariff, start: datetime, end: datetime) -> Callable[[datetime], int]:
        """Chargeable microseconds from ``start`` to an instant (all time, or charge_hours only)."""
        if not t.charge_hours:
            return lambda at: _us(at - start)
        spans: list[tuple[datetime, datetime]] = []
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date()
        while day <= last:
            tags = self.tags(day)
            for w in t.charge_hours:
                if w.days is None or w.days & tags:
                    lo = max(_at_local(self.tz, day, w.start), start)
                    hi = min(_at_local(self.tz, day, w.end if w.end > w.start else w.end + 1440), end)
                    if lo < hi:
                        spans.append((lo, hi))
            day += timedelta(days=1)
        spans.sort()
        starts: list[datetime] = []
        ends: list[datetime] = []
        for lo, hi in spans:
            if ends and lo <= ends[-1]:
                ends[-1] = max(ends[-1], hi)
            else:
                starts.append(lo)
                ends.append(hi)
        before = [0]
        for lo, hi in zip(starts, ends):
            before.append(before[-1] + _us(hi - lo))

        def chargeable(at: datetime) -> int:
            k = bisect_right(starts, at)
            if k == 0:
                return 0
            return before[k - 1] + _us(min(ends[k - 1], at) - starts[k - 1])

        return chargeable

    def price_tariff(self, t: Tariff, start: datetime, end: datetime) -> tuple[list[FeeLine], int]:
        """Price ``[start, end]`` with one tariff, its schedule starting at ``start``."""
        if t.free:
            return [FeeLine(f"{t.name}: free", _ceil_minutes(end - start), 0)], 0
        cur = self.plan.currency
        clock = self.clock(t, start, end)
        cap = t.daily_max
        # 24 h periods and reset-at-midnight days are priced from scratch ("then
        # repeats"); calendar-day caps apply to bands that run on from entry.
        fresh = t.reset_at_midnight or (cap is not None and t.daily_max_per == "24h")
        split = cap is not None or t.reset_at_midnight
        spans = self.periods(t.daily_max_per, start, end) if split else [(start, end, "")]
        lines: list[FeeLine] = []
        total = extra = 0
        for lo, hi, name in spans:
            a, b = clock(lo), clock(hi)
            if fresh:
                raw = t.value(b - a)
                label = t.describe_at(b - a, cur)
            else:
                raw = t.value(b) - t.value(a)
                label = t.describe_span(a, b, cur)
            base = raw if cap is None else min(raw, cap)
            surged = _apply(raw, self.multiplier)
            charged = surged if cap is None else min(surged, cap)
            if cap is not None and raw >= cap:
                label = "Daily maximum"
            if len(spans) > 1:
                label = f"{name}: {label}"
            lines.append(FeeLine(label, _ceil_minutes(hi - lo), base))
            total += charged
            extra += charged - base
        if extra:
            lines.append(FeeLine(f"Occupancy surge ×{self.multiplier}", 0, extra))
        return lines, total

    def price_span(self, start: datetime, end: datetime, first: int = 0) -> tuple[list[FeeLine], int, str]:
        """Price ``[start, end]`` from tariff index ``first`` on, following continuations.

        Returns (lines, total, name of the tariff that priced the start). When
        the stay crosses tariffs each line is prefixed with its tariff's name.
        """
        segments: list[tuple[str, list[FeeLine]]] = []  # (tariff name or "" if labelled, lines)
        total = 0
        names: list[str] = []
        for _ in range(_MAX_SEGMENTS):
            chosen = self.select(start, end, first)
            if chosen is None:
                raise InputError(
                    f"rate plan {self.plan.name!r} has no tariff for a {self.vehicle} in a {self.spot} bay "
                    f"arriving {start.astimezone(self.tz).isoformat(timespec='minutes')}"
                )
            idx, t, deadline = chosen
            if t.or_cheaper:
                own_lines, own = self.price_tariff(t, start, end)
                try:
                    alt_lines, alt, alt_name = self.price_span(start, end, idx + 1)
                except InputError:
                    alt = None
                if alt is not None and alt < own:
                    segments.append(("", alt_lines))
                    names.append(alt_name)
                    total += alt
                else:
                    segments.append((t.name, own_lines))
                    names.append(t.name)
                    total += own
                break
            seg_end = end if deadline is None else deadline
            seg_lines, seg_total = self.price_tariff(t, start, seg_end)
            segments.append((t.name, seg_lines))
            names.append(t.name)
            total += seg_total
            if seg_end >= end:
                break
            start, first = seg_end, 0
        else:
            raise InputError(f"rate plan {self.plan.name!r}: too many tariff changes in one stay")
        lines: list[FeeLine] = []
        for name, seg in segments:
            for ln in seg:
                if len(segments) > 1 and name and not ln.label.startswith(f"{name}: "):
                    ln = FeeLine(f"{name}: {ln.label}", ln.minutes, ln.amount)
                lines.append(ln)
        return lines, total, names[0]

    def price_lost(self, t: Tariff, start: datetime, end: datetime) -> tuple[list[FeeLine], int]:
        """Lost-ticket fee for a stay whose first tariff is ``t`` (see :class:`LostTicket`)."""
        minutes = _ceil_minutes(end - start)
        if t.free and t.lost_ticket is None:
            return [FeeLine(f"{t.name}: free (lost ticket)", minutes, 0)], 0
        rule = t.lost_ticket or self.plan.lost_ticket
        if rule is None:
            lines, total, _ = self.price_span(start, end)
            return [FeeLine("Lost ticket: no lost-ticket fee in the plan, charged by the stay", 0, 0), *lines], total
        cur = self.plan.currency
        if rule.price is not None:
            unit, what = rule.price, "Lost ticket"
        else:
            unit = t.band_price(rule.band or "")
            if unit is None:  # validated at load; a hand-built plan may still get here
                raise InputError(f"rate plan {self.plan.name!r}: no band {rule.band!r} in tariff {t.name!r}")
            what = f"Lost ticket, charged as {rule.band}"
        count = len(self.periods(t.daily_max_per, start, end)) if rule.per_day else 1
        amount = unit * count
        if rule.per_day:
            what += f" ({count} {'day' if count == 1 else 'days'} × {format_money(unit, cur)})"
        if rule.or_fee_if_higher:
            lines, normal, _ = self.price_span(start, end)
            if normal > amount:
                note = f"Lost ticket: the stay's fee is higher than {format_money(amount, cur)}"
                return [FeeLine(note, 0, 0), *lines], normal
        return [FeeLine(what, minutes, amount)], amount


def _apply(amount: int, multiplier: Decimal) -> int:
    """``amount * multiplier`` rounded half up to the minor unit (2.5p -> 3p)."""
    if multiplier == 1:
        return amount
    return int((Decimal(amount) * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def compute_fee(
    plan: RatePlan,
    entry_at: datetime,
    exit_at: datetime,
    *,
    vehicle_class: str,
    spot_type: str = "regular",
    tz: tzinfo,
    lost: bool = False,
    occupancy: float | None = None,
) -> Fee:
    """Price one stay with ``plan`` (the version in force at entry).

    ``entry_at``/``exit_at`` are aware datetimes in any zone (UTC in practice);
    the stay is their real elapsed time, DST-safe. ``tz`` is the facility's
    zone (a :class:`zoneinfo.ZoneInfo`), used for arrival times, day types,
    calendar days and chargeable hours. ``occupancy`` (0..1, measured at entry)
    selects the surge multiplier. ``lost=True`` charges the lost-ticket fee.

    Returns a :class:`Fee` in minor units whose lines sum to the amount.
    Raises :class:`InputError` for naive datetimes, an exit before the entry,
    an unknown or unpriced vehicle class or spot type, or occupancy outside 0..1.
    """
    _require_aware(entry_at, "entry_at")
    _require_aware(exit_at, "exit_at")
    start, end = entry_at.astimezone(_UTC), exit_at.astimezone(_UTC)
    if end < start:
        raise InputError(f"exit {exit_at.isoformat()} is before entry {entry_at.isoformat()}")
    vehicle = str(vehicle_class).strip().lower()
    if vehicle not in VEHICLE_CLASSES:
        raise InputError(f"unknown vehicle class {vehicle_class!r} (known: {', '.join(VEHICLE_CLASSES)})")
    if vehicle not in plan.vehicle_classes:
        raise InputError(f"rate plan {plan.name!r} does not price vehicle class {vehicle!r}")
    spot = str(spot_type).strip().lower()
    if spot not in SPOT_TYPES:
        raise InputError(f"unknown spot type {spot_type!r} (known: {', '.join(SPOT_TYPES)})")
    multiplier = Decimal(1)
    if occupancy is not None:
        if not 0 <= occupancy <= 1:
            raise InputError(f"occupancy must be a fraction between 0 and 1, got {occupancy!r}")
        if plan.surge is not None:
            multiplier = plan.surge.multiplier(occupancy)

    ctx = _Context(plan, tz, vehicle, spot, multiplier)
    chosen = ctx.select(start, end)
    if chosen is None:
        raise InputError(
            f"rate plan {plan.name!r} has no tariff for a {vehicle} in a {spot} bay arriving "
            f"{start.astimezone(tz).isoformat(timespec='minutes')}"
        )
    _, first, _ = chosen
    minutes = _ceil_minutes(end - start)
    grace = first.grace if first.grace is not None else plan.grace_minutes
    tariff_name = first.name
    if lost:
        lines, total = ctx.price_lost(first, start, end)
    elif first.free:
        lines, total = [FeeLine(f"{first.name}: free", minutes, 0)], 0
    elif grace and end - start <= timedelta(minutes=grace):
        lines, total = [FeeLine(f"Grace period (up to {format_minutes(grace)})", minutes, 0)], 0
    else:
        lines, total, tariff_name = ctx.price_span(start, end)
    return Fee(
        amount=total,
        currency=plan.currency,
        lines=tuple(lines),
        plan_name=plan.name,
        plan_version=plan.version,
        tariff=tariff_name,
    )
