"""Shifts: float in, takings, cash drops, count-up and over/short (BRIEF.md feature 7).

The model is quicktill's session (sde1000/quicktill, STYLE.md): a shift is a
logged-in user's stint at one facility; it cannot close while a transaction is
in progress, and it closes with a count-up compared against the takings the
database expects for each payment method.

Rules (money in integer minor units of the facility currency; times aware UTC,
shown in facility time):

- One open shift per user per facility (partial unique index
  ``uq_open_shift_user``). Opening records the float as a ``cash_movement`` of
  kind ``float``.
- A payment row belongs to the shift that took it (``payment.shift_id``). A
  refund is a new row with a negative amount, status ``completed`` and
  ``refund_of_id`` set, in the shift that made the refund; the original's
  status becomes ``refunded``. Expected takings per method = sum(amount) of the
  shift's rows whose status is ``completed`` or ``refunded``; ``failed`` rows
  are ignored; ``pending`` rows are a transaction in progress and block close.
- Expected drawer cash = float + cash payments - drops + paid_in - paid_out.
  A drop (cash to the safe) or a paid-out larger than the drawer is refused.
- Close takes a count of the drawer by denomination and, for other methods,
  the counted total (e.g. the card terminal's batch total; default: the
  expected amount). Over/short = counted - expected (positive: over).
  ``shift.over_short`` stores the cash over/short (see db/models.py); the
  report gives every method, the drawer cash and the card/electronic
  takings apart (issue 12 item 6: one TOTAL mixed the drawer with the card
  batch, which are reconciled separately).
- The count-up policy is per facility (:class:`CountPolicy`, columns
  ``facility.count_blind`` and ``facility.over_short_reason_above``,
  migration ``0021_staff``; issue 12 item 6): a *blind* count-up (default)
  hides the expected amounts from whoever counts until the count is entered
  (the console's rule; the figures are the same), and a close whose
  over/short on any one method is larger, in absolute value, than the
  threshold (default 500 minor units) is refused without a reason
  (:class:`ReasonRequired`); the reason is stored in
  ``shift.over_short_reason`` and the ``shift.close`` audit event.

Every change is one transaction with an audit event naming the actor.
Concurrency: :func:`open_shift_id` share-locks the open shift row on
PostgreSQL (``FOR SHARE``) so a payment writer that calls it inside its own
transaction makes a concurrent :func:`close_shift` (``FOR UPDATE``) wait and
then count that payment; on SQLite writers are serialised by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core import audit
from attendant.core.auth import Actor, Role, as_actor, authorize, require
from attendant.core.clock import as_utc, utc_now
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.money import format_money, parse_major, to_major_str
from attendant.core.payment_methods import label as method_label
from attendant.core.payment_methods import order_key
from attendant.core.payment_methods import spec as method_spec
from attendant.core.users import LoginRequired
from attendant.core.vocab import PaymentMethod, PaymentStatus
from db.models import CashMovement, Facility, Payment, Shift, User

SH, CM, PAY, U, F = (t.__table__ for t in (Shift, CashMovement, Payment, User, Facility))

OPEN, CLOSED = "open", "closed"
MOVEMENT_KINDS = ("float", "drop", "paid_in", "paid_out")
COUNTED_STATUSES = (PaymentStatus.COMPLETED.value, PaymentStatus.REFUNDED.value)
CASH = PaymentMethod.CASH.value

# Notes and coins in circulation, minor units, largest first. Sources: Bank of
# England and Royal Mint (GBP), ECB (EUR), US Treasury/Mint (USD), RBI (INR),
# Bank of Japan (JPY). Any other currency uses the EUR-like set.
DENOMINATIONS: dict[str, tuple[int, ...]] = {
    "GBP": (5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
    "EUR": (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
    "USD": (10000, 5000, 2000, 1000, 500, 200, 100, 50, 25, 10, 5, 1),
    "INR": (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100),
    "JPY": (10000, 5000, 2000, 1000, 500, 100, 50, 10, 5, 1),
}
DEFAULT_DENOMINATIONS = DENOMINATIONS["EUR"]

REASON_MAX = 200
"""The longest over/short reason, characters."""


class ReasonRequired(InputError):
    """A close over the facility's over/short threshold without a reason; ``over_short`` is the largest
    over/short of one method (minor units, signed), ``threshold`` the facility's setting (minor units)."""

    def __init__(self, message: str, over_short: int, threshold: int) -> None:
        super().__init__(message)
        self.over_short = over_short
        self.threshold = threshold


@dataclass(frozen=True, slots=True)
class CountPolicy:
    """A facility's count-up policy (issue 12 item 6; columns of ``facility``, 0021_staff).

    ``blind``: the console hides the expected amounts until the count is
    entered. ``reason_above``: minor units; an over/short larger than this
    (absolute value, any one method) needs a reason at close.
    """

    blind: bool = True
    reason_above: int = 500

    def worst(self, over_short: dict[str, int]) -> int:
        """The over/short of largest absolute value in ``over_short`` (method -> minor units), 0 if none."""
        return max(over_short.values(), key=abs, default=0)

    def needs_reason(self, over_short: dict[str, int]) -> bool:
        """True when one method's over/short is larger (absolute value) than :attr:`reason_above`."""
        return abs(self.worst(over_short)) > self.reason_above

    def to_json_dict(self, currency: str) -> dict:
        return {"blind": self.blind, "reason_above": to_major_str(self.reason_above, currency)}


def count_policy(engine: Engine, facility_id: int) -> CountPolicy:
    """The count-up policy of ``facility_id``. Raises :class:`NotFound`."""
    with engine.connect().execution_options(readonly=True) as conn:
        return _policy(conn, facility_id)


def _policy(conn, facility_id: int) -> CountPolicy:
    row = conn.execute(select(F.c.count_blind, F.c.over_short_reason_above).where(F.c.id == facility_id)).first()
    if row is None:
        raise NotFound(f"no facility with id {facility_id}")
    return CountPolicy(bool(row.count_blind), int(row.over_short_reason_above))


