"""Relay-driven gates on real transports.

- LCUS-1 board: the gate writes to the slave of an ``os.openpty()`` pair; the
  test reads the master side with arrival times and parses the 4-byte frames
  (A0 01 01 A2 on, A0 01 00 A1 off).
- Presence loop and limit switch: pyserial ``loop://`` modem lines (RTS is
  mirrored to CTS, DTR to DSR), since pseudo-terminals have no modem lines.
- Modbus relay: a pymodbus 3.16 TCP server on 127.0.0.1 in a thread, whose
  action hook records every coil write; a second client reads coils.
- The simulated gate's limit switch: commanded vs confirmed, jam -> fault.

Pulse lengths are asserted within generous bounds (pulse 0.2 s: 0.15-1.0 s).
"""

from __future__ import annotations

import asyncio
import os
import queue
import select
import socket
import threading
import time

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState, GateEvent, GateState
from hardware.gates import open_gate, parse_gate_url
from hardware.relay_gate import GateChange
from hardware.relays import LcusRelayGate, ModbusRelayGate, ModemLineInput, lcus_frame
from hardware.simulated_gate import SimulatedGate
from hardware.urls import split_device_url

WAIT = 5.0  # seconds: an upper bound for events, never a sleep
ON, OFF = bytes.fromhex("A00101A2"), bytes.fromhex("A00100A1")


def wait_until(condition, timeout: float = WAIT) -> None:
    """Poll ``condition`` (every 10 ms) until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class Events:
    """A gate listener that records events and lets a test wait for them."""

    def __init__(self) -> None:
        self.queue: queue.Queue[GateEvent] = queue.Queue()

    def __call__(self, event: GateEvent) -> None:
        self.queue.put(event)

    def next(self, timeout: float = WAIT) -> GateChange:
        return self.queue.get(timeout=timeout)

    def picture(self, event: GateEvent) -> tuple[str, str]:
        return (str(event.state), str(getattr(event, "phase", "")))


class RelayBoard:
    """The master side of a pty: what an LCUS board would receive, with times."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.frames: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 64)
            except OSError:
                return
            now = time.monotonic()
            buffer += data
            while len(buffer) >= 4:
                self.frames.put((now, buffer[:4]))
                buffer = buffer[4:]

    def next(self, timeout: float = WAIT) -> tuple[float, bytes]:
        return self.frames.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def board():
    board = RelayBoard()
    yield board
    board.close()


@pytest.fixture
def gates():
    made: list = []
    yield made
    for gate in made:
        gate.close()
        assert gate._thread is None or not gate._thread.is_alive()


def test_lcus_frames() -> None:
    assert lcus_frame(1, True) == ON and lcus_frame(1, False) == OFF
    assert lcus_frame(2, True).hex() == "a00201a3" and lcus_frame(4, False).hex() == "a00400a4"
    with pytest.raises(InputError, match="channel"):
        lcus_frame(9, True)


def test_lcus_pulse_is_timed_and_the_relay_is_off_at_start_and_stop(board, gates) -> None:
    gate = open_gate(f"lcus://{board.path}?pulse=0.2", lane="E1")
    gates.append(gate)
    assert isinstance(gate, LcusRelayGate) and gate.pulse_seconds == 0.2
    events = Events()
    gate.add_listener(events)
    assert board.next()[1] == OFF  # forced off at start

    began = time.monotonic()
    opened = gate.vend("ticket", None)
    assert time.monotonic() - began < 0.15  # returns well inside the 0.2 s pulse: the worker does the I/O
    assert (opened.lane, opened.state, opened.source, opened.phase) == ("E1", "open", "ticket", "commanded")
    assert gate.state == GateState.OPEN

    t_on, frame = board.next()
    assert frame == ON
    t_off, frame = board.next()
    assert frame == OFF
    assert 0.15 <= t_off - t_on <= 1.0
    assert events.next() == opened
    closed = events.next()
    assert (closed.state, closed.source, closed.phase) == ("closed", "auto", "commanded")
    assert gate.state == GateState.CLOSED and gate.status().state == DeviceState.OK
    assert gate.vends == 1

    gate.close()
    assert board.next()[1] == OFF  # forced off at stop
    assert events.queue.empty()  # closing down is not a barrier movement
    with pytest.raises(DeviceError, match="shut down"):
        gate.vend("attendant", "after close")


