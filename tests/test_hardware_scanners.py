"""Serial scanners on real transports: a pseudo-terminal pair and a TCP socket.

The test plays the scanner: it writes bytes at the master side of
``os.openpty()`` while :class:`hardware.serial_scanner.SerialScanner` reads the
slave through ``serial.serial_for_url`` (pyserial), exactly as it reads
``/dev/ttyACM0``. Unplug/replug is a ``socket://`` port whose TCP server goes
away and comes back. Every wait is on an event with a timeout, never a sleep.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time

import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState, DeviceStatus
from hardware.scanners import open_scanner, parse_scanner_url
from hardware.serial_scanner import SerialScanner

WAIT = 5.0  # seconds: an upper bound for events, never a sleep


class Recorder:
    """Callbacks that record codes, rejections and status changes."""

    def __init__(self) -> None:
        self.codes: queue.Queue[str] = queue.Queue()
        self.rejects: queue.Queue[tuple[str, bytes, float]] = queue.Queue()
        self.statuses: queue.Queue[DeviceStatus] = queue.Queue()
        self.threads: set[str] = set()

    def code(self, code: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.codes.put(code)

    def reject(self, reason: str, raw: bytes) -> None:
        self.rejects.put((reason, raw, time.monotonic()))

    def status(self, status: DeviceStatus) -> None:
        self.statuses.put(status)

    def wait_state(self, state: DeviceState, timeout: float = WAIT) -> DeviceStatus:
        deadline = time.monotonic() + timeout
        while True:
            status = self.statuses.get(timeout=max(0.01, deadline - time.monotonic()))
            if status.state == state:
                return status


@pytest.fixture
def pty_port():
    """(master fd, slave path): the test writes at the master, the scanner opens the path."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def scanners():
    """Scanners made by a test; all stopped (threads joined) afterwards."""
    made: list[SerialScanner] = []
    yield made
    for scanner in made:
        scanner.stop()
        assert not scanner.running


def started(made: list[SerialScanner], rec: Recorder, port: str, **kwargs) -> SerialScanner:
    scanner = SerialScanner(port, name="X1 scanner", on_status=rec.status, on_reject=rec.reject,
                            frame_timeout=kwargs.pop("frame_timeout", 0.2), **kwargs)
    made.append(scanner)
    scanner.start(rec.code)
    rec.wait_state(DeviceState.OK)
    return scanner


