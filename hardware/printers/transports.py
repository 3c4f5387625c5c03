"""Transports: how a finished job's bytes (and status requests) reach a printer.

Libraries used (not home-made): python-escpos's ``Network``, ``Serial``,
``File`` and ``Usb`` printers carry the bytes (imported on the first job);
pyserial and pyusb sit under the serial and USB ones.

Each job (and each status poll) is one short connection: open, write, close,
so a printer that vanished between jobs is simply retried on the next job.
Every operation on a :class:`Connection` is bounded by its deadline and
raises :class:`~hardware.base.DeviceError` (``offline``) when the connection
breaks.

Status replies (``DLE EOT``, see :mod:`hardware.printers.status`): over TCP
python-escpos's ``query_status`` (``sendall`` + ``recv``); serial and USB read
the one-byte reply themselves with a bounded timeout (escpos reads 16 bytes
there, i.e. always waits the full timeout). A file sends nothing back.

What TCP can and cannot prove about delivery: ``sendall`` returning means only
that the bytes reached the local kernel's send buffer. A printer that resets
the connection (RST: it closed with our data unread) makes a later send or
read fail; one that closes early (FIN) shows up as end-of-file; both fail the
job as ``offline``. After the job's bytes a status printer is asked ``DLE EOT``
again: its answer proves it took in every byte before the request (TCP keeps
order and the printer answers real-time requests on arrival), which is the
strongest proof this protocol offers, and still not that the paper came out
(that would need Epson's ``GS ( H`` process-ID response, which not all models
have). Without status the job ends with our FIN and waits up to
:data:`FINISH_LINGER` s: the printer closing its side is the usual raw-port
ending (a peer that closes with unread data sends RST instead); silence proves
nothing more than "no error seen", and a printer that accepted the bytes into
its TCP buffer and then lost power cannot be told from one that printed.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hardware.base import DeviceError, DeviceState, error_text
from hardware.printers.library import escpos_library
from hardware.printers.status import status_request

__all__ = [
    "FINISH_LINGER",
    "Connection",
    "EscposTransport",
    "FileTransport",
    "MemoryTransport",
    "NetworkTransport",
    "SerialTransport",
    "Transport",
    "UsbTransport",
    "error_reason",
]

#: How long a job without a status confirmation waits, after its end of data
#: (TCP FIN), for the printer to close or reset the connection (seconds).
FINISH_LINGER = 0.25


class Transport(ABC):
    """Carries one finished job's bytes to a device: open, write, close.

    ``blocking`` transports are run on a helper thread under the printer's
    deadline. :meth:`send` raises :class:`DeviceError` (``state`` offline when
    the device is unreachable, faulted when it cannot work at all).
    ``reports_status``: the transport can carry ``DLE EOT`` replies back (and
    the printer asks unless its profile says ``status=no``).
    """

    blocking = True
    description = "printer"
    reports_status = False

    @abstractmethod
    def send(self, data: bytes, timeout: float) -> None:
        """Deliver ``data``; ``timeout`` is the I/O limit in seconds."""

    def close(self) -> None:
        """Release anything held between jobs (nothing, for short connections)."""


def error_reason(error: BaseException) -> str:
    """The most useful short text of an I/O error: escpos hides the OSError
    in ``__cause__``/``__context__``, whose ``strerror`` says most."""
    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, socket.timeout | TimeoutError):
            return "no answer in time"
        if isinstance(candidate, OSError) and candidate.strerror:
            return candidate.strerror[0].lower() + candidate.strerror[1:]
    return error_text(error)


class _PeerClosed(Exception):
    """The printer closed its side of the connection (TCP FIN) before we did."""


class Connection:
    """One open connection of an escpos transport: a job or a status poll.

    Every operation is bounded by the connection's ``deadline``
    (``time.monotonic()`` seconds) and raises :class:`DeviceError` (offline)
    when the connection breaks.
    """

    def __init__(self, transport: EscposTransport, device: Any, deadline: float) -> None:
        self.transport, self.device, self.deadline = transport, device, deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def write(self, data: bytes) -> None:
        with self._errors("while printing"):
            self.transport._set_timeout(self.device, max(self.remaining(), 0.001))
            self.device._raw(data)

    def query(self, n: int, wait: float) -> bytes | None:
        """Send ``DLE EOT n``; the reply, or None when none came within ``wait`` s."""
        wait = min(wait, self.remaining())
        if wait <= 0:
            return None
        with self._errors("during a status request"):
            return self.transport._query(self.device, status_request(n), wait)

    def finish(self, linger: float, *, confirmed: bool) -> None:
        """End the job; see :meth:`EscposTransport._finish`."""
        with self._errors("before the end of the job"):
            self.transport._finish(self.device, min(linger, self.remaining()), confirmed)

    def close(self) -> None:
        try:
            self.device.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is best effort
            pass

    @contextmanager
    def _errors(self, when: str) -> Iterator[None]:
        lib = escpos_library()
        try:
            yield
        except DeviceError:
            raise
        except _PeerClosed as exc:
            raise DeviceError(f"Printer {self.transport.description} closed the connection {when}",
                              state=DeviceState.OFFLINE) from exc
        except (OSError, lib.exceptions.Error) as exc:
            raise DeviceError(
                f"Printer {self.transport.description} stopped answering {when}: {error_reason(exc)}",
                state=DeviceState.OFFLINE,
            ) from exc


class EscposTransport(Transport):
    """A transport that uses one python-escpos printer object per connection."""

    reports_status = True
    #: a status poll may open the device just to see that it is there
    probe = True

    def _make(self, timeout: float) -> Any:  # pragma: no cover - abstract helper
        raise NotImplementedError

    def _after_open(self, device: Any, timeout: float) -> None:
        """Adjust the opened device (e.g. serial write timeout)."""

    def _set_timeout(self, device: Any, timeout: float) -> None:
        """Bound the next write to ``timeout`` seconds."""

    def _query(self, device: Any, request: bytes, wait: float) -> bytes | None:
        """Send one status request and read its reply (None: no reply in ``wait`` s)."""
        raise NotImplementedError(f"{self.description} cannot read replies")

    def _finish(self, device: Any, linger: float, confirmed: bool) -> None:
        """End a job before the close; may raise when the device dropped it."""

    def connect(self, deadline: float) -> Connection:
        """Open the device (bounded by ``deadline``, monotonic seconds).

        :raises DeviceError: offline when it cannot be opened (refused, missing).
        """
        lib = escpos_library()
        timeout = max(deadline - time.monotonic(), 0.001)
        printer = self._make(timeout)
        try:
            printer.open()
        except lib.exceptions.DeviceNotFoundError as exc:
            raise DeviceError(
                f"Printer {self.description} is offline: {error_reason(exc)}", state=DeviceState.OFFLINE
            ) from exc
        connection = Connection(self, printer, deadline)
        try:
            with connection._errors("while opening"):
                self._after_open(printer, timeout)
        except DeviceError:
            connection.close()
            raise
        return connection

    def send(self, data: bytes, timeout: float) -> None:
        connection = self.connect(time.monotonic() + timeout)
        try:
            connection.write(data)
            connection.finish(FINISH_LINGER, confirmed=False)
        finally:
            connection.close()


class NetworkTransport(EscposTransport):
    """Raw TCP (port 9100). python-escpos's ``Network.query_status`` (sendall, then
    ``recv(16)``) is used for DLE EOT; the socket timeout bounds the wait."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.description = f"{host}:{port}"

    def _make(self, timeout: float) -> Any:
        return escpos_library().printer.Network(self.host, port=self.port, timeout=timeout)

    def _set_timeout(self, device: Any, timeout: float) -> None:
        device.device.settimeout(timeout)

    @staticmethod
    def _drain(sock: socket.socket) -> bool:
        """Read what is already waiting (late replies); False when the peer has closed."""
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            while True:
                try:
                    if not sock.recv(4096):
                        return False
                except (BlockingIOError, InterruptedError):
                    return True
        finally:
            sock.settimeout(timeout)

    def _query(self, device: Any, request: bytes, wait: float) -> bytes | None:
        sock = device.device
        if not self._drain(sock):
            raise _PeerClosed
        sock.settimeout(wait)
        try:
            reply = device.query_status(request)  # python-escpos: sendall(request), recv(16)
        except TimeoutError:
            return None
        if not reply:
            raise _PeerClosed  # recv() == b"": the printer closed the connection
        return bytes(reply)

    def _finish(self, device: Any, linger: float, confirmed: bool) -> None:
        # What TCP can tell (see the module docstring): sendall() returning
        # only means the bytes left for the kernel. A reset (RST) or an early
        # close (FIN) by the printer is seen here; a silent peer proves nothing.
        sock = device.device
        if confirmed:  # the printer's reply already proved delivery: end politely, best effort
            try:
                self._drain(sock)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        if not self._drain(sock):
            raise _PeerClosed  # it closed before we ended the job: it did not take it all
        sock.shutdown(socket.SHUT_WR)  # our FIN: end of job
        if linger <= 0:
            return
        end = time.monotonic() + linger
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                if not sock.recv(4096):
                    return  # it read to our FIN and closed: the usual raw-port ending
            except TimeoutError:
                return  # still open: nothing more to learn
            # ConnectionResetError propagates: it dropped unread data


