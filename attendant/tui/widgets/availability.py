"""Availability per level and spot type: a DataTable keyed by level id.

Rows are keyed by the level's database id and columns by spot type; updates
patch only the cells whose value changed, inside ``App.batch_update()``
(STYLE.md rule 7), so a burst of replayed arrivals repaints a few cells, not
the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import DataTable

from attendant.core.vocab import SpotType
from attendant.tui.glyphs import SPOT_TYPE_SHORT

LEVEL_NAME_WIDTH = 14


@dataclass(frozen=True)
class LevelCounts:
    """Free and total bays of one level: ``free``/``capacity`` overall and by spot type."""

    level_id: int
    code: str
    name: str
    free: int
    capacity: int
    by_type: dict[SpotType, tuple[int, int]]


def _free_cell(free: int, capacity: int) -> Content:
    if capacity == 0:
        return Content("–")
    if free == 0:
        return Content.assemble(("FULL ✗", "$fault b"))
    style = "$warn b" if free * 10 < capacity else "$ok"
    return Content.assemble((f"{free:>4}", style), (f"/{capacity}", "$muted"))


def _type_cell(counts: tuple[int, int] | None) -> Content:
    if counts is None:
        return Content.assemble(("   ·", "$muted"))
    free, capacity = counts
    if free == 0:
        return Content.assemble(("  0✗", "$fault b"))
    return Content.assemble((f"{free:>4}", "$warn" if free * 10 < capacity else ""))


class AvailabilityTable(DataTable):
    """Free bays per level (rows) and spot type (columns)."""

    DEFAULT_CSS = """
    AvailabilityTable { height: auto; max-height: 14; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="none", zebra_stripes=True, show_cursor=False, **kwargs)
        self.can_focus = False
        self._types: tuple[SpotType, ...] = ()
        self._cells: dict[tuple[str, str], str] = {}
        self.border_title = "Availability (free bays)"

    def set_levels(self, levels: Iterable[LevelCounts]) -> None:
        """Build the table for ``levels`` (first call) or patch the changed cells."""
        levels = list(levels)
        types = tuple(t for t in SpotType if any(t in lvl.by_type for lvl in levels))
        if types != self._types or self.row_count != len(levels):
            self._rebuild(levels, types)
            return
        with self.app.batch_update():
            for level in levels:
                self._patch(level)

    def _rebuild(self, levels: list[LevelCounts], types: tuple[SpotType, ...]) -> None:
        self.clear(columns=True)
        self._types = types
        self._cells.clear()
        self.add_column("Level", key="level", width=LEVEL_NAME_WIDTH + 3)
        self.add_column("Free", key="free", width=8)
        for t in types:
            self.add_column(SPOT_TYPE_SHORT[t], key=t.value, width=max(4, len(SPOT_TYPE_SHORT[t])))
        for level in levels:
            name = f"{level.code} {level.name}"
            cells = [name[: LEVEL_NAME_WIDTH + 3], _free_cell(level.free, level.capacity)]
            cells += [_type_cell(level.by_type.get(t)) for t in types]
            self.add_row(*cells, key=str(level.level_id))
            self._remember(level)

    def _remember(self, level: LevelCounts) -> None:
        key = str(level.level_id)
        self._cells[(key, "free")] = f"{level.free}/{level.capacity}"
        for t in self._types:
            self._cells[(key, t.value)] = repr(level.by_type.get(t))

    def _patch(self, level: LevelCounts) -> None:
        key = str(level.level_id)
        free = f"{level.free}/{level.capacity}"
        if self._cells.get((key, "free")) != free:
            self._cells[(key, "free")] = free
            self.update_cell(key, "free", _free_cell(level.free, level.capacity))
        for t in self._types:
            value = level.by_type.get(t)
            if self._cells.get((key, t.value)) != repr(value):
                self._cells[(key, t.value)] = repr(value)
                self.update_cell(key, t.value, _type_cell(value))

    def cell_text(self, level_id: int, column: str) -> str:
        """Plain text of a cell (tests)."""
        value = self.get_cell(str(level_id), column)
        return value.plain if isinstance(value, Content) else str(value)
