"""`attendant quote` and `attendant rates check`, run through typer's CliRunner on the real app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from attendant import cli

RATES = Path(__file__).resolve().parents[1] / "examples" / "rates"
DEMO = str(RATES / "charlotte_street.toml")
GWH = str(RATES / "great_western_hospital.toml")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    return cli.app


def run(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args))


def quote_json(app: typer.Typer, *args: str) -> dict:
    result = run(app, "quote", *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_quote_json_across_the_dst_change(app: typer.Typer) -> None:
    # Naive times are facility time (the plan's Europe/London): 23:00 BST -> 03:00 GMT is 5 hours.
    data = quote_json(
        app, "--rates", DEMO, "--vehicle", "car", "--entry", "2026-10-24T23:00", "--exit", "2026-10-25T03:00"
    )
    assert data == {
        "amount": "12.00",
        "currency": "GBP",
        "lines": [
            {"label": "Sat 24 Oct: 1 × 1 h at £2.40", "minutes": 60, "amount": "2.40"},
            {"label": "Sun 25 Oct: 4 × 1 h at £2.40", "minutes": 240, "amount": "9.60"},
        ],
        "plan": "Charlotte Street (demo)",
        "plan_version": "demo-2026.1",
        "tariff": "Car",
    }


def test_quote_accepts_offsets_and_z(app: typer.Typer) -> None:
    a = quote_json(app, "--rates", DEMO, "--vehicle", "van", "--entry", "2026-06-03T09:00Z", "--exit",
                   "2026-06-03T12:30+01:00")  # fmt: skip
    assert a["amount"] == "9.00"  # 09:00Z -> 11:30Z: 2 h 30 min, 3 started hours at £3.00
    assert a["lines"][0]["minutes"] == 150


def test_quote_spot_type_and_lost(app: typer.Typer) -> None:
    base = ["--rates", GWH, "--vehicle", "car", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T10:45"]
    assert quote_json(app, *base)["amount"] == "1.10"
    assert quote_json(app, *base, "--spot-type", "accessible")["amount"] == "0.00"
    lost = quote_json(app, *base, "--lost")
    assert lost["amount"] == "8.80"
    assert lost["lines"] == [{"label": "Lost ticket, charged as 6–24 hours", "minutes": 45, "amount": "8.80"}]


def test_quote_table_output(app: typer.Typer) -> None:
    result = run(app, "quote", "--rates", DEMO, "--vehicle", "car", "--entry", "2026-06-01T09:00",
                 "--exit", "2026-06-03T17:00")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Charlotte Street (demo) (demo-2026.1)" in out
    assert "Entry 2026-06-01T09:00+01:00" in out and "Exit 2026-06-03T17:00+01:00" in out
    for label in ("Mon 1 Jun: Daily maximum", "Tue 2 Jun: Daily maximum", "Wed 3 Jun: Daily maximum"):
        assert label in out
    assert "£18.90" in out
    total = next(line for line in out.splitlines() if "Total" in line)
    assert "£56.70" in total and "3360" in total  # 56 h


def test_quote_naive_times_are_utc_when_the_plan_has_no_timezone(app: typer.Typer, tmp_path: Path) -> None:
    plan = tmp_path / "evening.toml"
    plan.write_text(
        'name = "Evening test"\ncurrency = "EUR"\n'
        '[[tariffs]]\nname = "Evening"\narrival = { from = "18:00", to = "06:00" }\nflat = "3"\n'
        '[[tariffs]]\nname = "Day"\nbands = [{ every = "1h", price = "2" }]\n',
        encoding="utf-8",
    )
    # 18:30 naive = 18:30 UTC: evening. 18:30+02:00 = 16:30 UTC: day, 2 started hours.
    assert quote_json(app, "--rates", str(plan), "--vehicle", "car", "--entry", "2026-06-03T18:30",
                      "--exit", "2026-06-03T20:00")["amount"] == "3.00"  # fmt: skip
    assert quote_json(app, "--rates", str(plan), "--vehicle", "car", "--entry", "2026-06-03T18:30+02:00",
                      "--exit", "2026-06-03T20:00+02:00")["amount"] == "4.00"  # fmt: skip


def test_quote_surge(app: typer.Typer, tmp_path: Path) -> None:
    plan = tmp_path / "surge.toml"
    plan.write_text(
        'name = "S"\ncurrency = "GBP"\nbands = [{ up_to = "1h", price = "2.45" }]\n'
        '[surge]\nsteps = [{ occupancy = 0.8, multiplier = "1.1" }]\n',
        encoding="utf-8",
    )
    args = ["--rates", str(plan), "--vehicle", "car", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T10:30"]
    assert quote_json(app, *args)["amount"] == "2.45"
    assert quote_json(app, *args, "--occupancy", "0.9")["amount"] == "2.70"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vehicle", "lorry", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T11:00"],
         "attendant: unknown vehicle class 'lorry' (known: motorcycle, car, van, truck, bus)"),
        (["--vehicle", "car", "--entry", "yesterday", "--exit", "2026-06-03T11:00"],
         "attendant: --entry: not an ISO 8601 date-time: 'yesterday'"),
        (["--vehicle", "car", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T09:00"],
         "attendant: exit 2026-06-03T09:00:00+01:00 is before entry 2026-06-03T10:00:00+01:00"),
        (["--vehicle", "car", "--spot-type", "roof", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T11:00"],
         "attendant: unknown spot type 'roof'"),
        (["--vehicle", "car", "--occupancy", "3", "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T11:00"],
         "attendant: occupancy must be a fraction between 0 and 1"),
    ],
)  # fmt: skip
def test_quote_errors_are_one_line_on_stderr_exit_2(app: typer.Typer, args: list[str], message: str) -> None:
    result = run(app, "quote", "--rates", DEMO, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_quote_with_a_bad_plan_file(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncurrency = "GBP"\nbands = [{ up_to = "1h", price = "-2" }]\n', encoding="utf-8")
    result = run(app, "quote", "--rates", str(bad), "--vehicle", "car", "--entry", "2026-06-03T10:00",
                 "--exit", "2026-06-03T11:00")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == f"attendant: {bad}:3: bands[0].price: negative price -2: amounts must be zero or more\n"
    missing = run(app, "quote", "--rates", str(tmp_path / "nope.toml"), "--vehicle", "car",
                  "--entry", "2026-06-03T10:00", "--exit", "2026-06-03T11:00")  # fmt: skip
    assert missing.exit_code == 2 and missing.stderr == f"attendant: {tmp_path / 'nope.toml'}: no such file\n"


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("charlotte_street", "OK: £2.40 per started hour, max £18.90 per calendar day; free up to 10 min"),
        ("ferry_meadows", "OK: £2.20 up to 1 h, …, £7.40 up to 24 h; free up to 20 min"),
        ("great_western_hospital", "OK: free up to 20 min, …, £8.80 up to 24 h"),
        ("charlotte_street_published", "OK: £7.20 up to 4 h, …, then £18.90 per started 24 h"),
    ],
)
def test_rates_check_ok(app: typer.Typer, name: str, summary: str) -> None:
    result = run(app, "rates", "check", str(RATES / f"{name}.toml"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(summary + " (")
    assert result.stdout.count("\n") == 1


def test_rates_check_refuses_with_file_line_field(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "rates.toml"
    bad.write_text(
        'name = "x"\ncurrency = "GBP"\nbands = [\n  { up_to = "1h", price = "1" },\n'
        '  { up_to = "3h", price = "2" },\n  { up_to = "2h", price = "3" },\n]\n',
        encoding="utf-8",
    )
    result = run(app, "rates", "check", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"attendant: {bad}:6: bands[2].up_to: overlaps band 1 (up to 3 h): up_to 2 h must be longer than 3 h\n"
    )
    syntax = tmp_path / "syntax.toml"
    syntax.write_text('name = "x"\ncurrency = "GBP"\nbands = [\n', encoding="utf-8")
    result = run(app, "rates", "check", str(syntax))
    assert result.exit_code == 2 and result.stderr.startswith(f"attendant: {syntax}:4: TOML syntax error")
