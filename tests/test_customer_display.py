"""The customer display at an exit lane: the exact DM-D bytes a serial (pseudo-terminal) and a TCP display
receive, the fee then the change through the booth, and a display that is down never stopping a payment."""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from attendant.booth import Booth, ExitRequest, Tender, customer_display
from attendant.core.errors import InputError
from attendant.core.requests import EntryRequest
from attendant.core.views import PartPayment
from db.models import Payment
from hardware.base import DeviceState
from hardware.config import parse_config
from hardware.devices import KINDS
from hardware.displays import Screen, encode_screen, open_display, parse_display_url

INIT = b"\x1b@"  # ESC @
CLEAR = b"\x0c"  # CLR
OVERWRITE = b"\x1f\x01"  # US MD1
ROW1, ROW2 = b"\x1f$\x01\x01", b"\x1f$\x01\x02"  # US $ 1 1, US $ 1 2
#: One whole screen: ESC @, ESC t n, US MD1, CLR, then each cursor move and its 20 characters.
SCREEN_BYTES = 2 + 3 + 2 + 1 + 2 * (4 + 20)


def _read_until(fd: int, count: int, timeout: float = 5.0) -> bytes:
    """Bytes from ``fd`` until ``count`` arrived (or the time is up)."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            data += os.read(fd, 4096)
    return data


@pytest.fixture
def pty_port():
    """A pseudo-terminal pair: the display URL's port (the slave) and the master end reading what it got."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    yield master, name
    os.close(master)
    os.close(slave)


def test_a_serial_display_gets_init_clear_overwrite_and_both_rows_with_the_pound_in_pc437(pty_port):
    master, port = pty_port
    display = open_display(f"serial://{port}?baudrate=9600", name="X1 display")
    try:
        display.show(Screen.of("Please pay", "£4.80", "Stay", "1 h 5 min"))
        expected = (INIT + b"\x1bt\x00" + OVERWRITE + CLEAR
                    + ROW1 + b"Please pay     \x9c4.80" + ROW2 + b"Stay       1 h 5 min")
        assert _read_until(master, len(expected)) == expected
        assert display.wait_idle(2)
        assert display.status().state == DeviceState.OK
        assert display.rows == ("Please pay     £4.80", "Stay       1 h 5 min")
    finally:
        display.close()


def test_characters_the_code_page_lacks_are_never_sent():
    # PC437 has no euro sign or rupee: their ISO codes; é is in PC437 (0x82); Ş is not (its base letter S);
    # ł has no base letter in Unicode: "?"
    data = encode_screen(Screen.of("Fee", "€5.00", "Ştefan é ł", "₹30"), codepage=437)
    assert ROW1 + b"Fee" + b" " * 10 + b"EUR5.00" in data
    assert data.endswith(ROW2 + b"Stefan \x82 ?" + b" " * 5 + b"INR30")
    assert b"\xe2" not in data  # no UTF-8
    # PC858 has the euro (0xD5) and is table 19; £ is 0x9C in PC850 as in PC437
    assert b"\x1bt\x13" in encode_screen(Screen.of("x"), codepage=858)
    assert encode_screen(Screen.of("", "€5"), codepage=858).endswith(b"\xd55" + ROW2 + b" " * 20)
    assert b"\x9c" in encode_screen(Screen.of("£1"), codepage=850)
    # a row longer than the display is cut, keeping the amount whole
    assert Screen.of("A very long label indeed", "£1,234.50").rows()[0] == "A very lon £1,234.50"


def test_a_tcp_display_on_loopback_gets_the_same_commands():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = bytearray()
    expected = (INIT + b"\x1bt\x02" + OVERWRITE + CLEAR + ROW1 + b"Tendered      \x9c10.00"
                + ROW2 + b"Change         \x9c5.20")

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            while len(received) < len(expected):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    display = open_display(f"tcp://127.0.0.1:{port}?codepage=850")
    try:
        display.show(Screen.of("Tendered", "£10.00", "Change", "£5.20"))
        thread.join(5)
        assert bytes(received) == expected
    finally:
        display.close()
        server.close()


