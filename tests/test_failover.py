"""Failover onto a standby: a booth keeps its URL, the primary dies mid-traffic, the standby is promoted.

The site is two real PostgreSQL clusters on 127.0.0.1 (:mod:`tests.pg_site`,
as ``docs/failover.md`` describes): a primary and a synchronous hot standby,
and booths whose URL names both with ``target_session_attrs=read-write``.
The test creates the demo facility through the CLI, runs entries and cash
exits through one booth (:func:`attendant.booth.open_booth`) in a thread,
kills the primary (``pg_ctl stop -m immediate``) in the middle of it, checks
that the CLI says "database unavailable" while no server takes writes,
promotes the standby and then checks that:

- the booth's first operation started after the promotion succeeds, on the
  same booth object (nobody reopened anything), and traffic carries on; a
  change watcher (what keeps another console live) goes offline, comes back
  by itself and hears the booth again;
- every operation the booth acknowledged is on the new primary (each entry's
  session and ticket, each exit with its one cash payment); an exit whose
  answer was lost in the failure is retried with its idempotency key and
  charged once;
- bays and sessions agree (occupied bays = open sessions, none shared), and
  a new CLI process on the same URL (``ATTENDANT_DB``) works.

It skips, saying why, when the server binaries are missing. The clusters are
stopped and deleted afterwards whatever happened. The failover's timings are
printed (``pytest -s``): see ``benchmarks/bench_failover.py`` for figures.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from tests import pg_site
from tests.pg_site import Traffic
from tests.conftest import REPO

pytestmark = pytest.mark.postgres

ACTOR = pg_site.ACTOR


@pytest.fixture
def site():
    """A primary and its synchronous standby, stopped and deleted after the test whatever happened."""
    reason = pg_site.missing_reason()
    if reason:
        pytest.skip(f"cannot build a replicated PostgreSQL site: {reason}")
    built = pg_site.PgSite()
    try:
        built.start()
        yield built
    finally:
        built.close()


def _cli_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "attendant", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_booths_follow_a_failover_onto_the_promoted_standby_and_nothing_acknowledged_is_lost(site, attendant_home):
    from sqlalchemy import text
    from typer.testing import CliRunner

    from attendant.booth.wiring import open_booth
    from attendant.cli import app
    from attendant.core.changes import ChangeWatcher
    from attendant.core.requests import EntryRequest
    from db.engine import make_engine, unavailable_reason
    from hardware.config import default_config

    url = site.url()  # both servers, the first that takes writes

    # The facility, created through the URL by a real CLI process.
    made = _cli_process(["--db", url, "init", "--demo", "--json"], {})
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["created"] is True

    engine = make_engine(url)
    booth = open_booth(engine, default_config(), offline=False)  # the failover alone: no journal (test_offline.py)
    traffic = Traffic(booth)
    runner = threading.Thread(target=traffic.run, name="booth-traffic", daemon=True)
    watcher_engine = make_engine(url, migrate=False)  # another console's, on the same URL
    heard: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()
    watcher = ChangeWatcher(watcher_engine, heard.put, facility_id=booth.service.facility.id,
                            on_state=states.put).start()
    assert states.get(timeout=10) == "live"
    runner.start()
    try:
        traffic.wait_for(lambda: len(traffic.exits) >= 5, 30, "traffic on the primary")
        assert all(a.error is None for a in traffic.attempts), traffic.summary()

        killed = time.monotonic()
        site.kill_primary()
        traffic.wait_for(lambda: any(a.error is not None for a in traffic.attempts), 15,
                         "the booth to notice the primary is gone")

        # No server takes writes: a command says so in one line, exit 3, nothing else on screen.
        gap = CliRunner().invoke(app, ["--db", url, "status", "--json"])
        assert gap.exit_code == 3, gap.stderr or gap.stdout
        assert gap.stderr.startswith("attendant: database unavailable: cannot connect: ")
        assert f"127.0.0.1:{site.ports['a']} Connection refused" in gap.stderr
        assert f"127.0.0.1:{site.ports['b']} session is read-only" in gap.stderr
        assert gap.stderr.count("\n") == 1 and "SELECT" not in gap.stderr

        promoting = time.monotonic()
        site.promote_standby()
        promoted = time.monotonic()
        traffic.wait_for(lambda: len(traffic.succeeded_after(promoted)) >= 12, 30, "traffic on the new primary")
        # The other console's watcher lost the old primary, came back by itself and hears the booth again.
        seen = []
        while not seen or seen[-1] != "live":
            seen.append(states.get(timeout=30))
        assert seen[0].startswith(("offline: cannot connect: ", "offline: connection lost")), seen

        traffic.stop.set()
        runner.join(30)
        assert not runner.is_alive()
        while not heard.empty():
            heard.get_nowait()
        last = booth.enter(EntryRequest("HEARD 1", "car"), actor=ACTOR).entry
        got: list = []
        while not any(c.kind == "entry" and c.body.get("spot") == last.spot_label for c in got):
            got += heard.get(timeout=10)
    finally:
        traffic.stop.set()
        runner.join(30)
        watcher.stop()
        watcher_engine.dispose()

    attempts = traffic.attempts
    before = [a for a in attempts if a.ended < killed]
    assert before and all(a.error is None for a in before), traffic.summary()
    # Every failure is the database being unavailable, said as such (the operation in flight at the
    # kill included), and none begun after the promotion.
    failures = [a for a in attempts if a.error is not None]
    assert failures and all(a.ended >= killed and a.started < promoted for a in failures), traffic.summary()
    reasons = [unavailable_reason(a.error) for a in failures]
    assert all(reasons), [f"{type(a.error).__name__}: {a.error}" for a, r in zip(failures, reasons) if not r]
    # The booth reconnected by itself: its first operation begun after the promotion succeeded.
    after = [a for a in attempts if a.started >= promoted]
    assert after[0].error is None, traffic.summary()
    first_ok = min(a.ended for a in after if a.error is None)

    # Everything acknowledged is on the new primary (server B alone, read directly).
    assert not site.in_recovery("b")
    direct = make_engine(site.server_url("b"), migrate=False)
    try:
        with direct.connect() as conn:
            sessions = {row.id: row for row in conn.execute(text(
                "SELECT id, ticket_no, code, status, amount_paid FROM parking_session"))}
            payments: dict[int, list] = {}
            for row in conn.execute(text("SELECT session_id, amount, status FROM payment")):
                payments.setdefault(row.session_id, []).append(row)
            open_sessions = conn.execute(text(
                "SELECT count(*), count(DISTINCT spot_id) FROM parking_session WHERE status = 'open'")).one()
            occupied = conn.execute(text("SELECT count(*) FROM spot WHERE status = 'occupied'")).scalar_one()
    finally:
        direct.dispose()
    missing = [sid for sid in traffic.entries if sid not in sessions]
    assert not missing, f"acknowledged entries lost: {missing}"
    from attendant.core.personal_data import site_data

    for sid, (_ticket_no, code) in traffic.entries.items():
        assert sessions[sid].code == site_data().code_hash(code)  # the stored form of a code: its keyed hash
    assert traffic.exits, "no exit was acknowledged"
    for sid, result in traffic.exits.items():
        assert sessions[sid].status == "closed", f"acknowledged exit of session {sid} lost"
        assert result.paid > 0 and sessions[sid].amount_paid == result.paid
        completed = [p for p in payments.get(sid, []) if p.status == "completed"]
        assert [p.amount for p in completed] == [result.paid], f"session {sid} charged {completed}"
    assert open_sessions[0] == open_sessions[1] == occupied  # no bay shared, bays agree with sessions

    # A new process on the same URL, this time from the environment, works on the new primary.
    later = _cli_process(["enter", "AFTER 1", "--json"], {"ATTENDANT_DB": url})
    assert later.returncode == 0, later.stderr
    status = _cli_process(["status", "--json"], {"ATTENDANT_DB": url})
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["occupied"] == occupied + 1
    booth.close()
    engine.dispose()

    print(f"\nfailover: {len(attempts)} operations, {len(failures)} failed during the gap; "
          f"kill -> promote issued {promoting - killed:.2f} s (the test's own checks), "
          f"promotion {promoted - promoting:.2f} s, promoted -> first booth success {first_ok - promoted:.3f} s, "
          f"kill -> first booth success {first_ok - killed:.2f} s")


def test_an_entry_whose_commit_was_not_confirmed_never_gives_its_ticket_number_to_another(site, attendant_home):
    """The standby is down, so the primary's commit waits for it (synchronous replication); the waiting
    backend is terminated: the entry is committed on the primary but the booth never heard so. The booth
    reports the database unavailable, and once the standby is back its next vehicle gets a new ticket
    number, not the one of the session it could not confirm (that would be a second ticket with the
    same number and code)."""
    from sqlalchemy import text

    from attendant.booth.wiring import open_booth
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import load_layout
    from attendant.core.requests import EntryRequest
    from attendant.demo import demo_layout_path
    from db.engine import make_engine, unavailable_reason
    from hardware.config import default_config

    engine = make_engine(site.url())
    create_facility(engine, load_layout(demo_layout_path()), actor=Actor(ACTOR, Role.ADMIN))
    booth = open_booth(engine, default_config(), offline=False)  # the failover alone: no journal (test_offline.py)
    try:
        admitted = [booth.enter(EntryRequest(f"SYNC{n}", "car"), actor=ACTOR).entry for n in range(4)]
        site.stop_server("b")  # the synchronous standby is away: commits on A wait for it
        outcome: list = []
        lost = threading.Thread(target=lambda: _capture(outcome, booth.enter, EntryRequest("LOST 1", "car"),
                                                        actor=ACTOR))
        lost.start()
        with site.connect("a") as admin:
            deadline = time.monotonic() + 15
            while not (waiting := admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'").fetchall()):
                assert time.monotonic() < deadline, "the entry's commit never waited for the standby"
                time.sleep(0.05)
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        lost.join(15)
        assert not lost.is_alive()
        [error] = outcome
        reason = unavailable_reason(error)
        assert reason and reason.startswith("connection lost, the operation was not confirmed"), error
        with site.connect("a") as check:  # ... yet it is committed on the primary
            from attendant.core.personal_data import site_data

            lost_no = check.execute("SELECT ticket_no FROM parking_session WHERE plate_hash = %s",
                                    (site_data().plate_index("LOST1"),)).fetchone()[0]

        site.start_server("b")
        after = booth.enter(EntryRequest("NEXT 1", "car"), actor=ACTOR).entry
    finally:
        booth.close()
        engine.dispose()
    numbers = [e.ticket_no for e in admitted] + [after.ticket_no]
    assert len(set(numbers)) == len(numbers)
    assert int(after.ticket_no) != lost_no and after.code not in {e.code for e in admitted}
    direct = make_engine(site.server_url("a"), migrate=False)
    try:
        with direct.connect() as conn:
            tickets = conn.execute(text(
                "SELECT count(*), count(DISTINCT ticket_no), count(DISTINCT code) FROM parking_session")).one()
    finally:
        direct.dispose()
    assert tuple(tickets) == (6, 6, 6)  # four, the unconfirmed one, the next: six tickets, six numbers


def _capture(outcome: list, call, *args, **kwargs) -> None:
    try:
        outcome.append(call(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        outcome.append(exc)
