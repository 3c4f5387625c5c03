"""The retention rule: a plate is kept only as long as the site needs it.

``attendant retention run [--days N]`` erases the plate (its ciphertext and
both blind indexes), and the badge numbers of its concessions, of every parking session closed more than N days ago
(``[console] retention_days`` in the console config, default 90), and the
plate of those sessions' settled IOUs, unless something holds it:

- an **IOU** still open on the session (an unpaid balance: the debt is
  recovered by plate), or
- a **dispute**: ``attendant retention hold SESSION --reason R`` (supervisor)
  sets ``parking_session.retention_hold``; ``retention release`` clears it.

Vehicle rows (blind index, class) that no session names any more are deleted.
The plate of a deny/allow list entry (:mod:`attendant.core.plate_lists`)
removed or expired more than N days ago is erased the same way (the entry's
kind, reason and times stay: sessions and audit events name it).
Amounts, times, bays and audit events stay: reports are unchanged. Each run,
hold and release is one transaction with an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update

from attendant.core import audit
from attendant.core.auth import Actor, Role, authorize
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound
from attendant.core.vocab import IouStatus, SessionStatus
from db.models import Iou, ParkingSession, PlateListEntry, SessionConcession, Vehicle

PS, IOU, V, SC = ParkingSession.__table__, Iou.__table__, Vehicle.__table__, SessionConcession.__table__
PLE = PlateListEntry.__table__
MAX_DAYS = 36600


@dataclass(frozen=True)
class RetentionResult:
    """What a run did: ``erased`` sessions' plates, those kept by an open IOU or a hold, the cutoff (UTC)."""

    days: int
    cutoff: datetime
    erased: int
    held_by_iou: int
    held_by_dispute: int
    vehicles_deleted: int
    list_entries_erased: int = 0

    def to_json_dict(self) -> dict:
        return {"days": self.days, "cutoff": self.cutoff.isoformat(), "erased": self.erased,
                "held_by_iou": self.held_by_iou, "held_by_dispute": self.held_by_dispute,
                "vehicles_deleted": self.vehicles_deleted, "list_entries_erased": self.list_entries_erased}


def run_retention(engine, *, days: int, actor: Actor | str, now: datetime | None = None) -> RetentionResult:
    """Erase the plates the retention rule no longer allows (see the module docstring), every facility.

    ``days``: 1 to 36,600. Supervisors (once users exist). Raises
    :class:`InputError` for ``days`` out of range, :class:`PermissionDenied`,
    :class:`LoginRequired`.
    """
    who = authorize(engine, actor, Role.SUPERVISOR, "running the retention rule")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days must be a whole number from 1 to {MAX_DAYS}, got {days!r}")
    now = now or utc_now()
    cutoff = now - timedelta(days=days)
    open_iou = exists().where(IOU.c.session_id == PS.c.id, IOU.c.status == IouStatus.OPEN.value)
    ended = (SessionStatus.CLOSED.value, SessionStatus.VOIDED.value)  # a voided ticket's plate ages out too
    due = and_(PS.c.status.in_(ended), PS.c.exit_at < cutoff, PS.c.plate.is_not(None))
    with engine.begin() as conn:
        held_iou = conn.execute(select(func.count()).where(due, open_iou)).scalar_one()
        held_dispute = conn.execute(select(func.count()).where(due, ~open_iou, PS.c.retention_hold.is_not(None))
                                    ).scalar_one()
        ids = [r.id for r in conn.execute(select(PS.c.id).where(due, ~open_iou, PS.c.retention_hold.is_(None)))]
        vehicles = {r.vehicle_id for r in conn.execute(select(PS.c.vehicle_id).where(PS.c.id.in_(ids)))} \
            if ids else set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            conn.execute(update(PS).where(PS.c.id.in_(chunk)).values(plate=None, plate_hash=None, plate_fold=None,
                                                                     vehicle_id=None))
            conn.execute(update(IOU).where(IOU.c.session_id.in_(chunk), IOU.c.status != IouStatus.OPEN.value)
                         .values(plate=None, plate_hash=None))
            conn.execute(update(SC).where(SC.c.session_id.in_(chunk)).values(badge=None))
        # reservations over (closed) before the cutoff: their plate, holder name and contact go too (0020_reserve)
        from db.models import Reservation

        res = Reservation.__table__
        res_erased = conn.execute(update(res).where(
            res.c.closed_at < cutoff, res.c.status.not_in(("booked", "checked_in")),
            (res.c.plate.is_not(None)) | (res.c.holder_name.is_not(None)) | (res.c.holder_contact.is_not(None)))
            .values(plate=None, plate_hash=None, plate_fold=None, holder_name=None, holder_contact=None)).rowcount
        vehicles.discard(None)
        deleted = 0
        if vehicles:
            deleted = conn.execute(delete(V).where(V.c.id.in_(vehicles),
                                                   ~exists().where(PS.c.vehicle_id == V.c.id))).rowcount
        ended = or_(PLE.c.removed_at < cutoff, PLE.c.valid_until < cutoff)  # off the list for N days
        listed = conn.execute(update(PLE).where(ended, PLE.c.plate.is_not(None))
                              .values(plate=None, plate_hash=None, plate_fold=None)).rowcount
        audit.record(conn, facility_id=None, actor=who.name, action="retention.run", entity="parking_session",
                     entity_id=None, details={"days": days, "cutoff": cutoff.isoformat(), "erased": len(ids),
                                              "held_by_iou": held_iou, "held_by_dispute": held_dispute,
                                              "vehicles_deleted": deleted, "list_entries_erased": listed,
                                              "reservations_erased": res_erased},
                     now=now, effective_at=now)
    return RetentionResult(days, cutoff, len(ids), held_iou, held_dispute, deleted, listed)


def set_hold(engine, facility_id: int, ticket_no: int, *, actor: Actor | str, reason: str | None,
             hold: bool = True) -> int:
    """Hold (a dispute: ``reason`` required) or release the plate of ticket ``ticket_no`` against the retention
    rule; returns the session id. Supervisors. Raises :class:`InputError` (no reason), :class:`NotFound`."""
    who = authorize(engine, actor, Role.SUPERVISOR, "holding or releasing a plate for a dispute")
    reason = (reason or "").strip()
    if hold and not reason:
        raise InputError("a retention hold needs a reason (--reason), e.g. the dispute's reference")
    with engine.begin() as conn:
        sid = conn.execute(select(PS.c.id).where(PS.c.facility_id == facility_id, PS.c.ticket_no == ticket_no)
                           ).scalar()
        if sid is None:
            raise NotFound(f"no ticket {ticket_no:08d}")
        conn.execute(update(PS).where(PS.c.id == sid).values(retention_hold=reason[:200] if hold else None))
        audit.record(conn, facility_id=facility_id, actor=who.name,
                     action="retention.hold" if hold else "retention.release", entity="parking_session",
                     entity_id=sid, details={"ticket_no": ticket_no, "reason": reason[:200] or None})
    return sid
