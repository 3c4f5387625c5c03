"""Nothing acknowledged is lost: a booth killed mid-run keeps every ticket it issued.

A child process enters vehicles in a loop and prints each ticket number once
its transaction has committed (the acknowledgement an attendant would see).
The test kills it with SIGKILL mid-run, reopens the database and checks that
every acknowledged ticket has its session, and that occupied bays equal open
sessions (BRIEF.md, "Rules that hold everywhere").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from db.engine import make_engine
from db.models import ParkingSession, Spot
from tests.conftest import make_small_facility

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import sys, itertools
    from datetime import UTC, datetime
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from attendant.core.errors import NoSpaceAvailable
    from db.engine import make_engine
    service = ParkingService(make_engine(sys.argv[1]), TicketSigner(b"k" * 32))
    codes = []
    for i in itertools.count():
        try:
            entry = service.enter(f"DUR{i:05d}", "car", actor="crash-test")
            codes.append(entry.code)
        except NoSpaceAvailable:
            service.exit(codes.pop(0), method="card", actor="crash-test")
            continue
        print(entry.ticket_no, flush=True)
    """
)


def test_sigkill_mid_run_loses_no_acknowledged_session(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    make_small_facility(url).dispose()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 60:  # past the 27 bays: entries and exits interleave
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

    engine = make_engine(url)
    PS, S = ParkingSession.__table__, Spot.__table__
    with engine.connect() as conn:
        stored = set(conn.execute(select(PS.c.ticket_no)).scalars())
        open_sessions = conn.execute(select(func.count()).where(PS.c.status == "open")).scalar_one()
        occupied = conn.execute(select(func.count()).select_from(S).where(S.c.status == "occupied")).scalar_one()
    assert set(acknowledged) <= stored
    assert occupied == open_sessions
    engine.dispose()
