"""A full shift through the real services: PIN login, float, ten exits in
mixed payment methods (one card declined and retried, one split tender), a
cash drop, a pending payment blocking the close, then a count-up that
balances to the penny. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from attendant.core import shifts, users
from attendant.core.auth import Role
from attendant.core.errors import PaymentError, Refused
from attendant.core.payments import ProcessorRegistry, StandInProcessor
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.core.vocab import PaymentMethod


def test_a_full_shift_balances_to_the_penny(small_engine, clock):
    card = StandInProcessor(PaymentMethod.CARD)
    service = ParkingService(small_engine, TicketSigner(b"f" * 32), clock=clock,
                             processors=ProcessorRegistry({PaymentMethod.CARD: card}))
    setup = users.setup_actor(small_engine)
    users.create_user(small_engine, setup, "admin", "Admin", "admin", "999999")
    admin = users.authenticate(small_engine, "admin", "999999")
    users.create_user(small_engine, admin, "ann", "Ann Attendant", "attendant", "123412")
    ann = users.authenticate(small_engine, "ann", "123412")
    assert ann.role is Role.ATTENDANT and ann.user_id is not None
    fid = service.facility.id
    shifts.open_shift(small_engine, fid, ann, 10000)

    plan = [  # (stay minutes, how it is paid) — fees: £2.40 per started hour after 10 min grace
        (50, [("cash", None, 500)]),  # £2.40, change £2.60
        (70, [("card", None, None)]),  # £4.80
        (130, [("upi", None, None)]),  # £7.20
        (190, [("ewallet", None, None)]),  # £9.60
        (30, [("mobile", None, None)]),  # £2.40
        (250, [("cash", 500, 500), ("card", None, None)]),  # £12.00 split: £5 cash + £7 card
        (5, []),  # within grace: free, no payment
        (61, [("cash", None, 1000)]),  # £4.80, change £5.20
        (120, [("card", None, None)]),  # £4.80, first card declined then approved
        (600, [("cash", None, 2000)]),  # £18.90 daily max, change £1.10
    ]
    expected = {"cash": 0, "card": 0, "upi": 0, "ewallet": 0, "mobile": 0}
    for n, (minutes, tenders) in enumerate(plan):
        entry = service.enter(f"SHIFT{n}", "car", actor=ann)
        clock.now += timedelta(minutes=minutes)
        if n == 8:
            card.set_script(["decline", "approve"])
            with pytest.raises(PaymentError, match="declined"):
                service.pay(entry.code, "card", actor=ann)
        for method, amount, tendered in tenders:
            outcome = service.pay(entry.code, method, actor=ann, amount=amount, tendered=tendered)
            expected[method] += outcome.payment.amount
        result = service.complete_exit(entry.code, actor=ann)
        assert result.paid == sum(p.amount for p in result.payments if p.status == "completed")
        clock.now += timedelta(minutes=1)
    assert expected == {"cash": 240 + 500 + 480 + 1890, "card": 480 + 700 + 480, "upi": 720, "ewallet": 960,
                        "mobile": 240}

    shifts.record_cash_movement(small_engine, fid, ann, "drop", 2000, note="to the safe")

    # a payment in progress (pending) blocks the close
    stuck = service.enter("STUCK1", "car", actor=ann)
    clock.now += timedelta(hours=1)
    card.set_script(["no_answer"])
    card.void = lambda key: (_ for _ in ()).throw(RuntimeError("void lost"))  # the reversal fails too
    with pytest.raises(PaymentError, match="outcome unknown"):
        service.pay(stuck.code, "card", actor=ann, idempotency_key="stuck-1")
    with pytest.raises(Refused, match="progress|pending"):
        shifts.close_shift(small_engine, fid, ann, cash_count={5000: 1})
    del card.void
    card.answer_again()  # the processor answers again: the retry settles the pending payment
    settled = service.pay(stuck.code, "card", actor=ann, idempotency_key="stuck-1")
    assert settled.payment.status == "completed" and len([k for k, _ in card.charges if k == "stuck-1"]) == 1
    expected["card"] += settled.payment.amount
    service.complete_exit(stuck.code, actor=ann)

    drawer = 10000 + expected["cash"] - 2000  # float + cash takings - drop = £111.10
    assert drawer == 11110
    count = {5000: 2, 1000: 1, 100: 1, 10: 1}  # £100 + £10 + £1 + 10p
    report = shifts.close_shift(small_engine, fid, ann, cash_count=count)
    by_method = {m.method: m for m in report.methods}
    assert by_method["cash"].expected == drawer and by_method["cash"].counted == drawer
    for method in ("card", "upi", "ewallet", "mobile"):
        assert by_method[method].expected == expected[method]
    assert report.over_short == 0 and report.cash_over_short == 0
    text = "\n".join(report.lines())
    assert "111.10" in text and "Ann" in text
