"""The audit log: one append-only row per state change, naming the actor.

Every state change (entry, exit, payment, override, rate change, shift and
user event) is one database transaction that also appends an audit event
(BRIEF.md, "Layout of the repository"). This module is the one place that
writes them, so every row has the same shape:

- ``at``: when it was recorded (wall clock, UTC);
- ``effective_at``: the time the operation claims (differs from ``at`` for
  ``--at`` replays and back-dated corrections);
- ``actor``: the name of who did it (at most 80 characters);
- ``action`` (e.g. ``session.enter``), ``entity`` (table name) and
  ``entity_id``; ``details`` is a JSON object.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from datetime import datetime

from sqlalchemy import insert

from attendant.core.clock import utc_now
from db.models import AuditEvent

AUDIT = AuditEvent.__table__
_NOTE: ContextVar[str | None] = ContextVar("attendant_audit_note", default=None)


def note_events(note: str | None) -> Token:
    """Add ``note`` (e.g. the CLI's ``--actor``: which script ran the command) as ``details["note"]`` to
    every event recorded in this context until :func:`end_note`. It never replaces the actor, which is
    always the authenticated user (issue "Trust": the audit actor cannot be chosen)."""
    return _NOTE.set(note)


def end_note(token: Token) -> None:
    """Stop adding the note set by :func:`note_events`."""
    _NOTE.reset(token)

_INSERT = insert(AUDIT)  # built once: executed with a parameter dict, it compiles once


def record(conn, *, facility_id: int | None, actor: str, action: str, entity: str, entity_id: int | None,
           details: dict | None, effective_at: datetime | None = None, now: datetime | None = None) -> None:
    """Append one audit event inside ``conn``'s transaction.

    ``now`` (default: the wall clock) is when it is recorded, ``effective_at``
    (default ``now``) the time the operation claims; both aware UTC.
    ``facility_id`` is None for installation-wide events (users).
    """
    now = now or utc_now()
    note = _NOTE.get()
    if note:
        details = {**(details or {}), "note": note}
    conn.execute(_INSERT, {
        "facility_id": facility_id,
        "at": now,
        "effective_at": effective_at or now,
        "actor": actor[:80],
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "details": details,
    })
