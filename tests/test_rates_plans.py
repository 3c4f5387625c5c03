"""The fee engine on the example plans: published tariffs at every band edge,
the demo plan (grace, per started hour, calendar-day maximum, DST), and each
tariff feature (time-of-day, day types, lost ticket, surge, ...)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from attendant.core.errors import InputError
from attendant.core.rates import (
    Fee,
    RatePlan,
    compute_fee,
    exit_deadline,
    load_rate_plan,
    parse_rate_plan,
)

RATES = Path(__file__).resolve().parents[1] / "examples" / "rates"
LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


@pytest.fixture(scope="module")
def ferry() -> RatePlan:
    return load_rate_plan(RATES / "ferry_meadows.toml")


@pytest.fixture(scope="module")
def gwh() -> RatePlan:
    return load_rate_plan(RATES / "great_western_hospital.toml")


@pytest.fixture(scope="module")
def demo() -> RatePlan:
    return load_rate_plan(RATES / "charlotte_street.toml")


@pytest.fixture(scope="module")
def published() -> RatePlan:
    return load_rate_plan(RATES / "charlotte_street_published.toml")


def quote(plan: RatePlan, entry: datetime, stay: timedelta, **kw) -> Fee:
    kw.setdefault("vehicle_class", "car")
    kw.setdefault("tz", LONDON)
    fee = compute_fee(plan, entry, entry + stay, **kw)
    assert sum(line.amount for line in fee.lines) == fee.amount
    assert fee.currency == plan.currency
    return fee


def pence(plan: RatePlan, minutes: float, entry: datetime | None = None, **kw) -> int:
    entry = entry or datetime(2026, 6, 3, 10, 0, tzinfo=LONDON)  # a Wednesday
    return quote(plan, entry, timedelta(minutes=minutes), **kw).amount


def edges(table: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """(edge minute, price up to and at the edge, price after) -> (minute, pence) cases."""
    cases = []
    for edge, at, after in table:
        cases += [(edge - 1, at), (edge, at), (edge + 1, after)]
    return cases


# ---------------------------------------------------------------- Ferry Meadows

FERRY_EDGES = [
    (20, 0, 220),  # grace period 20 minutes
    (60, 220, 320),  # up to 1 h £2.20
    (120, 320, 480),  # up to 2 h £3.20
    (180, 480, 580),  # up to 3 h £4.80
    (240, 580, 680),  # up to 4 h £5.80
    (480, 680, 740),  # up to 8 h £6.80, over 8 h £7.40
    (1440, 740, 740 + 220),  # past 24 h the schedule repeats (documented choice)
]


@pytest.mark.parametrize(("minutes", "expected"), edges(FERRY_EDGES))
def test_ferry_meadows_every_band_edge(ferry: RatePlan, minutes: int, expected: int) -> None:
    assert pence(ferry, minutes) == expected


def test_ferry_meadows_edges_are_measured_in_seconds(ferry: RatePlan) -> None:
    assert pence(ferry, 20 + 1 / 60) == 220  # 20:01 is past the grace period
    assert pence(ferry, 60.5) == 320  # 60 min 30 s is in the next band
    assert pence(ferry, 0) == 0


def test_ferry_meadows_breakdown_and_exit_grace(ferry: RatePlan) -> None:
    entry = datetime(2026, 6, 3, 9, 0, tzinfo=LONDON)
    fee = quote(ferry, entry, timedelta(hours=5))
    assert fee.lines[0].label == "Up to 8 hours"
    assert fee.lines[0].minutes == 300
    assert fee.to_json_dict()["amount"] == "6.80"
    grace = quote(ferry, entry, timedelta(minutes=12))
    assert grace.amount == 0 and grace.lines[0].label == "Grace period (up to 20 min)"
    assert ferry.exit_grace_minutes == 30
    paid = datetime(2026, 6, 3, 14, 0, tzinfo=LONDON)
    assert exit_deadline(ferry, paid) == datetime(2026, 6, 3, 13, 30, tzinfo=UTC)


def test_ferry_meadows_all_vehicles_every_day(ferry: RatePlan) -> None:
    sunday = datetime(2026, 6, 7, 22, 0, tzinfo=LONDON)
    for vehicle in ("motorcycle", "car", "van", "truck", "bus"):
        assert pence(ferry, 90, sunday, vehicle_class=vehicle) == 320


# ---------------------------------------------------------------- Great Western Hospital

GWH_EDGES = [
    (20, 0, 110),  # 0-20 minutes free, 21 minutes-1 h £1.10
    (60, 110, 220),  # 1-2 h £2.20
    (120, 220, 330),  # 2-3 h £3.30
    (180, 330, 440),  # 3-4 h £4.40
    (240, 440, 720),  # 4-6 h £7.20
    (360, 720, 880),  # 6-24 h £8.80
    (1440, 880, 880),  # 24 h 1 min: £8.80 + the free first band again
]


@pytest.mark.parametrize(("minutes", "expected"), edges(GWH_EDGES))
def test_great_western_hospital_every_band_edge(gwh: RatePlan, minutes: int, expected: int) -> None:
    assert pence(gwh, minutes) == expected


def test_great_western_hospital_band_labels(gwh: RatePlan) -> None:
    entry = datetime(2026, 6, 3, 10, 0, tzinfo=LONDON)
    assert quote(gwh, entry, timedelta(minutes=21)).lines[0].label == "21 minutes–1 hour"
    assert quote(gwh, entry, timedelta(minutes=10)).lines[0].label == "0–20 minutes (free)"
    assert pence(gwh, 24 * 60 + 21) == 880 + 110


@pytest.mark.parametrize("minutes", [0, 15, 45, 300, 1000, 3000])
def test_great_western_hospital_lost_ticket_is_the_6_to_24_h_rate(gwh: RatePlan, minutes: int) -> None:
    entry = datetime(2026, 6, 3, 10, 0, tzinfo=LONDON)
    fee = quote(gwh, entry, timedelta(minutes=minutes), lost=True)
    assert fee.amount == 880
    assert fee.lines[0].label == "Lost ticket, charged as 6–24 hours"


@pytest.mark.parametrize("lost", [False, True])
def test_great_western_hospital_accessible_bays_are_free(gwh: RatePlan, lost: bool) -> None:
    entry = datetime(2026, 6, 3, 10, 0, tzinfo=LONDON)
    fee = quote(gwh, entry, timedelta(hours=7), spot_type="accessible", lost=lost)
    assert fee.amount == 0
    assert fee.tariff == "Accessible bay"
    assert pence(gwh, 7 * 60, spot_type="regular") == 880


# ---------------------------------------------------------------- demo plan (Charlotte Street)


def test_demo_grace_period(demo: RatePlan) -> None:
    assert pence(demo, 9) == 0
    assert pence(demo, 10) == 0
    assert pence(demo, 10 + 1 / 60) == 240
    assert pence(demo, 11) == 240


@pytest.mark.parametrize(
    ("vehicle", "hourly", "daily"),
    [("motorcycle", 100, 500), ("car", 240, 1890), ("van", 300, 2200), ("truck", 480, 3600), ("bus", 600, 4500)],
)
def test_demo_per_started_hour_by_vehicle_class(demo: RatePlan, vehicle: str, hourly: int, daily: int) -> None:
    entry = datetime(2026, 6, 3, 8, 0, tzinfo=LONDON)
    assert pence(demo, 59, entry, vehicle_class=vehicle) == hourly
    assert pence(demo, 60, entry, vehicle_class=vehicle) == hourly
    assert pence(demo, 61, entry, vehicle_class=vehicle) == 2 * hourly
    assert pence(demo, 3 * 60 + 1, entry, vehicle_class=vehicle) == min(4 * hourly, daily)
    assert pence(demo, 15 * 60, entry, vehicle_class=vehicle) == daily  # 08:00-23:00 hits the maximum


def test_demo_calendar_day_maximum_repeats_over_three_days(demo: RatePlan) -> None:
    entry = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)  # Monday 09:00
    fee = compute_fee(
        demo, entry, datetime(2026, 6, 3, 17, 0, tzinfo=LONDON), vehicle_class="car", tz=LONDON
    )  # Wednesday 17:00
    assert fee.amount == 3 * 1890
    assert [line.label for line in fee.lines] == [
        "Mon 1 Jun: Daily maximum",
        "Tue 2 Jun: Daily maximum",
        "Wed 3 Jun: Daily maximum",
    ]
    assert [line.minutes for line in fee.lines] == [15 * 60, 24 * 60, 17 * 60]
    # The third day below the cap pays its started hours only.
    fee = compute_fee(demo, entry, datetime(2026, 6, 3, 2, 30, tzinfo=LONDON), vehicle_class="car", tz=LONDON)
    assert fee.amount == 2 * 1890 + 3 * 240
    assert fee.lines[-1].label == "Wed 3 Jun: 3 × 1 h at £2.40"
    # Motorcycle: £5.00 a calendar day.
    moto = compute_fee(
        demo, entry, datetime(2026, 6, 3, 17, 0, tzinfo=LONDON), vehicle_class="motorcycle", tz=LONDON
    )
    assert moto.amount == 3 * 500


def test_demo_hours_count_from_entry_across_midnight(demo: RatePlan) -> None:
    # 22:30 -> 01:15 is 2 h 45 min: three started hours, two on the first day.
    fee = quote(demo, datetime(2026, 6, 3, 22, 30, tzinfo=LONDON), timedelta(hours=2, minutes=45))
    assert fee.amount == 3 * 240
    assert [line.amount for line in fee.lines] == [480, 240]


def test_demo_stay_across_autumn_dst_change_priced_by_elapsed_time(demo: RatePlan) -> None:
    # 2026-10-25: clocks go back at 02:00 BST. 23:00 BST -> 03:00 GMT is 5 hours, not 4.
    entry = datetime(2026, 10, 24, 23, 0, tzinfo=LONDON)
    exit_ = datetime(2026, 10, 25, 3, 0, tzinfo=LONDON)
    assert exit_ - entry == timedelta(hours=4)  # naive wall-clock arithmetic would say 4
    fee = compute_fee(demo, entry, exit_, vehicle_class="car", tz=LONDON)
    assert fee.amount == 5 * 240
    assert [(line.label, line.minutes, line.amount) for line in fee.lines] == [
        ("Sat 24 Oct: 1 × 1 h at £2.40", 60, 240),
        ("Sun 25 Oct: 4 × 1 h at £2.40", 240, 960),
    ]
    # The same instants given in UTC price the same.
    same = compute_fee(demo, entry.astimezone(UTC), exit_.astimezone(UTC), vehicle_class="car", tz=LONDON)
    assert same == fee
    # 00:30 BST -> 01:30 GMT (the second 01:30) is two hours.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=LONDON)
    second = datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=LONDON)
    assert compute_fee(demo, first, second, vehicle_class="car", tz=LONDON).amount == 2 * 240


def test_demo_stay_across_spring_dst_change(demo: RatePlan) -> None:
    # 2026-03-29: clocks go forward at 01:00 GMT. 00:30 GMT -> 03:30 BST is 2 hours.
    entry = datetime(2026, 3, 29, 0, 30, tzinfo=LONDON)
    fee = compute_fee(demo, entry, datetime(2026, 3, 29, 3, 30, tzinfo=LONDON), vehicle_class="car", tz=LONDON)
    assert fee.amount == 2 * 240


def test_demo_daily_maximum_on_the_25_hour_day(demo: RatePlan) -> None:
    entry = datetime(2026, 10, 25, 0, 0, tzinfo=LONDON)
    fee = compute_fee(demo, entry, datetime(2026, 10, 26, 0, 0, tzinfo=LONDON), vehicle_class="car", tz=LONDON)
    assert fee.amount == 1890
    assert fee.lines[0].minutes == 25 * 60


def test_demo_accessible_bay_is_charged_as_a_car(demo: RatePlan) -> None:
    for vehicle in ("car", "van", "bus"):
        assert pence(demo, 150, vehicle_class=vehicle, spot_type="accessible") == 3 * 240
    assert pence(demo, 150, vehicle_class="van", spot_type="regular") == 3 * 300


def test_demo_lost_ticket_is_the_car_maximum_per_day(demo: RatePlan) -> None:
    entry = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
    assert quote(demo, entry, timedelta(0), lost=True).amount == 1890  # entry unknown: one day
    assert quote(demo, entry, timedelta(minutes=5), lost=True).amount == 1890  # no grace for a lost ticket
    fee = quote(demo, entry, timedelta(days=2, hours=8), lost=True)
    assert fee.amount == 3 * 1890
    assert fee.lines[0].label == "Lost ticket (3 days × £18.90)"


def test_demo_describe_and_json(demo: RatePlan) -> None:
    assert demo.describe() == "£2.40 per started hour, max £18.90 per calendar day; free up to 10 min"
    fee = quote(demo, datetime(2026, 6, 3, 10, 0, tzinfo=LONDON), timedelta(minutes=125))
    assert fee.to_json_dict() == {
        "amount": "7.20",
        "currency": "GBP",
        "lines": [{"label": "3 × 1 h at £2.40", "minutes": 125, "amount": "7.20"}],
        "plan": "Charlotte Street (demo)",
        "plan_version": "demo-2026.1",
        "tariff": "Car",
    }


def test_demo_multi_day_stay_is_fast(demo: RatePlan) -> None:
    # Loops per day, not per minute: a year-long stay is still a few hundred steps.
    entry = datetime(2026, 1, 1, 9, 0, tzinfo=LONDON)
    fee = compute_fee(demo, entry, entry + timedelta(days=365), vehicle_class="car", tz=LONDON)
    assert fee.amount == 366 * 1890
    assert len(fee.lines) == 366


# ---------------------------------------------------------------- published Charlotte Street


@pytest.mark.parametrize(
    ("minutes", "expected"),
    edges([(240, 720, 1080), (360, 1080, 1890), (1440, 1890, 3780), (2880, 3780, 5670)])
    + [(7 * 1440, 13230), (10, 720)],
)
def test_published_charlotte_street_day_bands(published: RatePlan, minutes: int, expected: int) -> None:
    assert pence(published, minutes, datetime(2026, 6, 3, 9, 0, tzinfo=LONDON)) == expected


def test_published_charlotte_street_evening_and_overnight(published: RatePlan) -> None:
    evening = datetime(2026, 6, 3, 19, 0, tzinfo=LONDON)
    assert pence(published, 4 * 60, evening) == 250
    assert pence(published, 13 * 60, evening) == 250  # until 08:00
    fee = quote(published, evening, timedelta(hours=15))  # until 10:00: day bands from 08:00
    assert fee.amount == 250 + 720
    assert [line.label for line in fee.lines] == ["Evening/overnight: Flat rate", "Day: Up to 4 h"]
    assert fee.tariff == "Evening/overnight"
    assert pence(published, 60, datetime(2026, 6, 3, 17, 59, tzinfo=LONDON)) == 720  # rate locked at arrival
    assert pence(published, 60, datetime(2026, 6, 4, 7, 59, tzinfo=LONDON)) == 250 + 720  # 1 min after 08:00


def test_published_charlotte_street_motorcycle_bays_free(published: RatePlan) -> None:
    assert pence(published, 300, vehicle_class="motorcycle", spot_type="motorcycle") == 0
    assert pence(published, 300, vehicle_class="motorcycle", spot_type="regular") == 1080


# ---------------------------------------------------------------- plan storage


@pytest.mark.parametrize(
    "name", ["ferry_meadows", "great_western_hospital", "charlotte_street", "charlotte_street_published"]
)
def test_example_plans_round_trip_through_json(name: str) -> None:
    plan = load_rate_plan(RATES / f"{name}.toml")
    stored = json.dumps(plan.to_dict())
    again = RatePlan.from_dict(json.loads(stored))
    assert again == plan
    assert again.to_dict() == plan.to_dict()
    entry = datetime(2026, 10, 24, 18, 0, tzinfo=LONDON)
    assert quote(again, entry, timedelta(hours=30)) == quote(plan, entry, timedelta(hours=30))


# ---------------------------------------------------------------- tariff features

FEATURES = """
name = "Feature test"
version = "7"
currency = "USD"
timezone = "America/New_York"
grace = "5m"
holidays = ["2026-07-03"]
lost_ticket = { price = "40.00", or_fee_if_higher = true }

