"""The fee engine: price one parking session with the rate plan in force at its entry.

:func:`compute_fee` turns (plan, entry, exit, vehicle class, spot type,
facility zone, lost?, occupancy at entry) into a :class:`Fee` with its
breakdown; :func:`exit_deadline` gives the latest exit after paying. The
rules are those of ``docs/rates.md`` (*How a stay is priced*), BRIEF.md
feature 5 and seed 003 (surge caps):

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
  arithmetic steps per 24 h. Bounded for any stay (issue 9 item 3): past
  :data:`LONG_PERIODS` charging periods, a capped tariff whose every full
  period provably reaches its daily maximum (no ``charge_hours``, a schedule
  that never gets cheaper with time, and a lower bound on a full period's
  charge at or above the cap, surge included) charges its middle periods in
  closed form, ``count × daily_max``, on one breakdown line ("Sun 03 Jan 2027
  – Thu 31 Dec 2099: Daily maximum × 26,661"); the first and last periods
  are priced as always. Any other tariff is priced period by period up to
  :data:`MAX_PERIODS` (about 20 years), beyond which the stay is refused with
  :class:`InputError` (the booth services never admit such a stay: see
  :mod:`attendant.core.time_bounds`). A plan's continuations stop at
  :data:`_MAX_SEGMENTS`.

This module needs no TOML library: code that only prices stays imports the
model and this engine, not the plan-file validator.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from attendant.core.errors import InputError
from attendant.core.money import format_money
from attendant.core.rates.facility_time import at_local, day_label, day_tags
from attendant.core.rates.model import (
    MINUTE_US,
    SPOT_TYPES,
    VEHICLE_CLASSES,
    Fee,
    FeeLine,
    RatePlan,
    Tariff,
    ceil_div,
)
from attendant.core.rates.text import format_minutes, span_label, stay_label

_DAY = timedelta(hours=24)
_MAX_SEGMENTS = 20_000  # guard against a plan whose continuations never end (an hourly one: 2 years)
LONG_PERIODS = 400
"""Above this many charging periods a stay's middle is priced in closed form when the tariff allows."""
MAX_PERIODS = 7_320
"""The most charging periods priced one by one (20 years of days); longer stays need the closed form."""
_SHORTEST_DAY = timedelta(hours=20)
"""A lower bound on a facility calendar day's length (DST moves at most 2 h in any zone in use)."""


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _ceil_minutes(delta: timedelta) -> int:
    return ceil_div(max(_us(delta), 0), MINUTE_US)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a date-time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} must carry a timezone (got naive {value.isoformat()}); times are stored in UTC")


def _known(value: str, known: tuple[str, ...], what: str) -> str:
    """``value`` as a name out of ``known`` (trimmed, lower-cased), else :class:`InputError`."""
    name = str(value).strip().lower()
    if name not in known:
        raise InputError(f"unknown {what} {value!r} (known: {', '.join(known)})")
    return name


