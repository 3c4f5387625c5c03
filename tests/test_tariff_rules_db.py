"""Zones, concessions and re-entry priced at a real exit (issue 10 item 10): rows and audit events read back.

A facility whose layout names a short-stay zone, with a plan that gives that
zone a longer free period, a disabled driver's badge free in any bay, and a
15-minute re-entry rule. Runs on SQLite and on PostgreSQL (skipped with the
reason when no server answers).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendant.core.auth import Actor, Role
from attendant.core.errors import InputError, NotFound, Refused
from tests.conftest import FixedClock, accept_replayed_dates

LAYOUT = """
[facility]
code = "ZON"
name = "Zone Street CP"
timezone = "Europe/London"
currency = "GBP"

[[levels]]
code = "L0"
name = "Ground"
zones = { short_stay = ["A"] }
map = '''
>........
.RRRRRRR.
.RRRRRRR.
.........
'''
"""

PLAN = """
name = "Zone Street"
currency = "GBP"
timezone = "Europe/London"
grace = "10m"
re_entry = { within = "15m" }

[[tariffs]]
name = "Blue badge"
concessions = ["disabled_badge"]
free = true

[[tariffs]]
name = "Short stay"
zones = ["short_stay"]
grace = "30m"
bands = [{ every = "1h", price = "3.00" }]

