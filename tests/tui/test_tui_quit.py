"""Quitting the console while its demo replay is busy (issue 12 item 10).

The replay's thread prefills a fresh car park (a few hundred vehicles, one
transaction each) right after the first paint. ctrl+q in the middle of it
must not wait for the rest: every thread is asked to stop first, the replay
ends after the vehicle it is on, and quitting waits for it at most
``QUIT_JOIN_S``. Checked on a real SQLite file: the replay thread is gone
when the app has exited, and the database is whole (every occupied bay has
its open session, nothing half-written).
"""

from __future__ import annotations

import time

from sqlalchemy import func, select

from attendant.tui.app import QUIT_JOIN_S
from db.models import ParkingSession, Spot
from tests.tui.support import SIZE, console, pilot_test, until

PS, SPOT = ParkingSession.__table__, Spot.__table__


@pilot_test
async def test_ctrl_q_during_the_replay_prefill_stops_it_at_once_and_leaves_the_database_whole(engine, clock):
    app = console(engine, clock, actor="console-test", replay_speed=30)
    async with app.run_test(size=SIZE) as pilot:
        # the replay starts after the first paint, then prefills the night's and the morning's vehicles
        await until(pilot, lambda: app.replayer.processed >= 20)
        replay = app.replayer._thread
        assert replay is not None and replay.is_alive()  # still prefilling: hundreds to go
        started = time.perf_counter()
        await pilot.press("ctrl+q")
        await pilot.pause()
    quit_seconds = time.perf_counter() - started
    assert app.return_code == 0
    assert not replay.is_alive()  # ended after its vehicle, not after the prefill
    assert quit_seconds < QUIT_JOIN_S + 2.0, quit_seconds  # a loaded machine's margin over the bounded join
    with engine.connect() as conn:
        open_sessions = conn.execute(select(func.count()).where(PS.c.status == "open")).scalar_one()
        occupied = conn.execute(select(func.count()).where(SPOT.c.status == "occupied")).scalar_one()
    assert 20 <= open_sessions == occupied < 1056  # prefill stopped part-way; every committed vehicle whole
