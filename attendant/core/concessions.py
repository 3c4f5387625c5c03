"""Concessions on a parking session, and what the fee engine is told about a session beyond its times.

A **concession** (a disabled driver's Blue Badge, ...) is recorded on an open
session by the attendant, with the number of the badge seen; the rate plan's
tariffs that name it price the stay (``docs/rates.md``, *Zones, concessions
and re-entry*; issue 10 item 10). Rules:

- The name must be one the session's rate-plan version names
  (:func:`attendant.core.rates.engine.concession_set`, the one check): a
  concession no tariff prices would change nothing and hide a typing mistake.
- The badge number is personal data: stored sealed (AES-GCM,
  :mod:`attendant.core.personal_data`, ``session_concession.badge``), shown
  masked (``•••• 1234``), never written to the audit log, erased by the
  retention rule with the session's plate.
- Recording or removing one is an attendant's action, one transaction with an
  audit event (``session.concession_add`` / ``session.concession_remove``,
  naming the ticket and the concession); removing needs a reason.

:func:`pricing_context` gathers, for the fee engine, the bay's zone, the
session's concessions and, when the plan has a re-entry rule, the plate's
earlier stay that this one continues (found by the plate's blind index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.rates import RatePlan
from attendant.core.rates.engine import concession_set
from attendant.core.store import PS, FacilityStore, sessions_with_bay
from attendant.core.tickets import format_ticket_no
from attendant.core.vocab import SessionStatus
from db.models import SessionConcession

SC = SessionConcession.__table__
BADGE_MAX = 40
RE_ENTRY_CHAIN = 20
"""The most earlier stays followed back when re-entries continue each other (a bound, not a rule)."""


@dataclass(frozen=True, slots=True)
class ConcessionView:
    """A concession on a session: ``name`` (``disabled_badge``), the badge number masked, who and when (UTC)."""

    ticket_no: str
    name: str
    badge: str | None
    created_at: datetime
    created_by: str

    def to_json_dict(self) -> dict:
        return {"ticket_no": self.ticket_no, "name": self.name, "badge": self.badge,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by}


def mask_badge(badge: str | None) -> str | None:
    """``"AB12 3456 7890"`` -> ``"•••• 7890"``: enough to match the badge in hand, not to copy it."""
    if badge is None:
        return None
    return "•••• " + badge[-4:] if len(badge) > 4 else "••••"


def pricing_context(conn, row, plan: RatePlan) -> dict:
    """The fee engine's keyword arguments for session ``row`` (a :func:`sessions_with_bay` row) beyond its
    times: ``zone`` (its bay's), ``concessions`` (names recorded on it) and ``previous_stay``.

    ``previous_stay`` is set when ``plan`` has a re-entry rule and the same
    plate (blind index) left a stay here no more than ``re_entry`` minutes
    before this entry: ``(entry of the first stay of the chain, exit of the
    stay just before)``, following stays that continued each other back at
    most :data:`RE_ENTRY_CHAIN` times, so the chain's fees add up to the
    fee of one stay; ``previous_parked`` is those stays' parked time in all
    (for a rule whose time away is not charged).
    """
    names = []
    # a plan that prices no concession needs no look-up at exit, nor a session the exit's read found without one
    if plan.concession_names and getattr(row, "any_concessions", True):
        names = [r.name for r in conn.execute(select(SC.c.name).where(SC.c.session_id == row.id))
                 if r.name in plan.concession_names]
    context: dict = {"zone": getattr(row, "spot_zone", None), "concessions": names}
    within = plan.re_entry_minutes
    if within is None or not row.plate_hash:
        return context
    window = timedelta(minutes=within)
    entry, skip = row.entry_at, row.id
    visits: list[tuple] = []  # the earlier stays this one continues, latest first
    for _ in range(RE_ENTRY_CHAIN):
        found = conn.execute(
            select(PS.c.id, PS.c.entry_at, PS.c.exit_at).where(
                PS.c.facility_id == row.facility_id, PS.c.plate_hash == row.plate_hash,
                PS.c.status == SessionStatus.CLOSED.value, PS.c.id != skip,
                PS.c.exit_at <= entry, PS.c.exit_at >= entry - window,
            ).order_by(PS.c.exit_at.desc()).limit(1)
        ).first()
        if found is None:
            break
        visits.append((found.entry_at, found.exit_at))
        entry, skip = found.entry_at, found.id
    if visits:
        context["previous_stay"] = (visits[-1][0], visits[0][1])
        context["previous_parked"] = sum((out - in_ for in_, out in visits), timedelta(0))
    return context


class ConcessionOps(FacilityStore):
    """Concessions on this facility's sessions (see the module docstring)."""

    def _concession_row(self, conn, ticket: str, *, open_only: bool = True):
        typed = (ticket or "").strip()
        if not open_only and typed.isascii() and typed.isdigit() and len(typed) <= 8:  # a closed ticket's number
            row = conn.execute(sessions_with_bay().where(PS.c.facility_id == self.facility.id,
                                                         PS.c.ticket_no == int(typed))).first()
            if row is None:
                raise NotFound(f"no ticket {format_ticket_no(int(typed))}")
            return row
        code, _how = self.exit_code_for(typed)
        row = self._session_row(conn, code)
        if open_only and row.status != SessionStatus.OPEN:
            raise Refused(self._closed_message(row))
        return row

    def add_concession(self, ticket: str, name: str, *, badge: str, actor: Actor | str) -> ConcessionView:
        """Record concession ``name`` (e.g. ``disabled_badge``) on the open session ``ticket`` (code, ticket
        number or plate), with the number of the ``badge`` seen. Attendants.

        Raises :class:`InputError` (no badge number, one over 40 characters,
        a concession the session's rate plan does not name), :class:`Refused`
        (already recorded, session closed), :class:`NotFound`,
        :class:`~attendant.core.auth.PermissionDenied`.
        """
        who = self._actor(actor, Role.ATTENDANT, "recording a concession")
        number = " ".join((badge or "").split())
        if not number:
            raise InputError("a concession needs the number of the badge seen (--badge)")
        if len(number) > BADGE_MAX or not number.isprintable():
            raise InputError(f"a badge number is at most {BADGE_MAX} printable characters")
        now = utc_now()
        with self._writing() as conn:
            row = self._concession_row(conn, ticket)
            plan = self._plan(conn, row.rate_plan_version_id)
            (held,) = concession_set(plan, [name])
            if conn.execute(select(SC.c.id).where(SC.c.session_id == row.id, SC.c.name == held)).first():
                raise Refused(f"ticket {format_ticket_no(row.ticket_no)} already has the concession {held}")
            conn.execute(insert(SC).values(facility_id=self.facility.id, session_id=row.id, name=held,
                                           badge=self.data.seal(number), created_at=now, created_by=who.name))
            self._audit(conn, now=now, at=now, actor=who.name, action="session.concession_add",
                        entity="parking_session", entity_id=row.id,
                        details={"ticket_no": row.ticket_no, "concession": held})
        return ConcessionView(format_ticket_no(row.ticket_no), held, mask_badge(number), now, who.name)

    def remove_concession(self, ticket: str, name: str, *, reason: str, actor: Actor | str) -> None:
        """Remove concession ``name`` from the open session ``ticket`` (recorded in error). Attendants, with a
        reason. Raises :class:`InputError` (no reason), :class:`NotFound` (not recorded), :class:`Refused`."""
        who = self._actor(actor, Role.ATTENDANT, "removing a concession")
        why = " ".join((reason or "").split())
        if not why:
            raise InputError("removing a concession needs a reason (--reason)")
        held = (name or "").strip().lower()
        now = utc_now()
        with self._writing() as conn:
            row = self._concession_row(conn, ticket)
            gone = conn.execute(delete(SC).where(SC.c.session_id == row.id, SC.c.name == held)).rowcount
            if not gone:
                raise NotFound(f"ticket {format_ticket_no(row.ticket_no)} has no concession {held!r}")
            self._audit(conn, now=now, at=now, actor=who.name, action="session.concession_remove",
                        entity="parking_session", entity_id=row.id,
                        details={"ticket_no": row.ticket_no, "concession": held, "reason": why[:200]})

    def concessions_of(self, ticket: str) -> list[ConcessionView]:
        """The concessions on session ``ticket`` (open or closed), oldest first, badges masked."""
        with self._reading() as conn:
            row = self._concession_row(conn, ticket, open_only=False)
            rows = conn.execute(select(SC).where(SC.c.session_id == row.id).order_by(SC.c.id)).all()
        return [ConcessionView(format_ticket_no(row.ticket_no), r.name, mask_badge(self.data.open(r.badge)),
                               r.created_at, r.created_by) for r in rows]

    def concession_names(self) -> list[str]:
        """The concessions the facility's active rate plan names (what the console offers)."""
        with self._reading() as conn:
            plan = self._plan(conn, self._cache.active_plan_id)
        return sorted(plan.concession_names)
