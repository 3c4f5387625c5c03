"""Replaying a booth's journal into the central database: exactly once, in order, conflicts by rule.

:func:`replay` takes the journal's waiting events (:mod:`attendant.core.journal`)
oldest first and applies each through the same services a lane uses
(:meth:`ParkingService.admit`, :meth:`CheckoutOps.settle`), so the rows,
audit events, change log and payment rules are those of an online
operation. Each event's id goes into ``journal_applied`` in the same
transaction as its effect (:class:`ReplayService` hooks the effect's audit
event), so a replay interrupted at any instant can simply run again: an
event already there is only marked applied in the journal. One replay at a
time per journal (an advisory lock on a file next to it).

Rules for what the booth could not know (each recorded in the audit log as
``journal.conflict`` with the rule, in the event's transaction):

- an entry whose bay another booth took meanwhile is given another bay
  (the database claims one, as for any entry): ``bay reassigned``;
- an entry of a plate the database has inside already: when that session
  is this very entry (the booth lost the answer to a commit that happened:
  same plate, same lane, within :data:`SAME_EVENT_SECONDS`) the event is
  applied already and the session takes the ticket number printed offline
  (the driver's ticket); when it entered earlier, it is let go with an IOU at the
  offline entry's time (``closed by a later entry``); when it entered later,
  the offline entry is recorded without the plate (``plate inside again``);
  a plate with too many unpaid IOUs is also recorded without the plate;
- an exit is matched to its session by ticket code, wherever it entered; an
  exit of a session the database does not have yet (its entry is in another
  booth's journal) is ``deferred`` and tried again at the next replay;
- an exit of a session already closed: the same exit when the booth lost
  the answer (a payment with its idempotency key exists, or the session
  left at the same lane within :data:`SAME_EVENT_SECONDS`), else
  ``exit_conflict`` naming what the booth took (a refund may be due);
- an exit journaled before the session's entry time (the booths' clocks
  disagree) is recorded at the entry time;
- payments: cash as taken (capped to the balance the database computes; any
  excess is recorded as ``refund due``); card payments are forwarded to the
  processor now, with the key they were stored under (never charged twice);
  whatever is still due (a declined card, a fee the booth could not price)
  becomes an IOU against the session and plate, as for any vehicle let go.

Times: event times are the booth's (UTC); ``applied_at`` the wall clock.
"""

from __future__ import annotations

import fcntl
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import (
    AttendantError,
    NoSpaceAvailable,
    NotFound,
    PaymentError,
    Refused,
)
from attendant.core.journal import Journal, JournalEvent, database_unreachable
from attendant.core.requests import EntryRequest, ExitRequest, Tender
from attendant.core.services import ParkingService
from attendant.core.store import PS
from attendant.core.tickets import format_ticket_no
from db.models import JournalApplied

