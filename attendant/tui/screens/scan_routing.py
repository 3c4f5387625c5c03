"""Scanned codes at the main screen: routed to the exit form, wherever the focus is.

A mixin of :class:`attendant.tui.screens.main.MainScreen`. Codes arrive from a
lane's serial scanner (:class:`LaneCodeScanned`, from the device hub) or as a
keyboard-wedge burst the screen collects when no text field has the focus
(:class:`WedgeScanned`, or :meth:`ScanRouting.on_key` here, so a burst's
digits never jump levels or pick a class). The booth says what a code is
(``identify``: an HMAC check, no I/O): a ticket loads the exit form, a
validation or a pass goes to the exit form (:class:`ValidationScanned`,
:class:`PassScanned`), with fallbacks here when the form does not take them;
a reservation's code checks its vehicle in at the entry lane; anything else
is refused on screen.
"""

from __future__ import annotations

from textual import events, on, work
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from attendant.core.errors import AttendantError
from attendant.core.money import format_money
from attendant.core.tickets import looks_like_reservation_code
from attendant.tui.console_app import ConsoleApp
from attendant.tui.messages import (
    LaneCodeScanned,
    PassScanned,
    ScanActionFailed,
    ValidationApplied,
    ValidationScanned,
    WedgeScanned,
)
from attendant.tui.widgets import money_flow
from attendant.tui.widgets.exit_form import ExitForm

WEDGE_GAP_SECONDS = 1.0  # a keyboard-wedge burst collected on the screen is dropped after this pause


class ScanRouting(Screen):
    """Scanned codes to the exit form (see the module docstring); mixed into the main screen.

    A :class:`~textual.screen.Screen` subclass so Textual registers its ``@on`` handlers
    (it collects them class by class).
    """

    app: ConsoleApp

    _wedge: list[str] | None = None  # a keyboard-wedge burst collected on the screen
    _wedge_timer: Timer | None = None

    @on(LaneCodeScanned)
    def _lane_code_scanned(self, message: LaneCodeScanned) -> None:
        app = self.app
        if app.exit_lane is not None and message.lane == app.exit_lane.code:
            self.route_scan(message.code, message.lane)
            return
        lane = app.booth.lanes.get(message.lane)
        if lane is not None and lane.direction == "exit":
            note = f"{message.lane} runs automatically: scans there are not taken at this console"
        else:
            note = "codes are taken at the exit lane"
        self.notify(f"{message.lane} scanner read {message.code[:24]}: {note}", title="Scan", timeout=5)

    @on(WedgeScanned)
    def _wedge_scanned(self, message: WedgeScanned) -> None:
        message.stop()
        self.route_scan(message.code, self.app.exit_lane.code if self.app.exit_lane else None)

    def route_scan(self, code: str, lane: str | None) -> None:
        """A code scanned at the exit lane: ``service.identify`` says what it is
        (an HMAC check, no I/O). A ticket loads the exit form; a validation or a
        pass is posted to the exit form; anything else is refused on screen."""
        form = self.query_one(ExitForm)
        code = code.strip()
        if looks_like_reservation_code(code):  # a reservation's QR: checked in at the entry lane
            self.run_reservation_entry(code)  # type: ignore[attr-defined] - MainScreen's worker
            return
        try:
            kind = self.app.service.identify(code)
        except AttendantError as exc:
            form.show_error(f"scanned {code[:40]!r} is not a ticket, pass or validation: {exc}")
            self.notify(f"Not a ticket, pass or validation: {exc}", title="Scan", severity="warning", timeout=6)
            return
        ticket = form.checkout.code if form.checkout is not None else None
        if kind == "ticket":
            if form.busy:
                self.notify(f"Ticket scanned while the exit form is busy: scan it again in a moment ({code[:20]}…)",
                            title="Scan", severity="warning", timeout=6)
                return
            form.fill(code)
        elif kind == "validation":
            form.post_message(ValidationScanned(code.upper(), lane, ticket))
        else:
            form.post_message(PassScanned(code.upper(), lane, ticket))

    @on(ValidationScanned)
    def _validation_scanned(self, message: ValidationScanned) -> None:
        """Fallback when the exit form does not take scanned validations."""
        message.stop()
        if message.ticket_code is None:
            self.query_one(ExitForm).show_error(f"validation {message.code}: scan the ticket first, then the validation")
            return
        self.run_validation(message.ticket_code, message.code)

    @work(thread=True, exclusive=True, group="validation", exit_on_error=False)
    def run_validation(self, ticket_code: str, validation_code: str) -> None:
        """The validation applied at the booth (the vehicle stays until paid): one transaction."""
        result = money_flow.apply_validation(self.app.booth, ticket_code, validation_code, actor=self.app.actor)
        if isinstance(result, money_flow.Failed):
            self.post_message(ScanActionFailed(validation_code, result.message))
            return
        self.post_message(ValidationApplied(validation_code, result.payment.amount, result.loaded))

    @on(ValidationApplied)
    def _validation_applied(self, message: ValidationApplied) -> None:
        fee = message.checkout.fee
        self.notify(f"Validation {message.code}: {format_money(message.amount_off, fee.currency)} off",
                    title="Validation", timeout=5)
        self.query_one(ExitForm).fill(message.checkout.code)  # the form shows the new balance

    @on(ScanActionFailed)
    def _scan_action_failed(self, message: ScanActionFailed) -> None:
        self.query_one(ExitForm).show_error(f"{message.code}: {message.error}")
        self.notify(message.error, title=message.code, severity="error", timeout=6)

    @on(PassScanned)
    def _pass_scanned(self, message: PassScanned) -> None:
        """Fallback when the exit form does not take scanned passes: tell the attendant."""
        message.stop()
        if message.ticket_code is None:
            self.query_one(ExitForm).show_error(
                f"pass {message.code}: scan the vehicle's ticket (or F6: find it by plate) first"
            )
            return
        self.notify(f"Pass {message.code}: take the payment by pass with this code as its reference",
                    title="Pass", timeout=8)

    # ------------------------------------------------------ keyboard wedge
    def on_key(self, event: events.Key) -> None:
        """Collect a scan that reached the screen unconsumed (see the module docstring)."""
        if self._wedge is not None:
            if event.key == "enter":
                event.stop()
                event.prevent_default()
                code, self._wedge = "".join(self._wedge), None
                self.route_scan(code, self.app.exit_lane.code if self.app.exit_lane else None)
            elif event.is_printable and event.character:
                event.stop()
                event.prevent_default()
                self._wedge.append(event.character)
                if self._wedge_timer is not None:
                    self._wedge_timer.reset()
            else:
                self._wedge = None
            return
        if event.character and event.character.isalpha() and not isinstance(self.focused, Input):
            event.stop()
            event.prevent_default()
            self._wedge = [event.character]
            if self._wedge_timer is None:
                self._wedge_timer = self.set_timer(WEDGE_GAP_SECONDS, self._wedge_timeout)
            else:
                self._wedge_timer.reset()

    def _wedge_timeout(self) -> None:
        self._wedge_timer = None
        self._wedge = None  # not a scan (a stray letter): dropped
