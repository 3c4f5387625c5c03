"""Reading real traffic files for ``attendant replay``: occupancy series and per-vehicle session lists.

Issue 13 item 4. Pure domain code (standard library only: :mod:`csv` reads the
files, :meth:`datetime.fromisoformat` and :meth:`datetime.strptime` the times;
nothing is hand-parsed). Two shapes of file:

- **Occupancy series** (:func:`read_occupancy`): one row per reading, a time
  and the number of vehicles inside, optionally the car park's name (several
  car parks in one file; ``name`` picks one) and its capacity. Rows may come
  in any order and span several days; they are sorted by time.
- **Session lists** (:func:`read_sessions`): one row per vehicle, arrival and
  departure (an empty departure: still inside), optionally the vehicle
  class, the plate and the payment method.

Columns are found by their header names (:data:`OCCUPANCY_HEADERS`,
:data:`SESSION_HEADERS`: case, spaces, ``_`` and ``-`` ignored) or named by
the caller (``attendant replay --time-col ...``). Times: ISO 8601 (``T`` or a
space, optional seconds, fraction and offset or ``Z``), epoch seconds (9 to 10
digits, optional fraction) and the day-first forms of :data:`TIME_FORMATS`
are recognised from the first value of the column; ``time_format`` names one
instead (``iso``, ``epoch`` or a :meth:`~datetime.datetime.strptime` format).
A time without an offset is facility wall-clock time; every time is returned
as *naive facility wall-clock time* (:class:`datetime`), so the replay can
move the days while keeping the time of day.

Bad data (:class:`Problem`, each with the file and line) is never fixed
silently. ``on_bad`` chooses: ``fail`` (the default: :class:`BadData` lists
every problem, nothing is replayed), ``clip`` (a count above the capacity
becomes the capacity, a negative one zero, a departure before its arrival
becomes the arrival; what cannot be clipped is skipped) or ``skip`` (the row
is left out). Gaps (a reading more than ``gap_factor`` times the usual
interval after the previous one) are problems too; with ``clip`` or ``skip``
the replay interpolates across them. The counts of clipped and skipped rows
and of gaps are returned for the summary. A row that repeats another's time
and count is a duplicate: dropped and counted, not a problem.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from attendant.core.errors import InputError

ON_BAD = ("clip", "skip", "fail")
"""What to do with bad rows (``--on-bad``): clip them into range, skip them, or fail (the default)."""

DEFAULT_GAP_FACTOR = 3.0
"""A reading more than this many usual intervals after the previous one follows a gap."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest file read (256 MiB: a year of 5-minute readings of a hundred car parks is far less)."""

SHOWN_PROBLEMS = 50
"""How many problems :class:`BadData` lists before saying how many more there are."""

TIME_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
    "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p",
)
"""Recognised besides ISO 8601 and epoch seconds: day first (``dd/mm/yyyy HH:MM``), as the UK and most of
the world write dates. Month-first (US) dates are ambiguous with these: name them with ``--time-format``
(e.g. ``'%m/%d/%Y %H:%M'``)."""

OCCUPANCY_HEADERS: dict[str, tuple[str, ...]] = {
    "time": ("lastupdate", "time", "timestamp", "datetime", "date", "datetimeutc", "timeutc", "recordedat",
             "updatedat", "updated", "observed", "observedat", "when", "period"),
    "count": ("occupancy", "occupied", "count", "vehicles", "vehiclesinside", "inside", "cars", "occupiedspaces",
              "occupiedbays", "used"),
    "name": ("name", "carpark", "carparkname", "site", "sitename", "facility", "location", "lot", "parking",
             "garage"),
    "capacity": ("capacity", "totalspaces", "spaces", "bays", "totalbays", "total", "totalcapacity"),
}
"""Header names (lower case, without spaces, ``_`` and ``-``) taken for each column, first match wins."""

