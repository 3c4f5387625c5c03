"""What a count sign counts: its scope, and the free bays of every scope kept current from the change feed.

A count sign (``[[signs]]`` in the console config, driven by
:mod:`attendant.booth.signs` through :mod:`hardware.signs`) shows the free
bays of its **scope**:

- ``facility``: every bay of the facility (the sign at an entrance);
- ``level:CODE``: the bays of one level (``level:L0``);
- ``zone:LEVEL-ZONE``: one zone of a level, as bay labels name it
  (``zone:L0-A`` holds ``L0-A01``, ``L0-A02``...);
- several of these joined by ``+`` (``level:L1+level:L2``: an entrance
  serving two levels); a bay counts once.

A sign may also count only some spot types (``types = ["ev"]``). A bay is
free when its status is ``available`` (reserved and out-of-service bays are
not free); free never goes below zero and FULL is free == 0. The sign is
information only: the lanes do not read it (pass holders are admitted when
the car park is full, as the lane rule says).

:class:`FreeCount` loads every bay of one facility once (id, level code,
zone, spot type, status) and then follows the ``spot`` events of the change
log (:mod:`attendant.core.changes`), so a count costs no query per change.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Engine, select

from attendant.core.errors import InputError
from attendant.core.sign_scope import SignScope, parse_scope, parse_spot_types
from attendant.core.vocab import SpotStatus
from db.models import Level, Spot

__all__ = ["FreeCount", "SignScope", "parse_scope", "parse_spot_types"]

L = Level.__table__
S = Spot.__table__


class FreeCount:
    """Free bays of one facility by scope, kept current (see the module docstring). Thread-safe.

    ``load()`` reads every bay (call it at start and after a lost change
    feed); ``apply(changes)`` follows ``spot`` events and returns True when a
    free count moved; ``free(scope)`` and ``capacity(scope)`` count bays.
    """

    def __init__(self, engine: Engine, facility_id: int) -> None:
        self.engine = engine
        self.facility_id = facility_id
        self._lock = threading.Lock()
        self._cells: dict[int, tuple[str, str, str]] = {}  # spot id -> (level code, zone, spot type)
        self._free: set[int] = set()
        self._free_by_cell: Counter[tuple[str, str, str]] = Counter()
        self._all_by_cell: Counter[tuple[str, str, str]] = Counter()
        self.load()

    def load(self) -> None:
        """Read every bay of the facility as the database has it now."""
        statement = (select(S.c.id, L.c.code, S.c.zone, S.c.spot_type, S.c.status)
                     .join(L, L.c.id == S.c.level_id).where(S.c.facility_id == self.facility_id))
        with self.engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(statement).all()
        cells: dict[int, tuple[str, str, str]] = {}
        free: set[int] = set()
        free_by_cell: Counter[tuple[str, str, str]] = Counter()
        all_by_cell: Counter[tuple[str, str, str]] = Counter()
        for spot_id, level, zone, spot_type, status in rows:
            cell = cells[spot_id] = (level, zone, spot_type)
            all_by_cell[cell] += 1
            if status == SpotStatus.AVAILABLE.value:
                free.add(spot_id)
                free_by_cell[cell] += 1
        with self._lock:
            self._cells, self._free = cells, free
            self._free_by_cell, self._all_by_cell = free_by_cell, all_by_cell

    def apply(self, changes: Iterable) -> bool:
        """Follow the ``spot`` changes of this facility (:class:`~attendant.core.changes.Change`, in log order);
        True when a bay became free or taken. A bay not seen at load (a layout change) reloads everything."""
        moved, unknown = False, False
        for change in changes:
            if change.kind != "spot" or change.facility_id != self.facility_id:
                continue
            result = self.set_status(change.body.get("spot_id"), change.body.get("status"))
            unknown = unknown or result is None
            moved = moved or bool(result)
        if unknown:
            self.load()
            return True
        return moved

    def set_status(self, spot_id: object, status: object) -> bool | None:
        """Bay ``spot_id`` now has ``status`` (a :class:`SpotStatus` or its value): True when that made it
        free or taken, False when nothing moved, None for a bay not seen at load (call :meth:`load`)."""
        with self._lock:
            cell = self._cells.get(spot_id)  # type: ignore[arg-type]
            if cell is None:
                return None
            was = spot_id in self._free
            now = str(status) == SpotStatus.AVAILABLE.value
            if now and not was:
                self._free.add(spot_id)  # type: ignore[arg-type]
                self._free_by_cell[cell] += 1
            elif was and not now:
                self._free.discard(spot_id)  # type: ignore[arg-type]
                self._free_by_cell[cell] -= 1
            return was != now

    def levels(self) -> dict[str, set[str]]:
        """Level code -> its zones."""
        with self._lock:
            out: dict[str, set[str]] = {}
            for level, zone, _type in self._all_by_cell:
                out.setdefault(level, set()).add(zone)
            return out

    def check(self, scope: SignScope) -> None:
        """:raises InputError: the scope names a level or zone this facility does not have."""
        levels = self.levels()
        for kind, level, zone in scope.parts:
            if kind == "facility":
                continue
            if level not in levels:
                raise InputError(f"sign scope {scope.text!r}: no level {level}; levels are "
                                 f"{', '.join(sorted(levels)) or 'none'}")
            if kind == "zone" and zone not in levels[level]:
                raise InputError(f"sign scope {scope.text!r}: level {level} has no zone {zone}; zones are "
                                 f"{', '.join(sorted(levels[level]))}")

    def free(self, scope: SignScope) -> int:
        """Free bays of ``scope`` now (0 or more)."""
        with self._lock:
            return sum(n for cell, n in self._free_by_cell.items() if n > 0 and scope.covers(*cell))

    def capacity(self, scope: SignScope) -> int:
        """Every bay of ``scope``, whatever its status."""
        with self._lock:
            return sum(n for cell, n in self._all_by_cell.items() if scope.covers(*cell))
