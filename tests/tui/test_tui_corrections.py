"""The console's corrections (F11; attendant/tui/corrections.py): keys in, rows and audit events out,
and the map following a move."""

from __future__ import annotations

from attendant.core.vocab import SpotStatus
from attendant.tui.corrections import CorrectionDialog
from attendant.tui.widgets.level_map import LevelMapView
from db.models import AuditEvent, ParkingSession, Spot
from tests.tui.support import SIZE, console, keys, pilot_test, rows, settle, until

PS, SPOT, AUD = (t.__table__ for t in (ParkingSession, Spot, AuditEvent))


def free_regular(engine, after: str = "") -> tuple[int, str]:
    found = [r for r in rows(engine, SPOT, SPOT.c.spot_type == "regular", SPOT.c.status == "available")
             if r.label > after]
    return found[-1].id, found[-1].label


@pilot_test
async def test_move_and_void_by_keys(engine, clock):
    app = console(engine, clock, actor="console-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        parked = app.service.enter("KM1 OVE", "car", actor="console-test", spot_label=free_regular(engine)[1])
        target_id, target = free_regular(engine)
        await settle(pilot)
        await pilot.press("f11", "b")  # corrections, b: move
        await settle(pilot)
        assert isinstance(app.screen, CorrectionDialog)
        await pilot.press(*keys(parked.ticket_no), "tab", *keys(target), "tab", "tab", *keys("cones"), "enter")
        await settle(pilot, "corrections")
        await settle(pilot)
        (session,) = rows(engine, PS, PS.c.id == parked.session_id)
        assert session.spot_id == target_id
        (old,) = rows(engine, SPOT, SPOT.c.label == parked.spot_label)
        assert old.status == "available"
        (event,) = rows(engine, AUD, AUD.c.action == "exception.move")
        assert (event.details["reason_code"], event.details["reason_text"]) == ("BAY_ISSUE", "cones")
        assert event.details["to_spot"] == target and event.actor == "console-test"
        level_map = app.screen.query_one(LevelMapView)
        await until(pilot, lambda: level_map.status_of(target_id) is SpotStatus.OCCUPIED)  # the map's flush timer
        assert level_map.status_of(old.id) is SpotStatus.AVAILABLE

        await pilot.press("f11", "v")  # void: ticket, then the reason list (ISSUED_IN_ERROR), Enter
        await pilot.press(*keys(parked.ticket_no), "tab", "tab", "enter")
        await settle(pilot, "corrections")
        await settle(pilot)
        (session,) = rows(engine, PS, PS.c.id == parked.session_id)
        assert (session.status, session.amount_due) == ("voided", 0)
        await until(pilot, lambda: level_map.status_of(target_id) is SpotStatus.AVAILABLE)
        (event,) = rows(engine, AUD, AUD.c.action == "exception.void")
        assert event.details["reason_code"] == "ISSUED_IN_ERROR"


@pilot_test
async def test_a_bad_reason_keeps_the_dialog_open_and_writes_nothing(engine, clock):
    app = console(engine, clock, actor="console-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f11", "a")  # anti-passback reset
        await pilot.press(*keys("KM2 OVE"), "tab")
        app.screen.query_one("#reason-codes").highlighted = len(app.screen.codes) - 1  # OTHER, no text
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CorrectionDialog)
        assert "needs a text" in str(app.screen.query_one(".dialog-error").render())
        assert rows(engine, AUD, AUD.c.action.like("exception.%")) == []


def test_a_move_by_the_cli_and_by_keys_writes_the_same(tmp_path, demo_template, clock):
    """One path: `attendant move` and the console's F11 b make the same rows and the same audit details."""
    import asyncio

    from typer.testing import CliRunner

    from attendant.cli import app as cli_app
    from db.engine import make_engine
    from tests.conftest import copy_database

    results = []
    for how in ("cli", "console"):
        url = copy_database(demo_template, tmp_path / f"{how}.db")
        engine = make_engine(url)
        app = console(engine, clock, actor="parity")
        parked = app.service.enter("PA1 RTY", "car", actor="parity", spot_label="L1-C01")
        if how == "cli":
            ran = CliRunner().invoke(cli_app, ["--db", url, "move", parked.ticket_no, "--to", "L1-C02", "--lane", "E1",
                                               "--reason", "BAY_ISSUE: cones"])
            assert ran.exit_code == 0, ran.stderr
        else:
            async def drive(app=app, parked=parked) -> None:
                async with app.run_test(size=SIZE) as pilot:
                    await settle(pilot)
                    await pilot.press("f11", "b", *keys(parked.ticket_no), "tab", *keys("L1-C02"), "tab", "tab",
                                      *keys("cones"), "enter")
                    await settle(pilot, "corrections")

            asyncio.run(drive())
        (session,) = rows(engine, PS)
        bays = {r.label: r.status for r in rows(engine, SPOT, SPOT.c.label.in_(("L1-C01", "L1-C02")))}
        (event,) = rows(engine, AUD, AUD.c.action.like("exception.%"))
        results.append((session.spot_type, session.status, bays, event.action, event.entity_id, event.details))
        engine.dispose()
    assert results[0] == results[1]
    assert results[0][2] == {"L1-C01": "available", "L1-C02": "occupied"}


@pilot_test
async def test_manual_entry_by_keys_and_the_count_check_dialog(engine, clock):
    from attendant.tui.dialogs import PrintoutDialog

    app = console(engine, clock, actor="console-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bay_id, bay = free_regular(engine)
        await pilot.press("f11", "m", *keys("KM3 OVE"), "tab", "3", "tab", "tab", *keys(bay), "tab", "tab",
                          *keys("found on patrol"), "enter")
        await settle(pilot, "corrections")
        await settle(pilot)
        (session,) = rows(engine, PS)
        assert (session.vehicle_class, session.spot_id, session.entry_at, session.status) == ("van", bay_id,
                                                                                              clock(), "open")
        (event,) = rows(engine, AUD, AUD.c.action == "exception.manual_entry")
        assert (event.details["reason_code"], event.details["reason_text"]) == ("NO_SESSION", "found on patrol")

        await pilot.press("f11", "c")
        await settle(pilot, "corrections")
        await settle(pilot)
        assert isinstance(app.screen, PrintoutDialog)
        assert "Counts agree." in str(app.screen.query_one("#printout-text").render())
        assert "open sessions 1" in app.screen.text


def test_claimed_times_read_as_facility_time():
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    import pytest

    from attendant.core.errors import InputError
    from attendant.tui.corrections import parse_claimed_time

    london = ZoneInfo("Europe/London")
    assert parse_claimed_time("", london, date(2026, 7, 1)) is None
    assert parse_claimed_time("7:05", london, date(2026, 7, 1)) == datetime(2026, 7, 1, 6, 5, tzinfo=UTC)
    assert parse_claimed_time("2026-11-21T09:30", london, date(2026, 7, 1)) == datetime(2026, 11, 21, 9, 30,
                                                                                         tzinfo=UTC)
    with pytest.raises(InputError, match="not a time"):
        parse_claimed_time("soon", london, date(2026, 7, 1))
