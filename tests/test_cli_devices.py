"""``attendant devices list/test/watch`` through typer's CliRunner on the real app.

The config names real transports: an ESC/POS printer on a loopback TCP socket
(the test is the printer and keeps the bytes), an LCUS relay and a serial
scanner on pseudo-terminals (the test reads the relay's frames and types the
scanner's code at the master side).
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attendant.cli import app
from tests.conftest import copy_database
from tests.escpos_parse import parse

WAIT = 2.0
ON, OFF = bytes.fromhex("A00101A2"), bytes.fromhex("A00100A1")


class LoopbackPrinter:
    """A TCP server that accepts print jobs (one connection each) and keeps their bytes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.jobs: queue.Queue[bytes] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            self.jobs.put(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        self._thread.join(WAIT)


class Pty:
    """A pseudo-terminal pair; ``frames()`` reads 4-byte relay frames at the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)

    def read_all(self, quiet: float = 0.2) -> bytes:
        data = b""
        while select.select([self.master], [], [], quiet)[0]:
            data += os.read(self.master, 1024)
        return data

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


DB: dict[Path, str] = {}  # config file -> the database its commands use (a copy of the demo facility)


@pytest.fixture
def rig(tmp_path: Path, demo_template):
    printer, relay, scanner = LoopbackPrinter(), Pty(), Pty()
    config = tmp_path / "console.toml"
    config.write_text(
        f"""
[[lanes]]
code = "E1"
name = "Entry 1"
direction = "entry"
printer = "tcp://127.0.0.1:{printer.port}"
gate = "lcus://{relay.path}?pulse=0.1"
scanner = "serial://{scanner.path}?terminator=CRLF"

[[lanes]]
code = "X1"
name = "Exit 1"
direction = "exit"
printer = "tcp://127.0.0.1:1"
gate = "sim://?hold=0.1"
camera = "standin://"
""",
        encoding="utf-8",
    )
    DB[config] = copy_database(demo_template, tmp_path / "booth.db")
    yield config, printer, relay, scanner
    DB.pop(config, None)
    printer.close()
    relay.close()
    scanner.close()


def run(config: Path, *args: str, login: tuple[str, ...] = ()):
    db = ["--db", DB[config]] if config in DB else []
    return CliRunner().invoke(app, [*db, "--config", str(config), *login, "devices", *args])


def vends(config: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(DB[config].removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT lane, direction, source, actor, outcome FROM vend ORDER BY id").fetchall()


def test_devices_list_json(rig) -> None:
    config, _printer, relay, _scanner = rig
    result = run(config, "list", "--json", "--wait", "2")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"] == str(config)
    e1, x1 = data["lanes"]
    assert (e1["code"], e1["direction"], x1["code"], x1["direction"]) == ("E1", "entry", "X1", "exit")
    devices = {d["name"]: d for d in e1["devices"] + x1["devices"]}
    assert list(devices) == ["E1.printer", "E1.gate", "E1.scanner", "X1.printer", "X1.gate", "X1.camera"]
    assert devices["E1.gate"]["url"] == f"lcus://{relay.path}?pulse=0.1"
    assert (devices["E1.gate"]["state"], devices["E1.gate"]["message"]) == ("ok", "gate closed")
    assert devices["E1.scanner"]["state"] == "ok"
    assert devices["E1.printer"]["state"] == "unknown"  # printers connect per job
    assert devices["X1.camera"]["state"] == "ok"
    assert relay.read_all() == OFF + OFF  # forced off when opened, and when closed again

    text = run(config, "list", "--wait", "0.5")
    assert text.exit_code == 0
    assert "E1       entry  Entry 1" in text.stdout and "  gate     ok" in text.stdout


def test_devices_test_printer_and_gate(rig) -> None:
    config, printer, relay, _scanner = rig
    result = run(config, "test", "E1.printer")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "E1.printer: ok: printed a test page"
    page = parse(printer.jobs.get(timeout=WAIT))
    assert "device test" in page.text and "E1.printer  Entry 1" in page.text and page.cuts
    assert relay.read_all(quiet=0.05) == b""  # testing the printer did not touch the gate

    began = time.monotonic()
    result = run(config, "test", "e1.gate")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("E1.gate: ok: pulsed: open -> closed in 0.1")
    assert "commanded (no limit switch)" in result.stdout
    assert relay.read_all() == OFF + ON + OFF + OFF  # off at start, the pulse, off at stop
    assert time.monotonic() - began < 3.0
    (vend,) = vends(config)  # the barrier moved: recorded like any opening (setup mode: the OS account)
    assert vend[:3] == ("E1", "entry", "test") and vend[3].startswith("cli:") and vend[4] == "opened"


def test_a_gate_test_is_a_supervisor_action_once_users_exist(rig) -> None:
    config, _printer, relay, _scanner = rig
    db = ["--db", DB[config]]
    runner = CliRunner()
    for args in (["user", "add", "root", "--role", "admin", "--pin", "135790"],
                 ["--user", "root", "--pin", "135790", "user", "add", "ann", "--role", "attendant", "--pin",
                  "246802"],
                 ["--user", "root", "--pin", "135790", "user", "add", "sue", "--role", "supervisor", "--pin",
                  "864200"]):
        assert runner.invoke(app, [*db, *args]).exit_code == 0
    nobody = run(config, "test", "E1.gate")
    assert nobody.exit_code == 2 and "users exist: log in" in nobody.stderr
    ann = run(config, "test", "E1.gate", login=("--user", "ann", "--pin", "246802"))
    assert ann.exit_code == 2 and "testing a gate (it opens the barrier) needs a supervisor" in ann.stderr
    assert relay.read_all(quiet=0.05) == b"" and vends(config) == []  # the barrier never moved
    sue = run(config, "test", "E1.gate", login=("--user", "sue", "--pin", "864200"))
    assert sue.exit_code == 0, sue.stderr
    assert vends(config) == [("E1", "entry", "test", "sue", "opened")]


def test_devices_test_scanner_reads_one_code(rig) -> None:
    config, _printer, _relay, scanner = rig
    stop = threading.Event()

    def scan_until_read() -> None:  # a person holding a ticket under the scanner
        while not stop.wait(0.1):
            os.write(scanner.master, b"T1.ABC123\r\n")

    presenter = threading.Thread(target=scan_until_read, daemon=True)
    presenter.start()
    try:
        result = run(config, "test", "E1.scanner", "--timeout", "3")
    finally:
        stop.set()
        presenter.join(WAIT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "E1.scanner: ok: read 'T1.ABC123'"


def test_devices_test_a_lane_with_a_dead_printer_exits_2(rig) -> None:
    config, *_ = rig
    result = run(config, "test", "X1", "--timeout", "2")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith("X1.printer: FAILED: ")
    assert lines[1].startswith("X1.gate: ok: pulsed")
    assert lines[2] == "X1.camera: ok: stand-in camera: nothing to read"
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("attendant: device test failed: X1.printer (")


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("Z9", "no lane 'Z9'"),
        ("E1.horn", "unknown device 'E1.horn'"),
        ("X1.scanner", "lane X1 has no scanner"),
    ],
)
def test_devices_test_bad_names(rig, name: str, detail: str) -> None:
    config, *_ = rig
    result = run(config, "test", name)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and detail in result.stderr


def test_devices_watch_prints_events_with_utc_stamps(rig) -> None:
    config, _printer, _relay, scanner = rig

    stop = threading.Event()

    def scan_repeatedly() -> None:  # pyserial flushes input on open: keep presenting until watch ends
        while not stop.wait(0.15):
            os.write(scanner.master, b"\x00\x01\r\nT1.WATCHED\r\n")

    presenter = threading.Thread(target=scan_repeatedly, daemon=True)
    presenter.start()
    try:
        result = run(config, "watch", "--seconds", "1")
    finally:
        stop.set()
        presenter.join(WAIT)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert all(re.match(stamp + " ", line) for line in lines), lines
    body = [line[25:] for line in lines]
    assert any(line.startswith("E1       scanner  code 'T1.WATCHED'") for line in body), body
    assert any("scanner  rejected (noise)" in line for line in body), body
    assert any(line.startswith("E1       gate     status ok: gate closed") for line in body), body


def test_bad_config_is_one_line_on_stderr(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[lanes]]\ncode = "E1"\nname = "E"\ndirection = "entry"\ngate = "lcus://"\n')
    result = run(config, "list")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"attendant: {config}: lanes[0].gate (lane E1): gate URL 'lcus://'")
    assert len(result.stderr.splitlines()) == 1
