"""Ticket, receipt and test-print layout as blocks, and their plain-text picture.

A job is laid out as a list of blocks (text lines with alignment, emphasis and
size; a QR code; a Code 128 barcode; a cut) sized to the printer's columns.
:mod:`hardware.printers.escpos` turns blocks into ESC/POS bytes;
:func:`render_plain` draws them as text for the console's stand-in printer
view. No I/O and no device library here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hardware.base import ReceiptData, TicketData
from hardware.printers.profile import DEFAULT_COLUMNS

__all__ = [
    "Block",
    "Code128Block",
    "CutBlock",
    "QrBlock",
    "TextBlock",
    "format_local_time",
    "layout_receipt",
    "layout_text",
    "layout_ticket",
    "render_plain",
]


@dataclass(frozen=True)
class TextBlock:
    """One printed line: ``align`` left/center/right, ``size`` normal, tall
    (double height) or large (double width and height)."""

    text: str
    align: str = "left"
    bold: bool = False
    size: str = "normal"


@dataclass(frozen=True)
class QrBlock:
    """A QR code of ``payload`` (the signed ticket code, byte for byte)."""

    payload: str


@dataclass(frozen=True)
class Code128Block:
    """A Code 128 barcode of ``payload`` (the ticket number)."""

    payload: str


@dataclass(frozen=True)
class CutBlock:
    """End of the job: feed and cut (a feed only without a cutter)."""


Block = TextBlock | QrBlock | Code128Block | CutBlock


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
    return [TextBlock(line, "center", bold, size) for line in _wrap(text, width)]


def _pair(label: str, value: str, columns: int, *, bold: bool = False, size: str = "normal") -> list[Block]:
    """``label ........ value`` on one line, or label then right-aligned value."""
    width = columns // 2 if size == "large" else columns
    if len(label) + 1 + len(value) <= width:
        return [TextBlock(label + " " * (width - len(label) - len(value)) + value, "left", bold, size)]
    blocks: list[Block] = [TextBlock(line, "left", bold, size) for line in _wrap(label, width)]
    blocks += [TextBlock(line.rjust(width), "left", bold, size) for line in _wrap(value, width)]
    return blocks


def _rule(columns: int) -> TextBlock:
    return TextBlock("-" * columns)


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
    blocks.append(TextBlock(""))
    blocks += _center("SPOT", columns)
    blocks += _center(ticket.spot_label, columns, bold=True, size="large")
    if ticket.level_name:
        blocks += _center(ticket.level_name, columns)
    blocks.append(TextBlock(""))
    blocks += _pair("Ticket no", ticket.ticket_no, columns, bold=True)
    blocks += _pair("Entry", format_local_time(ticket.entry_at_local), columns)
    if ticket.plate:
        blocks += _pair("Plate", ticket.plate, columns)
    blocks += _pair("Vehicle", str(ticket.vehicle_class), columns)
    blocks += _pair("Lane", ticket.lane, columns)
    blocks.append(TextBlock(""))
    blocks.append(QrBlock(ticket.code))
    blocks.append(Code128Block(ticket.ticket_no))
    if ticket.rate_summary:
        blocks += _center(ticket.rate_summary, columns)
    blocks += _center("Keep this ticket: you need it to leave.", columns)
    blocks.append(CutBlock())
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
    blocks.append(TextBlock(""))
    blocks += _center("Thank you", columns)
    blocks.append(CutBlock())
    return blocks


def layout_text(lines: Iterable[str], columns: int = DEFAULT_COLUMNS) -> list[Block]:
    """Blocks of a test print: each line wrapped to ``columns``, then a cut."""
    blocks: list[Block] = []
    for line in lines:
        blocks += [TextBlock(part) for part in _wrap(str(line), columns)]
    blocks.append(CutBlock())
    return blocks


def render_plain(blocks: Sequence[Block], columns: int = DEFAULT_COLUMNS) -> str:
    """A plain-text picture of the paper, for the console's stand-in printer view.

    A QR code appears as a ``[QR code]`` line followed by its payload cut into
    page-width pieces; a barcode as ``[Code 128: payload]``.
    """
    out: list[str] = []
    for block in blocks:
        if isinstance(block, TextBlock):
            if block.align == "center":
                out.append(block.text.center(columns).rstrip())
            elif block.align == "right":
                out.append(block.text.rjust(columns))
            else:
                out.append(block.text.rstrip())
        elif isinstance(block, QrBlock):
            # The payload is split at the page width, never at its punctuation.
            chunks = [block.payload[i : i + columns] for i in range(0, len(block.payload), columns)]
            out.append("[QR code]".center(columns).rstrip())
            out += [chunk.center(columns).rstrip() if len(chunks) == 1 else chunk for chunk in chunks]
        elif isinstance(block, Code128Block):
            out += [line.center(columns).rstrip() for line in _wrap(f"[Code 128: {block.payload}]", columns)]
        elif isinstance(block, CutBlock):
            out.append("[cut]".center(columns, "-"))
    return "\n".join(out) + "\n"
