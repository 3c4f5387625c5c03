"""Parking operations on one facility: the booth services both front ends call.

:class:`ParkingService` is the entry lane (this module), the exit lane
(:class:`~attendant.core.checkout.CheckoutOps`), the back office
(:class:`~attendant.core.back_office.BackOfficeOps`), the corrections (void,
manual entry, move, anti-passback reset, counts:
:class:`~attendant.core.corrections.CorrectionOps`) and the live views of
the car park, over one :class:`~attendant.core.store.FacilityStore`.

Every state change is one database transaction that also appends an audit
event naming the actor (BRIEF.md, "Layout of the repository"). The partial
unique indexes on ``parking_session`` are the final arbiter against double
allocation and duplicate entry (anti-passback) between booths.

Times: parameters named ``at`` are aware datetimes (any zone; stored UTC),
default now. Money: integer minor units of the facility currency.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core.accounts import AccountOps
from attendant.core.allocation import Strategy, fits
from attendant.core.auth import Actor, Role
from attendant.core.back_office import BackOfficeOps
from attendant.core.booth_exceptions import ExceptionOps, backdate_reason
from attendant.core.checkout import IOU_LIMIT, CheckoutOps
from attendant.core.clock import utc_now
from attendant.core.concessions import ConcessionOps
from attendant.core.corrections import CorrectionOps
from attendant.core.errors import AttendantError, InputError, NotFound, Refused
from attendant.core.exceptions import action as exc_action
from attendant.core.exceptions import details as exc_details
from attendant.core.money import format_money
from attendant.core.plate_lists import LISTED_ID, PlateListOps
from attendant.core.plate_match import best_matches
from attendant.core.plates import normalize_plate
from attendant.core.requests import EntryRequest
from attendant.core.reservations import (
    NEAR_ENTRY_EXISTS,
    ReservationOps,
    near_entry_params,
)
from attendant.core.store import (
    IOU,
    PS,
    SESSION_IS_OPEN,
    VEND,
    F,
    S,
    V,
    sessions_with_bay,
)
from attendant.core.tickets import TICKET_NO_DIGITS, format_ticket_no
from attendant.core.views import EntryResult, SessionView
from attendant.core.vocab import (
    LaneDirection,
    SessionStatus,
    SpotStatus,
    VehicleClass,
    VendSource,
)

# Anti-passback and unpaid IOUs in one look: the open session of the plate (if any) and its unpaid IOUs.
# Plates are looked up by their blind index (attendant/core/personal_data.py).
_INSIDE = select(
    select(PS.c.ticket_no).where(PS.c.facility_id == bindparam("fid"), PS.c.plate_hash == bindparam("plate"),
                                 SESSION_IS_OPEN).scalar_subquery().label("ticket_no"),
    select(PS.c.entry_at).where(PS.c.facility_id == bindparam("fid"), PS.c.plate_hash == bindparam("plate"),
                                SESSION_IS_OPEN).scalar_subquery().label("entry_at"),
    select(func.count()).where(IOU.c.facility_id == bindparam("fid"), IOU.c.plate_hash == bindparam("plate"),
                               IOU.c.status == literal_column("'open'")).scalar_subquery().label("ious"),
    select(func.coalesce(func.sum(IOU.c.amount), 0)).where(
        IOU.c.facility_id == bindparam("fid"), IOU.c.plate_hash == bindparam("plate"),
        IOU.c.status == literal_column("'open'")).scalar_subquery().label("owed"),
    LISTED_ID.scalar_subquery().label("listed"),  # a live deny/allow entry of the plate (plate_lists.py)
    NEAR_ENTRY_EXISTS.label("near"),  # any reservation the entry must look at (reservations.py)
)
_TAKE_SPOT = update(S).where(S.c.id == bindparam("spot_id"), S.c.status == SpotStatus.AVAILABLE.value).values(
    status=SpotStatus.OCCUPIED.value)
_INSERT_SESSION = insert(PS).returning(PS.c.id)
#: The columns an entry writes to its session (besides ``vehicle_id``) and to its vend (besides ``session_id``).
_SESSION_COLUMNS = ("facility_id", "ticket_no", "code", "plate", "plate_hash", "plate_fold", "vehicle_class", "ev",
                    "spot_id", "spot_type", "rate_plan_version_id", "status", "entry_lane", "entry_at",
                    "amount_paid", "discount", "entry_actor", "entry_key", "reservation_id")
_VEND_COLUMNS = ("facility_id", "lane", "direction", "source", "reason", "at", "actor", "outcome")
_UPSERT_VEHICLE: dict[str, object] = {}


class ParkingService(ReservationOps, CorrectionOps, CheckoutOps, BackOfficeOps, ExceptionOps, ConcessionOps,
                     AccountOps, PlateListOps):
    """Operations on one facility. Thread-safe: calls are serialised per instance.

    Construct with ``(engine, signer, facility_code=None, clock=utc_now,
    processors=None)`` (:class:`~attendant.core.store.FacilityStore`).
    """

    def _upsert_vehicle(self, conn, plate: str, vehicle_class: str, ev: bool, now: datetime) -> int:
        """The vehicle row of ``plate`` (its blind index: the vehicle table holds no plate in clear)."""
        stmt = _UPSERT_VEHICLE.get(conn.dialect.name)
        if stmt is None:  # INSERT ... ON CONFLICT is dialect-specific in SQLAlchemy: built once per dialect
            from sqlalchemy.dialects import postgresql, sqlite

            maker = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = maker(V)
            stmt = _UPSERT_VEHICLE[conn.dialect.name] = stmt.on_conflict_do_update(
                index_elements=[V.c.plate], set_={"vehicle_class": stmt.excluded.vehicle_class, "ev": stmt.excluded.ev}
            ).returning(V.c.id)
        params = {"plate": plate, "vehicle_class": vehicle_class, "ev": ev, "created_at": now}
        return conn.execute(stmt, params).scalar_one()

    @staticmethod
    def _entry_with_vend():
        """PostgreSQL: the vehicle's upsert, the session's insert and its entry gate opening's (the vend) in
        ONE statement (data-modifying ``WITH``s; parameters ``v_*`` as :meth:`_session_with_vehicle`, ``s_<column>``
        for the session, ``vend_<column>`` for the vend). Returns ``(vend id, session id)``. Built once."""
        stmt = _UPSERT_VEHICLE.get("postgresql+session+vend")
        if stmt is None:
            vehicle = ParkingService._vehicle_cte()
            session = insert(PS).values(vehicle_id=select(vehicle.c.id).scalar_subquery(),
                                        **{c: bindparam(f"s_{c}") for c in _SESSION_COLUMNS}) \
                .returning(PS.c.id).cte("new_session")
            session_id = select(session.c.id).scalar_subquery()
            stmt = _UPSERT_VEHICLE["postgresql+session+vend"] = insert(VEND).values(
                session_id=session_id, **{c: bindparam(f"vend_{c}") for c in _VEND_COLUMNS},
            ).returning(VEND.c.id, session_id.label("session_id"))
        return stmt

    @staticmethod
    def _vehicle_cte():
        """The vehicle's upsert as a ``WITH`` (PostgreSQL; parameters ``v_plate``, ``v_class``, ``v_ev``, ``v_at``)."""
        from sqlalchemy.dialects import postgresql

        upsert = postgresql.insert(V).values(plate=bindparam("v_plate"), vehicle_class=bindparam("v_class"),
                                             ev=bindparam("v_ev"), created_at=bindparam("v_at"))
        return upsert.on_conflict_do_update(
            index_elements=[V.c.plate], set_={"vehicle_class": upsert.excluded.vehicle_class, "ev": upsert.excluded.ev},
        ).returning(V.c.id).cte("upserted_vehicle")

    @staticmethod
    def _session_with_vehicle():
        """PostgreSQL: the vehicle's upsert (:meth:`_upsert_vehicle`, parameters ``v_plate``, ``v_class``,
        ``v_ev``, ``v_at``) as a data-modifying ``WITH`` of the session's insert, whose ``vehicle_id`` it gives:
        one round trip for both. Built once."""
        stmt = _UPSERT_VEHICLE.get("postgresql+session")
        if stmt is None:
            vehicle = ParkingService._vehicle_cte()
            stmt = _UPSERT_VEHICLE["postgresql+session"] = (
                insert(PS).values(vehicle_id=select(vehicle.c.id).scalar_subquery()).returning(PS.c.id))
        return stmt

    # ------------------------------------------------------------------ entry
    def admit(self, request: EntryRequest, *, actor: Actor | str, vend: bool = False) -> EntryResult:
        """Admit a vehicle: pick a bay, open a session, issue a signed ticket, in one transaction.

        ``vend`` records the gate opening with the entry (the booth commands
        the gate after the commit). Raises :class:`InputError` (bad plate or
        bay), :class:`Refused` (plate already inside: anti-passback;
        :data:`IOU_LIMIT` unpaid IOUs: settle first; the bay is not free) or
        :class:`~attendant.core.errors.NoSpaceAvailable`. A request whose
        ``idempotency_key`` opened a session before gets that session back
        (``replayed``), whatever happened since; the key used for another plate
        raises :class:`InputError`. A booked reservation of the plate (or the
        one ``request.reservation`` names) is checked in and its held bay taken
        (:mod:`attendant.core.reservations`; ``EntryResult.reservation``); a
        walk-in never takes a held bay.
        """
        who = self._actor(actor, action="admitting a vehicle").name
        norm = normalize_plate(request.plate) if request.plate is not None else None
        at = self._check_at(request.at, actor=actor, backdate_reason=request.backdate_reason)
        key = request.idempotency_key
        if key and (done := self._entry_by_key(key, norm)) is not None:
            return done
        with self._lock:
            ticket_no = self._ticket_no()
            try:
                return self._enter(ticket_no, norm, request, who, at, utc_now(), vend)
            except IntegrityError as exc:  # another booth won a race (the same plate at two lanes at once)
                self._unused_ticket_no(ticket_no)
                if key and "entry_key" in str(exc.orig) and (done := self._entry_by_key(key, norm)) is not None:
                    return done  # the same request, retried while the first was committing
                if "plate" in str(exc.orig):
                    raise Refused(f"{norm} is already inside (anti-passback)") from None
                raise Refused("that bay was just taken by another booth: try again") from None
            except AttendantError:  # refused before anything was written: the number is still free
                self._unused_ticket_no(ticket_no)
                raise
            # Anything else (a connection lost mid-commit: a failover, a cut) may have committed: the number
            # is never given out again (a gap, not a second session with the same ticket and code).

    def _entry_by_key(self, key: str, plate: str | None) -> EntryResult | None:
        """The entry an earlier request with idempotency ``key`` made here (``replayed``), or None."""
        with self._reading() as conn:
            row = conn.execute(select(PS.c.ticket_no).where(
                PS.c.facility_id == self.facility.id, PS.c.entry_key == key)).first()
        if row is None:
            return None
        entry = self.ticket(row.ticket_no)
        if entry.plate != plate:
            raise InputError(f"idempotency key {key!r} was used for another entry (ticket {entry.ticket_no}): "
                             "use a new key for a new request")
        return replace(entry, replayed=True)

    def enter(self, plate: str | None, vehicle_class: str | VehicleClass, *, actor: Actor | str, ev: bool = False,
              accessible: bool = False, lane: str | None = None, spot_label: str | None = None,
              at: datetime | None = None, vend: bool = False, reservation: str | None = None) -> EntryResult:
        """:meth:`admit` from plain arguments (scripts and tests)."""
        return self.admit(EntryRequest(plate, vehicle_class, ev, accessible, lane, spot_label, at,
                                       reservation=reservation), actor=actor, vend=vend)

    def _enter(self, ticket_no: int | None, plate, request: EntryRequest, actor: str, at: datetime, now: datetime,
               vend: bool, audit: tuple[str, dict] | None = None) -> EntryResult:
        """The entry's transaction. ``audit`` = (action, details) records the entry as that event instead of
        ``session.enter`` (an exception such as a manual entry: one event, details merged)."""
        fid = self.facility.id
        vclass, ev, accessible, lane, spot_label = (request.vehicle_class, request.ev, request.accessible,
                                                    request.lane, request.spot)
        with self._writing() as conn:
            if ticket_no is None:
                ticket_no = self._ticket_no_in(conn)
            sealed = self.data.plate_columns(plate)  # ciphertext and blind indexes (personal_data.py)
            flag = listed = None
            near = True  # reservations to look at (unknown without a plate: looked up)
            if plate is not None:
                inside = conn.execute(_INSIDE, {"fid": fid, "plate": sealed["plate_hash"],
                                                "fold": sealed["plate_fold"], **near_entry_params(at)}).one()
                if inside.ticket_no is not None:
                    local = self.local(inside.entry_at).strftime("%d %b %H:%M")
                    raise Refused(
                        f"{plate} is already inside (ticket {format_ticket_no(inside.ticket_no)}, entered {local}): "
                        "anti-passback"
                    )
                ious, owed, near = inside.ious, inside.owed, bool(inside.near)
                if ious >= IOU_LIMIT:
                    raise Refused(
                        f"{plate} has {ious} unpaid IOUs ({format_money(owed, self.facility.currency)}): "
                        "they must be settled before entry (prepay)"
                    )
                if inside.listed is not None:  # on the deny list: refused, or admitted with a flag
                    listed = self._listed_in(conn, sealed["plate_hash"], sealed["plate_fold"], at, inside.listed)
                    if listed.kind == "deny" and listed.action == "refuse" and not request.deny_as_flag:
                        near = f" (matches {listed.plate})" if listed.matched == "confusable" else ""
                        raise Refused(f"{plate} is on the deny list{near}: {listed.reason}; entry refused "
                                      "(a supervisor can take it off: attendant plates remove)")
                    flag = listed.describe() if listed.kind == "deny" else None
            # the reservation this entry checks in; for a walk-in, the holds due placed and the bay types
            # reservations about to arrive need (attendant/core/reservations.py)
            booked, held, kept = self._entry_reservations(conn, request, sealed["plate_hash"], plate, at, near)
            if booked is not None and (not spot_label or
                                       self._cache.index.spot_by_label(spot_label).id == booked.held_spot_id):
                spot = self._cache.index.spots[self._take_reserved_bay(conn, booked)]
            elif spot_label:
                spot = self._cache.index.spot_by_label(spot_label)
                if not fits(spot.spot_type, vclass, ev=ev, accessible=accessible):
                    raise InputError(f"a {vclass.value} does not fit bay {spot.label} ({spot.spot_type.value})")
                if conn.execute(_TAKE_SPOT, {"spot_id": spot.id}).rowcount != 1:
                    status = conn.execute(select(S.c.status).where(S.c.id == spot.id)).scalar_one()
                    raise Refused(f"bay {spot.label} is {status.replace('_', ' ')}")
            else:  # the database picks and takes the bay (label, type and level never change: from the index)
                spot = self._cache.index.spots[self._claim(conn, vclass, ev=ev, accessible=accessible,
                                                           skip=kept).id]
            plan_id = self._cache.active_plan_id
            summary = self._summary(conn, plan_id)  # also: the facility has an active plan (NotFound)
            # on PostgreSQL the vehicle's upsert goes with the session's insert (one statement)
            with_vehicle = plate is not None and conn.dialect.name == "postgresql"
            vehicle_id = self._upsert_vehicle(conn, sealed["plate_hash"], vclass.value, ev, now) \
                if plate and not with_vehicle else None
            code = self.signer.sign(self.facility.code, ticket_no)
            vehicle = {"v_plate": sealed["plate_hash"], "v_class": vclass.value, "v_ev": ev, "v_at": now} \
                if with_vehicle else {"vehicle_id": vehicle_id}
            session_row = {
                "facility_id": fid,
                "ticket_no": ticket_no,
                "code": self.data.code_hash(code),
                **vehicle,
                **sealed,
                "vehicle_class": vclass.value,
                "ev": ev,
                "spot_id": spot.id,
                "spot_type": spot.spot_type.value,
                "rate_plan_version_id": plan_id,
                "status": SessionStatus.OPEN.value,
                "entry_lane": lane,
                "entry_at": at,
                "amount_paid": 0,
                "discount": 0,
                "entry_actor": actor,
                "entry_key": request.idempotency_key,
                "reservation_id": booked.id if booked is not None else None,
            }
            vend_id = None
            if with_vehicle and vend and booked is None:  # the common entry: one statement for the three rows
                vend_row = self._vend_row(lane=lane, direction=LaneDirection.ENTRY.value, source=VendSource.TICKET,
                                          reason=None, at=at, actor=actor)
                vend_id, session_id = conn.execute(self._entry_with_vend(), {
                    **vehicle, **{f"s_{c}": session_row[c] for c in _SESSION_COLUMNS},
                    **{f"vend_{c}": vend_row[c] for c in _VEND_COLUMNS}}).one()
            else:
                session_id = conn.execute(self._session_with_vehicle() if with_vehicle else _INSERT_SESSION,
                                          session_row).scalar_one()
            if booked is not None:
                self._checked_in(conn, booked, session_id=session_id, spot_id=spot.id, at=at, now=now, who=actor)
                if booked.held_spot_id not in (None, spot.id):  # the attendant chose another bay: free the hold
                    self._release_hold(conn, booked)
            if vend and vend_id is None:
                vend_id = self._insert_vend(conn, lane=lane, direction=LaneDirection.ENTRY.value,
                                            source=VendSource.TICKET, reason=None, session_id=session_id, at=at,
                                            actor=actor)
            # the exception's own event (issue 10 item 6), before the entry's own; an entry that is itself an
            # exception (a manual entry: ``audit``) records the back-dating in that one event instead
            if request.backdate_reason and not audit:
                self._audit(conn, now=now, at=at, actor=actor, action=exc_action("backdate"),
                            entity="parking_session", entity_id=session_id,
                            details=exc_details(backdate_reason(self, request.backdate_reason), lane=lane,
                                                ticket_no=ticket_no, operation="entry"))
            self._audit(
                conn,
                now=now,
                at=at,
                actor=actor,
                action=audit[0] if audit else "session.enter",
                entity="parking_session",
                entity_id=session_id,
                details=(audit[1] if audit else {}) | {
                    "ticket_no": ticket_no,
                    "plate_ref": sealed["plate_hash"],
                    "vehicle_class": vclass.value,
                    "spot": spot.label,
                    "lane": lane,
                    "at_given": request.at is not None,
                    **({"backdate_reason": request.backdate_reason} if request.backdate_reason else {}),
                    # the entry's id and reason, never the listed plate (audit events hold no plate in clear)
                    **({"plate_list": listed.id, "flag": listed.reason} if flag else {}),
                    **({"reservation_id": booked.id} if booked is not None else {}),
                },
            )
        for held_id in held:
            self._set_spot(held_id, SpotStatus.RESERVED)
        if booked is not None and booked.held_spot_id not in (None, spot.id):
            self._set_spot(booked.held_spot_id, SpotStatus.AVAILABLE)
        self._set_spot(spot.id, SpotStatus.OCCUPIED)
        level_code, level_name = self._cache.levels[spot.level_id]
        return EntryResult(
            session_id=session_id,
            ticket_no=format_ticket_no(ticket_no),
            code=code,
            plate=plate,
            vehicle_class=vclass.value,
            spot_label=spot.label,
            spot_type=spot.spot_type.value,
            level_code=level_code,
            level_name=level_name,
            entry_at=at,
            lane=lane,
            rate_summary=summary,
            vend_id=vend_id,
            flag=flag,
            reservation=self._view_id(booked.id) if booked is not None else None,
        )

    # ------------------------------------------------------------------ lookups
    def lookup(self, code: str) -> SessionView:
        """The session a scanned or typed code names. Raises TicketInvalid/NotFound/Refused."""
        with self._reading() as conn:
            return self._view(self._session_row(conn, code))

    def ticket(self, ticket_no: int | str) -> EntryResult:
        """The ticket of session ``ticket_no`` (digits, e.g. ``"00000042"``), for a reprint.

        Raises :class:`InputError` for a malformed number, :class:`NotFound` if none.
        """
        text = str(ticket_no).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= TICKET_NO_DIGITS):
            raise InputError(f"not a ticket number: {text[:24]!r} (1 to {TICKET_NO_DIGITS} digits 0-9)")
        number = int(text)
        with self._reading() as conn:
            row = conn.execute(
                sessions_with_bay().where(PS.c.facility_id == self.facility.id, PS.c.ticket_no == number)
            ).first()
            if row is None:
                raise NotFound(f"no ticket {format_ticket_no(number)}")
            summary = self._summary(conn, row.rate_plan_version_id)
        view = self._view(row)
        return EntryResult(
            session_id=view.session_id, ticket_no=view.ticket_no, code=view.code, plate=view.plate,
            vehicle_class=view.vehicle_class, spot_label=view.spot_label, spot_type=view.spot_type,
            level_code=row.level_code, level_name=view.level_name, entry_at=view.entry_at, lane=view.entry_lane,
            rate_summary=summary,
        )

    def plate_candidates(self, plate: str, *, max_distance: int = 1) -> list[tuple[SessionView, float]]:
        """Open sessions whose plate is near ``plate``, best first, with a score 0..1.

        For an attendant confirming a low-confidence read: confusable
        characters cost little, one wrong/missing character more.
        """
        norm = normalize_plate(plate)
        sessions = {s.plate: s for s in self.open_sessions() if s.plate}
        return [(sessions[p], score) for p, score in best_matches(norm, sessions, max_distance=max_distance)]

    def open_sessions(self, limit: int = 10_000) -> list[SessionView]:
        """Open sessions, oldest entry first."""
        with self._reading() as conn:
            rows = conn.execute(
                sessions_with_bay()
                .where(PS.c.facility_id == self.facility.id, SESSION_IS_OPEN)
                .order_by(PS.c.entry_at)
                .limit(limit)
            ).all()
        return [self._view(r) for r in rows]

    def set_spot_in_service(self, label: str, in_service: bool, *, actor: Actor | str, reason: str | None = None,
                            at: datetime | None = None) -> SpotStatus:
        """Take a bay out of service (``in_service=False``: cones, a spill, a repair) or put it back.

        Supervisors only (BRIEF feature 8). Out of service needs a reason and a
        free bay (an occupied or reserved one is refused: move the vehicle
        first); back in service needs a bay that is out. The bay is then never
        allocated, is not counted as available, and every booth sees it (the
        change log). One transaction with an audit event
        (``spot.out_of_service`` / ``spot.in_service``). Returns the new
        status. Raises :class:`PermissionDenied`, :class:`InputError` (no such
        bay, no reason), :class:`Refused`.
        """
        who = self._actor(actor, Role.SUPERVISOR, "taking a bay out of or into service").name
        if not in_service and not (reason and reason.strip()):
            raise InputError("taking a bay out of service needs a reason")
        at = self._check_at(at)
        now = utc_now()
        want, need = (
            (SpotStatus.AVAILABLE, SpotStatus.OUT_OF_SERVICE) if in_service
            else (SpotStatus.OUT_OF_SERVICE, SpotStatus.AVAILABLE)
        )
        with self._lock:
            with self._writing() as conn:
                spot = self._cache.index.spot_by_label(label)
                changed = conn.execute(update(S).where(S.c.id == spot.id, S.c.status == need.value)
                                       .values(status=want.value)).rowcount
                if changed != 1:  # the guarded update decides, whatever this booth last saw
                    current = conn.execute(select(S.c.status).where(S.c.id == spot.id)).scalar_one()
                    if in_service:
                        raise Refused(f"bay {spot.label} is {current.replace('_', ' ')}, not out of service")
                    raise Refused(f"bay {spot.label} is {current.replace('_', ' ')}: only a free bay can be taken "
                                  "out of service (move the vehicle first)")
                self._audit(conn, now=now, at=at, actor=who,
                            action="spot.in_service" if in_service else "spot.out_of_service", entity="spot",
                            entity_id=spot.id, details={"spot": spot.label, "reason": (reason or "").strip() or None})
            self._set_spot(spot.id, want)
        return want

    @property
    def strategy(self) -> Strategy:
        """The allocation strategy this booth applies (the facility's, as last loaded or set here)."""
        return self._cache.index.strategy

    def set_strategy(self, strategy: str | Strategy, *, actor: Actor | str) -> None:
        """Switch the allocation strategy for every booth of this facility (audited; supervisors).

        Other booths take it up when they next load the facility (start, or a
        reload after a lost change feed).
        """
        actor = self._actor(actor, Role.SUPERVISOR, "changing the allocation strategy").name
        try:
            chosen = Strategy(str(strategy))
        except ValueError:
            raise InputError(f"unknown strategy {strategy!r} (one of: {', '.join(Strategy)})") from None
        now = utc_now()
        with self._lock, self._writing() as conn:
            conn.execute(update(F).where(F.c.id == self.facility.id).values(allocation_strategy=chosen.value))
            self._audit(conn, now=now, at=now, actor=actor, action="allocation.strategy", entity="facility",
                        entity_id=self.facility.id, details={"strategy": chosen.value})
            self._cache.index.strategy = chosen
