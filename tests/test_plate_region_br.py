"""The Brazilian plate region (hardware/plate_regions/br.toml): both current syntaxes fit, confusables are
corrected by position, and the plate's own printed words (the Mercosur band, the old plate's
state-municipality strip) never come out as the read."""

from __future__ import annotations

import pytest

from hardware.plate_reader import TextLine, normalise_plate, plate_candidates
from hardware.plate_regions import load_region


def line(text: str, x: float, y: float, w: float, h: float, score: float = 0.95) -> TextLine:
    return TextLine(text, score, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


@pytest.mark.parametrize(("read", "expected", "corrections"), [
    ("ABC1234", "ABC1234", 0),   # grey plate (1990-2018)
    ("BRA2E19", "BRA2E19", 0),   # Mercosur (since 2018)
    ("A8C1234", "ABC1234", 1),   # a letter slot cannot hold 8
    ("ABCI234", "ABC1234", 1),   # a digit slot cannot hold I
    ("BRAZE19", "BRA2E19", 1),   # Mercosur's fourth character is a digit
])
def test_both_brazilian_syntaxes_fit_and_confusables_are_corrected_by_position(read, expected, corrections):
    fit = load_region("br").fit(read)
    assert (fit.text, fit.corrections) == (expected, corrections)
    assert fit.factor > 0.5  # above a read that fits no syntax


@pytest.mark.parametrize("raw", ["SP - SAO PAULO", "RJ-RIO DE JANEIRO", "BRASIL", "MERCOSUL", "(11) 98765-4321",
                                 "12/05/2016", "www.detran.sp.gov.br"])
def test_what_a_brazilian_plate_or_car_prints_besides_the_plate_is_rejected(raw):
    assert load_region("br").fit(normalise_plate(raw), raw).factor == 0


def test_the_plate_is_read_under_its_strip_and_above_nothing_else():
    lines = [line("SP - SAO PAULO", 0, 0, 200, 20, score=0.99), line("ABC-1234", 0, 24, 200, 50, score=0.9),
             line("BRASIL", 300, 0, 90, 20, score=0.99)]
    assert [c.text for c in plate_candidates(lines, region=load_region("br"))] == ["ABC1234"]
