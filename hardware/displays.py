"""Customer (pole) displays: the two-line VFD at an exit lane showing the driver the fee, then the change.

A display is a lane device named by a URL, like every other
(:mod:`hardware.urls`); the display kind's scheme table is :data:`DISPLAY`::

    serial:///dev/ttyUSB1?baudrate=9600&codepage=437   a VFD on an RS-232 / USB-serial line
    tcp://HOST:PORT?codepage=850                       the same behind a serial-to-Ethernet box or a network display
    standin://                                         an in-memory display (demo, tests): keeps its two lines

**Command set** (the Epson DM-D customer display command set, "ESC/POS for
customer displays", as spoken by the DM-D110/DM-D210 and the many pole
displays that copy it; source: the *EPSON ESC/POS command list* for customer
displays, Epson P07303 user manual §7.8,
https://www.manualsdir.com/manuals/88082/epson-p07303.html?page=25, and the
same commands in node-escpos's ``Screen`` class, npm ``escpos-screen``).
Every screen is sent whole, so a display that was switched off and on shows
the right text at the next screen:

==========  ============  ============================================
``ESC @``   ``1B 40``     initialise the display (clears it, defaults)
``ESC t n`` ``1B 74 n``   select the character code table ``n``
``US MD1``  ``1F 01``     overwrite mode (no scrolling)
``CLR``     ``0C``        clear the screen
``US $ x y````1F 24 x y`` cursor to column ``x`` (1-20) of row ``y`` (1-2)
==========  ============  ============================================

then the 20 characters of each row after its cursor move.

**Characters**: a display shows only its code table. ``codepage`` picks it
(``437`` PC437 USA/Standard Europe, table 0, the default; ``850`` PC850
Multilingual, table 2; ``858`` PC858 with the euro sign, table 19: the
table numbers of Epson's ``ESC t`` character code tables). Text is encoded
with Python's codec of that page, so ``£`` is the byte ``0x9C`` in PC437
and PC850. A character the page lacks is never sent: a currency sign
becomes its ISO code (``€`` -> ``EUR`` in PC437, ``₹`` -> ``INR``), an
accented letter its base letter, anything else ``?``. Rows longer than the
display are cut; rows are padded with spaces.

**Options**: ``codepage`` (437, 850, 858), ``columns`` (16-40, default 20),
``timeout`` (seconds a write may take, default 2); ``serial`` also takes the
line settings (``baudrate``, ``bytesize``, ``parity``, ``stopbits``; default
9600 8N1).

:class:`CustomerDisplay` drives one display on its own thread:
:meth:`CustomerDisplay.show` never blocks and never raises (the newest
screen wins; a screen may name the screen that follows it after a delay:
the change, then "Thank you"), a failed write leaves the display FAULTED in
:meth:`CustomerDisplay.status` and is retried with a back-off (0.5 s
doubling to 30 s). A display that is down never holds up a payment.
"""

from __future__ import annotations

import logging
import socket
import unicodedata
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hardware.base import DeviceError, DeviceState, DeviceStatus, error_text
from hardware.urls import DeviceKind, DeviceUrl, Scheme, redact
from hardware.writer import DeviceWriter

__all__ = [
    "CODEPAGES",
    "DISPLAY",
    "CustomerDisplay",
    "DisplayAddress",
    "DisplayFace",
    "EscposFace",
    "Screen",
    "StandinFace",
    "encode_screen",
    "fit_row",
    "open_display",
    "parse_display_url",
    "to_codepage",
]

log = logging.getLogger(__name__)

ESC, US = b"\x1b", b"\x1f"
INITIALISE = ESC + b"@"
OVERWRITE_MODE = US + b"\x01"
CLEAR = b"\x0c"
#: ``codepage`` option -> (Python codec, Epson ``ESC t`` table number).
CODEPAGES: dict[int, tuple[str, int]] = {437: ("cp437", 0), 850: ("cp850", 2), 858: ("cp858", 19)}
DEFAULT_COLUMNS = 20
ROWS = 2
DEFAULT_TIMEOUT_S = 2.0
BACKOFF_S = (0.5, 30.0)
#: Currency signs and their ISO 4217 codes: what a row shows when the code page lacks the sign.
CURRENCY_CODES = {"£": "GBP", "€": "EUR", "$": "USD", "¥": "JPY", "₹": "INR", "¢": "c"}


