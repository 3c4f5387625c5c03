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