def test_display_urls_are_checked_like_every_device_url():
    assert parse_display_url("serial:///dev/ttyUSB1?baudrate=9600").params["serial"]["baudrate"] == 9600
    assert parse_display_url("tcp://10.0.0.9:9100").params == {
        "mode": "tcp", "host": "10.0.0.9", "port": 9100, "codepage": 437, "columns": 20, "timeout": 2.0}
    with pytest.raises(InputError, match="codepage must be 437, 850 or 858, got '1252'"):
        parse_display_url("serial:///dev/ttyUSB1?codepage=1252")
    with pytest.raises(InputError, match="needs a port"):
        parse_display_url("tcp://10.0.0.9")
    with pytest.raises(InputError, match="unknown scheme"):
        KINDS["display"].parse("usb://04b8:0202")
    with pytest.raises(InputError, match=r"lanes\[0\]\.display \(lane E1\): a customer display .* exit lane"):
        parse_config('[[lanes]]\ncode = "E1"\nname = "Entry"\ndirection = "entry"\ndisplay = "standin://"\n')


def _money(cents: int) -> str:
    return f"£{cents // 100}.{cents % 100:02d}"


def _config(display: str):
    return parse_config(f"""
        [[lanes]]
        code = "E1"
        name = "Entry 1"
        direction = "entry"
        [[lanes]]
        code = "X1"
        name = "Exit 1"
        direction = "exit"
        gate = "sim://?hold=0.05"
        display = "{display}"
        """, "display.toml")