[surge]
cap = 1.5
steps = [{ occupancy = 0.8, multiplier = "1.1" }, { occupancy = "95%", multiplier = 2 }]

[[tariffs]]
name = "Holiday"
days = ["holiday", "sun"]
free = true

[[tariffs]]
name = "Early bird"
days = ["weekday"]
arrival = { from = "06:00", to = "09:30" }
leave_after = "15:00"
leave_by = "19:00"
flat = "12.00"

[[tariffs]]
name = "Evening"
arrival = { from = "17:00", to = "03:00" }
flat = "8.00"
or_cheaper = true

[[tariffs]]
name = "Saturday"
days = "sat"
flat = "10.00"
reset_at_midnight = true

[[tariffs]]
name = "Regular"
bands = [
  { up_to = "1h", price = "5.00" },
  { every = "30m", price = "2.45" },
]
daily_max = "30.00"
"""

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def features() -> RatePlan:
    return parse_rate_plan(FEATURES, "features.toml")


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=NY)  # 2026-07-01 is a Wednesday


def fee_ny(plan: RatePlan, entry: datetime, exit_: datetime, **kw) -> int:
    kw.setdefault("vehicle_class", "car")
    fee = compute_fee(plan, entry, exit_, tz=NY, **kw)
    assert sum(line.amount for line in fee.lines) == fee.amount
    return fee.amount


def test_first_period_then_increments_and_24h_maximum(features: RatePlan) -> None:
    assert fee_ny(features, ny(1, 10), ny(1, 11)) == 500
    assert fee_ny(features, ny(1, 10), ny(1, 11, 1)) == 745
    assert fee_ny(features, ny(1, 10), ny(1, 12)) == 500 + 2 * 245
    assert fee_ny(features, ny(1, 10), ny(1, 16)) == 500 + 10 * 245  # £29.50, under the maximum
    assert fee_ny(features, ny(1, 10), ny(1, 16, 1)) == 3000  # 500 + 11 * 245 is capped at £30
    # 24 h periods restart the bands: 24 h + 1 h = max + first hour.
    assert fee_ny(features, ny(1, 10), ny(2, 11)) == 3000 + 500


def test_grace_then_full_charge(features: RatePlan) -> None:
    assert fee_ny(features, ny(1, 10), ny(1, 10, 5)) == 0
    assert fee_ny(features, ny(1, 10), ny(1, 10, 6)) == 500


def test_early_bird_conditions(features: RatePlan) -> None:
    assert fee_ny(features, ny(1, 7), ny(1, 18)) == 1200
    assert fee_ny(features, ny(1, 7), ny(1, 19)) == 1200  # exit at the deadline is in time
    assert fee_ny(features, ny(1, 7), ny(1, 19, 1)) == 3000  # skipped: regular rates
    assert fee_ny(features, ny(1, 7), ny(1, 12)) == 500 + 8 * 245  # out before 15:00: regular
    assert fee_ny(features, ny(1, 9, 30), ny(1, 18)) == 3000  # arrival window is [06:00, 09:30)


def test_evening_or_cheaper(features: RatePlan) -> None:
    assert fee_ny(features, ny(1, 18), ny(1, 23)) == 800
    assert fee_ny(features, ny(1, 18), ny(1, 18, 50)) == 500  # regular is cheaper
    assert fee_ny(features, ny(2, 2), ny(2, 10)) == 800  # arrival 02:00 is in the wrapped window


def test_day_types_holidays_and_saturday_reset(features: RatePlan) -> None:
    assert fee_ny(features, ny(3, 10), ny(3, 15)) == 0  # Friday 3 July is a listed holiday
    assert fee_ny(features, ny(5, 10), ny(5, 15)) == 0  # Sunday
    # Saturday flat per calendar day, restarting at midnight (Sat 10:00 -> Sun 00:30).
    assert fee_ny(features, ny(4, 10), ny(5, 0, 30)) == 2000


def test_surge_rounds_half_up_and_respects_cap_and_daily_max(features: RatePlan) -> None:
    # 2 h 30 min = 5.00 + 3 * 2.45 = 12.35; x1.1 = 13.585 -> 13.59 (half up).
    entry, exit_ = ny(1, 10), ny(1, 12, 30)
    assert fee_ny(features, entry, exit_, occupancy=0.5) == 1235
    assert fee_ny(features, entry, exit_, occupancy=0.8) == 1359
    # Multiplier 2 is capped at 1.5: 12.35 * 1.5 = 18.525 -> 18.53.
    fee = compute_fee(features, entry, exit_, vehicle_class="car", tz=NY, occupancy=0.99)
    assert fee.amount == 1853
    assert fee.lines[-1].label == "Occupancy surge ×1.5" and fee.lines[-1].amount == 1853 - 1235
    # Never above the daily maximum.
    assert fee_ny(features, ny(1, 10), ny(1, 20), occupancy=1.0) == 3000
    # Exactly half a cent: 2.45 * 1.1 = 2.695 -> 2.70.
    half = parse_rate_plan(
        'name = "h"\ncurrency = "GBP"\nbands = [{ up_to = "1h", price = "2.45" }]\n'
        '[surge]\nsteps = [{ occupancy = 0.5, multiplier = "1.1" }]\n'
    )
    at = datetime(2026, 6, 3, 10, tzinfo=UTC)
    assert compute_fee(half, at, at + timedelta(minutes=30), vehicle_class="car", tz=UTC, occupancy=0.6).amount == 270


def test_lost_ticket_or_fee_if_higher(features: RatePlan) -> None:
    assert fee_ny(features, ny(1, 10), ny(1, 11), lost=True) == 4000
    # Two days and an hour: the normal fee (30 + 30 + 5) is higher than the flat fee.
    assert fee_ny(features, ny(1, 10), ny(3, 11), lost=True) == 3000 + 3000 + 500
    fee = compute_fee(features, ny(1, 10), ny(3, 11), vehicle_class="car", tz=NY, lost=True)
    assert fee.lines[0].amount == 0 and fee.lines[0].label.startswith("Lost ticket: the stay's fee is higher")


def test_charge_hours_only_count_inside_windows() -> None:
    plan = parse_rate_plan(
        """
