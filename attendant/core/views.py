"""What the booth services return: plain, frozen values for both front ends.

Money is integer minor units of the facility currency; times are aware UTC
(front ends show them in facility time); ticket numbers are the printed,
zero-padded strings (:func:`attendant.core.tickets.format_ticket_no`).
Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from attendant.core.rates import Fee
from attendant.core.vocab import PaymentStatus, VendSource

#: Payment statuses whose amounts count toward what a session has paid (refund rows are negative).
COUNTED = (PaymentStatus.COMPLETED.value, PaymentStatus.REFUNDED.value)


@dataclass(frozen=True, slots=True)
class EntryResult:
    """A vehicle admitted: its session, signed ticket and bay.

    ``vend_id`` is the gate opening recorded with the entry (None when the
    gate is not to be vended); the gate is commanded after the commit.
    ``replayed``: the session an earlier request with the same idempotency
    key opened, returned again (nothing was done). ``flag``: why the
    attendant should look at this vehicle (a deny-list entry whose action is
    ``flag``: :mod:`attendant.core.plate_lists`), or None.
    """

    session_id: int
    ticket_no: str
    code: str
    plate: str | None
    vehicle_class: str
    spot_label: str
    spot_type: str
    level_code: str
    level_name: str
    entry_at: datetime
    lane: str | None
    rate_summary: str
    vend_id: int | None = None
    replayed: bool = False
    flag: str | None = None
    reservation: object = None  # the ReservationView this entry checked in (attendant/core/reservations.py)

    def to_json_dict(self) -> dict:
        """The CLI's ``enter --json`` core fields (times ISO 8601 UTC); ``reservation`` (its code, window and
        prepaid amount) when the entry checked one in."""
        res = self.reservation
        return {
            **({"reservation": {"code": res.code, "from": res.start_at.isoformat(), "to": res.end_at.isoformat(),
                                "status": res.status}} if res is not None else {}),
            "session_id": self.session_id,
            "ticket_no": self.ticket_no,
            "code": self.code,
            "plate": self.plate,
            "vehicle_class": self.vehicle_class,
            "spot": self.spot_label,
            "spot_type": self.spot_type,
            "level": self.level_code,
            "entry_at": self.entry_at.isoformat(),
            "lane": self.lane,
            "flag": self.flag,
        }


@dataclass(frozen=True, slots=True)
class SessionView:
    """A parking session as the exit lane sees it."""

    session_id: int
    ticket_no: str
    code: str
    plate: str | None
    vehicle_class: str
    spot_label: str
    spot_type: str
    level_name: str
    entry_at: datetime
    entry_lane: str | None
    status: str
    exit_at: datetime | None
    amount_due: int | None
    amount_paid: int


@dataclass(frozen=True, slots=True)
class ExitQuote:
    """The fee a session owes if it leaves at ``at``."""

    session: SessionView
    at: datetime
    fee: Fee


@dataclass(frozen=True, slots=True)
class PaymentView:
    """One payment row as the exit lane and the receipt show it (refunds are negative)."""

    id: int
    method: str
    status: str
    amount: int
    tendered: int | None
    change: int | None
    reference: str | None
    message: str | None

    @property
    def counted(self) -> bool:
        """True when the amount counts toward what was paid (completed or refunded)."""
        return self.status in COUNTED


@dataclass(frozen=True, slots=True)
class Checkout:
    """Where an open session stands at the exit at ``at``: fee, payments so far, balance.

    ``found_by`` says how the attendant named it: ``"code"`` (scanned or
    typed), ``"ticket number"`` or ``"plate"``. ``open_ious`` counts the
    plate's unpaid IOUs (a warning on screen).
    """

    session: SessionView
    at: datetime
    fee: Fee
    paid: int
    balance: int
    payments: tuple[PaymentView, ...]
    open_ious: int
    found_by: str = "code"

    @property
    def code(self) -> str:
        return self.session.code

    @property
    def ticket_no(self) -> str:
        return self.session.ticket_no

    @property
    def pending(self) -> bool:
        """True while a payment's outcome is unknown (the exit waits for it to be settled)."""
        return any(p.status == PaymentStatus.PENDING.value for p in self.payments)


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """One payment taken (or a validation applied): the row, and the balance and fee after it."""

    payment: PaymentView
    balance: int
    fee: Fee


