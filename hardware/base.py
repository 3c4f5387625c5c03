"""Device interfaces and the data shapes that cross the hardware boundary.

Everything here is plain Python: no Textual, no device library, no database.
The console's services build :class:`TicketData` / :class:`ReceiptData` (money
already formatted, times already converted to facility time) and hand them to
a :class:`TicketPrinter`; gates, scanners and plate cameras report back through
plain callbacks that run **on the driver's own thread**. A callback must be
quick and thread-safe; the TUI's callbacks only call ``post_message``
(STYLE.md rule 3).

Time: every ``at`` field is an aware datetime in UTC; the ``*_local`` fields of
tickets and receipts are aware datetimes in the facility's zone (BRIEF.md,
"Rules that hold everywhere").
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from attendant.core.clock import utc_now  # noqa: F401 - the one clock, also for the drivers
from attendant.core.errors import AttendantError, InputError

__all__ = [
    "DeviceError",
    "DeviceState",
    "DeviceStatus",
    "Gate",
    "GateEvent",
    "GateListener",
    "GateState",
    "PlateCamera",
    "PlateRead",
    "ReceiptData",
    "Scanner",
    "TicketData",
    "TicketPrinter",
    "EventDispatcher",
    "call_listeners",
    "error_text",
    "utc_now",
]

log = logging.getLogger(__name__)

_TICKET_NO = re.compile(r"[0-9]+")


def error_text(error: BaseException) -> str:
    """The last non-empty line of ``str(error)``, or the error's class name:
    driver errors (pyserial, pymodbus) put the useful part last."""
    lines = str(error).strip().splitlines()
    return lines[-1].strip() if lines and lines[-1].strip() else type(error).__name__


class DeviceError(AttendantError):
    """A device failed: a printer that does not answer, a gate in fault.

    ``str(error)`` is a sentence fit to show an attendant (it names the device).
    ``state`` is the :class:`DeviceState` the device is left in.
    """

    def __init__(self, message: str, *, device: str = "", state: DeviceState | None = None) -> None:
        super().__init__(message)
        self.device = device
        self.state = state if state is not None else DeviceState.FAULTED


class DeviceState(StrEnum):
    """Health of one device, as shown in the console's device-health view."""

    OK = "ok"
    OFFLINE = "offline"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    FAULTED = "faulted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeviceStatus:
    """One observation of a device's health.

    ``message`` is human text ("" when there is nothing to say); ``at`` is UTC.
    """

    state: DeviceState
    message: str = ""
    at: datetime = field(default_factory=utc_now)

    @property
    def ok(self) -> bool:
        """True when the device is usable right now."""
        return self.state in (DeviceState.OK, DeviceState.PAPER_LOW)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be non-empty text, got {value!r}")


@dataclass(frozen=True)
class TicketData:
    """What an entry ticket shows. Built by the entry service, printed as-is.

    - ``ticket_no``: zero-padded digits (``"00000042"``); also the Code 128 payload.
    - ``code``: the signed ticket code; the QR payload, exactly, byte for byte.
    - ``entry_at_local``: aware datetime in the facility's zone (printed as is).
    - ``rate_summary``: one line, e.g. ``"£2.40 per started hour, max £18.90 a day"``.

    :raises InputError: a field that cannot be printed (non-digit ticket number,
        empty code, naive entry time).
    """

    facility_name: str
    facility_address: str | None
    ticket_no: str
    code: str
    entry_at_local: datetime
    spot_label: str
    level_name: str
    plate: str | None
    vehicle_class: str
    lane: str
    rate_summary: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.facility_name, "facility_name")
        if not isinstance(self.ticket_no, str) or not _TICKET_NO.fullmatch(self.ticket_no):
            raise InputError(f"ticket_no must be zero-padded digits such as 00000042, got {self.ticket_no!r}")
        _require_text(self.code, "code")
        _require_aware(self.entry_at_local, "entry_at_local")
        _require_text(self.spot_label, "spot_label")


