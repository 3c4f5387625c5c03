"""The calibrated confidence of a plate read (hardware/plate_confidence.py) and its wiring in the reader.

The OCR lines below are RapidOCR 3.10.0 (PP-OCRv6 small) output recorded on
photos of the openalpr/benchmarks ``endtoend/us`` set (``../shared/data/plates-us``):
text, line score, quad and the per-character scores of ``return_single_char_box``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from attendant.core.plate_match import DEFAULT_CONFIRM_THRESHOLD
from hardware.plate_confidence import (
    FEATURES,
    MODEL_FILE,
    SIGNS,
    ReadEvidence,
    calibrated_confidence,
    feature_vector,
    load_model,
)
from hardware.plate_reader import TextLine, _char_scores, plate_candidates
from hardware.plate_regions import load_region
from hardware.plate_vote import vote

PLATES_US = Path(__file__).resolve().parents[2] / "shared" / "data" / "plates-us"

# car12.jpg, labelled 5UVR090: a California plate read right
CA_PLATE = TextLine("5UVR090", 0.99386, ((334.6, 593.4), (494.8, 596.9), (493.0, 655.0), (332.8, 649.8)),
                    (0.99955, 0.9988, 0.99961, 0.99924, 0.96462, 0.99933, 0.99586))
# wts-lg-000010.jpg, labelled HH9G5W: the dash scores 0.545, the plate's characters >= 0.989
DASHED = TextLine("HH9-G5W", 0.93296, ((466.1, 440.0), (579.1, 440.0), (579.1, 497.4), (466.1, 497.4)),
                  (0.99969, 0.99769, 0.99965, 0.54538, 0.98922, 0.99964, 0.99943))
# car3.jpg (labelled 1AMW240): the phone number on the van's side, read with certainty
PHONE = TextLine("376-8750", 0.99999, ((178.1, 407.8), (346.4, 402.9), (347.6, 434.8), (179.3, 440.9)),
                 (0.99999, 1.0, 0.99999, 1.0, 1.0, 1.0, 0.99999, 0.99996))


def test_model_file_names_its_features_and_its_cross_validated_figures() -> None:
    _intercept, weights = load_model()
    assert len(weights) == len(FEATURES)
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    provenance = data["provenance"]
    assert provenance["sets"] == ["plates-us:us", "plates-eu:eu"]
    for figure in ("in_sample", "five_fold_cv", "leave_one_set_out", "before_ocr_score"):
        assert provenance[figure], figure
    # the signs the module docstring explains: more evidence, more confidence; the fit keeps every
    # coefficient on its side or at 0 (SIGNS)
    w = dict(zip(FEATURES, weights))
    assert all(SIGNS[name] * w[name] >= 0 for name in FEATURES)
    assert w["char"] > 0 and w["area"] > 0 and w["mixed"] > 0
    assert w["rival"] < 0 and w["small"] < 0 and w["short"] < 0


def test_a_model_file_with_other_features_is_refused(tmp_path) -> None:
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"intercept": 0, "coefficients": {"ocr": 1.0}}), encoding="utf-8")
    with pytest.raises(ValueError, match="coefficients must be"):
        load_model(bad)


def test_confidence_is_monotone_in_the_weakest_characters_score() -> None:
    base = ReadEvidence(ocr=0.95, char_min=0.5, syntax="area", height=40, letters=3, digits=4)
    scores = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999]
    got = [calibrated_confidence(replace(base, char_min=s)) for s in scores]
    assert got == sorted(got) and got[0] < got[-2]
    assert got[-1] == got[-2]  # above CHAR_CAP a character score says nothing more
    assert all(0.0 < c < 1.0 for c in got)


def test_each_doubt_lowers_the_confidence() -> None:
    sure = ReadEvidence(ocr=0.99, char_min=0.99, syntax="area", height=40, letters=4, digits=3)
    c = calibrated_confidence(sure)
    assert calibrated_confidence(replace(sure, syntax="none")) < c
    assert calibrated_confidence(replace(sure, corrections=1)) <= c  # at 0 since the 2026-12-06 refit (SIGNS)
    assert calibrated_confidence(replace(sure, rival=0.9)) < c
    assert calibrated_confidence(replace(sure, runner_up=0.9)) <= c
    assert calibrated_confidence(replace(sure, height=8)) < c
    assert calibrated_confidence(replace(sure, letters=0, digits=7)) < c  # a number, not a plate
    assert calibrated_confidence(replace(sure, letters=2, digits=2)) < c  # 4 characters: one dropped?
    assert feature_vector(replace(sure, char_min=None)) == feature_vector(sure)  # no character scores: the line's


def test_a_syntax_valid_read_ranks_and_scores_above_a_phone_number() -> None:
    found = plate_candidates([CA_PLATE, PHONE], region=load_region("us"))
    assert [c.text for c in found] == ["5UVR090"]  # the us syntaxes reject a local phone number outright
    plate = found[0]
    assert plate.evidence.syntax == "area" and plate.confidence >= DEFAULT_CONFIRM_THRESHOLD  # accepted unconfirmed
    plain = {c.text: c for c in plate_candidates([CA_PLATE, PHONE])}  # no region: both are candidates
    assert list(plain) == ["5UVR090", "3768750"]
    assert plain["5UVR090"].confidence > plain["3768750"].confidence
    assert plain["3768750"].confidence < DEFAULT_CONFIRM_THRESHOLD  # the phone number would be confirmed
    # the other text in the frame never makes the plate surer (runner_up's weight is <= 0; 0 since
    # the 2026-12-06 refit)
    alone = plate_candidates([CA_PLATE])[0]
    assert alone.confidence >= plain["5UVR090"].confidence and plain["5UVR090"].evidence.runner_up > 0


def test_the_same_read_is_surer_where_it_fits_the_regions_syntax() -> None:
    in_california = plate_candidates([CA_PLATE], region=load_region("us-ca"))[0]
    no_region = plate_candidates([CA_PLATE])[0]
    assert in_california.text == no_region.text == "5UVR090"
    assert in_california.confidence > no_region.confidence
    assert in_california.score == no_region.score == pytest.approx(0.9939, abs=1e-4)  # the rank score is unchanged


def test_separators_do_not_count_as_weak_characters() -> None:
    found = plate_candidates([DASHED], region=load_region("us"))
    assert found[0].text == "HH9G5W"
    assert found[0].evidence.char_min == pytest.approx(0.98922)  # not the dash's 0.545


def test_confidence_is_the_model_of_the_candidates_evidence() -> None:
    for region in (None, "us", "eu", "gb"):
        for cand in plate_candidates([CA_PLATE, PHONE, DASHED], region=load_region(region) if region else None):
            assert cand.confidence == calibrated_confidence(cand.evidence)
            assert 0.0 <= cand.confidence <= 1.0 and 0.0 <= cand.score <= 1.0


def test_char_scores_are_aligned_by_text_not_by_index() -> None:
    # RapidOCR drops a line's word entry when it has no boxes: the next line must not take its scores
    words = ((("X", 0.9, None), ("Y", 0.8, None)),)
    assert _char_scores(["AB 12", "XY"], words) == [(), (0.9, 0.8)]
    assert _char_scores(["A B"], ((("A", 0.7, None), ("B", 0.6, None)),)) == [(0.7, 0.6)]
    assert _char_scores(["AB"], None) == [()]


def test_agreeing_frames_vote_a_confidence_at_least_a_single_frames() -> None:
    plate = plate_candidates([CA_PLATE], region=load_region("us"))[0]
    one = vote([(plate.text, plate.confidence)])
    three = vote([(plate.text, plate.confidence)] * 3)
    assert one is not None and three is not None
    assert one.confidence == plate.confidence
    assert three.confidence >= one.confidence and three.text == "5UVR090"
    mixed = vote([(plate.text, plate.confidence), (plate.text, plate.confidence), ("5UVR098", plate.confidence)])
    assert mixed is not None and mixed.text == "5UVR090" and mixed.confidence < three.confidence


@pytest.mark.skipif(not PLATES_US.is_dir(), reason="../shared/data/plates-us is absent (fresh clone)")
def test_the_reader_gives_character_scores_and_a_calibrated_confidence_on_a_real_photo() -> None:
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    import cv2

    from hardware.plate_reader import PlateReader

    image = cv2.imread(str(PLATES_US / "car12.jpg"), cv2.IMREAD_COLOR)
    found = PlateReader(region="us").read(image)
    assert found and found[0].text == "5UVR090"
    top = found[0]
    assert top.evidence.char_min is not None and 0.5 < top.evidence.char_min <= 1.0
    assert top.evidence.syntax == "area"
    assert top.confidence == calibrated_confidence(top.evidence) >= DEFAULT_CONFIRM_THRESHOLD


def test_the_fit_keeps_each_coefficient_on_its_reasons_side() -> None:
    from benchmarks.fit_plate_confidence import fit

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, len(FEATURES)))
    # synthetic reads where a correction comes with exact reads and a sure character too
    logit = 1.5 * x[:, FEATURES.index("char")] + 1.0 * x[:, FEATURES.index("corrected")]
    y = (rng.random(400) < 1 / (1 + np.exp(-logit))).astype(float)
    w = dict(zip(FEATURES, fit(x, y, 1.0)[1:]))
    assert w["char"] > 1.0  # evidence on its side is fitted
    assert w["corrected"] == 0.0  # a doubt never raises the confidence, whatever the data say
    assert all(SIGNS[name] * w[name] >= 0 for name in FEATURES)
