"""The booths benchmark (benchmarks/bench_booths.py): two booth processes on one database, and its checks.

A few vehicles each, so the run stays within seconds; what is asserted is the
integrity verdict and the shape of the ``--json`` document, and that the
integrity check does see a broken database (a bay occupied without a session,
an entry the booth was told of that is not there).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from attendant.core.tickets import TicketSigner
from tests.conftest import PG_URL, REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # spawned booths import the module by this name
bench = importlib.import_module("bench_booths")

FIGURES = {"entries_per_s", "exits_per_s", "p95_ms", "integrity"}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_booths_leave_a_sound_database(backend, tmp_path, request):
    if backend == "postgresql":
        reason = request.getfixturevalue("pg_skip_reason")
        if reason:
            pytest.skip(reason)
    results = bench.run([backend], [2], 3, 1, tmp_path, pg_url=PG_URL)
    document = bench.as_json(results)
    assert json.loads(json.dumps(document)) == document
    assert list(document) == [backend]
    assert list(document[backend]) == ["2"]
    row = document[backend]["2"]
    assert set(row) == FIGURES
    assert row["integrity"] == "ok"
    assert row["entries_per_s"] > 0 and row["exits_per_s"] > 0 and row["p95_ms"] > 0


def test_integrity_check_sees_a_broken_database(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENDANT_HOME", str(tmp_path / "home"))
    with bench.fresh_database("sqlite", tmp_path) as url:
        figures = bench.run_booths(url, 1, 2, tmp_path / "home", warmup=0)
        assert figures["integrity"] == "ok"
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, ticket_no, status FROM parking_session ORDER BY id")).all()
        assert [r.status for r in rows] == ["closed", "closed"]
        signer = TicketSigner.from_site()  # the stored codes are hashes: sign the tickets again
        entries = [{"session_id": r.id, "code": signer.sign("CHS", r.ticket_no), "plate": "?",
                    "spot": None} for r in rows]
        # what the booth was told of must match the rows: a wrong bay is reported
        assert bench.check_integrity(url, entries, []).startswith(f"entry {entries[0]['code']}: the database holds")
        # a bay marked occupied with no open session
        with engine.begin() as conn:
            conn.execute(text("UPDATE spot SET status = 'occupied' WHERE id = (SELECT min(id) FROM spot)"))
        assert "1 bays occupied but 0 open sessions" in bench.check_integrity(url, [], [])
        with engine.begin() as conn:
            conn.execute(text("UPDATE spot SET status = 'available'"))
        # sessions in the database that no booth was told of
        assert bench.check_integrity(url, [], []) == f"2 sessions no booth was told of (first ticket {rows[0].ticket_no})"
        # an acknowledged entry that is not in the database
        ghost = {"session_id": 999, "code": "CHS-99999999-X", "plate": "GHOST", "spot": "L0-R001"}
        assert (bench.check_integrity(url, [ghost], [])
                == "acknowledged entry CHS-99999999-X (GHOST) is not in the database")
        engine.dispose()


def test_command_line_refuses_more_vehicles_than_bays():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_booths.py"), "--booths", "8",
                          "--vehicles", "200"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "more than the demo's 970 bays a car may take" in out.stderr
