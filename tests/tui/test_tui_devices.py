"""Pilot tests of the console's device features: health, faults, reprints, plate reads, scans.

Every test runs the app :func:`attendant.tui.app.make_app` builds (the CLI's
wiring) on a real SQLite file holding the demo facility, with the demo's real
stand-in devices (printer, simulated gate, scanner, camera: their own
threads), a fixed facility clock and no replay. The device hub's monitor
thread is switched off so each test decides when the devices are polled
(``poll``: the hub's own poll, on a thread, then the messages it posted are
handled); nothing sleeps for a fixed time except where a device's own timer is
what is tested (a limit switch that never confirms).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta

from textual import events
from textual.keys import _character_to_key

from attendant.core.personal_data import site_data
from attendant.core.auth import Actor, Role
from attendant.demo import demo_config
from attendant.tui.devices import DeviceHub
from attendant.tui.widgets.level_map import LevelMapView
from db.models import ParkingSession, Payment
from hardware.base import DeviceState, DeviceStatus
from tests.tui.support import SIZE, code_of, console, plate_of, enter_by_keys, keys, pilot_test, rows, scan, settle, text_of, until

PS, PAY = (t.__table__ for t in (ParkingSession, Payment))
ACTOR = "devices-test"


def build(engine, clock, config=None):
    app = console(engine, clock, config, actor=ACTOR)
    app.device_hub.monitor = False  # the test polls (DeviceHub.poll) when it wants to
    return app


def devices(app, lane: str):
    return app.booth.devices(app.booth.lanes[lane])


def wedge(app, code: str) -> None:
    """A keyboard-wedge scanner: the whole code and its Enter arrive at once, all
    queued before the console handles the first key (as a terminal delivers a burst)."""
    for ch in code:
        app.post_message(events.Key(_character_to_key(ch), ch))
    app.post_message(events.Key("enter", "\r"))


async def poll(pilot) -> None:
    """One health poll by the hub (on a thread, as its monitor does), then its messages handled."""
    await asyncio.to_thread(pilot.app.device_hub.poll, wait=True)
    await settle(pilot)


def notes(app, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications if severity is None or n.severity == severity]



async def exit_by_keys(pilot, code: str) -> None:
    """F3, the code (pasted, as a burst), Enter: the fee; Enter again pays it in cash, exact."""
    await scan(pilot, code)
    await pilot.press("enter")
    await settle(pilot)


# ------------------------------------------------------------------ a faulted gate
@pilot_test
async def test_faulted_gate_is_shown_while_other_lanes_keep_processing(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "E1  printer ✓ ok" in text_of(app, "#devices")
        gate = devices(app, "E1").gate
        gate.set_fault("loop detector wire cut")
        await poll(pilot)

        health = text_of(app, "#devices")
        assert "gate ✗ faulted" in health
        assert "✗ E1 gate faulted since 09:30:00 · loop detector wire cut" in health
        assert "✗ 1 needs attention" in str(app.screen.query_one("#devices").border_subtitle)
        assert "gate ✗ FAULT loop detector wire cut" in text_of(app, "#lanes")
        assert any("E1 gate: faulted" in m for m in notes(app, "error"))
        # a second poll with nothing new: no second alert
        await poll(pilot)
        assert sum("E1 gate" in m for m in notes(app, "error")) == 1

        # the attendant moves to entry lane E2 (ctrl+l): its gate works, the vehicle is admitted
        await pilot.press("ctrl+l")
        assert "E2 Entry 2" in str(app.screen.query_one("#entry-form").border_title)
        await enter_by_keys(pilot, "GA7E 0K")
        (session,) = rows(engine, PS)
        assert (plate_of(session), session.entry_lane, session.status) == ("GA7E0K", "E2", "open")
        assert "gate opened" in text_of(app, "#entry-result")

        # and the exit lane X1 lets it out
        clock.now += timedelta(hours=1, minutes=5)
        await exit_by_keys(pilot, code_of(session))
        (closed,) = rows(engine, PS)
        assert (closed.status, closed.exit_lane) == ("closed", "X1")
        (payment,) = rows(engine, PAY)
        assert payment.status == "completed" and payment.amount > 0

        # E1 is still shown faulted; clearing the fault shows it working again
        assert "gate ✗ faulted" in text_of(app, "#devices")
        gate.clear_fault()
        await poll(pilot)
        assert "gate ▬ closed" in text_of(app, "#devices").splitlines()[0]
        assert any("E1 gate: ok again" in m for m in notes(app, "information"))


# ------------------------------------------------------------ printer out of paper
@pilot_test
async def test_paper_out_admits_by_plate_queues_the_ticket_and_prints_it_when_back(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        printer = devices(app, "E1").printer
        printer.simulate(DeviceState.PAPER_OUT)
        await poll(pilot)
        assert "printer ✗ paper out" in text_of(app, "#devices")
        assert any("E1 printer: paper out" in m for m in notes(app, "error"))
        assert "ticketless entry by plate, ticket queued for reprint" in text_of(app, "#entry-printer")

        await enter_by_keys(pilot, "PA9 3R")
        (session,) = rows(engine, PS)
        ticket_no = f"{session.ticket_no:08d}"
        assert session.status == "open" and plate_of(session) == "PA93R"  # admitted all the same
        assert list(app.booth.reprint_queue["E1"]) == [ticket_no]
        result = text_of(app, "#entry-result")
        assert "NOT PRINTED" in result and "entered by plate (ticketless)" in result and "1 waiting" in result
        assert "paper out" in result
        assert "ticket queued · ⎙ 1 (^O)" in text_of(app, "#entry-printer")
        assert not any(code_of(session) in job.text for job in printer.jobs)
        await poll(pilot)
        assert "⎙ E1 1 ticket to reprint" in text_of(app, "#devices")
        assert "⎙ 1 to reprint" in text_of(app, "#lanes")

        # still out of paper: the retry fails and the ticket stays queued
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert list(app.booth.reprint_queue["E1"]) == [ticket_no]
        assert any("still waiting" in m for m in notes(app, "error"))

        # paper back: the console says so, and ctrl+o prints the queued ticket
        printer.simulate(DeviceState.OK)
        await poll(pilot)
        assert any("E1 printer: ok again" in m and "1 queued ticket" in m for m in notes(app, "information"))
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert list(app.booth.reprint_queue["E1"]) == []
        assert printer.jobs[-1].kind == "ticket" and code_of(session) in printer.jobs[-1].text
        assert "PA93R" in app.screen.last_printout[1]
        await poll(pilot)
        assert "to reprint" not in text_of(app, "#devices")

        # reprint the last ticket (ctrl+r) and one by its number (ctrl+t)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len([j for j in printer.jobs if code_of(session) in j.text]) == 2
        await pilot.press("ctrl+t", *str(session.ticket_no), "enter")
        await settle(pilot)
        assert len([j for j in printer.jobs if code_of(session) in j.text]) == 3
        await pilot.press("ctrl+t", "9", "9", "9", "enter")
        await settle(pilot)
        assert any("999 not reprinted" in m and "no ticket 00000999" in m for m in notes(app, "error"))


# ------------------------------------------------------------------- plate reads
@pilot_test
async def test_a_low_confidence_read_must_be_confirmed_before_the_ticket_issues(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        camera = devices(app, "E1").camera
        form = app.screen.query_one("#entry-form")
        camera.push("AB12CDE", 0.72)
        assert camera.wait_idle(2.0)
        await until(pilot, lambda: form.read is not None)
        assert app.screen.query_one("#entry-plate").value == "AB12CDE"
        assert "confirm plate (72%)" in text_of(app, "#entry-read")
        assert "read AB12CDE 72%" in text_of(app, "#lanes")

        await pilot.press("f2", "enter")  # Enter confirms; nothing is issued yet
        await settle(pilot)
        assert rows(engine, PS) == []
        assert "plate confirmed" in text_of(app, "#entry-read")
        await pilot.press("enter")  # the next Enter issues
        await settle(pilot)
        (session,) = rows(engine, PS)
        assert (plate_of(session), session.entry_lane) == ("AB12CDE", "E1")
        assert text_of(app, "#entry-read") == ""

        # a confident read issues at the first Enter
        camera.push("XY34ZZZ", 0.95)
        await until(pilot, lambda: form.read == ("XY34ZZZ", 0.95))
        assert "camera read 95%" in text_of(app, "#entry-read")
        await pilot.press("enter")
        await settle(pilot)
        assert len(rows(engine, PS)) == 2

        # an unsure read the attendant corrects is the attendant's plate: no confirmation
        camera.push("L0W8EAD", 0.41)
        await until(pilot, lambda: form.read == ("L0W8EAD", 0.41))
        await pilot.press("f2", "backspace", "backspace", "backspace", "B", "A", "D", "enter")
        await settle(pilot)
        assert rows(engine, PS, PS.c.plate_hash == site_data().plate_index("L0W8BAD"))[0].status == "open"


@pilot_test
async def test_each_entry_lane_confirms_camera_reads_under_its_own_threshold(engine, clock):
    """``confirm_below`` of the console file: E1 (0.8) takes an 85 % read as it is; E2, with none of its
    own, asks under the console's 0.9 (attendant.core.plate_match.DEFAULT_CONFIRM_THRESHOLD)."""
    base = demo_config()
    config = replace(base, lanes=tuple(replace(lane, confirm_below=0.8) if lane.code == "E1" else lane
                                       for lane in base.lanes))
    app = build(engine, clock, config)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.screen.query_one("#entry-form")
        devices(app, "E1").camera.push("AB12CDE", 0.85)
        await until(pilot, lambda: form.read == ("AB12CDE", 0.85))
        assert "camera read 85%" in text_of(app, "#entry-read")
        await pilot.press("f2", "enter")  # issued at the first Enter
        await settle(pilot)
        assert [plate_of(s) for s in rows(engine, PS)] == ["AB12CDE"]

        await pilot.press("ctrl+l")  # the entry form moves to E2
        await settle(pilot)
        devices(app, "E2").camera.push("XY34ZZZ", 0.85)
        await until(pilot, lambda: form.read == ("XY34ZZZ", 0.85))
        assert "confirm plate (85%)" in text_of(app, "#entry-read")
        await pilot.press("f2", "enter")  # Enter confirms; nothing is issued yet
        await settle(pilot)
        assert len(rows(engine, PS)) == 1
        await pilot.press("enter")
        await settle(pilot)
        assert sorted(plate_of(s) for s in rows(engine, PS)) == ["AB12CDE", "XY34ZZZ"]


