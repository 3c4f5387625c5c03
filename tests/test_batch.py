"""``attendant batch FILE|-``: many operations in one process, one JSON result per line.

The results carry the same objects as the verbs' ``--json``; a failed line
says why and changes nothing, and the batch goes on; rows in the database
are read back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.cli_support import REPO


def lines_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def count(cli, sql: str):
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql).fetchone()[0]


def test_a_batch_file_runs_every_line_and_reports_each(cli, tmp_path):
    earlier = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    ops = [
        {"op": "enter", "plate": "BA7 CH1", "vehicle": "car", "lane": "E1", "at": earlier},
        {"op": "enter", "plate": "BA7 CH2", "vehicle": "van"},
        {"op": "enter", "plate": "BA7 CH1"},  # already inside: refused, the batch goes on
        {"op": "enter", "plate": "X", "vehicle": "spaceship"},
        {"op": "find", "plate": "ba7 ch1"},
        {"op": "status"},
        {"op": "fly"},
        {"op": "enter", "plate": "BA7 CH3", "colour": "red"},
    ]
    path = tmp_path / "ops.jsonl"
    path.write_text("\n".join(json.dumps(op) for op in ops) + "\n\nnot json\n")
    ran = cli.run("batch", str(path), expect=2)  # some lines failed: status 2
    out = lines_of(ran.stdout)
    assert [(r["line"], r["op"], r["ok"]) for r in out] == [
        (1, "enter", True), (2, "enter", True), (3, "enter", False), (4, "enter", False), (5, "find", True),
        (6, "status", True), (7, "fly", False), (8, "enter", False), (10, None, False)]
    first = out[0]["result"]
    assert set(first) == set(cli.json("enter", "CL1 KEY"))  # the same object as `enter --json`
    assert first["plate"] == "BA7CH1" and first["lane"] == "E1"
    assert out[2]["kind"] == "refused" and "anti-passback" in out[2]["error"]
    assert out[3]["kind"] == "input" and "spaceship" in out[3]["error"]
    assert out[4]["result"]["ticket_no"] == first["ticket_no"] and out[4]["result"]["status"] == "open"
    assert out[5]["result"]["occupied"] == 2  # status as `status --json`, after the two entries
    assert "colour" in out[7]["error"]
    assert count(cli, "SELECT count(*) FROM parking_session") == 3  # two from the batch, one from `enter` above

    out_first_van = out[1]["result"]["ticket_no"]
    exits = tmp_path / "exits.jsonl"
    exits.write_text(json.dumps({"op": "exit", "code": first["code"], "pay": ["cash"], "tendered": "50",
                                 "idempotency_key": "b-1"}) + "\n"
                     + json.dumps({"op": "exit", "code": first["code"], "pay": "cash", "tendered": "50",
                                   "idempotency_key": "b-1"}) + "\n"
                     + json.dumps({"op": "exit", "code": out[1]["result"]["code"], "tendered": 1.5}) + "\n"
                     + json.dumps({"op": "report", "period": "daily"}) + "\n")
    out = lines_of(cli.run("batch", str(exits), expect=2).stdout)
    assert out[0]["ok"] and out[0]["result"]["payments"][0]["method"] == "cash"
    assert out[0]["result"]["paid"] != "0.00" and out[0]["result"]["gate"] == "opened"
    assert out[1]["ok"] and out[1]["result"]["replayed"] and out[1]["result"]["gate"] == "already exited"
    assert not out[2]["ok"] and "tendered" in out[2]["error"]  # never a float amount
    assert out[3]["ok"] and out[3]["result"]["period"] == "daily"
    assert count(cli, "SELECT count(*) FROM payment WHERE status = 'completed'") == 1  # one charge for the retry

    lost = tmp_path / "lost.jsonl"  # the van of line 2 lost its ticket; its plate misread, as at the lane
    lost.write_text(json.dumps({"op": "exit", "lost": "BA7 CHZ", "pay": ["cash"], "tendered": "100",
                                "reason": "LOST_TICKET"}) + "\n"
                    + json.dumps({"op": "exit", "code": first["code"], "lost": "BA7 CH2"}) + "\n")
    out = lines_of(cli.run("batch", str(lost), expect=2).stdout)
    assert out[0]["ok"] and out[0]["result"]["lost_ticket"] == {"plate": "BA7 CHZ", "found_by": "plate"}
    assert out[0]["result"]["ticket_no"] == out_first_van and out[0]["result"]["paid"] != "0.00"
    assert not out[1]["ok"] and "give code, or lost" in out[1]["error"]
    assert count(cli, "SELECT count(*) FROM audit_event WHERE action = 'exception.lost_ticket'") == 1


def test_batch_reads_standard_input_in_one_process_and_exits_0_when_all_succeed(cli):
    ops = "".join(json.dumps({"op": "enter", "plate": f"ST{n} DIN"}) + "\n" for n in range(5))
    env = {k: v for k, v in {**os.environ, **cli.env, "PYTHONPATH": str(REPO)}.items() if v is not None}
    proc = subprocess.run([sys.executable, "-m", "attendant", "--db", cli.db, "batch", "-"], input=ops,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = lines_of(proc.stdout)
    assert [r["ok"] for r in out] == [True] * 5
    assert len({r["result"]["ticket_no"] for r in out}) == 5
    assert count(cli, "SELECT count(*) FROM parking_session") == 5


def test_batch_needs_a_login_once_users_exist_and_runs_every_line_as_it(cli, tmp_path):
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    path = tmp_path / "ops.jsonl"
    path.write_text(json.dumps({"op": "enter", "plate": "LO6 IN"}) + "\n")
    refused = lines_of(cli.run("batch", str(path), expect=2).stdout)
    assert refused[0]["kind"] == "login-required"
    assert count(cli, "SELECT count(*) FROM parking_session") == 0
    done = lines_of(cli.run("--user", "root", "--pin", "135790", "batch", str(path)).stdout)
    assert done[0]["ok"]
    assert count(cli, "SELECT actor FROM audit_event WHERE action = 'session.enter'") == "root"


def test_batch_of_a_missing_file_is_one_clear_error(cli, tmp_path):
    ran = cli.run("batch", str(tmp_path / "nope.jsonl"), expect=2)
    assert ran.stderr.startswith("attendant: no such file")