JA = JournalApplied.__table__
SAME_EVENT_SECONDS = 30
log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What a replay did: counts, and one line per event (``events``: dicts with ``id``, ``kind``,
    ``ticket_no``, ``outcome``, ``conflicts``). ``error``: the database was away (the rest waits)."""

    applied: int = 0
    already: int = 0
    deferred: int = 0
    waiting: int = 0
    conflicts: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    error: str | None = None

    def to_json_dict(self) -> dict:
        return {"applied": self.applied, "already_applied": self.already, "deferred": self.deferred,
                "waiting": self.waiting, "conflicts": self.conflicts, "events": self.events, "error": self.error}


@dataclass
class _Mark:
    event: JournalEvent
    booth: str
    effects: tuple[str, ...]
    ticket_no: int | None = None
    conflicts: list[dict] = field(default_factory=list)
    session_id: int | None = None
    done: bool = False


class ReplayService(ParkingService):
    """The services, with the journal event being replayed recorded in its effect's transaction."""

    _mark: _Mark | None = None

    def _audit(self, conn, **kw) -> None:
        mark = self._mark
        if mark is not None and kw.get("action") in mark.effects and not mark.done:
            kw["details"] = {**(kw.get("details") or {}), "journal_event": mark.event.id, "offline": True}
            super()._audit(conn, **kw)
            conn.execute(insert(JA).values(event_id=mark.event.id, facility_id=self.facility.id, kind=mark.event.kind,
                                           session_id=kw.get("entity_id"), booth=mark.booth, applied_at=utc_now()))
            for conflict in mark.conflicts:
                super()._audit(conn, now=kw["now"], at=kw["at"], actor=kw["actor"], action="journal.conflict",
                               entity=kw["entity"], entity_id=kw["entity_id"],
                               details={**conflict, "journal_event": mark.event.id, "booth": mark.booth})
            mark.session_id = kw.get("entity_id")
            mark.done = True
            return
        super()._audit(conn, **kw)

    def _check_at(self, at, **_kw):
        """A journaled time was recorded by the booth itself: checked against the facility's widest window
        (:mod:`attendant.core.time_bounds`, as a supervisor's back-dating), so a long outage still replays."""
        return super()._check_at(at, actor=Actor("journal", Role.SUPERVISOR, None, system=True),
                                 backdate_reason="replay of a booth's offline journal")

    def _ticket_no(self):
        if self._mark is not None:
            return self._mark.ticket_no  # the number printed offline (None: one is taken in the transaction)
        return super()._ticket_no()

    def _unused_ticket_no(self, ticket_no) -> None:
        if self._mark is None:
            super()._unused_ticket_no(ticket_no)


def _actor(service: ParkingService, data: dict) -> Actor:
    """The journaled actor; a user whose shift has closed since is replayed as the booth's automaton under
    their name (payments then belong to no shift)."""
    role = Role(data.get("role", "attendant"))
    user_id = data.get("user_id")
    if user_id is not None:
        from attendant.core.shifts import open_shift_id

        with service._reading() as conn:
            if open_shift_id(conn, service.facility.id, user_id) is not None:
                return Actor(data["name"], role, user_id)
    return Actor(data["name"], role, None, system=True)


def _applied_session(service: ParkingService, event_id: str) -> tuple[bool, int | None]:
    with service._reading() as conn:
        row = conn.execute(select(JA.c.session_id).where(JA.c.event_id == event_id)).first()
    return (row is not None, row.session_id if row else None)


def _record_only(service: ReplayService, mark: _Mark, *, at: datetime, actor: str, session_id: int | None,
                 details: dict, change=None) -> None:
    """Record an event whose effect the database has already: the audit event (and ``change(conn)``, if any)
    with the event id, in one transaction."""
    with service._lock:
        service._mark = mark
        try:
            with service._writing() as conn:
                if change is not None:
                    change(conn)
                service._audit(conn, now=utc_now(), at=at, actor=actor, action="journal.conflict",
                               entity="parking_session", entity_id=session_id, details=details)
        finally:
            service._mark = None


