"""Facility layout files: each level drawn as rows of characters.

The drawing is both the list of spots and the map geometry the console shows.
Format (TOML; ``examples/charlotte_street.toml`` is a full example)::

    [facility]
    code = "CHS"            # 2-8 of A-Z0-9, printed inside ticket codes
    name = "Charlotte Street CP"
    timezone = "Europe/London"
    currency = "GBP"
    rate_plan = "rates/charlotte_street.toml"   # optional, relative to this file
    latitude = 51.3839      # optional, both or neither: decimal degrees, where the
    longitude = -2.3677     # availability feeds place the car park

    [[levels]]
    code = "L0"
    name = "Ground"
    map = '''
    >......
    RRRRAAE
    '''

Spot characters: ``m`` motorcycle, ``c`` compact, ``R`` regular, ``L`` large,
``A`` accessible, ``E`` ev. Others: ``.`` aisle, ``>`` the level's entrance,
``#`` wall/ramp, space nothing. Rows holding spots become zones A, B, C...
in drawing order and spots are numbered along their row, so the spot at the
third position of the second spot row of level ``L1`` is ``L1-B03``.

A level may name zones for the rate plan's tariffs (a short-stay area with
its own free period, ``docs/rates.md``): ``zones = { short_stay = ["A", "B"] }``
puts the bays of spot rows A and B of that level in zone ``short_stay``
(names: lower case ``a-z 0-9 _ -``, up to 32 characters; rows by the letter
their labels carry). A row no zone names keeps its letter as its zone.

Distance to the entrance ("nearest-to-entrance" allocation) is the walking
distance through aisle cells from the level's ``>`` (breadth-first search),
plus one for the step into the bay; levels are ranked in file order, so every
spot of the first level comes before any spot of the second.
"""

from __future__ import annotations

import re
import tomllib
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attendant.core.errors import InputError
from attendant.core.vocab import SpotType

SPOT_GLYPHS: dict[str, SpotType] = {
    "m": SpotType.MOTORCYCLE,
    "c": SpotType.COMPACT,
    "R": SpotType.REGULAR,
    "L": SpotType.LARGE,
    "A": SpotType.ACCESSIBLE,
    "E": SpotType.EV,
}
GLYPH_OF_TYPE: dict[SpotType, str] = {v: k for k, v in SPOT_GLYPHS.items()}
AISLE, ENTRANCE, WALL, EMPTY = ".", ">", "#", " "
NON_SPOT = {AISLE, ENTRANCE, WALL, EMPTY}
LEVEL_RANK_STRIDE = 1_000_000
_CODE = re.compile(r"^[A-Z0-9]{1,8}$")


@dataclass(frozen=True, slots=True)
class SpotLayout:
    """One bay of a level drawing; ``rank`` orders bays by distance to the entrance.

    ``zone`` is its row's letter (the one in ``label``), or the zone name the level's ``zones`` gives that row.
    """

    label: str
    zone: str
    spot_type: SpotType
    row: int
    col: int
    rank: int


@dataclass(frozen=True, slots=True)
class LevelLayout:
    code: str
    name: str
    ordinal: int
    rows: tuple[str, ...]
    spots: tuple[SpotLayout, ...]


@dataclass(frozen=True, slots=True)
class FacilityLayout:
    code: str
    name: str
    address: str | None
    timezone: str
    currency: str
    levels: tuple[LevelLayout, ...]
    rate_plan_path: Path | None
    source: str
    #: (latitude, longitude) in decimal degrees (WGS84/ETRS89) of ``[facility] latitude``/``longitude``,
    #: or None: where the availability feeds place the car park (attendant/api/feeds.py).
    position: tuple[float, float] | None = None

    @property
    def capacity(self) -> int:
        return sum(len(level.spots) for level in self.levels)


def load_layout(path: str | Path) -> FacilityLayout:
    """Read and validate a layout file. Raises :class:`InputError` naming file and field."""
    from attendant.core.files import read_text

    path = Path(path)
    text = read_text(path, "layout file")  # at most 1 MiB, UTF-8 (issue 9 item 8)
    return parse_layout(text, source=str(path), base_dir=path.parent)


