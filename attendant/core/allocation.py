"""Spot allocation: which bays a vehicle may use, and which one it gets.

Compatibility matrix (BRIEF.md feature 2; seed 004 "slot allocation based on
vehicle size"): a larger bay takes a smaller vehicle; EV bays go only to an EV
whose driver asks for charging and accessible bays only to a badge holder;
those drivers fall back to ordinary bays when none is free.

=============  =====================================================
vehicle class  ordinary bays it fits (smallest first)
=============  =====================================================
motorcycle     motorcycle, compact, regular, large
car            compact, regular, large
van            regular, large
truck          large
bus            large
=============  =====================================================

A motorcycle takes a motorcycle bay while one is free (nothing else fits
there), then any bay it fits.

Strategies (:class:`Strategy`, switchable at run time, per facility): nearest
to the entrance; best fit (smallest fitting type first); spread across levels
(the level with the most free fitting bays first, nearest within it). Bays
held for reservations (status ``reserved``) are never free, so every strategy
respects holds.

:class:`SpotIndex` keeps one min-heap of available bays per spot type, keyed by
the strategy's sort key, with lazy deletion, so choosing a bay costs
O(types x log n) and stays far below a millisecond at 100,000 bays. The index
is a cache: the database's guarded update and partial unique index decide;
the caller refreshes the index when the facility's revision moved on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import StrEnum

from attendant.core.errors import InputError, NoSpaceAvailable
from attendant.core.vocab import SpotStatus, SpotType, VehicleClass

ORDINARY_FIT: dict[VehicleClass, tuple[SpotType, ...]] = {
    VehicleClass.MOTORCYCLE: (SpotType.MOTORCYCLE, SpotType.COMPACT, SpotType.REGULAR, SpotType.LARGE),
    VehicleClass.CAR: (SpotType.COMPACT, SpotType.REGULAR, SpotType.LARGE),
    VehicleClass.VAN: (SpotType.REGULAR, SpotType.LARGE),
    VehicleClass.TRUCK: (SpotType.LARGE,),
    VehicleClass.BUS: (SpotType.LARGE,),
}
EV_CLASSES = {VehicleClass.MOTORCYCLE, VehicleClass.CAR, VehicleClass.VAN}
ACCESSIBLE_CLASSES = {VehicleClass.CAR, VehicleClass.VAN}


class Strategy(StrEnum):
    """Allocation strategies, switchable at run time."""

    NEAREST = "nearest"  # nearest to the entrance among all fitting bays
    BEST_FIT = "best_fit"  # smallest fitting bay type first (keeps large bays free), then nearest
    SPREAD = "spread"  # the level with the most free fitting bays first (spreads wear and queues), then nearest


def allowed_spot_types(
    vehicle_class: VehicleClass, *, ev: bool = False, accessible: bool = False
) -> tuple[tuple[SpotType, ...], ...]:
    """Tiers of bay types a vehicle may take, in order of preference.

    The first tier is the restricted bay the driver asked for (if any), the
    last tier the ordinary bays; allocation tries a tier before the next.
    """
    tiers: list[tuple[SpotType, ...]] = []
    if accessible and vehicle_class in ACCESSIBLE_CLASSES:
        tiers.append((SpotType.ACCESSIBLE,))
    if ev and vehicle_class in EV_CLASSES:
        tiers.append((SpotType.EV,))
    if vehicle_class is VehicleClass.MOTORCYCLE:
        # Motorcycle bays fit nothing else: fill them before a car-sized bay.
        tiers.append((SpotType.MOTORCYCLE,))
    tiers.append(ORDINARY_FIT[vehicle_class])
    return tuple(tiers)


def fits(spot_type: SpotType, vehicle_class: VehicleClass, *, ev: bool = False, accessible: bool = False) -> bool:
    """Whether a vehicle may be put in a bay of ``spot_type`` (attendant's manual choice)."""
    return any(spot_type in tier for tier in allowed_spot_types(vehicle_class, ev=ev, accessible=accessible))


@dataclass(slots=True)
class IndexedSpot:
    id: int
    label: str
    spot_type: SpotType
    level_id: int
    rank: int
    status: SpotStatus


class SpotIndex:
    """In-memory availability of one facility's bays.

    Build it from ``(id, label, spot_type, level_id, rank, status)`` rows;
    :meth:`choose` picks a bay, :meth:`set_status` keeps it current. Counts by
    level and type are maintained incrementally for the availability view.
    """

    def __init__(self, rows, strategy: Strategy = Strategy.NEAREST) -> None:
        self.spots: dict[int, IndexedSpot] = {}
        self.by_label: dict[str, int] = {}
        self.strategy = Strategy(strategy)
        self._heaps: dict[SpotType, list[tuple[int, int]]] = {t: [] for t in SpotType}
        self.counts: dict[tuple[int, SpotType, SpotStatus], int] = {}
        for spot_id, label, spot_type, level_id, rank, status in rows:
            spot = IndexedSpot(spot_id, label, SpotType(spot_type), level_id, rank, SpotStatus(status))
            self.spots[spot_id] = spot
            self.by_label[label] = spot_id
            key = (level_id, spot.spot_type, spot.status)
            self.counts[key] = self.counts.get(key, 0) + 1
            if spot.status is SpotStatus.AVAILABLE:
                self._heaps[spot.spot_type].append((rank, spot_id))
        for heap in self._heaps.values():
            heapq.heapify(heap)

    def _peek(self, spot_type: SpotType, exclude: set[int]) -> tuple[int, int] | None:
        heap = self._heaps[spot_type]
        skipped = []
        found = None
        while heap:
            rank, spot_id = heap[0]
            spot = self.spots[spot_id]
            if spot.status is not SpotStatus.AVAILABLE or spot.rank != rank:
                heapq.heappop(heap)  # stale entry (lazy deletion)
                continue
            if spot_id in exclude:
                skipped.append(heapq.heappop(heap))
                continue
            found = (rank, spot_id)
            break
        for item in skipped:
            heapq.heappush(heap, item)
        return found

    def choose(
        self,
        vehicle_class: VehicleClass,
        *,
        ev: bool = False,
        accessible: bool = False,
        exclude: set[int] | None = None,
    ) -> IndexedSpot:
        """Pick the bay for a vehicle by the current strategy (does not mark it taken).

        Raises :class:`NoSpaceAvailable` when no fitting bay is free.
        """
        exclude = exclude or set()
        for tier in allowed_spot_types(vehicle_class, ev=ev, accessible=accessible):
            if self.strategy is Strategy.SPREAD:
                level = self.emptiest_level(tier)
                if level is None:
                    continue
                others = {i for i, s in self.spots.items() if s.level_id != level and s.spot_type in tier}
                best = None
                for spot_type in tier:
                    hit = self._peek(spot_type, exclude | others)
                    if hit and (best is None or hit < best):
                        best = hit
                if best:
                    return self.spots[best[1]]
                continue
            if self.strategy is Strategy.BEST_FIT:
                for spot_type in tier:  # tiers list smallest first
                    hit = self._peek(spot_type, exclude)
                    if hit:
                        return self.spots[hit[1]]
                continue
            best = None
            for spot_type in tier:
                hit = self._peek(spot_type, exclude)
                if hit and (best is None or hit < best):
                    best = hit
            if best:
                return self.spots[best[1]]
        raise NoSpaceAvailable(f"no free bay for a {vehicle_class.value}: the car park is full for that class")

    def emptiest_level(self, types: tuple[SpotType, ...]) -> int | None:
        """The level with the most available bays of ``types`` (ties: the lower level id), None when none is
        free: the level the spread-across-levels strategy fills next."""
        free: dict[int, int] = {}
        for (level, typ, status), n in self.counts.items():
            if status is SpotStatus.AVAILABLE and typ in types and n > 0:
                free[level] = free.get(level, 0) + n
        return min(free, key=lambda lv: (-free[lv], lv)) if free else None

    def spot_by_label(self, label: str) -> IndexedSpot:
        """The bay labelled ``label`` (case-insensitive); raises :class:`InputError` if none."""
        spot_id = self.by_label.get(label.strip().upper())
        if spot_id is None:
            raise InputError(f"no spot labelled {label!r} in this facility")
        return self.spots[spot_id]

    def set_status(self, spot_id: int, status: SpotStatus) -> None:
        """Record a bay's new status (after the database accepted it)."""
        spot = self.spots[spot_id]
        if spot.status is status:
            return
        old = (spot.level_id, spot.spot_type, spot.status)
        self.counts[old] -= 1
        spot.status = status
        new = (spot.level_id, spot.spot_type, status)
        self.counts[new] = self.counts.get(new, 0) + 1
        if status is SpotStatus.AVAILABLE:
            heapq.heappush(self._heaps[spot.spot_type], (spot.rank, spot_id))

    def available(self, level_id: int | None = None, spot_type: SpotType | None = None) -> int:
        """Number of available bays, optionally for one level and/or one type."""
        return sum(
            n
            for (lvl, typ, status), n in self.counts.items()
            if status is SpotStatus.AVAILABLE
            and (level_id is None or lvl == level_id)
            and (spot_type is None or typ is spot_type)
        )
