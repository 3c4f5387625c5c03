"""The failover benchmark (benchmarks/bench_failover.py): one round, its figures and its integrity verdict.

One round fails over from the primary to the standby and then crashes and
restarts the new primary in place, with a booth running throughout: what is
asserted is that the booth came back both times, that everything it was told
is in the database, and the shape of the figures (never their values).
"""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from tests import pg_site
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
bench = importlib.import_module("bench_failover")

pytestmark = pytest.mark.postgres


def test_one_round_fails_over_restarts_and_loses_nothing(attendant_home):
    if reason := pg_site.missing_reason():
        pytest.skip(f"cannot build a replicated PostgreSQL site: {reason}")
    result = bench.one_round()
    assert result["integrity"] == "ok"
    assert set(result["failover"]) == {"kill_to_first_ok_s", "promotion_s", "promoted_to_first_ok_s",
                                       "failed_operations"}
    assert set(result["restart"]) == {"kill_to_first_ok_s", "restart_s"}
    assert all(value > 0 for value in result["restart"].values())
    assert json.loads(json.dumps(result)) == result
