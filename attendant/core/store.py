"""One facility's rows, and the in-memory bay index kept in step with them.

:class:`FacilityStore` is the base of the booth services
(:class:`attendant.core.checkout.CheckoutOps`,
:class:`attendant.core.services.ParkingService`): the engine, the facility,
its time zone and clock, the ticket signer, the bay index and rate plans
cached in memory, and the few statements every operation shares (the
facility bump that orders writers, the session-with-its-bay lookup, the audit
event and the gate opening).

It also answers the live views of the car park (occupancy, availability by
level and type, the level drawings, today's revenue): a command that only
reads them (``attendant status``) opens a store, not the whole services.

Concurrency, so that adding booths never makes the site slower: nothing
every booth writes sits on one row. A bay is claimed by the database in one
statement (:meth:`FacilityStore._claim`: the first free fitting bay in the
strategy's order, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two booths never
wait for, or take, the same bay; SQLite has one writer), over partial indexes
of the free bays (migration 0010_bay_claims). Ticket numbers come from a block
each booth reserves :data:`TICKET_BLOCK` at a time in a short transaction of
its own (:meth:`FacilityStore._ticket_no`): unique, printable, increasing per
booth, with gaps when a booth stops with numbers left. The in-memory
:class:`SpotIndex` only serves reads (availability, the map); this process's
writes keep it current, and other booths' changes arrive as small deltas
(:meth:`FacilityStore.apply_changes`, from :mod:`attendant.core.changes`),
never as a reload.

Writes go through SQLAlchemy Core on the SQLModel tables: the ORM's unit of
work costs several times more per transaction, and these are the booth's hot
paths. Hot statements are built once: building a Core statement per call
costs more than executing it; executed with parameter dicts they compile once.
An entry, a cash exit and a card exit run the same statements and
transactions as a careful hand-written booth on raw ``sqlite3``
(``benchmarks/bench_lanes.py``); what is left between the two is SQLAlchemy's
execution layer, about 20 µs a statement against 3 µs for the bare driver.
That library stays (the project uses well-kept libraries even where they are
slower): it is what runs the same code on SQLite and PostgreSQL.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError

from attendant.core import audit, changes
from attendant.core.allocation import SpotIndex, Strategy, allowed_spot_types
from attendant.core.auth import Actor, Role, as_actor, authorize
from attendant.core.clock import utc_now
from attendant.core.errors import (
    InputError,
    NoSpaceAvailable,
    NotFound,
    Refused,
    TicketInvalid,
)
from attendant.core.facilities import FacilityInfo, get_facility
from attendant.core.payments import ProcessorRegistry
from attendant.core.personal_data import PersonalData, site_data
from attendant.core.rates import RatePlan
from attendant.core.tickets import TicketSigner, format_ticket_no
from attendant.core.views import (
    COUNTED,
    LevelAvailability,
    LevelMap,
    SessionView,
    SpotCell,
)
from attendant.core.vocab import GateOutcome, SpotStatus, VendSource
from db.engine import connection_lost
from db.models import (
    Facility,
    Iou,
    Level,
    ParkingSession,
    PassHolder,
    Payment,
    RatePlanVersion,
    Spot,
    Validation,
    ValidationUse,
    Vehicle,
    Vend,
)

F, L, S, RPV, V, PS, PAY, VEND, IOU, VAL, VUSE, PASS = (
    t.__table__
    for t in (Facility, Level, Spot, RatePlanVersion, Vehicle, ParkingSession, Payment, Vend, Iou, Validation,
              ValidationUse, PassHolder)
)

#: ``parking_session.status = 'open'`` with the value written in the SQL, not bound: only then can the
#: database use the partial unique indexes on open sessions (by bay, by plate), whose WHERE is that
#: literal (SQLite proves a partial index usable from the query's own terms).
SESSION_IS_OPEN = PS.c.status == literal_column("'open'")

TICKET_BLOCK = 20
"""The most ticket numbers a booth reserves at a time (one short transaction per block, not a hot row per
entry). A process starts with a block of one and doubles it with each block, so a CLI run that admits one
vehicle leaves no gap and a busy booth soon touches the facility row once per 20 entries."""

_RESERVE_TICKETS = (
    update(F).where(F.c.id == bindparam("fid")).values(next_ticket_no=F.c.next_ticket_no + bindparam("n"))
    .returning(F.c.next_ticket_no)
)
FREE = literal_column("'available'")  # written in the SQL: the free-bay partial indexes' own WHERE
_CLAIMS: dict[tuple, object] = {}
_SPREAD_CLAIMS: dict[tuple, object] = {}


def spread_claim_statement(types: tuple, postgresql: bool):
    """:func:`claim_statement` for the spread-across-levels strategy: the first free bay of ``types``, nearest
    the entrance, on the level with the most free bays of ``types`` (ties: the lower level id), in one
    statement."""
    key = (types, postgresql)
    stmt = _SPREAD_CLAIMS.get(key)
    if stmt is None:
        values = [t.value for t in types]
        level = (select(S.c.level_id).where(S.c.facility_id == bindparam("fid"), S.c.status == FREE,
                                            S.c.spot_type.in_(values))
                 .group_by(S.c.level_id).order_by(func.count().desc(), S.c.level_id).limit(1))
        first = select(S.c.id).where(S.c.facility_id == bindparam("fid"), S.c.status == FREE,
                                     S.c.spot_type.in_(values), S.c.level_id == level.scalar_subquery())
        first = first.order_by(S.c.rank, S.c.id).limit(1)
        if postgresql:
            first = first.with_for_update(skip_locked=True)
        stmt = _SPREAD_CLAIMS[key] = (
            update(S).where(S.c.id == first.scalar_subquery()).values(status=SpotStatus.OCCUPIED.value)
            .returning(S.c.id, S.c.label, S.c.spot_type, S.c.level_id)
        )
    return stmt


def claim_statement(types: tuple, postgresql: bool):
    """``UPDATE spot SET status = 'occupied' WHERE id = (the first free bay of ``types`` of facility
    :fid, nearest the entrance first) RETURNING id, label, spot_type, level_id``, built once per shape.

    ``types`` are :class:`~attendant.core.vocab.SpotType` values; on PostgreSQL
    the chosen row is locked ``FOR UPDATE SKIP LOCKED``, so concurrent booths
    each get a different bay without waiting for one another.
    """
    key = (types, postgresql)
    stmt = _CLAIMS.get(key)
    if stmt is None:
        first = select(S.c.id).where(S.c.facility_id == bindparam("fid"), S.c.status == FREE,
                                     S.c.spot_type.in_([t.value for t in types]))
        first = first.order_by(S.c.rank, S.c.id).limit(1)
        if postgresql:
            first = first.with_for_update(skip_locked=True)
        stmt = _CLAIMS[key] = (
            update(S).where(S.c.id == first.scalar_subquery()).values(status=SpotStatus.OCCUPIED.value)
            .returning(S.c.id, S.c.label, S.c.spot_type, S.c.level_id)
        )
    return stmt
# The facility's window of accepted times and its oldest open entry (attendant/core/time_bounds.py).
_WINDOW = select(
    F.c.at_before_s, F.c.at_ahead_s, F.c.at_widen_s, F.c.at_replay,
    select(func.min(PS.c.entry_at)).where(PS.c.facility_id == bindparam("fid"), SESSION_IS_OPEN)
    .scalar_subquery().label("oldest"),
).where(F.c.id == bindparam("fid"))
_INSERT_VEND = insert(VEND).returning(VEND.c.id)
_VEND_FAULT = update(VEND).where(VEND.c.id == bindparam("vid")).values(
    outcome=GateOutcome.FAULT.value, message=bindparam("message"))


def sessions_with_bay(*columns):
    """``SELECT parking_session.*, spot_label, spot_zone, level_code, level_name (+ columns)`` joined to its bay
    and level.

    The one join of a session to where it parked; callers add their WHERE.
    ``spot_zone`` is the bay's zone (layout row letter or named zone), a tariff condition.
    """
    return (
        select(PS, S.c.label.label("spot_label"), S.c.zone.label("spot_zone"), L.c.code.label("level_code"),
               L.c.name.label("level_name"), *columns)
        .join(S, S.c.id == PS.c.spot_id)
        .join(L, L.c.id == S.c.level_id)
    )


_SESSION_BY_TICKET = sessions_with_bay().where(PS.c.facility_id == bindparam("fid"),
                                               PS.c.ticket_no == bindparam("ticket_no"))
_SESSION_BY_TICKET_LOCKED = _SESSION_BY_TICKET.with_for_update(of=PS)


def _payment_flags(session_id):
    """``any_payments`` and ``any_concessions`` of the session ``session_id`` (a column or a parameter)."""
    from db.models import SessionConcession

    SC = SessionConcession.__table__
    return (select(PAY.c.id).where(PAY.c.session_id == session_id).exists().label("any_payments"),
            select(SC.c.id).where(SC.c.session_id == session_id).exists().label("any_concessions"))


@functools.cache
def _exit_read(locked: bool):
    """:data:`_SESSION_BY_TICKET` with what an exit needs besides (one read instead of four): whether the
    session has payments and concessions (``any_payments``, ``any_concessions``; SQLite only, see below), and
    its plate's live list entry at ``:at``.

    ``locked`` (PostgreSQL) leaves the two flags out. A ``FOR UPDATE`` read that waits for another lane's lock
    returns the session row as that lane committed it, but its sub-selects see the statement's snapshot,
    taken before the wait: a card payment the other lane committed while this read waited would be missed,
    and the card charged twice (``tests/test_one_charge.py`` caught exactly that: 17 charges for 16 exits).
    So on PostgreSQL the two flags are read by a statement of their own after the lock
    (:func:`_exit_flags`; READ COMMITTED: each statement sees what committed before it). SQLite's writer
    holds ``BEGIN IMMEDIATE`` before this read, so nothing can commit in between."""
    # plate_lists imports this module
    from attendant.core.plate_lists import listed_id_of

    flags = () if locked else _payment_flags(PS.c.id)
    # the plate's list entry may be as of the read's snapshot: list edits do not take the session's lock
    stmt = sessions_with_bay(
        *flags,
        listed_id_of(PS.c.plate_hash, PS.c.plate_fold).label("listed_id"),
        type_coerce(bindparam("at"), PS.c.entry_at.type).label("listed_at"),
    ).where(PS.c.facility_id == bindparam("fid"), PS.c.ticket_no == bindparam("ticket_no"))
    return stmt.with_for_update(of=PS) if locked else stmt


@functools.cache
def _exit_flags():
    """``SELECT any_payments, any_concessions`` of session ``:sid`` (the flags :func:`_exit_read` leaves out on
    PostgreSQL), one statement run after the session's lock."""
    return select(*_payment_flags(bindparam("sid")))


