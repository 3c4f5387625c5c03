"""Several booths at once on one database: entries and exits per second, latency, and what the database holds after.

Usage: ``python benchmarks/bench_booths.py [--booths 1,2,4,8] [--vehicles N] [--backend postgresql|sqlite|both]
[--rounds R] [--warmup W] [--pg-url URL] [--json FILE]``

Each booth is its own process (``multiprocessing``, spawned: nothing shared
with the others but the database), built the way the product builds one:
:func:`attendant.booth.open_booth` on its own engine (:func:`db.engine.make_engine`,
so its own connection pool and, on SQLite, the product's WAL and
``synchronous=FULL``), with its own entry lane and exit lane (``E<k>``,
``X<k>``, each with a simulated barrier, ``sim://``; no printer: paper is not
what is measured), signing tickets with the installation secret (one
``ATTENDANT_HOME`` for all of them, as booths of one site share it). The
actor is ``Actor("booth<k>", system=True)`` (the demo replay's kind): no
login and no shift, and, unlike a plain string actor, no look-up per call of
whether users exist.

Each booth first lets ``--warmup`` cars (default 1) in and out, untimed
(the first calls compile statements and open connections: 30 ms instead of
a few), then all wait at a start barrier, and each admits ``--vehicles`` cars
(``Booth.enter(EntryRequest(plate, lane="E<k>"))``, a new plate each), timing
every call; at a second barrier they all let their own vehicles out
(``Booth.exit(ExitRequest(code, (Tender("cash"),), lane="X<k>"))``, exact
cash, one transaction). The booths' clock runs two and a half hours behind
the wall clock while they admit and on the wall clock while they let out, so
every exit owes a fee and takes a payment. Only the product's public booth
methods are called: the allocation and the ticket numbering are the
product's own. A call the product refuses with "... try again" (a bay taken
by another booth) is tried again, as an attendant would, and counted; any
other failure is a problem of the run.

Against ONE database per run: a fresh schema on the PostgreSQL server
(``--pg-url``, default ``ATTENDANT_TEST_PG`` or ``127.0.0.1:5432/test``,
selected with ``options=-csearch_path``, dropped afterwards; ``make_engine``
runs the migrations) and a fresh SQLite file; both get the demo facility
(Charlotte Street CP, 1,056 bays, 970 of which take a car, so booths x
vehicles is at most 970). When no PostgreSQL server answers, the run says
so and measures SQLite only.

Per configuration (backend, number of booths): entries/s and exits/s of all
booths together (acknowledged operations over the wall clock from the
barrier to the last booth done, per phase; ``time.monotonic`` is the
system-wide monotonic clock on Linux, so booths' stamps compare), the p95
latency of every operation (entries and exits, ms), the retries, and the
integrity of the database after the entries and again after the exits: no
ticket number or code twice, no bay with two open sessions, the occupied bays
exactly the open sessions' bays, every acknowledged entry exactly once (its
code, plate and bay as the booth was told; one entry audit event, one gate
opening) and every acknowledged exit exactly once (closed, one exit audit
event, one gate opening, the cash payment once), and nothing in the database
that no booth was told. Configurations run round-robin within each round so
the shared, noisy machine hits them alike; the figures are medians over
``--rounds``. Also printed: the CPU per operation of the booth processes and
of their PostgreSQL backends (``/proc``), and the statements each booth sent
per operation (``before_cursor_execute``; BEGIN and COMMIT not counted). ``--json FILE`` writes ``{"postgresql": {"1": {"entries_per_s",
"exits_per_s", "p95_ms", "integrity"}, ...}, "sqlite": {...}}`` (integrity:
"ok" or the first problem). This is a measurement: it exits 0 whatever the
figures (non-zero only when a booth cannot run at all).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue as queue_module
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("ATTENDANT_TEST_PG", "postgresql+psycopg://127.0.0.1:5432/test")
LAYOUT = ROOT / "examples" / "charlotte_street.toml"
CAR_BAYS = 970  # the demo's regular (854), compact (108) and large (8) bays
STAY = timedelta(hours=2, minutes=30)  # entry clock behind the wall clock: every exit owes a fee
GATE = "sim://"
RETRIES = 5  # attempts at an operation the product refuses with "... try again"
READY_TIMEOUT = 300.0  # seconds for every booth to start (imports, engine, bay index) on a busy machine
BACKENDS = ("postgresql", "sqlite")


# --------------------------------------------------------------------------- databases


def pg_unavailable(url: str = PG_URL) -> str | None:
    """Why the PostgreSQL server at ``url`` cannot be used (None: it answers)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect: measure SQLite only, and say why
        return f"PostgreSQL not reachable at {url} ({type(exc).__name__})"