def test_a_vend_during_the_pulse_restarts_it(board, gates, caplog) -> None:
    caplog.set_level("INFO", logger="hardware.gates")
    gate = LcusRelayGate(board.path, "X1", pulse_seconds=0.3)
    gates.append(gate)
    assert board.next()[1] == OFF
    gate.vend("payment")
    t_on, frame = board.next()
    assert frame == ON
    gate.vend("attendant", "driver dropped the ticket")  # well within the pulse
    t_off, frame = board.next()
    assert frame == OFF
    assert t_off - t_on >= 0.3  # a single, longer pulse: no second ON, no early OFF
    vends = [r.getMessage() for r in caplog.records if r.getMessage().startswith("vend ")]
    assert vends == [  # every vend is logged with lane, source and reason
        "vend lane=X1 gate=X1 source=payment reason=-",
        "vend lane=X1 gate=X1 source=attendant reason=driver dropped the ticket",
    ]


def test_presence_loop_keeps_the_relay_on_until_the_vehicle_leaves(board, gates) -> None:
    loop = ModemLineInput("loop://", "cts")  # loop://: RTS drives CTS
    loop.port.rts = True  # a vehicle stands on the loop
    gate = LcusRelayGate(board.path, "E1", pulse_seconds=0.1, presence=loop, owned=(loop,))
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert gate.has_presence and board.next()[1] == OFF

    gate.vend("lpr", "plate on whitelist")
    t_on, frame = board.next()
    assert frame == ON
    with pytest.raises(queue.Empty):
        board.next(timeout=0.4)  # well past the 0.1 s pulse: still on
    assert gate.state == GateState.OPEN
    assert "held: vehicle on the loop for" in gate.status().message  # the console shows why the arm stays up
    cleared = time.monotonic()
    loop.port.rts = False  # the vehicle has passed
    t_off, frame = board.next()
    assert frame == OFF and t_off - cleared < 0.5
    assert [events.next().state for _ in range(2)] == ["open", "closed"]
    assert "held" not in gate.status().message


def test_presence_is_held_at_most_max_hold(board, gates) -> None:
    gate = LcusRelayGate(board.path, "E1", pulse_seconds=0.1, presence=lambda: True, max_hold_seconds=0.3)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert board.next()[1] == OFF
    gate.vend("attendant", "test")
    t_on, _ = board.next()
    t_off, frame = board.next()
    assert frame == OFF and 0.25 <= t_off - t_on <= 1.0
    events.next()
    assert "maximum hold" in events.next().reason


def test_relay_is_forced_off_after_an_input_error(board, gates) -> None:
    def broken_limit_switch() -> bool:
        raise OSError("limit switch cable cut")

    gate = LcusRelayGate(board.path, "X2", pulse_seconds=5.0, limit=broken_limit_switch)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert board.next()[1] == OFF
    gate.vend("ticket")
    t_on, frame = board.next()
    assert frame == ON
    t_off, frame = board.next()
    assert frame == OFF and t_off - t_on < 1.0  # long before the 5 s pulse ends
    assert events.next().state == "open"
    fault = events.next()
    assert fault.state == "fault" and "limit switch cable cut" in fault.reason
    assert gate.state == GateState.FAULT
    status = gate.status()
    assert status.state == DeviceState.FAULTED and "limit switch input" in status.message


def test_unplugged_board_faults_goes_offline_and_refuses_vends(board, gates) -> None:
    gate = LcusRelayGate(board.path, "E2", pulse_seconds=0.2, backoff_initial=0.05, backoff_max=0.2)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert board.next()[1] == OFF
    board.close()  # the USB relay is unplugged
    gate.vend("attendant", "unplugged")
    assert events.next().state == "open"
    fault = events.next()
    assert fault.state == "fault" and "write failed" in fault.reason
    status = gate.status()
    assert status.state == DeviceState.OFFLINE and status.message.endswith("retrying")
    with pytest.raises(DeviceError, match="offline") as failure:
        gate.vend("attendant", "again")
    assert failure.value.state == DeviceState.OFFLINE
    assert events.queue.empty()  # repeated reconnect failures do not flood listeners