class SerialTransport(EscposTransport):
    """A serial port. python-escpos's ``Serial._read`` is ``read(16)``, which
    waits the whole timeout for 16 bytes; a status reply is one byte, so this
    transport writes the request with escpos and reads one byte with pyserial."""

    def __init__(self, device: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: float = 1, xonxoff: bool = False, dsrdtr: bool = True) -> None:
        self.device = device
        self.settings = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits,
                         "xonxoff": xonxoff, "dsrdtr": dsrdtr}
        self.description = device

    def _make(self, timeout: float) -> Any:
        serial_printer = escpos_library().printer.Serial
        if not serial_printer.is_usable():
            raise DeviceError("serial printing needs pyserial, which is not installed")
        return serial_printer(devfile=self.device, timeout=timeout, **self.settings)

    def _after_open(self, device: Any, timeout: float) -> None:
        device.device.write_timeout = timeout  # escpos sets only the read timeout

    def _set_timeout(self, device: Any, timeout: float) -> None:
        device.device.write_timeout = timeout

    def _query(self, device: Any, request: bytes, wait: float) -> bytes | None:
        port = device.device
        port.reset_input_buffer()  # a late reply to an earlier request
        device._raw(request)
        port.timeout = wait
        return port.read(1) or None  # a serial line cannot tell "closed" from "silent"


