"""``attendant replay occupancy|sessions`` (issue 13 item 4): real data through the booth services.

Real slices of ``../shared/data`` (Bath's occupancy feed, Caltech's ACN
sessions) are replayed into a fresh copy of the demo facility; the rows in
the database are read back and the summary's error figures are computed
again here, from the series and the session rows. Bad data is written
into small files whose lines the messages must name.
"""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli_support import REPO

SHARED = REPO.parent / "shared" / "data"
BATH = SHARED / "bath_carparks_2016Q4.csv"
CALTECH = SHARED / "acn_caltech_sessions_2021.csv"
LONDON = ZoneInfo("Europe/London")  # the demo facility's zone
PUBLISHED = REPO / "examples" / "rates" / "charlotte_street_published.toml"

needs_shared = pytest.mark.skipif(not (BATH.is_file() and CALTECH.is_file()),
                                  reason="../shared/data is absent (fresh clone): the real series are not here")


def rows(db: str, sql: str, *args) -> list:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, args).fetchall()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bath_slice(path: Path, names: tuple[str, ...], day: str, hours: tuple[str, ...]) -> list[dict]:
    """The Bath rows of ``names`` on ``day`` whose hour is in ``hours``, written to ``path`` (header kept)."""
    kept = []
    with BATH.open(newline="") as source, path.open("w", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if row["Name"] in names and row["LastUpdate"].startswith(day) and row["LastUpdate"][11:13] in hours:
                writer.writerow(row)
                kept.append(row)
    return kept


def inside_at(db: str, moment: datetime) -> int:
    """Vehicles inside at ``moment`` from the session rows alone (entered by then, not yet left)."""
    count = 0
    for entry_at, exit_at in rows(db, "SELECT entry_at, exit_at FROM parking_session"):
        if utc(entry_at) <= moment and (exit_at is None or utc(exit_at) > moment):
            count += 1
    return count


@needs_shared
def test_an_occupancy_slice_is_replayed_and_its_error_is_the_databases(cli, tmp_path):
    path = tmp_path / "bath.csv"
    kept = bath_slice(path, ("Charlotte Street CP", "Podium CP"), "2016-11-12", ("06", "07"))
    series = [r for r in kept if r["Name"] == "Charlotte Street CP"]
    assert len(series) == 24 and len(kept) > len(series)  # two car parks in the file: --name picks one

    refused = cli.run("replay", "occupancy", str(path), "--json", expect=2)
    assert "several car parks" in refused.stderr and "Podium CP" in refused.stderr
    assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(0,)]

    png = tmp_path / "replay.png"
    summary = json.loads(cli.run("replay", "occupancy", str(path), "--name", "Charlotte Street CP", "--json",
                                 "--png", str(png)).stdout)
    assert summary["readings"] == 24 and summary["columns"]["time"] == "LastUpdate"
    shift = timedelta(days=summary["shift_days"])
    assert summary["shift_days"] % 7 == 0  # whole weeks: the weekday and the wall-clock time are kept

    # the error figures, again, from the series and the session rows
    errors = []
    for row in series:
        local = datetime.fromisoformat(row["LastUpdate"]) + shift
        moment = local.replace(tzinfo=LONDON).astimezone(UTC)
        errors.append(abs(inside_at(cli.db, moment) - int(row["Occupancy"])))
    assert summary["max_abs_error"] == max(errors)
    assert summary["mean_abs_error"] == round(sum(errors) / len(errors), 3)
    assert summary["max_abs_error"] == 0  # planned reading to reading: the database meets each one

    sessions = rows(cli.db, "SELECT count(*), sum(status = 'closed'), sum(status = 'open') FROM parking_session")
    assert sessions == [(summary["vehicles_in"], summary["vehicles_out"], summary["still_inside"])]
    assert summary["still_inside"] == int(series[-1]["Occupancy"])
    assert summary["vehicles_out"] > 0
    paid = dict(rows(cli.db, "SELECT method, sum(amount) FROM payment WHERE status = 'completed' GROUP BY method"))
    assert summary["revenue"]["by_method"] == paid
    assert summary["revenue"]["total"] == sum(paid.values()) > 0
    assert sum(summary["revenue"]["by_band"].values()) == summary["revenue"]["total"]
    actors = rows(cli.db, "SELECT DISTINCT actor FROM audit_event WHERE action IN ('session.enter', 'session.exit')")
    assert [a for (a,) in actors] == [actors[0][0]] and actors[0][0].startswith("replay:")

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

    again = cli.run("replay", "occupancy", str(path), "--name", "Charlotte Street CP", expect=2)
    assert "vehicles inside" in again.stderr and "--continue" in again.stderr  # a replay wants an empty car park
    assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(summary["vehicles_in"],)]


