"""Accounts: who an ``account`` payment is invoiced to (issue 10 item 7).

An account is a holder, a reference unique per facility (upper case, letters,
digits, ``.``, ``-``, ``_``; never reused, a closed account keeps it), an
optional credit limit in minor units, and open/closed with who and why.

Rules (one place, every front end):

- An ``account`` payment names an account that exists and is open, and the
  account's balance after it stays within the credit limit; otherwise it is
  refused with a message saying which rule and what the figures are, inside
  the exit's transaction, so nothing of the exit is written
  (:meth:`AccountOps._account_charge`, called by the checkout). The account row
  is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer)
  so two booths cannot both take the last of a limit.
- The account's charges are its payment rows (``method = 'account'``,
  ``processor_ref`` = the reference) and the refunds of those rows (negative,
  ``refund_of_id``). The balance is their sum: what has been invoiced and not
  refunded. Settling an invoice (the holder paying it) is outside the booth:
  the credit limit bounds what has been charged on the account, all time.
- Holder names are personal data: a holder may be a person, or a sole trader
  trading under their own name, and the booth cannot tell which, so every
  holder is sealed with AES-GCM as pass holders' names are
  (:mod:`attendant.core.personal_data`, ``ENCRYPTED_COLUMNS``) and opened only
  to show it.
- Supervisors add and close accounts (role checked here); every change is one
  transaction with an audit event (``account.add``, ``account.close``; the
  holder is not in the audit details, which are kept for good).
- A statement covers one calendar month in facility time: every charge and
  refund with its facility-local time, the month's total, the opening balance
  (before the month), the closing balance (to the month's end) and the limit.

Money is integer minor units; times stored UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, or_, select, update

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.exceptions import Reason, parse_reason
from attendant.core.money import format_money
from attendant.core.views import COUNTED
from attendant.core.vocab import PaymentMethod
from db.models import Account, ParkingSession, Payment

ACC, PAY, PS = Account.__table__, Payment.__table__, ParkingSession.__table__
_REFERENCE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,39}")
MAX_HOLDER = 120

#: Why an account is closed (the reason shape of :mod:`attendant.core.exceptions`: ``CODE`` or ``CODE: text``).
CLOSE_REASONS: dict[str, str] = {
    "CONTRACT_ENDED": "the contract or agreement ended",
    "HOLDER_REQUEST": "the holder asked for it to be closed",
    "UNPAID": "invoices left unpaid",
    "ISSUED_IN_ERROR": "the account was opened in error",
    "OTHER": "other (free text required)",
}


def normalize_reference(text: str | None) -> str:
    """An account reference as stored: trimmed, upper case; 1-40 of A-Z 0-9 ``.`` ``-`` ``_``.

    :raises InputError: empty or other characters, saying what a reference is.
    """
    ref = (text or "").strip().upper()
    if not _REFERENCE.fullmatch(ref):
        raise InputError(f"not an account reference: {str(text or '')[:40]!r} (1-40 letters, digits, '.', '-', '_')")
    return ref


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as shown: ``balance`` and ``credit_limit`` (None: no limit) in minor units; times UTC."""

    id: int
    reference: str
    holder: str
    credit_limit: int | None
    status: str
    balance: int
    created_at: datetime
    created_by: str
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_reason: str | None = None

    @property
    def available(self) -> int | None:
        """What may still be charged (minor units), None without a limit."""
        return None if self.credit_limit is None else max(self.credit_limit - self.balance, 0)

    def to_json_dict(self, currency: str) -> dict:
        """The ``account list --json`` object: amounts as decimal strings in major units, times ISO UTC."""
        from attendant.core.money import to_major_str

        return {
            "reference": self.reference, "holder": self.holder, "status": self.status,
            "credit_limit": None if self.credit_limit is None else to_major_str(self.credit_limit, currency),
            "balance": to_major_str(self.balance, currency),
            "available": None if self.available is None else to_major_str(self.available, currency),
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None, "closed_by": self.closed_by,
            "close_reason": self.close_reason,
        }


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One charge (``amount`` > 0) or refund (< 0) on an account: minor units; ``at`` UTC."""

    at: datetime
    payment_id: int
    ticket_no: int | None
    lane: str | None
    amount: int
    actor: str
    refund_of: int | None


@dataclass(frozen=True, slots=True)
class Statement:
    """An account's month: ``start``/``end`` the facility-local month as UTC instants (end exclusive);
    ``opening`` the balance before it, ``total`` the month's charges less refunds, ``closing`` = opening +
    total; minor units."""

    account: AccountView
    month: str
    start: datetime
    end: datetime
    lines: tuple[StatementLine, ...]
    opening: int
    total: int
    closing: int


def _charges(fid: int, reference: str):
    """The WHERE of an account's charges and their refunds (payment rows counted toward a balance)."""
    own = select(PAY.c.id).where(PAY.c.facility_id == fid, PAY.c.method == PaymentMethod.ACCOUNT.value,
                                 PAY.c.processor_ref == reference)
    return (PAY.c.facility_id == fid, PAY.c.method == PaymentMethod.ACCOUNT.value,
            PAY.c.status.in_(COUNTED), or_(PAY.c.processor_ref == reference, PAY.c.refund_of_id.in_(own)))


