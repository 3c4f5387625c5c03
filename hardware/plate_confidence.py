"""A plate read's confidence as a calibrated probability that the read is exact.

The OCR's own score (the mean of its per-character scores) is not a
probability that the plate was read right: on the development sets 16 % of
the region reader's reads scoring >= 0.6 were wrong, because a wrong read is
usually a confident read of the wrong text (a sticker, a phone number, a plate
frame) or of one character out of seven. This module turns what is known
about one read (its :class:`ReadEvidence`) into ``P(read == plate)`` with a
small logistic model whose coefficients live in ``plate_confidence.json``
next to this file (fitted and cross-validated by
``benchmarks/fit_plate_confidence.py``; the file records how).

Features (each monotone, each with a reason):

- ``char``: logit of the weakest per-character score among the plate's
  characters (RapidOCR's ``return_single_char_box`` scores; the line score
  when they are unknown), capped at :data:`CHAR_CAP`: one doubtful character
  makes the whole plate doubtful, which the line's mean hides; above ~0.99
  a character score says nothing more (measured on the development sets:
  reads whose weakest character scores >= 0.995 were exact less often than
  those at 0.97-0.995, because the OCR is as sure of a sticker or another
  car's plate as of the plate);
- ``area`` / ``catchall`` / ``free``: the read fits one of the region's
  area syntaxes (``hardware.plate_regions``) / only its catch-all syntax /
  the reader has no region (against: it fits none of the region's syntaxes);
- ``corrected``: characters changed by position (O -> 0 in a digit slot) or
  trimmed to fit a syntax;
- ``rival``: the strongest *different* read of the same plate (another
  candidate within two edits) relative to this one's rank, 0..1;
- ``runner_up``: the next candidate's rank relative to this one's, 0..1
  (a second plate-like text in the frame: which is the plate?);
- ``small``: how far the text is below 20 px high (log2; 0 when taller);
- ``mixed``: the read holds letters and digits (a word, a phone or fleet
  number holds one kind only);
- ``short``: the read has 5 characters or fewer (a character dropped, a
  badge or a fleet number).

The fit keeps each coefficient on the side its reason gives it, or at 0
(:data:`SIGNS`); since the 2026-12-06 refit (US syntaxes of more states, weak
characters corrected more readily) ``corrected`` and ``runner_up`` weigh 0: 14
of the 16 corrected top reads of the region reader were exact.

Also recorded in :class:`ReadEvidence` but not in the model, because they
did not help on the development sets (cross-validated): the line's mean
OCR score (the weakest character carries its information), the count of
lines that read the same text (crops are read only when the whole frame gave
no confident read, so agreement came with doubtful frames) and the
characters dropped in normalisation.

Shapes: scores and confidences are floats 0..1; heights are pixels. Pure
functions, no I/O except reading the JSON model once.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FEATURES",
    "SIGNS",
    "MODEL_FILE",
    "ReadEvidence",
    "calibrated_confidence",
    "feature_vector",
    "load_model",
]

MODEL_FILE = Path(__file__).resolve().with_name("plate_confidence.json")
FEATURES = ("char", "area", "catchall", "free", "corrected", "rival", "runner_up", "small", "mixed", "short")
"""The model's inputs, in the order of :func:`feature_vector` and of the JSON ``coefficients``."""

SIGNS = {"char": 1, "area": 1, "catchall": 0, "free": 0, "corrected": -1, "rival": -1, "runner_up": -1,
         "small": -1, "mixed": 1, "short": -1}
"""The direction each feature's reason gives it (+1 more confidence, -1 less, 0 either): the fit
(``benchmarks/fit_plate_confidence.py``) keeps every coefficient on its side or at 0, so a doubt
never raises the confidence where a few hundred photos happen to say so (the 2026-12-06 refit,
unconstrained, gave ``corrected`` +0.14 and ``runner_up`` +0.27: 14 of 16 corrected reads were exact)."""

_EPS = 1e-5
CHAR_CAP = 0.99
"""Character scores above this count as this (see ``char`` in the module docstring)."""


@dataclass(frozen=True)
class ReadEvidence:
    """What is known about one candidate read (built by :func:`hardware.plate_reader.plate_candidates`).

    - ``ocr``: the OCR line's score 0..1 (length-weighted mean of the parts of a merged line);
    - ``char_min``: the lowest per-character score 0..1 among the plate's characters, None when
      the OCR gave no per-character scores;
    - ``syntax``: ``"area"`` (fits an area's syntax of the region), ``"any"`` (only the catch-all),
      ``"none"`` (fits no syntax) or ``"free"`` (no region given);
    - ``corrections``: characters changed by position or trimmed to fit the syntax;
    - ``dropped``: characters of the OCR text that were neither plate characters nor separators;
    - ``height``: text height in pixels of the input image;
    - ``agree``: OCR lines of the frame that gave this same text (1: only this one);
    - ``rival``: the best other candidate within two edits of this text, its rank / this rank (0..1, 0: none);
    - ``runner_up``: the best other candidate's rank / this rank (0..1, 0: none);
    - ``letters`` / ``digits``: characters of each kind in the read as the OCR gave it (before any
      correction by position: a correction must not make a phone number look like a plate).
    """

    ocr: float
    char_min: float | None
    syntax: str
    corrections: int = 0
    dropped: int = 0
    height: float = 20.0
    agree: int = 1
    rival: float = 0.0
    runner_up: float = 0.0
    letters: int = 0
    digits: int = 0


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def feature_vector(evidence: ReadEvidence) -> list[float]:
    """The model's inputs for one read, in :data:`FEATURES` order."""
    char = evidence.char_min if evidence.char_min is not None else evidence.ocr
    return [
        _logit(min(char, CHAR_CAP)),
        1.0 if evidence.syntax == "area" else 0.0,
        1.0 if evidence.syntax == "any" else 0.0,
        1.0 if evidence.syntax == "free" else 0.0,
        float(min(evidence.corrections, 3)),
        min(max(float(evidence.rival), 0.0), 1.0),
        min(max(float(evidence.runner_up), 0.0), 1.0),
        max(0.0, math.log2(20.0 / max(float(evidence.height), 1.0))),
        1.0 if evidence.letters and evidence.digits else 0.0,
        1.0 if evidence.letters + evidence.digits <= 5 else 0.0,
    ]


@functools.lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> tuple[float, tuple[float, ...]]:
    """``(intercept, coefficients)`` from the JSON model file (coefficients in :data:`FEATURES` order).

    :raises ValueError: the file does not name exactly :data:`FEATURES` or a value is not a number.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    coefficients = data["coefficients"]
    if list(coefficients) != list(FEATURES):
        raise ValueError(f"{path}: coefficients must be {list(FEATURES)}, got {list(coefficients)}")
    values = tuple(float(coefficients[name]) for name in FEATURES)
    intercept = float(data["intercept"])
    if not all(math.isfinite(v) for v in (intercept, *values)):
        raise ValueError(f"{path}: coefficients must be finite numbers")
    return intercept, values


def calibrated_confidence(evidence: ReadEvidence, model: tuple[float, Sequence[float]] | None = None) -> float:
    """``P(read is exact)`` 0..1 for one read, rounded to 4 places (see the module docstring).

    ``model``: ``(intercept, coefficients)``; default: :func:`load_model`.
    """
    intercept, weights = model if model is not None else load_model()
    z = intercept + sum(w * x for w, x in zip(weights, feature_vector(evidence)))
    z = min(max(z, -30.0), 30.0)
    return round(1.0 / (1.0 + math.exp(-z)), 4)
