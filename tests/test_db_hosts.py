"""Database URLs naming several PostgreSQL servers, libpq timeouts, and "database unavailable".

The site itself (a primary and a standby, killed and promoted) is in
tests/test_failover.py; these run against the local server (``pg_url``) and
a port nothing listens on.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.engine import PG_CONNECT_DEFAULTS, connection_lost, make_engine, unavailable_reason
from tests import pg_site
from tests.cli_support import Attendant


def _multi_host(pg_url: str, dead_port: int) -> str:
    """``pg_url`` with a dead server named first: libpq's multi-host form, read-write wanted."""
    url = make_url(pg_url)
    base, _, query = pg_url.partition("?")
    user = url.username or ""
    user = f"{user}:{url.password}@" if url.password else (f"{user}@" if user else "")
    hosts = f"host=127.0.0.1:{dead_port}&host={url.host or '127.0.0.1'}:{url.port or 5432}"
    return f"{url.drivername}://{user}/{url.database}?{hosts}&target_session_attrs=read-write" + (
        f"&{query}" if query else "")


@pytest.mark.postgres
def test_a_url_naming_several_servers_reaches_the_one_that_takes_writes(pg_url, tmp_path):
    dead = pg_site.free_port()
    url = _multi_host(pg_url, dead)
    assert f"host=127.0.0.1:{dead}&host=" in url
    engine = make_engine(url)  # migrated through it
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT inet_server_port()")).scalar_one() == (make_url(pg_url).port or 5432)
            params = conn.connection.driver_connection.info.get_parameters()
        assert {k: params[k] for k in PG_CONNECT_DEFAULTS} == PG_CONNECT_DEFAULTS
    finally:
        engine.dispose()
    # The same URL from --db, in a real process: the CLI creates a facility and admits a vehicle.
    cli = Attendant(tmp_path, db=url)
    assert cli.json("init", "--demo")["created"] is True
    assert cli.json("enter", "MH12 OST")["spot"]


@pytest.mark.postgres
def test_the_urls_own_connection_settings_win_over_the_defaults(pg_url):
    engine = make_engine(f"{pg_url}&connect_timeout=9&keepalives_idle=30", migrate=False)
    try:
        with engine.connect() as conn:
            params = conn.connection.driver_connection.info.get_parameters()
    finally:
        engine.dispose()
    assert (params["connect_timeout"], params["keepalives_idle"], params["tcp_user_timeout"]) == ("9", "30", "10000")


@pytest.mark.postgres
def test_a_held_connection_the_server_closed_is_noticed_without_a_round_trip(pg_url):
    engine = make_engine(pg_url, migrate=False)
    try:
        held = engine.connect()
        held.rollback()
        assert not connection_lost(held)
        pid = held.connection.driver_connection.info.backend_pid
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        deadline = time.monotonic() + 5
        while not connection_lost(held):
            assert time.monotonic() < deadline, "a terminated connection still looks alive"
            time.sleep(0.02)
        held.invalidate()
        held.close()
    finally:
        engine.dispose()


def test_sqlite_connections_are_never_lost_and_its_errors_are_not_unavailability(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}", migrate=False)
    try:
        with engine.connect() as conn:
            assert not connection_lost(conn)
            with pytest.raises(Exception) as caught:
                conn.execute(text("SELECT * FROM no_such_table"))
        assert unavailable_reason(caught.value) is None
    finally:
        engine.dispose()


def test_no_server_answering_is_said_in_one_line_and_exit_3(tmp_path):
    """Nothing listens on the port: the CLI prints ``database unavailable`` with the server and why, no SQL,
    no traceback, and exits 3 (try again later), as it does during a failover."""
    dead = pg_site.free_port()
    cli = Attendant(tmp_path, db=f"postgresql+psycopg://postgres@127.0.0.1:{dead}/parking")
    ran = cli.run("status", expect=3, process=True)
    assert ran.stderr == (f"attendant: database unavailable: cannot connect: 127.0.0.1:{dead} Connection refused\n")
    assert ran.stdout == ""
    engine = make_engine(f"postgresql+psycopg://postgres@/parking?host=127.0.0.1:{dead}&host=127.0.0.1:{dead}",
                         migrate=False)
    with pytest.raises(Exception) as caught:
        engine.connect()
    assert unavailable_reason(caught.value) == f"cannot connect: 127.0.0.1:{dead} Connection refused"
