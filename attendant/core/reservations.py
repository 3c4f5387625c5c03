"""Reservations: a bay of a spot type (or zone, or one bay) booked for a window (issue 11; BRIEF features 2, 5, 9).

Life of a reservation (:class:`ReservationStatus`): ``booked`` -> ``checked_in``
(at entry, by plate or by its signed code) -> ``completed`` (at exit); or
``cancelled`` (refunded by the plan's cancellation rule), ``no_show`` (not
checked in by the window's start plus the no-show grace: the hold is released
and the plan's no-show fee kept from the prepayment) or ``expired`` (the same
with nothing to charge: no prepayment and no fee).

Rules and where they live:

- **Never overbooked.** A reservation draws on one *reservable pool*
  (``reservation_pool``: a number or a share of the bays of a spot type, for the
  facility or one zone; supervisors set it with :meth:`ReservationOps.set_pool`).
  For every instant, the ``booked`` and ``checked_in`` reservations of a pool
  never exceed its bays (:func:`first_conflict`); a booking that would is refused
  with :class:`Overbooked` naming the first instant it conflicts. Bookings of a pool
  are serialised in the database: its row is locked ``SELECT ... FOR UPDATE`` on
  PostgreSQL (the second booth waits, then counts the first one's reservation);
  SQLite has a single writer (``BEGIN IMMEDIATE``). A booking of one bay also
  never overlaps another booking of that bay.
- **Holds.** From the window's start minus the plan's arrival allowance a bay is
  *held* for a booked reservation (spot status ``reserved``, drawn as reserved on
  the map): at every entry of a walk-in (before its bay is claimed) and at every
  :meth:`ReservationOps.sweep`. Bays are claimed only when ``available``, so no
  walk-in and no strategy ever takes a held bay; and a walk-in does not take the
  last free bays of a type that reservations whose hold begins within
  :data:`HOLD_LOOKAHEAD` need (:meth:`ReservationOps._walk_in_holds`).
- **Check-in** at entry (:meth:`ReservationOps._entry_reservations`, called by
  :meth:`attendant.core.services.ParkingService._enter`): by the code
  (``EntryRequest.reservation``) or by the plate (exact blind index, then the
  confusable-folded one when it names a single reservation); the entry takes the
  held bay. Before the allowance the plan's ``early_arrival`` rule decides: a
  walk-in, or checked in with the early time priced by the tariff.
- **Prices** (``[reservations]`` of the rate plan, ``docs/rates.md``): the window's
  price at booking (:func:`window_price`), the fee at exit (:func:`reserved_fee`:
  the window as prepaid, early arrival, overstay beyond its grace), cancellation
  refunds and no-show fees. Money: integer minor units. Times: UTC stored, facility
  time on screen.
- **Personal data**: plate, holder name and contact are sealed (AES-GCM) with the
  plate's blind indexes (:mod:`attendant.core.personal_data`); audit events name
  the plate by its blind index only.
- **Payments**: a prepayment or refund is a ``reservation_payment`` row with an
  idempotency key; electronic methods go to the processor outside any transaction
  (seed 003), cash is settled at the booth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core.allocation import ACCESSIBLE_CLASSES, EV_CLASSES, fits
from attendant.core.auth import Actor, Role
from attendant.core.errors import (
    InputError,
    NoSpaceAvailable,
    NotFound,
    PaymentError,
    Refused,
)
from attendant.core.money import format_money, to_major_str
from attendant.core.payment_methods import spec as method_spec
from attendant.core.payments import ProcessorTimeout, ProcessorUnavailable
from attendant.core.plates import normalize_plate
from attendant.core.rates import Fee, FeeLine, RatePlan, compute_fee, format_minutes
from attendant.core.store import FacilityStore, S
from attendant.core.tickets import format_ticket_no, looks_like_reservation_code
from attendant.core.vocab import PaymentStatus, SpotStatus, SpotType, VehicleClass
from db.models import Reservation, ReservationPayment, ReservationPool

RES, POOL, RPAY = Reservation.__table__, ReservationPool.__table__, ReservationPayment.__table__

MAX_WINDOW = timedelta(days=31)
"""The longest window one reservation may book."""
MAX_AHEAD = timedelta(days=366)
"""How far ahead a window may start."""
HOLD_LOOKAHEAD = timedelta(hours=1)
"""Walk-ins leave a type's last free bays to the reservations whose hold begins within this time."""


class ReservationStatus(StrEnum):
    """The states of a reservation (module docstring)."""

    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXPIRED = "expired"


#: The reservations that count against a pool.
ACTIVE = (ReservationStatus.BOOKED.value, ReservationStatus.CHECKED_IN.value)

#: The pool a vehicle books when no spot type is named: the bay a driver of that class expects.
DEFAULT_TYPE: dict[VehicleClass, SpotType] = {
    VehicleClass.MOTORCYCLE: SpotType.MOTORCYCLE,
    VehicleClass.CAR: SpotType.REGULAR,
    VehicleClass.VAN: SpotType.REGULAR,
    VehicleClass.TRUCK: SpotType.LARGE,
    VehicleClass.BUS: SpotType.LARGE,
}
#: Methods a reservation may be prepaid with: cash at the booth, or an electronic method (processor).
PREPAY_METHODS = ("cash", "card", "upi", "ewallet", "mobile")


class Overbooked(Refused):
    """A booking refused because its pool (or bay) is full at ``first_conflict`` (aware UTC)."""

    def __init__(self, message: str, first_conflict: datetime) -> None:
        super().__init__(message)
        self.first_conflict = first_conflict


def pool_type(vehicle_class: VehicleClass, *, ev: bool = False, accessible: bool = False) -> SpotType:
    """The spot type a reservation books when none is named: accessible for a badge holder, EV for an EV
    asking to charge, else :data:`DEFAULT_TYPE`."""
    if accessible and vehicle_class in ACCESSIBLE_CLASSES:
        return SpotType.ACCESSIBLE
    if ev and vehicle_class in EV_CLASSES:
        return SpotType.EV
    return DEFAULT_TYPE[vehicle_class]


def first_conflict(booked: list[tuple[datetime, datetime]], start: datetime, end: datetime,
                   capacity: int) -> datetime | None:
    """The first instant of ``[start, end)`` at which ``booked`` windows (``[from, to)``) plus the new one
    exceed ``capacity``, or None. The count only rises where a window starts, so the instants to try are
    ``start`` and the starts of booked windows inside the new one."""
    if capacity <= 0:
        return start
    instants = sorted({start, *(s for s, _e in booked if start < s < end)})
    for t in instants:
        if sum(1 for s, e in booked if s <= t < e) + 1 > capacity:
            return t
    return None


def _minutes(a: datetime, b: datetime) -> int:
    """Whole minutes from ``a`` to ``b``, a started minute counting."""
    return max(0, math.ceil((b - a).total_seconds() / 60))


