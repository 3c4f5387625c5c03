"""Checking and reading the audit log (issue 9 item 4): ``attendant audit verify`` and ``audit show``.

:func:`verify` walks the events in id order (one read transaction) and checks,
for every event, that it takes the next place of its chain (``chain``,
``seq``; :mod:`attendant.core.audit` keeps several chains side by side), that
it names the hash of the event before it in that chain (``prev_hash``) and
that its content and sealed rows still give its own hash; then that each
chain's head row names its last event, and that every chain head an event
witnessed (a ``shift.close`` records them all, see
:data:`attendant.core.audit.WITNESSES`) is still in its chain with that hash;
then that every sealed row (parking sessions, payments, vends, users, shifts,
cash movements, IOUs) is as the last event that recorded it saw it; then the
money: each session's completed payments sum to its ``amount_paid``, and each
facility's payments sum to what its report over the same days says.

The first problem found in that order is the *first broken link*: the event
it names and what differs. An edited event breaks its own hash; a deleted,
inserted or reordered one breaks the link of the event after it; an edited
payment, session or user no longer matches what its last event sealed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, select

from attendant.core import audit
from attendant.core.store import FacilityStore
from attendant.core.views import COUNTED

AUDIT = audit.AUDIT
_EVENT_COLS = [AUDIT.c[c] for c in ("id", "chain", "seq", "facility_id", "at", "effective_at", "actor", "action",
                                    "entity", "entity_id", "details", "rows", "prev_hash", "hash")]


#: Tables every row of which some event must seal (shifts, cash movements and IOUs are checked when sealed).
MUST_BE_RECORDED = ("parking_session", "payment", "vend", "app_user")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing :func:`verify` found wrong: ``kind`` (``content``, ``link``, ``unchained``, ``head``,
    ``row``, ``unrecorded``, ``money``), the event it names (None: none) and what differs."""

    kind: str
    event_id: int | None
    message: str