SESSION_HEADERS: dict[str, tuple[str, ...]] = {
    "arrival": ("arrival", "arrivaltime", "arrivedat", "arrivalutc", "entry", "entrytime", "entryat", "entered",
                "enteredat", "in", "timein", "start", "starttime", "startedat", "connectiontime",
                "connectiontimeutc", "checkin"),
    "departure": ("departure", "departuretime", "departedat", "departureutc", "exit", "exittime", "exitat",
                  "exited", "exitedat", "out", "timeout", "end", "endtime", "endedat", "disconnecttime",
                  "disconnecttimeutc", "checkout"),
    "class": ("vehicleclass", "class", "vehicle", "vehicletype", "category"),
    "plate": ("plate", "licenseplate", "licenceplate", "numberplate", "registration", "reg", "vrm", "vrn"),
    "payment": ("paymentmethod", "payment", "method", "paidby", "paymenttype", "tender"),
}
"""As :data:`OCCUPANCY_HEADERS`, for session lists."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad row: ``file:line: message``. ``kind``: ``unparseable``, ``negative``, ``above_capacity``,
    ``gap``, ``repeat``, ``departure_before_arrival``, ``unknown_class``, ``unknown_payment``, ``bad_plate``,
    ``plate_inside``, ``full``."""

    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class BadData(InputError):
    """Problems in a file under ``--on-bad fail``: the message lists them (``file:line: ...``), ``problems``
    holds them all. Nothing was replayed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        kinds = Counter(p.kind for p in self.problems)
        head = ", ".join(f"{kind.replace('_', ' ')}: {n}" for kind, n in sorted(kinds.items()))
        shown = "\n".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"bad data ({head}): nothing was replayed; --on-bad clip or --on-bad skip goes on, "
                         f"saying what it changed\n{shown}{tail}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One occupancy reading kept for the replay: ``at`` naive facility wall-clock time, ``count`` vehicles
    inside (after clipping), ``line`` its line in the file, ``raw`` the count as the file said it."""

    at: datetime
    count: int
    line: int
    raw: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One vehicle of a session list: ``arrival``/``departure`` naive facility wall-clock times
    (``departure`` None: still inside), ``vehicle_class`` a vocabulary value, ``plate`` as written (None:
    none given), ``payment`` an exit method value (None: none given), ``line`` its line in the file."""

    arrival: datetime
    departure: datetime | None
    vehicle_class: str
    plate: str | None
    payment: str | None
    line: int


@dataclass
class Loaded:
    """What a file gave: ``items`` (readings or session rows, in time order), the problems found (all of
    them, whatever ``on_bad`` did), and the counts of rows ``clipped`` and ``skipped``, of ``gaps``
    interpolated across and of ``duplicates`` dropped. ``name``: the car park; ``columns``: the header of
    each column used; ``interval``: the usual seconds between readings (occupancy only)."""

    file: str
    name: str | None
    items: list
    columns: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    clipped: int = 0
    skipped: int = 0
    gaps: int = 0
    duplicates: int = 0
    interval: float | None = None
    time_format: str = ""

    def bad_json(self) -> dict:
        """``{"clipped", "skipped", "gaps", "duplicates", "problems": ["file:line: ...", ...]}``."""
        return {"clipped": self.clipped, "skipped": self.skipped, "gaps": self.gaps, "duplicates": self.duplicates,
                "problems": [str(p) for p in self.problems]}


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", (header or "").strip().lower())


def choose_columns(fieldnames: Sequence[str] | None, wanted: dict[str, tuple[str, ...]],
                   given: dict[str, str | None], required: Sequence[str], label: str) -> dict[str, str]:
    """The header of each column: the one ``given`` names (exactly, or ignoring case), else the first of
    ``wanted``'s names found. Returns ``{role: header}`` for the roles found. Raises :class:`InputError`
    (``file:1: ...``, listing the headers) when a named column is missing or a required one is not found."""
    headers = [h for h in (fieldnames or ()) if h is not None]
    if not headers:
        raise InputError(f"{label}:1: no header row (the first line names the columns)")
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(_norm(header), header)
    chosen: dict[str, str] = {}
    listing = ", ".join(headers)
    for role, names in wanted.items():
        named = given.get(role)
        if named:
            if named in headers:
                chosen[role] = named
            elif _norm(named) in by_norm:
                chosen[role] = by_norm[_norm(named)]
            else:
                raise InputError(f"{label}:1: no column {named!r} (--{role}-col); the columns are: {listing}")
            continue
        for name in names:
            if name in by_norm and by_norm[name] not in chosen.values():
                chosen[role] = by_norm[name]
                break
    missing = [role for role in required if role not in chosen]
    if missing:
        options = " ".join(f"--{role}-col NAME" for role in missing)
        raise InputError(f"{label}:1: cannot tell which column is the {' and the '.join(missing)} ({options}); "
                         f"the columns are: {listing}")
    return chosen


_EPOCH = re.compile(r"[0-9]{9,10}(\.[0-9]+)?")


class TimeReader:
    """Reads one column's times as naive facility wall-clock time (see the module docstring).

    ``fmt``: ``None`` (recognise from the first value), ``"iso"``, ``"epoch"`` or a strptime format.
    ``tz``: the facility zone, for times with an offset (converted) and epoch seconds (UTC).
    Calling it returns the time, or raises :class:`ValueError` with what was expected.
    """

    def __init__(self, fmt: str | None, tz: tzinfo) -> None:
        self.tz = tz
        self.fmt = fmt.strip() if fmt else None
        if self.fmt is not None and self.fmt not in ("iso", "epoch") and "%" not in self.fmt:
            raise InputError(f"--time-format: {fmt!r} is not iso, epoch or a strptime format (e.g. '%d/%m/%Y %H:%M')")

    def _local(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value
        return value.astimezone(self.tz).replace(tzinfo=None)

    def _parse(self, fmt: str, text: str) -> datetime:
        if fmt == "iso":
            return datetime.fromisoformat(text)
        if fmt == "epoch":
            if not _EPOCH.fullmatch(text):
                raise ValueError(text)
            return datetime.fromtimestamp(float(text), UTC)
        return datetime.strptime(text, fmt)

    def detect(self, text: str) -> str:
        """The format of ``text`` (``iso``, ``epoch`` or one of :data:`TIME_FORMATS`); ValueError if none."""
        for fmt in ("epoch", "iso", *TIME_FORMATS):
            try:
                self._parse(fmt, text)
            except (ValueError, OverflowError, OSError):
                continue
            return fmt
        raise ValueError(text)

    def __call__(self, text: str) -> datetime:
        text = (text or "").strip()
        if not text:
            raise ValueError("empty")
        if self.fmt is None:
            self.fmt = self.detect(text)
        try:
            value = self._parse(self.fmt, text)
        except (ValueError, OverflowError, OSError):
            raise ValueError(text) from None
        local = self._local(value)
        if not 2000 <= local.year <= 2099:
            raise ValueError(text)
        return local

    @property
    def described(self) -> str:
        return {"iso": "ISO 8601", "epoch": "epoch seconds", None: "a date-time"}.get(self.fmt, self.fmt or "")


def _open_rows(path: str | os.PathLike[str]):
    label = str(path)
    source = Path(path)
    try:
        if not source.is_file():
            raise InputError(f"{label}: no such file" if not source.exists() else f"{label}: not a regular file")
        if source.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{label}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return source.open("r", encoding="utf-8-sig", newline=""), label
    except OSError as error:
        raise InputError(f"{label}: cannot read: {error.strerror or error}") from None


def _check_on_bad(on_bad: str) -> None:
    if on_bad not in ON_BAD:
        raise InputError(f"--on-bad: clip, skip or fail, not {on_bad!r}")


def _whole(text: str | None) -> int:
    text = (text or "").strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+\.0*", text):  # "12.0" as spreadsheets write whole numbers
        return int(text.split(".")[0])
    raise ValueError(text)


def read_occupancy(path: str | os.PathLike[str], *, tz: tzinfo, capacity: int, name: str | None = None,
                   columns: dict[str, str | None] | None = None, time_format: str | None = None,
                   on_bad: str = "fail", gap_factor: float = DEFAULT_GAP_FACTOR) -> Loaded:
    """The readings of one car park in a CSV occupancy series (see the module docstring).

    ``capacity``: the bays the replay can fill (the facility's, less any vehicles already inside); a
    count above it, or above the row's own capacity column, is a problem (``above_capacity``).
    ``name`` picks the car park in a file with a name column (required when it names several).
    ``columns``: ``{"time"|"count"|"name"|"capacity": header}`` chosen by the caller. Returns a
    :class:`Loaded` whose ``items`` are :class:`Reading` in time order. Raises :class:`BadData` under
    ``on_bad="fail"`` when any row is bad, :class:`InputError` for an unreadable file, missing columns,
    an unknown ``name``, or no reading left.
    """
    _check_on_bad(on_bad)
    if gap_factor <= 1:
        raise InputError(f"--gap-factor must be more than 1, got {gap_factor}")
    handle, label = _open_rows(path)
    reader_time = TimeReader(time_format, tz)
    problems: list[Problem] = []
    clipped = skipped = 0
    raw: list[tuple[datetime, int, int, int | None]] = []  # (at, count, line, row capacity)
    names: Counter[str] = Counter()
    try:
        with handle:
            rows = csv.DictReader(handle)
            chosen = choose_columns(rows.fieldnames, OCCUPANCY_HEADERS, columns or {}, ("time", "count"), label)
            name_col = chosen.get("name")
            if name is not None and name_col is None:
                raise InputError(f"{label}:1: --name {name!r} needs a column naming the car park (--name-col)")
            for row in rows:
                line = rows.line_num
                row_name = (row.get(name_col) or "").strip() if name_col else None
                if name_col:
                    names[row_name] += 1
                    if name is not None and row_name != name:
                        continue
                try:
                    at = reader_time(row.get(chosen["time"]) or "")
                except ValueError:
                    problems.append(Problem(label, line, "unparseable",
                                            f"{chosen['time']} {str(row.get(chosen['time']))[:40]!r} is not "
                                            f"{reader_time.described}"))
                    skipped += 1
                    continue
                try:
                    count = _whole(row.get(chosen["count"]))
                except ValueError:
                    problems.append(Problem(label, line, "unparseable",
                                            f"{chosen['count']} {str(row.get(chosen['count']))[:40]!r} is not a "
                                            "whole number"))
                    skipped += 1
                    continue
                row_capacity = None
                if "capacity" in chosen and (row.get(chosen["capacity"]) or "").strip():
                    try:
                        row_capacity = _whole(row.get(chosen["capacity"]))
                    except ValueError:
                        row_capacity = None
                raw.append((at, count, line, row_capacity))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{label}: not a readable CSV file: {error}") from None
    if name_col and name is None and len(names) > 1:
        listing = ", ".join(f"{n!r} ({c} rows)" for n, c in sorted(names.items()))
        raise InputError(f"{label}: rows name several car parks: pick one with --name ({listing})")
    if name is not None and names and name not in names:
        listing = ", ".join(repr(n) for n in sorted(names))
        raise InputError(f"{label}: no car park named {name!r} (--name); the file names: {listing}")
    picked = name if name is not None else (next(iter(names)) if names else Path(label).stem)

    raw.sort(key=lambda item: (item[0], item[2]))
    kept: list[Reading] = []
    seen: dict[datetime, tuple[int, int]] = {}
    duplicates = 0
    for at, count, line, row_capacity in raw:
        if at in seen:
            first_count, first_line = seen[at]
            if first_count == count:
                duplicates += 1
            else:
                problems.append(Problem(label, line, "repeat", f"{at:%Y-%m-%d %H:%M:%S} repeats line {first_line} "
                                        f"with another count ({count}, there {first_count}): the first is kept"))
                skipped += 1
            continue
        seen[at] = (count, line)
        value = count
        if count < 0:
            problems.append(Problem(label, line, "negative", f"count {count} at {at:%Y-%m-%d %H:%M} is negative"))
            if on_bad == "skip":
                skipped += 1
                continue
            value, clipped = 0, clipped + 1
        limit = capacity if row_capacity is None or row_capacity <= 0 else min(capacity, row_capacity)
        if row_capacity is not None and 0 < row_capacity < value:
            whose = f"its capacity {row_capacity}"
        else:
            whose = f"the {capacity} bays the replay can fill"
        if value > limit:
            problems.append(Problem(label, line, "above_capacity",
                                    f"count {count} at {at:%Y-%m-%d %H:%M} is above {whose}"))
            if on_bad == "skip":
                skipped += 1
                continue
            value, clipped = limit, clipped + 1
        kept.append(Reading(at, value, line, count))
    interval, gaps = _gaps(kept, label, gap_factor, problems)
    problems.sort(key=lambda p: p.line)
    if problems and on_bad == "fail":
        raise BadData(problems)
    if not kept:
        raise InputError(f"{label}: no reading of {picked!r} to replay")
    return Loaded(label, picked, kept, chosen, problems, clipped, skipped, gaps, duplicates, interval,
                  reader_time.fmt or "")


def _gaps(readings: list[Reading], label: str, factor: float, problems: list[Problem]) -> tuple[float | None, int]:
    """The usual interval (median seconds between readings) and the number of gaps longer than ``factor``
    times it, each added to ``problems`` at the line of the reading after it."""
    if len(readings) < 3:
        return None, 0
    steps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(readings)]
    usual = statistics.median(steps)
    if usual <= 0:
        return usual, 0
    gaps = 0
    for step, after in zip(steps, readings[1:], strict=False):
        if step > factor * usual:
            gaps += 1
            problems.append(Problem(label, after.line, "gap",
                                    f"gap of {_duration(step)} before {after.at:%Y-%m-%d %H:%M} (readings are "
                                    f"usually {_duration(usual)} apart): the replay interpolates across it"))
    return usual, gaps


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def read_sessions(path: str | os.PathLike[str], *, tz: tzinfo, capacity: int,
                  columns: dict[str, str | None] | None = None, time_format: str | None = None,
                  on_bad: str = "fail", known_classes: Sequence[str] = (), known_methods: Sequence[str] = (),
                  plate_ok: Callable[[str], bool] | None = None) -> Loaded:
    """The vehicles of a CSV session list (see the module docstring), arrivals in time order.

    ``capacity``: the bays the replay can fill; an arrival that would put more vehicles inside is a
    problem (``full``: skipped under clip and skip alike: a vehicle cannot be clipped). ``known_classes``
    and ``known_methods``: the vehicle classes and exit payment methods accepted (an empty class is
    ``car``; an unknown one is ``car`` under clip); ``plate_ok``: whether a plate is valid (an invalid
    one is dropped under clip: the replay makes one up). A plate arriving while still inside is a
    problem (``plate_inside``). Returns :class:`Loaded` with :class:`SessionRow` items. Raises
    :class:`BadData` (fail) or :class:`InputError` as :func:`read_occupancy`.
    """
    _check_on_bad(on_bad)
    handle, label = _open_rows(path)
    problems: list[Problem] = []
    clipped = skipped = 0
    items: list[SessionRow] = []
    arrivals = TimeReader(time_format, tz)
    departures = TimeReader(time_format, tz)
    classes = {c.lower(): c for c in known_classes}
    methods = {m.lower().replace("-", "").replace(" ", ""): m for m in known_methods}

    def bad(line: int, kind: str, message: str, fixable: bool) -> bool:
        """Record a problem; True when the row goes on (clipped), False when it is skipped."""
        nonlocal clipped, skipped
        problems.append(Problem(label, line, kind, message))
        if fixable and on_bad == "clip":
            clipped += 1
            return True
        skipped += 1
        return False

    try:
        with handle:
            rows = csv.DictReader(handle)
            chosen = choose_columns(rows.fieldnames, SESSION_HEADERS, columns or {}, ("arrival", "departure"), label)
            for row in rows:
                line = rows.line_num
                arrival_text = row.get(chosen["arrival"]) or ""
                try:
                    arrival = arrivals(arrival_text)
                except ValueError:
                    bad(line, "unparseable", f"{chosen['arrival']} {arrival_text[:40]!r} is not "
                        f"{arrivals.described}", False)
                    continue
                departure_text = (row.get(chosen["departure"]) or "").strip()
                departure = None
                if departure_text:
                    try:
                        departure = departures(departure_text)
                    except ValueError:
                        bad(line, "unparseable", f"{chosen['departure']} {departure_text[:40]!r} is not "
                            f"{departures.described}", False)
                        continue
                if departure is not None and departure < arrival:
                    if not bad(line, "departure_before_arrival", f"departure {departure:%Y-%m-%d %H:%M:%S} is "
                               f"before arrival {arrival:%Y-%m-%d %H:%M:%S}", True):
                        continue
                    departure = arrival
                vclass = "car"
                if "class" in chosen and (text := (row.get(chosen["class"]) or "").strip()):
                    if text.lower() in classes:
                        vclass = classes[text.lower()]
                    elif not bad(line, "unknown_class", f"vehicle class {text[:20]!r} is not one of "
                                 f"{', '.join(classes) or 'the known classes'} (clip: car)", True):
                        continue
                plate = None
                if "plate" in chosen and (text := (row.get(chosen["plate"]) or "").strip()):
                    if plate_ok is None or plate_ok(text):
                        plate = text
                    elif not bad(line, "bad_plate", f"plate {text[:20]!r} is not a plate (clip: one is made up)",
                                 True):
                        continue
                payment = None
                if "payment" in chosen and (text := (row.get(chosen["payment"]) or "").strip()):
                    key = text.lower().replace("-", "").replace(" ", "")
                    if key in methods:
                        payment = methods[key]
                    elif not bad(line, "unknown_payment", f"payment {text[:20]!r} is not one of "
                                 f"{', '.join(methods.values()) or 'the exit methods'} (clip: card)", True):
                        continue
                items.append(SessionRow(arrival, departure, vclass, plate, payment, line))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{label}: not a readable CSV file: {error}") from None
    items.sort(key=lambda s: (s.arrival, s.line))
    items, full = _within(items, capacity, label, problems)
    skipped += full
    problems.sort(key=lambda p: p.line)
    if problems and on_bad == "fail":
        raise BadData(problems)
    if not items:
        raise InputError(f"{label}: no session to replay")
    return Loaded(label, None, items, chosen, problems, clipped, skipped, 0, 0, None, arrivals.fmt or "")


def _within(items: list[SessionRow], capacity: int, label: str,
            problems: list[Problem]) -> tuple[list[SessionRow], int]:
    """The sessions that fit: an arrival when ``capacity`` vehicles are inside, or of a plate already
    inside, is left out (a problem each). Returns (kept, left out)."""
    import heapq

    inside: list[tuple[datetime, int]] = []  # (departure, index) heap of vehicles inside
    plates: dict[str, tuple[datetime | None, int]] = {}  # plate (upper, no spaces) -> (departure, line)
    kept: list[SessionRow] = []
    dropped = 0
    far = datetime.max - timedelta(days=1)
    for index, row in enumerate(items):
        while inside and inside[0][0] <= row.arrival:  # a departure at the same instant frees the bay first
            heapq.heappop(inside)
        key = re.sub(r"\s+", "", row.plate).upper() if row.plate else None
        if key and key in plates:
            until, other = plates[key]
            if until is None or until > row.arrival:
                problems.append(Problem(label, row.line, "plate_inside", f"plate {row.plate} arrives at "
                                        f"{row.arrival:%Y-%m-%d %H:%M} while still inside (line {other}): skipped"))
                dropped += 1
                continue
        if len(inside) >= capacity:
            problems.append(Problem(label, row.line, "full", f"arrival at {row.arrival:%Y-%m-%d %H:%M} would make "
                                    f"{len(inside) + 1} vehicles inside, above the {capacity} bays the replay can "
                                    "fill: skipped"))
            dropped += 1
            continue
        heapq.heappush(inside, (row.departure or far, index))
        if key:
            plates[key] = (row.departure, row.line)
        kept.append(row)
    return kept, dropped