@pilot_test
async def test_a_confident_read_at_the_exit_loads_the_vehicle_by_plate(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "NO TKT1")
        (session,) = rows(engine, PS)
        clock.now += timedelta(hours=2)
        devices(app, "X1").camera.push("N0TKT1", 0.9)  # O read as 0: still the same vehicle
        form = app.screen.query_one("#exit-form")
        await until(pilot, lambda: form.checkout is not None)
        await settle(pilot)
        assert form.checkout.session.session_id == session.id
        assert "Total" in text_of(app, "#exit-fee")


@pilot_test
async def test_a_burst_of_plate_reads_is_coalesced(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        posted: list[str] = []
        post = app.device_hub._post_message

        def counting(message):
            posted.append(type(message).__name__)
            return post(message)

        app.device_hub._post_message = counting
        camera = devices(app, "E2").camera
        for n in range(40):
            camera.push(f"RD{n:03d}AA", 0.9)
        assert camera.wait_idle(2.0)
        await until(pilot, lambda: "read RD039AA 90%" in text_of(app, "#lanes"))
        batches = posted.count("DeviceEvents")
        assert 0 < batches < 40  # one message per batch, not per read


# -------------------------------------------------------------------- scanned codes
@pilot_test
async def test_a_stand_in_scanner_code_reaches_the_exit_form_and_quotes_the_fee(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "SC4N ME")
        (session,) = rows(engine, PS)
        clock.now += timedelta(hours=2, minutes=30)
        scanner = devices(app, "X1").scanner
        form = app.screen.query_one("#exit-form")

        scanner.push("GARBAGE-CODE\r\n")  # noise: refused on screen, nothing changes
        assert scanner.wait_idle(2.0)
        await until(pilot, lambda: "not a ticket, pass or validation" in text_of(app, "#exit-result"))
        assert form.checkout is None

        scanner.push(code_of(session) + "\r\n")
        await until(pilot, lambda: form.checkout is not None)
        await settle(pilot)
        assert form.checkout.session.session_id == session.id and form.checkout.fee.amount > 0
        assert "Total" in text_of(app, "#exit-fee")

        # a validation scanned while the ticket is on the form takes its value off
        code = app.service.create_validation(actor=Actor("sup", Role.SUPERVISOR), merchant="Cinema", kind="amount",
                                             value=200)
        scanner.push(code)
        await until(pilot, lambda: any(p.method == "validation" for p in rows(engine, PAY)))
        await settle(pilot)
        (validation,) = rows(engine, PAY, PAY.c.method == "validation")
        assert (validation.amount, validation.processor_ref, validation.status) == (200, code, "completed")
        assert rows(engine, PS)[0].status == "open"  # a validation alone lets nobody out

        # the entry lane's scanner does not reach the exit form
        devices(app, "E2").scanner.push(code_of(session))
        await until(pilot, lambda: any("E2 scanner read" in m for m in notes(app)))


@pilot_test
async def test_a_wedge_burst_never_leaks_into_the_plate_field(engine, clock):
    app = build(engine, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await enter_by_keys(pilot, "WEDGE1")
        (session,) = rows(engine, PS)
        clock.now += timedelta(minutes=40)
        form = app.screen.query_one("#exit-form")
        plate = app.screen.query_one("#entry-plate")

        # the attendant is typing the next plate when the exit scanner (a keyboard wedge) fires
        await pilot.press("f2", *keys("AB1"))
        wedge(app, code_of(session))
        await settle(pilot)
        assert plate.value == "AB1"  # nothing of the scan in the plate field
        assert form.checkout is not None and form.checkout.session.session_id == session.id
        assert len(rows(engine, PS)) == 1  # and no entry was issued

        # the same with the map focused: the code's digits do not jump levels
        form.action_clear()
        level_map = app.screen.query_one(LevelMapView)
        level_map.focus()
        await pilot.pause()
        level = level_map.current_level
        wedge(app, code_of(session))
        await settle(pilot)
        assert level_map.current_level == level
        assert form.checkout is not None and form.checkout.session.session_id == session.id

        # a pasted code in the plate field goes to the exit form too
        form.action_clear()
        await pilot.press("f2")
        app.focused.post_message(events.Paste(code_of(session)))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert plate.value == "AB1"
        assert form.checkout is not None and form.checkout.session.session_id == session.id


# ------------------------------------------------------------ hangs, failures, retries
@pilot_test
async def test_a_hung_printer_and_a_failed_camera_are_shown_and_retried(engine, clock):
    app = build(engine, clock)
    hub: DeviceHub = app.device_hub
    hub.probe_timeout = 0.2
    hub.retry_initial = 60.0
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        printer = devices(app, "E2").printer
        printer.poll_status = lambda timeout=None: (release.wait(10), printer.status())[1]  # a driver that hangs
        camera_lane = devices(app, "X2")
        camera_lane.camera.stop()
        camera_lane.faults["camera"] = DeviceStatus(DeviceState.FAULTED, "X2 camera: connection refused")
        try:
            await poll(pilot)
            health = text_of(app, "#devices")
            assert "E2 printer faulted" in health and "driver hung" in health
            assert "X2 camera faulted" in health and "connection refused" in health and "reopening in" in health
            assert "E1  printer ✓ ok" in health  # the other lanes are unaffected
            # the console keeps working meanwhile
            await enter_by_keys(pilot, "STI11 OK")
            assert rows(engine, PS)[0].entry_lane == "E1"
            # F12: reopen now
            await pilot.press("f12")
            await poll(pilot)
            assert "X2 camera faulted" not in text_of(app, "#devices")
            assert camera_lane.camera.running
            assert any("X2 camera: ok again" in m for m in notes(app, "information"))
        finally:
            release.set()
        await until(pilot, lambda: not hub._probes["E2"].running)
        await poll(pilot)
        assert "driver hung" not in text_of(app, "#devices")


# ------------------------------------------------------------- commanded vs confirmed
@pilot_test
async def test_gate_position_commanded_then_confirmed_and_a_confirmation_timeout(engine, clock):
    """X1 and X2 get simulated gates with a limit switch (the arm takes 0.05 s to
    rise; an opening must be confirmed within 0.4 s); X2's arm is jammed down."""
    config = demo_config()
    with_limit = {"X1": "sim://?hold=600&limit=yes&travel=0.05&confirm=0.4",
                  "X2": "sim://?hold=600&limit=yes&travel=0.05&confirm=0.4"}
    config = replace(config, lanes=tuple(replace(lane, gate=with_limit.get(lane.code, lane.gate))
                                         for lane in config.lanes))
    app = build(engine, clock, config)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def line_of(code: str) -> str:
            return next(line for line in text_of(app, "#lanes").splitlines() if f" {code} " in line)

        devices(app, "X1").gate.vend("attendant", "test")
        await until(pilot, lambda: "OPEN · confirmed ✓" in line_of("X1"))

        jammed = devices(app, "X2").gate
        jammed.jam(False)  # the limit switch never sees the arm up
        jammed.vend("attendant", "test")
        await until(pilot, lambda: "OPEN · commanded" in line_of("X2"))
        await until(pilot, lambda: "FAULT" in line_of("X2"))
        assert "did not confirm open within 0.4 s" in line_of("X2")
        await poll(pilot)
        assert "X2 gate faulted" in text_of(app, "#devices")
        assert any("X2 gate: faulted" in m for m in notes(app, "error"))
        assert "OPEN · confirmed ✓" in line_of("X1")  # the other gate is unaffected


def test_the_device_hub_imports_no_textual():
    """STYLE.md rule 4: the hub is a Textual-free facade (it builds the console's
    messages only when it posts them)."""
    import subprocess
    import sys

    code = "import sys, attendant.tui.devices; print(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "False"
