"""Bounded time (issue 9 item 3): the window of times a facility accepts, checked once in the booth
services; a supervisor's widening with an audited reason; facility times that do not exist or occur twice;
fees bounded in time and memory for any stay (a year-1 entry prices in closed form, to the penny).
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from attendant.core.auth import Actor, LoginRequired, PermissionDenied, Role
from attendant.core.errors import InputError
from attendant.core.requests import EntryRequest, ExitRequest, Tender
from attendant.core.time_bounds import TimeOutOfWindow, TimeWindow, bounds, resolve_local, set_window
from db.models import AuditEvent, ParkingSession
from tests.conftest import EXAMPLES

LONDON = ZoneInfo("Europe/London")
ADMIN = Actor("test-admin", Role.ADMIN)
SUPER = Actor("sue", Role.SUPERVISOR)


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(ParkingSession.__table__)).scalar_one(),
                conn.execute(select(func.count()).select_from(AuditEvent.__table__)).scalar_one())


@pytest.fixture
def default_window(service):
    """The small facility with the default window (the suite's templates accept a century back)."""
    set_window(service.engine, TimeWindow(), actor=ADMIN)
    return service


# ------------------------------------------------------------------ the window, in the services


def test_default_window_with_nothing_open(default_window, clock):
    service = default_window
    now = clock.now
    before = counts(service.engine)
    with pytest.raises(TimeOutOfWindow) as refused:
        service.admit(EntryRequest("AB12CDE", at=now - timedelta(days=1, minutes=1)), actor="ann")
    message = str(refused.value)
    assert "outside the window this facility accepts" in message
    assert "Thu 19 Nov 2026 09:00" in message and "Fri 20 Nov 2026 09:01" in message  # the window, facility time
    assert "--allow-backdate" in message
    assert refused.value.earliest == now - timedelta(days=1) and refused.value.latest == now + timedelta(minutes=1)
    with pytest.raises(TimeOutOfWindow):
        service.admit(EntryRequest("AB12CDE", at=now + timedelta(minutes=2)), actor="ann")
    assert counts(service.engine) == before  # nothing changed

    entry = service.admit(EntryRequest("AB12CDE", at=now - timedelta(hours=23)), actor="ann")
    assert entry.entry_at == now - timedelta(hours=23)
    service.admit(EntryRequest("CD34EFG", at=now + timedelta(seconds=30)), actor="ann")


def test_window_follows_the_oldest_open_session(default_window, clock):
    service = default_window
    now = clock.now
    first = service.admit(EntryRequest("OL1 DER", at=now - timedelta(hours=20)), actor="ann")
    # the oldest open entry minus a day: 44 h back is now accepted, 45 h is not
    with pytest.raises(TimeOutOfWindow):
        service.admit(EntryRequest("OL3 DER", at=now - timedelta(hours=44, minutes=1)), actor="ann")
    service.admit(EntryRequest("OL2 DER", at=now - timedelta(hours=43, minutes=59)), actor="ann")
    # an exit before the window is refused too (the same check, in the exit lane)
    with pytest.raises(TimeOutOfWindow):
        service.settle(ExitRequest(first.code, (Tender("cash", tendered=5000),), at=now - timedelta(days=3)),
                       actor="ann")
    assert service.lookup(first.code).status == "open"


def test_a_supervisor_widens_with_a_reason_recorded_in_the_audit(default_window, clock):
    service = default_window
    now = clock.now
    three_days = now - timedelta(days=3)
    before = counts(service.engine)
    with pytest.raises(PermissionDenied):  # an attendant cannot widen
        service.admit(EntryRequest("WI1 DEN", at=three_days, backdate_reason="replay"), actor="ann")
    with pytest.raises(InputError, match="needs a reason"):
        EntryRequest("WI1 DEN", at=three_days, backdate_reason="  ")
    with pytest.raises(TimeOutOfWindow, match="widening limit"):  # beyond now - 366 days even so
        service.admit(EntryRequest("WI1 DEN", at=now - timedelta(days=400), backdate_reason="old"), actor=SUPER)
    assert counts(service.engine) == before

    entry = service.admit(EntryRequest("WI1 DEN", at=three_days, backdate_reason="ticket machine was down"),
                          actor=SUPER)
    exit_at = three_days + timedelta(hours=2)  # still inside the (widened) window: the oldest entry minus a day
    done = service.settle(ExitRequest(entry.code, (Tender("cash", tendered=2000),), at=exit_at,
                                      backdate_reason="ticket machine was down"), actor=SUPER)
    assert done.exit_at == exit_at
    with service.engine.connect() as conn:
        events = conn.execute(select(AuditEvent.__table__.c.action, AuditEvent.__table__.c.details,
                                     AuditEvent.__table__.c.effective_at)
                              .where(AuditEvent.__table__.c.action.in_(["session.enter", "session.exit"]))
                              .order_by(AuditEvent.__table__.c.id)).all()
    assert [(e.action, e.details["backdate_reason"]) for e in events] == [
        ("session.enter", "ticket machine was down"), ("session.exit", "ticket machine was down")]
    assert events[0].effective_at == three_days


def test_system_automata_widen_but_need_a_reason(default_window, clock):
    replay = Actor("replay", system=True)
    entry = default_window.admit(EntryRequest("SY5 TEM", at=clock.now - timedelta(days=2),
                                              backdate_reason="demo replay"), actor=replay)
    assert entry.entry_at == clock.now - timedelta(days=2)


def test_times_at_the_calendar_ends_are_refused_not_crashed(default_window):
    from datetime import timezone

    before = counts(default_window.engine)
    for at in (datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))), datetime.min.replace(tzinfo=UTC),
               datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))):
        with pytest.raises(InputError):
            default_window.admit(EntryRequest("ED6 GES", at=at), actor="ann")
    assert counts(default_window.engine) == before


