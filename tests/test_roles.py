"""Roles hold everywhere once users exist: every CLI command that moves money, a gate or a record is
refused without a login and, where it is a supervisor's or an admin's, to an attendant; nothing changes
when it is refused (every table's rows compared before and after). The audit actor is always who logged
in: ``--actor`` / ``ATTENDANT_ACTOR`` only add a note.
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

ADMIN = ("--user", "root", "--pin", "135790")
SUPERVISOR = ("--user", "sue", "--pin", "864200")
ATTENDANT = ("--user", "ann", "--pin", "246802")


def checksum(db: str) -> str:
    """A digest of every row of every table (the audit log included, except its login events: a login is
    recorded even when what follows it is refused, and moves the audit chain's head)."""
    digest = hashlib.sha256()
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table == "audit_chain_head":
                continue
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):  # noqa: S608 - our own table names
                if table == "audit_event" and "user.login" in row:
                    continue
                digest.update(repr((table, row)).encode())
    return digest.hexdigest()


@pytest.fixture
def staffed(cli):
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    cli.run(*ADMIN, "user", "add", "sue", "--role", "supervisor", "--pin", "864200")
    cli.run(*ADMIN, "user", "add", "ann", "--role", "attendant", "--pin", "246802")
    cli.run(*ATTENDANT, "shift", "open", "--float", "50")
    cli.run(*SUPERVISOR, "shift", "open", "--float", "50")
    cli.code = cli.json(*ATTENDANT, "enter", "RO1 LES", "--at", "2026-11-20T08:00")["code"]
    return cli


# (command, who may run it at least): every one moves money, a gate or a record
GUARDED = [
    (("enter", "NO1 LOG"), ATTENDANT),
    (("exit", "{code}", "--pay", "cash", "--tendered", "20"), ATTENDANT),
    (("exit", "{code}", "--pay", "card"), ATTENDANT),
    (("exit", "{code}", "--iou", "no money"), ATTENDANT),
    (("iou", "settle", "RO1LES", "--pay", "cash", "--tendered", "20"), ATTENDANT),
    (("shift", "drop", "10"), ATTENDANT),
    (("reprint", "1"), ATTENDANT),
    (("refund", "1", "--reason", "x"), SUPERVISOR),
    (("payment", "resolve", "1", "--outcome", "void", "--reason", "x"), SUPERVISOR),
    (("validation", "create", "--merchant", "Shop", "--kind", "amount", "--value", "1.00"), SUPERVISOR),
    (("pass", "create", "--holder", "Pat", "--plate", "PA55 ONE", "--from", "2026-11-01", "--to", "2026-12-01"),
     SUPERVISOR),
    (("spot", "out", "L1-A02", "--reason", "cones"), SUPERVISOR),
    (("account", "add", "RO1", "--holder", "Ro Ltd", "--limit", "50"), SUPERVISOR),
    (("account", "close", "RO1", "--reason", "UNPAID"), SUPERVISOR),
    (("plates", "deny", "add", "RO1LES", "--reason", "BANNED"), SUPERVISOR),
    (("plates", "allow", "add", "RO1LES", "--reason", "STAFF"), SUPERVISOR),
    (("plates", "remove", "RO1LES"), SUPERVISOR),
    (("rates", "activate", "examples/rates/ferry_meadows.toml"), SUPERVISOR),
    (("user", "unlock", "ann"), SUPERVISOR),
    (("user", "add", "eve", "--role", "admin", "--pin", "111222"), ADMIN),
    (("user", "role", "ann", "admin"), ADMIN),
    (("user", "deactivate", "sue"), ADMIN),
]


@pytest.mark.parametrize(("args", "needs"), GUARDED, ids=[" ".join(a[:2]) for a, _n in GUARDED])
def test_guarded_commands_need_a_login_and_the_role(staffed, args, needs):
    cli = staffed
    args = tuple(a.format(code=cli.code) for a in args)
    before = checksum(cli.db)
    nobody = cli.run(*args, expect=2)
    assert "log in" in nobody.stderr and len(nobody.stderr.splitlines()) == 1, nobody.stderr
    cli.env["ATTENDANT_ACTOR"] = "boss"  # naming someone is no login
    named = cli.run(*args, expect=2)
    assert "log in" in named.stderr
    del cli.env["ATTENDANT_ACTOR"]
    if needs is not ATTENDANT:
        low = ATTENDANT if needs is SUPERVISOR else SUPERVISOR
        refused = cli.run(*low, *args, expect=2)
        assert f"needs a{'n' if needs is ADMIN else ''} {'admin' if needs is ADMIN else 'supervisor'}" in \
            refused.stderr, refused.stderr
    assert checksum(cli.db) == before  # nothing was written


def test_the_audit_actor_is_who_logged_in_and_actor_is_only_a_note(staffed):
    cli = staffed
    cli.env["ATTENDANT_ACTOR"] = "boss"
    cli.run(*ATTENDANT, "--actor", "nightly-import", "enter", "NO7 ED")
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        actor, details = conn.execute("SELECT actor, details FROM audit_event WHERE action = 'session.enter' "
                                      "ORDER BY id DESC").fetchone()
        entry_actor = conn.execute("SELECT entry_actor FROM parking_session ORDER BY id DESC").fetchone()[0]
    assert (actor, entry_actor) == ("ann", "ann")
    assert '"note": "nightly-import"' in details  # --actor wins over ATTENDANT_ACTOR, as a note only


def test_setup_mode_records_the_os_account_not_the_chosen_name(cli):
    cli.run("--actor", "boss", "enter", "SE7 UP")
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        actor, details = conn.execute("SELECT actor, details FROM audit_event WHERE action = 'session.enter'"
                                      ).fetchone()
    assert actor.startswith("cli:") and actor != "boss" and '"note": "boss"' in details