class AccountOps:
    """Account operations of one facility (mixed into :class:`~attendant.core.services.ParkingService`)."""

    def _account_row(self, conn, reference: str, *, lock: bool = False):
        stmt = select(ACC).where(ACC.c.facility_id == self.facility.id, ACC.c.reference == reference)
        if lock and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"no account {reference!r} at {self.facility.code}: check the reference "
                           "(`attendant account list`), or ask a supervisor to add it")
        return row

    def _balance(self, conn, reference: str, before: datetime | None = None) -> int:
        stmt = select(func.coalesce(func.sum(PAY.c.amount), 0)).where(*_charges(self.facility.id, reference))
        if before is not None:
            stmt = stmt.where(PAY.c.created_at < before)
        return int(conn.execute(stmt).scalar_one())

    def _account_view(self, conn, row) -> AccountView:
        return AccountView(row.id, row.reference, self.data.open(row.holder), row.credit_limit, row.status,
                           self._balance(conn, row.reference), row.created_at, row.created_by, row.closed_at,
                           row.closed_by, row.close_reason)

    def _account_charge(self, conn, reference: str | None, amount: int) -> str:
        """Check an account payment of ``amount`` (minor units) inside the exit's transaction; the stored reference.

        :raises InputError: no or a malformed reference. :raises NotFound: no such account.
        :raises Refused: the account is closed, or the balance would go over the credit limit.
        """
        if not reference:
            raise InputError("an account payment needs the account reference (Reference; CLI --account)")
        ref = normalize_reference(reference)
        row = self._account_row(conn, ref, lock=True)
        if row.status != "open":
            when = self.local(row.closed_at).strftime("%d %b %Y") if row.closed_at else "earlier"
            raise Refused(f"account {ref} is closed ({when}): take another payment method; nothing was taken")
        if row.credit_limit is not None:
            balance = self._balance(conn, ref)
            if balance + amount > row.credit_limit:
                cur = self.facility.currency
                left = max(row.credit_limit - balance, 0)
                raise Refused(f"account {ref} would go over its credit limit {format_money(row.credit_limit, cur)}: "
                              f"balance {format_money(balance, cur)}, this charge {format_money(amount, cur)}, "
                              f"{format_money(left, cur)} left; nothing was taken")
        return ref

    # ------------------------------------------------------------------ operations
    def add_account(self, reference: str, holder: str, *, actor: Actor | str, credit_limit: int | None = None
                    ) -> AccountView:
        """Open an account (supervisors). ``credit_limit`` minor units (None: none; 0 refuses every charge).

        One transaction with the audit event ``account.add``. Raises :class:`PermissionDenied`,
        :class:`InputError` (reference, holder empty or over :data:`MAX_HOLDER` characters, a negative or
        non-integer limit), :class:`Refused` (the reference exists here, open or closed).
        """
        who = self._actor(actor, Role.SUPERVISOR, "adding an account").name
        ref = normalize_reference(reference)
        name = " ".join((holder or "").split())
        if not name or len(name) > MAX_HOLDER or not name.isprintable():
            raise InputError(f"an account needs its holder's name (1 to {MAX_HOLDER} printable characters)")
        if credit_limit is not None and (not isinstance(credit_limit, int) or credit_limit < 0):
            raise InputError("a credit limit is a whole number of minor units, zero or more")
        now = self.clock()
        with self._lock, self._writing() as conn:
            if conn.execute(select(ACC.c.id).where(ACC.c.facility_id == self.facility.id,
                                                   ACC.c.reference == ref)).first():
                raise Refused(f"account {ref} already exists here (references are never reused)")
            account_id = conn.execute(insert(ACC).returning(ACC.c.id), {
                "facility_id": self.facility.id, "reference": ref, "holder": self.data.seal(name),
                "credit_limit": credit_limit, "status": "open", "created_at": now, "created_by": who,
            }).scalar_one()
            self._audit(conn, now=utc_now(), at=now, actor=who, action="account.add", entity="account",
                        entity_id=account_id, details={"reference": ref, "credit_limit": credit_limit})
            return self._account_view(conn, self._account_row(conn, ref))

    def accounts(self, *, include_closed: bool = True) -> list[AccountView]:
        """Every account of the facility with its balance, by reference."""
        with self._reading() as conn:
            stmt = select(ACC).where(ACC.c.facility_id == self.facility.id).order_by(ACC.c.reference)
            if not include_closed:
                stmt = stmt.where(ACC.c.status == "open")
            return [self._account_view(conn, row) for row in conn.execute(stmt).all()]

    def account(self, reference: str) -> AccountView:
        """One account. Raises :class:`InputError` (malformed reference), :class:`NotFound`."""
        ref = normalize_reference(reference)
        with self._reading() as conn:
            return self._account_view(conn, self._account_row(conn, ref))

    def close_account(self, reference: str, reason: str | Reason, *, actor: Actor | str) -> AccountView:
        """Close an open account (supervisors): later account payments naming it are refused.

        ``reason`` ``CODE`` or ``CODE: text`` from :data:`CLOSE_REASONS`. One transaction with the audit
        event ``account.close`` (reason, balance at closing). Raises :class:`PermissionDenied`,
        :class:`InputError`, :class:`NotFound`, :class:`Refused` (already closed).
        """
        who = self._actor(actor, Role.SUPERVISOR, "closing an account").name
        why = reason if isinstance(reason, Reason) else parse_reason(reason, codes=CLOSE_REASONS)
        ref = normalize_reference(reference)
        now = self.clock()
        with self._lock, self._writing() as conn:
            row = self._account_row(conn, ref, lock=True)
            if row.status != "open":
                raise Refused(f"account {ref} is already closed")
            conn.execute(update(ACC).where(ACC.c.id == row.id).values(
                status="closed", closed_at=now, closed_by=who, close_reason=str(why)))
            balance = self._balance(conn, ref)
            self._audit(conn, now=utc_now(), at=now, actor=who, action="account.close", entity="account",
                        entity_id=row.id, details={"reference": ref, "reason_code": why.code,
                                                   "reason_text": why.text, "balance": balance})
            return self._account_view(conn, self._account_row(conn, ref))

    def account_statement(self, reference: str, month: str | date) -> Statement:
        """The account's statement for ``month`` (``"YYYY-MM"`` or a date in it), in facility time.

        Raises :class:`InputError` (malformed month or reference), :class:`NotFound`.
        """
        from attendant.core.reports import period_bounds

        first, after = period_bounds("monthly", _month(month))  # facility-local days (reports' own rule)
        start, _ = self.day_bounds(first)
        end, _ = self.day_bounds(after)
        ref = normalize_reference(reference)
        with self._reading() as conn:
            view = self._account_view(conn, self._account_row(conn, ref))
            rows = conn.execute(
                select(PAY.c.id, PAY.c.created_at, PAY.c.amount, PAY.c.lane, PAY.c.actor, PAY.c.refund_of_id,
                       PS.c.ticket_no)
                .join(PS, PS.c.id == PAY.c.session_id, isouter=True)
                .where(*_charges(self.facility.id, ref), PAY.c.created_at >= start, PAY.c.created_at < end)
                .order_by(PAY.c.created_at, PAY.c.id)).all()
            opening = self._balance(conn, ref, before=start)
        lines = tuple(StatementLine(r.created_at, r.id, r.ticket_no, r.lane, r.amount, r.actor, r.refund_of_id)
                      for r in rows)
        total = sum(line.amount for line in lines)
        return Statement(view, f"{first:%Y-%m}", start, end, lines, opening, total, opening + total)


