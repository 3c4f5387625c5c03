"""Allocation and availability at 100,000 bays (BRIEF.md target: well under a millisecond).

Usage: ``python benchmarks/bench_allocation.py [--spots N] [--ops K] [--rounds R]``

Builds a :class:`attendant.core.allocation.SpotIndex` of N bays (a realistic
mix of types over 20 levels), then times, per operation: choosing a bay for
a car (nearest and best-fit), marking it occupied, freeing a random occupied
bay, and counting availability by level and type. Prints medians and p99 in
microseconds, with a plain ``min()`` over a list of the same N bays as the
in-process baseline (what a naive scan costs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attendant.core.allocation import SpotIndex, Strategy  # noqa: E402
from attendant.core.vocab import SpotStatus, SpotType, VehicleClass  # noqa: E402

MIX = [(SpotType.REGULAR, 0.80), (SpotType.COMPACT, 0.10), (SpotType.ACCESSIBLE, 0.04), (SpotType.EV, 0.03),
       (SpotType.MOTORCYCLE, 0.02), (SpotType.LARGE, 0.01)]


def build_rows(n: int, rng: random.Random):
    types = [t for t, share in MIX for _ in range(int(share * 1000))]
    return [(i, f"S{i}", rng.choice(types).value, i % 20, (i % 20) * 1_000_000 + rng.randrange(5000), "available")
            for i in range(1, n + 1)]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run(n: int, ops: int, strategy: Strategy, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    rows = build_rows(n, rng)
    index = SpotIndex(rows, strategy)
    occupied: list[int] = []
    timings: dict[str, list[float]] = {"choose": [], "occupy": [], "free": [], "availability": [], "naive scan": []}
    # fill to 85% first so choosing has to skip stale heap entries, as in a busy car park
    for _ in range(int(n * 0.85)):
        spot = index.choose(VehicleClass.CAR)
        index.set_status(spot.id, SpotStatus.OCCUPIED)
        occupied.append(spot.id)
    plain = [(rank, sid, typ) for sid, _l, typ, _lvl, rank, _s in rows]
    for _ in range(ops):
        t0 = time.perf_counter()
        spot = index.choose(VehicleClass.CAR)
        t1 = time.perf_counter()
        index.set_status(spot.id, SpotStatus.OCCUPIED)
        t2 = time.perf_counter()
        victim = occupied.pop(rng.randrange(len(occupied)))
        index.set_status(victim, SpotStatus.AVAILABLE)
        t3 = time.perf_counter()
        index.available(level_id=3, spot_type=SpotType.REGULAR)
        index.available()
        t4 = time.perf_counter()
        occupied.append(spot.id)
        timings["choose"].append(t1 - t0)
        timings["occupy"].append(t2 - t1)
        timings["free"].append(t3 - t2)
        timings["availability"].append(t4 - t3)
    for _ in range(max(1, ops // 100)):
        t0 = time.perf_counter()
        min(item for item in plain if item[2] in ("compact", "regular", "large"))
        timings["naive scan"].append(time.perf_counter() - t0)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spots", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for strategy in (Strategy.NEAREST, Strategy.BEST_FIT):
        merged: dict[str, list[float]] = {}
        for r in range(args.rounds):
            for key, values in run(args.spots, args.ops, strategy, seed=r).items():
                merged.setdefault(key, []).extend(values)
        print(f"{args.spots:,} bays, 85% occupied, strategy {strategy.value} ({args.rounds} rounds x {args.ops} ops):")
        for key, values in merged.items():
            med, p99 = statistics.median(values) * 1e6, percentile(values, 0.99) * 1e6
            print(f"  {key:<13} median {med:9.1f} us   p99 {p99:9.1f} us")
        ratio = statistics.median(merged["naive scan"]) / statistics.median(merged["choose"])
        print(f"  choose is {ratio:,.0f}x faster than a naive scan of all bays")


if __name__ == "__main__":
    main()
