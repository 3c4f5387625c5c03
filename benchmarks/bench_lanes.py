"""Entries and exits through the booth (the path both front ends take), against raw sqlite3 in the same run.

Usage: ``python benchmarks/bench_lanes.py [--vehicles N] [--rounds R] [--sync FULL|NORMAL] [--json]``

The services side is :class:`attendant.booth.Booth` with an entry lane and an
exit lane, each with a simulated barrier (``sim://``; no printer: paper is not
what is measured), on the demo facility (Charlotte Street CP, 1,056 bays) in
a SQLite file: ``Booth.enter(EntryRequest)``, then ``Booth.exit(ExitRequest)``
paid in cash (one transaction) for half the vehicles and by card through the
stand-in processor (two: the attempt is recorded before the processor is
asked) for the other half. Each exit records the gate opening.

The baseline does the same work with raw ``sqlite3`` on a copy of the same
database file, so the same schema with its indexes, foreign keys and triggers
(the change log's), the same rows (session, bay, vehicle, payment, vend,
audit event, the facility's ticket counter, a block of numbers at a time), the same ``PRAGMA`` settings (WAL,
``synchronous`` FULL by default, foreign keys on) and the same transactions:
an entry seals the plate (AES-256-GCM) and computes its blind indexes,
checks anti-passback and unpaid IOUs by them, looks for the plate's reservation
and the reservation holds due (one read), signs the ticket code and
stores its keyed hash (HMAC-SHA256; personal data at rest,
``attendant/core/personal_data.py``); an exit reads the session, checks the
code against its hash, opens the plate, reads its payments (what is paid, and
no payment pending), prices the stay with the same fee engine, and closes it;
a card exit records the attempt, asks the same stand-in processor, then
records the answer and the exit; after each commit it commands the same
simulated barrier. Each transaction's audit events are chained as it
commits, as the services chain them (attendant/core/audit.py): the chain head
read, the session with its payments and its gate openings read, each event
hashed (SHA-256) over its content, those rows and the previous hash, the head
moved. It is the transaction a careful hand-written booth would
run; the services may only add a statement where a rule needs it.

Prints per round and as medians: operations per second on both sides, their
ratio, and the statements per operation (counted on the connection) on both
sides. The machines are shared and noisy: read the ratios. Like the console
and the CLI, the run pauses the garbage collector while the libraries load
and freezes them before measuring (``attendant/startup.py``); both sides run
in that one process.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=2, minutes=30)
SECRET = b"b" * 32
AAD = b"attendant-personal-data/1"  # attendant/core/personal_data.py
GATE = "sim://"  # a simulated barrier (5 s hold, its own worker thread), on both sides


def prepare(folder: Path, sync: str) -> Path:
    """A SQLite file with the demo facility, made by the project's own migrations and layout."""
    os.environ["ATTENDANT_HOME"] = str(folder / "home")
    from attendant.keyfiles import ensure_site_secrets

    ensure_site_secrets()  # the site's ticket and personal-data keys, as `attendant init` makes them
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import load_layout
    from db.engine import make_engine

    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    examples = Path(__file__).resolve().parents[1] / "examples"
    create_facility(engine, load_layout(examples / "charlotte_street.toml"), actor=Actor("bench", Role.ADMIN))
    engine.dispose()  # the last connection closed: SQLite checkpoints the WAL into the file
    return path