def parse_layout(text: str, *, source: str = "<layout>", base_dir: Path | None = None) -> FacilityLayout:
    """Parse layout TOML text; see the module docstring for the format."""
    from attendant.core.files import loads_toml

    try:
        data = loads_toml(text, source)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    facility = data.get("facility")
    if not isinstance(facility, dict):
        raise InputError(f"{source}: missing [facility] table")

    def field(table: dict, key: str, where: str, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise InputError(f"{source}: {where}.{key} is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{source}: {where}.{key} must be a non-empty string")
        return value.strip()

    code = field(facility, "code", "facility")
    if not re.fullmatch(r"[A-Z0-9]{2,8}", code):
        raise InputError(f"{source}: facility.code {code!r} must be 2-8 characters A-Z or 0-9")
    timezone = field(facility, "timezone", "facility")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{source}: facility.timezone {timezone!r} is not an IANA time zone") from None
    currency = field(facility, "currency", "facility")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InputError(f"{source}: facility.currency {currency!r} is not an ISO 4217 code like GBP")
    position = _position(facility, source)
    rate_plan = field(facility, "rate_plan", "facility", required=False)
    rate_plan_path = None
    if rate_plan:
        rate_plan_path = (base_dir or Path.cwd()) / rate_plan

    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise InputError(f"{source}: at least one [[levels]] table is required")
    levels: list[LevelLayout] = []
    seen_codes: set[str] = set()
    for ordinal, raw in enumerate(raw_levels):
        where = f"levels[{ordinal}]"
        if not isinstance(raw, dict):
            raise InputError(f"{source}: {where} must be a table")
        level_code = field(raw, "code", where)
        if not _CODE.match(level_code):
            raise InputError(f"{source}: {where}.code {level_code!r} must be 1-8 characters A-Z or 0-9")
        if level_code in seen_codes:
            raise InputError(f"{source}: {where}.code {level_code!r} is used by another level")
        seen_codes.add(level_code)
        name = field(raw, "name", where)
        drawing = raw.get("map")
        if not isinstance(drawing, str):
            raise InputError(f"{source}: {where}.map is missing (draw the level as rows of characters)")
        level = _parse_level(drawing, level_code, name, ordinal, source, where)
        if "zones" in raw:
            level = _name_zones(level, raw["zones"], source, where)
        levels.append(level)
    return FacilityLayout(
        code=code,
        name=field(facility, "name", "facility"),
        address=field(facility, "address", "facility", required=False),
        timezone=timezone,
        currency=currency,
        levels=tuple(levels),
        rate_plan_path=rate_plan_path,
        source=text,
        position=position,
    )


def _position(facility: dict, source: str) -> tuple[float, float] | None:
    """``[facility] latitude`` and ``longitude`` (both or neither; decimal degrees, -90..90 and
    -180..180). Raises :class:`InputError` naming the field."""
    lat, lon = facility.get("latitude"), facility.get("longitude")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise InputError(f"{source}: facility.latitude and facility.longitude go together (give both or neither)")
    for key, value, bound in (("latitude", lat, 90), ("longitude", lon, 180)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise InputError(f"{source}: facility.{key} must be a number of decimal degrees from {-bound} to {bound}")
    return float(lat), float(lon)


@lru_cache(maxsize=64)
def layout_position(text: str) -> tuple[float, float] | None:
    """The ``[facility]`` position of stored layout text (``facility.layout_source``), or None when it has
    none or the text no longer parses (the feeds then publish no coordinates)."""
    try:
        return parse_layout(text, source="<stored layout>").position
    except InputError:
        return None


def _parse_level(drawing: str, code: str, name: str, ordinal: int, source: str, where: str) -> LevelLayout:
    rows = [line.rstrip() for line in drawing.strip("\n").splitlines()]
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise InputError(f"{source}: {where}.map is empty")
    width = max(len(r) for r in rows)
    rows = [r.ljust(width) for r in rows]
    entrance: tuple[int, int] | None = None
    for r, line in enumerate(rows):
        for c, ch in enumerate(line):
            if ch in SPOT_GLYPHS or ch in NON_SPOT:
                if ch == ENTRANCE:
                    if entrance is not None:
                        raise InputError(f"{source}: {where}.map has more than one entrance '>' (row {r + 1})")
                    entrance = (r, c)
                continue
            raise InputError(
                f"{source}: {where}.map row {r + 1} column {c + 1}: unknown character {ch!r} "
                f"(spots: {''.join(SPOT_GLYPHS)}; other: . > #)"
            )
    if entrance is None:
        raise InputError(f"{source}: {where}.map has no entrance '>'")
    distance = _aisle_distances(rows, entrance)
    spots: list[SpotLayout] = []
    zone_index = 0
    for r, line in enumerate(rows):
        cols = [c for c, ch in enumerate(line) if ch in SPOT_GLYPHS]
        if not cols:
            continue
        zone = _zone_name(zone_index)
        zone_index += 1
        for number, c in enumerate(cols, start=1):
            near = [distance[n] for n in _neighbours(rows, r, c) if n in distance]
            if not near:
                raise InputError(
                    f"{source}: {where}.map row {r + 1} column {c + 1}: spot cannot be reached from an aisle"
                )
            spots.append(
                SpotLayout(
                    label=f"{code}-{zone}{number:02d}",
                    zone=zone,
                    spot_type=SPOT_GLYPHS[line[c]],
                    row=r,
                    col=c,
                    rank=ordinal * LEVEL_RANK_STRIDE + min(near) + 1,
                )
            )
    if not spots:
        raise InputError(f"{source}: {where}.map has no spots")
    return LevelLayout(code=code, name=name, ordinal=ordinal, rows=tuple(rows), spots=tuple(spots))


_ZONE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _name_zones(level: LevelLayout, zones: object, source: str, where: str) -> LevelLayout:
    """``level`` with the zones its ``zones`` table names (zone name -> spot row letters) on its bays."""
    if not isinstance(zones, dict) or not zones:
        raise InputError(f'{source}: {where}.zones must be a table like {{ short_stay = ["A", "B"] }}')
    rows = {spot.zone for spot in level.spots}
    named: dict[str, str] = {}
    for zone, letters in zones.items():
        if not _ZONE_NAME.match(zone):
            raise InputError(f"{source}: {where}.zones.{zone}: a zone name is lower case a-z, 0-9, _ and - "
                             "(up to 32 characters), e.g. short_stay")
        if isinstance(letters, str):
            letters = [letters]
        if not isinstance(letters, list) or not letters:
            raise InputError(f'{source}: {where}.zones.{zone} must list spot rows, e.g. ["A", "B"]')
        for letter in letters:
            if not isinstance(letter, str) or letter.strip().upper() not in rows:
                raise InputError(f"{source}: {where}.zones.{zone}: no spot row {letter!r} on level {level.code} "
                                 f"(its rows: {', '.join(sorted(rows, key=lambda r: (len(r), r)))})")
            letter = letter.strip().upper()
            if letter in named:
                raise InputError(f"{source}: {where}.zones.{zone}: row {letter} is already in zone {named[letter]}")
            named[letter] = zone
    spots = tuple(replace(spot, zone=named.get(spot.zone, spot.zone)) for spot in level.spots)
    return replace(level, spots=spots)


def _zone_name(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _neighbours(rows: list[str], r: int, c: int):
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        rr, cc = r + dr, c + dc
        if 0 <= rr < len(rows) and 0 <= cc < len(rows[rr]):
            yield (rr, cc)


def _aisle_distances(rows: list[str], start: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Breadth-first distance (in cells) from ``start`` through aisle cells."""
    distance = {start: 0}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for n in _neighbours(rows, *cell):
            if n not in distance and rows[n[0]][n[1]] in (AISLE, ENTRANCE):
                distance[n] = distance[cell] + 1
                queue.append(n)
    return distance
