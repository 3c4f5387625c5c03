"""Pilot tests of the console's money and staff features: keys in, rows and screen out.

Every test runs the app :func:`attendant.tui.app.make_app` builds (the CLI's
wiring: with users in the database it starts on the login screen) on a real
SQLite file holding the demo facility and three users (admin, a supervisor,
an attendant), with real stand-in devices and the real stand-in payment
processor, a fixed clock and no replay. Tests wait for the workers and the
message queue (``settle``); none sleeps for a fixed time.

Covered: (a) a full shift by keys (login, float, ten exits in mixed methods
including a split, a drop, a count-up that balances to the penny); (b) a card
decline then a retry, charged once, and a retry after an unknown outcome that
reuses the idempotency key; (c) a processor outage, the vehicle let go with an
IOU, and the third IOU forcing prepayment at entry; (d) supervisor actions
hidden from an attendant and refused by the service when forced, and done by
a supervisor; (e) three wrong PINs lock the user.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from attendant.core import shifts, users
from attendant.core.auth import Actor
from attendant.core.payments import ProcessorUnavailable, StandInProcessor
from attendant.core.personal_data import site_data
from attendant.core.vocab import PaymentMethod
from attendant.tui.commands import money_commands
from attendant.tui.screens.login import LoginScreen
from attendant.tui.screens.shift import CountUpScreen, ShiftScreen
from attendant.tui.widgets.shift_count import CashCountGrid
from db.models import (
    AuditEvent,
    CashMovement,
    Iou,
    LoginGuard,
    ParkingSession,
    Payment,
    Shift,
    User,
    Vend,
)
from tests.tui.conftest import PINS
from tests.tui.support import (
    SIZE,
    T0,
    console,
    keys,
    pilot_test,
    rows,
    scan,
    settle,
    text_of,
    until,
)

PS, PAY, VEND, IOU, SH, CM, U, G, AUD = (
    t.__table__ for t in (ParkingSession, Payment, Vend, Iou, Shift, CashMovement, User, LoginGuard, AuditEvent)
)


@pytest.fixture
def engine(staffed_engine):
    """The demo facility with its users (admin, sue, bob), a fresh copy for each test."""
    return staffed_engine

# Set-up done by the site's own automata: an unattended entry lane's ticket dispenser (no login), and the
# IOU an earlier shift left (recorded as its lane's automaton would).
TICKET_DISPENSER = Actor("entry-lane", system=True)
EARLIER_SHIFT = Actor("earlier-shift", system=True)


def build(engine, clock):
    return console(engine, clock)


def main_text(app, selector: str) -> str:
    return str(app.main_screen.query_one(selector).render())


def actor_of(engine, username: str):
    return users.get_user(engine, username).actor()


def open_shift_for(app, username: str, float_amount: int = 10000):
    """Open ``username``'s shift through the service (tests other than the full shift)."""
    service = app.service
    return shifts.open_shift(service.engine, service.facility.id, actor_of(service.engine, username), float_amount,
                             at=service.clock())


async def login(pilot, username: str, pin: str | None = None) -> None:
    await pilot.press(*keys(username), "enter", *(pin or PINS[username]), "enter")
    await settle(pilot)



async def log_out(pilot, app) -> None:
    """ctrl+y, confirming when the console asks (a shift open or a fee on screen: issue 12 item 3)."""
    from attendant.tui.dialogs import ConfirmDialog

    await pilot.press("ctrl+y")
    await settle(pilot)
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("enter")
        await settle(pilot)


def form_of(app):
    return app.main_screen.query_one("#exit-form")


def logouts(engine) -> list[tuple[str, dict]]:
    """(actor, details) of every ``user.logout`` audit event, in order."""
    return [(r.actor, r.details) for r in rows(engine, AUD, AUD.c.action == "user.logout")]


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


