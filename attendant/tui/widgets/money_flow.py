"""The exit form's driver: one :meth:`Booth.exit` call per attendant action, its outcome classified.

A small driver layer in the manner of harlequin's (STYLE.md): plain blocking
functions that import no Textual. The exit form
(:mod:`attendant.tui.widgets.exit_form`) calls them from its thread workers
and turns what they return into messages. There is no exit logic here: the
booth's one orchestration (:meth:`attendant.core.checkout.CheckoutOps.settle`)
takes the payment, checks that the balance on screen is still the balance
(``expected_balance``), lets the vehicle out when nothing is left to pay,
prints the receipt and vends the gate.

What the attendant sees depends on the outcome:

- a payment attempt carries one idempotency key; the form reuses the key
  only to retry an attempt whose outcome is unknown (the payment stayed
  ``pending``), so a retry settles the same request and is never charged
  twice; a decline or an outage is a finished attempt (a new key next time);
- :class:`Moved`: the fee moved on (a new increment began): nothing charged,
  the new figures are shown to confirm;
- :class:`PartPaid`: a part payment (split tender) was taken, a balance remains;
- :class:`Left`: the vehicle left (receipt, gate);
- :class:`Failed`: nothing more was taken; ``declined`` offers retry,
  another method, or let go with an IOU; ``loaded`` is the session now.

Money is integer minor units; times are aware UTC from the service clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from attendant.booth import Booth, ExitOutcome, ExitRequest, Tender
from attendant.core.auth import Actor
from attendant.core.errors import (
    AttendantError,
    BalanceMoved,
    PaymentDeclined,
    PaymentOutcomeUnknown,
)
from attendant.core.payment_methods import exit_key
from attendant.core.views import Checkout, PartPayment, PaymentView
from attendant.core.vocab import PaymentMethod


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
    confirm_amount: bool = False  # the attendant confirmed a tendered amount far above what is due

    def same_request(self, other: Attempt | None) -> bool:
        """True if ``other`` asks for the same charge (ticket, method, amount)."""
        return other is not None and (self.code, self.method, self.amount) == (other.code, other.method, other.amount)


@dataclass(frozen=True, slots=True)
class Moved:
    """The balance changed since it was shown (``was``): nothing charged; ``loaded`` is now."""

    loaded: Checkout
    was: int


@dataclass(frozen=True, slots=True)
class PartPaid:
    """A payment was taken and a balance remains (split tender): ``loaded`` shows it."""

    payment: PaymentView | None
    loaded: Checkout


@dataclass(frozen=True, slots=True)
class Left:
    """The vehicle left: ``outcome`` from :meth:`Booth.exit`; ``payment`` the last one taken (or None)."""

    outcome: ExitOutcome
    payment: PaymentView | None


@dataclass(frozen=True, slots=True)
class Validated:
    """A validation came off the balance: ``payment.amount`` is what came off; ``loaded`` is now."""

    payment: PaymentView
    loaded: Checkout


@dataclass(frozen=True, slots=True)
class Failed:
    """Nothing more was taken (decline, outage, timeout, refusal).

    ``declined`` marks a processor failure (the form offers retry, another
    method, or let go with an IOU); ``unknown`` an outcome the processor
    never settled (the row is still pending: retry with the same key).
    ``loaded`` is the session now, if it is still open.
    """

    message: str
    declined: bool
    unknown: bool
    loaded: Checkout | None


def load(booth: Booth, text: str, at: datetime | None = None, *, lost: bool = False,
         lane: str | None = None) -> Checkout:
    """The open session named by a code, ticket number or plate, with its fee and balance (one read);
    ``lost``: the fee by the plan's lost-ticket rule (a driver without a ticket); ``lane``: the exit lane
    whose customer display shows the fee (None: none, e.g. a re-read after a failed payment).

    Raises what :meth:`Booth.checkout` raises (TicketInvalid, NotFound,
    Refused for a ticket that has exited, InputError).
    """
    if lane is not None:
        return booth.checkout(text, at=at, lost=lost, lane=lane)
    return booth.checkout(text, at=at, lost=lost) if lost else booth.checkout(text, at=at)


def _still_open(booth: Booth, code: str, lost: bool = False) -> Checkout | None:
    try:
        return load(booth, code, lost=lost)
    except AttendantError:
        return None


def _exit(booth: Booth, code: str, build, actor: Actor | str, lost: bool = False
          ) -> Moved | PartPaid | Left | Failed:
    """Build the request (``build()``) and run it at the booth; classify what happened (``lost``: the session
    is shown priced as a lost ticket)."""
    try:
        result = booth.exit(build(), actor=actor)
    except BalanceMoved as exc:
        now = _still_open(booth, code, lost)
        if now is None:
            return Failed(str(exc), declined=False, unknown=False, loaded=None)
        return Moved(now, exc.was)
    except (PaymentDeclined, PaymentOutcomeUnknown) as exc:
        unknown = isinstance(exc, PaymentOutcomeUnknown)
        return Failed(str(exc), declined=True, unknown=unknown, loaded=_still_open(booth, code, lost))
    except AttendantError as exc:
        return Failed(str(exc), declined=False, unknown=False, loaded=_still_open(booth, code, lost))
    if isinstance(result, PartPayment):
        return PartPaid(result.taken[-1] if result.taken else None, result.checkout)
    taken = [p for p in result.exit.payments if p.counted and p.amount > 0]
    return Left(result, taken[-1] if taken else None)


def pay(booth: Booth, attempt: Attempt, *, actor: Actor | str, lane: str | None, expected_balance: int,
        lost_reason: str | None = None, free_reason: str | None = None) -> Moved | PartPaid | Left | Failed:
    """Take one payment; the vehicle leaves when nothing is left to pay.

    ``expected_balance`` (minor units) is the balance the attendant saw: if
    it moved on, nothing is charged (:class:`Moved`). A balance of zero lets
    the vehicle out without a payment. ``lost_reason``: a lost ticket (priced by
    the plan's lost-ticket rule, audited ``exception.lost_ticket``);
    ``free_reason``: a free exit, the balance waived (``actor`` a supervisor;
    nothing is charged).
    """
    def build() -> ExitRequest:
        tenders = () if expected_balance == 0 or free_reason else (
            Tender(attempt.method, attempt.amount, attempt.tendered, attempt.reference, key=attempt.key,
                   confirm_amount=attempt.confirm_amount),)
        return ExitRequest(attempt.code, tenders, lane=lane, expected_balance=expected_balance,
                           lost=lost_reason is not None, free=free_reason is not None,
                           reason=free_reason or lost_reason)

    return _exit(booth, attempt.code, build, actor, lost=lost_reason is not None)


def let_go(booth: Booth, code: str, *, actor: Actor | str, lane: str | None, reason: str
           ) -> Moved | PartPaid | Left | Failed:
    """Never trap a car: the gate opens (source attendant) and an IOU is recorded for the balance.

    ``reason`` is required (:class:`Failed` otherwise). The receipt prints with the IOU line.
    """
    return _exit(booth, code, lambda: ExitRequest(code, iou_reason=reason, lane=lane), actor)


def apply_validation(booth: Booth, code: str, validation_code: str, *, actor: Actor | str,
                     lane: str | None = None) -> Validated | Failed:
    """Apply a merchant validation to the open session ``code``; the vehicle stays until paid (``lane``: the
    exit lane where it waits, whose customer display shows the new balance).

    A scanned *ticket* or *pass* is refused with a clear message
    (``identify``); any other text is looked up as a validation code.
    """
    text = validation_code.strip()
    if not text:
        return Failed("type or scan the validation code", declined=False, unknown=False, loaded=None)
    try:
        kind = booth.service.identify(text)
    except AttendantError:
        kind = "validation"  # merchant codes may be free text: let the lookup decide
    if kind == "ticket":
        return Failed("that is a ticket code, not a validation: scan the merchant's validation", declined=False,
                      unknown=False, loaded=None)
    if kind == "pass":
        return Failed(f"that is a pass: pay with method {exit_key(PaymentMethod.PASS)} (pass) and its code as the "
                      "reference", declined=False, unknown=False, loaded=None)
    result = _exit(booth, code, lambda: ExitRequest(code, validations=(text,), leave=False, lane=lane), actor)
    if isinstance(result, PartPaid) and result.payment is not None:
        return Validated(result.payment, result.loaded)
    if isinstance(result, Failed):
        return result
    return Failed("the validation was not applied", declined=False, unknown=False, loaded=_still_open(booth, code))
