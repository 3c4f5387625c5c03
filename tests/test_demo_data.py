"""The demo's real data and layout: the shipped Bath fixture, the Charlotte Street
layout file and the real-traffic replay planner (attendant.core.replay)."""

from __future__ import annotations

import csv
import random
import re
import subprocess
import sys
import tomllib
from collections import Counter, deque
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from attendant.core.errors import InputError
from attendant.core.replay import (
    DEMO_FIXTURE,
    OccupancySeries,
    TrafficEvent,
    demo_series,
    load_occupancy_series,
    plan_traffic,
    random_plate,
    random_vehicle_class,
)
from attendant.core.vocab import VehicleClass

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "examples" / "data" / DEMO_FIXTURE
LAYOUT = ROOT / "examples" / "charlotte_street.toml"
SHARED_SOURCE = ROOT.parent / "shared" / "data" / "bath_carparks_2016Q4.csv"
LONDON = ZoneInfo("Europe/London")
SPOTS = "mcRLAE"
AISLE = ".>"
ALLOWED = set(SPOTS) | set(AISLE) | {"#", " "}


# --- the fixture ------------------------------------------------------------


def test_fixture_is_one_sorted_deduplicated_day_of_charlotte_street():
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    assert header == ["LastUpdate", "Occupancy", "Capacity", "Status"]
    stamps = [row[0] for row in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {stamp[:10] for stamp in stamps} == {"2016-11-12"}
    assert {row[2] for row in rows} == {"1056"}
    assert {row[3] for row in rows} <= {"Filling", "Emptying", "Static"}
    assert len(rows) == 288
    occupancy = [int(row[1]) for row in rows]
    assert (min(occupancy), max(occupancy)) == (132, 1027)
    gaps = [
        (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()
        for a, b in zip(stamps, stamps[1:])
    ]
    assert max(gaps) <= 301


@pytest.mark.skipif(not SHARED_SOURCE.is_file(), reason="../shared/data is absent (fresh clone)")
def test_fixture_regenerates_byte_for_byte_from_the_source(tmp_path):
    out = tmp_path / "day.csv"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "extract_bath_day.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == FIXTURE.read_bytes()


def test_demo_series_loads_the_fixture():
    series = demo_series()
    assert series.name == "Charlotte Street CP"
    assert series.capacity == 1056
    assert series.day == date(2016, 11, 12)
    assert len(series.points) == 288
    assert series.points[0] == (4 * 60 + 41, 140)  # 00:04:41, 140 inside
    seconds = [second for second, _ in series.points]
    assert seconds == sorted(seconds) and len(set(seconds)) == len(seconds)
    assert max(occupancy for _, occupancy in series.points) == 1027


# --- loading errors -----------------------------------------------------------

GOOD_HEAD = "LastUpdate,Occupancy,Capacity,Status\n2016-11-12 00:04:41,140,1056,Static\n"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (GOOD_HEAD + "2016-11-12 00:09:41,lots,1056,Static\n", ":3: Occupancy 'lots'"),
        (GOOD_HEAD + "12/11/2016 00:09,141,1056,Static\n", ":3: LastUpdate '12/11/2016 00:09'"),
        (GOOD_HEAD + "2016-11-13 00:09:41,141,1056,Static\n", ":3: 2016-11-13 is not 2016-11-12"),
        (GOOD_HEAD + "2016-11-12 00:09:41,141,900,Static\n", ":3: Capacity 900 differs"),
        (GOOD_HEAD + "2016-11-12 00:04:41,141,1056,Static\n", ":3: LastUpdate 2016-11-12 00:04:41 repeats line 2"),
        (GOOD_HEAD + "2016-11-12 00:09:41,-3,1056,Static\n", ":3: Occupancy -3 is negative"),
        ("LastUpdate,Occupancy\n2016-11-12 00:04:41,140\n", ":1: missing column(s) Capacity"),
        ("LastUpdate,Occupancy,Capacity\n", "no readings"),
    ],
)
def test_malformed_series_names_file_and_line(tmp_path, body, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_occupancy_series(path)
    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_occupancy_series(tmp_path / "absent.csv")


def test_loader_sorts_rows_and_takes_the_name_from_the_source_format(tmp_path):
    path = tmp_path / "grouped.csv"
    path.write_text(
        "Name,LastUpdate,DateUploaded,Occupancy,Capacity,Status,Proportion\n"
        "Charlotte Street CP,2016-11-12 00:09:41,x,139,1056,Emptying,0.13\n"
        "Charlotte Street CP,2016-11-12 00:04:41,x,140,1056,Static,0.13\n",
        encoding="utf-8",
    )
    series = load_occupancy_series(path)
    assert series.name == "Charlotte Street CP"
    assert series.points == ((281, 140), (581, 139))


# --- interpolation --------------------------------------------------------------


def test_target_at_interpolates_scales_clamps_and_wraps_midnight():
    series = OccupancySeries("t", 1000, date(2016, 11, 12), ((3600, 100), (7200, 500), (82800, 1100)))
    assert series.target_at(3600) == 100
    assert series.target_at(5400) == 300  # halfway between 100 and 500
    assert series.target_at(5400, capacity=500) == 150  # scaled by 500/1000
    assert series.target_at(82800) == 1100  # the raw count may exceed capacity...
    assert series.target_at(82800, capacity=1000) == 1000  # ...a facility cannot
    # 23:00 (1100) wraps to 01:00 next day (100): midnight is halfway, 600.
    assert series.target_at(0) == 600
    assert series.target_at(86400 + 3600) == 100
    with pytest.raises(InputError):
        OccupancySeries("t", 1000, date(2016, 11, 12), ((7200, 1), (3600, 2)))


# --- the layout -----------------------------------------------------------------


def _levels() -> tuple[dict, list[tuple[str, list[str]]]]:
    with LAYOUT.open("rb") as handle:
        doc = tomllib.load(handle)
    levels = [(level["code"], level["map"].rstrip("\n").split("\n")) for level in doc["levels"]]
    return doc, levels


def test_layout_has_exactly_1056_spots_and_valid_maps():
    doc, levels = _levels()
    facility = doc["facility"]
    assert re.fullmatch(r"[A-Z0-9]{2,8}", facility["code"])
    assert facility["timezone"] == "Europe/London" and facility["currency"] == "GBP"
    assert facility["rate_plan"] == "rates/charlotte_street.toml"
    assert 5 <= len(levels) <= 6
    assert len({code for code, _ in levels}) == len(levels)
    total = 0
    for code, rows in levels:
        assert re.fullmatch(r"[A-Z0-9]+", code)
        assert 10 <= len(rows) <= 16, code
        assert max(len(row) for row in rows) <= 60, code
        cells = "".join(rows)
        assert set(cells) <= ALLOWED, (code, set(cells) - ALLOWED)
        assert cells.count(">") == 1, code
        total += sum(cells.count(ch) for ch in SPOTS)
    assert total == 1056


def test_every_bay_opens_onto_an_aisle_reachable_from_the_entrance():
    _, levels = _levels()
    for code, rows in levels:
        grid = {(r, c): ch for r, row in enumerate(rows) for c, ch in enumerate(row)}
        for (r, c), ch in grid.items():
            if ch in SPOTS:
                assert grid.get((r - 1, c), " ") in AISLE or grid.get((r + 1, c), " ") in AISLE, (code, r, c)
        entrance = next(pos for pos, ch in grid.items() if ch == ">")
        seen, queue = {entrance}, deque([entrance])
        while queue:
            r, c = queue.popleft()
            for nxt in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if grid.get(nxt, " ") in AISLE and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        aisles = {pos for pos, ch in grid.items() if ch in AISLE}
        assert seen == aisles, f"{code}: aisle cells cut off from the entrance"


def test_bay_mix_is_realistic_and_accessible_bays_sit_by_the_entrance():
    _, levels = _levels()
    mix = Counter(ch for _, rows in levels for ch in "".join(rows) if ch in SPOTS)
    assert 0.035 <= mix["A"] / 1056 <= 0.045
    assert 0.025 <= mix["E"] / 1056 <= 0.035
    assert mix["m"] >= 4 and mix["c"] > 0 and mix["L"] > 0
    assert mix["R"] > 1056 / 2
    ground_code, ground = levels[0]
    assert "L" in "".join(ground), ground_code
    for code, rows in levels:
        spots = []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch == ">":
                    origin = (r, c)
                elif ch in SPOTS:
                    spots.append((r, c, ch))
        distance = sorted((abs(r - origin[0]) + abs(c - origin[1]), ch) for r, c, ch in spots)
        nearest = [ch for _, ch in distance[: len(distance) // 10]]
        accessible = sum(ch == "A" for _, ch in distance)
        assert accessible > 0 and nearest.count("A") == accessible, code


# --- the traffic planner ------------------------------------------------------


def _walk(events: list[TrafficEvent], inside: set[str], capacity: int) -> list[int]:
    """Apply events to the plates inside; assert plate integrity and bounds."""
    levels = []
    for event in events:
        if event.kind == "arrival":
            assert event.plate not in inside
            inside.add(event.plate)
            assert event.payment_method is None and event.tendered_hint is None
        else:
            assert event.kind == "departure"
            assert event.plate in inside, "departure of a vehicle that is not inside"
            inside.remove(event.plate)
            assert event.payment_method in ("card", "cash")
        assert 0 <= len(inside) <= capacity
        levels.append(len(inside))
    return levels


def _seed_inside(n: int, rng: random.Random) -> list[tuple[str, str]]:
    plates: dict[str, str] = {}
    while len(plates) < n:
        plates[random_plate(rng)] = "car"
    return list(plates.items())


def test_plan_over_a_day_tracks_the_real_series_hour_by_hour():
    series = demo_series()
    start = datetime(2026, 11, 14, tzinfo=LONDON)  # a Saturday; GMT
    end = start + timedelta(days=1)
    first_target = series.target_at(0, 1056)
    seeded = _seed_inside(first_target, random.Random(99))
    events = plan_traffic(series, start, end, LONDON, 1056, rng=random.Random(7), inside=seeded)

    ats = [event.at for event in events]
    assert ats == sorted(ats)
    assert all(at.tzinfo == timezone.utc for at in ats)
    assert start <= ats[0] and ats[-1] < end

    inside = {plate for plate, _ in seeded}
    levels = _walk(events, inside, 1056)
    assert max(levels) <= 1056 and min(levels) >= 0

    # Occupancy at each hour boundary against the real series at that hour.
    for hour in range(1, 25):
        boundary = start.astimezone(timezone.utc) + timedelta(hours=hour)
        before = sum(1 for at in ats if at < boundary)
        occupancy = levels[before - 1] if before else first_target
        expected = series.target_at((hour % 24) * 3600)
        assert abs(occupancy - expected) <= 2, (hour, occupancy, expected)

    # The peak around 14:00 is real: ~1,000 inside, and the overnight floor ~130.
    assert max(levels) >= 1000 and min(levels) <= 140
    # Churn keeps a flat night moving: 02:00-05:00 is almost flat in the series.
    night = [e for e in events if 2 <= e.at.astimezone(LONDON).hour < 5]
    assert len(night) >= 10
    assert Counter(e.kind for e in night)["arrival"] >= 5


def test_plan_is_deterministic_for_a_seed():
    series = demo_series()
    start = datetime(2026, 11, 14, 8, tzinfo=LONDON)
    end = start + timedelta(hours=4)
    a = plan_traffic(series, start, end, LONDON, 1056, rng=random.Random(3))
    b = plan_traffic(series, start, end, LONDON, 1056, rng=random.Random(3))
    c = plan_traffic(series, start, end, LONDON, 1056, rng=random.Random(4))
    assert a == b
    assert a != c


def test_plan_scales_to_a_smaller_facility_and_starts_from_empty():
    series = demo_series()
    start = datetime(2026, 11, 14, 11, tzinfo=LONDON)
    end = start + timedelta(hours=3)
    events = plan_traffic(series, start, end, LONDON, 200, rng=random.Random(5), initial=0)
    levels = _walk(events, set(), 200)  # every departure is of a vehicle that arrived
    assert max(levels) <= 200
    # 14:00 target on 200 bays: 1,0xx/1,056 of 200, i.e. about 193.
    assert levels[-1] == series.target_at(14 * 3600, 200)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2016, 10, 30), 25), (date(2017, 3, 26), 23)],
)
def test_plan_over_a_dst_change_day(day, hours):
    series = demo_series()
    start = datetime(day.year, day.month, day.day, tzinfo=LONDON)
    end = start + timedelta(days=1)  # wall-clock arithmetic: next local midnight
    assert end.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(hours=hours)
    first_target = series.target_at(0, 1056)
    seeded = _seed_inside(first_target, random.Random(1))
    events = plan_traffic(series, start, end, LONDON, 1056, rng=random.Random(11), inside=seeded)
    ats = [event.at for event in events]
    assert ats == sorted(ats)
    levels = _walk(events, {plate for plate, _ in seeded}, 1056)
    assert levels[-1] == series.target_at(0, 1056)  # back to the midnight count
    if hours == 25:
        # 01:00-02:00 happens twice (BST, then GMT): both carry traffic.
        folds = {e.at.astimezone(LONDON).fold for e in events if e.at.astimezone(LONDON).hour == 1}
        assert folds == {0, 1}
        assert ats[-1] - start.astimezone(timezone.utc) > timedelta(hours=24)


