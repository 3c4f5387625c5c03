"""The console as the CLI starts it: its layout painted first, the facility opened after (issue 12 item 10).

:func:`attendant.tui.app.deferred_app` builds what ``attendant`` and
``attendant demo`` run: the first screen is the main screen's layout in a
loading state (no database touched yet); the opening runs in a thread after
that paint, then the main screen takes over and the lanes work. The opening
here waits on an event the test sets, so the loading state is seen for
certain, not by luck of timing. A failed opening ends the app with its error
(the CLI reports it once the terminal is back); quitting while the facility
opens leaves at once.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from attendant.core.errors import InputError
from attendant.tui.app import deferred_app
from attendant.tui.screens.loading import OPENING, LoadingScreen
from db.models import ParkingSession
from tests.tui.support import FACILITY, SIZE, demo_lanes, pilot_test, until

PS = ParkingSession.__table__


def gated_source(engine, gate: threading.Event, calls: list):
    """A source that opens ``engine`` once ``gate`` is set (recording the thread it ran on)."""

    def source():
        calls.append(threading.current_thread().name)
        assert gate.wait(30)
        return engine, demo_lanes()

    return source


def panel_texts(screen) -> dict[str, tuple[str, str]]:
    return {w.id: (str(w.border_title or ""), str(w.render())) for w in screen.query(".panel")}


@pilot_test
async def test_the_layout_paints_in_a_loading_state_then_the_lane_works(engine):
    gate, calls = threading.Event(), []
    app = deferred_app(gated_source(engine, gate, calls), facility_code=FACILITY, title=FACILITY, timers=False,
                       setup_note="the demo runs without logins")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: calls)  # the opening started (after the first paint), and waits
        assert calls == ["console-open"]  # in its thread, not on the UI's
        screen = app.screen
        assert isinstance(screen, LoadingScreen) and not app.opened
        assert OPENING in str(screen.query_one("#facility-bar").render())
        panels = panel_texts(screen)
        assert {title for title, _ in panels.values()} == {"Levels", "Devices", "Availability (free bays)", "Entry",
                                                           "Exit", "Lanes"}  # the main screen's regions
        assert panels["map"][1] == "Loading the level maps…"
        await pilot.press("f2", "a")  # nothing to enter into yet: ignored, nothing raised
        gate.set()
        await until(pilot, lambda: app.opened and app.screen is app.main_screen and app.main_screen.loaded)
        assert "Charlotte Street CP" in str(app.screen.query_one("FacilityBar").render())
        assert app.notes == ("the demo runs without logins",)  # no users in the demo copy: said on screen
        assert any("without logins" in str(n.message) for n in app._notifications)
        await pilot.press("f2", *"KE11 PNT", "enter")
        await until(pilot, lambda: "Ticket" in str(app.screen.query_one("#entry-result").render()))
        result = str(app.screen.query_one("#entry-result").render())
    assert "KE11" in result and "PNT" in result, result
    with engine.connect() as conn:  # the ticket is in the database (plates are stored encrypted)
        assert conn.execute(select(func.count()).where(PS.c.status == "open")).scalar_one() == 1


@pilot_test
async def test_a_failed_opening_ends_the_console_with_its_error(engine):
    def source():
        raise InputError("no facility in sqlite:///nowhere.db yet")

    app = deferred_app(source, timers=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.open_error is not None)
        await pilot.pause()
    assert isinstance(app.open_error, InputError) and "no facility" in str(app.open_error)
    assert app.return_code == 2 and not app.opened


@pilot_test
async def test_quitting_while_the_facility_opens_leaves_at_once(engine):
    gate, calls = threading.Event(), []
    app = deferred_app(gated_source(engine, gate, calls), timers=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: calls)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and not app.opened and app.open_error is None
    gate.set()  # the opening thread finishes after the app and closes what it opened


@pilot_test
async def test_with_users_the_opened_console_asks_for_a_login(staffed_engine):
    from attendant.tui.screens.login import LoginScreen

    app = deferred_app(lambda: (staffed_engine, demo_lanes()), facility_code=FACILITY, timers=False,
                       setup_note="the demo runs without logins")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.login_required and app.actor is None
        assert app.notes == ()  # users exist: the setup note is not shown
        assert app.screen_stack == [app.main_screen, app.screen]  # the login over the main screen, nothing else
