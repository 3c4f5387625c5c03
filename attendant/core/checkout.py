"""The exit lane: find the session, price it, take the tenders, let the vehicle out.

One orchestration, :meth:`CheckoutOps.settle`, serves every way a vehicle
leaves or pays: the console's exit form, the CLI's ``exit``, a pay station
(``leave=False``) and the traffic replay. Rules and sources:

- Fees price with the rate-plan version locked at entry (BRIEF.md feature 5),
  computed once per request.
- A session's balance is its fee minus the sum of its completed (and later
  refunded) payments; refund rows are negative. Payments may be split across
  methods (tenders, in order); the vehicle leaves when the balance is zero.
- Exit grace after payment (the plan's ``exit_grace``): a vehicle that paid up
  and leaves within the grace pays nothing more; later, the extra time is due.
- Electronic payments go through a processor outside any transaction, with an
  idempotency key; a retried request returns the first outcome and never
  charges twice (seed 003). A request that still times out after the retries
  is voided at the processor (timeout reversal) and recorded failed; if the
  void fails too, the payment stays ``pending`` and the exit waits for it.
- Never trap a car (BRIEF.md): with an IOU reason the vehicle is let go for
  what is still due, even when a payment failed; the IOU names the session
  and the plate, and a plate with :data:`IOU_LIMIT` unpaid IOUs must settle
  them before it may enter again.
- Every payment by a logged-in user belongs to that user's open shift
  (:mod:`attendant.core.payment_rows`).

Transactions: as few as the rules allow. Everything done at the booth
(validations, cash, pass, account) and the exit itself share one
transaction; an electronic tender needs one before the processor is asked
(the attempt is recorded ``pending``, so a crash never loses a charge) and
its answer is recorded in the next, with the exit. A cash exit is one
commit, a card exit two. The gate opening is recorded in the exit's
transaction and the gate is commanded after the commit (by the booth).

Money is integer minor units; times are aware datetimes stored in UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update

from attendant.core.auth import Actor, Role
from attendant.core.booth_exceptions import exit_exceptions
from attendant.core.clock import utc_now
from attendant.core.concessions import pricing_context
from attendant.core.errors import (
    AttendantError,
    BalanceMoved,
    InputError,
    NotFound,
    PaymentDeclined,
    PaymentError,
    PaymentOutcomeUnknown,
    Refused,
)
from attendant.core.exceptions import action as exc_action
from attendant.core.exceptions import details as exc_details
from attendant.core.money import format_money
from attendant.core.payment_methods import spec as method_spec
from attendant.core.payment_rows import (
    cash_tendered,
    insert_payment,
    payment_by_key,
    payments_of,
    shift_for,
)
from attendant.core.payments import ProcessorTimeout, ProcessorUnavailable
from attendant.core.plates import normalize_plate
from attendant.core.rates import Fee, FeeLine, compute_fee
from attendant.core.requests import ExitRequest, Tender
from attendant.core.store import (
    IOU,
    PASS,
    PAY,
    PS,
    SESSION_IS_OPEN,
    VAL,
    VUSE,
    FacilityStore,
    sessions_with_bay,
)
from attendant.core.tickets import (
    credential_kind,
    format_ticket_no,
    looks_like_ticket_code,
)
from attendant.core.views import (
    COUNTED,
    Checkout,
    ExitQuote,
    ExitResult,
    PartPayment,
    PaymentOutcome,
    PaymentView,
    SessionView,
)
from attendant.core.vocab import (
    IouStatus,
    LaneDirection,
    PaymentMethod,
    PaymentStatus,
    SessionStatus,
    SpotStatus,
    VendSource,
)

IOU_LIMIT = 3

_IOUS = select(func.count(), func.coalesce(func.sum(IOU.c.amount), 0)).where(
    IOU.c.facility_id == bindparam("fid"), IOU.c.plate_hash == bindparam("plate"), IOU.c.status == IouStatus.OPEN.value
)
_CLOSE_SESSION = update(PS).where(PS.c.id == bindparam("sid")).values(
    status=SessionStatus.CLOSED.value,
    exit_at=bindparam("exit_at"),
    exit_lane=bindparam("exit_lane"),
    amount_due=bindparam("amount_due"),
    amount_paid=bindparam("amount_paid"),
    fee_lines=bindparam("fee_lines"),
    exit_actor=bindparam("exit_actor"),
    exit_reason=bindparam("exit_reason"),
    exit_key=bindparam("exit_key"),
)
_FREE_SPOT = update(PS.metadata.tables["spot"]).where(
    PS.metadata.tables["spot"].c.id == bindparam("spot_id")).values(status=SpotStatus.AVAILABLE.value)
#: PostgreSQL: :data:`_CLOSE_SESSION` and :data:`_FREE_SPOT` in one statement (the bay's update a data-modifying
#: ``WITH``; it runs after the session's, as the two statements did): a round trip less per exit.
_CLOSE_AND_FREE = _CLOSE_SESSION.add_cte(
    update(PS.metadata.tables["spot"]).where(PS.metadata.tables["spot"].c.id == bindparam("free_spot_id"))
    .values(status=SpotStatus.AVAILABLE.value).returning(PS.metadata.tables["spot"].c.id).cte("freed"))
_PAID_UP = update(PS).where(PS.c.id == bindparam("sid")).values(amount_paid=bindparam("paid"),
                                                                  paid_at=bindparam("paid_at"))
_ANSWER = update(PAY).where(PAY.c.id == bindparam("pid")).values(
    status=bindparam("status"), processor_ref=bindparam("ref"), message=bindparam("message"),
    updated_at=bindparam("now"))
_INSERT_IOU = insert(IOU).returning(IOU.c.id)
# The attempts of a session still waiting for a processor's answer (read only when one is pending).
_PENDING_OF_SESSION = select(PAY.c.id, PAY.c.method, PAY.c.amount, PAY.c.idempotency_key, PAY.c.lane,
                             PAY.c.created_at, PAY.c.updated_at, PAY.c.message).where(
    PAY.c.session_id == bindparam("sid"), PAY.c.status == PaymentStatus.PENDING.value).order_by(PAY.c.id)


@dataclass(slots=True)
class _Answer:
    """A processor's answer to record: the payment row, its new status, and the failure to raise (if any)."""

    payment: PaymentView
    status: PaymentStatus
    reference: str | None
    message: str
    failure: PaymentError | None


