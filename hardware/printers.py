"""ESC/POS ticket and receipt printers, built on python-escpos 3.1.

Libraries used (not home-made): **python-escpos** renders every command (text,
code pages, native QR ``GS ( k``, Code 128 ``GS k``, raster images ``GS v 0``,
cuts) and supplies the transports (``Network``, ``Serial``, ``File``, ``Usb``,
``Dummy``); **python-barcode** draws software Code 128 images and **qrcode**
sizes software QR images.

How a job runs: the ticket is laid out as a list of blocks, rendered into an
in-memory ``escpos.printer.Dummy`` (so a layout problem never half-prints), then
the finished bytes go to the device in one short connection — open, write,
close — so a printer that vanished between jobs is simply retried on the next
job. The write happens on a helper thread and the caller waits at most
``timeout`` seconds; a failure raises :class:`DeviceError` and the printer's
``status()`` becomes ``offline`` (or ``faulted``).

URLs (:func:`open_printer`)::

    tcp://HOST[:PORT]                 escpos.printer.Network, port 9100 by default
    serial:///dev/ttyUSB0?baudrate=19200[&bytesize=8&parity=N&stopbits=1&xonxoff=0&dsrdtr=1]
    file:///path/to/file              escpos.printer.File, appending
    usb://VID:PID[?in_ep=0x82&out_ep=0x01]   escpos.printer.Usb, ids in hex (needs pyusb)
    dummy:// or standin://            in memory (StandinPrinter): keeps bytes and text

Every scheme also takes the per-device profile options ``profile=`` (a
python-escpos capabilities profile name, default ``default``), ``columns=``
(characters per line, default from the profile: 42 for 80 mm Font A),
``qr=native|image``, ``barcode=hardware|software`` and ``cutter=yes|no``;
tcp, serial and usb also take ``status=yes|no`` (default yes): whether the
printer is asked for its status; file takes only ``status=no`` (its default).

Status (Epson ESC/POS ``DLE EOT n``, "transmit real-time status"; see
:func:`decode_status` for the bits): :meth:`EscposTicketPrinter.poll_status`
opens a short connection, asks n=1 (printer), n=2 (offline cause) and n=4
(roll paper sensor) and maps the replies to ``ok``, ``paper_low``,
``paper_out``, ``cover_open``, ``faulted`` or ``offline``; a device that cannot
be reached is ``offline``, one that is reached but does not answer (or answers
nonsense, or has ``status=no``, or is a file) is ``unknown``, never a fault.
Every job on a status printer asks the same questions on its own connection
before sending: paper out, cover open, an error or offline refuse the job at
once with :class:`DeviceError` (the booth then queues the ticket for reprint)
and no byte of it is sent. A printer that leaves the request unanswered is not
asked again by jobs until a poll gets an answer. The request/reply I/O is
python-escpos's ``query_status`` over TCP (``sendall`` + ``recv``); serial and
USB read the one-byte reply themselves with a bounded timeout (escpos reads 16
bytes there, i.e. always waits the full timeout). The decoding is this module's
table, not escpos's ``is_online``/``paper_status``: those do not check the
fixed bits, read "no reply" as "paper adequate", and have no n=2 (cover, paper
end stop, error).

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
``FINISH_LINGER`` s: the printer closing its side is the usual raw-port ending
(a peer that closes with unread data sends RST instead); silence proves
nothing more than "no error seen", and a printer that accepted the bytes into
its TCP buffer and then lost power cannot be told from one that printed.

python-escpos 3.1 quirks handled here (read from its source):

- Code 128 through the printer (``GS k 73``) must start with a code-set selector
  (``{B``); the same ``{B`` drawn by the software renderer would be printed
  literally, so the prefix is added only on the hardware path.
- ``cut()`` only feeds (``ESC d 6``) when the profile has no cutter feature.
- ``qr(..., native=True)`` emits ``GS ( k`` whatever the profile says.
- ``barcode()``, ``image()`` and ``_dpi()`` ``print()`` to stdout (which would
  corrupt the CLI's ``--json`` output), so this module calls ``_hw_barcode``
  directly, draws software barcodes itself with python-barcode, and pins the
  profile's media width and dpi so ``image()`` stays quiet.
- Importing escpos parses a YAML capabilities file (~0.6 s) and caches the
  result in a fresh temporary directory per process; the import is deferred to
  the first job and the cache is pointed at the user cache directory.

Per-device profiles flow through :class:`PrinterProfile`.
"""

from __future__ import annotations

import copy
import errno
import os
import socket
import textwrap
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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

__all__ = [
    "EscposTicketPrinter",
    "PrintJob",
    "PrinterAddress",
    "PrinterProfile",
    "StandinPrinter",
    "Transport",
    "decode_status",
    "format_local_time",
    "layout_receipt",
    "layout_text",
    "layout_ticket",
    "open_printer",
    "parse_printer_url",
    "render_plain",
]

DEFAULT_PORT = 9100
DEFAULT_COLUMNS = 42
DEFAULT_TIMEOUT = 5.0
SCHEMES = ("tcp", "serial", "file", "usb", "dummy", "standin")
_PROFILE_OPTIONS = ("profile", "columns", "qr", "barcode", "cutter", "status")


# --------------------------------------------------------------------------- escpos import


_LIB: SimpleNamespace | None = None
_LIB_LOCK = threading.Lock()


