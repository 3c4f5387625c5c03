"""Words for rate plans: durations, band labels, breakdown labels and plan summaries.

Everything a person reads about a plan or a fee is written here, so the
engine and the validator share one wording: ``format_minutes`` ("1 h 30 min"),
the breakdown labels of :class:`~attendant.core.rates.model.FeeLine`
("Up to 2 h", "3 × 1 h at £2.40", "Day 2: 30 min more"), and the one-line
summary printed on tickets (:func:`describe_plan`). Labels follow
``docs/rates.md`` (*Bands*, *How a stay is priced*).
"""

from __future__ import annotations

from attendant.core.money import format_money
from attendant.core.rates.model import MINUTE_US, Band, RatePlan, Tariff, ceil_div


def format_minutes(minutes: int) -> str:
    """Human duration for labels: ``20 min``, ``1 h``, ``1 h 30 min``, ``3 days`` (whole days from 2 days)."""
    if minutes >= 2880 and minutes % 1440 == 0:
        return f"{minutes // 1440} days"
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def duration_text(minutes: int) -> str:
    """Duration as written in a plan file: ``20m``, ``1h``, ``1h30m`` (used in "write over = ..." hints)."""
    hours, mins = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{mins}m" if mins or not hours else "")


def band_label(tariff: Tariff, i: int) -> str:
    """Label of band ``i``: its ``name``, else ``Up to 1 h``, ``Each 1 h after 2 h``, ``Over 8 h`` or ``Flat rate``."""
    band = tariff.bands[i]
    start = tariff.band_starts[i]
    if band.name:
        return band.name
    if band.up_to is not None:
        return f"Up to {format_minutes(band.up_to)}"
    if band.every is not None:
        return f"Each {format_minutes(band.every)} after {format_minutes(start)}"
    return f"Over {format_minutes(start)}" if start else "Flat rate"


def _increments(count: int, band: Band, currency: str) -> str:
    assert band.every is not None
    return f"{count} × {format_minutes(band.every)} at {format_money(band.price, currency)}"


def stay_label(tariff: Tariff, d_us: int, currency: str) -> str:
    """Breakdown label for ``d_us`` microseconds priced from the start of the bands.

    E.g. ``Up to 2 h``, ``Up to 1 h + 3 × 30 min at £1.10``, or with a repeating
    schedule ``1 × 24 h at £7.40 + Up to 1 h``.
    """
    if not tariff.bands or d_us <= 0:
        return "No chargeable time"
    repeats, rest = tariff.repeats(d_us)
    prefix = ""
    if repeats:
        cycle = tariff.bands[-1].up_to or 0
        prefix = f"{repeats} × {format_minutes(cycle)} at {format_money(tariff.band_totals[-1], currency)} + "
    i = tariff.band_index(rest)
    band = tariff.bands[i]
    if band.every is None:
        return prefix + band_label(tariff, i)
    text = _increments(tariff.increments(i, rest), band, currency)
    if i:
        text = f"{band_label(tariff, i - 1)} + {text}"
    return prefix + text


def span_label(tariff: Tariff, a_us: int, b_us: int, currency: str) -> str:
    """Label for the charge between chargeable times ``a_us`` and ``b_us`` of bands that run on (a later day).

    ``3 × 1 h at £2.40`` for a plain "per started period" tariff, else
    ``5 h 15 min more``; from ``a_us <= 0`` it is :func:`stay_label`.
    """
    if a_us <= 0:
        return stay_label(tariff, b_us, currency)
    bands = tariff.bands
    if len(bands) == 1 and bands[0].every is not None and bands[0].up_to is None:
        step = bands[0].every * MINUTE_US
        return _increments(ceil_div(b_us, step) - ceil_div(a_us, step), bands[0], currency)
    return f"{format_minutes(ceil_div(b_us - a_us, MINUTE_US))} more"


def tariff_summary(tariff: Tariff, currency: str) -> str:
    """Short description of a tariff's pricing: ``£2.40 per started hour``, ``£2.20 up to 1 h, …, £7.40 up to 24 h``."""
    if tariff.free:
        return "free"
    items: list[str] = []
    for i, band in enumerate(tariff.bands):
        price = format_money(band.price, currency) if band.price else "free"
        if band.every is not None:
            unit = "hour" if band.every == 60 else format_minutes(band.every)
            text = f"{price} per started {unit}"
            if i:
                text = "then " + text
            if band.up_to is not None and i < len(tariff.bands) - 1:
                text += f" up to {format_minutes(band.up_to)}"
        elif band.up_to is not None:
            text = f"{price} up to {format_minutes(band.up_to)}"
        elif tariff.band_starts[i]:
            text = f"{price} over {format_minutes(tariff.band_starts[i])}"
        else:
            text = f"{price} flat"
        items.append(text)
    if len(items) > 3:
        items = [items[0], "…", items[-1]]
    return ", ".join(items)


def _main_tariff(plan: RatePlan) -> Tariff:
    """The tariff a car in a regular bay of no named zone, without concessions, gets at an unrestricted time
    (else the first for it, else the first that prices)."""

    def fits(t: Tariff) -> bool:
        return ((t.vehicles is None or "car" in t.vehicles) and (t.spot_types is None or "regular" in t.spot_types)
                and t.zones is None and t.concessions is None and not t.adjusting)

    for strict in (True, False):
        for t in plan.tariffs:
            if fits(t) and (not strict or (t.arrival is None and t.days is None and t.leave_after is None)):
                return t
    for t in plan.tariffs:
        if not t.adjusting:
            return t
    return plan.tariffs[0]


def describe_plan(plan: RatePlan) -> str:
    """One-line summary for tickets and ``rates check`` (:meth:`RatePlan.describe`).

    E.g. ``£2.40 per started hour, max £18.90 per calendar day; free up to 10 min``.
    """
    tariff = _main_tariff(plan)
    parts = [tariff_summary(tariff, plan.currency)]
    if tariff.daily_max is not None:
        per = "per calendar day" if tariff.daily_max_per == "calendar_day" else "a day"
        parts.append(f"max {format_money(tariff.daily_max, plan.currency)} {per}")
    text = ", ".join(parts)
    grace = tariff.grace if tariff.grace is not None else plan.grace_minutes
    if grace and not tariff.free:
        text += f"; free up to {format_minutes(grace)}"
    return text
