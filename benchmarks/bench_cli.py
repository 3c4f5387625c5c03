"""Start-up of the command line and the console, out of process, against the bare interpreter (same run).

Usage: ``python benchmarks/bench_cli.py [--rounds 15] [--warmup 1] [--console-rounds 5]
[--no-console] [--harness auto|tmux|pty] [--db URL] [--attendant PATH] [--json]``

Every figure is the wall time of a real subprocess, as a user at a shell sees it:

1. ``python -c pass`` (the interpreter of the console script's own venv),
2. ``python -c "import sqlalchemy"``,
3. ``attendant --help``,
4. ``attendant status --json`` on a real database (the demo facility, 1,056 bays),
5. ``attendant enter PLATE --vehicle car --json`` (a new plate every run, so
   anti-passback never refuses it; each run really admits a vehicle),
6. the console's start-up to first paint: ``attendant`` launched in a terminal
   (a private tmux server at 160x50, or a pseudo-terminal if tmux is missing)
   until the header ("Charlotte Street") and the footer ("Quit") are on the
   screen, then ctrl+q. Its baseline is ``python -c "print('ready'); input()"``
   launched and awaited the same way (until "ready" shows; then Enter), so the
   harness's own cost is in both.

Commands 1-5 run round by round (pass, sqlalchemy, help, status, enter, pass,
...) so the machine's noise hits them alike; the console and its baseline
alternate the same way, in fewer rounds. The first ``--warmup`` rounds are
discarded. Prints median, p90 and the number of runs per command, then the
ratios the project targets: ``--help`` / bare interpreter within 4x, and
``status --json`` / ``import sqlalchemy`` within 2.5x. This is a measurement,
not a test: it exits 0 whether or not the targets are met (non-zero only if a
command fails).

Isolation: ``ATTENDANT_HOME`` is a temporary folder, and the database
(``attendant.db`` in it) is created first with ``attendant init --demo``
(setup, not measured); ``ATTENDANT_DB``/``ATTENDANT_USER``/``ATTENDANT_PIN``
from the caller's environment are dropped. ``--db URL`` measures another
database instead (e.g. ``postgresql+psycopg://127.0.0.1:5432/test``): every
command then gets ``--db URL --facility CHS``; the demo facility is created in
it if missing, and the ``enter`` runs leave vehicles parked there, so give it a
fresh, disposable database (or schema). By default only a temporary SQLite file
is touched.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import select
import shlex
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HELP_TARGET = 4.0  # attendant --help / python -c pass
STATUS_TARGET = 2.5  # attendant status --json / python -c "import sqlalchemy"
CONSOLE_MARKERS = ("Charlotte Street", "Quit")  # header and footer of the first screen
READY = "ready"
COLS, LINES = 160, 50


# --------------------------------------------------------------------------- the commands


def find_attendant(explicit: str | None) -> tuple[list[str], str]:
    """The ``attendant`` command (argv prefix) and the interpreter it runs on.

    Prefers the console script the user runs: ``--attendant PATH``, else the
    one next to this interpreter, else the project's ``.venv``, else the one on
    PATH; the interpreter is the script's ``#!`` line. Falls back to
    ``python -m attendant``.
    """
    candidates = [explicit] if explicit else [
        str(Path(sys.executable).parent / "attendant"),
        str(ROOT / ".venv" / "bin" / "attendant"),
        shutil.which("attendant"),
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            script = os.path.abspath(candidate)
            interpreter = sys.executable
            with open(script, "rb") as handle:
                first = handle.readline().decode(errors="replace").strip()
            if first.startswith("#!"):
                shebang = shlex.split(first[2:])
                if shebang and os.path.isfile(shebang[0]) and Path(shebang[0]).name.startswith("python"):
                    interpreter = shebang[0]
            return [script], interpreter
    if explicit:
        raise SystemExit(f"bench_cli: not an executable file: {explicit}")
    return [sys.executable, "-m", "attendant"], sys.executable


def make_env(home: str) -> dict[str, str]:
    """The commands' environment: the caller's, without ATTENDANT_* and tmux variables, and with
    Python's bytecode cache on (``PYTHONDONTWRITEBYTECODE`` dropped): a user's installation keeps its
    compiled modules, so the warm-up round compiles and the measured rounds load ``.pyc`` files."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ATTENDANT_") and k not in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE")}
    env["ATTENDANT_HOME"] = home
    return env


