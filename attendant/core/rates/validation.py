"""Rate plan validation: a plan's dict form (parsed TOML or stored JSON) into a :class:`RatePlan`.

Every rule of ``docs/rates.md`` (*Validation*) is checked here, and each
refusal is a :class:`RatePlanError` naming the source, the field path
(``tariffs[1].bands[0].price``) and, for a plan file, the line: the caller
(:mod:`attendant.core.rates.loading`) passes a function that maps field paths
to lines; :meth:`RatePlan.from_dict` (a stored version) has none, so its
errors carry no line.

Values are read in their friendly forms (``docs/rates.md``, *Values*):
money as ``"2.20"``/``2.2``/``2``/``"£2.20"`` (via
:func:`attendant.core.money.parse_major`), durations ``"1h30m"`` or whole
minutes, times ``"18:00"`` or TOML local times, day tokens and ranges.
:mod:`difflib` suggests the key meant for an unknown one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attendant.core.errors import InputError
from attendant.core.money import format_money, parse_major
from attendant.core.rates.facility_time import (
    DAY_NAMES,
    DAY_TITLES,
    clock_text,
    day_tags,
)
from attendant.core.rates.model import (
    SPOT_TYPES,
    VEHICLE_CLASSES,
    Band,
    ChargeWindow,
    LostTicket,
    RatePlan,
    ReservationRules,
    Surge,
    Tariff,
    TimeWindow,
)
from attendant.core.rates.text import duration_text, format_minutes

FieldPath = tuple[str | int, ...]
"""Where a value sits in the plan: keys and list indices, ``("tariffs", 1, "bands", 0, "price")``."""


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


_PRICING_KEYS = frozenset({"bands", "flat", "free", "daily_max", "daily_max_per", "reset_at_midnight", "charge_hours"})
_PLAN_KEYS = frozenset(
    {"name", "version", "currency", "timezone", "effective_from", "grace", "exit_grace", "vehicle_classes",
     "holidays", "lost_ticket", "surge", "tariffs", "re_entry", "reservations"}
) | _PRICING_KEYS  # fmt: skip
_CONDITION_KEYS = frozenset({"vehicles", "spot_types", "zones", "concessions", "days", "arrival", "leave_by",
                             "leave_after", "max_stay", "beyond", "or_cheaper", "free_first", "discount"})
_TARIFF_KEYS = frozenset({"name", "grace", "lost_ticket"}) | _CONDITION_KEYS | _PRICING_KEYS
_RE_ENTRY_KEYS = frozenset({"within", "time_away"})
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_BAND_KEYS = frozenset({"name", "over", "up_to", "price", "every"})
_LOST_KEYS = frozenset({"price", "band", "per_day", "or_fee_if_higher"})
_RESERVATION_KEYS = frozenset(
    {"hourly", "flat", "arrival_allowance", "no_show_grace", "no_show_fee", "free_cancel_before", "cancel_fee",
     "overstay_grace", "overstay_hourly", "overstay_surcharge", "early_arrival"}
)  # fmt: skip
_SURGE_KEYS = frozenset({"steps", "cap"})
_STEP_KEYS = frozenset({"occupancy", "multiplier"})
_WINDOW_KEYS = frozenset({"from", "to"})
_CHARGE_KEYS = frozenset({"days", "from", "to"})
_DURATION_RE = re.compile(
    r"^\s*(?:(\d+)\s*d(?:ays?)?)?\s*(?:(\d+)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:ute)?s?)?)?\s*$", re.IGNORECASE
)
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
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


def _field_text(path: FieldPath) -> str:
    """A field path as messages write it: ``("tariffs", 1, "bands", 0, "price")`` -> ``tariffs[1].bands[0].price``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