def _create_facility(url: str) -> None:
    """The demo facility in ``url``'s database, made by the project's own migrations and layout."""
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import load_layout
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        create_facility(engine, load_layout(LAYOUT), actor=Actor("bench", Role.ADMIN))
    finally:
        engine.dispose()  # SQLite: the last connection closed checkpoints the WAL into the file


@contextmanager
def fresh_database(backend: str, folder: Path, pg_url: str = PG_URL):
    """A URL of a new database with the demo facility: a SQLite file in ``folder``, or a new schema on
    the PostgreSQL server at ``pg_url`` (dropped on leaving)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'booths-{uuid.uuid4().hex[:8]}.db'}"
        _create_facility(url)
        yield url
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_booths_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in pg_url else "?"
        url = f"{pg_url}{sep}options=-csearch_path%3D{schema}"
        _create_facility(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --------------------------------------------------------------------------- one booth (its own process)


def _lanes(k: int) -> str:
    return f"""
        [[lanes]]
        code = "E{k}"
        name = "Entry {k}"
        direction = "entry"
        gate = "{GATE}"
        [[lanes]]
        code = "X{k}"
        name = "Exit {k}"
        direction = "exit"
        gate = "{GATE}"
        """


def booth_process(k: int, url: str, vehicles: int, warmup: int, home: str, barrier, results) -> None:
    """Booth ``k``: admit ``vehicles`` cars at lane E<k>, then let them out at X<k>, between barriers.

    First, before the start barrier, ``warmup`` cars come in and go out, untimed
    (what they were told is reported as ``warm_entries``/``warm_exits`` with the entries).

    Puts on ``results``: ``("entered", k, phase)`` and ``("exited", k, phase)``,
    each phase a dict of ``start``/``end`` (``time.monotonic``), ``latencies``
    (seconds), ``acked`` (what the booth was told), ``retries`` and
    ``problems``; or ``("failed", k, traceback)`` (then the barrier is broken).
    """
    os.environ["ATTENDANT_HOME"] = home
    os.environ.pop("ATTENDANT_SECRET_FILE", None)
    os.environ.pop("ATTENDANT_DB", None)
    try:
        from attendant.booth import EntryRequest, ExitRequest, Tender, open_booth
        from attendant.core.auth import Actor
        from attendant.core.clock import utc_now
        from attendant.core.errors import Refused
        from attendant.core.vocab import LaneDirection
        from db.engine import make_engine
        from hardware.config import parse_config

        engine = make_engine(url)
        statements = [0]  # every statement the booth sends (BEGIN and COMMIT are not cursor executions)

        def count_statement(*_args) -> None:
            statements[0] += 1

        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", count_statement)
        behind = [STAY]
        booth = open_booth(engine, parse_config(_lanes(k), f"booth{k}.toml"), clock=lambda: utc_now() - behind[0])
        entry_lane = booth.lane(f"E{k}", LaneDirection.ENTRY)
        exit_lane = booth.lane(f"X{k}", LaneDirection.EXIT)
        for lane in (entry_lane, exit_lane):  # the gates open before the start, as a console's do
            booth.devices(lane)
        actor = Actor(f"booth{k}", system=True)

        def phase(items, operation, describe):
            """Run ``operation`` on each item, timing each call: the phase's figures."""
            out = {"latencies": [], "acked": [], "retries": 0, "problems": []}
            backend_pid = _backend_pid(booth.service)
            barrier.wait()
            out["start"] = time.monotonic()
            cpu, pg_cpu, sent = time.process_time(), _process_cpu(backend_pid), statements[0]
            for item in items:
                began = time.perf_counter()
                for attempt in range(1, RETRIES + 1):
                    try:
                        out["acked"].append(describe(operation(item)))
                        break
                    except Refused as exc:  # another booth won a race: the attendant tries again
                        if not str(exc).rstrip().endswith("try again") or attempt == RETRIES:
                            out["problems"].append(f"booth {k}: {item!r}: {type(exc).__name__}: {exc}")
                            break
                        out["retries"] += 1
                    except Exception as exc:  # noqa: BLE001 - reported as a problem of the run, not raised
                        out["problems"].append(f"booth {k}: {item!r}: {type(exc).__name__}: {exc}")
                        break
                out["latencies"].append(time.perf_counter() - began)
            out["end"] = time.monotonic()
            out["cpu"] = time.process_time() - cpu
            out["statements"] = statements[0] - sent
            pg_end = _process_cpu(backend_pid)
            out["pg_cpu"] = pg_end - pg_cpu if pg_end is not None and pg_cpu is not None else None
            return out

        def enter(plate):
            return booth.enter(EntryRequest(plate, lane=entry_lane.code), actor=actor).entry

        def leave(code):
            return booth.exit(ExitRequest(code, (Tender("cash"),), lane=exit_lane.code), actor=actor).exit

        def told_entry(e):
            return {"session_id": e.session_id, "ticket_no": e.ticket_no, "code": e.code, "plate": e.plate,
                    "spot": e.spot_label}

        def told_exit(x):
            return {"session_id": x.session_id, "ticket_no": x.ticket_no, "paid": x.paid, "payment_id": x.payment_id}

        warm_entries, warm_exits = [], []
        for i in range(warmup):  # not timed: the first calls compile statements and fill caches
            behind[0] = STAY
            warm_entries.append(told_entry(enter(f"B{k}W{i:04d}")))
            behind[0] = timedelta(0)
            warm_exits.append(told_exit(leave(warm_entries[-1]["code"])))
        behind[0] = STAY
        entered = phase([f"B{k}V{i:05d}" for i in range(vehicles)], enter, told_entry)
        entered["warm_entries"], entered["warm_exits"] = warm_entries, warm_exits
        results.put(("entered", k, entered))
        behind[0] = timedelta(0)
        exited = phase([e["code"] for e in entered["acked"]], leave, told_exit)
        results.put(("exited", k, exited))
        booth.close()
        booth.service.close()
        engine.dispose()
    except BaseException:  # noqa: BLE001 - tell the parent, and release the other booths
        results.put(("failed", k, traceback.format_exc()))
        barrier.abort()


