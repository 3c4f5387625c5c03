"""Local licence-plate reader for plain cameras (no ANPR box): text OCR + plate filter.

Library used (not home-made): **RapidOCR** (PyPI ``rapidocr``, pinned
``rapidocr==3.10.0``, Apache-2.0) running PaddleOCR's PP-OCRv6 *small* text
detector (DBNet) and recogniser (SVTR) as ONNX models on **onnxruntime** (CPU).
Both models ship inside the ``rapidocr`` wheel (``rapidocr/models/*.onnx``) and
the recogniser carries its character set in the ONNX metadata, so nothing is
downloaded at run time: this module passes the model files' paths explicitly,
which is the RapidOCR code path that never touches the network.

Why this one (measured on ``../shared/data/plates-eu``, 108 real photos, 2
cores, see ``benchmarks/bench_plate_reader.py``): ``fast-plate-ocr`` and
``open-image-models`` download their models from GitHub releases at run time
(impossible offline); ``platedet``/``platerec`` ship their models but read 3 of
108 plates and pin old Pillow/OpenCV; ``rapidocr-onnxruntime`` 1.4.4 (PP-OCRv4)
is older and needs ``opencv-python`` (non-headless). Plain OCR finds every
piece of text in a frame (signs, dealer stickers, car badges), so this module
adds the plate part:

1. each OCR line becomes a :class:`TextLine` (text, score 0..1, quad box);
2. neighbouring lines of the same height on one baseline are merged (a plate
   read as ``"BS"`` + ``"47040"``), keeping the parts as candidates too;
3. each line is normalised (:func:`normalise_plate`: upper-case ``A-Z0-9``,
   accents stripped, separators such as ``-``, ``:``, ``·`` and the coat of
   arms read as punctuation dropped) and kept only if it looks like a plate:
   4 to 10 characters, mostly upper-case, at most 2 characters dropped,
   text-box aspect ratio 1.5 to 15;
4. candidates are ranked by OCR confidence x a plate-likeness factor (letters
   *and* digits > digits only > letters only; 5-8 characters; dark text on a
   light plate) and the best read of each text is kept.

With a ``region`` (:mod:`hardware.plate_regions`) the region's syntaxes rank and
correct the reads instead, and the reader looks harder before it gives up
(:meth:`PlateReader.read`):

a. the frame is detected at ``max_side`` and read as above; a read whose rank
   (confidence x syntax fit x plate-likeness) reaches ``detect_below`` ends it;
b. otherwise up to ``detect_limit`` plate-shaped regions found by OpenCV
   geometry (:func:`hardware.plate_detect.find_plate_boxes`) are read enlarged;
   a read whose rank then reaches :data:`CROP_CONFIDENT` ends it;
c. otherwise the text detector looks again with lower thresholds
   (:data:`DET_THRESH`, :data:`DET_BOX_THRESH`: faint, low-contrast plates), on
   the same detector output for a frame of at most ``max_side`` px, or on the
   frame shrunk to ``fine_side`` px for a larger one (plates 50-120 px wide in
   a 1280-px frame), and each box is cut out of the *input* image and read at
   its own resolution (:meth:`PlateReader.quad_lines`);
d. all the lines are ranked together; a read with no digit that fits a syntax
   only through corrections (a word bent into a plate, ``LOTOS`` ->
   ``LOTO5``), a read lying inside a longer one (``IMMI`` in ``BIMMIAN``) and
   a read with a longer line of text beside it (a sticker's or a sign's text:
   a fleet number beside "How's My Driving?", :func:`_text_beside`) rank lower;
   the recogniser's per-character scores go to :meth:`Region.fit`, which
   corrects a weakly scored character more readily and drops a barely seen
   one that does not belong to the plate, and so do its runner-up characters
   (:attr:`TextLine.char_options`): a slot of the other kind takes the
   character the recogniser also saw there (``L`` 0.77 / ``4`` 0.22 is a 4 in
   a digit slot) before the fixed look-alike.

Shapes: images are ``numpy.ndarray`` ``uint8`` ``(H, W, 3)`` in OpenCV's BGR
order (or ``(H, W)`` grey); boxes are ``(x, y, w, h)`` integer pixels of the
input image; confidences are floats 0..1.

A read's box (:attr:`PlateCandidate.box`) is its glyphs' box: the text detector (DB) grows each
text kernel it finds by 1.6 x its area / perimeter (RapidOCR's ``unclip_ratio``, a margin for the
recogniser), which often reaches past the plate; the reader takes that margin off along the line's
own axes and grows the kernel by :data:`GLYPH_GROWTH` (0.84) x its area / perimeter instead
(:attr:`TextLine.glyph_box`; a merged line's box is the union of its parts'). Ranking still uses
the detector's quads. Measured 2026-12-06 on the region reader's top reads, box inside the
labelled plate (4 px slack): plates-us 121 -> 209 of 217 located reads, plates-eu 69 -> 104 of
108, reads unchanged.

Speed (2 cores, plates-eu): ~0.4-0.6 s per 450-1000 px photo with the default
``max_side=736``; the first :meth:`PlateReader.read` (or :meth:`PlateReader.load`)
loads the models (~0.3 s). The region reader's first look (a) costs a little less
than the region-free reader's read (its detector input is normalised in float32,
:func:`_det_tensor`); when it looks again (~21 % of plates-us photos) it costs
about 3x, mostly the ``fine_side`` detection pass that ~11 small plates need, so
its p90 stays above the region-free reader's; see ``benchmarks/bench_plate_reader.py``
for the figures.

RapidOCR internals used by the region reader (pinned 3.10.0): the engine's
``_load_det_model()`` / ``_load_rec_model()`` (its detector and recogniser objects),
the detector's ``get_preprocess()`` (its mean, std and scale), ``session`` and ``postprocess_op`` (run once,
post-processed at two thresholds), ``TextRecInput`` and ``get_rotate_crop_image``.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from attendant.core.errors import InputError
from hardware.base import DeviceError
from hardware.plate_confidence import ReadEvidence, calibrated_confidence
from hardware.plate_regions import Region, load_region

__all__ = [
    "INSTALL_HINT",
    "PlateCandidate",
    "PlateReader",
    "TextLine",
    "normalise_plate",
    "plate_candidates",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install rapidocr==3.10.0 onnxruntime"
"""What to install for the reader (the model files come inside the rapidocr wheel)."""

MIN_LEN = 4
MAX_LEN = 10
MIN_ASPECT = 1.5
MAX_ASPECT = 15.0
MAX_UPSCALE = 1.0
WORD_FACTOR = 0.75
"""Region ranking: factor of a read with no digit that fits a syntax only through corrections
(a word bent into a plate); as the region-free shape factor of a word."""
FRAGMENT_FACTOR = 0.8
"""Region ranking: factor of a read whose text and box lie inside a longer read (a part of a plate)."""
BESIDE_FACTOR = 0.8
"""Region ranking: factor of a read with a longer line of text beside it (:func:`_text_beside`)."""
BESIDE_MIN_CHARS = 8
"""Plate characters of a line beside a read that make it a sign's or a sticker's text (on both
development sets, any value from 5 to 13 changes the same one top read, 3479CH -> 7FR971)."""
DET_THRESH = 0.2
"""Region reader: the text detector's pixel threshold (RapidOCR's default 0.3)."""
DET_BOX_THRESH = 0.3
"""Region reader: the text detector's box score threshold (RapidOCR's default 0.5)."""
REC_HEIGHT = 48
"""Input height of the PP-OCR recogniser (``rec_image_shape`` 3x48x320)."""
CROP_WIDTH = 320
"""Plate crops found by :mod:`hardware.plate_detect` are read about this many pixels wide."""
PLATE_CROP_MAX_WIDTH = 640
PLATE_CROP_ASPECT = (1.9, 6.0)
"""An image this narrow with a width/height ratio in this range is taken for a plate crop: when the
region reader finds no text in it, it recognises the whole image as one line. The text detector
finds no line in a tight crop of its characters about one time in twelve; measured on the labelled
boxes of plates-us cut out tight (widths 50-505 px, ratios 2.0-4.6 on both sets), exact reads went
184 -> 194 of 222 and on plates-eu 91 -> 96 of 108, none lost. Camera frames (4:3, 16:9) are
outside the ratio range, so photos are read as before."""
GLYPH_GROWTH = 0.84
"""Glyph box (:attr:`TextLine.glyph_box`, a read's reported box): the text kernel the DB detector
found is grown by this x the kernel's area / perimeter (px a side) instead of by the detector's
unclip ratio (RapidOCR's 1.6: a margin for the recogniser that reaches past the plate). 0.84 is
1 - 0.4^2, the shrink DB's training applies to a text box to make its kernel (Liao et al.,
"Real-time Scene Text Detection with Differentiable Binarization", AAAI 2020; PaddleOCR's
``MakeShrinkMap`` ``shrink_ratio`` 0.4), here a ratio of the kernel's own area / perimeter: a
measured choice, not an exact inverse. Measured 2026-12-06: on 90 rendered plate-like lines with a
known ink box (``benchmarks/bench_glyph_box.py``) the box covers the ink across the line in 80 % of
lines and along it in 89 %, at most 2.1 px (4 % of the ink height) short a side, with a median
margin of 3.8 % of the ink height (1.0: 97 % and 99 %, 0.1 px short at most, margin 8.2 %); the
region reader's top read lies inside the labelled plate (4 px slack, ``bench_plate_reader.py``'s
``inside``) for 209 of 217 located plates-us reads and 104 of 108 plates-eu (1.0: 202 and 98;
the detector's quad: 121 and 69)."""
EDGE_MARGINS = (0.08, 0.15)
"""Region reader: a best read fitting only the catch-all is recognised again in its box widened by each of
these x its width a side (:meth:`PlateReader._edge_reread`)."""
EDGE_SURE = 0.9
"""... and a character the widened box adds at an edge counts when the recogniser scored it at least this.
Measured on plates-us (47 best reads fit only the catch-all; 7 on plates-eu): the re-read gains 627WWI (the
I at 0.97) and AJK7551 (the A at 0.999), and without this floor turned YBW23 into YBW231 (the 1 at 0.87, a
frame edge); no change on plates-eu."""
OPTIONS_PER_CHAR = 4
"""How many of the recogniser's likeliest characters :attr:`TextLine.char_options` keeps per character."""
CROP_CONFIDENT = 0.85
"""Region reader: a read ranking at least this after the plate-shaped crops ends the second look
(no finer detection pass). Measured on plates-us/plates-eu: 0.8-0.95 keep every exact read and
skip the finer pass on 8 of the 47 US photos that look again; 0.7 lost 3 exact reads."""

# Separators a plate may be printed or OCR'd with: spaces, dashes, the
# Czech/Slovak/Croatian coat of arms or stamp read as ":" "·" "=" ".", etc.
_SEPARATORS = set(" -‐‑–—.:·•=_'\"/|,;*+~")
_PLATE_CHARS = re.compile(r"[^A-Z0-9]")
# one character per look-alike group (O/0/Q/D, I/1/L/J, S/5, B/8, Z/2, G/6, A/4), to compare reads of one plate
_LOOKALIKE = str.maketrans("OQD1LJ5B2G4", "000IIIS8Z6A")


@dataclass(frozen=True)
class PlateCandidate:
    """One plate-like read in an image.

    - ``text``: normalised plate text, upper-case ``A-Z0-9`` only (``"RK755AJ"``).
    - ``confidence``: 0..1, the calibrated probability that ``text`` is the
      plate exactly (:func:`hardware.plate_confidence.calibrated_confidence`
      of ``evidence``); what a lane compares with its threshold.
    - ``box``: ``(x, y, w, h)`` pixels in the input image: the glyphs' box
      (:attr:`TextLine.glyph_box`: the text, not the whole plate, without the
      text detector's margin).
    - ``score``: 0..1, the OCR's score for the line (mean of the parts for
      merged lines) times the region fit factor; ranking uses it times a
      plate-likeness factor (None when built by hand).
    - ``evidence``: the features the confidence was computed from.
    """

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    score: float | None = None
    evidence: ReadEvidence | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TextLine:
    """One OCR text line: raw ``text``, ``score`` 0..1 and its quad.

    ``quad`` is four ``(x, y)`` corners in pixels, clockwise from top-left,
    as text detectors report them (the line may be slightly rotated).
    """

    text: str
    score: float
    quad: tuple[tuple[float, float], ...]
    char_scores: tuple[float, ...] = ()
    """The recogniser's score of each character of ``text`` other than spaces, 0..1 (empty: not known)."""
    unclip: float = 0.0
    """The text detector's unclip ratio when ``quad`` is its box (0: not a detector's box, the text fills
    it): DB grows each text kernel by ``unclip x area / perimeter`` px (RapidOCR's ``unclip_ratio`` 1.6,
    ``rapidocr/ch_ppocr_det/utils.py`` ``DBPostProcess.unclip``), a margin :attr:`glyph_box` takes off.
    A ratio, so it holds for a quad scaled back from an enlarged or shrunk detector input."""
    parts: tuple[TextLine, ...] = field(default=(), compare=False, repr=False)
    """A merged line's parts, left to right (:func:`_merge`); empty for a line read as one."""
    char_options: tuple[tuple[tuple[str, float], ...], ...] = field(default=(), compare=False, repr=False)
    """For each character of ``text`` other than spaces (as :attr:`char_scores`), the recogniser's
    :data:`OPTIONS_PER_CHAR` likeliest characters with their probability 0..1, likeliest first (the
    read character among them): what the recogniser thought a doubtful character could also be
    (``L`` 0.77, ``4`` 0.22). Empty: not known."""

    @property
    def width(self) -> float:
        """Length of the line along its baseline, pixels."""
        (p0, p1, p2, p3) = (np.asarray(p, dtype=float) for p in self.quad[:4])
        return float((np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p3)) / 2)

    @property
    def height(self) -> float:
        """Height of the line across its baseline, pixels."""
        (p0, p1, p2, p3) = (np.asarray(p, dtype=float) for p in self.quad[:4])
        return float((np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)) / 2)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Axis-aligned ``(x, y, w, h)`` around the quad, integer pixels."""
        pts = np.asarray(self.quad, dtype=float)
        x0, y0 = np.floor(pts.min(axis=0))
        x1, y1 = np.ceil(pts.max(axis=0))
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)

    @property
    def glyph_box(self) -> tuple[int, int, int, int]:
        """Axis-aligned ``(x, y, w, h)`` around the glyphs, integer pixels: a merged line's is the union of
        its parts'; a detector's quad (``unclip`` > 0) loses the detector's margin: the kernel ``w x h`` is
        solved from ``W = w + 2d``, ``H = h + 2d``, ``d = unclip x w h / (2 (w + h))`` along the line's own
        :attr:`width` / :attr:`height` (``W``, ``H``: a slightly rotated line works) and grown by
        :data:`GLYPH_GROWTH` x its area / perimeter instead, about the quad's centre; other quads are the
        glyphs' box as they are (:attr:`box`)."""
        if self.parts:
            boxes = np.asarray([part.glyph_box for part in self.parts])
            x0, y0 = boxes[:, :2].min(axis=0)
            x1, y1 = (boxes[:, :2] + boxes[:, 2:]).max(axis=0)
            return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
        big_w, big_h = self.width, self.height
        if self.unclip <= 0 or big_w <= 0 or big_h <= 0:
            return self.box
        # d solves 2d (W + H - 4d) = unclip (W - 2d)(H - 2d); the smaller root lies in (0, min(W, H) / 2]
        a, b, c = 4 * self.unclip + 8, -2 * (1 + self.unclip) * (big_w + big_h), self.unclip * big_w * big_h
        d = (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
        w, h = big_w - 2 * d, big_h - 2 * d
        grow = GLYPH_GROWTH * w * h / (2 * (w + h)) if w + h > 0 else 0.0
        pts = np.asarray(self.quad[:4], dtype=float)
        along = (pts[1] - pts[0]) + (pts[2] - pts[3])
        along /= np.linalg.norm(along)
        across = np.array([-along[1], along[0]])
        shrink = ((w + 2 * grow) / big_w) * np.outer(along, along) + ((h + 2 * grow) / big_h) * np.outer(across, across)
        centre = pts.mean(axis=0)
        glyphs = centre + (pts - centre) @ shrink.T
        x0, y0 = np.floor(glyphs.min(axis=0))
        x1, y1 = np.ceil(glyphs.max(axis=0))
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the quad ``(x, y)``, pixels."""
        pts = np.asarray(self.quad, dtype=float)
        cx, cy = pts.mean(axis=0)
        return float(cx), float(cy)


def normalise_plate(text: str) -> str:
    """Plate text as stored and compared: upper-case ``A-Z0-9`` only.

    Accents are stripped (``"Ö"`` -> ``"O"``), everything else that is not a
    Latin letter or a digit is dropped (spaces, dashes, dots, stamps).
    ``normalise_plate("rk-755 aj") == "RK755AJ"``.
    """
    if not isinstance(text, str):
        return ""
    kept = []
    for ch in text:
        if unicodedata.decomposition(ch).startswith(("<sub>", "<super>")):
            continue  # "TS₅260AK": a coat of arms or stamp read as a small digit
        kept.append(unicodedata.normalize("NFKD", ch))
    stripped = "".join(ch for ch in "".join(kept) if not unicodedata.combining(ch))
    return _PLATE_CHARS.sub("", stripped.upper())


def _dropped_chars(raw: str) -> int:
    """How many characters of ``raw`` are neither plate characters nor separators."""
    count = 0
    for ch in raw:
        if ch in _SEPARATORS or ch.isspace():
            continue
        if normalise_plate(ch) == "":
            count += 1
    return count


def _shape_factor(text: str) -> float:
    """Plate-likeness of a normalised text, 0..1 (1 = letters and digits, 5-8 long)."""
    letters = sum(ch.isalpha() for ch in text)
    digits = len(text) - letters
    if letters and digits:
        factor = 1.0
    elif digits:
        factor = 0.8  # a number on a sign, a phone number, a date
    else:
        factor = 0.75  # a word; vanity plates are all letters, so not rejected
    if not 5 <= len(text) <= 8:
        factor *= 0.9
    return factor


def _polarity_factor(image: np.ndarray | None, box: tuple[int, int, int, int]) -> float:
    """1.0 for dark text on a light background (EU/UK plates), 0.85 otherwise.

    Uses Otsu's threshold (OpenCV) on the box: text strokes are the minority
    class, so a plate's dark pixels are fewer than its light ones.
    """
    if image is None:
        return 1.0
    import cv2

    x, y, w, h = box
    crop = image[max(y, 0): max(y + h, 0), max(x, 0): max(x + w, 0)]
    if crop.size == 0 or min(crop.shape[:2]) < 4:
        return 1.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light_share = float(np.count_nonzero(mask)) / mask.size
    return 1.0 if light_share >= 0.5 else 0.85


def _same_line(a: TextLine, b: TextLine) -> bool:
    """True when ``b`` continues ``a`` to the right on the same baseline and size."""
    ha, hb = a.height, b.height
    if ha <= 0 or hb <= 0 or max(ha, hb) / min(ha, hb) > 1.5:
        return False  # the EU band ("D", "GB") and stickers are smaller
    h = max(ha, hb)
    (ax, ay), (bx, by) = a.centre, b.centre
    if abs(ay - by) > 0.35 * h:
        return False
    a_right = max(p[0] for p in a.quad)
    b_left = min(p[0] for p in b.quad)
    gap = b_left - a_right
    return -0.3 * h <= gap <= 1.0 * h and bx > ax


def _merge(parts: Sequence[TextLine]) -> TextLine:
    pts = np.asarray([p for part in parts for p in part.quad], dtype=float)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    text = " ".join(part.text for part in parts)
    total = sum(max(len(part.text), 1) for part in parts)
    score = sum(part.score * max(len(part.text), 1) for part in parts) / total
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    chars = tuple(c for part in parts for c in part.char_scores) if all(p.char_scores for p in parts) else ()
    options = (tuple(o for part in parts for o in part.char_options)
               if all(len(p.char_options) == len(p.char_scores) > 0 for p in parts) else ())
    return TextLine(text, float(score), tuple((float(x), float(y)) for x, y in quad), chars, parts=tuple(parts),
                    char_options=options)


def _merged_lines(lines: Sequence[TextLine]) -> list[TextLine]:
    """Chains of 2-3 neighbouring lines merged left to right (parts are kept separately)."""
    ordered = sorted(lines, key=lambda line: line.centre[0])
    merged: list[TextLine] = []
    for i, first in enumerate(ordered):
        chain = [first]
        for other in ordered[i + 1:]:
            if len(chain) == 3:
                break
            if _same_line(chain[-1], other):
                chain.append(other)
                merged.append(_merge(chain))
    return merged


def plate_candidates(lines: Iterable[TextLine], image: np.ndarray | None = None,
                     *, min_confidence: float = 0.5, region: Region | None = None) -> list[PlateCandidate]:
    """Plate-like reads among OCR text lines, best first.

    ``lines``: every text line the OCR found in one image; ``image`` (BGR,
    optional) lets the ranking prefer dark-on-light text; lines scoring below
    ``min_confidence`` (0..1) are ignored. Each plate text appears once, with
    its best read. Pure function: no model, no I/O.

    ``region`` (:class:`hardware.plate_regions.Region`, optional): the
    region's syntaxes replace the generic letters-and-digits shape factor;
    each read is corrected by position (:meth:`Region.fit`), text that cannot
    be a plate there (state names, slogans, dates, times, phone numbers) is
    dropped, and the candidate's ``confidence`` is the OCR score times the
    fit factor (so a read fitting no syntax reports less).
    """
    return [candidate for _rank, candidate in _ranked(lines, image, min_confidence, region)]


def _ranked(lines: Iterable[TextLine], image: np.ndarray | None, min_confidence: float,
            region: Region | None) -> list[tuple[float, PlateCandidate]]:
    """:func:`plate_candidates` with each candidate's rank (confidence x plate-likeness), best first."""
    lines = [line for line in lines if line.text.strip() and line.score >= min_confidence]
    if region is not None:
        lines = [_weak_i_as_one(line, region) for line in lines]
    scored: dict[str, tuple[float, PlateCandidate]] = {}
    glyphs: dict[str, tuple[int, int, int, int]] = {}  # the reported box; ranking uses the line's box
    agree: dict[str, int] = {}
    for merged, line in [(False, line) for line in lines] + [(True, line) for line in _merged_lines(lines)]:
        raw = line.text.strip()
        text = as_read = normalise_plate(raw)  # letters and digits as read, before any correction
        if not MIN_LEN <= len(text) <= MAX_LEN:
            continue
        letters = [ch for ch in raw if ch.isalpha()]
        lower = sum(ch.islower() for ch in letters)
        if lower > max(1, len(letters) // 4):
            continue  # "Berlingo", "www.umenie.sk": plates are upper-case
        dropped = _dropped_chars(raw)
        if dropped > 2:
            continue  # "©O A.Brekke 2012"-like captions and foreign scripts
        height = line.height
        if height < 6 or not MIN_ASPECT <= line.width / height <= MAX_ASPECT:
            continue
        box = line.box
        score = line.score
        syntax, corrections = "free", 0
        if region is not None:
            fit = region.fit(text, raw, _plate_char_scores(line), _plate_char_options(line))
            if fit.factor <= 0:
                continue
            text, score = fit.text, line.score * fit.factor
            syntax = "none" if fit.syntax is None else ("any" if fit.syntax.area == "any" else "area")
            corrections = fit.corrections
            rank = score * _polarity_factor(image, box)
            if fit.syntax is None or fit.syntax.area == "any":
                rank *= _shape_factor(as_read)  # a catch-all fit: a word ("NORTHERN") is less likely a plate
            elif fit.corrections and not any(ch.isdigit() for ch in as_read):
                rank *= WORD_FACTOR  # a word bent into a plate by its corrections ("LOTOS" -> "LOTO5")
        else:
            rank = line.score * _shape_factor(text) * _polarity_factor(image, box)
        if merged:
            rank *= 1.01  # "VW" + "4X4-WP" on one plate beats "4X4WP" alone
        rank += 1e-4 * min(height, 100) / 100  # tie-break: the nearer (bigger) plate
        agree[text] = agree.get(text, 0) + 1
        letters = sum(ch.isalpha() for ch in as_read)
        evidence = ReadEvidence(line.score, _char_min(line), syntax, corrections, dropped, height,
                                letters=letters, digits=len(as_read) - letters)
        candidate = PlateCandidate(text, 0.0, box, round(min(max(score, 0.0), 1.0), 4), evidence)
        if text not in scored or rank > scored[text][0]:
            scored[text] = (rank, candidate)
            glyphs[text] = line.glyph_box
    ranked = sorted(scored.values(), key=lambda rc: -rc[0])
    if region is not None:
        # a part of a longer read ("IMMI" in "BIMMIAN") counts less, and so does a read with a
        # longer text beside it (a sign's or a sticker's line: "How's My Driving? 3479CH")
        ranked = [(rank * (FRAGMENT_FACTOR if _fragment(candidate, ranked) else 1.0)
                   * (BESIDE_FACTOR if _text_beside(candidate.box, lines) else 1.0), candidate)
                  for rank, candidate in ranked]
        ranked.sort(key=lambda rc: -rc[0])
    return [(rank, replace(_calibrated(rank, candidate, ranked, agree), box=glyphs[candidate.text]))
            for rank, candidate in ranked]


def _scored_chars(line: TextLine) -> list[tuple[str, float]] | None:
    """``line``'s characters but spaces, each with its recogniser score (None: no scores, or not one per
    character)."""
    chars = [ch for ch in line.text if not ch.isspace()]
    if not line.char_scores or len(chars) != len(line.char_scores):
        return None
    return list(zip(chars, line.char_scores))


def _weak_i_as_one(line: TextLine, region: Region) -> TextLine:
    """``line`` with each ``I`` scored below ``region.weak_i_below`` read as ``1`` when the line has a
    digit as read (``"CJI-P5G"`` with ``I`` at 0.82 -> ``"CJ1-P5G"``); unchanged without per-character
    scores. A digit only through the region's translation does not count: "LINCOLN" read with a weak
    ``I`` and ``O`` -> ``0`` stays a word."""
    scored = _scored_chars(line) if region.weak_i_below and "I" in line.text else None
    if not scored or not any(ch.isdigit() for ch, _score in scored):
        return line
    weak = iter(ch == "I" and score < region.weak_i_below for ch, score in scored)
    text = "".join(ch if ch.isspace() else ("1" if next(weak) else ch) for ch in line.text)
    return line if text == line.text else replace(line, text=text)


def _fragment(candidate: PlateCandidate, ranked: Sequence[tuple[float, PlateCandidate]]) -> bool:
    """True when a longer candidate contains ``candidate``'s text and its box (a part of a plate:
    ``"IMMI"`` read from a crop of ``"BIMMIAN"``)."""
    x, y, w, h = candidate.box
    cx, cy = x + w / 2, y + h / 2
    part = candidate.text.translate(_LOOKALIKE)
    for _rank, other in ranked:
        ox, oy, ow, oh = other.box
        if (len(other.text) > len(candidate.text) and part in other.text.translate(_LOOKALIKE)
                and ox <= cx <= ox + ow and oy <= cy <= oy + oh):
            return True
    return False


def _plate_positions(line: TextLine, per_char: Sequence[Any]) -> list[int] | None:
    """Indices into ``per_char`` (one entry per character of ``line.text`` other than spaces, as
    :attr:`TextLine.char_scores`) of the characters :func:`normalise_plate` keeps, in order (None: not one
    entry per character, or a character that normalises to more than one)."""
    chars = [ch for ch in line.text if not ch.isspace()]
    if not per_char or len(chars) != len(per_char):
        return None
    kept = []
    for index, ch in enumerate(chars):
        norm = normalise_plate(ch)
        if len(norm) > 1:
            return None
        if norm:
            kept.append(index)
    return kept


def _plate_char_scores(line: TextLine) -> tuple[float, ...] | None:
    """The per-character scores of ``line``'s plate characters, aligned with :func:`normalise_plate` of its
    text (None: not known, or a character that normalises to other than one character)."""
    kept = _plate_positions(line, line.char_scores)
    return None if kept is None else tuple(line.char_scores[i] for i in kept)


def _plate_char_options(line: TextLine) -> tuple[dict[str, float], ...] | None:
    """:attr:`TextLine.char_options` of ``line``'s plate characters as ``{character: probability}``,
    aligned like :func:`_plate_char_scores` (options normalised the same way, ``"l"`` -> ``"L"``, the
    likelier kept; options that are no plate character dropped). None: not known."""
    kept = _plate_positions(line, line.char_options)
    if kept is None:
        return None
    aligned = []
    for index in kept:
        merged: dict[str, float] = {}
        for option, probability in line.char_options[index]:
            key = normalise_plate(option)
            if len(key) == 1:
                merged[key] = max(merged.get(key, 0.0), probability)
        aligned.append(merged)
    return tuple(aligned)


def _text_beside(box: tuple[int, int, int, int], lines: Sequence[TextLine]) -> bool:
    """True when a line of :data:`BESIDE_MIN_CHARS` or more plate characters sits beside ``box``
    ``(x, y, w, h)``: of 0.6-2.5x its height, overlapping half of the lower one's height, at most
    0.6 heights left or right of it (or overlapping it with its centre outside). A plate's text has
    the plate's edge beside it; a sticker's or a sign's text continues ("Call 1-800 2ADVISE" beside
    a fleet number "3479CH", plates-us wts-lg-000017.jpg)."""
    x, y, w, h = box
    if h <= 0:
        return False
    for line in lines:
        lx, ly, lw, lh = line.box
        if not 0.6 * h <= lh <= 2.5 * h or min(y + h, ly + lh) - max(y, ly) < 0.5 * min(h, lh):
            continue
        if lx >= x + w:
            gap = lx - (x + w)
        elif lx + lw <= x:
            gap = x - (lx + lw)
        elif x <= lx + lw / 2 <= x + w:
            continue  # another read of the same text
        else:
            gap = 0
        if gap <= 0.6 * h and len(normalise_plate(line.text)) >= BESIDE_MIN_CHARS:
            return True
    return False


def _char_min(line: TextLine) -> float | None:
    """The lowest per-character score among ``line``'s plate characters (None: not known)."""
    scored = _scored_chars(line)
    if scored is None:
        return None
    kept = [score for ch, score in scored if normalise_plate(ch)]
    return min(kept) if kept else None


def _calibrated(rank: float, candidate: PlateCandidate, ranked: Sequence[tuple[float, PlateCandidate]],
                agree: dict[str, int]) -> PlateCandidate:
    """``candidate`` with its calibrated confidence (the other reads give agreement and rivals)."""
    from rapidfuzz.distance import Levenshtein

    others = [(r, c.text) for r, c in ranked if c.text != candidate.text]
    runner_up = max((r for r, _t in others), default=0.0) / rank if rank > 0 else 0.0
    rival = max((r for r, t in others if Levenshtein.distance(t, candidate.text, score_cutoff=2) <= 2),
                default=0.0) / rank if rank > 0 else 0.0
    evidence = replace(candidate.evidence, agree=agree.get(candidate.text, 1), rival=round(min(rival, 1.0), 4),
                       runner_up=round(min(runner_up, 1.0), 4))
    return replace(candidate, confidence=calibrated_confidence(evidence), evidence=evidence)


class PlateReader:
    """Reads licence plates in BGR images with RapidOCR's bundled ONNX models.

    The models load on the first :meth:`read` (or an explicit :meth:`load`),
    once, under a lock; one reader may be shared by several cameras (reads
    are serialised). ``max_side`` (pixels): frames larger than this are
    scaled down so their longer side is ``max_side`` before detection (736:
    on plates-eu, 640 and 960 were no more accurate and 960 was slower);
    ``max_upscale``: how much smaller frames may be enlarged (1 = never; 2
    was slower and no more accurate on plates-eu). ``min_confidence`` (0..1)
    drops weaker OCR lines. ``threads``: onnxruntime intra-op threads
    (-1 = all cores). ``region``: a plate region code (``"us"``, ``"us-ca"``,
    ``"eu-de"``, ``"gb"``; files in ``hardware/plate_regions``) or None for
    the region-free ranking (see :func:`plate_candidates`). ``detect``
    (default: on with a region): when the whole frame gives no read ranking
    >= ``detect_below`` (confidence x syntax fit x plate-likeness; without a
    region confidence x plate-likeness, a word or a number only counts
    0.75/0.8), the reader looks again: with a region, steps (b)-(d) of the
    module docstring (``fine_side``: pixels of the finer detection pass, at
    least ``max_side``); without one, up to ``detect_limit`` plate-shaped
    regions found by :func:`hardware.plate_detect.find_plate_boxes` are read at
    their own scale (:meth:`crop_lines`). The best read wins. Defaults (0.6,
    2 boxes, 1024 px) measured on plates-us / plates-eu: more boxes or a higher
    threshold cost time and read no more plates.

    :raises InputError: a bad option or an unknown region.
    :raises DeviceError: (from :meth:`load`/:meth:`read`) rapidocr or
        onnxruntime is not installed, or its bundled models are missing.
    """

    name = "rapidocr"

    def __init__(self, *, max_side: int = 736, max_upscale: float = MAX_UPSCALE, min_confidence: float = 0.5,
                 threads: int = -1, region: str | None = None, detect: bool | None = None,
                 detect_below: float = 0.6, detect_limit: int = 2, fine_side: int = 1024) -> None:
        if not isinstance(max_side, int) or max_side < 64:
            raise InputError(f"max_side must be an integer of at least 64 pixels, got {max_side!r}")
        if not 1.0 <= float(max_upscale) <= 4.0:
            raise InputError(f"max_upscale must be between 1 and 4, got {max_upscale!r}")
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise InputError(f"min_confidence must be between 0 and 1, got {min_confidence!r}")
        self.max_side = max_side
        self.max_upscale = float(max_upscale)
        self.min_confidence = float(min_confidence)
        self.threads = int(threads)
        self.region: Region | None = load_region(region) if region is not None else None
        self.detect = (self.region is not None) if detect is None else bool(detect)
        self.detect_below = float(detect_below)
        self.detect_limit = int(detect_limit)
        if not isinstance(fine_side, int) or fine_side < max_side:
            raise InputError(f"fine_side must be an integer of at least max_side ({max_side}) pixels, got {fine_side!r}")
        self.fine_side = fine_side
        self._engine: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the models are in memory."""
        return self._engine is not None

    def load(self) -> None:
        """Load the detector and recogniser now (otherwise the first read does).

        :raises DeviceError: the library or its models are missing.
        """
        if self._engine is not None:
            return
        with self._load_lock:
            if self._engine is None:
                self._engine = self._build_engine()

    def _build_engine(self) -> Any:
        import cv2

        try:
            import onnxruntime  # noqa: F401 - the inference backend rapidocr needs
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise DeviceError(f"plate reader not installed: {INSTALL_HINT} ({exc})", device=self.name) from exc
        models = Path(rapidocr.__file__).resolve().parent / "models"
        det = models / "PP-OCRv6_det_small.onnx"
        rec = models / "PP-OCRv6_rec_small.onnx"
        missing = [path.name for path in (det, rec) if not path.is_file()]
        if missing:
            raise DeviceError(
                f"plate reader models missing from the rapidocr package ({', '.join(missing)}): {INSTALL_HINT}",
                device=self.name,
            )
        # rapidocr logs every frame without text at WARNING on its own stderr
        # handler, which would draw over the console: keep errors only.
        params = {
            "Global.log_level": "error",
            "Global.use_cls": False,  # plates are upright; the 180-degree classifier only costs time
            "Det.model_path": str(det),
            "Det.limit_type": "max",
            "Det.limit_side_len": self.max_side,
            "Rec.model_path": str(rec),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
        }

        try:
            engine = RapidOCR(params=params)
            # rapidocr loads each model on first use; one call on a line of
            # text loads both (per-call use_det/use_rec flags would stick).
            warm = np.full((64, 256, 3), 255, dtype=np.uint8)
            cv2.putText(warm, "AB 123", (10, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
            engine(warm)
        except Exception as exc:  # onnxruntime raises many types
            raise DeviceError(f"plate reader failed to load its models: {exc}", device=self.name) from exc
        log.info("plate reader loaded RapidOCR %s models from %s", getattr(rapidocr, "__version__", "?"), models)
        return engine

    def ocr_lines(self, image_bgr: np.ndarray) -> list[TextLine]:
        """Every text line the OCR finds in ``image_bgr`` (no plate filtering).

        :raises InputError: not a ``uint8`` ``(H, W)`` or ``(H, W, 3)`` array.
        :raises DeviceError: the reader cannot load.
        """
        image = _check_image(image_bgr)
        self.load()
        # The detector sees the frame with its longer side at most max_side
        # (large frames shrink, for speed); smaller frames may be enlarged up
        # to max_upscale (1 = never: on plates-eu enlarging was slower and
        # no more accurate).
        scale = min(self.max_side / max(image.shape[:2]), self.max_upscale)
        return self._ocr(image, scale)

    def _ocr(self, image: np.ndarray, scale: float, offset: tuple[int, int] = (0, 0)) -> list[TextLine]:
        """OCR ``image`` resized by ``scale``; quads in the caller's pixels (plus ``offset``)."""
        import cv2

        if abs(scale - 1.0) > 0.05:
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
        else:
            scale, work = 1.0, image
        with self._run_lock:
            # per-character scores feed the calibrated confidence (hardware.plate_confidence)
            result, decoded = self._with_options(lambda: self._engine(work, return_word_box=True,
                                                                      return_single_char_box=True))
        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        scores = getattr(result, "scores", None)
        if not txts or boxes is None or scores is None:
            return []
        chars = _char_scores(txts, getattr(result, "word_results", None))
        unclip = self._unclip()
        lines = []
        for text, score, quad, char_scores in zip(txts, scores, boxes, chars):
            corners = np.asarray(quad, dtype=float).reshape(-1, 2)[:4] / scale + np.asarray(offset, dtype=float)
            points = tuple((float(x), float(y)) for x, y in corners)
            if len(points) == 4:
                lines.append(TextLine(str(text), float(score), points, char_scores, unclip,
                                      char_options=decoded.pop(str(text))))
        return lines

    def frame_lines(self, image: np.ndarray, side: int, *, plain: bool = True, faint: bool = True
                    ) -> tuple[list[TextLine], list[np.ndarray]]:
        """Text lines of the whole frame, found with its longer side at ``side`` px (never enlarged).

        Returns ``(lines, faint_quads)``: ``lines`` (empty unless ``plain``) are the boxes
        the text detector finds with RapidOCR's default thresholds, read from the shrunk
        frame (as :meth:`ocr_lines`); ``faint_quads`` (empty unless ``faint``) are the
        boxes found on the *same* detector output with the lower :data:`DET_THRESH` /
        :data:`DET_BOX_THRESH` (small, low-contrast plates), as ``(4, 2)`` float arrays in
        input-image pixels, not yet read: :meth:`quad_lines` reads them at full resolution.
        """
        detection = self._detect(image, side)
        lines = self._plain_lines(detection) if plain else []
        return lines, (self._faint_quads(detection) if faint else [])

    def _detect(self, image: np.ndarray, side: int) -> tuple[Any, np.ndarray, float]:
        """The text detector's output map for ``image`` shrunk to ``side`` px: ``(preds, work, scale)``
        (``preds`` None for an empty frame); post-processed by :meth:`_plain_lines` /
        :meth:`_faint_quads`, so a later look reuses it without detecting again."""
        import cv2

        scale = min(side / max(image.shape[:2]), 1.0)
        work = image if scale > 0.95 else cv2.resize(image, None, fx=scale, fy=scale,
                                                      interpolation=cv2.INTER_AREA)
        if work is image:
            scale = 1.0
        with self._run_lock:
            detector = self._engine._load_det_model()
            detector.limit_side_len = max(work.shape[:2])
            try:
                tensor = _det_tensor(work, detector.get_preprocess())
                preds = None if tensor is None else detector.session(tensor)
            finally:
                detector.limit_side_len = self.max_side
        return preds, work, scale

    def _post(self, detection: tuple[Any, np.ndarray, float], thresholds: tuple[float, float] | None) -> list[Any]:
        preds, work, _scale = detection
        if preds is None:
            return []
        with self._run_lock:
            post = self._engine._load_det_model().postprocess_op
            if thresholds is None:
                return list(post(preds, work.shape[:2])[0])
            defaults = (post.thresh, post.box_thresh)
            try:
                post.thresh, post.box_thresh = thresholds
                return list(post(preds, work.shape[:2])[0])
            finally:
                post.thresh, post.box_thresh = defaults

    def _plain_lines(self, detection: tuple[Any, np.ndarray, float]) -> list[TextLine]:
        """The default-threshold boxes of a detection read from the shrunk frame, in input pixels."""
        _preds, work, scale = detection
        quads = [np.asarray(box, dtype=np.float32).reshape(-1, 2)[:4] for box in self._post(detection, None)]
        lines = self._recognise(work, quads, full=False, unclip=self._unclip())
        return [replace(line, quad=tuple((x / scale, y / scale) for x, y in line.quad)) for line in lines]

    def _faint_quads(self, detection: tuple[Any, np.ndarray, float]) -> list[np.ndarray]:
        """The low-threshold boxes of a detection, ``(4, 2)`` arrays in input pixels (not yet read)."""
        scale = detection[2]
        return [np.asarray(box, dtype=np.float32).reshape(-1, 2)[:4] / scale
                for box in self._post(detection, (DET_THRESH, DET_BOX_THRESH))]

    def quad_lines(self, image: np.ndarray, quads: Sequence[np.ndarray], *, unclip: float = 0.0) -> list[TextLine]:
        """Read each quad (``(4, 2)`` pixels of ``image``) cut out of ``image`` at its own
        resolution (shrunk with area averaging to the recogniser's height, :func:`_rec_crop`).
        ``unclip``: the detector's unclip ratio when the quads are its boxes (:attr:`TextLine.unclip`)."""
        return self._recognise(image, quads, full=True, unclip=unclip)

    def _unclip(self) -> float:
        """The text detector's unclip ratio (:attr:`TextLine.unclip`; RapidOCR's ``unclip_ratio``)."""
        return float(getattr(self._engine._load_det_model().postprocess_op, "unclip_ratio", 0.0))

    def _recognise(self, source: np.ndarray, quads: Sequence[np.ndarray], *, full: bool,
                   unclip: float = 0.0) -> list[TextLine]:
        from rapidocr.ch_ppocr_rec import TextRecInput
        from rapidocr.utils.process_img import get_rotate_crop_image

        if not len(quads):
            return []
        crops = [get_rotate_crop_image(source, np.ascontiguousarray(quad, dtype=np.float32).copy())
                 for quad in quads]
        if full:
            crops = [_rec_crop(crop) for crop in crops]
        with self._run_lock:  # return_word_box: the recogniser's per-character scores (WordInfo.confs)
            rec = self._engine._load_rec_model()
            result, decoded = self._with_options(lambda: rec(TextRecInput(img=crops, return_word_box=True)))
        words = tuple(result.word_results or ())
        lines = []
        for index, (text, score, quad) in enumerate(zip(result.txts or (), result.scores or (), quads)):
            text = str(text)
            if text.strip():
                confs = getattr(words[index], "confs", None) if index < len(words) else None
                chars = (tuple(float(c) for ch, c in zip(text, confs) if not ch.isspace())
                         if confs and len(confs) == len(text) else ())
                lines.append(TextLine(text, float(score), tuple((float(x), float(y)) for x, y in quad), chars, unclip,
                                      char_options=decoded.pop(text)))
        return lines

    def _with_options(self, recognise: Callable[[], Any]) -> tuple[Any, _Decoded]:
        """``(recognise(), the character options of the lines it read)``: ``recognise`` is a RapidOCR call
        made under the run lock; the options are kept (:class:`_OptionsDecode`, wrapped around the
        recogniser's decoder once) only for a region, whose fit uses them (:meth:`Region.fit`)."""
        if self.region is None:  # the region-free ranking has no use for them
            return recognise(), _Decoded({})
        rec = self._engine._load_rec_model()
        if not isinstance(rec.postprocess_op, _OptionsDecode):
            rec.postprocess_op = _OptionsDecode(rec.postprocess_op)
        rec.postprocess_op.start()
        try:
            result = recognise()
        finally:
            decoded = rec.postprocess_op.take()
        return result, decoded

    def crop_lines(self, image: np.ndarray, box: tuple[int, int, int, int]) -> list[TextLine]:
        """OCR lines of one plate-sized ``box`` ``(x, y, w, h)`` read at its own scale
        (enlarged so the box is about :data:`CROP_WIDTH` px wide, at most 4x), in image pixels."""
        x, y, w, h = box
        mx, my = int(w * 0.15) + 2, int(h * 0.35) + 2
        x0, y0 = max(x - mx, 0), max(y - my, 0)
        x1, y1 = min(x + w + mx, image.shape[1]), min(y + h + my, image.shape[0])
        crop = image[y0:y1, x0:x1]
        if crop.size == 0 or min(crop.shape[:2]) < 8:
            return []
        scale = min(max(CROP_WIDTH / crop.shape[1], 1.0), 4.0)
        return self._ocr(np.ascontiguousarray(crop), scale, (x0, y0))

    def read(self, image_bgr: np.ndarray) -> list[PlateCandidate]:
        """Plate-like reads in one image, best first (empty list: no plate seen).

        ``image_bgr``: ``uint8`` array ``(H, W, 3)`` BGR (as ``cv2.imread`` and
        ``cv2.VideoCapture.read`` return) or ``(H, W)`` grey.

        :raises InputError: not an image array.
        :raises DeviceError: rapidocr/onnxruntime missing (message says what to install).
        """
        image = _check_image(image_bgr)
        if self.region is not None:
            return self._read_region(image)
        lines = self.ocr_lines(image)
        found = plate_candidates(lines, image, min_confidence=self.min_confidence, region=self.region)
        if not self.detect or (found and found[0].score * _shape_factor(found[0].text) >= self.detect_below):
            return found  # a confident read that looks like a plate (not a word, not only digits)
        # Nothing plate-like enough in the whole frame: look for plate-shaped
        # regions (OpenCV geometry) and read each at its own scale.
        from hardware.plate_detect import find_plate_boxes

        for box in find_plate_boxes(image, limit=self.detect_limit):
            lines.extend(self.crop_lines(image, box))
        return plate_candidates(lines, image, min_confidence=self.min_confidence, region=self.region)

    def _read_region(self, image: np.ndarray) -> list[PlateCandidate]:
        """The region reader (:meth:`_looks`), then, when its best read fits only the catch-all, that
        read's box widened and recognised again (:meth:`_edge_reread`)."""
        found, lines = self._looks(image)
        return self._edge_reread(image, found, lines)

    def _edge_reread(self, image: np.ndarray, found: list[PlateCandidate], lines: list[TextLine]
                     ) -> list[PlateCandidate]:
        """``found`` again with one more line when its best read fits no area's syntax (only the catch-all,
        or none): the read's box, widened by each of :data:`EDGE_MARGINS` x its width a side, is recognised
        again, and a line that reads the same text with one more character at an edge, that character
        scored >= :data:`EDGE_SURE`, fitting an area's syntax as read (:func:`_edge_extension`), joins the
        lines, which are ranked again. The text detector's box sometimes cuts a plate's first or last
        character off (plates-us car1.jpg 627-WW for 627WWI, wts-lg-000044.jpg JK-7551 for AJK7551)."""
        if not found or found[0].evidence is None or found[0].evidence.syntax not in ("any", "none"):
            return found
        x, y, w, h = found[0].box
        height, width = image.shape[:2]
        quads = []
        for margin in EDGE_MARGINS:
            x0, y0 = max(x - margin * w, 0.0), max(y - 0.2 * h, 0.0)
            x1, y1 = min(x + w + margin * w, width - 1.0), min(y + 1.2 * h, height - 1.0)
            quads.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32))
        for line in self.quad_lines(image, quads):
            side = _edge_extension(found[0].text, line, self.region)
            if side:
                # the read's box, one character wider on the side the character was added: the widened box
                # holds the plate's surroundings too (the read's box is reported, :attr:`PlateCandidate.box`)
                step = w / max(len(found[0].text), 1)
                x0, x1 = (x - step, x + w) if side == "start" else (x, x + w + step)
                x0, x1 = max(x0, 0.0), min(x1, width - 1.0)
                quad = ((x0, float(y)), (x1, float(y)), (x1, float(y + h)), (x0, float(y + h)))
                return plate_candidates([*lines, replace(line, quad=quad)], image, min_confidence=self.min_confidence,
                                        region=self.region)
        return found

    def _looks(self, image: np.ndarray) -> tuple[list[PlateCandidate], list[TextLine]]:
        """The region reader's looks, ``(candidates best first, the text lines they were ranked from)``:
        the frame at ``max_side``, then (no confident plate) the plate-shaped
        boxes' crops, then (still no read ranking >= :data:`CROP_CONFIDENT`) the faint boxes at
        ``fine_side``; all lines ranked together.

        Early exits between looks were measured on plates-us with the raw reads cached: stopping
        after the faint boxes (read first, as before) once a read ranks >= 0.6 lost 7 of 189 exact
        reads and at >= 0.85 still lost 2; stopping after the crops (read first, as now) at
        >= 0.8-0.95 lost none (0.7: 3) and skips the finer pass on 8 of the 47 photos that look
        again. The finer pass is needed for ~11 small plates (detecting it on tiles around weak
        text or plate-shaped boxes instead changed the detector's boxes and lost 3 to 9 of the 34
        exact reads among those 47: the detector's output depends on the context around a tile) and
        the crops for 5 more, so neither is skipped otherwise."""
        self.load()
        detection = self._detect(image, self.max_side)
        lines = self._plain_lines(detection)
        ranked = _ranked(lines, image, self.min_confidence, self.region)
        if not self.detect or (ranked and ranked[0][0] >= self.detect_below):
            return [candidate for _rank, candidate in ranked], lines  # a confident read that fits a plate syntax
        # No confident plate. First the plate-shaped regions (OpenCV geometry), each read at its own
        # scale: a read they give that ranks >= CROP_CONFIDENT ends the look (the cheaper half) ...
        if self.detect_limit:
            from hardware.plate_detect import find_plate_boxes

            for box in find_plate_boxes(image, limit=self.detect_limit):
                lines.extend(self.crop_lines(image, box))
            ranked = _ranked(lines, image, self.min_confidence, self.region)
            if ranked and ranked[0][0] >= CROP_CONFIDENT:
                return [candidate for _rank, candidate in ranked], lines
        # ... otherwise a frame larger than max_side is detected again at fine_side (small plates;
        # its faint boxes include the plain ones), a smaller one has the faint boxes of the first
        # detection (its output map is reused, not run again), and each box is read at full resolution
        if max(image.shape[:2]) > self.max_side * 1.15:
            faint = self._faint_quads(self._detect(image, self.fine_side))
        else:
            faint = self._faint_quads(detection)
        lines.extend(self.quad_lines(image, faint, unclip=self._unclip()))
        found = plate_candidates(lines, image, min_confidence=self.min_confidence, region=self.region)
        if not found and _plate_crop(image):  # the image is a plate: read it whole, as one line
            height, width = image.shape[:2]
            whole = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
            lines = self.quad_lines(image, [whole])
            found = plate_candidates(lines, image, min_confidence=self.min_confidence, region=self.region)
        return found, lines