def set_count_policy(engine: Engine, facility_id: int, actor: Actor | str, *, blind: bool | None = None,
                     reason_above: int | None = None, at: datetime | None = None) -> CountPolicy:
    """Change the facility's count-up policy (None leaves a setting as it is): supervisors and admins.

    ``reason_above`` is minor units, >= 0. One transaction with a
    ``facility.count_policy`` audit event (old and new). Raises
    :class:`PermissionDenied`, :class:`LoginRequired`, :class:`InputError`, :class:`NotFound`.
    """
    who = authorize(engine, actor, Role.SUPERVISOR, "changing the count-up policy")
    if reason_above is not None:
        reason_above = _amount(reason_above, "the over/short threshold")
    if blind is not None and not isinstance(blind, bool):
        raise InputError(f"blind must be true or false, got {blind!r}")
    when = _when(at)
    with engine.begin() as conn:
        old = _policy(conn, facility_id)
        new = CountPolicy(old.blind if blind is None else blind,
                          old.reason_above if reason_above is None else reason_above)
        conn.execute(update(F).where(F.c.id == facility_id)
                     .values(count_blind=new.blind, over_short_reason_above=new.reason_above))
        _audit(conn, facility_id=facility_id, at=when, actor=who.name, action="facility.count_policy",
               entity="facility", entity_id=facility_id,
               details={"old": {"blind": old.blind, "reason_above": old.reason_above},
                        "new": {"blind": new.blind, "reason_above": new.reason_above}})
    return new


def electronic_total(amounts: dict[str, int | None]) -> int | None:
    """Sum of the takings that are not drawer cash (card, UPI, e-wallet, mobile, account): the methods that
    take money (:mod:`attendant.core.payment_methods`); None if any is None. Passes, validations and IOUs
    take no money and are left out."""
    values = [v for m, v in amounts.items() if m != CASH and _takes_money(m)]
    return None if any(v is None for v in values) else sum(values)


def _takes_money(method: str) -> bool:
    try:
        return method_spec(method).takes_money
    except InputError:  # an unknown stored value: counted with the takings, as before
        return True


def denominations(currency: str) -> tuple[int, ...]:
    """Denominations of ``currency`` (ISO 4217) in minor units, largest first."""
    return DENOMINATIONS.get(currency.upper(), DEFAULT_DENOMINATIONS)


def _when(at: datetime | None) -> datetime:
    return utc_now() if at is None else as_utc(at)


