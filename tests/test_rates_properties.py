"""Properties of the fee engine (hypothesis): fees never fall as a stay grows,
never exceed the daily maximum per day, ignore the machine's timezone, and
price stays across DST changes by elapsed time."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from attendant.core.rates import RatePlan, compute_fee, load_rate_plan, parse_rate_plan

RATES = Path(__file__).resolve().parents[1] / "examples" / "rates"
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
PLANS = {
    name: load_rate_plan(RATES / f"{name}.toml")
    for name in ("ferry_meadows", "great_western_hospital", "charlotte_street", "charlotte_street_published")
}
DEMO = PLANS["charlotte_street"]
DEMO_DAILY = {"motorcycle": 500, "car": 1890, "van": 2200, "truck": 3600, "bus": 4500}
ROLLING = parse_rate_plan(
    """
name = "Hourly, 24 h maximum"
currency = "GBP"
grace = "15m"
bands = [{ up_to = "30m", price = "1.50" }, { up_to = "1h", price = "2.50" }, { every = "30m", price = "1.10" }]
daily_max = "14.00"
[surge]
cap = 1.75
steps = [{ occupancy = 0.7, multiplier = "1.25" }, { occupancy = 0.9, multiplier = 2 }]
"""
)

FAST = settings(max_examples=150, deadline=None)

# Entries anywhere in 2026 (covering both DST changes), to the second.
entries = st.integers(min_value=0, max_value=365 * 86400).map(
    lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
)
stays = st.integers(min_value=0, max_value=6 * 86400)  # seconds
vehicles = st.sampled_from(["motorcycle", "car", "van", "truck", "bus"])
spots = st.sampled_from(["regular", "accessible", "motorcycle", "ev"])
occupancies = st.none() | st.floats(min_value=0, max_value=1)


def fee(plan: RatePlan, entry: datetime, seconds: int, **kw) -> int:
    kw.setdefault("vehicle_class", "car")
    kw.setdefault("tz", LONDON)
    return compute_fee(plan, entry, entry + timedelta(seconds=seconds), **kw).amount


@FAST
@given(
    plan=st.sampled_from(sorted(PLANS)),
    entry=entries,
    a=stays,
    b=stays,
    vehicle=vehicles,
    spot=spots,
    lost=st.booleans(),
)
def test_fee_never_decreases_as_the_stay_grows(plan, entry, a, b, vehicle, spot, lost) -> None:
    short, long = sorted((a, b))
    kw = {"vehicle_class": vehicle, "spot_type": spot, "lost": lost}
    assert fee(PLANS[plan], entry, short, **kw) <= fee(PLANS[plan], entry, long, **kw)


@FAST
@given(entry=entries, a=stays, b=stays, occupancy=occupancies)
def test_fee_never_decreases_with_surge(entry, a, b, occupancy) -> None:
    short, long = sorted((a, b))
    assert fee(ROLLING, entry, short, occupancy=occupancy) <= fee(ROLLING, entry, long, occupancy=occupancy)


def calendar_days(entry: datetime, seconds: int) -> int:
    """Facility calendar days a stay touches (one ending at midnight stops the day before)."""
    exit_local = (entry + timedelta(seconds=seconds)).astimezone(LONDON)
    days = (exit_local.date() - entry.astimezone(LONDON).date()).days + 1
    if seconds and exit_local.time() == clock_time(0):
        days -= 1
    return max(days, 1)


@FAST
@given(entry=entries, seconds=stays, vehicle=vehicles)
def test_demo_fee_never_exceeds_the_daily_maximum_per_calendar_day(entry, seconds, vehicle) -> None:
    result = compute_fee(DEMO, entry, entry + timedelta(seconds=seconds), vehicle_class=vehicle, tz=LONDON)
    days = calendar_days(entry, seconds)
    assert result.amount <= DEMO_DAILY[vehicle] * days
    assert len(result.lines) == days or result.amount == 0
    assert all(line.amount <= DEMO_DAILY[vehicle] for line in result.lines)


@FAST
@given(entry=entries, seconds=stays, occupancy=occupancies)
def test_rolling_fee_never_exceeds_the_maximum_per_24h_even_with_surge(entry, seconds, occupancy) -> None:
    periods = max(1, -(-seconds // 86400))
    assert fee(ROLLING, entry, seconds, occupancy=occupancy) <= 1400 * periods


@contextmanager
def machine_timezone(name: str) -> Iterator[None]:
    """Set the process timezone (TZ + time.tzset), restoring it afterwards."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


MACHINE_ZONES = ["UTC", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata", "Europe/London"]


@settings(max_examples=60, deadline=None)
@given(plan=st.sampled_from(sorted(PLANS)), entry=entries, seconds=stays, vehicle=vehicles, lost=st.booleans())
def test_fee_is_the_same_whatever_the_machine_timezone(plan, entry, seconds, vehicle, lost) -> None:
    results = []
    for zone in MACHINE_ZONES:
        with machine_timezone(zone):
            assert time.tzname[0] != "" and (zone != "Asia/Kolkata" or time.timezone == -19800)
            results.append(
                compute_fee(
                    PLANS[plan],
                    entry.astimezone(ZoneInfo(zone)),  # the same instants, written in another zone
                    (entry + timedelta(seconds=seconds)).astimezone(ZoneInfo(zone)),
                    vehicle_class=vehicle,
                    tz=LONDON,
                    lost=lost,
                )
            )
    assert all(r == results[0] for r in results)


DST_CHANGES = [datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]


@FAST
@given(
    change=st.sampled_from(DST_CHANGES),
    offset=st.integers(min_value=-6 * 3600, max_value=3600),
    seconds=st.integers(min_value=0, max_value=8 * 3600),
)
def test_stays_across_dst_changes_price_by_elapsed_time(change, offset, seconds) -> None:
    entry = change + timedelta(seconds=offset)
    # Ferry Meadows has no time-of-day rules: facility zone or UTC, the fee is the same.
    ferry = PLANS["ferry_meadows"]
    assert fee(ferry, entry, seconds, tz=LONDON) == fee(ferry, entry, seconds, tz=UTC)
    # Demo plan, car, under the daily maximum (7 h < £18.90): £2.40 per started hour of elapsed time.
    if seconds <= 7 * 3600:
        expected = 0 if seconds <= 600 else 240 * -(-seconds // 3600)
        assert fee(DEMO, entry, seconds) == expected
    # Rolling 24 h plan: the same in any facility zone.
    assert fee(ROLLING, entry, seconds, tz=LONDON) == fee(ROLLING, entry, seconds, tz=ZoneInfo("Asia/Tokyo"))
