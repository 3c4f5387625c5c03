"""The back office: what supervisors do after the exit lane (BRIEF.md features 6 and 8).

- IOUs: the debts of vehicles let go without paying (never trap a car) are
  listed and settled; a plate with :data:`attendant.core.checkout.IOU_LIMIT`
  unpaid IOUs must settle them before it may enter again.
- Refunds: a negative payment row of the same method on the refunding
  user's shift; the original becomes ``refunded``. Electronic payments are
  refunded through their processor (with an idempotency key, seed 003).
- Merchant validations and passes (monthly/contract parkers) are created.

Refunds, validations and passes need a supervisor (checked here, not only
by the screens). Every change is one transaction with an audit event.
Money is integer minor units; times aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, PaymentError, Refused
from attendant.core.money import format_money
from attendant.core.payment_methods import IOU_METHODS, PAYMENT_METHODS
from attendant.core.payment_methods import spec as method_spec
from attendant.core.payment_rows import cash_tendered, insert_payment, shift_for
from attendant.core.payments import ProcessorTimeout, ProcessorUnavailable
from attendant.core.plates import normalize_plate
from attendant.core.store import IOU, PASS, PAY, PS, VAL, FacilityStore
from attendant.core.tickets import format_ticket_no, new_credential_code
from attendant.core.views import (
    COUNTED,
    IouView,
    PassView,
    PaymentView,
    PendingPayment,
    RefundablePayment,
)
from attendant.core.vocab import IouStatus, PaymentMethod, PaymentStatus

RESOLUTIONS = ("approved", "declined", "void")
"""How a supervisor may settle a stuck payment attempt (:meth:`BackOfficeOps.resolve_payment`)."""


class BackOfficeOps(FacilityStore):
    """IOUs, refunds, validations and passes of one facility (see the module docstring)."""

    def ious(self, plate: str | None = None, *, status: str | None = IouStatus.OPEN) -> list[IouView]:
        """IOUs of this facility (of ``plate`` if given), newest first."""
        stmt = (select(IOU, PS.c.ticket_no).join(PS, PS.c.id == IOU.c.session_id)
                .where(IOU.c.facility_id == self.facility.id).order_by(IOU.c.id.desc()))
        if plate:
            stmt = stmt.where(IOU.c.plate_hash == self.data.plate_index(normalize_plate(plate)))
        if status:
            stmt = stmt.where(IOU.c.status == status)
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        return [IouView(r.id, r.session_id, format_ticket_no(r.ticket_no), self.data.open(r.plate), r.amount,
                        r.reason, r.status,
                        r.created_at) for r in rows]

    def settle_ious(self, plate: str, method: str | PaymentMethod, *, actor: Actor | str,
                    tendered: int | None = None, lane: str | None = None,
                    at: datetime | None = None, confirm_amount: bool = False) -> list[PaymentView]:
        """Pay every open IOU of ``plate`` (one payment per IOU, on its session).

        Electronic methods go through the processor per IOU; cash needs
        ``tendered`` >= the total (default exact), and ``confirm_amount`` when
        far above it (:func:`attendant.core.payment_rows.cash_tendered`: the
        exit's rule; else :class:`AmountNeedsConfirmation`, nothing taken).
        """
        who = self._actor(actor, action="settling IOUs")
        spec = method_spec(method)
        pay_method = spec.method
        if not spec.settles_ious:
            methods = ", ".join(s.label for s in IOU_METHODS)
            raise InputError(f"IOUs are settled by {methods}, not {spec.label}")
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
        if pay_method is PaymentMethod.CASH and tendered is not None:
            cash_tendered(total, tendered, cur, confirmed=confirm_amount)  # the one cash rule (raises, nothing taken)
        change_left = (tendered - total) if (pay_method is PaymentMethod.CASH and tendered is not None) else None
        results = []
        now = utc_now()
        with self._lock:
            for n, iou in enumerate(open_ious):
                key = f"iou-{iou.id}-{uuid.uuid4()}"
                last = n == len(open_ious) - 1
                reference = None
                if spec.electronic:
                    processor = self.processors.get(pay_method)
                    try:
                        result = processor.charge(iou.amount, cur, key, f"{self.facility.code}-IOU-{iou.id}")
                    except (ProcessorTimeout, ProcessorUnavailable) as exc:
                        raise PaymentError(f"{exc}: IOU {iou.id} not settled") from None
                    if not result.approved:
                        raise PaymentError(f"{pay_method.value} {result.message}: IOU {iou.id} not settled")
                    reference = result.reference
                with self._writing() as conn:
                    session = conn.execute(select(PS).where(PS.c.id == iou.session_id)).one()
                    shift_id = shift_for(conn, self.facility.id, who)
                    cash_kw = {}
                    if spec.takes_tendered:
                        cash_kw = {"tendered": iou.amount + (change_left if last and change_left else 0),
                                   "change": change_left if last and change_left else 0}
                    payment = insert_payment(
                        conn, facility_id=self.facility.id, session_id=session.id, method=pay_method,
                        status=PaymentStatus.COMPLETED, amount=iou.amount, who=who, shift_id=shift_id, key=key,
                        lane=lane, at=at, reference=reference, message=f"IOU {iou.id}", **cash_kw,
                    )
                    payment_id = payment.id
                    conn.execute(update(IOU).where(IOU.c.id == iou.id).values(
                        status=IouStatus.SETTLED.value, settled_at=at, settled_payment_id=payment_id))
                    conn.execute(update(PS).where(PS.c.id == session.id).values(
                        amount_paid=PS.c.amount_paid + iou.amount))
                    self._audit(conn, now=now, at=at, actor=who.name, action="iou.settle", entity="iou",
                                entity_id=iou.id, details={"plate_ref": self.data.plate_index(norm), "amount": iou.amount,
                                                           "payment_id": payment_id, "method": pay_method.value})
                    results.append(payment)
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
                   PAY.c.method.in_([s.value for s in PAYMENT_METHODS if s.takes_money]))
            .order_by(PAY.c.id.desc())
            .limit(2 * limit)
        )
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
            partly = [r.id for r in rows if r.status == PaymentStatus.REFUNDED.value]
            refunded = dict(conn.execute(
                select(PAY.c.refund_of_id, func.sum(-PAY.c.amount)).where(PAY.c.refund_of_id.in_(partly))
                .group_by(PAY.c.refund_of_id)
            ).all()) if partly else {}
        out = [
            RefundablePayment(r.id, format_ticket_no(r.ticket_no), self.data.open(r.plate), r.method, r.amount,
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
        who = self._actor(actor, Role.SUPERVISOR, "a refund")
        if not reason or not reason.strip():
            raise InputError("a refund needs a reason")
        at = self._check_at(at)
        now = utc_now()
        with self._lock:
            with self._reading() as conn:
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
            if method_spec(method).electronic:
                result = self.processors.get(method).refund(original.processor_ref or "", amount, key)
                if not result.approved:
                    raise PaymentError(f"the processor refused the refund: {result.message}")
                reference = result.reference
            with self._writing() as conn:
                shift_id = shift_for(conn, self.facility.id, who)
                session_id = original.session_id
                view = insert_payment(
                    conn, facility_id=self.facility.id, session_id=session_id, method=method,
                    status=PaymentStatus.COMPLETED, amount=-amount, who=who, shift_id=shift_id, key=key, lane=None,
                    at=at, reference=reference, message=reason.strip()[:200], refund_of=payment_id,
                )
                refund_id = view.id
                conn.execute(update(PAY).where(PAY.c.id == payment_id).values(
                    status=PaymentStatus.REFUNDED.value, updated_at=now))
                conn.execute(update(PS).where(PS.c.id == session_id).values(
                    amount_paid=PS.c.amount_paid - amount))
                self._audit(conn, now=now, at=at, actor=who.name, action="payment.refund", entity="payment",
                            entity_id=refund_id, details={"refund_of": payment_id, "amount": amount,
                                                          "method": method.value, "reason": reason.strip()})
        return view

    # ------------------------------------------------------ stuck payment attempts
    def pending_payments(self) -> list[PendingPayment]:
        """Every payment attempt of this facility still waiting for its processor's answer, oldest first.

        These block their shift's close and any further charge to their
        ticket until settled: by the next exit of the ticket (the processor's
        status query), or by a supervisor (:meth:`resolve_payment`).
        """
        stmt = (select(PAY.c.id, PAY.c.method, PAY.c.amount, PAY.c.lane, PAY.c.actor, PAY.c.shift_id,
                       PAY.c.created_at, PAY.c.updated_at, PAY.c.message, PS.c.ticket_no)
                .join(PS, PS.c.id == PAY.c.session_id)
                .where(PAY.c.facility_id == self.facility.id, PAY.c.status == PaymentStatus.PENDING.value)
                .order_by(PAY.c.id))
        now = utc_now()
        deadline = timedelta(seconds=self.processors.attempt_deadline_s)
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        out = []
        for r in rows:
            asked = r.updated_at or r.created_at
            out.append(PendingPayment(r.id, format_ticket_no(r.ticket_no), r.method, r.amount, r.lane, r.actor,
                                      r.shift_id, asked, r.message is None and now - asked < deadline, r.message))
        return out

    def resolve_payment(self, payment_id: int, outcome: str, *, actor: Actor | str, reason: str,
                        reference: str | None = None) -> PaymentView:
        """Settle a stuck attempt by hand; supervisors only (seed 003: no payment pending for ever).

        ``outcome``: ``approved`` (the money was taken: the attempt completes
        and counts toward its ticket; ``reference``, e.g. from the terminal's
        slip, is kept), ``declined`` (nothing was taken: it fails) or ``void``
        (it is reversed at the processor first, which must succeed, then
        fails). When the processor can be asked, its status query must agree:
        a supervisor cannot record as approved what the processor says it
        declined, or the reverse. An attempt a lane may still be waiting on
        is refused until its deadline passes. Audited with the reason.

        Raises :class:`PermissionDenied`, :class:`InputError` (bad outcome,
        no reason), :class:`NotFound`, :class:`Refused` (not pending, in
        flight, the processor disagrees), :class:`PaymentError` (the void
        failed).
        """
        who = self._actor(actor, Role.SUPERVISOR, "resolving a payment")
        if outcome not in RESOLUTIONS:
            raise InputError(f"outcome must be one of {', '.join(RESOLUTIONS)}, not {outcome!r}")
        if not reason or not reason.strip():
            raise InputError("resolving a payment needs a reason")
        reason = reason.strip()[:200]
        stuck = {p.id: p for p in self.pending_payments()}.get(payment_id)
        if stuck is None:
            with self._reading() as conn:
                status = conn.execute(select(PAY.c.status).where(PAY.c.id == payment_id,
                                                                 PAY.c.facility_id == self.facility.id)).scalar()
            if status is None:
                raise NotFound(f"no payment {payment_id}")
            raise Refused(f"payment {payment_id} is {status}, not pending: nothing to resolve")
        if stuck.in_flight:
            wait = self.processors.attempt_deadline_s
            raise Refused(f"payment {payment_id} is in progress at {stuck.lane or 'a booth'}: its lane is still "
                          f"waiting for the processor (at most {wait:g} s from "
                          f"{self.local(stuck.asked_at).strftime('%H:%M:%S')}); try again after that")
        with self._reading() as conn:
            key = conn.execute(select(PAY.c.idempotency_key).where(PAY.c.id == payment_id)).scalar_one()
        method = PaymentMethod(stuck.method)
        processor = self.processors.get(method) if method_spec(method).electronic else None
        said, asked = None, False
        if processor is not None:
            try:
                said, asked = processor.status(key), True
            except Exception:  # noqa: BLE001 - unreachable: the supervisor's word stands, with the reason
                said = None
        approved = said is not None and said.approved
        if asked and approved != (outcome == "approved"):
            told = ("approved it" if approved else "never received it" if said is None
                    else f"did not charge it ({said.message})")
            raise Refused(f"the {method.value} processor {told}: record the outcome it gives, not {outcome}")
        if outcome == "void":
            if processor is None:
                raise Refused(f"a {method.value} payment has no processor to void it at: use declined")
            try:
                processor.void(key)
            except Exception as exc:  # noqa: BLE001 - nothing is changed when the reversal fails
                raise PaymentError(f"the void failed ({exc}): nothing was changed; try again later") from None
        status = PaymentStatus.COMPLETED if outcome == "approved" else PaymentStatus.FAILED
        ref = (reference or (said.reference if said else None) or None)
        ref = ref.strip()[:80] if ref else None
        message = f"resolved {outcome} by {who.name}: {reason}"[:200]
        now = utc_now()
        with self._lock, self._writing() as conn:
            done = conn.execute(update(PAY).where(PAY.c.id == payment_id,
                                                  PAY.c.status == PaymentStatus.PENDING.value).values(
                status=status.value, processor_ref=ref, message=message, updated_at=now))
            if done.rowcount != 1:
                raise Refused(f"payment {payment_id} was settled meanwhile: nothing changed")
            row = conn.execute(select(PAY.c.session_id, PAY.c.amount, PAY.c.method).where(
                PAY.c.id == payment_id)).one()
            ious_cut: list[dict] = []
            if status is PaymentStatus.COMPLETED:
                conn.execute(update(PS).where(PS.c.id == row.session_id).values(
                    amount_paid=PS.c.amount_paid + row.amount))
                ious_cut = self._cut_ious(conn, row.session_id, row.amount, payment_id, now)
            self._audit(conn, now=now, at=now, actor=who.name, action="payment.resolve", entity="payment",
                        entity_id=payment_id, details={"outcome": outcome, "status": status.value,
                                                       "amount": row.amount, "method": row.method,
                                                       "reference": ref, "reason": reason,
                                                       "processor_said": None if not asked else approved,
                                                       "ious": ious_cut})
        if ious_cut:
            cur = self.facility.currency
            message += "; IOU " + ", ".join(
                f"{c['iou_id']} {'settled' if c['left'] == 0 else 'now ' + format_money(c['left'], cur)}"
                for c in ious_cut)
        return PaymentView(payment_id, row.method, status.value, row.amount, None, None, ref, message)

    def _cut_ious(self, conn, session_id: int, amount: int, payment_id: int, now: datetime) -> list[dict]:
        """Take a late-approved ``amount`` (cents) off the open IOUs of ``session_id``, oldest first.

        A car let go with an IOU while its card attempt's outcome was unknown
        must not owe what the card already paid: each IOU the amount covers is
        settled by ``payment_id``; one it covers in part keeps only the rest.
        Returns what changed: ``[{"iou_id", "was", "left"}]`` (cents).
        """
        changed = []
        for iou in conn.execute(select(IOU.c.id, IOU.c.amount).where(
                IOU.c.session_id == session_id, IOU.c.status == IouStatus.OPEN.value).order_by(IOU.c.id)).all():
            if amount <= 0:
                break
            take = min(amount, iou.amount)
            amount -= take
            left = iou.amount - take
            values = ({"amount": left} if left else
                      {"status": IouStatus.SETTLED.value, "settled_at": now, "settled_payment_id": payment_id})
            conn.execute(update(IOU).where(IOU.c.id == iou.id).values(**values))
            changed.append({"iou_id": iou.id, "was": iou.amount, "left": left})
        return changed

    # ------------------------------------------------------ validations, passes
    def create_validation(self, *, actor: Actor | str, merchant: str, kind: str, value: int,
                          reusable: bool = False, max_uses: int | None = None, expires_at: datetime | None = None,
                          code: str | None = None) -> str:
        """Create a merchant validation; supervisors only. Returns its code (``V-XXXX-XXXX``).

        ``kind`` amount (``value`` minor units), percent (1-100) or minutes.
        """
        who = self._actor(actor, Role.SUPERVISOR, "creating a validation")
        if kind not in ("amount", "percent", "minutes"):
            raise InputError(f"unknown validation kind {kind!r} (amount, percent or minutes)")
        if value <= 0 or (kind == "percent" and value > 100):
            raise InputError("a validation value must be positive (percent at most 100)")
        if max_uses is not None and max_uses <= 0:
            raise InputError("max uses must be positive")
        from attendant.core.money import MAX_AMOUNT

        most = {"amount": MAX_AMOUNT, "percent": 100, "minutes": 525_600}[kind]  # minutes: a year
        if value > most:
            raise InputError(f"a validation of kind {kind} takes at most {most}")
        if max_uses is not None and max_uses > 1_000_000:
            raise InputError("max uses is at most 1,000,000")
        if not merchant or not merchant.strip():
            raise InputError("a validation needs the merchant's name")
        merchant = merchant.strip()[:80]
        if expires_at is not None and expires_at.tzinfo is None:
            raise InputError("expiry needs a time zone")
        code = _credential(code, "validation")
        now = utc_now()
        with self._writing() as conn:
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
        who = self._actor(actor, Role.SUPERVISOR, "issuing a pass")
        if valid_from.tzinfo is None or valid_to.tzinfo is None:
            raise InputError("pass validity needs times with a zone")
        if valid_to <= valid_from:
            raise InputError("a pass must end after it starts")
        norm = normalize_plate(plate) if plate else None
        code = _credential(code, "pass")
        now = utc_now()
        with self._writing() as conn:
            pid = conn.execute(insert(PASS).values(
                facility_id=self.facility.id, code=code, plate=self.data.seal(norm),
                plate_hash=self.data.plate_index(norm), holder_name=self.data.seal(holder_name.strip()[:80]),
                valid_from=valid_from, valid_to=valid_to, active=True, created_at=now,
            ).returning(PASS.c.id)).scalar_one()
            self._audit(conn, now=now, at=now, actor=who.name, action="pass.create", entity="pass_holder",
                        entity_id=pid, details={"code": code, "plate_ref": self.data.plate_index(norm)})
        return code

    def pass_info(self, code: str, *, at: datetime | None = None) -> PassView:
        """The pass with ``code`` (as scanned) and whether it is valid at ``at`` (default now).

        Raises :class:`NotFound` for an unknown code.
        """
        at = self._check_at(at)
        with self._reading() as conn:
            row = conn.execute(select(PASS).where(PASS.c.facility_id == self.facility.id,
                                                  PASS.c.code == code.strip().upper())).first()
        if row is None:
            raise NotFound(f"no pass {code.strip()!r}")
        valid = bool(row.active) and row.valid_from <= at <= row.valid_to
        return PassView(row.code, self.data.open(row.holder_name), self.data.open(row.plate), row.valid_from,
                        row.valid_to, bool(row.active), valid)


def _credential(code: str | None, kind: str) -> str:
    """A validation's or pass's code as given (upper case, at most 40 ASCII letters, digits and dashes: the
    column's size), else a new one. Raises :class:`InputError`."""
    if code is None:
        return new_credential_code(kind)
    code = code.strip().upper()
    if not code or len(code) > 40 or not all(c.isascii() and (c.isalnum() or c == "-") for c in code):
        raise InputError(f"a {kind} code is 1 to 40 letters A-Z, digits 0-9 and dashes")
    return code
