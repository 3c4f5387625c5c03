"""Licence plates: normalisation and validation of what an attendant types.

Normal form is upper case with spaces, dashes and dots removed (``"ab12 cde"``
-> ``"AB12CDE"``), which is how plates are compared for anti-passback and
lookup. Confusable-character matching (O/0, I/1) belongs to plate-camera work
and builds on this form.
"""

from __future__ import annotations

import re

from attendant.core.errors import InputError

_STRIP = re.compile(r"[\s\-.·]+")
_VALID = re.compile(r"^[A-Z0-9]{2,10}$")


def normalize_plate(text: str) -> str:
    """Return the normal form of ``text`` or raise :class:`InputError` if it is not a plate.

    A plate is 2-10 letters or digits once separators are removed (covers UK,
    EU and US formats).
    """
    plate = _STRIP.sub("", text or "").upper()
    if not _VALID.match(plate):
        raise InputError(f"not a licence plate: {str(text)[:40]!r} (2-10 letters or digits)")
    return plate
