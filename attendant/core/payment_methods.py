"""The payment methods: one table every front end, rule and report reads.

BRIEF.md feature 4 lists the ways a fee is settled at the exit (cash with
tendered/change, card, UPI, e-wallet, mobile, pass, validation) and feature 6
the IOU left when a payment fails; account (invoice to a company) is the
operator's addition. Each method is one :class:`PaymentMethodSpec` in
:data:`PAYMENT_METHODS`, in the order the console offers them: the exit
form's number keys, the CLI's ``--pay`` choices, the shift count-up, the IOU
settlement dialog and the receipts all come from this table.

Adding a method is one entry here: the vocabulary's :class:`PaymentMethod`
(what the database stores, re-exported by :mod:`attendant.core.vocab`) is
built from this table, and every electronic method gets a processor
(:class:`attendant.core.payments.ProcessorRegistry`; a stand-in unless a real
one is registered).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from attendant.core.errors import InputError


@dataclass(frozen=True, slots=True)
class PaymentMethodSpec:
    """How one payment method behaves.

    - ``value``: what the database stores; ``label``: the word on screen and on receipts.
    - ``electronic``: asked of a payment processor (with an idempotency key,
      outside any transaction; seed 003) rather than settled at the booth.
    - ``takes_tendered``: the attendant types what was handed over and the
      change is computed (cash).
    - ``reference``: what the reference field holds (``"pass code"``,
      ``"account"``), or None; ``reference_required``: the payment is refused
      without one.
    - ``pays_at_exit``: offered as a way to pay at the exit lane (a validation
      is applied with its code; an IOU is what is left unpaid).
    - ``covers_balance``: always pays the whole balance (a pass).
    - ``settles_ious``: may settle a plate's unpaid IOUs.
    - ``takes_money``: money changed hands, so it can be refunded and counts
      as takings (a pass or a validation takes none).
    - ``counted_at_close``: the shift count-up asks for its counted total (the
      drawer for cash, the terminal's batch total for card...).
    """

    value: str
    label: str
    electronic: bool = False
    takes_tendered: bool = False
    reference: str | None = None
    reference_required: bool = False
    pays_at_exit: bool = True
    covers_balance: bool = False
    settles_ious: bool = False
    takes_money: bool = True
    counted_at_close: bool = True

    @property
    def method(self) -> PaymentMethod:
        """The vocabulary member, e.g. ``PaymentMethod.EWALLET``."""
        return PaymentMethod(self.value)


#: Every method, in the order the console offers them (number keys 1, 2, ...).
PAYMENT_METHODS: tuple[PaymentMethodSpec, ...] = (
    PaymentMethodSpec("cash", "cash", takes_tendered=True, settles_ious=True),
    PaymentMethodSpec("card", "card", electronic=True, settles_ious=True),
    PaymentMethodSpec("upi", "UPI", electronic=True, settles_ious=True),
    PaymentMethodSpec("ewallet", "e-wallet", electronic=True, settles_ious=True),
    PaymentMethodSpec("mobile", "mobile", electronic=True, settles_ious=True),
    PaymentMethodSpec("pass", "pass", reference="pass code", covers_balance=True, takes_money=False,
                      counted_at_close=False),
    PaymentMethodSpec("account", "account", reference="account", reference_required=True,
                      settles_ious=True),
    PaymentMethodSpec("validation", "validation", reference="validation code", pays_at_exit=False,
                      takes_money=False, counted_at_close=False),
    PaymentMethodSpec("iou", "IOU", pays_at_exit=False, takes_money=False, counted_at_close=False),
)

#: How a fee was settled (BRIEF.md feature 4): the stored values of :data:`PAYMENT_METHODS`.
PaymentMethod = StrEnum("PaymentMethod", [(spec.value.upper(), spec.value) for spec in PAYMENT_METHODS])
PaymentMethod.__doc__ = "How a fee was settled (BRIEF.md feature 4); built from PAYMENT_METHODS."
PaymentMethod.__module__ = __name__

_BY_VALUE = {spec.value: spec for spec in PAYMENT_METHODS}

#: The methods asked of a processor.
ELECTRONIC: tuple[PaymentMethod, ...] = tuple(s.method for s in PAYMENT_METHODS if s.electronic)
#: The methods offered at the exit lane, in key order.
EXIT_METHODS: tuple[PaymentMethodSpec, ...] = tuple(s for s in PAYMENT_METHODS if s.pays_at_exit)
#: The methods that may settle a plate's IOUs, in key order.
IOU_METHODS: tuple[PaymentMethodSpec, ...] = tuple(s for s in PAYMENT_METHODS if s.settles_ious)


def spec(method: str | StrEnum) -> PaymentMethodSpec:
    """The spec of ``method`` (a stored value or enum member).

    :raises InputError: an unknown method, naming the known ones.
    """
    found = _BY_VALUE.get(str(method).strip().lower())
    if found is None:
        known = ", ".join(s.value for s in PAYMENT_METHODS if s.pays_at_exit or s.settles_ious)
        raise InputError(f"unknown payment method {str(method)!r} (one of: {known})")
    return found


def label(method: str) -> str:
    """The word shown for a stored method value (the value itself if unknown)."""
    found = _BY_VALUE.get(method)
    return found.label if found else method


def exit_method(method: str | StrEnum) -> PaymentMethodSpec:
    """The spec of a method offered at the exit lane.

    :raises InputError: unknown, or not a way to pay at the exit (validation,
        IOU), saying how that one is used instead.
    """
    found = spec(method)
    if not found.pays_at_exit:
        if found.value == "validation":
            raise InputError("a validation is applied with its code, not paid")
        raise InputError("an IOU is recorded by letting the vehicle go, not paid")
    return found


def exit_key(method: str | StrEnum) -> str:
    """The number key that picks ``method`` at the exit lane (``"1"`` for the first of :data:`EXIT_METHODS`)."""
    value = str(method)
    for index, candidate in enumerate(EXIT_METHODS, start=1):
        if candidate.value == value:
            return str(index)
    raise InputError(f"{value} is not offered at the exit lane")


def order_key(method: str) -> tuple[int, str]:
    """Sort key putting stored method values in the table's order (unknown ones last)."""
    for index, candidate in enumerate(PAYMENT_METHODS):
        if candidate.value == method:
            return index, method
    return len(PAYMENT_METHODS), method