def _amount(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number of minor units, got {value!r}")
    if value < 0:
        raise InputError(f"{what} cannot be negative")
    return value


# --------------------------------------------------------------------------- views
@dataclass(frozen=True, slots=True)
class ShiftView:
    """A shift as the console shows it. Times aware UTC; money minor units."""

    id: int
    facility_id: int
    user_id: int
    username: str
    display_name: str
    terminal: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    float_amount: int
    currency: str

    def to_json_dict(self) -> dict:
        return {
            "shift_id": self.id,
            "user": self.username,
            "name": self.display_name,
            "terminal": self.terminal,
            "status": self.status,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "currency": self.currency,
            "float": to_major_str(self.float_amount, self.currency),
        }


@dataclass(frozen=True, slots=True)
class CashMovementView:
    """One recorded movement; ``drawer`` is the expected drawer cash after it (minor units)."""

    id: int
    shift_id: int
    kind: str
    amount: int
    at: datetime
    actor: str
    note: str | None
    drawer: int
    currency: str

    def to_json_dict(self) -> dict:
        return {
            "id": self.id,
            "shift_id": self.shift_id,
            "kind": self.kind,
            "amount": to_major_str(self.amount, self.currency),
            "at": self.at.isoformat(),
            "actor": self.actor,
            "note": self.note,
            "drawer": to_major_str(self.drawer, self.currency),
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class MethodLine:
    """Per payment method: expected, counted (None while open) and over/short (counted - expected)."""

    method: str
    expected: int
    counted: int | None
    over_short: int | None
    payments: int
    refunds: int


@dataclass(frozen=True, slots=True)
class MovementLine:
    kind: str
    amount: int
    at: datetime
    actor: str
    note: str | None


@dataclass(frozen=True, slots=True)
class ShiftReport:
    """Everything a shift report shows. Money in minor units of ``currency``; times aware UTC.

    ``methods`` always starts with ``cash`` (its expected amount is the expected
    drawer: float + cash takings - drops + paid in - paid out). ``cash_count`` is
    ``(denomination, count)`` pairs, largest first. ``over_short`` is the total
    over all methods (None while the shift is open); ``cash_over_short`` the
    cash part (the value stored in ``shift.over_short``).
    """

    shift_id: int
    facility_code: str
    facility_name: str
    currency: str
    timezone: str
    user_id: int
    username: str
    display_name: str
    terminal: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    float_amount: int
    cash_takings: int
    drops: int
    paid_in: int
    paid_out: int
    methods: tuple[MethodLine, ...]
    cash_count: tuple[tuple[int, int], ...]
    movements: tuple[MovementLine, ...]
    payments: int
    refunds: int
    refunds_total: int
    # the audit chain's head (``#<event id> <16 hex digits>``, attendant/core/audit.py): right after the close
    # for a closed shift, now for an open one; printed so a supervisor holds it outside the database
    # (``attendant audit verify --head``)
    audit_head: str | None = None
    over_short_reason: str | None = None  # given at close (needed above the facility's threshold)

    # ----------------------------------------------------------- derived
    @property
    def is_closed(self) -> bool:
        return self.status == CLOSED

    def line(self, method: str) -> MethodLine | None:
        return next((m for m in self.methods if m.method == method), None)

    @property
    def expected(self) -> dict[str, int]:
        return {m.method: m.expected for m in self.methods}

    @property
    def counted(self) -> dict[str, int] | None:
        return {m.method: m.counted for m in self.methods} if self.is_closed else None

    @property
    def expected_cash(self) -> int:
        return self.expected.get(CASH, 0)

    @property
    def counted_cash(self) -> int | None:
        line = self.line(CASH)
        return line.counted if line else None

    @property
    def expected_total(self) -> int:
        return sum(m.expected for m in self.methods)

    @property
    def counted_total(self) -> int | None:
        return sum(m.counted for m in self.methods) if self.is_closed else None

    @property
    def over_short(self) -> int | None:
        return sum(m.over_short for m in self.methods) if self.is_closed else None

    @property
    def cash_over_short(self) -> int | None:
        line = self.line(CASH)
        return line.over_short if line else None

    @property
    def electronic_expected(self) -> int:
        """Expected card/electronic takings (every non-cash method that takes money), minor units."""
        return electronic_total({m.method: m.expected for m in self.methods}) or 0

    @property
    def electronic_counted(self) -> int | None:
        return electronic_total({m.method: m.counted for m in self.methods}) if self.is_closed else None

    @property
    def electronic_over_short(self) -> int | None:
        counted = self.electronic_counted
        return None if counted is None else counted - self.electronic_expected

    @property
    def has_electronic(self) -> bool:
        return any(m.method != CASH and _takes_money(m.method) for m in self.methods)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(ZoneInfo(self.timezone))

    # ----------------------------------------------------------- output
    def to_json_dict(self) -> dict:
        """JSON form for ``attendant shift report --json``: money as decimal strings in major units."""
        cur = self.currency

        def money(value: int | None) -> str | None:
            return None if value is None else to_major_str(value, cur)

        return {
            "shift_id": self.shift_id,
            "facility": self.facility_code,
            "currency": cur,
            "timezone": self.timezone,
            "user": {"id": self.user_id, "username": self.username, "name": self.display_name},
            "terminal": self.terminal,
            "status": self.status,
            "opened_at": self.opened_at.isoformat(),
            "opened_at_local": self.local(self.opened_at).isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_at_local": self.local(self.closed_at).isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "float": money(self.float_amount),
            "cash_takings": money(self.cash_takings),
            "drops": money(self.drops),
            "paid_in": money(self.paid_in),
            "paid_out": money(self.paid_out),
            "expected": {m.method: money(m.expected) for m in self.methods},
            "counted": {m.method: money(m.counted) for m in self.methods} if self.is_closed else None,
            "methods": [
                {
                    "method": m.method,
                    "expected": money(m.expected),
                    "counted": money(m.counted),
                    "over_short": money(m.over_short),
                    "payments": m.payments,
                    "refunds": m.refunds,
                }
                for m in self.methods
            ],
            "cash_count": [
                {"denomination": money(d), "count": n, "amount": money(d * n)} for d, n in self.cash_count
            ],
            "totals": {
                "expected": money(self.expected_total),
                "counted": money(self.counted_total),
                "over_short": money(self.over_short),
            },
            "cash_over_short": money(self.cash_over_short),
            "drawer_cash": {"expected": money(self.expected_cash), "counted": money(self.counted_cash),
                            "over_short": money(self.cash_over_short)},
            "electronic": {"expected": money(self.electronic_expected), "counted": money(self.electronic_counted),
                           "over_short": money(self.electronic_over_short)},
            "over_short_reason": self.over_short_reason,
            "payments": self.payments,
            "refunds": self.refunds,
            "refunds_total": money(self.refunds_total),
            "movements": [
                {"kind": mv.kind, "amount": money(mv.amount), "at": mv.at.isoformat(), "actor": mv.actor,
                 "note": mv.note}
                for mv in self.movements
            ],
            "audit_head": self.audit_head,
        }

    def lines(self, width: int = 42, *, blind: bool = False) -> list[str]:
        """The report as plain text lines of at most ``width`` characters (printer and screen).

        Printer paper is 42 characters wide for 80 mm Font A; the console may pass more.
        The drawer cash and the card/electronic takings are totalled apart, never
        added together. ``blind`` (an open shift shown to whoever will count it
        under a blind count-up policy) leaves out every expected amount.
        """
        width = max(width, 32)
        cur = self.currency

        def m(value: int | None, signed: bool = False) -> str:
            if value is None:
                return "-"
            text = format_money(value, cur)
            return f"+{text}" if signed and value > 0 else text

        def lv(label: str, value: str) -> str:
            room = width - len(value) - 1
            return f"{label[:room]:<{room}} {value}"

        rule = "-" * width
        when = "%a %d %b %Y %H:%M"
        out = [
            f"SHIFT REPORT #{self.shift_id}"[:width],
            f"{self.facility_name} ({self.facility_code})"[:width],
            (f"User: {self.display_name} ({self.username})" if self.display_name != self.username
             else f"User: {self.username}")[:width],
        ]
        if self.terminal:
            out.append(f"Terminal: {self.terminal}"[:width])
        out.append(f"Opened: {self.local(self.opened_at).strftime(when)}"[:width])
        if self.closed_at:
            out.append(f"Closed: {self.local(self.closed_at).strftime(when)}"[:width])
            out.append(f"Closed by: {self.closed_by}"[:width])
        else:
            out.append("Status: OPEN (figures so far)"[:width])
        if blind and not self.is_closed:
            out += [rule, "Blind count-up: the expected amounts", "are shown once the count is entered."]
            out += [lv("  Float", m(self.float_amount)), lv("  Drops", m(-self.drops))]
            out += [rule, lv("Payments", str(self.payments))]
            return [line[:width] for line in out]
        out += [
            rule,
            "Cash drawer",
            lv("  Float", m(self.float_amount)),
            lv("  Cash takings", m(self.cash_takings)),
            lv("  Drops", m(-self.drops)),
        ]
        if self.paid_in:
            out.append(lv("  Paid in", m(self.paid_in)))
        if self.paid_out:
            out.append(lv("  Paid out", m(-self.paid_out)))
        out += [lv("  Expected in drawer", m(self.expected_cash)), rule]
        num = (width - 9) // 3
        name = width - 3 * num
        out.append(f"{'Method':<{name}}{'Expected':>{num}}{'Counted':>{num}}{'Over/sh.':>{num}}")
        for line in self.methods:
            out.append(
                f"{line.method[:name - 1]:<{name}}{m(line.expected):>{num}}{m(line.counted):>{num}}"
                f"{m(line.over_short, True):>{num}}"
            )
        if self.has_electronic:
            out.append(
                f"{'Non-cash':<{name}}{m(self.electronic_expected):>{num}}{m(self.electronic_counted):>{num}}"
                f"{m(self.electronic_over_short, True):>{num}}"
            )
        if self.is_closed:
            out += [rule, "Cash count"]
            for denom, count in self.cash_count:
                out.append(lv(f"  {format_money(denom, cur)} x {count}", m(denom * count)))
            out.append(lv("  Counted cash", m(self.counted_cash)))
            out += [rule]

            def verdict(value: int) -> str:
                return "balanced" if value == 0 else ("OVER" if value > 0 else "SHORT")

            cash = self.cash_over_short or 0
            out.append(lv("OVER/SHORT cash", f"{m(cash, True)} {verdict(cash)}"))
            if self.has_electronic:
                elec = self.electronic_over_short or 0
                out.append(lv("OVER/SHORT non-cash", f"{m(elec, True)} {verdict(elec)}"))
            if self.over_short_reason:
                out.append("Reason:"[:width])
                text = self.over_short_reason
                while text:
                    out.append(f"  {text[:width - 2]}")
                    text = text[width - 2:]
        out += [rule, lv("Payments", str(self.payments))]
        if self.refunds:
            out.append(lv(f"Refunds ({self.refunds})", m(self.refunds_total)))
        if self.movements:
            out.append("Cash movements")
            for mv in self.movements:
                label = f"  {self.local(mv.at).strftime('%H:%M')} {mv.kind.replace('_', ' ')} {mv.actor}"
                out.append(lv(label, m(mv.amount)))
                if mv.note:
                    out.append(f"    {mv.note}"[:width])
        if self.audit_head:
            out += [rule, lv("Audit head", self.audit_head)]
        return out


# --------------------------------------------------------------------------- reads
def _facility(conn, facility_id: int):
    row = conn.execute(
        select(F.c.id, F.c.code, F.c.name, F.c.timezone, F.c.currency).where(F.c.id == facility_id)
    ).first()
    if row is None:
        raise NotFound(f"no facility with id {facility_id}")
    return row


def _shift_select():
    return select(SH, U.c.username, U.c.display_name).join(U, U.c.id == SH.c.user_id)


def _shift_view(row, currency: str) -> ShiftView:
    return ShiftView(
        id=row.id, facility_id=row.facility_id, user_id=row.user_id, username=row.username,
        display_name=row.display_name, terminal=row.terminal, status=row.status, opened_at=row.opened_at,
        closed_at=row.closed_at, float_amount=row.float_amount, currency=currency,
    )


def open_shift_id(conn, facility_id: int, user_id: int, *, lock: bool = True) -> int | None:
    """Id of ``user_id``'s open shift at ``facility_id``, or None. For use inside another transaction.

    One indexed lookup. With ``lock`` (default) the row is share-locked on
    PostgreSQL until the caller's transaction ends, so a payment written in that
    transaction cannot land in a shift that closes concurrently (close waits,
    then counts it; a close that committed first leaves no open shift here).
    Pass ``lock=False`` on a read-only connection.
    """
    # the status as a literal in the SQL: the partial unique index of open shifts is then usable
    stmt = select(SH.c.id).where(SH.c.facility_id == facility_id, SH.c.user_id == user_id,
                                 SH.c.status == literal_column(f"'{OPEN}'"))
    if lock:
        stmt = stmt.with_for_update(read=True)
    return conn.execute(stmt).scalar()


def current_shift(engine: Engine, facility_id: int, user_id: int) -> ShiftView | None:
    """``user_id``'s open shift at ``facility_id``, or None."""
    with engine.connect().execution_options(readonly=True) as conn:
        fac = _facility(conn, facility_id)
        row = conn.execute(
            _shift_select().where(SH.c.facility_id == facility_id, SH.c.user_id == user_id, SH.c.status == OPEN)
        ).first()
    return _shift_view(row, fac.currency) if row else None


def open_shifts(engine: Engine, facility_id: int) -> list[ShiftView]:
    """Every open shift at ``facility_id``, oldest first (a supervisor's pick list for closing one)."""
    with engine.connect().execution_options(readonly=True) as conn:
        fac = _facility(conn, facility_id)
        rows = conn.execute(
            _shift_select().where(SH.c.facility_id == facility_id, SH.c.status == OPEN).order_by(SH.c.opened_at,
                                                                                                 SH.c.id)
        ).all()
    return [_shift_view(row, fac.currency) for row in rows]


def last_shift_id(engine: Engine, facility_id: int, user_id: int) -> int | None:
    """``user_id``'s open shift at ``facility_id`` if any, else the most recently opened one, else None."""
    with engine.connect().execution_options(readonly=True) as conn:
        return conn.execute(
            select(SH.c.id)
            .where(SH.c.facility_id == facility_id, SH.c.user_id == user_id)
            .order_by((SH.c.status == OPEN).desc(), SH.c.opened_at.desc(), SH.c.id.desc())
            .limit(1)
        ).scalar()


def _movement_totals(conn, shift_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(CM.c.kind, func.coalesce(func.sum(CM.c.amount), 0)).where(CM.c.shift_id == shift_id).group_by(CM.c.kind)
    ).all()
    totals = dict.fromkeys(MOVEMENT_KINDS, 0)
    totals.update({kind: int(total) for kind, total in rows})
    return totals


def _payment_totals(conn, shift_id: int) -> dict[str, tuple[int, int, int, int]]:
    """method -> (net amount, payments, refunds, refunds amount) over completed/refunded rows."""
    rows = conn.execute(
        select(
            PAY.c.method,
            func.coalesce(func.sum(PAY.c.amount), 0),
            func.coalesce(func.sum(case((PAY.c.amount >= 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((PAY.c.amount < 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((PAY.c.amount < 0, PAY.c.amount), else_=0)), 0),
        )
        .where(PAY.c.shift_id == shift_id, PAY.c.status.in_(COUNTED_STATUSES))
        .group_by(PAY.c.method)
    ).all()
    return {method: (int(net), int(n), int(r), int(ra)) for method, net, n, r, ra in rows}


def _drawer(moves: dict[str, int], cash_takings: int) -> int:
    return moves["float"] + cash_takings - moves["drop"] + moves["paid_in"] - moves["paid_out"]


def expected_takings(conn, shift_id: int) -> dict[str, int]:
    """Expected takings of a shift per payment method (minor units), ``cash`` first.

    Non-cash methods: sum(amount) of the shift's payments with status completed
    or refunded (refund rows are negative). ``cash`` is the expected drawer:
    float + cash payments - drops + paid_in - paid_out. Always has ``cash``.
    """
    moves = _movement_totals(conn, shift_id)
    pays = _payment_totals(conn, shift_id)
    expected = {CASH: _drawer(moves, pays.get(CASH, (0, 0, 0, 0))[0])}
    for method in sorted(pays, key=order_key):
        if method != CASH:
            expected[method] = pays[method][0]
    return expected


def _report(conn, shift_id: int) -> ShiftReport:
    row = conn.execute(_shift_select().where(SH.c.id == shift_id)).first()
    if row is None:
        raise NotFound(f"no shift #{shift_id}")
    fac = _facility(conn, row.facility_id)
    moves = _movement_totals(conn, shift_id)
    pays = _payment_totals(conn, shift_id)
    closed = row.status == CLOSED
    if closed:
        expected = {k: int(v) for k, v in (row.expected or {}).items()}
        counted = {k: int(v) for k, v in (row.counted or {}).items()}
    else:
        expected = expected_takings(conn, shift_id)
        counted = {}
    methods = sorted(set(expected) | set(counted) | {CASH}, key=order_key)
    lines = []
    for method in methods:
        exp = expected.get(method, 0)
        cnt = counted.get(method, 0) if closed else None
        _, n, r, _ = pays.get(method, (0, 0, 0, 0))
        lines.append(MethodLine(method, exp, cnt, None if cnt is None else cnt - exp, n, r))
    detail = sorted(((int(d), int(n)) for d, n in (row.count_detail or {}).items()), reverse=True)
    movements = tuple(
        MovementLine(mv.kind, mv.amount, mv.at, mv.actor, mv.note)
        for mv in conn.execute(
            select(CM.c.kind, CM.c.amount, CM.c.at, CM.c.actor, CM.c.note)
            .where(CM.c.shift_id == shift_id)
            .order_by(CM.c.at, CM.c.id)
        )
    )
    return ShiftReport(
        shift_id=row.id,
        facility_code=fac.code,
        facility_name=fac.name,
        currency=fac.currency,
        timezone=fac.timezone,
        user_id=row.user_id,
        username=row.username,
        display_name=row.display_name,
        terminal=row.terminal,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        float_amount=moves["float"],
        cash_takings=pays.get(CASH, (0, 0, 0, 0))[0],
        drops=moves["drop"],
        paid_in=moves["paid_in"],
        paid_out=moves["paid_out"],
        methods=tuple(lines),
        cash_count=tuple(detail),
        movements=movements,
        payments=sum(p[1] for p in pays.values()),
        refunds=sum(p[2] for p in pays.values()),
        refunds_total=sum(p[3] for p in pays.values()),
        # closed: the head right after its close (the same on every reprint); open: the head now
        audit_head=(audit.event_seal(conn, "shift.close", "shift", row.id) if closed else None)
        or audit.short_head(conn),
        over_short_reason=row.over_short_reason,
    )


def shift_report(engine: Engine, shift_id: int, *, actor: Actor | str | None = None) -> ShiftReport:
    """The report of shift ``shift_id`` (open: figures so far; closed: as counted at close).

    With ``actor``: a user may read their own shift's report; another user's
    needs a supervisor (:class:`PermissionDenied`). Raises :class:`NotFound`.
    """
    with engine.connect().execution_options(readonly=True) as conn:
        report = _report(conn, shift_id)
    if actor is not None:
        who = as_actor(actor)
        if who.user_id != report.user_id:
            require(who, Role.SUPERVISOR, "reading another user's shift report")
    return report


# --------------------------------------------------------------------------- changes
def _audit(conn, *, facility_id: int, at: datetime, actor: str, action: str, entity: str, entity_id: int,
           details: dict) -> None:
    audit.record(conn, facility_id=facility_id, actor=actor, action=action, entity=entity, entity_id=entity_id,
                 details=details, effective_at=at)


def _logged_in_user(actor: Actor | str, action: str) -> Actor:
    who = as_actor(actor)
    if who.user_id is None:
        raise LoginRequired(f"{action} needs a logged-in user: log in with --user and --pin")
    return who


def open_shift(
    engine: Engine,
    facility_id: int,
    actor: Actor | str,
    float_amount: int,
    *,
    terminal: str | None = None,
    at: datetime | None = None,
) -> ShiftView:
    """Open a shift for the logged-in ``actor`` with ``float_amount`` (minor units, >= 0) in the drawer.

    Records the float as a ``cash_movement`` of kind ``float``; one transaction
    with a ``shift.open`` audit event. Raises :class:`LoginRequired` (actor is
    not a logged-in user), :class:`Refused` (the user already has an open shift
    here, or is deactivated), :class:`InputError` (bad amount or terminal),
    :class:`NotFound` (facility).
    """
    who = _logged_in_user(actor, "opening a shift")
    amount = _amount(float_amount, "the float")
    if terminal is not None:
        terminal = terminal.strip() or None
        if terminal and len(terminal) > 40:
            raise InputError("a terminal name is at most 40 characters")
    when = _when(at)
    try:
        with engine.begin() as conn:
            fac = _facility(conn, facility_id)
            user = conn.execute(select(U.c.active).where(U.c.id == who.user_id)).first()
            if user is None or not user.active:
                raise Refused(f"user {who.name} is not an active user")
            existing = conn.execute(
                select(SH.c.id, SH.c.opened_at).where(
                    SH.c.facility_id == facility_id, SH.c.user_id == who.user_id, SH.c.status == OPEN
                )
            ).first()
            if existing:
                raise _already_open(who.name, existing.id, existing.opened_at, fac.timezone)
            shift_id = conn.execute(
                insert(SH)
                .values(
                    facility_id=facility_id, user_id=who.user_id, terminal=terminal, status=OPEN, opened_at=when,
                    float_amount=amount,
                )
                .returning(SH.c.id)
            ).scalar_one()
            movement_id = conn.execute(
                insert(CM)
                .values(facility_id=facility_id, shift_id=shift_id, kind="float", amount=amount, at=when,
                        actor=who.name, note=None)
                .returning(CM.c.id)
            ).scalar_one()
            _audit(conn, facility_id=facility_id, at=when, actor=who.name, action="shift.open", entity="shift",
                   entity_id=shift_id,
                   details={"user_id": who.user_id, "float": amount, "terminal": terminal,
                            "cash_movement_id": movement_id})
            row = conn.execute(_shift_select().where(SH.c.id == shift_id)).one()
    except IntegrityError:  # another booth opened a shift for this user at the same moment
        with engine.connect().execution_options(readonly=True) as conn:
            existing = conn.execute(
                select(SH.c.id, SH.c.opened_at).where(
                    SH.c.facility_id == facility_id, SH.c.user_id == who.user_id, SH.c.status == OPEN
                )
            ).first()
            fac = _facility(conn, facility_id)
        if existing is None:
            raise
        raise _already_open(who.name, existing.id, existing.opened_at, fac.timezone) from None
    return _shift_view(row, fac.currency)


def _already_open(name: str, shift_id: int, opened_at: datetime, tz: str) -> Refused:
    since = opened_at.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")
    return Refused(f"{name} already has shift #{shift_id} open here since {since}: close it first")


def record_cash_movement(
    engine: Engine,
    facility_id: int,
    actor: Actor | str,
    kind: str,
    amount: int,
    note: str | None = None,
    *,
    at: datetime | None = None,
) -> CashMovementView:
    """Record a ``drop`` (cash to the safe), ``paid_in`` or ``paid_out`` on the actor's open shift.

    ``amount`` is minor units, > 0. A drop or paid-out larger than the expected
    drawer cash is refused. One transaction with a ``cash.<kind>`` audit event.
    Raises :class:`LoginRequired`, :class:`Refused` (no open shift, not enough
    cash), :class:`InputError` (kind, amount, note).
    """
    who = _logged_in_user(actor, "recording a cash movement")
    kind = str(kind).strip().lower().replace("-", "_")
    if kind == "float":
        raise InputError("the float is recorded when the shift opens")
    if kind not in MOVEMENT_KINDS:
        raise InputError(f"unknown cash movement {kind!r} (drop, paid_in or paid_out)")
    value = _amount(amount, f"a {kind.replace('_', ' ')}")
    if value == 0:
        raise InputError(f"a {kind.replace('_', ' ')} must be more than zero")
    note = (note or "").strip() or None
    if note and len(note) > 200:
        raise InputError("a note is at most 200 characters")
    when = _when(at)
    with engine.begin() as conn:
        fac = _facility(conn, facility_id)
        row = conn.execute(
            select(SH.c.id, SH.c.opened_at)
            .where(SH.c.facility_id == facility_id, SH.c.user_id == who.user_id, SH.c.status == OPEN)
            .with_for_update()
        ).first()
        if row is None:
            raise Refused(f"{who.name} has no open shift here: open one first (attendant shift open --float AMOUNT)")
        if when < row.opened_at:
            raise InputError("a cash movement cannot be before its shift opened")
        drawer = expected_takings(conn, row.id)[CASH]
        if kind in ("drop", "paid_out") and value > drawer:
            raise Refused(
                f"cannot take {format_money(value, fac.currency)} out: the drawer should hold only "
                f"{format_money(drawer, fac.currency)}"
            )
        after = drawer + (value if kind == "paid_in" else -value)
        movement_id = conn.execute(
            insert(CM)
            .values(facility_id=facility_id, shift_id=row.id, kind=kind, amount=value, at=when, actor=who.name,
                    note=note)
            .returning(CM.c.id)
        ).scalar_one()
        _audit(conn, facility_id=facility_id, at=when, actor=who.name, action=f"cash.{kind}", entity="cash_movement",
               entity_id=movement_id,
               details={"shift_id": row.id, "user_id": who.user_id, "amount": value, "note": note,
                        "drawer_after": after})
    return CashMovementView(movement_id, row.id, kind, value, when, who.name, note, after, fac.currency)


def parse_cash_count(text: str, currency: str = "GBP") -> dict[int, int]:
    """Parse a count like ``"50.00x2,20.00x3,1.00x7,0.50x4"`` into {denomination minor units: count}.

    ``x``, ``X``, ``*`` or ``×`` separate the denomination (major units) from the
    count; repeated denominations add up; an empty text is an empty drawer.
    Raises :class:`InputError` (also for a denomination that ``currency`` lacks).
    """
    count: dict[int, int] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(.+?)\s*[xX*×]\s*([0-9]{1,6})", part)  # ASCII digits, at most 999,999 notes
        if not match:
            raise InputError(f"not a count: {part!r} (expected DENOMINATIONxCOUNT, e.g. 20.00x3)")
        denom = parse_major(match.group(1), currency)
        count[denom] = count.get(denom, 0) + int(match.group(2))
    return check_cash_count(count, currency)


def check_cash_count(cash_count: dict[int, int], currency: str) -> dict[int, int]:
    """Validate {denomination minor units: count}; returns it without zero counts. Raises InputError."""
    if not isinstance(cash_count, dict):
        raise InputError("the cash count must map denominations to counts")
    allowed = denominations(currency)
    clean: dict[int, int] = {}
    for denom, n in cash_count.items():
        if isinstance(denom, bool) or not isinstance(denom, int) or denom not in allowed:
            shown = format_money(denom, currency) if isinstance(denom, int) else repr(denom)
            names = ", ".join(to_major_str(d, currency) for d in allowed)
            raise InputError(f"{shown} is not a {currency} denomination ({names})")
        _amount(n, f"the count of {format_money(denom, currency)}")
        if n:
            clean[denom] = clean.get(denom, 0) + n
    return dict(sorted(clean.items(), reverse=True))


def _check_other(counted_other: dict[str, int] | None, currency: str) -> dict[str, int]:
    clean: dict[str, int] = {}
    for method, value in (counted_other or {}).items():
        key = method_spec(method).value  # InputError for an unknown method, naming the known ones
        if key == CASH:
            raise InputError("cash is counted by denomination, not as a total")
        clean[key] = _amount(value, f"the counted {key} total")
    return clean


def close_shift(
    engine: Engine,
    facility_id: int,
    actor: Actor | str,
    *,
    cash_count: dict[int, int],
    counted_other: dict[str, int] | None = None,
    shift_id: int | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> ShiftReport:
    """Close a shift with its count-up; return its report.

    ``cash_count`` maps denomination (minor units) -> count of the drawer;
    ``counted_other`` maps other methods to their counted totals in minor units
    (e.g. the card terminal's batch total), default the expected amount.
    ``shift_id`` None closes the actor's own open shift here; closing another
    user's shift needs a supervisor. Refused while the shift has a payment in
    progress (status pending): quicktill's rule that a session cannot close
    with open transactions. ``reason`` (at most :data:`REASON_MAX` characters)
    says why the count is over or short; it is required when one method's
    over/short is larger (absolute value) than the facility's
    :attr:`CountPolicy.reason_above` (issue 12 item 6). Stores expected,
    counted, count_detail, over_short (cash), over_short_reason, closed_by;
    one transaction with a ``shift.close`` audit event (the reason and the
    threshold in its details).
    Raises :class:`LoginRequired`, :class:`PermissionDenied`, :class:`Refused`,
    :class:`NotFound`, :class:`ReasonRequired`, :class:`InputError` (bad count,
    reason too long, time before opening).
    """
    who = as_actor(actor)
    when = _when(at)
    reason = " ".join((reason or "").split()) or None
    if reason is not None and len(reason) > REASON_MAX:
        raise InputError(f"an over/short reason is at most {REASON_MAX} characters")
    with engine.begin() as conn:
        fac = _facility(conn, facility_id)
        count = check_cash_count(cash_count, fac.currency)
        other = _check_other(counted_other, fac.currency)
        if shift_id is None:
            if who.user_id is None:
                raise LoginRequired("closing a shift needs a logged-in user: log in with --user and --pin")
            shift_id = open_shift_id(conn, facility_id, who.user_id, lock=False)
            if shift_id is None:
                raise Refused(f"{who.name} has no open shift here")
        row = conn.execute(select(SH).where(SH.c.id == shift_id).with_for_update()).first()
        if row is None or row.facility_id != facility_id:
            raise NotFound(f"no shift #{shift_id} at {fac.code}")
        if row.user_id != who.user_id:
            require(who, Role.SUPERVISOR, "closing another user's shift")
        if row.status != OPEN:
            closed = row.closed_at.astimezone(ZoneInfo(fac.timezone)).strftime("%a %d %b %H:%M")
            raise Refused(f"shift #{shift_id} is already closed ({closed} by {row.closed_by})")
        if when < row.opened_at:
            raise InputError("a shift cannot close before it opened")
        pending = conn.execute(
            select(PAY.c.id, PAY.c.method, PAY.c.amount)
            .where(PAY.c.shift_id == shift_id, PAY.c.status == PaymentStatus.PENDING.value)
            .order_by(PAY.c.id)
        ).all()
        if pending:
            listed = ", ".join(f"#{p.id} {p.method} {format_money(p.amount, fac.currency)}" for p in pending[:5])
            more = f" and {len(pending) - 5} more" if len(pending) > 5 else ""
            noun = "payment" if len(pending) == 1 else "payments"
            raise Refused(
                f"shift #{shift_id} has {len(pending)} {noun} waiting for a processor's answer ({listed}{more}): "
                "each is settled by its ticket's next exit or by a supervisor (`attendant payment list "
                "--pending`, `attendant payment resolve ID`) before the shift can close"
            )
        expected = expected_takings(conn, shift_id)
        for method in other:
            expected.setdefault(method, 0)
        counted = {CASH: sum(d * n for d, n in count.items())}
        for method, value in expected.items():
            if method != CASH:
                counted[method] = other.get(method, value)
        over = {method: counted[method] - expected[method] for method in expected}
        policy = _policy(conn, facility_id)
        if reason is None and policy.needs_reason(over):
            worst = policy.worst(over)
            which = next(method for method, value in over.items() if value == worst)
            word = "over" if worst > 0 else "short"
            raise ReasonRequired(
                f"{method_label(which)} is {word} by {format_money(abs(worst), fac.currency)}, more than "
                f"{format_money(policy.reason_above, fac.currency)}: give a reason for the over/short",
                worst, policy.reason_above,
            )
        done = conn.execute(
            update(SH)
            .where(SH.c.id == shift_id, SH.c.status == OPEN)
            .values(
                status=CLOSED, closed_at=when, expected=expected, counted=counted,
                count_detail={str(d): n for d, n in count.items()}, over_short=over[CASH], closed_by=who.name,
                over_short_reason=reason,
            )
        )
        if done.rowcount != 1:  # pragma: no cover - guarded by the row lock / BEGIN IMMEDIATE
            raise Refused(f"shift #{shift_id} was closed meanwhile")
        _audit(conn, facility_id=facility_id, at=when, actor=who.name, action="shift.close", entity="shift",
               entity_id=shift_id,
               details={"user_id": row.user_id, "expected": expected, "counted": counted,
                        "over_short": over, "total_over_short": sum(over.values()),
                        "count_detail": {str(d): n for d, n in count.items()},
                        "reason": reason, "reason_above": policy.reason_above})
        report = _report(conn, shift_id)
    # the close's own event is chained as the transaction commits: the head printed is the one after it
    with engine.connect().execution_options(readonly=True) as conn:
        return replace(report, audit_head=audit.event_seal(conn, "shift.close", "shift", shift_id))


def record_count_entered(engine: Engine, facility_id: int, actor: Actor | str, shift_id: int, *,
                         cash_count: dict[int, int], counted_other: dict[str, int] | None = None,
                         at: datetime | None = None) -> None:
    """Record that a blind count was entered (the console then shows the expected amounts): one
    ``shift.count_entered`` audit event with the count, so a recount after seeing the figures is on record.

    The shift must be open at ``facility_id``; another user's needs a supervisor. Money minor units.
    Raises :class:`NotFound`, :class:`Refused` (closed), :class:`PermissionDenied`, :class:`InputError`.
    """
    who = as_actor(actor)
    when = _when(at)
    with engine.begin() as conn:
        fac = _facility(conn, facility_id)
        count = check_cash_count(cash_count, fac.currency)
        other = _check_other(counted_other, fac.currency)
        row = conn.execute(select(SH.c.id, SH.c.facility_id, SH.c.user_id, SH.c.status)
                           .where(SH.c.id == shift_id)).first()
        if row is None or row.facility_id != facility_id:
            raise NotFound(f"no shift #{shift_id} at {fac.code}")
        if row.user_id != who.user_id:
            require(who, Role.SUPERVISOR, "counting another user's shift")
        if row.status != OPEN:
            raise Refused(f"shift #{shift_id} is already closed")
        _audit(conn, facility_id=facility_id, at=when, actor=who.name, action="shift.count_entered", entity="shift",
               entity_id=shift_id,
               details={"cash": sum(d * n for d, n in count.items()), "count_detail": {str(d): n for d, n in count.items()},
                        "counted_other": other})


class ShiftDesk:
    """The shift operations of one facility, bound to its database and clock (what both front ends call).

    Each method is the module function of the same purpose with the engine,
    the facility and the time filled in; ``actor`` is who asks (roles are
    checked by the functions). Money minor units; times aware UTC.
    """

    def __init__(self, engine: Engine, facility_id: int, clock) -> None:
        self.engine = engine
        self.facility_id = facility_id
        self.clock = clock

    def current(self, actor: Actor | str | None) -> ShiftView | None:
        """The logged-in ``actor``'s open shift here, or None (also for actors that are not users)."""
        user_id = getattr(actor, "user_id", None)
        return current_shift(self.engine, self.facility_id, user_id) if user_id is not None else None

    def last_id(self, actor: Actor | str) -> int | None:
        """The actor's open shift, else their latest one, else None."""
        user_id = getattr(actor, "user_id", None)
        return last_shift_id(self.engine, self.facility_id, user_id) if user_id is not None else None

    def open_shifts(self) -> list[ShiftView]:
        """Every open shift here, oldest first."""
        return open_shifts(self.engine, self.facility_id)

    def open(self, actor: Actor | str, float_amount: int, *, terminal: str | None = None) -> ShiftView:
        """:func:`open_shift` now."""
        return open_shift(self.engine, self.facility_id, actor, float_amount, terminal=terminal, at=self.clock())

    def move(self, actor: Actor | str, kind: str, amount: int, note: str | None = None) -> CashMovementView:
        """:func:`record_cash_movement` now (``drop``, ``paid_in``, ``paid_out``)."""
        return record_cash_movement(self.engine, self.facility_id, actor, kind, amount, note, at=self.clock())

    def close(self, actor: Actor | str, *, cash_count: dict[int, int], counted_other: dict[str, int] | None = None,
              shift_id: int | None = None, reason: str | None = None) -> ShiftReport:
        """:func:`close_shift` now."""
        return close_shift(self.engine, self.facility_id, actor, cash_count=cash_count, counted_other=counted_other,
                           shift_id=shift_id, reason=reason, at=self.clock())

    def count_entered(self, actor: Actor | str, shift_id: int, *, cash_count: dict[int, int],
                      counted_other: dict[str, int] | None = None) -> None:
        """:func:`record_count_entered` now."""
        record_count_entered(self.engine, self.facility_id, actor, shift_id, cash_count=cash_count,
                             counted_other=counted_other, at=self.clock())

    def policy(self) -> CountPolicy:
        """:func:`count_policy` of this facility."""
        return count_policy(self.engine, self.facility_id)

    def set_policy(self, actor: Actor | str, *, blind: bool | None = None,
                   reason_above: int | None = None) -> CountPolicy:
        """:func:`set_count_policy` now."""
        return set_count_policy(self.engine, self.facility_id, actor, blind=blind, reason_above=reason_above,
                                at=self.clock())

    def report(self, shift_id: int, *, actor: Actor | str | None = None) -> ShiftReport:
        """:func:`shift_report` (another user's needs a supervisor)."""
        return shift_report(self.engine, shift_id, actor=actor)