def _apply(amount: int, multiplier: Decimal) -> int:
    """``amount * multiplier`` rounded half up to the minor unit (2.5p -> 3p)."""
    if multiplier == 1:
        return amount
    return int((Decimal(amount) * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class _Pricing:
    """One pricing request: what does not change between the segments and periods of a stay."""

    def __init__(self, plan: RatePlan, tz: tzinfo, vehicle: str, spot: str, multiplier: Decimal,
                 zone: str | None = None, concessions: frozenset[str] = frozenset()):
        self.plan = plan
        self.tz = tz
        self.vehicle = vehicle
        self.spot = spot
        self.multiplier = multiplier
        self.zone = zone
        self.concessions = concessions
        self.holidays = frozenset(plan.holidays)
        self._tags: dict[date, frozenset[str]] = {}

    def tags(self, day: date) -> frozenset[str]:
        found = self._tags.get(day)
        if found is None:
            found = self._tags[day] = day_tags(day, day in self.holidays)
        return found

    def no_tariff(self, start: datetime) -> InputError:
        zone = f" of zone {self.zone}" if self.zone else ""
        return InputError(
            f"rate plan {self.plan.name!r} has no tariff for a {self.vehicle} in a {self.spot} bay{zone} "
            f"arriving {start.astimezone(self.tz).isoformat(timespec='minutes')}"
        )

    def _next_at(self, day: date, minute: int, start: datetime, *, at_start: bool) -> datetime:
        """Time of day ``minute`` on local ``day``, or on the next day if it is before ``start``.

        ``at_start`` says whether ``start`` itself counts as the first occurrence.
        """
        at = at_local(self.tz, day, minute)
        if at < start or (at == start and not at_start):
            at = at_local(self.tz, day + timedelta(days=1), minute)
        return at

    def select(self, start: datetime, end: datetime, first: int = 0, *,
               adjusting: bool = False) -> tuple[int, Tariff, datetime | None] | None:
        """First tariff from index ``first`` that prices a stay from ``start`` to ``end``.

        Returns (index, tariff, continuation deadline or None). Adjusting
        tariffs (``free_first``/``discount``) are passed over unless
        ``adjusting`` is true, when the first matching tariff is returned
        whatever its kind (the caller applies an adjusting one once per stay).
        """
        local = start.astimezone(self.tz)
        day = local.date()
        tags = self.tags(day)
        second = local.hour * 3600 + local.minute * 60 + local.second
        for i in range(first, len(self.plan.tariffs)):
            t = self.plan.tariffs[i]
            if t.adjusting and not adjusting:
                continue
            if not t.matches_arrival(self.vehicle, self.spot, tags, second, self.zone, self.concessions):
                continue
            if t.leave_after is not None and end < self._next_at(day, t.leave_after, start, at_start=True):
                continue
            deadline = None
            if t.leave_by is not None:
                deadline = self._next_at(day, t.leave_by, start, at_start=False)
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
        """Charging periods of ``[start, end]``: 24 h blocks from ``start`` ("Day 2") or calendar days ("Sat 24 Oct").

        ``kind`` is the tariff's ``daily_max_per``; returns (from, to, name) triples.
        """
        out: list[tuple[datetime, datetime, str]] = []
        day = start.astimezone(self.tz).date()
        lo, k = start, 0
        while True:
            if kind == "calendar_day":
                hi = at_local(self.tz, day + timedelta(days=1), 0)
                if hi <= lo:  # a zone whose midnight vanished: never stall
                    hi = lo + _DAY
                name = day_label(day)
            else:
                hi = start + _DAY * (k + 1)
                name = f"Day {k + 1}"
            if hi >= end:
                out.append((lo, end, name))
                return out
            out.append((lo, hi, name))
            lo, day, k = hi, day + timedelta(days=1), k + 1

    def period_count(self, kind: str, start: datetime, end: datetime) -> int:
        """How many periods :meth:`periods` returns for ``[start, end]``, without listing them (closed form
        for long stays; the list itself for short ones, so the two never disagree where it matters)."""
        if (end - start) // _DAY <= LONG_PERIODS:
            return len(self.periods(kind, start, end))
        if kind != "calendar_day":
            return max(1, ceil_div(_us(end - start), _us(_DAY)))
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        days = (last - first).days
        return max(1, days if at_local(self.tz, last, 0) >= end else days + 1)

    def period(self, kind: str, start: datetime, end: datetime, k: int, count: int, *,
               year: bool = False) -> tuple[datetime, datetime, str]:
        """Period ``k`` (0-based) of the ``count`` of ``[start, end]``, as :meth:`periods` would list it
        (``year``: the year in a calendar day's name, as the long-stay line shows it)."""
        if kind == "calendar_day":
            day = start.astimezone(self.tz).date() + timedelta(days=k)
            lo = start if k == 0 else at_local(self.tz, day, 0)
            hi = end if k == count - 1 else at_local(self.tz, day + timedelta(days=1), 0)
            return lo, hi, f"{day_label(day)} {day.year}" if year else day_label(day)
        lo = start + _DAY * k
        hi = end if k == count - 1 else start + _DAY * (k + 1)
        return lo, hi, f"Day {k + 1:,}" if year else f"Day {k + 1}"

    def capped_middle(self, t: Tariff, start: datetime, end: datetime, fresh: bool) -> tuple[int, int] | None:
        """``(h, count)`` when the periods ``h .. count - 2`` of a long stay all charge exactly ``daily_max``
        (see the module docstring for the proof's conditions), else None."""
        cap = t.daily_max
        if cap is None or t.charge_hours or t.free or not t.bands or not _monotone(t):
            return None
        count = self.period_count(t.daily_max_per, start, end)
        if count <= LONG_PERIODS:
            return None
        shortest = _us(_DAY if t.daily_max_per == "24h" else _SHORTEST_DAY)
        last = t.bands[-1]
        h = 1
        if fresh:
            low = t.value(shortest)
        elif last.up_to is not None:  # value(a + k*L) = value(a) + k*F(L) for a > 0: whole repeats at least
            low = t.band_totals[-1] * (shortest // (last.up_to * MINUTE_US))
        elif last.every is not None:  # open-ended increments, once the stay is inside that band
            low = last.price * (shortest // (last.every * MINUTE_US))
            while _us(self.period(t.daily_max_per, start, end, h, count)[0] - start) < t.band_starts[-1] * MINUTE_US:
                h += 1
                if h >= LONG_PERIODS:
                    return None
        else:
            return None
        if low < cap or _apply(low, self.multiplier) < cap or h >= count - 1:
            return None
        return h, count

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
                    lo = max(at_local(self.tz, day, w.start), start)
                    hi = min(at_local(self.tz, day, w.end if w.end > w.start else w.end + 1440), end)
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
        cap = t.daily_max
        # 24 h periods and reset-at-midnight days are priced from scratch ("then
        # repeats"); calendar-day caps apply to bands that run on from entry.
        fresh = t.reset_at_midnight or (cap is not None and t.daily_max_per == "24h")
        split = cap is not None or t.reset_at_midnight
        middle = self.capped_middle(t, start, end, fresh) if split else None
        if middle is not None:  # a long stay: first periods, the capped middle in closed form, the last period
            h, count = middle
            kind = t.daily_max_per
            spans = [self.period(kind, start, end, k, count) for k in range(h)]
            mid_lo, _x, first_name = self.period(kind, start, end, h, count, year=True)
            _y, mid_hi, last_name = self.period(kind, start, end, count - 2, count, year=True)
            spans.append((mid_lo, mid_hi, ""))
            spans.append(self.period(kind, start, end, count - 1, count))
            middle_line = FeeLine(f"{first_name} – {last_name}: Daily maximum × {count - 1 - h:,}",
                                  _ceil_minutes(mid_hi - mid_lo), cap * (count - 1 - h))
        elif split:
            if self.period_count(t.daily_max_per, start, end) > MAX_PERIODS or (
                    t.charge_hours and end - start > _DAY * MAX_PERIODS):
                raise InputError(f"rate plan {self.plan.name!r}, tariff {t.name!r}: a stay of "
                                 f"{(end - start).days:,} days is longer than it can price "
                                 f"({MAX_PERIODS:,} days at most)")
            spans = self.periods(t.daily_max_per, start, end)
        else:
            if t.charge_hours and end - start > _DAY * MAX_PERIODS:
                raise InputError(f"rate plan {self.plan.name!r}, tariff {t.name!r}: a stay of "
                                 f"{(end - start).days:,} days is longer than it can price "
                                 f"({MAX_PERIODS:,} days at most)")
            spans = [(start, end, "")]
        clock = self.clock(t, start, end)  # cheap without charge_hours (the only kind with a closed-form middle)
        lines: list[FeeLine] = []
        total = extra = 0
        for lo, hi, name in spans:
            if middle is not None and not name:  # the closed-form middle
                lines.append(middle_line)
                total += middle_line.amount
                continue
            a, b = clock(lo), clock(hi)
            if fresh:
                raw = t.value(b - a)
                label = stay_label(t, b - a, cur)
            else:
                raw = t.value(b) - t.value(a)
                label = span_label(t, a, b, cur)
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
                raise self.no_tariff(start)
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
        """Lost-ticket fee for a stay whose first tariff is ``t`` (rules: ``LostTicket`` in the model)."""
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
        count = self.period_count(t.daily_max_per, start, end) if rule.per_day else 1
        amount = unit * count
        if rule.per_day:
            what += f" ({count} {'day' if count == 1 else 'days'} × {format_money(unit, cur)})"
        if rule.or_fee_if_higher:
            lines, normal, _ = self.price_span(start, end)
            if normal > amount:
                note = f"Lost ticket: the stay's fee is higher than {format_money(amount, cur)}"
                return [FeeLine(note, 0, 0), *lines], normal
        return [FeeLine(what, minutes, amount)], amount


def _monotone(t: Tariff) -> bool:
    """True when ``t``'s schedule never falls as the stay grows (prices and cumulative totals non-decreasing),
    so a lower bound on a period's chargeable time bounds its charge."""
    before = 0
    for band, total in zip(t.bands, t.band_totals):
        if band.price < 0 or total < before or (band.every is None and band.price < before):
            return False
        before = total
    return True


def exit_deadline(plan: RatePlan, paid_at: datetime) -> datetime:
    """Latest exit after paying at ``paid_at`` (aware, any zone): ``paid_at + exit_grace``, in UTC.

    Raises :class:`InputError` if ``paid_at`` is naive. Rule: ``exit_grace`` in
    ``docs/rates.md`` (*Plan keys*).
    """
    _require_aware(paid_at, "paid_at")
    return paid_at.astimezone(UTC) + timedelta(minutes=plan.exit_grace_minutes)


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
    zone: str | None = None,
    concessions: Iterable[str] = (),
    previous_stay: tuple[datetime, datetime] | None = None,
    previous_parked: timedelta | None = None,
) -> Fee:
    """Price one stay with ``plan`` (the version in force at entry).

    ``entry_at``/``exit_at`` are aware datetimes in any zone (UTC in practice);
    the stay is their real elapsed time, DST-safe. ``tz`` is the facility's
    zone (a :class:`zoneinfo.ZoneInfo`), used for arrival times, day types,
    calendar days and chargeable hours. ``occupancy`` (0..1, measured at entry)
    selects the surge multiplier. ``lost=True`` charges the lost-ticket fee.
    ``zone`` is the bay's zone from the layout (matched case-insensitively
    against tariffs' ``zones``; ``None``: a bay in no named zone).
    ``concessions`` are the names recorded on the session (``disabled_badge``),
    each one the plan names. ``previous_stay`` is ``(entry, exit)`` of the
    same plate's stay before this one (aware datetimes): when the plan has a
    ``re_entry`` rule and this entry is within it of that exit, the stay
    continues the earlier one (priced from the earlier entry, less what the
    earlier stay costs by the same plan; never below zero). With
    ``time_away = "free"`` in the rule, the time between the visits is cut
    out: the stay is priced from the earlier entry for the time parked in all
    (``previous_parked``, the earlier visits' parked time when several
    continue each other; default the previous stay's length, plus this one).
    Rules: ``docs/rates.md`` (*Zones, concessions and re-entry*).

    Returns a :class:`Fee` in minor units whose lines sum to the amount.
    Raises :class:`InputError` for naive datetimes, an exit before the entry,
    an unknown or unpriced vehicle class or spot type, a concession the plan
    does not name, a previous stay that ends before it starts or after this
    entry (or parked longer than it lasted), or occupancy outside 0..1.
    """
    _require_aware(entry_at, "entry_at")
    _require_aware(exit_at, "exit_at")
    start, end = entry_at.astimezone(UTC), exit_at.astimezone(UTC)
    if end < start:
        raise InputError(f"exit {exit_at.isoformat()} is before entry {entry_at.isoformat()}")
    vehicle = _known(vehicle_class, VEHICLE_CLASSES, "vehicle class")
    if vehicle not in plan.vehicle_classes:
        raise InputError(f"rate plan {plan.name!r} does not price vehicle class {vehicle!r}")
    spot = _known(spot_type, SPOT_TYPES, "spot type")
    held = concession_set(plan, concessions)
    bay_zone = zone.strip().lower() or None if zone is not None else None
    multiplier = Decimal(1)
    if occupancy is not None:
        if not 0 <= occupancy <= 1:
            raise InputError(f"occupancy must be a fraction between 0 and 1, got {occupancy!r}")
        if plan.surge is not None:
            multiplier = plan.surge.multiplier(occupancy)

    pricing = _Pricing(plan, tz, vehicle, spot, multiplier, bay_zone, held)
    note: FeeLine | None = None
    earlier: tuple[datetime, datetime] | None = None
    if previous_stay is not None and not lost:
        before_in, before_out = previous_stay
        _require_aware(before_in, "previous stay's entry")
        _require_aware(before_out, "previous stay's exit")
        before_in, before_out = before_in.astimezone(UTC), before_out.astimezone(UTC)
        if before_out < before_in or before_out > start:
            raise InputError("the previous stay must end after it starts and no later than this entry "
                             f"({entry_at.isoformat()})")
        gap = start - before_out
        local = before_in.astimezone(tz).strftime("%H:%M %d %b")
        if plan.re_entry_minutes is None:
            note = FeeLine("Previous stay not continued: the plan has no re-entry rule", 0, 0)
        elif gap > timedelta(minutes=plan.re_entry_minutes):
            note = FeeLine(f"Re-entry after {format_minutes(_ceil_minutes(gap))}: a new stay "
                           f"(continues only within {format_minutes(plan.re_entry_minutes)})", 0, 0)
        else:
            earlier = (before_in, before_out)
            away = " (time away not charged)" if plan.re_entry_time_away_free else ""
            note = FeeLine(f"Re-entry within {format_minutes(plan.re_entry_minutes)}: continues the stay "
                           f"from {local}{away}", 0, 0)
    if earlier is None:
        lines, total, tariff_name = _price_stay(pricing, start, end, lost)
        lines = [note, *lines] if note else lines
    else:
        first_in, last_out = earlier
        before_end, until = last_out, end
        if plan.re_entry_time_away_free:  # the visits' parked time, from the first entry, without the time away
            parked = last_out - first_in if previous_parked is None else previous_parked
            if not timedelta(0) <= parked <= last_out - first_in:
                raise InputError("the previous stay's parked time must be between zero and its length")
            before_end = first_in + parked
            until = before_end + (end - start)
        lines, total, tariff_name = _price_stay(pricing, first_in, until, False)
        _, before, _ = _price_stay(pricing, first_in, before_end, False)
        taken = min(before, total)
        lines = [note, *lines, FeeLine("Charged for the earlier stay", _ceil_minutes(before_end - first_in),
                                       -taken)]
        total -= taken
    return Fee(
        amount=total,
        currency=plan.currency,
        lines=tuple(lines),
        plan_name=plan.name,
        plan_version=plan.version,
        tariff=tariff_name,
    )


def concession_set(plan: RatePlan, concessions: Iterable[str]) -> frozenset[str]:
    """``concessions`` as the lower-case names the plan's tariffs use; :class:`InputError` for a name it
    does not know (the one check of a concession name: quotes, and the booth when one is recorded)."""
    held: set[str] = set()
    for raw in concessions:
        name = str(raw).strip().lower()
        if name not in plan.concession_names:
            known = ", ".join(sorted(plan.concession_names)) or "none"
            raise InputError(f"rate plan {plan.name!r} has no concession {str(raw)!r} (known: {known})")
        held.add(name)
    return frozenset(held)


def _price_stay(pricing: _Pricing, start: datetime, end: datetime, lost: bool) -> tuple[list[FeeLine], int, str]:
    """Lines, total and the starting tariff's name for ``[start, end]``: lost ticket, free, grace, or the bands;
    an adjusting tariff matching first (``grace``, ``free_first``, ``discount``) applies once, around the tariffs
    after it."""
    plan = pricing.plan
    chosen = pricing.select(start, end, adjusting=True)
    if chosen is None:
        raise pricing.no_tariff(start)
    idx, first, _ = chosen
    adjust = first if first.adjusting else None
    if adjust is not None:
        chosen = pricing.select(start, end, idx + 1)
        if chosen is None:
            raise pricing.no_tariff(start)
        _, first, _ = chosen
    minutes = _ceil_minutes(end - start)
    grace = first.grace if first.grace is not None else plan.grace_minutes
    if adjust is not None and adjust.grace is not None:
        grace = adjust.grace
    tariff_name = first.name
    if lost:
        lines, total = pricing.price_lost(first, start, end)
    elif first.free:
        lines, total = [FeeLine(f"{first.name}: free", minutes, 0)], 0
    elif grace and end - start <= timedelta(minutes=grace):
        lines, total = [FeeLine(f"Grace period (up to {format_minutes(grace)})", minutes, 0)], 0
    elif adjust is None:
        lines, total, tariff_name = pricing.price_span(start, end)
    else:
        lines, total = [], 0
        rest = start
        if adjust.free_first:
            rest = min(start + timedelta(minutes=adjust.free_first), end)
            lines.append(FeeLine(f"{adjust.name}: first {format_minutes(adjust.free_first)} free",
                                 _ceil_minutes(rest - start), 0))
        if rest < end:
            more, total, tariff_name = pricing.price_span(rest, end, idx + 1)
            lines += more
        if adjust.discount and total:
            off = _apply(total, adjust.discount)
            lines.append(FeeLine(f"{adjust.name}: {_percent(adjust.discount)} off", 0, -off))
            total -= off
        if adjust.free_first or adjust.discount:  # a grace alone leaves the stay to the tariff that priced it
            tariff_name = adjust.name
    return lines, total, tariff_name


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"
