"""Where a rate plan error points: the line of each field, found through tomlkit.

tomlkit's items carry no positions; ``attendant.core.rates.loading`` notes
where tomlkit's parser starts each value and table header. These tests pin
that for the layouts plan files use (tomlkit is pinned in pyproject.toml: a
new version that moves its parser internals fails here first).
"""

from __future__ import annotations

import pytest

from attendant.core.rates import RatePlanError, parse_rate_plan
from attendant.core.rates.loading import key_lines

HEAD = 'name = "Test"\ncurrency = "GBP"\n'


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    found = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[nth - 1]


LAYOUTS = '''name = "Layouts" # [not a table], "not a string"
currency = 'GBP'
note = """two
lines with [brackets] and "quotes" # and no comment
"""
tags = [ # a comment [x]
  "a", # one
  # only a comment
  "b",
]
arrival.from = 18:00:00
arrival.to = "24:00"

[surge]
steps = [
  { occupancy = 0.8,
    multiplier = 1.2 },
]

[[tariffs]]
name = "First"
[tariffs.arrival]
from = "06:00"

[[tariffs.bands]]
up_to = "1h"
[[tariffs.bands]]
price = "2"

[[tariffs]]
"quoted key" = 1
nested = [[1, 2], [3,
  4]]
'''


def test_every_kind_of_field_is_placed_on_its_line() -> None:
    lines = key_lines(LAYOUTS)
    t = LAYOUTS
    expected = {
        ("name",): 1,
        ("currency",): 2,
        ("note",): 3,
        ("tags",): 6,
        ("tags", 0): line_of(t, '"a", # one'),
        ("tags", 1): line_of(t, '"b",'),
        ("arrival",): line_of(t, "arrival.from"),  # a dotted table: its first key
        ("arrival", "from"): line_of(t, "arrival.from"),
        ("arrival", "to"): line_of(t, "arrival.to"),
        ("surge",): line_of(t, "[surge]"),
        ("surge", "steps", 0): line_of(t, "{ occupancy = 0.8"),
        ("surge", "steps", 0, "multiplier"): line_of(t, "multiplier = 1.2"),
        ("tariffs",): line_of(t, "[[tariffs]]"),
        ("tariffs", 0): line_of(t, "[[tariffs]]"),
        ("tariffs", 0, "arrival"): line_of(t, "[tariffs.arrival]"),
        ("tariffs", 0, "arrival", "from"): line_of(t, 'from = "06:00"'),
        ("tariffs", 0, "bands", 0): line_of(t, "[[tariffs.bands]]"),
        ("tariffs", 0, "bands", 1, "price"): line_of(t, 'price = "2"'),
        ("tariffs", 1): line_of(t, "[[tariffs]]", 2),
        ("tariffs", 1, "quoted key"): line_of(t, '"quoted key"'),
        ("tariffs", 1, "nested", 1, 1): line_of(t, "  4]]"),
    }
    assert {path: lines.get(path) for path in expected} == expected


def test_crlf_line_endings() -> None:
    text = 'name = "x"\r\ncurrency = "GBP"\r\n\r\n[[tariffs]]\r\nvehicles = ["car",\r\n  "van"]\r\n'
    lines = key_lines(text)
    assert (lines[("tariffs", 0)], lines[("tariffs", 0, "vehicles", 1)]) == (4, 6)


def test_an_array_of_tables_split_by_another_table() -> None:
    # tomlkit gathers the [[tariffs]] tables into one place (its as_string() no
    # longer matches the file), so counting rendered text would misplace them.
    text = HEAD + """
[[tariffs]]
name = "Day"
flat = "1"

[surge]
steps = [{ occupancy = 0.9, multiplier = 1.5 }]

[[tariffs]]
name = "Rest"
bands = [{ up_to = "1h", price = "-1" }]
"""
    with pytest.raises(RatePlanError) as info:
        parse_rate_plan(text, "rates.toml")
    assert (info.value.line, info.value.field) == (line_of(text, '"-1"'), "tariffs[1].bands[0].price")
    assert key_lines(text)[("surge",)] == line_of(text, "[surge]")


def test_a_missing_key_points_at_its_table() -> None:
    text = HEAD + '[[tariffs]]\nname = "Evening"\narrival = { from = "18:00" }\nflat = 1\n[[tariffs]]\nflat = 2\n'
    with pytest.raises(RatePlanError) as info:
        parse_rate_plan(text, "rates.toml")
    assert (info.value.line, info.value.field) == (5, "tariffs[0].arrival.to")


def test_implicit_parent_tables_take_their_first_line() -> None:
    text = 'name = "x"\n[a.b.c]\nx = 1\n[a]\ny = 2\n'
    lines = key_lines(text)
    assert (lines[("a", "b", "c")], lines[("a", "b")], lines[("a",)], lines[("a", "y")]) == (2, 2, 4, 5)
    with pytest.raises(RatePlanError) as info:
        parse_rate_plan('name = "x"\ncurrency = "GBP"\nflat = 1\n[a.b]\nx = 1\n', "rates.toml")
    assert str(info.value).startswith("rates.toml:4: a: unknown key")