@dataclass(slots=True)
class _Run:
    """One :meth:`CheckoutOps.settle` across its transactions."""

    request: ExitRequest
    who: Actor
    at: datetime
    now: datetime
    close: bool
    vend: bool
    steps: list[tuple[str, object, int]]  # ("validation", code, 0) | ("tender", Tender, n)
    next: int = 0
    fee: Fee | None = None
    first: bool = True
    ask: tuple[PaymentView, PaymentMethod, str, str] | None = None  # pending payment, method, key, reference
    again: bool = False  # one more transaction (with the facility lock) to finish the exit
    answer: _Answer | None = None
    recorded: tuple[str, _Answer] | None = None  # the answer recorded in the current transaction (ticket no, answer)
    check: tuple[PaymentView, PaymentMethod, str] | None = None  # an abandoned attempt to settle first
    checked: set[int] = field(default_factory=set)  # attempts this run settled (or tried to)
    failure: AttendantError | None = None
    taken: list[PaymentView] = field(default_factory=list)
    result: ExitResult | PartPayment | None = None
    spot_id: int | None = None
    exceptions: tuple = ()  # (kind, Reason) of the exceptions this exit is (booth_exceptions.exit_exceptions)


def _tally(payments) -> tuple[int, bool]:
    """(paid, a payment pending) over a session's payment views."""
    paid = sum(p.amount for p in payments if p.status in COUNTED)
    return paid, any(p.status == PaymentStatus.PENDING.value for p in payments)


