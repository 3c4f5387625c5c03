"""Parking operations on one facility: entry, exit with payment, availability.

Every state change is one database transaction that also appends an audit
event naming the actor (BRIEF.md, "Layout of the repository"). Writes go
through SQLAlchemy Core on the SQLModel tables: the ORM's unit of work costs
several times more per transaction (BRIEF.md performance targets), and these
are the booth's hot paths.

Concurrency: each write transaction starts by bumping the facility row
(``UPDATE ... RETURNING``), which serialises writers per facility on
PostgreSQL (row lock) and SQLite (``BEGIN IMMEDIATE``). If the returned
revision shows another process changed spots since this process last looked,
the in-memory :class:`SpotIndex` is reloaded inside the same transaction.
The partial unique indexes on ``parking_session`` are the final arbiter
against double allocation and duplicate entry.

Times: parameters named ``at`` are aware datetimes (any zone; stored UTC),
default now. Money: integer minor units of the facility currency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from attendant.core.allocation import SpotIndex, Strategy, fits
from attendant.core.auth import Actor, Role, as_actor, require
from attendant.core.checkout import IOU_LIMIT, CheckoutOps
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.facilities import FacilityInfo, get_facility
from attendant.core.money import format_money
from attendant.core.payments import ProcessorRegistry
from attendant.core.plate_match import best_matches, canonical_form
from attendant.core.plates import normalize_plate
from attendant.core.rates import Fee, RatePlan
from attendant.core.tickets import TicketSigner, format_ticket_no
from attendant.core.vocab import PaymentStatus, SpotStatus, VehicleClass, VendSource
from db.models import AuditEvent, Facility, Iou, Level, ParkingSession, Payment, RatePlanVersion, Spot, Vehicle, Vend

F, L, S, RPV, V, PS, PAY, VEND, AUD, IOU = (
    t.__table__
    for t in (Facility, Level, Spot, RatePlanVersion, Vehicle, ParkingSession, Payment, Vend, AuditEvent, Iou)
)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Hot-path statements, built once: building a Core statement per call costs
# more than executing it; executed with parameter dicts they compile once.
_BUMP = (
    update(F).where(F.c.id == bindparam("fid")).values(revision=F.c.revision + 1)
    .returning(F.c.revision, F.c.next_ticket_no)
)
_BUMP_TICKET = (
    update(F).where(F.c.id == bindparam("fid"))
    .values(revision=F.c.revision + 1, next_ticket_no=F.c.next_ticket_no + 1)
    .returning(F.c.revision, F.c.next_ticket_no)
)
_INSIDE = select(PS.c.ticket_no, PS.c.entry_at).where(
    PS.c.facility_id == bindparam("fid"), PS.c.plate == bindparam("plate"), PS.c.status == "open"
)
_TAKE_SPOT = update(S).where(S.c.id == bindparam("spot_id"), S.c.status == "available").values(status="occupied")
_FREE_SPOT = update(S).where(S.c.id == bindparam("spot_id")).values(status="available")
_INSERT_SESSION = insert(PS).returning(PS.c.id)
_INSERT_VEND = insert(VEND)
_INSERT_AUDIT = insert(AUD)
_UPSERT_VEHICLE: dict[str, object] = {}
_SESSION_BY_TICKET = (
    select(PS, S.c.label.label("spot_label"), L.c.name.label("level_name"))
    .join(S, S.c.id == PS.c.spot_id)
    .join(L, L.c.id == S.c.level_id)
    .where(PS.c.facility_id == bindparam("fid"), PS.c.ticket_no == bindparam("ticket_no"))
)
_SESSION_BY_TICKET_LOCKED = _SESSION_BY_TICKET.with_for_update(of=PS)


@dataclass(frozen=True, slots=True)
class EntryResult:
    """A vehicle admitted: its session, ticket and bay."""

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

    def to_json_dict(self) -> dict:
        return {
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
class ExitResult:
    """A vehicle let out: what it owed, what was paid, the change, the vend."""

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
    payments: tuple = ()  # PaymentView of every attempt, in order
    iou_amount: int = 0  # left unpaid as an IOU (never trap a car)

    @property
    def amount_due(self) -> int:
        return self.fee.amount


@dataclass(frozen=True, slots=True)
class LevelAvailability:
    level_id: int
    code: str
    name: str
    capacity: int
    available: int
    by_type: dict[str, tuple[int, int]]  # spot type -> (available, capacity)


@dataclass(frozen=True, slots=True)
class SpotCell:
    """A bay as the level map draws it."""

    spot_id: int
    label: str
    row: int
    col: int
    spot_type: str


@dataclass(frozen=True, slots=True)
class LevelMap:
    level_id: int
    code: str
    name: str
    rows: tuple[str, ...]
    spots: tuple[SpotCell, ...]


@dataclass(slots=True)
class _Cache:
    revision: int = -1
    index: SpotIndex | None = None
    spot_level: dict[int, int] = field(default_factory=dict)
    levels: dict[int, tuple[str, str]] = field(default_factory=dict)
    plans: dict[int, RatePlan] = field(default_factory=dict)
    active_plan_id: int | None = None


class ParkingService(CheckoutOps):
    """Operations on one facility. Thread-safe: calls are serialised per instance.

    Exit-lane operations (quote, pay, validations, IOUs, refunds, exit) come
    from :class:`attendant.core.checkout.CheckoutOps`; ``processors`` are the
    payment processors for electronic methods (stand-ins unless given).

    ``clock`` returns the current aware UTC time (tests pass a fixed clock).
    ``listeners`` get ``(spot_id, SpotStatus)`` after each committed change, so
    a console can repaint one bay; they run on the caller's thread.
    """

    def __init__(
        self,
        engine: Engine,
        signer: TicketSigner,
        *,
        facility_code: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        processors: ProcessorRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.processors = processors or ProcessorRegistry()
        self.signer = signer
        self.clock = clock
        self.facility: FacilityInfo = get_facility(engine, facility_code)
        self.tz = ZoneInfo(self.facility.timezone)
        self._cache = _Cache()
        self._lock = threading.RLock()
        self.listeners: list[Callable[[int, SpotStatus], None]] = []
        with engine.connect().execution_options(readonly=True) as conn:
            self._load(conn, self._revision(conn))

    # ----------------------------------------------------------------- helpers
    def _revision(self, conn) -> int:
        return conn.execute(select(F.c.revision).where(F.c.id == self.facility.id)).scalar_one()

    def _load(self, conn, revision: int) -> None:
        fid = self.facility.id
        rows = conn.execute(
            select(S.c.id, S.c.label, S.c.spot_type, S.c.level_id, S.c.rank, S.c.status).where(S.c.facility_id == fid)
        ).all()
        strategy = conn.execute(select(F.c.allocation_strategy).where(F.c.id == fid)).scalar_one()
        cache = self._cache
        cache.index = SpotIndex(rows, Strategy(strategy))
        cache.spot_level = {r[0]: r[3] for r in rows}
        cache.levels = {
            r.id: (r.code, r.name)
            for r in conn.execute(select(L.c.id, L.c.code, L.c.name).where(L.c.facility_id == fid).order_by(L.c.ordinal))
        }
        cache.active_plan_id = conn.execute(
            select(RPV.c.id).where(RPV.c.facility_id == fid, RPV.c.active.is_(True))
        ).scalar()
        cache.revision = revision

    def _bump(self, conn, *, ticket: bool) -> tuple[int, int]:
        """Lock the facility row, bump its revision (and ticket counter); reload the cache if stale."""
        row = conn.execute(_BUMP_TICKET if ticket else _BUMP, {"fid": self.facility.id}).one()
        revision, ticket_no = row
        if revision - 1 != self._cache.revision:
            self._load(conn, revision - 1)
        return revision, ticket_no

    def _plan(self, conn, plan_id: int | None) -> RatePlan:
        if plan_id is None:
            raise NotFound("this facility has no active rate plan: activate one with `attendant rates activate`")
        plan = self._cache.plans.get(plan_id)
        if plan is None:
            body = conn.execute(select(RPV.c.body).where(RPV.c.id == plan_id)).scalar_one()
            plan = self._cache.plans[plan_id] = RatePlan.from_dict(body)
        return plan

    def _audit(self, conn, *, now, at, actor, action, entity, entity_id, details) -> None:
        conn.execute(
            _INSERT_AUDIT,
            {
                "facility_id": self.facility.id,
                "at": now,
                "effective_at": at,
                "actor": actor,
                "action": action,
                "entity": entity,
                "entity_id": entity_id,
                "details": details,
            },
        )

    def _upsert_vehicle(self, conn, plate: str, vehicle_class: str, ev: bool, now: datetime) -> int:
        stmt = _UPSERT_VEHICLE.get(conn.dialect.name)
        if stmt is None:
            maker = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = maker(V)
            stmt = _UPSERT_VEHICLE[conn.dialect.name] = stmt.on_conflict_do_update(
                index_elements=[V.c.plate], set_={"vehicle_class": stmt.excluded.vehicle_class, "ev": stmt.excluded.ev}
            ).returning(V.c.id)
        params = {"plate": plate, "vehicle_class": vehicle_class, "ev": ev, "created_at": now}
        return conn.execute(stmt, params).scalar_one()

    def _check_at(self, at: datetime | None) -> datetime:
        if at is None:
            return self.clock()
        if at.tzinfo is None:
            raise InputError("a time without a zone is ambiguous: give an offset, e.g. 2026-11-21T09:30:00+00:00")
        return at.astimezone(UTC)

    def _notify(self, spot_id: int, status: SpotStatus) -> None:
        for listener in list(self.listeners):
            listener(spot_id, status)

    def local(self, at: datetime) -> datetime:
        """``at`` in facility time."""
        return at.astimezone(self.tz)

    # ------------------------------------------------------------------ entry
    def enter(
        self,
        plate: str | None,
        vehicle_class: str | VehicleClass,
        *,
        actor: Actor | str,
        ev: bool = False,
        accessible: bool = False,
        lane: str | None = None,
        spot_label: str | None = None,
        at: datetime | None = None,
    ) -> EntryResult:
        """Admit a vehicle: pick a bay, open a session, issue a signed ticket.

        ``plate`` may be None for a vehicle without a read or typed plate.
        ``spot_label`` puts it in that bay (it must fit and be free).
        Raises :class:`InputError` (bad plate/class/bay), :class:`Refused`
        (plate already inside: anti-passback; :data:`IOU_LIMIT` unpaid IOUs:
        settle first) or :class:`~attendant.core.errors.NoSpaceAvailable`.
        """
        actor = as_actor(actor).name
        try:
            vclass = VehicleClass(str(vehicle_class).lower())
        except ValueError:
            known = ", ".join(v.value for v in VehicleClass)
            raise InputError(f"unknown vehicle class {vehicle_class!r} (one of: {known})") from None
        norm = normalize_plate(plate) if plate not in (None, "") else None
        explicit = at is not None
        at = self._check_at(at)
        now = utcnow()
        with self._lock:
            try:
                return self._enter(norm, vclass, actor, ev, accessible, lane, spot_label, at, now, explicit)
            except IntegrityError as exc:  # another booth won a race the index could not see
                if "plate" in str(exc.orig):
                    raise Refused(f"{norm} is already inside (anti-passback)") from None
                raise Refused("that bay was just taken by another booth: try again") from None

    def _enter(self, plate, vclass, actor, ev, accessible, lane, spot_label, at, now, explicit) -> EntryResult:
        fid = self.facility.id
        with self.engine.begin() as conn:
            _revision, ticket_no = self._bump(conn, ticket=True)
            if plate is not None:
                inside = conn.execute(_INSIDE, {"fid": fid, "plate": plate}).first()
                if inside:
                    local = self.local(inside.entry_at).strftime("%d %b %H:%M")
                    raise Refused(
                        f"{plate} is already inside (ticket {format_ticket_no(inside.ticket_no)}, entered {local}): "
                        "anti-passback"
                    )
                ious, owed = self._open_iou_count(conn, plate)
                if ious >= IOU_LIMIT:
                    raise Refused(
                        f"{plate} has {ious} unpaid IOUs ({format_money(owed, self.facility.currency)}): "
                        "they must be settled before entry (prepay)"
                    )
            index = self._cache.index
            if spot_label:
                spot = index.spot_by_label(spot_label)
                if spot.status is not SpotStatus.AVAILABLE:
                    raise Refused(f"bay {spot.label} is {spot.status.value.replace('_', ' ')}")
                if not fits(spot.spot_type, vclass, ev=ev, accessible=accessible):
                    raise InputError(f"a {vclass.value} does not fit bay {spot.label} ({spot.spot_type.value})")
            else:
                spot = index.choose(vclass, ev=ev, accessible=accessible)
            if conn.execute(_TAKE_SPOT, {"spot_id": spot.id}).rowcount != 1:
                raise Refused(f"bay {spot.label} was just taken: try again")
            plan_id = self._cache.active_plan_id
            plan = self._plan(conn, plan_id)
            vehicle_id = self._upsert_vehicle(conn, plate, vclass.value, ev, now) if plate else None
            code = self.signer.sign(self.facility.code, ticket_no)
            session_id = conn.execute(
                _INSERT_SESSION,
                {
                    "facility_id": fid,
                    "ticket_no": ticket_no,
                    "code": code,
                    "vehicle_id": vehicle_id,
                    "plate": plate,
                    "vehicle_class": vclass.value,
                    "ev": ev,
                    "spot_id": spot.id,
                    "spot_type": spot.spot_type.value,
                    "rate_plan_version_id": plan_id,
                    "status": "open",
                    "entry_lane": lane,
                    "entry_at": at,
                    "amount_paid": 0,
                    "discount": 0,
                    "entry_actor": actor,
                },
            ).scalar_one()
            conn.execute(
                _INSERT_VEND,
                {
                    "facility_id": fid,
                    "lane": lane,
                    "direction": "entry",
                    "source": VendSource.TICKET.value,
                    "reason": None,
                    "session_id": session_id,
                    "at": at,
                    "actor": actor,
                },
            )
            self._audit(
                conn,
                now=now,
                at=at,
                actor=actor,
                action="session.enter",
                entity="parking_session",
                entity_id=session_id,
                details={
                    "ticket_no": ticket_no,
                    "plate": plate,
                    "vehicle_class": vclass.value,
                    "spot": spot.label,
                    "lane": lane,
                    "at_given": explicit,
                },
            )
        index.set_status(spot.id, SpotStatus.OCCUPIED)
        self._cache.revision += 1
        self._notify(spot.id, SpotStatus.OCCUPIED)
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
            rate_summary=plan.describe(),
        )

    # ------------------------------------------------------------------- exit
    def _session_row(self, conn, code: str):
        ref = self.signer.verify(code)
        if ref.facility_code != self.facility.code:
            raise Refused(f"ticket belongs to facility {ref.facility_code}, not {self.facility.code}")
        stmt = _SESSION_BY_TICKET_LOCKED if conn.dialect.name == "postgresql" else _SESSION_BY_TICKET
        row = conn.execute(stmt, {"fid": self.facility.id, "ticket_no": ref.ticket_no}).first()
        if row is None:
            raise NotFound(f"no session for ticket {format_ticket_no(ref.ticket_no)}")
        return row

    @staticmethod
    def _view(row) -> SessionView:
        return SessionView(
            session_id=row.id,
            ticket_no=format_ticket_no(row.ticket_no),
            code=row.code,
            plate=row.plate,
            vehicle_class=row.vehicle_class,
            spot_label=row.spot_label,
            spot_type=row.spot_type,
            level_name=row.level_name,
            entry_at=row.entry_at,
            entry_lane=row.entry_lane,
            status=row.status,
            exit_at=row.exit_at,
            amount_due=row.amount_due,
            amount_paid=row.amount_paid,
        )

    def _closed_message(self, row) -> str:
        when = self.local(row.exit_at).strftime("%d %b %H:%M") if row.exit_at else "earlier"
        return f"ticket {format_ticket_no(row.ticket_no)} has already exited ({when})"

    def lookup(self, code: str) -> SessionView:
        """The session a scanned or typed code names. Raises TicketInvalid/NotFound/Refused."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            return self._view(self._session_row(conn, code))

    def ticket(self, ticket_no: int | str) -> EntryResult:
        """The ticket of session ``ticket_no`` (digits, e.g. ``"00000042"``), for a reprint.

        Raises :class:`InputError` for a malformed number, :class:`NotFound` if none.
        """
        try:
            number = int(str(ticket_no).strip())
        except ValueError:
            raise InputError(f"not a ticket number: {ticket_no!r}") from None
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = conn.execute(
                select(PS, S.c.label.label("spot_label"), L.c.code.label("level_code"), L.c.name.label("level_name"))
                .join(S, S.c.id == PS.c.spot_id)
                .join(L, L.c.id == S.c.level_id)
                .where(PS.c.facility_id == self.facility.id, PS.c.ticket_no == number)
            ).first()
            if row is None:
                raise NotFound(f"no ticket {format_ticket_no(number)}")
            plan = self._plan(conn, row.rate_plan_version_id)
        return EntryResult(
            session_id=row.id,
            ticket_no=format_ticket_no(row.ticket_no),
            code=row.code,
            plate=row.plate,
            vehicle_class=row.vehicle_class,
            spot_label=row.spot_label,
            spot_type=row.spot_type,
            level_code=row.level_code,
            level_name=row.level_name,
            entry_at=row.entry_at,
            lane=row.entry_lane,
            rate_summary=plan.describe(),
        )

    def find_by_plate(self, plate: str) -> SessionView:
        """The open session of ``plate`` (lost ticket, ticketless entry, LPR at the exit).

        Tolerates plate-reader confusions (O/0, I/1, B/8, 2/Z, 5/S...;
        :mod:`attendant.core.plate_match`): an exact plate wins, else the one
        vehicle inside whose plate matches up to those confusions. Raises
        :class:`NotFound` if none is inside, :class:`InputError` naming the
        candidates if several match.
        """
        norm = normalize_plate(plate)
        base = (
            select(PS, S.c.label.label("spot_label"), L.c.name.label("level_name"))
            .join(S, S.c.id == PS.c.spot_id)
            .join(L, L.c.id == S.c.level_id)
            .where(PS.c.facility_id == self.facility.id, PS.c.status == "open")
        )
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = conn.execute(base.where(PS.c.plate == norm)).first()
            if row is None:
                key = canonical_form(norm)
                rows = [r for r in conn.execute(base.where(PS.c.plate.is_not(None))) if canonical_form(r.plate) == key]
                if len(rows) > 1:
                    names = ", ".join(sorted(r.plate for r in rows))
                    raise InputError(f"{norm} could be any of {names}: check the plate")
                row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"{norm} is not inside")
        return self._view(row)

    def exit_code_for(self, text: str) -> tuple[str, str]:
        """The signed code of the open session an attendant typed at the exit, and how it was found.

        ``text`` is a ticket code (returned as typed: the checkout verifies
        it), a ticket number as printed under the barcode (``"42"`` or
        ``"00000042"``), or a plate (confusions tolerated as in
        :meth:`find_by_plate`). Returns ``(code, how)`` with ``how`` one of
        ``"code"``, ``"ticket number"``, ``"plate"``. The attended booth may
        look a ticket up by its number or plate (the ticket is in the
        attendant's hand, or the driver lost it: use the lost-ticket fee);
        the fee is always the session's own. Raises :class:`InputError` for
        empty text or an ambiguous plate, :class:`NotFound` when no open
        session matches, :class:`Refused` for a ticket number that has exited.
        """
        typed = (text or "").strip()
        if not typed:
            raise InputError("scan or type a ticket code, ticket number or plate")
        if "-" in typed and len(typed) >= 20:  # the shape of a code: FAC-00000042-SIGNATURE
            return typed, "code"
        if typed.isdigit() and len(typed) <= 8:
            with self.engine.connect().execution_options(readonly=True) as conn:
                row = conn.execute(
                    select(PS.c.code, PS.c.status).where(
                        PS.c.facility_id == self.facility.id, PS.c.ticket_no == int(typed)
                    )
                ).first()
            if row is not None:
                if row.status != "open":
                    raise Refused(f"ticket {format_ticket_no(int(typed))} has already exited")
                return row.code, "ticket number"
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

    def plate_candidates(self, plate: str, *, max_distance: int = 1) -> list[tuple[SessionView, float]]:
        """Open sessions whose plate is near ``plate``, best first, with a score 0..1.

        For an attendant confirming a low-confidence read: confusable
        characters cost little, one wrong/missing character more.
        """
        norm = normalize_plate(plate)
        sessions = {s.plate: s for s in self.open_sessions() if s.plate}
        return [(sessions[p], score) for p, score in best_matches(norm, sessions, max_distance=max_distance)]

    # ------------------------------------------------------------- live views
    def refresh(self) -> bool:
        """Reload the bay index if another process changed it; True if it did."""
        with self._lock, self.engine.connect().execution_options(readonly=True) as conn:
            revision = self._revision(conn)
            if revision == self._cache.revision:
                return False
            self._load(conn, revision)
            return True

    def spot_statuses(self) -> dict[int, SpotStatus]:
        """Status of every bay by spot id (from the index, kept current)."""
        with self._lock:
            return {spot_id: spot.status for spot_id, spot in self._cache.index.spots.items()}

    def availability(self) -> list[LevelAvailability]:
        """Available and total bays per level and spot type."""
        with self._lock:
            index = self._cache.index
            result = []
            for level_id, (code, name) in self._cache.levels.items():
                by_type: dict[str, tuple[int, int]] = {}
                for (lvl, typ, status), n in index.counts.items():
                    if lvl != level_id or n == 0:
                        continue
                    avail, total = by_type.get(typ.value, (0, 0))
                    by_type[typ.value] = (avail + (n if status is SpotStatus.AVAILABLE else 0), total + n)
                capacity = sum(t for _a, t in by_type.values())
                available = sum(a for a, _t in by_type.values())
                result.append(LevelAvailability(level_id, code, name, capacity, available, dict(sorted(by_type.items()))))
            return result

    def level_maps(self) -> list[LevelMap]:
        """Drawings and bay positions of every level, in order."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            levels = conn.execute(
                select(L.c.id, L.c.code, L.c.name, L.c.map).where(L.c.facility_id == self.facility.id).order_by(L.c.ordinal)
            ).all()
            spots = conn.execute(
                select(S.c.id, S.c.label, S.c.row, S.c.col, S.c.spot_type, S.c.level_id).where(
                    S.c.facility_id == self.facility.id
                )
            ).all()
        by_level: dict[int, list[SpotCell]] = {}
        for s in spots:
            by_level.setdefault(s.level_id, []).append(SpotCell(s.id, s.label, s.row, s.col, s.spot_type))
        return [
            LevelMap(lvl.id, lvl.code, lvl.name, tuple(lvl.map.split("\n")), tuple(by_level.get(lvl.id, ())))
            for lvl in levels
        ]

    def open_sessions(self, limit: int = 10_000) -> list[SessionView]:
        """Open sessions, oldest entry first."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(
                select(PS, S.c.label.label("spot_label"), L.c.name.label("level_name"))
                .join(S, S.c.id == PS.c.spot_id)
                .join(L, L.c.id == S.c.level_id)
                .where(PS.c.facility_id == self.facility.id, PS.c.status == "open")
                .order_by(PS.c.entry_at)
                .limit(limit)
            ).all()
        return [self._view(r) for r in rows]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """UTC instants of the start and end of facility-local ``day`` (DST-aware)."""
        start = datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def revenue(self, day: date | None = None) -> int:
        """Payments taken on facility-local ``day`` (default today), net of refunds, minor units."""
        day = day or self.local(self.clock()).date()
        start, end = self.day_bounds(day)
        with self.engine.connect().execution_options(readonly=True) as conn:
            return conn.execute(
                select(func.coalesce(func.sum(PAY.c.amount), 0)).where(
                    and_(
                        PAY.c.facility_id == self.facility.id,
                        PAY.c.status.in_((PaymentStatus.COMPLETED.value, PaymentStatus.REFUNDED.value)),
                        PAY.c.created_at >= start,
                        PAY.c.created_at < end,
                    )
                )
            ).scalar_one()

    def occupancy(self) -> tuple[int, int]:
        """(occupied bays, capacity)."""
        with self._lock:
            index = self._cache.index
            occupied = sum(1 for s in index.spots.values() if s.status is SpotStatus.OCCUPIED)
            return occupied, len(index.spots)

    def set_spot_in_service(self, label: str, in_service: bool, *, actor: Actor | str, reason: str | None = None,
                            at: datetime | None = None) -> SpotStatus:
        """Take a bay out of service (``in_service=False``: cones, a spill, a repair) or put it back.

        Supervisors only (BRIEF feature 8). Out of service needs a reason and a
        free bay (an occupied or reserved one is refused: move the vehicle
        first); back in service needs a bay that is out. The bay is then never
        allocated, is not counted as available, and every booth sees it (the
        facility revision moves). One transaction with an audit event
        (``spot.out_of_service`` / ``spot.in_service``). Returns the new
        status. Raises :class:`PermissionDenied`, :class:`InputError` (no such
        bay, no reason), :class:`Refused`.
        """
        who = require(actor, Role.SUPERVISOR, "taking a bay out of or into service").name
        if not in_service and not (reason and reason.strip()):
            raise InputError("taking a bay out of service needs a reason")
        at = self._check_at(at)
        now = utcnow()
        want, need = (
            (SpotStatus.AVAILABLE, SpotStatus.OUT_OF_SERVICE) if in_service
            else (SpotStatus.OUT_OF_SERVICE, SpotStatus.AVAILABLE)
        )
        with self._lock:
            with self.engine.begin() as conn:
                self._bump(conn, ticket=False)
                spot = self._cache.index.spot_by_label(label)
                current = conn.execute(select(S.c.status).where(S.c.id == spot.id)).scalar_one()
                if current != need.value:
                    if in_service:
                        raise Refused(f"bay {spot.label} is {current.replace('_', ' ')}, not out of service")
                    raise Refused(f"bay {spot.label} is {current.replace('_', ' ')}: only a free bay can be taken "
                                  "out of service (move the vehicle first)")
                conn.execute(update(S).where(S.c.id == spot.id).values(status=want.value))
                self._audit(conn, now=now, at=at, actor=who,
                            action="spot.in_service" if in_service else "spot.out_of_service", entity="spot",
                            entity_id=spot.id, details={"spot": spot.label, "reason": (reason or "").strip() or None})
            self._cache.index.set_status(spot.id, want)
            self._cache.revision += 1
        self._notify(spot.id, want)
        return want

    def set_strategy(self, strategy: str | Strategy, *, actor: Actor | str) -> None:
        """Switch the allocation strategy for every booth of this facility (audited; supervisors)."""
        actor = require(actor, Role.SUPERVISOR, "changing the allocation strategy").name
        try:
            chosen = Strategy(str(strategy))
        except ValueError:
            raise InputError(f"unknown strategy {strategy!r} (one of: {', '.join(Strategy)})") from None
        now = utcnow()
        with self._lock, self.engine.begin() as conn:
            self._bump(conn, ticket=False)
            conn.execute(update(F).where(F.c.id == self.facility.id).values(allocation_strategy=chosen.value))
            self._audit(conn, now=now, at=now, actor=actor, action="allocation.strategy", entity="facility",
                        entity_id=self.facility.id, details={"strategy": chosen.value})
            self._cache.index.strategy = chosen
            self._cache.revision += 1
