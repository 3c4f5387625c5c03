"""Payments at the exit, on SQLite and PostgreSQL: split tender, declines,
outages and IOUs (never trap a car), idempotency, timeouts, refunds,
validations, passes and exit grace. Processors are the stand-in, scripted
per test; every assertion is on database rows or on what the processor saw.

Fees: demo plan (car £2.40 per started hour, 10 min grace, 15 min exit grace).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from attendant.core.auth import Actor, LoginRequired, PermissionDenied, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, PaymentError, Refused
from attendant.core.payments import ProcessorRegistry, StandInProcessor
from attendant.core.requests import ExitRequest, Tender
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.core.vocab import PaymentMethod
from db.models import AuditEvent, Iou, ParkingSession, Payment, Shift, User, Validation, Vend

PS, PAY, IOU, VEND, AUD, VAL = (t.__table__ for t in (ParkingSession, Payment, Iou, Vend, AuditEvent, Validation))
SUPERVISOR = Actor("sue", Role.SUPERVISOR)


@pytest.fixture
def card():
    return StandInProcessor(PaymentMethod.CARD)


@pytest.fixture
def svc(small_engine, clock, card):
    registry = ProcessorRegistry({PaymentMethod.CARD: card}, retries=2)
    return ParkingService(small_engine, TicketSigner(b"s" * 32), clock=clock, processors=registry)


def rows(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).all()


def park(svc, clock, plate="AB12CDE", hours=2, minutes=30):
    entry = svc.enter(plate, "car", actor="t")
    clock.now += timedelta(hours=hours, minutes=minutes)
    return entry


def test_a_card_exit_commits_twice_pending_then_paid_and_closed_together(svc, small_engine, clock, card):
    from sqlalchemy import event

    entry = park(svc, clock)
    commits: list[str] = []
    listener = lambda conn: commits.append("commit")  # noqa: E731
    event.listen(small_engine, "commit", listener)
    try:
        result = svc.exit(entry.code, method="card", actor="t", lane="X1", vend=True)
    finally:
        event.remove(small_engine, "commit", listener)
    assert len(commits) == 2  # the attempt (pending) before the processor; the approval with the exit after it
    assert (result.paid, result.method, result.lane) == (720, "card", "X1")
    (payment,) = rows(small_engine, PAY)
    (session,) = rows(small_engine, PS)
    assert (payment.status, session.status, session.amount_paid, session.exit_lane) == ("completed", "closed", 720, "X1")
    assert [r.action for r in rows(small_engine, AUD)][-3:] == ["session.enter", "payment.completed", "session.exit"]
    (vend,) = [v for v in rows(small_engine, VEND) if v.direction == "exit"]
    assert vend.session_id == session.id


def _pending_attempt(engine, session, at, *, method="upi", key="stuck-1", amount=100, lane="X2", message=None,
                     age_s=0.0):
    """Another lane's attempt, waiting for (or having lost) its answer; asked ``age_s`` seconds ago (wall clock)."""
    asked = utc_now() - timedelta(seconds=age_s)
    with engine.begin() as conn:
        conn.execute(insert(PAY).values(facility_id=session.facility_id, session_id=session.id, method=method,
                                        status="pending", amount=amount, idempotency_key=key, lane=lane,
                                        created_at=at, updated_at=asked, actor="t", message=message))


def test_an_attempt_in_progress_at_another_lane_refuses_a_second_charge(svc, small_engine, clock, card):
    entry = park(svc, clock)  # £7.20
    (session,) = rows(small_engine, PS)
    _pending_attempt(small_engine, session, clock.now)
    with pytest.raises(Refused, match=r"upi payment of £1.00 for this ticket is in progress at lane X2 .*nothing "
                                      r"was taken"):
        svc.exit(entry.code, method="card", actor="t", lane="X1")
    with pytest.raises(Refused, match="in progress"):  # cash too: the other lane's answer may cover the fee
        svc.exit(entry.code, method="cash", actor="t", lane="X1", tendered=1000)
    assert card.charges == []
    assert [(p.method, p.status) for p in rows(small_engine, PAY)] == [("upi", "pending")]
    assert rows(small_engine, PS)[0].status == "open"


