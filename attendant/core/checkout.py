"""Exit lane operations: quote, payments (split tender), validations, passes,
IOUs, refunds, and letting the vehicle out.

Mixed into :class:`attendant.core.services.ParkingService`. Rules and sources:

- Fees price with the rate-plan version locked at entry (BRIEF.md feature 5).
- A session's balance is its fee minus the sum of its completed (and later
  refunded) payments; refund rows are negative. Payments may be split across
  methods; the exit completes when the balance is zero.
- Exit grace after payment (the plan's ``exit_grace``): a vehicle that paid up
  and leaves within the grace pays nothing more; later, the extra time is due.
- Electronic payments go through a processor outside any transaction, with an
  idempotency key; a retried request returns the first outcome and never
  charges twice (seed 003). A request that still times out after the retries
  is voided at the processor (timeout reversal) and recorded failed.
- Never trap a car (BRIEF.md): :meth:`CheckoutOps.let_go` opens the gate and
  records an IOU for the balance against the session and the plate; a plate
  with :data:`IOU_LIMIT` unpaid IOUs must settle them before it may enter.
- Every payment by a logged-in user belongs to that user's open shift.
- Refunds, validations and passes are created by a supervisor.

Money is integer minor units; times are aware datetimes stored in UTC.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update

from attendant.core.auth import Actor, Role, as_actor, require
from attendant.core.errors import AttendantError, InputError, NotFound, PaymentError, Refused
from attendant.core.money import format_money
from attendant.core.payments import ELECTRONIC, ProcessorRegistry, ProcessorTimeout, ProcessorUnavailable
from attendant.core.plates import normalize_plate
from attendant.core.rates import Fee, compute_fee
from attendant.core.shifts import open_shift_id
from attendant.core.tickets import format_ticket_no
from attendant.core.vocab import PaymentMethod, PaymentStatus, SessionStatus, SpotStatus, VendSource
from db.models import Iou, ParkingSession, PassHolder, Payment, Spot, Validation, ValidationUse, Vend

PS, S, PAY, VEND, IOU, VAL, VUSE, PASS = (
    t.__table__ for t in (ParkingSession, Spot, Payment, Vend, Iou, Validation, ValidationUse, PassHolder)
)
IOU_LIMIT = 3
COUNTED = (PaymentStatus.COMPLETED.value, PaymentStatus.REFUNDED.value)

# Hot-path statements, built once (see attendant.core.services).
_PAID = select(func.coalesce(func.sum(PAY.c.amount), 0)).where(
    PAY.c.session_id == bindparam("sid"), PAY.c.status.in_(COUNTED)
)
_IOUS = select(func.count(), func.coalesce(func.sum(IOU.c.amount), 0)).where(
    IOU.c.facility_id == bindparam("fid"), IOU.c.plate == bindparam("plate"), IOU.c.status == "open"
)
_INSERT_PAYMENT = insert(PAY).returning(PAY.c.id)
_PAYMENTS_OF = select(PAY).where(PAY.c.session_id == bindparam("sid")).order_by(PAY.c.id)
_PENDING_OF = select(func.count()).where(PAY.c.session_id == bindparam("sid"), PAY.c.status == "pending")
_CLOSE_SESSION = update(PS).where(PS.c.id == bindparam("sid")).values(
    status="closed",
    exit_at=bindparam("exit_at"),
    exit_lane=bindparam("exit_lane"),
    amount_due=bindparam("amount_due"),
    amount_paid=bindparam("amount_paid"),
    fee_lines=bindparam("fee_lines"),
    exit_actor=bindparam("exit_actor"),
    exit_reason=bindparam("exit_reason"),
)
_FREE_SPOT = update(S).where(S.c.id == bindparam("spot_id")).values(status="available")
_INSERT_VEND = insert(VEND)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1: read aloud over an intercom


def _random_code(prefix: str) -> str:
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"


@dataclass(frozen=True, slots=True)
class PaymentView:
    """One payment row as the exit lane and the receipt show it."""

    id: int
    method: str
    status: str
    amount: int
    tendered: int | None
    change: int | None
    reference: str | None
    message: str | None


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
class Checkout:
    """Where a session stands at the exit: fee, what was paid, what is left."""

    session_id: int
    ticket_no: str
    plate: str | None
    entry_at: datetime
    at: datetime
    fee: Fee
    paid: int
    balance: int
    payments: tuple[PaymentView, ...]
    open_ious: int


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """The result of one payment attempt. ``status`` is completed or failed."""

    payment: PaymentView
    balance: int
    fee: Fee


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
    id: int
    session_id: int
    ticket_no: str
    plate: str | None
    amount: int
    reason: str
    status: str
    created_at: datetime


def _payment_view(row) -> PaymentView:
    return PaymentView(row.id, row.method, row.status, row.amount, row.tendered, row.change, row.processor_ref,
                       row.message)


_NO_CLOSE = object()  # _finish_payment: record the answer only, leave the session open


class CheckoutOps:
    """Exit-lane operations (see the module docstring). Needs ParkingService's helpers."""

    processors: ProcessorRegistry

    # ----------------------------------------------------------------- helpers
    def _shift_for(self, conn, who: Actor) -> int | None:
        """The open shift of a logged-in user (required to take money); None for other actors."""
        if who.user_id is None:
            return None
        shift_id = open_shift_id(conn, self.facility.id, who.user_id)  # share-locked against a concurrent close
        if shift_id is None:
            raise Refused(f"{who.name} has no open shift: open a shift before taking payments")
        return shift_id

    def _paid(self, conn, session_id: int) -> int:
        return conn.execute(_PAID, {"sid": session_id}).scalar_one()

    def _priced_at(self, row, at: datetime) -> datetime:
        """Exit grace: a session paid up at ``paid_at`` is priced there while within the grace."""
        if row.paid_at is None:
            return at
        plan = self._plan_for(row)
        if at <= row.paid_at + timedelta(minutes=plan.exit_grace_minutes):
            return row.paid_at
        return at

    def _plan_for(self, row):
        with self.engine.connect().execution_options(readonly=True) as conn:
            return self._plan(conn, row.rate_plan_version_id)

    def _state(self, conn, row, at: datetime) -> tuple[Fee, int, int]:
        """(fee, paid, balance) of an open session if it leaves at ``at``."""
        if at < row.entry_at:
            entry = self.local(row.entry_at).isoformat(timespec="minutes")
            raise InputError(f"exit time is before the entry time ({entry})")
        plan = self._plan(conn, row.rate_plan_version_id)
        priced_at = at
        if row.paid_at is not None and at <= row.paid_at + timedelta(minutes=plan.exit_grace_minutes):
            priced_at = row.paid_at
        fee = compute_fee(
            plan, row.entry_at, priced_at, vehicle_class=row.vehicle_class, spot_type=row.spot_type, tz=self.tz
        )
        paid = self._paid(conn, row.id)
        return fee, paid, max(fee.amount - paid, 0)

    def _open_row(self, conn, code: str):
        row = self._session_row(conn, code)
        if row.status != SessionStatus.OPEN:
            raise Refused(self._closed_message(row))
        return row

    def _payments_of(self, conn, session_id: int) -> tuple[PaymentView, ...]:
        return tuple(_payment_view(r) for r in conn.execute(_PAYMENTS_OF, {"sid": session_id}))

    def _open_iou_count(self, conn, plate: str | None) -> tuple[int, int]:
        if not plate:
            return 0, 0
        count, total = conn.execute(_IOUS, {"fid": self.facility.id, "plate": plate}).one()
        return count, total

    def _insert_payment(self, conn, *, row, method, status, amount, who, shift_id, key, lane, at, tendered=None,
                        change=None, reference=None, message=None, refund_of=None) -> int:
        params = {
            "facility_id": self.facility.id,
            "session_id": row.id,
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
        }
        return conn.execute(_INSERT_PAYMENT, params).scalar_one()

    def _mark_paid_up(self, conn, row, at: datetime) -> int:
        fee, paid, balance = self._state(conn, row, at)
        if balance == 0:
            conn.execute(update(PS).where(PS.c.id == row.id).values(paid_at=at, amount_paid=paid))
        else:
            conn.execute(update(PS).where(PS.c.id == row.id).values(amount_paid=paid))
        return balance

    # ------------------------------------------------------------------ views
    def quote(self, code: str, *, at: datetime | None = None):
        """The fee owed by the session named by ``code`` if it leaves at ``at``.

        Returns an :class:`~attendant.core.services.ExitQuote`. Raises
        :class:`Refused` when the ticket has already exited.
        """
        from attendant.core.services import ExitQuote

        at = self._check_at(at)
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = self._open_row(conn, code)
            fee, _paid, _balance = self._state(conn, row, at)
        return ExitQuote(session=self._view(row), at=at, fee=fee)

    def checkout(self, code: str, *, at: datetime | None = None) -> Checkout:
        """Fee, payments so far and the balance of the session named by ``code``."""
        at = self._check_at(at)
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = self._open_row(conn, code)
            fee, paid, balance = self._state(conn, row, at)
            ious, _ = self._open_iou_count(conn, row.plate)
            payments = self._payments_of(conn, row.id)
        return Checkout(row.id, format_ticket_no(row.ticket_no), row.plate, row.entry_at, at, fee, paid, balance,
                        payments, ious)

    # --------------------------------------------------------------- payments
    def pay(
        self,
        code: str,
        method: str | PaymentMethod,
        *,
        actor: Actor | str,
        amount: int | None = None,
        tendered: int | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
        lane: str | None = None,
        at: datetime | None = None,
    ) -> PaymentOutcome:
        """Take one payment (part or all of the balance) for the session named by ``code``.

        ``amount`` defaults to the whole balance and may not exceed it. Cash:
        ``tendered`` (default: exact) must cover ``amount``; the change is
        returned. Pass: ``reference`` is the pass code (default: a valid pass
        of the session's plate) and covers the balance. Account: ``reference``
        names the account to invoice. Electronic methods ask the processor;
        a decline or outage returns/raises without changing the balance.
        Same ``idempotency_key`` → the first outcome, never a second charge.
        Raises :class:`PaymentError` (underpayment, decline, outage, timeout),
        :class:`Refused`, :class:`InputError`.
        """
        return self._pay(code, method, actor=actor, amount=amount, tendered=tendered, reference=reference,
                         idempotency_key=idempotency_key, lane=lane, at=at)[0]

    def _pay(self, code, method, *, actor, amount=None, tendered=None, reference=None, idempotency_key=None,
             lane=None, at=None, close: bool = False):
        """:meth:`pay`, returning ``(outcome, exit result or None)``.

        ``close``: when an electronic payment is approved and clears the
        balance, close the session in the same transaction that records the
        approval (one commit fewer per card exit); the exit result is returned.
        """
        who = as_actor(actor)
        pay_method = _method(method)
        if pay_method is PaymentMethod.VALIDATION:
            raise InputError("a validation is applied with its code (apply_validation), not paid")
        if pay_method is PaymentMethod.IOU:
            raise InputError("an IOU is recorded by letting the vehicle go (let_go), not paid")
        if amount is not None and amount <= 0:
            raise InputError("a payment amount must be more than zero")
        if tendered is not None and tendered < 0:
            raise InputError("tendered amount cannot be negative")
        at = self._check_at(at)
        key = idempotency_key or f"pay-{uuid.uuid4()}"
        with self._lock:
            if idempotency_key:
                previous = self._payment_by_key(idempotency_key)
                if previous is not None and previous.status != PaymentStatus.PENDING.value:
                    if previous.status == PaymentStatus.FAILED.value and pay_method in ELECTRONIC:
                        pass  # re-ask the processor below: it answers for the same key, never charging twice
                    else:
                        return self._outcome_for(code, previous, at), None
            if pay_method in ELECTRONIC:
                return self._pay_electronic(code, pay_method, who, amount, key, lane, at, close)
            return self._pay_local(code, pay_method, who, amount, tendered, reference, key, lane, at), None

    def _payment_by_key(self, key: str) -> PaymentView | None:
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = conn.execute(select(PAY).where(PAY.c.idempotency_key == key)).first()
        return _payment_view(row) if row else None

    def _outcome_for(self, code: str, payment: PaymentView, at: datetime) -> PaymentOutcome:
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = self._session_row(conn, code)
            if row.status == SessionStatus.OPEN:
                fee, _paid, balance = self._state(conn, row, at)
            else:
                fee = self._stored_fee(row)
                balance = 0
        return PaymentOutcome(payment, balance, fee)

    def _stored_fee(self, row) -> Fee:
        from attendant.core.rates import FeeLine

        lines = tuple(FeeLine(d["label"], d["minutes"], d["amount"]) for d in row.fee_lines or ())
        return Fee(amount=row.amount_due or 0, currency=self.facility.currency, lines=lines, plan_name="",
                   plan_version=None)

    def _pay_local(self, code, method, who, amount, tendered, reference, key, lane, at) -> PaymentOutcome:
        now = utc_now()
        with self.engine.begin() as conn:
            row = self._open_row(conn, code)
            fee, paid, balance = self._state(conn, row, at)
            payment_id, _paid, balance = self._take_local(
                conn, row, fee, paid, balance, method, who, amount, tendered, reference, key, lane, at, now
            )
            view = _payment_view(conn.execute(select(PAY).where(PAY.c.id == payment_id)).one())
        return PaymentOutcome(view, balance, fee)

    def _take_local(self, conn, row, fee, paid, balance, method, who, amount, tendered, reference, key, lane, at,
                    now) -> tuple[int, int, int]:
        """Record a cash/pass/account payment inside ``conn``; returns (payment id, paid, balance)."""
        cur = self.facility.currency
        if balance == 0:
            raise Refused(f"ticket {format_ticket_no(row.ticket_no)} owes nothing: let the vehicle out")
        amount = balance if amount is None else amount
        if amount > balance:
            raise PaymentError(f"{format_money(amount, cur)} is more than the balance {format_money(balance, cur)}")
        change = None
        if method is PaymentMethod.CASH:
            tendered = amount if tendered is None else tendered
            if tendered < amount:
                raise PaymentError(
                    f"cash tendered {format_money(tendered, cur)} is less than the "
                    f"{format_money(amount, cur)} due: nothing was taken"
                )
            change = tendered - amount
        else:
            tendered = None
        if method is PaymentMethod.PASS:
            reference = self._valid_pass(conn, row, reference, at)
            amount = balance
        if method is PaymentMethod.ACCOUNT:
            if not reference or not reference.strip():
                raise InputError("an account payment needs the account name (reference)")
            reference = reference.strip()[:80]
        shift_id = self._shift_for(conn, who)
        payment_id = self._insert_payment(
            conn, row=row, method=method, status=PaymentStatus.COMPLETED, amount=amount, who=who,
            shift_id=shift_id, key=key, lane=lane, at=at, tendered=tendered, change=change, reference=reference,
        )
        paid, balance = paid + amount, balance - amount
        values = {"amount_paid": paid, "paid_at": at} if balance == 0 else {"amount_paid": paid}
        conn.execute(update(PS).where(PS.c.id == row.id).values(**values))
        self._audit(conn, now=now, at=at, actor=who.name, action="payment.take", entity="payment",
                    entity_id=payment_id,
                    details={"ticket_no": row.ticket_no, "method": method.value, "amount": amount,
                             "tendered": tendered, "change": change, "reference": reference,
                             "shift_id": shift_id, "balance": balance, "idempotency_key": key})
        return payment_id, paid, balance

    def _valid_pass(self, conn, row, reference: str | None, at: datetime) -> str:
        stmt = select(PASS).where(PASS.c.facility_id == self.facility.id, PASS.c.active.is_(True))
        if reference:
            stmt = stmt.where(PASS.c.code == reference.strip().upper())
        elif row.plate:
            stmt = stmt.where(PASS.c.plate == row.plate)
        else:
            raise InputError("give the pass code: this vehicle has no plate on record")
        holder = conn.execute(stmt.order_by(PASS.c.valid_to.desc())).first()
        if holder is None:
            raise Refused("no valid pass found for this vehicle" if not reference else f"no pass {reference!r}")
        if not holder.valid_from <= at <= holder.valid_to:
            until = self.local(holder.valid_to).strftime("%d %b %Y")
            raise Refused(f"pass {holder.code} is not valid now (valid until {until})")
        if holder.plate and row.plate and holder.plate != row.plate:
            raise Refused(f"pass {holder.code} belongs to {holder.plate}, not {row.plate}")
        return holder.code

    def _pay_electronic(self, code, method, who, amount, key, lane, at, close=False):
        """Pending row, processor, outcome row; returns ``(outcome, exit result or None)`` (see :meth:`_pay`)."""
        processor = self.processors.get(method)
        now = utc_now()
        cur = self.facility.currency
        with self.engine.begin() as conn:  # 1. record the attempt as pending
            row = self._open_row(conn, code)
            fee, _paid, balance = self._state(conn, row, at)
            existing = conn.execute(select(PAY).where(PAY.c.idempotency_key == key)).first()
            if existing is not None:
                payment_id, amount = existing.id, existing.amount
                conn.execute(update(PAY).where(PAY.c.id == payment_id).values(status="pending", updated_at=now))
            else:
                if balance == 0:
                    raise Refused(f"ticket {format_ticket_no(row.ticket_no)} owes nothing: let the vehicle out")
                amount = balance if amount is None else amount
                if amount > balance:
                    raise PaymentError(f"{format_money(amount, cur)} is more than the balance "
                                       f"{format_money(balance, cur)}")
                shift_id = self._shift_for(conn, who)
                payment_id = self._insert_payment(
                    conn, row=row, method=method, status=PaymentStatus.PENDING, amount=amount, who=who,
                    shift_id=shift_id, key=key, lane=lane, at=at,
                )
        # 2. ask the processor, outside any transaction; retry timeouts with the same key
        result, failure = None, None
        for _attempt in range(self.processors.retries + 1):
            try:
                result = processor.charge(amount, cur, key, f"{self.facility.code}-{format_ticket_no(row.ticket_no)}")
                failure = None
                break
            except ProcessorTimeout as exc:
                failure = exc
            except ProcessorUnavailable as exc:
                failure = exc
                break
        if isinstance(failure, ProcessorTimeout):
            try:
                processor.void(key)  # timeout reversal: the outcome must not stay unknown
                message = f"{failure}; voided at the processor, nothing charged"
            except Exception as exc:  # the void itself failed: leave it pending for reconciliation
                self._finish_payment(payment_id, row, status=PaymentStatus.PENDING, reference=None,
                                     message=f"{failure}; void failed ({exc})", who=who, at=at, now=now)
                raise PaymentError(f"{failure}: outcome unknown, retry with the same request to settle it") from None
        elif failure is not None:
            message = str(failure)
        if failure is not None:
            self._finish_payment(payment_id, row, status=PaymentStatus.FAILED, reference=None, message=message,
                                 who=who, at=at, now=now)
            raise PaymentError(f"{message}: nothing was taken; try again, use another method, or let go with an IOU")
        status = PaymentStatus.COMPLETED if result.approved else PaymentStatus.FAILED
        close_lane = lane if close and result.approved else _NO_CLOSE
        outcome, done = self._finish_payment(payment_id, row, status=status, reference=result.reference,
                                             message=result.message, who=who, at=at, now=now, close_lane=close_lane)
        if not result.approved:
            raise PaymentError(f"{method.value} {result.message}: nothing was taken; try again, use another "
                               "method, or let go with an IOU")
        return outcome, done

    def _finish_payment(self, payment_id, row, *, status, reference, message, who, at, now, close_lane=_NO_CLOSE):
        """Record the processor's answer; returns ``(outcome, exit result or None)``.

        ``close_lane`` (not :data:`_NO_CLOSE`): an approved payment that
        clears the balance also closes the session, in this transaction.
        """
        closing = close_lane is not _NO_CLOSE and status is PaymentStatus.COMPLETED
        closed = None
        with self.engine.begin() as conn:
            if closing:
                self._bump(conn, ticket=False)  # the same lock order as every other exit
            conn.execute(
                update(PAY).where(PAY.c.id == payment_id).values(
                    status=status.value, processor_ref=reference, message=(message or "")[:200], updated_at=now
                )
            )
            fresh = conn.execute(select(PS).where(PS.c.id == row.id)).one()
            balance = self._mark_paid_up(conn, fresh, at)
            fee, _paid, _ = self._state(conn, fresh, at)
            payment = conn.execute(select(PAY).where(PAY.c.id == payment_id)).one()
            self._audit(conn, now=now, at=at, actor=who.name, action=f"payment.{status.value}", entity="payment",
                        entity_id=payment_id,
                        details={"ticket_no": row.ticket_no, "method": payment.method, "amount": payment.amount,
                                 "reference": reference, "message": message, "balance": balance,
                                 "shift_id": payment.shift_id, "idempotency_key": payment.idempotency_key})
            if closing and balance == 0:
                # a savepoint: should the close be refused (another payment still pending), the approval
                # above still commits (the money was taken) and the caller's complete_exit reports why
                try:
                    with conn.begin_nested():
                        paid_up = self._open_row(conn, row.code)  # with its bay and level, for the exit result
                        paid = paid_up.amount_paid  # just set by _mark_paid_up: no second fee computation
                        closed = (paid_up, paid,
                                  self._close_in(conn, paid_up, fee, paid, 0, who, close_lane, at, now, None))
                except AttendantError:
                    closed = None
        outcome = PaymentOutcome(_payment_view(payment), balance, fee)
        if closed is None:
            return outcome, None
        paid_up, paid, (iou_id, payments) = closed
        return outcome, self._after_close(paid_up, fee, paid, 0, close_lane, at, iou_id, payments)

    def apply_validation(self, code: str, validation_code: str, *, actor: Actor | str,
                         at: datetime | None = None) -> PaymentOutcome:
        """Apply a merchant validation to a session: a payment of method ``validation``.

        Amount: its value off; percent: that share of the fee (rounded half up
        to the minor unit); minutes: the fee minus the fee of a stay that many
        minutes shorter. Never more than the balance. Refused when expired,
        inactive, used up, single-use and used, or already applied here.
        """
        who = as_actor(actor)
        at = self._check_at(at)
        now = utc_now()
        vcode = validation_code.strip().upper()
        with self._lock, self.engine.begin() as conn:
            row = self._open_row(conn, code)
            val = conn.execute(select(VAL).where(VAL.c.code == vcode, VAL.c.facility_id == self.facility.id)).first()
            if val is None:
                raise NotFound(f"no validation {vcode!r}")
            if not val.active:
                raise Refused(f"validation {vcode} has been withdrawn")
            if val.expires_at is not None and at >= val.expires_at:
                raise Refused(f"validation {vcode} expired {self.local(val.expires_at):%d %b %Y %H:%M}")
            if not val.reusable and val.uses >= 1:
                raise Refused(f"validation {vcode} is single-use and has been used")
            if val.max_uses is not None and val.uses >= val.max_uses:
                raise Refused(f"validation {vcode} has reached its {val.max_uses} uses")
            if conn.execute(select(VUSE.c.id).where(VUSE.c.validation_id == val.id,
                                                    VUSE.c.session_id == row.id)).first():
                raise Refused(f"validation {vcode} is already applied to this ticket")
            fee, _paid, balance = self._state(conn, row, at)
            if val.kind == "amount":
                off = val.value
            elif val.kind == "percent":
                off = (fee.amount * val.value + 50) // 100  # round half up (amounts are non-negative)
            else:
                shorter = max(at - timedelta(minutes=val.value), row.entry_at)
                plan = self._plan(conn, row.rate_plan_version_id)
                reduced = compute_fee(plan, row.entry_at, shorter, vehicle_class=row.vehicle_class,
                                      spot_type=row.spot_type, tz=self.tz)
                off = fee.amount - reduced.amount
            off = max(0, min(off, balance))
            if off == 0:
                raise Refused(f"validation {vcode} takes nothing off: the balance is "
                              f"{format_money(balance, self.facility.currency)}")
            shift_id = self._shift_for(conn, who)
            payment_id = self._insert_payment(
                conn, row=row, method=PaymentMethod.VALIDATION, status=PaymentStatus.COMPLETED, amount=off,
                who=who, shift_id=shift_id, key=f"val-{uuid.uuid4()}", lane=None, at=at, reference=vcode,
                message=val.merchant,
            )
            conn.execute(insert(VUSE).values(validation_id=val.id, session_id=row.id, amount_off=off, at=at,
                                             actor=who.name))
            conn.execute(update(VAL).where(VAL.c.id == val.id).values(uses=VAL.c.uses + 1))
            conn.execute(update(PS).where(PS.c.id == row.id).values(discount=PS.c.discount + off))
            balance = self._mark_paid_up(conn, row, at)
            self._audit(conn, now=now, at=at, actor=who.name, action="validation.apply", entity="payment",
                        entity_id=payment_id,
                        details={"ticket_no": row.ticket_no, "validation": vcode, "merchant": val.merchant,
                                 "amount_off": off, "balance": balance})
            view = _payment_view(conn.execute(select(PAY).where(PAY.c.id == payment_id)).one())
        return PaymentOutcome(view, balance, fee)

    # ------------------------------------------------------------------- exit
    def complete_exit(self, code: str, *, actor: Actor | str, lane: str | None = None,
                      at: datetime | None = None):
        """Let a paid-up vehicle out: close the session, free the bay, log the vend.

        Raises :class:`PaymentError` if a balance remains (take payment or
        :meth:`let_go` with an IOU).
        """
        return self._close(code, actor=actor, lane=lane, at=at, iou_reason=None)

    def let_go(self, code: str, *, actor: Actor | str, reason: str, lane: str | None = None,
               at: datetime | None = None):
        """Never trap a car: open the gate and record an IOU for the balance.

        ``reason`` is required (e.g. "card declined, processor down"). The IOU
        names the session and the plate; :data:`IOU_LIMIT` open IOUs make the
        plate prepay (settle) before its next entry.
        """
        if not reason or not reason.strip():
            raise InputError("letting a vehicle go without payment needs a reason")
        return self._close(code, actor=actor, lane=lane, at=at, iou_reason=reason.strip()[:200])

    def _close(self, code, *, actor, lane, at, iou_reason):
        who = as_actor(actor)
        at = self._check_at(at)
        now = utc_now()
        with self._lock:
            self.signer.verify(code)
            with self.engine.begin() as conn:
                self._bump(conn, ticket=False)
                row = self._open_row(conn, code)
                fee, paid, balance = self._state(conn, row, at)
                closed = self._close_in(conn, row, fee, paid, balance, who, lane, at, now, iou_reason)
            return self._after_close(row, fee, paid, balance, lane, at, *closed)

    def _close_in(self, conn, row, fee, paid, balance, who, lane, at, now, iou_reason):
        """Close an open session inside ``conn``: IOU if needed, bay freed, vend, audit.

        Returns (iou id or None, payments of the session).
        """
        if iou_reason is None and conn.execute(_PENDING_OF, {"sid": row.id}).scalar_one():
            raise Refused("a payment for this ticket is still pending: retry it before the exit")
        iou_id = None
        if balance > 0:
            if iou_reason is None:
                raise PaymentError(
                    f"{format_money(balance, self.facility.currency)} is still due: take payment or let go "
                    "with an IOU"
                )
            iou_id = conn.execute(insert(IOU).values(
                facility_id=self.facility.id, session_id=row.id, plate=row.plate, amount=balance,
                reason=iou_reason, status="open", created_at=at, actor=who.name,
            ).returning(IOU.c.id)).scalar_one()
        conn.execute(_CLOSE_SESSION, {
            "sid": row.id, "exit_at": at, "exit_lane": lane, "amount_due": fee.amount, "amount_paid": paid,
            "fee_lines": [{"label": ln.label, "minutes": ln.minutes, "amount": ln.amount} for ln in fee.lines],
            "exit_actor": who.name, "exit_reason": iou_reason,
        })
        conn.execute(_FREE_SPOT, {"spot_id": row.spot_id})
        if iou_id is not None:
            source, reason = VendSource.ATTENDANT.value, f"IOU: {iou_reason}"
        elif paid:
            source, reason = VendSource.PAYMENT.value, None
        else:
            source, reason = VendSource.TICKET.value, "no fee due"
        conn.execute(_INSERT_VEND, {
            "facility_id": self.facility.id, "lane": lane, "direction": "exit", "source": source, "reason": reason,
            "session_id": row.id, "at": at, "actor": who.name,
        })
        payments = self._payments_of(conn, row.id)
        self._audit(conn, now=now, at=at, actor=who.name,
                    action="session.exit_iou" if iou_id else "session.exit", entity="parking_session",
                    entity_id=row.id,
                    details={"ticket_no": row.ticket_no, "amount_due": fee.amount, "paid": paid,
                             "iou_id": iou_id, "iou_amount": balance if iou_id else 0,
                             "reason": iou_reason, "lane": lane, "plate": row.plate})
        return iou_id, payments

    def _after_close(self, row, fee, paid, balance, lane, at, iou_id, payments):
        """After the commit: the bay index and listeners, and the result."""
        self._cache.index.set_status(row.spot_id, SpotStatus.AVAILABLE)
        self._cache.revision += 1
        self._notify(row.spot_id, SpotStatus.AVAILABLE)
        return self._exit_result(row, fee, paid, tuple(payments), balance if iou_id else 0, at, lane)

    def _exit_result(self, row, fee, paid, payments, iou_amount, exit_at, lane):
        """The :class:`ExitResult` of a closed session from its row, fee and payments."""
        from attendant.core.services import ExitResult

        done = [p for p in payments if p.status in COUNTED and p.amount > 0]
        cash = next((p for p in reversed(done) if p.method == PaymentMethod.CASH.value), None)
        methods = {p.method for p in done}
        return ExitResult(
            session_id=row.id,
            ticket_no=format_ticket_no(row.ticket_no),
            plate=row.plate,
            spot_label=row.spot_label,
            entry_at=row.entry_at,
            exit_at=exit_at,
            fee=fee,
            method=(methods.pop() if len(methods) == 1 else "split") if methods else None,
            paid=paid,
            tendered=cash.tendered if cash else None,
            change=cash.change if cash else None,
            payment_id=done[-1].id if done else None,
            lane=lane,
            currency=self.facility.currency,
            payments=payments,
            iou_amount=iou_amount,
        )

    def exit(self, code: str, *, method: str | PaymentMethod, actor: Actor | str, tendered: int | None = None,
             lane: str | None = None, at: datetime | None = None, idempotency_key: str | None = None,
             reference: str | None = None):
        """Pay the whole balance with one method and let the vehicle out.

        The one-step exit used by the CLI and the lanes: a retried call with the
        same ``idempotency_key`` returns the first exit instead of charging twice.
        Cash needs ``tendered`` >= the balance (default exact). Raises as
        :meth:`pay` and :meth:`complete_exit`; on a failed payment nothing changes.
        """
        at = self._check_at(at)
        if idempotency_key:
            done = self.exit_by_idempotency_key(idempotency_key)
            if done is not None:
                return done
        pay_method = _method(method)  # validate before anything happens
        if pay_method not in ELECTRONIC:
            return self._exit_local(code, pay_method, as_actor(actor), tendered, reference, idempotency_key, lane,
                                    at)
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = self._open_row(conn, code)
            _fee, _paid, balance = self._state(conn, row, at)
        if balance > 0:
            _outcome, done = self._pay(code, method, actor=actor, tendered=tendered, reference=reference,
                                       idempotency_key=idempotency_key, lane=lane, at=at, close=True)
            if done is not None:
                return done  # approved and closed in one commit
        return self.complete_exit(code, actor=actor, lane=lane, at=at)

    def _exit_local(self, code, method, who, tendered, reference, key, lane, at):
        """Pay (cash, pass, account) and close in one transaction: one commit per exit."""
        if method in (PaymentMethod.VALIDATION, PaymentMethod.IOU):
            raise InputError(f"{method.value} is not a way to pay the whole balance here")
        if tendered is not None and tendered < 0:
            raise InputError("tendered amount cannot be negative")
        now = utc_now()
        with self._lock:
            self.signer.verify(code)
            with self.engine.begin() as conn:
                self._bump(conn, ticket=False)
                row = self._open_row(conn, code)
                fee, paid, balance = self._state(conn, row, at)
                if balance > 0:
                    _pid, paid, balance = self._take_local(
                        conn, row, fee, paid, balance, method, who, None, tendered, reference,
                        key or f"pay-{uuid.uuid4()}", lane, at, now,
                    )
                closed = self._close_in(conn, row, fee, paid, balance, who, lane, at, now, None)
            return self._after_close(row, fee, paid, balance, lane, at, *closed)

    def exit_by_idempotency_key(self, key: str):
        """The exit made earlier with a payment of idempotency ``key``, if that session is closed."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            hit = conn.execute(
                select(PS.c.code).join(PAY, PAY.c.session_id == PS.c.id)
                .where(PAY.c.idempotency_key == key, PS.c.status == "closed")
            ).first()
        return self.closed_exit(hit.code) if hit else None

    def closed_exit(self, code: str):
        """The :class:`ExitResult` of a session that has already exited (for reprints and retries)."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = self._session_row(conn, code)
            if row.status != SessionStatus.CLOSED:
                raise Refused(f"ticket {format_ticket_no(row.ticket_no)} has not exited")
            payments = self._payments_of(conn, row.id)
            iou = conn.execute(select(func.coalesce(func.sum(IOU.c.amount), 0)).where(
                IOU.c.session_id == row.id)).scalar_one()
        return self._exit_result(row, self._stored_fee(row), row.amount_paid, payments, iou, row.exit_at,
                                 row.exit_lane)

    # ------------------------------------------------------------- IOUs, refunds
    def ious(self, plate: str | None = None, *, status: str | None = "open") -> list[IouView]:
        """IOUs of this facility (of ``plate`` if given), newest first."""
        stmt = (select(IOU, PS.c.ticket_no).join(PS, PS.c.id == IOU.c.session_id)
                .where(IOU.c.facility_id == self.facility.id).order_by(IOU.c.id.desc()))
        if plate:
            stmt = stmt.where(IOU.c.plate == normalize_plate(plate))
        if status:
            stmt = stmt.where(IOU.c.status == status)
        with self.engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(stmt).all()
        return [IouView(r.id, r.session_id, format_ticket_no(r.ticket_no), r.plate, r.amount, r.reason, r.status,
                        r.created_at) for r in rows]

    def settle_ious(self, plate: str, method: str | PaymentMethod, *, actor: Actor | str,
                    tendered: int | None = None, lane: str | None = None,
                    at: datetime | None = None) -> list[PaymentView]:
        """Pay every open IOU of ``plate`` (one payment per IOU, on its session).

        Electronic methods go through the processor per IOU; cash needs
        ``tendered`` >= the total (default exact).
        """
        who = as_actor(actor)
        pay_method = _method(method)
        if pay_method not in (PaymentMethod.CASH, *ELECTRONIC, PaymentMethod.ACCOUNT):
            raise InputError(f"IOUs are settled by cash, card, UPI, e-wallet, mobile or account, not {pay_method}")
        at = self._check_at(at)
        norm = normalize_plate(plate)
        open_ious = self.ious(norm)
        if not open_ious:
            raise NotFound(f"{norm} has no unpaid IOU")
        total = sum(i.amount for i in open_ious)
        cur = self.facility.currency
        if pay_method is PaymentMethod.CASH and tendered is not None and tendered < total:
            raise PaymentError(f"cash tendered {format_money(tendered, cur)} is less than the IOUs "
                               f"{format_money(total, cur)}: nothing was taken")
        change_left = (tendered - total) if (pay_method is PaymentMethod.CASH and tendered is not None) else None
        results = []
        now = utc_now()
        with self._lock:
            for n, iou in enumerate(open_ious):
                key = f"iou-{iou.id}-{uuid.uuid4()}"
                last = n == len(open_ious) - 1
                reference = None
                if pay_method in ELECTRONIC:
                    processor = self.processors.get(pay_method)
                    try:
                        result = processor.charge(iou.amount, cur, key, f"{self.facility.code}-IOU-{iou.id}")
                    except (ProcessorTimeout, ProcessorUnavailable) as exc:
                        raise PaymentError(f"{exc}: IOU {iou.id} not settled") from None
                    if not result.approved:
                        raise PaymentError(f"{pay_method.value} {result.message}: IOU {iou.id} not settled")
                    reference = result.reference
                with self.engine.begin() as conn:
                    session = conn.execute(select(PS).where(PS.c.id == iou.session_id)).one()
                    shift_id = self._shift_for(conn, who)
                    cash_kw = {}
                    if pay_method is PaymentMethod.CASH:
                        cash_kw = {"tendered": iou.amount + (change_left if last and change_left else 0),
                                   "change": change_left if last and change_left else 0}
                    payment_id = self._insert_payment(
                        conn, row=session, method=pay_method, status=PaymentStatus.COMPLETED, amount=iou.amount,
                        who=who, shift_id=shift_id, key=key, lane=lane, at=at, reference=reference,
                        message=f"IOU {iou.id}", **cash_kw,
                    )
                    conn.execute(update(IOU).where(IOU.c.id == iou.id).values(
                        status="settled", settled_at=at, settled_payment_id=payment_id))
                    conn.execute(update(PS).where(PS.c.id == session.id).values(
                        amount_paid=PS.c.amount_paid + iou.amount))
                    self._audit(conn, now=now, at=at, actor=who.name, action="iou.settle", entity="iou",
                                entity_id=iou.id, details={"plate": norm, "amount": iou.amount,
                                                           "payment_id": payment_id, "method": pay_method.value})
                    results.append(_payment_view(conn.execute(select(PAY).where(PAY.c.id == payment_id)).one()))
        return results

    def refundable_payments(self, limit: int = 30) -> list[RefundablePayment]:
        """The newest money payments that can still be refunded, newest first (for a supervisor's pick list).

        Money taken (cash, card, UPI, e-wallet, mobile, account), not yet
        refunded in full; ``refundable`` is what is left, in minor units.
        Validations and passes took no money and are not listed. Reads at most
        ``2 * limit`` payments (fully refunded ones are rare) plus their refunds.
        """
        stmt = (
            select(PAY.c.id, PAY.c.method, PAY.c.amount, PAY.c.status, PAY.c.created_at, PS.c.ticket_no, PS.c.plate)
            .join(PS, PS.c.id == PAY.c.session_id)
            .where(PAY.c.facility_id == self.facility.id, PAY.c.status.in_(COUNTED), PAY.c.amount > 0,
                   PAY.c.method.not_in((PaymentMethod.VALIDATION.value, PaymentMethod.PASS.value)))
            .order_by(PAY.c.id.desc())
            .limit(2 * limit)
        )
        with self.engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(stmt).all()
            partly = [r.id for r in rows if r.status == PaymentStatus.REFUNDED.value]
            refunded = dict(conn.execute(
                select(PAY.c.refund_of_id, func.sum(-PAY.c.amount)).where(PAY.c.refund_of_id.in_(partly))
                .group_by(PAY.c.refund_of_id)
            ).all()) if partly else {}
        out = [
            RefundablePayment(r.id, format_ticket_no(r.ticket_no), r.plate, r.method, r.amount,
                              r.amount - int(refunded.get(r.id, 0)), r.created_at)
            for r in rows
        ]
        return [p for p in out if p.refundable > 0][:limit]

    def refund(self, payment_id: int, *, actor: Actor | str, reason: str, amount: int | None = None,
               at: datetime | None = None) -> PaymentView:
        """Refund (part of) a completed payment; supervisors only.

        Writes a negative payment row (same method) on the refunding user's
        shift and marks the original ``refunded``. Electronic payments are
        refunded through their processor. Raises :class:`PermissionDenied`,
        :class:`NotFound`, :class:`Refused` (not completed, more than paid).
        """
        who = require(actor, Role.SUPERVISOR, "a refund")
        if not reason or not reason.strip():
            raise InputError("a refund needs a reason")
        at = self._check_at(at)
        now = utc_now()
        with self._lock:
            with self.engine.connect().execution_options(readonly=True) as conn:
                original = conn.execute(select(PAY).where(PAY.c.id == payment_id,
                                                          PAY.c.facility_id == self.facility.id)).first()
                if original is None:
                    raise NotFound(f"no payment {payment_id}")
                refunded = -conn.execute(select(func.coalesce(func.sum(PAY.c.amount), 0)).where(
                    PAY.c.refund_of_id == payment_id)).scalar_one()
            if original.status not in COUNTED or original.amount <= 0:
                raise Refused(f"payment {payment_id} is {original.status}: nothing to refund")
            refundable = original.amount - refunded
            amount = refundable if amount is None else amount
            if amount <= 0 or amount > refundable:
                cur = self.facility.currency
                raise Refused(f"refund must be between {format_money(1, cur)} and {format_money(refundable, cur)}")
            method = PaymentMethod(original.method)
            key = f"refund-{payment_id}-{uuid.uuid4()}"
            reference = None
            if method in ELECTRONIC:
                result = self.processors.get(method).refund(original.processor_ref or "", amount, key)
                if not result.approved:
                    raise PaymentError(f"the processor refused the refund: {result.message}")
                reference = result.reference
            with self.engine.begin() as conn:
                shift_id = self._shift_for(conn, who)
                session = conn.execute(select(PS).where(PS.c.id == original.session_id)).one()
                refund_id = self._insert_payment(
                    conn, row=session, method=method, status=PaymentStatus.COMPLETED, amount=-amount, who=who,
                    shift_id=shift_id, key=key, lane=None, at=at, reference=reference, message=reason.strip()[:200],
                    refund_of=payment_id,
                )
                conn.execute(update(PAY).where(PAY.c.id == payment_id).values(
                    status=PaymentStatus.REFUNDED.value, updated_at=now))
                conn.execute(update(PS).where(PS.c.id == session.id).values(
                    amount_paid=PS.c.amount_paid - amount))
                self._audit(conn, now=now, at=at, actor=who.name, action="payment.refund", entity="payment",
                            entity_id=refund_id, details={"refund_of": payment_id, "amount": amount,
                                                          "method": method.value, "reason": reason.strip()})
                view = _payment_view(conn.execute(select(PAY).where(PAY.c.id == refund_id)).one())
        return view

    # ------------------------------------------------------ validations, passes
    def create_validation(self, *, actor: Actor | str, merchant: str, kind: str, value: int,
                          reusable: bool = False, max_uses: int | None = None, expires_at: datetime | None = None,
                          code: str | None = None) -> str:
        """Create a merchant validation; supervisors only. Returns its code (``V-XXXX-XXXX``).

        ``kind`` amount (``value`` minor units), percent (1-100) or minutes.
        """
        who = require(actor, Role.SUPERVISOR, "creating a validation")
        if kind not in ("amount", "percent", "minutes"):
            raise InputError(f"unknown validation kind {kind!r} (amount, percent or minutes)")
        if value <= 0 or (kind == "percent" and value > 100):
            raise InputError("a validation value must be positive (percent at most 100)")
        if max_uses is not None and max_uses <= 0:
            raise InputError("max uses must be positive")
        if not merchant or not merchant.strip():
            raise InputError("a validation needs the merchant's name")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InputError("expiry needs a time zone")
        code = (code or _random_code("V")).strip().upper()
        now = utc_now()
        with self.engine.begin() as conn:
            if conn.execute(select(VAL.c.id).where(VAL.c.code == code)).first():
                raise InputError(f"validation code {code} exists")
            vid = conn.execute(insert(VAL).values(
                facility_id=self.facility.id, code=code, merchant=merchant.strip()[:80], kind=kind, value=value,
                reusable=reusable, max_uses=max_uses, uses=0, expires_at=expires_at, active=True,
                created_at=now, created_by=who.name,
            ).returning(VAL.c.id)).scalar_one()
            self._audit(conn, now=now, at=now, actor=who.name, action="validation.create", entity="validation",
                        entity_id=vid, details={"code": code, "merchant": merchant, "kind": kind, "value": value,
                                                "reusable": reusable, "max_uses": max_uses})
        return code

    def create_pass(self, *, actor: Actor | str, holder_name: str, plate: str | None, valid_from: datetime,
                    valid_to: datetime, code: str | None = None) -> str:
        """Issue a pass (monthly/contract parker); supervisors only. Returns its code (``P-XXXX-XXXX``)."""
        who = require(actor, Role.SUPERVISOR, "issuing a pass")
        if valid_from.tzinfo is None or valid_to.tzinfo is None:
            raise InputError("pass validity needs times with a zone")
        if valid_to <= valid_from:
            raise InputError("a pass must end after it starts")
        norm = normalize_plate(plate) if plate else None
        code = (code or _random_code("P")).strip().upper()
        now = utc_now()
        with self.engine.begin() as conn:
            pid = conn.execute(insert(PASS).values(
                facility_id=self.facility.id, code=code, plate=norm, holder_name=holder_name.strip()[:80],
                valid_from=valid_from, valid_to=valid_to, active=True, created_at=now,
            ).returning(PASS.c.id)).scalar_one()
            self._audit(conn, now=now, at=now, actor=who.name, action="pass.create", entity="pass_holder",
                        entity_id=pid, details={"code": code, "plate": norm, "holder": holder_name})
        return code

    def pass_info(self, code: str, *, at: datetime | None = None) -> PassView:
        """The pass with ``code`` (as scanned) and whether it is valid at ``at`` (default now).

        Raises :class:`NotFound` for an unknown code.
        """
        at = self._check_at(at)
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = conn.execute(select(PASS).where(PASS.c.facility_id == self.facility.id,
                                                  PASS.c.code == code.strip().upper())).first()
        if row is None:
            raise NotFound(f"no pass {code.strip()!r}")
        valid = bool(row.active) and row.valid_from <= at <= row.valid_to
        return PassView(row.code, row.holder_name, row.plate, row.valid_from, row.valid_to, bool(row.active), valid)

    def identify(self, scanned: str) -> str:
        """What a scanned code is: ``ticket``, ``pass`` or ``validation``; InputError otherwise."""
        text = scanned.strip().upper()
        if text.startswith("V-"):
            return "validation"
        if text.startswith("P-"):
            return "pass"
        self.signer.verify(text)
        return "ticket"


def _method(method) -> PaymentMethod:
    try:
        return PaymentMethod(str(method).strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in PaymentMethod if m is not PaymentMethod.IOU)
        raise InputError(f"unknown payment method {method!r} (one of: {known})") from None


def utc_now() -> datetime:
    return datetime.now(UTC)