def to_codepage(text: str, codec: str | None) -> str:
    """``text`` with only characters ``codec`` can encode (None: any character; the stand-in).

    A missing currency sign becomes its ISO code, an accented letter its base
    letter (Unicode NFKD without the marks), any other character ``?``;
    control characters become spaces.
    """
    out: list[str] = []
    for char in text:
        if unicodedata.category(char).startswith("C"):
            out.append(" ")
            continue
        if codec is None:
            out.append(char)
            continue
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            if char in CURRENCY_CODES:
                out.append(CURRENCY_CODES[char])
                continue
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            try:
                base.encode(codec)
            except UnicodeEncodeError:
                base = ""
            out.append(base or "?")
            continue
        out.append(char)
    return "".join(out)


def fit_row(left: str, right: str = "", columns: int = DEFAULT_COLUMNS, codec: str | None = None) -> str:
    """One row of exactly ``columns`` characters: ``left`` at the left, ``right`` at the right edge
    (after :func:`to_codepage`); when both do not fit, ``left`` is cut first, then ``right``."""
    left, right = to_codepage(left, codec).strip(), to_codepage(right, codec).strip()
    right = right[:columns]
    room = columns - len(right) - (1 if right and left else 0)
    left = left[:max(room, 0)]
    return (left + " " * (columns - len(left) - len(right)) + right)[:columns]


@dataclass(frozen=True)
class Screen:
    """What the display shows: two rows, each a ``(left, right)`` pair of texts (right-aligned part
    for amounts). ``Screen.of("Please pay", "£4.80", "Stay 1 h 5 min")``."""

    top: tuple[str, str] = ("", "")
    bottom: tuple[str, str] = ("", "")

    @classmethod
    def of(cls, top_left: str = "", top_right: str = "", bottom_left: str = "", bottom_right: str = "") -> Screen:
        return cls((top_left, top_right), (bottom_left, bottom_right))

    def rows(self, columns: int = DEFAULT_COLUMNS, codec: str | None = None) -> tuple[str, str]:
        """The two rows as the display shows them (:func:`fit_row`)."""
        return fit_row(*self.top, columns=columns, codec=codec), fit_row(*self.bottom, columns=columns, codec=codec)


def encode_screen(screen: Screen, *, codepage: int = 437, columns: int = DEFAULT_COLUMNS) -> bytes:
    """The DM-D command bytes of ``screen`` (module docstring): initialise, code table, overwrite mode,
    clear, then each row after its cursor move. :raises KeyError: an unknown code page."""
    codec, table = CODEPAGES[codepage]
    top, bottom = screen.rows(columns, codec)
    return (INITIALISE + ESC + b"t" + bytes([table]) + OVERWRITE_MODE + CLEAR
            + US + b"$" + bytes([1, 1]) + top.encode(codec)
            + US + b"$" + bytes([1, 2]) + bottom.encode(codec))


# --------------------------------------------------------------------------- faces (the drivers)


class DisplayFace(ABC):
    """One display's link: :meth:`write` puts a screen on it (blocking, bounded by the link's timeout)."""

    description: str
    columns: int = DEFAULT_COLUMNS

    @abstractmethod
    def write(self, screen: Screen) -> tuple[str, str]:
        """Show ``screen``; returns the two rows shown. :raises DeviceError: the display did not take it."""

    def close(self) -> None:
        """Release the link (a later :meth:`write` connects again)."""


class StandinFace(DisplayFace):
    """An in-memory display: ``rows`` (the two lines it shows) and ``history`` (the last 200 screens'
    rows, oldest first). ``broken`` (settable) makes writes fail as a display that is down would."""

    def __init__(self, name: str = "standin", columns: int = DEFAULT_COLUMNS) -> None:
        self.description = f"stand-in display {name}"
        self.columns = columns
        self.rows: tuple[str, str] = (" " * columns, " " * columns)
        self.history: deque[tuple[str, str]] = deque(maxlen=200)
        self.broken = False

    def write(self, screen: Screen) -> tuple[str, str]:
        if self.broken:
            raise DeviceError(f"{self.description} is not answering", state=DeviceState.OFFLINE)
        self.rows = screen.rows(self.columns)
        self.history.append(self.rows)
        return self.rows