def test_an_abandoned_attempt_is_settled_by_the_status_query_before_anything_is_charged(svc, small_engine, clock,
                                                                                         card):
    entry = park(svc, clock)  # £7.20
    (session,) = rows(small_engine, PS)
    # X2 charged £7.20 and crashed before recording the answer: the processor knows the key
    card.charge(720, "GBP", "x2-lost", "ref")
    _pending_attempt(small_engine, session, clock.now, method="card", key="x2-lost", amount=720,
                     age_s=svc.processors.attempt_deadline_s + 1)
    result = svc.exit(entry.code, method="card", actor="t", lane="X1")
    assert result.paid == 720 and card.charges == [("x2-lost", 720)]  # charged once, by the lost attempt
    (payment,) = rows(small_engine, PAY)
    assert (payment.status, payment.idempotency_key) == ("completed", "x2-lost")
    assert "status query" in payment.message
    assert rows(small_engine, PS)[0].status == "closed"


def test_an_abandoned_attempt_the_processor_never_saw_is_voided_then_the_card_is_charged(svc, small_engine, clock,
                                                                                        card):
    entry = park(svc, clock)
    (session,) = rows(small_engine, PS)
    _pending_attempt(small_engine, session, clock.now, method="card", key="x2-never", amount=720,
                     age_s=svc.processors.attempt_deadline_s + 1)
    result = svc.exit(entry.code, method="card", actor="t", lane="X1")
    lost, paid = rows(small_engine, PAY)
    assert (lost.status, paid.status, result.paid) == ("failed", "completed", 720)
    assert card.voids == [] and [k for k, _ in card.charges] == [paid.idempotency_key]
    assert not card.charge(720, "GBP", "x2-never", "ref").approved  # the lost request can never charge later
    assert [k for k, _ in card.charges] == [paid.idempotency_key]


def test_an_unknown_outcome_that_cannot_be_asked_blocks_more_charges_until_resolved(svc, small_engine, clock, card):
    entry = park(svc, clock)
    (session,) = rows(small_engine, PS)
    _pending_attempt(small_engine, session, clock.now, method="card", key="x2-unknown", amount=720,
                     message="no answer; void failed")
    card.status = lambda key: (_ for _ in ()).throw(ConnectionError("processor unreachable"))
    with pytest.raises(PaymentError, match=r"unknown outcome .*attendant payment resolve \d+.*IOU"):
        svc.exit(entry.code, method="card", actor="t", lane="X1")
    assert card.charges == [] and rows(small_engine, PS)[0].status == "open"
    request = ExitRequest(entry.code, (Tender("card"),), lane="X1", iou_reason="processor down")
    result = svc.settle(request, actor="t")
    assert result.iou_amount == 720 and card.charges == []  # never trap a car, never charge twice
    assert [(p.idempotency_key, p.status) for p in rows(small_engine, PAY)] == [("x2-unknown", "pending")]


def test_split_tender_cash_then_card_closes_the_session(svc, small_engine, clock, card):
    entry = park(svc, clock)  # 3 started hours: £7.20
    first = svc.pay(entry.code, "cash", actor="t", amount=500, tendered=1000)
    assert (first.payment.amount, first.payment.change, first.balance) == (500, 500, 220)
    with pytest.raises(PaymentError, match="due"):
        svc.complete_exit(entry.code, actor="t")
    second = svc.pay(entry.code, "card", actor="t")
    assert second.balance == 0 and second.payment.amount == 220 and second.payment.reference.startswith("CARD-")
    result = svc.complete_exit(entry.code, actor="t", lane="X1")
    assert result.method == "split" and result.paid == 720 and result.change == 500
    payments = rows(small_engine, PAY)
    assert [(p.method, p.amount, p.status) for p in payments] == [("cash", 500, "completed"),
                                                                   ("card", 220, "completed")]
    assert card.charges == [(payments[1].idempotency_key, 220)]
    assert rows(small_engine, PS)[0].status == "closed"


def test_card_decline_then_retry_with_a_new_attempt(svc, small_engine, clock, card):
    entry = park(svc, clock)
    card.set_script(["decline", "approve"])
    with pytest.raises(PaymentError, match="declined"):
        svc.pay(entry.code, "card", actor="t")
    assert svc.checkout(entry.code).balance == 720
    svc.pay(entry.code, "card", actor="t")
    assert [p.status for p in rows(small_engine, PAY)] == ["failed", "completed"]
    assert len(card.charges) == 1
    assert svc.complete_exit(entry.code, actor="t").paid == 720


