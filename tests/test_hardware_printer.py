"""ESC/POS printers: real bytes over a real TCP socket (and a file), parsed back.

The TCP "printer" is a socket server on 127.0.0.1 that keeps the bytes of each
connection; tests/escpos_parse.py reads them like a printer would.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState, ReceiptData, TicketData
from hardware.printers import (
    EscposTicketPrinter,
    PrinterProfile,
    StandinPrinter,
    format_local_time,
    open_printer,
    parse_printer_url,
)
from tests.escpos_parse import Cut, parse
from tests.printer_sink import PrinterSink

LONDON = ZoneInfo("Europe/London")
CODE = "T1.00000042.L2-C07.1782900300.Zx9_Qm3-vT0bW8yKpL2sN4dE6fG8hJ0k"


def make_ticket(**changes: object) -> TicketData:
    fields: dict[str, object] = dict(
        facility_name="Charlotte Street Car Park",
        facility_address="12 Charlotte St, London W1T 4QT",
        ticket_no="00000042",
        code=CODE,
        entry_at_local=datetime(2026, 7, 1, 8, 5, tzinfo=LONDON),
        spot_label="L2-C07",
        level_name="Level 2",
        plate="AB12 CDE",
        vehicle_class="car",
        lane="E1",
        rate_summary="£2.40 per started hour, max £18.90 a day",
    )
    fields.update(changes)
    return TicketData(**fields)  # type: ignore[arg-type]


def make_receipt(**changes: object) -> ReceiptData:
    fields: dict[str, object] = dict(
        facility_name="Charlotte Street Car Park",
        facility_address=None,
        receipt_no="R-000317",
        ticket_no="00000042",
        plate="AB12 CDE",
        entry_at_local=datetime(2026, 7, 1, 8, 5, tzinfo=LONDON),
        exit_at_local=datetime(2026, 7, 1, 11, 17, tzinfo=LONDON),
        duration_text="3 h 12 min",
        lines=(("Parking 4 h x £2.40", "£9.60"), ("Validation: Café Nero", "-£1.00")),
        total="£8.60",
        method="cash",
        paid="£8.60",
        tendered="£10.00",
        change="£1.40",
        lane="X1",
    )
    fields.update(changes)
    return ReceiptData(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sink():
    server = PrinterSink()
    yield server
    server.close()


def test_ticket_over_tcp_carries_text_qr_code128_and_cut(sink: PrinterSink) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{sink.port}", timeout=2.0)
    ticket = make_ticket()
    printer.print_ticket(ticket)

    (data,) = sink.wait_jobs(1)
    paper = parse(data)
    assert "Charlotte Street Car Park" in paper.text
    assert "L2-C07" in paper.lines
    assert "Level 2" in paper.lines
    assert any(line.startswith("Ticket no") and line.endswith("00000042") for line in paper.lines)
    assert any(line.startswith("Entry") and line.endswith("2026-07-01 08:05 BST") for line in paper.lines)
    assert any(line.endswith("AB12 CDE") for line in paper.lines)
    assert "£2.40 per started hour, max £18.90 a day" in paper.lines  # code page switch decoded
    assert paper.qr == [CODE]  # the signed code, exactly
    assert paper.qr_symbols[0].printed
    assert [(b.name, b.data, b.payload) for b in paper.barcodes] == [("CODE128", "{B00000042", "00000042")]
    assert paper.cuts == [Cut("full", 0)]
    assert all(len(line) <= 42 for line in paper.lines)
    assert printer.status().state == DeviceState.OK


def test_receipt_over_tcp_has_breakdown_total_and_change(sink: PrinterSink) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{sink.port}", timeout=2.0)
    printer.print_receipt(make_receipt())

    paper = parse(sink.wait_jobs(1)[0])
    lines = paper.lines
    assert any(line.startswith("Receipt no") and line.endswith("R-000317") for line in lines)
    assert any(line.startswith("Ticket no") and line.endswith("00000042") for line in lines)
    assert any(line.startswith("Entry") and line.endswith("2026-07-01 08:05 BST") for line in lines)
    assert any(line.startswith("Exit") and line.endswith("2026-07-01 11:17 BST") for line in lines)
    assert any(line.startswith("Duration") and line.endswith("3 h 12 min") for line in lines)
    assert any(line.startswith("Parking 4 h x £2.40") and line.endswith("£9.60") for line in lines)
    assert any(line.startswith("Validation: Café Nero") and line.endswith("-£1.00") for line in lines)
    assert any(line.startswith("TOTAL") and line.endswith("£8.60") for line in lines)
    assert any(line.startswith("Payment") and line.endswith("cash") for line in lines)
    assert any(line.startswith("Tendered") and line.endswith("£10.00") for line in lines)
    assert any(line.startswith("Change") and line.endswith("£1.40") for line in lines)
    assert paper.qr == [] and paper.barcodes == []
    assert paper.cuts == [Cut("full", 0)]


def test_card_receipt_prints_no_tendered_or_change(sink: PrinterSink) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{sink.port}", timeout=2.0)
    printer.print_receipt(make_receipt(method="card", tendered=None, change=None))
    lines = parse(sink.wait_jobs(1)[0]).lines
    assert not any(line.startswith(("Tendered", "Change")) for line in lines)
    assert any(line.startswith("Payment") and line.endswith("card") for line in lines)


def test_each_job_is_its_own_connection_and_a_vanished_printer_is_retried(sink: PrinterSink) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{sink.port}", timeout=1.0)
    printer.print_ticket(make_ticket())
    printer.print_text(["test print", "line two"])
    jobs = sink.wait_jobs(2)
    assert len(jobs) == 2
    assert "test print" in parse(jobs[1]).lines

    port = sink.port
    sink.close()  # the printer is switched off
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert failure.value.state == DeviceState.OFFLINE
    assert printer.status().state == DeviceState.OFFLINE
    assert "offline" in str(failure.value)

    back = PrinterSink(port)  # switched on again: the next job just works
    try:
        printer.print_ticket(make_ticket(ticket_no="00000043"))
        paper = parse(back.wait_jobs(1)[0])
        assert [b.payload for b in paper.barcodes] == ["00000043"]
        assert printer.status().state == DeviceState.OK
    finally:
        back.close()


def test_printer_not_listening_fails_fast_and_goes_offline() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on this port now
    printer = open_printer(f"tcp://127.0.0.1:{port}", timeout=1.0)
    assert printer.status().state == DeviceState.UNKNOWN
    started = time.monotonic()
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert time.monotonic() - started < 1.0
    assert failure.value.state == DeviceState.OFFLINE
    assert "connection refused" in str(failure.value)
    status = printer.status()
    assert status.state == DeviceState.OFFLINE and status.message == str(failure.value)


def test_printer_that_never_answers_returns_within_the_timeout() -> None:
    # A listening socket whose accept queue is full: the next connect hangs,
    # like a printer that is powered but wedged.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    filler = socket.create_connection(server.getsockname(), timeout=1.0)
    try:
        printer = open_printer(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(DeviceError) as failure:
            printer.print_ticket(make_ticket())
        elapsed = time.monotonic() - started
        assert elapsed < 0.3 + 0.2
        assert failure.value.state == DeviceState.OFFLINE
        assert printer.status().state == DeviceState.OFFLINE
    finally:
        filler.close()
        server.close()


def test_file_printer_appends_jobs(tmp_path) -> None:
    path = tmp_path / "spool" / "tickets.bin"
    path.parent.mkdir()
    path.write_bytes(b"\x1b@earlier\n")
    printer = open_printer(f"file://{path}")
    printer.print_ticket(make_ticket())
    printer.print_ticket(make_ticket(ticket_no="00000043", code=CODE + "2"))
    paper = parse(path.read_bytes())
    assert paper.lines[0] == "earlier"
    assert paper.qr == [CODE, CODE + "2"]
    assert [b.payload for b in paper.barcodes] == ["00000042", "00000043"]
    assert len(paper.cuts) == 2


def test_file_printer_in_a_missing_directory_faults_cleanly(tmp_path) -> None:
    printer = open_printer(f"file://{tmp_path}/missing/tickets.bin", timeout=1.0)
    with pytest.raises(DeviceError):
        printer.print_text(["x"])
    assert printer.status().state == DeviceState.OFFLINE


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("192.168.1.50:9100", "no scheme"),
        ("lpt://printer", "unknown scheme 'lpt'"),
        ("tcp://", "needs a host"),
        ("tcp://printer:99999", "port"),
        ("tcp://printer:abc", "port"),
        ("tcp://printer/queue", "no path"),
        ("tcp://printer?colour=red", "unknown option 'colour'"),
        ("tcp://printer?columns=5", "columns must be between 16 and 96"),
        ("tcp://printer?qr=svg", "qr must be native or image"),
        ("tcp://printer?columns=42&columns=48", "given twice"),
        ("serial://", "needs a serial device"),
        ("serial://socket://10.0.0.8:4001", "takes a device path"),
        ("serial:///dev/ttyUSB0?baudrate=12345", "not a standard rate"),
        ("serial:///dev/ttyUSB0?baudrate=fast", "baudrate must be a whole number"),
        ("serial:///dev/ttyUSB0?parity=X", "parity"),
        ("file://tickets.bin", "absolute path"),
        ("file:///var/spool/", "absolute path"),
        ("usb://04b8", "VID:PID"),
        ("usb://04b8:zzzz", "VID:PID"),
        ("usb://04b8:0202?out_ep=xyz", "out_ep must be a hex number"),
        ("standin://extra", "takes no host or path"),
    ],
)
def test_bad_urls_are_refused_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(InputError) as failure:
        open_printer(url)
    assert message in str(failure.value)


def test_good_urls_parse() -> None:
    assert parse_printer_url("tcp://10.0.0.5").params == {"host": "10.0.0.5", "port": 9100}
    assert parse_printer_url("tcp://10.0.0.5:9101").params["port"] == 9101
    serial = parse_printer_url("serial:///dev/ttyUSB0?baudrate=19200&parity=e&stopbits=2")
    assert serial.params["device"] == "/dev/ttyUSB0"
    assert (serial.params["baudrate"], serial.params["parity"], serial.params["stopbits"]) == (19200, "E", 2)
    usb = parse_printer_url("usb://04b8:0e15?out_ep=0x02")
    assert (usb.params["vendor_id"], usb.params["product_id"], usb.params["out_ep"]) == (0x04B8, 0x0E15, 2)
    assert parse_printer_url("file:///tmp/a%20b.bin").params["path"] == "/tmp/a b.bin"
    assert parse_printer_url("dummy://").scheme == "dummy"


def test_unknown_profile_is_an_input_error() -> None:
    with pytest.raises(InputError) as failure:
        open_printer("standin://?profile=TM-T99")
    assert "unknown printer profile 'TM-T99'" in str(failure.value)
    with pytest.raises(InputError):
        open_printer("standin://", timeout=0)


def test_default_profile_matches_escpos_default_and_named_profiles_set_width() -> None:
    assert PrinterProfile.from_escpos("default") == PrinterProfile()
    assert PrinterProfile().columns == 42 and PrinterProfile().native_qr and PrinterProfile().cutter
    wide = open_printer("standin://?profile=TM-T20II")
    assert isinstance(wide, StandinPrinter) and wide.profile.columns == 48
    wide.print_ticket(make_ticket())
    lines = parse(wide.last_bytes, profile="TM-T20II").lines
    assert any(len(line) == 48 for line in lines) and all(len(line) <= 48 for line in lines)
    narrow = open_printer("standin://", columns=32)
    narrow.print_receipt(make_receipt())
    assert all(len(line) <= 32 for line in parse(narrow.last_bytes).lines)


def test_standin_keeps_bytes_and_text_and_simulates_faults() -> None:
    printer = open_printer("standin://")
    assert isinstance(printer, StandinPrinter)
    assert printer.status().state == DeviceState.OK
    printer.print_ticket(make_ticket())
    text = printer.last_text.splitlines()
    assert "L2-C07" in printer.last_text and "[Code 128: 00000042]" in printer.last_text
    qr_at = [line.strip() for line in text].index("[QR code]")
    assert text[qr_at + 1] + text[qr_at + 2] == CODE  # 62 characters on 42-column paper
    assert parse(printer.last_bytes).qr == [CODE]
    printer.print_receipt(make_receipt())
    assert printer.output == printer.jobs[0].data + printer.jobs[1].data
    assert [job.kind for job in printer.jobs] == ["ticket", "receipt"]
    assert "TOTAL" in printer.last_text

    printer.simulate(DeviceState.PAPER_OUT, "E1 printer is out of paper")
    assert printer.status().state == DeviceState.PAPER_OUT
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert failure.value.state == DeviceState.PAPER_OUT
    assert str(failure.value) == "E1 printer is out of paper"
    assert len(printer.jobs) == 2

    printer.simulate(DeviceState.OK)
    printer.print_text(["back"])
    assert printer.status().state == DeviceState.OK and len(printer.jobs) == 3
    printer.close()
    with pytest.raises(DeviceError):
        printer.print_text(["after close"])


def test_software_qr_and_barcode_decode_without_a_literal_code_set_prefix() -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    printer = open_printer("dummy://?qr=image&barcode=software&cutter=no")
    printer.print_ticket(make_ticket())
    paper = parse(printer.last_bytes)
    assert paper.qr == [] and paper.barcodes == []  # nothing native
    assert paper.cuts == []  # no cutter: python-escpos only feeds
    decoded = {(r.format.name, r.text) for image in paper.images for r in zxingcpp.read_barcodes(image)}
    assert ("QRCode", CODE) in decoded
    assert ("Code128", "00000042") in decoded


def test_usb_without_its_library_or_device_is_a_device_fault_not_a_crash() -> None:
    """pyusb is a dependency; without libusb, or with no such printer plugged in, the job is a clear fault."""
    from escpos.printer import Usb

    from hardware.printers import _usb_backend_available

    assert Usb.is_usable()  # pyusb is installed with the console
    printer = open_printer("usb://04b8:0202", timeout=1.0)
    with pytest.raises(DeviceError) as failure:
        printer.print_text(["x"])
    message = str(failure.value)
    if _usb_backend_available():  # libusb present: no Epson 04b8:0202 on a CI machine
        assert "04b8:0202" in message or "not found" in message.lower()
    else:
        assert "needs libusb" in message and "apt install libusb-1.0-0" in message
    assert printer.status().state in (DeviceState.FAULTED, DeviceState.OFFLINE)


def test_ticket_data_is_validated() -> None:
    with pytest.raises(InputError, match="ticket_no"):
        make_ticket(ticket_no="42A")
    with pytest.raises(InputError, match="entry_at_local"):
        make_ticket(entry_at_local=datetime(2026, 7, 1, 8, 5))
    with pytest.raises(InputError, match="before"):
        make_receipt(exit_at_local=datetime(2026, 7, 1, 7, 0, tzinfo=LONDON))
    assert format_local_time(datetime(2026, 12, 1, 23, 59, tzinfo=LONDON)) == "2026-12-01 23:59 GMT"


def test_printer_is_usable_from_several_threads(sink: PrinterSink) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{sink.port}", timeout=2.0)
    assert isinstance(printer, EscposTicketPrinter)
    errors: list[BaseException] = []

    def job(n: int) -> None:
        try:
            printer.print_ticket(make_ticket(ticket_no=f"{n:08d}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert errors == []
    payloads = sorted(parse(data).barcodes[0].payload for data in sink.wait_jobs(4))
    assert payloads == [f"{n:08d}" for n in range(4)]