@needs_shared
def test_a_session_list_is_replayed_and_priced_under_a_second_plan(cli, tmp_path):
    from attendant.core.rates import compute_fee, load_rate_plan

    path = tmp_path / "caltech.csv"
    with CALTECH.open(newline="") as source:
        lines = source.readlines()[:41]
    path.write_text("".join(lines))
    expected = list(csv.DictReader(path.open()))
    ran = cli.run("replay", "sessions", str(path), "--json", "--compare-rates", str(PUBLISHED))
    summary = json.loads(ran.stdout)
    assert summary["columns"]["arrival"] == "connectionTime_utc"
    assert summary["columns"]["departure"] == "disconnectTime_utc"
    assert (summary["vehicles_in"], summary["vehicles_out"], summary["refused"]) == (40, 40, 0)
    assert summary["max_abs_error"] == 0 and summary["readings"] > 40

    stays = rows(cli.db, "SELECT entry_at, exit_at, vehicle_class, spot_type, status FROM parking_session "
                         "ORDER BY entry_at")
    assert len(stays) == 40 and {s[4] for s in stays} == {"closed"}
    shift = timedelta(days=summary["shift_days"])
    arrivals = sorted(datetime.fromisoformat(r["connectionTime_utc"]).astimezone(LONDON).replace(tzinfo=None)
                      for r in expected)
    assert [utc(s[0]).astimezone(LONDON).replace(tzinfo=None) - shift for s in stays] == arrivals

    paid = rows(cli.db, "SELECT sum(amount) FROM payment WHERE status = 'completed'")[0][0]
    assert summary["revenue"]["total"] == paid
    other = load_rate_plan(PUBLISHED)
    repriced = sum(compute_fee(other, utc(e), utc(x), vehicle_class=c, spot_type=t, tz=LONDON).amount
                   for e, x, c, t, _s in stays)
    compared = summary["compare_rates"]["revenue"]
    assert compared["total"] == repriced and compared["plan"].startswith("Charlotte Street (published")
    assert compared["total"] != summary["revenue"]["total"]
    assert rows(cli.db, "SELECT sum(amount) FROM payment")[0][0] == paid  # pricing the other plan wrote nothing

    text = cli.run("replay", "sessions", str(path), "--compare-rates", str(PUBLISHED), "--chart").stdout
    header = next(line for line in text.splitlines() if line.startswith("Revenue"))
    assert "Charlotte Street (demo)" in header and "published tariff" in header  # two revenue columns
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.count("£") == 2
    assert "Occupancy (vehicles)" in text and "Revenue by hour" in text  # the terminal charts


def write(path: Path, text: str) -> str:
    path.write_text(text.lstrip())
    return str(path)


SERIES = """
Name,LastUpdate,Occupancy,Capacity
Test CP,2016-11-12 06:00:00,3,20
Test CP,2016-11-12 06:05:00,4,20
Test CP,2016-11-12 06:10:00,25,20
Test CP,2016-11-12 06:15:00,6,20
Test CP,2016-11-12 06:20:00,-2,20
Test CP,yesterday-ish,7,20
Test CP,2016-11-12 06:25:00,8,20
Test CP,2016-11-12 07:05:00,9,20
Test CP,2016-11-12 07:10:00,9,20
Test CP,2016-11-12 07:10:00,9,20
"""


@pytest.mark.parametrize("on_bad", ["fail", "clip", "skip"])
def test_bad_readings_are_named_by_file_and_line_and_handled_as_asked(cli, tmp_path, on_bad):
    path = write(tmp_path / "bad.csv", SERIES)
    if on_bad == "fail":
        ran = cli.run("replay", "occupancy", path, expect=2)  # the default is fail
        assert "nothing was replayed" in ran.stderr
        for line, what in ((4, "above its capacity 20"), (6, "is negative"), (7, "is not"), (9, "gap of 40 min")):
            assert f"{path}:{line}: " in ran.stderr and what in ran.stderr, (line, what)
        assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(0,)]
        return
    summary = json.loads(cli.run("replay", "occupancy", path, "--json", "--on-bad", on_bad).stdout)
    bad = summary["bad_data"]
    assert bad["gaps"] == 1 and bad["duplicates"] == 1
    assert [p.split(": ")[0] for p in bad["problems"]] == [f"{path}:{n}" for n in (4, 6, 7, 9)]
    if on_bad == "clip":
        assert (bad["clipped"], bad["skipped"]) == (2, 1)  # 25 -> 20 and -2 -> 0; a bad time cannot be clipped
        assert summary["readings"] == 8 and summary["max_abs_error"] == 0
        assert rows(cli.db, "SELECT count(*) FROM parking_session WHERE status = 'open'") == [(9,)]
        assert summary["vehicles_in"] >= 20  # the clipped reading put 20 vehicles inside
    else:
        assert (bad["clipped"], bad["skipped"]) == (0, 3)
        assert summary["readings"] == 6 and summary["max_abs_error"] == 0
        assert summary["vehicles_in"] < 20