class EscposFace(DisplayFace):
    """A DM-D command-set display on a serial port (``device`` and its line settings, through pyserial)
    or a TCP socket (``host``, ``port``). Connects on the first write and again after a failure."""

    def __init__(self, *, mode: str, device: str | None = None, host: str | None = None, port: int = 0,
                 codepage: int = 437, columns: int = DEFAULT_COLUMNS, timeout: float = DEFAULT_TIMEOUT_S,
                 serial: dict[str, Any] | None = None) -> None:
        self.mode, self.device, self.host, self.port = mode, device, host, port
        self.codepage, self.columns, self.timeout = codepage, columns, timeout
        self.serial_settings = dict(serial or {})
        target = device if mode == "serial" else f"{host}:{port}"
        self.description = f"display {target}"
        self._link: Any = None

    def _connect(self) -> Any:
        if self.mode == "serial":
            from hardware.serial_port import open_serial_port

            return open_serial_port(self.device, timeout=self.timeout, write_timeout=self.timeout,
                                    **self.serial_settings)
        return socket.create_connection((self.host, self.port), timeout=self.timeout)

    def write(self, screen: Screen) -> tuple[str, str]:
        data = encode_screen(screen, codepage=self.codepage, columns=self.columns)
        try:
            if self._link is None:
                self._link = self._connect()
            if self.mode == "serial":
                self._link.write(data)
                self._link.flush()
            else:
                self._link.sendall(data)
        except Exception as exc:
            self.close()
            raise DeviceError(f"{self.description}: {error_text(exc)}", state=DeviceState.OFFLINE) from exc
        return screen.rows(self.columns, CODEPAGES[self.codepage][0])

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            try:
                link.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead link is best effort
                pass


# --------------------------------------------------------------------------- the device