class FileTransport(EscposTransport):
    reports_status = False  # a file (or a write-only device node) sends nothing back
    probe = False  # opening it would create the file

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = path

    def _make(self, timeout: float) -> Any:
        File = escpos_library().printer.File
        DeviceNotFoundError = escpos_library().exceptions.DeviceNotFoundError

        class _AppendingFile(File):  # escpos opens "wb"; jobs must accumulate
            def open(self, raise_not_found: bool = True) -> None:
                try:
                    self.device = open(self.devfile, "ab")  # noqa: SIM115 - closed by close()
                except OSError as exc:
                    self.device = None
                    raise DeviceNotFoundError(f"Could not open {self.devfile}") from exc

        return _AppendingFile(devfile=self.path)


def _usb_backend_available() -> bool:
    """Whether pyusb finds one of its backends (libusb 1.0, libusb 0.1, OpenUSB), as ``usb.core.find`` would."""
    from usb.backend import libusb0, libusb1, openusb  # pyusb

    return any(module.get_backend() is not None for module in (libusb1, libusb0, openusb))


class UsbTransport(EscposTransport):
    """USB bulk endpoints. Replies are read from ``in_ep`` with pyusb and an
    explicit timeout (escpos's ``Usb._read`` uses pyusb's default of 1 s)."""

    def __init__(self, vendor_id: int, product_id: int, in_ep: int, out_ep: int) -> None:
        self.ids = (vendor_id, product_id)
        self.eps = (in_ep, out_ep)
        self.description = f"usb {vendor_id:04x}:{product_id:04x}"

    def _make(self, timeout: float) -> Any:
        usb = escpos_library().printer.Usb
        if not usb.is_usable():
            raise DeviceError(
                f"Printer {self.description} cannot be used: USB printing needs the pyusb package, "
                "which is not installed",
                state=DeviceState.FAULTED,
            )
        if not _usb_backend_available():
            raise DeviceError(
                f"Printer {self.description} cannot be used: USB printing needs libusb, the system library "
                "pyusb talks through (e.g. apt install libusb-1.0-0), which was not found",
                state=DeviceState.FAULTED,
            )
        return usb(self.ids[0], self.ids[1], timeout=max(1, int(timeout * 1000)),
                   in_ep=self.eps[0], out_ep=self.eps[1])

    def _set_timeout(self, device: Any, timeout: float) -> None:
        device.timeout = max(1, int(timeout * 1000))  # escpos passes it to every write (ms)

    def _query(self, device: Any, request: bytes, wait: float) -> bytes | None:
        device._raw(request)
        try:
            reply = device.device.read(device.in_ep, 16, max(1, int(wait * 1000)))
        except Exception as exc:  # pyusb's USBTimeoutError; other USBErrors propagate
            if type(exc).__name__ == "USBTimeoutError" or getattr(exc, "errno", None) == errno.ETIMEDOUT:
                return None
            raise
        return bytes(reply) or None


class MemoryTransport(Transport):
    """Keeps every job in an escpos Dummy printer (the stand-in's paper)."""

    blocking = False
    description = "stand-in"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dummy: Any = None
        self.fail_state: DeviceState | None = None
        self.fail_message = ""

    def send(self, data: bytes, timeout: float) -> None:
        with self._lock:
            if self.fail_state is not None:
                raise DeviceError(self.fail_message or f"stand-in printer is {self.fail_state}",
                                  state=self.fail_state)
            if self._dummy is None:
                self._dummy = escpos_library().printer.Dummy()
            self._dummy._raw(data)

    @property
    def output(self) -> bytes:
        with self._lock:
            return self._dummy.output if self._dummy is not None else b""

    def clear(self) -> None:
        with self._lock:
            if self._dummy is not None:
                self._dummy.clear()
