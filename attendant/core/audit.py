"""The audit log: one append-only row per state change, naming the actor, in a hash chain.

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

The chain (issue 9, "the audit log proves itself"; migration 0011_audit_chain)
-------------------------------------------------------------------------------
Each event also carries ``seq`` (its place in its chain: 1, 2, ...; see
"Concurrency" for the chains), ``rows`` (the non-personal fields of the rows it records, as they stand
when the transaction commits: for a parking session, the session with its
payments and gate openings; a payment, the same for its session; a user, its
name, role and active flag; a vend, a shift, a cash movement, an IOU: that row)
and ``hash``: SHA-256 (:mod:`hashlib`) over the canonical JSON of the event's
content, the digest of ``rows`` and ``prev_hash``, the hash of the event before
it (64 zeros for the first). Personal data is never hashed: plates, holder
names, contact details and ticket codes may be encrypted or erased later (the
retention rule) without breaking the chain, so they are left out of ``rows`` and
of the hashed ``details`` (:data:`PERSONAL_KEYS`).

Concurrency: :func:`record` only queues the event on the connection; just
before the transaction commits (SQLAlchemy's ``commit`` connection event) the
queued events are chained: the rows they seal are read (one statement: a
session with its payments and its vends), then a chain head is taken row-locked
and the events are inserted with the next places and hashes of that chain, and
the head is moved. On PostgreSQL that is two statements in all: the read also
takes the free head, and the inserts and the head's move are one statement. There are :data:`CHAINS` chains (migration
0017_audit_chains): a writer takes the first head no other transaction holds
(PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``), so booths chain side by side
and never queue behind each other's commit flush; with one writer at a time
(SQLite's ``BEGIN IMMEDIATE``, or a quiet site) everything lands in chain 1.
When every head is held the writer waits for chain 1. Each event names its
chain (``chain``) and its place in it (``seq``); ids are drawn after the lock,
so within a chain id order is chain order. Deleting or altering any event
breaks its own chain; cutting the newest events of a chain off shows against
its head row, and against a head written down earlier (:func:`short_head`
names the newest event of all chains and :func:`chain_heads` the rest).
A transaction that rolls back leaves nothing. :mod:`attendant.core.audit_verify`
checks the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    bindparam,
    event,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
    update,
)

from attendant.core.audit_note import NOTE, end_note, note_events  # noqa: F401 - re-exported
from attendant.core.clock import utc_now
from db.models import (
    AuditChainHead,
    AuditEvent,
    CashMovement,
    Iou,
    ParkingSession,
    Payment,
    Shift,
    User,
    Vend,
)

AUDIT = AuditEvent.__table__
HEAD = AuditChainHead.__table__
GENESIS = "0" * 64
_NOTE = NOTE
_PENDING = "attendant_audit_pending"  # key in the connection's info: (transaction, [events])

#: Keys of ``details`` left out of the hash at any depth: personal data that may be encrypted or erased
#: later (a key containing one of these words).
PERSONAL_KEYS = ("plate", "holder", "contact", "email", "phone", "display_name", "code")
#: ``details`` keys that contain a PERSONAL_KEYS word but are not personal (kept in the hash).
NOT_PERSONAL = frozenset({"validation_code", "facility_code"})

PS, PAY, VEND, U = ParkingSession.__table__, Payment.__table__, Vend.__table__, User.__table__
SH, CM, IOU = Shift.__table__, CashMovement.__table__, Iou.__table__

#: The non-personal columns of each table whose rows the chain seals (issue 9 item 4): never a plate,
#: holder name, contact or ticket code column.
SEALED: dict[str, tuple[str, ...]] = {
    "parking_session": ("id", "facility_id", "ticket_no", "spot_id", "vehicle_class", "spot_type",
                        "rate_plan_version_id", "status", "entry_lane", "exit_lane", "entry_at", "exit_at",
                        "amount_due", "amount_paid", "discount", "paid_at", "entry_actor", "exit_actor"),
    "payment": ("id", "facility_id", "session_id", "method", "status", "amount", "tendered", "change",
                "processor_ref", "lane", "created_at", "actor", "shift_id", "user_id", "refund_of_id"),
    "vend": ("id", "facility_id", "session_id", "lane", "direction", "source", "at", "actor", "outcome"),
    "app_user": ("id", "username", "role", "active"),
    "shift": ("id", "facility_id", "user_id", "status", "opened_at", "closed_at", "float_amount", "over_short",
              "closed_by"),
    "cash_movement": ("id", "facility_id", "shift_id", "kind", "amount", "at", "actor"),
    "iou": ("id", "facility_id", "session_id", "amount", "status", "created_at", "settled_at",
            "settled_payment_id"),
}
TABLES = {"parking_session": PS, "payment": PAY, "vend": VEND, "app_user": U, "shift": SH,
          "cash_movement": CM, "iou": IOU}
_COLS = {name: [TABLES[name].c[c] for c in cols] for name, cols in SEALED.items()}
_BY_ID = {name: select(*_COLS[name]).where(TABLES[name].c.id == bindparam("id")) for name in SEALED}
_P0, _PX = PAY.alias("p0"), PAY.alias("px")
_PAY_COLS = [_PX.c[c].label(f"p_{c}") for c in SEALED["payment"]]
#: A session with its payments, in one statement: by the session's id, or by the id of one of its payments.
_SESSION_PAYMENTS = select(*_COLS["parking_session"], *_PAY_COLS).outerjoin(_PX, _PX.c.session_id == PS.c.id)
_BUNDLE = {
    "parking_session": _SESSION_PAYMENTS.where(PS.c.id == bindparam("id")),
    "payment": _SESSION_PAYMENTS.join(_P0, _P0.c.session_id == PS.c.id).where(_P0.c.id == bindparam("id")),
}
_VENDS_OF = select(*_COLS["vend"]).where(VEND.c.session_id == bindparam("sid"))
_V_COLS = [VEND.c[c].label(f"v_{c}") for c in SEALED["vend"]]


def _bundle_statement(table: str):
    """A session with its payments and its vends in ONE statement (a round trip less per event than two):
    ``UNION ALL`` of the session joined to its payments (``kind`` 'p') and its vends (``kind`` 'v'), each
    branch's other columns NULL (typed, so SQLite's times still come back as aware datetimes)."""
    def nulls(cols):
        return [type_coerce(null(), c.type).label(c.name) for c in cols]

    sessions = _BUNDLE[table].add_columns(*nulls(_V_COLS)).add_columns(literal_column("'p'").label("kind"))
    if table == "parking_session":
        sid = bindparam("id")
    else:
        sid = select(_P0.c.session_id).where(_P0.c.id == bindparam("id")).scalar_subquery()
    vends = select(*nulls(_COLS["parking_session"]), *nulls(_PAY_COLS), *_V_COLS, literal_column("'v'")) \
        .where(VEND.c.session_id == sid)
    return union_all(sessions, vends)


#: :data:`_BUNDLE` with the session's vends, one statement each (:meth:`DatabaseRows.bundle`).
_BUNDLE_ALL = {table: _bundle_statement(table) for table in _BUNDLE}
_SESSION_OF = {"iou": select(IOU.c.session_id).where(IOU.c.id == bindparam("id")),
               "vend": select(VEND.c.session_id).where(VEND.c.id == bindparam("id"))}

CHAINS = 16
"""Parallel audit chains (head rows 1..CHAINS, migration 0017_audit_chains): more than the booths that write
at one instant, so a writer almost never waits for a head."""

WITNESSES = frozenset({"shift.close", "audit.checkpoint"})
"""Actions whose event also records every other chain's head (``details[WITNESS_KEY]``: ``{chain: [seq,
hash prefix]}``), so the head a supervisor writes down from it (a shift report) anchors every chain."""
WITNESS_KEY = "chain_heads"

#: The first head no other transaction holds (PostgreSQL; SQLite ignores the locking clause: chain 1).
_FREE_HEAD = select(HEAD.c.id, HEAD.c.seq, HEAD.c.hash).order_by(HEAD.c.id).limit(1) \
    .with_for_update(skip_locked=True)
_HEAD_LOCKED = select(HEAD.c.id, HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()


def _bundle_and_head_statement(table: str):
    """PostgreSQL: ``WITH free_head AS (<_FREE_HEAD>) SELECT head, bundle FROM one row LEFT JOIN free_head
    LEFT JOIN (<_BUNDLE_ALL[table]>)``: the head columns (``h_id``, ``h_seq``, ``h_hash``; NULL when every head
    is held) on every row of the bundle, and one row even when the bundle has none."""
    free = _FREE_HEAD.cte("free_head")
    bundle = _BUNDLE_ALL[table].subquery("bundle")
    one = select(literal_column("1").label("one")).subquery("one")
    return select(free.c.id.label("h_id"), free.c.seq.label("h_seq"), free.c.hash.label("h_hash"), *bundle.c) \
        .select_from(one.outerjoin(free, true()).outerjoin(bundle, true()))


_BUNDLE_AND_HEAD = {table: _bundle_and_head_statement(table) for table in _BUNDLE}
_LAST_EVENT = select(AUDIT.c.id, AUDIT.c.seq, AUDIT.c.hash).where(AUDIT.c.seq.is_not(None), AUDIT.c.chain == 1) \
    .order_by(AUDIT.c.seq.desc()).limit(1)
_INSERT = insert(AUDIT).returning(AUDIT.c.id)  # built once: executed with a parameter dict, it compiles once
_MOVE_HEAD = update(HEAD).where(HEAD.c.id == bindparam("chain_id"))
_INSERT_COLUMNS = ("facility_id", "at", "effective_at", "actor", "action", "entity", "entity_id", "details", "seq",
                   "chain", "prev_hash", "hash", "rows")
_INSERT_AND_MOVE: dict[int, object] = {}


def _insert_and_move(n: int):
    """PostgreSQL: insert ``n`` events (parameters ``<column>_<i>``) and move the head (``chain_id``, ``seq``,
    ``hash``) to the last of them in ONE statement (a data-modifying ``WITH``), returning the last event's id:
    one round trip instead of ``n + 1``. Built once per ``n``."""
    stmt = _INSERT_AND_MOVE.get(n)
    if stmt is None:
        # INSERT ... SELECT of typed parameters ordered by seq (a multi-row VALUES has no cache key: SQLAlchemy
        # would compile it on every call); ids are drawn in that order, the chain's
        rows = union_all(*(select(*(bindparam(f"{c}_{i}", type_=AUDIT.c[c].type).label(c) for c in _INSERT_COLUMNS))
                           for i in range(n))).subquery("new_events")
        inserted = insert(AUDIT).from_select(_INSERT_COLUMNS, select(rows).order_by(rows.c.seq)) \
            .returning(AUDIT.c.id).cte("inserted")
        stmt = _INSERT_AND_MOVE[n] = (
            update(HEAD).where(HEAD.c.id == bindparam("chain_id"))
            .values(seq=bindparam("seq"), hash=bindparam("hash"),
                    event_id=select(func.max(inserted.c.id)).scalar_subquery())
            .returning(HEAD.c.event_id)
        )
    return stmt


def record(conn, *, facility_id: int | None, actor: str, action: str, entity: str, entity_id: int | None,
           details: dict | None, effective_at: datetime | None = None, now: datetime | None = None) -> None:
    """Append one audit event to ``conn``'s transaction: written, sealed and chained when it commits.

    ``now`` (default: the wall clock) is when it is recorded, ``effective_at``
    (default ``now``) the time the operation claims; both aware UTC.
    ``facility_id`` is None for installation-wide events (users). The rows
    ``entity``/``entity_id`` names (and its session's) are read at commit, so
    the event seals what the transaction leaves. ``conn``'s transaction
    (``engine.begin()``, ``conn.begin()``; begun here if none is) writes it
    as it commits; one that rolls back records nothing. Savepoints are not
    followed: an event recorded inside one rolled back is still written (the
    services use none).
    """
    now = now or utc_now()
    note = _NOTE.get()
    if note:
        details = {**(details or {}), "note": note}
    if details is not None:
        details = json.loads(json.dumps(details, default=_json_default))  # what the JSON column gives back
    transaction = conn.get_transaction() or conn.begin()  # as the next statement would (autobegin)
    queued = conn.info.get(_PENDING)
    if queued is None or queued[0] is not transaction:
        queued = conn.info[_PENDING] = (transaction, [])
    queued[1].append({
        "facility_id": facility_id,
        "at": now,
        "effective_at": effective_at or now,
        "actor": actor[:80],
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "details": details,
    })


@event.listens_for(Engine, "commit")
def _chain_on_commit(conn) -> None:
    """Just before ``conn`` commits: chain the events :func:`record` queued in this transaction."""
    if conn.invalidated:  # the connection is gone (its commit fails too): nothing to chain on it
        return
    queued = conn.info.pop(_PENDING, None)
    if queued and queued[1] and queued[0] is conn.get_transaction():
        append_events(conn, queued[1])


@event.listens_for(Engine, "rollback")
def _drop_on_rollback(conn) -> None:
    # an invalidated connection (server gone) must not be touched: reading its info would try to reconnect
    # inside the failed transaction; its queue is dropped with it, or refused later as another transaction's
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


def append_events(conn, events: list[dict]) -> int | None:
    """Seal and chain ``events`` (dicts of :func:`record`'s columns) inside ``conn``'s transaction; the last id.

    Takes the first chain head no other transaction holds, row-locked until
    this transaction ends (all held: waits for chain 1). Rebuilds a missing
    head of chain 1 from its newest event.
    """
    reader = DatabaseRows(conn, {})
    # the rows first: this transaction wrote them and holds them; the head's lock is then held only for the
    # inserts, the head's move and the commit
    head = None
    if conn.dialect.name == "postgresql":  # the first session's rows and a free head in one statement
        first = next((ev for ev in events if ev["entity"] in _BUNDLE and ev["entity_id"] is not None), None)
        if first is not None:
            head = reader.bundle_and_free_head(first["entity"], first["entity_id"])
    sealed_rows = [rows_for(reader, ev["entity"], ev["entity_id"]) for ev in events]
    head = head or conn.execute(_FREE_HEAD).first() or conn.execute(_HEAD_LOCKED).first()
    if head is None:
        last = conn.execute(_LAST_EVENT).first()
        chain, seq, prev = (1, last.seq, last.hash) if last is not None else (1, 0, GENESIS)
        conn.execute(insert(HEAD).values(id=1, seq=seq, event_id=last.id if last else None, hash=prev))
    else:
        chain, seq, prev = head[0], head[1], head[2]
    event_id = None
    if any(ev["action"] in WITNESSES for ev in events):
        seen = {str(k): [s, h[:16]] for k, (s, _, h) in chain_heads(conn).items() if k != chain and s}
        events = [{**ev, "details": {**(ev["details"] or {}), WITNESS_KEY: seen}} if ev["action"] in WITNESSES
                  else ev for ev in events]
    chained = []
    for ev, rows in zip(events, sealed_rows):
        seq += 1
        sealed = {**ev, "chain": chain, "seq": seq, "rows": rows, "prev_hash": prev}
        sealed["hash"] = prev = event_hash(sealed)
        chained.append(sealed)
    if conn.dialect.name == "postgresql":  # one statement: the events and the head's move
        params = {"chain_id": chain, "seq": seq, "hash": prev}
        for i, sealed in enumerate(chained):
            params.update({f"{c}_{i}": sealed[c] for c in _INSERT_COLUMNS})
        return conn.execute(_insert_and_move(len(chained)), params).scalar_one()
    for sealed in chained:
        event_id = conn.execute(_INSERT, sealed).scalar_one()
    conn.execute(_MOVE_HEAD, {"chain_id": chain, "seq": seq, "event_id": event_id, "hash": prev})
    return event_id


# ------------------------------------------------------------------ hashing
def _json_default(value):
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def iso_utc(value: datetime | None) -> str | None:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds): the chain's one spelling of a time."""
    if value is None:
        return None
    if value.tzinfo is None:  # read back naive from a SQLite column without the UTC type
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``: sorted keys, no spaces, UTF-8, times as :func:`iso_utc`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default).encode()


def _personal(key: str) -> bool:
    low = key.lower()
    return low not in NOT_PERSONAL and any(word in low for word in PERSONAL_KEYS)


def hashed_details(details: Any) -> Any:
    """``details`` without its personal keys (:data:`PERSONAL_KEYS`), at any depth: what the hash covers."""
    if isinstance(details, dict):
        return {k: hashed_details(v) for k, v in details.items() if not _personal(str(k))}
    if isinstance(details, list):
        return [hashed_details(v) for v in details]
    return details


def rows_digest(rows: dict | None) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's sealed rows."""
    return hashlib.sha256(canonical(rows or {})).hexdigest()


def event_hash(ev) -> str:
    """The SHA-256 (hex) an event carries: over its place, content, rows digest and previous hash.

    ``ev``: a mapping or row with ``seq, facility_id, at, effective_at, actor,
    action, entity, entity_id, details, rows, prev_hash`` and ``chain``
    (times aware UTC). The chain is hashed only when it is not 1, so events
    chained before there were several chains keep their hashes.
    """
    get = ev.__getitem__ if isinstance(ev, dict) else ev._mapping.__getitem__
    mapping = ev if isinstance(ev, dict) else ev._mapping
    chain = mapping.get("chain") or 1
    content = {
        "seq": get("seq"),
        "facility_id": get("facility_id"),
        "at": iso_utc(get("at")),
        "effective_at": iso_utc(get("effective_at")),
        "actor": get("actor"),
        "action": get("action"),
        "entity": get("entity"),
        "entity_id": get("entity_id"),
        "details": hashed_details(get("details")),
        "rows": rows_digest(get("rows")),
        "prev_hash": get("prev_hash"),
    }
    if chain != 1:
        content["chain"] = chain
    return hashlib.sha256(canonical(content)).hexdigest()


# ------------------------------------------------------------------ sealed rows
def sealed_fields(table: str, row) -> dict:
    """The sealed (non-personal) fields of a ``table`` row, times as :func:`iso_utc` strings."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return {col: _plain(mapping[col]) for col in SEALED[table]}


class DatabaseRows:
    """Reads the rows an event seals from ``conn``, each at most once per transaction (``seen``): a session
    with its payments in one statement, its vends in another."""

    def __init__(self, conn, seen: dict) -> None:
        self.conn, self.seen = conn, seen

    def row(self, table: str, row_id: int) -> dict | None:
        key = (table, row_id)
        if key not in self.seen:
            found = self.conn.execute(_BY_ID[table], {"id": row_id}).first()
            self.seen[key] = sealed_fields(table, found) if found is not None else None
        return self.seen[key]

    def session_of(self, table: str, row_id: int) -> int | None:
        key = ("session_of", table, row_id)
        if key not in self.seen:
            self.seen[key] = self.conn.execute(_SESSION_OF[table], {"id": row_id}).scalar()
        return self.seen[key]

    def bundle(self, table: str, row_id: int) -> tuple[dict | None, list[dict], list[dict]]:
        """The session ``table`` (parking_session or payment) ``row_id`` belongs to, its payments, its vends."""
        key = ("bundle", table, row_id)
        if key in self.seen:
            return self.seen[key]
        return self._bundle_of(table, row_id, self.conn.execute(_BUNDLE_ALL[table], {"id": row_id}))

    def bundle_and_free_head(self, table: str, row_id: int):
        """PostgreSQL: :meth:`bundle` and the first chain head no other transaction holds (row-locked, ``FOR
        UPDATE SKIP LOCKED``) in ONE statement; returns the head ``(id, seq, hash)`` or None when every head
        is held (the bundle is read either way)."""
        rows = self.conn.execute(_BUNDLE_AND_HEAD[table], {"id": row_id}).all()
        self._bundle_of(table, row_id, rows)
        first = rows[0] if rows else None
        return (first.h_id, first.h_seq, first.h_hash) if first is not None and first.h_id is not None else None

    def _bundle_of(self, table: str, row_id: int, result):
        key = ("bundle", table, row_id)
        session, payments, vends = None, [], []
        for row in result:
            mapping = row._mapping
            if row.kind is None:  # bundle_and_free_head: the head's row alone (no such session)
                continue
            if row.kind == "v":
                vends.append({c: _plain(mapping[f"v_{c}"]) for c in SEALED["vend"]})
                continue
            session = session or sealed_fields("parking_session", row)
            if row.p_id is not None:
                payments.append({c: _plain(mapping[f"p_{c}"]) for c in SEALED["payment"]})
        if session is None:
            vends = []
        out = self.seen[key] = (session, payments, vends)
        if session:
            self.seen[("bundle", "parking_session", session["id"])] = out
        for p in payments:
            self.seen[("bundle", "payment", p["id"])] = out
        return out


def _plain(value):
    return iso_utc(value) if isinstance(value, datetime) else value


def rows_for(reader, entity: str, entity_id: int | None) -> dict:
    """``{table: {str(id): fields}}``: the rows an event on ``entity``/``entity_id`` seals.

    A parking session, a payment, a vend with a session and an IOU seal the
    session with all its payments and vends (a refund marks the original
    payment, an exit writes the vend); a user, shift, cash movement or vend
    without a session, that row (a cash movement also its shift). Other
    entities (facility, rates, validations, passes, bays) seal no rows.
    """
    out: dict[str, dict[str, dict]] = {}
    if entity_id is None or entity not in SEALED:
        return out

    def put(table: str, fields: dict | None) -> None:
        if fields is not None:
            out.setdefault(table, {})[str(fields["id"])] = fields

    bundle = None
    if entity in ("parking_session", "payment"):
        bundle = reader.bundle(entity, entity_id)
    elif entity in ("iou", "vend"):
        put(entity, reader.row(entity, entity_id))
        session_id = reader.session_of(entity, entity_id)
        if session_id is not None:
            bundle = reader.bundle("parking_session", session_id)
    else:
        put(entity, reader.row(entity, entity_id))
        if entity == "cash_movement" and out.get(entity):
            put("shift", reader.row("shift", out[entity][str(entity_id)]["shift_id"]))
    if bundle is not None:
        session, payments, vends = bundle
        put("parking_session", session)
        for fields in payments:
            put("payment", fields)
        for fields in vends:
            put("vend", fields)
    return out


# ------------------------------------------------------------------ the head
def chain_heads(conn) -> dict[int, tuple[int, int | None, str]]:
    """``{chain: (seq, event_id, hash)}`` of every chain's newest event (``(0, None, GENESIS)`` when empty)."""
    rows = conn.execute(select(HEAD.c.id, HEAD.c.seq, HEAD.c.event_id, HEAD.c.hash).order_by(HEAD.c.id)).all()
    return {int(r.id): (int(r.seq), r.event_id, r.hash) for r in rows}


def chain_head(conn) -> tuple[int, int | None, str]:
    """``(seq, event_id, hash)`` of the newest event of all chains, by id (``(0, None, GENESIS)`` before the
    first)."""
    heads = [h for h in chain_heads(conn).values() if h[1] is not None]
    if not heads:
        return 0, None, GENESIS
    return max(heads, key=lambda h: h[1])


def event_seal(conn, action: str, entity: str, entity_id: int) -> str | None:
    """``#<event id> <16 hex digits>`` of the newest ``action`` event on ``entity``/``entity_id`` (None: none).

    A closed shift's report names its ``shift.close`` event this way: the
    head the chain had right after the close, the same on every reprint.
    """
    row = conn.execute(select(AUDIT.c.id, AUDIT.c.hash).where(
        AUDIT.c.entity == entity, AUDIT.c.entity_id == entity_id, AUDIT.c.action == action)
        .order_by(AUDIT.c.id.desc()).limit(1)).first()
    return f"#{row.id} {row.hash[:16]}" if row is not None and row.hash else None


def short_head(engine_or_conn) -> str:
    """The chain head as a supervisor writes it down: ``#<event id> <first 16 hex digits>`` (or ``empty``)."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect().execution_options(readonly=True) as conn:
            seq, event_id, digest = chain_head(conn)
    else:
        seq, event_id, digest = chain_head(engine_or_conn)
    if event_id is None:
        return "empty"
    return f"#{event_id} {digest[:16]}"