class CustomerDisplay(DeviceWriter):
    """One customer display driven on its own thread (module docstring; the thread, health and back-off
    are :class:`hardware.writer.DeviceWriter`'s).

    ``show(screen, then=[(seconds, screen), ...])`` records what to show and returns
    at once; ``status()`` (never I/O) is OK with the rows shown, UNKNOWN
    before the first write, FAULTED with the driver's reason while writes
    fail. ``rows`` are the rows last shown (spaces before the first).
    """

    def __init__(self, face: DisplayFace, *, name: str = "", backoff: tuple[float, float] = BACKOFF_S) -> None:
        name = name or face.description
        super().__init__(name=name, backoff=backoff, thread_name=f"display {name}",
                         status=DeviceStatus(DeviceState.UNKNOWN, f"{name}: nothing shown yet"))
        self.face = face
        self.rows: tuple[str, str] = (" " * face.columns, " " * face.columns)
        self._wanted: Screen | None = None
        self._next: deque[tuple[float, Screen]] = deque()  # (seconds after the one before is shown, screen)
        self._pending = False
        self._next_at: float | None = None
        self._start()

    def show(self, screen: Screen, *, then: Sequence[tuple[float, Screen]] = ()) -> None:
        """Show ``screen`` (the newest wins), then each ``(seconds, screen)`` of ``then`` that many seconds
        after the one before it is shown, unless another :meth:`show` comes first. Never blocks, never raises."""
        with self._cond:
            if self._closed:
                return
            self._wanted, self._pending = screen, True
            self._next = deque((max(float(after), 0.0), later) for after, later in then)
            self._next_at = None
            self._reset_backoff()
            self._cond.notify_all()

    def wait_shown(self, predicate, timeout: float) -> bool:
        """Wait up to ``timeout`` s until ``predicate(rows)`` holds for the rows shown."""
        return self._wait_until(lambda: predicate(self.rows), timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until the last screen asked for is written (or failed once)."""
        return self._wait_until(lambda: not (self._pending and self._retry_at is None), timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Write what is pending (bounded by ``timeout`` s: a CLI exit ends with the change shown; not
        waited for when the display is faulted), then stop the thread (a write under way is left to its
        own timeout: the thread is a daemon) and release the link."""
        if self.status().state != DeviceState.FAULTED:
            self.wait_idle(timeout)
        self._shut(0.2)

    def _take(self, now: float) -> tuple[Screen | None, float | None]:
        if self._pending and (self._retry_at is None or self._retry_at <= now):
            return self._wanted, None
        if not self._pending and self._next_at is not None and self._next_at <= now:
            self._wanted, self._pending = self._next.popleft()[1], True
            self._next_at = None
            return self._wanted, None
        due = [t for t in (self._retry_at if self._pending else None, self._next_at) if t is not None]
        return None, (min(due) if due else None)

    def _write(self, job: Screen) -> tuple[str, str]:
        return self.face.write(job)

    def _retry_wanted(self, job: Screen) -> bool:
        return self._wanted is job

    def _written(self, job: Screen, result: tuple[str, str]) -> str:
        self.rows = result
        if self._wanted is job:
            self._pending = False
            self._reset_backoff()
            if self._next:
                self._next_at = self.clock() + self._next[0][0]
        return "shows " + " | ".join(r.rstrip() for r in result)

    def _release(self) -> None:
        self.face.close()


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class DisplayAddress:
    """A parsed display URL: ``scheme`` and the :class:`EscposFace` keyword ``params`` (none: stand-in)."""

    url: str
    scheme: str
    params: dict[str, Any]


def _common(url: DeviceUrl, params: dict[str, Any]) -> DisplayAddress:
    options = url.options
    codepage = options.choice("codepage", [str(page) for page in CODEPAGES], "437")
    params["codepage"] = int(codepage or "437")
    params["columns"] = options.integer("columns", 16, 40, DEFAULT_COLUMNS)
    params["timeout"] = options.number("timeout", 0, 60, DEFAULT_TIMEOUT_S, unit="seconds", above=True)
    return DisplayAddress(url.url, url.scheme, params)


def parse_standin_display_url(url: DeviceUrl) -> DisplayAddress:
    """``standin://`` (no host, path; ``columns`` only)."""
    url.no_location()
    columns = url.options.integer("columns", 16, 40, DEFAULT_COLUMNS)
    return DisplayAddress(url.url, url.scheme, {"columns": columns})


def parse_serial_display_url(url: DeviceUrl) -> DisplayAddress:
    """``serial:///dev/ttyUSB1`` (or ``serial://COM3``, a nested pyserial URL) with its line and display options."""
    device = url.serial_port()
    line = url.options.serial_line()
    return _common(url, {"mode": "serial", "device": device, "serial": line})


def parse_tcp_display_url(url: DeviceUrl) -> DisplayAddress:
    """``tcp://HOST:PORT`` (a port is required) with the display options."""
    host, port = url.host_port()
    return _common(url, {"mode": "tcp", "host": host, "port": port})


def _open_standin(address: DisplayAddress, *, name: str = "", **_context: Any) -> CustomerDisplay:
    return CustomerDisplay(StandinFace(name or "standin", address.params["columns"]), name=name or "standin")


def _open_escpos(address: DisplayAddress, *, name: str = "", **_context: Any) -> CustomerDisplay:
    face = EscposFace(**address.params)
    return CustomerDisplay(face, name=name or f"display {redact(address.url)}")


#: The display kind: every customer-display URL scheme with its parser and opener.
DISPLAY = DeviceKind("display", (
    Scheme("standin", parse_standin_display_url, _open_standin, "standin://", stand_in=True),
    Scheme("serial", parse_serial_display_url, _open_escpos, "serial:///dev/ttyUSB1?baudrate=9600"),
    Scheme("tcp", parse_tcp_display_url, _open_escpos, "tcp://192.168.1.90:9100?codepage=850"),
))


def parse_display_url(url: str) -> DisplayAddress:
    """Check a display URL without I/O. :raises InputError: the message quotes the URL and names the option."""
    address: DisplayAddress = DISPLAY.parse(url)
    return address


def open_display(url: str, *, name: str = "") -> CustomerDisplay:
    """The :class:`CustomerDisplay` at ``url`` (its thread started; no I/O until the first screen).

    :raises InputError: a malformed URL.
    """
    display: CustomerDisplay = DISPLAY.open(url, name=name)
    return display
