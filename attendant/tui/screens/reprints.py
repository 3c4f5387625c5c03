"""Reprints at the main screen: the last ticket, a ticket by number, the tickets queued while a printer failed.

A mixin of :class:`attendant.tui.screens.main.MainScreen` (keys ``ctrl+r``,
``ctrl+t``, ``ctrl+o``). The print jobs run in the ``print`` worker group, one
at a time; a reprint carries the same signed code, so it closes the same
single session, and a ticket that waited in the lane's queue
(:attr:`attendant.booth.Booth.reprint_queue`) leaves it once printed.
"""

from __future__ import annotations

from textual import on, work
from textual.screen import Screen

from attendant.core.errors import AttendantError
from attendant.tui.console_app import ConsoleApp
from attendant.tui.messages import ReprintDone
from attendant.tui.widgets.device_dialogs import TicketNumberDialog


class ReprintActions(Screen):
    """Reprint actions and workers (see the module docstring); mixed into the main screen.

    A :class:`~textual.screen.Screen` subclass so Textual registers its ``@on`` handlers
    (it collects them class by class).
    """

    app: ConsoleApp

    printing = False  # a reprint job is running (one at a time)
    last_ticket: str | None = None  # ticket number of the last entry at this console

    def action_reprint_last(self) -> None:
        """ctrl+r: reprint the last ticket issued at this console."""
        if self.last_ticket is None:
            self.notify("No ticket issued here yet: ctrl+t reprints a ticket by its number.", timeout=4)
            return
        self._start_reprint(self.last_ticket)

    def action_reprint_number(self) -> None:
        """ctrl+t: reprint a ticket by its number (a dialog asks for it)."""
        lane = self.app.lane_title(self.app.entry_lane)

        def chosen(number: str | None) -> None:
            if number:
                self._start_reprint(number)

        self.app.push_screen(TicketNumberDialog(hint=f"prints on the printer of {lane}"), chosen)

    def _start_reprint(self, ticket_no: str) -> None:
        if self.printing:
            self.notify("A print job is still running: try again in a moment.", timeout=3)
            return
        self.printing = True
        self.run_reprint(ticket_no)

    @work(thread=True, group="print", exit_on_error=False)
    def run_reprint(self, ticket_no: str) -> None:
        """Booth.reprint on the entry lane's printer (blocking: DB read, print job).

        A ticket that was waiting in the lane's reprint queue leaves it once printed.
        """
        app = self.app
        lane = app.entry_lane.code if app.entry_lane else None
        try:
            entry = app.service.ticket(ticket_no)
            error = app.booth.reprint(entry.ticket_no, lane=lane, actor=app.actor)  # leaves the reprint queue once printed
        except AttendantError as exc:
            self.post_message(ReprintDone(str(ticket_no), 0, str(exc), lane=lane))
            return
        printout = app.printout_text(app.entry_lane) if error is None else ""
        self.post_message(ReprintDone(entry.ticket_no, 0 if error else 1, error, printout, lane))

    def action_print_queued(self) -> None:
        """ctrl+o: print the tickets queued while the entry lane's printer failed."""
        lane = self.app.entry_lane
        if lane is None:
            self.notify("No entry lane configured.", timeout=3)
            return
        waiting = len(self.app.booth.reprint_queue.get(lane.code) or ())
        others = {code: len(q) for code, q in self.app.booth.reprint_queue.items() if q and code != lane.code}
        if not waiting:
            extra = "; " + ", ".join(f"{c}: {n}" for c, n in others.items()) + " (ctrl+l switches lane)" if others else ""
            self.notify(f"No tickets waiting for a reprint at {lane.code}{extra}.", timeout=4)
            return
        if self.printing:
            self.notify("A print job is still running: try again in a moment.", timeout=3)
            return
        self.printing = True
        self.run_print_queued(lane.code)

    @work(thread=True, group="print", exit_on_error=False)
    def run_print_queued(self, lane: str) -> None:
        """Booth.retry_reprints: the queued tickets, oldest first, until one fails (blocking)."""
        app = self.app
        printed, error = app.booth.retry_reprints(lane, actor=app.actor)
        printout = app.printout_text(app.booth.lanes.get(lane)) if printed else ""
        self.post_message(ReprintDone(None, printed, error, printout, lane))

    @on(ReprintDone)
    def _reprint_done(self, message: ReprintDone) -> None:
        self.printing = False
        if message.printout:
            title = f"Ticket {message.ticket_no} (reprint)" if message.ticket_no else "Reprinted ticket"
            self.last_printout = (title, message.printout)
        left = len(self.app.booth.reprint_queue.get(message.lane or "") or ())
        if message.ticket_no is not None:
            if message.error:
                self.notify(f"Ticket {message.ticket_no} not reprinted: {message.error}", title="Reprint",
                            severity="error", timeout=8)
            else:
                self.notify(f"Ticket {message.ticket_no} reprinted (F10 shows it)", title="Reprint", timeout=4)
        else:
            text = f"{message.printed} queued ticket{'s' if message.printed != 1 else ''} printed"
            if message.error:
                self.notify(f"{text}; {left} still waiting: {message.error}", title="Reprint", severity="error",
                            timeout=8)
            else:
                self.notify(f"{text} (F10 shows the last)", title="Reprint", timeout=4)
        self._show_entry_printer()
        self.refresh_lanes()
        self.app.device_hub.poll_soon()
