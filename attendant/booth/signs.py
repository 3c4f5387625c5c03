"""The count signs of a console config, driven from the change feed: free bays (or FULL) within a second.

:class:`SignBoard` opens every ``[[signs]]`` entry of the console config
(:class:`hardware.config.SignConfig`) as a :class:`hardware.signs.SignLink`,
counts each sign's scope with :class:`attendant.core.signs.FreeCount` (one
per facility) and tells the links the count whenever a bay becomes free or
taken:

- in the console, the console's own change watcher hands its batches to
  :meth:`SignBoard.changed` (and :meth:`SignBoard.resync` after a lost
  feed), so no second database connection is needed;
- ``attendant signs run`` calls :meth:`SignBoard.follow`, which starts a
  :class:`~attendant.core.changes.ChangeWatcher` of its own.

The change log records every commit (this booth's, other booths', the HTTP
API's), so the signs follow them all. The links coalesce bursts (at most four
writes a second per sign), retry a failing sign with a back-off and report
it in :meth:`SignBoard.status`; nothing here raises into the caller once the
board is open. A sign whose scope names a level or zone the facility does not
have, or whose facility is not in the database, is faulted with that message
and never written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from attendant.core.clock import utc_now
from attendant.core.errors import InputError
from attendant.core.signs import FreeCount
from hardware.base import DeviceState, DeviceStatus
from hardware.config import SignConfig
from hardware.signs import BACKOFF_S, MIN_INTERVAL_S, SignLink, SignReading, open_sign

__all__ = ["SignBoard"]

log = logging.getLogger(__name__)


class SignBoard:
    """Every configured count sign and the counts behind them (see the module docstring).

    ``facility`` is the code signs without their own ``facility`` belong to
    (the console's); ``clock`` gives the UTC ``as_of`` of each reading.
    ``min_interval`` and ``backoff`` (seconds) go to each link.

    :raises InputError: (construction) ``facility`` is not in the database
        while a sign needs it.
    """

    def __init__(self, engine: Engine, signs: Iterable[SignConfig], *, facility: str | None,
                 clock: Callable = utc_now, min_interval: float = MIN_INTERVAL_S,
                 backoff: tuple[float, float] = BACKOFF_S) -> None:
        from attendant.core.facilities import list_facilities

        self.engine = engine
        self.clock = clock
        self.configs = tuple(signs)
        self.links: dict[str, SignLink] = {}
        self.faults: dict[str, DeviceStatus] = {}
        self.counts: dict[int, FreeCount] = {}
        self._facility_of: dict[str, int] = {}
        self._lock = threading.Lock()
        self._watcher = None
        facilities = {f.code: f for f in list_facilities(engine)}
        for config in self.configs:
            code = config.facility or facility or (next(iter(facilities)) if len(facilities) == 1 else None)
            info = facilities.get(code or "")
            if info is None:
                why = (f"no facility {code!r} in the database" if code else
                       "several facilities in the database: give the sign a facility (or use --facility)")
                self.faults[config.name] = DeviceStatus(DeviceState.FAULTED, f"sign {config.name}: {why}")
                continue
            if info.id not in self.counts:
                self.counts[info.id] = FreeCount(engine, info.id)
            try:
                self.counts[info.id].check(config.scope)
            except InputError as exc:
                self.faults[config.name] = DeviceStatus(DeviceState.FAULTED, f"sign {config.name}: {exc}")
                continue
            self._facility_of[config.name] = info.id
            self.links[config.name] = open_sign(config.url, name=config.name, min_interval=min_interval,
                                                backoff=backoff)
        self.push()

    # ------------------------------------------------------------------ feeding
    def reading(self, name: str) -> SignReading:
        """What sign ``name`` should show now. :raises KeyError: not a working sign of this board."""
        config = next(c for c in self.configs if c.name == name)
        count = self.counts[self._facility_of[name]]
        return SignReading(config.name, config.scope.text, count.free(config.scope), as_of=self.clock())

    def push(self) -> None:
        """Tell every sign its count now (unchanged counts are not written again)."""
        for name, link in self.links.items():
            try:
                link.update(self.reading(name))
            except Exception:
                log.exception("sign %s: could not count", name)

    def changed(self, changes: list) -> None:
        """A batch from the change feed (:class:`~attendant.core.changes.Change`): recount what moved."""
        try:
            moved = False
            for count in self.counts.values():
                moved = count.apply(changes) or moved
            if moved:
                self.push()
        except Exception:
            log.exception("signs: a change batch could not be counted")

    def spot_changed(self, spot_id: int, status) -> None:
        """This process's own bay change (a service listener: ``(spot id, SpotStatus)``), told at once
        rather than when the change feed brings it back (applying both is harmless)."""
        try:
            moved = False
            for count in self.counts.values():  # a bay of another facility is unknown there: None, skipped
                moved = bool(count.set_status(spot_id, status)) or moved
            if moved:
                self.push()
        except Exception:
            log.exception("signs: a bay change could not be counted")

    def resync(self) -> None:
        """Reload every count from the database (after a lost change feed) and tell the signs."""
        try:
            for count in self.counts.values():
                count.load()
            self.push()
        except Exception:
            log.exception("signs: reload failed")

    def follow(self, on_state: Callable[[str], None] | None = None) -> SignBoard:
        """Follow the change feed on a watcher of this board's own (``attendant signs run``)."""
        from attendant.core.changes import ChangeWatcher

        def state(text: str) -> None:
            if text == "live":  # the feed's cursor is set: counting again now misses nothing committed before it
                self.resync()
            if on_state is not None:
                on_state(text)

        self._watcher = ChangeWatcher(self.engine, self.changed, on_resync=self.resync, on_state=state).start()
        return self

    # ------------------------------------------------------------------ health
    def status(self) -> dict[str, DeviceStatus]:
        """Health of every configured sign by name, in config order (no I/O)."""
        out: dict[str, DeviceStatus] = {}
        for config in self.configs:
            link = self.links.get(config.name)
            out[config.name] = link.status() if link is not None else self.faults[config.name]
        return out

    def close(self) -> None:
        """Stop following the feed and close every sign."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        for link in self.links.values():
            link.stop_soon()  # every sign stops together; a write under way ends within its driver's timeout
        for link in self.links.values():
            link.close()
