"""The exit form: scan the ticket, show the fee and the balance, take payment, let the vehicle out.

Keys (keyboard only):

- type or scan the ticket code, Enter: the fee breakdown, the payments so far
  and the balance due appear, with the payment row focused;
- the number keys on the payment row pick the method, in the order of
  :data:`attendant.core.payment_methods.EXIT_METHODS` (1 cash, 2 card, ...;
  ``up``/``down`` in the amount fields do the same);
  cash moves to *Tendered* (the change shows live), pass and account to
  *Reference* (pass code, account name);
- *Amount* (Tab from the payment row) pays part of the balance (split
  tender); empty pays all of it. Enter takes the payment; while a balance
  remains the form stays on the ticket for the next method;
- ``ctrl+n`` applies a merchant validation (its code in a dialog);
- a decline or an outage shows the processor's message; then Enter retries
  (a new attempt, or the same request if its outcome was unknown), a
  number picks another method, ``ctrl+g`` lets the vehicle go with an IOU
  (a reason is required);
- Escape clears; a letter typed anywhere in the form starts a new ticket code
  in the ticket field (a keyboard-wedge scanner's burst);
- a validation or a pass scanned at the lane while its ticket is on screen
  (:class:`~attendant.tui.messages.ValidationScanned` /
  :class:`~attendant.tui.messages.PassScanned` from the screen) is applied
  here: the validation comes off the balance, the pass pays it.

A logged-in user takes money only on an open shift (the service refuses
otherwise); the app tells the form (:meth:`ExitForm.set_shift_notice`) so
the attendant sees why before trying.

The form owns only its fields and its exit-lane state. The blocking work
(database, processor, printer, gate) runs in thread workers (groups
``exit-load``, ``exit-pay``) that call the UI-free driver
:mod:`attendant.tui.widgets.money_flow` and post one message each; a
finished exit is posted as :class:`~attendant.tui.messages.ExitDone`, which
the screen handles (map, printout, figures) before calling
:meth:`ExitForm.show_result`. Worker failures land in
:meth:`ExitForm.on_worker_state_changed`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, tzinfo

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from attendant.booth import ExitOutcome, duration_text
from attendant.core.errors import AttendantError, InputError
from attendant.core.money import format_money, parse_major, tendered_needs_confirmation
from attendant.core.payment_methods import EXIT_METHODS
from attendant.core.payment_methods import label as method_label
from attendant.core.payment_methods import spec as method_spec
from attendant.core.rates import format_minutes
from attendant.core.views import Checkout, PaymentView, SessionView
from attendant.core.vocab import GateOutcome, PaymentStatus
from attendant.tui.dialogs import (
    AccountPickDialog,
    ConfirmDialog,
    IouReasonDialog,
    ValidationCodeDialog,
)
from attendant.tui.messages import ExitDone, PassScanned, ValidationScanned
from attendant.tui.widgets import money_flow
from attendant.tui.widgets.money_fields import MONEY_RESTRICT, AmountValidator
from attendant.tui.widgets.money_flow import Attempt
from attendant.tui.widgets.pickers import KeyChoice, cycle_focus

log = logging.getLogger(__name__)

#: The exit form's methods in number-key order: (value, label), from the registry.
METHOD_OPTIONS = [(spec.value, spec.label) for spec in EXIT_METHODS]
LAST_KEY = len(METHOD_OPTIONS)
WITH_REFERENCE = tuple(spec.value for spec in EXIT_METHODS if spec.reference)
LABEL_WIDTH = 40
STATUS_GLYPH = {PaymentStatus.COMPLETED: "✓", PaymentStatus.FAILED: "✗", PaymentStatus.PENDING: "…",
                PaymentStatus.REFUNDED: "↺"}
IDLE_HINT = Content.from_markup(
    "[$accent b]Enter[/] look up / pay  [$accent b]1[/] cash  [$accent b]2[/] card  "
    "[$accent b]↑↓[/] method  [$accent b]F6[/] lost ticket  [$accent b]Esc[/] clear"
)
PAY_HINT = Content.from_markup(
    f"[$accent b]Enter[/] pay  [$accent b]1-{LAST_KEY}[/] method  [$accent b]Tab[/] amount  "
    "[$accent b]^N[/] validation  [$accent b]^G[/] let go (IOU)  [$accent b]Esc[/] clear"
)


class TenderedInput(Input):
    """An amount field of the exit form: digits and separators; ``up``/``down`` switch the
    payment method; a letter is left to the form (the start of a scanned
    ticket code, see the module docstring)."""

    BINDINGS = [
        Binding("up", "cycle_method(-1)", "Method ◂", show=False),
        Binding("down", "cycle_method(1)", "Method ▸", show=False),
    ]

    def action_cycle_method(self, step: int) -> None:
        form = next((a for a in self.ancestors if isinstance(a, ExitForm)), None)
        if form is not None:
            form.query_one("#exit-method", KeyChoice).action_move(step)

    async def _on_key(self, event: events.Key) -> None:
        if event.character and event.character.isalpha():
            event.prevent_default()  # not an amount: Input must not swallow it; it bubbles to the form


class ReferenceInput(Input):
    """The pass code / account name: any text; ``up``/``down`` switch the payment method."""

    BINDINGS = TenderedInput.BINDINGS

    def action_cycle_method(self, step: int) -> None:
        TenderedInput.action_cycle_method(self, step)  # type: ignore[arg-type]


class ExitForm(Vertical):
    """Take payment and let a vehicle out at the attendant's exit lane."""

    BINDINGS = [
        Binding("enter", "confirm", "Take payment", priority=False),
        Binding("escape", "clear", "Clear", show=False),
        # Tab stays inside the form (issue 12): it cycles the form's fields, never the map or the other form
        Binding("tab", "cycle_focus(1)", "Next field", show=False),
        Binding("shift+tab", "cycle_focus(-1)", "Previous field", show=False),
        Binding("ctrl+n", "validation", "Validation"),
        Binding("ctrl+g", "let_go", "Let go (IOU)"),
        Binding("ctrl+f", "free_exit", "Free exit", show=False),  # in the palette (the footer is full)
    ]

    DEFAULT_CSS = """
    ExitForm { height: auto; }
    ExitForm #exit-amount { width: 12; }
    ExitForm #exit-reference { width: 22; }
    ExitForm #exit-amount-row { margin-bottom: 0; }
    """

    # ------------------------------------------------------------- messages
    class Loaded(Message):
        """A ticket's session, fee, payments and balance (from the load worker)."""

        def __init__(self, code: str, loaded: Checkout) -> None:
            super().__init__()
            self.code = code
            self.loaded = loaded

    class LoadFailed(Message):
        def __init__(self, code: str, error: str) -> None:
            super().__init__()
            self.code = code
            self.error = error

    class PartPaid(Message):
        """A payment was taken and a balance remains (split tender)."""

        def __init__(self, result: money_flow.PartPaid) -> None:
            super().__init__()
            self.result = result

    class Moved(Message):
        """The balance moved on since it was shown: nothing charged."""

        def __init__(self, result: money_flow.Moved) -> None:
            super().__init__()
            self.result = result

    class PaymentFailed(Message):
        """A payment, validation, finish or let-go failed; ``attempt`` is the payment attempt, if any."""

        def __init__(self, result: money_flow.Failed, attempt: Attempt | None) -> None:
            super().__init__()
            self.result = result
            self.attempt = attempt

    class Validated(Message):
        """A validation came off the balance."""

        def __init__(self, result: money_flow.Validated) -> None:
            super().__init__()
            self.result = result

    def action_cycle_focus(self, step: int) -> None:
        """Tab / shift+Tab: the next / previous field of this form, wrapping (:func:`cycle_focus`)."""
        cycle_focus(self, step)

    # ------------------------------------------------------------ life cycle
    def __init__(self, lane_title: str, currency: str, tz: tzinfo, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lane_title = lane_title
        self.currency = currency
        self.tz = tz
        self.checkout: Checkout | None = None
        self.busy = False
        self.shift_notice: str | None = None  # set by the app: why payments would be refused
        self._loading: str | None = None  # the code being looked up
        self._unknown: Attempt | None = None  # an attempt whose outcome is unknown: retried with its key
        self._accounts: dict | None = None  # open accounts by reference, loaded when the account method is picked
        self._last_failure: str | None = None
        # a lost ticket (F6): the code it was found for and its reason; priced by the plan's lost-ticket rule
        self.lost: tuple[str, str, str] | None = None  # (code, reason, found by)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("Ticket", classes="field-label")
            yield Input(placeholder="scan the ticket, or type its code, number or plate", id="exit-code",
                        max_length=80)
        yield Static("", id="exit-session", classes="session")
        yield Static("", id="exit-fee", classes="fee")
        with Horizontal(classes="form-row", id="exit-pay-row"):
            yield Label("Pay", classes="field-label", id="exit-pay-label")
            yield KeyChoice(METHOD_OPTIONS, value=METHOD_OPTIONS[0][0], id="exit-method")
        with Horizontal(classes="form-row", id="exit-amount-row"):
            yield Label("Amount", classes="field-label")
            yield TenderedInput(placeholder="balance", id="exit-amount", max_length=12, restrict=MONEY_RESTRICT,
                                validators=[AmountValidator(self.currency, self._balance)],
                                validate_on=["changed", "submitted"])
            yield Label("Tendered", classes="field-label-inline", id="exit-tendered-label")
            yield TenderedInput(placeholder="given", id="exit-tendered", max_length=12, restrict=MONEY_RESTRICT,
                                validators=[AmountValidator(self.currency)], validate_on=["changed", "submitted"])
            yield Label("Reference", classes="field-label-inline", id="exit-reference-label")
            yield ReferenceInput(placeholder="pass code / account", id="exit-reference", max_length=80)
            yield Static("", id="exit-change")
        yield Static("", id="exit-result", classes="result")
        yield Static(IDLE_HINT, classes="hint", id="exit-hint")

    def on_mount(self) -> None:
        # every method on one row at 160 columns: a narrower label; the method row's one cell of
        # left padding is where its focus bar goes (themes/console.tcss)
        self.query_one("#exit-pay-label").styles.width = 4
        self.border_title = f"Exit ▸ {self.lane_title}"
        self.border_subtitle = "F3"
        self._show_pay_row(False)
        self._show_method_fields()
        self._show_idle()

    def _show_idle(self) -> None:
        notice = f"\n[$warn b]! {self.shift_notice}[/]" if self.shift_notice else ""
        self.query_one("#exit-session", Static).update(
            Content.from_markup(
                "[$muted]Waiting for a ticket: scan it or type its code.\n"
                "[$accent b]F5[/] next vehicle waiting at this lane  [$accent b]F6[/] lost ticket[/]" + notice
            )
        )

    def set_shift_notice(self, notice: str | None) -> None:
        """Tell the attendant why payments would be refused (e.g. no open shift); None: all is well."""
        self.shift_notice = notice
        if self.checkout is None and not self.code:
            self._show_idle()

    # ---------------------------------------------------------------- values
    @property
    def code(self) -> str:
        return self.query_one("#exit-code", Input).value.strip()

    @property
    def method(self) -> str:
        return self.query_one("#exit-method", KeyChoice).value

    def focus_code(self) -> None:
        """Focus the ticket field with its text selected, so the next scan replaces it."""
        code_input = self.query_one("#exit-code", Input)
        self.screen.set_focus(code_input)
        code_input.select_all()

    def start_lost(self, code: str, reason: str, found_by: str) -> None:
        """A driver without a ticket (F6): load ``code``'s session priced by the plan's lost-ticket rule;
        the payment then closes it as a lost ticket with ``reason`` (audited ``exception.lost_ticket``)."""
        self.busy = False
        self.lost = (code, reason, found_by)
        self.fill(code)

    def _lost_reason(self) -> str | None:
        """The lost ticket's reason while the form shows the session it was started for, else None."""
        if self.lost is not None and self.lost[0] == (self.checkout.code if self.checkout else self.code):
            return self.lost[1]
        return None

    def fill(self, code: str) -> None:
        """Put a ticket code in the form and look it up (a queued vehicle, a serial scan)."""
        self.query_one("#exit-code", Input).value = code
        self.focus_code()
        self._request_load()

    def _show_pay_row(self, show: bool) -> None:
        self.query_one("#exit-pay-row").display = show
        self.query_one("#exit-amount-row").display = show
        self.query_one("#exit-hint", Static).update(PAY_HINT if show else IDLE_HINT)
        self._compact(show)

    def _compact(self, paying: bool) -> None:
        """While paying, drop the blank lines around the fee so the breakdown, the payments,
        the balance and the processor's message fit the panel (the stylesheet's margins
        are for the idle form; inline styles are the widget's own layout)."""
        session, fee, result = (self.query_one(i) for i in ("#exit-session", "#exit-fee", "#exit-result"))
        if paying:
            session.styles.margin = (0, 0, 0, 0)
            fee.styles.margin = (1, 0, 0, 0)
            result.styles.margin = (0, 0, 0, 0)
        else:
            for widget in (session, fee, result):
                widget.styles.clear_rule("margin")

    def _show_method_fields(self) -> None:
        method = self.method
        reference = method in WITH_REFERENCE
        for widget_id in ("#exit-tendered-label", "#exit-tendered"):
            self.query_one(widget_id).display = not reference
        for widget_id in ("#exit-reference-label", "#exit-reference"):
            self.query_one(widget_id).display = reference
        spec = method_spec(method)
        self.query_one("#exit-tendered", Input).disabled = not spec.takes_tendered
        self.query_one("#exit-amount", Input).disabled = spec.covers_balance  # a pass covers the whole balance

    def _balance(self) -> int | None:
        """The balance on screen (minor units; None: no ticket): the ceiling of the part amount."""
        return self.checkout.balance if self.checkout is not None else None

    def _amount(self) -> int | None:
        """The part amount in minor units; None when empty (the whole balance)."""
        text = self.query_one("#exit-amount", Input).value.strip()
        return parse_major(text, self.currency) if text else None

    def _tendered(self) -> int | None:
        """Tendered cash in minor units; None when empty (exact)."""
        text = self.query_one("#exit-tendered", Input).value.strip()
        if not text:
            return None
        return parse_major(text, self.currency)

    def _due_now(self) -> int | None:
        """What this payment is for: the part amount, else the balance (minor units)."""
        if self.checkout is None:
            return None
        try:
            amount = self._amount()
        except InputError:
            amount = None
        return amount if amount is not None and not method_spec(self.method).covers_balance else self.checkout.balance

    # --------------------------------------------------------------- actions
    def on_key(self, event: events.Key) -> None:
        """A letter typed outside the ticket field starts a new ticket code there."""
        code_input = self.query_one("#exit-code", Input)
        if self.screen.focused is code_input or not (event.character and event.character.isalpha()):
            return
        event.stop()
        event.prevent_default()
        code_input.value = ""
        self.screen.set_focus(code_input)  # now, not later: the rest of the burst is already queued
        code_input.post_message(events.Key(event.key, event.character))  # after the Focus event

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("validation", "let_go"):
            return self.checkout is not None
        return True

    @on(Input.Submitted, "#exit-code")
    def _code_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._request_load()

    @on(Input.Submitted, "#exit-tendered, #exit-amount, #exit-reference")
    def _amount_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    @on(Input.Changed, "#exit-tendered, #exit-amount")
    def _tendered_changed(self, event: Input.Changed) -> None:
        self._update_change()
        result = event.validation_result
        if result is not None and not result.is_valid:  # refused as it is typed: say why at once
            self.show_error(result.failure_descriptions[0])

    @on(Input.Changed, "#exit-code")
    def _code_changed(self, event: Input.Changed) -> None:
        if self.checkout is not None and event.value.strip().upper() != self.checkout.code:
            self._forget_ticket()

    @on(KeyChoice.Changed, "#exit-method")
    def _method_changed(self, event: KeyChoice.Changed) -> None:
        event.stop()
        method = event.value
        focused = self.screen.focused
        if focused is not None and focused.id in ("exit-tendered", "exit-reference", "exit-amount"):
            spec = method_spec(method)
            keep = (spec.takes_tendered and focused.id == "exit-tendered") or (
                method in WITH_REFERENCE and focused.id == "exit-reference"
            ) or (focused.id == "exit-amount" and not spec.covers_balance)
            if not keep:
                self.screen.set_focus(event.choice)  # the field is about to be hidden or disabled
        self._show_method_fields()
        self._update_change()
        if method == "account":
            self.load_accounts()
        if event.picked and self.checkout is not None:
            if method_spec(method).takes_tendered:
                self.screen.set_focus(self.query_one("#exit-tendered", Input))
            elif method in WITH_REFERENCE:
                self.screen.set_focus(self.query_one("#exit-reference", Input))

    def _request_load(self) -> None:
        if self.busy:
            return
        code = self.code
        if not code:
            self.show_error("scan the ticket or type its code, number or the plate first "
                            "(F5 takes the next vehicle waiting)")
            return
        self.busy = True
        self._loading = code
        if self.lost is not None and self.lost[0] != code:
            self.lost = None  # another ticket typed: no longer the lost one
        self.query_one("#exit-result", Static).update(Content.from_markup("[$muted]looking up the ticket…[/]"))
        self.run_load(code, self.lost is not None, self._actor_and_lane()[1])

    def _actor_and_lane(self):
        app = self.app
        lane = app.exit_lane.code if getattr(app, "exit_lane", None) else None
        return app.actor, lane

    def action_confirm(self) -> None:
        """Enter: look the ticket up, or take the payment (a retry after a failure)."""
        if self.busy:
            return
        if self.checkout is None or self.code.upper() != self.checkout.code:
            self._request_load()
            return
        balance = self.checkout.balance
        method = self.method
        spec = method_spec(method)
        amount = tendered = reference = None
        if balance > 0:
            try:
                amount = None if spec.covers_balance else self._amount()
            except InputError as exc:
                self._refuse(str(exc), "#exit-amount")
                return
            if amount is not None and amount == 0:
                self._refuse("a part amount must be more than zero (empty pays the whole balance)", "#exit-amount")
                return
            if amount is not None and amount > balance:
                self._refuse(
                    f"{format_money(amount, self.currency)} is more than the balance "
                    f"{format_money(balance, self.currency)}: nothing was taken",
                    "#exit-amount",
                )
                return
            due = amount if amount is not None else balance
            if spec.takes_tendered:
                try:
                    tendered = self._tendered()
                except InputError as exc:
                    self._refuse(str(exc), "#exit-tendered")
                    return
                if tendered is not None and tendered < due:
                    short = format_money(due - tendered, self.currency)
                    self._refuse(
                        f"cash tendered {format_money(tendered, self.currency)} is less than the "
                        f"{format_money(due, self.currency)} due (short by {short}): nothing was taken; "
                        "for a part payment type the amount (Tab)",
                        "#exit-tendered",
                    )
                    return
            if method in WITH_REFERENCE:
                reference = self.query_one("#exit-reference", Input).value.strip() or None
                if method == "account" and self._accounts is not None:
                    if reference is None:  # Enter on an empty Reference: pick the account from the list
                        self._pick_account()
                        return
                    if reference.upper() not in self._accounts:
                        self._refuse(f"no open account {reference!r}: check it, or empty Reference and Enter "
                                     "lists the accounts", "#exit-reference")
                        return
                if spec.reference_required and reference is None:
                    self._refuse(f"type the {spec.reference} to invoice in Reference", "#exit-reference")
                    return
        attempt = Attempt(self.checkout.code, method, amount, tendered, reference, money_flow.new_key())
        if attempt.same_request(self._unknown):
            attempt = Attempt(attempt.code, method, amount, tendered, reference, self._unknown.key)
        why = tendered_needs_confirmation(tendered, due, self.currency) if tendered is not None else None
        if why:  # far above what is due (10,00 meant as 10.00, 1000 for 10.00): the attendant confirms it first
            code = self.checkout.code

            def confirmed(yes: bool | None) -> None:
                if yes and self.checkout is not None and self.checkout.code == code and not self.busy:
                    self._take(replace(attempt, confirm_amount=True), balance, spec)
                elif not yes:
                    self._refuse("correct the tendered amount: nothing was taken", "#exit-tendered")

            self.app.push_screen(ConfirmDialog("Tendered amount", why, "take it"), confirmed)
            return
        self._take(attempt, balance, spec)

    def _take(self, attempt: Attempt, balance: int, spec) -> None:
        """Start the payment worker for ``attempt`` (the balance the attendant saw)."""
        self.busy = True
        doing = "letting the vehicle out…" if balance == 0 else (
            f"asking the {spec.label} processor…" if spec.electronic else "taking payment…"
        )
        self.query_one("#exit-result", Static).update(Content.assemble((doing, "$muted")))
        actor, lane = self._actor_and_lane()
        self.run_pay(attempt, balance, actor, lane, self._lost_reason())

    @work(thread=True, exclusive=True, group="exit-accounts", exit_on_error=False)
    def load_accounts(self) -> None:
        """Read the open accounts (the account method was picked) for the picker and the Reference check."""
        service = getattr(self.app, "service", None)
        if service is None:
            return
        try:
            accounts = {a.reference: a for a in service.accounts(include_closed=False)}
        except Exception:  # noqa: BLE001 - the database away: the service refuses the payment itself
            return
        self.app.call_from_thread(self._accounts_loaded, accounts)

    def _accounts_loaded(self, accounts: dict) -> None:
        self._accounts = accounts
        self._show_account()

    def _pick_account(self) -> None:
        if not self._accounts:
            self._refuse("no open accounts here: a supervisor adds them (attendant account add)", "#exit-reference")
            return

        def chosen(reference: str | None) -> None:
            field = self.query_one("#exit-reference", Input)
            if reference:
                field.value = reference
            self.screen.set_focus(field)

        self.app.push_screen(AccountPickDialog(list(self._accounts.values()), self.currency), chosen)

    @on(Input.Changed, "#exit-reference")
    def _reference_changed(self, _event: Input.Changed) -> None:
        self._show_account()

    def _show_account(self) -> None:
        """Under the fields: the holder and what is left of the limit of the account typed, or why it is refused."""
        if self.method != "account" or self._accounts is None:
            return
        note = self.query_one("#exit-change", Static)
        typed = self.query_one("#exit-reference", Input).value.strip().upper()
        if not typed:
            note.update(Content.assemble(("Enter lists the accounts", "$muted")))
            return
        account = self._accounts.get(typed)
        if account is None:
            note.update(Content.assemble(("✗ no open account", "$fault b")))
            return
        parts: list = [(account.holder[:14], "b")]
        if account.available is not None:
            due = self._due_now() or 0
            style = "$fault b" if due > account.available else "$money b"
            parts += ["  ", (f"{format_money(account.available, self.currency)} left", style)]
        note.update(Content.assemble(*parts))

    def _refuse(self, message: str, field: str) -> None:
        self.show_error(message)
        self.screen.set_focus(self.query_one(field, Input))

    def action_validation(self) -> None:
        """ctrl+n: apply a merchant validation to the ticket on screen."""
        if self.busy:
            return
        if self.checkout is None:
            self.show_error("scan the ticket first, then apply the validation (ctrl+n)")
            return
        code = self.checkout.code

        def chosen(validation: str | None) -> None:
            if validation and self.checkout is not None and self.checkout.code == code:
                self.busy = True
                self.query_one("#exit-result", Static).update(Content.from_markup("[$muted]applying validation…[/]"))
                actor, lane = self._actor_and_lane()
                self.run_validation(code, validation, actor, lane)

        self.app.push_screen(ValidationCodeDialog(), chosen)

    def action_let_go(self) -> None:
        """ctrl+g: never trap a car: ask the reason, open the gate, record an IOU for the balance."""
        if self.busy:
            return
        if self.checkout is None:
            self.show_error("scan the ticket first (ctrl+g lets a vehicle go with an IOU)")
            return
        if self.checkout.balance == 0:
            self.show_error("nothing is due: Enter lets the vehicle out")
            return
        code = self.checkout.code
        session = self.checkout.session
        context = (
            f"Ticket {session.ticket_no}  {session.plate or '(no plate)'}  balance "
            f"{format_money(self.checkout.balance, self.currency)} becomes an IOU on the plate."
        )
        if self._last_failure:
            context += f"\nLast failure: {self._last_failure}"

        def chosen(reason: str | None) -> None:
            if reason and self.checkout is not None and self.checkout.code == code:
                self.busy = True
                self.query_one("#exit-result", Static).update(Content.from_markup("[$muted]letting the vehicle go…[/]"))
                actor, lane = self._actor_and_lane()
                self.run_let_go(code, reason, actor, lane)

        self.app.push_screen(IouReasonDialog(context), chosen)

    def action_free_exit(self) -> None:
        """ctrl+f: let the vehicle out free with a reason; a supervisor's name and PIN authorise it."""
        if self.busy:
            return
        if self.checkout is None:
            self.show_error("scan the ticket first (ctrl+f: a free exit, with a supervisor's PIN)")
            return
        from attendant.core.booth_exceptions import reason_codes
        from attendant.tui.exception_dialogs import ExceptionDialog

        code, balance = self.checkout.code, self.checkout.balance
        session = self.checkout.session
        context = (f"Ticket {session.ticket_no}  {session.plate or '(no plate)'}: "
                   f"{format_money(balance, self.currency)} is waived (no IOU). A supervisor authorises it.")

        def chosen(entry) -> None:
            if entry and self.checkout is not None and self.checkout.code == code:
                self.busy = True
                self.query_one("#exit-result", Static).update(Content.from_markup("[$muted]free exit…[/]"))
                _actor, lane = self._actor_and_lane()
                self.run_free(code, balance, entry, lane, self._lost_reason())

        # setup mode (no users yet): the console's own actor decides; else a supervisor's name and PIN
        self.app.push_screen(ExceptionDialog("Free exit", reason_codes(self.app.booth.service), context=context,
                                             ask_supervisor=self.app.booth.any_users(), default="GOODWILL"), chosen)

    def action_clear(self) -> None:
        self.lost = None
        self.query_one("#exit-code", Input).value = ""
        self._forget_ticket()
        self._show_idle()
        self.query_one("#exit-result", Static).update("")
        self.focus_code()

    def _forget_ticket(self) -> None:
        self.checkout = None
        self._last_failure = None
        self.query_one("#exit-session", Static).update("")
        self.query_one("#exit-fee", Static).update("")
        self._clear_amounts()
        self._show_pay_row(False)
        self.refresh_bindings()

    def _clear_amounts(self) -> None:
        for widget_id in ("#exit-amount", "#exit-tendered", "#exit-reference"):
            self.query_one(widget_id, Input).value = ""
        self.query_one("#exit-change", Static).update("")

    # --------------------------------------------------------------- workers
    @work(thread=True, exclusive=True, group="exit-load", exit_on_error=False)
    def run_load(self, code: str, lost: bool = False, lane: str | None = None) -> None:
        """The session, fee, payments and balance of ``code`` (blocking reads); ``lost``: the lost-ticket fee;
        ``lane``: the exit lane, whose customer display shows the fee."""
        try:
            loaded = money_flow.load(self.app.booth, code, lost=lost, lane=lane)
        except AttendantError as exc:
            self.post_message(self.LoadFailed(code, str(exc)))
            return
        self.post_message(self.Loaded(code, loaded))

    @work(thread=True, exclusive=True, group="exit-pay", exit_on_error=False)
    def run_pay(self, attempt: Attempt, expected: int, actor, lane: str | None, lost_reason: str | None = None
                ) -> None:
        """money_flow.pay: charge, and let the vehicle out when the balance reaches zero (blocking)."""
        self._post_result(money_flow.pay(self.app.booth, attempt, actor=actor, lane=lane, expected_balance=expected,
                                         lost_reason=lost_reason), attempt)

    @work(thread=True, exclusive=True, group="exit-pay", exit_on_error=False)
    def run_free(self, code: str, expected: int, entry, lane: str | None, lost_reason: str | None) -> None:
        """The supervisor's PIN login, then money_flow.pay with the balance waived (blocking)."""
        try:
            supervisor = (self.app.booth.login(entry.supervisor, entry.pin) if entry.supervisor
                          else self.app.actor)  # the services check the role either way
        except AttendantError as exc:
            self._post_result(money_flow.Failed(str(exc), declined=False, unknown=False, loaded=None), None)
            return
        attempt = Attempt(code, "cash", None, None, None, money_flow.new_key())
        self._post_result(money_flow.pay(self.app.booth, attempt, actor=supervisor, lane=lane,
                                         expected_balance=expected, lost_reason=lost_reason,
                                         free_reason=entry.reason), None)

    @work(thread=True, exclusive=True, group="exit-pay", exit_on_error=False)
    def run_let_go(self, code: str, reason: str, actor, lane: str | None) -> None:
        """money_flow.let_go: gate opens, IOU recorded, receipt printed (blocking)."""
        self._post_result(money_flow.let_go(self.app.booth, code, actor=actor, lane=lane, reason=reason), None)

    @work(thread=True, exclusive=True, group="exit-pay", exit_on_error=False)
    def run_validation(self, code: str, validation: str, actor, lane: str | None = None) -> None:
        """money_flow.apply_validation (blocking); ``lane``: the exit lane (its customer display)."""
        result = money_flow.apply_validation(self.app.booth, code, validation, actor=actor, lane=lane)
        if isinstance(result, money_flow.Failed):
            self.post_message(self.PaymentFailed(result, None))
        else:
            self.post_message(self.Validated(result))

    def _post_result(self, result, attempt: Attempt | None) -> None:
        """Worker side: one message for what the driver returned."""
        if isinstance(result, money_flow.Left):
            app = self.app
            printout = app.printout_text(app.exit_lane) if result.outcome.printed else ""
            self.post_message(ExitDone(result.outcome, printout))  # bubbles to the screen
        elif isinstance(result, money_flow.PartPaid):
            self.post_message(self.PartPaid(result))
        elif isinstance(result, money_flow.Moved):
            self.post_message(self.Moved(result))
        else:
            self.post_message(self.PaymentFailed(result, attempt))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place this form's unexpected worker failures land: log, tell, unlock."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("worker %s failed", event.worker.name, exc_info=error)
        text = f"{type(error).__name__}: {error}"
        self.show_error(f"unexpected failure: {text}")
        self.notify(text, title=f"{event.worker.group} failed", severity="error", timeout=10)

    # ----------------------------------------------------- scanned credentials
    def _takes_scan(self, ticket_code: str | None) -> bool:
        return self.checkout is not None and ticket_code == self.checkout.code

    @on(ValidationScanned)
    def _validation_scanned(self, message: ValidationScanned) -> None:
        """A validation scanned at this lane while its ticket is on screen: apply it here."""
        if not self._takes_scan(message.ticket_code):
            return  # no ticket here: the screen's fallback tells the attendant
        message.stop()
        if self.busy:
            self.show_error(f"validation {message.code}: wait for the payment in progress, then scan it again")
            return
        self.busy = True
        self.query_one("#exit-result", Static).update(Content.from_markup("[$muted]applying validation…[/]"))
        actor, lane = self._actor_and_lane()
        self.run_validation(message.ticket_code, message.code, actor, lane)

    @on(PassScanned)
    def _pass_scanned(self, message: PassScanned) -> None:
        """A pass scanned at this lane while its ticket is on screen: pay by pass with its code."""
        if not self._takes_scan(message.ticket_code):
            return
        message.stop()
        if self.busy:
            self.show_error(f"pass {message.code}: wait for the payment in progress, then scan it again")
            return
        self.query_one("#exit-method", KeyChoice).value = next(s.value for s in EXIT_METHODS if s.covers_balance)
        self._show_method_fields()
        self.query_one("#exit-reference", Input).value = message.code
        self.action_confirm()

    # -------------------------------------------------------- worker results
    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        message.stop()
        if message.code != self._loading:
            return  # a newer lookup is on its way
        self._show_checkout(message.loaded)
        self.screen.set_focus(self.query_one("#exit-method", KeyChoice))

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        message.stop()
        if message.code != self._loading:
            return
        self.show_error(message.error)
        self.notify(message.error, title="Ticket", severity="error", timeout=6)

    @on(PartPaid)
    def _part_paid(self, message: PartPaid) -> None:
        message.stop()
        self._unknown = None
        self._last_failure = None
        payment = message.result.payment
        self._show_checkout(message.result.loaded)
        self._clear_amounts()
        parts: list = []
        if payment is not None:
            parts += [(f"✓ {format_money(payment.amount, self.currency)} {method_label(payment.method)}", "$ok b"),
                      f" taken (payment #{payment.id})"]
            if payment.change is not None:
                parts += ["  change ", (format_money(payment.change, self.currency), "$money b reverse")]
        parts += ["\n  balance ", (format_money(message.result.loaded.balance, self.currency), "$money b"),
                  f": pick the next method (1-{LAST_KEY}) and Enter"]
        self.query_one("#exit-result", Static).update(Content.assemble(*parts))
        self.screen.set_focus(self.query_one("#exit-method", KeyChoice))

    @on(Moved)
    def _moved(self, message: Moved) -> None:
        message.stop()
        loaded = message.result.loaded
        self._show_checkout(loaded)
        self.show_error(
            f"the balance is now {format_money(loaded.balance, self.currency)} "
            f"(was {format_money(message.result.was, self.currency)}): check it and confirm again"
        )

    @on(PaymentFailed)
    def _payment_failed(self, message: PaymentFailed) -> None:
        message.stop()
        result = message.result
        if result.loaded is not None:
            self._show_checkout(result.loaded)
        elif self.checkout is not None and message.attempt is not None:
            self._forget_ticket()  # the ticket is no longer open (e.g. exited at another booth)
        self._unknown = message.attempt if result.unknown else None
        self._last_failure = result.message
        self.show_error(result.message)
        offers: list = []
        if result.unknown:
            offers.append("outcome unknown: Enter retries the same request (it is never charged twice)")
        elif result.declined:
            offers.append("Enter retry")
        if result.declined or result.unknown:
            offers.append(f"1-{LAST_KEY} another method")
            offers.append("^G let go with an IOU")
        if self.shift_notice and "shift" in result.message:
            offers.append(self.shift_notice)
        if offers:
            self.query_one("#exit-result", Static).update(
                Content.assemble(("✗ ", "$fault b"), (result.message, "$fault"), "\n  ", ("  ·  ".join(offers), "b"))
            )
        title = "Payment failed" if result.declined or result.unknown else "Not done"
        self.notify(result.message, title=title, severity="error", timeout=8)
        if self.checkout is not None:
            self.screen.set_focus(self.query_one("#exit-method", KeyChoice))

    @on(Validated)
    def _validated(self, message: Validated) -> None:
        message.stop()
        payment = message.result.payment
        self._show_checkout(message.result.loaded)
        balance = message.result.loaded.balance
        parts: list = [
            (f"✓ validation {payment.reference}", "$ok b"),
            f" ({payment.message or 'merchant'}) ",
            (f"-{format_money(payment.amount, self.currency)}", "$money b"),
            "  balance ",
            (format_money(balance, self.currency), "$money b"),
        ]
        if balance == 0:
            parts.append(("\n  nothing left to pay: Enter lets the vehicle out", "b"))
        self.query_one("#exit-result", Static).update(Content.assemble(*parts))
        self.screen.set_focus(self.query_one("#exit-method", KeyChoice))

    # -------------------------------------------------------------- display
    def _update_change(self) -> None:
        change = self.query_one("#exit-change", Static)
        if self.checkout is None or not method_spec(self.method).takes_tendered:
            change.update("")
            return
        due = self._due_now() or 0
        try:
            tendered = self._tendered()
            self._amount()
        except InputError:
            change.update(Content.assemble(("✗ not an amount", "$fault b")))
            return
        if tendered is None:
            change.update(
                Content.assemble(("empty = exact ", "$muted"), (format_money(due, self.currency), "$money b"))
            )
        elif tendered < due:
            change.update(
                Content.assemble(("✗ short by ", "$fault b"), (format_money(due - tendered, self.currency), "$fault b"))
            )
        else:
            change.update(
                Content.assemble("change ", (format_money(tendered - due, self.currency), "$money b reverse"))
            )

    def _session_content(self, session: SessionView, now: datetime, note: str = "", ious: int = 0) -> Content:
        entry = session.entry_at.astimezone(self.tz).strftime("%a %d %b %H:%M")
        parts: list = [
            (f"Ticket {session.ticket_no}", "b"),
            "  ",
            (session.plate or "(no plate)", "b"),
            f"  {session.vehicle_class}  bay {session.spot_label} {session.level_name}\n",
            f"in {entry}  stay ",
            (duration_text(session.entry_at, now), "b"),
            (f"  {note}" if note else "", "$warn b"),
        ]
        if ious:
            parts.append((f"  ! {ious} unpaid IOU{'s' if ious != 1 else ''} on this plate", "$warn b"))
        return Content.assemble(*parts)

    def _payments_content(self, payments: tuple[PaymentView, ...]) -> Content:
        """One line (wrapping if long) of the payments so far: ``✓ cash #3 £5.00 · ✗ card #4 declined``.

        Taken payments show their amount; a failed attempt shows that nothing
        was taken; a pending one that its outcome is unknown.
        """
        cur = self.currency
        parts: list = [("  Paid so far  ", "b")]
        for n, p in enumerate(payments):
            if n:
                parts.append((" · ", "$muted"))
            name = f"{STATUS_GLYPH.get(p.status, '?')} {method_label(p.method)} #{p.id}"
            if p.counted:
                parts += [(name, "$ok" if p.status == PaymentStatus.COMPLETED else "$warn"), " ",
                          (format_money(p.amount, cur), "$money")]
                if p.status == PaymentStatus.REFUNDED:
                    parts.append((" refunded", "$warn"))
            elif p.status == PaymentStatus.PENDING:
                parts += [(name, "$warn b"), (f" {format_money(p.amount, cur)} outcome unknown", "$warn")]
            else:
                parts += [(name, "$fault"), (" not taken", "$muted")]
        return Content.assemble(*parts)

    def _fee_content(self, checkout: Checkout) -> Content:
        """The fee breakdown, the payments so far and the balance due."""
        fee = checkout.fee
        cur = fee.currency
        label_width = self._label_width()  # LABEL_WIDTH, narrowed to the panel
        rows: list[Content] = []
        for line in fee.lines:
            label = line.label if len(line.label) <= label_width else line.label[: label_width - 1] + "…"
            rows.append(
                Content.assemble(
                    f"  {label:<{label_width}}",
                    (f"{format_minutes(line.minutes):>12}", "$muted"),
                    (f"{format_money(line.amount, cur):>11}", "$money"),
                )
            )
        if not fee.lines:
            rows.append(Content(f"  {'no charge':<{label_width}}"))
        rows.append(
            Content.assemble(
                (f"  {'Total':<{label_width}}{'':>12}", "b"),
                (f"{format_money(fee.amount, cur):>11}", "$money b"),
            )
        )
        if checkout.payments:
            rows.append(self._payments_content(checkout.payments))
        rows.append(
            Content.assemble(
                (f"  {'Balance due':<{label_width}}{'':>12}", "b"),
                (f"{format_money(checkout.balance, cur):>11}", "$money b reverse"),
            )
        )
        return Content("\n").join(rows)

    def _label_width(self) -> int:
        """Width of the breakdown's label column: :data:`LABEL_WIDTH`, narrowed so that a line
        (2 + label + 12 minutes + 11 amount) fits the panel on a small terminal (at least 12)."""
        width = self.content_size.width
        if width <= 0:
            return LABEL_WIDTH
        return max(12, min(LABEL_WIDTH, width - 2 - 12 - 11))

    def on_resize(self, _event: events.Resize) -> None:
        if self.checkout is not None:  # the breakdown's columns follow the panel's width
            self.query_one("#exit-fee", Static).update(self._fee_content(self.checkout))

    def _show_checkout(self, checkout: Checkout) -> None:
        """Show the session, its fee breakdown, payments so far and the balance; the payment rows."""
        self.busy = False
        self.checkout = checkout
        code_input = self.query_one("#exit-code", Input)
        with code_input.prevent(Input.Changed):
            code_input.value = checkout.code
        self.query_one("#exit-session", Static).update(
            self._session_content(checkout.session, checkout.at, ious=checkout.open_ious,
                                  note=self._lost_note() or ("" if checkout.found_by == "code"
                                                             else f"found by {checkout.found_by}"))
        )
        self.query_one("#exit-fee", Static).update(self._fee_content(checkout))
        notice = ""
        if self.shift_notice and checkout.balance > 0:
            notice = self.shift_notice
        self.query_one("#exit-result", Static).update(
            Content.assemble(("! ", "$warn b"), (notice, "$warn b")) if notice else ""
        )
        self._show_pay_row(True)
        self._show_method_fields()
        self._update_change()
        self.refresh_bindings()

    def _lost_note(self) -> str:
        if self.lost is None or self.checkout is None or self.lost[0] != self.checkout.code:
            return ""
        _code, reason, found_by = self.lost
        how = "found by plate" if found_by == "plate" else "no vehicle found: unknown stay"
        return f"LOST TICKET ({reason}), {how}: the plan's lost-ticket fee"

    def show_session(self, session: SessionView, now: datetime) -> None:
        """Show a session found by plate (lost ticket): a lookup only, no payment."""
        self.busy = False
        self._forget_ticket()
        self.query_one("#exit-code", Input).value = ""
        self.query_one("#exit-session", Static).update(
            self._session_content(session, now, note="lost ticket: lookup only")
        )
        self.query_one("#exit-result", Static).update(
            Content.assemble(
                ("Found by plate. ", "$ok b"),
                "The lost-ticket fee is not available yet: ask a supervisor.",
            )
        )

    def show_result(self, outcome: ExitOutcome) -> None:
        """Show a completed exit (paid, or let go with an IOU) and get ready for the next vehicle."""
        self.busy = False
        self._unknown = None
        r = outcome.exit
        cur = r.currency
        if r.iou_amount:
            parts: list = [("✓ Let go", "$warn b"), "  IOU ", (format_money(r.iou_amount, cur), "$money b reverse"),
                           " recorded on ", (r.plate or "the ticket", "b")]
            if r.paid:
                parts += [f"  (paid {format_money(r.paid, cur)})"]
        else:
            parts = [(f"✓ Paid {format_money(r.paid, cur)}", "$ok b")]
            parts.append(f" {method_label(r.method)}" if r.method else " (nothing due)")
            if r.tendered is not None:
                parts += ["  tendered ", (format_money(r.tendered, cur), "b")]
            if r.change is not None:
                parts += ["  change ", (format_money(r.change, cur), "$money b reverse")]
            if r.payment_id is not None:
                parts.append(("  payment #" + str(r.payment_id), "$muted"))
        parts += ["\n  ", (f"Ticket {r.ticket_no}", "b"), f"  {r.plate or '(no plate)'}  bay {r.spot_label} freed  gate "]
        parts.append((outcome.gate, "$gate-open b" if outcome.gate == GateOutcome.OPENED else "$fault b"))
        if outcome.printed:
            parts.append(("  receipt ✓ (F10)", "$ok"))
        elif outcome.print_error:
            parts.append((f"  RECEIPT NOT PRINTED ✗ {outcome.print_error}", "$fault b"))
        self.checkout = None
        self.lost = None
        self._last_failure = None
        code_input = self.query_one("#exit-code", Input)
        with code_input.prevent(Input.Changed):
            code_input.value = ""
        self._show_idle()
        self.query_one("#exit-fee", Static).update("")
        self._clear_amounts()
        self._show_pay_row(False)
        self.query_one("#exit-result", Static).update(Content.assemble(*parts))
        self.refresh_bindings()
        self.focus_code()

    def show_error(self, message: str) -> None:
        """Show why nothing happened; the fields stay for a correction.

        Without a ticket on screen the ticket field's text is selected, so the
        next scan replaces the refused code instead of being appended to it.
        """
        self.busy = False
        self.query_one("#exit-result", Static).update(Content.assemble(("✗ ", "$fault b"), (message, "$fault")))
        if self.checkout is None:
            self.query_one("#exit-code", Input).select_all()
