"""Booth exceptions in the console (issue 10), by keys: a free exit needs a supervisor's PIN in the dialog
(an attendant's is refused by the services, nothing written), a gate opened by hand with a reason (F11),
and the reports screen's exceptions tab (x). The lost ticket to a paid exit is in test_tui_flows.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attendant.core.auth import Actor
from attendant.core.exceptions import DEFAULT_REASON_CODES
from attendant.core.requests import EntryRequest
from db.models import AuditEvent, ParkingSession, Vend
from tests.tui.conftest import PINS
from tests.tui.support import SIZE, console, keys, pilot_test, rows, scan, settle, text_of, until

PS, VEND, AUD = (t.__table__ for t in (ParkingSession, Vend, AuditEvent))
TICKET_DISPENSER = Actor("entry-lane", system=True)


@pytest.fixture
def engine(staffed_engine):
    return staffed_engine


async def login(pilot, username: str) -> None:
    await pilot.press(*keys(username), "enter", *PINS[username], "enter")
    await settle(pilot)


def exceptions(engine) -> list:
    return [(e.action, e.actor, e.details) for e in rows(engine, AUD, AUD.c.action.startswith("exception."))]


async def free_exit(pilot, supervisor: str) -> None:
    """ctrl+f, the reason GOODWILL with a text, the supervisor's name and PIN."""
    await pilot.press("ctrl+f")
    await settle(pilot)
    assert pilot.app.screen.query_one("#exc-reasons").highlighted == list(DEFAULT_REASON_CODES).index("GOODWILL")
    await pilot.press("enter", *keys("barrier hit the mirror"), "enter", *keys(supervisor), "enter",
                      *PINS[supervisor], "enter")
    await settle(pilot)


@pilot_test
async def test_free_exit_needs_a_supervisors_pin_and_a_gate_opens_by_hand(engine, clock):
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await login(pilot, "bob")
        entry = app.service.admit(EntryRequest("FR33 EXT", at=clock.now - timedelta(hours=2)), actor=TICKET_DISPENSER)
        due = app.service.quote(entry.code).fee.amount
        await scan(pilot, entry.code)
        assert app.main_screen.query_one("#exit-form").checkout.balance == due > 0

        await free_exit(pilot, "bob")  # an attendant's PIN: refused by the services
        assert "a free exit (the balance waived) needs a supervisor" in text_of(app, "#exit-result")
        assert exceptions(engine) == [] and rows(engine, PS)[-1].status == "open"

        await free_exit(pilot, "sue")
        assert "✓ Paid £0.00" in text_of(app, "#exit-result")
        session = rows(engine, PS, PS.c.id == entry.session_id)[0]
        assert (session.status, session.amount_paid, session.exit_reason) == (
            "closed", 0, "free exit: GOODWILL: barrier hit the mirror")
        [(action, actor, details)] = exceptions(engine)
        assert (action, actor, details["amount_cents"], details["lane"]) == ("exception.free_exit", "sue", due, "X1")
        assert [(v.source, v.actor) for v in rows(engine, VEND, VEND.c.session_id == entry.session_id)] == [
            ("attendant", "sue")]

        # F11: the exit lane's gate opened by hand, reason GATE_FAULT (one down from the first code)
        await pilot.press("f11", "g")  # the exceptions menu, g: open a lane's gate by hand
        await settle(pilot)
        await pilot.press("enter", "down", "enter")
        await settle(pilot)
        await until(pilot, lambda: len(rows(engine, VEND, VEND.c.session_id.is_(None))) == 1)
        (vend,) = rows(engine, VEND, VEND.c.session_id.is_(None))
        assert (vend.lane, vend.source, vend.reason, vend.actor) == ("X1", "attendant", "GATE_FAULT", "bob")
        assert exceptions(engine)[-1][:2] == ("exception.manual_vend", "bob")

        # the reports screen's exceptions tab
        await pilot.press("ctrl+b")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        tab = text_of(app, "#report-exceptions")
        assert "free_exit" in tab and "manual_vend" in tab and "GOODWILL barrier hit the mirror" in tab
        assert "By actor" in tab and "sue" in tab
