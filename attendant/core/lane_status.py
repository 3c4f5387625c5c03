"""Every booth's lanes, for every console on the database: gate, devices, reprints, queue.

A console drives some lanes (its booth's); a supervisor's office, or the booth
across the plaza, wants to see all of them. Each console publishes what it
shows of its own lanes into ``lane_status`` (one row per facility, booth and
lane; migration 0015_lane_status) when that changes, and at least every
:data:`HEARTBEAT_S` seconds; the table's triggers log each write to
``change_log`` (kind ``lane``), so other consoles learn of it through their
:class:`~attendant.core.changes.ChangeWatcher` within a second and read the
rows (:func:`other_lanes`). A row not refreshed for :data:`STALE_S` seconds
belongs to a booth that has gone away (crashed, or cut off): it is no longer
shown, and a console that closes withdraws its rows.

The rows hold no plates: the queue is the waiting vehicles' classes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, insert, select, update

from attendant.core.clock import utc_now
from db.models import LaneStatus

LS = LaneStatus.__table__
HEARTBEAT_S = 20.0
STALE_S = 3 * HEARTBEAT_S


def booth_name() -> str:
    """This console's name among the booths: ``ATTENDANT_BOOTH``, else ``<host>-<pid>`` (two consoles
    on one machine are two booths). At most 64 characters."""
    name = os.environ.get("ATTENDANT_BOOTH", "").strip() or f"{socket.gethostname()}-{os.getpid()}"
    return name[:64]


@dataclass(frozen=True)
class LaneReport:
    """One lane as its booth shows it.

    ``gate`` ``closed``/``open``/``fault`` or None (no gate); ``devices`` maps a
    device kind to ``(state, message)``; ``queue`` the waiting vehicles'
    classes, first in front; ``reprints`` tickets waiting for a reprint;
    ``updated_at`` when the booth last wrote it (aware UTC; None before).
    """

    booth: str
    lane: str
    direction: str
    gate: str | None
    gate_reason: str | None = None
    devices: dict[str, tuple[str, str]] = field(default_factory=dict, compare=True, hash=False)
    queue: tuple[str, ...] = ()
    reprints: int = 0
    updated_at: datetime | None = field(default=None, compare=False)  # not compared: same picture, same report


class LanePublisher:
    """Writes one booth's lanes into ``lane_status`` when they change (and every heartbeat).

    Not thread-safe: call from one thread (the console's publishing worker).
    """

    def __init__(self, engine: Engine, facility_id: int, booth: str, *, clock=time.monotonic) -> None:
        self.engine = engine
        self.facility_id = facility_id
        self.booth = booth
        self.clock = clock
        self._sent: dict[str, tuple[LaneReport, float]] = {}

    def due(self, reports: list[LaneReport]) -> list[LaneReport]:
        """The reports that changed since last written, or whose heartbeat is due."""
        now = self.clock()
        out = []
        for report in reports:
            sent = self._sent.get(report.lane)
            if sent is None or report != sent[0] or now - sent[1] >= HEARTBEAT_S:
                out.append(report)
        return out

    def publish(self, reports: list[LaneReport]) -> int:
        """Upsert the reports :meth:`due` picks, in one transaction; returns how many were written.

        Raises SQLAlchemy's errors when the database cannot be reached (the
        caller shows it; nothing is remembered as sent, so the next call tries
        again).
        """
        todo = self.due(reports)
        if not todo:
            return 0
        at = utc_now()
        with self.engine.begin() as conn:
            for report in todo:
                key = and_(LS.c.facility_id == self.facility_id, LS.c.booth == self.booth, LS.c.lane == report.lane)
                values = {
                    "direction": report.direction, "gate": report.gate,
                    "gate_reason": (report.gate_reason or None) and report.gate_reason[:200],
                    "devices": json.dumps({k: list(v) for k, v in sorted(report.devices.items())}),
                    "queue": json.dumps(list(report.queue)), "reprints": report.reprints, "updated_at": at,
                }
                if conn.execute(update(LS).where(key).values(**values)).rowcount == 0:
                    conn.execute(insert(LS).values(facility_id=self.facility_id, booth=self.booth,
                                                   lane=report.lane, **values))
        now = self.clock()
        for report in todo:
            self._sent[report.lane] = (report, now)
        return len(todo)

    def withdraw(self) -> None:
        """Remove this booth's rows (the console is closing). Raises SQLAlchemy's errors."""
        with self.engine.begin() as conn:
            conn.execute(delete(LS).where(LS.c.facility_id == self.facility_id, LS.c.booth == self.booth))
        self._sent.clear()


def other_lanes(engine: Engine, facility_id: int, booth: str | None, *, now: datetime | None = None,
                stale_s: float = STALE_S) -> list[LaneReport]:
    """The lanes other booths than ``booth`` (None: every booth) published within ``stale_s`` seconds,
    by booth then lane. ``now``: aware UTC (default the wall clock)."""
    since = (now or utc_now()) - timedelta(seconds=stale_s)
    stmt = select(LS).where(LS.c.facility_id == facility_id, LS.c.updated_at >= since).order_by(LS.c.booth,
                                                                                                 LS.c.lane)
    if booth is not None:
        stmt = stmt.where(LS.c.booth != booth)
    with engine.connect().execution_options(readonly=True) as conn:
        rows = conn.execute(stmt).all()
    return [LaneReport(booth=r.booth, lane=r.lane, direction=r.direction, gate=r.gate, gate_reason=r.gate_reason,
                       devices={k: (v[0], v[1]) for k, v in json.loads(r.devices or "{}").items()},
                       queue=tuple(json.loads(r.queue or "[]")), reprints=r.reprints, updated_at=r.updated_at)
            for r in rows]