def test_confirmed_vs_commanded_with_a_limit_switch_and_a_timeout_fault(board, gates) -> None:
    switch = ModemLineInput("loop://", "dsr")  # loop://: DTR drives DSR
    switch.port.dtr = False  # arm down
    gate = LcusRelayGate(board.path, "E1", pulse_seconds=0.2, limit=switch, confirm_timeout=0.4, owned=(switch,))
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert gate.has_limit_switch and board.next()[1] == OFF

    gate.vend("pass", "monthly parker")
    assert board.next()[1] == ON
    assert events.picture(events.next()) == ("open", "commanded")
    assert gate.status().message == "gate open (commanded)"
    switch.port.dtr = True  # the arm reaches the top
    confirmed = events.next()
    assert events.picture(confirmed) == ("open", "confirmed") and confirmed.source == "pass"
    assert board.next()[1] == OFF
    assert events.picture(events.next()) == ("closed", "commanded")
    switch.port.dtr = False  # the arm comes down
    assert events.picture(events.next()) == ("closed", "confirmed")
    assert gate.confirmed_state == GateState.CLOSED
    assert gate.status().message == "gate closed (confirmed)"

    gate.pulse_seconds = 5.0  # a long pulse: the fault, not the pulse, ends it
    gate.vend("attendant", "arm jammed")  # the arm never rises
    t_on, frame = board.next()
    assert frame == ON
    assert events.next().state == "open"
    fault = events.next()
    assert fault.state == "fault" and "did not confirm open within 0.4 s" in fault.reason
    t_off, frame = board.next()
    assert frame == OFF and 0.35 <= t_off - t_on < 1.5  # forced off after the error
    assert gate.status().state == DeviceState.FAULTED and gate.state == GateState.FAULT


def test_pulse_barrier_confirms_open_after_the_pulse_then_closes(board, gates) -> None:
    switch = ModemLineInput("loop://", "dsr")
    switch.port.dtr = False
    gate = LcusRelayGate(board.path, "E2", pulse_seconds=0.1, limit=switch, confirm_timeout=1.0,
                         close_timeout=1.0, owned=(switch,))
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert board.next()[1] == OFF
    gate.vend("ticket")
    assert board.next()[1] == ON
    assert board.next()[1] == OFF  # the pulse is over before the arm is up
    assert events.picture(events.next()) == ("open", "commanded")
    assert gate.state == GateState.OPEN  # still open: the opening is not confirmed yet
    switch.port.dtr = True  # the barrier rises after the pulse, as pulse-input barriers do
    assert events.picture(events.next()) == ("open", "confirmed")
    assert events.picture(events.next()) == ("closed", "commanded")
    switch.port.dtr = False
    assert events.picture(events.next()) == ("closed", "confirmed")


def test_simulated_gate_limit_switch_and_presence(gates) -> None:
    gate = SimulatedGate("E1", hold_seconds=0.1, limit_switch=True, travel_seconds=0.05, confirm_timeout=0.3)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    gate.vend("ticket")
    pictures = [events.picture(events.next()) for _ in range(4)]
    assert pictures == [("open", "commanded"), ("open", "confirmed"), ("closed", "commanded"),
                        ("closed", "confirmed")]

    gate.presence = True
    gate.vend("ticket")
    assert events.picture(events.next()) == ("open", "commanded")
    assert events.picture(events.next()) == ("open", "confirmed")
    with pytest.raises(queue.Empty):
        events.next(timeout=0.3)  # held open while the vehicle is on the loop
    gate.presence = False
    assert events.picture(events.next()) == ("closed", "commanded")
    assert events.picture(events.next()) == ("closed", "confirmed")

    gate.jam(False)  # the arm is stuck down: the short pulse ends, the opening is never confirmed
    gate.vend("lpr")
    assert events.next().state == "open"
    fault = events.next()
    assert fault.state == "fault" and "did not confirm open within 0.3 s" in fault.reason
    assert gate.sim.on is False and gate.state == GateState.FAULT
    gate.jam(None)
    gate.vend("attendant", "retry after clearing the jam")  # a new attempt clears the fault
    assert events.picture(events.next()) == ("open", "commanded")
    assert events.picture(events.next()) == ("open", "confirmed")
    assert gate.status().state == DeviceState.OK


