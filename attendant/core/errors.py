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