class _Lock:
    """One replay at a time per journal, across processes (an advisory lock on ``<journal>.sync-lock``)."""

    def __init__(self, journal: Journal) -> None:
        self.path = f"{journal.path}.sync-lock"

    def __enter__(self):
        self.handle = open(self.path, "a")  # noqa: SIM115 - held for the replay
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def replay(service: ParkingService, journal: Journal, *, booth: str = "booth") -> SyncReport:
    """Apply ``journal``'s waiting events of ``service``'s facility to its database (see the module docstring).

    ``service`` gives the engine, the signer and the processors. Returns
    the :class:`SyncReport`; an unreachable database stops the replay with
    ``report.error`` set (what was applied stays applied). Never raises for
    one event's failure: that event is deferred with its reason.
    """
    report = SyncReport()
    try:
        replayer = ReplayService(service.engine, service.signer, facility_code=service.facility.code,
                                 clock=service.clock, processors=service.processors)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        report.error = _short(exc)
        report.waiting = journal.waiting_count(service.facility.code)
        return report
    try:
        with _Lock(journal):
            for event in journal.waiting(service.facility.code):
                line = {"id": event.id, "kind": event.kind, "ticket_no": event.body.get("ticket_no")}
                try:
                    outcome = _apply(replayer, journal, event, booth)
                except Exception as exc:
                    if database_unreachable(exc):
                        report.error = _short(exc)
                        break
                    log.exception("journal event %s not applied", event.id)
                    outcome = ("deferred", {"reason": str(exc)[:200] if isinstance(exc, AttendantError)
                                            else f"unexpected error: {type(exc).__name__}"})
                    journal.mark(event.id, "deferred", outcome[1])
                finally:
                    replayer._mark = None
                state, result = outcome
                line.update(outcome=state, **{k: v for k, v in result.items() if k != "conflicts"})
                if result.get("conflicts"):
                    line["conflicts"] = result["conflicts"]
                    report.conflicts += [{"id": event.id, **c} for c in result["conflicts"]]
                report.events.append(line)
                if state == "applied":
                    report.applied += 1
                elif state == "already":
                    report.already += 1
                else:
                    report.deferred += 1
    finally:
        replayer.close()
    report.waiting = journal.waiting_count(service.facility.code)
    return report


