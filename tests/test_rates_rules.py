"""Rules operators publish (issue 10 item 10): bay zones, concessions, adjusting tariffs, re-entry, and the
plans that name what they cannot resolve. Pure pricing: no database.

Published tariffs are quoted through `attendant quote` and compared to the penny with the prices their
pages give (sources in each plan file's header):
- examples/rates/gatwick_short_stay.toml: a premium zone with its own prices;
- examples/rates/stoke_john_street.toml: a free period in the short-stay bays only;
- examples/rates/great_western_hospital.toml: a concessionary tariff in any bay.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from attendant import cli
from attendant.core.errors import InputError
from attendant.core.rates import RatePlan, RatePlanError, compute_fee, parse_rate_plan

RATES = Path(__file__).resolve().parents[1] / "examples" / "rates"
LONDON = ZoneInfo("Europe/London")


def quote(plan_file: str, entry: str, exit_: str, *extra: str) -> dict:
    result = CliRunner().invoke(cli.app, ["quote", "--rates", str(RATES / plan_file), "--vehicle", "car",
                                          "--entry", entry, "--exit", exit_, *extra, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def at(day: int, hhmm: str, minutes: int = 0) -> str:
    """A June 2026 facility time as --entry/--exit take it, ``minutes`` later (1 June 2026 is a Monday)."""
    h, m = map(int, hhmm.split(":"))
    return (datetime(2026, 6, day, h, m) + timedelta(minutes=minutes)).isoformat(timespec="minutes")


# ----------------------------------------------------------------------------- published: Gatwick (zones)

GATWICK = [  # (stay in minutes, short stay, premium short stay): every published band at both edges
    (1, "5.00", "6.50"), (30, "5.00", "6.50"), (31, "8.00", "10.30"), (60, "8.00", "10.30"),
    (61, "13.00", "15.00"), (120, "13.00", "15.00"), (121, "15.00", "19.00"), (180, "15.00", "19.00"),
    (181, "19.00", "24.50"), (240, "19.00", "24.50"), (241, "22.00", "29.50"), (300, "22.00", "29.50"),
    (301, "26.00", "35.00"), (360, "26.00", "35.00"), (361, "40.00", "50.00"), (720, "40.00", "50.00"),
    (721, "45.00", "55.00"), (1440, "45.00", "55.00"),
    (1441, "90.00", "110.00"), (2880, "90.00", "110.00"), (2881, "135.00", "165.00"),  # each subsequent day
]


@pytest.mark.parametrize(("minutes", "standard", "premium"), GATWICK)
def test_gatwick_short_stay_and_premium_zone_to_the_penny(minutes: int, standard: str, premium: str) -> None:
    entry, exit_ = at(1, "10:00"), at(1, "10:00", minutes)
    assert quote("gatwick_short_stay.toml", entry, exit_)["amount"] == standard
    assert quote("gatwick_short_stay.toml", entry, exit_, "--zone", "B")["amount"] == standard  # a row letter
    got = quote("gatwick_short_stay.toml", entry, exit_, "--zone", "Premium")
    assert (got["amount"], got["tariff"]) == (premium, "Premium short stay")


# ----------------------------------------------------------------------------- published: Stoke (zone free period)

STOKE = [  # (entry, exit, zone or None, published price, what the page says)
    (at(2, "10:00"), at(2, "10:20"), "short_stay", "0.00", "up to 20 minutes (short-stay bays): free"),
    (at(2, "10:00"), at(2, "10:21"), "short_stay", "1.40", "past 20 minutes: from the arrival"),
    (at(2, "10:00"), at(2, "10:20"), None, "1.40", "the free 20 minutes are the short-stay bays' only"),
    (at(2, "10:00"), at(2, "11:00"), None, "1.40", "up to one hour"),
    (at(2, "10:00"), at(2, "12:00"), "short_stay", "2.80", "up to two hours"),
    (at(2, "10:00"), at(2, "13:00"), None, "4.20", "up to three hours"),
    (at(2, "10:00"), at(2, "14:00"), None, "4.40", "up to four hours"),
    (at(2, "07:15"), at(2, "17:00"), None, "4.00", "all day from before 7.30am"),
    (at(2, "08:00"), at(2, "17:00"), None, "6.00", "all day from between 7.30am and 9.30am"),
    (at(2, "10:00"), at(2, "18:00"), None, "5.00", "all day from after 9.30am"),
    (at(2, "16:30"), at(3, "06:30"), None, "4.50", "evening 4pm to 7am"),
    (at(2, "17:30"), at(3, "07:00"), None, "4.00", "evening 5pm to 7am"),
    (at(2, "18:30"), at(3, "06:00"), None, "3.50", "evening 6pm to 7am"),
    (at(2, "19:30"), at(3, "06:00"), "short_stay", "3.00", "evening after 7pm"),
    (at(7, "10:00"), at(7, "17:00"), None, "3.00", "special Sunday rate: £3 all day"),
]


@pytest.mark.parametrize(("entry", "exit_", "zone", "price", "says"), STOKE, ids=[s[4] for s in STOKE])
def test_stoke_john_street_to_the_penny(entry: str, exit_: str, zone: str | None, price: str, says: str) -> None:
    extra = ("--zone", zone) if zone else ()
    assert quote("stoke_john_street.toml", entry, exit_, *extra)["amount"] == price


def test_stoke_documented_readings() -> None:
    # An evening arrival leaving early pays the day bands when cheaper; a night runs into the day at 7am.
    assert quote("stoke_john_street.toml", at(2, "16:30"), at(2, "17:30"))["amount"] == "1.40"
    got = quote("stoke_john_street.toml", at(2, "20:00"), at(3, "09:00"))
    assert got["amount"] == "5.80"  # £3 to 7am, then 7am-9am as a day arrival (2 h, £2.80)
    assert [line["amount"] for line in got["lines"]] == ["3.00", "2.80"]


# ----------------------------------------------------------------------------- published: GWH (concession)

@pytest.mark.parametrize("hours", [1, 5, 23])
def test_great_western_hospital_concessionary_tariff_any_bay(hours: int) -> None:
    entry, exit_ = at(2, "09:00"), at(2, "09:00", hours * 60)
    got = quote("great_western_hospital.toml", entry, exit_, "--concession", "concessionary")
    assert (got["amount"], got["tariff"]) == ("1.10", "Concessionary")  # "All times £1.10"
    normal = {1: "1.10", 5: "7.20", 23: "8.80"}[hours]
    assert quote("great_western_hospital.toml", entry, exit_)["amount"] == normal
    accessible = quote("great_western_hospital.toml", entry, exit_, "--concession", "concessionary",
                       "--spot-type", "accessible")
    assert accessible["amount"] == "0.00"  # disabled bays stay free
    lost = quote("great_western_hospital.toml", entry, exit_, "--concession", "concessionary", "--lost")
    assert lost["amount"] == "8.80"  # "lost or damaged tickets will be charged at the 6-24 hours rate"


# ----------------------------------------------------------------------------- the rules on a plan of ours

PLAN = """
name = "Rules"
currency = "GBP"
timezone = "Europe/London"
grace = "10m"
re_entry = { within = "30m" }

