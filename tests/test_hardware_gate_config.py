"""Simulated gate, stand-in scanner/camera, lane config: real threads, real files."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from attendant.core.errors import InputError, NotFound
from attendant.core.vocab import LaneDirection
from hardware.base import DeviceError, DeviceState, GateEvent, GateState, PlateRead
from hardware.config import (
    LaneConfig,
    default_config,
    load_config,
    open_lane_devices,
    parse_config,
)
from hardware.gates import open_gate
from hardware.printers import StandinPrinter
from hardware.scanners import open_scanner
from hardware.simulated_gate import SimulatedGate
from hardware.standins import StandinPlateCamera, StandinScanner

ROOT = Path(__file__).resolve().parents[1]
WAIT = 5.0  # seconds; an upper bound for events, never a sleep


class Events:
    """A listener that records events and lets a test wait for them."""

    def __init__(self) -> None:
        self.queue: queue.Queue[GateEvent] = queue.Queue()
        self.threads: set[str] = set()

    def __call__(self, event: GateEvent) -> None:
        self.threads.add(threading.current_thread().name)
        self.queue.put(event)

    def next(self) -> GateEvent:
        return self.queue.get(timeout=WAIT)


# --------------------------------------------------------------------------- gate


def test_vend_opens_then_closes_after_the_hold_and_tells_listeners() -> None:
    gate = SimulatedGate("E1", hold_seconds=0.05)
    events = Events()
    gate.add_listener(events)
    try:
        opened = gate.vend("ticket")
        assert gate.state == GateState.OPEN == "open"
        assert (opened.lane, opened.state, opened.source, opened.reason) == ("E1", "open", "ticket", None)
        assert events.next() == opened
        closed = events.next()
        assert (closed.lane, closed.state, closed.source) == ("E1", "closed", "auto")
        assert closed.at >= opened.at
        assert gate.state == "closed"
        assert events.threads and threading.current_thread().name not in events.threads
        assert gate.vends == 1
    finally:
        gate.close()


def test_vend_while_open_restarts_the_hold_with_one_close() -> None:
    gate = SimulatedGate("X1", hold_seconds=0.3)  # the second vend comes well within the hold
    events = Events()
    gate.add_listener(events)
    gate.vend("payment")
    gate.vend("attendant", "driver paid at the machine")
    first, second, closed = events.next(), events.next(), events.next()
    assert [e.state for e in (first, second, closed)] == ["open", "open", "closed"]
    assert second.reason == "driver paid at the machine"
    gate.close()  # delivers anything queued; nothing more may follow
    assert events.queue.empty()
    with pytest.raises(DeviceError):
        gate.vend("ticket")


def test_bad_source_fault_and_failing_listener() -> None:
    gate = SimulatedGate("E2", hold_seconds=0.05)
    events = Events()

    def broken(event: GateEvent) -> None:
        raise RuntimeError("listener bug")

    gate.add_listener(broken)
    gate.add_listener(events)
    try:
        with pytest.raises(InputError, match="unknown vend source 'wizard'"):
            gate.vend("wizard")
        assert events.queue.empty() and gate.vends == 0

        gate.set_fault("arm knocked off")
        assert events.next().state == "fault"
        assert gate.status().state == DeviceState.FAULTED
        with pytest.raises(DeviceError, match="arm knocked off"):
            gate.vend("ticket")
        gate.clear_fault()
        assert events.next().state == "closed"

        gate.remove_listener(broken)
        gate.vend("lpr")
        assert events.next().state == "open"  # the broken listener did not stop delivery
        assert events.next().state == "closed"
    finally:
        gate.close()


def test_open_gate_urls() -> None:
    gate = open_gate("sim://?hold=0.05", lane="E1")
    assert isinstance(gate, SimulatedGate) and gate.hold_seconds == 0.05 and gate.lane == "E1"
    gate.close()
    assert isinstance(open_gate("standin://"), SimulatedGate)
    with pytest.raises(InputError, match=r"did you mean modbus\+tcp"):
        open_gate("modbus-tcp://10.0.0.9:502")
    with pytest.raises(InputError, match="hold"):
        open_gate("sim://?hold=-1")
    with pytest.raises(InputError, match="no host or path"):
        open_gate("sim://gate1")


# --------------------------------------------------------------------------- stand-ins


def test_standin_scanner_delivers_in_order_on_its_thread_and_stops() -> None:
    scanner = StandinScanner("E1 scanner")
    got: queue.Queue[tuple[str, str]] = queue.Queue()
    scanner.push("T1.early\r\n")  # before start: buffered
    calls = 0

    def on_code(code: str) -> None:
        nonlocal calls
        calls += 1
        if code == "boom":
            raise ValueError("consumer bug")
        got.put((code, threading.current_thread().name))

    scanner.start(on_code)
    with pytest.raises(DeviceError, match="already running"):
        scanner.start(on_code)
    for code in ("A1", "boom", "A2"):
        scanner.push(code)
    assert scanner.wait_idle(WAIT)
    received = [got.get(timeout=WAIT) for _ in range(3)]
    assert [code for code, _ in received] == ["T1.early", "A1", "A2"]
    assert {thread for _, thread in received} == {"E1 scanner"}
    assert scanner.status().state == DeviceState.OK

    scanner.stop()
    assert not scanner.running and scanner.status().state == DeviceState.UNKNOWN
    scanner.push("later")
    assert got.empty()
    scanner.start(on_code)  # restartable; what was pushed meanwhile arrives
    assert got.get(timeout=WAIT)[0] == "later"
    scanner.stop()
    with pytest.raises(InputError):
        scanner.push(b"bytes")  # type: ignore[arg-type]


def test_standin_camera_reads() -> None:
    camera = StandinPlateCamera("E1", "E1 camera")
    reads: queue.Queue[PlateRead] = queue.Queue()
    camera.start(reads.put)
    try:
        sent = camera.push("AB12CDE", 0.87)
        read = reads.get(timeout=WAIT)
        assert read == sent
        assert (read.plate, read.confidence, read.lane, read.source) == ("AB12CDE", 0.87, "E1", "E1 camera")
        assert read.at.utcoffset().total_seconds() == 0
        with pytest.raises(InputError, match="confidence"):
            camera.push("AB12CDE", 1.5)
    finally:
        camera.stop()
    assert not camera.running
    assert isinstance(open_scanner("standin://", name="E1 scanner"), StandinScanner)
    with pytest.raises(InputError, match="standin:// takes no host or path"):
        open_scanner("standin://desk")


# --------------------------------------------------------------------------- config


def test_example_config_loads() -> None:
    config = load_config(ROOT / "examples" / "console.toml")
    assert [lane.code for lane in config.lanes] == ["E1", "E2", "X1", "X2"]
    assert config.lane("E1").name == "Entry 1 (Charlotte St)"
    assert [lane.code for lane in config.entry_lanes] == ["E1", "E2"]
    assert [lane.code for lane in config.exit_lanes] == ["X1", "X2"]
    assert config.theme == "dark"
    assert all(lane.printer == "standin://" and lane.gate and lane.scanner and lane.camera for lane in config.lanes)
    with pytest.raises(NotFound):
        config.lane("Z9")


def test_default_config() -> None:
    config = default_config()
    assert [(l.code, l.name, l.direction) for l in config.lanes] == [
        ("E1", "Entry 1", LaneDirection.ENTRY),
        ("E2", "Entry 2", LaneDirection.ENTRY),
        ("X1", "Exit 1", LaneDirection.EXIT),
        ("X2", "Exit 2", LaneDirection.EXIT),
    ]


def test_minimal_lane_without_devices() -> None:
    config = parse_config('[[lanes]]\ncode = "X9"\nname = "Back gate"\ndirection = "exit"\n', "mini.toml")
    assert config.lanes == (LaneConfig("X9", "Back gate", LaneDirection.EXIT),)
    assert config.theme is None and config.source == "mini.toml"


LANE = '[[lanes]]\ncode = "E1"\nname = "Entry 1"\ndirection = "entry"\n'


@pytest.mark.parametrize(
    ("text", "field", "detail"),
    [
        ("[[lanes]\n", "", "not valid TOML"),
        ("", "lanes", "no lanes"),
        ("lanes = []\n", "lanes", "no lanes"),
        ("lanes = 3\n", "lanes", "[[lanes]] tables"),
        ("colour = 1\n" + LANE, "colour", "unknown key"),
        ("console = 1\n" + LANE, "console", "[console] table"),
        ('[console]\ntheme = ""\n' + LANE, "console.theme", "theme name"),
        ('[console]\nfont = "x"\n' + LANE, "console.font", "unknown key"),
        ('[[lanes]]\nname = "Entry 1"\ndirection = "entry"\n', "lanes[0].code", "missing"),
        (LANE.replace('"E1"', '"e-1"'), "lanes[0].code", "capital letters or digits"),
        (LANE.replace('"E1"', "1"), "lanes[0].code", "capital letters or digits"),
        (LANE + LANE, "lanes[1].code", "already used by lanes[0]"),
        (LANE.replace('name = "Entry 1"\n', ""), "lanes[0].name (lane E1)", "missing"),
        (LANE.replace('"Entry 1"', '""'), "lanes[0].name (lane E1)", "1 to 60 characters"),
        (LANE.replace('"entry"', '"in"'), "lanes[0].direction (lane E1)", "must be entry or exit, got 'in'"),
        (LANE.replace('direction = "entry"\n', ""), "lanes[0].direction (lane E1)", "missing"),
        (LANE + 'printr = "standin://"\n', "lanes[0].printr (lane E1)", "unknown key"),
        (LANE + 'printer = "lpt://x"\n', "lanes[0].printer (lane E1)", "unknown scheme 'lpt'"),
        (LANE + 'printer = "tcp://p:70000"\n', "lanes[0].printer (lane E1)", "port"),
        (LANE + "printer = 9100\n", "lanes[0].printer (lane E1)", "device URL"),
        (LANE + 'gate = "lcus://"\n', "lanes[0].gate (lane E1)", "needs a serial device"),
        (LANE + 'scanner = "serial:///dev/ttyACM0?terminator=TAB"\n', "lanes[0].scanner (lane E1)",
         "terminator must be CR, LF or CRLF"),
        (LANE + 'camera = "gopher://cam"\n', "lanes[0].camera (lane E1)", "unknown scheme 'gopher'"),
        (LANE + "confirm_below = 1.5\n", "lanes[0].confirm_below (lane E1)", "between 0 and 1"),
        (LANE + 'confirm_below = "0.9"\n', "lanes[0].confirm_below (lane E1)", "between 0 and 1"),
        (LANE + "confirm_below = true\n", "lanes[0].confirm_below (lane E1)", "between 0 and 1"),
    ],
)
def test_config_errors_name_file_and_field(text: str, field: str, detail: str) -> None:
    with pytest.raises(InputError) as failure:
        parse_config(text, "booth.toml")
    message = str(failure.value)
    assert message.startswith(f"booth.toml: {field}"), message
    assert detail in message


def test_a_lane_sets_its_own_plate_confirmation_threshold_or_takes_the_consoles() -> None:
    from attendant.core.plate_match import (
        DEFAULT_CONFIRM_THRESHOLD,
        confirm_threshold,
        needs_confirmation,
    )

    config = parse_config(LANE + "confirm_below = 0.75\n" + LANE.replace("E1", "E2"), "booth.toml")
    own, default = config.lanes
    assert (own.confirm_below, default.confirm_below) == (0.75, None)
    assert confirm_threshold(own) == 0.75 and confirm_threshold(default) == DEFAULT_CONFIRM_THRESHOLD == 0.9
    assert confirm_threshold(None) == DEFAULT_CONFIRM_THRESHOLD  # a console without that lane
    assert not needs_confirmation(0.8, confirm_threshold(own)) and needs_confirmation(0.8, confirm_threshold(default))


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[[lanes]]\nname = "Café"\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text(LANE.replace('"entry"', '"sideways"'), encoding="utf-8")
    with pytest.raises(InputError, match=f"^{broken}: lanes\\[0\\].direction"):
        load_config(broken)


def test_open_lane_devices_records_faults_instead_of_raising() -> None:
    lane = LaneConfig("E1", "Entry 1", LaneDirection.ENTRY, printer="standin://?profile=NOPE",
                      gate="standin://", scanner="standin://", camera="standin://")
    devices = open_lane_devices(lane, gate_hold_seconds=0.05)
    try:
        assert devices.printer is None
        assert devices.faults["printer"].state == DeviceState.FAULTED
        assert "unknown printer profile 'NOPE'" in devices.faults["printer"].message
        assert isinstance(devices.gate, SimulatedGate) and devices.gate.hold_seconds == 0.05
        assert isinstance(devices.scanner, StandinScanner) and isinstance(devices.camera, StandinPlateCamera)
        status = devices.status()
        assert status["printer"].state == DeviceState.FAULTED and status["gate"].state == DeviceState.OK
    finally:
        devices.close()

    good = open_lane_devices(default_config().lane("X1"))
    try:
        assert isinstance(good.printer, StandinPrinter) and not good.faults
    finally:
        good.close()


def test_hardware_imports_no_textual_and_no_services() -> None:
    code = (
        "import sys, hardware.base, hardware.printers, hardware.gates, hardware.standins, hardware.config\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or "
        "(m.startswith('attendant.') and m not in ('attendant.core', 'attendant.core.vocab', "
        "'attendant.core.payment_methods', 'attendant.core.errors', 'attendant.core.clock')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT)})
