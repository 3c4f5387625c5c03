"""SVG snapshots of the money and staff screens (pytest-textual-snapshot's ``snap_compare``).

Made under fixed conditions, as ``tests/test_tui_snapshots.py``: a fresh demo
database with two users (an admin and the attendant bob), a fixed ticket
secret (the same ticket codes on every run), a fixed facility clock, gates
that stay open once vended, a 160x50 terminal, no replay, no blinking cursor
and no notifications on screen. After an intentional change:
``pytest tests/test_tui_money_snapshots.py --snapshot-update``, then look at
the SVGs in ``tests/__snapshots__/test_tui_money_snapshots/`` before
accepting them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual import events
from textual.widgets import Input

from attendant.core import shifts, users
from attendant.core.auth import Actor
from attendant.core.money import to_major_str
from tests.tui.support import SIZE, T0, Clock, console, still_gates_config
from tests.tui.support import settle as settle_queues

SECRET = "5e" * 32  # a fixed ticket secret: the codes on screen never change

# Set-up done by the site's own automata: an unattended entry lane's ticket dispenser (no login), and the
# IOU an earlier shift left (recorded as its lane's automaton would).
TICKET_DISPENSER = Actor("entry-lane", system=True)
EARLIER_SHIFT = Actor("earlier-shift", system=True)


@pytest.fixture
def snapshot_console(tmp_path, monkeypatch, staffed_engine):
    """(app factory, clock, engine) on a demo database with users, a fixed secret and clock."""
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    engine = staffed_engine
    clock = Clock()

    def build():
        return console(engine, clock, still_gates_config())

    yield build, clock, engine


def still(app) -> None:
    """No blinking cursor, no toasts: the picture is the same on every run."""
    for field in app.screen.query(Input):
        field.cursor_blink = False
    app.clear_notifications()


async def settle(pilot) -> None:
    """The work the test caused, done; then the top bar shows the clock as the timers would have."""
    await settle_queues(pilot)
    if pilot.app.main_screen.is_mounted:
        pilot.app.main_screen.tick()
    await settle_queues(pilot)


async def log_in_with_a_shift(pilot, engine, float_amount: int = 10000) -> None:
    """bob's shift opened through the service at T0, then bob logs in by keys."""
    app = pilot.app
    bob = users.get_user(engine, "bob").actor()
    shifts.open_shift(engine, app.service.facility.id, bob, float_amount, at=T0)
    await settle(pilot)
    await pilot.press(*"bob", "enter", *"135713", "enter")
    await settle(pilot)


def test_login_screen(snapshot_console, snap_compare):
    build, _clock, _engine = snapshot_console

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press(*"bob", "enter", *"12")  # the PIN shows masked
        await pilot.pause()
        still(pilot.app)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)


def test_exit_screen_with_a_split_payment_in_progress(snapshot_console, snap_compare):
    build, clock, engine = snapshot_console

    async def run_before(pilot):
        app = pilot.app
        await log_in_with_a_shift(pilot, engine)
        code = app.service.enter("SP11TPY", "car", actor=TICKET_DISPENSER).code
        clock.now = T0 + timedelta(hours=3, minutes=12)
        await pilot.press("f3")
        app.focused.post_message(events.Paste(code))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("1", "shift+tab", "5", "enter")  # £5 cash now ...
        await settle(pilot)
        await pilot.press("2")  # ... and the rest by card, about to be taken
        app.main_screen.load_figures()  # today's revenue now, not whenever the 5 s refresh falls
        await settle(pilot)
        still(app)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)


def test_shift_close_count_up(snapshot_console, snap_compare):
    build, clock, engine = snapshot_console

    async def run_before(pilot):
        app = pilot.app
        await log_in_with_a_shift(pilot, engine)
        service = app.service
        for plate, method in (("CA5HONE", "cash"), ("CA4DTWO", "card"), ("UP1THREE", "upi")):
            code = service.enter(plate, "car", actor=TICKET_DISPENSER).code
            clock.now += timedelta(hours=1, minutes=10)
            service.exit(code, method=method, actor=app.actor, lane="X1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        # £50 x 2, £1 x 5, 10p x 1: £105.10 of the £104.80 expected, so the table shows cash over
        await pilot.press("2", "down", "down", "down", "down", "down", "5", "down", "down", "down", "1")
        # the card and UPI terminals' batch totals, typed (never pre-filled), then the blind count entered
        screen = app.screen
        for method in ("card", "upi"):
            screen.query_one(f"#other-{method}").focus()
            await pilot.press(*to_major_str(screen.expected[method], "GBP"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        still(app)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)
