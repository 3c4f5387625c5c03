"""The console's start-up to first paint and its quit time, in a real pseudo-terminal, against a bare Textual app.

Usage: ``python benchmarks/bench_console.py [--rounds 5] [--warmup 1] [--settle 1.0] [--size 160x50]
[--replay] [--compare DIR] [--json FILE] [--load [--rate 50] [--seconds 10]]``

Issue 12 item 10. Every run is a fresh process on the slave side of a
pseudo-terminal (``pty.openpty``, window size set, ``TERM=xterm-256color``,
the terminal made the process's controlling terminal), as a user at a
terminal starts it:

- **bare**: a tiny Textual app (an :class:`~textual.app.App` with one
  ``Static``) started with the same interpreter, the baseline;
- **bare+db layer**: the same app after ``import db.models`` (SQLAlchemy,
  SQLModel, pydantic and the project's tables; the garbage collector paused
  and frozen around it as ``attendant/startup.py`` does): what any console
  on this stack pays before its own code runs, the floor under the
  console's figure;
- **console**: ``attendant --db URL demo --keep --no-replay`` on a prepared
  demo database (Charlotte Street CP, 1,056 bays; created before the rounds,
  not measured);
- **console+replay** (``--replay``): ``attendant --db URL demo --fresh
  --speed 30``, the demo as it starts by default: the database emptied, the
  real-traffic replay prefilling the car park to the time of day, then
  following it live, so quitting has a busy replay thread to stop;
- **console@DIR** (``--compare DIR``): the console of another checkout
  (e.g. ``main``), the same command with ``PYTHONPATH=DIR``, in the same
  rounds: before and after a change in one run.

First paint is the moment the terminal output, escape sequences stripped,
holds the marker: the top border of the console's entry panel with its
title ("╭─ Entry"), the Static's text in the bare app. The console paints
its layout first and opens the database and the facility after that paint
(``attendant/tui/screens/loading.py``), so its first frame is the main
screen's layout with every panel in a loading state. Until the console
painted first, the marker was the facility's name in the top bar
("Charlotte Street CP"), which only an open facility can show; the entry
panel is in the first frame either way (the loading screen's and the main
screen's, at every terminal size), so the same marker measures both, and a
checkout from before the change (``--compare``) is measured on the same
terms.

Usable is the moment the first level is drawn ("L0 Ground" on the map, or
"Free  L0 " in the one-line summary a small terminal shows instead): the
facility is open and its bays loaded, the entry and exit forms live. The
harness then keeps draining the terminal for ``--settle`` seconds (an
attendant does not quit in the first millisecond: the background work
started after the first paint is running), writes ctrl+q (``\\x11``) and
times until the process has exited (``waitpid``): the quit time.

The variants alternate round by round so the machine's noise hits them
alike; the first ``--warmup`` rounds are discarded (bytecode compiled,
files cached). Prints the medians, then the ratios against the issue's
targets: first paint within 2x the bare app, quit under 0.5 s. The CPU
time the process used up to its first paint and to usable
(``/proc/PID/stat``) and in all (``wait4``) is printed too: on a shared machine it varies much less than
the wall time. A
measurement, not a test: the exit status is 0 whether or not the targets
are met (non-zero if a run fails). ``--json FILE`` writes every run and the
summary.

``--load`` also runs the older in-process measure: the UI loop's lag and a
key's press-to-paint time while a thread makes ``--rate`` entries and exits
a second through the services (the same figures with no load as the
baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import re
import select
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_PAINT_TARGET = 2.0  # console first paint / bare Textual app first paint
QUIT_TARGET_S = 0.5  # seconds from ctrl+q to the process's exit
CONSOLE_MARKER = ("╭─ Entry",)  # the entry panel's top border and title: the console's layout, loading or loaded
# the first level, drawn once the facility is open and its bays loaded: on the map (or its one-line summary when the
# terminal is too small for the map and the availability table)
USABLE_MARKER = ("L0 Ground", "Free  L0 ")
BARE_MARKER = ("bare textual app ready",)

BARE_APP = f"""
from textual.app import App
from textual.widgets import Static


class Bare(App):
    def compose(self):
        yield Static({BARE_MARKER[0]!r})


Bare().run()
"""

# the same bare app after importing the database layer every console on this stack needs (SQLAlchemy, SQLModel,
# pydantic and the project's table models, db/models.py), with the garbage collector paused and frozen around the
# imports as attendant/startup.py does: the floor under the console's first paint
BARE_DB_APP = "import gc\ngc.disable()\nimport db.models  # noqa: F401\ngc.freeze()\ngc.enable()\n" + BARE_APP

_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
                      rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
                      rb"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
                      rb"|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>78]")


def attendant_argv() -> list[str]:
    """The console script next to this interpreter (the venv's), else ``python -m attendant``."""
    script = Path(sys.executable).parent / "attendant"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "attendant"]