@dataclass(frozen=True)
class ReceiptData:
    """What an exit receipt shows. Money is already formatted by the caller.

    - ``lines``: the fee breakdown as ``(label, formatted amount)`` pairs.
    - ``total``, ``paid``, ``tendered``, ``change``: formatted amounts;
      ``tendered`` and ``change`` are printed only when not None (cash).
    - ``entry_at_local`` / ``exit_at_local``: aware, facility time.
    - ``duration_text``: e.g. ``"3 h 12 min"``.

    :raises InputError: naive times, an exit before the entry, an empty total.
    """

    facility_name: str
    facility_address: str | None
    receipt_no: str
    ticket_no: str
    plate: str | None
    entry_at_local: datetime
    exit_at_local: datetime
    duration_text: str
    lines: tuple[tuple[str, str], ...]
    total: str
    method: str
    paid: str
    tendered: str | None
    change: str | None
    lane: str

    def __post_init__(self) -> None:
        _require_text(self.facility_name, "facility_name")
        _require_text(self.receipt_no, "receipt_no")
        _require_aware(self.entry_at_local, "entry_at_local")
        _require_aware(self.exit_at_local, "exit_at_local")
        if self.exit_at_local < self.entry_at_local:
            raise InputError("exit_at_local is before entry_at_local")
        _require_text(self.total, "total")
        try:
            lines = tuple((str(label), str(amount)) for label, amount in self.lines)
        except (TypeError, ValueError):
            raise InputError("lines must be (label, amount) pairs") from None
        object.__setattr__(self, "lines", lines)


@dataclass(frozen=True)
class PlateRead:
    """One licence-plate read from an LPR/ANPR camera (or typed, or replayed).

    ``confidence`` is 0..1; ``at`` is UTC; ``source`` names the camera or feed;
    ``image``: a small picture of the plate (PNG bytes at most
    :data:`hardware.plate_picture.MAX_WIDTH` x ``MAX_HEIGHT`` pixels, made by
    :mod:`hardware.plate_picture`) when the camera sent or saw one, else None
    (left out of ``repr()`` and of comparisons).

    :raises InputError: confidence outside 0..1, a naive time, an empty plate,
        an ``image`` that is not bytes.
    """

    plate: str
    confidence: float
    at: datetime
    lane: str | None
    source: str
    image: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_text(self.plate, "plate")
        if not isinstance(self.confidence, (int, float)) or not 0.0 <= float(self.confidence) <= 1.0:
            raise InputError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        _require_aware(self.at, "at")
        if self.image is not None and not isinstance(self.image, bytes):
            raise InputError(f"image must be bytes (PNG or JPEG), got {type(self.image).__name__}")


class GateState(StrEnum):
    """Position of a barrier as its driver knows it."""

    CLOSED = "closed"
    OPEN = "open"
    FAULT = "fault"


@dataclass(frozen=True)
class GateEvent:
    """A change of a gate: a vend (opening), a close, a fault.

    ``source`` is the vend source (``VendSource`` value) for openings and
    ``"auto"`` for a close after the hold time; ``reason`` is the attendant's
    reason for a manual vend (or a fault message); ``at`` is UTC.
    """

    lane: str
    state: GateState
    source: str
    reason: str | None
    at: datetime = field(default_factory=utc_now)


GateListener = Callable[[GateEvent], None]


class TicketPrinter(ABC):
    """A ticket/receipt printer. Each call is one print job.

    A job either completes or raises :class:`DeviceError` (and ``status()``
    then says why); it never blocks longer than the printer's timeout.
    Jobs are blocking: call them from a worker thread, not the UI thread.
    """

    name: str

    @abstractmethod
    def print_ticket(self, ticket: TicketData) -> None:
        """Print an entry ticket. :raises DeviceError: the job failed."""

    @abstractmethod
    def print_receipt(self, receipt: ReceiptData) -> None:
        """Print an exit receipt. :raises DeviceError: the job failed."""

    @abstractmethod
    def print_text(self, lines: Iterable[str]) -> None:
        """Print plain lines and cut (a test print). :raises DeviceError: the job failed."""

    @abstractmethod
    def status(self) -> DeviceStatus:
        """The last known health of the printer (never does I/O)."""

    @abstractmethod
    def close(self) -> None:
        """Release the printer; later jobs raise DeviceError."""


