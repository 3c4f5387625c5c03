"""Many frames, one read: a character-wise vote over the reads of one passage.

A camera samples several frames while a vehicle passes; each frame's best
read may differ by a character (``"6MMD595"``, ``"6MMD59S"``, ``"6MMD595"``).
:func:`vote` combines them into one plate with a confidence:

1. the plate's length is the length with the most summed confidence;
2. among reads of that length, each position takes the character with the
   most summed confidence;
3. a position's confidence pools the ``k`` reads that agree on its
   character: their geometric-mean odds ``c / (1 - c)`` times ``k``, as a
   probability, times that character's share of the position's weight; the
   plate's confidence is the weakest position's, times the winning length's
   share of all the weight.

So one read of confidence ``c`` gives ``c``; frames that agree raise it
(two reads at 0.8 give 0.89, three 0.92) and frames that disagree lower it;
the lane compares it with its threshold as for a single read.

Why not the noisy-OR ``1 - prod(1 - c)`` of independent frames (two reads
at 0.8 would give 0.96): the frames of one passage fail together (the same
sticker or the same dropped character in every frame), so agreement is
weaker evidence than independence says. Measured with
``benchmarks/fit_plate_confidence.py --vote`` (the development photos, each
with two perturbed copies as a passage of three frames, cross-validated
read confidences): the noisy-OR put 242 of 330 passages at >= 0.95 with a
mean confidence of 0.995, of which 92.6 % were exact; the pooled odds give
168 there at a mean of 0.978, 93.5 % exact, and the lower Brier score
(0.098 against 0.0995). The inputs are
:func:`hardware.plate_confidence.calibrated_confidence` values.

At the console's 0.9 threshold (6 Dec 2026, the same passages, plates-us) the pooled odds are
still too sure: 96.5 % of the 143 voted reads at >= 0.9 are exact (one frame: 98.3 % of 117).
Raising the count to a power ``a`` instead of 1 gave 97.7 % of 133 (``a`` 0.5), 97.5 % of 122
(0.25) and 98.2 % of 109 (0: agreement adds nothing, fewer reads accepted than from one frame).
The perturbed copies of one photo fail together more than a camera's real frames would, so the
count keeps its weight until real passages are measured.

Shapes: reads are ``(text, confidence)`` with ``text`` a normalised plate
(``A-Z0-9``) and confidence 0..1; pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["VotedPlate", "vote"]


@dataclass(frozen=True)
class VotedPlate:
    """The vote's plate: ``text``, ``confidence`` 0..1, ``agreeing`` reads of the winning
    length, ``reads`` counted (empty texts are not counted)."""

    text: str
    confidence: float
    agreeing: int
    reads: int


def _pooled(support: list[float]) -> float:
    """``k`` agreeing confidences as one: geometric-mean odds times ``k`` (see the module docstring)."""
    logits = [math.log(c / (1.0 - c)) for c in (min(max(c, 1e-6), 1.0 - 1e-6) for c in support)]
    z = sum(logits) / len(logits) + math.log(len(logits))
    return 1.0 / (1.0 + math.exp(-min(max(z, -30.0), 30.0)))


def vote(reads: Iterable[tuple[str, float]]) -> VotedPlate | None:
    """One plate from the reads of one passage (see the module docstring); None when no read has text.

    :raises ValueError: a confidence outside 0..1.
    """
    kept: list[tuple[str, float]] = []
    for text, confidence in reads:
        if not 0.0 <= float(confidence) <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
        if text:
            kept.append((text, float(confidence)))
    if not kept:
        return None
    by_length: dict[int, float] = defaultdict(float)
    for text, confidence in kept:
        by_length[len(text)] += confidence
    total = sum(by_length.values())
    length = max(by_length, key=lambda n: (by_length[n], n))
    same = [(text, confidence) for text, confidence in kept if len(text) == length]
    chars = []
    weakest = 1.0
    for i in range(length):
        weights: dict[str, list[float]] = defaultdict(list)
        for text, confidence in same:
            weights[text[i]].append(confidence)
        char, support = max(weights.items(), key=lambda kv: (sum(kv[1]), kv[0]))
        position_total = sum(sum(v) for v in weights.values())
        share = sum(support) / position_total if position_total else 1.0 / len(weights)
        agreed = _pooled(support)
        weakest = min(weakest, agreed * share)
        chars.append(char)
    length_share = by_length[length] / total if total else 1.0
    return VotedPlate("".join(chars), round(weakest * length_share, 4), len(same), len(kept))
