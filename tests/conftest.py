"""Shared fixtures: real SQLite files, the local PostgreSQL server, a small facility.

PostgreSQL tests use ``ATTENDANT_TEST_PG`` (default: the server on
127.0.0.1:5432, database ``test``, trust auth) and skip with the reason when
no server answers. Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PG_URL = os.environ.get("ATTENDANT_TEST_PG", "postgresql+psycopg://127.0.0.1:5432/test")

SMALL_LAYOUT = """
[facility]
code = "TST"
name = "Test Street CP"
address = "1 Test Street"
timezone = "Europe/London"
currency = "GBP"

[[levels]]
code = "L0"
name = "Ground"
map = '''
>..........
.AERRRRccm.
.RRLLRRccm.
...........
'''

[[levels]]
code = "L1"
name = "First"
map = '''
>..........
.RRRRRRRRR.
'''
"""


@pytest.fixture(scope="session")
def site_home(tmp_path_factory) -> Path:
    """The ATTENDANT_HOME of the test site: its secrets (ticket keys, personal-data keys), made once per run
    as ``attendant init`` makes them. Every test's home starts with a copy (booths of one site share them),
    and the template databases are built under it."""
    from attendant.keyfiles import ensure_site_secrets

    folder = tmp_path_factory.mktemp("site")
    with site_env(folder):
        ensure_site_secrets()
    return folder


@contextmanager
def site_env(home: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTENDANT_HOME", str(home))
        for name in ("ATTENDANT_SECRET_FILE", "ATTENDANT_DATA_KEYS_FILE", "ATTENDANT_DB"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def attendant_home(tmp_path, monkeypatch, site_home) -> Path:
    """Every test gets its own ATTENDANT_HOME (data, config), with a copy of the site's secrets."""
    home = tmp_path / "home"
    shutil.copytree(site_home / "config", home / "config")
    monkeypatch.setenv("ATTENDANT_HOME", str(home))
    monkeypatch.delenv("ATTENDANT_DB", raising=False)
    monkeypatch.delenv("ATTENDANT_SECRET_FILE", raising=False)
    monkeypatch.delenv("ATTENDANT_DATA_KEYS_FILE", raising=False)
    return home


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); set ATTENDANT_TEST_PG"


@pytest.fixture(scope="session")
def pg_skip_reason() -> str | None:
    """Why PostgreSQL tests skip (None: they run). With ATTENDANT_REQUIRE_PG=1 (CI) absence fails."""
    reason = _pg_available()
    if reason and os.environ.get("ATTENDANT_REQUIRE_PG") == "1":
        pytest.fail(f"ATTENDANT_REQUIRE_PG=1 but {reason}")
    return reason


@pytest.fixture
def pg_url(pg_skip_reason):
    """URL of a fresh schema on the local PostgreSQL server (dropped after the test)."""
    if pg_skip_reason:
        pytest.skip(pg_skip_reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A database URL for each backend: a SQLite file, and a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'booth.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'booth.db'}"


class FixedClock:
    """A clock the test moves by hand (aware UTC)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))


def accept_replayed_dates(engine) -> None:
    """Widen every facility's window of accepted times (attendant/core/time_bounds.py) to a century back.

    The suite replays fixed dates (``--at 2026-11-20T09:00``) on the real
    clock, which the default window (a day before the oldest open entry)
    refuses once those dates are past, by attendant-level actors (which
    back-date only in replay mode, ``facility.at_replay``); a site replaying
    history configures the same (``attendant time-window --before ... --replay``). tests/test_time_bounds.py
    checks the default window on facilities of its own.
    """
    from sqlalchemy import update

    from db.models import Facility

    with engine.begin() as conn:
        conn.execute(update(Facility.__table__).values(at_before_s=36_600 * 86_400, at_replay=True))


def make_small_facility(url: str, *, actor=None):
    """Create the small test facility (27 bays over two levels) with the demo rate plan."""
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import parse_layout
    from attendant.core.rates import load_rate_plan
    from db.engine import make_engine

    engine = make_engine(url)
    layout = parse_layout(SMALL_LAYOUT, source="small.toml")
    plan = load_rate_plan(EXAMPLES / "rates" / "charlotte_street.toml")
    create_facility(engine, layout, actor=actor or Actor("test-admin", Role.ADMIN), rate_plan=plan)
    accept_replayed_dates(engine)
    return engine


@pytest.fixture
def small_engine(request, db_url, tmp_path):
    """The small facility on each backend: a copy of the SQLite template, or built in a fresh schema."""
    from db.engine import make_engine

    if db_url.startswith("sqlite"):
        template = request.getfixturevalue("small_template")
        engine = make_engine(copy_database(template, Path(db_url.removeprefix("sqlite:///"))))
    else:
        engine = make_small_facility(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(small_engine, clock):
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner

    return ParkingService(small_engine, TicketSigner.from_site(), clock=clock)


def copy_database(template: Path, url_path: Path) -> str:
    """Copy a SQLite template (its WAL too, if any) to ``url_path``; returns the new file's URL."""
    for suffix in ("", "-wal"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{url_path}{suffix}")
    return f"sqlite:///{url_path}"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, site_home) -> Path:
    """One demo database (Charlotte Street CP, 1,056 bays) built per test run; tests copy it."""
    from attendant.demo import ensure_demo_db

    path = tmp_path_factory.mktemp("templates") / "demo.db"
    with site_env(site_home):
        engine = ensure_demo_db(f"sqlite:///{path}", actor="test")
    accept_replayed_dates(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def small_template(tmp_path_factory, site_home) -> Path:
    """One small test facility (27 bays) built per test run; SQLite tests copy it."""
    path = tmp_path_factory.mktemp("templates") / "small.db"
    with site_env(site_home):
        make_small_facility(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def demo_db(demo_template, tmp_path) -> str:
    """A fresh copy of the demo database for this test: its URL."""
    return copy_database(demo_template, tmp_path / "demo.db")


@pytest.fixture
def cli(tmp_path, demo_template):
    """The CLI (:class:`tests.cli_support.Attendant`) on a fresh copy of the demo database."""
    from tests.cli_support import Attendant

    runner = Attendant(tmp_path)
    runner.db = copy_database(demo_template, tmp_path / "cli.db")
    return runner


@pytest.fixture(scope="module")
def us_reader():
    """The local plate reader with the ``us`` region, models loaded (skips when rapidocr is not installed)."""
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    from hardware.plate_reader import PlateReader

    reader = PlateReader(region="us")
    reader.load()
    return reader
