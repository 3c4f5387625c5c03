"""Two consoles in two real terminals (tmux) on one PostgreSQL database: a vehicle entered by the CLI turns
a bay occupied on both within a second or so, each console shows the other booth's lanes, and a console
that quits takes its lanes off the other (issue "A site, not a booth", item 3)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: no real terminal")]


def _pane(socket: str, session: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, check=False).stdout


def _wait(socket: str, session: str, wanted: str, timeout: float = 30.0) -> float:
    """Seconds until ``wanted`` shows in the pane (fails with the screen after ``timeout``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if wanted in _pane(socket, session):
            return time.monotonic() - began
        time.sleep(0.05)
    pytest.fail(f"{wanted!r} never showed in {session}:\n{_pane(socket, session)}")


def test_two_consoles_follow_each_other_and_the_cli(pg_url, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ATTENDANT_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("ATTENDANT_DB", None)
    attendant = [sys.executable, "-m", "attendant", "--db", pg_url]
    subprocess.run([*attendant, "init", "--demo"], env=env, check=True, capture_output=True)
    socket = f"attendant-{uuid.uuid4().hex[:8]}"
    # the terminal's own size, not one inherited from the environment (Rich and Textual read COLUMNS/LINES)
    command = "env -u COLUMNS -u LINES " + " ".join(f"'{part}'" for part in attendant)
    try:
        for booth in ("A", "B"):
            subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", booth, "-x", "160", "-y", "50",
                            "-e", f"ATTENDANT_HOME={home}", "-e", f"PYTHONPATH={REPO}", "-e", f"ATTENDANT_BOOTH=booth-{booth}",
                            command], check=True)
        for booth in ("A", "B"):
            _wait(socket, booth, "occupied 0/1056")
        # each console publishes its lanes; the other shows them under its own
        _wait(socket, "A", "@booth-B")
        _wait(socket, "B", "@booth-A")

        entered = subprocess.run([*attendant, "enter", "TW0 CON"], env=env, check=True, capture_output=True,
                                 text=True)
        assert "Gate: opened" in entered.stdout
        waits = [_wait(socket, booth, "occupied 1/1056", timeout=10) for booth in ("A", "B")]
        print(f"bay occupied on the consoles {waits[0]:.2f} s and {waits[1]:.2f} s after the CLI returned")

        subprocess.run(["tmux", "-L", socket, "send-keys", "-t", "B", "C-q"], check=True)
        began = time.monotonic()
        while "@booth-B" in _pane(socket, "A") and time.monotonic() - began < 15:
            time.sleep(0.1)
        assert "@booth-B" not in _pane(socket, "A")  # B quit: its lanes left A's panel
        engine = make_engine(pg_url, migrate=False)
        try:
            with engine.connect() as conn:
                booths = {b for (b,) in conn.execute(text("SELECT DISTINCT booth FROM lane_status"))}
        finally:
            engine.dispose()
        assert booths == {"booth-A"}
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, capture_output=True)