def statement_json(s: Statement, currency: str, local) -> dict:
    """The ``account statement --format json`` object (also the API's): amounts as decimal strings in major
    units; ``at``, ``from`` and ``to`` in facility time (``local``: UTC -> facility time), ISO 8601."""
    from attendant.core.money import to_major_str
    from attendant.core.tickets import format_ticket_no

    def major(value):
        return None if value is None else to_major_str(value, currency)

    a = s.account
    charges = [{"at": local(ln.at).isoformat(timespec="seconds"), "payment_id": ln.payment_id,
                "ticket_no": format_ticket_no(ln.ticket_no) if ln.ticket_no is not None else None, "lane": ln.lane,
                "kind": "refund" if ln.amount < 0 else "charge", "amount": major(ln.amount), "actor": ln.actor}
               for ln in s.lines]
    return {"reference": a.reference, "holder": a.holder, "status": a.status, "month": s.month,
            "currency": currency, "from": local(s.start).isoformat(), "to": local(s.end).isoformat(),
            "charges": charges, "count": len(charges), "opening_balance": major(s.opening), "total": major(s.total),
            "balance": major(s.closing), "credit_limit": major(a.credit_limit), "balance_now": major(a.balance)}


def _month(value: str | date) -> date:
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value).strip()
    if not re.fullmatch(r"20[0-9]{2}-(0[1-9]|1[0-2])", text):
        raise InputError(f"not a month: {text[:20]!r} (YYYY-MM, e.g. 2026-11)")
    return date(int(text[:4]), int(text[5:]), 1)
