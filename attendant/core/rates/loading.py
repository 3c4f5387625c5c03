"""Rate plan files: TOML text into a validated :class:`RatePlan`, errors placed on their line.

:func:`load_rate_plan` / :func:`parse_rate_plan` read the plan with
:mod:`tomllib` (the standard library's TOML 1.0 parser: values, and syntax
errors with their line) and hand the dict to
:func:`attendant.core.rates.validation.build_plan`. When a rule is broken,
the line of the offending field comes from :func:`key_lines`, which reads the
same text with tomlkit; tomlkit is imported only then, so a valid plan never
pays for it (and code that only prices stays never imports this module).

What tomlkit (0.15.3, pinned) gives and does not give for positions:

* Syntax errors: ``tomlkit.exceptions.ParseError`` has ``.line``/``.col``,
  but for errors at the end of the file it names the last line read and says
  ``Unexpected character: '\\x00'`` (an unclosed array at the end of a
  3-line file is "line 3"), where :mod:`tomllib` says "Unclosed array (at end
  of document)". So syntax errors keep tomllib's message and line (tomllib
  puts the position only in its message before Python 3.14, hence
  :data:`_TOMLLIB_AT`).
* Parsed items: no positions. ``Item``, ``Key``, ``Container``, ``Table``,
  ``AoT`` and ``Array`` have no line or offset attribute; items keep their
  surrounding text (``trivia``) and ``as_string()`` reproduces most files, but
  not all: an array of tables written on both sides of another table
  (``[[tariffs]] … [surge] … [[tariffs]]``) is gathered into one place, so
  counting the text rendered before an item would give wrong lines there.
* The parser does know where it is: ``Parser._idx`` is the offset of the
  character it is reading. :func:`_placing_parser` subclasses tomlkit's
  parser and notes that offset when it starts each value (``_parse_value``)
  and each table header (``_parse_table``); :func:`key_lines` then walks the
  parsed document and turns the offsets of its items into lines. These are
  tomlkit internals, used because no public API gives positions;
  ``tests/test_rates_lines.py`` pins the behaviour for the tomlkit version in
  ``pyproject.toml``.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from pathlib import Path
from typing import Any

from attendant.core.errors import InputError
from attendant.core.rates.model import RatePlan
from attendant.core.rates.validation import FieldPath, RatePlanError, build_plan

_TOMLLIB_AT = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")


def parse_rate_plan(text: str, source: str = "<string>") -> RatePlan:
    """Parse and validate a rate plan from TOML text (format: ``docs/rates.md``).

    ``source`` names the file in error messages. Raises :class:`RatePlanError`
    (an :class:`~attendant.core.errors.InputError`) with file, line and field
    for TOML syntax errors and for every rule in ``docs/rates.md`` (gaps,
    overlaps, negative prices, unknown vehicle classes, unknown keys, ...).
    """
    from attendant.core.files import loads_toml

    try:
        data = loads_toml(text, source)  # bounded in size and depth (issue 9 item 8)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, source) from None
    except InputError as exc:
        raise RatePlanError(str(exc).removeprefix(f"{source}: "), file=source) from None
    return build_plan(data, source, lambda: key_lines(text))


def load_rate_plan(path: str | Path) -> RatePlan:
    """Read and validate a TOML rate plan file (UTF-8). Errors name the file as given.

    Raises :class:`RatePlanError` for a missing or unreadable file and as
    :func:`parse_rate_plan` does.
    """
    from attendant.core.files import read_text

    source = str(path)
    try:
        text = read_text(path, "rate plan")  # at most 1 MiB: `rates check /dev/zero` reads no more
    except InputError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise RatePlanError("no such file" if reason.startswith("no such") else f"cannot read: {reason}",
                            file=source) from None
    return parse_rate_plan(text, source)


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> RatePlanError:
    """``rates.toml:4: TOML syntax error: Unclosed array``: tomllib's reason, its line (the last line at the end)."""
    message = str(exc)
    at = _TOMLLIB_AT.search(message)
    line = None
    if at is not None:
        line = int(at.group(1)) if at.group(1) else text.count("\n") + 1
    return RatePlanError(f"TOML syntax error: {_TOMLLIB_AT.sub('', message)}", file=source, line=line)


def key_lines(text: str) -> dict[FieldPath, int]:
    """Map every key, table and array element of valid TOML ``text`` to its 1-based line.

    Paths are addressed as the parsed dict is (keys, and list indices for
    array elements and ``[[tables]]``), e.g. ``("tariffs", 1, "bands", 0,
    "price")``. A key is placed where its value starts (TOML puts both on one
    line), a table on its header, an implicit table (``a.b = 1``, or ``[a.b]``
    without ``[a]``) and an array of tables on the first line of their
    contents. Returns ``{}`` if tomlkit refuses the text.
    """
    from tomlkit.container import Container
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import AoT, Array, InlineTable, Table

    parser = _placing_parser(text)
    try:
        doc = parser.parse()
    except TOMLKitError:
        return {}
    line_starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
    lines: dict[FieldPath, int] = {}

    def children(item: Any) -> list[tuple[FieldPath, Any]]:
        if isinstance(item, (AoT, Array)):
            return [((i,), child) for i, child in enumerate(item.body if isinstance(item, AoT) else item)]
        if isinstance(item, (Table, InlineTable)):
            item = item.value
        if isinstance(item, Container):  # key None: whitespace and comment lines
            return [(tuple(part.key for part in key), child) for key, child in item.body if key is not None]
        return []

    def place(path: FieldPath, item: Any) -> None:
        for sub, child in children(item):
            place((*path, *sub), child)
        start = parser.starts.get(id(item))
        if start is not None:
            lines[path] = bisect_right(line_starts, start[1])
        elif path not in lines:  # an implicit table or an array of tables: where its contents start
            inside = [line for p, line in lines.items() if p[: len(path)] == path]
            if inside:
                lines[path] = min(inside)

    place((), doc)
    lines.pop((), None)
    return lines


def _placing_parser(text: str) -> Any:
    """A tomlkit parser for ``text`` that notes in ``.starts`` where each value and table begins.

    ``starts`` maps ``id(item)`` to (the item, the offset in ``text`` of its
    first character; a table's is the ``[`` of its header); holding the item
    keeps its id from being reused. See the module docstring.
    """
    from tomlkit.items import AoT
    from tomlkit.parser import Parser

    class _PlacingParser(Parser):
        def __init__(self, source: str) -> None:
            super().__init__(source)
            self.starts: dict[int, tuple[Any, int]] = {}

        def _parse_value(self) -> Any:
            at = self._idx
            item = super()._parse_value()
            self.starts[id(item)] = (item, at)
            return item

        def _parse_table(self, parent_name: Any = None, parent: Any = None) -> Any:
            at = self._idx  # on the "[" of the header
            key, result = super()._parse_table(parent_name, parent)
            # The table this header opens: the first of an array of tables, or
            # the innermost of the implicit tables [a.b.c] makes for a and b.
            opened = result
            while isinstance(opened, AoT) or opened.is_super_table():
                opened = opened.body[0] if isinstance(opened, AoT) else opened.value.body[0][1]
            self.starts.setdefault(id(opened), (opened, at))
            return key, result

    return _PlacingParser(text)