# ------------------------------------------------------------------ (a) a shift
@pilot_test
async def test_a_full_shift_by_keys_balances_to_the_penny(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        await login(pilot, "bob")
        assert app.actor.name == "bob" and app.actor.role == "attendant" and app.shift is None
        assert "bob (attendant) · no shift" in main_text(app, "#facility-bar")

        # open the shift with a £100 float
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ShiftScreen)
        await pilot.press("o", *"100", "enter")
        await settle(pilot)
        (shift,) = rows(engine, SH)
        assert (shift.status, shift.float_amount, shift.user_id) == ("open", 10000, app.actor.user_id)
        # the screen reloads the shift in a worker of its own after the opening's (shift-load): on a busy
        # machine settle() can return between the two, so wait for the app to hold it
        await until(pilot, lambda: app.shift is not None)
        assert app.shift.id == shift.id
        assert "Float" in text_of(app, "#shift-report") and "£100.00" in text_of(app, "#shift-report")
        await pilot.press("escape")
        await settle(pilot)
        assert "shift #" in main_text(app, "#facility-bar")

        # ten vehicles inside since 09:30
        codes = [app.service.enter(f"SH{n:02d}FT", "car", actor=TICKET_DISPENSER).code for n in range(10)]
        clock.advance(hours=2, minutes=40)  # £7.20 each (3 started hours at £2.40)

        async def pay(code, *presses):
            await scan(pilot, code)
            assert form_of(app).checkout is not None, text_of(app, "#exit-result")
            await pilot.press(*presses)
            await settle(pilot)

        await pay(codes[0], "1", *"20", "enter")  # cash, £20 tendered
        assert "change £12.80" in main_text(app, "#exit-result")
        await pay(codes[1], "2", "enter")  # card
        await pay(codes[2], "3", "enter")  # UPI
        await pay(codes[3], "4", "enter")  # e-wallet
        await pay(codes[4], "5", "enter")  # mobile
        # a split: £5 cash (the part amount, tendered exactly), then the rest by card
        await scan(pilot, codes[5])
        await pilot.press("1", "shift+tab", "5", "enter")
        await settle(pilot)
        form = form_of(app)
        assert form.checkout is not None and form.checkout.balance == 220
        assert "Paid so far" in main_text(app, "#exit-fee") and "£2.20" in main_text(app, "#exit-fee")
        await pilot.press("2", "enter")
        await settle(pilot)
        await pay(codes[6], "1", "enter")  # cash, exact
        await pay(codes[7], "1", *"10", "enter")  # cash, £10 tendered
        await pay(codes[8], "2", "enter")  # card
        await pay(codes[9], "1", *"50", "enter")  # cash, £50 tendered
        assert "change £42.80" in main_text(app, "#exit-result")

        sessions = rows(engine, PS)
        assert [s.status for s in sessions] == ["closed"] * 10
        payments = rows(engine, PAY)
        assert all(p.status == "completed" and p.shift_id == shift.id and p.actor == "bob" for p in payments)
        methods = [p.method for p in payments]
        assert methods == ["cash", "card", "upi", "ewallet", "mobile", "cash", "card", "cash", "cash", "card", "cash"]
        assert sum(p.amount for p in payments) == 10 * 720
        cash_in = sum(p.amount for p in payments if p.method == "cash")

        # a drop of £20 to the safe
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("d", *"20", "tab", *keys("bag 1"), "enter")
        await settle(pilot)
        (_float, drop) = rows(engine, CM)
        assert (drop.kind, drop.amount, drop.note, drop.shift_id) == ("drop", 2000, "bag 1", shift.id)

        # close: count the drawer by denomination, then the other methods' totals
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CountUpScreen)
        drawer = 10000 + cash_in - 2000
        grid = app.screen.query_one(CashCountGrid)
        left, count = drawer, {}
        for denom in grid.denominations:  # greedy: what is really in the drawer
            count[denom], left = divmod(left, denom)
        for denom in grid.denominations:  # typed by keys, one field after another
            if count[denom]:
                await pilot.press(*str(count[denom]))
            await pilot.press("down")
        await pilot.pause()
        assert grid.total() == drawer
        # a blind count-up (the default): nothing expected on screen, the card totals not pre-filled
        table = text_of(app, "#count-table")
        assert "hidden" in table and "balanced" not in table and "£16.60" not in table
        assert app.screen.query_one("#other-card").value == ""
        await pilot.press("enter")  # the last count field: on to the other methods' counted totals
        for amount in ("16.60", "7.20", "7.20", "7.20"):  # card, UPI, e-wallet, mobile: the terminals' totals
            await pilot.press(*amount, "enter")
        await settle(pilot)
        assert "Enter this count?" in text_of(app, "#confirm-text")
        await pilot.press("enter")  # entered: the count locks, the expected amounts show
        await settle(pilot)
        table = text_of(app, "#count-table")
        assert "cash" in table and "balanced" in table and "▼ short" not in table and "▲ over" not in table
        assert "Drawer cash" in table and "Non-cash" in table and "TOTAL" not in table
        await pilot.press("ctrl+s")  # close: a confirmation first
        await settle(pilot)
        assert "balanced" in text_of(app, "#confirm-text")
        await pilot.press("enter")
        await settle(pilot)

        (closed,) = rows(engine, SH)
        assert (closed.status, closed.over_short, closed.closed_by) == ("closed", 0, "bob")
        assert closed.counted["cash"] == closed.expected["cash"] == drawer
        assert closed.expected == {"cash": drawer, "card": 720 + 220 + 720, "upi": 720, "ewallet": 720, "mobile": 720}
        assert closed.counted == closed.expected
        report = text_of(app, "#printout-text")
        assert "SHIFT REPORT #" in report and "OVER/SHORT" in report and "balanced" in report
        assert "printed ✓" in str(app.screen.query_one("#printout-box").border_title)
        printer = app.booth.devices(app.exit_lane).printer
        assert "SHIFT REPORT" in printer.last_text and "balanced" in printer.last_text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ShiftScreen) and app.shift is None
        assert "No shift open" in text_of(app, "#shift-who")