def run_checked(argv: list[str], env: dict, cwd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"bench_cli: {shlex.join(argv)} failed (exit {out.returncode}):\n"
                         f"{(out.stderr or out.stdout)[-2000:]}")
    return out


def timed(argv: list[str], env: dict, cwd: str) -> float:
    """Wall time of one run of ``argv`` to its exit, output captured (a pipe, as in a script)."""
    t0 = time.perf_counter()
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, timeout=120)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"bench_cli: {shlex.join(argv)} failed (exit {out.returncode}):\n"
                         f"{out.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


# --------------------------------------------------------------------------- terminal harnesses


class TmuxHarness:
    """A private tmux server (own socket, no config file) with panes of COLS x LINES.

    A placeholder session keeps the server up, so starting the server is not
    in any figure; ``remain-on-exit`` keeps a finished pane readable.
    """

    name = "tmux"
    ctrl_q, enter = "C-q", "Enter"

    def __init__(self, env: dict, cwd: str) -> None:
        self.env, self.cwd = env, cwd
        self.base = ["tmux", "-L", f"bench-cli-{os.getpid()}", "-f", os.devnull]
        self.count = 0
        self._tmux("new-session", "-d", "-s", "keep", "-x", str(COLS), "-y", str(LINES), "sleep 86400")
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._tmux("set-option", "-g", "status", "off")
        self.socket = self._tmux("display-message", "-p", "-t", "keep", "#{socket_path}").strip()

    def _tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, cwd=self.cwd,
                             timeout=30)
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def first_paint(self, argv: list[str], markers: tuple[str, ...], quit_key: str | None,
                    timeout: float = 60) -> float:
        """Seconds from launching ``argv`` until every marker is on the screen; then quit it."""
        self.count += 1
        target = f"run{self.count}"
        t0 = time.perf_counter()
        self._tmux("new-session", "-d", "-s", target, "-x", str(COLS), "-y", str(LINES),
                   "-c", self.cwd, "exec " + shlex.join(argv))
        try:
            while True:  # one tmux client per poll (screen, then whether the pane died), every 10 ms
                screen, _, dead = self._tmux("capture-pane", "-p", "-t", target, ";",
                                             "display-message", "-p", "-t", target, "#{pane_dead}",
                                             ).rstrip("\n").rpartition("\n")
                seen = time.perf_counter()
                if all(marker in screen for marker in markers):
                    break
                if dead.strip() == "1":
                    raise SystemExit(f"bench_cli: {shlex.join(argv)} ended before its first paint:\n{screen}")
                if seen - t0 > timeout:
                    raise SystemExit(f"bench_cli: no first paint of {shlex.join(argv)} in {timeout:.0f} s:\n{screen}")
                time.sleep(0.01)
            if quit_key:
                self._tmux("send-keys", "-t", target, quit_key)
            end = time.perf_counter() + 15
            while time.perf_counter() < end:
                if self._tmux("display-message", "-p", "-t", target, "#{pane_dead}").strip() == "1":
                    status = self._tmux("display-message", "-p", "-t", target, "#{pane_dead_status}").strip()
                    if status not in ("", "0"):
                        print(f"warning: {shlex.join(argv)} exited with status {status}", file=sys.stderr)
                    break
                time.sleep(0.05)
            else:
                print(f"warning: {shlex.join(argv)} did not exit after {quit_key}; killed", file=sys.stderr)
        finally:
            self._tmux("kill-session", "-t", target, check=False)
        return seen - t0

    def close(self) -> None:
        self._tmux("kill-server", check=False)
        if self.socket:  # tmux may leave the socket file behind
            Path(self.socket).unlink(missing_ok=True)


_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
                      rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
                      rb"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
                      rb"|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>78]")


