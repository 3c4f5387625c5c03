"""The audit log proves itself (issue 9 item 4), on SQLite and PostgreSQL.

Real traffic through the services (entries, a cash exit of £9.60, a card exit,
an IOU, a refund, shifts and users), then tampering by plain SQL, as the red
team did: an actor changed, an exit's event deleted, a payment lowered from
960 to 10, a user made admin, two events swapped, an event forged. Each is
caught by ``verify`` with the right first broken link; untouched, the chain
and the money hold. Concurrent booths on PostgreSQL (and SQLite) keep one
valid chain. The CLI exits 4 on a broken chain and names the link.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from attendant.core import audit, shifts, users
from attendant.core.audit_verify import verify
from attendant.core.payments import ProcessorRegistry, StandInProcessor
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.core.vocab import PaymentMethod
from db.models import AuditChainHead, AuditEvent, ParkingSession, Payment

AUD, HEAD, PS, PAY = AuditEvent.__table__, AuditChainHead.__table__, ParkingSession.__table__, Payment.__table__
SECRET = b"s" * 32


def _service(engine, clock):
    registry = ProcessorRegistry({PaymentMethod.CARD: StandInProcessor(PaymentMethod.CARD)}, retries=2)
    return ParkingService(engine, TicketSigner(SECRET), clock=clock, processors=registry)


@pytest.fixture
def traffic(small_engine, clock):
    """Traffic by logged-in staff on their shifts: returns ids the tests tamper with."""
    svc = _service(small_engine, clock)
    admin = users.create_user(small_engine, users.setup_actor(small_engine), "root", "Root", "admin", "999999",
                              now=clock()).actor()
    users.create_user(small_engine, admin, "bob", "Bob", "attendant", "333333", now=clock())
    users.create_user(small_engine, admin, "sue", "Sue", "supervisor", "222222", now=clock())
    bob = users.authenticate(small_engine, "bob", "333333", now=clock())
    sue = users.authenticate(small_engine, "sue", "222222", now=clock())
    fid = svc.facility.id
    shifts.open_shift(small_engine, fid, bob, 5000, at=clock())
    shifts.open_shift(small_engine, fid, sue, 0, at=clock())
    first = svc.enter("AB12CDE", "car", actor=bob, lane="E1", vend=True)
    second = svc.enter("CD34EFG", "car", actor=bob, lane="E1", vend=True)
    third = svc.enter("EF56GHI", "van", actor=bob, lane="E1")
    clock.now += timedelta(hours=3, minutes=30)
    cash = svc.exit(first.code, method="cash", tendered=2000, actor=bob, lane="X1", vend=True)
    card = svc.exit(second.code, method="card", actor=bob, lane="X1", vend=True)
    svc.let_go(third.code, actor=bob, reason="no money", lane="X1", vend=True)
    svc.refund(card.payment_id, actor=sue, reason="double parked", amount=100)
    clock.now += timedelta(minutes=5)
    svc.enter("GH78IJK", "car", actor=bob, lane="E1")  # an event after the exits
    return {"svc": svc, "cash": cash, "card": card, "bob": bob, "sue": sue, "fid": fid}


def _event(engine, action, which=0):
    with engine.connect() as conn:
        return conn.execute(select(AUD.c.id, AUD.c.entity_id).where(AUD.c.action == action)
                            .order_by(AUD.c.id)).all()[which]


def _sql(engine, statement, **params):
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_real_traffic_leaves_a_valid_chain_and_the_money_adds_up(small_engine, traffic):
    result = verify(small_engine)
    assert result.ok, result.problems
    assert traffic["cash"].paid == 960  # the £9.60 the red team lowered
    with small_engine.connect() as conn:
        events = conn.execute(select(AUD).order_by(AUD.c.id)).all()
        head = conn.execute(select(HEAD).where(HEAD.c.id == 1)).one()
    assert {e.chain for e in events} == {1}  # one writer at a time: everything in chain 1
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.prev_hash == p.hash for p, e in zip(events, events[1:]))
    assert (head.seq, head.event_id, head.hash) == (events[-1].seq, events[-1].id, events[-1].hash)
    assert result.events == len(events) and result.rows_checked > 10
    # the exit seals its session, its payment and its gate opening; no personal field is sealed
    exit_event = next(e for e in events if e.action == "session.exit" and e.entity_id == traffic["cash"].session_id)
    assert exit_event.rows["payment"][str(traffic["cash"].payment_id)]["amount"] == 960
    assert exit_event.rows["parking_session"][str(traffic["cash"].session_id)]["status"] == "closed"
    assert [v["direction"] for v in exit_event.rows["vend"].values()] == ["entry", "exit"]
    sealed = repr([e.rows for e in events])
    assert "AB12CDE" not in sealed and "plate" not in sealed and "code" not in sealed


def test_erasing_personal_data_keeps_the_chain(small_engine, traffic):
    """The retention rule erases plates (and encryption rewrites them): neither is in what is hashed."""
    _sql(small_engine, "UPDATE parking_session SET plate = NULL")
    with small_engine.connect() as conn:
        rows = conn.execute(select(AUD.c.id, AUD.c.details).where(AUD.c.action == "session.enter")).all()
    with small_engine.begin() as conn:
        for rid, details in rows:
            conn.execute(AUD.update().where(AUD.c.id == rid).values(details={**details, "plate": "ERASED"}))
    assert verify(small_engine).ok


def test_an_actor_changed_by_sql_breaks_that_event(small_engine, traffic):
    eid, _ = _event(small_engine, "session.enter")
    _sql(small_engine, "UPDATE audit_event SET actor = 'boss' WHERE id = :i", i=eid)
    result = verify(small_engine)
    assert not result.ok
    assert (result.first.kind, result.first.event_id) == ("content", eid)
    assert "session.enter by boss" in result.first.message and "changed after it was recorded" in result.first.message


def test_a_deleted_exit_event_breaks_the_link_after_it(small_engine, traffic):
    eid, _ = _event(small_engine, "session.exit")
    with small_engine.connect() as conn:
        after = conn.execute(select(AUD.c.id).where(AUD.c.id > eid).order_by(AUD.c.id).limit(1)).scalar_one()
    _sql(small_engine, "DELETE FROM audit_event WHERE id = :i", i=eid)
    result = verify(small_engine)
    assert (result.first.kind, result.first.event_id) == ("link", after)
    assert "1 event deleted" in result.first.message


def test_the_newest_events_deleted_are_caught_by_the_head(small_engine, traffic):
    with small_engine.connect() as conn:
        last = conn.execute(select(AUD.c.id).order_by(AUD.c.id.desc()).limit(1)).scalar_one()
    _sql(small_engine, "DELETE FROM audit_event WHERE id = :i", i=last)
    result = verify(small_engine)
    assert result.first.kind == "head" and "newest events were deleted" in result.first.message


def test_a_payment_lowered_from_960_to_10_is_named_with_its_event(small_engine, traffic):
    pid = traffic["cash"].payment_id
    _sql(small_engine, "UPDATE payment SET amount = 10 WHERE id = :i", i=pid)
    result = verify(small_engine)
    assert not result.ok
    first = result.first
    assert first.kind == "row" and f"payment {pid} " in first.message
    assert "amount is 10, recorded 960" in first.message
    with small_engine.connect() as conn:  # the event named is the last one that sealed that payment
        sealers = [i for i, rows in conn.execute(select(AUD.c.id, AUD.c.rows).order_by(AUD.c.id))
                   if str(pid) in (rows or {}).get("payment", {})]
    assert first.event_id == sealers[-1]
    assert any(p.kind == "money" and "payments sum to 10, the session says 960 paid" in p.message
               for p in result.problems)


def test_a_user_made_admin_is_named(small_engine, traffic):
    _sql(small_engine, "UPDATE app_user SET role = 'admin' WHERE username = 'bob'")
    result = verify(small_engine)
    first = result.first
    assert first.kind == "row" and "user" in first.message and "(bob)" in first.message
    assert "role is 'admin', recorded 'attendant'" in first.message
    created = _event(small_engine, "user.create", 1)[0]  # bob was the second user created
    assert first.event_id >= created


def test_two_events_swapped_are_reordered(small_engine, traffic):
    a, _ = _event(small_engine, "session.enter", 0)
    b, _ = _event(small_engine, "session.enter", 1)
    with small_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET id = -1 WHERE id = :a"), {"a": a})
        conn.execute(text("UPDATE audit_event SET id = :a WHERE id = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE audit_event SET id = :b WHERE id = -1"), {"b": b})
    result = verify(small_engine)
    assert (result.first.kind, result.first.event_id) == ("link", a)
    assert "reordered" in result.first.message or "deleted" in result.first.message


def test_an_event_inserted_by_sql_is_outside_the_chain(small_engine, traffic):
    _sql(small_engine, "INSERT INTO audit_event (facility_id, at, effective_at, actor, action, entity, entity_id) "
                       "VALUES (1, '2026-11-20 10:00:00', '2026-11-20 10:00:00', 'bob', 'session.exit', "
                       "'parking_session', 1)")
    result = verify(small_engine)
    assert result.first.kind == "unchained" and "outside the application" in result.first.message


def test_a_session_edited_by_sql_is_named(small_engine, traffic):
    sid = traffic["cash"].session_id
    _sql(small_engine, "UPDATE parking_session SET amount_due = 0, amount_paid = 0 WHERE id = :i", i=sid)
    result = verify(small_engine)
    assert result.first.kind == "row" and f"parking session {sid}" in result.first.message
    assert "amount_due is 0, recorded 960" in result.first.message


def test_a_head_written_down_catches_a_rewritten_chain(small_engine, traffic, clock):
    """Someone who rewrites every hash after an edit passes the chain checks, not the head held outside."""
    written = audit.short_head(small_engine)
    assert verify(small_engine, expect_head=written).ok
    eid, _ = _event(small_engine, "session.enter")
    with small_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'boss' WHERE id = :i"), {"i": eid})
        prev = audit.GENESIS
        last = None
        for row in conn.execute(select(AUD).order_by(AUD.c.id)).all():
            ev = dict(row._mapping) | {"prev_hash": prev}
            prev = audit.event_hash(ev)
            conn.execute(AUD.update().where(AUD.c.id == row.id).values(prev_hash=ev["prev_hash"], hash=prev))
            last = row
        conn.execute(HEAD.update().where(HEAD.c.id == 1).values(hash=prev, event_id=last.id, seq=last.seq))
    assert verify(small_engine).ok  # a perfect forgery inside the database...
    caught = verify(small_engine, expect_head=written)  # ...but not against the head printed on a shift report
    assert caught.first.kind == "head" and "rewritten" in caught.first.message


def test_the_shift_report_prints_the_chain_head(small_engine, traffic, clock):
    clock.now += timedelta(minutes=1)
    report = shifts.close_shift(small_engine, traffic["fid"], traffic["sue"], cash_count={}, at=clock())
    with small_engine.connect() as conn:
        seq, event_id, digest = audit.chain_head(conn)
        close_id = conn.execute(select(AUD.c.id).where(AUD.c.action == "shift.close")).scalar_one()
    assert event_id == close_id  # the head after the close itself
    assert report.audit_head == f"#{event_id} {digest[:16]}"
    assert any(line.startswith("Audit head") and line.endswith(report.audit_head) for line in report.lines())
    assert report.to_json_dict()["audit_head"] == report.audit_head
    assert verify(small_engine, expect_head=report.audit_head).ok
    traffic["svc"].enter("ZZ99ZZZ", "car", actor=traffic["bob"])  # the chain moves on...
    again = shifts.shift_report(small_engine, report.shift_id)
    assert again.audit_head == report.audit_head  # ...a closed shift's reprint names the same head
    still_open = shifts.shift_report(small_engine, shifts.current_shift(small_engine, traffic["fid"],
                                                                         traffic["bob"].user_id).id)
    assert still_open.audit_head == audit.short_head(small_engine)  # an open shift's report: the head now


def test_a_rolled_back_transaction_chains_nothing(small_engine, traffic):
    before = audit.short_head(small_engine)
    with pytest.raises(RuntimeError):
        with small_engine.begin() as conn:
            audit.record(conn, facility_id=None, actor="x", action="test.nothing", entity="x", entity_id=None,
                         details=None)
            raise RuntimeError("rolled back")
    with small_engine.begin() as conn:  # the next transaction on that pooled connection commits nothing stale
        conn.execute(text("SELECT 1"))
    assert audit.short_head(small_engine) == before
    assert verify(small_engine).ok


def _booth_traffic(url, clock_start, booth: int, n: int, errors: list) -> None:
    from attendant.core.clock import utc_now  # noqa: F401 - the services' clock in real time
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        svc = ParkingService(engine, TicketSigner(SECRET))
        codes = [svc.enter(f"B{booth}X{i:03d}", "motorcycle" if i % 2 else "car", actor=f"booth{booth}",
                           lane=f"E{booth}").code for i in range(n)]
        for code in codes:
            svc.exit(code, method="cash", tendered=100_000, actor=f"booth{booth}", lane=f"X{booth}")
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))
    finally:
        engine.dispose()


@pytest.mark.parametrize("booths", [4])
def test_concurrent_booths_keep_one_valid_chain(small_engine, db_url, booths):
    url = db_url
    errors: list[str] = []
    threads = [threading.Thread(target=_booth_traffic, args=(url, None, b, 5, errors)) for b in range(booths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    result = verify(small_engine)
    assert result.ok, result.problems
    with small_engine.connect() as conn:
        actions = conn.execute(select(AUD.c.action, AUD.c.seq).order_by(AUD.c.id)).all()
        chains = conn.execute(select(AUD.c.chain, AUD.c.seq).order_by(AUD.c.id)).all()
    assert sum(a == "session.enter" for a, _ in actions) == 4 * 5
    for chain in {c for c, _ in chains}:  # booths chain side by side (0017): each chain counts 1, 2, ... in id order
        places = [s for c, s in chains if c == chain]
        assert places == list(range(1, len(places) + 1))


def test_a_booth_chains_beside_a_held_chain_and_a_shift_close_witnesses_it(small_engine, traffic, clock):
    """PostgreSQL: a writer never queues behind another's head (SKIP LOCKED takes the next chain), and a
    shift close records every chain's head, so cutting another chain's newest events is caught."""
    if small_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: every event is in chain 1")
    svc = traffic["svc"]
    done: list = []
    with small_engine.connect() as holder:
        holder.execute(text("SELECT id FROM audit_chain_head WHERE id = 1 FOR UPDATE"))  # a booth mid-commit
        worker = threading.Thread(target=lambda: done.append(svc.enter("JK90LMN", "car", actor=traffic["bob"],
                                                                       lane="E2")))
        worker.start()
        worker.join(timeout=20)
        assert done, "the entry waited for the held chain head"
        holder.rollback()
    entered = done[0]
    with small_engine.connect() as conn:
        chain, seq = conn.execute(select(AUD.c.chain, AUD.c.seq).where(
            AUD.c.action == "session.enter", AUD.c.entity_id == entered.session_id)).one()
    assert (chain, seq) == (2, 1)
    assert verify(small_engine).ok
    clock.now += timedelta(minutes=1)
    report = shifts.close_shift(small_engine, traffic["fid"], traffic["sue"], cash_count={}, at=clock())
    with small_engine.connect() as conn:
        witness = conn.execute(select(AUD.c.chain, AUD.c.details).where(AUD.c.action == "shift.close")).one()
    assert witness.chain == 1 and witness.details["chain_heads"]["2"][0] == 1
    assert verify(small_engine, expect_head=report.audit_head).ok
    # cut chain 2's newest event and make its head row agree: only the witness can tell
    _sql(small_engine, "DELETE FROM audit_event WHERE chain = 2")
    _sql(small_engine, "UPDATE audit_chain_head SET seq = 0, event_id = NULL, hash = :g WHERE id = 2",
         g=audit.GENESIS)
    caught = verify(small_engine)
    assert any(p.kind == "head" and "chain 2 at place 1" in p.message and "no longer there" in p.message
               for p in caught.problems), caught.problems


def test_existing_events_are_chained_by_the_migration(db_url, clock):
    """A database at 0010 with events upgrades: its events chained in id order, verify holds."""
    from alembic import command

    from db.engine import alembic_config, make_engine
    from tests.conftest import make_small_facility

    engine = make_engine(db_url, migrate=False)
    command.upgrade(alembic_config(engine), "0010_bay_claims")
    engine.dispose()
    raw = create_engine(db_url.replace("postgresql+psycopg", "postgresql+psycopg"))
    with raw.begin() as conn:
        conn.execute(text(
            "INSERT INTO facility (code, name, timezone, currency, capacity, next_ticket_no, revision, "
            "allocation_strategy, created_at) VALUES ('OLD', 'Old', 'UTC', 'GBP', 0, 0, 0, 'nearest', "
            "'2026-01-01 00:00:00')"))
        for i in range(3):
            conn.execute(text(
                "INSERT INTO audit_event (facility_id, at, effective_at, actor, action, entity, entity_id, details) "
                "VALUES (1, :at, :at, 'old', 'facility.create', 'facility', 1, :d)"),
                {"at": f"2026-01-01 00:0{i}:00", "d": '{"n": %d}' % i})
    raw.dispose()
    engine = make_engine(db_url)  # migrates to head: chains the three
    with engine.connect() as conn:
        rows = conn.execute(select(AUD.c.id, AUD.c.seq, AUD.c.hash).order_by(AUD.c.id)).all()
    assert [r.seq for r in rows] == [1, 2, 3] and all(r.hash for r in rows)
    assert verify(engine).ok
    del make_small_facility
    engine.dispose()


def test_cli_verify_and_show(cli):
    """``audit verify`` exits 0 then 3 naming the first broken link; ``audit show`` filters, UTC in JSON."""
    back = ("--allow-backdate", "a test day")
    entered = cli.json("enter", "AU1 DIT", "--at", "2026-11-20T08:00", *back)
    cli.json("exit", entered["code"], "--pay", "cash", "--tendered", "20", "--at", "2026-11-20T11:30", *back)
    ok = cli.run("audit", "verify")
    assert "OK: every link holds" in ok.stdout and "head #" in ok.stdout
    report = cli.json("audit", "verify")
    assert report["ok"] is True and report["first_broken"] is None
    shown = cli.json("audit", "show", "--action", "session.*")
    assert [e["action"] for e in shown][-2:] == ["session.enter", "session.exit"]
    assert shown[-1]["at"].endswith("+00:00") and shown[-1]["effective_at"] == "2026-11-20T11:30:00+00:00"
    assert cli.json("audit", "show", "--actor", "nobody") == []
    later = cli.json("audit", "show", "--since", "2098-01-01T00:00")
    assert later == []
    mine = cli.json("audit", "show", "--actor", shown[-1]["actor"], "--since", "2026-01-01T00:00Z")
    assert {e["actor"] for e in mine} == {shown[-1]["actor"]} and len(mine) >= 2
    text_out = cli.run("audit", "show", "--action", "session.exit").stdout
    assert "(for 2026-11-20 11:30 GMT)" in text_out and "session.exit parking_session" in text_out
    import sqlite3

    path = cli.db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        pid, eid = conn.execute("SELECT p.id, max(a.id) FROM payment p, audit_event a WHERE a.action = "
                                "'session.exit'").fetchone()
        conn.execute("UPDATE payment SET amount = 10 WHERE id = ?", (pid,))
    broken = cli.run("audit", "verify", expect=4)
    assert f"first broken link at event {eid}" in broken.stdout and "amount is 10, recorded" in broken.stdout
    data = json.loads(cli.run("audit", "verify", "--json", expect=4).stdout)
    assert data["ok"] is False and data["first_broken"]["event_id"] == eid


@pytest.mark.postgres
def test_a_connection_lost_mid_transaction_fails_as_itself(pg_url):
    """The server going away inside a transaction raises the driver's error, not the chain's: the rollback
    of an invalidated connection leaves its queue alone (the failover tests' booth then reconnects)."""
    from sqlalchemy.exc import DBAPIError

    from db.engine import make_engine

    engine = make_engine(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    conn = engine.connect()
    try:
        with pytest.raises(DBAPIError):
            with conn.begin():
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                audit.record(conn, facility_id=None, actor="x", action="test.lost", entity="x", entity_id=None,
                             details=None)
                with admin.connect() as other:
                    other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                conn.execute(text("SELECT 1"))
        assert conn.invalidated
    finally:
        conn.close()
        admin.dispose()
    with engine.begin() as fresh:  # the next transaction works and chained nothing of the lost one
        assert fresh.execute(select(AUD.c.id).where(AUD.c.action == "test.lost")).first() is None
    engine.dispose()
