"""Deny and allow lists of plates (issue 10 item 8).

- **Deny**: an entry either refuses the vehicle at the entry lane (action
  ``refuse``: :class:`~attendant.core.errors.Refused` with the list's reason,
  nothing written) or admits it and flags it for the attendant (``flag``: the
  entry's :attr:`~attendant.core.views.EntryResult.flag` and audit event say
  why; the console shows the flag while the plate is typed).
- **Allow**: free or contract parking: the exit charges nothing (a fee line
  ``Allow list (...)`` takes the fee to zero), the session names the entry
  (``parking_session.allow_entry_id``) and the gate opening is recorded with
  source ``pass`` and reason ``allow list: <reason>``. In reports the exit
  counts as an exit with nothing taken (no revenue) and appears under gate
  openings by source (``pass``) and reason.
- Matching uses the same tolerance as plate lookups at the exit
  (:meth:`~attendant.core.checkout.CheckoutOps.find_by_plate`): the exact
  blind index first, then the blind index of the confusable-folded plate
  (:func:`attendant.core.plate_match.canonical_form`: O/0, I/1, B/8, 2/Z, 5/S,
  6/G), so ``AB12CDE`` on the list catches a read ``A812CDE``.
- Plates are personal data and stored as sessions store them
  (:mod:`attendant.core.personal_data`): AES-GCM ciphertext, the exact blind
  index and the folded one; audit events name the plate by its blind index.
- An entry lasts until ``valid_until`` (UTC; None: until removed) or its
  removal; a removed entry keeps its row. One live entry per plate.
- Supervisors add and remove entries (role checked here), each one
  transaction with an audit event (``plate_list.add``, ``plate_list.remove``).
  Reasons take the shape of :mod:`attendant.core.exceptions` (``CODE`` or
  ``CODE: text``) from :data:`DENY_REASONS` / :data:`ALLOW_REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, Refused
from attendant.core.exceptions import parse_reason
from attendant.core.plates import normalize_plate
from db.models import PlateListEntry

PLE = PlateListEntry.__table__
KINDS = ("deny", "allow")
ACTIONS = {"deny": ("refuse", "flag"), "allow": ("free",)}

#: Why a plate is denied (``CODE`` or ``CODE: text``).
DENY_REASONS: dict[str, str] = {
    "UNPAID": "unpaid charges or IOUs",
    "BANNED": "banned from the car park (conduct, damage)",
    "POLICE": "police or authority request",
    "STOLEN": "vehicle reported stolen",
    "OTHER": "other (free text required)",
}
#: Why a plate parks free (``CODE`` or ``CODE: text``).
ALLOW_REASONS: dict[str, str] = {
    "CONTRACT": "contract parking (invoiced elsewhere)",
    "STAFF": "staff, contractor or delivery vehicle",
    "EMERGENCY": "emergency or police vehicle",
    "RESIDENT": "resident or permit holder",
    "OTHER": "other (free text required)",
}

#: The live entry matching blind indexes :plate (exact) or :fold (confusable-folded) at :at, exact first:
#: two probes of one index each (the partial unique index on the plate, the folded index), used as a scalar
#: subquery of the entry's first read.
_LIVE = (PLE.c.facility_id == bindparam("fid"), PLE.c.removed_at.is_(None),
         or_(PLE.c.valid_until.is_(None), PLE.c.valid_until > bindparam("at")))


def listed_id_of(plate, fold):
    """The id of the live entry matching blind indexes ``plate`` (exact) or ``fold`` at :at, exact first, or
    NULL: a SQL expression (parameters ``fid`` and ``at``); ``plate``/``fold`` are bind parameters or another
    table's columns (a correlated subquery: the exit's session read, :mod:`attendant.core.checkout`)."""
    return func.coalesce(
        select(PLE.c.id).where(*_LIVE, PLE.c.plate_hash == plate).limit(1).scalar_subquery(),
        select(PLE.c.id).where(*_LIVE, PLE.c.plate_fold == fold).order_by(PLE.c.id).limit(1).scalar_subquery(),
    )


LISTED_ID = select(listed_id_of(bindparam("plate"), bindparam("fold")))


@dataclass(frozen=True, slots=True)
class PlateListView:
    """A list entry as shown: ``plate`` in clear; ``matched`` how a looked-up plate matched it (``exact`` or
    ``confusable``; None in listings); times UTC."""

    id: int
    kind: str
    action: str
    plate: str | None  # None: erased by the retention rule (an entry removed or expired long ago)
    reason: str
    valid_until: datetime | None
    created_at: datetime
    created_by: str
    removed_at: datetime | None = None
    removed_by: str | None = None
    matched: str | None = None

    def describe(self) -> str:
        """One line for the attendant: ``"deny list (refuse): BANNED: damage"``."""
        near = f" as {self.plate}" if self.matched == "confusable" else ""
        return f"{self.kind} list ({self.action}){near}: {self.reason}"

    def to_json_dict(self) -> dict:
        """The ``plates list --json`` object (times ISO 8601 UTC)."""
        return {"id": self.id, "kind": self.kind, "action": self.action, "plate": self.plate,
                "reason": self.reason, "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "removed_at": self.removed_at.isoformat() if self.removed_at else None,
                "removed_by": self.removed_by}


class PlateListOps:
    """Deny/allow list operations of one facility (mixed into :class:`~attendant.core.services.ParkingService`)."""

    def _list_view(self, row, matched: str | None = None) -> PlateListView:
        return PlateListView(row.id, row.kind, row.action, self.data.open(row.plate), row.reason, row.valid_until,
                             row.created_at, row.created_by, row.removed_at, row.removed_by, matched)

    def _listed_in(self, conn, plate_hash: str | None, plate_fold: str | None, at: datetime,
                   entry_id: int | None = None) -> PlateListView | None:
        """The live list entry for a plate's blind indexes at ``at`` (exact first), or None.
        ``entry_id``: the id :data:`LISTED_ID` already found (one read less)."""
        if plate_hash is None:
            return None
        if entry_id is None:
            entry_id = conn.execute(LISTED_ID, {"fid": self.facility.id, "at": at, "plate": plate_hash,
                                                "fold": plate_fold}).scalar()
            if entry_id is None:
                return None
        row = conn.execute(select(PLE).where(PLE.c.id == entry_id)).one()
        return self._list_view(row, "exact" if row.plate_hash == plate_hash else "confusable")

    def plate_list_match(self, plate: str, *, at: datetime | None = None) -> PlateListView | None:
        """The live deny or allow entry ``plate`` matches (confusables tolerated), or None: for the console
        while a plate is typed. Raises :class:`InputError` for a text that is not a plate."""
        norm = normalize_plate(plate)
        with self._reading() as conn:
            return self._listed_in(conn, self.data.plate_index(norm), self.data.plate_fold_index(norm),
                                   at or self.clock())

    def add_plate_entry(self, kind: str, plate: str, reason: str, *, actor: Actor | str,
                        until: datetime | None = None, action: str | None = None) -> PlateListView:
        """Put ``plate`` on the ``kind`` list (``deny`` or ``allow``; supervisors).

        ``action``: ``refuse`` (default) or ``flag`` for deny, ``free`` for allow. ``reason``: ``CODE`` or
        ``CODE: text`` of :data:`DENY_REASONS` / :data:`ALLOW_REASONS`. ``until``: an aware time in the
        future (None: until removed). One transaction with the audit event ``plate_list.add``. Raises
        :class:`PermissionDenied`, :class:`InputError`, :class:`Refused` (the plate already has a live entry).
        """
        who = self._actor(actor, Role.SUPERVISOR, "changing the plate lists").name
        kind = str(kind).strip().lower()
        if kind not in KINDS:
            raise InputError(f"unknown list {kind!r} (deny or allow)")
        action = (action or ACTIONS[kind][0]).strip().lower()
        if action not in ACTIONS[kind]:
            raise InputError(f"a {kind} list entry is one of: {', '.join(ACTIONS[kind])}")
        why = parse_reason(reason, codes=DENY_REASONS if kind == "deny" else ALLOW_REASONS)
        norm = normalize_plate(plate)
        now = self.clock()
        if until is not None and (until.tzinfo is None or until <= now):
            raise InputError("--until must be a time in the future (with its zone)")
        sealed = self.data.plate_columns(norm)
        with self._lock:
            try:
                with self._writing() as conn:
                    live = conn.execute(select(PLE.c.kind).where(
                        PLE.c.facility_id == self.facility.id, PLE.c.plate_hash == sealed["plate_hash"],
                        PLE.c.removed_at.is_(None))).first()
                    if live is not None:
                        raise Refused(f"{norm} is already on the {live.kind} list: remove it first "
                                      "(attendant plates remove)")
                    entry_id = conn.execute(insert(PLE).returning(PLE.c.id), {
                        "facility_id": self.facility.id, "kind": kind, "action": action, **sealed,
                        "reason": str(why), "valid_until": until, "created_at": now, "created_by": who,
                    }).scalar_one()
                    self._audit(conn, now=utc_now(), at=now, actor=who, action="plate_list.add",
                                entity="plate_list_entry", entity_id=entry_id,
                                details={"kind": kind, "action": action, "plate_ref": sealed["plate_hash"],
                                         "reason_code": why.code, "reason_text": why.text,
                                         "until": until.isoformat() if until else None})
                    return self._list_view(conn.execute(select(PLE).where(PLE.c.id == entry_id)).one())
            except IntegrityError:  # another booth listed it meanwhile (the partial unique index)
                raise Refused(f"{norm} was just put on a list by another booth") from None

    def plate_entries(self, *, include_removed: bool = False, at: datetime | None = None) -> list[PlateListView]:
        """The live entries (or every entry), deny first, then by plate. Expired entries are not live."""
        at = at or self.clock()
        stmt = select(PLE).where(PLE.c.facility_id == self.facility.id)
        if not include_removed:
            stmt = stmt.where(PLE.c.removed_at.is_(None),
                              or_(PLE.c.valid_until.is_(None), PLE.c.valid_until > at))
        with self._reading() as conn:
            views = [self._list_view(row) for row in conn.execute(stmt.order_by(PLE.c.id)).all()]
        return sorted(views, key=lambda v: (v.kind != "deny", v.plate or "", v.id))

    def remove_plate_entry(self, plate: str, *, actor: Actor | str, reason: str | None = None) -> PlateListView:
        """Take ``plate`` off its list (supervisors): the entry's row stays, marked removed.

        One transaction with the audit event ``plate_list.remove``. Raises :class:`PermissionDenied`,
        :class:`InputError`, :class:`NotFound` (the plate has no live entry: the exact plate is needed).
        """
        who = self._actor(actor, Role.SUPERVISOR, "changing the plate lists").name
        norm = normalize_plate(plate)
        index = self.data.plate_index(norm)
        now = self.clock()
        with self._lock, self._writing() as conn:
            row = conn.execute(select(PLE).where(PLE.c.facility_id == self.facility.id, PLE.c.plate_hash == index,
                                                 PLE.c.removed_at.is_(None))).first()
            if row is None:
                raise NotFound(f"{norm} is on no list here (`attendant plates list`)")
            conn.execute(update(PLE).where(PLE.c.id == row.id).values(removed_at=now, removed_by=who))
            self._audit(conn, now=utc_now(), at=now, actor=who, action="plate_list.remove",
                        entity="plate_list_entry", entity_id=row.id,
                        details={"kind": row.kind, "plate_ref": index, "reason": (reason or "").strip()[:200] or None})
            return self._list_view(conn.execute(select(PLE).where(PLE.c.id == row.id)).one())


