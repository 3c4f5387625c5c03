"""Plate syntaxes by region, loaded from data files (one TOML file per region).

Each ``hardware/plate_regions/<code>.toml`` (read with the standard library's
:mod:`tomllib`) describes the plates of one region (``gb``, ``eu``, ``us``,
...), with the source of every syntax in the file itself:

- ``name``, ``sources`` (list of documents the file was written from);
- ``[classes]``: one upper-case symbol per character class, e.g.
  ``L = "ABCDEFGHJKLMNPRSTUVWXYZ"``, ``D = "0123456789"``;
- ``[translate]`` (optional): characters replaced in every read before
  matching (``O = "0"`` where a region never issues the letter O);
- ``[[syntax]]``: ``area`` (a country or state code inside the region,
  ``"any"`` for a catch-all; or a list of codes for a format several states share), ``name``, ``format`` (class symbols with
  optional repeat counts and separators as printed, ``"LL DDD LL"``,
  ``"L{1,3} L{1,2} D{1,4}"``), ``max_length`` (optional), ``weight``
  (0..1, default 1: how much a fit counts; a catch-all gets less),
  ``source`` (where the syntax comes from), ``example`` (a real-looking
  plate that must fit, checked on load);
- ``unmatched`` (0..1): rank factor for a read that fits no syntax (0 drops it);
- ``max_corrections``: confusable characters that may be changed by position;
- ``weak_i_below`` (0..1, default 0 = off): an ``I`` whose per-character recogniser score is
  below it, in a read with a digit, is read as ``1`` (evidence-based, per region);
- ``weak_below`` (0..1, default 0 = off): a character scored below it that a syntax wants as
  its look-alike is corrected at :data:`WEAK_CORRECTION_FACTOR` instead of
  :data:`CORRECTION_FACTOR` (evidence-based, per region);
- ``[reject]``: ``words`` (normalised texts that are never plates: state
  names, slogans; a read equal to one, or containing one of 6+ characters,
  is dropped) and ``patterns`` (Python regular expressions searched in the
  raw OCR text: dates, times, phone numbers).

A region is named ``CODE`` (every area) or ``CODE-AREA`` (``us-ca``,
``eu-de``: that area's syntaxes only). A new region is one new file.

Shapes: texts are normalised plates (``A-Z0-9``); factors are floats 0..1.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from attendant.core.errors import InputError


def normalise(text: str) -> str:
    """A reject word as reads are compared: upper-case ``A-Z0-9`` only (the words are ASCII)."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())

__all__ = ["CONFUSABLE", "Fit", "Region", "Syntax", "available_regions", "load_region"]

FOLDER = Path(__file__).resolve().parent
CORRECTION_FACTOR = 0.8
"""Rank factor per corrected character: below a catch-all's weight (0.85), so a read that fits
as read is not bent into a syntax, but above ``unmatched``."""
TRIM_FACTOR = 0.9
"""Rank factor of a read whose first or last character is dropped so the rest fits an
area's syntax exactly ("4AYX8803" -> "AYX8803"): above a catch-all's weight (0.85)."""
DROP_BELOW = 0.5
"""A character the recogniser scored below this may be an extra one (see :meth:`Region.fit`)."""
WEAK_CORRECTION_FACTOR = 0.9
"""Rank factor per corrected character the recogniser scored below the region's ``weak_below``:
above a catch-all's weight (0.85), so a doubtful character is read as the syntax wants."""
OPTION_MIN = 0.05
"""A character the recogniser gave at least this probability at a position (its options, see
:attr:`hardware.plate_reader.TextLine.char_options`) is what a slot of the other kind is corrected to,
before the fixed look-alike in :data:`CONFUSABLE`."""
OPTION_WEAK = 0.2
"""A correction to a character the recogniser gave at least this probability counts as a doubtful
character's (:data:`WEAK_CORRECTION_FACTOR`), whatever the read character's own score: the recogniser
itself saw both (plates-us: ``L`` 0.77 / ``4`` 0.22 in California's 1ABC234). Measured on plates-us and
plates-eu, region reader end to end: 0.15-0.2 gain 4GLS168 and 4FCW533 (read with an L first) and lose
none; 0.1 loses YF2U68 (-> YF2U6B) and 0.05 also 6HP995 (-> GHP995) and two EU plates."""
OUT_OF_AREA = 0.7
"""Weight multiplier of ``area = "any"`` syntaxes when one area is chosen (``us-ca``)."""

