"""Several facilities in one database: `attendant init` adds one, every command takes --facility CODE,
`status --all` shows each one's occupancy and today's revenue, and reports run per facility and across all
(`--facility all`), the totals adding up to the facilities' own."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, SMALL_LAYOUT


def test_two_facilities_in_one_database(cli, tmp_path):
    layout = tmp_path / "small.toml"
    layout.write_text(SMALL_LAYOUT, encoding="utf-8")
    added = cli.json("init", "--layout", str(layout), "--rates", str(EXAMPLES / "rates" / "charlotte_street.toml"))
    assert (added["facility"], added["created"]) == ("TST", True)
    cli.run("--facility", "TST", "time-window", "--before", "36600d", "--replay")  # replays fixed dates (conftest)

    chs = cli.json("--facility", "CHS", "enter", "CH5 ONE", "--at", "2026-11-20T08:00")
    tst = cli.json("--facility", "TST", "enter", "TS7 ONE", "--at", "2026-11-20T08:00")
    assert chs["code"].startswith("CHS-") and tst["code"].startswith("TST-")
    refused = cli.run("--facility", "TST", "exit", chs["code"], "--pay", "cash", "--tendered", "20", expect=2)
    assert "belongs to facility CHS" in refused.stderr  # a ticket closes only at its own car park
    cli.json("--facility", "CHS", "exit", chs["code"], "--pay", "cash", "--tendered", "20", "--at",
             "2026-11-20T10:30")
    cli.json("--facility", "TST", "exit", tst["code"], "--pay", "cash", "--tendered", "20", "--at",
             "2026-11-20T09:30")

    both = cli.json("status", "--all")
    assert [f["facility"] for f in both["facilities"]] == ["CHS", "TST"]
    assert both["capacity"] == sum(f["capacity"] for f in both["facilities"])
    assert cli.json("--facility", "all", "status") == both

    per = {code: json.loads(cli.run("--facility", code, "report", "daily", "--date", "2026-11-20", "--format",
                                    "json").stdout) for code in ("CHS", "TST")}
    every = json.loads(cli.run("--facility", "all", "report", "daily", "--date", "2026-11-20", "--format",
                               "json").stdout)
    assert every["facility"] == "ALL"
    assert every["revenue"] == "12.00"  # £7.20 at CHS (2 h 30, 3 started hours) + £4.80 at TST (1 h 30)
    assert float(every["revenue"]) == float(per["CHS"]["revenue"]) + float(per["TST"]["revenue"])
    assert every["entries"] == per["CHS"]["entries"] + per["TST"]["entries"] == 2
    assert set(every["by_lane"]) == {f"CHS/{lane}" for lane in per["CHS"]["by_lane"]} | {
        f"TST/{lane}" for lane in per["TST"]["by_lane"]}

    wrong = cli.run("--facility", "all", "enter", "AL1 ALL", expect=2)
    assert "--facility all works with status and report" in wrong.stderr
