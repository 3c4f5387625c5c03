"""The booth: services plus lane devices. A printer that fails never undoes an
entry; the ticket is queued and printed when the printer is back."""

from __future__ import annotations

import socket

from attendant.booth import Booth
from hardware.config import parse_config
from tests.escpos_parse import parse
from tests.printer_sink import PrinterSink


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failed_ticket_is_queued_then_reprinted_when_the_printer_returns(service):
    port = _free_port()
    config = parse_config(
        f"""
        [[lanes]]
        code = "E1"
        name = "Entry 1"
        direction = "entry"
        printer = "tcp://127.0.0.1:{port}"
        gate = "sim://?hold=0.05"
        """,
        "booth.toml",
    )
    booth = Booth(service, config)
    try:
        outcome = booth.process_entry("QU3 UED", "car", actor="t", lane="E1")
        assert not outcome.printed and outcome.print_error and outcome.gate == "opened"
        assert list(booth.reprint_queue["E1"]) == [outcome.entry.ticket_no]
        assert service.occupancy()[0] == 1  # the vehicle is in, by its plate

        sink = PrinterSink.on_port(port)
        try:
            printed, error = booth.retry_reprints("E1")
            assert (printed, error) == (1, None) and not booth.reprint_queue["E1"]
            assert parse(sink.wait_jobs(1)[0]).qr == [outcome.entry.code]
        finally:
            sink.close()
    finally:
        booth.close()
