"""Printer URL schemes: the printer kind's registry table, and :func:`open_printer`.

One :class:`~hardware.urls.Scheme` per transport: its URL parser
(:mod:`hardware.printers.address`) and its opener, which puts the
transport behind an :class:`~hardware.printers.printer.EscposTicketPrinter`
(or builds the in-memory :class:`~hardware.printers.printer.StandinPrinter`).
A new transport is one class in :mod:`hardware.printers.transports` whose
keyword arguments are its address ``params``, a parser, and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from attendant.core.errors import InputError

from hardware.base import TicketPrinter
from hardware.printers.address import (
    PrinterAddress,
    parse_file,
    parse_serial,
    parse_standin,
    parse_tcp,
    parse_usb,
)
from hardware.printers.printer import DEFAULT_TIMEOUT, EscposTicketPrinter, StandinPrinter
from hardware.printers.profile import PrinterProfile
from hardware.printers.transports import FileTransport, NetworkTransport, SerialTransport, Transport, UsbTransport
from hardware.urls import DeviceKind, Scheme

__all__ = ["PRINTER", "open_printer", "parse_printer_url", "printer_profile"]


def printer_profile(address: PrinterAddress, profile: str | PrinterProfile | None = None,
                    columns: int | None = None) -> PrinterProfile:
    """The profile a printer at ``address`` prints with.

    ``profile`` (a python-escpos profile name or a :class:`PrinterProfile`)
    applies unless the URL names one (both: they must agree); the URL's
    options (``columns=``, ``qr=``...) then override it, and ``columns`` over
    those.

    :raises InputError: an unknown profile, two different profiles, a profile
        that cannot print a ticket.
    """
    options = dict(address.options)
    url_profile = options.pop("profile", None)
    if url_profile is not None and profile is not None and str(profile) != url_profile:
        raise InputError(f"printer URL {address.url!r} names profile {url_profile!r} but {profile!r} was also given")
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
    return resolved


def _on(transport: Callable[..., Transport]) -> Callable[..., TicketPrinter]:
    """The opener of a scheme whose printer sits behind ``transport(**address.params)``."""

    def open_escpos(address: PrinterAddress, *, profile: str | PrinterProfile | None = None,
                    timeout: float = DEFAULT_TIMEOUT, columns: int | None = None,
                    name: str | None = None) -> TicketPrinter:
        return EscposTicketPrinter(transport(**address.params), name=name or address.url,
                                   profile=printer_profile(address, profile, columns), timeout=timeout)

    return open_escpos


def _standin(address: PrinterAddress, *, profile: str | PrinterProfile | None = None,
             timeout: float = DEFAULT_TIMEOUT, columns: int | None = None, name: str | None = None) -> TicketPrinter:
    return StandinPrinter(name=name or address.url, profile=printer_profile(address, profile, columns),
                          timeout=timeout)


#: The printer kind: every printer URL scheme with its parser and opener.
PRINTER = DeviceKind("printer", (
    Scheme("tcp", parse_tcp, _on(NetworkTransport), "tcp://192.168.1.50:9100"),
    Scheme("serial", parse_serial, _on(SerialTransport), "serial:///dev/ttyUSB0?baudrate=19200"),
    Scheme("file", parse_file, _on(FileTransport), "file:///var/spool/attendant/tickets.bin"),
    Scheme("usb", parse_usb, _on(UsbTransport), "usb://04b8:0202"),
    Scheme("dummy", parse_standin, _standin, "dummy://", stand_in=True),
    Scheme("standin", parse_standin, _standin, "standin://", stand_in=True),
))


def parse_printer_url(url: str) -> PrinterAddress:
    """Parse and check a printer URL (see :mod:`hardware.printers.address`) without touching any device.

    :raises InputError: an unknown scheme, a missing host or path, a bad port,
        baud rate or USB id, an unknown or repeated query option, ``status=``
        on a stand-in or ``status=yes`` on a file.
    """
    address: PrinterAddress = PRINTER.parse(url)
    return address


def open_printer(url: str, *, profile: str | PrinterProfile | None = None, timeout: float = DEFAULT_TIMEOUT,
                 columns: int | None = None, name: str | None = None) -> TicketPrinter:
    """Open the printer named by ``url`` (schemes in :data:`PRINTER`).

    No connection is made here: each job connects, writes and disconnects.
    ``profile`` is a python-escpos profile name (or a :class:`PrinterProfile`),
    unless the URL gives one; ``columns`` overrides characters per line;
    ``timeout`` bounds each job in seconds. ``dummy://``/``standin://`` return a
    :class:`~hardware.printers.printer.StandinPrinter`.

    :raises InputError: a malformed URL, an unknown profile, a bad option, a
        timeout that is not more than 0 seconds.
    """
    printer: TicketPrinter = PRINTER.open(url, profile=profile, timeout=timeout, columns=columns, name=name)
    return printer
