"""Fixtures of the console's tests: the demo database (a copy of one template per test run), the clock.

``engine`` is a fresh copy of the demo facility (Charlotte Street CP);
``staffed_engine`` a copy of the demo with users (admin, supervisor sue,
attendant bob: :data:`PINS`), for the console's login and money tests.
Building the apps is :func:`tests.tui.support.console`.
"""

from __future__ import annotations

import pytest

from tests.conftest import copy_database
from tests.tui.support import Clock, key_handled

PINS = {"admin": "246813", "sue": "864286", "bob": "135713"}


@pytest.fixture(autouse=True)
def keys_wait_until_handled(monkeypatch):
    """Pilot's key presses wait for each key to be handled, not for the CPU to look idle (support.key_handled)."""
    import textual.app

    monkeypatch.setattr(textual.app, "wait_for_idle", key_handled)


@pytest.fixture
def clock() -> Clock:
    """The facility clock at :data:`tests.tui.support.T0` (overrides the domain tests' clock)."""
    return Clock()


@pytest.fixture
def engine(demo_template, tmp_path):
    """A fresh copy of the demo database for this test."""
    from db.engine import make_engine

    engine = make_engine(copy_database(demo_template, tmp_path / "console.db"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def staffed_template(demo_template, tmp_path_factory):
    """The demo facility with its users (:data:`PINS`), built once per test run."""
    from attendant.core import users
    from db.engine import make_engine

    path = tmp_path_factory.mktemp("templates") / "staffed.db"
    engine = make_engine(copy_database(demo_template, path))
    admin = users.create_user(engine, users.setup_actor(engine), "admin", None, "admin", PINS["admin"])
    users.create_user(engine, admin.actor(), "sue", "Sue Brown", "supervisor", PINS["sue"])
    users.create_user(engine, admin.actor(), "bob", "Bob Smith", "attendant", PINS["bob"])
    engine.dispose()
    return path


@pytest.fixture
def staffed_engine(staffed_template, tmp_path):
    """A fresh copy of the demo database with its users for this test."""
    from db.engine import make_engine

    engine = make_engine(copy_database(staffed_template, tmp_path / "staffed.db"))
    yield engine
    engine.dispose()
