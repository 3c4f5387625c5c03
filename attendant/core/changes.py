"""Live changes between consoles: what other booths committed, within a second.

The database records every entry, exit, bay status change and payment in
``change_log`` from triggers, in the writer's own transaction (migration
0009_change_feed): a change is logged exactly when it commits, whoever made it.
A reader keeps the last id it saw and asks for the rows after it
(:class:`ChangeFeed`); a :class:`ChangeWatcher` thread does so whenever
something may have changed:

- PostgreSQL: ``LISTEN attendant_changes`` on a connection of its own
  (psycopg's ``Connection.notifies``). Writers ring that doorbell *after* their
  commit, at most every :data:`DOORBELL_S` seconds per process
  (:func:`ring`), never inside the transaction: a PostgreSQL transaction that
  has issued ``NOTIFY`` takes a database-wide lock for its commit
  (``PreCommit_Notify`` in src/backend/commands/async.c, "serialize writers
  ... till after commit"), which would queue every booth's commits behind one
  another. The notification carries nothing; the rows do.
- SQLite: ``PRAGMA data_version``, which changes when another connection
  committed, checked every :data:`SQLITE_CHECK_S` seconds on a connection of
  its own.

Either way the watcher also looks every :data:`FALLBACK_S` seconds, so a lost
doorbell (a writer killed between its commit and the ring) delays a change by
at most that. On PostgreSQL ids come from a sequence and are handed out
before commit, so a row can commit after a higher one: the feed keeps the ids
it skipped as *pending* and asks for them again until they appear or
:data:`GAP_GIVE_UP_S` passes (their transaction rolled back). A watcher that
loses its connection reconnects with a back-off and calls ``on_resync``: the
console then reloads the whole state once and follows the log again.

Events (:class:`Change`) are small dicts: ``kind`` ``spot`` (``spot``,
``spot_id``, ``level_id``, ``status``), ``entry`` (``ticket_no``, ``spot``,
``lane``, ``vehicle_class``), ``exit`` (``ticket_no``, ``spot``, ``lane``,
``amount_due``, ``amount_paid`` in minor units) or ``payment`` (``method``,
``status``, ``amount`` in minor units).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, func, select

from db.engine import unavailable_reason
from db.models import ChangeLog

log = logging.getLogger(__name__)

CHANNEL = "attendant_changes"
DOORBELL_S = 0.05
DOORBELL_IDLE_S = 1.0  # a doorbell gives its connection back after this long without a ring
SQLITE_CHECK_S = 0.2
FALLBACK_S = 1.0
GAP_GIVE_UP_S = 10.0
RECONNECT_MAX_S = 5.0
BATCH = 2000

CL = ChangeLog.__table__
_AFTER = select(CL.c.id, CL.c.facility_id, CL.c.kind, CL.c.body).where(CL.c.id > bindparam("after")).order_by(
    CL.c.id).limit(BATCH)
_NEWEST = select(func.coalesce(func.max(CL.c.id), 0))


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: ``id`` in ``change_log``, the facility, its ``kind`` and ``body``."""

    id: int
    facility_id: int
    kind: str
    body: dict = field(hash=False, compare=False)

    def to_json_dict(self, facility_code: str | None = None) -> dict:
        """The one-line JSON form ``attendant watch`` prints: ``id``, ``kind``, ``facility`` and the body."""
        out = {"id": self.id, "kind": self.kind}
        if facility_code is not None:
            out["facility"] = facility_code
        out.update(self.body)
        return out


class ChangeFeed:
    """The rows of ``change_log`` after a cursor, each delivered once, in id order (see the module docstring).

    ``facility_id`` (None: every facility) filters what :meth:`poll` returns.
    The cursor starts at the newest row: history is not replayed.
    """

    def __init__(self, engine: Engine, facility_id: int | None = None, *, clock=time.monotonic) -> None:
        self.engine = engine
        self.facility_id = facility_id
        self.clock = clock
        with engine.connect().execution_options(readonly=True) as conn:
            self.cursor: int = conn.execute(_NEWEST).scalar_one()
        self.pending: dict[int, float] = {}  # skipped ids -> when first missed (clock)

    def poll(self, conn=None) -> list[Change]:
        """The changes committed since the last poll (at most :data:`BATCH` per call; call again while full)."""
        low = min(self.pending) - 1 if self.pending else self.cursor
        if conn is None:
            with self.engine.connect().execution_options(readonly=True) as own:
                rows = own.execute(_AFTER, {"after": low}).all()
        else:
            rows = conn.execute(_AFTER, {"after": low}).all()
        now = self.clock()
        out: list[Change] = []
        expected = self.cursor + 1
        for row in rows:
            if row.id <= self.cursor:
                if self.pending.pop(row.id, None) is None:
                    continue  # delivered before
            else:
                for missing in range(expected, row.id):  # committed later than higher ids, or rolled back
                    self.pending.setdefault(missing, now)
                expected = row.id + 1
                self.cursor = row.id
            if self.facility_id is None or row.facility_id == self.facility_id:
                out.append(Change(row.id, row.facility_id, row.kind, json.loads(row.body)))
        for missing, since in list(self.pending.items()):
            if now - since > GAP_GIVE_UP_S or missing <= self.cursor - 10 * BATCH:
                del self.pending[missing]  # rolled back (sequences never reuse ids), or pruned
        out.sort(key=lambda c: c.id)
        return out


