"""Read rate, accuracy and speed of the local plate reader on labelled photos.

Usage::

    python benchmarks/bench_plate_reader.py [FOLDER] [--verbose] [--json]
                                            [--max-side PX] [--max-upscale X] [--limit N]

FOLDER (default ``../shared/data/plates-eu`` next to the repository) holds
images (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``) and, for each, a label file
of the same stem ending ``.txt`` with one tab-separated line
``file x y w h PLATE`` (the openalpr/benchmarks ``endtoend`` format: the
plate's box in pixels and its text). Images without a label are skipped.
When FOLDER is absent (a fresh clone has no ``../shared``) it prints why and
exits 0.

Figures (the top candidate of :meth:`hardware.plate_reader.PlateReader.read`
is "the read"):

- ``read_rate``: share of images with any plate-like read;
- ``exact``: share whose read equals the label (both normalised to ``A-Z0-9``);
- ``near``: share equal to the label or different in exactly one position
  where the two characters are a confusable pair (O/0, I/1, B/8, 2/Z, 5/S);
- ``located``: share whose read's box centre lies in the labelled box;
- ``median_s`` / ``p90_s``: wall-clock seconds per image for ``read()``
  (models already loaded; ``load_s`` is the one-off model load);
  ``median_cpu_s``: process CPU seconds per image (all threads), steadier
  than wall time on a shared machine.

Exit codes: 0 done (or data absent), 2 bad arguments, 3 reader not installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "plates-eu"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
CONFUSABLE = {frozenset(pair) for pair in ("O0", "I1", "B8", "2Z", "5S")}


@dataclass(frozen=True)
class Label:
    """One labelled image: the plate's box ``(x, y, w, h)`` pixels and its text."""

    image: Path
    box: tuple[int, int, int, int]
    plate: str


def load_labels(folder: Path) -> list[Label]:
    """Labelled images in ``folder`` in name order (unlabelled or malformed ones skipped).

    :raises ValueError: a label file that is not ``file x y w h PLATE``.
    """
    from hardware.plate_reader import normalise_plate

    labels = []
    for image in sorted(folder.iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label_file = image.with_suffix(".txt")
        if not label_file.is_file():
            continue
        line = label_file.read_text(encoding="utf-8").strip().splitlines()[0]
        fields = line.split("\t")
        if len(fields) < 6:
            raise ValueError(f"{label_file}: expected 'file x y w h PLATE' separated by tabs, got {line!r}")
        x, y, w, h = (int(v) for v in fields[1:5])
        labels.append(Label(image, (x, y, w, h), normalise_plate(fields[5])))
    return labels


def near_match(read: str, label: str) -> bool:
    """Equal, or one position differs by a confusable pair (O/0, I/1, B/8, 2/Z, 5/S)."""
    if len(read) != len(label):
        return False
    diffs = [(a, b) for a, b in zip(read, label) if a != b]
    return not diffs or (len(diffs) == 1 and frozenset(diffs[0]) in CONFUSABLE)


def _inside(box: tuple[int, int, int, int], target: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    tx, ty, tw, th = target
    cx, cy = x + w / 2, y + h / 2
    return tx <= cx <= tx + tw and ty <= cy <= ty + th


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def run(folder: Path, *, max_side: int, max_upscale: float, limit: int | None, verbose: bool,
        as_json: bool) -> dict:
    """Run the reader over ``folder``; returns the figures (see module docstring)."""
    import cv2

    from hardware.plate_reader import PlateReader

    labels = load_labels(folder)[: limit or None]
    reader = PlateReader(max_side=max_side, max_upscale=max_upscale)
    started = time.perf_counter()
    reader.load()
    load_s = time.perf_counter() - started
    rows = []
    for label in labels:
        image = cv2.imread(str(label.image), cv2.IMREAD_COLOR)
        if image is None:
            print(f"{label.image.name}: cannot decode, skipped", file=sys.stderr)
            continue
        started, cpu_started = time.perf_counter(), time.process_time()
        candidates = reader.read(image)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        top = candidates[0] if candidates else None
        row = {
            "image": label.image.name,
            "label": label.plate,
            "read": top.text if top else None,
            "confidence": top.confidence if top else None,
            "box": list(top.box) if top else None,
            "others": [c.text for c in candidates[1:]],
            "exact": bool(top and top.text == label.plate),
            "near": bool(top and near_match(top.text, label.plate)),
            "located": bool(top and _inside(top.box, label.box)),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu_seconds, 3),
        }
        rows.append(row)
        if verbose and not as_json:
            mark = "=" if row["exact"] else ("~" if row["near"] else "x")
            print(f"{mark} {row['image']:<16} {label.plate:<10} {row['read'] or '-':<10} "
                  f"{row['confidence'] or 0:.2f} {seconds:5.2f}s  others={row['others']}")
    n = len(rows)
    times = [row["seconds"] for row in rows]
    share = (lambda key: round(sum(bool(row[key]) for row in rows) / n, 4) if n else 0.0)
    summary = {
        "folder": str(folder),
        "reader": f"rapidocr {_version('rapidocr')} (PP-OCRv6 small det+rec), onnxruntime {_version('onnxruntime')}",
        "max_side": max_side,
        "max_upscale": max_upscale,
        "images": n,
        "read_rate": share("read"),
        "exact": share("exact"),
        "near": share("near"),
        "located": share("located"),
        "median_s": round(statistics.median(times), 3) if times else 0.0,
        "p90_s": round(_p90(times), 3),
        "median_cpu_s": round(statistics.median(row["cpu_seconds"] for row in rows), 3) if rows else 0.0,
        "load_s": round(load_s, 3),
    }
    if verbose and as_json:
        summary["rows"] = rows
    return summary


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DATA,
                        help="images with label files (default: ../shared/data/plates-eu)")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per image (rows in --json)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--max-side", type=int, default=736, help="detector input, longer side in px (default 736)")
    parser.add_argument("--max-upscale", type=float, default=1.0,
                        help="how much smaller frames may be enlarged for the detector (default 1: never)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N labelled images")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"skipped: {args.folder} is absent (the plate photos live in ../shared/data, "
              "which a fresh clone does not have)", file=sys.stderr)
        return 0
    from hardware.base import DeviceError

    try:
        summary = run(args.folder, max_side=args.max_side, max_upscale=args.max_upscale, limit=args.limit,
                      verbose=args.verbose,
                      as_json=args.json)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        pct = (lambda key: f"{100 * summary[key]:.1f} %")
        print(f"reader:          {summary['reader']}, max side {summary['max_side']} px")
        print(f"images:          {summary['images']}  ({summary['folder']})")
        print(f"read rate:       {pct('read_rate')}")
        print(f"exact match:     {pct('exact')}")
        print(f"1 confusable:    {pct('near')}   (O/0, I/1, B/8, 2/Z, 5/S)")
        print(f"located:         {pct('located')}   (read's box centre inside the labelled box)")
        print(f"s per image:     median {summary['median_s']:.3f}, p90 {summary['p90_s']:.3f} "
              f"(model load {summary['load_s']:.2f} s); median CPU {summary['median_cpu_s']:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
