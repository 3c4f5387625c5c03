"""Errors the services raise. Each carries a message fit to show an attendant.

Front ends catch :class:`AttendantError`: the TUI shows ``str(error)`` in a
notification, the CLI prints it as one line on stderr and exits 2. Nothing
has been written to the database when one of these is raised.
"""

from __future__ import annotations


class AttendantError(Exception):
    """Base of every expected, user-facing failure."""


class InputError(AttendantError):
    """Bad input: a mistyped plate, an unknown class, a malformed amount or file."""


class NotFound(AttendantError):
    """The facility, session, ticket or spot asked for does not exist."""


class Refused(AttendantError):
    """A rule refuses the operation (anti-passback, a forged code, a full car park)."""


class NoSpaceAvailable(Refused):
    """No compatible spot is available for the vehicle."""


class TicketInvalid(Refused):
    """A ticket code that fails its signature check or is malformed."""


class PaymentError(AttendantError):
    """A payment could not be taken (underpayment, decline, processor outage)."""


class PaymentDeclined(PaymentError):
    """The processor declined, could not be reached, or timed out and the attempt was voided:
    nothing was taken by this attempt. The attendant may retry, pick another method, or let
    the vehicle go with an IOU."""


class PaymentOutcomeUnknown(PaymentError):
    """The processor never settled the attempt (a timeout whose reversal failed): the payment
    stays pending. Retrying the same request (same idempotency key) settles it without a
    second charge."""


class AmountNeedsConfirmation(PaymentError):
    """A cash tendered amount far above the amount due (:func:`attendant.core.money.tendered_needs_confirmation`)
    that the attendant has not confirmed: nothing was taken. Confirm it (console dialog, ``--confirm-amount``,
    the API's ``confirm_amount``) or correct it."""


class BalanceMoved(Refused):
    """The balance changed since the attendant saw it (a new increment began): nothing was taken.

    ``was`` and ``balance`` are minor units.
    """

    def __init__(self, was: int, balance: int, message: str) -> None:
        super().__init__(message)
        self.was = was
        self.balance = balance