SESSIONS = """
arrival,departure,plate,payment,class
01/11/2016 08:00,01/11/2016 10:30,AB12 CDE,cash,car
01/11/2016 09:15,01/11/2016 09:05,CD34 EFG,card,car
01/11/2016 09:20,,EF56 GHI,card,van
01/11/2016 09:30,01/11/2016 11:00,GH78 IJK,bitcoin,car
"""


@pytest.mark.parametrize("on_bad", ["fail", "clip", "skip"])
def test_departures_before_arrivals_and_unknown_payments(cli, tmp_path, on_bad):
    path = write(tmp_path / "sessions.csv", SESSIONS)
    if on_bad == "fail":
        ran = cli.run("replay", "sessions", path, expect=2)
        assert f"{path}:3: departure 2016-11-01 09:05:00 is before arrival 2016-11-01 09:15:00" in ran.stderr
        assert f"{path}:5: payment 'bitcoin'" in ran.stderr
        assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(0,)]
        return
    summary = json.loads(cli.run("replay", "sessions", path, "--json", "--on-bad", on_bad).stdout)
    assert summary["time_format"] == "%d/%m/%Y %H:%M"
    stays = rows(cli.db, "SELECT entry_at, exit_at, vehicle_class, status FROM parking_session ORDER BY entry_at")
    methods = dict(rows(cli.db, "SELECT method, count(*) FROM payment GROUP BY method"))
    if on_bad == "clip":
        assert summary["bad_data"]["clipped"] == 2 and len(stays) == 4
        assert stays[1][0] == stays[1][1]  # the departure before its arrival became a zero-length stay
        assert stays[2][2:] == ("van", "open")  # no departure: still inside
        assert methods == {"cash": 1, "card": 1}  # bitcoin -> card (the zero-length stay paid nothing)
        more = write(tmp_path / "more.csv", "arrival,departure,plate\n02/11/2016 08:00,02/11/2016 09:00,XY12 ZZZ\n")
        assert "has 1 vehicle inside" in cli.run("replay", "sessions", more, expect=2).stderr
        again = json.loads(cli.run("replay", "sessions", more, "--continue", "--json").stdout)
        assert (again["inside_before"], again["vehicles_out"], again["max_abs_error"]) == (1, 1, 0)
        assert rows(cli.db, "SELECT count(*) FROM parking_session WHERE status = 'open'") == [(1,)]  # the van
    else:
        assert summary["bad_data"]["skipped"] == 2 and len(stays) == 2
        assert methods == {"cash": 1}
    assert summary["max_abs_error"] == 0


def test_time_formats_and_columns(tmp_path):
    from attendant.core.errors import InputError
    from attendant.core.replay_data import TimeReader, read_occupancy

    assert TimeReader(None, LONDON)("1478937600") == datetime(2016, 11, 12, 8, 0)  # epoch seconds, UTC = GMT
    assert TimeReader(None, LONDON)("2016-07-01T08:00:00Z") == datetime(2016, 7, 1, 9, 0)  # BST
    assert TimeReader(None, LONDON)("12/11/2016 08:00") == datetime(2016, 11, 12, 8, 0)  # day first
    assert TimeReader("%m/%d/%Y %I:%M %p", LONDON)("11/12/2016 08:00 AM") == datetime(2016, 11, 12, 8, 0)
    with pytest.raises(ValueError):
        TimeReader(None, LONDON)("next tuesday")
    path = write(tmp_path / "feed.csv", "when,in use,bays\n12/11/2016 08:00,3,10\n12/11/2016 08:05,4,10\n")
    with pytest.raises(InputError, match=r"feed.csv:1: cannot tell which column is the count \(--count-col NAME\)"):
        read_occupancy(path, tz=LONDON, capacity=100)
    loaded = read_occupancy(path, tz=LONDON, capacity=100, columns={"count": "In Use"})
    assert [(r.at, r.count) for r in loaded.items] == [(datetime(2016, 11, 12, 8, 0), 3),
                                                       (datetime(2016, 11, 12, 8, 5), 4)]
    assert loaded.columns == {"time": "when", "count": "in use", "capacity": "bays"}


