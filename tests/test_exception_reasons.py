"""The reason every booth exception carries (attendant.core.exceptions)."""

import pytest

from attendant.core.errors import InputError
from attendant.core.exceptions import action, details, kind_of, parse_reason


def test_code_and_text_are_read_one_way():
    reason = parse_reason(" goodwill : regular customer, barrier hit his mirror ")
    assert (reason.code, reason.text) == ("GOODWILL", "regular customer, barrier hit his mirror")
    assert parse_reason("gate-fault").code == "GATE_FAULT"
    assert details(reason, amount_cents=960, lane="X1", ticket_no=12) == {
        "reason_code": "GOODWILL", "reason_text": "regular customer, barrier hit his mirror",
        "amount_cents": 960, "lane": "X1", "ticket_no": 12}


@pytest.mark.parametrize("typed, says", [
    ("", "a reason is required"), ("   ", "a reason is required"), (None, "a reason is required"),
    ("because", "unknown reason code 'BECAUSE'"), ("OTHER", "needs a text"), ("other:  ", "needs a text"),
    ("OTHER: " + "x" * 201, "at most 200"),
])
def test_bad_reasons_are_refused_with_the_codes(typed, says):
    with pytest.raises(InputError, match=says):
        parse_reason(typed)


def test_a_facility_can_name_its_own_codes():
    codes = {"VIP": "operator's guest"}
    assert parse_reason("vip", codes=codes).code == "VIP"
    with pytest.raises(InputError, match="one of: VIP"):
        parse_reason("GOODWILL", codes=codes)


def test_actions_name_the_kind():
    assert action("free_exit") == "exception.free_exit"
    assert kind_of("exception.free_exit") == "free_exit"
    assert kind_of("ticket.reprint") is None
    with pytest.raises(TypeError):
        details(parse_reason("STAFF"), amount_cents=9.6)
