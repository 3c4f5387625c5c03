"""Rate plan validation: every refusal names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from attendant.core.errors import InputError
from attendant.core.rates import RatePlan, RatePlanError, load_rate_plan, parse_rate_plan

HEAD = 'name = "Test"\ncurrency = "GBP"\n'


def refuse(text: str, source: str = "rates.toml") -> RatePlanError:
    with pytest.raises(RatePlanError) as info:
        parse_rate_plan(text, source)
    error = info.value
    assert isinstance(error, InputError)
    assert str(error).startswith(f"{source}:")
    assert "\n" not in str(error)
    return error


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_gap_between_bands() -> None:
    text = HEAD + """
bands = [
  { up_to = "1h", price = "1.00" },
  { over = "1h", up_to = "2h", price = "2.00" },
  { over = "3h", up_to = "4h", price = "3.00" },
]
"""
    error = refuse(text)
    assert (error.file, error.line, error.field) == ("rates.toml", line_of(text, 'over = "3h"'), "bands[2].over")
    assert str(error) == (
        f"rates.toml:{error.line}: bands[2].over: gap after band 1 (up to 2 h): stays over 2 h and up to 3 h "
        'have no price (write over = "2h")'
    )


def test_gap_before_the_first_band() -> None:
    error = refuse(HEAD + 'bands = [{ over = "20m", up_to = "1h", price = "1" }]\n')
    assert error.field == "bands[0].over" and error.line == 3
    assert "gap" in error.reason


def test_overlapping_bands_by_up_to() -> None:
    text = HEAD + """
[[tariffs]]
name = "Day"
bands = [
  { up_to = "1h", price = "1.00" },
  { up_to = "3h", price = "2.00" },
  { up_to = "2h", price = "3.00" },
]
"""
    error = refuse(text)
    assert error.line == line_of(text, 'up_to = "2h"')
    assert error.field == "tariffs[0].bands[2].up_to"
    assert error.reason == "overlaps band 1 (up to 3 h): up_to 2 h must be longer than 3 h"


def test_overlapping_bands_by_over() -> None:
    text = HEAD + 'bands = [\n  { up_to = "2h", price = "1" },\n  { over = "1h", up_to = "3h", price = "2" },\n]\n'
    error = refuse(text)
    assert (error.line, error.field) == (5, "bands[1].over")
    assert error.reason.startswith("overlaps band 0 (up to 2 h)")


def test_negative_price_in_an_array_of_tables() -> None:
    text = HEAD + """
[[tariffs]]
vehicles = ["car"]
bands = [{ up_to = "1h", price = "1.00" }]

[[tariffs]]
name = "Others"

[[tariffs.bands]]
up_to = "1h"
price = "-1.00"
"""
    error = refuse(text)
    assert (error.line, error.field) == (line_of(text, '"-1.00"'), "tariffs[1].bands[0].price")
    assert error.reason == "negative price -1.00: amounts must be zero or more"


@pytest.mark.parametrize("key", ["daily_max", "flat"])
def test_negative_amounts_anywhere(key: str) -> None:
    text = HEAD + f'{key} = -2.5\n' + ('bands = [{ up_to = "1h", price = "1" }]\n' if key != "flat" else "")
    error = refuse(text)
    assert (error.line, error.field) == (3, key)
    assert "negative" in error.reason


def test_unknown_vehicle_class() -> None:
    text = HEAD + """
[[tariffs]]
name = "Lorries"
vehicles = ["car",
            "lorry"]
free = true