def _backend_pid(service) -> int | None:
    """The process id of the PostgreSQL backend serving ``service``'s writes (its held connection), or None."""
    conn = getattr(service, "_conn", None)
    try:
        return conn.connection.driver_connection.info.backend_pid
    except Exception:  # noqa: BLE001 - SQLite, or no connection yet: no server process to watch
        return None


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used, from ``/proc`` (Linux, a server on this machine);
    None when it cannot be read."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- integrity


def check_integrity(url: str, entries: list[dict], exits: list[dict]) -> str:
    """``"ok"``, or the first problem of the database at ``url`` against what the booths were told.

    ``entries``: the acknowledged entries (``session_id``, ``code``, ``plate``,
    ``spot``); ``exits``: the acknowledged exits (``session_id``, ``paid``).
    Checks: ticket numbers and codes unique; no bay with two open sessions;
    occupied bays exactly the open sessions' bays; every acknowledged entry in
    the database exactly once as told (one entry audit event, one entry gate
    opening) and open unless acknowledged as exited; every acknowledged exit
    closed, with one exit audit event, one exit gate opening and its payment
    once; no session that no booth was told of; the audit chain verifies
    (attendant/core/audit_verify.py).
    """
    from sqlalchemy import func, select

    from attendant.core.personal_data import site_data
    from attendant.core.vocab import PaymentStatus, SessionStatus, SpotStatus
    from db.engine import make_engine
    from db.models import AuditEvent, ParkingSession, Payment, Spot, Vend

    pd = site_data()  # codes are stored as keyed hashes, plates sealed (attendant/core/personal_data.py)

    PS, S, PAY, AUD, VEND = (t.__table__ for t in (ParkingSession, Spot, Payment, AuditEvent, Vend))
    engine = make_engine(url, migrate=False)
    try:
        with engine.connect() as conn:
            sessions = conn.execute(select(PS.c.id, PS.c.ticket_no, PS.c.code, PS.c.plate, PS.c.status,
                                           S.c.label).join(S, S.c.id == PS.c.spot_id)).all()
            occupied = {r.label for r in conn.execute(select(S.c.label).where(S.c.status == SpotStatus.OCCUPIED.value))}
            audits = Counter((r.action, r.entity_id) for r in conn.execute(
                select(AUD.c.action, AUD.c.entity_id).where(AUD.c.entity == "parking_session",
                                                            AUD.c.action.in_(("session.enter", "session.exit")))))
            vends = Counter((r.direction, r.session_id) for r in conn.execute(
                select(VEND.c.direction, VEND.c.session_id).where(VEND.c.session_id.is_not(None))))
            payments = {r.session_id: (r.n, r.total) for r in conn.execute(
                select(PAY.c.session_id, func.count().label("n"), func.sum(PAY.c.amount).label("total"))
                .where(PAY.c.status == PaymentStatus.COMPLETED.value).group_by(PAY.c.session_id))}
    finally:
        engine.dispose()

    for what, values in (("ticket number", [r.ticket_no for r in sessions]),
                         ("ticket code", [r.code for r in sessions]),
                         ("acknowledged ticket code", [e["code"] for e in entries])):
        value, n = next(iter(Counter(values).most_common(1)), (None, 0))
        if n > 1:
            return f"{what} {value} appears {n} times"
    open_bays = Counter(r.label for r in sessions if r.status == SessionStatus.OPEN.value)
    bay, n = next(iter(open_bays.most_common(1)), (None, 0))
    if n > 1:
        return f"bay {bay} has {n} open sessions"
    if set(open_bays) != occupied:
        extra, missing = sorted(occupied - set(open_bays)), sorted(set(open_bays) - occupied)
        return (f"{len(occupied)} bays occupied but {len(open_bays)} open sessions"
                f" (occupied without a session: {extra[:3]}; a session's bay not occupied: {missing[:3]})")
    by_code = {r.code: r for r in sessions}  # by the code's stored hash
    exited = {x["session_id"]: x for x in exits}
    if len(exited) != len(exits):
        return "a session was acknowledged as exited twice"
    for e in entries:
        row = by_code.get(pd.code_hash(e["code"]))
        if row is None:
            return f"acknowledged entry {e['code']} ({e['plate']}) is not in the database"
        told = (e["session_id"], e["plate"], e["spot"])
        held = (row.id, pd.open(row.plate), row.label)
        if held != told:
            return f"entry {e['code']}: the database holds {held}, the booth was told {told}"
        if audits[("session.enter", row.id)] != 1:
            return f"entry {e['code']} has {audits[('session.enter', row.id)]} entry audit events"
        if vends[("entry", row.id)] != 1:
            return f"entry {e['code']} has {vends[('entry', row.id)]} entry gate openings"
        status = SessionStatus.CLOSED.value if row.id in exited else SessionStatus.OPEN.value
        if row.status != status:
            return f"session {e['code']} is {row.status}, expected {status}"
    told_codes = {pd.code_hash(e["code"]) for e in entries}
    unknown = [r.ticket_no for r in sessions if r.code not in told_codes]
    if unknown:
        return f"{len(unknown)} sessions no booth was told of (first ticket {unknown[0]})"
    ids = {r.id for r in sessions}
    for session_id, x in exited.items():
        if session_id not in ids:
            return f"acknowledged exit of session {session_id} is not in the database"
        if audits[("session.exit", session_id)] != 1:
            return f"exit of session {session_id} has {audits[('session.exit', session_id)]} exit audit events"
        if vends[("exit", session_id)] != 1:
            return f"exit of session {session_id} has {vends[('exit', session_id)]} exit gate openings"
        n, total = payments.get(session_id, (0, 0))
        if (n, total or 0) != ((1, x["paid"]) if x["paid"] else (0, 0)):
            return f"exit of session {session_id}: paid {x['paid']} acknowledged, {n} payments of {total} recorded"
    from attendant.core.audit_verify import verify  # one audit chain, every link holding, whatever the booths did

    engine = make_engine(url, migrate=False)
    try:
        chain = verify(engine, limit=1)
    finally:
        engine.dispose()
    if not chain.ok:
        return f"audit chain: {chain.first.message}"
    return "ok"


