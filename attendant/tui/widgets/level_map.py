"""The level maps: every level of the facility drawn by ONE Line-API widget.

A facility has hundreds to thousands of bays; one widget per bay makes Textual
slow (STYLE.md rule 6), so :class:`LevelMapView` is a ``ScrollView`` that
draws its virtual lines in :meth:`render_line` (Textual guide, "Line API")
and, when bays change, refreshes only the lines holding them.

Virtual lines, per level in facility order: a title line (code, name, free
bays), the level's drawing rows, one blank line. Each drawing cell takes two
terminal cells: a bay shows its type glyph (``m c R L A E``, the layout-file
letters) followed by its status glyph (``·`` free, ``●`` occupied, ``◇``
reserved, ``×`` out of service), coloured by the theme's ``$spot-*``
variables, so the map reads in monochrome as well. Aisles are a faint floor,
walls a dim block, the entrance an arrow. The bay issued last is
highlighted (``$spot-last``) so the attendant sees it turn occupied.

Colours come from component classes whose CSS uses the theme variables; no
colour literal lives here. Strips are cached per line and dropped when a bay
on the line changes or the theme changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from attendant.core.layout import SPOT_GLYPHS
from attendant.core.views import LevelMap
from attendant.core.vocab import SpotStatus, SpotType
from attendant.tui.glyphs import (
    SPOT_STATUS_CLASS,
    SPOT_STATUS_GLYPH,
    SPOT_STATUS_WORD,
    SPOT_TYPE_GLYPH,
    SPOT_TYPE_WORD,
)

CELL = 2  # terminal cells per drawing cell
MARGIN = 1  # blank cells left of every drawing


@dataclass(frozen=True, slots=True)
class _Line:
    kind: str  # "title", "row", "title-row" (a wall row with the title over it) or "gap"
    level: int  # index into the levels list
    row: int = -1  # drawing row for kind "row"


def _is_wall(row: str) -> bool:
    return bool(row.strip()) and set(row) <= {"#", " "}


@dataclass(slots=True)
class _Bay:
    level: int
    row: int
    col: int
    spot_type: SpotType
    label: str


class LevelMapView(ScrollView, can_focus=True):
    """All levels' maps in one scrolling Line-API widget.

    Feed it with :meth:`set_facility` (drawings and statuses by spot id), then
    :meth:`apply_changes` with ``{spot_id: SpotStatus}`` batches. Keys (when
    focused): ``[``/``]`` previous/next level, ``0``-``9`` jump to a level.
    """

    COMPONENT_CLASSES = {
        "levelmap--title",
        "levelmap--title-dim",
        "levelmap--wall",
        "levelmap--aisle",
        "levelmap--entrance",
        "levelmap--free",
        "levelmap--occupied",
        "levelmap--reserved",
        "levelmap--out",
        "levelmap--last",
    }

    DEFAULT_CSS = """
    LevelMapView {
        background: $surface;
    }
    LevelMapView > .levelmap--title { color: $map-title; text-style: bold; }
    LevelMapView > .levelmap--title-dim { color: $text-muted; }
    LevelMapView > .levelmap--wall { color: $map-wall; }
    LevelMapView > .levelmap--aisle { background: $map-aisle; }
    LevelMapView > .levelmap--entrance { color: $map-entrance; background: $map-aisle; text-style: bold; }
    LevelMapView > .levelmap--free { color: $spot-free; background: $spot-free 14%; }
    LevelMapView > .levelmap--occupied { color: $foreground; background: $spot-occupied 55%; text-style: bold; }
    LevelMapView > .levelmap--reserved { color: $spot-reserved; background: $spot-reserved 22%; text-style: bold; }
    LevelMapView > .levelmap--out { color: $spot-out; background: $spot-out 18%; }
    LevelMapView > .levelmap--last { color: $background; background: $spot-last; text-style: bold; }
    """

    BINDINGS = [
        Binding("right_square_bracket", "next_level", "Next level", show=False),
        Binding("left_square_bracket", "previous_level", "Previous level", show=False),
        *[Binding(str(n), f"goto_level({n})", f"Level {n}", show=False) for n in range(10)],
    ]

    current_level: reactive[int] = reactive(0)
    """Index of the level at the top of the view."""

    class LevelChanged(Message):
        """The level at the top of the view changed."""

        def __init__(self, index: int, code: str, name: str) -> None:
            super().__init__()
            self.index = index
            self.code = code
            self.name = name

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.levels: list[LevelMap] = []
        self._lines: list[_Line] = []
        self._level_start: list[int] = []
        self._row_y: list[list[int]] = []
        self._spot_at: list[dict[tuple[int, int], int]] = []
        self._bays: dict[int, _Bay] = {}
        self._status: dict[int, SpotStatus] = {}
        self._free: list[int] = []
        self._capacity: list[int] = []
        self._type_counts: list[dict[SpotType, list[int]]] = []  # per level: type -> [free, capacity]
        self._occupied = 0
        self._highlight: int | None = None
        self._strips: dict[int, Strip] = {}
        self._width = 40
        self.border_title = "Levels"
        self.border_subtitle = "[ ] level  0-9 jump  F7 next"

    # ------------------------------------------------------------------ data
    def set_facility(self, levels: Iterable[LevelMap], statuses: Mapping[int, SpotStatus]) -> None:
        """Lay out ``levels`` (facility order) with bay ``statuses`` by spot id.

        A level whose drawing starts with a row of walls gets its title drawn
        over that row (saving two lines per level); otherwise the title takes
        a line of its own. A blank line separates levels whose drawing does
        not end with a wall.
        """
        self.levels = list(levels)
        self._lines, self._level_start, self._row_y, self._spot_at = [], [], [], []
        self._bays, self._free, self._capacity = {}, [], []
        width = 0
        for index, level in enumerate(self.levels):
            rows = level.rows
            self._level_start.append(len(self._lines))
            merged = bool(rows) and _is_wall(rows[0])
            if not merged:
                self._lines.append(_Line("title", index))
            row_y = []
            for r in range(len(rows)):
                row_y.append(len(self._lines))
                self._lines.append(_Line("title-row" if merged and r == 0 else "row", index, r))
            self._row_y.append(row_y)
            if not rows or not _is_wall(rows[-1]):
                self._lines.append(_Line("gap", index))
            at: dict[tuple[int, int], int] = {}
            for cell in level.spots:
                at[(cell.row, cell.col)] = cell.spot_id
                self._bays[cell.spot_id] = _Bay(index, cell.row, cell.col, SpotType(cell.spot_type), cell.label)
            self._spot_at.append(at)
            self._capacity.append(len(level.spots))
            width = max(width, MARGIN + CELL * max((len(r) for r in rows), default=0))
        self._status = {spot_id: statuses.get(spot_id, SpotStatus.AVAILABLE) for spot_id in self._bays}
        self._free = [0] * len(self.levels)
        self._type_counts = [{} for _ in self.levels]
        self._occupied = 0
        for spot_id, status in self._status.items():
            bay = self._bays[spot_id]
            counts = self._type_counts[bay.level].setdefault(bay.spot_type, [0, 0])
            counts[1] += 1
            if status is SpotStatus.AVAILABLE:
                self._free[bay.level] += 1
                counts[0] += 1
            elif status is SpotStatus.OCCUPIED:
                self._occupied += 1
        self._strips.clear()
        self._width = max(width, 40)
        self._update_virtual_size()
        self.refresh()
        self._update_current_level()

    def _update_virtual_size(self) -> None:
        """Content size: every line, plus room below so the last level can scroll to the top."""
        height = len(self._lines)
        if self._level_start:
            height = max(height, self._level_start[-1] + self.scrollable_content_region.height)
        self.virtual_size = Size(self._width, height)

    def on_resize(self) -> None:
        self._update_virtual_size()

    def apply_changes(self, changes: Mapping[int, SpotStatus]) -> set[int]:
        """Set the status of changed bays and repaint only their lines.

        Returns the indexes of the levels that changed. Unknown spot ids are
        ignored (a bay of another facility).
        """
        dirty: set[int] = set()
        levels: set[int] = set()
        for spot_id, status in changes.items():
            bay = self._bays.get(spot_id)
            if bay is None:
                continue
            old = self._status.get(spot_id)
            if old is status:
                continue
            self._status[spot_id] = status
            counts = self._type_counts[bay.level][bay.spot_type]
            if old is SpotStatus.AVAILABLE:
                self._free[bay.level] -= 1
                counts[0] -= 1
            if status is SpotStatus.AVAILABLE:
                self._free[bay.level] += 1
                counts[0] += 1
            self._occupied += (status is SpotStatus.OCCUPIED) - (old is SpotStatus.OCCUPIED)
            dirty.add(self._row_y[bay.level][bay.row])
            dirty.add(self._level_start[bay.level])  # the title holds the free count
            levels.add(bay.level)
        self._repaint(dirty)
        return levels

    def highlight(self, spot_id: int | None, *, scroll: bool = True) -> None:
        """Highlight bay ``spot_id`` (None: none) and, if ``scroll``, bring it into view."""
        dirty = set()
        for sid in (self._highlight, spot_id):
            if sid is not None and sid in self._bays:
                dirty.add(self.bay_line(sid))
        self._highlight = spot_id
        self._repaint(dirty)
        if scroll and spot_id in self._bays:
            bay = self._bays[spot_id]
            y = self.bay_line(spot_id)
            top, height = self.scroll_offset.y, self.scrollable_content_region.height
            if not top <= y < top + height:
                self.scroll_to(y=max(0, self._level_start[bay.level]), animate=False)

    @property
    def highlighted(self) -> int | None:
        return self._highlight

    def status_of(self, spot_id: int) -> SpotStatus | None:
        """The status the map shows for ``spot_id`` (None if unknown)."""
        return self._status.get(spot_id)

    def spot_id_of(self, label: str) -> int | None:
        """The spot id of bay ``label`` (e.g. ``L0-A03``), None if not on the map."""
        for spot_id, bay in self._bays.items():
            if bay.label == label:
                return spot_id
        return None

    def free_counts(self) -> list[tuple[int, int]]:
        """(free, capacity) per level, in facility order."""
        return list(zip(self._free, self._capacity))

    def counts_by_type(self, level: int) -> dict[SpotType, tuple[int, int]]:
        """(free, capacity) per spot type on level index ``level`` (kept up to date, O(types))."""
        return {t: (free, cap) for t, (free, cap) in self._type_counts[level].items()}

    @property
    def occupied(self) -> int:
        """Occupied bays on the whole map."""
        return self._occupied

    def line_text(self, y: int) -> str:
        """Plain text of virtual line ``y`` (for tests and screen readers)."""
        return self._strip(y).text

    def bay_line(self, spot_id: int) -> int:
        """Virtual line of bay ``spot_id``."""
        bay = self._bays[spot_id]
        return self._row_y[bay.level][bay.row]

    # ------------------------------------------------------------ navigation
    def scroll_to_level(self, index: int, *, animate: bool = False) -> None:
        """Bring level ``index`` (wrapping) to the top of the view."""
        if not self.levels:
            return
        index %= len(self.levels)
        self.scroll_to(y=self._level_start[index], animate=animate)
        self.current_level = index

    def action_next_level(self) -> None:
        self.scroll_to_level(self.current_level + 1)

    def action_previous_level(self) -> None:
        self.scroll_to_level(self.current_level - 1)

    def action_goto_level(self, index: int) -> None:
        if 0 <= index < len(self.levels):
            self.scroll_to_level(index)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._update_current_level()

    def _update_current_level(self) -> None:
        if not self.levels:
            return
        y = round(self.scroll_offset.y)
        index = 0
        for i, start in enumerate(self._level_start):
            if start <= y:
                index = i
        self.current_level = index

    def watch_current_level(self, index: int) -> None:
        if not self.levels or index >= len(self.levels):
            return
        level = self.levels[index]
        self.border_title = f"Levels  ▸ {level.code} {level.name}  ({index + 1}/{len(self.levels)})"
        self.post_message(self.LevelChanged(index, level.code, level.name))

    # --------------------------------------------------------------- drawing
    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme) -> None:
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _repaint(self, lines: Iterable[int]) -> None:
        for y in lines:
            self._strips.pop(y, None)
            self.refresh_line(y)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        strip = self._strip(scroll_y + y)
        return strip.crop_extend(scroll_x, scroll_x + self.scrollable_content_region.width, self.rich_style)

    def _strip(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            strip = self._build(y)
            self._strips[y] = strip
        return strip

    def _build(self, y: int) -> Strip:
        if not 0 <= y < len(self._lines):
            return Strip.blank(0)
        line = self._lines[y]
        if line.kind == "gap":
            return Strip.blank(0)
        if line.kind == "title":
            return Strip([Segment(" " * MARGIN, self.rich_style), *self._title_segments(line.level)])
        row = self._build_row(line.level, line.row)
        if line.kind == "title-row":
            title = Strip(self._title_segments(line.level))
            start = MARGIN + CELL
            end = min(start + title.cell_length, row.cell_length - CELL)
            row = Strip.join([row.crop(0, start), title.crop(0, end - start), row.crop(end)])
        return row

    def _title_segments(self, index: int) -> list[Segment]:
        style = self.get_component_rich_style
        level = self.levels[index]
        free, capacity = self._free[index], self._capacity[index]
        full = "  FULL ✗" if free == 0 else ""
        return [
            Segment(f" {level.code} {level.name} ", style("levelmap--title")),
            Segment(f" free {free}/{capacity}{full} ", style("levelmap--title-dim")),
        ]

    def _build_row(self, level_index: int, r: int) -> Strip:
        style = self.get_component_rich_style
        base = self.rich_style
        text = self.levels[level_index].rows[r]
        at = self._spot_at[level_index]
        status_style = {status: style(f"levelmap--{cls}") for status, cls in SPOT_STATUS_CLASS.items()}
        runs: list[tuple[str, Style]] = [(" " * MARGIN, base)]
        for c, ch in enumerate(text):
            if ch in SPOT_GLYPHS and (r, c) in at:
                spot_id = at[(r, c)]
                status = self._status.get(spot_id, SpotStatus.AVAILABLE)
                cell = ch + SPOT_STATUS_GLYPH[status]
                cell_style = style("levelmap--last") if spot_id == self._highlight else status_style[status]
            elif ch == ".":
                cell, cell_style = "  ", style("levelmap--aisle")
            elif ch == ">":
                cell, cell_style = "▶ ", style("levelmap--entrance")
            elif ch == "#":
                cell, cell_style = "██", style("levelmap--wall")
            else:
                cell, cell_style = "  ", base
            if runs and runs[-1][1] == cell_style:
                runs[-1] = (runs[-1][0] + cell, cell_style)
            else:
                runs.append((cell, cell_style))
        return Strip([Segment(t, s) for t, s in runs])


class MapLegend(Static):
    """Two lines under the map: the status glyphs in their map colours, then the type letters."""

    DEFAULT_CSS = """
    MapLegend { height: 2; padding: 0 1; color: $text-muted; background: $surface; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(self._content(), **kwargs)

    @staticmethod
    def _content() -> Content:
        sample = [
            (SpotStatus.AVAILABLE, "$spot-free on $spot-free 14%"),
            (SpotStatus.OCCUPIED, "$foreground b on $spot-occupied 55%"),
            (SpotStatus.RESERVED, "$spot-reserved b on $spot-reserved 22%"),
            (SpotStatus.OUT_OF_SERVICE, "$spot-out on $spot-out 18%"),
        ]
        parts: list = []
        for status, style in sample:
            parts += [(f"R{SPOT_STATUS_GLYPH[status]}", style), f" {SPOT_STATUS_WORD[status]}  "]
        parts += [("R●", "$background b on $spot-last"), " last issued  ", ("▶", "$map-entrance b"), " entry\n"]
        for i, (spot_type, word) in enumerate(SPOT_TYPE_WORD.items()):
            parts += [("  " if i else "", ""), (SPOT_TYPE_GLYPH[spot_type], "$foreground b"), f" {word}"]
        return Content.assemble(*parts)