class Counter:
    """Counts the statements a connection executes (SQLAlchemy's cursor events or sqlite3's trace)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *_args) -> None:
        self.n += 1


class TraceCounter(Counter):
    """Counts the statements sent on a sqlite3 connection from its trace callback.

    SQLite reports each trigger program a statement runs (the change log's,
    migration 0009) as one more trace of that same statement's text: a repeat
    is the database's own work, not a statement the booth sent, and is not
    counted (the triggers run on both sides: the same schema).
    """

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None

    def __call__(self, statement: str) -> None:
        if statement != self.last:
            self.n += 1
        self.last = statement


def bench_services(template: Path, folder: Path, n: int, sync: str) -> dict:
    from sqlalchemy import event

    from attendant.booth import Booth, EntryRequest, ExitRequest, Tender, open_services
    from db.engine import make_engine
    from hardware.config import parse_config

    path = folder / "services.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    if sync != "FULL":
        @event.listens_for(engine, "connect")
        def _sync(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA synchronous={sync}")
    count = Counter()
    for name in ("begin", "before_cursor_execute", "commit"):  # the BEGIN goes to the driver (db/engine.py)
        event.listen(engine, name, count)
    now = [T0]
    from attendant.core.payments import ProcessorRegistry

    # the stand-in processor keeps its ledger in memory here, as on the raw side
    service = open_services(engine, clock=lambda: now[0], processors=ProcessorRegistry(ledger=":memory:"))
    config = parse_config(
        """
        [[lanes]]
        code = "E1"
        name = "Entry 1"
        direction = "entry"
        gate = "{GATE}"
        [[lanes]]
        code = "X1"
        name = "Exit 1"
        direction = "exit"
        gate = "{GATE}"
        """.format(GATE=GATE),
        "bench.toml",
    )
    booth = Booth(service, config)
    from attendant.core.auth import Actor

    bench = Actor("bench", system=True)  # drives the lanes as the demo's replay does: no login, no shift
    try:
        start, before = time.perf_counter(), count.n
        codes = [booth.enter(EntryRequest(f"BEN{i:05d}", lane="E1"), actor=bench).entry.code for i in range(n)]
        entries = (n / (time.perf_counter() - start), (count.n - before) / n)
        now[0] = LATER
        half = n // 2
        start, before = time.perf_counter(), count.n
        for code in codes[:half]:
            booth.exit(ExitRequest(code, (Tender("cash", tendered=5000),), lane="X1"), actor=bench)
        cash = (half / (time.perf_counter() - start), (count.n - before) / half)
        start, before = time.perf_counter(), count.n
        for code in codes[half:]:
            booth.exit(ExitRequest(code, (Tender("card"),), lane="X1"), actor=bench)
        card = ((n - half) / (time.perf_counter() - start), (count.n - before) / (n - half))
    finally:
        booth.close()
        engine.dispose()
    return {"entries": entries, "cash": cash, "card": card}


def bench_raw(template: Path, folder: Path, n: int, sync: str) -> dict:
    from attendant.core.payments import StandInProcessor
    from attendant.core.rates import RatePlan, compute_fee

    path = folder / "raw.db"
    shutil.copy(template, path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", f"synchronous={sync}", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    count = TraceCounter()
    conn.set_trace_callback(count)  # every statement, BEGIN and COMMIT included, as on the services' side
    fid, code_prefix = conn.execute("SELECT id, code FROM facility").fetchone()
    # personal data at rest, as the rules ask of any booth: the plate sealed (AES-256-GCM), found by its keyed
    # blind indexes (HMAC-SHA256, exact and confusable-folded), the ticket code stored as its keyed hash
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from attendant.core.plate_match import canonical_form
    from attendant.keyfiles import load_data_keys

    keys = load_data_keys()
    aead, index_key, kid = AESGCM(keys.keys[keys.current]), keys.index_key, keys.current

    def blind(label: bytes, text: str) -> str:
        return hmac.digest(index_key, label + text.encode(), "sha256")[:16].hex()

    def seal(text: str) -> str:
        nonce = os.urandom(12)
        return f"{kid}:" + base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, text.encode(), AAD)).decode()

    def unseal(token: str) -> str:
        raw = base64.urlsafe_b64decode(token.partition(":")[2])
        return aead.decrypt(raw[:12], raw[12:], AAD).decode()

    plan_id, body = conn.execute("SELECT id, body FROM rate_plan_version WHERE active").fetchone()
    plan = RatePlan.from_dict(json.loads(body))
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(conn.execute("SELECT timezone FROM facility").fetchone()[0])
    card = StandInProcessor()
    from hardware.gates import open_gate

    gates = {lane: open_gate(GATE, lane=lane, name=lane) for lane in ("E1", "X1")}  # the same barriers

    def now() -> str:
        return datetime.now(UTC).isoformat(sep=" ")

    from attendant.core.audit import SEALED

    queued: list[dict] = []  # the transaction's audit events, chained at its commit (as the services do)
    s_cols = ", ".join(f's."{c}"' for c in SEALED["parking_session"])
    p_cols = ", ".join(f'p."{c}"' for c in SEALED["payment"])
    v_cols = ", ".join(f'"{c}"' for c in SEALED["vend"])

    def audit(action: str, entity: str, entity_id: int, details: dict, at: str, session_id: int) -> None:
        queued.append({"facility_id": fid, "at": now(), "effective_at": at, "actor": "bench", "action": action,
                       "entity": entity, "entity_id": entity_id, "details": details, "session_id": session_id})

    def canonical(value) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def commit() -> None:
        """The audit chain, then COMMIT: the session with its payments and its vends as they stand, the head
        row (locked: BEGIN IMMEDIATE), each event hashed over its content, those rows and the previous hash."""
        if queued:
            sid = queued[0]["session_id"]
            sealed: dict = {"parking_session": {}, "payment": {}, "vend": {}}
            n_s = len(SEALED["parking_session"])
            for row in conn.execute(f"SELECT {s_cols}, {p_cols} FROM parking_session s LEFT JOIN payment p "
                                    "ON p.session_id = s.id WHERE s.id = ?", (sid,)):
                sealed["parking_session"][str(row[0])] = dict(zip(SEALED["parking_session"], row[:n_s]))
                if row[n_s] is not None:
                    sealed["payment"][str(row[n_s])] = dict(zip(SEALED["payment"], row[n_s:]))
            for row in conn.execute(f"SELECT {v_cols} FROM vend WHERE session_id = ?", (sid,)):
                sealed["vend"][str(row[0])] = dict(zip(SEALED["vend"], row))
            digest = hashlib.sha256(canonical(sealed)).hexdigest()
            seq, prev = conn.execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1").fetchone()
            event_id = None
            for ev in queued:
                seq += 1
                content = {k: ev[k] for k in ("facility_id", "at", "effective_at", "actor", "action", "entity",
                                              "entity_id", "details")}
                content.update(seq=seq, rows=digest, prev_hash=prev)
                prev = hashlib.sha256(canonical(content)).hexdigest()
                event_id = conn.execute(
                    "INSERT INTO audit_event (facility_id, at, effective_at, actor, action, entity, entity_id, "
                    "details, seq, prev_hash, hash, rows) VALUES (?, ?, ?, 'bench', ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING id", (fid, ev["at"], ev["effective_at"], ev["action"], ev["entity"], ev["entity_id"],
                                     json.dumps(ev["details"]), seq, content["prev_hash"], prev,
                                     json.dumps(sealed))).fetchone()[0]
            conn.execute("UPDATE audit_chain_head SET seq = ?, event_id = ?, hash = ? WHERE id = 1",
                         (seq, event_id, prev))
            queued.clear()
        conn.execute("COMMIT")

    entry_at = T0.isoformat(sep=" ")
    start, before = time.perf_counter(), count.n
    codes = []
    numbers: list[int] = []  # ticket numbers reserved, a block at a time (1 in the first entry, then 2, 4 .. 20)
    block = 1
    for i in range(n):
        plate = f"BEN{i:05d}"
        if not numbers and block > 1:
            conn.execute("BEGIN IMMEDIATE")
            last = conn.execute("UPDATE facility SET next_ticket_no = next_ticket_no + ? WHERE id = ? "
                                "RETURNING next_ticket_no", (block, fid)).fetchone()[0]
            conn.execute("COMMIT")
            numbers, block = list(range(last - block + 1, last + 1)), min(2 * block, 20)
        conn.execute("BEGIN IMMEDIATE")
        if numbers:
            ticket_no = numbers.pop(0)
        else:
            ticket_no = conn.execute("UPDATE facility SET next_ticket_no = next_ticket_no + 1 WHERE id = ? "
                                     "RETURNING next_ticket_no", (fid,)).fetchone()[0]
            block = 2
        plate_hash, plate_fold, sealed = blind(b"plate:", plate), blind(b"fold:", canonical_form(plate)), seal(plate)
        inside, ious = conn.execute(  # anti-passback and unpaid IOUs in one look
            "SELECT (SELECT ticket_no FROM parking_session WHERE facility_id = ? AND plate_hash = ? AND "
            "status = 'open'), (SELECT count(*) FROM iou WHERE facility_id = ? AND plate_hash = ? AND status = 'open')",
            (fid, plate_hash, fid, plate_hash)).fetchone()
        if inside is not None or ious >= 3:
            raise SystemExit("refused")
        conn.execute(  # the reservations near the entry: the plate's, holds due (attendant/core/reservations.py)
            "SELECT * FROM reservation WHERE facility_id = ? AND status = 'booked' AND end_at > ? AND "
            "hold_from_at <= ? AND ((held_spot_id IS NULL AND hold_from_at <= ? AND no_show_at > ?) OR "
            "plate_hash = ? OR plate_fold = ?) ORDER BY start_at, id",
            (fid, entry_at, entry_at, entry_at, entry_at, plate_hash, plate_fold)).fetchall()
        spot_id, spot_type = conn.execute(  # the first free bay, nearest the entrance, claimed in one statement
            "UPDATE spot SET status = 'occupied' WHERE id = (SELECT id FROM spot WHERE facility_id = ? AND "
            "status = 'available' AND spot_type IN ('compact', 'regular', 'large') ORDER BY rank, id LIMIT 1) "
            "RETURNING id, spot_type", (fid,)).fetchone()
        vehicle_id = conn.execute(
            "INSERT INTO vehicle (plate, vehicle_class, ev, created_at) VALUES (?, 'car', 0, ?) ON CONFLICT (plate) "
            "DO UPDATE SET vehicle_class = excluded.vehicle_class, ev = excluded.ev RETURNING id",
            (plate_hash, now())).fetchone()[0]
        mac = hmac.new(SECRET, f"{code_prefix}-{ticket_no:08d}".encode(), hashlib.sha256).hexdigest()[:16]
        code = f"{code_prefix}-{ticket_no:08d}-{mac.upper()}"
        code_hash = hmac.digest(index_key, b"ticket:" + code.encode(), "sha256").hex()
        session_id = conn.execute(
            "INSERT INTO parking_session (facility_id, ticket_no, code, vehicle_id, plate, plate_hash, plate_fold, "
            "vehicle_class, ev, spot_id, spot_type, rate_plan_version_id, status, entry_lane, entry_at, amount_paid, "
            "discount, entry_actor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'car', 0, ?, ?, ?, 'open', 'E1', ?, 0, 0, 'bench') RETURNING id",
            (fid, ticket_no, code_hash, vehicle_id, sealed, plate_hash, plate_fold, spot_id, spot_type, plan_id,
             entry_at)).fetchone()[0]
        conn.execute("INSERT INTO vend (facility_id, lane, direction, source, reason, session_id, at, actor, outcome)"
                     " VALUES (?, 'E1', 'entry', 'ticket', NULL, ?, ?, 'bench', 'opened')", (fid, session_id, entry_at))
        audit("session.enter", "parking_session", session_id,
              {"ticket_no": ticket_no, "plate_ref": plate_hash, "vehicle_class": "car", "spot": spot_id, "lane": "E1"},
              entry_at, session_id)
        commit()
        gates["E1"].vend("ticket")
        codes.append((ticket_no, code))
    entries = (n / (time.perf_counter() - start), (count.n - before) / n)

    exit_at = LATER.isoformat(sep=" ")

    def read(ticket_no: int, code: str):
        row = conn.execute(
            "SELECT s.id, s.entry_at, s.spot_id, s.spot_type, s.paid_at, s.status, sp.label, l.name, s.code, s.plate "
            "FROM parking_session s JOIN spot sp ON sp.id = s.spot_id JOIN level l ON l.id = sp.level_id "
            "WHERE s.facility_id = ? AND s.ticket_no = ?", (fid, ticket_no)).fetchone()
        if row[8] != hmac.digest(index_key, b"ticket:" + code.encode(), "sha256").hex():
            raise SystemExit("not the code issued")
        unseal(row[9])  # the plate, for the receipt
        payments = conn.execute("SELECT id, amount, status FROM payment WHERE session_id = ? ORDER BY id",
                                (row[0],)).fetchall()
        return row, payments

    def close(row, fee, paid: int, source: str) -> None:
        lines = json.dumps([{"label": ln.label, "minutes": ln.minutes, "amount": ln.amount} for ln in fee.lines])
        conn.execute("UPDATE parking_session SET status = 'closed', exit_at = ?, exit_lane = 'X1', amount_due = ?, "
                     "amount_paid = ?, fee_lines = ?, exit_actor = 'bench', exit_reason = NULL WHERE id = ?",
                     (exit_at, fee.amount, paid, lines, row[0]))
        conn.execute("UPDATE spot SET status = 'available' WHERE id = ?", (row[2],))
        conn.execute("INSERT INTO vend (facility_id, lane, direction, source, reason, session_id, at, actor, outcome)"
                     " VALUES (?, 'X1', 'exit', ?, NULL, ?, ?, 'bench', 'opened')", (fid, source, row[0], exit_at))
        audit("session.exit", "parking_session", row[0], {"amount_due": fee.amount, "paid": paid, "lane": "X1"},
              exit_at, row[0])

    def price(row):
        return compute_fee(plan, datetime.fromisoformat(row[1]).replace(tzinfo=UTC), LATER, vehicle_class="car",
                           spot_type=row[3], tz=tz)

    def payment(session_id: int, method: str, status: str, amount: int, key: str, **cash) -> int:
        return conn.execute(
            "INSERT INTO payment (facility_id, session_id, method, status, amount, tendered, change, idempotency_key,"
            " lane, created_at, actor, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'X1', ?, 'bench', ?) RETURNING id",
            (fid, session_id, method, status, amount, cash.get("tendered"), cash.get("change"), key, exit_at,
             now())).fetchone()[0]

    half = n // 2
    start, before = time.perf_counter(), count.n
    for ticket_no, code in codes[:half]:
        conn.execute("BEGIN IMMEDIATE")
        row, payments = read(ticket_no, code)
        fee = price(row)
        paid = sum(p[1] for p in payments if p[2] in ("completed", "refunded"))
        due = fee.amount - paid
        pid = payment(row[0], "cash", "completed", due, f"pay-{uuid.uuid4()}", tendered=5000, change=5000 - due)
        audit("payment.take", "payment", pid, {"ticket_no": ticket_no, "method": "cash", "amount": due}, exit_at,
              row[0])
        close(row, fee, paid + due, "payment")
        commit()
        gates["X1"].vend("payment")
    cash = (half / (time.perf_counter() - start), (count.n - before) / half)

    start, before = time.perf_counter(), count.n
    for ticket_no, code in codes[half:]:
        conn.execute("BEGIN IMMEDIATE")
        row, payments = read(ticket_no, code)
        fee = price(row)
        due = fee.amount - sum(p[1] for p in payments if p[2] in ("completed", "refunded"))
        key = f"pay-{uuid.uuid4()}"
        pid = payment(row[0], "card", "pending", due, key)
        conn.execute("COMMIT")
        answer = card.charge(due, "GBP", key, f"CHS-{ticket_no:08d}")
        conn.execute("BEGIN IMMEDIATE")
        row, payments = read(ticket_no, code)  # still open, and no other payment pending now
        conn.execute("UPDATE payment SET status = 'completed', processor_ref = ?, message = ?, updated_at = ? "
                     "WHERE id = ?", (answer.reference, answer.message, now(), pid))
        audit("payment.completed", "payment", pid, {"ticket_no": ticket_no, "amount": due}, exit_at, row[0])
        close(row, fee, due, "payment")
        commit()
        gates["X1"].vend("payment")
    card_rate = ((n - half) / (time.perf_counter() - start), (count.n - before) / (n - half))
    conn.close()
    for gate in gates.values():
        gate.close()
    return {"entries": entries, "cash": cash, "card": card_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=600, help="vehicles per round (at most 800)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()
    from attendant import startup

    startup.pause()  # as the console and CLI start (attendant.cli.main)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        template = prepare(Path(tmp), args.sync)
        import attendant.booth.booth  # noqa: F401 - loaded before the freeze, as open_booth has it loaded
        import hardware.config  # noqa: F401

        # The start-up ends as the wiring ends it: what is loaded is frozen out of the collector's passes,
        # for both sides alike (without it a full collection over the libraries lands in whichever side runs).
        startup.resume()
        for r in range(args.rounds):
            folder = Path(tmp) / f"round{r}"
            folder.mkdir()
            raw = bench_raw(template, folder, args.vehicles, args.sync)
            svc = bench_services(template, folder, args.vehicles, args.sync)
            rounds.append((raw, svc))
            print(f"round {r + 1}: " + "  ".join(
                f"{k} {svc[k][0]:6.0f}/s vs raw {raw[k][0]:6.0f}/s ({svc[k][0] / raw[k][0]:.2f})"
                for k in ("entries", "cash", "card")), file=sys.stderr)
    med = {side: {k: statistics.median(r[i][k][0] for r in rounds) for k in ("entries", "cash", "card")}
           for i, side in enumerate(("raw", "services"))}
    statements = {side: {k: rounds[0][i][k][1] for k in ("entries", "cash", "card")}
                  for i, side in enumerate(("raw", "services"))}
    targets = {"entries": 0.7, "cash": 0.6, "card": 0.5}
    if args.json:
        print(json.dumps({"vehicles": args.vehicles, "rounds": args.rounds, "sync": args.sync, "per_second": med,
                          "statements": statements}, indent=2))
        return
    print(f"median of {args.rounds} rounds, {args.vehicles} vehicles, synchronous={args.sync}:")
    print(f"  {'operation':<12}{'services/s':>12}{'raw/s':>10}{'ratio':>8}{'target':>8}{'statements':>16}")
    for k, name in (("entries", "entry"), ("cash", "cash exit"), ("card", "card exit")):
        ratio = med["services"][k] / med["raw"][k]
        print(f"  {name:<12}{med['services'][k]:>12.0f}{med['raw'][k]:>10.0f}{ratio:>8.2f}{targets[k]:>8.2f}"
              f"{statements['services'][k]:>8.1f} vs {statements['raw'][k]:.1f}")


if __name__ == "__main__":
    main()
