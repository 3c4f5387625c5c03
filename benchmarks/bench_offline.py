"""What the offline lanes cost: the booth with its journal behind it, online and offline, in one run.

Usage: ``python benchmarks/bench_offline.py [--vehicles N] [--rounds R] [--json]``

Three booths on copies of the demo facility (Charlotte Street CP, 1,056 bays)
in a SQLite file, each admitting ``N`` cars and letting them out paid in
cash, through :class:`attendant.booth.Booth` with simulated barriers:

- *plain*: ``open_booth(..., offline=False)``, the booth without offline lanes
  (the baseline, same run);
- *online*: ``open_booth(...)`` as the console and the CLI open it, the
  database answering: what keeping a reserve of ticket numbers, the open
  sessions and the snapshot costs each operation;
- *offline*: the same booth once its database is away (the file replaced by
  a folder): every operation is journaled (SQLite, ``synchronous=FULL``,
  one fsynced commit each) before the gate opens.

Then the journal is replayed into the database (``sync``) and timed. Prints
per round and medians: operations per second and the ratios to *plain*. The
machines are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-offline-"))
    os.environ["ATTENDANT_HOME"] = str(work / "home")
    from attendant import startup

    startup.pause()
    from attendant.booth import EntryRequest, ExitRequest, Tender, open_booth
    from attendant.demo import ensure_demo_db
    from db.engine import make_engine
    from hardware.config import parse_config

    template = work / "template.db"
    ensure_demo_db(f"sqlite:///{template}", actor="bench").dispose()
    config = parse_config('[[lanes]]\ncode = "E1"\nname = "In"\ndirection = "entry"\ngate = "sim://"\n'
                          '[[lanes]]\ncode = "X1"\nname = "Out"\ndirection = "exit"\ngate = "sim://"\n')
    startup.resume()

    def drive(booth, clock, plates) -> tuple[float, float]:
        began = time.perf_counter()
        codes = []
        for plate in plates:
            clock[0] += timedelta(seconds=20)
            codes.append(booth.enter(EntryRequest(plate, "car", lane="E1", print_ticket=False), actor="bench")
                         .entry.code)
        entered = time.perf_counter()
        clock[0] += timedelta(hours=2)
        for code in codes:
            clock[0] += timedelta(seconds=5)
            booth.exit(ExitRequest(code, (Tender("cash", tendered=5000),), lane="X1", print_receipt=False),
                       actor="bench")
        left = time.perf_counter()
        return len(plates) / (entered - began), len(plates) / (left - entered)

    rounds = []
    for r in range(args.rounds):
        figures = {}
        for kind in ("plain", "online", "offline"):
            db = work / f"{kind}-{r}.db"
            shutil.copyfile(template, db)
            clock = [T0]
            engine = make_engine(f"sqlite:///{db}")
            booth = open_booth(engine, config, clock=lambda c=clock: c[0], offline=kind != "plain")
            warm = [f"W{r}{kind[:2].upper()}{n:03d}" for n in range(5)]
            drive(booth, clock, warm)  # first entries: the reserve and the snapshot, outside the timing
            plates = [f"B{r}{kind[:2].upper()}{n:04d}" for n in range(args.vehicles)]
            if kind == "offline":
                booth.enter(EntryRequest("PRE0 LOAD", "car", lane="E1", print_ticket=False), actor="bench")
                booth.offline.take_snapshot()
                engine.dispose()
                moved = db.with_suffix(".away")
                db.rename(moved)  # the database is away: a folder where the file was
                for suffix in ("-wal", "-shm"):
                    if Path(f"{db}{suffix}").exists():
                        Path(f"{db}{suffix}").rename(f"{moved}{suffix}")
                db.mkdir()
                booth.service._drop_connection()
            figures[kind] = drive(booth, clock, plates)
            if kind == "offline":
                db.rmdir()
                moved.rename(db)
                for suffix in ("-wal", "-shm"):
                    if Path(f"{moved}{suffix}").exists():
                        Path(f"{moved}{suffix}").rename(f"{db}{suffix}")
                booth.offline.RETRY_SECONDS = 0
                began = time.perf_counter()
                report = booth.offline.sync()
                took = time.perf_counter() - began
                assert report.error is None and report.applied == 2 * args.vehicles, report.to_json_dict()
                figures["replay"] = (2 * args.vehicles / took, 0.0)
            booth.close()
            engine.dispose()
        rounds.append(figures)
        if not args.json:
            line = "  ".join(f"{k} {v[0]:7.0f}/s in {v[1]:7.0f}/s out" if k != "replay" else f"replay {v[0]:6.0f} ev/s"
                             for k, v in figures.items())
            print(f"round {r + 1}: {line}")

    def med(kind: str, i: int) -> float:
        return statistics.median(f[kind][i] for f in rounds)

    result = {kind: {"entries_per_s": round(med(kind, 0)), "exits_per_s": round(med(kind, 1))}
              for kind in ("plain", "online", "offline")}
    result["replay_events_per_s"] = round(med("replay", 0))
    for kind in ("online", "offline"):
        result[kind]["entries_vs_plain"] = round(med(kind, 0) / med("plain", 0), 2)
        result[kind]["exits_vs_plain"] = round(med(kind, 1) / med("plain", 1), 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"median over {args.rounds} rounds of {args.vehicles} vehicles:")
        for kind in ("plain", "online", "offline"):
            extra = "" if kind == "plain" else (f"  ({result[kind]['entries_vs_plain']}x / "
                                                f"{result[kind]['exits_vs_plain']}x of plain)")
            print(f"  {kind:<8} entries {result[kind]['entries_per_s']:6}/s  exits {result[kind]['exits_per_s']:6}/s"
                  + extra)
        print(f"  replay of the offline journal: {result['replay_events_per_s']} events/s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