#: Characters an OCR confuses, each with what it may have been in a slot of
#: the other kind (letter <-> digit). A digit becomes only its look-alike letter
#: (0 -> O, never Q or D: the full EU bench turned RK340A0 into a French-style
#: RK340AQ when 0 could become Q). Source: the failure classes measured on
#: plates-us/plates-eu (issue 14) and the usual OCR confusion pairs.
CONFUSABLE: dict[str, str] = {
    "0": "O", "O": "0", "Q": "0", "D": "0", "U": "0",
    "1": "I", "I": "1", "J": "1", "L": "1", "T": "1",
    "2": "Z", "Z": "2", "5": "S", "S": "5", "8": "B", "B": "8",
    "6": "G", "G": "6", "4": "A", "A": "4", "7": "T",
}

_TOKEN = re.compile(r"([A-Z])(?:\{(\d+)(?:,(\d+))?\})?|([ \-.·/]+)")


@dataclass(frozen=True)
class Syntax:
    """One plate syntax: ``templates`` are tuples of allowed-character sets, one per position."""

    area: str
    name: str
    format: str
    weight: float
    source: str
    templates: tuple[tuple[frozenset[str], ...], ...] = field(repr=False)
    areas: tuple[str, ...] = ()
    """Every area code the syntax belongs to (``area`` is them joined with commas)."""


@dataclass(frozen=True)
class Fit:
    """How a read fits a region: ``text`` after correction, ``factor`` 0..1 for ranking
    (0: rejected), ``syntax`` (None: fits none), ``corrections`` made."""

    text: str
    factor: float
    syntax: Syntax | None
    corrections: int


def _expand(fmt: str, classes: dict[str, frozenset[str]], max_length: int | None, where: str
            ) -> tuple[tuple[frozenset[str], ...], ...]:
    pos = 0
    parts: list[list[tuple[frozenset[str], ...]]] = []
    fmt = fmt.strip()
    while pos < len(fmt):
        match = _TOKEN.match(fmt, pos)
        if not match:
            raise InputError(f"{where}: cannot read format {fmt!r} at {fmt[pos:]!r}")
        pos = match.end()
        if match.group(4):
            continue  # printed separator: plates are compared without them
        symbol = match.group(1)
        if symbol not in classes:
            raise InputError(f"{where}: format {fmt!r} uses class {symbol!r}, not in [classes]")
        low = int(match.group(2) or 1)
        high = int(match.group(3) or low)
        if not 1 <= low <= high <= 10:
            raise InputError(f"{where}: bad repeat count in {fmt!r}")
        parts.append([(classes[symbol],) * n for n in range(low, high + 1)])
    templates = []
    for combo in itertools.product(*parts):
        template = tuple(itertools.chain.from_iterable(combo))
        if max_length is None or len(template) <= max_length:
            templates.append(template)
    if not templates:
        raise InputError(f"{where}: format {fmt!r} allows no plate")
    return tuple(templates)