def _lib() -> SimpleNamespace:
    """Import python-escpos on first use (see the module docstring)."""
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
                try:
                    import platformdirs

                    cache = os.path.join(platformdirs.user_cache_dir("attendant"), "escpos")
                    os.makedirs(cache, exist_ok=True)
                    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = cache
                except OSError:
                    pass  # escpos falls back to a temporary directory
            import escpos.capabilities as capabilities
            import escpos.constants as constants
            import escpos.exceptions as exceptions
            import escpos.printer as printer

            _LIB = SimpleNamespace(
                capabilities=capabilities, constants=constants, exceptions=exceptions, printer=printer
            )
        return _LIB


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class PrinterProfile:
    """What one printer can do; derived from a python-escpos profile.

    - ``escpos_profile``: capabilities profile name (``"default"``: Epson-like,
      native QR, built-in barcodes, cutter, Font A 42 columns).
    - ``columns``: characters per line in Font A (42 on 80 mm paper).
    - ``native_qr``: QR drawn by the printer (``GS ( k``) instead of an image.
    - ``hardware_barcodes``: Code 128 drawn by the printer (``GS k``).
    - ``cutter``: the printer cuts; without one the job ends with a feed.
    - ``width_dots`` / ``dpi``: printable width in dots and resolution, used to
      size and centre images (512 dots at 180 dpi: a TM-T88 on 80 mm paper).
    - ``qr_size``: QR module size in dots (1..16).
    - ``image_impl``: escpos image command (``bitImageRaster`` = ``GS v 0``).
    - ``realtime_status``: the printer answers ``DLE EOT`` status requests
      (URL ``status=yes|no``); None: the transport's default (tcp, serial,
      usb: yes; file: no). Not in python-escpos's profiles.
    """

    escpos_profile: str = "default"
    columns: int = DEFAULT_COLUMNS
    native_qr: bool = True
    hardware_barcodes: bool = True
    cutter: bool = True
    width_dots: int = 512
    dpi: int = 180
    qr_size: int = 6
    image_impl: str | None = "bitImageRaster"
    realtime_status: bool | None = None

    @classmethod
    def from_escpos(cls, name: str | None = None) -> PrinterProfile:
        """Build from a python-escpos capabilities profile (``None``: ``"default"``).

        :raises InputError: an unknown profile name.
        """
        name = name or "default"
        profiles = _lib().capabilities.CAPABILITIES["profiles"]
        if name not in profiles:
            raise InputError(
                f"unknown printer profile {name!r}; use a python-escpos profile name such as "
                "'default', 'TM-T88V' or 'TM-T20II'"
            )
        data = profiles[name]
        features = data.get("features", {})
        fonts = data.get("fonts", {})
        media = data.get("media", {}) or {}
        width = media.get("width", {}) or {}
        columns = _as_int(fonts.get("0", {}).get("columns")) or DEFAULT_COLUMNS
        width_dots = _as_int(width.get("pixels"))
        dpi = _as_int(media.get("dpi"))
        if dpi is None and width_dots and _as_float(width.get("mm")):
            dpi = int(width_dots / ((float(width["mm"]) - 10) / 25.4))
        image_impl = next(
            (impl for impl in ("bitImageRaster", "graphics", "bitImageColumn") if features.get(impl)),
            None,
        )
        return cls(
            escpos_profile=name,
            columns=columns,
            native_qr=bool(features.get("qrCode")),
            hardware_barcodes=bool(features.get("barcodeB")),
            cutter=bool(features.get("paperFullCut") or features.get("paperPartCut")),
            width_dots=width_dots or 512,
            dpi=dpi or 180,
            image_impl=image_impl,
        )

    def check(self) -> None:
        """:raises InputError: a profile that cannot print a ticket."""
        if not 16 <= self.columns <= 96:
            raise InputError(f"columns must be between 16 and 96, got {self.columns}")
        if not 1 <= self.qr_size <= 16:
            raise InputError(f"qr_size must be between 1 and 16 dots, got {self.qr_size}")
        if self.image_impl is None and not (self.native_qr and self.hardware_barcodes):
            raise InputError(
                f"printer profile {self.escpos_profile!r} prints no images, so it needs native QR "
                "and hardware barcodes"
            )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class PrinterAddress:
    """A parsed printer URL: ``scheme``, transport ``params`` and profile ``options``.

    ``params`` by scheme: tcp ``host``, ``port``; serial ``device``,
    ``baudrate``, ``bytesize``, ``parity``, ``stopbits``, ``xonxoff``,
    ``dsrdtr``; file ``path``; usb ``vendor_id``, ``product_id``, ``in_ep``,
    ``out_ep``; dummy/standin nothing. ``options`` holds the profile options
    given in the query (``profile``, ``columns``, ``qr``, ``barcode``, ``cutter``,
    and ``status`` as ``realtime_status``).
    """

    url: str
    scheme: str
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def parse_printer_url(url: str) -> PrinterAddress:
    """Parse and check a printer URL without touching any device.

    :raises InputError: an unknown scheme, a missing host or path, a bad port,
        baud rate or USB id, an unknown or repeated query option, ``status=``
        on a stand-in or ``status=yes`` on a file.
    """
    if not isinstance(url, str) or not url.strip():
        raise InputError("printer URL is empty; use e.g. tcp://192.168.1.50:9100 or standin://")
    url = url.strip()
    if "://" not in url:
        raise InputError(f"printer URL {url!r} has no scheme; use one of {', '.join(s + '://' for s in SCHEMES)}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InputError(
            f"printer URL {url!r}: unknown scheme {parts.scheme!r}; use one of "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.fragment:
        raise InputError(f"printer URL {url!r}: a '#' fragment is not allowed")
    query = _query(url, parts.query)
    options = _profile_options(url, query)
    if "realtime_status" in options:
        if scheme in ("dummy", "standin"):
            raise InputError(f"printer URL {url!r}: {scheme}:// takes no status option; "
                             "a stand-in printer's status is set with simulate()")
        if scheme == "file" and options["realtime_status"]:
            raise InputError(f"printer URL {url!r}: status=yes needs a printer that answers; "
                             "file:// cannot report status (use status=no or leave it out)")
    params: dict[str, Any]
    if scheme == "tcp":
        params = _tcp_params(url, parts)
    elif scheme == "serial":
        params = _serial_params(url, parts, query)
    elif scheme == "file":
        params = _file_params(url, parts)
    elif scheme == "usb":
        params = _usb_params(url, parts, query)
    else:
        if parts.netloc or parts.path not in ("", "/"):
            raise InputError(f"printer URL {url!r}: {scheme}:// takes no host or path")
        params = {}
    if query:
        raise InputError(f"printer URL {url!r}: unknown option {sorted(query)[0]!r} for {scheme}://")
    return PrinterAddress(url=url, scheme=scheme, params=params, options=options)


def _query(url: str, raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw))
    except ValueError:
        raise InputError(f"printer URL {url!r}: malformed query {raw!r}") from None
    for key, value in pairs:
        key = key.lower()
        if key in out:
            raise InputError(f"printer URL {url!r}: option {key!r} is given twice")
        out[key] = value
    return out


