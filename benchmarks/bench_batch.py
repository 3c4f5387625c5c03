"""``attendant batch`` against the same operations one CLI process each (same run, same database kind).

Usage: ``python benchmarks/bench_batch.py [--vehicles 20] [--rounds 3] [--json]``

Each round, on a fresh copy of the demo database (Charlotte Street CP, 1,056
bays) in a temporary ``ATTENDANT_HOME``, times as a script at a shell sees it
(wall time of real subprocesses):

1. **one process each**: ``attendant enter PLATE --vehicle car --json`` for N
   new plates, then ``attendant exit CODE --pay cash --tendered 50 --json`` for
   each ticket, every one its own ``python -m attendant`` process;
2. **batch**: the same N entries and N exits as JSON lines through one
   ``attendant batch -`` (entries first, then exits of the codes they printed,
   in a second ``batch`` call: a script cannot know the codes before).

Both do the same work (2N committed operations, tickets, payments, audit
events); the rounds alternate which runs first so machine noise hits both.
Prints per-operation medians (ms) over the rounds, the total per mode and
the ratio one-process-each / batch. A measurement, not a test: exit 0
whatever the figures (non-zero only if a command fails).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ATTENDANT_DB", "ATTENDANT_USER", "ATTENDANT_PIN")}
    env["ATTENDANT_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO)
    return env


def attendant(env: dict, db: str, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "attendant", "--db", db, *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"attendant {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def one_process_each(env: dict, db: str, plates: list[str]) -> float:
    start = time.perf_counter()
    codes = [json.loads(attendant(env, db, "enter", plate, "--vehicle", "car", "--json"))["code"] for plate in plates]
    for code in codes:
        attendant(env, db, "exit", code, "--pay", "cash", "--tendered", "50", "--json")
    return time.perf_counter() - start


def batched(env: dict, db: str, plates: list[str]) -> float:
    start = time.perf_counter()
    entries = "".join(json.dumps({"op": "enter", "plate": p, "vehicle": "car"}) + "\n" for p in plates)
    results = [json.loads(line) for line in attendant(env, db, "batch", "-", stdin=entries).splitlines()]
    if not all(r["ok"] for r in results):
        raise SystemExit(f"batch entries failed: {[r for r in results if not r['ok']][:3]}")
    exits = "".join(json.dumps({"op": "exit", "code": r["result"]["code"], "pay": ["cash"], "tendered": "50"}) + "\n"
                    for r in results)
    results = [json.loads(line) for line in attendant(env, db, "batch", "-", stdin=exits).splitlines()]
    if not all(r["ok"] for r in results):
        raise SystemExit(f"batch exits failed: {[r for r in results if not r['ok']][:3]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20, help="entries (and as many exits) per mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        home = work / "home"
        env = env_for(home)
        template = work / "template.db"
        attendant(env, f"sqlite:///{template}", "init", "--demo")
        each, batch = [], []
        for round_no in range(args.rounds):
            order = [("each", one_process_each, each), ("batch", batched, batch)]
            if round_no % 2:
                order.reverse()
            for name, run, into in order:
                db_path = work / f"{name}-{round_no}.db"
                shutil.copyfile(template, db_path)
                for suffix in ("-wal",):
                    if Path(f"{template}{suffix}").exists():
                        shutil.copyfile(f"{template}{suffix}", f"{db_path}{suffix}")
                plates = [f"B{round_no}{name[0].upper()}{n:03d}" for n in range(args.vehicles)]
                into.append(run(env, f"sqlite:///{db_path}", plates))
        ops = 2 * args.vehicles
        figures = {
            "vehicles": args.vehicles,
            "rounds": args.rounds,
            "operations_per_round": ops,
            "one_process_each_s_median": round(statistics.median(each), 3),
            "batch_s_median": round(statistics.median(batch), 3),
            "one_process_each_ms_per_op": round(1000 * statistics.median(each) / ops, 1),
            "batch_ms_per_op": round(1000 * statistics.median(batch) / ops, 1),
            "ratio_each_over_batch": round(statistics.median(each) / statistics.median(batch), 1),
        }
        if args.json:
            print(json.dumps(figures))
            return
        print(f"{ops} operations ({args.vehicles} entries + {args.vehicles} exits), median of {args.rounds} rounds, "
              "SQLite demo database")
        print(f"  one CLI process each : {figures['one_process_each_s_median']:8.2f} s  "
              f"({figures['one_process_each_ms_per_op']:.1f} ms per operation)")
        print(f"  attendant batch      : {figures['batch_s_median']:8.2f} s  "
              f"({figures['batch_ms_per_op']:.1f} ms per operation)")
        print(f"  ratio (each / batch) : {figures['ratio_each_over_batch']:8.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
