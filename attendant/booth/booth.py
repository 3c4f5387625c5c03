"""A booth: the facility's services plus the devices of its lanes, the one API of both front ends.

The Textual console, the typer CLI (and the HTTP API to come) call these
methods with typed requests (:mod:`attendant.core.requests`), so a CLI
``enter`` and the console's entry form write the same rows, print the same
ticket and open the gate the same way. What a booth offers:

- entries and exits (:meth:`Booth.enter`, :meth:`Booth.exit`: validations,
  split tenders, IOU, idempotency keys), the exit lane's lookups
  (:meth:`Booth.checkout`), reprints and printouts;
- shifts (:attr:`Booth.shifts`), users and logins (:attr:`Booth.staff`),
  reports (:meth:`Booth.report`), and the back office and live views of the
  car park (:attr:`Booth.service`);
- the lanes and their devices (:meth:`Booth.lane`, :meth:`Booth.devices`);
- each exit lane's customer display (:mod:`attendant.booth.customer_display`):
  the fee when a ticket is looked up at the lane, the change after the exit.

The database commit comes first; printing and the gate come after it and can
only fail "softly": a printer that fails never undoes an admitted vehicle,
it is reported in the outcome (and the ticket can be reprinted by number).
A gate opening is recorded with the operation when the lane has a gate and
the request vends it; if the gate then refuses (offline, in fault), the
record says ``fault``. Calls block on I/O: the console runs them in workers.

When the database cannot be reached, entries, exits and the exit lane's
lookups go on from the booth's journal (:attr:`Booth.offline`, an
:class:`~attendant.booth.offline.OfflineLanes` set by ``open_booth``): the
outcome then says ``journaled`` and the journal is replayed later.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from attendant.booth.printouts import receipt_data, ticket_data
from attendant.core.errors import InputError
from attendant.core.requests import EntryRequest, ExitRequest
from attendant.core.services import ParkingService
from attendant.core.shifts import ShiftDesk
from attendant.core.users import StaffDesk
from attendant.core.views import EntryResult, ExitResult, PartPayment
from attendant.core.vocab import GateOutcome, LaneDirection, VendSource
from hardware.base import DeviceError, TicketPrinter
from hardware.config import ConsoleConfig, LaneConfig, LaneDevices, open_lane_devices
from hardware.printers import open_printer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """A vehicle admitted: the entry, whether the ticket printed (or why not), what the gate did."""

    entry: EntryResult
    printed: bool
    print_error: str | None
    gate: GateOutcome
    journaled: bool = False  # the database was away: recorded in the booth's journal, replayed later


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """A vehicle let out: the exit, whether the receipt printed (or why not), what the gate did."""

    exit: ExitResult
    printed: bool
    print_error: str | None
    gate: GateOutcome
    journaled: bool = False  # the database was away: recorded in the booth's journal, replayed later


@dataclass(frozen=True, slots=True)
class ManualVend:
    """A gate opened by hand: the vend recorded, its lane, the reason, what the gate did (and why not)."""

    vend_id: int
    lane: str
    direction: str
    reason: str
    gate: GateOutcome
    message: str | None = None


class Booth:
    """The lanes of one console and the services they share (see the module docstring).

    ``printer_url`` overrides every lane's printer (CLI ``--printer``).
    """

    def __init__(self, service: ParkingService, config: ConsoleConfig, *, printer_url: str | None = None) -> None:
        self.service = service
        self.config = config
        self.shifts = ShiftDesk(service.engine, service.facility.id, service.clock)
        self.staff = StaffDesk(service.engine, service.clock, service.tz, source=f"console:{socket.gethostname()}")
        self.lanes: dict[str, LaneConfig] = {lane.code: lane for lane in config.lanes}
        self._devices: dict[str, LaneDevices] = {}
        self._printer_override: TicketPrinter | None = open_printer(printer_url) if printer_url else None
        # Tickets whose printing failed, per entry lane, oldest first: reprinted when the printer is back.
        # Guarded by _queue_lock: workers of the console and the CLI may touch it from several threads.
        self.reprint_queue: dict[str, deque[str]] = {lane.code: deque() for lane in config.lanes}
        self._queue_lock = threading.Lock()
        # Lanes that keep working when the database is away (attendant.booth.offline); set by open_booth.
        self.offline = None
        # The count signs of config.signs (attendant.booth.signs), once open_signs has opened them.
        self.sign_board = None
        if config.reason_codes:  # the booth's own reason codes for exceptions (console.toml [exceptions])
            service.reason_codes = dict(config.reason_codes)

    @property
    def facility(self):
        """The facility this booth serves (:class:`~attendant.core.facilities.FacilityInfo`)."""
        return self.service.facility

    # ------------------------------------------------------------------ lanes
    def lane(self, code: str | None, direction: LaneDirection) -> LaneConfig | None:
        """The lane ``code`` (must face ``direction``) or the first lane facing it.

        :raises InputError: no such lane, or it faces the other way.
        """
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
        """The opened devices of ``lane`` (opened on first use; never raises: faults are recorded).
        A customer display starts on its idle screen."""
        if lane.code not in self._devices:
            devices = self._devices[lane.code] = open_lane_devices(lane)
            if devices.display is not None:
                from attendant.booth.customer_display import idle_screen

                devices.display.show(idle_screen(self.facility.name))
        return self._devices[lane.code]

    def _show(self, lane: LaneConfig | None, build: Callable[[], tuple]) -> None:
        """Put ``build()``'s ``(screen, then)`` on ``lane``'s customer display, if it has one. Never raises
        and never waits: the display writes on its own thread and a failure shows in device health."""
        if lane is None or lane.display is None:
            return
        try:
            display = self.devices(lane).display
            if display is not None:
                screen, then = build()
                display.show(screen, then=then)
        except Exception:  # a display never stops a payment
            log.exception("customer display of %s not updated", lane.code)

    def open_signs(self):
        """The :class:`~attendant.booth.signs.SignBoard` of the configured count signs (opened on first call;
        None when the config has none). The caller feeds it changes (the console's change watcher).

        :raises Exception: the database could not be read to count (the caller reports it).
        """
        if self.sign_board is None and self.config.signs:
            from attendant.booth.signs import SignBoard

            self.sign_board = SignBoard(self.service.engine, self.config.signs, facility=self.facility.code)
        return self.sign_board

    def _printer(self, lane: LaneConfig | None) -> TicketPrinter | None:
        if self._printer_override is not None:
            return self._printer_override
        return self.devices(lane).printer if lane else None

    def _print(self, lane: LaneConfig | None, wanted: bool, job: Callable[[TicketPrinter], None],
               what: str) -> tuple[bool, str | None]:
        """Run one print job on ``lane``'s printer: (printed, error or None)."""
        printer = self._printer(lane) if wanted else None
        if printer is None:
            return False, None
        try:
            job(printer)
        except DeviceError as exc:
            log.warning("%s not printed: %s", what, exc)
            return False, str(exc)
        return True, None

    @staticmethod
    def _gate_configured(lane: LaneConfig | None) -> bool:
        return lane is not None and lane.gate is not None

    def _vend(self, lane: LaneConfig | None, wanted: bool, vend_id: int | None, source: VendSource,
              reason: str | None) -> GateOutcome:
        """Command the gate of ``lane`` (after the commit); a refusal marks the recorded opening ``fault``."""
        if not wanted:
            return GateOutcome.NOT_VENDED
        if not self._gate_configured(lane):
            return GateOutcome.NO_GATE
        devices = self.devices(lane)
        gate = devices.gate
        try:
            if gate is None:
                fault = devices.faults.get("gate")
                raise DeviceError(fault.message if fault else f"gate of {lane.code} is not available")
            gate.vend(source.value, reason)
        except DeviceError as exc:
            log.warning("gate %s failed: %s", lane.code, exc)
            if vend_id is not None:
                try:
                    self.service.record_vend_fault(vend_id, str(exc))
                except Exception:  # noqa: BLE001 - the database is away: the log keeps the fault
                    log.exception("gate fault of vend %s not recorded", vend_id)
            return GateOutcome.FAULT
        return GateOutcome.OPENED

    # ------------------------------------------------------------- entries
    def enter(self, request: EntryRequest, *, actor) -> EntryOutcome:
        """Admit a vehicle at an entry lane: session, ticket printed, gate vended.

        A ticket that cannot be printed leaves the vehicle admitted by its
        plate and waits in the lane's reprint queue. Raises as
        :meth:`ParkingService.admit`, and :class:`InputError` for an unknown lane.
        A retried request (same idempotency key) returns the first entry with
        gate ``already entered``: nothing printed, the gate not vended again.
        """
        lane = self.lane(request.lane, LaneDirection.ENTRY)
        if lane is not None and request.lane != lane.code:
            request = replace(request, lane=lane.code)
        vend = request.vend and self._gate_configured(lane)
        if self.offline is not None:
            entry, journaled = self.offline.admit(request, actor=actor, vend=vend)
        else:
            entry, journaled = self.service.admit(request, actor=actor, vend=vend), False
        if entry.replayed:
            return EntryOutcome(entry, False, None, GateOutcome.ALREADY_ENTERED)
        printed, error = self._print(lane, request.print_ticket,
                                     lambda p: p.print_ticket(ticket_data(self.facility, self.service.tz, entry)),
                                     f"ticket {entry.ticket_no}")
        if error and lane is not None:  # the vehicle is in by its plate; the ticket waits for the printer
            with self._queue_lock:
                self.reprint_queue.setdefault(lane.code, deque()).append(entry.ticket_no)
        gate = self._vend(lane, request.vend, entry.vend_id, VendSource.TICKET, None)
        return EntryOutcome(entry, printed, error, gate, journaled)

    # ---------------------------------------------------------------- exits
    def checkout(self, text: str, *, at=None, lost: bool = False, lane: str | None = None):
        """Fee, payments and balance of the open session named by a code, a ticket number or a plate (one read);
        ``lost``: priced by the plan's lost-ticket rule. ``lane``: the exit lane where the vehicle waits; its
        customer display shows the balance (not for a look-up at another time, ``at``)."""
        if self.offline is not None and not lost:
            result = self.offline.checkout(text, at=at)
        else:
            result = self.service.checkout(text, at=at, lost=lost)
        if lane is not None and at is None:
            from attendant.booth.customer_display import fee_screen

            self._show(self.lanes.get(lane.upper()), lambda: (fee_screen(result, self.facility.currency), ()))
        return result

    def exit(self, request: ExitRequest, *, actor) -> ExitOutcome | PartPayment:
        """Take payment at an exit lane and let the vehicle out: receipt printed, gate vended.

        Runs :meth:`ParkingService.settle` (validations, then the tenders in
        order, each for its amount or the rest of the balance; with an IOU
        reason a vehicle whose payment failed is still let go). Returns the
        :class:`ExitOutcome` when the vehicle left, or the
        :class:`PartPayment` when a balance remains (a split tender goes on;
        nothing is printed and the gate stays shut). A retried request with
        the same idempotency key returns the first exit (gate ``already
        exited``) and charges nothing more. Raises as ``settle``.

        The lane's customer display shows what was paid and the change, then
        "Thank you"; after part of a split or a validation (a ``request.lane``
        given), the balance still to pay. Only for a vehicle at the lane now
        (``at`` None and the gate vended), not for back-dated or replayed exits.
        """
        named_lane = request.lane is not None
        lane = self.lane(request.lane, LaneDirection.EXIT)
        if lane is not None and request.lane != lane.code:
            request = replace(request, lane=lane.code)
        vend = request.vend and self._gate_configured(lane)
        if self.offline is not None:
            result, journaled = self.offline.settle(request, actor=actor, vend=vend)
        else:
            result, journaled = self.service.settle(request, actor=actor, vend=vend), False
        at_lane = request.at is None and request.vend
        if isinstance(result, PartPayment):
            if at_lane and named_lane:  # the vehicle stays: the balance, where the caller said it waits
                from attendant.booth.customer_display import fee_screen

                self._show(lane, lambda: (fee_screen(result.checkout, self.facility.currency), ()))
            return result
        if result.replayed:
            return ExitOutcome(result, False, None, GateOutcome.ALREADY_EXITED)
        if at_lane:
            from attendant.booth.customer_display import after_exit

            self._show(lane, lambda: after_exit(result, self.facility.name))
        printed, error = self._print(lane, request.print_receipt,
                                     lambda p: p.print_receipt(receipt_data(self.facility, self.service.tz, result)),
                                     f"receipt for {result.ticket_no}")
        gate = self._vend(lane, request.vend, result.vend_id, result.vend_source, result.vend_reason)
        return ExitOutcome(result, printed, error, gate, journaled)

    # ------------------------------------------------------------- exceptions (issue 10)
    def lost_ticket_exit(self, plate: str | None, request: ExitRequest, *, actor,
                         vehicle_class: str = "car") -> tuple[ExitOutcome | PartPayment, str]:
        """A driver without a ticket: find the open session by ``plate`` (confusions tolerated), or record
        an unknown stay, then :meth:`exit` priced by the plan's lost-ticket rule
        (:meth:`~attendant.core.booth_exceptions.ExceptionOps.lost_ticket_code`). ``request.code`` is
        ignored. Returns ``(outcome, found_by)`` (``"plate"`` or ``"unknown stay"``). Raises as both."""
        lane = self.lane(request.lane, LaneDirection.EXIT)
        code, found = self.service.lost_ticket_code(plate, actor=actor, vehicle_class=vehicle_class,
                                                    lane=lane.code if lane else None, at=request.at)
        return self.exit(replace(request, code=code, lost=True), actor=actor), found

    def manual_vend(self, lane_code: str, reason: str, *, actor, retry_of: int | None = None,
                    command: bool = True) -> ManualVend:
        """Open ``lane_code``'s gate by hand with a reason (``CODE`` or ``CODE: text``).

        The vend is recorded first (source ``attendant``, audited
        ``exception.manual_vend``), then the gate is commanded; a refusal marks
        it ``fault``. ``retry_of``: the faulted vend this retries.
        ``command`` False records a barrier lifted by hand (a gate in fault):
        the gate is not commanded and the vend stays ``opened``. Raises
        :class:`InputError` (no such lane, no gate there, a bad reason) and
        the role errors, before anything is written.
        """
        lane = self.lanes.get((lane_code or "").strip().upper())
        if lane is None:
            known = ", ".join(self.lanes) or "none configured"
            raise InputError(f"no lane {lane_code!r} (lanes: {known})")
        if not self._gate_configured(lane):
            raise InputError(f"lane {lane.code} has no gate to open")
        why = self.service.parse_reason(reason)
        vend_id = self.service.manual_vend(lane.code, reason=why, actor=actor, direction=lane.direction,
                                           retry_of=retry_of, by_hand=not command)
        if not command:
            return ManualVend(vend_id, lane.code, lane.direction, str(why), GateOutcome.OPENED, "opened by hand")
        gate = self._vend(lane, True, vend_id, VendSource.ATTENDANT, str(why))
        _outcome, message = self.service.vend_fault_of(vend_id) if gate is GateOutcome.FAULT else (None, None)
        return ManualVend(vend_id, lane.code, lane.direction, str(why), gate, message)

    # ------------------------------------------------------------- reports
    def report(self, period: str, day: date | None = None):
        """The ``period`` report (``daily``, ``weekly``, ``monthly``) containing facility-local ``day``
        (default today): :class:`~attendant.core.reports.PeriodReport`."""
        from attendant.core.reports import period_report

        return period_report(self.service, period, day)

    # ------------------------------------------------------------- printing
    def reprint(self, ticket_no: str | int, *, actor, lane: str | None = None, dequeue: bool = True) -> str | None:
        """Reprint a ticket by number (a damaged ticket, a jam) on ``lane``'s printer, as ``actor``.

        Returns None when printed, or why not. The reprint carries the same
        signed code, so it closes the same single session. With ``dequeue``, a
        printed ticket leaves the reprint queue if it was waiting there. Every
        printed copy is audited (``ticket.reprint``, who and where). Raises
        :class:`~attendant.core.auth.LoginRequired` /
        :class:`~attendant.core.auth.PermissionDenied` before printing anything,
        :class:`~attendant.core.errors.NotFound` for an unknown number.
        """
        self._authorize(actor, "reprinting a ticket")  # refused before any lookup or paper
        entry = self.offline.ticket(ticket_no) if self.offline is not None else self.service.ticket(ticket_no)
        lane_cfg = self.lane(lane or entry.lane, LaneDirection.ENTRY) if (lane or entry.lane) else None
        printer = self._printer(lane_cfg)
        if printer is None:
            return "no printer on this lane"
        try:
            printer.print_ticket(ticket_data(self.facility, self.service.tz, entry))
        except DeviceError as exc:
            return str(exc)
        with self._queue_lock:
            queued = any(entry.ticket_no in queue for queue in self.reprint_queue.values())
            if dequeue and queued:
                for queue in self.reprint_queue.values():
                    if entry.ticket_no in queue:
                        queue.remove(entry.ticket_no)
        where = lane_cfg.code if lane_cfg else lane
        if self.offline is not None:  # audited now, or journaled with the rest while the database is away
            self.offline.record_reprint(entry, lane=where, actor=actor, first_copy=queued)
        else:
            self.service.record_reprint(entry.session_id, lane=where, actor=actor, first_copy=queued)
        return None

    # ------------------------------------------------------------- staff (also while the database is away)
    def login(self, username: str, pin: str):
        """A PIN login at this booth (:meth:`StaffDesk.login`; offline against the PIN hash kept here)."""
        if self.offline is not None:
            return self.offline.login(self.staff, username, pin)
        return self.staff.login(username, pin)

    def current_shift(self, actor):
        """``actor``'s open shift here, or None (also while the database is away)."""
        try:
            return self.shifts.current(actor)
        except Exception as exc:
            from attendant.core.journal import database_unreachable

            if self.offline is None or not database_unreachable(exc):
                raise
            return None

    def any_users(self) -> bool:
        """Whether users exist, so the console asks for a PIN (the snapshot's answer while the database is away)."""
        return self.offline.users_exist() if self.offline is not None else self.staff.any_users()

    def _authorize(self, actor, action: str):
        """Who may do ``action`` (an attendant's role; a login once users exist), also while the database is
        away (:meth:`OfflineLanes.authorize`)."""
        if self.offline is not None:
            return self.offline.authorize(actor, action)
        return self.service._actor(actor, action=action)

    def queued_reprints(self, lane: str) -> list[str]:
        """Ticket numbers waiting for ``lane``'s printer, oldest first (a copy)."""
        with self._queue_lock:
            return list(self.reprint_queue.get(lane.upper(), ()))

    def retry_reprints(self, lane: str, *, actor) -> tuple[int, str | None]:
        """Print the tickets queued for ``lane`` while its printer was failing.

        Stops at the first failure. Returns (tickets printed, error or None).
        """
        printed = 0
        for ticket_no in self.queued_reprints(lane):
            error = self.reprint(ticket_no, lane=lane, actor=actor)  # dequeues it once printed
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

    def close(self, timeout: float = 3.0) -> None:
        """Stop device threads and close connections: every lane's devices and the count signs are closed in
        parallel (one short-lived thread each), so quitting waits for the slowest device, not for their sum.
        Waits at most ``timeout`` seconds in all (each driver bounds its own close with its timeouts; a close
        still running then goes on in its daemon thread). Errors are swallowed by the closers (shutting down).
        """
        if self.offline is not None:  # the journal file's connections (its events stay for `attendant sync`)
            self.offline.journal.close()
        closers = [devices.close for devices in self._devices.values()]
        board, self.sign_board = self.sign_board, None
        if board is not None:
            closers.append(board.close)
        if len(closers) <= 1:
            for close in closers:
                close()
            return

        def guarded(close: Callable[[], None]) -> None:
            try:
                close()
            except Exception:  # shutting down: logged, the other closes go on
                logging.getLogger(__name__).warning("closing devices failed", exc_info=True)

        threads = [threading.Thread(target=guarded, args=(close,), name="close-devices", daemon=True)
                   for close in closers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
