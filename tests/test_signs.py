"""Count signs (issue 13 item 3): hardware/signs.py, attendant/core/signs.py, attendant/booth/signs.py, the CLI.

Real parts: a pymodbus 3.16 TCP server on 127.0.0.1 (SimDevice datastore)
records every register and coil write a sign makes; a stdlib
``http.server`` on 127.0.0.1 records every JSON push; entries and exits go
through the booth services into a real SQLite file and reach the signs
through the change feed, as in the console. A sign that is down is a port
nobody listens on (connection refused) until the server starts there.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceState

WAIT = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ModbusDisplay:
    """A Modbus TCP count display stand-in: a real pymodbus server recording ``(function, address, values)``
    of each write; ``registers`` / ``coils`` hold the values written."""

    def __init__(self, port: int = 0, *, serial: str | None = None) -> None:
        from pymodbus.simulator import SimData, SimDevice
        from pymodbus.simulator.simutils import DataType

        self.serial = serial  # a serial device path: Modbus RTU on it (9600 8N1 or 19200 here), else TCP
        self.port = port or free_port()
        self.writes: queue.Queue[tuple[int, int, list]] = queue.Queue()
        self.registers: dict[int, int] = {}
        self.coils: dict[int, bool] = {}

        async def action(function_code, start_address, address, count, registers, set_values):
            if set_values is not None and function_code in (5, 6, 16):
                values = list(set_values)
                store = self.coils if function_code == 5 else self.registers
                for offset, value in enumerate(values):
                    store[address + offset] = value
                self.writes.put((function_code, address, values))

        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        regs = [SimData(0, count=200, values=0, datatype=DataType.REGISTERS)]
        self._device = SimDevice(id=1, simdata=(bits, list(bits), regs, list(regs)), action=action)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        assert self._ready.wait(WAIT), "the Modbus server did not start"

    async def _serve(self) -> None:
        from pymodbus.framer import FramerType
        from pymodbus.server import ModbusSerialServer, ModbusTcpServer

        self._loop = asyncio.get_running_loop()
        if self.serial is not None:
            self._server = ModbusSerialServer(self._device, framer=FramerType.RTU, port=self.serial, baudrate=19200)
        else:
            self._server = ModbusTcpServer(self._device, address=("127.0.0.1", self.port), framer=FramerType.SOCKET)
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    def write(self, timeout: float = WAIT) -> tuple[int, int, list]:
        return self.writes.get(timeout=timeout)

    def until(self, predicate, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"display holds {self.registers} {self.coils}"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(WAIT)
            self._thread.join(WAIT)


class SerialPair:
    """Two pseudo-terminals joined back to back, as a null-modem cable joins two serial ports: what one
    side's program writes, the other side's reads. ``paths`` are the two device paths."""

    def __init__(self) -> None:
        import os
        import tty

        self._fds = []
        masters, paths = [], []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            masters.append(master)
            paths.append(os.ttyname(slave))
            self._fds += [master, slave]
        self.paths = tuple(paths)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=tuple(masters), daemon=True)
        self._thread.start()

    def _pump(self, a: int, b: int) -> None:
        import os
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                os.write(b if fd == a else a, data)

    def close(self) -> None:
        import os

        self._stop.set()
        self._thread.join(WAIT)
        for fd in self._fds:
            os.close(fd)


class PushReceiver:
    """A sign controller stand-in: a stdlib HTTP server on 127.0.0.1 keeping every JSON body posted to it.
    ``answer`` is the status it replies with."""

    def __init__(self, port: int = 0) -> None:
        self.bodies: queue.Queue[tuple[str, dict, dict]] = queue.Queue()
        self.answer = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.put((self.path, dict(self.headers), body))
                self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def push(self, timeout: float = WAIT) -> tuple[str, dict, dict]:
        return self.bodies.get(timeout=timeout)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def display():
    server = ModbusDisplay()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = PushReceiver()
    yield server
    server.stop()


def sign_config(*tables: str):
    from hardware.config import parse_config

    lanes = '[[lanes]]\ncode = "E1"\nname = "Entry 1"\ndirection = "entry"\n'
    return parse_config(lanes + "".join(tables), "console.toml")


def sign(name: str, scope: str, url: str, extra: str = "") -> str:
    return f'[[signs]]\nname = "{name}"\nscope = "{scope}"\nurl = "{url}"\n{extra}\n'


@pytest.fixture
def small(request, small_template, tmp_path, clock):
    """The small facility (L0: 18 bays in zones A and B; L1: 9 regular bays in zone A) and its services."""
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine
    from tests.conftest import copy_database

    engine = make_engine(copy_database(small_template, tmp_path / "booth.db"))
    service = ParkingService(engine, TicketSigner.from_site(), clock=clock)
    yield service
    engine.dispose()


def board_for(service, config, **kwargs):
    from attendant.booth.signs import SignBoard

    return SignBoard(service.engine, config.signs, facility=service.facility.code,
                     backoff=kwargs.pop("backoff", (0.1, 0.4)), **kwargs).follow()


# --------------------------------------------------------------------------- URLs and config


def test_sign_urls_parse_with_their_options_and_refuse_mistakes() -> None:
    from hardware.signs import SIGN, parse_sign_url

    for scheme in SIGN.schemes.values():
        assert parse_sign_url(scheme.example).scheme == scheme.name
    tcp = parse_sign_url("modbus+tcp://10.0.0.9?unit=3&register=100&full_coil=2&refresh=0")
    assert tcp.params == {"mode": "tcp", "host": "10.0.0.9", "port": 502, "unit": 3, "register": 100,
                          "full_coil": 2, "timeout": 1.0} and tcp.refresh is None
    rtu = parse_sign_url("modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&unit=1&register=100&full_register=101")
    assert (rtu.params["device"], rtu.params["baudrate"], rtu.params["parity"], rtu.params["full_register"]) == (
        "/dev/ttyUSB0", 19200, "E", 101)
    http = parse_sign_url("https://signs.example.net/api/count?token=s3cret&timeout=5")
    assert http.params == {"url": "https://signs.example.net:443/api/count", "token": "s3cret", "timeout": 5.0}

    with pytest.raises(InputError, match=r"register must be between 0 and 65535, got 70000"):
        parse_sign_url("modbus+tcp://10.0.0.9?register=70000")
    with pytest.raises(InputError, match=r"full_register must differ from register"):
        parse_sign_url("modbus+tcp://10.0.0.9?register=5&full_register=5")
    with pytest.raises(InputError, match=r"unknown option 'coil'"):
        parse_sign_url("modbus+tcp://10.0.0.9?coil=1")
    with pytest.raises(InputError, match=r"did you mean modbus\+rtu"):
        parse_sign_url("modbus-rtu:///dev/ttyUSB0")
    with pytest.raises(InputError) as refused:
        parse_sign_url("http://signs.local/x?token=s3cret&colour=red")
    assert "s3cret" not in str(refused.value) and "colour" in str(refused.value)


def test_signs_in_the_console_config_are_checked_field_by_field() -> None:
    config = sign_config(sign("L0", "level:l0", "standin://"),
                         sign("EV", "facility", "http://10.0.0.5/ev", 'types = ["ev"]\nfacility = "tst"'),
                         sign("IN", "level:L0+zone:L1-A", "modbus+tcp://10.0.0.9?register=100"))
    level, ev, entrance = config.signs
    assert (level.name, level.scope.text, level.facility) == ("L0", "level:L0", None)
    assert (ev.scope.text, ev.scope.types, ev.facility) == ("facility", frozenset({"ev"}), "TST")
    assert entrance.scope.text == "level:L0+zone:L1-A"
    assert config.sign("in") is entrance

    bad = {
        sign("L0", "floor:2", "standin://"): r"signs\[0\] \(sign L0\)\.scope: .*'floor:2' is not a scope",
        sign("L0", "zone:A", "standin://"): r"\.scope: .*write zone:LEVEL-ZONE",
        sign("L0", "level:L0", "modbus+tcp://x?unit=300"): r"signs\[0\] \(sign L0\)\.url: .*unit must be between",
        sign("L0", "level:L0", "standin://", 'types = ["bus"]'): r"\.types: spot type must be one of",
        sign("L0", "level:L0", "standin://", 'colour = "red"'): r"\.colour: unknown key",
        sign("L 0", "level:L0", "standin://"): r"signs\[0\]\.name: must be 1 to 16",
        sign("L0", "level:L0", "standin://") + sign("l0", "level:L1", "standin://"): r"already used by signs\[0\]",
    }
    for tables, message in bad.items():
        with pytest.raises(InputError, match=message):
            sign_config(tables)


# --------------------------------------------------------------------------- the link alone


def test_a_link_coalesces_a_burst_and_retries_a_broken_sign_with_backoff() -> None:
    from hardware.signs import SignLink, SignReading, StandinCountSign

    face = StandinCountSign("L0")
    link = SignLink(face, min_interval=0.25, backoff=(0.05, 0.2))
    try:
        began = time.monotonic()
        for free in range(40, 0, -1):  # 40 changes in well under a second
            link.update(SignReading("L0", "level:L0", free))
            time.sleep(0.005)
        assert link.wait_shown(lambda shown: shown.free == 1, 2.0)
        took = time.monotonic() - began
        assert len(face.readings) <= 2 + int(took / 0.25)  # at most 4 writes a second, the last count wins
        assert face.readings[0].free == 40 and link.status().state == DeviceState.OK

        face.broken = True
        link.update(SignReading("L0", "level:L0", 0))
        deadline = time.monotonic() + 2
        while link.failures < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        status = link.status()
        assert status.state == DeviceState.FAULTED and "not answering" in status.message
        face.broken = False
        assert link.wait_shown(lambda shown: shown.full, 2.0)
        assert face.text == "FULL" and link.status().message == "sign L0: shows FULL" and link.failures == 0
    finally:
        link.close()


def test_a_link_waits_idle_until_the_write_under_way_is_recorded() -> None:
    """``SignLink.wait_idle`` (what ``signs run`` does at ctrl+c before its last report): a write
    under way is waited for, so what the sign shows is known when the command stops."""
    import threading

    from hardware.signs import SignLink, SignReading, StandinCountSign

    class SlowSign(StandinCountSign):
        def __init__(self) -> None:
            super().__init__("L0")
            self.writing, self.release = threading.Event(), threading.Event()

        def show(self, reading: SignReading) -> None:
            self.writing.set()
            assert self.release.wait(5)
            super().show(reading)

    face = SlowSign()
    link = SignLink(face, min_interval=0.0, backoff=(0.05, 0.2))
    try:
        assert link.wait_idle(0.0)  # nothing to write yet
        link.update(SignReading("L0", "level:L0", 8))
        assert face.writing.wait(2)
        assert not link.wait_idle(0.1)  # the sign has not answered: the write is under way
        threading.Timer(0.1, face.release.set).start()
        assert link.wait_idle(2)
        assert link.shown.free == 8 and face.readings[-1].free == 8
    finally:
        face.release.set()
        link.close()


# --------------------------------------------------------------------------- driven by the change feed


def test_a_modbus_sign_follows_entries_and_shows_full_when_the_last_bay_is_taken(service, display) -> None:
    """On SQLite and PostgreSQL (the change feed's doorbell there): the small facility from conftest."""
    small = service
    url = f"modbus+tcp://127.0.0.1:{display.port}?unit=1&register=100&full_register=101"
    config = sign_config(sign("L1", "level:L1", url))
    board = board_for(small, config)
    try:
        display.until(lambda: display.registers.get(100) == 9)  # L1: nine free regular bays
        assert display.registers[101] == 0
        function, address, values = display.write()
        assert (function, address, values) == (16, 100, [9, 0])  # count and FULL flag in one write

        for number in range(1, 10):
            small.enter(f"SG{number} ABC", "car", actor="t", spot_label=f"L1-A{number:02d}")
            if number == 4:
                display.until(lambda: display.registers.get(100) == 5)  # within a second or so of the commit
        display.until(lambda: display.registers.get(101) == 1)
        assert display.registers[100] == 0
        assert board.links["L1"].wait_shown(lambda shown: shown.full, WAIT)
        assert board.status()["L1"].message == "sign L1: shows FULL"
        assert board.links["L1"].shown.as_of.tzinfo is not None

        entry = small.find_by_plate("SG3 ABC")
        small.clock.now += timedelta(hours=1)
        small.exit(entry.code, method="cash", actor="t", tendered=500, lane="X1")
        display.until(lambda: display.registers.get(100) == 1 and display.registers.get(101) == 0)
    finally:
        board.close()


def test_http_signs_get_json_pushes_per_scope(small, receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    config = sign_config(sign("ZA", "zone:L0-A", f"{base}/signs/za?token=s3cret"),
                         sign("EV", "facility", f"{base}/signs/ev", 'types = ["ev"]'))
    board = board_for(small, config)
    try:
        first = {}
        for _ in range(2):
            path, headers, body = receiver.push()
            first[path] = (headers, body)
        za_headers, za = first["/signs/za"]
        assert za_headers["Authorization"] == "Bearer s3cret" and "Authorization" not in first["/signs/ev"][0]
        assert {k: za[k] for k in ("sign", "scope", "free", "full")} == {
            "sign": "ZA", "scope": "zone:L0-A", "free": 9, "full": False}
        assert za["as_of"].endswith("Z")
        assert first["/signs/ev"][1]["free"] == 1  # one EV bay in the whole facility

        small.enter("EV1 ABC", "car", ev=True, actor="t")  # the EV bay, L0-A03
        pushes = [receiver.push()[2], receiver.push()[2]]
        assert sorted((p["sign"], p["free"], p["full"]) for p in pushes) == [("EV", 0, True), ("ZA", 8, False)]

        receiver.answer = 503  # the controller refuses: faulted, retried, back when it answers again
        small.enter("EV2 ABC", "car", actor="t", spot_label="L0-A04")
        receiver.push()
        deadline = time.monotonic() + WAIT
        while board.status()["ZA"].state != DeviceState.FAULTED:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert "answered 503" in board.status()["ZA"].message and "s3cret" not in board.status()["ZA"].message
        assert board.status()["EV"].state == DeviceState.OK  # one sign down takes no other down
        receiver.answer = 204
        assert board.links["ZA"].wait_shown(lambda shown: shown.free == 7, WAIT)
        assert board.status()["ZA"].state == DeviceState.OK
    finally:
        board.close()


def test_a_burst_of_entries_gives_a_few_writes_a_second_and_ends_on_the_last_count(small, receiver) -> None:
    config = sign_config(sign("L0", "level:L0", f"http://127.0.0.1:{receiver.port}/l0"))
    board = board_for(small, config)
    try:
        assert receiver.push()[2]["free"] == 18
        began = time.monotonic()
        bays = ["L0-A03", "L0-A04", "L0-A05", "L0-A06", *(f"L0-B0{n}" for n in range(1, 7))]  # the car bays
        for number, bay in enumerate(bays):  # ten vehicles as fast as the booth admits them
            small.enter(f"BU{number} RST", "car", actor="t", spot_label=bay)
        pushes = []
        while not pushes or pushes[-1]["free"] != 8:
            pushes.append(receiver.push()[2])
        took = time.monotonic() - began
        assert len(pushes) <= 2 + int(took / 0.25), (took, [p["free"] for p in pushes])
        assert [p["free"] for p in pushes] == sorted((p["free"] for p in pushes), reverse=True)
        time.sleep(0.3)
        assert receiver.bodies.empty()  # nothing more once the count is shown
    finally:
        board.close()


def test_a_sign_that_is_down_shows_faulted_and_recovers_when_it_comes_up(small) -> None:
    port = free_port()  # nobody listens: connection refused
    config = sign_config(sign("L0", "level:L0", f"modbus+tcp://127.0.0.1:{port}?register=7&timeout=0.5"),
                         sign("X", "level:L9", "standin://"))
    board = board_for(small, config)
    display = None
    try:
        deadline = time.monotonic() + WAIT
        while board.status()["L0"].state != DeviceState.FAULTED:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert "no connection to Modbus sign 127.0.0.1" in board.status()["L0"].message
        assert board.status()["X"].state == DeviceState.FAULTED  # a scope the facility does not have
        assert "no level L9; levels are L0, L1" in board.status()["X"].message

        small.enter("DN1 ABC", "car", actor="t", spot_label="L0-A05")  # the booth works with the sign down
        display = ModbusDisplay(port)
        display.until(lambda: display.registers.get(7) == 17)  # the count as it is now, not as it was
        assert board.status()["L0"].state == DeviceState.OK
    finally:
        board.close()
        if display is not None:
            display.stop()


def test_a_modbus_rtu_sign_on_a_serial_line_with_a_full_lamp() -> None:
    """RTU framing over a real serial line: pymodbus's serial server on one pseudo-terminal of a pair, the
    sign on the other, at 19200 baud; FULL lights the lamp on coil 3 and writes 0 to the count register."""
    from hardware.signs import ModbusCountSign, SignReading, open_sign

    pair = SerialPair()
    server_path, sign_path = pair.paths
    display = ModbusDisplay(serial=server_path)
    link = open_sign(f"modbus+rtu://{sign_path}?baudrate=19200&unit=1&register=100&full_coil=3",
                     name="L2", backoff=(0.1, 0.4))
    try:
        assert isinstance(link.sign, ModbusCountSign) and link.sign.serial_settings["baudrate"] == 19200
        link.update(SignReading("L2", "level:L2", 5))
        assert display.write() == (6, 100, [5])
        assert display.write() == (5, 3, [False])
        link.update(SignReading("L2", "level:L2", 0))
        assert display.write() == (6, 100, [0])
        assert display.write() == (5, 3, [True])
        assert link.wait_shown(lambda shown: shown.full, WAIT) and link.status().state == DeviceState.OK
    finally:
        link.close()
        display.stop()
        pair.close()


# --------------------------------------------------------------------------- CLI


def test_cli_lists_tests_and_runs_the_signs(tmp_path, small, receiver, display) -> None:
    """``signs list`` and ``signs test`` in this process (tests/cli_support.py), ``signs run`` as the console
    script in a process of its own, stopped by ctrl+c."""
    import signal
    import subprocess
    import sys

    from tests.cli_support import Attendant
    from tests.conftest import REPO

    config = tmp_path / "console.toml"
    config.write_text(
        '[[lanes]]\ncode = "E1"\nname = "Entry 1"\ndirection = "entry"\n'
        + sign("L1", "level:L1", f"modbus+tcp://127.0.0.1:{display.port}?register=100")
        + sign("ALL", "facility", f"http://127.0.0.1:{receiver.port}/all")
        + sign("DOWN", "zone:L0-B", f"modbus+tcp://127.0.0.1:{free_port()}?register=1"))
    cli = Attendant(tmp_path, str(small.engine.url))

    rows = {row["name"]: row for row in cli.json("--config", str(config), "signs", "list")["signs"]}
    assert (rows["L1"]["free"], rows["L1"]["capacity"], rows["ALL"]["free"], rows["DOWN"]["free"]) == (9, 9, 27, 9)
    assert display.writes.empty() and receiver.bodies.empty()  # list writes nothing

    tested = cli.run("--config", str(config), "signs", "test", "all", "--free", "0")
    assert tested.stdout.strip() == "ALL: shows FULL"
    assert receiver.push()[2]["full"] is True
    missing = cli.run("--config", str(config), "signs", "test", "L7", "--free", "3", expect=2)
    assert "no sign 'L7'" in missing.stderr and "signs are L1, ALL, DOWN" in missing.stderr
    down = cli.run("--config", str(config), "signs", "test", "DOWN", "--free", "3", expect=2)
    assert down.stdout == ""
    assert down.stderr.strip().startswith("attendant: sign DOWN: no connection to Modbus sign 127.0.0.1:")

    base = [sys.executable, "-m", "attendant", "--db", str(small.engine.url), "--config", str(config)]
    run = subprocess.Popen([*base, "signs", "run", "--json", "--seconds", "20"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        display.until(lambda: display.registers.get(100) == 9, timeout=20)
        small.enter("RN1 ABC", "car", actor="t", spot_label="L1-A01")
        display.until(lambda: display.registers.get(100) == 8)
        assert receiver.push()[2]["free"] == 27 and receiver.push()[2]["free"] == 26
    finally:
        run.send_signal(signal.SIGINT)  # ctrl+c
        out, err = run.communicate(timeout=10)
    assert run.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert any(line["sign"] == "DOWN" and line["state"] == "faulted" for line in lines)  # the others went on
    assert {"sign": "L1", "state": "ok", "shows": "8"}.items() <= next(
        line for line in lines if line["shows"] == "8").items()
