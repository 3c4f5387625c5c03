"""ESC/POS ticket and receipt printers, built on python-escpos 3.1.

One module per responsibility:

- :mod:`~hardware.printers.address`: printer URLs and their options (no I/O);
- :mod:`~hardware.printers.schemes`: the printer kind's scheme table
  (:data:`PRINTER`) and :func:`open_printer`;
- :mod:`~hardware.printers.profile`: what a printer can do (:class:`PrinterProfile`);
- :mod:`~hardware.printers.layout`: tickets, receipts and test prints as
  blocks, and their plain-text picture;
- :mod:`~hardware.printers.escpos`: blocks to ESC/POS bytes through python-escpos;
- :mod:`~hardware.printers.status`: ``DLE EOT`` status decoding;
- :mod:`~hardware.printers.transports`: TCP, serial, USB, file and memory;
- :mod:`~hardware.printers.printer`: :class:`EscposTicketPrinter` and the
  in-memory :class:`StandinPrinter`;
- :mod:`~hardware.printers.library`: python-escpos, imported on first use.

Importing this package imports no device library: python-escpos (and
pyserial, pyusb, qrcode, python-barcode, Pillow) load on the first job or
profile lookup.
"""

from hardware.printers.address import PrinterAddress
from hardware.printers.layout import format_local_time, layout_receipt, layout_text, layout_ticket, render_plain
from hardware.printers.printer import DEFAULT_TIMEOUT, EscposTicketPrinter, PrintJob, StandinPrinter
from hardware.printers.profile import PrinterProfile
from hardware.printers.schemes import PRINTER, open_printer, parse_printer_url
from hardware.printers.status import decode_status
from hardware.printers.transports import Transport, _usb_backend_available

__all__ = [
    "DEFAULT_TIMEOUT",
    "EscposTicketPrinter",
    "PRINTER",
    "PrintJob",
    "PrinterAddress",
    "PrinterProfile",
    "StandinPrinter",
    "Transport",
    "_usb_backend_available",
    "decode_status",
    "format_local_time",
    "layout_receipt",
    "layout_text",
    "layout_ticket",
    "open_printer",
    "parse_printer_url",
    "render_plain",
]
