"""Printer URLs: each scheme's parser (syntax and options, no I/O).

URLs (the registry table is :data:`hardware.printers.schemes.PRINTER`)::

    tcp://HOST[:PORT]                 raw TCP, port 9100 by default
    serial:///dev/ttyUSB0?baudrate=19200[&bytesize=8&parity=N&stopbits=1&xonxoff=0&dsrdtr=1]
    file:///path/to/file              appending to a file (or a write-only device node)
    usb://VID:PID[?in_ep=0x82&out_ep=0x01]   USB bulk endpoints, ids in hex (needs pyusb and libusb)
    dummy:// or standin://            in memory (StandinPrinter): keeps bytes and text

Every scheme also takes the per-device profile options ``profile=`` (a
python-escpos capabilities profile name, default ``default``), ``columns=``
(characters per line, 16-96, default from the profile: 42 for 80 mm Font A),
``qr=native|image``, ``barcode=hardware|software`` and ``cutter=yes|no``;
tcp, serial and usb also take ``status=yes|no`` (default yes): whether the
printer is asked for its status (``DLE EOT``); file takes only ``status=no``
(its default). Serial rates are :data:`hardware.urls.BAUDRATES`; serial
defaults are python-escpos ``Serial``'s: 9600 baud 8N1, DSR/DTR flow control
on, XON/XOFF off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hardware.urls import DeviceUrl

__all__ = [
    "DEFAULT_PORT",
    "PrinterAddress",
    "parse_file",
    "parse_serial",
    "parse_standin",
    "parse_tcp",
    "parse_usb",
]

#: The raw printing port of network printers (Epson, Star, HP JetDirect "port 9100").
DEFAULT_PORT = 9100
#: USB bulk endpoints of Epson TM printers (python-escpos ``Usb`` defaults).
DEFAULT_IN_EP, DEFAULT_OUT_EP = 0x82, 0x01
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class PrinterAddress:
    """A parsed printer URL: ``scheme``, transport ``params`` and profile ``options``.

    ``params`` by scheme (the transport's keyword arguments): tcp ``host``,
    ``port``; serial ``device``, ``baudrate``, ``bytesize``, ``parity``,
    ``stopbits``, ``xonxoff``, ``dsrdtr``; file ``path``; usb ``vendor_id``,
    ``product_id``, ``in_ep``, ``out_ep``; dummy/standin nothing. ``options``
    holds the profile options given in the query (``profile``, ``columns``,
    ``native_qr``, ``hardware_barcodes``, ``cutter``, and ``status`` as
    ``realtime_status``): :class:`~hardware.printers.profile.PrinterProfile` fields.
    """

    url: str
    scheme: str
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def _address(url: DeviceUrl, params: dict[str, Any], *, status: bool | None = True) -> PrinterAddress:
    """The address with the profile options every scheme takes.

    ``status``: whether ``status=`` may say yes (True), only no (False: the
    transport cannot read replies) or nothing (None: a stand-in).
    """
    options: dict[str, Any] = {}
    query = url.options
    if status is None and query.has("status"):
        raise url.error(f"{url.scheme}:// takes no status option; a stand-in printer's status is set with simulate()")
    profile = query.text("profile")
    if profile is not None:
        options["profile"] = profile
    columns = query.integer("columns", 16, 96)
    if columns is not None:
        options["columns"] = columns
    qr = query.choice("qr", ("native", "image"))
    if qr is not None:
        options["native_qr"] = qr == "native"
    barcode = query.choice("barcode", ("hardware", "software"))
    if barcode is not None:
        options["hardware_barcodes"] = barcode == "hardware"
    cutter = query.boolean("cutter")
    if cutter is not None:
        options["cutter"] = cutter
    if status is not None:
        realtime = query.boolean("status")
        if realtime and not status:
            raise url.error(f"status=yes needs a printer that answers; {url.scheme}:// cannot report status "
                            "(use status=no or leave it out)")
        if realtime is not None:
            options["realtime_status"] = realtime
    return PrinterAddress(url=url.url, scheme=url.scheme, params=params, options=options)


def parse_tcp(url: DeviceUrl) -> PrinterAddress:
    """``tcp://HOST[:PORT]``: ``host``, ``port`` (default 9100)."""
    host, port = url.host_port(default=DEFAULT_PORT)
    return _address(url, {"host": host, "port": port})


def parse_serial(url: DeviceUrl) -> PrinterAddress:
    """``serial:///dev/ttyUSB0`` (or ``serial://COM3``): the device and its line settings.

    python-escpos opens the port with ``serial.Serial``, so a device path only
    (no nested pyserial URL).
    """
    device = url.serial_port(nested=False)
    params: dict[str, Any] = {"device": device, **url.options.serial_line()}
    params["xonxoff"] = url.options.boolean("xonxoff", False)
    params["dsrdtr"] = url.options.boolean("dsrdtr", True)
    return _address(url, params)


def parse_file(url: DeviceUrl) -> PrinterAddress:
    """``file:///path``: an absolute path to a file (appended to), not a folder."""
    path = url.local_path()
    if path.endswith("/"):
        raise url.error(f"file:// needs an absolute path to a file, not a folder, e.g. {url.example}")
    return _address(url, {"path": path}, status=False)


def parse_usb(url: DeviceUrl) -> PrinterAddress:
    """``usb://VID:PID``: vendor and product ids in hex, optional ``in_ep``/``out_ep`` (hex)."""
    ids = url.parts.netloc.split(":")
    if len(ids) != 2 or not all(1 <= len(part) <= 4 and set(part) <= _HEX for part in ids):
        raise url.error(f"usb:// needs VID:PID in hex, e.g. {url.example}")
    if url.parts.path not in ("", "/"):
        raise url.error("usb:// takes no path")
    params = {
        "vendor_id": int(ids[0], 16),
        "product_id": int(ids[1], 16),
        "in_ep": url.options.integer("in_ep", 0, 0xFF, DEFAULT_IN_EP, base=16),
        "out_ep": url.options.integer("out_ep", 0, 0xFF, DEFAULT_OUT_EP, base=16),
    }
    return _address(url, params)


def parse_standin(url: DeviceUrl) -> PrinterAddress:
    """``standin://`` / ``dummy://``: no host or path; profile options only."""
    url.no_location()
    return _address(url, {}, status=None)
