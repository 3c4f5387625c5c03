"""The CLI contract, run as a user runs it: the real app on a real SQLite file (in this process through
typer's CliRunner, and as a real process for the entry point's own contract).

Checks the JSON fields scripts build on, fees against the demo rate plan
(examples/rates/charlotte_street.toml: 10 min grace, car £2.40 per started
hour, £18.90 a calendar day), a ticket printed to a TCP socket on loopback,
and that bad input prints one line on stderr, exits 2 and changes nothing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.cli_support import REPO
from tests.escpos_parse import parse
from tests.printer_sink import PrinterSink


@pytest.fixture
def printer():
    sink = PrinterSink()
    yield sink
    sink.close()


def test_enter_then_exit_with_cash_follows_the_demo_rate_plan(cli):
    entry = cli.json("enter", "AB12 CDE", "--vehicle", "car", "--at", "2026-11-20T09:05:00")
    assert set(entry) >= {"ticket_no", "code", "spot", "entry_at"}
    assert entry["ticket_no"] == "00000001" and entry["code"].startswith("CHS-00000001-")
    assert entry["entry_at"] == "2026-11-20T09:05:00+00:00"  # Europe/London is UTC in November
    status = cli.json("status")
    assert status["occupied"] == 1 and status["available"] == 1055

    result = cli.json(
        "exit", entry["code"], "--pay", "cash", "--tendered", "20", "--at", "2026-11-20T12:35:00"
    )  # 3 h 30 min: 4 started hours x £2.40 = £9.60
    assert result["ticket_no"] == entry["ticket_no"]
    assert (result["amount_due"], result["paid"], result["change"]) == ("9.60", "9.60", "10.40")
    assert result["gate"] == "opened" and result["currency"] == "GBP"
    assert sum(int(line["amount"].replace(".", "")) for line in result["lines"]) == 960

    status = cli.json("status")
    assert status["occupied"] == 0 and status["available"] == 1056

    report = json.loads(cli.run("report", "daily", "--date", "2026-11-20", "--format", "json").stdout)
    assert report["revenue"] == "9.60" and report["by_method"]["cash"] == {"count": 1, "amount": "9.60"}
    csv_text = cli.run("report", "daily", "--date", "2026-11-20", "--format", "csv").stdout
    assert "2026-11-20,CHS,method,cash,1,9.60,GBP" in csv_text.splitlines()


def test_card_exit_grace_and_daily_maximum(cli):
    short = cli.json("enter", "GR4 CE", "--at", "2026-11-20T08:00:00")
    long = cli.json("enter", "LO9 NGG", "--vehicle", "car", "--at", "2026-11-20T07:00:00")
    free = cli.json("exit", short["code"], "--pay", "card", "--at", "2026-11-20T08:10:00")
    assert free["amount_due"] == "0.00" and free["paid"] == "0.00"
    capped = cli.json("exit", long["code"], "--pay", "card", "--at", "2026-11-20T19:00:00")
    assert capped["amount_due"] == "18.90" and capped["change"] == "0.00" and capped["method"] == "card"


def test_ticket_printed_to_a_network_printer_carries_the_signed_code(cli, printer):
    url = f"tcp://127.0.0.1:{printer.port}"
    entry = cli.json("enter", "PR1 NTR", "--printer", url, "--at", "2026-11-20T10:00:00")
    assert entry["printed"] is True
    ticket = parse(printer.wait_jobs(1)[0])
    assert ticket.qr == [entry["code"]]
    assert [b.payload for b in ticket.barcodes if b.name == "CODE128"] == [entry["ticket_no"]]
    assert entry["spot"] in ticket.text and "Charlotte Street CP" in ticket.text
    assert "10:00" in ticket.text and ticket.cuts

    result = cli.json("exit", entry["code"], "--pay", "cash", "--tendered", "5.00", "--printer", url,
                      "--at", "2026-11-20T11:30:00")
    receipt = parse(printer.wait_jobs(2)[1])
    assert result["change"] == "0.20" and "4.80" in receipt.text and "0.20" in receipt.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("enter", "!!!", "--vehicle", "car"), "not a licence plate"),
        (("enter", "AB12CDE", "--vehicle", "spaceship"), "unknown vehicle class"),
        (("enter", "AB12CDE", "--at", "yesterday"), "not an ISO 8601 date-time"),
        (("enter", "AB12CDE", "--lane", "Q9"), "no lane"),
        (("exit", "CHS-00000001-AAAAAAAAAAAAAAAA", "--pay", "card"), "not genuine"),
        (("exit", "nonsense", "--pay", "card"), "not a ticket code"),
        (("exit", "CHS-00000001-AAAAAAAAAAAAAAAA", "--pay", "cash", "--tendered", "abc"), "not an amount"),
        (("exit", "CHS-00000001-AAAAAAAAAAAAAAAA", "--pay", "bitcoin"), "unknown payment method"),
        (("report", "daily", "--date", "31/12/2026"), "not a date"),
        (("enter",), "Missing argument"),
        (("frobnicate",), "No such command"),
    ],
)
def test_bad_input_prints_one_line_exits_2_and_changes_nothing(cli, args, message):
    before = cli.snapshot()
    proc = cli.run(*args, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert cli.snapshot() == before


def test_refusals_exit_2_and_change_nothing(cli):
    entry = cli.json("enter", "AB12CDE", "--at", "2026-11-20T09:00:00")
    proc = cli.run("enter", "ab12 cde", expect=2)
    assert "already inside" in proc.stderr
    proc = cli.run("exit", entry["code"], "--pay", "cash", "--tendered", "1", "--at", "2026-11-20T12:00:00",
                   expect=2)
    assert "less than the" in proc.stderr
    cli.json("exit", entry["code"], "--pay", "card", "--at", "2026-11-20T12:00:00")
    proc = cli.run("exit", entry["code"], "--pay", "card", expect=2)
    assert "already exited" in proc.stderr
    report = json.loads(cli.run("report", "daily", "--date", "2026-11-20", "--format", "json").stdout)
    assert report["payments"] == 1 and report["revenue"] == "7.20"


def test_database_from_environment_and_init_from_layout(tmp_path):
    """The console script itself, as a process: ATTENDANT_DB, JSON on stdout, one line and exit 2 on a refusal."""
    import os

    env = dict(os.environ, ATTENDANT_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    env_db = f"sqlite:///{tmp_path / 'from-env.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "attendant", "init", "--layout", str(REPO / "examples" / "charlotte_street.toml"),
         "--json"],
        capture_output=True, text=True, env=dict(env, ATTENDANT_DB=env_db), timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"facility": "CHS", "name": "Charlotte Street CP", "spots": 1056,
                                       "created": True}
    assert (tmp_path / "from-env.db").exists()
    again = subprocess.run(
        [sys.executable, "-m", "attendant", "init", "--layout", str(REPO / "examples" / "charlotte_street.toml")],
        capture_output=True, text=True, env=dict(env, ATTENDANT_DB=env_db), timeout=60,
    )
    assert again.returncode == 2 and again.stderr.startswith("attendant: ") and "already exists" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr


def test_reprint_by_number_carries_the_same_code_and_find_by_plate(cli, printer):
    entry = cli.json("enter", "RE9 PRT", "--at", "2026-11-20T10:00:00")
    url = f"tcp://127.0.0.1:{printer.port}"
    cli.run("reprint", entry["ticket_no"], "--printer", url)
    assert parse(printer.wait_jobs(1)[0]).qr == [entry["code"]]
    found = cli.json("find", "re9 prt")
    assert found["code"] == entry["code"] and found["spot"] == entry["spot"]
    proc = cli.run("reprint", "99999999", "--printer", url, expect=2)
    assert "no ticket" in proc.stderr


def test_a_failed_printer_does_not_undo_the_entry(cli):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    entry = cli.json("enter", "NO1 PRN", "--printer", f"tcp://127.0.0.1:{port}")
    assert entry["printed"] is False and entry["print_error"] and entry["gate"] == "opened"
    assert cli.json("status")["occupied"] == 1


def test_weekly_and_monthly_reports_from_the_cli(cli):
    # a week that is over whatever day the tests run (the CLI's clock is the real one)
    first = cli.json("enter", "WK1 REP", "--vehicle", "car", "--at", "2026-11-09T08:00:00")  # Monday
    cli.json("enter", "WK2 REP", "--vehicle", "van", "--at", "2026-11-11T09:00:00")  # Wednesday, stays
    out = cli.json("exit", first["code"], "--pay", "card", "--at", "2026-11-10T08:00:00")
    week = json.loads(cli.run("report", "weekly", "--date", "2026-11-13", "--format", "json").stdout)
    assert (week["period"], week["from"], week["to"]) == ("weekly", "2026-11-09", "2026-11-15")
    assert (week["entries"], week["exits"], week["revenue"]) == (2, 1, out["paid"])
    assert [d["entries"] for d in week["days"]] == [1, 0, 1, 0, 0, 0, 0]
    assert [d["peak_occupancy"] for d in week["days"]] == [1, 1, 1, 1, 1, 1, 1]
    csv_rows = cli.run("report", "weekly", "--date", "2026-11-13", "--format", "csv").stdout.splitlines()
    assert "2026-11-11,CHS,day,entries,1,,GBP" in csv_rows and "2026-11-09,CHS,hour,09:00,1,,GBP" in csv_rows
    month = json.loads(cli.run("report", "monthly", "--month", "2026-11", "--format", "json").stdout)
    assert (month["from"], month["to"], len(month["days"])) == ("2026-11-01", "2026-11-30", 30)
    assert month["revenue"] == week["revenue"] and month["by_vehicle_class"]["car"]["count"] == 1
    table = cli.run("report", "monthly", "--month", "2026-11").stdout
    assert "November 2026" in table and "By day" in table and "Occupancy by hour" in table
    for args, message in ((("--month", "2026-13"), "not a month"),
                          (("--month", "2026-11", "--date", "2026-11-02"), "not both")):
        result = cli.run("report", "monthly", *args, expect=2)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_every_command_is_loaded_from_the_module_the_table_names():
    """The root loads each subcommand from the module COMMAND_MODULES names: the table and the modules agree."""
    from importlib import import_module

    from typer.main import get_group

    from attendant.cli import COMMAND_MODULES

    defined = {}
    for module in sorted(set(COMMAND_MODULES.values())):
        group = get_group(import_module(f"attendant.cli.{module}").commands)
        defined.update(dict.fromkeys(group.commands, module))
    assert defined == COMMAND_MODULES


def test_help_and_a_reading_command_load_only_what_they_need(tmp_path):
    """``--help`` imports no service; ``status`` imports neither the other commands nor the device layer."""
    import os

    env = dict(os.environ, ATTENDANT_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    probe = ("import sys; from attendant.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('attendant', 'hardware', 'sqlalchemy.orm'))),"
             " file=sys.stderr)")
    helped = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, env=env,
                            timeout=60)
    loaded = eval(helped.stderr.strip().splitlines()[-1])  # noqa: S307 - our own probe's list of names
    assert "attendant.core.services" not in loaded and "sqlalchemy.orm" not in loaded
    status = subprocess.run([sys.executable, "-c", probe, "--db", f"sqlite:///{tmp_path / 'x.db'}", "status"],
                            capture_output=True, text=True, env=env, timeout=60)
    loaded = eval(status.stderr.strip().splitlines()[-1])  # noqa: S307
    assert not [m for m in loaded if m.startswith("hardware")]
    assert "attendant.cli.staff" not in loaded and "attendant.cli.devices" not in loaded


def test_status_lists_the_lanes_the_open_consoles_publish(cli):
    """A script or a display board reads every booth's lanes from `status` (attendant/core/lane_status.py)."""
    from attendant.core.lane_status import LanePublisher, LaneReport
    from db.engine import make_engine

    engine = make_engine(cli.db)
    try:
        fid = cli.json("status")["lanes"] == [] and 1
        LanePublisher(engine, fid, "booth-2").publish([
            LaneReport("booth-2", "X1", "exit", "fault", "no link", {"printer": ("offline", "cover open")},
                       ("car", "van"), 2)])
    finally:
        engine.dispose()
    (lane,) = cli.json("status")["lanes"]
    assert (lane["booth"], lane["lane"], lane["gate"], lane["gate_reason"], lane["devices"], lane["queue"],
            lane["reprints"]) == ("booth-2", "X1", "fault", "no link", {"printer": "offline"}, ["car", "van"], 2)
    text = cli.run("status").stdout
    assert "Lanes" in text and "booth-2" in text and "fault (no link)" in text and "printer offline" in text
