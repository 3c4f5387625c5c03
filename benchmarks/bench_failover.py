"""How long a booth is without its database when the primary dies and the standby is promoted.

Usage: ``python benchmarks/bench_failover.py [--rounds R] [--json FILE]``

Each round builds the two-server site of ``docs/failover.md`` from two
throw-away clusters on 127.0.0.1 (``tests/pg_site.py``: a primary and its
synchronous hot standby, the PostgreSQL server binaries of this machine),
creates the demo facility through the booths' URL naming both servers
(``target_session_attrs=read-write``), and runs one booth
(:func:`attendant.booth.open_booth`, stand-in devices) in a thread, entering
and letting out vehicles without pause (``tests.pg_site.Traffic``: a failed
operation is followed by the next one 50 ms later). Then, timed with
``time.monotonic``:

- **failover**: ``pg_ctl stop -m immediate`` on the primary, at once
  ``pg_ctl promote`` on the standby; figures: from the kill to the
  acknowledgement of the booth's first operation begun after the primary was
  gone (``pg_ctl stop`` returned), promotion (``pg_ctl promote -w`` returning),
  promotion done to the first acknowledged operation, operations failed;
- **baseline, same run, same booth**: the new primary (now alone) crashes
  and restarts in place (``pg_ctl stop -m immediate`` then ``pg_ctl start``,
  crash recovery included): kill to the first acknowledged operation. This
  is what a one-server site costs its booths for a crash that a restart
  mends; the failover is meant to cost no more.

After each round, every acknowledged entry and exit is checked on the new
primary ("integrity": "ok" or the first problem). Medians over the rounds are
printed; ``--json FILE`` writes ``{"failover": {...}, "restart": {...},
"rounds": R}`` (seconds). A measurement: exits 0 whatever the figures, 2 when
no site can be built here (it says why).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _first_ok_after(traffic, moment: float, timeout: float = 60) -> float:
    """When the first operation begun at ``moment`` or later was acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [a.ended for a in list(traffic.attempts) if a.error is None and a.started >= moment]
        if done:
            return min(done)
        time.sleep(0.005)
    raise RuntimeError(f"the booth never succeeded again: {traffic.summary()}")


def _integrity(site, traffic) -> str:
    from sqlalchemy import text

    from db.engine import make_engine

    engine = make_engine(site.server_url("b"), migrate=False)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, code, status, amount_paid FROM parking_session"))
            sessions = {r.id: r for r in rows}
            counts = conn.execute(text(
                "SELECT count(*), count(DISTINCT spot_id) FROM parking_session WHERE status = 'open'")).one()
            occupied = conn.execute(text("SELECT count(*) FROM spot WHERE status = 'occupied'")).scalar_one()
    finally:
        engine.dispose()
    from attendant.core.personal_data import site_data

    pd = site_data()  # the code column holds the code's keyed hash (attendant/core/personal_data.py)
    for sid, (_no, code) in traffic.entries.items():
        if sid not in sessions or sessions[sid].code != pd.code_hash(code):
            return f"acknowledged entry {sid} missing"
    for sid, result in traffic.exits.items():
        if sessions[sid].status != "closed" or sessions[sid].amount_paid != result.paid:
            return f"acknowledged exit {sid} missing"
    if not counts[0] == counts[1] == occupied:
        return f"{counts[0]} open sessions on {counts[1]} bays, {occupied} bays occupied"
    return "ok"