def test_processor_outage_lets_the_car_go_with_an_iou(svc, small_engine, clock, card):
    entry = park(svc, clock)
    card.set_script(["unavailable"])
    with pytest.raises(PaymentError, match="unavailable"):
        svc.pay(entry.code, "card", actor="t")
    result = svc.let_go(entry.code, actor="t", reason="card processor down", lane="X1", vend=True)
    assert result.iou_amount == 720 and result.paid == 0
    iou = rows(small_engine, IOU)[0]
    assert (iou.amount, svc.data.open(iou.plate), iou.status, iou.reason) == (720, "AB12CDE", "open", "card processor down")
    session = rows(small_engine, PS)[0]
    assert session.status == "closed" and session.exit_reason == "card processor down"
    vend = rows(small_engine, VEND, VEND.c.direction == "exit")[0]
    assert vend.source == "attendant" and "IOU" in vend.reason
    assert rows(small_engine, AUD, AUD.c.action == "session.exit_iou")[0].details["iou_amount"] == 720
    assert card.charges == []


def test_let_go_needs_a_reason(svc, clock):
    entry = park(svc, clock)
    with pytest.raises(InputError, match="reason"):
        svc.let_go(entry.code, actor="t", reason="  ")


def test_third_iou_forces_prepayment_at_entry(svc, small_engine, clock):
    for _ in range(3):
        entry = park(svc, clock, plate="OW3 SME")
        svc.let_go(entry.code, actor="t", reason="card declined")
    with pytest.raises(Refused, match="3 unpaid IOUs"):
        svc.enter("OW3SME", "car", actor="t")
    assert rows(small_engine, PS, PS.c.status == "open") == []
    settled = svc.settle_ious("ow3 sme", "card", actor="t")
    assert len(settled) == 3 and sum(p.amount for p in settled) == 3 * 720
    assert {i.status for i in rows(small_engine, IOU)} == {"settled"}
    assert svc.enter("OW3SME", "car", actor="t").plate == "OW3SME"


def test_two_ious_do_not_block_entry(svc, clock):
    for _ in range(2):
        entry = park(svc, clock, plate="TWO2")
        svc.let_go(entry.code, actor="t", reason="no card")
    assert svc.enter("TWO2", "car", actor="t").plate == "TWO2"


def test_retried_request_with_the_same_key_is_charged_once(svc, small_engine, clock, card):
    entry = park(svc, clock)
    first = svc.pay(entry.code, "card", actor="t", idempotency_key="lane-X1-0001")
    again = svc.pay(entry.code, "card", actor="t", idempotency_key="lane-X1-0001")
    assert again.payment.id == first.payment.id
    assert len(card.charges) == 1 and len(rows(small_engine, PAY)) == 1


def test_one_step_exit_retried_with_the_same_key_returns_the_first_exit(svc, small_engine, clock, card):
    entry = park(svc, clock)
    first = svc.exit(entry.code, method="card", actor="t", idempotency_key="K-7")
    again = svc.exit(entry.code, method="card", actor="t", idempotency_key="K-7")
    assert again.session_id == first.session_id and again.paid == first.paid == 720
    assert len(card.charges) == 1 and len(rows(small_engine, PAY)) == 1


def test_a_lost_answer_is_retried_with_the_same_key_and_charged_once(svc, small_engine, clock, card):
    entry = park(svc, clock)
    card.set_script(["timeout", "approve"])
    outcome = svc.pay(entry.code, "card", actor="t")
    assert outcome.payment.status == "completed" and outcome.balance == 0
    assert len(card.charges) == 1


def test_no_answer_at_all_is_voided_and_nothing_is_charged(svc, small_engine, clock, card):
    entry = park(svc, clock)
    card.set_script(["no_answer"])
    with pytest.raises(PaymentError, match="voided"):
        svc.pay(entry.code, "card", actor="t")
    payment = rows(small_engine, PAY)[0]
    assert payment.status == "failed" and card.charges == [] and card.voids == [payment.idempotency_key]
    assert svc.checkout(entry.code).balance == 720