[[tariffs]]
free = true
"""
    error = refuse(text)
    assert (error.line, error.field) == (line_of(text, '"lorry"'), "tariffs[0].vehicles[1]")
    assert error.reason == "unknown vehicle class 'lorry' (known: motorcycle, car, van, truck, bus)"


def test_unknown_vehicle_class_in_plan_and_spot_type() -> None:
    error = refuse(HEAD + 'vehicle_classes = "tractor"\nflat = "1"\n')
    assert (error.line, error.field) == (3, "vehicle_classes")
    text = HEAD + '[[tariffs]]\nspot_types = ["regular", "roof"]\nfree = true\n[[tariffs]]\nflat = 1\n'
    error = refuse(text)
    assert (error.line, error.field) == (4, "tariffs[0].spot_types[1]")
    assert "unknown spot type 'roof'" in error.reason


def test_unknown_key_suggests_the_right_one() -> None:
    text = HEAD + 'dailymax = "3.00"\nbands = [{ up_to = "1h", price = "1.00" }]\n'
    error = refuse(text)
    assert str(error) == "rates.toml:3: dailymax: unknown key (did you mean 'daily_max'?)"


def test_unknown_key_inside_an_inline_band() -> None:
    text = HEAD + 'bands = [\n  { up_to = "1h", price = "1.00" },\n  { upto = "2h", price = "2.00" },\n]\n'
    error = refuse(text)
    assert (error.line, error.field) == (5, "bands[1].upto")
    assert "did you mean 'up_to'" in error.reason


def test_unknown_key_in_a_tariff_table() -> None:
    text = HEAD + '[[tariffs]]\nname = "x"\nvehicle = ["car"]\nfree = true\n'
    error = refuse(text)
    assert (error.line, error.field) == (5, "tariffs[0].vehicle")
    assert "did you mean 'vehicles'" in error.reason


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HEAD + 'bands = [{ up_to = "1h", price = "1.00" }\n', 4),  # unclosed array: reported at the end
        (HEAD + "grace 10m\n", 3),
        (HEAD + 'flat = "1"\nflat = "2"\n', 4),  # duplicate key
        ('name = "x\ncurrency = "GBP"\n', 1),
    ],
)
def test_toml_syntax_errors_carry_the_line(text: str, line: int) -> None:
    error = refuse(text)
    assert error.line == line and error.field is None
    assert str(error).startswith(f"rates.toml:{line}: TOML syntax error: ")
    assert "(at line" not in str(error)


def test_errors_name_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(HEAD + 'bands = [{ up_to = "1h", price = "1.001" }]\n', encoding="utf-8")
    with pytest.raises(RatePlanError) as info:
        load_rate_plan(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}:3: bands[0].price: ")
    assert "more than 2 decimal places" in str(info.value)
    with pytest.raises(RatePlanError, match="no such file"):
        load_rate_plan(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ('bands = [{ up_to = "1h", price = "2" }, { up_to = "2h", price = "1.50" }]', "bands[1].price",
         "£1.50 is less than band 0 (£2.00): a longer stay cannot cost less"),
        ('bands = [{ price = "2" }, { up_to = "2h", price = "3" }]', "bands[1]",
         "comes after band 0, which has no up_to"),
        ('bands = [{ up_to = "0m", price = "2" }]', "bands[0].up_to", "more than zero"),
        ('bands = [{ up_to = "1.5h", price = "2" }]', "bands[0].up_to", 'expected a duration like "20m"'),
        ('bands = [{ up_to = "1h" }]', "bands[0].price", "missing"),
        ('bands = []', "bands", "expected a list of bands"),
        ('grace = "ten"\nflat = 1', "grace", "expected a duration"),
        ('flat = 1\nfree = true', "free", "give only one of bands, flat, free"),
        ('daily_max = "9"', "daily_max", "missing prices"),
        ('flat = 1\ndaily_max_per = "week"', "daily_max_per", 'expected "24h" (from entry) or "calendar_day"'),
        ('lost_ticket = { band = "day" }\nbands = [{ up_to = "1h", price = "1", name = "hour" }]',
         "lost_ticket.band", "no band named 'day'"),
        ('lost_ticket = { price = "1", band = "x" }\nflat = 1', "lost_ticket", "exactly one of price"),
        ('timezone = "Mars/Olympus"\nflat = 1', "timezone", "unknown IANA timezone"),
        ('holidays = ["2026-13-01"]\nflat = 1', "holidays[0]", "not a date"),
        ('flat = 1\n[surge]\nsteps = [{ occupancy = 1.2, multiplier = 2 }]', "surge.steps[0].occupancy",
         "between 0 and 1"),
        ('flat = 1\n[surge]\ncap = 0.5\nsteps = [{ occupancy = 0.9, multiplier = 2 }]', "surge.cap", "at least 1"),
    ],
)  # fmt: skip
def test_other_refusals(body: str, field: str, fragment: str) -> None:
    error = refuse(HEAD + body + "\n")
    assert error.field == field
    assert fragment in error.reason
    assert error.line is not None and error.line >= 3


def test_currency_and_name_are_required() -> None:
    error = refuse('name = "x"\nflat = 1\n')
    assert error.field == "currency" and "missing" in error.reason
    error = refuse('currency = "GBP"\nflat = 1\n')
    assert error.field == "name"


@pytest.mark.parametrize(
    ("condition", "field", "fragment", "line"),
    [
        ('arrival = { from = "25:00", to = "08:00" }', "tariffs[0].arrival.from", "not a time of day", 4),
        ('arrival = { from = "08:00", to = "08:00" }', "tariffs[0].arrival.to", "same as from", 4),
        ('arrival = { from = "08:00" }', "tariffs[0].arrival.to", "missing", 4),
        ('days = ["mon", "funday"]', "tariffs[0].days[1]", "unknown day 'funday'", 4),
        ('beyond = "continue"', "tariffs[0].beyond", "no effect without leave_by", 4),
        ('leave_by = "08:00"\nbeyond = "later"', "tariffs[0].beyond", 'expected "skip" or "continue"', 5),
        ('max_stay = "3h"\nbeyond = "continue"\nor_cheaper = true', "tariffs[0].or_cheaper", "cannot be combined", 6),
    ],
)
def test_tariff_conditions_are_checked(condition: str, field: str, fragment: str, line: int) -> None:
    error = refuse(HEAD + f"[[tariffs]]\n{condition}\nflat = 1\n[[tariffs]]\nflat = 2\n")
    assert (error.field, error.line) == (field, line)
    assert fragment in error.reason


def test_unreachable_tariff_is_refused() -> None:
    text = HEAD + 'bands = [{ up_to = "1h", price = "1.00" }]\n\n[[tariffs]]\nname = "Everyone"\nflat = "1"\n'
    error = refuse(text)
    assert (error.line, error.field) == (3, "bands")
    assert "never used: tariff 'Everyone' before it has no conditions" in error.reason


def test_a_plan_must_price_every_stay() -> None:
    text = HEAD + '[[tariffs]]\nname = "Evening"\narrival = { from = "18:00", to = "08:00" }\nflat = "1"\n'
    error = refuse(text)
    assert error.field == "tariffs[0]" and error.line == 3
    assert error.reason.startswith("no tariff prices a car in a regular bay arriving Mon 08:00")
    # A plan restricted to some classes only needs to price those.
    parse_rate_plan(HEAD + 'vehicle_classes = ["car"]\n[[tariffs]]\nvehicles = ["car"]\nflat = "1"\n')
    error = refuse(HEAD + 'vehicle_classes = ["car"]\n[[tariffs]]\nvehicles = ["van"]\nflat = "1"\n')
    assert error.field == "tariffs[0].vehicles[0]" and "not in the plan's vehicle_classes" in error.reason


def test_from_dict_errors_have_no_line_but_a_field() -> None:
    with pytest.raises(RatePlanError) as info:
        RatePlan.from_dict({"name": "x", "currency": "GBP", "tariffs": [{"bands": [{"up_to": 60, "price": "-1"}]}]})
    assert info.value.line is None
    assert str(info.value) == "<dict>: tariffs[0].bands[0].price: negative price -1: amounts must be zero or more"


def test_values_in_their_friendly_forms_are_accepted() -> None:
    plan = parse_rate_plan(
        HEAD
        + """
grace = 10
exit_grace = "15 min"
holidays = [2026-12-25, "2026-12-28"]
[[tariffs]]
name = "Night"
days = "fri-sun"
arrival.from = 18:00:00
arrival.to = "24:00"
flat = "£3"
[[tariffs]]
bands = [{ up_to = "1h30m", price = 2 }, { up_to = "2 hours", price = 2.5 }, { up_to = "1d", price = "9" }]
"""
    )
    assert plan.grace_minutes == 10 and plan.exit_grace_minutes == 15
    night, day = plan.tariffs
    assert night.days == frozenset({"fri", "sat", "sun"})
    assert (night.arrival.start, night.arrival.end) == (18 * 60, 24 * 60)
    assert night.bands[0].price == 300
    assert [(b.up_to, b.price) for b in day.bands] == [(90, 200), (120, 250), (1440, 900)]