def make_env(home: str, cols: int, lines: int) -> dict[str, str]:
    """The caller's environment without ATTENDANT_*/tmux variables (and with the bytecode cache on), a
    private ``ATTENDANT_HOME``, and the terminal's type and size."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ATTENDANT_") and k not in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE",
                                                            "COLUMNS", "LINES", "TEXTUAL")}
    env.update(ATTENDANT_HOME=home, TERM="xterm-256color", COLORTERM="truecolor")
    return env


def run_in_pty(argv: list[str], marker: tuple[str, ...], *, env: dict, cwd: str, cols: int, lines: int,
               settle: float, usable: tuple[str, ...] | None = None, timeout: float = 60.0) -> dict[str, float]:
    """Start ``argv`` on a new pseudo-terminal of ``cols`` x ``lines``; seconds to first paint (one of the
    ``marker`` strings in the output), to usable (one of ``usable``; the first paint when None) and from
    ctrl+q (sent ``settle`` s after usable) to the process's exit.

    Raises SystemExit when the process ends before it is usable or is not usable in ``timeout`` s.
    A process that has not exited 20 s after ctrl+q is killed and its quit time reported as 20 s.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, cols, 0, 0))

    def controlling_tty() -> None:  # in the child, after setsid: the pty becomes its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    data = bytearray()

    def pump(wait: float) -> bool:
        """Read what the terminal holds (waiting up to ``wait`` s); False once the child closed it."""
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: every holder of the slave side is gone
            return False
        data.extend(chunk)
        return bool(chunk)

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True,
                            preexec_fn=controlling_tty)  # noqa: PLW1509 - spawned before any thread starts
    os.close(slave)
    try:
        scanned = 0
        painted = painted_cpu = None
        wanted = marker
        while True:
            alive = pump(0.01)
            now = time.perf_counter()
            # search only the new output (plus an overlap for a marker split between reads)
            start = max(0, scanned - 4096)
            text = _ESCAPES.sub(b"", bytes(data[start:])).decode("utf-8", errors="replace")
            if painted is None and any(m in text for m in marker):
                painted, painted_cpu = now, process_cpu(proc.pid)
                if usable is None:
                    ready_cpu = painted_cpu
                    break
                wanted = usable
            if painted is not None and any(m in text for m in usable):
                ready_cpu = process_cpu(proc.pid)
                break
            scanned = len(data)
            if not alive or proc.poll() is not None:
                pump(0)
                tail = _ESCAPES.sub(b"", bytes(data)).decode("utf-8", errors="replace")[-2000:]
                raise SystemExit(f"bench_console: {shlex.join(argv)} ended before {wanted!r} was painted "
                                 f"(exit {proc.poll()}):\n{tail}")
            if now - t0 > timeout:
                raise SystemExit(f"bench_console: no {wanted!r} painted by {shlex.join(argv)} in {timeout:.0f} s")
        ready = now
        end = ready + settle
        while time.perf_counter() < end:  # the console runs; keep reading or it blocks on a full terminal
            pump(max(0.0, min(0.05, end - time.perf_counter())))
        sent = time.perf_counter()
        os.write(master, b"\x11")  # ctrl+q
        deadline = sent + 20
        total_cpu = None
        while time.perf_counter() < deadline:
            pump(0.005)  # drain the last frames; poll the exit every 5 ms at most
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                total_cpu = usage.ru_utime + usage.ru_stime
                break
        exited = time.perf_counter()
        if proc.poll() is None:
            print(f"warning: {shlex.join(argv)} still running 20 s after ctrl+q; killed", file=sys.stderr)
        elif proc.returncode != 0:
            tail = _ESCAPES.sub(b"", bytes(data)).decode("utf-8", errors="replace")[-1500:]
            print(f"warning: {shlex.join(argv)} exited with status {proc.returncode}:\n{tail}", file=sys.stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return {"first_paint_s": painted - t0, "usable_s": ready - t0, "quit_s": exited - sent,
            "first_paint_cpu_s": painted_cpu, "usable_cpu_s": ready_cpu, "total_cpu_s": total_cpu}


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux ``/proc/PID/stat``; None elsewhere).

    On a shared, loaded machine the wall time to the first paint depends on what else runs; the CPU time
    the process needed for it much less so."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def prepare_demo_db(url: str, env: dict, cwd: str) -> None:
    """The demo facility in ``url`` (what ``attendant demo`` creates on first use), outside the figures."""
    code = ("import sys; from attendant.demo import ensure_demo_db; "
            "ensure_demo_db(sys.argv[1], actor='bench', fresh=True).dispose()")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=300, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench_console: could not prepare the demo database:\n{out.stderr[-2000:]}")