class _Checker:
    """Reads one value per call and raises :class:`RatePlanError` located in the source.

    ``key_lines`` is called once, on the first failure, for the map of field
    paths to 1-based lines; a field with no line of its own takes the line of
    the nearest enclosing field that has one (a missing key: its table).
    """

    def __init__(self, source: str, key_lines: Callable[[], Mapping[FieldPath, int]]):
        self.source = source
        self.key_lines = key_lines
        self.currency = "GBP"
        self.has_holidays = True  # build_plan sets it from the plan's holidays list
        self.stored = False

    def fail(self, path: FieldPath, reason: str) -> NoReturn:
        lines = self.key_lines()
        line = next((lines[path[:k]] for k in range(len(path), 0, -1) if path[:k] in lines), None)
        raise RatePlanError(reason, file=self.source, line=line, field=_field_text(path) or None)

    def table(self, path: FieldPath, value: Any, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                misplaced = _misplaced(path, key, allowed)
                if misplaced:
                    self.fail((*path, key), misplaced)
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(sorted(allowed))}"
                self.fail((*path, key), f"unknown key ({hint})")
        return value

    def string(self, path: FieldPath, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        return value.strip()

    def boolean(self, path: FieldPath, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def duration(self, path: FieldPath, value: Any, *, positive: bool = False) -> int:
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

    def money(self, path: FieldPath, value: Any) -> int:
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

    def decimal(self, path: FieldPath, value: Any) -> Decimal:
        """An exact decimal from ``0.8``, ``"0.8"`` or ``"80%"``."""
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

    def clock(self, path: FieldPath, value: Any, *, allow_24: bool = False) -> int:
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

    def items(self, path: FieldPath, value: Any, what: str) -> list[tuple[FieldPath, Any]]:
        """A list field (a single string stands for a one-item list) as (path of the item, item) pairs."""
        if isinstance(value, str):
            return [(path, value)]
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a list of {what}, got {_kind(value)}")
        return [((*path, i), item) for i, item in enumerate(value)]

    def names(self, path: FieldPath, value: Any, known: tuple[str, ...], what: str) -> tuple[str, ...]:
        """Names out of ``known`` (vehicle classes, spot types), lower-cased, in order, without repeats."""
        out: list[str] = []
        for where, item in self.items(path, value, f"{what}s"):
            if not isinstance(item, str) or item.strip().lower() not in known:
                self.fail(where, f"unknown {what} {item!r} (known: {', '.join(known)})")
            name = item.strip().lower()
            if name not in out:
                out.append(name)
        return tuple(out)

    def labels(self, path: FieldPath, value: Any, what: str) -> frozenset[str]:
        """Zone or concession names: lower-cased, ``a-z 0-9 _ -``, 1-32 characters (``short_stay``)."""
        out: set[str] = set()
        for where, item in self.items(path, value, f"{what} names"):
            name = item.strip().lower() if isinstance(item, str) else None
            if not name or not _NAME_RE.match(name):
                self.fail(where, f"not a {what} name: {item!r} (letters, digits, _ and -, e.g. "
                                 f"{'short_stay' if what == 'zone' else 'disabled_badge'})")
            out.add(name)
        return frozenset(out)

    def days(self, path: FieldPath, value: Any) -> frozenset[str]:
        """Day tokens from names, ``weekday``/``weekend``/``holiday`` and ranges like ``mon-fri``.

        ``holiday`` is refused unless the plan has a ``holidays`` list (set
        :attr:`has_holidays` before reading tariffs): a day type no date can
        have would price bank holidays at the ordinary rate without a word.
        """
        out: set[str] = set()
        for where, item in self.items(path, value, "days"):
            token = item.strip().lower().replace(" ", "_") if isinstance(item, str) else None
            if token and token in _DAY_ALIASES:
                if _DAY_ALIASES[token] == "holiday" and not self.has_holidays:
                    self.fail(where, f"{item!r} names public holidays, but the plan has no holidays list: add "
                                     'holidays = ["2026-12-25", "2026-12-28", ...] at the top level of the file '
                                     "(before the first [[tariffs]] table)")
                out.add(_DAY_ALIASES[token])
                continue
            if token and token.count("-") == 1:
                a, b = (_DAY_ALIASES.get(x) for x in token.split("-"))
                if a in DAY_NAMES and b in DAY_NAMES:
                    i_a, i_b = DAY_NAMES.index(a), DAY_NAMES.index(b)
                    out.update(DAY_NAMES[(i_a + k) % 7] for k in range((i_b - i_a) % 7 + 1))
                    continue
            self.fail(
                where, f"unknown day {item!r} (use mon … sun, weekday, weekend, holiday, or a range like mon-fri)"
            )
        return frozenset(out)


def build_plan(data: Any, source: str = "<dict>", key_lines: Callable[[], Mapping[FieldPath, int]] = dict, *,
               stored: bool = False) -> RatePlan:
    """Validate a plan's dict form (parsed TOML, or :meth:`RatePlan.to_dict` as stored) into a :class:`RatePlan`.

    ``source`` names the file (or ``<dict>``) in errors; ``key_lines`` returns
    the map of field paths to lines (called only when an error is raised; by
    default no lines). Raises :class:`RatePlanError` on any rule of
    ``docs/rates.md`` broken. ``stored=True`` (a version read back from the
    database) lets a ``holiday`` day type without a ``holidays`` list pass, as
    it did when that version was activated, so history reprices the same; a
    plan file or a new version is refused for it.
    """
    p = _Checker(source, key_lines)
    p.stored = stored
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
    p.has_holidays = bool(holidays) or p.stored

    lost = _lost_rule(p, ("lost_ticket",), data["lost_ticket"]) if "lost_ticket" in data else None
    surge = _surge(p, ("surge",), data["surge"]) if "surge" in data else None
    re_entry, away_free = None, False
    if "re_entry" in data:
        rule = p.table(("re_entry",), data["re_entry"], _RE_ENTRY_KEYS)
        if "within" not in rule:
            p.fail(("re_entry", "within"), 'missing: how soon a re-entry continues the stay, e.g. '
                                           're_entry = { within = "15m" }')
        re_entry = p.duration(("re_entry", "within"), rule["within"], positive=True)
        away = rule.get("time_away", "counts")
        if away not in ("counts", "free"):
            p.fail(("re_entry", "time_away"), f'expected "counts" (the time between the visits is charged, the '
                                              f'default) or "free", got {away!r}')
        away_free = away == "free"
    reservations = _reservations(p, ("reservations",), data["reservations"]) if "reservations" in data else None

    raw_tariffs = data.get("tariffs", [])
    if not isinstance(raw_tariffs, list):
        p.fail(("tariffs",), f"expected [[tariffs]] tables, got {_kind(raw_tariffs)}")
    tariffs: list[Tariff] = []
    paths: list[FieldPath] = []
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
        re_entry_minutes=re_entry,
        re_entry_time_away_free=away_free,
        reservations=reservations,
    )
    _check_lost_bands(p, plan, paths)
    _check_reachable(p, plan, paths)
    _check_coverage(p, plan, paths)
    return plan


def _tariff(p: _Checker, path: FieldPath, raw: Any, classes: tuple[str, ...], default_name: str) -> Tariff:
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
    zones = p.labels((*path, "zones"), raw["zones"], "zone") if "zones" in raw else None
    concessions = p.labels((*path, "concessions"), raw["concessions"], "concession") if "concessions" in raw else None
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

    free_first = p.duration((*path, "free_first"), raw["free_first"], positive=True) if "free_first" in raw else None
    discount = _discount(p, (*path, "discount"), raw["discount"]) if "discount" in raw else None
    free = p.boolean((*path, "free"), raw["free"]) if "free" in raw else False
    given = [k for k in ("bands", "flat") if k in raw] + (["free"] if free else [])
    adjusting = free_first is not None or discount is not None or (not given and grace is not None and bool(path))
    if adjusting:
        key = "free_first" if free_first is not None else "discount" if discount is not None else "grace"
        if not path:
            p.fail((key,), "belongs in a [[tariffs]] table (it adjusts the price of the tariffs after it)")
        extra = given + [k for k in ("daily_max", "daily_max_per", "reset_at_midnight", "charge_hours",
                                     "lost_ticket", "or_cheaper", "beyond") if k in raw]
        if extra:
            p.fail((*path, extra[0]), f"{key} adjusts the price of the tariffs after it, so this tariff has no "
                                      f"prices of its own: leave out {extra[0]}")
        if key == "grace" and path and not any(k in raw for k in _CONDITION_KEYS):
            p.fail((*path, "grace"), "a tariff with only a grace and no conditions changes nothing: give it a "
                                     "condition (zones, concessions, ...) or set the plan's grace at the top level")
    elif len(given) != 1:
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
    charge_hours: list[ChargeWindow] = []
    if "charge_hours" in raw:
        items = raw["charge_hours"]
        if not isinstance(items, list) or not items:
            p.fail((*path, "charge_hours"), f"expected a list of windows, got {_kind(items)}")
        for i, item in enumerate(items):
            wp = (*path, "charge_hours", i)
            item = p.table(wp, item, _CHARGE_KEYS)
            window = _window(p, wp, {k: v for k, v in item.items() if k != "days"})
            wdays = p.days((*wp, "days"), item["days"]) if "days" in item else None
            charge_hours.append(ChargeWindow(window.start, window.end, wdays))
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
        charge_hours=tuple(charge_hours),
        lost_ticket=lost,
        or_cheaper=or_cheaper,
        zones=zones,
        concessions=concessions,
        free_first=free_first,
        discount=discount,
    )


