"""Bays out of service (BRIEF feature 8), through the services and the CLI, on SQLite and PostgreSQL.

Assertions are on rows (the spot's status, the audit log), on what the
allocation does afterwards, and on what another booth sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from attendant import cli
from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import InputError, Refused
from attendant.core.services import ParkingService
from attendant.core.vocab import SpotStatus
from db.models import AuditEvent, Spot

S, AUD = Spot.__table__, AuditEvent.__table__
REPO = Path(__file__).resolve().parents[1]
SUE = Actor("sue", Role.SUPERVISOR)


def status_of(engine, label: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(S.c.status).where(S.c.label == label)).scalar_one()


def test_a_bay_out_of_service_is_never_allocated_and_every_booth_sees_it(service, small_engine, clock):
    nearest = service.enter("FIRST1", "car", actor="t").spot_label  # where the next car would go, once free
    service.clock.now = clock.now
    free_before = service.availability()
    with pytest.raises(Refused, match="only a free bay"):
        service.set_spot_in_service(nearest, False, actor=SUE, reason="spill")  # occupied: refused
    other = "L0-A04"
    assert service.set_spot_in_service(other, False, actor=SUE, reason="oil spill") is SpotStatus.OUT_OF_SERVICE
    assert status_of(small_engine, other) == "out_of_service"
    assert sum(level.available for level in service.availability()) == sum(
        level.available for level in free_before) - 1
    with pytest.raises(Refused, match="out of service"):
        service.enter("PICKME", "car", actor="t", spot_label=other)
    taken = {service.enter(f"CAR{n:03d}", "car", actor="t").spot_label for n in range(12)}
    assert other not in taken  # the nearest free regular bays are used, never the coned-off one

    booth_b = ParkingService(small_engine, service.signer, clock=clock)  # another console on the same database
    assert booth_b.spot_statuses()[service._cache.index.spot_by_label(other).id] is SpotStatus.OUT_OF_SERVICE

    assert service.set_spot_in_service(other, True, actor=SUE) is SpotStatus.AVAILABLE
    assert status_of(small_engine, other) == "available"
    booth_b.refresh()
    assert booth_b.enter("BACKIN", "car", actor="t", spot_label=other).spot_label == other
    with small_engine.connect() as conn:
        events = conn.execute(select(AUD.c.action, AUD.c.actor, AUD.c.details).where(AUD.c.entity == "spot")
                              .order_by(AUD.c.id)).all()
    assert [(e.action, e.actor, e.details["reason"]) for e in events] == [
        ("spot.out_of_service", "sue", "oil spill"), ("spot.in_service", "sue", None)]


def test_refusals_change_nothing(service, small_engine):
    with pytest.raises(PermissionDenied, match="supervisor"):
        service.set_spot_in_service("L0-A05", False, actor="attendant-script", reason="x")
    with pytest.raises(InputError, match="needs a reason"):
        service.set_spot_in_service("L0-A05", False, actor=SUE, reason="  ")
    with pytest.raises(InputError, match="no spot labelled"):
        service.set_spot_in_service("ZZ-99", False, actor=SUE, reason="x")
    with pytest.raises(Refused, match="not out of service"):
        service.set_spot_in_service("L0-A05", True, actor=SUE)
    assert status_of(small_engine, "L0-A05") == "available"
    with small_engine.connect() as conn:
        assert conn.execute(select(AUD.c.id).where(AUD.c.entity == "spot")).all() == []


def test_spot_out_and_in_from_the_cli(db_url, small_engine):
    def run(*args, user=None, pin=None, expect=0):
        login = ["--user", user, "--pin", pin] if user else []
        result = CliRunner().invoke(cli.app, ["--db", db_url, *login, *args])
        assert result.exit_code == expect, result.stderr or result.stdout
        return result

    run("user", "add", "admin", "--role", "admin", "--pin", "999999")
    run("user", "add", "sue", "--role", "supervisor", "--pin", "222222", user="admin", pin="999999")
    run("user", "add", "al", "--role", "attendant", "--pin", "111111", user="admin", pin="999999")
    # a refusal is one line on stderr, exit 2, nothing changed
    refused = run("spot", "out", "L1-A02", "--reason", "cones", user="al", pin="111111", expect=2)
    assert refused.stderr.count("\n") == 1 and "needs a supervisor" in refused.stderr
    assert "Traceback" not in refused.stderr and status_of(small_engine, "L1-A02") == "available"
    out = json.loads(run("spot", "out", "l1-a02", "--reason", "cones", "--json", user="sue", pin="222222").stdout)
    assert out == {"spot": "L1-A02", "status": "out_of_service", "reason": "cones"}
    assert status_of(small_engine, "L1-A02") == "out_of_service"
    assert "Bay L1-A02 is now available" in run("spot", "in", "L1-A02", user="sue", pin="222222").stdout
    missing = run("spot", "out", "L1-A02", user="sue", pin="222222", expect=2)  # no --reason
    assert "reason" in (missing.stderr or missing.stdout).lower()