[[tariffs]]
name = "Standard"
bands = [{ every = "1h", price = "2.00" }]
"""

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def zoned(db_url):
    from attendant.core.facilities import create_facility
    from attendant.core.layout import parse_layout
    from attendant.core.rates import parse_rate_plan
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine

    engine = make_engine(db_url)
    create_facility(engine, parse_layout(LAYOUT, source="zones.toml"), actor=Actor("admin", Role.ADMIN),
                    rate_plan=parse_rate_plan(PLAN, "zones-plan.toml"))
    accept_replayed_dates(engine)
    clock = FixedClock(T0)
    yield ParkingService(engine, TicketSigner.from_site(), clock=clock), clock
    engine.dispose()


def _closed(service, ticket_no: str):
    from attendant.core.store import PS

    with service.engine.connect() as conn:
        return conn.execute(select(PS).where(PS.c.ticket_no == int(ticket_no))).one()


def test_layout_zone_reaches_the_bays_and_prices_the_exit(zoned) -> None:
    service, clock = zoned
    from attendant.core.store import S

    with service.engine.connect() as conn:
        zones = dict(conn.execute(select(S.c.label, S.c.zone)).all())
    assert zones["L0-A01"] == "short_stay" and zones["L0-B01"] == "B"
    short = service.enter("SH0RT1", "car", actor="t", spot_label="L0-A03", at=T0)
    long_ = service.enter("L0NG1", "car", actor="t", spot_label="L0-B03", at=T0)
    clock.now = T0 + timedelta(minutes=25)
    assert service.quote(short.code).fee.amount == 0  # the short-stay zone's 30 min free period
    assert service.quote(long_.code).fee.amount == 200  # elsewhere 10 min only: 1 started hour at £2
    result = service.exit(long_.code, method="cash", tendered=200, actor="t")
    assert result.fee.amount == 200
    row = _closed(service, long_.ticket_no)
    assert row.amount_due == 200 and row.fee_lines[0]["label"] == "1 × 1 h at £2.00"
    service.exit(short.code, method="cash", actor="t")
    assert _closed(service, short.ticket_no).amount_due == 0
    assert _closed(service, short.ticket_no).fee_lines[0]["label"] == "Grace period (up to 30 min)"


def test_concession_recorded_sealed_audited_and_priced(zoned) -> None:
    service, clock = zoned
    from attendant.core.audit import AUDIT
    from attendant.core.concessions import SC

    entry = service.enter("BB12BDG", "car", actor="t", at=T0)
    with pytest.raises(InputError, match="no concession 'student'"):
        service.add_concession(entry.ticket_no, "student", badge="123", actor="t")
    with pytest.raises(InputError, match="badge"):
        service.add_concession(entry.ticket_no, "disabled_badge", badge="  ", actor="t")
    view = service.add_concession("BB12BDG", "Disabled_Badge", badge="AB12 34567 8901", actor="t")
    assert (view.name, view.badge) == ("disabled_badge", "•••• 8901")
    with pytest.raises(Refused, match="already has"):
        service.add_concession(entry.code, "disabled_badge", badge="AB12 34567 8901", actor="t")
    with service.engine.connect() as conn:
        stored = conn.execute(select(SC)).one()
        events = conn.execute(select(AUDIT.c.action, AUDIT.c.details).where(
            AUDIT.c.action.like("session.concession%"))).all()
    assert "8901" not in stored.badge and service.data.open(stored.badge) == "AB12 34567 8901"
    assert [e.action for e in events] == ["session.concession_add"]
    assert "8901" not in str(events[0].details) and events[0].details["concession"] == "disabled_badge"
    clock.now = T0 + timedelta(hours=3)
    result = service.exit(entry.code, method="cash", actor="t")
    assert result.fee.amount == 0
    assert _closed(service, entry.ticket_no).fee_lines[0]["label"] == "Blue badge: free"
    assert [v.name for v in service.concessions_of(entry.ticket_no)] == ["disabled_badge"]
    with pytest.raises(Refused, match="already exited"):
        service.remove_concession(entry.ticket_no, "disabled_badge", reason="typo", actor="t")


def test_concession_removed_with_a_reason_prices_normally(zoned) -> None:
    service, clock = zoned
    entry = service.enter("RM12VED", "car", actor="t", spot_label="L0-B01", at=T0)
    assert entry.rate_summary == "£2.00 per started hour; free up to 10 min"  # not the badge holders' tariff
    service.add_concession(entry.code, "disabled_badge", badge="X1", actor="t")
    with pytest.raises(InputError, match="reason"):
        service.remove_concession(entry.code, "disabled_badge", reason=" ", actor="t")
    service.remove_concession(entry.code, "disabled_badge", reason="wrong car", actor="t")
    with pytest.raises(NotFound):
        service.remove_concession(entry.code, "disabled_badge", reason="again", actor="t")
    clock.now = T0 + timedelta(hours=2)
    assert service.quote(entry.code).fee.amount == 400


def test_re_entry_within_the_rule_continues_the_earlier_stay(zoned) -> None:
    service, clock = zoned

    def at(minutes: int) -> datetime:
        clock.now = T0 + timedelta(minutes=minutes)
        return clock.now

    first = service.enter("RE12NTR", "car", actor="t", spot_label="L0-B01", at=at(0))
    at(8)
    assert service.exit(first.code, method="cash", actor="t").fee.amount == 0  # within the 10 min grace
    again = service.enter("RE12NTR", "car", actor="t", spot_label="L0-B02", at=at(20))
    at(25)  # 5 min: free alone, but it continues the stay from 09:00
    result = service.exit(again.code, method="cash", tendered=200, actor="t")
    assert result.fee.amount == 200
    lines = _closed(service, again.ticket_no).fee_lines
    assert lines[0]["label"].startswith("Re-entry within 15 min: continues the stay from 09:00")
    assert lines[-1] == {"label": "Charged for the earlier stay", "minutes": 8, "amount": 0}
    # a third visit 10 min later continues the chain from the first entry: 09:00-10:10 is 2 started hours
    third = service.enter("RE12NTR", "car", actor="t", spot_label="L0-B03", at=at(35))
    at(70)
    assert service.quote(third.code).fee.amount == 200  # £4 for 09:00-10:10, less £2 charged so far
    # another plate back after 30 min starts afresh: its 5 min are free
    other = service.enter("FR12ESH", "car", actor="t", spot_label="L0-B04", at=at(70))
    at(75)
    service.exit(other.code, method="cash", actor="t")
    back = service.enter("FR12ESH", "car", actor="t", spot_label="L0-B05", at=at(110))
    at(115)
    assert service.quote(back.code).fee.amount == 0


def test_layout_zone_names_are_checked() -> None:
    from attendant.core.layout import parse_layout

    def refused(zones: str) -> str:
        with pytest.raises(InputError) as caught:
            parse_layout(LAYOUT.replace('zones = { short_stay = ["A"] }', zones), source="z.toml")
        return str(caught.value)

    assert refused('zones = { short_stay = ["C"] }') == \
        "z.toml: levels[0].zones.short_stay: no spot row 'C' on level L0 (its rows: A, B)"
    assert refused('zones = { "Short Stay" = ["A"] }').startswith(
        "z.toml: levels[0].zones.Short Stay: a zone name is lower case")
    assert refused('zones = { short = ["A"], long = ["a"] }') == \
        "z.toml: levels[0].zones.long: row A is already in zone short"
    assert refused('zones = ["A"]').startswith("z.toml: levels[0].zones must be a table")
    named = parse_layout(LAYOUT.replace('["A"]', '"b"'), source="z.toml")
    assert [s.zone for s in named.levels[0].spots][::7] == ["A", "short_stay"]
    assert named.levels[0].spots[7].label == "L0-B01"  # labels keep the row letter


def test_a_plan_pricing_a_zone_no_bay_is_in_is_refused(zoned) -> None:
    service, _clock = zoned
    from attendant.core.facilities import activate_rate_plan
    from attendant.core.rates import load_rate_plan
    from tests.conftest import EXAMPLES

    gatwick = load_rate_plan(EXAMPLES / "rates" / "gatwick_short_stay.toml")
    with pytest.raises(InputError) as caught:
        activate_rate_plan(service.engine, service.facility.id, gatwick, source="g.toml",
                           actor=Actor("sue", Role.SUPERVISOR))
    assert str(caught.value) == (
        "rate plan 'Gatwick short stay (roll-up)' prices zone 'premium' (a tariff's zones), which no bay of this "
        'facility is in (its zones: b, short_stay): name it in the layout file, zones = { premium = ["A", ...] } '
        "on a [[levels]] table, or take it out of the plan")


def test_cli_concession_add_list_remove(cli) -> None:
    entry = cli.json("enter", "BB12 CLI", "--at", "2026-11-20T09:00")
    added = cli.json("concession", "add", entry["ticket_no"], "--name", "disabled_badge", "--badge", "ZX9 1234")
    assert (added["name"], added["badge"]) == ("disabled_badge", "•••• 1234")
    listed = cli.json("concession", "list", "BB12CLI")
    assert [c["name"] for c in listed["concessions"]] == ["disabled_badge"]
    wrong = cli.run("concession", "add", entry["ticket_no"], "--name", "student", "--badge", "1", expect=2)
    assert wrong.stderr == ("attendant: rate plan 'Charlotte Street (demo)' has no concession 'student' "
                            "(known: disabled_badge)\n")
    cli.run("concession", "remove", entry["ticket_no"], "--name", "disabled_badge", expect=2)  # --reason missing
    cli.run("concession", "remove", entry["ticket_no"], "--name", "disabled_badge", "--reason", "wrong car")
    assert cli.json("concession", "list", entry["ticket_no"]) == {"concessions": []}


def test_retention_erases_badge_numbers_with_the_plate(zoned) -> None:
    service, clock = zoned
    from attendant.core.concessions import SC
    from attendant.core.retention import run_retention

    entry = service.enter("RT12BDG", "car", actor="t", at=T0)
    service.add_concession(entry.code, "disabled_badge", badge="RT 5555", actor="t")
    clock.now = T0 + timedelta(hours=1)
    service.exit(entry.code, method="cash", actor="t")
    result = run_retention(service.engine, days=1, actor=Actor("sue", Role.SUPERVISOR), now=T0 + timedelta(days=3))
    assert result.erased == 1
    with service.engine.connect() as conn:
        (row,) = conn.execute(select(SC.c.name, SC.c.badge)).all()
    assert (row.name, row.badge) == ("disabled_badge", None)  # the concession stays for reports, the number goes
    assert [v.badge for v in service.concessions_of(entry.ticket_no)] == [None]