def test_noise_then_half_a_frame_then_a_valid_code_with_crlf(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    scanner = started(scanners, rec, path, terminator="CRLF")

    os.write(master, b"\x00\xff\x1b[2J\x13\r\n")  # line noise, terminated
    reason, raw, _ = rec.rejects.get(timeout=WAIT)
    assert (reason, raw) == ("noise", b"\x00\xff\x1b[2J\x13")

    sent_at = time.monotonic()
    os.write(master, b"T1.4F2A")  # half a frame, then the line goes quiet
    reason, raw, rejected_at = rec.rejects.get(timeout=WAIT)
    assert (reason, raw) == ("partial", b"T1.4F2A")
    assert rejected_at - sent_at >= 0.2  # only after the frame timeout

    os.write(master, b"T1.4F2A9C0D.7Q\r\n")
    assert rec.codes.get(timeout=WAIT) == "T1.4F2A9C0D.7Q"
    os.write(master, b"NEXT\r\n")
    assert rec.codes.get(timeout=WAIT) == "NEXT"  # the first code came exactly once
    assert rec.codes.empty() and rec.rejects.empty()
    assert scanner.accepted == 2
    assert scanner.rejected == {"noise": 1, "partial": 1, "too_long": 0, "prefix": 0}
    assert rec.threads == {"X1 scanner"}
    assert scanner.status().state == DeviceState.OK


def test_over_long_frames_are_rejected_and_framing_recovers(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    scanner = started(scanners, rec, path, terminator="CRLF", max_length=16)

    os.write(master, b"A" * 40 + b"\r\n")  # over-long with its terminator
    assert rec.rejects.get(timeout=WAIT)[0] == "too_long"
    os.write(master, b"B" * 30)  # over-long while still arriving...
    assert rec.rejects.get(timeout=WAIT)[0] == "too_long"
    os.write(master, b"BBBB\r")  # ...its tail, with the CRLF split across writes,
    os.write(master, b"\nOK-16-CHARACTERS\r\n")  # is dropped; the next frame is whole
    assert rec.codes.get(timeout=WAIT) == "OK-16-CHARACTERS"
    assert scanner.rejected["too_long"] == 2 and rec.rejects.empty()


def test_allowed_pattern_and_non_ascii(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    started(scanners, rec, path, terminator="LF", allowed=r"T[0-9]+\.[A-Z0-9.]+")
    os.write(master, b"hello world\n")
    assert rec.rejects.get(timeout=WAIT)[0] == "noise"
    os.write(master, "T1.CAF\u00c9\n".encode("utf-8"))
    assert rec.rejects.get(timeout=WAIT)[0] == "noise"
    os.write(master, b"T12.AB3\n")
    assert rec.codes.get(timeout=WAIT) == "T12.AB3"


def test_prefix_and_stray_line_feeds_via_the_url(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    scanner = open_scanner(f"serial://{path}?baudrate=115200&terminator=CR&prefix=%02",
                           on_status=rec.status, on_reject=rec.reject, frame_timeout=0.2)
    scanners.append(scanner)
    assert scanner.settings["baudrate"] == 115200 and scanner.terminator == "CR"
    scanner.start(rec.code)
    rec.wait_state(DeviceState.OK)

    os.write(master, b"\x02P.MONTHLY.0042\r\n")  # the scanner sends CRLF: the LF is ignored
    assert rec.codes.get(timeout=WAIT) == "P.MONTHLY.0042"
    os.write(master, b"P.MONTHLY.0043\r")  # no prefix: refused
    assert rec.rejects.get(timeout=WAIT)[:2] == ("prefix", b"P.MONTHLY.0043")
    os.write(master, b"\x02V.CAFE-10\r")
    assert rec.codes.get(timeout=WAIT) == "V.CAFE-10"
    assert scanner.rejected == {"noise": 0, "partial": 0, "too_long": 0, "prefix": 1}


def test_failing_callback_does_not_stop_the_reader(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    scanner = started(scanners, rec, path, terminator="CR")
    good = rec.code

    def flaky(code: str) -> None:
        if code == "BOOM":
            raise RuntimeError("consumer bug")
        good(code)

    scanner.on_code = flaky
    os.write(master, b"BOOM\rAFTER\r")
    assert rec.codes.get(timeout=WAIT) == "AFTER"
    with pytest.raises(DeviceError, match="already running"):
        scanner.start(rec.code)


def test_unplug_of_a_pty_goes_offline_and_stop_is_prompt(pty_port, scanners) -> None:
    master, path = pty_port
    rec = Recorder()
    scanner = started(scanners, rec, path, backoff_initial=0.05, backoff_max=0.1)
    os.close(master)  # the USB cable is pulled: reads fail, the device node is gone
    offline = rec.wait_state(DeviceState.OFFLINE)
    assert "retrying" in offline.message
    assert scanner.status().state == DeviceState.OFFLINE
    began = time.monotonic()
    scanner.stop()
    assert time.monotonic() - began < 1.0 and not scanner.running
    assert scanner.status().state == DeviceState.UNKNOWN


class FlakyScannerServer:
    """A TCP serial server (like a Moxa NPort) the test can take down and bring back."""

    def __init__(self) -> None:
        self.port = 0
        self.listener: socket.socket | None = None
        self.connections: queue.Queue[socket.socket] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(1)
        self.port = listener.getsockname()[1]
        self.listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        self.connections.put(conn)

    def down(self, conn: socket.socket) -> None:
        conn.close()
        assert self.listener is not None
        self.listener.close()
        self._thread.join(WAIT)


def test_reconnects_with_backoff_after_the_server_goes_away_and_comes_back(scanners) -> None:
    server = FlakyScannerServer()
    rec = Recorder()
    scanner = open_scanner(f"socket://127.0.0.1:{server.port}?terminator=CRLF", on_status=rec.status,
                           backoff_initial=0.05, backoff_max=0.2)
    scanners.append(scanner)
    scanner.start(rec.code)
    rec.wait_state(DeviceState.OK)
    conn = server.connections.get(timeout=WAIT)
    conn.sendall(b"T1.BEFORE\r\n")
    assert rec.codes.get(timeout=WAIT) == "T1.BEFORE"

    server.down(conn)  # unplugged: the peer closes and nobody listens any more
    offline = rec.wait_state(DeviceState.OFFLINE)
    assert "retrying" in offline.message
    again = rec.wait_state(DeviceState.OFFLINE)  # a failed reconnect, with a longer delay
    assert again.message != offline.message
    assert scanner.connects == 1

    server.up()  # plugged back in
    rec.wait_state(DeviceState.OK, timeout=3.0)
    conn = server.connections.get(timeout=WAIT)
    conn.sendall(b"T1.AFTER\r\n")
    assert rec.codes.get(timeout=WAIT) == "T1.AFTER"
    assert scanner.connects == 2
    conn.close()
    server.listener.close()


def test_loop_url_reads_what_it_writes(scanners) -> None:
    rec = Recorder()
    scanner = open_scanner("loop://?terminator=LF", on_status=rec.status)
    scanners.append(scanner)
    scanner.start(rec.code)
    rec.wait_state(DeviceState.OK)
    assert scanner.status().message == "reading loop://"


LINE = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}  # pyserial's 8N1 at 9600 baud


@pytest.mark.parametrize(
    ("url", "port", "serial", "frame"),
    [
        ("serial:///dev/ttyACM0", "/dev/ttyACM0", LINE, {}),
        ("serial:///dev/ttyACM0?baudrate=9600&terminator=crlf&prefix=%02", "/dev/ttyACM0", LINE,
         {"terminator": "CRLF", "prefix": b"\x02"}),
        ("serial://COM3?parity=e&stopbits=2&bytesize=7&baudrate=921600", "COM3",
         {"baudrate": 921600, "parity": "E", "stopbits": 2, "bytesize": 7}, {}),
        ("socket://10.0.0.5:4001?max_length=64&frame_timeout=0.3", "socket://10.0.0.5:4001", LINE,
         {"max_length": 64, "frame_timeout": 0.3}),
        ("rfc2217://10.0.0.5:2217?poll_modem=true&terminator=LF", "rfc2217://10.0.0.5:2217?poll_modem=true",
         LINE, {"terminator": "LF"}),
        ("loop://", "loop://", LINE, {}),
    ],
)
def test_parse_scanner_url(url, port, serial, frame) -> None:
    address = parse_scanner_url(url)
    assert (address.port, address.serial, address.frame) == (port, serial, frame)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/dev/ttyACM0", "not a URL"),
        ("usb://04b8:0202", "unknown scheme 'usb'"),
        ("serial://", "needs a serial device"),
        ("serial:///dev/ttyACM0?terminator=ETX", "terminator must be CR, LF or CRLF"),
        ("serial:///dev/ttyACM0?baudrate=12345", "not a standard rate"),
        ("serial:///dev/ttyACM0?max_length=0", "max_length must be between 1 and 4096"),
        ("serial:///dev/ttyACM0?prefix=%0D", "prefix must not contain CR or LF"),
        ("serial:///dev/ttyACM0?allowed=[", "not a valid regular expression"),
        ("serial:///dev/ttyACM0?suffix=x", "unknown option 'suffix'"),
        ("serial:///dev/ttyACM0?terminator=CR&terminator=LF", "given twice"),
        ("socket://scanner-host", "socket:// needs a port"),
        ("socket://:4001", "needs a host"),
        ("serial://ftp://x", "ftp:// is not a supported port"),
    ],
)
def test_bad_scanner_urls(url: str, detail: str) -> None:
    with pytest.raises(InputError) as failure:
        parse_scanner_url(url)
    assert detail in str(failure.value)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(InputError, match="terminator"):
        SerialScanner("loop://", terminator="TAB")
    with pytest.raises(InputError, match="prefix must be bytes"):
        SerialScanner("loop://", prefix="\x02")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs an on_code"):
        SerialScanner("loop://").start()
