"""The region reader's cost-saving steps give the same reads: its own detector input, and the
second look that ends after the plate-shaped crops when they give a confident read; a plate crop in
which the detector finds no text is read whole. A read's box is its glyphs' box (the detector's
margin taken off), inside the labelled plate.

Real RapidOCR models and real photos from ../shared/data (skipped on a fresh clone)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hardware import plate_reader
from hardware.plate_reader import GLYPH_GROWTH, PlateReader, TextLine, plate_candidates

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
    height, width = crop.shape[:2]
    assert first.box == (0, 0, width - 1, height - 1)  # the whole-image quad is not a detector's: not shrunk


@pytest.mark.parametrize(("shape", "is_crop"), [
    ((60, 121), True), ((110, 505), True), ((50, 300), True),      # plate crops: 2:1 (US) to 6:1
    ((480, 640), False), ((360, 640), False), ((720, 1280), False),  # camera frames: 4:3, 16:9
    ((300, 700), False), ((100, 120), False),                       # too wide to be a crop; square
])
def test_only_a_narrow_plate_shaped_image_counts_as_a_plate_crop(shape: tuple[int, int], is_crop: bool) -> None:
    assert plate_reader._plate_crop(np.zeros((*shape, 3), dtype=np.uint8)) is is_crop


def _rect(x: float, y: float, w: float, h: float, *, unclip: float = 0.0, text: str = "AB12CDE",
          turn: float = 0.0) -> TextLine:
    """A line whose quad is ``w x h`` at ``(x, y)``, turned by ``turn`` degrees about its centre."""
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)
    return TextLine(text, 0.95, tuple(map(tuple, _turned(corners, turn))), unclip=unclip)


def _turned(points: np.ndarray, degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    centre = points.mean(axis=0)
    return centre + (points - centre) @ np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]).T


def _bounds(points: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0))
    x1, y1 = np.ceil(points.max(axis=0))
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


@pytest.mark.parametrize("turn", [0.0, 6.0, -4.0])
def test_a_detector_lines_glyph_box_is_its_kernel_grown_by_the_glyph_factor(turn: float) -> None:
    # a kernel 120 x 24 px (area / perimeter 10 px) unclipped by 1.6 x 10 = 16 px a side: a 152 x 56 quad
    line = _rect(40, 30, 152, 56, unclip=1.6, turn=turn)
    grow = GLYPH_GROWTH * 10
    glyphs = np.array([[40 + 16 - grow, 30 + 16 - grow], [40 + 136 + grow, 30 + 16 - grow],
                       [40 + 136 + grow, 30 + 40 + grow], [40 + 16 - grow, 30 + 40 + grow]])
    assert line.glyph_box == _bounds(_turned(glyphs, turn))
    assert _rect(40, 30, 152, 56, turn=turn).glyph_box == line.box  # no detector margin: the quad's box


def test_a_merged_lines_glyph_box_is_the_union_of_its_parts_and_ranking_keeps_the_quads() -> None:
    left, right = _rect(100, 200, 60, 40, unclip=1.6, text="BS"), _rect(165, 203, 150, 40, unclip=1.6, text="47040")
    (merged, *_rest) = plate_candidates([left, right])
    assert merged.text == "BS47040"
    boxes = np.array([left.glyph_box, right.glyph_box])
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = (boxes[:, :2] + boxes[:, 2:]).max(axis=0)
    assert merged.box == (x0, y0, x1 - x0, y1 - y0)
    assert left.glyph_box != left.box and right.glyph_box != right.box  # the parts did lose a margin
    # the candidates' boxes are the glyphs'; their order and scores are those of the detector's quads
    plain = [replace(line, unclip=0.0) for line in (left, right)]
    assert [(c.text, c.score, c.confidence) for c in plate_candidates([left, right])] == [
        (c.text, c.score, c.confidence) for c in plate_candidates(plain)]
    assert plate_candidates(plain)[0].box == (100, 200, 215, 43)


@needs_us
@pytest.mark.parametrize(("name", "plate"), [("wts-lg-000127.jpg", "5AZL613"), ("wts-lg-000073.jpg", "5VDA555")])
def test_a_reads_box_lies_inside_its_labelled_plate(us_reader: PlateReader, name: str, plate: str) -> None:
    import cv2

    # the detector's quads of these two reach 9 and 7 px outside the labelled plate (its unclip margin)
    _file, x, y, w, h, _plate = (US / name).with_suffix(".txt").read_text().strip().split("\t")[:6]
    lx, ly, lw, lh = int(x), int(y), int(w), int(h)
    (first, *_rest) = us_reader.read(cv2.imread(str(US / name)))
    assert first.text == plate
    bx, by, bw, bh = first.box
    slack = 4  # px, as benchmarks/bench_plate_reader.py's "box inside label"
    assert lx - slack <= bx and by >= ly - slack and bx + bw <= lx + lw + slack and by + bh <= ly + lh + slack


def test_the_decoder_keeps_each_characters_likeliest_options() -> None:
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode

    decoder = plate_reader._OptionsDecode(CTCLabelDecode(character=list("4GLS")))  # + blank (0) and space (5)
    steps = np.full((7, 6), 0.0, dtype=np.float32)
    steps[0, 0] = 1.0                                   # blank
    steps[1, [3, 1]] = (0.6, 0.4)                       # L, 4 runner-up ...
    steps[2, [3, 1]] = (0.77, 0.22)                     # ... the same L over two steps: each class's best
    steps[3, 0] = 1.0
    steps[4, [5, 0]] = (0.55, 0.45)                     # a space: no options of its own
    steps[5, [2, 4]] = (0.9, 0.1)                       # G, S
    steps[6, 0] = 1.0
    decoder.start()
    (text, _score), *_ = decoder(steps[None], return_word_box=True)[0]
    decoded = decoder.take()
    assert text == "L G"
    options = decoded.pop("L G")
    assert [dict(o) for o in options] == [{"L": pytest.approx(0.77), "4": pytest.approx(0.4), "G": 0.0, "S": 0.0},
                                          {"G": pytest.approx(0.9), "S": pytest.approx(0.1), "4": 0.0, "L": 0.0}]
    assert decoded.pop("L G") == ()  # each line's options are handed out once
    decoder(steps[None])  # outside start()/take() nothing is kept
    assert decoder.take().pop("L G") == ()


@needs_us
@pytest.mark.parametrize(("name", "plate"), [("wts-lg-000076.jpg", "4GLS168"), ("wts-lg-000095.jpg", "4FCW533")])
def test_a_first_character_the_recogniser_also_saw_as_a_digit_fits_californias_plate(
        us_reader: PlateReader, name: str, plate: str) -> None:
    import cv2

    # both were read with an L first (the recogniser gave the 4 0.22 / 0.27), and L has no digit look-alike
    (first, *_rest) = us_reader.read(cv2.imread(str(US / name)))
    assert first.text == plate


def _line(text: str, scores: tuple[float, ...]) -> TextLine:
    return TextLine(text, min(scores), ((0, 0), (120, 0), (120, 40), (0, 40)), scores)


@pytest.mark.parametrize(("text", "line", "taken"), [
    # plates-us car1.jpg: 627-WW read in the detector's box, 627-WWI in the box widened (the I at 0.97):
    # Florida's older 123 ABC as read
    ("627WW", _line("627-WWI", (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.97)), "end"),
    ("JK7551", _line("AJK-7551", (0.999, 0.61, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)), "start"),  # wts-lg-000044.jpg
    # wts-lg-000057.jpg: the plate is YBW23; a frame edge read as 1 at 0.87 would make it an ABC-123
    ("YBW23", _line("-YBW231", (0.62, 0.96, 0.90, 1.0, 0.99, 0.99, 0.87)), None),
    ("627WW", _line("627-WWX", (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.99)), "end"),
    ("627WW", _line("1627-WW", (0.99, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)), None),  # 1627WW fits no area's syntax
    ("627WW", _line("627-WM", (1.0,) * 6), None),                             # not the same read
    ("627WW", _line("627-WWII", (1.0,) * 8), None),                           # two more characters
])
def test_a_character_a_wider_box_adds_at_an_edge_counts_when_sure_and_the_read_then_fits_an_area(
        text: str, line: TextLine, taken: str | None) -> None:
    from hardware.plate_regions import load_region

    assert plate_reader._edge_extension(text, line, load_region("us")) == taken


@needs_us
@pytest.mark.parametrize(("name", "plate"), [("car1.jpg", "627WWI"), ("wts-lg-000044.jpg", "AJK7551"),
                                             ("wts-lg-000057.jpg", "YBW23")])
def test_a_catch_all_read_is_read_again_in_a_wider_box(us_reader: PlateReader, name: str, plate: str) -> None:
    import cv2

    (first, *_rest) = us_reader.read(cv2.imread(str(US / name)))
    assert first.text == plate
    # the box reported is the plate's (4 px slack, as bench_plate_reader.py's "inside"), not the widened one
    _file, lx, ly, lw, lh, _plate = (US / name).with_suffix(".txt").read_text().strip().split("\t")[:6]
    x, y, w, h = first.box
    assert int(lx) - 4 <= x and int(ly) - 4 <= y and x + w <= int(lx) + int(lw) + 4 and y + h <= int(ly) + int(lh) + 4


def test_only_a_region_reader_keeps_character_options() -> None:
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    import cv2

    image = np.full((80, 320, 3), 255, dtype=np.uint8)
    cv2.putText(image, "AB12 CDE", (10, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4)
    whole = [np.array([[0, 0], [319, 0], [319, 79], [0, 79]], dtype=np.float32)]
    plain_reader, region_reader = PlateReader(), PlateReader(region="gb")
    plain_reader.load()
    region_reader.load()
    (plain,) = plain_reader.quad_lines(image, whole)
    (regional,) = region_reader.quad_lines(image, whole)
    assert plain.text == regional.text and plain.char_scores == regional.char_scores
    assert plain.char_options == ()  # the region-free ranking does not use them: not computed
    assert len(regional.char_options) == len(regional.char_scores) == len(regional.text.replace(" ", ""))
    assert [options[0][0] for options in regional.char_options] == list(regional.text.replace(" ", ""))
