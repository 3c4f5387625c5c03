"""The console's concession flow (issue 10 item 10): palette, dialog, the row and the audit event it writes,
and the fee at exit priced with it (the demo plan gives a Blue Badge 3 hours free)."""

from __future__ import annotations

from datetime import timedelta

from db.models import AuditEvent, ParkingSession, SessionConcession
from tests.tui.support import (
    SIZE,
    console,
    enter_by_keys,
    keys,
    pilot_test,
    rows,
    settle,
    until,
)

PS, SC, AUD = (t.__table__ for t in (ParkingSession, SessionConcession, AuditEvent))


@pilot_test
async def test_concession_recorded_from_the_palette_prices_the_exit(engine, clock):
    app = console(engine, clock, actor="console-test")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "bb12 bdg")
        (session,) = rows(engine, PS)
        await pilot.press("ctrl+p", *keys("record a concession"))
        await until(pilot, lambda: "Record a concession" in str(
            app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ConcessionDialog")
        await settle(pilot)
        await pilot.press("enter")  # nothing typed: refused on screen, the dialog stays
        await settle(pilot)
        assert "type the ticket number" in str(app.screen.query_one(".dialog-error").render())
        await pilot.press(*keys(str(session.ticket_no)), "tab", "tab", *keys("AB12 3456 7890"), "enter")
        await until(pilot, lambda: rows(engine, SC))
        await settle(pilot, "concession")
        (row,) = rows(engine, SC)
        assert (row.session_id, row.name, row.created_by) == (session.id, "disabled_badge", "console-test")
        assert "7890" not in row.badge  # sealed
        (event,) = rows(engine, AUD, AUD.c.action == "session.concession_add")
        assert event.details["concession"] == "disabled_badge" and "7890" not in str(event.details)
        # 4 hours later: 3 h free, the last hour at the car tariff
        clock.now += timedelta(hours=4)
        quote = app.service.quote(app.service.exit_code_for(str(session.ticket_no))[0])
        assert quote.fee.amount == 240 and quote.fee.lines[0].label == "Blue Badge: first 3 h free"