def window_price(plan: RatePlan, start: datetime, end: datetime, *, vehicle_class: str, spot_type: str,
                 tz) -> int:
    """The price of booking ``[start, end)`` (minor units) by the plan's ``[reservations]`` rules: ``flat``,
    or ``hourly`` per started hour, else the plan's tariff for a stay from ``start`` to ``end``."""
    rules = plan.reservation_rules
    if rules.flat is not None:
        return rules.flat
    if rules.hourly is not None:
        return rules.hourly * math.ceil(_minutes(start, end) / 60)
    return compute_fee(plan, start, end, vehicle_class=vehicle_class, spot_type=spot_type, tz=tz).amount


def reserved_fee(plan: RatePlan, res, entry_at: datetime, exit_at: datetime, *, vehicle_class: str,
                 spot_type: str, tz) -> Fee:
    """The fee of a stay that checked in reservation ``res`` (a ``reservation`` row), leaving at ``exit_at``.

    Lines: the reserved window at its booked price; its prepayment (negative); time before the arrival
    allowance (early arrival, by the tariff); time after it beyond the overstay grace, by ``overstay_hourly`` per
    started hour or else the tariff from the window's end, plus ``overstay_surcharge``. ``amount`` is the
    sum of the lines, what is still due at the exit (minor units).
    """
    rules = plan.reservation_rules
    cur = plan.currency

    def hm(t: datetime) -> str:
        return t.astimezone(tz).strftime("%H:%M")

    start, end = res.start_at, res.end_at
    lines = [FeeLine(f"Reservation {hm(start)}-{hm(end)}", _minutes(start, end), res.price)]
    if res.amount_prepaid:
        lines.append(FeeLine("Prepaid at booking", 0, -min(res.amount_prepaid, res.price)))
    if entry_at < res.hold_from_at:  # before the arrival allowance (checked in under early_arrival = "tariff")
        early = compute_fee(plan, entry_at, res.hold_from_at, vehicle_class=vehicle_class, spot_type=spot_type,
                            tz=tz)
        lines.append(FeeLine(f"Early arrival {hm(entry_at)}-{hm(res.hold_from_at)} (tariff)",
                             _minutes(entry_at, res.hold_from_at), early.amount))
    over = _minutes(end, exit_at)
    if over > rules.overstay_grace:
        if rules.overstay_hourly is not None:
            amount = rules.overstay_hourly * math.ceil(over / 60)
            how = f"{format_money(rules.overstay_hourly, cur)} per started hour"
        else:
            amount = compute_fee(plan, end, exit_at, vehicle_class=vehicle_class, spot_type=spot_type,
                                 tz=tz).amount
            how = "tariff"
        lines.append(FeeLine(f"Overstay {hm(end)}-{hm(exit_at)}, beyond {format_minutes(rules.overstay_grace)} "
                             f"grace ({how})", over, amount))
        if rules.overstay_surcharge:
            lines.append(FeeLine("Overstay surcharge", 0, rules.overstay_surcharge))
    elif over:
        lines.append(FeeLine(f"Left {format_minutes(over)} after the window (within grace)", over, 0))
    return Fee(amount=sum(ln.amount for ln in lines), currency=cur, lines=tuple(lines), plan_name=plan.name,
               plan_version=plan.version, tariff="Reservation")


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """Book a window: ``vehicle_class`` and ``[start, end)`` (aware datetimes), optionally ``plate`` (so the
    camera can check in), one of ``spot_type``/``zone``/``spot`` (default: :func:`pool_type`), the holder's
    ``name`` and ``contact`` (kept sealed), ``prepay`` (a method of :data:`PREPAY_METHODS`: the window's price
    is taken at booking) and an ``idempotency_key`` (a retried booking returns the first). Raises
    :class:`InputError` for anything malformed."""

    vehicle_class: VehicleClass | str
    start: datetime
    end: datetime
    plate: str | None = None
    spot_type: str | None = None
    zone: str | None = None
    spot: str | None = None
    holder_name: str | None = None
    holder_contact: str | None = None
    ev: bool = False
    accessible: bool = False
    prepay: str | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "vehicle_class", VehicleClass(str(self.vehicle_class).strip().lower()))
        except ValueError:
            raise InputError(f"unknown vehicle class {self.vehicle_class!r} (one of: "
                             f"{', '.join(v.value for v in VehicleClass)})") from None
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise InputError(f"the window's {'from' if name == 'start' else 'to'} needs a date-time with a zone")
        if self.end <= self.start:
            raise InputError("the window ends before it starts: --to must be after --from")
        if self.end - self.start > MAX_WINDOW:
            raise InputError(f"a window of at most {MAX_WINDOW.days} days")
        if sum(x is not None for x in (self.spot_type, self.zone, self.spot)) > 1:
            raise InputError("give at most one of spot type, zone or bay")
        if self.spot_type is not None:
            try:
                object.__setattr__(self, "spot_type", SpotType(self.spot_type.strip().lower()).value)
            except ValueError:
                raise InputError(f"unknown spot type {self.spot_type!r} (one of: "
                                 f"{', '.join(t.value for t in SpotType)})") from None
        if self.plate is not None:
            object.__setattr__(self, "plate", normalize_plate(self.plate))
        for name, limit in (("holder_name", 120), ("holder_contact", 200)):
            value = getattr(self, name)
            if value is not None:
                value = value.strip()
                if not value or len(value) > limit or not value.isprintable():
                    raise InputError(f"{name.replace('_', ' ')}: 1 to {limit} printable characters")
                object.__setattr__(self, name, value)
        if self.prepay is not None:
            method = self.prepay.strip().lower()
            if method not in PREPAY_METHODS:
                raise InputError(f"cannot prepay by {self.prepay!r} (one of: {', '.join(PREPAY_METHODS)})")
            object.__setattr__(self, "prepay", method)
        if self.idempotency_key is not None:
            key = self.idempotency_key.strip()
            if not key or len(key) > 64 or not key.isascii() or not key.isprintable():
                raise InputError("an idempotency key is 1 to 64 printable ASCII characters")
            object.__setattr__(self, "idempotency_key", key)


@dataclass(frozen=True, slots=True)
class ReservationView:
    """A reservation as the front ends show it (times aware UTC, money minor units of ``currency``)."""

    id: int
    code: str | None
    status: str
    vehicle_class: str
    spot_type: str
    zone: str | None
    spot: str | None
    held_spot: str | None
    start_at: datetime
    end_at: datetime
    hold_from_at: datetime
    no_show_at: datetime
    plate: str | None
    holder_name: str | None
    holder_contact: str | None
    price: int
    amount_prepaid: int
    no_show_fee: int
    currency: str
    session_id: int | None
    checked_in_at: datetime | None
    closed_at: datetime | None
    reason: str | None
    created_at: datetime

    def to_json_dict(self, tz=None) -> dict[str, Any]:
        """The stable ``--json`` shape: money as decimal strings (major units), times ISO 8601 (``from``/``to``
        UTC, ``from_local``/``to_local`` in facility time when ``tz`` is given)."""
        money = lambda m: to_major_str(m, self.currency)
        data = {
            "id": self.id, "code": self.code, "status": self.status, "vehicle_class": self.vehicle_class,
            "spot_type": self.spot_type, "zone": self.zone, "spot": self.spot, "held_spot": self.held_spot,
            "from": self.start_at.isoformat(), "to": self.end_at.isoformat(),
            "hold_from": self.hold_from_at.isoformat(), "no_show_at": self.no_show_at.isoformat(),
            "plate": self.plate, "holder_name": self.holder_name, "holder_contact": self.holder_contact,
            "price": money(self.price), "amount_prepaid": money(self.amount_prepaid),
            "no_show_fee": money(self.no_show_fee), "currency": self.currency, "session_id": self.session_id,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None, "reason": self.reason,
        }
        if tz is not None:
            data["from_local"] = self.start_at.astimezone(tz).isoformat()
            data["to_local"] = self.end_at.astimezone(tz).isoformat()
        return data