def _edge_extension(text: str, line: TextLine, region: Region) -> str | None:
    """``"start"`` or ``"end"`` (where the character was added; None: not so) when ``line`` reads ``text`` (a normalised read, after the region's translation) with one more
    character at its start or end, scored >= :data:`EDGE_SURE` by the recogniser, and fits one of
    ``region``'s area syntaxes as read (no correction, no trim): the character the first read's box cut
    off (:meth:`PlateReader._edge_reread`)."""
    longer = region.translated(normalise_plate(line.text))
    scores = _plate_char_scores(line)
    if len(longer) != len(text) + 1 or scores is None or len(scores) != len(longer):
        return None
    if longer[1:] == text:
        side, edge = "start", scores[0]
    elif longer[:-1] == text:
        side, edge = "end", scores[-1]
    else:
        return None
    if edge < EDGE_SURE:
        return None
    fit = region.fit(longer, line.text, scores, _plate_char_options(line))
    taken = fit.syntax is not None and fit.syntax.area != "any" and fit.corrections == 0 and fit.text == longer
    return side if taken else None


def _plate_crop(image: np.ndarray) -> bool:
    """Whether ``image`` is itself a plate cut out of a photo (a camera's or another system's plate crop):
    at most :data:`PLATE_CROP_MAX_WIDTH` px wide, width/height within :data:`PLATE_CROP_ASPECT`."""
    height, width = image.shape[:2]
    return width <= PLATE_CROP_MAX_WIDTH and PLATE_CROP_ASPECT[0] <= width / max(height, 1) <= PLATE_CROP_ASPECT[1]