# --------------------------------------------------------------------------- Modbus


class ModbusServer:
    """A pymodbus 3.16 TCP server (SimDevice datastore) on 127.0.0.1 in its own thread.

    ``writes`` records ``(monotonic, coil, value)`` for every coil write;
    ``inputs`` maps discrete input address -> bool, served on every read.
    """

    def __init__(self, port: int = 0, *, rtu: bool = False) -> None:
        from pymodbus.simulator import SimData, SimDevice
        from pymodbus.simulator.simutils import DataType, SimUtils

        self.writes: queue.Queue[tuple[float, int, bool]] = queue.Queue()
        self.inputs: dict[int, bool] = {}
        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.rtu = rtu  # RTU framing over TCP: what a serial-to-Ethernet gateway carries

        async def action(function_code, start_address, address, count, registers, set_values):
            if function_code == 5 and set_values is not None:
                self.writes.put((time.monotonic(), address, bool(set_values[0])))
            if function_code == 2:  # discrete inputs: bits packed 16 to a register
                bits = SimUtils.registersToBits(registers[0:1])
                for number, value in self.inputs.items():
                    bits[number] = value
                registers[0:1] = SimUtils.bitsToRegisters(bits)
            return None

        def bits() -> list:
            return [SimData(0, count=16, values=False, datatype=DataType.BITS)]

        def regs() -> list:
            return [SimData(0, count=4, values=0, datatype=DataType.REGISTERS)]

        self._device = SimDevice(id=1, simdata=(bits(), bits(), regs(), regs()), action=action)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        assert self._ready.wait(WAIT), "the Modbus server did not start"

    async def _serve(self) -> None:
        from pymodbus.framer import FramerType
        from pymodbus.server import ModbusTcpServer

        self._loop = asyncio.get_running_loop()
        framer = FramerType.RTU if self.rtu else FramerType.SOCKET
        self._server = ModbusTcpServer(self._device, address=("127.0.0.1", self.port), framer=framer)
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    def coil(self, address: int) -> bool:
        from pymodbus.client import ModbusTcpClient

        client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=1, retries=0)
        try:
            assert client.connect()
            return client.read_coils(address, count=1, device_id=1).bits[0]
        finally:
            client.close()

    def write(self, timeout: float = WAIT) -> tuple[float, int, bool]:
        return self.writes.get(timeout=timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(WAIT)
            self._thread.join(WAIT)


@pytest.fixture
def modbus():
    server = ModbusServer()
    yield server
    server.stop()


def test_modbus_relay_pulses_a_coil(modbus, gates) -> None:
    gate = open_gate(f"modbus+tcp://127.0.0.1:{modbus.port}?unit=1&coil=2&pulse=0.2", lane="X1")
    gates.append(gate)
    assert isinstance(gate, ModbusRelayGate)
    events = Events()
    gate.add_listener(events)
    assert modbus.write()[1:] == (2, False)  # forced off at start

    gate.vend("payment", None)
    t_on, coil, value = modbus.write()
    assert (coil, value) == (2, True)
    assert modbus.coil(2) is True  # the coil really is on, read by another client
    t_off, coil, value = modbus.write()
    assert (coil, value) == (2, False) and 0.15 <= t_off - t_on <= 1.0
    assert modbus.coil(2) is False
    assert [events.next().state for _ in range(2)] == ["open", "closed"]
    assert gate.status().state == DeviceState.OK

    gate.close()
    assert modbus.write()[1:] == (2, False)  # forced off at stop


def test_modbus_rtu_relay_through_a_pyserial_url() -> None:
    server = ModbusServer(rtu=True)
    gate = open_gate(f"modbus+rtu://socket://127.0.0.1:{server.port}?baudrate=19200&unit=1&coil=5&pulse=0.2",
                     lane="E2")
    try:
        assert isinstance(gate, ModbusRelayGate) and gate.modbus.serial_settings["baudrate"] == 19200
        assert server.write()[1:] == (5, False)
        gate.vend("lpr", "plate read at 0.97")
        t_on, coil, value = server.write()
        assert (coil, value) == (5, True)
        t_off, coil, value = server.write()
        assert (coil, value) == (5, False) and 0.15 <= t_off - t_on <= 1.0
    finally:
        gate.close()
        server.stop()


def test_lcus_presence_on_the_boards_own_modem_line() -> None:
    gate = open_gate("lcus://loop://?pulse=0.05&presence=cts", lane="E1")  # loop://: RTS drives CTS
    events = Events()
    gate.add_listener(events)
    try:
        wait_until(lambda: gate.status().state == DeviceState.OK)
        port = gate.lcus._serial
        assert port.read(4) == OFF  # the frame went out on the wire
        port.rts = True
        gate.vend("ticket")
        assert port.read(4) == ON
        assert events.next().state == "open"
        with pytest.raises(queue.Empty):
            events.next(timeout=0.3)  # presence: still open long after the 0.05 s pulse
        port.rts = False
        assert events.next().state == "closed"
        assert port.read(4) == OFF
    finally:
        gate.close()


def test_modbus_presence_input_holds_and_the_link_reconnects(modbus, gates) -> None:
    modbus.inputs[3] = True
    gate = ModbusRelayGate("X1", host="127.0.0.1", port=modbus.port, coil=0, pulse_seconds=0.1,
                           presence_input=3, backoff_initial=0.05, backoff_max=0.1)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert modbus.write()[1:] == (0, False)
    gate.vend("attendant", "hold test")
    assert modbus.write()[1:] == (0, True)
    with pytest.raises(queue.Empty):
        modbus.write(timeout=0.3)  # held on while the presence input is on
    modbus.inputs[3] = False
    assert modbus.write()[1:] == (0, False)
    assert [events.next().state for _ in range(2)] == ["open", "closed"]

    port = modbus.port
    modbus.stop()  # the module loses power
    gate.vend("attendant", "module down")
    assert events.next().state == "open"
    assert events.next().state == "fault"
    assert gate.status().state == DeviceState.OFFLINE
    again = ModbusServer(port)  # power is back
    try:
        reconnected = events.next(timeout=3.0)
        assert (reconnected.state, reconnected.reason) == ("closed", "reconnected")
        assert again.write()[1:] == (0, False)  # forced off after reconnecting
        assert gate.status().state == DeviceState.OK
    finally:
        gate.close()
        again.stop()


def test_an_idle_modbus_relay_that_loses_power_shows_offline_without_a_vend(modbus, gates) -> None:
    gate = ModbusRelayGate("X2", host="127.0.0.1", port=modbus.port, coil=1, probe_seconds=0.1,
                           backoff_initial=0.05, backoff_max=0.1)
    gates.append(gate)
    events = Events()
    gate.add_listener(events)
    assert modbus.write()[1:] == (1, False)
    wait_until(lambda: gate.status().state == DeviceState.OK)
    port = modbus.port
    modbus.stop()
    fault = events.next()  # found by the idle probe: nobody had to vend
    assert fault.state == "fault" and gate.status().state == DeviceState.OFFLINE
    again = ModbusServer(port)
    try:
        assert events.next(timeout=3.0).reason == "reconnected"
        assert again.write()[1:] == (1, False)
    finally:
        gate.close()
        again.stop()


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "scheme", "hold", "params"),
    [
        ("sim://?hold=2&limit=yes&travel=0.5", "sim", 2.0, {"limit_switch": True, "travel_seconds": 0.5}),
        ("lcus:///dev/ttyUSB0", "lcus", None, {"port": "/dev/ttyUSB0", "channel": 1, "baudrate": 9600}),
        ("lcus://loop://?pulse=0.5&channel=2&presence=cts&limit=dsr&confirm=4", "lcus", 0.5,
         {"port": "loop://", "channel": 2, "baudrate": 9600, "presence": "cts", "limit": "dsr",
          "confirm_timeout": 4.0}),
        ("lcus:socket://10.0.0.8:4001", "lcus", None, {"port": "socket://10.0.0.8:4001", "channel": 1,
                                                        "baudrate": 9600}),
        ("modbus+tcp://10.0.0.9?unit=3&coil=1&presence_input=0&limit_input=1", "modbus+tcp", None,
         {"mode": "tcp", "host": "10.0.0.9", "port": 502, "unit": 3, "coil": 1, "presence_input": 0,
          "limit_input": 1, "timeout": 1.0}),
        ("modbus+rtu:///dev/ttyUSB1?baudrate=19200&parity=E&unit=2&coil=0&pulse=1", "modbus+rtu", 1.0,
         {"mode": "rtu", "device": "/dev/ttyUSB1", "baudrate": 19200, "bytesize": 8, "parity": "E",
          "stopbits": 1, "unit": 2, "coil": 0, "timeout": 1.0}),
    ],
)
def test_parse_gate_urls(url, scheme, hold, params) -> None:
    address = parse_gate_url(url)
    assert (address.scheme, address.hold_seconds, address.params) == (scheme, hold, params)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("modbus-tcp://10.0.0.9:502", "did you mean modbus+tcp://"),
        ("relay://x", "unknown scheme 'relay'"),
        ("lcus://", "needs a serial device"),
        ("lcus:///dev/ttyUSB0?channel=9", "channel must be between 1 and 8"),
        ("lcus:///dev/ttyUSB0?pulse=0", "pulse must be between 0 and 600 seconds"),
        ("lcus:///dev/ttyUSB0?presence=dtr", "presence must be cts, dsr, ri or cd"),
        ("lcus:///dev/ttyUSB0?puls=1", "unknown option 'puls'"),
        ("lcus://http://x", "http:// is not a supported port"),
        ("modbus+tcp://?unit=1", "needs a host"),
        ("modbus+tcp://10.0.0.9?unit=300", "unit must be between 0 and 247"),
        ("modbus+tcp://10.0.0.9?baudrate=9600", "unknown option 'baudrate'"),
        ("modbus+rtu:///dev/ttyUSB0?parity=X", "parity must be N, E or O"),
        ("sim://?hold=-1", "hold must be between 0 and 600"),
        ("sim://gate1", "takes no host or path"),
    ],
)
def test_bad_gate_urls(url: str, detail: str) -> None:
    with pytest.raises(InputError) as failure:
        parse_gate_url(url)
    assert detail in str(failure.value)


