"""The exit lane's money flow without the UI: load, pay, validate, let go, finish.

A small driver layer in the manner of harlequin's (STYLE.md): plain blocking
functions over :class:`~attendant.booth.Booth` and its
:class:`~attendant.core.services.ParkingService` that import no Textual. The
exit form (:mod:`attendant.tui.widgets.exit_form`) calls them from its thread
workers and turns what they return into messages; nothing here touches a
widget.

Rules kept here (sources: ``attendant/core/checkout.py``, seed 003 on
idempotency keys, BRIEF.md "never trap a car"):

- A payment attempt carries one idempotency key. The service never charges
  twice for one key; the form reuses the key only when it retries an attempt
  whose outcome is unknown (the payment row stayed ``pending`` after a
  timeout whose reversal failed), so a retry settles the same request. A
  decline or an outage is a finished attempt: the next try is a new attempt
  with a new key.
- Before charging, the balance on screen is compared with the balance now;
  if the fee moved on (a new increment started) nothing is charged and the
  new figures are returned for the attendant to confirm (:class:`Moved`).
- When a payment brings the balance to zero the exit completes at once:
  ``Booth.process_exit`` closes the session, prints the receipt and vends the
  gate (source ``payment``). ``let_go`` vends with source ``attendant`` and
  records an IOU for the balance; the reason is required.

Money is integer minor units; times are aware UTC from the service clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from attendant.booth import Booth, ExitOutcome
from attendant.core.auth import Actor
from attendant.core.checkout import Checkout, PaymentOutcome
from attendant.core.errors import AttendantError, InputError, PaymentError
from attendant.core.services import ExitQuote

#: Methods the exit form offers, in number-key order: (value, label).
METHODS: tuple[tuple[str, str], ...] = (
    ("cash", "cash"),
    ("card", "card"),
    ("upi", "UPI"),
    ("ewallet", "e-wallet"),
    ("mobile", "mobile"),
    ("pass", "pass"),
    ("account", "account"),
)
ELECTRONIC = frozenset({"card", "upi", "ewallet", "mobile"})


def new_key() -> str:
    """A fresh idempotency key for one payment attempt (``tui-<uuid4>``)."""
    return f"tui-{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One payment attempt as the attendant asked for it.

    ``amount`` None pays the whole balance; ``tendered`` is cash handed over
    (None: exact); ``reference`` a pass code or account name; ``key`` the
    idempotency key (see the module docstring).
    """

    code: str
    method: str
    amount: int | None
    tendered: int | None
    reference: str | None
    key: str

    def same_request(self, other: Attempt | None) -> bool:
        """True if ``other`` asks for the same charge (ticket, method, amount)."""
        return other is not None and (self.code, self.method, self.amount) == (other.code, other.method, other.amount)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A ticket at the exit: the session (``quote``) and its fee, payments and balance (``checkout``)."""

    quote: ExitQuote
    checkout: Checkout
    found_by: str = "code"  # how the attendant named it: code, ticket number or plate


@dataclass(frozen=True, slots=True)
class Moved:
    """The balance changed since it was shown (``was``): nothing charged; ``loaded`` is now."""

    loaded: Loaded
    was: int


@dataclass(frozen=True, slots=True)
class PartPaid:
    """A payment was taken and a balance remains (split tender): ``loaded`` shows it."""

    outcome: PaymentOutcome
    loaded: Loaded


@dataclass(frozen=True, slots=True)
class Left:
    """The vehicle left: ``outcome`` from Booth.process_exit; ``payment`` the last one taken (or None)."""

    outcome: ExitOutcome
    payment: PaymentOutcome | None


@dataclass(frozen=True, slots=True)
class Failed:
    """A payment failed (decline, outage, timeout, refusal): nothing was taken by this attempt.

    ``declined`` marks a processor/payment failure (the form offers retry,
    another method, or let go with an IOU); ``unknown`` an outcome the
    processor never settled (the row is still pending: retry with the same
    key). ``loaded`` is the session now, if it is still open.
    """

    message: str
    declined: bool
    unknown: bool
    loaded: Loaded | None


def load(booth: Booth, code: str, at: datetime | None = None) -> Loaded:
    """Quote and checkout of the open session named by ``code`` at ``at`` (default: now).

    ``code`` may also be a ticket number or a plate
    (``ParkingService.exit_code_for``). Raises what ``ParkingService.quote``
    raises (TicketInvalid, NotFound, Refused for a ticket that has exited,
    InputError).
    """
    service = booth.service
    at = at or service.clock()
    code, found_by = service.exit_code_for(code)
    quote = service.quote(code, at=at)
    return Loaded(quote, service.checkout(code, at=at), found_by)


def _still_open(booth: Booth, code: str) -> Loaded | None:
    try:
        return load(booth, code)
    except AttendantError:
        return None


def pay(booth: Booth, attempt: Attempt, *, actor: Actor | str, lane: str | None, expected_balance: int
        ) -> Moved | PartPaid | Left | Failed:
    """Take one payment; finish the exit when nothing is left to pay.

    ``expected_balance`` (minor units) is the balance the attendant saw: if
    it moved on, nothing is charged (:class:`Moved`). A balance of zero lets
    the vehicle out without a payment. Returns :class:`PartPaid`,
    :class:`Left` or :class:`Failed`; raises only unexpected errors
    (the caller's worker reports those).
    """
    service = booth.service
    try:
        now = load(booth, attempt.code)
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=None)
    balance = now.checkout.balance
    if balance != expected_balance:
        return Moved(now, expected_balance)
    if balance == 0:
        return finish(booth, attempt.code, actor=actor, lane=lane)
    try:
        outcome = service.pay(
            attempt.code,
            attempt.method,
            actor=actor,
            amount=attempt.amount,
            tendered=attempt.tendered,
            reference=attempt.reference,
            idempotency_key=attempt.key,
            lane=lane,
            at=now.checkout.at,
        )
    except PaymentError as exc:
        after = _still_open(booth, attempt.code)
        pending = after is not None and any(p.status == "pending" for p in after.checkout.payments)
        return Failed(str(exc), declined=attempt.method in ELECTRONIC, unknown=pending, loaded=after)
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=_still_open(booth, attempt.code))
    if outcome.balance > 0:
        return PartPaid(outcome, load(booth, attempt.code, at=now.checkout.at))
    left = finish(booth, attempt.code, actor=actor, lane=lane)
    if isinstance(left, Left):
        return Left(left.outcome, outcome)
    return left


def finish(booth: Booth, code: str, *, actor: Actor | str, lane: str | None) -> Left | Failed:
    """Let a paid-up vehicle out: session closed, receipt printed, gate vended (source payment/ticket).

    Refused (returned as :class:`Failed`) while a payment is still pending or
    a balance remains.
    """
    try:
        return Left(booth.process_exit(code, actor=actor, lane=lane), None)
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=_still_open(booth, code))


def let_go(booth: Booth, code: str, *, actor: Actor | str, lane: str | None, reason: str) -> Left | Failed:
    """Never trap a car: open the gate (source attendant) and record an IOU for the balance.

    ``reason`` is required (InputError as :class:`Failed` otherwise). The
    receipt prints with the IOU line.
    """
    if not reason or not reason.strip():
        return Failed("letting a vehicle go without payment needs a reason", declined=False, unknown=False,
                      loaded=_still_open(booth, code))
    try:
        return Left(booth.process_exit(code, actor=actor, lane=lane, iou_reason=reason.strip()), None)
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=_still_open(booth, code))


def apply_validation(booth: Booth, code: str, validation_code: str, *, actor: Actor | str
                     ) -> tuple[PaymentOutcome, Loaded] | Failed:
    """Apply a merchant validation (``ParkingService.apply_validation``) to the open session ``code``.

    A scanned *ticket* code is refused with a clear message (``identify``);
    any other text is looked up as a validation code. Returns the outcome
    (``payment.amount`` is the amount off) and the session now.
    """
    service = booth.service
    text = validation_code.strip()
    if not text:
        return Failed("type or scan the validation code", declined=False, unknown=False, loaded=None)
    try:
        kind = service.identify(text)
    except (InputError, AttendantError):
        kind = "validation"  # merchant codes may be free text: let the lookup decide
    if kind == "ticket":
        return Failed("that is a ticket code, not a validation: scan the merchant's validation", declined=False,
                      unknown=False, loaded=None)
    if kind == "pass":
        return Failed("that is a pass: pay with method 6 (pass) and its code as the reference", declined=False,
                      unknown=False, loaded=None)
    try:
        outcome = service.apply_validation(code, text, actor=actor)
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=_still_open(booth, code))
    return outcome, load(booth, code)