def _det_tensor(work: np.ndarray, preprocess: Any) -> np.ndarray | None:
    """The text detector's input for ``work``, as RapidOCR's ``DetPreProcess`` makes it (sides
    rounded to multiples of 32 px with ``cv2.resize``, ``(x / 255 - mean) / std`` per channel,
    ``(1, 3, H, W)`` float32) but computed in float32 (RapidOCR's subtracts a float64 mean, so
    it computes the whole frame in float64: 30-40 ms of a ~0.25 s detection at 736 px on 2 busy
    cores); None for an image too small to round. Same values as RapidOCR's (measured bit-equal
    on plates-us frames at 736 and 1024 px; at most float32 rounding apart in general)."""
    import cv2

    height, width = work.shape[:2]
    rounded_h, rounded_w = int(round(height / 32) * 32), int(round(width / 32) * 32)
    if rounded_h <= 0 or rounded_w <= 0:
        return None
    if (rounded_h, rounded_w) != (height, width):
        work = cv2.resize(work, (rounded_w, rounded_h))
    std = np.asarray(preprocess.std, dtype=np.float64)
    gain = (preprocess.scale / std).astype(np.float32)
    shift = (np.asarray(preprocess.mean, dtype=np.float64) / std).astype(np.float32)
    tensor = work.astype(np.float32)
    tensor *= gain
    tensor -= shift
    return np.ascontiguousarray(tensor.transpose(2, 0, 1))[np.newaxis]


