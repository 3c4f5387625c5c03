"""Typed modal dialogs: each ``dismiss()``-es with a value (STYLE.md rule 9).

- :class:`PrintoutDialog` -> None: the stand-in printer's last ticket/receipt.
- :class:`PlateDialog` -> ``str | None``: a plate to look up (lost ticket).
- :class:`TicketPickDialog` -> ``str | None``: the code of a ticket to scan
  (demo: hands a ticket issued here to the exit lane's stand-in scanner).

Money and staff (every field is checked before the dialog closes; a bad
value is shown in the dialog and nothing is returned; Escape returns None):

- :class:`ValidationCodeDialog` -> ``str | None``: a merchant validation code.
- :class:`IouReasonDialog` -> ``str | None``: the REQUIRED reason for letting a
  vehicle go with an IOU (never empty).
- :class:`MoneyDialog` -> :class:`MoneyEntry` ``| None``: an amount in minor
  units and an optional note (shift float, cash drop).
- :class:`RefundDialog` -> :class:`RefundRequest` ``| None`` (supervisors).
- :class:`NewValidationDialog` -> :class:`ValidationRequest` ``| None`` (supervisors).
- :class:`ShiftNumberDialog` -> ``int | None``: a shift number (close another user's shift).
- :class:`SettleIousDialog` -> :class:`SettleRequest` ``| None``: a plate's IOUs and how they are paid.
- :class:`ConfirmDialog` -> ``bool``: Enter confirms, Escape goes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from attendant.core.errors import InputError
from attendant.core.money import format_money, parse_major
from attendant.core.payment_methods import IOU_METHODS
from attendant.core.payment_methods import spec as method_spec
from attendant.core.shifts import ShiftView
from attendant.core.views import RefundablePayment
from attendant.tui.widgets.money_fields import COUNT_RESTRICT, MoneyInput
from attendant.tui.widgets.pickers import KeyChoice


class PrintoutDialog(ModalScreen[None]):
    """Shows printed text as it came out of the printer (plain-text picture)."""

    BINDINGS = [
        Binding("escape,enter,f10,q", "dismiss_dialog", "Close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="printout-box", classes="dialog"):
            with VerticalScroll(id="printout-scroll"):
                yield Static(Content(self.text or "(nothing printed yet)"), id="printout-text")
            yield Static(Content.from_markup("[$accent b]Esc[/] close"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#printout-box").border_title = self.title_text
        self.query_one("#printout-scroll").focus()

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)


class PlateDialog(ModalScreen[str | None]):
    """Asks for a plate; dismisses with the text typed, or None on Escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str = "Lost ticket: find the vehicle by plate") -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="plate-box", classes="dialog"):
            yield Input(placeholder="plate, e.g. AB12 CDE", id="plate-query", max_length=16)
            yield Static(Content.from_markup("[$accent b]Enter[/] find  [$accent b]Esc[/] cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#plate-box").border_title = self.title_text
        self.query_one("#plate-query", Input).focus()

    @on(Input.Submitted, "#plate-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        plate = event.value.strip()
        self.dismiss(plate or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TicketPickDialog(ModalScreen[str | None]):
    """Pick one of ``tickets`` (``(code, label)`` pairs, newest first); dismisses with its code."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, tickets: list[tuple[str, str]]) -> None:
        super().__init__()
        self.tickets = tickets

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-box", classes="dialog"):
            yield OptionList(*[Option(label, id=code) for code, label in self.tickets], id="pick-list")
            yield Static(
                Content.from_markup("[$accent b]↑↓[/] choose  [$accent b]Enter[/] scan at the exit  [$accent b]Esc[/] cancel"),
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one("#pick-box").border_title = "Scan a ticket issued here (stand-in scanner)"
        self.query_one("#pick-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#pick-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AccountPickDialog(ModalScreen[str | None]):
    """Pick one of the open ``accounts`` (:class:`~attendant.core.accounts.AccountView`) to invoice;
    dismisses with its reference. Each line shows the holder and what the credit limit leaves."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, accounts: Sequence, currency: str) -> None:
        super().__init__()
        self.accounts = list(accounts)
        self.currency = currency

    def _label(self, account) -> str:
        left = "no limit" if account.available is None else f"{format_money(account.available, self.currency)} left"
        return f"{account.reference:<14} {account.holder[:30]:<30} {left}"

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-box", classes="dialog"):
            yield OptionList(*[Option(self._label(a), id=a.reference) for a in self.accounts], id="pick-list")
            yield Static(Content.from_markup("[$accent b]↑↓[/] choose  [$accent b]Enter[/] invoice this account  "
                                             "[$accent b]Esc[/] cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#pick-box").border_title = "Account to invoice"
        self.query_one("#pick-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#pick-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------- money & staff
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MoneyEntry:
    """An amount in minor units and an optional note (at most 200 characters)."""

    amount: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Refund ``amount`` minor units (None: all that is refundable) of payment ``payment_id``."""

    payment_id: int
    amount: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ValidationRequest:
    """A merchant validation to create: ``kind`` amount (``value`` minor units), percent (1-100) or minutes."""

    merchant: str
    kind: str
    value: int


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """Pay every open IOU of ``plate`` by ``method``; ``tendered`` cash in minor units (None: exact)."""

    plate: str
    method: str
    tendered: int | None


class FormDialog(ModalScreen[T | None], Generic[T]):
    """A small typed form: fields in rows, an error line, Enter submits, Escape cancels.

    Subclasses compose their rows in :meth:`fields` and turn the fields into a
    value in :meth:`value`, raising :class:`InputError` with the message to
    show when something is missing or malformed (the dialog then stays open).
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "submit", "Confirm", show=False),  # Enter on a choice row (inputs submit themselves)
    ]
    DEFAULT_CSS = """
    FormDialog > .money-dialog {
        border: thick $border; background: $surface; padding: 1 2; width: 68; height: auto; max-height: 90%;
    }
    FormDialog .dialog-context { margin-bottom: 1; }
    FormDialog .dialog-error { height: auto; margin-top: 1; color: $fault; }
    FormDialog .form-row Input { width: 1fr; }
    """
    TITLE_TEXT = ""
    HINT = "[$accent b]Enter[/] confirm  [$accent b]Tab[/] next field  [$accent b]Esc[/] cancel"

    def __init__(self, context: str = "", title: str | None = None) -> None:
        super().__init__()
        self.context = context
        self.title_text = title or self.TITLE_TEXT

    def compose(self) -> ComposeResult:
        with Vertical(classes="money-dialog"):
            if self.context:
                yield Static(Content(self.context), classes="dialog-context")
            yield from self.fields()
            yield Static("", classes="dialog-error")
            yield Static(Content.from_markup(self.HINT), classes="hint")

    def fields(self) -> ComposeResult:  # pragma: no cover - every subclass has fields
        yield from ()

    def value(self) -> T:  # pragma: no cover
        raise NotImplementedError

    def on_mount(self) -> None:
        self.query_one(".money-dialog").border_title = self.title_text
        first = next(iter(self.query(Input)), None) or next(iter(self.query(KeyChoice)), None)
        if first is not None:
            first.focus()

    def fail(self, message: str) -> None:
        """Show why the dialog cannot close yet."""
        self.query_one(".dialog-error", Static).update(Content.assemble(("✗ ", "b"), message))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        try:
            result = self.value()
        except InputError as exc:
            self.fail(str(exc))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _focus_pick_list(dialog: ModalScreen, selector: str) -> None:
    """Highlight the first option of a dialog's pick list and give it the focus.

    FormDialog.on_mount runs too (Textual calls each class's handler) and
    focuses the first input; the list takes the focus after that refresh.
    """
    choices = dialog.query_one(selector, OptionList)
    choices.highlighted = 0
    dialog.call_after_refresh(choices.focus)


def _row(label: str, field) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), field, classes="form-row")


class ValidationCodeDialog(FormDialog[str]):
    """Type or scan a merchant validation code; dismisses with the code."""

    TITLE_TEXT = "Validation: scan or type the merchant's code"

    def fields(self) -> ComposeResult:
        yield _row("Code", Input(placeholder="e.g. V-ABCD-EFGH", id="validation-code", max_length=40))

    def value(self) -> str:
        code = self.query_one("#validation-code", Input).value.strip()
        if not code:
            raise InputError("type or scan the validation code")
        return code


class IouReasonDialog(FormDialog[str]):
    """The reason for letting a vehicle go unpaid (required); dismisses with it."""

    TITLE_TEXT = "Let go with an IOU"
    HINT = "[$accent b]Enter[/] open the gate, record the IOU  [$accent b]Esc[/] back"

    def fields(self) -> ComposeResult:
        yield _row("Reason", Input(placeholder="why the vehicle leaves unpaid (required)", id="iou-reason",
                                   max_length=200))

    def value(self) -> str:
        reason = self.query_one("#iou-reason", Input).value.strip()
        if not reason:
            raise InputError("a reason is required to let a vehicle go without payment")
        return reason


class MoneyDialog(FormDialog[MoneyEntry]):
    """An amount (and optionally a note); ``allow_zero`` for a float of nothing."""

    def __init__(self, title: str, currency: str, *, label: str = "Amount", note: bool = False,
                 allow_zero: bool = False, context: str = "", value: str = "") -> None:
        super().__init__(context, title)
        self.currency = currency
        self.label = label
        self.with_note = note
        self.allow_zero = allow_zero
        self.initial = value

    def fields(self) -> ComposeResult:
        yield _row(self.label, MoneyInput(self.currency, id="money-amount", value=self.initial))
        if self.with_note:
            yield _row("Note", Input(placeholder="optional, e.g. bag number", id="money-note", max_length=200))

    def value(self) -> MoneyEntry:
        amount = self.query_one("#money-amount", MoneyInput).amount()
        if amount is None:
            raise InputError(f"type the {self.label.lower()}, e.g. 100.00")
        if amount == 0 and not self.allow_zero:
            raise InputError(f"the {self.label.lower()} must be more than {format_money(0, self.currency)}")
        note = self.query_one("#money-note", Input).value.strip() if self.with_note else ""
        return MoneyEntry(amount, note or None)


class RefundDialog(FormDialog[RefundRequest]):
    """Supervisors: which payment, how much (empty: all), and why (required)."""

    TITLE_TEXT = "Refund a payment (supervisor)"
    DEFAULT_CSS = """
    RefundDialog #refund-choices { height: auto; max-height: 12; margin-bottom: 1; }
    """

    def __init__(self, currency: str, choices: Sequence[RefundablePayment] = (), tz: tzinfo | None = None) -> None:
        super().__init__("Pick a recent payment (↑↓ Enter) or type its number (payment #N on the exit result line).")
        self.currency = currency
        self.choices = list(choices)
        self.tz = tz

    def _label(self, p: RefundablePayment) -> str:
        when = p.at.astimezone(self.tz) if self.tz else p.at
        left = "" if p.refundable == p.amount else f" ({format_money(p.refundable, self.currency)} left)"
        return (f"#{p.id:<5} {p.method:<8} {format_money(p.amount, self.currency):>9}{left}  "
                f"ticket {p.ticket_no} {p.plate or '(no plate)'}  {when:%a %d %b %H:%M}")

    def fields(self) -> ComposeResult:
        if self.choices:
            yield OptionList(*[Option(self._label(p), id=str(p.id)) for p in self.choices], id="refund-choices")
        yield _row("Payment", Input(placeholder="payment number", id="refund-payment", restrict=COUNT_RESTRICT,
                                    max_length=12))
        yield _row("Amount", MoneyInput(self.currency, placeholder="empty = all of it", id="refund-amount"))
        yield _row("Reason", Input(placeholder="why (required, kept in the audit log)", id="refund-reason",
                                   max_length=200))

    def on_mount(self) -> None:
        if self.choices:
            _focus_pick_list(self, "#refund-choices")

    @on(OptionList.OptionSelected, "#refund-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#refund-payment", Input).value = event.option.id or ""
        self.query_one("#refund-amount", MoneyInput).focus()

    def value(self) -> RefundRequest:
        number = self.query_one("#refund-payment", Input).value.strip()
        if not number:
            raise InputError("type the payment number")
        amount = self.query_one("#refund-amount", MoneyInput).amount()
        if amount == 0:
            raise InputError("a refund must be more than zero (empty refunds all of it)")
        reason = self.query_one("#refund-reason", Input).value.strip()
        if not reason:
            raise InputError("a refund needs a reason")
        return RefundRequest(int(number), amount, reason)


VALIDATION_KINDS = [("amount", "amount off"), ("percent", "percent off"), ("minutes", "minutes free")]


class NewValidationDialog(FormDialog[ValidationRequest]):
    """Supervisors: a merchant validation (merchant, kind by number key, value)."""

    TITLE_TEXT = "Create a validation (supervisor)"
    HINT = ("[$accent b]1-3[/] kind  [$accent b]Enter[/] create  [$accent b]Tab[/] next field  "
            "[$accent b]Esc[/] cancel")

    def __init__(self, currency: str) -> None:
        super().__init__()
        self.currency = currency

    def fields(self) -> ComposeResult:
        yield _row("Merchant", Input(placeholder="shop or business name", id="validation-merchant", max_length=80))
        yield _row("Kind", KeyChoice(VALIDATION_KINDS, value="amount", id="validation-kind"))
        yield _row("Value", Input(placeholder="2.00 / 50 / 60", id="validation-value", max_length=12,
                                  restrict=r"[0-9.,£$€₹¥]*"))

    def value(self) -> ValidationRequest:
        merchant = self.query_one("#validation-merchant", Input).value.strip()
        if not merchant:
            raise InputError("a validation needs the merchant's name")
        kind = self.query_one("#validation-kind", KeyChoice).value
        text = self.query_one("#validation-value", Input).value.strip()
        if not text:
            raise InputError("type the value: an amount, a percent (1-100) or minutes")
        if kind == "amount":
            value = parse_major(text, self.currency)
        else:
            if not text.isdigit():
                raise InputError(f"{kind} must be a whole number, not {text!r}")
            value = int(text)
        if value <= 0 or (kind == "percent" and value > 100):
            raise InputError("the value must be more than zero (a percent at most 100)")
        return ValidationRequest(merchant, kind, value)


@dataclass(frozen=True, slots=True)
class BayServiceRequest:
    """A bay to take out of service (``in_service`` False, with a reason) or to put back."""

    label: str
    in_service: bool
    reason: str | None


BAY_SERVICE_CHOICES = [("out", "out of service"), ("in", "back in service")]


class BayServiceDialog(FormDialog[BayServiceRequest]):
    """Supervisors: a bay (its label, e.g. L0-C01), out of service or back, and why."""

    TITLE_TEXT = "Bay out of service / back (supervisor)"
    HINT = ("[$accent b]1-2[/] out / back  [$accent b]Enter[/] confirm  [$accent b]Tab[/] next field  "
            "[$accent b]Esc[/] cancel")

    def fields(self) -> ComposeResult:
        yield _row("Bay", Input(placeholder="label on the map, e.g. L0-C01", id="bay-label", max_length=16))
        yield _row("Make it", KeyChoice(BAY_SERVICE_CHOICES, value="out", id="bay-service"))
        yield _row("Reason", Input(placeholder="why (required to take it out; kept in the audit log)",
                                   id="bay-reason", max_length=200))

    def value(self) -> BayServiceRequest:
        label = self.query_one("#bay-label", Input).value.strip().upper()
        if not label:
            raise InputError("type the bay's label, e.g. L0-C01")
        in_service = self.query_one("#bay-service", KeyChoice).value == "in"
        reason = self.query_one("#bay-reason", Input).value.strip() or None
        if not in_service and reason is None:
            raise InputError("taking a bay out of service needs a reason")
        return BayServiceRequest(label, in_service, reason)


@dataclass(frozen=True, slots=True)
class ConcessionRequest:
    """A concession to record on a vehicle inside: ``ticket`` (ticket number, code or plate), which, the badge."""

    ticket: str
    name: str
    badge: str


class ConcessionDialog(FormDialog[ConcessionRequest]):
    """A concession (e.g. a disabled driver's badge) on a vehicle inside, with the badge number seen.

    ``names`` are the concessions the facility's rate plan prices (the service refuses any other).
    """

    TITLE_TEXT = "Concession: a badge seen on a vehicle inside"
    HINT = ("[$accent b]1-9[/] which  [$accent b]Enter[/] record  [$accent b]Tab[/] next field  "
            "[$accent b]Esc[/] cancel")

    def __init__(self, names: list[str], context: str = "") -> None:
        super().__init__(context or "The rate plan prices the stay with it at exit.")
        self.names = names

    def fields(self) -> ComposeResult:
        yield _row("Ticket", Input(placeholder="ticket number, code or plate", id="concession-ticket",
                                   max_length=64))
        yield _row("Which", KeyChoice([(n, n.replace("_", " ")) for n in self.names[:9]], value=self.names[0],
                                           id="concession-name"))
        yield _row("Badge no.", Input(placeholder="the number on the badge (stored encrypted)", id="concession-badge",
                                      max_length=40))

    def value(self) -> ConcessionRequest:
        ticket = self.query_one("#concession-ticket", Input).value.strip()
        if not ticket:
            raise InputError("type the ticket number, scan the ticket or type the plate")
        badge = self.query_one("#concession-badge", Input).value.strip()
        if not badge:
            raise InputError("type the number of the badge seen")
        return ConcessionRequest(ticket, self.query_one("#concession-name", KeyChoice).value, badge)


class ShiftNumberDialog(FormDialog[int]):
    """Supervisors: the number of another user's open shift to close, picked from the open ones or typed."""

    TITLE_TEXT = "Close another user's shift (supervisor)"
    DEFAULT_CSS = """
    ShiftNumberDialog #shift-choices { height: auto; max-height: 12; margin-bottom: 1; }
    """

    def __init__(self, choices: Sequence[ShiftView] = (), tz: tzinfo | None = None) -> None:
        super().__init__("Pick an open shift (↑↓ Enter) or type its number." if choices else "")
        self.choices = list(choices)
        self.tz = tz

    def _label(self, shift: ShiftView) -> str:
        opened = shift.opened_at.astimezone(self.tz) if self.tz else shift.opened_at
        return (f"#{shift.id:<5} {shift.username:<12} {shift.display_name[:20]:<20} since {opened:%a %d %b %H:%M}"
                f"  float {format_money(shift.float_amount, shift.currency)}")

    def on_mount(self) -> None:
        if self.choices:
            _focus_pick_list(self, "#shift-choices")

    @on(OptionList.OptionSelected, "#shift-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#shift-number", Input).value = event.option.id or ""
        self.action_submit()

    def fields(self) -> ComposeResult:
        if self.choices:
            yield OptionList(*[Option(self._label(s), id=str(s.id)) for s in self.choices], id="shift-choices")
        yield _row("Shift", Input(placeholder="shift number, e.g. 12", id="shift-number", restrict=COUNT_RESTRICT,
                                  max_length=12))

    def value(self) -> int:
        text = self.query_one("#shift-number", Input).value.strip()
        if not text:
            raise InputError("type the shift number")
        return int(text)


#: The methods that may settle IOUs, in number-key order (from the registry).
SETTLE_METHODS = [(spec.value, spec.label) for spec in IOU_METHODS]


class SettleIousDialog(FormDialog[SettleRequest]):
    """A plate's unpaid IOUs (a prepay before entry): plate, method by number key, cash tendered."""

    TITLE_TEXT = "Settle the IOUs of a plate"
    HINT = (f"[$accent b]1-{len(SETTLE_METHODS)}[/] method  [$accent b]Enter[/] settle  [$accent b]Tab[/] next field  "
            "[$accent b]Esc[/] cancel")

    def __init__(self, currency: str, plate: str = "") -> None:
        super().__init__()
        self.currency = currency
        self.plate = plate

    def fields(self) -> ComposeResult:
        yield _row("Plate", Input(placeholder="e.g. AB12 CDE", id="settle-plate", max_length=16, value=self.plate))
        yield _row("Method", KeyChoice(SETTLE_METHODS, value=SETTLE_METHODS[0][0], id="settle-method"))
        yield _row("Tendered", MoneyInput(self.currency, placeholder="cash given (empty = exact)",
                                          id="settle-tendered"))

    def value(self) -> SettleRequest:
        plate = self.query_one("#settle-plate", Input).value.strip()
        if not plate:
            raise InputError("type the plate")
        method = self.query_one("#settle-method", KeyChoice).value
        cash = method_spec(method).takes_tendered
        tendered = self.query_one("#settle-tendered", MoneyInput).amount() if cash else None
        return SettleRequest(plate, method, tendered)


class ConfirmDialog(ModalScreen[bool]):
    """Shows ``text``; Enter confirms (True), Escape goes back (False)."""

    BINDINGS = [
        Binding("enter", "confirm", "Confirm"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    ConfirmDialog > .money-dialog {
        border: thick $border; background: $surface; padding: 1 2; width: 76; height: auto; max-height: 90%;
    }
    """

    def __init__(self, title: str, text: Content | str, confirm: str = "confirm") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.confirm_label = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="money-dialog"):
            yield Static(self.text if isinstance(self.text, Content) else Content(self.text), id="confirm-text")
            yield Static(
                Content.from_markup(f"[$accent b]Enter[/] {self.confirm_label}  [$accent b]Esc[/] back"),
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one(".money-dialog").border_title = self.title_text

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