name = "Council car park"
currency = "GBP"
charge_hours = [{ days = ["mon-sat"], from = "08:00", to = "18:00" }]
bands = [
  { up_to = "1h", price = "1.20" },
  { up_to = "2h", price = "2.40" },
  { up_to = "10h", price = "6.00" },
]
"""
    )
    wed = datetime(2026, 6, 3, 17, 0, tzinfo=LONDON)
    # Wednesday 17:00 to Thursday 09:00 counts 17-18 and 08-09: two hours.
    assert compute_fee(plan, wed, wed + timedelta(hours=16), vehicle_class="car", tz=LONDON).amount == 240
    sat_evening = datetime(2026, 6, 6, 18, 30, tzinfo=LONDON)
    assert compute_fee(plan, sat_evening, sat_evening + timedelta(hours=30), vehicle_class="car", tz=LONDON).amount == 0


def test_continue_and_multi_segment_lines(published: RatePlan) -> None:
    # Evening arrival, two nights: 2.50 + day bands from 08:00 for 24 h+ (repeats: 18.90 + 18.90).
    entry = datetime(2026, 6, 3, 19, 0, tzinfo=LONDON)
    fee = quote(published, entry, timedelta(hours=13 + 25))
    assert fee.amount == 250 + 3780


def test_compute_fee_refuses_bad_input(demo: RatePlan) -> None:
    at = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="timezone"):
        compute_fee(demo, datetime(2026, 6, 3, 10, 0), at, vehicle_class="car", tz=LONDON)
    with pytest.raises(InputError, match="before entry"):
        compute_fee(demo, at, at - timedelta(minutes=1), vehicle_class="car", tz=LONDON)
    with pytest.raises(InputError, match="unknown vehicle class 'lorry'"):
        compute_fee(demo, at, at, vehicle_class="lorry", tz=LONDON)
    with pytest.raises(InputError, match="unknown spot type 'roof'"):
        compute_fee(demo, at, at, vehicle_class="car", spot_type="roof", tz=LONDON)
    with pytest.raises(InputError, match="occupancy"):
        compute_fee(demo, at, at, vehicle_class="car", tz=LONDON, occupancy=1.5)
    cars_only = parse_rate_plan('name = "c"\ncurrency = "GBP"\nvehicle_classes = ["car"]\nflat = "1"\n')
    with pytest.raises(InputError, match="does not price vehicle class 'bus'"):
        compute_fee(cars_only, at, at, vehicle_class="bus", tz=LONDON)
