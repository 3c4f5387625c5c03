"""The lists a booth needs (issue 12 item 7): vehicles inside and recent transactions, searchable.

Two reads over one facility's store (:class:`attendant.core.store.FacilityStore`,
the same the console, the CLI and the API use), each filtered by one search
text that matches a plate or a ticket:

- :func:`vehicles_inside`: the open sessions, newest entry first
  (:class:`attendant.core.views.SessionView`);
- :func:`recent_transactions`: the newest payment rows (every status, refunds
  too), newest first (:class:`TransactionRow`), with the session they paid.

Search rule (:func:`matches`): the text with spaces, dashes and dots removed,
upper-cased, is a substring of the plate's normal form
(:func:`attendant.core.plates.normalize_plate`), or, if it is all digits, of
the eight-digit ticket number (``42`` finds ``00000042``); an empty text
matches everything. Plates are stored sealed (personal data), so the filter
runs on the decrypted rows of the window read (at most ``window`` rows, the
newest); money is minor units, times aware UTC. Read-only: no audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from attendant.core.store import PAY, PS, SESSION_IS_OPEN, sessions_with_bay
from attendant.core.tickets import format_ticket_no
from attendant.core.views import SessionView

_SEPARATORS = re.compile(r"[\s\-.·]+")
SEARCH_MAX = 24
"""The longest search text, characters."""


@dataclass(frozen=True, slots=True)
class TransactionRow:
    """One payment row as the booth's list shows it. ``amount`` minor units (refunds negative)."""

    payment_id: int
    at: datetime
    ticket_no: str
    code: str | None  # the session's ticket code (None when its signing key is gone): for a lookup
    plate: str | None
    method: str
    amount: int
    status: str
    lane: str | None
    actor: str
    session_status: str  # the session's status now: open (still inside) or closed


def search_key(text: str | None) -> str:
    """The normal form of a search text: separators removed, upper case, at most :data:`SEARCH_MAX`."""
    return _SEPARATORS.sub("", text or "").upper()[:SEARCH_MAX]


def matches(query: str, ticket_no: str, plate: str | None) -> bool:
    """True when ``query`` (a :func:`search_key`) finds the plate or the ticket number (see the module)."""
    if not query:
        return True
    if plate and query in search_key(plate):
        return True
    return query.isdigit() and query in ticket_no


def vehicles_inside(store, query: str | None = None, *, limit: int = 200, window: int = 10_000) -> list[SessionView]:
    """Open sessions of ``store``'s facility matching ``query``, newest entry first, at most ``limit``."""
    key = search_key(query)
    with store._reading() as conn:
        rows = conn.execute(
            sessions_with_bay().where(PS.c.facility_id == store.facility.id, SESSION_IS_OPEN)
            .order_by(PS.c.entry_at.desc(), PS.c.id.desc()).limit(window)
        ).all()
    out: list[SessionView] = []
    for row in rows:
        view = store._view(row)
        if matches(key, view.ticket_no, view.plate):
            out.append(view)
            if len(out) >= limit:
                break
    return out


def recent_transactions(store, query: str | None = None, *, limit: int = 100,
                        window: int = 2_000) -> list[TransactionRow]:
    """The newest payment rows of ``store``'s facility (the last ``window``) matching ``query``, newest first."""
    key = search_key(query)
    with store._reading() as conn:
        rows = conn.execute(
            select(PAY.c.id, PAY.c.created_at, PAY.c.method, PAY.c.amount, PAY.c.status, PAY.c.lane, PAY.c.actor,
                   PS.c.ticket_no, PS.c.code, PS.c.plate, PS.c.status.label("session_status"))
            .join(PS, PS.c.id == PAY.c.session_id)
            .where(PAY.c.facility_id == store.facility.id)
            .order_by(PAY.c.id.desc()).limit(window)
        ).all()
    out: list[TransactionRow] = []
    for r in rows:
        ticket_no = format_ticket_no(r.ticket_no)
        plate = store.data.open(r.plate)
        if not matches(key, ticket_no, plate):
            continue
        out.append(TransactionRow(r.id, r.created_at, ticket_no, store._code_of(r.ticket_no, r.code), plate,
                                  r.method, r.amount, r.status, r.lane, r.actor, r.session_status))
        if len(out) >= limit:
            break
    return out
