"""What goes on paper: the ticket and receipt data built from the services' results.

The printer drivers (:mod:`hardware.printers`) lay out and render
:class:`~hardware.base.TicketData` and :class:`~hardware.base.ReceiptData`;
this module fills them from an entry or an exit, in facility time, with
amounts formatted in the facility currency. The stay on the receipt counts
started minutes, as the fee lines do.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from attendant.core.facilities import FacilityInfo
from attendant.core.money import format_money
from attendant.core.views import EntryResult, ExitResult
from attendant.core.vocab import PaymentMethod
from hardware.base import ReceiptData, TicketData


def duration_text(start: datetime, end: datetime) -> str:
    """Elapsed time as people read it: ``"3 h 12 min"``, ``"2 d 1 h 5 min"``.

    Counts started minutes, as the fee lines do, so a stay of 61 min 30 s
    reads "1 h 2 min" on the screen, the receipt and the breakdown alike.
    """
    minutes = -int(-(end - start).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours or days else []) + [f"{mins} min"]
    return " ".join(parts)


def ticket_data(facility: FacilityInfo, tz: tzinfo, entry: EntryResult) -> TicketData:
    """The entry ticket of ``entry`` (its signed code goes into the QR and Code 128)."""
    return TicketData(
        facility_name=facility.name,
        facility_address=facility.address,
        ticket_no=entry.ticket_no,
        code=entry.code,
        entry_at_local=entry.entry_at.astimezone(tz),
        spot_label=entry.spot_label,
        level_name=entry.level_name,
        plate=entry.plate,
        vehicle_class=entry.vehicle_class,
        lane=entry.lane or "",
        rate_summary=entry.rate_summary,
    )


def receipt_data(facility: FacilityInfo, tz: tzinfo, result: ExitResult) -> ReceiptData:
    """The exit receipt of ``result``: the fee lines, each payment of a split, an IOU line, the change."""
    cur = result.currency
    paid_lines = tuple(
        (f"Paid {p.method.upper()}" + (f" {p.reference}" if p.method == PaymentMethod.VALIDATION.value else ""),
         format_money(p.amount, cur))
        for p in result.payments
        if p.counted and len(result.payments) > 1
    )
    iou_line = (("IOU (unpaid)", format_money(result.iou_amount, cur)),) if result.iou_amount else ()
    return ReceiptData(
        facility_name=facility.name,
        facility_address=facility.address,
        receipt_no=f"R{result.session_id:08d}",
        ticket_no=result.ticket_no,
        plate=result.plate,
        entry_at_local=result.entry_at.astimezone(tz),
        exit_at_local=result.exit_at.astimezone(tz),
        duration_text=duration_text(result.entry_at, result.exit_at),
        lines=tuple((line.label, format_money(line.amount, cur)) for line in result.fee.lines) + paid_lines + iou_line,
        total=format_money(result.fee.amount, cur),
        method=(result.method or "none").upper(),
        paid=format_money(result.paid, cur),
        tendered=format_money(result.tendered, cur) if result.tendered is not None else None,
        change=format_money(result.change, cur) if result.change is not None else None,
        lane=result.lane or "",
    )
