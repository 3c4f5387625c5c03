"""The shift screens: the logged-in user's shift and the office actions, and the count-up.

:class:`ShiftScreen` (``ctrl+s`` from anywhere once logged in) shows who is
logged in and the shift's figures so far (``ShiftReport.lines()``), and
offers, each on a key in the command palette and in F1's help, and in the
footer as far as the terminal's width allows (short labels, the office keys
first, then ``f1 Help``: ``FOOTER_FITS``):

- ``o`` open a shift with a float, ``d`` a cash drop (amount + note),
  ``c`` close with the count-up (:class:`CountUpScreen`), ``p`` print the
  report (``Booth.print_text``), ``i`` settle a plate's IOUs (the prepay
  the entry lane asks for after the third IOU);
- supervisors only: ``r`` refund a payment, ``v`` create a validation,
  ``x`` close another user's shift, ``b`` take a bay out of service or put
  it back, ``u`` unlock a user locked out by wrong PINs;
- ``l`` the lists a booth needs: vehicles inside and recent transactions,
  searchable, with lookup and reprint (:mod:`attendant.tui.screens.lists`). These are hidden from attendants; the
  services refuse them anyway (:class:`~attendant.core.auth.PermissionDenied`),
  and a forced attempt shows that refusal.

:class:`CountUpScreen` takes the count of the drawer by denomination (a grid
from ``shifts.denominations``) and the counted totals of the other methods
(the card terminal's batch total, say: typed, never pre-filled with the
expected amount), and closes the shift on ``ctrl+s`` after a confirmation
(``shifts.close_shift``; refused while a payment is pending), prints the
report and shows it. The facility's count-up policy
(:class:`~attendant.core.shifts.CountPolicy`, issue 12 item 6) decides:

- *blind* (the default): the expected amounts and the over/short stay hidden
  while counting; ``ctrl+s`` first enters the count (after a confirmation:
  the fields then lock), which reveals expected against counted;
- *open*: expected against counted and the over/short are shown as the
  attendant types;
- either way, an over/short on one method above the facility's threshold
  shows a reason field, and the close waits for a reason (the service
  refuses without one too).

Drawer cash and the non-cash takings are totalled apart. Supervisors also
get ``u`` on the shift screen: unlock a user locked out by wrong PINs
(:func:`attendant.core.users.unlock_user`, audited).

Blocking work (database, printer) runs in thread workers of group ``shift``
that touch no widget and post :class:`TaskDone` / :class:`TaskFailed`; money
is integer minor units; times come from the console clock (UTC, shown in
facility time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from attendant.core.errors import AttendantError, InputError
from attendant.core.money import format_money, tendered_needs_confirmation
from attendant.core.payment_methods import label as method_label
from attendant.core.payment_methods import spec as method_spec
from attendant.core.shifts import REASON_MAX, CountPolicy, ShiftReport, ShiftView
from attendant.core.vocab import PaymentMethod
from attendant.tui.console_app import ConsoleApp
from attendant.tui.dialogs import (
    BayServiceDialog,
    BayServiceRequest,
    ConfirmDialog,
    MoneyDialog,
    MoneyEntry,
    NewValidationDialog,
    PrintoutDialog,
    RefundDialog,
    RefundRequest,
    SettleIousDialog,
    SettleRequest,
    ShiftNumberDialog,
    ValidationRequest,
)
from attendant.tui.staff_dialogs import UnlockUserDialog
from attendant.tui.widgets.footer import ConsoleFooter
from attendant.tui.widgets.money_fields import CountInput, MoneyInput
from attendant.tui.widgets.shift_count import (
    CashCountGrid,
    OverShortTable,
    counted_methods,
    over_short_word,
)

log = logging.getLogger(__name__)

REPORT_WIDTH = 56  # characters of the on-screen report (the printer gets 42)


# ----------------------------------------------------------------- messages
class TaskDone(Message):
    """A shift/office task finished: ``text`` to show; ``report`` to show and print, if any."""

    def __init__(self, title: str, text: str, report: ShiftReport | None = None, printed: str | None = None
                 ) -> None:
        super().__init__()
        self.title = title
        self.text = text
        self.report = report
        self.printed = printed  # None: printed; else why not


class TaskFailed(Message):
    """A task was refused or failed (PermissionDenied, Refused, InputError, NotFound...): nothing changed."""

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title = title
        self.error = error


class ShiftLoaded(Message):
    """The user's open shift (or None) and the report to show (open: figures so far; else the last one)."""

    def __init__(self, shift: ShiftView | None, report: ShiftReport | None, blind: bool = False) -> None:
        super().__init__()
        self.shift = shift
        self.report = report
        self.blind = blind


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a task returns to the UI thread."""

    text: str
    report: ShiftReport | None = None
    printed: str | None = None


class TaskRunner:
    """Mixin for screens: run ``fn`` in a named thread worker (group ``shift``) and post the outcome."""

    busy: bool = False

    def run_task(self, title: str, fn: Callable[[], Outcome]) -> None:
        self.busy = True
        self.run_worker(  # type: ignore[attr-defined]
            partial(self._task_body, title, fn), name=title, group="shift", thread=True, exclusive=True,
            exit_on_error=False,
        )

    def _task_body(self, title: str, fn: Callable[[], Outcome]) -> None:
        try:
            outcome = fn()
        except AttendantError as exc:
            self.post_message(TaskFailed(title, str(exc)))  # type: ignore[attr-defined]
            return
        self.post_message(TaskDone(title, outcome.text, outcome.report, outcome.printed))  # type: ignore[attr-defined]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Unexpected worker failures of this screen land here: log and tell."""
        if event.state is not WorkerState.ERROR:
            return
        self.busy = False
        error = event.worker.error
        log.error("worker %s failed", event.worker.name, exc_info=error)
        self.notify(f"{type(error).__name__}: {error}", title=f"{event.worker.name} failed",  # type: ignore[attr-defined]
                    severity="error", timeout=10)


