"""Process start-up without the garbage collector's passes over the imported libraries.

Importing SQLAlchemy, SQLModel, pydantic and typer creates a few hundred
thousand objects that live as long as the process. With the collector on,
its passes over them while they are imported, and its last pass at exit,
cost about a quarter of a short command such as ``attendant status --json``
(measured with ``benchmarks/bench_cli.py``; the same process with the
collector paused and frozen after start-up is that much quicker).

The console-script entry (:func:`attendant.cli.main`) calls :func:`pause`
before anything is parsed; the booth wiring (:mod:`attendant.booth.wiring`)
calls :func:`resume` once the services are open, which moves every object
alive at that moment to the collector's permanent generation
(:func:`gc.freeze`, the standard library's tool for exactly this) and turns
collection back on. A command that never opens the services gets collection
back after :data:`PAUSE_LIMIT_S` seconds at most, so a long-running command
(``devices watch``) is never left without it.

Only a process that called :func:`pause` is affected: library users and the
test suite, which run commands in-process, keep the collector as it is.
"""

from __future__ import annotations

import gc
import threading

PAUSE_LIMIT_S = 2.0
"""The longest the collector stays paused, in seconds, whatever the command does."""

_pause: threading.Timer | None = None
_lock = threading.Lock()


def pause() -> None:
    """Pause automatic collection until :func:`resume` (or :data:`PAUSE_LIMIT_S` seconds).

    Does nothing when collection is already off (someone else decided) or already paused here.
    """
    global _pause
    with _lock:
        if _pause is not None or not gc.isenabled():
            return
        gc.disable()
        _pause = threading.Timer(PAUSE_LIMIT_S, resume)
        _pause.daemon = True  # never holds the process open at exit
        _pause.start()


def resume() -> None:
    """End a :func:`pause`: freeze what is alive now out of the collector's passes and collect again.

    Safe to call from any thread and any number of times; without a pause it does nothing.
    """
    global _pause
    with _lock:
        if _pause is None:
            return
        timer, _pause = _pause, None
        if timer is not threading.current_thread():
            timer.cancel()
        gc.freeze()
        gc.enable()


def renew() -> None:
    """Within a :func:`pause`: freeze what is alive now and start a new pause of :data:`PAUSE_LIMIT_S` seconds.

    For a start-up in two steps (the console paints, then loads the database layer in a thread): the second
    step gets the whole bound, whatever the first took. Without a pause in force it does nothing.
    """
    with _lock:
        if _pause is None:
            return
    resume()
    pause()


def paused() -> bool:
    """True while a :func:`pause` is in force."""
    return _pause is not None
