"""Starting the console on a fresh install and starting the demo again (issue "Eight hours at the booth",
item 6): say what to run, never delete earlier data unasked, continue a kept demo without doubling it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cli_support import Attendant


def test_attendant_alone_on_a_fresh_install_says_what_to_run(tmp_path):
    ran = Attendant(tmp_path).run(expect=2)
    assert "no facility in sqlite:///" in ran.stderr
    assert "`attendant demo`" in ran.stderr and "`attendant init --layout FILE`" in ran.stderr
    assert "secret" not in ran.stderr  # not a missing-key error any more


def test_the_demo_database_is_kept_unless_started_afresh(attendant_home):
    from attendant.demo import demo_db_contents, demo_db_path, ensure_demo_db

    path = demo_db_path()
    assert demo_db_contents(path) == (0, 0)  # nothing there yet
    engine = ensure_demo_db(None, actor="test")
    from attendant.core.auth import Actor, Role
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner

    ParkingService(engine, TicketSigner.from_site()).enter("KE3P ME", "car", actor=Actor("t", Role.ADMIN))
    engine.dispose()
    assert demo_db_contents(path) == (1, 0)
    ensure_demo_db(None, actor="test").dispose()  # the default keeps it
    assert demo_db_contents(path) == (1, 0)
    ensure_demo_db(None, actor="test", fresh=True).dispose()
    assert demo_db_contents(path) == (0, 0)


def test_a_continued_demo_is_not_prefilled_again_and_lets_its_vehicles_out(attendant_home):
    from attendant.booth import open_booth
    from attendant.demo import TrafficReplayer, demo_config, ensure_demo_db

    engine = ensure_demo_db(f"sqlite:///{attendant_home / 'data' / 'kept.db'}", actor="test")
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    booth = open_booth(engine, demo_config(), clock=lambda: start)
    first = TrafficReplayer(booth, clock=lambda: start)
    first.yield_seconds = 0
    assert first.prefill(until=start) > 100
    inside = len(booth.service.open_sessions())
    second = TrafficReplayer(booth, clock=lambda: start + timedelta(minutes=1))  # the next run of the demo
    assert second.prefill() == 0
    assert len(booth.service.open_sessions()) == inside  # nothing added
    assert len(second.codes) == inside  # the vehicles inside are the replay's to let out
    plate, code = next(iter(second.codes.items()))
    assert booth.service.lookup(code).plate.replace(" ", "") == plate
    booth.close()
    engine.dispose()