def _print_report(app: ConsoleApp, report: ShiftReport, *, blind: bool = False) -> str | None:
    """Print ``report`` on the booth's printer (the exit lane's, else the first); None when printed.
    ``blind``: an open shift's expected amounts are left out (blind count-up)."""
    return app.booth.print_text(report.lines(blind=blind), lane=app.exit_lane.code if app.exit_lane else None)


def report_text(report: ShiftReport | None, width: int = REPORT_WIDTH, *, blind: bool = False) -> str:
    """The report's lines; ``blind`` hides an open shift's expected amounts (blind count-up)."""
    return "\n".join(report.lines(width, blind=blind)) if report is not None else ""


class RefundChoices(Message):
    """The payments a supervisor may refund, for the refund dialog's pick list."""

    def __init__(self, choices: list) -> None:
        super().__init__()
        self.choices = choices


class LockedUsers(Message):
    """The users locked out now, for the unlock dialog's pick list."""

    def __init__(self, choices: list) -> None:
        super().__init__()
        self.choices = choices


class CountRecorded(Message):
    """A blind count was entered and audited (``shift.count_entered``): the count-up may show the figures."""


class OpenShiftChoices(Message):
    """Other users' open shifts, for the close-another-shift dialog's pick list."""

    def __init__(self, choices: list) -> None:
        super().__init__()
        self.choices = choices