def _discount(p: _Checker, path: FieldPath, raw: Any) -> Decimal:
    """A discount as a fraction: ``"50%"`` or ``0.5``; more than 0, at most 100 %."""
    value = p.decimal(path, raw)
    if not Decimal(0) < value <= Decimal(1):
        p.fail(path, f'expected a percentage like "50%" (more than 0, at most 100%), got {raw!r}')
    return value


def _misplaced(path: FieldPath, key: str, allowed: frozenset[str]) -> str | None:
    """A hint for a key written in the wrong table (TOML puts every key after a header into that table)."""
    if path and path[0] == "tariffs" and len(path) == 2 and key in _PLAN_KEYS - _TARIFF_KEYS:
        return (f"{key} is a plan key, not a tariff key: move it to the top of the file, before the first "
                "[[tariffs]] table (every key after a [[tariffs]] header belongs to that tariff)")
    if not path and key in _CONDITION_KEYS:
        return (f"{key} is a tariff condition: the top-level prices are the default tariff, which has no "
                "conditions; put it in a [[tariffs]] table")
    return None


def _window(p: _Checker, path: FieldPath, raw: Any) -> TimeWindow:
    raw = p.table(path, raw, _WINDOW_KEYS)
    for key in ("from", "to"):
        if key not in raw:
            p.fail((*path, key), 'missing: a window needs from and to, e.g. { from = "18:00", to = "08:00" }')
    start = p.clock((*path, "from"), raw["from"])
    end = p.clock((*path, "to"), raw["to"], allow_24=True)
    if start == end % 1440 and end != 1440:
        p.fail((*path, "to"), "same as from: leave the window out for all day")
    return TimeWindow(start, end)


