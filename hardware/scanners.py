"""Barcode/QR scanners by URL: the scanner kind's scheme table and its front functions.

Schemes::

    standin://                      the stand-in scanner (hardware.standins)
    serial:///dev/ttyACM0?...       a USB-CDC or RS-232 scanner (hardware.serial_scanner)
    socket://HOST:PORT, rfc2217://HOST:PORT, loop://   the same through pyserial URLs

The serial scanner's options (line settings, terminator, prefix, lengths,
allowed pattern) are documented in :mod:`hardware.serial_scanner`.
"""

from __future__ import annotations

from typing import Any

from hardware.base import Scanner
from hardware.serial_scanner import ScannerAddress, open_serial_scanner, parse_serial_scanner_url
from hardware.standins import open_standin_scanner, parse_standin_url
from hardware.urls import DeviceKind, DeviceUrl, Scheme

__all__ = ["SCANNER", "open_scanner", "parse_scanner_url"]

#: The scanner kind: every scanner URL scheme with its parser and opener.
SCANNER = DeviceKind("scanner", (
    Scheme("standin", parse_standin_url, open_standin_scanner, "standin://", stand_in=True),
    Scheme("serial", parse_serial_scanner_url, open_serial_scanner,
           "serial:///dev/ttyACM0?baudrate=9600&terminator=CRLF"),
    Scheme("socket", parse_serial_scanner_url, open_serial_scanner, "socket://192.168.1.60:4001?terminator=CRLF"),
    Scheme("rfc2217", parse_serial_scanner_url, open_serial_scanner, "rfc2217://192.168.1.60:2217?terminator=LF"),
    Scheme("loop", parse_serial_scanner_url, open_serial_scanner, "loop://?terminator=CR"),
))


def parse_scanner_url(url: str) -> ScannerAddress | DeviceUrl:
    """Check a scanner URL without I/O: a :class:`~hardware.serial_scanner.ScannerAddress`
    (serial schemes) or the checked ``standin://`` URL.

    :raises InputError: an unknown scheme, a missing device or host, an
        unknown or repeated option, a value out of range; the message quotes
        the URL and names the option.
    """
    address: ScannerAddress | DeviceUrl = SCANNER.parse(url)
    return address


def open_scanner(url: str, *, name: str | None = None, **kwargs: Any) -> Scanner:
    """The scanner named by ``url``; not started (no I/O until ``start``).

    ``kwargs`` go to :class:`~hardware.serial_scanner.SerialScanner`
    (callbacks, timeouts, backoff) and win over the URL's framing options;
    the stand-in takes none.

    :raises InputError: a malformed URL or option.
    """
    scanner: Scanner = SCANNER.open(url, name=name, **kwargs)
    return scanner
