"""The multi-frame vote (hardware/plate_vote.py): character-wise, weighted by confidence."""

from __future__ import annotations

import pytest

from hardware.plate_vote import vote


def test_one_read_keeps_its_text_and_confidence() -> None:
    voted = vote([("6MMD595", 0.9)])
    assert voted is not None and (voted.text, voted.confidence, voted.agreeing, voted.reads) == ("6MMD595", 0.9, 1, 1)


def test_frames_outvote_a_wrong_character_and_agreement_raises_confidence() -> None:
    voted = vote([("6MMD595", 0.8), ("6MMD59S", 0.7), ("6MMD595", 0.8)])
    assert voted is not None and voted.text == "6MMD595"
    # position 7: '5' by two reads at 0.8 (odds 4, times 2: 8/9), share 1.6/2.3; the others agreed by three
    assert voted.confidence == pytest.approx(8 / 9 * 1.6 / 2.3, abs=1e-3)
    agreeing = vote([("6MMD595", 0.8), ("6MMD595", 0.8)])
    assert agreeing is not None and agreeing.confidence == pytest.approx(8 / 9, abs=1e-4)
    three = vote([("6MMD595", 0.8)] * 3)
    assert three is not None and three.confidence == pytest.approx(12 / 13, abs=1e-4)
    assert three.confidence > agreeing.confidence
    # correlated frames: far from the noisy-OR of independent reads (1 - 0.2 ** 3 = 0.992)
    assert three.confidence < 0.95


def test_the_length_with_most_weight_wins_and_others_lower_confidence() -> None:
    voted = vote([("ASC7399", 0.9), ("4ASC7399", 0.5), ("ASC7399", 0.8)])
    assert voted is not None and voted.text == "ASC7399" and voted.agreeing == 2 and voted.reads == 3
    # odds 9 and 4: geometric mean 6, times 2 agreeing = 12 -> 12/13, times the length's share 1.7/2.2
    assert voted.confidence == pytest.approx(12 / 13 * 1.7 / 2.2, abs=1e-3)


def test_weights_decide_a_split_position() -> None:
    voted = vote([("RK099AN", 0.6), ("RK0S9AN", 0.95)])
    assert voted is not None and voted.text == "RK0S9AN" and voted.confidence < 0.6


def test_nothing_to_vote_on() -> None:
    assert vote([]) is None and vote([("", 0.9)]) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        vote([("AB12CDE", 1.5)])


def test_a_folder_camera_votes_the_frames_of_a_passage_into_one_read(tmp_path) -> None:
    """Real frames (cv2.putText plates) through the OpenCV folder camera and RapidOCR."""
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    import cv2

    from hardware.camera_opencv import open_opencv_camera, parse_opencv_url
    from tests.test_camera_opencv import run_until_done, write_folder

    folder = write_folder(tmp_path / "lane", ["AB12CDE", "AB12CDE", "AB12CDE", None, "CD34EFG", None])
    assert parse_opencv_url(f"file://{folder}/?vote=3").vote_frames == 3
    with pytest.raises(Exception, match="vote must be between 1 and 10"):
        parse_opencv_url(f"file://{folder}/?vote=0")
    camera = open_opencv_camera(f"file://{folder}/?vote=3&region=gb", lane="E1", interval=0.02, dedup_seconds=0)
    got = run_until_done(camera, timeout=60)
    assert camera.reader_calls == 6
    # three frames -> one read; the second passage ends at the empty frame after one read
    assert got.plates == ["AB12CDE", "CD34EFG"]
    single = camera.reader.read(cv2.imread(str(folder / "frame_000.png"), cv2.IMREAD_COLOR))[0]
    assert got.reads[0].confidence > single.confidence  # three agreeing frames beat any one
