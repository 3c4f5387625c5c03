"""The console under load (BRIEF.md screen targets), headless.

Usage: ``python benchmarks/bench_console.py [--rate 50] [--seconds 10]``

1. Start-up: a fresh process imports the console, builds it on the demo
   facility and exits when the first screen has painted; wall time from the
   process start (target: under 1.5 s).
2. Load: the demo facility (1,056 bays; ``--spots`` bays per level can be
   raised with the layout unchanged) while a background thread makes
   ``--rate`` real entries and exits per second through the services (each
   repaints bays on the level map). Meanwhile the UI loop's lag is sampled
   with a 10 ms timer (how late each tick fires), and key presses (F7, next
   level) are timed from press to the app being idle again (target: a key
   shows its result within 50 ms).

Prints medians and p95/p99; the baseline is the same measures with no load,
in the same process, so the ratio is what the load costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STARTUP = """
import time, sys
t0 = float(sys.argv[1])
from attendant.demo import demo_config, ensure_demo_db
from attendant.tui.app import make_app
app = make_app(ensure_demo_db(sys.argv[2], actor="bench", fresh=False), demo_config())
def ready():
    print(f"{time.time() - t0:.3f}", flush=True)
    app.exit()
app.call_after_refresh(lambda: app.call_after_refresh(ready))
app.run(headless=True, size=(160, 50))
"""


def startup_seconds(db_url: str, env: dict) -> float:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", STARTUP, str(t0), db_url], capture_output=True, text=True,
                         env=env, timeout=120)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def measure(app, *, rate: float, seconds: float, load: bool) -> dict[str, list[float]]:
    lags: list[float] = []
    keys: list[float] = []
    stop = threading.Event()

    def traffic():
        service = app.booth.service if hasattr(app, "booth") else None
        if service is None:
            return
        codes = []
        n = 0
        while not stop.is_set():
            t = time.perf_counter()
            try:
                if codes and n % 2:
                    service.exit(codes.pop(0), method="card", actor="bench")
                else:
                    codes.append(service.enter(f"LOAD{n:05d}", "car", actor="bench").code)
            except Exception:  # a full class: keep going
                pass
            n += 1
            stop.wait(max(0.0, 1 / rate - (time.perf_counter() - t)))

    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        last = time.perf_counter()

        def tick():
            nonlocal last
            now = time.perf_counter()
            lags.append(max(0.0, now - last - 0.01))
            last = now

        timer = app.set_interval(0.01, tick)
        worker = threading.Thread(target=traffic, daemon=True)
        if load:
            worker.start()
        from attendant.tui.widgets.level_map import LevelMapView

        level_map = app.screen.query_one(LevelMapView)
        levels = len(app.service.level_maps())
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if level_map.current_level >= levels - 1:
                level_map.scroll_to_level(0)
                await asyncio.sleep(0.05)
            before = level_map.current_level
            t0 = time.perf_counter()
            app.simulate_key("f7")  # as the terminal would deliver it; do not wait for idle
            while level_map.current_level == before and time.perf_counter() - t0 < 5:
                await asyncio.sleep(0.001)
            painted = asyncio.Event()
            app.call_after_refresh(painted.set)  # the result is on screen after the next refresh
            await asyncio.wait_for(painted.wait(), 5)
            keys.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
        stop.set()
        timer.stop()
        if load:
            worker.join(5)
    return {"loop lag": lags, "key press": keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="entries+exits per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ATTENDANT_HOME"] = tmp
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        from attendant.demo import demo_config, ensure_demo_db
        from attendant.tui.app import make_app

        url = f"sqlite:///{tmp}/bench.db"
        ensure_demo_db(url, actor="bench").dispose()
        starts = [startup_seconds(url, env) for _ in range(3)]
        print(f"start-up to first paint: median {statistics.median(starts):.2f} s "
              f"(runs: {', '.join(f'{s:.2f}' for s in starts)})")
        results = {}
        for load in (False, True):
            app = make_app(ensure_demo_db(url, actor="bench", fresh=False), demo_config())
            results[load] = asyncio.run(measure(app, rate=args.rate, seconds=args.seconds, load=load))
        for name in ("loop lag", "key press"):
            base, loaded = results[False][name], results[True][name]
            print(f"{name:<10} idle: median {statistics.median(base) * 1000:6.1f} ms p95 {pct(base, .95) * 1000:6.1f} ms"
                  f" | {args.rate:.0f} events/s: median {statistics.median(loaded) * 1000:6.1f} ms "
                  f"p95 {pct(loaded, .95) * 1000:6.1f} ms p99 {pct(loaded, .99) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