def test_plan_refuses_bad_input():
    series = demo_series()
    start = datetime(2026, 11, 14, 8, tzinfo=LONDON)
    rng = random.Random(0)
    with pytest.raises(InputError, match="aware"):
        plan_traffic(series, datetime(2026, 11, 14), start, LONDON, 1056, rng=rng)
    with pytest.raises(InputError, match="before"):
        plan_traffic(series, start, start - timedelta(hours=1), LONDON, 1056, rng=rng)
    with pytest.raises(InputError, match="outside"):
        plan_traffic(series, start, start + timedelta(hours=1), LONDON, 1056, rng=rng, initial=2000)
    with pytest.raises(InputError, match="disagrees"):
        plan_traffic(
            series, start, start + timedelta(hours=1), LONDON, 1056, rng=rng,
            initial=3, inside=[("AB12 CDE", "car")],
        )
    assert plan_traffic(series, start, start, LONDON, 1056, rng=rng) == []


# --- plates, classes, payments ------------------------------------------------

PLATE = re.compile(r"[A-HJ-PR-Y][A-HJ-PR-Y](0[2-9]|1\d|2[0-6]|5[1-9]|6\d|7[0-5]) [A-HJ-PR-Z]{3}")


def test_random_plates_follow_the_current_gb_format():
    rng = random.Random(2024)
    plates = [random_plate(rng) for _ in range(5000)]
    for plate in plates:
        assert PLATE.fullmatch(plate), plate
    assert len(set(plates)) > 4990
    assert not any(plate[0] in "IJQTUXZ" for plate in plates)  # not regional letters (X = export)