def test_split_device_url() -> None:
    assert split_device_url("lcus://COM3?pulse=1", "gate") == ("COM3", "pulse=1")
    assert split_device_url("lcus://rfc2217://10.0.0.8:2217", "gate") == ("rfc2217://10.0.0.8:2217", "")
    with pytest.raises(InputError, match="needs HOST:PORT"):
        split_device_url("lcus://socket://10.0.0.8", "gate")


# --------------------------------------------------------------------------- lanes and config


def test_config_accepts_real_device_urls_and_names_file_and_field() -> None:
    from hardware.config import parse_config

    lane = '[[lanes]]\ncode = "E1"\nname = "Entry 1"\ndirection = "entry"\n'
    config = parse_config(
        lane + 'gate = "lcus:///dev/ttyUSB0?pulse=0.5&presence=cts"\n'
        'scanner = "serial:///dev/ttyACM0?baudrate=9600&terminator=CRLF&prefix=%02"\n'
        'camera = "anpr+http://192.168.1.80:8080"\n',
        "booth.toml",
    )
    assert config.lanes[0].gate.startswith("lcus://") and config.lanes[0].camera.startswith("anpr+http://")
    for field, value, detail in [
        ("gate", "modbus+tcp://10.0.0.9?coil=-1", "coil must be between 0 and 65535"),
        ("scanner", "serial:///dev/ttyACM0?terminator=TAB", "terminator must be CR, LF or CRLF"),
        ("scanner", "usb://05e0:1200", "unknown scheme 'usb'"),
        ("camera", "ftp://cam", "unknown scheme 'ftp'; use one of standin://, anpr+http://"),
        ("camera", "rtsp://", "rtsp:// needs a host"),
        ("camera", "anpr+http://0.0.0.0:8081/?vendor=dahua", "vendor must be auto, hikvision, axis, webhook or json"),
    ]:
        with pytest.raises(InputError) as failure:
            parse_config(lane + f'{field} = "{value}"\n', "booth.toml")
        assert str(failure.value).startswith(f"booth.toml: lanes[0].{field} (lane E1): "), failure.value
        assert detail in str(failure.value)