def _int_opt(url: str, name: str, value: str, low: int, high: int, *, base: int = 10) -> int:
    try:
        number = int(value, base)
    except ValueError:
        kind = "a hex number" if base == 16 else "a whole number"
        raise InputError(f"printer URL {url!r}: {name} must be {kind}, got {value!r}") from None
    if not low <= number <= high:
        raise InputError(f"printer URL {url!r}: {name} must be between {low} and {high}, got {number}")
    return number


def _bool_opt(url: str, name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise InputError(f"printer URL {url!r}: {name} must be yes or no, got {value!r}")


def _choice_opt(url: str, name: str, value: str, choices: Sequence[str]) -> str:
    if value.lower() not in choices:
        raise InputError(f"printer URL {url!r}: {name} must be one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def _profile_options(url: str, query: dict[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "profile" in query:
        value = query.pop("profile").strip()
        if not value:
            raise InputError(f"printer URL {url!r}: profile is empty")
        options["profile"] = value
    if "columns" in query:
        options["columns"] = _int_opt(url, "columns", query.pop("columns"), 16, 96)
    if "qr" in query:
        options["native_qr"] = _choice_opt(url, "qr", query.pop("qr"), ("native", "image")) == "native"
    if "barcode" in query:
        choice = _choice_opt(url, "barcode", query.pop("barcode"), ("hardware", "software"))
        options["hardware_barcodes"] = choice == "hardware"
    if "cutter" in query:
        options["cutter"] = _bool_opt(url, "cutter", query.pop("cutter"))
    if "status" in query:
        options["realtime_status"] = _bool_opt(url, "status", query.pop("status"))
    return options


def _tcp_params(url: str, parts: Any) -> dict[str, Any]:
    host = parts.hostname
    if not host:
        raise InputError(f"printer URL {url!r}: tcp:// needs a host, e.g. tcp://192.168.1.50:9100")
    if parts.path not in ("", "/"):
        raise InputError(f"printer URL {url!r}: tcp:// takes no path")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"printer URL {url!r}: the port must be a number between 1 and 65535") from None
    if port is None:
        port = DEFAULT_PORT
    if not 1 <= port <= 65535:
        raise InputError(f"printer URL {url!r}: the port must be between 1 and 65535")
    return {"host": host, "port": port}


_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)


def _serial_params(url: str, parts: Any, query: dict[str, str]) -> dict[str, Any]:
    device = unquote(parts.netloc + parts.path) if parts.netloc else unquote(parts.path)
    if not device or device == "/":
        raise InputError(f"printer URL {url!r}: serial:// needs a device, e.g. serial:///dev/ttyUSB0?baudrate=19200")
    params: dict[str, Any] = {"device": device, "baudrate": 9600, "bytesize": 8, "parity": "N",
                              "stopbits": 1, "xonxoff": False, "dsrdtr": True}
    if "baudrate" in query:
        rate = _int_opt(url, "baudrate", query.pop("baudrate"), 1, 4_000_000)
        if rate not in _BAUDRATES:
            raise InputError(
                f"printer URL {url!r}: baudrate {rate} is not a standard rate; use one of "
                f"{', '.join(map(str, _BAUDRATES))}"
            )
        params["baudrate"] = rate
    if "bytesize" in query:
        params["bytesize"] = _int_opt(url, "bytesize", query.pop("bytesize"), 5, 8)
    if "parity" in query:
        params["parity"] = _choice_opt(url, "parity", query.pop("parity"), ("n", "e", "o", "m", "s")).upper()
    if "stopbits" in query:
        value = query.pop("stopbits")
        if value not in ("1", "1.5", "2"):
            raise InputError(f"printer URL {url!r}: stopbits must be 1, 1.5 or 2, got {value!r}")
        params["stopbits"] = 1.5 if value == "1.5" else int(value)
    if "xonxoff" in query:
        params["xonxoff"] = _bool_opt(url, "xonxoff", query.pop("xonxoff"))
    if "dsrdtr" in query:
        params["dsrdtr"] = _bool_opt(url, "dsrdtr", query.pop("dsrdtr"))
    return params