class PtyHarness:
    """A pseudo-terminal of COLS x LINES (TERM=xterm-256color); the output stream, escapes stripped, is searched."""

    name = "pty"
    ctrl_q, enter = "\x11", "\r"

    def __init__(self, env: dict, cwd: str) -> None:
        self.env = dict(env, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(LINES))
        self.cwd = cwd

    def first_paint(self, argv: list[str], markers: tuple[str, ...], quit_key: str | None,
                    timeout: float = 60) -> float:
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))

        def controlling_tty() -> None:  # runs in the child after setsid: make the pty its terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=self.env, cwd=self.cwd,
                                start_new_session=True, preexec_fn=controlling_tty)
        os.close(slave)
        data = bytearray()

        def pump(wait: float) -> bool:
            """Read what is there (up to ``wait`` s); False at end of output."""
            ready, _, _ = select.select([master], [], [], wait)
            if not ready:
                return True
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return False
            data.extend(chunk)
            return bool(chunk)

        try:
            while True:
                alive = pump(0.05)
                seen = time.perf_counter()
                text = _ESCAPES.sub(b"", bytes(data)).decode("utf-8", errors="replace")
                if all(marker in text for marker in markers):
                    break
                if not alive or (proc.poll() is not None and not pump(0)):
                    raise SystemExit(f"bench_cli: {shlex.join(argv)} ended before its first paint:\n{text[-2000:]}")
                if seen - t0 > timeout:
                    raise SystemExit(f"bench_cli: no first paint of {shlex.join(argv)} in {timeout:.0f} s")
            if quit_key:
                os.write(master, quit_key.encode())
            end = time.perf_counter() + 15
            while proc.poll() is None and time.perf_counter() < end:
                pump(0.05)  # keep draining, or the child blocks writing its last frames
            if proc.poll() is None:
                print(f"warning: {shlex.join(argv)} did not exit after {quit_key!r}; killed", file=sys.stderr)
                proc.kill()
            elif proc.returncode != 0:
                print(f"warning: {shlex.join(argv)} exited with status {proc.returncode}", file=sys.stderr)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            os.close(master)
        return seen - t0

    def close(self) -> None:
        pass


def make_harness(kind: str, env: dict, cwd: str):
    if kind in ("auto", "tmux") and shutil.which("tmux"):
        try:
            return TmuxHarness(env, cwd)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            if kind == "tmux":
                raise SystemExit(f"bench_cli: cannot start tmux: {exc}")
            print(f"tmux did not start ({exc}); using a pseudo-terminal", file=sys.stderr)
    elif kind == "tmux":
        raise SystemExit("bench_cli: tmux is not installed (use --harness pty or --no-console)")
    try:
        import pty  # noqa: F401  (POSIX only)
    except ImportError:
        return None
    return PtyHarness(env, cwd)


# --------------------------------------------------------------------------- figures


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1))]


