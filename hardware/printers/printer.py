"""The ESC/POS printer behind a transport, and the in-memory stand-in printer.

How a job runs: the ticket is laid out as blocks
(:mod:`hardware.printers.layout`), rendered to ESC/POS bytes in memory
(:mod:`hardware.printers.escpos`), so a layout problem never half-prints,
then the finished bytes go to the device in one short connection (open,
write, close; :mod:`hardware.printers.transports`). The write happens on a
helper thread and the caller waits at most ``timeout`` seconds; a failure
raises :class:`~hardware.base.DeviceError` and the printer's ``status()``
becomes ``offline`` (or ``faulted``).

Status (``DLE EOT``, decoded by :mod:`hardware.printers.status`):
:meth:`EscposTicketPrinter.poll_status` opens a short connection, asks n=1
(printer), n=2 (offline cause) and n=4 (roll paper sensor) and maps the
replies to ``ok``, ``paper_low``, ``paper_out``, ``cover_open``, ``faulted``
or ``offline``; a device that cannot be reached is ``offline``, one that is
reached but does not answer (or answers nonsense, or has ``status=no``, or is
a file) is ``unknown``, never a fault. Every job on a status printer asks the
same questions on its own connection before sending: paper out, cover open,
an error or offline refuse the job at once with ``DeviceError`` (the booth
then queues the ticket for reprint) and no byte of it is sent. A printer that
leaves the request unanswered is not asked again by jobs until a poll gets an
answer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from attendant.core.errors import InputError

from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    ReceiptData,
    TicketData,
    TicketPrinter,
    utc_now,
)
from hardware.printers.escpos import EscposRenderer
from hardware.printers.layout import Block, layout_receipt, layout_text, layout_ticket, render_plain
from hardware.printers.profile import PrinterProfile
from hardware.printers.status import (
    BLOCKING_STATES,
    STATUS_PRINTER,
    STATUS_QUERIES,
    STATUS_REPLY_TIMEOUT,
    decode_status,
    is_status_reply,
)
from hardware.printers.transports import (
    FINISH_LINGER,
    Connection,
    EscposTransport,
    MemoryTransport,
    Transport,
    error_reason,
)

__all__ = ["DEFAULT_TIMEOUT", "EscposTicketPrinter", "PrintJob", "StandinPrinter"]

#: Seconds a print job (or a status poll) may take, as the caller sees it.
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class PrintJob:
    """One finished job: ``kind`` (ticket, receipt, text), the plain-text
    picture, the ESC/POS bytes sent, and when it completed (UTC)."""

    kind: str
    text: str
    data: bytes
    at: datetime


class EscposTicketPrinter(TicketPrinter):
    """An ESC/POS printer behind a :class:`~hardware.printers.transports.Transport`; see the module docstring.

    ``timeout`` (seconds) bounds every job and every :meth:`poll_status` as seen
    by the caller. Jobs and polls on one printer are serialised. Thread-safe.
    """

    def __init__(self, transport: Transport, *, name: str, profile: PrinterProfile | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InputError(f"printer timeout must be more than 0 seconds, got {timeout!r}")
        self.transport = transport
        self.name = name
        self.profile = profile or PrinterProfile()
        self.profile.check()
        self.timeout = float(timeout)
        self._renderer: EscposRenderer | None = None
        self._state_lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._status = DeviceStatus(DeviceState.UNKNOWN, "no job printed yet")
        self._last_job: PrintJob | None = None
        self._closed = False
        # True after the printer left a status request unanswered: jobs stop
        # asking (each would wait STATUS_REPLY_TIMEOUT) until a poll gets an answer.
        self._status_silent = False

    # -- TicketPrinter

    def print_ticket(self, ticket: TicketData) -> None:
        """Print an entry ticket. :raises DeviceError: the job failed or was refused
        (paper out, cover open, error, offline); ``status()`` says why."""
        self._job("ticket", layout_ticket(ticket, self.profile.columns))

    def print_receipt(self, receipt: ReceiptData) -> None:
        """Print an exit receipt. :raises DeviceError: the job failed or was refused (status says why)."""
        self._job("receipt", layout_receipt(receipt, self.profile.columns))

    def print_text(self, lines: Iterable[str]) -> None:
        """Print ``lines`` (wrapped to the page width) and cut: a test print."""
        if isinstance(lines, str):
            lines = lines.splitlines()
        self._job("text", layout_text(lines, self.profile.columns))

    def status(self) -> DeviceStatus:
        """The last known status (no I/O): unknown before the first job or poll,
        then what the last job or :meth:`poll_status` found."""
        with self._state_lock:
            return self._status

    def close(self) -> None:
        """Refuse further jobs; connections are per job, so nothing stays open."""
        with self._state_lock:
            self._closed = True
        self.transport.close()

    # -- status

    @property
    def reports_status(self) -> bool:
        """True when jobs and polls ask the printer for its status (``DLE EOT``).

        The transport must carry replies (tcp, serial, usb; not file) and the
        profile must not say ``status=no`` (``PrinterProfile.realtime_status``).
        """
        return self.transport.reports_status and self.profile.realtime_status is not False

    def poll_status(self, timeout: float | None = None) -> DeviceStatus:
        """Ask the printer how it is now, on a short connection of its own.

        Sends ``DLE EOT`` 1, 2 and 4 and decodes the replies with
        :func:`decode_status`. Returns within ``timeout`` seconds (default: the
        printer's job timeout) and never raises :class:`DeviceError`:

        - cannot connect (refused, no such device, no answer): ``offline``;
        - connected but no status reply: ``unknown`` (the printer does not
          support status, e.g. a write-only print server; not a fault);
        - ``status=no`` (tcp/serial/usb): the device is opened only to see that it
          is there: ``offline`` or ``unknown``; file:// printers are not touched
          (``unknown``);
        - a job in progress for the whole ``timeout``: the last known status.

        The result becomes :meth:`status` whenever the device was contacted.

        :raises InputError: a ``timeout`` that is not a positive number.
        """
        if timeout is None:
            timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InputError(f"status poll timeout must be more than 0 seconds, got {timeout!r}")
        timeout = float(timeout)
        with self._state_lock:
            closed = self._closed
        if closed:
            return DeviceStatus(DeviceState.OFFLINE, f"Printer {self.name} is closed")
        transport = self.transport
        if not isinstance(transport, EscposTransport) or not (self.reports_status or transport.probe):
            return DeviceStatus(DeviceState.UNKNOWN, f"Printer {self.name} does not report its status")
        deadline = time.monotonic() + timeout
        stage = ["waiting"]  # -> connecting -> connected; the worker's progress
        result: list[DeviceStatus | None] = []
        done = threading.Event()

        def work() -> None:
            try:
                result.append(self._poll_locked(transport, deadline, stage))
            finally:
                done.set()

        threading.Thread(target=work, name=f"printer {self.name} status", daemon=True).start()
        if done.wait(timeout) and result:
            status = result[0]
            if status is None:  # a job held the printer for the whole timeout
                return self.status()
        elif stage[0] == "waiting":
            return self.status()
        elif stage[0] == "connected":
            status = DeviceStatus(
                DeviceState.UNKNOWN,
                f"Printer {self.name} is connected but did not answer the status request within {timeout:g} s",
            )
        else:
            status = DeviceStatus(DeviceState.OFFLINE, f"Printer {self.name} did not answer within {timeout:g} s")
        with self._state_lock:
            self._status = status
        return status

    def _poll_locked(self, transport: EscposTransport, deadline: float, stage: list[str]) -> DeviceStatus | None:
        """The poll's I/O on the worker thread; None when the printer stayed busy."""
        if not self._io_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return None
        try:
            stage[0] = "connecting"
            connection = transport.connect(deadline)
            stage[0] = "connected"
            try:
                if not self.reports_status:
                    connection.finish(0.0, confirmed=True)
                    return DeviceStatus(
                        DeviceState.UNKNOWN,
                        f"Printer {self.name} is reachable; it is set not to report paper or cover status "
                        "(status=no)",
                    )
                status, _ = self._read_status(connection, connection.remaining())
                if status is None:
                    self._status_silent = True
                    return DeviceStatus(
                        DeviceState.UNKNOWN,
                        f"Printer {self.name} is connected but did not answer the status request; "
                        "it may not support status (status=no turns the request off)",
                    )
                self._status_silent = False
                connection.finish(0.0, confirmed=True)
                return status
            finally:
                connection.close()
        except DeviceError as exc:
            exc.device = self.name
            return DeviceStatus(exc.state, str(exc))
        except Exception as exc:  # noqa: BLE001 - a poll never raises; any failure is "offline"
            return DeviceStatus(DeviceState.OFFLINE, f"Printer {self.name} failed: {error_reason(exc)}")
        finally:
            self._io_lock.release()

    def _read_status(self, connection: Connection, wait: float) -> tuple[DeviceStatus | None, bool]:
        """Ask DLE EOT 1, 2, 4 in turn, each reply awaited up to ``wait`` s.

        Returns (status or None when n=1 got no answer, in_sync). ``in_sync`` is
        False when a reply was missing or malformed: a late byte could then be
        read as the answer to a later request, so no more requests are made on
        this connection.
        """
        replies: dict[int, bytes | None] = {}
        in_sync = True
        for n in STATUS_QUERIES:
            reply = connection.query(n, wait)
            replies[n] = reply
            if not is_status_reply(reply):
                in_sync = False
                break
        if not replies[STATUS_PRINTER]:
            return None, False
        status = decode_status(replies, name=self.name)
        return status, in_sync and status.state != DeviceState.UNKNOWN

    # -- extras

    @property
    def last_job(self) -> PrintJob | None:
        """The last job that completed (its text and bytes), or None."""
        with self._state_lock:
            return self._last_job

    def render(self, blocks: Sequence[Block]) -> bytes:
        """ESC/POS bytes for ``blocks`` with this printer's profile (no I/O)."""
        renderer = self._renderer
        if renderer is None:  # built outside the lock: the first one imports escpos
            renderer = EscposRenderer(self.profile)
            self._renderer = renderer
        return renderer.render(blocks)

    def _set_status(self, state: DeviceState, message: str) -> None:
        with self._state_lock:
            self._status = DeviceStatus(state, message, utc_now())

    def _job(self, kind: str, blocks: list[Block]) -> None:
        with self._state_lock:
            closed = self._closed
        if closed:
            raise DeviceError(f"Printer {self.name} is closed", device=self.name, state=DeviceState.OFFLINE)
        try:
            data = self.render(blocks)
        except InputError:
            raise
        except Exception as exc:  # escpos raises its own error types for bad codes
            raise DeviceError(f"Printer {self.name} could not lay out the {kind}: {exc}",
                              device=self.name) from exc
        self._deliver(data, kind)
        job = PrintJob(kind, render_plain(blocks, self.profile.columns), data, utc_now())
        with self._state_lock:
            self._last_job = job
        self._recorded(job)

    def _recorded(self, job: PrintJob) -> None:
        """Hook for subclasses: a job completed."""

    def _exchange(self, data: bytes, kind: str) -> DeviceStatus | None:
        """One job's I/O: status check, bytes, confirmation. Returns the status
        read after the job (None when there is none).

        On a printer that reports status the job connection first asks
        ``DLE EOT`` 1, 2, 4: paper out, cover open, an error or offline refuse
        the job before a byte of it is sent. After the bytes the same questions
        again: an answer proves the printer took in everything before it (TCP
        keeps order; DLE EOT is answered on arrival); a closed or reset
        connection fails the job.
        """
        transport = self.transport
        if not isinstance(transport, EscposTransport):
            transport.send(data, self.timeout)
            return None
        connection = transport.connect(time.monotonic() + self.timeout)
        try:
            wait = min(STATUS_REPLY_TIMEOUT, self.timeout / 4)
            ask_after = False
            if self.reports_status and not self._status_silent:
                before, ask_after = self._read_status(connection, wait)
                if before is None:
                    self._status_silent = True  # does not answer: stop asking on every job
                elif before.state in BLOCKING_STATES:
                    raise DeviceError(f"{before.message}; the {kind} was not sent", state=before.state)
            connection.write(data)
            after = None
            try:
                if ask_after:
                    after, _ = self._read_status(connection, wait)
                confirmed = after is not None and after.state != DeviceState.UNKNOWN
                connection.finish(FINISH_LINGER, confirmed=confirmed)
            except DeviceError as exc:  # the connection broke after (part of) the job went out
                raise DeviceError(f"{exc}; the {kind} may not have printed", state=exc.state) from exc
            if after is not None and after.state in BLOCKING_STATES:
                raise DeviceError(f"{after.message}; the {kind} was sent but may not have printed",
                                  state=after.state)
            return after
        finally:
            connection.close()

    def _status_after_job(self, after: DeviceStatus | None) -> DeviceStatus:
        if after is not None and after.state == DeviceState.PAPER_LOW:
            return DeviceStatus(DeviceState.PAPER_LOW, f"printed; {after.message.lower()}")
        if (after is None or after.state == DeviceState.UNKNOWN) and self.status().state == DeviceState.PAPER_LOW:
            return DeviceStatus(DeviceState.PAPER_LOW, "printed; paper was running low at the last check")
        return DeviceStatus(DeviceState.OK, "printed")

    def _send_locked(self, data: bytes, cancelled: threading.Event | None, kind: str = "job") -> None:
        if not self._io_lock.acquire(timeout=self.timeout):
            raise DeviceError(f"Printer {self.name} is still busy with an earlier job",
                              device=self.name, state=DeviceState.OFFLINE)
        try:
            if cancelled is not None and cancelled.is_set():
                return
            try:
                after = self._exchange(data, kind)
            except DeviceError as exc:
                exc.device = self.name
                self._set_status(exc.state, str(exc))
                raise
            except Exception as exc:  # noqa: BLE001 - any driver failure is a device failure
                error = DeviceError(f"Printer {self.name} failed: {exc}", device=self.name)
                self._set_status(error.state, str(error))
                raise error from exc
            status = self._status_after_job(after)
            self._set_status(status.state, status.message)
        finally:
            self._io_lock.release()

    def _deliver(self, data: bytes, kind: str = "job") -> None:
        if not self.transport.blocking:
            self._send_locked(data, None, kind)
            return
        done = threading.Event()
        cancelled = threading.Event()
        outcome: list[BaseException] = []

        def work() -> None:
            try:
                self._send_locked(data, cancelled, kind)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=work, name=f"printer {self.name}", daemon=True).start()
        if not done.wait(self.timeout):
            cancelled.set()
            message = f"Printer {self.name} did not answer within {self.timeout:g} s"
            self._set_status(DeviceState.OFFLINE, message)
            raise DeviceError(message, device=self.name, state=DeviceState.OFFLINE)
        if outcome:
            raise outcome[0]


