"""Corrections at the booth: void, manual entry, move, anti-passback reset, and counts that stay true.

Issue 10 items 4 and 5 (BRIEF.md feature 8; seed 004: "admins can override
slot assignments in special cases"). :class:`CorrectionOps` is a base of
:class:`attendant.core.services.ParkingService`; the CLI (``attendant void``,
``manual-entry``, ``move``, ``apb reset``, ``count check|adjust``) and the
console's correction dialogs call these methods and nothing else.

Every operation is one transaction with exactly one audit event
``exception.<kind>`` (:func:`attendant.core.exceptions.action`) whose details
come from :func:`attendant.core.exceptions.details`; the reason is mandatory
and parsed by :func:`attendant.core.exceptions.parse_reason` (``CODE`` or
``CODE: text``). Bays are claimed and freed in the database with guarded
updates (the ``change_log`` triggers carry each bay change to every other
booth, whose bay index takes it as a delta); this process's index is updated
after the commit.

Who may do what (the services check it, whatever the front end):

=====================  ==========================================================
operation              role
=====================  ==========================================================
void                   attendant within :data:`VOID_MINUTES` of the ticket's
                       entry time; supervisor after that
manual entry           attendant at the current time; supervisor when the
                       claimed entry time is more than :data:`BACKDATE_SLACK`
                       in the past (and ``_check_at`` widened with the reason)
move                   attendant to a bay of the same type; supervisor when
                       the bay type changes (the tariff may price by it)
anti-passback reset    attendant: the stale stay is closed and what it still
                       owes becomes an IOU on the plate, nothing is waived
count adjust           supervisor
=====================  ==========================================================

Session statuses: a voided ticket's session is ``voided``
(:attr:`SessionStatus.VOIDED`: never a stay; reports count it neither as an
entry nor as an exit, and nothing is charged). A session closed by an
anti-passback reset or a count adjustment is ``closed`` like any exit (the
vehicle did stay), at the correction's time, with ``exit_reason`` saying why
and no exit lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core import exceptions
from attendant.core.allocation import ACCESSIBLE_CLASSES, EV_CLASSES, ORDINARY_FIT, fits
from attendant.core.auth import Actor, Role
from attendant.core.checkout import CheckoutOps
from attendant.core.clock import utc_now
from attendant.core.errors import AttendantError, InputError, NotFound, Refused
from attendant.core.money import format_money
from attendant.core.payment_rows import payments_of
from attendant.core.plates import normalize_plate
from attendant.core.requests import EntryRequest
from attendant.core.store import IOU, PS, SESSION_IS_OPEN, VEND, S, sessions_with_bay
from attendant.core.tickets import format_ticket_no, looks_like_ticket_code
from attendant.core.views import COUNTED, EntryResult
from attendant.core.vocab import (
    IouStatus,
    LaneDirection,
    SessionStatus,
    SpotStatus,
    SpotType,
    VehicleClass,
)

VOID_MINUTES = 5
"""An attendant may void a ticket up to this many minutes after its entry time (a ticket issued in error is
noticed at the lane, before the car has gone anywhere); later a supervisor decides."""

BACKDATE_SLACK = timedelta(minutes=2)
"""A manual entry's claimed time at most this far in the past counts as 'now' (typing takes time)."""

DEFAULT_STALE_AFTER = timedelta(days=7)
"""An open session older than this is listed by the count check as stale: far longer than any stay a
booth's rate plan prices as a normal visit (daily maxima repeat; a week is no visit but an abandoned
vehicle or a missed exit). ``count check --older-than HOURS`` sets another threshold."""

_OCCUPIED, _FREE = SpotStatus.OCCUPIED.value, SpotStatus.AVAILABLE.value
_TAKE = update(S).where(S.c.id == bindparam("spot_id"), S.c.status == _FREE).values(status=_OCCUPIED)
_RELEASE = update(S).where(S.c.id == bindparam("spot_id"), S.c.status == _OCCUPIED).values(status=_FREE)
_INSERT_IOU = insert(IOU).returning(IOU.c.id)


