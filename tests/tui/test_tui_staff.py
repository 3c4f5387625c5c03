"""Pilot tests of issue 12 items 6 and 7 on the console: the blind count-up with an over/short reason,
unlocking a user from the shift screen, the lists a booth needs (search, lookup, reprint), the exit-lane switch.

Each runs the real console over a copy of the demo database with its users
(tests/tui/conftest.py) and checks what the screen shows and the rows and
audit events written.
"""

from __future__ import annotations

from attendant.core import shifts, users
from attendant.core.auth import Actor
from attendant.core.errors import AttendantError
from attendant.core.money import to_major_str
from attendant.tui.dialogs import ConfirmDialog
from attendant.tui.screens.lists import ListsScreen
from attendant.tui.screens.shift import CountUpScreen, ShiftScreen
from attendant.tui.staff_dialogs import UnlockUserDialog
from attendant.tui.widgets.shift_count import CashCountGrid
from db.models import AuditEvent, LoginGuard, ParkingSession, Shift, User
from tests.tui.conftest import PINS
from tests.tui.support import SIZE, console, keys, pilot_test, rows, settle, text_of

SH, AUD, G, U, PS = (t.__table__ for t in (Shift, AuditEvent, LoginGuard, User, ParkingSession))
DISPENSER = Actor("entry-lane", system=True)