def test_bounds_never_overflow():
    window = TimeWindow(before=timedelta(days=36_600), widen=timedelta(days=36_600))
    ancient = datetime(1, 1, 1, tzinfo=UTC)  # a legacy row from before the rule
    earliest, latest = bounds(datetime(2026, 11, 20, tzinfo=UTC), ancient, window, widened=True)
    assert earliest == datetime(2000, 1, 1, tzinfo=UTC)
    assert latest == datetime(2026, 11, 20, 0, 1, tzinfo=UTC)
    with pytest.raises(InputError):
        TimeWindow(before=timedelta(days=-1))


# ------------------------------------------------------------------ wall-clock times


@pytest.mark.parametrize(("wall", "message"), [
    (datetime(2026, 3, 29, 1, 30), "does not exist in Europe/London"),
    (datetime(2026, 3, 29, 1, 0), "does not exist"),
    (datetime(2026, 10, 25, 1, 30), "happens twice in Europe/London"),
])
def test_gap_and_fold_times_are_refused(wall, message):
    with pytest.raises(InputError, match=message):
        resolve_local(wall, LONDON)


def test_times_around_the_changes_resolve():
    assert resolve_local(datetime(2026, 3, 29, 0, 59), LONDON).utcoffset() == timedelta(0)
    assert resolve_local(datetime(2026, 3, 29, 2, 0), LONDON).utcoffset() == timedelta(hours=1)
    assert resolve_local(datetime(2026, 10, 25, 0, 59), LONDON).utcoffset() == timedelta(hours=1)
    assert resolve_local(datetime(2026, 10, 25, 2, 0), LONDON).utcoffset() == timedelta(0)


def test_cli_refuses_gap_and_fold_and_takes_an_offset(tmp_path):
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path)
    rates = str(EXAMPLES / "rates" / "charlotte_street.toml")
    quote = ("quote", "--rates", rates, "--vehicle", "car", "--exit", "2026-10-25T03:00")
    gap = cli.run(*quote, "--entry", "2026-03-29T01:30", expect=2, db=False)
    assert "does not exist in Europe/London" in gap.stderr and "unexpected" not in gap.stderr
    fold = cli.run(*quote, "--entry", "2026-10-25T01:30", expect=2, db=False)
    assert "2026-10-25T01:30+01:00 for the first" in fold.stderr
    first = json.loads(cli.run(*quote, "--entry", "2026-10-25T01:30+01:00", "--json", db=False).stdout)
    second = json.loads(cli.run(*quote, "--entry", "2026-10-25T01:30+00:00", "--json", db=False).stdout)
    assert (first["amount"], second["amount"]) == ("7.20", "4.80")  # the first 01:30 is an hour earlier