def _rec_crop(crop: np.ndarray) -> np.ndarray:
    """A text crop for the recogniser: taller than :data:`REC_HEIGHT` px is shrunk to it with
    area averaging (the recogniser's own bilinear resize would alias the strokes)."""
    import cv2

    height, width = crop.shape[:2]
    if height <= REC_HEIGHT:
        return crop
    return cv2.resize(crop, (max(1, round(width * REC_HEIGHT / height)), REC_HEIGHT), interpolation=cv2.INTER_AREA)


class _OptionsDecode:
    """RapidOCR's CTC decoder (``rapidocr/ch_ppocr_rec/utils.py`` ``CTCLabelDecode``, greedy: each
    time step's likeliest class, repeats merged, blanks dropped), wrapped: it decodes as before and
    also keeps, for each character of each line, the :data:`OPTIONS_PER_CHAR` likeliest classes over
    the time steps that character spans (each class's highest probability there), so a doubtful
    character's runner-up is known (:attr:`TextLine.char_options`). Used under the reader's run lock:
    :meth:`start` before a recognition, :meth:`take` after it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.character = inner.character
        self._decoded: dict[str, list[tuple[tuple[tuple[str, float], ...], ...]]] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start(self) -> None:
        self._decoded = {}

    def take(self) -> _Decoded:
        decoded, self._decoded = self._decoded or {}, None
        return _Decoded(decoded)

    def __call__(self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any) -> Any:
        out = self.inner(preds, return_word_box, **kwargs)
        if self._decoded is not None:
            for batch, (text, _score) in enumerate(out[0]):
                self._decoded.setdefault(str(text), []).append(self._options(preds[batch], str(text)))
        return out

    def _options(self, probs: np.ndarray, text: str) -> tuple[tuple[tuple[str, float], ...], ...]:
        tokens = probs.argmax(axis=1)
        spans: list[list[int]] = []
        previous = -1
        for step, token in enumerate(tokens):
            if token != previous and token != 0:  # 0: CTC blank
                spans.append([step, step + 1])
            elif token == previous and token != 0:
                spans[-1][1] = step + 1
            previous = token
        if len(spans) != len(text):
            return ()
        options = []
        for (start, stop), ch in zip(spans, text):
            if ch.isspace():
                continue
            best = probs[start:stop].max(axis=0)
            best[0] = -1.0  # the blank is no character
            count = min(OPTIONS_PER_CHAR, len(best) - 1)
            top = np.argpartition(-best, count)[:count]
            top = top[np.argsort(-best[top], kind="stable")]
            options.append(tuple((self.character[k], round(float(best[k]), 4)) for k in top
                                 if k < len(self.character)))
        return tuple(options)


class _Decoded:
    """Options kept by :class:`_OptionsDecode` during one recognition, handed out by line text."""

    def __init__(self, decoded: dict[str, list[tuple[tuple[tuple[str, float], ...], ...]]]) -> None:
        self._decoded = decoded

    def pop(self, text: str) -> tuple[tuple[tuple[str, float], ...], ...]:
        found = self._decoded.get(text)
        return found.pop(0) if found else ()


def _char_scores(txts: Sequence[str], words: Any) -> list[tuple[float, ...]]:
    """Per-character scores of each line from RapidOCR's ``word_results`` (single-character
    boxes: one ``(char, score, box)`` per character); ``()`` for a line they do not match
    (RapidOCR drops empty entries, so they are aligned by text, not by index)."""
    out: list[tuple[float, ...]] = []
    pending = list(words or ())
    for text in txts:
        want = "".join(str(text).split())
        found: tuple[float, ...] = ()
        if pending:
            entry = pending[0]
            try:
                got = "".join("".join(str(item[0]).split()) for item in entry)
                if got == want and len(entry) == len(want):
                    found = tuple(float(item[1]) for item in entry)
                    pending.pop(0)
            except (TypeError, IndexError, ValueError):
                found = ()
        out.append(found)
    return out


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError(f"expected a uint8 numpy image, got {type(image).__name__}")
    if image.ndim == 2:
        import cv2

        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
        raise InputError(f"expected an (H, W, 3) BGR image, got shape {image.shape}")
    return image
