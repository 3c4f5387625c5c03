"""The level maps: every level of the facility drawn by ONE Line-API widget.

A facility has hundreds to thousands of bays; one widget per bay makes Textual
slow (STYLE.md rule 6), so :class:`LevelMapView` is a ``ScrollView`` that
draws its virtual lines in :meth:`render_line` (Textual guide, "Line API")
and, when bays change, refreshes only the lines holding them.

Virtual lines, per level in facility order: a title line (code, name, free
bays), the level's drawing rows, one blank line. Each drawing cell takes two
terminal cells: a bay shows its type glyph (``m c R L`` as in the layout
file, ``a`` accessible, ``ϟ`` EV: see :mod:`attendant.tui.glyphs`) followed
by its status glyph (``·`` free, ``●`` occupied, ``★`` the bay issued last,
``◇`` reserved, ``×`` out of service), coloured by the theme's ``$spot-*``
variables, so the map reads in monochrome as well. Aisles are a faint floor,
walls a dim block, the entrance an arrow.

Finding a bay by its label (``L0-C01``: level L0, spot row C, first bay of
the row; labels come from :func:`attendant.core.layout.load_layout`): every
spot row carries its row letter on the left and right edges, and a ruler of
bay numbers (the first and last of each run of bays and every fifth) is drawn
on the aisle next to each group of rows that number alike, or on a line of
its own when no aisle is free. ``/`` on the map (``alt+g`` or ``ctrl+F7``
anywhere on the main screen, or "Go to bay" in the palette) asks for a label
and marks that bay, its row letters and its number (``$accent``), switching
level; a level's code alone (``L3``) brings that level up.

Colours come from component classes whose CSS uses the theme variables; no
colour literal lives here. Strips are cached per line and dropped when a bay
on the line changes or the theme changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from attendant.core.errors import InputError
from attendant.core.layout import SPOT_GLYPHS
from attendant.core.views import LevelMap
from attendant.core.vocab import SpotStatus, SpotType
from attendant.tui.dialogs import FormDialog, _row
from attendant.tui.glyphs import (
    LAST_ISSUED_GLYPH,
    SPOT_STATUS_CLASS,
    SPOT_STATUS_GLYPH,
    SPOT_STATUS_WORD,
    SPOT_TYPE_GLYPH,
    SPOT_TYPE_WORD,
)

CELL = 2  # terminal cells per drawing cell
COMPACT_HEIGHT = 32  # terminal lines below which the legend keeps to glyphs and short words
MAX_LEVEL_KEYS = 10  # digits 0-9: the levels a key can jump to (more levels: the palette, [ ])


@dataclass(frozen=True, slots=True)
class _Line:
    kind: str  # "title", "row", "title-row" (a wall row with the title over it), "ruler" or "gap"
    level: int  # index into the levels list
    row: int = -1  # drawing row for kind "row"/"title-row"; ruler group index for kind "ruler"


@dataclass(slots=True)
class _Ruler:
    """Consecutive spot rows whose bays sit in the same columns with the same numbers."""

    rows: list[int]
    numbers: dict[int, int]  # drawing column -> bay number in its row (the "01" of "C01")
    on_row: int | None = None  # drawing row the ruler is drawn over (an aisle), or None: a line of its own
    marks: dict[int, int] = field(default_factory=dict)  # column -> number shown (no bay found in these rows)


_LABEL = re.compile(r"^(?:(?P<level>[A-Z0-9]{1,8})-)?(?P<row>[A-Z]{1,3})-?(?P<number>[0-9]{1,4})$")


def split_label(label: str) -> tuple[str, str, int] | None:
    """``"L0-C01"`` -> ``("L0", "C", 1)``: level code, row letters, number in the row; None if not a label."""
    m = _LABEL.match(label)
    if m is None or m["level"] is None:
        return None
    return m["level"], m["row"], int(m["number"])


def _ruler_marks(numbers: Mapping[int, int]) -> dict[int, int]:
    """Which bay numbers a ruler shows: first and last of each run of adjacent bays, then every 5th.

    Never two marks side by side (``1011`` would read as one number).
    """
    cols = sorted(numbers)
    firsts = [c for c in cols if c - 1 not in numbers]
    lasts = [c for c in cols if c + 1 not in numbers]
    fifths = [c for c in cols if numbers[c] % 5 == 0]
    marks: dict[int, int] = {}
    for c in [*firsts, *lasts, *fifths]:
        if c not in marks and c - 1 not in marks and c + 1 not in marks:
            marks[c] = numbers[c]
    return marks


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
    focused): ``[``/``]`` previous/next level, ``0``-``9`` jump to a level
    (only the levels that exist are listed; another digit says so), ``/`` go
    to a bay by its label (:meth:`find_bay`).
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
        "levelmap--found",
        "levelmap--row-label",
        "levelmap--ruler",
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
    LevelMapView > .levelmap--found { color: $background; background: $accent; text-style: bold underline; }
    LevelMapView > .levelmap--row-label { color: $map-title; text-style: bold; }
    LevelMapView > .levelmap--ruler { color: $map-title; background: $map-aisle; }
    """

    BINDINGS = [
        Binding("right_square_bracket", "next_level", "Next level", show=False),
        Binding("left_square_bracket", "previous_level", "Previous level", show=False),
        # "/" as in a search; not a letter: letters reaching the screen start a keyboard-wedge scan
        Binding("slash", "go_to_bay", "Go to bay", show=False),
        Binding("escape", "clear_found", "Clear the bay mark", show=False),
        # Two bindings per digit: the jump while that level exists, else a system
        # binding (kept off the keys panel) that says there is no such level.
        *[
            binding
            for n in range(MAX_LEVEL_KEYS)
            for binding in (
                Binding(str(n), f"goto_level({n})", f"Level {n}", show=False),
                Binding(str(n), f"no_level({n})", "", show=False, system=True),
            )
        ],
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
        self._by_label: dict[str, int] = {}
        self._row_letter: list[dict[int, str]] = []  # per level: drawing row -> row letters of its labels
        self._rulers: list[list[_Ruler]] = []  # per level
        self._ruler_of_row: list[dict[int, int]] = []  # per level: spot row -> ruler index
        self._ruler_over: list[dict[int, int]] = []  # per level: aisle row a ruler is drawn over -> ruler index
        self._ruler_y: list[list[int]] = []  # per level, per ruler: its virtual line
        self._status: dict[int, SpotStatus] = {}
        self._free: list[int] = []
        self._capacity: list[int] = []
        self._type_counts: list[dict[SpotType, list[int]]] = []  # per level: type -> [free, capacity]
        self._occupied = 0
        self._highlight: int | None = None
        self._found: int | None = None
        self._strips: dict[int, Strip] = {}
        self._width = 40
        self._margin = 1  # row letters left of every drawing (the width of the longest)
        self._base_width = 40  # the drawings and their left row letters
        self._right = True  # row letters on the right edge too (dropped when only they would not fit)
        self.border_title = "Levels"
        self._update_subtitle()

    # ------------------------------------------------------------------ data
    def set_facility(self, levels: Iterable[LevelMap], statuses: Mapping[int, SpotStatus]) -> None:
        """Lay out ``levels`` (facility order) with bay ``statuses`` by spot id.

        A level whose drawing starts with a row of walls gets its title drawn
        over that row (saving two lines per level); otherwise the title takes
        a line of its own. A blank line separates levels whose drawing does
        not end with a wall. Bay numbers go on rulers (see the module
        docstring); a ruler with no free aisle beside its rows takes a line.
        """
        self.levels = list(levels)
        self._lines, self._level_start, self._row_y, self._spot_at = [], [], [], []
        self._bays, self._by_label, self._free, self._capacity = {}, {}, [], []
        self._row_letter, self._rulers, self._ruler_of_row, self._ruler_over, self._ruler_y = [], [], [], [], []
        numbers_of: list[dict[int, dict[int, int]]] = []  # per level: row -> {col: number}
        for index, level in enumerate(self.levels):
            at: dict[tuple[int, int], int] = {}
            letters: dict[int, str] = {}
            numbers: dict[int, dict[int, int]] = {}
            for cell in level.spots:
                at[(cell.row, cell.col)] = cell.spot_id
                self._bays[cell.spot_id] = _Bay(index, cell.row, cell.col, SpotType(cell.spot_type), cell.label)
                self._by_label[cell.label] = cell.spot_id
                parts = split_label(cell.label)
                if parts is not None:
                    letters[cell.row] = parts[1]
                    numbers.setdefault(cell.row, {})[cell.col] = parts[2]
            self._spot_at.append(at)
            self._row_letter.append(letters)
            numbers_of.append(numbers)
            self._capacity.append(len(level.spots))
        self._margin = max((len(t) for letters in self._row_letter for t in letters.values()), default=1)
        width = 0
        for index, level in enumerate(self.levels):
            rows = level.rows
            merged = bool(rows) and _is_wall(rows[0])
            rulers = self._plan_rulers(rows, numbers_of[index], merged)
            self._rulers.append(rulers)
            self._ruler_of_row.append({r: i for i, ruler in enumerate(rulers) for r in ruler.rows})
            self._ruler_over.append({ruler.on_row: i for i, ruler in enumerate(rulers) if ruler.on_row is not None})
            own_line = {ruler.rows[0]: i for i, ruler in enumerate(rulers) if ruler.on_row is None}
            ruler_y = [-1] * len(rulers)
            self._level_start.append(len(self._lines))
            if not merged:
                self._lines.append(_Line("title", index))
            row_y = []
            for r in range(len(rows)):
                if r in own_line:
                    ruler_y[own_line[r]] = len(self._lines)
                    self._lines.append(_Line("ruler", index, own_line[r]))
                row_y.append(len(self._lines))
                self._lines.append(_Line("title-row" if merged and r == 0 else "row", index, r))
            for i, ruler in enumerate(rulers):
                if ruler.on_row is not None:
                    ruler_y[i] = row_y[ruler.on_row]
            self._row_y.append(row_y)
            self._ruler_y.append(ruler_y)
            if not rows or not _is_wall(rows[-1]):
                self._lines.append(_Line("gap", index))
            width = max(width, self._margin + CELL * max((len(r) for r in rows), default=0))
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
        if self._found not in self._bays:
            self._found = None
        self._strips.clear()
        self._base_width = max(width, 40)
        self._update_virtual_size()
        self.refresh()
        self._update_current_level()
        self._update_subtitle()
        self.refresh_bindings()

    @staticmethod
    def _plan_rulers(rows: tuple[str, ...], numbers: dict[int, dict[int, int]], merged: bool) -> list[_Ruler]:
        """Group consecutive spot rows that number alike; put each group's ruler on a free aisle beside it."""
        rulers: list[_Ruler] = []
        for r in sorted(numbers):
            last = rulers[-1] if rulers else None
            if last is not None and last.rows[-1] == r - 1 and last.numbers == numbers[r]:
                last.rows.append(r)
            else:
                rulers.append(_Ruler([r], numbers[r]))
        taken = {0} if merged else set()  # the title is drawn over a leading wall row
        for ruler in rulers:
            for r in (ruler.rows[0] - 1, ruler.rows[-1] + 1):
                if 0 <= r < len(rows) and r not in numbers and r not in taken:
                    ruler.on_row = r
                    taken.add(r)
                    break
            ruler.marks = _ruler_marks(ruler.numbers)
        return rulers

    def _update_virtual_size(self) -> None:
        """Content size: every line, plus room below so the last level can scroll to the top.

        The right edge's row letters take ``1 + margin`` cells; when the drawings fit the view
        without them but not with them, they are left out (no scrolling for two letters).
        """
        full = self._base_width + 1 + self._margin
        view = self.scrollable_content_region.width
        right = not self._base_width <= view < full
        if right != self._right:
            self._right = right
            self._strips.clear()
            self.refresh()
        self._width = full if right else self._base_width
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
        """Mark ``spot_id`` as the bay issued (or looked up) last (None: none); if ``scroll``, bring it into view."""
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

    @property
    def found(self) -> int | None:
        """Spot id of the bay "go to bay" marked last (None: none)."""
        return self._found

    def find_bay(self, text: str) -> int:
        """Mark the bay labelled ``text`` and bring it into view, switching level; returns its spot id.

        ``text`` is a bay label as printed on tickets (``L0-C01``), in any
        case; ``C01``, ``C1`` or ``c-1`` name a bay on the level at the top
        of the view. Raises :class:`InputError` (with the message to show)
        when it is not a label or no bay has it; the map then stays as it was.
        """
        label = self.resolve_label(text)
        spot_id = self._by_label[label]
        old, self._found = self._found, spot_id
        dirty = set()
        for sid in (old, spot_id):
            if sid is not None and sid in self._bays:
                bay = self._bays[sid]
                dirty.add(self.bay_line(sid))
                dirty.add(self._ruler_y[bay.level][self._ruler_of_row[bay.level][bay.row]])
        self._repaint(dirty)
        self._scroll_to_bay(spot_id)
        self.refresh_bindings()  # Esc (clear the mark) is live now
        return spot_id

    def action_clear_found(self) -> None:
        self.clear_found()

    def clear_found(self) -> None:
        """Drop the "go to bay" mark."""
        old, self._found = self._found, None
        self.refresh_bindings()
        if old is not None and old in self._bays:
            bay = self._bays[old]
            self._repaint({self.bay_line(old), self._ruler_y[bay.level][self._ruler_of_row[bay.level][bay.row]]})

    def resolve_label(self, text: str) -> str:
        """The full label (``L0-C01``) ``text`` names; raises :class:`InputError` saying why not (see :meth:`find_bay`)."""
        typed = "".join(text.split()).upper()
        if not typed:
            raise InputError("type a bay label, e.g. L0-C01 (row C, bay 01 of level L0)")
        m = _LABEL.match(typed)
        if m is None:
            raise InputError(f"{typed!r} is not a bay label: level, row letter, number, e.g. L0-C01")
        if not self.levels:
            raise InputError("the map is still loading")
        code = m["level"] or self.levels[self.current_level].code
        index = next((i for i, lvl in enumerate(self.levels) if lvl.code == code), None)
        if index is None:
            raise InputError(f"no level {code} here: levels are {', '.join(lvl.code for lvl in self.levels)}")
        label = f"{code}-{m['row']}{int(m['number']):02d}"
        if label not in self._by_label:
            rows = sorted(set(self._row_letter[index].values()), key=lambda t: (len(t), t))
            in_row = [n for r, letter in self._row_letter[index].items() if letter == m["row"]
                      for n in self._numbers_in_row(index, r)]
            if in_row:
                raise InputError(f"no bay {label}: row {m['row']} of {code} has bays "
                                 f"{min(in_row):02d}-{max(in_row):02d}")
            span = f"{rows[0]}-{rows[-1]}" if rows else "none"
            raise InputError(f"no bay {label}: the rows of {code} are {span}")
        return label

    def _numbers_in_row(self, level: int, row: int) -> list[int]:
        ruler = self._rulers[level][self._ruler_of_row[level][row]]
        return list(ruler.numbers.values())

    def _scroll_to_bay(self, spot_id: int) -> None:
        bay = self._bays[spot_id]
        self.scroll_to_level(bay.level)
        y = self.bay_line(spot_id)
        height = self.scrollable_content_region.height
        if not self._level_start[bay.level] <= y < self._level_start[bay.level] + height:
            self.scroll_to(y=max(0, y - height // 2), animate=False)
        x = self._margin + CELL * bay.col
        left, width = self.scroll_offset.x, self.scrollable_content_region.width
        if width and not (left <= x and x + CELL <= left + width):
            self.scroll_to(x=max(0, x - width // 2), animate=False)

    def status_of(self, spot_id: int) -> SpotStatus | None:
        """The status the map shows for ``spot_id`` (None if unknown)."""
        return self._status.get(spot_id)

    def spot_id_of(self, label: str) -> int | None:
        """The spot id of bay ``label`` (e.g. ``L0-A03``), None if not on the map."""
        return self._by_label.get(label)

    def label_of(self, spot_id: int) -> str | None:
        """The label of bay ``spot_id`` (None if not on the map)."""
        bay = self._bays.get(spot_id)
        return bay.label if bay else None

    def spot_type_of(self, spot_id: int) -> SpotType | None:
        """The type of bay ``spot_id`` (None if not on the map)."""
        bay = self._bays.get(spot_id)
        return bay.spot_type if bay else None

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

    def ruler_line(self, spot_id: int) -> int:
        """Virtual line of the ruler that numbers bay ``spot_id``'s row."""
        bay = self._bays[spot_id]
        return self._ruler_y[bay.level][self._ruler_of_row[bay.level][bay.row]]

    def bay_x(self, spot_id: int) -> int:
        """Content column of bay ``spot_id``'s first terminal cell (its type glyph)."""
        return self._margin + CELL * self._bays[spot_id].col

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

    def action_no_level(self, index: int) -> None:
        self.notify(f"No level {index} here: {self.level_keys_hint()}", timeout=3)

    def go_to(self, text: str) -> str:
        """Show what ``text`` names: a level code (``L3``: that level to the top) or a bay (:meth:`find_bay`).

        Returns the level code or the bay's full label; raises :class:`InputError` saying why not.
        """
        typed = "".join(text.split()).upper()
        for index, level in enumerate(self.levels):
            if level.code == typed:
                self.scroll_to_level(index)
                return level.code
        return self._bays[self.find_bay(typed)].label

    def action_go_to_bay(self) -> None:
        """Ask for a bay label or a level code (:class:`GoToBayDialog`) and show it."""
        if self.levels:
            self.app.push_screen(GoToBayDialog(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_found":
            return self._found is not None
        if action == "goto_level":
            return bool(parameters) and int(parameters[0]) < len(self.levels)  # type: ignore[call-overload]
        if action == "no_level":
            return bool(parameters) and int(parameters[0]) >= len(self.levels)  # type: ignore[call-overload]
        return True

    def level_keys_hint(self) -> str:
        """``"levels 0-5: L0 Ground … L5 Level 5 (roof)"``-style words for the keys that exist."""
        count = min(len(self.levels), MAX_LEVEL_KEYS)
        if not count:
            return "no levels loaded"
        span = "0" if count == 1 else f"0-{count - 1}"
        return f"levels {span}: " + ", ".join(f"{i} {lvl.code}" for i, lvl in enumerate(self.levels[:count]))

    def _update_subtitle(self, focused: bool | None = None) -> None:
        count = min(len(self.levels), MAX_LEVEL_KEYS)
        digits = "0" if count == 1 else f"0-{count - 1}"
        if self.has_focus if focused is None else focused:
            self.border_subtitle = f"[ ] level  {digits} jump  / go to bay"
        else:
            self.border_subtitle = "F7/⇧F7 level  alt+g go to bay or level"

    def on_focus(self) -> None:
        self._update_subtitle(True)

    def on_blur(self) -> None:
        self._update_subtitle(False)

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
            return Strip([Segment(" " * (self._margin + 1), self.rich_style), *self._title_segments(line.level)])
        if line.kind == "ruler":
            width = self._margin + CELL * max((len(r) for r in self.levels[line.level].rows), default=0)
            cells = [(" ", self.rich_style)] * width
            self._overlay_ruler(cells, line.level, line.row)
            return self._join(cells)
        row = self._build_row(line.level, line.row)
        if line.kind == "title-row":
            title = Strip(self._title_segments(line.level))
            start = self._margin + CELL
            end = min(start + title.cell_length, self._margin + CELL * (len(self.levels[line.level].rows[0]) - 1))
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

    @staticmethod
    def _join(cells: list[tuple[str, Style]]) -> Strip:
        runs: list[tuple[str, Style]] = []
        for ch, st in cells:
            if runs and runs[-1][1] == st:
                runs[-1] = (runs[-1][0] + ch, st)
            else:
                runs.append((ch, st))
        return Strip([Segment(t, s) for t, s in runs])

    def _overlay_ruler(self, cells: list[tuple[str, Style]], level: int, index: int) -> None:
        """Write ruler ``index``'s bay numbers into ``cells`` (one entry per terminal cell) above their bays."""
        ruler = self._rulers[level][index]
        style = self.get_component_rich_style
        marks = dict(ruler.marks)
        found = self._found if self._found is not None and self._bays[self._found].level == level else None
        found_col = -1
        if found is not None and self._bays[found].row in ruler.rows:
            found_col = self._bays[found].col
            for c in (found_col - 1, found_col + 1):
                marks.pop(c, None)
            marks[found_col] = ruler.numbers[found_col]
        ruler_style, found_style = style("levelmap--ruler"), style("levelmap--found")
        for col, number in marks.items():
            text = f"{number:02d}"
            x = self._margin + CELL * col
            for i, ch in enumerate(text):
                if x + i < len(cells):
                    cells[x + i] = (ch, found_style if col == found_col else ruler_style)

    def _build_row(self, level_index: int, r: int) -> Strip:
        style = self.get_component_rich_style
        base = self.rich_style
        text = self.levels[level_index].rows[r]
        at = self._spot_at[level_index]
        status_style = {status: style(f"levelmap--{cls}") for status, cls in SPOT_STATUS_CLASS.items()}
        letter = self._row_letter[level_index].get(r, "")
        found_row = self._found is not None and (self._bays[self._found].level, self._bays[self._found].row) == (
            level_index, r)
        label_style = style("levelmap--found") if found_row else style("levelmap--row-label")
        cells: list[tuple[str, Style]] = [(ch, label_style if ch != " " else base) for ch in letter.rjust(self._margin)]
        for c, ch in enumerate(text):
            if ch in SPOT_GLYPHS and (r, c) in at:
                spot_id = at[(r, c)]
                status = self._status.get(spot_id, SpotStatus.AVAILABLE)
                glyph = SPOT_TYPE_GLYPH[SPOT_GLYPHS[ch]]
                if spot_id == self._found:
                    cell_style = style("levelmap--found")
                elif spot_id == self._highlight:
                    cell_style = style("levelmap--last")
                else:
                    cell_style = status_style[status]
                if spot_id == self._highlight and status is SpotStatus.OCCUPIED:
                    cell = glyph + LAST_ISSUED_GLYPH
                else:
                    cell = glyph + SPOT_STATUS_GLYPH[status]
            elif ch == ".":
                cell, cell_style = "  ", style("levelmap--aisle")
            elif ch == ">":
                cell, cell_style = "▶ ", style("levelmap--entrance")
            elif ch == "#":
                cell, cell_style = "██", style("levelmap--wall")
            else:
                cell, cell_style = "  ", base
            cells += [(cell[0], cell_style), (cell[1], cell_style)]
        if letter and self._right:
            cells.append((" ", base))
            cells += [(ch, label_style) for ch in letter]
        ruler = self._ruler_over[level_index].get(r)
        if ruler is not None:
            self._overlay_ruler(cells, level_index, ruler)
        return self._join(cells)


class GoToBayDialog(FormDialog[str]):
    """Ask for a bay label; Enter marks that bay on the map (switching level), a wrong label says why."""

    TITLE_TEXT = "Go to bay (or level)"
    HINT = "[$accent b]Enter[/] show it on the map  [$accent b]Esc[/] cancel"

    def __init__(self, level_map: LevelMapView) -> None:
        level = level_map.levels[level_map.current_level].code if level_map.levels else "L0"
        super().__init__(
            context=f"The bay's label as on the ticket: level, row letter (on the map's edges), bay number "
                    f"(on the aisle beside the row), e.g. {level}-C01. A row and number alone (C01) mean "
                    f"this level, {level}; a level's code alone ({level}) shows that level.",
        )
        self.level_map = level_map

    def fields(self):
        yield _row("Bay", Input(placeholder="e.g. L0-C01, or L3 for a level", id="bay-goto", max_length=16))

    def value(self) -> str:
        # InputError keeps the dialog open with the reason
        return self.level_map.go_to(self.query_one("#bay-goto", Input).value)


class MapLegend(Static):
    """Lines under the map: each bay status with its own glyph (and map colours), the type glyphs, how to read a label.

    Entries are laid out for the legend's width (:meth:`layout`), so a narrow legend breaks between
    entries, never inside one ("out of service" stays on one line).
    """

    DEFAULT_CSS = """
    MapLegend { height: auto; padding: 0 1; color: $text-muted; background: $surface; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(self.layout(200), **kwargs)

    @staticmethod
    def entries() -> list[tuple[str, str]]:
        """(glyph as drawn, meaning) of every status and type on the map, status first."""
        statuses = [(f"R{SPOT_STATUS_GLYPH[s]}", SPOT_STATUS_WORD[s]) for s in SPOT_STATUS_GLYPH]
        statuses.insert(2, (f"R{LAST_ISSUED_GLYPH}", "last issued"))
        types = [(SPOT_TYPE_GLYPH[t], word) for t, word in SPOT_TYPE_WORD.items()]
        return [*statuses, *types]

    @staticmethod
    def layout(width: int, *, compact: bool = False) -> Content:
        """The legend for ``width`` cells: statuses (and the entrance), then types, then how a label reads.

        ``compact`` (a short terminal, where every line of map counts): the same glyphs with short
        words, and no line on reading a label.
        """
        sample = {
            SPOT_STATUS_WORD[SpotStatus.AVAILABLE]: "$spot-free on $spot-free 14%",
            SPOT_STATUS_WORD[SpotStatus.OCCUPIED]: "$foreground b on $spot-occupied 55%",
            "last issued": "$background b on $spot-last",
            SPOT_STATUS_WORD[SpotStatus.RESERVED]: "$spot-reserved b on $spot-reserved 22%",
            SPOT_STATUS_WORD[SpotStatus.OUT_OF_SERVICE]: "$spot-out on $spot-out 18%",
        }
        entries = MapLegend.entries()
        flow: list[list[tuple[str, str]]] = [
            *[[(glyph, sample[word]), (f" {word}", "")] for glyph, word in entries[: len(sample)]],
            [("▶", "$map-entrance b"), (" entry", "")],
            *[[(glyph, "$foreground b"), (f" {word}", "")] for glyph, word in entries[len(sample):]],
            [("L0-C01", "$foreground b"), (" = level L0, row ", ""), ("C", "$map-title b"), (" (edges),", "")],
            [("bay ", ""), ("01", "$map-title b"), (" (aisle)", "")],
        ]
        if compact:
            short = {"out of service": "out", "last issued": "last", "motorcycle": "moto", "accessible": "access",
                     "ev charging": "EV"}
            flow = [[(text if i == 0 else f" {short.get(text[1:], text[1:])}", style)
                     for i, (text, style) in enumerate(entry)] for entry in flow[:-2]]
        parts: list[tuple[str, str] | str] = []
        used = 0
        for entry in flow:
            size = sum(len(text) for text, _style in entry)
            gap = " " if entry[0][0] == "bay " else "  "  # the label's explanation reads on as one sentence
            if used and used + len(gap) + size > width:
                parts.append("\n")
                used = 0
            elif used:
                parts.append(gap)
                used += len(gap)
            parts += entry
            used += size
        return Content.assemble(*parts)

    def on_resize(self) -> None:
        compact = self.app.size.height < COMPACT_HEIGHT
        self.update(self.layout(max(self.content_region.width, 20), compact=compact))
