"""Accounts behind account payments (issue 10 item 7): rows in the database, refusals that write nothing,
statement figures. Runs on SQLite and PostgreSQL (the ``service`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from attendant.core.auth import Actor, PermissionDenied, Role
from attendant.core.errors import NotFound, Refused
from db.models import Account, AuditEvent, ParkingSession, Payment

ACC, PAY, PS, AUD = Account.__table__, Payment.__table__, ParkingSession.__table__, AuditEvent.__table__
SUE = Actor("sue", Role.SUPERVISOR)
ANN = Actor("ann", Role.ATTENDANT)


def counts(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (ACC, PAY, PS, AUD)) + (
            conn.execute(select(func.count()).select_from(PS).where(PS.c.status == "open")).scalar_one(),)


def stay(service, clock, plate: str, hours: float) -> str:
    """A vehicle inside for ``hours``: its ticket code (the clock moves on)."""
    code = service.enter(plate, "car", actor=ANN).code
    clock.now += timedelta(hours=hours)
    return code


def test_an_account_is_a_row_with_its_holder_sealed_and_an_audit_event(service, small_engine):
    view = service.add_account(" acme-1 ", "ACME Facilities Ltd", actor=SUE, credit_limit=5000)
    assert (view.reference, view.holder, view.credit_limit, view.status, view.balance) == (
        "ACME-1", "ACME Facilities Ltd", 5000, "open", 0)
    with small_engine.connect() as conn:
        row = conn.execute(select(ACC)).one()
        event = conn.execute(select(AUD).where(AUD.c.action == "account.add")).one()
    assert row.reference == "ACME-1" and row.credit_limit == 5000 and row.status == "open"
    assert "ACME" not in row.holder and service.data.open(row.holder) == "ACME Facilities Ltd"  # sealed at rest
    assert event.actor == "sue" and event.details == {"reference": "ACME-1", "credit_limit": 5000}
    with pytest.raises(Refused, match="already exists"):
        service.add_account("ACME-1", "Someone else", actor=SUE)


def test_attendants_may_not_manage_accounts(service, small_engine):
    before = counts(small_engine)
    with pytest.raises(PermissionDenied):
        service.add_account("ACME", "ACME Ltd", actor=ANN)
    service.add_account("ACME", "ACME Ltd", actor=SUE)
    with pytest.raises(PermissionDenied):
        service.close_account("ACME", "UNPAID", actor=ANN)
    assert service.account("ACME").status == "open"
    assert counts(small_engine)[0] == before[0] + 1


@pytest.mark.parametrize("case", ["unknown", "closed", "over limit"])
def test_a_refused_account_payment_writes_nothing(service, small_engine, clock, case):
    service.add_account("ACME", "ACME Ltd", actor=SUE, credit_limit=500)  # £5: a 3-hour stay is £7.20
    if case == "closed":
        service.close_account("ACME", "CONTRACT_ENDED: moved out", actor=SUE)
    code = stay(service, clock, "AC1 ONE", 3)
    before = counts(small_engine)
    said = {"unknown": "no account 'NOPE'", "closed": "account ACME is closed",
            "over limit": r"would go over its credit limit £5\.00: balance £0\.00, this charge £7\.20"}[case]
    with pytest.raises(NotFound if case == "unknown" else Refused, match=said):
        service.exit(code, method="account", reference="NOPE" if case == "unknown" else "acme", actor=ANN)
    assert counts(small_engine) == before  # no payment, no audit event, the session still open


def test_account_payments_within_the_limit_and_the_monthly_statement(service, small_engine, clock):
    service.add_account("ACME", "ACME Ltd", actor=SUE, credit_limit=2000)
    clock.now = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)  # 20:00 GMT, 31 Oct: still October in facility time
    october = service.exit(stay(service, clock, "AC1 OCT", 1), method="account", reference="acme", actor=ANN)
    clock.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    first = service.exit(stay(service, clock, "AC1 ONE", 2), method="account", reference="ACME", actor=ANN)
    second = service.exit(stay(service, clock, "AC1 TWO", 1), method="account", reference="Acme", actor=ANN)
    assert (october.paid, first.paid, second.paid) == (240, 480, 240)
    with small_engine.connect() as conn:
        refs = conn.execute(select(PAY.c.processor_ref, PAY.c.amount).order_by(PAY.c.id)).all()
    assert refs == [("ACME", 240), ("ACME", 480), ("ACME", 240)]
    # £9.60 charged of £20: a stay of £12 would pass the limit and is refused
    with pytest.raises(Refused, match=r"£9\.60, this charge £12\.00, £10\.40 left"):
        service.exit(stay(service, clock, "AC1 BIG", 5), method="account", reference="ACME", actor=ANN)
    service.refund(first.payment_id, actor=SUE, reason="double charge", amount=100)
    s = service.account_statement("acme", "2026-11")
    assert s.month == "2026-11" and s.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert [ln.amount for ln in s.lines] == [480, 240, -100]
    assert (s.opening, s.total, s.closing) == (240, 620, 860)
    assert s.account.credit_limit == 2000 and s.account.balance == 860
    october_statement = service.account_statement("ACME", "2026-10")
    assert [ln.amount for ln in october_statement.lines] == [240] and october_statement.closing == 240
    closed = service.close_account("ACME", "UNPAID", actor=SUE)
    assert closed.status == "closed" and closed.close_reason == "UNPAID" and closed.closed_by == "sue"


def test_the_account_commands(cli):
    """``attendant account``: add, pay with --account, list --json, statement json/csv, close; refusals exit 2."""
    import json

    added = cli.json("account", "add", "acme", "--holder", "ACME Ltd", "--limit", "20")
    assert added["reference"] == "ACME" and added["credit_limit"] == "20.00"
    cli.run("account", "add", "BAD REF", "--holder", "x", expect=2)
    cli.run("account", "add", "X2", "--holder", "x", "--limit", "10,00", expect=2)  # not an amount in GBP
    code = cli.json("enter", "AC2 CLI", "--at", "2026-11-20T08:00")["code"]
    refused = cli.run("exit", code, "--pay", "account", "--account", "NOPE", "--at", "2026-11-20T10:00", expect=2)
    assert "no account 'NOPE'" in refused.stderr
    done = cli.json("exit", code, "--pay", "account", "--account", "acme", "--at", "2026-11-20T10:00")
    assert done["paid"] == "4.80"
    (listed,) = cli.json("account", "list")
    assert listed["balance"] == "4.80" and listed["available"] == "15.20"
    statement = json.loads(cli.run("account", "statement", "ACME", "--month", "2026-11", "--format", "json").stdout)
    assert statement["total"] == "4.80" and statement["balance"] == "4.80" and statement["credit_limit"] == "20.00"
    assert [c["at"] for c in statement["charges"]] == ["2026-11-20T10:00:00+00:00"]
    csv_out = cli.run("account", "statement", "ACME", "--month", "2026-11", "--format", "csv").stdout
    assert csv_out.splitlines()[0] == "at,payment_id,ticket_no,lane,kind,amount,actor"
    assert csv_out.splitlines()[-1].startswith("total,") and csv_out.splitlines()[-1].endswith(",4.80,")
    cli.run("account", "statement", "ACME", "--month", "2026-13", expect=2)
    cli.run("account", "close", "ACME", "--reason", "whatever", expect=2)  # not a reason code
    assert cli.json("account", "close", "ACME", "--reason", "UNPAID")["status"] == "closed"


def _pay_by_account(url: str, code: str, home: str, out) -> None:
    """One booth process: its own engine and services, paying ``code`` by account ACME (wall clock)."""
    import os

    os.environ["ATTENDANT_HOME"] = home
    from attendant.core.errors import Refused as Refusal
    from attendant.core.services import ParkingService
    from attendant.core.tickets import TicketSigner
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        service = ParkingService(engine, TicketSigner.from_site())
        try:
            out.put(("paid", service.exit(code, method="account", reference="ACME", actor=ANN).paid))
        except Refusal as exc:
            out.put(("refused", str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        out.put(("failed", repr(exc)))
    finally:
        engine.dispose()


def test_booths_paying_by_one_account_at_once_never_pass_its_limit(service, small_engine, db_url, attendant_home):
    """Eight booth processes charge £4.80 each to an account with a £20.00 limit at the same moment: four are
    paid, four refused, and the rows hold exactly the four charges (PostgreSQL locks the account row; SQLite
    has one writer)."""
    import multiprocessing

    service.add_account("ACME", "ACME Ltd", actor=SUE, credit_limit=2000)
    now = datetime.now(UTC)
    service.clock = lambda: now - timedelta(hours=1, minutes=50)  # two started hours at the exit: £4.80 each
    codes = [service.enter(f"MP{i} ACC", "car", actor=ANN).code for i in range(8)]
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    booths = [context.Process(target=_pay_by_account, args=(db_url, code, str(attendant_home), out))
              for code in codes]
    for booth in booths:
        booth.start()
    results = [out.get(timeout=120) for _ in booths]
    for booth in booths:
        booth.join(30)
    assert not [r for r in results if r[0] == "failed"], results
    paid = [amount for kind, amount in results if kind == "paid"]
    assert len(paid) == 4 and set(paid) == {480}, results
    assert all("credit limit" in text for kind, text in results if kind == "refused")
    with small_engine.connect() as conn:
        charges = conn.execute(select(PAY.c.amount).where(PAY.c.method == "account", PAY.c.status == "completed")
                               ).scalars().all()
        still_inside = conn.execute(select(func.count()).select_from(PS).where(PS.c.status == "open")).scalar_one()
    assert sorted(charges) == [480] * 4 and sum(charges) <= 2000
    assert still_inside == 4  # the refused ones wrote nothing: their vehicles are still inside