def test_vehicle_class_and_payment_mix():
    rng = random.Random(1)
    classes = Counter(random_vehicle_class(rng) for _ in range(20000))
    assert set(classes) <= {v.value for v in VehicleClass}
    share = {k: v / 20000 for k, v in classes.items()}
    assert abs(share["car"] - 0.90) < 0.01
    assert abs(share["van"] - 0.05) < 0.01
    assert abs(share["motorcycle"] - 0.04) < 0.01
    assert abs(share["truck"] - 0.01) < 0.005
    events = plan_traffic(
        demo_series(), datetime(2026, 11, 14, tzinfo=LONDON), datetime(2026, 11, 15, tzinfo=LONDON),
        LONDON, 1056, rng=random.Random(8),
    )
    departures = [e for e in events if e.kind == "departure"]
    card = sum(e.payment_method == "card" for e in departures) / len(departures)
    assert 0.65 <= card <= 0.75
    assert all(e.tendered_hint is None for e in departures if e.payment_method == "card")
    assert {e.tendered_hint for e in departures if e.payment_method == "cash"} <= {None, 500, 1000, 2000, 5000}


def test_replay_module_imports_no_ui_or_database():
    code = (
        "import sys, attendant.core.replay; "
        "bad = [m for m in ('textual', 'sqlmodel', 'sqlalchemy') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
