"""A count sign's scope: which bays it counts (``facility``, ``level:L0``, ``zone:L0-A``, parts joined by ``+``).

Pure parsing, no database (the hardware layer's config reads it):
:mod:`attendant.core.signs` has the rules of what a scope counts and the
counting itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from attendant.core.errors import InputError
from attendant.core.vocab import SpotType

__all__ = ["SignScope", "parse_scope", "parse_spot_types"]

_LEVEL = re.compile(r"[A-Z0-9]{1,8}")
_ZONE = re.compile(r"[A-Z]{1,8}")
_EXAMPLES = "facility, level:L0, zone:L0-A or several joined by + (level:L1+level:L2)"


@dataclass(frozen=True, slots=True)
class SignScope:
    """The bays a sign counts: ``parts`` of ``("facility", "", "")``, ``("level", L, "")`` or
    ``("zone", L, Z)``, and ``types`` (None: every spot type)."""

    parts: tuple[tuple[str, str, str], ...]
    types: frozenset[str] | None = None

    @property
    def text(self) -> str:
        """The scope as written in the config (canonical form), e.g. ``level:L0`` or ``zone:L0-A``."""
        words = []
        for kind, level, zone in self.parts:
            words.append("facility" if kind == "facility" else f"level:{level}" if kind == "level"
                         else f"zone:{level}-{zone}")
        return "+".join(words)

    @property
    def label(self) -> str:
        """:attr:`text` with the spot types counted, if not all: ``facility (ev)``."""
        return self.text + (f" ({', '.join(sorted(self.types))})" if self.types else "")

    def covers(self, level: str, zone: str, spot_type: str) -> bool:
        """True when a bay of ``level`` / ``zone`` / ``spot_type`` counts for this scope."""
        if self.types is not None and spot_type not in self.types:
            return False
        for kind, lvl, zn in self.parts:
            if kind == "facility" or (lvl == level and (kind == "level" or zn == zone)):
                return True
        return False


def parse_scope(text: object, types: Iterable[str] | None = None) -> SignScope:
    """A :class:`SignScope` from ``facility``, ``level:L0``, ``zone:L0-A`` or ``+``-joined parts (any case).

    ``types``: spot types to count (:class:`~attendant.core.vocab.SpotType` values), None for all.

    :raises InputError: anything else (the message shows the accepted forms).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"a sign scope must be text such as {_EXAMPLES}, got {text!r}")
    parts: list[tuple[str, str, str]] = []
    for word in text.split("+"):
        word = word.strip()
        kind, _, arg = word.partition(":")
        kind, arg = kind.strip().lower(), arg.strip().upper()
        if kind == "facility" and not arg:
            part = ("facility", "", "")
        elif kind == "level" and _LEVEL.fullmatch(arg):
            part = ("level", arg, "")
        elif kind == "zone":
            level, _, zone = arg.rpartition("-")
            if not (_LEVEL.fullmatch(level) and _ZONE.fullmatch(zone)):
                raise InputError(f"sign scope {text!r}: {word!r} is not a zone; write zone:LEVEL-ZONE, e.g. zone:L0-A")
            part = ("zone", level, zone)
        else:
            raise InputError(f"sign scope {text!r}: {word!r} is not a scope; use {_EXAMPLES}")
        if part not in parts:
            parts.append(part)
    return SignScope(tuple(parts), parse_spot_types(types) if types is not None else None)


def parse_spot_types(types: Iterable[object]) -> frozenset[str]:
    """Spot type names (``ev``, ``regular``...) as a set. :raises InputError: an unknown or empty list."""
    known = [t.value for t in SpotType]
    if isinstance(types, str):
        types = [types]
    out = set()
    for value in types:
        if not isinstance(value, str) or value.strip().lower() not in known:
            raise InputError(f"spot type must be one of {', '.join(known)}, got {value!r}")
        out.add(value.strip().lower())
    if not out:
        raise InputError(f"give at least one spot type ({', '.join(known)})")
    return frozenset(out)