[[tariffs]]
name = "Blue badge"
concessions = ["disabled_badge"]
free_first = "3h"

[[tariffs]]
name = "Resident"
concessions = ["resident"]
discount = "50%"

[[tariffs]]
name = "Staff"
concessions = ["staff"]
free = true

[[tariffs]]
name = "Short stay"
zones = ["short_stay"]
grace = "30m"

[[tariffs]]
name = "Standard"
bands = [{ up_to = "1h", price = "2.00" }, { up_to = "3h", price = "4.50" }, { up_to = "24h", price = "9.99" }]
"""


@pytest.fixture(scope="module")
def plan() -> RatePlan:
    return parse_rate_plan(PLAN, "rules.toml")


def fee(plan: RatePlan, entry_min: int, exit_min: int, **kw):
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
    return compute_fee(plan, t0 + timedelta(minutes=entry_min), t0 + timedelta(minutes=exit_min),
                       vehicle_class="car", tz=LONDON, **kw)


def test_zone_grace_only_in_its_zone(plan: RatePlan) -> None:
    assert fee(plan, 0, 25, zone="short_stay").amount == 0
    assert fee(plan, 0, 25, zone="A").amount == 200
    assert fee(plan, 0, 25).amount == 200
    over = fee(plan, 0, 31, zone="SHORT_STAY")
    assert (over.amount, over.tariff) == (200, "Standard")  # past its grace the whole stay pays


def test_concessions_free_first_discount_free(plan: RatePlan) -> None:
    badge = fee(plan, 0, 300, concessions=["disabled_badge"])  # 3 h free, then 2 h as a new arrival
    assert badge.amount == 450 and [ln.amount for ln in badge.lines] == [0, 450]
    assert badge.lines[0].label == "Blue badge: first 3 h free" and badge.tariff == "Blue badge"
    assert fee(plan, 0, 180, concessions=["disabled_badge"]).amount == 0
    half = fee(plan, 0, 61, concessions=["resident"])
    assert half.amount == 225 and [ln.amount for ln in half.lines] == [450, -225]
    assert fee(plan, 0, 61, concessions=["Resident"], zone="short_stay").amount == 225  # case-insensitive
    odd = fee(parse_rate_plan(PLAN.replace('"50%"', '"33%"'), "r.toml"), 0, 61, concessions=["resident"])
    assert odd.amount == 450 - 149  # 33 % of £4.50 = £1.485, rounded half up to £1.49
    both = fee(plan, 0, 600, concessions=["staff", "resident"])  # the discount adjusts the tariffs after it: free
    assert (both.amount, both.tariff) == (0, "Staff")
    assert fee(plan, 0, 600, concessions=["staff"]).amount == 0
    assert fee(plan, 0, 5, concessions=["disabled_badge"]).lines[0].label == "Grace period (up to 10 min)"
    with pytest.raises(InputError, match=r"no concession 'student' \(known: disabled_badge, resident, staff\)"):
        fee(plan, 0, 60, concessions=["student"])


def test_re_entry_continues_the_earlier_stay(plan: RatePlan) -> None:
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
    earlier = (t0, t0 + timedelta(minutes=8))  # free by the 10 min grace
    again = fee(plan, 30, 35, previous_stay=earlier)  # back after 22 min: 09:00-09:35 is one stay
    assert again.amount == 200
    assert again.lines[0].label == "Re-entry within 30 min: continues the stay from 09:00 01 Jun"
    assert again.lines[-1].label == "Charged for the earlier stay" and again.lines[-1].amount == 0
    paid = fee(plan, 70, 100, previous_stay=(t0, t0 + timedelta(minutes=50)))  # earlier paid £2, now 1 h 40 in all
    assert paid.amount == 250 and sum(ln.amount for ln in paid.lines) == 250
    late = fee(plan, 60, 65, previous_stay=earlier)  # 52 min later: a new stay, its own grace
    assert late.amount == 0 and late.lines[0].label.startswith("Re-entry after 52 min: a new stay")
    edge = fee(plan, 38, 45, previous_stay=earlier)  # exactly 30 min after: still within
    assert edge.amount == 200
    with pytest.raises(InputError, match="previous stay must end"):
        fee(plan, 5, 30, previous_stay=earlier)
    no_rule = parse_rate_plan(PLAN.replace('re_entry = { within = "30m" }\n', ""), "r.toml")
    ignored = fee(no_rule, 30, 35, previous_stay=earlier)
    assert ignored.amount == 0 and ignored.lines[0].label.startswith("Previous stay not continued")


def test_re_entry_with_the_time_away_free(plan: RatePlan) -> None:
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
    earlier = (t0, t0 + timedelta(minutes=40))  # £2.00 (up to 1 h)
    counts = fee(plan, 65, 80, previous_stay=earlier)  # 09:00-10:20 is 1 h 20: £4.50 less £2.00
    assert counts.amount == 250
    free = parse_rate_plan(PLAN.replace('within = "30m"', 'within = "30m", time_away = "free"'), "r.toml")
    parked = fee(free, 65, 80, previous_stay=earlier)  # 40 + 15 min parked: still up to 1 h, nothing more
    assert parked.amount == 0 and parked.lines[0].label.endswith("(time away not charged)")
    # several visits: their parked time (previous_parked), not the span from the first entry
    chain = fee(free, 65, 80, previous_stay=(t0 - timedelta(minutes=30), t0 + timedelta(minutes=40)),
                previous_parked=timedelta(minutes=50))  # 50 + 15 min: 1 h 05, £4.50 less £2.00
    assert chain.amount == 250
    with pytest.raises(InputError, match="parked time"):
        fee(free, 65, 80, previous_stay=earlier, previous_parked=timedelta(hours=2))
    assert free.to_dict()["re_entry"] == {"within": 30, "time_away": "free"}
    assert RatePlan.from_dict(free.to_dict()) == free


def test_rules_survive_the_stored_form(plan: RatePlan) -> None:
    stored = plan.to_dict()
    assert stored["re_entry"] == {"within": 30}
    assert stored["tariffs"][0] == {"name": "Blue badge", "concessions": ["disabled_badge"], "free_first": 180}
    assert stored["tariffs"][1]["discount"] == "50%"
    assert stored["tariffs"][3] == {"name": "Short stay", "zones": ["short_stay"], "grace": 30}
    assert RatePlan.from_dict(json.loads(json.dumps(stored))) == plan
    assert plan.concession_names == {"disabled_badge", "resident", "staff"} and plan.zone_names == {"short_stay"}
    assert plan.describe() == "£2.00 up to 1 h, £4.50 up to 3 h, £9.99 up to 24 h; free up to 10 min"


def test_quote_cli_previous_stay_zone_concession() -> None:
    base = ["quote", "--rates", str(RATES / "stoke_john_street.toml"), "--vehicle", "car"]
    bad = CliRunner().invoke(cli.app, [*base, "--entry", at(2, "10:00"), "--exit", at(2, "11:00"),
                                       "--previous-stay", "2026-06-02T09:00"])
    assert bad.exit_code == 2 and "--previous-stay '2026-06-02T09:00': write ENTRY/EXIT" in bad.stderr
    unknown = CliRunner().invoke(cli.app, [*base, "--entry", at(2, "10:00"), "--exit", at(2, "11:00"),
                                           "--concession", "disabled_badge"])
    assert unknown.exit_code == 2 and "has no concession 'disabled_badge' (known: none)" in unknown.stderr


# ----------------------------------------------------------------------------- refusals and their hints

def refusal(text: str) -> str:
    with pytest.raises(RatePlanError) as caught:
        parse_rate_plan(text, "r.toml")
    return str(caught.value)


HEAD = 'name = "X"\ncurrency = "GBP"\n'


def test_holiday_without_holidays_is_refused_with_key_and_place() -> None:
    text = HEAD + '\n[[tariffs]]\nname = "Sunday and holidays"\ndays = ["sun", "holiday"]\nfree = true\n\n' \
                  '[[tariffs]]\nflat = "2"\n'
    assert refusal(text) == (
        "r.toml:6: tariffs[0].days[1]: 'holiday' names public holidays, but the plan has no holidays list: add "
        'holidays = ["2026-12-25", "2026-12-28", ...] at the top level of the file (before the first [[tariffs]] '
        "table)")
    charge = HEAD + 'charge_hours = [{ days = ["bank_holiday"], from = "08:00", to = "18:00" }]\nflat = "2"\n'
    assert refusal(charge).startswith("r.toml:3: charge_hours[0].days[0]: 'bank_holiday' names public holidays")
    fixed = HEAD + 'holidays = ["2026-12-25"]\n' + text.removeprefix(HEAD)
    assert parse_rate_plan(fixed, "r.toml").holidays
    # versions stored before the rule reprice as they did
    stored = parse_rate_plan(fixed, "r.toml").to_dict()
    stored.pop("holidays")
    assert RatePlan.from_dict(stored).tariffs[0].days == {"sun", "holiday"}


def test_misplaced_and_misused_keys_name_where_they_belong() -> None:
    inside = HEAD + '\n[[tariffs]]\nname = "T"\nfree = true\nholidays = ["2026-12-25"]\ndays = ["sun"]\n\n' \
                    '[[tariffs]]\nflat = "2"\n'
    assert refusal(inside) == (
        "r.toml:7: tariffs[0].holidays: holidays is a plan key, not a tariff key: move it to the top of the file, "
        "before the first [[tariffs]] table (every key after a [[tariffs]] header belongs to that tariff)")
    reentry = HEAD + '\n[[tariffs]]\nflat = "2"\nre_entry = { within = "15m" }\n'
    assert refusal(reentry).startswith("r.toml:6: tariffs[0].re_entry: re_entry is a plan key, not a tariff key")
    top = HEAD + 'zones = ["short_stay"]\nflat = "2"\n'
    assert refusal(top) == ("r.toml:3: zones: zones is a tariff condition: the top-level prices are the default "
                            "tariff, which has no conditions; put it in a [[tariffs]] table")
    both = HEAD + '\n[[tariffs]]\nconcessions = ["x"]\ndiscount = "50%"\nflat = "1"\n\n[[tariffs]]\nflat = "2"\n'
    assert refusal(both) == ("r.toml:7: tariffs[0].flat: discount adjusts the price of the tariffs after it, so "
                             "this tariff has no prices of its own: leave out flat")
    lone = HEAD + '\n[[tariffs]]\ngrace = "20m"\n\n[[tariffs]]\nflat = "2"\n'
    assert refusal(lone).startswith("r.toml:5: tariffs[0].grace: a tariff with only a grace and no conditions")
    pct = HEAD + '\n[[tariffs]]\nconcessions = ["x"]\ndiscount = "150%"\n\n[[tariffs]]\nflat = "2"\n'
    assert refusal(pct).startswith("r.toml:6: tariffs[0].discount: expected a percentage like \"50%\"")
    name = HEAD + '\n[[tariffs]]\nzones = ["short stay"]\nflat = "1"\n\n[[tariffs]]\nflat = "2"\n'
    assert refusal(name).startswith("r.toml:5: tariffs[0].zones[0]: not a zone name: 'short stay'")
    within = HEAD + 're_entry = { after = "15m" }\nflat = "2"\n'
    assert refusal(within) == "r.toml:3: re_entry.after: unknown key (expected one of: time_away, within)"
    away = HEAD + 're_entry = { within = "15m", time_away = "no" }\nflat = "2"\n'
    assert refusal(away) == ('r.toml:3: re_entry.time_away: expected "counts" (the time between the visits is '
                             'charged, the default) or "free", got \'no\'')
    only = HEAD + '\n[[tariffs]]\nconcessions = ["x"]\nfree = true\n'
    assert refusal(only).startswith("r.toml:4: tariffs[0]: no tariff prices a car in a regular bay arriving Mon "
                                    "00:00")
    adjust_only = HEAD + '\n[[tariffs]]\ndiscount = "10%"\n'
    assert "every tariff adjusts the price of the tariffs after it" in refusal(adjust_only)
