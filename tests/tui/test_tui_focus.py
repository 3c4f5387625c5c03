"""Focus you can see and Tab that stays in the form (issue 12, item 2), and the small-terminal map.

Real console on the demo database, driven by keys in Textual's pilot; the
assertions read the computed styles of the focused widget and the characters
on screen.
"""

from __future__ import annotations

from textual.color import Color
from textual.widgets import Input

from attendant.tui.widgets.exit_form import ExitForm
from attendant.tui.widgets.pickers import Flag, KeyChoice
from tests.tui.support import T0, console, enter_by_keys, keys, pilot_test, settle
from themes import THEMES


def screen_text(app) -> str:
    return "\n".join(line.text for line in app.screen._compositor.render_strips())


def inside(widget, container_id: str) -> bool:
    return any(a.id == container_id for a in widget.ancestors_with_self)


@pilot_test
async def test_every_form_field_shows_a_focus_bar_in_the_theme_accent(engine, clock):
    app = console(engine, clock, actor="focus-test")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        for theme in THEMES:  # dark, light, high-contrast
            app.theme = theme
            await pilot.press("f2")
            await settle(pilot)
            accent = Color.parse(app.current_theme.accent)
            seen = set()
            for _ in range(4):  # plate, EV, accessible, class
                widget = app.focused
                assert isinstance(widget, (Input, Flag, KeyChoice)), widget
                edge, colour = widget.styles.border_left
                assert edge == "outer", (theme, widget, edge)
                assert all(abs(a - b) <= 2 for a, b in zip(colour.rgb, accent.rgb)), (theme, widget, colour)
                seen.add(type(widget))
                await pilot.press("tab")
                await settle(pilot)
                assert widget.styles.border_left[0] in ("", "none"), widget  # the bar follows focus
            assert seen == {type(app.screen.query_one("#entry-plate")), Flag, KeyChoice}


@pilot_test
async def test_a_ticked_flag_keeps_its_box(engine, clock):
    app = console(engine, clock, actor="focus-test")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("f2", "tab", "space")  # EV ticked
        await settle(pilot)
        assert app.screen.query_one("#entry-ev", Flag).value is True
        assert "[x] EV" in screen_text(app)
        assert "[ ] Accessible" in screen_text(app)


@pilot_test
async def test_tab_cycles_within_the_active_form(engine, clock):
    app = console(engine, clock, actor="focus-test")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "TB12TAB")
        code = app.open_tickets()[-1][0]
        clock.now = T0.replace(hour=12)
        await pilot.press("f3", *keys(code), "enter")
        await settle(pilot)
        await pilot.press("1")  # cash: focus on Tendered
        await settle(pilot)
        assert app.focused.id == "exit-tendered"
        visited = []
        for _ in range(5):
            await pilot.press("tab")
            visited.append(app.focused.id)
            assert inside(app.focused, "exit-form"), app.focused  # never the map or the entry form
        assert visited == ["exit-code", "exit-method", "exit-amount", "exit-tendered", "exit-code"]
        await pilot.press("shift+tab")
        assert app.focused.id == "exit-tendered"
        form = app.screen.query_one(ExitForm)
        assert form.checkout is not None  # Tab did not restart the lookup
        await pilot.press("f2")
        for _ in range(5):
            await pilot.press("tab")
            assert inside(app.focused, "entry-form"), app.focused


@pilot_test
async def test_small_terminal_shows_the_map_on_f7_and_the_forms_on_f2(engine, clock):
    app = console(engine, clock, actor="focus-test")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert not screen.query_one("#left").display or screen.query_one("#left").region.width == 0
        await pilot.press("f7")
        await settle(pilot)
        assert screen.query_one("#left").region.width == 80
        assert screen.query_one("#right").region.width == 0
        assert "Ground" in screen_text(app)
        await pilot.press("f2")
        await settle(pilot)
        assert screen.query_one("#right").region.width == 80
        assert app.focused.id == "entry-plate"
        await pilot.press("f7")
        await settle(pilot)
        assert screen.query_one("#right").region.width == 0
        await pilot.press("escape")  # back to the forms too
        await settle(pilot)
        assert screen.query_one("#right").region.width == 80
        assert app.focused.id == "entry-plate"