class ChangeWatcher:
    """A thread that calls ``on_changes(list[Change])`` as other processes commit (see the module docstring).

    ``on_resync()`` is called after the watcher (re)connected following an
    error: what happened meanwhile is not replayed, the caller reloads its
    state. ``on_state(str)`` hears ``"live"`` and ``"offline: <why>"``.
    Callbacks run on the watcher's thread. :meth:`stop` ends it.
    """

    def __init__(self, engine: Engine, on_changes: Callable[[list[Change]], None], *,
                 facility_id: int | None = None, on_resync: Callable[[], None] | None = None,
                 on_state: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.on_changes = on_changes
        self.on_resync = on_resync or (lambda: None)
        self.on_state = on_state or (lambda _state: None)
        self.facility_id = facility_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-watcher", daemon=True)

    def start(self) -> ChangeWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay, first = 0.2, True
        while not self._stop.is_set():
            try:
                feed = ChangeFeed(self.engine, self.facility_id)
                if not first:
                    self.on_resync()
                first = False
                self.on_state("live")
                if self.engine.dialect.name == "postgresql":
                    self._follow_postgresql(feed)
                else:
                    self._follow_sqlite(feed)
                delay = 0.2
            except Exception as exc:  # noqa: BLE001 - a database away never ends the watcher: retry
                log.warning("change watcher: %s", exc)
                why = unavailable_reason(exc) or str(exc)  # "cannot connect: db-a:5432 Connection refused; ..."
                self.on_state(f"offline: {why}".splitlines()[0][:200])
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)

    def _deliver(self, feed: ChangeFeed, conn=None) -> None:
        while True:
            changes = feed.poll(conn)
            if changes:
                self.on_changes(changes)
            if len(changes) < BATCH:
                return

    def _follow_postgresql(self, feed: ChangeFeed) -> None:
        raw = self.engine.raw_connection()
        try:
            pg = raw.driver_connection
            pg.autocommit = True
            pg.execute(f"LISTEN {CHANNEL}")
            self._deliver(feed)
            while not self._stop.is_set():
                for _note in pg.notifies(timeout=FALLBACK_S, stop_after=1):
                    pass  # a doorbell, or the fallback timeout: look either way
                self._deliver(feed)
        finally:
            raw.invalidate()  # a listening connection never goes back to the pool

    def _follow_sqlite(self, feed: ChangeFeed) -> None:
        with self.engine.connect().execution_options(readonly=True) as conn:
            raw = conn.connection.driver_connection

            def version() -> int:
                return raw.execute("PRAGMA data_version").fetchone()[0]

            seen, last_look = version(), time.monotonic()
            self._deliver(feed)
            while not self._stop.wait(SQLITE_CHECK_S):
                now = version()
                if now != seen or time.monotonic() - last_look >= FALLBACK_S:
                    seen, last_look = now, time.monotonic()
                    self._deliver(feed)


class _Doorbell:
    """Rings ``NOTIFY attendant_changes`` for one PostgreSQL engine, at most every DOORBELL_S seconds.

    A ring is one round trip: the thread keeps a pooled connection in autocommit while rings keep coming
    (a busy booth rings up to 1 / DOORBELL_S times a second; checking a connection out for each ring cost a
    ping, the NOTIFY and a COMMIT) and gives it back after DOORBELL_IDLE_S without one, so an idle booth
    holds no connection for it and disposing the engine closes it. A ring that fails on the kept
    connection (the server restarted, a failover) is tried once more on a fresh one; the thread ends once
    the engine is gone.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine_ref = weakref.ref(engine)
        self.wanted = threading.Event()
        self.raw = None  # the kept connection (a pooled DBAPI connection, autocommit), or None
        self.thread = threading.Thread(target=self._run, name="change-doorbell", daemon=True)
        self.thread.start()

    def _release(self) -> None:
        """Give the kept connection back to the pool as it was taken (not in autocommit), or drop it."""
        raw, self.raw = self.raw, None
        if raw is None:
            return
        try:
            raw.driver_connection.autocommit = False
            raw.close()
        except Exception:  # noqa: BLE001 - a broken connection: the pool must not get it back
            try:
                raw.invalidate()
            except Exception as exc:  # noqa: BLE001 - nothing more to release
                log.debug("change doorbell: %s", exc)

    def _ring(self, engine: Engine) -> None:
        for attempt in (1, 2):
            fresh = self.raw is None
            if fresh:
                raw = engine.raw_connection()  # the pool pings it
                raw.driver_connection.autocommit = True
                self.raw = raw
            try:
                self.raw.driver_connection.execute(f"NOTIFY {CHANNEL}")
                return
            except Exception:
                raw, self.raw = self.raw, None
                raw.invalidate()  # the server may be gone (a failover): the pool must not reset it
                if fresh or attempt == 2:
                    raise

    def _run(self) -> None:
        try:
            while True:
                if not self.wanted.wait(DOORBELL_IDLE_S if self.raw is not None else 30):
                    self._release()  # quiet: nothing kept
                    if self.engine_ref() is None:
                        return
                    continue
                self.wanted.clear()
                engine = self.engine_ref()
                if engine is None:
                    return
                try:
                    self._ring(engine)
                except Exception as exc:  # noqa: BLE001 - listeners fall back to looking every FALLBACK_S
                    log.debug("change doorbell: %s", exc)
                del engine
                time.sleep(DOORBELL_S)
        finally:
            self._release()


_doorbells: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_doorbells_lock = threading.Lock()


def ring(engine: Engine) -> None:
    """Tell the consoles on ``engine``'s database to look at the log now (after a commit; cheap, never blocks).

    Only PostgreSQL has a doorbell; SQLite readers notice commits by themselves.
    """
    if engine.dialect.name != "postgresql":
        return
    bell = _doorbells.get(engine)
    if bell is None:
        with _doorbells_lock:
            bell = _doorbells.get(engine)
            if bell is None:
                bell = _doorbells[engine] = _Doorbell(engine)
    bell.wanted.set()