def summary(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values) * 1000, 1), "p90_ms": round(pct(values, 0.9) * 1000, 1),
            "runs": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the five commands (default 15)")
    parser.add_argument("--warmup", type=int, default=1, help="first rounds discarded (default 1)")
    parser.add_argument("--console-rounds", type=int, default=5,
                        help="rounds of console start-up and its baseline, after the warm-up (default 5)")
    parser.add_argument("--no-console", action="store_true", help="skip the console's start-up to first paint")
    parser.add_argument("--harness", choices=["auto", "tmux", "pty"], default="auto",
                        help="terminal for the console row: tmux if installed, else a pseudo-terminal (default auto)")
    parser.add_argument("--db", help="database URL to measure instead of a temporary SQLite file "
                                     "(needs a fresh database: the demo facility is created and vehicles admitted)")
    parser.add_argument("--attendant", help="path of the attendant console script (default: the venv's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.rounds <= args.warmup:
        parser.error("--rounds must be greater than --warmup")

    attendant, python = find_attendant(args.attendant)
    db_opts = ["--db", args.db, "--facility", "CHS"] if args.db else []
    tag = "".join(random.choices(string.ascii_uppercase, k=3))  # plates unique to this run: BC<tag><n>
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  (progress; the figures go to stdout)

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as home:
        env = make_env(home)
        log(f"attendant: {shlex.join(attendant)}  interpreter: {python}")
        log(f"setup: attendant init --demo in {args.db or home + '/data/attendant.db'} (not measured)")
        t = time.perf_counter()
        init = json.loads(run_checked([*attendant, *db_opts, "init", "--demo", "--json"], env, home).stdout)
        log(f"  {init['name']} ({init['facility']}), {init['spots']} bays, in {time.perf_counter() - t:.1f} s")

        plate_no = 0

        def enter_argv() -> list[str]:
            nonlocal plate_no
            plate_no += 1
            return [*attendant, *db_opts, "enter", f"BC{tag}{plate_no:04d}", "--vehicle", "car", "--json"]

        commands = [  # (label, argv or a function giving a fresh argv)
            ("python -c pass", [python, "-c", "pass"]),
            ('python -c "import sqlalchemy"', [python, "-c", "import sqlalchemy"]),
            ("attendant --help", [*attendant, "--help"]),
            ("attendant status --json", [*attendant, *db_opts, "status", "--json"]),
            ("attendant enter PLATE --vehicle car --json", enter_argv),
        ]
        times: dict[str, list[float]] = {label: [] for label, _ in commands}
        for r in range(args.rounds):
            row = []
            for label, argv in commands:
                elapsed = timed(argv() if callable(argv) else argv, env, home)
                row.append(elapsed)
                if r >= args.warmup:
                    times[label].append(elapsed)
            log(f"round {r + 1:2d}/{args.rounds}{' (warm-up)' if r < args.warmup else '          '} "
                + "  ".join(f"{elapsed * 1000:6.0f}" for elapsed in row) + " ms")

        harness_name = None
        console_note = None
        if not args.no_console:
            harness = make_harness(args.harness, env, home)
            if harness is None:
                console_note = "console row skipped: neither tmux nor a pseudo-terminal is available"
                log(console_note)
            else:
                harness_name = harness.name
                base_label = f"""python -c "print('ready'); input()" to screen ({harness.name})"""
                console_label = f"attendant (console) to first paint ({harness.name})"
                times[base_label], times[console_label] = [], []
                try:
                    for r in range(args.warmup + args.console_rounds):
                        base = harness.first_paint([python, "-c", f"print({READY!r}); input()"], (READY,),
                                                   harness.enter)
                        console = harness.first_paint([*attendant, *db_opts], CONSOLE_MARKERS, harness.ctrl_q)
                        if r >= args.warmup:
                            times[base_label].append(base)
                            times[console_label].append(console)
                        log(f"console round {r + 1}/{args.warmup + args.console_rounds}"
                            f"{' (warm-up)' if r < args.warmup else ''}: "
                            f"baseline {base * 1000:.0f} ms, console {console * 1000:.0f} ms")
                finally:
                    harness.close()

    figures = {label: summary(values) for label, values in times.items()}
    med = {label: statistics.median(values) for label, values in times.items()}
    ratios = [
        {"ratio": "attendant --help / python -c pass",
         "value": med["attendant --help"] / med["python -c pass"], "target": HELP_TARGET},
        {"ratio": 'attendant status --json / python -c "import sqlalchemy"',
         "value": med["attendant status --json"] / med['python -c "import sqlalchemy"'], "target": STATUS_TARGET},
    ]
    if harness_name:
        ratios.append({"ratio": f"console first paint / bare interpreter ({harness_name})",
                       "value": med[console_label] / med[base_label], "target": None})
    for ratio in ratios:
        ratio["value"] = round(ratio["value"], 2)
        ratio["met"] = None if ratio["target"] is None else ratio["value"] <= ratio["target"]

    if args.json:
        print(json.dumps({
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "interpreter": python,
            "attendant": shlex.join(attendant),
            "database": args.db or "temporary SQLite (attendant init --demo)",
            "rounds": args.rounds, "warmup": args.warmup,
            "console_rounds": None if args.no_console else args.console_rounds,
            "harness": harness_name,
            "console_note": console_note,
            "commands": figures,
            "ratios": ratios,
        }, indent=2))
        return

    width = max(len(label) for label in figures)
    print(f"\n{'command':<{width}}  {'median ms':>9}  {'p90 ms':>8}  {'runs':>4}")
    for label, fig in figures.items():
        print(f"{label:<{width}}  {fig['median_ms']:9.1f}  {fig['p90_ms']:8.1f}  {fig['runs']:4d}")
    print()
    width = max(len(r["ratio"]) for r in ratios)
    for r in ratios:
        if r["target"] is None:
            verdict = "(no target; the harness's cost is in both)"
        else:
            verdict = f"target <= {r['target']:g}x  {'met' if r['met'] else 'NOT met'}"
        print(f"{r['ratio']:<{width}}  {r['value']:5.2f}x  {verdict}")
    if harness_name:
        print(f"console first paint, absolute: median {med[console_label]:.2f} s "
              f"(bench_console.py's in-process start-up target is 1.5 s)")
    if console_note:
        print(console_note)


if __name__ == "__main__":
    main()
