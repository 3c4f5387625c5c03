"""The console's amount fields read amounts as the CLI does (issue 10 item 9): ``10,00`` in the tendered field
is refused as it is typed (never read as £1,000), a part amount above the balance is refused as it is typed,
and a tendered amount far above the balance asks for a confirmation before anything is taken."""

from __future__ import annotations

from attendant.tui.dialogs import ConfirmDialog
from db.models import ParkingSession, Payment
from tests.tui.support import SIZE, code_of, console, enter_by_keys, pilot_test, rows, scan, settle, text_of

PS, PAY = ParkingSession.__table__, Payment.__table__


@pilot_test
async def test_tendered_10_comma_00_is_refused_as_typed_and_nothing_is_paid(engine, clock):
    app = console(engine, clock, actor="amounts-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "COMMA10")
        (session,) = rows(engine, PS)
        clock.advance(hours=2)
        await scan(pilot, code_of(session))
        await pilot.press("1")  # cash: the tendered field
        assert app.focused.id == "exit-tendered"
        await pilot.press("1", "0", ",", "0", "0")
        await settle(pilot)
        field = app.focused
        assert field.value == "10,00" and not field.is_valid
        assert "is not an amount in GBP" in text_of(app, "#exit-result")
        assert "10.00" in text_of(app, "#exit-result")  # says what to type
        await pilot.press("enter")
        await settle(pilot)
        assert rows(engine, PAY) == [] and rows(engine, PS)[0].status == "open"
        assert "is not an amount in GBP" in text_of(app, "#exit-result")


@pilot_test
async def test_part_amount_above_the_balance_is_refused_as_typed(engine, clock):
    app = console(engine, clock, actor="amounts-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "PART99")
        (session,) = rows(engine, PS)
        clock.advance(hours=2)
        await scan(pilot, code_of(session))
        form = app.screen.query_one("#exit-form")
        balance = form.checkout.balance
        assert 0 < balance < 90000
        app.screen.set_focus(app.screen.query_one("#exit-amount"))
        await pilot.press("9", "0", "0")  # £900, above the balance
        await settle(pilot)
        assert not app.screen.query_one("#exit-amount").is_valid
        assert "is more than the balance" in text_of(app, "#exit-result")
        await pilot.press("enter")
        await settle(pilot)
        assert rows(engine, PAY) == []


@pilot_test
async def test_tendered_far_above_the_balance_asks_first(engine, clock):
    app = console(engine, clock, actor="amounts-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "BIGNOTE")
        (session,) = rows(engine, PS)
        clock.advance(hours=2)
        await scan(pilot, code_of(session))
        await pilot.press("1", "1", "0", "0", "0", "enter")  # £1,000 for a fee of a few pounds
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert rows(engine, PAY) == []
        await pilot.press("escape")  # back: nothing taken, the field to correct
        await settle(pilot)
        assert rows(engine, PAY) == [] and app.focused.id == "exit-tendered"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")  # confirmed: taken, with the change
        await settle(pilot)
        (payment,) = rows(engine, PAY)
        assert payment.method == "cash" and payment.tendered == 100000
        assert payment.change == 100000 - payment.amount
        assert rows(engine, PS)[0].status == "closed"
