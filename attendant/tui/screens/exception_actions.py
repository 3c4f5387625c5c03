"""Booth exceptions at the main screen (issue 10): F6 lost ticket to a paid exit, F11 a gate opened by hand.

A mixin of :class:`attendant.tui.screens.main.MainScreen`:

- **F6 lost ticket**: a dialog asks the plate (the exit lane camera's last
  read filled in, if any; empty: an unknown vehicle) and
  the reason (default ``LOST_TICKET``); the services find the open session by
  plate (confusions tolerated) or record an unknown stay
  (:meth:`~attendant.core.booth_exceptions.ExceptionOps.lost_ticket_code`),
  and the exit form shows it priced by the plan's lost-ticket rule; the
  payment then closes it as usual (receipt, gate) with an
  ``exception.lost_ticket`` event.
- **F11 open a gate by hand**: pick the lane and the reason
  (:meth:`attendant.booth.Booth.manual_vend`); after an exit whose gate
  faulted, the dialog offers that lane with ``GATE_FAULT`` and the vend is a
  retry of the faulted one (``retry_of``).
"""

from __future__ import annotations

from textual import on, work
from textual.message import Message
from textual.screen import Screen

from attendant.core.booth_exceptions import reason_codes
from attendant.core.errors import AttendantError
from attendant.core.vocab import GateOutcome
from attendant.tui.console_app import ConsoleApp
from attendant.tui.exception_dialogs import ExceptionDialog, ExceptionEntry
from attendant.tui.messages import ExitDone


class LostTicketFound(Message):
    """The session a driver without a ticket leaves with: its code, the reason, how it was found."""

    def __init__(self, code: str, reason: str, found_by: str) -> None:
        super().__init__()
        self.code, self.reason, self.found_by = code, reason, found_by


class LostTicketFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class VendDone(Message):
    def __init__(self, text: str, ok: bool) -> None:
        super().__init__()
        self.text, self.ok = text, ok