class Gate(ABC):
    """A barrier on one lane. Listeners are called on the gate's own thread."""

    name: str
    lane: str

    @abstractmethod
    def vend(self, source: str, reason: str | None = None) -> GateEvent:
        """Open the gate once (a vend) and return the opening event.

        :raises InputError: an unknown source.
        :raises DeviceError: the gate is in fault or closed down.
        """

    @property
    @abstractmethod
    def state(self) -> GateState:
        """``"closed"``, ``"open"`` or ``"fault"``."""

    @abstractmethod
    def add_listener(self, callback: GateListener) -> None:
        """Call ``callback(GateEvent)`` on every change, from the gate's thread."""

    @abstractmethod
    def remove_listener(self, callback: GateListener) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""

    def status(self) -> DeviceStatus:
        """Health derived from the gate's state (drivers may override)."""
        if self.state == GateState.FAULT:
            return DeviceStatus(DeviceState.FAULTED, f"gate {self.name} is in fault")
        return DeviceStatus(DeviceState.OK, f"gate {self.state}")

    @abstractmethod
    def close(self) -> None:
        """Release the gate and its timers; later vends raise DeviceError."""


class Scanner(ABC):
    """A barcode/QR scanner that reports each decoded code as a string."""

    name: str

    @abstractmethod
    def start(self, on_code: Callable[[str], None]) -> None:
        """Start reading; ``on_code(code)`` is called from the scanner's thread."""

    @abstractmethod
    def stop(self) -> None:
        """Stop reading and join the thread (bounded by a timeout)."""

    def status(self) -> DeviceStatus:
        """Health of the scanner (drivers may override)."""
        return DeviceStatus(DeviceState.UNKNOWN)


class PlateCamera(ABC):
    """An LPR/ANPR source that reports :class:`PlateRead` values."""

    name: str

    @abstractmethod
    def start(self, on_read: Callable[[PlateRead], None]) -> None:
        """Start reading; ``on_read(read)`` is called from the camera's thread."""

    @abstractmethod
    def stop(self) -> None:
        """Stop reading and join the thread (bounded by a timeout)."""

    def status(self) -> DeviceStatus:
        """Health of the camera (drivers may override)."""
        return DeviceStatus(DeviceState.UNKNOWN)


def call_listeners(listeners: Iterable[Callable[[object], None]], event: object, device: str) -> None:
    """Call each listener with ``event``; a failing listener is logged, not raised.

    One broken subscriber must not stop a gate or silence the others.
    """
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a listener's bug must not kill the driver thread
            log.exception("listener %r of %s failed", listener, device)


class EventDispatcher:
    """Delivers events to listeners in order on one daemon thread per device.

    Drivers post from any thread (a vend on a worker, a close on a timer); the
    listeners see the events in the order they were posted and a slow listener
    never blocks the driver. The thread starts on the first event.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[tuple[tuple[Callable[[object], None], ...], object] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def post(self, listeners: Iterable[Callable[[object], None]], event: object) -> None:
        """Queue ``event`` for ``listeners`` (ignored after :meth:`close`)."""
        listeners = tuple(listeners)
        if not listeners:
            return
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self.name} events", daemon=True)
                self._thread.start()
            self._queue.put((listeners, event))

    def close(self, timeout: float = 1.0) -> None:
        """Deliver what is queued, then stop the thread (join bounded by ``timeout`` s)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            listeners, event = item
            call_listeners(listeners, event, self.name)
