"""The demo facility: Charlotte Street CP with replayed real traffic.

``attendant demo`` runs the console on its own database (``demo.db`` in the
data folder, recreated at each start unless ``--db`` is given) so replayed
traffic never mixes with a real site's records. The facility clock runs
``speed`` times faster than the wall clock from the moment the demo starts
(:class:`SimClock`); every operation, the attendant's and the replay's, uses
that clock so fees, reports and the map stay consistent.

Traffic follows one real day of the Bath Charlotte Street occupancy series
(``examples/data``, see its README for provenance): at start the car park is
filled as it was at this time of day (overnight stays entered the evening
before, then the day's arrivals and departures up to now); afterwards
:class:`TrafficReplayer` keeps following the series. The automatic lanes
(the second entry and exit lanes) process most vehicles; every few vehicles
one is queued at the attendant's lanes instead, to be processed by hand.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import as_file
from pathlib import Path

from sqlalchemy import Engine

from attendant.core.clock import utc_now
from attendant.core.errors import AttendantError
from attendant.core.facilities import create_facility, list_facilities
from attendant.core.layout import load_layout
from attendant.core.payment_methods import spec as method_spec
from attendant.core.replay import (
    TrafficEvent,
    demo_series,
    examples_dir,
    plan_traffic,
    random_plate,
    random_vehicle_class,
)
from attendant.core.requests import EntryRequest, ExitRequest, Tender
from attendant.core.vocab import PaymentMethod
from attendant.demo_files import DEMO_FACILITY, demo_db_contents, demo_db_path  # noqa: F401 - re-exported
from hardware.config import ConsoleConfig, load_config

log = logging.getLogger(__name__)

ATTENDED_EVERY = 6  # one vehicle in six waits at an attended lane


def _example(*parts: str) -> Path:
    resource = examples_dir().joinpath(*parts)
    with as_file(resource) as path:  # a real file for installed and source trees alike
        return Path(path)


def demo_layout_path() -> Path:
    """The shipped demo layout (``examples/charlotte_street.toml``)."""
    return _example("charlotte_street.toml")


def demo_config() -> ConsoleConfig:
    """The demo's lanes and stand-in devices (``examples/console.toml``)."""
    return load_config(_example("console.toml"))


def ensure_demo_db(url: str | None, *, actor: str, fresh: bool = False) -> Engine:
    """Open the demo database with the demo facility in it (and the site's secrets, made if missing).

    With ``url`` None the demo uses :func:`demo_db_path`; ``fresh`` deletes
    that file first (the CLI asks, or takes ``--fresh``: issue "Eight hours",
    the demo never deletes data unasked). Otherwise what is there is kept and
    only the facility is created if missing.
    """
    from attendant.keyfiles import ensure_site_secrets, in_service
    from db.engine import make_engine

    if url is None:
        path = demo_db_path()
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    engine = make_engine(url)
    # the demo site's ticket and personal-data keys where this home has none, unless the database is a site
    # in service (then its own secrets must be installed: attendant.keyfiles)
    ensure_site_secrets(new_site=not in_service(engine))
    if not any(f.code == DEMO_FACILITY for f in list_facilities(engine)):
        from attendant.core.auth import Actor, Role

        create_facility(engine, load_layout(demo_layout_path()), actor=Actor(actor, Role.ADMIN))
    return engine


