"""Payment rows: the one writer of ``payment`` and the rules every payment shares.

- Every payment by a logged-in user belongs to that user's open shift: a user
  without one may not take money (BRIEF.md feature 7; quicktill's rule that
  a session holds the takings, STYLE.md).
- A refund is a negative row of the same method (``refund_of_id`` set).
- ``processor_ref`` holds the processor's reference, the pass code, the
  account or the validation code.

Money is integer minor units; times aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select

from attendant.core.auth import Actor
from attendant.core.clock import utc_now
from attendant.core.errors import AmountNeedsConfirmation, PaymentError, Refused
from attendant.core.money import format_money, tendered_needs_confirmation
from attendant.core.views import PaymentView
from attendant.core.vocab import PaymentMethod, PaymentStatus
from db.models import Payment

PAY = Payment.__table__
_INSERT = insert(PAY).returning(PAY.c.id)
_OF_SESSION = select(PAY).where(PAY.c.session_id == bindparam("sid")).order_by(PAY.c.id)
_BY_KEY = select(PAY).where(PAY.c.idempotency_key == bindparam("key"))


def cash_tendered(amount: int, tendered: int | None, currency: str, *, confirmed: bool = False
                  ) -> tuple[int, int]:
    """``(tendered, change)`` in minor units for ``amount`` paid in cash; ``tendered`` None means exact.

    The one cash rule (online checkout and offline lanes alike): less than
    the amount is refused with :class:`PaymentError` and nothing is taken; far
    more than the amount (:func:`attendant.core.money.tendered_needs_confirmation`)
    is refused with :class:`AmountNeedsConfirmation` unless ``confirmed``.
    """
    tendered = amount if tendered is None else tendered
    if tendered < amount:
        raise PaymentError(f"cash tendered {format_money(tendered, currency)} is less than the "
                           f"{format_money(amount, currency)} due: nothing was taken")
    if not confirmed and (why := tendered_needs_confirmation(tendered, amount, currency)):
        raise AmountNeedsConfirmation(f"{why} Confirm it (console: the dialog; CLI: --confirm-amount) or "
                                      "correct it: nothing was taken")
    return tendered, tendered - amount


def payment_view(row) -> PaymentView:
    """The :class:`PaymentView` of a ``payment`` row."""
    return PaymentView(row.id, row.method, row.status, row.amount, row.tendered, row.change, row.processor_ref,
                       row.message)


def shift_for(conn, facility_id: int, who: Actor) -> int | None:
    """The open shift of a logged-in user at ``facility_id`` (share-locked against a concurrent close).

    None for actors that are not users (scripts, replay, setup mode).
    :raises Refused: a logged-in user with no open shift.
    """
    if who.user_id is None:
        return None
    from attendant.core.shifts import (
        open_shift_id,  # the shift rules load only when a user takes money
    )

    shift_id = open_shift_id(conn, facility_id, who.user_id)
    if shift_id is None:
        raise Refused(f"{who.name} has no open shift: open a shift before taking payments")
    return shift_id


def insert_payment(conn, *, facility_id: int, session_id: int, method: PaymentMethod, status: PaymentStatus,
                   amount: int, who: Actor, shift_id: int | None, key: str, lane: str | None, at: datetime,
                   tendered: int | None = None, change: int | None = None, reference: str | None = None,
                   message: str | None = None, refund_of: int | None = None) -> PaymentView:
    """Insert one payment row inside ``conn``'s transaction and return it as a view.

    ``at`` is the time the payment claims (``created_at``); ``updated_at`` is the wall clock.
    """
    payment_id = conn.execute(_INSERT, {
        "facility_id": facility_id,
        "session_id": session_id,
        "method": method.value,
        "status": status.value,
        "amount": amount,
        "tendered": tendered,
        "change": change,
        "idempotency_key": key,
        "processor_ref": reference,
        "lane": lane,
        "created_at": at,
        "actor": who.name,
        "shift_id": shift_id,
        "user_id": who.user_id,
        "refund_of_id": refund_of,
        "message": message,
        "updated_at": utc_now(),
    }).scalar_one()
    return PaymentView(payment_id, method.value, status.value, amount, tendered, change, reference, message)


def payments_of(conn, session_id: int) -> tuple[PaymentView, ...]:
    """Every payment row of a session, oldest first."""
    return tuple(payment_view(r) for r in conn.execute(_OF_SESSION, {"sid": session_id}))


def payment_by_key(conn, key: str) -> PaymentView | None:
    """The payment made with idempotency ``key``, if any."""
    row = conn.execute(_BY_KEY, {"key": key}).first()
    return payment_view(row) if row else None