def test_refund_is_for_supervisors_and_nets_revenue(svc, small_engine, clock, card):
    entry = park(svc, clock)
    paid = svc.exit(entry.code, method="card", actor="t")
    with pytest.raises(PermissionDenied, match="supervisor"):
        svc.refund(paid.payment_id, actor="t", reason="goodwill")
    with pytest.raises(PermissionDenied):
        svc.refund(paid.payment_id, actor=Actor("ann", Role.ATTENDANT, None), reason="goodwill")
    refund = svc.refund(paid.payment_id, actor=SUPERVISOR, reason="goodwill", amount=200)
    assert refund.amount == -200 and refund.method == "card"
    original, negative = rows(small_engine, PAY)
    assert original.status == "refunded" and negative.refund_of_id == original.id and negative.amount == -200
    assert card.refunds == [(original.processor_ref, 200)]
    assert svc.revenue(clock.now.date()) == 520
    with pytest.raises(Refused):
        svc.refund(paid.payment_id, actor=SUPERVISOR, reason="again", amount=600)


def test_refundable_payments_list_money_still_refundable_newest_first(svc, small_engine, clock):
    cafe = svc.create_validation(actor=SUPERVISOR, merchant="Cafe", kind="amount", value=100, reusable=True)
    first, second, third = (park(svc, clock, plate) for plate in ("RF01AAA", "RF02BBB", "RF03CCC"))
    card = svc.exit(first.code, method="card", actor="t")
    svc.apply_validation(second.code, cafe, actor="t")  # a validation takes no money: never listed
    cash = svc.exit(second.code, method="cash", actor="t", tendered=2000)
    whole = svc.exit(third.code, method="card", actor="t")
    svc.refund(card.payment_id, actor=SUPERVISOR, reason="part", amount=200)
    svc.refund(whole.payment_id, actor=SUPERVISOR, reason="all of it")
    listed = svc.refundable_payments()
    assert [(p.id, p.method, p.refundable) for p in listed] == [
        (cash.payment_id, "cash", cash.paid - 100), (card.payment_id, "card", card.paid - 200)]
    assert (listed[0].ticket_no, listed[0].plate, listed[0].amount) == (second.ticket_no, "RF02BBB", cash.paid - 100)
    assert [p.id for p in svc.refundable_payments(limit=1)] == [cash.payment_id]


def test_validations_amount_percent_minutes(svc, small_engine, clock):
    amount = svc.create_validation(actor=SUPERVISOR, merchant="Bookshop", kind="amount", value=300)
    percent = svc.create_validation(actor=SUPERVISOR, merchant="Cafe", kind="percent", value=25, reusable=True)
    minutes = svc.create_validation(actor=SUPERVISOR, merchant="Cinema", kind="minutes", value=60, reusable=True)
    entry = park(svc, clock)  # £7.20 for 2 h 30
    assert svc.apply_validation(entry.code, amount, actor="t").payment.amount == 300
    assert svc.apply_validation(entry.code, percent, actor="t").payment.amount == 180  # 25% of the £7.20 fee
    third = svc.apply_validation(entry.code, minutes, actor="t")  # fee of 1 h 30 is £4.80: £2.40 off
    assert third.payment.amount == 240 and third.balance == 0
    result = svc.complete_exit(entry.code, actor="t")
    assert result.paid == 720
    assert [p.method for p in rows(small_engine, PAY)] == ["validation"] * 3
    assert rows(small_engine, PS)[0].discount == 720


def test_validation_rules_single_use_expiry_max_uses_and_rbac(svc, clock):
    with pytest.raises(PermissionDenied):
        svc.create_validation(actor="t", merchant="X", kind="amount", value=100)
    once = svc.create_validation(actor=SUPERVISOR, merchant="Shop", kind="amount", value=100)
    expired = svc.create_validation(actor=SUPERVISOR, merchant="Shop", kind="amount", value=100, reusable=True,
                                    expires_at=clock.now + timedelta(minutes=30))
    capped = svc.create_validation(actor=SUPERVISOR, merchant="Shop", kind="amount", value=100, reusable=True,
                                   max_uses=1)
    first = park(svc, clock, plate="ONE1")
    second = park(svc, clock, plate="TWO2")
    svc.apply_validation(first.code, once, actor="t")
    with pytest.raises(Refused, match="single-use"):
        svc.apply_validation(second.code, once, actor="t")
    with pytest.raises(Refused, match="expired"):
        svc.apply_validation(second.code, expired, actor="t")
    svc.apply_validation(first.code, capped, actor="t")
    with pytest.raises(Refused, match="1 uses"):
        svc.apply_validation(second.code, capped, actor="t")
    with pytest.raises(NotFound):
        svc.apply_validation(second.code, "V-NONE-NONE", actor="t")