def _bands(p: _Checker, path: FieldPath, raw: Any) -> tuple[Band, ...]:
    """Bands in order, each starting where the one before ends: no gap, no overlap, never cheaper."""
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
                    f'{format_minutes(over)} have no price (write over = "{duration_text(prev_up)}")',
                )
            if over < prev_up:
                p.fail(
                    (*bp, "over"),
                    f"overlaps band {j - 1} ({prev_label(j - 1)}): this band starts over {format_minutes(over)} "
                    f'(write over = "{duration_text(prev_up)}")',
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
        band = Band(up_to=up_to, price=price, every=every, name=name)
        if up_to is None:
            open_band = j
        else:
            prev_up, prev_total = up_to, band.total_at_end(prev_up, prev_total)
        bands.append(band)
    return tuple(bands)


def _lost_rule(p: _Checker, path: FieldPath, raw: Any) -> LostTicket:
    raw = p.table(path, raw, _LOST_KEYS)
    if ("price" in raw) == ("band" in raw):
        p.fail(path, 'give exactly one of price (a flat fee) or band (the name of a band), e.g. { price = "18.90" }')
    price = p.money((*path, "price"), raw["price"]) if "price" in raw else None
    band = p.string((*path, "band"), raw["band"]) if "band" in raw else None
    per_day = p.boolean((*path, "per_day"), raw["per_day"]) if "per_day" in raw else False
    higher = p.boolean((*path, "or_fee_if_higher"), raw["or_fee_if_higher"]) if "or_fee_if_higher" in raw else False
    return LostTicket(price=price, band=band, per_day=per_day, or_fee_if_higher=higher)


def _reservations(p: _Checker, path: FieldPath, raw: Any) -> ReservationRules:
    """``[reservations]``: the price of a window, allowance and graces, no-show, cancellation and overstay."""
    raw = p.table(path, raw, _RESERVATION_KEYS)
    if "hourly" in raw and "flat" in raw:
        p.fail((*path, "flat"), "give only one of hourly or flat (or neither: the tariff prices the window)")
    money = {k: p.money((*path, k), raw[k]) for k in ("hourly", "flat", "no_show_fee", "cancel_fee",
                                                      "overstay_hourly", "overstay_surcharge") if k in raw}
    minutes = {k: p.duration((*path, k), raw[k]) for k in ("arrival_allowance", "no_show_grace",
                                                           "free_cancel_before", "overstay_grace") if k in raw}
    if minutes.get("arrival_allowance", 0) > 1440:
        p.fail((*path, "arrival_allowance"), "at most 24h: a bay held longer than a day before its window is "
                                             "lost to every walk-in")
    early = raw.get("early_arrival", "walk_in")
    if early not in ("walk_in", "tariff"):
        p.fail((*path, "early_arrival"), f'expected "walk_in" or "tariff", got {early!r}')
    return ReservationRules(**money, **minutes, early_arrival=early)


def _surge(p: _Checker, path: FieldPath, raw: Any) -> Surge:
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


def _check_lost_bands(p: _Checker, plan: RatePlan, paths: list[FieldPath]) -> None:
    """``lost_ticket.band`` must name a band with a single price in every tariff it applies to."""
    for t, tp in zip(plan.tariffs, paths):
        rule, rp = (t.lost_ticket, (*tp, "lost_ticket")) if t.lost_ticket else (plan.lost_ticket, ("lost_ticket",))
        if rule is None or rule.band is None or (t.free and t.lost_ticket is None) or t.adjusting:
            continue
        if t.band_price(rule.band) is None:
            named = [b.name for b in t.bands if b.name]
            p.fail(
                (*rp, "band"),
                f"tariff {t.name!r} has no band named {rule.band!r} with a single price"
                + (f" (its bands: {', '.join(named)})" if named else " (give its bands a name)"),
            )


def _check_reachable(p: _Checker, plan: RatePlan, paths: list[FieldPath]) -> None:
    """No tariff may follow an unconditional one (it would never be used)."""
    for i, t in enumerate(plan.tariffs[:-1]):
        if t.unconditional:
            p.fail(
                paths[i + 1] or ("bands",),
                f"never used: tariff {t.name!r} before it has no conditions and prices every stay "
                f"(put the unconditional tariff last)",
            )


def _check_coverage(p: _Checker, plan: RatePlan, paths: list[FieldPath]) -> None:
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
    # a bay in no named zone, then each named zone; no concession, then each one alone
    situations: list[tuple[str | None, frozenset[str]]] = [(None, frozenset())]
    situations += [(z, frozenset()) for z in sorted(plan.zone_names)]
    situations += [(None, frozenset({c})) for c in sorted(plan.concession_names)]

    def representatives(values: tuple[str, ...], named: set[str], first: str) -> list[str]:
        ordered = sorted(values, key=lambda v: v != first)
        unnamed = [v for v in ordered if v not in named]
        return [v for v in ordered if v in named] + unnamed[:1]

    reference = date(2024, 1, 1)  # a Monday
    days = [
        (wd, holiday, day_tags(reference + timedelta(days=wd), holiday)) for wd in range(7) for holiday in (False, True)
    ]
    usable = [t for t in plan.tariffs if t.leave_after is None and t.deadline_free and not t.adjusting]
    if not usable:
        p.fail(paths[-1] or ("bands",), "no tariff prices a stay: every tariff adjusts the price of the tariffs "
                                        "after it (free_first, discount); end the list with one that has prices")
    for vehicle in representatives(plan.vehicle_classes, named_vehicles, "car"):
        for spot in representatives(SPOT_TYPES, named_spots, "regular"):
            for zone, held in situations:
                for wd, holiday, tags in days:
                    for minute in sorted(edges):
                        if any(t.matches_arrival(vehicle, spot, tags, minute * 60, zone, held) for t in usable):
                            continue
                        when = f"{DAY_TITLES[wd]}{' (public holiday)' if holiday else ''} {clock_text(minute)}"
                        where = (f" of zone {zone}" if zone else "") + (f" with {min(held)}" if held else "")
                        p.fail(
                            paths[-1] or ("bands",),
                            f"no tariff prices a {vehicle} in a {spot} bay{where} arriving {when}: end the list "
                            f"with a tariff that has no conditions (or no leave_by/leave_after)",
                        )