# --------------------------------------------------------------------------- one run


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method; the value itself for one)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def _collect(results, procs, kind: str, n: int, timeout: float) -> dict[int, dict]:
    """``n`` messages of ``kind`` from the booths; raises RuntimeError when a booth failed or died."""
    got: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while len(got) < n:
        try:
            message, k, payload = results.get(timeout=1.0)
        except queue_module.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"booth process {dead[0].name} died (exit {dead[0].exitcode})") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"booths did not finish {kind} within {timeout:.0f} s") from None
            continue
        if message == "failed":
            raise RuntimeError(f"booth {k} failed:\n{payload}")
        got[k] = payload
    return got


def run_booths(url: str, booths: int, vehicles: int, home: Path, *, warmup: int = 1,
               timeout: float = 1800.0) -> dict:
    """Booths 1..``booths`` (processes) on the database at ``url``, ``vehicles`` each: one run's figures.

    Each booth first lets ``warmup`` vehicles in and out, untimed (checked with the others).

    Returns ``entries_per_s``, ``exits_per_s``, ``p95_ms``, ``integrity``
    (``"ok"`` or the first problem, after the entries and after the exits),
    ``retries`` and ``spread`` (the last booth's finish minus the first's, s,
    entries and exits). Raises RuntimeError if a booth process fails outright.
    """
    from attendant.keyfiles import ensure_site_secrets

    os.environ["ATTENDANT_HOME"] = str(home)  # the site's secrets, shared by its booths (made as init makes them)
    ensure_site_secrets()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(booths + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=booth_process, args=(k, url, vehicles, warmup, str(home), barrier, results),
                         name=f"booth{k}", daemon=True) for k in range(1, booths + 1)]
    for p in procs:
        p.start()
    try:
        _wait(barrier, procs, results, READY_TIMEOUT)  # every booth ready: the entries start
        entered = _collect(results, procs, "the entries", booths, timeout)
        acked_entries = [e for phase in entered.values() for e in phase["warm_entries"] + phase["acked"]]
        warm_exits = [x for phase in entered.values() for x in phase["warm_exits"]]
        problems = [p for phase in entered.values() for p in phase["problems"]]
        integrity = problems[0] if problems else check_integrity(url, acked_entries, warm_exits)
        _wait(barrier, procs, results, READY_TIMEOUT)  # the exits start
        exited = _collect(results, procs, "the exits", booths, timeout)
        for p in procs:
            p.join(timeout=60)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    problems = [p for phase in exited.values() for p in phase["problems"]]
    if integrity == "ok":
        acked_exits = warm_exits + [x for phase in exited.values() for x in phase["acked"]]
        integrity = problems[0] if problems else check_integrity(url, acked_entries, acked_exits)

    def rate(phases: dict[int, dict]) -> float:
        done = sum(len(p["acked"]) for p in phases.values())
        wall = max(p["end"] for p in phases.values()) - min(p["start"] for p in phases.values())
        return done / wall if wall > 0 else float("nan")

    def cpu_ms(phases: dict[int, dict], key: str) -> float | None:
        """CPU per acknowledged operation (ms), all booths' processes (``cpu``) or their server backends
        (``pg_cpu``) together; None when a backend's CPU could not be read."""
        done = sum(len(p["acked"]) for p in phases.values())
        used = [p.get(key) for p in phases.values()]
        return 1000 * sum(used) / done if done and None not in used else None

    def per_operation(phases: dict[int, dict]) -> float | None:
        done = sum(len(p["acked"]) for p in phases.values())
        return sum(p["statements"] for p in phases.values()) / done if done else None

    latencies = [t for phases in (entered, exited) for p in phases.values() for t in p["latencies"]]
    return {
        "statements": (per_operation(entered), per_operation(exited)),
        "cpu_ms": (cpu_ms(entered, "cpu"), cpu_ms(exited, "cpu")),
        "pg_cpu_ms": (cpu_ms(entered, "pg_cpu"), cpu_ms(exited, "pg_cpu")),
        "entries_per_s": rate(entered),
        "exits_per_s": rate(exited),
        "p95_ms": p95(latencies) * 1000,
        "integrity": integrity,
        "retries": sum(p["retries"] for phases in (entered, exited) for p in phases.values()),
        "spread": tuple(max(p["end"] for p in ph.values()) - min(p["end"] for p in ph.values())
                        for ph in (entered, exited)),
    }