class _LockedExitRow:
    """A session row read under its lock (PostgreSQL) with ``any_payments`` and ``any_concessions`` read after
    that lock (:func:`_exit_read` says why); every other attribute is the row's."""

    __slots__ = ("_row", "any_concessions", "any_payments")

    def __init__(self, row, any_payments: bool, any_concessions: bool) -> None:
        self._row, self.any_payments, self.any_concessions = row, any_payments, any_concessions

    def __getattr__(self, name: str):
        return getattr(self._row, name)


@dataclass(slots=True)
class _Cache:
    index: SpotIndex | None = None
    levels: dict[int, tuple[str, str]] = field(default_factory=dict)
    plans: dict[int, RatePlan] = field(default_factory=dict)
    summaries: dict[int, str] = field(default_factory=dict)  # plan id -> the one line printed on tickets
    active_plan_id: int | None = None


class FacilityStore:
    """The state every booth service of one facility shares (see the module docstring).

    ``clock`` returns the current aware UTC time (tests pass a fixed clock).
    ``data`` seals and indexes personal data (default: this booth's key file,
    :func:`attendant.core.personal_data.site_data`; raises
    :class:`attendant.keyfiles.SecretMissing` when there is none).
    ``listeners`` get ``(spot_id, SpotStatus)`` after each committed bay
    change, so a console can repaint one bay; they run on the caller's thread.
    Calls are serialised per instance (``_lock``).
    """

    def __init__(
        self,
        engine: Engine,
        signer: TicketSigner,
        *,
        facility_code: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        processors: ProcessorRegistry | None = None,
        data: PersonalData | None = None,
    ) -> None:
        self.engine = engine
        # plates and names sealed, blind indexes, ticket-code hashes (keys outside the database)
        self.data = data or site_data()
        self._processors, self._own_processors = processors, processors is None
        self.signer = signer
        self.clock = clock
        self.facility: FacilityInfo = get_facility(engine, facility_code)
        self.tz = ZoneInfo(self.facility.timezone)
        self._cache = _Cache()
        self._lock = threading.RLock()
        self._conn = None  # the connection writes run on (_writing)
        self.listeners: list[Callable[[int, SpotStatus], None]] = []
        self._tickets: collections.deque[int] = collections.deque()  # this booth's reserved ticket numbers
        self._block = 1  # the next reservation's size (doubles up to TICKET_BLOCK)
        with self._reading() as conn:
            self._load(conn)

    # ------------------------------------------------------------ connections
    def _reading(self):
        """A read-only connection (SQLite: a deferred transaction that takes no write lock)."""
        return self.engine.connect().execution_options(readonly=True)

    @contextmanager
    def _writing(self):
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``), committed on leaving the block.

        Writes run on this service's own connection, one at a time (``_lock``):
        checking a connection out of the pool and resetting it on return would
        cost more than a small transaction's statements. A connection that
        fails is dropped and the next write opens a new one (a database back
        after an outage).
        """
        with self._lock:
            conn = self._conn
            if conn is not None and not conn.closed and not conn.invalidated and connection_lost(conn):
                conn.invalidate()  # the server closed it meanwhile (restart, failover): this write takes a new one
            if conn is None or conn.closed or conn.invalidated:
                conn = self._conn = self.engine.connect()
            try:
                with conn.begin():
                    yield conn
            except DBAPIError:
                self._drop_connection()
                raise
        changes.ring(self.engine)  # other consoles look at the change log now (PostgreSQL; after the commit)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: nothing more to release
                pass

    @property
    def processors(self) -> ProcessorRegistry:
        """The payment processors: the registry given, or stand-ins made on first use (a reading command never
        opens their ledger) and closed with this service."""
        if self._processors is None:
            self._processors = ProcessorRegistry()
        return self._processors

    @processors.setter
    def processors(self, registry: ProcessorRegistry) -> None:
        self._processors, self._own_processors = registry, False

    def close(self) -> None:
        """Release this service's connection (the engine and its pool stay) and the processors it made."""
        with self._lock:
            self._drop_connection()
            if self._own_processors and self._processors is not None:
                self._processors.close()
                self._processors = None

    # ------------------------------------------------------------ bay index
    def _load(self, conn) -> None:
        fid = self.facility.id
        rows = conn.execute(
            select(S.c.id, S.c.label, S.c.spot_type, S.c.level_id, S.c.rank, S.c.status).where(S.c.facility_id == fid)
        ).all()
        strategy = conn.execute(select(F.c.allocation_strategy).where(F.c.id == fid)).scalar_one()
        cache = self._cache
        cache.index = SpotIndex(rows, Strategy(strategy))
        cache.levels = {
            r.id: (r.code, r.name)
            for r in conn.execute(select(L.c.id, L.c.code, L.c.name).where(L.c.facility_id == fid).order_by(L.c.ordinal))
        }
        cache.active_plan_id = conn.execute(
            select(RPV.c.id).where(RPV.c.facility_id == fid, RPV.c.active.is_(True))
        ).scalar()

    def _ticket_no(self) -> int | None:
        """The next ticket number of this booth's block, reserving a new block when it is used up.

        A reservation is its own short transaction (committed before any
        entry uses a number), so no entry waits on another booth's. Call it
        before the entry's transaction; :meth:`_unused_ticket_no` gives a
        number back when the entry is refused. None for a process's first
        entry: that one takes its number inside its own transaction
        (:meth:`_ticket_no_in`), so a one-entry CLI run that is refused
        leaves no gap.
        """
        with self._lock:
            if not self._tickets:
                n = self._block
                if n == 1:
                    return None
                with self._writing() as conn:
                    last = conn.execute(_RESERVE_TICKETS, {"fid": self.facility.id, "n": n}).scalar_one()
                self._tickets.extend(range(last - n + 1, last + 1))
                self._block = min(2 * n, TICKET_BLOCK)
            return self._tickets.popleft()

    def _ticket_no_in(self, conn) -> int:
        """One ticket number taken inside ``conn``'s transaction (rolled back with it)."""
        self._block = 2
        return conn.execute(_RESERVE_TICKETS, {"fid": self.facility.id, "n": 1}).scalar_one()

    def _unused_ticket_no(self, ticket_no: int | None) -> None:
        """Give back a number an entry did not use: the next entry takes it (no gap)."""
        if ticket_no is None:
            return
        with self._lock:
            self._tickets.appendleft(ticket_no)

    def _claim(self, conn, vehicle_class, *, ev: bool, accessible: bool, skip: frozenset = frozenset()):
        """Claim the bay a vehicle gets, in the database, inside ``conn``'s transaction.

        Tiers and strategies as :func:`attendant.core.allocation.allowed_spot_types`
        and :class:`Strategy` say: nearest tries each tier's bay types together
        in rank order; best fit tries them one type after another; spread tries
        them together on the level with the most free bays of the tier. Returns the
        row ``(id, label, spot_type, level_id)``; raises
        :class:`~attendant.core.errors.NoSpaceAvailable`. ``skip``: bay types
        (values) not to take (their free bays are kept for reservations).
        """
        postgresql = conn.dialect.name == "postgresql"
        strategy = self._cache.index.strategy
        nearest = strategy is not Strategy.BEST_FIT
        build = spread_claim_statement if strategy is Strategy.SPREAD else claim_statement
        for tier in allowed_spot_types(vehicle_class, ev=ev, accessible=accessible):
            if skip:
                tier = tuple(t for t in tier if t.value not in skip)
                if not tier:
                    continue
            for types in ((tier,) if nearest else tuple((t,) for t in tier)):
                row = conn.execute(build(types, postgresql), {"fid": self.facility.id}).first()
                if row is not None:
                    return row
        kept = " (the free bays left are kept for reservations arriving soon)" if skip else ""
        raise NoSpaceAvailable(f"no free bay for a {vehicle_class.value}: the car park is full for that class{kept}")

    def _set_spot(self, spot_id: int, status: SpotStatus) -> None:
        """After a commit: the bay index and the listeners."""
        self._cache.index.set_status(spot_id, status)
        self._notify(spot_id, status)

    def _notify(self, spot_id: int, status: SpotStatus) -> None:
        for listener in list(self.listeners):
            listener(spot_id, status)

    def apply_changes(self, changes) -> list[tuple[int, SpotStatus]]:
        """Bring the bay index up to date with changes other processes committed
        (:class:`attendant.core.changes.Change`, in log order); returns the ``(spot id, status)`` of
        each bay change applied, for the caller to repaint."""
        applied = []
        with self._lock:
            index = self._cache.index
            for change in changes:
                if change.kind == "spot" and change.facility_id == self.facility.id:
                    status = SpotStatus(change.body["status"])
                    spot_id = change.body["spot_id"]
                    if spot_id in index.spots:
                        index.set_status(spot_id, status)
                        applied.append((spot_id, status))
        return applied

    # ------------------------------------------------------------ live views (what status reads)
    def refresh(self) -> None:
        """Reload the bay index (and strategy, levels, active plan) as the database has them now: at start,
        and after a lost change feed (other booths' changes otherwise arrive as deltas)."""
        with self._lock, self._reading() as conn:
            self._load(conn)

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
        with self._reading() as conn:
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

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """UTC instants of the start and end of facility-local ``day`` (DST-aware)."""
        start = datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def revenue(self, day: date | None = None) -> int:
        """Payments taken on facility-local ``day`` (default today), net of refunds, minor units."""
        day = day or self.local(self.clock()).date()
        start, end = self.day_bounds(day)
        with self._reading() as conn:
            return conn.execute(
                select(func.coalesce(func.sum(PAY.c.amount), 0)).where(
                    and_(
                        PAY.c.facility_id == self.facility.id,
                        PAY.c.status.in_(COUNTED),
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

    # ------------------------------------------------------------ rate plans
    def _plan(self, conn, plan_id: int | None) -> RatePlan:
        if plan_id is None:
            raise NotFound("this facility has no active rate plan: activate one with `attendant rates activate`")
        plan = self._cache.plans.get(plan_id)
        if plan is None:
            body = conn.execute(select(RPV.c.body).where(RPV.c.id == plan_id)).scalar_one()
            plan = self._cache.plans[plan_id] = RatePlan.from_dict(body)
        return plan

    def _summary(self, conn, plan_id: int | None) -> str:
        """The rate plan's one-line summary for tickets (:meth:`RatePlan.describe`), computed once per version."""
        summary = self._cache.summaries.get(plan_id)
        if summary is None:
            summary = self._cache.summaries[plan_id] = self._plan(conn, plan_id).describe()
        return summary

    # ------------------------------------------------------------ time
    def _actor(self, actor: Actor | str, role: Role = Role.ATTENDANT, action: str = "this operation") -> Actor:
        """Who may do ``action`` here (:func:`attendant.core.auth.authorize`: the role, and a login once
        users exist). Raises :class:`PermissionDenied` or :class:`LoginRequired`."""
        return authorize(self.engine, actor, role, action)

    def _check_at(self, at: datetime | None, *, actor: Actor | str | None = None,
                  backdate_reason: str | None = None) -> datetime:
        """``at`` in UTC, or the clock's now: the one check of every time a request claims.

        ``at`` must lie in the facility's window (:mod:`attendant.core.time_bounds`:
        from the oldest open session's entry, or now, minus ``at_before_s``, to
        now plus ``at_ahead_s``). ``backdate_reason`` widens the earliest to now
        minus ``at_widen_s``: a supervisor's (or a ``system`` actor's) decision,
        which the caller records in its audit event. Raises :class:`InputError`
        (a naive time, an empty reason),
        :class:`~attendant.core.time_bounds.TimeOutOfWindow`, and
        :class:`PermissionDenied`/:class:`LoginRequired` for a widening by
        someone who may not.

        Back-dating (issue 10 item 6): when ``actor`` is given (a write), a
        time more than the window's ``ahead`` before now is a back-dated
        operation. It needs a supervisor (or the installation's automata,
        ``system`` actors) and a reason (``backdate_reason``, recorded by the
        operation as ``exception.backdate``), unless the facility replays
        history (``facility.at_replay``, ``attendant time-window --replay``):
        an attendant's back-dated entry or exit is refused with
        :class:`PermissionDenied`, a supervisor's without a reason with
        :class:`InputError`, and nothing is written.
        """
        if at is None:
            return self.clock()
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise InputError("a time without a zone is ambiguous: give an offset, e.g. 2026-11-21T09:30:00+00:00")
        widened = backdate_reason is not None
        if widened:
            if not backdate_reason.strip():
                raise InputError("back-dating beyond the window needs a reason")
            who = actor if actor is not None else "anonymous"
            if not (isinstance(who, Actor) and who.system):
                self._actor(who, Role.SUPERVISOR, "back-dating an operation (with a reason)")
        from attendant.core import time_bounds

        with self._reading() as conn:
            row = conn.execute(_WINDOW, {"fid": self.facility.id}).one()
        window = time_bounds.TimeWindow.from_seconds(row.at_before_s, row.at_ahead_s, row.at_widen_s)
        now = self.clock()
        earliest, latest = time_bounds.bounds(now, row.oldest, window, widened=widened)
        at = time_bounds.check(at, earliest, latest, self.tz, widened=widened)
        if actor is not None and not row.at_replay and at < now - window.ahead:
            who = as_actor(actor)
            if not who.system:
                late = now - at
                hours, minutes = divmod(int(late.total_seconds() // 60), 60)
                said = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
                self._actor(who, Role.SUPERVISOR, f"back-dating an operation ({said} before now)")
                if not widened:
                    raise InputError(f"back-dating an operation ({said} before now) needs a reason: "
                                     "--reason CODE (or 'CODE: text')")
        return at

    def local(self, at: datetime) -> datetime:
        """``at`` in facility time."""
        return at.astimezone(self.tz)

    # ------------------------------------------------------------ sessions
    def _session_row(self, conn, code: str, *, at: datetime | None = None):
        """The session (with its bay and level) a signed ticket ``code`` names; row-locked on PostgreSQL.
        With ``at``: also ``listed_id`` (the plate's live list entry at ``at``,
        :func:`attendant.core.plate_lists.listed_id_of`), ``listed_at`` (``at``), ``any_payments`` and
        ``any_concessions``: in the same read on SQLite, by a second statement after the lock on PostgreSQL
        (:func:`_exit_read` says why).

        :raises TicketInvalid: a forged or malformed code. :raises Refused: another
            facility's ticket. :raises NotFound: no such session.
        """
        ref = self.signer.verify(code)
        if ref.facility_code != self.facility.code:
            raise Refused(f"ticket belongs to facility {ref.facility_code}, not {self.facility.code}")
        locked = conn.dialect.name == "postgresql"
        params = {"fid": self.facility.id, "ticket_no": ref.ticket_no}
        if at is None:
            stmt = _SESSION_BY_TICKET_LOCKED if locked else _SESSION_BY_TICKET
        else:
            stmt = _exit_read(locked)
            params["at"] = at
        row = conn.execute(stmt, params).first()
        if row is None:
            raise NotFound(f"no session for ticket {format_ticket_no(ref.ticket_no)}")
        if self.data.code_hash(code) != row.code:  # the stored hash of the code issued (personal_data.py)
            raise TicketInvalid(f"ticket code {code.strip()[:22]}… was not issued for ticket "
                                f"{format_ticket_no(ref.ticket_no)}")
        if at is not None and locked:  # the flags, as committed before the lock was granted (_exit_read)
            found = conn.execute(_exit_flags(), {"sid": row.id}).one()
            return _LockedExitRow(row, bool(found.any_payments), bool(found.any_concessions))
        return row

    def _code_of(self, ticket_no: int, stored: str) -> str | None:
        """The code issued for ``ticket_no``, found from its stored hash by signing it again under each
        ticket key (current first); None when its key is no longer installed."""
        for code in self.signer.codes_for(self.facility.code, ticket_no):
            if self.data.code_hash(code) == stored:
                return code
        return None

    def _view(self, row) -> SessionView:
        return SessionView(
            session_id=row.id,
            ticket_no=format_ticket_no(row.ticket_no),
            code=self._code_of(row.ticket_no, row.code),
            plate=self.data.open(row.plate),
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

    # ------------------------------------------------------------ audit, vends
    def _audit(self, conn, *, now, at, actor, action, entity, entity_id, details) -> None:
        audit.record(conn, facility_id=self.facility.id, actor=actor, action=action, entity=entity,
                     entity_id=entity_id, details=details, effective_at=at, now=now)

    def _insert_vend(self, conn, *, lane: str | None, direction: str, source: VendSource, reason: str | None,
                     session_id: int | None, at: datetime, actor: str) -> int:
        """Record a gate opening the booth will command once this transaction commits.

        Written as ``opened`` in the operation's own transaction (the gate is
        never commanded for an operation that is not committed); the booth
        corrects it with :meth:`record_vend_fault` when the gate refuses.
        """
        return conn.execute(_INSERT_VEND, {
            **self._vend_row(lane=lane, direction=direction, source=source, reason=reason, at=at, actor=actor),
            "session_id": session_id,
        }).scalar_one()

    def _vend_row(self, *, lane: str | None, direction: str, source: VendSource, reason: str | None, at: datetime,
                  actor: str) -> dict:
        """The columns of a recorded gate opening but its ``session_id`` (:meth:`_insert_vend`)."""
        return {"facility_id": self.facility.id, "lane": lane, "direction": direction, "source": source.value,
                "reason": reason, "at": at, "actor": actor, "outcome": GateOutcome.OPENED.value}

    def record_gate_test(self, *, lane: str, direction: str, actor: Actor | str) -> int:
        """Record the opening a device test is about to command at ``lane``'s gate; returns the vend id.

        A gate test moves a barrier, so it is a supervisor's action and a vend
        like any other (source ``test``, audited ``gate.test``); the caller marks
        it with :meth:`record_vend_fault` if the gate refuses. Raises
        :class:`~attendant.core.auth.PermissionDenied` or
        :class:`~attendant.core.auth.LoginRequired`.
        """
        who = self._actor(actor, Role.SUPERVISOR, "testing a gate (it opens the barrier)")
        now = utc_now()
        with self._writing() as conn:
            vend_id = self._insert_vend(conn, lane=lane, direction=direction, source=VendSource.TEST,
                                        reason="device test", session_id=None, at=now, actor=who.name)
            self._audit(conn, now=now, at=now, actor=who.name, action="gate.test", entity="vend",
                        entity_id=vend_id, details={"lane": lane})
        return vend_id

    def record_reprint(self, session_id: int, *, lane: str | None, actor: Actor | str, first_copy: bool) -> None:
        """Audit a ticket printed again (``ticket.reprint``): a second paper copy of a live exit credential.

        ``first_copy`` marks a ticket whose first print had failed (queued while the
        printer was down), so the copy is the only one. A reprint needs a logged-in
        attendant once users exist (:class:`~attendant.core.auth.LoginRequired`).
        """
        who = self._actor(actor, Role.ATTENDANT, "reprinting a ticket")
        now = utc_now()
        with self._writing() as conn:
            self._audit(conn, now=now, at=now, actor=who.name, action="ticket.reprint", entity="parking_session",
                        entity_id=session_id, details={"lane": lane, "first_copy": first_copy})

    def record_vend_fault(self, vend_id: int, message: str) -> None:
        """The gate refused the opening recorded as ``vend_id`` (offline, in fault): mark it ``fault``."""
        now = utc_now()
        with self._writing() as conn:
            conn.execute(_VEND_FAULT, {"vid": vend_id, "message": (message or "gate fault")[:200]})
            # the outcome is sealed by the audit chain: its change is an event (0011_audit_chain)
            self._audit(conn, now=now, at=now, actor="booth", action="gate.fault", entity="vend", entity_id=vend_id,
                        details={"message": (message or "gate fault")[:200]})