@dataclass(frozen=True, slots=True)
class Correction:
    """What one correction did (void, move, anti-passback reset, count adjustment).

    ``amount_cents``: money the correction moved (an IOU opened, a balance
    written off), minor units, or None. ``spot`` is the bay the vehicle is in
    afterwards (None when it left), ``from_spot`` the bay before.
    """

    kind: str
    reason: exceptions.Reason
    at: datetime
    session_id: int | None = None
    ticket_no: str | None = None
    plate: str | None = None
    spot: str | None = None
    from_spot: str | None = None
    status: str | None = None
    amount_cents: int | None = None
    iou_id: int | None = None
    adjustment: str | None = None

    def to_json_dict(self, currency: str) -> dict:
        """The ``--json`` object: money as a decimal string in major units, times ISO 8601 UTC."""
        from attendant.core.money import to_major_str

        return {
            "kind": self.kind, "action": exceptions.action(self.kind), "session_id": self.session_id,
            "ticket_no": self.ticket_no, "plate": self.plate, "spot": self.spot, "from_spot": self.from_spot,
            "status": self.status, "adjustment": self.adjustment,
            "amount": None if self.amount_cents is None else to_major_str(self.amount_cents, currency),
            "iou_id": self.iou_id, "reason_code": self.reason.code, "reason_text": self.reason.text,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One thing the count check found that does not add up.

    ``kind``: ``orphan_session`` (an open session whose bay is not occupied),
    ``bay_without_session`` (an occupied bay no open session is in),
    ``stale_session`` (open far longer than :data:`DEFAULT_STALE_AFTER` or the
    threshold asked). ``fixes``: the ``count adjust`` options that resolve it.
    """

    kind: str
    message: str
    spot: str | None = None
    session_id: int | None = None
    ticket_no: str | None = None
    entry_at: datetime | None = None
    fixes: tuple[str, ...] = ()

    def to_json_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "spot": self.spot, "session_id": self.session_id,
                "ticket_no": self.ticket_no, "entry_at": self.entry_at.isoformat() if self.entry_at else None,
                "fixes": list(self.fixes)}


@dataclass(frozen=True, slots=True)
class LaneCount:
    """One lane's traffic on the facility-local day: what the sessions say and what the gate did.

    ``openings_without_session``: gate openings not tied to a session (a hand
    vend): at an entry lane a vehicle that may be inside without a session,
    at an exit lane one that may have left with its session still open.
    Shown for the attendant to compare; not a disagreement by itself (a
    hand vend may have let nobody through).
    """

    lane: str
    direction: str
    sessions: int
    openings: int
    openings_without_session: int

    def to_json_dict(self) -> dict:
        return {"lane": self.lane, "direction": self.direction, "sessions": self.sessions,
                "openings": self.openings, "openings_without_session": self.openings_without_session}


@dataclass(frozen=True, slots=True)
class CountCheck:
    """Bays, open sessions and lane counts compared (:meth:`CorrectionOps.count_check`)."""

    at: datetime
    occupied_bays: int
    open_sessions: int
    stale_after: timedelta
    disagreements: tuple[Disagreement, ...]
    lanes: tuple[LaneCount, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.disagreements

    def to_json_dict(self) -> dict:
        return {"at": self.at.isoformat(), "ok": self.ok, "occupied_bays": self.occupied_bays,
                "open_sessions": self.open_sessions, "stale_after_hours": self.stale_after.total_seconds() / 3600,
                "disagreements": [d.to_json_dict() for d in self.disagreements],
                "lanes": [lane.to_json_dict() for lane in self.lanes]}


def why_not_fit(spot_type: SpotType, label: str, vehicle_class: VehicleClass, *, ev: bool,
                accessible: bool) -> str | None:
    """Why a vehicle may not be put in bay ``label`` of ``spot_type`` (allocation's compatibility matrix,
    :mod:`attendant.core.allocation`), or None when it fits."""
    if fits(spot_type, vehicle_class, ev=ev, accessible=accessible):
        return None
    if spot_type is SpotType.EV:
        if vehicle_class not in EV_CLASSES:
            return f"bay {label} is an EV bay: no {vehicle_class.value} bays there"
        return f"bay {label} is an EV bay, for electric vehicles charging only (this one is not an EV)"
    if spot_type is SpotType.ACCESSIBLE:
        if vehicle_class not in ACCESSIBLE_CLASSES:
            return f"bay {label} is an accessible bay: no {vehicle_class.value} bays there"
        return f"bay {label} is an accessible bay, for blue-badge holders only (give --accessible if shown)"
    fitting = ", ".join(t.value for t in ORDINARY_FIT[vehicle_class])
    return f"a {vehicle_class.value} does not fit bay {label} ({spot_type.value}; it fits {fitting})"


class CorrectionOps(CheckoutOps):
    """Void, manual entry, move, anti-passback reset and count corrections (see the module docstring)."""

    # ------------------------------------------------------------------ helpers
    def _session_id_of(self, text: str) -> int:
        """The open session ``text`` names: a ticket code, a ticket number or a plate (confusables tolerated).

        Raises :class:`InputError` (empty, ambiguous plate), :class:`NotFound`,
        :class:`Refused` (the ticket has exited), :class:`TicketInvalid`.
        """
        typed = (text or "").strip()
        if not typed:
            raise InputError("give a ticket code, ticket number or plate")
        if looks_like_ticket_code(typed):
            with self._reading() as conn:
                row = self._session_row(conn, typed)
        elif typed.isascii() and typed.isdigit() and len(typed) <= 8:
            with self._reading() as conn:
                row = conn.execute(select(PS.c.id, PS.c.status, PS.c.ticket_no, PS.c.exit_at).where(
                    PS.c.facility_id == self.facility.id, PS.c.ticket_no == int(typed))).first()
            if row is None:
                try:
                    return self.find_by_plate(typed).session_id  # a plate of digits only
                except NotFound:
                    raise NotFound(f"no ticket {format_ticket_no(int(typed))} and no plate {typed} inside") from None
        else:
            return self.find_by_plate(typed).session_id
        if row.status != SessionStatus.OPEN:
            raise Refused(f"ticket {format_ticket_no(row.ticket_no)} is {row.status}, not open")
        return row.id

    def _open_session(self, conn, session_id: int):
        """The open session ``session_id`` with its bay, inside ``conn``'s transaction (row-locked on
        PostgreSQL). Raises :class:`NotFound` or :class:`Refused` (no longer open: another booth closed it)."""
        stmt = sessions_with_bay().where(PS.c.facility_id == self.facility.id, PS.c.id == session_id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=PS)
        row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"no session {session_id} in {self.facility.code}")
        if row.status != SessionStatus.OPEN:
            raise Refused(f"ticket {format_ticket_no(row.ticket_no)} is {row.status}, not open")
        return row

    def _write_off(self, conn, row, *, at: datetime, who: Actor, why: exceptions.Reason, kind: str):
        """Close open session ``row`` at ``at`` without an exit at a lane (the vehicle is gone): priced by its
        plan, what is still owed becomes an IOU on the plate (a plate-less session's balance is written off),
        its bay freed if it holds it. Returns ``(fee, paid, balance, iou_id, freed)``.
        Raises :class:`Refused` while a payment of the session is pending."""
        payments = payments_of(conn, row.id)
        if any(p.status == "pending" for p in payments):
            raise Refused(f"ticket {format_ticket_no(row.ticket_no)} has a card payment waiting for its "
                          "processor: resolve it first (`attendant payment resolve`)")
        paid = sum(p.amount for p in payments if p.status in COUNTED)
        fee = self._fee(conn, row, max(at, row.entry_at))
        balance = max(fee.amount - paid, 0)  # validations are payment rows (method validation)
        iou_id = None
        if balance and row.plate_hash:
            iou_id = conn.execute(_INSERT_IOU, {
                "facility_id": self.facility.id, "session_id": row.id, "plate": row.plate,
                "plate_hash": row.plate_hash, "amount": balance, "reason": f"{kind}: {why}"[:200],
                "status": IouStatus.OPEN.value, "created_at": at, "actor": who.name,
            }).scalar_one()
        conn.execute(update(PS).where(PS.c.id == row.id, SESSION_IS_OPEN).values(
            status=SessionStatus.CLOSED.value, exit_at=max(at, row.entry_at), exit_lane=None,
            amount_due=fee.amount, amount_paid=paid,
            fee_lines=[{"label": ln.label, "minutes": ln.minutes, "amount": ln.amount} for ln in fee.lines],
            exit_actor=who.name, exit_reason=f"{kind}: {why}"[:200]))
        freed = conn.execute(_RELEASE, {"spot_id": row.spot_id}).rowcount == 1
        return fee, paid, balance, iou_id, freed

    # ------------------------------------------------------------------ void
    def void_ticket(self, ticket: str, *, reason: str, actor: Actor | str, lane: str | None = None) -> Correction:
        """Void a ticket issued in error (no stay: the gate was not passed, nothing paid).

        ``ticket`` is the code, ticket number or plate of an open session.
        The session becomes ``voided`` (exit time now, nothing due), its bay is
        freed. Attendants may void within :data:`VOID_MINUTES` of the entry
        time, supervisors at any time. Raises :class:`InputError` (reason),
        :class:`NotFound`, :class:`Refused` (not open; a payment or validation
        was taken: that is a stay, exit it), :class:`PermissionDenied`.
        """
        why = exceptions.parse_reason(reason)
        who = self._actor(actor, Role.ATTENDANT, "voiding a ticket")
        session_id = self._session_id_of(ticket)
        at, now = self.clock(), utc_now()
        with self._lock:
            with self._writing() as conn:
                row = self._open_session(conn, session_id)
                age = at - row.entry_at
                if age > timedelta(minutes=VOID_MINUTES):
                    who = self._actor(actor, Role.SUPERVISOR,
                                      f"voiding a ticket issued {int(age.total_seconds() // 60)} min ago "
                                      f"(attendants: within {VOID_MINUTES} min of issue)")
                taken = [p for p in payments_of(conn, row.id) if p.status in COUNTED or p.status == "pending"]
                if taken or row.amount_paid or row.discount:
                    raise Refused(f"ticket {format_ticket_no(row.ticket_no)} has payments or validations: it is a "
                                  "stay, not an error (refund, then exit it)")
                conn.execute(update(PS).where(PS.c.id == row.id, SESSION_IS_OPEN).values(
                    status=SessionStatus.VOIDED.value, exit_at=max(at, row.entry_at), exit_lane=lane,
                    amount_due=0, amount_paid=0, fee_lines=[], exit_actor=who.name, exit_reason=str(why)[:200]))
                freed = conn.execute(_RELEASE, {"spot_id": row.spot_id}).rowcount == 1
                self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("void"),
                            entity="parking_session", entity_id=row.id,
                            details=exceptions.details(why, amount_cents=0, lane=lane, ticket_no=row.ticket_no,
                                                       spot=row.spot_label, plate_ref=row.plate_hash,
                                                       entry_at=row.entry_at.isoformat()))
            if freed:
                self._set_spot(row.spot_id, SpotStatus.AVAILABLE)
        return Correction("void", why, at, row.id, format_ticket_no(row.ticket_no), self.data.open(row.plate),
                          None, row.spot_label, SessionStatus.VOIDED.value, 0)

    # ------------------------------------------------------------------ manual entry
    def manual_entry(self, plate: str, vehicle_class: str | VehicleClass, *, bay: str, reason: str,
                     actor: Actor | str, at: datetime | None = None, ev: bool = False, accessible: bool = False,
                     lane: str | None = None) -> EntryResult:
        """Record a vehicle found inside without a session: its plate, the bay it is in, the claimed entry time.

        Opens a session (with a ticket number and signed code, so it leaves
        like any other) in bay ``bay``, which must be free and fit the vehicle.
        No gate is vended. ``at`` (default now) more than
        :data:`BACKDATE_SLACK` in the past is a back-dated entry: a supervisor's,
        checked by ``_check_at`` with the reason as the back-dating reason.
        Raises :class:`InputError` (plate, class, bay, reason, time),
        :class:`Refused` (plate already inside: anti-passback; bay not free),
        :class:`PermissionDenied`, :class:`~attendant.core.time_bounds.TimeOutOfWindow`.
        """
        why = exceptions.parse_reason(reason)
        if not (plate or "").strip():
            raise InputError("a manual entry needs the plate of the vehicle found inside")
        if not (bay or "").strip():
            raise InputError("a manual entry needs the bay the vehicle is in")
        norm = normalize_plate(plate)
        backdated = at is not None and at < self.clock() - BACKDATE_SLACK
        if backdated:
            who = self._actor(actor, Role.SUPERVISOR, "a back-dated manual entry (claimed entry time in the past)")
            at = self._check_at(at, actor=who, backdate_reason=str(why))
        else:
            who = self._actor(actor, Role.ATTENDANT, "a manual entry")
            at = self._check_at(at)
        request = EntryRequest(norm, vehicle_class, ev, accessible, lane, bay.strip(), at, print_ticket=False,
                               vend=False, backdate_reason=str(why) if backdated else None)
        audit = (exceptions.action("manual_entry"),
                 exceptions.details(why, amount_cents=None, lane=lane, backdated=backdated))
        with self._lock:
            ticket_no = self._ticket_no()
            try:
                return self._enter(ticket_no, norm, request, who.name, at, utc_now(), False, audit=audit)
            except IntegrityError as exc:
                self._unused_ticket_no(ticket_no)
                if "plate" in str(exc.orig):
                    raise Refused(f"{norm} is already inside (anti-passback)") from None
                raise Refused(f"bay {bay.strip().upper()} was just taken by another booth") from None
            except AttendantError:
                self._unused_ticket_no(ticket_no)
                raise

    # ------------------------------------------------------------------ move
    def move_vehicle(self, ticket_or_plate: str, to_bay: str, *, reason: str, actor: Actor | str,
                     accessible: bool | None = None, lane: str | None = None) -> Correction:
        """Move a parked vehicle to bay ``to_bay`` (the slot-assignment override): old bay freed, new one
        claimed, the session's bay and bay type changed, in one transaction; every booth sees both bays.

        The new bay must be free and fit the vehicle (allocation's matrix;
        ``accessible`` None: the vehicle is a badge holder when it is now in
        an accessible bay). Attendants move within a bay type; a change of
        bay type (which the tariff may price by) needs a supervisor. Raises
        :class:`InputError` (no such bay, the same bay, does not fit, reason),
        :class:`Refused` (bay not free: says its status; session not open),
        :class:`NotFound`, :class:`PermissionDenied`.
        """
        why = exceptions.parse_reason(reason)
        who = self._actor(actor, Role.ATTENDANT, "moving a vehicle to another bay")
        session_id = self._session_id_of(ticket_or_plate)
        target = self._cache.index.spot_by_label(to_bay)
        at, now = self.clock(), utc_now()
        with self._lock:
            with self._writing() as conn:
                row = self._open_session(conn, session_id)
                if row.spot_id == target.id:
                    raise InputError(f"ticket {format_ticket_no(row.ticket_no)} is already in bay {target.label}")
                badge = accessible if accessible is not None else row.spot_type == SpotType.ACCESSIBLE.value
                refusal = why_not_fit(target.spot_type, target.label, VehicleClass(row.vehicle_class), ev=row.ev,
                                      accessible=badge)
                if refusal:
                    raise InputError(refusal)
                if target.spot_type.value != row.spot_type:
                    who = self._actor(actor, Role.SUPERVISOR,
                                      f"moving a vehicle from a {row.spot_type} bay to a {target.spot_type.value} "
                                      "bay (the tariff may change)")
                if conn.execute(_TAKE, {"spot_id": target.id}).rowcount != 1:
                    status = conn.execute(select(S.c.status).where(S.c.id == target.id)).scalar_one()
                    raise Refused(f"bay {target.label} is {status.replace('_', ' ')}: choose a free bay")
                conn.execute(update(PS).where(PS.c.id == row.id).values(spot_id=target.id,
                                                                         spot_type=target.spot_type.value))
                freed = conn.execute(_RELEASE, {"spot_id": row.spot_id}).rowcount == 1
                self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("move"),
                            entity="parking_session", entity_id=row.id,
                            details=exceptions.details(why, amount_cents=None, lane=lane, ticket_no=row.ticket_no,
                                                       from_spot=row.spot_label, to_spot=target.label,
                                                       from_type=row.spot_type, to_type=target.spot_type.value,
                                                       plate_ref=row.plate_hash))
            if freed:
                self._set_spot(row.spot_id, SpotStatus.AVAILABLE)
            self._set_spot(target.id, SpotStatus.OCCUPIED)
        return Correction("move", why, at, row.id, format_ticket_no(row.ticket_no), self.data.open(row.plate),
                          target.label, row.spot_label, SessionStatus.OPEN.value)

    # ------------------------------------------------------------------ anti-passback reset
    def reset_anti_passback(self, plate: str, *, reason: str, actor: Actor | str,
                            lane: str | None = None) -> Correction:
        """Let ``plate`` enter again although a session of it is still open (its exit was missed: a tailgate,
        a plate misread at the exit, a gate left open).

        Anti-passback is the rule that one plate has at most one open session
        (``uq_open_session_plate``; :meth:`ParkingService.admit` refuses).
        The reset closes that stale session at now, without an exit lane,
        priced by its plan: what it still owes becomes an IOU on the plate
        (nothing is waived; settle or contest it as any IOU), and its bay is
        freed. Attendants may reset. Raises :class:`InputError` (plate,
        reason), :class:`NotFound` (the plate is not inside: nothing to reset),
        :class:`Refused` (a payment pending), :class:`PermissionDenied`.
        """
        why = exceptions.parse_reason(reason)
        who = self._actor(actor, Role.ATTENDANT, "an anti-passback reset")
        norm = normalize_plate(plate)
        with self._reading() as conn:
            sid = conn.execute(select(PS.c.id).where(
                PS.c.facility_id == self.facility.id, PS.c.plate_hash == self.data.plate_index(norm),
                SESSION_IS_OPEN)).scalar()
        if sid is None:
            raise NotFound(f"{norm} is not inside: anti-passback does not hold it, nothing to reset")
        at, now = self.clock(), utc_now()
        with self._lock:
            with self._writing() as conn:
                row = self._open_session(conn, sid)
                fee, paid, balance, iou_id, freed = self._write_off(conn, row, at=at, who=who, why=why,
                                                                    kind="anti-passback reset")
                self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("apb_reset"),
                            entity="parking_session", entity_id=row.id,
                            details=exceptions.details(why, amount_cents=balance, lane=lane,
                                                       ticket_no=row.ticket_no, spot=row.spot_label,
                                                       plate_ref=row.plate_hash, amount_due=fee.amount, paid=paid,
                                                       iou_id=iou_id, entry_at=row.entry_at.isoformat()))
            if freed:
                self._set_spot(row.spot_id, SpotStatus.AVAILABLE)
        return Correction("apb_reset", why, at, row.id, format_ticket_no(row.ticket_no), norm, None, row.spot_label,
                          SessionStatus.CLOSED.value, balance, iou_id)

    # ------------------------------------------------------------------ counts
    def stale_threshold(self) -> timedelta:
        """How old an open session must be for the count check to call it stale: :data:`DEFAULT_STALE_AFTER`."""
        return DEFAULT_STALE_AFTER

    def count_check(self, *, stale_after: timedelta | None = None) -> CountCheck:
        """Compare bays, open sessions and lane counts, as the database has them now.

        Lists every disagreement (:class:`Disagreement`): open sessions whose
        bay is not occupied, occupied bays without an open session, open
        sessions older than ``stale_after`` (default :meth:`stale_threshold`);
        and each lane's traffic today (:class:`LaneCount`). Read only.
        """
        stale_after = stale_after or self.stale_threshold()
        if stale_after <= timedelta(0):
            raise InputError("the stale threshold must be positive")
        at = self.clock()
        fid = self.facility.id
        found: list[Disagreement] = []
        with self._reading() as conn:
            open_rows = conn.execute(
                sessions_with_bay(S.c.status.label("bay_status"))
                .where(PS.c.facility_id == fid, SESSION_IS_OPEN).order_by(PS.c.entry_at, PS.c.id)).all()
            held = {r.spot_id for r in open_rows}
            occupied = conn.execute(select(S.c.id, S.c.label).where(
                S.c.facility_id == fid, S.c.status == _OCCUPIED).order_by(S.c.label)).all()
            lanes = self._lane_counts(conn, at)
        for r in open_rows:
            ticket = format_ticket_no(r.ticket_no)
            if r.bay_status != _OCCUPIED:
                fixes = ("--close",) + (("--occupy",) if r.bay_status == _FREE else ())
                found.append(Disagreement(
                    "orphan_session", f"ticket {ticket} is open in bay {r.spot_label}, which is "
                    f"{r.bay_status.replace('_', ' ')}", r.spot_label, r.id, ticket, r.entry_at,
                    tuple(f"--session {r.id} {f}" for f in fixes)))
        for spot_id, label in occupied:
            if spot_id not in held:
                found.append(Disagreement("bay_without_session", f"bay {label} is occupied but no open session "
                                          "is in it", label, fixes=(f"--free-bay {label}",)))
        for r in open_rows:
            if at - r.entry_at > stale_after:
                days = (at - r.entry_at).total_seconds() / 86400
                found.append(Disagreement(
                    "stale_session", f"ticket {format_ticket_no(r.ticket_no)} has been open {days:.1f} days "
                    f"(bay {r.spot_label}, entered {self.local(r.entry_at):%d %b %Y %H:%M})", r.spot_label, r.id,
                    format_ticket_no(r.ticket_no), r.entry_at, (f"--session {r.id} --close",)))
        return CountCheck(at, len(occupied), len(open_rows), stale_after, tuple(found), lanes)

    def _lane_counts(self, conn, at: datetime) -> tuple[LaneCount, ...]:
        start, end = self.day_bounds(self.local(at).date())
        fid = self.facility.id
        counts: dict[tuple[str, str], list[int]] = {}
        for direction, lane_col, time_col in ((LaneDirection.ENTRY.value, PS.c.entry_lane, PS.c.entry_at),
                                              (LaneDirection.EXIT.value, PS.c.exit_lane, PS.c.exit_at)):
            for lane, n in conn.execute(select(lane_col, func.count()).where(
                    PS.c.facility_id == fid, time_col >= start, time_col < end,
                    lane_col.is_not(None)).group_by(lane_col)):  # voided tickets too: the lane issued them
                counts.setdefault((lane, direction), [0, 0, 0])[0] += n
        for lane, direction, n, loose in conn.execute(
                select(VEND.c.lane, VEND.c.direction, func.count(),
                       func.sum(case((VEND.c.session_id.is_(None), 1), else_=0)))
                .where(and_(VEND.c.facility_id == fid, VEND.c.at >= start, VEND.c.at < end,
                            VEND.c.outcome == "opened", VEND.c.lane.is_not(None)))
                .group_by(VEND.c.lane, VEND.c.direction)):
            c = counts.setdefault((lane, direction), [0, 0, 0])
            c[1] += n
            c[2] += int(loose or 0)
        return tuple(LaneCount(lane, d, *c) for (lane, d), c in sorted(counts.items()))

    def count_adjust(self, *, reason: str, actor: Actor | str, session_id: int | None = None,
                     close: bool = False, occupy: bool = False, free_bay: str | None = None) -> Correction:
        """Resolve one disagreement of :meth:`count_check`, with a reason (supervisors).

        Exactly one of: ``session_id`` with ``close`` (an orphan or stale
        session whose vehicle is gone: closed as by an anti-passback reset,
        what it owes becomes an IOU), ``session_id`` with ``occupy`` (an orphan
        session whose vehicle is in its free bay: the bay is marked occupied),
        ``free_bay`` (an occupied bay with no session: marked available). Only
        a current disagreement is adjusted: a session that agrees with its bay
        is refused (exit or void it instead). One transaction, one
        ``exception.count_adjust`` event. Raises :class:`InputError`,
        :class:`NotFound`, :class:`Refused`, :class:`PermissionDenied`.
        """
        why = exceptions.parse_reason(reason)
        chosen = [x for x in ((session_id is not None and close), (session_id is not None and occupy),
                              free_bay is not None) if x]
        if len(chosen) != 1 or (close and occupy) or (session_id is None and (close or occupy)) \
                or (session_id is not None and not (close or occupy)):
            raise InputError("say one adjustment: --session N --close, --session N --occupy, or --free-bay BAY")
        who = self._actor(actor, Role.SUPERVISOR, "adjusting the counts")
        at, now = self.clock(), utc_now()
        stale_after = self.stale_threshold()
        with self._lock:
            with self._writing() as conn:
                if free_bay is not None:
                    spot = self._cache.index.spot_by_label(free_bay)
                    holder = conn.execute(select(PS.c.ticket_no).where(PS.c.spot_id == spot.id,
                                                                       SESSION_IS_OPEN)).scalar()
                    if holder is not None:
                        raise Refused(f"bay {spot.label} holds ticket {format_ticket_no(holder)}: exit, void or "
                                      "move it; the bay is not freed by a count adjustment")
                    if conn.execute(_RELEASE, {"spot_id": spot.id}).rowcount != 1:
                        status = conn.execute(select(S.c.status).where(S.c.id == spot.id)).scalar_one()
                        raise Refused(f"bay {spot.label} is {status.replace('_', ' ')}, not occupied: nothing to free")
                    self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("count_adjust"),
                                entity="spot", entity_id=spot.id,
                                details=exceptions.details(why, amount_cents=None, lane=None, adjustment="free_bay",
                                                           spot=spot.label))
                    result = Correction("count_adjust", why, at, spot=spot.label, status=_FREE,
                                        adjustment="free_bay")
                    changed = [(spot.id, SpotStatus.AVAILABLE)]
                else:
                    row = self._open_session(conn, session_id)
                    bay_status = conn.execute(select(S.c.status).where(S.c.id == row.spot_id)).scalar_one()
                    orphan = bay_status != _OCCUPIED
                    stale = at - row.entry_at > stale_after
                    ticket = format_ticket_no(row.ticket_no)
                    if occupy:
                        if not orphan:
                            raise Refused(f"ticket {ticket}'s bay {row.spot_label} is already occupied by it")
                        if conn.execute(_TAKE, {"spot_id": row.spot_id}).rowcount != 1:
                            raise Refused(f"bay {row.spot_label} is {bay_status.replace('_', ' ')}: move the "
                                          "vehicle to a free bay (`attendant move`) instead")
                        self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("count_adjust"),
                                    entity="parking_session", entity_id=row.id,
                                    details=exceptions.details(why, amount_cents=None, lane=None,
                                                               adjustment="occupy_bay", spot=row.spot_label,
                                                               ticket_no=row.ticket_no))
                        result = Correction("count_adjust", why, at, row.id, ticket, self.data.open(row.plate),
                                            row.spot_label, None, SessionStatus.OPEN.value, adjustment="occupy_bay")
                        changed = [(row.spot_id, SpotStatus.OCCUPIED)]
                    else:
                        if not (orphan or stale):
                            raise Refused(f"ticket {ticket} agrees with its bay {row.spot_label} and is not stale: "
                                          "a count adjustment does not close it (exit or void it)")
                        fee, paid, balance, iou_id, freed = self._write_off(conn, row, at=at, who=who, why=why,
                                                                            kind="count adjustment")
                        self._audit(conn, now=now, at=at, actor=who.name, action=exceptions.action("count_adjust"),
                                    entity="parking_session", entity_id=row.id,
                                    details=exceptions.details(why, amount_cents=balance, lane=None,
                                                               adjustment="close_session", spot=row.spot_label,
                                                               ticket_no=row.ticket_no, plate_ref=row.plate_hash,
                                                               amount_due=fee.amount, paid=paid, iou_id=iou_id,
                                                               orphan=orphan, stale=stale))
                        result = Correction("count_adjust", why, at, row.id, ticket, self.data.open(row.plate),
                                            None, row.spot_label, SessionStatus.CLOSED.value, balance, iou_id,
                                            adjustment="close_session")
                        changed = [(row.spot_id, SpotStatus.AVAILABLE)] if freed else []
            for spot_id, status in changed:
                self._set_spot(spot_id, status)
        return result

    def describe_amount(self, cents: int | None) -> str:
        """``cents`` in the facility currency for messages (``-`` for None)."""
        return "-" if cents is None else format_money(cents, self.facility.currency)
