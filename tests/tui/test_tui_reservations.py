"""The console and reservations (issue 11 item 8): F11 lists today's reservations, ``s`` sweeps (holds the
bays, drawn reserved on the map), and a reservation's code typed at the entry form as a scanner types it
checks the vehicle in to its held bay, with "Reservation found" on screen."""

from __future__ import annotations

from datetime import timedelta

from attendant.core.auth import Actor, Role
from attendant.core.reservations import ReservationRequest
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.core.vocab import SpotStatus
from attendant.tui.screens.reservations import ReservationScreen
from attendant.tui.widgets.level_map import LevelMapView
from db.models import ParkingSession, Spot
from tests.tui.support import (
    SIZE,
    T0,
    console,
    keys,
    pilot_test,
    rows,
    settle,
    text_of,
    until,
)

PS, SPOT = ParkingSession.__table__, Spot.__table__


@pilot_test
async def test_reservations_screen_sweep_and_check_in_by_scanned_code(engine, clock):
    desk = ParkingService(engine, TicketSigner.from_site(), clock=clock)
    desk.set_pool("regular", bays=5, actor=Actor("sup", Role.SUPERVISOR))
    due = desk.book(ReservationRequest("car", T0 + timedelta(minutes=10), T0 + timedelta(hours=2), plate="RES 1"),
                    actor="desk")
    later = desk.book(ReservationRequest("car", T0 + timedelta(hours=3), T0 + timedelta(hours=4)), actor="desk")
    app = console(engine, clock, actor="console-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ReservationScreen)
        board = text_of(app, "#reservation-board")
        assert "Arriving (2)" in board and due.code in board and later.code in board
        assert "09:40-11:30" in board  # facility time (Europe/London, GMT in November)
        assert "Pool regular: 0 of 5 reserved at 09:00" in board and "Today: prepaid £0.00" in board
        await pilot.press("s")  # sweep now: the due reservation's bay is held
        await settle(pilot)
        held = desk.reservation(due.code).held_spot
        assert held is not None and held in text_of(app, "#reservation-board")
        (spot,) = rows(engine, SPOT, SPOT.c.label == held)
        assert spot.status == "reserved"
        await pilot.press("escape")
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        await until(pilot, lambda: level_map.status_of(spot.id) is SpotStatus.RESERVED)  # the map's flush timer
        await pilot.press("f2", *keys(due.code), "enter")  # the QR as a keyboard-wedge scanner types it
        await settle(pilot)
        (session,) = rows(engine, PS)
        assert session.reservation_id == due.id and session.spot_id == spot.id
        await until(pilot, lambda: level_map.status_of(spot.id) is SpotStatus.OCCUPIED)
        assert desk.reservation(due.code).status == "checked_in"
        found = [n.message for n in app._notifications if n.message.startswith("Reservation found")]
        assert found == [f"Reservation found: {due.code}  09:40-11:30, held bay {held}"]
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert "Checked in (1)" in text_of(app, "#reservation-board")