class StandinPrinter(EscposTicketPrinter):
    """An in-memory printer (``standin://``, ``dummy://``) for the demo and tests.

    It renders real ESC/POS bytes and keeps them (``output``, ``last_bytes``)
    with a plain-text picture of the last job (``last_text``) so the console
    can show the ticket on screen. :meth:`simulate` makes the next jobs fail
    like a real printer (paper out, offline, cover open).
    """

    def __init__(self, *, name: str = "standin://", profile: PrinterProfile | None = None,
                 timeout: float = DEFAULT_TIMEOUT, keep: int = 50) -> None:
        super().__init__(MemoryTransport(), name=name, profile=profile, timeout=timeout)
        self._status = DeviceStatus(DeviceState.OK, "stand-in printer ready")
        self._jobs: deque[PrintJob] = deque(maxlen=keep)

    @property
    def output(self) -> bytes:
        """Every byte printed since the start (or the last :meth:`clear`)."""
        return self.transport.output  # type: ignore[attr-defined]

    @property
    def last_bytes(self) -> bytes:
        """ESC/POS bytes of the last completed job (b"" when none)."""
        job = self.last_job
        return job.data if job else b""

    @property
    def last_text(self) -> str:
        """Plain-text picture of the last completed job ("" when none)."""
        job = self.last_job
        return job.text if job else ""

    @property
    def jobs(self) -> tuple[PrintJob, ...]:
        """The most recent jobs, oldest first (bounded)."""
        with self._state_lock:
            return tuple(self._jobs)

    def clear(self) -> None:
        """Forget printed output and jobs."""
        self.transport.clear()  # type: ignore[attr-defined]
        with self._state_lock:
            self._jobs.clear()
            self._last_job = None

    def simulate(self, state: DeviceState, message: str = "") -> None:
        """Act like a real printer in ``state`` until told otherwise.

        ``paper_out``, ``cover_open``, ``offline`` and ``faulted`` make every
        later job raise :class:`DeviceError` with that state (and ``message``,
        default ``"Printer NAME: paper out"``); ``paper_low`` and ``unknown``
        still print and keep reporting the state; ``ok`` restores. The status
        (and :meth:`poll_status`) changes at once, as a polled real printer's would.
        """
        transport: MemoryTransport = self.transport  # type: ignore[assignment]
        state = DeviceState(state)
        default = f"Printer {self.name}: {state.value.replace('_', ' ')}"
        with transport._lock:
            if state in BLOCKING_STATES:
                transport.fail_state, transport.fail_message = state, message or default
            else:
                transport.fail_state, transport.fail_message = None, ""
        self._set_status(state, message or ("stand-in printer ready" if state == DeviceState.OK else default))

    def poll_status(self, timeout: float | None = None) -> DeviceStatus:
        """The simulated status (see :meth:`simulate`); no I/O, never raises DeviceError."""
        with self._state_lock:
            if self._closed:
                return DeviceStatus(DeviceState.OFFLINE, f"Printer {self.name} is closed")
        return self.status()

    def _status_after_job(self, after: DeviceStatus | None) -> DeviceStatus:
        current = self.status()
        if current.state in (DeviceState.PAPER_LOW, DeviceState.UNKNOWN):
            return current  # simulated: printing does not change it
        return DeviceStatus(DeviceState.OK, "printed")

    def _recorded(self, job: PrintJob) -> None:
        with self._state_lock:
            self._jobs.append(job)
