"""A booth: the parking service plus the devices of its lanes.

Both front ends (the Textual console and the typer CLI) call these methods,
so a CLI ``enter`` and the console's entry flow write the same rows and print
the same ticket. The database commit comes first; printing and the gate come
after it and can only fail "softly": a printer that fails never undoes an
admitted vehicle, it is reported in the outcome (and the ticket can be
reprinted by number). Calls block on I/O: the console runs them in workers.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from attendant.core.errors import InputError, PaymentError
from attendant.core.money import format_money
from attendant.core.services import EntryResult, ExitResult, ParkingService
from attendant.core.vocab import LaneDirection
from hardware.base import DeviceError, ReceiptData, TicketData, TicketPrinter
from hardware.config import ConsoleConfig, LaneConfig, LaneDevices, open_lane_devices
from hardware.printers import open_printer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    entry: EntryResult
    printed: bool
    print_error: str | None
    gate: str


@dataclass(frozen=True, slots=True)
class Tender:
    """One part of a payment: ``method``, ``amount`` (None: the rest of the balance),
    ``tendered`` cash handed over, ``reference`` (pass code, account name)."""

    method: str
    amount: int | None = None
    tendered: int | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    exit: ExitResult
    printed: bool
    print_error: str | None
    gate: str


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


class Booth:
    """The lanes of one console and the service they share.

    ``printer_url`` overrides every lane's printer (CLI ``--printer``).
    """

    def __init__(self, service: ParkingService, config: ConsoleConfig, *, printer_url: str | None = None) -> None:
        self.service = service
        self.config = config
        self.lanes: dict[str, LaneConfig] = {lane.code: lane for lane in config.lanes}
        self._devices: dict[str, LaneDevices] = {}
        self._printer_override: TicketPrinter | None = open_printer(printer_url) if printer_url else None
        # Tickets whose printing failed, per entry lane, oldest first: reprinted when the printer is back.
        # Guarded by _queue_lock: workers of the console and the CLI may touch it from several threads.
        self.reprint_queue: dict[str, deque[str]] = {lane.code: deque() for lane in config.lanes}
        self._queue_lock = threading.Lock()

    def lane(self, code: str | None, direction: LaneDirection) -> LaneConfig | None:
        """The lane ``code`` (must face ``direction``) or the first lane facing it."""
        if code is None:
            return next((lane for lane in self.config.lanes if lane.direction == direction.value), None)
        lane = self.lanes.get(code.upper())
        if lane is None:
            known = ", ".join(self.lanes) or "none configured"
            raise InputError(f"no lane {code!r} (lanes: {known})")
        if lane.direction != direction.value:
            raise InputError(f"lane {lane.code} is an {lane.direction} lane, not {direction.value}")
        return lane

    def devices(self, lane: LaneConfig) -> LaneDevices:
        if lane.code not in self._devices:
            self._devices[lane.code] = open_lane_devices(lane)
        return self._devices[lane.code]

    def _printer(self, lane: LaneConfig | None) -> TicketPrinter | None:
        if self._printer_override is not None:
            return self._printer_override
        return self.devices(lane).printer if lane else None

    def _vend(self, lane: LaneConfig | None, source: str, reason: str | None) -> str:
        if lane is None:
            return "no gate"
        gate = self.devices(lane).gate
        if gate is None:
            return "no gate"
        try:
            event = gate.vend(source, reason)
        except DeviceError as exc:
            log.warning("gate %s failed: %s", lane.code, exc)
            return "fault"
        return "opened" if str(event.state) == "open" else str(event.state)

    # ------------------------------------------------------------------ flows
    def ticket_data(self, entry: EntryResult) -> TicketData:
        facility = self.service.facility
        return TicketData(
            facility_name=facility.name,
            facility_address=facility.address,
            ticket_no=entry.ticket_no,
            code=entry.code,
            entry_at_local=self.service.local(entry.entry_at),
            spot_label=entry.spot_label,
            level_name=entry.level_name,
            plate=entry.plate,
            vehicle_class=entry.vehicle_class,
            lane=entry.lane or "",
            rate_summary=entry.rate_summary,
        )

    def receipt_data(self, result: ExitResult) -> ReceiptData:
        cur = result.currency
        return ReceiptData(
            facility_name=self.service.facility.name,
            facility_address=self.service.facility.address,
            receipt_no=f"R{result.session_id:08d}",
            ticket_no=result.ticket_no,
            plate=result.plate,
            entry_at_local=self.service.local(result.entry_at),
            exit_at_local=self.service.local(result.exit_at),
            duration_text=duration_text(result.entry_at, result.exit_at),
            lines=tuple((line.label, format_money(line.amount, cur)) for line in result.fee.lines)
            + tuple(
                (f"Paid {p.method.upper()}" + (f" {p.reference}" if p.method == "validation" else ""),
                 format_money(p.amount, cur))
                for p in result.payments
                if p.status in ("completed", "refunded") and len(result.payments) > 1
            )
            + ((("IOU (unpaid)", format_money(result.iou_amount, cur)),) if result.iou_amount else ()),
            total=format_money(result.fee.amount, cur),
            method=(result.method or "none").upper(),
            paid=format_money(result.paid, cur),
            tendered=format_money(result.tendered, cur) if result.tendered is not None else None,
            change=format_money(result.change, cur) if result.change is not None else None,
            lane=result.lane or "",
        )

    def process_entry(
        self,
        plate: str | None,
        vehicle_class: str,
        *,
        actor: str,
        lane: str | None = None,
        ev: bool = False,
        accessible: bool = False,
        spot_label: str | None = None,
        at: datetime | None = None,
        print_ticket: bool = True,
        vend: bool = True,
    ) -> EntryOutcome:
        """Admit a vehicle at an entry lane: session, ticket printed, gate vended."""
        lane_cfg = self.lane(lane, LaneDirection.ENTRY)
        entry = self.service.enter(
            plate,
            vehicle_class,
            actor=actor,
            ev=ev,
            accessible=accessible,
            lane=lane_cfg.code if lane_cfg else lane,
            spot_label=spot_label,
            at=at,
        )
        printed, error = False, None
        printer = self._printer(lane_cfg) if print_ticket else None
        if printer is not None:
            try:
                printer.print_ticket(self.ticket_data(entry))
                printed = True
            except DeviceError as exc:
                error = str(exc)
                log.warning("ticket %s not printed: %s", entry.ticket_no, exc)
                if lane_cfg is not None:  # the vehicle is in by its plate; the ticket waits for the printer
                    with self._queue_lock:
                        self.reprint_queue.setdefault(lane_cfg.code, deque()).append(entry.ticket_no)
        gate = self._vend(lane_cfg, "ticket", None) if vend else "not vended"
        return EntryOutcome(entry, printed, error, gate)

    def process_exit(
        self,
        code: str,
        *,
        actor,
        method: str | None = None,
        tendered: int | None = None,
        tenders: list[Tender] | None = None,
        validations: tuple[str, ...] = (),
        iou_reason: str | None = None,
        lane: str | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
        print_receipt: bool = True,
        vend: bool = True,
    ) -> ExitOutcome:
        """Take payment at an exit lane and let the vehicle out: receipt printed, gate vended.

        ``tenders`` (or the shorthand ``method``/``tendered``) are taken in
        order, each for its amount or, without one, the rest of the balance;
        ``validations`` are applied first. If a payment fails and
        ``iou_reason`` is given the vehicle is let go with an IOU for what is
        still due (never trap a car); without it the failure is raised and the
        vehicle stays (payments already taken stay recorded). A retried call
        with the same ``idempotency_key`` returns the first exit and charges
        nothing more.
        """
        lane_cfg = self.lane(lane, LaneDirection.EXIT)
        lane_code = lane_cfg.code if lane_cfg else lane
        service = self.service
        if idempotency_key:
            done = service.exit_by_idempotency_key(f"{idempotency_key}.1")
            if done is not None:
                return ExitOutcome(done, False, None, "already exited")
        at = at or service.clock()
        if tenders is None:
            tenders = [Tender(method, tendered=tendered)] if method else []
        for vcode in validations:
            service.apply_validation(code, vcode, actor=actor, at=at)
        failure: Exception | None = None
        for n, tender in enumerate(tenders, start=1):
            if service.checkout(code, at=at).balance == 0:
                break
            try:
                service.pay(
                    code,
                    tender.method,
                    actor=actor,
                    amount=tender.amount,
                    tendered=tender.tendered,
                    reference=tender.reference,
                    idempotency_key=f"{idempotency_key}.{n}" if idempotency_key else None,
                    lane=lane_code,
                    at=at,
                )
            except PaymentError as exc:
                if iou_reason is None:
                    raise
                failure = exc
                break
        balance = service.checkout(code, at=at).balance
        if balance and iou_reason is not None:
            reason = f"{iou_reason} ({failure})" if failure else iou_reason
            result = service.let_go(code, actor=actor, reason=reason, lane=lane_code, at=at)
            source, vend_reason = "attendant", f"IOU: {reason}"
        else:
            result = service.complete_exit(code, actor=actor, lane=lane_code, at=at)
            source, vend_reason = ("payment" if result.paid else "ticket"), None
        printed, error = False, None
        printer = self._printer(lane_cfg) if print_receipt else None
        if printer is not None:
            try:
                printer.print_receipt(self.receipt_data(result))
                printed = True
            except DeviceError as exc:
                error = str(exc)
                log.warning("receipt for %s not printed: %s", result.ticket_no, exc)
        gate = self._vend(lane_cfg, source, vend_reason) if vend else "not vended"
        return ExitOutcome(result, printed, error, gate)

    def reprint(self, ticket_no: str | int, *, lane: str | None = None, dequeue: bool = True) -> str | None:
        """Reprint a ticket by number (a damaged ticket, a jam) on ``lane``'s printer.

        Returns None when printed, or why not. The reprint carries the same
        signed code, so it closes the same single session. With ``dequeue``, a
        printed ticket leaves the reprint queue if it was waiting there.
        """
        entry = self.service.ticket(ticket_no)
        lane_cfg = self.lane(lane or entry.lane, LaneDirection.ENTRY) if (lane or entry.lane) else None
        printer = self._printer(lane_cfg)
        if printer is None:
            return "no printer on this lane"
        try:
            printer.print_ticket(self.ticket_data(entry))
        except DeviceError as exc:
            return str(exc)
        if dequeue:
            with self._queue_lock:
                for queue in self.reprint_queue.values():
                    if entry.ticket_no in queue:
                        queue.remove(entry.ticket_no)
        return None

    def queued_reprints(self, lane: str) -> list[str]:
        """Ticket numbers waiting for ``lane``'s printer, oldest first (a copy)."""
        with self._queue_lock:
            return list(self.reprint_queue.get(lane.upper(), ()))

    def retry_reprints(self, lane: str) -> tuple[int, str | None]:
        """Print the tickets queued for ``lane`` while its printer was failing.

        Stops at the first failure. Returns (tickets printed, error or None).
        """
        printed = 0
        for ticket_no in self.queued_reprints(lane):
            error = self.reprint(ticket_no, lane=lane)  # dequeues it once printed
            if error:
                return printed, error
            printed += 1
        return printed, None

    def print_text(self, lines: list[str], *, lane: str | None = None) -> str | None:
        """Print plain lines (a shift report, a test page) on ``lane``'s printer.

        Uses the override printer, else the lane's, else the first lane with a
        printer. Returns None when printed, or the reason it was not.
        """
        lane_cfg = self.lanes.get(lane.upper()) if lane else None
        printer = self._printer(lane_cfg)
        if printer is None:
            for candidate in self.config.lanes:
                printer = self.devices(candidate).printer
                if printer is not None:
                    break
        if printer is None:
            return "no printer configured"
        try:
            printer.print_text(lines)
        except DeviceError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        """Stop device threads and close connections."""
        for devices in self._devices.values():
            devices.close()
