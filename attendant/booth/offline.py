"""Lanes that keep working when the central database is away (issue 8, item 4).

:class:`OfflineLanes` sits between the booth (:class:`attendant.booth.Booth`)
and its services: every entry, exit and exit lookup goes to the services
first; when the database cannot be reached
(:func:`attendant.core.journal.database_unreachable`: server stopped, network
cut, connect or statement timeout, lost connection) the same operation is
done from what the booth last knew and recorded in the local journal
(:mod:`attendant.core.journal`), fsynced before the gate opens:

- tickets are signed with the installation secret, numbered from the
  booth's reserve of ticket numbers (reserved in the central database while
  it answered, :data:`attendant.core.journal.RESERVE` at a time, from the
  facility's offline range, 90,000,000 up, so keeping a reserve never
  shifts the numbers issued online and no two booths share one);
- bays come from the bay index as last known (the console's live index, or
  the journal's snapshot for a process that started offline) and the open
  sessions the booth knows; a booth that never saw the facility's bays
  admits by plate and the bay is assigned when the journal is replayed;
- fees come from the rate-plan version the session entered under, cached;
- cash is taken; card payments are stored and forwarded (charged by the
  processor when the journal is replayed, with the same idempotency key)
  only within :class:`OfflineLimits`; other methods, validations and pay
  station payments wait for the database. An IOU (never trap a car) works.

While offline, the services are tried again at most every
:data:`OfflineLanes.RETRY_SECONDS`, so a lane never waits for a connect
timeout at every vehicle. Before the first operation back online the
journal is replayed (:meth:`OfflineLanes.sync`, also run by the console's
worker and ``attendant sync``), so the central database sees the booth's
events in order.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update

from attendant.core.allocation import SpotIndex, Strategy, fits
from attendant.core.auth import Actor, LoginRequired, Role, require
from attendant.core.errors import InputError, NotFound, PaymentError, Refused
from attendant.core.journal import (
    RESERVE,
    RESERVE_LOW,
    DatabaseAway,
    Journal,
    database_unreachable,
)
from attendant.core.money import format_money
from attendant.core.payment_methods import spec as method_spec
from attendant.core.payment_rows import cash_tendered
from attendant.core.plate_match import canonical_form
from attendant.core.plates import normalize_plate
from attendant.core.rates import Fee, FeeLine, RatePlan, compute_fee
from attendant.core.requests import EntryRequest, ExitRequest
from attendant.core.store import FacilityStore
from attendant.core.tickets import format_ticket_no, looks_like_ticket_code
from attendant.core.views import (
    Checkout,
    EntryResult,
    ExitResult,
    LevelMap,
    PaymentView,
    SessionView,
    SpotCell,
)
from attendant.core.vocab import PaymentMethod, SpotStatus, VendSource
from db.models import Facility

log = logging.getLogger(__name__)

OFFLINE_METHODS = (PaymentMethod.CASH, PaymentMethod.CARD)
_F = Facility.__table__
#: Reserve ``n`` offline ticket numbers (the facility's own range for them, 90,000,000 up): returns the last.
_RESERVE_OFFLINE = (
    update(_F).where(_F.c.id == bindparam("fid"))
    .values(next_offline_ticket_no=_F.c.next_offline_ticket_no + bindparam("n"))
    .returning(_F.c.next_offline_ticket_no)
)


@dataclass(frozen=True, slots=True)
class OfflineLimits:
    """How much card money a booth may take while offline (stored, forwarded on reconnect).

    ``card_count`` payments and ``card_total`` minor units in all, counting
    the card payments still waiting in the journal; 0 refuses cards offline.
    Set in the console config's ``[offline]`` table (``card_count``,
    ``card_total_cents``); beyond them a card is refused with a message.
    """

    card_count: int = 10
    card_total: int = 10_000


@dataclass(frozen=True, slots=True)
class OfflineState:
    """What the console shows: ``offline`` (the database cannot be reached), ``waiting`` journal events,
    ``reason`` (why, one line, no SQL)."""

    offline: bool
    waiting: int
    reason: str | None = None

    @property
    def label(self) -> str:
        """``"OFFLINE · 3 waiting"``, ``"3 waiting to sync"`` or ``""``."""
        if self.offline:
            return f"OFFLINE · {self.waiting} waiting"
        return f"{self.waiting} waiting to sync" if self.waiting else ""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _reason(exc: BaseException) -> str:
    """One line saying why the database is away (the driver's message, never the SQL)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return text[:120]


class OfflineLanes:
    """The booth's entries and exits with the journal behind them (see the module docstring).

    ``service``: the booth's :class:`~attendant.core.services.ParkingService`
    (or a :class:`DetachedService` for a process that started offline);
    ``journal``: the booth's :class:`~attendant.core.journal.Journal`;
    ``booth_name``: recorded with each replayed event; ``persist_sessions``:
    write each session this process admits or lets out to the journal (a
    CLI run, whose memory ends with the command).
    """

    RETRY_SECONDS = 10.0
    SNAPSHOT_SECONDS = 60.0
    #: While offline, may a lane's own operation try the database again (every RETRY_SECONDS)? The console
    #: turns this off: its worker (:meth:`tick`) probes instead, so no vehicle waits for a connect timeout.
    inline_retry = True
    #: Called with the new services when a booth that started without the database reaches it (:meth:`tick`).
    on_service = None

    def __init__(self, service, journal: Journal, *, limits: OfflineLimits | None = None,
                 booth_name: str = "booth", persist_sessions: bool = False) -> None:
        self.service = service
        self.journal = journal
        self.limits = limits or OfflineLimits()
        self.booth_name = booth_name[:80]
        self.persist = persist_sessions
        self.code = service.facility.code
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._offline = False
        self.reason: str | None = None
        self._last_try = 0.0
        self._snapshot = journal.snapshot(self.code)
        self._known: dict[int, dict] = journal.sessions(self.code)
        self._waiting = journal.waiting_count(self.code)
        self._pending = self._waiting
        self._reserve = journal.reserve_count(self.code)
        self._plans: dict[int, RatePlan] = {}
        self._last_snapshot = 0.0
        self._recent: set[int] | None = None  # while a snapshot is read: tickets remembered / forgotten since
        self._gone: set[int] | None = None
        if isinstance(service, DetachedService):
            self._went_offline(DatabaseAway(service.reason))

    # ------------------------------------------------------------------ state
    @property
    def offline(self) -> bool:
        """True while the database is considered away."""
        return self._offline

    def state(self) -> OfflineState:
        """Offline or not, and the events waiting (from memory: cheap, any thread)."""
        return OfflineState(self._offline, self._waiting, self.reason)

    def _went_offline(self, exc: BaseException) -> None:
        with self._lock:
            if not self._offline:
                log.warning("database away, lanes continue offline: %s", _reason(exc))
            self._offline = True
            self.reason = _reason(exc)
            self._last_try = time.monotonic()

    def _back_online(self) -> None:
        if self._offline:
            log.warning("database back")
        self._offline = False
        self.reason = None

    def _try_online(self) -> bool:
        if isinstance(self.service, DetachedService):
            return False
        return not self._offline or (self.inline_retry and time.monotonic() - self._last_try >= self.RETRY_SECONDS)

    def _online(self, call):
        """Run ``call()`` on the services (after replaying what waits); (True, result) or (False, None)."""
        if not self._try_online():
            return False, None
        if self._pending:  # the database sees this booth's events in order: what waits goes first
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - a failed replay must never stop the lane: it is logged, retried
                log.exception("journal replay failed; the lane goes on")
            if self._offline:
                return False, None
        try:
            result = call()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._went_offline(exc)
            return False, None
        self._back_online()
        return True, result

    # ------------------------------------------------------------ housekeeping (online)
    def prepare(self, *, force: bool = False) -> None:
        """While the database answers: keep the reserve of ticket numbers and the snapshot current.

        Never raises for an unreachable database (it marks the booth offline).
        """
        if isinstance(self.service, DetachedService):
            return
        try:
            if self._reserve < RESERVE_LOW:
                self._top_up()
            age = self.journal.snapshot_age(self.code)
            if force or age is None or age > self.SNAPSHOT_SECONDS:
                self.take_snapshot()
            else:  # another process of this booth took it lately
                self._last_snapshot = time.monotonic() - age
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._went_offline(exc)

    def _after_online(self) -> None:
        """After an operation the database took: the reserve and the snapshot, when due (cheap otherwise)."""
        if self._reserve < RESERVE_LOW or time.monotonic() - self._last_snapshot > self.SNAPSHOT_SECONDS:
            self.prepare()

    def _top_up(self) -> None:
        n = RESERVE - self._reserve
        service = self.service
        with service._lock, service._writing() as conn:
            last = conn.execute(_RESERVE_OFFLINE, {"fid": service.facility.id, "n": n}).scalar_one()
        self.journal.add_reserve(self.code, range(last - n + 1, last + 1))  # committed centrally first
        self._reserve += n

    def take_snapshot(self) -> None:
        """Save the facility as the database has it now (bays, open sessions, rate plans) to the journal."""
        from sqlalchemy import select

        from attendant.core.auth import users_exist
        from attendant.core.store import PS, RPV, SESSION_IS_OPEN, L, S

        service = self.service
        fid = service.facility.id
        with self._lock:
            self._recent, self._gone = set(), set()
        with service._reading() as conn:
            spots = [list(r) for r in conn.execute(select(S.c.id, S.c.label, S.c.spot_type, S.c.level_id, S.c.rank,
                                                          S.c.status).where(S.c.facility_id == fid))]
            levels = {str(r.id): [r.code, r.name] for r in conn.execute(
                select(L.c.id, L.c.code, L.c.name).where(L.c.facility_id == fid))}
            extra = {r.ticket_no: r for r in conn.execute(
                select(PS.c.ticket_no, PS.c.rate_plan_version_id, PS.c.paid_at, PS.c.spot_id, PS.c.ev,
                       S.c.zone).join(S, S.c.id == PS.c.spot_id)
                .where(PS.c.facility_id == fid, SESSION_IS_OPEN))}
            from attendant.core.concessions import SC

            held: dict[int, list[str]] = {}  # the zone and concessions price the stay offline too
            for r in conn.execute(select(PS.c.ticket_no, SC.c.name).join(SC, SC.c.session_id == PS.c.id)
                                  .where(PS.c.facility_id == fid, SESSION_IS_OPEN)):
                held.setdefault(r.ticket_no, []).append(r.name)
            active = conn.execute(select(RPV.c.id).where(RPV.c.facility_id == fid, RPV.c.active.is_(True))).scalar()
            wanted = {active} | {r.rate_plan_version_id for r in extra.values()}
            plans = {str(r.id): r.body for r in conn.execute(select(RPV.c.id, RPV.c.body).where(
                RPV.c.id.in_([p for p in wanted if p is not None])))}
            strategy = service._cache.index.strategy.value if service._cache.index else Strategy.NEAREST.value
            from attendant.core.plate_lists import PLE

            # the live deny entries, by blind index only (no plate in clear in the journal): checked offline
            deny = [[r.plate_hash, r.plate_fold, r.action, r.reason, _iso(r.valid_until)] for r in conn.execute(
                select(PLE.c.plate_hash, PLE.c.plate_fold, PLE.c.action, PLE.c.reason, PLE.c.valid_until)
                .where(PLE.c.facility_id == fid, PLE.c.kind == "deny", PLE.c.removed_at.is_(None))
                .order_by(PLE.c.id))]
        sessions = []
        for view in service.open_sessions(limit=100_000):  # through the services: plates as they read them
            number = int(view.ticket_no)
            row = extra.get(number)
            if row is None:
                continue
            session = self._session_dict(view.code, number, view.plate, view.vehicle_class, row.ev,
                                         row.spot_id, view.spot_label, view.spot_type, view.entry_at,
                                         view.entry_lane, row.rate_plan_version_id, row.paid_at, view.amount_paid)
            session["zone"], session["concessions"] = row.zone, held.get(number, [])
            sessions.append(session)
        maps = [{"level_id": m.level_id, "code": m.code, "name": m.name, "rows": list(m.rows),
                 "spots": [[c.spot_id, c.label, c.row, c.col, c.spot_type] for c in m.spots]}
                for m in service.level_maps()]
        f = service.facility
        body = {
            "maps": maps,
            "facility": {"id": f.id, "code": f.code, "name": f.name, "address": f.address, "timezone": f.timezone,
                         "currency": f.currency, "capacity": f.capacity},
            "spots": spots, "levels": levels, "strategy": strategy, "active_plan_id": active, "plans": plans,
            "users_exist": users_exist(service.engine), "deny": deny,
        }
        with self._lock:
            # what this booth did while the snapshot was read, and events still waiting, are not in it
            listed = {s["ticket_no"] for s in sessions}
            sessions = [s for s in sessions if s["ticket_no"] not in self._gone]
            sessions += [self._known[t] for t in self._recent if t in self._known and t not in listed]
            self._recent = self._gone = None
            for ev in self.journal.waiting(self.code):
                number = ev.body.get("ticket_no")
                if ev.kind == "entry" and number in self._known:
                    sessions.append(self._known[number])
                elif ev.kind == "exit":
                    sessions = [s for s in sessions if s["ticket_no"] != number]
            sessions = list({s["ticket_no"]: s for s in sessions}.values())
            self.journal.save_snapshot(self.code, body, sessions)
            self._snapshot = body
            self._known = {s["ticket_no"]: s for s in sessions}
            self._last_snapshot = time.monotonic()

    @staticmethod
    def _session_dict(code, ticket_no, plate, vehicle_class, ev, spot_id, spot_label, spot_type, entry_at, lane,
                      plan_id, paid_at, amount_paid) -> dict:
        return {"ticket_no": ticket_no, "code": code, "plate": plate, "vehicle_class": vehicle_class, "ev": bool(ev),
                "spot_id": spot_id, "spot_label": spot_label, "spot_type": spot_type, "entry_at": _iso(entry_at),
                "lane": lane, "plan_id": plan_id, "paid_at": _iso(paid_at), "amount_paid": amount_paid or 0}

    def _remember(self, session: dict) -> None:
        self._known[session["ticket_no"]] = session
        if self._recent is not None:
            self._recent.add(session["ticket_no"])
        if self.persist:
            self.journal.put_session(self.code, session)

    def _forget(self, ticket_no: int) -> None:
        self._known.pop(ticket_no, None)
        if self._gone is not None:
            self._gone.add(ticket_no)
        if self.persist:
            self.journal.drop_session(self.code, ticket_no)

    # ------------------------------------------------------------------ entries
    def admit(self, request: EntryRequest, *, actor, vend: bool) -> tuple[EntryResult, bool]:
        """Admit a vehicle: online through the services, else journaled. Returns (entry, journaled).

        Raises as :meth:`ParkingService.admit`; offline also
        :class:`~attendant.core.journal.NoTicketNumbers` when the booth's
        reserve of ticket numbers is used up.
        """
        done, result = self._online(lambda: self.service.admit(request, actor=actor, vend=vend))
        if done:
            with self._lock:
                spot = self.service._cache.index.spot_by_label(result.spot_label)
                self._remember(self._session_dict(
                    result.code, int(result.ticket_no), result.plate, result.vehicle_class, request.ev, spot.id,
                    result.spot_label, result.spot_type, result.entry_at, result.lane,
                    self.service._cache.active_plan_id, None, 0))
            self._after_online()
            return result, False
        return self._admit_offline(request, actor, vend), True

    def authorize(self, actor, action: str) -> Actor:
        """:meth:`FacilityStore._actor` (an attendant's role, a login once users exist), from the snapshot
        while the database is away. Raises :class:`PermissionDenied` or :class:`LoginRequired`."""
        done, who = self._online(lambda: self.service._actor(actor, action=action))
        return who if done else self._authorize(actor, action)

    def record_reprint(self, entry: EntryResult, *, lane: str | None, actor, first_copy: bool) -> None:
        """Audit a reprint (:meth:`FacilityStore.record_reprint`), or journal it while the database is away."""
        done, _ = self._online(lambda: self.service.record_reprint(entry.session_id or self._session_id(entry),
                                                                     lane=lane, actor=actor, first_copy=first_copy))
        if done:
            return
        who = self._authorize(actor, "reprinting a ticket")
        with self._lock:
            self.journal.append(self.code, "reprint", {
                "ticket_no": int(entry.ticket_no), "lane": lane, "first_copy": first_copy,
                "at": _iso(self.service.clock()),
                "actor": {"name": who.name, "role": who.role.value, "user_id": who.user_id, "system": who.system}})
            self._waiting += 1
            self._pending += 1

    def _session_id(self, entry: EntryResult) -> int:
        return self.service.lookup(entry.code).session_id

    def _reattach(self) -> bool:
        """The database answers again after a start without it: open the real services in place of the
        detached ones (bays, sessions and listeners carry over; ``on_service`` tells the booth and the
        console). Returns False (and stays offline) while it is still away."""
        from attendant.booth.wiring import open_services
        from db.engine import migrate_schema

        old = self.service
        self._last_try = time.monotonic()
        try:
            migrate_schema(old.engine)
            new = open_services(old.engine, facility_code=old.facility.code, clock=old.clock,
                                processors=old.processors)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._went_offline(exc)
            return False
        new.listeners.extend(old.listeners)
        with self._lock:
            self.service = new
        if self.on_service is not None:
            self.on_service(new)
        self._back_online()
        return True

    def users_exist(self) -> bool:
        """Whether users exist (a login is needed): the database's answer, else the snapshot's."""
        from attendant.core.auth import users_exist

        done, answer = self._online(lambda: users_exist(self.service.engine))
        return answer if done else (self._snapshot or {}).get("users_exist", True)

    def login(self, staff, username: str, pin: str) -> Actor:
        """A PIN login at the console: :meth:`StaffDesk.login` (the PIN hash kept for offline logins), else
        against the PIN hash kept at this booth (:func:`offline_login`). Raises as they do."""
        done, who = self._online(lambda: staff.login(username, pin))
        if not done:
            return offline_login(self.service.engine, username, pin)
        try:
            remember_login(self.service.engine, who)
        except Exception as exc:  # noqa: BLE001 - only the offline copy is missed
            log.warning("PIN hash of %s not kept for offline logins: %s", who.name, _reason(exc))
        return who

    def _authorize(self, actor, action: str = "admitting or letting out a vehicle") -> Actor:
        who = require(actor, Role.ATTENDANT, action)
        users = (self._snapshot or {}).get("users_exist", True)
        if who.user_id is None and not who.system and users:
            raise LoginRequired("this needs a logged-in user: users exist, so log in (--user and --pin)")
        return who

    def _index(self) -> SpotIndex | None:
        return self.service._cache.index

    def _levels(self, level_id: int) -> tuple[str, str]:
        levels = self.service._cache.levels
        if level_id in levels:
            return levels[level_id]
        code, name = (self._snapshot or {}).get("levels", {}).get(str(level_id), ("?", "?"))
        return code, name

    def _plan(self, plan_id: int | None) -> RatePlan:
        if plan_id is None:
            raise NotFound("this booth has no rate plan cached: it cannot price stays offline")
        plan = self.service._cache.plans.get(plan_id) or self._plans.get(plan_id)
        if plan is None:
            body = (self._snapshot or {}).get("plans", {}).get(str(plan_id))
            if body is None:
                raise NotFound(f"rate plan version {plan_id} is not cached at this booth: it cannot price this "
                               "stay offline")
            plan = self._plans[plan_id] = RatePlan.from_dict(body)
        return plan

    def _active_plan_id(self) -> int | None:
        plan_id = self.service._cache.active_plan_id
        return plan_id if plan_id is not None else (self._snapshot or {}).get("active_plan_id")

    def _admit_offline(self, request: EntryRequest, actor, vend: bool) -> EntryResult:
        service = self.service
        who = self._authorize(actor)
        plate = normalize_plate(request.plate) if request.plate is not None else None
        at = request.at.astimezone(UTC) if request.at is not None else service.clock()
        vclass = request.vehicle_class
        with self._lock:
            if plate is not None:
                inside = next((s for s in self._known.values() if s.get("plate") == plate), None)
                if inside is not None:
                    raise Refused(f"{plate} is already inside (ticket {format_ticket_no(inside['ticket_no'])}): "
                                  "anti-passback")
            flag = self._deny_listed(plate, at)
            index = self._index()
            spot = None
            if index is None:
                if plate is None:
                    raise Refused("offline and without the bays: the vehicle can only be admitted by its plate")
            elif request.spot:
                spot = index.spot_by_label(request.spot)
                if not fits(spot.spot_type, vclass, ev=request.ev, accessible=request.accessible):
                    raise InputError(f"a {vclass.value} does not fit bay {spot.label} ({spot.spot_type.value})")
                if spot.status is not SpotStatus.AVAILABLE:
                    raise Refused(f"bay {spot.label} is {spot.status.value.replace('_', ' ')}")
            else:
                spot = index.choose(vclass, ev=request.ev, accessible=request.accessible)
            plan_id = self._active_plan_id()
            plan = self._plan(plan_id)
            body = {
                "plate": plate, "vehicle_class": vclass.value, "ev": request.ev, "accessible": request.accessible,
                "lane": request.lane, "spot_id": spot.id if spot else None, "spot_label": spot.label if spot else None,
                "spot_type": spot.spot_type.value if spot else None, "at": _iso(at), "at_given": request.at is not None,
                "plan_id": plan_id, "vend": vend,
                "actor": {"name": who.name, "role": who.role.value, "user_id": who.user_id, "system": who.system},
            }
            event = self.journal.append(self.code, "entry", body, take_ticket=True)  # fsynced: now the gate
            ticket_no = event.body["ticket_no"]
            self._reserve -= 1
            self._waiting += 1
            self._pending += 1
            code = service.signer.sign(self.code, ticket_no)
            self._remember(self._session_dict(code, ticket_no, plate, vclass.value, request.ev,
                                              spot.id if spot else None, spot.label if spot else None,
                                              spot.spot_type.value if spot else "regular", at, request.lane, plan_id,
                                              None, 0))
        if spot is not None:
            service._set_spot(spot.id, SpotStatus.OCCUPIED)
        level_code, level_name = self._levels(spot.level_id) if spot else ("?", "bay assigned when back online")
        return EntryResult(
            session_id=0, ticket_no=format_ticket_no(ticket_no), code=code, plate=plate, vehicle_class=vclass.value,
            spot_label=spot.label if spot else "(any)", spot_type=spot.spot_type.value if spot else "regular",
            level_code=level_code, level_name=level_name, entry_at=at, lane=request.lane,
            rate_summary=plan.describe(), vend_id=None, flag=flag)

    def _deny_listed(self, plate: str | None, at: datetime) -> str | None:
        """The deny list as the last snapshot had it (:mod:`attendant.core.plate_lists`; refreshed every
        :attr:`SNAPSHOT_SECONDS` while online), matched by the plate's blind indexes, exact first, then
        confusable-folded. Raises :class:`Refused` for a ``refuse`` entry; returns the flag text of a ``flag``
        entry, or None. When the sync replays the entry, the database's own list flags it again."""
        entries = (self._snapshot or {}).get("deny") or []
        if plate is None or not entries:
            return None
        data = self.service.data
        exact, fold = data.plate_index(plate), data.plate_fold_index(plate)
        live = [e for e in entries if e[4] is None or _when(e[4]) > at]
        hit = next((e for e in live if e[0] == exact), None)
        near = ""
        if hit is None:
            hit = next((e for e in live if fold is not None and e[1] == fold), None)
            near = " (matches a listed plate read alike)"
        if hit is None:
            return None
        _, _, action, reason, _ = hit
        if action == "refuse":
            raise Refused(f"{plate} is on the deny list{near}: {reason}; entry refused (the list as last seen: "
                          "the database is away)")
        return f"deny list ({action}){near}: {reason}"

    # ------------------------------------------------------------------ exits
    def _keyed(self, request: ExitRequest) -> ExitRequest:
        """Give each electronic tender an idempotency key before it is tried, so a charge whose answer was
        lost with the database is forwarded again under the same key (never charged twice)."""
        base = request.idempotency_key or f"lane-{uuid.uuid4()}"
        tenders = tuple(
            replace(t, key=f"{base}.{n}") if t.key is None and method_spec(t.method).electronic else t
            for n, t in enumerate(request.tenders, start=1))
        return replace(request, tenders=tenders) if tenders != request.tenders else request

    def settle(self, request: ExitRequest, *, actor, vend: bool):
        """An exit: online through :meth:`ParkingService.settle`, else journaled. Returns (result, journaled)."""
        request = self._keyed(request)
        done, result = self._online(lambda: self.service.settle(request, actor=actor, vend=vend))
        if done:
            if isinstance(result, ExitResult):
                with self._lock:
                    self._forget(int(result.ticket_no))
            self._after_online()
            return result, False
        return self._settle_offline(request, actor, vend), True

    def _known_session(self, code: str) -> tuple[int, dict | None]:
        ref = self.service.signer.verify(code)
        if ref.facility_code != self.code:
            raise Refused(f"ticket belongs to facility {ref.facility_code}, not {self.code}")
        return ref.ticket_no, self._known.get(ref.ticket_no)

    def _not_left_offline(self, ticket_no: int) -> None:
        """:raises Refused: the ticket already left through this booth while the database was away."""
        for event in self.journal.waiting(self.code):
            if event.kind == "exit" and event.body.get("ticket_no") == ticket_no:
                when = _when(event.body["at"]).astimezone(self.service.tz).strftime("%d %b %H:%M")
                raise Refused(f"ticket {format_ticket_no(ticket_no)} has already exited ({when}, while the "
                              "database was away)")

    def _price(self, session: dict, at: datetime) -> Fee:
        plan = self._plan(session.get("plan_id"))
        entry_at = _when(session["entry_at"])
        if at < entry_at:
            raise InputError(f"exit time is before the entry time ({entry_at.astimezone(self.service.tz):%H:%M})")
        priced_at = at
        paid_at = _when(session.get("paid_at"))
        if paid_at is not None and at <= paid_at + timedelta(minutes=plan.exit_grace_minutes):
            priced_at = paid_at
        concessions = [c for c in session.get("concessions") or () if c in plan.concession_names]
        # (a re-entry's earlier stay is not looked up offline: the journal holds no closed stays)
        return compute_fee(plan, entry_at, priced_at, vehicle_class=session["vehicle_class"],
                           spot_type=session.get("spot_type") or "regular", tz=self.service.tz,
                           zone=session.get("zone"), concessions=concessions)

    def _settle_offline(self, request: ExitRequest, actor, vend: bool) -> ExitResult:
        if getattr(request, "lost", False) or getattr(request, "free", False):  # issue 10: priced and audited online
            raise Refused("a lost-ticket or free exit needs the database, which cannot be reached: let the vehicle "
                          "go with an IOU (ctrl+g / --iou REASON) and settle it later")
        service = self.service
        currency = service.facility.currency
        who = self._authorize(actor)
        at = request.at.astimezone(UTC) if request.at is not None else service.clock()
        if request.validations:
            raise Refused("the database is away: validations are applied when it is back (take the fee, or let "
                          "the vehicle go with an IOU)")
        if not request.leave:
            raise Refused("the database is away: a payment without the exit waits until it is back")
        with self._lock:
            ticket_no, session = self._known_session(request.code)
            if session is None:
                self._not_left_offline(ticket_no)
            fee = self._price(session, at) if session else None
            paid_before = session.get("amount_paid", 0) if session else 0
            remaining = max(fee.amount - paid_before, 0) if fee else None
            cards = any(PaymentMethod(t.method) is PaymentMethod.CARD for t in request.tenders)
            count, total = self.journal.card_waiting(self.code) if cards else (0, 0)
            tenders, views = [], []
            for n, tender in enumerate(request.tenders, start=1):
                method = PaymentMethod(tender.method)
                if method not in OFFLINE_METHODS:
                    raise Refused(f"the database is away: the booth takes cash and card only ({method.value} waits "
                                  "until it is back; or let the vehicle go with an IOU)")
                if remaining == 0:
                    break
                amount = tender.amount if remaining is None or tender.amount is not None else remaining
                if amount is None:
                    raise Refused(f"ticket {format_ticket_no(ticket_no)} entered after this booth last saw the "
                                  "database: its fee is unknown offline; take a stated amount (cash=AMOUNT) or let "
                                  "it go with an IOU")
                if remaining is not None and amount > remaining:
                    raise PaymentError(f"{format_money(amount, currency)} is more than the balance "
                                       f"{format_money(remaining, currency)}")
                tendered = change = None
                if method is PaymentMethod.CASH:
                    tendered, change = cash_tendered(amount, tender.tendered, currency,
                                                     confirmed=tender.confirm_amount)
                else:
                    if count + 1 > self.limits.card_count or total + amount > self.limits.card_total:
                        raise Refused(
                            f"the database is away and this booth's offline card limit is reached "
                            f"({self.limits.card_count} payments, {format_money(self.limits.card_total, currency)} "
                            "in all): take cash or let the vehicle go with an IOU")
                    count, total = count + 1, total + amount
                key = tender.key or f"{request.idempotency_key or 'off-' + str(uuid.uuid4())}.{n}"
                tenders.append({"method": method.value, "amount": amount, "tendered": tendered, "change": change,
                                "key": key})
                views.append(PaymentView(0, method.value, "completed" if method is PaymentMethod.CASH else "pending",
                                         amount, tendered, change, None,
                                         None if method is PaymentMethod.CASH else "stored: charged when back online"))
                if remaining is not None:
                    remaining -= amount
            paid_now = sum(t["amount"] for t in tenders)
            iou_amount = 0
            if remaining is None:
                if request.iou_reason is None and not tenders:
                    raise Refused(f"ticket {format_ticket_no(ticket_no)} entered after this booth last saw the "
                                  "database: its fee is unknown offline; take a stated amount (cash=AMOUNT) or let "
                                  "it go with an IOU")
                fee = Fee(paid_now, currency, (FeeLine("priced when the database is back", 0, paid_now),), "", None)
            elif remaining > 0:
                if request.iou_reason is None:
                    raise PaymentError(f"{format_money(remaining, currency)} is still due: take payment or let go "
                                       "with an IOU (the database is away: the booth cannot take part payments)")
                iou_amount = remaining
            body = {
                "ticket_no": ticket_no, "code": request.code.strip().upper(), "at": _iso(at), "lane": request.lane,
                "vend": vend, "tenders": tenders, "iou_reason": request.iou_reason, "iou_amount": iou_amount,
                "fee": fee.amount, "priced": session is not None, "paid_before": paid_before,
                "actor": {"name": who.name, "role": who.role.value, "user_id": who.user_id, "system": who.system},
            }
            self.journal.append(self.code, "exit", body)  # fsynced: now the gate
            self._waiting += 1
            self._pending += 1
            self._forget(ticket_no)
        spot_id = session.get("spot_id") if session else None
        if spot_id is not None and self._index() is not None and spot_id in self._index().spots:
            service._set_spot(spot_id, SpotStatus.AVAILABLE)
        if iou_amount:
            source, reason = VendSource.ATTENDANT, f"IOU: {request.iou_reason}"
        elif paid_now:
            source, reason = VendSource.PAYMENT, None
        else:
            source, reason = VendSource.TICKET, "no fee due"
        cash = next((t for t in reversed(tenders) if t["method"] == "cash"), None)
        methods = {t["method"] for t in tenders}
        return ExitResult(
            session_id=0, ticket_no=format_ticket_no(ticket_no), plate=session.get("plate") if session else None,
            spot_label=(session.get("spot_label") or "?") if session else "?",
            entry_at=_when(session["entry_at"]) if session else at, exit_at=at, fee=fee,
            method=(methods.pop() if len(methods) == 1 else "split") if methods else None, paid=paid_before + paid_now,
            tendered=cash["tendered"] if cash else None, change=cash["change"] if cash else None, payment_id=None,
            lane=request.lane, currency=currency, payments=tuple(views), iou_amount=iou_amount, vend_source=source,
            vend_reason=reason, vend_id=None)

    # ------------------------------------------------------------------ the exit lane's lookup
    def checkout(self, text: str, *, at=None) -> Checkout:
        """:meth:`ParkingService.checkout` online, else from the sessions this booth knows (a code, a ticket
        number or a plate). Raises as the services; offline :class:`NotFound` for a session it does not know."""
        done, result = self._online(lambda: self.service.checkout(text, at=at))
        if done:
            return result
        typed = (text or "").strip()
        if not typed:
            raise InputError("scan or type a ticket code, ticket number or plate")
        at = at.astimezone(UTC) if at is not None else self.service.clock()
        with self._lock:
            session, found_by = None, "code"
            if looks_like_ticket_code(typed):
                number, session = self._known_session(typed)
                if session is None:
                    self._not_left_offline(number)
                    raise NotFound(f"ticket {format_ticket_no(number)} is not known at this booth while the database "
                                   "is away: take a stated amount or let it go with an IOU")
            elif typed.isdigit() and len(typed) <= 8:
                session, found_by = self._known.get(int(typed)), "ticket number"
            if session is None:
                plate = normalize_plate(typed)
                key = canonical_form(plate)
                hits = [s for s in self._known.values() if s.get("plate") == plate] or [
                    s for s in self._known.values() if s.get("plate") and canonical_form(s["plate"]) == key]
                if len(hits) > 1:
                    raise InputError(f"{plate} could be any of {', '.join(sorted(s['plate'] for s in hits))}: "
                                     "check the plate")
                if not hits:
                    raise NotFound(f"no vehicle inside with {typed!r} known at this booth (the database is away)")
                session, found_by = hits[0], "plate"
            fee = self._price(session, at)
        paid = session.get("amount_paid", 0)
        view = SessionView(0, format_ticket_no(session["ticket_no"]), session["code"], session.get("plate"),
                           session["vehicle_class"], session.get("spot_label") or "?",
                           session.get("spot_type") or "regular",
                           self._levels(self._index().spots[session["spot_id"]].level_id)[1]
                           if session.get("spot_id") and self._index() and session["spot_id"] in self._index().spots
                           else "?", _when(session["entry_at"]), session.get("lane"), "open", None, None, paid)
        return Checkout(view, at, fee, paid, max(fee.amount - paid, 0), (), 0, found_by)

    def ticket(self, ticket_no: int | str) -> EntryResult:
        """:meth:`ParkingService.ticket` (a reprint) online, else the ticket of an open session this booth
        knows. Raises :class:`InputError` for a malformed number, :class:`NotFound` when it is not known."""
        done, result = self._online(lambda: self.service.ticket(ticket_no))
        if done:
            return result
        try:
            number = int(str(ticket_no).strip())
        except ValueError:
            raise InputError(f"not a ticket number: {ticket_no!r}") from None
        session = self._known.get(number)
        if session is None:
            raise NotFound(f"ticket {format_ticket_no(number)} is not known at this booth while the database is away")
        spot_id = session.get("spot_id")
        index = self._index()
        level_code, level_name = (self._levels(index.spots[spot_id].level_id)
                                  if spot_id is not None and index is not None and spot_id in index.spots
                                  else ("?", "?"))
        return EntryResult(0, format_ticket_no(number), session["code"], session.get("plate"),
                           session["vehicle_class"], session.get("spot_label") or "(any)",
                           session.get("spot_type") or "regular", level_code, level_name,
                           _when(session["entry_at"]), session.get("lane"),
                           self._plan(session.get("plan_id")).describe())

    # ------------------------------------------------------------------ replay
    def sync(self):
        """Replay the journal into the central database now (:func:`attendant.core.journal_sync.replay`).

        Returns the :class:`~attendant.core.journal_sync.SyncReport`; marks the
        booth offline (and returns the report so far) when the database is
        still away. Afterwards the bay index and the snapshot are reloaded.
        """
        from attendant.core.journal_sync import SyncReport, replay

        if isinstance(self.service, DetachedService):
            report = SyncReport()
            report.error = f"the database cannot be reached: {self.service.reason}"
            return report
        with self._sync_lock:
            report = replay(self.service, self.journal, booth=self.booth_name)
            waiting = self.journal.waiting_count(self.code)
            pending = sum(1 for e in self.journal.waiting(self.code) if e.state == "pending")
            with self._lock:  # online again and the count in one step: state() never shows "OFFLINE · 0 waiting"
                if not report.error:
                    self._back_online()
                self._waiting, self._pending = waiting, pending
            if report.error:
                self._went_offline(DatabaseAway(report.error))
                return report
            if report.applied or report.already:
                try:
                    self.service.refresh()
                    self.prepare(force=True)
                except Exception as exc:
                    if not database_unreachable(exc):
                        raise
                    self._went_offline(exc)
        return report

    def tick(self) -> None:
        """The console's worker, every few seconds: replay when events wait and the retry is due, keep the
        reserve and the snapshot current while online. Never raises for an unreachable database."""
        if isinstance(self.service, DetachedService):  # started without the database: is it there now?
            if time.monotonic() - self._last_try < self.RETRY_SECONDS or not self._reattach():
                return
        if self._waiting and (not self._offline or time.monotonic() - self._last_try >= self.RETRY_SECONDS):
            self._last_try = time.monotonic()
            self.sync()
        elif not self._offline:
            self.prepare()
        elif time.monotonic() - self._last_try >= self.RETRY_SECONDS:  # offline with nothing waiting: probe
            self._last_try = time.monotonic()
            try:
                with self.service._reading() as conn:
                    conn.exec_driver_sql("SELECT 1")
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                self._went_offline(exc)
                return
            self._back_online()


class DetachedService(FacilityStore):
    """The booth's services in a process that started while the database was away (a CLI run, a console).

    Built from the journal's snapshot: the facility, its bays (statuses
    derived from the sessions the booth knows), levels, level drawings and
    cached rate plans; the live views of :class:`FacilityStore` (availability,
    occupancy, bay statuses) answer from them. Every operation that needs the
    database raises :class:`~attendant.core.journal.DatabaseAway`, so
    :class:`OfflineLanes` journals it. ``reason`` says why the database was
    not reached.
    """

    def __init__(self, engine, signer, snapshot: dict, sessions: dict[int, dict], *, reason: str,
                 clock=None, processors=None, facility_code: str | None = None) -> None:
        from attendant.core.clock import utc_now
        from attendant.core.facilities import FacilityInfo
        from attendant.core.payments import ProcessorRegistry
        from attendant.core.store import _Cache

        self.engine = engine
        self.signer = signer
        self.clock = clock or utc_now
        self.processors = processors or ProcessorRegistry()
        self.reason = reason
        self.facility = FacilityInfo(**snapshot["facility"])
        self.tz = ZoneInfo(self.facility.timezone)
        self.listeners: list = []
        self._lock = threading.RLock()
        self._conn = None
        from attendant.core.personal_data import site_data

        self.data = site_data()  # as FacilityStore has it (nothing is sealed or opened offline but through it)
        self._maps = snapshot.get("maps", [])
        occupied = {s["spot_id"] for s in sessions.values() if s.get("spot_id") is not None}
        rows = []
        for spot_id, label, spot_type, level_id, rank, status in snapshot["spots"]:
            if status in (SpotStatus.AVAILABLE.value, SpotStatus.OCCUPIED.value):
                status = SpotStatus.OCCUPIED.value if spot_id in occupied else SpotStatus.AVAILABLE.value
            rows.append((spot_id, label, spot_type, level_id, rank, status))
        self._cache = _Cache(index=SpotIndex(rows, Strategy(snapshot.get("strategy", "nearest"))),
                             levels={int(k): tuple(v) for k, v in snapshot.get("levels", {}).items()},
                             active_plan_id=snapshot.get("active_plan_id"))

    def _away(self, *_args, **_kwargs):
        raise DatabaseAway(self.reason)

    _reading = _writing = admit = settle = checkout = ticket = exit_code_for = find_by_plate = lookup = _away
    open_sessions = record_vend_fault = record_reprint = _actor = revenue = _away

    def level_maps(self) -> list[LevelMap]:
        """The level drawings as last seen."""
        return [LevelMap(m["level_id"], m["code"], m["name"], tuple(m["rows"]),
                         tuple(SpotCell(*cell) for cell in m["spots"])) for m in self._maps]

    def refresh(self) -> None:
        """Nothing to reload without the database."""

    def close(self) -> None:
        """Nothing to release."""


def detached_service(engine, facility_code: str | None, exc: BaseException, *, clock=None,
                     processors=None) -> DetachedService:
    """The services of a process that starts while ``engine``'s database is away, from the booth's journal.

    Re-raises ``exc`` when the booth has no snapshot of the facility (it never saw the database).
    """
    from attendant.booth.wiring import booth_journal
    from attendant.core.tickets import TicketSigner

    journal = booth_journal(engine)
    snapshot = journal.snapshot(facility_code)
    if snapshot is None:  # never saw the facility: nothing to work from, the database is simply unavailable
        raise exc
    from attendant import startup

    sessions = journal.sessions(snapshot["facility"]["code"])
    service = DetachedService(engine, TicketSigner.from_site(), snapshot, sessions, reason=_reason(exc),
                              clock=clock, processors=processors, facility_code=facility_code)
    startup.resume()
    return service


def offline_login(engine, username: str, pin: str) -> Actor:
    """Log in while the database is away, against the PIN hash kept when the user last logged in at this booth.

    No lock-out is counted offline (it is kept by the database). Raises
    :class:`~attendant.core.users.LoginFailed` (unknown here or a wrong PIN).
    """
    from attendant.booth.wiring import booth_journal
    from attendant.core import users

    try:
        name = users.normalize_username(username)
    except InputError:
        name = None
    row = booth_journal(engine).cached_login(name) if name else None
    if row is None or not users._verify(row.pin_hash, pin):
        raise users.LoginFailed(f"{users.LOGIN_FAILED_MESSAGE} (the database is away: only users who logged in at "
                                "this booth before can log in)")
    return Actor(row.username, Role(row.role), row.user_id)


def remember_login(engine, who: Actor) -> None:
    """After an online login: keep the user's PIN hash in the booth's journal for offline logins."""
    from sqlalchemy import select

    from attendant.booth.wiring import booth_journal
    from db.models import User

    if who.user_id is None:
        return
    users_table = User.__table__
    with engine.connect().execution_options(readonly=True) as conn:
        pin_hash = conn.execute(select(users_table.c.pin_hash).where(users_table.c.id == who.user_id)).scalar()
    journal = booth_journal(engine)
    cached = journal.cached_login(who.name)
    if pin_hash and (cached is None or cached.pin_hash != pin_hash or cached.role != who.role.value):
        journal.remember_login(who.name, who.role.value, who.user_id, pin_hash)
