"""The region reader's cost-saving steps give the same reads: its own detector input, and the
second look that ends after the plate-shaped crops when they give a confident read; a plate crop in
which the detector finds no text is read whole.

Real RapidOCR models and real photos from ../shared/data (skipped on a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hardware import plate_reader
from hardware.plate_reader import PlateReader

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
US = DATA / "plates-us"
needs_us = pytest.mark.skipif(not US.is_dir(), reason="../shared/data/plates-us is absent (fresh clone)")


@needs_us
@pytest.mark.parametrize("side", [736, 1024, 301])
def test_detector_input_is_rapidocrs(us_reader: PlateReader, side: int) -> None:
    import cv2

    image = cv2.imread(str(US / "wts-lg-000089.jpg"))
    scale = side / max(image.shape[:2])
    work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)  # 301: not a multiple of 32
    detector = us_reader._engine._load_det_model()
    detector.limit_side_len = max(work.shape[:2])
    try:
        preprocess = detector.get_preprocess()
        theirs = preprocess(work)
        ours = plate_reader._det_tensor(work, preprocess)
    finally:
        detector.limit_side_len = us_reader.max_side
    assert ours is not None and ours.dtype == np.float32 and ours.shape == theirs.shape
    assert ours.shape[2] % 32 == 0 and ours.shape[3] % 32 == 0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def _read_counting_detections(reader: PlateReader, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    import cv2

    sides: list[int] = []
    detect = PlateReader._detect

    def counting(self: PlateReader, image: np.ndarray, side: int):  # type: ignore[no-untyped-def]
        sides.append(side)
        return detect(self, image, side)

    monkeypatch.setattr(PlateReader, "_detect", counting)
    return reader.read(cv2.imread(str(US / name))), sides


@needs_us
def test_a_confident_crop_read_ends_the_second_look(us_reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    # 6MWF778, 50 px high in a 1280-px frame: the whole frame gives no confident read, its crop does
    found, sides = _read_counting_detections(us_reader, "wts-lg-000149.jpg", monkeypatch)
    assert found and found[0].text == "6MWF778"
    assert sides == [us_reader.max_side]  # no fine_side pass


@needs_us
@pytest.mark.parametrize(("name", "plate"), [("wts-lg-000018.jpg", "CG2H2U"),  # faint, no plate-shaped box
                                             ("car22.jpg", "CH0P8Y")])
def test_without_a_confident_crop_read_the_finer_pass_still_runs(us_reader: PlateReader, name: str, plate: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    found, sides = _read_counting_detections(us_reader, name, monkeypatch)
    assert found and found[0].text == plate
    assert sides == [us_reader.max_side, us_reader.fine_side]



def _tight_crop(name: str) -> np.ndarray:
    """The labelled plate box of ``name`` (plates-us) cut out tight, as another system's plate crop."""
    import cv2

    _file, x, y, w, h, _plate = (US / name).with_suffix(".txt").read_text().strip().split("\t")[:6]
    x, y, w, h = int(x), int(y), int(w), int(h)
    return np.ascontiguousarray(cv2.imread(str(US / name))[y:y + h, x:x + w])


@needs_us
@pytest.mark.parametrize(("name", "plate"), [("car3.jpg", "1AMW240"), ("car9-4.jpg", "ANW2529")])
def test_a_tight_plate_crop_the_detector_finds_no_text_in_is_read_whole(us_reader: PlateReader, name: str,
                                                                          plate: str) -> None:
    crop = _tight_crop(name)
    assert not us_reader._plain_lines(us_reader._detect(crop, us_reader.max_side))  # no text line found in it
    (first, *_rest) = us_reader.read(crop)
    assert first.text == plate


@pytest.mark.parametrize(("shape", "is_crop"), [
    ((60, 121), True), ((110, 505), True), ((50, 300), True),      # plate crops: 2:1 (US) to 6:1
    ((480, 640), False), ((360, 640), False), ((720, 1280), False),  # camera frames: 4:3, 16:9
    ((300, 700), False), ((100, 120), False),                       # too wide to be a crop; square
])
def test_only_a_narrow_plate_shaped_image_counts_as_a_plate_crop(shape: tuple[int, int], is_crop: bool) -> None:
    assert plate_reader._plate_crop(np.zeros((*shape, 3), dtype=np.uint8)) is is_crop