class Region:
    """A region's plate syntaxes and rejection rules (see the module docstring).

    Build with :func:`load_region`. :meth:`fit` scores one normalised read.
    """

    def __init__(self, code: str, data: dict, *, area: str | None = None, path: Path | None = None) -> None:
        where = str(path or code)
        self.code = code if area is None else f"{code}-{area}"
        self.name = str(data.get("name", code))
        self.sources = [str(s) for s in data.get("sources", [])]
        raw_classes = data.get("classes") or {}
        if not raw_classes:
            raise InputError(f"{where}: [classes] is missing")
        classes = {}
        for symbol, chars in raw_classes.items():
            if not re.fullmatch(r"[A-Z]", symbol) or not isinstance(chars, str) or not re.fullmatch(r"[A-Z0-9]+",
                                                                                                    chars):
                raise InputError(f"{where}: class {symbol!r} must be one capital letter naming A-Z0-9 characters")
            classes[symbol] = frozenset(chars)
        self.translate = {}
        for src, dst in (data.get("translate") or {}).items():
            if len(src) != 1 or len(dst) != 1:
                raise InputError(f"{where}: translate maps one character to one, got {src!r} = {dst!r}")
            self.translate[src] = dst
        self._table = str.maketrans(self.translate)
        self.unmatched = float(data.get("unmatched", 0.5))
        self.max_corrections = int(data.get("max_corrections", 2))
        self.weak_i_below = float(data.get("weak_i_below", 0.0))
        """An ``I`` the recogniser scores below this, in a read with a digit, is read as ``1`` (0: never)."""
        self.weak_below = float(data.get("weak_below", 0.0))
        """A corrected character the recogniser scored below this costs :data:`WEAK_CORRECTION_FACTOR`
        instead of :data:`CORRECTION_FACTOR` (0: never)."""
        if (not 0 <= self.unmatched <= 1 or not 0 <= self.max_corrections <= 4 or not 0 <= self.weak_i_below <= 1
                or not 0 <= self.weak_below <= 1):
            raise InputError(f"{where}: unmatched, weak_below, weak_i_below must be 0..1 and max_corrections 0..4")
        self.syntaxes: list[Syntax] = []
        areas = set()
        for i, entry in enumerate(data.get("syntax", [])):
            label = f"{where} syntax #{i + 1}"
            for key in ("name", "format", "source"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise InputError(f"{label}: {key} is required (text)")
            codes = entry.get("area")
            codes = [codes] if isinstance(codes, str) else codes
            if (not isinstance(codes, list) or not codes
                    or not all(isinstance(c, str) and re.fullmatch(r"[a-z0-9]{1,4}", c) for c in codes)
                    or (len(codes) > 1 and "any" in codes)):
                raise InputError(f"{label}: area is required (a code such as \"ca\", or a list of codes)")
            weight = float(entry.get("weight", 1.0))
            if not 0 < weight <= 1:
                raise InputError(f"{label}: weight must be in (0, 1]")
            areas.update(codes)
            syntax = Syntax(",".join(codes), entry["name"], entry["format"], weight, entry["source"],
                            _expand(entry["format"], classes, entry.get("max_length"), label), tuple(codes))
            example = entry.get("example")
            if example is not None and not any(_fits(example, t) for t in syntax.templates):
                raise InputError(f"{label}: example {example!r} does not fit {entry['format']!r}")
            if area is not None and syntax.area == "any":
                # one area chosen: the catch-all (other areas' plates) counts less
                syntax = replace(syntax, weight=syntax.weight * OUT_OF_AREA)
            if area is None or area in syntax.areas or syntax.area == "any":
                self.syntaxes.append(syntax)
        if area is not None and area not in areas:
            raise InputError(f"region {code!r} has no area {area!r}; areas: {', '.join(sorted(areas))}")
        if not self.syntaxes:
            raise InputError(f"{where}: no [[syntax]] entries")
        reject = data.get("reject") or {}
        # words are written as spelled ("CALIFORNIA"); the region's translation applies to them too
        self.reject_words = frozenset(normalise(str(w)).translate(self._table) for w in reject.get("words", []))
        try:
            self.reject_patterns = [re.compile(p) for p in reject.get("patterns", [])]
        except re.error as exc:
            raise InputError(f"{where}: bad reject pattern: {exc}") from exc
        self.areas = sorted(areas)
        # how many areas issue each letter/digit shape (LLLDDDD: 12 states), to choose between two trims
        self._issuers: dict[str, int] = {}
        for shape in {_shape(t) for syn in self.syntaxes if syn.area != "any" for t in syn.templates}:
            self._issuers[shape] = len({a for syn in self.syntaxes if syn.area != "any"
                                        for t in syn.templates if _shape(t) == shape for a in syn.areas})
        self.longest = max((len(t) for syn in self.syntaxes if syn.area != "any" for t in syn.templates), default=0)

    def translated(self, text: str) -> str:
        """A normalised read with the region's ``[translate]`` applied (US: ``O`` -> ``0``), as :meth:`fit`
        compares it."""
        return text.translate(self._table)

    def rejects(self, raw: str, text: str) -> bool:
        """True when ``raw`` (OCR text) / ``text`` (normalised) cannot be a plate here."""
        if text in self.reject_words or any(len(w) >= 6 and w in text for w in self.reject_words):
            return True
        return any(p.search(raw) for p in self.reject_patterns)

    def fit(self, text: str, raw: str | None = None, scores: Sequence[float] | None = None,
            options: Sequence[Mapping[str, float]] | None = None) -> Fit:
        """Best fit of a normalised read: the syntax with the highest factor, where each
        confusable character corrected by position (a letter slot never keeps ``0``, a
        digit slot never ``O``) multiplies it by :data:`CORRECTION_FACTOR`, or by
        :data:`WEAK_CORRECTION_FACTOR` when ``scores`` (the recogniser's score 0..1 of each
        character of ``text``, same length; optional) put it below the region's ``weak_below``.
        ``options`` (optional, same length): for each character, ``{character: probability}`` of what the
        recogniser thought it could be; a slot of the other kind takes the likeliest option it allows
        (>= :data:`OPTION_MIN`) before the fixed look-alike, and a correction to an option the recogniser
        gave >= :data:`OPTION_WEAK` counts as a doubtful character's.

        ``factor`` = syntax weight x CORRECTION_FACTOR per correction; ``unmatched`` when no syntax fits;
        0 when the read is rejected (state name, slogan, date, time, phone number).
        When no syntax fits (or only a catch-all, for a read one character longer than any
        area's syntax), a read whose first or last character dropped fits an area's syntax
        exactly is trimmed (factor weight x :data:`TRIM_FACTOR`): a frame edge, a sticker or
        a stacked letter read as an extra character; when both ends would do, the end the
        recogniser scored lower goes, else the one leaving the format more areas issue.
        With ``scores``, a character scored below :data:`DROP_BELOW` anywhere in a read that
        fits no syntax as well as that (factor < TRIM_FACTOR, no correction) is dropped the
        same way when the rest fits an area's syntax exactly (plates-eu: RK565AV read
        RK0565AV, the 0 at 0.37; measured on both sets: any threshold 0.4-0.7 gains it and
        loses nothing, once a read a syntax takes by correction is left alone).
        """
        text = text.translate(self._table)
        weak = (tuple(score < self.weak_below for score in scores)
                if self.weak_below and scores is not None and len(scores) == len(text) else None)
        if options is not None and len(options) == len(text):
            options = [{ch.translate(self._table): p for ch, p in sorted(choice.items(), key=lambda cp: cp[1])}
                       for choice in options]
        else:
            options = None
        if self.rejects(raw if raw is not None else text, text):
            return Fit(text, 0.0, None, 0)
        best: Fit | None = None
        best_seen = 0.0
        for syntax in self.syntaxes:
            for template in syntax.templates:
                if len(template) != len(text):
                    continue
                fixed = _correct(text, template, self.max_corrections, weak, options)
                if fixed is None:
                    continue
                corrected, count, weak_count, seen = fixed
                factor = syntax.weight * CORRECTION_FACTOR ** (count - weak_count) * WEAK_CORRECTION_FACTOR ** weak_count
                # equal factors: fewer corrections, then the corrections the recogniser saw likelier (plates-eu
                # test_036: RK708A1, its 1 seen as I 0.17 and T 0.05: Slovak RK708AI, not a French RK708AT)
                if best is None or (factor, -count, seen) > (best.factor, -best.corrections, best_seen):
                    best, best_seen = Fit(corrected, factor, syntax, count), seen
        trimmed_score = None  # the recogniser's score of the end character a trim below dropped (None: no trim)
        if best is None or (best.syntax.area == "any" and len(text) == self.longest + 1):
            # one character more than any area's plate: an extra character at either end
            # (a frame edge, a sticker, a stacked letter) when the rest fits a syntax as read
            # both ends may leave a fit (AVP24031: AVP2403 in 12 states' ABC-1234, VP24031 in
            # AB-12345 of 2): the end whose character the recogniser scored lower goes, else the
            # format more areas issue
            trims = []
            for end, trimmed in ((0, text[1:]), (-1, text[:-1])):
                for syntax in self.syntaxes:
                    if syntax.area == "any" or not any(_fits(trimmed, t) for t in syntax.templates):
                        continue
                    doubt = -scores[end] if scores is not None and len(scores) == len(text) else 0.0
                    trims.append((syntax.weight * TRIM_FACTOR, doubt, self._issuers.get(trimmed.translate(_SHAPE), 0),
                                  -len(trims), Fit(trimmed, syntax.weight * TRIM_FACTOR, syntax, 1)))
            if trims:
                chosen = max(trims, key=lambda t: t[:4])
                if best is None or chosen[4].factor > best.factor:
                    best, trimmed_score = chosen[4], -chosen[1]
        scored = scores is not None and len(scores) == len(text)
        if scored and (best is None or (best.factor < TRIM_FACTOR and not best.corrections)
                       or trimmed_score is not None):
            # a character the recogniser barely saw (< DROP_BELOW), anywhere in the read, is an
            # extra one (a screw, a bolt, a stacked letter, a hyphen read as 0) when the rest
            # fits an area's syntax as read; it goes before an end character trimmed above when
            # the recogniser scored that end higher (plates-eu test_076: 4B281875, its 8 at 0.49,
            # is 4B21875, not 4B28187 with the 5 read at 1.00 trimmed)
            for i, score in enumerate(scores):
                if score >= DROP_BELOW or (trimmed_score is not None and score >= trimmed_score):
                    continue
                rest = text[:i] + text[i + 1:]
                for syntax in self.syntaxes:
                    if syntax.area == "any" or not any(_fits(rest, t) for t in syntax.templates):
                        continue
                    factor = syntax.weight * TRIM_FACTOR
                    if best is None or factor > best.factor or (trimmed_score is not None and factor >= best.factor):
                        best, trimmed_score = Fit(rest, factor, syntax, 1), None
        if best is None or best.factor < self.unmatched:
            return Fit(text, self.unmatched, None, 0)  # read as read rather than bent into a syntax
        return best


_SHAPE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "L" * 26 + "D" * 10)


