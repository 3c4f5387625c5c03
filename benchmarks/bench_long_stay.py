"""Pricing long stays (issue 9 item 3: "fee computation bounded in time and memory for any stay").

Usage: ``python benchmarks/bench_long_stay.py [--years Y ...]``

Prices a car's stay with the demo plan (Charlotte Street: £2.40 an hour, at
most £18.90 per calendar day) from an entry Y years before 4 Dec 2026 to
that day, two ways in the same run: the engine as shipped (past 400 days the
capped middle is priced in closed form) and the same engine forced to price
every day (the baseline: what every stay cost before). Prints the time, the
peak memory (tracemalloc) and the number of breakdown lines of each, and
checks both give the same amount. The year-1 entry of the red-team report
(2,025 years) is priced by the closed form only unless ``--baseline-all``
(the day-by-day price of it took 126 s and 370 MB).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attendant.core.rates.engine as engine  # noqa: E402
from attendant.core.rates import compute_fee, load_rate_plan  # noqa: E402

LONDON = ZoneInfo("Europe/London")
PLAN = Path(__file__).resolve().parents[1] / "examples" / "rates" / "charlotte_street.toml"


def measure(plan, entry, exit_at):
    tracemalloc.start()
    t0 = time.perf_counter()
    fee = compute_fee(plan, entry, exit_at, vehicle_class="car", tz=LONDON)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return fee, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, nargs="*", default=[1, 5, 20, 100, 2025])
    parser.add_argument("--baseline-all", action="store_true", help="also price 2,025 years day by day")
    args = parser.parse_args()
    plan = load_rate_plan(PLAN)
    exit_at = datetime(2026, 12, 4, 22, 0, tzinfo=LONDON)
    print(f"{'years':>6} {'amount':>16} {'closed form':>12} {'peak':>9} {'lines':>6}   "
          f"{'day by day':>11} {'peak':>9} {'lines':>7}")
    for years in args.years:
        entry = datetime(max(1, 2026 - years), 12, 4, 9, 0, tzinfo=LONDON)
        fee, fast, fast_mem = measure(plan, entry, exit_at)
        line = f"{years:>6} {fee.amount / 100:>16,.2f} {fast * 1000:>10.2f}ms {fast_mem / 1e6:>7.2f}MB {len(fee.lines):>6}"
        if years <= 200 or args.baseline_all:
            saved = engine.LONG_PERIODS, engine.MAX_PERIODS
            engine.LONG_PERIODS, engine.MAX_PERIODS = 10**9, 10**9
            try:
                slow_fee, slow, slow_mem = measure(plan, entry, exit_at)
            finally:
                engine.LONG_PERIODS, engine.MAX_PERIODS = saved
            assert slow_fee.amount == fee.amount, (years, slow_fee.amount, fee.amount)
            line += f"   {slow * 1000:>9.1f}ms {slow_mem / 1e6:>7.2f}MB {len(slow_fee.lines):>7}"
        else:
            line += "   (not run: --baseline-all)"
        print(line)


if __name__ == "__main__":
    main()