class SimClock:
    """Facility clock that runs ``speed`` times faster than the wall clock.

    ``now()`` returns aware UTC; at ``speed`` 1 it is the wall clock.
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.start = start or utc_now()
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


@dataclass(frozen=True, slots=True)
class QueuedVehicle:
    """A vehicle waiting at an attended lane: plate read, class, and (at exit) its ticket code."""

    plate: str
    vehicle_class: str
    code: str | None = None
    payment_method: str | None = None
    tendered_hint: int | None = None


class TrafficReplayer:
    """Replays the real occupancy series through a :class:`~attendant.booth.Booth`.

    Runs in its own thread (``start``/``stop``); touches no UI. ``on_change``
    is called (on the replay thread) after each batch of processed vehicles and
    whenever a lane queue changes, so a console can post a message.
    """

    def __init__(
        self,
        booth,
        *,
        clock: Callable[[], datetime],
        seed: int = 2016,
        actor: str = "replay",
        on_change: Callable[[], None] | None = None,
        attended_every: int = ATTENDED_EVERY,
    ) -> None:
        self.booth = booth
        self.service = booth.service
        self.clock = clock
        self.rng = random.Random(seed)
        from attendant.core.auth import Actor

        # the replay is the installation's own automaton: it drives the lanes without a login
        self.actor = Actor(actor, system=True)
        self.on_change = on_change or (lambda: None)
        self.attended_every = attended_every
        self.yield_seconds = 0.003
        self.series = demo_series()
        self.codes: dict[str, str] = {}  # plate -> ticket code of vehicles inside
        self.queues: dict[str, deque[QueuedVehicle]] = {lane.code: deque() for lane in booth.config.lanes}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._count = 0
        self.processed = 0
        self.errors = 0
        self._auto_entry = self._pick_lane("entry", auto=True)
        self._auto_exit = self._pick_lane("exit", auto=True)
        self._attended_entry = self._pick_lane("entry", auto=False)
        self._attended_exit = self._pick_lane("exit", auto=False)

    def _pick_lane(self, direction: str, *, auto: bool) -> str | None:
        lanes = [lane.code for lane in self.booth.config.lanes if lane.direction == direction]
        if not lanes:
            return None
        return lanes[-1] if auto else lanes[0]

    # ------------------------------------------------------------- processing
    def _arrive(self, event: TrafficEvent, *, lane: str | None, at: datetime | None) -> None:
        # catching up on the day replays past times: the replay (a system actor) widens the window, audited
        request = EntryRequest(event.plate, event.vehicle_class, lane=lane, at=at, print_ticket=False, vend=False,
                               backdate_reason="demo replay: the day so far" if at is not None else None)
        outcome = self.booth.enter(request, actor=self.actor)
        self.codes[outcome.entry.plate] = outcome.entry.code

    def _depart(self, event: TrafficEvent, *, lane: str | None, at: datetime | None) -> None:
        plate = event.plate.replace(" ", "")
        code = self.codes.pop(plate, None)
        if code is None:
            return
        tendered = None
        method = event.payment_method or PaymentMethod.CARD.value
        if method_spec(method).takes_tendered and event.tendered_hint:
            due = self.service.quote(code, at=at).fee.amount  # a driver hands over whole notes
            tendered = -(-due // event.tendered_hint) * event.tendered_hint
        request = ExitRequest(code, (Tender(method, tendered=tendered),), lane=lane, at=at, print_receipt=False,
                              vend=False)
        self.booth.exit(request, actor=self.actor)

    def _process(self, event: TrafficEvent, *, at: datetime | None, live: bool) -> None:
        try:
            self._count += 1
            attended = live and self._count % self.attended_every == 0
            if event.kind == "arrival":
                if attended and self._attended_entry:
                    self.queues[self._attended_entry].append(QueuedVehicle(event.plate, event.vehicle_class))
                    return
                self._arrive(event, lane=self._auto_entry, at=at)
            else:
                plate = event.plate.replace(" ", "")
                if attended and self._attended_exit and plate in self.codes:
                    code = self.codes.pop(plate)
                    self.queues[self._attended_exit].append(
                        QueuedVehicle(plate, event.vehicle_class, code, event.payment_method, event.tendered_hint)
                    )
                    return
                self._depart(event, lane=self._auto_exit, at=at)
            self.processed += 1
        except AttendantError as exc:  # a full class, a plate typed in by hand meanwhile...
            self.errors += 1
            log.info("replay skipped %s %s: %s", event.kind, event.plate, exc)
        finally:
            # Python's locks are not fair: a thread that releases the service lock and takes it
            # again at once can starve the console's workers. A pause after every vehicle lets
            # the attendant's operations in first, whatever the replay is catching up on.
            self._stop.wait(self.yield_seconds)

    def prefill(self, until: datetime | None = None) -> int:
        """Bring the car park to the series' state at ``until`` (default: the clock's now).

        Vehicles inside at local midnight are entered with times the evening
        before; the day's events up to ``until`` follow with their own times.
        A car park that already has vehicles inside (a demo continued from an
        earlier run) is left as it is. Returns the number of vehicles processed.
        """
        inside = self.service.open_sessions()
        if inside:  # a demo continued: the vehicles inside are the replay's to let out, none is added
            for session in inside:
                if session.plate and session.code:
                    self.codes.setdefault(session.plate.replace(" ", ""), session.code)
            log.info("demo: %d vehicles already inside; the car park is not prefilled again", len(inside))
            return self.processed
        until = until or self.clock()
        tz = self.service.tz
        midnight = datetime.combine(until.astimezone(tz).date(), datetime.min.time(), tzinfo=tz).astimezone(UTC)
        capacity = self.service.facility.capacity
        inside_at_midnight = self.series.target_at(0, capacity)
        for _ in range(inside_at_midnight):
            if self._stop.is_set():  # quitting: never make the console wait for the rest of the prefill
                return self.processed
            evening = midnight - timedelta(minutes=self.rng.randrange(30, 10 * 60))
            fake = TrafficEvent(evening, "arrival", random_plate(self.rng), random_vehicle_class(self.rng))
            self._process(fake, at=evening, live=False)
        inside = self._inside()
        for event in plan_traffic(self.series, midnight, until, tz, capacity, rng=self.rng, inside=inside):
            if self._stop.is_set():
                break
            self._process(event, at=event.at, live=False)
        self.on_change()
        return self.processed

    def _inside(self) -> list[tuple[str, str]]:
        known = {s.plate: s.vehicle_class for s in self.service.open_sessions() if s.plate in self.codes}
        return [(plate, cls) for plate, cls in known.items()]

    def run_live(self, tick: float = 0.25, horizon: timedelta = timedelta(minutes=30)) -> None:
        """Follow the series from the clock's now until :meth:`stop` (blocking)."""
        tz = self.service.tz
        capacity = self.service.facility.capacity
        window_start = self.clock()
        pending: deque[TrafficEvent] = deque()
        while not self._stop.is_set():
            now = self.clock()
            if not pending:
                window_end = window_start + horizon
                pending.extend(
                    plan_traffic(self.series, window_start, window_end, tz, capacity, rng=self.rng, inside=self._inside())
                )
                window_start = window_end
            changed = False
            while pending and pending[0].at <= now and not self._stop.is_set():
                self._process(pending.popleft(), at=None, live=True)
                changed = True
            if changed:
                self.on_change()
            self._stop.wait(tick)

    # ------------------------------------------------------------ queue access
    def take(self, lane: str) -> QueuedVehicle | None:
        """Remove and return the next vehicle waiting at ``lane`` (None if empty)."""
        queue = self.queues.get(lane)
        if not queue:
            return None
        vehicle = queue.popleft()
        self.on_change()
        return vehicle

    def start(self, *, prefill: bool = True) -> None:
        """Prefill (optionally) then follow the series, on a daemon thread."""

        def main() -> None:
            try:
                if prefill:
                    self.prefill()
                self.run_live()
            except Exception:  # never take the console down
                log.exception("traffic replay stopped")

        self._thread = threading.Thread(target=main, name="traffic-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the replay thread to stop and wait up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