def _shape(template: tuple[frozenset[str], ...]) -> str:
    """``"LLLDDDD"``-like shape of a template: D for a digits-only slot, L otherwise."""
    return "".join("D" if allowed <= frozenset("0123456789") else "L" for allowed in template)


def _fits(text: str, template: tuple[frozenset[str], ...]) -> bool:
    return len(text) == len(template) and all(ch in allowed for ch, allowed in zip(text, template))


def _correct(text: str, template: tuple[frozenset[str], ...], limit: int, weak: Sequence[bool] | None = None,
             options: Sequence[Mapping[str, float]] | None = None) -> tuple[str, int, int, float] | None:
    """``(corrected text, corrections, corrections of weak characters, how likely the recogniser saw the
    corrections)`` (the last: the product of their ``options`` probabilities, 0 when not known), None when
    ``text`` cannot fit. A slot takes the likeliest of the recogniser's ``options`` it allows (>=
    :data:`OPTION_MIN`), else the look-alike (:data:`CONFUSABLE`)."""
    out, count, weak_count, seen_all = [], 0, 0, 1.0
    for i, (ch, allowed) in enumerate(zip(text, template)):
        if ch in allowed:
            out.append(ch)
            continue
        seen = options[i] if options else {}
        allowed_options = [(p, c) for c, p in seen.items() if c in allowed and p >= OPTION_MIN]
        swap = max(allowed_options)[1] if allowed_options else next(
            (c for c in CONFUSABLE.get(ch, "") if c in allowed), None)
        if swap is None:
            return None
        out.append(swap)
        count += 1
        weak_count += bool((weak and weak[i]) or seen.get(swap, 0.0) >= OPTION_WEAK)
        seen_all *= seen.get(swap, 0.0)
        if count > limit:
            return None
    return "".join(out), count, weak_count, seen_all


def available_regions() -> list[str]:
    """Codes of the region files shipped (``["eu", "gb", "us"]``)."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


@functools.lru_cache(maxsize=32)
def load_region(name: str) -> Region:
    """The region ``CODE`` or ``CODE-AREA`` (``"us"``, ``"us-ca"``, ``"eu-de"``), from its file.

    :raises InputError: unknown region or area, or a malformed file (the message names it).
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{1,4})?", name.strip().lower()):
        raise InputError(f"region must be CODE or CODE-AREA such as us, us-ca, eu-de, gb; got {name!r}")
    code, _, area = name.strip().lower().partition("-")
    path = FOLDER / f"{code}.toml"
    if not path.is_file():
        raise InputError(f"unknown plate region {code!r}; known: {', '.join(available_regions())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    return Region(code, data, area=area or None, path=path)
