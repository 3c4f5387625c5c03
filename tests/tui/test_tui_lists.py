"""The console's plate lists and account payments (issue 10 items 7 and 8): the entry form shows a deny or
allow entry while the plate is typed (confusables tolerated) and a flagged ticket says why; the account
method picks an open account from a list, refuses an unknown reference before anything is sent, and the
payment row names the account."""

from __future__ import annotations

from attendant.core.auth import Actor, Role
from attendant.tui.dialogs import AccountPickDialog
from db.models import ParkingSession, Payment
from tests.tui.support import SIZE, code_of, console, enter_by_keys, keys, pilot_test, rows, scan, settle, text_of

PS, PAY = ParkingSession.__table__, Payment.__table__
SUE = Actor("sue", Role.SUPERVISOR)


@pilot_test
async def test_the_entry_form_shows_the_lists_as_the_plate_is_typed(engine, clock):
    app = console(engine, clock, actor="lists-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.service.add_plate_entry("deny", "AB12CDE", "BANNED: damage to the barrier", actor=SUE)
        app.service.add_plate_entry("deny", "FL4GGY", "UNPAID: two IOUs", actor=SUE, action="flag")
        app.service.add_plate_entry("allow", "ST4FF1", "STAFF", actor=SUE)
        await pilot.press("f2", *keys("A812CDE"))  # B read as 8
        await settle(pilot)
        note = text_of(app, "#entry-list")
        assert "deny list (as AB12CDE): entry will be refused — BANNED: damage to the barrier" in note
        await pilot.press("enter")
        await settle(pilot)
        assert "on the deny list" in text_of(app, "#entry-result") and rows(engine, PS) == []
        await pilot.press("escape", *keys("ST4FFI"))
        await settle(pilot)
        assert "allow list (as ST4FF1): free exit — STAFF" in text_of(app, "#entry-list")
        await pilot.press("escape")
        await enter_by_keys(pilot, "FL4GGY")
        (session,) = rows(engine, PS)
        assert "FLAG deny list (flag): UNPAID: two IOUs" in text_of(app, "#entry-result")
        assert text_of(app, "#entry-list") == ""  # the form is clear for the next vehicle


@pilot_test
async def test_the_account_method_picks_and_checks_the_account(engine, clock):
    app = console(engine, clock, actor="lists-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.service.add_account("ACME", "ACME Facilities Ltd", actor=SUE, credit_limit=5000)
        await enter_by_keys(pilot, "AC1 TUI")
        (session,) = rows(engine, PS)
        clock.advance(hours=2)
        await scan(pilot, code_of(session))
        await pilot.press("7")  # account
        await settle(pilot)
        assert app.focused.id == "exit-reference"
        await pilot.press(*keys("NOPE"), "enter")
        await settle(pilot)
        assert "no open account 'NOPE'" in text_of(app, "#exit-result") and rows(engine, PAY) == []
        app.focused.value = ""
        await pilot.press("enter")  # an empty Reference: the list of accounts
        await settle(pilot)
        assert isinstance(app.screen, AccountPickDialog)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.focused.id == "exit-reference" and app.focused.value == "ACME"
        assert "ACME Facilitie  £50.00 left" in text_of(app, "#exit-change")  # holder (cut to fit), limit left
        await pilot.press("enter")
        await settle(pilot)
        (payment,) = rows(engine, PAY)
        assert (payment.method, payment.processor_ref, payment.status) == ("account", "ACME", "completed")
        assert rows(engine, PS)[0].status == "closed"
