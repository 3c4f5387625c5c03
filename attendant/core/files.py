"""Files the application reads (rate plans, layouts, console configs): bounded in size and depth.

Issue 9 item 8 ("Input that cannot hurt"): ``attendant rates check /dev/zero``
read 2.7 GB, and a TOML array nested 5,000 deep ended in an unexpected error.
Every TOML file the CLI or the console reads goes through :func:`read_text`
(a regular file, never a device or a pipe, at most :data:`MAX_FILE_BYTES`,
UTF-8) and :func:`loads_toml` (the standard library's :mod:`tomllib`,
whose recursion on a deep document is caught, and a nesting limit of
:data:`MAX_DEPTH` checked on what it returns). Both raise
:class:`~attendant.core.errors.InputError` with the file's name.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from attendant.core.errors import InputError

MAX_FILE_BYTES = 1024 * 1024
"""The largest configuration file read (1 MiB; the demo layout, the biggest shipped, is 12 KiB)."""
MAX_DEPTH = 16
"""The deepest nesting of tables and arrays accepted in a configuration file (rate plans use 4)."""


def read_text(path: str | Path, what: str = "file", *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of ``path``, reading at most ``limit`` bytes (and one more, to tell it is longer).

    Raises :class:`InputError` ("no such file", "cannot read", "larger than",
    "not UTF-8") naming ``path`` and ``what`` it is.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode  # before opening: opening a FIFO would wait for a writer
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: is a folder, not a {what}")
        if not stat.S_ISREG(mode):  # /dev/zero, /dev/stdin, a FIFO, a socket: endless or blocking
            raise InputError(f"{path}: not a regular file: a {what} must be a file")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > limit:
        raise InputError(f"{path}: the {what} is larger than {limit // 1024} KiB: refused")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the {what} is not UTF-8 text") from None


def loads_toml(text: str, source: str = "<toml>") -> dict[str, Any]:
    """``tomllib.loads(text)``, refusing documents nested deeper than :data:`MAX_DEPTH` or longer than
    :data:`MAX_FILE_BYTES` characters.

    :raises tomllib.TOMLDecodeError: a syntax error (callers word it their way).
    :raises InputError: too long or too deep, naming ``source``.
    """
    if len(text) > MAX_FILE_BYTES:
        raise InputError(f"{source}: larger than {MAX_FILE_BYTES // 1024} KiB: refused")
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError(f"{source}: tables or arrays nested too deeply (at most {MAX_DEPTH} levels)") from None
    if depth(data) > MAX_DEPTH:
        raise InputError(f"{source}: tables or arrays nested too deeply (at most {MAX_DEPTH} levels)")
    return data


def depth(value: Any) -> int:
    """How deeply ``value``'s dicts and lists nest (a scalar is 0, ``{"a": [1]}`` is 2); iterative."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level) for child in children)
    return deepest