def _wait(barrier, procs, results, timeout: float) -> None:
    """The parent's side of a barrier; a broken one names the booth that failed."""
    try:
        barrier.wait(timeout=timeout)
    except threading.BrokenBarrierError:
        try:
            message, k, payload = results.get(timeout=5)
            if message == "failed":
                raise RuntimeError(f"booth {k} failed:\n{payload}") from None
        except queue_module.Empty:
            pass
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        detail = f": {dead[0].name} exited with {dead[0].exitcode}" if dead else ""
        raise RuntimeError(f"the booths' barrier broke{detail}") from None


# --------------------------------------------------------------------------- the benchmark


def run(backends: list[str], booth_counts: list[int], vehicles: int, rounds: int, folder: Path, *,
        warmup: int = 1, pg_url: str = PG_URL, log=None) -> dict:
    """Every configuration ``rounds`` times, round-robin; medians per backend and booth count.

    Returns ``{backend: {str(booths): {"entries_per_s", "exits_per_s",
    "p95_ms", "integrity", "retries"}}}`` (rates per second, p95 in ms, both
    medians over the rounds; integrity ``"ok"`` when every round was, else the
    first problem; retries summed); ``warmup`` vehicles per booth come in and go out before the timed
    phases (:func:`run_booths`). ``folder`` holds the SQLite files and the
    booths' ``ATTENDANT_HOME``. ``log`` (a callable) gets one line per run.
    """
    home = folder / "home"
    runs: dict[tuple[str, int], list[dict]] = {}
    for r in range(1, rounds + 1):
        for backend in backends:
            for booths in booth_counts:
                with fresh_database(backend, folder, pg_url) as url:
                    figures = run_booths(url, booths, vehicles, home, warmup=warmup)
                runs.setdefault((backend, booths), []).append(figures)
                if log:
                    log(f"round {r} {backend:<10} {booths} booth(s): {figures['entries_per_s']:7.1f} entries/s "
                        f"{figures['exits_per_s']:7.1f} exits/s  p95 {figures['p95_ms']:7.1f} ms  "
                        f"retries {figures['retries']}  last-first booth {figures['spread'][0]:.1f}/"
                        f"{figures['spread'][1]:.1f} s  CPU ms per entry/exit: booth {_ms(figures['cpu_ms'])}"
                        f" server {_ms(figures['pg_cpu_ms'])}  statements per entry/exit {_ms(figures['statements'])}"
                        f"  integrity {figures['integrity']}")
    out: dict[str, dict[str, dict]] = {}
    for (backend, booths), figures in runs.items():
        problems = [f"round {n}: {f['integrity']}" for n, f in enumerate(figures, 1) if f["integrity"] != "ok"]
        out.setdefault(backend, {})[str(booths)] = {
            "entries_per_s": round(statistics.median(f["entries_per_s"] for f in figures), 1),
            "exits_per_s": round(statistics.median(f["exits_per_s"] for f in figures), 1),
            "p95_ms": round(statistics.median(f["p95_ms"] for f in figures), 1),
            "integrity": problems[0] if problems else "ok",
            "retries": sum(f["retries"] for f in figures),
            "cpu_ms": tuple(_median([f["cpu_ms"][i] for f in figures]) for i in (0, 1)),
            "pg_cpu_ms": tuple(_median([f["pg_cpu_ms"][i] for f in figures]) for i in (0, 1)),
            "statements": tuple(_median([f["statements"][i] for f in figures]) for i in (0, 1)),
        }
    return out