# --------------------------------------------------------------------------- the in-process load measure (--load)


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def measure_load(app, *, rate: float, seconds: float, load: bool) -> dict[str, list[float]]:
    """UI loop lag (10 ms timer) and F7 press-to-paint times, with or without ``rate`` entries+exits a second."""
    lags: list[float] = []
    keys: list[float] = []
    stop = threading.Event()
    failures: list[int] = []

    def traffic():
        service = app.booth.service
        codes = []
        n = 0
        while not stop.is_set():
            t = time.perf_counter()
            try:
                if codes and n % 2:
                    service.exit(codes.pop(0), method="card", actor="bench")
                else:
                    codes.append(service.enter(f"LOAD{n:05d}", "car", actor="bench").code)
            except Exception:  # noqa: BLE001 - a full class: keep going
                failures.append(n)
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


def run_load(url: str, rate: float, seconds: float) -> dict:
    sys.path.insert(0, str(ROOT))
    from attendant.demo import demo_config, ensure_demo_db
    from attendant.tui.app import make_app

    results = {}
    for load in (False, True):
        app = make_app(ensure_demo_db(url, actor="bench", fresh=False), demo_config())
        results[load] = asyncio.run(measure_load(app, rate=rate, seconds=seconds, load=load))
    out = {}
    for name in ("loop lag", "key press"):
        base, loaded = results[False][name], results[True][name]
        print(f"{name:<10} idle: median {statistics.median(base) * 1000:6.1f} ms p95 {pct(base, .95) * 1000:6.1f} ms"
              f" | {rate:.0f} events/s: median {statistics.median(loaded) * 1000:6.1f} ms "
              f"p95 {pct(loaded, .95) * 1000:6.1f} ms p99 {pct(loaded, .99) * 1000:6.1f} ms")
        out[name] = {"idle_median_ms": statistics.median(base) * 1000,
                     "load_median_ms": statistics.median(loaded) * 1000,
                     "load_p95_ms": pct(loaded, .95) * 1000}
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and discarded (default 1)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds between the console being usable and ctrl+q (default 1.0)")
    parser.add_argument("--size", default="160x50", help="terminal COLSxLINES (default 160x50)")
    parser.add_argument("--replay", action="store_true", help="also measure the console with the traffic replay")
    parser.add_argument("--compare", metavar="DIR", action="append", default=[],
                        help="also measure the console of the checkout DIR (e.g. main) in the same rounds")
    parser.add_argument("--json", metavar="FILE", help="write every run and the summary as JSON to FILE")
    parser.add_argument("--load", action="store_true", help="also measure loop lag and key latency under load")
    parser.add_argument("--rate", type=float, default=50.0, help="--load: entries+exits per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="--load: seconds per measure")
    args = parser.parse_args()
    try:
        cols, lines = (int(n) for n in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: expected COLSxLINES such as 160x50, got {args.size!r}")
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    for folder in args.compare:
        if not (Path(folder) / "attendant" / "tui" / "app.py").is_file():
            parser.error(f"--compare: {folder} is not a checkout of the console (no attendant/tui/app.py)")

    def log(*parts: object) -> None:  # progress; the figures go to stdout
        print(*parts, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-console-") as home:
        env = make_env(home, cols, lines)
        base_path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base_path]))
        url = f"sqlite:///{home}/demo.db"
        t = time.perf_counter()
        prepare_demo_db(url, env, home)
        log(f"setup: demo database {url} in {time.perf_counter() - t:.1f} s (not measured)")
        attendant = attendant_argv()
        console = [*attendant, "--db", url, "demo", "--keep", "--no-replay"]
        # name: (argv, first-paint marker, usable marker, environment)
        variants = {
            "bare": ([sys.executable, "-c", BARE_APP], BARE_MARKER, None, env),
            "bare+db layer": ([sys.executable, "-c", BARE_DB_APP], BARE_MARKER, None, env),
            "console": (console, CONSOLE_MARKER, USABLE_MARKER, env),
        }
        for folder in args.compare:
            other = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(folder).resolve()), base_path]))}
            variants[f"console@{Path(folder).resolve().name}"] = (console, CONSOLE_MARKER, USABLE_MARKER, other)
        if args.replay:
            variants["console+replay"] = ([*attendant, "--db", url, "demo", "--fresh", "--speed", "30"],
                                          CONSOLE_MARKER, USABLE_MARKER, env)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for r in range(args.warmup + args.rounds):
            row = []
            for name, (argv, marker, usable, variant_env) in variants.items():
                result = run_in_pty(argv, marker, usable=usable, env=variant_env, cwd=home, cols=cols, lines=lines,
                                    settle=args.settle)
                row.append(f"{name} {result['first_paint_s'] * 1000:5.0f}/{result['usable_s'] * 1000:5.0f}"
                           f"/{result['quit_s'] * 1000:4.0f}")
                if r >= args.warmup:
                    runs[name].append(result)
            log(f"round {r + 1}/{args.warmup + args.rounds}{' (warm-up)' if r < args.warmup else '          '} "
                f"first paint/usable/quit ms: " + "  ".join(row))
        load = run_load(url, args.rate, args.seconds) if args.load else None

    keys = ("first_paint_s", "usable_s", "quit_s", "first_paint_cpu_s", "usable_cpu_s", "total_cpu_s")
    summary = {name: {key: (statistics.median(v) if (v := [run[key] for run in values if run[key] is not None])
                            else None) for key in keys} for name, values in runs.items()}
    print(f"\n{'':<18}{'first paint':>12}{'usable':>10}{'quit':>10}{'CPU to paint':>15}{'to usable':>13}"
          f"{'CPU in all':>13}"
          f"   (medians of {args.rounds} rounds, {cols}x{lines} pty)")
    for name, figures in summary.items():
        cpu = "".join(f"{figures[k] * 1000:10.0f} ms" if figures[k] is not None else f"{'n/a':>13}"
                      for k in ("first_paint_cpu_s", "usable_cpu_s", "total_cpu_s"))
        print(f"{name:<18}{figures['first_paint_s'] * 1000:9.0f} ms{figures['usable_s'] * 1000:7.0f} ms"
              f"{figures['quit_s'] * 1000:7.0f} ms  {cpu}")
    bare = summary["bare"]
    ratios = []
    print()
    for name in (n for n in summary if n != "bare"):
        paint_ratio = summary[name]["first_paint_s"] / bare["first_paint_s"]
        usable_ratio = summary[name]["usable_s"] / bare["first_paint_s"]
        quit_s = summary[name]["quit_s"]
        cpu_ratio = (summary[name]["first_paint_cpu_s"] / bare["first_paint_cpu_s"]
                     if summary[name]["first_paint_cpu_s"] and bare["first_paint_cpu_s"] else None)
        ratios.append({"variant": name, "first_paint_ratio": paint_ratio, "first_paint_target": FIRST_PAINT_TARGET,
                       "first_paint_cpu_ratio": cpu_ratio, "usable_ratio": usable_ratio,
                       "quit_s": quit_s, "quit_ratio": quit_s / bare["quit_s"], "quit_target_s": QUIT_TARGET_S})
        cpu_text = f", CPU to paint {cpu_ratio:.2f}x" if cpu_ratio else ""
        usable_cpu = summary[name]["usable_cpu_s"]
        usable_text = (f"; usable after {summary[name]['usable_s']:.2f} s ({usable_ratio:.2f}x the bare app's "
                       f"first paint; CPU {usable_cpu * 1000:.0f} ms)" if name.startswith("console") and usable_cpu
                       else "")
        print(f"{name}: first paint {paint_ratio:.2f}x the bare app{cpu_text} (target <= {FIRST_PAINT_TARGET:.0f}x: "
              f"{'met' if paint_ratio <= FIRST_PAINT_TARGET else 'NOT met'}){usable_text}; quit {quit_s:.2f} s "
              f"({quit_s / bare['quit_s']:.1f}x the bare app; target < {QUIT_TARGET_S} s: "
              f"{'met' if quit_s < QUIT_TARGET_S else 'NOT met'})")
    if args.json:
        report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "size": f"{cols}x{lines}",
                  "rounds": args.rounds, "warmup": args.warmup, "settle_s": args.settle,
                  "load_average": os.getloadavg(), "commands": {n: shlex.join(v[0][:3]) + " ..." if n.startswith("bare")
                                                                else shlex.join(v[0]) for n, v in variants.items()},
                  "compare": [str(Path(folder).resolve()) for folder in args.compare],
                  "runs": runs, "medians": summary, "ratios": ratios, "load": load}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
