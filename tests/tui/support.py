"""Helpers shared by the console's Pilot and snapshot tests (fixtures: ``tests/tui/conftest.py``).

No async pytest plugin is installed: :func:`pilot_test` runs an ``async def``
test with ``asyncio.run``. The console is built with its timers off
(:func:`console`), so it is quiet unless a test makes it work; tests then
wait for exactly that work (:func:`settle`, optionally for named worker
groups) or for a condition (:func:`until`), never on fixed sleeps and never
on Textual's CPU-idle guess (``pilot.pause()`` without a delay), which
background device threads keep busy.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from textual import events
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from attendant.demo import demo_config
from attendant.tui.app import make_app

T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
SIZE = (160, 50)
FACILITY = "CHS"
TURN = 0.005  # seconds given to device threads between two looks at the app


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


def demo_lanes():
    """The demo's lanes and devices without its count signs and customer displays: a sign's face and a display's
    rows are written by their own threads, so a screen with them is not the same picture on every run
    (tests/test_signs.py and tests/tui/test_tui_display.py test them on screen)."""
    config = demo_config()
    return replace(config, signs=(), lanes=tuple(replace(lane, display=None) for lane in config.lanes))


def console(engine, clock, config=None, **kwargs):
    """The console the attendant gets (``make_app``) on the demo facility, with its timers off."""
    return make_app(engine, config or demo_lanes(), facility_code=FACILITY, clock=clock, timers=False, **kwargs)


async def handled(app) -> None:
    """Return once every message queued now on the app and its current screen has been handled.

    Each node gets a callback (``call_later``) at the end of its queue: when
    all have run, everything queued before them has been handled. This is
    what Pilot does after a batch of keys (``_wait_for_screen``), in public
    calls.
    """
    nodes = [app, *app.screen.walk_children(with_self=True)]
    left = 0
    done = asyncio.Event()

    def one() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.set()

    for node in nodes:
        if node.call_later(one):
            left += 1
    if left:
        await asyncio.wait_for(done.wait(), timeout=30)


async def key_handled(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
    """A stand-in for Textual's ``wait_for_idle`` between the keys Pilot presses.

    Textual waits until the process's CPU time stops advancing, which the
    console's device threads defeat (every key then costs 20 ms to 1 s);
    this waits until the key (and whatever it posted) has been handled.
    """
    from textual._context import active_app

    app = active_app.get()
    for _ in range(100):  # a handler may post on to another node: go round until no message waits
        await handled(app)
        if not _queued(app):
            return


async def scan(pilot, code: str) -> None:
    """F3, then the code arrives in the focused field in one burst (as a scanner's paste), then Enter.

    One test types the code key by key (a keyboard-wedge scanner); the
    others paste it, which is faster under Pilot and ends the same way.
    """
    await pilot.press("f3")
    pilot.app.focused.post_message(events.Paste(code))
    await handled(pilot.app)
    await pilot.press("enter")
    await settle(pilot)


async def enter_by_keys(pilot, plate: str, class_steps: int = 0) -> None:
    """F2, the plate typed key by key, ``class_steps`` down the class list, Enter: the ticket issues."""
    await pilot.press("f2", *keys(plate))
    for _ in range(class_steps):
        await pilot.press("down")
    await pilot.press("enter")
    await settle(pilot)


def keys(text: str) -> list[str]:
    """Key names that type ``text`` with Pilot (a space is "space")."""
    return ["space" if ch == " " else ch for ch in text]


def _working(app, groups: tuple[str, ...]) -> bool:
    """Whether a worker (of ``groups``, if given) is pending or running."""
    return any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) and (not groups or w.group in groups)
               for w in list(app.workers))


def _queued(app) -> bool:
    """Whether any node of the app has a message waiting."""
    return any(
        node.message_queue_size or getattr(node, "_pending_message", None) is not None
        for node in [app, *list(app._registry)]
    )


async def settle(pilot, *groups: str, rounds: int = 400) -> None:
    """Wait until the workers (of the named ``groups``, default all) are done and what they posted is handled.

    A chain such as worker -> message -> handler starting another worker ->
    message needs several turns of the loop: each round waits for the
    workers, then for the current screen to handle every message queued
    (``pilot.pause(delay)`` does exactly that, then sleeps ``delay``), until a
    round finds no worker and no message left.
    """
    app = pilot.app
    for _ in range(rounds):
        while _working(app, groups):
            try:
                await app.workers.wait_for_complete([w for w in list(app.workers) if not groups or w.group in groups])
            except (WorkerCancelled, WorkerFailed):  # an exclusive worker replaced by a newer one, or failed
                pass
        await pilot.pause(TURN)
        if not _working(app, groups) and not _queued(app):
            await pilot.pause(0)  # one more turn: a handler may have posted to a node outside the screen
            if not _working(app, groups) and not _queued(app):
                return
    raise AssertionError(f"the console did not settle (workers: {[w.name for w in app.workers]})")


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
    config = demo_lanes()
    return replace(config, lanes=tuple(replace(lane, gate="sim://?hold=600") for lane in config.lanes))


def code_of(session, facility: str = "CHS") -> str:
    """The ticket code of a ``parking_session`` row: the row holds its keyed hash
    (attendant/core/personal_data.py), so the ticket is signed again and matched to it."""
    from attendant.core.personal_data import site_data
    from attendant.core.tickets import TicketSigner

    return next(c for c in TicketSigner.from_site().codes_for(facility, session.ticket_no)
                if site_data().code_hash(c) == session.code)


def plate_of(session) -> str | None:
    """The plate of a ``parking_session`` (or ``iou``) row: the row holds it sealed (AES-GCM)."""
    from attendant.core.personal_data import site_data

    return site_data().open(session.plate)