def _file_params(url: str, parts: Any) -> dict[str, Any]:
    if parts.netloc not in ("", "localhost"):
        raise InputError(
            f"printer URL {url!r}: file:// needs an absolute path, e.g. file:///var/spool/attendant/tickets.bin"
        )
    path = unquote(parts.path)
    if not path.startswith("/") or path.endswith("/"):
        raise InputError(f"printer URL {url!r}: file:// needs an absolute path to a file")
    return {"path": path}


def _usb_params(url: str, parts: Any, query: dict[str, str]) -> dict[str, Any]:
    ids = parts.netloc.split(":")
    hexdigits = set("0123456789abcdefABCDEF")
    if len(ids) != 2 or not all(1 <= len(i) <= 4 and set(i) <= hexdigits for i in ids):
        raise InputError(f"printer URL {url!r}: usb:// needs VID:PID in hex, e.g. usb://04b8:0202")
    if parts.path not in ("", "/"):
        raise InputError(f"printer URL {url!r}: usb:// takes no path")
    params: dict[str, Any] = {"vendor_id": int(ids[0], 16), "product_id": int(ids[1], 16),
                              "in_ep": 0x82, "out_ep": 0x01}
    for name in ("in_ep", "out_ep"):
        if name in query:
            params[name] = _int_opt(url, name, query.pop(name), 0, 0xFF, base=16)
    return params


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Text:
    text: str
    align: str = "left"
    bold: bool = False
    size: str = "normal"  # normal | tall (double height) | large (double width and height)


@dataclass(frozen=True)
class _QR:
    payload: str


@dataclass(frozen=True)
class _Code128:
    payload: str


@dataclass(frozen=True)
class _Cut:
    pass


Block = _Text | _QR | _Code128 | _Cut


def format_local_time(moment: datetime) -> str:
    """``2026-11-21 13:31 GMT``: a facility-time datetime as printed on paper.

    Locale-independent; the zone abbreviation comes from the datetime's tzinfo.
    """
    zone = moment.tzname() or moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _center(text: str, columns: int, *, bold: bool = False, size: str = "normal") -> list[Block]:
    width = columns // 2 if size == "large" else columns
    return [_Text(line, "center", bold, size) for line in _wrap(text, width)]


def _pair(label: str, value: str, columns: int, *, bold: bool = False, size: str = "normal") -> list[Block]:
    """``label ........ value`` on one line, or label then right-aligned value."""
    width = columns // 2 if size == "large" else columns
    if len(label) + 1 + len(value) <= width:
        return [_Text(label + " " * (width - len(label) - len(value)) + value, "left", bold, size)]
    blocks: list[Block] = [_Text(line, "left", bold, size) for line in _wrap(label, width)]
    blocks += [_Text(line.rjust(width), "left", bold, size) for line in _wrap(value, width)]
    return blocks


def _rule(columns: int) -> _Text:
    return _Text("-" * columns)


def _header(name: str, address: str | None, columns: int) -> list[Block]:
    blocks = _center(name, columns, bold=True, size="tall")
    if address:
        blocks += _center(address, columns)
    blocks.append(_rule(columns))
    return blocks


def layout_ticket(ticket: TicketData, columns: int = DEFAULT_COLUMNS) -> list[Block]:
    """Blocks of an entry ticket: facility, spot, level, ticket no, entry time
    (facility time), plate, class, lane, QR of the signed code, Code 128 of the
    ticket number, rate summary, cut."""
    blocks = _header(ticket.facility_name, ticket.facility_address, columns)
    blocks += _center("ENTRY TICKET", columns, bold=True)
    blocks.append(_Text(""))
    blocks += _center("SPOT", columns)
    blocks += _center(ticket.spot_label, columns, bold=True, size="large")
    if ticket.level_name:
        blocks += _center(ticket.level_name, columns)
    blocks.append(_Text(""))
    blocks += _pair("Ticket no", ticket.ticket_no, columns, bold=True)
    blocks += _pair("Entry", format_local_time(ticket.entry_at_local), columns)
    if ticket.plate:
        blocks += _pair("Plate", ticket.plate, columns)
    blocks += _pair("Vehicle", str(ticket.vehicle_class), columns)
    blocks += _pair("Lane", ticket.lane, columns)
    blocks.append(_Text(""))
    blocks.append(_QR(ticket.code))
    blocks.append(_Code128(ticket.ticket_no))
    if ticket.rate_summary:
        blocks += _center(ticket.rate_summary, columns)
    blocks += _center("Keep this ticket: you need it to leave.", columns)
    blocks.append(_Cut())
    return blocks