_BOOKED = RES.c.status == literal_column("'booked'")  # written in the SQL, as the indexes are read
#: An entry's one read of reservations: the booked ones still running at :at whose hold begins within a day
#: (:horizon) that are unheld with a hold beginning by :soon, or that carry the plate (:plate exact, :fold
#: confusable-folded blind indexes).
_NEAR = (
    RES.c.facility_id == bindparam("fid"), _BOOKED, RES.c.end_at > bindparam("at"),
    RES.c.hold_from_at <= bindparam("horizon"),  # a range of ix_reservation_facility_status: the next day's
    (and_(RES.c.held_spot_id.is_(None), RES.c.hold_from_at <= bindparam("soon"), RES.c.no_show_at > bindparam("at")))
    | (RES.c.plate_hash == bindparam("plate")) | (RES.c.plate_fold == bindparam("fold")),
)
_NEAR_ENTRY = select(RES).where(*_NEAR).order_by(RES.c.start_at, RES.c.id)
#: Whether :data:`_NEAR_ENTRY` finds any row: a column of the entry's first read (services.py), so a walk-in
#: when no reservation is near reads nothing more (:meth:`ReservationOps._entry_reservations`, ``near``).
NEAR_ENTRY_EXISTS = select(RES.c.id).where(*_NEAR).exists()


def near_entry_params(at: datetime) -> dict:
    """The parameters :data:`NEAR_ENTRY_EXISTS` takes beyond ``fid``, ``plate`` and ``fold``, for an entry at ``at``."""
    return {"at": at, "soon": at + HOLD_LOOKAHEAD, "horizon": at + timedelta(days=1)}
_ZONE_CLAIMS: dict[tuple, object] = {}


def _hold_statement(spot_type: str, zone: str | None, postgresql: bool, status: str):
    """``UPDATE spot SET status = :status WHERE id = (the first free bay of the type (in the zone), nearest
    the entrance) RETURNING id, label, spot_type, level_id``: one statement, ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL (as :func:`attendant.core.store.claim_statement`)."""
    key = (spot_type, zone is not None, postgresql, status)
    stmt = _ZONE_CLAIMS.get(key)
    if stmt is None:
        first = select(S.c.id).where(S.c.facility_id == bindparam("fid"), S.c.status == literal_column(
            "'available'"), S.c.spot_type == spot_type)
        if zone is not None:
            first = first.where(S.c.zone == bindparam("want_zone"))
        first = first.order_by(S.c.rank, S.c.id).limit(1)
        if postgresql:
            first = first.with_for_update(skip_locked=True)
        stmt = _ZONE_CLAIMS[key] = (
            update(S).where(S.c.id == first.scalar_subquery()).values(status=status)
            .returning(S.c.id, S.c.label, S.c.spot_type, S.c.level_id)
        )
    return stmt


