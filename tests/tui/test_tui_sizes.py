"""The console at three terminal sizes: 80x24, 120x40 and 200x55 (SVG snapshots, pytest-textual-snapshot).

Issue 12: every flow must fit 80x24. The layout adapts by the app's breakpoints
(``AttendantApp.HORIZONTAL_BREAKPOINTS`` / ``VERTICAL_BREAKPOINTS``, rules in
``themes/console.tcss``): the map and the availability table give way to a
summary line, and on a terminal under 30 rows the form not in use shrinks to
its first field. Made under the fixed conditions of ``test_tui_snapshots.py``
(fresh demo database, fixed ticket secret and clock, no replay, no blinking
cursor). Besides the pictures, the tests assert what must be on screen: the
entry's bay, and the exit's fee, methods, tendered field and change.
After an intentional change: ``pytest tests/tui/test_tui_sizes.py --snapshot-update``,
then look at the SVGs before accepting them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual import events
from textual.widgets import Input

from attendant.core import shifts, users
from tests.tui.support import T0, Clock, console, still_gates_config
from tests.tui.support import settle as settle_queues

SECRET = "5e" * 32  # a fixed ticket secret: the codes on screen never change
SIZES = [(80, 24), (120, 40), (200, 55)]
SIZE_IDS = ["80x24", "120x40", "200x55"]


@pytest.fixture
def build(tmp_path, monkeypatch, engine):
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    clock = Clock()
    return lambda: console(engine, clock, still_gates_config(), actor="snapshot"), clock


@pytest.fixture
def build_staffed(tmp_path, monkeypatch, staffed_engine):
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    clock = Clock()
    return lambda: console(staffed_engine, clock, still_gates_config()), clock, staffed_engine


def still(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False
    app.clear_notifications()


async def settle(pilot) -> None:
    await settle_queues(pilot)
    if pilot.app.main_screen.is_mounted:
        pilot.app.main_screen.tick()
    await settle_queues(pilot)
    still(pilot.app)
    await pilot.pause()


def visible(widget) -> bool:
    """The widget is displayed and lies inside the terminal (not cut off, not scrolled away)."""
    region = widget.region
    width, height = widget.app.size
    return widget.display and region.width > 0 and region.height > 0 and region.right <= width \
        and region.bottom <= height


def screen_text(app) -> str:
    """The characters on the terminal now (what the attendant reads)."""
    return "\n".join(line.text for line in app.screen._compositor.render_strips())


async def admit(pilot, *plates: str) -> None:
    still(pilot.app)
    await settle(pilot)
    for plate in plates:
        await pilot.press("f2", *plate, "enter")
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_main_screen_after_an_entry(build, snap_compare, size):
    make, _clock = build

    async def run_before(pilot):
        await admit(pilot, "AB12CDE", "VA11NNN")
        text = screen_text(pilot.app)
        assert "Ticket 00000002" in text and "bay" in text
        assert visible(pilot.app.screen.query_one("#entry-result"))

    assert snap_compare(make(), terminal_size=size, run_before=dumped(run_before, size))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_exit_with_a_fee_on_screen(build, snap_compare, size):
    make, clock = build

    async def run_before(pilot):
        await admit(pilot, "AB12CDE", "VA11NNN")
        code = pilot.app.open_tickets()[-1][0]
        clock.now = T0 + timedelta(hours=3, minutes=12)
        await pilot.press("f3")
        pilot.app.focused.post_message(events.Paste(code))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("1", "2", "0")  # cash, £20 tendered
        await settle(pilot)
        screen = pilot.app.screen
        for selector in ("#exit-fee", "#exit-method", "#exit-tendered", "#exit-change", "#exit-code"):
            assert visible(screen.query_one(selector)), selector
        text = screen_text(pilot.app)
        assert "Balance due" in text and "Tendered" in text and "change" in text.lower()
        assert "7 account" in text  # every method on screen (wrapped if need be)

    assert snap_compare(make(), terminal_size=size, run_before=dumped(run_before, size))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_shift_close(build_staffed, snap_compare, size):
    make, clock, engine = build_staffed

    async def run_before(pilot):
        app = pilot.app
        bob = users.get_user(engine, "bob").actor()
        shifts.open_shift(engine, app.service.facility.id, bob, 10000, at=T0)
        await settle(pilot)
        await pilot.press(*"bob", "enter", *"135713", "enter")
        await settle(pilot)
        code = app.service.enter("CA5HONE", "car", actor=app.actor).code
        clock.now += timedelta(hours=1, minutes=10)
        app.service.exit(code, method="cash", actor=app.actor, lane="X1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("2", "down", "down", "down", "down", "down", "5")
        await pilot.pause()
        still(app)
        screen = app.screen
        for selector in ("#count-grid", "#count-table"):
            assert screen.query_one(selector).region.width > 0, selector

    assert snap_compare(make(), terminal_size=size, run_before=dumped(run_before, size))


def dumped(run_before, size):
    """``run_before``, then (when ATTENDANT_SCREEN_DUMPS names a folder) the screen's text written
    there as ``<test>_<W>x<H>.txt``, to read the pictures without an SVG viewer."""
    import inspect
    import os

    name = inspect.stack()[1].function
    folder = os.environ.get("ATTENDANT_SCREEN_DUMPS")

    async def run(pilot):
        await run_before(pilot)
        await pilot.pause()
        if folder:
            _write(os.path.join(folder, f"{name}_{size[0]}x{size[1]}.txt"), screen_text(pilot.app))

    return run


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def test_a_device_fault_shows_on_a_small_terminal(build):
    """At 80x24 the device panel is hidden: a printer out of paper shows on the devices line instead."""
    import asyncio

    from hardware.base import DeviceState
    from tests.tui.support import pilot_test

    make, _clock = build

    @pilot_test
    async def run():
        app = make()
        app.device_hub.monitor = False
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert not visible(app.screen.query_one("#devices-line"))  # all working: no line
            devices = app.booth.devices(app.booth.lanes["E1"])
            devices.printer.simulate(DeviceState.PAPER_OUT)
            await asyncio.to_thread(app.device_hub.poll, wait=True)
            await settle(pilot)
            line = app.screen.query_one("#devices-line")
            assert visible(line)
            assert "E1 printer paper out" in screen_text(app)

    run()


def test_a_camera_read_unfolds_the_entry_form_on_a_low_terminal(build):
    """At 80x24 with the exit form in use but empty, the entry camera's unsure read unfolds the entry
    form, so its "confirm plate" note is on screen."""
    from tests.tui.support import pilot_test

    make, _clock = build

    @pilot_test
    async def run():
        app = make()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("f3")
            await settle(pilot)
            assert app.screen.query_one("#entry-form").region.height == 3  # folded to its plate
            devices = app.booth.devices(app.booth.lanes["E1"])
            devices.camera.push("A812CDE", 0.72)
            devices.camera.wait_idle(2.0)
            form = app.screen.query_one("#entry-form")
            for _ in range(100):
                if form.read is not None:
                    break
                await pilot.pause(0.02)
            await settle(pilot)
            assert visible(app.screen.query_one("#entry-read"))
            assert "confirm plate" in screen_text(app)

    run()


def test_the_availability_line_fits_its_width_without_cutting_a_level() -> None:
    from attendant.tui.screens.main import availability_line
    from attendant.tui.widgets.availability import LevelCounts

    counts = [LevelCounts(level_id=i, code=f"L{i}", name=f"Level {i}", free=free, capacity=176, by_type={})
              for i, free in enumerate([87, 149, 155, 153, 176, 176])]
    assert availability_line(counts, 100) == "Free  L0 87/176  L1 149/176  L2 155/176  L3 153/176  L4 176/176  L5 176/176"
    assert availability_line(counts, 72) == "Free  L0 87  L1 149  L2 155  L3 153  L4 176  L5 176"  # capacities go
    assert availability_line(counts, 47) == "Free L0 87 L1 149 L2 155 L3 153 L4 176 L5 176"
    narrow = availability_line(counts, 30)
    assert narrow == "Free L0 87 L1 149 L2 155 …" and len(narrow) <= 30  # whole levels, then …