def test_pass_covers_the_fee_while_valid(svc, small_engine, clock):
    code = svc.create_pass(actor=SUPERVISOR, holder_name="M. Parker", plate="PA55 ABC",
                           valid_from=clock.now - timedelta(days=1), valid_to=clock.now + timedelta(days=30))
    entry = park(svc, clock, plate="PA55ABC")
    outcome = svc.pay(entry.code, "pass", actor="t")
    assert outcome.balance == 0 and outcome.payment.reference == code and outcome.payment.amount == 720
    other = park(svc, clock, plate="NOPASS1")
    with pytest.raises(Refused, match="no valid pass"):
        svc.pay(other.code, "pass", actor="t")
    with pytest.raises(Refused, match="belongs to"):
        svc.pay(other.code, "pass", actor="t", reference=code)
    clock.now += timedelta(days=40)
    late = svc.enter("LATE1", "car", actor="t")
    svc.create_pass(actor=SUPERVISOR, holder_name="Old", plate="LATE1", valid_from=clock.now - timedelta(days=60),
                    valid_to=clock.now - timedelta(days=1))
    clock.now += timedelta(hours=1)
    with pytest.raises(Refused, match="not valid now"):
        svc.pay(late.code, "pass", actor="t")


def test_account_payment_needs_the_account(svc, clock):
    entry = park(svc, clock)
    with pytest.raises(InputError, match="account"):
        svc.pay(entry.code, "account", actor="t")
    with pytest.raises(NotFound, match="no account 'ROYAL-HOTEL'"):  # an account that exists (issue 10 item 7)
        svc.pay(entry.code, "account", actor="t", reference="royal-hotel")
    svc.add_account("ROYAL-HOTEL", "Royal Hotel Ltd", actor=Actor("sue", Role.SUPERVISOR))
    assert svc.pay(entry.code, "account", actor="t", reference="royal-hotel").payment.reference == "ROYAL-HOTEL"


def test_exit_grace_after_payment(svc, clock):
    entry = park(svc, clock, hours=0, minutes=50)  # £2.40
    svc.pay(entry.code, "card", actor="t")
    clock.now += timedelta(minutes=14)  # still within 15 min: now past 1 h but nothing more is due
    assert svc.checkout(entry.code).balance == 0
    clock.now += timedelta(minutes=2)  # past the exit grace: the second hour is due
    assert svc.checkout(entry.code).balance == 240
    with pytest.raises(PaymentError, match="still due"):
        svc.complete_exit(entry.code, actor="t")


def test_logged_in_users_take_payments_on_their_open_shift(svc, small_engine, clock):
    with small_engine.begin() as conn:
        user_id = conn.execute(insert(User.__table__).values(
            username="ann", display_name="Ann", role="attendant", pin_hash="x", failed_attempts=0, active=True,
            created_at=clock.now).returning(User.__table__.c.id)).scalar_one()
    ann = Actor("ann", Role.ATTENDANT, user_id)
    with pytest.raises(LoginRequired, match="admitting a vehicle needs a logged-in user"):  # users exist now
        park(svc, clock)
    entry = svc.enter("AB12CDE", "car", actor=ann)
    clock.now += timedelta(hours=2, minutes=30)
    with pytest.raises(LoginRequired, match="needs a logged-in user"):  # no script takes money any more
        svc.pay(entry.code, "cash", actor="t", tendered=1000)
    with pytest.raises(Refused, match="no open shift"):
        svc.pay(entry.code, "cash", actor=ann, tendered=1000)
    with small_engine.begin() as conn:
        shift_id = conn.execute(insert(Shift.__table__).values(
            facility_id=svc.facility.id, user_id=user_id, status="open", opened_at=clock.now,
            float_amount=10000).returning(Shift.__table__.c.id)).scalar_one()
    svc.pay(entry.code, "cash", actor=ann, tendered=1000)
    payment = rows(small_engine, PAY)[0]
    assert (payment.shift_id, payment.user_id, payment.actor) == (shift_id, user_id, "ann")


def test_unknown_method_and_overpayment_change_nothing(svc, small_engine, clock):
    entry = park(svc, clock)
    with pytest.raises(InputError, match="unknown payment method"):
        svc.pay(entry.code, "bitcoin", actor="t")
    with pytest.raises(PaymentError, match="more than the balance"):
        svc.pay(entry.code, "card", actor="t", amount=5000)
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PAY)).scalar_one() == 0