# ------------------------------------------------------------ shift screen
class ShiftScreen(TaskRunner, Screen):
    """The logged-in user's shift and the office actions (see the module docstring)."""

    BINDINGS = [
        Binding("escape", "back", "Lanes"),
        Binding("o", "open_shift", "Open shift"),
        Binding("d", "drop", "Cash drop"),
        Binding("c", "close_shift", "Close & count"),
        Binding("p", "print_report", "Print report"),
        Binding("i", "settle_ious", "Settle IOUs"),
        Binding("l", "lists", "Lists"),
        Binding("r", "refund", "Refund"),
        Binding("v", "new_validation", "New validation"),
        Binding("x", "close_other", "Close other shift"),
        Binding("b", "bay_service", "Bay out/in"),
        Binding("u", "unlock_user", "Unlock user"),
    ]
    # The footer shows the keys that fit whole, in this order, with these short labels, then "f1 Help";
    # F1 lists every key with its full description (attendant/tui/widgets/footer.py).
    FOOTER_FITS = True
    FOOTER_LABELS: ClassVar[dict[str, str]] = {
        "back": "Lanes", "open_shift": "Open", "drop": "Drop", "close_shift": "Close", "print_report": "Print",
        "settle_ious": "IOUs", "lists": "Lists", "refund": "Refund", "new_validation": "Validation",
        "close_other": "Close other", "bay_service": "Bays", "unlock_user": "Unlock",
        "quit": "Quit", "cycle_theme": "Theme", "logout": "Log out", "reports": "Reports",
    }

    SUPERVISOR_ACTIONS = ("refund", "new_validation", "close_other", "bay_service", "unlock_user")

    DEFAULT_CSS = """
    ShiftScreen #shift-body { height: 1fr; padding: 0 1; }
    ShiftScreen #shift-who { height: auto; margin: 1 0 0 0; }
    ShiftScreen #shift-report-box {
        width: 62; height: 1fr; margin-top: 1; padding: 0 1; border: round $border-blurred; background: $surface;
    }
    ShiftScreen #shift-report-box:focus { border: round $border; }
    ShiftScreen #shift-report { width: 100%; }
    ShiftScreen #shift-result { height: auto; min-height: 2; margin-top: 1; }
    """

    app: ConsoleApp

    def __init__(self) -> None:
        super().__init__(id="shift")
        self.report: ShiftReport | None = None
        self.blind = False  # the facility's blind count-up: an open shift's expected amounts are not shown

    def compose(self) -> ComposeResult:
        with Vertical(id="shift-body"):
            yield Static("", id="shift-who")
            with VerticalScroll(id="shift-report-box"):
                yield Static("", id="shift-report")
            yield Static("", id="shift-result", classes="result")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#shift-report-box").border_title = "Shift report"

    def on_screen_resume(self) -> None:
        """Shown (pushed, or back from the count-up): read the shift afresh."""
        self.load()

    # --------------------------------------------------------------- state
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.app
        if action in self.SUPERVISOR_ACTIONS:
            return app.is_supervisor
        if action == "open_shift":
            return app.user is not None and app.shift is None
        if action in ("drop", "close_shift"):
            return app.shift is not None
        if action == "print_report":
            return self.report is not None
        if action in ("settle_ious", "lists"):
            return app.logged_in
        return True

    def load(self) -> None:
        """Read the user's open shift and the report to show (worker ``shift-load``)."""
        user = self.app.user
        if user is None:
            self._show_who(None)
            return
        self.run_worker(partial(self._load_body, user), name="shift-load", group="shift-load",
                        thread=True, exclusive=True, exit_on_error=False)

    def _load_body(self, user) -> None:
        desk = self.app.booth.shifts
        shift = desk.current(user)
        shift_id = shift.id if shift else desk.last_id(user)
        report = desk.report(shift_id) if shift_id else None
        self.post_message(ShiftLoaded(shift, report, desk.policy().blind))

    @on(ShiftLoaded)
    def _loaded(self, message: ShiftLoaded) -> None:
        self.report = message.report
        self.blind = message.blind
        self.app.set_shift(message.shift)
        self._show_who(message.report)
        self.refresh_bindings()

    def _show_who(self, report: ShiftReport | None) -> None:
        app = self.app
        shift = app.shift
        parts: list = [(app.actor_label, "b"), "  ·  ", app.service.facility.name, "\n"]
        if app.user is None:
            parts.append(("Not logged in as a user (setup mode): shifts need a login.", "$warn b"))
        elif shift is None:
            parts += [("No shift open. ", "$warn b"), "Press ", ("o", "$accent b"),
                      " to open one with a float: payments are refused until then."]
        else:
            opened = app.service.local(shift.opened_at).strftime("%a %d %b %H:%M")
            parts += [(f"Shift #{shift.id} open", "$ok b"), f" since {opened}  float ",
                      (format_money(shift.float_amount, shift.currency), "$money b")]
        if report is not None and (shift is None or report.shift_id != shift.id):
            parts.append(("\nThe report below is your last shift's.", "$muted"))
        self.query_one("#shift-who", Static).update(Content.assemble(*parts))
        self.query_one("#shift-report", Static).update(
            Content(report_text(report, blind=self.blind)) if report is not None
            else Content.from_markup("[$muted](no shift yet)[/]")
        )

    def _say(self, content: Content) -> None:
        self.query_one("#shift-result", Static).update(content)

    # -------------------------------------------------------------- results
    @on(TaskDone)
    def _done(self, message: TaskDone) -> None:
        self.busy = False
        self._say(Content.assemble(("✓ ", "$ok b"), (message.text, "b")))
        self.notify(message.text, title=message.title, timeout=5)
        if message.report is not None:
            printed = "printed ✓" if message.printed is None else f"NOT PRINTED ✗ {message.printed}"
            self.app.push_screen(
                PrintoutDialog(f"Shift report #{message.report.shift_id} · {printed}",
                               report_text(message.report, 42, blind=self.blind))
            )
        self.load()

    @on(TaskFailed)
    def _failed(self, message: TaskFailed) -> None:
        self.busy = False
        self._say(Content.assemble(("✗ ", "$fault b"), (message.error, "$fault")))
        self.notify(message.error, title=f"{message.title}: refused", severity="error", timeout=8)

    # --------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.dismiss(None)

    def action_open_shift(self) -> None:
        app = self.app
        service = app.service
        cur = service.facility.currency

        def opened(entry: MoneyEntry | None) -> None:
            if entry is None:
                return
            actor = app.actor

            def task() -> Outcome:
                view = app.booth.shifts.open(actor, entry.amount)
                return Outcome(f"Shift #{view.id} open with a float of {format_money(view.float_amount, cur)}")

            self.run_task("Open shift", task)

        app.push_screen(MoneyDialog("Open a shift", cur, label="Float", allow_zero=True,
                                    context="Count the float into the drawer and type it."), opened)

    def action_drop(self) -> None:
        app = self.app
        service = app.service
        cur = service.facility.currency

        def dropped(entry: MoneyEntry | None) -> None:
            if entry is None:
                return
            actor = app.actor

            def task() -> Outcome:
                move = app.booth.shifts.move(actor, "drop", entry.amount, entry.note)
                return Outcome(f"Drop of {format_money(move.amount, cur)} recorded; the drawer should hold "
                               f"{format_money(move.drawer, cur)}")

            self.run_task("Cash drop", task)

        app.push_screen(MoneyDialog("Cash drop to the safe", cur, note=True), dropped)

    def action_close_shift(self) -> None:
        """Count up and close the user's own open shift."""
        self._count_up(None)

    def action_close_other(self) -> None:
        """Supervisors: count up and close another user's shift (refused for attendants by the service)."""

        desk = self.app.booth.shifts
        own = self.app.shift.id if self.app.shift else None

        def others() -> list:
            return [s for s in desk.open_shifts() if s.id != own]

        self._load_choices("open shifts", others, OpenShiftChoices)

    @on(OpenShiftChoices)
    def _open_shift_choices(self, message: OpenShiftChoices) -> None:
        message.stop()

        def chosen(shift_id: int | None) -> None:
            if shift_id is not None:
                self._count_up(shift_id)

        self.app.push_screen(ShiftNumberDialog(message.choices, self.app.service.tz), chosen)

    def _count_up(self, shift_id: int | None) -> None:
        app = self.app
        actor = app.actor
        own = app.shift

        def task() -> Outcome:
            sid = shift_id if shift_id is not None else (own.id if own else None)
            if sid is None:
                raise AttendantError("no open shift to close")
            # Reading another user's report needs a supervisor: the service refuses attendants here.
            report = self.app.booth.shifts.report(sid, actor=actor)
            if report.is_closed:
                raise AttendantError(f"shift #{sid} is already closed")
            return Outcome("", report=report)

        self.run_worker(partial(self._count_up_body, task, shift_id is not None), name="Count up", group="shift",
                        thread=True, exclusive=True, exit_on_error=False)

    def _count_up_body(self, task: Callable[[], Outcome], other: bool) -> None:
        try:
            outcome = task()
            policy = self.app.booth.shifts.policy()
        except AttendantError as exc:
            self.post_message(TaskFailed("Close shift", str(exc)))
            return
        self.post_message(self.CountUpReady(outcome.report, other, policy))

    class CountUpReady(Message):
        def __init__(self, report: ShiftReport, other: bool, policy: CountPolicy) -> None:
            super().__init__()
            self.report = report
            self.other = other
            self.policy = policy

    @on(CountUpReady)
    def _count_up_ready(self, message: CountUpReady) -> None:
        self.app.push_screen(CountUpScreen(message.report, other=message.other, policy=message.policy))

    def action_print_report(self) -> None:
        report = self.report
        if report is None:
            return
        app = self.app
        actor = app.actor

        def task() -> Outcome:
            fresh = app.booth.shifts.report(report.shift_id, actor=actor)
            return Outcome(f"Report of shift #{fresh.shift_id}", report=fresh,
                           printed=_print_report(app, fresh, blind=blind))

        blind = self.blind

        self.run_task("Print report", task)

    def action_settle_ious(self) -> None:
        app = self.app
        service = app.service
        cur = service.facility.currency

        def chosen(request: SettleRequest | None, confirmed: bool = False) -> None:
            if request is None:
                return
            actor = app.actor
            lane = app.entry_lane.code if app.entry_lane else None
            if request.tendered is not None and not confirmed:  # far above the IOUs: the attendant confirms first
                try:
                    total = sum(i.amount for i in service.ious(request.plate))
                except AttendantError:
                    total = None  # the service says why when it runs
                why = tendered_needs_confirmation(request.tendered, total, cur) if total else None
                if why:
                    app.push_screen(ConfirmDialog("Tendered amount", why, "take it"),
                                    lambda yes: chosen(request, True) if yes else None)
                    return

            def task() -> Outcome:
                paid = service.settle_ious(request.plate, request.method, actor=actor, tendered=request.tendered,
                                           lane=lane, at=service.clock(), confirm_amount=confirmed)
                total = sum(p.amount for p in paid)
                change = paid[-1].change if paid and paid[-1].change else 0
                text = f"Settled {len(paid)} IOU(s) of {request.plate.upper()}: {format_money(total, cur)}"
                if change:
                    text += f", change {format_money(change, cur)}"
                return Outcome(text + ": the vehicle may enter")

            self.run_task("Settle IOUs", task)

        app.push_screen(SettleIousDialog(cur), chosen)

    def action_refund(self) -> None:
        """Supervisors: refund a payment. Not offered to attendants; the service refuses them (PermissionDenied)."""
        app = self.app
        service = app.service
        cur = service.facility.currency

        def chosen(request: RefundRequest | None) -> None:
            if request is None:
                return
            actor = app.actor

            def task() -> Outcome:
                view = service.refund(request.payment_id, actor=actor, reason=request.reason, amount=request.amount,
                                      at=service.clock())
                return Outcome(f"Refunded {format_money(-view.amount, cur)} of payment #{request.payment_id} "
                               f"({method_label(view.method)})")

            self.run_task("Refund", task)

        self._refund_chosen = chosen
        self._load_choices("refundable payments", service.refundable_payments, RefundChoices)

    def _load_choices(self, what: str, fetch: Callable[[], list], message: type[Message]) -> None:
        """Read a dialog's pick list in a worker (group ``shift-load``) and post ``message(choices)``.

        A failed read is logged and posts an empty list: the dialog still takes a typed number.
        """

        def body() -> None:
            try:
                choices = fetch()
            except Exception:  # noqa: BLE001 - see above
                logging.getLogger(__name__).exception("could not list the %s", what)
                choices = []
            self.post_message(message(choices))

        self.run_worker(body, name=what, group="shift-load", thread=True, exclusive=True, exit_on_error=False)

    @on(RefundChoices)
    def _refund_choices(self, message: RefundChoices) -> None:
        message.stop()
        service = self.app.service
        self.app.push_screen(RefundDialog(service.facility.currency, message.choices, service.tz),
                             self._refund_chosen)

    def action_new_validation(self) -> None:
        """Supervisors: create a merchant validation; the service refuses attendants (PermissionDenied)."""
        app = self.app
        service = app.service
        cur = service.facility.currency

        def chosen(request: ValidationRequest | None) -> None:
            if request is None:
                return
            actor = app.actor

            def task() -> Outcome:
                code = service.create_validation(actor=actor, merchant=request.merchant, kind=request.kind,
                                                 value=request.value)
                value = format_money(request.value, cur) if request.kind == "amount" else (
                    f"{request.value}%" if request.kind == "percent" else f"{request.value} min")
                return Outcome(f"Validation {code} created for {request.merchant}: {value} off")

            self.run_task("New validation", task)

        app.push_screen(NewValidationDialog(cur), chosen)


    def action_lists(self) -> None:
        """l: the vehicles inside and the recent transactions, searchable (:class:`ListsScreen`)."""
        from attendant.tui.screens.lists import ListsScreen

        self.app.push_screen(ListsScreen())

    def action_unlock_user(self) -> None:
        """Supervisors: unlock a user locked out by wrong PINs, every source (``users.unlock_user``, audited);
        the service refuses attendants (PermissionDenied)."""
        staff = self.app.booth.staff
        self._load_choices("locked users", staff.locked, LockedUsers)

    @on(LockedUsers)
    def _locked_users(self, message: LockedUsers) -> None:
        message.stop()
        app = self.app

        def chosen(username: str | None) -> None:
            if not username:
                return
            actor = app.actor

            def task() -> Outcome:
                user = app.booth.staff.unlock(actor, username)
                return Outcome(f"{user.username} is unlocked: they may log in again")

            self.run_task("Unlock user", task)

        app.push_screen(UnlockUserDialog(message.choices, app.service.tz), chosen)

    def action_bay_service(self) -> None:
        """Supervisors: take a bay out of service (a reason) or put it back; the map shows it at once."""
        app = self.app
        service = app.service

        def chosen(request: BayServiceRequest | None) -> None:
            if request is None:
                return
            actor = app.actor

            def task() -> Outcome:
                status = service.set_spot_in_service(request.label, request.in_service, actor=actor,
                                                     reason=request.reason, at=service.clock())
                return Outcome(f"Bay {request.label} is now {status.value.replace('_', ' ')}")

            self.run_task("Bay service", task)

        app.push_screen(BayServiceDialog(), chosen)


