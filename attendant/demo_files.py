"""The demo's facility code and its own database file, without the demo's machinery.

``attendant demo`` looks at its database (and may ask to start afresh)
before the console paints; these need only the standard library, so the
database layer loads after the first paint (issue 12 item 10).
:mod:`attendant.demo` re-exports them.
"""

from __future__ import annotations

from pathlib import Path

DEMO_FACILITY = "CHS"
"""The demo facility's code (Charlotte Street CP)."""


def demo_db_path() -> Path:
    """The demo's own SQLite file: ``demo.db`` in the data folder (:func:`attendant.paths.data_dir`)."""
    from attendant.paths import data_dir

    return data_dir() / "demo.db"


def demo_db_contents(path: Path) -> tuple[int, int]:
    """``(sessions, users)`` an existing demo database holds (``(0, 0)`` when there is no file or no schema).

    Read with :mod:`sqlite3` read-only, before anything opens (or migrates) it.
    """
    import sqlite3

    if not path.exists():
        return 0, 0
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            sessions = conn.execute("SELECT count(*) FROM parking_session").fetchone()[0]
            users = conn.execute("SELECT count(*) FROM app_user").fetchone()[0]
        return int(sessions), int(users)
    except sqlite3.Error:  # not a database of ours yet (or an empty file): nothing to keep
        return 0, 0
