"""One reading of amounts typed anywhere (issue 10 item 9): :func:`attendant.core.money.parse_major`.

Property tests (hypothesis) run the reader on amounts written in each currency's own format and on texts
the locales read differently; the service test shows a tender far above the amount due refused unless
confirmed, with nothing written.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attendant.core.errors import AmountNeedsConfirmation, InputError
from attendant.core.money import MAX_AMOUNT, parse_major, tendered_needs_confirmation
from attendant.core.requests import ExitRequest, Tender
from db.models import Payment

CENTS = st.integers(min_value=0, max_value=MAX_AMOUNT)


def written(cents: int, group: str, decimal: str, grouped: bool) -> str:
    """``cents`` written with ``group`` between thousands (when ``grouped``) and ``decimal`` before the cents."""
    whole, frac = divmod(cents, 100)
    body = f"{whole:,}".replace(",", group) if grouped else str(whole)
    return f"{body}{decimal}{frac:02d}"


@settings(max_examples=300, deadline=None)
@given(CENTS, st.booleans())
def test_gbp_and_usd_read_their_own_format_exactly(cents, grouped):
    for currency in ("GBP", "USD"):
        assert parse_major(written(cents, ",", ".", grouped), currency) == cents


@settings(max_examples=300, deadline=None)
@given(CENTS, st.booleans(), st.sampled_from([(".", ","), (",", ".")]))
def test_eur_reads_both_european_forms_exactly(cents, grouped, separators):
    group, decimal = separators
    assert parse_major(written(cents, group, decimal, grouped), "EUR") == cents


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=999_999), st.integers(min_value=0, max_value=99))
def test_a_comma_before_the_pence_is_never_read_as_thousands_in_gbp(pounds, pence):
    """``10,00`` (what a continental hand types) is refused, never read as 1,000."""
    text = f"{pounds},{pence:02d}"
    with pytest.raises(InputError, match="type 10.00"):
        parse_major(text, "GBP")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=999), st.sampled_from(",."))
def test_one_separator_before_three_digits_is_ambiguous_in_eur(head, tail, sep):
    """``1,000`` / ``1.000`` read a thousand in one EUR format and one euro in the other: refused, saying both."""
    with pytest.raises(InputError, match="ambiguous in EUR"):
        parse_major(f"{head}{sep}{tail:03d}", "EUR")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_any_text_is_a_whole_number_of_cents_or_a_clear_refusal(text):
    try:
        cents = parse_major(text, "GBP")
    except InputError as exc:
        assert str(exc)  # a message, never a traceback
    else:
        assert isinstance(cents, int) and 0 <= cents <= MAX_AMOUNT
        assert Decimal(cents) / 100 == Decimal(text.strip().removeprefix("£").replace(",", "") or "0")


@pytest.mark.parametrize("text", ["-5", "1e3", "１０", "٢٠", "10.005", "10 00", "1,0000.00", ""])
def test_malformed_amounts_are_refused(text):
    with pytest.raises(InputError):
        parse_major(text, "GBP")


def test_the_confirmation_rule():
    assert tendered_needs_confirmation(5000, 250, "GBP") is None  # a £50 note for £2.50
    assert tendered_needs_confirmation(2000, 100, "GBP") is None  # a £20 note for £1
    assert tendered_needs_confirmation(100000, 960, "GBP")  # 10,00 read as 1,000 for £9.60
    assert tendered_needs_confirmation(20000, 5000, "GBP")  # £150 change
    assert tendered_needs_confirmation(10000, 720, "USD") is None  # a $100 bill for $7.20
    assert tendered_needs_confirmation(15000, 1400, "GBP")  # £150 for £14: over 10x and above the largest note


def test_the_service_refuses_an_unconfirmed_far_tender(service, clock, small_engine):
    """The rule is the service's: a front end that skips the confirmation is refused and nothing is written."""
    entry = service.enter("FAR001", "car", actor="t")
    clock.now += timedelta(hours=1)
    with pytest.raises(AmountNeedsConfirmation, match="is the amount right"):
        service.settle(ExitRequest(entry.code, (Tender("cash", tendered=100000),)), actor="t")
    with small_engine.connect() as conn:
        assert conn.execute(Payment.__table__.select()).all() == []
    done = service.settle(ExitRequest(entry.code, (Tender("cash", tendered=100000, confirm_amount=True),)),
                          actor="t")
    assert done.tendered == 100000 and done.change == 100000 - done.paid


def test_settling_ious_with_cash_far_above_them_needs_confirming(service, clock, small_engine):
    """The IOU settlement takes cash by the exit's rule: far above the IOUs is confirmed, else nothing is taken."""
    entry = service.enter("IOU001", "car", actor="t")
    clock.now += timedelta(hours=1)
    service.let_go(entry.code, actor="t", reason="card reader down")
    with small_engine.connect() as conn:
        before = conn.execute(Payment.__table__.select()).all()
    with pytest.raises(AmountNeedsConfirmation):
        service.settle_ious("IOU001", "cash", actor="t", tendered=100000)
    with small_engine.connect() as conn:
        assert conn.execute(Payment.__table__.select()).all() == before
    (paid,) = service.settle_ious("IOU001", "cash", actor="t", tendered=100000, confirm_amount=True)
    assert paid.change == 100000 - paid.amount
