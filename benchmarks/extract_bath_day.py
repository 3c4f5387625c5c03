"""Cut one car park's day out of the Bath occupancy feed into a small fixture.

Regenerates ``examples/data/charlotte_street_2016-11-12.csv`` (the demo's
real-traffic series) from the shared data set, which a fresh clone does not
have::

    python benchmarks/extract_bath_day.py            # the shipped fixture
    python benchmarks/extract_bath_day.py --day 2016-11-26 --out /tmp/busier.csv

Input: ``../shared/data/bath_carparks_2016Q4.csv`` (columns ``Name, LastUpdate,
DateUploaded, Occupancy, Capacity, Status, Proportion``; rows grouped by car
park, not sorted). Output: the rows of ``--name`` whose ``LastUpdate`` falls on
``--day``, columns ``LastUpdate,Occupancy,Capacity,Status`` with the source's
text unchanged, sorted by ``LastUpdate``, one row per ``LastUpdate`` (when the
feed repeats a reading, the one uploaded last wins), ``\\n`` line endings.

Standard library only (``csv``, ``argparse``): the script must run without the
project's virtual environment.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "bath_carparks_2016Q4.csv"
DEFAULT_NAME = "Charlotte Street CP"
DEFAULT_DAY = "2016-11-12"
COLUMNS = ("LastUpdate", "Occupancy", "Capacity", "Status")


def extract(source: Path, name: str, day: str) -> tuple[list[dict[str, str]], int]:
    """Return ``(rows, dropped)``: the day's rows sorted and de-duplicated.

    ``day`` is ``YYYY-MM-DD`` matched against the start of ``LastUpdate``
    (the feed's ``YYYY-MM-DD HH:MM:SS`` wall-clock text). ``dropped`` counts
    the repeated readings removed. Raises ``KeyError`` for a missing column.
    """
    latest: dict[str, dict[str, str]] = {}
    dropped = 0
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] != name or not row["LastUpdate"].startswith(day + " "):
                continue
            stamp = row["LastUpdate"]
            if stamp in latest:
                dropped += 1
                if row["DateUploaded"] <= latest[stamp]["DateUploaded"]:
                    continue
            latest[stamp] = row
    rows = [{col: latest[stamp][col] for col in COLUMNS} for stamp in sorted(latest)]
    return rows, dropped


def slug(name: str) -> str:
    """File-name stem for a car park: ``"Charlotte Street CP"`` -> ``"charlotte_street"``."""
    words = "".join(ch if ch.isalnum() else " " for ch in name.lower()).split()
    if words and words[-1] == "cp":
        words.pop()
    return "_".join(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the Bath feed CSV")
    parser.add_argument("--name", default=DEFAULT_NAME, help="car park name as in the Name column")
    parser.add_argument("--day", default=DEFAULT_DAY, help="YYYY-MM-DD, feed wall-clock day")
    parser.add_argument("--out", type=Path, default=None, help="output CSV (default: the shipped fixture)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "examples" / "data" / f"{slug(args.name)}_{args.day}.csv"
    if not args.source.is_file():
        print(f"error: source not found: {args.source}", file=sys.stderr)
        return 2
    rows, dropped = extract(args.source, args.name, args.day)
    if not rows:
        print(f"error: no rows for {args.name!r} on {args.day}", file=sys.stderr)
        return 2
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    occupancy = [int(row["Occupancy"]) for row in rows]
    print(
        f"{out}: {len(rows)} rows ({dropped} repeats dropped), "
        f"{rows[0]['LastUpdate']} .. {rows[-1]['LastUpdate']}, "
        f"occupancy {min(occupancy)}..{max(occupancy)} of {rows[0]['Capacity']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
