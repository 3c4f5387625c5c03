"""Printer status (ESC/POS ``DLE EOT``) and a printer that goes away mid-ticket.

The "printer" here is a real TCP server on 127.0.0.1 (and, for serial, a real
pseudo-terminal) that answers ``DLE EOT n`` with the bytes an Epson printer
sends (Epson ESC/POS reference, "transmit real-time status"): one byte per
request, bits 1 and 4 fixed on, bits 0 and 7 fixed off. It keeps every byte of
every connection so the tests can check what was (and was not) sent.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState
from hardware.printers import (
    EscposTicketPrinter,
    StandinPrinter,
    decode_status,
    open_printer,
    parse_printer_url,
)
from tests.escpos_parse import parse
from tests.test_hardware_printer import make_ticket

# Replies as the Epson reference lays them out: 0x12 is "fixed bits only".
ONLINE, OFFLINE = b"\x12", b"\x1a"  # n=1: bit 3 offline
DRAWER_HIGH = b"\x16"  # n=1: bit 2 (drawer pin 3 high), still online
NO_CAUSE, COVER, PAPER_END_STOP, ERROR = b"\x12", b"\x16", b"\x32", b"\x52"  # n=2: bits 2, 5, 6
PAPER_OK, NEAR_END, PAPER_END, NEAR_AND_END = b"\x12", b"\x1e", b"\x72", b"\x7e"  # n=4: bits 2-3, 5-6

ALL_OK = {1: ONLINE, 2: NO_CAUSE, 4: PAPER_OK}
LOW = {1: ONLINE, 2: NO_CAUSE, 4: NEAR_END}
OUT = {1: OFFLINE, 2: PAPER_END_STOP, 4: NEAR_AND_END}
COVER_OPEN = {1: OFFLINE, 2: COVER, 4: PAPER_OK}


@dataclass
class Connection:
    data: bytearray = field(default_factory=bytearray)  # every byte received
    requests: list[int] = field(default_factory=list)  # DLE EOT n received, in order
    job_bytes: int = 0  # bytes that were not status requests
    done: bool = False  # the client has closed it and every byte was read


class StatusPrinter:
    """A network printer on 127.0.0.1: raw port 9100 protocol plus DLE EOT.

    - ``replies``: n -> reply bytes (a missing n is not answered);
    - ``script``: if set, the replies to give, in order, whatever n is asked;
    - ``answer=False``: never answers a status request (a write-only print server);
    - ``drop_after``: after that many job bytes, drop the connection with
      ``drop`` = ``"rst"`` (close with the rest unread: TCP reset) or ``"fin"``
      (half-close: no more replies, the rest is read and discarded).

    The settings may be changed between connections (the paper is replaced, the
    printer comes back).
    """

    def __init__(self, port: int = 0, *, replies: dict[int, bytes] | None = None, answer: bool = True,
                 drop_after: int | None = None, drop: str = "rst") -> None:
        self.replies = dict(ALL_OK if replies is None else replies)
        self.script: list[bytes] | None = None
        self.answer = answer
        self.drop_after = drop_after
        self.drop = drop
        self.connections: list[Connection] = []
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.02)
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = Connection()
            with self._lock:
                self.connections.append(record)
            try:
                self._handle(conn, record)
            except OSError:
                pass
            finally:
                conn.close()
                record.done = True

    def _handle(self, conn: socket.socket, record: Connection) -> None:
        conn.settimeout(0.02)
        pending, dropped = b"", False
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            record.data += chunk
            if dropped:
                continue  # half-closed ("fin"): read and discard, answer nothing
            buf, pending, i = pending + chunk, b"", 0
            while i < len(buf):
                if buf[i] == 0x10:  # DLE
                    if i + 2 >= len(buf):
                        pending = buf[i:]
                        break
                    if buf[i + 1] == 0x04:  # EOT n
                        n = buf[i + 2]
                        record.requests.append(n)
                        if self.script is not None:
                            conn.sendall(self.script.pop(0))
                        elif self.answer and n in self.replies:
                            conn.sendall(self.replies[n])
                        i += 3
                        continue
                record.job_bytes += 1
                i += 1
                if self.drop_after is not None and record.job_bytes >= self.drop_after:
                    if self.drop == "rst":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return  # close() now sends RST
                    conn.shutdown(socket.SHUT_WR)  # FIN: the printer side is gone
                    dropped = True
                    break

    def last(self, count: int = 1, timeout: float = 2.0) -> Connection:
        """The latest connection, once there are ``count`` and its client has finished with it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.connections) >= count and self.connections[-1].done:
                    return self.connections[-1]
            time.sleep(0.005)
        raise AssertionError(f"no finished connection number {count}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.server.close()


@pytest.fixture
def printer_server():
    servers: list[StatusPrinter] = []

    def start(**kwargs: object) -> StatusPrinter:
        server = StatusPrinter(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def free_port() -> int:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --------------------------------------------------------------------------- decoding table


@pytest.mark.parametrize(
    ("replies", "state"),
    [
        (ALL_OK, DeviceState.OK),
        ({1: DRAWER_HIGH, 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.OK),  # drawer bit is not a fault
        (LOW, DeviceState.PAPER_LOW),
        ({1: ONLINE, 2: NO_CAUSE, 4: PAPER_END}, DeviceState.PAPER_OUT),  # end sensor, no stop yet
        (OUT, DeviceState.PAPER_OUT),
        ({1: OFFLINE, 2: PAPER_END_STOP, 4: PAPER_OK}, DeviceState.PAPER_OUT),
        (COVER_OPEN, DeviceState.COVER_OPEN),
        ({1: OFFLINE, 2: b"\x36", 4: PAPER_END}, DeviceState.COVER_OPEN),  # cover open to change the roll
        ({1: OFFLINE, 2: ERROR, 4: PAPER_OK}, DeviceState.FAULTED),
        ({1: OFFLINE, 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.OFFLINE),  # e.g. feeding by the button
        ({1: ONLINE}, DeviceState.OK),  # only n=1 answered
        ({1: OFFLINE, 2: None, 4: None}, DeviceState.OFFLINE),
        ({}, DeviceState.UNKNOWN),  # no answer at all
        ({1: b""}, DeviceState.UNKNOWN),
        ({1: b"\x02", 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.UNKNOWN),  # bit 4 must be 1
        ({1: b"\x13", 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.UNKNOWN),  # bit 0 must be 0
        ({1: b"\x92", 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.UNKNOWN),  # bit 7 must be 0
        ({1: b"\x10", 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.UNKNOWN),  # bit 1 must be 1
        ({1: ONLINE, 2: NO_CAUSE, 4: b"\x60"}, DeviceState.UNKNOWN),  # "paper end" without fixed bits
        ({1: b"\x12\x12", 2: NO_CAUSE, 4: PAPER_OK}, DeviceState.UNKNOWN),  # two bytes for one request
        ({1: b"\xff", 2: b"\xff", 4: b"\xff"}, DeviceState.UNKNOWN),  # noise is not a fault
    ],
)
def test_dle_eot_replies_decode_per_the_epson_reference(replies: dict, state: DeviceState) -> None:
    status = decode_status(replies, name="E1")
    assert status.state == state, status.message
    assert "E1" in status.message


def test_malformed_reply_names_the_bytes() -> None:
    status = decode_status({1: ONLINE, 2: b"\x00", 4: PAPER_OK}, name="E1")
    assert status.state == DeviceState.UNKNOWN
    assert status.message == "Printer E1 sent an unexpected status reply 00 to DLE EOT 2"


# --------------------------------------------------------------------------- polling over TCP


@pytest.mark.parametrize(
    ("replies", "state", "words"),
    [
        (ALL_OK, DeviceState.OK, "online with paper"),
        (LOW, DeviceState.PAPER_LOW, "running low on paper"),
        (OUT, DeviceState.PAPER_OUT, "out of paper"),
        (COVER_OPEN, DeviceState.COVER_OPEN, "cover open"),
    ],
)
def test_poll_status_asks_dle_eot_1_2_4_and_reports(printer_server, replies, state, words) -> None:
    server = printer_server(replies=replies)
    printer = open_printer(server.url, timeout=1.0, name="E1")
    assert isinstance(printer, EscposTicketPrinter) and printer.reports_status
    status = printer.poll_status(timeout=0.5)
    assert status.state == state and words in status.message
    assert printer.status() == status
    conn = server.last()
    assert conn.requests == [1, 2, 4] and conn.job_bytes == 0
    assert bytes(conn.data) == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"


def test_refused_connection_polls_offline_fast() -> None:
    printer = open_printer(f"tcp://127.0.0.1:{free_port()}", timeout=2.0)
    started = time.monotonic()
    status = printer.poll_status(timeout=0.5)
    assert time.monotonic() - started < 0.5
    assert status.state == DeviceState.OFFLINE and "connection refused" in status.message
    assert printer.status().state == DeviceState.OFFLINE


def test_connect_that_hangs_polls_offline_within_the_timeout() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    filler = socket.create_connection(server.getsockname(), timeout=1.0)  # accept queue now full
    try:
        printer = open_printer(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=5.0)
        started = time.monotonic()
        status = printer.poll_status(timeout=0.3)
        assert time.monotonic() - started < 0.3 + 0.2
        # "did not answer within 0.3 s", or the socket's own "no answer in time" when it wins the race
        assert status.state == DeviceState.OFFLINE
        assert printer.status() == status
    finally:
        filler.close()
        server.close()


def test_printer_that_never_answers_status_is_unknown_not_offline(printer_server) -> None:
    # Connected but silent: the device is there and takes jobs (a write-only
    # print server, a non-Epson printer). Reporting "offline" would make the
    # console send every car through ticketless entry; "unknown" does not.
    server = printer_server(answer=False)
    printer = open_printer(server.url, timeout=1.0)
    started = time.monotonic()
    status = printer.poll_status(timeout=0.3)
    assert time.monotonic() - started < 0.3 + 0.2
    assert status.state == DeviceState.UNKNOWN and "did not answer the status request" in status.message
    assert server.last().requests == [1]  # stops at the first unanswered request

    printer.print_ticket(make_ticket())  # prints, and does not wait for a status reply first
    job = server.last()
    assert job.requests == [] and parse(bytes(job.data)).qr
    assert printer.status().state == DeviceState.OK


def test_silent_printer_is_asked_once_by_jobs_then_printed_to(printer_server) -> None:
    server = printer_server(answer=False)
    printer = open_printer(server.url, timeout=0.8)
    started = time.monotonic()
    printer.print_ticket(make_ticket())
    assert time.monotonic() - started < 0.8  # waited at most timeout/4 for the reply
    printer.print_ticket(make_ticket(ticket_no="00000043"))
    first, second = server.connections
    assert first.requests == [1] and second.requests == []
    assert [parse(bytes(c.data)).barcodes[0].payload for c in (first, second)] == ["00000042", "00000043"]
    assert printer.status().state == DeviceState.OK

    server.answer = True  # a later poll that gets an answer turns the checks back on
    assert printer.poll_status(timeout=0.5).state == DeviceState.OK
    printer.print_ticket(make_ticket())
    assert server.last().requests == [1, 2, 4, 1, 2, 4]


def test_malformed_reply_is_unknown_and_does_not_block_printing(printer_server) -> None:
    server = printer_server(replies={1: b"\x00", 2: NO_CAUSE, 4: PAPER_OK})
    printer = open_printer(server.url, timeout=1.0)
    status = printer.poll_status(timeout=0.5)
    assert status.state == DeviceState.UNKNOWN and "unexpected status reply 00" in status.message
    printer.print_ticket(make_ticket())
    conn = server.last()
    assert conn.requests == [1] and parse(bytes(conn.data)).qr  # out of step: no more questions
    assert printer.status().state == DeviceState.OK


# --------------------------------------------------------------------------- the check before each job


@pytest.mark.parametrize(("replies", "state", "words"), [
    (OUT, DeviceState.PAPER_OUT, "out of paper"),
    (COVER_OPEN, DeviceState.COVER_OPEN, "cover open"),
    ({1: OFFLINE, 2: ERROR, 4: PAPER_OK}, DeviceState.FAULTED, "reports an error"),
])
def test_job_is_refused_before_a_byte_is_sent(printer_server, replies, state, words) -> None:
    server = printer_server(replies=replies)
    printer = open_printer(server.url, timeout=2.0, name="E1")
    started = time.monotonic()
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert time.monotonic() - started < 0.5  # at once, not after a timeout
    assert failure.value.state == state and failure.value.device == "E1"
    assert words in str(failure.value) and "the ticket was not sent" in str(failure.value)
    assert printer.status().state == state
    conn = server.last()
    assert conn.requests == [1, 2, 4] and conn.job_bytes == 0  # no ticket bytes went out

    server.replies = dict(ALL_OK)  # the attendant fixes it; no poll needed before the next job
    printer.print_ticket(make_ticket())
    conn = server.last()
    assert conn.requests == [1, 2, 4, 1, 2, 4]  # asked before and after the job
    assert parse(bytes(conn.data)).qr and printer.status().state == DeviceState.OK


def test_paper_low_prints_and_stays_paper_low(printer_server) -> None:
    server = printer_server(replies=LOW)
    printer = open_printer(server.url, timeout=1.0)
    printer.print_ticket(make_ticket())
    assert parse(bytes(server.last().data)).qr
    status = printer.status()
    assert status.state == DeviceState.PAPER_LOW and status.ok and "low on paper" in status.message


def test_paper_runs_out_during_the_job(printer_server) -> None:
    # The reply after the job says paper end: the ticket went out but may be cut short.
    server = printer_server()
    printer = open_printer(server.url, timeout=1.0)
    server.script = [ONLINE, NO_CAUSE, PAPER_OK, OFFLINE, PAPER_END_STOP, PAPER_END]  # before, after
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert failure.value.state == DeviceState.PAPER_OUT
    assert "sent but may not have printed" in str(failure.value)
    assert printer.status().state == DeviceState.PAPER_OUT
    assert server.last().requests == [1, 2, 4, 1, 2, 4] and parse(bytes(server.last().data)).qr


# --------------------------------------------------------------------------- goes away mid-ticket, comes back


@pytest.mark.parametrize("drop", ["rst", "fin"])
def test_printer_that_goes_away_mid_ticket_and_comes_back(printer_server, drop: str) -> None:
    server = printer_server(drop_after=200, drop=drop)
    port = server.port
    printer = open_printer(server.url, timeout=1.0, name="E1")
    started = time.monotonic()
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert time.monotonic() - started < 1.0  # detected, not timed out
    assert failure.value.state == DeviceState.OFFLINE
    assert printer.status().state == DeviceState.OFFLINE
    assert printer.status().message == str(failure.value)
    assert printer.last_job is None  # not recorded as printed
    dropped = server.last()
    assert dropped.requests[:3] == [1, 2, 4] and dropped.job_bytes >= 200

    server.close()  # switched off ...
    assert printer.poll_status(timeout=0.5).state == DeviceState.OFFLINE
    back = printer_server(port=port)  # ... and on again
    assert printer.poll_status(timeout=0.5).state == DeviceState.OK
    printer.print_ticket(make_ticket(ticket_no="00000043"))
    paper = parse(bytes(back.last().data))
    assert [b.payload for b in paper.barcodes] == ["00000043"] and paper.cuts
    assert printer.status().state == DeviceState.OK and printer.status().message == "printed"


def test_reset_mid_ticket_is_detected_without_status_too(printer_server) -> None:
    # status=no: no reply to lean on; the job ends with shutdown(SHUT_WR) and a
    # read, which sees the printer's reset.
    server = printer_server(drop_after=200, drop="rst")
    printer = open_printer(server.url + "?status=no", timeout=1.0)
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert failure.value.state == DeviceState.OFFLINE
    # The OS words the reset either way ("connection reset by peer" or "not connected"): the job
    # must fail as offline and say the ticket may not have printed.
    assert "may not have printed" in str(failure.value) or "reset" in str(failure.value)
    assert server.last().requests == []
    server.drop_after = None
    printer.print_ticket(make_ticket())
    assert parse(bytes(server.last().data)).qr and printer.status().state == DeviceState.OK


# --------------------------------------------------------------------------- URL option status=yes|no


def test_status_option_in_urls() -> None:
    assert parse_printer_url("tcp://10.0.0.5?status=no").options == {"realtime_status": False}
    assert parse_printer_url("serial:///dev/ttyUSB0?status=yes").options == {"realtime_status": True}
    assert parse_printer_url("file:///tmp/t.bin?status=no").options == {"realtime_status": False}
    assert open_printer("tcp://10.0.0.5").reports_status  # type: ignore[attr-defined]
    assert not open_printer("tcp://10.0.0.5?status=no").reports_status  # type: ignore[attr-defined]
    assert not open_printer("file:///tmp/t.bin").reports_status  # type: ignore[attr-defined]
    for url, message in [
        ("tcp://10.0.0.5?status=maybe", "status must be yes or no"),
        ("file:///tmp/t.bin?status=yes", "file:// cannot report status"),
        ("standin://?status=no", "takes no status option"),
    ]:
        with pytest.raises(InputError, match=message):
            open_printer(url)
    with pytest.raises(InputError, match="more than 0 seconds"):
        open_printer("tcp://10.0.0.5").poll_status(timeout=0)  # type: ignore[attr-defined]


def test_status_no_sends_no_requests_and_polls_reachability(printer_server) -> None:
    server = printer_server()
    printer = open_printer(server.url + "?status=no", timeout=1.0)
    printer.print_ticket(make_ticket())
    assert server.last().requests == [] and parse(bytes(server.last().data)).qr
    assert printer.status().state == DeviceState.OK
    status = printer.poll_status(timeout=0.5)
    assert status.state == DeviceState.UNKNOWN and "reachable" in status.message
    assert bytes(server.last(count=2).data) == b""  # connected and closed, nothing sent
    server.close()
    assert printer.poll_status(timeout=0.5).state == DeviceState.OFFLINE


def test_file_printer_status_is_unknown_and_the_file_is_not_touched(tmp_path) -> None:
    path = tmp_path / "tickets.bin"
    printer = open_printer(f"file://{path}")
    status = printer.poll_status(timeout=0.2)  # type: ignore[attr-defined]
    assert status.state == DeviceState.UNKNOWN and "does not report its status" in status.message
    assert not path.exists()
    printer.print_ticket(make_ticket())
    assert parse(path.read_bytes()).status_requests == 0
    assert printer.status().state == DeviceState.OK


# --------------------------------------------------------------------------- stand-in


def test_standin_simulated_paper_out_refuses_tickets_and_ok_restores() -> None:
    printer = open_printer("standin://", name="E1")
    assert isinstance(printer, StandinPrinter)
    printer.simulate(DeviceState.PAPER_OUT)
    assert printer.status().state == DeviceState.PAPER_OUT
    assert printer.poll_status().state == DeviceState.PAPER_OUT
    with pytest.raises(DeviceError) as failure:
        printer.print_ticket(make_ticket())
    assert failure.value.state == DeviceState.PAPER_OUT and str(failure.value) == "Printer E1: paper out"
    assert printer.jobs == () and printer.status().state == DeviceState.PAPER_OUT

    printer.simulate(DeviceState.PAPER_LOW)  # still prints, still says low
    printer.print_ticket(make_ticket())
    assert printer.status().state == DeviceState.PAPER_LOW and len(printer.jobs) == 1

    printer.simulate(DeviceState.OK)
    assert printer.poll_status().state == DeviceState.OK
    printer.print_ticket(make_ticket())
    assert printer.status().state == DeviceState.OK and len(printer.jobs) == 2
    printer.close()
    assert printer.poll_status().state == DeviceState.OFFLINE


# --------------------------------------------------------------------------- serial (a real pseudo-terminal)


def test_serial_printer_answers_status_over_a_pty() -> None:
    pytest.importorskip("serial")
    master, slave = os.openpty()
    try:
        import tty

        tty.setraw(slave)
        path = os.ttyname(slave)
        stop = threading.Event()
        requests: list[int] = []
        replies = {1: ONLINE, 2: NO_CAUSE, 4: NEAR_END}

        def serve() -> None:
            buf = b""
            while not stop.is_set():
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    return
                buf += chunk
                while (at := buf.find(b"\x10\x04")) >= 0 and at + 2 < len(buf):
                    n = buf[at + 2]
                    requests.append(n)
                    os.write(master, replies[n])
                    buf = buf[at + 3 :]

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        printer = open_printer(f"serial://{path}?baudrate=19200", timeout=1.0)
        started = time.monotonic()
        status = printer.poll_status(timeout=0.5)
        assert time.monotonic() - started < 0.5  # one-byte reads: not one 0.5 s wait for 16 bytes
        assert status.state == DeviceState.PAPER_LOW
        assert requests == [1, 2, 4]
    finally:
        stop.set()
        os.close(master)
        os.close(slave)