class CheckoutOps(FacilityStore):
    """Exit-lane operations of one facility (see the module docstring)."""

    # ----------------------------------------------------------------- pricing
    def _fee(self, conn, row, at: datetime, *, lost: bool = False) -> Fee:
        """The fee of an open session leaving at ``at`` (exit grace applied; nothing for a plate on the allow
        list, :meth:`_allowed`). Raises InputError before entry."""
        fee = self._priced(conn, row, at, lost=lost)
        allowed = self._allowed(conn, row, at)
        if allowed is not None and fee.amount:
            line = FeeLine(f"Allow list ({allowed.reason}): no charge", 0, -fee.amount)
            fee = replace(fee, amount=0, lines=(*fee.lines, line))
        return fee

    def _allowed(self, conn, row, at: datetime):
        """The live allow-list entry of the session's plate at ``at`` (confusables tolerated), or None
        (:mod:`attendant.core.plate_lists`)."""
        if not row.plate_hash:
            return None
        if getattr(row, "listed_at", None) == at:  # found by the exit's session read (:meth:`_open_row`)
            if row.listed_id is None:
                return None
            listed = self._listed_in(conn, row.plate_hash, row.plate_fold, at, row.listed_id)
        else:
            listed = self._listed_in(conn, row.plate_hash, row.plate_fold, at)
        return listed if listed is not None and listed.kind == "allow" else None

    def _priced(self, conn, row, at: datetime, *, lost: bool = False) -> Fee:
        """The rate plan's fee of an open session leaving at ``at`` (exit grace applied).

        ``lost``: the driver has no ticket; the stay is priced by the plan's
        lost-ticket rule (:class:`~attendant.core.rates.LostTicket`: a flat fee,
        per started day, or the stay's fee when higher) from the entry time
        on record (the session was found by plate).

        Never trap a car (BRIEF.md): a session whose recorded entry lies more
        than a day in the future (a record made before the window of accepted
        times existed: issue 9, ``enter --at 9999-12-31``) has no usable entry
        time, so it is priced as a lost ticket leaving at ``at``, with a line
        saying why.
        """
        if at < row.entry_at:
            entry = self.local(row.entry_at).isoformat(timespec="minutes") if row.entry_at.year < 9999 \
                else row.entry_at.isoformat(timespec="minutes")
            if row.entry_at > self.clock() + timedelta(days=1):
                plan = self._plan(conn, row.rate_plan_version_id)
                fee = compute_fee(plan, at, at, vehicle_class=row.vehicle_class, spot_type=row.spot_type,
                                  tz=self.tz, lost=True)
                note = FeeLine(f"Entry recorded in the future ({entry}): charged as a lost ticket", 0, 0)
                return replace(fee, lines=(note, *fee.lines))
            raise InputError(f"exit time is before the entry time ({entry})")
        plan = self._plan(conn, row.rate_plan_version_id)
        if lost:
            return compute_fee(plan, row.entry_at, at, vehicle_class=row.vehicle_class, spot_type=row.spot_type,
                               tz=self.tz, lost=True)
        priced_at = at
        if row.paid_at is not None and at <= row.paid_at + timedelta(minutes=plan.exit_grace_minutes):
            priced_at = row.paid_at
        if getattr(row, "reservation_id", None) is not None:  # a reserved stay (attendant/core/reservations.py)
            return self._reserved_fee(conn, row, priced_at)
        return compute_fee(plan, row.entry_at, priced_at, vehicle_class=row.vehicle_class, spot_type=row.spot_type,
                           tz=self.tz, **pricing_context(conn, row, plan))

    def _open_row(self, conn, code: str, *, at: datetime | None = None):
        """The open session ``code`` names (row-locked on PostgreSQL). With ``at`` (an exit's time), the row
        also says whether the session has payments (``any_payments``) and concessions (``any_concessions``) and
        the plate's live list entry at ``at`` (``listed_id``, ``listed_at``), so an exit without them reads
        nothing more (one read on SQLite, two on PostgreSQL: :func:`attendant.core.store._exit_read`).
        :raises Refused: it has left."""
        row = self._session_row(conn, code, at=at)
        if row.status != SessionStatus.OPEN:
            raise Refused(self._closed_message(row))
        return row

    def _open_ious(self, conn, plate_hash: str | None) -> tuple[int, int]:
        """(count, total minor units) of the unpaid IOUs here of the plate whose blind index is ``plate_hash``."""
        if not plate_hash:
            return 0, 0
        count, total = conn.execute(_IOUS, {"fid": self.facility.id, "plate": plate_hash}).one()
        return count, total

    @staticmethod
    def _stored_fee(row, currency: str) -> Fee:
        lines = tuple(FeeLine(d["label"], d["minutes"], d["amount"]) for d in row.fee_lines or ())
        return Fee(amount=row.amount_due or 0, currency=currency, lines=lines, plan_name="", plan_version=None)

    # ------------------------------------------------------------------ lookups
    def exit_code_for(self, text: str) -> tuple[str, str]:
        """The signed code of the open session an attendant typed at the exit, and how it was found.

        ``text`` is a ticket code (returned as typed: the checkout verifies
        it), a ticket number as printed under the barcode (``"42"`` or
        ``"00000042"``), or a plate (confusions tolerated as in
        :meth:`find_by_plate`). Returns ``(code, how)`` with ``how`` one of
        ``"code"``, ``"ticket number"``, ``"plate"``. The attended booth may
        look a ticket up by its number or plate (the ticket is in the
        attendant's hand, or the driver lost it); the fee is always the
        session's own. Raises :class:`InputError` for empty text or an
        ambiguous plate, :class:`NotFound` when no open session matches,
        :class:`Refused` for a ticket number that has exited.
        """
        typed = (text or "").strip()
        if not typed:
            raise InputError("scan or type a ticket code, ticket number or plate")
        if looks_like_ticket_code(typed):
            return typed, "code"
        if typed.isascii() and typed.isdigit() and len(typed) <= 8:
            with self._reading() as conn:
                row = conn.execute(
                    select(PS.c.code, PS.c.status).where(
                        PS.c.facility_id == self.facility.id, PS.c.ticket_no == int(typed)
                    )
                ).first()
            if row is not None:
                if row.status != SessionStatus.OPEN:
                    raise Refused(f"ticket {format_ticket_no(int(typed))} has already exited")
                code = self._code_of(int(typed), row.code)
                if code is None:
                    raise Refused(f"ticket {format_ticket_no(int(typed))} was signed with a ticket key this booth "
                                  "no longer has: scan the ticket")
                return code, "ticket number"
        try:
            normalize_plate(typed)
        except InputError:
            raise InputError(f"{typed[:40]!r} is not a ticket code, ticket number or plate") from None
        try:
            session = self.find_by_plate(typed)
        except NotFound:
            what = "ticket or plate" if typed.isdigit() else "plate"
            raise NotFound(f"no vehicle inside with {what} {typed!r}") from None
        return session.code, "plate"

    def find_by_plate(self, plate: str) -> SessionView:
        """The open session of ``plate`` (lost ticket, ticketless entry, LPR at the exit).

        Tolerates plate-reader confusions (O/0, I/1, B/8, 2/Z, 5/S...;
        :mod:`attendant.core.plate_match`): an exact plate wins, else the one
        vehicle inside whose plate matches up to those confusions. Raises
        :class:`NotFound` if none is inside, :class:`InputError` naming the
        candidates if several match.
        """
        norm = normalize_plate(plate)
        base = sessions_with_bay().where(PS.c.facility_id == self.facility.id, SESSION_IS_OPEN)
        with self._reading() as conn:  # by blind index: exact, then confusable-folded (personal_data.py)
            row = conn.execute(base.where(PS.c.plate_hash == self.data.plate_index(norm))).first()
            if row is None:
                rows = conn.execute(base.where(PS.c.plate_fold == self.data.plate_fold_index(norm))).all()
                if len(rows) > 1:
                    names = ", ".join(sorted(self.data.open(r.plate) for r in rows))
                    raise InputError(f"{norm} could be any of {names}: check the plate")
                row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"{norm} is not inside")
        return self._view(row)

    def identify(self, scanned: str) -> str:
        """What a scanned code is: ``ticket``, ``pass`` or ``validation``; InputError otherwise."""
        kind = credential_kind(scanned)
        if kind is not None:
            return kind
        self.signer.verify(scanned)
        return "ticket"

    # ------------------------------------------------------------------- views
    def quote(self, code: str, *, at: datetime | None = None) -> ExitQuote:
        """The fee owed by the session named by ``code`` if it leaves at ``at``.

        Raises :class:`Refused` when the ticket has already exited.
        """
        at = self._check_at(at)
        with self._reading() as conn:
            row = self._open_row(conn, code)
            fee = self._fee(conn, row, at)
        return ExitQuote(session=self._view(row), at=at, fee=fee)

    def checkout(self, text: str, *, at: datetime | None = None, lost: bool = False) -> Checkout:
        """Fee, payments so far and the balance of the open session ``text`` names, in one read.

        ``text`` is a code, a ticket number or a plate (:meth:`exit_code_for`;
        ``Checkout.found_by`` says which). ``lost``: priced by the plan's
        lost-ticket rule (what an exit with ``ExitRequest.lost`` charges).
        Raises as :meth:`exit_code_for` and :meth:`quote`.
        """
        code, found_by = self.exit_code_for(text)
        at = self._check_at(at)
        with self._reading() as conn:
            row = self._open_row(conn, code)
            fee = self._fee(conn, row, at, lost=True) if lost else None
            return self._checkout(conn, row, at, fee=fee, found_by=found_by)

    def _checkout(self, conn, row, at: datetime, *, fee: Fee | None = None, payments=None,
                  found_by: str = "code") -> Checkout:
        fee = fee or self._fee(conn, row, at)
        payments = tuple(payments if payments is not None else payments_of(conn, row.id))
        paid, _pending = _tally(payments)
        ious, _owed = self._open_ious(conn, row.plate_hash)
        return Checkout(self._view(row), at, fee, paid, max(fee.amount - paid, 0), payments, ious, found_by)

    # ------------------------------------------------------------ orchestration
    def settle(self, request: ExitRequest, *, actor: Actor | str, vend: bool = False) -> ExitResult | PartPayment:
        """Run one exit request: validations, tenders, then the exit (or the part payment).

        With ``request.leave`` False (a pay station) the payments are taken and
        the session stays open (paid up, its exit grace starts). ``vend`` records
        the gate opening with the exit (the caller commands the gate after
        this returns). Returns the :class:`ExitResult` when the vehicle left
        (or had left with this request's idempotency key), else a
        :class:`PartPayment` with the balance that remains.

        Raises, with nothing more taken: :class:`BalanceMoved` (the balance
        is not ``expected_balance``), :class:`PaymentDeclined` (a decline or an
        outage; payments taken before it stay), :class:`PaymentOutcomeUnknown`
        (the attempt stays pending), :class:`PaymentError` (underpaid cash,
        more than the balance), :class:`Refused` (exited, a pass not valid, a
        payment pending, no open shift), :class:`InputError`,
        :class:`NotFound`, :class:`~attendant.core.errors.TicketInvalid`.
        """
        who = self._actor(actor, Role.SUPERVISOR if request.free else Role.ATTENDANT,
                          "a free exit (the balance waived)" if request.free else "an exit or a payment")
        exceptions = exit_exceptions(self, request)  # reasons read before anything is looked at (InputError)
        at = self._check_at(request.at, actor=who, backdate_reason=request.backdate_reason)
        if request.idempotency_key:
            done = self.exit_by_idempotency_key(f"{request.idempotency_key}.1", request.idempotency_key)
            if done is not None:
                return replace(done, replayed=True)
        self.signer.verify(request.code)  # a forged code is refused before anything is read
        steps = [("validation", code, 0) for code in request.validations]
        steps += [("tender", tender, n) for n, tender in enumerate(request.tenders, start=1)]
        run = _Run(request, who, at, utc_now(), request.leave, vend, steps, exceptions=exceptions)
        with self._lock:
            while True:
                run.again, run.recorded = False, None
                try:
                    with self._writing() as conn:
                        self._transaction(conn, run)
                except AttendantError:
                    if run.recorded is not None:  # never lose a processor's answer with a step refused after it
                        with self._writing() as conn:
                            self._write_answer(conn, *run.recorded, run)
                    raise
                if run.ask is not None:
                    run.answer = self._ask_processor(*run.ask)
                    run.ask = None
                elif run.check is not None:
                    run.answer = self._settle_abandoned(*run.check)
                    run.check = None
                elif not run.again:
                    break
            if run.spot_id is not None:
                self._set_spot(run.spot_id, SpotStatus.AVAILABLE)
        if run.failure is not None:
            raise run.failure
        return run.result

    def _remaining_electronic(self, run: _Run) -> bool:
        return any(kind == "tender" and method_spec(item.method).electronic
                   for kind, item, _n in run.steps[run.next:])

    def _transaction(self, conn, run: _Run) -> None:
        """One transaction of :meth:`settle`: record an answer, take what the booth can, then ask or finish."""
        request = run.request
        finishing = run.close and not self._remaining_electronic(run)
        # the session row first (locked on PostgreSQL), then its bay; with what else it has (_open_row)
        row = self._open_row(conn, request.code, at=run.at)
        payments = list(payments_of(conn, row.id)) if row.any_payments else []
        if run.fee is None:
            run.fee = self._fee(conn, row, run.at, lost=request.lost)
        fee = run.fee
        paid, pending = _tally(payments)
        balance = max(fee.amount - paid, 0)
        if run.first:
            run.first = False
            if request.expected_balance is not None and balance != request.expected_balance:
                cur = self.facility.currency
                raise BalanceMoved(request.expected_balance, balance,
                                   f"the balance is now {format_money(balance, cur)} (was "
                                   f"{format_money(request.expected_balance, cur)}): check it and confirm again")
        if run.answer is not None:
            paid, balance = self._record_answer(conn, row, run, payments, fee, paid)
            if run.failure is not None and request.iou_reason is None:
                self._update_paid(conn, row, paid, balance, run.at)
                return
        if pending and run.recorded is not None:  # the answer just recorded may have been the one pending
            pending = any(p.status == PaymentStatus.PENDING.value for p in payments)
        if pending and self._attempt_elsewhere(conn, row, run):
            return  # commit what is recorded; ask the processor how the abandoned attempt ended, then go on
        while run.failure is None and run.next < len(run.steps):
            kind, item, n = run.steps[run.next]
            if kind == "validation":
                view = self._apply_validation_in(conn, row, item, fee, balance, run.who, run.at, run.now)
            else:
                view = self._tender_in(conn, row, item, n, balance, run)
                if run.ask is not None:
                    run.next += 1
                    return  # commit the pending attempt, then ask the processor
            run.next += 1
            if view is not None:
                payments.append(view)
                run.taken.append(view)
                paid += view.amount
                balance = max(fee.amount - paid, 0)
        self._finish(conn, row, run, payments, fee, paid, balance, finishing)

    def _attempt_elsewhere(self, conn, row, run: _Run) -> bool:
        """Before anything is taken for a ticket with an attempt pending that is not this request's own.

        One charge per ticket, whatever the lanes do (seed 003; the session
        row is locked for this transaction on PostgreSQL, and SQLite has one
        writer): an attempt another lane is still waiting on (no answer yet,
        younger than the registry's ``attempt_deadline_s``) refuses this
        request with :class:`Refused`, saying where and since when; an
        abandoned one (its booth crashed, or its outcome was left unknown) is
        put in ``run.check`` and True returned, so the processor's status
        query (or a void) settles it before anything else is charged.
        """
        request = run.request
        own = {t.key or f"{request.idempotency_key}.{n}" for n, t in enumerate(request.tenders, start=1)
               if t.key or request.idempotency_key}
        deadline = timedelta(seconds=self.processors.attempt_deadline_s)
        for p in conn.execute(_PENDING_OF_SESSION, {"sid": row.id}):
            if p.idempotency_key in own or p.id in run.checked:
                continue
            started = p.updated_at or p.created_at
            if p.message is None and run.now - started < deadline:
                where = f"lane {p.lane}" if p.lane else "another booth"
                since = self.local(started).strftime("%H:%M:%S")
                raise Refused(f"a {p.method} payment of {format_money(p.amount, self.facility.currency)} for this "
                              f"ticket is in progress at {where} (since {since}): wait for its answer (at most "
                              f"{self.processors.attempt_deadline_s:g} s), then try again; nothing was taken")
            run.checked.add(p.id)
            view = PaymentView(p.id, p.method, PaymentStatus.PENDING.value, p.amount, None, None, None, p.message)
            run.check = (view, PaymentMethod(p.method), p.idempotency_key)
            return True
        return False

    def _settle_abandoned(self, payment: PaymentView, method: PaymentMethod, key: str) -> _Answer:
        """How an abandoned attempt ended, asked outside any transaction: the processor's status query,
        and a void when it never charged (so the lost request can never complete later)."""
        processor = self.processors.get(method)
        try:
            result = processor.status(key)
            if result is not None and result.approved:
                return _Answer(payment, PaymentStatus.COMPLETED, result.reference,
                               f"{result.message} (found by the processor's status query)", None)
            if result is None:
                processor.void(key)
            message = (result.message if result is not None
                       else "the processor never received it; voided, nothing charged")
            return _Answer(payment, PaymentStatus.FAILED, None, message, None)
        except Exception as exc:  # noqa: BLE001 - any processor failure leaves the outcome unknown, never a crash
            return _Answer(payment, PaymentStatus.PENDING, None, f"outcome unknown: {exc}"[:200], PaymentOutcomeUnknown(
                f"an earlier {method.value} payment #{payment.id} of this ticket has an unknown outcome and the "
                f"processor cannot be asked ({exc}): nothing more was taken; a supervisor can settle it with "
                f"`attendant payment resolve {payment.id}`, or let the vehicle go with an IOU"))

    def _tender_in(self, conn, row, tender: Tender, n: int, balance: int, run: _Run) -> PaymentView | None:
        """Take one tender inside ``conn``; an electronic one is recorded pending and left in ``run.ask``.

        Returns the completed payment (None when nothing was taken: the
        balance was already paid, or this tender's key was already taken).
        """
        spec = method_spec(tender.method)
        request_key = run.request.idempotency_key
        key = tender.key or (f"{request_key}.{n}" if request_key else None)
        existing = payment_by_key(conn, key) if key else None
        key = key or f"pay-{uuid.uuid4()}"
        if existing is not None and existing.status in COUNTED:
            run.taken.append(existing)  # a retried request: this tender was taken the first time
            return None
        if balance == 0:
            return None
        amount = balance if tender.amount is None or spec.covers_balance else tender.amount
        if amount > balance:
            cur = self.facility.currency
            raise PaymentError(f"{format_money(amount, cur)} is more than the balance {format_money(balance, cur)}")
        if spec.electronic:
            if existing is not None:  # failed or pending with this key: ask again, the processor never charges twice
                conn.execute(_ANSWER, {"pid": existing.id, "status": PaymentStatus.PENDING.value,
                                       "ref": existing.reference, "message": existing.message, "now": run.now})
                pending = existing
            else:
                shift_id = shift_for(conn, self.facility.id, run.who)
                pending = insert_payment(
                    conn, facility_id=self.facility.id, session_id=row.id, method=spec.method,
                    status=PaymentStatus.PENDING, amount=amount, who=run.who, shift_id=shift_id, key=key,
                    lane=run.request.lane, at=run.at)
            run.ask = (pending, spec.method, key, f"{self.facility.code}-{format_ticket_no(row.ticket_no)}")
            return None
        return self._take_local(conn, row, spec.method, amount, tender, key, run)

    def _take_local(self, conn, row, method: PaymentMethod, amount: int, tender: Tender, key: str,
                    run: _Run) -> PaymentView:
        """Record a cash, pass or account payment inside ``conn``."""
        cur = self.facility.currency
        tendered = change = None
        reference = tender.reference
        if method is PaymentMethod.CASH:
            tendered, change = cash_tendered(amount, tender.tendered, cur, confirmed=tender.confirm_amount)
        elif method is PaymentMethod.PASS:
            reference = self._valid_pass(conn, row, reference, run.at)
        elif method is PaymentMethod.ACCOUNT:  # an open account within its credit limit (accounts.py)
            reference = self._account_charge(conn, reference, amount)
        elif method_spec(method).reference_required and not reference:
            raise InputError(f"an {method.value} payment needs the {method_spec(method).reference} (reference)")
        if reference:
            reference = reference[:80]
        shift_id = shift_for(conn, self.facility.id, run.who)
        view = insert_payment(
            conn, facility_id=self.facility.id, session_id=row.id, method=method, status=PaymentStatus.COMPLETED,
            amount=amount, who=run.who, shift_id=shift_id, key=key, lane=run.request.lane, at=run.at,
            tendered=tendered, change=change, reference=reference)
        self._audit(conn, now=run.now, at=run.at, actor=run.who.name, action="payment.take", entity="payment",
                    entity_id=view.id,
                    details={"ticket_no": row.ticket_no, "method": method.value, "amount": amount,
                             "tendered": tendered, "change": change, "reference": reference,
                             "shift_id": shift_id, "idempotency_key": key})
        return view

    def _valid_pass(self, conn, row, reference: str | None, at: datetime) -> str:
        stmt = select(PASS).where(PASS.c.facility_id == self.facility.id, PASS.c.active.is_(True))
        if reference:
            stmt = stmt.where(PASS.c.code == reference.strip().upper())
        elif row.plate_hash:
            stmt = stmt.where(PASS.c.plate_hash == row.plate_hash)
        else:
            raise InputError("give the pass code: this vehicle has no plate on record")
        holder = conn.execute(stmt.order_by(PASS.c.valid_to.desc())).first()
        if holder is None:
            raise Refused("no valid pass found for this vehicle" if not reference else f"no pass {reference!r}")
        if not holder.valid_from <= at <= holder.valid_to:
            until = self.local(holder.valid_to).strftime("%d %b %Y")
            raise Refused(f"pass {holder.code} is not valid now (valid until {until})")
        if holder.plate_hash and row.plate_hash and holder.plate_hash != row.plate_hash:
            raise Refused(f"pass {holder.code} belongs to {self.data.open(holder.plate)}, "
                          f"not {self.data.open(row.plate)}")
        return holder.code

    def _ask_processor(self, payment: PaymentView, method: PaymentMethod, key: str, reference: str) -> _Answer:
        """Ask the processor about a pending payment, outside any transaction; retry timeouts with the same key."""
        processor = self.processors.get(method)
        result, failure = None, None
        for _attempt in range(self.processors.retries + 1):
            try:
                result = processor.charge(payment.amount, self.facility.currency, key, reference)
                failure = None
                break
            except ProcessorTimeout as exc:
                failure = exc
            except ProcessorUnavailable as exc:
                failure = exc
                break
        hint = "try again, use another method, or let go with an IOU"
        if isinstance(failure, ProcessorTimeout):
            try:
                processor.void(key)  # timeout reversal: the outcome must not stay unknown
            except Exception as exc:  # noqa: BLE001 - the void itself failed: leave it pending for reconciliation
                return _Answer(payment, PaymentStatus.PENDING, None, f"{failure}; void failed ({exc})",
                               PaymentOutcomeUnknown(f"{failure}: outcome unknown, retry with the same request "
                                                     "to settle it"))
            message = f"{failure}; voided at the processor, nothing charged"
            return _Answer(payment, PaymentStatus.FAILED, None, message,
                           PaymentDeclined(f"{message}: nothing was taken; {hint}"))
        if failure is not None:
            return _Answer(payment, PaymentStatus.FAILED, None, str(failure),
                           PaymentDeclined(f"{failure}: nothing was taken; {hint}"))
        if not result.approved:
            return _Answer(payment, PaymentStatus.FAILED, result.reference, result.message,
                           PaymentDeclined(f"{method.value} {result.message}: nothing was taken; {hint}"))
        return _Answer(payment, PaymentStatus.COMPLETED, result.reference, result.message, None)

    def _record_answer(self, conn, row, run: _Run, payments: list[PaymentView], fee: Fee, paid: int
                       ) -> tuple[int, int]:
        """Record the processor's answer inside ``conn``; returns (paid, balance) after it."""
        answer, run.answer = run.answer, None
        view = self._write_answer(conn, row.ticket_no, answer, run)
        for i, old in enumerate(payments):
            if old.id == view.id:
                payments[i] = view
        if answer.status is PaymentStatus.COMPLETED:
            paid += view.amount
            run.taken.append(view)
        run.recorded = (row.ticket_no, answer)
        run.failure = answer.failure
        return paid, max(fee.amount - paid, 0)

    def _write_answer(self, conn, ticket_no: int, answer: _Answer, run: _Run) -> PaymentView:
        """The payment row takes the processor's answer (status, reference, message), with its audit event."""
        p = answer.payment
        message = (answer.message or "")[:200]
        conn.execute(_ANSWER, {"pid": p.id, "status": answer.status.value, "ref": answer.reference,
                               "message": message, "now": run.now})
        self._audit(conn, now=run.now, at=run.at, actor=run.who.name, action=f"payment.{answer.status.value}",
                    entity="payment", entity_id=p.id,
                    details={"ticket_no": ticket_no, "method": p.method, "amount": p.amount,
                             "reference": answer.reference, "message": answer.message})
        return PaymentView(p.id, p.method, answer.status.value, p.amount, None, None, answer.reference, message)

    def _update_paid(self, conn, row, paid: int, balance: int, at: datetime) -> None:
        """Keep the session's ``amount_paid`` (and ``paid_at`` once paid up: the exit grace) current."""
        conn.execute(_PAID_UP, {"sid": row.id, "paid": paid,
                                "paid_at": at if balance == 0 else row.paid_at})

    def _finish(self, conn, row, run: _Run, payments, fee: Fee, paid: int, balance: int, finishing: bool) -> None:
        """After the tenders: let the vehicle out (or go with an IOU), or leave it part paid."""
        request = run.request
        iou_reason = request.iou_reason
        if run.failure is not None:  # a failed payment with an IOU reason: let go, saying why
            iou_reason = f"{iou_reason} ({run.failure})"[:200]
            run.failure = None
        leaves = run.close and (balance == 0 or iou_reason is not None or request.free)
        if leaves and not finishing:  # an electronic tender turned out not to be needed: exit in a new transaction
            self._update_paid(conn, row, paid, balance, run.at)
            run.next, run.again = len(run.steps), True
            return
        if leaves and iou_reason is None and any(p.status == PaymentStatus.PENDING.value for p in payments):
            self._update_paid(conn, row, paid, balance, run.at)  # what was taken stays taken
            run.failure = Refused("a payment for this ticket is still pending: retry it before the exit")
            return
        if not leaves:
            self._update_paid(conn, row, paid, balance, run.at)
            run.result = PartPayment(self._checkout(conn, row, run.at, fee=fee, payments=payments),
                                     tuple(run.taken))
            return
        run.result = self._close_in(conn, row, fee, paid, balance, run.who, request.lane, run.at, run.now,
                                    iou_reason if balance else None, tuple(payments), run.vend,
                                    backdate_reason=request.backdate_reason, exit_key=request.idempotency_key,
                                    exceptions=run.exceptions)
        run.spot_id = row.spot_id

    def _apply_validation_in(self, conn, row, vcode: str, fee: Fee, balance: int, who: Actor, at: datetime,
                             now: datetime) -> PaymentView:
        """Apply a merchant validation inside ``conn``: a payment of method ``validation``.

        Amount: its value off; percent: that share of the fee (rounded half up
        to the minor unit); minutes: the fee minus the fee of a stay that many
        minutes shorter. Never more than the balance. Refused when expired,
        inactive, used up, single-use and used, or already applied here.
        """
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
        if val.kind == "amount":
            off = val.value
        elif val.kind == "percent":
            off = (fee.amount * val.value + 50) // 100  # round half up (amounts are non-negative)
        else:
            shorter = max(at - timedelta(minutes=val.value), row.entry_at)
            plan = self._plan(conn, row.rate_plan_version_id)
            reduced = compute_fee(plan, row.entry_at, shorter, vehicle_class=row.vehicle_class,
                                  spot_type=row.spot_type, tz=self.tz, **pricing_context(conn, row, plan))
            off = fee.amount - reduced.amount
        off = max(0, min(off, balance))
        if off == 0:
            raise Refused(f"validation {vcode} takes nothing off: the balance is "
                          f"{format_money(balance, self.facility.currency)}")
        shift_id = shift_for(conn, self.facility.id, who)
        view = insert_payment(
            conn, facility_id=self.facility.id, session_id=row.id, method=PaymentMethod.VALIDATION,
            status=PaymentStatus.COMPLETED, amount=off, who=who, shift_id=shift_id, key=f"val-{uuid.uuid4()}",
            lane=None, at=at, reference=vcode, message=val.merchant)
        conn.execute(insert(VUSE).values(validation_id=val.id, session_id=row.id, amount_off=off, at=at,
                                         actor=who.name))
        conn.execute(update(VAL).where(VAL.c.id == val.id).values(uses=VAL.c.uses + 1))
        conn.execute(update(PS).where(PS.c.id == row.id).values(discount=PS.c.discount + off))
        self._audit(conn, now=now, at=at, actor=who.name, action="validation.apply", entity="payment",
                    entity_id=view.id,
                    details={"ticket_no": row.ticket_no, "validation": vcode, "merchant": val.merchant,
                             "amount_off": off, "balance": balance - off})
        return view

    def _close_in(self, conn, row, fee: Fee, paid: int, balance: int, who: Actor, lane: str | None,
                  at: datetime, now: datetime, iou_reason: str | None, payments: tuple[PaymentView, ...],
                  vend: bool, *, backdate_reason: str | None = None, exit_key: str | None = None,
                  exceptions: tuple = ()) -> ExitResult:
        """Close an open session inside ``conn``: IOU if needed, bay freed, gate opening, audit.

        The vend source is decided here, once: ``attendant`` for an IOU or a
        free exit, ``payment`` when something was paid, ``ticket`` when
        nothing was due. ``exceptions`` (``(kind, Reason)`` pairs from
        :func:`attendant.core.booth_exceptions.exit_exceptions`) each add
        their ``exception.<kind>`` audit event to this transaction; a
        ``free_exit`` waives the balance (no IOU; ``amount_cents`` is what
        was waived).
        """
        iou_id = None
        kinds = dict(exceptions)
        waived = balance if "free_exit" in kinds else 0
        if waived:
            iou_reason = f"free exit: {kinds['free_exit']}"[:200]
        if balance > 0 and not waived:
            if iou_reason is None:
                raise PaymentError(f"{format_money(balance, self.facility.currency)} is still due: take payment "
                                   "or let go with an IOU")
            iou_id = conn.execute(_INSERT_IOU, {
                "facility_id": self.facility.id, "session_id": row.id, "plate": row.plate,
                "plate_hash": row.plate_hash, "amount": balance,
                "reason": iou_reason, "status": IouStatus.OPEN.value, "created_at": at, "actor": who.name,
            }).scalar_one()
        postgresql = conn.dialect.name == "postgresql"
        closing = {
            "sid": row.id, "exit_at": at, "exit_lane": lane, "amount_due": fee.amount, "amount_paid": paid,
            "fee_lines": [{"label": ln.label, "minutes": ln.minutes, "amount": ln.amount} for ln in fee.lines],
            "exit_actor": who.name, "exit_reason": iou_reason, "exit_key": exit_key,
        }
        if postgresql:
            conn.execute(_CLOSE_AND_FREE, closing | {"free_spot_id": row.spot_id})
        else:
            conn.execute(_CLOSE_SESSION, closing)
        if not postgresql:
            conn.execute(_FREE_SPOT, {"spot_id": row.spot_id})
        allowed = self._allowed(conn, row, at) if fee.amount == 0 else None
        if allowed is not None:  # free or contract parking: the session names the entry (plate_lists.py)
            conn.execute(update(PS).where(PS.c.id == row.id).values(allow_entry_id=allowed.id))
        if getattr(row, "reservation_id", None) is not None:  # the reservation ends with the stay
            self._completed(conn, row.reservation_id, at)
        if iou_id is not None:
            source, reason = VendSource.ATTENDANT, f"IOU: {iou_reason}"
        elif "free_exit" in kinds:
            source, reason = VendSource.ATTENDANT, f"free exit: {kinds['free_exit']}"[:200]
        elif allowed is not None and not paid:
            source, reason = VendSource.PASS, f"allow list: {allowed.reason}"[:200]
        elif paid:
            source, reason = VendSource.PAYMENT, None
        else:
            source, reason = VendSource.TICKET, "no fee due"
        vend_id = None
        if vend:
            vend_id = self._insert_vend(conn, lane=lane, direction=LaneDirection.EXIT.value, source=source,
                                        reason=reason, session_id=row.id, at=at, actor=who.name)
        # each exception's own event first: the session's exit event stays last, sealing the rows
        for kind, why in exceptions:
            amount = {"free_exit": waived, "lost_ticket": fee.amount}.get(kind)
            self._audit(conn, now=now, at=at, actor=who.name, action=exc_action(kind), entity="parking_session",
                        entity_id=row.id, details=exc_details(why, amount_cents=amount, lane=lane,
                                                              ticket_no=row.ticket_no, plate_ref=row.plate_hash,
                                                              fee=fee.amount, paid=paid))
        self._audit(conn, now=now, at=at, actor=who.name,
                    action="session.exit_iou" if iou_id else "session.exit", entity="parking_session",
                    entity_id=row.id,
                    details={"ticket_no": row.ticket_no, "amount_due": fee.amount, "paid": paid,
                             "iou_id": iou_id, "iou_amount": balance if iou_id else 0,
                             "reason": iou_reason, "lane": lane, "plate_ref": row.plate_hash,
                             **({"waived": waived} if "free_exit" in kinds else {}),
                             **({"lost_ticket": True} if "lost_ticket" in kinds else {}),
                             **({"allow_list": allowed.id} if allowed is not None else {}),
                             **({"backdate_reason": backdate_reason} if backdate_reason else {})})
        return self._exit_result(row, fee, paid, payments, balance if iou_id else 0, at, lane, source, reason,
                                 vend_id)

    def _exit_result(self, row, fee: Fee, paid: int, payments, iou_amount: int, exit_at: datetime,
                     lane: str | None, source: VendSource = VendSource.PAYMENT, reason: str | None = None,
                     vend_id: int | None = None) -> ExitResult:
        """The :class:`ExitResult` of a closed session from its row, fee and payments."""
        done = [p for p in payments if p.status in COUNTED and p.amount > 0]
        cash = next((p for p in reversed(done) if p.method == PaymentMethod.CASH.value), None)
        methods = {p.method for p in done}
        return ExitResult(
            session_id=row.id,
            ticket_no=format_ticket_no(row.ticket_no),
            plate=self.data.open(row.plate),
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
            payments=tuple(payments),
            iou_amount=iou_amount,
            vend_source=source,
            vend_reason=reason,
            vend_id=vend_id,
        )

    # ----------------------------------------------------- one-step conveniences
    def pay(self, code: str, method: str | PaymentMethod, *, actor: Actor | str, amount: int | None = None,
            tendered: int | None = None, reference: str | None = None, idempotency_key: str | None = None,
            lane: str | None = None, at: datetime | None = None) -> PaymentOutcome:
        """Take one payment toward the session named by ``code`` and leave it open (a pay station).

        :meth:`settle` with one tender and ``leave=False``: ``amount`` defaults
        to the whole balance; once paid up the exit grace starts. Same
        ``idempotency_key`` -> the first outcome, never a second charge (the
        tender's key is the given one). Raises as :meth:`settle`.
        """
        if idempotency_key:
            with self._reading() as conn:
                previous = payment_by_key(conn, idempotency_key)
            if previous is not None and previous.status in COUNTED and not self._still_open(code):
                return PaymentOutcome(previous, 0, self.closed_exit(code).fee)  # paid, and it has left since
        tender = Tender(method, amount, tendered, reference, key=idempotency_key)
        result = self.settle(ExitRequest(code, (tender,), lane=lane, at=at, leave=False), actor=actor)
        if not result.taken:
            raise Refused(f"ticket {result.checkout.ticket_no} owes nothing: let the vehicle out")
        return PaymentOutcome(result.taken[-1], result.checkout.balance, result.checkout.fee)

    def _still_open(self, code: str) -> bool:
        with self._reading() as conn:
            return self._session_row(conn, code).status == SessionStatus.OPEN

    def exit(self, code: str, *, method: str | PaymentMethod, actor: Actor | str, tendered: int | None = None,
             lane: str | None = None, at: datetime | None = None, idempotency_key: str | None = None,
             reference: str | None = None, vend: bool = False) -> ExitResult:
        """Pay the whole balance with one method and let the vehicle out (:meth:`settle`, one tender).

        A retried call with the same ``idempotency_key`` returns the first exit
        instead of charging twice. Raises as :meth:`settle`; on a failed payment
        the vehicle stays.
        """
        request = ExitRequest(code, (Tender(method, None, tendered, reference),), lane=lane, at=at,
                              idempotency_key=idempotency_key)
        return self._left(self.settle(request, actor=actor, vend=vend))

    def complete_exit(self, code: str, *, actor: Actor | str, lane: str | None = None,
                      at: datetime | None = None, vend: bool = False) -> ExitResult:
        """Let a paid-up vehicle out. Raises :class:`PaymentError` if a balance remains."""
        return self._left(self.settle(ExitRequest(code, lane=lane, at=at), actor=actor, vend=vend))

    def let_go(self, code: str, *, actor: Actor | str, reason: str, lane: str | None = None,
               at: datetime | None = None, vend: bool = False) -> ExitResult:
        """Never trap a car: let the vehicle out and record an IOU for the balance (``reason`` required)."""
        if not reason or not reason.strip():
            raise InputError("letting a vehicle go without payment needs a reason")
        request = ExitRequest(code, iou_reason=reason, lane=lane, at=at)
        return self._left(self.settle(request, actor=actor, vend=vend))

    def _left(self, result: ExitResult | PartPayment) -> ExitResult:
        if isinstance(result, PartPayment):
            raise PaymentError(f"{format_money(result.checkout.balance, self.facility.currency)} is still due: "
                               "take payment or let go with an IOU")
        return result

    def apply_validation(self, code: str, validation_code: str, *, actor: Actor | str,
                         at: datetime | None = None) -> PaymentOutcome:
        """Apply a merchant validation to an open session (:meth:`settle` with one validation, no exit).

        Returns the validation's payment (its ``amount`` is what came off)
        and the balance after it. Raises :class:`NotFound`, :class:`Refused`.
        """
        result = self.settle(ExitRequest(code, validations=(validation_code,), at=at, leave=False), actor=actor)
        return PaymentOutcome(result.taken[-1], result.checkout.balance, result.checkout.fee)

    # ------------------------------------------------------------ after the exit
    def exit_by_idempotency_key(self, key: str, request_key: str | None = None) -> ExitResult | None:
        """The exit made earlier with a payment of idempotency ``key``, if that session is closed; or the exit
        the request of idempotency ``request_key`` made (``parking_session.exit_key``: also an exit with
        nothing to pay)."""
        with self._reading() as conn:
            hit = conn.execute(
                select(PS.c.code, PS.c.ticket_no).join(PAY, PAY.c.session_id == PS.c.id)
                .where(PAY.c.idempotency_key == key, PS.c.status == SessionStatus.CLOSED.value)
            ).first()
            if hit is None and request_key is not None:
                hit = conn.execute(select(PS.c.code, PS.c.ticket_no).where(PS.c.facility_id == self.facility.id,
                                                                           PS.c.exit_key == request_key)).first()
        code = self._code_of(hit.ticket_no, hit.code) if hit else None
        return self.closed_exit(code) if code else None

    def closed_exit(self, code: str) -> ExitResult:
        """The :class:`ExitResult` of a session that has already exited (for reprints and retries)."""
        with self._reading() as conn:
            row = self._session_row(conn, code)
            if row.status != SessionStatus.CLOSED:
                raise Refused(f"ticket {format_ticket_no(row.ticket_no)} has not exited")
            payments = payments_of(conn, row.id)
            iou = conn.execute(select(func.coalesce(func.sum(IOU.c.amount), 0)).where(
                IOU.c.session_id == row.id)).scalar_one()
        return self._exit_result(row, self._stored_fee(row, self.facility.currency), row.amount_paid, payments,
                                 iou, row.exit_at, row.exit_lane)