@dataclass(frozen=True, slots=True)
class PartPayment:
    """An exit request that left a balance (a split tender goes on) or a pay station's payment.

    ``checkout`` is the session after it; ``taken`` the payments this
    request made (or found made by an earlier try with the same key).
    """

    checkout: Checkout
    taken: tuple[PaymentView, ...]


@dataclass(frozen=True, slots=True)
class ExitResult:
    """A vehicle let out: what it owed, what was paid, the change, the vend.

    ``method`` is the one method that paid (``"split"`` for several, None
    when nothing was due); ``iou_amount`` what was left unpaid as an IOU
    (never trap a car); ``vend_source``/``vend_reason`` what the gate opening
    is recorded as, ``vend_id`` its row (None when the gate is not vended).
    ``replayed``: an earlier exit returned for a retried request.
    """

    session_id: int
    ticket_no: str
    plate: str | None
    spot_label: str
    entry_at: datetime
    exit_at: datetime
    fee: Fee
    method: str | None
    paid: int
    tendered: int | None
    change: int | None
    payment_id: int | None
    lane: str | None
    currency: str
    payments: tuple[PaymentView, ...] = ()
    iou_amount: int = 0
    vend_source: VendSource = VendSource.PAYMENT
    vend_reason: str | None = None
    vend_id: int | None = None
    replayed: bool = False  # returned again for a retried request (same idempotency key): nothing was done

    @property
    def amount_due(self) -> int:
        return self.fee.amount


@dataclass(frozen=True, slots=True)
class LevelAvailability:
    """Free and total bays of one level; ``by_type`` spot type -> (available, capacity)."""

    level_id: int
    code: str
    name: str
    capacity: int
    available: int
    by_type: dict[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class SpotCell:
    """A bay as the level map draws it (row and column in the level's drawing)."""

    spot_id: int
    label: str
    row: int
    col: int
    spot_type: str


@dataclass(frozen=True, slots=True)
class LevelMap:
    """A level's drawing (rows of characters, from the layout file) and its bays."""

    level_id: int
    code: str
    name: str
    rows: tuple[str, ...]
    spots: tuple[SpotCell, ...]


@dataclass(frozen=True, slots=True)
class RefundablePayment:
    """A payment a supervisor may still refund: amounts in minor units, ``at`` UTC."""

    id: int
    ticket_no: str
    plate: str | None
    method: str
    amount: int
    refundable: int
    at: datetime


@dataclass(frozen=True, slots=True)
class PendingPayment:
    """A payment attempt still waiting for its processor's answer (status ``pending``).

    ``amount`` in minor units; ``asked_at`` (UTC, wall clock) is when the
    processor was last asked; ``in_flight`` is True while a lane may still be
    waiting on it (no answer recorded, younger than the attempt deadline), so
    resolving it by hand would race that lane. ``message`` says why its
    outcome is unknown, when one was recorded; ``shift_id`` the shift whose
    close it blocks.
    """

    id: int
    ticket_no: str
    method: str
    amount: int
    lane: str | None
    actor: str
    shift_id: int | None
    asked_at: datetime
    in_flight: bool
    message: str | None


@dataclass(frozen=True, slots=True)
class PassView:
    """A pass as the exit lane shows it; ``valid`` is whether it covers a stay now."""

    code: str
    holder_name: str
    plate: str | None
    valid_from: datetime
    valid_to: datetime
    active: bool
    valid: bool


@dataclass(frozen=True, slots=True)
class IouView:
    """An IOU: what a vehicle let go without paying owes (minor units), and why."""

    id: int
    session_id: int
    ticket_no: str
    plate: str | None
    amount: int
    reason: str
    status: str
    created_at: datetime
