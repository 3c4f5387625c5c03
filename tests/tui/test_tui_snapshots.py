"""SVG snapshots of the console's screens (pytest-textual-snapshot's ``snap_compare``).

Every snapshot is made under fixed conditions: a fresh demo database, a fixed
ticket secret (so ticket codes are the same on every run), a fixed facility
clock, gates that do not close by themselves during the test, a 160x50
terminal, no replay, and no blinking cursor. After an
intentional change: ``pytest tests/test_tui_snapshots.py --snapshot-update``,
then look at the SVGs in ``tests/__snapshots__/test_tui_snapshots/`` before
accepting them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual import events
from textual.widgets import Input

from attendant.booth import EntryRequest, ExitRequest, Tender
from tests.tui.support import SIZE, T0, Clock, console, still_gates_config
from tests.tui.support import settle as settle_queues

SECRET = "5e" * 32  # a fixed ticket secret: the codes on screen never change


@pytest.fixture
def snapshot_console(tmp_path, monkeypatch, engine):
    """A factory of apps on a fresh demo database with a fixed secret and clock."""
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    clock = Clock()

    def build(theme: str | None = None):
        return console(engine, clock, still_gates_config(), theme=theme, actor="snapshot")

    yield build, clock


def still_cursors(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


async def settle(pilot) -> None:
    """The work the test caused, done; then the top bar shows the clock as the timers would have."""
    await settle_queues(pilot)
    if pilot.app.main_screen.is_mounted:
        pilot.app.main_screen.tick()
    await settle_queues(pilot)
    still_cursors(pilot.app)  # inputs mounted meanwhile (e.g. after a payment) must not blink either
    await pilot.pause()


async def admit(pilot, *plates_and_classes: tuple[str, int]) -> None:
    """Issue tickets by keys: (plate, class steps from car: +1 van, -1 motorcycle)."""
    still_cursors(pilot.app)
    await settle(pilot)
    for plate, steps in plates_and_classes:
        moves = ["down"] * steps if steps > 0 else ["up"] * -steps
        await pilot.press("f2", *plate, *moves, "enter")
        await settle(pilot)


async def to_exit(pilot, clock: Clock) -> None:
    """Three vehicles in; the first one at the exit 3 h 12 min later, paying cash with £20."""
    await admit(pilot, ("AB12CDE", 0), ("VA11NNN", 1), ("MC07BKE", -1))
    code = pilot.app.open_tickets()[-1][0]
    clock.now = T0 + timedelta(hours=3, minutes=12)
    await pilot.press("f3")
    pilot.app.focused.post_message(events.Paste(code))
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("1", "2", "0")
    await settle(pilot)


def test_main_screen_after_an_entry(snapshot_console, snap_compare):
    build, _clock = snapshot_console

    async def run_before(pilot):
        await admit(pilot, ("AB12CDE", 0), ("VA11NNN", 1))

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)


def test_exit_screen_with_fee_breakdown(snapshot_console, snap_compare):
    build, clock = snapshot_console

    async def run_before(pilot):
        await to_exit(pilot, clock)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)


def test_exit_paid_light_theme(snapshot_console, snap_compare):
    build, clock = snapshot_console

    async def run_before(pilot):
        await to_exit(pilot, clock)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(build("light"), terminal_size=SIZE, run_before=run_before)


def test_exit_screen_high_contrast_theme(snapshot_console, snap_compare):
    build, clock = snapshot_console

    async def run_before(pilot):
        await to_exit(pilot, clock)

    assert snap_compare(build("high-contrast"), terminal_size=SIZE, run_before=run_before)


def test_printout_dialog(snapshot_console, snap_compare):
    build, _clock = snapshot_console

    async def run_before(pilot):
        await admit(pilot, ("AB12CDE", 0))
        await pilot.press("f10")
        await settle(pilot)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)


def test_main_screen_with_a_faulted_device(snapshot_console, snap_compare):
    """Device health: E1's gate in fault and its printer out of paper; a vehicle
    admitted by plate (its ticket queued for a reprint); then an unsure camera
    read waiting for the attendant's confirmation."""
    import asyncio

    from hardware.base import DeviceState

    build, _clock = snapshot_console
    app = build()
    app.device_hub.monitor = False  # polled by the test only: the picture never changes under it

    async def run_before(pilot):
        lanes = pilot.app.booth.lanes
        devices = pilot.app.booth.devices(lanes["E1"])
        devices.gate.set_fault("barrier controller reports a fault")
        devices.printer.simulate(DeviceState.PAPER_OUT)
        await asyncio.to_thread(pilot.app.device_hub.poll, wait=True)
        await admit(pilot, ("PA93R", 0))
        await asyncio.to_thread(pilot.app.device_hub.poll, wait=True)
        devices.camera.push("A812CDE", 0.72)
        devices.camera.wait_idle(2.0)
        form = pilot.app.screen.query_one("#entry-form")
        for _ in range(100):
            if form.read is not None:
                break
            await pilot.pause(0.02)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_weekly_report_screen(snapshot_console, snap_compare):
    """ctrl+b, w: the week's totals, its days and occupancy by hour (stays made at the booth's lanes)."""
    build, clock = snapshot_console

    async def run_before(pilot):
        booth = pilot.app.booth
        monday = T0 - timedelta(days=5)  # Mon 16 Nov 09:30 UTC
        for n, (hours_in, stay_hours, method) in enumerate(((0, 3, "cash"), (1, 26, "card"), (2, 5, "card"))):
            entry = booth.enter(EntryRequest(f"WK{n}0 REP", at=monday + timedelta(hours=hours_in)), actor="snapshot")
            tender = Tender(method, tendered=5000 if method == "cash" else None)
            booth.exit(ExitRequest(entry.entry.code, (tender,), at=monday + timedelta(hours=hours_in + stay_hours)),
                       actor="snapshot")
        booth.enter(EntryRequest("VN55 INS", "van", at=T0 - timedelta(hours=2)), actor="snapshot")
        await settle(pilot)
        await pilot.press("ctrl+b", "w")
        await settle(pilot)

    assert snap_compare(build(), terminal_size=SIZE, run_before=run_before)