def layout_receipt(receipt: ReceiptData, columns: int = DEFAULT_COLUMNS) -> list[Block]:
    """Blocks of an exit receipt: facility, receipt and ticket numbers, plate,
    entry/exit (facility time), duration, fee lines, total, method, paid, and
    tendered/change when given (cash), cut."""
    blocks = _header(receipt.facility_name, receipt.facility_address, columns)
    blocks += _center("RECEIPT", columns, bold=True)
    blocks += _pair("Receipt no", receipt.receipt_no, columns)
    blocks += _pair("Ticket no", receipt.ticket_no, columns)
    if receipt.plate:
        blocks += _pair("Plate", receipt.plate, columns)
    blocks += _pair("Lane", receipt.lane, columns)
    blocks += _pair("Entry", format_local_time(receipt.entry_at_local), columns)
    blocks += _pair("Exit", format_local_time(receipt.exit_at_local), columns)
    blocks += _pair("Duration", receipt.duration_text, columns)
    blocks.append(_rule(columns))
    for label, amount in receipt.lines:
        blocks += _pair(label, amount, columns)
    blocks.append(_rule(columns))
    blocks += _pair("TOTAL", receipt.total, columns, bold=True, size="tall")
    blocks += _pair("Payment", str(receipt.method), columns)
    blocks += _pair("Paid", receipt.paid, columns)
    if receipt.tendered is not None:
        blocks += _pair("Tendered", receipt.tendered, columns)
    if receipt.change is not None:
        blocks += _pair("Change", receipt.change, columns)
    blocks.append(_Text(""))
    blocks += _center("Thank you", columns)
    blocks.append(_Cut())
    return blocks


def layout_text(lines: Iterable[str], columns: int = DEFAULT_COLUMNS) -> list[Block]:
    """Blocks of a test print: each line wrapped to ``columns``, then a cut."""
    blocks: list[Block] = []
    for line in lines:
        blocks += [_Text(part) for part in _wrap(str(line), columns)]
    blocks.append(_Cut())
    return blocks


def render_plain(blocks: Sequence[Block], columns: int = DEFAULT_COLUMNS) -> str:
    """A plain-text picture of the paper, for the console's stand-in printer view.

    A QR code appears as a ``[QR code]`` line followed by its payload cut into
    page-width pieces; a barcode as ``[Code 128: payload]``.
    """
    out: list[str] = []
    for block in blocks:
        if isinstance(block, _Text):
            if block.align == "center":
                out.append(block.text.center(columns).rstrip())
            elif block.align == "right":
                out.append(block.text.rjust(columns))
            else:
                out.append(block.text.rstrip())
        elif isinstance(block, _QR):
            # The payload is split at the page width, never at its punctuation.
            chunks = [block.payload[i : i + columns] for i in range(0, len(block.payload), columns)]
            out.append("[QR code]".center(columns).rstrip())
            out += [chunk.center(columns).rstrip() if len(chunks) == 1 else chunk for chunk in chunks]
        elif isinstance(block, _Code128):
            out += [line.center(columns).rstrip() for line in _wrap(f"[Code 128: {block.payload}]", columns)]
        elif isinstance(block, _Cut):
            out.append("[cut]".center(columns, "-"))
    return "\n".join(out) + "\n"


