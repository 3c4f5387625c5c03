"""Entry/exit throughput through the services, against raw sqlite3 in the same process.

Usage: ``python benchmarks/bench_lanes.py [--vehicles N] [--rounds R] [--sync FULL|NORMAL]``

Prints, per round and as medians: entries/s and exits/s through
:class:`attendant.core.services.ParkingService` on a SQLite file, and the
same shape of transaction (update facility counter, update spot, insert
session, insert vend, insert audit; then the reverse at exit) written with raw
sqlite3, plus the ratio. The machines are shared and noisy: read the ratio.
Both sides use WAL with the same ``synchronous`` setting (FULL by default, as
the console runs: every acknowledged transaction survives a power cut).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bench_services(n: int, sync: str, tmp: Path) -> tuple[float, float, float]:
    os.environ["ATTENDANT_HOME"] = str(tmp / "home")
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import load_layout
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db import engine as engine_mod

    db_path = tmp / "svc.db"
    engine = engine_mod.make_engine(f"sqlite:///{db_path}")
    if sync != "FULL":
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _sync(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA synchronous={sync}")

        engine.dispose()
    examples = Path(__file__).resolve().parents[1] / "examples"
    create_facility(engine, load_layout(examples / "charlotte_street.toml"), actor=Actor("bench", Role.ADMIN))
    t = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    service = ParkingService(engine, TicketSigner(b"b" * 32), clock=lambda: t)
    start = time.perf_counter()
    codes = [service.enter(f"BEN{i:05d}", "car", actor="bench").code for i in range(n)]
    entry_rate = n / (time.perf_counter() - start)
    later = t + timedelta(hours=2)
    half = n // 2
    start = time.perf_counter()
    for code in codes[:half]:  # cash: pay and close in one transaction
        service.exit(code, method="cash", tendered=1000, actor="bench", at=later)
    cash_rate = half / (time.perf_counter() - start)
    start = time.perf_counter()
    for code in codes[half:]:  # card: pending row, processor (stand-in), completed, close: three commits
        service.exit(code, method="card", actor="bench", at=later)
    card_rate = (n - half) / (time.perf_counter() - start)
    engine.dispose()
    return entry_rate, cash_rate, card_rate


def bench_raw(n: int, sync: str, tmp: Path) -> tuple[float, float]:
    conn = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.executescript(
        """
        CREATE TABLE facility (id INTEGER PRIMARY KEY, next_ticket_no INT, revision INT);
        CREATE TABLE spot (id INTEGER PRIMARY KEY, status TEXT);
        CREATE TABLE session (id INTEGER PRIMARY KEY, ticket_no INT, code TEXT, plate TEXT, spot_id INT,
                              status TEXT, entry_at TEXT, exit_at TEXT, amount INT);
        CREATE TABLE payment (id INTEGER PRIMARY KEY, session_id INT, amount INT, key TEXT UNIQUE);
        CREATE TABLE vend (id INTEGER PRIMARY KEY, session_id INT, at TEXT);
        CREATE TABLE audit (id INTEGER PRIMARY KEY, action TEXT, entity_id INT, details TEXT, at TEXT);
        INSERT INTO facility VALUES (1, 0, 0);
        """
    )
    conn.executemany("INSERT INTO spot VALUES (?, 'available')", [(i,) for i in range(1, n + 1)])
    now = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    for i in range(1, n + 1):
        conn.execute("BEGIN IMMEDIATE")
        ticket = conn.execute(
            "UPDATE facility SET next_ticket_no=next_ticket_no+1, revision=revision+1 WHERE id=1 "
            "RETURNING next_ticket_no"
        ).fetchone()[0]
        conn.execute("UPDATE spot SET status='occupied' WHERE id=? AND status='available'", (i,))
        sid = conn.execute(
            "INSERT INTO session (ticket_no, code, plate, spot_id, status, entry_at) VALUES (?,?,?,?, 'open', ?)",
            (ticket, f"C{ticket}", f"P{i}", i, now),
        ).lastrowid
        conn.execute("INSERT INTO vend (session_id, at) VALUES (?, ?)", (sid, now))
        conn.execute("INSERT INTO audit (action, entity_id, details, at) VALUES ('enter', ?, ?, ?)",
                     (sid, json.dumps({"plate": f"P{i}"}), now))
        conn.execute("COMMIT")
    entry_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(1, n + 1):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE facility SET revision=revision+1 WHERE id=1")
        row = conn.execute("SELECT id, spot_id FROM session WHERE code=?", (f"C{i}",)).fetchone()
        conn.execute("INSERT INTO payment (session_id, amount, key) VALUES (?, 480, ?)", (row[0], f"k{i}"))
        conn.execute("UPDATE session SET status='closed', exit_at=?, amount=480 WHERE id=?", (now, row[0]))
        conn.execute("UPDATE spot SET status='available' WHERE id=?", (row[1],))
        conn.execute("INSERT INTO vend (session_id, at) VALUES (?, ?)", (row[0], now))
        conn.execute("INSERT INTO audit (action, entity_id, details, at) VALUES ('exit', ?, '{}', ?)",
                     (row[0], now))
        conn.execute("COMMIT")
    exit_rate = n / (time.perf_counter() - start)
    conn.close()
    return entry_rate, exit_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    rows = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            raw = bench_raw(args.vehicles, args.sync, Path(tmp))
            svc = bench_services(args.vehicles, args.sync, Path(tmp))
        rows.append((raw, svc))
        print(f"round {r + 1}: raw sqlite3 {raw[0]:7.0f} entries/s {raw[1]:7.0f} exits/s | "
              f"services {svc[0]:7.0f} entries/s {svc[1]:7.0f} cash exits/s {svc[2]:7.0f} card exits/s")
    med = lambda xs: statistics.median(xs)  # noqa: E731
    raw_e, raw_x = med([r[0][0] for r in rows]), med([r[0][1] for r in rows])
    svc_e, svc_c, svc_k = (med([r[1][i] for r in rows]) for i in range(3))
    print(f"median ({args.vehicles} vehicles, synchronous={args.sync}):")
    print(f"  raw sqlite3: {raw_e:8.0f} entries/s {raw_x:8.0f} exits/s")
    print(f"  services:    {svc_e:8.0f} entries/s {svc_c:8.0f} cash exits/s {svc_k:8.0f} card exits/s")
    print(f"  services / raw: entries {svc_e / raw_e:.2f}, cash exits {svc_c / raw_x:.2f}, "
          f"card exits {svc_k / raw_x:.2f}")


if __name__ == "__main__":
    main()
