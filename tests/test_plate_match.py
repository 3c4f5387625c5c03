"""Confusable-tolerant plate matching (O/0, I/1, B/8, 2/Z, 5/S, plus D/Q and 6/G)."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attendant.core.errors import InputError
from attendant.core.plate_match import (
    CONFUSABLE_GROUPS,
    PlateMatcher,
    best_matches,
    canonical_form,
    match_cost,
    needs_confirmation,
    plates_match,
)


@pytest.mark.parametrize(("typed", "read"), [
    ("AB12CDE", "A812CDE"),   # B/8
    ("AB12CDE", "AB1ZCDE"),   # 2/Z
    ("SO51ABC", "5051A8C"),   # S/5, O/0, B/8 at once
    ("MI55XYZ", "M155XY2"),   # I/1, Z/2
    ("KO16ABS", "K0I6AB5"),   # O/0, 1/I, S/5
    ("AD12DEQ", "A012OE0"),   # D and Q read as O/0 (Genetec's O/0/D/Q group)
    ("GX16GGG", "6X1666G"),   # G/6
    ("ab12 cde", "AB-12-CDE"),  # normal form first
])
def test_confusable_pairs_match(typed: str, read: str) -> None:
    assert plates_match(typed, read) and plates_match(read, typed)


@pytest.mark.parametrize(("a", "b"), [
    ("AB12CDE", "AB12CDF"),  # E/F is not a confusable pair
    ("AB12CDE", "AB12CD"),   # a missing character is not a confusable
    ("AB12CDE", "XB12CDE"),
    ("L123ABC", "1123ABC"),  # L is deliberately not grouped with 1
])
def test_different_plates_do_not_match(a: str, b: str) -> None:
    assert not plates_match(a, b)


def test_canonical_form_and_groups() -> None:
    assert canonical_form("ab12 cde") == "A812C0E"
    assert canonical_form("SOIZBG") == "501286"
    for group in CONFUSABLE_GROUPS:
        assert {canonical_form(ch * 2) for ch in group} == {group[0] * 2}
    with pytest.raises(InputError, match="not a licence plate"):
        canonical_form("A")
    with pytest.raises(InputError):
        plates_match("AB12CDE", "!!")


def test_match_cost_counts_edits_and_swaps() -> None:
    assert match_cost("AB12CDE", "AB12CDE") == (0, 0)
    assert match_cost("AB12CDE", "A812C0E") == (0, 2)
    assert match_cost("AB12CDE", "AB12CD") == (1, 0)
    assert match_cost("AB12CDE", "AB12CDX") == (1, 0)
    assert match_cost("AB12CDE", "A812CDX") == (1, 1)
    assert match_cost("AB12CDE", "XY12CDE", limit=1) is None
    assert match_cost("AB12CDE", "AB12", limit=1) is None
    assert match_cost("AB12CDE", "AB12CDX", limit=1) == (1, 0)


def test_best_matches_ranking() -> None:
    candidates = ["AB12CDF", "A812CDE", "ab12 cde", "AB12CD", "ZZ99ZZZ", "AB12CDE ", "not a plate!", "A812C0E"]
    got = best_matches("AB12CDE", candidates)
    assert got == [
        ("ab12 cde", 1.0),    # identical (duplicate "AB12CDE " dropped: same normal form)
        ("A812CDE", 0.95),    # one confusable swap
        ("A812C0E", 0.9),     # two swaps
        ("AB12CD", 0.75),     # one character missing
        ("AB12CDF", 0.75),    # one character wrong (ties by text)
    ]
    assert best_matches("AB12CDE", candidates, max_distance=0) == got[:3]
    assert ("ZZ99ZZZ", pytest.approx(0.0)) not in best_matches("AB12CDE", candidates, max_distance=2)
    with pytest.raises(InputError, match="max_distance"):
        best_matches("AB12CDE", candidates, max_distance=-1)
    with pytest.raises(InputError):
        best_matches("?", candidates)


def test_needs_confirmation_threshold() -> None:
    assert needs_confirmation(0.79)
    assert needs_confirmation(0.89)  # issue 14: >= 98 % of the reads accepted unconfirmed are exact at 0.9
    assert not needs_confirmation(0.9)  # at the threshold: accepted
    assert not needs_confirmation(0.93)
    assert needs_confirmation(0.93, threshold=0.95)
    assert not needs_confirmation(0.0, threshold=0.0)
    for bad in (1.2, -0.1, "0.9", True, None):
        with pytest.raises(InputError):
            needs_confirmation(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="threshold"):
        needs_confirmation(0.5, threshold=2)


def test_plate_matcher_index() -> None:
    matcher = PlateMatcher(["AB12CDE", "XY34ZZZ", "AB12CDF", "GX16GGG"])
    assert len(matcher) == 4 and "ab12 cde" in matcher and "A812CDE" not in matcher and 42 not in matcher
    assert matcher.exact("A812C0E") == {"AB12CDE"}
    assert matcher.match("A812CDE") == [("AB12CDE", 0.95), ("AB12CDF", 0.7)]
    assert matcher.match("XY34ZZ") == [("XY34ZZZ", 0.75)]      # held plate has one more character
    assert matcher.match("XY34ZZZQ") == [("XY34ZZZ", 0.75)]    # held plate has one fewer
    assert matcher.match("XY34ZZZ", max_distance=0) == [("XY34ZZZ", 1.0)]
    assert matcher.match("XY3ZZ", max_distance=2) == [("XY34ZZZ", 0.5)]  # wider than the index: a scan
    matcher.add("AB12CDE")  # a second open session with the same plate
    matcher.discard("AB12CDE")
    assert "AB12CDE" in matcher
    matcher.discard("AB12CDE")
    matcher.discard("AB12CDE")  # already gone: ignored
    matcher.discard("!!")       # not a plate: ignored
    assert "AB12CDE" not in matcher and matcher.exact("AB12CDE") == set()
    assert matcher.match("A812CDE") == [("AB12CDF", 0.7)]
    with pytest.raises(InputError):
        matcher.add("")


def test_plate_matcher_agrees_with_a_full_scan() -> None:
    rng = random.Random(12)
    alphabet = string.ascii_uppercase + string.digits
    plates = {"".join(rng.choice(alphabet) for _ in range(rng.randint(5, 8))) for _ in range(1500)}
    matcher = PlateMatcher(plates)
    for plate in rng.sample(sorted(plates), 30):
        read = list(plate)
        read[rng.randrange(len(read))] = rng.choice(alphabet)  # one misread character
        read = "".join(read)
        assert matcher.match(read) == best_matches(read, sorted(plates))
        assert plate in {hit for hit, _score in matcher.match(read)}


plates = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=2, max_size=10)
confusable = st.sampled_from("".join(CONFUSABLE_GROUPS))


@settings(max_examples=200, deadline=None)
@given(plates)
def test_canonical_form_is_idempotent(plate: str) -> None:
    once = canonical_form(plate)
    assert canonical_form(once) == once
    assert plates_match(plate, once)


@settings(max_examples=200, deadline=None)
@given(plates, plates)
def test_plates_match_is_symmetric(a: str, b: str) -> None:
    assert plates_match(a, b) == plates_match(b, a)
    assert match_cost(a, b) == match_cost(b, a)


@settings(max_examples=200, deadline=None)
@given(plates, st.data())
def test_swapping_confusables_still_matches(plate: str, data: st.DataObject) -> None:
    groups = {ch: group for group in CONFUSABLE_GROUPS for ch in group}
    misread = "".join(data.draw(st.sampled_from(groups[ch])) if ch in groups else ch for ch in plate)
    assert plates_match(plate, misread)
    assert best_matches(misread, [plate])[0][0] == plate