class _Style:
    """Sends ESC/POS style commands only when the style changes."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.current: tuple[str, bool, str] = ("left", False, "normal")

    def apply(self, align: str, bold: bool, size: str) -> None:
        old_align, old_bold, old_size = self.current
        if size != old_size:
            self.printer.set(
                normal_textsize=size == "normal",
                double_height=size in ("tall", "large"),
                double_width=size == "large",
            )
        if bold != old_bold or (size != old_size and bold):  # ESC ! also clears emphasis
            self.printer.set(bold=bold)
        if align != old_align:
            self.printer.set(align=align)
        self.current = (align, bold, size)


class _Renderer:
    """Renders blocks to ESC/POS bytes through an in-memory escpos Dummy printer."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        lib = _lib()
        base = lib.printer.Dummy(profile=profile.escpos_profile).profile.profile_data
        data = copy.deepcopy(base)
        # Pin media (keeps image()/_dpi() quiet and lets images centre) and make
        # the escpos features agree with this device's profile (cut() obeys them).
        data["media"] = {"dpi": profile.dpi, "width": {"mm": data.get("media", {}).get("width", {}).get("mm"),
                                                        "pixels": profile.width_dots}}
        features = dict(data.get("features", {}))
        features.update(
            qrCode=profile.native_qr,
            barcodeA=profile.hardware_barcodes,
            barcodeB=profile.hardware_barcodes,
            paperFullCut=profile.cutter,
            paperPartCut=profile.cutter,
        )
        data["features"] = features
        self._profile_data = data

    def render(self, blocks: Sequence[Block]) -> bytes:
        lib = _lib()
        printer = lib.printer.Dummy(profile=self.profile.escpos_profile)
        # Instance attribute shadows the class-level dict that escpos shares.
        printer.profile.profile_data = self._profile_data
        printer.hw("INIT")  # ESC @: left, normal size, not bold
        style = _Style(printer)
        for block in blocks:
            if isinstance(block, _Text):
                style.apply(block.align, block.bold, block.size)
                printer.textln(block.text)
            elif isinstance(block, _QR):
                style.apply("center", False, "normal")
                self._qr(printer, block.payload)
                style.apply("left", False, "normal")
            elif isinstance(block, _Code128):
                style.apply("center", False, "normal")
                self._code128(printer, block.payload)
                style.current = ("center", False, "normal")  # GS k leaves centring on
                style.apply("left", False, "normal")
            elif isinstance(block, _Cut):
                style.apply("left", False, "normal")
                printer.cut()  # feeds 6 lines; cuts only when the profile has a cutter
        return printer.output

    def _qr(self, printer: Any, payload: str) -> None:
        ec = _lib().constants.QR_ECLEVEL_M
        if self.profile.native_qr:
            printer.qr(payload, ec=ec, size=self.profile.qr_size, native=True)  # GS ( k
            printer.ln()
        else:
            import qrcode

            code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1)
            code.add_data(payload)
            code.make(fit=True)
            modules = code.modules_count + 2
            size = max(1, min(self.profile.qr_size, self.profile.width_dots // modules))
            printer.qr(payload, ec=ec, size=size, native=False,
                       image_arguments={"impl": self.profile.image_impl, "center": True})

    def _code128(self, printer: Any, payload: str) -> None:
        modules = 11 * (len(payload) + 3) + 2 + 20  # code set B symbols, stop bar, quiet zones
        module_dots = 3 if modules * 3 <= self.profile.width_dots else 2
        if self.profile.hardware_barcodes:
            # GS k 73 needs the code-set selector; the printer does not print it.
            printer._hw_barcode(
                "{B" + payload, "CODE128", height=80, width=module_dots, pos="BELOW",
                font="A", align_ct=True, function_type="B", check=True,
            )
            printer.ln()
        else:
            # python-barcode would draw "{B" literally, so the bare payload goes in.
            import barcode
            from barcode.writer import ImageWriter

            mm_per_dot = 25.4 / self.profile.dpi
            image = barcode.get_barcode_class("code128")(payload, writer=ImageWriter()).render(
                writer_options={
                    "module_width": module_dots * mm_per_dot,
                    "module_height": 80 * mm_per_dot,
                    "quiet_zone": 10 * module_dots * mm_per_dot,
                    "font_size": 9,
                    "text_distance": 3,
                    "dpi": self.profile.dpi,
                }
            )
            printer.image(image, impl=self.profile.image_impl, center=True)


# --------------------------------------------------------------------------- status (DLE EOT)

# Epson ESC/POS command reference, "DLE EOT n: transmit real-time status".
# The printer answers each request with one byte, at once (even when offline or
# its buffer is full). In every reply bits 0 and 7 are fixed to 0 and bits 1
# and 4 are fixed to 1 (0b0xx1xx10), so a byte that breaks the pattern (a stray
# byte, XON/XOFF, noise) is not a status reply. python-escpos 3.1 agrees: its
# RT_MASK_PAPER (0x12) is exactly the fixed bits.
STATUS_PRINTER = 1  # n=1 printer status
STATUS_OFFLINE_CAUSE = 2  # n=2 offline cause
STATUS_PAPER = 4  # n=4 roll paper sensor
STATUS_QUERIES = (STATUS_PRINTER, STATUS_OFFLINE_CAUSE, STATUS_PAPER)
_FIXED_MASK, _FIXED_BITS = 0b1001_0011, 0b0001_0010  # bits 7, 4, 1, 0 must read 0, 1, 1, 0
_PRINTER_OFFLINE = 0x08  # n=1 bit 3 (python-escpos RT_MASK_ONLINE)
_CAUSE_COVER_OPEN = 0x04  # n=2 bit 2
_CAUSE_PAPER_END_STOP = 0x20  # n=2 bit 5: printing stopped at a paper end
_CAUSE_ERROR = 0x40  # n=2 bit 6
_PAPER_NEAR_END = 0x0C  # n=4 bits 2-3 (the reference sets both; either counts)
_PAPER_END = 0x60  # n=4 bits 5-6 (the reference sets both; either counts)

#: How long a job waits for one status reply (seconds); also capped at a
#: quarter of the job timeout so the job itself keeps most of its time.
STATUS_REPLY_TIMEOUT = 0.5
#: How long a job without a status confirmation waits, after its end of data
#: (TCP FIN), for the printer to close or reset the connection (seconds).
FINISH_LINGER = 0.25

_BLOCKING_STATES = (DeviceState.PAPER_OUT, DeviceState.COVER_OPEN, DeviceState.FAULTED, DeviceState.OFFLINE)


def _status_request(n: int) -> bytes:
    return bytes(_lib().constants.RT_STATUS) + bytes([n])  # DLE EOT n


def decode_status(replies: Mapping[int, bytes | None], *, name: str = "printer") -> DeviceStatus:
    """Turn the replies to ``DLE EOT`` 1, 2 and 4 into a :class:`DeviceStatus`.

    ``replies`` maps n (1, 2, 4) to the bytes read back (None or ``b""``: no
    answer). Rules (Epson ESC/POS reference, DLE EOT):

    - no answer to n=1: ``unknown`` (the printer does not report status);
    - any reply that is not one byte with the fixed bits (0b0xx1xx10): ``unknown``
      (a malformed reply is never read as a fault);
    - n=2 bit 2 (cover open): ``cover_open``; n=2 bit 5 (stopped at paper end)
      or n=4 bits 5-6 (paper end sensor): ``paper_out``; n=2 bit 6 (error):
      ``faulted``; n=1 bit 3 (offline) with no cause: ``offline``;
      n=4 bits 2-3 (near-end sensor): ``paper_low``; otherwise ``ok``;
      first match wins in that order. A missing n=2 or n=4 reply is skipped.

    Never raises; ``name`` goes into the message.
    """
    printer = replies.get(STATUS_PRINTER)
    if not printer:
        return DeviceStatus(DeviceState.UNKNOWN, f"Printer {name} did not answer the status request")
    values: dict[int, int] = {}
    for n in STATUS_QUERIES:
        reply = replies.get(n)
        if not reply:
            continue
        if len(reply) != 1 or reply[0] & _FIXED_MASK != _FIXED_BITS:
            return DeviceStatus(
                DeviceState.UNKNOWN,
                f"Printer {name} sent an unexpected status reply {bytes(reply).hex(' ')} to DLE EOT {n}",
            )
        values[n] = reply[0]
    status, cause, paper = values[STATUS_PRINTER], values.get(STATUS_OFFLINE_CAUSE, 0), values.get(STATUS_PAPER, 0)
    if cause & _CAUSE_COVER_OPEN:
        return DeviceStatus(DeviceState.COVER_OPEN, f"Printer {name} has its cover open")
    if cause & _CAUSE_PAPER_END_STOP or paper & _PAPER_END:
        return DeviceStatus(DeviceState.PAPER_OUT, f"Printer {name} is out of paper")
    if cause & _CAUSE_ERROR:
        return DeviceStatus(DeviceState.FAULTED, f"Printer {name} reports an error (see its error light)")
    if status & _PRINTER_OFFLINE:
        return DeviceStatus(DeviceState.OFFLINE, f"Printer {name} reports that it is offline")
    if paper & _PAPER_NEAR_END:
        return DeviceStatus(DeviceState.PAPER_LOW, f"Printer {name} is running low on paper")
    return DeviceStatus(DeviceState.OK, f"Printer {name} is online with paper")


# --------------------------------------------------------------------------- transports


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


def _reason(error: BaseException) -> str:
    """The most useful short text of an I/O error (escpos hides OSErrors in context)."""
    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, socket.timeout | TimeoutError):
            return "no answer in time"
        if isinstance(candidate, OSError) and candidate.strerror:
            return candidate.strerror[0].lower() + candidate.strerror[1:]
    text = str(error).strip().splitlines()
    return text[-1].strip() if text else type(error).__name__


class _PeerClosed(Exception):
    """The printer closed its side of the connection (TCP FIN) before we did."""


class _Connection:
    """One open connection of an escpos transport: a job or a status poll.

    Every operation is bounded by the connection's ``deadline``
    (``time.monotonic()`` seconds) and raises :class:`DeviceError` (offline)
    when the connection breaks.
    """

    def __init__(self, transport: _EscposTransport, device: Any, deadline: float) -> None:
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
            return self.transport._query(self.device, _status_request(n), wait)

    def finish(self, linger: float, *, confirmed: bool) -> None:
        """End the job; see :meth:`_EscposTransport._finish`."""
        with self._errors("before the end of the job"):
            self.transport._finish(self.device, min(linger, self.remaining()), confirmed)

    def close(self) -> None:
        try:
            self.device.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is best effort
            pass

    @contextmanager
    def _errors(self, when: str) -> Iterator[None]:
        lib = _lib()
        try:
            yield
        except DeviceError:
            raise
        except _PeerClosed as exc:
            raise DeviceError(f"Printer {self.transport.description} closed the connection {when}",
                              state=DeviceState.OFFLINE) from exc
        except (OSError, lib.exceptions.Error) as exc:
            raise DeviceError(
                f"Printer {self.transport.description} stopped answering {when}: {_reason(exc)}",
                state=DeviceState.OFFLINE,
            ) from exc


class _EscposTransport(Transport):
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

    def connect(self, deadline: float) -> _Connection:
        """Open the device (bounded by ``deadline``, monotonic seconds).

        :raises DeviceError: offline when it cannot be opened (refused, missing).
        """
        lib = _lib()
        timeout = max(deadline - time.monotonic(), 0.001)
        printer = self._make(timeout)
        try:
            printer.open()
        except lib.exceptions.DeviceNotFoundError as exc:
            raise DeviceError(
                f"Printer {self.description} is offline: {_reason(exc)}", state=DeviceState.OFFLINE
            ) from exc
        connection = _Connection(self, printer, deadline)
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


class _NetworkTransport(_EscposTransport):
    """Raw TCP (port 9100). python-escpos's ``Network.query_status`` (sendall, then
    ``recv(16)``) is used for DLE EOT; the socket timeout bounds the wait."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.description = f"{host}:{port}"

    def _make(self, timeout: float) -> Any:
        return _lib().printer.Network(self.host, port=self.port, timeout=timeout)

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


class _SerialTransport(_EscposTransport):
    """A serial port. python-escpos's ``Serial._read`` is ``read(16)``, which
    waits the whole timeout for 16 bytes; a status reply is one byte, so this
    transport writes the request with escpos and reads one byte with pyserial."""

    def __init__(self, device: str, **settings: Any) -> None:
        self.device, self.settings = device, settings
        self.description = device

    def _make(self, timeout: float) -> Any:
        if not _lib().printer.Serial.is_usable():
            raise DeviceError("serial printing needs pyserial, which is not installed")
        s = self.settings
        return _lib().printer.Serial(
            devfile=self.device, baudrate=s["baudrate"], bytesize=s["bytesize"], parity=s["parity"],
            stopbits=s["stopbits"], xonxoff=s["xonxoff"], dsrdtr=s["dsrdtr"], timeout=timeout,
        )

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


class _FileTransport(_EscposTransport):
    reports_status = False  # a file (or a write-only device node) sends nothing back
    probe = False  # opening it would create the file

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = path

    def _make(self, timeout: float) -> Any:
        File = _lib().printer.File
        DeviceNotFoundError = _lib().exceptions.DeviceNotFoundError

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


class _UsbTransport(_EscposTransport):
    """USB bulk endpoints. Replies are read from ``in_ep`` with pyusb and an
    explicit timeout (escpos's ``Usb._read`` uses pyusb's default of 1 s)."""

    def __init__(self, vendor_id: int, product_id: int, in_ep: int, out_ep: int) -> None:
        self.ids = (vendor_id, product_id)
        self.eps = (in_ep, out_ep)
        self.description = f"usb {vendor_id:04x}:{product_id:04x}"

    def _make(self, timeout: float) -> Any:
        usb = _lib().printer.Usb
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


class _MemoryTransport(Transport):
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
                self._dummy = _lib().printer.Dummy()
            self._dummy._raw(data)

    @property
    def output(self) -> bytes:
        with self._lock:
            return self._dummy.output if self._dummy is not None else b""

    def clear(self) -> None:
        with self._lock:
            if self._dummy is not None:
                self._dummy.clear()


# --------------------------------------------------------------------------- printer


@dataclass(frozen=True)
class PrintJob:
    """One finished job: ``kind`` (ticket, receipt, text), the plain-text
    picture, the ESC/POS bytes sent, and when it completed (UTC)."""

    kind: str
    text: str
    data: bytes
    at: datetime


class EscposTicketPrinter(TicketPrinter):
    """An ESC/POS printer behind a :class:`Transport`; see the module docstring.

    ``timeout`` (seconds) bounds every job and every :meth:`poll_status` as seen
    by the caller. Jobs and polls on one printer are serialised. Thread-safe.
    """

    def __init__(self, transport: Transport, *, name: str, profile: PrinterProfile | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise InputError(f"printer timeout must be more than 0 seconds, got {timeout!r}")
        self.transport = transport
        self.name = name
        self.profile = profile or PrinterProfile()
        self.profile.check()
        self.timeout = float(timeout)
        self._renderer: _Renderer | None = None
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
        if not isinstance(transport, _EscposTransport) or not (self.reports_status or transport.probe):
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

    def _poll_locked(self, transport: _EscposTransport, deadline: float, stage: list[str]) -> DeviceStatus | None:
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
            return DeviceStatus(DeviceState.OFFLINE, f"Printer {self.name} failed: {_reason(exc)}")
        finally:
            self._io_lock.release()

    def _read_status(self, connection: _Connection, wait: float) -> tuple[DeviceStatus | None, bool]:
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
            if reply is None or len(reply) != 1 or reply[0] & _FIXED_MASK != _FIXED_BITS:
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
            renderer = _Renderer(self.profile)
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
        if not isinstance(transport, _EscposTransport):
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
                elif before.state in _BLOCKING_STATES:
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
            if after is not None and after.state in _BLOCKING_STATES:
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
        super().__init__(_MemoryTransport(), name=name, profile=profile, timeout=timeout)
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
        transport: _MemoryTransport = self.transport  # type: ignore[assignment]
        state = DeviceState(state)
        default = f"Printer {self.name}: {state.value.replace('_', ' ')}"
        with transport._lock:
            if state in _BLOCKING_STATES:
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


def open_printer(url: str, *, profile: str | PrinterProfile | None = None, timeout: float = DEFAULT_TIMEOUT,
                 columns: int | None = None, name: str | None = None) -> TicketPrinter:
    """Open the printer named by ``url`` (see the module docstring for schemes).

    No connection is made here: each job connects, writes and disconnects.
    ``profile`` is a python-escpos profile name (or a :class:`PrinterProfile`),
    unless the URL gives one; ``columns`` overrides characters per line;
    ``timeout`` bounds each job in seconds. ``dummy://``/``standin://`` return a
    :class:`StandinPrinter`.

    :raises InputError: a malformed URL, an unknown profile, a bad option.
    """
    address = parse_printer_url(url)
    if not timeout or timeout <= 0:
        raise InputError(f"printer timeout must be more than 0 seconds, got {timeout!r}")
    options = dict(address.options)
    url_profile = options.pop("profile", None)
    if url_profile is not None and profile is not None and str(profile) != url_profile:
        raise InputError(f"printer URL {url!r} names profile {url_profile!r} but {profile!r} was also given")
    if isinstance(profile, PrinterProfile):
        resolved = profile
    elif url_profile is None and profile is None:
        resolved = PrinterProfile()  # equals from_escpos("default") without importing escpos
    else:
        resolved = PrinterProfile.from_escpos(url_profile or profile)
    if columns is not None:
        options["columns"] = columns
    if options:
        resolved = replace(resolved, **options)
    resolved.check()
    label = name or address.url
    params = address.params
    if address.scheme in ("dummy", "standin"):
        return StandinPrinter(name=label, profile=resolved, timeout=timeout)
    transport: Transport
    if address.scheme == "tcp":
        transport = _NetworkTransport(params["host"], params["port"])
    elif address.scheme == "serial":
        settings = {k: v for k, v in params.items() if k != "device"}
        transport = _SerialTransport(params["device"], **settings)
    elif address.scheme == "file":
        transport = _FileTransport(params["path"])
    else:
        transport = _UsbTransport(params["vendor_id"], params["product_id"], params["in_ep"], params["out_ep"])
    return EscposTicketPrinter(transport, name=label, profile=resolved, timeout=timeout)
