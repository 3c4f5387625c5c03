"""Pilot tests of the exit lane's customer display in the console (issue 12 item 8).

The app :func:`attendant.tui.app.make_app` builds, on a real SQLite file of
the demo facility, with the demo's lanes and their stand-in customer
displays (their own threads): the attendant looks a ticket up with F3, the
display shows the fee; cash is taken, it shows what was tendered and the
change; the device panel shows the two rows. A display that is down is shown
faulted and the payment goes through.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from attendant.demo import demo_config
from db.models import ParkingSession, Payment
from tests.tui.support import (
    SIZE,
    console,
    pilot_test,
    rows,
    scan,
    settle,
    text_of,
    until,
)

PS, PAY = (t.__table__ for t in (ParkingSession, Payment))
ACTOR = "display-test"


def build(engine, clock, display: str = "standin://"):
    config = demo_config()
    lanes = tuple(replace(lane, display=display) if lane.direction == "exit" else lane for lane in config.lanes)
    app = console(engine, clock, replace(config, signs=(), lanes=lanes), actor=ACTOR)
    app.device_hub.monitor = False  # the test polls when it wants to
    return app


async def poll(pilot) -> None:
    """One health poll by the device hub (on a thread, as its monitor does), then its messages handled."""
    await asyncio.to_thread(pilot.app.device_hub.poll, wait=True)
    await settle(pilot)


def display_of(app, lane: str = "X1"):
    return app.booth.devices(app.booth.lanes[lane]).display


@pilot_test
async def test_the_stand_in_display_shows_the_fee_then_the_tendered_amount_and_change(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        display = display_of(app)
        await until(pilot, lambda: display.rows[1].startswith("Please have ticket"))
        code = app.service.enter("DS01PLY", "car", actor=ACTOR).code
        clock.advance(hours=2, minutes=40)  # £7.20 (3 started hours at £2.40)

        await scan(pilot, code)
        await until(pilot, lambda: display.rows[0].startswith("Please pay"))
        assert display.rows == ("Please pay     £7.20", "Stay      2 h 40 min")
        await poll(pilot)
        assert "X1 display ▭ Please pay     £7.20 | Stay      2 h 40 min" in text_of(app, "#devices")

        await pilot.press("1", *"20", "enter")  # cash, £20 tendered
        await settle(pilot)
        await until(pilot, lambda: display.rows[1].startswith("Change"))
        assert display.rows == ("Tendered      £20.00", "Change        £12.80")
        (payment,) = rows(engine, PAY)
        assert (payment.method, payment.amount, payment.status) == ("cash", 720, "completed")
        await poll(pilot)
        assert "X1 display ▭ Tendered      £20.00 | Change        £12.80" in text_of(app, "#devices")


@pilot_test
async def test_a_display_that_is_down_is_faulted_and_the_payment_goes_through(engine, clock):
    app = build(engine, clock, "serial:///dev/ttyNO-SUCH-DISPLAY")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        code = app.service.enter("DS02DWN", "car", actor=ACTOR).code
        clock.advance(hours=1)
        await scan(pilot, code)
        await pilot.press("2", "enter")  # card
        await settle(pilot)
        (payment,) = rows(engine, PAY)
        assert (payment.method, payment.status) == ("card", "completed")
        assert rows(engine, PS, PS.c.status != "open")
        assert display_of(app).wait_idle(3)
        await poll(pilot)
        panel = text_of(app, "#devices")
        assert "X1 display faulted" in panel and "ttyNO-SUCH-DISPLAY" in panel
