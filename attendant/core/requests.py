"""Typed requests: what a front end asks the booth to do.

The console's forms, the CLI's options and (soon) the HTTP API build these
and hand them to :class:`attendant.booth.Booth`; nothing travels as ten
positional arguments. A request checks its own fields when it is built, so
bad input is refused with a clear :class:`InputError` before anything is
written (BRIEF.md "Bad input ... changes nothing").

Money is integer minor units; ``at`` is an aware datetime (any zone; stored
UTC), None meaning the service clock's now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from attendant.core.errors import InputError
from attendant.core.payment_methods import exit_method
from attendant.core.vocab import PaymentMethod, VehicleClass

MAX_KEY = 64
"""The longest idempotency key a request may carry (the column holds 80, and tenders add ``.n``)."""


def _aware(at: datetime | None) -> None:
    if at is not None and at.tzinfo is None:
        raise InputError("a time without a zone is ambiguous: give an offset, e.g. 2026-11-21T09:30:00+00:00")


def _reason(request) -> None:
    """``backdate_reason`` trimmed (at most 200 characters); an empty one is refused."""
    if request.backdate_reason is None:
        return
    reason = str(request.backdate_reason).strip()
    if not reason:
        raise InputError("back-dating beyond the window needs a reason")
    object.__setattr__(request, "backdate_reason", reason[:200])


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """Admit a vehicle at an entry lane.

    ``plate`` None: no plate read or typed. ``spot`` puts the vehicle in that
    bay (it must fit and be free). ``lane`` None: the first entry lane.
    ``print_ticket``/``vend``: print the ticket and open the gate (a replay
    or an integration that prints elsewhere turns them off; then no gate
    opening is recorded). ``backdate_reason``: a supervisor's reason to accept
    an ``at`` earlier than the facility's window allows
    (:mod:`attendant.core.time_bounds`; recorded in the audit event).
    ``idempotency_key`` (at most :data:`MAX_KEY` characters): a retried
    request with the same key returns the session the first one opened
    (``replayed``) and opens no second one. ``deny_as_flag``: the vehicle
    is already inside (an entry journaled while the database was away, now
    replayed), so a deny-list entry that refuses flags it instead
    (:mod:`attendant.core.plate_lists`). ``reservation``: the code of a
    reservation this entry checks in (without it, a booked reservation of the
    plate is checked in by itself).
    """

    plate: str | None
    vehicle_class: VehicleClass | str = VehicleClass.CAR
    ev: bool = False
    accessible: bool = False
    lane: str | None = None
    spot: str | None = None
    at: datetime | None = None
    print_ticket: bool = True
    vend: bool = True
    backdate_reason: str | None = None
    idempotency_key: str | None = None
    deny_as_flag: bool = False
    reservation: str | None = None  # a reservation code to check in (attendant/core/reservations.py)

    def __post_init__(self) -> None:
        if self.idempotency_key is not None:  # the rule of ExitRequest's key
            key = self.idempotency_key.strip()
            if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
                raise InputError(f"an idempotency key is 1 to {MAX_KEY} printable ASCII characters")
            object.__setattr__(self, "idempotency_key", key)
        try:
            vclass = VehicleClass(str(self.vehicle_class).strip().lower())
        except ValueError:
            known = ", ".join(v.value for v in VehicleClass)
            raise InputError(f"unknown vehicle class {self.vehicle_class!r} (one of: {known})") from None
        object.__setattr__(self, "vehicle_class", vclass)
        if self.plate is not None and not str(self.plate).strip():
            object.__setattr__(self, "plate", None)
        _aware(self.at)
        _reason(self)


@dataclass(frozen=True, slots=True)
class Tender:
    """One part of a payment at the exit.

    ``method`` a method offered at the exit (:data:`attendant.core.payment_methods.EXIT_METHODS`);
    ``amount`` what this part pays (None: the rest of the balance);
    ``tendered`` cash handed over (None: exact); ``reference`` the pass code
    or the account to invoice. ``key``: this payment attempt's idempotency
    key (a retry with the same key is never charged twice; default: the
    request's key with ``.n`` for the n-th tender, else a fresh one).
    ``confirm_amount``: the attendant confirmed a tendered amount far above
    the amount due (:func:`attendant.core.money.tendered_needs_confirmation`);
    without it such a tender is refused with
    :class:`~attendant.core.errors.AmountNeedsConfirmation`.
    """

    method: PaymentMethod | str
    amount: int | None = None
    tendered: int | None = None
    reference: str | None = None
    key: str | None = None
    confirm_amount: bool = False

    def __post_init__(self) -> None:
        spec = exit_method(self.method)
        object.__setattr__(self, "method", spec.method)
        if self.amount is not None and self.amount <= 0:
            raise InputError("a payment amount must be more than zero")
        from attendant.core.money import MAX_AMOUNT

        for what, value in (("a payment amount", self.amount), ("a tendered amount", self.tendered)):
            if value is not None and (not isinstance(value, int) or value > MAX_AMOUNT):
                raise InputError(f"{what} must be a whole number of minor units up to {MAX_AMOUNT}")
        if self.key is not None and (len(self.key) > 80 or not self.key.isascii()):
            raise InputError("an idempotency key is at most 80 ASCII characters")
        if self.reference is not None and len(str(self.reference)) > 64:
            raise InputError("a pass code or account reference is at most 64 characters")
        if self.tendered is not None and self.tendered < 0:
            raise InputError("tendered amount cannot be negative")
        if self.tendered is not None and not spec.takes_tendered:
            raise InputError(f"a tendered amount goes with cash, not {spec.label}")
        reference = (self.reference or "").strip() or None
        object.__setattr__(self, "reference", reference)


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """Take payment at an exit lane and let the vehicle out.

    ``code`` is the signed ticket code. ``validations`` (merchant codes) are
    applied first, then ``tenders`` in order, each for its amount or the rest
    of the balance. When the balance reaches zero the vehicle leaves; while a
    balance remains it stays (a split tender continues with another request),
    unless ``iou_reason`` is given: then it is let go with an IOU for what is
    still due, even when a payment failed (never trap a car).

    ``leave`` False takes the validations and tenders only and the vehicle
    stays (a pay station; a validation applied before the payment): a paid-up
    session's exit grace starts.

    ``expected_balance``: the balance the attendant saw; if it moved on (a new
    increment began), nothing is taken and :class:`BalanceMoved` is raised.
    ``idempotency_key``: a retried request with the same key returns the first
    exit and charges nothing more (tender ``n`` carries ``KEY.n``).
    ``backdate_reason``: as for :class:`EntryRequest`.

    Exceptions (:mod:`attendant.core.booth_exceptions`): ``lost`` prices the
    stay by the rate plan's lost-ticket rule (the driver has no ticket; the
    session was found by plate); ``free`` lets the vehicle out with the
    balance waived (a supervisor's decision, no IOU); ``reason`` is the
    exception's reason (``CODE`` or ``CODE: text`` from the facility's
    reason codes; a lost ticket defaults to ``LOST_TICKET``, a free exit
    needs one).
    """

    code: str
    tenders: tuple[Tender, ...] = ()
    validations: tuple[str, ...] = ()
    iou_reason: str | None = None
    lane: str | None = None
    at: datetime | None = None
    idempotency_key: str | None = None
    expected_balance: int | None = None
    leave: bool = True
    print_receipt: bool = True
    vend: bool = True
    backdate_reason: str | None = None
    lost: bool = False
    free: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.code or not self.code.strip():
            raise InputError("scan or type the ticket code")
        object.__setattr__(self, "code", self.code.strip())
        object.__setattr__(self, "tenders", tuple(self.tenders))
        validations = tuple(v.strip().upper() for v in self.validations if v and v.strip())
        object.__setattr__(self, "validations", validations)
        if self.iou_reason is not None:
            reason = self.iou_reason.strip()
            if not reason:
                raise InputError("letting a vehicle go without payment needs a reason")
            object.__setattr__(self, "iou_reason", reason[:200])
        if self.idempotency_key is not None and not self.idempotency_key.strip():
            raise InputError("an idempotency key cannot be empty")
        if self.idempotency_key is not None and (len(self.idempotency_key) > MAX_KEY
                                                 or not self.idempotency_key.isascii()
                                                 or not self.idempotency_key.isprintable()):
            raise InputError(f"an idempotency key is at most {MAX_KEY} printable ASCII characters")
        _aware(self.at)
        _reason(self)
        if self.free and self.iou_reason is not None:
            raise InputError("a free exit waives the balance: it takes no IOU")
        if self.free and not (self.reason or "").strip():
            raise InputError("a free exit needs a reason (--reason CODE or 'CODE: text')")