# ------------------------------------------------------------------ the CLI on a fresh site


@pytest.fixture
def fresh(tmp_path):
    """A new site (`init --demo`) with the default window."""
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path)
    cli.run("init", "--demo")
    return cli


def test_cli_enter_at_the_edges_is_refused_and_changes_nothing(fresh):
    before = fresh.snapshot()
    for when, said in (("0001-01-01T00:00", "outside the years 2000 to 2099"),
                       ("9999-12-31T23:59", "outside the years 2000 to 2099"),
                       ((datetime.now(LONDON) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                        "outside the window this facility accepts"),
                       ((datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ"),
                        "outside the window this facility accepts")):
        ran = fresh.run("enter", "AB12 CDE", "--at", when, expect=2)
        assert said in ran.stderr, ran.stderr
    assert fresh.snapshot() == before


def test_cli_allow_backdate_needs_a_supervisor_once_users_exist(fresh):
    two_days = (datetime.now(LONDON) - timedelta(days=2)).replace(microsecond=0)
    when = two_days.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    # setup mode (no users): the OS account acts as admin, so it may widen
    entry = fresh.json("enter", "BA1 CKD", "--at", when, "--allow-backdate", "replaying the paper log")
    assert entry["entry_at"].startswith(two_days.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    with sqlite3.connect(fresh.db.removeprefix("sqlite:///")) as conn:
        (details,) = conn.execute("SELECT details FROM audit_event WHERE action = 'session.enter'").fetchone()
    assert json.loads(details)["backdate_reason"] == "replaying the paper log"

    fresh.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    fresh.run("--user", "root", "--pin", "135790", "user", "add", "ann", "--role", "attendant", "--pin", "246802")
    fresh.run("--user", "ann", "--pin", "246802", "shift", "open", "--float", "50")
    before = fresh.snapshot()
    refused = fresh.run("--user", "ann", "--pin", "246802", "enter", "AN2 ONE", "--at", when,
                        "--allow-backdate", "because", expect=2)
    assert "needs a supervisor" in refused.stderr
    assert fresh.run("enter", "AN2 ONE", "--at", when, "--allow-backdate", "x", expect=2).stderr  # no login
    after = fresh.snapshot()
    assert after["parking_session"] == before["parking_session"] and after["spot"] == before["spot"]


def test_time_window_command_shows_and_sets(fresh):
    assert fresh.json("time-window") == {"before_s": 86_400, "ahead_s": 60, "widen_s": 366 * 86_400,
                                         "replay": False}
    assert fresh.json("time-window", "--before", "7d", "--ahead", "5m")["before_s"] == 7 * 86_400
    bad = fresh.run("time-window", "--before", "-1d", expect=2)
    assert "not a duration" in bad.stderr
    three_days = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%MZ")
    refused = fresh.run("enter", "SE7 DAY", "--at", three_days, expect=2)  # within a week, but back-dated
    assert "needs a reason" in refused.stderr
    fresh.json("enter", "SE7 DAY", "--at", three_days, "--allow-backdate", "EQUIPMENT: paper log")


def test_services_refuse_for_login_required_when_users_exist(fresh, tmp_path):
    """The widening is checked in the services: a plain string actor (a script) is refused once users exist."""
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine

    fresh.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    engine = make_engine(fresh.db)
    service = ParkingService(engine, TicketSigner(b"k" * 32))
    with pytest.raises((LoginRequired, PermissionDenied)):
        service.admit(EntryRequest("SC1 RPT", at=service.clock() - timedelta(days=2), backdate_reason="x"),
                      actor="script")
    engine.dispose()


# ------------------------------------------------------------------ fees for any stay


def test_a_year_one_stay_prices_in_closed_form_to_the_penny():
    """The red-team stay (entry 0001-01-01, exit today): the same £13,985,130.60, in three lines."""
    from attendant.core.rates import compute_fee, load_rate_plan

    plan = load_rate_plan(EXAMPLES / "rates" / "charlotte_street.toml")
    entry = datetime(1, 1, 1, tzinfo=LONDON)
    fee = compute_fee(plan, entry, datetime(2026, 12, 4, 22, 0, tzinfo=LONDON), vehicle_class="car", tz=LONDON)
    assert fee.amount == 1_398_513_060
    assert len(fee.lines) == 3
    assert fee.lines[1].label.startswith("Tue 2 Jan 1 – ") and "Daily maximum × 739," in fee.lines[1].label
    assert sum(line.amount for line in fee.lines) == fee.amount


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_equals_the_day_by_day_price(seed, monkeypatch):
    """Past LONG_PERIODS the middle is priced in closed form: the same total as pricing every period."""
    import attendant.core.rates.engine as engine
    from attendant.core.rates import compute_fee, load_rate_plan

    plans = [load_rate_plan(p) for p in sorted((EXAMPLES / "rates").glob("*.toml"))]
    rng = random.Random(seed)
    for _ in range(8):
        plan = rng.choice(plans)
        entry = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 400 * 1440))
        exit_at = entry + timedelta(minutes=rng.randrange(401 * 1440, 800 * 1440))
        kw = dict(vehicle_class=rng.choice(["car", "van", "motorcycle", "truck", "bus"]), tz=LONDON,
                  occupancy=rng.choice([None, 0.5, 0.97]), spot_type=rng.choice(["regular", "accessible"]))
        fast = compute_fee(plan, entry, exit_at, **kw)
        monkeypatch.setattr(engine, "LONG_PERIODS", 10**9)
        slow = compute_fee(plan, entry, exit_at, **kw)
        monkeypatch.setattr(engine, "LONG_PERIODS", 400)
        assert fast.amount == slow.amount, (plan.name, entry, exit_at, kw)
        assert len(fast.lines) <= len(slow.lines)


def test_a_tariff_without_a_closed_form_is_refused_past_twenty_years():
    from attendant.core.rates import compute_fee
    from attendant.core.rates.loading import parse_rate_plan

    plan = parse_rate_plan('''
name = "Day rate"
currency = "GBP"
[[tariffs]]
name = "Weekdays"
bands = [{ every = "1h", price = "1.00" }]
charge_hours = [{ from = "08:00", to = "18:00", days = ["weekday"] }]
''')
    entry = datetime(2001, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="longer than it can price"):
        compute_fee(plan, entry, entry + timedelta(days=25 * 366), vehicle_class="car", tz=LONDON)
    ten_years = compute_fee(plan, entry, entry + timedelta(days=3653), vehicle_class="car", tz=LONDON)
    assert ten_years.amount > 0


def test_a_car_entered_in_the_future_before_the_rule_can_still_leave(service, clock):
    """Never trap a car: a legacy session whose entry lies in the future (``enter --at 9999-12-31`` was once
    accepted) is priced as a lost ticket at its exit, saying why, instead of "exit before entry" for ever."""
    from sqlalchemy import update

    entry = service.admit(EntryRequest("FU7 URE"), actor="ann")
    with service.engine.begin() as conn:  # what the red team's entry left behind
        conn.execute(update(ParkingSession.__table__).where(ParkingSession.__table__.c.id == entry.session_id)
                     .values(entry_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC)))
    quoted = service.quote(entry.code)
    assert quoted.fee.amount == 1890  # the plan's lost-ticket fee, one day
    assert quoted.fee.lines[0].label.startswith("Entry recorded in the future (9999-12-31T23:59")
    done = service.settle(ExitRequest(entry.code, iou_reason="driver had no money"), actor="ann")
    assert done.iou_amount == 1890 and done.exit_at == clock.now
    # an entry just ahead of the clock (within a day) is a real one: an exit before it is still refused
    ahead = service.admit(EntryRequest("AH3 EAD"), actor="ann")
    clock.now -= timedelta(hours=2)
    with pytest.raises(InputError, match="before the entry time"):
        service.quote(ahead.code)
