"""The shift screen's footer at 80 columns: every key shown is whole, ``f1 Help`` stands for the rest, F1 lists them all.

Issue 12 (checked in tmux at 80x24): the shift screen's footer was cut at
"... Settle IOUs l" for an attendant, the app's keys and the supervisor's
office keys off screen. The screen now sets ``FOOTER_FITS`` (short labels,
its own keys first, ``f1 Help`` when some are left out:
attendant/tui/widgets/footer.py); F1's help keeps every key with its full
description.
"""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from attendant.core import shifts, users
from tests.tui.conftest import PINS
from tests.tui.support import console, keys, pilot_test, settle
from tests.tui.test_tui_help import help_text


@pytest.fixture
def engine(staffed_engine):
    return staffed_engine


async def shift_screen(pilot, username: str) -> None:
    app = pilot.app
    await pilot.press(*keys(username), "enter", *PINS[username], "enter")
    await settle(pilot)
    service = app.service
    shifts.open_shift(service.engine, service.facility.id, users.get_user(service.engine, username).actor(), 10000,
                      at=service.clock())
    await pilot.press("ctrl+s")
    await settle(pilot)
    assert app.screen.id == "shift"


def footer_line(app) -> str:
    return app.screen._compositor.render_strips()[-1].text


def footer_keys(app) -> list[FooterKey]:
    return [key for key in app.screen.query(FooterKey) if key.display]


@pytest.mark.parametrize(("username", "shown", "left_out"), [
    ("bob", ["esc Lanes", "d Drop", "c Close", "p Print", "i IOUs", "l Lists", "^q Quit"],
     ["Theme", "Log out", "Reports"]),
    ("sue", ["esc Lanes", "d Drop", "c Close", "p Print", "i IOUs", "l Lists", "r Refund"],
     ["New validation", "Close other shift", "Bay out/in", "Unlock user", "Quit", "Theme", "Log out", "Reports"]),
], ids=["attendant", "supervisor"])
def test_shift_footer_fits_80_columns_and_f1_lists_the_rest(engine, clock, username, shown, left_out):
    @pilot_test
    async def run():
        app = console(engine, clock)
        async with app.run_test(size=(80, 24)) as pilot:
            await shift_screen(pilot, username)
            line = footer_line(app)
            assert line.rstrip().endswith("▏^p palette")
            assert " ".join(shown) + " f1 Help" in line  # whole keys, in order, then the key to the rest
            for key in footer_keys(app):  # no key overlaps the palette or runs off the screen
                palette = next(k for k in footer_keys(app) if k.has_class("-command-palette"))
                assert key.region.right <= 80
                assert key is palette or key.region.right <= palette.region.x
            await pilot.press("f1")
            await settle(pilot)
            listed = help_text(app)
            for description in ("Cash drop", "Close & count", "Print report", "Settle IOUs", "Lists", *left_out):
                assert description in listed, description

    run()


def test_shift_footer_on_a_wide_terminal_shows_every_key(engine, clock):
    @pilot_test
    async def run():
        app = console(engine, clock)
        async with app.run_test(size=(200, 55)) as pilot:
            await shift_screen(pilot, "sue")
            line = footer_line(app)
            for key in ("u Unlock", "b Bays", "x Close other", "v Validation", "^b Reports", "^y Log out"):
                assert key in line, key
            assert "f1 Help" not in line  # nothing left out

    run()
