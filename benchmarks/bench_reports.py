"""Reports over a million sessions: daily, weekly, monthly and whole-range, on SQLite.

BRIEF.md target: "Daily/weekly/monthly report over 1,000,000 sessions: under a
second". This builds the demo facility (Charlotte Street, 1,056 bays) in a
fresh SQLite file, writes ``--sessions`` closed sessions (default 1,000,000)
spread over ``--days`` days (default 365) ending yesterday, each with its
payment (cash or card) and its entry and exit vends, using the schema the console migrates to, then times
``attendant.core.reports.period_report`` for a day, a week and a month in the
busiest part of the range, and ``range_report`` over the whole range (every
session in the report). Each figure is the median of ``--rounds`` runs.

Baseline, in the same process on the same file: one raw ``sqlite3`` aggregate
(count and sum of exits in the same range) - the least any report must read.
The ratio report/baseline says what the extra figures (by method, class,
lane, per day, occupancy by hour) cost on top of that.

    python benchmarks/bench_reports.py                 # 1,000,000 sessions
    python benchmarks/bench_reports.py --sessions 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attendant.core.reports import period_report, range_report  # noqa: E402
from attendant.core.services import ParkingService  # noqa: E402
from attendant.core.tickets import TicketSigner  # noqa: E402
from attendant.demo import ensure_demo_db  # noqa: E402

FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores an instant (naive UTC)
# share of the day's arrivals by hour (a town-centre car park's shape)
ARRIVALS = [1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 11, 10, 9, 8, 7, 6, 5, 4, 4, 3, 3, 2, 2, 1]


def fill(path: str, sessions: int, days: int, first_day: date, seed: int = 7) -> None:
    """Write ``sessions`` closed sessions with one completed payment and two vends each (raw sqlite3 executemany)."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # loading only; the reports read a normal file
    facility_id, currency = conn.execute("SELECT id, currency FROM facility").fetchone()
    spots = [row for row in conn.execute("SELECT id, spot_type FROM spot ORDER BY id")]
    next_id = (conn.execute("SELECT max(id) FROM parking_session").fetchone()[0] or 0) + 1
    hours = [h for h, w in enumerate(ARRIVALS) for _ in range(w)]
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    batch_s, batch_p, batch_v = [], [], []
    for n in range(sessions):
        sid = next_id + n
        day = n * days // sessions
        entry = start + timedelta(days=day, hours=rng.choice(hours), seconds=rng.randrange(3600))
        exit_ = entry + timedelta(minutes=rng.randint(10, 6 * 60))
        amount = rng.choice((240, 480, 720, 960, 1200, 1890))
        spot_id, spot_type = spots[n % len(spots)]
        method = "cash" if rng.random() < 0.4 else "card"
        e, x = entry.strftime(FMT), exit_.strftime(FMT)
        batch_s.append((sid, facility_id, 10_000_000 + sid, f"BENCH-{sid}", f"BN{sid:07d}", "car", 0, spot_id,
                        spot_type, "closed", "E1", "X1", e, x, amount, amount, "bench", "bench", 0, x))
        batch_p.append((facility_id, sid, method, "completed", amount, f"bench-{sid}", "X1", x, "bench"))
        batch_v.append((facility_id, "E1", "entry", "ticket", sid, e, "bench"))
        batch_v.append((facility_id, "X1", "exit", "payment", sid, x, "bench"))
        if len(batch_s) == 50_000 or n == sessions - 1:
            conn.executemany(
                "INSERT INTO parking_session (id, facility_id, ticket_no, code, plate, vehicle_class, ev, spot_id,"
                " spot_type, status, entry_lane, exit_lane, entry_at, exit_at, amount_due, amount_paid,"
                " entry_actor, exit_actor, discount, paid_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch_s,
            )
            conn.executemany(
                "INSERT INTO payment (facility_id, session_id, method, status, amount, idempotency_key, lane,"
                " created_at, actor) VALUES (?,?,?,?,?,?,?,?,?)",
                batch_p,
            )
            conn.executemany(
                "INSERT INTO vend (facility_id, lane, direction, source, session_id, at, actor)"
                " VALUES (?,?,?,?,?,?,?)",
                batch_v,
            )
            conn.commit()
            batch_s.clear()
            batch_p.clear()
            batch_v.clear()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    del currency


def median_ms(fn, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/reports.db"
        engine = ensure_demo_db(f"sqlite:///{path}", actor="bench")
        today = date(2026, 11, 21)
        first_day = today - timedelta(days=args.days)
        t0 = time.perf_counter()
        fill(path, args.sessions, args.days, first_day)
        print(f"wrote {args.sessions:,} sessions + payments over {args.days} days in {time.perf_counter() - t0:.1f} s")
        service = ParkingService(engine, TicketSigner(b"bench" * 8), clock=lambda: datetime(2026, 11, 21, 12, tzinfo=UTC))
        raw = sqlite3.connect(path)
        fid = service.facility.id
        mid = first_day + timedelta(days=args.days // 2)  # an ordinary day in the middle of the range

        def baseline(first: date, after: date):
            start, _ = service.day_bounds(first)
            end, _ = service.day_bounds(after)
            a, b = (t.replace(tzinfo=None).strftime(FMT) for t in (start, end))
            return raw.execute(
                "SELECT count(*), sum(amount_paid) FROM parking_session WHERE facility_id=? AND exit_at>=? "
                "AND exit_at<?", (fid, a, b)
            ).fetchone()

        print(f"{'report':<10} {'sessions':>10} {'median ms':>10} {'baseline ms':>12} {'ratio':>7}")
        cases = [
            ("daily", lambda: period_report(service, "daily", mid)),
            ("weekly", lambda: period_report(service, "weekly", mid)),
            ("monthly", lambda: period_report(service, "monthly", mid)),
            ("all", lambda: range_report(service, first_day, today, "custom")),
        ]
        for name, run in cases:
            took, report = median_ms(run, args.rounds)
            base, counted = median_ms(lambda r=report: baseline(r.start, r.end), args.rounds)
            assert counted[0] == report.exits, (counted, report.exits)  # the report counts what SQL counts
            print(f"{name:<10} {report.exits:>10,} {took:>10.1f} {base:>12.1f} {took / base:>7.1f}")
        raw.close()
        engine.dispose()


if __name__ == "__main__":
    main()