def guards(engine, user_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(G.select().where(G.c.user_id == user_id)).all()


async def login(pilot, username: str) -> None:
    await pilot.press(*keys(username), "enter", *PINS[username], "enter")
    await settle(pilot)


def open_shift_for(app, username: str, float_amount: int = 10000):
    service = app.service
    actor = users.get_user(service.engine, username).actor()
    return shifts.open_shift(service.engine, service.facility.id, actor, float_amount, at=service.clock())


@pilot_test
async def test_a_blind_count_hides_the_expected_cash_and_a_large_short_needs_a_reason(staffed_engine, clock):
    engine = staffed_engine
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        code = app.service.enter("BL1ND", "car", actor=DISPENSER).code
        clock.advance(hours=1)
        app.service.exit(code, method="card", actor=app.actor)

        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ShiftScreen)
        report = text_of(app, "#shift-report")  # the open shift's report hides the expected amounts too
        assert "Blind count-up" in report and "Expected in drawer" not in report
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CountUpScreen)
        card = screen.expected["card"]
        table = text_of(app, "#count-table")
        assert "hidden" in table and "£100.00" not in table and to_major_str(card, "GBP") not in table
        assert "float £100.00 + takings" not in text_of(app, "#count-derivation")
        assert screen.query_one("#other-card").value == ""  # never pre-filled with the expected amount

        # £50 x 1 + £20 x 2 = £90 of the £100 float: £10 short; the card terminal's total typed
        await pilot.press("1", "down", "2")
        assert screen.query_one(CashCountGrid).total() == 9000
        await pilot.press("ctrl+s")  # the card total is missing: asked for, nothing entered
        await settle(pilot)
        assert "type the counted card total" in text_of(app, "#count-result")
        screen.query_one("#other-card").focus()
        await pilot.press(*to_major_str(card, "GBP"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and "Enter this count?" in text_of(app, "#confirm-text")
        await pilot.press("enter")
        await settle(pilot)
        table = text_of(app, "#count-table")
        assert "▼ short £10.00" in table and "hidden" not in table
        (entered,) = rows(engine, AUD, AUD.c.action == "shift.count_entered")  # on record before it was shown
        assert entered.actor == "bob" and entered.details["cash"] == 9000
        assert entered.details["counted_other"] == {"card": card}
        assert all(field.disabled for field in screen.query_one(CashCountGrid).fields)  # the count is final
        assert screen.query_one("#count-reason-row").display
        assert "type a reason" in text_of(app, "#count-result")

        await pilot.press("ctrl+s")  # no reason yet: refused on screen, nothing closed
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert "more than £5.00: type a reason" in text_of(app, "#count-result")
        assert [r.status for r in rows(engine, SH)] == ["open"]

        await pilot.press(*keys("float was short at handover"), "enter")
        await settle(pilot)
        assert "Reason: float was short at handover" in text_of(app, "#confirm-text")
        await pilot.press("enter")
        await settle(pilot)
        (closed,) = rows(engine, SH)
        assert (closed.status, closed.over_short, closed.over_short_reason) == (
            "closed", -1000, "float was short at handover")
        (event,) = rows(engine, AUD, AUD.c.action == "shift.close")
        assert event.actor == "bob" and event.details["reason"] == "float was short at handover"
        printout = text_of(app, "#printout-text")
        assert "OVER/SHORT cash" in printout and "-£10.00 SHORT" in printout and "float was short" in printout


@pilot_test
async def test_a_supervisor_unlocks_a_user_from_the_shift_screen(staffed_engine, clock):
    engine = staffed_engine
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(3):  # three wrong PINs: bob is locked at this console
            try:
                app.booth.staff.login("bob", "000000")
            except AttendantError:
                pass
        (bob,) = rows(engine, U, U.c.username == "bob")
        assert guards(engine, bob.id)[0].locked_until is not None

        await login(pilot, "sue")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "unlock_user" in {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        await pilot.press("u")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, UnlockUserDialog)
        options = dialog.query_one("#unlock-choices").options
        assert [str(o.prompt).split()[0] for o in options] == ["bob"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ShiftScreen)
        assert "bob is unlocked" in text_of(app, "#shift-result")
        assert guards(engine, bob.id) == []
        (event,) = rows(engine, AUD, AUD.c.action == "user.unlock")
        assert event.actor == "sue" and event.details["username"] == "bob"
    # bob may log in again (the right PIN)
    assert app.booth.staff.login("bob", PINS["bob"]).name == "bob"


@pilot_test
async def test_an_attendant_gets_no_unlock_key(staffed_engine, clock):
    app = console(staffed_engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await login(pilot, "bob")
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert "unlock_user" not in {b.binding.action for b in screen.active_bindings.values() if b.enabled}
        await pilot.press("u")
        await settle(pilot)
        assert app.screen is screen


@pilot_test
async def test_the_lists_search_by_plate_and_ticket_reprint_and_look_up(staffed_engine, clock):
    engine = staffed_engine
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        service = app.service
        tickets = {plate: service.enter(plate, "car", actor=DISPENSER) for plate in ("LI57ONE", "LI57TWO", "OT43RTH")}
        clock.advance(hours=1)
        service.exit(tickets["LI57TWO"].code, method="cash", actor=app.actor)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ListsScreen)
        inside = screen.query_one("#lists-inside")
        tx = screen.query_one("#lists-tx")
        assert inside.row_count == 2 and tx.row_count == 1
        assert "LI57TWO" in str(tx.get_row_at(0)) and "cash" in str(tx.get_row_at(0))

        await pilot.press(*keys("li57"))  # by plate, any part, any case
        await settle(pilot)
        assert inside.row_count == 1 and "LI57ONE" in str(inside.get_row_at(0))
        assert tx.row_count == 1
        assert "matching 'li57': 1" in text_of(app, "#lists-inside-title")
        await pilot.press(*["backspace"] * 4, *str(int(tickets["OT43RTH"].ticket_no)))  # by ticket number
        await settle(pilot)
        assert inside.row_count == 1 and "OT43RTH" in str(inside.get_row_at(0)) and tx.row_count == 0
        await pilot.press(*["backspace"] * 4, *keys("ZZ99"))
        await settle(pilot)
        assert inside.row_count == 0 and tx.row_count == 0

        # a paid stay, from the transactions: Enter summarises it (it has left: nothing for the exit form)
        await pilot.press(*["backspace"] * 4, *keys("LI57TWO"), "enter")
        await settle(pilot)
        assert inside.row_count == 0 and screen.focused is tx
        await pilot.press("enter")
        await settle(pilot)
        summary = text_of(app, "#lists-result")
        assert f"Ticket {tickets['LI57TWO'].ticket_no} LI57TWO closed" in summary and "paid £" in summary
        assert app.screen is screen

        screen.query_one("#lists-search").focus()
        await pilot.press(*["backspace"] * 7, *keys("LI57ONE"), "enter")  # Enter: on to the table
        await settle(pilot)
        assert screen.focused is inside
        await pilot.press("ctrl+r")  # reprint the highlighted ticket
        await settle(pilot)
        assert f"ticket {tickets['LI57ONE'].ticket_no} reprinted" in text_of(app, "#lists-result")
        (reprint,) = rows(engine, AUD, AUD.c.action == "ticket.reprint")
        assert reprint.actor == "bob"
        assert "LI57ONE" in app.booth.devices(app.entry_lane).printer.last_text

        await pilot.press("enter")  # look up: the vehicle is inside, so the exit form takes its ticket
        await settle(pilot)
        assert app.screen is app.main_screen
        form = app.main_screen.query_one("#exit-form")
        assert form.checkout is not None and form.checkout.code == tickets["LI57ONE"].code


@pilot_test
async def test_ctrl_z_switches_the_exit_lane_and_never_types(staffed_engine, clock):
    app = console(staffed_engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        form = app.main_screen.query_one("#exit-form")
        assert app.exit_lane.code == "X1" and "X1" in str(form.border_title)
        await pilot.press("f2", *keys("AB12"), "ctrl+z")  # typed in the plate field: ctrl+z is not text
        await settle(pilot)
        assert app.main_screen.query_one("#entry-plate").value == "AB12"
        assert app.exit_lane.code == "X2" and "X2" in str(form.border_title)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert app.exit_lane.code == "X1"

        # a fee on the exit form: the lane stays until it is paid or cleared
        code = app.service.enter("XL4NE", "car", actor=DISPENSER).code
        clock.advance(hours=1)
        app.main_screen.query_one("#exit-form").fill(code)
        await settle(pilot)
        assert form.checkout is not None
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert app.exit_lane.code == "X1"
        await pilot.press("2", "enter")  # card: paid at X1
        await settle(pilot)
        (session,) = rows(staffed_engine, PS, PS.c.status == "closed")
        assert session.exit_lane == "X1"
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert app.exit_lane.code == "X2"