def test_a_user_without_the_role_may_not_replay(cli, tmp_path):
    cli.run("user", "add", "boss", "--role", "admin", "--pin", "424242")
    cli.run("--user", "boss", "--pin", "424242", "user", "add", "ann", "--role", "attendant", "--pin", "515151")
    path = write(tmp_path / "s.csv", "arrival,departure\n2016-11-01 08:00,2016-11-01 09:00\n")
    ran = cli.run("--user", "ann", "--pin", "515151", "replay", "sessions", path, expect=2)
    assert "needs a supervisor" in ran.stderr
    assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(0,)]
    summary = json.loads(cli.run("--user", "boss", "--pin", "424242", "replay", "sessions", path, "--json").stdout)
    assert summary["vehicles_out"] == 1
    assert rows(cli.db, "SELECT DISTINCT entry_actor FROM parking_session") == [("replay:boss",)]


@pytest.mark.postgres
def test_a_replay_on_postgresql_writes_the_same_rows(pg_url, tmp_path):
    from sqlalchemy import create_engine, text

    from tests.cli_support import Attendant

    cli = Attendant(tmp_path, db=pg_url)
    cli.run("init", "--demo")
    path = write(tmp_path / "sessions.csv", SESSIONS)
    summary = json.loads(cli.run("replay", "sessions", path, "--json", "--on-bad", "clip").stdout)
    assert (summary["vehicles_in"], summary["vehicles_out"], summary["max_abs_error"]) == (4, 3, 0)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        stays = conn.execute(text("SELECT status, count(*) FROM parking_session GROUP BY status")).all()
        paid = conn.execute(text("SELECT coalesce(sum(amount), 0) FROM payment WHERE status = 'completed'")).scalar()
    engine.dispose()
    assert dict(stays) == {"closed": 3, "open": 1}
    assert paid == summary["revenue"]["total"] > 0


def test_dates_the_facility_does_not_accept_stop_the_replay_before_it_writes(cli, tmp_path):
    cli.run("time-window", "--before", "1d", "--widen", "366d")  # the defaults (the suite's copy is widened)
    path = write(tmp_path / "s.csv", "arrival,departure\n2016-11-01 08:00,2016-11-01 09:00\n")
    ran = cli.run("replay", "sessions", path, "--start", "2020-01-06", expect=2)
    assert "outside the window this facility accepts" in ran.stderr
    ran = cli.run("replay", "sessions", path, "--start", "2099-01-05", expect=2)
    assert "in the future" in ran.stderr
    assert rows(cli.db, "SELECT count(*) FROM parking_session") == [(0,)]


def test_the_demo_planner_follows_a_multi_day_series_reading_to_reading():
    import random

    from attendant.core.errors import InputError
    from attendant.core.replay import ReadingSeries, plan_traffic

    t0 = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)
    points = ((t0, 10), (t0 + timedelta(minutes=7), 17), (t0 + timedelta(minutes=13), 11),
              (t0 + timedelta(hours=2), 40))  # irregular intervals, across midnight, a gap
    series = ReadingSeries("test", points)
    assert series.occupancy_at(t0 - timedelta(hours=1)) == 10  # flat before the first reading
    assert series.occupancy_at(t0 + timedelta(minutes=3, seconds=30)) == 14  # 10 + 7 x 3.5/7, half up
    assert series.occupancy_at(t0 + timedelta(days=3)) == 40  # flat after the last: not periodic
    with pytest.raises(InputError, match="strictly increasing"):
        ReadingSeries("bad", ((t0, 1), (t0, 2)))
    rng = random.Random(7)
    inside = [(f"AB{i:02d} CDE", "car") for i in range(10)]
    for (start, _c), (end, count) in itertools.pairwise(points):
        events = plan_traffic(series, start, end, LONDON, 50, rng=rng, inside=inside, draw_class=lambda r: "car")
        assert all(start <= e.at < end and e.vehicle_class == "car" for e in events)
        for event in events:
            if event.kind == "arrival":
                inside.append((event.plate, "car"))
            else:
                inside.remove(next(v for v in inside if v[0] == event.plate))
        assert len(inside) == count  # each interval ends on its reading