def test_the_booth_shows_the_fee_at_look_up_then_tendered_and_change_then_thank_you(service, clock, pty_port,
                                                                                     monkeypatch):
    master, port = pty_port
    monkeypatch.setattr(customer_display, "RESULT_HOLD_S", 0.5)  # the change stays up 8 s at a real lane
    booth = Booth(service, _config(f"serial://{port}"))
    try:
        display = booth.devices(booth.lanes["X1"]).display
        assert display.wait_shown(lambda rows: rows[1].startswith("Please have ticket"), 5)
        assert _read_until(master, SCREEN_BYTES).endswith(b"Please have ticket  ")
        entry = booth.enter(EntryRequest("DS12 PLY", "car", lane="E1"), actor="t")
        clock.now += timedelta(hours=2)
        loaded = booth.checkout(entry.entry.code, lane="X1")
        assert display.wait_shown(lambda rows: rows[0].startswith("Please pay"), 5)
        due = loaded.balance
        assert display.rows[0].endswith(_money(due))
        got = _read_until(master, SCREEN_BYTES)
        assert got.startswith(INIT) and CLEAR in got and b"Please pay" in got and b"\x9c" in got

        tendered = (due // 1000 + 1) * 1000
        outcome = booth.exit(ExitRequest(entry.entry.code, (Tender("cash", tendered=tendered),), lane="X1"),
                             actor="t")
        assert outcome.exit.change == tendered - due
        assert display.wait_shown(lambda rows: rows[1].startswith("Change"), 5)
        change = tendered - due
        assert display.rows == (f"Tendered{_money(tendered):>12}", f"Change{_money(change):>14}")
        got = _read_until(master, SCREEN_BYTES)
        assert b"Tendered" in got and b"Change" in got and b"\x9c" in got
        # then Thank you, after the result's hold time
        assert display.wait_shown(lambda rows: rows[0].startswith("Thank you"), 5)
    finally:
        booth.close()


def test_a_display_that_is_down_shows_faulted_and_the_payment_still_completes(service, small_engine, clock):
    booth = Booth(service, _config("serial:///dev/ttyNO-SUCH-DISPLAY"))
    try:
        entry = booth.enter(EntryRequest("DN12 WAY", "car", lane="E1"), actor="t")
        clock.now += timedelta(hours=1)
        loaded = booth.checkout(entry.entry.code, lane="X1")
        start = time.monotonic()
        outcome = booth.exit(ExitRequest(entry.entry.code, (Tender("card"),), lane="X1"), actor="t")
        assert time.monotonic() - start < 2  # the display is never waited for
        assert not isinstance(outcome, PartPayment) and outcome.exit.paid == loaded.balance
        with small_engine.connect() as conn:
            assert conn.execute(sql_select(func.count()).select_from(Payment.__table__)
                                .where(Payment.__table__.c.status == "completed")).scalar_one() == 1
        display = booth.devices(booth.lanes["X1"]).display
        assert display.wait_idle(3)
        status = booth.devices(booth.lanes["X1"]).status()["display"]
        assert status.state == DeviceState.FAULTED
        assert "ttyNO-SUCH-DISPLAY" in status.message
    finally:
        booth.close()


def _pty_screens(master: int, quiet: float = 0.5) -> bytes:
    data = b""
    while select.select([master], [], [], quiet)[0]:
        data += os.read(master, 4096)
    return data


def test_the_cli_tests_a_display_and_its_exit_drives_it(tmp_path, demo_template, pty_port):
    from typer.testing import CliRunner

    from attendant.cli import app
    from tests.conftest import copy_database

    master, port = pty_port
    config = tmp_path / "console.toml"
    config.write_text(f'[[lanes]]\ncode = "E1"\nname = "Entry"\ndirection = "entry"\n'
                      f'[[lanes]]\ncode = "X1"\nname = "Exit"\ndirection = "exit"\ndisplay = "serial://{port}"\n',
                      encoding="utf-8")
    base = ["--db", copy_database(demo_template, tmp_path / "booth.db"), "--config", str(config)]

    ran = CliRunner().invoke(app, [*base, "devices", "test", "X1.display"])
    assert ran.exit_code == 0, ran.output
    assert "X1.display: ok: shows Display test" in ran.output
    got = _pty_screens(master)
    assert got.startswith(INIT) and ROW1 + b"Display test" in got and b"\x9c1.00" in got

    entered = CliRunner().invoke(app, [*base, "enter", "CL1 DSP", "--lane", "E1", "--json"])
    assert entered.exit_code == 0, entered.output
    code = json.loads(entered.stdout)["code"]
    left = CliRunner().invoke(app, [*base, "exit", code, "--pay", "card", "--lane", "X1"])
    assert left.exit_code == 0, left.output
    got = _pty_screens(master)  # the booth's idle screen, then the exit's result, written before the CLI ended
    assert got.count(INIT) >= 1 and (ROW1 + b"Nothing to pay" in got or ROW1 + b"Paid" in got)


def test_part_of_a_split_leaves_the_balance_and_what_is_paid_on_the_display(service, clock):
    booth = Booth(service, _config("standin://"))
    try:
        entry = booth.enter(EntryRequest("SP12 LIT", "car", lane="E1"), actor="t")
        clock.now += timedelta(hours=3)
        due = booth.checkout(entry.entry.code, lane="X1").balance
        part = booth.exit(ExitRequest(entry.entry.code, (Tender("cash", 500, 1000),), lane="X1"), actor="t")
        assert isinstance(part, PartPayment) and part.checkout.balance == due - 500
        display = booth.devices(booth.lanes["X1"]).display
        assert display.wait_shown(lambda rows: rows[1].startswith("Paid so far"), 5)
        assert display.rows == (f"Please pay{_money(due - 500):>10}", f"Paid so far{_money(500):>9}")
        # an exit dated in the past (a replay, a paper log) is not at the lane now: the display is left alone
        writes = display.writes
        booth.exit(ExitRequest(entry.entry.code, (Tender("card"),), lane="X1", at=clock.now), actor="t")
        time.sleep(0.2)
        assert display.writes == writes and display.rows[1].startswith("Paid so far")
    finally:
        booth.close()


def test_a_display_that_comes_back_gets_the_screen_it_missed():
    from hardware.displays import CustomerDisplay, EscposFace

    with socket.socket() as probe:  # a loopback port nobody listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    display = CustomerDisplay(EscposFace(mode="tcp", host="127.0.0.1", port=port, timeout=0.5),
                              name="X1 display", backoff=(0.05, 0.2))
    try:
        display.show(Screen.of("Please pay", "£2.40"))
        assert display.wait_idle(3)
        assert display.status().state == DeviceState.FAULTED and "retry in" in display.status().message
        server = socket.create_server(("127.0.0.1", port))
        try:
            server.settimeout(5)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5)
                data = b""
                while len(data) < SCREEN_BYTES:
                    data += conn.recv(4096)
            assert ROW1 + b"Please pay     \x9c2.40" in data
            assert display.wait_shown(lambda rows: rows[0].startswith("Please pay"), 3)
            assert display.status().state == DeviceState.OK
        finally:
            server.close()
    finally:
        display.close()