def test_a_faulted_lane_never_blocks_the_others(board) -> None:
    from attendant.core.vocab import LaneDirection
    from hardware.config import LaneConfig, open_lane_devices

    dead = open_lane_devices(LaneConfig("E1", "Entry 1", LaneDirection.ENTRY, gate="lcus:///dev/ttyNOPE0?pulse=0.1"))
    live = open_lane_devices(LaneConfig("E2", "Entry 2", LaneDirection.ENTRY, gate=f"lcus://{board.path}?pulse=0.1"))
    try:
        assert board.next()[1] == OFF
        wait_until(lambda: dead.status()["gate"].state == DeviceState.OFFLINE)
        assert "ttyNOPE0" in dead.status()["gate"].message
        for _ in range(3):  # E2 keeps processing vehicles while E1's relay is missing
            began = time.monotonic()
            with pytest.raises(DeviceError, match="offline"):
                dead.gate.vend("ticket")
            assert time.monotonic() - began < 0.5  # refused at once (no reconnect wait), never blocking the screen
            live.gate.vend("ticket")
            assert board.next()[1] == ON and board.next()[1] == OFF
        assert live.status()["gate"].state == DeviceState.OK
    finally:
        dead.close()
        live.close()


def test_a_camera_that_cannot_listen_is_a_fault_and_retry_starts_it_later() -> None:
    """A real port conflict: another program holds the ANPR port, then lets it go."""
    import http.client
    import json

    from attendant.core.vocab import LaneDirection
    from hardware.anpr import AnprListener
    from hardware.config import LaneConfig, open_lane_devices

    squatter = socket.create_server(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    lane = LaneConfig("X1", "Exit 1", LaneDirection.EXIT, camera=f"webhook+http://127.0.0.1:{port}/plates")
    devices = open_lane_devices(lane)
    try:
        assert isinstance(devices.camera, AnprListener) and not devices.faults
        reads: queue.Queue = queue.Queue()
        devices.start(on_read=reads.put)
        status = devices.status()["camera"]
        assert status.state == DeviceState.FAULTED and "cannot listen" in status.message
        assert devices.retry() == []  # still taken: still faulted
        squatter.close()
        assert devices.retry() == ["camera"]
        assert devices.status()["camera"].state == DeviceState.OK
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        connection.request("POST", "/plates", json.dumps({"plate": "AB12CDE", "confidence": 0.9}),
                           {"Content-Type": "application/json"})
        assert connection.getresponse().status == 200
        connection.close()
        read = reads.get(timeout=WAIT)  # started with the remembered callback
        assert (read.plate, read.lane, read.source) == ("AB12CDE", "X1", "webhook")
    finally:
        squatter.close()
        devices.close()


def test_a_camera_driver_that_fails_to_load_is_a_fault_and_retry_opens_it(monkeypatch) -> None:
    import sys

    from attendant.core.vocab import LaneDirection
    from hardware.anpr import AnprListener
    from hardware.config import LaneConfig, open_lane_devices

    monkeypatch.setitem(sys.modules, "hardware.anpr", None)  # the ANPR driver cannot be imported
    lane = LaneConfig("X1", "Exit 1", LaneDirection.EXIT, gate="sim://?hold=0.1",
                      camera="anpr+http://127.0.0.1:0/?vendor=json")
    devices = open_lane_devices(lane)
    try:
        assert devices.camera is None and devices.gate is not None
        status = devices.status()["camera"]
        assert status.state == DeviceState.FAULTED
        assert status.message.startswith("X1 camera (anpr+http://127.0.0.1:0/?vendor=json): ")
        assert devices.retry() == []  # still missing: still faulted
        monkeypatch.undo()  # the driver is back (a fixed install)
        assert devices.retry() == ["camera"]
        assert isinstance(devices.camera, AnprListener) and devices.camera.vendor == "webhook"
        assert "camera" not in devices.faults
    finally:
        devices.close()