def _short(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    return (text.splitlines()[0] if text else type(inner).__name__)[:160]


def _apply(service: ReplayService, journal: Journal, event: JournalEvent, booth: str) -> tuple[str, dict]:
    done, session_id = _applied_session(service, event.id)
    if done:  # applied by an earlier replay that stopped before it could say so here
        result = {"session_id": session_id}
        journal.mark(event.id, "applied", {**result, "already": True})
        return "already", result
    if event.kind == "entry":
        state, result = _apply_entry(service, event, booth)
    elif event.kind == "exit":
        state, result = _apply_exit(service, event, booth)
    elif event.kind == "reprint":
        state, result = _apply_reprint(service, event, booth)
    else:
        state, result = "deferred", {"reason": f"unknown event kind {event.kind!r}"}
    journal.mark(event.id, "applied" if state in ("applied", "already") else "deferred", result)
    return state, result


def _apply_entry(service: ReplayService, event: JournalEvent, booth: str) -> tuple[str, dict]:
    body = event.body
    at = datetime.fromisoformat(body["at"])
    who = _actor(service, body["actor"])
    plate, spot = body.get("plate"), body.get("spot_label")
    conflicts: list[dict] = []
    for _attempt in range(4):
        mark = _Mark(event, booth, ("session.enter",), ticket_no=body["ticket_no"], conflicts=list(conflicts))
        request = EntryRequest(plate, body["vehicle_class"], ev=body.get("ev", False),
                               accessible=body.get("accessible", False), lane=body.get("lane"), spot=spot, at=at,
                               print_ticket=False, vend=body.get("vend", False),
                               deny_as_flag=True)  # admitted offline: already inside, a deny entry flags it
        saved = service._cache.active_plan_id
        with service._lock:
            service._mark = mark
            if body.get("plan_id") is not None:
                service._cache.active_plan_id = body["plan_id"]  # the version the booth priced it with
            try:
                entry = service.admit(request, actor=who, vend=body.get("vend", False))
            except NoSpaceAvailable:
                return "deferred", {"reason": "no free bay for it in the database now: tried again at the next sync",
                                    "conflicts": conflicts}
            except Refused as exc:
                message = str(exc)
                if spot and ("bay" in message or "just taken" in message):
                    conflicts.append({"rule": "bay reassigned", "journaled_spot": spot,
                                      "reason": f"bay {spot} was taken meanwhile by another booth"})
                    spot = None
                    continue
                if plate and "anti-passback" in message:
                    outcome = _plate_inside(service, event, booth, plate, at, who, conflicts)
                    if outcome is not None:
                        return outcome
                    plate = None if conflicts and conflicts[-1]["rule"] == "plate inside again" else plate
                    continue
                if plate and "IOU" in message:
                    conflicts.append({"rule": "recorded without the plate", "plate": plate,
                                      "reason": "the plate has unpaid IOUs (settle them before it enters again)"})
                    plate = None
                    continue
                raise
            finally:
                service._mark = None
                service._cache.active_plan_id = saved
        result = {"session_id": entry.session_id, "ticket_no": entry.ticket_no, "spot": entry.spot_label}
        if conflicts:
            result["conflicts"] = conflicts
        return "applied", result
    return "deferred", {"reason": "conflicts could not be resolved", "conflicts": conflicts}


def _plate_inside(service: ReplayService, event: JournalEvent, booth: str, plate: str, at: datetime, who: Actor,
                  conflicts: list[dict]) -> tuple[str, dict] | None:
    """The plate of an offline entry is inside already: decide by rule (module docstring)."""
    body = event.body
    inside = service.find_by_plate(plate)
    if (inside.plate == plate and inside.entry_lane == body.get("lane")
            and abs((inside.entry_at - at).total_seconds()) <= SAME_EVENT_SECONDS):
        # The booth's commit went through but its answer was lost: the driver holds the ticket printed offline,
        # so the session takes that number and code (the one the database gave was never printed).
        number = body["ticket_no"]
        code = service.signer.sign(service.facility.code, number)

        def renumber(conn) -> None:
            conn.execute(update(PS).where(PS.c.id == inside.session_id).values(
                ticket_no=number, code=service.data.code_hash(code)))  # stored as its hash (personal_data.py)

        _record_only(service, _Mark(event, booth, ("journal.conflict",)), at=at, actor=who.name,
                     session_id=inside.session_id, change=renumber if inside.code != code else None,
                     details={"rule": "already recorded", "database_ticket": inside.ticket_no,
                              "printed_ticket": format_ticket_no(number),
                              "reason": "the database had this entry already (its answer was lost): it keeps the "
                                        "ticket printed offline"})
        return "already", {"session_id": inside.session_id, "ticket_no": format_ticket_no(number)}
    if inside.entry_at <= at:
        reason = (f"{plate} entered again offline at {at.isoformat()} (lane {body.get('lane')}): its exit was "
                  "not recorded")
        service.let_go(inside.code, actor=Actor("journal", Role.ATTENDANT, None, system=True), reason=reason[:200],
                       at=at)
        conflicts.append({"rule": "closed by a later entry", "closed_ticket": inside.ticket_no, "plate": plate})
        return None
    conflicts.append({"rule": "plate inside again", "plate": plate, "other_ticket": inside.ticket_no,
                      "reason": "the plate entered later at another booth: this entry is recorded without it"})
    return None


def _apply_exit(service: ReplayService, event: JournalEvent, booth: str) -> tuple[str, dict]:
    body = event.body
    at = datetime.fromisoformat(body["at"])
    who = _actor(service, body["actor"])
    code = body["code"]
    taken = body.get("tenders", [])
    conflicts: list[dict] = []
    try:
        entered = service.lookup(code).entry_at
        if at < entered:  # the booths' clocks disagree: the stay cannot end before it began
            conflicts.append({"rule": "exit time moved to the entry time", "journaled_at": at.isoformat(),
                              "entry_at": entered.isoformat()})
            at = entered
        checkout = service.checkout(code, at=at)
    except NotFound:
        return "deferred", {"reason": f"no session for ticket {format_ticket_no(body['ticket_no'])} in the database "
                                      "yet (its entry may be in another booth's journal): tried again at the next sync"}
    except Refused as exc:
        if "exited" not in str(exc):
            raise
        return _exit_of_closed(service, event, booth, at, who)
    balance = checkout.balance
    tenders = []
    for t in taken:
        amount = min(t["amount"], balance)
        if amount < t["amount"]:
            conflicts.append({"rule": "refund due", "method": t["method"], "taken": t["amount"], "counted": amount,
                              "reason": "the booth took more than the database's balance"})
        if amount <= 0:
            continue
        tendered = t.get("tendered") if t["method"] == "cash" else None
        tenders.append(Tender(t["method"], amount, tendered, None, key=t["key"]))
        balance -= amount
    if body.get("priced") and checkout.fee.amount != body.get("fee"):
        conflicts.append({"rule": "fee differs", "booth_fee": body.get("fee"), "database_fee": checkout.fee.amount})
    reason = body.get("iou_reason") or "offline exit: the balance was not covered when the journal was replayed"
    request = ExitRequest(code, tuple(tenders), iou_reason=reason[:200], lane=body.get("lane"), at=at,
                          print_receipt=False, vend=body.get("vend", False))
    mark = _Mark(event, booth, ("session.exit", "session.exit_iou"), conflicts=conflicts)
    with service._lock:
        service._mark = mark
        try:
            result = service.settle(request, actor=who, vend=body.get("vend", False))
        except PaymentError as exc:  # the processor could not be asked: the event waits for the next sync
            return "deferred", {"reason": str(exc)[:200]}
        finally:
            service._mark = None
    out = {"session_id": result.session_id, "ticket_no": result.ticket_no, "paid": result.paid,
           "iou": result.iou_amount}
    if conflicts:
        out["conflicts"] = conflicts
    return "applied", out


def _exit_of_closed(service: ReplayService, event: JournalEvent, booth: str, at: datetime,
                    who: Actor) -> tuple[str, dict]:
    """An exit of a session the database has closed already: the same exit (answer lost), or a conflict."""
    from attendant.core.payment_rows import payment_by_key

    body = event.body
    closed = service.closed_exit(body["code"])
    with service._reading() as conn:
        keyed = any(payment_by_key(conn, t["key"]) is not None for t in body.get("tenders", []))
    same = keyed or (closed.lane == body.get("lane")
                     and abs((closed.exit_at - at).total_seconds()) <= SAME_EVENT_SECONDS)
    mark = _Mark(event, booth, ("journal.conflict",))
    if same:
        details = {"rule": "already recorded", "reason": "the database had this exit already (its answer was lost)"}
    else:
        details = {"rule": "exit_conflict", "reason": "the session had already left at another lane",
                   "exited_at": closed.exit_at.isoformat(), "exit_lane": closed.lane,
                   "taken": [{"method": t["method"], "amount": t["amount"]} for t in body.get("tenders", [])]}
    _record_only(service, mark, at=at, actor=who.name, session_id=closed.session_id, details=details)
    result = {"session_id": closed.session_id, "ticket_no": closed.ticket_no}
    if not same:
        result["conflicts"] = [details]
    return ("already" if same else "applied"), result


def _apply_reprint(service: ReplayService, event: JournalEvent, booth: str) -> tuple[str, dict]:
    """A ticket reprinted while the database was away: its audit event (``ticket.reprint``), now."""
    body = event.body
    code = service.signer.sign(service.facility.code, body["ticket_no"])
    try:
        session = service.lookup(code)
    except NotFound:
        return "deferred", {"reason": f"no session for ticket {format_ticket_no(body['ticket_no'])} in the database "
                                      "yet: tried again at the next sync"}
    mark = _Mark(event, booth, ("ticket.reprint",))
    with service._lock:
        service._mark = mark
        try:
            service.record_reprint(session.session_id, lane=body.get("lane"), actor=_actor(service, body["actor"]),
                                   first_copy=body.get("first_copy", False))
        finally:
            service._mark = None
    return "applied", {"session_id": session.session_id, "ticket_no": format_ticket_no(body["ticket_no"])}