@dataclass(slots=True)
class Verification:
    """What :func:`verify` found: ``ok`` when no problem; ``events`` checked; the head as stored."""

    events: int = 0
    head_seq: int = 0
    head_event_id: int | None = None
    head_hash: str = audit.GENESIS
    rows_checked: int = 0
    sessions_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The first broken link (None when the chain holds)."""
        return self.problems[0] if self.problems else None

    def to_json_dict(self) -> dict:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": {"seq": self.head_seq, "event_id": self.head_event_id, "hash": self.head_hash,
                     "short": f"#{self.head_event_id} {self.head_hash[:16]}" if self.head_event_id else "empty"},
            "rows_checked": self.rows_checked,
            "sessions_checked": self.sessions_checked,
            "first_broken": asdict(self.first) if self.first else None,
            "problems": [asdict(p) for p in self.problems],
        }


def _what(row) -> str:
    return f"event {row.id} ({row.action} by {row.actor})"


def verify(engine, *, limit: int = 50, expect_head: str | None = None) -> Verification:
    """Check the chain, the sealed rows and the money of ``engine``'s database (read only).

    ``limit``: at most this many problems are listed (the first is always the
    first broken link). ``expect_head``: a head written down earlier
    (``#<event id> <hash prefix>``, as printed on shift reports, or a hash
    prefix): the event it names must still be in the chain with that hash.
    """
    out = Verification()
    problems = out.problems

    def found(kind: str, event_id: int | None, message: str) -> None:
        if len(problems) < limit:
            problems.append(Problem(kind, event_id, message))

    latest: dict[tuple[str, str], tuple[int, dict]] = {}
    by_id: dict[int, str] = {}
    with engine.connect().execution_options(readonly=True) as conn:
        out.head_seq, out.head_event_id, out.head_hash = audit.chain_head(conn)
        heads = audit.chain_heads(conn)
        last: dict[int, tuple[str, int, int | None]] = {}  # chain -> (hash, seq, id) of its newest event so far
        at_place: dict[tuple[int, int], str] = {}
        witnessed: list[tuple[int, dict]] = []
        result = conn.execution_options(yield_per=2000).execute(select(*_EVENT_COLS).order_by(AUDIT.c.id))
        for row in result:
            out.events += 1
            if row.hash is None or row.seq is None:
                found("unchained", row.id, f"{_what(row)} is not in the chain (no place or hash): written "
                                           "outside the application")
                continue
            chain = row.chain or 1
            prev_hash, prev_seq, prev_id = last.get(chain, (audit.GENESIS, 0, None))
            where = "the chain" if chain == 1 else f"chain {chain}"
            if row.seq != prev_seq + 1:
                if row.seq > prev_seq + 1:
                    missing = row.seq - prev_seq - 1
                    found("link", row.id, f"{_what(row)} is at place {row.seq} of {where} but the event before "
                                          f"it{f' (id {prev_id})' if prev_id else ''} is at place {prev_seq}: "
                                          f"{missing} event{'s' if missing > 1 else ''} deleted")
                else:
                    found("link", row.id, f"{_what(row)} is at place {row.seq} of {where}, after place "
                                          f"{prev_seq}: events reordered or inserted")
            elif row.prev_hash != prev_hash:
                found("link", row.id, f"{_what(row)} follows hash {str(row.prev_hash)[:16]} but the event before "
                                      f"it{f' (id {prev_id})' if prev_id else ''} has hash {prev_hash[:16]}: an "
                                      "event before it was replaced")
            recomputed = audit.event_hash(row)
            if recomputed != row.hash:
                found("content", row.id, f"{_what(row)} was changed after it was recorded: its content hashes to "
                                         f"{recomputed[:16]}, its seal says {row.hash[:16]}")
            for table, rows in (row.rows or {}).items():
                for rid, fields in rows.items():
                    latest[(table, rid)] = (row.id, fields)
            if isinstance(row.details, dict) and isinstance(row.details.get(audit.WITNESS_KEY), dict):
                witnessed.append((row.id, row.details[audit.WITNESS_KEY]))
            by_id[row.id] = row.hash
            at_place[(chain, row.seq)] = row.hash
            last[chain] = (row.hash, row.seq, row.id)
        for chain in sorted(set(heads) | set(last)):
            head_seq, head_id, head_hash = heads.get(chain, (0, None, audit.GENESIS))
            prev_hash, prev_seq, prev_id = last.get(chain, (audit.GENESIS, 0, None))
            if (head_seq, head_id, head_hash) != (prev_seq, prev_id, prev_hash) and (head_seq or prev_seq):
                where = "the chain head" if chain == 1 else f"the head of chain {chain}"
                found("head", head_id,
                      f"{where} names event {head_id} (place {head_seq}, hash {head_hash[:16]}) but the last "
                      f"event is {prev_id} (place {prev_seq}, hash {prev_hash[:16]})"
                      + (": the newest events were deleted" if head_seq > prev_seq else ""))
        for event_id, seen in witnessed:
            for chain_key, (seq, prefix) in seen.items():
                have = at_place.get((int(chain_key), int(seq)))
                if have is None:
                    found("head", event_id, f"event {event_id} saw chain {chain_key} at place {seq} "
                                            f"({prefix}), which is no longer there: the newest events were deleted")
                elif not have.startswith(prefix):
                    found("head", event_id, f"event {event_id} saw chain {chain_key} at place {seq} with hash "
                                            f"{prefix}, it now has {have[:16]}: the chain was rewritten")
        if expect_head:
            _check_expected(expect_head, by_id, found)
        _check_rows(conn, latest, out, found)
        _check_money(conn, out, found)
    if not problems:
        return out
    return out


def _check_expected(expect: str, by_id: dict[int, str], found) -> None:
    text = expect.strip().lstrip("#")
    parts = text.split()
    if len(parts) == 2 and parts[0].isdigit():
        eid, prefix = int(parts[0]), parts[1].lower()
        if eid not in by_id:
            found("head", eid, f"the head written down (event {eid}, {prefix}) is no longer in the chain")
        elif not by_id[eid].startswith(prefix):
            found("head", eid, f"event {eid} now has hash {by_id[eid][:16]}, the head written down says {prefix}: "
                               "the chain was rewritten")
    else:
        prefix = text.lower()
        if not any(h.startswith(prefix) for h in by_id.values()):
            found("head", None, f"no event of the chain has the hash written down ({prefix}): the chain was "
                                "rewritten")


def _describe(table: str, fields: dict) -> str:
    if table == "parking_session":
        return f"parking session {fields['id']} (ticket {fields.get('ticket_no')})"
    if table == "app_user":
        return f"user {fields['id']} ({fields.get('username')})"
    return f"{table.replace('_', ' ')} {fields['id']}"


def _check_rows(conn, latest: dict, out: Verification, found) -> None:
    for table in audit.SEALED:
        for row in conn.execution_options(yield_per=5000).execute(select(*audit._COLS[table])
                                                                  .order_by(audit.TABLES[table].c.id)):
            out.rows_checked += 1
            now = audit.sealed_fields(table, row)
            seen = latest.pop((table, str(row.id)), None)
            if seen is None and table in MUST_BE_RECORDED:
                found("unrecorded", None, f"{_describe(table, now)} is in no audit event: written outside the "
                                          "application")
                continue
            if seen is None:
                continue
            event_id, sealed = seen
            diffs = [f"{k} is {now.get(k)!r}, recorded {sealed.get(k)!r}" for k in audit.SEALED[table]
                     if now.get(k) != sealed.get(k)]
            if diffs:
                found("row", event_id, f"{_describe(table, now)} differs from what event {event_id} sealed: "
                                       + "; ".join(diffs))
    for (table, rid), (event_id, sealed) in sorted(latest.items(), key=lambda kv: kv[1][0]):
        found("row", event_id, f"{_describe(table, sealed)}, sealed by event {event_id}, was deleted")


def _check_money(conn, out: Verification, found) -> None:
    """Each session's completed payments sum to its ``amount_paid``; each facility's report total equals its
    payments (over every day that has one)."""
    from attendant.core.facilities import list_facilities
    from db.models import ParkingSession, Payment

    pay, ps = Payment.__table__, ParkingSession.__table__
    sums = dict(conn.execute(select(pay.c.session_id, func.sum(pay.c.amount))
                             .where(pay.c.status.in_(COUNTED)).group_by(pay.c.session_id)).all())
    for sid, ticket_no, paid in conn.execute(select(ps.c.id, ps.c.ticket_no, ps.c.amount_paid).order_by(ps.c.id)):
        out.sessions_checked += 1
        total = int(sums.get(sid) or 0)
        if total != paid:
            found("money", None, f"parking session {sid} (ticket {ticket_no}): its payments sum to {total}, the "
                                 f"session says {paid} paid")
    engine = conn.engine
    for facility in list_facilities(engine):
        first, last, total = conn.execute(
            select(func.min(pay.c.created_at), func.max(pay.c.created_at), func.coalesce(func.sum(pay.c.amount), 0))
            .where(and_(pay.c.facility_id == facility.id, pay.c.status.in_(COUNTED)))).one()
        if first is None:
            continue
        from attendant.core.reports import range_report

        views = _ReportViews(engine, facility)
        start = _aware(first).astimezone(views.tz).date()
        end = _aware(last).astimezone(views.tz).date()
        from datetime import timedelta

        report = range_report(views, start, end + timedelta(days=1))
        if report.revenue != int(total):
            found("money", None, f"facility {facility.code}: payments sum to {int(total)}, the report for {start} .. "
                                 f"{end} says {report.revenue}")


class _ReportViews:
    """What :func:`attendant.core.reports.range_report` reads of a facility's services (no ticket secret
    needed: a restored database on another machine verifies too)."""

    def __init__(self, engine, facility) -> None:
        from zoneinfo import ZoneInfo

        self.engine, self.facility, self.tz = engine, facility, ZoneInfo(facility.timezone)

    @staticmethod
    def clock() -> datetime:
        return datetime.now(UTC)

    # the services' own rules of facility time (they read only ``tz``)
    day_bounds = FacilityStore.day_bounds
    local = FacilityStore.local


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------ reading
@dataclass(frozen=True, slots=True)
class EventView:
    """One audit event as ``audit show`` prints it (times aware UTC)."""

    id: int
    seq: int | None
    facility_id: int | None
    at: datetime
    effective_at: datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    details: dict | None
    hash: str | None
    chain: int = 1


def events(engine, *, since: datetime | None = None, actor: str | None = None, action: str | None = None,
           facility_id: int | None = None, limit: int | None = None) -> list[EventView]:
    """Audit events in id order: recorded at or after ``since``, by ``actor``, with ``action`` (exact, or a
    prefix ending in ``.``/``*``: ``payment.`` or ``payment.*``), of ``facility_id`` (and installation-wide
    ones); the newest ``limit`` when given."""
    stmt = select(AUDIT.c.id, AUDIT.c.seq, AUDIT.c.facility_id, AUDIT.c.at, AUDIT.c.effective_at, AUDIT.c.actor,
                  AUDIT.c.action, AUDIT.c.entity, AUDIT.c.entity_id, AUDIT.c.details, AUDIT.c.hash, AUDIT.c.chain)
    if since is not None:
        stmt = stmt.where(AUDIT.c.at >= since)
    if actor:
        stmt = stmt.where(AUDIT.c.actor == actor)
    if action:
        if action.endswith("*") or action.endswith("."):
            stmt = stmt.where(AUDIT.c.action.startswith(action.rstrip("*"), autoescape=True))
        else:
            stmt = stmt.where(AUDIT.c.action == action)
    if facility_id is not None:
        stmt = stmt.where((AUDIT.c.facility_id == facility_id) | AUDIT.c.facility_id.is_(None))
    if limit:
        stmt = stmt.order_by(AUDIT.c.id.desc()).limit(limit)
    else:
        stmt = stmt.order_by(AUDIT.c.id)
    with engine.connect().execution_options(readonly=True) as conn:
        rows = [EventView(*row) for row in conn.execute(stmt)]
    return sorted(rows, key=lambda e: e.id)
