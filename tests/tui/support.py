"""Helpers shared by the console's Pilot and snapshot tests.

No async pytest plugin is installed: :func:`pilot_test` runs an ``async def``
test with ``asyncio.run``. Tests wait on workers and conditions, never on
fixed sleeps.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from textual.worker import WorkerState

from attendant.demo import demo_config, ensure_demo_db

T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
SIZE = (160, 50)


def pilot_test(coro):
    """Run an ``async def`` test with ``asyncio.run``."""

    @functools.wraps(coro)
    def run(*args, **kwargs):
        return asyncio.run(coro(*args, **kwargs))

    return run


class Clock:
    """A fixed facility clock the test moves by hand (aware UTC)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def keys(text: str) -> list[str]:
    """Key names that type ``text`` with Pilot (a space is "space")."""
    return ["space" if ch == " " else ch for ch in text]


def _busy(app) -> bool:
    """Whether a worker is pending/running or any node has a message waiting."""
    if any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in list(app.workers)):
        return True
    return any(
        node.message_queue_size or getattr(node, "_pending_message", None) is not None
        for node in [app, *list(app._registry)]
    )


async def settle(pilot, rounds: int = 200) -> None:
    """Wait until the workers are done and every message they posted has been handled.

    A chain such as worker -> message -> handler starting another worker ->
    message needs several turns of the loop; ``pilot.pause()`` alone guesses
    idleness from CPU time, which a busy CI machine defeats. So loop until two
    consecutive checks find no running worker and no queued message.
    """
    app = pilot.app
    quiet = 0
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if _busy(app):
            quiet = 0
            continue
        quiet += 1
        if quiet >= 2:
            return


async def until(pilot, predicate, attempts: int = 500) -> None:
    """Let the app run in short steps until ``predicate()`` holds (threads feeding it; up to ~10 s on a busy machine)."""
    for _ in range(attempts):
        if predicate():
            return
        await pilot.pause(0.02)
    assert predicate()


def rows(engine, table, *where):
    """Rows of ``table`` matching ``where``, in insertion order."""
    with engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).all()


def text_of(app, selector: str) -> str:
    """What the widget matching ``selector`` on the current screen renders."""
    return str(app.screen.query_one(selector).render())


def still_gates_config():
    """The demo lanes with gates that stay open for the whole test once vended
    (a 5 s hold could expire before a screenshot on a busy machine)."""
    config = demo_config()
    return replace(config, lanes=tuple(replace(lane, gate="sim://?hold=600") for lane in config.lanes))


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """A fresh demo database (Charlotte Street CP) with its own ATTENDANT_HOME and ticket secret."""
    monkeypatch.setenv("ATTENDANT_HOME", str(tmp_path))
    monkeypatch.delenv("ATTENDANT_SECRET_FILE", raising=False)
    monkeypatch.delenv("ATTENDANT_DB", raising=False)
    engine = ensure_demo_db(f"sqlite:///{tmp_path}/t.db", actor="test")
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """The facility clock at :data:`T0` (overrides conftest's clock for console tests)."""
    return Clock()
