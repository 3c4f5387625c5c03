"""The live change log (attendant/core/changes.py, migration 0009_change_feed), on SQLite and PostgreSQL:
every committed entry, exit, bay change and payment is logged by the database itself, read once and in
order by a feed, and reaches another process's ``attendant watch`` within a second or so."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from attendant.core.auth import Actor, Role
from attendant.core.changes import ChangeFeed, ChangeWatcher

REPO = Path(__file__).resolve().parents[1]
SUPERVISOR = Actor("sue", Role.SUPERVISOR)


def test_every_kind_of_change_is_logged_once_in_commit_order(service, small_engine, clock):
    feed = ChangeFeed(small_engine, service.facility.id)
    entry = service.enter("CH1 ANG", "car", actor="t")
    clock.now += timedelta(hours=1)
    service.exit(entry.code, method="cash", actor="t", tendered=500, lane="X1")
    changes = feed.poll()
    assert [c.kind for c in changes] == ["spot", "entry", "payment", "exit", "spot"]
    occupied, entered, paid, left, freed = changes
    assert (occupied.body["spot"], occupied.body["status"]) == (entry.spot_label, "occupied")
    assert (entered.body["ticket_no"], entered.body["spot"], entered.body["vehicle_class"]) == (1, entry.spot_label,
                                                                                                "car")
    assert (freed.body["spot"], freed.body["status"]) == (entry.spot_label, "available")
    assert (paid.body["method"], paid.body["status"], paid.body["amount"], paid.body["lane"]) == (
        "cash", "completed", 240, "X1")
    assert (left.body["ticket_no"], left.body["amount_paid"], left.body["lane"]) == (1, 240, "X1")
    assert "CH1ANG" not in json.dumps([c.body for c in changes])  # no plates in the log
    assert feed.poll() == []  # each change once

    service.set_spot_in_service("L0-A02", False, actor=SUPERVISOR, reason="cones")
    (coned,) = feed.poll()
    assert (coned.kind, coned.body["spot"], coned.body["status"]) == ("spot", "L0-A02", "out_of_service")


def test_a_booths_lanes_are_published_logged_and_withdrawn(service, small_engine):
    """lane_status (migration 0015): a booth upserts its lanes when they change or a heartbeat is due;
    the triggers log each write and removal (kind ``lane``, no plates); others read the fresh rows."""
    from attendant.core.lane_status import LanePublisher, LaneReport, other_lanes

    feed = ChangeFeed(small_engine, service.facility.id)
    fid = service.facility.id
    booth_a = LanePublisher(small_engine, fid, "booth-A")
    entry = LaneReport("booth-A", "E1", "entry", "open", None, {"printer": ("ok", "")}, ("car", "motorcycle"), 0)
    assert booth_a.publish([entry, LaneReport("booth-A", "X1", "exit", "closed")]) == 2
    assert booth_a.publish([entry, LaneReport("booth-A", "X1", "exit", "closed")]) == 0  # unchanged: no write
    assert booth_a.publish([entry, LaneReport("booth-A", "X1", "exit", "fault", "no link")]) == 1
    changes = feed.poll()
    assert [(c.kind, c.body["lane"], c.body.get("gate")) for c in changes] == [
        ("lane", "E1", "open"), ("lane", "X1", "closed"), ("lane", "X1", "fault")]
    assert (changes[0].body["booth"], changes[0].body["queue"]) == ("booth-A", 2)

    seen = other_lanes(small_engine, fid, "booth-B")
    assert [(r.booth, r.lane, r.gate, r.queue, r.devices) for r in seen] == [
        ("booth-A", "E1", "open", ("car", "motorcycle"), {"printer": ("ok", "")}),
        ("booth-A", "X1", "fault", (), {})]
    assert other_lanes(small_engine, fid, "booth-A") == []  # a booth does not see itself
    assert other_lanes(small_engine, fid, "booth-B", now=seen[0].updated_at + timedelta(minutes=5)) == []  # stale

    booth_a.withdraw()
    assert [(c.kind, c.body["lane"], c.body["gone"]) for c in feed.poll()] == [
        ("lane", "E1", True), ("lane", "X1", True)]
    assert other_lanes(small_engine, fid, None) == []


def test_a_change_that_commits_after_a_higher_id_is_still_delivered(small_engine, service):
    if small_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: its ids commit in order")
    feed = ChangeFeed(small_engine, service.facility.id)
    fid = service.facility.id
    slow = small_engine.connect()
    slow_tx = slow.begin()
    slow.execute(text("INSERT INTO change_log (facility_id, kind, body) VALUES (:f, 'spot', '{\"n\": 1}')"),
                 {"f": fid})  # takes the lower id, commits later
    with small_engine.begin() as fast:
        fast.execute(text("INSERT INTO change_log (facility_id, kind, body) VALUES (:f, 'spot', '{\"n\": 2}')"),
                     {"f": fid})
    assert [c.body["n"] for c in feed.poll()] == [2]
    assert len(feed.pending) == 1
    slow_tx.commit()
    slow.close()
    assert [c.body["n"] for c in feed.poll()] == [1]  # the gap filled, delivered once
    assert feed.pending == {} and feed.poll() == []


def test_a_watcher_in_this_process_hears_another_connection_commit(service, small_engine):
    heard: queue.Queue = queue.Queue()
    watcher = ChangeWatcher(small_engine, heard.put, facility_id=service.facility.id).start()
    try:
        time.sleep(0.3)  # the watcher has taken its cursor
        began = time.monotonic()
        entry = service.enter("WA7 CHR", "van", actor="t")
        got: list = []
        while not any(c.kind == "entry" for c in got):
            got += heard.get(timeout=10)
        took = time.monotonic() - began
    finally:
        watcher.stop()
    (entered,) = [c for c in got if c.kind == "entry"]
    assert entered.body["spot"] == entry.spot_label
    print(f"\n{small_engine.dialect.name}: change heard {took * 1000:.0f} ms after the entry was made")


def test_attendant_watch_prints_json_lines_as_another_process_enters(small_engine, service, tmp_path):
    url = small_engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in {**os.environ, "PYTHONPATH": str(REPO)}.items() if k != "ATTENDANT_DB"}
    watch = subprocess.Popen([sys.executable, "-m", "attendant", "--db", url, "watch", "--json", "--seconds", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout], daemon=True).start()
    try:
        assert watch.stderr.readline().strip() == "attendant: watching"
        time.sleep(0.2)
        entry = service.enter("PR1 NTS", "car", actor="t")
        seen = []
        deadline = time.monotonic() + 15
        while not any(e["kind"] == "entry" for e in seen) and time.monotonic() < deadline:
            seen.append(json.loads(lines.get(timeout=15)))
    finally:
        watch.terminate()
        watch.wait(10)
    spot, entered = seen[:2]
    assert (spot["kind"], spot["spot"], spot["status"], spot["facility"]) == ("spot", entry.spot_label, "occupied",
                                                                             service.facility.code)
    assert (entered["kind"], entered["ticket_no"], entered["spot"]) == ("entry", entry.ticket_no, entry.spot_label)


def test_a_watcher_cut_off_from_postgresql_says_so_reconnects_and_asks_for_a_reload(pg_url, tmp_path):
    """The network to the database is cut (a TCP proxy on 127.0.0.1) while another booth writes; the
    watcher reports offline, comes back by itself when the network does, asks for one full reload, and
    follows the log again."""
    from sqlalchemy.engine import make_url

    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine
    from tests.conftest import make_small_facility
    from tests.tcp_proxy import TcpProxy

    direct = make_small_facility(pg_url)
    url = make_url(pg_url)
    proxy = TcpProxy((url.host, url.port or 5432))
    proxied = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                          migrate=False)
    booth = ParkingService(direct, TicketSigner(b"k" * 32))
    states: queue.Queue = queue.Queue()
    heard: queue.Queue = queue.Queue()
    resyncs = []
    watcher = ChangeWatcher(proxied, heard.put, facility_id=booth.facility.id, on_state=states.put,
                            on_resync=lambda: resyncs.append(time.monotonic())).start()
    try:
        assert states.get(timeout=10) == "live"
        proxy.cut()
        assert states.get(timeout=15).startswith("offline")
        booth.enter("DUR1 NG", "car", actor="t")  # committed while the watcher cannot hear
        proxy.restore()
        while (state := states.get(timeout=30)) != "live":
            assert state.startswith("offline")
        assert len(resyncs) == 1  # the caller reloads what it missed
        after = booth.enter("AFT3 R", "car", actor="t")
        got: list = []
        while not any(c.kind == "entry" for c in got):
            got += heard.get(timeout=10)
        assert [c.body["spot"] for c in got if c.kind == "entry"] == [after.spot_label]
    finally:
        watcher.stop()
        proxied.dispose()
        proxy.close()
        direct.dispose()