def _median(values: list) -> float | None:
    return None if None in values else round(statistics.median(values), 2)


def _ms(pair) -> str:
    """``entry/exit`` CPU ms, ``-`` for one not measured."""
    return "/".join("-" if v is None else f"{v:.2f}" for v in pair)


def as_json(results: dict) -> dict:
    """The ``--json`` document: per backend and booth count, the four figures (no more)."""
    keys = ("entries_per_s", "exits_per_s", "p95_ms", "integrity")
    return {backend: {n: {k: row[k] for k in keys} for n, row in by_n.items()} for backend, by_n in results.items()}


def _booth_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of booth counts: {text!r} (e.g. 1,2,4,8)") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"booth counts must be 1 or more: {text!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--booths", type=_booth_counts, default=[1, 2, 4, 8], help="booth counts, e.g. 1,2,4,8")
    parser.add_argument("--vehicles", type=int, default=120, help="vehicles per booth (default 120)")
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--warmup", type=int, default=1, help="vehicles per booth in and out before timing (default 1)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the figures are medians (default 1)")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server and database (a schema is made per run)")
    parser.add_argument("--json", metavar="FILE", help="write the medians as JSON to FILE")
    args = parser.parse_args()
    if args.vehicles < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--vehicles and --rounds must be 1 or more, --warmup 0 or more")
    if max(args.booths) * args.vehicles > CAR_BAYS:
        parser.error(f"{max(args.booths)} booths x {args.vehicles} vehicles is more than the demo's {CAR_BAYS} bays "
                     "a car may take")
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        reason = pg_unavailable(args.pg_url)
        if reason:
            print(f"bench_booths: {reason}: measuring SQLite only", file=sys.stderr)
            backends = ["sqlite"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            results = run(backends, args.booths, args.vehicles, args.rounds, Path(tmp), warmup=args.warmup,
                          pg_url=args.pg_url,
                          log=lambda line: print(line, file=sys.stderr, flush=True))
        except RuntimeError as exc:
            raise SystemExit(f"bench_booths: {exc}") from None
    print(f"median of {args.rounds} round(s), {args.vehicles} vehicles per booth (enter, then exit paying cash):")
    print(f"  {'backend':<12}{'booths':>7}{'entries/s':>11}{'exits/s':>9}{'p95 ms':>9}{'retries':>9}"
          f"  {'CPU ms entry/exit: booth':>25}{'server':>12}{'statements':>12}  integrity")
    for backend, by_n in results.items():
        for n, row in by_n.items():
            print(f"  {backend:<12}{n:>7}{row['entries_per_s']:>11.1f}{row['exits_per_s']:>9.1f}"
                  f"{row['p95_ms']:>9.1f}{row['retries']:>9}  {_ms(row['cpu_ms']):>25}{_ms(row['pg_cpu_ms']):>12}"
                  f"{_ms(row['statements']):>12}  {row['integrity']}")
    print("  (statements: what each booth sent per acknowledged operation, BEGIN and COMMIT not counted)")
    print(f"  (CPU: the booth processes' own and their PostgreSQL backends', per acknowledged operation; this machine "
          f"has {os.cpu_count()} cores, so at most {os.cpu_count()} x 1000 / (booth + server) operations a second fit)")
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(results), indent=2) + "\n")


if __name__ == "__main__":
    main()
