"""Glyphs that carry every state the console shows, so colour is never alone.

STYLE.md rule 8: each state has a glyph as well as a theme colour, for
colour-blind attendants and monochrome terminals. Every glyph here is one
terminal cell wide (Latin-1 or box-drawing/geometric shapes that terminals
draw at width 1).
"""

from __future__ import annotations

from attendant.core.layout import GLYPH_OF_TYPE
from attendant.core.vocab import SpotStatus, SpotType

#: Status glyph drawn after a bay's type glyph on the level map.
SPOT_STATUS_GLYPH: dict[SpotStatus, str] = {
    SpotStatus.AVAILABLE: "·",
    SpotStatus.OCCUPIED: "●",
    SpotStatus.RESERVED: "◇",
    SpotStatus.OUT_OF_SERVICE: "×",
}

#: Status glyph of the bay issued (or looked up) last, while it is occupied:
#: its own shape, so it never reads as "occupied" by colour alone (issue 12).
LAST_ISSUED_GLYPH = "★"

#: Component-class suffix (and theme variable ``spot-<suffix>``) of each status.
SPOT_STATUS_CLASS: dict[SpotStatus, str] = {
    SpotStatus.AVAILABLE: "free",
    SpotStatus.OCCUPIED: "occupied",
    SpotStatus.RESERVED: "reserved",
    SpotStatus.OUT_OF_SERVICE: "out",
}

SPOT_STATUS_WORD: dict[SpotStatus, str] = {
    SpotStatus.AVAILABLE: "free",
    SpotStatus.OCCUPIED: "occupied",
    SpotStatus.RESERVED: "reserved",
    SpotStatus.OUT_OF_SERVICE: "out of service",
}

#: Glyph the map draws for each spot type. The layout file's letters (m c R L),
#: except the two restricted types, whose layout letters ``A`` and ``E`` are
#: also row letters of bay labels (``L0-E08`` is row E, not an EV bay):
#: accessible is a lower-case ``a`` and EV a bolt ``ϟ`` (issue 12, item 4).
SPOT_TYPE_GLYPH: dict[SpotType, str] = {
    **GLYPH_OF_TYPE,
    SpotType.ACCESSIBLE: "a",
    SpotType.EV: "ϟ",
}

#: Short column headings of the spot types (availability table).
SPOT_TYPE_SHORT: dict[SpotType, str] = {
    SpotType.MOTORCYCLE: "moto",
    SpotType.COMPACT: "compact",
    SpotType.REGULAR: "regular",
    SpotType.LARGE: "large",
    SpotType.ACCESSIBLE: "access",
    SpotType.EV: "ev",
}

#: Words of the map legend.
SPOT_TYPE_WORD: dict[SpotType, str] = {
    SpotType.MOTORCYCLE: "motorcycle",
    SpotType.COMPACT: "compact",
    SpotType.REGULAR: "regular",
    SpotType.LARGE: "large",
    SpotType.ACCESSIBLE: "accessible",
    SpotType.EV: "ev charging",
}

#: Gate state -> (glyph, word, theme variable).
GATE_GLYPH: dict[str, tuple[str, str, str]] = {
    "closed": ("▬", "closed", "gate-closed"),
    "open": ("╱", "OPEN", "gate-open"),
    "fault": ("✗", "FAULT", "fault"),
}

#: Device state (hardware.base.DeviceState value) -> (glyph, word, theme variable).
DEVICE_GLYPH: dict[str, tuple[str, str, str]] = {
    "ok": ("✓", "ok", "ok"),
    "paper_low": ("!", "paper low", "warn"),
    "paper_out": ("✗", "paper out", "fault"),
    "cover_open": ("✗", "cover open", "fault"),
    "offline": ("✗", "offline", "fault"),
    "faulted": ("✗", "faulted", "fault"),
    "unknown": ("?", "idle", "muted"),
}
