"""The level map as a new attendant reads it (issue 12, item 4): find a bay by its label, one glyph per state.

Pilot tests on the demo facility (a real SQLite copy, stand-in devices, fixed
clock): the rows' letters on the map's edges and the bay numbers on the aisle
match the labels the database holds; "go to bay" marks the bay and switches
level; the legend has one glyph per state; level keys never type into a form.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from attendant.core.errors import InputError
from attendant.core.vocab import SpotStatus
from attendant.tui.glyphs import LAST_ISSUED_GLYPH, SPOT_STATUS_GLYPH, SPOT_TYPE_GLYPH
from attendant.tui.widgets.level_map import GoToBayDialog, LevelMapView, MapLegend
from db.models import Level, Spot
from tests.tui.support import console, enter_by_keys, keys, pilot_test, settle, until

ACTOR = "console-test"


def bay_at(engine, label: str):
    with engine.connect() as conn:
        return conn.execute(select(Spot.__table__).where(Spot.__table__.c.label == label)).one()


@pilot_test
async def test_go_to_bay_marks_the_bay_its_row_letter_and_its_number(engine, clock):
    app = console(engine, clock, actor=ACTOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        assert app.focused is not None and app.focused.id == "entry-plate"

        # alt+g from the plate field (no focus change needed): the dialog asks for the label
        await pilot.press("alt+g")
        await until(pilot, lambda: isinstance(app.screen, GoToBayDialog))
        await pilot.press(*keys("L3-Z01"), "enter")  # no row Z: the dialog says so and stays
        await settle(pilot)
        assert isinstance(app.screen, GoToBayDialog)
        error = str(app.screen.query_one(".dialog-error").render())
        assert "no bay L3-Z01" in error and "A-F" in error
        assert level_map.found is None
        await pilot.press(*["backspace"] * 6, *keys("l3-e22"), "enter")  # any case; row E, 22nd bay of the row
        await settle(pilot)
        assert not isinstance(app.screen, GoToBayDialog)
        assert app.focused is not None and app.focused.id == "entry-plate"  # back where the attendant was typing

        spot = bay_at(engine, "L3-E22")
        assert level_map.found == spot.id and level_map.current_level == 3
        assert "L3" in str(level_map.border_title)
        # the bay's line starts with its row letter, the bay is drawn at the ruler's "22"
        x = level_map.bay_x(spot.id)
        line = level_map.line_text(level_map.bay_line(spot.id))
        assert line.startswith("E█") and line.rstrip().endswith(" E")  # the map is cut: the right edge has them too
        assert line[x:x + 2] == "R·"
        assert level_map.line_text(level_map.ruler_line(spot.id))[x:x + 2] == "22"
        # the mark is the found style, on the bay and on its number
        found = level_map.get_component_rich_style("levelmap--found")
        strip = level_map._strip(level_map.bay_line(spot.id))
        assert any(seg.style == found and "R·" in seg.text for seg in strip)
        # ... and it is on screen: the view scrolled to it (level and column)
        top, left = level_map.scroll_offset.y, level_map.scroll_offset.x
        region = level_map.scrollable_content_region
        assert top <= level_map.bay_line(spot.id) < top + region.height
        assert left <= x and x + 2 <= left + region.width

        # a row and number alone name a bay on the level in view
        level_map.focus()
        await settle(pilot)
        assert app.focused is level_map
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, GoToBayDialog))
        await pilot.press(*keys("c1"), "enter")
        await settle(pilot)
        assert level_map.found == bay_at(engine, "L3-C01").id
        assert app.focused is level_map and "/ go to bay" in str(level_map.border_subtitle)
        await pilot.press("escape")  # Esc on the map clears the mark
        await settle(pilot)
        assert level_map.found is None


@pilot_test
async def test_every_label_is_found_by_its_row_letter_and_ruler_number(engine, clock):
    """For every bay of every level: its line carries its row letter on both edges, its ruler the number (or a
    neighbour's, every fifth and each run's ends), and no ruler number sits over a bay of another number."""
    app = console(engine, clock, actor=ACTOR)
    async with app.run_test(size=(200, 55)) as pilot:
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        with engine.connect() as conn:
            bays = conn.execute(select(Spot.__table__.c.id, Spot.__table__.c.label)).all()
        assert len(bays) == 1056
        for spot_id, label in bays:
            row, number = label.split("-")[1][0], int(label.split("-")[1][1:])
            line = level_map.line_text(level_map.bay_line(spot_id))
            assert line.startswith(f"{row}█") and line.rstrip().endswith(f"█ {row}"), label
            ruler = level_map.line_text(level_map.ruler_line(spot_id))
            x = level_map.bay_x(spot_id)
            shown = ruler[x:x + 2]
            assert shown.strip() in ("", f"{number:02d}"), (label, shown)
            if number == 1 or number % 5 == 0:
                assert shown == f"{number:02d}" or ruler[x - 2:x].strip() or ruler[x + 2:x + 4].strip(), label
        # the demo's rulers all fit on aisles: no extra lines
        assert all(line.kind != "ruler" for line in level_map._lines)


@pilot_test
async def test_legend_has_one_glyph_per_state_and_the_last_bay_is_a_star(engine, clock):
    app = console(engine, clock, actor=ACTOR)
    async with app.run_test(size=(200, 55)) as pilot:
        await settle(pilot)
        entries = MapLegend.entries()
        words = [word for _glyph, word in entries]
        for wanted in ("free", "occupied", "last issued", "reserved", "out of service", "accessible", "ev charging"):
            assert wanted in words
        glyphs = [glyph for glyph, _word in entries]
        assert len(set(glyphs)) == len(glyphs), glyphs  # no two states or types look alike
        statuses = {*SPOT_STATUS_GLYPH.values(), LAST_ISSUED_GLYPH}
        assert len(statuses) == 5
        assert not {"A", "E"} & set(SPOT_TYPE_GLYPH.values())  # row letters of labels are not type glyphs
        legend = str(app.screen.query_one(MapLegend).render())
        for glyph, word in entries:
            assert glyph in legend and word.split()[0] in legend
        assert "L0-C01 = level L0, row C (edges), bay 01 (aisle)" in legend
        # a short terminal: every glyph still there, on fewer lines
        compact = MapLegend.layout(42, compact=True).plain  # the legend at 80x24
        assert all(glyph in compact for glyph in glyphs) and len(compact.splitlines()) <= 3
        assert all(len(line) <= 40 for line in MapLegend.layout(40).plain.splitlines())

        # the bay just issued reads "★", distinct from the other occupied bays, without colour
        level_map = app.screen.query_one(LevelMapView)
        await enter_by_keys(pilot, "MAP1")
        await settle(pilot)
        first = level_map.highlighted
        await enter_by_keys(pilot, "MAP2")
        await settle(pilot)
        second = level_map.highlighted
        await until(pilot, lambda: level_map.status_of(first) is SpotStatus.OCCUPIED)
        await until(pilot, lambda: level_map.status_of(second) is SpotStatus.OCCUPIED)
        x1, x2 = level_map.bay_x(first), level_map.bay_x(second)
        assert level_map.line_text(level_map.bay_line(first))[x1 + 1] == SPOT_STATUS_GLYPH[SpotStatus.OCCUPIED]
        assert level_map.line_text(level_map.bay_line(second))[x2 + 1] == LAST_ISSUED_GLYPH


@pilot_test
async def test_level_keys_never_type_into_a_form_and_only_real_levels_are_listed(engine, clock):
    app = console(engine, clock, actor=ACTOR)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        level_map = app.screen.query_one(LevelMapView)
        plate = app.screen.query_one("#entry-plate")
        assert app.focused is plate
        await pilot.press(*keys("AB12"))
        assert plate.value == "AB12"  # digits typed in the plate field stay in the field
        await pilot.press("ctrl+f7")  # a level by its code, in the go-to dialog
        await until(pilot, lambda: isinstance(app.screen, GoToBayDialog))
        await pilot.press(*keys("l3"), "enter")
        await settle(pilot)
        assert level_map.current_level == 3 and plate.value == "AB12" and app.focused is plate
        await pilot.press("shift+f7")
        await settle(pilot)
        assert level_map.current_level == 2 and plate.value == "AB12"
        await pilot.press("f7")
        await settle(pilot)
        assert level_map.current_level == 3
        assert plate.value == "AB12" and app.focused is plate

        # on the map, digits jump; the keys listed are levels 0-5 only (the demo has six)
        level_map.focus()
        await settle(pilot)
        described = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {f"Level {n}" for n in range(6)} <= described
        assert not {f"Level {n}" for n in range(6, 10)} & described
        await pilot.press("9")  # no level 9: a message, nothing moved
        await settle(pilot)
        assert level_map.current_level == 3
        await pilot.press("1")
        await settle(pilot)
        assert level_map.current_level == 1 and plate.value == "AB12"

        titles = [title for title, _help, _cb in app.console_commands()]
        assert "Go to bay…" in titles and "Previous level" in titles
        with engine.connect() as conn:
            levels = conn.execute(select(Level.__table__.c.code)).scalars().all()
        assert len(levels) == 6


LAYOUT = """
[facility]
code = "TST"
name = "Test"
timezone = "Europe/London"
currency = "GBP"