def one_round() -> dict:
    from attendant.booth.wiring import open_booth
    from attendant.core.auth import Actor, Role
    from attendant.core.facilities import create_facility
    from attendant.core.layout import load_layout
    from attendant.demo import demo_layout_path
    from db.engine import make_engine
    from hardware.config import default_config
    from tests.pg_site import ACTOR, PgSite, Traffic

    site = PgSite()
    try:
        site.start()
        engine = make_engine(site.url())
        create_facility(engine, load_layout(demo_layout_path()), actor=Actor(ACTOR, Role.ADMIN))
        booth = open_booth(engine, default_config(), offline=False)  # the failover alone, no journal
        traffic = Traffic(booth)
        runner = threading.Thread(target=traffic.run, daemon=True)
        runner.start()
        try:
            traffic.wait_for(lambda: len(traffic.exits) >= 5, 30, "traffic")
            killed = time.monotonic()
            site.kill_primary("a")
            promoting = time.monotonic()  # the primary is gone: operations begun from now on cannot use it
            site.promote_standby("b")
            promoted = time.monotonic()
            first = _first_ok_after(traffic, promoting)
            failed = sum(1 for a in traffic.attempts if a.error is not None)
            ok_after_promotion = _first_ok_after(traffic, promoted)

            time.sleep(0.3)  # traffic on the new primary, then the baseline: a crash and restart in place
            crashed = time.monotonic()
            site.kill_primary("b")
            restarting = time.monotonic()
            site.start_server("b", wait_sync=False)
            restarted = time.monotonic()
            back = _first_ok_after(traffic, restarting)
        finally:
            traffic.stop.set()
            runner.join(30)
            booth.close()
            engine.dispose()
        integrity = _integrity(site, traffic)
    finally:
        site.close()
    return {
        "failover": {
            "kill_to_first_ok_s": first - killed,
            "promotion_s": promoted - promoting,
            "promoted_to_first_ok_s": ok_after_promotion - promoted,
            "failed_operations": failed,
        },
        "restart": {"kill_to_first_ok_s": back - crashed, "restart_s": restarted - crashed},
        "integrity": integrity,
        "operations": len(traffic.attempts),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from tests.pg_site import missing_reason

    if reason := missing_reason():
        print(f"cannot build a replicated site here: {reason}", file=sys.stderr)
        return 2
    os.environ["ATTENDANT_HOME"] = tempfile.mkdtemp(prefix="bench-failover-home-")
    os.environ.pop("ATTENDANT_DB", None)
    from attendant.keyfiles import ensure_site_secrets

    ensure_site_secrets()  # the site's ticket and personal-data keys, as `attendant init` makes them
    rounds = []
    for n in range(args.rounds):
        result = one_round()
        rounds.append(result)
        f, r = result["failover"], result["restart"]
        print(f"round {n + 1}: failover kill->first ok {f['kill_to_first_ok_s']:.3f} s "
              f"(promotion {f['promotion_s']:.3f} s, promoted->first ok {f['promoted_to_first_ok_s']:.3f} s, "
              f"{f['failed_operations']} failed); restart in place kill->first ok {r['kill_to_first_ok_s']:.3f} s "
              f"(restart {r['restart_s']:.3f} s); "
              f"{result['operations']} operations; integrity {result['integrity']}")

    def median(part: str, key: str) -> float:
        return statistics.median(r[part][key] for r in rounds)

    document = {
        "failover": {key: median("failover", key) for key in rounds[0]["failover"]},
        "restart": {key: median("restart", key) for key in rounds[0]["restart"]},
        "integrity": next((r["integrity"] for r in rounds if r["integrity"] != "ok"), "ok"),
        "rounds": len(rounds),
    }
    f, r = document["failover"], document["restart"]
    print(f"median of {len(rounds)}: failover (kill primary, promote standby) -> first acknowledged operation "
          f"{f['kill_to_first_ok_s']:.3f} s (promotion {f['promotion_s']:.3f} s, promoted -> first ok "
          f"{f['promoted_to_first_ok_s']:.3f} s); baseline, crash and restart of one server in place: "
          f"{r['kill_to_first_ok_s']:.3f} s (the restart itself {r['restart_s']:.3f} s); "
          f"ratio {f['kill_to_first_ok_s'] / r['kill_to_first_ok_s']:.2f}; "
          f"integrity {document['integrity']}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