# --------------------------------------------------------------- count-up
class CountUpScreen(TaskRunner, Screen):
    """Close a shift with a count-up (see the module docstring)."""

    BINDINGS = [
        Binding("ctrl+s", "confirm", "Close shift"),
        Binding("escape", "cancel", "Back"),
    ]

    # below 120 columns the count grid and the table stack (the body scrolls; the focused field stays in view)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-count-narrow"), (120, "-count-wide")]

    DEFAULT_CSS = """
    CountUpScreen.-count-narrow #count-columns { layout: vertical; }
    CountUpScreen.-count-narrow #count-right { width: 100%; max-width: 72; padding-left: 0; }
    CountUpScreen #count-body { height: 1fr; padding: 0 1; }
    CountUpScreen #count-head { height: auto; margin: 1 0 0 0; }
    CountUpScreen #count-columns { height: auto; }
    CountUpScreen #count-cash { width: 44; height: auto; }
    CountUpScreen #count-right { width: 72; height: auto; padding-left: 2; }
    CountUpScreen #count-derivation { height: auto; margin-top: 1; }
    CountUpScreen #count-others { height: auto; margin-top: 1; }
    CountUpScreen .other-row { height: 1; }
    CountUpScreen .other-row Label { width: 12; color: $text-muted; text-style: bold; }
    CountUpScreen .other-row MoneyInput { width: 14; height: 1; border: none; padding: 0 1; background: $boost; }
    CountUpScreen .other-row MoneyInput:focus { background: $primary 25%; border: none; }
    CountUpScreen #count-reason-row { height: 1; margin-bottom: 1; display: none; }
    CountUpScreen #count-reason-row.needed { display: block; }
    CountUpScreen #count-reason-row Label { width: 12; color: $warning; text-style: bold; }
    CountUpScreen #count-result { height: auto; min-height: 1; }
    CountUpScreen #count-reason { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    CountUpScreen #count-reason:focus { background: $primary 25%; border: none; }
    """

    app: ConsoleApp

    def __init__(self, report: ShiftReport, *, other: bool = False, policy: CountPolicy | None = None) -> None:
        super().__init__(id="count-up")
        self.report = report
        self.other = other
        self.policy = policy or CountPolicy()
        self.currency = report.currency
        self.expected = dict(report.expected)
        self.closed: ShiftReport | None = None
        # blind count-up: the expected amounts stay hidden until the count is entered (then the fields lock)
        self.entered = not self.policy.blind

    def compose(self) -> ComposeResult:
        cur = self.currency
        with VerticalScroll(id="count-body"):
            yield Static("", id="count-head")
            # the result and the reason first: in view at any terminal size, whatever field has the focus
            yield Static("", id="count-result", classes="result")
            with Horizontal(id="count-reason-row"):
                yield Label("Reason")
                yield Input(placeholder="why the count is over or short (required)", id="count-reason",
                            max_length=REASON_MAX)
            with Horizontal(id="count-columns"):
                with Vertical(id="count-cash", classes="panel"):
                    yield CashCountGrid(cur, id="count-grid")
                with Vertical(id="count-right"):
                    with Vertical(id="count-table-box", classes="panel"):
                        yield OverShortTable(cur, self.expected, blind=not self.entered, id="count-table")
                        yield Static(self._derivation() if self.entered else self._blind_note(),
                                     id="count-derivation")
                    with Vertical(id="count-others", classes="panel"):
                        others = counted_methods(self.expected)
                        if not others:
                            yield Static(Content.from_markup("[$muted]no other payment methods in this shift[/]"))
                        for method in others:
                            with Horizontal(classes="other-row"):
                                yield Label(method_label(method))
                                yield MoneyInput(cur, id=f"other-{method}", placeholder="batch total")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self._show_head()
        self.query_one("#count-cash").border_title = "Cash in the drawer"
        self.query_one("#count-table-box").border_title = "Expected vs counted"
        self.query_one("#count-others").border_title = "Other methods counted"
        first = self.query_one(CashCountGrid).fields[0]
        first.focus()

    def _show_head(self) -> None:
        r = self.report
        opened = r.local(r.opened_at).strftime("%a %d %b %H:%M")
        who = f"{r.display_name} ({r.username})" if r.display_name != r.username else r.username
        self.query_one("#count-head", Static).update(
            Content.assemble(
                (f"Close shift #{r.shift_id}", "b"), f"  ·  {who}  ·  opened {opened}  ·  float ",
                (format_money(r.float_amount, self.currency), "$money b"),
                "\nCount the drawer by denomination (", ("↑↓", "$accent b"), "/", ("Enter", "$accent b"),
                " move), then the other methods' counted totals (card terminal batch). ", ("ctrl+s", "$accent b"),
                " enters the count" if not self.entered else " closes the shift",
            )
        )

    def _blind_note(self) -> Content:
        return Content.from_markup(
            "[$muted]Blind count-up: the expected amounts are shown once the count is entered "
            "(ctrl+s); the count cannot be changed after that.[/]"
        )

    def _derivation(self) -> Content:
        """How the expected cash is made up: float + cash takings - drops (+ paid in - paid out)."""
        r, cur = self.report, self.currency
        parts: list = ["cash expected = float ", (format_money(r.float_amount, cur), "$money"),
                       " + takings ", (format_money(r.cash_takings, cur), "$money"),
                       " − drops ", (format_money(r.drops, cur), "$money")]
        if r.paid_in or r.paid_out:
            parts += [" + paid in ", (format_money(r.paid_in, cur), "$money"),
                      " − paid out ", (format_money(r.paid_out, cur), "$money")]
        return Content.assemble(*[(p, "$muted") if isinstance(p, str) else p for p in parts])

    # ---------------------------------------------------------------- values
    def counted_other(self, *, required: bool = True) -> dict[str, int | None]:
        """Counted totals of the non-cash methods (minor units). Raises InputError for a malformed amount and,
        when ``required``, for one not typed (never taken as the expected amount: issue 12 item 6)."""
        counted: dict[str, int | None] = {}
        for method in counted_methods(self.expected):
            amount = self.query_one(f"#other-{method}", MoneyInput).amount()
            if amount is None and required:
                raise InputError(f"type the counted {method_label(method)} total (the terminal's batch total; "
                                 f"0.00 if none)")
            counted[method] = amount
        return counted

    def _refresh_table(self) -> None:
        table = self.query_one(OverShortTable)
        counted: dict[str, int | None] = {PaymentMethod.CASH.value: self.query_one(CashCountGrid).total()}
        try:
            counted |= self.counted_other(required=False)
        except AttendantError:
            pass
        table.set_counted(counted)
        if self.entered:
            self._show_reason(self.policy.needs_reason(table.over_short()))

    def _show_reason(self, needed: bool) -> None:
        self.query_one("#count-reason-row").set_class(needed, "needed")

    @property
    def reason(self) -> str:
        return " ".join(self.query_one("#count-reason", Input).value.split())

    @on(CashCountGrid.Changed)
    def _cash_changed(self, _message: CashCountGrid.Changed) -> None:
        if self.is_mounted:
            self._refresh_table()

    @on(Input.Changed, ".other-row MoneyInput")
    def _other_changed(self, _message: Input.Changed) -> None:
        self._refresh_table()

    @on(CashCountGrid.Done)
    def _grid_done(self, _message: CashCountGrid.Done) -> None:
        others = list(self.query(".other-row MoneyInput"))
        if others:
            others[0].focus()
        else:
            self.action_confirm()

    @on(Input.Submitted, "#count-reason")
    def _reason_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    @on(Input.Submitted, ".other-row MoneyInput")
    def _other_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        others = list(self.query(".other-row MoneyInput"))
        index = others.index(event.input) if event.input in others else -1
        if 0 <= index < len(others) - 1:
            others[index + 1].focus()
        else:
            self.action_confirm()

    # --------------------------------------------------------------- actions
    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    def _say(self, content: Content) -> None:
        self.query_one("#count-result", Static).update(content)

    def action_confirm(self) -> None:
        """Blind and not entered yet: enter the count (confirmed; the fields lock, expected is shown).
        Then: a reason if the over/short needs one; confirm (expected vs counted, over/short); close."""
        if self.busy or self.closed is not None:
            return
        cur = self.currency
        try:
            other = self.counted_other()
        except AttendantError as exc:
            self._say(Content.assemble(("✗ ", "$fault b"), (str(exc), "$fault")))
            return
        count = self.query_one(CashCountGrid).count()
        cash = sum(d * n for d, n in count.items())
        if not self.entered:
            self._enter_count(cash, other)
            return
        over = {m: (cash if m == PaymentMethod.CASH.value else other.get(m, e)) - e for m, e in self.expected.items()}
        if self.policy.needs_reason(over) and not self.reason:
            worst = self.policy.worst(over)
            self._show_reason(True)
            self.query_one("#count-reason", Input).focus()
            self._say(Content.assemble(
                ("✗ ", "$fault b"),
                (f"{'over' if worst > 0 else 'short'} by {format_money(abs(worst), cur)}, more than "
                 + f"{format_money(self.policy.reason_above, cur)}: type a reason, then ctrl+s", "$fault")))
            return
        cash_word, cash_style = over_short_word(cash - self.expected.get("cash", 0), cur)
        parts: list = [
            f"Close shift #{self.report.shift_id} of {self.report.username}?\n\n",
            f"{'Drawer cash':<16}", (f"{format_money(cash, cur):>12}", "$money b"),
            f"  expected {format_money(self.expected.get('cash', 0), cur)}  ", (cash_word, cash_style), "\n",
        ]
        non_cash = [m for m in self.expected if m != PaymentMethod.CASH.value and method_spec(m).takes_money]
        if non_cash:  # card and the other electronic takings: totalled apart from the drawer, never mixed in
            expected_other = sum(self.expected[m] for m in non_cash)
            counted_other = sum(other.get(m, self.expected[m]) for m in non_cash)
            word, style = over_short_word(counted_other - expected_other, cur)
            parts += [f"{'Non-cash':<16}", (f"{format_money(counted_other, cur):>12}", "$money b"),
                      f"  expected {format_money(expected_other, cur)}  ", (word, style), "\n"]
        parts.append("\nThe report is printed and shown. A closed shift cannot be reopened.")
        text = Content.assemble(*parts)

        reason = self.reason or None
        if reason:
            text = Content.assemble(text, "\n\nReason: ", (reason, "b"))

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._close(count, other, reason)

        self.app.push_screen(ConfirmDialog("Close the shift", text, "close the shift"), confirmed)

    def _enter_count(self, cash: int, other: dict[str, int]) -> None:
        """Blind count-up: confirm the count as final, lock the fields and show expected against counted."""
        cur = self.currency
        parts: list = ["Enter this count?\n\n", f"{'Cash counted':<16}", (f"{format_money(cash, cur):>12}", "$money b")]
        for method, amount in other.items():
            parts += ["\n", f"{method_label(method) + ' counted':<16}", (f"{format_money(amount, cur):>12}", "$money b")]
        parts.append("\n\nThe expected amounts are shown next; the count cannot be changed after that.")

        count = self.query_one(CashCountGrid).count()
        app = self.app
        actor = app.actor
        shift_id = self.report.shift_id

        def entered(yes: bool | None) -> None:
            if not yes:
                return
            self.busy = True

            def body() -> None:  # on record first (audit), so a recount after seeing the figures shows
                try:
                    app.booth.shifts.count_entered(actor, shift_id, cash_count=count, counted_other=other)
                except AttendantError as exc:
                    self.post_message(TaskFailed("Enter the count", str(exc)))
                    return
                self.post_message(CountRecorded())

            self.run_worker(body, name="Enter the count", group="shift", thread=True, exclusive=True,
                            exit_on_error=False)

        self.app.push_screen(ConfirmDialog("Enter the count", Content.assemble(*parts), "record the count"), entered)

    @on(CountRecorded)
    def _count_recorded(self, _message: CountRecorded) -> None:
        """The blind count is on record: lock it and show the expected amounts."""
        self.busy = False
        cur = self.currency
        self.entered = True
        for field in self.query(CountInput):
            field.disabled = True
        for field in self.query(".other-row MoneyInput"):
            field.disabled = True
        self.query_one(OverShortTable).reveal()
        self._show_head()
        self.query_one("#count-derivation", Static).update(self._derivation())
        self._refresh_table()
        table = self.query_one(OverShortTable)
        if self.policy.needs_reason(table.over_short()):
            worst = self.policy.worst(table.over_short())
            which = next(m for m, v in table.over_short().items() if v == worst)
            self.query_one("#count-reason", Input).focus()
            self._say(Content.assemble(
                ("Count entered. ", "b"),
                (f"{method_label(which)} {'over' if worst > 0 else 'short'} by {format_money(abs(worst), cur)}, "
                 + f"more than {format_money(self.policy.reason_above, cur)}: type a reason, then ctrl+s.",
                 "$warn")))
        else:
            self._say(Content.assemble(("Count entered. ", "b"), "ctrl+s closes the shift."))

    def _close(self, count: dict[int, int], other: dict[str, int], reason: str | None = None) -> None:
        app = self.app
        actor = app.actor
        shift_id = self.report.shift_id if self.other else None
        self.query_one("#count-result", Static).update(Content.from_markup("[$muted]closing the shift…[/]"))

        def task() -> Outcome:
            report = app.booth.shifts.close(actor, cash_count=count, counted_other=other, shift_id=shift_id,
                                            reason=reason)
            total = report.over_short or 0
            word, _style = over_short_word(total, report.currency)
            return Outcome(f"Shift #{report.shift_id} closed: {word}", report=report,
                           printed=_print_report(app, report))

        self.run_task("Close shift", task)

    @on(TaskDone)
    def _done(self, message: TaskDone) -> None:
        self.busy = False
        self.closed = message.report
        self.query_one("#count-result", Static).update(Content.assemble(("✓ ", "$ok b"), (message.text, "b")))
        self.notify(message.text, title=message.title, timeout=6)
        if not self.other:
            self.app.set_shift(None)
        printed = "printed ✓" if message.printed is None else f"NOT PRINTED ✗ {message.printed}"
        report = message.report
        assert report is not None

        def shown(_result: None) -> None:
            self.dismiss(None)

        self.app.push_screen(PrintoutDialog(f"Shift report #{report.shift_id} · {printed}", report_text(report, 42)),
                             shown)

    @on(TaskFailed)
    def _failed(self, message: TaskFailed) -> None:
        self.busy = False
        self.query_one("#count-result", Static).update(
            Content.assemble(("✗ ", "$fault b"), (message.error, "$fault"))
        )
        self.notify(message.error, title=f"{message.title}: refused", severity="error", timeout=8)