[[levels]]
code = "L0"
name = "Ground"
map = '''
>.........
.RRRRRR...
..RRRR....
.EA.......
..........
'''
"""


@pilot_test
async def test_a_row_with_no_free_aisle_gets_a_ruler_line_of_its_own():
    """Rows that number differently and touch each other: the middle row's numbers take a line of their own."""
    from textual.app import App

    from attendant.core.layout import parse_layout
    from attendant.core.views import LevelMap, SpotCell

    level = parse_layout(LAYOUT).levels[0]
    cells = tuple(SpotCell(i, s.label, s.row, s.col, s.spot_type.value) for i, s in enumerate(level.spots, start=1))
    by_label = {c.label: c.spot_id for c in cells}
    assert {"L0-A06", "L0-B04", "L0-C02"} <= set(by_label)

    from themes import register_themes

    class One(App):
        def __init__(self) -> None:
            super().__init__()
            register_themes(self)
            self.theme = "dark"

        def compose(self):
            yield LevelMapView(id="map")

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        level_map = app.query_one(LevelMapView)
        level_map.set_facility([LevelMap(1, "L0", "Ground", level.rows, cells)],
                               {by_label["L0-A02"]: SpotStatus.RESERVED, by_label["L0-A03"]: SpotStatus.OUT_OF_SERVICE})
        await pilot.pause()
        kinds = [line.kind for line in level_map._lines]
        assert kinds.count("ruler") == 1  # B's, between A and B; A's on the entrance aisle, C's on the aisle below
        text = [level_map.line_text(y).rstrip() for y in range(len(level_map._lines))]
        b_ruler = level_map.ruler_line(by_label["L0-B01"])
        assert level_map._lines[b_ruler].kind == "ruler" and b_ruler == level_map.bay_line(by_label["L0-A01"]) + 1
        assert text[b_ruler].split() == ["01", "04"]
        assert text[level_map.ruler_line(by_label["L0-A01"])].split() == ["▶", "01", "06"]
        assert text[level_map.ruler_line(by_label["L0-C01"])].split() == ["01"]  # never two numbers side by side
        # each bay: type glyph then state glyph, restricted types as a and ϟ
        assert text[level_map.bay_line(by_label["L0-C01"])].startswith("C  ϟ·a·")
        assert text[level_map.bay_line(by_label["L0-A01"])].startswith("A  R·R◇R×R·")
        # a found bay's number is shown even between marks, and it wins over its neighbours
        level_map.find_bay("l0-b2")
        await pilot.pause()
        assert level_map.line_text(b_ruler).split() == ["02", "04"]
        with pytest.raises(InputError, match="row B of L0 has bays 01-04"):
            level_map.find_bay("L0-B05")
        assert level_map.found == by_label["L0-B02"]  # a wrong label changes nothing