class ReservationOps(FacilityStore):
    """Reservation operations of one facility (the module docstring); a mixin of
    :class:`attendant.core.services.ParkingService`."""

    # ------------------------------------------------------------------ pools
    def set_pool(self, spot_type: str, *, bays: int | None = None, share_pct: int | None = None,
                 zone: str | None = None, actor: Actor | str) -> dict:
        """Set the reservable pool of ``spot_type`` (in ``zone``, or the whole facility): ``bays`` (a number) or
        ``share_pct`` (whole percent of the type's bays there). Supervisors; audited ``reservation.pool``.
        Lowering a pool below what is booked is allowed (existing bookings stand; new ones are refused).
        Returns :meth:`pools`' entry. Raises :class:`InputError`, :class:`PermissionDenied`."""
        who = self._actor(actor, Role.SUPERVISOR, "setting the reservable pool").name
        try:
            stype = SpotType(str(spot_type).strip().lower()).value
        except ValueError:
            raise InputError(f"unknown spot type {spot_type!r} (one of: {', '.join(t.value for t in SpotType)})") \
                from None
        if (bays is None) == (share_pct is None):
            raise InputError("give exactly one of a number of bays or a share (percent)")
        if bays is not None and not 0 <= bays <= 100_000:
            raise InputError("bays: 0 to 100000")
        if share_pct is not None and not 0 <= share_pct <= 100:
            raise InputError("share: 0 to 100 percent")
        zone_key = self._zone(zone) or ""
        now = self.clock()
        with self._lock, self._writing() as conn:
            row = conn.execute(select(POOL.c.id).where(POOL.c.facility_id == self.facility.id,
                                                       POOL.c.spot_type == stype, POOL.c.zone == zone_key)).first()
            values = {"bays": bays, "share_pct": share_pct, "updated_at": now, "updated_by": who}
            if row is None:
                pool_id = conn.execute(insert(POOL).values(facility_id=self.facility.id, spot_type=stype,
                                                           zone=zone_key, **values).returning(POOL.c.id)).scalar_one()
            else:
                pool_id = row.id
                conn.execute(update(POOL).where(POOL.c.id == pool_id).values(**values))
            self._audit(conn, now=now, at=now, actor=who, action="reservation.pool", entity="reservation_pool",
                        entity_id=pool_id, details={"spot_type": stype, "zone": zone_key or None, "bays": bays,
                                                    "share_pct": share_pct})
        return next(p for p in self.pools() if p["id"] == pool_id)

    def pools(self) -> list[dict]:
        """The reservable pools: ``{"id", "spot_type", "zone", "bays", "share_pct", "capacity"}`` (``capacity``:
        the bays reservations may hold at once)."""
        with self._reading() as conn:
            rows = conn.execute(select(POOL).where(POOL.c.facility_id == self.facility.id)
                                .order_by(POOL.c.spot_type, POOL.c.zone)).all()
            return [{"id": r.id, "spot_type": r.spot_type, "zone": r.zone or None, "bays": r.bays,
                     "share_pct": r.share_pct, "capacity": self._capacity(conn, r)} for r in rows]

    def _capacity(self, conn, pool) -> int:
        """Bays a pool may hold at once: its number (at most the bays there are) or its share, rounded down."""
        q = select(func.count()).where(S.c.facility_id == self.facility.id, S.c.spot_type == pool.spot_type)
        if pool.zone:
            q = q.where(S.c.zone == pool.zone)
        total = conn.execute(q).scalar_one()
        return min(pool.bays, total) if pool.bays is not None else total * pool.share_pct // 100

    def _zone(self, zone: str | None) -> str | None:
        """``zone`` as the layout names it (upper case); raises :class:`InputError` for a zone with no bay."""
        if zone is None:
            return None
        z = zone.strip().upper()
        with self._reading() as conn:
            if conn.execute(select(S.c.id).where(S.c.facility_id == self.facility.id, S.c.zone == z).limit(1)) \
                    .first() is None:
                raise InputError(f"no zone {zone!r} in this facility")
        return z

    # ------------------------------------------------------------------ booking
    def book(self, request: ReservationRequest, *, actor: Actor | str) -> ReservationView:
        """Book a window (one transaction, audited ``reservation.book``), then take the prepayment if asked.

        Raises :class:`InputError` (a bay that does not fit, a window in the past or too far ahead, no pool for
        the type), :class:`Overbooked` (the pool or bay is full at some instant: the first one is named),
        :class:`PaymentError` (the prepayment failed: the booking is cancelled, releasing its slot). A request
        whose idempotency key booked before returns that reservation.
        """
        who = self._actor(actor, action="booking a reservation").name
        now = self.clock()
        r = request
        if r.idempotency_key and (found := self._by_key(r.idempotency_key)) is not None:
            return found
        if r.end <= now:
            raise InputError("the window is over: book a window that ends in the future")
        if r.start - now > MAX_AHEAD:
            raise InputError(f"a window may start at most {MAX_AHEAD.days} days ahead")
        vclass = r.vehicle_class
        spot = self._cache.index.spot_by_label(r.spot) if r.spot else None
        zone = self._zone(r.zone)
        stype = spot.spot_type.value if spot else (r.spot_type or pool_type(vclass, ev=r.ev,
                                                                             accessible=r.accessible).value)
        if not fits(SpotType(stype), vclass, ev=r.ev, accessible=r.accessible):
            raise InputError(f"a {vclass.value} cannot book a {stype} bay"
                             + (" (EV bays need --ev, accessible bays a badge)" if stype in ("ev", "accessible")
                                else ""))
        if spot is not None:
            zone = None
        plan_id = self._cache.active_plan_id
        with self._reading() as conn:
            plan = self._plan(conn, plan_id)
        rules = plan.reservation_rules
        price = window_price(plan, r.start, r.end, vehicle_class=vclass.value, spot_type=stype, tz=self.tz)
        sealed = self.data.plate_columns(r.plate)
        try:
            rid, _code = self._insert_booking(r, who, now, vclass, stype, zone, spot, plan_id, rules, price, sealed)
        except IntegrityError:  # the same idempotency key booked by another booth a moment ago
            if r.idempotency_key and (found := self._by_key(r.idempotency_key)) is not None:
                return found
            raise
        if r.prepay and price > 0:
            try:
                self._take_prepayment(rid, r.prepay, price, who, key=f"rsv.{self.facility.code}.{rid}.prepay")
            except PaymentError as exc:
                self._cancel(rid, who, f"prepayment failed: {exc}"[:200], refund=False)
                raise PaymentError(f"{exc}: the booking was not kept") from None
        return self._view_id(rid)

    def _insert_booking(self, r, who, now, vclass, stype, zone, spot, plan_id, rules, price, sealed):
        """The booking's transaction (:meth:`book`): the pool locked, counted, the row inserted; (id, code)."""
        with self._lock, self._writing() as conn:
            pool = self._lock_pool(conn, stype, zone or "")
            if pool is None:
                where = f" in zone {zone}" if zone else ""
                raise InputError(f"no reservable pool of {stype} bays{where}: a supervisor sets one with "
                                 f"`attendant reservation pool {stype}{' --zone ' + zone if zone else ''} --bays N`")
            capacity = self._capacity(conn, pool)
            booked = [(row.start_at, row.end_at) for row in conn.execute(
                select(RES.c.start_at, RES.c.end_at).where(RES.c.pool_id == pool.id, RES.c.status.in_(ACTIVE),
                                                           RES.c.start_at < r.end, RES.c.end_at > r.start))]
            t = first_conflict(booked, r.start, r.end, capacity)
            if t is not None:
                raise Overbooked(f"overbooked: the {stype} pool{' of zone ' + zone if zone else ''} ({capacity} "
                                 f"bays) is fully booked at {self._when(t)}: nothing was booked", t)
            if spot is not None:
                same = [(row.start_at, row.end_at) for row in conn.execute(
                    select(RES.c.start_at, RES.c.end_at).where(RES.c.spot_id == spot.id, RES.c.status.in_(ACTIVE),
                                                               RES.c.start_at < r.end, RES.c.end_at > r.start))]
                t = first_conflict(same, r.start, r.end, 1)
                if t is not None:
                    raise Overbooked(f"overbooked: bay {spot.label} is booked at {self._when(t)}: nothing was "
                                     "booked", t)
            rid = conn.execute(insert(RES).values(
                facility_id=self.facility.id, pool_id=pool.id, status=ReservationStatus.BOOKED.value,
                vehicle_class=vclass.value, ev=r.ev, accessible=r.accessible, spot_type=stype, zone=zone,
                spot_id=spot.id if spot else None, start_at=r.start, end_at=r.end,
                hold_from_at=r.start - timedelta(minutes=rules.arrival_allowance),
                no_show_at=r.start + timedelta(minutes=rules.no_show_grace), **sealed,
                holder_name=self.data.seal(r.holder_name), holder_contact=self.data.seal(r.holder_contact),
                rate_plan_version_id=plan_id, price=price, amount_prepaid=0, no_show_fee=0,
                booking_key=r.idempotency_key, created_at=now, created_by=who,
            ).returning(RES.c.id)).scalar_one()
            code = self.signer.sign_reservation(self.facility.code, rid)
            conn.execute(update(RES).where(RES.c.id == rid).values(code=self.data.code_hash(code)))
            self._audit(conn, now=now, at=now, actor=who, action="reservation.book", entity="reservation",
                        entity_id=rid, details={"spot_type": stype, "zone": zone, "spot": spot.label if spot else None,
                                                "from": r.start.isoformat(), "to": r.end.isoformat(),
                                                "price": price, "plate_ref": sealed["plate_hash"],
                                                "vehicle_class": vclass.value})
        return rid, code

    def _lock_pool(self, conn, spot_type: str, zone: str):
        """The pool row, locked for this transaction on PostgreSQL (bookings of one pool are serialised)."""
        q = select(POOL).where(POOL.c.facility_id == self.facility.id, POOL.c.spot_type == spot_type,
                               POOL.c.zone == zone)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        return conn.execute(q).first()

    def _when(self, t: datetime) -> str:
        return self.local(t).strftime("%a %d %b %Y %H:%M %Z")

    def _by_key(self, key: str) -> ReservationView | None:
        with self._reading() as conn:
            rid = conn.execute(select(RES.c.id).where(RES.c.facility_id == self.facility.id,
                                                      RES.c.booking_key == key)).scalar()
        return None if rid is None else self._view_id(rid)

    # ------------------------------------------------------------------ payments
    def _take_prepayment(self, rid: int, method: str, amount: int, who: str, *, key: str) -> None:
        """Take ``amount`` for reservation ``rid``: the row ``pending`` first, the processor asked outside any
        transaction (electronic methods), then completed or failed. Raises :class:`PaymentError` on a decline,
        a timeout or an outage (the row records it)."""
        spec = method_spec(method)
        now = self.clock()
        with self._lock, self._writing() as conn:
            pid = conn.execute(insert(RPAY).values(
                facility_id=self.facility.id, reservation_id=rid, kind="prepay", method=spec.value,
                status=PaymentStatus.PENDING.value if spec.electronic else PaymentStatus.COMPLETED.value,
                amount=amount, idempotency_key=key[:80], created_at=now, actor=who).returning(RPAY.c.id)).scalar_one()
            if not spec.electronic:
                self._prepaid(conn, rid, pid, amount, spec.value, who, now, None)
                return
        ref, failure = None, None
        try:
            result = self.processors.get(spec.method).charge(amount, self.facility.currency, key[:80],
                                                             f"reservation {rid}")
            ref = result.reference
            if not result.approved:
                failure = PaymentError(f"{spec.label} declined: {result.message}")
        except (ProcessorTimeout, ProcessorUnavailable) as exc:
            failure = exc
        with self._lock, self._writing() as conn:
            if failure is None:
                conn.execute(update(RPAY).where(RPAY.c.id == pid).values(status=PaymentStatus.COMPLETED.value,
                                                                        processor_ref=ref))
                self._prepaid(conn, rid, pid, amount, spec.value, who, self.clock(), ref)
            else:
                conn.execute(update(RPAY).where(RPAY.c.id == pid).values(status=PaymentStatus.FAILED.value,
                                                                        message=str(failure)[:200]))
        if failure is not None:
            raise failure

    def _prepaid(self, conn, rid, pid, amount, method, who, now, ref) -> None:
        conn.execute(update(RES).where(RES.c.id == rid).values(amount_prepaid=RES.c.amount_prepaid + amount))
        self._audit(conn, now=now, at=now, actor=who, action="reservation.prepay", entity="reservation",
                    entity_id=rid, details={"payment_id": pid, "amount": amount, "method": method, "ref": ref})

    def _refund(self, rid: int, amount: int, who: str, why: str) -> int:
        """Give back ``amount`` of reservation ``rid``'s prepayment by the method it was paid with (cash at the
        booth; electronic through the processor, idempotent by key). Returns the amount refunded (0 when the
        processor could not be reached: the row stays ``pending`` with the reason, to retry)."""
        if amount <= 0:
            return 0
        with self._reading() as conn:
            paid = conn.execute(select(RPAY).where(RPAY.c.reservation_id == rid, RPAY.c.kind == "prepay",
                                                   RPAY.c.status == PaymentStatus.COMPLETED.value)
                                .order_by(RPAY.c.id)).first()
        if paid is None:
            return 0
        spec = method_spec(paid.method)
        key = f"{paid.idempotency_key}.refund"[:80]
        now = self.clock()
        with self._lock, self._writing() as conn:
            pid = conn.execute(insert(RPAY).values(
                facility_id=self.facility.id, reservation_id=rid, kind="refund", method=spec.value,
                status=PaymentStatus.PENDING.value, amount=-amount, idempotency_key=key, created_at=now, actor=who,
                message=why[:200]).returning(RPAY.c.id)).scalar_one()
        ref = None
        if spec.electronic:
            try:
                result = self.processors.get(spec.method).refund(paid.processor_ref or "", amount, key)
            except (ProcessorTimeout, ProcessorUnavailable) as exc:
                with self._lock, self._writing() as conn:
                    conn.execute(update(RPAY).where(RPAY.c.id == pid).values(message=str(exc)[:200]))
                return 0
            ref = result.reference
        with self._lock, self._writing() as conn:
            conn.execute(update(RPAY).where(RPAY.c.id == pid).values(status=PaymentStatus.COMPLETED.value,
                                                                    processor_ref=ref))
            conn.execute(update(RES).where(RES.c.id == rid).values(amount_prepaid=RES.c.amount_prepaid - amount))
            self._audit(conn, now=now, at=now, actor=who, action="reservation.refund", entity="reservation",
                        entity_id=rid, details={"payment_id": pid, "amount": amount, "method": spec.value,
                                                "reason": why[:200]})
        return amount

    # ------------------------------------------------------------------ lookups
    def reservation(self, code_or_id: str | int) -> ReservationView:
        """The reservation a code names (``R-CHS-00000042-...``, signature checked) or its number. Raises
        :class:`~attendant.core.errors.TicketInvalid`, :class:`NotFound`, :class:`Refused` (another
        facility's)."""
        with self._reading() as conn:
            return self._res_view(conn, self._row_of(conn, code_or_id))

    def _row_of(self, conn, code_or_id: str | int):
        text = str(code_or_id).strip()
        if looks_like_reservation_code(text):
            ref = self.signer.verify_reservation(text)
            if ref.facility_code != self.facility.code:
                raise Refused(f"reservation belongs to facility {ref.facility_code}, not {self.facility.code}")
            row = conn.execute(select(RES).where(RES.c.id == ref.ticket_no,
                                                 RES.c.facility_id == self.facility.id)).first()
            if row is None or row.code != self.data.code_hash(text.upper()):
                raise NotFound(f"no reservation {format_ticket_no(ref.ticket_no)}")
            return row
        if text.isascii() and text.isdigit() and len(text) <= 8:
            row = conn.execute(select(RES).where(RES.c.id == int(text), RES.c.facility_id == self.facility.id)).first()
            if row is None:
                raise NotFound(f"no reservation {format_ticket_no(int(text))}")
            return row
        raise InputError(f"not a reservation code: {text[:40]!r} (R-{self.facility.code}-<8 digits>-<16>, or its "
                         "number)")

    def _view_id(self, rid: int) -> ReservationView:
        with self._reading() as conn:
            return self._res_view(conn, conn.execute(select(RES).where(RES.c.id == rid)).one())

    def booked_for_plate(self, plate: str) -> ReservationView:
        """The next booked reservation of ``plate`` (exact, else the confusable-folded plate when that names a
        single one), for a check-in by plate. Raises :class:`InputError` (a malformed plate), :class:`NotFound`."""
        norm = normalize_plate(plate)
        booked = and_(RES.c.facility_id == self.facility.id, RES.c.status == ReservationStatus.BOOKED.value,
                      RES.c.end_at > self.clock())
        with self._reading() as conn:
            rows = conn.execute(select(RES).where(booked, RES.c.plate_hash == self.data.plate_index(norm))
                                .order_by(RES.c.start_at)).all()
            if not rows:
                rows = conn.execute(select(RES).where(booked, RES.c.plate_fold == self.data.plate_fold_index(norm))
                                    .order_by(RES.c.start_at)).all()
                rows = rows if len(rows) == 1 else []
            if not rows:
                raise NotFound(f"no booked reservation for {norm}")
            return self._res_view(conn, rows[0])

    def _res_view(self, conn, row) -> ReservationView:
        spots = self._cache.index.spots
        labels = {i: spots[i].label for i in (row.spot_id, row.held_spot_id) if i in spots}
        code = self.signer.sign_reservation(self.facility.code, row.id)
        return ReservationView(
            id=row.id, code=code if self.data.code_hash(code) == row.code else None, status=row.status,
            vehicle_class=row.vehicle_class, spot_type=row.spot_type, zone=row.zone,
            spot=labels.get(row.spot_id), held_spot=labels.get(row.held_spot_id), start_at=row.start_at,
            end_at=row.end_at, hold_from_at=row.hold_from_at, no_show_at=row.no_show_at,
            plate=self.data.open(row.plate), holder_name=self.data.open(row.holder_name),
            holder_contact=self.data.open(row.holder_contact), price=row.price, amount_prepaid=row.amount_prepaid,
            no_show_fee=row.no_show_fee, currency=self.facility.currency, session_id=row.session_id,
            checked_in_at=row.checked_in_at, closed_at=row.closed_at, reason=row.reason, created_at=row.created_at)

    def reservations(self, *, day=None, status: str | None = None, limit: int = 1000) -> list[ReservationView]:
        """Reservations whose window touches facility-local ``day`` (a :class:`datetime.date`; None: any),
        with ``status`` (None: any), by start."""
        q = select(RES).where(RES.c.facility_id == self.facility.id)
        if day is not None:
            start, end = self.day_bounds(day)
            q = q.where(RES.c.start_at < end, RES.c.end_at > start)
        if status is not None:
            try:
                q = q.where(RES.c.status == ReservationStatus(status.strip().lower()).value)
            except ValueError:
                raise InputError(f"unknown status {status!r} (one of: {', '.join(ReservationStatus)})") from None
        with self._reading() as conn:
            return [self._res_view(conn, row) for row in conn.execute(q.order_by(RES.c.start_at, RES.c.id).limit(limit))]

    # ------------------------------------------------------------------ cancel
    def cancel_reservation(self, code: str, *, reason: str, actor: Actor | str) -> ReservationView:
        """Cancel a booked reservation: its hold released, its prepayment refunded by the plan's rule (in full
        at least ``free_cancel_before`` before the start, else less ``cancel_fee``). Audited
        ``reservation.cancel``. Raises :class:`InputError` (no reason), :class:`Refused` (not booked)."""
        who = self._actor(actor, action="cancelling a reservation").name
        if not (reason and reason.strip()):
            raise InputError("cancelling a reservation needs a reason")
        with self._reading() as conn:
            row = self._row_of(conn, code)
        self._cancel(row.id, who, reason.strip()[:200], refund=True)
        return self._view_id(row.id)

    def _cancel(self, rid: int, who: str, reason: str, *, refund: bool) -> None:
        now = self.clock()
        released = None
        with self._lock, self._writing() as conn:
            row = conn.execute(select(RES).where(RES.c.id == rid)).one()
            if row.status != ReservationStatus.BOOKED.value:
                raise Refused(f"reservation is {row.status.replace('_', ' ')}: only a booked one can be cancelled")
            if conn.execute(update(RES).where(RES.c.id == rid, RES.c.status == ReservationStatus.BOOKED.value)
                            .values(status=ReservationStatus.CANCELLED.value, closed_at=now, reason=reason,
                                    held_spot_id=None)).rowcount != 1:
                raise Refused("the reservation changed meanwhile: nothing was done")
            released = self._release_hold(conn, row)
            rules = self._plan(conn, row.rate_plan_version_id).reservation_rules
            late = now > row.start_at - timedelta(minutes=rules.free_cancel_before)
            back = max(0, row.amount_prepaid - (rules.cancel_fee if late else 0))
            self._audit(conn, now=now, at=now, actor=who, action="reservation.cancel", entity="reservation",
                        entity_id=rid, details={"reason": reason, "refund": back, "late": late})
        if released is not None:
            self._set_spot(released, SpotStatus.AVAILABLE)
        if refund:
            self._refund(rid, back, who, f"cancelled: {reason}")

    def _release_hold(self, conn, row) -> int | None:
        """Free the bay held for ``row`` (if still ``reserved``); returns its id for the index, else None."""
        if row.held_spot_id is None:
            return None
        done = conn.execute(update(S).where(S.c.id == row.held_spot_id, S.c.status == SpotStatus.RESERVED.value)
                            .values(status=SpotStatus.AVAILABLE.value)).rowcount
        return row.held_spot_id if done else None

    # ------------------------------------------------------------------ holds and the sweep
    def _unheld(self, conn, at: datetime, until: datetime):
        """Booked reservations without a bay held whose hold begins by ``until`` and which are still due at
        ``at`` (not past their no-show time or end), by start."""
        return conn.execute(select(RES.c.id, RES.c.spot_type, RES.c.zone, RES.c.spot_id, RES.c.hold_from_at).where(
            RES.c.facility_id == self.facility.id, RES.c.status == ReservationStatus.BOOKED.value,
            RES.c.held_spot_id.is_(None), RES.c.hold_from_at <= until, RES.c.no_show_at > at, RES.c.end_at > at)
            .order_by(RES.c.start_at, RES.c.id)).all()

    def _hold_due(self, conn, at: datetime) -> list[int]:
        """Hold a bay for every booked reservation whose hold has begun by ``at`` and has none yet (inside
        ``conn``'s transaction). Returns the ids of the bays now ``reserved`` (for the index after commit).
        A reservation that finds no free bay of its type stays unheld (it is checked in to any fitting bay)."""
        return self._place_holds(conn, self._unheld(conn, at, at))[0]

    def _place_holds(self, conn, rows) -> tuple[list[int], set[int]]:
        """Hold a bay for each reservation row; returns (bay ids now reserved, ids of reservations left unheld)."""
        held, missed = [], set()
        postgresql = conn.dialect.name == "postgresql"
        for row in rows:
            if row.spot_id is not None:
                spot_id = row.spot_id if conn.execute(
                    update(S).where(S.c.id == row.spot_id, S.c.status == SpotStatus.AVAILABLE.value)
                    .values(status=SpotStatus.RESERVED.value)).rowcount == 1 else None
            else:
                got = conn.execute(_hold_statement(row.spot_type, row.zone, postgresql, SpotStatus.RESERVED.value),
                                   {"fid": self.facility.id, "want_zone": row.zone}).first()
                spot_id = got.id if got else None
            if spot_id is None:
                missed.add(row.id)
                continue
            if conn.execute(update(RES).where(RES.c.id == row.id, RES.c.held_spot_id.is_(None),
                                              RES.c.status == ReservationStatus.BOOKED.value)
                            .values(held_spot_id=spot_id)).rowcount == 1:
                held.append(spot_id)
            else:  # another booth held a bay for it meanwhile (PostgreSQL): give this one back
                conn.execute(update(S).where(S.c.id == spot_id).values(status=SpotStatus.AVAILABLE.value))
        return held, missed

    def _walk_in_holds(self, conn, at: datetime, rows=None) -> tuple[list[int], frozenset[str]]:
        """Before a walk-in's bay is claimed (inside its transaction): the holds that have begun are placed
        (their bay ids returned, for the index after commit), and the spot types a walk-in must not take now:
        those whose free bays are no more than the reservations whose hold begins within
        :data:`HOLD_LOOKAHEAD` (or has begun without a bay), so a walk-in arriving just before a hold begins
        never takes the bay it needs. ``rows``: those reservations, when the caller has read them."""
        rows = self._unheld(conn, at, at + HOLD_LOOKAHEAD) if rows is None else rows
        if not rows:
            return [], frozenset()
        held, missed = self._place_holds(conn, [r for r in rows if r.hold_from_at <= at])
        soon: dict[str, int] = {}
        for r in rows:
            if r.hold_from_at > at or r.id in missed:
                soon[r.spot_type] = soon.get(r.spot_type, 0) + 1
        if not soon:
            return held, frozenset()
        free = dict(conn.execute(select(S.c.spot_type, func.count()).where(
            S.c.facility_id == self.facility.id, S.c.status == SpotStatus.AVAILABLE.value,
            S.c.spot_type.in_(list(soon))).group_by(S.c.spot_type)).all())
        return held, frozenset(t for t, n in soon.items() if free.get(t, 0) <= n)

    def sweep(self, *, actor: Actor | str = "system", at: datetime | None = None) -> dict:
        """What the console runs every minute and ``attendant reservation sweep`` runs once: hold bays whose
        hold has begun; booked reservations past their no-show time become ``no_show`` (the no-show fee kept
        from the prepayment, the rest refunded) or ``expired`` (nothing to charge), their holds released.
        Returns ``{"held": n, "no_show": [codes], "expired": [codes], "refunded": minor units}``."""
        who = self._actor(actor, action="sweeping reservations").name
        now = self.clock()
        at = now if at is None else at
        refunds: list[tuple[int, int, str]] = []
        result = {"held": 0, "no_show": [], "expired": []}
        with self._lock:
            with self._writing() as conn:
                late = conn.execute(select(RES).where(RES.c.facility_id == self.facility.id,
                                                      RES.c.status == ReservationStatus.BOOKED.value,
                                                      RES.c.no_show_at <= at)).all()
                released = []
                for row in late:
                    rules = self._plan(conn, row.rate_plan_version_id).reservation_rules
                    fee = min(rules.no_show_fee, row.amount_prepaid)
                    status = (ReservationStatus.NO_SHOW if (row.amount_prepaid or rules.no_show_fee)
                              else ReservationStatus.EXPIRED)
                    if conn.execute(update(RES).where(RES.c.id == row.id,
                                                      RES.c.status == ReservationStatus.BOOKED.value).values(
                            status=status.value, closed_at=at, held_spot_id=None, no_show_fee=fee)).rowcount != 1:
                        continue  # checked in or cancelled at another booth meanwhile
                    if (spot_id := self._release_hold(conn, row)) is not None:
                        released.append(spot_id)
                    self._audit(conn, now=now, at=at, actor=who, action=f"reservation.{status.value}",
                                entity="reservation", entity_id=row.id,
                                details={"no_show_fee": fee, "refund": row.amount_prepaid - fee})
                    result[status.value].append(self.signer.sign_reservation(self.facility.code, row.id))
                    refunds.append((row.id, row.amount_prepaid - fee, status.value))
                held = self._hold_due(conn, at)
            for spot_id in released:
                self._set_spot(spot_id, SpotStatus.AVAILABLE)
            for spot_id in held:
                self._set_spot(spot_id, SpotStatus.RESERVED)
        result["held"] = len(held)
        result["refunded"] = sum(self._refund(rid, amount, who, why.replace("_", "-")) for rid, amount, why in refunds)
        return result

    # ------------------------------------------------------------------ entry (called inside _enter)
    def _entry_reservations(self, conn, request, plate_hash: str | None, plate: str | None, at: datetime,
                            near: bool = True):
        """What an entry does about reservations, inside its transaction: ``(booked, held, kept)``.

        ``booked``: the booked reservation this entry checks in, or None (a walk-in). By
        ``request.reservation`` (a code: refused when not booked, over, not yet arriving under a ``walk_in``
        early rule, or for a vehicle that does not fit), else by plate: the exact blind index, then the
        confusable-folded one when it names exactly one reservation; a plate's reservation whose hold has
        not begun is checked in only under the ``tariff`` early-arrival rule. For a walk-in, ``held`` are the
        bays the holds that have begun now hold and ``kept`` the spot types it must leave
        (:meth:`_walk_in_holds`). A walk-in costs one indexed read (:data:`_NEAR_ENTRY`), none when the caller
        already found none near (``near`` False: :data:`NEAR_ENTRY_EXISTS` was false in this transaction).
        """
        code = getattr(request, "reservation", None)
        if code:
            row = self._row_of(conn, code)
            if row.status != ReservationStatus.BOOKED.value:
                raise Refused(f"reservation is {row.status.replace('_', ' ')}, not waiting for its vehicle")
            if at >= row.end_at:
                raise Refused(f"reservation ended at {self._when(row.end_at)}")
            if at < row.hold_from_at and self._plan(conn, row.rate_plan_version_id).reservation_rules \
                    .early_arrival != "tariff":
                raise Refused(f"reservation starts {self._when(row.start_at)}: arrivals from "
                              f"{self.local(row.hold_from_at).strftime('%H:%M')}; enter as a walk-in or wait")
            return self._fitting(row, request), [], frozenset()
        if not near:
            return None, [], frozenset()
        fold = self.data.plate_fold_index(plate) if plate is not None else None
        horizon = at + timedelta(days=1)
        rows = conn.execute(_NEAR_ENTRY, {"fid": self.facility.id, "at": at, "soon": at + HOLD_LOOKAHEAD,
                                          "horizon": horizon, "plate": plate_hash, "fold": fold}).all()
        if not rows:
            return None, [], frozenset()
        if plate_hash is not None:
            mine = [r for r in rows if r.plate_hash == plate_hash and r.start_at <= horizon]
            if not mine:
                mine = [r for r in rows if r.plate_fold == fold and r.start_at <= horizon]
                mine = mine if len(mine) == 1 else []
            mine = [r for r in mine if r.hold_from_at <= at or self._plan(
                conn, r.rate_plan_version_id).reservation_rules.early_arrival == "tariff"]
            if mine:
                return self._fitting(mine[0], request), [], frozenset()
        unheld = [r for r in rows if r.held_spot_id is None and r.hold_from_at <= at + HOLD_LOOKAHEAD
                  and r.no_show_at > at]
        held, kept = self._walk_in_holds(conn, at, unheld)
        return None, held, kept

    @staticmethod
    def _fitting(row, request):
        vclass = VehicleClass(str(request.vehicle_class))
        if not fits(SpotType(row.spot_type), vclass, ev=request.ev or row.ev,
                    accessible=request.accessible or row.accessible):
            raise Refused(f"reservation is for a {row.spot_type} bay, which a {vclass.value} does not fit")
        return row

    def _take_reserved_bay(self, conn, row):
        """Claim the bay for reservation ``row`` at its check-in: the bay held for it, else (not held yet) its
        booked bay or the first free bay of its type (and zone). Returns the spot id. Raises
        :class:`NoSpaceAvailable`."""
        if row.held_spot_id is not None and conn.execute(
                update(S).where(S.c.id == row.held_spot_id, S.c.status == SpotStatus.RESERVED.value)
                .values(status=SpotStatus.OCCUPIED.value)).rowcount == 1:
            return row.held_spot_id
        if row.spot_id is not None and conn.execute(
                update(S).where(S.c.id == row.spot_id, S.c.status == SpotStatus.AVAILABLE.value)
                .values(status=SpotStatus.OCCUPIED.value)).rowcount == 1:
            return row.spot_id
        got = conn.execute(_hold_statement(row.spot_type, row.zone, conn.dialect.name == "postgresql",
                                           SpotStatus.OCCUPIED.value), {"fid": self.facility.id, "want_zone": row.zone}
                           ).first()
        if got is None:
            raise NoSpaceAvailable(f"no free {row.spot_type} bay for the reservation")
        return got.id

    def _checked_in(self, conn, row, *, session_id: int, spot_id: int, at: datetime, now: datetime, who: str) -> None:
        """Mark ``row`` checked in by ``session_id`` (guarded: a sweep or a cancellation committed meanwhile by
        another booth refuses the entry, which rolls back)."""
        if conn.execute(update(RES).where(RES.c.id == row.id, RES.c.status == ReservationStatus.BOOKED.value).values(
                status=ReservationStatus.CHECKED_IN.value, session_id=session_id, checked_in_at=at,
                held_spot_id=spot_id)).rowcount != 1:
            raise Refused("the reservation changed meanwhile (cancelled, a no-show, or checked in at another "
                          "lane): nothing was done")
        self._audit(conn, now=now, at=at, actor=who, action="reservation.check_in", entity="reservation",
                    entity_id=row.id, details={"session_id": session_id, "early": at < row.hold_from_at})

    # ------------------------------------------------------------------ exit (called by checkout)
    def _completed(self, conn, reservation_id: int, at: datetime) -> None:
        conn.execute(update(RES).where(RES.c.id == reservation_id,
                                       RES.c.status == ReservationStatus.CHECKED_IN.value)
                     .values(status=ReservationStatus.COMPLETED.value, closed_at=at))

    def _reserved_fee(self, conn, row, at: datetime) -> Fee:
        """The fee of session ``row`` that checked in a reservation, leaving at ``at`` (:func:`reserved_fee`
        with the plan the reservation was booked under)."""
        res = conn.execute(select(RES).where(RES.c.id == row.reservation_id)).one()
        plan = self._plan(conn, res.rate_plan_version_id)
        return reserved_fee(plan, res, row.entry_at, at, vehicle_class=row.vehicle_class, spot_type=row.spot_type,
                            tz=self.tz)

    # ------------------------------------------------------------------ report
    def reservation_report(self, day) -> dict:
        """Reservations of facility-local ``day`` (a :class:`datetime.date`): counts of the reservations whose
        window starts that day by status (``booked``, ``checked_in``, ``completed``, ``cancelled``, ``no_show``,
        ``expired``, and ``total``); money taken that day (minor units): ``prepaid`` (prepayments less refunds),
        ``no_show_fees`` (kept from no-shows marked that day), ``overstay`` (the overstay lines of reserved stays
        that left that day); ``pools``: per pool its capacity and, for each facility-local hour, how many
        reservations held a slot at the hour's start (booked, checked in or completed) and the share of the
        capacity. Source of the figures: issue 11 item 9."""
        from collections import Counter

        start, end = self.day_bounds(day)
        fid = self.facility.id
        with self._reading() as conn:
            statuses = Counter(s for (s,) in conn.execute(select(RES.c.status).where(
                RES.c.facility_id == fid, RES.c.start_at >= start, RES.c.start_at < end)))
            prepaid = conn.execute(select(func.coalesce(func.sum(RPAY.c.amount), 0)).where(
                RPAY.c.facility_id == fid, RPAY.c.status == PaymentStatus.COMPLETED.value,
                RPAY.c.created_at >= start, RPAY.c.created_at < end)).scalar_one()
            no_show = conn.execute(select(func.coalesce(func.sum(RES.c.no_show_fee), 0)).where(
                RES.c.facility_id == fid, RES.c.status == ReservationStatus.NO_SHOW.value,
                RES.c.closed_at >= start, RES.c.closed_at < end)).scalar_one()
            ps = RES.metadata.tables["parking_session"]
            overstay = sum(line["amount"] for (lines,) in conn.execute(select(ps.c.fee_lines).where(
                ps.c.facility_id == fid, ps.c.reservation_id.is_not(None), ps.c.exit_at >= start,
                ps.c.exit_at < end)) for line in lines or () if line["label"].startswith("Overstay"))
            pools = []
            hours = []
            t = start
            while t < end:  # the facility day's hours, 23 or 25 on the days the clocks change
                hours.append(t)
                t += timedelta(hours=1)
            for pool in conn.execute(select(POOL).where(POOL.c.facility_id == fid).order_by(POOL.c.spot_type,
                                                                                           POOL.c.zone)):
                capacity = self._capacity(conn, pool)
                windows = conn.execute(select(RES.c.start_at, RES.c.end_at).where(
                    RES.c.pool_id == pool.id, RES.c.status.in_((*ACTIVE, ReservationStatus.COMPLETED.value)),
                    RES.c.start_at < end, RES.c.end_at > start)).all()
                by_hour = []
                for h in hours:
                    n = sum(1 for w in windows if w.start_at <= h < w.end_at)
                    by_hour.append({"hour": self.local(h).strftime("%H:%M"), "reserved": n,
                                    "share": round(n / capacity, 3) if capacity else None})
                pools.append({"spot_type": pool.spot_type, "zone": pool.zone or None, "capacity": capacity,
                              "hours": by_hour})
        counts = {s.value: statuses.get(s.value, 0) for s in ReservationStatus}
        counts["total"] = sum(statuses.values())
        return {"date": day.isoformat(), "currency": self.facility.currency, "counts": counts,
                "prepaid": prepaid, "no_show_fees": no_show, "overstay": overstay, "pools": pools}

    # ------------------------------------------------------------------ the console's list
    def reservation_board(self, at: datetime | None = None) -> dict[str, list[ReservationView]]:
        """Today's reservations (facility day of ``at``) by what the attendant must do: ``arriving`` (booked,
        not late), ``late`` (booked, past the start), ``checked_in``, ``overstaying`` (checked in, past the
        end), ``no_show``."""
        at = at or self.clock()
        board: dict[str, list[ReservationView]] = {k: [] for k in ("arriving", "late", "checked_in",
                                                                    "overstaying", "no_show")}
        for v in self.reservations(day=self.local(at).date()):
            if v.status == ReservationStatus.BOOKED:
                board["late" if at > v.start_at else "arriving"].append(v)
            elif v.status == ReservationStatus.CHECKED_IN:
                board["overstaying" if at > v.end_at else "checked_in"].append(v)
            elif v.status in (ReservationStatus.NO_SHOW, ReservationStatus.EXPIRED):
                board["no_show"].append(v)
        return board