# ---------------------------------------------------------- (b) decline, retry
class VoidFails(StandInProcessor):
    """The stand-in card processor whose timeout reversal fails too: the outcome stays unknown."""

    def void(self, idempotency_key: str) -> None:
        raise ProcessorUnavailable("reversal failed (stand-in)")


@pilot_test
async def test_b_card_decline_then_retry_is_charged_once(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        assert app.shift is not None
        code = app.service.enter("DE11NED", "car", actor=TICKET_DISPENSER).code
        clock.advance(hours=1, minutes=5)
        card = app.service.processors.get(PaymentMethod.CARD)
        card.set_script(["decline", "approve"])

        await scan(pilot, code)
        await pilot.press("2", "enter")
        await settle(pilot)
        result = main_text(app, "#exit-result")
        assert "declined by issuer" in result and "Enter retry" in result and "let go with an IOU" in result
        (failed,) = rows(engine, PAY)
        assert (failed.method, failed.status) == ("card", "failed")
        assert rows(engine, PS)[0].status == "open" and card.charges == []

        await pilot.press("enter")  # retry: a new attempt, approved
        await settle(pilot)
        assert "✓ Paid" in main_text(app, "#exit-result")
        assert len(card.charges) == 1
        failed, paid = rows(engine, PAY)
        assert (paid.status, paid.amount) == ("completed", card.charges[0][1])
        assert paid.idempotency_key != failed.idempotency_key
        assert rows(engine, PS)[0].status == "closed"


@pilot_test
async def test_b_retry_after_an_unknown_outcome_reuses_the_key(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        code = app.service.enter("T1MEOUT", "car", actor=TICKET_DISPENSER).code
        clock.advance(minutes=50)
        card = VoidFails(PaymentMethod.CARD, ["timeout"])  # charged, but the answer is lost
        app.service.processors.processors[PaymentMethod.CARD] = card
        app.service.processors.retries = 0

        await scan(pilot, code)
        await pilot.press("2", "enter")
        await settle(pilot)
        assert "outcome unknown" in main_text(app, "#exit-result")
        (pending,) = rows(engine, PAY)
        assert pending.status == "pending" and len(card.charges) == 1

        await pilot.press("enter")  # the same request again: the processor's first answer
        await settle(pilot)
        assert "✓ Paid" in main_text(app, "#exit-result")
        (paid,) = rows(engine, PAY)
        assert (paid.id, paid.status, paid.idempotency_key) == (pending.id, "completed", pending.idempotency_key)
        assert len(card.charges) == 1
        assert rows(engine, PS)[0].status == "closed"


# --------------------------------------------------------- (c) outage, IOU
@pilot_test
async def test_c_outage_let_go_with_iou_and_the_third_iou_forces_prepay(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        await login(pilot, "bob")
        service = app.service
        for _ in range(2):  # two earlier unpaid visits of the same plate
            earlier = service.enter("OW35ALT", "car", actor=TICKET_DISPENSER)
            clock.advance(hours=1)
            service.let_go(earlier.code, actor=EARLIER_SHIFT, reason="card declined")
        code = service.enter("OW35ALT", "car", actor=TICKET_DISPENSER).code
        clock.advance(hours=2)
        for method in (PaymentMethod.CARD, PaymentMethod.UPI):
            service.processors.get(method).set_script(["unavailable"])

        await scan(pilot, code)
        assert "2 unpaid IOUs" in main_text(app, "#exit-session")
        await pilot.press("2", "enter")
        await settle(pilot)
        assert "processor unavailable" in main_text(app, "#exit-result")
        await pilot.press("3", "enter")  # another method: down as well
        await settle(pilot)
        assert "upi processor unavailable" in main_text(app, "#exit-result")

        await pilot.press("ctrl+g")  # let go: the reason is required
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert "reason is required" in text_of(app, ".dialog-error")
        await pilot.press(*keys("processors down, driver had no cash"), "enter")
        await settle(pilot)

        session = rows(engine, PS, PS.c.code == site_data().code_hash(code))[0]
        assert session.status == "closed" and session.exit_reason == "processors down, driver had no cash"
        iou = rows(engine, IOU, IOU.c.session_id == session.id)[0]
        assert (site_data().open(iou.plate), iou.status, iou.amount, iou.actor) == ("OW35ALT", "open", session.amount_due, "bob")
        (vend,) = rows(engine, VEND, VEND.c.session_id == session.id, VEND.c.direction == "exit")
        assert (vend.source, vend.lane, vend.actor) == ("attendant", "X1", "bob")
        assert "IOU" in vend.reason
        assert [p.status for p in rows(engine, PAY, PAY.c.session_id == session.id)] == ["failed", "failed"]
        result = main_text(app, "#exit-result")
        assert "Let go" in result and "IOU" in result and "gate opened" in result
        assert "IOU (unpaid)" in app.main_screen.last_printout[1]

        # the third IOU: the plate must prepay before it may enter again
        await pilot.press("f2", *keys("OW35ALT"), "enter")
        await settle(pilot)
        refused = main_text(app, "#entry-result")
        assert "Not issued" in refused and "3 unpaid IOUs" in refused and "prepay" in refused
        assert len(rows(engine, PS, PS.c.plate_hash == site_data().plate_index("OW35ALT"))) == 3


# ------------------------------------------------------ (d) supervisor actions
@pilot_test
async def test_d_refund_is_hidden_from_an_attendant_and_refused_when_forced(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        open_shift_for(app, "bob")
        open_shift_for(app, "sue")
        await login(pilot, "bob")
        code = app.service.enter("RE7UND", "car", actor=TICKET_DISPENSER).code
        clock.advance(hours=1)
        done = app.service.exit(code, method="cash", actor=app.actor)
        payment_id = done.payment_id

        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ShiftScreen)
        titles = [title for title, _help, _cb in money_commands(app)]
        assert "Shift: cash drop" in titles
        assert not {"Refund a payment", "Create a validation", "Close another user's shift"} & set(titles)
        shown = {b.binding.action for b in screen.active_bindings.values() if b.enabled}
        assert "drop" in shown and not {"refund", "new_validation", "close_other"} & shown
        await pilot.press("r")  # the key does nothing for an attendant
        await settle(pilot)
        assert app.screen is screen

        screen.action_refund()  # forced: the service refuses
        await settle(pilot)
        await pilot.press("enter", "tab", *keys("goodwill"), "enter")  # the newest payment, a reason
        await settle(pilot)
        refusal = text_of(app, "#shift-result")
        assert "a refund needs a supervisor" in refusal and "bob is logged in as attendant" in refusal
        assert any("needs a supervisor" in m for m in notifications(app))
        (payment,) = rows(engine, PAY)
        assert payment.status == "completed"

        screen.action_new_validation()  # forced as well: refused
        await settle(pilot)
        await pilot.press(*keys("Corner Cafe"), "tab", "1", "tab", *"2", "enter")
        await settle(pilot)
        assert "creating a validation needs a supervisor" in text_of(app, "#shift-result")
        screen.action_close_other()  # another user's shift: the service will not even show its figures
        await settle(pilot)
        options = app.screen.query_one("#shift-choices").options  # the open shifts but bob's own
        assert [str(option.prompt).split()[:2] for option in options] == [[f"#{app.shift.id + 1}", "sue"]]
        await pilot.press("enter")
        await settle(pilot)
        assert "another user's shift report needs a supervisor" in text_of(app, "#shift-result")
        assert rows(engine, SH, SH.c.status == "closed") == []

        # the palette offers what an attendant may do, and it works from the lanes too
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+p", *keys("cash drop"))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(".money-dialog").border_title == "Cash drop to the safe"
        await pilot.press("escape")
        await settle(pilot)

        # the supervisor sees it and may do it
        await log_out(pilot, app)
        assert isinstance(app.screen, LoginScreen) and app.actor is None
        await until(pilot, lambda: logouts(engine) == [("bob", {"reason": "logout"})])
        await login(pilot, "sue")
        assert "Refund a payment" in [title for title, _h, _c in money_commands(app)]
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        choices = app.screen.query_one("#refund-choices")  # the recent payments, newest first
        assert [str(option.prompt).split()[:2] for option in choices.options] == [[f"#{payment_id}", "cash"]]
        assert "RE7UND" in str(choices.options[0].prompt)
        await pilot.press("enter")  # pick it: its number fills the field, the amount is next
        await pilot.pause()
        assert app.screen.query_one("#refund-payment").value == str(payment_id)
        await pilot.press("tab", *keys("goodwill"), "enter")
        await settle(pilot)
        assert "Refunded" in text_of(app, "#shift-result")
        original, refund = rows(engine, PAY)
        assert (original.status, refund.amount, refund.refund_of_id, refund.actor) == (
            "refunded", -original.amount, original.id, "sue")
    # leaving the console while logged in is audited too
    assert logouts(engine) == [("bob", {"reason": "logout"}), ("sue", {"reason": "quit"})]


# -------------------------------------------------------------- (e) lock-out
@pilot_test
async def test_e_three_wrong_pins_lock_the_user(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert [t for t, _h, _c in money_commands(app)] == []  # nothing in the palette while logged out
        pin_field = app.screen.query_one("#login-pin")
        assert pin_field.password  # masked
        await pilot.press(*keys("bob"), "enter")
        for attempt in range(1, 4):
            await pilot.press(*"000000", "enter")
            await settle(pilot)
            assert pin_field.value == ""
            if attempt < 3:
                assert "wrong user name or PIN" in text_of(app, "#login-result")
        locked = text_of(app, "#login-result")
        source = f"console:{socket.gethostname()}"
        assert "LOCKED" in locked and f"locked here ({source}) until 2026-11-21 09:30 GMT" in locked
        (bob,) = rows(engine, U, U.c.username == "bob")
        with engine.connect() as conn:  # locked at this console only, for 30 s
            (guard,) = conn.execute(G.select().where(G.c.user_id == bob.id)).all()
        assert (guard.source, guard.locks, guard.locked_until) == (source, 1, T0 + timedelta(seconds=30))

        await pilot.press(*PINS["bob"], "enter")  # the right PIN is refused while locked
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen) and app.actor is None
        assert "is locked here until 2026-11-21 09:30 GMT" in text_of(app, "#login-result")


# ------------------------------------------------------- (f) bay out of service
@pilot_test
async def test_f_a_supervisor_cones_off_a_bay_and_the_map_shows_it(engine, clock):
    from attendant.core.vocab import SpotStatus
    from attendant.tui.widgets.level_map import LevelMapView
    from db.models import Spot

    spots = Spot.__table__
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await login(pilot, "bob")
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert "bay_service" not in shown  # hidden from an attendant
        await pilot.press("escape")
        await log_out(pilot, app)
        await login(pilot, "sue")
        bay = rows(engine, spots, spots.c.status == "available")[0]
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("b", *keys(bay.label.lower()), "tab", "tab", *keys("oil spill"), "enter")
        await settle(pilot)
        assert f"Bay {bay.label} is now out of service" in text_of(app, "#shift-result")
        (row,) = rows(engine, spots, spots.c.id == bay.id)
        assert row.status == "out_of_service"
        audit = rows(engine, AUD, AUD.c.action == "spot.out_of_service")
        assert [(a.actor, a.details["reason"]) for a in audit] == [("sue", "oil spill")]
        await pilot.press("escape")
        await settle(pilot)
        level_map = app.main_screen.query_one(LevelMapView)
        await until(pilot, lambda: level_map.status_of(bay.id) is SpotStatus.OUT_OF_SERVICE)

        await pilot.press("ctrl+s")  # and back
        await settle(pilot)
        await pilot.press("b", *keys(bay.label), "tab", "2", "enter")
        await settle(pilot)
        assert rows(engine, spots, spots.c.id == bay.id)[0].status == "available"
        await pilot.press("escape")
        await settle(pilot)
        await until(pilot, lambda: level_map.status_of(bay.id) is SpotStatus.AVAILABLE)
