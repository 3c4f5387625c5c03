"""Fit and cross-validate the plate reader's calibrated confidence (``hardware/plate_confidence.json``).

Usage::

    python benchmarks/fit_plate_confidence.py [--set FOLDER:REGION ...] [--cache FILE]
                                              [--threshold C] [--l2 L] [--write]

``--set`` (repeatable; default ``../shared/data/plates-us:us`` and
``../shared/data/plates-eu:eu``): a folder of labelled photos (the
``bench_plate_reader.py`` label format) and the region its reader uses.

Each photo is read once by :class:`hardware.plate_reader.PlateReader` (the
OCR lines of the whole frame and of every plate crop are cached in
``--cache``, default ``/tmp/plate_confidence_ocr.pkl``, so refits take
seconds, for the region-free reader: the region reader's own looks are not cached, so a refit
reads every photo again, ~6 min for both sets on 2 cores); the top read's
:class:`hardware.plate_confidence.ReadEvidence` and
whether it is exact form one training row. A logistic model over
:data:`hardware.plate_confidence.FEATURES` is fitted by Newton's method with
an L2 penalty ``--l2`` on the coefficients (not the intercept), each
coefficient kept on the side :data:`hardware.plate_confidence.SIGNS` gives it
(or at 0).

Printed for the in-sample fit, 5-fold cross-validation (folds stratified by
set and outcome, fixed seed) and leave-one-set-out (fit on the other set,
predict this one): per set, the share of reads at confidence >=
``--threshold`` (default: the console's
:data:`attendant.core.plate_match.DEFAULT_CONFIRM_THRESHOLD`, 0.8) that are
exact ("precision"), the share of all photos read exactly at or above it
("coverage"), the Brier score, and a reliability table by confidence bucket.
``--write`` stores the in-sample coefficients with their provenance in
``hardware/plate_confidence.json``.

``--vote`` also checks the multi-frame vote (:func:`hardware.plate_vote.vote`):
each photo becomes a passage of three frames, the photo and two copies
slightly zoomed (0.85-1.1x), shifted (3 %), exposed differently and
JPEG-recompressed at quality 60-90 (one also blurred), the same for every run
(seeded by the photo's name); the region reader's top read of each frame
gets the confidence of the cross-validation fold the photo was *not* fitted
on, and the vote's confidence is measured like a single read's.

``--speed N``: what the per-character scores cost. The OCR of the first N
photos of each set (frames scaled as the reader does) is timed with and
without RapidOCR's ``return_word_box``/``return_single_char_box``, the two
alternating twice per photo in the same run; medians and totals are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEFAULT_SETS = (f"{DATA / 'plates-us'}:us", f"{DATA / 'plates-eu'}:eu")
BUCKETS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 1.0001)


def _cached_reader(region: str | None, cache: dict):
    """A :class:`PlateReader` whose OCR calls (whole frame, crops) are memoised in ``cache``."""
    from hardware.plate_reader import PlateReader, TextLine

    class CachedReader(PlateReader):
        def _key(self, image: np.ndarray, what: object) -> tuple:
            return hashlib.sha1(image.tobytes()).hexdigest(), image.shape, what, self.max_side

        def _memo(self, key: tuple, compute) -> list:
            if key not in cache:
                cache[key] = [(ln.text, ln.score, ln.quad, ln.char_scores) for ln in compute()]
            return [TextLine(*row) for row in cache[key]]

        def ocr_lines(self, image_bgr: np.ndarray) -> list:
            return self._memo(self._key(image_bgr, "whole"), lambda: super(CachedReader, self).ocr_lines(image_bgr))

        def crop_lines(self, image: np.ndarray, box: tuple) -> list:
            return self._memo(self._key(image, tuple(box)), lambda: super(CachedReader, self).crop_lines(image, box))

    return CachedReader(region=region)


def collect(sets: list[tuple[Path, str]], cache_file: Path) -> list[dict]:
    """Two rows per photo (the region reader's and the region-free baseline's top read): set name,
    reader, features of the top read (None: no read), exact or not."""
    import cv2

    from benchmarks.bench_plate_reader import load_labels
    from hardware.plate_confidence import feature_vector

    cache = pickle.loads(cache_file.read_bytes()) if cache_file.is_file() else {}
    rows = []
    started = time.perf_counter()
    for folder, region in sets:
        readers = {"region": _cached_reader(region, cache), "baseline": _cached_reader(None, cache)}
        for i, label in enumerate(load_labels(folder)):
            image = cv2.imread(str(label.image), cv2.IMREAD_COLOR)
            if image is None:
                continue
            for kind, reader in readers.items():
                found = reader.read(image)
                top = found[0] if found else None
                rows.append({
                    "set": folder.name, "reader": kind, "image": label.image.name, "label": label.plate,
                    "read": top.text if top else None,
                    "x": feature_vector(top.evidence) if top else None,
                    "evidence": top.evidence if top else None,
                    "score": top.score if top else None,
                    "exact": bool(top and top.text == label.plate),
                })
            if (i + 1) % 50 == 0:
                cache_file.write_bytes(pickle.dumps(cache))
                print(f"  {folder.name}: {i + 1} photos, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cache_file.write_bytes(pickle.dumps(cache))
    return rows


def perturbed(image: np.ndarray, seed_text: str, kind: str) -> np.ndarray:
    """Another frame of the same passage (see the module docstring); deterministic for ``seed_text``."""
    import zlib

    import cv2

    rng = np.random.default_rng(zlib.crc32(f"{seed_text}/{kind}".encode()))
    h, w = image.shape[:2]
    s = rng.uniform(0.85, 1.1)
    dx, dy = rng.uniform(-0.03, 0.03, 2) * (w, h)
    m = np.float32([[s, 0, (1 - s) * w / 2 + dx], [0, s, (1 - s) * h / 2 + dy]])
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = cv2.convertScaleAbs(out, alpha=rng.uniform(0.8, 1.15), beta=rng.uniform(-15, 15))
    if kind == "b":
        out = cv2.GaussianBlur(out, (3, 3), 0.7)
    _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def passages(sets: list[tuple[Path, str]], cache_file: Path) -> list[dict]:
    """Per photo: the region reader's top read (text, features) of the photo and of its two perturbed frames."""
    import cv2

    from benchmarks.bench_plate_reader import load_labels
    from hardware.plate_confidence import feature_vector

    cache = pickle.loads(cache_file.read_bytes()) if cache_file.is_file() else {}
    out = []
    started = time.perf_counter()
    for folder, region in sets:
        reader = _cached_reader(region, cache)
        for i, label in enumerate(load_labels(folder)):
            image = cv2.imread(str(label.image), cv2.IMREAD_COLOR)
            if image is None:
                continue
            frames = []
            for kind in ("", "a", "b"):
                frame = image if not kind else perturbed(image, f"{folder.name}/{label.image.name}", kind)
                found = reader.read(frame)
                frames.append((found[0].text, feature_vector(found[0].evidence)) if found else None)
            out.append({"set": folder.name, "image": label.image.name, "label": label.plate, "frames": frames})
            if (i + 1) % 50 == 0:
                cache_file.write_bytes(pickle.dumps(cache))
                print(f"  {folder.name} passages: {i + 1}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cache_file.write_bytes(pickle.dumps(cache))
    return out


def speed(sets: list[tuple[Path, str]], photos: int) -> None:
    """Time the OCR call with and without per-character scores (see the module docstring)."""
    import statistics

    import cv2

    from benchmarks.bench_plate_reader import load_labels
    from hardware.plate_reader import PlateReader

    reader = PlateReader()
    reader.load()
    times: dict[bool, list[float]] = {False: [], True: []}
    for folder, _region in sets:
        for label in load_labels(folder)[:photos]:
            image = cv2.imread(str(label.image), cv2.IMREAD_COLOR)
            scale = min(reader.max_side / max(image.shape[:2]), 1.0)
            if scale < 1.0:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            for flag in (False, True, False, True):
                started = time.perf_counter()
                reader._engine(image, return_word_box=flag, return_single_char_box=flag)
                times[flag].append(time.perf_counter() - started)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"OCR call, {len(times[True])} per mode: median {off:.3f} s without per-character scores, {on:.3f} s "
          f"with ({on / off:.3f}x); totals {sum(times[False]):.1f} s and {sum(times[True]):.1f} s "
          f"({sum(times[True]) / sum(times[False]):.3f}x)")


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Logistic regression by Newton's method with each coefficient kept on the side
    :data:`hardware.plate_confidence.SIGNS` gives it (a coefficient on the wrong side is fixed
    at 0 and the rest refitted, the worst first, until none is); returns
    ``[intercept, *coefficients]``."""
    from hardware.plate_confidence import FEATURES, SIGNS

    signs = np.array([SIGNS[name] for name in FEATURES], dtype=float) if x.shape[1] == len(FEATURES) else None
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        w = np.zeros(x.shape[1] + 1)
        w[np.r_[True, free]] = _newton(x[:, free], y, l2)
        if signs is None:
            return w
        wrong = np.where(signs * w[1:] < 0, -signs * w[1:], 0.0)
        if not wrong.any():
            return w
        free[int(np.argmax(wrong))] = False


def _newton(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Unconstrained L2-penalised logistic regression by Newton's method: ``[intercept, *coefficients]``."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(w[0] + x @ w[1:], -30, 30)))


def figures(rows: list[dict], conf: np.ndarray, threshold: float) -> dict:
    """Precision at >= threshold, coverage, Brier score and reliability buckets for ``rows``."""
    exact = np.array([r["exact"] for r in rows], dtype=float)
    read = np.array([r["x"] is not None for r in rows])
    above = read & (conf >= threshold)
    table = []
    for lo, hi in itertools.pairwise(BUCKETS):
        inside = read & (conf >= lo) & (conf < hi)
        if inside.any():
            table.append((lo, min(hi, 1.0), int(inside.sum()), float(conf[inside].mean()), float(exact[inside].mean())))
    return {
        "photos": len(rows),
        "precision": float(exact[above].mean()) if above.any() else None,
        "above": int(above.sum()),
        "coverage": float((exact * above).sum() / len(rows)) if rows else 0.0,
        "exact": float(exact.mean()) if rows else 0.0,
        "brier": float(((conf[read] - exact[read]) ** 2).mean()) if read.any() else None,
        "table": table,
    }


def _print(title: str, by_set: dict[str, dict], threshold: float) -> None:
    print(f"{title}")
    for name, f in by_set.items():
        prec = f"{100 * f['precision']:.1f} %" if f["precision"] is not None else "-"
        print(f"  {name:<10} exact at conf>={threshold:g}: {prec} ({f['above']} reads); coverage "
              f"{100 * f['coverage']:.1f} % of {f['photos']} photos (exact overall {100 * f['exact']:.1f} %); "
              f"Brier {f['brier']:.3f}")
        for lo, hi, n, mean, share in f["table"]:
            print(f"      conf {lo:.2f}-{hi:.2f}: {n:4d} reads, mean conf {mean:.3f}, exact {share:.3f}")


def main(argv: list[str] | None = None) -> int:
    from attendant.core.plate_match import DEFAULT_CONFIRM_THRESHOLD
    from hardware.plate_confidence import FEATURES, MODEL_FILE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], help="FOLDER:REGION (repeatable)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/plate_confidence_ocr.pkl"))
    parser.add_argument("--threshold", type=float, default=DEFAULT_CONFIRM_THRESHOLD)
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the coefficients (default 1)")
    parser.add_argument("--write", action="store_true", help=f"store the in-sample model in {MODEL_FILE.name}")
    parser.add_argument("--vote", action="store_true", help="also check the vote of three frames per photo")
    parser.add_argument("--speed", type=int, default=0, metavar="N",
                        help="only time the OCR with and without per-character scores on N photos per set")
    args = parser.parse_args(argv)
    sets = []
    for spec in args.set or DEFAULT_SETS:
        folder, _, region = spec.rpartition(":")
        if not folder or not Path(folder).is_dir():
            print(f"skipped: {spec} (FOLDER:REGION with an existing folder)", file=sys.stderr)
            continue
        sets.append((Path(folder), region))
    if not sets:
        return 0
    if args.speed:
        speed(sets, args.speed)
        return 0
    rows = collect(sets, args.cache)
    names = sorted({r["set"] for r in rows})
    groups = [f"{s} {k}" for s in names for k in ("region", "baseline")]
    read = [r for r in rows if r["x"] is not None]
    x = np.array([r["x"] for r in read])
    y = np.array([r["exact"] for r in read], dtype=float)
    where = {id(r): i for i, r in enumerate(read)}

    def per_set(conf_of_read: np.ndarray) -> dict[str, dict]:
        out = {}
        for name in groups + ["all region"]:
            subset = [r for r in rows if name in (f"all {r['reader']}", f"{r['set']} {r['reader']}")]
            conf = np.array([conf_of_read[where[id(r)]] if id(r) in where else 0.0 for r in subset])
            out[name] = figures(subset, conf, args.threshold)
        return out

    before = per_set(np.array([r["score"] for r in read], dtype=float))
    _print("before: the OCR score x region fit factor (the confidence on main):", before, args.threshold)
    w = fit(x, y, args.l2)
    print(f"{len(rows)} photo x reader rows, {len(read)} reads, {int(y.sum())} exact; "
          f"features {', '.join(FEATURES)}")
    print("coefficients: intercept " + f"{w[0]:+.3f}, " + ", ".join(f"{n} {v:+.3f}" for n, v in zip(FEATURES, w[1:])))
    insample = per_set(predict(w, x))
    _print("in-sample (fitted on all photos):", insample, args.threshold)

    rng = np.random.default_rng(14)
    # folds by photo (both readers' rows of one photo in the same fold), stratified by set
    fold_of: dict[tuple[str, str], int] = {}
    for name in names:
        photos = sorted({r["image"] for r in rows if r["set"] == name})
        rng.shuffle(photos)
        fold_of.update({(name, photo): k % 5 for k, photo in enumerate(photos)})
    folds = np.array([fold_of[(r["set"], r["image"])] for r in read])
    cv = np.zeros(len(read))
    for k in range(5):
        test = folds == k
        cv[test] = predict(fit(x[~test], y[~test], args.l2), x[test])
    kfold = per_set(cv)
    _print("5-fold cross-validated:", kfold, args.threshold)

    loso = np.zeros(len(read))
    for name in names:
        test = np.array([r["set"] == name for r in read])
        if (~test).sum() and len(set(y[~test])) == 2:
            loso[test] = predict(fit(x[~test], y[~test], args.l2), x[test])
    held = per_set(loso)
    _print("leave-one-set-out (each set predicted by a model fitted on the other):", held, args.threshold)

    if args.vote:
        _check_vote(sets, args, rows, read, x, y, folds)

    if args.write:
        model = {
            "intercept": round(float(w[0]), 4),
            "coefficients": {n: round(float(v), 4) for n, v in zip(FEATURES, w[1:])},
            "provenance": {
                "fitted": datetime.now(UTC).strftime("%Y-%m-%d"),
                "by": "benchmarks/fit_plate_confidence.py --write (logistic regression, Newton's method, "
                      f"L2 {args.l2:g} on the coefficients)",
                "data": "the top read of PlateReader(region=R) and of PlateReader() on each photo of the sets",
                "sets": [f"{folder.name}:{region}" for folder, region in sets],
                "threshold": args.threshold,
                "before_ocr_score": {n: {"precision": _r(f["precision"]), "coverage": _r(f["coverage"])}
                                     for n, f in before.items()},
                "in_sample": {n: {"precision": _r(f["precision"]), "coverage": _r(f["coverage"])}
                              for n, f in insample.items()},
                "five_fold_cv": {n: {"precision": _r(f["precision"]), "coverage": _r(f["coverage"])}
                                 for n, f in kfold.items()},
                "leave_one_set_out": {n: {"precision": _r(f["precision"]), "coverage": _r(f["coverage"])}
                                      for n, f in held.items() if not n.startswith("all")},
            },
        }
        MODEL_FILE.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
    return 0


def _check_vote(sets, args, rows, read, x, y, folds) -> None:
    """The vote of three frames per photo against its first frame alone (confidences out of fold)."""
    from hardware.plate_vote import vote

    models = [fit(x[folds != k], y[folds != k], args.l2) for k in range(5)]
    fold_of = {(r["set"], r["image"]): folds[i] for i, r in enumerate(read)}
    found = passages(sets, args.cache)
    by_set: dict[str, dict] = {}
    for name in sorted({p["set"] for p in found}) + ["all"]:
        chosen = [p for p in found if name in ("all", p["set"])]
        for title, frames in (("one frame", 1), ("vote of 3 frames", 3)):
            results = []
            for p in chosen:
                k = fold_of.get((p["set"], p["image"]), 0)
                reads = [(text, float(predict(models[k], np.array([feats]))[0]))
                         for text, feats in (f for f in p["frames"][:frames] if f is not None)]
                voted = vote(reads)
                results.append({"x": None if voted is None else [], "exact": bool(voted and voted.text == p["label"]),
                                "conf": voted.confidence if voted else 0.0})
            by_set[f"{name} region, {title}"] = figures(results, np.array([r["conf"] for r in results]),
                                                        args.threshold)
    _print("many frames, one read (5-fold cross-validated confidences):", by_set, args.threshold)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


if __name__ == "__main__":
    raise SystemExit(main())
