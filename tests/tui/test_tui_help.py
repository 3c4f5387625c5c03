"""F1 help and the confirmations before quitting or logging out with work open (issue 12 item 3)."""

from __future__ import annotations

import pytest

from attendant.core import shifts, users
from attendant.tui.dialogs import ConfirmDialog
from attendant.tui.screens.login import LoginScreen
from tests.tui.conftest import PINS
from tests.tui.support import console, keys, pilot_test, settle

SIZE = (160, 50)


@pytest.fixture
def engine(staffed_engine):
    return staffed_engine


async def login(pilot, username: str) -> None:
    await pilot.press(*keys(username), "enter", *PINS[username], "enter")
    await settle(pilot)


def open_shift_for(app, username: str) -> None:  # as the shift screen's "o" does, through the service
    service = app.service
    shifts.open_shift(service.engine, service.facility.id, users.get_user(service.engine, username).actor(), 10000,
                      at=service.clock())


def help_text(app) -> str:
    from textual.widgets import HelpPanel
    from textual.widgets._key_panel import BindingsTable

    panel = app.screen.query_one(HelpPanel)
    return str(panel.query_one(BindingsTable).render_bindings_table().columns[1]._cells) + " " + \
        str(panel.query_one(BindingsTable).render_bindings_table().columns[0]._cells)


@pilot_test
async def test_f1_lists_every_key_of_the_screen_shown_or_not_and_f1_hides_it(engine, clock):
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, "bob")
        await pilot.press("f1")
        await settle(pilot)
        listed = help_text(app)
        for what in ("Lost ticket", "Corrections", "Help", "Reports", "Entry", "Exit"):  # Corrections: not in the footer
            assert what in listed, what
        assert "f11" in listed.lower() or "F11" in listed
        await pilot.press("f1")
        await settle(pilot)
        assert not app.screen.query("HelpPanel")


@pilot_test
async def test_quitting_with_a_shift_open_asks_first(engine, clock):
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, "bob")
        open_shift_for(app, "bob")
        app.set_shift(shifts.current_shift(app.service.engine, app.service.facility.id, app.actor.user_id))
        await settle(pilot)
        assert app.shift is not None
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "shift" in str(app.screen.query_one("#confirm-text").render()).lower()
        await pilot.press("escape")  # back: still running, still logged in
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog) and app.return_code is None and app.actor is not None
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen) and app.actor is None
        await pilot.press("ctrl+q")  # nobody logged in, nothing on the exit form: quits at once
        await pilot.pause()
    assert app.return_code == 0


@pilot_test
async def test_without_open_work_ctrl_q_quits_at_once(engine, clock):
    app = console(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, "bob")
        assert app.shift is None
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


@pilot_test
async def test_ctrl_s_without_users_says_shifts_need_a_user_and_how_to_add_one(demo_template, tmp_path, clock):
    from db.engine import make_engine
    from tests.conftest import copy_database

    engine = make_engine(copy_database(demo_template, tmp_path / "no_users.db"))  # the demo: no staff users
    try:
        app = console(engine, clock)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.user is None
            await pilot.press("ctrl+s")
            await settle(pilot)
            said = [n.message for n in app._notifications if n.title == "No shifts without users"]
            assert said and "no_users.db user add NAME --role admin" in said[0]
            assert app.screen is app.main_screen  # no shift screen to open
    finally:
        engine.dispose()
