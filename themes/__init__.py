"""The console's three themes (dark, light, high-contrast) and its stylesheet.

Built with Textual's Theme API (``textual.theme.Theme``). Besides Textual's
base colours every theme defines the console's *domain variables*, which the
widgets and ``console.tcss`` use as ``$spot-free``, ``$fault`` and so on; no
widget holds a colour literal, so the level map and the panels follow the
theme. Status is never colour alone: every state also has a glyph (see
``attendant.tui.glyphs``), so the console reads on a monochrome terminal and
for colour-blind attendants.

Colour choices: spot states in the dark and light themes come from the
Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), chosen to stay
distinguishable with the common colour-vision deficiencies; the high-contrast
theme is white on black with saturated state colours and yellow focus.

Domain variables (all themes define all of them):

- ``spot-free``, ``spot-occupied``, ``spot-reserved``, ``spot-out``: bay states.
- ``spot-last``: the bay just issued (highlighted until the next entry).
- ``map-wall``, ``map-aisle``, ``map-entrance``, ``map-title``: level drawing.
- ``ok``, ``fault``, ``warn``: device and gate health.
- ``gate-open``, ``gate-closed``: barrier position.
- ``money``: amounts (fees, revenue, change).
- ``muted``: secondary text drawn inside widget content (a solid colour:
  Textual's ``$text-muted`` is an "auto" colour that only CSS rules resolve).
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("console.tcss")
"""Layout stylesheet of the console (TCSS)."""

DOMAIN_VARIABLES = (
    "spot-free",
    "spot-occupied",
    "spot-reserved",
    "spot-out",
    "spot-last",
    "map-wall",
    "map-aisle",
    "map-entrance",
    "map-title",
    "ok",
    "fault",
    "warn",
    "gate-open",
    "gate-closed",
    "money",
    "muted",
)

DARK = Theme(
    name="dark",
    primary="#4C9BE8",
    secondary="#5E81AC",
    accent="#F0C04A",
    warning="#E69F00",
    error="#E0524D",
    success="#2BB389",
    foreground="#D9DEE5",
    background="#12151A",
    surface="#181C22",
    panel="#222833",
    dark=True,
    variables={
        "spot-free": "#009E73",
        "spot-occupied": "#D55E00",
        "spot-reserved": "#56B4E9",
        "spot-out": "#6E747D",
        "spot-last": "#F0E442",
        "map-wall": "#3A414C",
        "map-aisle": "#1C2129",
        "map-entrance": "#F0C04A",
        "map-title": "#9FB4CC",
        "ok": "#2BB389",
        "fault": "#E0524D",
        "warn": "#E69F00",
        "gate-open": "#2BB389",
        "gate-closed": "#9AA3AE",
        "money": "#F0C04A",
        "muted": "#8C95A1",
        "border": "#4C9BE8",
        "border-blurred": "#394250",
        "footer-key-foreground": "#F0C04A",
        "block-cursor-background": "#4C9BE8",
        "block-cursor-foreground": "#12151A",
        "block-cursor-text-style": "bold",
    },
)

LIGHT = Theme(
    name="light",
    primary="#005A9E",
    secondary="#3B6EA5",
    accent="#B25E00",
    warning="#B25E00",
    error="#B3261E",
    success="#007A5A",
    foreground="#1D2330",
    background="#F3F4F6",
    surface="#FFFFFF",
    panel="#E3E6EB",
    dark=False,
    variables={
        "spot-free": "#007A5A",
        "spot-occupied": "#C04000",
        "spot-reserved": "#1F6FB2",
        "spot-out": "#8A9099",
        "spot-last": "#7A2E8E",
        "map-wall": "#B9C0CA",
        "map-aisle": "#EBEEF2",
        "map-entrance": "#B25E00",
        "map-title": "#2F4A68",
        "ok": "#007A5A",
        "fault": "#B3261E",
        "warn": "#B25E00",
        "gate-open": "#007A5A",
        "gate-closed": "#5B6470",
        "money": "#6B3E00",
        "muted": "#5E6773",
        "border": "#005A9E",
        "border-blurred": "#B4BCC7",
        "footer-key-foreground": "#005A9E",
        "block-cursor-background": "#005A9E",
        "block-cursor-foreground": "#FFFFFF",
        "block-cursor-text-style": "bold",
    },
)

HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FFFF00",
    warning="#FFB000",
    error="#FF4040",
    success="#00FF87",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
    luminosity_spread=0.3,
    text_alpha=1.0,
    variables={
        "spot-free": "#00FF87",
        "spot-occupied": "#FF5F00",
        "spot-reserved": "#5FD7FF",
        "spot-out": "#C0C0C0",
        "spot-last": "#FFFF00",
        "map-wall": "#5C5C5C",
        "map-aisle": "#000000",
        "map-entrance": "#FFFF00",
        "map-title": "#FFFFFF",
        "ok": "#00FF87",
        "fault": "#FF4040",
        "warn": "#FFB000",
        "gate-open": "#00FF87",
        "gate-closed": "#FFFFFF",
        "money": "#FFFF00",
        "muted": "#C8C8C8",
        "footer-key-foreground": "#FFFF00",
        "block-cursor-background": "#FFFF00",
        "block-cursor-foreground": "#000000",
        "block-cursor-text-style": "bold",
        "input-cursor-background": "#FFFF00",
        "input-cursor-foreground": "#000000",
        "border": "#FFFF00",
        "border-blurred": "#808080",
    },
)

THEMES: dict[str, Theme] = {theme.name: theme for theme in (DARK, LIGHT, HIGH_CONTRAST)}
"""The console's themes by name, in the order the theme key cycles them."""

DEFAULT_THEME = "dark"


def domain_defaults() -> dict[str, str]:
    """Values of the domain variables for a theme that does not define them
    (Textual's built-in themes): the dark theme's, so the CSS always parses."""
    return {name: DARK.variables[name] for name in DOMAIN_VARIABLES}


def register_themes(app) -> None:
    """Register the three console themes on ``app`` (a ``textual.app.App``)."""
    for theme in THEMES.values():
        app.register_theme(theme)


def next_theme(current: str) -> str:
    """The theme after ``current`` in :data:`THEMES` order (wrapping); dark if unknown."""
    names = list(THEMES)
    if current not in names:
        return DEFAULT_THEME
    return names[(names.index(current) + 1) % len(names)]