class ExceptionActions(Screen):
    """Lost ticket and manual vend actions (see the module docstring); a Screen so Textual registers the
    ``@on`` handlers."""

    app: ConsoleApp

    faulted_vend: tuple[str, int] | None = None  # (lane, vend id) of the last exit whose gate refused

    # ------------------------------------------------------------ lost ticket
    def action_lost_ticket(self) -> None:
        """F6: a driver without a ticket: plate and reason, then the exit form at the lost-ticket fee."""
        from attendant.tui.widgets.exit_form import ExitForm

        def chosen(entry: ExceptionEntry | None) -> None:
            if entry:
                form = self.query_one(ExitForm)
                form.query_one("#exit-result").update("looking for the vehicle…")
                self.run_lost_lookup(entry.plate, entry.reason)

        lane = self.app.exit_lane.code if getattr(self.app, "exit_lane", None) else None
        read = getattr(self, "last_reads", {}).get(lane) if lane else None  # the exit camera's last plate
        self.app.push_screen(ExceptionDialog(
            "Lost ticket: find the vehicle by plate", reason_codes(self.app.booth.service), ask_plate=True,
            default="LOST_TICKET", plate=read[0] if read else None,
            context="The vehicle is found by plate and charged the rate plan's lost-ticket fee; with no vehicle "
                    "found, the fee for an unknown stay."), chosen)

    @work(thread=True, exclusive=True, group="lookup", exit_on_error=False)
    def run_lost_lookup(self, plate: str | None, reason: str) -> None:
        """ExceptionOps.lost_ticket_code (a read; an unknown stay is recorded)."""
        app = self.app
        lane = app.exit_lane.code if getattr(app, "exit_lane", None) else None
        try:
            app.booth.service.parse_reason(reason)
            code, found = app.booth.service.lost_ticket_code(plate, actor=app.actor, lane=lane)
        except AttendantError as exc:
            self.post_message(LostTicketFailed(str(exc)))
            return
        self.post_message(LostTicketFound(code, reason, found))

    @on(LostTicketFound)
    def _lost_found(self, message: LostTicketFound) -> None:
        from attendant.tui.widgets.exit_form import ExitForm

        message.stop()
        self.query_one(ExitForm).start_lost(message.code, message.reason, message.found_by)

    @on(LostTicketFailed)
    def _lost_failed(self, message: LostTicketFailed) -> None:
        from attendant.tui.widgets.exit_form import ExitForm

        message.stop()
        self.query_one(ExitForm).show_error(message.error)
        self.notify(message.error, title="Lost ticket", severity="warning", timeout=6)

    # ------------------------------------------------------------ manual vend
    def note_exit_gate(self, message: ExitDone) -> None:
        """After an exit: remember a gate that refused, and say how to open it by hand."""
        outcome = message.outcome
        if outcome.gate == GateOutcome.FAULT and outcome.exit.vend_id is not None and outcome.exit.lane:
            self.faulted_vend = (outcome.exit.lane, outcome.exit.vend_id)
            self.notify(f"The gate of {outcome.exit.lane} did not open: F11 retries it or records it opened "
                        "by hand, with a reason.", title="Gate fault", severity="error", timeout=10)

    def action_manual_vend(self) -> None:
        """F11: open a lane's gate by hand with a reason (after a gate fault: retry that lane's)."""
        booth = self.app.booth
        lanes = [(lane.code, f"{lane.code}  {lane.name} ({lane.direction})") for lane in booth.config.lanes
                 if lane.gate is not None]
        if not lanes:
            self.notify("No lane of this console has a gate.", timeout=4)
            return
        fault = self.faulted_vend
        default_lane = fault[0] if fault else (self.app.exit_lane.code if getattr(self.app, "exit_lane", None)
                                                else lanes[0][0])
        context = (f"The gate of {fault[0]} refused after the last exit (vend {fault[1]}): retry it, or record "
                   "that it was opened by hand." if fault else "Every opening by hand is recorded with its reason.")

        def chosen(entry: ExceptionEntry | None) -> None:
            if entry and entry.lane:
                retry = fault[1] if fault and fault[0] == entry.lane else None
                self.run_manual_vend(entry.lane, entry.reason, retry, entry.mode != "hand")

        modes = [("retry", "Retry: command the gate again"),
                 ("hand", "Opened by hand: record it (the gate is not commanded)")] if fault else None
        self.app.push_screen(ExceptionDialog("Open a gate by hand", reason_codes(booth.service), context=context,
                                             default="GATE_FAULT" if fault else None, lanes=lanes,
                                             lane=default_lane, modes=modes), chosen)

    @work(thread=True, group="vend", exit_on_error=False)
    def run_manual_vend(self, lane: str, reason: str, retry_of: int | None, command: bool = True) -> None:
        """Booth.manual_vend (blocking: DB, then the gate unless it was opened by hand)."""
        try:
            done = self.app.booth.manual_vend(lane, reason, actor=self.app.actor, retry_of=retry_of,
                                              command=command)
        except AttendantError as exc:
            self.post_message(VendDone(str(exc), False))
            return
        if done.gate == GateOutcome.OPENED:
            self.faulted_vend = None
            how = "recorded as opened by hand" if not command else "opened"
            self.post_message(VendDone(f"Gate {done.lane} {how} ({done.reason}), vend {done.vend_id}", True))
        else:
            self.post_message(VendDone(f"Gate {done.lane} did not open ({done.gate}: {done.message or 'refused'}); "
                                       f"vend {done.vend_id} recorded as a fault", False))

    @on(VendDone)
    def _vend_done(self, message: VendDone) -> None:
        message.stop()
        self.notify(message.text, title="Manual vend", severity="information" if message.ok else "error",
                    timeout=6)
        refresh = getattr(self, "refresh_lanes", None)
        if refresh is not None:
            refresh()
